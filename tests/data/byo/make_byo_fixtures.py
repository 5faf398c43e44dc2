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
    if always or any(c in value for c in (sep, '"', "\n", "\r")) or value != value.strip():
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


SHAPES = {
    "bamboohr": bamboohr,
    "rippling": rippling,
}


def main(argv: list[str]) -> None:
    names = argv or list(SHAPES)
    for name in names:
        SHAPES[name]()


if __name__ == "__main__":
    main(sys.argv[1:])
