"""A starting period file from a folder of exports (``workbench init EXPORTS_DIR``).

An auditor starting with a new entity has a folder of files and no parameter file. This module
looks at every export in the folder and writes a period file to start from:

- an export one of the dedicated readers knows is recognised by *reading it* with that reader (a
  copy of its first lines, so a large file costs little); a reader that finds its columns but
  refuses a value (say, day/month dates) still recognises the file, and the refusal is written
  next to the source as a TODO;
- any other export becomes a ``kind: mapped`` source: the canonical table whose columns best match
  its header is proposed, with a ``columns:`` mapping for the headers that match, a ``TODO`` for
  each required column that none matches, and every column of the table listed in comments;
- what only the auditor knows (entity, period, people, extraction times, system scope, controls)
  is written as ``TODO`` values, which ``workbench check`` reports until they are filled in.

Nothing is guessed silently: every proposal is a comment or a TODO the auditor confirms.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from workbench import populations

__all__ = ["EXPORT_SUFFIXES", "ExportGuess", "TODO", "guess_export", "scaffold_period",
           "write_period_file"]

#: The marker of a value only the auditor can give; ``workbench check`` reports every one left.
TODO = "TODO"

#: File suffixes looked at (anything else in the folder is listed as skipped).
EXPORT_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".parquet", ".ndjson", ".json")

_PROBE_LINES = 400

#: Words that, in a header, usually mean a canonical column (beyond its own name).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "employee_id": ("employee id", "employee number", "employee #", "worker id", "person id",
                    "emp id", "badge", "personnel number", "employee no"),
    "full_name": ("name", "full name", "display name", "worker", "employee name", "preferred name"),
    "email": ("email", "e mail", "work email", "email address", "mail", "user email"),
    "department": ("department", "dept", "division", "organization", "supervisory organization"),
    "title": ("title", "job title", "position", "business title"),
    "manager_employee_id": ("manager id", "manager employee id", "reports to id", "supervisor id"),
    "hire_date": ("hire date", "start date", "original hire date", "date of hire"),
    "termination_date": ("termination date", "end date", "term date", "leave date",
                         "separation date"),
    "status": ("status", "employment status", "worker status", "state", "account status"),
    "account_id": ("account", "account id", "user id", "username", "user name", "login", "uname",
                   "user"),
    "login": ("login", "username", "user name", "sam account name", "user principal name"),
    "entitlement": ("entitlement", "role", "group", "permission", "access", "agr name",
                    "access profile", "privilege"),
    "granted_at": ("granted", "assigned", "from date", "valid from", "assignment date",
                   "created"),
    "last_login_at": ("last login", "last sign in", "last logon", "last activity", "last used"),
    "created_at": ("created", "creation date", "date created"),
    "decision": ("decision", "action", "certification decision", "response", "outcome"),
    "decided_at": ("decision date", "decided", "signed", "completed", "reviewed on",
                   "action date"),
    "reviewer_email": ("reviewer email", "certifier email", "reviewer", "certifier", "approver"),
    "reviewer_name": ("reviewer name", "certifier name", "reviewer", "certifier"),
    "subject_email": ("identity email", "user email", "subject email", "reviewed user email"),
    "subject_name": ("identity", "identity name", "user name", "reviewed user"),
    "campaign_id": ("campaign", "campaign id", "certification campaign", "review id", "name"),
    "activated_at": ("start", "started", "activated", "launch date", "date of activation"),
    "completed_at": ("finish", "finished", "completed", "completed date", "closed"),
    "deadline": ("deadline", "due date", "end"),
    "total_items": ("cases", "total items", "items", "total"),
    "decisions_made": ("decisions made", "decided", "completed items"),
    "signed_off_by": ("signed off by", "sign off by"),
    "signed_off_at": ("signed off", "signed off date", "sign off date"),
    "ticket": ("ticket", "number", "issue key", "key", "request number", "ticket id"),
    "requested_for": ("requested for", "beneficiary", "user", "reporter"),
    "approver": ("approver", "approved by", "approver email"),
    "approved_at": ("approved", "approval date", "approved on", "approved at"),
    "opened_at": ("opened", "created", "sys created on", "created date"),
    "action": ("action", "request type", "type", "operation"),
    "account": ("account", "account / username", "username", "user id", "login"),
    "approved_by": ("approved by", "approver", "authorised by"),
    "approved_on": ("approval date", "approved on", "date approved"),
    "expires_on": ("expiry date", "expires", "review due", "valid until"),
    "rule_id": ("risk id", "rule id", "rule", "risk"),
    "risk_level": ("risk rating", "risk level", "rating", "severity"),
    "mitigation_id": ("control id", "mitigation id", "mitigating control id"),
    "valid_from": ("valid from", "start date", "from"),
    "valid_to": ("valid to", "end date", "to", "expiry date"),
    "permission": ("transaction", "t code", "tcode", "permission", "object", "low"),
    "role": ("role", "agr name", "role name"),
}


@dataclass
class ExportGuess:
    """What the folder scan made of one file."""

    path: Path
    kind: str | None = None               # a dedicated kind that reads it, or "mapped"
    also: list[str] = field(default_factory=list)  # other kinds that read it too
    problem: str | None = None            # what the reader refused (options needed)
    table: str | None = None              # for mapped: the proposed canonical table
    columns: dict[str, str] = field(default_factory=dict)   # canonical -> header (mapped)
    missing: list[str] = field(default_factory=list)        # required columns with no header
    header: list[str] = field(default_factory=list)
    options: dict[str, object] = field(default_factory=dict)  # reader options proposed


# --------------------------------------------------------------------------------------------
# Recognising one export
# --------------------------------------------------------------------------------------------


def _probe_copy(path: Path, folder: Path) -> Path:
    """A copy of the file's first lines (whole file when it is not line-oriented text)."""
    target = folder / path.name
    if path.suffix.lower() in (".xlsx", ".parquet", ".json"):
        shutil.copyfile(path, target)
        return target
    with open(path, "rb") as source, open(target, "wb") as copy:
        for number, line in enumerate(source):
            if number > _PROBE_LINES:
                break
            copy.write(line)
    return target


_DELIMITERS = (",", ";", "\t", "|")


def _header_of(path: Path) -> tuple[list[str], dict[str, object]]:
    """The column names of an export no dedicated reader knows, and the reader options its
    first lines call for (delimiter, a preamble above the header)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names), {}
    if suffix == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:  # the sheet whose header names the most columns (a README sheet often comes first)
            found = []
            for position, sheet in enumerate(book.worksheets, start=1):
                rows = [["" if c is None else str(c).strip() for c in row]
                        for row in sheet.iter_rows(max_row=20, values_only=True)]
                header, options = _best_header(rows, {} if position == 1
                                               else {"sheet": sheet.title})
                found.append((len(header), -position, header, options))
        finally:
            book.close()
        best = max(found, default=(0, 0, [], {}))
        return best[2], best[3]
    import csv

    text = path.read_bytes()[:65536].decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.splitlines()[:20]
    best: tuple[int, str] | None = None
    for delimiter in _DELIMITERS:
        rows = list(csv.reader(lines, delimiter=delimiter))
        widest = max((sum(1 for c in row if c.strip()) for row in rows), default=0)
        if widest > 1 and (best is None or widest > best[0]):
            best = (widest, delimiter)
    if best is None:
        return [], {}
    delimiter = best[1]
    options: dict[str, object] = {}
    if delimiter != ",":
        options["delimiter"] = "\t" if delimiter == "\t" else delimiter
    return _best_header([[c.strip() for c in row]
                         for row in csv.reader(lines, delimiter=delimiter)], options)


def _best_header(rows: list[list[str]], options: dict[str, object]
                 ) -> tuple[list[str], dict[str, object]]:
    """The header among the first rows: the first with the most named cells (a report title or
    a blank line above it becomes ``preamble_lines``)."""
    widest = max((sum(1 for c in row if c) for row in rows), default=0)
    for index, row in enumerate(rows):
        if widest > 1 and sum(1 for c in row if c) == widest:
            if index:
                options = {**options, "preamble_lines": index}
            while row and not row[-1]:
                row = row[:-1]
            return row, options
    return [], options


def guess_export(path: Path) -> ExportGuess:
    """Recognise one export: the dedicated reader that reads it, else a mapped table proposal."""
    guess = ExportGuess(path)
    with tempfile.TemporaryDirectory(prefix="workbench-init-") as tmp:
        probe = _probe_copy(path, Path(tmp))
        readers: list[str] = []
        problems: dict[str, str] = {}
        for kind in populations.READERS:
            if kind == "mapped":
                continue
            try:
                populations.load_source(kind, probe, system=_system_id(path))
            except populations.PopulationError as exc:
                if exc.column is not None:  # its columns are there; a value needs an option
                    readers.append(kind)
                    problems[kind] = str(exc)
                continue
            except (ValueError, OSError):
                continue
            readers.append(kind)
        clean = [k for k in readers if k not in problems]
        chosen = (clean or readers)[:1]
        if chosen:
            guess.kind = chosen[0]
            guess.also = [k for k in readers if k != guess.kind]
            guess.problem = problems.get(guess.kind)
            return guess
        guess.header, guess.options = _header_of(probe)
    guess.kind = "mapped"
    guess.table, guess.columns, guess.missing = propose_mapping(guess.header)
    return guess


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z#]+", " ", text.casefold()).split())


def _score(header: str, column: str) -> float:
    """How well a header names a canonical column (0 to 1)."""
    name = _normal(header)
    words = {_normal(column.replace("_", " ")), *SYNONYMS.get(column, ())}
    if name in words:
        return 1.0
    return max(difflib.SequenceMatcher(None, name, w).ratio() for w in words)


def propose_mapping(header: Sequence[str]) -> tuple[str, dict[str, str], list[str]]:
    """The canonical table a header best fits, the proposed ``columns:`` and what is unmatched.

    Each mappable column takes the header that names it best (0.8 or better, each header used
    once); the table with the most required columns matched (then the most columns) wins.
    """
    best: tuple[tuple[int, int], str, dict[str, str], list[str]] | None = None
    for table, spec in populations.MAPPED_TABLES.items():
        taken: set[str] = set()
        columns: dict[str, str] = {}
        for column in (*spec["required"], *spec["optional"]):
            scored = sorted((-_score(h, column), position, h)
                            for position, h in enumerate(header) if h not in taken)
            if scored and -scored[0][0] >= 0.8:  # the best match; the leftmost on a tie
                columns[column] = scored[0][2]
                taken.add(scored[0][2])
        missing = [c for c in spec["required"] if c not in columns]
        matched = len(spec["required"]) - len(missing)
        rank = (2 * matched + (len(columns) - matched) - 2 * len(missing), len(columns))
        if best is None or rank > best[0]:
            best = (rank, table, columns, missing)
    assert best is not None
    if not best[2]:
        return TODO, {}, []
    return best[1], best[2], best[3]


#: The system a dedicated export kind comes from (several files of one system share its id).
KIND_SYSTEMS = {"okta_users": "okta", "okta_app_assignments": "okta", "okta_system_log": "okta",
                "aws_iam_credential_report": "aws", "aws_iam_group_memberships": "aws",
                "github_org_members": "github", "entra_users": "entra_id",
                "google_workspace_users": "google_workspace",
                "ledgerline_erp_user_roles": "ledgerline_erp"}
#: Kinds whose rows name their systems themselves (or none): no ``system:`` is declared.
_NO_SYSTEM = ("workday_workers", "campaign_decisions", "campaign_status",
              "servicenow_access_requests", "sod_rules", "privileged_access_approved",
              "sod_mitigations")


def _system_of(guess: ExportGuess) -> str | None:
    """The system id proposed for an export's rows, or None when its rows name no one system."""
    if guess.kind == "mapped":
        return _system_id(guess.path) if guess.table in ("accounts", "grants") else None
    if guess.kind in _NO_SYSTEM:
        return None
    return KIND_SYSTEMS.get(guess.kind or "", _system_id(guess.path))


#: Tables whose rows need a system: a mapped source of one of them declares it (or maps a column).
_SYSTEM_REQUIRED = ("sod_rules", "privileged_approvals", "role_permissions")


def _system_id(path: Path) -> str:
    """A system id proposed from the file name (the auditor confirms it)."""
    stem = re.sub(r"[^0-9a-z]+", "_", path.stem.casefold()).strip("_")
    return stem or "system"


# --------------------------------------------------------------------------------------------
# The period file
# --------------------------------------------------------------------------------------------


def _q(value: str) -> str:
    """A YAML scalar for any text (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def _mtime(path: Path) -> str:
    stamp = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def scaffold_period(exports: Path, parameter_file: Path, guesses: Iterable[ExportGuess],
                    *, entity: str | None = None, period: str | None = None) -> str:
    """The text of a starting period file for ``guesses`` (paths relative to the file)."""
    guesses = list(guesses)
    out: list[str] = [
        "# Period parameters written by `workbench init` from the exports in "
        f"{exports}.",
        "# Fill in every TODO (workbench check lists those left), confirm each proposal, then",
        "# add the controls to test. `workbench tables` describes the canonical tables.",
        "",
        f"entity: {_q(entity) if entity else _q(TODO + ': the entity under audit')}",
        "period:",
        f"  id: {_q(period) if period else _q(TODO + ': e.g. 2026-Q4')}",
        f"  start: {_q(TODO + ': first day, YYYY-MM-DD')}",
        f"  end: {_q(TODO + ': last day, YYYY-MM-DD')}",
        f"preparer: {_q(TODO + ': name, role')}",
        f"reviewer: {_q(TODO + ': name, role')}",
        "# Seed of every sample selection: record it before fieldwork and never change it.",
        f"seed: {_q(TODO + ': a whole number, e.g. from a die roll or a random table')}",
        "",
        "systems:",
    ]
    systems = sorted({system for g in guesses if (system := _system_of(g)) is not None})
    for system in systems:
        out += [f"  - id: {system}",
                f"    name: {_q(TODO + ': the system as people call it')}",
                "    # Scope: set what applies (both default to false).",
                "    sox_financially_significant: false",
                "    soc2_in_boundary: false",
                *SYSTEM_SETTINGS_COMMENT]
    if not systems:
        out.append(f"  - id: {_q(TODO + ': system id')}")
        out.append(f"    name: {_q(TODO)}")
    out += ["", "sources:"]
    base = parameter_file.resolve().parent
    used_ids: list[str] = []
    for guess in guesses:
        out += _source_lines(guess, base, used_ids)
    out += ["", "controls:"]
    out += _control_lines(guesses, used_ids, systems)
    return "\n".join(out) + "\n"


#: The optional per-system settings, written as comments under each system by ``workbench init``.
SYSTEM_SETTINGS_COMMENT = (
    "    # Optional, the entity's own settings (uncomment what applies):",
    "    # privileged_entitlements: [\"System Administrator\"]  # matched ignoring case; absent: the built-in list",
    "    # service_accounts: [\"svc-*\"]  # glob patterns of non-person accounts (ignoring case); default svc-*",
    "    # owners: [owner@example.com]  # the system owner(s)",
    "    # reviewers: [reviewer@example.com]  # the designated reviewer pool",
    "    # review_scope: [\"Role A\"]  # entitlements in access review scope; absent: all",
)


def _control_lines(guesses: Sequence[ExportGuess], source_ids: Sequence[str],
                   systems: Sequence[str]) -> list[str]:
    """One proposed control per procedure whose required source roles the exports can fill:
    each role names the sources of a table it accepts (a TODO where several could fill a
    one-source role). Procedures the exports cannot serve are listed in a comment."""
    from workbench import procedures

    tables = [_table_of(g) for g in guesses]
    lines: list[str] = []
    left_out: list[str] = []
    for procedure in procedures.PROCEDURES:
        roles = procedures.procedure_class(procedure).SOURCE_ROLES
        filled = {role: _candidates(role, spec.tables, guesses, source_ids, tables)
                  for role, spec in roles.items()}
        missing = [role for role, spec in roles.items() if spec.required and not filled[role]]
        if missing:
            left_out.append(f"{procedure} (no export for {', '.join(missing)})")
            continue
        lines += [f"  - id: {_CONTROL_IDS.get(procedure, procedure.upper())}",
                  f"    procedure: {procedure}",
                  f"    title: {_q(TODO + ': the control in a few words')}",
                  f"    description: {_q(TODO + ': the control as management describes it')}",
                  f"    owner: {_q(TODO + ': who owns the control')}",
                  "    frequency: quarterly   # annual, semi_annual, quarterly, monthly, weekly, "
                  "daily or multiple_daily",
                  "    frameworks:   # SOC 2 criteria and/or a SOX ITGC objective",
                  f"      soc2: [{_q(TODO + ': e.g. CC6.2')}]",
                  f"    systems: [{', '.join(systems)}]",
                  "    sources:"]
        for role, spec in roles.items():
            ids = filled[role]
            need = "required" if spec.required else "optional"
            if not ids:
                lines.append(f"      # {role}:   # {need}: {spec.meaning}; no export fills it")
            elif spec.several:
                lines.append(f"      {role}: [{', '.join(ids)}]   # {need}: {spec.meaning}")
            elif len(ids) == 1:
                lines.append(f"      {role}: {ids[0]}   # {need}: {spec.meaning}")
            else:
                lines.append(f"      {role}: {_q(TODO + ': one of ' + ', '.join(ids))}"
                             f"   # {need}: {spec.meaning}")
        lines += _settings_lines(procedure)
    if not lines:
        lines.append(f"  - id: {_q(TODO + ': no procedure can run on these exports alone')}")
    if left_out:
        lines.append("  # Not proposed: " + "; ".join(left_out) + ".")
    return lines


_KINDS_OF_VALUE = {dt.date: "a date, YYYY-MM-DD", int: "a whole number", float: "a number",
                   str: "text", bool: "true or false"}


def _settings_lines(procedure: str) -> list[str]:
    """The procedure's settings: each required one as a TODO, the others with their default in
    a comment."""
    from pydantic_core import PydanticUndefined

    from workbench import procedures

    model = procedures.settings_model(procedure)
    lines = ["    settings:"]
    for name, info in model.model_fields.items():
        what = info.description or _KINDS_OF_VALUE.get(info.annotation, "a value")
        if info.is_required():
            lines.append(f"      {name}: {_q(TODO + ': ' + what)}")
        else:
            default = info.get_default(call_default_factory=True)
            if hasattr(default, "model_dump"):
                default = default.model_dump()
            shown = "" if default is PydanticUndefined else json.dumps(default, default=str)
            lines.append(f"      # {name}: {shown}   # default")
    if not any(line.strip() and not line.strip().startswith("#") for line in lines[1:]):
        lines[0] = "    settings: {}   # every setting at its default:"
    return lines if len(lines) > 1 else []


_CONTROL_IDS = {"user_access_review": "UAR-01", "provisioning": "PROV-01",
                "termination": "TERM-01", "privileged_access": "PRIV-01",
                "segregation_of_duties": "SOD-01", "authentication": "AUTH-01",
                "change_management": "CHG-01", "operations": "OPS-01"}
#: Exports of an identity provider: they fill the ``idp_*`` roles, not the systems' listings.
_IDP_KINDS = ("okta_users", "okta_app_assignments", "entra_users", "google_workspace_users")


def _candidates(role: str, accepted: Sequence[str], guesses: Sequence[ExportGuess],
                source_ids: Sequence[str], tables: Sequence[str | None]) -> list[str]:
    """The sources that can fill a role: of a table it accepts; an ``idp_*`` role prefers the
    identity provider's exports, other roles the systems' own."""
    fitting = [(sid, g) for sid, g, table in zip(source_ids, guesses, tables) if table in accepted]
    idp = [sid for sid, g in fitting if g.kind in _IDP_KINDS]
    other = [sid for sid, g in fitting if g.kind not in _IDP_KINDS]
    if role.startswith("idp_"):
        return idp or other
    return other or idp


def _table_of(guess: ExportGuess) -> str | None:
    """The canonical table an export fills, as recognised or proposed."""
    from workbench import tables

    if guess.kind == "mapped":
        return guess.table if guess.table in tables.TABLES else None
    return next((t.name for t in tables.TABLES.values() if guess.kind in t.built_by), None)


def _source_lines(guess: ExportGuess, base: Path, used_ids: list[str]) -> list[str]:
    """The ``sources:`` entry of one export; its id is appended to ``used_ids``."""
    source_id = _system_id(guess.path)
    while source_id in used_ids:
        source_id += "_2"
    used_ids.append(source_id)
    try:
        relative = Path(guess.path).resolve().relative_to(base).as_posix()
    except ValueError:
        relative = Path(_relpath(Path(guess.path).resolve(), base)).as_posix()
    lines = [f"  - id: {source_id}",
             f"    kind: {guess.kind}"]
    if guess.also:
        lines.append(f"    # also readable as: {', '.join(guess.also)}")
    lines += [f"    path: {_q(relative)}",
              f"    source_system: {_q(TODO + ': the system and report that produced the file')}",
              f"    # The file was last modified {_mtime(guess.path)}; give the time it was "
              "extracted.",
              f"    extracted_at: {_q(TODO + ': e.g. 2026-10-01T06:00:00Z')}"]
    system = _system_of(guess)
    if system is not None:
        lines.append(f"    system: {system}")
    elif guess.kind == "mapped" and guess.table in _SYSTEM_REQUIRED and "system" not in guess.columns:
        lines.append(f"    system: {_q(TODO + ': the id (under systems:) of the system these rows belong to')}")
    if guess.problem:
        reason = " ".join(guess.problem.split())
        lines.append(f"    # The reader found its columns but refused a value: {reason}")
        lines.append(f"    # {TODO}: declare the reader option it asks for under options:.")
    if guess.kind == "mapped":
        lines += _mapping_lines(guess)
    return lines


def _relpath(path: Path, base: Path) -> str:
    import os

    return os.path.relpath(path, base)


def _mapping_lines(guess: ExportGuess) -> list[str]:
    header = ", ".join(guess.header) or "(none found)"
    options = [f"      {name}: {_q(str(value)) if isinstance(value, str) else value}"
               for name, value in guess.options.items()]
    if guess.table in (None, TODO):
        return [f"    # Not an export a dedicated reader knows, and its header matches no "
                f"canonical table. Headers in the file: {header}",
                "    options:", *options,
                f"      table: {_q(TODO + ': one of ' + ', '.join(populations.MAPPED_TABLES))}",
                f"      columns: {{}}   # {TODO}: canonical column: header (workbench tables)"]
    spec = populations.MAPPED_TABLES[guess.table]
    lines = [f"    # Not an export a dedicated reader knows: read through a column mapping onto "
             f"the canonical table '{guess.table}'",
             f"    # (workbench tables {guess.table}). Headers in the file: {header}",
             "    options:", *options,
             f"      table: {guess.table}",
             "      columns:"]
    for column in (*spec["required"], *spec["optional"]):
        need = "required" if column in spec["required"] else "optional"
        if column in guess.columns:
            lines.append(f"        {column}: {_q(guess.columns[column])}   # {need}, proposed")
        elif column in guess.missing:
            lines.append(f"        {column}: {_q(TODO + ': the header holding ' + column)}"
                         f"   # {need}: no header matched")
        else:
            lines.append(f"        # {column}:   # {need}")
    return lines


def write_period_file(exports: Path, out: Path, *, entity: str | None = None,
                      period: str | None = None) -> tuple[Path, list[ExportGuess], list[Path]]:
    """Scan ``exports``, write the starting period file to ``out`` (never over an existing
    file) and return it with the guesses and the files skipped."""
    if not exports.is_dir():
        raise ValueError(f"{exports} is not a folder of exports")
    if out.exists():
        raise ValueError(f"{out} already exists; choose another file with --out (nothing was "
                         "written)")
    files = sorted(p for p in exports.rglob("*") if p.is_file() and not p.name.startswith("."))
    exports_found = [p for p in files if p.suffix.lower() in EXPORT_SUFFIXES]
    skipped = [p for p in files if p not in exports_found]
    if not exports_found:
        raise ValueError(f"no exports in {exports} (looked for {', '.join(EXPORT_SUFFIXES)})")
    guesses = [guess_export(p) for p in exports_found]
    text = scaffold_period(exports, out, guesses, entity=entity, period=period)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(out)
    return out, guesses, skipped


def describe(guesses: Sequence[ExportGuess], mapping: Mapping[str, str] | None = None) -> str:
    """One line per export for the command's output."""
    lines = []
    for g in guesses:
        if g.kind == "mapped":
            todo = f"; {len(g.missing)} required column(s) to map" if g.missing else ""
            lines.append(f"  {g.path.name}: not a known export; proposed as table '{g.table}' "
                         f"({len(g.columns)} column(s) matched{todo})")
        else:
            note = "; a reader option is needed (see the TODO)" if g.problem else ""
            lines.append(f"  {g.path.name}: recognised as {g.kind}{note}")
    return "\n".join(lines)
