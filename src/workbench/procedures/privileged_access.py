"""Privileged access: CC6.1 / CC6.3 and SOX access to programs and data.

Every privileged membership in the period-end listings is an item (ERP System and Security
Administrator, AWS Administrators / PowerUsers / BillingAdmins, GitHub organisation owners). Each
must be on management's approved list for the same system, account and entitlement, with an
approval current at the period end and given by someone other than the holder, and must have
been reviewed (a decided, privileged line) in the period's user access review campaign.

Full-population analytics first: privileged drift (membership minus the approved list), expired
approvals, privileged access not reviewed; then a stratified sample with attributes PA1–PA4.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import pandas as pd
from pydantic import BaseModel, ConfigDict

from workbench import analytics, workpapers
from workbench.freshness import Claim
from workbench.procedures.base import ACCESS_LISTINGS, HR, IDENTITY_ALIASES, IDP_CORRELATION, ControlTest, SourceRole


class Settings(BaseModel):
    """The ``settings:`` block of a privileged access control in the period file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # Snapshot of the period's access review campaign: privileged access held then must be reviewed.
    review_snapshot_date: dt.date | None = None


ATTRIBUTES = {
    "PA1_on_approved_list": "PA1 The privileged access is on management's approved list (system, account, entitlement)",
    "PA2_approval_current": "PA2 The approval is current at the period end (not expired)",
    "PA3_approver_independent": "PA3 The approval was given by someone other than the holder",
    "PA4_reviewed_in_campaign": "PA4 The access was reviewed in the period's access review (line present, flagged privileged, decided)",
}


@dataclass
class PrivilegedAccessTest(ControlTest):
    """Privileged memberships at period end against the approved list and the review campaign."""

    Settings = Settings
    SOURCE_ROLES = {
        "hr": HR,
        "identity_aliases": IDENTITY_ALIASES,
        "idp_assignments": IDP_CORRELATION,
        "access_listings": ACCESS_LISTINGS,
        "privileged_approved": SourceRole("management's approved list of privileged access", ("privileged_approvals",)),
        "review_decisions": SourceRole(
            "the access review campaign's decisions (PA4: privileged access reviewed)", ("review_decisions",),
            required=False, required_with="review_snapshot_date",
            limitation="no access review decisions (with settings.review_snapshot_date): PA4 (privileged access "
                       "reviewed in the campaign) is not tested and the privileged not reviewed rule is not run"),
    }
    ATTRIBUTES = ATTRIBUTES
    ITEM_NOUN = "privileged memberships"
    OCCASION = "no privileged access held"
    SAMPLE_COLUMNS = ["subject", "system", "account", "entitlement", "approval", "approved_by", "expires_on"]
    FRESHNESS_CLAIMS = (
        Claim("access_listings", "period_end", "the period end", "privileged memberships at the period end (PA1–PA3)"),
        Claim("access_listings", "snapshot", "the review snapshot", "privileged access held at the review snapshot "
                                                                    "(PA4)"),
    )

    # --- 1. objective -------------------------------------------------------------------------
    def objective(self) -> workpapers.HtmlBlock:
        snapshot = self.settings.review_snapshot_date
        rows = [
            ("Objective", "Privileged (administrative) access is restricted to approved administrators, approvals are "
                          "current and independent, and privileged access is reviewed periodically."),
            ("Procedure", "Take every privileged membership from the period-end listings; compare the full population "
                          "with the approved list and the review campaign; select a sample stratified by framework "
                          "scope and test PA1–PA4; evaluate and conclude per framework."),
            ("Systems in scope", ", ".join(self.params.system(s).name for s in self.control.systems)),
            ("Privileged entitlements", "; ".join(f"{self.params.system(s).name}: {', '.join(sorted(e))}"
                                                  for s, e in self.privileged_catalogue().items())),
            ("Approval current", f"expires on or after the period end {self.params.period.end}"),
            ("Review campaign", f"snapshot {snapshot}" if snapshot else "not tested (no snapshot date)"),
        ]
        return workpapers.key_values(rows)

    def privileged_catalogue(self) -> dict[str, set[str]]:
        frame = self.grants[self.grants["privileged"].astype(bool)]
        return {s: set(g["entitlement"]) for s, g in frame.groupby("system") if s in self.control.systems}

    # --- 2. population --------------------------------------------------------------------------
    @property
    def identities(self) -> pd.DataFrame:
        return self.frame("hr")

    @cached_property
    def grants(self) -> pd.DataFrame:
        return self.correlate(self.frames("access_listings"))

    @property
    def approved_label(self) -> str:
        return self.label(self.source_ids("privileged_approved")[0])

    @cached_property
    def memberships(self) -> pd.DataFrame:
        """The sampling frame: privileged memberships at period end with their approval status."""
        held = analytics.privileged_memberships(self.grants)
        held = held[held["system"].isin(self.control.systems)]
        frame = analytics.approval_status(held, self.frame("privileged_approved"), self.params.period.end)
        frame["subject"] = analytics.subject_of(frame)
        frame["detail_key"] = frame["system"] + "|" + frame["login"] + "|" + frame["entitlement"]
        frame["item_key"] = frame["detail_key"]
        frame["scope"] = self.scopes_of(frame["system"])
        frame["account"] = frame["login_original"].fillna(frame["login"])
        frame["expires_on"] = frame["expires_on"].dt.strftime("%Y-%m-%d")
        frame["evidence_reference"] = [analytics.evidence_reference(label, line)
                                       for label, line in zip(frame["listing"], frame["line"])]
        frame = frame[frame["scope"] != "out of scope"].drop_duplicates("item_key")
        return frame.sort_values("item_key", kind="mergesort").reset_index(drop=True)

    def population(self) -> pd.DataFrame:
        return self.memberships

    def population_evidence(self) -> list[workpapers.HtmlBlock]:
        return super().population_evidence() + [workpapers.table(self.reconciliation(), "Reconciliation of privileged access")]

    def reconciliation(self) -> pd.DataFrame:
        """Control totals: memberships per system, approved list rows, review lines."""
        frame = self.memberships
        approved = self.frame("privileged_approved")
        approved = approved[approved["system"].isin(self.control.systems)]
        held_keys = set(zip(frame["system"], frame["login"], frame["entitlement"].str.casefold()))
        stale = [k for k in zip(approved["system"], approved["account"], approved["entitlement"].str.casefold())
                 if k not in held_keys]
        rows = [(f"Privileged memberships: {self.params.system(s).name}", int((frame["system"] == s).sum()), None)
                for s in self.control.systems]
        rows += [("Privileged memberships in the sampling frame", len(frame), None),
                 ("Approved list rows for the control's systems", len(approved), None),
                 ("Approved list rows matched to a membership", len(approved) - len(stale), None),
                 ("Approved list rows with no membership (not exceptions: unused approvals)", len(stale), None)]
        if self.settings.review_snapshot_date and "review_decisions" in self.control.sources:
            lines = self.frame("review_decisions")
            rows.append(("Privileged lines in the review campaign", int(lines["privileged"].sum()), None))
        return self.checks_table(rows)

    # --- 3. analytics ---------------------------------------------------------------------------
    @property
    def snapshot(self) -> pd.Timestamp | None:
        day = self.settings.review_snapshot_date
        return None if day is None else pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)

    def run_analytics(self) -> pd.DataFrame:
        """Privileged drift, expired approvals and privileged access not reviewed."""
        parts = [analytics.privileged_drift(self.memberships, "listing", self.approved_label)]
        if self.snapshot is not None:
            parts.append(analytics.privileged_not_reviewed(self.memberships, self.frame("review_decisions"),
                                                           self.identities, self.snapshot, "listing"))
        self.hits = self.combine_hits(parts)
        return self.hits

    def rules_run(self) -> tuple[str, ...]:
        return ("privileged_drift", "privileged_approval_expired") + \
            (("privileged_not_reviewed",) if self.snapshot is not None else ())

    def approval_summary(self) -> pd.DataFrame:
        """Privileged memberships per system and entitlement, by approval status."""
        return pd.crosstab([self.memberships["system"], self.memberships["entitlement"]],
                           self.memberships["approval"]).reset_index().rename_axis(columns=None)

    # --- 5. attributes --------------------------------------------------------------------------
    def test_attributes(self, items: pd.DataFrame) -> pd.DataFrame:
        """Test PA1–PA4 on each selected membership."""
        result = items.copy()
        listed = result["approval"] != "missing"
        result["PA1_on_approved_list"] = self.verdict(listed)
        result["PA2_approval_current"] = self.verdict(result["approval"] == "current", listed)
        approver = result["approved_by"].astype("string").str.casefold()
        independent = approver.notna() & (approver != result["person_email"].astype("string")).fillna(True)
        result["PA3_approver_independent"] = self.verdict(independent, listed)
        if self.snapshot is None:
            result["PA4_reviewed_in_campaign"] = "n/a"
            return result
        missing = analytics.privileged_not_reviewed(items, self.frame("review_decisions"), self.identities,
                                                    self.snapshot, "listing")
        held_then = analytics.held_at_snapshot(items, self.identities, self.snapshot)
        result["PA4_reviewed_in_campaign"] = self.verdict(~result["detail_key"].isin(set(missing["detail_key"])), held_then)
        return result
