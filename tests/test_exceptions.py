"""The exception register: stable ids, stable order, deduplication."""

from __future__ import annotations

import pytest

from workbench.exceptions import Finding, build_register, exception_id, read_register, write_register


def _finding(**changes) -> Finding:
    base = dict(rule="self_review", subject="ann.lee@harborlane.example", system="github",
                description="Ann reviewed her own access.", evidence_reference="uar.csv line 4",
                severity="high", detail_key="github|owner", frameworks=("SOC 2",))
    return Finding(**(base | changes))


def test_id_is_stable_and_ignores_wording_and_evidence_row():
    a = exception_id("2026-Q3", "UAR-01", _finding())
    b = exception_id("2026-Q3", "UAR-01", _finding(description="Reworded.", evidence_reference="uar.csv line 99"))
    assert a == b
    assert a.startswith("EX-UAR01-") and len(a) == len("EX-UAR01-") + 10


@pytest.mark.parametrize("change", [
    {"subject": "bob@harborlane.example"}, {"rule": "undecided_review_line"}, {"system": "aws_prod"},
    {"detail_key": "github|member"},
])
def test_id_changes_with_what_identifies_the_finding(change):
    assert exception_id("2026-Q3", "UAR-01", _finding()) != exception_id("2026-Q3", "UAR-01", _finding(**change))


def test_id_depends_on_period_and_control():
    base = exception_id("2026-Q3", "UAR-01", _finding())
    assert base != exception_id("2026-Q4", "UAR-01", _finding())
    assert base != exception_id("2026-Q3", "UAR-02", _finding())


def test_register_is_sorted_deduplicated_and_round_trips(tmp_path):
    findings = [_finding(subject="zed@x.example"), _finding(), _finding(description="duplicate of the second")]
    register = build_register("2026-Q3", "UAR-01", findings)
    assert list(register["subject"]) == ["ann.lee@harborlane.example", "zed@x.example"]
    assert register.loc[0, "description"] == "Ann reviewed her own access."
    assert register.loc[0, "framework"] == "SOC 2"
    path = write_register(register, tmp_path / "exceptions.csv")
    assert read_register(path).equals(register.astype(str))
    assert b"\r\n" not in path.read_bytes()


def test_unknown_severity_is_refused():
    with pytest.raises(ValueError, match="severity must be one of"):
        _finding(severity="catastrophic")


# --- lifecycle: remediation records, merge, Excel ---------------------------------------------

import datetime as dt  # noqa: E402

import openpyxl  # noqa: E402

from workbench.exceptions import (  # noqa: E402
    RemediationError,
    RemediationRecord,
    finding_key,
    merge_records,
    read_remediation,
    unmatched_records,
    write_excel,
    write_remediation,
)

PERIOD_END = dt.date(2026, 9, 30)


def _register():
    return build_register("2026-Q3", "UAR-01", [_finding(), _finding(subject="zed@x.example")])


def test_finding_key_is_the_same_in_every_period():
    assert finding_key("UAR-01", _finding()) == finding_key("UAR-01", _finding(description="other words"))
    register_q3 = build_register("2026-Q3", "UAR-01", [_finding()])
    register_q4 = build_register("2026-Q4", "UAR-01", [_finding()])
    assert register_q3.loc[0, "exception_id"] != register_q4.loc[0, "exception_id"]
    assert register_q3.loc[0, "finding_key"] == register_q4.loc[0, "finding_key"]


def test_a_record_survives_a_re_run(tmp_path):
    register = _register()
    ex_id = register.loc[0, "exception_id"]
    path = tmp_path / "2026-Q3.remediation.yaml"
    write_remediation({ex_id: RemediationRecord(status="remediated", root_cause="Bulk approval",
                                                owner="Mei Wong", due_date=dt.date(2026, 11, 15),
                                                first_seen=dt.date(2026, 9, 1))}, path)
    rerun = _register()  # a re-run finds the same findings: same ids
    merged = merge_records(rerun, read_remediation(path), PERIOD_END).set_index("exception_id")
    assert merged.loc[ex_id, "status"] == "remediated" and merged.loc[ex_id, "root_cause"] == "Bulk approval"
    assert merged.loc[ex_id, "age_days"] == 29
    other = rerun.loc[1, "exception_id"]
    assert merged.loc[other, "status"] == "open" and merged.loc[other, "age_days"] == 0


def test_a_record_whose_finding_is_gone_is_reported_not_dropped(tmp_path):
    path = tmp_path / "r.yaml"
    write_remediation({"EX-UAR01-0000000000": RemediationRecord(status="remediated", rule="self_review",
                                                                subject="old@x.example")}, path)
    merged = merge_records(_register(), read_remediation(path), PERIOD_END)
    assert unmatched_records(merged) == ["EX-UAR01-0000000000"]
    kept = merged.set_index("exception_id").loc["EX-UAR01-0000000000"]
    assert kept["status"] == "remediated" and kept["subject"] == "old@x.example" and kept["in_current_run"] == "no"
    assert len(merged) == 3


def test_bad_records_name_the_file_id_and_key(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("EX-1:\n  status: closed\n  owner: A\nEX-2:\n  rootcause: typo\nEX-3:\n  status: accepted\n")
    with pytest.raises(RemediationError) as caught:
        read_remediation(path)
    message = str(caught.value)
    assert "r.yaml: EX-1, status:" in message
    assert "r.yaml: EX-2, rootcause: is not a known key" in message
    assert "EX-3" in message and "accepted_risk_approver" in message


def test_records_can_be_kept_as_csv(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("exception_id,status,owner,due_date\nEX-1,remediated,Ann,2026-12-01\n")
    records = read_remediation(path)
    assert records["EX-1"].status == "remediated" and records["EX-1"].due_date == dt.date(2026, 12, 1)


def test_missing_remediation_file_means_no_records(tmp_path):
    assert read_remediation(tmp_path / "none.yaml") == {}


def test_excel_keeps_formula_looking_text_as_text(tmp_path):
    register = build_register("2026-Q3", "UAR-01", [
        _finding(subject="=HYPERLINK(\"http://x.example\",\"click\")"), _finding(subject="+1 555"),
        _finding(subject="-2"), _finding(subject="@SUM(A1)"), _finding(subject="plain@x.example")])
    path = write_excel({"Exceptions": register}, tmp_path / "exceptions.xlsx")
    sheet = openpyxl.load_workbook(path).active
    header = [c.value for c in sheet[1]]
    column = header.index("subject") + 1
    cells = {sheet.cell(row=r, column=column).value: sheet.cell(row=r, column=column) for r in range(2, sheet.max_row + 1)}
    assert set(cells) == set(register["subject"])
    for text, cell in cells.items():
        assert cell.data_type == "s", f"{text!r} must be stored as text"
        assert cell.quotePrefix == text.startswith(("=", "+", "-", "@"))
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_rubber_stamping_record_keyed_per_system_follows_the_one_finding_per_reviewer():
    """Issue 13 item 5: a carried record from a run that keyed rubber-stamping per system still
    matches this period's one finding for the reviewer (by control, rule and reviewer)."""
    from workbench.exceptions import RemediationRecord, Retest, finding_key
    legacy = Finding(rule="rubber_stamping", subject="mei@x.example", system="erp", description="d",
                     evidence_reference="e", detail_key="erp")
    old_key = "FK-" + "0" * 16
    assert old_key != finding_key("UAR-01", legacy)
    record = RemediationRecord(status="remediated", finding_key=old_key, control_id="UAR-01", rule="rubber_stamping",
                               subject="mei@x.example", retest=Retest(period="2026-Q3", sample_size=1, basis="b"))
    now = build_register("2026-Q3", "UAR-01", [Finding(rule="rubber_stamping", subject="mei@x.example",
                                                       system="crm; erp", description="d", evidence_reference="e")])
    merged = merge_records(now, {"EX-UAR01-OLD0000000": record}, PERIOD_END, "2026-Q3")
    assert len(merged) == 1 and merged.loc[0, "status"] == "retested-fail"
