"""A run as one take-away archive for people outside the tool (``workbench bundle``).

Why BagIt (RFC 8493, written with bagit-python, pinned): an external auditor gets one zip that checks
itself with tools that are not ours. The bag's ``manifest-sha256.txt`` lists the SHA-256 of every
payload file (``sha256sum -c`` reads it as it is), ``tagmanifest-sha256.txt`` those of the bag's own
files, and ``bag-info.txt`` says which run it holds. Inside the payload the run folder is whole, in
its period folder, so ``workbench verify`` checks it exactly as at the firm: file hashes against the
run's manifest, the preparer's and reviewer's signatures, the re-derived samples.

Layout of the zip (one top folder, named after the period and run)::

    <period>-<run-id>/
        README.txt  bagit.txt  bag-info.txt  manifest-sha256.txt  tagmanifest-sha256.txt
        data/<period>/<run-id>/         the run folder as sealed: workpapers, register, manifest and
                                        signature, frozen inputs, signoff.json when signed off
        data/<period>/<run-id>-pdf/     each workpaper, the index and the binder as PDF (``workbench pdf``)
        data/<period>/signoffs.jsonl    the period's sign-off ledger up to this run's last entry
        data/<period>/<run-id>.review/review.jsonl   the workpapers' sign-offs and review notes, if any
                                        (a hash chain: the earlier lines are kept so it still verifies)

The zip is deterministic: entries sorted, every timestamp fixed (1980-01-01), fixed permissions, and
the bag dated by its run, so the same run gives the same archive (the PDFs aside: Chromium stamps
each with the time it was printed). The run folder is only read.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from workbench import __version__, printing, review, runfolder, seal

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
README = "README.txt"


class BundleError(ValueError):
    """A bundle could not be made or read (an incomplete run, a file that is not a bundle)."""


def default_bundle_path(run_dir: Path) -> Path:
    """Where a run's bundle goes by default: beside the run folder, never inside it."""
    run_dir = Path(run_dir).resolve()
    return run_dir.with_name(f"{run_dir.name}-bundle.zip")


def bag_name(period: str, run_id: str) -> str:
    """The archive's top folder: the period and the run."""
    return f"{period}-{run_id}"


def _copy_tree(source: Path, target: Path) -> None:
    """Copy a folder's files (contents only: a signed-off run's read-only modes are not copied)."""
    for path in sorted(source.rglob("*")):
        destination = target / path.relative_to(source)
        if path.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
        elif path.is_file():
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)


def ledger_lines_for(run_dir: Path) -> list[str]:
    """The period ledger's lines up to and including this run's last entry (none when it has none).

    The ledger is a hash chain: a line proves its place only with every line before it, so the
    earlier lines (other runs' sign-offs) come too; lines after this run's are left out."""
    path = seal.ledger_path(run_dir)
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    last = None
    for number, line in enumerate(lines):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and entry.get("run") == Path(run_dir).resolve().name:
            last = number
    return [] if last is None else lines[: last + 1]


def readme_text(period: str, run_id: str, entity: str, with_pdf: bool, signed_off: bool) -> str:
    """The README an external auditor reads first: what the archive holds and how to check it."""
    top = bag_name(period, run_id)
    run = f"data/{period}/{run_id}"
    pdf = (f"  data/{period}/{run_id}-pdf/  every workpaper as PDF (<control>.pdf), the period index\n"
           "                               (index.pdf) and binder.pdf (the index, then every workpaper)\n"
           if with_pdf else "")
    signoff = ("The reviewer's signed sign-off is signoff.json in the run folder; the period's sign-off ledger\n"
               f"(data/{period}/signoffs.jsonl) records it.\n" if signed_off
               else "The run had not been signed off when this archive was made (there is no signoff.json).\n")
    return f"""Audit Workbench evidence archive
================================
Entity: {entity}
Period: {period}
Run:    {run_id}
Made by Audit Workbench {__version__} (workbench bundle).

What is inside
--------------
  {run}/   the run folder as sealed:
      index.html                  the period index (lead sheet); open it in any browser, offline
      <control>/workpaper.html    each control's workpaper (self-contained, no network)
      exceptions.csv, .xlsx       the exception register
      manifest.json               the SHA-256 of every input and output, the seed and the results
      manifest.sig.json           the preparer's Ed25519 signature over manifest.json
      inputs/                     the source files exactly as they were tested (frozen copies)
{pdf}{signoff}
How to check it
---------------
1. The archive itself (BagIt, RFC 8493): every file's SHA-256 is in manifest-sha256.txt. With the
   workbench installed:
       workbench bundle --check {top}.zip
   which also does step 2. Without it, from the {top} folder after unzipping:
       sha256sum -c manifest-sha256.txt        (or: python -m bagit --validate {top})
2. The run (hashes against its own manifest, the signatures, the samples re-derived):
       workbench verify {top}/{run}
   and, to re-execute every control from the frozen inputs and compare every result:
       workbench verify --reperform {top}/{run}
   A signature by a key you have not been given is reported as "not a key you know": ask the
   preparer and the reviewer for their public keys (workbench keys) to check who signed.
"""


@dataclass(frozen=True)
class Bundle:
    """A bundle written: the archive, the run it holds and how many payload files."""

    path: Path
    run: str
    files: int


def write_zip(folder: Path, target: Path) -> Path:
    """Zip a folder deterministically: entries sorted, fixed timestamps and permissions, deflated."""
    def write(path: Path) -> None:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for file in sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.as_posix()):
                entry = zipfile.ZipInfo(f"{folder.name}/{file.relative_to(folder).as_posix()}", FIXED_TIME)
                entry.external_attr = 0o100644 << 16
                entry.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(entry, file.read_bytes())

    return runfolder.write_atomically(target, write)


def make_bundle(run_dir: Path, out: Path | None = None, with_pdf: bool = True, paper: str = "a4") -> Bundle:
    """Write a finished run as one BagIt zip (see the module docstring); the run folder is only read."""
    run_dir = Path(run_dir).resolve()
    manifest, _ = printing.run_documents(run_dir)  # refuses a missing or incomplete run
    period, run_id = str(manifest.get("period", run_dir.parent.name)), str(manifest.get("run_id", run_dir.name))
    target = Path(out).resolve() if out is not None else default_bundle_path(run_dir)
    if target == run_dir or run_dir in target.parents:
        raise BundleError(f"{target} is inside the run folder, which is sealed evidence; write the bundle outside "
                          "it (the default is beside the run, <run folder>-bundle.zip)")
    entity = printing.entity_of(run_dir)
    with tempfile.TemporaryDirectory(prefix="workbench-bundle-") as scratch:
        stage = Path(scratch) / bag_name(period, run_id)
        period_dir = stage / period
        _copy_tree(run_dir, period_dir / run_dir.name)
        if with_pdf:
            printing.print_run(run_dir, period_dir / f"{run_dir.name}-pdf", paper=paper)
        ledger = ledger_lines_for(run_dir)
        if ledger:
            (period_dir / seal.LEDGER).write_text("\n".join(ledger) + "\n", encoding="utf-8")
        record = review.record_path(run_dir)
        if record.is_file():   # the workpapers' sign-offs and review notes, which the run's sign-off covers
            target_record = period_dir / review.review_dir(run_dir).name / record.name
            target_record.parent.mkdir(parents=True)
            shutil.copyfile(record, target_record)
        files = sum(1 for p in stage.rglob("*") if p.is_file())
        _make_bag_with_readme(stage, {
            "Bagging-Date": f"{run_id[0:4]}-{run_id[4:6]}-{run_id[6:8]}",
            "Source-Organization": entity or "unknown",
            "External-Identifier": f"{period}/{run_id}",
            "External-Description": f"Audit Workbench run {run_id} of period {period}: workpapers, exception "
                                    "register, manifest and signatures, frozen inputs" + (" and PDFs" if with_pdf else ""),
            "Workbench-Run": f"data/{period}/{run_dir.name}",
            "Bag-Software-Agent": f"Audit Workbench {__version__} with bagit-python",
        }, readme_text(period, run_id, entity, with_pdf, (run_dir / runfolder.SIGNOFF).is_file()))
        write_zip(stage, target)
    return Bundle(target, f"{period}/{run_id}", files)


def _make_bag_with_readme(stage: Path, info: dict[str, str], readme: str) -> None:
    """Bag the staged folder, then add README.txt beside the bag's own files (in its tag manifest)."""
    import bagit

    bag = bagit.make_bag(str(stage), bag_info=info, checksums=["sha256"])
    (stage / README).write_text(readme, encoding="utf-8")
    bag.save()


# --- checking a bundle ---------------------------------------------------------------------------

@dataclass
class BagCheck:
    """What checking a bundle's bag found: problems (each naming a file), and the run folder inside."""

    problems: list[str] = field(default_factory=list)
    run_dir: Path | None = None


def safe_extract(archive: Path, target: Path) -> Path:
    """Extract a zip into ``target`` refusing any entry that would land outside it; the bag's top folder."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            names = zipped.namelist()
            for name in names:
                destination = (target / name).resolve()
                if name.startswith("/") or target.resolve() not in destination.parents:
                    raise BundleError(f"{archive}: the entry '{name}' would be written outside the folder it is "
                                      "unpacked into; this is not a bundle made by workbench bundle")
            zipped.extractall(target)
    except zipfile.BadZipFile as exc:
        raise BundleError(f"{archive} is not a zip archive ({exc})") from None
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) != 1:
        raise BundleError(f"{archive} does not hold one bag folder (found {len(tops)} top-level entries)")
    return target / tops.pop()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe(detail: object) -> str:
    """One of bagit's findings in an auditor's words, naming the file."""
    import bagit

    if isinstance(detail, bagit.ChecksumMismatch):
        return (f"{detail.path}: changed since the bundle was made (its SHA-256 {detail.found[:12]}… differs from "
                f"the {detail.expected[:12]}… in the bag's manifest)")
    if isinstance(detail, bagit.FileMissing):
        return f"{detail.path}: missing (the bag's manifest lists it)"
    if isinstance(detail, bagit.UnexpectedFile):
        return f"{detail.path}: added after the bundle was made (not in the bag's manifest)"
    return str(detail)


def named_differences(bag: object) -> list[str]:
    """Every file of a bag that is missing, added or changed against its manifests, by name.

    bagit stops at the payload's total size and count (Payload-Oxum) before it names files; this
    names them."""
    root = Path(bag.path)  # type: ignore[attr-defined]
    only_in_manifest, only_on_disk = bag.compare_manifests_with_fs()  # type: ignore[attr-defined]
    problems = [f"{path}: missing (the bag's manifest lists it)" for path in sorted(only_in_manifest)]
    problems += [f"{path}: added after the bundle was made (not in the bag's manifest)" for path in sorted(only_on_disk)]
    for path, hashes in sorted(bag.entries.items()):  # type: ignore[attr-defined]
        file = root / path
        expected = hashes.get("sha256")
        if expected and file.is_file() and _sha256(file) != expected.lower():
            problems.append(f"{path}: changed since the bundle was made (its SHA-256 differs from the bag's manifest)")
    return problems


def check_bag(bag_dir: Path) -> BagCheck:
    """Validate an unpacked bag (structure, every file's SHA-256) and find the run folder it holds."""
    import bagit

    result = BagCheck()
    try:
        bag = bagit.Bag(str(bag_dir))
    except bagit.BagError as exc:
        result.problems.append(f"not a valid bag: {exc}")
        return result
    try:
        bag.validate()
    except bagit.BagValidationError as exc:
        result.problems += [_describe(d) for d in exc.details] or named_differences(bag) or [str(exc)]
    except bagit.BagError as exc:
        result.problems.append(f"not a valid bag: {exc}")
    run = bag.info.get("Workbench-Run")
    run_dir = bag_dir / str(run) if isinstance(run, str) else None
    if run_dir is None or not (run_dir / runfolder.MANIFEST).is_file():
        result.problems.append("bag-info.txt names no run folder with a manifest.json (Workbench-Run)")
    else:
        result.run_dir = run_dir
    return result


@contextmanager
def unpacked(archive: Path) -> Iterator[Path]:
    """The bundle unpacked in a temporary folder (removed afterwards): its bag folder."""
    archive = Path(archive)
    if not archive.is_file():
        raise BundleError(f"there is no bundle at {archive}")
    with tempfile.TemporaryDirectory(prefix="workbench-bundle-check-") as scratch:
        yield safe_extract(archive, Path(scratch))
