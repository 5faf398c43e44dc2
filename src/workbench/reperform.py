"""Re-performance: run a recorded period again from its own frozen inputs, parameters and seed, and
compare every result with what the run recorded.

Why: signatures show who signed; they cannot show that what was signed is right. Someone who edits a
result and its hash and re-signs the manifest with their own key (or with the preparer's stolen one)
passes every hash and signature check; re-executing the controls does not rely on any of that. The
period is run by the ordinary runner (``runner.run_period``) on a scratch copy of the run's frozen
parameter file, pointed at the run's frozen inputs and auditors' records, into a temporary folder
that is removed afterwards. Every file is then compared, field by field for tables and JSON, text for
workpapers; what legitimately differs between two runs of one period is declared once in
``EXCLUDED`` and nowhere else.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import lineage, prior_run
from workbench.yamlfile import load_yaml

# What legitimately differs between two runs of the same period from the same frozen inputs: the one
# declared list. Each entry: where, and why it may differ. The comparison below applies exactly these.
EXCLUDED: dict[str, str] = {
    "run id": "each run's id is its UTC start time; replaced by <run id> in every file before comparing",
    "run folder path": "the re-performed run lives in a scratch folder; replaced by <run folder> before comparing",
    "manifest: run_id, run_metadata, files, parameter_file": "run id, wall-clock times, durations, jobs, machine, "
                                                             "where the parameter file was, and hashes of files that "
                                                             "carry the run id (each file is compared by content)",
    "manifest: notebooks": "the checkout's commit and the notebooks' hashes at run time (a notebook changed since "
                           "is reported as a note; its effect shows in the results compared)",
    "manifest: versions": "the installed library versions (a difference is reported as a note, not a failure)",
    "manifest and parameters.json: controls[].seconds, inputs.*.original_path": "time per control; where each "
                                                                                "export was before it was frozen",
    "parameters.json: run_id, parameter_file": "run id and where the parameter file was",
    "workpaper.ipynb: notebook and cell metadata, execution counts, cell ids": "kernel environment, execution "
                                                                               "times, preloaded modules",
    "workpaper.ipynb: the parameters cell papermill injects": "it names the run folder the notebook ran in",
    "exceptions.xlsx: the file's zip packaging": "a workbook's zip stamps the time it was written; compared "
                                                 "sheet by sheet, cell by cell",
    "manifest.sig.json, signoff.json": "signatures and sign-offs are checked by verify, not re-performed",
}
MANIFEST_EXCLUDED = ("run_id", "run_metadata", "files", "parameter_file", "notebooks", "versions")
PARAMETERS_JSON_EXCLUDED = ("run_id", "parameter_file")
CONTROL_EXCLUDED = ("seconds",)
INPUT_EXCLUDED = ("original_path",)
NOTEBOOK_EXCLUDED = ("metadata", "execution_count", "id")
INJECTED_CELL_TAG = "injected-parameters"  # papermill's tag on the cell it adds
NOT_COMPARED = (lineage.MANIFEST_SIGNATURE, lineage.SIGNOFF)
MAX_PER_FILE = 5  # differences named per file; the count says how many more


@dataclass(frozen=True)
class Difference:
    """One difference between the recorded and the re-performed run, in the auditor's terms."""

    control: str  # a control id, or "period" for the run's own files
    file: str
    where: str  # row/field, JSON path, cell
    recorded: str
    reperformed: str

    def __str__(self) -> str:
        return (f"{self.control}: {self.file}, {self.where}: recorded {self.recorded!s} — "
                f"re-performed {self.reperformed!s}")


@dataclass
class Reperformance:
    """What re-performance found: differences, notes, and how long it took against the run's own time."""

    run_dir: Path
    controls: list[str]
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    recorded_seconds: float | None = None

    @property
    def ok(self) -> bool:
        """Whether every re-performed result matches the recorded one."""
        return not self.differences


# --- the scratch period -----------------------------------------------------------------------

def scratch_parameter_file(run_dir: Path, manifest: dict[str, Any], folder: Path) -> Path:
    """Lay out the run's frozen parameter file (byte for byte) in ``folder`` with each frozen input where
    its relative path points, and the frozen auditors' records beside it, where the runner looks.

    A parameter file naming an absolute source path cannot be laid out so; its copy is rewritten to
    point at the frozen input, and the re-performance reports that path as a difference.
    """
    import yaml

    document = load_yaml(run_dir / "parameters.yaml", "the run's frozen period file")
    sources = [s for s in document.get("sources") or [] if isinstance(s, dict) and s.get("path")]
    depth = max([Path(str(s["path"])).parts.count("..") for s in sources] or [0])
    base = folder.joinpath(*(["up"] * depth), "parameters")
    name = Path(str(manifest.get("parameter_file") or "period.yaml")).name
    target = base / name
    base.mkdir(parents=True, exist_ok=True)
    frozen = {source_id: run_dir / entry["frozen_path"] for source_id, entry in (manifest.get("inputs") or {}).items()}
    rewritten = False
    for source in sources:
        if source.get("id") not in frozen:
            continue
        if Path(str(source["path"])).is_absolute():
            source["path"], rewritten = str(frozen[source["id"]]), True
            continue
        place = Path(os.path.normpath(base / str(source["path"])))
        place.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(frozen[source["id"]], place)
    if rewritten:
        target.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    else:
        shutil.copyfile(run_dir / "parameters.yaml", target)
    for record in sorted((run_dir / "records").glob("*")) if (run_dir / "records").is_dir() else []:
        shutil.copyfile(record, target.with_name(f"{target.stem}.{record.name}"))
    return target


def reperform_run(run_dir: Path, jobs: int | None = None, progress: Callable[[str], None] = lambda line: None,
                  keep: Path | None = None) -> Reperformance:
    """Re-execute every control of a recorded run from its frozen inputs into a scratch folder (removed
    afterwards unless ``keep`` names where to put it) and compare everything with the recorded run."""
    from workbench import runner

    run_dir = Path(run_dir).resolve()
    manifest = lineage.read_manifest(run_dir)
    controls = [c["control_id"] for c in manifest.get("controls", [])]
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="workbench-reperform-", dir=keep))
    try:
        parameter_file = scratch_parameter_file(run_dir, manifest, scratch)
        prior = run_dir / prior_run.PRIOR_DIR  # the prior period's run as this run froze it, if it had one
        result = runner.run_period(parameter_file, scratch / "outputs", jobs=jobs, only=controls or None,
                                   progress=progress, sign=False,
                                   prior_run_dir=prior if (prior / lineage.MANIFEST).is_file() else None)
        report = Reperformance(run_dir, controls)
        report.differences = compare_runs(run_dir, result.run_dir, set(controls))
        report.notes = environment_notes(manifest, lineage.read_manifest(result.run_dir))
    finally:
        if keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    report.seconds = round(time.perf_counter() - started, 1)
    report.recorded_seconds = (manifest.get("run_metadata") or {}).get("seconds")
    return report


def environment_notes(recorded: dict[str, Any], again: dict[str, Any]) -> list[str]:
    """Library versions and notebooks that differ between the run and the re-performance: not failures,
    but the first place to look when a result differs."""
    notes = []
    old, new = recorded.get("versions") or {}, again.get("versions") or {}
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            notes.append(f"{name} {old.get(name, 'absent')} at the run, {new.get(name, 'absent')} now")
    old_nb = (recorded.get("notebooks") or {}).get("files") or {}
    new_nb = (again.get("notebooks") or {}).get("files") or {}
    for control_id in sorted(set(old_nb) & set(new_nb)):
        if old_nb[control_id].get("sha256") != new_nb[control_id].get("sha256"):
            notes.append(f"notebook {new_nb[control_id].get('path')} of {control_id} changed since the run")
    return notes


# --- comparison --------------------------------------------------------------------------------

def run_files(run_dir: Path) -> set[str]:
    """The files of a run compared by re-performance (every file but the signatures)."""
    return {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")
            if p.is_file() and p.relative_to(run_dir).as_posix() not in NOT_COMPARED}


def compare_runs(recorded: Path, again: Path, controls: set[str]) -> list[Difference]:
    """Every difference between two run folders, file by file, after the declared exclusions."""
    replacements = [(str(recorded), "<run folder>"), (str(again), "<run folder>"),
                    (recorded.name, "<run id>"), (again.name, "<run id>")]
    ids = _run_ids(recorded, again)
    replacements += [(ids[0], "<run id>"), (ids[1], "<run id>")] if all(ids) else []
    differences: list[Difference] = []
    left, right = run_files(recorded), run_files(again)
    for relative in sorted(left | right):
        control = relative.split("/", 1)[0] if relative.split("/", 1)[0] in controls else "period"
        if relative not in right:
            differences.append(Difference(control, relative, "the file", "present", "not produced"))
            continue
        if relative not in left:
            differences.append(Difference(control, relative, "the file", "missing", "produced"))
            continue
        found = compare_file(relative, recorded / relative, again / relative, replacements)
        differences += [Difference(control, relative, where, a, b) for where, a, b in found]
    return differences


def _run_ids(recorded: Path, again: Path) -> tuple[str, str]:
    """The run ids both manifests state (the folder name normally is the run id)."""
    def run_id(folder: Path) -> str:
        try:
            return str(lineage.read_manifest(folder).get("run_id") or "")
        except (FileNotFoundError, ValueError):
            return ""
    return run_id(recorded), run_id(again)


def _normalise(text: str, replacements: list[tuple[str, str]]) -> str:
    """Text with the run folder's path and the run id replaced (declared in ``EXCLUDED``)."""
    for old, new in replacements:
        if old:
            text = text.replace(old, new)
    return text


def compare_file(relative: str, left: Path, right: Path,
                 replacements: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """(where, recorded, re-performed) for each difference between two versions of one file."""
    if left.read_bytes() == right.read_bytes():
        return []
    name = left.name
    if name.endswith(".csv"):
        return _capped(compare_csv(left, right))
    if name == lineage.MANIFEST:
        return _capped(compare_json(_manifest_view(left), _manifest_view(right)))
    if name == "parameters.json":
        return _capped(compare_json(_parameters_view(left), _parameters_view(right)))
    if name.endswith(".json"):
        return _capped(compare_json(json.loads(left.read_text(encoding="utf-8")),
                                    json.loads(right.read_text(encoding="utf-8"))))
    if name.endswith(".ipynb"):
        return _capped(compare_notebooks(left, right, replacements))
    if name.endswith(".xlsx"):
        return _capped(compare_workbooks(left, right))
    if name.endswith((".html", ".htm", ".txt", ".yaml", ".yml", ".md")):
        return compare_text(left.read_text(encoding="utf-8"), right.read_text(encoding="utf-8"), replacements)
    return [("the file's bytes", f"SHA-256 {lineage.file_sha256(left)[:12]}…", f"SHA-256 {lineage.file_sha256(right)[:12]}…")]


def _capped(found: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """At most ``MAX_PER_FILE`` differences of a file, then one line saying how many more."""
    if len(found) <= MAX_PER_FILE:
        return found
    return found[:MAX_PER_FILE] + [("and more", f"{len(found) - MAX_PER_FILE} further difference(s)", "not listed")]


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """A CSV file's header and rows, as text."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return (rows[0] if rows else []), rows[1:]


def compare_csv(left: Path, right: Path) -> list[tuple[str, str, str]]:
    """Rows and fields that differ. Rows are matched by the first column when it is a unique key in both
    files (so one removed row is named, not every row after it), otherwise by position."""
    header_l, rows_l = _read_csv(left)
    header_r, rows_r = _read_csv(right)
    if header_l != header_r:
        return [("columns", ", ".join(header_l), ", ".join(header_r))]
    key = header_l[0] if header_l else ""
    keys_l, keys_r = [r[0] if r else "" for r in rows_l], [r[0] if r else "" for r in rows_r]
    keyed = len(set(keys_l)) == len(keys_l) and len(set(keys_r)) == len(keys_r)
    if keyed:
        by_l, by_r = dict(zip(keys_l, rows_l)), dict(zip(keys_r, rows_r))
        pairs = [(f"row {key}={k}", by_l.get(k), by_r.get(k)) for k in [*keys_l, *[k for k in keys_r if k not in by_l]]]
    else:
        pairs = [(f"row {i + 1}", rows_l[i] if i < len(rows_l) else None, rows_r[i] if i < len(rows_r) else None)
                 for i in range(max(len(rows_l), len(rows_r)))]
    found = []
    if len(rows_l) != len(rows_r):
        found.append(("number of rows", str(len(rows_l)), str(len(rows_r))))
    for where, a, b in pairs:
        if a is None or b is None:
            found.append((where, "absent" if a is None else ", ".join(a)[:200], "absent" if b is None else ", ".join(b)[:200]))
            continue
        for column, x, y in zip(header_l, a, b):
            if x != y:
                found.append((f"{where}, field '{column}'", repr(x), repr(y)))
    return found


def compare_json(left: Any, right: Any, path: str = "") -> list[tuple[str, str, str]]:
    """Paths (``controls[2].conclusions[0]``) whose values differ between two JSON documents."""
    where = path or "the document"
    if isinstance(left, dict) and isinstance(right, dict):
        found = []
        for key in sorted(set(left) | set(right), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in left or key not in right:
                found.append((sub, json.dumps(left.get(key, "absent"))[:200], json.dumps(right.get(key, "absent"))[:200]))
            else:
                found += compare_json(left[key], right[key], sub)
        return found
    if isinstance(left, list) and isinstance(right, list):
        if len(left) != len(right):
            return [(f"{where} (length)", str(len(left)), str(len(right)))] + [
                d for i, (a, b) in enumerate(zip(left, right)) for d in compare_json(a, b, f"{path}[{i}]")]
        return [d for i, (a, b) in enumerate(zip(left, right)) for d in compare_json(a, b, f"{path}[{i}]")]
    return [] if left == right else [(where, json.dumps(left)[:200], json.dumps(right)[:200])]


def _manifest_view(path: Path) -> dict[str, Any]:
    """The manifest without what legitimately differs (``MANIFEST_EXCLUDED``, per-control times, where
    each input came from)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    view = {k: v for k, v in document.items() if k not in MANIFEST_EXCLUDED}
    view["controls"] = [{k: v for k, v in c.items() if k not in CONTROL_EXCLUDED} for c in view.get("controls", [])]
    view["inputs"] = {s: {k: v for k, v in e.items() if k not in INPUT_EXCLUDED} for s, e in view.get("inputs", {}).items()}
    return view


def _parameters_view(path: Path) -> dict[str, Any]:
    """parameters.json without the run id, the parameter file's location and where each input came from."""
    document = json.loads(path.read_text(encoding="utf-8"))
    view = {k: v for k, v in document.items() if k not in PARAMETERS_JSON_EXCLUDED}
    view["inputs"] = {s: {k: v for k, v in e.items() if k not in INPUT_EXCLUDED} for s, e in view.get("inputs", {}).items()}
    return view


_TAG = re.compile(r"<[^>]+>")


def _visible(snippet: str) -> str:
    """Markup stripped from a snippet of HTML, whitespace collapsed: what a reader of the page sees."""
    return " ".join(html.unescape(_TAG.sub(" ", snippet)).split())


def compare_text(left: str, right: str, replacements: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """The first difference between two texts (workpapers, the lead sheet), after the declared
    normalisation, with the visible words around it."""
    a, b = _normalise(left, replacements), _normalise(right, replacements)
    if a == b:
        return []
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    line = a.count("\n", 0, at) + 1
    start = max(a.rfind(">", 0, max(at - 120, 0)) + 1, 0)
    return [(f"text from line {line}", repr(_visible(a[start:at + 160])[:240]), repr(_visible(b[start:at + 160])[:240]))]


def _notebook_cells(path: Path, replacements: list[tuple[str, str]]) -> list[str]:
    """Each cell of a notebook as normalised JSON: no metadata, execution counts or ids."""
    document = json.loads(path.read_text(encoding="utf-8"))
    cells = []
    for cell in document.get("cells", []):
        if INJECTED_CELL_TAG in (cell.get("metadata") or {}).get("tags", []):
            continue
        kept = {k: v for k, v in cell.items() if k not in NOTEBOOK_EXCLUDED}
        if "outputs" in kept:
            kept["outputs"] = [{k: v for k, v in o.items() if k not in NOTEBOOK_EXCLUDED} for o in kept["outputs"]]
        cells.append(_normalise(json.dumps(kept, sort_keys=True), replacements))
    return cells


def compare_notebooks(left: Path, right: Path, replacements: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """Cells whose source or outputs differ between two executed notebooks."""
    a, b = _notebook_cells(left, replacements), _notebook_cells(right, replacements)
    found = [] if len(a) == len(b) else [("number of cells", str(len(a)), str(len(b)))]
    for index, (x, y) in enumerate(zip(a, b)):
        if x != y:
            at = next((i for i, (p, q) in enumerate(zip(x, y)) if p != q), min(len(x), len(y)))
            found.append((f"cell {index + 1}", repr(x[max(at - 60, 0):at + 100]), repr(y[max(at - 60, 0):at + 100])))
    return found


def compare_workbooks(left: Path, right: Path) -> list[tuple[str, str, str]]:
    """Sheets and cells whose values differ between two Excel workbooks (the packaging is ignored)."""
    from openpyxl import load_workbook

    def cells(path: Path) -> dict[str, dict[str, Any]]:
        book = load_workbook(io.BytesIO(path.read_bytes()), read_only=True, data_only=True)
        try:
            return {sheet.title: {f"{sheet.title}!R{r}C{c}": value for r, row in enumerate(sheet.iter_rows(values_only=True), 1)
                                  for c, value in enumerate(row, 1) if value is not None} for sheet in book.worksheets}
        finally:
            book.close()

    a, b = cells(left), cells(right)
    found = []
    for sheet in sorted(set(a) | set(b)):
        if sheet not in a or sheet not in b:
            found.append((f"sheet '{sheet}'", "present" if sheet in a else "absent", "present" if sheet in b else "absent"))
            continue
        for ref in sorted(set(a[sheet]) | set(b[sheet])):
            if a[sheet].get(ref) != b[sheet].get(ref):
                found.append((f"cell {ref}", repr(a[sheet].get(ref)), repr(b[sheet].get(ref))))
    return found


def format_report(report: Reperformance) -> list[str]:
    """The re-performance in lines for the terminal: the outcome, each difference, notes, and times."""
    timing = f"re-performed in {report.seconds:.1f} s"
    if report.recorded_seconds is not None:
        timing += f"; the run itself took {report.recorded_seconds:.1f} s"
    lines = []
    if report.ok:
        lines.append(f"Re-performance: every control ({', '.join(report.controls)}) re-executed from the frozen "
                     f"inputs, parameters and seed gives the recorded results, exceptions, samples and "
                     f"conclusions; {timing}.")
    else:
        lines.append(f"Re-performance found {len(report.differences)} difference(s) between the recorded run and "
                     f"the controls re-executed from its frozen inputs, parameters and seed ({timing}):")
        lines += [f"  - {difference}" for difference in report.differences]
    if report.notes:
        lines.append("Environment differences (the first place to look when a result differs): "
                     + "; ".join(report.notes))
    lines.append("Not compared (they legitimately differ between runs): " + "; ".join(EXCLUDED) + ".")
    return lines
