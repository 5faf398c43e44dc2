"""The vectorised user-access-review analytics give exactly what the per-row loops they replaced gave.

The loops (as at commit 9ed9a62) are kept here, and only here, as the reference: on hand-made
frames and on hypothesis-generated campaigns (missing reviewers, blank names, undecided lines,
lines without a time, odd spellings, leavers, uncorrelated accounts) every hit table and the
reviewer statistics must be equal value for value and dtype for dtype. The helpers of
``valuemap`` (a per-value function once per distinct value) are held to ``Series.map`` likewise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import analytics, identity
from workbench import analytics as A
from workbench.valuemap import map_distinct

# --------------------------------------------------------------------------------------------
# The reference: the per-row implementations the vectorised ones replaced (verbatim but names)
# --------------------------------------------------------------------------------------------

def old_reviewer_statistics(decisions: pd.DataFrame) -> pd.DataFrame:
    """Per reviewer: lines, decided, approvals, approval rate, median and minimum seconds between decisions."""
    rows = []
    for reviewer, group in decisions.groupby("reviewer_email", sort=True):
        decided = group[group["decision"] != "undecided"]
        times = decided["decided_at"].dropna().sort_values()
        gaps = times.diff().dt.total_seconds().dropna()
        rows.append({
            "reviewer_email": reviewer,
            "reviewer_name": A._known(group["reviewer_name"].iloc[0]) or reviewer,
            "lines": len(group),
            "decided": len(decided),
            "approved": int((decided["decision"] == "approve").sum()),
            "revoked": int((decided["decision"] == "revoke").sum()),
            "approval_rate": (decided["decision"] == "approve").mean() if len(decided) else np.nan,
            "median_seconds_between_decisions": gaps.median() if len(gaps) else np.nan,
            "first_decision": times.iloc[0] if len(times) else pd.NaT,
            "last_decision": times.iloc[-1] if len(times) else pd.NaT,
        })
    return pd.DataFrame(rows)


def old_rubber_stamping(decisions: pd.DataFrame, file_label: str,
                        thresholds: A.RubberStampThresholds) -> pd.DataFrame:
    """Reviewers who approved (nearly) everything, seconds apart: the review was likely not performed.

    One hit per reviewer, whatever the number of systems reviewed: the condition is the reviewer's
    conduct. ``system`` lists the systems ("aws_prod; ledgerline_erp"), the description gives each
    system's statistics, and ``detail_key`` is empty so the finding's identity is the reviewer alone
    (``exceptions.CROSS_SYSTEM_RULES``): it stays the same finding when the systems change.
    """
    stats = old_reviewer_statistics(decisions)
    if stats.empty:
        return A._hits([])
    flagged = stats[
        (stats["decided"] >= thresholds.min_decisions)
        & (stats["approval_rate"] >= thresholds.min_approval_rate)
        & (stats["median_seconds_between_decisions"] <= thresholds.max_median_seconds)
    ]
    rows = []
    for row in flagged.itertuples():
        mine = decisions[A._same(decisions["reviewer_email"], pd.Series(row.reviewer_email, index=decisions.index))]
        systems = sorted(set(mine["system"].dropna()))
        per_system = old_reviewer_statistics(mine.assign(reviewer_email=mine["system"]))
        detail = "; ".join(f"{s.reviewer_email}: {s.approved} of {s.decided} approved, median "
                           + (f"{s.median_seconds_between_decisions:.0f} s" if pd.notna(s.median_seconds_between_decisions)
                              else "n/a")
                           for s in per_system.itertuples())
        rows.append({
            "rule": "rubber_stamping",
            "subject": row.reviewer_email,
            "system": "; ".join(systems),
            "detail_key": "",
            "description": f"{row.reviewer_name} approved {row.approved} of {row.decided} lines "
                           f"({row.approval_rate:.0%}) with a median of {row.median_seconds_between_decisions:.0f} s "
                           f"between decisions ({row.first_decision:%Y-%m-%d %H:%M}–{row.last_decision:%H:%M} UTC)"
                           + (f" across {len(systems)} systems ({detail})." if len(systems) > 1 else "."),
            "evidence_reference": f"{file_label}: decisions of {row.reviewer_email}",
            "severity": "high",
        })
    return A._hits(rows)


def old_loose(values: pd.Series) -> pd.Series:
    """Text as two spellings of one value compare: casefolded, whitespace trimmed and collapsed."""
    return values.astype("string").str.strip().str.replace(r"\s+", " ", regex=True).str.casefold()


def old_loose_held_keys(grants: pd.DataFrame) -> pd.DataFrame:
    """Each grant under every spelling a review line may use for it: (system, identifier, entitlement),
    loosely compared (``_loose``), the identifier being the HR e-mail, the account e-mail or the login.
    Keeps the grants' index (a grant appears once per identifier it has)."""
    entitlement = old_loose(grants["entitlement"])
    parts = []
    for column in ("person_email", "email", "login"):
        if column in grants:
            ident = old_loose(grants[column])
            known = ident.notna().to_numpy()
            parts.append(pd.DataFrame({"system": grants["system"][known], "identifier": ident[known],
                                       "entitlement": entitlement[known]}))
    if not parts:
        return pd.DataFrame(columns=["system", "identifier", "entitlement"])
    return pd.concat(parts)


def old_loose_line_keys(decisions: pd.DataFrame) -> pd.Series:
    """The (system, subject, entitlement) of each review line, loosely compared (see ``_loose_held_keys``)."""
    return pd.Series(list(zip(decisions["system"], old_loose(decisions["subject_email"]), old_loose(decisions["entitlement"]))),
                     index=decisions.index, dtype=object)


def old_review_population_gaps(grants: pd.DataFrame, decisions: pd.DataFrame, identities: pd.DataFrame,
                           snapshot: pd.Timestamp, systems: list[str], listing_label: str) -> pd.DataFrame:
    """Access held at the campaign snapshot in the reviewed systems that the campaign did not cover.

    Undated listings (no grant date) are taken as held at the snapshot only for people hired on or
    before it. Uncorrelated accounts (no HR person) are gaps too: campaigns exclude them silently.
    Service accounts are outside a user access review and are not counted.
    """
    in_scope = grants[grants["system"].isin(systems) & ~grants["service_account"]]
    held = in_scope[A.held_at(in_scope, snapshot)]
    hires = identities.set_index("email")["hire_date"]
    hired_by_snapshot = A.dates_of(held["person_email"], hires) <= snapshot.tz_convert("UTC").tz_localize(None).normalize()
    expected = held[held["granted_at"].notna() | hired_by_snapshot | ~held["correlated"]]
    reviewed = set(zip(decisions["system"], decisions["subject_email"], decisions["entitlement"]))
    subjects = A.review_subjects(expected)
    covered = set(subjects.index[[key in reviewed for key in zip(subjects["system"], subjects["review_subject"],
                                                                 subjects["entitlement"])]])
    # a line naming the same access in another spelling (the login, other capitals) covered it: the
    # imprecise line is review_line_not_in_listing's one finding, not a gap as well
    lines = set(old_loose_line_keys(decisions))
    loose = old_loose_held_keys(expected)
    covered |= set(loose.index[[key in lines for key in zip(loose["system"], loose["identifier"], loose["entitlement"])]])
    rows = []
    for index, row in zip(expected.index, expected.itertuples()):
        if index in covered:
            continue
        subject = row.person_email if row.correlated else row.login
        ambiguous = getattr(row, "match_rule", None) == identity.AMBIGUOUS
        reason = ("" if row.correlated else
                  " The account matches several HR workers (ambiguous: " + str(row.match_candidates) + "), so the "
                  "campaign could not name its person." if ambiguous else
                  " The account has no HR identity (uncorrelated), so the campaign excluded it.")
        rows.append({
            "rule": "review_population_gap",
            "subject": subject,
            "system": row.system,
            "detail_key": f"{row.system}|{row.entitlement}",
            "description": f"{row.system} access '{row.entitlement}' of {row.login_original} was held at the snapshot "
                           f"{snapshot:%Y-%m-%d} but is not in the review campaign.{reason}",
            "evidence_reference": A._evidence(A._listing_label(row, listing_label), row.line),
            "severity": "high",
        })
    return A._hits(rows)


def old_review_lines_not_in_listing(decisions: pd.DataFrame, grants: pd.DataFrame, identities: pd.DataFrame,
                                snapshot: pd.Timestamp, file_label: str) -> pd.DataFrame:
    """Campaign lines whose access the system listings do not show (accuracy of the campaign content).

    A line is explained when the listing shows the access at the snapshot (dated listings), shows it
    at all (undated listings), or the access was later revoked or the person left after the snapshot.
    """
    held_grants = grants[A.held_at(grants, snapshot).to_numpy()]
    held = A.review_subjects(held_grants)
    dated_held = set(zip(held["system"], held["review_subject"], held["entitlement"]))
    loose = old_loose_held_keys(held_grants)
    spelled = dict(zip(zip(loose["system"], loose["identifier"], loose["entitlement"]), loose.index))
    leavers = set(identities.loc[identities["termination_date"].notna(), "email"])
    rows = []
    for row, key in zip(decisions.itertuples(), old_loose_line_keys(decisions)):
        if (row.system, row.subject_email, row.entitlement) in dated_held:
            continue
        if row.decision == "revoke" or row.subject_email in leavers:
            continue
        if key in spelled:
            # the same access under another spelling: one finding (the line is imprecise), never a
            # population gap as well (review_population_gaps counts the access as covered)
            grant = held_grants.loc[spelled[key]]
            rows.append({
                "rule": "review_line_not_in_listing",
                "subject": row.subject_email,
                "system": row.system,
                "detail_key": f"{row.system}|{row.entitlement}",
                "description": (f"The campaign asked {reviewer} to review " if (reviewer := A._reviewer(row)) else
                                f"The campaign listed for review ({A.NO_REVIEWER}) ")
                               + f"'{row.subject_email}' {row.application} '{row.entitlement}', which the system "
                                 f"listing shows as {grant['login_original']}'s '{grant['entitlement']}': the line does "
                                 "not name the access as the listing does (imprecise).",
                "evidence_reference": f"{A._evidence(file_label, row.line)}; "
                                      f"{A._evidence(A._listing_label(grant, 'system listing'), grant['line'])}",
                "severity": "medium",
            })
            continue
        rows.append({
            "rule": "review_line_not_in_listing",
            "subject": row.subject_email,
            "system": row.system,
            "detail_key": f"{row.system}|{row.entitlement}",
            "description": (f"The campaign asked {reviewer} to review " if (reviewer := A._reviewer(row)) else
                            f"The campaign listed for review ({A.NO_REVIEWER}) ")
                           + f"{A._reviewed_person(row)}'s {row.application} '{row.entitlement}', which the system "
                             "listing does not show at the snapshot.",
            "evidence_reference": A._evidence(file_label, row.line),
            "severity": "medium",
        })
    return A._hits(rows)


# =============================================================================================
# Shared helpers of the control families (provisioning, termination, privileged access,
# segregation of duties, authentication). Everything below is vectorised: a million grants
# take seconds, not minutes (benchmarks/bench_analytics.py).
# =============================================================================================


# --------------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------------

REVIEWERS = ["rita@x.example", "ravi@x.example", "Rita@x.example", "zoe@x.example", None]
NAMES = ["Rita Reviewer", "  ", "", None, "Ravi  R"]
SUBJECTS = ["sam@x.example", "SAM@x.example ", "lea@x.example", "kim@x.example", "rita@x.example", None]
ENTITLEMENTS = ["AP Clerk", "ap  clerk", "GL Post", "Admin"]
SYSTEMS = ["erp", "crm", "aws"]
DECISIONS = ["approve", "approve", "approve", "revoke", "undecided"]
START = pd.Timestamp("2026-08-20 09:00", tz="UTC")

IDENTITIES = pd.DataFrame({
    "employee_id": ["000001", "000002", "000003", "000004"],
    "email": ["rita@x.example", "sam@x.example", "lea@x.example", "kim@x.example"],
    "full_name": ["Rita Reviewer", "Sam Subject", "Lea Leaver", "Kim Kestrel"],
    "manager_employee_id": [pd.NA, "000001", "000001", "000001"],
    "hire_date": pd.to_datetime(["2020-01-01", "2021-01-01", "2026-08-20", "2026-09-20"]),
    "termination_date": pd.to_datetime([None, None, "2026-08-18", None]),
})
SNAPSHOT = pd.Timestamp("2026-08-31 23:59:59", tz="UTC")

line = st.fixed_dictionaries({
    "reviewer_email": st.sampled_from(REVIEWERS), "reviewer_name": st.sampled_from(NAMES),
    "subject_email": st.sampled_from(SUBJECTS), "subject_name": st.sampled_from(["Sam Subject", None, "Lea"]),
    "system": st.sampled_from(SYSTEMS), "entitlement": st.sampled_from(ENTITLEMENTS),
    "decision": st.sampled_from(DECISIONS),
    "seconds": st.one_of(st.none(), st.integers(0, 3 * 86400)),
})
grant = st.fixed_dictionaries({
    "system": st.sampled_from(SYSTEMS), "entitlement": st.sampled_from(ENTITLEMENTS),
    "email": st.sampled_from(["sam@x.example", "lea@x.example", "kim@x.example", "Sam@X.example", None]),
    "login": st.sampled_from(["sam", "lea", "SAM", "ghost", "svc-batch", None]),
    "granted_days": st.one_of(st.none(), st.integers(-400, 60)),
    "removed_days": st.one_of(st.none(), st.integers(-30, 60)),
})


def decisions_frame(lines: list[dict]) -> pd.DataFrame:
    """Review lines as the reader returns them: text as ``string``, times as UTC microseconds."""
    frame = pd.DataFrame({
        "campaign_id": "C1",
        "reviewer_name": [r["reviewer_name"] for r in lines], "reviewer_email": [r["reviewer_email"] for r in lines],
        "subject_name": [r["subject_name"] for r in lines], "subject_email": [r["subject_email"] for r in lines],
        "system": [r["system"] for r in lines], "application": [r["system"].upper() for r in lines],
        "entitlement": [r["entitlement"] for r in lines], "decision": [r["decision"] for r in lines],
        "decided_at": [START + pd.Timedelta(seconds=r["seconds"]) if r["seconds"] is not None else pd.NaT
                       for r in lines],
        "line": np.arange(2, 2 + len(lines), dtype="int64"),
    })
    text = [c for c in frame.columns if c not in ("decided_at", "line")]
    frame[text] = frame[text].astype("string")
    frame["decided_at"] = pd.to_datetime(frame["decided_at"], utc=True).astype("datetime64[us, UTC]")
    return frame


def grants_frame(rows: list[dict]) -> pd.DataFrame:
    """A system listing as the UAR control has it: correlated to HR, service accounts marked."""
    day = pd.Timestamp("2026-08-31", tz="UTC")
    frame = pd.DataFrame({
        "system": [r["system"] for r in rows], "account_id": [r["login"] for r in rows],
        "login": [r["login"] for r in rows], "login_original": [r["login"] for r in rows],
        "email": [r["email"] for r in rows], "entitlement": [r["entitlement"] for r in rows],
        "granted_at": [day + pd.Timedelta(days=r["granted_days"]) if r["granted_days"] is not None else pd.NaT
                       for r in rows],
        "removed_at": [day + pd.Timedelta(days=r["removed_days"]) if r["removed_days"] is not None else pd.NaT
                       for r in rows],
        "line": np.arange(2, 2 + len(rows), dtype="int64"),
        "listing": ["listing.csv" if i % 2 else "other.csv" for i in range(len(rows))],
    })
    text = ["system", "account_id", "login", "login_original", "email", "entitlement"]
    frame[text] = frame[text].astype("string")
    for column in ("granted_at", "removed_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[us, UTC]")
    return analytics.correlate_grants(frame, IDENTITIES)


def assert_same(new: pd.DataFrame, old: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(new, old, check_exact=True)


# --------------------------------------------------------------------------------------------
# Hand-made cases
# --------------------------------------------------------------------------------------------

HAND_MADE = [
    # a rubber-stamper on two systems, a slow reviewer, a reviewer with one undecided line only
    [{"reviewer_email": "rita@x.example", "reviewer_name": "Rita Reviewer", "subject_email": "sam@x.example",
      "subject_name": "Sam", "system": "erp" if i % 2 else "crm", "entitlement": "AP Clerk", "decision": "approve",
      "seconds": 5 * i} for i in range(30)]
    + [{"reviewer_email": "ravi@x.example", "reviewer_name": "  ", "subject_email": "lea@x.example",
        "subject_name": None, "system": "erp", "entitlement": "GL Post", "decision": "revoke", "seconds": 900 * i}
       for i in range(5)]
    + [{"reviewer_email": "zoe@x.example", "reviewer_name": None, "subject_email": "kim@x.example",
        "subject_name": "Kim", "system": "aws", "entitlement": "Admin", "decision": "undecided", "seconds": None}],
    # no reviewer at all on any line
    [{"reviewer_email": None, "reviewer_name": "Nobody", "subject_email": "sam@x.example", "subject_name": "Sam",
      "system": "erp", "entitlement": "AP Clerk", "decision": "approve", "seconds": 10}],
    # decided lines without a time only
    [{"reviewer_email": "rita@x.example", "reviewer_name": "Rita", "subject_email": "sam@x.example",
      "subject_name": "Sam", "system": "erp", "entitlement": "AP Clerk", "decision": "approve", "seconds": None}] * 3,
]


@pytest.mark.parametrize("lines", HAND_MADE, ids=["two-systems", "no-reviewer", "no-times"])
def test_reviewer_statistics_and_rubber_stamping_equal_the_loops(lines):
    frame = decisions_frame(lines)
    assert_same(analytics.reviewer_statistics(frame), old_reviewer_statistics(frame))
    for thresholds in (A.RubberStampThresholds(), A.RubberStampThresholds(2, 0.5, 60.0)):
        assert_same(analytics.rubber_stamping(frame, "uar.csv", thresholds),
                    old_rubber_stamping(frame, "uar.csv", thresholds))


def test_the_hand_made_rubber_stamper_is_found_across_two_systems():
    hits = analytics.rubber_stamping(decisions_frame(HAND_MADE[0]), "uar.csv")
    assert hits["subject"].tolist() == ["rita@x.example"] and hits["system"].tolist() == ["crm; erp"]


def test_reviewer_statistics_of_no_lines_is_empty_as_before():
    frame = decisions_frame(HAND_MADE[0]).iloc[0:0]
    assert_same(analytics.reviewer_statistics(frame), old_reviewer_statistics(frame))


def test_population_gaps_and_lines_not_in_listing_equal_the_loops_on_a_hand_made_campaign():
    lines = decisions_frame(HAND_MADE[0][:3] + HAND_MADE[0][-1:] + HAND_MADE[1])
    listing = grants_frame([
        {"system": "erp", "entitlement": "AP Clerk", "email": "sam@x.example", "login": "sam",
         "granted_days": -10, "removed_days": None},
        {"system": "erp", "entitlement": "GL Post", "email": None, "login": "ghost", "granted_days": None,
         "removed_days": None},
        {"system": "crm", "entitlement": "ap  clerk", "email": "Sam@X.example", "login": "SAM", "granted_days": -5,
         "removed_days": 3},
    ])
    gaps = analytics.review_population_gaps(listing, lines, IDENTITIES, SNAPSHOT, SYSTEMS, "listing.csv")
    assert len(gaps)
    assert_same(gaps, old_review_population_gaps(listing, lines, IDENTITIES, SNAPSHOT, SYSTEMS, "listing.csv"))
    assert_same(analytics.review_lines_not_in_listing(lines, listing, IDENTITIES, SNAPSHOT, "uar.csv"),
                old_review_lines_not_in_listing(lines, listing, IDENTITIES, SNAPSHOT, "uar.csv"))


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(line, max_size=40), st.integers(1, 5), st.floats(0.0, 1.0), st.floats(0.0, 7200.0))
def test_reviewer_statistics_and_rubber_stamping_equal_the_loops_on_any_campaign(lines, least, rate, median):
    frame = decisions_frame(lines)
    assert_same(analytics.reviewer_statistics(frame), old_reviewer_statistics(frame))
    thresholds = A.RubberStampThresholds(least, rate, median)
    assert_same(analytics.rubber_stamping(frame, "uar.csv", thresholds),
                old_rubber_stamping(frame, "uar.csv", thresholds))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(line, max_size=30), st.lists(grant, max_size=30), st.sampled_from([SYSTEMS, ["erp"], []]))
def test_gaps_and_lines_not_in_listing_equal_the_loops_on_any_campaign(lines, rows, systems):
    frame, listing = decisions_frame(lines), grants_frame(rows)
    frame = frame[frame["decision"].notna()]
    assert_same(analytics.review_population_gaps(listing, frame, IDENTITIES, SNAPSHOT, systems, "listing.csv"),
                old_review_population_gaps(listing, frame, IDENTITIES, SNAPSHOT, systems, "listing.csv"))
    assert_same(analytics.review_lines_not_in_listing(frame, listing, IDENTITIES, SNAPSHOT, "uar.csv"),
                old_review_lines_not_in_listing(frame, listing, IDENTITIES, SNAPSHOT, "uar.csv"))


texts = st.lists(st.one_of(st.none(), st.sampled_from(["Ann  Lee", "lee, ann", "Zoë O'Neil", " ", "a@b.example",
                                                        "A@B.example", ""]), st.text(max_size=6)), max_size=25)


@settings(max_examples=40, deadline=None)
@given(texts, st.sampled_from(["string", "object", "str"]))
def test_map_distinct_is_series_map(values, dtype):
    series = pd.Series(values, dtype=dtype, index=np.arange(len(values)) * 3)
    for function in (identity.normalise_name, identity.local_part, lambda v: "x" if pd.isna(v) else str(v)[:2]):
        pd.testing.assert_series_equal(map_distinct(series, function), series.map(function), check_exact=True)


@settings(max_examples=40, deadline=None)
@given(texts)
def test_transform_distinct_is_the_transform(values):
    series = pd.Series(values, dtype="string")
    pd.testing.assert_series_equal(analytics._loose(series), old_loose(series), check_exact=True)
    assert analytics._loose_line_keys(decisions_frame([])).empty
