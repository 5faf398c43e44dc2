"""Time the full-population analytics of the control families on about a million grants.

Run from the repository root:

    python benchmarks/bench_analytics.py [--grants 1000000] [--people 100000] [--repeat 1]

Builds canonical tables the way the readers return them (no CSV parsing: that is the readers'
benchmark): an HR roster of ``--people`` workers (5 % terminated in the period), an ERP-like role
listing of ``--grants`` user x role rows (about 10 % granted in the period, a few privileged and
conflicting roles, a few orphans), approved access requests for most new grants, a privileged
approved list, a mitigation register and review decisions. Then times each rule the control
families run over the full population, and prints rows, hits and seconds per rule, the total and
the peak resident memory. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from workbench import analytics  # noqa: E402

PERIOD_START, PERIOD_END = pd.Timestamp("2026-07-01", tz="UTC"), pd.Timestamp("2026-10-01", tz="UTC")
AS_OF = pd.Timestamp("2026-09-30", tz="UTC")
ROLES = np.array(["Read Only - Reporting", "AP Clerk - Vendor Maintenance", "AP Manager - Payment Approval",
                  "AP Payment Run", "GL Accountant - Journal Entry", "GL Controller - Journal Approval",
                  "GL Master Data", "Purchasing - Create PO", "Purchasing - Approve PO", "System Administrator",
                  "Security Administrator"])
# role weights: mostly harmless roles, few administrators, so conflicts and drift stay rare
WEIGHTS = np.array([40, 8, 2, 6, 12, 3, 1, 12, 3, 2, 2])
DEPARTMENTS = np.array(["Accounts Payable", "Accounting", "Finance", "Procurement", "IT", "Engineering", "Sales", "People"])


def rules() -> pd.DataFrame:
    posting = tuple(ROLES[1:9])
    rows = [("SOD-01", (ROLES[1],), (ROLES[2], ROLES[3])), ("SOD-02", (ROLES[7],), (ROLES[8],)),
            ("SOD-03", (ROLES[6],), (ROLES[4],)), ("SOD-04", (ROLES[4],), (ROLES[5],)),
            ("SOD-05", (ROLES[10],), posting), ("SOD-06", (ROLES[9],), posting)]
    return pd.DataFrame({"rule_id": [r[0] for r in rows], "system": "erp", "function_a": "side A", "function_b": "side B",
                         "entitlements_a": [r[1] for r in rows], "entitlements_b": [r[2] for r in rows],
                         "risk_level": "High", "description": "", "line": np.arange(2, 2 + len(rows))})


def build(grants: int, people: int, seed: int = 7) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.char.add("E", np.arange(people).astype(str))
    emails = np.char.add(np.char.add("user", np.arange(people).astype(str)), "@corp.example")
    managers = np.where(np.arange(people) < 100, "", ids[rng.integers(0, 100, people)])
    terminated = rng.random(people) < 0.05
    term_days = pd.to_datetime("2026-07-01") + pd.to_timedelta(rng.integers(0, 92, people), unit="D")
    identities = pd.DataFrame({
        "employee_id": ids, "email": pd.array(emails, dtype="string"), "manager_employee_id": pd.array(managers, dtype="string"),
        "department": DEPARTMENTS[rng.integers(0, len(DEPARTMENTS), people)],
        "hire_date": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 2000, people), unit="D"),
        "termination_date": pd.Series(term_days).where(terminated).astype("datetime64[s]"),
        "full_name": ids, "status": np.where(terminated, "terminated", "active"),
    })
    identities["manager_employee_id"] = identities["manager_employee_id"].replace("", pd.NA)

    owner = np.sort(rng.integers(0, people, grants))
    orphan = rng.random(grants) < 0.0005
    login = np.char.add("u", owner.astype(str))
    login = np.where(orphan, np.char.add("temp", owner.astype(str)), login)
    # Most grants are application roles no SoD rule names; a fifth of the people hold one compatible
    # finance profile; one grant in 500 is a random finance or admin role (the rare conflicts).
    role = np.char.add("APP-ROLE-", rng.integers(0, 400, grants).astype(str)).astype(object)
    profiles = [(ROLES[0],), (ROLES[1], ROLES[7]), (ROLES[3], ROLES[4]), (ROLES[4],), (ROLES[8],), (ROLES[5],)]
    finance_people = rng.random(people) < 0.2
    profile_of = rng.integers(0, len(profiles), people)
    rank = np.arange(grants) - np.searchsorted(owner, owner)          # position of the grant among its owner's
    for k, profile in enumerate(profiles):
        for position, name in enumerate(profile):
            hit = finance_people[owner] & (profile_of[owner] == k) & (rank == position)
            role[hit] = name
    stray = rng.random(grants) < 0.002
    role[stray] = ROLES[rng.choice(len(ROLES), int(stray.sum()), p=WEIGHTS / WEIGHTS.sum())]
    role = role.astype(str)
    start = pd.Timestamp("2023-10-01", tz="UTC")
    granted = start + pd.to_timedelta(rng.integers(0, 1096 * 86400, grants), unit="s")
    leaver = terminated[owner]
    removed_day = pd.Series(term_days[owner]).dt.tz_localize("UTC") + pd.to_timedelta(
        rng.choice([0, 0, 0, 1, 12], grants), unit="D") + pd.Timedelta(hours=18)
    keep_active = rng.random(grants) < 0.002
    removed = removed_day.where(leaver & ~keep_active & (removed_day.to_numpy() > granted.to_numpy()))
    listing = pd.DataFrame({
        "system": "erp", "account_id": login, "login": pd.array(login, dtype="string"), "login_original": login,
        "email": pd.array(np.where(orphan, None, emails[owner]), dtype="string"), "entitlement": role,
        "entitlement_type": "role", "privileged": np.isin(role, ROLES[9:]),
        "granted_at": pd.Series(granted).astype("datetime64[us, UTC]"),
        "removed_at": pd.Series(removed).astype("datetime64[us, UTC]"),
        "account_status": np.where(removed.notna(), "disabled", "active"),
        "last_login_at": (AS_OF - pd.to_timedelta(rng.integers(0, 100 * 86400, grants), unit="s")).astype("datetime64[us, UTC]"),
        "last_login_state": "used",
        "created_at": pd.Series(granted).astype("datetime64[us, UTC]"),
        "line": np.arange(2, grants + 2), "listing": "erp_user_roles.csv",
    })
    # one account per login: account-level attributes agree across its rows
    first = listing.groupby("login")["last_login_at"].transform("first")
    listing["last_login_at"] = first

    new = (listing["granted_at"] >= PERIOD_START) & (listing["granted_at"] < PERIOD_END)
    with_request = new & (rng.random(grants) < 0.98)
    req = listing[with_request]
    n = len(req)
    late = rng.random(n) < 0.01
    approver_ok = rng.random(n) < 0.99
    person = req["email"].astype("string")
    manager_email = person.map(analytics.manager_emails(identities))
    requests = pd.DataFrame({
        "ticket": np.char.add("RITM", np.arange(n).astype(str)), "requested_for": person,
        "opened_by": person, "system": "erp", "entitlement": req["entitlement"].to_numpy(), "action": "grant",
        "approval": "approved",
        "approver": manager_email.where(approver_ok, "someone@corp.example").to_numpy(),
        "approved_at": (req["granted_at"] + pd.to_timedelta(np.where(late, 3, -5), unit="h")).to_numpy(),
        "line": np.arange(2, n + 2),
    })
    held = listing[listing["removed_at"].isna()]
    privileged = held[held["privileged"]]
    approved = privileged.sample(frac=0.97, random_state=1)
    approvals = pd.DataFrame({"system": approved["system"], "account": approved["login"], "entitlement": approved["entitlement"],
                              "approved_by": "ciso@corp.example", "approved_on": pd.Timestamp("2025-01-01"),
                              "expires_on": pd.to_datetime(np.where(rng.random(len(approved)) < 0.05, "2026-06-30", "2027-06-30")),
                              "line": np.arange(2, len(approved) + 2)})
    conflicted = held[held["entitlement"] == ROLES[8]].head(200)
    mitigations = pd.DataFrame({"mitigation_id": np.char.add("M", np.arange(len(conflicted)).astype(str)), "rule_id": "SOD-02",
                                "login": conflicted["login"].to_numpy(), "mitigating_control": "review",
                                "approved_by": "cfo@corp.example", "valid_from": pd.Timestamp("2026-01-01"),
                                "valid_to": pd.Timestamp("2026-12-31"), "line": np.arange(2, len(conflicted) + 2)})
    decisions = pd.DataFrame({"system": held["system"].to_numpy(), "subject_email": held["email"].to_numpy(),
                              "entitlement": held["entitlement"].to_numpy(),
                              "decision": np.where(rng.random(len(held)) < 0.999, "approve", "undecided")})
    return {"identities": identities, "listing": listing, "requests": requests, "approvals": approvals,
            "mitigations": mitigations, "decisions": decisions}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grants", type=int, default=1_000_000, help="grant rows (default 1,000,000)")
    parser.add_argument("--people", type=int, default=100_000, help="HR workers (default 100,000)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    data = build(args.grants, args.people)
    print(f"Built {len(data['listing']):,} grants, {len(data['identities']):,} people, {len(data['requests']):,} requests "
          f"in {time.perf_counter() - started:.1f} s")
    identities, timings = data["identities"], []

    def timed(name, function, rows):
        began = time.perf_counter()
        result = function()
        seconds = time.perf_counter() - began
        hits = len(result) if isinstance(result, pd.DataFrame) else 0
        timings.append((name, rows, hits, seconds))
        return result

    grants = timed("correlate_grants", lambda: analytics.correlate_grants(data["listing"], identities), len(data["listing"]))
    held = grants[analytics.held_at_extraction(grants)]
    # provisioning
    new = timed("new_grants", lambda: analytics.new_grants(grants, PERIOD_START, PERIOD_END), len(grants))
    new = new.assign(entitlement_level=True)
    matched = timed("match_approvals", lambda: analytics.match_approvals(new, data["requests"], identities), len(new))
    for rule in (analytics.grants_without_approval, analytics.approvals_after_grant, analytics.self_approved_grants,
                 analytics.approvers_not_manager):
        timed(rule.__name__, lambda rule=rule: rule(matched, "erp.csv", "requests.csv"), len(matched))
    # segregation of duties
    conflicts = timed("sod_rule_conflicts", lambda: analytics.sod_rule_conflicts(held, rules()), len(held))
    conflicts = timed("apply_mitigations", lambda: analytics.apply_mitigations(conflicts, data["mitigations"], AS_OF), len(conflicts))
    timed("sod_conflicts", lambda: analytics.sod_conflicts(conflicts, "erp.csv"), len(conflicts))
    attribute = [analytics.AttributeRule("ATTR-01", "payment approval", ("erp",), (ROLES[2],), "department",
                                         ("Accounts Payable", "Finance"))]
    timed("sod_attribute_conflicts", lambda: analytics.sod_attribute_conflicts(held, identities, attribute, "erp.csv"), len(held))
    # privileged access
    members = timed("privileged_memberships", lambda: analytics.privileged_memberships(grants), len(grants))
    status = timed("approval_status", lambda: analytics.approval_status(members, data["approvals"], AS_OF), len(members))
    timed("privileged_drift", lambda: analytics.privileged_drift(status, "erp.csv", "approved.csv"), len(status))
    timed("privileged_not_reviewed", lambda: analytics.privileged_not_reviewed(
        members, data["decisions"], identities, pd.Timestamp("2026-08-14 23:59", tz="UTC"), "erp.csv"), len(members))
    # termination and authentication
    inventory = timed("listing_accounts", lambda: analytics.listing_accounts(grants, "erp.csv"), len(grants))
    timed("terminated_with_active_access", lambda: analytics.terminated_with_active_access(inventory, identities, AS_OF),
          len(inventory))
    leavers = timed("leaver_accounts", lambda: analytics.leaver_accounts(inventory, identities, "2026-07-01", "2026-09-30"),
                    len(inventory))
    timed("late_deprovisioning", lambda: analytics.late_deprovisioning(leavers, 1), len(leavers))
    timed("access_after_termination", lambda: analytics.access_after_termination(leavers), len(leavers))
    timed("orphan_accounts", lambda: analytics.orphan_accounts(inventory), len(inventory))
    timed("dormant_accounts", lambda: analytics.dormant_accounts(inventory, AS_OF, 90, 90), len(inventory))

    width = max(len(t[0]) for t in timings)
    print(f"\n{'rule':<{width}} {'rows in':>12} {'rows out':>9} {'seconds':>8}")
    for name, rows, hits, seconds in timings:
        print(f"{name:<{width}} {rows:>12,} {hits:>9,} {seconds:>8.2f}")
    total = sum(t[3] for t in timings)
    print(f"\nTotal analytics time: {total:.1f} s over {len(data['listing']):,} grants; peak RSS {peak_rss_mb():,.0f} MiB")


if __name__ == "__main__":
    main()
