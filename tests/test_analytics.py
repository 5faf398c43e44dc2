"""Full-population analytics on small hand-built canonical tables: each rule hits what it should."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from workbench import analytics

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
    hits = analytics.revocations_not_executed(frame, listing, "uar.csv", "erp.csv", 5, ts("2026-10-01 06:00"))
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
