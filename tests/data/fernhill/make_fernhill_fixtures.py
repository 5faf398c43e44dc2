"""Write Fernhill Payments' program change and computer operations exports for 2026-Q3
(tests/data/fernhill/exports).

Fernhill Payments Ltd is a fixture company of its own, not the demo: its exports are in the shapes
the products publish (GitHub REST API pulls, reviews and deployments as JSON arrays; GitLab merge
requests and approvals as JSON arrays; a ServiceNow change_request list export with field names as
headers; a Jira issue CSV export; an AWS IAM group membership listing; a pipeline deployment log).
Computer operations: a Veeam Backup & Replication session export (Get-VBRBackupSession | Export-Csv),
AWS Backup's list-backup-jobs output, a Control-M job history export, a ServiceNow incident list export
and a PagerDuty incidents CSV. answer_key.csv and operations_answer_key.csv list every exception
planted in them. Run it to rewrite the files (deterministic).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

HERE = Path(__file__).parent
OUT = HERE / "exports" / "2026-Q3"
DOMAIN = "fernhill.example"
LEDGER = "fernhill/ledger-api"
PORTAL_PROJECT = 42


def write_csv(relative: str, header: list[str], rows: list[list[str]]) -> None:
    path = OUT / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_json(relative: str, records: list[dict]) -> None:
    path = OUT / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")


PEOPLE = [  # employee id, name, GitHub/GitLab login, title, manager
    ("E1001", "Dana Whitfield", "dwhit", "Software Engineer", "E1003"),
    ("E1002", "Omar Haddad", "ohaddad", "Software Engineer", "E1003"),
    ("E1003", "Lucia Ferreira", "lferreira", "Engineering Lead", "E1007"),
    ("E1004", "Ken Adeyemi", "kadeyemi-ops", "Release Manager", "E1007"),
    ("E1005", "Priya Raman", "", "Change Manager", "E1007"),
    ("E1006", "Tom Becker", "tbecker", "Software Engineer", "E1003"),
    ("E1007", "Greta Olsen", "", "CTO", ""),
]


def email(name: str) -> str:
    return name.lower().replace(" ", ".") + "@" + DOMAIN


def pull(number: int, login: str, title: str, merged: str | None, *, created: str, branch: str,
         body: str = "") -> dict:
    sha = f"{number:04d}" + "a" * 36
    return {
        "url": f"https://api.github.com/repos/{LEDGER}/pulls/{number}", "id": 900000 + number,
        "html_url": f"https://github.com/{LEDGER}/pull/{number}", "number": number,
        "state": "closed", "locked": False, "title": title,
        "user": {"login": login, "id": 5000 + number, "type": "User", "site_admin": False},
        "body": body or None, "labels": [], "created_at": created, "updated_at": merged or created,
        "closed_at": merged or created, "merged_at": merged, "merge_commit_sha": sha if merged else None,
        "assignee": None, "requested_reviewers": [], "draft": False,
        "head": {"label": f"fernhill:{branch}", "ref": branch, "sha": f"{number:04d}" + "b" * 36},
        "base": {"label": "fernhill:main", "ref": "main", "sha": "c" * 40,
                 "repo": {"id": 7001, "name": "ledger-api", "full_name": LEDGER, "private": True}},
        "author_association": "MEMBER", "auto_merge": None,
    }


def review(review_id: int, number: int, login: str, state: str, submitted: str) -> dict:
    return {"id": review_id, "node_id": f"PRR_{review_id}", "user": {"login": login, "type": "User"},
            "body": "", "state": state, "html_url": f"https://github.com/{LEDGER}/pull/{number}#pullrequestreview-{review_id}",
            "pull_request_url": f"https://api.github.com/repos/{LEDGER}/pulls/{number}",
            "author_association": "MEMBER", "submitted_at": submitted, "commit_id": f"{number:04d}" + "b" * 36}


def deployment(deployment_id: int, sha: str, login: str, created: str, environment: str = "production",
               state: str = "success", description: str | None = None) -> dict:
    return {"url": f"https://api.github.com/repos/{LEDGER}/deployments/{deployment_id}", "id": deployment_id,
            "sha": sha, "ref": "main", "task": "deploy", "payload": {}, "original_environment": environment,
            "environment": environment, "description": description, "creator": {"login": login, "type": "User"},
            "created_at": created, "updated_at": created, "transient_environment": False,
            "production_environment": environment == "production",
            "statuses": [{"state": state, "created_at": created, "environment": environment}]}


def main() -> None:
    write_csv("hr/employees.csv", ["Employee #", "Name", "Work Email", "Job Title", "Supervisor EID", "Status"],
              [[eid, name, email(name), title, manager, "Active"] for eid, name, _, title, manager in PEOPLE])
    write_csv("hr/source_control_aliases.csv", ["Login", "Worker e-mail", "Confirmed by"],
              [[login, email(name), "IT asset register"] for _, name, login, *_ in PEOPLE if login])

    sha = lambda n: f"{n:04d}" + "a" * 36  # noqa: E731 - the merge commit each pull request produced
    pulls = [
        pull(101, "dwhit", "CHG0030101 Round GL postings to the cent", "2026-07-08T10:00:00Z",
             created="2026-07-06T09:00:00Z", branch="feature/gl-rounding"),
        pull(102, "ohaddad", "Add VAT code to invoice lines", "2026-07-15T11:00:00Z",
             created="2026-07-13T09:00:00Z", branch="CHG0030102-vat-code"),
        pull(103, "dwhit", "Fix typo in invoice export", "2026-07-20T12:00:00Z",
             created="2026-07-20T10:00:00Z", branch="fix/typo"),
        pull(104, "tbecker", "Hotfix: interest accrual overflow", "2026-08-02T01:30:00Z",
             created="2026-08-02T00:40:00Z", branch="hotfix/accrual", body="Emergency fix, see CHG0030104."),
        pull(105, "lferreira", "CHG0030105 Batch payment file v2", "2026-08-10T15:00:00Z",
             created="2026-08-07T09:00:00Z", branch="feature/payment-file"),
        pull(106, "ohaddad", "CHG0030106 Reconciliation report filters", "2026-08-12T16:00:00Z",
             created="2026-08-11T09:00:00Z", branch="feature/recon-filters"),
        pull(108, "tbecker", "CHG0030108 Supplier bank detail validation", "2026-08-18T10:00:00Z",
             created="2026-08-17T09:00:00Z", branch="feature/bank-validation"),
        pull(109, "dwhit", "CHG0030109 FX rate source switch", "2026-08-19T10:00:00Z",
             created="2026-08-18T09:00:00Z", branch="feature/fx-source"),
        pull(110, "ohaddad", "CHG0030110 Upgrade logging library", "2026-09-07T10:00:00Z",
             created="2026-09-04T09:00:00Z", branch="chore/logging"),
        pull(111, "tbecker", "Experiment: new ORM", None, created="2026-09-09T09:00:00Z", branch="spike/orm"),
        pull(99, "dwhit", "CHG0030099 June release", "2026-06-25T10:00:00Z", created="2026-06-24T09:00:00Z",
             branch="release/june"),
    ]
    write_json("github/ledger-api_pulls.json", pulls)
    reviews = [
        review(7101, 101, "lferreira", "APPROVED", "2026-07-07T16:00:00Z"),
        review(7102, 102, "tbecker", "APPROVED", "2026-07-14T16:00:00Z"),
        review(7103, 103, "lferreira", "APPROVED", "2026-07-20T11:00:00Z"),
        review(7104, 104, "ohaddad", "APPROVED", "2026-08-02T01:10:00Z"),
        review(7105, 105, "dwhit", "COMMENTED", "2026-08-09T10:00:00Z"),
        review(7106, 106, "dwhit", "APPROVED", "2026-08-13T09:00:00Z"),
        review(7107, 106, "tbecker", "CHANGES_REQUESTED", "2026-08-11T15:00:00Z"),
        review(7108, 108, "lferreira", "APPROVED", "2026-08-17T15:00:00Z"),
        review(7109, 109, "lferreira", "APPROVED", "2026-08-18T15:00:00Z"),
        review(7110, 110, "tbecker", "APPROVED", "2026-09-06T15:00:00Z"),
        review(7111, 99, "lferreira", "APPROVED", "2026-06-24T15:00:00Z"),
    ]
    write_json("github/ledger-api_reviews.json", reviews)
    deployments = [
        deployment(8101, sha(101), "kadeyemi-ops", "2026-07-09T19:30:00Z"),
        deployment(8102, sha(102), "kadeyemi-ops", "2026-07-16T19:00:00Z"),
        deployment(8103, sha(103), "kadeyemi-ops", "2026-07-21T19:00:00Z"),
        deployment(8104, sha(104), "kadeyemi-ops", "2026-08-02T02:00:00Z"),
        deployment(8105, sha(105), "kadeyemi-ops", "2026-08-11T19:00:00Z"),
        deployment(8106, sha(106), "kadeyemi-ops", "2026-08-13T19:00:00Z"),
        deployment(8107, sha(108), "tbecker", "2026-08-18T19:00:00Z"),
        deployment(8108, sha(109), "kadeyemi-ops", "2026-08-21T10:00:00Z"),
        deployment(8109, sha(110), "kadeyemi-ops", "2026-09-08T19:00:00Z"),
        deployment(8110, sha(110), "kadeyemi-ops", "2026-09-08T15:00:00Z", environment="staging"),
        deployment(8111, "e" * 40, "kadeyemi-ops", "2026-09-15T21:00:00Z", description="manual hotfix"),
        deployment(8112, sha(109), "kadeyemi-ops", "2026-08-20T19:00:00Z", state="failure"),
    ]
    write_json("github/ledger-api_deployments.json", deployments)

    # ServiceNow change_request list export (field names as headers; instance time zone Europe/London).
    tickets = [
        ["CHG0030101", "Round GL postings to the cent", "Normal", "Closed", "Approved", "Dana Whitfield",
         "Ledger API", "2026-07-09 18:00:00", "2026-07-09 22:00:00", "2026-07-06 09:10:00", "2026-07-07 17:00:00",
         "2026-07-10 09:00:00", "Unit and UAT results attached (UAT-101.pdf)", "Priya Raman"],
        ["CHG0030102", "Add VAT code to invoice lines", "Normal", "Closed", "Approved", "Omar Haddad",
         "Ledger API", "", "", "2026-07-13 09:10:00", "2026-07-17 10:00:00", "2026-07-18 09:00:00",
         "UAT sign-off attached", "Priya Raman"],
        ["CHG0030104", "Interest accrual overflow hotfix", "Emergency", "Closed", "Approved", "Tom Becker",
         "Ledger API", "", "", "2026-08-02 00:50:00", "2026-08-06 10:00:00", "2026-08-07 09:00:00",
         "Regression suite run log attached", "Priya Raman"],
        ["CHG0030105", "Batch payment file v2", "Normal", "Closed", "Approved", "Lucia Ferreira", "Ledger API",
         "2026-08-11 18:00:00", "2026-08-11 22:00:00", "2026-08-07 09:10:00", "2026-08-08 10:00:00",
         "2026-08-12 09:00:00", "Bank test file accepted (attached)", "Priya Raman"],
        ["CHG0030106", "Reconciliation report filters", "Normal", "Closed", "Approved", "Omar Haddad",
         "Ledger API", "2026-08-13 18:00:00", "2026-08-13 22:00:00", "2026-08-11 09:10:00", "2026-08-12 10:00:00",
         "2026-08-14 09:00:00", "", "Priya Raman"],
        ["CHG0030108", "Supplier bank detail validation", "Normal", "Closed", "Approved", "Tom Becker",
         "Ledger API", "2026-08-18 18:00:00", "2026-08-18 22:00:00", "2026-08-17 09:10:00", "2026-08-17 12:00:00",
         "2026-08-19 09:00:00", "UAT evidence attached", "Priya Raman"],
        ["CHG0030109", "FX rate source switch", "Normal", "Closed", "Approved", "Dana Whitfield", "Ledger API",
         "2026-08-20 18:00:00", "2026-08-20 22:00:00", "2026-08-18 09:10:00", "2026-08-19 10:00:00",
         "2026-08-21 12:00:00", "UAT evidence attached", "Priya Raman"],
        ["CHG0030110", "Upgrade logging library", "Standard", "Closed", "Not Requested", "Omar Haddad",
         "Ledger API", "", "", "2026-09-04 09:10:00", "", "2026-09-09 09:00:00", "CI test run attached", ""],
        ["CHG0030099", "June release", "Normal", "Closed", "Approved", "Dana Whitfield", "Ledger API",
         "2026-06-25 18:00:00", "2026-06-25 22:00:00", "2026-06-24 09:10:00", "2026-06-24 17:00:00",
         "2026-06-26 09:00:00", "UAT evidence attached", "Priya Raman"],
    ]
    write_csv("servicenow/change_request.csv",
              ["number", "short_description", "type", "state", "approval", "requested_by", "cmdb_ci", "start_date",
               "end_date", "sys_created_on", "approval_set", "closed_at", "test_plan", "u_cab_approver"], tickets)

    # GitLab: the customer web portal (project 42), merge requests and their approvals.
    def mr(iid: int, author: str, title: str, merged: str, approvers: list[str]) -> tuple[dict, dict]:
        request = {"id": 4200 + iid, "iid": iid, "project_id": PORTAL_PROJECT, "title": title, "description": "",
                   "state": "merged", "created_at": "2026-07-01T09:00:00.000Z", "updated_at": merged,
                   "merged_at": merged, "merge_user": {"username": "lferreira", "name": "Lucia Ferreira"},
                   "author": {"id": 10, "username": author, "name": author}, "target_branch": "main",
                   "source_branch": f"feature/{iid}", "merge_commit_sha": f"{iid:04d}" + "d" * 36,
                   "squash_commit_sha": None, "web_url": f"https://gitlab.com/fernhill/web-portal/-/merge_requests/{iid}",
                   "references": {"short": f"!{iid}", "full": f"fernhill/web-portal!{iid}"}}
        approval = {"id": 4200 + iid, "iid": iid, "project_id": PORTAL_PROJECT, "approved": bool(approvers),
                    "approvals_required": 1, "approvals_left": 0 if approvers else 1,
                    "approved_by": [{"user": {"username": a, "name": a}} for a in approvers]}
        return request, approval
    portal = [mr(7, "ohaddad", "OPS-201 Cookie banner wording", "2026-07-22T10:00:00.000Z", ["ohaddad"]),
              mr(8, "dwhit", "OPS-202 Password reset rate limit", "2026-08-05T10:00:00.000Z", ["tbecker"])]
    write_json("gitlab/web-portal_merge_requests.json", [m for m, _ in portal])
    write_json("gitlab/web-portal_approvals.json", [a for _, a in portal])
    write_csv("gitlab/web-portal_deploy_log.csv",
              ["Pipeline", "Environment", "Status", "Finished", "Triggered by", "Commit SHA", "Ref"],
              [["5107", "production", "success", "2026-07-22 19:10", "kadeyemi-ops", "0007" + "d" * 36, "main"],
               ["5108", "production", "success", "2026-08-05 19:10", "kadeyemi-ops", "0008" + "d" * 36, "main"]])
    write_csv("jira/ops_changes.csv",
              ["Issue key", "Issue id", "Summary", "Issue Type", "Status", "Reporter", "Created", "Resolved",
               "Custom field (Change type)", "Custom field (Approver)", "Custom field (Approved)",
               "Custom field (Test evidence)", "Component/s"],
              [["OPS-201", "30201", "Cookie banner wording", "Change", "Done", "Omar Haddad", "20/Jul/26 9:00 AM",
                "23/Jul/26 9:00 AM", "Normal", "Priya Raman", "21/Jul/26 2:00 PM", "Screenshot review attached",
                "Web Portal"],
               ["OPS-202", "30202", "Password reset rate limit", "Change", "Done", "Dana Whitfield",
                "01/Aug/26 9:00 AM", "06/Aug/26 9:00 AM", "Normal", "Priya Raman", "04/Aug/26 2:00 PM",
                "Load test report attached", "Web Portal"]])

    # AWS IAM group memberships: who can deploy to production (the prod-deployers group).
    write_csv("aws/iam_group_memberships.csv", ["GroupName", "UserName", "UserArn"],
              [["prod-deployers", "ken.adeyemi@" + DOMAIN, f"arn:aws:iam::111122223333:user/ken.adeyemi@{DOMAIN}"],
               ["prod-deployers", "tom.becker@" + DOMAIN, f"arn:aws:iam::111122223333:user/tom.becker@{DOMAIN}"],
               ["ReadOnly", "dana.whitfield@" + DOMAIN, f"arn:aws:iam::111122223333:user/dana.whitfield@{DOMAIN}"]])

    write_csv("../../answer_key.csv", ["rule", "system", "detail_key", "subject"], [
        ["ticket_approved_after_deployment", "ledger_api", f"{LEDGER}#102", email("Omar Haddad")],
        ["change_without_approved_ticket", "ledger_api", f"{LEDGER}#103", email("Dana Whitfield")],
        ["emergency_change_not_approved_in_time", "ledger_api", f"{LEDGER}#104", email("Tom Becker")],
        ["merged_without_approval", "ledger_api", f"{LEDGER}#105", email("Lucia Ferreira")],
        ["approval_after_merge", "ledger_api", f"{LEDGER}#106", email("Omar Haddad")],
        ["author_deployed_own_change", "ledger_api", f"{LEDGER}#108", email("Tom Becker")],
        ["deployed_outside_change_window", "ledger_api", f"{LEDGER}#109", email("Dana Whitfield")],
        ["deployed_without_reviewed_change", "ledger_api", "deployment 8111", email("Ken Adeyemi")],
        ["change_without_approved_ticket", "ledger_api", "deployment 8111", email("Ken Adeyemi")],
        ["developer_with_deploy_access", "ledger_api", "deploy access|aws_prod|prod-deployers", email("Tom Becker")],
        ["self_approved_change", "web_portal", f"{PORTAL_PROJECT}!7", email("Omar Haddad")],
    ])

    operations()


def operations() -> None:
    """The computer operations exports and their answer key."""
    from datetime import datetime, timedelta

    def stamp(t: datetime) -> str:  # PowerShell's Export-Csv in the en-US culture
        return t.strftime("%m/%d/%Y %I:%M:%S %p")

    sessions, day = [], datetime(2026, 6, 28, 22, 0)
    planted = {datetime(2026, 8, 5, 22, 0): "Failed", datetime(2026, 8, 12, 22, 0): "Failed"}
    while day < datetime(2026, 10, 1):
        if datetime(2026, 9, 20) <= day < datetime(2026, 9, 22):
            day += timedelta(days=1)
            continue  # the job was disabled for two nights: no session at all
        result = planted.get(day, "Success")
        sessions.append([f"{{{len(sessions):08d}-5f1e-4c2a-9b7d-ledgerdb}}", "ledger-db-nightly", "Backup", stamp(day),
                         stamp(day + timedelta(minutes=50)), result, "Stopped",
                         "Error: Failed to connect to the host" if result == "Failed" else ""])
        if day == datetime(2026, 8, 5, 22, 0):  # retried the next morning: followed up in time
            retry = datetime(2026, 8, 6, 2, 0)
            sessions.append([f"{{{len(sessions):08d}-5f1e-4c2a-9b7d-ledgerdb}}", "ledger-db-nightly", "Backup",
                             stamp(retry), stamp(retry + timedelta(minutes=50)), "Success", "Stopped", "Retry"])
        day += timedelta(days=1)
    write_csv("veeam/backup_sessions.csv", ["Id", "JobName", "JobType", "CreationTime", "EndTime", "Result", "State",
                                             "Info"], sessions)

    jobs = []
    day = datetime(2026, 7, 1, 3, 0)
    while day < datetime(2026, 10, 1):
        state = "EXPIRED" if day.date().isoformat() == "2026-09-10" else "COMPLETED"
        jobs.append((day, state))
        if state == "EXPIRED":
            jobs.append((day + timedelta(hours=6), "COMPLETED"))
        day += timedelta(days=1)
    backup_jobs = [{"AccountId": "111122223333", "BackupJobId": f"{i:08X}-AAAA-BBBB-CCCC-{i:012d}",
                    "BackupVaultName": "fernhill-prod-vault",
                    "ResourceArn": "arn:aws:rds:eu-west-2:111122223333:db:ledger-api", "ResourceName": "ledger-api-rds",
                    "CreationDate": t.strftime("%Y-%m-%dT%H:%M:%S.000000+00:00"),
                    "CompletionDate": (t + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S.000000+00:00"),
                    "State": state, "StatusMessage": "Backup job expired before it started" if state == "EXPIRED" else "",
                    "PercentDone": "100.0", "BackupSizeInBytes": 53687091200,
                    "IamRoleArn": "arn:aws:iam::111122223333:role/service-role/AWSBackupDefaultServiceRole",
                    "CreatedBy": {"BackupPlanId": "plan-ledger", "BackupPlanVersion": "v1", "BackupRuleId": "daily-0300"},
                    "ResourceType": "RDS", "BackupType": ""} for i, (t, state) in enumerate(jobs)]
    path = OUT / "aws" / "backup_jobs.json"
    path.write_text(json.dumps({"BackupJobs": backup_jobs}, indent=4) + "\n", encoding="utf-8")

    history = [
        ["GL-INTERFACE", "0001a", "07/01/2026 01:00:00", "07/01/2026 01:20:00", "Ended OK"],
        ["AR-AGING", "0002a", "08/20/2026 01:00:00", "08/20/2026 01:05:00", "Ended Not OK"],
        ["AR-AGING", "0002b", "08/20/2026 06:00:00", "08/20/2026 06:10:00", "Ended OK"],
        ["GL-INTERFACE", "0003a", "09/24/2026 01:00:00", "09/24/2026 01:20:00", "Ended OK"],
        ["GL-INTERFACE", "0003b", "09/25/2026 01:00:00", "09/25/2026 01:02:00", "Ended Not OK"],
    ]
    write_csv("controlm/job_history.csv", ["Job Name", "Order ID", "Start Time", "End Time", "Status"], history)

    incidents = [
        ["INC0040001", "Ledger API latency", "1 - Critical", "Closed", "2026-07-10 09:00:00", "2026-07-10 12:00:00",
         "2026-07-11 09:00:00", "Ken Adeyemi", "Ledger API"],
        ["INC0040002", "Payment file rejected by bank", "2 - High", "Closed", "2026-07-15 09:00:00",
         "2026-07-16 09:00:00", "2026-07-17 09:00:00", "Lucia Ferreira", "Ledger API"],
        ["INC0040003", "Report export slow", "3 - Moderate", "Closed", "2026-08-01 09:00:00", "2026-08-02 09:00:00",
         "2026-08-03 09:00:00", "Dana Whitfield", "Ledger API"],
        ["INC0040004", "Backup failed: ledger-db-nightly", "3 - Moderate", "Resolved", "2026-08-14 09:00:00",
         "2026-08-14 15:00:00", "", "Ken Adeyemi", "Ledger API"],
        ["INC0040005", "Minor UI glitch in admin", "4 - Low", "In Progress", "2026-09-28 09:00:00", "", "",
         "Omar Haddad", "Ledger API"],
        ["INC0040006", "Ledger API outage", "1 - Critical", "In Progress", "2026-09-29 10:00:00", "", "",
         "Ken Adeyemi", "Ledger API"],
        ["INC0040007", "Batch failed: GL-INTERFACE", "4 - Low", "In Progress", "2026-09-25 02:00:00", "", "",
         "Tom Becker", "Ledger API"],
    ]
    write_csv("servicenow/incident.csv", ["number", "short_description", "priority", "state", "opened_at",
                                          "resolved_at", "closed_at", "assigned_to", "cmdb_ci"], incidents)
    write_csv("pagerduty/incidents.csv", ["id", "incident_number", "title", "urgency", "status", "created_on",
                                          "resolved_on", "service_name", "assigned_to"],
              [["Q1ABC311", "311", "Portal 5xx spike", "high", "resolved", "2026-07-20T10:00:00Z",
                "2026-07-20T12:00:00Z", "Web Portal", "omar.haddad@" + DOMAIN],
               ["Q1ABC312", "312", "Password reset emails delayed", "low", "resolved", "2026-08-08T10:00:00Z",
                "2026-08-20T10:00:00Z", "Web Portal", "dana.whitfield@" + DOMAIN]])

    veeam_id = {row[3]: row[0] for row in sessions}
    write_csv("../../operations_answer_key.csv", ["rule", "system", "detail_key", "subject"], [
        ["backup_missed_schedule", "ledger_api", "ledger-db-nightly|2026-08-11 22:00", "ledger-db-nightly"],
        ["backup_missed_schedule", "ledger_api", "ledger-db-nightly|2026-09-19 22:00", "ledger-db-nightly"],
        ["failure_not_followed_up", "ledger_api", veeam_id[stamp(datetime(2026, 8, 12, 22, 0))], "ledger-db-nightly"],
        ["job_failure_unresolved", "ledger_api", "0003b", "GL-INTERFACE"],
        ["incident_sla_breached", "ledger_api", "INC0040002", "INC0040002"],
        ["incident_sla_breached", "ledger_api", "INC0040006", "INC0040006"],
        ["incident_sla_breached", "web_portal", "PD-312", "PD-312"],
    ])


if __name__ == "__main__":
    main()
