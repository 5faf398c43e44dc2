"""Each control workpaper words its SOC 2 exceptions and keeps management's response in its own section.

Runs are prepared in-process on the demo company (no Jupyter); the auditors' records go where an
auditor puts them, beside the period's parameter file, and are frozen into the run by ``prepare_run``.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from conftest import ROOT, make_demo_project
from workbench import procedures
from workbench.exceptions import RemediationRecord, Retest, write_remediation
from workbench.procedures.authentication import AuthenticationTest
from workbench.procedures.wording import MANAGEMENT_RESPONSE_COLUMNS, NO_RESPONSE
from workbench.rollforward import remediation_file_for
from workbench.runner import DEMO_PARAMETER_FILE, prepare_run

CONTROL = "AUTH-01"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The demo project and the SOC 2 rows of AUTH-01's register in a run without records."""
    base = make_demo_project(tmp_path_factory.mktemp("mgmt"))
    parameter_file = base / "parameters" / DEMO_PARAMETER_FILE
    register = AuthenticationTest.open(str(prepare_run(parameter_file, base / "outputs").run_dir), CONTROL).register()
    soc2 = register[register["framework"].str.contains("SOC 2", regex=False)]
    assert len(soc2) >= 2, "the demo's AUTH-01 needs two SOC 2 exceptions for these tests"
    return base, parameter_file, soc2


def _run_with_records(base, parameter_file, records) -> AuthenticationTest:
    """A run whose frozen records are exactly ``records`` (the project's own file is put back after)."""
    records_file = remediation_file_for(parameter_file)
    kept = records_file.read_bytes() if records_file.is_file() else None
    write_remediation(records, records_file)
    try:
        context = prepare_run(parameter_file, base / "outputs")
    finally:
        records_file.write_bytes(kept) if kept is not None else records_file.unlink()
    return AuthenticationTest.open(str(context.run_dir), CONTROL)


def test_a_recorded_response_shows_against_its_exception_and_the_others_say_not_yet_recorded(project):
    base, parameter_file, soc2 = project
    answered = soc2["exception_id"].iloc[0]
    test = _run_with_records(base, parameter_file, {answered: RemediationRecord(
        status="open", owner="Nora Garcia", remediation_action="Disable the account and review dormancy weekly",
        due_date=dt.date(2026, 11, 30), management_response="Management agrees; <b>dormancy</b> job fixed.")})

    table = test.management_responses().set_index("exception id")

    assert list(table.reset_index().columns) == MANAGEMENT_RESPONSE_COLUMNS
    assert set(table.index) == set(soc2["exception_id"])
    assert table.loc[answered, "management's response"] == "Management agrees; <b>dormancy</b> job fixed."
    assert table.loc[answered, "owner"] == "Nora Garcia"
    assert table.loc[answered, "due date"] == "2026-11-30"
    others = table.drop(index=answered)
    assert (others["management's response"] == NO_RESPONSE).all()
    assert set(table["SOC 2 criteria"]) == {", ".join(test.control.frameworks.soc2)}
    description = soc2.set_index("exception_id").loc[answered, "description"]
    assert table.loc[answered, "exception noted"].startswith("Exception noted: " + description.rstrip("."))
    markup = "".join(block.markup for block in test.management_response_section())
    assert "Management agrees; &lt;b&gt;dormancy&lt;/b&gt; job fixed." in markup and "<b>dormancy" not in markup


def test_a_record_carried_from_an_earlier_period_matches_by_finding_key(project):
    base, parameter_file, soc2 = project
    finding = soc2.iloc[-1]
    prior_id = "EX-AUTH01-PRIOR00001"
    test = _run_with_records(base, parameter_file, {prior_id: RemediationRecord(
        status="remediated", finding_key=finding["finding_key"], control_id=CONTROL, rule=finding["rule"],
        subject=finding["subject"], management_response="Carried: management re-enforced MFA at the IdP.",
        retest=Retest(period="2026-Q3", sample_size=1, basis="full-population rerun"))})

    table = test.management_responses().set_index("exception id")

    assert prior_id not in table.index, "the carried record answers this period's exception, not a row of its own"
    row = table.loc[finding["exception_id"]]
    assert row["management's response"] == "Carried: management re-enforced MFA at the IdP."
    assert row["status"] == "retested-fail", "the finding recurred, so the remediated record's retest failed"
    assert (table.drop(index=finding["exception_id"])["management's response"] == NO_RESPONSE).all()


def test_a_control_without_soc2_scope_has_an_empty_table_and_says_so(project, tmp_path):
    base, parameter_file, _ = project
    document = yaml.safe_load(parameter_file.read_text(encoding="utf-8"))
    control = next(c for c in document["controls"] if c["id"] == CONTROL)
    control["frameworks"]["soc2"] = []
    sox_only = parameter_file.with_name("sox-only.yaml")
    sox_only.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    test = AuthenticationTest.open(str(prepare_run(sox_only, base / "outputs").run_dir), CONTROL)

    table = test.management_responses()

    assert table.empty and list(table.columns) == MANAGEMENT_RESPONSE_COLUMNS
    assert len(test.register()) > 0, "the control still has (SOX) exceptions, none of them SOC 2"
    [block] = test.management_response_section()
    assert "not mapped to SOC 2" in block.markup

    outside = [s for s in test.control.systems if not test.params.system(s).soc2_in_boundary]
    assert outside, "the demo needs a system outside the SOC 2 boundary"
    mapped = AuthenticationTest(test.context, test.control.model_copy(update={
        "frameworks": test.control.frameworks.model_copy(update={"soc2": ["CC6.1"]}), "systems": outside}),
        test.settings)
    assert "inside the SOC 2 system boundary" in mapped.soc2_scope_notice()
    assert mapped.management_responses().empty


@pytest.mark.parametrize("name", sorted(procedures.PROCEDURES))
def test_each_procedure_notebook_has_the_section_before_the_conclusion(name):
    cells = json.loads((ROOT / "src" / "workbench" / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))["cells"]
    headings = [c["source"][0].strip() for c in cells if c["cell_type"] == "markdown" and c["source"][0].startswith("## ")]
    assert headings[-5:] == ["## 6. Exceptions", "## 7. SOC 2 exceptions and management's response",
                             "## 8. Evaluation and conclusion", "## 9. Changes since the prior period",
                             "## Appendix: how each export was read"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert any("test.management_response_section()" in s for s in sources)
