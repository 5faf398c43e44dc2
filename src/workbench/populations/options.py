"""Reader options: the options every tabular reader accepts (:data:`COMMON_OPTIONS`), those of the
mapped reader and of the Okta System Log, and their validation into :class:`_Options`."""

from __future__ import annotations

import codecs
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .errors import PopulationError, _did_you_mean
from .transform import TRANSFORM_OPTIONS, Transform, parse_transform

#: Options every tabular reader accepts (CSV, .xlsx and Parquet files), with what each takes.
COMMON_OPTIONS: dict[str, str] = {
    "delimiter": "',' (the default), ';', '\\t' (or 'tab'), '|', or 'auto' to detect it from the "
                 "header line",
    "preamble_lines": "the number of lines above the header to skip (a report title, a blank "
                      "line); default 0",
    "encoding": "the text encoding of a CSV file, default 'utf-8' (a UTF-8 or UTF-16 byte-order "
                "mark is recognised)",
    "date_format": "the strftime format of date values, e.g. '%d/%m/%Y'; default ISO YYYY-MM-DD",
    "timestamp_format": "the strftime format of timestamps, e.g. '%m/%d/%Y %I:%M:%S %p', or "
                        "'epoch_ms' / 'epoch_s' for Unix epoch numbers; default ISO 8601",
    "fast": "true to parse a CSV file with Arrow (vectorised), false for the csv module; by "
            "default every CSV file uses Arrow (the csv module where Arrow cannot vouch for the file)",
    "sheet": "the worksheet of an .xlsx file: its name or position (1 = first); default the first",
    **TRANSFORM_OPTIONS,
    "formats": "column -> the strftime format of that column's dates or timestamps (or "
               "'epoch_ms' / 'epoch_s'), when columns differ, e.g. {Hire Date: '%d/%m/%Y'}",
    "pad_missing_fields": "true to read a row with fewer fields than the header as if the "
                          "missing trailing fields were empty (each such row is counted and "
                          "listed in the evidence); default false: such a row is an error",
    "number_headers": "true to read a header that repeats a column name or leaves a column "
                      "unnamed: the second 'Labels' is read as 'Labels (2)', an unnamed column "
                      "as 'column N' (N its position); each is listed in the evidence; default "
                      "false: such a header is refused",
    "expected_rows": "the entity's control total for the export: the number of rows the source "
                     "system reports (e.g. 1200), or {count: 1200, tolerance: 5} (rows either "
                     "side) or {count: 1200, tolerance: '1%'}; a run whose table has another "
                     "number of rows reports an IPE exception (ipe_row_count)",
}

_MAPPED_OPTIONS: dict[str, str] = {
    "table": "the canonical table to build: identities, accounts, grants, review_decisions, "
             "campaigns, requests, sod_rules, sod_mitigations, privileged_approvals, events, "
             "role_permissions, identity_aliases, access_baseline, code_changes, code_reviews, "
             "deployments, change_tickets, job_runs or incidents (workbench tables lists their "
             "columns)",
    "columns": "canonical column -> source column header (as spelt in the file)",
    "values": "canonical column -> {source value: canonical value}",
}

_LOG_OPTIONS: dict[str, str] = {
    "encoding": COMMON_OPTIONS["encoding"],
    "conflicting_duplicates": "'reject' to load a log in which one event id appears with "
                              "different content: every version of such an event is listed as "
                              "a rejected row (none is kept, none is guessed); default: such a "
                              "log is refused",
    "expected_rows": COMMON_OPTIONS["expected_rows"],
}

_DELIMITERS = {",": ",", ";": ";", "\t": "\t", "tab": "\t", "\\t": "\t", "|": "|",
               "auto": "auto"}
_EPOCH_FORMATS = {"epoch_ms": "epoch_ms", "epoch_s": "epoch_s", "iso8601": None}
_FORMAT_SAMPLE = dt.datetime(2026, 7, 14, 21, 5, 33, tzinfo=dt.UTC)


@dataclass(frozen=True)
class _Options:
    """Validated reader options (``declared`` keeps them as given, for the evidence)."""

    declared: dict[str, Any] = field(default_factory=dict)
    delimiter: str = ","
    delimiter_declared: bool = False
    preamble_lines: int = 0
    encoding: str | None = None
    date_format: str | None = None
    timestamp_format: str | None = None
    fast: bool | None = None
    sheet: str | int | None = None
    transform: Transform = field(default_factory=Transform)
    column_formats: dict[str, str] = field(default_factory=dict)
    pad_missing_fields: bool = False
    number_headers: bool = False
    conflicting_duplicates: str | None = None
    expected_rows: tuple[int, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _bad_option(file: str, name: str, expected: str, value: Any) -> PopulationError:
    return PopulationError(file, f"reader option '{name}' must be {expected}; found {value!r}.")


def _check_format(file: str, name: str, fmt: Any, *, with_time: bool) -> str:
    """A strftime format that can write and read back a full date (and time)."""
    what = "a strftime format with day, month and year" + (" and hours and minutes"
                                                            if with_time else "")
    example = "'%m/%d/%Y %I:%M:%S %p'" if with_time else "'%d/%m/%Y'"
    if not isinstance(fmt, str) or "%" not in fmt:
        raise _bad_option(file, name, f"{what}, e.g. {example}", fmt)
    try:
        text = _FORMAT_SAMPLE.strftime(fmt)
        parsed = pd.to_datetime(text, format=fmt)
    except (ValueError, TypeError):
        raise _bad_option(file, name, f"{what} (it cannot read back its own output), e.g. "
                                      f"{example}", fmt) from None
    wanted = [(parsed.year, 2026), (parsed.month, 7), (parsed.day, 14)]
    if with_time:
        wanted += [(parsed.hour, 21), (parsed.minute, 5)]
    if any(got != want for got, want in wanted):
        raise _bad_option(file, name, f"{what}, e.g. {example}", fmt)
    return fmt


def _parse_options(kind: str, file: str, options: Mapping[str, Any] | None,
                   allowed: Mapping[str, str]) -> _Options:
    """Validate ``options`` against the names ``allowed`` for ``kind``; name what is wrong."""
    if options is None:
        return _Options()
    if not isinstance(options, Mapping):
        raise PopulationError(file, "reader options must be a mapping of option names to "
                                    f"values; found {type(options).__name__}.")
    for name in options:
        if name not in allowed:
            hint = _did_you_mean(name, allowed)
            raise PopulationError(
                file, f"unknown reader option {name!r} for export kind '{kind}'.{hint} Allowed "
                      f"options: {', '.join(sorted(allowed))}.")
    values: dict[str, Any] = {"declared": dict(options)}
    extra: dict[str, Any] = {}
    for name, value in options.items():
        if name == "delimiter":
            key = value.casefold() if isinstance(value, str) and len(value) > 1 else value
            if not isinstance(value, str) or key not in _DELIMITERS:
                raise _bad_option(file, name, "one of ',', ';', '\\t' (or 'tab'), '|' or 'auto'",
                                  value)
            values["delimiter"] = _DELIMITERS[key]
            values["delimiter_declared"] = True
        elif name == "preamble_lines":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
                raise _bad_option(file, name, "a whole number of lines from 0 to 1000", value)
            values["preamble_lines"] = value
        elif name == "encoding":
            try:
                codecs.lookup(value)
            except (LookupError, TypeError):
                raise _bad_option(file, name, "a text encoding Python knows, such as 'utf-8', "
                                              "'utf-8-sig', 'utf-16' or 'cp1252'",
                                  value) from None
            values["encoding"] = value
        elif name == "date_format":
            values["date_format"] = _check_format(file, name, value, with_time=False)
        elif name == "timestamp_format":
            if isinstance(value, str) and value.casefold() in _EPOCH_FORMATS:
                values["timestamp_format"] = _EPOCH_FORMATS[value.casefold()]
            else:
                values["timestamp_format"] = _check_format(file, name, value, with_time=True)
        elif name == "fast":
            if not isinstance(value, bool):
                raise _bad_option(file, name, "true or false", value)
            values["fast"] = value
        elif name == "sheet":
            if isinstance(value, bool) or not (
                    (isinstance(value, str) and value.strip())
                    or (isinstance(value, int) and value >= 1)):
                raise _bad_option(file, name, "a worksheet name or its position (1 = first)",
                                  value)
            values["sheet"] = value
        elif name == "formats":
            values["column_formats"] = _check_column_formats(file, value)
        elif name == "pad_missing_fields":
            if not isinstance(value, bool):
                raise _bad_option(file, name, "true or false", value)
            values["pad_missing_fields"] = value
        elif name == "number_headers":
            if not isinstance(value, bool):
                raise _bad_option(file, name, "true or false", value)
            values["number_headers"] = value
        elif name == "conflicting_duplicates":
            if value != "reject":
                raise _bad_option(file, name, "'reject' (or leave it out)", value)
            values["conflicting_duplicates"] = value
        elif name == "expected_rows":
            try:
                values["expected_rows"] = expected_rows(value)
            except ValueError as exc:
                raise _bad_option(file, name, str(exc), value) from None
        elif name in ("derive", "null_tokens", "skip_rows") or (name in TRANSFORM_OPTIONS
                                                    and kind != "mapped"):
            continue  # parsed together below
        else:
            extra[name] = value
    values["transform"] = parse_transform(file, options, renames=kind != "mapped")
    return _Options(**values, extra=extra)


def _check_column_formats(file: str, declared: Any) -> dict[str, str]:
    """``formats``: column -> a date or timestamp format (or an epoch unit)."""
    if not isinstance(declared, Mapping) or not declared:
        raise _bad_option(file, "formats", "a mapping of column -> strftime format, e.g. "
                                           "{Hire Date: '%d/%m/%Y'}", declared)
    out: dict[str, str] = {}
    for column, fmt in declared.items():
        if isinstance(fmt, str) and fmt.casefold() in ("epoch_ms", "epoch_s"):
            out[str(column)] = fmt.casefold()
            continue
        with_time = isinstance(fmt, str) and any(d in fmt for d in ("%H", "%I", "%M"))
        out[str(column)] = _check_format(file, f"formats.{column}", fmt, with_time=with_time)
    return out


_EXPECTED_ROWS_FORMS = ("a whole number of rows (the source system's count), or {count: N, "
                        "tolerance: T} with T a whole number of rows or a percentage such as '1%'")


def expected_rows(value: Any) -> tuple[int, int]:
    """``expected_rows`` as (count, tolerance in rows): the entity's control total for an export.

    ``1200`` is an exact count; ``{count: 1200, tolerance: 5}`` allows 5 rows either side;
    ``{count: 1200, tolerance: '1%'}`` allows 1 % of the count (rounded down). Raises
    ``ValueError`` naming the forms accepted.
    """
    def whole(number: Any) -> bool:
        return isinstance(number, int) and not isinstance(number, bool) and number >= 0

    if whole(value):
        return value, 0
    if not isinstance(value, Mapping) or set(value) - {"count", "tolerance"} or not whole(value.get("count")):
        raise ValueError(_EXPECTED_ROWS_FORMS)
    count, tolerance = value["count"], value.get("tolerance", 0)
    if whole(tolerance):
        return count, tolerance
    text = tolerance.strip() if isinstance(tolerance, str) else ""
    try:
        percent = float(text[:-1]) if text.endswith("%") else -1.0
    except ValueError:
        percent = -1.0
    if not 0 <= percent <= 100:
        raise ValueError(_EXPECTED_ROWS_FORMS)
    return count, int(count * percent / 100)
