"""The DuckDB twins of the access review and SoD analytics (workbench.large_analytics) return exactly
what the pandas analytics return, on hand-made listings and on random ones (hypothesis).

The hand-made listing of a company of our own covers undated grants, removed grants, a disabled
account, service accounts, an uncorrelated account, an ambiguous match (two workers share the local
part the system's rule reads), casefolding that SQL ``lower`` gets wrong ('Straße' / 'STRASSE'),
a review line naming the access in another spelling, a declared review scope, one system listed in
two files, and mitigations valid, expired and not yet valid.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import grants_frame
from workbench import analytics, large_analytics, removals, snapshots

UTC = "UTC"
SNAPSHOT = pd.Timestamp("2026-09-01 23:59:59.999999", tz=UTC)
LISTINGS = ["erp_roles.csv", "cloud_groups.csv"]
ORDERS = {"erp": ["email", "email_local_part"], "cloud": ["email"]}
PATTERNS = {"erp": ["batch*"], "cloud": ["svc-*"]}


def stamp(text: str | None) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC) if text else pd.NaT


def hr() -> pd.DataFrame:
    rows = [("E1", "ann.lee@fjord.example", "Finance", "2024-01-01", None, None),
            ("E2", "bo.ng@fjord.example", "IT", "2026-09-15", None, "E1"),          # hired after the snapshot
            ("E3", "cy.ito@fjord.example", "Sales", "2023-05-01", "2026-08-20", "E1"),  # a leaver
            ("E4", "dan@fjord.example", "Finance", "2022-01-01", None, "E1"),
            ("E5", "dan@fjord-labs.example", "IT", "2022-01-01", None, "E1"),       # same local part as E4
            ("E6", "eva.roth@fjord.example", "Accounts Payable", "2021-03-01", None, "E1")]
    frame = pd.DataFrame(rows, columns=["employee_id", "email", "department", "hire_date", "termination_date",
                                        "manager_employee_id"])
    frame = frame.astype({c: "string" for c in ("employee_id", "email", "department", "manager_employee_id")})
    for column in ("hire_date", "termination_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[s]")
    return frame


def hand_made_listing() -> pd.DataFrame:
    erp, cloud = LISTINGS
    return grants_frame([
        ("erp", "ANN", "ann.lee@fjord.example", "AP Clerk", "2025-01-01", None, None, 2, erp),
        ("erp", "ANN", "ann.lee@fjord.example", "AP Approver", "2025-01-01", None, None, 3, erp),
        ("erp", "BO", "bo.ng@fjord.example", "GL Post", None, None, None, 4, erp),               # undated
        ("erp", "BATCH01", None, "AP Approver", "2020-01-01", None, None, 5, erp),               # service account
        ("erp", "ZED", None, "AP Approver", "2025-06-01", None, None, 6, erp),                   # uncorrelated
        ("erp", "DAN", None, "Straße", "2025-01-01", None, None, 7, erp),                        # ambiguous
        ("erp", "CY", "cy.ito@fjord.example", "AP Clerk", "2024-01-01", "2026-08-25", None, 8, erp),  # removed
        ("erp", "ANN", "ann.lee@fjord.example", "AP Clerk", "2025-02-01", None, None, 9, erp),   # listed twice
        ("erp", "EVA", "eva.roth@fjord.example", "AP  approver ", "2024-01-01", None, "disabled", 10, erp),
        ("erp", "EVA", "eva.roth@fjord.example", "Vendor Master", "2024-01-01", None, None, 11, erp),
        ("cloud", "ann.lee@fjord.example", "ann.lee@fjord.example", "Admins", "2026-09-10", None, None, 2, cloud),
        ("cloud", "ann.lee@fjord.example", "ann.lee@fjord.example", "Readers", "2025-01-01", None, None, 3, cloud),
        ("cloud", "svc-deploy", None, "Admins", "2025-01-01", None, None, 4, cloud),
        ("cloud", "Dan@Fjord.example", "Dan@Fjord.example", "STRASSE", "2025-01-01", None, None, 5, cloud),
    ])


def decisions_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["system", "subject_email", "entitlement", "decision", "reviewer_email", "line"])
    frame.insert(0, "campaign_id", "Q3")
    frame["application"] = frame["system"]
    frame["decided_at"] = pd.Timestamp("2026-09-05", tz=UTC)
    for column in ("campaign_id", "system", "subject_email", "entitlement", "decision", "reviewer_email",
                   "application"):
        frame[column] = frame[column].astype("string")
    frame["line"] = frame["line"].astype("int64")
    return frame


def hand_made_decisions() -> pd.DataFrame:
    return decisions_frame([
        ("erp", "ann.lee@fjord.example", "AP Clerk", "approve", "eva.roth@fjord.example", 2),
        ("erp", "ann.lee@fjord.example", "ap approver", "approve", "eva.roth@fjord.example", 3),  # other spelling
        ("erp", "cy.ito@fjord.example", "AP Clerk", "approve", "ann.lee@fjord.example", 4),       # a leaver's
        ("erp", "zed", "AP Approver", "revoke", "ann.lee@fjord.example", 5),
        ("erp", "ghost@fjord.example", "AP Clerk", "approve", "ann.lee@fjord.example", 6),        # not in listing
        ("cloud", "ann.lee@fjord.example", "Readers", "approve", None, 7),
        ("cloud", "dan@fjord.example", "strasse", "approve", "ann.lee@fjord.example", 8),         # ß spelled ss
    ])


def correlate(frame: pd.DataFrame, identities: pd.DataFrame) -> pd.DataFrame:
    return analytics.correlate_grants(frame, identities, service_accounts=PATTERNS, orders=ORDERS)


def twin_listing(frame: pd.DataFrame, identities: pd.DataFrame, in_scope=None) -> large_analytics.CorrelatedListing:
    """The listing as the large path sees it: a DuckDB relation, correlated on its distinct accounts."""
    con = duckdb.connect(config={"threads": 2})
    relation = con.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    return large_analytics.correlated_listing(con, relation, LISTINGS, lambda a: correlate(a, identities), in_scope)


def rules_frame() -> pd.DataFrame:
    frame = pd.DataFrame({"rule_id": ["R1", "R2"], "system": ["erp", "erp"], "function_a": ["Enter", "Vendors"],
                          "entitlements_a": [("ap clerk",), ("vendor master", "Straße")],
                          "function_b": ["Approve", "Pay"], "entitlements_b": [("AP Approver ",), ("ap approver",)],
                          "risk_level": ["High", "Medium"]})
    return frame.astype({c: "string" for c in ("rule_id", "system", "function_a", "function_b", "risk_level")})


ATTRIBUTE_RULES = [analytics.AttributeRule("A1", "approvals only in AP", ("erp",), ("AP APPROVER", "straße"),
                                           "department", ("Accounts Payable",))]


def pandas_held(frame: pd.DataFrame, identities: pd.DataFrame, systems: list[str]) -> pd.DataFrame:
    grants = correlate(frame, identities)
    return grants[analytics.held_at_extraction(grants) & grants["system"].isin(systems)].reset_index(drop=True)


# --- (a) hand-made listings -----------------------------------------------------------------------

def test_correlation_runs_once_per_account_and_joins_back_to_every_grant():
    frame, identities = hand_made_listing(), hr()
    listing = twin_listing(frame, identities)
    expected = correlate(frame, identities)
    pd.testing.assert_frame_equal(listing.fetch(), expected)
    assert len(listing.accounts) == frame[["system", "login", "email"]].drop_duplicates().shape[0] < len(frame)
    assert set(expected["match_rule"]) >= {"email", "ambiguous", "unmatched"}
    assert expected["service_account"].sum() == 2


def test_accounts_come_in_order_of_their_first_row_with_its_listing():
    listing = twin_listing(hand_made_listing(), hr())
    assert list(listing.accounts["login"][:3]) == ["ann", "bo", "batch01"]
    assert list(listing.accounts["listing"].unique()) == LISTINGS


@pytest.mark.parametrize("in_scope", [None, "declared"])
def test_review_population_gaps_twin(in_scope):
    frame, identities, decisions = hand_made_listing(), hr(), hand_made_decisions()
    scope = (lambda f: ~((f["system"] == "erp") & (f["entitlement"].str.casefold() == "gl post"))) if in_scope else None
    grants = correlate(frame, identities)
    grants = grants[scope(grants)].reset_index(drop=True) if scope else grants
    expected = analytics.review_population_gaps(grants, decisions, identities, SNAPSHOT, ["erp", "cloud"], "listings")
    found = large_analytics.review_population_gaps(twin_listing(frame, identities, scope), decisions, identities,
                                                   SNAPSHOT, ["erp", "cloud"], "listings")
    pd.testing.assert_frame_equal(found, expected)
    assert len(expected) > 0


def test_review_population_gaps_never_counts_a_line_in_another_spelling_nor_a_casefolded_eszett():
    frame, identities, decisions = hand_made_listing(), hr(), hand_made_decisions()
    found = large_analytics.review_population_gaps(twin_listing(frame, identities), decisions, identities, SNAPSHOT,
                                                   ["erp", "cloud"], "listings")
    gaps = set(zip(found["system"], found["detail_key"], found["subject"]))
    assert ("erp", "erp|AP Approver", "ann.lee@fjord.example") not in gaps    # 'ap approver' covers it
    assert ("cloud", "cloud|STRASSE", "dan@fjord.example") not in gaps         # casefold, not lower
    assert ("erp", "erp|AP Approver", "zed") not in gaps                       # the revoke line names it: covered
    assert not found["subject"].isin(["svc-deploy", "batch01"]).any()          # service accounts are out


def test_review_lines_not_in_listing_twin():
    frame, identities, decisions = hand_made_listing(), hr(), hand_made_decisions()
    expected = analytics.review_lines_not_in_listing(decisions, correlate(frame, identities), identities, SNAPSHOT,
                                                     "campaign.csv")
    found = large_analytics.review_lines_not_in_listing(decisions, twin_listing(frame, identities), identities,
                                                        SNAPSHOT, "campaign.csv")
    pd.testing.assert_frame_equal(found, expected)
    assert "ghost@fjord.example" in set(found["subject"])
    assert found["description"].str.contains("imprecise").any()


def test_held_for_lines_answers_the_review_subjects_of_the_selected_lines():
    frame, identities, decisions = hand_made_listing(), hr(), hand_made_decisions()
    grants = correlate(frame, identities)
    everything = analytics.review_subjects(grants[analytics.held_at(grants, SNAPSHOT)])
    subset = large_analytics.held_for_lines(twin_listing(frame, identities), decisions, SNAPSHOT)
    some = analytics.review_subjects(subset)
    keys = set(zip(decisions["system"], decisions["subject_email"], decisions["entitlement"]))
    assert {k for k in zip(everything["system"], everything["review_subject"], everything["entitlement"])
            if k in keys} == {k for k in zip(some["system"], some["review_subject"], some["entitlement"]) if k in keys}
    assert len(subset) < len(grants)


def test_sod_accounts_twin():
    frame, identities = hand_made_listing(), hr()
    listing = twin_listing(frame, identities)
    expected = analytics.held_accounts(pandas_held(frame, identities, ["erp", "cloud"]))
    found = large_analytics.sod_accounts(listing, large_analytics.sod_held(listing, ["erp", "cloud"]))
    pd.testing.assert_frame_equal(found, expected)
    assert found.loc[found["login"] == "ann", "entitlements"].item() == "AP Clerk; AP Approver"


def test_sod_rule_and_attribute_conflicts_twins():
    frame, identities, rules = hand_made_listing(), hr(), rules_frame()
    held = pandas_held(frame, identities, ["erp"])
    listing = twin_listing(frame, identities)
    condition = large_analytics.sod_held(listing, ["erp"])
    expected = analytics.sod_rule_conflicts(held, rules)
    found = large_analytics.sod_rule_conflicts(listing, condition, rules)
    pd.testing.assert_frame_equal(found, expected)
    assert set(expected["rule_id"]) == {"R1"}
    pd.testing.assert_frame_equal(
        large_analytics.sod_attribute_conflicts(listing, condition, identities, ATTRIBUTE_RULES, "erp.csv"),
        analytics.sod_attribute_conflicts(held, identities, ATTRIBUTE_RULES, "erp.csv"))


def test_mitigations_valid_expired_and_not_yet_valid_apply_alike_to_the_twins_result():
    frame, identities, rules = hand_made_listing(), hr(), rules_frame()
    listing = twin_listing(frame, identities)
    found = large_analytics.sod_rule_conflicts(listing, large_analytics.sod_held(listing, ["erp"]), rules)
    expected = analytics.sod_rule_conflicts(pandas_held(frame, identities, ["erp"]), rules)
    for valid_from, valid_to, status in (("2026-01-01", None, "valid"), ("2025-01-01", "2026-06-30", "expired"),
                                         ("2026-12-01", None, "not yet valid")):
        register = pd.DataFrame({"rule_id": ["R1"], "login": ["ANN"], "mitigation_id": ["M1"],
                                 "mitigating_control": ["monthly review"], "approved_by": ["eva.roth@fjord.example"],
                                 "valid_from": [pd.Timestamp(valid_from)],
                                 "valid_to": [pd.Timestamp(valid_to) if valid_to else pd.NaT], "line": [2]})
        mitigated = analytics.apply_mitigations(found, register, "2026-09-30")
        pd.testing.assert_frame_equal(mitigated, analytics.apply_mitigations(expected, register, "2026-09-30"))
        assert mitigated["mitigation_status"].tolist() == [status]


def test_held_entitlements_and_counts_match_the_listing():
    frame, identities = hand_made_listing(), hr()
    listing = twin_listing(frame, identities)
    held = pandas_held(frame, identities, ["erp", "cloud"])
    condition = large_analytics.sod_held(listing, ["erp", "cloud"])
    assert listing.count(condition) == len(held)
    catalogue = large_analytics.held_entitlements(listing, condition)
    assert set(zip(catalogue["system"], catalogue["entitlement"])) == set(zip(held["system"], held["entitlement"]))


def test_sql_literals_quote_and_keep_the_moment_to_the_microsecond():
    assert large_analytics.quote("O'Brien") == "'O''Brien'"
    literal = large_analytics.timestamp_literal(pd.Timestamp("2026-09-01 23:59:59.999999", tz=UTC))
    assert literal == "TIMESTAMPTZ '2026-09-01 23:59:59.999999+00'"


# --- (b) random listings --------------------------------------------------------------------------

PEOPLE = ["ann.lee@fjord.example", "bo.ng@fjord.example", "cy.ito@fjord.example", "dan@fjord.example",
          "eva.roth@fjord.example"]
LOGINS = ["ANN", "ann.lee@fjord.example", "Bo", "DAN", "zed", "batch01", "svc-x", "Eva"]
ENTITLEMENTS = ["AP Clerk", "ap clerk", "AP Approver", " AP  approver", "Straße", "STRASSE", "Vendor Master", "GL"]
MOMENTS = [None, "2025-01-01", "2026-09-01 23:59:59.999999", "2026-09-02", "2026-10-01"]

grant_rows = st.lists(st.tuples(st.sampled_from(["erp", "cloud"]), st.sampled_from(LOGINS),
                                st.one_of(st.none(), st.sampled_from(PEOPLE)), st.sampled_from(ENTITLEMENTS),
                                st.sampled_from(MOMENTS), st.sampled_from(MOMENTS),
                                st.sampled_from([None, "active", "disabled"]), st.sampled_from(LISTINGS)),
                      min_size=0, max_size=25)
line_rows = st.lists(st.tuples(st.sampled_from(["erp", "cloud"]), st.sampled_from(PEOPLE + ["zed", "DAN", "x@y"]),
                               st.sampled_from(ENTITLEMENTS), st.sampled_from(["approve", "revoke", "undecided"])),
                     min_size=0, max_size=12)


def random_listing(rows: list[tuple]) -> pd.DataFrame:
    ordered = sorted(rows, key=lambda row: LISTINGS.index(row[-1]))   # frames: files in source order
    numbered = [(s, login, email, ent, granted, removed, status, line, listing)
                for line, (s, login, email, ent, granted, removed, status, listing) in enumerate(ordered, start=2)]
    return grants_frame(numbered) if numbered else grants_frame([]).astype({"login": "string"})


RANDOM = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@RANDOM
@given(grant_rows, line_rows)
def test_review_twins_equal_pandas_on_random_listings(rows, lines):
    frame, identities = random_listing(rows), hr()
    decisions = decisions_frame([(s, subj, ent, d, "eva.roth@fjord.example", i)
                                 for i, (s, subj, ent, d) in enumerate(lines, start=2)])
    grants = correlate(frame, identities)
    listing = twin_listing(frame, identities)
    pd.testing.assert_frame_equal(
        large_analytics.review_population_gaps(listing, decisions, identities, SNAPSHOT, ["erp", "cloud"], "l"),
        analytics.review_population_gaps(grants, decisions, identities, SNAPSHOT, ["erp", "cloud"], "l"))
    pd.testing.assert_frame_equal(
        large_analytics.review_lines_not_in_listing(decisions, listing, identities, SNAPSHOT, "c"),
        analytics.review_lines_not_in_listing(decisions, grants, identities, SNAPSHOT, "c"))


@RANDOM
@given(grant_rows, st.sampled_from([["erp"], ["erp", "cloud"], ["cloud"]]))
def test_sod_twins_equal_pandas_on_random_listings(rows, systems):
    frame, identities, rules = random_listing(rows), hr(), rules_frame()
    held = pandas_held(frame, identities, systems)
    listing = twin_listing(frame, identities)
    condition = large_analytics.sod_held(listing, systems)
    pd.testing.assert_frame_equal(large_analytics.sod_rule_conflicts(listing, condition, rules),
                                  analytics.sod_rule_conflicts(held, rules))
    pd.testing.assert_frame_equal(
        large_analytics.sod_attribute_conflicts(listing, condition, identities, ATTRIBUTE_RULES, "l"),
        analytics.sod_attribute_conflicts(held, identities, ATTRIBUTE_RULES, "l"))
    pd.testing.assert_frame_equal(large_analytics.sod_accounts(listing, condition), analytics.held_accounts(held))
    assert listing.count(condition) == len(held)


def test_a_review_line_of_another_system_does_not_cover_the_access():
    erp, _ = LISTINGS
    frame = grants_frame([("cloud", "zed", None, "GL", None, None, None, 2, erp),
                          ("erp", "zed", None, "GL", None, None, None, 3, erp)])
    decisions = decisions_frame([("erp", "zed", "GL", "approve", "eva.roth@fjord.example", 2)])
    found = large_analytics.review_population_gaps(twin_listing(frame, hr()), decisions, hr(), SNAPSHOT,
                                                   ["erp", "cloud"], "l")
    assert list(zip(found["system"], found["subject"])) == [("cloud", "zed")]


def test_a_lone_listing_restricted_to_the_revoked_access_proves_each_revocation_as_the_whole_listing_does():
    frame, identities = hand_made_listing(), hr()
    erp_rows = frame[frame["system"] == "erp"].reset_index(drop=True)
    revokes = decisions_frame([("erp", "ANN@fjord.example ", "ap clerk", "revoke", "eva.roth@fjord.example", 2),
                               ("erp", "zed", "AP Approver", "revoke", "ann.lee@fjord.example", 3),
                               ("erp", "cy.ito@fjord.example", "AP Clerk", "revoke", "ann.lee@fjord.example", 4),
                               ("erp", "nobody@fjord.example", "GL", "revoke", "ann.lee@fjord.example", 5)])
    revokes["subject_email"] = revokes["subject_email"].str.replace("ANN@", "ann.lee@")
    moment = pd.Timestamp("2026-09-30", tz=UTC)
    whole = snapshots.Snapshot("erp", "erp_roles.csv", "grants", "erp", moment, correlate(erp_rows, identities))
    con = duckdb.connect()
    listing = large_analytics.correlated_listing(con, con.from_arrow(pa.Table.from_pandas(erp_rows)), LISTINGS,
                                                 lambda a: correlate(a, identities))
    rows = large_analytics.rows_named_by(listing, revokes)
    assert 0 < len(rows) < len(erp_rows)
    lone = snapshots.Snapshot("erp", "erp_roles.csv", "grants", "erp", moment, rows)
    pd.testing.assert_frame_equal(removals.prove_revocations(revokes, [lone], None, 5, "campaign.csv"),
                                  removals.prove_revocations(revokes, [whole], None, 5, "campaign.csv"))


def test_permission_level_and_cross_system_rules_read_only_the_grants_giving_a_named_permission():
    from workbench import sod
    frame, identities = hand_made_listing(), hr()
    rules = pd.DataFrame({"rule_id": ["P1", "X1"], "system": ["erp", "erp"], "function_a": ["Vendors", "Enter"],
                          "entitlements_a": [(" VEND",), ("AP Clerk",)], "function_b": ["Pay", "Administer"],
                          "entitlements_b": [("pay",), ("admins",)], "risk_level": ["High", "High"],
                          "level": ["permission", None], "system_b": [None, "cloud"]})
    rules = rules.astype({c: "string" for c in ("rule_id", "system", "function_a", "function_b", "risk_level", "level",
                                                "system_b")})
    permissions = pd.DataFrame({"system": ["erp", "erp", "erp"], "role": ["vendor master", "AP Approver", "GL Post"],
                                "permission": ["VEND", "PAY", "POST"], "line": [2, 3, 4]})
    held = pandas_held(frame, identities, ["erp", "cloud"])
    listing = twin_listing(frame, identities)
    rows = large_analytics.held_for_extended_rules(listing, large_analytics.sod_held(listing, ["erp", "cloud"]), rules,
                                                   permissions)
    assert len(rows) < len(held)
    expected = sod.extended_rule_conflicts(held, rules, permissions, "l", "perms.csv")
    assert len(expected) > 0
    pd.testing.assert_frame_equal(sod.extended_rule_conflicts(rows, rules, permissions, "l", "perms.csv"), expected)
    pd.testing.assert_frame_equal(sod.unjoinable_accounts(rows, rules, permissions, "l"),
                                  sod.unjoinable_accounts(held, rules, permissions, "l"))
