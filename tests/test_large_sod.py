"""The DuckDB twins of the SoD role baseline and movers' rule (``large_analytics.sod_baseline_deviations``,
``large_analytics.sod_mover_retained_access``) return exactly what the pandas rules return on the whole
held listing, while reading back only the grants the rules' answers depend on; and the pieces the SoD
control's large path shares (the catalogue of held entitlements, literal IN lists, the sample's grants).

Fixtures of our own (Wrenfield Tooling: not the demo's): an SAP-style user x role listing (AGR_USERS
shape: user, role, valid from, valid to) and an AWS group listing, a Workday-style HR roster and the
roster of the quarter before (movers), and a role baseline by department, title and cost centre. They
cover people without a baseline, removed grants, a disabled account, keys in other case and spacing,
a system the baseline is silent on, an unresolved account, a mover's grant dated exactly on the earlier
roster's day, undated grants, peers counted against ``min_peers`` and the grace period's boundary.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import grants_frame
from workbench import analytics, large_analytics, sod

UTC = "UTC"
LISTINGS = ["AGR_USERS.txt", "aws_groups.csv"]
ORDERS = {"sap": ["email", "email_local_part"], "aws": ["email", "email_local_part"]}
PRIOR_AS_OF = pd.Timestamp("2026-06-30 06:00", tz=UTC)
PERIOD_END = pd.Timestamp("2026-09-30")


def roster(rows: list[tuple]) -> pd.DataFrame:
    """An HR roster as the Workday reader gives it (the columns the rules read)."""
    frame = pd.DataFrame(rows, columns=["employee_id", "email", "full_name", "department", "title", "cost_center",
                                        "termination_date"])
    frame = frame.astype({c: "string" for c in ("employee_id", "email", "full_name", "department", "title",
                                                 "cost_center")})
    frame["termination_date"] = pd.to_datetime(frame["termination_date"]).astype("datetime64[s]")
    return frame


def hr_now() -> pd.DataFrame:
    return roster([
        ("W1", "lena.vogt@wrenfield.example", "Lena Vogt", "Procurement", "Buyer", "CC-200", None),   # mover
        ("W2", "jonas.brandt@wrenfield.example", "Jonas Brandt", "Finance", "AP Clerk", "CC-110", None),  # cc mover
        ("W3", "mia.kern@wrenfield.example", "Mia Kern", "Procurement", "Buyer", "CC-200", None),
        ("W4", "paul.ries@wrenfield.example", "Paul Ries", " finance ", "AP Clerk", "CC-100", None),
        ("W5", "ida.lang@wrenfield.example", "Ida Lang", "Logistics", "Dispatcher", None, None),   # no baseline
        ("W6", "tom.falk@wrenfield.example", "Tom Falk", "Sales", "Rep", "CC-300", "2026-09-01"),  # leaver
        ("W7", "eva.sto@wrenfield.example", "Eva Sto", "Procurement", None, "CC-200", None),
    ])


def hr_prior() -> pd.DataFrame:
    return roster([
        ("W1", "lena.vogt@wrenfield.example", "Lena Vogt", "Finance", "AP Clerk", "CC-100", None),
        ("W2", "jonas.brandt@wrenfield.example", "Jonas Brandt", "Finance", "AP Clerk", "CC-100", None),
        ("W3", "mia.kern@wrenfield.example", "Mia Kern", "PROCUREMENT ", "Buyer", "CC-200", None),  # not a move
        ("W4", "paul.ries@wrenfield.example", "Paul Ries", "Finance", "AP Clerk", "CC-100", None),
        ("W5", "ida.lang@wrenfield.example", "Ida Lang", "Logistics", "Dispatcher", "", None),     # empty: no move
        ("W6", "tom.falk@wrenfield.example", "Tom Falk", "Finance", "Rep", "CC-100", None),        # left: no mover
        ("W7", "eva.sto@wrenfield.example", "Eva Sto", "Finance", None, "CC-100", None),
    ])


def hand_made_listing() -> pd.DataFrame:
    sap, aws = LISTINGS
    return grants_frame([
        ("sap", "LENA.VOGT", None, "Z_FI_AP_PAYMENT_RUN", "2025-03-01", None, None, 2, sap),   # old job, alone
        ("sap", "LENA.VOGT", None, "Z_MM_PO_CREATE", "2026-08-01", None, None, 3, sap),        # new job's
        ("sap", "LENA.VOGT", None, "Z_FI_GL_DISPLAY", "2026-06-30", None, None, 4, sap),       # on the roster's day
        ("sap", "LENA.VOGT", None, "Z_FI_AP_INVOICE", None, None, None, 5, sap),               # undated
        ("sap", "LENA.VOGT", None, "Z_FI_AP_CLOSE", "2025-01-01", "2026-08-15", None, 6, sap),  # removed
        ("sap", "MIA.KERN", None, "z_fi_ap_invoice ", "2024-01-01", None, None, 7, sap),
        ("sap", "MIA.KERN", None, "Z_MM_PO_CREATE", "2024-01-01", None, None, 8, sap),
        ("sap", "EVA.STO", None, "Z_MM_PO_CREATE", "2024-01-01", None, None, 9, sap),
        ("sap", "JONAS.BRANDT", None, "Z_FI_AP_INVOICE", "2024-01-01", None, None, 10, sap),
        ("sap", "JONAS.BRANDT", None, "Z_FI_TREASURY", None, None, None, 11, sap),             # cc mover, alone
        ("sap", "PAUL.RIES", None, "Z_FI_AP_INVOICE", "2024-01-01", None, None, 12, sap),
        ("sap", "PAUL.RIES", None, "Z_FI_TREASURY", "2024-01-01", None, "disabled", 13, sap),  # disabled
        ("sap", "IDA.LANG", None, "Z_LE_SHIPPING", "2024-01-01", None, None, 14, sap),         # no baseline
        ("sap", "IDA.LANG", None, "Z_LE_SHIPPING", "2024-02-01", None, None, 15, sap),         # listed twice
        ("sap", "TOM.FALK", None, "Z_SD_ORDERS", "2024-01-01", None, None, 16, sap),
        ("sap", "ZZ_TEMP", None, "Z_FI_AP_PAYMENT_RUN", "2024-01-01", None, None, 17, sap),    # unresolved
        ("sap", "LENA.VOGT", None, "Z_MM_VENDOR_DISPLAY", None, None, None, 18, sap),          # undated, one peer
        ("sap", "MIA.KERN", None, "z_mm_vendor_display", "2024-01-01", None, None, 19, sap),
        ("aws", "lena.vogt", "lena.vogt@wrenfield.example", "Admins", "2024-01-01", None, None, 2, aws),  # no baseline
        ("aws", "mia.kern", "mia.kern@wrenfield.example", "Readers", "2024-01-01", None, None, 3, aws),
    ])


def baseline_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["attribute", "value", "system", "entitlement", "line"])
    frame = frame.astype({c: "string" for c in ("attribute", "value", "system", "entitlement")})
    return frame.astype({"line": "int64"})


def hand_made_baseline() -> pd.DataFrame:
    return baseline_frame([
        ("department", "Procurement", "sap", "Z_MM_PO_CREATE", 2),
        ("Title ", "ap clerk", "sap", " z_fi_ap_invoice", 3),       # case and spacing of every key
        ("cost_center", "CC-110", "sap", "Z_FI_TREASURY", 4),
        ("department", "FINANCE", "sap", "Z_FI_AP_PAYMENT_RUN", 5),
        ("location", "Berlin", "sap", "Z_LE_SHIPPING", 6),          # not an HR attribute the rule reads
        ("department", "procurement", "sap", "Z_MM_VENDOR_DISPLAY", 7),
    ])


def correlate(frame: pd.DataFrame, identities: pd.DataFrame) -> pd.DataFrame:
    return analytics.correlate_grants(frame, identities, service_accounts={}, orders=ORDERS)


def twin_listing(frame: pd.DataFrame, identities: pd.DataFrame) -> large_analytics.CorrelatedListing:
    """The listing as the large path sees it: a DuckDB relation, correlated on its distinct accounts."""
    con = duckdb.connect(config={"threads": 1})
    relation = con.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    return large_analytics.correlated_listing(con, relation, LISTINGS, lambda a: correlate(a, identities))


def pandas_held(frame: pd.DataFrame, identities: pd.DataFrame, systems: list[str]) -> pd.DataFrame:
    grants = correlate(frame, identities)
    return grants[analytics.held_at_extraction(grants) & grants["system"].isin(systems)].reset_index(drop=True)


def both_baselines(frame: pd.DataFrame, identities: pd.DataFrame, baseline: pd.DataFrame,
                   systems: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(pandas rule on the whole held listing, twin, the rows the twin read back)."""
    listing = twin_listing(frame, identities)
    condition = large_analytics.sod_held(listing, systems)
    expected = sod.baseline_deviations(pandas_held(frame, identities, systems), identities, baseline, "baseline.csv",
                                       "l")
    found = large_analytics.sod_baseline_deviations(listing, condition, identities, baseline, "baseline.csv", "l")
    rows = large_analytics.baseline_deviation_grants(listing, condition, identities, baseline)
    return expected, found, rows


def both_movers(frame: pd.DataFrame, identities: pd.DataFrame, prior: pd.DataFrame, systems: list[str],
                prior_as_of: object = PRIOR_AS_OF, as_of: object = PERIOD_END, grace_days: int = 30,
                peer_attribute: str = "department", min_peers: int = 1) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                                 pd.DataFrame]:
    """(pandas rule on the whole held listing, twin, the rows the twin read back)."""
    listing = twin_listing(frame, identities)
    condition = large_analytics.sod_held(listing, systems)
    arguments = (identities, prior, prior_as_of, as_of, grace_days, peer_attribute, min_peers)
    expected = analytics.mover_retained_access(pandas_held(frame, identities, systems), *arguments,
                                               listing_label="l")
    found = large_analytics.sod_mover_retained_access(listing, condition, *arguments, listing_label="l")
    return expected, found, large_analytics.mover_grants(listing, condition, *arguments)


# --- (a) hand-made ---------------------------------------------------------------------------------

def test_baseline_twin_reports_what_the_pandas_rule_reports_reading_back_only_the_deviations():
    expected, found, rows = both_baselines(hand_made_listing(), hr_now(), hand_made_baseline(), ["sap", "aws"])
    pd.testing.assert_frame_equal(found, expected)
    assert set(expected["detail_key"]) == {
        "sap|lena.vogt@wrenfield.example|z_fi_ap_payment_run",   # FINANCE's, not her new department's
        "sap|lena.vogt@wrenfield.example|z_fi_ap_invoice", "sap|lena.vogt@wrenfield.example|z_fi_gl_display",
        "sap|mia.kern@wrenfield.example|z_fi_ap_invoice",        # the AP clerks', not a buyer's
        "sap|ida.lang@wrenfield.example|z_le_shipping",          # a 'location' row allows nothing
        "sap|tom.falk@wrenfield.example|z_sd_orders"}            # no baseline for Sales at all
    # Read back: the deviating groups whole (Ida's two lines), nothing of Jonas's, Paul's, Eva's or AWS.
    assert set(rows["line"][rows["login"] == "ida.lang"]) == {14, 15}
    assert not set(rows["login"]) & {"jonas.brandt", "paul.ries", "eva.sto", "zz_temp"}
    assert set(rows["system"]) == {"sap"}, "the baseline is silent on AWS: no AWS grant is tested"
    assert "nothing in this system" in expected.loc[expected["subject"] == "ida.lang@wrenfield.example",
                                                     "description"].item()


def test_baseline_twin_matches_keys_ignoring_case_and_spacing_and_only_the_rules_attributes():
    _, found, rows = both_baselines(hand_made_listing(), hr_now(), hand_made_baseline(), ["sap"])
    subjects = set(found["subject"])
    assert not {"sap|mia.kern@wrenfield.example|z_mm_vendor_display", "sap|mia.kern@wrenfield.example|z_mm_po_create"} \
        & set(found["detail_key"]), "'procurement' / 'Z_MM_VENDOR_DISPLAY' is her department's 'z_mm_vendor_display'"
    assert "jonas.brandt@wrenfield.example" not in subjects, "title 'Title ' = 'ap clerk' and cost centre CC-110"
    assert "paul.ries@wrenfield.example" not in subjects, "' finance ' is FINANCE; his Z_FI_TREASURY is disabled"
    assert "ida.lang@wrenfield.example" in subjects, "a 'location' row allows nothing"
    assert set(rows["line"]) == {2, 4, 5, 7, 14, 15, 16}, "exactly the grants of the deviations"


def test_baseline_twin_with_an_empty_baseline_or_listing_reports_nothing():
    empty = hand_made_baseline().iloc[0:0]
    expected, found, rows = both_baselines(hand_made_listing(), hr_now(), empty, ["sap"])
    pd.testing.assert_frame_equal(found, expected)
    assert found.empty and rows.empty
    expected, found, rows = both_baselines(hand_made_listing().iloc[0:0], hr_now(), hand_made_baseline(), ["sap"])
    pd.testing.assert_frame_equal(found, expected)
    assert found.empty


def test_mover_twin_reports_what_the_pandas_rule_reports_reading_back_only_movers_and_peers():
    expected, found, rows = both_movers(hand_made_listing(), hr_now(), hr_prior(), ["sap", "aws"])
    pd.testing.assert_frame_equal(found, expected)
    assert set(expected["detail_key"]) == {"sap|lena.vogt|Z_FI_AP_PAYMENT_RUN", "sap|jonas.brandt|Z_FI_TREASURY",
                                           "aws|lena.vogt|Admins", "sap|lena.vogt|Z_FI_AP_INVOICE"}
    assert "granted on a date the listing does not give" in expected.loc[
        expected["detail_key"] == "sap|jonas.brandt|Z_FI_TREASURY", "description"].item()
    # Not read back: her grants on the roster's day and removed; grants of people neither moving nor a
    # mover's peer. Read back as peers: Lena's PO role (after the roster) for Eva, a mover holding it too.
    assert not {4, 6} & set(rows.loc[rows["login"] == "lena.vogt", "line"])
    assert set(rows.loc[rows["login"] == "eva.sto", "line"]) == {9} and 3 in set(rows["line"])
    assert "ida.lang" not in set(rows["login"]) and "tom.falk" not in set(rows["login"])


def test_mover_twin_counts_peers_against_min_peers_and_words_the_count():
    for min_peers in (1, 2, 3):
        expected, found, _ = both_movers(hand_made_listing(), hr_now(), hr_prior(), ["sap"], min_peers=min_peers)
        pd.testing.assert_frame_equal(found, expected)
    keys = set(expected["detail_key"])
    assert "sap|lena.vogt|Z_MM_VENDOR_DISPLAY" in keys, "one Procurement peer (Mia, as 'z_mm_vendor_display')"
    assert "only 1 other(s) in department Procurement hold (at least 3 expected)" in expected.loc[
        expected["detail_key"] == "sap|lena.vogt|Z_MM_VENDOR_DISPLAY", "description"].item()
    one, _, _ = both_movers(hand_made_listing(), hr_now(), hr_prior(), ["sap"], min_peers=1)
    assert "sap|lena.vogt|Z_MM_VENDOR_DISPLAY" not in set(one["detail_key"])
    assert "sap|lena.vogt|Z_FI_AP_INVOICE" in set(one["detail_key"]), "'z_fi_ap_invoice ' (a blank) is another role"


def test_mover_twin_on_the_grace_periods_boundary_and_by_cost_centre():
    # The period end 30 days after the earlier roster's day: within the grace, nothing is reported or read.
    for grace, reported in ((92, False), (91, True)):
        expected, found, rows = both_movers(hand_made_listing(), hr_now(), hr_prior(), ["sap"], grace_days=grace)
        pd.testing.assert_frame_equal(found, expected)
        assert (not expected.empty) is reported and (not rows.empty) is reported
    expected, found, _ = both_movers(hand_made_listing(), hr_now(), hr_prior(), ["sap"], peer_attribute="cost_center")
    pd.testing.assert_frame_equal(found, expected)
    expected, found, rows = both_movers(hand_made_listing(), hr_now(), hr_now(), ["sap"])
    pd.testing.assert_frame_equal(found, expected)
    assert expected.empty and rows.empty, "no one moved"


# --- (b) random listings, rosters and baselines ------------------------------------------------------

PEOPLE = ["lena.vogt", "jonas.brandt", "mia.kern", "paul.ries", "ida.lang", "tom.falk", "eva.sto"]
LOGINS = [p.upper() for p in PEOPLE] + ["ZZ_TEMP", "mia.kern"]
ROLES = ["Z_FI_AP_INVOICE", "z_fi_ap_invoice ", "Z_MM_PO_CREATE", "Z_FI_TREASURY", "STRASSE", "Straße"]
MOMENTS = [None, "2025-01-01", "2026-06-29 23:59:59.999999", "2026-06-30", "2026-06-30 00:00:00.000001",
           "2026-09-01"]
DEPARTMENTS = [None, "Finance", " finance", "Procurement", "Straße", "STRASSE", ""]
CENTRES = [None, "CC-100", "CC-200", ""]

grant_rows = st.lists(st.tuples(st.sampled_from(["sap", "aws"]), st.sampled_from(LOGINS), st.sampled_from(ROLES),
                                st.sampled_from(MOMENTS), st.sampled_from([None, None, "2026-08-15", "2026-10-15"]),
                                st.sampled_from([None, "active", "disabled"]), st.sampled_from(LISTINGS)),
                      min_size=0, max_size=30)
person_rows = st.lists(st.tuples(st.sampled_from(DEPARTMENTS), st.sampled_from(["AP Clerk", "ap clerk ", None]),
                                 st.sampled_from(CENTRES), st.booleans()), min_size=len(PEOPLE), max_size=len(PEOPLE))
baseline_rows = st.lists(st.tuples(st.sampled_from(["department", " Department", "title", "cost_center", "site"]),
                                   st.sampled_from(["Finance", "procurement ", "ap clerk", "CC-200", "strasse", "x"]),
                                   st.sampled_from(["sap", "aws"]), st.sampled_from(ROLES)), min_size=0, max_size=8)


def random_listing(rows: list[tuple]) -> pd.DataFrame:
    ordered = sorted(rows, key=lambda row: LISTINGS.index(row[-1]))   # frames: files in source order
    return grants_frame([(s, login, None, role, granted, removed, status, line, listing)
                         for line, (s, login, role, granted, removed, status, listing) in enumerate(ordered, start=2)])


def random_roster(people: list[tuple]) -> pd.DataFrame:
    return roster([(f"W{i}", f"{name}@wrenfield.example", name.title(), department, title, centre,
                    "2026-09-01" if left else None)
                   for i, (name, (department, title, centre, left)) in enumerate(zip(PEOPLE, people))])


RANDOM = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@RANDOM
@given(grant_rows, person_rows, baseline_rows, st.sampled_from([["sap"], ["sap", "aws"], ["aws"]]))
def test_baseline_twin_equals_pandas_on_random_listings(rows, people, lines, systems):
    baseline = baseline_frame([(*line, i) for i, line in enumerate(lines, start=2)])
    expected, found, _ = both_baselines(random_listing(rows), random_roster(people), baseline, systems)
    pd.testing.assert_frame_equal(found, expected)


@RANDOM
@given(grant_rows, person_rows, person_rows, st.sampled_from(["department", "cost_center"]),
       st.integers(min_value=1, max_value=3), st.sampled_from(["2026-06-30 06:00", "2026-06-29", "2026-08-31 23:00"]))
def test_mover_twin_equals_pandas_on_random_listings(rows, now, before, peer_attribute, min_peers, prior_as_of):
    identities = random_roster(now)
    prior = random_roster([(d, t, c, False) for d, t, c, _ in before])
    expected, found, _ = both_movers(random_listing(rows), identities, prior, ["sap", "aws"],
                                     prior_as_of=pd.Timestamp(prior_as_of, tz=UTC), peer_attribute=peer_attribute,
                                     min_peers=min_peers)
    pd.testing.assert_frame_equal(found, expected)


# --- (c) the shared pieces --------------------------------------------------------------------------

def test_the_catalogue_counts_every_held_grant_once_per_system_and_entitlement():
    frame, identities = hand_made_listing(), hr_now()
    listing = twin_listing(frame, identities)
    held = pandas_held(frame, identities, ["sap", "aws"])
    catalogue = large_analytics.held_catalogue(listing, large_analytics.sod_held(listing, ["sap", "aws"]))
    expected = held.groupby(["system", "entitlement"]).size()
    assert dict(zip(zip(catalogue["system"], catalogue["entitlement"]), catalogue["grants"])) == expected.to_dict()
    assert int(catalogue["grants"].sum()) == len(held)
    assert list(catalogue["system"]) == sorted(catalogue["system"]), "sorted as the accuracy check lists them"


def test_literal_in_lists_quote_skip_missing_values_and_say_false_when_empty():
    assert large_analytics.in_list_sql("login", ["o'hara", None, pd.NA, "ann", "ann"]) == "login IN ('ann', 'o''hara')"
    assert large_analytics.in_list_sql("login", []) == "FALSE"


def test_the_samples_grants_and_rows_of_several_conditions_come_in_the_listings_order():
    frame, identities = hand_made_listing(), hr_now()
    listing = twin_listing(frame, identities)
    condition = large_analytics.sod_held(listing, ["sap", "aws"])
    held = pandas_held(frame, identities, ["sap", "aws"])
    found = large_analytics.held_of_logins(listing, condition, {"lena.vogt", "mia.kern", "nobody"})
    pd.testing.assert_frame_equal(found, held[held["login"].isin({"lena.vogt", "mia.kern"})].reset_index(drop=True))
    either = large_analytics.fetch_any(listing, [f"{condition} AND login = 'mia.kern'",
                                                 f"{condition} AND system = 'aws'", "FALSE"])
    pd.testing.assert_frame_equal(either, held[(held["login"] == "mia.kern") | (held["system"] == "aws")]
                                  .reset_index(drop=True))
    pd.testing.assert_frame_equal(large_analytics.fetch_any(listing, ["FALSE"]), listing.fetch("FALSE"))
