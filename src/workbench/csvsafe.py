"""Every CSV file a run writes (``exceptions.csv``, each control's ``sample.csv``,
``population.csv`` and ``exceptions.csv``) is safe to open in a spreadsheet: CSV (formula)
injection is neutralised, and reading the file back gives the exact values that were written.

Why: these files carry values from the source exports and from the auditors' remediation file
(user names, titles, descriptions). A value such as ``=cmd|' /c calc'!A0`` or ``=HYPERLINK(...)``
is a live formula to Excel or LibreOffice when the file is opened. The OWASP rule is followed: a
text value that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with
a single quote ``'`` in front, which spreadsheets show as text.

Choices:

- only text cells are touched; numbers in numeric columns (``-3``) are written as numbers;
- a text value that is *only* a number (``-5``, ``+1.5``, ``-2e3``) is left as it is, although
  OWASP would prefix it: a spreadsheet reads it as that same number, which cannot execute
  anything, and keeping it unprefixed keeps the column's numbers usable. ``-5+A1``, ``+44 20 7946``
  or ``-`` are not only a number and are prefixed;
- so that reading back is exact, a value that already starts with quotes followed by one of those
  characters (``'=x``) gets one more quote; :func:`restore` removes exactly one quote from any value
  that starts with quotes followed by one of those characters. ``restore(neutralise(v)) == v`` for
  every text ``v``, so ``workbench verify`` re-derives samples from the same keys the run drew.

The JSON evidence (``result.json``, ``parameters.json``, the manifest) keeps the raw values, and
``exceptions.xlsx`` stores every value as text. The demo company's generated source exports
(:mod:`workbench.demo`) are written as the systems would export them, not through this module.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: The first characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTED_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"'+[=+\-@\t\r]")
_CANDIDATE_STARTS = ["'", *FORMULA_STARTS]
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(value: str) -> str:
    """A text value as written to CSV: with a ``'`` in front when a spreadsheet would run it as a formula."""
    if not value or value[0] not in "'=+-@\t\r" or _NUMBER.fullmatch(value):
        return value
    return "'" + value if _QUOTED_FORMULA.match(value) else value


def restore(value: str) -> str:
    """The value :func:`neutralise` was given: one leading ``'`` removed where it added one."""
    return value[1:] if value[:1] == "'" and _ESCAPED.match(value) else value


def _map_text(frame: pd.DataFrame, function: Any) -> pd.DataFrame:
    """``frame`` with ``function`` applied to the text cells of its text columns that start with a
    quote or a formula character (others untouched; vectorised, so a large population stays fast)."""
    import pandas as pd

    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if not (pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype)):
            continue
        try:
            candidates = column.str.slice(0, 1).isin(_CANDIDATE_STARTS)
        except AttributeError:  # an object column holding no text at all
            continue
        if not candidates.any():
            continue
        values = column.tolist()
        for position in candidates.to_numpy().nonzero()[0]:
            if isinstance(values[position], str):
                values[position] = function(values[position])
        out[name] = pd.Series(values, index=column.index, dtype=column.dtype)
    return out


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are :func:`neutralise`-d (column names too)."""
    out = _map_text(frame, neutralise)
    out.columns = [neutralise(c) if isinstance(c, str) else c for c in out.columns]
    return out


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` read from a workbench CSV with its text cells :func:`restore`-d."""
    out = _map_text(frame, restore)
    out.columns = [restore(c) if isinstance(c, str) else c for c in out.columns]
    return out


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` as UTF-8 CSV with LF line ends, formula injection neutralised; no index."""
    neutralise_frame(frame).to_csv(path, index=False, lineterminator="\n")
    return path


def read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV written by :func:`write_csv`, every column as text, with the values as they were."""
    import pandas as pd

    return restore_frame(pd.read_csv(path, dtype=str, keep_default_na=False))
