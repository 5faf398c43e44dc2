"""A frame checked against its table's declaration (:func:`validate_frame`)."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from .declarations import (
    table,
)
from .models import (
    STATES,
    TYPES,
    Column,
    Table,
    _requirement,
)

# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

def _show(value: object) -> str:
    """A found value for a message: repr, shortened."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Rows:
    """Names the rows of a frame in messages: by their ``line`` when the frame has a usable one."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.lines = None
        column = frame["line"] if "line" in frame.columns else None
        if (isinstance(column, pd.Series) and pd.api.types.is_integer_dtype(column.dtype)
                and not column.isna().any()):
            self.lines = column.to_numpy()

    def name(self, position: int) -> str:
        """``line N`` (the evidence line), or ``row N`` (1-based position) without one."""
        if self.lines is None:
            return f"row {position + 1}"
        return f"line {int(self.lines[position])}"


def _row_problem(where: str, rows: _Rows, series: pd.Series, mask: pd.Series, what: str,
                 show_value: bool = True) -> list[str]:
    """One problem for the first row where ``mask`` holds, counting the others; [] if none."""
    flags = mask.fillna(False).to_numpy(dtype=bool)
    if not flags.any():
        return []
    positions = flags.nonzero()[0]
    first = int(positions[0])
    found = f" (found {_show(series.iloc[first])})" if show_value else ""
    more = len(positions) - 1
    tail = f"; {more} more row(s) like it" if more else ""
    return [f"{where}, {rows.name(first)}: {what}{found}{tail}."]


def _empty(series: pd.Series, column: Column) -> pd.Series:
    """Rows without a value: <NA>/NaT, empty or blank text, an empty list."""
    missing = series.isna()
    if column.type in ("text", "key", "choice", "state"):
        missing |= series.str.strip().eq("").fillna(False).astype(bool)
    elif column.type == "list":
        missing |= series.map(lambda v: isinstance(v, tuple) and not v).astype(bool)
    return missing


def _text_tuple_or_missing(value: object) -> bool:
    """A value a list column may hold: a tuple of text, or nothing (None, <NA>, NaN)."""
    if isinstance(value, tuple):
        return all(isinstance(item, str) for item in value)
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _check_column(name: str, column: Column, series: pd.Series, rows: _Rows) -> list[str]:
    """The problems of one declared column: dtype first; values only when the dtype is right."""
    where = f"table '{name}', column '{column.name}'"
    found = str(series.dtype)
    if found != column.dtype:
        return [f"{where}: expected {column.type} values (pandas dtype {column.dtype}), found "
                f"dtype {found}."]
    problems: list[str] = []
    if column.type == "list":  # Python objects: checked value by value
        wrong = series.map(lambda v: not _text_tuple_or_missing(v)).astype(bool)
        problems += _row_problem(where, rows, series, wrong, "expected a tuple of text values")
    if column.required:
        problems += _row_problem(where, rows, series, _empty(series, column),
                                 "empty, but the column is required (every row must have a "
                                 "value)", show_value=False)
    if column.values:
        outside = ~series.isin(column.values) & series.notna()
        problems += _row_problem(where, rows, series, outside,
                                 f"not an allowed value (allowed: {', '.join(column.values)})")
    if column.type == "key":
        normal = series.str.strip().str.casefold()
        problems += _row_problem(where, rows, series, series.ne(normal),
                                 "a join key must be trimmed and casefolded")
    if column.type == "line":
        problems += _row_problem(where, rows, series, series.lt(1),
                                 "a line number must be 1 or more")
    return problems


def _check_extra(name: str, label: str, series: pd.Series, rows: _Rows,
                 labels: list[str]) -> list[str]:
    """Extra columns follow the naming conventions: ``X_state`` beside a timestamp ``X`` or
    ``X_at`` holds states, ``*_at`` holds UTC timestamps, ``*_original`` text. (A system's own
    attribute that merely ends in ``_state``, like Entra's ``invitation_state``, is text.)"""
    where = f"table '{name}', extra column '{label}'"
    stem = label.removesuffix("_state")
    if label.endswith("_state") and (stem in labels or f"{stem}_at" in labels):
        if str(series.dtype) != "string":
            return [f"{where}: a *_state column holds states (pandas dtype string), found dtype "
                    f"{series.dtype}."]
        outside = ~series.isin(STATES) & series.notna()
        return _row_problem(where, rows, series, outside,
                            f"not a state (states: {', '.join(STATES)})")
    if label.endswith("_at") and str(series.dtype) != TYPES["timestamp"][0]:
        return [f"{where}: a *_at column holds UTC timestamps (pandas dtype "
                f"{TYPES['timestamp'][0]}), found dtype {series.dtype}."]
    if label.endswith("_original") and str(series.dtype) != "string":
        return [f"{where}: a *_original column holds text (pandas dtype string), found dtype "
                f"{series.dtype}."]
    return []


def _layout_problems(spec: Table, labels: list[str]) -> list[str]:
    """Missing, unexpected, repeated and out-of-order columns."""
    where = f"table '{spec.name}'"
    problems: list[str] = []
    for label, count in Counter(labels).items():
        if count > 1:
            problems.append(f"{where}, column '{label}': appears {count} times; a column "
                            "appears once.")
    for column in spec.columns:
        if column.name not in labels:
            article = "a" if column.required else "an"
            problems.append(f"{where}, column '{column.name}': missing ({article} "
                            f"{_requirement(column)} {column.type} column of the table).")
    declared = set(spec.names)
    if not spec.extra_columns:
        for label in dict.fromkeys(labels):
            if label not in declared:
                problems.append(f"{where}, column '{label}': not a column of the table; it "
                                "admits no extra columns.")
    present = [c for c in spec.names if c in labels]
    unique = list(dict.fromkeys(labels))
    if spec.extra_columns:
        leading = [c for c in present if c != "line"]
        extras = [c for c in unique if c not in declared]
        actual = [c for c in unique if c in declared and c != "line"]
        in_order = (unique[:len(leading)] == leading and actual == leading
                    and ("line" not in labels or unique[-1] == "line"))
        expected = [*leading, *(["<extra columns>"] if extras else []),
                    *(["line"] if "line" in labels else [])]
    else:
        in_order = [c for c in unique if c in declared] == present
        expected = present
    if not in_order:
        problems.append(f"{where}: columns are not in the declared order: expected "
                        f"{', '.join(expected)}; found {', '.join(unique)}.")
    return problems


def validate_frame(name: str, frame: pd.DataFrame) -> list[str]:
    """Every way ``frame`` departs from the declaration of table ``name``; [] when it conforms.

    Checks, each vectorised over the whole column: missing, repeated, unexpected and out-of-order
    columns; each declared column's pandas dtype; required columns empty on some row; values
    outside a column's allowed values; join keys not trimmed and casefolded; tuples in list
    columns; line numbers below 1; and, for tables that admit extra columns, the naming
    conventions of the extras (the ``*_state`` of a timestamp, ``*_at``, ``*_original``). Each
    problem names the table, the column and, for a problem in the values, the first offending
    row by its ``line`` and how many other rows share it. A column with the wrong dtype is not
    checked further (its values cannot be compared reliably). An unknown table raises KeyError
    (see :func:`table`).
    """
    spec = table(name)
    labels = [str(c) for c in frame.columns]
    problems = _layout_problems(spec, labels)
    rows = _Rows(frame)
    repeated = {label for label, count in Counter(labels).items() if count > 1}
    declared = set(spec.names)
    for column in spec.columns:
        if column.name in labels and column.name not in repeated:
            problems += _check_column(name, column, frame[column.name], rows)
    if spec.extra_columns:
        for label in labels:
            if label not in declared and label not in repeated:
                problems += _check_extra(name, label, frame[label], rows, labels)
    return problems


