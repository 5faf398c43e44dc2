"""Periodic user access review (UAR): CC6.2 / CC6.3 and SOX access to programs and data.

Attributes tested (see reference/frameworks.md): A1 population completeness and accuracy, A2
timeliness, A3 reviewer appropriate and independent, A4 precision, A5 evidence of performance, A6
revocations executed within the SLA (confirmed against the later listing), A7 evidence retained.
Full-population analytics run first; then a statistical sample of review lines, stratified by
framework scope so each framework's conclusion rests on a sample sized for it, plus targeted
items from the analytics, kept apart. One population, one execution, one conclusion per framework.

A large population (``ControlTest.listing_relation`` gives the listings as a DuckDB relation over
their Parquet copies) runs the same rules through ``workbench.large_analytics``: accounts correlated
once each in pandas, the grants of the systems under test materialised once in DuckDB, and only the
rows a rule's answer depends on brought back (the population gaps, the review lines no held grant
supports and the grants they name, the grants the sampled lines name, the rows a revoke names in a
lone listing, for every lone listing in one query). Several listings of one system are still
compared whole, in pandas.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from workbench import analytics, freshness, large_analytics, removals, snapshots, workpapers
from workbench.freshness import Claim
from workbench.procedures.base import ACCESS_LISTINGS, HR, IDENTITY_ALIASES, IDP_CORRELATION, ControlTest, SourceRole


class RubberStamp(BaseModel):
    """Thresholds of the rubber-stamping analytic."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    min_decisions: int = Field(20, ge=1)
    min_approval_rate: float = Field(0.98, gt=0, le=1)
    max_median_seconds: float = Field(30.0, gt=0)


class Settings(BaseModel):
    """The ``settings:`` block of a user access review control in the period file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    snapshot_date: dt.date
    launch_within_days: int = Field(5, ge=0)
    complete_within_days: int = Field(30, ge=1)
    revocation_sla_business_days: int = Field(5, ge=0)
    rubber_stamp: RubberStamp = Field(default_factory=RubberStamp)


ATTRIBUTES = {
    "A3_reviewer_independent": "A3 Reviewer is not the person whose access is reviewed",
    "A3_reviewer_appropriate": "A3 Reviewer is the person's manager per HR or the system owner",
    "A4_access_in_listing": "A4 The reviewed access exists in the system listing (line is precise and accurate)",
    "A5_decision_recorded": "A5 A decision is recorded, dated within the campaign and attributed to the reviewer",
    "A5_no_leaver_approved": "A5 Access of a person already terminated was not approved",
    "A6_revocation_executed": "A6 A revoke decision was executed within the SLA (proof of removal: a listing from "
                              "after the decision or a remediation-log row; 'not tested' where the evidence provided "
                              "cannot prove it)",
}

REMEDIATION_LOG = SourceRole(
    "the review's remediation evidence: a remediation log (who removed which access, when) or the removal "
    "tickets (revoke requests), proving revoke decisions executed where no later listing does",
    ("remediation_log", "requests"), required=False, several=True,
    limitation="no remediation log or removal tickets: a revoke decision is proven executed only by a listing of its "
               "system from after the decision; where none shows it, its execution cannot be proven from the "
               "evidence provided, and a removal between two listings is explained only by a revoke decision or "
               "the person's termination")


@dataclass
class UserAccessReviewTest(ControlTest):
    """The UAR over one campaign: population = review lines of the systems under test."""

    Settings = Settings
    SOURCE_ROLES = {
        "hr": HR,
        "identity_aliases": IDENTITY_ALIASES,
        "idp_assignments": IDP_CORRELATION,
        "review_decisions": SourceRole("the certification campaign's decisions: one line per reviewed access",
                                       ("review_decisions",)),
        "review_campaign": SourceRole(
            "the campaign status report: launch, completion and total items", ("campaigns",), required=False,
            limitation="no campaign status report: timeliness (A2) is judged from the first and last decision; the "
                       "campaign deadline and the owner's sign-off are not tested, the campaign lines are not "
                       "reconciled to its total items, and A5 tests that a decision is recorded, not that it falls "
                       "within the campaign window"),
        "access_listings": ACCESS_LISTINGS,
        "remediation_log": REMEDIATION_LOG,
    }
    ATTRIBUTES = ATTRIBUTES
    ITEM_NOUN = "review lines"
    OCCASION = "no access in the review's scope"
    SAMPLE_COLUMNS = ["reviewer_email", "subject_email", "system", "entitlement", "decision"]
    FRESHNESS_CLAIMS = (
        Claim("access_listings", "snapshot", "the review snapshot", "access held at the review snapshot "
                                                                    "(campaign population, A1; A4)"),
        Claim("access_listings", "revocation_deadline", "the revocation deadline",
              "revoke decisions executed (A6): the state after the last revoke's SLA", "after"),
    )

    @property
    def snapshot(self) -> pd.Timestamp:
        """End of the snapshot day, UTC: access held then is the review's population."""
        return pd.Timestamp(self.settings.snapshot_date, tz="UTC") + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)

    @property
    def revocation_deadline(self) -> pd.Timestamp | None:
        """End of the SLA's last business day after the latest revoke decision (None: no revoke decided):
        a listing showing revocations executed must show the systems from then on."""
        decisions = self.decisions
        decided = decisions.loc[decisions["decision"] == "revoke", "decided_at"].dropna()
        if decided.empty:
            return None
        last_day = freshness.utc(decided.max()).normalize().tz_localize(None)
        sla = pd.offsets.BDay(self.settings.revocation_sla_business_days)
        return (last_day + sla + pd.Timedelta(days=1)).tz_localize("UTC")

    @property
    def decisions_label(self) -> str:
        return self.label(self.source_ids("review_decisions")[0])

    # --- 1. objective -------------------------------------------------------------------------
    def objective(self) -> workpapers.HtmlBlock:
        """Objective, procedure and the settings that shape the test."""
        s = self.settings
        systems = ", ".join(self.params.system(x).name for x in self.control.systems)
        rows = [
            ("Objective", "Access to in-scope systems is reviewed periodically by appropriate, independent reviewers, "
                          "and inappropriate access is removed timely."),
            ("Procedure", "Obtain the review campaign and the system listings; re-perform completeness and accuracy of the "
                          "campaign population; run full-population analytics over every review line; select a sample of "
                          "lines and test attributes A3–A6; evaluate deviations and conclude per framework."),
            ("Systems in scope", systems),
            *([("Review scope", self.review_scope_text())] if self.review_scopes else []),
            ("Campaign snapshot", f"{s.snapshot_date}"),
            ("Timeliness", f"launch within {s.launch_within_days} days of the snapshot; complete within "
                           f"{s.complete_within_days} days of launch"),
            ("Revocation SLA", f"{s.revocation_sla_business_days} business days after the decision"),
            ("Rubber-stamp thresholds", f"≥ {s.rubber_stamp.min_decisions} decisions, approval rate ≥ "
                                        f"{s.rubber_stamp.min_approval_rate:.0%}, median ≤ {s.rubber_stamp.max_median_seconds:.0f} s between decisions"),
            ("Evidence retained (A7)", "every source is frozen in the run folder with its SHA-256 in manifest.json"),
        ]
        return workpapers.key_values(rows)

    # --- 2. population --------------------------------------------------------------------------
    @property
    def identities(self) -> pd.DataFrame:
        return self.frame("hr")

    @property
    def review_scopes(self) -> dict[str, set[str]]:
        """System id -> entitlements in review scope (casefolded), for the control's systems whose
        period file declares ``review_scope:``; a system absent here has all its access in scope."""
        return {s.id: {e.casefold() for e in s.review_scope} for s in self.params.systems
                if s.review_scope and s.id in self.control.systems}

    def review_scope_text(self) -> str:
        """The declared review scopes, as the objective shows them."""
        return "; ".join(f"{self.params.system(s).name}: {', '.join(self.params.system(s).review_scope)}"
                         for s in self.review_scopes) + " (declared in the period file; other access is excluded)"

    def in_review_scope(self, frame: pd.DataFrame) -> pd.Series:
        """True where the row's entitlement is in its system's declared review scope (ignoring case)."""
        keep = pd.Series(True, index=frame.index)
        entitlement = frame["entitlement"].astype("string").str.casefold()
        for system, names in self.review_scopes.items():
            mine = (frame["system"] == system).fillna(False).astype(bool)
            keep &= ~mine | entitlement.isin(names).fillna(False).astype(bool)
        return keep

    @property
    def decisions_outside_scope(self) -> int:
        """Review lines of the systems under test whose entitlement is outside the declared scope."""
        frame = self.frame("review_decisions")
        frame = frame[frame["system"].isin(self.control.systems)]
        return int((~self.in_review_scope(frame)).sum())

    @cached_property
    def decisions(self) -> pd.DataFrame:
        """Review lines of the systems under test (in the declared review scope, if any), with their
        item key and framework scope (built once per control)."""
        frame = self.frame("review_decisions")
        frame = frame[frame["system"].isin(self.control.systems)]
        frame = frame[self.in_review_scope(frame)].copy()
        frame["item_key"] = (frame["campaign_id"] + "|" + frame["system"] + "|" + frame["subject_email"]
                             + "|" + frame["entitlement"])
        frame["scope"] = self.scopes_of(frame["system"])
        frame["subject"] = frame["subject_email"]
        frame["detail_key"] = frame["system"] + "|" + frame["entitlement"]
        frame["evidence_reference"] = self.decisions_label + " line " + frame["line"].astype(str)
        return frame

    def population(self) -> pd.DataFrame:
        return self.decisions

    def population_record(self) -> pd.DataFrame:
        """population.csv: each review line's key and scope, and for a revoke decision its proof of
        removal (outcome, what proves it, the evidence's file and line); empty for other lines."""
        proofs = self.revocation_proofs.set_index("decision_line")
        frame = self.decisions[["item_key", "scope", "line"]]
        columns = {"removal_outcome": "outcome", "removal_proven_by": "proof_kind", "removal_proof": "proof_reference"}
        return frame.assign(**{name: frame["line"].map(proofs[column]).fillna("") for name, column in columns.items()}
                            ).drop(columns="line")

    @property
    def campaign(self) -> pd.Series:
        """The campaign status report's row; without the report, the campaign as the decisions show it:
        launched at the first decision, completed at the last (when no line is undecided), no deadline,
        no total items and no sign-off."""
        if self.given("review_campaign"):
            return self.frame("review_campaign").iloc[0]
        lines = self.frame("review_decisions")
        decided = lines["decided_at"].dropna()
        undecided = bool(((lines["decision"] == "undecided") | lines["decided_at"].isna()).any())
        return pd.Series({"activated_at": decided.min() if len(decided) else pd.NaT,
                          "completed_at": decided.max() if len(decided) and not undecided else pd.NaT,
                          "deadline": pd.NaT, "total_items": pd.NA, "signed_off_by": pd.NA, "signed_off_at": pd.NaT})

    @cached_property
    def grants(self) -> pd.DataFrame:
        """The system listings (in the declared review scope, if any), each grant correlated to its
        HR person where possible (once per control)."""
        grants = self.correlate(self.frames("access_listings", at=self.snapshot))
        return grants[self.in_review_scope(grants)].reset_index(drop=True) if self.review_scopes else grants

    @cached_property
    def large_grants(self) -> large_analytics.CorrelatedListing | None:
        """The system listings as ``grants`` gives them, kept in DuckDB when the population is large
        (``listing_relation``); None when the listings are held in memory (then ``grants`` serves)."""
        relation = self.listing_relation("access_listings", at=self.snapshot)
        if relation is None:
            return None
        labels = [self.label(s) for s in self.source_ids("access_listings")]
        # Only the systems under test: every review rule compares the system, and decisions are of those
        # systems (the accounts of every system are still correlated, for the identity evidence). Computed
        # once into a table: the rules below query it several times.
        return large_analytics.correlated_listing(self.sql, relation, labels, self.correlate,
                                                  self.in_review_scope if self.review_scopes else None,
                                                  systems=list(self.control.systems), materialise=True)

    # --- snapshots and proof of removal --------------------------------------------------------------
    @cached_property
    def listing_snapshots(self) -> list[snapshots.Snapshot]:
        """Every listing of the systems under test as one snapshot per system, its rows tied to HR
        people (in the declared review scope, if any), at the moment it shows the system; by system,
        oldest first."""
        found = []
        listed = [s for s in self.snapshots("access_listings") if s.system in self.control.systems]
        several = {system for system, group in snapshots.by_system(listed).items() if len(group) > 1}
        lone = self.lone_snapshot_rows(several) if self.large_grants is not None else {}
        for snapshot in listed:
            if snapshot.system in lone:
                found.append(snapshots.Snapshot(snapshot.source_id, snapshot.label, snapshot.kind, snapshot.system,
                                                snapshot.moment, lone[snapshot.system]))
                continue
            if self.large_grants is not None:
                frame = self.large_snapshot_rows(snapshot, whole=snapshot.system in several)
                found.append(snapshots.Snapshot(snapshot.source_id, snapshot.label, snapshot.kind, snapshot.system,
                                                snapshot.moment, frame))
                continue
            frame = analytics.correlate_grants(snapshot.frame, None, service_accounts=self.service_accounts,
                                               directory=self.identity, orders=self.identity_orders)
            frame = frame[self.in_review_scope(frame)] if self.review_scopes else frame
            found.append(snapshots.Snapshot(snapshot.source_id, snapshot.label, snapshot.kind, snapshot.system,
                                            snapshot.moment, frame.reset_index(drop=True)))
        return sorted(found, key=lambda s: (s.system, s.moment))

    def lone_snapshot_rows(self, several: set[str]) -> dict[str, pd.DataFrame]:
        """System -> the rows of its one listing that a revoke decision may name, for every system under test
        listed once, as ``large_snapshot_rows`` gives them: one query of ``large_grants`` for them all (a
        system's one listing is the one ``large_grants`` shows at the snapshot; correlation is per account)."""
        listing = self.large_grants
        lone = [s for s in self.control.systems if s not in several]
        if listing is None or not lone:
            return {}
        decisions = self.decisions
        revokes = decisions[(decisions["decision"] == "revoke").fillna(False).to_numpy(dtype=bool)
                            & decisions["system"].isin(lone).fillna(False).to_numpy(dtype=bool)]
        rows = large_analytics.rows_named_by(listing, revokes)
        columns = {}
        for snapshot in self.snapshots("access_listings"):
            if snapshot.system in lone:
                columns[snapshot.system] = [c for c in rows.columns if c in self._snapshot_columns(snapshot)
                                            or c in large_analytics.CORRELATION_DTYPES]
        mine = rows["system"].to_numpy(dtype=object)
        return {system: rows.loc[mine == system, wanted].reset_index(drop=True) for system, wanted in columns.items()}

    @staticmethod
    def _snapshot_columns(snapshot: snapshots.Snapshot) -> tuple[str, ...]:
        """The canonical columns of a snapshot's rows, read without loading a staged listing."""
        population = getattr(snapshot, "population", None)
        return tuple(population.summary.columns) if population is not None else tuple(snapshot.frame.columns)

    def large_snapshot_rows(self, snapshot: snapshots.Snapshot, whole: bool) -> pd.DataFrame:
        """A large population's snapshot rows as ``listing_snapshots`` correlates them, from DuckDB: every row
        when the system has several snapshots (consecutive listings are compared in pandas), else only
        the rows a revoke decision may name (all the proof of removal looks up in a lone listing)."""
        relation = self.listing_relation("access_listings", at=snapshot.moment)
        relation = relation.filter(f"system = {large_analytics.quote(snapshot.system)}")
        listing = large_analytics.correlated_listing(
            self.sql, relation, [snapshot.label],
            lambda accounts: analytics.correlate_grants(accounts, None, service_accounts=self.service_accounts,
                                                        directory=self.identity, orders=self.identity_orders),
            self.in_review_scope if self.review_scopes else None)
        decisions = self.decisions
        rows = listing.fetch() if whole else large_analytics.rows_named_by(
            listing, decisions[decisions["decision"] == "revoke"])
        columns = [c for c in rows.columns if c in snapshot.frame.columns or c in large_analytics.CORRELATION_DTYPES]
        return rows[columns].reset_index(drop=True)

    @cached_property
    def remediation_evidence(self) -> pd.DataFrame | None:
        """The remediation-log rows and completed revoke tickets, as ``removals`` reads them (each row
        with every name its person or account goes by); None when the control gives none."""
        if not self.given("remediation_log"):
            return None
        parts = []
        for source_id in self.source_ids("remediation_log"):
            population = self.load_for("remediation_log", source_id)
            parts.append(self._as_remediation(population.table, population.frame, self.label(source_id)))
        return pd.concat(parts, ignore_index=True)[removals.LOG_COLUMNS]

    def _as_remediation(self, table: str, frame: pd.DataFrame, label: str) -> pd.DataFrame:
        """One remediation source in ``removals.LOG_COLUMNS``: a log's rows as they are; a ticket
        export's revoke tickets closed complete (completed when closed)."""
        if table == "requests":
            state = frame["state"].astype("string").str.casefold().fillna("")
            done = (frame["action"] == "revoke") & ~state.str.contains("incomplete|skipped|cancel|open|progress")
            frame = frame[done.fillna(False).to_numpy(dtype=bool)]
            frame = pd.DataFrame({"system": frame["system"], "account": pd.NA, "person": frame["requested_for"],
                                  "entitlement": frame["entitlement"], "action": "revoke",
                                  "completed_at": frame["closed_at"], "ticket": frame["ticket"],
                                  "performed_by": pd.NA, "line": frame["line"]})
        names = pd.DataFrame({"system": frame["system"], "login": frame["account"].astype("string").str.casefold(),
                              "email": frame["person"].astype("string").str.casefold()})
        names["login"] = names["login"].fillna(names["email"])
        resolved = analytics.correlate_grants(names.reset_index(drop=True), None, directory=self.identity,
                                              orders=self.identity_orders)
        subjects = [frozenset(str(v).strip().casefold() for v in values if isinstance(v, str) and v.strip())
                    for values in zip(frame["account"].astype(object), frame["person"].astype(object),
                                      resolved["person_email"].astype(object))]
        return pd.DataFrame({"system": frame["system"].to_numpy(), "subjects": subjects,
                             "entitlement": frame["entitlement"].to_numpy(), "action": frame["action"].to_numpy(),
                             "completed_at": frame["completed_at"].to_numpy(), "ticket": frame["ticket"].to_numpy(),
                             "performed_by": frame["performed_by"].to_numpy(), "label": label,
                             "line": frame["line"].to_numpy()})

    @cached_property
    def revocation_proofs(self) -> pd.DataFrame:
        """One row per revoke decision: outcome, proof kind and proof (``removals.prove_revocations``)."""
        decisions = self.decisions
        return removals.prove_revocations(decisions[decisions["decision"] == "revoke"], self.listing_snapshots,
                                          self.remediation_evidence, self.settings.revocation_sla_business_days,
                                          self.decisions_label)

    @cached_property
    def removed_unexplained(self) -> pd.DataFrame:
        """Removals between consecutive listings that nothing explains (``removals.unexplained_removals``)."""
        decisions = self.decisions
        hr = self.identities.dropna(subset=["email"])
        terminations = dict(zip(hr["email"].astype(str).str.casefold(), hr["termination_date"]))
        return removals.unexplained_removals(self.listing_snapshots, decisions[decisions["decision"] == "revoke"],
                                             self.remediation_evidence, terminations, list(self.control.systems))

    def snapshot_blocks(self) -> list[workpapers.HtmlBlock]:
        """Section 2: each system's listings in order, which one the review population rests on, and
        for consecutive listings the reconciliation and the changes (both files' lines)."""
        listed = self.listing_snapshots
        if not listed:
            return []
        chosen = {s.system: s.source_id for s in
                  (snapshots.choose(group, self.snapshot) for group in snapshots.by_system(listed).values())}
        rows = [{"system": s.system, "listing": s.label, "shows the system at": snapshots.moment_text(s.moment),
                 "as_of declared": "yes" if self.params.source(s.source_id).as_of else "no (extraction time)",
                 "used for": ("the review population (snapshot " + str(self.settings.snapshot_date) + ")"
                              if chosen[s.system] == s.source_id else
                              "after-review evidence" if s.moment > self.snapshot else "earlier state (compared)")}
                for group in snapshots.by_system(listed).values() for s in group]
        blocks = [workpapers.table(pd.DataFrame(rows), "Listings as snapshots: each system's listings in order of the "
                                                       "moment they show it")]
        reconciliation = snapshots.reconcile(listed)
        if reconciliation.empty:
            return blocks
        flagged = workpapers.flag_cells(reconciliation, [(i, "result") for i in reconciliation.index
                                                         if reconciliation.loc[i, "result"].startswith("DIFFERS")])
        changes = snapshots.consecutive_changes(listed)
        shown = changes[["system", "account", "entitlement", "change", "attribute", "old", "new", "evidence"]]
        return blocks + [
            workpapers.table(flagged, "Consecutive listings reconciled: held before − removed + added = held after"),
            workpapers.table(shown, f"Changes between consecutive listings ({len(shown)}): added, removed, attribute "
                                    "changed, each with the lines of both files")]

    def removal_blocks(self) -> list[workpapers.HtmlBlock]:
        """Section 3: the proof of removal of every revoke decision, its counts, and the unexplained removals."""
        proofs = self.revocation_proofs
        shown = proofs.assign(decided_at=proofs["decided_at"].map(analytics._text))[
            ["system", "subject", "entitlement", "decided_at", "sla_deadline", "outcome", "proof_kind", "proof",
             "decision_evidence"]].rename(columns={"proof_kind": "proven by", "decision_evidence": "decision"})
        failed = [(i, "outcome") for i in shown.index if shown.loc[i, "outcome"] in (removals.NOT_EXECUTED,
                                                                                     removals.EXECUTED_LATE)]
        counts = removals.outcome_counts(proofs)
        return [
            workpapers.table(workpapers.flag_cells(shown, failed),
                             f"Proof of removal: {len(proofs)} revoke decision(s), each with its outcome and proof (A6)"),
            workpapers.table(counts, "Revoke decisions by outcome (each decision has one outcome; the total reconciles)"),
            workpapers.paragraph(
                "A revoke is proven executed only by a listing of its system from after the decision that no longer "
                "shows the access (timeliness: the removal date the listing records, or the listing's own moment when "
                "it is before the SLA deadline), or by a matching remediation-log or ticket row that no later listing "
                "contradicts. A listing from before the SLA deadline that still shows the access does not prove the "
                "revoke was not executed. Where the evidence provided proves neither, the outcome says so, and A6 "
                f"reads 'not tested'. Unexplained removals found between listings: {len(self.removed_unexplained)} "
                "(analytic unexplained_removal).", "wp-note")]

    def population_evidence(self) -> list[workpapers.HtmlBlock]:
        """IPE evidence of every source, and the reconciliations of the campaign population (A1)."""
        return super().population_evidence() + [
            workpapers.table(self.reconciliation(), "Reconciliation of the campaign population (A1)")]

    def reconciliation(self) -> pd.DataFrame:
        """Control totals: campaign lines vs the status report, vs access held at the snapshot."""
        decisions, gaps, inaccurate = self.decisions, self.population_gaps, self.lines_not_in_listing
        total_items = int(self.campaign["total_items"]) if pd.notna(self.campaign["total_items"]) else None
        all_lines = len(self.frame("review_decisions"))
        reported = self.given("review_campaign")
        rows = [
            ("Campaign lines in the export", all_lines, "—", "—"),
            ("Campaign lines vs 'Total Items' of the status report", all_lines, total_items if reported else "—",
             ("agrees" if total_items == all_lines else "DIFFERS") if reported
             else "not tested (no campaign status report)"),
            ("Lines in systems under test", len(decisions), "—", "—"),
            *([("Lines outside the declared review scope (excluded)", self.decisions_outside_scope, "—", "—")]
              if self.review_scopes else []),
            ("Access held at the snapshot not in the campaign", len(gaps), 0, "agrees" if gaps.empty else "DIFFERS"),
            ("Campaign lines not supported by the listings", len(inaccurate), 0, "agrees" if inaccurate.empty else "DIFFERS"),
        ]
        table = pd.DataFrame(rows, columns=["check", "count", "expected", "result"])
        return workpapers.flag_cells(table, [(i, "result") for i in table.index[table["result"] == "DIFFERS"]])

    @cached_property
    def population_gaps(self) -> pd.DataFrame:
        """Access held at the snapshot the campaign did not cover: the A1 reconciliation and an
        analytic, computed once for both."""
        if (listing := self.large_grants) is not None:
            return large_analytics.review_population_gaps(listing, self.decisions, self.identities, self.snapshot,
                                                          self.control.systems, "system listings")
        return analytics.review_population_gaps(self.grants, self.decisions, self.identities, self.snapshot,
                                                self.control.systems, "system listings")

    @cached_property
    def lines_not_in_listing(self) -> pd.DataFrame:
        """Campaign lines the listings do not support: the A1 reconciliation and an analytic, once for both."""
        if (listing := self.large_grants) is not None:
            return large_analytics.review_lines_not_in_listing(self.decisions, listing, self.identities, self.snapshot,
                                                               self.decisions_label)
        return analytics.review_lines_not_in_listing(self.decisions, self.grants, self.identities, self.snapshot,
                                                     self.decisions_label)

    # --- 3. analytics ---------------------------------------------------------------------------
    def run_analytics(self) -> pd.DataFrame:
        """Every full-population rule over every review line; the hits are exceptions."""
        decisions, label = self.decisions, self.decisions_label
        rs = self.settings.rubber_stamp
        self.hits = self.combine_hits([
            self.population_gaps,
            self.lines_not_in_listing,
            analytics.self_reviews(decisions, label),
            analytics.undecided_lines(decisions, label),
            analytics.approvals_of_terminated(decisions, self.identities, label),
            analytics.rubber_stamping(decisions, label, analytics.RubberStampThresholds(
                rs.min_decisions, rs.min_approval_rate, rs.max_median_seconds)),
            analytics.revocations_not_executed_proven(decisions, self.revocation_proofs, label,
                                                      self.settings.revocation_sla_business_days),
            analytics.unexplained_removals(self.removed_unexplained, self.system_names),
        ])
        return self.hits

    def timeliness(self) -> pd.DataFrame:
        """Campaign-level timeliness and sign-off (A2, A5)."""
        s = self.settings
        checks = analytics.campaign_timeliness(self.campaign, s.snapshot_date, s.launch_within_days,
                                               s.complete_within_days)
        if self.given("review_campaign"):
            return checks
        # No status report: launch and completion are the first and last decision; the deadline and
        # the sign-off are not evidenced, so not tested (neither passed nor failed).
        checks["passed"] = checks["passed"].astype(object)
        checks.loc[0, "check"] += " (first decision)"
        checks.loc[1, "check"] += " (last decision)"
        checks.loc[0, "evidence"] = f"first decision {checks.loc[0, 'evidence']}"
        checks.loc[1, "evidence"] = ("not completed: undecided lines" if pd.isna(self.campaign["completed_at"])
                                     else f"last decision {checks.loc[1, 'evidence']}")
        checks.loc[[2, 3], "evidence"] = "no campaign status report"
        checks.loc[[2, 3], "passed"] = "not tested"
        return checks

    def reviewer_statistics(self) -> pd.DataFrame:
        """Per-reviewer statistics behind the rubber-stamping analytic."""
        stats = analytics.reviewer_statistics(self.decisions)
        stats["approval_rate"] = stats["approval_rate"].map(lambda x: f"{x:.0%}" if pd.notna(x) else "")
        stats["median_seconds_between_decisions"] = stats["median_seconds_between_decisions"].round(0)
        return stats.drop(columns=["first_decision", "last_decision"])

    # --- 5. attributes --------------------------------------------------------------------------
    def test_attributes(self, items: pd.DataFrame) -> pd.DataFrame:
        """Test A3–A6 on each selected line: 'pass', 'fail' or 'n/a' per attribute."""
        identities = self.identities
        manager_email = items["subject_email"].map(identities.set_index("email")["manager_employee_id"]) \
            .map(identities.set_index("employee_id")["email"])
        owners = {s.id: (s.owner or "").casefold() for s in self.params.systems}
        listing = self.large_grants   # large: only the grants the selected lines may name
        grants = self.grants if listing is None else large_analytics.held_for_lines(listing, items, self.snapshot)
        held_then = analytics.review_subjects(grants[analytics.held_at(grants, self.snapshot)])  # HR e-mail or account
        held = set(zip(held_then["system"], held_then["review_subject"], held_then["entitlement"]))
        campaign = self.campaign
        leaver_dates = identities.set_index("email")["termination_date"]
        proofs = self.revocation_proofs
        a6 = dict(zip(proofs["decision_line"], proofs["outcome"].map(removals.A6_VERDICT)))
        result = items.copy()

        def verdict(ok: pd.Series) -> pd.Series:
            return ok.map({True: "pass", False: "fail"})

        reviewer = result["reviewer_email"].astype("string")  # NA-safe: no reviewer recorded is neither
        independent = (reviewer.notna() & (reviewer != result["subject_email"].astype("string")).fillna(True)).astype(bool)
        result["A3_reviewer_independent"] = verdict(independent)
        appropriate = ((reviewer == manager_email.astype("string")) | (reviewer == result["system"].map(owners))) \
            .fillna(False).astype(bool)
        result["A3_reviewer_appropriate"] = verdict(appropriate & independent)
        in_listing = pd.Series([key in held for key in zip(result["system"], result["subject_email"], result["entitlement"])],
                               index=result.index)
        result["A4_access_in_listing"] = verdict(in_listing | (result["decision"] == "revoke")
                                                 | result["subject_email"].isin(leaver_dates.dropna().index))
        decided = (result["decision"] != "undecided") & result["decided_at"].notna()
        if self.given("review_campaign"):  # without the status report there is no campaign window to test
            window_end = campaign["completed_at"] if pd.notna(campaign["completed_at"]) else campaign["deadline"]
            decided &= (result["decided_at"] >= campaign["activated_at"]) & (result["decided_at"] <= window_end)
        result["A5_decision_recorded"] = verdict(decided)
        terminated_on = analytics.dates_of(result["subject_email"], leaver_dates)
        decided_day = result["decided_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
        leaver_approved = (result["decision"] == "approve") & terminated_on.notna() & (decided_day >= terminated_on)
        result["A5_no_leaver_approved"] = verdict(~leaver_approved.fillna(False))
        result["A6_revocation_executed"] = result["line"].map(a6).fillna("n/a").where(result["decision"] == "revoke", "n/a")
        return result
