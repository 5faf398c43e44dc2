"""What goes wrong in an export, and what is set aside: :class:`PopulationError` (naming the file,
the line, the column, what was expected and what was found), the rows rejected or dropped as
duplicates, the repeated keys, and the small helpers that word the messages."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any


class PopulationError(ValueError):
    """An export (or a reader option) does not match its contract.

    Attributes: ``file`` (the file as shown in messages, e.g. ``hr/workday_workers.csv``),
    ``row`` (1-based line in the file, the header is line 1 unless a preamble is declared; for
    .xlsx the worksheet row, for Parquet the record number; None when the problem is not one
    line), ``column`` (the column as spelt in the file), ``expected``, ``found``, ``more_rows``
    (further lines with the same problem in that column, at most 1,000 listed) and
    ``more_count`` (how many there are in all).
    """

    def __init__(
        self,
        file: str,
        message: str | None = None,
        *,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
        found: str | None = None,
        more_rows: Sequence[int] = (),
        more_count: int | None = None,
        unit: str = "line",
        column_note: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.expected = expected
        self.found = found
        self.more_rows = tuple(more_rows)
        self.more_count = len(self.more_rows) if more_count is None else more_count
        self.unit = unit
        where = [file]
        if row is not None:
            where.append(f"{unit} {row}")
        if column is not None:
            where.append(f"column '{column}'" + (f" ({column_note})" if column_note else ""))
        if expected is not None:
            body = f"expected {expected}, found {_show(found)}."
        else:
            body = message or "invalid export."
        if expected is not None and message:
            body = f"{body} {message}"
        text = f"{', '.join(where)}: {body}"
        if self.more_count:
            shown = ", ".join(str(r) for r in self.more_rows[:10])
            tail = ", ..." if self.more_count > 10 else ""
            text += (f" The same problem is on {self.more_count} more {unit}(s) in this column:"
                     f" {shown}{tail}.")
        super().__init__(text)

    @property
    def line(self) -> int | None:
        """Alias of ``row``: the 1-based line number in the file."""
        return self.row


def _either(options: Sequence[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    options = list(options)
    if len(options) <= 1:
        return "".join(options)
    return f"{', '.join(options[:-1])} or {options[-1]}"


def _did_you_mean(name: Any, choices: Collection[str]) -> str:
    """A hint naming the closest of ``choices`` to a misspelt ``name``, or ''."""
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def _show(value: str | None) -> str:
    """Render a found value for an error message."""
    if value is None:
        return "nothing"
    if value == "":
        return "an empty value"
    if len(value) > 80:
        value = value[:77] + "..."
    return repr(value)


@dataclass(frozen=True)
class RejectedRow:
    """A line of the file that produced no canonical row, and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class DuplicateRow:
    """A line dropped because every field repeats an earlier line (``duplicate_of``)."""

    line: int
    duplicate_of: int


@dataclass(frozen=True)
class DuplicateKey:
    """One key value that occurs on more than one line."""

    values: tuple[Any, ...]
    lines: tuple[int, ...]
