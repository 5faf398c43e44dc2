"""Optional source roles (issue 13, item 1): a control without an optional source still runs, states
what it could not test as a scope limitation (workpaper, conclusions, result.json), marks the
attributes that depend on it 'not tested' (never a deviation), and still finds what the sources it
was given support. A required source absent stays a `workbench check` problem.

Each case runs one control in-process twice on a copy of the period file: once as given and once
without the optional role, on the demo company and on the second company (Kestrel).
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest
import yaml
from test_check import problems_of, swap, valid_period

from conftest import ROOT, make_demo_project
from workbench import charts, procedures
from workbench import workpapers as wp
from workbench.runner import DEMO_PARAMETER_FILE, prepare_run

KESTREL = ROOT / "tests" / "data" / "companies" / "kestrel"
#: (control, optional role) pairs run without the role on both companies, where the remaining
#: sources find exactly what the full run found (per rule and system).
CASES = [("UAR-01", "review_campaign"), ("TERM-01", "access_requests"), ("AUTH-01", "idp_assignments")]
#: Pairs whose absence adds exceptions that follow from it (no mitigation register: every conflict
#: is unmitigated; no IdP assignments: accounts only the IdP tied to a person are unmatched), so the
#: full run's exceptions are all still found, among others.
MORE_CASES = [("SOD-CTL-01", "sod_mitigations"), ("PROV-01", "sod_mitigations"), ("PRIV-01", "review_decisions"),
              ("UAR-01", "idp_assignments"), ("PRIV-01", "idp_assignments"), ("SOD-CTL-01", "idp_assignments")]
ALL_CASES = CASES + MORE_CASES


@pytest.fixture(scope="module")
def companies(tmp_path_factory) -> dict[str, Path]:
    """Each company's period file, in a folder where its relative source paths resolve."""
    demo = make_demo_project(tmp_path_factory.mktemp("demo"))
    kestrel = tmp_path_factory.mktemp("kestrel")
    for item in KESTREL.iterdir():
        if item.suffix != ".yaml":
            (kestrel / item.name).symlink_to(item)
    (kestrel / "kestrel-2026-Q3.yaml").write_text((KESTREL / "kestrel-2026-Q3.yaml").read_text(encoding="utf-8"),
                                                  encoding="utf-8")
    return {"demo": demo / "parameters" / DEMO_PARAMETER_FILE, "kestrel": kestrel / "kestrel-2026-Q3.yaml"}


def one_control(period: Path, control_id: str, without: str | None) -> Path:
    """A copy of the period file with only ``control_id``, less the role ``without`` (and the setting
    that would make the role required)."""
    data = yaml.safe_load(period.read_text(encoding="utf-8"))
    data["controls"] = [c for c in data["controls"] if c["id"] == control_id]
    if without:
        control = data["controls"][0]
        control["sources"].pop(without)
        spec = procedures.procedure_class(control["procedure"]).SOURCE_ROLES[without]
        if spec.required_with:
            control.get("settings", {}).pop(spec.required_with, None)
    path = period.parent / f"{period.stem}-{control_id}-{without or 'all'}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def execute(period: Path, control_id: str):
    context = prepare_run(period, period.parent / "outputs" / period.stem)
    procedure = context.parameters.control(control_id).procedure
    test = procedures.procedure_class(procedure).open(str(context.run_dir), control_id)
    test.load_sources()
    test.run_analytics()
    test.select_sample()
    test.record()
    return test


@pytest.fixture(scope="module")
def runs(companies):
    """(company, control, role) -> (the control run with every source, the control run without the role)."""
    full = {(company, control): execute(one_control(period, control, None), control)
            for company, period in companies.items() for control in dict.fromkeys(c for c, _ in ALL_CASES)}
    return {(company, control, role): (full[(company, control)], execute(one_control(period, control, role), control))
            for company, period in companies.items() for control, role in ALL_CASES}


def tied_by_the_idp(test) -> set[str]:
    """Systems with an account that the IdP's application assignment tied to its person."""
    return {system for frame in test._matched_accounts
            for system, rule in zip(frame["system"], frame["match_rule"]) if rule == "application_login"}


def analytics_rules(test) -> collections.Counter:
    return collections.Counter((f.rule, f.system) for f in test.findings() if f.origin == "analytics")


@pytest.mark.parametrize("company", ["demo", "kestrel"])
@pytest.mark.parametrize(("control", "role"), ALL_CASES)
def test_a_control_without_an_optional_source_states_the_scope_limitation(runs, company, control, role):
    full, reduced = runs[(company, control, role)]
    limitation = reduced.SOURCE_ROLES[role].limitation
    assert not reduced.SOURCE_ROLES[role].required and limitation
    # the full control may itself lack an optional source (Kestrel's review gives no remediation log):
    # without the role, its limitation is stated in addition to those
    baseline = full.scope_limitations()
    assert role not in baseline
    assert reduced.scope_limitations() == {**baseline, role: limitation}
    result = json.loads((reduced.context.control_dir(control) / "result.json").read_text(encoding="utf-8"))
    assert result["scope_limitations"] == {**baseline, role: limitation}
    full_result = json.loads((full.context.control_dir(control) / "result.json").read_text(encoding="utf-8"))
    assert full_result.get("scope_limitations", {}) == baseline
    section = "".join(block.markup for block in reduced.population_evidence())
    assert "Scope limitations" in section and role in section
    assert bool(baseline) == ("Scope limitations" in "".join(block.markup for block in full.population_evidence()))
    assert all(any(f"Scope limitation: {role} not given" in line for line in body)
               for _, _, body, _ in reduced.conclusions())


@pytest.mark.parametrize("company", ["demo", "kestrel"])
@pytest.mark.parametrize(("control", "role"), CASES)
def test_the_remaining_sources_still_find_what_they_support(runs, company, control, role):
    """Every analytics exception of the full run is found without the role (the same rule in the same
    system; without the IdP assignments an AWS account is named by its login, not its person), for every
    rule the reduced run still runs; a rule it cannot run is named in the limitation, never run on a guess."""
    full, reduced = runs[(company, control, role)]
    not_run = set(full.rules_run()) - set(reduced.rules_run()) if hasattr(full, "rules_run") else set()
    expected = collections.Counter({k: n for k, n in analytics_rules(full).items() if k[0] not in not_run})
    assert analytics_rules(reduced) == expected
    for rule in not_run:
        assert rule.replace("_", " ") in reduced.SOURCE_ROLES[role].limitation


@pytest.mark.parametrize("company", ["demo", "kestrel"])
@pytest.mark.parametrize(("control", "role"), MORE_CASES)
def test_without_a_source_whose_absence_adds_exceptions_every_full_run_exception_is_still_found(
        runs, company, control, role):
    """No traceback, and per rule and system at least as many analytics exceptions as the full run, for
    every rule the reduced run still runs; a rule it cannot run is named in the limitation."""
    full, reduced = runs[(company, control, role)]
    not_run = set(full.rules_run()) - set(reduced.rules_run())
    found = analytics_rules(reduced)
    # Without the IdP's assignments, a system whose accounts only the IdP tied to people is not
    # supported by the remaining sources (its accounts are unmatched, as the limitation says):
    # its findings are not expected; every other system's are.
    unsupported = tied_by_the_idp(full) if role == "idp_assignments" else set()
    for (rule, system), count in analytics_rules(full).items():
        if rule not in not_run and not set(system.split("; ")) & unsupported:
            assert found[(rule, system)] >= count, (rule, system)
    for rule in not_run:
        assert rule.replace("_", " ") in reduced.SOURCE_ROLES[role].limitation
    if role == "sod_mitigations":   # the only consequence: conflicts no longer mitigated
        extra = found - analytics_rules(full)
        assert {rule for rule, _ in extra} <= {"sod_conflict"}


@pytest.mark.parametrize("company", ["demo", "kestrel"])
def test_uar_without_the_campaign_report_still_finds_self_review_and_rubber_stamping(runs, company):
    full, reduced = runs[(company, "UAR-01", "review_campaign")]
    rules = {f.rule for f in reduced.findings()}
    assert {"self_review", "rubber_stamping"} <= rules
    assert {(f.rule, f.subject) for f in reduced.findings() if f.origin == "analytics"} == \
        {(f.rule, f.subject) for f in full.findings() if f.origin == "analytics"}
    timeliness = reduced.timeliness().set_index("check")
    assert timeliness.loc["Signed off by the campaign owner", "passed"] == "not tested"
    assert timeliness.loc["Completed by the campaign deadline", "passed"] == "not tested"
    assert {"Launched within 5 days of the snapshot (first decision)",
            "Completed within 30 days of launch (last decision)"} <= set(timeliness.index)
    reconciliation = reduced.reconciliation().set_index("check")
    assert reconciliation.loc["Campaign lines vs 'Total Items' of the status report", "result"] == \
        "not tested (no campaign status report)"
    assert full.timeliness()["passed"].map(type).eq(bool).all()  # with the report: pass / fail, as before
    # What the notebook shows from the campaign still draws without the report.
    assert "not tested" in wp.table(reduced.timeliness(), "Campaign timeliness and sign-off (A2, A5)").markup
    campaign = reduced.campaign
    charts.decision_timeliness(reduced.decisions, campaign["activated_at"], campaign["deadline"], campaign["completed_at"])


@pytest.mark.parametrize("company", ["demo", "kestrel"])
def test_termination_without_tickets_does_not_test_t4_and_counts_no_deviation_for_it(runs, company):
    full, reduced = runs[(company, "TERM-01", "access_requests")]
    t4 = reduced.sample["T4_removal_approved"]
    assert set(t4) <= {"not tested", "n/a"}
    assert set(full.sample["T4_removal_approved"]) - {"pass", "fail", "n/a"} == set()
    applies = full.sample["T4_removal_approved"] != "n/a"
    assert (reduced.sample.loc[applies.to_numpy(), "T4_removal_approved"] == "not tested").all()
    other = [a for a in reduced.ATTRIBUTES if a != "T4_removal_approved"]
    assert list(reduced.sample["deviation"]) == list((reduced.sample[other] == "fail").any(axis=1))
    shown = reduced.attribute_results()
    assert set(shown["T4 removal approved"]) <= {"not tested", "—"}
    assert not any("removal approved" in f.description for f in reduced.findings() if f.origin == "sample")


def test_check_accepts_a_control_without_an_optional_role_and_refuses_one_without_a_required_role(tmp_path):
    for control, role in [*CASES, ("SOD-CTL-01", "sod_mitigations")]:
        text = valid_period()
        line = next(row for row in text[text.index(f"id: {control}"):].splitlines()
                    if row.strip().startswith(f"{role}:"))
        assert problems_of(tmp_path, swap(text, line + "\n", "", within=f"id: {control}")) == [], (control, role)
    for control, role in [("UAR-01", "review_decisions"), ("TERM-01", "idp_assignments"), ("PROV-01", "idp_assignments")]:
        text = valid_period()
        line = next(row for row in text[text.index(f"id: {control}"):].splitlines()
                    if row.strip().startswith(f"{role}:"))
        [problem] = problems_of(tmp_path, swap(text, line + "\n", "", within=f"id: {control}"))
        assert f"has no source for the role '{role}'" in problem.message, (control, role)


def test_check_says_what_a_control_will_not_test_without_an_optional_source(tmp_path):
    """`workbench check` is ready to run without an optional source, and says what the workpaper will
    state as not tested; with every source given it says nothing of the kind."""
    from workbench.check import check_period
    text = valid_period()
    line = next(row for row in text[text.index("id: UAR-01"):].splitlines() if row.strip().startswith("review_campaign:"))
    path = tmp_path / "period.yaml"
    path.write_text(swap(text, line + "\n", "", within="id: UAR-01"), encoding="utf-8")
    report = check_period(path)
    assert report.ok
    limitation = procedures.procedure_class("user_access_review").SOURCE_ROLES["review_campaign"].limitation
    assert report.limitations == {"UAR-01": {"review_campaign": limitation}}
    assert f"UAR-01: without 'review_campaign': {limitation}" in report.format()
    path.write_text(text, encoding="utf-8")
    assert "Scope limitations" not in check_period(path).format()
