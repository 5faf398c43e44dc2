"""Cloud accounts: the AWS IAM credential report -> ``accounts`` and IAM group memberships ->
``grants``."""

from __future__ import annotations

import pandas as pd

from ..arrowtext import _fold
from ..context import ReadContext
from ..contract import NEVER, NO_INFORMATION, NOT_APPLICABLE, NOT_SUPPORTED, SET
from ..evidence import Population
from ..frames import (
    _constant,
    _email_or_na,
    _frame,
    _nat,
    _privileged,
    _privileged_list,
    _where_email,
)
from ..source import _Source
from ..timestamps import _AWS_EXAMPLE

_AWS_COLUMNS = (
    "user", "arn", "user_creation_time", "password_enabled", "password_last_used",
    "password_last_changed", "password_next_rotation", "mfa_active", "access_key_1_active",
    "access_key_1_last_rotated", "access_key_1_last_used_date", "access_key_1_last_used_region",
    "access_key_1_last_used_service", "access_key_2_active", "access_key_2_last_rotated",
    "access_key_2_last_used_date", "access_key_2_last_used_region",
    "access_key_2_last_used_service", "cert_1_active", "cert_1_last_rotated", "cert_2_active",
    "cert_2_last_rotated",
)


def read_aws_iam_credential_report(ctx: ReadContext) -> Population:
    """AWS IAM credential report (22 columns) -> ``accounts`` (key ``login``).

    Sentinels are states, not dates: ``password_last_used`` (-> ``last_login_at``/
    ``last_login_state``) ``N/A`` = ``not_applicable`` (no password), ``no_information`` =
    ``no_information``; ``not_supported`` (root) = ``not_supported``. For access keys,
    ``last_used_date`` ``N/A`` is ``never`` when the key exists (has a rotation date) and
    ``not_applicable`` when there is no key. ``password_enabled`` is NA for the root account
    (``not_supported``, raw text in ``password_enabled_original``). Every IAM user listed is
    ``active``; ``is_root`` marks ``<root_account>``.
    """
    kind = "aws_iam_credential_report"
    system_id = ctx.system or "aws_prod"
    src = _Source(kind, ctx, required=_AWS_COLUMNS)
    n = src.n
    na = {"N/A": NOT_APPLICABLE}
    user = src.text("user")
    arn = src.text("arn")
    is_root = ((user == "<root_account>") | arn.str.endswith(":root")).fillna(False).astype(bool)
    last_used, last_used_state = src.timestamp_state(
        "password_last_used", example=_AWS_EXAMPLE,
        sentinels={"N/A": NOT_APPLICABLE, "no_information": NO_INFORMATION,
                   "not_supported": NOT_SUPPORTED}, empty_state=None, epoch_state=NEVER)
    columns: dict[str, pd.Series] = {
        "system": _constant(system_id, n, "string"),
        "account_id": user,
        "login": _fold(user),
        "login_original": user,
        "email": _email_or_na(user),
        "email_original": _where_email(user),
        "employee_id": _constant(pd.NA, n, "string"),
        "display_name": user,
        "status": _constant("active", n, "string"),
        "status_original": _constant(pd.NA, n, "string"),
        "created_at": src.timestamp("user_creation_time", example=_AWS_EXAMPLE),
        "last_login_at": last_used,
        "last_login_state": last_used_state,
        "status_changed_at": _nat(n),
        "mfa_enabled": src.boolean("mfa_active"),
        "password_enabled": src.boolean("password_enabled", sentinels=("not_supported",)),
        "is_root": is_root,
        "arn": arn,
        "password_enabled_original": src.text("password_enabled"),
    }
    for name in ("password_last_changed", "password_next_rotation"):
        values, state = src.timestamp_state(
            name, example=_AWS_EXAMPLE, value_state=SET, empty_state=None,
            sentinels={"N/A": NOT_APPLICABLE, "not_supported": NOT_SUPPORTED})
        columns[name], columns[f"{name}_state"] = values, state
    for k in (1, 2):
        prefix = f"access_key_{k}"
        rotated, rotated_state = src.timestamp_state(
            f"{prefix}_last_rotated", example=_AWS_EXAMPLE, value_state=SET, sentinels=na,
            empty_state=None)
        used, used_state = src.timestamp_state(
            f"{prefix}_last_used_date", example=_AWS_EXAMPLE, sentinels=na, empty_state=None,
            epoch_state=NEVER)
        key_exists = rotated_state == SET
        used_state = used_state.mask((used_state == NOT_APPLICABLE) & key_exists, NEVER)
        columns[f"{prefix}_active"] = src.boolean(f"{prefix}_active")
        columns[f"{prefix}_last_rotated"] = rotated
        columns[f"{prefix}_last_rotated_state"] = rotated_state
        columns[f"{prefix}_last_used_at"] = used
        columns[f"{prefix}_last_used_state"] = used_state
        for part in ("region", "service"):
            text = src.text(f"{prefix}_last_used_{part}")
            columns[f"{prefix}_last_used_{part}"] = text.mask(text == "N/A")
    for k in (1, 2):
        columns[f"cert_{k}_active"] = src.boolean(f"cert_{k}_active")
        rotated, rotated_state = src.timestamp_state(
            f"cert_{k}_last_rotated", example=_AWS_EXAMPLE, value_state=SET, sentinels=na,
            empty_state=None)
        columns[f"cert_{k}_last_rotated"] = rotated
        columns[f"cert_{k}_last_rotated_state"] = rotated_state
    frame = _frame(columns, src.lines)
    return src.population("accounts", frame, key=("login",),
                          totals={"MFA active": "mfa_enabled",
                                  "password enabled": "password_enabled_original",
                                  "password last used": "last_login_state",
                                  "access key 1 active": "access_key_1_active",
                                  "access key 2 active": "access_key_2_active"})


def read_aws_iam_group_memberships(ctx: ReadContext) -> Population:
    """Flattened ``aws iam get-group`` output -> ``grants`` (key ``login`` + ``entitlement``).

    The listing is a point-in-time membership: ``granted_at`` is unknown (NaT) and ``removed_at``
    NaT (held at extraction). Extra column: ``arn``.
    """
    kind = "aws_iam_group_memberships"
    system_id = ctx.system or "aws_prod"
    src = _Source(kind, ctx, required=("GroupName", "UserName", "UserArn"))
    table = _privileged_list(src, system_id)
    n = src.n
    systems = _constant(system_id, n, "string")
    group = src.text("GroupName")
    user = src.text("UserName")
    frame = _frame({
        "system": systems,
        "account_id": user,
        "login": _fold(user),
        "login_original": user,
        "email": _email_or_na(user),
        "email_original": _where_email(user),
        "entitlement": group,
        "entitlement_type": _constant("group", n, "string"),
        "privileged": _privileged(systems, group, table),
        "granted_at": _nat(n),
        "removed_at": _nat(n),
        "account_status": _constant(pd.NA, n, "string"),
        "arn": src.text("UserArn"),
    }, src.lines)
    return src.population("grants", frame, key=("login", "entitlement"),
                          totals={"group": "entitlement"}, duplicates="drop")
