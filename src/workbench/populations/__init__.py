"""Populations: read access-control exports into canonical tables, with IPE evidence.

Every test of an access control starts from a population: the HR worker list, the accounts of a
system, the grants (account x entitlement), the decisions of a review campaign, the access tickets,
the identity provider's event log. This module turns each export file into one *canonical* table
whose column names and dtypes are a contract the analytics code relies on, and records the
completeness-and-accuracy evidence an auditor needs for information produced by the entity (IPE):
which file, its SHA-256, the declared extraction time, row and column counts, key uniqueness,
empty values, control totals, the reader options used and anything skipped, dropped or rejected.

Principles (see DESIGN.md section 3):

- Every value is read as text first, so leading zeros (``004217``), ``N/A``, ``null`` and
  formula-looking text (``=cmd|...``) survive unchanged. Whitespace around values and headers is
  stripped. Values are then converted column by column, and a value that does not fit raises
  :class:`PopulationError` naming the file, the line, the column, what was expected and what was
  found. Nothing is guessed, shifted or silently dropped.
- Day/month order is never guessed: a value like ``03/04/2026`` is refused unless the source
  declares ``date_format``/``timestamp_format`` (the error says so).
- Join keys (e-mails, logins) are casefolded; the values as exported stay in ``*_original``
  columns.
- Date-only values become ``datetime64[s]`` (naive, midnight). Timestamps become
  ``datetime64[us, UTC]``; values without a zone are read in the zone declared for the source.
- Sentinels (``N/A``, ``no_information``, ``not_supported``, ``Never logged in``, an empty
  ``lastLogin``, epoch zero) are *states*, carried in ``*_state`` columns next to a NaT, never
  turned into dates.
- Every canonical row keeps ``line``: the 1-based line of the source file where its record
  starts (the header is line 1, or the line after a declared preamble), so an exception can cite
  its evidence row. For an .xlsx file it is the worksheet row, for a Parquet file the 1-based
  record number (messages then say "row").
- Exact duplicate lines (every field the same) are dropped where a repeat is the same fact
  (review decisions, assignments, events) and listed in the evidence, never silently.

Files: CSV (any reader; ``,`` by default, other delimiters declared or sniffed), .xlsx (openpyxl,
formulas read as their text, never evaluated), Parquet (pyarrow) and, for the Okta System Log,
NDJSON or a JSON array. CSV files over :data:`FAST_PATH_BYTES` (or with ``fast: true``) are parsed
by Arrow with every column as text and checked with vectorised Arrow compute; small files go
through the ``csv`` module. Both give the same table, the same line numbers and the same errors.

The entry point is :func:`load_source`; :data:`READERS` maps each export kind to its reader
(called with one :class:`ReadContext`), and :data:`READER_OPTIONS` lists the options each kind
accepts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .context import ReadContext
from .contract import (
    ACCOUNT_COLUMNS,
    ACCOUNT_STATUSES,
    CAMPAIGN_COLUMNS,
    DEFAULT_PRIVILEGED_ENTITLEMENTS,
    EVENT_COLUMNS,
    GRANT_COLUMNS,
    IDENTITY_COLUMNS,
    PRIVILEGED_APPROVAL_COLUMNS,
    REQUEST_COLUMNS,
    REVIEW_DECISION_COLUMNS,
    SOD_RULE_COLUMNS,
)
from .contract import DATE_DTYPE as DATE_DTYPE
from .contract import NEVER as NEVER
from .contract import NO_INFORMATION as NO_INFORMATION
from .contract import NOT_APPLICABLE as NOT_APPLICABLE
from .contract import NOT_SUPPORTED as NOT_SUPPORTED
from .contract import SET as SET
from .contract import TIMESTAMP_DTYPE as TIMESTAMP_DTYPE
from .contract import USED as USED
from .errors import DuplicateKey, DuplicateRow, PopulationError, RejectedRow, _did_you_mean
from .evidence import IPEEvidence, Population
from .frames import _constant, _nat
from .hashing import _QuoteCheck as _QuoteCheck
from .hashing import file_sha256
from .options import COMMON_OPTIONS, _LOG_OPTIONS, _MAPPED_OPTIONS
from .readers.applications import read_github_org_members, read_ledgerline_erp_user_roles
from .readers.cloud import read_aws_iam_credential_report, read_aws_iam_group_memberships
from .readers.events import read_okta_system_log
from .readers.hr import read_workday_workers
from .readers.identity import (
    read_entra_users,
    read_google_workspace_users,
    read_okta_app_assignments,
    read_okta_users,
)
from .readers.mapped import MAPPED_TABLES, read_mapped
from .readers.policy import read_privileged_access_approved, read_sod_mitigations, read_sod_rules
from .readers.reviews import read_campaign_decisions, read_campaign_status
from .readers.tickets import read_servicenow_access_requests

__all__ = [
    "ACCOUNT_COLUMNS",
    "ACCOUNT_STATUSES",
    "CAMPAIGN_COLUMNS",
    "COMMON_OPTIONS",
    "DEFAULT_PRIVILEGED_ENTITLEMENTS",
    "DuplicateKey",
    "DuplicateRow",
    "EVENT_COLUMNS",
    "FAST_PATH_BYTES",
    "GRANT_COLUMNS",
    "IDENTITY_COLUMNS",
    "IPEEvidence",
    "MAPPED_TABLES",
    "Population",
    "PopulationError",
    "PRIVILEGED_APPROVAL_COLUMNS",
    "READERS",
    "READER_OPTIONS",
    "REQUEST_COLUMNS",
    "REVIEW_DECISION_COLUMNS",
    "Reconciliation",
    "ReadContext",
    "RejectedRow",
    "SOD_RULE_COLUMNS",
    "erp_accounts",
    "file_sha256",
    "github_accounts",
    "load_source",
    "reconcile",
]

#: CSV files larger than this many bytes are read through Arrow (vectorised) unless the source
#: declares ``fast: false``; smaller files go through the ``csv`` module (about 6 s per 100 MB
#: here, against well under 1 s through Arrow). Both paths give the same table, line numbers,
#: rejections and errors: the Arrow path hands anything it cannot vouch for (odd quoting, bytes
#: that are not UTF-8, a ragged row) to the csv module to name the line.
FAST_PATH_BYTES = 64 * 1024 * 1024


Reader = Callable[[ReadContext], Population]

#: Export kind -> reader. Every reader takes one :class:`ReadContext` (the file and what is
#: declared for it) and returns a :class:`Population`.
READERS: dict[str, Reader] = {
    "workday_workers": read_workday_workers,
    "okta_users": read_okta_users,
    "okta_app_assignments": read_okta_app_assignments,
    "ledgerline_erp_user_roles": read_ledgerline_erp_user_roles,
    "github_org_members": read_github_org_members,
    "aws_iam_credential_report": read_aws_iam_credential_report,
    "aws_iam_group_memberships": read_aws_iam_group_memberships,
    "campaign_decisions": read_campaign_decisions,
    "campaign_status": read_campaign_status,
    "servicenow_access_requests": read_servicenow_access_requests,
    "sod_rules": read_sod_rules,
    "privileged_access_approved": read_privileged_access_approved,
    "entra_users": read_entra_users,
    "google_workspace_users": read_google_workspace_users,
    "okta_system_log": read_okta_system_log,
    "mapped": read_mapped,
}

#: Export kind -> the reader options it accepts (see :data:`COMMON_OPTIONS`; ``mapped`` also
#: takes ``table``, ``columns`` and ``values``; the Okta System Log only ``encoding``).
READER_OPTIONS: dict[str, tuple[str, ...]] = {
    kind: tuple(sorted({"mapped": {**COMMON_OPTIONS, **_MAPPED_OPTIONS},
                        "okta_system_log": _LOG_OPTIONS}.get(kind, COMMON_OPTIONS)))
    for kind in READERS
}


def load_source(
    kind: str,
    path: Path,
    *,
    system: str | None = None,
    timezone: str = "UTC",
    extracted_at: str | None = None,
    source_system: str | None = None,
    display_names: Mapping[str, str] | None = None,
    privileged_entitlements: Mapping[str, Collection[str]] | None = None,
    options: Mapping[str, Any] | None = None,
) -> Population:
    """Read one export into its canonical table with IPE evidence.

    ``kind`` selects the reader (see :data:`READERS`). ``system`` overrides the system id written
    into single-system exports (e.g. a second AWS account); ``timezone`` is the IANA zone of
    values exported without a zone; ``extracted_at`` is recorded as declared; ``source_system``
    labels the evidence (default: ``system`` or the export's system); ``display_names`` maps
    application display names to system ids; ``privileged_entitlements`` replaces
    :data:`DEFAULT_PRIVILEGED_ENTITLEMENTS`; ``options`` are the reader options declared for
    the source in the period's YAML (see :data:`READER_OPTIONS`): each reader checks them and
    names an unknown option or a bad value. The file's suffix picks the format: ``.xlsx``,
    ``.parquet``, otherwise CSV (``.tsv`` defaults to tabs).
    """
    reader = READERS.get(kind)
    if reader is None:
        known = ", ".join(sorted(READERS))
        hint = _did_you_mean(kind, READERS)
        raise ValueError(f"unknown export kind {kind!r};{hint} known kinds: {known}.")
    return reader(ReadContext(
        path=Path(path), system=system, timezone=timezone, extracted_at=extracted_at,
        source_system=source_system, display_names=display_names,
        privileged_entitlements=privileged_entitlements, options=options))


# --------------------------------------------------------------------------------------------
# Derived tables
# --------------------------------------------------------------------------------------------

_ERP_ACCOUNT_ATTRIBUTES = ("account_id", "login_original", "email", "email_original",
                           "display_name", "account_status", "account_status_original",
                           "created_at", "last_login_at", "last_login_state")


def erp_accounts(grants: Population | pd.DataFrame) -> pd.DataFrame:
    """One ``accounts`` row per ERP user from the ERP user x role ``grants`` table.

    The ERP listing repeats each user's attributes on every role line; they must agree, else a
    :class:`ValueError` names the login and the lines. ``line`` is the user's first line. A user
    whose roles were all removed in the period is still an account (it was listed).
    """
    frame = grants.frame if isinstance(grants, Population) else grants
    distinct = frame[["login", *_ERP_ACCOUNT_ATTRIBUTES]].drop_duplicates()
    conflicting = distinct[distinct["login"].duplicated(keep=False)]
    if not conflicting.empty:
        login = conflicting["login"].iloc[0]
        versions = conflicting[conflicting["login"] == login]
        differing = [c for c in _ERP_ACCOUNT_ATTRIBUTES
                     if versions[c].nunique(dropna=False) > 1]
        lines = frame.loc[frame["login"] == login, "line"].tolist()
        raise ValueError(f"ERP user {login!r} has different {', '.join(differing)} on lines "
                         f"{', '.join(map(str, lines))}; the listing is inconsistent.")
    first = (frame.sort_values("line", kind="stable").drop_duplicates("login", keep="first")
             .reset_index(drop=True))
    n = len(first)
    return pd.DataFrame({
        "system": first["system"],
        "account_id": first["account_id"],
        "login": first["login"],
        "login_original": first["login_original"],
        "email": first["email"],
        "email_original": first["email_original"],
        "employee_id": _constant(pd.NA, n, "string"),
        "display_name": first["display_name"],
        "status": first["account_status"],
        "status_original": first["account_status_original"],
        "created_at": first["created_at"],
        "last_login_at": first["last_login_at"],
        "last_login_state": first["last_login_state"],
        "status_changed_at": _nat(n),
        "mfa_enabled": _constant(pd.NA, n, "boolean"),
        "password_enabled": _constant(pd.NA, n, "boolean"),
        "is_root": _constant(False, n, "bool"),
        "line": first["line"].astype("int64"),
    })


def github_accounts(members: Population | pd.DataFrame) -> pd.DataFrame:
    """The ``accounts`` view of the GitHub member frame: :data:`ACCOUNT_COLUMNS`, the GitHub
    extras (``role``, ``privileged``, ``membership_visibility``, ``verified_domain_emails``) and
    ``line``."""
    frame = members.frame if isinstance(members, Population) else members
    view = frame[[*ACCOUNT_COLUMNS, "entitlement", "privileged", "membership_visibility",
                  "verified_domain_emails", "line"]]
    return view.rename(columns={"entitlement": "role"}).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Reconciliation
# --------------------------------------------------------------------------------------------

_DIRECTIONS = ("left_in_right", "right_in_left", "both")


@dataclass(frozen=True, eq=False)
class Reconciliation:
    """The result of matching two populations on a key (completeness evidence).

    ``direction`` states what completeness means for this reconciliation: ``left_in_right``
    (every left key is in the right population, e.g. every active HR employee has an Okta
    identity), ``right_in_left`` or ``both``. Rows with an empty key can never match and are
    counted separately (and make the side they are on incomplete).
    """

    left_name: str
    right_name: str
    left_key: str
    right_key: str
    direction: str
    left_rows: int
    right_rows: int
    left_keys: int
    right_keys: int
    matched_keys: int
    left_empty_keys: int
    right_empty_keys: int
    unmatched_left: pd.DataFrame
    unmatched_right: pd.DataFrame

    @property
    def left_complete(self) -> bool:
        """Every left row's key is present on the right."""
        return self.unmatched_left.empty and self.left_empty_keys == 0

    @property
    def right_complete(self) -> bool:
        """Every right row's key is present on the left."""
        return self.unmatched_right.empty and self.right_empty_keys == 0

    @property
    def is_complete(self) -> bool:
        """Complete in the stated ``direction``."""
        if self.direction == "left_in_right":
            return self.left_complete
        if self.direction == "right_in_left":
            return self.right_complete
        return self.left_complete and self.right_complete

    def as_rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for a workpaper table."""
        statement = {
            "left_in_right": f"every {self.left_name} key is in {self.right_name}",
            "right_in_left": f"every {self.right_name} key is in {self.left_name}",
            "both": f"{self.left_name} and {self.right_name} have the same keys",
        }[self.direction]
        rows = [
            ("Reconciliation", f"{self.left_name}.{self.left_key} to "
                               f"{self.right_name}.{self.right_key}"),
            ("Completeness tested", statement),
            (f"{self.left_name} rows", f"{self.left_rows:,}"),
            (f"{self.right_name} rows", f"{self.right_rows:,}"),
            (f"{self.left_name} distinct keys", f"{self.left_keys:,}"),
            (f"{self.right_name} distinct keys", f"{self.right_keys:,}"),
            ("Matched keys", f"{self.matched_keys:,}"),
            (f"{self.left_name} rows not in {self.right_name}", f"{len(self.unmatched_left):,}"),
            (f"{self.right_name} rows not in {self.left_name}", f"{len(self.unmatched_right):,}"),
        ]
        if self.left_empty_keys:
            rows.append((f"{self.left_name} rows with an empty key", f"{self.left_empty_keys:,}"))
        if self.right_empty_keys:
            rows.append((f"{self.right_name} rows with an empty key",
                         f"{self.right_empty_keys:,}"))
        rows.append(("Result", "complete" if self.is_complete else "NOT complete"))
        return rows


def reconcile(left: pd.DataFrame, right: pd.DataFrame, left_key: str, right_key: str,
              left_name: str, right_name: str, *, direction: str = "left_in_right"
              ) -> Reconciliation:
    """Match ``left`` and ``right`` on their key columns and report what does not match.

    Keys are compared exactly as given: pass canonical (casefolded) key columns. Unmatched rows
    are returned whole (with their ``line``) so they can be cited as exceptions.
    """
    if direction not in _DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; use one of {', '.join(_DIRECTIONS)}.")
    for frame, key, name in ((left, left_key, left_name), (right, right_key, right_name)):
        if key not in frame.columns:
            raise ValueError(f"{name} has no column {key!r}; columns: {', '.join(frame.columns)}.")
    left_numeric = pd.api.types.is_numeric_dtype(left[left_key])
    right_numeric = pd.api.types.is_numeric_dtype(right[right_key])
    if left_numeric != right_numeric:
        raise ValueError(f"cannot reconcile {left_name}.{left_key} ({left[left_key].dtype}) with "
                         f"{right_name}.{right_key} ({right[right_key].dtype}): one key is "
                         "numeric and the other is not (leading zeros would be lost).")
    left_values = left[left_key]
    right_values = right[right_key]
    left_set = set(left_values.dropna())
    right_set = set(right_values.dropna())
    unmatched_left = left[left_values.notna() & ~left_values.isin(right_set)]
    unmatched_right = right[right_values.notna() & ~right_values.isin(left_set)]
    return Reconciliation(
        left_name=left_name, right_name=right_name, left_key=left_key, right_key=right_key,
        direction=direction, left_rows=len(left), right_rows=len(right),
        left_keys=len(left_set), right_keys=len(right_set),
        matched_keys=len(left_set & right_set),
        left_empty_keys=int(left_values.isna().sum()),
        right_empty_keys=int(right_values.isna().sum()),
        unmatched_left=unmatched_left.reset_index(drop=True),
        unmatched_right=unmatched_right.reset_index(drop=True),
    )


READERS["sod_mitigations"] = read_sod_mitigations
if "READER_OPTIONS" in globals():   # the options it accepts: those of every CSV reader
    READER_OPTIONS["sod_mitigations"] = READER_OPTIONS["sod_rules"]
