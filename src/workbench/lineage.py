"""Lineage: hashes of every input and output, the run manifest, and re-verification of a run.

Why: a workpaper is evidence only if anyone can show later that its inputs and outputs are the ones
the run used and produced. Inputs are copied into the run folder and hashed before any test reads
them; the manifest lists the SHA-256 of every file; verification re-hashes everything and re-derives
every statistical sample from the recorded population, seed and method, so a sample edited together
with its hash in the manifest is still caught. A reviewer's sign-off is a separate small
``signoff.json`` holding the manifest's hash (the signed-off files never change) and the run is
made read-only; any later change is reported as a change after sign-off. The signatures on the
manifest and the sign-off, and the period's sign-off ledger, are ``workbench.seal``'s.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import stat
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from workbench import csvsafe, runfolder

MANIFEST = "manifest.json"
SIGNOFF = "signoff.json"
MANIFEST_SIGNATURE = "manifest.sig.json"
INPUTS_DIR = "inputs"
RESULT_FILE = "result.json"
POPULATION_FILE = "population.csv"
SAMPLE_FILE = "sample.csv"
KEY_PACKAGES = (
    "audit-workbench", "pandas", "numpy", "scipy", "pyarrow", "duckdb", "papermill", "nbconvert",
    "nbclient", "nbformat", "ipykernel", "jupyter_client", "pydantic", "PyYAML", "matplotlib", "openpyxl",
    "Jinja2", "tqdm", "cryptography",
)
# Files of the run folder that are not in its manifest: the manifest itself, its signature and the
# sign-off (written after it, they record the manifest's hash instead; see workbench.seal).
NOT_IN_MANIFEST = (MANIFEST, MANIFEST_SIGNATURE, SIGNOFF)


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes, read in chunks so large populations stay out of memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class FrozenInput:
    """One source file as frozen into the run: where it came from, where the copy is, its hash."""

    source_id: str
    original_path: str
    frozen_path: str  # relative to the run folder
    sha256: str
    size_bytes: int


def freeze_inputs(sources: dict[str, Path], run_dir: Path) -> dict[str, FrozenInput]:
    """Copy each source file into ``run_dir/inputs/<source_id>/`` and hash the copy.

    The copy is what every notebook reads, so a file changed on disk after the run started cannot
    change the evidence. The copy's hash is checked against the original's to catch a torn copy.
    """
    frozen: dict[str, FrozenInput] = {}
    for source_id, original in sorted(sources.items()):
        target = run_dir / INPUTS_DIR / source_id / original.name
        target.parent.mkdir(parents=True, exist_ok=True)
        runfolder.copy_file(original, target)
        digest = file_sha256(target)
        if digest != file_sha256(original):
            raise RuntimeError(f"input {original} changed while it was being copied into the run; run again")
        frozen[source_id] = FrozenInput(
            source_id=source_id,
            original_path=str(original),
            frozen_path=target.relative_to(run_dir).as_posix(),
            sha256=digest,
            size_bytes=target.stat().st_size,
        )
    return frozen


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of the workbench and its key dependencies (``not installed`` if absent)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(path: Path) -> str | None:
    """The git commit of the checkout holding ``path`` (with ``-dirty`` if it has changes), or None.

    None also when git does not track the files under ``path``: an installed wheel's notebooks may
    sit in a virtual environment inside some unrelated repository (ignored there), whose commit says
    nothing about them. The manifest's notebook hashes are the lineage then.
    """
    try:
        def git(*command: str) -> str:
            return subprocess.run(["git", "-C", str(path), *command], capture_output=True, text=True, check=True,
                                  timeout=10).stdout.strip()

        if not git("ls-files", "--", "."):
            return None
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}-dirty" if dirty else commit


def hash_outputs(run_dir: Path) -> dict[str, str]:
    """SHA-256 of every file in the run folder except the manifest and the sign-off, by relative path."""
    hashes = {}
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(run_dir).as_posix()
        if relative not in NOT_IN_MANIFEST:
            hashes[relative] = file_sha256(path)
    return hashes


def json_text(document: Any) -> str:
    """A run's JSON file as written (sorted keys, indented): the same bytes wherever it is written."""
    return json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"


def write_json_atomically(path: Path, document: Any) -> None:
    """Write JSON through a temporary file and a rename, so a reader never sees half a file."""
    runfolder.write_text(path, json_text(document))


def write_manifest(run_dir: Path, document: dict[str, Any]) -> Path:
    """Write ``manifest.json`` with the given content plus the hash of every file in the run."""
    document = dict(document)
    runfolder.remove_spill_folders(run_dir)  # DuckDB's scratch of a killed control is not evidence
    document["files"] = hash_outputs(run_dir)
    path = run_dir / MANIFEST
    write_json_atomically(path, document)
    return path


def read_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest of a run folder, with a clear error if it is missing or unreadable."""
    path = run_dir / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a workbench run: it has no {MANIFEST}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON (line {exc.lineno}): the manifest was altered") from None


def verify_hashes(run_dir: Path, manifest: dict[str, Any], after_signoff: bool = False) -> list[str]:
    """Differences between the files of a run and the hashes its manifest recorded (empty if none).

    After a sign-off every difference is a change after sign-off, and says so.
    """
    recorded: dict[str, str] = manifest.get("files", {})
    actual = hash_outputs(run_dir)
    problems = []
    for relative, digest in sorted(recorded.items()):
        if relative not in actual:
            problems.append(f"missing: {relative} (listed in the manifest, not in the run folder)")
        elif actual[relative] != digest:
            problems.append(f"changed: {relative} (SHA-256 {actual[relative][:12]}… differs from recorded {digest[:12]}…)")
    for relative in sorted(set(actual) - set(recorded)):
        problems.append(f"added: {relative} (not listed in the manifest)")
    for source_id, entry in sorted(manifest.get("inputs", {}).items()):
        if recorded.get(entry["frozen_path"]) != entry["sha256"]:
            problems.append(f"input {source_id}: manifest's input hash disagrees with its file list")
    if after_signoff:
        problems = [f"changed after sign-off: {problem}" for problem in problems]
    return problems


# --- re-performance of the samples ------------------------------------------------------------

def _statistical_keys(sample_path: Path, key: str) -> list[str]:
    """The keys of a sample file's statistical items, in selection order."""
    import pandas as pd

    sample = csvsafe.read_csv(sample_path)
    for column in (key, "selection_basis"):
        if column not in sample.columns:
            raise ValueError(f"{SAMPLE_FILE} has no column '{column}'")
    statistical = sample[sample["selection_basis"].str.contains("statistical", regex=False)]
    if "selection_order" in statistical.columns:
        order = pd.to_numeric(statistical["selection_order"], errors="coerce")
        statistical = statistical.assign(_order=order).sort_values("_order", kind="mergesort")
    return statistical[key].tolist()


def _empty_sample_difference(control_dir: Path) -> str | None:
    """A control with no selection record: when its population is empty (the control did not
    operate), the empty sample re-derives only if sample.csv holds no item; None when it does (or
    when there is no population file to re-derive from)."""
    import pandas as pd

    if not (control_dir / POPULATION_FILE).is_file():
        return None
    try:
        population = csvsafe.read_csv(control_dir / POPULATION_FILE)
        sample = (csvsafe.read_csv(control_dir / SAMPLE_FILE)
                  if (control_dir / SAMPLE_FILE).is_file() else None)
    except (ValueError, pd.errors.EmptyDataError) as exc:
        return f"{POPULATION_FILE} or {SAMPLE_FILE} is not readable: {exc}"
    if len(population):
        return None
    if sample is None:
        return f"{SAMPLE_FILE} missing: there is no sample to compare"
    if len(sample):
        return (f"{POPULATION_FILE} holds no item, so no sample can be drawn, but {SAMPLE_FILE} holds "
                f"{len(sample)} item(s)")
    return None


def rederive_sample(control_dir: Path) -> str | None:
    """Re-derive a control's statistical sample; None when it matches, else what differs.

    The contract with the procedures: ``result.json`` holds ``sample.selection_record`` (a
    ``sampling.Selection``), ``population.csv`` the sampling frame. The sample is drawn again from
    the frame with the recorded seed and method, and its keys, in selection order, must be the
    statistical items of ``sample.csv``. A control without a selection record has no statistical
    sample to re-derive (returns None), unless its population is empty: then its sample must be
    empty too (the control did not operate; nothing was drawn).
    """

    from workbench import sampling  # imported here: verification is the only user in this module

    result_path = control_dir / RESULT_FILE
    if not result_path.is_file():
        return None
    try:
        record_data = (json.loads(result_path.read_text(encoding="utf-8")).get("sample") or {}).get("selection_record")
    except (json.JSONDecodeError, AttributeError):
        return f"{RESULT_FILE} is not readable, so its sample cannot be re-derived"
    if not record_data:
        return _empty_sample_difference(control_dir)
    if not (control_dir / POPULATION_FILE).is_file():
        return f"{POPULATION_FILE} missing: the sample cannot be re-derived from its population"
    if not (control_dir / SAMPLE_FILE).is_file():
        return f"{SAMPLE_FILE} missing: there is no sample to compare"
    try:
        record = sampling.Selection.from_dict(record_data)
        population = csvsafe.read_csv(control_dir / POPULATION_FILE)
        rederived = sampling.reselect(population, record)[record.key].astype(str).tolist()
        recorded = _statistical_keys(control_dir / SAMPLE_FILE, record.key)
    except (sampling.SamplingError, ValueError, KeyError, TypeError) as exc:
        return f"the sample does not re-derive from {POPULATION_FILE}, seed {record_data.get('seed')} and method " \
               f"{record_data.get('method')}: {exc}"
    if recorded != rederived:
        differing = next((i for i, (a, b) in enumerate(zip(recorded, rederived)) if a != b), min(len(recorded), len(rederived)))
        shown = (recorded[differing] if differing < len(recorded) else "(none)",
                 rederived[differing] if differing < len(rederived) else "(none)")
        return (f"{SAMPLE_FILE} holds {len(recorded)} statistical item(s) but re-deriving from {POPULATION_FILE}, seed "
                f"{record.seed} and method {record.method} gives {len(rederived)}; first difference at item "
                f"{differing + 1}: recorded '{shown[0]}', re-derived '{shown[1]}'")
    return None


def verify_samples(run_dir: Path, control_ids: list[str] | None = None) -> tuple[list[str], list[str]]:
    """Re-derive the sample of every control of a run: (differences, controls whose sample matched)."""
    if control_ids is None:
        control_ids = sorted(p.parent.name for p in run_dir.glob(f"*/{RESULT_FILE}"))
    problems, matched = [], []
    for control_id in control_ids:
        control_dir = run_dir / control_id
        difference = rederive_sample(control_dir)
        if difference is not None:
            problems.append(f"sample of control {control_id} does not re-derive: {difference}")
        elif (control_dir / RESULT_FILE).is_file() and (control_dir / POPULATION_FILE).is_file():
            matched.append(control_id)
    return problems, matched


# --- sign-off -------------------------------------------------------------------------------------

def read_signoff(run_dir: Path) -> dict[str, Any] | None:
    """The run's sign-off record, or None when it is not signed off."""
    path = run_dir / SIGNOFF
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {"reviewer": "unknown", "signed_off_at": "unknown", "manifest_sha256": "", "unreadable": True}
    return record if isinstance(record, dict) else {"reviewer": "unknown", "signed_off_at": "unknown",
                                                    "manifest_sha256": "", "unreadable": True}


def verify_signoff(run_dir: Path, record: dict[str, Any]) -> list[str]:
    """Whether the manifest is still the one the reviewer signed off (empty when it is)."""
    if record.get("unreadable"):
        return [f"changed after sign-off: {SIGNOFF} is not a readable sign-off record"]
    digest = file_sha256(run_dir / MANIFEST)
    if digest != record.get("manifest_sha256"):
        return [f"changed after sign-off: {MANIFEST} (SHA-256 {digest[:12]}… differs from the "
                f"{str(record.get('manifest_sha256'))[:12]}… the reviewer signed off)"]
    return []


def write_signoff(run_dir: Path, reviewer: str, note: str | None, version: str,
                  now: dt.datetime | None = None) -> dict[str, Any]:
    """Write ``signoff.json``: who signed off, when (UTC), the manifest's hash, the workbench version."""
    record = {
        "reviewer": reviewer,
        "signed_off_at": (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="seconds"),
        "manifest_sha256": file_sha256(run_dir / MANIFEST),
        "workbench_version": version,
        "note": note,
    }
    write_json_atomically(run_dir / SIGNOFF, record)
    return record


def make_read_only(run_dir: Path) -> None:
    """Remove every write permission in the run folder (files first, then folders, deepest first)."""
    paths = sorted(run_dir.rglob("*"), key=lambda p: len(p.parts), reverse=True)
    for path in [p for p in paths if not p.is_dir()] + [p for p in paths if p.is_dir()] + [run_dir]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def runtime_metadata() -> dict[str, str]:
    """Where the run happened (machine, platform, interpreter): run metadata, never results."""
    return {"platform": platform.platform(), "machine": platform.machine(), "executable": sys.executable}
