"""Issue 16, items 4 and 5: SoD in permissions and across systems, role-design conflicts, and the
role baseline, on the small company of tests/data/sod_permissions (its README says what is planted).

The control runs in-process on a copy of the folder; each planted outcome is asserted both ways
(found / not found) with its evidence references (file and line of the grant and of the
role-to-permission row).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT
from workbench import procedures, sod
from workbench.runner import prepare_run

FIXTURE = ROOT / "tests" / "data" / "sod_permissions"
CONTROL = "SOD-PERM-01"


def run(folder: Path, period: str = "period.yaml"):
    context = prepare_run(folder / period, folder / "outputs")
    test = procedures.procedure_class("segregation_of_duties").open(str(context.run_dir), CONTROL)
    test.load_sources()
    test.run_analytics()
    return test


def copy_fixture(tmp: Path) -> Path:
    for item in FIXTURE.iterdir():
        shutil.copy(item, tmp / item.name)
    return tmp


@pytest.fixture(scope="module")
def test_run(tmp_path_factory):
    return run(copy_fixture(tmp_path_factory.mktemp("sodperm")))


def hit(test, rule: str, detail_key: str) -> pd.Series | None:
    hits = test.hits
    found = hits[(hits["rule"] == rule) & (hits["detail_key"] == detail_key)]
    assert len(found) <= 1
    return None if found.empty else found.iloc[0]


# -- permission-level user conflicts ------------------------------------------------------------


def test_a_conflict_through_two_roles_is_found_with_the_grant_and_role_rows(test_run):
    priya = hit(test_run, "sod_conflict", "sap_s4_prd|priya.raman|P-01")
    assert priya is not None and priya["subject"] == "priya.raman@harrow.example"
    assert "Z_FI_AP_INVOICE→FB60 + Z_FI_AP_INVOICE→MIRO (Enter AP invoices)" in priya["description"]
    assert "Z_FI_AP_PAYMENT_RUN→F110 (Run payments)" in priya["description"]
    assert priya["evidence_reference"] == (
        "sap_agr_users.csv line 2 (PRIYA.RAMAN holds Z_FI_AP_INVOICE); AGR_1251.txt line 8 (Z_FI_AP_INVOICE grants "
        "FB60); AGR_1251.txt line 9 (Z_FI_AP_INVOICE grants MIRO); sap_agr_users.csv line 3 (PRIYA.RAMAN holds "
        "Z_FI_AP_PAYMENT_RUN); AGR_1251.txt line 10 (Z_FI_AP_PAYMENT_RUN grants F110)")


def test_one_side_only_is_no_conflict(test_run):
    assert not any("tomas.wisniewski" in k for k in test_run.hits["detail_key"])
    assert "tomas.wisniewski" not in set(test_run.conflicts["login"])


def test_without_role_permissions_a_permission_rule_sees_direct_holdings_only(tmp_path):
    folder = copy_fixture(tmp_path)
    data = yaml.safe_load((folder / "period.yaml").read_text(encoding="utf-8"))
    data["controls"][0]["sources"].pop("role_permissions")
    (folder / "without.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    test = run(folder, "without.yaml")
    # nobody holds FB60, F110, ME21N or BP under that name: without the role contents no conflict is seen
    assert not set(test.hits["rule"]) & {"sod_conflict", "sod_role_design_conflict"}
    rows = test.reconciliation()
    assert str(rows[rows["check"] == "Role-to-permission rows read"].iloc[0, 1]) == "0"
    assert "sod_role_design_conflict" not in test.rules_run()


# -- mitigations --------------------------------------------------------------------------------


def test_a_mitigated_user_conflict_is_not_reported(test_run):
    assert hit(test_run, "sod_conflict", "sap_s4_prd|sam.almeida|P-01") is None
    sam = test_run.conflicts[test_run.conflicts["login"] == "sam.almeida"].iloc[0]
    assert (sam["mitigation_id"], sam["mitigation_status"]) == ("M-1", "valid")


def test_a_role_mitigation_covers_the_role_and_users_holding_the_conflict_only_through_it(test_run):
    assert hit(test_run, "sod_role_design_conflict", "sap_s4_prd|role:z_mm_po_full|P-02") is None
    assert hit(test_run, "sod_conflict", "sap_s4_prd|olivia.grant|P-02") is None
    olivia = test_run.conflicts[test_run.conflicts["login"] == "olivia.grant"].iloc[0]
    assert (olivia["mitigation_id"], olivia["mitigation_status"]) == ("M-2", "valid")


def test_an_expired_role_mitigation_does_not_mitigate(tmp_path):
    folder = copy_fixture(tmp_path)
    text = (folder / "mitigations.csv").read_text(encoding="utf-8")
    (folder / "mitigations.csv").write_text(text.replace("2026-01-01,\n", "2026-01-01,2026-06-30\n"), encoding="utf-8")
    test = run(folder)
    role = hit(test, "sod_role_design_conflict", "sap_s4_prd|role:z_mm_po_full|P-02")
    assert role is not None and "Mitigation M-2 is expired" in role["description"]
    assert role["evidence_reference"] == "AGR_1251.txt lines 14, 15; mitigations.csv line 3"
    assert hit(test, "sod_conflict", "sap_s4_prd|olivia.grant|P-02") is not None


# -- role-design conflicts ----------------------------------------------------------------------


def test_a_role_whose_own_permissions_conflict_is_a_role_design_conflict(test_run):
    role = hit(test_run, "sod_role_design_conflict", "sap_s4_prd|role:z_fi_ap_all|P-01")
    assert role is not None and role["subject"] == "Z_FI_AP_ALL"
    assert role["evidence_reference"] == "AGR_1251.txt lines 12, 13"
    assert "itself grants FB60 (Enter AP invoices) and F110 (Run payments)" in role["description"]
    # its holder is reported too, as a user conflict
    assert hit(test_run, "sod_conflict", "sap_s4_prd|dana.lee|P-01") is not None


def test_roles_spanning_one_side_only_are_no_role_design_conflict(test_run):
    roles = set(test_run.role_design["role"])
    assert roles == {"Z_FI_AP_ALL", "Z_MM_PO_FULL"}
    assert "Z_FI_AP_INVOICE" not in roles and "Z_MM_VENDOR_MAINT" not in roles


# -- cross-system -------------------------------------------------------------------------------


def test_a_cross_system_conflict_joins_on_the_person(test_run):
    ben = hit(test_run, "sod_conflict", "sap_s4_prd|ben.carter|X-01")
    assert ben is not None and ben["subject"] == "ben.carter@harrow.example"
    assert "sap_s4_prd: Z_MM_VENDOR_MAINT→BP (Maintain vendors)" in ben["description"]
    assert "aws_prod: PaymentRelease (Release bank payments)" in ben["description"]
    assert ben["evidence_reference"] == (
        "sap_agr_users.csv line 4 (BEN.CARTER holds Z_MM_VENDOR_MAINT); AGR_1251.txt line 11 (Z_MM_VENDOR_MAINT "
        "grants BP); aws_groups.csv line 2 (ben.carter holds PaymentRelease)")


def test_one_system_side_only_is_no_cross_system_conflict(test_run):
    assert hit(test_run, "sod_conflict", "sap_s4_prd|olivia.grant|X-01") is None  # vendors, no AWS release


def test_unresolved_accounts_cannot_join_across_systems_and_are_counted(test_run):
    assert not any(k.endswith("|X-01") and ("zz_contractor" in k or "ff_temp" in k) for k in test_run.hits["detail_key"])
    loose = sod.unjoinable_accounts(test_run.held, test_run.frame("sod_rules"), test_run.role_permissions)
    assert set(zip(loose["system"], loose["login"])) == {("sap_s4_prd", "zz_contractor"), ("aws_prod", "ff_temp")}
    rows = test_run.reconciliation()
    row = rows[rows["check"].str.startswith("Accounts holding one side of a cross-system rule")]
    assert len(row) == 1 and str(row.iloc[0, 1]) == "2"


# -- the rule set -------------------------------------------------------------------------------


def test_the_rule_set_reads_its_level_and_second_system(test_run):
    rules = test_run.frame("sod_rules").set_index("rule_id")
    assert list(sod.rule_level(rules.reset_index())) == ["permission", "permission", "permission", "entitlement"]
    assert rules.loc["X-01", "system_b"] == "aws_prod" and pd.isna(rules.loc["P-01", "system_b"])
    assert list(sod.is_extended(rules.reset_index())) == [True, True, True, False]


def test_a_rule_set_without_the_new_columns_reads_as_before():
    rules = pd.DataFrame({"rule_id": ["R1"], "system": ["s"], "entitlements_a": [("A",)], "entitlements_b": [("B",)]})
    assert list(sod.rule_level(rules)) == ["entitlement"]
    assert list(sod.rule_system_b(rules)) == ["s"]
    assert not sod.is_extended(rules).any()


def test_permission_names_count_as_known_in_the_reconciliation(test_run):
    rows = test_run.reconciliation()
    row = rows[rows["check"].str.startswith("Entitlements named by a rule that no account holds")]
    assert str(row.iloc[0, 1]) == "1"  # Z_FI_GL_POST of the entitlement-level rule E-01; FB60... are known


# -- role baseline (item 5) ---------------------------------------------------------------------


def baseline_hits(test) -> dict[str, pd.Series]:
    hits = test.hits[test.hits["rule"] == "baseline_deviation"]
    return {key: row for key, row in zip(hits["detail_key"], (r for _, r in hits.iterrows()))}


def test_an_entitlement_outside_the_baseline_is_a_deviation_citing_the_baseline_rows(test_run):
    found = baseline_hits(test_run)
    priya = found["sap_s4_prd|priya.raman@harrow.example|z_fi_ap_payment_run"]
    assert priya["subject"] == "priya.raman@harrow.example"
    assert priya["evidence_reference"] == ("sap_agr_users.csv line 3 (PRIYA.RAMAN holds Z_FI_AP_PAYMENT_RUN); "
                                           "access_baseline.csv line 2")
    assert "outside the role baseline of department Finance; title AP Clerk (which gives Z_FI_AP_INVOICE)" \
        in priya["description"]
    ben = found["aws_prod|ben.carter@harrow.example|paymentrelease"]  # no baseline row for him in AWS
    assert ben["evidence_reference"].endswith("access_baseline.csv: no row for department Procurement; "
                                              "title Buyer in aws_prod")


def test_access_inside_the_baseline_is_no_deviation(test_run):
    found = baseline_hits(test_run)
    assert set(found) == {"sap_s4_prd|priya.raman@harrow.example|z_fi_ap_payment_run",
                          "sap_s4_prd|sam.almeida@harrow.example|z_fi_ap_payment_run",
                          "aws_prod|ben.carter@harrow.example|paymentrelease"}
    for person in ("tomas.wisniewski", "dana.lee", "olivia.grant"):  # title or department baseline covers all
        assert not any(person in key for key in found)
    assert not any("zz_contractor" in key or "ff_temp" in key for key in found)  # not tied to a worker
    assert "baseline_deviation" in test_run.rules_run()


def test_without_a_baseline_the_rule_does_not_run(tmp_path):
    folder = copy_fixture(tmp_path)
    data = yaml.safe_load((folder / "period.yaml").read_text(encoding="utf-8"))
    data["controls"][0]["sources"].pop("access_baseline")
    (folder / "without.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    test = run(folder, "without.yaml")
    assert "baseline_deviation" not in set(test.hits["rule"]) and "baseline_deviation" not in test.rules_run()


def test_a_system_the_baseline_is_silent_on_is_not_tested():
    held = pd.DataFrame({"system": ["erp"], "login": ["a"], "login_original": ["A"], "person_email": ["a@x"],
                         "entitlement": ["X"], "line": [2], "listing": ["l.csv"]})
    people = pd.DataFrame({"email": ["a@x"], "department": ["Finance"], "title": ["Clerk"], "cost_center": [pd.NA]})
    baseline = pd.DataFrame({"attribute": ["title"], "value": ["clerk"], "system": ["other"], "entitlement": ["Y"],
                             "line": [2]})
    assert sod.baseline_deviations(held, people, baseline, "b.csv", "l.csv").empty
    baseline["system"] = "erp"
    assert list(sod.baseline_deviations(held, people, baseline, "b.csv", "l.csv")["detail_key"]) == ["erp|a@x|x"]
    baseline["entitlement"] = "x"  # compared ignoring case
    assert sod.baseline_deviations(held, people, baseline, "b.csv", "l.csv").empty


def test_the_register_carries_every_planted_exception_and_nothing_else(tmp_path):
    test = run(copy_fixture(tmp_path))
    test.select_sample()
    test.record()
    found = sorted((f.rule, f.subject, f.system) for f in test.findings() if f.origin == "analytics")
    assert found == [
        ("baseline_deviation", "ben.carter@harrow.example", "aws_prod"),
        ("baseline_deviation", "priya.raman@harrow.example", "sap_s4_prd"),
        ("baseline_deviation", "sam.almeida@harrow.example", "sap_s4_prd"),
        ("sod_conflict", "ben.carter@harrow.example", "sap_s4_prd"),
        ("sod_conflict", "dana.lee@harrow.example", "sap_s4_prd"),
        ("sod_conflict", "priya.raman@harrow.example", "sap_s4_prd"),
        ("sod_role_design_conflict", "Z_FI_AP_ALL", "sap_s4_prd"),
    ]
