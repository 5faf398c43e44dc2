"""Any other export through a column mapping declared in the period's YAML -> one of the
canonical tables in :data:`MAPPED_TABLES`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..arrowtext import _fold
from ..context import ReadContext
from ..contract import (
    _STATES,
    ACCOUNT_COLUMNS,
    ACCOUNT_STATUSES,
    DATE_DTYPE,
    GRANT_COLUMNS,
    IDENTITY_COLUMNS,
    NO_INFORMATION,
    REQUEST_COLUMNS,
    REVIEW_DECISION_COLUMNS,
    USED,
)
from ..errors import PopulationError, _did_you_mean
from ..evidence import Population
from ..frames import _constant, _frame, _nat, _privileged
from ..options import _MAPPED_OPTIONS, COMMON_OPTIONS, _bad_option
from ..source import _Source
from .tickets import _SERVICENOW_APPROVAL


@dataclass(frozen=True)
class _Mappable:
    """A canonical column a mapping may fill: its kind, whether it must be mapped, choices."""

    kind: str  # text, key, system, date, timestamp, last_login, boolean, flag, integer, choice
    required: bool = False
    choices: tuple[str, ...] = ()
    empty: str | None = None  # canonical value of an empty choice (None: empty is NA)
    allow_empty: bool = False


_IDENTITY_STATUSES = ("active", "terminated", "on_leave")
_DECISIONS = ("approve", "revoke", "undecided")
_ACTIONS = ("grant", "revoke")

_MAPPED: dict[str, dict[str, _Mappable]] = {
    "identities": {
        "employee_id": _Mappable("text", True), "full_name": _Mappable("text"),
        "email": _Mappable("key", True), "department": _Mappable("text"),
        "title": _Mappable("text"), "manager_employee_id": _Mappable("text"),
        "cost_center": _Mappable("text"), "hire_date": _Mappable("date"),
        "status": _Mappable("choice", True, _IDENTITY_STATUSES),
        "termination_date": _Mappable("date"), "last_day_of_work": _Mappable("date"),
        "termination_reason": _Mappable("text"), "eligible_for_rehire": _Mappable("boolean"),
    },
    "accounts": {
        "system": _Mappable("system"), "account_id": _Mappable("text", True),
        "login": _Mappable("key"), "email": _Mappable("key"), "employee_id": _Mappable("text"),
        "display_name": _Mappable("text"),
        "status": _Mappable("choice", True, ACCOUNT_STATUSES),
        "created_at": _Mappable("timestamp"), "last_login_at": _Mappable("last_login"),
        "status_changed_at": _Mappable("timestamp"), "mfa_enabled": _Mappable("boolean"),
        "password_enabled": _Mappable("boolean"), "is_root": _Mappable("flag"),
    },
    "grants": {
        "system": _Mappable("system"), "account_id": _Mappable("text", True),
        "login": _Mappable("key"), "email": _Mappable("key"),
        "entitlement": _Mappable("text", True), "entitlement_type": _Mappable("text"),
        "privileged": _Mappable("flag"), "granted_at": _Mappable("timestamp"),
        "removed_at": _Mappable("timestamp"),
        "account_status": _Mappable("choice", False, ACCOUNT_STATUSES, allow_empty=True),
    },
    "review_decisions": {
        "campaign_id": _Mappable("text", True), "campaign_name": _Mappable("text"),
        "certification_id": _Mappable("text"), "reviewer_name": _Mappable("text"),
        "reviewer_email": _Mappable("key"), "subject_name": _Mappable("text"),
        "subject_email": _Mappable("key", True), "system": _Mappable("system"),
        "application": _Mappable("text"), "access_type": _Mappable("text"),
        "entitlement": _Mappable("text", True), "privileged": _Mappable("flag"),
        "decision": _Mappable("choice", True, _DECISIONS, empty="undecided"),
        "decided_at": _Mappable("timestamp"), "comments": _Mappable("text"),
    },
    "requests": {
        "ticket": _Mappable("text", True), "requested_for": _Mappable("key", True),
        "opened_by": _Mappable("key"), "item": _Mappable("text"), "system": _Mappable("system"),
        "application": _Mappable("text"), "entitlement": _Mappable("text"),
        "action": _Mappable("choice", True, _ACTIONS),
        "approval": _Mappable("choice", False, tuple(dict.fromkeys(
            _SERVICENOW_APPROVAL.values())), allow_empty=True),
        "approver": _Mappable("key"), "approved_at": _Mappable("timestamp"),
        "opened_at": _Mappable("timestamp"), "closed_at": _Mappable("timestamp"),
        "state": _Mappable("text"),
    },
}

#: Canonical tables the ``mapped`` reader builds: table -> {"required": ..., "optional": ...}
#: canonical columns that ``options.columns`` may map (``*_original`` and state columns follow
#: from them).
MAPPED_TABLES: dict[str, dict[str, tuple[str, ...]]] = {
    table: {"required": tuple(c for c, m in spec.items() if m.required),
            "optional": tuple(c for c, m in spec.items() if not m.required)}
    for table, spec in _MAPPED.items()
}

_MAPPED_COLUMNS = {
    "identities": IDENTITY_COLUMNS, "accounts": (*ACCOUNT_COLUMNS, "line"),
    "grants": (*GRANT_COLUMNS, "line"), "review_decisions": REVIEW_DECISION_COLUMNS,
    "requests": REQUEST_COLUMNS,
}
_MAPPED_KEYS = {
    "identities": ("employee_id",), "accounts": ("system", "account_id"),
    "grants": ("system", "account_id", "entitlement", "granted_at"),
    "review_decisions": ("campaign_id", "subject_email", "system", "entitlement"),
    "requests": ("ticket",),
}
_MAPPED_TOTALS = {
    "identities": {"status": "status"},
    "accounts": {"status": "status", "last login": "last_login_state"},
    "grants": {"system": "system", "privileged": "privileged"},
    "review_decisions": {"decision": "decision", "system": "system"},
    "requests": {"action": "action", "approval": "approval"},
}
_MAPPED_DROP_DUPLICATES = {"grants", "review_decisions"}
_TIMESTAMP_EXAMPLE = "2026-07-14T09:12:33Z"


@dataclass(frozen=True)
class _Mapping:
    table: str
    columns: dict[str, str]
    values: dict[str, dict[str, Any]]


def _mapped_spec(file: str, extra: Mapping[str, Any]) -> _Mapping:
    """Validate ``table``, ``columns`` and ``values``; every message names the option key."""
    tables = ", ".join(_MAPPED)
    table = extra.get("table")
    if table is None:
        raise PopulationError(file, f"reader option 'table' is required for kind 'mapped': the "
                                    f"canonical table to build, one of {tables}.")
    if table not in _MAPPED:
        raise _bad_option(file, "table", f"one of {tables}", table)
    spec = _MAPPED[table]
    columns = extra.get("columns")
    if not isinstance(columns, Mapping) or not columns:
        raise PopulationError(file, "reader option 'columns' is required for kind 'mapped': a "
                                    "mapping of canonical column -> source column header, e.g. "
                                    "{account_id: 'User Name', status: 'State'}.")
    for name, source in columns.items():
        if name not in spec:
            hint = _did_you_mean(name, spec)
            raise PopulationError(
                file, f"options.columns.{name}: {name!r} is not a column of table '{table}'."
                      f"{hint} Mappable columns: {', '.join(spec)}.")
        if not isinstance(source, str) or not source.strip():
            raise PopulationError(file, f"options.columns.{name} must be the source column's "
                                        f"header as text; found {source!r}.")
    missing = [c for c, m in spec.items() if m.required and c not in columns]
    if missing:
        raise PopulationError(
            file, f"options.columns must map the required column(s) "
                  f"{', '.join(repr(m) for m in missing)} of table '{table}'; mapped: "
                  f"{', '.join(columns)}.")
    values = extra.get("values") or {}
    if not isinstance(values, Mapping):
        raise PopulationError(file, "reader option 'values' must map canonical columns to "
                                    f"{{source value: canonical value}}; found {values!r}.")
    checked: dict[str, dict[str, Any]] = {}
    for name, table_values in values.items():
        if name not in columns:
            raise PopulationError(file, f"options.values.{name}: the column {name!r} is not "
                                        "mapped in options.columns.")
        if not isinstance(table_values, Mapping):
            raise PopulationError(file, f"options.values.{name} must be a mapping "
                                        f"{{source value: canonical value}}; found "
                                        f"{table_values!r}.")
        checked[name] = {}
        for source, canonical in table_values.items():
            if isinstance(source, bool) or source is None:
                raise PopulationError(
                    file, f"options.values.{name}: the source value {source!r} was read by YAML "
                          "as a boolean or null; quote it (e.g. 'Yes', 'N', 'null').")
            checked[name][str(source)] = _check_value(file, table, name, spec[name], source,
                                                      canonical)
    return _Mapping(str(table), {k: v.strip() for k, v in columns.items()}, checked)


def _check_value(file: str, table: str, name: str, spec: _Mappable, source: Any,
                 canonical: Any) -> Any:
    where = f"options.values.{name} maps {str(source)!r} to {canonical!r}"
    if spec.kind == "choice":
        if canonical not in spec.choices:
            raise PopulationError(file, f"{where}, which is not a {name} of table '{table}'; use "
                                        f"one of {', '.join(spec.choices)}.")
    elif spec.kind in ("boolean", "flag"):
        if canonical is not None and not isinstance(canonical, bool):
            raise PopulationError(file, f"{where}; use true, false or null.")
    elif spec.kind in ("date", "timestamp", "last_login"):
        if canonical is not None and canonical not in _STATES:
            raise PopulationError(file, f"{where}; map a sentinel to null (read as empty) or to "
                                        f"a state: {', '.join(_STATES)}.")
    elif spec.kind == "integer":
        raise PopulationError(file, f"options.values.{name}: values cannot be mapped for this "
                                    "column.")
    elif canonical is not None and not isinstance(canonical, str):
        raise PopulationError(file, f"{where}; use text or null.")
    return canonical


def read_mapped(ctx: ReadContext) -> Population:
    """Any other CSV, .xlsx or Parquet export through a column mapping declared in the period's
    YAML -> one of the canonical tables (see :data:`MAPPED_TABLES`).

    Options (besides :data:`COMMON_OPTIONS`): ``table`` (``identities``, ``accounts``,
    ``grants``, ``review_decisions`` or ``requests``), ``columns`` (canonical column -> source
    header; the table's required columns must be mapped) and ``values`` (canonical column ->
    ``{source value: canonical value}``: status spellings, boolean tokens, display names to
    system ids, sentinels of timestamps to states or null). Enumerated columns accept the
    canonical values themselves (ignoring case) plus the mapped ones; anything else is an error
    naming the line. Unmapped columns are empty, except: ``system`` (the source's ``system``, or
    from a mapped ``application`` through ``display_names``; accounts and grants need one),
    ``login`` (the casefolded ``account_id``), ``privileged`` (the privileged-entitlement list),
    ``is_root`` (false) and ``last_login_state`` (``no_information``). Grants and review
    decisions drop exact duplicate lines (listed in the evidence).
    """
    kind = "mapped"
    file = ctx.file
    system = ctx.system
    opts = ctx.reader_options(kind, {**COMMON_OPTIONS, **_MAPPED_OPTIONS})
    mapping = _mapped_spec(file, opts.extra)
    table, columns, values = mapping.table, mapping.columns, mapping.values
    spec = _MAPPED[table]
    sources = list(dict.fromkeys(columns.values()))
    labels = {}
    for name, source in columns.items():
        labels.setdefault(source, f"{source!r} (named by options.columns.{name})")
    src = _Source(kind, ctx, options=opts, required=sources, labels=labels)
    n = src.n
    out: dict[str, pd.Series] = {}
    notes = src.notes
    privileged_table = ctx.privileged_table

    def convert(name: str) -> pd.Series:
        rule = spec[name]
        source = columns[name]
        mapped = values.get(name, {})
        if rule.kind in ("text", "system"):
            return src.text(source, mapped)
        if rule.kind == "key":
            out[f"{name}_original"] = src.text(source)
            return src.folded(source, mapped)
        if rule.kind == "choice":
            out[f"{name}_original"] = src.text(source)
            lookup: dict[str, str | None] = {c: c for c in rule.choices}
            lookup.update(mapped)
            return src.choice(source, lookup, empty=rule.empty, allow_empty=rule.allow_empty,
                              hint=f"Map the source's spelling to a canonical {name} with "
                                   f"options.values.{name}.")
        if rule.kind in ("boolean", "flag"):
            result = src.boolean(source, allow_empty=rule.kind == "boolean", tokens=mapped)
            return result.astype(bool) if rule.kind == "flag" else result
        if rule.kind == "integer":
            return src.integer(source)
        if rule.kind == "date":
            return src.date(source, sentinels=[k for k in mapped if k])
        tokens = {k: (v or NO_INFORMATION) for k, v in mapped.items() if k}
        if rule.kind == "last_login":
            stamps, state = src.timestamp_state(
                source, example=_TIMESTAMP_EXAMPLE, sentinels=tokens,
                empty_state=mapped.get("") or NO_INFORMATION, value_state=USED)
            out["last_login_state"] = state
            return stamps
        return src.timestamp(source, example=_TIMESTAMP_EXAMPLE, sentinels=list(tokens))

    for name in spec:
        if name in columns:
            out[name] = convert(name)
    # defaults for what is not mapped
    if "system" in spec and "system" not in out:
        if system is not None:
            out["system"] = _constant(system, n, "string")
        elif "application" in out and ctx.display_names:
            out["system"] = src.systems(columns["application"], ctx.display_names)
        elif table in ("accounts", "grants"):
            raise PopulationError(
                src.file, f"table '{table}' needs a system id: map options.columns.system, or "
                          "declare the source's system.")
        else:
            out["system"] = _constant(pd.NA, n, "string")
            notes.append("No system mapped or declared: system is empty.")
    if "login" in spec and "login" not in out:
        out["login_original"] = out["account_id"]
        out["login"] = _fold(out["account_id"])
        notes.append(f"login is the casefolded account_id ('{columns['account_id']}'): no login "
                     "column is mapped.")
    if "privileged" in spec and "privileged" not in out:
        out["privileged"] = _privileged(out["system"], out["entitlement"], privileged_table)
        if system is not None and system not in privileged_table:
            notes.append(f"No privileged-entitlement list for system '{system}': no grant is "
                         "flagged privileged.")
        else:
            notes.append("privileged is derived from the privileged-entitlement list: no "
                         "privileged column is mapped.")
    if "is_root" in spec and "is_root" not in out:
        out["is_root"] = _constant(False, n, "bool")
    if table == "accounts" and "last_login_state" not in out:
        out["last_login_state"] = _constant(NO_INFORMATION, n, "string")
    frame = _frame({name: out[name] if name in out else _empty_like(table, name, n)
                    for name in _MAPPED_COLUMNS[table] if name != "line"}, src.lines)
    return src.population(
        table, frame, key=_MAPPED_KEYS[table], totals=_MAPPED_TOTALS[table],
        default_source_system=f"mapped file ({table})",
        duplicates="drop" if table in _MAPPED_DROP_DUPLICATES else "keep")


def _empty_like(table: str, name: str, n: int) -> pd.Series:
    """An empty column of the canonical dtype (for columns the mapping does not fill)."""
    base = name.removesuffix("_original")
    rule = _MAPPED[table].get(base)
    kind = rule.kind if rule is not None and base == name else "text"
    if kind in ("timestamp", "last_login"):
        return _nat(n)
    if kind == "date":
        return pd.Series(pd.NaT, index=range(n), dtype=DATE_DTYPE)
    if kind == "boolean":
        return _constant(pd.NA, n, "boolean")
    if kind == "flag":
        return _constant(False, n, "bool")
    if kind == "integer":
        return pd.Series(pd.NA, index=range(n), dtype="Int64")
    return _constant(pd.NA, n, "string")
