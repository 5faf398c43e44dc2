"""The demo company: Harbor Lane Payments, Inc., its Q3 2026 access exports and planted exceptions.

``generate_demo_company(out_dir)`` writes the exports described in ``docs/demo-exports.md`` (the
contract with the readers in ``populations``) plus ``ground_truth.csv``, the answer key of the
exceptions planted on purpose. ``docs/demo-company.md`` describes the company, every file, the
planted exceptions and the thresholds by which everything else is clean.

Design rules:

- Deterministic by construction: one ``random.Random(seed)`` drives every choice, nothing reads
  the clock, nothing iterates a set, and CSVs are written with the ``csv`` module (UTF-8, no BOM,
  ``QUOTE_MINIMAL``, LF), so the same ``(employees, seed)`` gives byte-identical files.
- Atomic: files are written into a temporary sibling folder that then replaces ``out_dir`` whole.
- Scales from 50 to 100,000 employees with light per-row work; the planted exceptions are the
  same fixed small set at every size, and every other record is clean by a margin (see the doc).
"""

from __future__ import annotations

import bisect
import csv
import math
import os
import random
import re
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from types import MappingProxyType

from workbench import demo_changes, demo_operations

__all__ = [
    "DEMO_DOMAIN",
    "DEMO_ENTITY",
    "DEMO_EXTRACTED_AT",
    "DEMO_PERIOD",
    "DEMO_PERIOD_END",
    "DEMO_PERIOD_START",
    "FILE_HEADERS",
    "GROUND_TRUTH_RULES",
    "MAX_EMPLOYEES",
    "MIN_EMPLOYEES",
    "PRIOR_PERIOD",
    "QUARTERS",
    "SYSTEM_NAMES",
    "UAR_SNAPSHOT",
    "DemoCompany",
    "expected_truth_counts",
    "generate_demo_company",
    "generate_demo_periods",
]

# ------------------------------------------------------------------------------------------------
# Constants of the demo company (also used by the CLI, the docs and the tests)
# ------------------------------------------------------------------------------------------------

DEMO_ENTITY = "Harbor Lane Payments, Inc."
DEMO_PERIOD = "2026-Q3"
PRIOR_PERIOD = "2026-Q2"
DEMO_PERIOD_START = date(2026, 7, 1)
DEMO_PERIOD_END = date(2026, 9, 30)
DEMO_EXTRACTED_AT = "2026-10-01T06:00:00Z"
UAR_SNAPSHOT = date(2026, 8, 14)
DEMO_DOMAIN = "harborlane.example"

MIN_EMPLOYEES = 100
MAX_EMPLOYEES = 100_000

#: System id -> display name (the names used in the campaign's ``Source`` and Okta's
#: ``Application name``).
SYSTEM_NAMES: Mapping[str, str] = MappingProxyType({
    "okta": "Okta",
    "ledgerline_erp": "Ledgerline ERP",
    "aws_prod": "AWS Production",
    "github": "GitHub Enterprise",
})

#: Relative path -> header, exactly as in docs/demo-exports.md.
FILE_HEADERS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "hr/workday_workers.csv": (
        "Employee ID", "Worker", "Email - Work", "Business Title", "Supervisory Organization",
        "Manager Employee ID", "Cost Center", "Hire Date", "Worker Status", "Termination Date",
        "Last Day of Work", "Primary Reason", "Eligible for Rehire"),
    "idp/okta_users.csv": (
        "id", "status", "created", "activated", "statusChanged", "lastLogin", "lastUpdated",
        "passwordChanged", "profile.login", "profile.email", "profile.firstName",
        "profile.lastName", "profile.employeeNumber"),
    "idp/okta_app_assignments.csv": (
        "User", "Login", "Application name", "Application instance", "Application login",
        "Assigned on", "Unassigned on", "Last login", "Last password change"),
    "apps/ledgerline_erp_user_roles.csv": (
        "USER_ID", "USER_NAME", "EMAIL", "ROLE_NAME", "ROLE_ASSIGNED_DATE", "END_DATE",
        "ACCOUNT_STATUS", "LAST_LOGON", "CREATED_DATE"),
    "apps/github_org_members.csv": (
        "login", "name", "role", "two_factor_enabled", "membership_visibility", "last_active",
        "verified_domain_emails"),
    "cloud/aws_iam_credential_report.csv": (
        "user", "arn", "user_creation_time", "password_enabled", "password_last_used",
        "password_last_changed", "password_next_rotation", "mfa_active", "access_key_1_active",
        "access_key_1_last_rotated", "access_key_1_last_used_date",
        "access_key_1_last_used_region", "access_key_1_last_used_service", "access_key_2_active",
        "access_key_2_last_rotated", "access_key_2_last_used_date",
        "access_key_2_last_used_region", "access_key_2_last_used_service", "cert_1_active",
        "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated"),
    "cloud/aws_iam_group_memberships.csv": ("GroupName", "UserName", "UserArn"),
    "reviews/uar_2026Q3_decisions.csv": (
        "Campaign ID", "Campaign Name", "Certification ID", "Reviewer Name", "Reviewer Email",
        "Identity Name", "Identity Email", "Source", "Access Type", "Access Name", "Privileged",
        "Decision", "Decision Date", "Comments"),
    "reviews/uar_2026Q3_campaign_status.csv": (
        "Campaign ID", "Campaign Name", "Type", "Date of Creation", "Date of Activation",
        "Deadline", "Status", "Completed Date", "Total Items", "Decisions Made", "Signed Off By",
        "Signed Off Date"),
    "tickets/servicenow_access_requests.csv": (
        "Number", "Requested for", "Opened by", "Item", "Application", "Entitlement", "Action",
        "Approval", "Approver", "Approved", "Opened", "Closed", "State"),
    "policy/sod_rules.csv": (
        "rule_id", "system", "function_a", "entitlements_a", "function_b", "entitlements_b",
        "risk_level", "description"),
    "policy/privileged_access_approved.csv": (
        "system", "account", "entitlement", "approved_by", "approved_on", "expires_on"),
    "policy/sod_mitigations.csv": (
        "mitigation_id", "rule_id", "login", "mitigating_control", "approved_by", "valid_from", "valid_to"),
    "apps/ledgerline_erp_user_roles_after_review.csv": (
        "USER_ID", "USER_NAME", "EMAIL", "ROLE_NAME", "ROLE_ASSIGNED_DATE", "END_DATE",
        "ACCOUNT_STATUS", "LAST_LOGON", "CREATED_DATE"),
    "tickets/servicenow_remediation_tasks.csv": (
        "Number", "Short description", "Configuration item", "Requested for", "Account", "Entitlement",
        "State", "Assigned to", "Closed", "Closed by"),
    "ground_truth.csv": ("rule", "subject", "system", "control_family", "detail"),
    "removal_truth.csv": ("subject", "system", "entitlement", "outcome", "proven_by", "case"),
})

#: Planted rule -> (control family, number of ground-truth rows). The same at every size.
GROUND_TRUTH_RULES: Mapping[str, tuple[str, int]] = MappingProxyType({
    "terminated_with_active_access": ("termination", 4),
    "late_deprovisioning": ("termination", 2),
    "orphan_account": ("termination", 2),
    "access_after_termination": ("termination", 2),
    "self_review": ("user_access_review", 1),
    "undecided_review_line": ("user_access_review", 3),
    "revocation_not_executed": ("user_access_review", 2),
    "rubber_stamping": ("user_access_review", 1),
    "approved_terminated_user": ("user_access_review", 1),
    "unexplained_removal": ("user_access_review", 1),
    "sod_conflict": ("segregation_of_duties", 2),
    "sod_attribute_conflict": ("segregation_of_duties", 1),
    "dormant_account": ("authentication", 2),
    "mfa_not_enabled": ("authentication", 1),
    "shared_or_generic_account": ("authentication", 2),
    "access_without_approval": ("provisioning", 2),
    "privileged_drift": ("privileged_access", 1),
})

# ------------------------------------------------------------------------------------------------
# Fixed facts of the company
# ------------------------------------------------------------------------------------------------

_AWS_ACCOUNT = "123456789012"
_OKTA_GO_LIVE = date(2019, 3, 4)               # users hired earlier were imported that day
_ERP_GO_LIVE = date(2021, 1, 4)
_AWS_FIRST_USER = date(2020, 3, 2)
# US holidays the company observes in the two demo quarters (Memorial Day, Juneteenth,
# Independence Day observed, Labor Day)
_HOLIDAYS = (date(2026, 5, 25), date(2026, 6, 19), date(2026, 7, 3), date(2026, 9, 7))
# Bounds of "before the earlier demo quarter", the same for both quarters so that a person's
# history (hire date, account creation, long-held roles) is the same in both quarters' exports.
_STAFF_HIRED_BY = date(2026, 3, 27)
_EARLY_LEFT_BY = date(2026, 3, 31)
_ROLES_HELD_SINCE = datetime(2026, 3, 27, 18)
_POWER_USERS_SINCE = datetime(2026, 3, 20, 18)

_SPAN = 25                  # largest team a manager leads directly (deeper trees beyond that)

# The Q3 template of each quarter's review campaign and planted dates (moved by _Quarter.t / .d)
_CAMPAIGN_CREATED = datetime(2026, 8, 14, 21, 5, 0)     # the evening of the snapshot day
_CAMPAIGN_ACTIVATED = datetime(2026, 8, 17, 9, 30, 0)
_CAMPAIGN_DEADLINE = datetime(2026, 9, 15, 23, 59, 59)
_CAMPAIGN_COMPLETED = datetime(2026, 9, 11, 16, 20, 0)
_CAMPAIGN_SIGNED_OFF = datetime(2026, 9, 12, 10, 5, 0)
_RUBBER_STAMP_DAY = date(2026, 8, 18)
_DORMANT_OKTA_LOGIN = datetime(2026, 5, 10, 16, 42, 7)
_DORMANT_IAM_USE = datetime(2026, 4, 2, 14, 18, 51)
# S2's SoD mitigation (MIT-0002) runs to this day: valid at the end of Q2, expired by the end of Q3
_S2_MITIGATION_VALID_TO = date(2026, 6, 30)


@dataclass(frozen=True)
class _Quarter:
    """One audit period of the demo company and its calendar.

    The Q3 timeline is the template: every in-period date of the generator is written as a Q3 date
    and moved into another quarter with :meth:`d` / :meth:`t`, by ``offset`` days, a whole number of
    weeks so that weekdays are kept (Q2 lies 13 weeks before Q3). Dates that also appear in the
    period's parameter file (snapshot, extraction) are given as they are.
    """

    id: str
    start: date
    end: date
    offset: int
    snapshot: date
    extracted: datetime

    def d(self, template: date) -> date:
        """A Q3 template date moved into this quarter."""
        return template - timedelta(days=self.offset)

    def t(self, template: datetime) -> datetime:
        """A Q3 template timestamp moved into this quarter."""
        return template - timedelta(days=self.offset)

    @property
    def compact(self) -> str:
        """The id as it appears in file names (``2026Q3``)."""
        return self.id.replace("-", "")

    @property
    def label(self) -> str:
        """``Q3 2026``, as in the campaign's name."""
        year, quarter = self.id.split("-")
        return f"{quarter} {year}"

    @property
    def period_start(self) -> datetime:
        return _at(self.start)

    @property
    def snapshot_end(self) -> datetime:
        """Access held at any moment of the snapshot day is in the review."""
        return _at(self.snapshot) + timedelta(days=1)


QUARTERS: Mapping[str, _Quarter] = MappingProxyType({
    "2026-Q2": _Quarter("2026-Q2", date(2026, 4, 1), date(2026, 6, 30), 91, date(2026, 5, 14),
                        datetime(2026, 7, 1, 6, 0, 0)),
    "2026-Q3": _Quarter("2026-Q3", date(2026, 7, 1), date(2026, 9, 30), 0, date(2026, 8, 14),
                        datetime(2026, 10, 1, 6, 0, 0)),
})

# ERP roles
RO = "Read Only - Reporting"
VENDOR = "AP Clerk - Vendor Maintenance"
PAY_APPROVE = "AP Manager - Payment Approval"
PAY_RUN = "AP Payment Run"
JE = "GL Accountant - Journal Entry"
JE_APPROVE = "GL Controller - Journal Approval"
GL_MASTER = "GL Master Data"
PO_CREATE = "Purchasing - Create PO"
PO_APPROVE = "Purchasing - Approve PO"
SYSADMIN = "System Administrator"
SECADMIN = "Security Administrator"
_POSTING = (VENDOR, PAY_APPROVE, PAY_RUN, JE, JE_APPROVE, GL_MASTER, PO_CREATE, PO_APPROVE)

_PRIVILEGED = {
    "ledgerline_erp": (SYSADMIN, SECADMIN),
    "aws_prod": ("Administrators", "PowerUsers", "BillingAdmins"),
    "github": ("owner",),
}

# The entity's SoD rule set, mapped from reference/sod_rules_public_examples.csv.
_SOD_RULES = (
    ("SOD-01", "Maintain vendor master data", (VENDOR,),
     "Approve or execute vendor payments", (PAY_APPROVE, PAY_RUN), "High",
     "One person could create a fictitious vendor and pay it (public example PUB-AP-01)."),
    ("SOD-02", "Create purchase orders", (PO_CREATE,),
     "Approve purchase orders", (PO_APPROVE,), "High",
     "Self-approval of one's own purchase orders (public example PUB-P2P-01)."),
    ("SOD-03", "Maintain GL account master data", (GL_MASTER,),
     "Post journal entries", (JE,), "High",
     "Create a fictitious GL account and hide activity through postings (public example PUB-GL-01)."),
    ("SOD-04", "Post journal entries", (JE,),
     "Approve journal entries", (JE_APPROVE,), "High",
     "Self-approval of one's own journal entries."),
    ("SOD-05", "ERP security administration", (SECADMIN,),
     "Any finance transaction role", _POSTING, "Critical",
     "A user administrator who can also transact could grant themselves any access and use it "
     "(public example PUB-SEC-01)."),
    ("SOD-06", "ERP system administration", (SYSADMIN,),
     "Any finance transaction role", _POSTING, "Critical",
     "IT staff must not hold end-user finance transaction roles (public example PUB-IT-01)."),
)

# (name, weight, floor incl. head, cost centre, head title, team lead title, staff titles)
_DEPARTMENTS = (
    ("Engineering", 0.26, 8, "CC-4100", "VP Engineering", "Engineering Manager",
     ("Software Engineer", "Senior Software Engineer", "Site Reliability Engineer",
      "Staff Engineer", "QA Engineer")),
    ("Customer Support", 0.13, 3, "CC-6200", "Director of Customer Support", "Support Team Lead",
     ("Support Specialist", "Senior Support Specialist", "Support Operations Analyst")),
    ("Sales", 0.12, 2, "CC-6100", "VP Sales", "Sales Manager",
     ("Account Executive", "Sales Development Representative", "Solutions Consultant")),
    ("Marketing", 0.06, 2, "CC-6300", "VP Marketing", "Marketing Manager",
     ("Marketing Specialist", "Content Strategist", "Product Marketing Manager")),
    ("Accounts Payable", 0.08, 15, "CC-2200", "Accounts Payable Manager", "AP Team Lead",
     ("AP Specialist", "AP Clerk", "Senior AP Specialist")),
    ("Accounting", 0.06, 4, "CC-2300", "Controller", "Accounting Manager",
     ("Staff Accountant", "Senior Accountant", "GL Accountant")),
    ("Finance", 0.05, 4, "CC-2100", "Chief Financial Officer", "FP&A Manager",
     ("Financial Analyst", "Senior Financial Analyst", "Treasury Analyst")),
    ("Procurement", 0.04, 3, "CC-2400", "Head of Procurement", "Procurement Manager",
     ("Buyer", "Senior Buyer", "Procurement Specialist")),
    ("IT", 0.06, 3, "CC-3100", "Head of IT", "IT Manager",
     ("Systems Administrator", "IT Support Specialist", "Business Systems Analyst")),
    ("Security", 0.04, 2, "CC-3200", "Chief Information Security Officer", "Security Manager",
     ("Security Engineer", "Security Analyst", "GRC Analyst")),
    ("People", 0.04, 2, "CC-5100", "VP People", "People Operations Manager",
     ("People Partner", "Recruiter", "People Operations Specialist")),
)
_FINANCE_FAMILY = ("Accounts Payable", "Accounting", "Finance", "Procurement")
_NO_SCOPE = ("Customer Support", "Sales", "Marketing", "People")

_FIRST_NAMES = (
    "Aaron", "Abigail", "Adam", "Adrian", "Aisha", "Alan", "Alex", "Alice", "Amara", "Amelia",
    "Amir", "Ana", "Andre", "Andrew", "Angela", "Anika", "Anna", "Arjun", "Ava", "Ben",
    "Bianca", "Brandon", "Brian", "Camila", "Carla", "Carlos", "Caroline", "Chen", "Chloe",
    "Chris", "Claire", "Daniel", "Daria", "David", "Deepa", "Diana", "Diego", "Dmitri", "Elena",
    "Eli", "Elif", "Emily", "Emma", "Eric", "Erin", "Ethan", "Fatima", "Felix", "Fiona",
    "Gabriel", "Grace", "Hannah", "Hao", "Harper", "Hassan", "Helen", "Henry", "Ines", "Isaac",
    "Isabel", "Ivan", "Jack", "Jacob", "James", "Jana", "Jasmine", "Javier", "Jenna", "Jin",
    "John", "Jordan", "Jose", "Julia", "Julian", "Kai", "Karen", "Kenji", "Kevin", "Kim",
    "Lara", "Laura", "Leah", "Leo", "Liam", "Lina", "Lucas", "Lucia", "Luis", "Maya", "Marco",
    "Maria", "Mark", "Marta", "Mateo", "Mei", "Mia", "Michael", "Miguel", "Mila", "Nadia",
    "Naomi", "Nathan", "Nikhil", "Nina", "Noah", "Nora", "Olga", "Oliver", "Omar", "Owen",
    "Paula", "Pedro", "Peter", "Priya", "Rachel", "Rafael", "Rahul", "Rebecca", "Ren", "Ricardo",
    "Rosa", "Ryan", "Samuel", "Sara", "Sean", "Sofia", "Sophie", "Stefan", "Sun", "Tara",
    "Theo", "Thomas", "Tomas", "Uma", "Valeria", "Victor", "Wei", "William", "Yara", "Yusuf",
    "Zara", "Zoe",
)
_LAST_NAMES = (
    "Abbott", "Adeyemi", "Ahmed", "Alvarez", "Anderson", "Bailey", "Baker", "Banerjee", "Barnes",
    "Becker", "Bennett", "Brooks", "Brown", "Campbell", "Carter", "Castillo", "Chang", "Chen",
    "Clarke", "Collins", "Cooper", "Cruz", "Das", "Davies", "Diaz", "Dubois", "Edwards",
    "Ekstrom", "Evans", "Fernandez", "Fischer", "Fisher", "Flores", "Foster", "Garcia", "Gomez",
    "Gonzalez", "Gray", "Green", "Gupta", "Hall", "Hansen", "Harris", "Hayes", "Hernandez",
    "Hill", "Hoffman", "Huang", "Hughes", "Ibrahim", "Iyer", "Jackson", "Jensen", "Johnson",
    "Jones", "Kaur", "Kelly", "Khan", "Kim", "King", "Klein", "Kowalski", "Kumar", "Larsen",
    "Lee", "Lewis", "Li", "Lopez", "Martin", "Martinez", "Mehta", "Meyer", "Miller", "Mitchell",
    "Moore", "Morales", "Morgan", "Murphy", "Nakamura", "Nguyen", "Novak", "Okafor", "Olsen",
    "Ortiz", "Park", "Patel", "Perez", "Peterson", "Phillips", "Popescu", "Price", "Quinn",
    "Ramirez", "Reddy", "Reed", "Reyes", "Richardson", "Rivera", "Roberts", "Robinson",
    "Rodriguez", "Rossi", "Russell", "Sanchez", "Santos", "Sato", "Schmidt", "Scott", "Shah",
    "Silva", "Singh", "Smith", "Sullivan", "Suzuki", "Tanaka", "Taylor", "Thomas", "Thompson",
    "Torres", "Tran", "Turner", "Walker", "Wang", "Ward", "Watson", "Weber", "White", "Williams",
    "Wilson", "Wong", "Wood", "Wright", "Wu", "Yamamoto", "Yang", "Young", "Zhang", "Zimmerman",
)
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_REGIONS = ("us-east-1", "us-east-1", "us-east-1", "us-west-2", "eu-west-1")
_SERVICES = ("s3", "ec2", "sts", "ecr", "lambda", "cloudwatch", "dynamodb")


# ------------------------------------------------------------------------------------------------
# Public API
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoCompany:
    """What :func:`generate_demo_company` wrote: the folder, its size and seed, and every file.

    ``files`` maps each relative path (``hr/workday_workers.csv``, ...) to its path on disk.
    """

    out_dir: Path
    employees: int
    seed: int
    files: Mapping[str, Path] = field(hash=False)

    @property
    def ground_truth(self) -> Path:
        """The answer key of the planted exceptions."""
        return self.files["ground_truth.csv"]


def expected_truth_counts(period: str = DEMO_PERIOD) -> dict[str, int]:
    """Planted rule -> number of ground-truth rows in a demo quarter (the same at every size).

    The prior quarter has one SoD conflict fewer: S2's mitigation is still valid at its end.
    """
    counts = {rule: n for rule, (_, n) in GROUND_TRUTH_RULES.items()}
    if QUARTERS[period].end <= _S2_MITIGATION_VALID_TO:
        counts["sod_conflict"] -= 1
    if period != DEMO_PERIOD:  # the unexplained ERP removal is planted in the demo period only
        del counts["unexplained_removal"]
    return counts


def generate_demo_periods(root: Path, employees: int = 300, seed: int = 20260930) -> dict[str, DemoCompany]:
    """Write both demo quarters, the prior one (2026-Q2) and the demo period (2026-Q3), into ``root/<period>/``.

    The two quarters are one company: the same people, accounts and lasting conditions; each
    quarter has its own joiners, leavers, review campaign, tickets and planted events, and what
    happened in Q2 is history in Q3 (Q2's leavers are gone, Q2's joiners are staff).
    """
    return {period: generate_demo_company(Path(root) / period, employees, seed, period)
            for period in (PRIOR_PERIOD, DEMO_PERIOD)}


def generate_demo_company(out_dir: Path, employees: int = 300, seed: int = 20260930,
                          period: str = DEMO_PERIOD) -> DemoCompany:
    """Write one demo quarter's exports and answer key into ``out_dir`` (replaced as a whole).

    ``employees`` (100..100,000) is the number of people employed at some time in the two demo
    quarters (1 April to 30 September 2026: on the payroll at the start of Q2 or hired since); people
    who left before Q2 are added on top, as HR and Okta still list them. ``period`` is the quarter
    written (the demo period, 2026-Q3, or the prior one, 2026-Q2): both are views of one company, so
    the same ``(employees, seed)`` gives the same people and accounts in both, and byte-identical
    files every time. An existing ``out_dir`` is replaced only when it is empty or holds a previous demo
    (a ``ground_truth.csv``); anything else is refused rather than deleted.
    """
    if isinstance(employees, bool) or not isinstance(employees, int):
        raise TypeError(f"employees must be a whole number, got {employees!r}")
    if not MIN_EMPLOYEES <= employees <= MAX_EMPLOYEES:
        raise ValueError(f"employees must be between {MIN_EMPLOYEES} and {MAX_EMPLOYEES:,}, got {employees}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be a whole number, got {seed!r}")
    if period not in QUARTERS:
        raise ValueError(f"the demo company has periods {', '.join(QUARTERS)}, not {period!r}")
    out_dir = Path(out_dir)
    _check_replaceable(out_dir)
    tables = _Company(employees, seed, QUARTERS[period]).build()
    written = _write_atomically(out_dir, tables, {
        **demo_changes.quarter_files(tables, FILE_HEADERS, QUARTERS[period], _weekdays, planted=period == DEMO_PERIOD),
        **demo_operations.quarter_files(tables, FILE_HEADERS, QUARTERS[period], planted=period == DEMO_PERIOD)})
    return DemoCompany(out_dir=out_dir, employees=employees, seed=seed,
                       files=MappingProxyType(written))


# ------------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------------


def _check_replaceable(out_dir: Path) -> None:
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise NotADirectoryError(f"{out_dir} exists and is not a folder; not replacing it")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "ground_truth.csv").is_file():
        raise FileExistsError(
            f"{out_dir} is not empty and does not hold a previous demo company (no ground_truth.csv); "
            "refusing to replace it. Choose another folder or empty it first.")


def _write_atomically(out_dir: Path, tables: dict[str, list[list[str]]],
                      files: Mapping[str, bytes] = MappingProxyType({})) -> dict[str, Path]:
    parent = out_dir.parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = parent / f".{out_dir.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        for relative, rows in tables.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
                writer.writerow(FILE_HEADERS[re.sub(r"uar_\d{4}Q\d_", "uar_2026Q3_", relative)])
                writer.writerows(rows)
        for relative, data in files.items():  # exports written whole (JSON, the change demo's files)
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            (staging / relative).write_bytes(data)
        if out_dir.exists():
            retired = parent / f".{out_dir.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
            os.replace(out_dir, retired)
            try:
                os.replace(staging, out_dir)
            except BaseException:
                os.replace(retired, out_dir)
                raise
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {relative: out_dir / relative for relative in [*tables, *files]}


# ------------------------------------------------------------------------------------------------
# Formatting helpers (naive datetimes are UTC throughout)
# ------------------------------------------------------------------------------------------------


def _okta(t: datetime | None) -> str:
    if t is None:
        return ""
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}."
            f"{t.microsecond // 1000:03d}Z")


def _zulu(t: datetime | None) -> str:
    if t is None:
        return ""
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def _aws(t: datetime) -> str:
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}+00:00"


def _local(t: datetime | None) -> str:
    if t is None:
        return ""
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}"


def _iso_day(d: date | None) -> str:
    return "" if d is None else d.isoformat()


def _at(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def _weekdays(start: date, end: date) -> list[date]:
    out = []
    d = start
    while d <= end:
        if d.weekday() < 5 and d not in _HOLIDAYS:
            out.append(d)
        d += timedelta(days=1)
    return out


def _next_business_day(d: date) -> date:
    d += timedelta(days=1)
    while d.weekday() >= 5 or d in _HOLIDAYS:
        d += timedelta(days=1)
    return d


def _eve_of_holiday(d: date) -> bool:
    """A business day whose next business day is pushed back by a holiday (e.g. the Friday before Labor Day)."""
    naive = d + timedelta(days=3 if d.weekday() == 4 else 1)
    return _next_business_day(d) != naive


#: Planted people whose exception is an event of one quarter (each quarter has its own).
_EVENT_TAGS = ("T1", "T2", "L1", "L2", "W1", "W2", "R1", "R2", "U1", "U2", "D1", "D2", "P1", "J1", "J2")


def _quarter_tag(quarter: str):
    """The tag naming a quarter's planted person: plain for the demo quarter, prefixed for the prior one."""
    return (lambda tag: tag) if quarter == DEMO_PERIOD else (lambda tag: f"{quarter}:{tag}")


def _conflicts(roles: list[str]) -> list[str]:
    """SoD rule ids whose both sides are in ``roles``."""
    return [rid for rid, _, a, _, b, _, _ in _SOD_RULES
            if any(r in roles for r in a) and any(r in roles for r in b)]


# ------------------------------------------------------------------------------------------------
# The model
# ------------------------------------------------------------------------------------------------


class _Grant:
    """One entitlement of one account in ERP / AWS / GitHub, with its internal dates."""

    __slots__ = ("system", "name", "start", "end", "ticketed", "revoked")

    def __init__(self, system: str, name: str, start: datetime, ticketed: bool = False) -> None:
        self.system = system
        self.name = name
        self.start = start
        self.end: datetime | None = None
        self.ticketed = ticketed
        self.revoked = False              # removed by a review decision

    def held_at(self, moment: datetime) -> bool:
        return self.start < moment and (self.end is None or self.end >= moment)


class _Person:
    __slots__ = (
        "idx", "emp_id", "first", "last", "email", "hr_email", "dept", "title", "cost_center",
        "mgr", "reports", "is_head", "hire", "term", "reason", "rehire", "kind", "tags",
        "okta_id", "okta_created", "okta_activated", "okta_last_login", "okta_status", "deact",
        "erp_id", "erp_email", "erp_created", "erp_status", "erp_last", "erp",
        "iam", "iam_created", "iam_pw_used", "iam_mfa", "iam_key", "aws",
        "gh_login", "gh_last", "gh", "slack", "google", "joined", "left",
    )

    def __init__(self, idx: int) -> None:
        self.idx = idx
        self.mgr: _Person | None = None
        self.reports: list[_Person] = []
        self.is_head = False
        self.term: date | None = None
        self.reason = ""
        self.rehire = ""
        self.kind = "staff"           # staff | joiner | leaver | early_leaver (as seen in one quarter)
        self.tags: tuple[str, ...] = ()
        self.joined = ""              # the demo quarter the person was hired in, if any
        self.left = ""                # the demo quarter the person left in, if any
        self.deact: datetime | None = None
        self.erp_id = ""
        self.erp: list[_Grant] = []
        self.iam = ""
        self.iam_key: tuple | None = None
        self.aws: list[_Grant] = []
        self.gh_login = ""
        self.gh: list[_Grant] = []
        self.okta_status = "ACTIVE"
        self.erp_status = "ACTIVE"
        self.slack = False
        self.google = False

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    def has(self, tag: str) -> bool:
        return tag in self.tags

    def tag(self, tag: str) -> None:
        self.tags = self.tags + (tag,)


class _Line:
    """One line of the review campaign."""

    __slots__ = ("reviewer", "person", "grant", "decision", "at", "comment", "protected",
                 "early", "undecided", "not_executed")

    def __init__(self, reviewer: _Person, person: _Person, grant: _Grant) -> None:
        self.reviewer = reviewer
        self.person = person
        self.grant = grant
        self.decision = "APPROVE"
        self.at: datetime | None = None
        self.comment = ""
        self.protected = False
        self.early = False
        self.undecided = False
        self.not_executed = False


class _Company:
    """Builds every table of the demo company from (employees, seed)."""

    def __init__(self, employees: int, seed: int, quarter: _Quarter) -> None:
        self.n = employees
        self.seed = seed
        self.q = quarter
        self.rng = random.Random(seed)
        self.people: list[_Person] = []
        self.email_count: dict[str, int] = {}
        self.erp_ids: dict[str, int] = {}
        self.gh_logins: dict[str, int] = {}
        self.okta_ids: dict[str, int] = {}
        self.truth: list[tuple[str, str, str, str, str]] = []
        self.tickets: list[list] = []
        self.lines: list[_Line] = []
        self.special: dict[str, _Person] = {}
        self.privileged_holders: list[tuple[str, str, str, datetime, _Person]] = []
        self.period_days = _weekdays(quarter.start, quarter.end)

    # -- small helpers -----------------------------------------------------------------------

    def _time(self, d: date, h0: int = 8, h1: int = 18, rng: random.Random | None = None) -> datetime:
        rng = rng or self.rng
        return _at(d) + timedelta(seconds=rng.randrange(h0 * 3600, h1 * 3600),
                                  microseconds=rng.randrange(1000) * 1000)

    def _between(self, a: datetime, b: datetime) -> datetime:
        span = int((b - a).total_seconds())
        if span <= 0:
            return a
        return a + timedelta(seconds=self.rng.randrange(span), microseconds=self.rng.randrange(1000) * 1000)

    def _workday_between(self, a: datetime, b: datetime, rng: random.Random | None = None) -> datetime:
        """A business-hours moment on a weekday between ``a`` and ``b`` (``a`` plus minutes if none)."""
        rng = rng or self.rng
        span = (b.date() - a.date()).days
        if span <= 0:
            return a + timedelta(minutes=rng.randrange(5, 40))
        d = a.date() + timedelta(days=rng.randrange(span + 1))
        while d.weekday() >= 5:
            d -= timedelta(days=1)
        t = self._time(d, 9, 18, rng)
        return t if a < t < b else a + timedelta(minutes=rng.randrange(5, 40))

    def _own_rng(self, p: _Person, purpose: str) -> random.Random:
        """A stream of its own for one person's lasting facts, the same in every quarter's exports."""
        return random.Random(f"{self.seed}|{p.idx}|{purpose}")

    def _recent(self, floor: datetime, days: int = 40) -> datetime:
        """A last-activity time in the weeks before extraction, never before ``floor``."""
        if self.rng.random() < 0.88:
            t = self.q.extracted - timedelta(seconds=self.rng.randrange(3600, 3 * 86400))
        else:
            t = self.q.extracted - timedelta(seconds=self.rng.randrange(3 * 86400, days * 86400))
        t = t.replace(microsecond=self.rng.randrange(1000) * 1000)
        if t <= floor:
            t = self._between(floor + timedelta(minutes=5), self.q.extracted - timedelta(minutes=30))
        return t

    def _pick(self, pool: list[_Person], tag: str, fallback: list[_Person] | None = None) -> _Person:
        free = [p for p in pool if not p.tags and not p.joined and not p.left]
        if not free and fallback is not None:
            free = [p for p in fallback if not p.tags and not p.joined and not p.left]
        if not free:
            raise RuntimeError(f"demo generator: no candidate left for {tag}")
        person = self.rng.choice(free)
        person.tag(tag)
        self.special[tag] = person
        return person

    def _pick_many(self, pool: list[_Person], tag: str, k: int) -> list[_Person]:
        free = [p for p in pool if not p.tags]
        if len(free) < k:
            raise RuntimeError(f"demo generator: not enough candidates for {tag}")
        chosen = self.rng.sample(free, k)
        for person in chosen:
            person.tag(tag)
        return chosen

    def _truth(self, rule: str, subject: str, system: str, detail: str) -> None:
        self.truth.append((rule, subject.casefold(), system, GROUND_TRUTH_RULES[rule][0], detail))

    # -- 1. organisation ---------------------------------------------------------------------

    def _department_sizes(self) -> list[int]:
        staff = self.n - 1                     # the CEO is not in a department
        total_w = sum(d[1] for d in _DEPARTMENTS)
        raw = [staff * d[1] / total_w for d in _DEPARTMENTS]
        sizes = [max(d[2], int(r)) for d, r in zip(_DEPARTMENTS, raw)]
        # hand out or take back the difference, largest remainders / largest departments first
        order = sorted(range(len(sizes)), key=lambda i: (-(raw[i] - int(raw[i])), i))
        k = 0
        while sum(sizes) < staff:
            sizes[order[k % len(order)]] += 1
            k += 1
        while sum(sizes) > staff:
            i = max(range(len(sizes)), key=lambda j: (sizes[j] - _DEPARTMENTS[j][2], -j))
            sizes[i] -= 1
        return sizes

    def _new_person(self, dept: str, title: str, cost_center: str) -> _Person:
        p = _Person(len(self.people))
        p.first = self.rng.choice(_FIRST_NAMES)
        p.last = self.rng.choice(_LAST_NAMES)
        base = f"{p.first}.{p.last}".lower()
        count = self.email_count.get(base, 0) + 1
        self.email_count[base] = count
        p.email = f"{base if count == 1 else base + str(count)}@{DEMO_DOMAIN}"
        p.hr_email = p.email
        p.dept = dept
        p.title = title
        p.cost_center = cost_center
        self.people.append(p)
        return p

    def _tree(self, boss: _Person, staff: list[_Person], lead_title: str) -> None:
        if len(staff) <= _SPAN:
            for s in staff:
                s.mgr = boss
            return
        leads = []
        for i in range(0, len(staff), _SPAN):
            team = staff[i:i + _SPAN]
            lead = team[0]
            leads.append(lead)
            for s in team[1:]:
                s.mgr = lead
            if len(team) > 1:
                lead.title = lead_title
        self._tree(boss, leads, lead_title)

    def build_org(self) -> None:
        rng = self.rng
        sizes = self._department_sizes()
        self.ceo = self._new_person("Executive", "Chief Executive Officer", "CC-1000")
        self.ceo.is_head = True
        self.heads: dict[str, _Person] = {}
        self.dept_people: dict[str, list[_Person]] = {}
        for (name, _, _, cc, head_title, lead_title, titles), size in zip(_DEPARTMENTS, sizes):
            head = self._new_person(name, head_title, cc)
            head.is_head = True
            head.mgr = self.ceo
            staff = [self._new_person(name, rng.choice(titles), cc) for _ in range(size - 1)]
            self._tree(head, staff, lead_title)
            self.heads[name] = head
            self.dept_people[name] = [head, *staff]
        for p in self.people:
            if p.mgr is not None:
                p.mgr.reports.append(p)

    def leaves(self, dept: str) -> list[_Person]:
        return [p for p in self.dept_people[dept] if not p.is_head and not p.reports]

    # -- 2. who is special -------------------------------------------------------------------

    def choose_roles(self) -> None:
        """Pick the planted people, privileged holders, leavers and joiners of both demo quarters.

        Lasting conditions (an SoD conflict, MFA off, the rubber-stamping manager, the Controller's
        self-review) belong to the same people in both quarters; each quarter's events (leavers,
        joiners, review-campaign slips, unapproved grants, dormancy, privileged drift) to people of
        its own. Every pick is made in both quarters' builds in the same order, so each build knows
        what happened in the other quarter and a person's history agrees across the exports.
        """
        ap_managers = [p for p in self.dept_people["Accounts Payable"] if p.reports]
        self.rs = max(ap_managers, key=lambda m: (sum(1 for r in m.reports if not r.reports), -m.idx))
        self.rs.tag("rubber_stamper")
        self.rs_team = [r for r in self.rs.reports if not r.reports]
        self.controller = self.heads["Accounting"]
        self.controller.tag("self_reviewer")
        self.ciso = self.heads["Security"]
        self.cfo = self.heads["Finance"]

        # privileged holders and other stable roles first (never leavers)
        it_leaves = self.leaves("IT")
        sec_leaves = self.leaves("Security")
        eng_leaves = self.leaves("Engineering")
        self.it_admins = self._pick_many(it_leaves, "it_admin", 1 + self.n // 25000)
        self.sec_admins = self._pick_many(sec_leaves, "sec_admin", 1 + self.n // 50000)
        self.power_users = self._pick_many(eng_leaves, "power_user", max(1, round(0.08 * len(eng_leaves))))
        self.billing_extra = self._pick_many(self.leaves("Finance"), "billing_admin", self.n // 25000)

        # lasting conditions: the same people in both quarters
        self._pick(self.rs_team, "S1")
        self._pick(self.leaves("Procurement"), "S2")
        self._pick(self.leaves("People"), "X1")          # HR person holding ERP payment approval
        self._pick(self.leaves("Accounting"), "V1")      # SoD pair covered by a valid mitigation
        self._pick(eng_leaves, "M1")

        # each quarter's own planted people (the demo quarter first, then the prior one)
        rs_team_ids = {p.idx for p in self.rs_team}
        ff = [p for d in _FINANCE_FAMILY for p in self.leaves(d) if p.idx not in rs_team_ids]
        ns = [p for d in _NO_SCOPE for p in self.leaves(d)]
        everyone_leaf = [p for p in self.people if not p.is_head and not p.reports and p.idx not in rs_team_ids]
        non_eng = [p for p in everyone_leaf if p.dept != "Engineering"]
        for quarter in (DEMO_PERIOD, PRIOR_PERIOD):
            mark = _quarter_tag(quarter)
            self._pick(self.rs_team, mark("T1"))
            self._pick(self.rs_team, mark("W1"), fallback=ff)
            for tag in ("R1", "R2", "U2"):               # decided by reviewers who do review
                self._pick(ff, mark(tag))
            for tag in ("T2", "W2"):
                self._pick(ff, mark(tag), fallback=self.rs_team)
            for tag in ("L1", "L2", "D1"):
                self._pick(ns, mark(tag))
            for tag in ("U1", "D2", "P1", "J1"):
                self._pick(eng_leaves, mark(tag))
            self._pick(non_eng, mark("J2"))

        # ordinary joiners and leavers of each quarter
        n_joiners = max(3, round(0.05 * self.n))
        n_leavers = max(6, round(0.09 * self.n))
        for quarter in (DEMO_PERIOD, PRIOR_PERIOD):
            mark = _quarter_tag(quarter)
            pool = [p for p in everyone_leaf if not p.tags and not p.joined and not p.left]
            picked = self.rng.sample(pool, min(len(pool), n_joiners - 2 + n_leavers - 4))
            for p in [self.special[mark("J1")], self.special[mark("J2")], *picked[:n_joiners - 2]]:
                p.joined = quarter
            for p in [*picked[n_joiners - 2:], *(self.special[mark(t)] for t in ("T1", "T2", "L1", "L2"))]:
                p.left = quarter

    # -- 3. dates ----------------------------------------------------------------------------

    def assign_dates(self) -> None:
        """Hire and termination dates of everyone, for both quarters' events (the same in both builds)."""
        rng = self.rng
        early_hires = _weekdays(date(2016, 3, 1), date(2021, 12, 31))
        staff_hires = _weekdays(date(2016, 3, 1), _STAFF_HIRED_BY)
        special_hires = _weekdays(date(2018, 1, 2), date(2026, 2, 27))
        for p in self.people:
            if p.is_head or p.reports:
                p.hire = rng.choice(early_hires)
            elif p.tags:
                p.hire = rng.choice(special_hires)
            else:
                p.hire = rng.choice(staff_hires)
        for quarter in (DEMO_PERIOD, PRIOR_PERIOD):
            self._quarter_events(QUARTERS[quarter])
        for p in self.people:
            if p.term is not None:
                p.reason = rng.choice(("Resignation", "Resignation", "Resignation", "Involuntary",
                                       "End of Contract", "Relocation"))
                p.rehire = "No" if p.reason == "Involuntary" else "Yes"

        # people who left before both quarters: in HR and Okta (deactivated), nowhere else
        n_early = max(2, round(0.04 * self.n))
        depts = [d[0] for d in _DEPARTMENTS]
        weights = [d[1] for d in _DEPARTMENTS]
        early_terms = _weekdays(date(2025, 10, 1), _EARLY_LEFT_BY)
        specs = {d[0]: d for d in _DEPARTMENTS}
        managers = {d: [m for m in self.dept_people[d] if m.reports] for d in depts}
        for _ in range(n_early):
            name = rng.choices(depts, weights)[0]
            spec = specs[name]
            p = self._new_person(name, rng.choice(spec[6]), spec[3])
            p.mgr = rng.choice(managers[name])
            p.kind = "early_leaver"
            p.term = rng.choice(early_terms)
            p.hire = staff_hires[rng.randrange(bisect.bisect_left(staff_hires, p.term - timedelta(days=60)))]
            p.reason = rng.choice(("Resignation", "Resignation", "Involuntary", "Retirement"))
            p.rehire = "No" if p.reason == "Involuntary" else "Yes"

        # Employee IDs: six digits, many with leading zeros
        ids = rng.sample(range(1000, 1000 + max(200_000, 3 * len(self.people))), len(self.people))
        for p, i in zip(self.people, ids):
            p.emp_id = f"{i:06d}"

        # a few HR e-mails typed in mixed case (always including one planted subject of each quarter)
        mixed = rng.sample([p for p in self.people if not p.tags], max(3, self.n // 150))
        for p in [*mixed, *(self.special[_quarter_tag(q)("T1")] for q in (DEMO_PERIOD, PRIOR_PERIOD))]:
            local, _ = p.email.split("@")
            p.hr_email = ".".join(part.capitalize() for part in local.split(".")) + "@HarborLane.example"

    def _quarter_events(self, q: _Quarter) -> None:
        """Hire dates of the quarter's joiners and termination dates of its leavers."""
        rng = self.rng
        mark = _quarter_tag(q.id)
        days = _weekdays(q.start, q.end)
        snap_block = (q.d(date(2026, 8, 12)), q.d(date(2026, 8, 19)))
        joiner_days = [d for d in days if not snap_block[0] <= d <= snap_block[1]]
        late_joiner_days = [d for d in days if q.d(date(2026, 9, 14)) <= d <= q.d(date(2026, 9, 25))]
        special = {tag: self.special[mark(tag)] for tag in ("T1", "T2", "L1", "L2", "J1", "J2")}
        for p in self.people:
            if p.joined == q.id:
                p.hire = rng.choice(late_joiner_days if p in (special["J1"], special["J2"]) else joiner_days)

        # clean leavers: termination on a business day, never around the snapshot / campaign start
        # and never on the eve of a holiday
        leave_days = [d for d in days if not snap_block[0] - timedelta(days=1) <= d <= snap_block[1]
                      and not _eve_of_holiday(d)]
        for p in self.people:
            if p.left == q.id and p not in special.values():
                p.term = rng.choice(leave_days)
        special["T1"].term = rng.choice([d for d in days if q.d(date(2026, 7, 20)) <= d <= q.d(date(2026, 8, 7))])
        special["T2"].term = rng.choice([d for d in days if q.d(date(2026, 8, 24)) <= d <= q.d(date(2026, 9, 11))
                                         and not _eve_of_holiday(d)])
        for tag in ("L1", "L2"):
            special[tag].term = rng.choice([d for d in days if q.d(date(2026, 7, 6)) <= d <= q.d(date(2026, 9, 14))])

    def activate_quarter(self) -> None:
        """Look at everyone as of this build's quarter: who joins, leaves, left before, or is not hired yet.

        Leavers of a later quarter are still employed; leavers of an earlier quarter are gone (HR
        and a deactivated Okta user only); joiners of a later quarter are removed from the company.
        The planted-people tags of this quarter become the active ones.
        """
        order = {PRIOR_PERIOD: 0, DEMO_PERIOD: 1}
        now = order[self.q.id]
        for p in self.people:
            if p.kind == "early_leaver":
                continue
            if p.joined and order[p.joined] > now:
                p.kind = "future"
            elif p.left and order[p.left] > now:
                p.term, p.reason, p.rehire = None, "", ""
                p.kind = "joiner" if p.joined == self.q.id else "staff"
            elif p.left and order[p.left] < now:
                p.kind = "early_leaver"
            elif p.left == self.q.id:
                p.kind = "leaver"
            elif p.joined == self.q.id:
                p.kind = "joiner"
        mark = _quarter_tag(self.q.id)

        def active_tag(tag: str) -> str | None:
            base = tag.split(":")[-1]
            if base not in _EVENT_TAGS:
                return tag
            return base if tag == mark(base) else None   # None: the other quarter's planted event

        for p in self.people:
            p.tags = tuple(t for t in map(active_tag, p.tags) if t is not None)
        self.special = {active_tag(tag): person for tag, person in self.special.items()
                        if active_tag(tag) is not None}

    # -- 4. accounts and access --------------------------------------------------------------

    def _okta_id(self, rng: random.Random) -> str:
        while True:
            oid = "00u" + "".join(rng.choices(_ALNUM, k=17))
            if oid not in self.okta_ids:
                self.okta_ids[oid] = 1
                return oid

    def _erp_user_id(self, p: _Person) -> str:
        base = (p.first[0] + p.last).upper()
        count = self.erp_ids.get(base, 0) + 1
        self.erp_ids[base] = count
        return base if count == 1 else f"{base}{count}"

    def _github_login(self, p: _Person, rng: random.Random) -> str:
        first, last = p.first.lower(), p.last.lower()
        style = rng.randrange(6)
        if style == 0:
            login = f"{first}{last[0]}"
        elif style == 1:
            login = f"{first[0]}{last}"
        elif style == 2:
            login = f"{first}-{last}"
        elif style == 3:
            login = f"{first}{last}{rng.randrange(10, 99)}"
        elif style == 4:
            login = f"{p.first}{p.last}"
        else:
            login = f"{first[0]}{last}-hl"
        key = login.casefold()
        count = self.gh_logins.get(key, 0) + 1
        self.gh_logins[key] = count
        return login if count == 1 else f"{login}{count}"

    def _profile(self, p: _Person, rng: random.Random) -> tuple[list[str], list[str], str]:
        """(ERP roles, AWS groups, GitHub role) a person holds by department and position."""
        dept, lead = p.dept, bool(p.reports) and not p.is_head
        if p.has("X1"):
            return [PAY_APPROVE, RO], [], ""
        if p is self.ceo or dept in _NO_SCOPE:
            return [], [], ""
        if dept == "Finance":
            if p.is_head:
                return [JE_APPROVE, RO], ["BillingAdmins"], ""
            if p.has("billing_admin"):
                return [RO], ["BillingAdmins"], ""
            return ([GL_MASTER, RO] if rng.random() < 0.25 else [RO]), [], ""
        if dept == "Accounts Payable":
            if p.is_head or lead:
                return [PAY_APPROVE, RO], [], ""
            if p.has("S1"):
                return [VENDOR, PAY_APPROVE, RO], [], ""
            if rng.random() < 0.6:
                return [VENDOR, PO_CREATE, RO], [], ""
            return [PAY_RUN, JE, RO], [], ""
        if dept == "Accounting":
            if p.has("V1"):
                return [GL_MASTER, JE, RO], [], ""
            if p.is_head or lead:
                return [JE_APPROVE, RO], [], ""
            x = rng.random()
            if x < 0.72:
                return [JE, RO], [], ""
            if x < 0.88:
                return [JE_APPROVE, RO], [], ""
            return [GL_MASTER, RO], [], ""
        if dept == "Procurement":
            if p.has("S2"):
                return [PO_CREATE, PO_APPROVE, RO], [], ""
            if p.is_head or lead or rng.random() < 0.2:
                return [PO_APPROVE, RO], [], ""
            return [PO_CREATE, RO], [], ""
        if dept == "Engineering":
            if p.is_head:
                return [], ["ReadOnly"], "owner"
            groups = ["Developers"]
            if p.has("power_user"):
                groups.append("PowerUsers")
            if rng.random() < 0.6 or p.has("U1") or p.has("D2"):
                groups.append("ReadOnly")
            return [], groups, "member"
        if dept == "IT":
            if p.is_head:
                return [], ["Administrators", "ReadOnly"], "member"
            if p.has("it_admin"):
                return [SYSADMIN, RO], ["Administrators", "ReadOnly"], "owner"
            if lead or rng.random() < 0.6:
                return [], ["ReadOnly"], "member"
            return [], [], ""
        if dept == "Security":
            if p.has("sec_admin"):
                return [SECADMIN, RO], ["ReadOnly"], "member"
            return [], ["ReadOnly"], "member"
        return [], [], ""

    def assign_identities(self) -> None:
        """Okta ids, ERP user ids and GitHub logins of everyone, the same in both quarters' builds."""
        for p in self.people:
            rng = self._own_rng(p, "identity")
            p.okta_id = self._okta_id(rng)
            p.erp_id = self._erp_user_id(p)
            p.gh_login = self._github_login(p, rng)

    def build_accounts(self) -> None:
        """Accounts and access of everyone employed in the quarter (lasting facts from each person's own stream)."""
        rng = self.rng
        for p in self.people:
            own = self._own_rng(p, "accounts")
            self._okta_account(p, own)
            if p.kind == "early_leaver":
                continue
            roles, groups, gh_role = self._profile(p, own)
            joiner = bool(p.joined)                     # hired in one of the demo quarters
            ticketed = p.kind == "joiner"               # ... and this quarter's tickets show it
            start_day = p.hire
            erp_id, p.erp_id = p.erp_id, ""
            if roles:
                p.erp_id = erp_id
                created_day = max(start_day, _ERP_GO_LIVE)
                p.erp_created = self._time(created_day, 9, 11, own) if not joiner else self._time(start_day, 8, 9, own)
                p.erp_email = p.email.upper() if own.random() < 0.08 or p.has("R1") else p.email
                for role in roles:
                    if joiner:
                        start = p.erp_created + timedelta(minutes=own.randrange(20, 180))
                    else:
                        start = self._workday_between(p.erp_created, _ROLES_HELD_SINCE, own)
                    p.erp.append(_Grant("ledgerline_erp", role, start, ticketed=ticketed))
            if groups:
                p.iam = p.email.split("@")[0]
                if p.has("D2"):
                    p.iam = ".".join(x.capitalize() for x in p.iam.split("."))
                p.iam_created = (self._time(max(start_day, _AWS_FIRST_USER), 9, 17, own) if not joiner
                                 else self._time(start_day, 8, 10, own))
                for g in groups:
                    start = (p.iam_created + timedelta(minutes=own.randrange(2, 60)) if joiner or g != "PowerUsers"
                             else self._workday_between(p.iam_created, _POWER_USERS_SINCE, own))
                    p.aws.append(_Grant("aws_prod", g, start, ticketed=ticketed))
            gh_login, p.gh_login = p.gh_login, ""
            if gh_role:
                p.gh_login = gh_login
                start = (self._time(start_day, 9, 17, own) if joiner
                         else self._time(max(start_day, date(2019, 6, 3)), rng=own))
                p.gh.append(_Grant("github", gh_role, start, ticketed=ticketed))
            p.slack = own.random() < 0.96 or p.is_head or bool(p.tags)
            p.google = own.random() < 0.99 or p.is_head or bool(p.tags)

        # people hired after this quarter are not in its exports
        future = [p for p in self.people if p.kind == "future"]
        for p in future:
            if p.mgr is not None:
                p.mgr.reports.remove(p)
        self.people = [p for p in self.people if p.kind != "future"]

        # P1: added to AWS Administrators in July, never approved (privileged drift)
        p1 = self.special["P1"]
        p1.aws.append(_Grant("aws_prod", "Administrators", self._time(self.q.d(date(2026, 7, 22)), 14, 18)))

        # in-period ERP role additions with an approved ticket (movers), and the two without
        movers_pool = [p for p in self.people if p.erp and not p.tags and p.kind == "staff"
                       and not p.is_head and not p.reports]
        n_movers = min(len(movers_pool), max(3, round(0.04 * len(movers_pool))))
        q = self.q
        grant_days = [d for d in self.period_days if not q.d(date(2026, 8, 12)) <= d <= q.d(date(2026, 8, 19))
                      and d <= q.d(date(2026, 9, 25))]
        for p in rng.sample(movers_pool, n_movers):
            role = self._extra_role(p)
            if role:
                p.erp.append(_Grant("ledgerline_erp", role, self._time(rng.choice(grant_days), 10, 17),
                                    ticketed=True))
        for tag, window in (("W1", (q.d(date(2026, 7, 6)), q.d(date(2026, 8, 7)))),
                            ("W2", (q.d(date(2026, 8, 24)), q.d(date(2026, 9, 24))))):
            p = self.special[tag]
            role = self._extra_role(p)
            day = rng.choice([d for d in self.period_days if window[0] <= d <= window[1]])
            p.erp.append(_Grant("ledgerline_erp", role, self._time(day, 10, 17), ticketed=False))
            p.tag(f"{tag}:{role}")

        # privileged holders at extraction (for the approved list), P1 excluded
        for p in self.people:
            for g in (*p.erp, *p.aws, *p.gh):
                if g.name in _PRIVILEGED[g.system] and not p.has("P1"):
                    account = {"ledgerline_erp": p.erp_id, "aws_prod": p.iam, "github": p.gh_login}[g.system]
                    self.privileged_holders.append((g.system, account, g.name, g.start, p))

    def _extra_role(self, p: _Person) -> str:
        held = [g.name for g in p.erp]
        for role in self.rng.sample((RO, PO_CREATE, JE, PAY_RUN, GL_MASTER), 5):
            if role not in held and not _conflicts([*held, role]):
                return role
        raise RuntimeError(f"demo generator: no compatible extra ERP role for {held}")

    def _okta_account(self, p: _Person, rng: random.Random) -> None:
        if p.hire < _OKTA_GO_LIVE:
            p.okta_created = self._time(_OKTA_GO_LIVE, 2, 4, rng)
            p.okta_activated = p.okta_created + timedelta(seconds=rng.randrange(30, 600))
        else:
            p.okta_created = self._time(p.hire - timedelta(days=rng.randrange(2, 6)), 14, 22, rng)
            p.okta_activated = p.okta_created + timedelta(seconds=rng.randrange(60, 7200))

    # -- 5. leavers --------------------------------------------------------------------------

    def _remove_all(self, p: _Person, when: datetime) -> None:
        for g in (*p.erp, *p.aws, *p.gh):
            if g.end is None:
                g.end = when + timedelta(seconds=self.rng.randrange(60, 1500))
        if p.erp:
            p.erp_status = "DISABLED"

    def process_leavers(self) -> None:
        rng = self.rng
        for p in self.people:
            if p.term is None:
                continue
            if p.kind == "early_leaver":
                p.okta_status = "DEPROVISIONED"
                p.deact = self._time(p.term, 17, 22)
                continue
            if p.has("T1") or p.has("T2"):
                continue                       # HR never told IT: everything stays active
            if p.has("L1") or p.has("L2"):
                late_days = [p.term + timedelta(days=k) for k in range(9, 16)]
                late_days = [d for d in late_days if d.weekday() < 5 and d not in _HOLIDAYS
                             and d <= self.q.end]
                p.deact = self._time(rng.choice(late_days), 13, 20)
                p.okta_status = "DEPROVISIONED"
                continue
            nxt = _next_business_day(p.term)
            if p.term.weekday() < 5 and nxt <= self.q.end and rng.random() < 0.3:
                p.deact = self._time(nxt, 13, 17)
            else:
                p.deact = self._time(p.term, 17, 23)
            p.okta_status = "DEPROVISIONED"
            self._remove_all(p, p.deact)

    # -- 6. the review campaign --------------------------------------------------------------

    def build_campaign(self) -> None:
        by_reviewer: dict[int, list[_Line]] = {}
        reviewers: dict[int, _Person] = {}
        for p in self.people:
            if p.kind == "early_leaver" or p.mgr is None:
                continue
            for g in (*p.erp, *p.aws, *p.gh):
                if not g.held_at(self.q.snapshot_end):
                    continue
                reviewer = p.mgr
                line = _Line(reviewer, p, g)
                by_reviewer.setdefault(reviewer.idx, []).append(line)
                reviewers[reviewer.idx] = reviewer
                self.lines.append(line)
                if p.term is not None and not p.has("T1"):
                    line.early = True          # decided before the person leaves
                if p.has("T2"):
                    line.protected = True
                if p.has("S1") or p.has("S2") or p.has("V1"):
                    line.protected = line.protected or g.name != RO
                if p.has("X1"):
                    line.protected = line.protected or g.name == PAY_APPROVE
                if any(t.startswith(("W1:", "W2:")) and t.endswith(":" + g.name) for t in p.tags):
                    line.protected = True
                if g.name in _PRIVILEGED[g.system]:
                    line.protected = True

        # self-review: one of the Controller's own lines is routed to the Controller
        ctrl_lines = [ln for ln in self.lines if ln.person is self.controller and ln.grant.name == RO]
        self_line = ctrl_lines[0]
        by_reviewer[self_line.reviewer.idx].remove(self_line)
        self_line.reviewer = self.controller
        self_line.protected = True
        by_reviewer.setdefault(self.controller.idx, []).append(self_line)
        reviewers[self.controller.idx] = self.controller
        self.self_line = self_line

        # undecided lines: U1's two lines (AWS Developers, GitHub member) and one ERP line of U2
        u1, u2 = self.special["U1"], self.special["U2"]
        undecided = [ln for ln in self.lines if ln.person is u1 and ln.grant.name in ("Developers", "member")]
        undecided.append(next(ln for ln in self.lines if ln.person is u2 and ln.grant.system == "ledgerline_erp"))
        for ln in undecided:
            ln.undecided = True
            ln.decision = ""
        # revocations decided but never executed: one ERP line each of R1 and R2
        self.not_executed = []
        for tag in ("R1", "R2"):
            p = self.special[tag]
            ln = next(x for x in self.lines if x.person is p and x.grant.system == "ledgerline_erp")
            ln.decision, ln.not_executed, ln.comment = "REVOKE", True, "Role no longer required"
            self.not_executed.append(ln)

        snapshot_grants = {id(ln.grant) for ln in self.lines}
        assert len(snapshot_grants) == len(self.lines)
        for idx in sorted(by_reviewer):
            reviewer = reviewers[idx]
            lines = sorted(by_reviewer[idx], key=lambda ln: (ln.person.email, ln.grant.system, ln.grant.name))
            if reviewer is self.rs:
                self._rubber_stamp(lines)
            else:
                self._review(reviewer, lines)

    def _revocable(self, ln: _Line) -> int:
        """Preference for revoking a line (0 = never, higher = better candidate)."""
        if ln.protected or ln.undecided or ln.not_executed or ln.decision == "REVOKE":
            return 0
        p, g = ln.person, ln.grant
        if p.has("T1") or p.has("T2"):
            return 0
        if p.kind == "joiner" or p.term is not None:
            return 1
        same_system = [x for x in (p.erp if g.system == "ledgerline_erp" else p.aws if g.system == "aws_prod" else p.gh)
                       if x.end is None and x is not g]
        if g.name in (RO, "ReadOnly") and same_system:
            return 4
        if g.system == "github" and p.dept != "Engineering":
            return 3
        return 2 if same_system else 1

    def _review(self, reviewer: _Person, lines: list[_Line]) -> None:
        rng = self.rng
        decided = [ln for ln in lines if not ln.undecided]
        n = len(decided)
        wanted = 1 if n < 20 else math.ceil(0.055 * n)
        have = sum(1 for ln in decided if ln.decision == "REVOKE")
        candidates = [ln for ln in decided if self._revocable(ln)]
        rng.shuffle(candidates)
        candidates.sort(key=lambda ln: -self._revocable(ln))       # stable: random within a preference
        chosen: list[_Line] = []
        touched: dict[int, int] = {}
        for one_per_person in (True, False):
            for ln in candidates:
                if have + len(chosen) >= wanted:
                    break
                if ln in chosen or (one_per_person and ln.person.idx in touched):
                    continue
                chosen.append(ln)
                touched[ln.person.idx] = 1
        for ln in chosen:
            ln.decision = "REVOKE"
            ln.comment = rng.choice(("No longer required for current role", "Not needed after team change",
                                     "Access not used; remove", "Duplicate of role access"))

        # schedule: sessions on business days; leavers' lines in the first session (before they leave)
        early = [ln for ln in decided if ln.early]
        rest = [ln for ln in decided if not ln.early]
        rng.shuffle(rest)
        ordered = early + rest
        q = self.q
        days = [d for d in self.period_days if q.d(date(2026, 8, 20)) <= d <= q.d(date(2026, 9, 10))]
        n_sessions = max(1, min(len(days) + 1, math.ceil(len(ordered) / 30)))
        if len(ordered) > 8 and n_sessions == 1 and rng.random() < 0.7:
            n_sessions = 2
        first_day = rng.choice((q.d(date(2026, 8, 17)), q.d(date(2026, 8, 18)), q.d(date(2026, 8, 19))))
        later = sorted(rng.sample(days, n_sessions - 1)) if n_sessions > 1 else []
        session_days = [first_day, *later]
        first_size = max(len(early), math.ceil(len(ordered) / n_sessions))
        chunks = [ordered[:first_size]]
        rest_lines = ordered[first_size:]
        per = math.ceil(len(rest_lines) / max(1, n_sessions - 1)) if rest_lines else 0
        for i in range(n_sessions - 1):
            chunks.append(rest_lines[i * per:(i + 1) * per])
        for day, chunk in zip(session_days, chunks):
            t = _at(day) + timedelta(seconds=rng.randrange(12 * 3600, 15 * 3600))
            for ln in chunk:
                ln.at = t
                t += timedelta(seconds=rng.randrange(70, 600))
        for ln in decided:
            if ln.early:
                assert ln.at is not None and ln.person.term is not None and ln.at.date() < ln.person.term
            if ln.comment == "" and ln.decision == "APPROVE" and rng.random() < 0.08:
                ln.comment = rng.choice(("Required for role", "Needed for month-end close", "OK"))
            if ln.decision == "REVOKE" and not ln.not_executed:
                self._execute_revoke(ln)

    def _rubber_stamp(self, lines: list[_Line]) -> None:
        rng = self.rng
        order = list(lines)
        rng.shuffle(order)
        t = _at(self.q.d(_RUBBER_STAMP_DAY)) + timedelta(hours=15, minutes=41, seconds=rng.randrange(600))
        for ln in order:
            ln.decision = "APPROVE"
            ln.at = t
            t += timedelta(seconds=rng.randrange(2, 7))
        self.rs_lines = order

    def _execute_revoke(self, ln: _Line) -> None:
        rng = self.rng
        assert ln.at is not None
        day = ln.at.date()
        if day.weekday() < 4 and _next_business_day(day) == day + timedelta(days=1) and rng.random() < 0.3:
            done = self._time(day + timedelta(days=1), 13, 16)
        else:
            done = ln.at + timedelta(seconds=rng.randrange(900, 3 * 3600))
        ln.grant.end = done
        ln.grant.revoked = True
        if ln.grant.system == "ledgerline_erp":
            self._ticket(ln.person, self.it_admins[0], "Access Certification Remediation", "ledgerline_erp",
                         ln.grant.name, "Revoke", "approved", ln.reviewer, approved=ln.at,
                         opened=ln.at + timedelta(seconds=rng.randrange(30, 300)), closed=done,
                         state="Closed Complete")

    # -- 7. tickets --------------------------------------------------------------------------

    def _ticket(self, who: _Person, opener: _Person | str, item: str, system: str, entitlement: str,
                action: str, approval: str, approver: _Person, *, approved: datetime | None,
                opened: datetime, closed: datetime | None, state: str) -> None:
        opener_email = opener if isinstance(opener, str) else opener.email
        self.tickets.append([opened, who.email, opener_email, item, SYSTEM_NAMES[system], entitlement,
                             action, approval, approver.email, approved, closed, state])

    def build_tickets(self) -> None:
        rng = self.rng
        people_ops = self.heads["People"]
        for ln in self.not_executed:
            self._ticket(ln.person, self.it_admins[0], "Access Certification Remediation", "ledgerline_erp",
                         ln.grant.name, "Revoke", "approved", ln.reviewer, approved=ln.at,
                         opened=ln.at + timedelta(seconds=rng.randrange(30, 300)), closed=None, state="Open")
        for p in self.people:
            if p.kind == "early_leaver":
                continue
            for g in (*p.erp, *p.aws, *p.gh):
                if not g.ticketed:
                    continue
                assigned = g.start
                if g.system == "aws_prod":
                    assigned = min(assigned, p.iam_created)   # approved before the IdP assigned the app
                opened_day = assigned.date() - timedelta(days=rng.randrange(2, 8))
                while opened_day.weekday() >= 5:
                    opened_day -= timedelta(days=1)
                opened = self._time(opened_day, 9, 16)
                approved = opened + timedelta(seconds=rng.randrange(1200, 26 * 3600))
                if approved >= assigned - timedelta(minutes=30):
                    approved = assigned - timedelta(minutes=rng.randrange(30, 180))
                opener = people_ops if p.kind == "joiner" else p
                entitlement = g.name
                self._ticket(p, opener, "New Hire Access" if p.kind == "joiner" else "Application Access",
                             g.system, entitlement, "Grant", "approved", p.mgr, approved=approved,
                             opened=opened, closed=assigned + timedelta(seconds=rng.randrange(120, 3600)),
                             state="Closed Complete")
            if p.kind == "leaver" and p.deact is not None and not p.has("L1") and not p.has("L2"):
                for g in p.erp:
                    if g.revoked:
                        continue               # already removed after the access review
                    opened = self._time(p.term, 7, 11)
                    self._ticket(p, people_ops, "Offboarding - Access Removal", "ledgerline_erp", g.name,
                                 "Revoke", "approved", p.mgr,
                                 approved=opened + timedelta(seconds=rng.randrange(300, 3600)),
                                 opened=opened, closed=g.end, state="Closed Complete")

        # requests that were (correctly) rejected and never provisioned, and one still pending
        stable = [p for p in self.people if p.erp and not p.tags and p.kind == "staff"
                  and not p.is_head and not p.reports]
        rejected = 0
        for p in rng.sample(stable, len(stable)):
            if rejected >= 2 + self.n // 1000:
                break
            held = [g.name for g in p.erp]
            bad = [r for r in (PAY_APPROVE, VENDOR, JE_APPROVE, JE, PO_APPROVE, PO_CREATE, GL_MASTER)
                   if r not in held and _conflicts([*held, r])]
            if not bad:
                continue
            opened = self._time(rng.choice(self.period_days[5:-5]), 9, 17)
            self._ticket(p, p, "Application Access", "ledgerline_erp", bad[0], "Grant", "rejected", p.mgr,
                         approved=None, opened=opened,
                         closed=opened + timedelta(seconds=rng.randrange(3600, 48 * 3600)),
                         state="Closed Incomplete")
            rejected += 1
        if rejected < 2:
            raise RuntimeError("demo generator: not enough candidates for rejected requests")
        pending_pool = [p for d in _NO_SCOPE for p in self.leaves(d) if not p.tags and p.kind == "staff"]
        p = rng.choice(pending_pool or stable)
        self._ticket(p, p, "Application Access", "ledgerline_erp", RO, "Grant", "requested", p.mgr,
                     approved=None, opened=self._time(self.q.d(date(2026, 9, 29)), 9, 17), closed=None, state="Open")

    # -- 8. activity (last logins) -----------------------------------------------------------

    def assign_activity(self) -> None:
        rng = self.rng
        for p in self.people:
            q = self.q
            never = p.kind == "joiner" and p.hire >= q.d(date(2026, 9, 14)) and (
                p.has("J2") or (p.dept != "Engineering" and rng.random() < 0.5))
            if p.term is not None:
                last_day = min(p.term, q.end)
                back = 0 if p.has("T1") or p.has("T2") else 6
                floor = max(p.okta_activated, _at(last_day) - timedelta(days=back) + timedelta(hours=7))
                p.okta_last_login = self._between(floor, _at(last_day) + timedelta(hours=17))
                if p.okta_last_login < p.okta_activated:
                    p.okta_last_login = p.okta_activated + timedelta(minutes=3)
                if p.has("T2"):                # still signs in two business days after leaving
                    p.okta_last_login = self._time(_next_business_day(_next_business_day(p.term)), 8, 18)
            elif p.has("D1"):
                p.okta_last_login = q.t(_DORMANT_OKTA_LOGIN)
            elif never:
                p.okta_last_login = None
                p.okta_status = "PROVISIONED"
            else:
                p.okta_last_login = self._recent(max(p.okta_activated, _at(p.hire) + timedelta(hours=7)))
            # ERP
            if p.erp:
                if p.term is not None:
                    p.erp_last = p.okta_last_login
                elif never and p.erp_created >= q.t(datetime(2026, 9, 7)):
                    p.erp_last = None
                else:
                    p.erp_last = self._recent(p.erp_created)
            # GitHub
            if p.gh:
                p.gh_last = p.okta_last_login if p.term is not None else self._recent(_at(p.hire) + timedelta(hours=8))
            # AWS console
            if p.aws:
                if p.has("D2"):
                    p.iam_pw_used = q.t(_DORMANT_IAM_USE)
                elif p.term is not None:
                    p.iam_pw_used = p.okta_last_login
                elif p.has("J1") or (p.kind == "joiner" and p.iam_created >= q.t(datetime(2026, 9, 7))
                                     and rng.random() < 0.5):
                    p.iam_pw_used = None           # no_information: new, never signed in
                else:
                    p.iam_pw_used = self._recent(p.iam_created)
                p.iam_mfa = not p.has("M1")
                if p.has("power_user") and p is self.power_users[0]:
                    rotated = self._time(q.d(date(2026, 9, 21)), 9, 17)
                    p.iam_key = ("true", rotated, None)          # active, never used
                elif (p.dept == "Engineering" and not p.tags and p.kind == "staff" and rng.random() < 0.2):
                    rotated = self._time(rng.choice([d for d in self.period_days
                                                     if q.d(date(2026, 7, 10)) <= d <= q.d(date(2026, 9, 25))]))
                    p.iam_key = ("true", rotated, self._recent(rotated))
        # one ERP account (and one more per 5,000 people) locked after failed sign-ins: a state,
        # not an exception (the person is employed and signed in recently)
        lockable = [p for p in self.people if p.erp and not p.tags and p.kind == "staff"]
        for p in rng.sample(lockable, min(len(lockable), 1 + self.n // 5000)):
            p.erp_status = "LOCKED"

    # -- 9. ground truth ---------------------------------------------------------------------

    def plant_remediation(self) -> None:
        """The after-review ERP listing, the remediation tasks and their planted cases (no random
        draw, so nothing else of the company changes):

        - every revoke decision has a remediation task, closed when the access was removed, except
          one executed ERP revoke (proven by the after-review listing alone) and one executed AWS or
          GitHub revoke (proven removed by the period-end listing, which gives no removal date, so
          its timeliness cannot be proven);
        - R1's task is closed complete, but both later listings still show the role: not executed;
          R2's task is still open: not executed;
        - in the demo period, one ERP role of a clean staff member is removed after the review
          with no decision, task or termination behind it: an unexplained removal.
        """
        q = self.q
        # the 18th of the quarter's last month, 06:00 UTC (the period files shift it by whole months)
        self.after_review = datetime(q.end.year, q.end.month, 18, 6, 0, 0)
        revokes = sorted((ln for ln in self.lines if ln.decision == "REVOKE"),
                         key=lambda ln: (ln.at, ln.person.email, ln.grant.system, ln.grant.name))
        executed = [ln for ln in revokes if not ln.not_executed]
        by_listing = next((ln for ln in executed if ln.grant.system == "ledgerline_erp"), None)
        undated = next((ln for ln in executed if ln.grant.system != "ledgerline_erp"), None)
        by_log = next((ln for ln in executed if ln.grant.system == "ledgerline_erp" and ln is not by_listing), None)
        r1, r2 = self.not_executed
        self.remediation_tasks = []
        for ln in revokes:
            if ln is by_listing or ln is undated:
                continue
            if ln is r1:
                claimed = _at(ln.at.date() + timedelta(days=1)) + timedelta(hours=10, minutes=4, seconds=12)
                self.remediation_tasks.append((ln, claimed, "Closed Complete"))
            elif ln is r2:
                self.remediation_tasks.append((ln, None, "Open"))
            else:
                self.remediation_tasks.append((ln, ln.grant.end, "Closed Complete"))
        self.removal_truth = []
        for ln, outcome, proof, case in (
                (r1, "not executed", "later listing", "R1: task closed complete, role still held in both later listings"),
                (r2, "not executed", "later listing", "R2: task open, role still held"),
                (by_listing, "executed within SLA", "later listing", "no task: the after-review listing's END_DATE"),
                (by_log, "executed within SLA", "remediation log and later listing", "task closed when removed"),
                (undated, "executed; within SLA cannot be proven from the evidence provided", "later listing",
                 "no task; the point-in-time listing gives no removal date")):
            if ln is not None:
                self.removal_truth.append((ln.person.email.casefold(), ln.grant.system, ln.grant.name, outcome,
                                           proof, case))
        if q.id != DEMO_PERIOD:
            return
        revoked = {id(ln.person) for ln in revokes}
        special = {id(ln.person) for ln in self.lines if ln.protected or ln.undecided}
        for p in self.people:
            if (p.kind != "staff" or p.tags or p.is_head or p.reports or id(p) in revoked or id(p) in special
                    or p.erp_status != "ACTIVE"):
                continue
            held = [g for g in p.erp if g.end is None and g.name not in _PRIVILEGED["ledgerline_erp"]
                    and g.start < _at(q.snapshot)]
            if len([g for g in p.erp if g.end is None]) < 2 or not held:
                continue
            g = held[0]
            g.end = q.t(datetime(2026, 9, 24, 10, 12, 31))
            self._truth("unexplained_removal", p.email, "ledgerline_erp",
                        f"ERP role '{g.name}' of {p.erp_id} held in the after-review listing "
                        f"({_zulu(self.after_review)}) and ended {_local(g.end)} with no revoke decision, "
                        "remediation task or termination behind it.")
            return

    def plant_truth(self) -> None:
        s = self.special
        t1, t2 = s["T1"], s["T2"]
        for p in (t1, t2):
            self._truth("terminated_with_active_access", p.email, "okta",
                        f"Terminated {p.term}; Okta user {p.okta_id} still ACTIVE at extraction "
                        f"(last sign-in {_okta(p.okta_last_login)[:10]}).")
            roles = ", ".join(g.name for g in p.erp if g.end is None)
            self._truth("terminated_with_active_access", p.email, "ledgerline_erp",
                        f"Terminated {p.term}; ERP user {p.erp_id} ACTIVE with role(s) still held: {roles}.")
        self._truth("access_after_termination", t2.email, "okta",
                    f"Terminated {t2.term}; Okta user {t2.okta_id} signed in on {_okta(t2.okta_last_login)}, "
                    "after termination.")
        self._truth("access_after_termination", t2.email, "ledgerline_erp",
                    f"Terminated {t2.term}; ERP user {t2.erp_id} last logged on {_local(t2.erp_last)}, after termination.")
        for tag in ("L1", "L2"):
            p = s[tag]
            days = (p.deact.date() - p.term).days
            self._truth("late_deprovisioning", p.email, "okta",
                        f"Terminated {p.term}; Okta user deactivated {p.deact.date()} ({days} calendar days later; "
                        "SLA: by the next business day).")
        ln = self.self_line
        self._truth("self_review", ln.person.email, ln.grant.system,
                    f"{ln.reviewer.name} reviewed (APPROVE) their own {SYSTEM_NAMES[ln.grant.system]} "
                    f"'{ln.grant.name}' line.")
        for ln in sorted((x for x in self.lines if x.undecided), key=lambda x: (x.person.email, x.grant.system)):
            self._truth("undecided_review_line", ln.person.email, ln.grant.system,
                        f"No decision on {SYSTEM_NAMES[ln.grant.system]} '{ln.grant.name}' "
                        f"(reviewer {ln.reviewer.email}); campaign closed {self.q.t(_CAMPAIGN_COMPLETED).date()}.")
        for ln in self.not_executed:
            self._truth("revocation_not_executed", ln.person.email, "ledgerline_erp",
                        f"{ln.reviewer.email} decided REVOKE of '{ln.grant.name}' on {_zulu(ln.at)}; "
                        f"ERP user {ln.person.erp_id} still holds it at extraction (END_DATE empty).")
        rs_lines = self.rs_lines
        if len(rs_lines) < 40:
            raise RuntimeError(f"demo generator: the rubber-stamper has only {len(rs_lines)} lines")
        gaps = [(b.at - a.at).total_seconds() for a, b in zip(rs_lines, rs_lines[1:])]
        self._truth("rubber_stamping", self.rs.email, "ledgerline_erp",
                    f"Approved {len(rs_lines)} of {len(rs_lines)} lines on {self.q.d(_RUBBER_STAMP_DAY)} between "
                    f"{_zulu(rs_lines[0].at)[11:19]} and {_zulu(rs_lines[-1].at)[11:19]} UTC, "
                    f"{int(min(gaps))}-{int(max(gaps))} s apart.")
        t1_line = next(x for x in rs_lines if x.person is t1)
        self._truth("approved_terminated_user", t1.email, "ledgerline_erp",
                    f"{self.rs.email} approved '{t1_line.grant.name}' on {t1_line.at.date()}, "
                    f"after termination on {t1.term}.")
        for tag in ("S1", "S2") if self.q.end > _S2_MITIGATION_VALID_TO else ("S1",):
            p = s[tag]
            held = [g.name for g in p.erp if g.end is None]
            rules = _conflicts(held)
            self._truth("sod_conflict", p.email, "ledgerline_erp",
                        f"ERP user {p.erp_id} holds {' + '.join(r for r in held if r != RO)} "
                        f"(rule {', '.join(rules)}).")
        x1 = s["X1"]
        self._truth("sod_attribute_conflict", x1.email, "ledgerline_erp",
                    f"ERP user {x1.erp_id} ({x1.dept}, {x1.title}) holds '{PAY_APPROVE}'; payment approval is reserved "
                    "to Accounts Payable and Finance (attribute rule SOD-ATTR-01).")
        self._truth("orphan_account", "TEMPFIN01", "ledgerline_erp",
                    "ERP user TEMPFIN01 (no e-mail, no HR person) holds 'AP Payment Run'; not in the campaign.")
        self._truth("orphan_account", self.gh_orphan, "github",
                    f"GitHub member {self.gh_orphan} has no verified {DEMO_DOMAIN} e-mail and matches no HR person.")
        # the same two accounts are signed in to interactively (and match no svc- pattern): nobody
        # accountable stands behind their sign-ins, an authentication exception of its own
        self._truth("shared_or_generic_account", "TEMPFIN01", "ledgerline_erp",
                    "ERP user TEMPFIN01 (Temp Finance 01, no HR person) signed in 2-3 days before extraction.")
        self._truth("shared_or_generic_account", self.gh_orphan, "github",
                    f"GitHub member {self.gh_orphan} (no HR person) was active 4 days before extraction.")
        d1, d2 = s["D1"], s["D2"]
        self._truth("dormant_account", d1.email, "okta",
                    f"Okta user ACTIVE, last sign-in {_okta(d1.okta_last_login)} (> 90 days before {self.q.end}).")
        self._truth("dormant_account", d2.iam, "aws_prod",
                    f"IAM user {d2.iam} with console password, last used {_aws(d2.iam_pw_used)} "
                    f"(> 90 days before {self.q.end}).")
        self._truth("mfa_not_enabled", s["M1"].email, "aws_prod",
                    f"IAM user {s['M1'].iam}: password_enabled true, mfa_active false.")
        for tag in ("W1", "W2"):
            p = s[tag]
            role = next(t for t in p.tags if t.startswith(tag + ":")).split(":", 1)[1]
            grant = next(g for g in p.erp if g.name == role)
            self._truth("access_without_approval", p.email, "ledgerline_erp",
                        f"'{role}' assigned to {p.erp_id} on {_local(grant.start)} with no ServiceNow request.")
        p1 = s["P1"]
        self._truth("privileged_drift", p1.email, "aws_prod",
                    f"IAM user {p1.iam} is in group Administrators but not on the approved privileged access list.")
        self.plant_remediation()
        self.truth.sort()
        counts: dict[str, int] = {}
        for row in self.truth:
            counts[row[0]] = counts.get(row[0], 0) + 1
        expected = expected_truth_counts(self.q.id)
        if counts != expected:
            raise RuntimeError(f"demo generator: planted counts {counts} differ from {expected}")

    # -- 10. rendering -----------------------------------------------------------------------

    def build(self) -> dict[str, list[list[str]]]:
        self.build_org()
        self.choose_roles()
        self.assign_dates()
        self.assign_identities()
        self.activate_quarter()
        self.build_accounts()
        self.process_leavers()
        self.assign_activity()
        self.build_campaign()
        self.build_tickets()
        self.gh_orphan = "PixelHarbor-Dev"
        self.plant_truth()
        return {
            "hr/workday_workers.csv": self.render_hr(),
            "idp/okta_users.csv": self.render_okta_users(),
            "idp/okta_app_assignments.csv": self.render_assignments(),
            "apps/ledgerline_erp_user_roles.csv": self.render_erp(),
            "apps/github_org_members.csv": self.render_github(),
            "cloud/aws_iam_credential_report.csv": self.render_credential_report(),
            "cloud/aws_iam_group_memberships.csv": self.render_groups(),
            f"reviews/uar_{self.q.compact}_decisions.csv": self.render_decisions(),
            f"reviews/uar_{self.q.compact}_campaign_status.csv": self.render_campaign_status(),
            "tickets/servicenow_access_requests.csv": self.render_tickets(),
            "policy/sod_rules.csv": self.render_sod_rules(),
            "policy/privileged_access_approved.csv": self.render_privileged(),
            "policy/sod_mitigations.csv": self.render_mitigations(),
            "apps/ledgerline_erp_user_roles_after_review.csv": self.render_erp(self.after_review),
            "tickets/servicenow_remediation_tasks.csv": self.render_remediation_tasks(),
            "ground_truth.csv": [list(row) for row in self.truth],
            "removal_truth.csv": [list(row) for row in self.removal_truth],
        }

    def render_hr(self) -> list[list[str]]:
        rows = []
        for p in self.people:
            term = _iso_day(p.term)
            rows.append([p.emp_id, p.name, p.hr_email, p.title, p.dept, p.mgr.emp_id if p.mgr else "",
                         p.cost_center, p.hire.isoformat(), "Terminated" if p.term else "Active", term, term,
                         p.reason, p.rehire])
        rows.sort(key=lambda r: r[0])
        return rows

    def render_okta_users(self) -> list[list[str]]:
        rng = self.rng
        rows = []
        for p in self.people:
            last = p.okta_last_login
            if p.okta_status == "DEPROVISIONED":
                status_changed = p.deact
            elif p.okta_status == "PROVISIONED":
                status_changed = p.okta_created
            else:
                status_changed = p.okta_activated
            activated = None if p.okta_status == "PROVISIONED" else p.okta_activated
            if last is None:
                pw_changed = None
            else:
                low = max(p.okta_activated, last - timedelta(days=150))
                pw_changed = self._between(low, last)
            updated = max(x for x in (status_changed, pw_changed, p.okta_activated) if x is not None)
            if p.okta_status == "ACTIVE" and rng.random() < 0.3:
                updated = self._between(updated, self.q.extracted - timedelta(hours=2))
            rows.append([p.okta_id, p.okta_status, _okta(p.okta_created), _okta(activated), _okta(status_changed),
                         _okta(last), _okta(updated), _okta(pw_changed), p.email, p.email, p.first, p.last,
                         p.emp_id])
        rows.sort(key=lambda r: r[8])
        return rows

    def render_assignments(self) -> list[list[str]]:
        rng = self.rng
        rows = []
        for p in self.people:
            if p.kind == "early_leaver":
                continue
            unassigned = p.deact

            def app_login_time(t: datetime | None, p: _Person = p) -> datetime | None:
                if t is None:
                    return None
                return t - timedelta(seconds=rng.randrange(0, 4 * 3600)) if t > p.okta_activated + timedelta(hours=5) else t

            base = p.okta_created + timedelta(seconds=rng.randrange(60, 900))
            if p.slack:
                rows.append([p.name, p.email, "Slack", "harborlane_slack", p.email, _okta(base), _okta(unassigned),
                             _okta(app_login_time(p.okta_last_login)), ""])
            if p.google:
                rows.append([p.name, p.email, "Google Workspace", "harborlane_google_workspace", p.email,
                             _okta(base), _okta(unassigned), _okta(app_login_time(p.okta_last_login)), ""])
            if p.erp:
                rows.append([p.name, p.email, SYSTEM_NAMES["ledgerline_erp"], "ledgerline_erp_prod", p.erp_id,
                             _okta(p.erp_created), _okta(unassigned), _okta(p.erp_last), ""])
            if p.aws:
                rows.append([p.name, p.email, SYSTEM_NAMES["aws_prod"], f"aws_prod_{_AWS_ACCOUNT}", p.iam,
                             _okta(p.iam_created), _okta(unassigned), _okta(p.iam_pw_used), ""])
            if p.gh:
                g = p.gh[0]
                removed = unassigned if unassigned is not None else g.end
                rows.append([p.name, p.email, SYSTEM_NAMES["github"], "harborlane_github_org", p.gh_login,
                             _okta(g.start), _okta(removed), _okta(p.gh_last), ""])
        rows.sort(key=lambda r: (r[1], r[2]))
        return rows

    def render_erp(self, at: datetime | None = None) -> list[list[str]]:
        """The ERP security listing as extracted at the period end, or (``at``) as the after-review
        extraction showed it: roles assigned by then, end dates reached by then, the account's
        status then (an account disabled later was still active). Uses no random draw."""
        extracted = self.q.extracted if at is None else at
        rows = []
        for p in self.people:
            if not p.erp:
                continue
            status = p.erp_status
            if at is not None and status == "DISABLED" and (p.deact is None or p.deact > at):
                status = "ACTIVE"
            for g in p.erp:
                if g.end is not None and g.end < self.q.period_start:
                    continue
                if at is not None and g.start > at:
                    continue
                end = g.end if at is None or (g.end is not None and g.end <= at) else None
                last = p.erp_last if at is None or (p.erp_last is not None and p.erp_last <= at) else None
                rows.append([p.erp_id, p.name, p.erp_email, g.name, _local(g.start), _local(end),
                             status, _local(last), _local(p.erp_created)])
        # orphan: a temporary account for the Q1 close that nobody owns in HR (in both quarters)
        created = datetime(2026, 3, 23, 10, 14, 3)
        rows.append(["TEMPFIN01", "Temp Finance 01", "", PAY_RUN, "2026-03-23 10:31:47", "", "ACTIVE",
                     _local(extracted - timedelta(days=2, hours=17, minutes=21)), _local(created)])
        # one account locked after failed sign-ins (a state, not an exception)
        rows.sort(key=lambda r: (r[0], r[3], r[4]))
        return rows

    def render_remediation_tasks(self) -> list[list[str]]:
        """The review's remediation tasks (ServiceNow catalog tasks), one per revoke decision except
        the planted omissions; R1's task claims a removal the listings show was never made."""
        rows = []
        for i, (ln, closed, state) in enumerate(self.remediation_tasks):
            p, g = ln.person, ln.grant
            account = {"ledgerline_erp": p.erp_id, "aws_prod": p.iam, "github": p.gh_login}[g.system]
            admin = self.it_admins[0].email
            rows.append([f"SCTASK{20_001 + i:07d}", f"Access review remediation: remove {g.name}",
                         SYSTEM_NAMES[g.system], p.email, account, g.name, state, admin, _local(closed),
                         admin if closed is not None else ""])
        return rows

    def render_github(self) -> list[list[str]]:
        rng = self.rng
        rows = []
        for p in self.people:
            for g in p.gh:
                if g.end is not None:
                    continue
                emails = p.email
                if rng.random() < 0.03:
                    emails = f"{p.email};{p.first.lower()}@{DEMO_DOMAIN}"
                name = p.name if rng.random() < 0.93 else ""
                rows.append([p.gh_login, name, g.name, "true", "public" if rng.random() < 0.3 else "private",
                             _zulu(p.gh_last), emails])
        rows.append([self.gh_orphan, "", "member", "true", "private",
                     _zulu(self.q.extracted - timedelta(days=4, hours=3, minutes=12)), ""])
        rows.sort(key=lambda r: r[0].casefold())
        return rows

    def render_credential_report(self) -> list[list[str]]:
        rng = self.rng
        na4 = ["N/A", "N/A", "N/A", "N/A"]
        rows = []
        for p in self.people:
            if not p.aws or p.term is not None and p.deact is not None:
                continue                       # leavers' IAM users were deleted
            created = p.iam_created
            if p.iam_pw_used is None:
                used, changed = "no_information", created + timedelta(seconds=rng.randrange(30, 300))
            else:
                used = _aws(p.iam_pw_used)
                changed = self._between(max(created, p.iam_pw_used - timedelta(days=200)), p.iam_pw_used)
            key1 = ["false", *na4]
            if p.iam_key is not None:
                active, rotated, last = p.iam_key
                key1 = [active, _aws(rotated), "N/A", "N/A", "N/A"] if last is None else \
                    [active, _aws(rotated), _aws(last), rng.choice(_REGIONS), rng.choice(_SERVICES)]
            rows.append([p.iam, f"arn:aws:iam::{_AWS_ACCOUNT}:user/{p.iam}", _aws(created), "true", used,
                         _aws(changed), "N/A", "true" if p.iam_mfa else "false", *key1, "false", *na4,
                         "false", "N/A", "false", "N/A"])
        # service users: access keys, no console password (recognised by the svc- prefix)
        services = (
            ("svc-ci-deploy", datetime(2021, 4, 12, 15, 2, 41), "ecr", True),
            ("svc-terraform", datetime(2020, 9, 1, 10, 44, 19), "sts", False),
            ("svc-backup", datetime(2022, 2, 14, 8, 30, 5), "s3", False),
            ("svc-monitoring", datetime(2023, 5, 8, 12, 11, 52), "cloudwatch", False),
            ("svc-ledgerline-export", datetime(2024, 1, 22, 16, 40, 33), "s3", False),
        )
        for name, created, service, second_key in services:
            q = self.q
            rotated = self._time(rng.choice([d for d in self.period_days if q.d(date(2026, 7, 13)) <= d <= q.d(date(2026, 9, 18))]))
            used = q.extracted - timedelta(seconds=rng.randrange(600, 36 * 3600))
            key1 = ["true", _aws(rotated), _aws(used), "us-east-1", service]
            key2 = ["false", *na4]
            if second_key:      # the previous key, deactivated at rotation and kept for rollback
                old = rotated - timedelta(days=97)
                key2 = ["false", _aws(old), _aws(rotated - timedelta(hours=2)), "us-east-1", service]
            rows.append([name, f"arn:aws:iam::{_AWS_ACCOUNT}:user/{name}", _aws(created), "false", "N/A", "N/A",
                         "N/A", "false", *key1, *key2, "false", "N/A", "false", "N/A"])
        rows.sort(key=lambda r: r[0].casefold())
        root = ["<root_account>", f"arn:aws:iam::{_AWS_ACCOUNT}:root", "2019-02-11T18:02:44+00:00",
                "not_supported", "no_information", "not_supported", "not_supported", "true", "false", *na4,
                "false", *na4, "false", "N/A", "false", "N/A"]
        return [root, *rows]

    def render_groups(self) -> list[list[str]]:
        rows = []
        for p in self.people:
            for g in p.aws:
                if g.end is None:
                    rows.append([g.name, p.iam, f"arn:aws:iam::{_AWS_ACCOUNT}:user/{p.iam}"])
        rows.sort(key=lambda r: (r[0], r[1].casefold()))
        return rows

    def _campaign_ids(self) -> None:
        rng = self.rng
        self.campaign_id = f"2c9180{rng.getrandbits(104):026x}"
        self.cert_ids: dict[int, str] = {}
        for ln in sorted(self.lines, key=lambda x: (x.reviewer.email, x.reviewer.idx)):
            if ln.reviewer.idx not in self.cert_ids:
                self.cert_ids[ln.reviewer.idx] = f"{rng.getrandbits(128):032x}"

    def render_decisions(self) -> list[list[str]]:
        self._campaign_ids()
        rows = []
        for ln in self.lines:
            g = ln.grant
            privileged = "true" if g.name in _PRIVILEGED[g.system] else "false"
            rows.append([self.campaign_id, self.campaign_name, self.cert_ids[ln.reviewer.idx], ln.reviewer.name,
                         ln.reviewer.hr_email, ln.person.name, ln.person.hr_email, SYSTEM_NAMES[g.system],
                         "ROLE" if g.system == "github" else "ENTITLEMENT", g.name, privileged,
                         ln.decision, _zulu(ln.at), ln.comment])
        rows.sort(key=lambda r: (r[4].casefold(), r[6].casefold(), r[7], r[9]))
        return rows

    def render_campaign_status(self) -> list[list[str]]:
        total = len(self.lines)
        decided = sum(1 for ln in self.lines if ln.decision)
        q = self.q
        created = _at(q.snapshot) + (_CAMPAIGN_CREATED - _at(QUARTERS[DEMO_PERIOD].snapshot))
        return [[self.campaign_id, self.campaign_name, "MANAGER", _zulu(created), _zulu(q.t(_CAMPAIGN_ACTIVATED)),
                 _zulu(q.t(_CAMPAIGN_DEADLINE)), "COMPLETED", _zulu(q.t(_CAMPAIGN_COMPLETED)), str(total), str(decided),
                 self.ciso.email, _zulu(q.t(_CAMPAIGN_SIGNED_OFF))]]

    @property
    def campaign_name(self) -> str:
        return f"{self.q.label} User Access Review"

    def render_tickets(self) -> list[list[str]]:
        ordered = sorted(self.tickets, key=lambda t: (t[0], t[1], t[5]))
        rows = []
        for i, (opened, who, opener, item, app, ent, action, approval, approver, approved, closed, state) in \
                enumerate(ordered):
            rows.append([f"RITM{10_001 + i:07d}", who, opener, item, app, ent, action, approval, approver,
                         _local(approved), _local(opened), _local(closed), state])
        return rows

    def render_sod_rules(self) -> list[list[str]]:
        return [[rid, "ledgerline_erp", fa, ";".join(a), fb, ";".join(b), risk, desc]
                for rid, fa, a, fb, b, risk, desc in _SOD_RULES]

    def render_privileged(self) -> list[list[str]]:
        rng = self.rng
        rows = []
        for system, account, entitlement, start, p in self.privileged_holders:
            approver = self.ceo if p is self.ciso else self.ciso
            approved_on = (start - timedelta(days=rng.randrange(1, 10))).date()
            expires = rng.choice((date(2026, 12, 31), date(2027, 3, 31), date(2027, 6, 30)))
            rows.append([system, account, entitlement, approver.email, approved_on.isoformat(), expires.isoformat()])
        rows.sort(key=lambda r: (r[0], r[1].casefold(), r[2]))
        return rows

    def render_mitigations(self) -> list[list[str]]:
        """The SoD mitigation register: one valid mitigation (V1) and one that expired before the period end (S2)."""
        v1, s2 = self.special["V1"], self.special["S2"]
        return [
            ["MIT-0001", "SOD-03", v1.erp_id, "Monthly review by the Controller of every GL master data change "
             "(report GL-MD-07), signed and retained", self.cfo.email, "2026-01-01", "2026-12-31"],
            ["MIT-0002", "SOD-02", s2.erp_id, "Weekly review of purchase orders created and approved by the same user "
             "(report PO-SELF-01)", self.cfo.email, "2025-07-01", _S2_MITIGATION_VALID_TO.isoformat()],
        ]
