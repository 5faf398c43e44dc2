"""Writing the auditors' remediation records (YAML) without losing what the auditor wrote by hand.

Why: the remediation file beside a period's parameters is the auditor's own document. They keep
comments in it ("# agreed with Mei on 14 Oct"), order records as they like and quote as they like.
Reading it into records and dumping them again (``exceptions.write_remediation``) loses all of that.
Every change the workbench makes to an existing file -- a note recorded in the exception explorer,
edits read back from ``exceptions.xlsx`` by ``workbench records import`` -- goes through this module,
which edits the file's YAML in place with ruamel.yaml's round-trip mode: only the values changed are
rewritten; comments, key order, quoting and indentation stay.

Safety is unchanged: the file's text is read once and checked the one safe way (:mod:`workbench.yamlfile`'s
limits and the records' model, as :func:`workbench.exceptions.read_remediation` reads it) before
ruamel.yaml parses that same text; the edited text is validated with the same model before it
replaces the file (through a temporary file, so nothing is half-written).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from workbench.exceptions import STATUSES, HistoryEntry, RemediationError, RemediationRecord, read_remediation
from workbench.parameters import validate_keyed_records
from workbench.workbook import DATE_FIELDS, EDITABLE, HEADERS, read_workbook, text
from workbench.yamlfile import YamlFileError, parse_text, read_text

RECORDS_WHAT = "file of exception id records"


def guess_indentation(text: str) -> tuple[int, int]:
    """(mapping indent, offset of a list's dash under its key) as the file is written; (2, 0) by default.

    Why: ruamel.yaml writes one indentation for the whole file; taking it from the file keeps an
    auditor's ``history:`` list laid out as they laid it out (``- date`` under ``history`` or indented).
    """
    mapping = offset = None
    parent: int | None = None  # indent of the last "key:" that opens a block
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        if parent is not None and indent > parent:
            if stripped.startswith("- ") and offset is None:
                offset = indent - parent
            elif not stripped.startswith("- ") and mapping is None:
                mapping = indent - parent
        content = stripped[2:].lstrip(" ") if stripped.startswith("- ") else stripped
        key_indent = indent + (len(stripped) - len(content))
        parent = key_indent if content.split("#", 1)[0].rstrip().endswith(":") else None
        if mapping is not None and offset is not None:
            break
    return mapping or 2, offset or 0


def _yaml(text: str = "") -> YAML:
    """A round-trip YAML reader/writer that keeps quotes and the file's indentation."""
    mapping, offset = guess_indentation(text)
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    yaml.representer.ignore_aliases = lambda data: True  # the same date twice is written twice, never as &id001
    return yaml


class RecordsDocument:
    """A remediation file opened for editing: its round-trip YAML and what it says now.

    ``records`` are the validated records as they are in the file now (empty for a new file).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        # read once, the safe way (size, encoding, nesting, aliases, duplicate keys, the records' model),
        # and only then parsed again, the same text, for round-trip editing
        text = read_text(self.path, RECORDS_WHAT) if self.path.exists() else ""
        self.records: dict[str, RemediationRecord] = check_text(text, self.path)
        self.original = text
        self.round_trip = _yaml(text)
        document: Any = self.round_trip.load(text) if text.strip() else None
        self.document: CommentedMap = document if isinstance(document, CommentedMap) else CommentedMap()
        # a file of comments only parses as nothing: its comments are kept as a header
        self.header = "" if isinstance(document, CommentedMap) else "".join(
            line + "\n" for line in text.splitlines() if line.startswith("#"))

    def record_map(self, record_id: str, new_record: Mapping[str, Any] | None = None) -> CommentedMap:
        """The YAML mapping of a record, created (with ``new_record``'s fields) where the file has none.

        A new record is placed among the others in id order when the file is in id order, else last.
        """
        if record_id in self.document and isinstance(self.document[record_id], CommentedMap):
            return self.document[record_id]
        fields = CommentedMap((k, _yaml_value(v)) for k, v in (new_record or {}).items() if v not in (None, "", []))
        if record_id in self.document:  # "EX-1:" with nothing under it
            self.document[record_id] = fields
            return fields
        keys = [str(k) for k in self.document]
        position = sum(k < record_id for k in keys) if keys == sorted(keys) else len(keys)
        self.document.insert(position, record_id, fields)
        return fields

    def set_fields(self, record_id: str, changes: Mapping[str, Any], new_record: Mapping[str, Any] | None = None) -> None:
        """Set (or, for None and '', remove) fields of one record, leaving every other line as it is."""
        fields = self.record_map(record_id, new_record)
        for name, value in changes.items():
            if value in (None, ""):
                fields.pop(name, None)
            else:
                fields[name] = _yaml_value(value)

    def append_history(self, record_id: str, entry: HistoryEntry, new_record: Mapping[str, Any] | None = None) -> None:
        """Add one dated note at the end of a record's history."""
        fields = self.record_map(record_id, new_record)
        item = CommentedMap([("date", entry.date), ("by", entry.by), ("note", entry.note)])
        if isinstance(fields.get("history"), CommentedSeq):
            fields["history"].append(item)
        else:
            fields["history"] = CommentedSeq([item])

    def text(self) -> str:
        """The file's new text: the lines of every value left unchanged exactly as they were in the file
        (see :func:`splice`), the changed values as ruamel.yaml writes them."""
        out = io.StringIO()
        if self.document:
            self.round_trip.dump(self.document, out)
        return self.header + splice(self.original, out.getvalue(), self.round_trip)

    def save(self) -> Path:
        """Validate the new text with the records' model, then replace the file through a temporary file."""
        text = self.text()
        check_text(text, self.path)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(self.path)
        self.records = read_remediation(self.path)
        return self.path


def _line_of(node: CommentedMap | CommentedSeq, key: Any) -> int:
    """The line (0-based) where a mapping's key or a list's item starts."""
    return node.lc.key(key)[0] if isinstance(node, CommentedMap) else node.lc.item(key)[0]


def _children(node: CommentedMap | CommentedSeq) -> list[Any]:
    return list(node.keys()) if isinstance(node, CommentedMap) else list(range(len(node)))


def _block(node: Any) -> bool:
    """A non-empty mapping or list written in block style (one child per line), so it can be spliced."""
    return isinstance(node, (CommentedMap, CommentedSeq)) and len(node) > 0 and not node.fa.flow_style()


def _splice_node(old: Any, old_lines: list[str], old_span: tuple[int, int],
                 new: Any, new_lines: list[str], new_span: tuple[int, int]) -> list[str]:
    """The new node's lines, each child equal to the old one's taken verbatim from the old text."""
    keys = _children(new)
    starts = [_line_of(new, k) for k in keys] + [new_span[1]]
    old_keys = _children(old)
    old_starts = dict(zip(old_keys, [_line_of(old, k) for k in old_keys]))
    old_ends = dict(zip(old_keys, [old_starts[k] for k in old_keys[1:]] + [old_span[1]]))
    lines = new_lines[new_span[0]:starts[0]]
    for index, key in enumerate(keys):
        span = (starts[index], starts[index + 1])
        present = key in old_starts
        if present and old[key] == new[key]:
            lines += old_lines[old_starts[key]:old_ends[key]]
        elif present and _block(old[key]) and _block(new[key]) and type(old[key]) is type(new[key]):
            lines += _splice_node(old[key], old_lines, (old_starts[key], old_ends[key]), new[key], new_lines, span)
        else:
            lines += new_lines[span[0]:span[1]]
    return lines


def splice(original: str, dumped: str, round_trip: YAML) -> str:
    """``dumped`` with every record, field and list item that did not change written as in ``original``.

    Why: ruamel.yaml keeps comments and order, but re-wraps long values its own way; an auditor's
    file should change only where a value changed. The result is checked to read as ``dumped``
    reads; if it would not, ``dumped`` is returned as it is.
    """
    if not original.strip() or not dumped.strip():
        return dumped
    old, new = round_trip.load(original), round_trip.load(dumped)  # text already read safely (RecordsDocument)
    if not (_block(old) and _block(new) and isinstance(old, CommentedMap) and isinstance(new, CommentedMap)):
        return dumped
    old_lines, new_lines = original.splitlines(keepends=True), dumped.splitlines(keepends=True)
    if old_lines and not old_lines[-1].endswith("\n"):
        old_lines[-1] += "\n"
    header = old_lines[:_line_of(old, _children(old)[0])]
    body = _splice_node(old, old_lines, (len(header), len(old_lines)), new, new_lines,
                        (_line_of(new, _children(new)[0]), len(new_lines)))
    spliced = "".join(header + body)
    return spliced if round_trip.load(spliced) == new else dumped


def _yaml_value(value: Any) -> Any:
    """A value as the YAML file holds it: dates as dates, lists as block lists, text as text."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, (list, tuple)):
        return CommentedSeq([_yaml_value(v) for v in value])
    if isinstance(value, Mapping):
        return CommentedMap((k, _yaml_value(v)) for k, v in value.items())
    return value


def check_text(text: str, path: Path) -> dict[str, RemediationRecord]:
    """The records a remediation text holds, read exactly as a run reads the file; RemediationError otherwise."""
    try:
        document, _ = parse_text(text, path, RECORDS_WHAT)
    except YamlFileError as exc:  # listed as read_remediation lists its problems, each naming the file
        raise RemediationError(f"{path} has {len(exc.problems)} problem(s):\n"
                               + "\n".join(f"  - {path.name}: {p}" for p in exc.problems)) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise RemediationError(f"{path}: expected a mapping of exception id to its record")
    return validate_keyed_records(document, path, RemediationRecord, RemediationError)


def append_note(path: Path, record_id: str, entry: HistoryEntry, new_record: Mapping[str, Any] | None = None) -> Path:
    """Append a dated note to one record's history in a remediation file, keeping its comments and layout."""
    document = RecordsDocument(path)
    document.append_history(record_id, entry, new_record)
    return document.save()


# --- reading an auditor's exceptions.xlsx back into the records -----------------------------------

IMPORTED_BY = "workbench records import"


@dataclass(frozen=True)
class Change:
    """One value the workbook changes in the remediation file: ``old`` (the file now) -> ``new``."""

    exception_id: str
    record_id: str
    field: str
    old: str
    new: str
    row: int
    value: Any  # the new value as it is written (a date for dates, None to remove the key)


@dataclass(frozen=True)
class Conflict:
    """A value edited in the workbook that was also changed in the remediation file since the export."""

    exception_id: str
    record_id: str
    field: str
    exported: str
    in_file: str
    in_workbook: str
    row: int


@dataclass
class ImportPlan:
    """What reading a workbook back would do: changes to write, conflicts left alone, problems that stop it."""

    workbook: Path
    records_file: Path
    changes: list[Change] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    new_records: dict[str, dict[str, Any]] = field(default_factory=dict)
    current: dict[str, RemediationRecord] = field(default_factory=dict)  # the file when compared

    def by_record(self) -> dict[str, list[Change]]:
        """The changes grouped by the record they go into, in id order."""
        grouped: dict[str, list[Change]] = {}
        for change in sorted(self.changes, key=lambda c: (c.record_id, c.exception_id, FIELD_ORDER[c.field])):
            grouped.setdefault(change.record_id, []).append(change)
        return grouped


FIELD_ORDER = {name: index for index, name in enumerate(EDITABLE)}


def _new_value(name: str, value: Any) -> Any:
    """A cell's value as the record holds it: a date for date fields (text that is not a date is kept
    as typed, for the model to refuse), stripped text otherwise, None for an empty cell."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if name in DATE_FIELDS:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            return str(value).strip()
    return text(value)


def _problem(error: dict[str, Any], row: int, exception_id: str, values: Mapping[str, Any]) -> str:
    """A validation error of one edited row, naming the row, the column and what to write instead."""
    name = str(error["loc"][0]) if error.get("loc") else ""
    where = f"row {row}, column {HEADERS[name]}" if name in HEADERS else f"row {row}"
    shown = text(values.get(name)) if name else ""
    if name == "status":
        return f"{where} ({exception_id}): '{shown}' is not a status; use one of {', '.join(STATUSES)}"
    if name in DATE_FIELDS:
        return f"{where} ({exception_id}): '{shown}' is not a date; enter a date such as 2026-12-31"
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    return f"{where} ({exception_id}): {message}"


def plan_import(workbook_path: Path, records_file: Path) -> ImportPlan:
    """Compare an auditor's ``exceptions.xlsx`` with the exported values and the remediation file now.

    A cell is an edit when it differs from the value shown when the workbook was written. An edit
    is a conflict, and is not applied, when the file's value has changed since the export (and
    differs from the edit). Every record with edits is validated with the records' model: a bad
    status or date is a problem naming the row and column, and then nothing is written.
    """
    read = read_workbook(workbook_path)
    plan = ImportPlan(Path(workbook_path), Path(records_file), remarks=list(read.remarks))
    current = read_remediation(records_file)
    plan.current = current
    pending: dict[str, dict[str, Any]] = {}
    rows_of: dict[str, tuple[int, str, dict[str, Any]]] = {}
    for edited in read.rows:
        exported = read.exported[edited.exception_id]
        record_id = exported.record_id
        record = current.get(record_id, RemediationRecord())
        for name, cell in edited.values.items():
            new = _new_value(name, cell)
            new_text, file_text = text(new), text(getattr(record, name))
            if new_text == exported.shown.get(name, "") or new_text == file_text:
                continue  # not edited, or the file already says so
            if file_text != exported.recorded.get(name, ""):
                plan.conflicts.append(Conflict(edited.exception_id, record_id, name, exported.recorded.get(name, ""),
                                               file_text, new_text, edited.row))
                continue
            plan.changes.append(Change(edited.exception_id, record_id, name, file_text, new_text, edited.row, new))
            pending.setdefault(record_id, {})[name] = new
            rows_of[record_id] = (edited.row, edited.exception_id, edited.values)
        if record_id in pending and record_id not in current:
            identity = {k: exported.identity.get(k) for k in ("finding_key", "control_id", "rule", "subject", "system",
                                                               "framework", "severity")}
            plan.new_records[record_id] = {k: v for k, v in identity.items() if v}
    for record_id, updates in pending.items():
        base = current.get(record_id, RemediationRecord()).model_dump(exclude_none=True)
        try:
            RemediationRecord.model_validate(base | plan.new_records.get(record_id, {}) | updates)
        except ValidationError as exc:
            row, exception_id, values = rows_of[record_id]
            plan.problems += [_problem(e, row, exception_id, values) for e in exc.errors()]
    return plan


def format_plan(plan: ImportPlan) -> list[str]:
    """The plan in lines for the terminal: per exception id, ``field: old -> new``; conflicts and problems."""
    lines = [f"Reading {plan.workbook} back into {plan.records_file}:"]
    if not plan.changes and not plan.conflicts and not plan.problems:
        lines.append("  no changes: the workbook's editable columns match the remediation file.")
    for record_id, changes in plan.by_record().items():
        exception_id = changes[0].exception_id
        named = exception_id if exception_id == record_id else f"{exception_id} (recorded under {record_id})"
        lines.append(f"  {named}{' (new record)' if record_id in plan.new_records else ''}, row {changes[0].row}:")
        lines += [f"    {HEADERS[c.field]}: {c.old or '(empty)'} -> {c.new or '(empty)'}" for c in changes]
    if plan.conflicts:
        lines.append(f"{len(plan.conflicts)} conflict(s): changed in the remediation file since the workbook was "
                     f"written, and edited in the workbook; the file's value is kept (edit the file by hand to choose):")
        lines += [f"  {c.exception_id}, row {c.row}, {HEADERS[c.field]}: exported '{c.exported}', now in the file "
                  f"'{c.in_file}', in the workbook '{c.in_workbook}'" for c in plan.conflicts]
    if plan.problems:
        lines.append(f"{len(plan.problems)} problem(s); nothing can be written until they are corrected in the workbook:")
        lines += [f"  {p}" for p in plan.problems]
    lines += [f"note: {r}" for r in plan.remarks]
    return lines


def apply_import(plan: ImportPlan, today: dt.date | None = None, by: str = IMPORTED_BY) -> Path:
    """Write a plan's changes into the remediation file, comments and layout kept, with a dated history
    line per record saying what was read back from which workbook. Refuses a plan with problems."""
    if plan.problems:
        raise RemediationError(f"{plan.workbook}: {len(plan.problems)} problem(s) to correct first; nothing written")
    document = RecordsDocument(plan.records_file)
    if document.records != plan.current:
        raise RemediationError(f"{plan.records_file} changed while the workbook was being compared with it; "
                               f"nothing written: run the import again")
    for record_id, changes in plan.by_record().items():
        new_record = plan.new_records.get(record_id)
        document.set_fields(record_id, {c.field: c.value for c in changes}, new_record)
        summary = "; ".join(f"{HEADERS[c.field]}: {c.old or '(empty)'} -> {c.new or '(empty)'}" for c in changes)
        document.append_history(record_id, HistoryEntry(date=today or dt.date.today(), by=by,
                                                        note=f"from {plan.workbook.name}: {summary}"))
    return document.save()


def records_file_for(workbook_path: Path, period_file: Path | None = None) -> Path:
    """The remediation file a workbook is read back into.

    ``period_file`` is the period's parameter file (its records are beside it) or the remediation
    file itself; without it, the parameter file the run recorded in its ``parameters.json`` beside
    the workbook. The period file must be of the workbook's period.
    """
    from workbench.parameters import load_period
    from workbench.rollforward import remediation_file_for

    workbook_path = Path(workbook_path)
    if period_file is None:
        recorded = workbook_path.parent / "parameters.json"
        named = json.loads(recorded.read_text(encoding="utf-8")).get("parameter_file") if recorded.is_file() else None
        if not named or not Path(named).is_file():
            raise RemediationError(f"{workbook_path} is not in a run folder that names its period file; give the "
                                   f"period's parameter file with --period-file PERIOD.yaml")
        period_file = Path(named)
    period_file = Path(period_file)
    if period_file.name.endswith((".remediation.yaml", ".remediation.yml")):
        return period_file
    periods = read_workbook(workbook_path).periods
    period = load_period(period_file).period.id
    if periods and period not in periods:
        raise RemediationError(f"{workbook_path.name} is the register of period {', '.join(sorted(periods))}, but "
                               f"{period_file} is period {period}; give the parameter file of the workbook's period")
    return remediation_file_for(period_file)
