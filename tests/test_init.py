"""workbench init: a starting period file from a folder of exports, which workbench check
accepts once the TODOs it names are filled in."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from workbench import check, scaffold
from workbench.cli import main

EXPORTS = Path(__file__).parent / "data" / "exports"
BYO = Path(__file__).parent / "data" / "byo"

#: What an auditor would type for each TODO, by its key.
FILLED = {"entity": '"Kestrel Freight Ltd"', "id": '"2026-Q3"', "start": "2026-07-01",
          "end": "2026-09-30", "seed": "12345", "extracted_at": "2026-10-01T06:00:00Z",
          "snapshot_date": "2026-08-14"}


def _folder(tmp_path: Path) -> Path:
    """A folder of exports as an auditor receives them: known kinds and two foreign shapes."""
    folder = tmp_path / "exports"
    for part in ("hr", "idp", "apps", "cloud", "reviews", "tickets", "policy"):
        shutil.copytree(EXPORTS / part, folder / part)
    for extra in ("apps/ledgerline_erp_user_roles.parquet", "idp/google_workspace_users.csv",
                  "idp/google_workspace_users_newer.csv", "idp/entra_users.csv",
                  "idp/entra_users_documented.csv", "apps/ledgerline_erp_user_roles_after_review.csv",
                  "tickets/servicenow_remediation_tasks.csv"):
        (folder / extra).unlink()
    (folder / "notes.docx").write_bytes(b"not an export")
    return folder


def _fill(text: str) -> str:
    """Every TODO replaced as the auditor would (a plain value by key)."""
    text = text.replace('["TODO: e.g. CC6.2"]', "[CC6.2]")
    return re.sub(r'(\w+): "TODO[^"]*"', lambda m: m[1] + ": " + FILLED.get(m[1], '"Filled in"'),
                  text)


def test_init_recognises_known_exports_by_reading_them_and_proposes_controls(tmp_path, capsys):
    folder = _folder(tmp_path)
    out = tmp_path / "parameters" / "kestrel-2026-Q3.yaml"
    assert main(["init", str(folder), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "workday_workers.csv: recognised as workday_workers" in printed
    assert "aws_iam_credential_report.csv: recognised as aws_iam_credential_report" in printed
    assert "notes.docx: skipped" in printed
    document = yaml.safe_load(out.read_text(encoding="utf-8"))
    kinds = {s["id"]: s["kind"] for s in document["sources"]}
    assert kinds["workday_workers"] == "workday_workers"
    assert kinds["okta_system_log"] == "okta_system_log"
    assert {s["id"] for s in document["systems"]} == {"aws", "github", "ledgerline_erp", "okta"}
    procedures = [c["procedure"] for c in document["controls"]]
    assert procedures == ["user_access_review", "provisioning", "termination",
                          "privileged_access", "segregation_of_duties", "authentication"]
    uar = document["controls"][0]["sources"]
    assert uar["idp_assignments"] == "okta_app_assignments"  # the identity provider's, not a listing
    assert "okta_app_assignments" not in uar["access_listings"]


def test_check_names_every_todo_and_nothing_else_then_accepts_the_filled_file(tmp_path, capsys):
    folder = _folder(tmp_path)
    out = tmp_path / "period.yaml"
    scaffold.write_period_file(folder, out)
    text = out.read_text(encoding="utf-8")
    report = check.check_period(out)
    todos = text.count('"TODO')
    assert len(report.problems) == todos > 20
    assert all(p.message.startswith(check.TODO_MESSAGE) for p in report.problems)
    lines = text.splitlines()
    for problem in report.problems:
        assert "TODO" in lines[problem.line - 1]
    filled = tmp_path / "filled.yaml"
    filled.write_text(_fill(text), encoding="utf-8")
    assert main(["check", str(filled)]) == 0
    assert "ready to run" in capsys.readouterr().out


def test_a_foreign_export_gets_a_mapping_proposal_with_its_reader_options(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(BYO / "midpoint" / "Certification cases report-KF_Q3_2026.csv", folder)
    shutil.copy(BYO / "bamboohr" / "kestrel_employees_no_status_columns.csv", folder)
    shutil.copy(BYO / "approved_admins" / "kestrel_approved_administrators_register.xlsx",
                folder)
    guesses = {g.path.name: g for g in map(scaffold.guess_export, sorted(folder.iterdir()))}
    midpoint = guesses["Certification cases report-KF_Q3_2026.csv"]
    assert (midpoint.kind, midpoint.table) == ("mapped", "review_decisions")
    assert midpoint.options == {"delimiter": ";"}
    assert midpoint.columns["campaign_id"] == "Campaign"
    bamboo = guesses["kestrel_employees_no_status_columns.csv"]
    assert bamboo.table == "identities" and bamboo.missing == ["status"]
    assert bamboo.columns["employee_id"] == "Employee #"
    register = guesses["kestrel_approved_administrators_register.xlsx"]
    assert register.table == "privileged_approvals"
    assert register.options == {"preamble_lines": 3}
    out = tmp_path / "period.yaml"
    scaffold.write_period_file(folder, out)
    text = out.read_text(encoding="utf-8")
    assert 'status: "TODO: the header holding status"   # required: no header matched' in text
    problems = check.check_period(out).problems
    assert any(p.key.endswith("options.columns.status") for p in problems)


def test_init_never_overwrites_and_refuses_an_empty_folder(tmp_path, capsys):
    folder = _folder(tmp_path)
    out = tmp_path / "period.yaml"
    out.write_text("mine\n", encoding="utf-8")
    assert main(["init", str(folder), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "mine\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["init", str(empty), "--out", str(tmp_path / "x.yaml")]) == 2
    assert not (tmp_path / "x.yaml").exists()
    with pytest.raises(ValueError, match="not a folder"):
        scaffold.write_period_file(tmp_path / "missing", tmp_path / "y.yaml")


KESTREL = Path(__file__).parent / "data" / "companies" / "kestrel"


def _answer_todos(document: dict, reference: dict, exports: Path) -> dict:
    """Fill every TODO of an init file as Kestrel's auditor did in kestrel-2026-Q3.yaml: the
    period, people and seed; each source's system, extraction time and zone, and for a proposed
    mapping the columns and options the auditor settled on (the same file in the reference); each
    control's wording, criteria, required settings and, where init offered a choice of sources,
    the one the auditor chose."""
    todo = lambda value: isinstance(value, str) and value.startswith("TODO")  # noqa: E731
    for key in ("period", "preparer", "reviewer", "seed"):
        document[key] = reference[key]
    document["systems"] = reference["systems"]  # the auditor names the systems and their scope
    def within(path: Path, folder: Path) -> str:
        return path.resolve().relative_to(folder.resolve()).as_posix()

    reference_exports = KESTREL / "exports" / "2026-Q3"
    by_path = {}
    for source in reference["sources"]:
        by_path.setdefault(within(KESTREL / source["path"], reference_exports), source)
    path_of = {}
    for source in document["sources"]:
        known = by_path[within(exports.parent / source["path"], exports)]
        path_of[source["id"]] = (KESTREL / known["path"]).resolve()
        source.pop("system", None)
        for key in ("source_system", "extracted_at", "timezone", "system"):
            if key in known:
                source[key] = known[key]
        if source["kind"] == "mapped":
            source["options"] = known["options"]
    chosen = {c["procedure"]: c for c in reference["controls"]}
    for control in document["controls"]:
        mine = chosen[control["procedure"]]
        for key in ("title", "description", "owner"):
            control[key] = mine[key]
        control["frameworks"] = mine["frameworks"]
        control["systems"] = mine["systems"]
        for name, value in list(control.get("settings", {}).items()):
            if todo(value):
                control["settings"][name] = mine["settings"][name]
        for role, value in control["sources"].items():
            if todo(value):
                wanted = [(KESTREL / s["path"]).resolve() for s in reference["sources"]
                          if s["id"] == mine["sources"][role]]
                control["sources"][role] = next(i for i, p in path_of.items() if p in wanted)
    return document


def test_init_on_the_second_company_gives_a_file_check_accepts_once_its_todos_are_answered(tmp_path):
    exports = tmp_path / "exports"
    shutil.copytree(KESTREL / "exports" / "2026-Q3", exports)
    out = tmp_path / "kestrel.yaml"
    _, guesses, _ = scaffold.write_period_file(exports, out, entity="Kestrel Freight Ltd",
                                               period="2026-Q3")
    tables_proposed = {g.path.name: (g.kind, g.table) for g in guesses}
    assert tables_proposed["okta_users_20261001.csv"] == ("okta_users", None)
    assert tables_proposed["Certification campaigns report.csv"] == ("mapped", "campaigns")
    assert tables_proposed["bamboohr_employees_custom_report_20260930.csv"] == ("mapped", "identities")
    report = check.check_period(out)
    assert report.problems and all(p.message.startswith(check.TODO_MESSAGE) for p in report.problems)
    document = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert [c["procedure"] for c in document["controls"]] == [
        "user_access_review", "provisioning", "termination", "privileged_access",
        "segregation_of_duties", "authentication"]
    reference = yaml.safe_load((KESTREL / "kestrel-2026-Q3.yaml").read_text(encoding="utf-8"))
    answered = tmp_path / "answered.yaml"
    answered.write_text(yaml.safe_dump(_answer_todos(document, reference, exports),
                                       sort_keys=False, allow_unicode=True), encoding="utf-8")
    report = check.check_period(answered)
    assert report.problems == []
