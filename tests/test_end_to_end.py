"""End to end: the demo company through `workbench run`, `workbench verify`, re-runs and failures.

One demo run is shared by the tests in this file (pytest-xdist keeps a file on one worker).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from conftest import ROOT
from workbench import cli, demo
from workbench.runner import DEMO_PARAMETER_FILE, latest_run

pytestmark = pytest.mark.e2e
UAR_RULES_PLANTED = {"self_review", "undecided_review_line", "revocation_not_executed", "rubber_stamping",
                     "approved_terminated_user"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project layout with freshly generated demo data."""
    base = tmp_path_factory.mktemp("project")
    demo.generate_demo_company(base / "data" / "demo")
    (base / "parameters").mkdir()
    shutil.copyfile(ROOT / "parameters" / DEMO_PARAMETER_FILE, base / "parameters" / DEMO_PARAMETER_FILE)
    return base


def _run(project: Path, out: Path, parameter_file: Path | None = None) -> tuple[int, Path]:
    code = cli.main(["run", str(parameter_file or project / "parameters" / DEMO_PARAMETER_FILE),
                     "--out", str(out), "--jobs", "1"])
    return code, latest_run(out / "2026-Q3")


@pytest.fixture(scope="module")
def run(project) -> Path:
    code, run_dir = _run(project, project / "outputs")
    assert code == 0
    return run_dir


def test_run_writes_every_file_of_a_run(run):
    for relative in ("index.html", "manifest.json", "exceptions.csv", "parameters.yaml",
                     "UAR-01/workpaper.ipynb", "UAR-01/workpaper.html", "UAR-01/sample.csv"):
        assert (run / relative).is_file(), relative
    assert re.fullmatch(r"\d{8}T\d{6}Z(-\d+)?", run.name)


def test_register_finds_every_planted_review_exception(run, project):
    truth = pd.read_csv(project / "data" / "demo" / "ground_truth.csv", dtype=str)
    register = pd.read_csv(run / "exceptions.csv", dtype=str)
    assert {"control_id", "rule", "subject", "description"} <= set(register.columns)
    planted = truth[truth["rule"].isin(UAR_RULES_PLANTED)]
    assert len(planted) >= 5
    found = set(zip(register["rule"], register["subject"]))
    missing = [(r, s) for r, s in zip(planted["rule"], planted["subject"]) if (r, s) not in found]
    assert not missing, f"planted exceptions not reported: {missing}"


def test_register_reports_nothing_on_clean_subjects(run, project):
    truth = pd.read_csv(project / "data" / "demo" / "ground_truth.csv", dtype=str)
    register = pd.read_csv(run / "exceptions.csv", dtype=str)
    clean_hits = register[~register["subject"].isin(set(truth["subject"]))]
    assert clean_hits.empty, f"exceptions on subjects with nothing planted:\n{clean_hits[['rule', 'subject', 'description']]}"


def test_workpaper_shows_header_population_sample_and_result(run):
    page = (run / "UAR-01" / "workpaper.html").read_text()
    for text in ("Harbor Lane Payments, Inc.", "UAR-01", "CC6.2", "access to programs and data",
                 "Population: completeness and accuracy", "SHA-256", "Sample size rationale", "Seed",
                 "Results per sample item", "Tickmark legend", "Evaluation of the statistical sample", "SOC 2", "SOX"):
        assert text in page, f"workpaper lacks '{text}'"
    assert "UserAccessReviewTest" not in page, "code must be hidden"
    assert re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page) == []
    notebook = nbformat.read(run / "UAR-01" / "workpaper.ipynb", as_version=4)
    assert notebook.metadata["workbench"]["status"] == "completed"


def test_index_links_the_workpaper(run):
    page = (run / "index.html").read_text()
    assert 'href="UAR-01/workpaper.html"' in page and "completed" in page


def test_sample_records_seed_method_and_attributes(run):
    sample = pd.read_csv(run / "UAR-01" / "sample.csv", dtype=str)
    statistical = sample[sample["selection_basis"].str.contains("statistical")]
    assert len(statistical) >= 59
    assert {"A3_reviewer_independent", "A6_revocation_executed", "deviation", "selection_hash"} <= set(sample.columns)
    result = json.loads((run / "UAR-01" / "result.json").read_text())
    assert result["sample"]["seed"] == 20260930


def test_manifest_hashes_every_input_and_output_and_verify_passes(run, capsys):
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["seed"] == 20260930 and manifest["versions"]["pandas"]
    files = manifest["files"]
    assert "inputs/hr_workers/workday_workers.csv" in files and "UAR-01/workpaper.html" in files
    assert all(entry["frozen_path"] in files for entry in manifest["inputs"].values())
    assert cli.main(["verify", str(run)]) == 0


@pytest.mark.parametrize("relative", ["inputs/uar_decisions/uar_2026Q3_decisions.csv", "UAR-01/sample.csv", "index.html"])
def test_verify_fails_and_names_a_tampered_file(run, capsys, relative):
    path = run / relative
    original = path.read_bytes()
    try:
        path.write_bytes(original[:-2] + bytes([original[-2] ^ 1]) + original[-1:])
        capsys.readouterr()
        assert cli.main(["verify", str(run)]) == 1
        assert f"changed: {relative}" in capsys.readouterr().out
    finally:
        path.write_bytes(original)
    assert cli.main(["verify", str(run)]) == 0


def test_rerun_is_a_new_folder_with_identical_results(run, project):
    code, second = _run(project, project / "outputs")
    assert code == 0 and second != run and run.is_dir()
    for relative in ("exceptions.csv", "UAR-01/sample.csv", "UAR-01/exceptions.csv", "UAR-01/result.json"):
        assert (second / relative).read_bytes() == (run / relative).read_bytes(), relative
    assert latest_run(project / "outputs" / "2026-Q3") == second


def test_a_failing_control_is_reported_and_its_workpaper_shows_the_error(project, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(project / "data", broken / "data")
    (broken / "parameters").mkdir()
    shutil.copyfile(project / "parameters" / DEMO_PARAMETER_FILE, broken / "parameters" / DEMO_PARAMETER_FILE)
    hr = broken / "data" / "demo" / "hr" / "workday_workers.csv"
    lines = hr.read_text().splitlines(keepends=True)
    lines[3] = re.sub(r"\d{4}-\d{2}-\d{2}", "31/31/2026", lines[3], count=1)
    hr.write_text("".join(lines))
    code, run_dir = _run(broken, broken / "outputs")
    assert code == 1
    assert "UAR-01" in capsys.readouterr().err
    page = (run_dir / "UAR-01" / "workpaper.html").read_text()
    assert "failed" in page and "workday_workers.csv" in page
    assert nbformat.read(run_dir / "UAR-01" / "workpaper.ipynb", as_version=4).metadata["workbench"]["status"] == "failed"
    assert "failed" in (run_dir / "index.html").read_text()
    assert cli.main(["verify", str(run_dir)]) == 0
