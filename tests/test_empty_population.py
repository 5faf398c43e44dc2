"""Empty populations conclude: a control with nothing in the period (no leavers, no new grants)
or with an empty framework stratum (no SOX-scope grants, but SOC 2 ones) says so per framework
in the auditors' words, draws no sample, tests nothing, and is a completed workpaper that verifies.

The periods are the demo company with its exports edited: HR leavers of the period made active
workers again (and the planted orphan accounts dropped, so no analytic hits), and grant dates
moved out of the period.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import make_demo_project
from workbench import cli, lineage, procedures
from workbench import workpapers as wp
from workbench.parameters import load_period
from workbench.procedures.base import ControlTest
from workbench.procedures.provisioning import ProvisioningTest
from workbench.procedures.termination import TerminationTest
from workbench.runner import DEMO_PARAMETER_FILE, latest_run, prepare_run

SOC2_DID_NOT_OPERATE = "The control did not operate during the period"
SOC2_CIRCUMSTANCES = "the circumstances that warrant the operation of the control did not occur during the period"
SOX_NOT_TESTED = "Not tested: no instances of the control's operation in the period (the population is complete and empty"


def _months_out_of_period(path: Path, column: str) -> None:
    """Move every date of ``column`` in July-September 2026 to a month before the period."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for month, earlier in (("07", "05"), ("08", "03"), ("09", "04")):
        frame[column] = frame[column].str.replace(rf"^2026-{month}-", f"2026-{earlier}-", regex=True)
    frame.to_csv(path, index=False)


def no_leavers(data: Path) -> None:
    """Nobody leaves in the period: its leavers stay active workers; the planted orphans are gone."""
    path = data / "hr" / "workday_workers.csv"
    hr = pd.read_csv(path, dtype=str, keep_default_na=False)
    in_period = hr["Termination Date"].between("2026-07-01", "2026-09-30")
    hr.loc[in_period, ["Termination Date", "Last Day of Work", "Primary Reason", "Eligible for Rehire"]] = ""
    hr.loc[in_period, "Worker Status"] = "Active"
    hr.to_csv(path, index=False)
    for listing in (data / "apps").glob("*.csv"):
        lines = listing.read_text(encoding="utf-8").splitlines(keepends=True)
        listing.write_text("".join(line for line in lines if not any(
            orphan in line.lower() for orphan in ("pixelharbor-dev", "tempfin01"))), encoding="utf-8")


def no_grants(data: Path, erp_only: bool = False) -> None:
    """No ERP role granted in the period; with ``erp_only`` False, no IdP assignment either."""
    _months_out_of_period(data / "apps" / "ledgerline_erp_user_roles.csv", "ROLE_ASSIGNED_DATE")
    if not erp_only:
        _months_out_of_period(data / "idp" / "okta_app_assignments.csv", "Assigned on")


@pytest.fixture(scope="module")
def empty_project(tmp_path_factory) -> Path:
    base = make_demo_project(tmp_path_factory.mktemp("empty"))
    data = base / "data" / "demo" / "2026-Q3"
    no_leavers(data)
    no_grants(data)
    return base


def run_steps(test: ControlTest) -> list[str]:
    """The notebook's steps in order, in-process; returns the HTML each step displays."""
    html = [str(test.objective())]
    test.load_sources()
    html += [str(block) for block in test.population_evidence()]
    html += [str(wp.table(test.analytics_summary())), str(wp.table(test.hits_table())),
             str(wp.table(test.plan_sample(), "Sample size rationale"))]
    test.select_sample()
    html += [str(wp.key_values(test.selection_method(), "Selection")),
             str(wp.table(test.attribute_results(), "Results per sample item")),
             str(wp.table(test.register_table()))]
    html += [str(block) for block in test.management_response_section()]
    html.append(str(wp.table(test.evaluate(), "Evaluation of the statistical sample")))
    html += [str(block) for block in test.conclusion_blocks()]
    test.record()
    return html


@pytest.fixture(scope="module")
def empty_run(empty_project) -> Path:
    return prepare_run(empty_project / "parameters" / DEMO_PARAMETER_FILE, empty_project / "outputs-inprocess").run_dir


@pytest.mark.parametrize(("test_class", "control_id", "occasion"), [
    (TerminationTest, "TERM-01", "no leaver accounts in the population for the period (no terminations)"),
    (ProvisioningTest, "PROV-01", "no new grants in the population for the period (no access granted)"),
])
def test_an_empty_population_concludes_that_the_control_did_not_operate(empty_run, test_class, control_id, occasion):
    test = test_class.open(str(empty_run), control_id)
    html = "\n".join(run_steps(test))
    assert test.population().empty and test.did_not_operate() == ("SOX", "SOC 2")
    # No sample: size 0 with a plain statement; no selection; an empty attributes table that says why.
    plan = test.plan_sample()
    assert list(plan["sample size"]) == [0, 0] and plan["rationale"].str.startswith("No sample is drawn").all()
    assert test.sample.empty and test.selection is None
    assert "No attribute was tested" in html and "No selection" in html
    evaluation = test.evaluate()
    assert list(evaluation["items tested"]) == [0, 0]
    assert evaluation["supports reliance"].str.contains("nothing was tested").all()
    # Completeness evidence: the sources read and their rows, and zero items in the period.
    assert "Rows" in html and "in the period: 0 (SOX: 0; SOC 2: 0)" in html
    conclusions = {fw: (headline, " ".join(body), effective) for fw, headline, body, effective in test.conclusions()}
    soc2, sox = conclusions["SOC 2"], conclusions["SOX"]
    assert soc2[0] == "Control did not operate" and sox[0] == "Not tested (did not operate)"
    assert SOC2_DID_NOT_OPERATE in soc2[1] and SOC2_CIRCUMSTANCES in soc2[1] and occasion in soc2[1]
    assert "No tests of operating effectiveness were performed" in soc2[1]
    assert "No exceptions noted" not in soc2[1] and "No exceptions noted" not in html
    assert SOX_NOT_TESTED in sox[1] and "operated effectively" not in sox[1]
    assert soc2[2] is None and sox[2] is None
    result = json.loads((test.context.control_dir(control_id) / "result.json").read_text())
    assert result["conclusions"] == ["SOC 2: Control did not operate", "SOX: Not tested (did not operate)"]
    assert result["effective"] == {"SOC 2": None, "SOX": None}
    assert set(result["did_not_operate"]) == {"SOC 2", "SOX"}
    assert result["sample"]["statistical"] == 0 and result["sample"]["selection_record"] is None
    assert lineage.rederive_sample(test.context.control_dir(control_id)) is None


def test_an_empty_framework_stratum_does_not_operate_while_the_other_is_tested(tmp_path):
    base = make_demo_project(tmp_path)
    no_grants(base / "data" / "demo" / "2026-Q3", erp_only=True)  # SOC 2 grants (AWS, GitHub) remain
    context = prepare_run(base / "parameters" / DEMO_PARAMETER_FILE, base / "outputs")
    test = ProvisioningTest.open(str(context.run_dir), "PROV-01")
    run_steps(test)
    assert test.did_not_operate() == ("SOX",) and test.stratum_size("SOC 2") > 0
    plan = test.plan_sample().set_index("scope stratum")
    assert plan.loc["SOX", "sample size"] == 0 and plan.loc["SOC 2", "sample size"] > 0
    evaluation = test.evaluate().set_index("framework")
    assert evaluation.loc["SOX", "items tested"] == 0 and evaluation.loc["SOC 2", "items tested"] > 0
    conclusions = {fw: (headline, " ".join(body), effective) for fw, headline, body, effective in test.conclusions()}
    assert conclusions["SOX"][0] == "Not tested (did not operate)" and conclusions["SOX"][2] is None
    assert "no new grants in SOX scope in the population for the period" in conclusions["SOX"][1]
    assert conclusions["SOC 2"][0] == "No exceptions noted" and conclusions["SOC 2"][2] is True
    result = json.loads((context.control_dir("PROV-01") / "result.json").read_text())
    assert list(result["did_not_operate"]) == ["SOX"] and result["effective"] == {"SOC 2": True, "SOX": None}
    assert lineage.rederive_sample(context.control_dir("PROV-01")) is None


@pytest.mark.parametrize("procedure", procedures.PROCEDURES)
def test_every_family_concludes_on_an_empty_sampling_frame(empty_run, procedure):
    """Each family's columns survive an empty frame: no sample, nothing tested, a recorded result."""
    control = next(c for c in load_period(empty_run / "parameters.yaml").controls if c.procedure == procedure)
    family = procedures.procedure_class(procedure)
    emptied = type("Emptied", (family,), {"population": lambda self: family.population(self).iloc[0:0]})
    test = emptied.open(str(empty_run), control.id)
    run_steps(test)
    assert test.sample.empty and set(test.did_not_operate()) == set(test.mapped_frameworks())
    assert test.evaluate()["items tested"].eq(0).all()
    for _, headline, body, effective in test.conclusions():
        if effective is None:  # no exception in its scope: the control did not operate
            assert headline in ("Control did not operate", "Not tested (did not operate)")
        else:  # analytics exceptions outside the (empty) frame still stand, with no sample drawn
            assert effective is False and "no sample drawn" in " ".join(body)


def test_sample_of_an_empty_population_must_stay_empty_to_verify(empty_run):
    test = TerminationTest.open(str(empty_run), "TERM-01")
    run_steps(test)
    out = test.context.control_dir("TERM-01")
    sample = out / "sample.csv"
    sample.write_text(sample.read_text() + "1,statistical,SOX,x|y,abc" + "," * 12 + "\n")
    assert "holds no item" in (lineage.rederive_sample(out) or "")


@pytest.mark.e2e
def test_a_period_with_empty_populations_completes_end_to_end_and_verifies(empty_project, capsys):
    out = empty_project / "outputs"
    code = cli.main(["run", str(empty_project / "parameters" / DEMO_PARAMETER_FILE), "--out", str(out),
                     "--only", "TERM-01", "PROV-01"])
    assert code == 0
    run = latest_run(out / "2026-Q3")
    manifest = json.loads((run / "manifest.json").read_text())
    controls = {c["control_id"]: c for c in manifest["controls"]}
    for control_id in ("TERM-01", "PROV-01"):
        assert controls[control_id]["status"] == "completed"
        assert controls[control_id]["conclusions"] == ["SOC 2: Control did not operate",
                                                       "SOX: Not tested (did not operate)"]
        workpaper = (run / control_id / "workpaper.html").read_text(encoding="utf-8")
        assert SOC2_DID_NOT_OPERATE in workpaper and SOX_NOT_TESTED.replace("'", "&#x27;") in workpaper
        assert "This workpaper is incomplete" not in workpaper
    index = (run / "index.html").read_text(encoding="utf-8")
    assert "SOC 2: Control did not operate" in index and "SOX: Not tested (did not operate)" in index
    capsys.readouterr()
    assert cli.main(["verify", str(run)]) == 0
    assert "TERM-01" in capsys.readouterr().out
