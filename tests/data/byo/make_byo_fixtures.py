"""Write the bring-your-own (BYO) fixtures of tests/data/byo from the data below.

Every file here imitates the export shape of a real product (see SOURCES.md for the sources, what
is exact and what is reconstructed). The company is fictional: Kestrel Freight Ltd, e-mail domain
kestrelfreight.example. The text files are written byte by byte from this script (delimiter,
quoting, line endings, BOM or none) so that the shape is deliberate, not whatever a CSV library
happens to produce; the .xlsx files are written with openpyxl.

Run from this folder with a Python that has openpyxl: ``python make_byo_fixtures.py [shape ...]``
(no argument: every shape). The outputs are committed; this script documents what they hold and
regenerates them. Shapes: bamboohr rippling sailpoint midpoint jira servicenow sap entra
approved_admins sod_matrix.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
DOMAIN = "kestrelfreight.example"

# --------------------------------------------------------------------------------------------
# The cast. One record per person; every fixture draws on it so cross-file facts agree
# (a leaver in HR is the same leaver whose SAP role is still valid and who still signs in).
# Snapshot date of the HR exports: 30 Sep 2026. Period under audit: Q3 2026 (1 Jul - 30 Sep).
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    emp: str            # HR employee number
    first: str
    last: str
    preferred: str      # preferred name ("" = none)
    email_local: str    # local part of the work e-mail
    title: str
    dept: str
    location: str
    manager: str        # manager's display name ("" = none)
    hire: dt.date
    kind: str           # Full-Time, Part-Time, Contractor
    term: dt.date | None = None
    sap: str = ""       # SAP user ID (SU01)
    short: str = ""     # short login used by midPoint / AD sAMAccountName

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def email(self) -> str:
        return f"{self.email_local}@{DOMAIN}"


D = dt.date
PEOPLE = [
    Person("1001", "Harriet", "Okafor", "", "harriet.okafor", "Chief Financial Officer", "Finance",
           "London", "Ethan Brooks", D(2019, 3, 4), "Full-Time", sap="HOKAFOR", short="hokafor"),
    Person("1002", "Tomasz", "Wiśniewski", "Tom", "tomasz.wisniewski", "Financial Controller",
           "Finance", "London", "Harriet Okafor", D(2021, 1, 11), "Full-Time", sap="TWISNIEWSKI",
           short="twisniewski"),
    Person("1003", "Priya", "Raman", "", "priya.raman", "AP Clerk", "Finance", "London",
           "Declan Murphy", D(2021, 6, 14), "Full-Time", sap="PRAMAN", short="praman"),
    Person("1004", "Declan", "Murphy", "", "declan.murphy", "AP Supervisor", "Finance", "London",
           "Tomasz Wiśniewski", D(2018, 5, 2), "Full-Time", sap="DMURPHY", short="dmurphy"),
    Person("1005", "Sofia", "Almeida", "", "sofia.almeida", "GL Accountant", "Finance", "London",
           "Tomasz Wiśniewski", D(2020, 9, 7), "Part-Time", sap="SALMEIDA", short="salmeida"),
    Person("1006", "Marcus", "Bell", "", "marcus.bell", "IT Director", "Technology", "London",
           "Ethan Brooks", D(2017, 2, 15), "Full-Time", sap="MBELL", short="mbell"),
    Person("1007", "Aisling", "O'Neill", "", "aisling.oneill", "Systems Administrator",
           "Technology", "London", "Marcus Bell", D(2022, 7, 3), "Full-Time", sap="AONEILL",
           short="aoneill"),
    Person("1008", "Ben", "Carter", "", "ben.carter", "Warehouse Manager", "Operations",
           "Felixstowe", "Ethan Brooks", D(2016, 8, 20), "Full-Time", term=D(2026, 6, 30),
           sap="BCARTER", short="bcarter"),
    Person("1009", "Chloe", "Dubois", "", "chloe.dubois", "Payroll Specialist", "People",
           "London", "Emma Lindqvist", D(2023, 3, 9), "Full-Time", term=D(2026, 8, 15),
           sap="CDUBOIS", short="cdubois"),
    Person("1010", "Raj", "Patel", "", "raj.patel", "Procurement Buyer", "Operations",
           "Felixstowe", "Ben Carter", D(2022, 4, 12), "Full-Time", sap="RPATEL", short="rpatel"),
    Person("1011", "Emma", "Lindqvist", "", "emma.lindqvist", "HR Business Partner", "People",
           "London", "Ethan Brooks", D(2019, 10, 1), "Full-Time", sap="ELINDQVIST",
           short="elindqvist"),
    Person("1012", "Oliver", "Grant", "Olly", "oliver.grant", "SAP Basis Consultant (contract)",
           "Technology", "Remote - UK", "Marcus Bell", D(2025, 1, 6), "Contractor", sap="OGRANT",
           short="ogrant"),
    Person("1013", "Nadia", "Haddad", "", "nadia.haddad", "Logistics Analyst", "Operations",
           "Felixstowe", "Ben Carter", D(2021, 11, 18), "Full-Time", sap="NHADDAD",
           short="nhaddad"),
    Person("1014", "Jack", "Thompson", "", "jack.thompson", "Dispatcher", "Operations",
           "Felixstowe", "Ben Carter", D(2023, 5, 22), "Full-Time", term=D(2026, 7, 10),
           sap="JTHOMPSON", short="jthompson"),
    Person("1015", "Grace", "Kim", "", "grace.kim", "Treasury Analyst", "Finance", "London",
           "Harriet Okafor", D(2024, 5, 5), "Full-Time", sap="GKIM", short="gkim"),
    Person("1016", "Liam", "Walsh", "", "liam.walsh", "Service Desk Analyst", "Technology",
           "London", "Aisling O'Neill", D(2023, 2, 13), "Full-Time", short="lwalsh"),
    Person("1017", "Fatima", "Zahra", "", "fatima.zahra", "Internal Auditor", "Internal Audit",
           "London", "Harriet Okafor", D(2025, 1, 27), "Full-Time", sap="FZAHRA", short="fzahra"),
    Person("1018", "Owen", "Price", "", "owen.price", "Security Engineer", "Technology",
           "London", "Marcus Bell", D(2022, 8, 8), "Full-Time", short="oprice"),
    Person("1019", "Zoe", "Adams", "", "zoe.adams", "Sales Operations Analyst", "Commercial",
           "London", "Ethan Brooks", D(2026, 8, 3), "Full-Time", short="zadams"),
    Person("1020", "Ethan", "Brooks", "", "ethan.brooks", "Chief Executive Officer", "Executive",
           "London", "", D(2015, 6, 1), "Full-Time", short="ebrooks"),
    Person("1021", "Leo", "Marchetti", "", "leo.marchetti", "Warehouse Manager", "Operations",
           "Felixstowe", "Ethan Brooks", D(2026, 10, 12), "Full-Time", short="lmarchetti"),
    Person("1022", "Hannah", "Reid", "", "hannah.reid", "Customer Service Advisor", "Commercial",
           "Felixstowe", "Zoe Adams", D(2024, 2, 19), "Part-Time", term=D(2026, 4, 30),
           short="hreid"),
]
BY_NAME = {p.name: p for p in PEOPLE}
SNAPSHOT = D(2026, 9, 30)


def P(name: str) -> Person:
    return BY_NAME[name]


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(f"wrote {path.relative_to(HERE)} ({len(data)} bytes)")


def csv_field(value: str, sep: str = ",", always: bool = False) -> str:
    """RFC 4180 quoting: quote when needed (or always), double embedded quotes."""
    if always or any(c in value for c in (sep, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_lines(rows: list[list[str]], sep: str = ",", always: bool = False,
              eol: str = "\r\n") -> str:
    return "".join(sep.join(csv_field(v, sep, always) for v in row) + eol for row in rows)


# --------------------------------------------------------------------------------------------
# 3. BambooHR custom report, exported as CSV
# --------------------------------------------------------------------------------------------

def bamboohr() -> None:
    """BambooHR custom report (Reports > Custom report > Export > CSV). Headers are the field
    labels BambooHR shows; dates follow the company's date-format setting (here dd/mm/yyyy, as a
    UK company would choose). Quirks: 'Status' (Active/Inactive) and 'Employment Status'
    (Full-Time, Part-Time, Contractor, Terminated) disagree for Jack Thompson; Hannah Reid is
    Terminated with no Termination Date; Raj Patel and Nadia Haddad still report to a leaver;
    Leo Marchetti is a future hire (hire date after the snapshot) shown as Active."""
    fmt = "%d/%m/%Y"
    header = ["Employee #", "First Name", "Last Name", "Preferred Name", "Work Email",
              "Job Title", "Department", "Division", "Location", "Reporting to", "Hire Date",
              "Status", "Employment Status", "Termination Date"]
    rows = [header]
    for p in PEOPLE:
        status, emp_status = "Active", p.kind
        term = p.term.strftime(fmt) if p.term else ""
        if p.term:
            status, emp_status = "Inactive", "Terminated"
        if p.name == "Jack Thompson":      # HR marked the termination, Status not yet flipped
            status = "Active"
        if p.name == "Hannah Reid":        # terminated, but the date was never entered
            term = ""
        rows.append([p.emp, p.first, p.last, p.preferred, p.email, p.title, p.dept,
                     "Kestrel Freight Ltd", p.location, p.manager, p.hire.strftime(fmt), status,
                     emp_status, term])
    write_bytes(HERE / "bamboohr" / "kestrel_employees_custom_report.csv",
                csv_lines(rows, eol="\n").encode("utf-8"))

    # The same population from a report that was built without 'Status' and 'Employment Status'
    # (common: the report owner picked only the columns they needed). Termination Date is the
    # only leaver signal left.
    header = ["Employee #", "Last Name, First Name", "Work Email", "Job Title", "Department",
              "Hire Date", "Termination Date"]
    rows = [header]
    for p in PEOPLE:
        term = p.term.strftime(fmt) if p.term and p.name != "Hannah Reid" else ""
        rows.append([p.emp, f"{p.last}, {p.first}", p.email, p.title, p.dept,
                     p.hire.strftime(fmt), term])
    write_bytes(HERE / "bamboohr" / "kestrel_employees_no_status_columns.csv",
                csv_lines(rows, eol="\n").encode("utf-8"))


# --------------------------------------------------------------------------------------------
# 4. Rippling custom report, exported as CSV
# --------------------------------------------------------------------------------------------

def rippling() -> None:
    """Rippling custom report (Tools > Reports > New report; fields Employee name, Work email,
    Title, Manager, Employment status ...), downloaded as CSV. Employment status values follow
    Rippling's role states (Active, Terminated, Hired, Accepted); dates MM/DD/YYYY."""
    fmt = "%m/%d/%Y"
    kinds = {"Full-Time": "Salaried, full-time", "Part-Time": "Salaried, part-time",
             "Contractor": "Contractor"}
    header = ["Employee name", "Work email", "Title", "Department", "Manager",
              "Manager - Work email", "Start date", "End date", "Employment status",
              "Employment type", "Work location"]
    rows = [header]
    for p in PEOPLE:
        if p.term:
            status = "Terminated"
        elif p.hire > SNAPSHOT:
            status = "Accepted"       # offer accepted, start date in the future
        else:
            status = "Active"
        mgr = BY_NAME.get(p.manager)
        rows.append([p.name, p.email, p.title, p.dept, p.manager, mgr.email if mgr else "",
                     p.hire.strftime(fmt), p.term.strftime(fmt) if p.term else "", status,
                     kinds[p.kind], p.location])
    write_bytes(HERE / "rippling" / "kestrel_rippling_employees_report.csv",
                csv_lines(rows, eol="\n").encode("utf-8"))


# --------------------------------------------------------------------------------------------
# 1. SailPoint Identity Security Cloud: certifications and their access review items (API JSON)
# --------------------------------------------------------------------------------------------

def hexid(seed: str, n: int = 32) -> str:
    import hashlib
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def guid(seed: str) -> str:
    h = hexid(seed, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def iso_ms(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def sailpoint() -> None:
    """What `GET /v3/certifications?filters=campaign.id eq "..."` and
    `GET /v3/certifications/{id}/access-review-items` return, saved as pretty-printed JSON (the
    form a script or the VS Code ISC extension leaves on disk). Field names and enums follow the
    published v3 models IdentityCertificationDto and AccessReviewItem. There is no per-item
    decision timestamp or decider: the reviewer and the sign-off time live on the
    certification."""
    campaign = {"id": hexid("kf-campaign-2026q3"), "name": "KF Q3 2026 Source Owner Review",
                "type": "CAMPAIGN", "campaignType": "SOURCE_OWNER",
                "description": "Quarterly source-owner certification of privileged and "
                               "financial access (SOX ITGC AC-04)",
                "correlatedStatus": "CORRELATED",
                "mandatoryCommentRequirement": "REVOKE_ONLY_DECISIONS"}

    def reviewer(name: str) -> dict:
        p = P(name)
        return {"id": hexid("identity-" + p.emp), "name": p.name, "email": p.email,
                "type": "IDENTITY", "created": "2024-03-11T09:14:52.118Z",
                "modified": "2026-09-28T02:00:13.407Z"}

    sources = {
        "ad": {"sourceName": "Active Directory - KF", "sourceType": "Active Directory - Direct",
               "sourceId": hexid("source-ad"), "sourceSchemaObjectType": "group",
               "attributeName": "memberOf"},
        "sap": {"sourceName": "SAP S/4HANA PRD (100)", "sourceType": "SAP - Direct",
                "sourceId": hexid("source-sap"), "sourceSchemaObjectType": "activity_groups",
                "attributeName": "Roles"},
    }
    certs = []
    cert_ad = {"id": hexid("cert-ad"), "name": "KF Q3 2026 Source Owner Review - Marcus Bell",
               "campaign": campaign, "completed": True, "identitiesCompleted": 9,
               "identitiesTotal": 9, "created": "2026-09-21T08:00:04.512Z",
               "modified": "2026-10-09T15:22:07.391Z", "decisionsMade": 11, "decisionsTotal": 11,
               "due": "2026-10-16T23:59:59.000Z", "signed": "2026-10-09T15:22:07.391Z",
               "reviewer": reviewer("Marcus Bell"), "reassignment": None, "hasErrors": False,
               "errorMessage": None, "phase": "SIGNED"}
    cert_sap = {"id": hexid("cert-sap"), "name": "KF Q3 2026 Source Owner Review - Priya Raman",
                "campaign": campaign, "completed": True, "identitiesCompleted": 8,
                "identitiesTotal": 8, "created": "2026-09-21T08:00:05.077Z",
                "modified": "2026-10-12T10:41:58.220Z", "decisionsMade": 10,
                "decisionsTotal": 10, "due": "2026-10-16T23:59:59.000Z",
                "signed": "2026-10-12T10:41:58.220Z", "reviewer": reviewer("Priya Raman"),
                "reassignment": {"from": {"id": hexid("cert-sap-original"),
                                          "name": "KF Q3 2026 Source Owner Review - Declan Murphy",
                                          "type": "CERTIFICATION",
                                          "reviewer": reviewer("Declan Murphy")},
                                 "comment": "On annual leave until 20 Oct - Priya to cover"},
                "hasErrors": False, "errorMessage": None, "phase": "SIGNED"}
    cert_snow = {"id": hexid("cert-snow"), "name": "KF Q3 2026 Source Owner Review - Aisling O'Neill",
                 "campaign": campaign, "completed": False, "identitiesCompleted": 3,
                 "identitiesTotal": 7, "created": "2026-09-21T08:00:05.310Z",
                 "modified": "2026-10-14T16:03:22.918Z", "decisionsMade": 5,
                 "decisionsTotal": 12, "due": "2026-10-16T23:59:59.000Z", "signed": None,
                 "reviewer": reviewer("Aisling O'Neill"), "reassignment": None,
                 "hasErrors": False, "errorMessage": None, "phase": "ACTIVE"}
    certs = [cert_ad, cert_sap, cert_snow]
    write_bytes(HERE / "sailpoint_isc" / "certifications_KF_Q3_2026.json",
                (json.dumps(certs, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))

    def account(p: Person, src: str, native: str, disabled: bool = False, locked: bool = False,
                usage: int | None = 30) -> dict:
        acc_id = hexid(f"account-{src}-{p.emp}")
        return {"nativeIdentity": native, "disabled": disabled, "locked": locked, "id": acc_id,
                "name": native, "created": "2024-03-11T09:20:17.004Z",
                "modified": "2026-09-28T02:04:41.552Z",
                "activityInsights": {"accountId": acc_id, "usageDays": usage,
                                     "usageDaysState": "COMPLETE" if usage is not None
                                     else "UNKNOWN"},
                "description": None, "governanceGroupId": None}

    def item(seq: int, person: str, src: str, ent: str, value: str, desc: str, privileged: bool,
             decision: str, comments: str | None, native: str, disabled: bool = False,
             locked: bool = False, usage: int | None = 30, owner: str = "Marcus Bell") -> dict:
        p = P(person)
        s = sources[src]
        o = P(owner)
        ent_id = hexid(f"ent-{src}-{ent}")
        entitlement = {"id": ent_id, "name": ent, "description": desc, "privileged": privileged,
                       "owner": {"id": hexid("identity-" + o.emp), "name": o.name,
                                 "email": o.email},
                       "attributeName": s["attributeName"], "attributeValue": value,
                       "sourceSchemaObjectType": s["sourceSchemaObjectType"],
                       "sourceName": s["sourceName"], "sourceType": s["sourceType"],
                       "sourceId": s["sourceId"], "hasPermissions": False,
                       "isPermission": False, "revocable": True, "cloudGoverned": False,
                       "containsDataAccess": False, "dataAccess": None,
                       "account": account(p, src, native, disabled, locked, usage)}
        return {"accessSummary": {"access": {"type": "ENTITLEMENT", "id": ent_id, "name": ent},
                                  "entitlement": entitlement, "accessProfile": None,
                                  "role": None},
                "identitySummary": {"id": hexid(f"certid-{src}-{p.emp}"), "name": p.name,
                                    "identityId": hexid("identity-" + p.emp), "completed": True},
                "id": hexid(f"item-{src}-{seq}"), "completed": True, "newAccess": False,
                "decision": decision, "comments": comments}

    ad = "OU=Groups,OU=KF,DC=kestrelfreight,DC=example"
    users = "OU=Users,OU=KF,DC=kestrelfreight,DC=example"

    def dn(p: str) -> str:
        person = P(p)
        return f"CN={person.first} {person.last},{users}"

    items_ad = [
        item(1, "Marcus Bell", "ad", "Domain Admins", "CN=Domain Admins,CN=Users,DC=kestrelfreight,DC=example",
             "Full control of the KF domain", True, "APPROVE", None, dn("Marcus Bell")),
        item(2, "Aisling O'Neill", "ad", "Domain Admins", "CN=Domain Admins,CN=Users,DC=kestrelfreight,DC=example",
             "Full control of the KF domain", True, "APPROVE", "BAU sysadmin", dn("Aisling O'Neill")),
        item(3, "Owen Price", "ad", "GG-Security-Admins", f"CN=GG-Security-Admins,{ad}",
             "Manage GPOs, LAPS and Defender policies", True, "APPROVE", None, dn("Owen Price")),
        item(4, "Ben Carter", "ad", "GG-WMS-Supervisors", f"CN=GG-WMS-Supervisors,{ad}",
             "WMS supervisor screens (Felixstowe)", False, "APPROVE", None, dn("Ben Carter"),
             usage=11),
        item(5, "Ben Carter", "ad", "GG-VPN-Users", f"CN=GG-VPN-Users,{ad}",
             "Remote access VPN", False, "APPROVE", None, dn("Ben Carter"), usage=11),
        item(6, "Jack Thompson", "ad", "GG-WMS-Dispatch", f"CN=GG-WMS-Dispatch,{ad}",
             "WMS dispatch screens", False, "REVOKE", "Left 10/07 per HR", dn("Jack Thompson"),
             disabled=True, usage=0),
        item(7, "Oliver Grant", "ad", "GG-SAP-Basis", f"CN=GG-SAP-Basis,{ad}",
             "SAP Basis jump hosts", True, "APPROVE", "Contract extended to 31/03/2027",
             dn("Oliver Grant")),
        item(8, "Liam Walsh", "ad", "GG-ServiceDesk-PwdReset", f"CN=GG-ServiceDesk-PwdReset,{ad}",
             "Reset passwords for standard users", True, "APPROVE", None, dn("Liam Walsh")),
        item(9, "Zoe Adams", "ad", "GG-Salesforce-Users", f"CN=GG-Salesforce-Users,{ad}",
             "Salesforce SSO", False, "APPROVE", None, dn("Zoe Adams")),
        item(10, "Fatima Zahra", "ad", "GG-Finance-Share-RW", f"CN=GG-Finance-Share-RW,{ad}",
             "Read/write on \\\\kf-fs01\\Finance$", False, "REVOKE",
             "Audit needs read only - move to GG-Finance-Share-RO", dn("Fatima Zahra")),
        item(11, "Leo Marchetti", "ad", "GG-WMS-Supervisors", f"CN=GG-WMS-Supervisors,{ad}",
             "WMS supervisor screens (Felixstowe)", False, "APPROVE", "New WH manager",
             dn("Leo Marchetti"), usage=2),
    ]
    write_bytes(HERE / "sailpoint_isc" / f"access-review-items_{cert_ad['id']}.json",
                (json.dumps(items_ad, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))

    items_sap = [
        item(1, "Priya Raman", "sap", "Z_FI_AP_PAYMENT_RUN", "Z_FI_AP_PAYMENT_RUN",
             "Automatic payment run F110", True, "APPROVE", None, "PRAMAN", owner="Declan Murphy"),
        item(2, "Priya Raman", "sap", "Z_MM_VENDOR_MAINT", "Z_MM_VENDOR_MAINT",
             "Vendor master maintenance", True, "APPROVE", None, "PRAMAN", owner="Declan Murphy"),
        item(3, "Priya Raman", "sap", "Z_FI_AP_INVOICE", "Z_FI_AP_INVOICE",
             "AP invoice entry FB60/MIRO", False, "APPROVE", None, "PRAMAN",
             owner="Declan Murphy"),
        item(4, "Declan Murphy", "sap", "Z_FI_AP_PAYMENT_RUN", "Z_FI_AP_PAYMENT_RUN",
             "Automatic payment run F110", True, "APPROVE", None, "DMURPHY",
             owner="Declan Murphy"),
        item(5, "Chloe Dubois", "sap", "Z_HR_PAYROLL", "Z_HR_PAYROLL", "UK payroll run",
             True, "REVOKE", "Leaver 15/08/2026", "CDUBOIS", locked=True, usage=0,
             owner="Emma Lindqvist"),
        item(6, "Fatima Zahra", "sap", "Z_FI_GL_POST", "Z_FI_GL_POST", "GL journal posting FB50",
             False, "APPROVE", "Needed for audit sampling", "FZAHRA", owner="Tomasz Wiśniewski"),
        item(7, "Raj Patel", "sap", "Z_MM_PO_RELEASE", "Z_MM_PO_RELEASE", "PO release ME29N",
             False, "APPROVE", None, "RPATEL", owner="Declan Murphy"),
        item(8, "Raj Patel", "sap", "Z_MM_PO_CREATE", "Z_MM_PO_CREATE", "PO create ME21N",
             False, "APPROVE", None, "RPATEL", owner="Declan Murphy"),
        item(9, "Ben Carter", "sap", "Z_MM_PO_CREATE", "Z_MM_PO_CREATE", "PO create ME21N",
             False, "REVOKE", "Leaver", "BCARTER", usage=4, owner="Declan Murphy"),
        item(10, "Aisling O'Neill", "sap", "Z_BC_USER_ADMIN", "Z_BC_USER_ADMIN",
             "User and role administration SU01/PFCG", True, "APPROVE", None, "AONEILL",
             owner="Marcus Bell"),
    ]
    write_bytes(HERE / "sailpoint_isc" / f"access-review-items_{cert_sap['id']}.json",
                (json.dumps(items_sap, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


# --------------------------------------------------------------------------------------------
# 2. midPoint "Certification cases report" (initial object 150), CSV export
# --------------------------------------------------------------------------------------------

NNBSP = "\u202f"   # narrow no-break space: what Java 20+ (CLDR 42) puts before AM/PM


def java_short(value: dt.datetime | None) -> str:
    """java.text.SimpleDateFormat() with the en_US default locale on Java 21: 'M/d/yy, h:mm a'
    with U+202F before AM/PM. Server-local time, no zone shown."""
    if value is None:
        return ""
    hour = value.hour % 12 or 12
    ampm = "AM" if value.hour < 12 else "PM"
    return f"{value.month}/{value.day}/{value.strftime('%y')}, {hour}:{value.minute:02d}{NNBSP}{ampm}"


def midpoint() -> None:
    """Report 150 'Certification cases report' run with CSV output and midPoint's default CSV
    settings (CommonCsvSupport): ';' delimiter, every value quoted (QuoteMode NON_NUMERIC on
    String values), '\\' escape, CRLF, UTF-8, multi-valued columns joined with ','. Object and
    Target are 'Type: name' (ReportUtils.prettyPrintForReport on the reference); Reviewers and
    Reviewed by are user names; Outcome is the localized response ('' for no response)."""
    T = dt.datetime
    camp = "KF Q3 2026 Role Recertification"
    header = ["Object", "Target", "Campaign", "Reviewers", "Last reviewed on", "Reviewed by",
              "Iteration", "In stage", "Outcome", "Comments", "Remedied on"]
    rows = [header]

    def r(obj, target, reviewers, reviewed_on, reviewed_by, stage, outcome, comment="",
          remedied=None):
        rows.append([f"User: {obj}", target, camp, reviewers, java_short(reviewed_on),
                     reviewed_by, "1", stage, outcome, comment, java_short(remedied)])

    r("aoneill", "Role: SAP Z_BC_USER_ADMIN", "mbell", T(2026, 10, 6, 14, 14), "mbell", "1",
      "Accept")
    r("bcarter", "Role: WMS Supervisor", "mbell", T(2026, 10, 6, 14, 15), "mbell", "1",
      "Accept", "Keep until handover to Leo")
    r("mbell", "Role: AD Domain Admins", "mbell", T(2026, 10, 6, 14, 16), "mbell", "1", "Accept")
    r("cdubois", "Role: SAP Z_HR_PAYROLL", "elindqvist", T(2026, 10, 2, 9, 3), "elindqvist",
      "1", "Revoke", "Leaver", T(2026, 10, 3, 1, 0))
    r("fzahra", "Role: SAP Z_FI_GL_POST", "twisniewski", T(2026, 10, 5, 11, 42), "twisniewski",
      "1", "Revoke", "Auditors get display only")
    r("hokafor", "Role: SAP Z_FI_GL_MASTER", "ebrooks", T(2026, 10, 7, 8, 55), "ebrooks", "1",
      "Accept")
    r("jthompson", "Role: WMS Dispatcher", "bcarter", None, "", "1", "")
    r("praman", "Role: SAP Z_FI_AP_PAYMENT_RUN", "dmurphy,twisniewski", T(2026, 10, 8, 16, 20),
      "dmurphy", "2", "Accept")
    r("praman", "Role: SAP Z_MM_VENDOR_MAINT", "dmurphy", T(2026, 10, 9, 9, 1), "hokafor", "1",
      "Accept", "Approved by CFO while Declan on leave")
    r("rpatel", "Role: SAP Z_MM_PO_RELEASE", "bcarter", T(2026, 10, 13, 17, 30), "ebrooks", "1",
      "Reduce", "Keep PO create, drop release")
    r("ogrant", "Org: Technology", "mbell", T(2026, 10, 6, 14, 20), "mbell", "1", "Accept")
    r("salmeida", "Role: SAP Z_FI_GL_MASTER", "twisniewski", T(2026, 10, 5, 11, 48),
      "twisniewski", "1", "Not decided", "Check with Harriet - was declined in ITSD-1095")
    r("lwalsh", "Role: ServiceNow itil_admin", "aoneill", T(2026, 10, 1, 10, 2), "aoneill", "1",
      "Accept")
    r("zadams", "Service: Salesforce Sales Cloud", "ebrooks", T(2026, 10, 7, 8, 58), "ebrooks",
      "1", "Accept")
    write_bytes(HERE / "midpoint" / "Certification cases report-KF_Q3_2026.csv",
                csv_lines(rows, sep=";", always=True, eol="\r\n").encode("utf-8"))


# --------------------------------------------------------------------------------------------
# 5. Jira Cloud (Jira Service Management project) issues, "Export > CSV (all fields)"
# --------------------------------------------------------------------------------------------

def jira_dt(value: dt.datetime | None) -> str:
    """Jira's default export date-time format dd/MMM/yy hh:mm a (e.g. 11/May/24 03:26 PM)."""
    return value.strftime("%d/%b/%y %I:%M %p") if value else ""


def jira_d(value: dt.date | None) -> str:
    return value.strftime("%d/%b/%y") if value else ""


def jira() -> None:
    """Access-request tickets of a JSM project (ITSD). Column names as Jira writes them:
    system fields by name, custom fields as 'Custom field (<name>)', multi-valued fields
    (Labels, Comment) repeated as several columns with the same header; comments packed as
    '<date>;<accountId>;<body>'; user fields show display names; description keeps its line
    breaks inside a quoted cell."""
    T = dt.datetime
    header = ["Summary", "Issue key", "Issue id", "Issue Type", "Status", "Project key",
              "Project name", "Project type", "Project lead", "Priority", "Resolution",
              "Assignee", "Reporter", "Creator", "Created", "Updated", "Last Viewed", "Resolved",
              "Due date", "Labels", "Labels", "Description", "Custom field (Access role)",
              "Custom field (Approval date)", "Custom field (Approver)",
              "Custom field (Request Type)", "Custom field (Requested for)",
              "Custom field (Target system)", "Custom field ([CHART] Date of First Response)",
              "Comment", "Comment"]
    rows = [header]

    def acct(name: str) -> str:
        return "712020:" + guid("jira-" + name)

    def t(key, summary, itype, status, resolution, assignee, reporter, created, resolved,
          labels, description, role, approval, approver, rtype, req_for, system,
          comments=(), updated=None, priority="Medium"):
        num = int(key.split("-")[1])
        comment_cells = [f"{jira_dt(when)};{acct(who)};{body}" for when, who, body in comments]
        comment_cells += [""] * (2 - len(comment_cells))
        labels = list(labels) + [""] * (2 - len(labels))
        first_response = created + dt.timedelta(minutes=37) if resolved or status != "Open" else None
        rows.append([summary, key, str(10000 + num), itype, status, "ITSD", "KF IT Service Desk",
                     "service_desk", "Marcus Bell", priority, resolution, assignee, reporter,
                     reporter, jira_dt(created), jira_dt(updated or resolved or created),
                     jira_dt(T(2026, 9, 30, 16, 2)) if key in ("ITSD-1052", "ITSD-1095") else "",
                     jira_dt(resolved), "", labels[0], labels[1], description, role,
                     jira_d(approval), approver, rtype, req_for, system,
                     jira_dt(first_response), comment_cells[0], comment_cells[1]])

    SR = "Service Request with Approvals"
    t("ITSD-1041", "SAP: F110 payment run for Priya", SR, "Done", "Done", "Liam Walsh",
      "Priya Raman", T(2026, 7, 1, 10, 12), T(2026, 7, 3, 16, 40), ["access-request", "sap"],
      "Please add payment run.\nManager: Declan Murphy", "Z_FI_AP_PAYMENT_RUN",
      D(2026, 7, 2), "Declan Murphy", "Request access", "Priya Raman", "SAP S/4HANA PRD",
      [(T(2026, 7, 2, 9, 5), "Declan Murphy", "Approved")])
    t("ITSD-1045", "SAP vendor master maintenance (XK02) - Priya Raman", SR, "Done", "Done",
      "Liam Walsh", "Priya Raman", T(2026, 7, 7, 9, 30), T(2026, 7, 8, 14, 5),
      ["access-request", "sap"], "Covering vendor set-up while Raj is on leave",
      "Z_MM_VENDOR_MAINT", D(2026, 7, 10), "Declan Murphy", "Request access", "Priya Raman",
      "SAP S/4HANA PRD",
      [(T(2026, 7, 8, 14, 4), "Liam Walsh", "Provisioned on Declan's verbal OK, formal approval to follow"),
       (T(2026, 7, 10, 11, 17), "Declan Murphy", "approved (retrospective)")],
      updated=T(2026, 7, 10, 11, 17))
    t("ITSD-1052", "Domain Admins for Marcus", SR, "Done", "Done", "Aisling O'Neill",
      "Marcus Bell", T(2026, 7, 6, 8, 2), T(2026, 7, 6, 8, 40), ["privileged"],
      "Need DA for the DC upgrade weekend", "Domain Admins", D(2026, 7, 6), "Marcus Bell",
      "Request privileged access", "Marcus Bell", "Active Directory",
      [(T(2026, 7, 6, 8, 3), "Marcus Bell", "approved")], priority="High")
    t("ITSD-1058", "GL posting access for audit sampling", SR, "Done", "Done", "Liam Walsh",
      "Fatima Zahra", T(2026, 7, 1, 15, 0), T(2026, 7, 3, 9, 12), ["access-request", "sap"],
      "Internal audit needs FB50 to re-perform journal tests", "Z_FI_GL_POST", D(2026, 7, 2),
      "Tomasz Wiśniewski", "Request access", "Fatima Zahra", "SAP S/4HANA PRD")
    t("ITSD-1060", "Leaver: Ben Carter - remove all access", "Service Request", "Done", "Done",
      "Liam Walsh", "Emma Lindqvist", T(2026, 6, 30, 17, 47), T(2026, 7, 24, 12, 30),
      ["leaver"], "Last day 30/06/2026. Please disable AD, VPN, SAP, WMS.", "", None, "",
      "Leaver - remove access", "Ben Carter", "All",
      [(T(2026, 7, 24, 12, 29), "Liam Walsh", "AD disabled. SAP/WMS passed to app owners")])
    t("ITSD-1063", "WMS supervisor access for Ben (handover)", SR, "Done", "Done", "Liam Walsh",
      "Raj Patel", T(2026, 7, 14, 7, 58), T(2026, 7, 15, 10, 3), ["access-request"],
      "Ben is helping with the Felixstowe handover, \"temporary\" access please",
      "WMS Supervisor", D(2026, 7, 15), "Harriet Okafor", "Request access", "Ben Carter",
      "Manhattan WMS")
    t("ITSD-1071", "Entra Privileged Role Administrator - Olly Grant", SR, "Done", "Done",
      "Liam Walsh", "Oliver Grant", T(2026, 7, 13, 16, 20), T(2026, 7, 14, 9, 45),
      ["privileged"], "For SAP SSO enterprise app config", "Privileged Role Administrator",
      D(2026, 7, 20), "Liam Walsh", "Request privileged access", "Oliver Grant", "Entra ID",
      updated=T(2026, 7, 20, 8, 51), priority="High")
    t("ITSD-1077", "New starter Zoe Adams - Salesforce", SR, "Done", "Done", "Liam Walsh",
      "Ethan Brooks", T(2026, 7, 28, 11, 10), T(2026, 8, 3, 8, 30), ["new-starter"],
      "Starts 03/08", "Sales User", D(2026, 7, 28), "Ethan Brooks", "Request access",
      "Zoe Adams", "Salesforce")
    t("ITSD-1080", "PO release strategy access - Raj", SR, "Declined", "Declined", "Liam Walsh",
      "Raj Patel", T(2026, 7, 20, 13, 5), T(2026, 7, 22, 9, 0), ["access-request", "sap"],
      "Release POs over 10k while Ben is gone", "Z_MM_PO_RELEASE", None, "Declan Murphy",
      "Request access", "Raj Patel", "SAP S/4HANA PRD",
      [(T(2026, 7, 22, 8, 59), "Declan Murphy", "Declined - SoD KF-P2P-03")])
    t("ITSD-1084", "Barclays.Net payments role - Grace Kim", SR, "Waiting for approval", "",
      "", "Grace Kim", T(2026, 9, 24, 10, 40), None, ["access-request"],
      "Treasury payments approver", "Payments Approver", None, "Harriet Okafor",
      "Request access", "Grace Kim", "Barclays.Net")
    t("ITSD-1088", "Pre-start accounts for Leo Marchetti", SR, "Done", "Done", "Liam Walsh",
      "Ethan Brooks", T(2026, 9, 18, 9, 0), T(2026, 9, 21, 15, 30), ["new-starter"],
      "Start date 12/10/2026 - accounts ready in advance", "Standard user + WMS Supervisor",
      D(2026, 9, 18), "Ethan Brooks", "Request access", "Leo Marchetti", "Active Directory")
    t("ITSD-1090", "Leaver: Chloe Dubois", "Service Request", "Done", "Done", "Liam Walsh",
      "Emma Lindqvist", T(2026, 8, 14, 16, 0), T(2026, 8, 15, 17, 5), ["leaver"],
      "Last day 15/08/2026", "", None, "", "Leaver - remove access", "Chloe Dubois", "All")
    t("ITSD-1093", "SAP user admin for Aisling", SR, "Done", "Done", "Oliver Grant",
      "Aisling O'Neill", T(2026, 7, 14, 11, 25), T(2026, 7, 15, 9, 10), ["privileged", "sap"],
      "Backup for Olly on SU01/PFCG", "Z_BC_USER_ADMIN", None, "Marcus Bell",
      "Request privileged access", "Aisling O'Neill", "SAP S/4HANA PRD", priority="High")
    t("ITSD-1095", "FS00 GL master data - Sofia", SR, "Closed", "Won't Do", "Liam Walsh",
      "Sofia Almeida", T(2026, 7, 16, 10, 0), T(2026, 7, 17, 12, 0), ["access-request", "sap"],
      "", "Z_FI_GL_MASTER", None, "Tomasz Wiśniewski", "Request access", "Sofia Almeida",
      "SAP S/4HANA PRD",
      [(T(2026, 7, 17, 11, 58), "Tomasz Wiśniewski", "Declined - conflicts with GL posting (KF-R2R-01)")])
    t("ITSD-1098", "Leaver: Jack Thompson", "Service Request", "In Progress", "", "Liam Walsh",
      "Emma Lindqvist", T(2026, 7, 10, 17, 30), None, ["leaver"],
      "Last day 10/07/2026", "", None, "", "Leaver - remove access", "Jack Thompson", "All",
      updated=T(2026, 8, 2, 9, 0))
    write_bytes(HERE / "jira" / "Jira Export CSV (all fields) 20260930.csv",
                csv_lines(rows, eol="\r\n").encode("utf-8"))


# --------------------------------------------------------------------------------------------
# 6. ServiceNow list exports (right-click list header > Export > CSV)
# --------------------------------------------------------------------------------------------

def snow_dt(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def servicenow() -> None:
    """sc_req_item and sysapproval_approver list exports. CSV export writes the column (element)
    names as the header and every value in double quotes; reference and choice fields come out
    as display values; dates in the exporting user's format (system default yyyy-MM-dd
    HH:mm:ss, instance time zone); journal fields (comments) keep their
    '<time> - <name> (Comments)' preamble and line breaks."""
    T = dt.datetime
    ritm_header = ["number", "request", "cat_item", "requested_for", "opened_by",
                   "short_description", "u_target_system", "u_access_role", "approval", "stage",
                   "state", "opened_at", "closed_at", "sys_created_on", "assignment_group",
                   "assigned_to"]
    appr_header = ["sysapproval", "approver", "state", "sys_created_on", "sys_updated_on",
                   "sys_updated_by", "comments", "source_table", "document_id"]
    ritms = [ritm_header]
    apprs = [appr_header]
    login = {p.name: p.email_local for p in PEOPLE}
    login["System Administrator"] = "admin"

    def journal(when: dt.datetime, who: str, text: str) -> str:
        return f"{snow_dt(when)} - {who} (Comments)\n{text}\n\n"

    def ritm(num, req, item, req_for, opened_by, short, system, role, approval, stage, state,
             opened, closed, group="KF Service Desk", assigned="Liam Walsh", approvals=()):
        ritms.append([num, req, item, req_for, opened_by, short, system, role, approval, stage,
                      state, snow_dt(opened), snow_dt(closed), snow_dt(opened), group,
                      assigned])
        for approver, astate, created, updated, by, comment in approvals:
            apprs.append([num, approver, astate, snow_dt(created), snow_dt(updated),
                          login[by] if by else "system",
                          journal(updated, by, comment) if comment else "", "sc_req_item",
                          num])

    ritm("RITM0010231", "REQ0010198", "Cloud Access Request", "Owen Price", "Owen Price",
         "AWS kf-prod AdministratorAccess for on-call", "AWS kf-prod", "AdministratorAccess",
         "Approved", "Completed", "Closed Complete", T(2026, 7, 6, 8, 41, 12),
         T(2026, 7, 6, 15, 2, 55), approvals=[
             ("Marcus Bell", "Approved", T(2026, 7, 6, 8, 41, 13), T(2026, 7, 6, 9, 14, 2),
              "Marcus Bell", "Approved - on-call rota")])
    ritm("RITM0010236", "REQ0010203", "Privileged Access Request", "Marcus Bell", "Marcus Bell",
         "Entra Global Administrator (PIM eligible)", "Entra ID", "Global Administrator",
         "Approved", "Completed", "Closed Complete", T(2026, 7, 8, 7, 55, 0),
         T(2026, 7, 8, 8, 20, 31), group="KF Identity", assigned="Owen Price", approvals=[
             ("Marcus Bell", "Approved", T(2026, 7, 8, 7, 55, 1), T(2026, 7, 8, 7, 58, 40),
              "Marcus Bell", "")])
    ritm("RITM0010240", "REQ0010207", "Application Role Request", "Liam Walsh", "Liam Walsh",
         "ServiceNow itil_admin", "ServiceNow PRD", "itil_admin", "Approved", "Completed",
         "Closed Complete", T(2026, 7, 9, 10, 0, 3), T(2026, 7, 9, 16, 45, 0), approvals=[
             ("Aisling O'Neill", "Approved", T(2026, 7, 9, 10, 0, 4), T(2026, 7, 9, 10, 31, 9),
              "Aisling O'Neill", "ok")])
    ritm("RITM0010244", "REQ0010211", "Cloud Access Request", "Oliver Grant", "Oliver Grant",
         "AWS kf-prod ReadOnlyAccess", "AWS kf-prod", "ReadOnlyAccess", "Approved", "Completed",
         "Closed Complete", T(2026, 7, 16, 14, 2, 0), T(2026, 7, 17, 9, 30, 0), approvals=[
             ("Marcus Bell", "Approved", T(2026, 7, 16, 14, 2, 1), T(2026, 7, 21, 18, 3, 44),
              "Marcus Bell", "Approved retrospectively")])
    ritm("RITM0010247", "REQ0010214", "Remote Access (VPN)", "Ben Carter", "Raj Patel",
         "Re-enable VPN for Ben - WMS handover", "Active Directory", "GG-VPN-Users",
         "Approved", "Completed", "Closed Complete", T(2026, 7, 14, 8, 10, 0),
         T(2026, 7, 14, 13, 0, 0), approvals=[
             ("Harriet Okafor", "Approved", T(2026, 7, 14, 8, 10, 1), T(2026, 7, 14, 9, 2, 17),
              "Harriet Okafor", "Fine for two weeks")])
    ritm("RITM0010252", "REQ0010219", "Application Role Request", "Grace Kim", "Grace Kim",
         "Barclays.Net payment release", "Barclays.Net", "Payments Approver", "Rejected",
         "Completed", "Closed Complete", T(2026, 7, 20, 11, 0, 0), T(2026, 7, 23, 10, 0, 0),
         approvals=[
             ("Harriet Okafor", "Rejected", T(2026, 7, 20, 11, 0, 1), T(2026, 7, 21, 8, 30, 0),
              "Harriet Okafor", "Not until dual control is in place")])
    ritm("RITM0010255", "REQ0010222", "Application Role Request", "Zoe Adams", "Ethan Brooks",
         "Salesforce Sales User", "Salesforce", "Sales User", "Approved", "Completed",
         "Closed Complete", T(2026, 7, 28, 11, 20, 0), T(2026, 8, 3, 8, 35, 0), approvals=[
             ("Ethan Brooks", "Approved", T(2026, 7, 28, 11, 20, 1), T(2026, 7, 28, 11, 21, 5),
              "Ethan Brooks", "")])
    ritm("RITM0010259", "REQ0010226", "Application Role Request", "Fatima Zahra",
         "Fatima Zahra", "ServiceNow audit read", "ServiceNow PRD", "snc_read_only",
         "Approved", "Completed", "Closed Complete", T(2026, 8, 4, 9, 0, 0),
         T(2026, 8, 4, 12, 0, 0), approvals=[
             ("Marcus Bell", "Approved", T(2026, 8, 4, 9, 0, 1), T(2026, 8, 4, 9, 40, 0),
              "Marcus Bell", "")])
    ritm("RITM0010262", "REQ0010229", "Cloud Access Request", "Aisling O'Neill",
         "Aisling O'Neill", "AWS kf-prod PowerUserAccess", "AWS kf-prod", "PowerUserAccess",
         "Approved", "Completed", "Closed Complete", T(2026, 8, 11, 10, 5, 0),
         T(2026, 8, 11, 17, 0, 0), approvals=[
             ("Marcus Bell", "Approved", T(2026, 8, 11, 10, 5, 1), T(2026, 8, 11, 16, 58, 2),
              "System Administrator", "Approved on behalf of Marcus (email approval)"),
             ("Owen Price", "No Longer Required", T(2026, 8, 11, 10, 5, 1),
              T(2026, 8, 11, 16, 58, 3), "", "")])
    ritm("RITM0010266", "REQ0010233", "New Starter Accounts", "Leo Marchetti", "Ethan Brooks",
         "Entra account + M365 E3 before start", "Entra ID", "Standard user", "Approved",
         "Completed", "Closed Complete", T(2026, 9, 18, 9, 5, 0), T(2026, 9, 21, 15, 40, 0),
         approvals=[
             ("Ethan Brooks", "Approved", T(2026, 9, 18, 9, 5, 1), T(2026, 9, 18, 9, 30, 0),
              "Ethan Brooks", "")])
    ritm("RITM0010270", "REQ0010237", "Application Role Request", "Nadia Haddad",
         "Nadia Haddad", "Power BI Pro licence", "Power BI", "Pro", "Requested",
         "Waiting for Approval", "Open", T(2026, 9, 25, 14, 12, 0), None, approvals=[
             ("Ben Carter", "Requested", T(2026, 9, 25, 14, 12, 1), T(2026, 9, 25, 14, 12, 1),
              "", "")])
    ritm("RITM0010273", "REQ0010240", "Leaver", "Jack Thompson", "Emma Lindqvist",
         "Disable accounts - leaver 10/07", "All", "", "Not Yet Requested", "Fulfillment",
         "Work in Progress", T(2026, 7, 10, 17, 35, 0), None, assigned="")
    ritm("RITM0010277", "REQ0010244", "Cloud Access Request", "Sofia Almeida", "Sofia Almeida",
         "AWS billing console", "AWS kf-prod", "Billing", "Not Yet Requested",
         "Request Cancelled", "Closed Incomplete", T(2026, 8, 20, 10, 0, 0),
         T(2026, 8, 20, 10, 15, 0))
    write_bytes(HERE / "servicenow" / "sc_req_item.csv",
                csv_lines(ritms, always=True, eol="\n").encode("utf-8"))
    write_bytes(HERE / "servicenow" / "sysapproval_approver.csv",
                csv_lines(apprs, always=True, eol="\n").encode("utf-8"))


# --------------------------------------------------------------------------------------------
# 7. SAP: AGR_USERS (SE16N, "Text with Tabs") and AGR_1251 (SE16 list, "unconverted")
# --------------------------------------------------------------------------------------------

def sap() -> None:
    """AGR_USERS as an SE16N export to a tab-separated local file with technical field names as
    headings: dates in the user's format DD.MM.YYYY, 31.12.9999 meaning 'no end', the DEC
    timestamp CHANGE_TST printed with thousands separators, client 200 rows mixed in,
    composite-role children flagged COL_FLAG=X. AGR_1251 as the SE16 list downloaded
    'unconverted': a 'Table:' / 'Displayed Fields:' preamble, dashed rules, '|'-separated
    columns padded to the field length. Both written in Windows-1252 with CRLF, as SAP GUI
    saves them on a Western-European Windows front end."""
    D_ = dt.date

    def sd(d: dt.date) -> str:
        return d.strftime("%d.%m.%Y")

    def tst(d: dt.date, t: str) -> str:
        raw = d.strftime("%Y%m%d") + t.replace(":", "")
        return f"{int(raw):,}"

    END = D_(9999, 12, 31)
    header = ["MANDT", "AGR_NAME", "UNAME", "FROM_DAT", "TO_DAT", "EXCLUDE", "CHANGE_DAT",
              "CHANGE_TIM", "CHANGE_TST", "ORG_FLAG", "COL_FLAG"]
    rows = [header]

    def a(client, role, user, frm, to, chg, tim, col=""):
        # CHANGE_TST is UTC; London is UTC+1 in summer, so the UTC stamp is an hour behind
        # CHANGE_DAT/CHANGE_TIM (local) for the summer-time rows.
        h, m, s = (int(x) for x in tim.split(":"))
        local = dt.datetime(chg.year, chg.month, chg.day, h, m, s)
        bst = 4 <= chg.month <= 10
        utc = local - dt.timedelta(hours=1 if bst else 0)
        rows.append([client, role, user, sd(frm), sd(to), "", sd(chg), tim,
                     tst(utc.date(), utc.strftime("%H:%M:%S")), "", col])

    a("100", "Z_DISPLAY_ALL", "FZAHRA", D_(2025, 1, 27), END, D_(2025, 1, 27), "10:02:13")
    a("100", "Z_FI_AP_INVOICE", "PRAMAN", D_(2021, 6, 14), END, D_(2021, 6, 14), "09:12:44")
    a("100", "Z_FI_AP_PAYMENT_RUN", "PRAMAN", D_(2026, 7, 3), END, D_(2026, 7, 3), "16:38:02")
    a("100", "Z_MM_VENDOR_MAINT", "PRAMAN", D_(2026, 7, 8), END, D_(2026, 7, 8), "14:02:51")
    a("100", "Z_FI_AP_SUPERVISOR", "DMURPHY", D_(2018, 5, 2), END, D_(2018, 5, 2), "11:20:00")
    a("100", "Z_FI_AP_PAYMENT_RUN", "DMURPHY", D_(2018, 5, 2), END, D_(2018, 5, 2), "11:20:00")
    a("100", "Z_FI_GL_POST", "SALMEIDA", D_(2020, 9, 7), END, D_(2020, 9, 7), "08:45:31")
    a("100", "Z_FI_GL_MASTER", "SALMEIDA", D_(2026, 7, 21), END, D_(2026, 7, 21), "17:55:09")
    a("100", "Z_FI_GL_POST", "FZAHRA", D_(2026, 7, 3), END, D_(2026, 7, 3), "09:10:27")
    a("100", "Z_FI_GL_MASTER", "HOKAFOR", D_(2019, 3, 4), END, D_(2019, 3, 4), "13:00:12")
    a("100", "Z_FI_CONTROLLER", "TWISNIEWSKI", D_(2021, 1, 11), END, D_(2021, 1, 11),
      "10:30:00")
    a("100", "Z_FI_GL_MASTER", "TWISNIEWSKI", D_(2021, 1, 11), END, D_(2021, 1, 11),
      "10:30:00", col="X")
    a("100", "Z_FI_GL_POST", "TWISNIEWSKI", D_(2021, 1, 11), END, D_(2021, 1, 11), "10:30:00",
      col="X")
    a("100", "Z_BC_USER_ADMIN", "AONEILL", D_(2026, 7, 15), END, D_(2026, 7, 15), "09:08:40")
    a("100", "Z_BASIS_ADMIN", "OGRANT", D_(2025, 1, 6), D_(2026, 3, 31), D_(2025, 1, 6),
      "15:12:00")
    a("100", "Z_BASIS_ADMIN", "OGRANT", D_(2026, 4, 1), END, D_(2026, 3, 30), "16:01:44")
    a("100", "Z_BC_USER_ADMIN", "OGRANT", D_(2025, 1, 6), END, D_(2025, 1, 6), "15:12:00")
    a("100", "Z_MM_PO_CREATE", "BCARTER", D_(2016, 8, 20), END, D_(2016, 8, 22), "10:00:00")
    a("100", "Z_MM_GR_POST", "BCARTER", D_(2016, 8, 20), END, D_(2016, 8, 22), "10:00:00")
    a("100", "Z_HR_PAYROLL", "CDUBOIS", D_(2023, 3, 9), D_(2026, 8, 15), D_(2026, 8, 15),
      "17:02:10")
    a("100", "Z_MM_PO_CREATE", "RPATEL", D_(2022, 4, 12), END, D_(2022, 4, 12), "09:30:00")
    a("100", "Z_MM_PO_RELEASE", "RPATEL", D_(2022, 4, 12), END, D_(2022, 4, 12), "09:30:00")
    a("100", "Z_MM_GR_POST", "JTHOMPSON", D_(2023, 5, 22), END, D_(2023, 5, 22), "08:00:00")
    a("100", "Z_FI_EMERGENCY", "FF_ID01", D_(2024, 1, 1), END, D_(2023, 12, 28), "12:00:00")
    a("200", "Z_FI_AP_INVOICE", "PRAMAN", D_(2024, 2, 1), END, D_(2024, 2, 1), "10:11:12")
    text = "".join("\t".join(r) + "\r\n" for r in rows)
    write_bytes(HERE / "sap" / "AGR_USERS.txt", text.encode("cp1252"))

    # AGR_1251 as an SE16 list (field names as column headings), downloaded unconverted.
    fields = [("MANDT", 3), ("AGR_NAME", 30), ("COUNTER", 6), ("OBJECT", 10), ("AUTH", 12),
              ("VARIANT", 4), ("FIELD", 10), ("LOW", 40), ("HIGH", 40), ("MODIFIED", 1),
              ("DELETED", 1), ("COPIED", 1), ("NEU", 1), ("NODE", 6)]
    widths = [max(n, len(name)) for name, n in fields]
    data = []
    counters: dict[str, int] = {}

    def auth(role, obj, auth_name, field, low, high="", deleted="", modified="G"):
        counters[role] = counters.get(role, 0) + 1
        data.append(["100", role, f"{counters[role]:06d}", obj, auth_name, "", field, low, high,
                     modified, deleted, "", "O", f"{counters[role] + 10:06d}"])

    auth("Z_FI_AP_INVOICE", "S_TCODE", "T-KF10000100", "TCD", "FB60")
    auth("Z_FI_AP_INVOICE", "S_TCODE", "T-KF10000100", "TCD", "MIRO")
    auth("Z_FI_AP_INVOICE", "S_TCODE", "T-KF10000100", "TCD", "FB01", deleted="X")
    auth("Z_FI_AP_INVOICE", "F_BKPF_BUK", "T-KF10000101", "ACTVT", "01")
    auth("Z_FI_AP_INVOICE", "F_BKPF_BUK", "T-KF10000101", "BUKRS", "1000", "1999")
    auth("Z_FI_AP_PAYMENT_RUN", "S_TCODE", "T-KF10000200", "TCD", "F110")
    auth("Z_FI_AP_PAYMENT_RUN", "F_REGU_BUK", "T-KF10000201", "FBTCH", "11")
    auth("Z_FI_AP_PAYMENT_RUN", "F_REGU_BUK", "T-KF10000201", "FBTCH", "21")
    auth("Z_FI_AP_PAYMENT_RUN", "F_REGU_BUK", "T-KF10000201", "BUKRS", "*", modified="M")
    auth("Z_MM_VENDOR_MAINT", "S_TCODE", "T-KF10000300", "TCD", "BP")
    auth("Z_MM_VENDOR_MAINT", "F_LFA1_BUK", "T-KF10000301", "ACTVT", "01")
    auth("Z_MM_VENDOR_MAINT", "F_LFA1_BUK", "T-KF10000301", "ACTVT", "02")
    auth("Z_FI_GL_POST", "S_TCODE", "T-KF10000400", "TCD", "FB50")
    auth("Z_FI_GL_POST", "F_BKPF_BUK", "T-KF10000401", "ACTVT", "01")
    auth("Z_FI_GL_MASTER", "S_TCODE", "T-KF10000500", "TCD", "FS00")
    auth("Z_FI_GL_MASTER", "F_SKA1_BUK", "T-KF10000501", "ACTVT", "01")
    auth("Z_MM_PO_CREATE", "S_TCODE", "T-KF10000600", "TCD", "ME21N")
    auth("Z_MM_PO_RELEASE", "S_TCODE", "T-KF10000700", "TCD", "ME29N")
    auth("Z_MM_PO_RELEASE", "M_EINK_FRG", "T-KF10000701", "FRGCO", "01", "02")
    auth("Z_BC_USER_ADMIN", "S_TCODE", "T-KF10000800", "TCD", "SU01")
    auth("Z_BC_USER_ADMIN", "S_TCODE", "T-KF10000800", "TCD", "PFCG")
    auth("Z_BC_USER_ADMIN", "S_USER_GRP", "T-KF10000801", "ACTVT", "*", modified="U")
    auth("Z_HR_PAYROLL", "S_TCODE", "T-KF10000900", "TCD", "PC00_M08_CALC")
    auth("Z_HR_PAYROLL", "S_TCODE", "T-KF10000900", "TCD", "PA30")
    auth("Z_DISPLAY_ALL", "S_TCODE", "T-KF10001000", "TCD", "*", modified="M")

    def line(values):
        return "|" + "|".join(str(v).ljust(w) for v, w in zip(values, widths)) + "|"

    width = len(line([name for name, _ in fields]))
    rule = "-" * width
    out = ["", "Table:          AGR_1251",
           f"Displayed Fields:  {len(fields)} of  {len(fields)}  Fixed Columns:"
           f"                 3  List Width 0250", "", rule, line([n for n, _ in fields]), rule]
    out += [line(r) for r in data]
    out += [rule, ""]
    write_bytes(HERE / "sap" / "AGR_1251_se16_unconverted.txt",
                "\r\n".join(out).encode("cp1252"))


# --------------------------------------------------------------------------------------------
# 8. Microsoft Entra ID sign-in logs, portal "Download > CSV" (interactive user sign-ins)
# --------------------------------------------------------------------------------------------

ENTRA_COLUMNS = [
    "Date (UTC)", "Request ID", "User agent", "Correlation ID", "User ID", "User", "Username",
    "User type", "Cross tenant access type", "Incoming token type", "Authentication Protocol",
    "Unique token identifier", "Original transfer method", "Client credential type",
    "Token Protection - Sign In Session", "Token Protection - Sign In Session StatusCode",
    "Application", "Application ID ", "App owner tenant ID", "Resource", "Resource ID ",
    "Resource tenant ID", "Resource owner tenant ID", "Home tenant ID", "Home tenant name",
    "IP address", "Location", "Status", "Sign-in error code", "Failure reason", "Client app",
    "Device ID", "Browser", "Operating System", "Compliant", "Managed", "Join Type",
    "Multifactor authentication result", "Multifactor authentication auth method",
    "Multifactor authentication auth detail", "Authentication requirement",
    "Sign-in identifier", "Session ID", "IP address (seen by resource)",
    "Through Global Secure Access", "Global Secure Access IP address",
    "Autonomous system  number", "Flagged for review", "Token issuer type",
    "Incoming token type", "Token issuer name", "Latency", "Conditional Access",
    "Managed Identity type", "Associated Resource Id", "Federated Token Id",
    "Federated Token Issuer",
]


def entra() -> None:
    """InteractiveSignIns_<from>_<to>.csv as the Entra admin center writes it. Header spelled as
    in real downloads (two trailing-space headers, a double space in 'Autonomous system
    number', 'Incoming token type' twice); UTC ISO 8601 timestamps; Location packed as
    'City, Region, Country'; no BOM."""
    T = dt.datetime
    tenant = guid("kf-tenant")
    apps = {
        "Office 365 Exchange Online": ("00000002-0000-0ff1-ce00-000000000000",
                                       "Office 365 Exchange Online",
                                       "00000002-0000-0ff1-ce00-000000000000"),
        "Microsoft Azure Portal": ("c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
                                   "Windows Azure Service Management API",
                                   "797f4846-ba00-4fd7-ba43-dac1f8f63013"),
        "SAP Fiori (KF PRD)": (guid("app-sap-fiori"), "SAP Fiori (KF PRD)",
                               guid("app-sap-fiori")),
        "ServiceNow": (guid("app-servicenow"), "ServiceNow", guid("app-servicenow")),
        "Manhattan WMS": (guid("app-wms"), "Manhattan WMS", guid("app-wms")),
        "Salesforce": (guid("app-salesforce"), "Salesforce", guid("app-salesforce")),
    }
    edge = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87")
    iphone = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
    rows = [ENTRA_COLUMNS]

    def s(when, upn_local, display, app, status, code="0", reason="", ip="81.2.69.160",
          location="London, England, GB", agent=edge, browser="Edge 126.0.2592", os_="Windows10",
          compliant="True", managed="True", join="Microsoft Entra hybrid joined",
          mfa_result="MFA requirement satisfied by claim in the token", mfa_method="",
          requirement="Multifactor authentication", user_type="Member", ca="Success",
          asn="20712", latency="142", upn=None, home=None, cross="None"):
        seed = f"{when.isoformat()}-{upn_local}-{app}"
        app_id, resource, resource_id = apps[app]
        username = upn or f"{upn_local}@{DOMAIN}"
        device = guid("device-" + upn_local) if managed == "True" else ""
        v = {c: "" for c in ENTRA_COLUMNS}
        v.update({
            "Date (UTC)": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "Request ID": guid("req-" + seed),
            "User agent": agent, "Correlation ID": guid("corr-" + seed),
            "User ID": guid("user-" + upn_local), "User": display, "Username": username,
            "User type": user_type, "Cross tenant access type": cross,
            "Authentication Protocol": "None", "Original transfer method": "None",
            "Client credential type": "None", "Application": app,
            "App owner tenant ID": "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
            if app_id.startswith(("0000", "c44b")) else tenant,
            "Resource": resource, "Resource tenant ID": tenant,
            "Resource owner tenant ID": tenant, "Home tenant ID": home or tenant,
            "Home tenant name": "" if home else "Kestrel Freight Ltd", "IP address": ip,
            "Location": location, "Status": status, "Sign-in error code": code,
            "Failure reason": reason, "Client app": "Browser", "Device ID": device,
            "Browser": browser, "Operating System": os_, "Compliant": compliant,
            "Managed": managed, "Join Type": join,
            "Multifactor authentication result": mfa_result,
            "Multifactor authentication auth method": mfa_method,
            "Authentication requirement": requirement, "Sign-in identifier": username,
            "Session ID": guid("session-" + upn_local + when.strftime("%Y%m%d")),
            "IP address (seen by resource)": ip, "Through Global Secure Access": "False",
            "Autonomous system  number": asn, "Flagged for review": "False",
            "Token issuer type": "AzureAD", "Latency": latency, "Conditional Access": ca,
        })
        v["Application ID "] = app_id
        v["Resource ID "] = resource_id
        v["Unique token identifier"] = hexid("uti-" + seed, 22)
        row = [v[c] for c in ENTRA_COLUMNS]
        # 'Incoming token type' appears twice; both cells say "None" in real files.
        for i, c in enumerate(ENTRA_COLUMNS):
            if c == "Incoming token type":
                row[i] = "None"
        rows.append(row)

    s(T(2026, 7, 1, 7, 58, 12), "harriet.okafor", "Harriet Okafor", "SAP Fiori (KF PRD)",
      "Success")
    s(T(2026, 7, 3, 16, 41, 5), "priya.raman", "Priya Raman", "SAP Fiori (KF PRD)", "Success")
    s(T(2026, 7, 6, 8, 5, 44), "marcus.bell", "Marcus Bell", "Microsoft Azure Portal", "Success",
      mfa_result="MFA completed in Azure AD", mfa_method="Microsoft Authenticator app",
      latency="311")
    s(T(2026, 7, 14, 9, 12, 30), "ben.carter", "Ben Carter", "Manhattan WMS", "Success",
      ip="86.150.22.41", location="Ipswich, England, GB", agent=iphone, browser="Mobile Safari",
      os_="Ios 17.5", compliant="False", managed="False", join="",
      mfa_result="MFA completed in Azure AD", mfa_method="Text message",
      asn="2856")
    s(T(2026, 7, 14, 9, 10, 2), "ben.carter", "Ben Carter", "Manhattan WMS", "Failure",
      code="50126", reason="Error validating credentials due to invalid username or password.",
      ip="86.150.22.41", location="Ipswich, England, GB", agent=iphone, browser="Mobile Safari",
      os_="Ios 17.5", compliant="False", managed="False", join="", mfa_result="",
      requirement="Single-factor authentication", ca="Not Applied", asn="2856")
    s(T(2026, 7, 22, 6, 30, 51), "jack.thompson", "Jack Thompson", "Manhattan WMS", "Success",
      location="Felixstowe, England, GB", ip="51.148.73.9", asn="13285")
    s(T(2026, 8, 16, 8, 1, 7), "chloe.dubois", "Chloe Dubois", "Office 365 Exchange Online",
      "Failure", code="50057",
      reason="The user account is disabled.", ip="90.252.14.200", location="Reading, England, GB",
      compliant="False", managed="False", join="", mfa_result="",
      requirement="Single-factor authentication", ca="Not Applied", asn="5607")
    s(T(2026, 7, 14, 9, 40, 19), "oliver.grant", "Oliver Grant", "Microsoft Azure Portal",
      "Success", ip="92.40.180.7", location="Leeds, England, GB", compliant="False",
      managed="False", join="", mfa_result="MFA completed in Azure AD",
      mfa_method="Microsoft Authenticator app", user_type="Guest",
      upn="oliver.grant_grantbasis.example#EXT#@kestrelfreight.onmicrosoft.com",
      home=guid("grantbasis-tenant"), cross="B2B collaboration", asn="12576")
    s(T(2026, 8, 3, 8, 45, 0), "zoe.adams", "Zoe Adams", "Salesforce", "Interrupted",
      code="50074", reason="Strong Authentication is required.", mfa_result="",
      requirement="Multifactor authentication")
    s(T(2026, 8, 3, 8, 46, 12), "zoe.adams", "Zoe Adams", "Salesforce", "Success",
      mfa_result="MFA completed in Azure AD", mfa_method="Microsoft Authenticator app")
    s(T(2026, 9, 22, 19, 4, 33), "leo.marchetti", "Leo Marchetti", "Manhattan WMS", "Success",
      ip="109.144.211.3", location="Colchester, England, GB", compliant="False",
      managed="False", join="", mfa_result="MFA completed in Azure AD",
      mfa_method="Text message", asn="5378")
    s(T(2026, 9, 2, 2, 13, 56), "svc-sapbatch", "svc-sapbatch", "SAP Fiori (KF PRD)", "Success",
      ip="20.77.134.9", location="London, England, GB", agent="python-requests/2.32.3",
      browser="Python Requests 2.32", os_="", compliant="", managed="", join="", mfa_result="",
      requirement="Single-factor authentication", ca="Not Applied", asn="8075")
    s(T(2026, 9, 15, 12, 0, 41), "aisling.oneill", "Aisling O'Neill", "ServiceNow", "Success")
    s(T(2026, 9, 29, 23, 58, 2), "owen.price", "Owen Price", "Microsoft Azure Portal",
      "Success", ip="185.220.101.45", location="Frankfurt am Main, Hessen, DE",
      compliant="False", managed="False", join="", mfa_result="MFA completed in Azure AD",
      mfa_method="Microsoft Authenticator app", asn="60729")
    rows[1:] = sorted(rows[1:], key=lambda r: r[0], reverse=True)   # newest first, as listed
    text = csv_lines(rows, eol="\r\n")
    write_bytes(HERE / "entra" / "InteractiveSignIns_2026-07-01_2026-09-30.csv",
                text.encode("utf-8"))


# --------------------------------------------------------------------------------------------
# 9. "Approved administrators" register as a company keeps it (illustrative .xlsx)
# --------------------------------------------------------------------------------------------

FIXED_TIME = dt.datetime(2026, 9, 30, 12, 0, 0)


def _save(book, path: Path) -> None:
    """Save, then rewrite the zip with fixed member timestamps so reruns give identical bytes."""
    import io
    import zipfile
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
            if info.filename == "docProps/core.xml":   # openpyxl stamps 'modified' at save time
                import re
                stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                                 rb"\g<1>" + stamp + rb"\g<2>", content)
            dst.writestr(fixed, content)
    write_bytes(path, out.getvalue())


def _book():
    import openpyxl
    book = openpyxl.Workbook()
    book.properties.creator = "Marcus Bell"
    book.properties.lastModifiedBy = "Marcus Bell"
    book.properties.created = FIXED_TIME
    book.properties.modified = FIXED_TIME
    return book


def approved_admins() -> None:
    """An IT-owned Excel register of approved administrator accounts. Illustrative: companies
    invent their own headers. Title and owner rows above the header, merged title cell, dates
    that are real Excel dates (dd/mm/yyyy format) next to dates typed as text ('12th March
    2026', '06.07.26'), 'TBC' / 'N/A' / 'Pending' placeholders, packed 'system:role' cells, a
    notes block under the table, a second sheet with the authorised approvers per system and a
    hidden 'Lists' sheet for drop-downs."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    book = _book()
    ws = book.active
    ws.title = "Register"
    ws["A1"] = "Kestrel Freight Ltd \u2014 Approved Administrators Register"
    ws["A1"].font = Font(bold=True, size=14)
    ws.merge_cells("A1:J1")
    ws["A2"] = "Owner: IT Director (M. Bell)   |   Last reviewed: 03/09/2026   |   Classification: Internal"
    header = ["Admin Name", "System", "Access Level", "Account / Username", "Approved By",
              "Approval Date", "Access Granted", "Review Due", "Ticket Ref", "Notes"]
    ws.append([])
    ws.append(header)
    for cell in ws[4]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="1F4E78")
        cell.alignment = Alignment(wrap_text=True)
    d = dt.datetime
    entries = [
        ["Marcus Bell", "Active Directory", "Domain Admin", "KF\\mbell-adm", "Marcus Bell",
         d(2026, 7, 6), d(2026, 7, 6), d(2027, 1, 6), "ITSD-1052", "DC upgrade"],
        ["Aisling O'Neill", "Active Directory", "Domain Admin", "KF\\aoneill-adm",
         "Marcus Bell", "12th March 2025", d(2025, 3, 12), d(2026, 3, 31), "ITSD-0877", ""],
        ["Aisling O'Neill", "SAP S/4HANA PRD", "User Administrator", "SAP:Z_BC_USER_ADMIN",
         "Marcus Bell", "TBC", d(2026, 7, 15), d(2027, 1, 15), "ITSD-1093",
         "Backup for Olly"],
        ["Oliver Grant", "SAP S/4HANA PRD", "Basis Administrator",
         "SAP:Z_BASIS_ADMIN; SAP:Z_BC_USER_ADMIN", "Marcus Bell", d(2025, 1, 2),
         d(2025, 1, 6), "N/A - contractor", "PO-22417", "Contract to 31/03/2027"],
        ["Oliver Grant", "Entra ID", "Privileged Role Administrator",
         "oliver.grant_grantbasis.example#EXT#@kestrelfreight.onmicrosoft.com", "Liam Walsh",
         d(2026, 7, 20), d(2026, 7, 14), d(2027, 1, 20), "ITSD-1071", "Guest account"],
        ["Owen Price", "Entra ID", "Global Administrator", "owen.price@kestrelfreight.example",
         "Ethan Brooks", d(2024, 9, 1), d(2024, 9, 2), d(2025, 9, 1), "", "PIM eligible"],
        ["Owen Price", "AWS (kf-prod)", "AdministratorAccess", "AWS:owen.price",
         "Marcus Bell", "06.07.26", d(2026, 7, 6), d(2027, 1, 6), "RITM0010231", "On-call"],
        ["Marcus Bell", "Entra ID", "Global Administrator", "marcus.bell@kestrelfreight.example",
         "Marcus Bell", d(2026, 7, 8), d(2026, 7, 8), d(2027, 1, 8), "RITM0010236", ""],
        ["Liam Walsh", "ServiceNow PRD", "itil_admin", "lwalsh", "Aisling O'Neill",
         d(2026, 7, 9), d(2026, 7, 9), d(2027, 1, 9), "RITM0010240", ""],
        ["Ben Carter", "Manhattan WMS", "System Admin", "bcarter", "Harriet Okafor",
         d(2023, 2, 1), d(2023, 2, 1), d(2024, 2, 1), "", "Leaver? check with HR"],
        ["FF_ID01", "SAP S/4HANA PRD", "Firefighter (emergency)", "SAP:Z_FI_EMERGENCY",
         "Harriet Okafor", d(2024, 1, 1), d(2024, 1, 1), "Monthly log review",
         "CHG0004410", "Owner: H. Okafor; log reviewed by Internal Audit"],
        ["svc-sapbatch", "SAP S/4HANA PRD", "Batch (background jobs)", "SAP:BATCH_USER",
         "N/A", "N/A", "", "N/A", "", "System account - no interactive logon"],
        ["Ethan Brooks", "Entra ID", "Global Administrator (break-glass)",
         "breakglass01@kestrelfreight.onmicrosoft.com", "Board", d(2022, 5, 16),
         d(2022, 5, 16), d(2026, 5, 16), "", "Sealed envelope in safe"],
        ["Aisling O'Neill", "AWS (kf-prod)", "PowerUserAccess", "AWS:aisling.oneill",
         "Marcus Bell", "Pending", d(2026, 8, 11), "", "RITM0010262", ""],
    ]
    for row in entries:
        ws.append(row)
    for row in ws.iter_rows(min_row=5, max_row=4 + len(entries)):
        for cell in row:
            if isinstance(cell.value, dt.datetime):
                cell.number_format = "dd/mm/yyyy"
    last = 4 + len(entries)
    ws.append([])
    ws.append(["* Domain Admin and Global Administrator entries are re-approved every 6 months."])
    ws.append(["* Leavers: move the row to the 'Leavers' tab - do not delete (audit trail)."])
    widths = [18, 18, 28, 44, 16, 16, 16, 16, 14, 36]
    for i, w in enumerate(widths):
        ws.column_dimensions["ABCDEFGHIJ"[i]].width = w
    ws.freeze_panes = "A5"
    ws.auto_filter.ref = f"A4:J{last}"

    ap = book.create_sheet("Authorised Approvers")
    ap.append(["System", "Authorised approver", "Role", "Scope / limits"])
    for row in [
        ["Active Directory", "Marcus Bell", "IT Director", "All privileged groups"],
        ["Active Directory", "Ethan Brooks", "CEO", "Approvals for the IT Director's own access"],
        ["Entra ID", "Marcus Bell", "IT Director", "All directory roles"],
        ["Entra ID", "Ethan Brooks", "CEO", "Approvals for the IT Director's own access"],
        ["SAP S/4HANA PRD", "Harriet Okafor", "CFO", "Finance roles (Z_FI_*, Z_MM_*)"],
        ["SAP S/4HANA PRD", "Tomasz Wiśniewski", "Financial Controller", "Z_FI_* except own"],
        ["SAP S/4HANA PRD", "Marcus Bell", "IT Director", "Technical roles (Z_BC_*, Z_BASIS_*)"],
        ["ServiceNow PRD", "Marcus Bell", "IT Director", "admin, itil_admin"],
        ["AWS (kf-prod)", "Marcus Bell", "IT Director", "All permission sets"],
        ["Manhattan WMS", "Ben Carter", "Warehouse Manager", "All WMS roles"],
    ]:
        ap.append(row)
    ap["A13"] = "Last updated 14/01/2026"

    lists = book.create_sheet("Lists")
    for i, system in enumerate(["Active Directory", "Entra ID", "SAP S/4HANA PRD",
                                "ServiceNow PRD", "AWS (kf-prod)", "Manhattan WMS"], start=1):
        lists.cell(row=i, column=1, value=system)
    lists.sheet_state = "hidden"
    dv = DataValidation(type="list", formula1="=Lists!$A$1:$A$6", allow_blank=True)
    ws.add_data_validation(dv)
    dv.add(f"B5:B{last}")
    _save(book, HERE / "approved_admins" / "kestrel_approved_administrators_register.xlsx")


# --------------------------------------------------------------------------------------------
# 10. SoD rule matrix with the company's own headers (illustrative .xlsx)
# --------------------------------------------------------------------------------------------

def sod_matrix() -> None:
    """A segregation-of-duties rule book in the style of SAP GRC Access Control rule sets
    (risk = two conflicting functions; function = actions/permissions), kept by the company in
    Excel with its own headers: 'Risks' (one rule per row), 'Functions' (function -> permission,
    one row per transaction or authorisation value, some cells packed 'FB60; MIRO'), and
    'Mitigations' (mitigating controls assigned to users, with validity dates)."""
    from openpyxl.styles import Font

    book = _book()
    book.properties.creator = "Harriet Okafor"
    book.properties.lastModifiedBy = "Fatima Zahra"
    risks = book.active
    risks.title = "Risks"
    risks.append(["Risk ID", "Risk Description", "Function 1", "Function 2", "Risk Rating",
                  "Business Process", "Mitigating Control", "Risk Owner", "Source / basis"])
    for row in [
        ["KF-P2P-01", "Maintain vendor master and pay vendors (fictitious vendor)", "F-VEND-MAINT",
         "F-AP-PAYRUN", "High", "Procure to Pay", "MC-03", "Declan Murphy",
         "SAP GRC std. risk P001-like; public ruleset PUB-AP-01"],
        ["KF-P2P-02", "Enter AP invoices and execute payment run", "F-AP-INVOICE", "F-AP-PAYRUN",
         "High", "Procure to Pay", "MC-01", "Declan Murphy", ""],
        ["KF-P2P-03", "Create purchase orders and release (approve) them", "F-PO-CREATE",
         "F-PO-RELEASE", "HIGH", "Procure to Pay", "", "Harriet Okafor", "PUB-P2P-01"],
        ["KF-P2P-04", "Post goods receipt and pay the vendor", "F-GR-POST", "F-AP-PAYRUN",
         "Medium", "Procure to Pay", "", "Declan Murphy", "PUB-P2P-02 (D365 example)"],
        ["KF-R2R-01", "Maintain GL accounts and post journals (hide activity)", "F-GL-MASTER",
         "F-GL-POST", "Medium", "Record to Report", "MC-05", "Tomasz Wiśniewski",
         "SAP GRC F001-like; PUB-GL-01"],
        ["KF-BAS-01", "Maintain users and assign roles", "F-USER-ADMIN", "F-ROLE-ASSIGN",
         "Critical", "Basis / Security", "", "Marcus Bell", "PUB-SEC-01"],
        ["KF-HR-01", "Maintain payroll master data and run payroll", "F-PAY-MASTER", "F-PAY-RUN",
         3, "Hire to Retire", "", "Emma Lindqvist", ""],
        ["KF-AUD-01", "Internal audit staff with posting access (sensitive access)", "F-GL-POST",
         None, "High", "Record to Report", "", "Harriet Okafor",
         "Single-function risk - Function 2 intentionally blank"],
    ]:
        risks.append(row)
    for cell in risks[1]:
        cell.font = Font(bold=True)

    fn = book.create_sheet("Functions")
    fn.append(["Function ID", "Function Description", "System", "Action (T-code)",
               "Auth Object", "Field", "Value From", "Value To"])
    for row in [
        ["F-VEND-MAINT", "Maintain vendor master", "SAP S/4HANA PRD", "BP", "F_LFA1_BUK",
         "ACTVT", "01", "02"],
        ["F-AP-INVOICE", "Enter AP invoices", "SAP S/4HANA PRD", "FB60; MIRO", "F_BKPF_BUK",
         "ACTVT", "01", None],
        ["F-AP-PAYRUN", "Execute payment run", "SAP S/4HANA PRD", "F110", "F_REGU_BUK", "FBTCH",
         "11", "21"],
        ["F-PO-CREATE", "Create purchase order", "SAP S/4HANA PRD", "ME21N", "M_BEST_BSA",
         "ACTVT", "01", None],
        ["F-PO-RELEASE", "Release purchase order", "SAP S/4HANA PRD", "ME29N", "M_EINK_FRG",
         "FRGCO", "01", "02"],
        ["F-GL-MASTER", "Maintain GL account master", "SAP S/4HANA PRD", "FS00", "F_SKA1_BUK",
         "ACTVT", "01", None],
        ["F-GL-POST", "Post GL journal", "SAP S/4HANA PRD", "FB50", "F_BKPF_BUK", "ACTVT",
         "01", None],
        ["F-USER-ADMIN", "Maintain user master", "SAP S/4HANA PRD", "SU01", "S_USER_GRP",
         "ACTVT", "01", "02"],
        ["F-ROLE-ASSIGN", "Assign roles to users", "SAP S/4HANA PRD", "PFCG; SU01",
         "S_USER_AGR", "ACTVT", "22", None],
        ["F-PAY-MASTER", "Maintain payroll master data", "SAP S/4HANA PRD", "PA30",
         "P_ORGIN", "INFTY", "0008", None],
        ["F-PAY-RUN", "Run payroll (GB)", "SAP S/4HANA PRD", "PC00_M08_CALC", "P_ABRKS",
         "ABRKS", "*", None],
    ]:
        fn.append(row)
    fn.append([])
    fn.append(["Note: F-GR-POST (MIGO goods receipt) still to be defined - see action log #14"])
    for cell in fn[1]:
        cell.font = Font(bold=True)

    mi = book.create_sheet("Mitigations")
    mi.append(["Control ID", "Control Description", "Risk ID", "User ID", "Monitor",
               "Valid From", "Valid To", "Frequency"])
    d = dt.datetime
    for row in [
        ["MC-01", "Weekly review of payment proposal vs. invoices entered by same user",
         "KF-P2P-02", "PRAMAN", "Declan Murphy", d(2025, 7, 1), d(2026, 6, 30), "Weekly"],
        ["MC-01", "Weekly review of payment proposal vs. invoices entered by same user",
         "KF-P2P-02", "DMURPHY", "Tomasz Wiśniewski", d(2025, 7, 1), d(2027, 6, 30), "Weekly"],
        ["MC-03", "Vendor master change report (S_ALR_87012089) reviewed by AP Supervisor",
         "KF-P2P-01", "PRAMAN", "Declan Murphy", d(2026, 7, 8), "31.12.9999", "Monthly"],
        ["MC-05", "Monthly review of GL master changes by CFO", "KF-R2R-01", "TWISNIEWSKI",
         "Harriet Okafor", d(2021, 1, 11), None, "Monthly"],
        ["MC-05", "Monthly review of GL master changes by CFO", "KF-R2R-01", "SALMEIDA",
         "Tomasz Wiśniewski", "TBC", None, "Monthly"],
    ]:
        mi.append(row)
    for ws in (mi,):
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, dt.datetime):
                    cell.number_format = "dd/mm/yyyy"
    for cell in mi[1]:
        cell.font = Font(bold=True)
    _save(book, HERE / "sod_matrix" / "kestrel_sod_ruleset_v3.xlsx")


SHAPES = {
    "bamboohr": bamboohr,
    "rippling": rippling,
    "sailpoint": sailpoint,
    "midpoint": midpoint,
    "jira": jira,
    "servicenow": servicenow,
    "sap": sap,
    "entra": entra,
    "approved_admins": approved_admins,
    "sod_matrix": sod_matrix,
}


def main(argv: list[str]) -> None:
    names = argv or list(SHAPES)
    for name in names:
        SHAPES[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
