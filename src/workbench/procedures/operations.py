"""Computer operations: SOC 2 CC7.1-CC7.5 and A1.2, and the SOX ITGC domain computer operations.

The population is every failed run of a scheduled job (backups and batch jobs) and every incident
opened in the period in the control's systems (:mod:`workbench.operations_control`). Full-population
analytics first: backup jobs without a successful run within their interval, failed runs not followed
up within the policy's hours, failed runs never resolved, incidents not resolved within the SLA of
their priority. Then a stratified sample with attributes O1-O3.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from workbench import analytics, operations_control, workpapers
from workbench.freshness import Claim
from workbench.procedures.base import HR, IDENTITY_ALIASES, ControlTest, SourceRole
from workbench.tables import INCIDENT_PRIORITIES


class Settings(BaseModel):
    """The ``settings:`` block of a computer operations control in the period file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    # The job types whose runs are backups, checked against their schedule (matched ignoring case).
    backup_job_types: list[str] = Field(default_factory=lambda: ["backup"], min_length=1)
    # How often a backup job must succeed, and the slack allowed before a run counts as missed.
    backup_interval_hours: float = Field(24, gt=0)
    schedule_tolerance_hours: float = Field(6, ge=0)
    # The policy's hours to follow a failed run up (a successful re-run or an incident naming the job).
    follow_up_hours: float = Field(24, gt=0)
    # Hours to resolve an incident, by priority.
    sla_hours: dict[str, float] = Field(default_factory=lambda: dict(operations_control.DEFAULT_SLA_HOURS))

    @field_validator("sla_hours")
    @classmethod
    def _every_priority(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(INCIDENT_PRIORITIES))
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not an incident priority ({', '.join(INCIDENT_PRIORITIES)})")
        missing = [p for p in INCIDENT_PRIORITIES if p not in value]
        if missing:
            raise ValueError(f"give the SLA hours of every priority; missing: {', '.join(missing)}")
        if any(hours <= 0 for hours in value.values()):
            raise ValueError("SLA hours must be positive")
        return value


ATTRIBUTES = {
    "O1_followed_up_in_time": "O1 The failed run was re-run successfully or ticketed within the policy's hours",
    "O2_resolved": "O2 The failure was resolved by the period end (a later successful run, or the incident naming "
                   "the job resolved)",
    "O3_within_sla": "O3 The incident was resolved within the SLA of its priority (or was open and not yet due at "
                     "the period end)",
}


@dataclass
class OperationsTest(ControlTest):
    """Failed scheduled runs and incidents of the period, each traced to its follow-up and resolution."""

    Settings = Settings
    SOURCE_ROLES = {
        "hr": HR,
        "identity_aliases": IDENTITY_ALIASES,
        "job_runs": SourceRole("the job logs: every run of the backup and batch jobs with its result "
                               "(Veeam sessions, AWS Backup jobs, the scheduler's history)", ("job_runs",),
                               several=True),
        "incidents": SourceRole("the incident tickets (ServiceNow incident, PagerDuty, Jira)", ("incidents",),
                                several=True),
    }
    ATTRIBUTES = ATTRIBUTES
    # A job log or incident export extracted before the period ended misses its last runs and
    # incidents, and the follow-up of late failures (workbench.freshness).
    FRESHNESS_CLAIMS = (
        Claim("job_runs", "period_end", "the period end", "every run of the period's jobs and its result", "after"),
        Claim("incidents", "period_end", "the period end", "the incidents of the period and their resolution", "after"),
    )
    ITEM_NOUN = "failures and incidents"
    OCCASION = "no job failed and no incident was opened"
    SAMPLE_COLUMNS = ["subject", "system", "item_type", "detail_key", "priority", "occurred", "followed_up", "resolved_on"]
    HIT_MATCH = ("system", "detail_key")

    # --- 1. objective -------------------------------------------------------------------------
    def objective(self) -> workpapers.HtmlBlock:
        """Objective, procedure and the settings that shape the test."""
        s = self.settings
        rows = [
            ("Objective", "Backups run as scheduled; failed backup and batch jobs are followed up and resolved "
                          "within the policy; incidents are resolved within the SLA of their priority."),
            ("Procedure", "Take every run of the scheduled jobs and every incident of the period; check each backup "
                          "job against its schedule and trace every failed run to its re-run or ticket (full "
                          "population); select a sample of failures and incidents stratified by framework scope and "
                          "test attributes O1-O3; evaluate and conclude per framework."),
            ("Systems in scope", ", ".join(self.params.system(x).name for x in self.control.systems)),
            ("Period", f"{self.params.period.start} to {self.params.period.end}"),
            ("Backup schedule", f"jobs of type {', '.join(s.backup_job_types)} succeed every "
                                f"{s.backup_interval_hours:g} hours ({s.schedule_tolerance_hours:g} hours' tolerance)"),
            ("Follow-up of a failure", f"a successful re-run or an incident naming the job within "
                                       f"{s.follow_up_hours:g} hours"),
            ("Incident SLA (hours)", ", ".join(f"{p} {h:g}" for p, h in s.sla_hours.items())),
        ]
        return workpapers.key_values(rows)

    # --- 2. population --------------------------------------------------------------------------
    def in_scope(self, frame: pd.DataFrame) -> pd.Series:
        return frame["system"].isin(self.control.systems).fillna(False).astype(bool)

    @cached_property
    def runs(self) -> pd.DataFrame:
        """Every run of the scheduled jobs in the control's systems (all dates: a re-run may follow the period)."""
        runs = self.log_frames("job_runs")
        return runs[self.in_scope(runs)].reset_index(drop=True)

    @cached_property
    def incidents(self) -> pd.DataFrame:
        """Every incident of the incident exports, the people they name recognised as HR workers."""
        logs = self.log_frames("incidents")
        return pd.concat([self.resolve_people("incidents", part) for _, part in logs.groupby("listing", sort=False)],
                         ignore_index=True) if len(logs) else logs

    def log_frames(self, role: str) -> pd.DataFrame:
        """A multi-source role's logs concatenated, each row naming its file. Several logs of one system
        (a backup tool and a scheduler; two incident tools) are read together: they are not snapshots."""
        return pd.concat([self.load_for(role, s).frame.assign(listing=self.label(s)) for s in self.source_ids(role)],
                         ignore_index=True)

    def in_period(self, moments: pd.Series) -> pd.Series:
        return ((moments >= self.period_start) & (moments < self.period_end)).fillna(False).astype(bool)

    @property
    def until(self) -> pd.Timestamp:
        """Where follow-up is judged: the period end (what happened after it is not the period's)."""
        return self.period_end

    @cached_property
    def items(self) -> pd.DataFrame:
        """The sampling frame: failed runs and incidents of the period (see the module docstring)."""
        runs = self.runs
        failed = runs[(runs["result"] == "failed") & self.in_period(runs["started_at"])].copy()
        failed = failed.join(operations_control.follow_ups(failed, runs, self.incidents, self.settings.follow_up_hours,
                                                           self.until))
        failed = failed.assign(item_type="failed run", subject=failed["job_name"], detail_key=failed["run_id"],
                               occurred=failed["started_at"].dt.strftime("%Y-%m-%d %H:%M"),
                               followed_up=failed["next_success"].where(failed["next_success"].notna(),
                                                                        failed["incident_opened"])
                               .dt.strftime("%Y-%m-%d %H:%M"),
                               resolved_on=failed["next_success"].dt.strftime("%Y-%m-%d %H:%M"))
        incidents = self.incidents
        opened = incidents[self.in_period(incidents["opened_at"]) & self.in_scope(incidents)].copy()
        opened = opened.join(operations_control.sla_status(opened, self.settings.sla_hours, self.until))
        opened = opened.assign(item_type="incident", subject=opened["ticket"], detail_key=opened["ticket"],
                               occurred=opened["opened_at"].dt.strftime("%Y-%m-%d %H:%M"), followed_up=pd.NA,
                               resolved_on=opened["resolved_at"].dt.strftime("%Y-%m-%d %H:%M"))
        frame = pd.concat([failed, opened], ignore_index=True) if len(opened) or len(failed) else \
            pd.concat([failed, opened], ignore_index=True).iloc[0:0]
        for column in ("followed_up_in_time", "resolved", "within_sla"):
            if column not in frame:
                frame[column] = pd.Series(dtype="object")
        for column in ("priority", "ticket", "job_name", "job_type", "resolved_at", "due", "sla_hours", "next_success",
                       "incident", "opened_at", "started_at"):
            if column not in frame:
                frame[column] = pd.NA
        frame["item_key"] = frame["system"].astype("string") + "|" + frame["detail_key"].astype("string")
        frame["scope"] = frame["system"].map(self.scope_of_system)
        frame["evidence_reference"] = [analytics.evidence_reference(s, n) for s, n in zip(frame["listing"], frame["line"])]
        return frame[frame["scope"] != "out of scope"].sort_values("item_key", kind="mergesort").reset_index(drop=True)

    def population(self) -> pd.DataFrame:
        return self.items

    def population_evidence(self) -> list[workpapers.HtmlBlock]:
        """IPE evidence of every source, and the reconciliation of the frame."""
        return super().population_evidence() + [workpapers.table(self.reconciliation(),
                                                                 "Reconciliation of the failures and incidents")]

    def reconciliation(self) -> pd.DataFrame:
        """Control totals: runs and incidents read, in the period, failed, in the frame."""
        runs, frame = self.runs, self.items
        in_period = runs[self.in_period(runs["started_at"])]
        failed = int((in_period["result"] == "failed").sum())
        incidents = self.incidents
        opened = int((self.in_period(incidents["opened_at"]) & self.in_scope(incidents)).sum())
        return self.checks_table([
            ("Job runs in the control's systems (all dates)", len(runs), None),
            ("Job runs in the period", len(in_period), None),
            ("of which succeeded", int((in_period["result"] == "success").sum()), None),
            ("of which ended with a warning", int((in_period["result"] == "warning").sum()), None),
            ("Failed runs in the frame", int((frame["item_type"] == "failed run").sum()), failed),
            ("Incidents read (all)", len(incidents), None),
            ("Incidents opened in the period in the control's systems", opened, None),
            ("Incidents in the frame", int((frame["item_type"] == "incident").sum()), opened),
            ("Workers on the HR roster (the people incidents are assigned to)", len(self.frame("hr")), None),
        ])

    def schedule_summary(self) -> pd.DataFrame:
        """Backup jobs in the period: runs, successes and the longest time without a success."""
        backups = self.backup_runs
        rows = []
        for (system, job), mine in backups.groupby(["system", "job_name"], sort=True):
            period = mine[self.in_period(mine["started_at"])]
            gaps = self.gaps[(self.gaps["system"] == system) & (self.gaps["job_name"] == job)]
            rows.append({"system": system, "backup job": job, "runs in the period": len(period),
                         "succeeded": int((period["result"] == "success").sum()),
                         "failed": int((period["result"] == "failed").sum()),
                         "missed schedule": len(gaps)})
        return pd.DataFrame(rows, columns=["system", "backup job", "runs in the period", "succeeded", "failed",
                                           "missed schedule"])

    # --- 3. analytics ---------------------------------------------------------------------------
    @property
    def backup_runs(self) -> pd.DataFrame:
        kinds = {k.casefold() for k in self.settings.backup_job_types}
        return self.runs[self.runs["job_type"].astype("string").str.casefold().isin(kinds).fillna(False)]

    @cached_property
    def gaps(self) -> pd.DataFrame:
        s = self.settings
        return operations_control.schedule_gaps(self.backup_runs, s.backup_interval_hours, s.schedule_tolerance_hours,
                                                self.period_start, self.period_end)

    def rules_run(self) -> tuple[str, ...]:
        return operations_control.RULES

    def run_analytics(self) -> pd.DataFrame:
        """Backup schedules, failed runs and incidents of the period against the policy."""
        self.hits = self.combine_hits([
            operations_control.schedule_exceptions(self.gaps, self.settings.backup_interval_hours),
            operations_control.failure_exceptions(self.items, self.settings.follow_up_hours),
            operations_control.sla_exceptions(self.items),
        ])
        return self.hits

    # --- 5. attributes --------------------------------------------------------------------------
    def test_attributes(self, items: pd.DataFrame) -> pd.DataFrame:
        """Test O1-O3 on each selected failure or incident: 'pass', 'fail' or 'n/a' per attribute."""
        result = items.copy()
        run = result["item_type"] == "failed run"
        incident = result["item_type"] == "incident"
        result["O1_followed_up_in_time"] = self.verdict(result["followed_up_in_time"].where(run, False), run)
        result["O2_resolved"] = self.verdict(result["resolved"].where(run, False), run)
        result["O3_within_sla"] = self.verdict(result["within_sla"].where(incident, False), incident)
        return result
