"""Writing the auditors' remediation records (YAML) without losing what the auditor wrote by hand.

Why: the remediation file beside a period's parameters is the auditor's own document. They keep
comments in it ("# agreed with Mei on 14 Oct"), order records as they like and quote as they like.
Reading it into records and dumping them again (``exceptions.write_remediation``) loses all of that.
Every change the workbench makes to an existing file -- a note recorded in the exception explorer,
edits read back from ``exceptions.xlsx`` by ``workbench records import`` -- goes through this module,
which edits the file's YAML in place with ruamel.yaml's round-trip mode: only the values changed are
rewritten; comments, key order, quoting and indentation stay.

Safety is unchanged: the file is first read the one safe way (:func:`workbench.exceptions.read_remediation`,
through :mod:`workbench.yamlfile`'s limits and the records' model), and the edited text is validated
with the same model before it replaces the file (through a temporary file, so nothing is half-written).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from workbench.exceptions import HistoryEntry, RemediationError, RemediationRecord, read_remediation
from workbench.parameters import validate_keyed_records
from workbench.yamlfile import parse_text


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
    return yaml


class RecordsDocument:
    """A remediation file opened for editing: its round-trip YAML and what it says now.

    ``records`` are the validated records as they are in the file now (empty for a new file).
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.records: dict[str, RemediationRecord] = read_remediation(self.path)  # the safe read, or an error
        text = self.path.read_text(encoding="utf-8").removeprefix("\ufeff") if self.path.is_file() else ""
        self.yaml = _yaml(text)
        document: Any = self.yaml.load(text) if text.strip() else None
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
        """The file's new text."""
        out = io.StringIO()
        if self.document:
            self.yaml.dump(self.document, out)
        return self.header + out.getvalue()

    def save(self) -> Path:
        """Validate the new text with the records' model, then replace the file through a temporary file."""
        text = self.text()
        check_text(text, self.path)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(self.path)
        self.records = read_remediation(self.path)
        return self.path


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
    document, _ = parse_text(text, path, "file of exception id records")
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
