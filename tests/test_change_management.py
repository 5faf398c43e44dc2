"""Program change control (procedure change_management) on a company of its own: Fernhill Payments.

tests/data/fernhill holds one quarter of Fernhill's change exports in the shapes the products publish
(GitHub REST API pulls, reviews and deployments; GitLab merge requests and approvals; a ServiceNow
change_request list export; a Jira CSV export; a pipeline deployment log; an AWS IAM group listing),
the script that writes them, the period file that reads them as exported and the answer key of the
exceptions planted in them. The readers are tested on those files, the analytics as pure functions,
and the control end to end in-process: it must find exactly the answer key.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import change_control, cli, populations, procedures, tables
from workbench.parameters import load_period
from workbench.procedures.change_management import ChangeManagementTest
from workbench.runner import prepare_run

COMPANY = Path(__file__).parent / "data" / "fernhill"
PERIOD_FILE = COMPANY / "fernhill-2026-Q3.yaml"
EXPORTS = COMPANY / "exports" / "2026-Q3"


def load(kind: str, relative: str, **kwargs) -> populations.Population:
    return populations.load_source(kind, EXPORTS / relative, extracted_at="2026-10-01T06:00:00Z", **kwargs)


@pytest.fixture(scope="module")
def answer_key() -> set[tuple[str, str, str, str]]:
    key = pd.read_csv(COMPANY / "answer_key.csv", dtype=str)
    return set(zip(key["rule"], key["subject"], key["system"], key["detail_key"]))


@pytest.fixture(scope="module")
def tested(tmp_path_factory) -> ChangeManagementTest:
    """CHG-01 run through the notebook's steps in-process, recorded in a prepared run."""
    context = prepare_run(PERIOD_FILE, tmp_path_factory.mktemp("fernhill"))
    test = ChangeManagementTest.open(str(context.run_dir), "CHG-01")
    test.load_sources()
    test.population_evidence()
    test.run_analytics()
    test.plan_sample()
    test.select_sample()
    test.record()
    return test


# --- the exports load through the intake layer -------------------------------------------------

def test_the_fixture_files_are_what_the_script_writes(tmp_path, monkeypatch):
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_fernhill_fixtures", COMPANY / "make_fernhill_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "OUT", tmp_path / "exports" / "2026-Q3")
    (tmp_path / "exports" / "2026-Q3").mkdir(parents=True)
    module.main()
    for path in sorted((tmp_path / "exports" / "2026-Q3").rglob("*.*")):
        relative = path.relative_to(tmp_path / "exports" / "2026-Q3")
        assert path.read_bytes() == (EXPORTS / relative).read_bytes(), relative
    assert (tmp_path / "answer_key.csv").read_bytes() == (COMPANY / "answer_key.csv").read_bytes()


def test_github_pull_requests_read_as_code_changes_with_their_lines():
    population = load("github_pull_requests", "github/ledger-api_pulls.json", system="ledger_api")
    frame = population.frame
    assert population.table == "code_changes" and tables.validate_frame("code_changes", frame) == []
    first = frame.iloc[0]
    assert first["change_id"] == "fernhill/ledger-api#101" and first["author"] == "dwhit"
    assert first["merge_commit"] == "0101" + "a" * 36 and first["target_branch"] == "main"
    assert first["merged_at"] == pd.Timestamp("2026-07-08T10:00:00Z")
    assert frame["line"].iloc[0] == 2 and frame["line"].is_monotonic_increasing  # the line each object starts on
    unmerged = frame[frame["change_id"] == "fernhill/ledger-api#111"].iloc[0]
    assert pd.isna(unmerged["merged_at"]) and pd.isna(unmerged["merge_commit"])


def test_github_reviews_name_their_pull_request_and_verdict():
    frame = load("github_pull_reviews", "github/ledger-api_reviews.json", system="ledger_api").frame
    assert tables.validate_frame("code_reviews", frame) == []
    assert set(frame["state"]) == {"approved", "commented", "changes_requested"}
    assert frame.set_index("review_id").loc["7106", "change_id"] == "fernhill/ledger-api#106"


def test_github_deployments_take_the_newest_status():
    frame = load("github_deployments", "github/ledger-api_deployments.json", system="ledger_api").frame
    assert tables.validate_frame("deployments", frame) == []
    by_id = frame.set_index("deployment_id")
    assert by_id.loc["8112", "status"] == "failed" and by_id.loc["8101", "status"] == "succeeded"
    assert by_id.loc["8110", "environment"] == "staging" and by_id.loc["8101", "deployed_by"] == "kadeyemi-ops"


def test_gitlab_merge_requests_and_approvals_share_the_change_id():
    changes = load("gitlab_merge_requests", "gitlab/web-portal_merge_requests.json", system="web_portal").frame
    approvals = load("gitlab_merge_request_approvals", "gitlab/web-portal_approvals.json", system="web_portal")
    assert tables.validate_frame("code_changes", changes) == []
    assert tables.validate_frame("code_reviews", approvals.frame) == []
    assert list(changes["change_id"]) == ["42!7", "42!8"] and list(changes["repository"]) == ["fernhill/web-portal"] * 2
    assert set(approvals.frame["change_id"]) == {"42!7", "42!8"}
    assert approvals.frame["submitted_at"].isna().all()
    assert any("no approval time" in note for note in approvals.evidence.notes)


def test_servicenow_and_jira_change_tickets_read_through_a_mapping():
    params = load_period(PERIOD_FILE)
    for source_id, expected in (("servicenow_changes", 9), ("jira_changes", 2)):
        source = params.source(source_id)
        population = populations.load_source(source.kind, PERIOD_FILE.parent / source.path, system=source.system,
                                             timezone=source.timezone, extracted_at="2026-10-01T06:00:00Z",
                                             options=source.options)
        frame = population.frame
        assert population.table == "change_tickets" and len(frame) == expected
        assert tables.validate_frame("change_tickets", frame) == []
    servicenow = populations.load_source("mapped", EXPORTS / "servicenow/change_request.csv", timezone="Europe/London",
                                         options=params.source("servicenow_changes").options).frame.set_index("ticket")
    # the instance writes local time (BST): 18:00 in London is 17:00 UTC
    assert servicenow.loc["CHG0030101", "planned_start"] == pd.Timestamp("2026-07-09T17:00:00Z")
    assert servicenow.loc["CHG0030104", "type"] == "emergency"
    assert servicenow.loc["CHG0030110", "approval"] == "not_requested"


def test_a_review_without_a_pull_request_address_names_its_line(tmp_path):
    reviews = json.loads((EXPORTS / "github/ledger-api_reviews.json").read_text())
    reviews[2]["pull_request_url"] = "https://example.test/not-a-pull"
    bad = tmp_path / "reviews.json"
    bad.write_text(json.dumps(reviews, indent=2))
    with pytest.raises(populations.PopulationError, match=r"pull_request_url.*line|line.*pull_request_url"):
        populations.load_source("github_pull_reviews", bad, system="ledger_api")


def test_deployments_without_a_declared_system_are_refused():
    with pytest.raises(populations.PopulationError, match="declare the source's system"):
        load("github_deployments", "github/ledger-api_deployments.json")


def test_a_repository_that_is_no_system_is_named():
    with pytest.raises(populations.PopulationError, match="fernhill/ledger-api"):
        load("github_pull_requests", "github/ledger-api_pulls.json")


def test_workbench_check_says_ready_to_run(capsys):
    assert cli.main(["check", str(PERIOD_FILE)]) == 0
    assert "ready to run: 16 sources, 2 controls" in capsys.readouterr().out


# --- the control finds exactly the answer key ----------------------------------------------------

def test_the_control_finds_every_planted_exception_and_nothing_else(tested, answer_key):
    found = {(f.rule, f.subject, f.system, f.detail_key) for f in tested.findings() if f.origin == "analytics"}
    assert found == answer_key


def test_every_rule_is_run_and_summarised(tested):
    summary = tested.analytics_summary().set_index("rule")["exceptions"]
    assert list(summary.index[:len(change_control.RULES)]) == list(change_control.RULES)
    assert summary["ticket_approved_by_author"] == 0 and summary["change_without_approved_ticket"] == 2


def test_the_frame_reconciles_and_leaves_out_what_changed_nothing(tested):
    frame = tested.population()
    ids = set(frame["change_id"])
    assert "fernhill/ledger-api#111" not in ids, "closed without merging"
    assert "fernhill/ledger-api#99" not in ids, "merged before the period"
    assert "deployment 8112" not in ids and "deployment 8110" not in ids, "failed and staging deployments"
    assert frame["item_key"].is_unique and len(frame) == 12
    assert (tested.reconciliation()["result"] != "DIFFERS").all()


def test_changes_to_financially_significant_systems_feed_sox(tested):
    scope = tested.population().groupby("system")["scope"].first()
    assert scope["ledger_api"] == "SOX + SOC 2" and scope["web_portal"] == "SOC 2"
    summary = tested.scope_summary()
    assert set(summary.loc[summary["system"] == "ledger_api", "financially significant (SOX)"]) == {"yes"}


def test_sample_attributes_tell_clean_changes_from_deviating_ones(tested):
    sample = tested.tested_sample().set_index("change_id")
    attributes = list(ChangeManagementTest.ATTRIBUTES)
    for clean in ("fernhill/ledger-api#101", "fernhill/ledger-api#110", "42!8"):
        assert (sample.loc[clean, attributes] == "pass").all(), clean
    assert sample.loc["fernhill/ledger-api#106", "C2_testing_evidence"] == "fail"  # no test plan on the ticket
    assert sample.loc["fernhill/ledger-api#102", "C1_ticket_approved_before_deploy"] == "fail"
    assert sample.loc["42!7", "C3_approver_independent"] == "fail"
    assert sample.loc["fernhill/ledger-api#109", "C4_deployment_matches_change"] == "fail"


def test_each_framework_concludes_in_its_own_words(tested):
    conclusions = {fw: (headline, " ".join(body), effective) for fw, headline, body, effective in tested.conclusions()}
    assert conclusions["SOC 2"][0].startswith("Exception noted") and conclusions["SOC 2"][2] is False
    assert conclusions["SOC 2"][1].startswith("SOC 2 CC8.1: Exception noted: full-population analytics identified 11")
    assert conclusions["SOX"][0] == "Deficiency identified"
    assert conclusions["SOX"][1].startswith("SOX ITGC program change: control deficiency identified in financially "
                                            "significant applications: full-population analytics identified 10")
    assert "self approved change" not in conclusions["SOX"][1], "the web portal is outside SOX scope"
    result = json.loads((tested.context.control_dir("CHG-01") / "result.json").read_text())
    assert result["systems"] == {"SOX": ["ledger_api"], "SOC 2": ["ledger_api", "web_portal"]}


def test_people_are_compared_as_hr_workers(tested):
    frame = tested.population().set_index("change_id")
    assert frame.loc["fernhill/ledger-api#101", "subject"] == "dana.whitfield@fernhill.example"
    assert frame.loc["fernhill/ledger-api#101", "approvers"] == "lucia.ferreira@fernhill.example"
    assert frame.loc["fernhill/ledger-api#101", "ticket_approver"] == "priya.raman@fernhill.example"


def test_without_the_deploy_access_listing_the_limitation_is_stated(tested):
    control = tested.control.model_copy(update={"sources": {k: v for k, v in tested.control.sources.items()
                                                            if k != "deploy_access"}})
    test = ChangeManagementTest(tested.context, control, tested.settings)
    hits = test.run_analytics()
    assert "developer_with_deploy_access" not in set(hits["rule"])
    assert "deploy_access" in test.scope_limitations()
    assert any("no listing of production deploy access" in " ".join(body) for _, _, body, _ in test.conclusions())


def test_an_unknown_account_system_is_named(tested):
    settings = tested.settings.model_copy(update={"account_system": "gitlub"})
    test = ChangeManagementTest(tested.context, tested.control, settings)
    with pytest.raises(ValueError, match="settings.account_system 'gitlub' is not a system"):
        test.population()


@pytest.mark.parametrize(("settings", "message"), [
    ({"ticket_pattern": "CHG("}, "not a regular expression"),
    ({"change_window": {"days": ["Mon"], "start": "25:00", "end": "02:00"}}, "change_window.start"),
    ({"change_window": {"days": ["Mon"], "start": "22:00", "end": "02:00", "timezone": "Mars/Base"}},
     "not an IANA time zone"),
    ({"emergency_approval_days": -1}, "emergency_approval_days"),
    ({"deploy_entitlement": ["x"]}, "is not a known setting"),
])
def test_bad_settings_are_named_by_their_key(settings, message):
    problems = procedures.settings_problems("change_management", settings, "controls[0]")
    assert problems and any(message in p for p in problems), problems


# --- the analytics as pure functions -------------------------------------------------------------

def test_ticket_references_are_found_in_order_each_once():
    texts = [pd.Series(["CHG0030101 fix", None, "OPS-12 and CHG0030101"]), pd.Series(["feature/OPS-12", "x", None])]
    assert change_control.ticket_references(texts, change_control.DEFAULT_TICKET_PATTERN) == [
        ("CHG0030101", "OPS-12"), (), ("OPS-12", "CHG0030101")]


def test_a_change_deployed_after_the_period_does_not_shadow_another_deployment():
    """Regression: the deployments linked to changes are taken row by row (a change without a deployment in
    the middle of the frame once shifted every later one, so a linked deployment also became a change of its own)."""
    t0 = pd.Timestamp("2026-07-06T10:00:00Z")
    changes = pd.DataFrame({"system": ["s"] * 3, "change_id": ["r#1", "r#2", "r#3"], "author": ["a", "b", "c"],
                            "merged_at": [t0, t0, t0], "merge_commit": ["c1", "c2", "c3"], "title": ["", "", ""],
                            "line": [2, 3, 4], "listing": ["pulls.json"] * 3})
    deployments = pd.DataFrame({"system": ["s", "s"], "deployment_id": ["d1", "d3"], "commit": ["c1", "c3"],
                                "deployed_at": [t0, t0], "deployed_by": ["x", "x"], "environment": ["production"] * 2,
                                "line": [2, 3], "listing": ["deploys.json"] * 2, "description": [None, None],
                                "ref": ["main", "main"], "ticket": pd.Series([pd.NA, pd.NA], dtype="string")})
    reviews = pd.DataFrame(columns=["system", "change_id", "reviewer", "submitted_at", "state"])
    tickets = pd.DataFrame({"ticket": pd.Series([], dtype="string"), "type": [], "approval": [], "line": []})
    frame = change_control.link_changes(changes, reviews, deployments, tickets)
    assert list(frame["change_kind"]) == ["merged change"] * 3
    assert list(frame["deployment_id"].fillna("")) == ["d1", "", "d3"]


@settings(max_examples=200, deadline=None)
@given(start=st.integers(0, 23), length=st.integers(1, 23), minutes=st.integers(0, 7 * 24 * 60 - 1),
       days=st.sets(st.sampled_from(change_control.WEEKDAYS), min_size=1))
def test_a_change_window_holds_exactly_the_minutes_after_its_start_on_its_days(start, length, minutes, days):
    window = change_control.ChangeWindow(tuple(days), f"{start:02d}:00", f"{(start + length) % 24:02d}:00")
    moment = datetime(2026, 7, 6, tzinfo=UTC) + timedelta(minutes=minutes)  # a Monday
    opened = [moment.replace(hour=start, minute=0) - timedelta(days=back) for back in (0, 1)]
    expected = any(o <= moment < o + timedelta(hours=length) and change_control.WEEKDAYS[o.weekday()] in days
                   for o in opened)
    assert bool(window.contains(pd.Series([pd.Timestamp(moment)])).iloc[0]) == expected


@pytest.mark.parametrize("seed", [11, 20260930])
def test_the_demo_change_and_operations_answer_keys_hold_for_a_small_company(tmp_path, seed):
    """At the demo's smallest size the company still has engineers, a releaser and an approver, and the
    change and operations controls find exactly the answer keys the generator wrote."""
    from conftest import make_demo_project
    from workbench import demo
    from workbench.procedures.operations import OperationsTest
    from workbench.runner import DEMO_PARAMETER_FILE

    base = make_demo_project(tmp_path)
    data = base / "data" / "demo" / "2026-Q3"
    demo.generate_demo_company(data, 100, seed)
    context = prepare_run(base / "parameters" / DEMO_PARAMETER_FILE, base / "outputs")
    for test_class, control_id, key in ((ChangeManagementTest, "CHG-01", "changes/change_ground_truth.csv"),
                                        (OperationsTest, "OPS-01", "operations/operations_ground_truth.csv")):
        test = test_class.open(str(context.run_dir), control_id)
        test.load_sources()
        test.select_sample()
        expected = pd.read_csv(data / key, dtype=str)
        assert len(expected) >= 7, control_id
        assert {(f.rule, f.subject, f.system, f.detail_key) for f in test.findings()} == set(map(tuple, expected.values))
