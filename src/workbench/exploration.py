"""Interactive exploration of a run's exceptions, for auditors investigating before they conclude.

What it does: opens a recorded run (by default the latest run of the demo period under the project's
``outputs/``; when there is none, e.g. in a fresh clone, a throw-away demo run built in-process),
merges the period's remediation records into its exception register, and lets the auditor filter
the exceptions, drill into one (the evidence rows behind it, read from the run's frozen inputs, and
its history across periods) and record a note.

Why it is built this way:

- **Runs are evidence and are only read.** Nothing here writes into a run folder. Notes go to the
  period's remediation file (``exceptions.read_remediation`` / ``write_remediation``), appended to the
  record's history, keyed by exception id; ``record_note`` refuses any path inside the period's
  folder of runs.
- **Where the remediation file is.** It lives beside the period's parameter file:
  ``<parameters folder>/<parameter-file stem>.remediation.yaml``. A run keeps a byte-for-byte copy of
  that parameter file (``parameters.yaml``) but today not its original path, so
  ``locate_parameter_file`` looks, in order, for: the path named in the run's ``parameters.json``
  (key ``parameter_file``, once the runner records it); a file with exactly the copy's bytes in the
  ``parameters/`` folder beside the run's ``outputs/`` folder, then in the project's ``parameters/``;
  a single parameter file of the run's period in those folders. When none is unique, the explorer
  says so and asks for the file (``remediation_file`` argument, or the field in the notebook).
- **Pure functions, thin UI.** Filtering, options, evidence rows, history and the HTML shown are
  plain functions of DataFrames and paths, unit-tested without a browser; ``build_explorer`` only
  wires ipywidgets to them (ipywidgets is imported there, so charts and workpapers never need it).
- Widgets are not evidence: they show blank in exported HTML. This module serves the exploration
  notebook only; workpapers stay static (``workbench.charts`` gives them static images).
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib
import inspect
import io
import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import charts, exceptions, explorer_view, populations, runner, workpapers
from workbench import records as remediation_records
from workbench.exceptions import REGISTER_COLUMNS, SEVERITIES, STATUSES, HistoryEntry, RemediationRecord
from workbench.parameters import load_period
from workbench.rollforward import remediation_file_for
from workbench.yamlfile import YamlFileError, load_yaml

REGISTER_FILE = "exceptions.csv"
# Filter name -> register column. "system" is the application the exception is about.
FILTERS: dict[str, str] = {
    "control": "control_id", "framework": "framework", "rule": "rule", "severity": "severity",
    "status": "status", "system": "system", "reviewer": "reviewer", "period": "period",
}
FILTER_LABELS: dict[str, str] = {
    "control": "Control", "framework": "Framework", "rule": "Rule", "severity": "Severity", "status": "Status",
    "system": "Application", "reviewer": "Reviewer", "period": "Period",
}
MULTI_VALUED = {"framework", "reviewer"}  # "SOX; SOC 2": a row matches when any of its values is selected
SEPARATOR = "; "
TABLE_COLUMNS = ["severity", "exception_id", "control_id", "rule", "subject", "system", "reviewer", "status",
                 "owner", "due_date", "age_days", "period", "description"]
TABLE_ROWS_SHOWN = 200
#: The columns the search box looks in (every word typed must be found in one of them).
SEARCHED_COLUMNS = ["exception_id", "finding_key", "control_id", "rule", "subject", "system", "framework", "severity",
                    "status", "reviewer", "description", "evidence_reference", "owner", "root_cause",
                    "remediation_action", "management_response", "history", "period"]
#: Per rule, the columns whose values make the finding (any spelling: ``Termination Date`` is
#: ``termination_date``): highlighted in the evidence rows of the drill-down, so the auditor sees at a
#: glance, e.g., the termination date beside the account that is still active.
EVIDENCE_COLUMNS: dict[str, tuple[str, ...]] = {
    "terminated_with_active_access": ("termination_date", "last_day_of_work", "worker_status", "status",
                                      "account_status", "end_date", "unassigned_on"),
    "access_after_termination": ("termination_date", "last_day_of_work", "last_login", "lastLogin", "last_logon",
                                 "password_last_used", "access_key_1_last_used_date"),
    "late_deprovisioning": ("termination_date", "last_day_of_work", "status", "statusChanged", "status_changed",
                            "deactivated_at", "end_date", "unassigned_on", "closed"),
    "dormant_account": ("status", "account_status", "last_login", "lastLogin", "last_logon", "last_active",
                        "password_last_used", "access_key_1_last_used_date"),
    "access_without_approval": ("role_name", "entitlement", "access_name", "role_assigned_date", "assigned_on",
                                "requested_for", "approval", "approved", "state"),
    "privileged_drift": ("group_name", "groupname", "entitlement", "role_name", "approved_by", "expires_on"),
    "mfa_not_enabled": ("mfa_active", "mfa_enabled", "two_factor_enabled"),
    "orphan_account": ("login", "email", "verified_domain_emails", "employee_id"),
    "review_population_gap": ("login", "access_name", "identity_email"),
    "shared_or_generic_account": ("login", "name", "user_name"),
    "approved_terminated_user": ("decision", "decision_date", "termination_date", "last_day_of_work", "worker_status"),
    "revocation_not_executed": ("decision", "decision_date", "access_name", "role_name", "end_date", "account_status"),
    "rubber_stamping": ("decision", "decision_date", "reviewer_email"),
    "unexplained_removal": ("role_name", "groupname", "role", "entitlement", "end_date", "account_status"),
    "self_review": ("reviewer_email", "identity_email", "reviewer_name", "identity_name"),
    "undecided_review_line": ("decision", "decision_date", "comments"),
    "sod_conflict": ("role_name", "entitlement", "access_name"),
    "sod_attribute_conflict": ("role_name", "entitlement", "business_title"),
}
EVIDENCE_ROWS_SHOWN = 100
# "<file> line 12", "<file> lines 3, 5, 7", optionally followed by "(RITM0010001)".
_LINE_REFERENCE = re.compile(r"^(?P<file>.+?) lines? (?P<lines>\d+(?:\s*,\s*\d+)*)(?:\s*\((?P<note>[^)]*)\))?$")
_NOTE_REFERENCE = re.compile(r"^(?P<file>[^:]+): (?P<what>.+)$")
_DECISIONS_OF = "decisions of "
# Controls that failed in a throw-away run built in this process: run folder -> control id -> error.
BUILD_PROBLEMS: dict[Path, dict[str, str]] = {}


class ExplorationError(ValueError):
    """Something the auditor asked the explorer that it cannot do, said in the auditor's words."""


# --- finding and opening a run --------------------------------------------------------------------

def demo_period() -> str:
    """The demo period's id, read from the demo parameter file shipped in the package (not hard-coded here)."""
    return load_period(runner.shipped_demo_parameters(runner.DEMO_PARAMETER_FILE)).period.id


def control_test_class(procedure: str) -> type:
    """The ``ControlTest`` subclass that carries out a procedure (from ``workbench.procedures.<name>``)."""
    from workbench.procedures.base import ControlTest  # imported here: base imports the runner

    module = importlib.import_module(f"workbench.procedures.{procedure}")
    found = [obj for _, obj in inspect.getmembers(module, inspect.isclass)
             if issubclass(obj, ControlTest) and obj is not ControlTest and obj.__module__ == module.__name__]
    if len(found) != 1:
        raise ExplorationError(f"procedure '{procedure}' should define exactly one control test; found {len(found)}")
    return found[0]


def execute_in_process(context: runner.RunContext) -> Path:
    """Test every control of a prepared run in this process (no Jupyter) and write the period register.

    For a throw-away run only: the published evidence of a period comes from ``workbench run``, which
    also writes workpapers, the index and the manifest. Each control is opened, loaded, analysed,
    sampled and recorded exactly as its notebook does. As in a period run, a control that fails does
    not stop the others; its error is kept in ``BUILD_PROBLEMS`` and shown in the run's summary. The
    period folder's ``latest`` file then names the run.
    """
    frames, problems = [], {}
    for control in context.parameters.controls:
        try:
            test = control_test_class(control.procedure).open(str(context.run_dir), control.id)
            test.load_sources()
            test.run_analytics()
            test.select_sample()
            test.record()
        except Exception as exc:  # one failing control must not hide the others' exceptions
            problems[control.id] = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
            continue
        frames.append(exceptions.read_register(context.control_dir(control.id) / runner.CONTROL_EXCEPTIONS))
    if not frames and problems:
        raise ExplorationError("no control could be tested in the throw-away run: "
                               + "; ".join(f"{k}: {v}" for k, v in problems.items()))
    exceptions.write_register(exceptions.combine_registers(frames), context.run_dir / REGISTER_FILE)
    (context.run_dir.parent / "latest").write_text(context.run_id + "\n", encoding="utf-8")
    BUILD_PROBLEMS[context.run_dir.resolve()] = problems
    return context.run_dir


def build_demo_run() -> Path:
    """A throw-away demo run in a temporary folder, tested in-process (about two seconds)."""
    return execute_in_process(runner.prepare_standalone_run())


def default_run_dir(root: Path | None = None) -> Path:
    """The latest run of the demo period under the project's ``outputs/``, else a throw-away demo run."""
    root = root or runner.project_root()
    period_dir = root / "outputs" / demo_period()
    if (period_dir / "latest").is_file():
        candidate = runner.latest_run(period_dir)
        if (candidate / REGISTER_FILE).is_file():
            return candidate
    return build_demo_run()


def _run_document(run_dir: Path) -> dict[str, Any]:
    """The run's ``parameters.json``, with a clear error when the folder is not a run."""
    path = run_dir / runner.RUN_PARAMETERS
    if not path.is_file():
        raise ExplorationError(f"{run_dir} is not a run folder of the workbench (it has no {runner.RUN_PARAMETERS}); "
                               f"give a folder such as outputs/<period>/<run-id>")
    return json.loads(path.read_text(encoding="utf-8"))


def _is_parameter_document(path: Path) -> str | None:
    """The period id of a period parameter file (None for other YAML, e.g. remediation files)."""
    try:
        document = load_yaml(path, "YAML file")
    except (YamlFileError, OSError):
        return None
    if isinstance(document, dict) and isinstance(document.get("period"), dict) and "controls" in document:
        return str(document["period"].get("id"))
    return None


def parameter_folders(run_dir: Path) -> list[Path]:
    """Where a run's parameter file may be: ``parameters/`` beside its ``outputs/``, then the project's."""
    folders = [Path(run_dir).resolve().parents[2] / "parameters"]
    try:
        folders.append(runner.project_root() / "parameters")
    except FileNotFoundError:
        pass
    return list(dict.fromkeys(f.resolve() for f in folders))


def locate_parameter_file(run_dir: Path, folders: Sequence[Path] | None = None) -> tuple[Path | None, str]:
    """The period parameter file a run was made from, and how it was found (or why it was not).

    Order: the path recorded in ``parameters.json`` (key ``parameter_file``); the one file with the
    same bytes as the run's ``parameters.yaml`` copy in a candidate folder; the one parameter file of
    the run's period in a candidate folder. Anything ambiguous is not guessed.
    """
    run_dir = Path(run_dir)
    document = _run_document(run_dir)
    recorded = document.get("parameter_file")
    if recorded and Path(recorded).is_file():
        return Path(recorded), "named in the run's parameters.json"
    folders = list(folders) if folders is not None else parameter_folders(run_dir)
    candidates = {folder: sorted(p for p in folder.glob("*.y*ml") if p.is_file()) for folder in folders if folder.is_dir()}
    copy = run_dir / "parameters.yaml"
    copied = copy.read_bytes() if copy.is_file() else None
    for folder, files in candidates.items():
        same = [p for p in files if copied is not None and p.read_bytes() == copied]
        if len(same) == 1:
            return same[0], f"the file in {folder} identical to the run's copy (parameters.yaml)"
    period = document["parameters"]["period"]["id"]
    for folder, files in candidates.items():
        same_period = [p for p in files if _is_parameter_document(p) == period]
        if len(same_period) == 1:
            return same_period[0], f"the only parameter file of period {period} in {folder}"
    searched = ", ".join(str(f) for f in folders) or "no folder"
    return None, (f"the run does not name its parameter file, and {searched} holds no single parameter file of "
                  f"period {period}; enter the remediation file (<parameter file name>.remediation.yaml beside the "
                  f"period's parameter file) before recording notes")


@dataclass
class ExplorerRun:
    """One recorded run opened for exploration: its parameters, its merged register, its remediation file."""

    run_dir: Path
    context: runner.RunContext
    register: pd.DataFrame
    remediation_file: Path | None
    remediation_basis: str
    records: dict[str, RemediationRecord] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)  # source id -> why its reader failed
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def period(self) -> str:
        return self.context.parameters.period.id

    @property
    def outputs_dir(self) -> Path:
        """The ``outputs/`` folder holding this run's period folder."""
        return self.run_dir.parent.parent

    @property
    def published(self) -> bool:
        """True for a run published by ``workbench run`` (it has a manifest); False for a throw-away run."""
        return (self.run_dir / "manifest.json").is_file()

    def table(self, source_id: str) -> pd.DataFrame:
        """A source's canonical table, read from its frozen copy once (the same reader the tests used).

        A source the readers cannot read gives an empty table, and ``unreadable`` says why: one odd
        export must not stop the auditor from exploring the others.
        """
        key = f"table:{source_id}"
        if key not in self._cache:
            source = self.context.parameters.source(source_id)
            try:
                self._cache[key] = populations.load_source(
                    source.kind, self.context.inputs[source_id], system=source.system, timezone=source.timezone,
                    extracted_at=source.extracted_at.isoformat(), source_system=source.source_system,
                    display_names={s.name: s.id for s in self.context.parameters.systems},
                    **({"options": source.options} if source.options else {}),
                ).frame
            except (ValueError, KeyError, OSError) as exc:
                self.unreadable[source_id] = f"{type(exc).__name__}: {exc}"
                self._cache[key] = pd.DataFrame(columns=["line"])
        return self._cache[key]

    def raw(self, source_id: str) -> pd.DataFrame | None:
        """A CSV source's rows as exported (every value text), with their ``line``; None if not plain CSV."""
        key = f"raw:{source_id}"
        if key not in self._cache:
            path = self.context.inputs[source_id]
            plain = not self.context.parameters.source(source_id).options and path.suffix.lower() in (".csv", ".txt")
            try:
                self._cache[key] = raw_rows(path) if plain else None
            except ExplorationError:  # not a plain UTF-8 CSV: the canonical rows are shown instead
                self._cache[key] = None
        return self._cache[key]

    def exception(self, exception_id: str) -> dict[str, Any]:
        """One exception's register row, or an error naming the run."""
        rows = self.register[self.register["exception_id"] == exception_id]
        if rows.empty:
            raise ExplorationError(f"exception {exception_id} is not in run {self.run_dir.name} of period {self.period}")
        return rows.iloc[0].to_dict()

    def reload_records(self) -> None:
        """Re-read the remediation file and re-merge it (after a note was recorded)."""
        self.records = read_records(self.remediation_file)
        self.register = merged_register(self, read_run_register(self.run_dir), self.records)

    def summary(self) -> workpapers.HtmlBlock:
        """What was opened, in a few lines: the first thing the notebook shows."""
        params = self.context.parameters
        counts = self.register["severity"].value_counts()
        severity = ", ".join(f"{counts.get(s, 0)} {s}" for s in SEVERITIES)
        kind = ("published run (workpapers and manifest in the run folder)" if self.published
                else "throw-away run built in this session (no workpapers, no manifest)")
        rows = [
            ("Entity", params.entity),
            ("Period", f"{self.period}: {params.period.start} to {params.period.end}"),
            ("Run", f"{self.run_dir.name} — {kind}"),
            ("Run folder", str(self.run_dir)),
            ("Exceptions", f"{len(self.register)} ({severity})"),
            ("Remediation file (notes)", f"{self.remediation_file} — {self.remediation_basis}" if self.remediation_file
             else f"unknown: {self.remediation_basis}"),
            ("Evidence", "read only: the explorer never writes into a run folder"),
        ]
        failed = BUILD_PROBLEMS.get(self.run_dir.resolve(), {})
        if failed:
            rows.append(("Controls not tested", "; ".join(f"{k}: {v}" for k, v in sorted(failed.items()))))
        # The workbench's table styles, so tables read left to right in JupyterLab as in the workpapers.
        style = f"<style>{workpapers.stylesheet()}</style>"
        return workpapers.HtmlBlock(style + workpapers.key_values(rows, "Run under exploration").markup)


def read_records(path: Path | None) -> dict[str, RemediationRecord]:
    """The period's remediation records (none when the file is unknown or not yet written)."""
    return exceptions.read_remediation(path) if path else {}


def _run_register_file(run_dir: Path) -> pd.DataFrame:
    """A run's ``exceptions.csv`` as written (register and lifecycle columns), or a clear error."""
    path = Path(run_dir) / REGISTER_FILE
    if not path.is_file():
        raise ExplorationError(f"{run_dir} has no exception register ({REGISTER_FILE}): the run did not finish; "
                               f"open a completed run")
    return exceptions.read_register(path)


def read_run_register(run_dir: Path) -> pd.DataFrame:
    """The findings of a run's period register, with every register column (older runs lack some: empty).

    Rows the run listed only because the remediation file holds a record for them (``in_current_run``
    ``no``: carried exceptions the run did not find, stale ids) are not findings: merging the records
    in lists them again, with their retest applied as the run applied it.
    """
    frame = _run_register_file(run_dir)
    if "in_current_run" in frame.columns:
        frame = frame[frame["in_current_run"] != "no"]
    return frame.reindex(columns=REGISTER_COLUMNS, fill_value="").reset_index(drop=True)


def run_statuses(run_dir: Path) -> dict[str, str]:
    """Exception id -> the status the run itself recorded (e.g. ``retested-pass``); empty for older runs."""
    frame = _run_register_file(run_dir)
    if "status" not in frame.columns:
        return {}
    return {i: s for i, s in zip(frame["exception_id"], frame["status"]) if s}


def merged_register(run: ExplorerRun, register: pd.DataFrame, records: Mapping[str, RemediationRecord]) -> pd.DataFrame:
    """The register with the remediation records merged in, plus ``reviewer`` and ``run_id`` columns.

    ``status`` is the status the run recorded in its ``exceptions.csv`` (the register the run
    published); ``status_in_file`` is the status the remediation file gives now (it differs once an
    auditor changed the file after the run).
    """
    params = run.context.parameters
    merged = exceptions.merge_records(register, dict(records), as_of=params.period.end, period=params.period.id)
    merged["period"] = merged["period"].replace("", params.period.id)
    # the run's own statuses (what it concluded, e.g. retested-pass); the file's now beside them
    merged["status_in_file"] = merged["status"]
    recorded = run_statuses(run.run_dir)
    merged["status"] = [recorded.get(i, s) for i, s in zip(merged["exception_id"], merged["status"])]
    merged["age_days"] = pd.to_numeric(merged["age_days"], errors="coerce").fillna(0).astype(int)
    merged["reviewer"] = [reviewer_of(run, row) for row in merged.to_dict("records")]
    merged["run_id"] = run.run_dir.name
    return merged.astype({c: str for c in merged.columns if c != "age_days"})


def open_run(run_dir: str | Path = "", remediation_file: str | Path | None = None) -> ExplorerRun:
    """Open a run for exploration (read only); ``""`` opens the default run (see ``default_run_dir``).

    ``remediation_file`` overrides where the period's notes are read and written; by default it is
    found beside the period's parameter file (see ``locate_parameter_file``).
    """
    folder = _run_folder(run_dir) if str(run_dir).strip() else default_run_dir()
    if not folder.is_dir():
        raise ExplorationError(f"the run folder {folder} does not exist; give a folder such as outputs/<period>/<run-id>")
    _run_document(folder)
    context = runner.open_run(folder)
    if str(remediation_file or "").strip():
        path: Path | None = resolve_user_path(remediation_file)
        basis = "given explicitly"
    else:
        parameter_file, basis = locate_parameter_file(folder)
        path = remediation_file_for(parameter_file) if parameter_file else None
        basis = f"beside {parameter_file.name}, {basis}" if parameter_file else basis
    run = ExplorerRun(folder, context, pd.DataFrame(), path, basis)
    run.reload_records()
    return run


def _run_folder(value: str | Path) -> Path:
    """A run folder as typed: relative to the current folder, else to the project folder."""
    path = Path(str(value).strip()).expanduser()
    return path.resolve() if path.is_absolute() or path.exists() else resolve_user_path(path)


def resolve_user_path(value: str | Path) -> Path:
    """A path an auditor typed: relative paths are relative to the project folder (where ``make`` runs)."""
    path = Path(str(value).strip()).expanduser()
    if path.is_absolute():
        return path
    try:
        return (runner.project_root() / path).resolve()
    except FileNotFoundError:
        return path.resolve()


def other_period_runs(run: ExplorerRun) -> tuple[list[ExplorerRun], list[str]]:
    """The latest run of every other period beside this run's, and a warning for each that cannot be read."""
    found, warnings = [], []
    for period_dir in sorted(p for p in run.outputs_dir.iterdir() if p.is_dir() and p != run.run_dir.parent):
        if not (period_dir / "latest").is_file():
            continue
        try:
            found.append(open_run(runner.latest_run(period_dir)))
        except (ExplorationError, ValueError, OSError, KeyError) as exc:
            warnings.append(f"period {period_dir.name} not loaded: {exc}")
    return found, warnings


# --- evidence references and reviewers -------------------------------------------------------------

@dataclass(frozen=True)
class Reference:
    """One part of an ``evidence_reference``: a file and the lines cited, or a file and what in it."""

    text: str
    file: str
    lines: tuple[int, ...] = ()
    what: str = ""


def parse_evidence_reference(text: str) -> list[Reference]:
    """Split an evidence reference into its parts, separated by ``;``.

    A part is ``<file> line <n>`` or ``<file> lines <n>, <m>`` (optionally followed by a ticket in
    parentheses), ``<file>: <what>`` (e.g. ``decisions of <reviewer>``), or a bare file name.
    """
    parts = []
    for part in (p.strip() for p in str(text or "").split(";")):
        if not part:
            continue
        if match := _LINE_REFERENCE.match(part):
            lines = tuple(int(n) for n in re.split(r"\s*,\s*", match["lines"]))
            parts.append(Reference(part, match["file"].strip(), lines, (match["note"] or "").strip()))
        elif match := _NOTE_REFERENCE.match(part):
            parts.append(Reference(part, match["file"].strip(), (), match["what"].strip()))
        else:
            parts.append(Reference(part, part))
    return parts


def sources_by_file(context: runner.RunContext) -> dict[str, list[str]]:
    """File name -> the source ids whose frozen copy has that name (evidence cites file names)."""
    names: dict[str, list[str]] = {}
    for source_id, path in sorted(context.inputs.items()):
        names.setdefault(path.name, []).append(source_id)
    return names


def sources_for(context: runner.RunContext, label: str) -> list[str]:
    """The sources an evidence label names: by frozen file name, else the one source it describes.

    A few analytics cite a source by a description ("credential report") rather than its file
    name; such a label is matched to the single source whose id, kind or file name contains it.
    """
    exact = sources_by_file(context).get(label)
    if exact:
        return exact
    key = re.sub(r"[^a-z0-9]+", "_", label.casefold()).strip("_")
    found = [source_id for source_id, path in sorted(context.inputs.items())
             if key and (key in source_id or key in context.parameters.source(source_id).kind
                         or key in re.sub(r"[^a-z0-9]+", "_", path.stem.casefold()))]
    return found if len(found) == 1 else []


def _export_text(path: Path) -> str:
    """An export's text as the readers decode it by default: UTF-8 (BOM optional) or UTF-16 with a BOM."""
    data = Path(path).read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ExplorationError(f"{Path(path).name} is not UTF-8 text (byte {exc.start}); its rows are shown as read "
                               f"by the workbench instead") from None


def raw_rows(path: Path, lines: Collection[int] | None = None) -> pd.DataFrame:
    """Rows of a frozen CSV as exported (text, header names as written) with the ``line`` each starts on.

    Lines are counted as the population readers count them (the header is line 1; a quoted value
    may span lines; blank lines are skipped), so ``<file> line <n>`` finds the row an exception cites.
    """
    reader = csv.reader(io.StringIO(_export_text(path), newline=""))
    header: list[str] | None = None
    records, starts = [], []
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ExplorationError(f"{Path(path).name} line {start}: the CSV is malformed ({exc})") from None
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        if header is None:
            header = [h.strip() for h in record]
            continue
        records.append((record + [""] * len(header))[:len(header)])
        starts.append(start)
    frame = pd.DataFrame(records, columns=header or [], dtype=str)
    frame.insert(0, "line", starts)
    return frame if lines is None else frame[frame["line"].isin(set(lines))].reset_index(drop=True)


def _rows_at(run: ExplorerRun, source_id: str, lines: Iterable[int]) -> pd.DataFrame:
    """The rows of a source at these lines: as exported when it is plain CSV, else its canonical rows."""
    wanted = sorted(set(int(n) for n in lines))
    raw = run.raw(source_id)
    table = raw if raw is not None else run.table(source_id)
    return table[table["line"].isin(wanted)].sort_values("line", kind="mergesort").reset_index(drop=True)


def _reviewers_by_line(run: ExplorerRun, source_id: str) -> dict[int, str]:
    """Line -> reviewer e-mail of a review-decision source (empty for other sources), built once."""
    key = f"reviewers:{source_id}"
    if key not in run._cache:
        table = run.table(source_id)
        run._cache[key] = ({} if "reviewer_email" not in table.columns else
                           {int(line): str(who) for line, who in zip(table["line"], table["reviewer_email"]) if pd.notna(who)})
    return run._cache[key]


def reviewer_of(run: ExplorerRun, row: Mapping[str, Any]) -> str:
    """The reviewer(s) behind an exception: of the review lines it cites, or named as whose decisions."""
    found: list[str] = []
    for ref in parse_evidence_reference(row.get("evidence_reference", "")):
        if ref.what.startswith(_DECISIONS_OF):
            found.append(ref.what[len(_DECISIONS_OF):].strip().casefold())
        for source_id in sources_for(run.context, ref.file) if ref.lines else []:
            found += [_reviewers_by_line(run, source_id).get(line, "") for line in ref.lines]
    return SEPARATOR.join(dict.fromkeys(v for v in found if v))


# --- filtering --------------------------------------------------------------------------------------

def _values(register: pd.DataFrame, name: str) -> pd.Series:
    """A filter's column as lists of values (multi-valued columns split on '; ')."""
    column = register[FILTERS[name]].astype(str)
    if name in MULTI_VALUED:
        return column.map(lambda v: [p.strip() for p in v.split(";") if p.strip()])
    return column.map(lambda v: [v] if v else [])


def filter_options(register: pd.DataFrame) -> dict[str, list[str]]:
    """The values each filter can take in this register (severity and status in their natural order)."""
    options = {}
    for name in FILTERS:
        present = sorted({v for values in _values(register, name) for v in values})
        order = {"severity": SEVERITIES, "status": STATUSES}.get(name)
        options[name] = ([v for v in order if v in present] + [v for v in present if v not in order]) if order else present
    return options


def _wanted(value: Any) -> set[str]:
    """A criterion's accepted values: none means no filter; a string is one value; else any of them."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return set()
    if isinstance(value, str):
        return {value.strip()}
    return {str(v).strip() for v in value if str(v).strip()}


def sort_register(register: pd.DataFrame) -> pd.DataFrame:
    """Highest severity first, then period, control, rule, subject and id (stable, deterministic)."""
    rank = register["severity"].map({s: i for i, s in enumerate(SEVERITIES)}).fillna(len(SEVERITIES))
    order = register.assign(_rank=rank).sort_values(
        ["_rank", "period", "control_id", "rule", "subject", "exception_id"], kind="mergesort")
    return order.drop(columns="_rank").reset_index(drop=True)


def filter_register(register: pd.DataFrame, **criteria: Any) -> pd.DataFrame:
    """The exceptions matching every criterion given (each: one value or any of several), by severity.

    Criteria are the keys of ``FILTERS`` (control, framework, rule, severity, status, system,
    reviewer, period); an empty criterion does not filter.
    """
    unknown = sorted(set(criteria) - set(FILTERS))
    if unknown:
        raise ExplorationError(f"unknown filter(s) {', '.join(unknown)}; the filters are {', '.join(FILTERS)}")
    keep = pd.Series(True, index=register.index)
    for name, value in criteria.items():
        wanted = _wanted(value)
        if wanted:
            keep &= _values(register, name).map(lambda values, wanted=wanted: bool(wanted.intersection(values)))
    return sort_register(register[keep])


def table_view(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns of the exceptions table, as the auditor reads them."""
    return frame.reindex(columns=TABLE_COLUMNS).rename(columns={"control_id": "control", "age_days": "age (days)",
                                                                "exception_id": "exception id", "due_date": "due date"})


def exception_table_html(frame: pd.DataFrame, total: int) -> str:
    """The table of matching exceptions (first rows only when there are very many), with a count;
    long values wrap in full (explorer styles)."""
    if frame.empty:
        return workpapers.paragraph(f"No exception matches these filters (0 of {total}).", "wp-note").markup
    caption = f"{len(frame)} of {total} exception(s), highest severity first"
    return explorer_view.wrapped(workpapers.table(table_view(frame), caption, max_rows=TABLE_ROWS_SHOWN).markup)


def choice_label(row: Mapping[str, Any]) -> str:
    """How the drill-down list names an exception."""
    return f"{row['severity']} · {row['rule']} · {row['subject']} · {row['system']} ({row['exception_id']})"


# --- drill-down: evidence rows -----------------------------------------------------------------------

def _subject_aliases(run: ExplorerRun, subject: str) -> set[str]:
    """The subject and the application logins the IdP maps to them (e.g. an AWS IAM user name)."""
    aliases = {subject.casefold()} if subject else set()
    for source_id in run.context.inputs:
        table = run.table(source_id)
        if {"application_login", "login"} <= set(table.columns):
            mapped = table.loc[table["login"].astype("string").str.casefold() == subject.casefold(), "application_login"]
            aliases |= {str(v).casefold() for v in mapped.dropna() if str(v).strip()}
    return aliases


def _matching_lines(table: pd.DataFrame, columns: Sequence[str], values: set[str]) -> list[int]:
    """Lines of a canonical table where any of the columns (casefolded) is one of the values."""
    hit = pd.Series(False, index=table.index)
    for column in columns:
        if column in table.columns:
            hit |= table[column].astype("string").str.casefold().isin(values).fillna(False)
    return [int(n) for n in table.loc[hit, "line"]]


def _cited_rows(run: ExplorerRun, refs: list[Reference], subject: str) -> dict[str, pd.DataFrame]:
    """The rows each cited file contributes: cited lines, or the rows the reference describes."""
    sections: dict[str, pd.DataFrame] = {}
    for file in dict.fromkeys(r.file for r in refs):
        mine = [r for r in refs if r.file == file]
        title = f"Cited evidence: {'; '.join(r.text for r in mine)}"
        sources = sources_for(run.context, file)
        if not sources:
            sections[title] = pd.DataFrame({"note": [f"the run holds no input file named {file}"]})
            continue
        for source_id in sources:
            lines = [line for r in mine for line in r.lines]
            for ref in (r for r in mine if r.what and not r.lines):
                who = ref.what[len(_DECISIONS_OF):] if ref.what.startswith(_DECISIONS_OF) else subject
                column = ["reviewer_email"] if ref.what.startswith(_DECISIONS_OF) else ["email", "login", "subject_email"]
                lines += _matching_lines(run.table(source_id), column, {who.strip().casefold()})
            key = title if len(sources) == 1 else f"{title} (source {source_id})"
            sections[key] = _rows_at(run, source_id, lines)
    return sections


def evidence_rows(run: ExplorerRun, exception_id: str) -> dict[str, pd.DataFrame]:
    """The evidence behind one exception, read from the run's frozen inputs, section title -> rows.

    Sections, in order: the rows its ``evidence_reference`` cites (the review decision line, the
    listing row, or a reviewer's decisions); the HR record of the subject; the subject's accounts and
    access in every system listing (matched by e-mail, login, or the application login the IdP maps
    to them); the tickets requested for the subject. Rows are shown as exported, with their line.
    """
    row = run.exception(exception_id)
    subject = str(row["subject"]).strip()
    aliases = _subject_aliases(run, subject)
    sections = _cited_rows(run, parse_evidence_reference(row["evidence_reference"]), subject)
    for source_id in sorted(run.context.inputs):
        table, name = run.table(source_id), run.context.inputs[source_id].name
        columns = set(table.columns)
        if {"termination_date", "email", "employee_id"} <= columns:
            sections[f"HR record of the subject: {name}"] = _rows_at(run, source_id, _matching_lines(table, ["email"], aliases))
    for source_id in sorted(run.context.inputs):
        table, name = run.table(source_id), run.context.inputs[source_id].name
        if {"login", "email", "system"} <= set(table.columns):
            lines = _matching_lines(table, ["email", "login"], aliases)
            if lines:
                sections[f"Accounts and access of the subject: {name}"] = _rows_at(run, source_id, lines)
    for source_id in sorted(run.context.inputs):
        table, name = run.table(source_id), run.context.inputs[source_id].name
        if "requested_for" in table.columns:
            sections[f"Tickets for the subject: {name}"] = _rows_at(run, source_id,
                                                                    _matching_lines(table, ["requested_for"], aliases))
    for source_id, why in sorted(run.unreadable.items()):
        sections[f"Not searched: {run.context.inputs[source_id].name}"] = pd.DataFrame({"reason": [why]})
    return sections


# --- drill-down: history across periods --------------------------------------------------------------

@dataclass(frozen=True)
class FindingHistory:
    """A finding across periods: where it was found (latest run of each period) and the notes on it."""

    runs: pd.DataFrame
    notes: pd.DataFrame


HISTORY_RUN_COLUMNS = ["period", "run_id", "exception_id", "rule", "subject", "system", "severity", "description"]
HISTORY_NOTE_COLUMNS = ["date", "by", "note", "exception_id", "status", "file"]


def _period_start(run_dir: Path) -> str:
    """The period start of a run (to order periods), or '' when unreadable."""
    try:
        return str(_run_document(run_dir)["parameters"]["period"]["start"])
    except (ExplorationError, KeyError, ValueError, OSError):
        return ""


def history(outputs_dir: Path, finding_key: str, remediation_files: Iterable[Path | None] = ()) -> FindingHistory:
    """Every period's latest run that found this finding, and the history entries recorded against it.

    Notes come from each period's remediation file (found as ``locate_parameter_file`` finds it)
    plus any ``remediation_files`` given: entries of records with this ``finding_key`` or with the id
    the finding had in a run. Read only.
    """
    outputs_dir = Path(outputs_dir)
    found, files = [], [Path(f) for f in remediation_files if f]
    if finding_key:
        for period_dir in sorted(p for p in outputs_dir.iterdir() if p.is_dir()) if outputs_dir.is_dir() else []:
            if not (period_dir / "latest").is_file():
                continue
            run_dir = runner.latest_run(period_dir)
            if not (run_dir / REGISTER_FILE).is_file():
                continue
            register = read_run_register(run_dir)
            for row in register[register["finding_key"] == finding_key].to_dict("records"):
                found.append({**{c: row.get(c, "") for c in HISTORY_RUN_COLUMNS}, "run_id": run_dir.name,
                              "period": row.get("period") or period_dir.name, "_start": _period_start(run_dir)})
            parameter_file, _ = locate_parameter_file(run_dir)
            if parameter_file:
                files.append(remediation_file_for(parameter_file))
    runs = pd.DataFrame(found, columns=[*HISTORY_RUN_COLUMNS, "_start"])
    runs = runs.sort_values(["_start", "period", "exception_id"], kind="mergesort").drop(columns="_start")
    ids = set(runs["exception_id"])
    notes = []
    for path in dict.fromkeys(p.resolve() for p in files):
        for exception_id, record in sorted(read_records(path).items()):
            if not finding_key or not (record.finding_key == finding_key or exception_id in ids):
                continue
            notes += [{"date": entry.date.isoformat(), "by": entry.by, "note": entry.note, "exception_id": exception_id,
                       "status": record.status, "file": path.name} for entry in record.history]
    notes_frame = pd.DataFrame(notes, columns=HISTORY_NOTE_COLUMNS).sort_values(
        ["date", "exception_id"], kind="mergesort").reset_index(drop=True)
    return FindingHistory(runs.reset_index(drop=True), notes_frame)


# --- the detail shown for one exception ---------------------------------------------------------------

def _section(title: str, frame: pd.DataFrame, empty: str) -> str:
    """One evidence section as HTML: a captioned table, or a sentence saying nothing was found."""
    if frame.empty:
        return workpapers.paragraph(f"{title}: {empty}", "wp-note").markup
    return workpapers.table(frame, title, max_rows=EVIDENCE_ROWS_SHOWN).markup


def detail_html(run: ExplorerRun, exception_id: str, extra_remediation_files: Iterable[Path | None] = ()) -> str:
    """Everything the drill-down shows for one exception: the finding, its evidence rows, its history."""
    row = run.exception(exception_id)
    if row.get("status_in_file") and row["status_in_file"] != row.get("status"):
        row["status_now"] = f"{row['status_in_file']} (changed since the run)"
    facts = [(label, row.get(column, "")) for label, column in (
        ("Exception", "exception_id"), ("Finding key (across periods)", "finding_key"), ("Period", "period"),
        ("Control", "control_id"), ("Rule", "rule"), ("Subject", "subject"), ("Application", "system"),
        ("Framework", "framework"), ("Severity", "severity"), ("Reviewer", "reviewer"), ("Status (this run)", "status"),
        ("Status in the remediation file now", "status_now"), ("Age (days open at period end)", "age_days"),
        ("Description", "description"), ("Evidence reference", "evidence_reference"),
        ("Root cause", "root_cause"), ("Owner", "owner"), ("Remediation", "remediation_action"),
        ("Due", "due_date"), ("Management response", "management_response"), ("Retest", "retest"),
    ) if row.get(column, "") or column in ("exception_id", "status", "description")]
    evidence = EVIDENCE_COLUMNS.get(str(row.get("rule", "")), ())
    parts = [workpapers.key_values(facts, f"Exception {exception_id}").markup,
             "<h4>Evidence rows (frozen inputs of the run)</h4>", explorer_view.legend(evidence)]
    for title, frame in evidence_rows(run, exception_id).items():
        empty = ("no worker with this e-mail in HR (an account without a person, or the subject is an account name)"
                 if title.startswith("HR record") else "none")
        parts.append(workpapers.paragraph(f"{title}: {empty}", "wp-note").markup if frame.empty
                     else explorer_view.evidence_table(frame, title, evidence, EVIDENCE_ROWS_SHOWN))
    found = history(run.outputs_dir, row.get("finding_key", ""), [run.remediation_file, *extra_remediation_files])
    parts.append("<h4>History across periods</h4>")
    parts.append(_section("Found in the latest run of each period", found.runs,
                          "no run of any period under this outputs folder records this finding key"))
    parts.append(_section("Notes and remediation history", found.notes, "no notes recorded yet"))
    return explorer_view.wrapped("\n".join(parts))


# --- recording a note ----------------------------------------------------------------------------------

def record_key(run: ExplorerRun, records: Mapping[str, RemediationRecord], row: Mapping[str, Any]) -> str:
    """The id a note is recorded under: the exception's own, or that of the record carried into it.

    A record rolled forward from an earlier period keeps its old id and matches this period's
    finding by ``finding_key`` (see ``exceptions.resolve_records``); a note belongs in that record,
    not in a second one that would leave the carried record unmatched.
    """
    exception_id = str(row["exception_id"])
    if exception_id in records or not row.get("finding_key"):
        return exception_id
    current = set(run.register.loc[run.register["in_current_run"] == "yes", "exception_id"])
    carried = sorted(i for i, r in records.items() if r.finding_key == row["finding_key"] and i not in current)
    return carried[0] if carried else exception_id


def record_note(run: ExplorerRun, exception_id: str, note: str, by: str, today: dt.date | None = None,
                remediation_file: str | Path | None = None) -> Path:
    """Append a dated note to the exception's record in the period's remediation file; return the file.

    A new record keeps the finding's key, control, rule, subject, system, framework and severity, so
    roll-forward and later periods find it. The file keeps its comments and layout: only the note's
    lines are added (:mod:`workbench.records`). Never writes into the run: a path inside the period's folder of runs is refused.
    """
    if not str(note or "").strip():
        raise ExplorationError("write the note before recording it")
    if not str(by or "").strip():
        raise ExplorationError("say who records the note (your name)")
    path = resolve_user_path(remediation_file) if str(remediation_file or "").strip() else run.remediation_file
    if path is None:
        raise ExplorationError(f"the remediation file of period {run.period} is unknown: {run.remediation_basis}")
    path = Path(path).resolve()
    if path.is_relative_to(run.run_dir.parent.resolve()):
        raise ExplorationError(f"{path} is inside the period's run folders; runs are evidence and are never written "
                               f"to: record notes in the remediation file beside the period's parameter file")
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise ExplorationError(f"{path.name}: notes are recorded in a YAML remediation file (.yaml); "
                               f"this one is kept by hand, add the note there")
    if not path.parent.is_dir():
        raise ExplorationError(f"the folder of the remediation file does not exist: {path.parent}")
    row = run.exception(exception_id)
    records = exceptions.read_remediation(path)
    key = record_key(run, records, row)
    identity = {name: row.get(name) or None for name in ("finding_key", "control_id", "rule", "subject", "system",
                                                         "framework", "severity")}
    entry = HistoryEntry(date=today or dt.date.today(), by=by.strip(), note=note.strip())
    # the file is edited in place: the auditor's comments, order and layout stay (workbench.records)
    remediation_records.append_note(path, key, entry, new_record=identity)
    return path


# --- charts of a run -----------------------------------------------------------------------------------

def _control_charts(run: ExplorerRun, control: Any) -> list[charts.Chart]:
    """The charts of one control, by procedure: review pace and reviewers; deprovisioning lag."""
    if control.procedure not in ("user_access_review", "termination"):
        return []
    test = control_test_class(control.procedure).open(str(run.run_dir), control.id)
    if control.procedure == "termination":
        lag = charts.deprovisioning_lag(test.leavers, test.settings.sla_business_days)
        return [charts.embed(lag, f"{control.id}: {charts.describe(lag)}")]
    from workbench.analytics import reviewer_statistics  # the same statistics the analytic uses

    decisions, campaign = test.decisions, test.campaign
    stamp = charts.reviewer_rubber_stamp(reviewer_statistics(decisions), **charts.thresholds_of(test.settings))
    pace = charts.decision_timeliness(decisions, campaign["activated_at"], campaign["deadline"], campaign["completed_at"])
    return [charts.embed(stamp, f"{control.id}: {charts.describe(stamp)}"),
            charts.embed(pace, f"{control.id}: {charts.describe(pace)}")]


def run_charts(run: ExplorerRun) -> list[charts.Chart | workpapers.HtmlBlock]:
    """The run's charts: exceptions by control and rule, by status and age, then each control's own.

    A control whose chart cannot be drawn gets a sentence saying why, not a failed notebook.
    """
    current = run.register[run.register["in_current_run"] == "yes"]
    shown: list[charts.Chart | workpapers.HtmlBlock] = [
        charts.embed(charts.exceptions_by_control_and_rule(current)),
        charts.embed(charts.exceptions_by_status_and_age(run.register))]
    for control in run.context.parameters.controls:
        if BUILD_PROBLEMS.get(run.run_dir.resolve(), {}).get(control.id) or not (run.run_dir / control.id).is_dir():
            continue  # the control was not tested in this run
        try:
            shown += _control_charts(run, control)
        except Exception as exc:  # a chart is a convenience: say why it is missing and go on
            shown.append(workpapers.paragraph(f"{control.id}: chart not available ({type(exc).__name__}: {exc}).",
                                              "wp-note"))
    return shown


# --- the interactive explorer (ipywidgets) -------------------------------------------------------------

def _show(output: Any, markup: str, text: str) -> None:
    """Replace an Output widget's content with one HTML display (works with or without a kernel)."""
    output.outputs = ({"output_type": "display_data", "data": {"text/html": markup, "text/plain": text},
                       "metadata": {}},)


def _message(kind: str, text: str) -> str:
    """A status line under the note box: green when done, red when not."""
    colour = {"ok": "#0b5d1e", "error": "#8a1c12"}.get(kind, "#57606a")
    return f'<span style="color:{colour}">{workpapers.escape(text)}</span>'


@dataclass
class Explorer:
    """The widgets of the exception explorer and the state behind them (see ``build_explorer``)."""

    runs: list[ExplorerRun]
    register: pd.DataFrame
    filters: dict[str, Any]
    clear: Any
    search: Any
    count: Any
    table: Any
    choice: Any
    detail: Any
    note: Any
    author: Any
    remediation: Any
    record: Any
    message: Any
    widget: Any
    matching: pd.DataFrame = field(default_factory=pd.DataFrame)
    detail_markup: str = ""
    warnings: list[str] = field(default_factory=list)
    shown: str | None = None
    _quiet: bool = False

    def criteria(self) -> dict[str, tuple[str, ...]]:
        """The filter values selected now (empty selection: no filter)."""
        return {name: tuple(w.value) for name, w in self.filters.items()}

    def run_of(self, exception_id: str) -> ExplorerRun:
        """The run that holds an exception (each period's exception ids differ)."""
        for run in self.runs:
            if exception_id in set(run.register["exception_id"]):
                return run
        raise ExplorationError(f"exception {exception_id} is in none of the runs opened")

    def rebuild(self) -> None:
        """Re-read the combined register from the runs (after a note changed a record)."""
        self.register = sort_register(pd.concat([r.register for r in self.runs], ignore_index=True))

    def refresh(self, *_: Any) -> None:
        """Apply the filters: update the count, the table, the drill-down list and (if it changed) the detail."""
        if self._quiet:
            return
        self.matching = explorer_view.search_register(filter_register(self.register, **self.criteria()),
                                                     self.search.value, SEARCHED_COLUMNS)
        self.count.value = f"<b>{len(self.matching)}</b> of {len(self.register)} exception(s) match the filters"
        _show(self.table, exception_table_html(self.matching, len(self.register)),
              f"{len(self.matching)} of {len(self.register)} exception(s)")
        options = [(choice_label(row), row["exception_id"]) for row in self.matching.to_dict("records")]
        ids = [value for _, value in options]
        previous = self.choice.value
        self._quiet = True  # changing the options must not redraw the detail twice
        try:
            self.choice.options = options
            self.choice.value = previous if previous in ids else (ids[0] if ids else None)
        finally:
            self._quiet = False
        if self.choice.value != self.shown or not self.detail_markup:
            self.show_detail()

    def show_detail(self, *_: Any) -> None:
        """Show the drill-down of the selected exception (evidence rows and history)."""
        if self._quiet:
            return
        exception_id = self.choice.value
        self.shown = exception_id
        if not exception_id:
            self.detail_markup = workpapers.paragraph("No exception selected: no exception matches the filters.",
                                                      "wp-note").markup
        else:
            run = self.run_of(exception_id)
            self.remediation.value = str(run.remediation_file or "")
            self.detail_markup = detail_html(run, exception_id)
        _show(self.detail, self.detail_markup, f"drill-down of {exception_id or 'nothing'}")

    def clear_filters(self, *_: Any) -> None:
        """Back to every exception of every period loaded (one refresh, not one per filter)."""
        self._quiet = True
        try:
            for widget in self.filters.values():
                widget.value = ()
            self.search.value = ""
        finally:
            self._quiet = False
        self.refresh()

    def record_clicked(self, *_: Any) -> None:
        """Record the note typed for the selected exception in its period's remediation file."""
        exception_id = self.choice.value
        try:
            if not exception_id:
                raise ExplorationError("choose an exception in the drill-down list first")
            run = self.run_of(exception_id)
            path = record_note(run, exception_id, self.note.value, self.author.value,
                               remediation_file=self.remediation.value)
            if path != run.remediation_file:
                run.remediation_file, run.remediation_basis = path, "entered in the explorer"
            run.reload_records()
        except (ExplorationError, exceptions.RemediationError, OSError) as exc:
            self.message.value = _message("error", f"Not recorded: {exc}")
            return
        self.note.value = ""
        self.message.value = _message("ok", f"Note recorded against {exception_id} in {path}.")
        self.rebuild()
        self.shown = None  # the history changed: redraw the detail
        self.refresh()


def build_explorer(run: ExplorerRun, control_id: str = "", other_periods: bool = True) -> Explorer:
    """The explorer's widgets over a run (and the latest run of every other period beside it).

    Filters start on the run's period (and on ``control_id`` when given): every exception of the
    run, highest severity first, the first one open in the drill-down.
    """
    import ipywidgets as w  # only the exploration notebook needs widgets

    others, warnings = other_period_runs(run) if other_periods else ([], [])
    runs = [run, *others]
    register = sort_register(pd.concat([r.register for r in runs], ignore_index=True))
    options = filter_options(register)
    if control_id and control_id not in options["control"]:
        raise ExplorationError(f"control {control_id} has no exception in run {run.run_dir.name}; "
                               f"controls with exceptions: {', '.join(options['control']) or 'none'}")
    layout = w.Layout(width="180px")
    filters = {name: w.SelectMultiple(options=values, rows=min(max(len(values), 2), 5), description="",
                                      layout=layout) for name, values in options.items()}
    if others:
        filters["period"].value = (run.period,)
    if control_id:
        filters["control"].value = (control_id,)
    boxes = [w.VBox([w.HTML(f"<b>{FILTER_LABELS[name]}</b>"), widget]) for name, widget in filters.items()]
    explorer = Explorer(
        runs=runs, register=register, filters=filters,
        clear=w.Button(description="Show all", tooltip="clear every filter and the search"),
        search=w.Text(placeholder="Search: id, subject, system, description, owner, notes…", description="Search",
                      continuous_update=False, layout=w.Layout(width="60%")),
        count=w.HTML(), table=w.Output(layout=w.Layout(max_height="420px", overflow="auto")),
        choice=w.Dropdown(options=[], description="Exception", layout=w.Layout(width="95%")),
        detail=w.Output(),
        note=w.Textarea(placeholder="What you found, asked or agreed (recorded with today's date and your name)",
                        layout=w.Layout(width="95%", height="80px")),
        author=w.Text(value=run.context.parameters.preparer, description="Your name", layout=w.Layout(width="60%")),
        remediation=w.Text(value=str(run.remediation_file or ""), description="Notes file",
                           placeholder="parameters/<period>.remediation.yaml", layout=w.Layout(width="95%")),
        record=w.Button(description="Record note", button_style="primary"),
        message=w.HTML(), widget=None, warnings=warnings,
    )
    explorer.widget = w.VBox([
        w.HTML("<h3>Filters</h3><span>Select one or more values (Ctrl/⌘-click); nothing selected means all.</span>"),
        w.HBox(boxes, layout=w.Layout(flex_flow="row wrap")), explorer.search, w.HBox([explorer.clear, explorer.count]),
        explorer.table, w.HTML("<h3>Drill-down</h3>"), explorer.choice, explorer.detail,
        w.HTML("<h3>Record a note</h3>"), explorer.note, explorer.author, explorer.remediation, explorer.record,
        explorer.message,
    ])
    if warnings:
        explorer.message.value = _message("info", "; ".join(warnings))
    for widget in [*filters.values(), explorer.search]:
        widget.observe(explorer.refresh, names="value")
    explorer.choice.observe(explorer.show_detail, names="value")
    explorer.clear.on_click(explorer.clear_filters)
    explorer.record.on_click(explorer.record_clicked)
    explorer.refresh()
    return explorer
