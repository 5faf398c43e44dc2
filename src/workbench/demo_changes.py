"""The demo company's program change exports: two repositories, their deployments and the change
tickets, with the change-management exceptions planted in the demo period and an answer key.

Harbor Lane builds the Ledgerline ERP (financially significant: SOX) from ``harborlane/ledgerline``
and its AWS production platform (inside the SOC 2 boundary) from ``harborlane/platform-infra``. The
exports are the products' own shapes: GitHub's REST API pull requests, pull request reviews and
deployments (JSON arrays, with each deployment's statuses), and a ServiceNow ``change_request``
list export (field names as headers). Their people are the company's own: engineers are GitHub
organisation members (tied to workers by Okta's GitHub assignment), the release manager deploys,
and an engineering manager approves the tickets.

The prior quarter is clean; the demo quarter plants one of each kind (``CHANGE_PLANTED``), listed
in ``changes/change_ground_truth.csv``. Everything is a function of the generated company's own
rows and the quarter: the same company gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

LEDGER_REPO = "harborlane/ledgerline"
INFRA_REPO = "harborlane/platform-infra"
REPOSITORIES = {LEDGER_REPO: "ledgerline_erp", INFRA_REPO: "aws_prod"}
PULLS = "changes/github_{name}_pulls.json"
REVIEWS = "changes/github_{name}_reviews.json"
DEPLOYMENTS = "changes/github_{name}_deployments.json"
TICKETS = "changes/servicenow_change_requests.csv"
TRUTH = "changes/change_ground_truth.csv"
TICKET_HEADER = ("number", "short_description", "type", "state", "approval", "requested_by", "cmdb_ci",
                 "start_date", "end_date", "sys_created_on", "approval_set", "closed_at", "test_plan",
                 "u_cab_approver")
TRUTH_HEADER = ("rule", "subject", "system", "detail_key")
CI_NAMES = {"ledgerline_erp": "Ledgerline ERP", "aws_prod": "AWS Production"}
#: The planted exceptions of the demo quarter: rule -> rows in the answer key.
CHANGE_PLANTED: Mapping[str, int] = {
    "ticket_approved_after_deployment": 1, "change_without_approved_ticket": 3,
    "emergency_change_not_approved_in_time": 1, "merged_without_approval": 1, "approval_after_merge": 1,
    "deployed_without_reviewed_change": 1, "developer_with_deploy_access": 1, "author_deployed_own_change": 1,
    "deployed_outside_change_window": 1, "ticket_approved_by_author": 1, "sample_attribute_failed": 1,
}
DEPLOY_GROUPS = ("Administrators", "PowerUsers")
_PLANTS = ("approved_after_deploy", "no_ticket", "ticket_not_approved", "emergency_late", "no_review",
           "review_after_merge", "deploy_access_author", "author_deploys", "outside_window",
           "ticket_self_approved", "no_test_evidence")


@dataclass(frozen=True)
class Person:
    """A worker as the change exports name them."""

    login: str   # GitHub login
    name: str    # HR name, as ServiceNow writes it
    email: str   # HR e-mail: the answer key's subject
    aws_groups: frozenset[str]


@dataclass(frozen=True)
class Cast:
    """Who writes, reviews, approves and deploys the changes."""

    authors: tuple[Person, ...]
    release: Person
    approver: Person
    deploy_access_author: Person | None


def _rows(tables: Mapping[str, list[list[str]]], headers: Mapping[str, Sequence[str]], relative: str
          ) -> list[dict[str, str]]:
    header = headers[relative]
    return [dict(zip(header, row)) for row in tables[relative]]


def cast(tables: Mapping[str, list[list[str]]], headers: Mapping[str, Sequence[str]]) -> Cast | None:
    """The company's change people, from its own exports: active workers with a unique HR name who
    are GitHub organisation members assigned GitHub by Okta under their GitHub login; None when the
    company is too small to have engineers, a release manager and an approver."""
    hr = [r for r in _rows(tables, headers, "hr/workday_workers.csv")
          if r["Worker Status"] == "Active" and not r["Termination Date"]]
    names = [r["Worker"] for r in hr]
    by_email = {r["Email - Work"]: r for r in hr if names.count(r["Worker"]) == 1}
    assigned = {(r["Application login"], r["Login"]) for r in _rows(tables, headers, "idp/okta_app_assignments.csv")
                if r["Application name"] == "GitHub Enterprise" and not r["Unassigned on"]}
    groups: dict[str, set[str]] = {}
    for r in _rows(tables, headers, "cloud/aws_iam_group_memberships.csv"):
        groups.setdefault(r["UserName"], set()).add(r["GroupName"])
    people = []
    for member in sorted(_rows(tables, headers, "apps/github_org_members.csv"), key=lambda r: r["login"].casefold()):
        worker = by_email.get(member["verified_domain_emails"])
        if worker is None or (member["login"], worker["Email - Work"]) not in assigned:
            continue
        people.append((Person(member["login"], worker["Worker"], worker["Email - Work"],
                              frozenset(groups.get(worker["Email - Work"].split("@")[0], ()))),
                       worker["Business Title"]))
    engineers = [p for p, title in people if "Engineer" in title and "Manager" not in title]
    plain = [p for p in engineers if not p.aws_groups & set(DEPLOY_GROUPS)]
    deployers = [p for p in engineers if p.aws_groups & set(DEPLOY_GROUPS)]
    managers = [p for p, title in people if "Manager" in title and p not in engineers]
    others = [p for p, _ in people if p not in engineers and not p.aws_groups & set(DEPLOY_GROUPS)]
    # A small company may lack a deploying engineer or a manager: a plain engineer releases, and
    # another member approves (never one of the authors).
    release = deployers[0] if deployers else (plain.pop() if len(plain) > 2 else None)
    approver = (managers or others or ([plain.pop()] if len(plain) > 2 else [None]))[0]
    if len(plain) < 2 or release is None or approver is None:
        return None
    return Cast(tuple(plain[:8]), release, approver, deployers[1] if len(deployers) > 1 else None)


def _z(t: datetime | None) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def _snow(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S") if t else ""


@dataclass
class _Change:
    repo: str
    number: int
    author: Person
    reviewer: Person | None
    title: str
    merged: datetime
    deployed: datetime
    deployer: Person
    ticket: str | None
    plant: str = ""


def _changes(crew: Cast, quarter_start: date, workdays: Sequence[date], planted: bool) -> list[_Change]:
    """The quarter's changes: one every few working days per repository, the plants in the demo quarter."""
    changes: list[_Change] = []
    days = [d for d in workdays if d.weekday() < 4]  # merged Monday-Thursday, deployed the next evening
    plants = list(_PLANTS) if planted else []
    base = 1000 if quarter_start.month >= 7 else 800
    for i, day in enumerate(days[::2]):
        repo = LEDGER_REPO if i % 3 else INFRA_REPO
        author = crew.authors[i % len(crew.authors)]
        reviewer = crew.authors[(i + 1) % len(crew.authors)]
        number = base + i
        merged = datetime(day.year, day.month, day.day, 10, 0, 0)
        deployed = merged + timedelta(days=1, hours=9)
        changes.append(_Change(repo, number, author, reviewer, f"CHG{30000 + number} Release {number}", merged,
                               deployed, crew.release, f"CHG{30000 + number}"))
    for change, plant in zip(changes[1::2], plants):
        change.plant = plant
    return changes


def build(tables: Mapping[str, list[list[str]]], headers: Mapping[str, Sequence[str]], quarter_start: date,
          quarter_end: date, workdays: Sequence[date], planted: bool) -> dict[str, bytes]:
    """The change exports of one quarter and their answer key, as files (relative path -> bytes)."""
    crew = cast(tables, headers)
    if crew is None:
        return {}
    changes = _changes(crew, quarter_start, workdays, planted)
    pulls: dict[str, list[dict]] = {repo: [] for repo in REPOSITORIES}
    reviews: dict[str, list[dict]] = {repo: [] for repo in REPOSITORIES}
    deployments: dict[str, list[dict]] = {repo: [] for repo in REPOSITORIES}
    tickets: list[list[str]] = []
    truth: list[tuple[str, str, str, str]] = []
    for change in changes:
        system = REPOSITORIES[change.repo]
        change_id = f"{change.repo}#{change.number}"
        plant = change.plant
        author, reviewer, deployer = change.author, change.reviewer, change.deployer
        if plant == "deploy_access_author" and crew.deploy_access_author:
            author = crew.deploy_access_author
        if plant == "author_deploys":
            deployer = author
        title = change.title if plant != "no_ticket" else f"Release {change.number}"
        merge_sha = f"{change.number:06d}" + "a" * 34
        pulls[change.repo].append(_pull(change.repo, change.number, author.login, title, change.merged))
        if plant != "no_review":
            submitted = change.merged - timedelta(hours=3)
            if plant == "review_after_merge":
                submitted = change.merged + timedelta(hours=5)
            reviews[change.repo].append(_review(change.repo, change.number, reviewer.login, submitted))
        deployed = change.deployed if plant != "outside_window" else change.deployed + timedelta(hours=6)
        deployments[change.repo].append(_deployment(change.repo, 700000 + change.number, merge_sha, deployer.login,
                                                    deployed))
        if plant != "no_ticket":
            approved = change.merged - timedelta(hours=20)
            kind, approval = "Normal", "Approved"
            if plant == "approved_after_deploy":
                approved = change.deployed + timedelta(hours=15)
            if plant == "emergency_late":
                kind, approved = "Emergency", change.deployed + timedelta(days=5)
            if plant == "ticket_not_approved":
                approval, approved = "Requested", None
            approver = author if plant == "ticket_self_approved" else crew.approver
            window = change.deployed.replace(hour=18)
            tickets.append([change.ticket or "", f"Release {change.number}", kind, "Closed", approval, author.name,
                            CI_NAMES[system], _snow(window), _snow(window + timedelta(hours=4)),
                            _snow(change.merged - timedelta(days=2)), _snow(approved),
                            _snow(change.deployed + timedelta(days=1)),
                            "" if plant == "no_test_evidence" else f"UAT evidence attached (UAT-{change.number}.pdf)",
                            approver.name if approval == "Approved" else ""])
        if plant == "deploy_access_author" and crew.deploy_access_author:
            truth += [("developer_with_deploy_access", author.email, system, f"deploy access|aws_prod|{group}")
                      for group in sorted(author.aws_groups & set(DEPLOY_GROUPS))]
        else:
            truth += [(rule, author.email, system, change_id) for rule in _rules_of(plant, crew)]
    if planted and changes:  # a deployment of code no one reviewed: a manual hotfix of the platform
        last = changes[-1]
        moment = last.deployed + timedelta(hours=1)
        deployments[INFRA_REPO].append(_deployment(INFRA_REPO, 799999, "f" * 40, crew.release.login, moment,
                                                   description="manual hotfix"))
        truth += [(rule, crew.release.email, "aws_prod", "deployment 799999")
                  for rule in ("deployed_without_reviewed_change", "change_without_approved_ticket")]
    files: dict[str, bytes] = {}
    for repo, name in ((LEDGER_REPO, "ledgerline"), (INFRA_REPO, "platform-infra")):
        files[PULLS.format(name=name)] = _json(pulls[repo])
        files[REVIEWS.format(name=name)] = _json(reviews[repo])
        files[DEPLOYMENTS.format(name=name)] = _json(deployments[repo])
    files[TICKETS] = _csv(TICKET_HEADER, tickets)
    files[TRUTH] = _csv(TRUTH_HEADER, sorted(truth))
    return files


def quarter_files(tables: Mapping[str, list[list[str]]], headers: Mapping[str, Sequence[str]], quarter: object,
                  workdays: Callable[[date, date], list[date]], *, planted: bool) -> dict[str, bytes]:
    """:func:`build` for one demo quarter (``demo._Quarter``: its ``start`` and ``end``), with the
    demo's working-day calendar (``workdays(start, end)``)."""
    start, end = quarter.start, quarter.end  # type: ignore[attr-defined]
    return build(tables, headers, start, end, workdays(start, end), planted)


def _rules_of(plant: str, crew: Cast) -> list[str]:
    """The answer key's rules for a planted change."""
    return {
        "approved_after_deploy": ["ticket_approved_after_deployment"],
        "no_ticket": ["change_without_approved_ticket"],
        "ticket_not_approved": ["change_without_approved_ticket"],
        "emergency_late": ["emergency_change_not_approved_in_time"],
        "no_review": ["merged_without_approval"],
        "review_after_merge": ["approval_after_merge"],
        "deploy_access_author": ["developer_with_deploy_access"] if crew.deploy_access_author else [],
        "author_deploys": ["author_deployed_own_change"],
        "outside_window": ["deployed_outside_change_window"],
        "ticket_self_approved": ["ticket_approved_by_author"],
        "no_test_evidence": ["sample_attribute_failed"],
    }.get(plant, [])


def _pull(repo: str, number: int, login: str, title: str, merged: datetime) -> dict:
    """A closed, merged pull request as ``GET /repos/{owner}/{repo}/pulls`` returns it."""
    return {
        "url": f"https://api.github.com/repos/{repo}/pulls/{number}", "id": 41000000 + number,
        "html_url": f"https://github.com/{repo}/pull/{number}", "number": number, "state": "closed",
        "locked": False, "title": title, "user": {"login": login, "type": "User", "site_admin": False},
        "body": None, "labels": [], "created_at": _z(merged - timedelta(days=2)), "updated_at": _z(merged),
        "closed_at": _z(merged), "merged_at": _z(merged), "merge_commit_sha": f"{number:06d}" + "a" * 34,
        "draft": False, "head": {"ref": f"release/{number}", "sha": f"{number:06d}" + "b" * 34},
        "base": {"ref": "main", "sha": "c" * 40, "repo": {"full_name": repo, "private": True}},
        "author_association": "MEMBER",
    }


def _review(repo: str, number: int, login: str, submitted: datetime) -> dict:
    """An approving review as ``GET /repos/{owner}/{repo}/pulls/{number}/reviews`` returns it."""
    return {"id": 52000000 + number, "user": {"login": login, "type": "User"}, "body": "LGTM", "state": "APPROVED",
            "html_url": f"https://github.com/{repo}/pull/{number}#pullrequestreview-{52000000 + number}",
            "pull_request_url": f"https://api.github.com/repos/{repo}/pulls/{number}",
            "author_association": "MEMBER", "submitted_at": _z(submitted), "commit_id": f"{number:06d}" + "b" * 34}


def _deployment(repo: str, deployment_id: int, sha: str, login: str, created: datetime,
                description: str | None = None) -> dict:
    """A production deployment as ``GET /repos/{owner}/{repo}/deployments`` returns it, with its statuses."""
    return {"url": f"https://api.github.com/repos/{repo}/deployments/{deployment_id}", "id": deployment_id,
            "sha": sha, "ref": "main", "task": "deploy", "payload": {}, "environment": "production",
            "description": description, "creator": {"login": login, "type": "User"}, "created_at": _z(created),
            "updated_at": _z(created), "production_environment": True,
            "statuses": [{"state": "success", "created_at": _z(created), "environment": "production"}]}


def _json(records: list[dict]) -> bytes:
    return (json.dumps(records, indent=2) + "\n").encode("utf-8")


def _csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
