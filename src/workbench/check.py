"""``workbench check``: everything a run would use, checked before anything runs, every problem at once.

A run that stops on the first mistake makes the auditor fix one line, run again, and find the
next. The check instead walks the whole period file in layers and keeps going whatever an earlier
layer found, so a bad control never hides a bad source:

a. the file: YAML syntax, keys given twice in one mapping (PyYAML silently keeps the last), and
   the limits of :mod:`workbench.yamlfile` (size, nesting, aliases), read as a run reads it;
b. the schema, piece by piece: the top-level keys, ``period``, each system, source and control
   (the pydantic models of :mod:`workbench.parameters`, with their messages);
c. references: a source's system, a control's systems and sources point at ids that exist;
d. files: every source's export exists and is a regular file (relative to the period file's folder),
   within the period's ``max_export_size``, and does not start with NUL bytes or as UTF-16 without a
   byte-order mark (:func:`workbench.inputfiles.screen_export`, as a run screens it before copying);
e. exports: each source's kind and reader options are known, and its reader reads the file
   against its real headers, exactly as the run reads it (:func:`procedures.base.read_source`);
f. procedures: each control's procedure exists and its settings validate;
g. source roles: each role a control fills is one its procedure reads, every required role is
   filled, a single-source role gets one source, and each source's canonical table fits its role;

plus the auditors' record files beside the period (remediation, deficiency evaluations), which a
run merges. Every problem is a :class:`Problem`: file, YAML line, key path, a message in the
auditor's words and, where a name was misspelt, the closest known name. The check writes nothing.
"""

from __future__ import annotations

import csv
import difflib
import os
import re
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from workbench import populations, procedures
from workbench import tables as canonical_tables
from workbench.inputfiles import (
    DEFAULT_MAX_EXPORT_BYTES,
    InputFileError,
    file_type_problem,
    parse_size,
    screen_export,
)
from workbench.parameters import (
    Control,
    ParameterError,
    PeriodParameters,
    Source,
    System,
    _absolute,
    _describe,
    _format_location,
    _is_plain_json,
    _key_lines,
)
from workbench.procedures.base import SourceRole, read_source
from workbench.yamlfile import YamlFileError, duplicate_keys, parse_text, read_text

Loc = tuple[Any, ...]

#: The canonical table each dedicated export kind builds (``mapped`` builds its ``options.table``),
#: from the tables' declarations (``workbench.tables``, ``built_by``).
#: Used for the source-role check when a source could not be read; a test holds it equal to the
#: ``.table`` every reader really produces.
KIND_TABLES: dict[str, str] = {
    kind: spec.name for spec in canonical_tables.TABLES.values() for kind in spec.built_by if kind != "mapped"}

PERIOD_GROUP = "Period file"
RECORDS_GROUP = "Auditors' record files beside the period"
LISTS = {"systems": System, "sources": Source, "controls": Control}


@dataclass(frozen=True)
class Problem:
    """One thing in the period (or its exports) that would stop or mislead a run."""

    file: str
    line: int | None
    key: str
    message: str
    did_you_mean: str | None = None
    group: str = PERIOD_GROUP

    def text(self) -> str:
        """The problem in one line: line, key path, message and the suggestion."""
        where = f"line {self.line}, " if self.line else ""
        return where + self.statement()

    def statement(self) -> str:
        """Key path, message and suggestion, without the line."""
        key = f"{self.key}: " if self.key else ""
        if not self.did_you_mean:
            return f"{key}{self.message}"
        message = self.message.removesuffix(" (check the spelling)").rstrip(".")
        return f"{key}{message}; did you mean '{self.did_you_mean}'?"


@dataclass
class CheckReport:
    """The result of checking a period file: its problems (empty when it is ready to run)."""

    parameter_file: Path
    problems: list[Problem]
    sources: int = 0
    controls: int = 0
    parameters: PeriodParameters | None = None
    tables: dict[str, str] = field(default_factory=dict)  # source id -> canonical table
    # control id -> {optional role not given: what its workpaper will state as not tested}
    limitations: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def grouped(self) -> list[tuple[str, list[Problem]]]:
        """Problems by what they concern (period file, each system, source, control, records), in file order."""
        groups: dict[str, list[Problem]] = {}
        for problem in sorted(self.problems, key=_file_order):
            groups.setdefault(problem.group, []).append(problem)
        return list(groups.items())

    def format(self) -> str:
        """The report as ``workbench check`` prints it."""
        if self.ok:
            ready = (f"{self.parameter_file}: ready to run: {_count(self.sources, 'source')}, "
                     f"{_count(self.controls, 'control')} (every key, export, setting and source role checked).")
            return "\n".join([ready, *self.limitation_lines()])
        lines = [f"{self.parameter_file}: {len(self.problems)} problem(s); nothing was run and nothing was written."]
        for group, problems in self.grouped():
            lines += ["", group]
            lines += [f"  {_line_label(p.line)}  {p.statement()}" for p in problems]
        lines += ["", f"{len(self.problems)} problem(s) in {self.parameter_file}. Fix them and run "
                      f"`workbench check {self.parameter_file}` again."]
        return "\n".join(lines)


    def limitation_lines(self) -> list[str]:
        """What each control will not test for want of an optional source (each workpaper states it too)."""
        if not self.limitations:
            return []
        lines = ["", "Scope limitations: optional sources not given (each workpaper states what it could not test):"]
        for control, roles in self.limitations.items():
            lines += [f"  {control}: without '{role}': {text}" for role, text in roles.items()]
        return lines


class CheckFailed(ParameterError):
    """A period file that did not pass the check; its text is the grouped report."""

    def __init__(self, report: CheckReport):
        self.path = report.parameter_file
        self.problems = [p.text() for p in report.problems]
        self.report = report
        ValueError.__init__(self, report.format())


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _line_label(line: int | None) -> str:
    return f"line {line:>4}" if line else " " * 9


def _file_order(problem: Problem) -> tuple[int, int]:
    """Period file first, then systems, sources, controls (each in file order), record files last."""
    rank = {PERIOD_GROUP: 0, RECORDS_GROUP: 9}
    prefix = problem.group.split(" ", 1)[0]
    return rank.get(problem.group, {"System": 1, "Source": 2, "Control": 3}.get(prefix, 5)), problem.line or 0


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

def closest(name: Any, choices: Iterable[str]) -> str | None:
    """The known name closest to a misspelt one (difflib), or None when none is close."""
    matches = difflib.get_close_matches(str(name), list(choices), n=1)
    return matches[0] if matches else None


def _line(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The YAML line of a key path, or of its nearest enclosing key when the key itself is absent."""
    return next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)


def _find_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside a type annotation (``Model``, ``Model | None``, ``list[Model]``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        model = _find_model(argument)
        if model is not None:
            return model
    return None


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model whose keys apply at ``loc`` inside ``model`` (list positions are stepped over)."""
    annotation: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        current = _find_model(annotation)
        if current is None or part not in current.model_fields:
            return None
        annotation = current.model_fields[part].annotation
    return _find_model(annotation)


def _validate(adapter_type: Any, value: Any) -> list[dict[str, Any]]:
    """Pydantic errors of ``value`` against a model or annotated type (empty when valid)."""
    try:
        if isinstance(adapter_type, type) and issubclass(adapter_type, BaseModel):
            adapter_type.model_validate(value)
        else:
            TypeAdapter(adapter_type).validate_python(value)
    except ValidationError as exc:
        return list(exc.errors())
    return []


def _field_type(model: type[BaseModel], name: str) -> Any:
    """A model field's annotation with its constraints, to validate that one field on its own."""
    info = model.model_fields[name]
    return Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation


def _document_has(document: Any, loc: Loc) -> bool:
    """Whether the parsed document has a value at ``loc``."""
    node = document
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return False
    return True


# --------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------

class _Checker:
    """Collects the problems of one period file, layer by layer."""

    def __init__(self, parameter_file: Path):
        self.path = Path(parameter_file)
        self.file = str(parameter_file)
        self.problems: list[Problem] = []
        self.lines: dict[Loc, int] = {}
        self.document: dict[str, Any] = {}
        self.systems: dict[int, System] = {}
        self.sources: dict[int, Source] = {}
        self.controls: dict[int, Control] = {}
        self.source_paths: dict[int, Path] = {}
        self.tables: dict[str, str] = {}
        self.limitations: dict[str, dict[str, str]] = {}
        self.not_plain: set[Loc] = set()
        self.duplicate_ids: set[str] = set()
        self.todos: set[Loc] = set()

    # --- recording ------------------------------------------------------------------------------
    def add(self, loc: Loc, message: str, did_you_mean: str | None = None, line: int | None = None) -> None:
        """Record a problem at a key path (its line looked up unless given). A key still holding a
        TODO is reported once, as a TODO, not again as the wrong value it is."""
        if not message.startswith(TODO_MESSAGE) and (
                tuple(loc) in self.todos or any(todo[:-1] == tuple(loc) for todo in self.todos)):
            return  # the TODO itself is reported (a list holding a TODO is not wrong twice)
        self.problems.append(Problem(self.file, line or _line(self.lines, loc), _format_location(loc) if loc else "",
                                     message, did_you_mean, self.group_of(loc)))

    def group_of(self, loc: Loc) -> str:
        """Which heading a key path is reported under: the system, source or control it belongs to."""
        if len(loc) >= 2 and loc[0] in LISTS and isinstance(loc[1], int):
            items = self.document.get(loc[0])
            item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
            ident = item.get("id") if isinstance(item, dict) else None
            noun = {"systems": "System", "sources": "Source", "controls": "Control"}[loc[0]]
            return f"{noun} {ident} ({loc[0]}[{loc[1]}])" if isinstance(ident, str) else f"{noun} {loc[0]}[{loc[1]}]"
        return PERIOD_GROUP

    def items(self, name: str) -> list[tuple[int, dict[str, Any]]]:
        """The mapping items of a top-level list (``systems``, ``sources``, ``controls``), with their index."""
        value = self.document.get(name)
        return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)] if isinstance(value, list) else []

    def ids(self, name: str) -> list[str]:
        """The ids declared in a top-level list, in file order."""
        return [item["id"] for _, item in self.items(name) if isinstance(item.get("id"), str)]

    def pydantic_problems(self, errors: list[dict[str, Any]], prefix: Loc, model: type[BaseModel] | None,
                          what: str = "key") -> None:
        """Turn pydantic errors under ``prefix`` into problems, with did-you-mean for unknown keys.

        A misspelt key's suggestion that names a missing required key stands for both: the
        "missing" problem is not repeated. Union alternatives (``str`` / ``list[str]``) that pydantic
        reports separately are merged into one problem per key.
        """
        suggested: set[Loc] = set()
        found: list[tuple[Loc, str, str | None, str]] = []
        for error in errors:
            loc = prefix + tuple(error["loc"])
            kind = error["type"]
            if kind == "extra_forbidden":
                known = _model_at(model, tuple(error["loc"])[:-1]) if model is not None else None
                hint = closest(loc[-1], known.model_fields) if known is not None else None
                if hint is not None:
                    suggested.add(loc[:-1] + (hint,))
                message = f"is not a known {what} (check the spelling)"
            elif kind == "missing":
                hint, message = None, "is required but missing"
            else:
                while len(loc) > len(prefix) and not _document_has(self.document, loc):
                    loc = loc[:-1]  # drop pydantic's union-member labels such as 'str' or 'list[str]'
                hint, message = None, _describe(error)
            found.append((loc, message, hint, kind))
        merged: dict[Loc, list[Any]] = {}
        for loc, message, hint, kind in found:
            if kind == "missing" and loc in suggested:
                continue
            if loc in merged and kind not in ("extra_forbidden", "missing"):
                if message not in merged[loc][0]:
                    merged[loc][0] += f"; or {message}"
                continue
            merged[loc] = [message, hint]
        for loc, (message, hint) in merged.items():
            if any(loc[:n] in self.not_plain for n in range(len(loc) + 1)):
                continue  # already reported as not plain YAML
            if len(loc) == 4 and loc[0] == "controls" and loc[2] == "sources" and "; or " in message:
                message = "must name a source id, or a list of source ids"  # pydantic's two union alternatives
            self.add(loc, message, hint)

    # --- a. the file ----------------------------------------------------------------------------
    def parse(self) -> bool:
        """Read and compose the YAML; False when nothing further can be checked."""
        try:  # the period file's type, size, nesting and aliases checked as a run checks them
            document, root = parse_text(read_text(self.path, "period file"), self.path, "period file",
                                        refuse_duplicates=False)
        except YamlFileError as exc:
            for problem in exc.problems:
                line, _, message = problem.partition(": ") if problem.startswith("line ") else ("", "", problem)
                self.add((), message, line=int(line.removeprefix("line ")) if line else None)
            return False
        if root is not None:
            self.lines = _key_lines(root)
            self.duplicate_keys(root)
        if not isinstance(document, dict):
            self.add((), "the file must be a YAML mapping of keys (entity, period, systems, sources, controls, ...)")
            return False
        self.document = document
        for loc, value in _todo_values(document):  # left by workbench init for the auditor
            self.todos.add(loc)
            self.add(loc, f"{TODO_MESSAGE}: {value}")
        self.not_plain = set(_not_plain(document))
        for loc in sorted(self.not_plain, key=str):
            self.add(loc, "must be plain text, a number, a date, a list or a mapping with text keys (no YAML "
                          "tags; quote a key that YAML would read as a number, date or true/false)")
        return True

    def duplicate_keys(self, node: yaml.Node) -> None:
        """Keys given twice in one mapping: YAML keeps the last silently, so the first would be ignored."""
        for duplicate in duplicate_keys(node):
            self.add(duplicate.loc, f"is given twice in the same mapping (lines {duplicate.first_line} and "
                                    f"{duplicate.line}); YAML keeps only the last, so line {duplicate.first_line} "
                                    "would be silently ignored. Keep one.", line=duplicate.line)

    # --- b. the schema --------------------------------------------------------------------------
    def schema(self) -> None:
        """Top-level keys, then ``period`` and each system, source and control on its own."""
        fields = PeriodParameters.model_fields
        for key in self.document:
            if key not in fields:
                self.add((key,), "is not a known key of a period file (check the spelling)", closest(key, fields))
        suggested = {closest(key, fields) for key in self.document if key not in fields}
        for name, info in fields.items():
            if name not in self.document:
                if info.is_required() and name not in suggested:
                    self.add((name,), "is required but missing")
                continue
            value = self.document[name]
            if name in LISTS:
                self.schema_list(name, value)
            else:
                self.pydantic_problems(_validate(_field_type(PeriodParameters, name), value), (name,),
                                       _find_model(info.annotation))

    def schema_list(self, name: str, value: Any) -> None:
        """A list of systems, sources or controls: each item validated with its model."""
        model = LISTS[name]
        if not isinstance(value, list):
            self.add((name,), f"must be a list of {name} (each item starting with '- id: ...')")
            return
        if name == "controls" and not value:
            self.add((name,), "lists no control: a period tests at least one control")
        valid = {"systems": self.systems, "sources": self.sources, "controls": self.controls}[name]
        for index, item in enumerate(value):
            errors = _validate(model, item)
            if errors:
                self.pydantic_problems(errors, (name, index), model)
            else:
                valid[index] = model.model_validate(item)

    # --- c. references --------------------------------------------------------------------------
    def references(self) -> None:
        """Duplicate ids; a source's system, a control's systems and sources that do not exist."""
        for name in LISTS:
            seen: dict[str, int] = {}
            for index, item in self.items(name):
                ident = item.get("id")
                if not isinstance(ident, str):
                    continue
                line = _line(self.lines, (name, index, "id"))
                if ident in seen:
                    self.duplicate_ids.add(ident)
                    self.add((name, index, "id"), f"'{ident}' is already the id of another of the {name} "
                                                  f"(line {seen[ident]}); ids must be unique")
                else:
                    seen[ident] = line or 0
        systems, sources = self.ids("systems"), self.ids("sources")
        for index, item in self.items("sources"):
            system = item.get("system")
            if isinstance(system, str) and system not in systems:
                self.add(("sources", index, "system"), f"names the system '{system}', which is not among the "
                                                      f"period's systems ({', '.join(systems) or 'none'})",
                         closest(system, systems))
        for index, item in self.items("controls"):
            named = item.get("systems")
            for position, system in enumerate(named if isinstance(named, list) else []):
                if isinstance(system, str) and system not in systems:
                    self.add(("controls", index, "systems", position),
                             f"names the system '{system}', which is not among the period's systems "
                             f"({', '.join(systems) or 'none'})", closest(system, systems))
            roles = item.get("sources")
            for role, ref in (roles.items() if isinstance(roles, dict) else []):
                for loc, source_id in _role_refs(("controls", index, "sources", role), ref):
                    if isinstance(source_id, str) and source_id not in sources:
                        self.add(loc, f"names the source '{source_id}', which is not among the period's sources",
                                 closest(source_id, sources))

    # --- d. files -------------------------------------------------------------------------------
    def files(self) -> None:
        """Every source's export exists and is a file (paths relative to the period file's folder)."""
        base = self.path.resolve().parent
        for index, item in self.items("sources"):
            given = item.get("path")
            if not isinstance(given, str) or not given.strip():
                continue
            resolved, written = _absolute(base / given), _absolute_as_written(base / given)
            problem = file_type_problem(written)  # follows links, and names a dangling link as such
            if problem == "does not exist":
                self.add(("sources", index, "path"), f"the export file does not exist: {resolved} "
                                                     f"(relative paths start from {base})")
            elif problem is not None:  # named as written: a link's target may be /dev/null or itself
                self.add(("sources", index, "path"), f"{written} {problem}".replace("is a folder, not a file",
                                                                                     "is a folder, not an export file"))
            elif (problem := self.export_problem(item, resolved)) is not None:
                self.add(("sources", index, "path"), problem)
            else:
                self.source_paths[index] = resolved

    def export_problem(self, item: dict[str, Any], path: Path) -> str | None:
        """Why a regular export file cannot be used (size limit, NUL bytes, UTF-16 without a mark), else None."""
        options = item.get("options") if isinstance(item.get("options"), dict) else {}
        try:
            limit = parse_size(self.document.get("max_export_size", DEFAULT_MAX_EXPORT_BYTES))
        except ValueError:
            limit = DEFAULT_MAX_EXPORT_BYTES  # reported by the schema layer
        try:
            screen_export(path, limit, options.get("encoding"))
        except InputFileError as exc:
            return f"{path}: {exc.reason.removeprefix('the source export ')}"
        return None

    # --- e. exports -----------------------------------------------------------------------------
    def exports(self) -> None:
        """Each source's kind and reader options, then its reader on its file, as the run reads it."""
        systems = [self.systems[i] for i in sorted(self.systems)]
        for index, item in self.items("sources"):
            kind, options = item.get("kind"), item.get("options")
            ident = item.get("id")
            if not isinstance(kind, str):
                continue
            if kind not in populations.READERS:
                hint = closest(kind, populations.READERS)
                self.add(("sources", index, "kind"), f"'{kind}' is not an export kind the workbench reads"
                         + ("" if hint else f" (kinds: {', '.join(sorted(populations.READERS))})"), hint)
                continue
            options_ok = self.reader_options(index, kind, options)
            table = self.declared_table(kind, options)
            plain = not any(loc[:2] == ("sources", index) for loc in self.not_plain)  # else reported already
            if options_ok and plain and index in self.sources and index in self.source_paths:
                population = self.read(index, self.sources[index], systems)
                if population is not None:
                    table = population.table
            if isinstance(ident, str) and table is not None:
                self.tables[ident] = table

    def reader_options(self, index: int, kind: str, options: Any) -> bool:
        """Options the reader of ``kind`` knows (did you mean), and a mapped source's table; True when usable."""
        if not isinstance(options, dict):
            return options is None  # a non-mapping ``options`` is already a schema problem
        allowed = populations.READER_OPTIONS[kind]
        ok = True
        for name in options:
            if name not in allowed:
                hint = closest(name, allowed)
                self.add(("sources", index, "options", name),
                         f"is not a reader option of export kind '{kind}'"
                         + ("" if hint else f" (its options: {', '.join(allowed)})"), hint)
                ok = False
        table = options.get("table")
        if kind == "mapped" and table is not None and table not in populations.MAPPED_TABLES:
            tables = ", ".join(populations.MAPPED_TABLES)
            self.add(("sources", index, "options", "table"),
                     f"'{table}' is not a canonical table a mapped export can fill ({tables})",
                     closest(table, populations.MAPPED_TABLES))
            ok = False
        return ok

    @staticmethod
    def declared_table(kind: str, options: Any) -> str | None:
        """The canonical table a source fills, from its kind (a mapped source: its ``options.table``)."""
        if kind == "mapped":
            table = options.get("table") if isinstance(options, dict) else None
            return table if table in populations.MAPPED_TABLES else None
        return KIND_TABLES.get(kind)

    def read(self, index: int, source: Source, systems: list[System]) -> populations.Population | None:
        """Read the export as a control would; a reader's refusal becomes problems at the source's line."""
        try:
            return read_source(source, self.source_paths[index], systems)
        except populations.PopulationError as exc:
            if source.kind == "mapped" and self.mapped_headers(index, source, str(exc)):
                return None
            self.add(self.reader_location(index, str(exc)), f"the export cannot be read: {exc}")
        except (ValueError, OSError, KeyError) as exc:  # e.g. an unknown time zone, an unreadable file
            self.add(self.reader_location(index, str(exc)), f"the export cannot be read: {exc}")
        return None

    def reader_location(self, index: int, message: str) -> Loc:
        """The key a reader's message points at (``options.columns.x``, ``reader option 'y'``), else the source."""
        base: Loc = ("sources", index)
        match = re.search(r"options\.(columns|values|derive|null_tokens|formats)\.([^:]+?)(?::|\s(?:is|must)\b)",
                          message)
        if match and (base + ("options", match[1], match[2].strip())) in self.lines:
            return base + ("options", match[1], match[2].strip())
        match = re.search(r"options\.(skip_rows|derive|null_tokens|formats|columns|values)\b", message)
        if match and (base + ("options", match[1])) in self.lines:
            return base + ("options", match[1])
        match = re.search(r"reader option '(\w+)'", message)
        if match and (base + ("options", match[1])) in self.lines:
            return base + ("options", match[1])
        if "time zone" in message and (base + ("timezone",)) in self.lines:
            return base + ("timezone",)
        return base

    def mapped_headers(self, index: int, source: Source, message: str) -> bool:
        """A mapped column naming a header the file lacks: one problem per column, with the closest real header.

        The reader names the missing headers but suggests none, so the header row is read here.
        Returns False (the reader's own message stands) when no mapped column is missing.
        """
        columns = source.options.get("columns")
        headers = export_headers(self.source_paths[index], source.options)
        if not isinstance(columns, dict) or headers is None:
            return False
        derived = source.options.get("derive")
        present = {_normalise(h) for h in [*headers, *(derived if isinstance(derived, dict) else ())]}
        missing = [(name, header) for name, header in columns.items()
                   if isinstance(header, str) and _normalise(header) not in present]
        for name, header in missing:
            hint = closest(header, headers) or next((h for h in headers if _normalise(h) == _normalise(header)), None)
            self.add(("sources", index, "options", "columns", name),
                     f"the export has no column '{header}'. The reader says: {message}", hint)
        return bool(missing)

    # --- f. procedures and settings -------------------------------------------------------------
    def procedures(self) -> None:
        """Each control's procedure exists; its settings validate against the procedure's settings model."""
        for index, item in self.items("controls"):
            procedure = item.get("procedure")
            if not isinstance(procedure, str):
                continue
            if procedure not in procedures.PROCEDURES:
                hint = closest(procedure, procedures.PROCEDURES)
                self.add(("controls", index, "procedure"), f"'{procedure}' is not a procedure of the workbench"
                         + ("" if hint else f" (procedures: {', '.join(procedures.PROCEDURES)})"), hint)
                continue
            settings = item.get("settings", {})
            if settings is None or not isinstance(settings, dict):
                continue  # a schema problem already
            model = procedures.settings_model(procedure)
            self.pydantic_problems(_validate(model, settings), ("controls", index, "settings"), model,
                                   what=f"setting of procedure {procedure}")

    # --- g. source roles ------------------------------------------------------------------------
    def roles(self) -> None:
        """Each control's roles against what its procedure reads: known, filled, one or several, right table."""
        kinds = {item.get("id"): item.get("kind") for _, item in self.items("sources")}
        for index, item in self.items("controls"):
            procedure, given = item.get("procedure"), item.get("sources")
            if procedure not in procedures.PROCEDURES or not isinstance(given, dict):
                continue
            declared = procedures.procedure_class(procedure).SOURCE_ROLES
            where: Loc = ("controls", index, "sources")
            suggested = set()
            for role, ref in given.items():
                if role not in declared:
                    hint = closest(role, declared)
                    suggested.add(hint)
                    self.add(where + (role,), f"is not a source role of procedure {procedure} (its roles: "
                                              f"{', '.join(declared)})", hint)
                    continue
                self.role_sources(where + (role,), declared[role], role, ref, kinds)
            settings = item.get("settings") if isinstance(item.get("settings"), dict) else {}
            for role, spec in declared.items():
                if role in given or role in suggested:
                    continue
                if spec.required:
                    self.add(where, f"has no source for the role '{role}', which procedure {procedure} needs: "
                                    f"{spec.meaning}")
                elif spec.required_with and settings.get(spec.required_with) is not None:
                    self.add(where, f"has no source for the role '{role}', which procedure {procedure} reads "
                                    f"because settings.{spec.required_with} is given: {spec.meaning}")
                elif spec.limitation:
                    self.limitations.setdefault(str(item.get("id")), {})[role] = spec.limitation

    def role_sources(self, loc: Loc, spec: SourceRole, role: str, ref: Any,
                     kinds: dict[Any, Any]) -> None:
        """One role's sources: one where the role takes one, and each of a table the role accepts."""
        refs = _role_refs(loc, ref)
        if not spec.several and len(refs) > 1:
            self.add(loc, f"the role '{role}' takes one source ({spec.meaning}); {len(refs)} are given and the "
                          "procedure would read only the first")
        fitting = [s for s, t in self.tables.items() if t in spec.tables]
        for ref_loc, source_id in refs:
            if source_id in self.duplicate_ids:
                continue  # which source is meant is ambiguous; the duplicate id is reported
            table = self.tables.get(source_id) if isinstance(source_id, str) else None
            if table is None or table in spec.tables:
                continue
            wanted = " or ".join(spec.tables)
            hint = closest(source_id, fitting) or (fitting[0] if len(fitting) == 1 else None)
            self.add(ref_loc, f"the source '{source_id}' (kind {kinds.get(source_id)}) fills the {table} table, but "
                              f"the role '{role}' takes {wanted} ({spec.meaning})", hint)

    # --- the auditors' record files ---------------------------------------------------------------
    def records(self) -> None:
        """Remediation records, deficiency evaluations and IPE acceptances beside the period file,
        which a run merges."""
        from workbench import runner
        from workbench.deficiencies import read_inputs
        from workbench.exceptions import read_remediation
        from workbench.ipe import RECORD_KIND, read_acceptances

        files = runner.auditor_record_files(self.path)
        for reader, path in ((read_remediation, files["remediation"]), (read_inputs, files["deficiencies"]),
                             (read_acceptances, files[RECORD_KIND])):
            try:
                reader(path)
            except ValueError as exc:
                for message in _split_listing(str(exc)):
                    self.problems.append(Problem(str(path), None, "", message, None, RECORDS_GROUP))

    # --- all layers -----------------------------------------------------------------------------
    def run(self) -> CheckReport:
        """Every layer, whatever the earlier ones found; then a last guard against ``load_period``."""
        if self.parse():
            for layer in (self.schema, self.references, self.files, self.exports, self.procedures, self.roles):
                layer()
        self.records()
        parameters = None
        if not self.problems:  # what load_period does after parsing: a rule missed above never passes as ready
            try:
                parameters = PeriodParameters.model_validate(self.document)
            except ValidationError as exc:
                for error in exc.errors():
                    self.add(tuple(error["loc"]), _describe(error))
        return CheckReport(self.path, self.problems, len(self.items("sources")), len(self.items("controls")),
                           parameters, dict(self.tables), dict(self.limitations))


TODO_MESSAGE = "still to fill in (TODO)"


def _absolute_as_written(path: Path) -> Path:
    """``path`` made absolute without following links (``..`` removed), to name it as the period file does."""
    return Path(os.path.abspath(path))


def _todo_values(value: Any, loc: Loc = ()) -> list[tuple[Loc, str]]:
    """Key paths whose value is text starting with TODO (what ``workbench init`` leaves)."""
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _todo_values(item, loc + (key,))]
    if isinstance(value, list):
        return [found for i, item in enumerate(value) for found in _todo_values(item, loc + (i,))]
    if isinstance(value, str) and value.lstrip().upper().startswith("TODO"):
        return [(loc, value.strip()[4:].lstrip(" :-") or "(no hint)")]
    return []


def _role_refs(loc: Loc, ref: Any) -> list[tuple[Loc, Any]]:
    """The source ids a role names, each with its own key path (``role`` or ``role[i]``)."""
    if isinstance(ref, list):
        return [(loc + (i,), source_id) for i, source_id in enumerate(ref)]
    return [(loc, ref)]


def _not_plain(value: Any, loc: Loc = ()) -> list[Loc]:
    """Key paths of values that are not plain YAML (tags, sets, non-text keys)."""
    if isinstance(value, dict):
        found: list[Loc] = []
        for key, item in value.items():
            if isinstance(key, str):
                found += _not_plain(item, loc + (key,))
            else:  # a key YAML reads as a number, date or boolean, not as text
                found.append(loc + (str(key),))
        return found
    if isinstance(value, list):
        return [bad for i, v in enumerate(value) for bad in _not_plain(v, loc + (i,))]
    return [] if _is_plain_json(value) else [loc]


def _split_listing(message: str) -> list[str]:
    """A record file's "N problem(s):" listing as one message per problem."""
    lines = message.splitlines()
    items = [line.strip().removeprefix("- ") for line in lines[1:] if line.strip().startswith("- ")]
    return items or [message]


def _normalise(header: str) -> str:
    """How readers match a header: casefolded, inner whitespace collapsed."""
    return " ".join(str(header).split()).casefold()


_DELIMITERS = {",": ",", ";": ";", "\t": "\t", "tab": "\t", "\\t": "\t", "|": "|"}


def export_headers(path: Path, options: dict[str, Any]) -> list[str] | None:
    """The header row of an export (CSV, .xlsx or Parquet) as the reader's options describe it; None if unreadable.

    Only for suggestions: the reader remains the judge of the file.
    """
    try:
        suffix = path.suffix.casefold()
        preamble = int(options.get("preamble_lines") or 0)
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        if suffix == ".xlsx":
            import openpyxl

            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
            try:
                sheet = options.get("sheet")
                worksheet = (book.worksheets[sheet - 1] if isinstance(sheet, int) else book[sheet] if sheet
                             else book.worksheets[0])
                rows = worksheet.iter_rows(values_only=True)
                for _ in range(preamble):
                    next(rows)
                return [str(cell) for cell in next(rows) if cell is not None]
            finally:
                book.close()
        encoding = options.get("encoding") or "utf-8-sig"
        with open(path, encoding=encoding, newline="") as handle:
            for _ in range(preamble):
                handle.readline()
            header = handle.readline().rstrip("\r\n")
        declared = str(options.get("delimiter", "\t" if suffix == ".tsv" else ","))
        delimiter = _DELIMITERS.get(declared.casefold(), None)
        if delimiter is None:  # 'auto': the separator the header line uses most
            delimiter = max((",", ";", "\t", "|"), key=header.count)
        return next(csv.reader([header], delimiter=delimiter))
    except Exception:  # noqa: BLE001 - a suggestion is optional; the reader's message stands without it
        return None


def check_period(parameter_file: str | Path) -> CheckReport:
    """Check a period file and everything a run of it would use; every problem at once, nothing written."""
    return _Checker(Path(parameter_file)).run()
