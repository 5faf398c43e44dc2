"""Applications' own listings: the ERP security listing (user x role) and the GitHub
organisation members -> ``grants``."""

from __future__ import annotations

import re

import pandas as pd

from ..context import ReadContext
from ..contract import NEVER, NO_INFORMATION
from ..evidence import Population
from ..frames import _constant, _frame, _nat, _privileged, _privileged_list
from ..source import _Source
from ..timestamps import _LOCAL_EXAMPLE, _OKTA_EXAMPLE


def read_ledgerline_erp_user_roles(ctx: ReadContext) -> Population:
    """ERP security listing (user x role) -> ``grants``; use :func:`erp_accounts` for accounts.

    Key ``login`` + ``entitlement`` + ``granted_at`` (a role removed and granted again in the
    period legitimately appears twice). Timestamps have no zone: they are read in ``timezone``
    (the ERP clock is UTC for the demo company). Extra columns: ``display_name``,
    ``account_status_original``, ``created_at``, ``last_login_at``, ``last_login_state``
    (``used``/``never``).
    """
    kind = "ledgerline_erp_user_roles"
    system_id = ctx.system or "ledgerline_erp"
    src = _Source(kind, ctx, required=(
        "USER_ID", "USER_NAME", "EMAIL", "ROLE_NAME", "ROLE_ASSIGNED_DATE", "END_DATE",
        "ACCOUNT_STATUS", "LAST_LOGON", "CREATED_DATE"))
    table = _privileged_list(src, system_id)
    n = src.n
    systems = _constant(system_id, n, "string")
    role = src.text("ROLE_NAME")
    last_logon, last_logon_state = src.timestamp_state(
        "LAST_LOGON", example=_LOCAL_EXAMPLE, sentinels={}, empty_state=NEVER, epoch_state=NEVER)
    frame = _frame({
        "system": systems,
        "account_id": src.text("USER_ID"),
        "login": src.folded("USER_ID"),
        "login_original": src.text("USER_ID"),
        "email": src.folded("EMAIL"),
        "email_original": src.text("EMAIL"),
        "entitlement": role,
        "entitlement_type": _constant("role", n, "string"),
        "privileged": _privileged(systems, role, table),
        "granted_at": src.timestamp("ROLE_ASSIGNED_DATE", example=_LOCAL_EXAMPLE),
        "removed_at": src.timestamp("END_DATE", example=_LOCAL_EXAMPLE),
        "account_status": src.choice("ACCOUNT_STATUS", {
            "ACTIVE": "active", "LOCKED": "locked", "DISABLED": "disabled"}),
        "display_name": src.text("USER_NAME"),
        "account_status_original": src.text("ACCOUNT_STATUS"),
        "created_at": src.timestamp("CREATED_DATE", example=_LOCAL_EXAMPLE),
        "last_login_at": last_logon,
        "last_login_state": last_logon_state,
    }, src.lines)
    return src.population("grants", frame, key=("login", "entitlement", "granted_at"),
                          totals={"role": "entitlement", "account status": "account_status"},
                          duplicates="drop")


def read_github_org_members(ctx: ReadContext) -> Population:
    """GitHub organisation members -> ``grants`` that also carry every account column.

    A member is one account holding one org role, so the frame is both: the grant columns
    (``entitlement`` = org role ``owner``/``member``/``billing_manager``, ``entitlement_type``
    ``org_role``, ``privileged`` for ``owner``; ``granted_at``/``removed_at`` NaT, the export is a
    point-in-time listing) followed by the remaining :data:`ACCOUNT_COLUMNS`. Use
    :func:`github_accounts` for the accounts view. Key ``login``.

    ``email`` is the first verified domain e-mail (all of them, casefolded, in
    ``verified_domain_emails`` as a tuple). An empty ``last_active`` is state ``no_information``:
    GitHub records only some activity, so an empty value does not prove the member never used the
    account. Members listed are ``active``. Extra columns: ``membership_visibility``,
    ``verified_domain_emails``.
    """
    kind = "github_org_members"
    system_id = ctx.system or "github"
    src = _Source(kind, ctx, required=(
        "login", "name", "role", "two_factor_enabled", "membership_visibility", "last_active",
        "verified_domain_emails"))
    table = _privileged_list(src, system_id)
    n = src.n
    systems = _constant(system_id, n, "string")
    split = [[e.strip() for e in re.split(r"[;,]", v) if e.strip()]
             for v in src.raw("verified_domain_emails")]
    role = src.choice("role", {"owner": "owner", "member": "member",
                               "billing_manager": "billing_manager"})
    last_active, last_active_state = src.timestamp_state(
        "last_active", example=_OKTA_EXAMPLE, sentinels={}, empty_state=NO_INFORMATION,
        epoch_state=NO_INFORMATION)
    frame = _frame({
        "system": systems,
        "account_id": src.text("login"),
        "login": src.folded("login"),
        "login_original": src.text("login"),
        "email": pd.Series([e[0].casefold() if e else pd.NA for e in split], dtype="string"),
        "email_original": pd.Series([e[0] if e else pd.NA for e in split], dtype="string"),
        "entitlement": role,
        "entitlement_type": _constant("org_role", n, "string"),
        "privileged": _privileged(systems, role, table),
        "granted_at": _nat(n),
        "removed_at": _nat(n),
        "account_status": _constant("active", n, "string"),
        "employee_id": _constant(pd.NA, n, "string"),
        "display_name": src.text("name"),
        "status": _constant("active", n, "string"),
        "status_original": _constant(pd.NA, n, "string"),
        "created_at": _nat(n),
        "last_login_at": last_active,
        "last_login_state": last_active_state,
        "status_changed_at": _nat(n),
        "mfa_enabled": src.boolean("two_factor_enabled"),
        "password_enabled": _constant(pd.NA, n, "boolean"),
        "is_root": _constant(False, n, "bool"),
        "membership_visibility": src.text("membership_visibility"),
        "verified_domain_emails": pd.Series([tuple(e.casefold() for e in v) for v in split],
                                            dtype=object),
    }, src.lines)
    return src.population("grants", frame, key=("login",),
                          totals={"role": "entitlement", "two-factor": "mfa_enabled",
                                  "last active": "last_login_state"})
