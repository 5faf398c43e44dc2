"""Freshness of evidence (workbench.freshness): each listing's moment against the moment a control
uses it for, the gap shown in the workpaper, and a stale listing as an IPE exception.

The end-to-end cases run on a company of their own, Wrenfield Analytics (tests/data/freshness/),
whose period file says which listing is used for a moment it cannot show; the demo company (both
periods) and Kestrel must show no stale listing.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from conftest import make_demo_project
from workbench import freshness, ipe, procedures, removals
from workbench.freshness import Claim, Listing
from workbench.parameters import EvidenceFreshness, FreshnessTolerance, ParameterError, load_period
from workbench.runner import DEMO_PARAMETER_FILE, PRIOR_DEMO_PARAMETER_FILE, prepare_run

FIXTURE = Path(__file__).parent / "data" / "freshness"
PERIOD_FILE = "wrenfield-2026-Q1.yaml"
KESTREL = Path(__file__).parent / "data" / "companies" / "kestrel" / "kestrel-2026-Q3.yaml"
DEFAULTS = EvidenceFreshness().for_control(None)
END = pd.Timestamp("2026-04-01T00:00:00Z")
AT_END = Claim("access_listings", "period_end", "the period end", "access held at the period end")
AFTER_END = Claim("access_listings", "period_end", "the period end", "removals by the period end", "after")


def listing(moment: str | pd.Timestamp, nature: str = freshness.POINT_IN_TIME) -> Listing:
    return Listing("src", "listing.csv", "System X", pd.Timestamp(moment), nature, "test")


# --- the verdict, one rule at a time --------------------------------------------------------------

def test_a_listing_taken_weeks_before_the_period_end_is_stale_whatever_its_nature():
    for nature in (freshness.DATED, freshness.POINT_IN_TIME):
        verdict = freshness.assess(listing("2026-03-09T11:30:00Z", nature), AT_END, END, DEFAULTS)
        assert not verdict.fresh and verdict.tolerance_key == "max_days_before"
        assert verdict.gap == -pd.Timedelta(days=22, hours=12, minutes=30)
        assert freshness.gap_text(verdict.gap) == "22 days 12 h before"


def test_a_listing_taken_hours_before_or_after_the_moment_is_fresh():
    assert freshness.assess(listing("2026-03-31T18:00:00Z"), AT_END, END, DEFAULTS).fresh   # 6 h before: within 1 day
    after = freshness.assess(listing("2026-04-01T07:30:00Z"), AT_END, END, DEFAULTS)
    assert after.fresh and freshness.gap_text(after.gap) == "7 h 30 min after"


def test_a_point_in_time_listing_long_after_the_moment_is_stale_and_a_dated_one_is_not():
    late = "2026-05-28T07:25:00Z"
    stale = freshness.assess(listing(late), AT_END, END, DEFAULTS)
    assert not stale.fresh and stale.tolerance_key == "max_days_after_point_in_time"
    assert "access removed in between is not in it" in stale.reason
    dated = freshness.assess(listing(late, freshness.DATED), AT_END, END, DEFAULTS)
    assert dated.fresh and "dated listing" in dated.reason


def test_a_dated_listing_is_limited_only_when_the_period_file_sets_a_limit():
    limited = FreshnessTolerance(max_days_before=1, max_days_after_point_in_time=7, max_days_after_dated=30)
    verdict = freshness.assess(listing("2026-05-28T07:25:00Z", freshness.DATED), AT_END, END, limited)
    assert not verdict.fresh and verdict.tolerance_key == "max_days_after_dated"


def test_a_claim_on_a_state_after_a_deadline_is_shown_by_any_later_listing_but_not_by_an_earlier_one():
    late = freshness.assess(listing("2026-09-01T00:00:00Z"), AFTER_END, END, DEFAULTS)
    assert late.fresh and "as the claim needs" in late.reason
    early = freshness.assess(listing("2026-03-01T00:00:00Z"), AFTER_END, END, DEFAULTS)
    assert not early.fresh and early.tolerance_key == "max_days_before"


def test_no_limit_means_no_stale_verdict():
    unlimited = FreshnessTolerance()
    assert freshness.assess(listing("2020-01-01T00:00:00Z"), AT_END, END, unlimited).fresh
    assert freshness.assess(listing("2030-01-01T00:00:00Z"), AT_END, END, unlimited).fresh


def test_a_claimed_moment_at_the_end_of_a_day_is_named_by_that_day():
    assert freshness.claimed_text(END) == "end of 2026-03-31"
    assert freshness.claimed_text(pd.Timestamp("2026-02-03T00:00:00Z") - pd.Timedelta(microseconds=1)) == \
        "end of 2026-02-02"
    assert freshness.claimed_text(pd.Timestamp("2026-02-03T09:30:00+01:00")) == "2026-02-03 08:30 UTC"


def test_gap_text_names_days_hours_and_minutes():
    assert freshness.gap_text(pd.Timedelta(0)) == "same moment"
    assert freshness.gap_text(pd.Timedelta(minutes=5)) == "5 min after"
    assert freshness.gap_text(pd.Timedelta(days=1, minutes=5)) == "1 day after"
    assert freshness.gap_text(-pd.Timedelta(days=3, hours=2)) == "3 days 2 h before"


def test_a_listing_is_dated_when_every_row_has_a_grant_date_or_when_declared():
    dated = pd.DataFrame({"granted_at": pd.to_datetime(["2026-01-01", "2026-02-01"], utc=True),
                          "removed_at": pd.to_datetime([None, "2026-03-01"], utc=True)})
    undated = dated.assign(granted_at=pd.NaT)
    partly = dated.assign(granted_at=pd.to_datetime(["2026-01-01", None], utc=True))
    none = EvidenceFreshness()
    assert freshness.listing_nature(dated, "grants", "s", none)[0] == freshness.DATED
    assert freshness.listing_nature(undated, "grants", "s", none) == (freshness.POINT_IN_TIME, "rows without grant dates")
    assert freshness.listing_nature(partly, "grants", "s", none)[0] == freshness.POINT_IN_TIME
    assert freshness.listing_nature(dated, "accounts", "s", none)[0] == freshness.POINT_IN_TIME
    declared = EvidenceFreshness(point_in_time=["s"], dated=["t"])
    assert freshness.listing_nature(dated, "grants", "s", declared)[0] == freshness.POINT_IN_TIME
    assert freshness.listing_nature(undated, "grants", "t", declared)[0] == freshness.DATED


def test_a_stale_listing_becomes_one_ipe_issue_naming_the_file_the_gap_and_the_moment():
    verdicts = [freshness.assess(listing("2026-03-09T11:30:00Z"), AT_END, END, DEFAULTS),
                freshness.assess(listing("2026-04-01T07:00:00Z"), AT_END, END, DEFAULTS)]
    [issue] = freshness.issues(verdicts)
    assert issue.rule == freshness.RULE == "ipe_stale_listing" and issue.rule in ipe.RULES
    assert issue.detail_key == "src|access_listings|period_end" and issue.severity == "high"
    assert "22 days 12 h before the period end (end of 2026-03-31)" in issue.description
    assert issue.evidence_reference == "listing.csv (shows the system at 2026-03-09 11:30 UTC)"


moments = st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1)).map(
    lambda d: pd.Timestamp(d, tz="UTC"))
tolerances = st.builds(FreshnessTolerance, max_days_before=st.none() | st.floats(0, 60),
                       max_days_after_point_in_time=st.none() | st.floats(0, 60),
                       max_days_after_dated=st.none() | st.floats(0, 400))


@given(moments, moments, st.timedeltas(min_value=dt.timedelta(days=-3000), max_value=dt.timedelta(days=3000)),
       tolerances)
def test_the_verdict_depends_only_on_the_gap_and_a_dated_listing_or_an_after_claim_is_never_staler(
        listing_moment, claimed, shift, tolerance):
    point = freshness.assess(listing(listing_moment), AT_END, claimed, tolerance)
    moved = freshness.assess(listing(listing_moment + shift), AT_END, claimed + shift, tolerance)
    assert (moved.fresh, moved.gap) == (point.fresh, point.gap)
    dated = freshness.assess(listing(listing_moment, freshness.DATED), AT_END, claimed, tolerance)
    after = freshness.assess(listing(listing_moment), AFTER_END, claimed, tolerance)
    assert dated.fresh or not point.fresh or tolerance.max_days_after_dated is not None
    assert after.fresh or not point.fresh


# --- the period file ------------------------------------------------------------------------------

def write_period(tmp_path: Path, edit) -> Path:
    shutil.copytree(FIXTURE, tmp_path / "w")
    period = tmp_path / "w" / PERIOD_FILE
    data = yaml.safe_load(period.read_text(encoding="utf-8"))
    edit(data)
    period.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return period


def test_the_defaults_and_a_control_override_key_by_key():
    params = load_period(FIXTURE / PERIOD_FILE)
    assert params.evidence_freshness == EvidenceFreshness()
    assert (DEFAULTS.max_days_before, DEFAULTS.max_days_after_point_in_time, DEFAULTS.max_days_after_dated) == (1, 7, None)
    period = EvidenceFreshness(max_days_before=2, max_days_after_dated=90)
    mine = period.for_control(FreshnessTolerance(max_days_after_point_in_time=60))
    assert (mine.max_days_before, mine.max_days_after_point_in_time, mine.max_days_after_dated) == (2, 60, 90)
    assert period.for_control(FreshnessTolerance(max_days_after_dated=None)).max_days_after_dated is None


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(evidence_freshness={"max_days_before": -1}), "evidence_freshness.max_days_before"),
    (lambda d: d.update(evidence_freshness={"max_days_befor": 1}), "evidence_freshness.max_days_befor: is not a known key"),
    (lambda d: d.update(evidence_freshness={"dated": ["no_such_source"]}),
     "evidence_freshness.dated: unknown source 'no_such_source'"),
    (lambda d: d.update(evidence_freshness={"dated": ["aws_groups"], "point_in_time": ["aws_groups"]}),
     "declared both dated and point_in_time: aws_groups"),
    (lambda d: d["controls"][0].update(evidence_freshness={"dated": ["aws_groups"]}),
     "controls[0].evidence_freshness.dated: is not a known key"),
    (lambda d: d["controls"][2].update(evidence_freshness={"max_days_after_point_in_time": "a week"}),
     "controls[2].evidence_freshness.max_days_after_point_in_time"),
])
def test_a_bad_freshness_setting_is_refused_naming_its_key(tmp_path, edit, message):
    with pytest.raises(ParameterError) as raised:
        load_period(write_period(tmp_path, edit))
    assert message in str(raised.value)


# --- Wrenfield Analytics end to end -----------------------------------------------------------------

def run_control(period: Path, control_id: str, out: Path):
    """One control run in-process in a fresh run of the period: the test and section 2's HTML."""
    context = prepare_run(period, out)
    test = procedures.procedure_class(context.parameters.control(control_id).procedure).open(
        str(context.run_dir), control_id)
    test.load_sources()
    evidence = "\n".join(str(block) for block in test.population_evidence())
    test.select_sample()
    test.record()
    return test, evidence


@pytest.fixture(scope="module")
def wrenfield(tmp_path_factory):
    base = tmp_path_factory.mktemp("wrenfield")
    shutil.copytree(FIXTURE, base / "w")
    period = base / "w" / PERIOD_FILE
    context = prepare_run(period, base / "outputs")
    found = {}
    for control in context.parameters.controls:
        test = procedures.procedure_class(control.procedure).open(str(context.run_dir), control.id)
        test.load_sources()
        found[control.id] = (test, "\n".join(str(block) for block in test.population_evidence()))
    return found


def stale(test) -> set[tuple[str, str]]:
    return {(a.listing.source_id, a.claim.moment) for a in test.freshness_assessments if not a.fresh}


def headlines(test) -> set[str]:
    return {headline for _, headline, _, _ in test.conclusions()}


def test_each_wrenfield_control_gets_the_verdict_its_listings_deserve(wrenfield):
    assert {control: stale(test) for control, (test, _) in wrenfield.items()} == {
        "TERM-01": set(),
        "TERM-02": {("github_members_early", "period_end")},
        "UAR-01": {("aws_groups", "snapshot")},
        "UAR-02": {("aws_groups_early", "revocation_deadline")},
        "UAR-03": set(),
    }
    claims = {(a.listing.source_id, a.claim.moment) for a in wrenfield["UAR-03"][0].freshness_assessments}
    assert claims == {("okta_assignments", "snapshot"), ("okta_assignments", "revocation_deadline")}


def test_the_workpaper_shows_each_listing_its_moment_the_moment_claimed_and_the_gap(wrenfield):
    _, evidence = wrenfield["TERM-02"]
    assert "Freshness of evidence" in evidence
    assert "github_org_members_20260309.csv" in evidence and "2026-03-09 11:30 UTC (point-in-time)" in evidence
    assert "end of 2026-03-31 (the period end)" in evidence and "22 days 12 h before" in evidence
    assert "STALE: a listing showing the system more than 1 day before the period end" in evidence
    assert "okta_app_assignments.csv" in evidence and "7 h 10 min after" in evidence and "fresh: dated listing" in evidence
    _, evidence = wrenfield["UAR-01"]
    assert "57 days 7 h after" in evidence and "end of 2026-02-02 (the review snapshot)" in evidence
    assert "STALE: a point-in-time listing (rows without grant dates)" in evidence
    _, evidence = wrenfield["UAR-02"]
    assert "14 days 16 h before" in evidence and "end of 2026-02-17 (the revocation deadline)" in evidence


def test_a_stale_listing_is_an_ipe_exception_and_blocks_the_conclusion(wrenfield):
    for control in ("TERM-02", "UAR-01", "UAR-02"):
        test, evidence = wrenfield[control]
        register = test.register()
        [row] = register[register["origin"] == "ipe"].to_dict("records")
        assert row["rule"] == "ipe_stale_listing" and row["severity"] == "high", control
        assert headlines(test) == {ipe.HEADLINE}, control
        assert "1 ipe stale listing" in " ".join(" ".join(body) for _, _, body, _ in test.conclusions())
        assert "IPE exceptions: 1 (1 not accepted)" in evidence and row["exception_id"] in evidence
    # The listing extracted before the revoke decisions' deadline still shows the revoked access: it
    # proves neither execution nor non-execution (removals), and it is a stale listing for that claim.
    test = wrenfield["UAR-02"][0]
    assert set(test.register()["rule"]) == {"ipe_stale_listing"}
    assert set(test.revocation_proofs["outcome"]) == {removals.CANNOT_BE_PROVEN}


def test_fresh_and_dated_listings_raise_no_stale_listing(wrenfield):
    for control in ("TERM-01", "UAR-03"):
        test, evidence = wrenfield[control]
        assert "ipe_stale_listing" not in set(test.register()["rule"]), control
        assert ipe.HEADLINE not in headlines(test) and "no IPE exception" in evidence
    assert headlines(wrenfield["TERM-01"][0]) == {"Effective", "No exceptions noted"}


def test_an_accepted_stale_listing_no_longer_blocks_the_conclusion(tmp_path):
    period = write_period(tmp_path, lambda d: None)
    test, _ = run_control(period, "TERM-02", tmp_path / "outputs")
    [exception_id] = test.register().query("origin == 'ipe'")["exception_id"]
    period.with_name(f"{period.stem}.ipe-acceptances.yaml").write_text(
        f"{exception_id}:\n  accepted_by: Dana Whitlock\n  accepted_on: 2026-04-03\n"
        "  reason: GitHub membership confirmed unchanged from 2026-03-09 to the period end (audit log reviewed)\n",
        encoding="utf-8")
    accepted, evidence = run_control(period, "TERM-02", tmp_path / "outputs")
    assert headlines(accepted) == {"Effective", "No exceptions noted"}
    text = "accepted by Dana Whitlock on 2026-04-03: GitHub membership confirmed unchanged"
    assert text in evidence and "IPE exceptions: 1 (0 not accepted)" in evidence
    assert "22 days 12 h before" in evidence   # the gap is still shown
    assert all(text in " ".join(body) for _, _, body, _ in accepted.conclusions())


def test_a_control_may_accept_a_longer_gap_and_a_source_may_be_declared_point_in_time(tmp_path):
    def edit(data):
        next(c for c in data["controls"] if c["id"] == "UAR-01")["evidence_freshness"] = {
            "max_days_after_point_in_time": 60}
        data["evidence_freshness"] = {"point_in_time": ["okta_assignments"]}

    period = write_period(tmp_path, edit)
    widened, evidence = run_control(period, "UAR-01", tmp_path / "outputs")
    assert stale(widened) == set() and "point-in-time listing, within 60 days after" in evidence
    declared, evidence = run_control(period, "UAR-03", tmp_path / "outputs")
    assert stale(declared) == {("okta_assignments", "snapshot")}
    assert "declared point-in-time (evidence_freshness.point_in_time)" in evidence


# --- the demo company and Kestrel ----------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_base(tmp_path_factory) -> Path:
    return make_demo_project(tmp_path_factory.mktemp("freshness-demo"), prior=True)


def every_assessment(period: Path, out: Path) -> dict[str, list[freshness.Assessment]]:
    context = prepare_run(period, out)
    found = {}
    for control in context.parameters.controls:
        test = procedures.procedure_class(control.procedure).open(str(context.run_dir), control.id)
        found[control.id] = test.freshness_assessments
    return found


@pytest.mark.parametrize("company", ["demo Q2", "demo Q3", "kestrel"])
def test_neither_company_has_a_stale_listing(company, demo_base, tmp_path):
    period = {"demo Q2": demo_base / "parameters" / PRIOR_DEMO_PARAMETER_FILE,
              "demo Q3": demo_base / "parameters" / DEMO_PARAMETER_FILE, "kestrel": KESTREL}[company]
    found = every_assessment(period, tmp_path / "outputs")
    assert all(found.values()), "every control declares at least one claim"
    assert [(c, a.listing.file_name, a.claim.moment) for c, listed in found.items() for a in listed if not a.fresh] == []
    # Their review snapshots are read from point-in-time listings extracted at the period end: fresh
    # only because the period file accepts that gap for those controls (and says why).
    params = load_period(period)
    snapshot = [a for c in ("UAR-01", "PRIV-01") for a in found[c]
                if a.claim.moment == "snapshot" and a.listing.nature == freshness.POINT_IN_TIME]
    assert snapshot and all(a.gap > pd.Timedelta(days=7) for a in snapshot)
    assert {c.id for c in params.controls if c.evidence_freshness is not None} == {"UAR-01", "PRIV-01"}
