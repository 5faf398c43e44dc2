"""The control test library: the five access-control families run in-process on the demo company.

Each family must find exactly its planted exceptions (ground_truth.csv) and nothing on the clean
subjects, build a proper sampling frame, sample it per framework scope, test its attributes, and
conclude once per mapped framework. Also: the SoD mitigation register reader.
"""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import make_demo_project
from workbench import analytics, demo, populations, procedures
from workbench.procedures.authentication import AuthenticationTest
from workbench.procedures.privileged_access import PrivilegedAccessTest
from workbench.procedures.provisioning import ProvisioningTest
from workbench.procedures.segregation_of_duties import SegregationOfDutiesTest
from workbench.procedures.termination import TerminationTest
from workbench.runner import DEMO_PARAMETER_FILE, prepare_run

FAMILIES = {
    "PROV-01": (ProvisioningTest, "provisioning"),
    "TERM-01": (TerminationTest, "termination"),
    "PRIV-01": (PrivilegedAccessTest, "privileged_access"),
    "SOD-CTL-01": (SegregationOfDutiesTest, "segregation_of_duties"),
    "AUTH-01": (AuthenticationTest, "authentication"),
}
FRAME_COLUMNS = {"item_key", "scope", "subject", "system", "detail_key", "evidence_reference"}


def run_family(run_dir, control_id):
    test_class, _ = FAMILIES[control_id]
    test = test_class.open(str(run_dir), control_id)
    test.load_sources()
    test.run_analytics()
    test.select_sample()
    return test


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    base = make_demo_project(tmp_path_factory.mktemp("controls"))
    context = prepare_run(base / "parameters" / DEMO_PARAMETER_FILE, base / "outputs")
    truth = pd.read_csv(base / "data" / "demo" / "2026-Q3" / "ground_truth.csv", dtype=str, keep_default_na=False)
    tests = {control_id: run_family(context.run_dir, control_id) for control_id in FAMILIES}
    for test in tests.values():
        test.record()
    return tests, truth


def planted(truth: pd.DataFrame, family: str) -> set[tuple[str, str, str]]:
    rows = truth[truth["control_family"] == family]
    return set(zip(rows["rule"], rows["subject"], rows["system"]))


# --- every family on the demo company ------------------------------------------------------------

@pytest.mark.parametrize("control_id", list(FAMILIES))
def test_family_finds_exactly_its_planted_exceptions(project, control_id):
    tests, truth = project
    test = tests[control_id]
    register = test.register()
    found = set(zip(register["rule"], register["subject"], register["system"]))
    assert planted(truth, FAMILIES[control_id][1]) == found
    assert set(register["subject"]) <= set(truth["subject"]), "nothing is reported on a clean subject"
    assert (register["origin"] == "analytics").all(), "every planted exception is found by a full-population analytic"
    assert register["exception_id"].is_unique and (register["control_id"] == control_id).all()
    assert register["evidence_reference"].str.contains(r"\.csv line \d+|\.csv lines \d+|line \d+").all()


@pytest.mark.parametrize("control_id", list(FAMILIES))
def test_family_population_is_a_sampling_frame_in_framework_scope(project, control_id):
    test = project[0][control_id]
    population = test.population()
    assert FRAME_COLUMNS <= set(population.columns) and population["item_key"].is_unique
    assert set(population["scope"]) <= {"SOX", "SOC 2"}
    erp = population["system"] == "ledgerline_erp"
    assert (population.loc[erp, "scope"] == "SOX").all() and (population.loc[~erp, "scope"] == "SOC 2").all()
    assert set(population["system"]) <= set(test.control.systems)


@pytest.mark.parametrize("control_id", list(FAMILIES))
def test_family_sample_is_stratified_tested_and_concluded_per_framework(project, control_id):
    test = project[0][control_id]
    sample = test.sample
    sizes = test.population()["scope"].value_counts()
    statistical = sample[sample["selection_basis"].str.contains("statistical")]
    assert statistical["scope"].value_counts().to_dict() == {s: min(59, int(n)) for s, n in sizes.items()}
    for attribute in test.ATTRIBUTES:
        assert set(sample[attribute]) <= {"pass", "fail", "n/a"}, attribute
    targeted = sample[sample["selection_basis"].str.contains("targeted")]
    hit_ids = set(test.hit_identities(test.hits))
    assert set(test.hit_identities(targeted)) == {i for i in test.hit_identities(test.population()) if i in hit_ids}
    deviating = sample[sample["deviation"]]
    assert set(test.hit_identities(deviating)) <= hit_ids, "only items an analytic already reports deviate"
    conclusions = {framework for framework, *_ in test.conclusions()}
    assert conclusions == {"SOX", "SOC 2"}
    out = test.context.control_dir(control_id)
    for name in ("sample.csv", "population.csv", "exceptions.csv", "result.json"):
        assert (out / name).is_file()


EXPECTED_HEADLINES = {
    "PROV-01": {"SOC 2": "No exceptions noted", "SOX": "Deficiency identified"},
    "TERM-01": {"SOC 2": "Exception noted (6)", "SOX": "Deficiency identified"},
    "PRIV-01": {"SOC 2": "Exception noted (1)", "SOX": "Effective"},
    "SOD-CTL-01": {"SOC 2": "No exceptions noted", "SOX": "Deficiency identified"},
    "AUTH-01": {"SOC 2": "Exception noted (4)", "SOX": "Deficiency identified"},
}


@pytest.mark.parametrize("control_id", list(FAMILIES))
def test_each_framework_is_concluded_in_its_own_language(project, control_id):
    test = project[0][control_id]
    conclusions = {framework: (headline, body) for framework, headline, body, _ in test.conclusions()}
    assert {fw: headline for fw, (headline, _) in conclusions.items()} == EXPECTED_HEADLINES[control_id]
    assert conclusions["SOC 2"][1][0].startswith("SOC 2 CC6.")
    assert conclusions["SOX"][1][0].startswith("SOX ITGC access to programs and data")


def test_a_fully_tested_stratum_is_evaluated_without_sampling_risk(project):
    test = project[0]["PRIV-01"]
    table = test.evaluate().set_index("framework")
    assert table.loc["SOX", "items tested"] == len(test.population().query("scope == 'SOX'"))
    assert table.loc["SOX", "upper deviation limit"] == "0.0%" and table.loc["SOX", "supports reliance"] == "yes"
    soc2 = test.evaluations["SOC 2"]
    assert soc2.sample_size == soc2.population_size and soc2.upper_deviation_limit == pytest.approx(soc2.sample_deviation_rate)
    assert not any("Sample extension" in line for _, _, body, _ in test.conclusions() for line in body)


# --- family specifics -----------------------------------------------------------------------------

def test_provisioning_frame_and_attributes(project):
    test = project[0]["PROV-01"]
    frame = test.population()
    assert set(frame.loc[frame["entitlement_level"], "system"]) == {"ledgerline_erp"}
    assert set(frame.loc[~frame["entitlement_level"].astype(bool), "system"]) == {"aws_prod", "github"}
    assert (frame["granted_at"] >= pd.Timestamp("2026-07-01", tz="UTC")).all()
    checks = test.reconciliation().set_index("check")
    assert (checks.loc[checks["expected"] != "—", "result"] == "agrees").all()
    sample = test.sample
    no_request = sample[~sample["has_request"]]
    assert (no_request["P1_request_approved"] == "fail").all() and (no_request["P2_approved_before_grant"] == "n/a").all()
    assert set(sample.loc[sample["system"] != "ledgerline_erp", "P5_no_sod_conflict"]) == {"n/a"}
    assert set(sample.loc[sample["system"] == "ledgerline_erp", "P5_no_sod_conflict"]) == {"pass"}


def test_termination_removal_evidence_and_orphans(project):
    test = project[0]["TERM-01"]
    frame = test.population()
    assert {"okta", "ledgerline_erp", "aws_prod", "github"} == set(frame["system"])
    removed = frame[~frame["active"]]
    assert removed["removed_at"].notna().all(), "every removal is dated (IdP, role end dates, IdP unassignment)"
    pit = frame[frame["system"].isin(["aws_prod", "github"])]
    assert (~pit["active"]).all() and pit["listing"].str.contains("okta_app_assignments").all()
    hits = test.hits
    orphans = hits[hits["rule"] == "orphan_account"]
    assert set(orphans["subject"]) == {"tempfin01", "pixelharbor-dev"}
    assert test.inventory["service_account"].sum() == 5 and not orphans["subject"].str.startswith("svc-").any()
    t4 = test.sample.loc[test.sample["system"] == "ledgerline_erp", "T4_removal_approved"]
    assert "pass" in set(t4) and "fail" not in set(t4)


def test_privileged_access_against_the_list_and_the_campaign(project):
    test = project[0]["PRIV-01"]
    frame = test.population()
    assert set(frame["approval"]) == {"current", "missing"}
    assert (frame["approval"] == "missing").sum() == 1
    assert set(test.sample["PA4_reviewed_in_campaign"]) == {"pass"}
    entitlements = set(zip(frame["system"], frame["entitlement"]))
    assert ("ledgerline_erp", "System Administrator") in entitlements and ("github", "owner") in entitlements


def test_sod_mitigations_are_honoured_only_while_valid(project):
    tests, truth = project
    test = tests["SOD-CTL-01"]
    conflicts = test.conflicts_table().set_index("mitigation_id")
    assert conflicts.loc["MIT-0001", "mitigation_status"] == "valid"
    assert conflicts.loc["MIT-0002", "mitigation_status"] == "expired"
    mitigated = conflicts.loc["MIT-0001", "subject"]
    assert mitigated not in set(test.register()["subject"]) and mitigated not in set(truth["subject"])
    expired = test.hits[test.hits["subject"] == conflicts.loc["MIT-0002", "subject"]]
    assert expired["rule"].tolist() == ["sod_conflict"] and "MIT-0002 is expired" in expired["description"].iloc[0]
    attribute = test.hits[test.hits["rule"] == "sod_attribute_conflict"]
    assert len(attribute) == 1 and "SOD-ATTR-01" in attribute["detail_key"].iloc[0]
    soc2 = test.population().query("scope == 'SOC 2'")
    assert len(soc2) > 59, "AWS and GitHub accounts are tested against the production-administration rule"


def test_authentication_matches_hits_to_accounts_whatever_the_subject(project):
    test = project[0]["AUTH-01"]
    dormant = test.hits[test.hits["rule"] == "dormant_account"]
    iam = dormant[dormant["system"] == "aws_prod"]
    assert len(iam) == 1 and "@" not in iam["subject"].iloc[0], "a dormant account is named by its login"
    targeted = test.sample[test.sample["selection_basis"].str.contains("targeted")]
    row = targeted[targeted["detail_key"] == iam["detail_key"].iloc[0]]
    assert len(row) == 1 and row["subject"].iloc[0].endswith("@harborlane.example")
    assert row["AU3_not_dormant"].iloc[0] == "fail"
    assert (test.register()["origin"] == "analytics").all(), "the failed item is the analytic's exception, not a second one"
    states = test.credential_states().set_index("system")
    assert "no_information" in states.columns or "never" in states.columns
    assert "<root_account>" not in set(test.population()["login"])


def test_authentication_reports_never_used_keys_after_their_grace_and_shared_accounts(project):
    test = project[0]["AUTH-01"]
    summary = test.analytics_summary().set_index("rule")["exceptions"]
    assert summary["access_key_never_used"] == 0, "the demo's never-used key is 9 days old: within the 30-day grace"
    assert summary["shared_or_generic_account"] == 2 and summary["root_access_key_active"] == 0
    shared = test.hits[test.hits["rule"] == "shared_or_generic_account"]
    assert sorted(shared["subject"]) == ["pixelharbor-dev", "tempfin01"]
    strict = AuthenticationTest(test.context, test.control,
                                test.settings.model_copy(update={"unused_access_key_grace_days": 0}))
    hits = strict.run_analytics()
    never = hits[hits["rule"] == "access_key_never_used"]
    assert len(never) == 1 and never["subject"].iloc[0].endswith("@harborlane.example")
    assert "is active but was never used" in never["description"].iloc[0]
    assert never["evidence_reference"].iloc[0].startswith("aws_iam_credential_report.csv line ")
    assert strict.key_grace_days == 0 and test.key_grace_days == 30, "default: the new-account grace"


def test_sod_reports_a_mover_who_kept_the_previous_jobs_access_only_with_an_earlier_roster(tmp_path, project):
    """Without hr_prior the rule does not run (the demo's SoD result is unchanged); with an earlier
    roster where one person worked elsewhere, exactly that person's access nobody else in the
    current department holds is reported."""
    import yaml

    plain = project[0]["SOD-CTL-01"]
    assert "mover_retained_access" not in set(plain.hits["rule"]) and "not tested" in plain.mover_text()
    base = make_demo_project(tmp_path)
    held = plain.held[plain.held["person_email"].notna()]
    department = analytics.person_attribute(plain.identities, "department")
    held = held.assign(dept=held["person_email"].map(department).astype("string").str.strip().str.casefold(),
                       ent=held["entitlement"].str.casefold())
    held = held[held["dept"].notna()]
    holders = held.groupby(["system", "ent", "dept"])["person_email"].nunique()
    alone = pd.Series([holders[(s, e, d)] == 1 for s, e, d in zip(held["system"], held["ent"], held["dept"])],
                      index=held.index)
    unique = held[alone & (held["granted_at"].isna() | (held["granted_at"] < pd.Timestamp("2026-06-30", tz="UTC")))]
    mover = unique["person_email"].iloc[0]
    hr_path = base / "data" / "demo" / "2026-Q3" / "hr" / "workday_workers.csv"
    roster = pd.read_csv(hr_path, dtype=str, keep_default_na=False)
    roster.loc[roster["Email - Work"].str.casefold() == mover, "Supervisory Organization"] = "Internal Audit"
    roster.to_csv(hr_path.with_name("workday_workers_2026-06-30.csv"), index=False)
    period_file = base / "parameters" / DEMO_PARAMETER_FILE
    period = yaml.safe_load(period_file.read_text())
    period["sources"].append({"id": "hr_prior", "kind": "workday_workers",
                              "path": "../data/demo/2026-Q3/hr/workday_workers_2026-06-30.csv",
                              "source_system": "Workday (All Workers report)", "extracted_at": "2026-06-30T06:00:00Z"})
    next(c for c in period["controls"] if c["id"] == "SOD-CTL-01")["sources"]["hr_prior"] = "hr_prior"
    period_file.write_text(yaml.safe_dump(period, sort_keys=False))
    context = prepare_run(period_file, base / "outputs")
    test = run_family(context.run_dir, "SOD-CTL-01")
    hits = test.hits[test.hits["rule"] == "mover_retained_access"]
    expected = {f"{r.system}|{r.login}|{r.entitlement}" for r in unique[unique["person_email"] == mover].itertuples()}
    assert set(hits["subject"]) == {mover} and set(hits["detail_key"]) == expected
    assert "department Internal Audit -> " in hits["description"].iloc[0]
    assert test.analytics_summary().set_index("rule")["exceptions"]["mover_retained_access"] == len(expected)
    assert "2026-06-30" in test.mover_text()
    others = test.hits[test.hits["rule"] != "mover_retained_access"]
    assert others.reset_index(drop=True).equals(plain.hits.reset_index(drop=True)), "the other rules are unchanged"


# --- exactness at other sizes and seeds -----------------------------------------------------------

@pytest.mark.parametrize("employees, seed", [(100, 11), (240, 3)])
def test_families_find_exactly_the_ground_truth_at_other_sizes(tmp_path, employees, seed):
    base = make_demo_project(tmp_path)
    demo.generate_demo_company(base / "data" / "demo" / "2026-Q3", employees, seed)      # replaces the default company
    context = prepare_run(base / "parameters" / DEMO_PARAMETER_FILE, base / "outputs")
    truth = pd.read_csv(base / "data" / "demo" / "2026-Q3" / "ground_truth.csv", dtype=str, keep_default_na=False)
    for control_id, (_, family) in FAMILIES.items():
        register = run_family(context.run_dir, control_id).register()
        assert set(zip(register["rule"], register["subject"], register["system"])) == planted(truth, family), control_id


# --- settings -------------------------------------------------------------------------------------

@pytest.mark.parametrize("procedure, settings, problem", [
    ("provisioning", {"min_approval_lead": 5}, "min_approval_lead: is not a known setting"),
    ("termination", {"sla_business_days": -1}, "sla_business_days"),
    ("privileged_access", {"review_snapshot_date": "not a date"}, "review_snapshot_date"),
    ("segregation_of_duties", {"attribute_rules": [{"rule_id": "A", "description": "d", "systems": ["erp"],
                                                    "entitlements": ["x"], "allowed": []}]}, "allowed"),
    ("segregation_of_duties", {"attribute_rules": [{"rule_id": "A", "description": "d", "systems": ["erp"],
                                                    "entitlements": ["x"], "allowed": ["IT"],
                                                    "attribute": "salary"}]}, "attribute"),
    ("authentication", {"dormant_days": 0}, "dormant_days"),
])
def test_settings_are_validated_before_the_run(procedure, settings, problem):
    problems = procedures.settings_problems(procedure, settings, "controls[1]")
    assert problems and any(problem in p for p in problems), problems


def test_settings_defaults_are_the_auditors_defaults():
    assert procedures.settings_model("termination")().sla_business_days == 1
    auth = procedures.settings_model("authentication")()
    assert (auth.dormant_days, auth.new_account_grace_days, auth.max_access_key_age_days) == (90, 90, 90)
    assert auth.max_password_age_days is None and auth.unused_access_key_grace_days is None


# --- the SoD mitigation register reader -----------------------------------------------------------

HEADER = "mitigation_id,rule_id,login,mitigating_control,approved_by,valid_from,valid_to\n"


def write(tmp_path, body: str):
    path = tmp_path / "policy" / "sod_mitigations.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_mitigation_register_reads_into_its_canonical_table(tmp_path):
    path = write(tmp_path, "MIT-1,SOD-03,LThompson,Monthly review,CFO@Corp.example,2026-01-01,2026-12-31\n"
                           "MIT-2,SOD-02,jane@corp.example,\"Weekly review, signed\",cfo@corp.example,2026-01-01,\n")
    population = populations.load_source("sod_mitigations", path, extracted_at="2026-10-01T06:00:00+00:00")
    frame = population.frame
    assert frame["login"].tolist() == ["lthompson", "jane@corp.example"]
    assert frame["login_original"].tolist()[0] == "LThompson" and frame["approved_by"].tolist()[0] == "cfo@corp.example"
    assert frame["valid_to"].isna().tolist() == [False, True], "an empty valid_to is open-ended"
    assert frame["line"].tolist() == [2, 3] and population.evidence.key_unique
    assert dict(population.evidence.as_rows())["Count by rule"] == "SOD-02: 1; SOD-03: 1"


@pytest.mark.parametrize("body, column, line", [
    ("MIT-1,SOD-03,LT,review,cfo@x.example,2026-12-31,2026-01-01\n", "valid_to", 2),     # ends before it starts
    ("MIT-1,SOD-03,LT,review,cfo@x.example,01/01/2026,\n", "valid_from", 2),            # not ISO
    ("MIT-1,SOD-03,LT,review,cfo@x.example,2026-01-01,\nMIT-2,SOD-03,,r,cfo@x.example,2026-01-01,\n", "login", 3),
])
def test_mitigation_register_errors_name_the_line_and_column(tmp_path, body, column, line):
    with pytest.raises(populations.PopulationError) as caught:
        populations.load_source("sod_mitigations", write(tmp_path, body))
    assert caught.value.column == column and caught.value.row == line


def test_mitigation_register_is_a_known_export_kind_with_a_column_contract(tmp_path):
    assert "sod_mitigations" in populations.READERS
    path = tmp_path / "m.csv"
    path.write_text("mitigation_id,rule_id,login\nM1,R1,x\n", encoding="utf-8")
    with pytest.raises(populations.PopulationError, match="missing required column"):
        populations.load_source("sod_mitigations", path)
