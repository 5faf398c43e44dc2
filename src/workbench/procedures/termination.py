"""Termination and deprovisioning: CC6.2 and SOX access to programs and data.

Every account a leaver of the period held when they left is an item: their IdP identity (Okta),
their ERP account, their AWS IAM user and their GitHub membership. Point-in-time listings (IAM
users, GitHub members) drop removed accounts, so a leaver's access there is taken from the IdP
assignment report, whose ``Unassigned on`` is the removal time; the period-end listing confirms
the removal. Each account must be removed within the SLA (default: the next business day) and
not used after the termination day; ERP removals must be supported by an approved revoke request.

Full-population analytics first: terminated with active access (every leaver up to extraction),
late removal, access used after termination, and orphan accounts (no HR identity; service accounts, by
the period file's ``systems[].service_accounts`` patterns (default ``svc-*``), excluded; the UAR
reports the same accounts as review population gaps).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from workbench import analytics, populations, workpapers
from workbench.freshness import Claim
from workbench.procedures.base import (
    ACCESS_LISTINGS,
    ACCESS_REQUESTS,
    CREDENTIAL_REPORTS,
    HR,
    IDENTITY_ALIASES,
    IDP_ASSIGNMENTS,
    IDP_USERS,
    ControlTest,
)


class Settings(BaseModel):
    """The ``settings:`` block of a termination control in the period file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sla_business_days: int = Field(1, ge=0)
    # Systems whose removals must be supported by an approved revoke request (e.g. the ERP).
    removal_ticket_systems: list[str] = Field(default_factory=list)


ATTRIBUTES = {
    "T1_access_removed": "T1 The account is no longer active in the period-end listing",
    "T2_removed_within_sla": "T2 The access was removed within the SLA after the termination date",
    "T3_not_used_after_termination": "T3 The account was not used after the termination day",
    "T4_removal_approved": "T4 The removal is supported by an approved revoke request (systems that require one)",
}


@dataclass
class TerminationTest(ControlTest):
    """Leavers' accounts at termination, each traced to its removal."""

    Settings = Settings
    SOURCE_ROLES = {
        "hr": HR,
        "identity_aliases": IDENTITY_ALIASES,
        "idp_users": IDP_USERS,
        "idp_assignments": IDP_ASSIGNMENTS,
        "access_listings": ACCESS_LISTINGS,
        "credential_reports": CREDENTIAL_REPORTS,
        "access_requests": replace(
            ACCESS_REQUESTS, required=False,
            limitation="no access request tickets: T4 (removal approved by a revoke request) is not tested"),
    }
    ATTRIBUTES = ATTRIBUTES
    ITEM_NOUN = "leaver accounts"
    OCCASION = "no terminations"
    SAMPLE_COLUMNS = ["subject", "system", "account", "terminated", "removed", "last_used"]
    FRESHNESS_CLAIMS = (
        Claim("hr", "period_end", "the period end", "the leavers of the period (HR termination dates)", "after"),
        Claim("idp_users", "period_end", "the period end", "leavers' IdP identities active or deactivated (T1)"),
        Claim("idp_assignments", "period_end", "the period end", "leavers' application assignments and removals (T2)"),
        Claim("access_listings", "period_end", "the period end", "leavers' access held or removed (T1, T2)"),
        Claim("credential_reports", "period_end", "the period end", "leavers' IAM users held or removed (T1)"),
    )

    # --- 1. objective -------------------------------------------------------------------------
    def objective(self) -> workpapers.HtmlBlock:
        s = self.settings
        rows = [
            ("Objective", "Access of terminated workers is removed from every in-scope system timely (within the SLA) "
                          "and is not used after termination; no account exists without an HR identity."),
            ("Procedure", "Take the HR leavers of the period; build every system's account inventory from the IdP, the "
                          "application listings, the credential report and the IdP assignment report; run the "
                          "termination analytics over every account; select a sample of leaver accounts stratified by "
                          "framework scope and test T1–T4; evaluate and conclude per framework."),
            ("Systems in scope", ", ".join(self.params.system(x).name for x in self.control.systems)),
            ("Leavers", f"HR termination date from {self.params.period.start} to {self.params.period.end}; "
                        f"'terminated with active access' covers every leaver up to extraction"),
            ("Removal SLA", f"{s.sla_business_days} business day(s) after the termination date (Mon–Fri)"),
            ("Removal evidence", "IdP deactivation time; ERP role end dates; for point-in-time listings "
                                 f"({', '.join(self.point_in_time_systems) or 'none'}) the IdP's 'Unassigned on' and "
                                 "absence from the period-end listing"),
            ("Revoke requests required", ", ".join(s.removal_ticket_systems) or "none"),
            ("Orphan accounts", "active accounts mapped to no HR worker; service accounts "
                                f"({self.service_account_text()}) excluded"),
        ]
        return workpapers.key_values(rows)

    # --- 2. population --------------------------------------------------------------------------
    @property
    def identities(self) -> pd.DataFrame:
        return self.frame("hr")

    @cached_property
    def listings(self) -> pd.DataFrame:
        return self.correlate(self.frames("access_listings"))

    @cached_property
    def credential_report(self) -> pd.DataFrame:
        parts = [self.load(s).frame.assign(listing=self.label(s)) for s in self.source_ids("credential_reports")]
        report = pd.concat(parts, ignore_index=True)
        return self.correlate(report)

    @cached_property
    def point_in_time_systems(self) -> list[str]:
        """Systems whose listings carry no grant or removal dates (removed accounts simply vanish):
        those listed without one dated row (worked out once, from the distinct systems)."""
        listings = self.listings
        dated = set(listings.loc[listings["granted_at"].notna(), "system"].dropna().unique())
        undated = set(listings["system"].dropna().unique()) - dated
        return sorted((undated | set(self.credential_report["system"])) & set(self.control.systems))

    @cached_property
    def inventory(self) -> pd.DataFrame:
        """Every account of every in-scope system, active or removed, with its person."""
        idp = self.source_ids("idp_users")[0]
        present = [analytics.listing_accounts(self.listings, "listing"),
                   analytics.credential_accounts(self.credential_report, "credential report")]
        listed = pd.concat(present, ignore_index=True)
        assignments = self.frame("idp_assignments")
        parts = [self.idp_accounts(self.frame("idp_users"), self.label(idp)), listed,
                 analytics.assignment_accounts(assignments, self.point_in_time_systems, listed, None,
                                               self.label(self.source_ids("idp_assignments")[0]),
                                               directory=self.identity)]
        inventory = pd.concat(parts, ignore_index=True)
        return inventory[inventory["system"].isin(self.control.systems)].reset_index(drop=True)

    @cached_property
    def leavers(self) -> pd.DataFrame:
        """The sampling frame: accounts that leavers of the period held when they left."""
        frame = analytics.leaver_accounts(self.inventory, self.identities, self.params.period.start, self.params.period.end)
        frame["subject"] = frame["person_email"]
        frame["detail_key"] = frame["system"] + "|" + frame["login"]
        frame["item_key"] = frame["person_email"] + "|" + frame["detail_key"]
        frame["scope"] = self.scopes_of(frame["system"])
        frame["account"] = frame["login_original"].fillna(frame["login"])
        frame["terminated"] = frame["termination_date"].dt.strftime("%Y-%m-%d")
        frame["removed"] = frame["removed_at"].dt.strftime("%Y-%m-%d").where(~frame["active"], "still active")
        frame["last_used"] = frame["last_used_at"].dt.strftime("%Y-%m-%d").fillna(frame["last_used_state"])
        frame["evidence_reference"] = [analytics.evidence_reference(label, line)
                                       for label, line in zip(frame["listing"], frame["line"])]
        frame = frame[frame["scope"] != "out of scope"].drop_duplicates("item_key")
        return frame.sort_values("item_key", kind="mergesort").reset_index(drop=True)

    def population(self) -> pd.DataFrame:
        return self.leavers

    def population_evidence(self) -> list[workpapers.HtmlBlock]:
        return super().population_evidence() + [workpapers.table(self.reconciliation(), "Reconciliation of the leaver population")]

    def reconciliation(self) -> pd.DataFrame:
        """Control totals: HR leavers, their IdP identities, and their accounts per system."""
        hr = self.identities
        start, end = pd.Timestamp(self.params.period.start), pd.Timestamp(self.params.period.end)
        leavers = hr[hr["termination_date"].notna() & (hr["termination_date"] >= start) & (hr["termination_date"] <= end)]
        idp = self.inventory[self.inventory["system"] == "okta"] if "okta" in self.control.systems else None
        rows = [("HR workers terminated in the period", len(leavers), None)]
        if idp is not None:
            match = populations.reconcile(leavers, idp, "email", "person_email", "HR leavers", "IdP identities")
            rows.append(("HR leavers with an IdP identity", match.matched_keys, len(leavers)))
        frame = self.leavers
        for system in self.control.systems:
            rows.append((f"Leaver accounts at termination: {self.params.system(system).name}",
                         int((frame["system"] == system).sum()), None))
        rows.append(("Leaver accounts in the sampling frame", len(frame), None))
        rows.append(("of which still active at extraction", int(frame["active"].sum()), None))
        return self.checks_table(rows)

    # --- 3. analytics ---------------------------------------------------------------------------
    def run_analytics(self) -> pd.DataFrame:
        """Terminated with active access, late removal, use after termination, orphan accounts."""
        extracted = self.extracted_at("idp_users")
        self.hits = self.combine_hits([
            analytics.terminated_with_active_access(self.inventory, self.identities, extracted),
            analytics.late_deprovisioning(self.leavers, self.settings.sla_business_days),
            analytics.access_after_termination(self.leavers),
            analytics.orphan_accounts(self.inventory),
        ])
        return self.hits

    def timeline(self) -> pd.DataFrame:
        """Leaver accounts per system by how many business days their removal took."""
        frame = self.leavers
        lag = frame["removal_business_days"].astype("Float64")
        bucket = pd.Series("unknown", index=frame.index)
        bucket[lag.notna() & (lag == 0)] = "same day"
        bucket[lag.notna() & (lag > 0) & (lag <= self.settings.sla_business_days)] = "within SLA"
        bucket[lag.notna() & (lag > self.settings.sla_business_days)] = "after SLA"
        bucket[frame["active"]] = "still active"
        return pd.crosstab(frame["system"], bucket).reset_index().rename_axis(columns=None)

    # --- 5. attributes --------------------------------------------------------------------------
    def test_attributes(self, items: pd.DataFrame) -> pd.DataFrame:
        """Test T1–T4 on each selected leaver account."""
        result = items.copy()
        active = result["active"].astype(bool)
        result["T1_access_removed"] = self.verdict(~active)
        lag = result["removal_business_days"].astype("Float64")
        result["T2_removed_within_sla"] = self.verdict((lag <= self.settings.sla_business_days).fillna(False), ~active)
        used_day = analytics._utc_day(result["last_used_at"])
        used_after = (used_day > result["termination_date"]).fillna(False)
        result["T3_not_used_after_termination"] = self.verdict(~used_after)
        applies = result["system"].isin(self.settings.removal_ticket_systems) & ~active
        if not self.given("access_requests"):  # no tickets: the removal ticket is not tested (scope limitation)
            result["T4_removal_approved"] = pd.Series("not tested", index=result.index).where(applies, "n/a")
            return result
        requests = self.frame("access_requests")
        revokes = requests[(requests["action"] == "revoke") & (requests["approval"] == "approved")]
        ticketed = set(zip(revokes["requested_for"], revokes["system"]))
        has_ticket = pd.Series([(p, s) in ticketed for p, s in zip(result["person_email"], result["system"])],
                               index=result.index)
        result["T4_removal_approved"] = self.verdict(has_ticket, applies)
        return result
