"""The contract of the canonical tables: their columns, allowed values, states and dtypes.

The analytics code relies on these names and dtypes; every reader builds its table to them.
"""

from __future__ import annotations

import pyarrow as pa

#: Entitlements treated as privileged, by system id. Matching is case-insensitive. Pass
#: ``privileged_entitlements=`` to :func:`load_source` to use the entity's own list instead.
DEFAULT_PRIVILEGED_ENTITLEMENTS: dict[str, frozenset[str]] = {
    "ledgerline_erp": frozenset({"System Administrator", "Security Administrator"}),
    "aws_prod": frozenset({"Administrators", "PowerUsers", "BillingAdmins"}),
    "github": frozenset({"owner"}),
}

#: Canonical columns of the ``identities`` table (HR workers).
IDENTITY_COLUMNS: tuple[str, ...] = (
    "employee_id", "full_name", "email", "email_original", "department", "title",
    "manager_employee_id", "cost_center", "hire_date", "status", "status_original",
    "termination_date", "last_day_of_work", "termination_reason", "eligible_for_rehire", "line",
)

#: Columns every ``accounts`` table starts with; system-specific columns follow, ``line`` last.
ACCOUNT_COLUMNS: tuple[str, ...] = (
    "system", "account_id", "login", "login_original", "email", "email_original", "employee_id",
    "display_name", "status", "status_original", "created_at", "last_login_at",
    "last_login_state", "status_changed_at", "mfa_enabled", "password_enabled", "is_root",
)

#: Canonical account statuses (``accounts.status``, ``grants.account_status``).
ACCOUNT_STATUSES: tuple[str, ...] = (
    "active", "disabled", "suspended", "locked", "deprovisioned", "staged", "provisioned",
    "recovery", "password_expired", "archived", "deleted",
)

#: Columns every ``grants`` table starts with; source-specific columns follow, ``line`` last.
GRANT_COLUMNS: tuple[str, ...] = (
    "system", "account_id", "login", "login_original", "email", "email_original", "entitlement",
    "entitlement_type", "privileged", "granted_at", "removed_at", "account_status",
)

#: Canonical columns of the ``review_decisions`` table (certification campaign export).
REVIEW_DECISION_COLUMNS: tuple[str, ...] = (
    "campaign_id", "campaign_name", "certification_id", "reviewer_name", "reviewer_email",
    "reviewer_email_original", "subject_name", "subject_email", "subject_email_original",
    "system", "application", "access_type", "entitlement", "privileged", "decision",
    "decision_original", "decided_at", "comments", "line",
)

#: Canonical columns of the ``campaigns`` table (campaign status report).
CAMPAIGN_COLUMNS: tuple[str, ...] = (
    "campaign_id", "campaign_name", "type", "created_at", "activated_at", "deadline", "status",
    "status_original", "completed_at", "total_items", "decisions_made", "signed_off_by",
    "signed_off_at", "line",
)

#: Canonical columns of the ``requests`` table (ServiceNow requested items).
REQUEST_COLUMNS: tuple[str, ...] = (
    "ticket", "requested_for", "requested_for_original", "opened_by", "opened_by_original",
    "item", "system", "application", "entitlement", "action", "action_original", "approval",
    "approval_original", "approver", "approver_original", "approved_at", "opened_at",
    "closed_at", "state", "line",
)

#: Canonical columns of the ``sod_rules`` table.
SOD_RULE_COLUMNS: tuple[str, ...] = (
    "rule_id", "system", "function_a", "entitlements_a", "function_b", "entitlements_b",
    "risk_level", "description", "line",
)

#: Canonical columns of the ``privileged_approvals`` table.
PRIVILEGED_APPROVAL_COLUMNS: tuple[str, ...] = (
    "system", "account", "account_original", "entitlement", "approved_by", "approved_on",
    "expires_on", "line",
)

#: Columns every ``events`` table starts with (identity-provider event log); reader-specific
#: columns follow, ``line`` last. Logins are casefolded (``*_original`` keeps the export's text).
EVENT_COLUMNS: tuple[str, ...] = (
    "uuid", "published", "event_type", "actor_id", "actor_login", "target_id", "target_login",
    "target_type", "outcome_result", "outcome_reason", "display_message",
)

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
