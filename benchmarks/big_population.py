"""Write the period folder of a large company for the large-population benchmark (bench_big.py).

Osprey Logistics plc (not the demo company): an HR roster (Workday "All Workers" report), the ERP's
security listing (user x role, Ledgerline-shaped: ``ledgerline_erp_user_roles``), the identity
provider's application assignment report (Okta "Current Assignments": ``okta_app_assignments``), a
certification campaign's decisions and status report (SailPoint-shaped), an SoD rule set and its
mitigation register, and the period file with one user access review (UAR-01, the ten applications)
and one segregation-of-duties control (SOD-01, the ERP).

    python benchmarks/big_population.py OUT [--grants 10000000] [--review-lines 1000000] [--seed 7]

Why a script of its own rather than ``workbench demo --employees N``: the demo writes one company
with every export kind, sized by people; this benchmark needs one listing of a fixed number of
grants and one campaign of a fixed number of lines, in product shapes the readers support, and an
answer key. Columns are built with numpy and pyarrow (no Python loop per row) and written by
pyarrow's CSV writer (ten million grants: 147 s here at load average 9); the same seed writes the
same bytes.

Sizes: people = review lines / 10 (everyone holds the ten applications, each reviewed once), the
ERP holds the remaining grants (grants - review lines) spread over those people. Planted, and listed
in ``answer_key.csv``: three application grants the campaign left out (``review_population_gap``),
three review lines for access the listing does not show (``review_line_not_in_listing``), four
unmitigated SoD conflicts (``sod_conflict``); a fifth conflict is mitigated and must not be reported.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pv

DOMAIN = "ospreylogistics.example"
APPS = ["Salesforce", "Zendesk", "Jira Cloud", "Confluence", "Slack", "Box", "Tableau", "Concur", "Coupa", "DocuSign"]
ROLE_POOL = 500
SOD_RULES = [  # rule id, role a, role b
    ("OSP-P2P-01", "Z_P2P_VENDOR_MAINT", "Z_P2P_PAYMENT_RUN"),
    ("OSP-P2P-02", "Z_P2P_PO_CREATE", "Z_P2P_PO_RELEASE"),
    ("OSP-R2R-01", "Z_R2R_GL_POST", "Z_R2R_GL_APPROVE"),
    ("OSP-BAS-01", "Z_BASIS_USER_ADMIN", "Z_BASIS_ADMIN"),
]
SNAPSHOT = "2026-08-14"
CAMPAIGN = "2c91808a8f3e4b10018f3e5a2b7c0001"


def _text(values: list[str]) -> pa.Array:
    return pa.array(values, pa.string())


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded numbers, vectorised."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def _stamps(seconds: np.ndarray, layout: str) -> pa.Array:
    return pc.strftime(pa.array(seconds.astype("datetime64[s]")), format=layout)


def _write(path: Path, columns: dict[str, pa.Array]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(columns)
    pv.write_csv(table, path, write_options=pv.WriteOptions(quoting_style="none"))
    return table.num_rows


def people_of(people: int) -> dict[str, pa.Array]:
    """Per person: employee id, name, e-mail, ERP user id, manager index (-1: none), department."""
    index = np.arange(people)
    manager = np.where(index == 0, -1, (index - 1) // 8)
    first = pc.binary_join_element_wise(pa.scalar("Worker"), pc.cast(pa.array(index), pa.string()), "")
    return {"index": pa.array(index), "employee_id": _ids("OS", index, 7), "first": first,
            "name": pc.binary_join_element_wise(first, pa.scalar("Osprey"), " "),
            "email": pc.binary_join_element_wise(pc.utf8_lower(first), pa.scalar(f".osprey@{DOMAIN}"), ""),
            "user_id": _ids("U", index, 7), "manager": pa.array(manager),
            "department": _ids("Operations ", index % 20, 2)}


def write_company(out: Path, grants: int, review_lines: int, seed: int) -> dict[str, int]:
    """Write the exports, the period file and the answer key into ``out``; the counts written."""
    rng = np.random.default_rng(seed)
    people = max(review_lines // len(APPS), 50)
    per_person = max((grants - people * len(APPS)) // people, 1)
    if per_person > ROLE_POOL // 2:
        sys.exit(f"--grants {grants:,} needs more than {ROLE_POOL // 2} ERP roles per person; lower it or raise "
                 "--review-lines")
    p = people_of(people)
    counts: dict[str, int] = {}
    key: list[tuple[str, str, str, str, str]] = []

    # HR roster (Workday All Workers)
    manager = p["manager"].to_numpy()
    manager_id = pc.if_else(pa.array(manager < 0), pa.scalar(""), pc.take(p["employee_id"], pa.array(np.maximum(manager, 0))))
    counts["workers"] = _write(out / "hr" / "workday_workers.csv", {
        "Employee ID": p["employee_id"], "Worker": p["name"], "Email - Work": p["email"],
        "Business Title": pc.binary_join_element_wise(pa.scalar("Analyst"), pc.cast(pa.array(p["index"].to_numpy() % 7), pa.string()), " "),
        "Supervisory Organization": p["department"], "Manager Employee ID": manager_id,
        "Cost Center": _ids("CC-", p["index"].to_numpy() % 20, 3),
        "Hire Date": pa.repeat(pa.scalar("2020-01-06"), people), "Worker Status": pa.repeat(pa.scalar("Active"), people),
        "Termination Date": pa.repeat(pa.scalar(""), people), "Last Day of Work": pa.repeat(pa.scalar(""), people),
        "Primary Reason": pa.repeat(pa.scalar(""), people)})

    # ERP security listing: per_person distinct roles per person from a pool, plus the SoD roles
    person = np.repeat(np.arange(people), per_person)
    k = np.tile(np.arange(per_person), people)
    coprime = np.array([s for s in range(1, ROLE_POOL) if np.gcd(s, ROLE_POOL) == 1])
    offset = rng.integers(0, ROLE_POOL, people)
    step = coprime[rng.integers(0, len(coprime), people)]
    role = (offset[person] + k * step[person]) % ROLE_POOL
    roles = _ids("Z_OSP_ROLE_", np.arange(ROLE_POOL), 3)
    assigned_day = rng.integers(0, 900, len(person))
    # planted SoD: persons 11..14 hold both roles of rules 1..4; person 15 holds rule 1's pair, mitigated;
    # persons 16..19 hold one side only (no conflict)
    sod_person, sod_role = [], []
    for i, (_rule, a, b) in enumerate(SOD_RULES):
        sod_person += [11 + i, 11 + i, 16 + i]
        sod_role += [a, b, a]
    sod_person += [15, 15]
    sod_role += [SOD_RULES[0][1], SOD_RULES[0][2]]
    all_person = np.concatenate([person, np.array(sod_person)])
    role_names = pa.concat_arrays([pc.take(roles, pa.array(role)), _text(sod_role)])
    granted = _stamps(np.datetime64("2023-06-01T09:00:00", "s").astype(np.int64)
                      + np.concatenate([assigned_day, np.zeros(len(sod_person), dtype=np.int64)]) * 86400,
                      "%Y-%m-%d %H:%M:%S")
    n = len(all_person)
    taken = pa.array(all_person)
    counts["erp_grants"] = _write(out / "apps" / "erp_user_roles.csv", {
        "USER_ID": pc.take(p["user_id"], taken), "USER_NAME": pc.take(p["name"], taken),
        "EMAIL": pc.take(p["email"], taken), "ROLE_NAME": role_names, "ROLE_ASSIGNED_DATE": granted,
        "END_DATE": pa.repeat(pa.scalar(""), n), "ACCOUNT_STATUS": pa.repeat(pa.scalar("ACTIVE"), n),
        "LAST_LOGON": pa.repeat(pa.scalar("2026-09-28 08:15:00"), n),
        "CREATED_DATE": pa.repeat(pa.scalar("2023-06-01 09:00:00"), n)})
    for i, (rule, a, b) in enumerate(SOD_RULES):
        key.append(("SOD-01", "sod_conflict", f"worker{11 + i}.osprey@{DOMAIN}", "erp", f"{rule}: {a} + {b}"))

    # Okta application assignments: everyone holds the ten applications
    app_person = np.repeat(np.arange(people), len(APPS))
    app = np.tile(np.arange(len(APPS)), people)
    # planted: the listing does not show three grants that the campaign reviews
    not_listed = [(21, 2), (22, 5), (23, 7)]
    # planted: the campaign leaves out three grants that the listing shows
    not_reviewed = [(31, 1), (32, 4), (33, 9)]
    position = app_person * len(APPS) + app
    listed = ~np.isin(position, [a * len(APPS) + b for a, b in not_listed])
    reviewed = ~np.isin(position, [a * len(APPS) + b for a, b in not_reviewed])
    apps = _text(APPS)

    def app_columns(mask: np.ndarray) -> tuple[pa.Array, pa.Array, pa.Array]:
        who = pa.array(app_person[mask])
        return pc.take(p["name"], who), pc.take(p["email"], who), pc.take(apps, pa.array(app[mask]))

    names, emails, app_names = app_columns(listed)
    m = int(listed.sum())
    counts["app_grants"] = _write(out / "idp" / "okta_app_assignments.csv", {
        "User": names, "Login": emails, "Application name": app_names,
        "Application instance": pc.utf8_lower(pc.replace_substring(app_names, " ", "_")), "Application login": emails,
        "Assigned on": pa.repeat(pa.scalar("2024-02-01T09:00:00.000Z"), m), "Unassigned on": pa.repeat(pa.scalar(""), m),
        "Last login": pa.repeat(pa.scalar("2026-09-29T10:00:00.000Z"), m), "Last password change": pa.repeat(pa.scalar(""), m)})
    for a, b in not_reviewed:
        key.append(("UAR-01", "review_population_gap", f"worker{a}.osprey@{DOMAIN}", _system(APPS[b]), APPS[b]))
    for a, b in not_listed:
        key.append(("UAR-01", "review_line_not_in_listing", f"worker{a}.osprey@{DOMAIN}", _system(APPS[b]), APPS[b]))

    # Campaign decisions: one line per application grant, reviewed by the person's manager (the
    # top of the tree by the applications' owner, worker 1), ten minutes apart
    names, emails, app_names = app_columns(reviewed)
    who = app_person[reviewed]
    reviewer = np.where(manager[who] < 0, 1, manager[who])
    r = int(reviewed.sum())
    block = np.arange(r) % 80
    decided = (np.datetime64("2026-08-16T08:00:00", "s").astype(np.int64) + (reviewer % 25) * 86400 + block * 600)
    reviewer_taken = pa.array(reviewer)
    counts["review_lines"] = _write(out / "reviews" / "uar_2026Q3_decisions.csv", {
        "Campaign ID": pa.repeat(pa.scalar(CAMPAIGN), r), "Campaign Name": pa.repeat(pa.scalar("2026-Q3 Application Access Review"), r),
        "Certification ID": _ids("cert-", reviewer, 7), "Reviewer Name": pc.take(p["name"], reviewer_taken),
        "Reviewer Email": pc.take(p["email"], reviewer_taken), "Identity Name": names, "Identity Email": emails,
        "Source": app_names, "Access Type": pa.repeat(pa.scalar("ENTITLEMENT"), r), "Access Name": app_names,
        "Privileged": pa.repeat(pa.scalar("false"), r), "Decision": pa.repeat(pa.scalar("APPROVE"), r),
        "Decision Date": _stamps(decided, "%Y-%m-%dT%H:%M:%S.000Z"), "Comments": pa.repeat(pa.scalar(""), r)})
    with open(out / "reviews" / "uar_2026Q3_campaign_status.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([
            ["Campaign ID", "Campaign Name", "Type", "Date of Creation", "Date of Activation", "Deadline", "Status",
             "Completed Date", "Total Items", "Decisions Made", "Signed Off By", "Signed Off Date"],
            [CAMPAIGN, "2026-Q3 Application Access Review", "MANAGER", f"{SNAPSHOT}T06:00:00Z", "2026-08-15T09:00:00Z",
             "2026-09-15T23:59:59Z", "COMPLETED", "2026-09-12T17:30:00Z", str(r), str(r), "Worker1 Osprey",
             "2026-09-12T17:45:00Z"]])

    # SoD rules and mitigations
    (out / "policy").mkdir(parents=True, exist_ok=True)
    with open(out / "policy" / "sod_rules.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["rule_id", "system", "function_a", "entitlements_a", "function_b", "entitlements_b",
                         "risk_level", "description"])
        for rule, a, b in SOD_RULES:
            writer.writerow([rule, "erp", f"Holds {a}", a, f"Holds {b}", b, "High", f"{a} with {b}"])
    with open(out / "policy" / "sod_mitigations.csv", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([
            ["mitigation_id", "rule_id", "login", "mitigating_control", "approved_by", "valid_from", "valid_to"],
            ["MIT-0001", SOD_RULES[0][0], "U0000015", "Monthly review of vendor payments by the Controller",
             f"worker1.osprey@{DOMAIN}", "2026-01-01", "2026-12-31"]])
    with open(out / "answer_key.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["control_id", "rule", "subject", "system", "detail"])
        writer.writerows(key)
    (out / "osprey-2026-Q3.yaml").write_text(_period_file(), encoding="utf-8")
    counts["grants"] = counts["erp_grants"] + counts["app_grants"]
    return counts


def _system(app: str) -> str:
    return app.casefold().replace(" ", "_")


def _period_file() -> str:
    apps = "\n".join(f"  - id: {_system(a)}\n    name: {a}\n    soc2_in_boundary: true\n"
                     f"    owner: worker1.osprey@{DOMAIN}" for a in APPS)
    listing = "    extracted_at: 2026-10-01T06:00:00Z"
    return f"""# Osprey Logistics plc, 2026-Q3: the large-population benchmark's company (benchmarks/big_population.py).
entity: Osprey Logistics plc
period:
  id: 2026-Q3
  start: 2026-07-01
  end: 2026-09-30
preparer: Dana Reyes, IT Audit Senior
reviewer: Sam Okoro, Head of Internal Audit
seed: 20260930
max_export_size: 8 GiB

systems:
  - id: erp
    name: Osprey ERP
    sox_financially_significant: true
    soc2_in_boundary: false
{apps}

sources:
  - id: hr_workers
    kind: workday_workers
    path: hr/workday_workers.csv
    source_system: Workday (All Workers report)
    extracted_at: 2026-10-01T06:00:00Z
  - id: erp_roles
    kind: ledgerline_erp_user_roles
    path: apps/erp_user_roles.csv
    source_system: Osprey ERP (security listing, user x role)
    system: erp
    extracted_at: 2026-10-01T06:00:00Z
    timezone: UTC
  - id: app_assignments
    kind: okta_app_assignments
    path: idp/okta_app_assignments.csv
    source_system: Okta (Current Assignments report)
{listing}
  - id: uar_decisions
    kind: campaign_decisions
    path: reviews/uar_2026Q3_decisions.csv
    source_system: SailPoint ISC (certification campaign export)
    extracted_at: 2026-10-01T06:00:00Z
  - id: uar_campaign
    kind: campaign_status
    path: reviews/uar_2026Q3_campaign_status.csv
    source_system: SailPoint ISC (Campaign Status Report)
    extracted_at: 2026-10-01T06:00:00Z
  - id: sod_rules
    kind: sod_rules
    path: policy/sod_rules.csv
    source_system: Osprey SoD rule set (Compliance)
    extracted_at: 2026-10-01T06:00:00Z
  - id: sod_mitigations
    kind: sod_mitigations
    path: policy/sod_mitigations.csv
    source_system: Osprey SoD mitigation register (Compliance)
    extracted_at: 2026-10-01T06:00:00Z

controls:
  - id: UAR-01
    procedure: user_access_review
    title: Quarterly application access review
    description: Each quarter, managers review every worker's application access in a certification campaign.
    owner: Chief Information Security Officer
    frequency: quarterly
    frameworks:
      soc2: [CC6.2, CC6.3]
    systems: [{", ".join(_system(a) for a in APPS)}]
    sources:
      hr: hr_workers
      review_decisions: uar_decisions
      review_campaign: uar_campaign
      access_listings: [erp_roles, app_assignments]
    sampling:
      approach: statistical
      method: binomial
      confidence: 0.95
      tolerable_rate: 0.05
      expected_rate: 0.0
    settings:
      snapshot_date: {SNAPSHOT}
  - id: SOD-01
    procedure: segregation_of_duties
    title: Segregation of duties in the ERP
    description: Incompatible ERP roles are not combined in one person unless an approved mitigation covers it.
    owner: Chief Financial Officer
    frequency: quarterly
    frameworks:
      sox:
        itgc_domain: access_to_programs_and_data
        objective: ERP access does not combine incompatible duties unless a current mitigation covers it.
    systems: [erp]
    sources:
      hr: hr_workers
      access_listings: [erp_roles, app_assignments]
      sod_rules: sod_rules
      sod_mitigations: sod_mitigations
    sampling:
      approach: statistical
      method: binomial
      confidence: 0.95
      tolerable_rate: 0.05
      expected_rate: 0.0
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--grants", type=int, default=200_000)
    parser.add_argument("--review-lines", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    counts = write_company(args.out, args.grants, args.review_lines, args.seed)
    print(", ".join(f"{k}: {v:,}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
