"""The entity's own policy files: SoD rules, approved privileged access and the SoD mitigation
register."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..context import ReadContext
from ..evidence import Population
from ..frames import _frame
from ..source import _Source


def _split_entitlements(values: np.ndarray) -> pd.Series:
    return pd.Series([tuple(p.strip() for p in v.split(";") if p.strip()) for v in values],
                     dtype=object)


def read_sod_rules(ctx: ReadContext) -> Population:
    """The entity's SoD rule set -> ``sod_rules`` (key ``rule_id``).

    ``entitlements_a``/``entitlements_b`` are tuples of entitlement names (split on ``;``). A
    rule with an empty side can never fire, so it is an error naming the line.
    """
    kind = "sod_rules"
    src = _Source(kind, ctx, required=(
        "rule_id", "system", "function_a", "entitlements_a", "function_b", "entitlements_b",
        "risk_level", "description"))
    for column in ("entitlements_a", "entitlements_b"):
        empty = np.array([not any(p.strip() for p in v.split(";")) for v in src.raw(column)],
                         dtype=bool)
        if empty.any():
            src.fail(column, empty, "one or more entitlement names separated by ';'")
    frame = _frame({
        "rule_id": src.text("rule_id"),
        "system": src.text("system"),
        "function_a": src.text("function_a"),
        "entitlements_a": _split_entitlements(src.raw("entitlements_a")),
        "function_b": src.text("function_b"),
        "entitlements_b": _split_entitlements(src.raw("entitlements_b")),
        "risk_level": src.text("risk_level"),
        "description": src.text("description"),
        # permission-level and cross-system rules are read by kind: mapped (columns level, system_b)
        "level": pd.Series(pd.NA, index=range(src.n), dtype="string"),
        "system_b": pd.Series(pd.NA, index=range(src.n), dtype="string"),
    }, src.lines)
    return src.population("sod_rules", frame, key=("rule_id",),
                          totals={"system": "system", "risk level": "risk_level"})


def read_privileged_access_approved(ctx: ReadContext) -> Population:
    """Management's approved privileged access -> ``privileged_approvals``.

    Key ``system`` + ``account`` + ``entitlement``; ``account`` casefolded (original kept);
    ``approved_on``/``expires_on`` are dates (``expires_on`` empty = no expiry).
    """
    kind = "privileged_access_approved"
    src = _Source(kind, ctx, required=(
        "system", "account", "entitlement", "approved_by", "approved_on", "expires_on"))
    frame = _frame({
        "system": src.text("system"),
        "account": src.folded("account"),
        "account_original": src.text("account"),
        "entitlement": src.text("entitlement"),
        "approved_by": src.text("approved_by"),
        "approved_on": src.date("approved_on"),
        "expires_on": src.date("expires_on"),
    }, src.lines)
    return src.population("privileged_approvals", frame,
                          key=("system", "account", "entitlement"),
                          totals={"system": "system"})


def read_sod_mitigations(ctx: ReadContext) -> Population:
    """The entity's SoD mitigation register -> ``sod_mitigations`` (key ``mitigation_id``).

    One row per approved mitigation of one SoD rule for one user. ``login`` is the user's account
    in the rule's system (or the person's e-mail), casefolded with the original kept;
    ``approved_by`` is casefolded; ``valid_from`` is a required date and ``valid_to`` an optional
    one (empty: open-ended). A ``valid_to`` before ``valid_from`` is an error naming the line.
    Whether a mitigation covers a period (``valid_from`` <= period end <= ``valid_to``) is decided
    by the analytics, not here.
    """
    kind = "sod_mitigations"
    src = _Source(kind, ctx, required=(
        "mitigation_id", "rule_id", "login", "mitigating_control", "approved_by", "valid_from",
        "valid_to"))
    for column in ("mitigation_id", "rule_id", "login", "valid_from"):
        empty = np.asarray(src.raw(column) == "", dtype=bool)
        if empty.any():
            src.fail(column, empty, "a value (required on every row)")
    valid_from = src.date("valid_from")
    valid_to = src.date("valid_to")
    backwards = (valid_to.notna() & (valid_to < valid_from)).to_numpy(dtype=bool)
    if backwards.any():
        src.fail("valid_to", backwards, "a date on or after valid_from")
    frame = _frame({
        "mitigation_id": src.text("mitigation_id"),
        "rule_id": src.text("rule_id"),
        "login": src.folded("login"),
        "login_original": src.text("login"),
        "mitigating_control": src.text("mitigating_control"),
        "approved_by": src.folded("approved_by"),
        "approved_by_original": src.text("approved_by"),
        "valid_from": valid_from,
        "valid_to": valid_to,
    }, src.lines)
    return src.population("sod_mitigations", frame, key=("mitigation_id",),
                          totals={"rule": "rule_id"})
