"""The demo company's computer operations exports: nightly backups of the Ledgerline ERP database
(a Veeam Backup & Replication session export) and of the AWS production databases (AWS Backup's
``list-backup-jobs`` output), and the ServiceNow incident list, with the operations exceptions
planted in the demo period and an answer key.

The prior quarter is clean (one failed backup, re-run two hours later). The demo quarter plants
(``OPERATIONS_PLANTED``): a failed ERP backup neither re-run nor ticketed within the policy's twelve
hours (and so a night without a backup); two nights the AWS backup plan did not run; a second ERP
backup job that failed, was ticketed and never ran again (unresolved, and its schedule missed to
the period end); a high-priority incident resolved after its SLA; a critical incident still open
past its SLA at the period end. ``operations/operations_ground_truth.csv`` lists them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta

from workbench.demo_changes import Cast, cast

VEEAM = "operations/veeam_backup_sessions.csv"
AWS_BACKUP = "operations/aws_backup_jobs.json"
INCIDENTS = "operations/servicenow_incidents.csv"
TRUTH = "operations/operations_ground_truth.csv"
VEEAM_HEADER = ("Id", "JobName", "JobType", "CreationTime", "EndTime", "Result", "State", "Info")
INCIDENT_HEADER = ("number", "short_description", "priority", "state", "opened_at", "resolved_at", "closed_at",
                   "assigned_to", "cmdb_ci")
ERP_JOB, FILES_JOB, AWS_JOB = "ledgerline-db-nightly", "ledgerline-files-nightly", "prod-rds"
OPERATIONS_PLANTED: Mapping[str, int] = {"failure_not_followed_up": 1, "backup_missed_schedule": 3,
                                         "job_failure_unresolved": 1, "incident_sla_breached": 2}


def _veeam_time(t: datetime) -> str:
    return t.strftime("%m/%d/%Y %I:%M:%S %p")  # PowerShell's Export-Csv, en-US culture


def _snow(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if t else ""


def build(crew: Cast | None, start: date, end: date, planted: bool) -> dict[str, bytes]:
    """The operations exports of the quarter [start, end] and their answer key (relative path -> bytes)."""
    if crew is None:
        return {}
    days = [start + timedelta(days=i) for i in range(-3, (end - start).days + 1)]
    fail_day, gap_days = days[3 + 40], set(days[3 + 60:3 + 62])  # a failure in August, two nights in late August
    clean_failure = days[3 + 20]
    files_last = days[-4]
    sessions: list[list[str]] = []
    truth: list[tuple[str, str, str, str]] = []

    def session(job: str, moment: datetime, result: str, info: str = "") -> str:
        run_id = f"{{{len(sessions):08x}-7d1c-4e2b-9a55-{job[:12]:>12}}}".replace(" ", "0")
        sessions.append([run_id, job, "Backup", _veeam_time(moment), _veeam_time(moment + timedelta(minutes=40)),
                         result, "Stopped", info])
        return run_id

    for day in days:
        night = datetime.combine(day, time(23, 0))
        if planted and day == fail_day:
            run_id = session(ERP_JOB, night, "Failed", "Error: The network path was not found")
            truth.append(("failure_not_followed_up", ERP_JOB, "ledgerline_erp", run_id))
            truth.append(("backup_missed_schedule", ERP_JOB, "ledgerline_erp",
                          f"{ERP_JOB}|{(night - timedelta(days=1)).strftime('%Y-%m-%d %H:%M')}"))
        elif day == clean_failure:
            session(ERP_JOB, night, "Failed", "Error: Snapshot timeout")
            session(ERP_JOB, night + timedelta(hours=2), "Success", "Retry")
        else:
            session(ERP_JOB, night, "Success")
        if not planted or day < files_last:
            session(FILES_JOB, night + timedelta(minutes=30), "Success")
        elif day == files_last:
            run_id = session(FILES_JOB, night + timedelta(minutes=30), "Failed", "Error: Repository is out of space")
            truth.append(("job_failure_unresolved", FILES_JOB, "ledgerline_erp", run_id))
            truth.append(("backup_missed_schedule", FILES_JOB, "ledgerline_erp",
                          f"{FILES_JOB}|{(night - timedelta(days=1, minutes=-30)).strftime('%Y-%m-%d %H:%M')}"))

    jobs = []
    for day in days:
        if planted and day in gap_days:
            continue
        moment = datetime.combine(day, time(3, 0))
        jobs.append({"AccountId": "123456789012", "BackupJobId": f"{len(jobs) + 1:08X}-61B2-4D4C-9F5E-HARBORLANE01",
                     "BackupVaultName": "harborlane-prod-vault",
                     "ResourceArn": "arn:aws:rds:us-east-1:123456789012:cluster:prod-rds", "ResourceName": AWS_JOB,
                     "CreationDate": moment.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00"),
                     "CompletionDate": (moment + timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%M:%S.000000+00:00"),
                     "State": "COMPLETED", "StatusMessage": "", "PercentDone": "100.0",
                     "CreatedBy": {"BackupPlanId": "prod-daily", "BackupPlanVersion": "1", "BackupRuleId": "daily-0300"},
                     "ResourceType": "Aurora"})
    if planted:
        before = min(gap_days) - timedelta(days=1)
        truth.append(("backup_missed_schedule", AWS_JOB, "aws_prod", f"{AWS_JOB}|{before.isoformat()} 03:00"))

    people = [p.name for p in (crew.release, *crew.authors)]
    first = datetime.combine(start, time(9, 0))
    incidents = [  # (offset days, title, priority, hours to resolve or None, system)
        (9, "ERP month-end posting slow", "3 - Moderate", 30, "Ledgerline ERP"),
        (23, "Production API error rate above threshold", "1 - Critical", 3, "AWS Production"),
        (37, "ERP report scheduler stuck", "2 - High", 6, "Ledgerline ERP"),
        (51, "Certificate expiry warning on load balancer", "4 - Low", 100, "AWS Production"),
    ]
    if planted:
        incidents += [(44, "Payment batch interface rejected files", "2 - High", 20, "Ledgerline ERP"),
                      ((end - start).days, "Production database failover loop", "1 - Critical", None, "AWS Production"),
                      ((files_last - start).days, f"Backup failed: {FILES_JOB}", "4 - Low", None, "Ledgerline ERP")]
    rows = []
    for number, (offset, title, priority, hours, ci) in enumerate(incidents, start=1):
        opened = first + timedelta(days=offset)
        if title.startswith("Backup failed"):
            opened = datetime.combine(files_last + timedelta(days=1), time(0, 30))
        resolved = opened + timedelta(hours=hours) if hours is not None else None
        ticket = f"INC{(50000 if planted else 40000) + number:07d}"
        rows.append([ticket, title, priority, "Resolved" if resolved else "In Progress", _snow(opened), _snow(resolved),
                     "", people[number % len(people)], ci])
        if planted and (hours == 20 or (hours is None and priority.startswith("1"))):
            system = "ledgerline_erp" if ci == "Ledgerline ERP" else "aws_prod"
            truth.append(("incident_sla_breached", ticket, system, ticket))
    return {VEEAM: _csv(VEEAM_HEADER, sessions), AWS_BACKUP: (json.dumps({"BackupJobs": jobs}, indent=4) + "\n")
            .encode("utf-8"), INCIDENTS: _csv(INCIDENT_HEADER, rows),
            TRUTH: _csv(("rule", "subject", "system", "detail_key"), sorted(truth))}


def quarter_files(tables: Mapping[str, list[list[str]]], headers: Mapping[str, Sequence[str]], quarter: object, *,
                  planted: bool) -> dict[str, bytes]:
    """:func:`build` for one demo quarter (``demo._Quarter``), its people taken from the company's rows."""
    return build(cast(tables, headers), quarter.start, quarter.end, planted)  # type: ignore[attr-defined]


def _csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
