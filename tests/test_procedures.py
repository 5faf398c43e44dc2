"""Control procedures run in-process (no Jupyter) on the demo company."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import ROOT, make_demo_project
from workbench import procedures, sampling, workpapers
from workbench.procedures.base import POPULATION_FILE
from workbench.procedures.user_access_review import ATTRIBUTES, UserAccessReviewTest
from workbench.runner import DEMO_PARAMETER_FILE, prepare_run


@pytest.fixture(scope="module")
def uar(tmp_path_factory) -> UserAccessReviewTest:
    base = make_demo_project(tmp_path_factory.mktemp("proc"))
    context = prepare_run(base / "parameters" / DEMO_PARAMETER_FILE, base / "outputs")
    test = UserAccessReviewTest.open(str(context.run_dir), "UAR-01")
    test.load_sources()
    test.run_analytics()
    test.select_sample()
    test.record()
    return test


def test_every_procedure_has_a_settings_model_and_a_notebook():
    for name in procedures.PROCEDURES:
        assert procedures.settings_model(name) is not None
        assert (ROOT / "src" / "workbench" / "notebooks" / f"{name}.ipynb").is_file()


def test_population_has_the_sampling_frame_columns(uar):
    population = uar.population()
    assert {"item_key", "scope", "subject", "system", "detail_key", "evidence_reference"} <= set(population.columns)
    assert population["item_key"].is_unique
    assert set(population["scope"]) == {"SOX", "SOC 2"}


def test_each_framework_stratum_gets_its_own_statistical_sample(uar):
    statistical = uar.sample[uar.sample["selection_basis"].str.contains("statistical")]
    counts = statistical["scope"].value_counts().to_dict()
    assert counts == {"SOX": 59, "SOC 2": 59}


def test_sample_re_derives_from_the_recorded_population_and_selection(uar):
    out = uar.context.control_dir("UAR-01")
    result = json.loads((out / "result.json").read_text())
    record = sampling.Selection.from_dict(result["sample"]["selection_record"])
    population = pd.read_csv(out / POPULATION_FILE, dtype=str, keep_default_na=False)
    rederived = sampling.reselect(population, record)
    sample = pd.read_csv(out / "sample.csv", dtype=str, keep_default_na=False)
    recorded = sample[sample["selection_basis"].str.contains("statistical")]
    assert list(rederived["item_key"]) == list(recorded["item_key"])


def test_targeted_items_are_the_analytics_hits_on_lines(uar):
    targeted = uar.sample[uar.sample["selection_basis"].str.contains("targeted")]
    lines = set(zip(uar.population()["subject"], uar.population()["detail_key"]))
    hits_on_lines = {key for key in zip(uar.hits["subject"], uar.hits["detail_key"]) if key in lines}
    assert len(hits_on_lines) >= 8
    assert set(zip(targeted["subject"], targeted["detail_key"])) == hits_on_lines
    gaps = uar.hits[uar.hits["rule"] == "review_population_gap"]
    assert not set(zip(gaps["subject"], gaps["detail_key"])) & lines, "a gap is access the campaign lacks"


def test_attribute_results_are_tickable(uar):
    for attribute in ATTRIBUTES:
        # A6 reads 'not tested' where the evidence provided cannot prove the revoke (removals.A6_VERDICT)
        allowed = {"pass", "fail", "n/a"} | ({"not tested"} if attribute == "A6_revocation_executed" else set())
        assert set(uar.sample[attribute]) <= allowed
    assert (uar.sample["A6_revocation_executed"] == "n/a").sum() == (uar.sample["decision"] != "revoke").sum()


def test_a_line_is_one_finding_even_when_sampled(uar):
    findings = uar.findings()
    analytics_lines = {(f.subject, f.system, f.detail_key) for f in findings if f.origin == "analytics"}
    sample_lines = {(f.subject, f.system, f.detail_key) for f in findings if f.origin == "sample"}
    deviating = uar.sample[uar.sample["deviation"]]
    assert len(deviating) > len(sample_lines), "some deviating items are analytics hits and must not repeat"
    assert not analytics_lines & sample_lines
    assert uar.register()["exception_id"].is_unique


def test_exceptions_feed_only_the_frameworks_of_their_system(uar):
    register = uar.register().set_index("system")
    assert set(register.loc[["ledgerline_erp"], "framework"]) == {"SOX"}
    assert set(register.loc[register.index.isin(["github", "aws_prod"]), "framework"]) == {"SOC 2"}


def test_one_conclusion_per_framework_in_its_own_language(uar):
    conclusions = {fw: (headline, body) for fw, headline, body, _ in uar.conclusions()}
    assert set(conclusions) == {"SOC 2", "SOX"}
    assert conclusions["SOC 2"][0].startswith("Exception noted")
    assert "CC6.2, CC6.3" in conclusions["SOC 2"][1][0]
    assert conclusions["SOX"][0] == "Deficiency identified"
    assert any("material weakness" in line for line in conclusions["SOX"][1])


# --- what the base class gives every family --------------------------------------------------------

def test_every_family_is_a_registered_procedure_with_its_notebook():
    assert set(procedures.PROCEDURES) == {"user_access_review", "provisioning", "termination", "privileged_access",
                                          "segregation_of_duties", "authentication", "change_management",
                                          "operations"}
    from workbench.parameters import load_period
    params = load_period(ROOT / "parameters" / DEMO_PARAMETER_FILE)
    assert sorted(c.procedure for c in params.controls) == sorted(procedures.PROCEDURES)


def test_verdict_marks_pass_fail_and_not_applicable():
    from workbench.procedures.base import ControlTest
    ok = pd.Series([True, False, True, pd.NA], dtype="boolean")
    assert ControlTest.verdict(ok).tolist() == ["pass", "fail", "pass", "fail"]
    applies = pd.Series([True, True, False, True])
    assert ControlTest.verdict(ok, applies).tolist() == ["pass", "fail", "n/a", "fail"]


def test_checks_table_says_whether_a_control_total_agrees():
    from workbench.procedures.base import ControlTest
    table = ControlTest.checks_table([("rows", 10, 10), ("lines", 9, 10), ("informational", 3, None)])
    assert table["result"].tolist() == ["agrees", "DIFFERS", "—"]


def test_a_sampled_stratum_keeps_its_sampling_risk(uar):
    uar.evaluate()
    for framework, ev in uar.evaluations.items():
        assert ev.sample_size < len(uar.population().query("scope == @framework")), framework
        assert ev.method == "binomial" and ev.upper_deviation_limit > ev.sample_deviation_rate


def test_hits_are_tied_to_lines_by_subject_system_and_detail(uar):
    assert uar.HIT_MATCH == ("subject", "system", "detail_key")
    identities = uar.hit_identities(uar.hits)
    assert identities == list(zip(uar.hits["subject"], uar.hits["system"], uar.hits["detail_key"]))


# --- system display names in exception descriptions ----------------------------------------------

@pytest.mark.parametrize("description, expected", [
    ("okta account ann@x.example is active", "Okta account ann@x.example is active"),
    ("Terminated 2026-09-11; okta account ann@x.example was removed", "Terminated 2026-09-11; Okta account ann@x.example was removed"),
    ("okta 'Super Admin' was granted to ANN", "Okta 'Super Admin' was granted to ANN"),
    ("okta access 'member' of okta-admin was held", "Okta access 'member' of okta-admin was held"),
    ("github account okta account", "github account Okta account"),
    ("account okta-svc@okta.example holds okta", "account okta-svc@okta.example holds okta"),
])
def test_descriptions_name_the_system_as_the_auditor_knows_it(description, expected):
    from workbench.procedures.wording import name_the_system

    assert name_the_system(description, "okta", "Okta") == expected


def test_the_appendix_gives_each_sources_declared_options_in_full(uar):
    import dataclasses
    from pathlib import Path

    from workbench import populations

    appendix = "".join(block.markup for block in uar.mapping_appendix())
    # the demo's UAR declares options only for its remediation tasks (a ServiceNow export read by kind: mapped)
    assert "no options to list" not in appendix and "servicenow_remediation_tasks.csv (mapped → remediation_log)" in appendix
    assert "SHA-256" in appendix and "Key unique" in appendix  # each source's evidence in full
    departments = {f"Dept {i}": f"Department {i}" for i in range(25)}
    options = {"table": "identities", "date_format": "%d/%m/%Y",
               "columns": {"employee_id": "Employee #", "email": "Work Email",
                           "termination_date": "Termination Date", "department": "Department"},
               "derive": {"status": "CASE WHEN \"Termination Date\" IS NULL THEN 'active' "
                                    "ELSE 'terminated' END"},
               "values": {"department": {**departments, "*": "Other"}}}
    roster = Path(__file__).parent / "data" / "byo" / "bamboohr" / \
        "kestrel_employees_no_status_columns.csv"
    population = populations.load_source("mapped", roster, options=options)
    test = dataclasses.replace(uar, loaded={"hr_workers": population})
    evidence = "".join(block.markup for block in test.population_evidence())
    assert "Dept 24" not in evidence and "in full in the appendix" in evidence
    assert "Sources read: one row per export" in evidence and "<td>mapped → identities</td>" in evidence
    appendix = "".join(block.markup for block in test.mapping_appendix())
    assert "  Dept 24: Department 24\n" in appendix and "\n  *: Other" in appendix
    assert "status: CASE WHEN &quot;Termination Date&quot; IS NULL THEN &#x27;active&#x27;" in appendix
    assert 'class="wp-pre"' in appendix and "identities" in appendix


def test_sizing_follows_an_allowed_number_of_deviations_and_the_rationale_says_so(uar):
    import dataclasses

    by_rate = uar.plan_sample()
    assert all("expected 0 %" in text and "allowing" not in text for text in by_rate["rationale"])
    sampling_config = uar.control.sampling.model_copy(update={"expected_deviations": 1})
    test = dataclasses.replace(uar, control=uar.control.model_copy(update={"sampling": sampling_config}), plan={})
    table = test.plan_sample()
    sizes = dict(zip(table["scope stratum"], table["sample size"], strict=True))
    populations = dict(zip(table["scope stratum"], table[test.ITEM_NOUN], strict=True))
    for stratum, size in sizes.items():
        expected = sampling.plan_sample(0.95, 0.05, population_size=populations[stratum], expected_deviations=1)
        assert size == min(expected.n, populations[stratum])
        assert test.plan[stratum].expected_deviations == 1
    assert all("allowing 1 deviation in the sample" in text for text in table["rationale"])


# --- issue 13 (6.3-6.5): the procedure itself refuses sources it cannot read as declared ---------

def with_sources(test: UserAccessReviewTest, extra_sources=(), **roles) -> UserAccessReviewTest:
    """The same control over the same frozen run, with its ``sources:`` block changed (no ``check``)."""
    import dataclasses

    params = test.params.model_copy(update={"sources": [*test.params.sources, *extra_sources]})
    inputs = {**test.context.inputs, **{s.id: test.context.inputs[s.id.split("__")[0]] for s in extra_sources}}
    context = dataclasses.replace(test.context, parameters=params, inputs=inputs)
    sources = {k: v for k, v in {**test.control.sources, **roles}.items() if v is not None}
    return UserAccessReviewTest(context, test.control.model_copy(update={"sources": sources}), test.settings)


def test_a_source_of_the_wrong_table_is_refused_naming_source_role_and_table(uar):
    wrong = with_sources(uar, review_campaign="uar_decisions")
    with pytest.raises(ValueError) as caught:
        wrong.reconciliation()
    message = str(caught.value)
    for part in ("uar_decisions", "review_campaign", "review_decisions", "campaigns", "UAR-01"):
        assert part in message, message


def test_an_undeclared_source_role_is_refused_with_did_you_mean(uar):
    typo = with_sources(uar, access_listing=uar.control.sources["access_listings"])
    with pytest.raises(ValueError) as caught:
        _ = typo.decisions
    message = str(caught.value)
    assert "access_listing" in message and "did you mean 'access_listings'" in message, message


def test_two_snapshots_of_one_system_at_one_moment_are_refused_naming_both(uar):
    first = uar.params.source("erp_roles")
    same = first.model_copy(update={"id": "erp_roles__copy", "path": "later/erp_roles_copy.csv"})
    twice = with_sources(uar, [same], access_listings=["erp_roles", "aws_groups", "erp_roles__copy"])
    with pytest.raises(ValueError) as caught:
        _ = twice.grants
    message = str(caught.value)
    for part in ("erp_roles", "erp_roles__copy", "erp_roles_copy.csv", "access_listings", "ledgerline_erp",
                 "same moment", "as_of"):
        assert part in message, message


def test_snapshots_of_one_system_at_different_moments_are_each_used_for_their_claim(uar):
    """A later snapshot is after-review evidence; the review population rests on the one nearest the
    review snapshot, and neither shadows the other (each row keeps its own file)."""
    first = uar.params.source("erp_roles")
    later = first.model_copy(update={"id": "erp_roles__later", "path": "later/erp_roles_later.csv",
                                     "extracted_at": first.extracted_at + pd.Timedelta(days=7)})
    both = with_sources(uar, [later], access_listings=["erp_roles__later", "aws_groups", "erp_roles"])
    erp = both.grants[both.grants["system"] == "ledgerline_erp"]
    assert set(erp["listing"]) == {"ledgerline_erp_user_roles.csv"}  # the earlier one: nearest the snapshot
    newest = both.frames("access_listings")
    assert set(newest.loc[newest["system"] == "ledgerline_erp", "listing"]) == {"erp_roles_later.csv"}
    assert [s.label for s in both.listing_snapshots if s.system == "ledgerline_erp"] == [
        "ledgerline_erp_user_roles.csv", "erp_roles_later.csv"]


def test_a_difference_in_a_reconciliation_is_flagged(uar):
    table = uar.checks_table([("agrees", 3, 3), ("differs", 2, 3), ("informational", 1, None)])
    markup = workpapers.table(table).markup
    assert '<td class="wp-flag">DIFFERS</td>' in markup and markup.count("wp-flag") == 1
