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

This module depends on pydantic and pandas only; it imports nothing from the readers, so the
readers can import their column constants from here.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from collections import Counter
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

__all__ = [
    "ACCOUNT_STATUSES",
    "APPROVAL_STATES",
    "Column",
    "ColumnType",
    "DECISIONS",
    "IDENTITY_STATUSES",
    "LAST_LOGIN_STATES",
    "Mappable",
    "MappingKind",
    "REQUEST_ACTIONS",
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


# --------------------------------------------------------------------------------------------
# Declarations as data: the tables
# --------------------------------------------------------------------------------------------

def _col(name: str, type_: ColumnType, meaning: str, *, required: bool = False,
         values: tuple[str, ...] = (), derived: bool = False) -> Column:
    """A column declaration in one line of the table declarations below."""
    return Column(name=name, type=type_, required=required, meaning=meaning, values=values,
                  derived=derived)


def _original(of: str, *, required: bool = False, what: str = "casefolding") -> Column:
    """The ``<of>_original`` column: the value of ``of`` as exported, kept next to it."""
    words = of.replace("_", " ").replace("email", "e-mail")
    return _col(f"{of}_original", "text", f"The {words} exactly as exported, before {what}.",
                required=required, derived=True)


def _choice_original(of: str, *, required: bool = False) -> Column:
    return _original(of, required=required, what="it was mapped to a canonical value")


_LINE = _col("line", "line", "The line of the export where the row's record starts: the "
                             "evidence reference of the row.", required=True, derived=True)


def _map(column: str, kind: MappingKind, required: bool = False, *, empty: str | None = None,
         allow_empty: bool = False) -> Mappable:
    return Mappable(column=column, kind=kind, required=required, empty=empty,
                    allow_empty=allow_empty)


_IDENTITIES = Table(
    name="identities",
    meaning="The HR worker list: one row per worker, with employment status and termination "
            "dates; the authoritative list of who should have access.",
    key=("employee_id",),
    built_by=("workday_workers", "mapped"),
    columns=(
        _col("employee_id", "text", "The worker's HR employee number, kept as text so leading "
                                    "zeros (004217) survive.", required=True),
        _col("full_name", "text", "The worker's name as HR records it."),
        _col("email", "key", "The worker's work e-mail, casefolded: the usual key to match a "
                             "worker to accounts and review lines.", required=True),
        _original("email", required=True),
        _col("department", "text", "The worker's department (supervisory organisation)."),
        _col("title", "text", "The worker's job title."),
        _col("manager_employee_id", "text", "The employee number of the worker's manager; empty "
                                            "at the top of the organisation."),
        _col("cost_center", "text", "The worker's cost center."),
        _col("hire_date", "date", "The day the worker was hired."),
        _col("status", "choice", "Whether the worker is active, terminated or on leave.",
             required=True, values=IDENTITY_STATUSES),
        _choice_original("status", required=True),
        _col("termination_date", "date", "The day employment ended; empty while employed."),
        _col("last_day_of_work", "date", "The worker's last day of work; access should end by "
                                         "then."),
        _col("termination_reason", "text", "Why the worker left (e.g. Resignation, "
                                           "Involuntary), as HR records it."),
        _col("eligible_for_rehire", "boolean", "Whether HR marks the worker eligible for rehire; "
                                               "empty when not recorded."),
        _LINE,
    ),
    mappable=(
        _map("employee_id", "text", True), _map("full_name", "text"), _map("email", "key", True),
        _map("department", "text"), _map("title", "text"), _map("manager_employee_id", "text"),
        _map("cost_center", "text"), _map("hire_date", "date"),
        _map("status", "choice", True), _map("termination_date", "date"),
        _map("last_day_of_work", "date"), _map("termination_reason", "text"),
        _map("eligible_for_rehire", "boolean"),
    ),
)

_ACCOUNTS = Table(
    name="accounts",
    meaning="The accounts of one system (identity provider, application, cloud account): one row "
            "per account, whether or not a person is behind it, with its status, last sign-in "
            "and authentication settings.",
    key=("system", "account_id"),
    extra_columns=True,
    built_by=("okta_users", "aws_iam_credential_report", "entra_users", "google_workspace_users",
              "mapped"),
    columns=(
        _col("system", "text", "The id of the system the account lives in, as the period's "
                               "parameters declare it (e.g. okta, aws_prod).", required=True),
        _col("account_id", "text", "The account's identifier in the system, as exported (an "
                                   "object id, a user name or a login).", required=True),
        _col("login", "key", "The account's login, casefolded: the key to match the account to "
                             "grants, tickets and people.", required=True),
        _original("login", required=True),
        _col("email", "key", "The e-mail address recorded on the account, casefolded; empty "
                             "when the system records none."),
        _original("email"),
        _col("employee_id", "text", "The HR employee number recorded on the account, where the "
                                    "system keeps one: the strongest link to a worker."),
        _col("display_name", "text", "The account's display name."),
        _col("status", "choice", "The account's status in canonical words; termination tests "
                                 "look for accounts still active after the worker left.",
             required=True,
             values=ACCOUNT_STATUSES),
        _col("status_original", "text", "The status exactly as exported; empty where the export "
                                        "has no status and lists only active accounts.",
             derived=True),
        _col("created_at", "timestamp", "When the account was created."),
        _col("last_login_at", "timestamp", "When the account last signed in; empty when "
                                           "last_login_state says why there is no time."),
        _col("last_login_state", "state", "What last_login_at means: used (a real sign-in "
                                          "time), never signed in, or why the export gives no "
                                          "time.", required=True, values=LAST_LOGIN_STATES,
             derived=True),
        _col("status_changed_at", "timestamp", "When the account's status last changed, e.g. "
                                               "when it was deactivated."),
        _col("mfa_enabled", "boolean", "Whether multi-factor authentication is enabled on the "
                                       "account; empty when the export does not say."),
        _col("password_enabled", "boolean", "Whether the account can sign in with a password; "
                                            "empty when the export does not say."),
        _col("is_root", "flag", "True for a system's root owner account (e.g. the AWS root "
                                "user), which no person should use day to day.", required=True),
        _LINE,
    ),
    mappable=(
        _map("system", "system"), _map("account_id", "text", True), _map("login", "key"),
        _map("email", "key"), _map("employee_id", "text"), _map("display_name", "text"),
        _map("status", "choice", True), _map("created_at", "timestamp"),
        _map("last_login_at", "last_login"), _map("status_changed_at", "timestamp"),
        _map("mfa_enabled", "boolean"), _map("password_enabled", "boolean"),
        _map("is_root", "flag"),
    ),
)

_GRANTS = Table(
    name="grants",
    meaning="Access held: one row per account and entitlement (role, group, application "
            "assignment, org role) of a system, with when it was granted and removed.",
    key=("system", "account_id", "entitlement", "granted_at"),
    extra_columns=True,
    built_by=("okta_app_assignments", "ledgerline_erp_user_roles", "github_org_members",
              "aws_iam_group_memberships", "mapped"),
    columns=(
        _col("system", "text", "The id of the system the entitlement belongs to; empty when the "
                               "export names an application that is not one of the period's "
                               "systems (counted in the evidence)."),
        _col("account_id", "text", "The identifier of the account holding the entitlement, as "
                                   "exported.", required=True),
        _col("login", "key", "The holder's login, casefolded: the key to match the grant to "
                             "accounts, tickets and people.", required=True),
        _original("login", required=True),
        _col("email", "key", "The holder's e-mail address, casefolded; empty when the export has "
                             "none."),
        _original("email"),
        _col("entitlement", "text", "The entitlement held, as the system names it (role, group, "
                                    "application or org role).", required=True),
        _col("entitlement_type", "text", "The kind of entitlement, e.g. role, group, "
                                         "app_assignment or org_role."),
        _col("privileged", "flag", "True when the entitlement is privileged: on the entity's "
                                   "privileged-entitlement list, or flagged so by the mapped "
                                   "export.", required=True),
        _col("granted_at", "timestamp", "When the entitlement was granted; empty for "
                                        "point-in-time listings that do not record it."),
        _col("removed_at", "timestamp", "When the entitlement was removed; empty while it is "
                                        "held."),
        _col("account_status", "choice", "The status of the holding account, where the listing "
                                         "gives it.", values=ACCOUNT_STATUSES),
        _LINE,
    ),
    mappable=(
        _map("system", "system"), _map("account_id", "text", True), _map("login", "key"),
        _map("email", "key"), _map("entitlement", "text", True), _map("entitlement_type", "text"),
        _map("privileged", "flag"), _map("granted_at", "timestamp"),
        _map("removed_at", "timestamp"),
        _map("account_status", "choice", allow_empty=True),
    ),
)

_REVIEW_DECISIONS = Table(
    name="review_decisions",
    meaning="The user access review (certification campaign) export: one row per reviewed "
            "person and access item, with the reviewer's decision.",
    key=("campaign_id", "subject_email", "system", "entitlement"),
    built_by=("campaign_decisions", "mapped"),
    columns=(
        _col("campaign_id", "text", "The review campaign's identifier.", required=True),
        _col("campaign_name", "text", "The review campaign's name."),
        _col("certification_id", "text", "The certification (one reviewer's worklist) the line "
                                         "belongs to."),
        _col("reviewer_name", "text", "The reviewer's name."),
        _col("reviewer_email", "key", "The reviewer's e-mail, casefolded: compared with the "
                                      "subject's to find self-review."),
        _original("reviewer_email"),
        _col("subject_name", "text", "The name of the person whose access is reviewed."),
        _col("subject_email", "key", "The reviewed person's e-mail, casefolded: the key to match "
                                     "the line to people and grants.", required=True),
        _original("subject_email", required=True),
        _col("system", "text", "The id of the system of the access reviewed; empty when the "
                               "campaign's source name is not one of the period's systems "
                               "(counted in the evidence)."),
        _col("application", "text", "The system or application name as the campaign shows it."),
        _col("access_type", "text", "The kind of access reviewed, as exported (e.g. ENTITLEMENT, "
                                    "ROLE)."),
        _col("entitlement", "text", "The access item reviewed (role, group or org role).",
             required=True),
        _col("privileged", "flag", "True when the campaign flags the access item as privileged "
                                   "(a mapped export without the flag: the entity's "
                                   "privileged-entitlement list).", required=True),
        _col("decision", "choice", "The reviewer's decision: approve, revoke, or undecided when "
                                   "no decision was recorded.", required=True, values=DECISIONS),
        _col("decision_original", "text", "The decision exactly as exported, before it was "
                                          "mapped to a canonical value; empty when undecided.",
             derived=True),
        _col("decided_at", "timestamp", "When the decision was made; empty when undecided."),
        _col("comments", "text", "The reviewer's comment, kept as text (a formula-looking value "
                                 "is never evaluated)."),
        _LINE,
    ),
    mappable=(
        _map("campaign_id", "text", True), _map("campaign_name", "text"),
        _map("certification_id", "text"), _map("reviewer_name", "text"),
        _map("reviewer_email", "key"), _map("subject_name", "text"),
        _map("subject_email", "key", True), _map("system", "system"),
        _map("application", "text"), _map("access_type", "text"),
        _map("entitlement", "text", True), _map("privileged", "flag"),
        _map("decision", "choice", True, empty="undecided"),
        _map("decided_at", "timestamp"), _map("comments", "text"),
    ),
)

_CAMPAIGNS = Table(
    name="campaigns",
    meaning="The review campaign status report: one row per campaign, with its dates, "
            "completion counts and sign-off.",
    key=("campaign_id",),
    built_by=("campaign_status", "mapped"),
    columns=(
        _col("campaign_id", "text", "The campaign's identifier, as review_decisions.campaign_id "
                                    "gives it.", required=True),
        _col("campaign_name", "text", "The campaign's name."),
        _col("type", "text", "The kind of campaign, as exported (e.g. MANAGER)."),
        _col("created_at", "timestamp", "When the campaign was created."),
        _col("activated_at", "timestamp", "When the campaign was sent to the reviewers."),
        _col("deadline", "timestamp", "When the decisions were due."),
        _col("status", "text", "The campaign's status, lower-cased (e.g. completed, active)."),
        _original("status", what="it was lower-cased"),
        _col("completed_at", "timestamp", "When the campaign was completed; empty while open."),
        _col("total_items", "integer", "The number of access items in the campaign, as the "
                                       "report counts them."),
        _col("decisions_made", "integer", "The number of items decided, as the report counts "
                                          "them."),
        _col("signed_off_by", "text", "Who signed the campaign off."),
        _col("signed_off_at", "timestamp", "When the campaign was signed off."),
        _LINE,
    ),
    mappable=(
        _map("campaign_id", "text", True), _map("campaign_name", "text"), _map("type", "text"),
        _map("created_at", "timestamp"), _map("activated_at", "timestamp"),
        _map("deadline", "timestamp"), _map("status", "text"), _map("completed_at", "timestamp"),
        _map("total_items", "integer"), _map("decisions_made", "integer"),
        _map("signed_off_by", "text"), _map("signed_off_at", "timestamp"),
    ),
)

_REQUESTS = Table(
    name="requests",
    meaning="Access requests and removal tickets (e.g. ServiceNow requested items): one row per "
            "ticket, with who asked, for whom, for what, the approval and when it was done.",
    key=("ticket",),
    built_by=("servicenow_access_requests", "mapped"),
    columns=(
        _col("ticket", "text", "The ticket number (e.g. RITM0012345).", required=True),
        _col("requested_for", "key", "The person the access change is for (an e-mail), "
                                     "casefolded.", required=True),
        _original("requested_for", required=True),
        _col("opened_by", "key", "Who opened the ticket, casefolded."),
        _original("opened_by"),
        _col("item", "text", "The catalogue item (e.g. Application Access, Access Removal)."),
        _col("system", "text", "The id of the system the request is for; empty when the "
                               "ticket's application is not one of the period's systems."),
        _col("application", "text", "The application name as the ticket shows it."),
        _col("entitlement", "text", "The entitlement to grant or remove."),
        _col("action", "choice", "Whether the ticket grants or revokes access.", required=True,
             values=REQUEST_ACTIONS),
        _choice_original("action", required=True),
        _col("approval", "choice", "The ticket's approval state in canonical words.",
             values=APPROVAL_STATES),
        _choice_original("approval"),
        _col("approver", "key", "Who approved the request, casefolded: compared with "
                                "requested_for to find self-approval."),
        _original("approver"),
        _col("approved_at", "timestamp", "When the request was approved."),
        _col("opened_at", "timestamp", "When the ticket was opened."),
        _col("closed_at", "timestamp", "When the ticket was closed (the change done or "
                                       "abandoned)."),
        _col("state", "text", "The ticket's state as exported (e.g. Closed Complete, Open)."),
        _LINE,
    ),
    mappable=(
        _map("ticket", "text", True), _map("requested_for", "key", True),
        _map("opened_by", "key"), _map("item", "text"), _map("system", "system"),
        _map("application", "text"), _map("entitlement", "text"),
        _map("action", "choice", True), _map("approval", "choice", allow_empty=True),
        _map("approver", "key"), _map("approved_at", "timestamp"),
        _map("opened_at", "timestamp"), _map("closed_at", "timestamp"), _map("state", "text"),
    ),
)

_SOD_RULES = Table(
    name="sod_rules",
    meaning="The entity's segregation-of-duties rule set: one row per pair of conflicting "
            "business functions, with the entitlements that give each.",
    key=("rule_id",),
    built_by=("sod_rules", "mapped"),
    columns=(
        _col("rule_id", "text", "The rule's identifier.", required=True),
        _col("system", "text", "The id of the system the rule applies to.", required=True),
        _col("function_a", "text", "The first business function (e.g. Maintain vendors)."),
        _col("entitlements_a", "list", "The entitlements that give the first function; never "
                                       "empty, or the rule could not fire.", required=True),
        _col("function_b", "text", "The conflicting business function (e.g. Pay vendors)."),
        _col("entitlements_b", "list", "The entitlements that give the conflicting function; "
                                       "never empty.", required=True),
        _col("risk_level", "text", "The risk rating of the conflict, as the rule set states it "
                                   "(e.g. High, Critical)."),
        _col("description", "text", "What could go wrong when one person holds both "
                                    "functions."),
        _LINE,
    ),
    mappable=(
        _map("rule_id", "text", True), _map("system", "system", True),
        _map("function_a", "text"), _map("entitlements_a", "list", True),
        _map("function_b", "text"), _map("entitlements_b", "list", True),
        _map("risk_level", "text"), _map("description", "text"),
    ),
)

_SOD_MITIGATIONS = Table(
    name="sod_mitigations",
    meaning="The SoD mitigation register: one row per approved mitigation of one rule for one "
            "user, with the dates it is valid.",
    key=("mitigation_id",),
    built_by=("sod_mitigations", "mapped"),
    columns=(
        _col("mitigation_id", "text", "The mitigation's identifier.", required=True),
        _col("rule_id", "text", "The SoD rule mitigated, as sod_rules.rule_id gives it.",
             required=True),
        _col("login", "key", "The user's account in the rule's system (or the person's "
                             "e-mail), casefolded.", required=True),
        _original("login", required=True),
        _col("mitigating_control", "text", "The compensating control and its evidence, as the "
                                           "register describes it."),
        _col("approved_by", "key", "Who approved the mitigation, casefolded."),
        _original("approved_by"),
        _col("valid_from", "date", "The first day the mitigation counts.", required=True),
        _col("valid_to", "date", "The last day the mitigation counts; empty when open-ended."),
        _LINE,
    ),
    mappable=(
        _map("mitigation_id", "text", True), _map("rule_id", "text", True),
        _map("login", "key", True), _map("mitigating_control", "text"),
        _map("approved_by", "key"), _map("valid_from", "date", True), _map("valid_to", "date"),
    ),
)

_PRIVILEGED_APPROVALS = Table(
    name="privileged_approvals",
    meaning="Management's approved list of privileged access: one row per system, account and "
            "privileged entitlement approved.",
    key=("system", "account", "entitlement"),
    built_by=("privileged_access_approved", "mapped"),
    columns=(
        _col("system", "text", "The id of the system.", required=True),
        _col("account", "key", "The approved account's login, casefolded.", required=True),
        _original("account", required=True),
        _col("entitlement", "text", "The privileged entitlement approved.", required=True),
        _col("approved_by", "text", "Who approved the privileged access, as written in the "
                                    "list."),
        _col("approved_on", "date", "The day the access was approved."),
        _col("expires_on", "date", "The day the approval expires; empty when it does not."),
        _LINE,
    ),
    mappable=(
        _map("system", "system", True), _map("account", "key", True),
        _map("entitlement", "text", True), _map("approved_by", "text"),
        _map("approved_on", "date"), _map("expires_on", "date"),
    ),
)

_EVENTS = Table(
    name="events",
    meaning="The identity provider's event log (e.g. the Okta System Log): one row per event, "
            "in the order the events were published.",
    key=("uuid",),
    extra_columns=True,
    built_by=("okta_system_log", "mapped"),
    columns=(
        _col("uuid", "text", "The event's unique identifier.", required=True),
        _col("published", "timestamp", "When the event happened.", required=True),
        _col("event_type", "text", "The event type (e.g. user.lifecycle.deactivate, "
                                   "group.user_membership.add).", required=True),
        _col("actor_id", "text", "The identifier of who or what performed the action."),
        _col("actor_login", "key", "The actor's login, casefolded (the text as exported follows "
                                   "among the extra columns, in actor_login_original)."),
        _col("target_id", "text", "The identifier of the event's first target (a user, group or "
                                  "application)."),
        _col("target_login", "key", "The first target's login or name, casefolded (the text as "
                                    "exported follows in target_login_original)."),
        _col("target_type", "text", "The kind of the first target (e.g. User, UserGroup, "
                                    "AppInstance)."),
        _col("outcome_result", "text", "The event's outcome (e.g. SUCCESS, FAILURE)."),
        _col("outcome_reason", "text", "Why the event had that outcome, when the log says."),
        _col("display_message", "text", "The event's description as the identity provider "
                                        "writes it."),
        _LINE,
    ),
    mappable=(
        _map("uuid", "text", True), _map("published", "timestamp", True),
        _map("event_type", "text", True), _map("actor_id", "text"), _map("actor_login", "key"),
        _map("target_id", "text"), _map("target_login", "key"), _map("target_type", "text"),
        _map("outcome_result", "text"), _map("outcome_reason", "text"),
        _map("display_message", "text"),
    ),
)

_ROLE_PERMISSIONS = Table(
    name="role_permissions",
    meaning="What each role of a system permits (e.g. SAP AGR_1251 role authorizations): one "
            "row per role and permission, for segregation-of-duties tests at permission level.",
    key=("system", "role", "permission"),
    built_by=("mapped",),
    columns=(
        _col("system", "text", "The id of the system the role belongs to.", required=True),
        _col("role", "text", "The role's name, as grants.entitlement names it.", required=True),
        _col("permission", "text", "One permission the role gives (e.g. a transaction code, or "
                                   "an authorization object with its field and value).",
             required=True),
        _col("permission_type", "text", "The kind of permission (e.g. transaction, "
                                        "authorization_object)."),
        _col("description", "text", "What the permission allows, as the system describes it."),
        _LINE,
    ),
    mappable=(
        _map("system", "system", True), _map("role", "text", True),
        _map("permission", "text", True), _map("permission_type", "text"),
        _map("description", "text"),
    ),
)

#: Every canonical table, by name, in the order the documentation lists them.
TABLES: Mapping[str, Table] = MappingProxyType({t.name: t for t in (
    _IDENTITIES, _ACCOUNTS, _GRANTS, _REVIEW_DECISIONS, _CAMPAIGNS, _REQUESTS, _SOD_RULES,
    _SOD_MITIGATIONS, _PRIVILEGED_APPROVALS, _EVENTS, _ROLE_PERMISSIONS)})


# --------------------------------------------------------------------------------------------
# Look-ups
# --------------------------------------------------------------------------------------------

def _did_you_mean(name: object, choices: Iterable[str]) -> str:
    """A hint naming the closest of ``choices`` to a misspelt ``name``, or ''."""
    close = difflib.get_close_matches(str(name), list(choices), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


def table(name: str) -> Table:
    """The declared table ``name``; a KeyError says which tables exist and the closest name."""
    found = TABLES.get(name)
    if found is None:
        raise KeyError(f"unknown canonical table '{name}'.{_did_you_mean(name, TABLES)} "
                       f"Tables: {', '.join(TABLES)}.")
    return found


def columns_of(name: str) -> tuple[str, ...]:
    """The canonical columns every frame of table ``name`` starts with, in order.

    For a closed table that is every column, ``line`` last. For a table that admits extra
    columns (accounts, grants, events) ``line`` is left out: the system-specific columns follow
    these, and ``line`` comes after them, last.
    """
    spec = table(name)
    return spec.names[:-1] if spec.extra_columns else spec.names


def mappable(name: str) -> tuple[Mappable, ...]:
    """The columns a ``kind: mapped`` source may fill for table ``name`` (empty when a mapping
    cannot build the table)."""
    return table(name).mappable


def mapped_tables() -> dict[str, dict[str, tuple[str, ...]]]:
    """Tables a ``kind: mapped`` source can build: table -> {"required": ..., "optional": ...}
    columns of ``options.columns`` (the shape of ``populations.MAPPED_TABLES``)."""
    return {t.name: {"required": tuple(m.column for m in t.mappable if m.required),
                     "optional": tuple(m.column for m in t.mappable if not m.required)}
            for t in TABLES.values() if t.mappable}


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


# --------------------------------------------------------------------------------------------
# Rendering: the command line and the documentation
# --------------------------------------------------------------------------------------------

_WIDTH = 100
_DOC_COMMAND = "workbench tables --markdown > docs/tables.md"


def _requirement(column: Column) -> str:
    return "required" if column.required else "optional"


def _type_label(column: Column) -> str:
    return f"{column.type}, derived" if column.derived else column.type


def _extras_sentence(spec: Table) -> str:
    if spec.extra_columns:
        return ("System-specific extra columns may follow the columns below; line is always "
                "last.")
    return "No other columns."


def _mapping_line(spec: Table, required: bool) -> str:
    chosen = [f"{m.column} ({m.kind})" for m in spec.mappable if m.required == required]
    return ", ".join(chosen) if chosen else "none"


def _wrap(text: str, indent: int) -> list[str]:
    return textwrap.wrap(text, width=_WIDTH, initial_indent=" " * indent,
                         subsequent_indent=" " * indent, break_on_hyphens=False)


def _render_table_text(spec: Table) -> str:
    lines = [f"Table {spec.name}", *_wrap(spec.meaning, 2),
             f"  Key: {' + '.join(spec.key)}",
             *_wrap(f"Built by (export kinds): {', '.join(spec.built_by) or 'no reader yet'}", 2),
             *_wrap(_extras_sentence(spec), 2), ""]
    name_width = max(len(c.name) for c in spec.columns) + 2
    type_width = max(len(_type_label(c)) for c in spec.columns) + 2
    head = f"  {'column':<{name_width}}{'type':<{type_width}}{'required':<10}meaning"
    lines += [head, "  " + "-" * (_WIDTH - 2)]
    indent = 2 + name_width + type_width + 10
    for column in spec.columns:
        meaning = column.meaning
        if column.values:
            meaning += f" Allowed values: {', '.join(column.values)}."
        wrapped = textwrap.wrap(meaning, width=_WIDTH - indent, break_on_hyphens=False) or [""]
        lines.append(f"  {column.name:<{name_width}}{_type_label(column):<{type_width}}"
                     f"{_requirement(column):<10}{wrapped[0]}")
        lines += [" " * indent + rest for rest in wrapped[1:]]
    lines.append("")
    if spec.mappable:
        lines.append("  A kind: mapped source may fill (options.columns):")
        lines += _wrap(f"must map: {_mapping_line(spec, True)}", 4)
        lines += _wrap(f"may map: {_mapping_line(spec, False)}", 4)
        lines += _wrap("The *_original, *_state and line columns follow from these.", 4)
    else:
        lines.append("  A kind: mapped source cannot build this table.")
    return "\n".join(lines) + "\n"


def render_text(name: str | None = None) -> str:
    """The canonical tables for the command line: without ``name`` every table with its key and
    meaning; with ``name`` that table's columns, key and what a mapped source may fill."""
    if name is not None:
        return _render_table_text(table(name))
    width = max(len(n) for n in TABLES) + 2
    lines = ["Canonical tables (every reader builds one of them; 'workbench tables TABLE' shows "
             "its columns):", ""]
    for spec in TABLES.values():
        lines.append(f"  {spec.name:<{width}}key: {' + '.join(spec.key)}")
        lines += _wrap(spec.meaning, 2 + width)
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("|", "\\|").replace("*", "\\*").replace("<", "&lt;")


def _code(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _render_table_markdown(spec: Table) -> list[str]:
    lines = [f"## {spec.name}", "", spec.meaning, "",
             f"- Key: {' + '.join(f'`{k}`' for k in spec.key)}",
             f"- Built by (export kinds): {_code(spec.built_by) or 'no reader yet'}",
             f"- {_extras_sentence(spec)}", "",
             "| column | type | required | allowed values | meaning |",
             "|---|---|---|---|---|"]
    for column in spec.columns:
        values = ", ".join(f"`{v}`" for v in column.values)
        lines.append(f"| `{column.name}` | {_type_label(column)} | {_requirement(column)} | "
                     f"{values} | {_cell(column.meaning)} |")
    lines.append("")
    if spec.mappable:
        lines += ["A `kind: mapped` source may fill these columns through `options.columns` "
                  "(the `*_original`, `*_state` and `line` columns follow from them):", "",
                  "| column | read as | must be mapped |", "|---|---|---|"]
        for spec_column in spec.mappable:
            kind = spec_column.kind
            if spec_column.empty is not None:
                kind += f", empty reads as `{spec_column.empty}`"
            elif spec_column.allow_empty:
                kind += ", may be empty"
            lines.append(f"| `{spec_column.column}` | {kind} | "
                         f"{'yes' if spec_column.required else 'no'} |")
    else:
        lines.append("A `kind: mapped` source cannot build this table.")
    lines.append("")
    return lines


def render_markdown() -> str:
    """The documentation page ``docs/tables.md``, generated from the declarations."""
    lines = [
        "# Canonical tables",
        "",
        f"Generated from `src/workbench/tables.py` by `{_DOC_COMMAND}`; do not edit by hand "
        "(a test fails when this page and the declarations differ).",
        "",
        "Every export is read into one of these tables; the controls' analytics and samples read "
        "only these columns. A *required* column has a value on every row: a `kind: mapped` "
        "source must fill it, or the reader fills it itself. A *derived* column is written by "
        "the reader (the `*_original` text as exported, a `*_state`, the `line`); a mapping "
        "never names it. `workbench tables TABLE` prints the same declaration at the command "
        "line.",
        "",
        "| table | key | meaning |",
        "|---|---|---|",
        *(f"| [`{t.name}`](#{t.name}) | {' + '.join(f'`{k}`' for k in t.key)} "
          f"| {_cell(t.meaning)} |" for t in TABLES.values()),
        "",
        "## Column types",
        "",
        "| type | pandas dtype | a value is |",
        "|---|---|---|",
        *(f"| {name} | `{dtype}` | {_cell(meaning)} |" for name, (dtype, meaning) in TYPES.items()),
        "",
        "States of a `*_state` column:",
        "",
        "| state | means |",
        "|---|---|",
        *(f"| `{state}` | {_cell(meaning)} |" for state, meaning in STATE_MEANINGS.items()),
        "",
        "A `kind: mapped` source reads each column it maps in one of these ways (the *read as* "
        "of each table's mapping below):",
        "",
        "| read as | how the source column is read |",
        "|---|---|",
        *(f"| {kind} | {_cell(meaning)} |" for kind, meaning in _MAPPING_MEANINGS.items()),
        "",
    ]
    for spec in TABLES.values():
        lines += _render_table_markdown(spec)
    return "\n".join(lines).rstrip("\n") + "\n"
