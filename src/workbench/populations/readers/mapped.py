"""Any other export through a column mapping declared in the period's YAML -> one of the
canonical tables in :data:`MAPPED_TABLES`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ... import tables as canonical
from ..arrowtext import _fold
from ..context import ReadContext
from ..contract import _STATES, DATE_DTYPE, NO_INFORMATION, USED
from ..errors import PopulationError, _did_you_mean
from ..evidence import Population
from ..frames import _constant, _frame, _nat, _privileged
from ..options import _MAPPED_OPTIONS, COMMON_OPTIONS, _bad_option, _Options
from ..source import _Source
from ..transform import DEFAULT_VALUE


@dataclass(frozen=True)
class _Mappable:
    """A canonical column a mapping may fill: its kind, whether it must be mapped, choices."""

    kind: str  # text, key, system, date, timestamp, last_login, boolean, flag, integer, choice,
    #            list
    required: bool = False
    choices: tuple[str, ...] = ()
    empty: str | None = None  # canonical value of an empty choice (None: empty is NA)
    allow_empty: bool = False


def _mappable(table: str) -> dict[str, _Mappable]:
    """The columns a mapping may fill for ``table``, from its declaration in workbench.tables."""
    spec = canonical.table(table)
    return {m.column: _Mappable(m.kind, m.required, spec.column(m.column).values, m.empty,
                                m.allow_empty) for m in spec.mappable}


_MAPPED: dict[str, dict[str, _Mappable]] = {
    name: _mappable(name) for name, spec in canonical.TABLES.items() if spec.mappable}

#: Canonical tables the ``mapped`` reader builds: table -> {"required": ..., "optional": ...}
#: canonical columns that ``options.columns`` may map (``*_original`` and state columns follow
#: from them).
MAPPED_TABLES: dict[str, dict[str, tuple[str, ...]]] = canonical.mapped_tables()

#: Extra columns a mapped table carries after its declared ones (the logins as exported).
_MAPPED_EXTRAS = {"events": ("actor_login_original", "target_login_original")}

_MAPPED_COLUMNS = {
    name: (*canonical.columns_of(name), *_MAPPED_EXTRAS.get(name, ()),
           *(("line",) if canonical.table(name).extra_columns else ()))
    for name in _MAPPED}
_MAPPED_KEYS = {name: canonical.table(name).key for name in _MAPPED}
_MAPPED_TOTALS = {
    "identities": {"status": "status"},
    "accounts": {"status": "status", "last login": "last_login_state"},
    "grants": {"system": "system", "privileged": "privileged"},
    "review_decisions": {"decision": "decision", "system": "system"},
    "campaigns": {"status": "status"},
    "requests": {"action": "action", "approval": "approval"},
    "sod_rules": {"system": "system", "risk level": "risk_level"},
    "sod_mitigations": {"rule": "rule_id"},
    "privileged_approvals": {"system": "system"},
    "events": {"event type": "event_type", "outcome": "outcome_result"},
    "role_permissions": {"system": "system", "permission type": "permission_type"},
    "identity_aliases": {"system": "system"},
    "access_baseline": {"attribute": "attribute", "system": "system"},
    "remediation_log": {"system": "system", "action": "action"},
    "code_changes": {"system": "system", "target branch": "target_branch"},
    "code_reviews": {"state": "state"},
    "deployments": {"system": "system", "environment": "environment", "status": "status"},
    "change_tickets": {"type": "type", "approval": "approval", "system": "system"},
    "job_runs": {"system": "system", "job type": "job_type", "result": "result"},
    "incidents": {"priority": "priority", "system": "system"},
}
_MAPPED_DROP_DUPLICATES = {"grants", "review_decisions"}
_TIMESTAMP_EXAMPLE = "2026-07-14T09:12:33Z"


@dataclass(frozen=True)
class _Mapping:
    table: str
    columns: dict[str, str]
    values: dict[str, dict[str, Any]]


def _mapped_spec(file: str, extra: Mapping[str, Any], *, system_declared: bool = False
                 ) -> _Mapping:
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
    missing = [c for c, m in spec.items() if m.required and c not in columns
               and not (c == "system" and system_declared)]
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
        for source, target in table_values.items():
            if isinstance(source, bool) or source is None:
                raise PopulationError(
                    file, f"options.values.{name}: the source value {source!r} was read by YAML "
                          "as a boolean or null; quote it (e.g. 'Yes', 'N', 'null').")
            checked[name][str(source)] = _check_value(file, table, name, spec[name], source,
                                                      target)
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
        if str(source) == DEFAULT_VALUE:
            raise PopulationError(file, f"options.values.{name}: '*' (any other value) cannot "
                                        "be mapped for a date or timestamp column; map each "
                                        "sentinel, or declare its format under formats.")
        if canonical is not None and canonical not in _STATES:
            raise PopulationError(file, f"{where}; map a sentinel to null (read as empty) or to "
                                        f"a state: {', '.join(_STATES)}.")
    elif spec.kind in ("integer", "list"):
        raise PopulationError(file, f"options.values.{name}: values cannot be mapped for this "
                                    "column (use options.derive to compute it).")
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
    mapping = _mapped_spec(file, _with_derived(opts), system_declared=system is not None)
    table, columns, values = mapping.table, mapping.columns, mapping.values
    spec = _MAPPED[table]
    if opts.column_formats:  # a format may name the canonical column or the file's header
        opts = dataclasses.replace(opts, column_formats={
            columns.get(k, k): v for k, v in opts.column_formats.items()})
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
        keep = rule.choices if rule.kind == "choice" else (
            ("true", "false") if rule.kind in ("boolean", "flag") else ())
        mapped = _spelled(src, source, values.get(name, {}), keep)
        if name in values:
            src.disclosure.mapped.append((name, *_map_counts(src, source, values[name], keep)))
        if rule.kind == "list":
            return _split_list(src.raw(source))
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

    # the mapping itself is disclosed with the other declarations (how the export became the
    # table): each header read as a canonical column, then each value map's counts
    src.disclosure.renamed += [(name, source) for name, source in columns.items()
                               if name != source]
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
        declared = [note for s in sorted(set(out["system"].dropna())) if (note := ctx.privileged_note(s))]
        if declared:
            notes.extend(declared)
        elif system is not None and system not in privileged_table:
            notes.append(f"No privileged-entitlement list for system '{system}': no grant is "
                         "flagged privileged.")
        else:
            notes.append("privileged is derived from the privileged-entitlement list: no "
                         "privileged column is mapped.")
    if "is_root" in spec and "is_root" not in out:
        out["is_root"] = _constant(False, n, "bool")
    if table == "accounts" and "last_login_state" not in out:
        out["last_login_state"] = _constant(NO_INFORMATION, n, "string")
    if table == "remediation_log":  # one spelling of each action, as the table declares it
        out["action"] = out["action"].str.strip().str.lower()
        if "account" not in out and "person" not in out:
            raise PopulationError(src.file, "table 'remediation_log' needs whose access changed: map "
                                            "options.columns.account or options.columns.person.")
        nobody = (out.get("account", _constant(pd.NA, n, "string")).isna()
                  & out.get("person", _constant(pd.NA, n, "string")).isna()).to_numpy(dtype=bool)
        if nobody.any():
            src.fail(columns["account"] if "account" in columns else columns["person"], nobody,
                     "an account or a person")
    if table == "campaigns" and "status" in out:  # as the campaign status reader gives it
        out["status_original"] = out["status"]
        out["status"] = out["status"].str.lower()
    _require_values(src, table, columns, out)
    if table == "sod_mitigations" and "valid_to" in out:
        backwards = (out["valid_to"].notna() & (out["valid_to"] < out["valid_from"])).to_numpy(
            dtype=bool)
        if backwards.any():
            src.fail(columns["valid_to"], backwards, "a date on or after valid_from")
    frame = _frame({name: out[name] if name in out else _empty_like(table, name, n)
                    for name in _MAPPED_COLUMNS[table] if name != "line"}, src.lines)
    problems = canonical.validate_frame(table, frame)
    if problems:  # a mapping that builds a table its declaration refuses: never passed on
        raise PopulationError(src.file, f"the mapped table does not meet its declaration "
                                        f"(workbench tables {table}): {problems[0]}")
    return src.population(
        table, frame, key=_MAPPED_KEYS[table], totals=_MAPPED_TOTALS[table],
        default_source_system=f"mapped file ({table})",
        duplicates="drop" if table in _MAPPED_DROP_DUPLICATES else "keep")


def _with_derived(opts: _Options) -> dict[str, Any]:
    """The mapped reader's options with every derived column named like a canonical column
    mapped to itself (``derive: {status: ...}`` fills ``status`` without a ``columns`` entry)."""
    extra = dict(opts.extra)
    table = extra.get("table")
    declared = extra.get("columns")
    if table not in _MAPPED or (declared is not None and not isinstance(declared, Mapping)):
        return extra
    columns = dict(declared or {})
    for derivation in opts.transform.derive:
        if derivation.name in _MAPPED[table] and derivation.name not in columns:
            columns[derivation.name] = derivation.name
    if columns:
        extra["columns"] = columns
    return extra


def _spelled(src: _Source, source: str, mapped: Mapping[str, Any], keep: Sequence[str]
             ) -> dict[str, Any]:
    """A value map as exact spellings of the column's values: matched ignoring case and
    surrounding spaces; ``'*'`` maps any other non-empty value, except values in ``keep`` (the
    canonical values themselves, which stay as they are)."""
    if not mapped:
        return {}
    folded = {k.strip().casefold(): v for k, v in mapped.items() if k != DEFAULT_VALUE}
    has_default = DEFAULT_VALUE in mapped
    kept = {k.casefold() for k in keep}
    uniques, _ = src._distinct(source)
    exact: dict[str, Any] = {k: v for k, v in mapped.items() if k != DEFAULT_VALUE}
    for value in uniques:
        key = value.strip().casefold()
        if key in folded:
            exact[value] = folded[key]
        elif value and has_default and key not in kept:
            exact[value] = mapped[DEFAULT_VALUE]
    return exact


def _map_counts(src: _Source, source: str, mapped: Mapping[str, Any], keep: Sequence[str]
                ) -> tuple[int, int, int]:
    """How many rows a value map changed: (mapped by an entry, by the default '*', kept as
    exported), for the evidence; matched as :func:`_spelled` matches."""
    folded = {k.strip().casefold() for k in mapped if k != DEFAULT_VALUE}
    has_default = DEFAULT_VALUE in mapped
    kept_values = {k.casefold() for k in keep}
    uniques, index = src._distinct(source)
    counts = np.bincount(index, minlength=len(uniques)) if len(index) else []
    by_entry = by_default = kept = 0
    for value, count in zip(uniques, counts):
        key = value.strip().casefold()
        if key in folded:
            by_entry += int(count)
        elif value and has_default and key not in kept_values:
            by_default += int(count)
        else:
            kept += int(count)
    return by_entry, by_default, kept


def _split_list(values: np.ndarray) -> pd.Series:
    """A list column: values separated by ';', each trimmed, empty parts dropped."""
    return pd.Series([tuple(p.strip() for p in v.split(";") if p.strip()) for v in values],
                     dtype=object)


def _require_values(src: _Source, table: str, columns: Mapping[str, str],
                    out: Mapping[str, pd.Series]) -> None:
    """Every row has a value in each required column the mapping fills (its declaration says
    so); the first empty one is named by line and by the file's header."""
    spec = canonical.table(table)
    for name, source in columns.items():
        column = spec.column(name)
        if not column.required or name not in out:
            continue
        series = out[name]
        if column.type == "list":
            empty = series.map(len).eq(0).to_numpy(dtype=bool)
        else:
            empty = series.isna().to_numpy(dtype=bool)
        if empty.any():
            src.fail(source, empty, f"a value: {name} is required in table '{table}' "
                                    "(workbench tables " + table + ")")


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
    if kind == "list":
        return pd.Series([()] * n, dtype=object)
    return _constant(pd.NA, n, "string")
