"""User provisioning: CC6.2 / CC6.3 and SOX access to programs and data.

Every new grant of the period is an item: ERP roles whose ``ROLE_ASSIGNED_DATE`` falls in the
period (the role listing keeps roles removed during the period, so grants made and removed within
it are in the frame) and IdP application assignments made in the period for in-scope systems
whose own listings carry no grant dates (AWS IAM groups, GitHub membership). Each grant must rest
on an approved access request, approved before the access was granted, by the recipient's HR
manager and by someone other than the recipient and the requester. Under SOX (the financially
significant ERP) a new role must also not create a segregation-of-duties conflict.

Full-population analytics first (access without approval, approval after grant, self-approval,
approver not the manager); then a stratified sample of grants with attributes P1–P5.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from workbench import analytics, workpapers
from workbench.freshness import Claim
from workbench.procedures.base import (
    ACCESS_REQUESTS,
    HR,
    IDENTITY_ALIASES,
    IDP_ASSIGNMENTS,
    SOD_MITIGATIONS,
    SOD_RULES,
    ControlTest,
    SourceRole,
)


class Settings(BaseModel):
    """The ``settings:`` block of a provisioning control in the period file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # How long before the grant the approval must be given (0: any time before).
    min_approval_lead_minutes: int = Field(0, ge=0)
    # Systems whose new grants are read from the IdP assignment report. Default: the control's
    # systems that have no dated role listing (point-in-time listings such as IAM groups).
    assignment_systems: list[str] | None = None


ATTRIBUTES = {
    "P1_request_approved": "P1 An approved access request exists for the person, system and entitlement",
    "P2_approved_before_grant": "P2 The request was approved before the access was granted",
    "P3_approver_independent": "P3 The approver is neither the recipient nor the requester",
    "P4_approver_is_manager": "P4 The approver is the recipient's manager per HR",
    "P5_no_sod_conflict": "P5 The new role does not create an SoD conflict (ERP; valid mitigations honoured)",
}


@dataclass
class ProvisioningTest(ControlTest):
    """New access granted in the period, each traced to its approved request."""

    Settings = Settings
    SOURCE_ROLES = {
        "hr": HR,
        "identity_aliases": IDENTITY_ALIASES,
        "role_grants": SourceRole("the dated role listings: when each role was assigned and removed", ("grants",),
                                  several=True),
        "idp_assignments": IDP_ASSIGNMENTS,
        "access_requests": ACCESS_REQUESTS,
        "sod_rules": SOD_RULES,
        "sod_mitigations": SOD_MITIGATIONS,
    }
    ATTRIBUTES = ATTRIBUTES
    ITEM_NOUN = "new grants"
    OCCASION = "no access granted"
    SAMPLE_COLUMNS = ["subject", "system", "entitlement", "granted", "ticket", "approver"]
    FRESHNESS_CLAIMS = (
        Claim("role_grants", "period_end", "the period end", "every role granted in the period (the new-grant frame)"),
        Claim("idp_assignments", "period_end", "the period end", "every application assigned in the period "
                                                                 "(the new-grant frame)"),
    )

    # --- 1. objective -------------------------------------------------------------------------
    def objective(self) -> workpapers.HtmlBlock:
        """Objective, procedure and the settings that shape the test."""
        rows = [
            ("Objective", "New access is granted only when authorised: an approved request, approved by the "
                          "recipient's manager before the access is granted, and never by the recipient or the "
                          "requester; in the financially significant ERP, new access does not create an SoD conflict."),
            ("Procedure", "Take every grant made in the period from the dated role listings and the IdP assignment "
                          "report; reconcile the frame; match every grant to the access requests (full population); "
                          "select a sample stratified by framework scope and test attributes P1–P5; evaluate and "
                          "conclude per framework."),
            ("Systems in scope", ", ".join(self.params.system(s).name for s in self.control.systems)),
            ("Period", f"{self.params.period.start} to {self.params.period.end}"),
            ("Grants from dated role listings", ", ".join(sorted(self.role_systems)) or "none"),
            ("Grants from IdP assignments", ", ".join(self.assignment_systems) or "none"),
            ("Approval lead time", f"approved at least {self.settings.min_approval_lead_minutes} minutes before the grant"),
            ("SoD check (P5)", "roles held at the moment of the grant against policy/sod_rules.csv; a mitigation valid "
                               "at the period end excuses a conflict"),
        ]
        return workpapers.key_values(rows)

    # --- 2. population --------------------------------------------------------------------------
    @property
    def identities(self) -> pd.DataFrame:
        return self.frame("hr")

    @cached_property
    def role_listing(self) -> pd.DataFrame:
        """The dated role listings, each grant correlated to its HR person."""
        return self.correlate(self.frames("role_grants"))

    @property
    def role_systems(self) -> set[str]:
        return set(self.role_listing["system"].dropna()) & set(self.control.systems)

    @property
    def assignment_systems(self) -> list[str]:
        if self.settings.assignment_systems is not None:
            return list(self.settings.assignment_systems)
        return [s for s in self.control.systems if s not in self.role_systems and s != "okta"]

    @property
    def requests_label(self) -> str:
        return self.label(self.source_ids("access_requests")[0])

    @cached_property
    def new_access(self) -> pd.DataFrame:
        """Every grant of the period in the control's systems, matched to its best access request."""
        roles = analytics.new_grants(self.role_listing, self.period_start, self.period_end)
        roles = roles[roles["system"].isin(self.role_systems)].assign(entitlement_level=True)
        assignment_source = self.source_ids("idp_assignments")[0]
        assignments = self.frame("idp_assignments")
        assignments = assignments[assignments["system"].isin(self.assignment_systems)]
        assignments = self.correlate(assignments)
        made = analytics.new_grants(assignments, self.period_start, self.period_end)
        made = made.assign(entitlement_level=False, listing=self.label(assignment_source))
        frame = pd.concat([roles, made], ignore_index=True)
        matched = analytics.match_approvals(frame, self.frame("access_requests"), self.identities,
                                            pd.Timedelta(minutes=self.settings.min_approval_lead_minutes))
        matched["subject"] = analytics.subject_of(matched)
        matched["detail_key"] = analytics.grant_detail_key(matched)
        matched["item_key"] = matched["system"] + "|" + matched["login"].astype("string") + "|" \
            + matched["detail_key"].str.split("|", n=1).str[1]
        matched["scope"] = self.scopes_of(matched["system"])
        matched["granted"] = matched["granted_at"].dt.strftime("%Y-%m-%d %H:%M")
        matched["evidence_reference"] = [analytics.evidence_reference(label, line)
                                         for label, line in zip(matched["listing"], matched["line"])]
        return matched[matched["scope"] != "out of scope"].sort_values("item_key", kind="mergesort") \
            .reset_index(drop=True)

    def population(self) -> pd.DataFrame:
        return self.new_access

    def population_evidence(self) -> list[workpapers.HtmlBlock]:
        """IPE evidence of every source, and the reconciliation of the sampling frame."""
        return super().population_evidence() + [workpapers.table(self.reconciliation(), "Reconciliation of the new-grant frame")]

    def reconciliation(self) -> pd.DataFrame:
        """Control totals: grants in the period per source, the frame, and requests without a grant."""
        frame = self.new_access
        roles = analytics.new_grants(self.role_listing, self.period_start, self.period_end)
        roles = roles[roles["system"].isin(self.role_systems)]
        from_roles = int(frame["entitlement_level"].sum())
        from_assignments = int((~frame["entitlement_level"].astype(bool)).sum())
        requests = self.frame("access_requests")
        approved = requests[(requests["action"] == "grant") & (requests["approval"] == "approved")
                            & requests["system"].isin(self.control.systems)]
        used = set(frame["ticket"].dropna())
        return self.checks_table([
            ("Role listing rows (all)", len(self.role_listing), None),
            ("Roles assigned in the period (ROLE_ASSIGNED_DATE)", from_roles, len(roles)),
            ("of which already removed again by the period end", int(roles["removed_at"].notna().sum()), None),
            (f"IdP assignments made in the period ({', '.join(self.assignment_systems)})", from_assignments, None),
            ("New grants in the sampling frame", len(frame), from_roles + from_assignments),
            ("Approved grant requests for the control's systems", len(approved), None),
            ("Approved grant requests matched to no new grant", len(set(approved["ticket"]) - used), None),
            ("Rejected or pending requests (never provisioned)", int(requests["approval"].isin(["rejected", "requested"]).sum()), None),
        ])

    # --- 3. analytics ---------------------------------------------------------------------------
    def run_analytics(self) -> pd.DataFrame:
        """Every new grant against the access requests: the four provisioning rules."""
        frame, listing, requests = self.new_access, "role listing", self.requests_label
        self.hits = self.combine_hits([
            analytics.grants_without_approval(frame, listing, requests),
            analytics.approvals_after_grant(frame, listing, requests),
            analytics.self_approved_grants(frame, listing, requests),
            analytics.approvers_not_manager(frame, listing, requests),
        ])
        return self.hits

    def approval_summary(self) -> pd.DataFrame:
        """New grants per system and how their approval looks."""
        frame = self.new_access.copy()
        frame["result"] = "approved by the manager before the grant"
        frame.loc[~frame["approver_is_manager"], "result"] = "approver not the manager"
        frame.loc[~frame["approver_independent"], "result"] = "self-approved"
        frame.loc[~frame["approver_independent"] & frame["approver"].astype("string").isna(), "result"] = \
            "no approver recorded"
        frame.loc[~frame["approved_before"], "result"] = "approved after the grant"
        frame.loc[~frame["has_request"], "result"] = "no approved request"
        return frame.groupby(["system", "result"]).size().rename("new grants").reset_index()

    # --- 5. attributes --------------------------------------------------------------------------
    @cached_property
    def mitigated(self) -> set[tuple[str, str]]:
        """(rule id, login or e-mail) of the SoD mitigations valid at the period end."""
        if "sod_mitigations" not in self.control.sources:
            return set()
        register = self.frame("sod_mitigations")
        end = pd.Timestamp(self.params.period.end)
        valid = register[(register["valid_from"] <= end) & (register["valid_to"].isna() | (register["valid_to"] >= end))]
        return set(zip(valid["rule_id"], valid["login"]))

    def test_attributes(self, items: pd.DataFrame) -> pd.DataFrame:
        """Test P1–P5 on each selected grant: 'pass', 'fail' or 'n/a' per attribute."""
        result = items.copy()
        has = result["has_request"].astype(bool)
        result["P1_request_approved"] = self.verdict(has)
        result["P2_approved_before_grant"] = self.verdict(result["approved_before"], has)
        result["P3_approver_independent"] = self.verdict(result["approver_independent"], has)
        result["P4_approver_is_manager"] = self.verdict(result["approver_is_manager"], has)
        rules = self.frame("sod_rules")
        created = analytics.sod_conflicts_created(result, self.role_listing, rules)
        mitigated = [all((rule, login) in self.mitigated or (rule, str(person)) in self.mitigated
                         for rule in rules_hit)
                     for rules_hit, login, person in zip(created, result["login"], result["person_email"])]
        applies = result["system"].isin(set(rules["system"])) & result["entitlement_level"].astype(bool)
        result["sod_rules_created"] = [", ".join(r) for r in created]
        result["P5_no_sod_conflict"] = self.verdict(pd.Series(mitigated, index=result.index), applies)
        return result
