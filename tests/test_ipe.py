"""IPE checks (issue 14, item 2): evidence that cannot mislead.

Each check on small hand-made tables, with a case that must not raise; then end to end on the demo
company, one control run in-process: a header-only HR export makes the control's conclusion
"Cannot conclude: evidence unreliable (IPE)" with the IPE exception in the register and in section
2, and the auditor's acceptance restores the normal conclusion and is shown beside the exception;
duplicate employee ids, a termination before the hire date and a control character in a cell are
each IPE exceptions naming the file and line. Neither the demo company nor Kestrel trips a check.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_check import problems_of, swap, valid_period

from conftest import ROOT, make_demo_project
from workbench import analytics, ipe, procedures
from workbench.check import RECORDS_GROUP
from workbench.parameters import load_period
from workbench.procedures.base import read_source
from workbench.procedures.termination import TerminationTest
from workbench.runner import DEMO_PARAMETER_FILE, prepare_run, record_file_problems

KESTREL = ROOT / "tests" / "data" / "companies" / "kestrel" / "kestrel-2026-Q3.yaml"
UTC = "UTC"


def source(frame: pd.DataFrame, table: str, **kwargs) -> ipe.SourceData:
    """A hand-made export of ``table`` (its rows numbered from line 2, as under a header)."""
    frame = frame.assign(line=range(2, len(frame) + 2))
    return ipe.SourceData("src", "export.csv", table, frame, **kwargs)


def workers(**columns) -> pd.DataFrame:
    """A small HR roster: three workers, columns overridden by keyword."""
    base = {"employee_id": ["001", "002", "003"], "email": ["a@x.example", "b@x.example", "c@x.example"],
            "hire_date": pd.to_datetime(["2020-01-01", "2021-05-01", "2022-03-01"]),
            "termination_date": pd.to_datetime([None, "2026-08-01", None])}
    return pd.DataFrame(base | columns).astype({"employee_id": "string", "email": "string"})


# --- empty source -----------------------------------------------------------------------------

def test_an_empty_export_for_a_required_role_is_an_ipe_exception():
    [issue] = ipe.empty_source(source(workers().iloc[0:0], "identities"))
    assert issue.rule == "ipe_empty_source" and issue.severity == "high"
    assert "export.csv" in issue.description and "has no rows" in issue.description


def test_an_empty_optional_export_and_a_non_empty_one_are_not():
    assert ipe.empty_source(source(workers().iloc[0:0], "sod_mitigations", required=False)) == []
    assert ipe.empty_source(source(workers(), "identities")) == []


# --- control total ------------------------------------------------------------------------------

def test_rows_that_differ_from_the_declared_control_total_are_an_ipe_exception():
    [issue] = ipe.row_count(source(workers(), "identities", expected_rows=1200))
    assert issue.rule == "ipe_row_count"
    assert "3 rows" in issue.description and "1,200" in issue.description and "incomplete" in issue.description
    [issue] = ipe.row_count(source(workers(), "identities", expected_rows={"count": 10, "tolerance": "50%"}))
    assert "10 ± 5" in issue.description


@pytest.mark.parametrize("declared", [None, 3, {"count": 4, "tolerance": 1}, {"count": 5, "tolerance": "40%"}])
def test_rows_within_the_control_total_or_none_declared_are_not(declared):
    assert ipe.row_count(source(workers(), "identities", expected_rows=declared)) == []


@pytest.mark.parametrize(("declared", "parsed"), [(0, (0, 0)), (1200, (1200, 0)), ({"count": 1200}, (1200, 0)),
                                                 ({"count": 1200, "tolerance": 5}, (1200, 5)),
                                                 ({"count": 1200, "tolerance": "1%"}, (1200, 12))])
def test_expected_rows_forms(declared, parsed):
    assert ipe.expected_rows(declared) == parsed


@pytest.mark.parametrize("declared", [-1, True, "1200", 12.5, {"count": 10, "tolerence": 1},
                                      {"count": 10, "tolerance": "150%"}, {"count": 10, "tolerance": "x%"}, {}])
def test_expected_rows_refuses_anything_else(declared):
    with pytest.raises(ValueError, match="whole number of rows"):
        ipe.expected_rows(declared)


HR_OPTION_AT = "    source_system: Workday (All Workers report)\n"


def test_workbench_check_accepts_expected_rows_and_names_a_wrong_one(tmp_path):
    good = swap(valid_period(), HR_OPTION_AT, HR_OPTION_AT + "    options:\n      expected_rows: {count: 312, tolerance: 2}\n")
    assert problems_of(tmp_path, good) == []
    bad = swap(valid_period(), HR_OPTION_AT, HR_OPTION_AT + "    options:\n      expected_rows: lots\n")
    [problem] = problems_of(tmp_path, bad)
    assert "expected_rows" in problem.message and "whole number of rows" in problem.message


# --- duplicate keys -----------------------------------------------------------------------------

def test_one_employee_id_or_e_mail_on_two_workers_is_an_ipe_exception():
    frame = workers(employee_id=["001", "002", "001"], email=["a@x.example", "b@x.example", "c@x.example"])
    [issue] = ipe.duplicate_keys(source(frame, "identities"))
    assert issue.rule == "ipe_duplicate_key" and issue.subject == "001"
    assert issue.evidence_reference == "export.csv, lines 2, 4" and "employee id 001 is on 2 HR workers" in issue.description
    [issue] = ipe.duplicate_keys(source(workers(email=["a@x.example", "a@x.example", None]), "identities"))
    assert issue.subject == "a@x.example" and "e-mail" in issue.description


def test_unique_keys_empty_e_mails_and_other_tables_are_not():
    assert ipe.duplicate_keys(source(workers(), "identities")) == []
    assert ipe.duplicate_keys(source(workers(email=["a@x.example", None, None]), "identities")) == []
    assert ipe.duplicate_keys(source(workers(employee_id=["001", "001", "001"]), "accounts")) == []


def test_many_repeated_keys_are_listed_up_to_a_limit_then_counted():
    frame = pd.DataFrame({"employee_id": [f"{i // 2:03}" for i in range(60)], "email": pd.NA}).astype("string")
    issues = ipe.duplicate_keys(source(frame, "identities"))
    assert len(issues) == ipe.MAX_LISTED + 1 and "5 more repeated keys" in issues[-1].description


# --- impossible sequences -----------------------------------------------------------------------

def test_a_termination_before_the_hire_date_is_an_ipe_exception():
    frame = workers(termination_date=pd.to_datetime([None, "2021-04-30", None]))
    [issue] = ipe.impossible_sequences(source(frame, "identities"))
    assert issue.rule == "ipe_impossible_sequence" and issue.subject == "002"
    assert "terminated on 2021-04-30, before the hire date 2021-05-01" in issue.description
    assert issue.evidence_reference == "export.csv, line 3"


def test_a_termination_on_or_after_the_hire_date_or_none_is_not():
    same_day = workers(termination_date=pd.to_datetime([None, "2021-05-01", None]))
    assert ipe.impossible_sequences(source(same_day, "identities")) == []
    assert ipe.impossible_sequences(source(workers(), "identities")) == []


def grants(removed: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame({"system": "erp", "account_id": ["u1", "u2"], "login": ["u1", "u2"], "entitlement": "AP_CLERK",
                         "granted_at": pd.to_datetime(["2026-07-01T09:00", "2026-07-02T09:00"], utc=True),
                         "removed_at": pd.to_datetime(removed, utc=True)})


def test_a_grant_removed_before_it_was_granted_is_an_ipe_exception_and_a_later_removal_is_not():
    [issue] = ipe.impossible_sequences(source(grants([None, "2026-07-02T08:59"]), "grants"))
    assert issue.subject == "u2" and "removed on 2026-07-02T08:59:00+00:00, before it was granted" in issue.description
    assert ipe.impossible_sequences(source(grants(["2026-07-01T09:00", "2026-09-01T00:00"]), "grants")) == []


def decisions() -> pd.DataFrame:
    return pd.DataFrame({"campaign_id": ["C1", "C1"], "subject_email": ["a@x.example", "b@x.example"],
                         "system": "erp", "entitlement": "GL_POST",
                         "decided_at": pd.to_datetime(["2026-08-01T10:00", "2026-08-03T10:00"], utc=True)})


def test_a_review_decision_before_its_campaign_was_activated_is_an_ipe_exception():
    campaigns = pd.DataFrame({"campaign_id": ["C1"], "activated_at": pd.to_datetime(["2026-08-02"], utc=True)})
    [issue] = ipe.impossible_sequences(source(decisions(), "review_decisions"), campaigns)
    assert issue.subject == "a@x.example" and "before campaign C1 was activated" in issue.description
    assert issue.evidence_reference == "export.csv, line 2"


def test_decisions_after_activation_or_without_a_campaign_table_are_not():
    campaigns = pd.DataFrame({"campaign_id": ["C1", "C2"], "activated_at": pd.to_datetime(["2026-07-15", "2026-09-01"],
                                                                                          utc=True)})
    assert ipe.impossible_sequences(source(decisions(), "review_decisions"), campaigns) == []
    assert ipe.impossible_sequences(source(decisions(), "review_decisions"), None) == []


# --- control characters -------------------------------------------------------------------------

def test_a_control_character_in_a_text_cell_is_an_ipe_exception_naming_file_line_and_column():
    frame = workers().assign(department=pd.array(["Finance", "Sales\x07", "IT\x7f"], dtype="string"))
    first, second = ipe.control_characters(source(frame, "identities"))
    assert first.rule == "ipe_control_characters" and first.subject == "line 3"
    assert first.evidence_reference == "export.csv, line 3, column department"
    assert "'Sales\\x07'" in first.description and second.evidence_reference.endswith("line 4, column department")


def test_tab_cr_lf_and_plain_text_are_not_control_characters():
    frame = workers().assign(department=pd.array(["a\tb", "line\r\nbreak", None], dtype="string"),
                             notes=pd.Series(["ok", ["a list"], 3], dtype=object))
    assert ipe.control_characters(source(frame, "identities")) == []


# --- acceptances --------------------------------------------------------------------------------

def test_an_acceptance_needs_who_when_and_why(tmp_path):
    path = tmp_path / "p.ipe-acceptances.yaml"
    path.write_text("EX-TERM01-0000000000:\n  accepted_by: '  '\n  accepted_on: 2026-10-02\n"
                    "FK-0000000000000000:\n  accepted_on: 2026-10-02\n  reason: r\n  note: x\n", encoding="utf-8")
    with pytest.raises(ipe.IpeAcceptanceError) as error:
        ipe.read_acceptances(path)
    message = str(error.value)
    assert "accepted_by" in message and "EX-TERM01-0000000000, reason" in message and "note" in message
    assert ipe.read_acceptances(tmp_path / "missing.yaml") == {}


def test_a_bad_acceptance_file_is_a_records_problem_of_workbench_check_and_of_a_run(tmp_path):
    text = valid_period()
    (tmp_path / "period.ipe-acceptances.yaml").write_text("EX-X-1:\n  accepted_by: A\n", encoding="utf-8")
    problems = problems_of(tmp_path, text)
    assert problems and all(p.group == RECORDS_GROUP and "ipe-acceptances" in p.file for p in problems)
    assert any("reason" in p.message for p in problems)
    files = {"remediation": tmp_path / "none.yaml", "deficiencies": tmp_path / "none2.yaml",
             ipe.RECORD_KIND: tmp_path / "period.ipe-acceptances.yaml"}
    assert record_file_problems(files)
    (tmp_path / "period.ipe-acceptances.yaml").write_text(
        "EX-X-1:\n  accepted_by: A\n  accepted_on: 2026-10-02\n  reason: r\n", encoding="utf-8")
    assert problems_of(tmp_path, text) == [] and record_file_problems(files) == []


def test_an_acceptance_matches_by_exception_id_or_finding_key_and_only_ipe_rows_change():
    register = pd.DataFrame({"exception_id": ["EX-1", "EX-2", "EX-3"], "finding_key": ["FK-1", "FK-2", "FK-3"],
                             "origin": ["ipe", "ipe", "analytics"], "rule": ["ipe_empty_source", "ipe_row_count", "x"],
                             "description": ["Empty.", "Short.", "Hit."]})
    accepted = ipe.IpeAcceptance(accepted_by="A. Quinn", accepted_on="2026-10-02", reason="known")
    acceptances = {"EX-1": accepted, "FK-3": accepted}
    assert list(ipe.unaccepted(register, acceptances)["exception_id"]) == ["EX-2"]
    assert list(ipe.unaccepted(register, {"FK-2": accepted, "EX-1": accepted})["exception_id"]) == []
    shown = ipe.with_acceptances(register, acceptances)
    assert list(shown["description"]) == ["Empty. IPE exception accepted by A. Quinn on 2026-10-02: known.", "Short.",
                                          "Hit."]


# --- the demo company and Kestrel ---------------------------------------------------------------

@pytest.mark.parametrize("company", ["demo", "kestrel"])
def test_neither_company_trips_an_ipe_check(company, demo_base):
    period_file = demo_base / "parameters" / DEMO_PARAMETER_FILE if company == "demo" else KESTREL
    params = load_period(period_file)
    data = []
    for declared in params.sources:
        path = (period_file.parent / declared.path).resolve()
        population = read_source(declared, path, list(params.systems))
        data.append(ipe.SourceData(declared.id, path.name, population.table, population.frame))
    assert {s.table for s in data} >= {"identities", "grants", "review_decisions", "campaigns"}
    assert ipe.run_checks(data) == []


# --- end to end: one control in-process ---------------------------------------------------------

@pytest.fixture(scope="module")
def demo_base(tmp_path_factory) -> Path:
    """The demo company, generated once; each case copies it."""
    return make_demo_project(tmp_path_factory.mktemp("ipe-demo"))


def project(demo_base: Path, folder: Path, edit, expected_rows: object = None, controls: tuple[str, ...] = ("TERM-01",)
            ) -> Path:
    """A copy of the demo project with the HR export's text edited by ``edit`` and its control total
    declared as ``expected_rows``; returns a period file that runs ``controls`` alone."""
    shutil.copytree(demo_base, folder)
    hr = folder / "data" / "demo" / "2026-Q3" / "hr" / "workday_workers.csv"
    if edit is not None:
        hr.write_text(edit(hr.read_text(encoding="utf-8")), encoding="utf-8", newline="")
    period = folder / "parameters" / DEMO_PARAMETER_FILE
    data = yaml.safe_load(period.read_text(encoding="utf-8"))
    data["controls"] = [c for c in data["controls"] if c["id"] in controls]
    if expected_rows is not None:
        next(s for s in data["sources"] if s["id"] == "hr_workers")["options"] = {"expected_rows": expected_rows}
    period.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return period


def run_term01(period: Path, control_id: str = "TERM-01") -> tuple[TerminationTest, str]:
    """A control (TERM-01) run in a fresh run of the period, in-process; returns the test and section 2's HTML."""
    context = prepare_run(period, period.parent.parent / "outputs")
    procedure = context.parameters.control(control_id).procedure
    test = procedures.procedure_class(procedure).open(str(context.run_dir), control_id)
    test.load_sources()
    evidence = "\n".join(str(block) for block in test.population_evidence())
    test.select_sample()
    test.record()
    return test, evidence


def conclusions(test) -> dict[str, tuple[str, str, bool | None]]:
    return {fw: (headline, " ".join(body), effective) for fw, headline, body, effective in test.conclusions()}


def header_only(text: str) -> str:
    return text.splitlines(keepends=True)[0]


def test_a_header_only_hr_export_cannot_be_concluded_until_the_ipe_exception_is_accepted(demo_base, tmp_path):
    period = project(demo_base, tmp_path / "empty-hr", header_only)
    test, evidence = run_term01(period)
    register = test.register()
    [row] = register[register["origin"] == "ipe"].to_dict("records")
    assert row["rule"] == "ipe_empty_source" and "workday_workers.csv" in row["description"]
    assert row["framework"] == "SOX; SOC 2"
    found = conclusions(test)
    assert {headline for headline, _, _ in found.values()} == {ipe.HEADLINE}
    assert all(effective is False for _, _, effective in found.values())
    assert "Effective" not in str(test.conclusion_blocks()) and "No exceptions noted" not in found["SOC 2"][1]
    assert "1 IPE exception(s) not accepted (1 ipe empty source" in found["SOX"][1]
    assert "IPE exceptions: 1 (1 not accepted)" in evidence and row["exception_id"] in evidence
    assert "not accepted: prevents a conclusion" in evidence
    # An empty leaver population drawn from an empty roster is not evidence that the control did not operate.
    assert "completeness is not established" in evidence and "The control did not operate" not in evidence
    notice = " ".join(str(b) for b in test.management_response_section())
    assert "no conclusion is reached" in notice and row["exception_id"] not in notice
    written = pd.read_csv(test.context.control_dir("TERM-01") / "exceptions.csv", dtype=str)
    assert "ipe_empty_source" in set(written["rule"])
    result = json.loads((test.context.control_dir("TERM-01") / "result.json").read_text(encoding="utf-8"))
    assert result["conclusions"] == [f"SOC 2: {ipe.HEADLINE}", f"SOX: {ipe.HEADLINE}"]
    assert result["effective"] == {"SOC 2": False, "SOX": False} and "did_not_operate" not in result
    assert result["ipe"] == {"exceptions": 1, "by_rule": {"ipe_empty_source": 1}, "not_accepted": [row["exception_id"]]}

    # The auditor accepts it, with a reason: the normal conclusion comes back, the acceptance shown beside it.
    period.with_name(f"{period.stem}.ipe-acceptances.yaml").write_text(
        f"{row['exception_id']}:\n  accepted_by: Avery Quinn\n  accepted_on: 2026-10-03\n"
        "  reason: test of the empty roster case\n", encoding="utf-8")
    accepted, evidence = run_term01(period)
    found = conclusions(accepted)
    # The conclusion the sources support: with no HR worker, every account is one without an HR identity.
    assert found["SOX"][0] == "Deficiency identified" and found["SOC 2"][0].startswith("Exception noted (")
    assert "orphan account" in found["SOX"][1]
    text = "accepted by Avery Quinn on 2026-10-03: test of the empty roster case"
    assert text in evidence and "IPE exceptions: 1 (0 not accepted)" in evidence
    assert all(text in body for _, body, _ in found.values())
    register = accepted.register()
    assert text in register.loc[register["origin"] == "ipe", "description"].iloc[0]
    assert (accepted.context.run_dir / "records" / "ipe_acceptances.yaml").is_file()
    result = json.loads((accepted.context.control_dir("TERM-01") / "result.json").read_text(encoding="utf-8"))
    assert result["ipe"]["not_accepted"] == [] and result["conclusions"][1] == "SOX: Deficiency identified"


def test_the_demo_control_as_exported_has_no_ipe_exception(demo_base, tmp_path):
    period = project(demo_base, tmp_path / "clean", None, expected_rows={"count": 313, "tolerance": 1})
    clean, evidence = run_term01(period)
    assert not (clean.register()["origin"] == "ipe").any() and "no IPE exception" in evidence
    assert ipe.HEADLINE not in {h for h, _, _ in conclusions(clean).values()}


def test_duplicate_ids_a_termination_before_hire_and_a_control_character_are_each_named(demo_base, tmp_path):
    def corrupt(text: str) -> str:
        lines = text.splitlines(keepends=True)
        first = lines[1].split(",")
        lines[2] = ",".join([first[0], *lines[2].split(",")[1:]])  # line 3 repeats line 2's employee id
        leaver = next(i for i, line in enumerate(lines) if ",Terminated," in line)
        fields = lines[leaver].split(",")
        fields[7], fields[9] = "2026-08-20", "2026-08-01"  # hired after the termination
        fields[3] = fields[3][:3] + "\x0b" + fields[3][3:]  # a vertical tab inside the business title
        lines[leaver] = ",".join(fields)
        return "".join(lines)

    period = project(demo_base, tmp_path / "corrupt", corrupt, expected_rows=400)
    test, evidence = run_term01(period)
    register = test.register()
    ipe_rows = register[register["origin"] == "ipe"].set_index("rule")
    assert set(ipe_rows.index) == {"ipe_duplicate_key", "ipe_impossible_sequence", "ipe_control_characters",
                                   "ipe_row_count"}
    assert "gives 312 rows; the entity's control total is 400" in ipe_rows.loc["ipe_row_count", "description"]
    assert ipe_rows.loc["ipe_duplicate_key", "evidence_reference"] == "workday_workers.csv, lines 2, 3"
    assert "before the hire date 2026-08-20" in ipe_rows.loc["ipe_impossible_sequence", "description"]
    assert ipe_rows.loc["ipe_control_characters", "evidence_reference"].endswith(", column title")
    assert "\\x0b" in ipe_rows.loc["ipe_control_characters", "description"]
    assert {h for h, _, _ in conclusions(test).values()} == {ipe.HEADLINE}
    assert "IPE exceptions: 4 (4 not accepted)" in evidence and "Control total (expected rows)" in evidence
    assert "<td>312</td>\n      <td>400</td>" in evidence   # rows read beside the declared control total


def test_every_control_that_reads_the_hr_roster_completes_on_a_header_only_one_and_cannot_conclude(demo_base, tmp_path):
    """A header-only roster used to stop UAR-01 and PRIV-01 with a TypeError (mapping through an empty
    date series); each now completes, with the IPE exception and no conclusion."""
    controls = ("UAR-01", "PRIV-01", "SOD-CTL-01", "AUTH-01", "PROV-01")
    period = project(demo_base, tmp_path / "empty-hr-all", header_only, controls=controls)
    for control_id in controls:
        test, evidence = run_term01(period, control_id)
        assert {h for h, _, _ in conclusions(test).values()} == {ipe.HEADLINE}, control_id
        assert "IPE exceptions: 1 (1 not accepted)" in evidence, control_id


def test_dates_of_gives_nat_for_every_key_when_there_are_no_dates():
    keys = pd.Series(["a@x.example", None], dtype="string")
    empty = pd.Series([], dtype="datetime64[s]", index=pd.Index([], dtype="string"))
    assert analytics.dates_of(keys, empty).isna().all() and len(analytics.dates_of(keys, empty)) == 2
    dates = pd.Series(pd.to_datetime(["2020-01-01"]), index=pd.Index(["a@x.example"], dtype="string"))
    assert analytics.dates_of(keys, dates).iloc[0] == pd.Timestamp("2020-01-01")
