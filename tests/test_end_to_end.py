"""End to end: the demo company through `workbench run`, `workbench verify`, re-runs, failures and
sign-off.

One demo run is shared by the tests in this file (pytest-xdist keeps a file on one worker); tests
that change files work on a copy of it. The self-contained HTML and escaping of planted values are
in test_browser.py, with a demo run of their own.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from conftest import ROOT, sign_off_workpapers
from workbench import cli, demo, lineage, runner
from workbench.runner import DEMO_PARAMETER_FILE, latest_run

pytestmark = pytest.mark.e2e
UAR_RULES_PLANTED = {"self_review", "undecided_review_line", "revocation_not_executed", "rubber_stamping",
                     "approved_terminated_user", "unexplained_removal"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project layout with freshly generated demo data."""
    base = tmp_path_factory.mktemp("project")
    demo.generate_demo_company(base / "data" / "demo" / "2026-Q3")
    (base / "parameters").mkdir()
    shutil.copyfile(ROOT / "parameters" / DEMO_PARAMETER_FILE, base / "parameters" / DEMO_PARAMETER_FILE)
    return base


def _run(project: Path, out: Path, *extra: str) -> tuple[int, Path]:
    code = cli.main(["run", str(project / "parameters" / DEMO_PARAMETER_FILE), "--out", str(out), *extra])
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
    truth = pd.read_csv(project / "data" / "demo" / "2026-Q3" / "ground_truth.csv", dtype=str)
    register = pd.read_csv(run / "exceptions.csv", dtype=str)
    assert {"control_id", "rule", "subject", "description"} <= set(register.columns)
    planted = truth[truth["rule"].isin(UAR_RULES_PLANTED)]
    assert len(planted) >= 5
    found = set(zip(register["rule"], register["subject"]))
    missing = [(r, s) for r, s in zip(planted["rule"], planted["subject"]) if (r, s) not in found]
    assert not missing, f"planted exceptions not reported: {missing}"


def test_register_reports_nothing_on_clean_subjects(run, project):
    truth = pd.read_csv(project / "data" / "demo" / "2026-Q3" / "ground_truth.csv", dtype=str)
    register = pd.read_csv(run / "exceptions.csv", dtype=str)
    register = register[~register["control_id"].isin(["CHG-01", "OPS-01"])]  # their own answer keys (test_period_demo)
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


def test_uar_workpaper_shows_the_proof_of_removal_with_the_planted_outcomes(run, project):
    """make demo: UAR-01's workpaper has the proof-of-removal table and the snapshot reconciliation, and
    each planted case of removal_truth.csv (docs/demo-company.md section 5a) has its outcome and proof,
    in the workpaper and in population.csv."""
    import html

    page = html.unescape((run / "UAR-01" / "workpaper.html").read_text())
    for text in ("Proof of removal:", "Revoke decisions by outcome", "Listings as snapshots",
                 "Consecutive listings reconciled", "ledgerline_erp_user_roles_after_review.csv",
                 "servicenow_remediation_tasks.csv"):
        assert text in page, f"workpaper lacks '{text}'"
    assert re.search(r"agrees: \d+ − \d+ \+ \d+ = \d+", page)
    truth = pd.read_csv(project / "data" / "demo" / "2026-Q3" / "removal_truth.csv", dtype=str)
    assert len(truth) == 5
    population = pd.read_csv(run / "UAR-01" / "population.csv", dtype=str, keep_default_na=False)
    for case in truth.itertuples():
        line = population[population["item_key"].str.endswith(f"|{case.system}|{case.subject}|{case.entitlement}")]
        assert len(line) == 1, case
        assert (line.iloc[0]["removal_outcome"], line.iloc[0]["removal_proven_by"]) == (case.outcome, case.proven_by), case
        assert case.outcome in page
    revokes = population[population["removal_outcome"] != ""]
    assert len(revokes) >= 20 and set(revokes["removal_outcome"]) <= {
        "executed within SLA", "not executed", "executed; within SLA cannot be proven from the evidence provided"}


def test_index_links_the_workpaper(run):
    page = (run / "index.html").read_text()
    assert 'href="UAR-01/workpaper.html"' in page and "completed" in page


def test_sample_records_seed_method_and_attributes(run):
    sample = pd.read_csv(run / "UAR-01" / "sample.csv", dtype=str)
    statistical = sample[sample["selection_basis"].str.contains("statistical")]
    assert len(statistical) >= 59
    assert {"A3_reviewer_independent", "A6_revocation_executed", "deviation", "selection_hash"} <= set(sample.columns)
    result = json.loads((run / "UAR-01" / "result.json").read_text())
    assert result["sample"]["seed"] == 814594837


def test_manifest_hashes_every_input_and_output_and_verify_passes(run, capsys):
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["seed"] == 814594837 and manifest["versions"]["pandas"]
    files = manifest["files"]
    assert "inputs/hr_workers/workday_workers.csv" in files and "UAR-01/workpaper.html" in files
    assert all(entry["frozen_path"] in files for entry in manifest["inputs"].values())
    assert cli.main(["verify", str(run)]) == 0


@pytest.fixture
def run_copy(run, tmp_path) -> Path:
    """A copy of the shared run, for tests that change its files."""
    copy = tmp_path / "2026-Q3" / run.name
    shutil.copytree(run, copy)
    return copy


def _controls(run: Path) -> list[str]:
    return [c["control_id"] for c in json.loads((run / "manifest.json").read_text())["controls"]]


@pytest.mark.parametrize("relative", ["inputs/uar_decisions/uar_2026Q3_decisions.csv", "UAR-01/sample.csv",
                                      "UAR-01/population.csv", "UAR-01/workpaper.html", "index.html",
                                      "exceptions.csv", "parameters.yaml"])
def test_verify_fails_and_names_a_file_with_one_byte_changed(run_copy, capsys, relative):
    path = run_copy / relative
    original = path.read_bytes()
    path.write_bytes(original[:-2] + bytes([original[-2] ^ 1]) + original[-1:])
    capsys.readouterr()
    assert cli.main(["verify", str(run_copy)]) == 1
    assert f"changed: {relative}" in capsys.readouterr().out


def test_verify_re_derives_every_sample(run, capsys):
    capsys.readouterr()
    assert cli.main(["verify", str(run)]) == 0
    out = capsys.readouterr().out
    rederived = next(line for line in out.splitlines() if line.startswith("Samples re-derived"))
    for control_id in _controls(run):
        assert control_id in rederived
        assert (run / control_id / "population.csv").is_file()


def _rehash(run: Path) -> None:
    """Record every file's current hash in the manifest, as someone covering their tracks would."""
    manifest = lineage.read_manifest(run)
    lineage.write_manifest(run, {k: v for k, v in manifest.items() if k != "files"})


def _swap_first_statistical_item(run: Path, control_id: str) -> None:
    """Replace the first statistical item of a control's sample with another item of its population
    (one that was not selected), or with an invented one when every item was selected."""
    sample = pd.read_csv(run / control_id / "sample.csv", dtype=str, keep_default_na=False)
    population = pd.read_csv(run / control_id / "population.csv", dtype=str, keep_default_na=False)
    first = sample.index[sample["selection_basis"].str.contains("statistical")][0]
    unselected = sorted(set(population["item_key"]) - set(sample["item_key"]))
    sample.loc[first, "item_key"] = unselected[0] if unselected else sample.loc[first, "item_key"] + "|another"
    sample.to_csv(run / control_id / "sample.csv", index=False, lineterminator="\n")


def test_a_sample_edited_with_its_hash_updated_is_caught_by_re_derivation(run, run_copy, capsys):
    for control_id in _controls(run):
        _swap_first_statistical_item(run_copy, control_id)
    _rehash(run_copy)
    capsys.readouterr()
    assert cli.main(["verify", str(run_copy)]) == 1
    out = capsys.readouterr().out
    assert "changed:" not in out, "the hashes were updated: only re-derivation can catch this"
    for control_id in _controls(run):
        assert f"sample of control {control_id} does not re-derive" in out


def test_a_population_edited_with_its_hash_updated_is_caught_by_re_derivation(run_copy, capsys):
    path = run_copy / "UAR-01" / "population.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2] + lines[3:]))  # one item less
    _rehash(run_copy)
    capsys.readouterr()
    assert cli.main(["verify", str(run_copy)]) == 1
    out = capsys.readouterr().out
    assert "sample of control UAR-01 does not re-derive" in out and "population" in out


def test_signoff_then_any_change_is_reported_as_after_signoff(run_copy, capsys):
    sign_off_workpapers(run_copy)
    assert cli.main(["signoff", str(run_copy), "--reviewer", "Morgan Lee, Internal Audit Manager"]) == 0
    capsys.readouterr()
    assert cli.main(["verify", str(run_copy)]) == 0
    assert "signed off by Morgan Lee, Internal Audit Manager on" in capsys.readouterr().out
    assert cli.main(["signoff", str(run_copy), "--reviewer", "Morgan Lee"]) == 2
    sample = run_copy / "UAR-01" / "sample.csv"
    sample.chmod(0o644)
    sample.write_text(sample.read_text().replace("statistical", "statisticaI", 1))
    capsys.readouterr()
    assert cli.main(["verify", str(run_copy)]) == 1
    assert "changed after sign-off: changed: UAR-01/sample.csv" in capsys.readouterr().out


def test_rerun_is_a_new_folder_with_identical_results(run, project):
    code, second = _run(project, project / "outputs", "--jobs", "1")  # the first run used one job per core
    assert code == 0 and second != run and run.is_dir()
    compared = ["exceptions.csv"] + [f"{control_id}/{name}" for control_id in _controls(run)
                                     for name in ("sample.csv", "population.csv", "exceptions.csv", "result.json")]
    for relative in compared:
        assert (second / relative).read_bytes() == (run / relative).read_bytes(), relative
    assert latest_run(project / "outputs" / "2026-Q3") == second


def test_a_cold_kernel_writes_the_same_workpaper_as_a_warm_one(run, project, tmp_path):
    """The demo's UAR-01 (charts, tables, the package's display hooks) with ``--kernels cold``: byte for
    byte what the warm kernel of the first run wrote."""
    assert json.loads((run / "manifest.json").read_text())["run_metadata"]["kernels"]["requested"] == "warm"
    code, cold = _run(project, tmp_path / "outputs", "--only", "UAR-01", "--jobs", "1", "--kernels", "cold")
    assert code == 0
    assert json.loads((cold / "manifest.json").read_text())["run_metadata"]["kernels"]["started"]["warm"] == 0
    for name in ("workpaper.ipynb", "workpaper.html", "sample.csv", "population.csv", "exceptions.csv", "result.json"):
        assert (cold / "UAR-01" / name).read_bytes() == (run / "UAR-01" / name).read_bytes(), name


def test_a_failing_control_is_reported_and_the_others_complete(project, tmp_path, capsys):
    """An export that changes after ``workbench check`` passed (before the run freezes it) fails only its control."""
    broken = tmp_path / "broken"
    shutil.copytree(project / "data", broken / "data")
    (broken / "parameters").mkdir()
    shutil.copyfile(project / "parameters" / DEMO_PARAMETER_FILE, broken / "parameters" / DEMO_PARAMETER_FILE)
    decisions = broken / "data" / "demo" / "2026-Q3" / "reviews" / "uar_2026Q3_decisions.csv"
    lines = decisions.read_text().splitlines(keepends=True)
    lines[3] = re.sub(r"2026-\d{2}-\d{2}T", "2026-13-45T", lines[3], count=1)
    checked = runner.check_before_run

    def check_then_change_the_export(parameter_file):
        checked(parameter_file)  # the real check passes on the good export ...
        decisions.write_text("".join(lines))  # ... which then changes before it is frozen

    others = [c for c in _controls_in_parameters() if c != "UAR-01"][:1]
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "check_before_run", check_then_change_the_export)
        code, run_dir = _run(broken, broken / "outputs", "--only", "UAR-01", *others)
    assert code == 1
    assert "Failed workpaper(s): UAR-01 —" in capsys.readouterr().err
    page = (run_dir / "UAR-01" / "workpaper.html").read_text()
    assert "failed" in page and "uar_2026Q3_decisions.csv" in page and "line 4" in page
    assert nbformat.read(run_dir / "UAR-01" / "workpaper.ipynb", as_version=4).metadata["workbench"]["status"] == "failed"
    index = (run_dir / "index.html").read_text()
    assert "1 control workpaper(s) failed: UAR-01" in index
    for control_id in others:
        status = nbformat.read(run_dir / control_id / "workpaper.ipynb", as_version=4).metadata["workbench"]["status"]
        assert status == "completed", control_id
    assert cli.main(["verify", str(run_dir)]) == 0


def _controls_in_parameters() -> list[str]:
    import yaml

    return [c["id"] for c in yaml.safe_load((ROOT / "parameters" / DEMO_PARAMETER_FILE).read_text())["controls"]]
