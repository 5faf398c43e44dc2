"""exceptions.xlsx as a working file, and read back: ``workbench records import``.

The workbook is written from a small register (three findings of this period, one carried record
matched by its finding key, one carried record the period no longer finds), edited with openpyxl
as an auditor edits it in Excel, and read back into a remediation file with comments in it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pytest

from workbench import cli, records, workbook
from workbench.exceptions import (
    Finding,
    HistoryEntry,
    RemediationRecord,
    Retest,
    build_register,
    finding_key,
    merge_records,
    read_remediation,
    write_remediation,
)

PERIOD, END = "2026-Q3", dt.date(2026, 9, 30)
TODAY = dt.date(2026, 10, 20)
FINDINGS = [
    Finding(rule="terminated_with_active_access", subject="ann@x.example", system="okta", severity="high",
            description="=HYPERLINK(\"x\") Ann left on 2026-08-01; her Okta account is active",
            evidence_reference="okta_users.csv line 4", frameworks=("SOC 2", "SOX")),
    Finding(rule="self_review", subject="bob@x.example", system="ledgerline_erp", description="Bob reviewed his own access",
            evidence_reference="uar.csv line 9", frameworks=("SOX",)),
    Finding(rule="dormant_account", subject="cy@x.example", system="okta", severity="low",
            description="No sign-in for 120 days", evidence_reference="okta_users.csv line 7", frameworks=("SOC 2",)),
]
COMMENT = "# Remediation records of 2026-Q3, kept by Avery: keep this header.\n"
INLINE = "  # agreed with Mei on 14 October"


@pytest.fixture()
def setup(tmp_path):
    """(workbook path, remediation file, exception ids by subject) for a run folder under tmp_path."""
    register = build_register(PERIOD, "UAR-01", FINDINGS)
    ids = dict(zip(register["subject"], register["exception_id"]))
    carried = RemediationRecord(status="open", owner="Payroll lead", finding_key=finding_key("UAR-01", FINDINGS[1]),
                                control_id="UAR-01", rule="self_review", subject="bob@x.example",
                                first_seen=dt.date(2026, 6, 30),
                                history=[HistoryEntry(date=dt.date(2026, 7, 1), by="workbench rollforward",
                                                      note="carried forward from 2026-Q2")])
    gone = RemediationRecord(status="remediated", finding_key="FK-GONE", control_id="UAR-01", rule="dormant_account",
                             subject="dee@x.example", system="aws_prod", framework="SOC 2", severity="medium",
                             first_seen=dt.date(2026, 6, 30),
                             retest=Retest(period=PERIOD, sample_size=2, basis="policy"))
    stored = {ids["ann@x.example"]: RemediationRecord(status="open", owner="Mei Wong", due_date=dt.date(2026, 11, 30),
                                                      first_seen=dt.date(2026, 8, 1)),
              "EX-UAR01-PRIOR00001": carried, "EX-UAR01-GONE000001": gone}
    path = tmp_path / "parameters" / "demo-2026-Q3.remediation.yaml"
    path.parent.mkdir()
    write_remediation(stored, path)
    text = path.read_text(encoding="utf-8").replace(f"{ids['ann@x.example']}:\n", f"{ids['ann@x.example']}:{INLINE}\n")
    path.write_text(COMMENT + text, encoding="utf-8")
    frozen = read_remediation(path)
    merged = merge_records(register, frozen, END, PERIOD)
    book = workbook.write_register_workbook(merged, frozen, tmp_path / "run" / "exceptions.xlsx", period=PERIOD,
                                            as_at=END, other_sheets={})
    return book, path, ids


def _edit(path: Path, edits: dict[str, dict[str, object]]) -> None:
    """Change cells of the Exceptions sheet by exception id and header, as an auditor does in Excel."""
    book = openpyxl.load_workbook(path)
    sheet = book["Exceptions"]
    headers = {cell.value: cell.column for cell in sheet[1]}
    for row in sheet.iter_rows(min_row=2):
        for header, value in edits.get(row[0].value, {}).items():
            sheet.cell(row=row[0].row, column=headers[header]).value = value
    book.save(path)


def _row_of(path: Path, exception_id: str) -> int:
    sheet = openpyxl.load_workbook(path, read_only=True)["Exceptions"]
    return next(i for i, row in enumerate(sheet.iter_rows(values_only=True), 1) if row[0] == exception_id)


def _import(capsys, book: Path, path: Path, *extra: str) -> tuple[int, str]:
    code = cli.main(["records", "import", str(book), "--period-file", str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# --- the workbook ---------------------------------------------------------------------------------------

def test_the_register_sheet_is_an_excel_table_with_dates_a_status_list_links_and_print_setup(setup):
    book, _, ids = setup
    loaded = openpyxl.load_workbook(book)
    assert loaded.sheetnames == ["Exceptions", "SOC 2 view", "SOX view", "Exported values"]
    assert loaded["Exported values"].sheet_state == "hidden"
    sheet = loaded["Exceptions"]
    headers = [c.value for c in sheet[1]]
    assert headers[:12] == ["Exception ID", "Control", "Rule", "Subject", "System", "Framework", "Severity", "Status",
                            "Owner", "Due date", "Age (days open at period end)", "First seen"]
    table = sheet.tables["Exceptions"]
    assert table.ref == f"A1:{openpyxl.utils.get_column_letter(len(headers))}{sheet.max_row}" == table.autoFilter.ref
    column = {h: i for i, h in enumerate(headers)}
    ann = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == ids["ann@x.example"])
    due = ann[column["Due date"]]
    assert due.is_date and due.value.date() == dt.date(2026, 11, 30) and due.number_format == "yyyy-mm-dd"
    assert ann[column["Age (days open at period end)"]].value == 60  # 1 August to 30 September
    assert ann[column["Workpaper"]].hyperlink.target == f"UAR-01/workpaper.html#{ids['ann@x.example']}"  # its row
    gone = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "EX-UAR01-GONE000001")  # no row this run
    assert gone[column["Workpaper"]].hyperlink.target == "UAR-01/workpaper.html#6.-Exceptions"
    description = ann[column["Description"]]
    assert description.data_type == "s" and description.quotePrefix  # a formula-like text stays text
    status_rule = next(v for v in sheet.data_validations.dataValidation if v.type == "list")
    assert status_rule.formula1 == '"open,remediated,retested-pass,retested-fail,accepted"'
    letter = openpyxl.utils.get_column_letter(column["Status"] + 1)
    assert str(status_rule.sqref) == f"{letter}2:{letter}{sheet.max_row}"
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.fitToWidth == 1
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.print_title_rows == "$1:$1"
    assert sheet.freeze_panes == "B2"
    assert loaded["SOX view"].tables and loaded["SOC 2 view"].max_row == 4  # Ann, Cy and the carried SOC 2 record


def test_carried_rows_are_complete_in_the_workbook(setup):
    book, _, _ = setup
    sheet = openpyxl.load_workbook(book)["Exceptions"]
    headers = [c.value for c in sheet[1]]
    gone = dict(zip(headers, next(r for r in sheet.iter_rows(min_row=2, values_only=True) if r[0] == "EX-UAR01-GONE000001")))
    assert (gone["System"], gone["Framework"], gone["Severity"], gone["Status"], gone["Period"]) == (
        "aws_prod", "SOC 2", "medium", "retested-pass", PERIOD)
    assert gone["Age (days open at period end)"] == 92


def test_the_workbook_is_byte_identical_whenever_it_is_written(setup, tmp_path, monkeypatch):
    book, path, _ = setup
    frozen = read_remediation(path)
    merged = merge_records(build_register(PERIOD, "UAR-01", FINDINGS), frozen, END, PERIOD)
    monkeypatch.setattr("time.time", lambda: 2_000_000_000.0)
    again = workbook.write_register_workbook(merged, frozen, tmp_path / "again.xlsx", period=PERIOD, as_at=END,
                                             other_sheets={})
    assert again.read_bytes() == book.read_bytes()


# --- reading it back -----------------------------------------------------------------------------------

def test_an_unedited_workbook_changes_nothing(setup, capsys):
    book, path, _ = setup
    before = path.read_bytes()
    code, out = _import(capsys, book, path, "--apply")
    assert code == 0 and "no changes" in out and path.read_bytes() == before


def test_import_shows_the_diff_and_writes_only_with_apply(setup, capsys):
    book, path, ids = setup
    ann, cy = ids["ann@x.example"], ids["cy@x.example"]
    _edit(book, {ann: {"Status": "remediated", "Due date": dt.datetime(2026, 12, 15),
                       "Root cause": "HR did not tell IT"},
                 cy: {"Owner": "Head of IT", "Management response": "Agreed; disabled on 3 October."}})
    before = path.read_bytes()
    code, out = _import(capsys, book, path)
    assert code == 0 and path.read_bytes() == before and "--apply" in out
    assert f"  {ann}, row {_row_of(book, ann)}:\n" in out
    assert "    Status: open -> remediated\n" in out and "    Due date: 2026-11-30 -> 2026-12-15\n" in out
    assert "    Root cause: (empty) -> HR did not tell IT\n" in out
    assert f"  {cy} (new record), row {_row_of(book, cy)}:\n    Owner: (empty) -> Head of IT\n" in out

    code, out = _import(capsys, book, path, "--apply", "--by", "Avery Quinn")
    assert code == 0 and "Wrote 5 change(s) to 2 record(s)" in out
    text = path.read_text(encoding="utf-8")
    assert text.startswith(COMMENT) and f"{ann}:{INLINE}\n" in text  # the auditor's comments stay
    saved = read_remediation(path)
    assert (saved[ann].status, saved[ann].due_date, saved[ann].root_cause, saved[ann].owner) == (
        "remediated", dt.date(2026, 12, 15), "HR did not tell IT", "Mei Wong")
    assert saved[ann].history[-1].by == "Avery Quinn" and "Status: open -> remediated" in saved[ann].history[-1].note
    assert (saved[cy].owner, saved[cy].finding_key, saved[cy].system, saved[cy].severity) == (
        "Head of IT", finding_key("UAR-01", FINDINGS[2]), "okta", "low")
    untouched = [line for line in before.decode().splitlines() if "EX-UAR01-GONE000001" in line or "policy" in line]
    assert all(line in text.splitlines() for line in untouched)
    code, out = _import(capsys, book, path)
    assert code == 0 and "no changes" in out  # read back twice: nothing more to do


def test_an_edit_of_a_carried_exception_goes_into_its_carried_record(setup, capsys):
    book, path, ids = setup
    bob = ids["bob@x.example"]
    _edit(book, {bob: {"Owner": "Finance systems lead"}})
    code, out = _import(capsys, book, path, "--apply")
    assert code == 0 and f"{bob} (recorded under EX-UAR01-PRIOR00001)" in out
    saved = read_remediation(path)
    assert saved["EX-UAR01-PRIOR00001"].owner == "Finance systems lead" and bob not in saved


def test_a_value_changed_in_the_file_since_the_export_is_reported_not_overwritten(setup, capsys):
    book, path, ids = setup
    ann = ids["ann@x.example"]
    path.write_text(path.read_text(encoding="utf-8").replace("owner: Mei Wong", "owner: Sam Patel  # after the export"),
                    encoding="utf-8")
    _edit(book, {ann: {"Owner": "Jo Brown", "Root cause": "No leaver feed"}})
    code, out = _import(capsys, book, path, "--apply")
    assert code == 1
    assert (f"{ann}, row {_row_of(book, ann)}, Owner: exported 'Mei Wong', now in the file 'Sam Patel', "
            f"in the workbook 'Jo Brown'") in out
    saved = read_remediation(path)
    assert saved[ann].owner == "Sam Patel" and saved[ann].root_cause == "No leaver feed"
    assert "owner: Sam Patel  # after the export" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("header", "value", "message"), [
    ("Status", "closed", "column Status ({id}): 'closed' is not a status; use one of open, remediated"),
    ("Due date", "next Friday", "column Due date ({id}): 'next Friday' is not a date"),
    ("Status", "accepted", "({id}): status 'accepted' needs accepted_risk_approver and accepted_risk_expiry"),
])
def test_a_bad_value_is_refused_naming_the_row_and_column_and_nothing_is_written(setup, capsys, header, value, message):
    book, path, ids = setup
    ann = ids["ann@x.example"]
    _edit(book, {ann: {header: value, "Owner": "Jo Brown"}})
    before = path.read_bytes()
    code, out = _import(capsys, book, path, "--apply")
    assert code == 2 and path.read_bytes() == before
    assert f"row {_row_of(book, ann)}" in out and message.format(id=ann) in out


def test_a_workbook_of_another_period_or_without_its_exported_values_is_refused(setup, tmp_path, capsys, root):
    book, _, _ = setup
    q2 = tmp_path / "parameters" / "demo-2026-Q2.yaml"
    q2.write_bytes((root / "parameters" / "demo-2026-Q2.yaml").read_bytes())
    code, out = _import(capsys, book, q2)
    assert code == 2 and "is the register of period 2026-Q3, but" in out
    loaded = openpyxl.load_workbook(book)
    del loaded["Exported values"]
    loaded.save(book)
    code, out = _import(capsys, book, tmp_path / "parameters" / "demo-2026-Q3.remediation.yaml")
    assert code == 2 and "no 'Exported values' sheet" in out
    code, out = cli.main(["records", "import", str(book)]), capsys.readouterr().err
    assert code == 2 and "--period-file" in out


# --- the round-trip writer ------------------------------------------------------------------------------

def test_the_writer_keeps_comments_order_quotes_and_untouched_lines(tmp_path):
    path = tmp_path / "r.remediation.yaml"
    original = ("# Avery's working file\n"
                "EX-B:   # second, but first in the file\n"
                "    status: open    # pending HR\n"
                "    owner: \"Mei Wong\"\n"
                "    remediation_action: a long sentence that PyYAML once wrapped at exactly one hundred characters, "
                "give or take\n"
                "    history:\n"
                "      - date: 2026-10-01\n"
                "        by: Avery\n"
                "        note: first\n"
                "# --- closed items below ---\n"
                "EX-A:\n"
                "    status: retested-pass\n")
    path.write_text(original, encoding="utf-8")
    document = records.RecordsDocument(path)
    document.set_fields("EX-B", {"due_date": dt.date(2026, 12, 31)})
    document.append_history("EX-B", HistoryEntry(date=TODAY, by="Jo", note="asked: when?"))
    document.append_history("EX-C", HistoryEntry(date=TODAY, by="Jo", note="new"), {"rule": "self_review"})
    document.save()
    text = path.read_text(encoding="utf-8")
    lines = iter(text.splitlines())
    assert all(any(line == new for new in lines) for line in original.splitlines())  # every original line, in order
    assert "      - date: 2026-10-20\n        by: Jo\n        note: 'asked: when?'\n" in text
    assert "    due_date: 2026-12-31\n" in text and text.endswith("EX-C:\n    rule: self_review\n    history:\n"
                                                                  "      - date: 2026-10-20\n        by: Jo\n"
                                                                  "        note: new\n")
    assert read_remediation(path)["EX-B"].due_date == dt.date(2026, 12, 31)


def test_a_file_changed_between_the_comparison_and_the_write_is_not_written(setup):
    book, path, ids = setup
    _edit(book, {ids["ann@x.example"]: {"Owner": "Jo Brown"}})
    plan = records.plan_import(book, path)
    assert [(c.field, c.old, c.new) for c in plan.changes] == [("owner", "Mei Wong", "Jo Brown")]
    path.write_text(path.read_text(encoding="utf-8").replace("status: remediated", "status: open"), encoding="utf-8")
    changed = path.read_bytes()
    with pytest.raises(records.RemediationError, match="changed while the workbook was being compared"):
        records.apply_import(plan, today=TODAY)
    assert path.read_bytes() == changed


def test_a_records_file_the_safe_reader_refuses_is_never_edited(tmp_path):
    path = tmp_path / "r.remediation.yaml"
    path.write_text("EX-1:\n  status: open\nEX-1:\n  status: accepted\n", encoding="utf-8")
    with pytest.raises(records.RemediationError, match="given twice"):
        records.append_note(path, "EX-1", HistoryEntry(date=TODAY, by="Jo", note="n"))
    assert path.read_text(encoding="utf-8").count("EX-1:") == 2
