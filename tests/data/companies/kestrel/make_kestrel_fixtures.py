"""Write the exports of Kestrel Freight Ltd for 2026-Q3 (tests/data/companies/kestrel/exports).

The second fixture company of the workbench: not the demo generator, a small fictional company whose
own exports come in the shapes of the products that write them (see NOTES.md in this folder for
each file's shape, its canonical table and every compromise made to join them). The cast is the one
of tests/data/byo (make_byo_fixtures.py, SOURCES.md): 22 people, e-mail domain
kestrelfreight.example, a UK logistics firm. Every planted exception is listed in answer_key.csv;
the period file kestrel-2026-Q3.yaml reads these files as they are (no file is retyped).

Text files are written byte by byte (delimiter, quoting, line endings and encoding are part of the
shape); the .xlsx files with openpyxl and fixed zip timestamps, so reruns give identical bytes.
Run from anywhere with the project's Python: ``python make_kestrel_fixtures.py [OUT_DIR]``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).parent
OUT = HERE / "exports" / "2026-Q3"
DOMAIN = "kestrelfreight.example"
LONDON = ZoneInfo("Europe/London")
UTC = dt.UTC
D = dt.date
T = dt.datetime


# --------------------------------------------------------------------------------------------
# The cast (tests/data/byo/make_byo_fixtures.py), with what this quarter's files need.
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Person:
    emp: str
    first: str
    last: str
    local: str            # local part of the work e-mail
    title: str
    dept: str
    manager: str          # manager's employee number ("" at the top)
    hire: dt.date
    term: dt.date | None = None
    sap: str = ""         # SAP user (SU01), also the application login in Okta's SAP app

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def email(self) -> str:
        return f"{self.local}@{DOMAIN}"


PEOPLE = [
    Person("1001", "Harriet", "Okafor", "harriet.okafor", "Chief Financial Officer", "Finance", "1020",
           D(2019, 3, 4), sap="HOKAFOR"),
    Person("1002", "Tomasz", "Wiśniewski", "tomasz.wisniewski", "Financial Controller", "Finance", "1001",
           D(2021, 1, 11), sap="TWISNIEWSKI"),
    Person("1003", "Priya", "Raman", "priya.raman", "AP Clerk", "Finance", "1004", D(2021, 6, 14), sap="PRAMAN"),
    Person("1004", "Declan", "Murphy", "declan.murphy", "AP Supervisor", "Finance", "1002", D(2018, 5, 2),
           sap="DMURPHY"),
    Person("1005", "Sofia", "Almeida", "sofia.almeida", "GL Accountant", "Finance", "1002", D(2020, 9, 7),
           sap="SALMEIDA"),
    Person("1006", "Marcus", "Bell", "marcus.bell", "IT Director", "Technology", "1020", D(2017, 2, 15),
           sap="MBELL"),
    Person("1007", "Aisling", "O'Neill", "aisling.oneill", "Systems Administrator", "Technology", "1006",
           D(2022, 7, 3), sap="AONEILL"),
    Person("1008", "Ben", "Carter", "ben.carter", "Warehouse Manager", "Operations", "1020", D(2016, 8, 20),
           term=D(2026, 6, 30), sap="BCARTER"),
    Person("1009", "Chloe", "Dubois", "chloe.dubois", "Payroll Specialist", "People", "1011", D(2023, 3, 9),
           term=D(2026, 8, 15), sap="CDUBOIS"),
    Person("1010", "Raj", "Patel", "raj.patel", "Procurement Buyer", "Operations", "1008", D(2022, 4, 12),
           sap="RPATEL"),
    Person("1011", "Emma", "Lindqvist", "emma.lindqvist", "HR Business Partner", "People", "1020",
           D(2019, 10, 1), sap="ELINDQVIST"),
    Person("1012", "Oliver", "Grant", "oliver.grant", "SAP Basis Consultant (contract)", "Technology", "1006",
           D(2025, 1, 6), sap="OGRANT"),
    Person("1013", "Nadia", "Haddad", "nadia.haddad", "Logistics Analyst", "Operations", "1008", D(2021, 11, 18)),
    Person("1014", "Jack", "Thompson", "jack.thompson", "Dispatcher", "Operations", "1008", D(2023, 5, 22),
           term=D(2026, 7, 10), sap="JTHOMPSON"),
    Person("1015", "Grace", "Kim", "grace.kim", "Treasury Analyst", "Finance", "1001", D(2024, 5, 5), sap="GKIM"),
    Person("1016", "Liam", "Walsh", "liam.walsh", "Service Desk Analyst", "Technology", "1007", D(2023, 2, 13)),
    Person("1017", "Fatima", "Zahra", "fatima.zahra", "Internal Auditor", "Internal Audit", "1001",
           D(2025, 1, 27), sap="FZAHRA"),
    Person("1018", "Owen", "Price", "owen.price", "Security Engineer", "Technology", "1006", D(2022, 8, 8)),
    Person("1019", "Zoe", "Adams", "zoe.adams", "Sales Operations Analyst", "Commercial", "1020", D(2026, 8, 3)),
    Person("1020", "Ethan", "Brooks", "ethan.brooks", "Chief Executive Officer", "Executive", "", D(2015, 6, 1)),
    Person("1021", "Leo", "Marchetti", "leo.marchetti", "Warehouse Manager", "Operations", "1020",
           D(2026, 10, 12)),
    Person("1022", "Hannah", "Reid", "hannah.reid", "Customer Service Advisor", "Commercial", "1019",
           D(2024, 2, 19), term=D(2026, 4, 30)),
]
BY_FIRST = {p.first: p for p in PEOPLE}
BY_EMP = {p.emp: p for p in PEOPLE}


def P(first: str) -> Person:
    return BY_FIRST[first]


# --------------------------------------------------------------------------------------------
# Writing helpers
# --------------------------------------------------------------------------------------------

def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    shown = path.relative_to(HERE) if path.is_relative_to(HERE) else path
    print(f"wrote {shown} ({len(data)} bytes)")


def csv_field(value: str, sep: str = ",", always: bool = False) -> str:
    """RFC 4180 quoting: quote when needed (or always), double embedded quotes."""
    if always or any(c in value for c in (sep, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_text(rows: list[list[str]], sep: str = ",", always: bool = False, eol: str = "\n") -> str:
    return "".join(sep.join(csv_field(v, sep, always) for v in row) + eol for row in rows)


def london(value: dt.datetime) -> dt.datetime:
    """A naive London wall-clock time as an aware UTC time."""
    return value.replace(tzinfo=LONDON).astimezone(UTC)


def hexid(seed: str, n: int) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


# --------------------------------------------------------------------------------------------
# 1. BambooHR custom report (CSV), built without the Status / Employment Status columns
# --------------------------------------------------------------------------------------------

def bamboohr() -> None:
    """BambooHR "Reports > Custom report > Export CSV": comma, minimal quoting, LF, UTF-8 without
    BOM, dates in the company's setting (dd/mm/yyyy, a UK tenant). The report was built without
    the status columns, so Termination Date is the only leaver signal. "Reporting to" is the
    manager's display name; "Supervisor EID" the manager's employee number (BambooHR field
    supervisorEId)."""
    header = ["Employee #", "Last Name, First Name", "Work Email", "Job Title", "Department",
              "Reporting to", "Supervisor EID", "Hire Date", "Termination Date"]
    rows = [header]
    for p in PEOPLE:
        manager = BY_EMP[p.manager].name if p.manager else ""
        rows.append([p.emp, f"{p.last}, {p.first}", p.email, p.title, p.dept, manager, p.manager,
                     p.hire.strftime("%d/%m/%Y"), p.term.strftime("%d/%m/%Y") if p.term else ""])
    write_bytes(OUT / "hr" / "bamboohr_employees_custom_report_20260930.csv",
                csv_text(rows).encode("utf-8"))


# --------------------------------------------------------------------------------------------
# 2. Okta: users (Users API, flattened) and the Current Assignments report
# --------------------------------------------------------------------------------------------

def okta_ts(value: dt.datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z") if value else ""


# status, created, statusChanged, lastLogin (UTC)
OKTA_USERS = {
    "Harriet": ("ACTIVE", T(2019, 3, 4, 8), None, T(2026, 9, 29, 8, 2)),
    "Tomasz": ("ACTIVE", T(2021, 1, 11, 8), None, T(2026, 9, 30, 7, 55)),
    "Priya": ("ACTIVE", T(2021, 6, 14, 8), None, T(2026, 9, 30, 8, 31)),
    "Declan": ("ACTIVE", T(2018, 5, 2, 8), None, T(2026, 9, 28, 9, 12)),
    "Sofia": ("ACTIVE", T(2020, 9, 7, 8), None, T(2026, 9, 24, 10, 40)),
    "Marcus": ("ACTIVE", T(2017, 2, 15, 8), None, T(2026, 9, 30, 6, 58)),
    "Aisling": ("ACTIVE", T(2022, 7, 3, 8), None, T(2026, 9, 29, 16, 5)),
    "Ben": ("ACTIVE", T(2016, 8, 22, 8), None, T(2026, 7, 14, 8, 40)),          # left 30/06, still active
    "Chloe": ("DEPROVISIONED", T(2023, 3, 9, 8), T(2026, 8, 15, 16, 30), T(2026, 8, 15, 11, 20)),
    "Raj": ("ACTIVE", T(2022, 4, 12, 8), None, T(2026, 9, 29, 7, 44)),
    "Emma": ("ACTIVE", T(2019, 10, 1, 8), None, T(2026, 9, 25, 13, 3)),
    "Oliver": ("ACTIVE", T(2025, 1, 6, 9), None, T(2026, 5, 28, 15, 10)),       # dormant since May
    "Nadia": ("ACTIVE", T(2021, 11, 18, 8), None, T(2026, 9, 30, 8, 15)),
    "Jack": ("DEPROVISIONED", T(2023, 5, 22, 8), T(2026, 7, 24, 9, 0), T(2026, 7, 22, 19, 5)),
    "Grace": ("ACTIVE", T(2024, 5, 5, 8), None, T(2026, 9, 30, 9, 2)),
    "Liam": ("ACTIVE", T(2023, 2, 13, 8), None, T(2026, 9, 29, 8, 0)),
    "Fatima": ("ACTIVE", T(2025, 1, 27, 8), None, T(2026, 9, 22, 11, 48)),
    "Owen": ("ACTIVE", T(2022, 8, 8, 8), None, T(2026, 9, 30, 5, 12)),
    "Zoe": ("ACTIVE", T(2026, 7, 28, 9), None, T(2026, 9, 30, 8, 49)),
    "Ethan": ("ACTIVE", T(2015, 6, 1, 8), None, T(2026, 9, 26, 18, 20)),
    "Leo": ("STAGED", T(2026, 9, 18, 9), None, None),                           # starts 12/10, not used
    "Hannah": ("DEPROVISIONED", T(2024, 2, 19, 8), T(2026, 4, 30, 17, 0), T(2026, 4, 30, 12, 0)),
}


def okta_id(p: Person) -> str:
    return "00u" + hexid("okta|" + p.email, 17)


def okta_users() -> None:
    """Okta Users API objects flattened to CSV (profile.* columns): the workbench's okta_users
    shape. ISO 8601 UTC with milliseconds and Z; lastLogin empty when never signed in."""
    header = ["id", "status", "created", "activated", "statusChanged", "lastLogin", "lastUpdated",
              "passwordChanged", "profile.login", "profile.email", "profile.firstName",
              "profile.lastName", "profile.employeeNumber"]
    rows = [header]
    for p in PEOPLE:
        status, created, changed, last = OKTA_USERS[p.first]
        created = created.replace(tzinfo=UTC)
        activated = "" if status == "STAGED" else okta_ts(created + dt.timedelta(minutes=5))
        changed = changed.replace(tzinfo=UTC) if changed else None
        last = last.replace(tzinfo=UTC) if last else None
        updated = max(x for x in (created, changed, last) if x is not None)
        password = "" if status == "STAGED" else okta_ts(created + dt.timedelta(days=30))
        rows.append([okta_id(p), status, okta_ts(created), activated, okta_ts(changed), okta_ts(last),
                     okta_ts(updated), password, p.email, p.email, p.first, p.last, p.emp])
    write_bytes(OUT / "idp" / "okta_users_20261001.csv", csv_text(rows).encode("utf-8"))


# SAP app: (assigned on, unassigned on, last login), application login = SAP user. UTC.
SAP_APP = {
    "Harriet": (T(2019, 3, 4, 9), None, T(2026, 9, 29, 8, 10)),
    "Tomasz": (T(2021, 1, 11, 9), None, T(2026, 9, 30, 8, 0)),
    "Priya": (T(2021, 6, 14, 9), None, T(2026, 9, 30, 8, 35)),
    "Declan": (T(2018, 5, 2, 9), None, T(2026, 9, 28, 9, 20)),
    "Sofia": (T(2020, 9, 7, 9), None, T(2026, 9, 24, 10, 45)),
    "Marcus": (T(2026, 7, 5, 22, 30), None, T(2026, 9, 17, 13, 0)),
    "Aisling": (T(2026, 7, 14, 22, 15), None, T(2026, 9, 29, 16, 10)),
    "Ben": (T(2016, 8, 22, 9), None, T(2026, 7, 14, 8, 44)),
    "Chloe": (T(2023, 3, 9, 9), T(2026, 8, 15, 16, 30), T(2026, 8, 15, 10, 2)),
    "Raj": (T(2022, 4, 12, 9), None, T(2026, 9, 29, 7, 50)),
    "Emma": (T(2026, 8, 16, 22, 5), None, T(2026, 9, 25, 13, 10)),
    "Oliver": (T(2025, 1, 6, 10), None, T(2026, 5, 28, 15, 12)),                 # dormant since May
    "Jack": (T(2023, 5, 22, 9), T(2026, 7, 24, 9, 0), T(2026, 7, 9, 14, 30)),
    "Grace": (T(2024, 5, 5, 9), None, T(2026, 9, 30, 9, 5)),
    "Fatima": (T(2025, 1, 27, 9), None, T(2026, 9, 22, 11, 50)),
}


# AWS app (AWS Account Federation, SAML, read-only console role): Okta username as the app login.
AWS_APP = {
    "Grace": (T(2025, 2, 3, 9), None, T(2026, 9, 18, 15, 40)),
    "Chloe": (T(2024, 4, 2, 9), T(2026, 8, 15, 16, 30), T(2026, 8, 12, 9, 55)),
}


def okta_assignments() -> None:
    """Okta "Current Assignments" report (CSV): one row per user x application, with the
    application username ("Application login") and the unassignment time of removed
    assignments. The SAP app's username is the SAP user (SU01), which is how SAP's own listing
    is tied to a person; Microsoft 365 uses the e-mail and is not a system of the period. The AWS
    app (AWS Account Federation: a read-only console role over SAML) is assigned to two Finance
    users besides the IAM users of the credential report; its app login is the Okta username."""
    header = ["User", "Login", "Application name", "Application instance", "Application login",
              "Assigned on", "Unassigned on", "Last login", "Last password change"]
    rows = [header]
    for p in PEOPLE:
        status, created, changed, last = OKTA_USERS[p.first]
        if p.first in SAP_APP:
            assigned, unassigned, used = SAP_APP[p.first]
            rows.append([p.name, p.email, "SAP S/4HANA PRD", "sap_s4_prd_saml", p.sap,
                         okta_ts(assigned.replace(tzinfo=UTC)),
                         okta_ts(unassigned.replace(tzinfo=UTC) if unassigned else None),
                         okta_ts(used.replace(tzinfo=UTC)), ""])
        if p.first in AWS_APP:
            assigned, unassigned, used = AWS_APP[p.first]
            rows.append([p.name, p.email, "AWS (kf-prod)", "amazon_aws_kf_prod", p.email,
                         okta_ts(assigned.replace(tzinfo=UTC)),
                         okta_ts(unassigned.replace(tzinfo=UTC) if unassigned else None),
                         okta_ts(used.replace(tzinfo=UTC)), ""])
        m365_assigned = created.replace(tzinfo=UTC) + dt.timedelta(minutes=10)
        m365_unassigned = changed.replace(tzinfo=UTC) if changed else None
        m365_used = last.replace(tzinfo=UTC) if last else None
        rows.append([p.name, p.email, "Microsoft 365", "office365_kestrelfreight", p.email,
                     okta_ts(m365_assigned), okta_ts(m365_unassigned), okta_ts(m365_used), ""])
    write_bytes(OUT / "idp" / "okta_current_assignments_20261001.csv", csv_text(rows).encode("utf-8"))


# --------------------------------------------------------------------------------------------
# 3. SAP AGR_USERS (SE16N, Export > Local file > Text with Tabs)
# --------------------------------------------------------------------------------------------

# (client, role, user, from, to, composite child, changed at (London wall clock))
AGR_USERS = [
    ("100", "Z_DISPLAY_ALL", "FZAHRA", D(2025, 1, 27), None, "", T(2025, 1, 27, 10, 2, 13)),
    ("100", "Z_FI_AP_INVOICE", "PRAMAN", D(2021, 6, 14), None, "", T(2021, 6, 14, 9, 12, 44)),
    ("100", "Z_FI_AP_PAYMENT_RUN", "PRAMAN", D(2026, 7, 3), None, "", T(2026, 7, 3, 16, 38, 2)),
    ("100", "Z_MM_VENDOR_MAINT", "PRAMAN", D(2026, 7, 8), None, "", T(2026, 7, 8, 14, 2, 51)),
    ("100", "Z_FI_AP_SUPERVISOR", "DMURPHY", D(2018, 5, 2), None, "", T(2018, 5, 2, 11, 20)),
    ("100", "Z_FI_AP_PAYMENT_RUN", "DMURPHY", D(2018, 5, 2), None, "", T(2018, 5, 2, 11, 20)),
    ("100", "Z_FI_GL_POST", "SALMEIDA", D(2020, 9, 7), None, "", T(2020, 9, 7, 8, 45, 31)),
    ("100", "Z_FI_GL_MASTER", "SALMEIDA", D(2026, 7, 21), None, "", T(2026, 7, 21, 17, 55, 9)),
    ("100", "Z_FI_GL_POST", "FZAHRA", D(2026, 7, 3), None, "", T(2026, 7, 3, 9, 10, 27)),
    ("100", "Z_FI_GL_MASTER", "HOKAFOR", D(2019, 3, 4), None, "", T(2019, 3, 4, 13, 0, 12)),
    ("100", "Z_FI_CONTROLLER", "TWISNIEWSKI", D(2021, 1, 11), None, "", T(2021, 1, 11, 10, 30)),
    ("100", "Z_FI_GL_MASTER", "TWISNIEWSKI", D(2021, 1, 11), None, "X", T(2021, 1, 11, 10, 30)),
    ("100", "Z_FI_GL_POST", "TWISNIEWSKI", D(2021, 1, 11), None, "X", T(2021, 1, 11, 10, 30)),
    ("100", "Z_BC_USER_ADMIN", "AONEILL", D(2026, 7, 15), None, "", T(2026, 7, 15, 9, 8, 40)),
    ("100", "Z_BASIS_ADMIN", "OGRANT", D(2025, 1, 6), D(2026, 3, 31), "", T(2025, 1, 6, 15, 12)),
    ("100", "Z_BASIS_ADMIN", "OGRANT", D(2026, 4, 1), None, "", T(2026, 3, 30, 16, 1, 44)),
    ("100", "Z_BC_USER_ADMIN", "OGRANT", D(2025, 1, 6), None, "", T(2025, 1, 6, 15, 12)),
    ("100", "Z_BASIS_ADMIN", "MBELL", D(2026, 7, 6), None, "", T(2026, 7, 6, 8, 41, 5)),
    ("100", "Z_MM_PO_CREATE", "BCARTER", D(2016, 8, 20), None, "", T(2016, 8, 22, 10)),
    ("100", "Z_MM_GR_POST", "BCARTER", D(2016, 8, 20), None, "", T(2016, 8, 22, 10)),
    ("100", "Z_HR_PAYROLL", "CDUBOIS", D(2023, 3, 9), D(2026, 8, 15), "", T(2026, 8, 15, 17, 2, 10)),
    ("100", "Z_HR_PAYROLL", "ELINDQVIST", D(2026, 8, 17), None, "", T(2026, 8, 17, 9, 15, 2)),
    ("100", "Z_MM_PO_CREATE", "RPATEL", D(2022, 4, 12), None, "", T(2022, 4, 12, 9, 30)),
    ("100", "Z_MM_PO_RELEASE", "RPATEL", D(2022, 4, 12), None, "", T(2022, 4, 12, 9, 30)),
    ("100", "Z_MM_GR_POST", "JTHOMPSON", D(2023, 5, 22), None, "", T(2023, 5, 22, 8)),
    ("100", "Z_FI_DISPLAY", "GKIM", D(2024, 5, 5), D(2026, 9, 11), "", T(2026, 9, 11, 11, 4, 38)),
    ("100", "Z_TR_PAYMENTS", "GKIM", D(2026, 8, 14), None, "", T(2026, 8, 14, 10, 22, 19)),
    ("100", "Z_FI_EMERGENCY", "FF_ID01", D(2024, 1, 1), None, "", T(2023, 12, 28, 12)),
    ("100", "Z_BATCH_JOBS", "SAPBATCH", D(2024, 1, 1), None, "", T(2023, 12, 28, 12, 5)),
    ("200", "Z_FI_AP_INVOICE", "PRAMAN", D(2024, 2, 1), None, "", T(2024, 2, 1, 10, 11, 12)),
]


def sap_tst(local: dt.datetime) -> str:
    """CHANGE_TST: UTC YYYYMMDDhhmmss (DEC 15) as SE16N prints it, with thousands separators."""
    return f"{int(london(local).strftime('%Y%m%d%H%M%S')):,}"


def agr_users() -> None:
    """SE16N result of AGR_USERS, Export > Local file > Text with Tabs: technical field names as
    headings, tab-delimited, CRLF, Windows-1252 (content ASCII). Dates DD.MM.YYYY, 31.12.9999 =
    no end; client 200 rows mixed in; composite children flagged COL_FLAG = X."""
    header = ["MANDT", "AGR_NAME", "UNAME", "FROM_DAT", "TO_DAT", "EXCLUDE", "CHANGE_DAT", "CHANGE_TIM",
              "CHANGE_TST", "ORG_FLAG", "COL_FLAG"]
    lines = ["\t".join(header)]
    for client, role, user, start, end, child, changed in AGR_USERS:
        lines.append("\t".join([client, role, user, start.strftime("%d.%m.%Y"),
                                (end or D(9999, 12, 31)).strftime("%d.%m.%Y"), "",
                                changed.strftime("%d.%m.%Y"), changed.strftime("%H:%M:%S"), sap_tst(changed),
                                "", child]))
    write_bytes(OUT / "sap" / "AGR_USERS.txt", ("\r\n".join(lines) + "\r\n").encode("cp1252"))


# --------------------------------------------------------------------------------------------
# 4. AWS IAM: credential report and group memberships (IAM user names are work e-mails)
# --------------------------------------------------------------------------------------------

ACCOUNT = "418220950273"


def aws_ts(value: dt.datetime) -> str:
    return value.replace(tzinfo=UTC).isoformat()


# user, created, password last used ("N/A" no password), mfa, key 1 (rotated, last used) or None
IAM_USERS = [
    ("marcus.bell@" + DOMAIN, T(2021, 3, 1, 9), T(2026, 9, 28, 8, 30), True, None),
    ("owen.price@" + DOMAIN, T(2022, 8, 9, 9), T(2026, 9, 30, 5, 20), True, None),
    ("aisling.oneill@" + DOMAIN, T(2026, 8, 11, 10), T(2026, 9, 15, 14, 2), True, None),
    ("nadia.haddad@" + DOMAIN, T(2024, 3, 4, 9), T(2026, 9, 20, 10, 11), True, None),
    ("harriet.okafor@" + DOMAIN, T(2023, 6, 1, 9), T(2026, 9, 2, 16, 40), False, None),     # no MFA
    ("liam.walsh@" + DOMAIN, T(2024, 1, 15, 9), T(2026, 5, 20, 9, 3), True, None),          # dormant
    ("svc-edi-upload", T(2023, 11, 20, 9), "N/A", False, (T(2025, 12, 1, 9), T(2026, 9, 30, 23, 40))),
    ("svc-terraform", T(2024, 2, 2, 9), "N/A", False, (T(2026, 8, 15, 9), T(2026, 9, 29, 17, 5))),
]

IAM_GROUPS = [
    ("Administrators", "marcus.bell@" + DOMAIN),
    ("Administrators", "owen.price@" + DOMAIN),
    ("PowerUsers", "aisling.oneill@" + DOMAIN),
    ("PowerUsers", "nadia.haddad@" + DOMAIN),
    ("BillingAdmins", "harriet.okafor@" + DOMAIN),
    ("ReadOnly", "liam.walsh@" + DOMAIN),
    ("Deployers", "svc-edi-upload"),
    ("Deployers", "svc-terraform"),
]


def aws_credential_report() -> None:
    """IAM credential report (GenerateCredentialReport / console download): the 22 documented
    columns, root first, N/A where not applicable, no_information for a password never used,
    booleans true/false, ISO 8601 with +00:00."""
    header = ["user", "arn", "user_creation_time", "password_enabled", "password_last_used",
              "password_last_changed", "password_next_rotation", "mfa_active", "access_key_1_active",
              "access_key_1_last_rotated", "access_key_1_last_used_date", "access_key_1_last_used_region",
              "access_key_1_last_used_service", "access_key_2_active", "access_key_2_last_rotated",
              "access_key_2_last_used_date", "access_key_2_last_used_region",
              "access_key_2_last_used_service", "cert_1_active", "cert_1_last_rotated", "cert_2_active",
              "cert_2_last_rotated"]
    na4 = ["false", "N/A", "N/A", "N/A", "N/A"]
    rows = [header, ["<root_account>", f"arn:aws:iam::{ACCOUNT}:root", aws_ts(T(2019, 5, 2, 10)),
                     "not_supported", aws_ts(T(2026, 2, 11, 9, 30)), "not_supported", "not_supported", "true",
                     *na4, *na4, "false", "N/A", "false", "N/A"]]
    for user, created, last_used, mfa, key in IAM_USERS:
        has_password = last_used != "N/A"
        password = ["true", aws_ts(last_used), aws_ts(created + dt.timedelta(days=1)), "N/A"] if has_password \
            else ["false", "N/A", "N/A", "N/A"]
        key1 = ["true", aws_ts(key[0]), aws_ts(key[1]), "eu-west-2", "s3"] if key else na4
        rows.append([user, f"arn:aws:iam::{ACCOUNT}:user/{user}", aws_ts(created), *password,
                     "true" if mfa else "false", *key1, *na4, "false", "N/A", "false", "N/A"])
    write_bytes(OUT / "aws" / "status_reports_2026-10-01T06_00_00+00_00.csv", csv_text(rows).encode("utf-8"))


def aws_groups() -> None:
    """`aws iam get-group --group-name G` for every group, flattened to GroupName, UserName,
    UserArn (the workbench's aws_iam_group_memberships shape)."""
    rows = [["GroupName", "UserName", "UserArn"]]
    rows += [[group, user, f"arn:aws:iam::{ACCOUNT}:user/{user}"] for group, user in IAM_GROUPS]
    write_bytes(OUT / "aws" / "iam_group_memberships_20261001.csv", csv_text(rows).encode("utf-8"))


# --------------------------------------------------------------------------------------------
# 5. midPoint: "Certification cases report" (150) and "Certification campaigns report" (140)
# --------------------------------------------------------------------------------------------

NNBSP = "\u202f"
CAMPAIGN = "KF Q3 2026 Access Recertification"


def java_short(value: dt.datetime | None) -> str:
    """java.text.SimpleDateFormat() default pattern, en_US on Java 21 ('M/d/yy, h:mm a', U+202F
    before AM/PM), in the server's time zone (Europe/London), no zone shown."""
    if value is None:
        return ""
    hour = value.hour % 12 or 12
    return f"{value.month}/{value.day}/{value.strftime('%y')}, {hour}:{value.minute:02d}{NNBSP}" \
           f"{'AM' if value.hour < 12 else 'PM'}"


def user(first: str) -> str:
    return P(first).email


# object, target, reviewers, reviewed on (London), reviewed by, stage, outcome, comment, remedied
CASES: list[tuple] = []


def case(obj, target, reviewers, on, by, outcome, comment="", stage="1", remedied=None):
    CASES.append((obj, target, reviewers, on, by, stage, outcome, comment, remedied))


def _cases() -> None:
    tomasz = user("Tomasz")
    batch = [("Ben", "Z_MM_PO_CREATE"), ("Ben", "Z_MM_GR_POST"), ("Raj", "Z_MM_PO_CREATE"),
             ("Raj", "Z_MM_PO_RELEASE"), ("Nadia", "Z_MM_GR_POST"), ("Declan", "Z_FI_AP_SUPERVISOR"),
             ("Declan", "Z_FI_AP_PAYMENT_RUN"), ("Sofia", "Z_FI_GL_POST"), ("Sofia", "Z_FI_GL_MASTER"),
             ("Priya", "Z_FI_AP_INVOICE"), ("Priya", "Z_MM_VENDOR_MAINT")]
    for i, (first, role) in enumerate(batch):  # the SAP owner approves 11 lines in three minutes
        case(user(first), f"Role: SAP {role}", tomasz, T(2026, 9, 4, 10, 1 + i // 4), tomasz, "Accept")
    case(user("Priya"), "Role: SAP Z_FI_AP_PAYMENT_RUN", f"{user('Declan')},{user('Priya')}",
         T(2026, 9, 8, 16, 20), user("Priya"), "Accept", "Reassigned while Declan on leave", stage="2")
    harriet = user("Harriet")
    case(user("Tomasz"), "Role: SAP Z_FI_CONTROLLER", harriet, T(2026, 9, 7, 9, 15), harriet, "Accept")
    case(user("Fatima"), "Role: SAP Z_FI_GL_POST", harriet, T(2026, 9, 7, 9, 20), harriet, "Revoke",
         "Auditors get display only")
    case(user("Fatima"), "Role: SAP Z_DISPLAY_ALL", harriet, T(2026, 9, 7, 9, 21), harriet, "Accept")
    case(user("Grace"), "Role: SAP Z_TR_PAYMENTS", harriet, T(2026, 9, 7, 9, 25), harriet, "Accept")
    case(user("Grace"), "Role: SAP Z_FI_DISPLAY", harriet, T(2026, 9, 10, 14, 5), harriet, "Revoke",
         "No longer needed since the treasury role", remedied=T(2026, 9, 11, 12, 4))
    ethan = user("Ethan")
    case(user("Harriet"), "Role: SAP Z_FI_GL_MASTER", ethan, T(2026, 9, 9, 8, 55), ethan, "Accept")
    case(user("Marcus"), "Role: SAP Z_BASIS_ADMIN", ethan, T(2026, 9, 9, 8, 58), ethan, "Accept")
    case(user("Emma"), "Role: SAP Z_HR_PAYROLL", ethan, T(2026, 9, 9, 9, 0), ethan, "Accept")
    case(user("Zoe"), "Service: Salesforce Sales Cloud", ethan, T(2026, 9, 9, 9, 3), ethan, "Accept")
    marcus = user("Marcus")
    case(user("Aisling"), "Role: SAP Z_BC_USER_ADMIN", marcus, T(2026, 9, 6, 14, 14), marcus, "Accept")
    case(user("Oliver"), "Role: SAP Z_BASIS_ADMIN", marcus, T(2026, 9, 6, 14, 20), marcus, "Accept")
    case(user("Oliver"), "Role: SAP Z_BC_USER_ADMIN", marcus, T(2026, 9, 6, 14, 22), marcus, "Accept")
    for i, (first, group) in enumerate([("Owen", "Administrators"), ("Aisling", "PowerUsers"),
                                        ("Nadia", "PowerUsers"), ("Harriet", "BillingAdmins"),
                                        ("Marcus", "Administrators")]):
        case(user(first), f"Role: AWS {group}", marcus, T(2026, 9, 6, 15, 2 * i), marcus, "Accept")
    case(user("Jack"), "Role: SAP Z_MM_GR_POST", user("Ben"), None, "", "")


def midpoint() -> None:
    """Report 150 "Certification cases report" and report 140 "Certification campaigns report",
    run with CSV output and midPoint's default CSV settings: ';', every value quoted, CRLF,
    UTF-8 without BOM, multi-valued cells joined with ','. Kestrel's midPoint names users by their
    work e-mail (the HR inbound mapping sets name = Work Email)."""
    _cases()
    header = ["Object", "Target", "Campaign", "Reviewers", "Last reviewed on", "Reviewed by",
              "Iteration", "In stage", "Outcome", "Comments", "Remedied on"]
    rows = [header]
    for obj, target, reviewers, on, by, stage, outcome, comment, remedied in CASES:
        rows.append([f"User: {obj}", target, CAMPAIGN, reviewers, java_short(on), by, "1", stage, outcome,
                     comment, java_short(remedied)])
    write_bytes(OUT / "midpoint" / "Certification cases report-KF_Q3_2026.csv",
                csv_text(rows, sep=";", always=True, eol="\r\n").encode("utf-8"))
    decided = sum(1 for c in CASES if c[6])
    campaigns = [["Name", "Owner", "Start", "Finish", "Cases", "State", "Actual stage", "Stage cases",
                  "% complete"],
                 [CAMPAIGN, f"User: {user('Harriet')}", java_short(T(2026, 9, 2, 9, 0)),
                  java_short(T(2026, 9, 25, 17, 30)), str(len(CASES)), "Closed", "2", "0",
                  f"{100 * decided / len(CASES):.1f} %"]]
    write_bytes(OUT / "midpoint" / "Certification campaigns report.csv",
                csv_text(campaigns, sep=";", always=True, eol="\r\n").encode("utf-8"))


# --------------------------------------------------------------------------------------------
# 6. Jira Service Management: Export > CSV (current fields)
# --------------------------------------------------------------------------------------------

def jira_dt(value: dt.datetime | None) -> str:
    return value.strftime("%d/%b/%y %I:%M %p") if value else ""


def jira_d(value: dt.date | None) -> str:
    return value.strftime("%d/%b/%y") if value else ""


def jira() -> None:
    """Issues of the ITSD project exported with "Export > CSV (current fields)" from a list view
    with the columns below: system fields by name, the company's custom fields as
    'Custom field (<name>)', user fields as display names, dates dd/MMM/yy hh:mm AM in the
    exporting user's zone (Europe/London), comma, RFC 4180 quoting, CRLF, UTF-8."""
    header = ["Issue key", "Issue id", "Summary", "Issue Type", "Status", "Resolution", "Reporter",
              "Created", "Resolved", "Custom field (Request Type)", "Custom field (Requested for)",
              "Custom field (Target system)", "Custom field (Access role)", "Custom field (Approver)",
              "Custom field (Approval date)"]
    access, privileged, leaver = "Request access", "Request privileged access", "Leaver - remove access"
    sap = "SAP S/4HANA PRD"
    tickets = [
        ("ITSD-1041", "SAP: F110 payment run for Priya", "Done", "Done", "Priya", T(2026, 7, 1, 10, 12),
         T(2026, 7, 3, 16, 40), access, "Priya", sap, "Z_FI_AP_PAYMENT_RUN", "Declan", D(2026, 7, 2)),
        ("ITSD-1045", "SAP vendor master maintenance - Priya Raman", "Done", "Done", "Priya",
         T(2026, 7, 7, 9, 30), T(2026, 7, 8, 14, 5), access, "Priya", sap, "Z_MM_VENDOR_MAINT", "Declan",
         D(2026, 7, 10)),
        ("ITSD-1052", "Basis admin for Marcus (kernel upgrade)", "Done", "Done", "Marcus",
         T(2026, 7, 6, 8, 2), T(2026, 7, 6, 8, 40), privileged, "Marcus", sap, "Z_BASIS_ADMIN", "Marcus",
         D(2026, 7, 6)),
        ("ITSD-1058", "GL posting access for audit sampling", "Done", "Done", "Fatima", T(2026, 7, 1, 15, 0),
         T(2026, 7, 3, 9, 12), access, "Fatima", sap, "Z_FI_GL_POST", "Harriet", D(2026, 7, 2)),
        ("ITSD-1060", "Leaver: Ben Carter - remove all access", "Done", "Done", "Emma", T(2026, 6, 30, 17, 47),
         T(2026, 7, 24, 12, 30), leaver, "Ben", "All", "", "", None),
        ("ITSD-1063", "WMS supervisor access for Ben (handover)", "Done", "Done", "Raj", T(2026, 7, 14, 7, 58),
         T(2026, 7, 15, 10, 3), access, "Ben", "Manhattan WMS", "WMS Supervisor", "Harriet", D(2026, 7, 15)),
        ("ITSD-1080", "PO release strategy access - Raj", "Declined", "Declined", "Raj", T(2026, 7, 20, 13, 5),
         T(2026, 7, 22, 9, 0), access, "Raj", sap, "Z_MM_PO_RELEASE", "Declan", None),
        ("ITSD-1088", "Pre-start accounts for Leo Marchetti", "Done", "Done", "Ethan", T(2026, 9, 18, 9, 0),
         T(2026, 9, 21, 15, 30), access, "Leo", "Active Directory", "Standard user", "Ethan", D(2026, 9, 18)),
        ("ITSD-1090", "Leaver: Chloe Dubois", "Done", "Done", "Emma", T(2026, 8, 14, 16, 0),
         T(2026, 8, 15, 17, 5), leaver, "Chloe", "All", "", "", None),
        ("ITSD-1091", "Payroll role for Emma (cover for Chloe)", "Done", "Done", "Emma", T(2026, 8, 13, 11, 0),
         T(2026, 8, 17, 9, 20), access, "Emma", sap, "Z_HR_PAYROLL", "Ethan", D(2026, 8, 14)),
        ("ITSD-1093", "SAP user admin for Aisling", "Done", "Done", "Aisling", T(2026, 7, 14, 11, 25),
         T(2026, 7, 15, 9, 10), privileged, "Aisling", sap, "Z_BC_USER_ADMIN", "Marcus", None),
        ("ITSD-1095", "FS00 GL master data - Sofia", "Closed", "Won't Do", "Sofia", T(2026, 7, 16, 10, 0),
         T(2026, 7, 17, 12, 0), access, "Sofia", sap, "Z_FI_GL_MASTER", "Tomasz", None),
        ("ITSD-1098", "Leaver: Jack Thompson", "In Progress", "", "Emma", T(2026, 7, 10, 17, 30), None,
         leaver, "Jack", "All", "", "", None),
        ("ITSD-1101", "Treasury payments role - Grace Kim", "Done", "Done", "Grace", T(2026, 8, 12, 14, 0),
         T(2026, 8, 14, 10, 30), access, "Grace", sap, "Z_TR_PAYMENTS", "Tomasz", D(2026, 8, 13)),
        ("ITSD-1104", "Barclays.Net payments approver - Grace Kim", "Waiting for approval", "", "Grace",
         T(2026, 9, 24, 10, 40), None, access, "Grace", "Barclays.Net", "Payments Approver", "Harriet", None),
    ]
    rows = [header]
    for key, summary, status, resolution, reporter, created, resolved, kind, who, system, role, approver, \
            approved in tickets:
        rows.append([key, "1" + key.split("-")[1].zfill(4), summary,
                     "Service Request with Approvals" if kind != leaver else "Service Request", status,
                     resolution, P(reporter).name, jira_dt(created), jira_dt(resolved), kind, P(who).name, system,
                     role, P(approver).name if approver else "", jira_d(approved)])
    write_bytes(OUT / "jira" / "Jira Export CSV (current fields) 20261001.csv",
                csv_text(rows, eol="\r\n").encode("utf-8"))


# --------------------------------------------------------------------------------------------
# 7. Spreadsheets the company keeps: the SoD rule book and the approved administrators register
# --------------------------------------------------------------------------------------------

FIXED_TIME = dt.datetime(2026, 9, 30, 12, 0, 0)


def _save(book, path: Path) -> None:
    """Save, then rewrite the zip with fixed member timestamps so reruns give identical bytes."""
    buffer = io.BytesIO()
    book.save(buffer)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                                 rb"\g<1>" + stamp + rb"\g<2>", content)
            dst.writestr(fixed, content)
    write_bytes(path, out.getvalue())


def _book(creator: str):
    import openpyxl
    book = openpyxl.Workbook()
    book.properties.creator = creator
    book.properties.lastModifiedBy = creator
    book.properties.created = FIXED_TIME
    book.properties.modified = FIXED_TIME
    return book


def sod_rulebook() -> None:
    """Compliance's SoD rule book at role level (v4): sheet 'Role conflicts' (one row per risk,
    the SAP roles that give each function, ';'-separated; KF-AUD-01 is a single-function
    'sensitive access' risk with Function 2 blank) and sheet 'Mitigations' (mitigating controls
    assigned per SAP user, Valid To 31.12.9999 as text for 'no end', one start date still 'TBC')."""
    from openpyxl.styles import Font
    book = _book("Harriet Okafor")
    risks = book.active
    risks.title = "Role conflicts"
    risks.append(["Risk ID", "Risk Description", "Function 1", "Roles - Function 1", "Function 2",
                  "Roles - Function 2", "Risk Rating", "Business Process", "Risk Owner"])
    for row in [
        ("KF-P2P-01", "Maintain vendor master and pay vendors (fictitious vendor)", "Maintain vendors",
         "Z_MM_VENDOR_MAINT", "Run payments", "Z_FI_AP_PAYMENT_RUN", "High", "Procure to Pay", "Declan Murphy"),
        ("KF-P2P-02", "Enter AP invoices and execute payment run", "Enter invoices",
         "Z_FI_AP_INVOICE; Z_FI_AP_SUPERVISOR", "Run payments", "Z_FI_AP_PAYMENT_RUN", "High",
         "Procure to Pay", "Declan Murphy"),
        ("KF-P2P-03", "Create purchase orders and release (approve) them", "Create POs", "Z_MM_PO_CREATE",
         "Release POs", "Z_MM_PO_RELEASE", "HIGH", "Procure to Pay", "Harriet Okafor"),
        ("KF-P2P-04", "Post goods receipt and pay the vendor", "Post goods receipts", "Z_MM_GR_POST",
         "Run payments", "Z_FI_AP_PAYMENT_RUN", "Medium", "Procure to Pay", "Declan Murphy"),
        ("KF-R2R-01", "Maintain GL accounts and post journals (hide activity)", "Maintain GL accounts",
         "Z_FI_GL_MASTER", "Post journals", "Z_FI_GL_POST", "Medium", "Record to Report", "Tomasz Wiśniewski"),
        ("KF-BAS-01", "Maintain users and change roles", "Maintain users", "Z_BC_USER_ADMIN",
         "Change roles (PFCG)", "Z_BASIS_ADMIN", "Critical", "Basis / Security", "Marcus Bell"),
        ("KF-HR-01", "Maintain payroll master data and run payroll", "Maintain payroll master",
         "Z_HR_PAYROLL_MASTER", "Run payroll", "Z_HR_PAYROLL_RUN", 3, "Hire to Retire", "Emma Lindqvist"),
        ("KF-AUD-01", "Internal audit staff with posting access (sensitive access)", "Post journals",
         "Z_FI_GL_POST", None, None, "High", "Record to Report", "Harriet Okafor"),
    ]:
        risks.append(list(row))
    for cell in risks[1]:
        cell.font = Font(bold=True)
    risks.freeze_panes = "A2"
    mitigations = book.create_sheet("Mitigations")
    mitigations.append(["Control ID", "Control Description", "Risk ID", "User ID", "Monitor", "Valid From",
                        "Valid To", "Frequency"])
    for row in [
        ("MC-01", "Weekly review of payment proposal vs. invoices entered by same user", "KF-P2P-02", "PRAMAN",
         "Declan Murphy", dt.datetime(2025, 7, 1), dt.datetime(2026, 6, 30), "Weekly"),
        ("MC-01", "Weekly review of payment proposal vs. invoices entered by same user", "KF-P2P-02", "DMURPHY",
         "Tomasz Wiśniewski", dt.datetime(2025, 7, 1), dt.datetime(2027, 6, 30), "Weekly"),
        ("MC-03", "Vendor master change report (S_ALR_87012089) reviewed by AP Supervisor", "KF-P2P-01",
         "PRAMAN", "Declan Murphy", dt.datetime(2026, 7, 8), "31.12.9999", "Monthly"),
        ("MC-05", "Monthly review of GL master changes by CFO", "KF-R2R-01", "TWISNIEWSKI", "Harriet Okafor",
         dt.datetime(2021, 1, 11), None, "Monthly"),
        ("MC-05", "Monthly review of GL master changes by CFO", "KF-R2R-01", "SALMEIDA", "Tomasz Wiśniewski",
         "TBC", None, "Monthly"),
    ]:
        mitigations.append(list(row))
    for row in mitigations.iter_rows(min_row=2):
        for cell in row[5:7]:
            if isinstance(cell.value, dt.datetime):
                cell.number_format = "dd/mm/yyyy"
    _save(book, OUT / "policy" / "kestrel_sod_ruleset_v4.xlsx")


def approved_admins() -> None:
    """IT's register of approved administrator accounts: a title, an owner line and a blank row
    above the header (row 4), one row per person x system x access level, dates mostly real Excel
    dates (dd/mm/yyyy) but some typed as text ('TBC', 'Pending', 'N/A', '06.07.26',
    '12th March 2025', 'N/A - contractor', 'Monthly log review'), two footnote lines under the
    table. Access Level names the role or group in brackets."""
    book = _book("Marcus Bell")
    sheet = book.active
    sheet.title = "Register"
    sheet.append(["Kestrel Freight Ltd — Approved Administrators Register"])
    sheet.append(["Owner: IT Director (M. Bell)   |   Last reviewed: 03/09/2026   |   Classification: Internal"])
    sheet.append([])
    sheet.append(["Admin Name", "System", "Access Level", "Account / Username", "Approved By", "Approval Date",
                  "Access Granted", "Review Due", "Ticket Ref", "Notes"])
    X = dt.datetime
    for row in [
        ("Marcus Bell", "Active Directory", "Domain Admin", "KF\\mbell-adm", "Ethan Brooks", X(2026, 7, 6),
         X(2026, 7, 6), X(2027, 1, 6), "ITSD-1052", "DC upgrade"),
        ("Aisling O'Neill", "Active Directory", "Domain Admin", "KF\\aoneill-adm", "Marcus Bell",
         "12th March 2025", X(2025, 3, 12), X(2027, 3, 12), "ITSD-0877", None),
        ("Marcus Bell", "SAP S/4HANA PRD", "Basis Administrator (Z_BASIS_ADMIN)", "MBELL", "Marcus Bell",
         X(2026, 7, 6), X(2026, 7, 6), X(2027, 1, 6), "ITSD-1052", "Kernel upgrade"),
        ("Aisling O'Neill", "SAP S/4HANA PRD", "User Administrator (Z_BC_USER_ADMIN)", "AONEILL", "Marcus Bell",
         "TBC", X(2026, 7, 15), X(2027, 1, 15), "ITSD-1093", "Backup for Olly"),
        ("Oliver Grant", "SAP S/4HANA PRD", "Basis Administrator (Z_BASIS_ADMIN)", "OGRANT", "Marcus Bell",
         X(2025, 1, 2), X(2025, 1, 6), "N/A - contractor", "PO-22417", "Contract to 31/03/2027"),
        ("FF_ID01", "SAP S/4HANA PRD", "Firefighter (Z_FI_EMERGENCY)", "FF_ID01", "Harriet Okafor",
         X(2024, 1, 1), X(2024, 1, 1), "Monthly log review", "CHG0004410",
         "Owner: H. Okafor; log reviewed by Internal Audit"),
        ("SAPBATCH", "SAP S/4HANA PRD", "Batch (Z_BATCH_JOBS)", "SAPBATCH", "N/A", "N/A", None, "N/A",
         None, "System account - no interactive logon"),
        ("Marcus Bell", "AWS (kf-prod)", "Administrator (Administrators)", "marcus.bell@kestrelfreight.example",
         "Ethan Brooks", X(2025, 3, 3), X(2025, 3, 3), X(2027, 3, 3), "RITM0009120", None),
        ("Owen Price", "AWS (kf-prod)", "Administrator (Administrators)", "owen.price@kestrelfreight.example",
         "Marcus Bell", X(2024, 9, 1), X(2024, 9, 2), X(2025, 9, 1), None, "On-call"),
        ("Aisling O'Neill", "AWS (kf-prod)", "Power user (PowerUsers)", "aisling.oneill@kestrelfreight.example",
         "Marcus Bell", "Pending", X(2026, 8, 11), None, "ITSD-1097", None),
        ("Harriet Okafor", "AWS (kf-prod)", "Billing (BillingAdmins)", "harriet.okafor@kestrelfreight.example",
         "Ethan Brooks", "06.07.26", X(2026, 7, 6), X(2027, 7, 6), None, "Cost reports"),
        ("Owen Price", "Entra ID", "Global Administrator", "owen.price@kestrelfreight.example", "Ethan Brooks",
         X(2024, 9, 1), X(2024, 9, 2), X(2025, 9, 1), None, "PIM eligible"),
        ("Liam Walsh", "ServiceNow PRD", "itil_admin", "lwalsh", "Aisling O'Neill", X(2026, 7, 9),
         X(2026, 7, 9), X(2027, 1, 9), "RITM0010240", None),
        ("Ben Carter", "Manhattan WMS", "System Admin", "bcarter", "Harriet Okafor", X(2023, 2, 1),
         X(2023, 2, 1), X(2024, 2, 1), None, "Leaver? check with HR"),
    ]:
        sheet.append(list(row))
    sheet.append([])
    sheet.append(["* Domain Admin and Global Administrator entries are re-approved every 6 months."])
    sheet.append(["* Leavers: move the row to the 'Leavers' tab - do not delete (audit trail)."])
    for row in sheet.iter_rows(min_row=5):
        for cell in row[5:8]:
            if isinstance(cell.value, dt.datetime):
                cell.number_format = "dd/mm/yyyy"
    sheet.freeze_panes = "A5"
    _save(book, OUT / "policy" / "kestrel_approved_administrators_register.xlsx")


def main(argv: list[str] | None = None) -> None:
    """Write every export; into ``argv[0]`` instead of exports/2026-Q3 when given (the test
    writes them afresh and compares them byte for byte with the committed files)."""
    global OUT
    if argv:
        OUT = Path(argv[0])
    bamboohr()
    okta_users()
    okta_assignments()
    agr_users()
    aws_credential_report()
    aws_groups()
    midpoint()
    jira()
    sod_rulebook()
    approved_admins()


if __name__ == "__main__":
    main(sys.argv[1:])
