"""One export read as text and checked against its contract: :class:`_Source` finds the
contract's columns in the header, converts them column by column with messages that name the
line of any bad value, and wraps the canonical frame with its evidence. Its date and timestamp
converters are in :mod:`.timestamps`."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .arrowtext import _as_text, _chunked, _fold_arrow, _np, _null_empty, _string_series, _trim
from .context import ReadContext
from .contract import _TEXT
from .errors import DuplicateRow, PopulationError, RejectedRow, _did_you_mean, _either
from .evidence import Population, _population, _repeated_mask
from .files import _RawTable
from .formats import _load_table
from .options import _Options
from .timestamps import _check_timezone, _DatesAndTimestamps
from .transform import Disclosure, apply_transform


def _normalise_header(name: str) -> str:
    """Key for tolerant header matching: casefolded, inner whitespace collapsed."""
    return " ".join(name.split()).casefold()


def _check_header(header: list[str], file: str, row: int | None = 1, hint: str = "") -> None:
    """Reject empty and duplicated header names (after trimming and ignoring case)."""
    empty = [str(i + 1) for i, h in enumerate(header) if not h]
    if empty:
        raise PopulationError(file, f"column(s) {', '.join(empty)} of the header have no "
                                    f"name.{hint}", row=row)
    seen: dict[str, list[int]] = {}
    for i, h in enumerate(header):
        seen.setdefault(_normalise_header(h), []).append(i)
    dupes = [idx for idx in seen.values() if len(idx) > 1]
    if dupes:
        described = "; ".join(
            " and ".join(f"'{header[i]}' (column {i + 1})" for i in idx) for idx in dupes)
        raise PopulationError(file, f"duplicated column name(s) in the header: {described}."
                                    f"{hint}", row=row)


_NUMBER_HEADERS_HINT = (
    " If the export's header is really so (a name repeated, as Jira repeats 'Labels', or a "
    "column without a name, as a '|' border gives), declare the reader option number_headers: "
    "true to read them numbered ('Labels (2)', 'column 1'), each listed in the evidence.")


def _number_headers(header: Sequence[str]) -> tuple[list[str], list[tuple[int, str, str]]]:
    """The header with repeated names numbered ('Labels', 'Labels (2)') and unnamed columns
    named by position ('column 16'), and what was renamed: (position, name in file, read as).
    Repeats are found as the header is matched: ignoring case and repeated spaces."""
    seen: Counter[str] = Counter()
    out: list[str] = []
    numbered: list[tuple[int, str, str]] = []
    for position, name in enumerate(header, start=1):
        if not name:
            read_as = f"column {position}"
        else:
            seen[_normalise_header(name)] += 1
            count = seen[_normalise_header(name)]
            read_as = name if count == 1 else f"{name} ({count})"
        if read_as != name:
            numbered.append((position, name, read_as))
        out.append(read_as)
    return out, numbered


_INTEGER_RE2 = r"^[+-]?\d+$"
_BOOLEAN_TOKENS = {"true": True, "false": False}
_YES_NO_TOKENS = {"yes": True, "no": False, "y": True, "n": False}


class _Source(_DatesAndTimestamps):
    """One export file read as text, with converters that name the line of any bad value.

    ``context`` gives the file, its time zone, its declared options and what the evidence
    records (:meth:`population`). ``required`` and ``optional`` name the contract's columns as
    spelt in the export; an entry of ``required`` may be a tuple of alternative spellings (the
    first is the name used in code). ``labels`` says how to describe a missing required column
    (e.g. which mapping option named it). ``options`` are reader options already checked by a
    reader that accepts more than :data:`COMMON_OPTIONS` (or fewer); ``raw`` a table a reader
    has built itself instead of reading the file as a table.
    """

    def __init__(
        self,
        kind: str,
        context: ReadContext,
        *,
        required: Sequence[str | tuple[str, ...]],
        optional: Sequence[str] = (),
        options: _Options | None = None,
        labels: Mapping[str, str] | None = None,
        raw: _RawTable | None = None,
    ) -> None:
        self.kind = kind
        self.context = context
        self.path = context.path
        self.file = context.file
        self.timezone = _check_timezone(context.timezone)
        self.options = context.reader_options(kind) if options is None else options
        if raw is None:
            raw = _load_table(self.path, self.file, self.options)
        exported = raw  # the file as exported, for the evidence
        numbered: list[tuple[int, str, str]] = []
        if self.options.number_headers:
            header, numbered = _number_headers(raw.header)
            raw = dataclasses.replace(raw, header=header)
        self._use(raw)
        alternatives = {(spec if isinstance(spec, str) else spec[0]):
                        ((spec,) if isinstance(spec, str) else tuple(spec)) for spec in required}
        try:
            _check_header(raw.header, self.file, raw.header_line)
        except PopulationError:  # a report title above the header looks like this too
            wanted = {s for spellings in alternatives.values() for s in spellings}
            _check_header(raw.header, self.file, raw.header_line,
                          self._preamble_hint(wanted) or _NUMBER_HEADERS_HINT)
        self.file_table = exported
        self.disclosure = Disclosure()
        if not self.options.transform.empty:
            header, columns, lines, self.disclosure = apply_transform(
                raw.file, raw.header, raw.columns, raw.lines, self.options.transform,
                unit=raw.unit)
            skipped = [RejectedRow(line, f"not read: options.skip_rows "
                                         f"({self.options.transform.skip_rows})")
                       for line in self.disclosure.skipped]
            raw = dataclasses.replace(raw, header=header, columns=columns, lines=lines,
                                      rejected=[*raw.rejected, *skipped])
            self._use(raw)
        self.disclosure.headers = numbered
        self.sha256 = raw.sha256
        self.size_bytes = raw.size_bytes
        self.notes: list[str] = list(raw.notes)
        self.rejected: list[RejectedRow] = list(raw.rejected)
        self.unmapped: Counter[str] = Counter()
        self.required = tuple(alternatives)
        self._position = self._match_columns(alternatives, optional, labels or {})
        renamed = {expected: source for expected, source in self.disclosure.renamed}
        derived = {name for name, *_ in self.disclosure.derived}
        self._spelling = {name: renamed.get(self.header[i], self.header[i])
                          for name, i in self._position.items()}
        self._notes = {name: note for name, i in self._position.items()
                       if (note := self._column_note(self.header[i], renamed, derived))}
        for column in self.options.column_formats:
            if column not in self.header:
                raise PopulationError(
                    self.file, f"options.formats.{column}: no column {column!r} in the file."
                               f"{_did_you_mean(column, self.header)} Columns: "
                               f"{', '.join(self.header)}.")
        self._text: dict[str, pa.ChunkedArray] = {}
        absent = [name for name in optional if name not in self._position]
        if absent:
            self.notes.append(f"Optional column(s) {', '.join(repr(a) for a in absent)} not in "
                              "the file; read as empty.")

    @staticmethod
    def _column_note(name: str, renamed: Mapping[str, str], derived: Collection[str]
                     ) -> str | None:
        """How messages explain a column the source's declarations renamed or derived."""
        if name in renamed:
            return f"read as '{name}' by options.columns"
        if name in derived:
            return f"derived by options.derive.{name}"
        return None

    def _use(self, raw: _RawTable) -> None:
        """Read from ``raw`` (the file as loaded, then as transformed)."""
        self.raw_table = raw
        self.file = raw.file
        self.unit = raw.unit
        self.header = raw.header
        self.lines = raw.lines
        self.n = len(raw.lines)
        self._columns = raw.columns

    def _match_columns(self, required: Mapping[str, tuple[str, ...]], optional: Sequence[str],
                       labels: Mapping[str, str]) -> dict[str, int]:
        """Map each contract column to its position; exact name first, then ignoring case/spaces."""
        exact = {h: i for i, h in enumerate(self.header)}
        loose = {_normalise_header(h): i for i, h in enumerate(self.header)}
        position: dict[str, int] = {}
        for name, spellings in (*required.items(), *((o, (o,)) for o in optional)):
            for spelling in spellings:
                index = exact.get(spelling, loose.get(_normalise_header(spelling)))
                if index is not None:
                    position[name] = index
                    break
        missing = [name for name in required if name not in position]
        if missing:
            described = ", ".join(
                labels.get(m) or " or ".join(repr(s) for s in required[m]) for m in missing)
            raise PopulationError(
                self.file,
                f"missing required column(s) {described}; columns found: "
                f"{', '.join(repr(h) for h in self.header)}.{self._header_hint(required, missing)}")
        return position

    def _header_hint(self, required: Mapping[str, tuple[str, ...]], missing: list[str]) -> str:
        """Why the columns may be missing: another delimiter, or a preamble above the header."""
        if len(self.header) == 1 and not self.options.delimiter_declared:
            for delimiter, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
                if delimiter in self.header[0]:
                    shown = "'\\t'" if delimiter == "\t" else repr(delimiter)
                    return (f" The header looks delimited by {label}; declare the reader option "
                            f"delimiter: {shown} (or 'auto'), or export the file comma-delimited.")
        return self._preamble_hint({s for m in missing for s in required[m]})

    def _preamble_hint(self, names: Collection[str]) -> str:
        """Where the header is, when one of the first rows holds the wanted column names."""
        wanted = {_normalise_header(s) for s in names}
        for row in range(min(self.n, 10)):
            values = {_normalise_header(c[row].as_py() or "") for c in self._columns
                      if pa.types.is_string(c.type) or pa.types.is_large_string(c.type)}
            if wanted <= values:
                line = int(self.lines[row])
                return (f" The header seems to be on {self.unit} {line}: declare the reader "
                        f"option preamble_lines: {line - 1}.")
        return ""

    # -- raw access ------------------------------------------------------------------------

    def _column(self, name: str) -> pa.ChunkedArray | None:
        index = self._position.get(name)
        return None if index is None else self._columns[index]

    def _typed(self, name: str) -> pa.ChunkedArray | None:
        """The column when the file stores it typed (Parquet), not as text."""
        column = self._column(name)
        if column is None or pa.types.is_string(column.type) or pa.types.is_large_string(
                column.type):
            return None
        return column

    def text_array(self, name: str) -> pa.ChunkedArray:
        """The trimmed text of a column as Arrow ('' where empty); cached."""
        cached = self._text.get(name)
        if cached is None:
            column = self._column(name)
            if column is None:
                cached = pa.chunked_array([pa.repeat(pa.scalar("", _TEXT), self.n)])
            else:
                cached = _trim(_as_text(column))
            self._text[name] = cached
        return cached

    def raw(self, column: str) -> np.ndarray:
        """The stripped text of a column (object array of str; empty string when empty)."""
        return self.text_array(column).to_numpy(zero_copy_only=False).astype(object)

    def fail(self, column: str, bad: np.ndarray, expected: str, message: str | None = None
             ) -> NoReturn:
        """Raise a PopulationError for the first bad value of a column, listing the others."""
        positions = np.flatnonzero(bad)
        first = int(positions[0])
        found = self.text_array(column)[first].as_py()
        raise PopulationError(
            self.file, message, row=int(self.lines[first]),
            column=self._spelling.get(column, column), column_note=self._notes.get(column),
            expected=expected, found=found,
            more_rows=[int(self.lines[p]) for p in positions[1:1001]],
            more_count=len(positions) - 1, unit=self.unit)

    def _distinct(self, column: str) -> tuple[list[str], np.ndarray]:
        """The distinct values of a column and, per row, the index of its value."""
        encoded = pc.dictionary_encode(self.text_array(column))  # one dictionary, all chunks
        if not encoded.num_chunks:
            return [], np.zeros(0, dtype="int64")
        index = pa.chunked_array([c.indices for c in encoded.chunks], pa.int32())
        return (encoded.chunk(0).dictionary.to_pylist(),
                index.to_numpy(zero_copy_only=False).astype("int64", copy=False))

    # -- converters ------------------------------------------------------------------------

    def text(self, column: str, values: Mapping[str, str] | None = None) -> pd.Series:
        """Text as pandas ``string`` dtype, empty -> NA; ``values`` replaces whole values."""
        data = self.text_array(column)
        if values:
            data = _replace(data, values)
        return _string_series(_null_empty(data))

    def folded(self, column: str, values: Mapping[str, str] | None = None) -> pd.Series:
        """Casefolded text for join keys (e-mails, logins), empty -> NA."""
        data = self.text_array(column)
        if values:
            data = _replace(data, values)
        return _string_series(_fold_arrow(_null_empty(data)))

    def choice(self, column: str, mapping: Mapping[str, str | None], *,
               empty: str | None = None, allow_empty: bool = False, hint: str | None = None
               ) -> pd.Series:
        """Map an enumerated value (matched ignoring case) to its canonical spelling."""
        uniques, index = self._distinct(column)
        lookup = {k.casefold(): v for k, v in mapping.items()}
        out: list[str | None] = []
        bad = np.zeros(len(uniques), dtype=bool)
        for i, value in enumerate(uniques):
            if value == "" and "" not in lookup:
                bad[i] = empty is None and not allow_empty
                out.append(empty)
                continue
            key = value.casefold()
            bad[i] = key not in lookup
            out.append(lookup.get(key))
        if bad.any():
            options = [repr(k) for k in mapping if k != ""]
            if empty is not None or allow_empty or "" in mapping:
                options.append("an empty value")
            self.fail(column, bad[index], "one of " + _either(options), hint)
        return _string_series(pc.take(pa.array(out, _TEXT), pa.array(index)))

    def boolean(self, column: str, *, sentinels: Collection[str] = (), yes_no: bool = False,
                allow_empty: bool = False, tokens: Mapping[str, bool | None] | None = None
                ) -> pd.Series:
        """``true``/``TRUE``/``True`` (and ``false``) as nullable ``boolean``.

        Declared ``sentinels`` (e.g. ``not_supported``) and, if allowed, empty values become NA;
        keep the raw text in a ``*_original`` column when the distinction matters. ``tokens``
        adds source spellings (e.g. ``{"Enabled": True}``).
        """
        typed = self._typed(column)
        if typed is not None and pa.types.is_boolean(typed.type):
            missing = _np(pc.is_null(typed))
            if missing.any() and not allow_empty:
                self.fail(column, missing, "true or false")
            return typed.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get)
        known: dict[str, bool | None] = dict(_BOOLEAN_TOKENS)
        if yes_no:
            known.update(_YES_NO_TOKENS)
        known.update({k.casefold(): v for k, v in (tokens or {}).items()})
        nulls = {s.casefold() for s in sentinels}
        uniques, index = self._distinct(column)
        out: list[bool | None] = []
        bad = np.zeros(len(uniques), dtype=bool)
        for i, value in enumerate(uniques):
            key = value.casefold()
            if key in known:
                out.append(known[key])
            elif key in nulls or (allow_empty and value == ""):
                out.append(None)
            else:
                out.append(None)
                bad[i] = True
        if bad.any():
            spelled = ["true", "false", *(["yes", "no"] if yes_no else []),
                       *(repr(t) for t in (tokens or {}) if t.casefold() not in _BOOLEAN_TOKENS),
                       *(repr(s) for s in sentinels), *(["an empty value"] if allow_empty else [])]
            self.fail(column, bad[index], _either(spelled))
        result = pc.take(pa.array(out, pa.bool_()), pa.array(index))
        return _chunked(result).to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get)

    def integer(self, column: str, *, allow_empty: bool = True) -> pd.Series:
        """Whole numbers as nullable ``Int64``."""
        typed = self._typed(column)
        if typed is not None and pa.types.is_integer(typed.type):
            data = pc.cast(typed, pa.int64())
        else:
            values = self.text_array(column)
            empty = _np(pc.equal(values, ""))
            bad = ~empty & ~_np(pc.match_substring_regex(values, _INTEGER_RE2))
            if not allow_empty:
                bad |= empty
            if bad.any():
                self.fail(column, bad, "a whole number like 120")
            unsigned = pc.replace_substring_regex(_null_empty(values), r"^\+", "")
            try:
                data = pc.cast(unsigned, pa.int64())
            except pa.ArrowInvalid:
                big = np.array([v is not None and not -(2**63) <= int(v) < 2**63
                                for v in unsigned.to_pylist()], dtype=bool)
                self.fail(column, big, "a whole number of at most 18 digits")
        return _chunked(data).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)

    def systems(self, column: str, display_names: Mapping[str, str] | None) -> pd.Series:
        """System ids for a column of display names; unmapped names -> NA, counted in evidence."""
        lookup = {_normalise_header(k): v for k, v in (display_names or {}).items()}
        uniques, index = self._distinct(column)
        out = [lookup.get(_normalise_header(v)) if v else None for v in uniques]
        counts = np.bincount(index, minlength=len(uniques)) if len(index) else []
        for value, system, count in zip(uniques, out, counts):
            if system is None and count:
                self.unmapped[value or "(empty)"] += int(count)
        return _string_series(pc.take(pa.array(out, _TEXT), pa.array(index)))

    def null_counts(self) -> dict[str, int]:
        """Empty values per required column, as spelt in the contract."""
        counts = {}
        for name in self.required:
            typed = self._typed(name)
            if typed is not None:
                counts[name] = typed.null_count
            else:
                counts[name] = int(pc.sum(pc.equal(self.text_array(name), "")).as_py() or 0)
        return counts

    # -- evidence --------------------------------------------------------------------------

    def population(
        self,
        table: str,
        frame: pd.DataFrame,
        *,
        key: Sequence[str],
        totals: Mapping[str, str],
        duplicates: str = "keep",
        dropped: Sequence[DuplicateRow] = (),
        default_source_system: str | None = None,
    ) -> Population:
        """Wrap a canonical frame with its IPE evidence.

        ``duplicates="drop"`` drops lines whose every field (trimmed) repeats an earlier line
        and lists them in the evidence; exact duplicates always repeat the key, so only lines
        with a repeated key are compared. ``extracted_at`` and ``source_system`` come from the
        context (``default_source_system`` when neither a source system nor a system id is
        declared; else the usual system of the kind).
        """
        repeated = _repeated_mask(frame, key)
        dropped = list(dropped)
        if duplicates == "drop" and repeated.any():
            keep = np.ones(len(frame), dtype=bool)
            positions = np.flatnonzero(repeated)
            take = pa.array(positions)
            rows = zip(*[[v.strip() if isinstance(v, str) else v
                          for v in column.take(take).to_pylist()] for column in self._columns])
            first: dict[tuple[Any, ...], int] = {}
            for position, row in zip(positions, rows):
                seen = first.setdefault(row, int(position))
                if seen != position:
                    keep[position] = False
                    dropped.append(DuplicateRow(int(self.lines[position]),
                                                int(self.lines[seen])))
            if dropped:
                frame = frame[keep].reset_index(drop=True)
                repeated = _repeated_mask(frame, key)
                dropped.sort(key=lambda d: d.line)
                self.notes.append(f"{len(dropped)} exact duplicate line(s) dropped: every field "
                                  "repeats an earlier line (listed under duplicate lines).")
        return _population(
            kind=self.kind, table=table, frame=frame, key=key, repeated=repeated, totals=totals,
            source_system=self.context.source_system_for(self.kind, default_source_system),
            extracted_at=self.context.extracted_at, path=self.path,
            raw=self.file_table, null_counts=self.null_counts(), rejected=self.rejected,
            disclosure=self.disclosure,
            unmapped=self.unmapped, timezone=self.timezone, notes=self.notes,
            options=self.options, duplicate_rows=dropped)


def _replace(values: pa.ChunkedArray, mapping: Mapping[str, str]) -> pa.ChunkedArray:
    """Whole-value replacement (exact match after trimming); other values unchanged."""
    keys = pa.array(list(mapping), _TEXT)
    index = pc.index_in(values, value_set=keys)
    replaced = pc.take(pa.array([str(v) if v is not None else "" for v in mapping.values()],
                                values.type), index)
    return _chunked(pc.if_else(pc.is_null(index), values, replaced))
