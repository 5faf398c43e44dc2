"""Canonical tables, declared once: the columns every procedure may rely on.

Readers (``workbench.populations``) turn each export into one of the tables declared here; the
analytics and procedures read only these columns. A table's declaration says, per column, its type
(a small closed vocabulary, each type with one pandas dtype), whether it is required (every row has
a value: a ``kind: mapped`` source must fill it or the reader fills it itself), the values allowed
where the column is a closed list, whether the reader derives it (``*_original``, ``*_state``,
``line``) and what it means in an auditor's words. Per table it says the key, whether
system-specific extra columns may follow, and which columns a ``kind: mapped`` source may map.

The same declaration is checked (:func:`validate_frame`), printed (``workbench tables``) and
documented (``docs/tables.md`` is :func:`render_markdown`), so the three cannot drift apart
(DESIGN.md section 6: every canonical table is declared once and documented from that
declaration).

The package depends on pydantic and pandas only; it imports nothing from the readers, so the
readers can import their column constants from here. Its modules: :mod:`.models` (the vocabulary:
column types, allowed values, mapping kinds; and the models of a declaration), :mod:`.declarations`
(the tables themselves and look-ups by name), :mod:`.validation` (a frame against its declaration)
and :mod:`.rendering` (``workbench tables`` and ``docs/tables.md``).
"""

from __future__ import annotations

from .declarations import TABLES, columns_of, mappable, mapped_tables, table
from .models import (
    ACCOUNT_STATUSES,
    APPROVAL_STATES,
    CHANGE_TYPES,
    DECISIONS,
    DEPLOYMENT_STATUSES,
    IDENTITY_STATUSES,
    INCIDENT_PRIORITIES,
    JOB_RESULTS,
    LAST_LOGIN_STATES,
    REQUEST_ACTIONS,
    REVIEW_STATES,
    STATES,
    TYPES,
    Column,
    ColumnType,
    Mappable,
    MappingKind,
    Table,
)
from .rendering import render_markdown, render_text
from .validation import validate_frame

__all__ = [
    "ACCOUNT_STATUSES",
    "APPROVAL_STATES",
    "CHANGE_TYPES",
    "Column",
    "ColumnType",
    "DECISIONS",
    "DEPLOYMENT_STATUSES",
    "IDENTITY_STATUSES",
    "INCIDENT_PRIORITIES",
    "JOB_RESULTS",
    "LAST_LOGIN_STATES",
    "Mappable",
    "MappingKind",
    "REQUEST_ACTIONS",
    "REVIEW_STATES",
    "STATES",
    "TABLES",
    "TYPES",
    "Table",
    "columns_of",
    "mappable",
    "mapped_tables",
    "render_markdown",
    "render_text",
    "table",
    "validate_frame",
]

