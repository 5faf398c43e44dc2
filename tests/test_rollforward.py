"""Roll-forward: the next period's file, exactly the open exceptions carried, retests, prior run untouched."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
import yaml

from conftest import ROOT
from workbench import lineage
from workbench.exceptions import (
    Finding,
    RemediationRecord,
    build_register,
    carried_summary,
    merge_records,
    read_remediation,
    unmatched_records,
    write_register,
    write_remediation,
)
from workbench.parameters import load_period
from workbench.rollforward import RollforwardError, Shift, next_parameters, period_shift, proposed_seed, rollforward

TODAY = dt.date(2026, 10, 5)


def test_quarters_roll_to_quarters_and_month_ends_stay_month_ends():
    shift = period_shift(dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    assert shift == Shift(months=3)
    assert shift.apply(dt.date(2026, 7, 1)) == dt.date(2026, 10, 1)
    assert shift.apply(dt.date(2026, 9, 30)) == dt.date(2026, 12, 31)
    assert shift.apply(dt.date(2026, 11, 30)) == dt.date(2027, 2, 28)
    assert Shift(months=1).apply(dt.date(2027, 1, 31)) == dt.date(2027, 2, 28)


def test_periods_that_are_not_whole_months_roll_by_days():
    shift = period_shift(dt.date(2026, 7, 6), dt.date(2026, 7, 19))
    assert shift == Shift(days=14) and shift.apply(dt.date(2026, 7, 19)) == dt.date(2026, 8, 2)


def _findings(*subjects):
    return [Finding(rule="self_review", subject=s, system="ledgerline_erp", description="d",
                    evidence_reference="uar.csv line 2", detail_key="ledgerline_erp|Read Only") for s in subjects]


STATUSES = {
    "open@x.example": RemediationRecord(status="open", owner="Ann"),
    "fixed@x.example": RemediationRecord(status="remediated", root_cause="bulk approval", first_seen=dt.date(2026, 8, 1)),
    "passed@x.example": RemediationRecord(status="retested-pass"),
    "failedretest@x.example": RemediationRecord(status="retested-fail"),
    "accepted@x.example": RemediationRecord(status="accepted", accepted_risk_approver="CFO",
                                            accepted_risk_expiry=dt.date(2027, 3, 31)),
    "expired@x.example": RemediationRecord(status="accepted", accepted_risk_approver="CFO",
                                           accepted_risk_expiry=dt.date(2026, 9, 30)),
}


@pytest.fixture()
def prior(tmp_path):
    """A period file, a finished run of it with six exceptions, and the auditors' records."""
    parameters = tmp_path / "parameters"
    parameters.mkdir()
    period_file = parameters / "demo-2026-Q3.yaml"
    shutil.copyfile(ROOT / "parameters" / "demo-2026-Q3.yaml", period_file)
    run = tmp_path / "outputs" / "2026-Q3" / "20261001T000000Z"
    run.mkdir(parents=True)
    register = build_register("2026-Q3", "UAR-01", _findings(*STATUSES))
    write_register(register, run / "exceptions.csv")
    (run.parent / "latest").write_text(run.name + "\n")
    ids = dict(zip(register["subject"], register["exception_id"]))
    write_remediation({ids[s]: r for s, r in STATUSES.items()}, parameters / "demo-2026-Q3.remediation.yaml")
    return period_file, run, ids


def test_rollforward_writes_the_next_period_file(prior, tmp_path):
    period_file, _, _ = prior
    result = rollforward(period_file, "2026-Q4", outputs=tmp_path / "outputs", today=TODAY)
    assert result.parameter_file.name == "demo-2026-Q4.yaml"
    params = load_period(result.parameter_file)
    old = load_period(period_file)
    assert (params.period.id, params.period.start, params.period.end) == ("2026-Q4", dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert params.seed == proposed_seed(old.seed, "2026-Q4") != old.seed
    assert params.controls[0].settings["snapshot_date"] == dt.date(2026, 11, 14)
    assert params.sources[0].extracted_at == dt.datetime(2027, 1, 1, 6, tzinfo=dt.UTC)
    decisions = next(s for s in params.sources if s.id == "uar_decisions")
    assert decisions.path.endswith("uar_2026Q4_decisions.csv")
    assert [c.id for c in params.controls] == [c.id for c in old.controls]


def test_a_snapshot_moment_moves_with_its_extraction_time():
    document = {
        "period": {"id": "2026-Q3", "start": dt.date(2026, 7, 1), "end": dt.date(2026, 9, 30)}, "seed": 1,
        "sources": [{"id": "before", "path": "erp_2026Q3_before.csv",
                     "extracted_at": dt.datetime(2026, 8, 15, 6, tzinfo=dt.UTC),
                     "as_of": dt.datetime(2026, 8, 14, 23, 59, tzinfo=dt.UTC)},
                    {"id": "after", "path": "erp_after.csv", "extracted_at": dt.datetime(2026, 10, 1, 6, tzinfo=dt.UTC)}],
        "controls": [],
    }
    before, after = next_parameters(document, "2026-Q4")["sources"]
    assert before["as_of"] == dt.datetime(2026, 11, 14, 23, 59, tzinfo=dt.UTC)
    assert before["extracted_at"] == dt.datetime(2026, 11, 15, 6, tzinfo=dt.UTC)
    assert before["path"] == "erp_2026Q4_before.csv"
    assert "as_of" not in after and after["extracted_at"] == dt.datetime(2027, 1, 1, 6, tzinfo=dt.UTC)


def test_rollforward_carries_exactly_the_open_items_and_schedules_retests(prior, tmp_path):
    period_file, _, ids = prior
    result = rollforward(period_file, "2026-Q4", outputs=tmp_path / "outputs", today=TODAY)
    carried = read_remediation(result.remediation_file)
    expected = {ids[s] for s in ("open@x.example", "fixed@x.example", "failedretest@x.example", "accepted@x.example")}
    assert set(carried) == expected and result.carried == 4
    fixed = carried[ids["fixed@x.example"]]
    assert fixed.status == "remediated" and fixed.root_cause == "bulk approval"
    assert fixed.retest.period == "2026-Q4" and fixed.retest.sample_size == 2 and fixed.retest.result == "pending"
    assert fixed.first_seen == dt.date(2026, 8, 1) and fixed.finding_key
    assert carried[ids["failedretest@x.example"]].status == "open"
    assert carried[ids["open@x.example"]].retest is None
    assert result.retests == 2
    assert fixed.history[-1].by == "workbench rollforward" and "2026-Q3" in fixed.history[-1].note


def test_the_prior_run_and_files_are_left_untouched(prior, tmp_path):
    period_file, run, _ = prior
    before = {p: lineage.file_sha256(p) for p in [period_file, *run.rglob("*"), *period_file.parent.glob("*.yaml")] if p.is_file()}
    rollforward(period_file, "2026-Q4", outputs=tmp_path / "outputs", today=TODAY)
    assert all(lineage.file_sha256(p) == digest for p, digest in before.items())


def test_rollforward_never_overwrites(prior, tmp_path):
    period_file, _, _ = prior
    rollforward(period_file, "2026-Q4", outputs=tmp_path / "outputs", today=TODAY)
    with pytest.raises(RollforwardError, match="already exists"):
        rollforward(period_file, "2026-Q4", outputs=tmp_path / "outputs", today=TODAY)


def test_carried_items_are_retested_in_the_next_period(prior, tmp_path):
    period_file, _, ids = prior
    result = rollforward(period_file, "2026-Q4", outputs=tmp_path / "outputs", today=TODAY)
    carried = read_remediation(result.remediation_file)
    # In Q4 the remediated finding is gone; the retest-failed one recurs.
    q4 = build_register("2026-Q4", "UAR-01", _findings("failedretest@x.example", "new@x.example"))
    merged = merge_records(q4, carried, dt.date(2026, 12, 31), "2026-Q4").set_index("subject")
    assert merged.loc["fixed@x.example", "status"] == "retested-pass"
    assert merged.loc["fixed@x.example", "in_current_run"] == "no"
    assert merged.loc["fixed@x.example", "retest"].startswith("2026-Q4: 2 item(s), pass")
    recurring = merged.loc["failedretest@x.example"]
    assert recurring["in_current_run"] == "yes" and recurring["status"] == "open"
    assert "carried forward" in recurring["history"]
    assert merged.loc["new@x.example", "status"] == "open" and merged.loc["new@x.example", "history"] == ""
    assert carried_summary(merged.reset_index()) == (
        "4 exception(s) carried from earlier periods: 1 retested and passed (no longer in the full population), "
        "0 retested and failed (recurred), 0 remediated awaiting retest, 2 still open, 1 accepted risk(s).")
    assert carried_summary(merge_records(q4, {}, dt.date(2026, 12, 31), "2026-Q4")) is None
    # a retest that passed is not a record to review; a carried open item that vanished is
    assert sorted(unmatched_records(merged.reset_index())) == sorted([ids["open@x.example"], ids["accepted@x.example"]])


def test_a_period_that_was_never_run_still_rolls_forward(tmp_path):
    (tmp_path / "parameters").mkdir()
    period_file = tmp_path / "parameters" / "demo-2026-Q3.yaml"
    shutil.copyfile(ROOT / "parameters" / "demo-2026-Q3.yaml", period_file)
    result = rollforward(period_file, "2026-Q4", outputs=tmp_path / "outputs", today=TODAY)
    assert result.remediation_file is None and result.carried == 0
    assert yaml.safe_load(result.parameter_file.read_text())["period"]["id"] == "2026-Q4"


# --- --records-only: the next period's file already exists -----------------------------------------

def _next_period_file(period_file, to_period="2026-Q4"):
    """A next-period file prepared by hand (here: what a full roll-forward would write, with a comment)."""
    from workbench.rollforward import next_parameters

    document = next_parameters(yaml.safe_load(period_file.read_text()), to_period)
    target = period_file.with_name(f"demo-{to_period}.yaml")
    target.write_text("# prepared by the auditor\n" + yaml.safe_dump(document, sort_keys=False))
    return target


def test_records_only_carries_the_same_items_and_leaves_the_next_file_as_it_is(prior, tmp_path):
    period_file, _, ids = prior
    target = _next_period_file(period_file)
    before = lineage.file_sha256(target)
    result = rollforward(period_file, "2026-Q4", outputs=tmp_path / "outputs", today=TODAY, records_only=True,
                         note="a note for the header")
    assert lineage.file_sha256(target) == before and result.parameter_file == target
    carried = read_remediation(result.remediation_file)
    assert set(carried) == {ids[s] for s in ("open@x.example", "fixed@x.example", "failedretest@x.example",
                                             "accepted@x.example")}
    assert "# a note for the header" in result.remediation_file.read_text()


def test_records_only_needs_the_next_file_of_that_period(prior, tmp_path):
    period_file, _, _ = prior
    with pytest.raises(RollforwardError, match="does not exist"):
        rollforward(period_file, "2026-Q4", outputs=tmp_path / "outputs", today=TODAY, records_only=True)
    wrong = _next_period_file(period_file, "2027-Q1")
    wrong.rename(period_file.with_name("demo-2026-Q4.yaml"))
    with pytest.raises(RollforwardError, match="is period 2027-Q1, not 2026-Q4"):
        rollforward(period_file, "2026-Q4", outputs=tmp_path / "outputs", today=TODAY, records_only=True)
    assert not period_file.with_name("demo-2026-Q4.remediation.yaml").exists()


def test_records_only_from_the_command_line(prior, tmp_path, capsys):
    from workbench import cli

    period_file, _, _ = prior
    _next_period_file(period_file)
    code = cli.main(["rollforward", str(period_file), "--to", "2026-Q4", "--out", str(tmp_path / "outputs"),
                     "--records-only"])
    out = capsys.readouterr().out
    assert code == 0 and "(left as it was)" in out and "Carried 4 open exception(s)" in out


def test_carried_records_keep_system_framework_and_severity_for_rows_the_next_run_does_not_find(tmp_path):
    """The cause of blank carried rows: the carried record kept only control, rule and subject."""
    parameters = tmp_path / "parameters"
    parameters.mkdir()
    period_file = parameters / "demo-2026-Q3.yaml"
    shutil.copyfile(ROOT / "parameters" / "demo-2026-Q3.yaml", period_file)
    run = tmp_path / "outputs" / "2026-Q3" / "20261001T000000Z"
    run.mkdir(parents=True)
    finding = Finding(rule="terminated_with_active_access", subject="gone@x.example", system="okta", severity="high",
                      description="d", evidence_reference="okta_users.csv line 3", frameworks=("SOC 2", "SOX"))
    register = build_register("2026-Q3", "TERM-01", [finding])
    write_register(register, run / "exceptions.csv")
    (run.parent / "latest").write_text(run.name + "\n")
    write_remediation({register["exception_id"][0]: RemediationRecord(status="remediated")},
                      parameters / "demo-2026-Q3.remediation.yaml")
    result = rollforward(period_file, "2026-Q4", outputs=tmp_path / "outputs", today=TODAY)
    carried = read_remediation(result.remediation_file)
    record = carried[register["exception_id"][0]]
    assert (record.system, record.framework, record.severity) == ("okta", "SOC 2; SOX", "high")
    q4 = merge_records(build_register("2026-Q4", "TERM-01", []), carried, dt.date(2026, 12, 31), "2026-Q4")
    row = q4.iloc[0]
    assert (row["status"], row["in_current_run"]) == ("retested-pass", "no")
    assert (row["system"], row["framework"], row["severity"], row["period"]) == ("okta", "SOC 2; SOX", "high", "2026-Q4")
