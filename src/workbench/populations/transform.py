"""Declared transformations of a raw export, applied before its reader checks the contract.

An auditor rarely receives an export in the exact shape a reader expects: a header is spelt
differently, a fact is packed into one cell ("jdoe:AP Clerk"), a status column is missing and must
be read from the presence of a termination date, ``N/A`` means "empty" in one column and a state in
another. Instead of retyping files, the period's YAML declares how the file becomes the table the
reader knows, under the source's ``options:``:

- ``null_tokens``: values read as empty (``['N/A', 'null']`` for every column, or per column
  ``{Termination Date: ['00/00/0000']}``), matched ignoring case;
- ``derive``: new columns, each a DuckDB SQL *expression* over the file's columns (quoted headers,
  empty cells are NULL): a constant (``'aws_prod'``), a concatenation (``"First" || ' ' ||
  "Last"``), a split (``split_part("Access", ':', 2)``), a regular-expression extraction
  (``regexp_extract("Access", '^(\\w+)', 1)``), a column computed from another (``CASE WHEN
  "Termination Date" IS NULL THEN 'active' ELSE 'terminated' END``). Later derivations may use
  earlier ones;
- ``columns``: renames, ``{column the reader expects: header in the file, or a derived column}``;
- ``values``: value maps per column (after renaming), matched ignoring case, with ``'*'`` as the
  value for any other non-empty value;
- ``skip_rows``: a DuckDB SQL condition over the file's (and derived) columns; the rows where it
  holds are not read, and each is listed as a rejected row with the condition, so a footnote
  under a spreadsheet's table or a register's placeholder row is excluded in the open.

Expressions are evaluated by DuckDB with file-system and network access disabled and the
configuration locked, and only an expression is accepted (never a statement), so a parameter file
cannot read or write anything. An expression that does not parse or names an unknown column is an
error naming the option key; one that fails on a value (a cast that does not fit) names the source,
the derived column and the first failing row.

Everything applied is counted in a :class:`Disclosure` that the evidence shows: the renames, each
derivation with its most frequent results, the tokens read as empty and the values mapped.
"""

from __future__ import annotations

import difflib
import os
import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import PopulationError

__all__ = [
    "DEFAULT_VALUE",
    "Derivation",
    "Disclosure",
    "TRANSFORM_OPTIONS",
    "Transform",
    "TransformError",
    "ValueMap",
    "apply_transform",
    "map_values",
    "parse_transform",
]

#: The key of a value map that stands for "any other non-empty value".
DEFAULT_VALUE = "*"

#: Options every tabular source accepts to reshape its export (see the module docstring).
TRANSFORM_OPTIONS: dict[str, str] = {
    "columns": "column the reader expects -> the header in this file (or a derived column), "
               "e.g. {Employee_ID: 'Worker ID'}; for kind mapped, canonical column -> header",
    "derive": "new column -> DuckDB SQL expression over the file's columns, e.g. "
              "{full_name: \"\\\"First Name\\\" || ' ' || \\\"Last Name\\\"\"}",
    "values": "column -> {value in the file: value the reader expects}, matched ignoring case; "
              "'*' maps any other non-empty value",
    "null_tokens": "values read as empty: a list for every column (['N/A', 'null']) or "
                   "column -> list",
    "skip_rows": "a DuckDB SQL condition; rows where it holds are not read and are listed as "
                 "rejected, e.g. \"\\\"Admin Name\\\" LIKE '*%'\"",
}

_TEXT = pa.large_string()
_TOP_VALUES = 10
_CONFIG_ERRORS = ("ParserException", "BinderException", "CatalogException",
                  "NotImplementedException", "PermissionException", "SyntaxException")
_STATEMENT = re.compile(r";")


class TransformError(PopulationError):
    """A declared transformation that cannot be applied; ``key`` names the YAML option
    (``options.derive.status``), ``row`` the first failing row when a value is to blame."""

    def __init__(self, file: str, key: str, message: str, *, line: int | None = None,
                 found: Any = None, unit: str = "line") -> None:
        self.key = key
        shown = f" (values on that {unit}: {found})" if found is not None else ""
        super().__init__(file, f"{key}: {message}{shown}", row=line, unit=unit)


@dataclass(frozen=True)
class Derivation:
    """One derived column: its name and the DuckDB expression that computes it."""

    name: str
    expression: str


@dataclass(frozen=True)
class ValueMap:
    """A value map of one column: casefolded file value -> value, and the default for others."""

    column: str
    mapping: dict[str, str | None]
    default: str | None = None
    has_default: bool = False


@dataclass(frozen=True)
class Transform:
    """The validated declarations of one source (empty: the file is read as it is)."""

    null_tokens: dict[str | None, tuple[str, ...]] = field(default_factory=dict)
    derive: tuple[Derivation, ...] = ()
    rename: dict[str, str] = field(default_factory=dict)
    values: dict[str, ValueMap] = field(default_factory=dict)
    skip_rows: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.null_tokens or self.derive or self.rename or self.values
                    or self.skip_rows)


@dataclass
class Disclosure:
    """What the transformation did, for the completeness-and-accuracy evidence."""

    # header cells named by the reader option number_headers: (position, name in file, read as)
    headers: list[tuple[int, str, str]] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    derived: list[tuple[str, str, list[tuple[str, int]], int]] = field(default_factory=list)
    emptied: list[tuple[str, str, int]] = field(default_factory=list)
    mapped: list[tuple[str, int, int, int]] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    skip_condition: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.headers or self.renamed or self.derived or self.emptied or self.mapped
                    or self.skipped)

    def summary(self) -> list[str]:
        """One sentence per declaration, in the order applied (for the workpaper)."""
        lines = []
        for position, name, read_as in self.headers:
            what = f"'{name}' (repeated in the header)" if name else "(no name in the header)"
            lines.append(f"column {position} {what} read as '{read_as}'")
        for column, token, count in self.emptied:
            where = f"column '{column}'" if column else "any column"
            lines.append(f"{count:,} value(s) {token!r} in {where} read as empty")
        if self.skip_condition is not None:
            lines.append(f"{len(self.skipped):,} row(s) not read because {self.skip_condition} "
                         "(listed as rejected)")
        for name, expression, top, distinct in self.derived:
            shown = ", ".join(f"{_label(v)} {c:,}" for v, c in top)
            more = f" (+{distinct - len(top)} more values)" if distinct > len(top) else ""
            lines.append(f"'{name}' derived as {expression}: {shown}{more}")
        for expected, header in self.renamed:
            lines.append(f"'{header}' read as '{expected}'")
        for column, mapped, defaulted, kept in self.mapped:
            lines.append(f"'{column}': {mapped:,} value(s) mapped, {defaulted:,} by the default "
                         f"'*', {kept:,} kept as exported")
        return lines

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (for the run manifest)."""
        return {
            "headers": [{"position": p, "header": h, "read_as": r} for p, h, r in self.headers],
            "null_tokens": [{"column": c, "token": t, "count": n} for c, t, n in self.emptied],
            "derived": [{"column": c, "expression": e, "top_values": [[v, n] for v, n in top],
                         "distinct_values": d} for c, e, top, d in self.derived],
            "renamed": [{"column": c, "header": h} for c, h in self.renamed],
            "value_maps": [{"column": c, "mapped": m, "default": d, "kept": k}
                           for c, m, d, k in self.mapped],
            "skip_rows": ({"condition": self.skip_condition, "lines": list(self.skipped)}
                          if self.skip_condition is not None else None),
        }


def _label(value: str | None) -> str:
    return "(empty)" if value is None or value == "" else repr(value)


def _did_you_mean(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


# --------------------------------------------------------------------------------------------
# Declarations
# --------------------------------------------------------------------------------------------


def parse_transform(file: str, options: Mapping[str, Any], *, renames: bool = True
                    ) -> Transform:
    """Validate the transformation options of one source; every message names the option key.

    ``renames`` is False for ``kind: mapped``, whose ``columns`` and ``values`` its own reader
    interprets (canonical column -> header); the other options apply to every kind.
    """
    null_tokens = _parse_null_tokens(file, options.get("null_tokens"))
    derive = _parse_derive(file, options.get("derive"))
    rename: dict[str, str] = {}
    values: dict[str, ValueMap] = {}
    if renames:
        rename = _parse_columns(file, options.get("columns"))
        values = parse_value_maps(file, options.get("values"))
    skip_rows = options.get("skip_rows")
    if skip_rows is not None and (not isinstance(skip_rows, str) or not skip_rows.strip()):
        raise TransformError(file, "options.skip_rows", "must be an SQL condition as text, e.g. "
                                                        "\"\\\"Admin Name\\\" LIKE '*%'\"; found "
                                                        f"{skip_rows!r}.")
    return Transform(null_tokens=null_tokens, derive=derive, rename=rename, values=values,
                     skip_rows=skip_rows.strip() if skip_rows else None)


def _parse_null_tokens(file: str, declared: Any) -> dict[str | None, tuple[str, ...]]:
    if declared is None:
        return {}

    def tokens(value: Any, key: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(
                isinstance(v, str) and v.strip() for v in value):
            raise TransformError(file, key, "must be a list of values to read as empty, such "
                                            f"as ['N/A', 'null']; found {value!r}. Quote values "
                                            "YAML reads as null or booleans.")
        return tuple(dict.fromkeys(v.strip() for v in value))

    if isinstance(declared, Mapping):
        if not declared:
            raise TransformError(file, "options.null_tokens", "is empty")
        return {str(column): tokens(value, f"options.null_tokens.{column}")
                for column, value in declared.items()}
    return {None: tokens(declared, "options.null_tokens")}


def _parse_derive(file: str, declared: Any) -> tuple[Derivation, ...]:
    if declared is None:
        return ()
    if not isinstance(declared, Mapping) or not declared:
        raise TransformError(file, "options.derive", "must map each new column to a DuckDB SQL "
                                                     f"expression; found {declared!r}.")
    out = []
    for name, expression in declared.items():
        key = f"options.derive.{name}"
        if not isinstance(name, str) or not name.strip():
            raise TransformError(file, "options.derive", f"a derived column needs a name; found "
                                                         f"{name!r}.")
        if isinstance(expression, bool) or expression is None:
            raise TransformError(file, key, "must be an SQL expression as text; YAML read "
                                            f"{expression!r} (quote it, e.g. 'true').")
        if isinstance(expression, (int, float)):
            expression = repr(expression)
        if not isinstance(expression, str) or not expression.strip():
            raise TransformError(file, key, "must be an SQL expression as text, e.g. "
                                            "\"\\\"First Name\\\" || ' ' || \\\"Last Name\\\"\"; "
                                            f"found {expression!r}.")
        out.append(Derivation(name.strip(), expression.strip()))
    return tuple(out)


def _parse_columns(file: str, declared: Any) -> dict[str, str]:
    if declared is None:
        return {}
    if not isinstance(declared, Mapping) or not declared:
        raise TransformError(file, "options.columns", "must map each column the reader expects "
                                                      "to the header in this file, e.g. "
                                                      f"{{Employee_ID: 'Worker ID'}}; found "
                                                      f"{declared!r}.")
    out: dict[str, str] = {}
    for expected, header in declared.items():
        if not isinstance(header, str) or not header.strip():
            raise TransformError(file, f"options.columns.{expected}",
                                 f"must be the header in the file as text; found {header!r}.")
        out[str(expected).strip()] = header.strip()
    return out


def parse_value_maps(file: str, declared: Any) -> dict[str, ValueMap]:
    """``values:`` as value maps (keys casefolded; ``'*'`` is the default for other values)."""
    if declared is None:
        return {}
    if not isinstance(declared, Mapping):
        raise TransformError(file, "options.values", "must map columns to {value in the file: "
                                                     f"value}}; found {declared!r}.")
    out = {}
    for column, table in declared.items():
        key = f"options.values.{column}"
        if not isinstance(table, Mapping) or not table:
            raise TransformError(file, key, "must be a mapping {value in the file: value}; "
                                            f"found {table!r}.")
        mapping: dict[str, str | None] = {}
        default: str | None = None
        has_default = False
        for source, target in table.items():
            if isinstance(source, bool) or source is None:
                raise TransformError(file, key, f"the value {source!r} was read by YAML as a "
                                                "boolean or null; quote it (e.g. 'Yes', 'N', "
                                                "'null').")
            if target is not None and not isinstance(target, (str, bool, int, float)):
                raise TransformError(file, f"{key}.{source}", "must map to text, true, false or "
                                                              f"null; found {target!r}.")
            value = None if target is None else (
                str(target).lower() if isinstance(target, bool) else str(target))
            if str(source) == DEFAULT_VALUE:
                default, has_default = value, True
                continue
            folded = str(source).strip().casefold()
            if folded in mapping and mapping[folded] != value:
                raise TransformError(file, key, f"{source!r} is mapped twice (values are matched "
                                                "ignoring case).")
            mapping[folded] = value
        out[str(column)] = ValueMap(str(column), mapping, default, has_default)
    return out


# --------------------------------------------------------------------------------------------
# Application
# --------------------------------------------------------------------------------------------


def apply_transform(file: str, header: Sequence[str], columns: Sequence[pa.ChunkedArray],
                    lines: np.ndarray, transform: Transform, *, unit: str = "line"
                    ) -> tuple[list[str], list[pa.ChunkedArray], np.ndarray, Disclosure]:
    """The export's header, columns and line numbers after the declared transformation, and
    what it did.

    Order: empty tokens, derived columns (which see the tokens as empty), skipped rows, renames,
    value maps. Rows are never added or reordered; only ``skip_rows`` drops rows, each listed in
    the disclosure by its line.
    """
    header, columns = list(header), list(columns)
    disclosure = Disclosure()
    if transform.null_tokens:
        columns = _apply_null_tokens(file, header, columns, transform.null_tokens, disclosure)
    for derivation in transform.derive:
        if derivation.name in header:
            raise TransformError(file, f"options.derive.{derivation.name}",
                                 f"the file already has a column '{derivation.name}'; give the "
                                 "derived column another name and map it with options.columns.")
        values = _evaluate(file, header, columns, lines, derivation, unit)
        header.append(derivation.name)
        columns.append(values)
        disclosure.derived.append((derivation.name, derivation.expression,
                                   *_top_values(values)))
    if transform.skip_rows is not None:
        condition = Derivation("skip_rows", f"coalesce(({transform.skip_rows}), false)")
        hit = _evaluate(file, header, columns, lines, condition, unit, key="options.skip_rows")
        skip = np.asarray(pc.equal(hit, "true").to_numpy(zero_copy_only=False), dtype=bool)
        disclosure.skip_condition = transform.skip_rows
        disclosure.skipped = [int(line) for line in lines[skip]]
        if skip.any():
            keep = pa.array(~skip)
            columns = [_chunked(pc.filter(column, keep)) for column in columns]
            lines = lines[~skip]
    if transform.rename:
        header = _apply_rename(file, header, transform.rename, disclosure)
    for column, value_map in transform.values.items():
        if column not in header:
            raise TransformError(file, f"options.values.{column}",
                                 f"no column '{column}' (after options.columns).{_did_you_mean(column, header)} "
                                 f"Columns: {', '.join(header)}.")
        index = header.index(column)
        columns[index], counts = map_values(columns[index], value_map)
        disclosure.mapped.append((column, *counts))
    return header, columns, lines, disclosure


def _apply_null_tokens(file: str, header: list[str], columns: list[pa.ChunkedArray],
                       declared: Mapping[str | None, tuple[str, ...]], disclosure: Disclosure
                       ) -> list[pa.ChunkedArray]:
    for column in declared:
        if column is not None and column not in header:
            raise TransformError(file, f"options.null_tokens.{column}",
                                 f"no column '{column}' in the file.{_did_you_mean(column, header)}")
    out = list(columns)
    for index, name in enumerate(header):
        tokens = declared.get(name, declared.get(None))
        if not tokens or not _is_text(out[index]):
            continue
        lowered = pc.utf8_lower(pc.utf8_trim_whitespace(out[index]))
        hit = pc.is_in(lowered, value_set=pa.array([t.casefold() for t in tokens], _TEXT))
        for token in tokens:
            count = int(pc.sum(pc.equal(lowered, token.casefold())).as_py() or 0)
            if count:
                disclosure.emptied.append((name if None not in declared or name in declared
                                           else "", token, count))
        out[index] = _chunked(pc.if_else(hit, pa.scalar("", _TEXT), pc.cast(out[index], _TEXT)))
    # one line per token across columns when declared for every column
    if None in declared:
        merged: Counter[tuple[str, str]] = Counter()
        for column, token, count in disclosure.emptied:
            merged[(column, token)] += count
        disclosure.emptied = [(c, t, n) for (c, t), n in merged.items()]
    return out


def _apply_rename(file: str, header: list[str], rename: Mapping[str, str],
                  disclosure: Disclosure) -> list[str]:
    out = list(header)
    for expected, source in rename.items():
        if source not in header:
            raise TransformError(file, f"options.columns.{expected}",
                                 f"no column '{source}' in the file or among the derived "
                                 f"columns.{_did_you_mean(source, header)} Columns: "
                                 f"{', '.join(header)}.")
    targets = set(rename)
    for index, name in enumerate(header):
        if name in targets and name not in rename.values():
            out[index] = f"{name} (replaced by options.columns)"
    for expected, source in rename.items():
        out[header.index(source)] = expected
        if expected != source:
            disclosure.renamed.append((expected, source))
    return out


def map_values(column: pa.ChunkedArray, value_map: ValueMap
               ) -> tuple[pa.ChunkedArray, tuple[int, int, int]]:
    """Apply a value map to a text column: (the mapped column, (mapped, defaulted, kept)).

    Matching ignores case and surrounding spaces; empty values are mapped only by an explicit
    ``''`` entry, never by the default.
    """
    text = pc.cast(column, _TEXT)
    encoded = pc.dictionary_encode(text)
    if not encoded.num_chunks:
        return _chunked(text), (0, 0, 0)
    index = pa.chunked_array([c.indices for c in encoded.chunks], pa.int32()).to_numpy(
        zero_copy_only=False)
    uniques = encoded.chunk(0).dictionary.to_pylist()
    counts = np.bincount(index, minlength=len(uniques)) if len(index) else np.zeros(0, int)
    out: list[str | None] = []
    mapped = defaulted = kept = 0
    for value, count in zip(uniques, counts):
        folded = (value or "").strip().casefold()
        if folded in value_map.mapping:
            out.append(value_map.mapping[folded])
            mapped += int(count)
        elif folded and value_map.has_default:
            out.append(value_map.default)
            defaulted += int(count)
        else:
            out.append(value)
            kept += int(count)
    result = pc.take(pa.array([("" if v is None else v) for v in out], _TEXT), pa.array(index))
    return _chunked(result), (mapped, defaulted, kept)


# --------------------------------------------------------------------------------------------
# Derived columns through DuckDB
# --------------------------------------------------------------------------------------------


def _evaluate(file: str, header: Sequence[str], columns: Sequence[pa.ChunkedArray],
              lines: np.ndarray, derivation: Derivation, unit: str, key: str | None = None
              ) -> pa.ChunkedArray:
    """Evaluate one expression over the file's columns (empty text is NULL) as text."""
    import duckdb  # imported on first use: most runs derive nothing

    key = key or f"options.derive.{derivation.name}"
    if _STATEMENT.search(_without_literals(derivation.expression)):
        raise TransformError(file, key, "must be one SQL expression, not statements (found "
                                        "';').")
    if re.search(r"\b(select|pivot|unpivot)\b", _without_literals(derivation.expression),
                 re.IGNORECASE):
        raise TransformError(file, key, "must be an expression over the file's columns; "
                                        "subqueries (SELECT ...) are not accepted.")
    names = _unique_names(header)
    table = pa.table({name: _as_input(column) for name, column in zip(names, columns)}
                     | {"__line__": pa.array(lines.astype("int64"))})
    con = _sandbox(duckdb)
    try:
        relation = con.from_arrow(table)
        try:
            expression = duckdb.SQLExpression(derivation.expression)
        except duckdb.Error as exc:
            raise TransformError(file, key, f"not a valid SQL expression: {_first_line(exc)}") \
                from None
        try:
            selected = relation.select(
                expression.cast(duckdb.sqltype("VARCHAR")).alias("value"))
            result = selected.to_arrow_table().column("value")
        except duckdb.Error as exc:
            if type(exc).__name__ in _CONFIG_ERRORS:
                raise TransformError(file, key, _explain(exc, header)) from None
            line, found = _first_failing_row(relation, expression, table, header, duckdb)
            raise TransformError(file, key, f"the expression fails on a value: "
                                            f"{_first_line(exc)}", line=line, found=found,
                                 unit=unit) from None
    finally:
        con.close()
    return _chunked(pc.fill_null(pc.cast(result, _TEXT), ""))


#: The process's sandboxed in-memory DuckDB database, with the process id that opened it (a forked
#: process opens its own), made on the first derivation.
_SANDBOX: tuple[int, Any] | None = None
_SANDBOX_LOCK = threading.Lock()


def _sandbox(duckdb: Any) -> Any:
    """A DuckDB connection that cannot touch files or the network, with its settings locked: a cursor
    of its own on the process's one sandboxed database. The restrictions are the database's (a cursor
    cannot lift them: the configuration is locked), and an expression creates nothing in it, so one
    derivation never sees another's; opening a database costs 30-60 ms, a cursor about 1 ms."""
    global _SANDBOX
    with _SANDBOX_LOCK:
        if _SANDBOX is None or _SANDBOX[0] != os.getpid():
            con = duckdb.connect(config={"enable_external_access": False,
                                         "autoinstall_known_extensions": False,
                                         "autoload_known_extensions": False})
            con.execute("SET lock_configuration = true")
            _SANDBOX = (os.getpid(), con)
        return _SANDBOX[1].cursor()


def _first_failing_row(relation: Any, expression: Any, table: pa.Table, header: Sequence[str],
                       duckdb: Any) -> tuple[int | None, str | None]:
    """The first row on which the expression raises (binary search over row ranges)."""
    lo, hi = 0, table.num_rows
    cast = expression.cast(duckdb.sqltype("VARCHAR"))

    def fails(start: int, stop: int) -> bool:
        try:
            relation.limit(stop - start, start).select(cast).fetchall()
            return False
        except duckdb.Error:
            return True

    if not fails(lo, hi):
        return None, None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fails(lo, mid):
            hi = mid
        else:
            lo = mid
    row = table.slice(lo, 1).to_pylist()[0]
    line = int(row.pop("__line__"))
    shown = "; ".join(f"{h}={v!r}" for h, v in zip(header, row.values()) if v not in (None, ""))
    return line, shown[:400]


def _explain(exc: Exception, header: Sequence[str]) -> str:
    """DuckDB's message, plus the file's columns when a column was not found."""
    message = _first_line(exc)
    match = re.search(r'column "([^"]+)" not found', message, re.IGNORECASE)
    if match:
        hint = _did_you_mean(match.group(1), header)
        return (f"the expression names a column that is not in the file: {match.group(1)!r}."
                f"{hint} Quote headers with spaces in double quotes; the file's columns are: "
                f"{', '.join(header)}.")
    return f"the expression cannot be evaluated: {message}"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _without_literals(expression: str) -> str:
    """The expression with quoted strings and identifiers removed (to look for ';')."""
    return re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", "", expression)


def _unique_names(header: Sequence[str]) -> list[str]:
    """Headers as DuckDB column names. DuckDB matches names ignoring case, so a later column
    whose name differs from an earlier one only by case is named ``name#2`` in expressions."""
    seen: Counter[str] = Counter()
    out = []
    for name in header:
        seen[name.casefold()] += 1
        count = seen[name.casefold()]
        out.append(name if count == 1 else f"{name}#{count}")
    return out


def _as_input(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text columns with empty values as NULL (so IS NULL and coalesce work); typed as they are."""
    if not _is_text(column):
        return column
    trimmed = pc.utf8_trim_whitespace(column)
    return _chunked(pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, column.type), trimmed))


def _top_values(values: pa.ChunkedArray) -> tuple[list[tuple[str, int]], int]:
    counts = pc.value_counts(values)
    pairs = [(v["values"], v["counts"]) for v in counts.to_pylist()]
    pairs.sort(key=lambda p: (-p[1], p[0]))
    return pairs[:_TOP_VALUES], len(pairs)


def _is_text(column: pa.ChunkedArray) -> bool:
    return pa.types.is_string(column.type) or pa.types.is_large_string(column.type)


def _chunked(values: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])
