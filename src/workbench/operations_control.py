"""Computer operations analytics: backup jobs against their schedule, failed scheduled runs and
their follow-up, incidents against the SLA of their priority.

A *run* is one run of a scheduled job (``job_runs``: a Veeam session, an AWS Backup job, a batch
job of the scheduler). A failed run is *followed up* when the job ran again successfully, or an
incident naming the job was opened, within the policy's hours; it is *resolved* when the job ran
successfully later (by the period end) or the incident naming it was resolved. A backup job meets
its schedule when no two of its successful runs (nor the period's start or end and its nearest
success) are further apart than its interval and a tolerance. An incident meets its SLA when it was
resolved within the hours of its priority. Every function is pure: frames in, frames out.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from workbench.analytics import HIT_COLUMNS, evidence_reference

RULES = ("backup_missed_schedule", "failure_not_followed_up", "job_failure_unresolved", "incident_sla_breached")
#: Hours to resolve an incident, by priority (ServiceNow's default SLA shape; the entity's policy
#: replaces them in ``settings.sla_hours``).
DEFAULT_SLA_HOURS: Mapping[str, float] = {"critical": 4, "high": 8, "moderate": 72, "low": 168, "planning": 720}


def _folded(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.casefold()


def _when(moment: object) -> str:
    return pd.Timestamp(moment).strftime("%Y-%m-%d %H:%M UTC") if pd.notna(moment) else "never"


def _frame(rows: list[dict[str, str]]) -> pd.DataFrame:
    hits = pd.DataFrame(rows, columns=HIT_COLUMNS)
    return hits.sort_values(["rule", "subject", "system", "detail_key"], kind="mergesort").reset_index(drop=True)


def follow_ups(failed: pd.DataFrame, runs: pd.DataFrame, incidents: pd.DataFrame, follow_up_hours: float,
               until: pd.Timestamp) -> pd.DataFrame:
    """Per failed run (same index): the next successful run of its job (``next_success``), the first
    incident naming the job opened from an hour before the failure (``incident``, ``incident_opened``,
    ``incident_resolved``), ``followed_up_in_time`` and ``resolved`` (by ``until``)."""
    success = runs[runs["result"] == "success"].sort_values("started_at", kind="mergesort")
    named = incidents.assign(job=_folded(incidents["related_job"])).dropna(subset=["job"]) \
        .sort_values(["opened_at", "ticket"], kind="mergesort")
    window = pd.Timedelta(hours=follow_up_hours)
    rows = []
    for run in failed.itertuples():
        job = str(run.job_name).strip().casefold()
        later = success[(success["system"] == run.system) & (_folded(success["job_name"]) == job)
                        & (success["started_at"] > run.started_at) & (success["started_at"] < until)]
        again = later["started_at"].iloc[0] if len(later) else pd.NaT
        tickets = named[(named["job"] == job) & (named["opened_at"] >= run.started_at - pd.Timedelta(hours=1))]
        ticket = tickets.iloc[0] if len(tickets) else None
        opened = ticket["opened_at"] if ticket is not None else pd.NaT
        fixed = ticket["resolved_at"] if ticket is not None else pd.NaT
        deadline = run.started_at + window
        rows.append({"next_success": again, "incident": ticket["ticket"] if ticket is not None else pd.NA,
                     "incident_opened": opened, "incident_resolved": fixed,
                     # a follow-up not yet due at the period end is not late
                     "followed_up_in_time": bool((pd.notna(again) and again <= deadline)
                                                 or (pd.notna(opened) and opened <= deadline) or deadline >= until),
                     "resolved": bool(pd.notna(again) or (pd.notna(fixed) and fixed < until))})
    return pd.DataFrame(rows, index=failed.index,
                        columns=["next_success", "incident", "incident_opened", "incident_resolved",
                                 "followed_up_in_time", "resolved"])


def sla_status(incidents: pd.DataFrame, sla_hours: Mapping[str, float], until: pd.Timestamp) -> pd.DataFrame:
    """Per incident (same index): its SLA in hours, its due time, and whether it was resolved in time
    (an incident still open at ``until`` and past due breached it; one not yet due has not)."""
    hours = incidents["priority"].map(lambda p: sla_hours.get(str(p))).astype("Float64")
    due = incidents["opened_at"] + pd.to_timedelta(hours.astype("float64"), unit="h")
    resolved = incidents["resolved_at"]
    in_time = (resolved.notna() & (resolved <= due)) | (resolved.isna() & (due >= until))
    return pd.DataFrame({"sla_hours": hours, "due": due, "within_sla": in_time.fillna(True).astype(bool)},
                        index=incidents.index)


def schedule_gaps(runs: pd.DataFrame, interval_hours: float, tolerance_hours: float, start: pd.Timestamp,
                  end: pd.Timestamp) -> pd.DataFrame:
    """Every gap longer than ``interval_hours + tolerance_hours`` between a backup job's successful
    runs in [start, end): (system, job_name, gap_from, gap_to, hours, line, listing of the run
    that ended the gap). A job whose first run comes later than the period start plus the allowed
    gap is new: its schedule starts at its first run."""
    allowed = pd.Timedelta(hours=interval_hours + tolerance_hours)
    rows = []
    for (system, job), mine in runs.groupby(["system", "job_name"], sort=True):
        mine = mine.sort_values("started_at", kind="mergesort")
        first = mine["started_at"].iloc[0]
        begin = start if first - start <= allowed else first
        ok = mine[(mine["result"] == "success") & (mine["started_at"] >= start) & (mine["started_at"] < end)]
        moments = [begin, *ok["started_at"], end]
        lines = [None, *zip(ok["line"], ok["listing"]), None]
        for i in range(1, len(moments)):
            if moments[i] - moments[i - 1] > allowed:
                where = lines[i] or lines[i - 1] or (mine["line"].iloc[-1], mine["listing"].iloc[-1])
                rows.append({"system": system, "job_name": job, "gap_from": moments[i - 1], "gap_to": moments[i],
                             "hours": (moments[i] - moments[i - 1]) / pd.Timedelta(hours=1),
                             "line": where[0], "listing": where[1]})
    return pd.DataFrame(rows, columns=["system", "job_name", "gap_from", "gap_to", "hours", "line", "listing"])


def schedule_exceptions(gaps: pd.DataFrame, interval_hours: float) -> pd.DataFrame:
    """A hit per gap in a backup job's schedule."""
    return _frame([{
        "rule": "backup_missed_schedule", "subject": str(g.job_name), "system": str(g.system),
        "detail_key": f"{g.job_name}|{pd.Timestamp(g.gap_from).strftime('%Y-%m-%d %H:%M')}",
        "description": f"Backup job {g.job_name} had no successful run from {_when(g.gap_from)} to {_when(g.gap_to)} "
                       f"({g.hours:.0f} hours; the schedule runs it every {interval_hours:g} hours).",
        "evidence_reference": evidence_reference(g.listing, g.line), "severity": "high"} for g in gaps.itertuples()])


def failure_exceptions(items: pd.DataFrame, follow_up_hours: float) -> pd.DataFrame:
    """Failed runs not followed up within the policy's hours, and failed runs never resolved."""
    rows = []
    for item in items[items["item_type"] == "failed run"].itertuples():
        evidence = evidence_reference(item.listing, item.line)
        if not item.followed_up_in_time:
            rows.append({"rule": "failure_not_followed_up", "subject": str(item.subject), "system": str(item.system),
                         "detail_key": str(item.detail_key), "severity": "medium", "evidence_reference": evidence,
                         "description": f"The {item.job_type or 'scheduled'} job {item.job_name} failed at "
                                        f"{_when(item.started_at)} and was neither re-run successfully nor ticketed "
                                        f"within {follow_up_hours:g} hours (next success: {_when(item.next_success)}; "
                                        f"incident: {item.incident if pd.notna(item.incident) else 'none'})."})
        if not item.resolved:
            rows.append({"rule": "job_failure_unresolved", "subject": str(item.subject), "system": str(item.system),
                         "detail_key": str(item.detail_key), "severity": "high", "evidence_reference": evidence,
                         "description": f"The {item.job_type or 'scheduled'} job {item.job_name} failed at "
                                        f"{_when(item.started_at)} and did not run successfully again by the period "
                                        "end, nor was an incident naming it resolved."})
    return _frame(rows)


def sla_exceptions(items: pd.DataFrame) -> pd.DataFrame:
    """Incidents resolved after the SLA of their priority, or still open past it."""
    rows = []
    for item in items[(items["item_type"] == "incident") & ~items["within_sla"].fillna(True).astype(bool)].itertuples():
        state = (f"resolved {_when(item.resolved_at)}" if pd.notna(item.resolved_at) else "still open at the period end")
        rows.append({"rule": "incident_sla_breached", "subject": str(item.subject), "system": str(item.system),
                     "detail_key": str(item.detail_key), "severity": "medium",
                     "evidence_reference": evidence_reference(item.listing, item.line),
                     "description": f"Incident {item.ticket} ({item.priority}) opened {_when(item.opened_at)} was due "
                                    f"within {item.sla_hours:g} hours ({_when(item.due)}) and was {state}."})
    return _frame(rows)
