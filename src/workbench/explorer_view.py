"""What the exception explorer shows, as plain functions of DataFrames: the search box's matching,
evidence tables with the cells that make a finding highlighted, and room for long values.

Why a module of its own: :mod:`workbench.exploration` opens runs and wires the widgets; how a table
of evidence is drawn and searched is pure and tested here without widgets. Which columns are the
evidence of each rule is declared once, in ``exploration.EVIDENCE_COLUMNS``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

import pandas as pd

from workbench.workpapers import escape

#: Styles of the explorer's tables: long values wrap (never cut), evidence cells stand out.
EXPLORER_CSS = """
.wb-explorer table.wp-table td { white-space: pre-wrap; overflow-wrap: break-word; max-width: 48em; }
.wb-explorer table.wp-table th { white-space: normal; }
.wb-explorer .wb-evidence { background: #fff1b8; font-weight: 600;
  outline: 2px solid #d4a72c; outline-offset: -2px; }
.wb-explorer .wb-legend { font-size: 0.8rem; color: #57606a; }
"""


def column_key(name: str) -> str:
    """A column name compared across spellings: ``Termination Date``, ``termination_date`` and
    ``terminationDate`` are all ``terminationdate`` (exports and canonical tables name columns differently)."""
    return re.sub(r"[^0-9a-z]", "", str(name).casefold())


def evidence_columns_of(frame: pd.DataFrame, wanted: Iterable[str]) -> list[str]:
    """The frame's columns that are among the wanted evidence columns (in any spelling)."""
    keys = {column_key(w) for w in wanted}
    return [c for c in frame.columns if column_key(c) in keys]


def search_register(frame: pd.DataFrame, text: str, columns: Collection[str] | None = None) -> pd.DataFrame:
    """The rows in which any column (or any of ``columns``) contains ``text``, case-insensitive;
    every row when the text is blank. Several words must all be found (in any columns)."""
    words = [w.casefold() for w in str(text or "").split()]
    if not words or frame.empty:
        return frame
    shown = frame[list(columns)] if columns else frame
    haystack = shown.astype(str).agg(" ".join, axis=1).str.casefold()
    keep = pd.Series(True, index=frame.index)
    for word in words:
        keep &= haystack.str.contains(word, regex=False)
    return frame[keep]


def evidence_table(frame: pd.DataFrame, caption: str, evidence: Iterable[str] = (),
                   max_rows: int | None = None) -> str:
    """A table of evidence rows, escaped, with the cells of the evidence columns highlighted.

    Every value is shown in full and wraps (no truncation); ``max_rows`` shows the first rows and
    says how many more there are.
    """
    marked = set(evidence_columns_of(frame, evidence))
    shown = frame if max_rows is None or len(frame) <= max_rows else frame.head(max_rows)
    shown = shown.astype(object).where(shown.notna(), "")

    def cell(tag: str, column: str, value: object) -> str:
        css = ' class="wb-evidence"' if column in marked else ""
        return f"<{tag}{css}>{escape(str(value))}</{tag}>"

    head = "".join(cell("th", c, c) for c in shown.columns)
    body = "".join("<tr>" + "".join(cell("td", c, v) for c, v in zip(shown.columns, row)) + "</tr>"
                   for row in shown.itertuples(index=False))
    markup = (f'<table class="wp-table"><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>'
              f"<tbody>{body}</tbody></table>")
    if len(shown) < len(frame):
        markup += f'<p class="wp-note">First {len(shown)} of {len(frame)} rows shown.</p>'
    return markup


def legend(evidence: Collection[str]) -> str:
    """The line above the evidence rows saying which highlighted columns make the finding."""
    if not evidence:
        return ""
    return (f'<p class="wb-legend"><span class="wb-evidence" style="padding:0 4px">highlighted</span> cells make the '
            f"finding: {escape(', '.join(evidence))}.</p>")


def wrapped(markup: str) -> str:
    """Explorer HTML inside its own styles (wrapping long values, highlighting evidence cells)."""
    return f'<style>{EXPLORER_CSS}</style><div class="wb-explorer">{markup}</div>'
