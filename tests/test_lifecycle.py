"""The exception lifecycle through real runs: records merged, Excel, views, roll-forward from the CLI."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd
import pytest
import yaml

from conftest import make_demo_project
from workbench import cli
from workbench.exceptions import RemediationRecord, read_remediation, write_remediation
from workbench.runner import DEMO_PARAMETER_FILE, latest_run

pytestmark = pytest.mark.e2e


def _run(project, capsys):
    code = cli.main(["run", str(project / "parameters" / DEMO_PARAMETER_FILE), "--out", str(project / "outputs"),
                     "--only", "UAR-01", "--jobs", "1"])
    assert code == 0, capsys.readouterr().err
    return latest_run(project / "outputs" / "2026-Q3")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    project = make_demo_project(tmp_path_factory.mktemp("life"))
    code = cli.main(["run", str(project / "parameters" / DEMO_PARAMETER_FILE), "--out", str(project / "outputs"),
                     "--only", "UAR-01", "--jobs", "1"])
    assert code == 0
    return project, latest_run(project / "outputs" / "2026-Q3")


def test_register_carries_lifecycle_columns_and_an_excel_copy(first_run):
    _, run = first_run
    register = pd.read_csv(run / "exceptions.csv", dtype=str, keep_default_na=False)
    assert {"status", "first_seen", "age_days", "management_response", "finding_key"} <= set(register.columns)
    assert set(register["status"]) == {"open"}
    workbook = openpyxl.load_workbook(run / "exceptions.xlsx")
    assert workbook.sheetnames == ["Exceptions", "SOC 2 view", "SOX view", "SOX deficiency worksheet", "Exported values"]
    assert [s.title for s in workbook.worksheets if s.sheet_state == "visible"] == workbook.sheetnames[:4]
    assert workbook["Exceptions"].max_row == len(register) + 1
    page = (run / "index.html").read_text()
    assert "SOC 2 and SOX views" in page and "SOX deficiency evaluation worksheet" in page and "data:image/png" in page


def test_records_survive_a_re_run_and_stale_ids_are_reported(first_run, capsys):
    project, run = first_run
    register = pd.read_csv(run / "exceptions.csv", dtype=str, keep_default_na=False)
    rubber = register.loc[register["rule"] == "rubber_stamping", "exception_id"].iloc[0]
    records_file = project / "parameters" / "demo-2026-Q3.remediation.yaml"
    write_remediation({
        rubber: RemediationRecord(status="remediated", root_cause="Bulk approval", owner="Mei Wong",
                                  management_response="=HYPERLINK(\"x\") agreed; reviewer retrained",
                                  first_seen=dt.date(2026, 9, 1)),
        "EX-UAR01-0000000000": RemediationRecord(status="open", rule="self_review", subject="gone@x.example"),
    }, records_file)
    second = _run(project, capsys)
    merged = pd.read_csv(second / "exceptions.csv", dtype=str, keep_default_na=False).set_index("exception_id")
    assert merged.loc[rubber, "status"] == "remediated" and merged.loc[rubber, "age_days"] == "29"
    assert merged.loc["EX-UAR01-0000000000", "in_current_run"] == "no"
    assert "EX-UAR01-0000000000" in (second / "index.html").read_text()
    cell = next(c for c in openpyxl.load_workbook(second / "exceptions.xlsx")["Exceptions"].iter_rows()
                for c in c if c.value == "=HYPERLINK(\"x\") agreed; reviewer retrained")
    assert cell.data_type == "s" and cell.quotePrefix
    assert (second / "records" / "remediation.yaml").read_bytes() == records_file.read_bytes()
    assert cli.main(["verify", str(second)]) == 0
    records_file.unlink()


def test_a_broken_remediation_file_stops_the_run_before_anything_is_written(first_run, capsys):
    project, _ = first_run
    records_file = project / "parameters" / "demo-2026-Q3.remediation.yaml"
    records_file.write_text("EX-1:\n  status: closed\n")
    runs_before = set((project / "outputs" / "2026-Q3").iterdir())
    try:
        code = cli.main(["run", str(project / "parameters" / DEMO_PARAMETER_FILE), "--out", str(project / "outputs")])
        assert code == 2
        assert "demo-2026-Q3.remediation.yaml: EX-1, status" in capsys.readouterr().err
        assert set((project / "outputs" / "2026-Q3").iterdir()) == runs_before
    finally:
        records_file.unlink()


def test_rollforward_from_the_command_line(first_run, capsys):
    project, run = first_run
    code = cli.main(["rollforward", str(project / "parameters" / DEMO_PARAMETER_FILE), "--to", "2026-Q4",
                     "--out", str(project / "outputs")])
    out = capsys.readouterr().out
    assert code == 0 and "demo-2026-Q4.yaml" in out
    next_file = project / "parameters" / "demo-2026-Q4.yaml"
    assert yaml.safe_load(next_file.read_text())["period"]["end"] == dt.date(2026, 12, 31)
    carried = read_remediation(project / "parameters" / "demo-2026-Q4.remediation.yaml")
    register = pd.read_csv(latest_run(project / "outputs" / "2026-Q3") / "exceptions.csv", dtype=str, keep_default_na=False)
    assert set(carried) == set(register.loc[register["in_current_run"] == "yes", "exception_id"])
    assert cli.main(["rollforward", str(project / "parameters" / DEMO_PARAMETER_FILE), "--to", "2026-Q4",
                     "--out", str(project / "outputs")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_runs_workbook_is_read_back_into_the_period_records(first_run, capsys, tmp_path):
    project, run = first_run
    records_file = project / "parameters" / "demo-2026-Q3.remediation.yaml"
    records_file.write_text("# Avery's notes for 2026-Q3\n", encoding="utf-8")
    try:
        assert cli.main(["records", "import", str(run / "exceptions.xlsx")]) == 0  # in its run folder: found by itself
        assert "no changes" in capsys.readouterr().out
        copy = tmp_path / "exceptions.xlsx"
        copy.write_bytes((run / "exceptions.xlsx").read_bytes())
        book = openpyxl.load_workbook(copy)
        sheet = book["Exceptions"]
        sheet["H2"].value, sheet["I2"].value = "remediated", "Mei Wong"
        exception_id = sheet["A2"].value
        book.save(copy)
        assert cli.main(["records", "import", str(copy)]) == 2
        assert "--period-file" in capsys.readouterr().err
        params = str(project / "parameters" / DEMO_PARAMETER_FILE)
        assert cli.main(["records", "import", str(copy), "--period-file", params, "--apply"]) == 0
        out = capsys.readouterr().out
        assert f"{exception_id} (new record), row 2:\n    Status: open -> remediated\n    Owner: (empty) -> Mei Wong" in out
        assert records_file.read_text(encoding="utf-8").startswith("# Avery's notes for 2026-Q3\n")
        assert read_remediation(records_file)[exception_id].owner == "Mei Wong"
        second = _run(project, capsys)
        merged = pd.read_csv(second / "exceptions.csv", dtype=str, keep_default_na=False).set_index("exception_id")
        assert (merged.loc[exception_id, "status"], merged.loc[exception_id, "owner"]) == ("remediated", "Mei Wong")
        assert "Mei Wong" in (second / "index.html").read_text(encoding="utf-8")
    finally:
        records_file.unlink(missing_ok=True)
