"""The whole demo period through `workbench run`: six control families, every planted exception
found, nothing reported on a clean subject, one register with stable ids across re-runs.

The period runs through the command line on a copy of the project layout with freshly generated
demo data (as tests/test_end_to_end.py does). A second run of the same period (a new run folder,
inputs frozen again) executes every control in-process, without kernels or HTML, and must give the
same register: the ids come from the same code either way. pytest-xdist keeps this file on one
worker.
"""

from __future__ import annotations

import json
import re
from importlib import import_module
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from conftest import make_demo_project
from workbench import cli, exceptions, procedures
from workbench.parameters import load_period
from workbench.procedures.base import ControlTest
from workbench.runner import DEMO_PARAMETER_FILE, latest_run, prepare_run

pytestmark = pytest.mark.e2e
REGISTER_COLUMNS = {"exception_id", "control_id", "rule", "subject", "framework", "description", "evidence_reference",
                    "severity"}


def run_period(project: Path, out: Path) -> Path:
    code = cli.main(["run", str(project / "parameters" / DEMO_PARAMETER_FILE), "--out", str(out), "--jobs", "2"])
    assert code == 0
    return latest_run(out / "2026-Q3")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_demo_project(tmp_path_factory.mktemp("period"))


@pytest.fixture(scope="module")
def run(project) -> Path:
    return run_period(project, project / "outputs")


@pytest.fixture(scope="module")
def second_register(project, run, params) -> pd.DataFrame:
    """The register of a second run of the period: a new run folder, every control executed in-process."""
    context = prepare_run(project / "parameters" / DEMO_PARAMETER_FILE, project / "outputs-again")
    assert context.run_dir != run
    registers = []
    for control in params.controls:
        test_class = next(c for c in vars(import_module(f"workbench.procedures.{control.procedure}")).values()
                          if isinstance(c, type) and issubclass(c, ControlTest) and c is not ControlTest)
        test = test_class.open(str(context.run_dir), control.id)
        test.load_sources()
        test.run_analytics()
        test.select_sample()
        registers.append(test.register())
    return exceptions.combine_registers(registers)


@pytest.fixture(scope="module")
def truth(project) -> pd.DataFrame:
    return pd.read_csv(project / "data" / "demo" / "2026-Q3" / "ground_truth.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def register(run) -> pd.DataFrame:
    return pd.read_csv(run / "exceptions.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def params(project):
    return load_period(project / "parameters" / DEMO_PARAMETER_FILE)


def test_the_period_runs_all_six_families_to_completion(run, params):
    assert {c.procedure for c in params.controls} == set(procedures.PROCEDURES)
    assert len(params.controls) == 8
    manifest = json.loads((run / "manifest.json").read_text())
    statuses = {c["control_id"]: c["status"] for c in manifest["controls"]}
    assert statuses == {c.id: "completed" for c in params.controls}
    for control in params.controls:
        notebook = nbformat.read(run / control.id / "workpaper.ipynb", as_version=4)
        assert notebook.metadata["workbench"]["status"] == "completed", control.id
        assert (run / control.id / "sample.csv").is_file() and (run / control.id / "result.json").is_file()


def test_every_control_maps_to_its_soc2_criteria_and_sox_objective(params):
    criteria = {c.procedure: set(c.frameworks.soc2) for c in params.controls}
    assert criteria == {"user_access_review": {"CC6.2", "CC6.3"}, "provisioning": {"CC6.2", "CC6.3"},
                        "termination": {"CC6.2"}, "privileged_access": {"CC6.1", "CC6.3"},
                        "segregation_of_duties": {"CC6.3"}, "authentication": {"CC6.1"},
                        "change_management": {"CC8.1"}, "operations": {"CC7.2", "CC7.3", "CC7.4", "CC7.5", "A1.2"}}
    domains = {c.procedure: c.frameworks.sox.itgc_domain for c in params.controls}
    assert domains.pop("change_management") == "program_change" and domains.pop("operations") == "computer_operations"
    assert set(domains.values()) == {"access_to_programs_and_data"}


def test_every_planted_exception_is_in_the_register(register, truth):
    found = set(zip(register["rule"], register["subject"]))
    missing = [(r, s) for r, s in zip(truth["rule"], truth["subject"]) if (r, s) not in found]
    assert not missing, f"planted exceptions not reported: {missing}"
    assert set(truth["control_family"]) == {"termination", "user_access_review", "segregation_of_duties",
                                            "authentication", "provisioning", "privileged_access"}


def test_nothing_is_reported_on_a_clean_subject(register, truth):
    register = register[~register["control_id"].isin(["CHG-01", "OPS-01"])]  # their own answer keys, below
    clean_hits = register[~register["subject"].isin(set(truth["subject"]))]
    assert clean_hits.empty, f"exceptions on subjects with nothing planted:\n{clean_hits[['control_id', 'rule', 'subject']]}"


def test_each_planted_exception_is_reported_by_its_family(register, truth, params):
    control_of = {c.procedure: c.id for c in params.controls}
    by_control = set(zip(register["control_id"], register["rule"], register["subject"], register["system"]))
    for row in truth.itertuples():
        assert (control_of[row.control_family], row.rule, row.subject, row.system) in by_control, row


def test_the_register_has_every_column_and_frameworks_follow_the_system(register):
    assert REGISTER_COLUMNS <= set(register.columns)
    assert (register[list(REGISTER_COLUMNS)] != "").all().all(), "no empty cell in the register's key columns"
    assert register["exception_id"].is_unique
    assert set(register["severity"]) <= {"high", "medium", "low"}
    assert register["evidence_reference"].str.contains(r"\.(?:csv|json)").all()
    erp = register["system"] == "ledgerline_erp"
    assert set(register.loc[erp, "framework"]) == {"SOX"} and set(register.loc[~erp, "framework"]) == {"SOC 2"}
    assert register["exception_id"].str.fullmatch(r"EX-[A-Z0-9]+-[0-9A-F]{10}").all()


def test_exception_ids_are_stable_across_runs(register, second_register):
    assert sorted(register["exception_id"]) == sorted(second_register["exception_id"])
    columns = ["exception_id", "control_id", "rule", "subject", "system", "framework", "description",
               "evidence_reference", "severity"]
    first = register[columns].sort_values("exception_id", ignore_index=True)
    again = second_register[columns].astype(str).sort_values("exception_id", ignore_index=True)
    pd.testing.assert_frame_equal(first, again)


def test_each_workpaper_shows_analytics_sample_results_and_one_conclusion_per_framework(run, params):
    for control in params.controls:
        page = (run / control.id / "workpaper.html").read_text(encoding="utf-8")
        for text in ("Population: completeness and accuracy", "SHA-256", "Full-population analytics",
                     "Exceptions by analytic", "Sample size rationale", "Seed", "Results per sample item",
                     "Tickmark legend", "Evaluation of the statistical sample"):
            assert text in page, f"{control.id}: workpaper lacks '{text}'"
        heads = re.findall(r'<div class="wp-conclusion"><h4>([^<:]+):', page)
        assert sorted(heads) == ["SOC 2", "SOX"], f"{control.id}: one conclusion per mapped framework, got {heads}"
        assert "Test.open" not in page and "import " not in page, f"{control.id}: code must be hidden"


def test_the_index_lists_every_control(run, params):
    page = (run / "index.html").read_text(encoding="utf-8")
    for control in params.controls:
        assert f'href="{control.id}/workpaper.html"' in page


def test_every_planted_change_exception_is_found_and_nothing_else(register, project, run):
    """Program change (CHG-01): the register is exactly the change answer key the generator wrote
    (changes/change_ground_truth.csv), and the workpaper concludes in each framework's words."""
    key = pd.read_csv(project / "data" / "demo" / "2026-Q3" / "changes" / "change_ground_truth.csv", dtype=str)
    found = register[register["control_id"] == "CHG-01"]
    assert sorted(zip(found["rule"], found["subject"], found["system"])) == \
        sorted(zip(key["rule"], key["subject"], key["system"]))
    result = json.loads((run / "CHG-01" / "result.json").read_text())
    assert sorted(result["conclusions"]) == ["SOC 2: Exception noted (6)", "SOX: Deficiency identified"]
    workpaper = (run / "CHG-01" / "workpaper.html").read_text(encoding="utf-8")
    assert "SOC 2 CC8.1: Exception noted: full-population analytics identified" in workpaper
    assert "SOX ITGC program change: control deficiency identified in financially significant applications" in workpaper


def test_every_planted_operations_exception_is_found_and_nothing_else(register, project, run):
    """Computer operations (OPS-01): the register is exactly the operations answer key
    (operations/operations_ground_truth.csv), and each framework concludes in its own words."""
    key = pd.read_csv(project / "data" / "demo" / "2026-Q3" / "operations" / "operations_ground_truth.csv", dtype=str)
    found = register[register["control_id"] == "OPS-01"]
    assert sorted(zip(found["rule"], found["subject"], found["system"])) == \
        sorted(zip(key["rule"], key["subject"], key["system"]))
    result = json.loads((run / "OPS-01" / "result.json").read_text())
    assert sorted(result["conclusions"]) == ["SOC 2: Exception noted (2)", "SOX: Deficiency identified"]
    workpaper = (run / "OPS-01" / "workpaper.html").read_text(encoding="utf-8")
    assert "SOC 2 CC7.2, CC7.3, CC7.4, CC7.5, A1.2: Exception noted: full-population analytics identified" in workpaper
    assert "SOX ITGC computer operations: control deficiency identified in financially significant applications" \
        in workpaper
