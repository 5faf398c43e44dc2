"""The contract of the canonical tables: their columns, allowed values, states and dtypes.

The analytics code relies on these names and dtypes; every reader builds its table to them.
"""

from __future__ import annotations

import pyarrow as pa

from .. import tables as canonical

#: Entitlements treated as privileged, by system id, for a system whose period file declares no
#: ``privileged_entitlements:``. Matching is case-insensitive. The period file's list reaches
#: :func:`load_source` as ``privileged_entitlements=`` and replaces the default for its system.
DEFAULT_PRIVILEGED_ENTITLEMENTS: dict[str, frozenset[str]] = {
    "ledgerline_erp": frozenset({"System Administrator", "Security Administrator"}),
    "aws_prod": frozenset({"Administrators", "PowerUsers", "BillingAdmins"}),
    "github": frozenset({"owner"}),
}

# The canonical tables' columns and allowed values, as declared once in workbench.tables (the
# readers build their tables to these; `workbench tables` prints them; docs/tables.md shows them).

#: Canonical columns of the ``identities`` table (HR workers).
IDENTITY_COLUMNS: tuple[str, ...] = canonical.columns_of("identities")
#: Columns every ``accounts`` table starts with; system-specific columns follow, ``line`` last.
ACCOUNT_COLUMNS: tuple[str, ...] = canonical.columns_of("accounts")
#: Canonical account statuses (``accounts.status``, ``grants.account_status``).
ACCOUNT_STATUSES: tuple[str, ...] = canonical.ACCOUNT_STATUSES
#: Columns every ``grants`` table starts with; source-specific columns follow, ``line`` last.
GRANT_COLUMNS: tuple[str, ...] = canonical.columns_of("grants")
#: Canonical columns of the ``review_decisions`` table (certification campaign export).
REVIEW_DECISION_COLUMNS: tuple[str, ...] = canonical.columns_of("review_decisions")
#: Canonical columns of the ``campaigns`` table (campaign status report).
CAMPAIGN_COLUMNS: tuple[str, ...] = canonical.columns_of("campaigns")
#: Canonical columns of the ``requests`` table (access requests and removal tickets).
REQUEST_COLUMNS: tuple[str, ...] = canonical.columns_of("requests")
#: Canonical columns of the ``sod_rules`` table.
SOD_RULE_COLUMNS: tuple[str, ...] = canonical.columns_of("sod_rules")
#: Canonical columns of the ``privileged_approvals`` table.
PRIVILEGED_APPROVAL_COLUMNS: tuple[str, ...] = canonical.columns_of("privileged_approvals")
#: Columns every ``events`` table starts with (identity-provider event log); reader-specific
#: columns follow, ``line`` last. Logins are casefolded (``*_original`` keeps the export's text).
EVENT_COLUMNS: tuple[str, ...] = canonical.columns_of("events")

# States carried next to a timestamp that may hold a sentinel instead of a value.
USED = "used"                   # a real timestamp of use
SET = "set"                     # a real timestamp (changed / rotated / next rotation)
NEVER = "never"                 # the system says: never used
NO_INFORMATION = "no_information"
NOT_APPLICABLE = "not_applicable"
NOT_SUPPORTED = "not_supported"
_STATES = (USED, SET, NEVER, NO_INFORMATION, NOT_APPLICABLE, NOT_SUPPORTED)

TIMESTAMP_DTYPE = "datetime64[us, UTC]"
#: Arrow type of all text: what pandas' ``string`` dtype stores (64-bit offsets), so no column
#: is copied when it becomes a Series.
DATE_DTYPE = "datetime64[s]"
_TEXT = pa.large_string()
