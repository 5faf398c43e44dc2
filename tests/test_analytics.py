"""Full-population analytics on small hand-built canonical tables: each rule hits what it should."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from workbench import analytics, removals
from workbench.snapshots import split_by_system

UTC = "UTC"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


def decisions(rows: list[dict]) -> pd.DataFrame:
    base = {"campaign_id": "C1", "reviewer_name": "Rita Reviewer", "reviewer_email": "rita@x.example",
            "subject_name": "Sam Subject", "subject_email": "sam@x.example", "system": "erp",
            "application": "ERP", "entitlement": "AP Clerk", "privileged": False, "decision": "approve",
            "decided_at": ts("2026-08-20 10:00"), "line": 2}
    frame = pd.DataFrame([base | r | {"line": i + 2} for i, r in enumerate(rows)])
    frame["decided_at"] = pd.to_datetime(frame["decided_at"], utc=True)
    return frame


IDENTITIES = pd.DataFrame({
    "employee_id": ["000001", "000002", "000003"],
    "email": ["rita@x.example", "sam@x.example", "lea@x.example"],
    "manager_employee_id": [pd.NA, "000001", "000001"],
    "hire_date": pd.to_datetime(["2020-01-01", "2021-01-01", "2026-08-20"]),
    "termination_date": pd.to_datetime([None, None, "2026-08-18"]),
})


def grants(rows: list[dict]) -> pd.DataFrame:
    base = {"system": "erp", "account_id": "SAM", "login": "sam", "login_original": "SAM", "email": "sam@x.example",
            "entitlement": "AP Clerk", "privileged": False, "granted_at": ts("2026-01-01"), "removed_at": pd.NaT}
    frame = pd.DataFrame([base | r | {"line": i + 2} for i, r in enumerate(rows)])
    for column in ("granted_at", "removed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return analytics.correlate_grants(frame, IDENTITIES)


def revocation_hits(frame: pd.DataFrame, listing: pd.DataFrame, moment: pd.Timestamp) -> pd.DataFrame:
    """The revocation findings of ``frame``'s revoke lines proven against one later ERP listing (``erp.csv``,
    showing the system at ``moment``), with a 5-business-day SLA: the path the access review takes."""
    later = split_by_system("erp_roles", "erp.csv", "grants", moment, listing)
    proofs = removals.prove_revocations(frame[frame["decision"] == "revoke"], later, None, 5, "uar.csv")
    return analytics.revocations_not_executed_proven(frame, proofs, "uar.csv", 5)


def test_business_days():
    start = pd.Series(pd.to_datetime(["2026-09-04", "2026-09-04", "2026-09-04", None], utc=True))
    end = pd.Series(pd.to_datetime(["2026-09-04", "2026-09-07", "2026-09-18", "2026-09-18"], utc=True))
    assert analytics.business_days_between(start, end).tolist() == [0, 1, 10, pd.NA]


def test_self_review_hits_only_own_lines():
    frame = decisions([{}, {"subject_email": "rita@x.example", "subject_name": "Rita Reviewer"}])
    hits = analytics.self_reviews(frame, "uar.csv")
    assert hits[["rule", "subject"]].values.tolist() == [["self_review", "rita@x.example"]]
    assert hits.loc[0, "evidence_reference"] == "uar.csv line 3"


def test_undecided_lines():
    frame = decisions([{}, {"decision": "undecided", "decided_at": None}])
    hits = analytics.undecided_lines(frame, "uar.csv")
    assert hits["subject"].tolist() == ["sam@x.example"] and hits["rule"].tolist() == ["undecided_review_line"]


def test_approval_of_terminated_user_on_or_after_termination_only():
    frame = decisions([
        {"subject_email": "lea@x.example", "decided_at": ts("2026-08-18 09:00")},
        {"subject_email": "lea@x.example", "entitlement": "GL", "decided_at": ts("2026-08-17 09:00")},
    ])
    hits = analytics.approvals_of_terminated(frame, IDENTITIES, "uar.csv")
    assert hits["detail_key"].tolist() == ["erp|AP Clerk"]


def test_rubber_stamping_needs_all_three_signals():
    fast = [{"reviewer_email": "fast@x.example", "entitlement": f"E{i}",
             "decided_at": ts("2026-08-20 10:00") + pd.Timedelta(seconds=4 * i)} for i in range(25)]
    slow = [{"reviewer_email": "slow@x.example", "entitlement": f"E{i}",
             "decided_at": ts("2026-08-20 10:00") + pd.Timedelta(minutes=5 * i)} for i in range(25)]
    few = [{"reviewer_email": "few@x.example", "entitlement": f"E{i}",
            "decided_at": ts("2026-08-20 10:00") + pd.Timedelta(seconds=2 * i)} for i in range(5)]
    mixed = [{"reviewer_email": "mixed@x.example", "entitlement": f"E{i}", "decision": "revoke" if i % 5 == 0 else "approve",
              "decided_at": ts("2026-08-20 10:00") + pd.Timedelta(seconds=3 * i)} for i in range(25)]
    hits = analytics.rubber_stamping(decisions(fast + slow + few + mixed), "uar.csv")
    assert hits["subject"].tolist() == ["fast@x.example"]
    assert "25 of 25" in hits.loc[0, "description"]


def test_revocation_still_held_or_late_is_a_hit_and_timely_one_is_not():
    frame = decisions([
        {"decision": "revoke", "entitlement": "AP Clerk", "decided_at": ts("2026-08-20 10:00")},
        {"decision": "revoke", "entitlement": "GL", "decided_at": ts("2026-08-20 10:00")},
        {"decision": "revoke", "entitlement": "PO", "decided_at": ts("2026-08-20 10:00")},
        {"decision": "revoke", "entitlement": "Gone", "decided_at": ts("2026-08-20 10:00")},
    ])
    listing = grants([
        {"entitlement": "AP Clerk"},                                            # still held
        {"entitlement": "GL", "removed_at": ts("2026-09-10")},                  # 15 business days late
        {"entitlement": "PO", "removed_at": ts("2026-08-21")},                  # on time
    ])
    hits = revocation_hits(frame, listing, ts("2026-10-01 06:00"))
    assert sorted(hits["detail_key"]) == ["erp|AP Clerk", "erp|GL"]
    assert "still held" in hits.set_index("detail_key").loc["erp|AP Clerk", "description"]


def test_population_gaps_include_uncorrelated_accounts_and_skip_service_accounts():
    listing = grants([
        {},                                                                      # reviewed
        {"entitlement": "GL"},                                                   # held, not reviewed
        {"entitlement": "PO", "granted_at": ts("2026-09-01")},                   # granted after snapshot
        {"login": "temp01", "login_original": "TEMP01", "email": pd.NA, "entitlement": "AP Clerk"},  # orphan
        {"login": "svc-batch", "login_original": "svc-batch", "email": pd.NA},   # service account
    ])
    hits = analytics.review_population_gaps(listing, decisions([{}]), IDENTITIES, ts("2026-08-14 23:59"), ["erp"], "erp.csv")
    assert sorted(zip(hits["subject"], hits["detail_key"])) == [("sam@x.example", "erp|GL"), ("temp01", "erp|AP Clerk")]


def test_undated_listing_counts_only_people_hired_by_the_snapshot():
    listing = grants([{"email": "lea@x.example", "login": "lea", "granted_at": pd.NaT}])
    hits = analytics.review_population_gaps(listing, decisions([{}]), IDENTITIES, ts("2026-08-14 23:59"), ["erp"], "x")
    assert hits.empty, "lea was hired after the snapshot: her access cannot be in the campaign"



def test_an_account_without_an_hr_identity_matches_its_own_review_line():
    """Issue 13 (6.7): review lines match listing grants by system + account when there is no HR person."""
    listing_rows = grants([
        {"login": "temp01", "login_original": "TEMP01", "email": "temp01@contractor.example", "privileged": True,
         "entitlement": "Sys Admin"},                                           # reviewed under its account e-mail
        {"login": "temp02", "login_original": "TEMP02", "email": pd.NA, "entitlement": "AP Clerk"},  # under its login
        {"login": "temp03", "login_original": "TEMP03", "email": pd.NA, "entitlement": "GL"},        # not reviewed
    ])
    assert not listing_rows["correlated"].any()
    lines = decisions([{"subject_email": "temp01@contractor.example", "subject_name": "Temp One",
                        "entitlement": "Sys Admin", "privileged": True},
                       {"subject_email": "temp02", "subject_name": "Temp Two", "decision": "revoke"}])
    snapshot = ts("2026-08-14 23:59")
    gaps = analytics.review_population_gaps(listing_rows, lines, IDENTITIES, snapshot, ["erp"], "erp.csv")
    assert sorted(zip(gaps["subject"], gaps["detail_key"])) == [("temp03", "erp|GL")]
    assert analytics.review_lines_not_in_listing(lines.assign(decision="approve"), listing_rows, IDENTITIES,
                                                 snapshot, "uar.csv").empty
    assert analytics.privileged_not_reviewed(listing_rows.iloc[:1], lines, IDENTITIES, snapshot, "erp.csv").empty
    still_held = revocation_hits(lines, listing_rows, ts("2026-10-01"))
    assert still_held["subject"].tolist() == ["temp02"]
    correlated = grants([{}])                                                   # a person's grant: by HR e-mail only
    assert not analytics.review_lines_not_in_listing(decisions([{"subject_email": "sam"}]), correlated, IDENTITIES,
                                                     snapshot, "uar.csv").empty


def test_campaign_timeliness():
    campaign = pd.Series({"activated_at": ts("2026-08-17"), "completed_at": ts("2026-09-11"), "deadline": ts("2026-09-15"),
                          "signed_off_by": "CISO", "signed_off_at": ts("2026-09-12")})
    checks = analytics.campaign_timeliness(campaign, dt.date(2026, 8, 14), 5, 30)
    assert checks["passed"].tolist() == [True, True, True, True]
    late = campaign.copy()
    late["completed_at"] = ts("2026-09-16")  # within 30 days of launch, after the deadline
    assert analytics.campaign_timeliness(late, dt.date(2026, 8, 14), 5, 30)["passed"].tolist() == [True, True, False, True]
    assert not analytics.campaign_timeliness(campaign, dt.date(2026, 8, 1), 5, 30)["passed"].iloc[0]


@pytest.mark.parametrize("rule_fn", [analytics.self_reviews, analytics.undecided_lines])
def test_clean_population_has_no_hits(rule_fn):
    assert rule_fn(decisions([{}, {"subject_email": "lea@x.example"}]), "uar.csv").empty


# --- the control families' rules (provisioning, SoD, privileged access, termination, authentication) ---

PEOPLE = pd.DataFrame({
    "employee_id": ["000001", "000002", "000003", "000004"],
    "email": ["rita@x.example", "sam@x.example", "lea@x.example", "hugo@x.example"],
    "full_name": ["Rita", "Sam", "Lea", "Hugo"],
    "department": ["Finance", "Accounts Payable", "People", "IT"],
    "manager_employee_id": [pd.NA, "000001", "000001", "000001"],
    "hire_date": pd.to_datetime(["2020-01-01", "2021-01-01", "2022-01-01", "2026-09-01"]),
    "termination_date": pd.to_datetime([None, None, "2026-08-14", None]),   # Friday
    "status": ["active", "active", "terminated", "active"],
})


def listing(rows: list[dict]) -> pd.DataFrame:
    """Correlated grants of the canonical shape, one per row (defaults: Sam's ERP role)."""
    base = {"system": "erp", "account_id": "SAM", "login": "sam", "login_original": "SAM", "email": "sam@x.example",
            "entitlement": "AP Clerk", "privileged": False, "granted_at": ts("2026-01-01"), "removed_at": pd.NaT,
            "account_status": "active", "last_login_at": ts("2026-09-20"), "last_login_state": "used",
            "created_at": ts("2021-01-04")}
    frame = pd.DataFrame([base | r | {"line": i + 2} for i, r in enumerate(rows)])
    for column in ("granted_at", "removed_at", "last_login_at", "created_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return analytics.correlate_grants(frame, PEOPLE)


def requests(rows: list[dict]) -> pd.DataFrame:
    base = {"ticket": "RITM1", "requested_for": "sam@x.example", "opened_by": "sam@x.example", "system": "erp",
            "entitlement": "AP Clerk", "action": "grant", "approval": "approved", "approver": "rita@x.example",
            "approved_at": ts("2026-07-09 09:00")}
    frame = pd.DataFrame([base | {"ticket": f"RITM{i + 1}"} | r | {"line": i + 2} for i, r in enumerate(rows)])
    frame["approved_at"] = pd.to_datetime(frame["approved_at"], utc=True)
    return frame


def provisioning_rules(matched: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([rule(matched, "erp.csv", "req.csv") for rule in (
        analytics.grants_without_approval, analytics.approvals_after_grant, analytics.self_approved_grants,
        analytics.approvers_not_manager)], ignore_index=True)


def test_new_grants_are_the_grants_made_in_the_period():
    frame = listing([{"granted_at": ts("2026-06-30 23:59")}, {"granted_at": ts("2026-07-01 00:00")},
                     {"granted_at": ts("2026-09-30 23:59")}, {"granted_at": ts("2026-10-01 00:00")}])
    new = analytics.new_grants(frame, ts("2026-07-01"), ts("2026-10-01"))
    assert new["line"].tolist() == [3, 4]


def test_each_provisioning_rule_hits_its_own_grant_and_a_clean_grant_is_clean():
    grants = listing([
        {"entitlement": "Clean", "granted_at": ts("2026-07-10 10:00")},
        {"entitlement": "NoTicket", "granted_at": ts("2026-07-10 10:00")},
        {"entitlement": "Late", "granted_at": ts("2026-07-10 10:00")},
        {"entitlement": "Self", "granted_at": ts("2026-07-10 10:00")},
        {"entitlement": "Peer", "granted_at": ts("2026-07-10 10:00")},
    ]).assign(entitlement_level=True)
    tickets = requests([
        {"entitlement": "Clean"},
        {"entitlement": "NoTicket", "approval": "rejected"},                     # a rejected request is no approval
        {"entitlement": "Late", "approved_at": ts("2026-07-10 11:00")},
        {"entitlement": "Self", "approver": "sam@x.example"},
        {"entitlement": "Peer", "approver": "lea@x.example"},
    ])
    hits = provisioning_rules(analytics.match_approvals(grants, tickets, PEOPLE))
    found = sorted(zip(hits["rule"], hits["detail_key"].str.split("|").str[1]))
    assert found == [("access_without_approval", "NoTicket"), ("approval_after_grant", "Late"),
                     ("approver_not_manager", "Peer"), ("self_approval", "Self")]
    assert set(hits["subject"]) == {"sam@x.example"} and set(hits["severity"]) <= {"high", "medium"}
    assert "req.csv line" in hits.set_index("rule").loc["approval_after_grant", "evidence_reference"]


def test_the_best_request_supports_a_grant_and_app_assignments_match_any_entitlement():
    grants = listing([
        {"entitlement": "AP Clerk", "granted_at": ts("2026-07-10 10:00")},
        {"system": "aws", "login": "sam@x.example", "entitlement": "AWS Production", "granted_at": ts("2026-07-10 10:00")},
    ]).assign(entitlement_level=[True, False])
    tickets = requests([
        {"approved_at": ts("2026-07-11 09:00")},                                   # late
        {"approved_at": ts("2026-07-09 09:00")},                                   # good: chosen
        {"system": "aws", "entitlement": "Developers"},                            # any AWS entitlement
    ])
    matched = analytics.match_approvals(grants, tickets, PEOPLE)
    assert matched["ticket"].tolist() == ["RITM2", "RITM3"]
    assert provisioning_rules(matched).empty
    lead = analytics.match_approvals(grants.iloc[:1], tickets, PEOPLE, min_lead=pd.Timedelta(days=2))
    assert provisioning_rules(lead)["rule"].tolist() == ["approval_after_grant"]


def test_uncorrelated_new_access_is_without_approval_under_its_login():
    grants = listing([{"login": "temp01", "login_original": "TEMP01", "email": pd.NA,
                       "granted_at": ts("2026-07-10")}]).assign(entitlement_level=True)
    hits = analytics.grants_without_approval(analytics.match_approvals(grants, requests([{}]), PEOPLE), "erp", "req")
    assert hits["subject"].tolist() == ["temp01"]



def test_a_missing_requester_or_approver_is_not_self_approval():
    """Issue 13 (6.1): an empty requester or approver never compares equal to anyone (NA-safe)."""
    grants = listing([{"entitlement": "NoRequester", "granted_at": ts("2026-07-10 10:00")},
                      {"entitlement": "NoApprover", "granted_at": ts("2026-07-10 10:00")},
                      {"entitlement": "Self", "granted_at": ts("2026-07-10 10:00")}]).assign(entitlement_level=True)
    tickets = requests([{"entitlement": "NoRequester", "opened_by": pd.NA},
                        {"entitlement": "NoApprover", "approver": pd.NA},
                        {"entitlement": "Self", "opened_by": pd.NA, "approver": "sam@x.example"}])
    tickets["opened_by"] = tickets["opened_by"].astype("string")
    tickets["approver"] = tickets["approver"].astype("string")
    matched = analytics.match_approvals(grants, tickets, PEOPLE)
    hits = provisioning_rules(matched)
    found = sorted(zip(hits["rule"], hits["detail_key"].str.split("|").str[1]))
    assert found == [("approver_not_manager", "NoApprover"), ("self_approval", "Self")]
    assert matched.set_index("entitlement").loc["NoRequester", "approver_independent"]
    described = " ".join(hits["description"])
    assert "<NA>" not in described and "nan" not in described.split()
    assert "no approver recorded" in hits.set_index("rule").loc["approver_not_manager", "description"]
    assert "who is the recipient" in hits.set_index("rule").loc["self_approval", "description"]


def test_descriptions_word_a_missing_reviewer_properly():
    """Issue 13 (6.2): no "<NA>" or "nan" where a description names a reviewer who is not recorded."""
    frame = decisions([{"decision": "undecided", "decided_at": None, "reviewer_name": pd.NA, "reviewer_email": pd.NA},
                       {"entitlement": "GL", "decision": "revoke", "reviewer_name": pd.NA, "reviewer_email": pd.NA},
                       {"entitlement": "PO", "reviewer_name": pd.NA, "reviewer_email": pd.NA},
                       {"subject_email": "lea@x.example", "subject_name": pd.NA, "reviewer_name": pd.NA,
                        "reviewer_email": pd.NA, "decided_at": ts("2026-08-20 10:00")}])
    for column in ("reviewer_name", "reviewer_email", "subject_name"):
        frame[column] = frame[column].astype("string")
    held = grants([{"entitlement": "GL"}])
    hits = pd.concat([
        analytics.undecided_lines(frame, "uar.csv"),
        revocation_hits(frame, held, ts("2026-10-01 06:00")),
        analytics.review_lines_not_in_listing(frame, held, IDENTITIES, ts("2026-08-14 23:59"), "uar.csv"),
        analytics.approvals_of_terminated(frame, IDENTITIES, "uar.csv"),
        analytics.self_reviews(frame, "uar.csv"),
    ], ignore_index=True)
    assert set(hits["rule"]) == {"undecided_review_line", "revocation_not_executed", "review_line_not_in_listing",
                                 "approved_terminated_user"}
    for description in hits["description"]:
        assert "<NA>" not in description and "nan" not in description.split(), description
        assert "no reviewer recorded" in description, description
    assert hits.set_index("rule").loc["undecided_review_line", "description"].startswith("No decision recorded for ")


RULES = pd.DataFrame({
    "rule_id": ["R1", "R2"], "system": ["erp", "erp"], "function_a": ["Vendors", "Create PO"],
    "function_b": ["Pay", "Approve PO"], "entitlements_a": [("Vendor Master",), ("Create PO",)],
    "entitlements_b": [("Pay Approve", "Pay Run"), ("Approve PO",)], "risk_level": ["High", "High"],
    "description": ["", ""], "line": [2, 3],
})


def test_sod_rule_conflicts_need_both_sides_and_ignore_case():
    held = listing([
        {"entitlement": "Vendor Master"}, {"entitlement": "PAY RUN"}, {"entitlement": "Create PO"},          # sam: R1
        {"login": "lea", "email": "lea@x.example", "entitlement": "Create PO"},                             # one side
    ])
    conflicts = analytics.sod_rule_conflicts(held, RULES)
    assert conflicts[["login", "rule_id", "held_a", "held_b", "lines"]].values.tolist() == \
        [["sam", "R1", "Vendor Master", "PAY RUN", "2, 3"]]
    assert analytics.sod_rule_conflicts(listing([{"entitlement": "Other"}]), RULES).empty


def mitigation_register(rows: list[dict]) -> pd.DataFrame:
    base = {"mitigation_id": "M1", "rule_id": "R1", "login": "sam", "mitigating_control": "review",
            "approved_by": "rita@x.example", "valid_from": pd.Timestamp("2026-01-01"), "valid_to": pd.Timestamp("2026-12-31")}
    frame = pd.DataFrame([base | r | {"line": i + 2} for i, r in enumerate(rows)])
    frame["valid_from"], frame["valid_to"] = pd.to_datetime(frame["valid_from"]), pd.to_datetime(frame["valid_to"])
    return frame


@pytest.mark.parametrize("mitigation, status", [
    ({}, "valid"),
    ({"login": "sam@x.example"}, "valid"),                                   # named by e-mail
    ({"valid_to": pd.NaT}, "valid"),                                         # open-ended
    ({"valid_to": pd.Timestamp("2026-09-30")}, "valid"),                     # last day counts
    ({"valid_to": pd.Timestamp("2026-09-29")}, "expired"),
    ({"valid_from": pd.Timestamp("2026-10-01")}, "not yet valid"),
    ({"rule_id": "R2"}, "none"),                                             # another rule
])
def test_only_a_mitigation_valid_at_the_period_end_mitigates(mitigation, status):
    held = listing([{"entitlement": "Vendor Master"}, {"entitlement": "Pay Run"}])
    conflicts = analytics.apply_mitigations(analytics.sod_rule_conflicts(held, RULES), mitigation_register([mitigation]),
                                            "2026-09-30")
    assert conflicts["mitigation_status"].tolist() == [status]
    hits = analytics.sod_conflicts(conflicts, "erp.csv", "mitigations.csv")
    assert len(hits) == (0 if status == "valid" else 1)
    if status in ("expired", "not yet valid"):
        assert "does not mitigate" in hits.loc[0, "description"] and "mitigations.csv line 2" in hits.loc[0, "evidence_reference"]


def test_attribute_rule_hits_holders_outside_the_allowed_departments_and_orphans():
    held = listing([
        {"entitlement": "Pay Approve"},                                                                   # AP: allowed
        {"login": "lea", "email": "lea@x.example", "entitlement": "Pay Approve"},                         # People
        {"login": "tmp", "email": pd.NA, "entitlement": "pay approve"},                                   # no person
        {"login": "hugo", "email": "hugo@x.example", "entitlement": "Vendor Master"},                     # not restricted
    ])
    rule = analytics.AttributeRule("A1", "payments", ("erp",), ("Pay Approve",), "department", ("Accounts Payable", "Finance"))
    hits = analytics.sod_attribute_conflicts(held, PEOPLE, [rule], "erp.csv")
    assert sorted(hits["subject"]) == ["lea@x.example", "tmp"]
    assert set(hits["rule"]) == {"sod_attribute_conflict"} and "People" in " ".join(hits["description"])


def test_sod_conflicts_created_by_a_new_grant():
    history = listing([{"entitlement": "Vendor Master", "granted_at": ts("2026-01-01")},
                       {"entitlement": "Pay Run", "granted_at": ts("2026-08-01")},
                       {"entitlement": "Create PO", "granted_at": ts("2026-01-01"), "removed_at": ts("2026-07-01")}])
    new = listing([{"entitlement": "Pay Run", "granted_at": ts("2026-08-01")},
                   {"entitlement": "Approve PO", "granted_at": ts("2026-08-01")},      # Create PO was removed before
                   {"entitlement": "Other", "granted_at": ts("2026-08-01")}])
    assert analytics.sod_conflicts_created(new, history, RULES) == [["R1"], [], []]


APPROVED = pd.DataFrame({
    "system": ["erp", "erp"], "account": ["sam", "lea"], "entitlement": ["Sys Admin", "Sys Admin"],
    "approved_by": ["rita@x.example", "rita@x.example"], "approved_on": pd.to_datetime(["2025-01-01", "2025-01-01"]),
    "expires_on": pd.to_datetime(["2027-01-01", "2026-09-29"]), "line": [2, 3]})


def test_privileged_drift_and_expired_approvals():
    members = analytics.privileged_memberships(listing([
        {"entitlement": "SYS ADMIN", "privileged": True},                                          # listed (case)
        {"login": "lea", "email": "lea@x.example", "entitlement": "Sys Admin", "privileged": True},  # expired
        {"login": "hugo", "email": "hugo@x.example", "entitlement": "Sys Admin", "privileged": True},  # not listed
        {"login": "hugo", "email": "hugo@x.example", "entitlement": "Sys Admin", "privileged": True,
         "removed_at": ts("2026-08-01")},                                                           # removed: ignored
        {"entitlement": "AP Clerk"},                                                                # not privileged
    ]))
    status = analytics.approval_status(members, APPROVED, "2026-09-30")
    assert status["approval"].tolist() == ["current", "expired", "missing"]
    hits = analytics.privileged_drift(status, "erp.csv", "approved.csv")
    assert sorted(zip(hits["rule"], hits["subject"])) == [("privileged_approval_expired", "lea@x.example"),
                                                          ("privileged_drift", "hugo@x.example")]


def test_privileged_access_not_reviewed_in_the_campaign():
    members = listing([
        {"entitlement": "Sys Admin", "privileged": True},                                            # reviewed
        {"login": "lea", "email": "lea@x.example", "entitlement": "Sys Admin", "privileged": True},   # undecided
        {"login": "rita", "email": "rita@x.example", "entitlement": "Sys Admin", "privileged": True},  # absent
        {"login": "rita", "email": "rita@x.example", "entitlement": "DBA", "privileged": True,
         "granted_at": ts("2026-09-01")},                                                             # after snapshot
        {"login": "hugo", "email": "hugo@x.example", "entitlement": "Sys Admin", "privileged": True,
         "granted_at": pd.NaT},                                                                       # hired after it
    ])
    lines = decisions([{"entitlement": "sys admin", "privileged": True},
                       {"subject_email": "lea@x.example", "entitlement": "Sys Admin", "decision": "undecided",
                        "privileged": True}])
    hits = analytics.privileged_not_reviewed(members, lines, PEOPLE, ts("2026-08-14 23:59"), "erp.csv")
    assert sorted(hits["subject"]) == ["lea@x.example", "rita@x.example"]
    assert "without a decision" in hits.set_index("subject").loc["lea@x.example", "description"]
    unflagged = analytics.privileged_not_reviewed(members.iloc[:1], lines.assign(privileged=False), PEOPLE,
                                                  ts("2026-08-14 23:59"), "erp.csv")
    assert "not flagged privileged" in unflagged.loc[0, "description"]
    assert analytics.held_at_snapshot(members, PEOPLE, ts("2026-08-14 23:59")).tolist() == [True, True, True, False, False]


def okta_users(rows: list[dict]) -> pd.DataFrame:
    base = {"system": "okta", "login": "sam@x.example", "login_original": "sam@x.example", "employee_id": "000002",
            "status": "active", "created_at": ts("2021-01-01"), "status_changed_at": ts("2021-01-01"),
            "last_login_at": ts("2026-09-20"), "last_login_state": "used"}
    frame = pd.DataFrame([base | r | {"line": i + 2} for i, r in enumerate(rows)])
    for column in ("created_at", "status_changed_at", "last_login_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def test_inventory_of_idp_users_and_listings():
    idp = analytics.idp_accounts(okta_users([
        {}, {"login": "lea@x.example", "employee_id": "000003", "status": "deprovisioned",
             "status_changed_at": ts("2026-08-14 19:00")},
        {"login": "old.login@x.example", "employee_id": "000004"},                  # correlated by employee id
        {"login": "ghost@x.example", "employee_id": pd.NA}]), PEOPLE, "okta.csv")
    assert idp["active"].tolist() == [True, False, True, True]
    assert idp["person_email"].tolist()[:3] == ["sam@x.example", "lea@x.example", "hugo@x.example"]
    assert not idp["correlated"].iloc[3] and pd.notna(idp["removed_at"].iloc[1]) and idp["removed_at"].isna().iloc[0]
    accounts = analytics.listing_accounts(listing([
        {"entitlement": "A"}, {"entitlement": "B", "removed_at": ts("2026-08-01")},                    # sam: active
        {"login": "lea", "email": "lea@x.example", "removed_at": ts("2026-08-14 20:00"), "account_status": "disabled"},
        {"login": "lea", "email": "lea@x.example", "entitlement": "B", "removed_at": ts("2026-08-15 09:00"),
         "account_status": "disabled"},
    ]), "erp.csv")
    assert accounts[["login", "active"]].values.tolist() == [["lea", False], ["sam", True]]
    assert accounts.set_index("login").loc["lea", "removed_at"] == ts("2026-08-15 09:00")


def leaver_inventory() -> pd.DataFrame:
    idp = analytics.idp_accounts(okta_users([
        {"login": "lea@x.example", "employee_id": "000003", "status": "deprovisioned",
         "status_changed_at": ts("2026-08-17 15:00"), "last_login_at": ts("2026-08-14 16:00")},      # next business day
    ]), PEOPLE, "okta.csv")
    erp = analytics.listing_accounts(listing([
        {"login": "lea", "email": "lea@x.example", "removed_at": ts("2026-08-19 10:00"), "account_status": "disabled",
         "last_login_at": ts("2026-08-15 08:00")},                                                   # late and used
        {"system": "gh", "login": "lea-gh", "email": "lea@x.example", "last_login_at": ts("2026-08-10")},  # still active
        {"system": "gh", "login": "tmp", "email": pd.NA},                                             # orphan
        {"system": "gh", "login": "svc-bot", "email": pd.NA},                                         # service
    ]), "erp.csv")
    return pd.concat([idp, erp], ignore_index=True)


def test_termination_rules():
    inventory = leaver_inventory()
    leavers = analytics.leaver_accounts(inventory, PEOPLE, "2026-07-01", "2026-09-30")
    assert sorted(leavers["system"]) == ["erp", "gh", "okta"]
    assert leavers.set_index("system")["removal_business_days"].to_dict()["okta"] == 1
    active = analytics.terminated_with_active_access(inventory, PEOPLE, "2026-10-01")
    assert active[["subject", "system"]].values.tolist() == [["lea@x.example", "gh"]]
    late = analytics.late_deprovisioning(leavers, sla_business_days=1)
    assert late["system"].tolist() == ["erp"] and "3 business days" in late.loc[0, "description"]
    assert analytics.late_deprovisioning(leavers, sla_business_days=3).empty
    used = analytics.access_after_termination(leavers)
    assert used["system"].tolist() == ["erp"], "a sign-in on the termination day itself is not after termination"
    orphans = analytics.orphan_accounts(inventory)
    assert orphans[["subject", "system"]].values.tolist() == [["tmp", "gh"]]


def test_an_account_removed_before_termination_is_not_a_leaver_account():
    inventory = analytics.listing_accounts(listing([
        {"login": "lea", "email": "lea@x.example", "removed_at": ts("2026-08-01"), "account_status": "disabled"}]), "x")
    assert analytics.leaver_accounts(inventory, PEOPLE, "2026-07-01", "2026-09-30").empty


def credential_report(rows: list[dict]) -> pd.DataFrame:
    base = {"system": "aws", "login": "sam", "login_original": "Sam", "email": pd.NA, "is_root": False,
            "created_at": ts("2021-01-01"), "password_enabled": True, "mfa_enabled": True,
            "last_login_at": ts("2026-09-20"), "last_login_state": "used", "password_last_changed": ts("2026-06-01"),
            "access_key_1_active": False, "access_key_1_last_rotated": pd.NaT, "access_key_1_last_used_at": pd.NaT,
            "access_key_1_last_used_state": "not_applicable", "access_key_2_active": False,
            "access_key_2_last_rotated": pd.NaT, "access_key_2_last_used_at": pd.NaT,
            "access_key_2_last_used_state": "not_applicable"}
    frame = pd.DataFrame([base | r | {"line": i + 2} for i, r in enumerate(rows)])
    for column in [c for c in frame if c.endswith(("_at", "_rotated", "_changed"))]:
        frame[column] = pd.to_datetime(frame[column], utc=True)
    for column in ("password_enabled", "mfa_enabled", "access_key_1_active", "access_key_2_active"):
        frame[column] = frame[column].astype("boolean")
    assignments = pd.DataFrame({"system": ["aws"], "application_login": ["sam"], "login": ["sam@x.example"]})
    return analytics.correlate_grants(frame, PEOPLE, assignments)


def test_credential_accounts_take_the_latest_use_and_keep_sentinel_states():
    report = credential_report([
        {"last_login_at": ts("2026-05-01"), "access_key_1_active": True, "access_key_1_last_rotated": ts("2026-08-01"),
         "access_key_1_last_used_at": ts("2026-09-25"), "access_key_1_last_used_state": "used"},
        {"login": "new", "login_original": "new", "created_at": ts("2026-09-20"), "last_login_at": pd.NaT,
         "last_login_state": "no_information"},
        {"login": "svc-ci", "login_original": "svc-ci", "password_enabled": False, "mfa_enabled": False,
         "last_login_at": pd.NaT, "last_login_state": "not_applicable", "access_key_1_active": True,
         "access_key_1_last_rotated": ts("2026-09-01"), "access_key_1_last_used_state": "never"},
        {"login": "<root_account>", "login_original": "<root_account>", "is_root": True, "password_enabled": pd.NA},
    ])
    accounts = analytics.credential_accounts(report, "cred.csv").set_index("login")
    assert list(accounts.index) == ["sam", "new", "svc-ci"], "the root credential is not a user account"
    assert accounts.loc["sam", "last_used_at"] == ts("2026-09-25") and accounts.loc["sam", "person_email"] == "sam@x.example"
    assert accounts["last_used_state"].tolist() == ["used", "no_information", "never"]
    assert accounts["mfa_applicable"].tolist() == [True, True, False]


def test_dormant_accounts():
    report = credential_report([
        {"last_login_at": ts("2026-07-01 23:00")},                                         # 91 days before: dormant
        {"login": "recent", "last_login_at": ts("2026-07-02 00:00")},                      # 90 days: not dormant
        {"login": "new", "created_at": ts("2026-08-01"), "last_login_at": pd.NaT, "last_login_state": "no_information"},
        {"login": "stale-new", "created_at": ts("2026-06-01"), "last_login_at": pd.NaT,
         "last_login_state": "no_information"},
    ])
    inventory = analytics.credential_accounts(report, "cred.csv")
    hits = analytics.dormant_accounts(inventory, "2026-09-30", dormant_days=90, grace_days=90)
    assert sorted(hits["subject"]) == ["sam", "stale-new"], "subject: the account login"
    assert sorted(analytics.dormant_accounts(inventory, "2026-09-30", 90, grace_days=30)["subject"]) == \
        ["new", "sam", "stale-new"]
    assert analytics.dormant_accounts(inventory.assign(active=False), "2026-09-30").empty


def test_mfa_keys_passwords_and_the_root_credential():
    report = credential_report([
        {"mfa_enabled": False},                                                                   # console, no MFA
        {"login": "key", "password_enabled": False, "mfa_enabled": False, "access_key_1_active": True,
         "access_key_1_last_rotated": ts("2026-06-01"), "access_key_2_active": False,
         "access_key_2_last_rotated": ts("2025-01-01"), "password_last_changed": pd.NaT},         # key 1 too old
        {"login": "fresh", "access_key_2_active": True, "access_key_2_last_rotated": ts("2026-07-03")},
        {"login": "<root_account>", "login_original": "<root_account>", "is_root": True, "mfa_enabled": False,
         "password_enabled": pd.NA, "access_key_1_active": True, "access_key_1_last_rotated": ts("2026-09-01")},
    ])
    inventory = analytics.credential_accounts(report, "cred.csv")
    mfa = analytics.mfa_not_enabled(inventory)
    assert mfa["subject"].tolist() == ["sam@x.example"], "subject: the person; service users without password need no MFA"
    keys = analytics.access_keys_not_rotated(report, "2026-09-30", 90)
    assert keys["subject"].tolist() == ["key"] and "Access key 1" in keys.loc[0, "description"]
    passwords = analytics.passwords_not_rotated(report, "2026-09-30", 90)
    assert sorted(passwords["subject"]) == ["fresh", "sam@x.example"], "no password (key-only user): nothing to rotate"
    assert set(passwords["rule"]) == {"password_not_rotated"}
    root = analytics.root_account_exceptions(report)
    assert sorted(root["rule"]) == ["mfa_not_enabled", "root_access_key_active"]
    assert set(root["subject"]) == {"<root_account>"}


def test_active_access_keys_never_used_after_the_grace_period():
    report = credential_report([
        {"access_key_1_active": True, "access_key_1_last_rotated": ts("2026-05-01"),
         "access_key_1_last_used_state": "never"},                                              # old, never used: hit
        {"login": "new-key", "access_key_2_active": True, "access_key_2_last_rotated": ts("2026-09-10"),
         "access_key_2_last_used_state": "never"},                                              # within grace
        {"login": "used", "access_key_1_active": True, "access_key_1_last_rotated": ts("2026-05-01"),
         "access_key_1_last_used_at": ts("2026-09-01"), "access_key_1_last_used_state": "used"},
        {"login": "off", "access_key_1_active": False, "access_key_1_last_rotated": ts("2025-01-01"),
         "access_key_1_last_used_state": "never"},                                              # inactive key
        {"login": "<root_account>", "login_original": "<root_account>", "is_root": True, "password_enabled": pd.NA,
         "access_key_1_active": True, "access_key_1_last_rotated": ts("2025-01-01")},           # root: its own rule
    ])
    hits = analytics.access_keys_never_used(report, "2026-09-30", grace_days=30)
    assert hits[["rule", "subject", "detail_key"]].values.tolist() == [["access_key_never_used", "sam@x.example", "aws|sam"]]
    assert "Access key 1 of Sam is active but was never used" in hits.loc[0, "description"]
    assert hits.loc[0, "evidence_reference"] == "credential report line 2"
    assert sorted(analytics.access_keys_never_used(report, "2026-09-30", grace_days=0)["detail_key"]) == \
        ["aws|new-key", "aws|sam"], "with no grace even a key created this month counts"


def test_shared_or_generic_accounts_sign_in_interactively_without_a_person():
    idp = analytics.idp_accounts(okta_users([
        {"login": "frontdesk@x.example", "employee_id": pd.NA, "last_login_at": ts("2026-09-28 08:00")},   # shared
        {"login": "sam@x.example", "employee_id": "000002", "last_login_at": ts("2026-09-28 08:00")},     # a person
    ]), PEOPLE, "okta.csv")
    apps = analytics.listing_accounts(listing([
        {"system": "gh", "login": "tmp", "email": pd.NA, "last_login_at": ts("2026-09-20")},             # generic
        {"system": "gh", "login": "idle", "email": pd.NA, "last_login_at": pd.NaT},                      # never signed in
        {"system": "gh", "login": "svc-bot", "email": pd.NA, "last_login_at": ts("2026-09-29")},         # service
    ]), "gh.csv")
    cloud = analytics.credential_accounts(credential_report([
        {"login": "ops", "login_original": "ops", "last_login_at": ts("2026-09-25 10:00")},              # console use
        {"login": "deployer", "login_original": "deployer", "password_enabled": False, "last_login_at": pd.NaT,
         "last_login_state": "not_applicable", "access_key_1_active": True, "access_key_1_last_rotated": ts("2026-09-01"),
         "access_key_1_last_used_at": ts("2026-09-29"), "access_key_1_last_used_state": "used"},         # keys only
    ]), "cred.csv")
    inventory = pd.concat([idp, apps, cloud], ignore_index=True)
    hits = analytics.shared_or_generic_accounts(inventory)
    assert hits[["subject", "system"]].values.tolist() == [["frontdesk@x.example", "okta"], ["ops", "aws"],
                                                            ["tmp", "gh"]]
    assert set(hits["rule"]) == {"shared_or_generic_account"} and set(hits["severity"]) == {"high"}
    assert "signed in to interactively (last sign-in 2026-09-25 10:00 UTC)" in hits.set_index("subject").loc["ops", "description"]
    assert analytics.shared_or_generic_accounts(inventory.assign(active=False)).empty


def test_movers_who_keep_the_access_of_their_previous_job():
    now = PEOPLE.assign(cost_center=["100", "200", "300", "400"], department=["Finance", "IT", "People", "IT"])
    prior = PEOPLE.assign(cost_center=["100", "210", "300", "400"],
                          department=["Finance", "Accounts Payable", "Finance", "it "])   # Sam moved; Lea left; Hugo: case
    moved = analytics.movers(now, prior)
    assert moved["email"].tolist() == ["sam@x.example"], "a leaver and a change of case or blanks are not moves"
    assert (moved.loc[0, "department_before"], moved.loc[0, "cost_center_now"]) == ("Accounts Payable", "200")
    held = listing([
        {"entitlement": "AP Clerk", "granted_at": ts("2025-03-01")},                                # old job: hit
        {"entitlement": "Dev Tools", "granted_at": ts("2025-03-01")},                               # Hugo (IT) holds it
        {"entitlement": "Vendor Maint", "granted_at": ts("2026-08-01")},                            # granted after the roster
        {"entitlement": "Budget View", "granted_at": pd.NaT},                                       # unknown date: hit
        {"login": "hugo", "email": "hugo@x.example", "entitlement": "Dev Tools"},
    ])
    hits = analytics.mover_retained_access(held, now, prior, "2026-06-30", "2026-09-30", grace_days=30)
    assert hits[["rule", "subject", "detail_key"]].values.tolist() == [
        ["mover_retained_access", "sam@x.example", "erp|sam|AP Clerk"],
        ["mover_retained_access", "sam@x.example", "erp|sam|Budget View"]]
    description = hits.loc[0, "description"]
    assert "department Accounts Payable -> IT; cost centre 210 -> 200" in description
    assert "no one else in department IT holds" in description and hits.loc[0, "evidence_reference"] == "listing line 2"
    assert analytics.mover_retained_access(held, now, prior, "2026-09-01", "2026-09-30", grace_days=30).empty, \
        "within the grace after the earlier roster"
    assert len(analytics.mover_retained_access(held, now, prior, "2026-06-30", "2026-09-30", min_peers=2)) == 3, \
        "Dev Tools has one peer holder, fewer than two"
    assert analytics.mover_retained_access(held, now, now, "2026-06-30", "2026-09-30").empty, "no move, no hit"


def test_assignment_accounts_with_no_assignment_in_the_point_in_time_systems_is_empty():
    """An identity provider that assigns none of the point-in-time systems (its AWS accounts are
    not federated, say) leaves nothing to add, rather than failing the termination test."""
    from workbench import populations

    assignments = populations.load_source(
        "okta_app_assignments", Path(__file__).parent / "data" / "exports" / "idp" / "okta_app_assignments.csv",
        display_names={"Ledgerline ERP": "ledgerline_erp", "GitHub Enterprise": "github"}).frame
    present = pd.DataFrame({"system": pd.Series([], dtype="string"), "person_email": pd.Series([], dtype="string"),
                            "login": pd.Series([], dtype="string")})
    identities = pd.DataFrame({"email": pd.Series(["jane.doe@harborlane.example"], dtype="string")})
    found = analytics.assignment_accounts(assignments, ["aws_prod"], present, identities, "okta.csv")
    assert len(found) == 0 and "system" in found.columns


# --- issue 13 item 5: one finding per condition ----------------------------------------------

def test_a_reviewer_rubber_stamping_on_two_systems_is_one_finding_listing_both():
    fast = [{"reviewer_email": "fast@x.example", "reviewer_name": "Fay Fast", "entitlement": f"E{i}",
             "system": "erp" if i % 2 else "crm", "application": "ERP" if i % 2 else "CRM",
             "decided_at": ts("2026-08-20 10:00") + pd.Timedelta(seconds=4 * i)} for i in range(30)]
    hits = analytics.rubber_stamping(decisions(fast), "uar.csv")
    assert len(hits) == 1
    hit = hits.iloc[0]
    assert (hit["subject"], hit["system"]) == ("fast@x.example", "crm; erp")
    assert hit["detail_key"] == "", "the reviewer is the finding: its identity must not depend on the systems"
    assert "30 of 30" in hit["description"]
    assert "crm: 15 of 15 approved" in hit["description"] and "erp: 15 of 15 approved" in hit["description"]


def test_a_rubber_stamping_finding_keeps_its_key_when_the_reviewer_covers_more_systems():
    from workbench.exceptions import Finding, exception_id, finding_key
    one = Finding(rule="rubber_stamping", subject="fast@x.example", system="erp", description="a", evidence_reference="x")
    two = Finding(rule="rubber_stamping", subject="fast@x.example", system="crm; erp", description="b",
                  evidence_reference="y")
    assert finding_key("UAR-01", one) == finding_key("UAR-01", two)
    assert exception_id("2026-Q3", "UAR-01", one) == exception_id("2026-Q3", "UAR-01", two)
    other = Finding(rule="self_review", subject="fast@x.example", system="erp", description="a", evidence_reference="x")
    assert finding_key("UAR-01", other) != finding_key("UAR-01", other.__class__(**{**other.__dict__, "system": "crm"}))


@pytest.mark.parametrize("line", [
    {"entitlement": "AP CLERK"},                          # the campaign spells the listing's 'AP Clerk' in capitals
    {"subject_email": "SAM"},                             # the campaign names the person by the account's login
    {"subject_email": "Sam@X.example", "entitlement": " AP  Clerk "},
])
def test_a_fact_both_review_rules_could_see_is_one_finding(line):
    """A campaign line and a listing grant that are the same access under another spelling: the line is
    imprecise (review_line_not_in_listing, A4) and the access was in the campaign (no review_population_gap)."""
    listing = grants([{}])
    lines = decisions([line])
    snapshot = ts("2026-08-14 23:59")
    hits = pd.concat([
        analytics.review_population_gaps(listing, lines, IDENTITIES, snapshot, ["erp"], "erp.csv"),
        analytics.review_lines_not_in_listing(lines, listing, IDENTITIES, snapshot, "uar.csv"),
    ], ignore_index=True)
    assert hits["rule"].tolist() == ["review_line_not_in_listing"]
    assert "listing shows" in hits.loc[0, "description"]


def test_a_line_for_other_access_and_the_access_it_missed_are_two_findings():
    """A line for access the person does not hold and the access they do hold but nobody reviewed: two conditions."""
    listing = grants([{}])
    lines = decisions([{"entitlement": "GL"}])
    snapshot = ts("2026-08-14 23:59")
    gaps = analytics.review_population_gaps(listing, lines, IDENTITIES, snapshot, ["erp"], "erp.csv")
    stale = analytics.review_lines_not_in_listing(lines, listing, IDENTITIES, snapshot, "uar.csv")
    assert gaps["detail_key"].tolist() == ["erp|AP Clerk"] and stale["detail_key"].tolist() == ["erp|GL"]
    assert "listing shows" not in stale.loc[0, "description"]
