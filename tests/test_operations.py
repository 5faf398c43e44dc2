"""Computer operations (procedure operations) on Fernhill Payments' own exports.

tests/data/fernhill holds, besides its change exports, a Veeam Backup & Replication session export,
AWS Backup's list-backup-jobs output, a Control-M job history, a ServiceNow incident list and a
PagerDuty incidents CSV (make_fernhill_fixtures.py writes them), read as exported by the period file,
and operations_answer_key.csv, the exceptions planted in them. The control must find exactly those.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import operations_control, populations, procedures, tables
from workbench.parameters import load_period
from workbench.procedures.operations import OperationsTest
from workbench.runner import prepare_run

COMPANY = Path(__file__).parent / "data" / "fernhill"
PERIOD_FILE = COMPANY / "fernhill-2026-Q3.yaml"
EXPORTS = COMPANY / "exports" / "2026-Q3"
START, END = pd.Timestamp("2026-07-01", tz="UTC"), pd.Timestamp("2026-10-01", tz="UTC")


@pytest.fixture(scope="module")
def tested(tmp_path_factory) -> OperationsTest:
    context = prepare_run(PERIOD_FILE, tmp_path_factory.mktemp("fernhill-ops"))
    test = OperationsTest.open(str(context.run_dir), "OPS-01")
    test.load_sources()
    test.population_evidence()
    test.run_analytics()
    test.select_sample()
    test.record()
    return test


def source_frame(source_id: str) -> pd.DataFrame:
    source = load_period(PERIOD_FILE).source(source_id)
    return populations.load_source(source.kind, PERIOD_FILE.parent / source.path, system=source.system,
                                   timezone=source.timezone, options=source.options).frame


# --- the exports ---------------------------------------------------------------------------------

def test_aws_backup_jobs_read_with_the_line_each_job_starts_on():
    population = populations.load_source("aws_backup_jobs", EXPORTS / "aws/backup_jobs.json", system="ledger_api")
    frame = population.frame
    assert population.table == "job_runs" and tables.validate_frame("job_runs", frame) == []
    assert set(frame["job_name"]) == {"ledger-api-rds"} and set(frame["job_type"]) == {"backup"}
    text = (EXPORTS / "aws/backup_jobs.json").read_text().splitlines()
    assert '"AccountId"' in text[frame["line"].iloc[0]] and text[frame["line"].iloc[0] - 1].strip() == "{"
    expired = frame[frame["result_original"] == "EXPIRED"]
    assert list(expired["result"]) == ["failed"]


def test_an_export_that_is_not_list_backup_jobs_is_refused(tmp_path):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"Jobs": []}))
    with pytest.raises(populations.PopulationError, match="list-backup-jobs"):
        populations.load_source("aws_backup_jobs", other, system="ledger_api")
    with pytest.raises(populations.PopulationError, match="declare the source's system"):
        populations.load_source("aws_backup_jobs", EXPORTS / "aws/backup_jobs.json")


@pytest.mark.parametrize(("source_id", "table", "rows"), [
    ("veeam_sessions", "job_runs", 94), ("controlm_history", "job_runs", 5),
    ("servicenow_incidents", "incidents", 7), ("pagerduty_incidents", "incidents", 2)])
def test_the_mapped_operations_exports_meet_their_tables(source_id, table, rows):
    frame = source_frame(source_id)
    assert tables.validate_frame(table, frame) == [] and len(frame) == rows


def test_the_related_job_is_derived_from_the_short_description():
    incidents = source_frame("servicenow_incidents").set_index("ticket")
    assert incidents.loc["INC0040004", "related_job"] == "ledger-db-nightly"
    assert pd.isna(incidents.loc["INC0040001", "related_job"])
    assert incidents.loc["INC0040001", "priority"] == "critical"


# --- the control ---------------------------------------------------------------------------------

def test_the_control_finds_every_planted_exception_and_nothing_else(tested):
    key = pd.read_csv(COMPANY / "operations_answer_key.csv", dtype=str)
    found = {(f.rule, f.system, f.detail_key, f.subject) for f in tested.findings()}
    assert found == set(map(tuple, key.values))


def test_the_frame_holds_failed_runs_and_incidents_and_reconciles(tested):
    frame = tested.population()
    assert dict(frame["item_type"].value_counts()) == {"incident": 9, "failed run": 5}
    assert (tested.reconciliation()["result"] != "DIFFERS").all()
    assert set(tested.schedule_summary()["backup job"]) == {"ledger-api-rds", "ledger-db-nightly"}


def test_attributes_apply_to_their_kind_of_item(tested):
    sample = tested.tested_sample().set_index("detail_key")
    assert sample.loc["0003b", "O2_resolved"] == "fail" and sample.loc["0003b", "O3_within_sla"] == "n/a"
    assert sample.loc["0002a", "O1_followed_up_in_time"] == "pass"
    assert sample.loc["INC0040005", "O3_within_sla"] == "pass", "open but not yet due at the period end"
    assert sample.loc["PD-312", "O3_within_sla"] == "fail" and sample.loc["PD-312", "O1_followed_up_in_time"] == "n/a"


def test_each_framework_concludes_in_its_own_words(tested):
    conclusions = {fw: (headline, " ".join(body)) for fw, headline, body, _ in tested.conclusions()}
    assert conclusions["SOC 2"][1].startswith("SOC 2 CC7.2, CC7.3, CC7.4, CC7.5, A1.2: Exception noted: "
                                              "full-population analytics identified 7")
    assert conclusions["SOX"][0] == "Deficiency identified"
    assert conclusions["SOX"][1].startswith("SOX ITGC computer operations: control deficiency identified")
    assert "PD-312" not in conclusions["SOX"][1]


@pytest.mark.parametrize(("settings", "message"), [
    ({"sla_hours": {"critical": 4}}, "missing: high"),
    ({"sla_hours": {"urgent": 1, "critical": 4, "high": 8, "moderate": 72, "low": 168, "planning": 720}},
     "urgent: not an incident priority"),
    ({"follow_up_hours": 0}, "follow_up_hours"),
])
def test_bad_settings_are_named_by_their_key(settings, message):
    problems = procedures.settings_problems("operations", settings, "controls[1]")
    assert any(message in p for p in problems), problems


# --- the analytics as pure functions ---------------------------------------------------------------

def runs(*rows: tuple[str, str, str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["run_id", "started_at", "result"])
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
    return frame.assign(system="s", job_name="job", line=range(2, 2 + len(frame)), listing="log.csv")


def test_a_follow_up_not_yet_due_at_the_period_end_is_not_late():
    log = runs(("r1", "2026-09-30T20:00:00Z", "failed"))
    empty = pd.DataFrame({"ticket": [], "related_job": [], "opened_at": pd.Series([], dtype="datetime64[us, UTC]"),
                          "resolved_at": pd.Series([], dtype="datetime64[us, UTC]")})
    result = operations_control.follow_ups(log, log, empty, 12, END)
    assert bool(result["followed_up_in_time"].iloc[0]) and not bool(result["resolved"].iloc[0])


def test_an_open_incident_breaches_only_once_due():
    incidents = pd.DataFrame({"priority": ["critical", "low"],
                              "opened_at": pd.to_datetime(["2026-09-30T10:00:00Z", "2026-09-30T10:00:00Z"], utc=True),
                              "resolved_at": pd.Series([pd.NaT, pd.NaT], dtype="datetime64[us, UTC]")})
    status = operations_control.sla_status(incidents, operations_control.DEFAULT_SLA_HOURS, END)
    assert list(status["within_sla"]) == [False, True]


@settings(max_examples=100, deadline=None)
@given(missing=st.sets(st.integers(1, 88), max_size=5))
def test_a_daily_job_misses_its_schedule_exactly_where_a_night_is_missing(missing):
    nights = [START + pd.Timedelta(days=d, hours=23) for d in range(92) if d not in missing]
    log = runs(*((f"r{i}", str(t), "success") for i, t in enumerate(nights)))
    gaps = operations_control.schedule_gaps(log, 24, 6, START, END)
    expected = sum(1 for d in sorted(missing) if d - 1 not in missing)  # consecutive missing nights: one gap
    assert len(gaps) == expected
