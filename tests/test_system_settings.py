"""Settings per system in the period file, not in code (issue 13, item 4).

``systems[].privileged_entitlements`` replaces the built-in privileged list for the system that
declares it (and the evidence says the list came from the period file); ``service_accounts``
globs decide which accounts are non-person (not orphans); ``owners`` / ``reviewers`` /
``review_scope`` are declared and validated; ``workbench check`` and ``workbench init`` know them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_analytics import PEOPLE, leaver_inventory, listing
from test_check import line_of, problems_of, swap, valid_period

from conftest import make_demo_project
from workbench import analytics, populations
from workbench.parameters import Control, Frameworks, Period, PeriodParameters, Source, System
from workbench.procedures.base import read_source, service_account_patterns
from workbench.procedures.user_access_review import UserAccessReviewTest
from workbench.runner import DEMO_PARAMETER_FILE, _control_header, prepare_run
from workbench.scaffold import SYSTEM_SETTINGS_COMMENT

GROUPS = Path(__file__).parent / "data" / "exports" / "cloud" / "aws_iam_group_memberships.csv"


def aws_groups(system: str = "aws_prod") -> Source:
    return Source(id="aws_groups", kind="aws_iam_group_memberships", path=str(GROUPS), source_system="AWS IAM",
                  extracted_at=dt.datetime(2026, 10, 1, 6, tzinfo=dt.UTC), system=system)


def flagged(population: populations.Population) -> list[str]:
    frame = population.frame
    return frame.loc[frame["privileged"], "entitlement"].tolist()


# --- privileged entitlements -----------------------------------------------------------------------

def test_a_declared_list_flags_exactly_its_entitlements_and_the_evidence_says_so():
    systems = [System(id="aws_prod", name="AWS", privileged_entitlements=["DEVELOPERS"])]
    population = read_source(aws_groups(), GROUPS, systems)
    assert flagged(population) == ["Developers"]  # matched ignoring case; Administrators no longer
    [note] = [n for n in population.evidence.notes if "privileged" in n]
    assert "declared in the period file" in note and "privileged_entitlements: DEVELOPERS" in note


def test_a_system_with_its_own_id_needs_no_demo_name():
    declared = [System(id="kf_aws", name="AWS", privileged_entitlements=["Administrators", "BillingAdmins"])]
    assert flagged(read_source(aws_groups("kf_aws"), GROUPS, declared)) == ["Administrators", "BillingAdmins"]
    undeclared = read_source(aws_groups("kf_aws"), GROUPS, [System(id="kf_aws", name="AWS")])
    assert flagged(undeclared) == []
    assert any("No privileged-entitlement list for system 'kf_aws'" in n for n in undeclared.evidence.notes)


def test_a_system_that_declares_none_keeps_the_default_even_when_another_declares():
    systems = [System(id="aws_prod", name="AWS"), System(id="github", name="GitHub", privileged_entitlements=["x"])]
    population = read_source(aws_groups(), GROUPS, systems)
    assert flagged(population) == ["Administrators", "PowerUsers", "BillingAdmins"]
    assert not any("period file" in n for n in population.evidence.notes)


def test_an_empty_declared_list_means_nothing_is_privileged():
    population = read_source(aws_groups(), GROUPS, [System(id="aws_prod", name="AWS", privileged_entitlements=[])])
    assert flagged(population) == []


# --- service accounts --------------------------------------------------------------------------------

def test_service_account_patterns_replace_the_svc_prefix_for_their_system():
    rows = [{"system": "sap", "login": login, "login_original": login.upper(), "email": pd.NA}
            for login in ("svc-deploy", "batch_user", "ff_id0042", "tmp")]
    patterns = {"sap": ["BATCH_USER", "FF_ID*"]}
    grants = analytics.correlate_grants(listing(rows), PEOPLE, service_accounts=patterns)
    assert grants.set_index("login")["service_account"].to_dict() == {
        "svc-deploy": False, "batch_user": True, "ff_id0042": True, "tmp": False}
    orphans = analytics.orphan_accounts(analytics.listing_accounts(grants, "sap.csv"))
    assert sorted(orphans["subject"]) == ["svc-deploy", "tmp"]


def test_the_default_patterns_are_todays_svc_prefix():
    rows = [{"system": "gh", "login": "svc-bot", "email": pd.NA}, {"system": "gh", "login": "bot", "email": pd.NA}]
    default = analytics.correlate_grants(listing(rows), PEOPLE)
    assert default["service_account"].tolist() == [True, False]
    assert analytics.DEFAULT_SERVICE_ACCOUNT_PATTERNS == ("svc-*",)
    assert System(id="gh", name="GitHub").service_accounts == ["svc-*"]
    # the procedures hand every system's patterns to the analytics
    assert service_account_patterns([System(id="gh", name="G", service_accounts=["bot"])]) == {"gh": ["bot"]}
    assert analytics.correlate_grants(listing(rows), PEOPLE, service_accounts={"gh": ["bot"]})[
        "service_account"].tolist() == [False, True]


def test_the_leaver_inventory_keeps_its_svc_service_account():
    orphans = analytics.orphan_accounts(leaver_inventory())
    assert orphans["subject"].tolist() == ["tmp"]


# --- owners, reviewers, review scope ---------------------------------------------------------------------

def test_owners_reviewers_and_scope_are_validated():
    system = System(id="sap", name="SAP", owners=["tomasz@x.example"], reviewers=["a@x.example", "b@x.example"],
                    review_scope=["SAP_ALL", "Z_FI_GL_POST"])
    assert system.reviewers == ["a@x.example", "b@x.example"]
    with pytest.raises(ValueError, match="listed more than once"):
        System(id="sap", name="SAP", reviewers=["a@x.example", "A@x.example"])
    with pytest.raises(ValueError, match="at least 1 character"):
        System(id="sap", name="SAP", service_accounts=[""])


def test_the_workpaper_header_names_declared_owners_and_reviewers_only():
    control = Control(id="UAR-01", procedure="user_access_review", title="t", description="d", owner="o",
                      frequency="quarterly", frameworks=Frameworks(soc2=["CC6.2"]), systems=["sap", "gh"],
                      sources={})
    params = PeriodParameters(
        entity="E", period=Period(id="2026-Q3", start=dt.date(2026, 7, 1), end=dt.date(2026, 9, 30)),
        preparer="p", reviewer="r", seed=1, sources=[], controls=[control],
        systems=[System(id="sap", name="SAP", owners=["tomasz@x.example"], reviewers=["a@x.example"]),
                 System(id="gh", name="GitHub")])
    html = _control_header(params, control, "run-1", "complete")
    assert "System owners" in html and "SAP: tomasz@x.example" in html and "SAP: a@x.example" in html
    plain = params.model_copy(update={"systems": [System(id="sap", name="SAP"), System(id="gh", name="GitHub")]})
    assert "System owners" not in _control_header(plain, control, "run-1", "complete")


# --- workbench check and workbench init ------------------------------------------------------------------

def test_check_names_a_misspelt_key_with_its_line_and_a_suggestion(tmp_path):
    text = swap(valid_period(), "    soc2_in_boundary: true\n",
                "    soc2_in_boundary: true\n    privileged_entitlement: [Administrators]\n", within="id: aws_prod")
    [problem] = problems_of(tmp_path, text)
    assert problem.key == "systems[2].privileged_entitlement"
    assert problem.line == line_of(text, "privileged_entitlement:")
    assert problem.did_you_mean == "privileged_entitlements"


def test_check_accepts_the_new_keys(tmp_path):
    text = swap(valid_period(), "    soc2_in_boundary: true\n",
                "    soc2_in_boundary: true\n    privileged_entitlements: [Administrators]\n"
                "    service_accounts: ['svc-*', BATCH_USER]\n    owners: [a@x.example]\n"
                "    reviewers: [b@x.example]\n    review_scope: []\n", within="id: aws_prod")
    assert problems_of(tmp_path, text) == []


def test_init_writes_every_new_key_as_a_comment_that_validates_uncommented():
    assert all(line.startswith("    # ") for line in SYSTEM_SETTINGS_COMMENT)
    settings = yaml.safe_load("\n".join(line[len("    # "):] for line in SYSTEM_SETTINGS_COMMENT[1:]))
    assert set(settings) == {"privileged_entitlements", "service_accounts", "owners", "reviewers", "review_scope"}
    System(id="x", name="X", **settings)


# --- review scope in the user access review ----------------------------------------------------------------

@pytest.fixture(scope="module")
def scoped_uar(tmp_path_factory):
    base = make_demo_project(tmp_path_factory.mktemp("scope"))
    path = base / "parameters" / DEMO_PARAMETER_FILE
    path.write_text(swap(path.read_text(encoding="utf-8"), "    soc2_in_boundary: true\n",
                         "    soc2_in_boundary: true\n    review_scope: [OWNER]\n", within="id: github"),
                    encoding="utf-8")
    context = prepare_run(path, base / "outputs")
    test = UserAccessReviewTest.open(str(context.run_dir), "UAR-01")
    test.load_sources()
    return test


def test_review_scope_excludes_other_access_from_the_population_and_counts_it(scoped_uar):
    all_lines = scoped_uar.frame("review_decisions")
    github = all_lines[all_lines["system"] == "github"]
    outside = int((github["entitlement"].str.casefold() != "owner").sum())
    assert outside > 0, "the demo's GitHub review has lines other than owner"
    population = scoped_uar.population()
    assert set(population.loc[population["system"] == "github", "entitlement"].str.casefold()) == {"owner"}
    assert len(population) == len(all_lines[all_lines["system"].isin(scoped_uar.control.systems)]) - outside
    checks = scoped_uar.reconciliation().set_index("check")["count"]
    assert checks["Lines outside the declared review scope (excluded)"] == outside
    # access outside the scope is not a gap of the campaign population either
    gaps = scoped_uar.run_analytics()
    gaps = gaps[(gaps["rule"] == "review_population_gap") & (gaps["system"] == "github")]
    assert not gaps["detail_key"].str.casefold().str.endswith("|member").any()
    assert "GitHub Enterprise: OWNER" in scoped_uar.review_scope_text()
