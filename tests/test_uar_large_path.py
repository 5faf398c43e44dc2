"""The access review's large path at ten million grants (issue 17 item 3, helper uar18): what was made
cheaper gives exactly what it gave before.

- ``large_analytics.lines_unexplained`` (the SQL anti-join finding the review lines the listings do not
  support) and ``review_lines_not_in_listing`` on a listing kept to the review's systems and
  materialised once, against the pandas rule, on hand-made and random listings (other systems, removed
  grants, case and spacing of keys, one system in several listings, lines naming no one);
- ``held_for_lines`` and ``rows_named_by`` (semi-joins now) against their definitions in pandas;
- ``identity.resolve_keys`` (keys computed once per distinct value and only for the rules used, only
  open rows looked up) against the row-by-row reference it replaced;
- the DuckDB configuration of a control (``staged.connect``): the memory limit setting, its message
  when DuckDB runs out of memory, and the spill folder inside the run, removed afterwards.
"""

from __future__ import annotations

import gc

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_large_analytics import (
    ENTITLEMENTS,
    LISTINGS,
    PEOPLE,
    SNAPSHOT,
    correlate,
    decisions_frame,
    grant_rows,
    hand_made_decisions,
    hand_made_listing,
    hr,
    random_listing,
)

from workbench import analytics, identity, large_analytics
from workbench.populations import staged

RANDOM = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def review_listing(frame: pd.DataFrame, identities: pd.DataFrame, systems=None) -> large_analytics.CorrelatedListing:
    """The listing as the review's large path builds it: kept to ``systems`` and materialised once."""
    con = staged.connect()
    relation = con.from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
    return large_analytics.correlated_listing(con, relation, LISTINGS, lambda a: correlate(a, identities),
                                              systems=systems, materialise=True)


def pandas_unexplained(decisions: pd.DataFrame, grants: pd.DataFrame, identities: pd.DataFrame) -> list[bool]:
    """The lines the pandas rule leaves unexplained, by its own definition (held under an exact review
    subject, a revoke decision, a leaver)."""
    held = analytics.review_subjects(grants[analytics.held_at(grants, SNAPSHOT).to_numpy()])
    keys = set(zip(held["system"], held["review_subject"], held["entitlement"]))
    leavers = set(identities.loc[identities["termination_date"].notna(), "email"])
    return [not ((s, subj, e) in keys or d == "revoke" or subj in leavers)
            for s, subj, e, d in zip(decisions["system"], decisions["subject_email"], decisions["entitlement"],
                                     decisions["decision"])]


# --- review lines the listings do not support -----------------------------------------------------

def test_unexplained_lines_are_those_the_pandas_rule_leaves_unexplained():
    frame, identities, decisions = hand_made_listing(), hr(), hand_made_decisions()
    found = large_analytics.lines_unexplained(decisions, review_listing(frame, identities), identities, SNAPSHOT)
    assert list(found) == pandas_unexplained(decisions, correlate(frame, identities), identities)
    assert 0 < found.sum() < len(decisions)


def test_a_listing_kept_to_the_reviews_systems_finds_the_same_lines_and_their_wording():
    frame, identities = hand_made_listing(), hr()
    decisions = hand_made_decisions()
    decisions = decisions[decisions["system"] == "erp"].reset_index(drop=True)
    expected = analytics.review_lines_not_in_listing(decisions, correlate(frame, identities), identities, SNAPSHOT,
                                                     "campaign.csv")
    found = large_analytics.review_lines_not_in_listing(decisions, review_listing(frame, identities, ["erp"]),
                                                        identities, SNAPSHOT, "campaign.csv")
    pd.testing.assert_frame_equal(found, expected)
    assert found["description"].str.contains("imprecise").any()


def test_no_unexplained_line_gives_the_rules_empty_table():
    frame, identities = hand_made_listing(), hr()
    decisions = decisions_frame([("erp", "ann.lee@fjord.example", "AP Clerk", "approve", "eva.roth@fjord.example", 2)])
    found = large_analytics.review_lines_not_in_listing(decisions, review_listing(frame, identities), identities,
                                                        SNAPSHOT, "c")
    pd.testing.assert_frame_equal(found, analytics.review_lines_not_in_listing(
        decisions, correlate(frame, identities), identities, SNAPSHOT, "c"))
    assert found.empty


# several listings of one system, other systems, removed grants, keys in other cases and spacing,
# lines naming no one
lines = st.lists(st.tuples(st.sampled_from(["erp", "cloud", "crm"]),
                           st.one_of(st.none(), st.sampled_from(PEOPLE + ["zed", "DAN", " Ann.Lee@fjord.example", "x@y"])),
                           st.sampled_from(ENTITLEMENTS + ["ap  CLERK "]),
                           st.sampled_from(["approve", "revoke", "undecided"])), min_size=0, max_size=14)


@RANDOM
@given(grant_rows, lines, st.sampled_from([None, ["erp"], ["erp", "cloud"], ["cloud", "crm"]]))
def test_review_lines_not_in_listing_twin_equals_pandas_on_random_listings(rows, line_rows, systems):
    frame, identities = random_listing(rows), hr()
    decisions = decisions_frame([(s, subj, ent, d, "eva.roth@fjord.example", i)
                                 for i, (s, subj, ent, d) in enumerate(line_rows, start=2)])
    if systems is not None:   # the review's decisions are of the systems under test
        decisions = decisions[decisions["system"].isin(systems)].reset_index(drop=True)
    grants = correlate(frame, identities)
    listing = review_listing(frame, identities, systems)
    assert list(large_analytics.lines_unexplained(decisions, listing, identities, SNAPSHOT)) == \
        pandas_unexplained(decisions, grants, identities)
    pd.testing.assert_frame_equal(
        large_analytics.review_lines_not_in_listing(decisions, listing, identities, SNAPSHOT, "c"),
        analytics.review_lines_not_in_listing(decisions, grants, identities, SNAPSHOT, "c"))
    if systems:
        pd.testing.assert_frame_equal(
            large_analytics.review_population_gaps(listing, decisions, identities, SNAPSHOT, systems, "l"),
            analytics.review_population_gaps(grants, decisions, identities, SNAPSHOT, systems, "l"))


@RANDOM
@given(grant_rows, lines)
def test_held_for_lines_and_rows_named_by_are_their_definitions(rows, line_rows):
    frame, identities = random_listing(rows), hr()
    decisions = decisions_frame([(s, subj, ent, d, "eva.roth@fjord.example", i)
                                 for i, (s, subj, ent, d) in enumerate(line_rows, start=2)])
    grants = correlate(frame, identities)
    listing = review_listing(frame, identities)
    # held_for_lines: the held grants whose exact review subject one of the lines names
    held = grants[analytics.held_at(grants, SNAPSHOT).to_numpy()]
    subjects = analytics.review_subjects(held)
    keys = set(zip(decisions["system"], decisions["subject_email"], decisions["entitlement"]))
    named = {i for i, k in zip(subjects.index, zip(subjects["system"], subjects["review_subject"],
                                                   subjects["entitlement"])) if k in keys}
    pd.testing.assert_frame_equal(large_analytics.held_for_lines(listing, decisions, SNAPSHOT),
                                  grants.loc[sorted(named)].reset_index(drop=True))
    # rows_named_by: every row (held or not) a line names in some spelling
    loose_lines = set(analytics._loose_line_keys(decisions))
    loose = analytics._loose_held_keys(grants)
    spelled = {i for i, k in zip(loose.index, zip(loose["system"], loose["identifier"], loose["entitlement"]))
               if k in loose_lines}
    pd.testing.assert_frame_equal(large_analytics.rows_named_by(listing, decisions),
                                  grants.loc[sorted(spelled)].reset_index(drop=True))


def test_a_listing_kept_to_some_systems_still_correlates_every_account_and_keeps_the_rows_order():
    frame, identities = hand_made_listing(), hr()
    listing = review_listing(frame, identities, ["cloud"])
    grants = correlate(frame, identities)
    assert len(listing.accounts) == len(review_listing(frame, identities).accounts)   # evidence: every account
    pd.testing.assert_frame_equal(listing.fetch(), grants[grants["system"] == "cloud"].reset_index(drop=True))


# --- people named on review lines ------------------------------------------------------------------

def reference_resolve_keys(directory, frame, order, *, emails=(), logins=(), employee_ids=(), names=(), system=None):
    """The row-by-row resolution ``identity.resolve_keys`` replaced: every kind of key computed on every
    row, every rule looked up on every row."""
    def present(columns):
        return [c for c in columns if c in frame]

    systems = frame[system] if system and system in frame else pd.Series(pd.NA, index=frame.index, dtype="string")
    inputs = {
        "emails": [identity._folded(frame[c]) for c in present([*emails, *logins])],
        "employee_ids": [frame[c].astype("string").str.strip() for c in present(employee_ids)],
        "logins": [identity._folded(frame[c]) for c in present(logins)],
        "locals": [frame[c].map(identity.local_part).astype("string") for c in present([*logins, *emails])],
        "names": [frame[c].map(identity.normalise_name).astype("string") for c in present(names)],
        "aliases": [*(identity._folded(frame[c]) for c in present([*logins, *emails, *employee_ids])),
                    *(frame[c].map(identity.normalise_name).astype("string") for c in present(names))],
    }
    person = pd.Series(pd.NA, index=frame.index, dtype="string")
    rule = pd.Series(identity.UNMATCHED, index=frame.index, dtype="string")
    candidates = pd.Series(pd.NA, index=frame.index, dtype="string")
    for name in order:
        for keys in inputs[identity._RULE_INPUTS[name]]:
            if name in directory.scoped:
                found, shared = directory.lookup(name, identity._scoped(systems, keys))
                if name == "alias":
                    any_found, any_shared = directory.lookup(name, identity._scoped(pd.Series(pd.NA, index=keys.index),
                                                                                    keys))
                    found, shared = found.fillna(any_found), shared.fillna(any_shared)
            else:
                found, shared = directory.lookup(name, keys)
            open_rows = person.isna()
            take = open_rows & found.notna()
            person = person.mask(take, found)
            rule = rule.mask(take, name)
            flag = open_rows & found.isna() & shared.notna() & candidates.isna()
            candidates = candidates.mask(flag, shared)
    rule = rule.mask(person.isna() & candidates.notna(), identity.AMBIGUOUS)
    candidates = candidates.where(person.isna())
    return pd.DataFrame({"person": person, "match_rule": rule, "candidates": candidates}, index=frame.index)


WORKERS = pd.DataFrame({"employee_id": ["1001", "1002", "1003", "1004"],
                        "email": ["priya.raman@kf.example", "marcus.bell@kf.example", "sam.patel@kf.example",
                                  "sam.patel@kf-labs.example"],
                        "full_name": ["Priya Raman", "Marcus Bell", "Sam Patel", "Sam Patel"]})
ALIASES = pd.DataFrame({"system": ["sap", None], "identifier": ["PRAMAN", "The Controller"],
                        "person": ["priya.raman@kf.example", "1002"]})
ASSIGNMENTS = pd.DataFrame({"system": ["sap"], "login": ["marcus.bell@kf.example"], "application_login": ["MBELL"],
                            "email": [None]})
KEYS = st.one_of(st.none(), st.sampled_from(["Priya.Raman@KF.example ", "marcus.bell", "1003", "sam.patel", "Sam Patel",
                                             "praman", "mbell", "the controller", "ghost@x.example", "", "1004 "]))
RULES = list(identity.MATCH_RULES)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["sap", "aws", None]), KEYS, KEYS), min_size=0, max_size=15),
       st.lists(st.sampled_from(RULES), min_size=1, max_size=5, unique=True), st.booleans())
def test_resolve_keys_equals_the_row_by_row_reference(rows, order, repeated_index):
    directory = identity.build_directory(WORKERS, assignments=ASSIGNMENTS, aliases=ALIASES)
    frame = pd.DataFrame(rows, columns=["system", "subject", "subject_name"]).astype("string")
    if repeated_index and len(frame):
        frame.index = [i // 2 for i in range(len(frame))]   # a concatenated frame repeats labels
    columns = {"emails": ("subject",), "logins": ("subject",), "employee_ids": ("subject",),
               "names": ("subject_name", "subject"), "system": "system"}
    pd.testing.assert_frame_equal(identity.resolve_keys(directory, frame, order, **columns),
                                  reference_resolve_keys(directory, frame, order, **columns))


# --- the DuckDB of a control ------------------------------------------------------------------------

def test_the_memory_limit_setting_reaches_duckdb_and_a_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv(staged.MEMORY_LIMIT_VARIABLE, "300MB")
    con = staged.connect()
    limit, order, spill = con.sql("SELECT current_setting('memory_limit'), current_setting('preserve_insertion_order'),"
                                  " current_setting('temp_directory')").fetchall()[0]
    assert limit.startswith("286") and order is False and spill == ""   # 300 MB is 286.1 MiB
    monkeypatch.setenv(staged.MEMORY_LIMIT_VARIABLE, "lots")
    with pytest.raises(ValueError, match=staged.MEMORY_LIMIT_VARIABLE):
        staged.connect()
    monkeypatch.delenv(staged.MEMORY_LIMIT_VARIABLE)
    assert staged.memory_limit() == staged.DEFAULT_MEMORY_LIMIT


def test_duckdb_out_of_memory_says_which_setting_raises_the_limit(monkeypatch, tmp_path):
    monkeypatch.setenv(staged.MEMORY_LIMIT_VARIABLE, "40MB")
    con = staged.connect(tmp_path / "spill")
    with pytest.raises(staged.OutOfMemory) as raised:
        with staged.explained_out_of_memory("the review's population gaps"):
            con.sql("SELECT string_agg(md5(range::VARCHAR), ',') FROM range(3000000)").fetchall()
    message = str(raised.value)
    assert "the review's population gaps" in message and f"{staged.MEMORY_LIMIT_VARIABLE}=4GB" in message
    assert "40MB" in message and isinstance(raised.value, MemoryError)
    staged.remove_spill(con, tmp_path / "spill")
    assert not (tmp_path / "spill").exists()


def test_a_query_larger_than_the_limit_spills_into_the_folder_given(monkeypatch, tmp_path):
    monkeypatch.setenv(staged.MEMORY_LIMIT_VARIABLE, "60MB")
    spill = tmp_path / "staged" / ".spill-UAR-01"
    con = staged.connect(spill)
    con.sql("CREATE TEMP TABLE t AS SELECT range AS r, md5(range::VARCHAR) AS h FROM range(2000000)")
    assert con.sql("SELECT count(*) FROM (SELECT h FROM t ORDER BY h)").fetchall() == [(2_000_000,)]
    assert spill.is_dir()
    staged.remove_spill(con, spill)
    assert not spill.exists()


def test_a_controls_connection_spills_inside_the_run_and_the_folder_goes_with_the_control(tmp_path, monkeypatch):
    from pathlib import Path

    from workbench.procedures.user_access_review import UserAccessReviewTest
    from workbench.runner import prepare_run

    period = Path(__file__).parent / "data" / "companies" / "kestrel" / "kestrel-2026-Q3.yaml"
    context = prepare_run(period, tmp_path / "out")
    test = UserAccessReviewTest.open(str(context.run_dir), "UAR-01")
    spill = Path(test.sql.sql("SELECT current_setting('temp_directory')").fetchall()[0][0])
    assert spill.parent == context.run_dir / staged.STAGED_DIR and spill.name.startswith(".spill-UAR-01-")
    spill.mkdir(parents=True)   # as DuckDB makes it when it spills
    del test
    gc.collect()
    assert not spill.exists()


def test_duckdb_errors_other_than_memory_pass_through():
    with pytest.raises(duckdb.Error):
        with staged.explained_out_of_memory("a step"):
            duckdb.connect().sql("SELECT * FROM no_such_table").fetchall()

