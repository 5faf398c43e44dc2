"""Program change control: SOC 2 CC8.1 and the SOX ITGC domain program change.

The population is every change to the control's systems in the period: each pull or merge request
merged in the period, with its approvals, its first production deployment and the change ticket it
names, and each production deployment of the period that deployed no reviewed change
(:mod:`workbench.change_control`). Full-population analytics first: deployed without an approved
ticket, approved after the deployment, emergency changes not approved retrospectively in the
policy's days, merged without an independent approval (none, only the author's, only after the
merge), unreviewed deployments, developers with production deploy access and authors who deployed
their own change (segregation of duties between develop and deploy), deployments outside the change
window. Changes to financially significant systems feed the SOX conclusion. Then a stratified sample
with attributes C1-C4.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from workbench import analytics, change_control, workpapers
from workbench.freshness import Claim
from workbench.procedures.base import HR, IDENTITY_ALIASES, IDP_ASSIGNMENTS, ControlTest, SourceRole

#: The tables whose people are accounts of the source-control system (``settings.account_system``).
CODE_TABLES = ("code_changes", "code_reviews", "deployments")
Weekday = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


class StandingWindow(BaseModel):
    """The entity's standing change window (``settings.change_window``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    days: list[Weekday] = Field(min_length=1)
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not an IANA time zone (e.g. Europe/London, UTC)") from None
        return value


class Settings(BaseModel):
    """The ``settings:`` block of a change management control in the period file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # The deployment environments that are production (matched ignoring case).
    production_environments: list[str] = Field(default_factory=lambda: ["production", "prod"], min_length=1)
    # The branches a merge into which changes the program (empty: every branch).
    target_branches: list[str] = Field(default_factory=list)
    # How changes and deployments name their change tickets (a regular expression).
    ticket_pattern: str = change_control.DEFAULT_TICKET_PATTERN
    # The policy's days for the retrospective approval of an emergency change.
    emergency_approval_days: int = Field(2, ge=0)
    # The standing change window, for deployments whose ticket plans no window of its own.
    change_window: StandingWindow | None = None
    # The entitlements of the deploy_access listings that allow a production deployment (ignoring
    # case; empty: every entitlement the listings give).
    deploy_entitlements: list[str] = Field(default_factory=list)
    # The system whose accounts write, review and deploy changes (e.g. github): its identity_match
    # rules tie the logins of the change exports to workers. Default: the repository's own system.
    account_system: str | None = None

    @field_validator("ticket_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        import re
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


ATTRIBUTES = {
    "C1_ticket_approved_before_deploy": "C1 An approved change ticket exists and was approved before the deployment "
                                        "(an emergency change: within the policy's days after it)",
    "C2_testing_evidence": "C2 The change ticket carries testing evidence",
    "C3_approver_independent": "C3 The change was approved before its merge by someone other than its author, and "
                               "the ticket's approver is not the author",
    "C4_deployment_matches_change": "C4 The deployment deployed the approved change: the merge commit of the reviewed "
                                    "change, to the system the ticket names, inside its approved window",
}


@dataclass
class ChangeManagementTest(ControlTest):
    """Changes to production in the period, each traced to its review, deployment and ticket."""

    Settings = Settings
    SOURCE_ROLES = {
        "hr": HR,
        "identity_aliases": IDENTITY_ALIASES,
        # Only for the identity-match rule application_login (source-control logins the IdP assigned):
        # without it the account system's other rules tie them, so nothing goes untested.
        "idp_assignments": replace(IDP_ASSIGNMENTS, required=False),
        "code_changes": SourceRole("the merged pull or merge requests of the repositories (GitHub, GitLab)",
                                   ("code_changes",), several=True),
        "code_reviews": SourceRole("the reviews and approvals of those changes", ("code_reviews",), several=True),
        "deployments": SourceRole("the CI/CD deployment logs: environment, time, who, commit", ("deployments",),
                                  several=True),
        "change_tickets": SourceRole("the change tickets (ServiceNow change_request, Jira)", ("change_tickets",),
                                     several=True),
        "deploy_access": SourceRole(
            "the access listings that give production deploy access (e.g. a deployers group, a pipeline role)",
            ("grants",), required=False, several=True,
            limitation="no listing of production deploy access: developers who can deploy to production are not "
                       "identified; segregation of duties between develop and deploy rests on who deployed each "
                       "change only (author_deployed_own_change)"),
    }
    ATTRIBUTES = ATTRIBUTES
    # A log of the period's changes extracted before the period ended misses its last changes; the
    # deploy-access listing is read as it stood at the period end (workbench.freshness).
    FRESHNESS_CLAIMS = (
        Claim("code_changes", "period_end", "the period end", "the changes merged in the period (population)", "after"),
        Claim("code_reviews", "period_end", "the period end", "the reviews and approvals of those changes", "after"),
        Claim("deployments", "period_end", "the period end", "the production deployments of the period", "after"),
        Claim("change_tickets", "period_end", "the period end", "the change tickets and their approvals", "after"),
        Claim("deploy_access", "period_end", "the period end", "who holds production deploy access"),
    )
    ITEM_NOUN = "changes"
    OCCASION = "no change deployed or merged"
    SAMPLE_COLUMNS = ["subject", "system", "change_id", "change_kind", "merged", "deployed", "ticket", "ticket_type"]
    HIT_MATCH = ("system", "detail_key")

    # --- 1. objective -------------------------------------------------------------------------
    def objective(self) -> workpapers.HtmlBlock:
        """Objective, procedure and the settings that shape the test."""
        window = self.settings.change_window
        rows = [
            ("Objective", "Changes to the programs of in-scope systems are authorised, tested, approved by someone "
                          "independent of the developer and deployed to production as approved; emergency changes "
                          "are approved retrospectively within the policy's days; developers cannot deploy their "
                          "own changes to production."),
            ("Procedure", "Take every change merged in the period from the repositories' exports and every "
                          "production deployment from the deployment logs; trace each to its reviews, deployment "
                          "and change ticket (full population); select a sample stratified by framework scope and "
                          "test attributes C1-C4; evaluate and conclude per framework."),
            ("Systems in scope", ", ".join(self.params.system(s).name for s in self.control.systems)),
            ("Financially significant (SOX)", ", ".join(self.params.system(s).name for s in self.control.systems
                                                        if self.params.system(s).sox_financially_significant)
             or "none"),
            ("Period", f"{self.params.period.start} to {self.params.period.end}"),
            ("Production environments", ", ".join(self.settings.production_environments)),
            ("Target branches", ", ".join(self.settings.target_branches) or "every branch"),
            ("Ticket references", f"found in titles, branches, descriptions and deployment fields by the pattern "
                                  f"{self.settings.ticket_pattern}"),
            ("Emergency changes", f"approved within {self.settings.emergency_approval_days} day(s) after deployment"),
            ("Change window", "each ticket's planned start and end; "
                              + (f"otherwise the standing window {change_control.ChangeWindow(tuple(window.days), window.start, window.end, window.timezone).text()}"
                                 if window else "no standing window declared")),
            ("Who wrote, reviewed and deployed", "accounts of " + (self.settings.account_system or
                                                                   "each repository's own system")
             + ", tied to workers by that system's identity-match rules"),
            ("Deploy access", ", ".join(self.settings.deploy_entitlements) or
             ("every entitlement of the deploy_access listings" if self.given("deploy_access") else "not given")),
        ]
        return workpapers.key_values(rows)

    # --- 2. population --------------------------------------------------------------------------
    def people_frames(self, role: str) -> pd.DataFrame:
        """A multi-source role's tables, each row naming its file, with the people it names recognised as HR
        workers."""
        parts = []
        account_system = self.settings.account_system
        if account_system and account_system not in {system.id for system in self.params.systems}:
            raise ValueError(f"control {self.control.id}: settings.account_system '{account_system}' is not a system "
                             f"of the period (systems: {', '.join(system.id for system in self.params.systems)})")
        for source_id in self.source_ids(role):
            population = self.load_for(role, source_id)
            frame = population.frame
            if account_system and population.table in CODE_TABLES:  # logins are accounts of the account system
                frame = self.resolve_people(population.table, frame.assign(system=account_system)) \
                    .assign(system=frame["system"])
            else:
                frame = self.resolve_people(population.table, frame)
            parts.append(frame.assign(listing=self.label(source_id)))
        # Not snapshots but logs and repositories: two of one system (two repositories building it,
        # two pipelines deploying it) are read together.
        return pd.concat(parts, ignore_index=True)

    def in_period(self, moments: pd.Series) -> pd.Series:
        return (moments >= self.period_start) & (moments < self.period_end)

    @cached_property
    def merged_changes(self) -> pd.DataFrame:
        """The changes merged in the period into the control's systems (and target branches)."""
        changes = self.people_frames("code_changes")
        keep = changes["merged_at"].notna() & self.in_period(changes["merged_at"]) \
            & changes["system"].isin(self.control.systems)
        if self.settings.target_branches:
            branches = {b.casefold() for b in self.settings.target_branches}
            keep &= changes["target_branch"].astype("string").str.casefold().isin(branches).fillna(False)
        return changes[keep].reset_index(drop=True)

    @cached_property
    def production_deployments(self) -> pd.DataFrame:
        """The deployments to production in the period that changed it (failed ones left out)."""
        deployments = self.people_frames("deployments")
        production = {e.casefold() for e in self.settings.production_environments}
        status = deployments["status"].astype("string")
        keep = deployments["environment"].astype("string").str.casefold().isin(production).fillna(False) \
            & (status.isna() | status.isin(change_control.DEPLOYED)) \
            & self.in_period(deployments["deployed_at"]) & deployments["system"].isin(self.control.systems)
        return deployments[keep].reset_index(drop=True)

    @cached_property
    def tickets(self) -> pd.DataFrame:
        return self.people_frames("change_tickets")

    @cached_property
    def changes(self) -> pd.DataFrame:
        """The sampling frame: one row per change (see the module docstring)."""
        frame = change_control.link_changes(self.merged_changes, self.people_frames("code_reviews"),
                                            self.production_deployments, self.tickets, self.settings.ticket_pattern)
        frame["subject"] = frame["author"].astype("string")
        frame["detail_key"] = frame["change_id"].astype("string")
        frame["item_key"] = frame["system"] + "|" + frame["change_id"].astype("string")
        frame["scope"] = frame["system"].map(self.scope_of_system)
        frame["merged"] = frame["merged_at"].dt.strftime("%Y-%m-%d %H:%M") if "merged_at" in frame else ""
        frame["deployed"] = frame["deployed_at"].dt.strftime("%Y-%m-%d %H:%M")
        source = frame["listing"].where(frame["change_kind"] == "merged change", frame["deployment_listing"])
        line = frame["line"].where(frame["change_kind"] == "merged change", frame["deployment_line"])
        frame["evidence_reference"] = [analytics.evidence_reference(s, n) for s, n in zip(source, line)]
        return frame[frame["scope"] != "out of scope"].sort_values("item_key", kind="mergesort").reset_index(drop=True)

    def population(self) -> pd.DataFrame:
        return self.changes

    def population_evidence(self) -> list[workpapers.HtmlBlock]:
        """IPE evidence of every source, and the reconciliation of the change frame."""
        return super().population_evidence() + [workpapers.table(self.reconciliation(),
                                                                 "Reconciliation of the change frame")]

    def reconciliation(self) -> pd.DataFrame:
        """Control totals: changes and deployments read, in the period, linked and in the frame."""
        frame = self.changes
        merged = int((frame["change_kind"] == "merged change").sum())
        alone = int((frame["change_kind"] == "unreviewed deployment").sum())
        return self.checks_table([
            ("Changes in the repository exports (all)", len(self.people_frames("code_changes")), None),
            ("Changes merged in the period in the control's systems", len(self.merged_changes), None),
            ("Production deployments in the period (succeeded)", len(self.production_deployments), None),
            ("of which deployed a merged change of the period", int(frame["deployment_id"].notna().sum()) - alone,
             None),
            ("Merged changes in the frame", merged, len(self.merged_changes)),
            ("Deployments of no reviewed change in the frame", alone, None),
            ("Changes in the sampling frame", len(frame), merged + alone),
            ("Change tickets read", len(self.tickets), None),
            ("Workers on the HR roster (the people changes are tied to)", len(self.frame("hr")), None),
            ("Changes naming no ticket found in the change tickets", int(frame["ticket_type"].isna().sum()), None),
        ])

    def scope_summary(self) -> pd.DataFrame:
        """Changes per system and framework scope: the changes to financially significant systems
        are the SOX population."""
        frame = self.changes
        table = frame.groupby(["system", "scope", "change_kind"]).size().rename("changes").reset_index()
        table["financially significant (SOX)"] = table["system"].map(
            lambda s: "yes" if self.params.system(s).sox_financially_significant else "no")
        return table

    # --- 3. analytics ---------------------------------------------------------------------------
    @property
    def tickets_label(self) -> str:
        return ", ".join(self.label(s) for s in self.source_ids("change_tickets"))

    @cached_property
    def deploy_grants(self) -> pd.DataFrame:
        """Grants of the deploy_access listings that allow a production deployment, each with its
        worker (empty when the role is not given)."""
        if not self.given("deploy_access"):
            return pd.DataFrame(columns=["system", "entitlement", "login", "person_email", "listing", "line"])
        grants = self.correlate(self.frames("deploy_access"))
        grants = grants[grants["removed_at"].isna() | (grants["removed_at"] >= self.period_start)]
        wanted = {e.casefold() for e in self.settings.deploy_entitlements}
        if wanted:
            grants = grants[grants["entitlement"].astype("string").str.casefold().isin(wanted).fillna(False)]
        return grants.reset_index(drop=True)

    def rules_run(self) -> tuple[str, ...]:
        return change_control.RULES

    def run_analytics(self) -> pd.DataFrame:
        """Every change of the period against its ticket, reviews, deployment and the access listings."""
        frame = self.changes
        window = self.settings.change_window
        standing = change_control.ChangeWindow(tuple(window.days), window.start, window.end, window.timezone) \
            if window else None
        self.hits = self.combine_hits([
            change_control.ticket_exceptions(frame, self.settings.emergency_approval_days, self.tickets_label),
            change_control.review_exceptions(frame, "code changes"),
            change_control.deploy_access_exceptions(frame, self.deploy_grants),
            change_control.window_exceptions(frame, standing, self.tickets_label),
        ])
        return self.hits

    # --- 5. attributes --------------------------------------------------------------------------
    def test_attributes(self, items: pd.DataFrame) -> pd.DataFrame:
        """Test C1-C4 on each selected change: 'pass', 'fail' or 'n/a' per attribute."""
        result = items.copy()
        status = change_control.ticket_approval(result, self.settings.emergency_approval_days)
        result["C1_ticket_approved_before_deploy"] = self.verdict(status["approved_in_time"])
        evidence = result["ticket_test_evidence"].astype("string").str.strip()
        result["C2_testing_evidence"] = self.verdict(status["ticket_found"] & evidence.notna() & (evidence != ""))
        author = change_control.person_key(result["author"])
        ticket_approver = change_control.person_key(result["ticket_approver"])
        approver_ok = ticket_approver.isna() | (ticket_approver != author)
        result["C3_approver_independent"] = self.verdict(result["approved_independently"] & approver_ok.fillna(True))
        deployed = result["deployed_at"].notna()
        merged = result["change_kind"] == "merged change"
        same_system = result["ticket_system"].isna() | (result["ticket_system"] == result["system"])
        window_start, window_end = result["ticket_planned_start"], result["ticket_planned_end"]
        emergency = status["emergency"]
        in_window = emergency | window_start.isna() | window_end.isna() | (
            (result["deployed_at"] >= window_start) & (result["deployed_at"] <= window_end))
        matches = merged & status["ticket_found"] & same_system.fillna(False) & in_window.fillna(False)
        result["C4_deployment_matches_change"] = self.verdict(matches, deployed)
        return result
