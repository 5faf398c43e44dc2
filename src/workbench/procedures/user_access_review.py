"""Periodic user access review (UAR): CC6.2 / CC6.3 and SOX access to programs and data.

Attributes tested (see reference/frameworks.md): A1 population completeness and accuracy, A2
timeliness, A3 reviewer appropriate and independent, A4 precision, A5 evidence of performance, A6
revocations executed within the SLA (confirmed against the later listing), A7 evidence retained.
Full-population analytics run first; then a statistical sample of review lines, stratified by
framework scope so each framework's conclusion rests on a sample sized for it, plus targeted
items from the analytics, kept apart. One population, one execution, one conclusion per framework.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from workbench import analytics, exceptions, populations, sampling, workpapers
from workbench.parameters import Control, PeriodParameters
from workbench.runner import CONTROL_EXCEPTIONS, CONTROL_RESULT, RunContext, open_run, prepare_standalone_run

LISTING_KINDS = ("ledgerline_erp_user_roles", "aws_iam_group_memberships", "github_org_members", "okta_app_assignments")


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
    "A6_revocation_executed": "A6 A revoke decision was executed within the SLA (later listing)",
}


@dataclass
class UserAccessReviewTest:
    """One execution of the UAR procedure over one frozen population; notebook cells call its steps."""

    context: RunContext
    control: Control
    settings: Settings
    loaded: dict[str, populations.Population] = field(default_factory=dict)
    hits: pd.DataFrame | None = None
    sample: pd.DataFrame | None = None
    plan: dict[str, sampling.SamplePlan] = field(default_factory=dict)
    evaluations: dict[str, sampling.Evaluation] = field(default_factory=dict)
    selection: sampling.Selection | None = None

    # --- set-up --------------------------------------------------------------------------------
    @classmethod
    def open(cls, run_dir: str, control_id: str) -> "UserAccessReviewTest":
        """Open the control in a prepared run; with no run folder, in a throw-away demo run."""
        context = open_run(run_dir) if run_dir else prepare_standalone_run()
        control = context.parameters.control(control_id)
        return cls(context, control, Settings.model_validate(control.settings))

    @property
    def params(self) -> PeriodParameters:
        return self.context.parameters

    @property
    def snapshot(self) -> pd.Timestamp:
        """End of the snapshot day, UTC: access held then is the review's population."""
        return pd.Timestamp(self.settings.snapshot_date, tz="UTC") + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)

    def _source_ids(self, role: str) -> list[str]:
        ref = self.control.sources.get(role)
        if ref is None:
            raise KeyError(f"control {self.control.id} needs a source for '{role}' under sources:")
        return [ref] if isinstance(ref, str) else list(ref)

    def _load(self, source_id: str) -> populations.Population:
        if source_id not in self.loaded:
            source = self.params.source(source_id)
            self.loaded[source_id] = populations.load_source(
                source.kind, self.context.inputs[source_id], system=source.system, timezone=source.timezone,
                extracted_at=source.extracted_at.isoformat(), source_system=source.source_system,
                display_names={s.name: s.id for s in self.params.systems},
            )
        return self.loaded[source_id]

    def _label(self, source_id: str) -> str:
        return Path(self.params.source(source_id).path).name

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
            ("Campaign snapshot", f"{s.snapshot_date}"),
            ("Timeliness", f"launch within {s.launch_within_days} days of the snapshot; complete within "
                           f"{s.complete_within_days} days of launch"),
            ("Revocation SLA", f"{s.revocation_sla_business_days} business days after the decision"),
            ("Rubber-stamp thresholds", f"≥ {s.rubber_stamp.min_decisions} decisions, approval rate ≥ "
                                        f"{s.rubber_stamp.min_approval_rate:.0%}, median ≤ {s.rubber_stamp.max_median_seconds:.0f} s between decisions"),
        ]
        return workpapers.key_values(rows)

    # --- 2. population --------------------------------------------------------------------------
    def load_population(self) -> None:
        """Load HR, the campaign, its status report, the IdP assignments and the system listings."""
        for role in ("hr", "review_decisions", "review_campaign", "idp_assignments", "access_listings"):
            for source_id in self._source_ids(role):
                self._load(source_id)

    @property
    def identities(self) -> pd.DataFrame:
        return self._load(self._source_ids("hr")[0]).frame

    @property
    def decisions(self) -> pd.DataFrame:
        frame = self._load(self._source_ids("review_decisions")[0]).frame
        frame = frame[frame["system"].isin(self.control.systems)].copy()
        frame["item_key"] = (frame["campaign_id"] + "|" + frame["system"] + "|" + frame["subject_email"]
                             + "|" + frame["entitlement"])
        frame["scope"] = frame["system"].map(self._scope_of_system)
        return frame

    @property
    def campaign(self) -> pd.Series:
        return self._load(self._source_ids("review_campaign")[0]).frame.iloc[0]

    @property
    def grants(self) -> pd.DataFrame:
        frames = [self._load(s).frame.assign(listing=self._label(s)) for s in self._source_ids("access_listings")]
        combined = pd.concat(frames, ignore_index=True)
        assignments = self._load(self._source_ids("idp_assignments")[0]).frame
        return analytics.correlate_grants(combined, self.identities, assignments)

    def _scope_of_system(self, system_id: str) -> str:
        """The framework scope stratum of a system: which frameworks' conclusions its lines feed."""
        system = self.params.system(system_id)
        parts = []
        if system.sox_financially_significant and self.control.frameworks.sox:
            parts.append("SOX")
        if system.soc2_in_boundary and self.control.frameworks.soc2:
            parts.append("SOC 2")
        return " + ".join(parts) or "out of scope"

    def population_evidence(self) -> list[workpapers.HtmlBlock]:
        """IPE evidence of every source, and the reconciliations of the campaign population (A1)."""
        blocks = []
        for source_id, population in self.loaded.items():
            caption = f"{self.params.source(source_id).source_system}: {self._label(source_id)}"
            frozen = self.context.inputs[source_id].relative_to(self.context.run_dir).as_posix()
            rows = [(label, f"{frozen} (frozen copy in the run folder)" if label == "Path" else value)
                    for label, value in population.evidence.as_rows()]
            blocks.append(workpapers.key_values(rows, caption))
        blocks.append(workpapers.table(self.reconciliation(), "Reconciliation of the campaign population (A1)"))
        return blocks

    def reconciliation(self) -> pd.DataFrame:
        """Control totals: campaign lines vs the status report, vs access held at the snapshot."""
        decisions = self.decisions
        campaign = self.campaign
        gaps = analytics.review_population_gaps(
            self.grants, decisions, self.identities, self.snapshot, self.control.systems, "system listings")
        inaccurate = analytics.review_lines_not_in_listing(
            decisions, self.grants, self.identities, self.snapshot, self._label(self._source_ids("review_decisions")[0]))
        total_items = int(campaign["total_items"]) if pd.notna(campaign["total_items"]) else None
        all_lines = len(self._load(self._source_ids("review_decisions")[0]).frame)
        rows = [
            ("Campaign lines in the export", all_lines, "—", "—"),
            ("Campaign lines vs 'Total Items' of the status report", all_lines, total_items,
             "agrees" if total_items == all_lines else "DIFFERS"),
            ("Lines in systems under test", len(decisions), "—", "—"),
            ("Access held at the snapshot not in the campaign", len(gaps), 0, "agrees" if gaps.empty else "DIFFERS"),
            ("Campaign lines not supported by the listings", len(inaccurate), 0, "agrees" if inaccurate.empty else "DIFFERS"),
        ]
        return pd.DataFrame(rows, columns=["check", "count", "expected", "result"])

    # --- 3. analytics ---------------------------------------------------------------------------
    def run_analytics(self) -> pd.DataFrame:
        """Every full-population rule over every review line; the hits are exceptions."""
        decisions = self.decisions
        grants = self.grants
        label = self._label(self._source_ids("review_decisions")[0])
        rs = self.settings.rubber_stamp
        listing_source = self.params.source(self._source_ids("access_listings")[0])
        parts = [
            analytics.review_population_gaps(grants, decisions, self.identities, self.snapshot,
                                             self.control.systems, "system listings"),
            analytics.review_lines_not_in_listing(decisions, grants, self.identities, self.snapshot, label),
            analytics.self_reviews(decisions, label),
            analytics.undecided_lines(decisions, label),
            analytics.approvals_of_terminated(decisions, self.identities, label),
            analytics.rubber_stamping(decisions, label, analytics.RubberStampThresholds(
                rs.min_decisions, rs.min_approval_rate, rs.max_median_seconds)),
            analytics.revocations_not_executed(decisions, grants, label, "system listings",
                                               self.settings.revocation_sla_business_days,
                                               pd.Timestamp(listing_source.extracted_at)),
        ]
        self.hits = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) \
            else parts[0].iloc[0:0]
        return self.hits

    def timeliness(self) -> pd.DataFrame:
        """Campaign-level timeliness and sign-off (A2, A5)."""
        s = self.settings
        return analytics.campaign_timeliness(self.campaign, s.snapshot_date, s.launch_within_days, s.complete_within_days)

    def reviewer_statistics(self) -> pd.DataFrame:
        """Per-reviewer statistics behind the rubber-stamping analytic."""
        stats = analytics.reviewer_statistics(self.decisions)
        stats["approval_rate"] = stats["approval_rate"].map(lambda x: f"{x:.0%}" if pd.notna(x) else "")
        stats["median_seconds_between_decisions"] = stats["median_seconds_between_decisions"].round(0)
        return stats.drop(columns=["first_decision", "last_decision"])

    def analytics_summary(self) -> pd.DataFrame:
        """Hits per rule, for the workpaper."""
        hits = self.hits if self.hits is not None else self.run_analytics()
        return hits.groupby("rule").size().rename("exceptions").reset_index()

    # --- 4. sample ------------------------------------------------------------------------------
    def plan_sample(self) -> pd.DataFrame:
        """Size the sample for each framework scope stratum and say why."""
        cfg = self.control.sampling
        decisions = self.decisions
        rows = []
        for stratum, size in decisions.groupby("scope").size().items():
            if cfg.approach == "frequency":
                plan = sampling.frequency_sample_size(self.control.frequency, cfg.risk, population_size=int(size))
            else:
                plan = sampling.plan_sample(confidence=cfg.confidence, tolerable_rate=cfg.tolerable_rate,
                                            expected_rate=cfg.expected_rate, population_size=int(size), method=cfg.method)
            self.plan[stratum] = plan
            rows.append({"scope stratum": stratum, "review lines": int(size), "sample size": min(plan.n, int(size)),
                         "rationale": plan.rationale()})
        return pd.DataFrame(rows)

    def select_sample(self) -> pd.DataFrame:
        """Stratified statistical selection (seeded) plus targeted items from the analytics, kept apart."""
        if not self.plan:
            self.plan_sample()
        decisions = self.decisions
        allocation = {stratum: min(plan.n, int((decisions["scope"] == stratum).sum())) for stratum, plan in self.plan.items()}
        statistical, self.selection = sampling.select_with_record(
            decisions, sum(allocation.values()), method="stratified", seed=self.params.seed,
            key="item_key", strata="scope", allocation=allocation)
        hits = self.hits if self.hits is not None else self.run_analytics()
        line_hits = hits[hits["detail_key"] != ""]
        targeted_keys = sorted(set(
            decisions.merge(line_hits, left_on=["subject_email", "system"], right_on=["subject", "system"])
            .loc[lambda f: (f["system"] + "|" + f["entitlement"]) == f["detail_key"], "item_key"]
        ))
        targeted = sampling.select_targeted(decisions, targeted_keys, key="item_key",
                                            reason="hit of a full-population analytic")
        self.sample = sampling.combine_selections(statistical, targeted)
        self.sample = self.test_attributes(self.sample)
        return self.sample

    def selection_method(self) -> list[tuple[str, str]]:
        """Method, seed and algorithm, so anyone can re-derive the same items."""
        return [
            ("Method", "stratified simple random selection by framework scope, plus targeted items (kept apart)"),
            ("Key of an item", "campaign id | system | subject e-mail | entitlement"),
            ("Seed", str(self.params.seed)),
            ("Algorithm", f"{sampling.SELECTION_ALGORITHM}: items ranked by SHA-256 of 'seed|key' within each stratum"),
        ]

    # --- 5. attributes --------------------------------------------------------------------------
    def test_attributes(self, items: pd.DataFrame) -> pd.DataFrame:
        """Test A3–A6 on each selected line; 'pass', 'fail' or 'n/a' per attribute, and a deviation flag."""
        identities = self.identities.set_index("email")
        managers = identities["manager_employee_id"]
        emails_by_id = self.identities.set_index("employee_id")["email"]
        manager_email = items["subject_email"].map(managers).map(emails_by_id)
        owners = {s.id: (s.owner or "").casefold() for s in self.params.systems}
        grants = self.grants
        held = set(map(tuple, grants[analytics.held_at(grants, self.snapshot)][["system", "person_email", "entitlement"]].to_numpy()))
        campaign = self.campaign
        leaver_dates = self.identities.set_index("email")["termination_date"]
        revocation_hits = set()
        if self.hits is not None:
            revocation_hits = set(self.hits.loc[self.hits["rule"] == "revocation_not_executed", ["subject", "detail_key"]]
                                  .itertuples(index=False, name=None))
        result = items.copy()

        def verdict(ok: pd.Series) -> pd.Series:
            return ok.map({True: "pass", False: "fail"})

        result["A3_reviewer_independent"] = verdict(result["reviewer_email"] != result["subject_email"])
        appropriate = (result["reviewer_email"] == manager_email) | (result["reviewer_email"] == result["system"].map(owners))
        result["A3_reviewer_appropriate"] = verdict(appropriate & (result["reviewer_email"] != result["subject_email"]))
        in_listing = pd.Series([(s, e, n) in held for s, e, n in zip(result["system"], result["subject_email"], result["entitlement"])],
                               index=result.index)
        result["A4_access_in_listing"] = verdict(in_listing | (result["decision"] == "revoke")
                                                 | result["subject_email"].isin(leaver_dates.dropna().index))
        window_end = campaign["completed_at"] if pd.notna(campaign["completed_at"]) else campaign["deadline"]
        decided = (result["decision"] != "undecided") & result["decided_at"].notna() \
            & (result["decided_at"] >= campaign["activated_at"]) & (result["decided_at"] <= window_end)
        result["A5_decision_recorded"] = verdict(decided)
        terminated_on = result["subject_email"].map(leaver_dates)
        decided_day = result["decided_at"].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
        leaver_approved = (result["decision"] == "approve") & terminated_on.notna() & (decided_day >= terminated_on)
        result["A5_no_leaver_approved"] = verdict(~leaver_approved.fillna(False))
        revoke = result["decision"] == "revoke"
        not_executed = pd.Series([(s, f"{sy}|{e}") in revocation_hits for s, sy, e in
                                  zip(result["subject_email"], result["system"], result["entitlement"])], index=result.index)
        result["A6_revocation_executed"] = verdict(~not_executed).where(revoke, "n/a")
        result["deviation"] = (result[list(ATTRIBUTES)] == "fail").any(axis=1)
        return result

    def attribute_results(self) -> pd.DataFrame:
        """The per-item results with tickmarks, as shown in the workpaper."""
        sample = self.sample if self.sample is not None else self.select_sample()
        marks = {name: mark for name, (mark, _) in workpapers.TICKMARKS.items()}
        shown = sample[["selection_order", "selection_basis", "scope", "reviewer_email", "subject_email", "system",
                        "entitlement", "decision"] + list(ATTRIBUTES)].copy()
        for column in ATTRIBUTES:
            shown[column] = shown[column].map(marks)
        shown["deviation"] = sample["deviation"].map({True: "yes", False: ""})
        return shown.rename(columns={k: k.split("_")[0] for k in ATTRIBUTES} | {"selection_basis": "basis"})

    def attribute_legend(self) -> pd.DataFrame:
        """What each attribute column means."""
        return pd.DataFrame([(k.split("_")[0], v) for k, v in ATTRIBUTES.items()], columns=["column", "attribute"])

    # --- 6. exceptions --------------------------------------------------------------------------
    def _frameworks_of(self, system: str) -> tuple[str, ...]:
        """The frameworks whose conclusion an exception in this system feeds (all mapped, if no system)."""
        scope = self._scope_of_system(system) if system else " + ".join(
            (["SOX"] if self.control.frameworks.sox else []) + (["SOC 2"] if self.control.frameworks.soc2 else []))
        return tuple(part for part in scope.split(" + ") if part in ("SOX", "SOC 2"))

    def findings(self) -> list[exceptions.Finding]:
        """Analytics hits and failed sample attributes as findings for the register."""
        hits = self.hits if self.hits is not None else self.run_analytics()
        found = [
            exceptions.Finding(rule=h.rule, subject=h.subject, system=h.system, description=h.description,
                               evidence_reference=h.evidence_reference, severity=h.severity, origin="analytics",
                               detail_key=h.detail_key, frameworks=self._frameworks_of(h.system))
            for h in hits.itertuples()
        ]
        sample = self.sample if self.sample is not None else self.select_sample()
        label = self._label(self._source_ids("review_decisions")[0])
        already = set(zip(hits["subject"], hits["system"], hits["detail_key"]))
        for item in sample[sample["deviation"]].itertuples():
            if (item.subject_email, item.system, f"{item.system}|{item.entitlement}") in already:
                continue  # the same line is already an analytics exception: one finding, not two
            failed = [ATTRIBUTES[a] for a in ATTRIBUTES if getattr(item, a) == "fail"]
            found.append(exceptions.Finding(
                rule="sample_attribute_failed", subject=item.subject_email, system=item.system,
                description=f"Sample item {item.selection_order} ({item.entitlement}, reviewer {item.reviewer_email}) failed: "
                            + "; ".join(failed) + ".",
                evidence_reference=f"{label} line {int(item.line)}", severity="medium", origin="sample",
                detail_key=f"{item.system}|{item.entitlement}", frameworks=self._frameworks_of(item.system)))
        return found

    def register(self) -> pd.DataFrame:
        """This control's exception register (stable ids)."""
        return exceptions.build_register(self.params.period.id, self.control.id, self.findings())

    # --- 7. evaluation and conclusion -----------------------------------------------------------
    def evaluate(self) -> pd.DataFrame:
        """Deviations, upper deviation limit and tolerable rate for each framework's sample."""
        sample = self.sample if self.sample is not None else self.select_sample()
        cfg = self.control.sampling
        statistical = sample[sample["selection_basis"].str.contains("statistical")]
        rows = []
        for framework in self._frameworks_of(""):
            items = statistical[statistical["scope"].str.contains(framework, regex=False)]
            n, k = len(items), int(items["deviation"].sum())
            if n == 0:
                continue
            ev = sampling.evaluate(n, k, cfg.confidence, cfg.tolerable_rate, method="binomial")
            self.evaluations[framework] = ev
            rows.append({"framework": framework, "items tested": n, "deviations": k,
                         "sample deviation rate": f"{ev.sample_deviation_rate:.1%}",
                         "upper deviation limit": f"{sampling.round_up_pct(ev.upper_deviation_limit):.1%}",
                         "tolerable rate": f"{cfg.tolerable_rate:.1%}",
                         "supports reliance": "yes" if ev.supports_reliance else "no"})
        return pd.DataFrame(rows)

    def conclusions(self) -> list[tuple[str, str, list[str], bool]]:
        """One conclusion per mapped framework: (framework label, headline, sentences, effective)."""
        if not self.evaluations:
            self.evaluate()
        register = self.register()
        out = []
        soc2 = self.control.frameworks.soc2
        if soc2:
            out.append(self._conclude("SOC 2", f"SOC 2 {', '.join(soc2)}", register))
        if self.control.frameworks.sox:
            out.append(self._conclude("SOX", "SOX ITGC access to programs and data", register))
        return out

    def _conclude(self, framework: str, label: str, register: pd.DataFrame) -> tuple[str, str, list[str], bool]:
        mine = register[register["framework"].str.contains(framework, regex=False)]
        analytics_hits = mine[mine["origin"] == "analytics"]
        ev = self.evaluations.get(framework)
        sample_text = (f"{ev.deviations} of {ev.sample_size} sampled review lines deviated" if ev
                       else "no statistical sample in this framework's scope")
        effective = mine.empty and (ev is None or ev.supports_reliance)
        by_rule = analytics_hits.groupby("rule").size()
        rule_text = ", ".join(f"{count} {rule.replace('_', ' ')}" for rule, count in by_rule.items())
        if framework == "SOC 2":
            headline = "No exceptions noted" if effective else f"Exception noted ({len(mine)})"
            body = [f"{label}: No exceptions noted ({sample_text}; no full-population analytics exceptions)."
                    if effective else
                    f"{label}: Exception noted: full-population analytics identified {len(analytics_hits)} exception(s)"
                    f"{' (' + rule_text + ')' if rule_text else ''}; {sample_text}."]
            body.append("Management's response is recorded separately and is not part of this result.")
        else:
            headline = "Effective" if effective else "Deficiency identified"
            body = [f"{label}: the control operated effectively in financially significant applications." if effective else
                    f"{label}: control deficiency identified in financially significant applications: {sample_text}; "
                    f"full-population analytics identified {len(analytics_hits)} exception(s)"
                    f"{': ' + rule_text if rule_text else ''}."]
            if ev:
                body.append(ev.conclusion())
        if ev and not ev.supports_reliance:
            cfg = self.control.sampling
            body.append("Sample extension: " + sampling.extension_size(
                ev.sample_size, ev.deviations, cfg.confidence, cfg.tolerable_rate).statement)
            if not effective:
                body.append("Deficiency evaluation inputs for the auditor (AS 2201): likelihood and magnitude of a "
                            "misstatement, compensating controls tested and their precision, aggregation by application; "
                            "classification (deficiency, significant deficiency, material weakness) is the auditor's judgment.")
        return framework, headline, body, effective

    # --- 8. record ------------------------------------------------------------------------------
    def record(self) -> dict:
        """Write sample.csv, the control's exceptions.csv and result.json into the control's folder."""
        out = self.context.control_dir(self.control.id)
        out.mkdir(parents=True, exist_ok=True)
        sample = self.sample if self.sample is not None else self.select_sample()
        columns = ["selection_order", "selection_basis", "scope", "item_key", "selection_hash", "campaign_id",
                   "reviewer_email", "subject_email", "system", "entitlement", "privileged", "decision", "decided_at",
                   "line", *ATTRIBUTES, "deviation"]
        sample[[c for c in columns if c in sample.columns]].to_csv(out / "sample.csv", index=False, lineterminator="\n")
        register = self.register()
        exceptions.write_register(register, out / CONTROL_EXCEPTIONS)
        conclusions = self.conclusions()
        result = {
            "control_id": self.control.id,
            "conclusions": [f"{fw}: {headline}" for fw, headline, _, _ in conclusions],
            "effective": {fw: effective for fw, _, _, effective in conclusions},
            "exception_count": len(register),
            "sample": {"statistical": int(sample["selection_basis"].str.contains("statistical").sum()),
                       "targeted": int(sample["selection_basis"].str.contains("targeted").sum()),
                       "seed": self.params.seed, "algorithm": sampling.SELECTION_ALGORITHM,
                       "selection_record": self.selection.to_dict() if self.selection else None},
        }
        (out / CONTROL_RESULT).write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return result

    def conclusion_blocks(self) -> list[workpapers.HtmlBlock]:
        """The conclusions as workpaper blocks, one per framework."""
        return [workpapers.conclusion_block(fw, headline, body, effective)
                for fw, headline, body, effective in self.conclusions()]
