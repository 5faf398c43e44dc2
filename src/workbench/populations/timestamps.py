"""Dates and timestamps: ISO 8601 by default, a declared ``date_format``/``timestamp_format``
or Unix epochs otherwise; values without a zone read in the source's declared time zone;
sentinels and epoch zero carried as states, never as dates; day/month order never guessed.
:class:`_DatesAndTimestamps` holds these converters of :class:`._Source`."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .arrowtext import _chunked, _np, _string_series
from .contract import _TEXT, DATE_DTYPE, NO_INFORMATION, SET, TIMESTAMP_DTYPE, USED
from .errors import _either
from .options import _FORMAT_SAMPLE, _Options

_ISO_TIMESTAMP_RE2 = (r"^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"
                      r"(?:[Zz]|[+-]\d{2}:?\d{2})?)?$")
_ZONE_SUFFIX_RE2 = r"(?:[Zz]|[+-]\d{2}:?\d{2})$"
_ISO_DATE_RE2 = r"^\d{4}-\d{2}-\d{2}$"
_SIGNS = pa.array(["+", "-"], _TEXT)
_LOCALE_DATE = re.compile(r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}\b")

# Timestamps as several readers' exports write them (the examples their messages show).
_OKTA_EXAMPLE = "2026-07-14T09:12:33.000Z"
_AWS_EXAMPLE = "2026-07-14T09:12:33+00:00"
_LOCAL_EXAMPLE = "2026-07-14 09:12:33"


def _ambiguity_hint(value: str, option: str) -> str | None:
    """A hint for locale-formatted values: day/month order is never guessed."""
    if not _LOCALE_DATE.match(value):
        return None
    example = ("'%m/%d/%Y %I:%M:%S %p' or '%d/%m/%Y %H:%M'" if option == "timestamp_format"
               else "'%d/%m/%Y' or '%m/%d/%Y'")
    return (f"Day and month order cannot be told from such a value and is never guessed: declare "
            f"the source's format with the reader option {option} (e.g. {example}).")


def _timestamp_expectation(fmt: str | None, example: str) -> str:
    if fmt is None:
        return f"an ISO 8601 timestamp like {example}"
    if fmt == "epoch_ms":
        return "Unix epoch milliseconds (timestamp_format epoch_ms) like 1784020353000"
    if fmt == "epoch_s":
        return "Unix epoch seconds (timestamp_format epoch_s) like 1784020353"
    return f"a timestamp in the format {fmt!r}, like {_FORMAT_SAMPLE.strftime(fmt)}"


def _parse_distinct(values: pa.ChunkedArray, parse: Callable[[pd.Series], pd.Series]
                    ) -> tuple[pa.ChunkedArray, np.ndarray]:
    """Parse each distinct non-null value once with pandas; (timestamps, bad rows)."""
    uniques = pc.unique(values).drop_null()
    n = len(values)
    if len(uniques) == 0:
        return pa.chunked_array([pa.nulls(n, pa.timestamp("us"))]), np.zeros(n, dtype=bool)
    parsed = parse(pd.Series(uniques.to_pylist(), dtype=object))
    parsed = _to_us(parsed) if len(parsed) else parsed
    failed = parsed.isna().to_numpy()
    kind = pa.timestamp("us", "UTC" if isinstance(parsed.dtype, pd.DatetimeTZDtype) else None)
    if kind.tz:
        parsed = parsed.dt.tz_convert("UTC")
    index = pc.index_in(values, value_set=uniques)
    stamps = pc.take(pa.array(parsed, kind), index)
    positions = pc.fill_null(index, -1).to_numpy(zero_copy_only=False)
    bad = (positions >= 0) & failed[np.clip(positions, 0, None)]
    return _chunked(stamps), bad


def _to_us(series: pd.Series) -> pd.Series:
    """Timestamps at microsecond resolution (sub-microsecond digits are truncated)."""
    if series.dt.unit == "ns":
        series = series.dt.floor("us")
    return series.dt.as_unit("us")


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name like 'UTC' or 'America/New_York'."
        ) from None
    return name


class _DatesAndTimestamps:
    """The date and timestamp converters of :class:`._Source`, which mixes them in: they use
    the source's ``n``, ``options``, ``timezone`` and ``notes`` and its ``text_array``,
    ``_typed`` and ``fail``."""

    n: int
    options: _Options
    timezone: str
    notes: list[str]

    if TYPE_CHECKING:  # defined by _Source
        def text_array(self, name: str) -> pa.ChunkedArray:
            ...

        def _typed(self, name: str) -> pa.ChunkedArray | None:
            ...

        def fail(self, column: str, bad: np.ndarray, expected: str, message: str | None = None
                 ) -> NoReturn:
            ...

    def _column_format(self, column: str) -> str | None:
        """The format declared for this column under ``formats`` (by the header it is read
        from), if any."""
        formats = self.options.column_formats
        if not formats:
            return None
        index = self._position.get(column)  # type: ignore[attr-defined]
        header = self.header[index] if index is not None else column  # type: ignore[attr-defined]
        return formats.get(header) or formats.get(column)

    def date(self, column: str, *, example: str = "2026-07-01",
             sentinels: Collection[str] = ()) -> pd.Series:
        """Dates as naive ``datetime64[s]``; empty (and declared ``sentinels``) -> NaT.

        ISO ``YYYY-MM-DD`` unless the source declares ``date_format``; a day-first or
        month-first value without a declared format is refused (never guessed).
        """
        n = self.n
        typed = self._typed(column)
        if typed is not None and (pa.types.is_date(typed.type)
                                  or pa.types.is_timestamp(typed.type)):
            stamps = pc.cast(typed, pa.timestamp("s"), safe=False) if pa.types.is_date(
                typed.type) else typed
            if pa.types.is_timestamp(typed.type):
                off_midnight = _np(pc.not_equal(pc.floor_temporal(stamps, unit="day"), stamps))
                if off_midnight.any():
                    self.fail(column, off_midnight, f"a date like {example} (no time of day)")
                stamps = pc.cast(pc.cast(stamps, pa.timestamp("s", stamps.type.tz), safe=False),
                                 pa.timestamp("s"))
            return _chunked(stamps).to_pandas().astype(DATE_DTYPE)
        values = self.text_array(column)
        filled = ~_np(pc.equal(values, ""))
        if sentinels:
            tokens = pa.array(sorted({s.casefold() for s in sentinels}), _TEXT)
            filled &= ~_np(pc.is_in(pc.utf8_lower(values), value_set=tokens))
        null = pa.scalar(None, _TEXT)
        candidates = pc.if_else(pa.array(filled), values, null)
        fmt = self._column_format(column) or self.options.date_format
        if fmt is None:
            shaped = filled & _np(pc.match_substring_regex(candidates, _ISO_DATE_RE2))
            well_shaped = pc.if_else(pa.array(shaped), values, null)
            try:
                stamps = pc.cast(well_shaped, pa.timestamp("s"))
                impossible = np.zeros(self.n, dtype=bool)
            except pa.ArrowInvalid:  # shaped like a date but no date (2026-02-30)
                stamps, impossible = _parse_distinct(
                    well_shaped, lambda s: pd.to_datetime(s, format="%Y-%m-%d", errors="coerce"))
            bad = (filled & ~shaped) | impossible
            if bad.any():
                first = values[int(np.flatnonzero(bad)[0])].as_py()
                self.fail(column, bad, f"a date like {example}",
                          _ambiguity_hint(first, "date_format"))
        else:
            stamps, bad = _parse_distinct(
                candidates, lambda s: pd.to_datetime(s, format=fmt, errors="coerce"))
            if bad.any():
                self.fail(column, bad, f"a date in the declared date_format {fmt!r}, like "
                                       f"{_FORMAT_SAMPLE.strftime(fmt)}")
            stamps = pc.cast(pc.floor_temporal(stamps, unit="day"), pa.timestamp("s"))
        result = _chunked(pc.cast(stamps, pa.timestamp("s"))).to_pandas()
        return result.astype(DATE_DTYPE) if n else pd.Series([], dtype=DATE_DTYPE)

    def timestamp(self, column: str, *, example: str, fmt: str | None = None,
                  sentinels: Collection[str] = ()) -> pd.Series:
        """Timestamps as ``datetime64[us, UTC]``; empty -> NaT.

        ISO 8601 by default (``fmt`` gives a reader's own default format; the source's declared
        ``timestamp_format`` wins). Values with ``Z`` or an offset are converted to UTC; values
        without a zone are read in the declared time zone of the source. Epoch zero
        (1970-01-01T00:00:00Z) is read as NaT and counted in the evidence notes: systems use it
        for "no value", never as a date. Declared ``sentinels`` read as NaT too.
        """
        values, _ = self._timestamps(column, example=example,
                                     sentinels=dict.fromkeys(sentinels, NO_INFORMATION),
                                     empty_state=None,
                                     allow_empty=True, value_state=SET, epoch_state=None,
                                     fmt=fmt, state=False)
        return values

    def timestamp_state(self, column: str, *, example: str, sentinels: Mapping[str, str],
                        empty_state: str | None, value_state: str = USED,
                        epoch_state: str | None = None, fmt: str | None = None
                        ) -> tuple[pd.Series, pd.Series]:
        """Timestamps plus a state column for sentinel values.

        ``sentinels`` maps a token (matched ignoring case) to its state; ``empty_state`` is the
        state of an empty value (None: empty is not allowed); ``value_state`` the state of a real
        timestamp; ``epoch_state`` the state of epoch zero (None: epoch zero reads as NaT with a
        note, like :meth:`timestamp`).
        """
        return self._timestamps(column, example=example, sentinels=sentinels,
                                empty_state=empty_state, allow_empty=empty_state is not None,
                                value_state=value_state, epoch_state=epoch_state, fmt=fmt)

    def _timestamps(self, column: str, *, example: str, sentinels: Mapping[str, str],
                    empty_state: str | None, allow_empty: bool, value_state: str,
                    epoch_state: str | None, fmt: str | None = None, state: bool = True
                    ) -> tuple[pd.Series, pd.Series | None]:
        n = self.n
        fmt = self._column_format(column) or self.options.timestamp_format or fmt
        labels: list[str | None] = [None, value_state, empty_state]
        codes = np.zeros(n, dtype="int8")
        typed = self._typed(column)
        expected = _either([_timestamp_expectation(fmt, example),
                            *(repr(k) for k in sentinels),
                            *(["an empty value"] if allow_empty else [])])
        if typed is not None and (pa.types.is_timestamp(typed.type)
                                  or pa.types.is_date(typed.type)
                                  or (pa.types.is_integer(typed.type)
                                      and fmt in ("epoch_ms", "epoch_s"))):
            empty = _np(pc.is_null(typed))
            if empty.any() and not allow_empty:
                self.fail(column, empty, expected)
            stamps, bad = self._from_typed(column, typed, fmt)
            candidates = ~empty
        else:
            values = self.text_array(column)
            empty = _np(pc.equal(values, ""))
            if empty.any() and not allow_empty:
                self.fail(column, empty, expected)
            candidates = ~empty
            if sentinels:
                lowered = pc.utf8_lower(values)
                for token, token_state in sentinels.items():
                    hit = _np(pc.equal(lowered, token.casefold())) & candidates
                    labels.append(token_state)
                    codes[hit] = len(labels) - 1
                    candidates &= ~hit
            pending = (values if candidates.all()
                       else pc.if_else(pa.array(candidates), values, pa.scalar(None, _TEXT)))
            if fmt is None:
                stamps, bad, hint = self._iso(column, pending, candidates)
            elif fmt in ("epoch_ms", "epoch_s"):
                stamps, bad, hint = self._epoch(pending, candidates, fmt)
            else:
                stamps, bad, hint = self._formatted(column, pending, fmt)
            if bad.any():
                self.fail(column, bad, expected, hint)
        codes[empty] = 2
        codes[candidates] = 1
        epoch = _np(pc.equal(stamps, pa.scalar(0, pa.timestamp("us", "UTC"))))
        if epoch.any():
            stamps = pc.if_else(pa.array(epoch), pa.scalar(None, stamps.type), stamps)
            if epoch_state is not None:
                labels.append(epoch_state)
                codes[epoch] = len(labels) - 1
            else:
                codes[epoch] = 0
                self.notes.append(
                    f"Column '{column}': {int(epoch.sum())} epoch-zero value(s) "
                    "(1970-01-01T00:00:00Z) read as missing, not as a date.")
        result = _chunked(stamps).to_pandas()
        if not n:
            result = pd.Series([], dtype=TIMESTAMP_DTYPE)
        if not state:
            return result.astype(TIMESTAMP_DTYPE), None
        states = pc.take(pa.array(labels, _TEXT), pa.array(codes))
        return result.astype(TIMESTAMP_DTYPE), _string_series(states)

    def _iso(self, column: str, pending: pa.ChunkedArray, candidates: np.ndarray
             ) -> tuple[pa.ChunkedArray, np.ndarray, str | None]:
        """ISO 8601 text to UTC. Clean columns go straight through Arrow's parser (no regex);
        anything Arrow refuses is checked value by value to name the line and the problem."""
        if not candidates.any():
            return (_chunked(pa.nulls(self.n, pa.timestamp("us", "UTC"))),
                    np.zeros(self.n, dtype=bool), None)
        quick = self._iso_quick(pending, candidates)
        if quick is not None:
            return quick, np.zeros(self.n, dtype=bool), None
        return self._iso_checked(column, pending, candidates)

    def _iso_quick(self, pending: pa.ChunkedArray, candidates: np.ndarray
                   ) -> pa.ChunkedArray | None:
        """Arrow's ISO 8601 cast when every value is zone-less, or every value has a zone and
        the zone is UTC-like; None when that does not hold (the checked path decides)."""
        length = pc.binary_length(pending)
        if _np(pc.is_in(length, value_set=pa.array([13, 14], length.type))).any():
            return None  # hour-only forms Arrow accepts and the contract does not
        if _np(pc.ends_with(pending, "z")).any():
            return None  # lower-case zone letter: the checked path reads it
        zulu = _np(pc.ends_with(pending, "Z"))
        try:
            if not zulu.any():
                signed = pc.or_(
                    pc.is_in(pc.utf8_slice_codeunits(pending, -6, -5), value_set=_SIGNS),
                    pc.is_in(pc.utf8_slice_codeunits(pending, -5, -4), value_set=_SIGNS))
                if _np(pc.and_(pc.greater(length, 10), signed)).any():
                    return None  # offsets: the checked path classifies them
                result, bad = self._localize(pc.cast(pending, pa.timestamp("us")))
                if bad.any():
                    return None
                self._note_zone()
                return result
            if (zulu == candidates).all():
                return _chunked(pc.cast(pending, pa.timestamp("us", "UTC")))
        except pa.ArrowInvalid:
            return None
        return None

    def _iso_checked(self, column: str, pending: pa.ChunkedArray, candidates: np.ndarray
                     ) -> tuple[pa.ChunkedArray, np.ndarray, str | None]:
        """ISO 8601 text to UTC with every value's shape checked (names the bad line)."""
        shaped = _np(pc.match_substring_regex(pending, _ISO_TIMESTAMP_RE2))
        bad = candidates & ~shaped
        if bad.any():
            first = self.text_array(column)[int(np.flatnonzero(bad)[0])].as_py()
            return pending, bad, _ambiguity_hint(first, "timestamp_format")
        aware = _np(pc.match_substring_regex(pending, _ZONE_SUFFIX_RE2))
        naive = candidates & ~aware
        bad = np.zeros(self.n, dtype=bool)
        result = None
        if naive.any():
            local = pc.if_else(pa.array(naive), pending, pa.scalar(None, _TEXT))
            try:
                parsed = pc.cast(local, pa.timestamp("us"))
                problem = np.zeros(self.n, dtype=bool)
            except pa.ArrowInvalid:
                parsed, problem = _parse_distinct(
                    local, lambda s: pd.to_datetime(s, format="ISO8601", errors="coerce"))
            if problem.any():
                return pending, problem, None
            result, bad = self._localize(parsed)
            if bad.any():
                return pending, bad, (f"That local time does not exist or is ambiguous in "
                                      f"{self.timezone} (daylight-saving change); the export "
                                      "must give an offset.")
            self._note_zone()
        if aware.any():
            zoned = pc.utf8_upper(pc.if_else(pa.array(aware), pending,
                                             pa.scalar(None, _TEXT)))
            try:
                parsed = pc.cast(zoned, pa.timestamp("us", "UTC"))
                problem = np.zeros(self.n, dtype=bool)
            except pa.ArrowInvalid:
                parsed, problem = _parse_distinct(
                    zoned, lambda s: pd.to_datetime(s, format="ISO8601", utc=True,
                                                    errors="coerce"))
            if problem.any():
                return pending, problem, None
            result = parsed if result is None else pc.if_else(pa.array(aware), parsed, result)
        if result is None:
            result = pa.nulls(self.n, pa.timestamp("us", "UTC"))
        return _chunked(result), bad, None

    def _epoch(self, pending: pa.ChunkedArray, candidates: np.ndarray, fmt: str
               ) -> tuple[pa.ChunkedArray, np.ndarray, str | None]:
        digits = 15 if fmt == "epoch_ms" else 12
        shaped = _np(pc.match_substring_regex(pending, rf"^\d{{1,{digits}}}$"))
        bad = candidates & ~shaped
        if bad.any():
            return pending, bad, None
        unit = "ms" if fmt == "epoch_ms" else "s"
        stamps = pc.cast(pc.cast(pc.cast(pending, pa.int64()), pa.timestamp(unit, "UTC")),
                         pa.timestamp("us", "UTC"))
        return _chunked(stamps), bad, None

    def _formatted(self, column: str, pending: pa.ChunkedArray, fmt: str
                   ) -> tuple[pa.ChunkedArray, np.ndarray, str | None]:
        """Text in a declared strftime format (per distinct value, Python's strptime rules)."""
        zoned = "%z" in fmt or "%Z" in fmt
        parsed, bad = _parse_distinct(
            pending, lambda s: pd.to_datetime(s, format=fmt, errors="coerce", utc=zoned))
        if bad.any():
            return pending, bad, None
        if zoned:
            return _chunked(pc.cast(parsed, pa.timestamp("us", "UTC"))), bad, None
        result, bad = self._localize(pc.cast(parsed, pa.timestamp("us")))
        if bad.any():
            return pending, bad, (f"That local time does not exist or is ambiguous in "
                                  f"{self.timezone} (daylight-saving change).")
        self._note_zone()
        return result, bad, None

    def _from_typed(self, column: str, typed: pa.ChunkedArray, fmt: str | None
                    ) -> tuple[pa.ChunkedArray, np.ndarray]:
        """Typed Parquet values (timestamp, date, epoch integers) to UTC."""
        kind = typed.type
        if pa.types.is_integer(kind):
            unit = "ms" if fmt == "epoch_ms" else "s"
            stamps = pc.cast(pc.cast(pc.cast(typed, pa.int64()), pa.timestamp(unit, "UTC")),
                             pa.timestamp("us", "UTC"))
            return _chunked(stamps), np.zeros(self.n, dtype=bool)
        if pa.types.is_date(kind):
            typed, kind = pc.cast(typed, pa.timestamp("s")), pa.timestamp("s")
        if kind.tz is not None:
            return (_chunked(pc.cast(typed, pa.timestamp("us", "UTC"), safe=False)),
                    np.zeros(self.n, dtype=bool))
        result, bad = self._localize(pc.cast(typed, pa.timestamp("us"), safe=False))
        if bad.any():
            self.fail(column, bad, "a local time that exists in " + self.timezone,
                      "The local time does not exist or is ambiguous (daylight-saving change).")
        self._note_zone()
        return result, bad

    def _localize(self, naive: pa.ChunkedArray) -> tuple[pa.ChunkedArray, np.ndarray]:
        """Naive timestamps read in the declared zone, as UTC; bad = nonexistent/ambiguous."""
        ok = np.zeros(len(naive), dtype=bool)
        if self.timezone == "UTC":
            return _chunked(pc.cast(naive, pa.timestamp("us", "UTC"))), ok
        try:
            local = pc.assume_timezone(naive, timezone=self.timezone, ambiguous="raise",
                                       nonexistent="raise")
            return _chunked(pc.cast(local, pa.timestamp("us", "UTC"))), ok
        except pa.ArrowInvalid:
            series = _chunked(naive).to_pandas()
            local = series.dt.tz_localize(self.timezone, ambiguous="NaT", nonexistent="NaT")
            bad = (local.isna() & series.notna()).to_numpy()
            utc = _to_us(local.dt.tz_convert("UTC"))
            return _chunked(pa.array(utc, pa.timestamp("us", "UTC"))), bad

    def _note_zone(self) -> None:
        note = (f"Values without a zone are read in the declared time zone {self.timezone} "
                "and converted to UTC.")
        if note not in self.notes:
            self.notes.append(note)
