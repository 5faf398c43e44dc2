"""The vocabulary of the canonical tables (column types, allowed values, mapping kinds) and the
models a declaration is made of: :class:`Column`, :class:`Mappable`, :class:`Table`."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

ColumnType = Literal["text", "key", "choice", "date", "timestamp", "state", "boolean", "flag",
                     "integer", "list", "line"]

#: Column type -> (pandas dtype as ``str(series.dtype)`` prints it, what a value of it is).
TYPES: Mapping[str, tuple[str, str]] = MappingProxyType({
    "text": ("string", "Text as exported, trimmed; an empty value is <NA>."),
    "key": ("string", "A join key (e-mail, login): trimmed and casefolded, so Jane.Doe@X.example "
                      "and jane.doe@x.example match; the value as exported is kept in a *_original "
                      "column."),
    "choice": ("string", "One of the column's allowed values, in canonical words; the export's own "
                         "spelling is kept in a *_original column."),
    "date": ("datetime64[s]", "A calendar day without time of day; day and month are never "
                              "guessed."),
    "timestamp": ("datetime64[us, UTC]", "A point in time in UTC; values exported without a zone "
                                         "are read in the source's declared time zone."),
    "state": ("string", "What the timestamp beside it means when the export gives a sentinel "
                        "(N/A, no_information, Never logged in, empty, epoch zero) instead of a "
                        "time: a state, never a made-up date."),
    "boolean": ("boolean", "true, false or <NA> (unknown)."),
    "flag": ("bool", "true or false, never unknown."),
    "integer": ("Int64", "A whole number; an empty value is <NA>."),
    "list": ("object", "A tuple of text values (e.g. entitlement names split on ';')."),
    "line": ("int64", "The 1-based line of the source file where the row's record starts (the "
                      "worksheet row of an .xlsx file, the record number of a Parquet file), so "
                      "an exception can cite its evidence."),
})

#: States carried next to a timestamp that may hold a sentinel instead of a value.
STATES: tuple[str, ...] = ("used", "set", "never", "no_information", "not_applicable",
                           "not_supported")
STATE_MEANINGS: Mapping[str, str] = MappingProxyType({
    "used": "a real time of use (sign-in, key use)",
    "set": "a real time (created, changed, rotated, next rotation)",
    "never": "the system says it was never used",
    "no_information": "the system keeps no record of it (e.g. AWS no_information, an empty Google "
                      "last sign-in)",
    "not_applicable": "it does not apply (AWS N/A: no password, no access key)",
    "not_supported": "the system does not support it (AWS root account password fields)",
})
#: The states a last sign-in can be in (``accounts.last_login_state``).
LAST_LOGIN_STATES: tuple[str, ...] = ("used", "never", "no_information", "not_applicable",
                                      "not_supported")

#: Canonical account statuses (``accounts.status``, ``grants.account_status``).
ACCOUNT_STATUSES: tuple[str, ...] = (
    "active", "disabled", "suspended", "locked", "deprovisioned", "staged", "provisioned",
    "recovery", "password_expired", "archived", "deleted",
)
#: Canonical worker statuses (``identities.status``).
IDENTITY_STATUSES: tuple[str, ...] = ("active", "terminated", "on_leave")
#: Canonical review decisions (``review_decisions.decision``).
DECISIONS: tuple[str, ...] = ("approve", "revoke", "undecided")
#: Canonical request actions (``requests.action``).
REQUEST_ACTIONS: tuple[str, ...] = ("grant", "revoke")
#: Canonical approval states of a request (``requests.approval``).
APPROVAL_STATES: tuple[str, ...] = ("approved", "rejected", "requested", "not_yet_requested",
                                    "not_requested", "cancelled", "not_required")

#: Canonical kinds of change ticket (``change_tickets.type``), as ITIL and ServiceNow name them.
CHANGE_TYPES: tuple[str, ...] = ("standard", "normal", "emergency")
#: Canonical states of a code review (``code_reviews.state``), as the GitHub reviews API names them.
REVIEW_STATES: tuple[str, ...] = ("approved", "changes_requested", "commented", "dismissed", "pending")
#: Canonical outcomes of a deployment (``deployments.status``).
DEPLOYMENT_STATUSES: tuple[str, ...] = ("succeeded", "failed", "in_progress", "cancelled")

#: Canonical outcomes of a scheduled job's run (``job_runs.result``): Veeam's Success/Warning/Failed.
JOB_RESULTS: tuple[str, ...] = ("success", "warning", "failed", "running", "cancelled")
#: Canonical incident priorities (``incidents.priority``), ServiceNow's 1 - Critical to 5 - Planning.
INCIDENT_PRIORITIES: tuple[str, ...] = ("critical", "high", "moderate", "low", "planning")

#: How a ``kind: mapped`` source fills a column (the mapped reader's converters).
MappingKind = Literal["text", "key", "system", "date", "timestamp", "last_login", "boolean", "flag",
                      "integer", "choice", "list"]
#: Mapping kind -> the column type it produces.
_MAPPING_TYPE: Mapping[str, str] = MappingProxyType({
    "text": "text", "system": "text", "key": "key", "choice": "choice", "date": "date",
    "timestamp": "timestamp", "last_login": "timestamp", "boolean": "boolean", "flag": "flag",
    "integer": "integer", "list": "list",
})
_MAPPING_MEANINGS: Mapping[str, str] = MappingProxyType({
    "text": "text as exported",
    "system": "a system id (or mapped from display names with options.values)",
    "key": "casefolded; the text as exported goes to *_original",
    "choice": "an allowed value, or a source spelling mapped to one with options.values; the text "
              "as exported goes to *_original",
    "date": "a date (ISO, or the declared date_format)",
    "timestamp": "a timestamp (ISO 8601, or the declared timestamp_format)",
    "last_login": "a timestamp whose sentinels options.values maps to states; fills "
                  "last_login_state",
    "boolean": "true, false or empty (other spellings through options.values)",
    "flag": "true or false (other spellings through options.values)",
    "integer": "a whole number",
    "list": "values separated by ';' (split, each trimmed)",
})

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


# --------------------------------------------------------------------------------------------
# Declarations as data: the models
# --------------------------------------------------------------------------------------------

class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Column(_Frozen):
    """One column of a canonical table.

    ``required``: every row has a value (a mapped source must fill it, or the reader fills it
    itself). ``values``: the allowed values of a ``choice`` or ``state`` column. ``derived``: the
    reader writes it from other columns or from the file's layout (``*_original``, ``*_state``,
    ``line``); a mapping never names it.
    """

    name: str
    type: ColumnType
    required: bool
    meaning: str
    values: tuple[str, ...] = ()
    derived: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Column:
        if not _NAME.match(self.name):
            raise ValueError(f"column name {self.name!r} must be snake_case")
        if not self.meaning.endswith(".") or "\n" in self.meaning:
            raise ValueError(f"column {self.name!r}: meaning must be one line ending with '.'")
        if (self.type in ("choice", "state")) != bool(self.values):
            raise ValueError(f"column {self.name!r}: allowed values are declared for choice and "
                             "state columns, and only for them")
        if self.type == "state" and not set(self.values) <= set(STATES):
            raise ValueError(f"column {self.name!r}: states must be among {', '.join(STATES)}")
        if (self.type == "line") != (self.name == "line"):
            raise ValueError("the column 'line' and only it has type line")
        if self.name.endswith("_original") and not (self.derived and self.type == "text"):
            raise ValueError(f"column {self.name!r}: a *_original column is derived text")
        if self.type in ("state", "line") and not self.derived:
            raise ValueError(f"column {self.name!r}: state and line columns are derived")
        return self

    @property
    def dtype(self) -> str:
        """The pandas dtype of the column, as ``str(series.dtype)`` prints it."""
        return TYPES[self.type][0]


class Mappable(_Frozen):
    """A column a ``kind: mapped`` source may fill through ``options.columns``.

    ``kind`` is how the mapped reader converts the source column; ``required``: the mapping must
    name it. For a ``choice``: ``empty`` is the value an empty source cell reads as (None: an
    empty cell is refused unless ``allow_empty``, then it is <NA>).
    """

    column: str
    kind: MappingKind
    required: bool = False
    empty: str | None = None
    allow_empty: bool = False


class Table(_Frozen):
    """One canonical table: its columns in order (``line`` last), key, and mapping."""

    name: str
    meaning: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    extra_columns: bool = False
    built_by: tuple[str, ...] = ()
    mappable: tuple[Mappable, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Table:
        names = [c.name for c in self.columns]
        where = f"table {self.name!r}"
        if len(set(names)) != len(names):
            raise ValueError(f"{where}: a column is declared twice")
        if not names or names[-1] != "line":
            raise ValueError(f"{where}: the last column must be 'line'")
        for name in self.key:
            if name not in names:
                raise ValueError(f"{where}: key column {name!r} is not declared")
        types = {c.name: c for c in self.columns}
        for spec in self.mappable:
            column = types.get(spec.column)
            if column is None:
                raise ValueError(f"{where}: mappable column {spec.column!r} is not declared")
            if column.derived:
                raise ValueError(f"{where}: {spec.column!r} is derived; a mapping cannot fill it")
            if _MAPPING_TYPE[spec.kind] != column.type:
                raise ValueError(f"{where}: mapping kind {spec.kind!r} does not give a "
                                 f"{column.type} column ({spec.column!r})")
            if spec.empty is not None and spec.empty not in column.values:
                raise ValueError(f"{where}: {spec.column!r} reads empty as {spec.empty!r}, which "
                                 "is not an allowed value")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """Every declared column name in order, ``line`` last."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """The declared column ``name`` (KeyError naming the table, with a did-you-mean)."""
        for column in self.columns:
            if column.name == name:
                return column
        hint = _did_you_mean(name, self.names)
        raise KeyError(f"table '{self.name}' has no column '{name}'.{hint}")


def _did_you_mean(name: object, choices: Iterable[str]) -> str:
    """A hint naming the closest of ``choices`` to a misspelt ``name``, or ''."""
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def _requirement(column: Column) -> str:
    return "required" if column.required else "optional"
