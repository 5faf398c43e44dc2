"""Identity providers' user listings: Okta users and application assignments, Entra ID and
Google Workspace user downloads -> ``accounts`` (and, for Okta assignments, ``grants``)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..arrowtext import _fold, _string_series
from ..context import ReadContext
from ..contract import NEVER, NO_INFORMATION, TIMESTAMP_DTYPE, USED
from ..evidence import Population
from ..frames import _constant, _email_or_na, _frame, _nat, _privileged, _where_email
from ..source import _Source
from ..timestamps import _OKTA_EXAMPLE, _to_us

_OKTA_STATUS = {
    "ACTIVE": "active", "SUSPENDED": "suspended", "DEPROVISIONED": "deprovisioned",
    "STAGED": "staged", "PROVISIONED": "provisioned", "RECOVERY": "recovery",
    "PASSWORD_EXPIRED": "password_expired", "LOCKED_OUT": "locked",
}


def read_okta_users(ctx: ReadContext) -> Population:
    """Okta users (flattened API objects) -> ``accounts`` (key ``account_id``).

    ``lastLogin`` empty means the user never signed in (state ``never``). Okta's user object has
    no MFA or password flag, so ``mfa_enabled``/``password_enabled`` are NA. Extra columns:
    ``activated_at``, ``last_updated_at``, ``password_changed_at``.
    """
    kind = "okta_users"
    system_id = ctx.system or "okta"
    src = _Source(kind, ctx, required=(
        "id", "status", "created", "activated", "statusChanged", "lastLogin", "lastUpdated",
        "passwordChanged", "profile.login", "profile.email", "profile.firstName",
        "profile.lastName", "profile.employeeNumber"))
    last_login, last_login_state = src.timestamp_state(
        "lastLogin", example=_OKTA_EXAMPLE, sentinels={}, empty_state=NEVER, epoch_state=NEVER)
    names = [" ".join(p for p in (first, last) if p)
             for first, last in zip(src.raw("profile.firstName"), src.raw("profile.lastName"))]
    display = pd.Series(names, dtype="string")
    n = src.n
    frame = _frame({
        "system": _constant(system_id, n, "string"),
        "account_id": src.text("id"),
        "login": src.folded("profile.login"),
        "login_original": src.text("profile.login"),
        "email": src.folded("profile.email"),
        "email_original": src.text("profile.email"),
        "employee_id": src.text("profile.employeeNumber"),
        "display_name": display.mask(display == ""),
        "status": src.choice("status", _OKTA_STATUS),
        "status_original": src.text("status"),
        "created_at": src.timestamp("created", example=_OKTA_EXAMPLE),
        "last_login_at": last_login,
        "last_login_state": last_login_state,
        "status_changed_at": src.timestamp("statusChanged", example=_OKTA_EXAMPLE),
        "mfa_enabled": _constant(pd.NA, n, "boolean"),
        "password_enabled": _constant(pd.NA, n, "boolean"),
        "is_root": _constant(False, n, "bool"),
        "activated_at": src.timestamp("activated", example=_OKTA_EXAMPLE),
        "last_updated_at": src.timestamp("lastUpdated", example=_OKTA_EXAMPLE),
        "password_changed_at": src.timestamp("passwordChanged", example=_OKTA_EXAMPLE),
    }, src.lines)
    return src.population("accounts", frame, key=("account_id",),
                          totals={"status": "status", "last login": "last_login_state"})


def read_okta_app_assignments(ctx: ReadContext) -> Population:
    """Okta "Current Assignments" report -> ``grants`` (key ``login`` + ``application``).

    One grant per Okta user x application: the account is the *Okta* user (``account_id`` the
    Okta login as exported, ``login`` casefolded, ``email`` the login when it is an e-mail);
    ``system`` is the application's system id (via ``display_names``; NA and counted in the
    evidence when unmapped); ``entitlement`` the application name; ``entitlement_type``
    ``app_assignment``. ``application_login`` (casefolded, original kept) is the account name in
    the target system, which lets a system listing without e-mails (AWS IAM user names, GitHub
    logins) be correlated to a person. Extra columns: ``application``, ``application_instance``,
    ``application_login``, ``application_login_original``, ``user_name``, ``last_login_at``,
    ``last_login_state`` (``used``/``never``), ``last_password_change_at``.
    """
    kind = "okta_app_assignments"
    src = _Source(kind, ctx, required=(
        "User", "Login", "Application name", "Application instance", "Application login",
        "Assigned on", "Unassigned on", "Last login", "Last password change"))
    table = ctx.privileged_table
    systems = src.systems("Application name", ctx.display_names)
    src.notes.extend(note for s in sorted(set(systems.dropna()))
                     if (note := ctx.privileged_note(s)))
    application = src.text("Application name")
    okta_login = src.text("Login")
    last_login, last_login_state = src.timestamp_state(
        "Last login", example=_OKTA_EXAMPLE, sentinels={}, empty_state=NEVER, epoch_state=NEVER)
    frame = _frame({
        "system": systems,
        "account_id": okta_login,
        "login": _fold(okta_login),
        "login_original": okta_login,
        "email": _email_or_na(okta_login),
        "email_original": _where_email(okta_login),
        "entitlement": application,
        "entitlement_type": _constant("app_assignment", src.n, "string"),
        "privileged": _privileged(systems, application, table),
        "granted_at": src.timestamp("Assigned on", example=_OKTA_EXAMPLE),
        "removed_at": src.timestamp("Unassigned on", example=_OKTA_EXAMPLE),
        "account_status": _constant(pd.NA, src.n, "string"),
        "application": application,
        "application_instance": src.text("Application instance"),
        "application_login": src.folded("Application login"),
        "application_login_original": src.text("Application login"),
        "user_name": src.text("User"),
        "last_login_at": last_login,
        "last_login_state": last_login_state,
        "last_password_change_at": src.timestamp("Last password change", example=_OKTA_EXAMPLE),
    }, src.lines)
    return src.population("grants", frame, key=("login", "application"),
                          totals={"application": "application"}, duplicates="drop")


_ENTRA_EXAMPLE = "2021-08-19T13:25:31Z"
_ENTRA_OPTIONAL = (
    "mail", "givenName", "surname", "jobTitle", "department", "companyName", "employeeId",
    "createdDateTime", "creationType", "directorySynced", "invitationState", "identityIssuer",
    "signInActivity",
)
_SIGN_IN_FIELDS = ("lastSuccessfulSignInDateTime", "lastSignInDateTime",
                   "lastNonInteractiveSignInDateTime")


def read_entra_users(ctx: ReadContext) -> Population:
    """Entra ID "Download users" CSV -> ``accounts`` (key ``account_id``).

    Both column sets are read: the documented one (``objectId``, ...) and the one observed in
    2021 downloads (``id``, ``createdDateTime``, ``directorySynced``, ...). ``accountEnabled``
    ``True``/``False`` -> ``status`` ``active``/``disabled``. ``createdDateTime`` is written in
    the admin's locale (``8/19/2021 1:25:31 PM``), where day and month cannot be told apart:
    such values are refused unless the source declares ``timestamp_format`` (ISO values are read
    as they are). A guest's UPN (``x_domain#EXT#@tenant.onmicrosoft.com``) makes ``user_type``
    ``guest`` whatever ``userType`` says (``user_type_original`` keeps it) and gives
    ``external_email`` (``x@domain``). Values are never formula-escaped by Entra and are kept as
    text. A ``signInActivity`` cell (the JSON object the download writes for complex
    properties) gives ``last_login_at`` = ``lastSuccessfulSignInDateTime`` (state ``used``),
    ``never`` when every sign-in field is null, else ``no_information``; without the column the
    state is ``no_information``. Extra columns: ``user_type``, ``user_type_original``,
    ``external``, ``external_email``, ``job_title``, ``department``, ``company_name``,
    ``creation_type``, ``invitation_state``, ``directory_synced``, ``identity_issuer``,
    ``last_sign_in_attempt_at``, ``last_non_interactive_sign_in_at``.
    """
    kind = "entra_users"
    system_id = ctx.system or "entra_id"
    src = _Source(kind, ctx, required=(
        "userPrincipalName", "displayName", ("objectId", "id"), "userType", "accountEnabled"),
        optional=_ENTRA_OPTIONAL)
    n = src.n
    upn = src.text("userPrincipalName")
    external = upn.str.contains("#EXT#", regex=False).fillna(False).astype(bool)
    user_type = src.choice("userType", {"Member": "member", "Guest": "guest"}, allow_empty=True)
    user_type = user_type.mask(external, "guest")
    enabled = src.boolean("accountEnabled")
    status = _string_series(pc.if_else(pa.array(enabled.to_numpy(dtype=bool)), "active",
                                       "disabled"))
    home = pd.Series([_external_email(v) for v in src.raw("userPrincipalName")], dtype="string")
    success, state, attempt, non_interactive = _entra_sign_ins(src)
    frame = _frame({
        "system": _constant(system_id, n, "string"),
        "account_id": src.text("objectId"),
        "login": _fold(upn),
        "login_original": upn,
        "email": src.folded("mail"),
        "email_original": src.text("mail"),
        "employee_id": src.text("employeeId"),
        "display_name": src.text("displayName"),
        "status": status,
        "status_original": src.text("accountEnabled"),
        "created_at": src.timestamp("createdDateTime", example=_ENTRA_EXAMPLE),
        "last_login_at": success,
        "last_login_state": state,
        "status_changed_at": _nat(n),
        "mfa_enabled": _constant(pd.NA, n, "boolean"),
        "password_enabled": _constant(pd.NA, n, "boolean"),
        "is_root": _constant(False, n, "bool"),
        "user_type": user_type,
        "user_type_original": src.text("userType"),
        "external": external,
        "external_email": home,
        "job_title": src.text("jobTitle"),
        "department": src.text("department"),
        "company_name": src.text("companyName"),
        "creation_type": src.text("creationType"),
        "invitation_state": src.text("invitationState"),
        "directory_synced": src.boolean("directorySynced", allow_empty=True),
        "identity_issuer": src.text("identityIssuer"),
        "last_sign_in_attempt_at": attempt,
        "last_non_interactive_sign_in_at": non_interactive,
    }, src.lines)
    return src.population("accounts", frame, key=("account_id",),
                          totals={"status": "status", "user type": "user_type",
                                  "last login": "last_login_state"})


def _external_email(upn: str) -> str | None:
    """``jane_contoso.com#EXT#@tenant.onmicrosoft.com`` -> ``jane@contoso.com`` (casefolded)."""
    local, marker, _ = upn.partition("#EXT#")
    if not marker or "_" not in local:
        return None
    name, _, domain = local.rpartition("_")
    return f"{name}@{domain}".casefold()


def _entra_sign_ins(src: _Source) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """last_login_at, its state, last attempt and last non-interactive sign-in, from the
    ``signInActivity`` JSON cells."""
    n = src.n
    if "signInActivity" not in src._position:
        src.notes.append("The export has no signInActivity column: last sign-in is unknown "
                         "(state no_information).")
        return (_nat(n), _constant(NO_INFORMATION, n, "string"), _nat(n), _nat(n))
    cells = src.raw("signInActivity")
    found: dict[str, list[str | None]] = {f: [] for f in _SIGN_IN_FIELDS}
    bad = np.zeros(n, dtype=bool)
    empty = np.zeros(n, dtype=bool)
    for i, cell in enumerate(cells):
        obj: Any = None
        if not cell:
            empty[i] = True
        else:
            try:
                obj = json.loads(cell)
            except ValueError:
                bad[i] = True
            if obj is not None and not isinstance(obj, dict):
                bad[i] = True
        for name in _SIGN_IN_FIELDS:
            value = obj.get(name) if isinstance(obj, dict) else None
            found[name].append(value if isinstance(value, str) and value else None)
    expected = ('the signInActivity JSON object, e.g. {"lastSignInDateTime": '
                '"2026-07-14T09:12:33Z", "lastSuccessfulSignInDateTime": null, ...}')
    if bad.any():
        src.fail("signInActivity", bad, expected)
    parsed: dict[str, pd.Series] = {}
    for name, values in found.items():
        series = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601", utc=True,
                                errors="coerce")
        wrong = (series.isna() & pd.Series(values, dtype=object).notna()).to_numpy()
        if wrong.any():
            src.fail("signInActivity", wrong, f"ISO 8601 timestamps in {name}")
        parsed[name] = _to_us(series).astype(TIMESTAMP_DTYPE) if n else _nat(0)
    success = parsed["lastSuccessfulSignInDateTime"]
    none = np.ones(n, dtype=bool)
    for series in parsed.values():
        none &= series.isna().to_numpy()
    state = np.where(success.notna().to_numpy(), USED,
                     np.where(none & ~empty, NEVER, NO_INFORMATION)).astype(object)
    return (success, pd.Series(state, dtype="string"), parsed["lastSignInDateTime"],
            parsed["lastNonInteractiveSignInDateTime"])


_GOOGLE_EXAMPLE = "2026/07/14 09:12:33"
_GOOGLE_LAST_SIGN_IN = "%Y/%m/%d %H:%M:%S"
_GOOGLE_OPTIONAL = (
    "Org Unit Path [Required]", "Employee ID", "Employee Type", "Employee Title",
    "Manager Email", "Department", "Cost Center", "Recovery Email", "Email Usage [READ ONLY]",
    "Drive Usage [READ ONLY]", "Photos Usage [READ ONLY]", "Total Storage [READ ONLY]",
    "Storage Used [READ ONLY]", "Storage limit [READ ONLY]",
    "Advanced Protection Program enrollment",
)


def read_google_workspace_users(ctx: ReadContext) -> Population:
    """Google Workspace Admin console "Download users" CSV -> ``accounts`` (key ``login``).

    Older and newer column sets are read (the newer storage and Gemini columns are optional).
    ``Last Sign In [READ ONLY]`` is ``YYYY/MM/DD HH:MM:SS`` without a zone, read in the declared
    ``timezone`` (the admin console writes the downloading admin's zone: declare it);
    ``Never logged in`` -> state ``never``, empty -> ``no_information``. ``Status``
    ``Active``/``Suspended``/``Archived``; ``2sv Enrolled`` -> ``mfa_enabled``. Storage figures
    (``0.3GB``, `` --``) are kept as text. Extra columns: ``two_step_enforced``,
    ``org_unit_path``, ``employee_type``, ``title``, ``manager_email`` (casefolded),
    ``department``, ``cost_center``, ``email_usage``, ``drive_usage``, ``total_storage``,
    ``storage_used``, ``storage_limit``, ``advanced_protection``.
    """
    kind = "google_workspace_users"
    system_id = ctx.system or "google_workspace"
    src = _Source(kind, ctx, required=(
        "First Name [Required]", "Last Name [Required]", "Email Address [Required]",
        "Status [READ ONLY]", "Last Sign In [READ ONLY]", "2sv Enrolled [READ ONLY]",
        "2sv Enforced [READ ONLY]"), optional=_GOOGLE_OPTIONAL)
    n = src.n
    names = [" ".join(p for p in (first, last) if p) for first, last in
             zip(src.raw("First Name [Required]"), src.raw("Last Name [Required]"))]
    display = pd.Series(names, dtype="string")
    email = src.text("Email Address [Required]")
    last, last_state = src.timestamp_state(
        "Last Sign In [READ ONLY]", example=_GOOGLE_EXAMPLE, fmt=_GOOGLE_LAST_SIGN_IN,
        sentinels={"Never logged in": NEVER}, empty_state=NO_INFORMATION, epoch_state=NEVER)
    frame = _frame({
        "system": _constant(system_id, n, "string"),
        "account_id": email,
        "login": _fold(email),
        "login_original": email,
        "email": _fold(email),
        "email_original": email,
        "employee_id": src.text("Employee ID"),
        "display_name": display.mask(display == ""),
        "status": src.choice("Status [READ ONLY]", {"Active": "active", "Suspended": "suspended",
                                                    "Archived": "archived"}),
        "status_original": src.text("Status [READ ONLY]"),
        "created_at": _nat(n),
        "last_login_at": last,
        "last_login_state": last_state,
        "status_changed_at": _nat(n),
        "mfa_enabled": src.boolean("2sv Enrolled [READ ONLY]"),
        "password_enabled": _constant(pd.NA, n, "boolean"),
        "is_root": _constant(False, n, "bool"),
        "two_step_enforced": src.boolean("2sv Enforced [READ ONLY]"),
        "org_unit_path": src.text("Org Unit Path [Required]"),
        "employee_type": src.text("Employee Type"),
        "title": src.text("Employee Title"),
        "manager_email": src.folded("Manager Email"),
        "department": src.text("Department"),
        "cost_center": src.text("Cost Center"),
        "email_usage": src.text("Email Usage [READ ONLY]"),
        "drive_usage": src.text("Drive Usage [READ ONLY]"),
        "total_storage": src.text("Total Storage [READ ONLY]"),
        "storage_used": src.text("Storage Used [READ ONLY]"),
        "storage_limit": src.text("Storage limit [READ ONLY]"),
        "advanced_protection": src.text("Advanced Protection Program enrollment"),
    }, src.lines)
    return src.population("accounts", frame, key=("login",),
                          totals={"status": "status", "2-step enrolled": "mfa_enabled",
                                  "last sign-in": "last_login_state"})
