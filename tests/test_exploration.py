"""The exception explorer: opening runs, filters, drill-down evidence, history, notes, widgets, notebook.

One demo run is built in-process for the whole file (pytest-xdist keeps a file on one worker). Its
project is a temporary copy of the layout, so notes never touch the checkout's parameters/ folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from conftest import ROOT
from workbench import demo, exceptions, exploration, explorer_view, runner
from workbench.exceptions import HistoryEntry, RemediationRecord
from workbench.exploration import ExplorationError

PARAMETER_FILE = runner.DEMO_PARAMETER_FILE
TODAY = dt.date(2026, 10, 20)


def _tree_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under a folder, by relative path (a run folder's fingerprint)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project layout with fresh demo data and the demo period's review control.

    Only the user access review controls are kept (with every source whose file the generator
    wrote): the explorer needs review lines, listings, HR and tickets, and stays fast.
    """
    base = tmp_path_factory.mktemp("project")
    demo.generate_demo_company(base / "data" / "demo" / "2026-Q3")
    (base / "parameters").mkdir()
    document = yaml.safe_load((ROOT / "parameters" / PARAMETER_FILE).read_text(encoding="utf-8"))
    document["controls"] = [c for c in document["controls"] if c["procedure"] == "user_access_review"]
    document["sources"] = [s for s in document["sources"] if (base / "parameters" / s["path"]).resolve().is_file()]
    (base / "parameters" / PARAMETER_FILE).write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return base


@pytest.fixture(scope="module")
def run_dir(project) -> Path:
    context = runner.prepare_run(project / "parameters" / PARAMETER_FILE, project / "outputs")
    return exploration.execute_in_process(context)


@pytest.fixture
def run(run_dir) -> exploration.ExplorerRun:
    return exploration.open_run(run_dir)


@pytest.fixture(autouse=True)
def only_beside_the_outputs(monkeypatch):
    """Parameter files are looked for only beside each run's outputs folder, never in the checkout."""
    monkeypatch.setattr(exploration, "parameter_folders", lambda run_dir: [Path(run_dir).resolve().parents[2] / "parameters"])


@pytest.fixture
def notes_file(project):
    """The period's remediation file in the temporary project, removed after each test."""
    path = project / "parameters" / "demo-2026-Q3.remediation.yaml"
    yield path
    path.unlink(missing_ok=True)


def _one(run: exploration.ExplorerRun, rule: str) -> dict:
    rows = run.register[run.register["rule"] == rule]
    assert len(rows), f"the demo run has no {rule} exception"
    return rows.iloc[0].to_dict()


def _copy_run_to_period(run_dir: Path, outputs: Path, period: str, start: str, end: str) -> Path:
    """A copy of a run filed under another period (ids re-made for it), with its ``latest`` file."""
    target = outputs / period / run_dir.name
    shutil.copytree(run_dir, target)
    document = json.loads((target / runner.RUN_PARAMETERS).read_text(encoding="utf-8"))
    document["parameters"]["period"].update({"id": period, "start": start, "end": end})
    (target / runner.RUN_PARAMETERS).write_text(json.dumps(document), encoding="utf-8")
    (target / "parameters.yaml").write_text(f"# period {period}\n", encoding="utf-8")
    register = exceptions.read_register(target / "exceptions.csv")
    register["exception_id"] = register["exception_id"].str.replace("EX-", f"EX-{period[-2:]}-", regex=False)
    register["period"] = period
    exceptions.write_register(register, target / "exceptions.csv")
    (target.parent / "latest").write_text(target.name + "\n", encoding="utf-8")
    return target


# --- building and opening runs ------------------------------------------------------------------------

def test_in_process_run_writes_the_register_and_names_the_latest_run(run_dir):
    register = exceptions.read_register(run_dir / "exceptions.csv")
    assert {"rubber_stamping", "approved_terminated_user", "self_review"} <= set(register["rule"])
    assert (run_dir.parent / "latest").read_text(encoding="utf-8").strip() == run_dir.name
    assert (run_dir / "UAR-01" / "result.json").is_file()
    assert not (run_dir / "manifest.json").exists()


def test_control_test_class_finds_the_procedures_test():
    from workbench.procedures.user_access_review import UserAccessReviewTest

    assert exploration.control_test_class("user_access_review") is UserAccessReviewTest
    with pytest.raises(ModuleNotFoundError):
        exploration.control_test_class("no_such_procedure")


def test_default_run_is_the_latest_demo_run_of_the_project_else_a_throw_away_one(project, run_dir, tmp_path, monkeypatch):
    assert exploration.default_run_dir(project) == run_dir
    empty = tmp_path / "clone"
    (empty / "parameters").mkdir(parents=True)
    shutil.copyfile(project / "parameters" / PARAMETER_FILE, empty / "parameters" / PARAMETER_FILE)
    monkeypatch.setattr(exploration, "build_demo_run", lambda: tmp_path / "built")
    assert exploration.default_run_dir(empty) == tmp_path / "built"


def test_open_run_merges_the_register_with_statuses_and_reviewers(run, run_dir):
    assert run.run_dir == run_dir.resolve() and run.period == "2026-Q3"
    assert {"status", "age_days", "history", "reviewer", "run_id", "in_current_run"} <= set(run.register.columns)
    assert set(run.register["status"]) == {"open"}
    stamp = _one(run, "rubber_stamping")
    assert stamp["reviewer"] == stamp["subject"]
    leaver = _one(run, "approved_terminated_user")
    assert leaver["reviewer"] == stamp["subject"]  # the rubber-stamper approved the leaver's lines
    assert _one(run, "review_population_gap")["reviewer"] == ""
    assert "throw-away run" in run.summary().markup


def test_open_run_refuses_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(ExplorationError, match="is not a run folder"):
        exploration.open_run(tmp_path)
    with pytest.raises(ExplorationError, match="does not exist"):
        exploration.open_run(tmp_path / "missing")


def test_older_registers_without_finding_keys_still_open(run_dir, tmp_path):
    copy = tmp_path / "outputs" / "2026-Q3" / run_dir.name
    shutil.copytree(run_dir, copy)
    register = exceptions.read_register(copy / "exceptions.csv").drop(columns=["finding_key"])
    exceptions.write_register(register, copy / "exceptions.csv")
    opened = exploration.open_run(copy, remediation_file=tmp_path / "notes.yaml")
    assert set(opened.register["finding_key"]) == {""}


# --- where the remediation file is ----------------------------------------------------------------------

def _forget_parameter_file(run_dir: Path, tmp_path: Path) -> Path:
    """A copy of a run as older runs were: without the parameter file's path in parameters.json."""
    copy = tmp_path / "older" / "outputs" / "2026-Q3" / run_dir.name
    shutil.copytree(run_dir, copy)
    document = json.loads((copy / runner.RUN_PARAMETERS).read_text(encoding="utf-8"))
    document.pop("parameter_file", None)
    (copy / runner.RUN_PARAMETERS).write_text(json.dumps(document), encoding="utf-8")
    return copy


def test_remediation_file_is_found_beside_the_recorded_parameter_file(run, project):
    assert run.remediation_file == (project / "parameters" / "demo-2026-Q3.remediation.yaml").resolve()
    assert "named in the run's parameters.json" in run.remediation_basis


def test_remediation_file_is_found_beside_the_identical_parameter_file(run_dir, project, tmp_path):
    older = _forget_parameter_file(run_dir, tmp_path)
    path, basis = exploration.locate_parameter_file(older, [project / "parameters"])
    assert path.resolve() == (project / "parameters" / "demo-2026-Q3.yaml").resolve()
    assert "identical to the run's copy" in basis


def test_a_parameter_file_recorded_in_the_run_wins(run_dir, tmp_path):
    copy = tmp_path / "outputs" / "2026-Q3" / run_dir.name
    shutil.copytree(run_dir, copy)
    recorded = tmp_path / "elsewhere" / "fy26-q3.yaml"
    recorded.parent.mkdir()
    recorded.write_text("entity: x\n", encoding="utf-8")
    document = json.loads((copy / runner.RUN_PARAMETERS).read_text(encoding="utf-8"))
    (copy / runner.RUN_PARAMETERS).write_text(json.dumps({**document, "parameter_file": str(recorded)}), encoding="utf-8")
    assert exploration.locate_parameter_file(copy) == (recorded, "named in the run's parameters.json")
    assert exploration.open_run(copy).remediation_file == tmp_path / "elsewhere" / "fy26-q3.remediation.yaml"


def test_the_only_parameter_file_of_the_period_is_used_when_the_copy_differs(run_dir, project, tmp_path):
    folder = tmp_path / "parameters"
    folder.mkdir()
    edited = yaml.safe_load((project / "parameters" / PARAMETER_FILE).read_text(encoding="utf-8"))
    (folder / "2026-Q3.yaml").write_text(yaml.safe_dump(edited), encoding="utf-8")
    (folder / "2026-Q3.remediation.yaml").write_text("EX-1: {status: open}\n", encoding="utf-8")
    path, basis = exploration.locate_parameter_file(_forget_parameter_file(run_dir, tmp_path), [folder])
    assert path == folder / "2026-Q3.yaml" and "only parameter file of period 2026-Q3" in basis


def test_an_ambiguous_or_unknown_parameter_file_is_not_guessed(run_dir, project, tmp_path):
    folder = tmp_path / "parameters"
    folder.mkdir()
    edited = yaml.safe_load((project / "parameters" / PARAMETER_FILE).read_text(encoding="utf-8"))
    for name in ("a.yaml", "b.yaml"):
        (folder / name).write_text(yaml.safe_dump(edited), encoding="utf-8")
    path, basis = exploration.locate_parameter_file(_forget_parameter_file(run_dir, tmp_path), [folder])
    assert path is None and "enter the remediation file" in basis


def test_without_a_remediation_file_the_explorer_asks_for_one(run_dir, tmp_path):
    other = _copy_run_to_period(_forget_parameter_file(run_dir, tmp_path), tmp_path / "outputs", "2099-Q1",
                                "2099-01-01", "2099-03-31")
    opened = exploration.open_run(other)
    assert opened.remediation_file is None
    assert "unknown" in opened.summary().markup
    with pytest.raises(ExplorationError, match="remediation file of period 2099-Q1 is unknown"):
        exploration.record_note(opened, opened.register["exception_id"].iloc[0], "a note", "Avery")
    given = exploration.record_note(opened, opened.register["exception_id"].iloc[0], "a note", "Avery",
                                    remediation_file=tmp_path / "2099-Q1.remediation.yaml")
    assert given == (tmp_path / "2099-Q1.remediation.yaml").resolve()


# --- filters ------------------------------------------------------------------------------------------

def test_filter_register_by_one_or_several_values_sorted_by_severity(run):
    everything = exploration.filter_register(run.register)
    assert len(everything) == len(run.register)
    assert everything["severity"].tolist() == sorted(everything["severity"], key=["high", "medium", "low"].index)
    stamps = exploration.filter_register(run.register, rule="rubber_stamping")
    assert set(stamps["rule"]) == {"rubber_stamping"}
    both = exploration.filter_register(run.register, rule=["rubber_stamping", "self_review"], severity="high")
    assert set(both["rule"]) == {"rubber_stamping", "self_review"} and set(both["severity"]) == {"high"}
    assert exploration.filter_register(run.register, rule=[], status="", reviewer=None).equals(everything)
    assert exploration.filter_register(run.register, severity="low").empty


def test_filter_by_framework_and_reviewer_matches_any_of_a_rows_values(run):
    sox = exploration.filter_register(run.register, framework="SOX")
    assert len(sox) and sox["framework"].str.contains("SOX").all()
    assert set(exploration.filter_register(run.register, framework="SOC 2")["system"]) <= {"aws_prod", "github"}
    stamper = _one(run, "rubber_stamping")["subject"]
    theirs = exploration.filter_register(run.register, reviewer=stamper)
    assert {"rubber_stamping", "approved_terminated_user"} <= set(theirs["rule"])
    assert set(exploration.filter_register(run.register, system="github", period="2026-Q3")["system"]) == {"github"}


def test_an_unknown_filter_is_named():
    with pytest.raises(ExplorationError, match="unknown filter.*colour.*the filters are control"):
        exploration.filter_register(pd.DataFrame(columns=["severity"]), colour="red")


def test_the_table_and_labels_show_hostile_text_as_text(run):
    register = run.register.copy()
    register.loc[0, "description"] = '<script>alert(1)</script> & "quoted"'
    markup = exploration.exception_table_html(register, len(register))
    assert "<script>" not in markup and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; " in markup


def test_filter_options_come_from_the_register_in_natural_order():
    register = pd.DataFrame({
        "control_id": ["B", "A"], "framework": ["SOX; SOC 2", "SOC 2"], "rule": ["r", "q"], "severity": ["low", "high"],
        "status": ["remediated", "open"], "system": ["erp", ""], "reviewer": ["x@e; y@e", ""], "period": ["P", "P"],
    })
    options = exploration.filter_options(register)
    assert options == {"control": ["A", "B"], "framework": ["SOC 2", "SOX"], "rule": ["q", "r"],
                       "severity": ["high", "low"], "status": ["open", "remediated"], "system": ["erp"],
                       "reviewer": ["x@e", "y@e"], "period": ["P"]}


# --- drill-down: evidence rows ----------------------------------------------------------------------

def test_parse_evidence_reference():
    parts = exploration.parse_evidence_reference(
        "a.csv line 3; b file.csv line 12 (RITM0010001); c.csv lines 4, 9,11; d.csv: decisions of x@y; whole.csv")
    assert [(p.file, p.lines, p.what) for p in parts] == [
        ("a.csv", (3,), ""), ("b file.csv", (12,), "RITM0010001"), ("c.csv", (4, 9, 11), ""),
        ("d.csv", (), "decisions of x@y"), ("whole.csv", (), "")]
    assert exploration.parse_evidence_reference("") == []


def test_sources_are_found_by_file_name_or_by_a_unique_description(run):
    assert exploration.sources_for(run.context, "workday_workers.csv") == ["hr_workers"]
    assert exploration.sources_for(run.context, "credential report") == ["aws_credential_report"]
    assert exploration.sources_for(run.context, "okta") == []  # two Okta sources: not guessed
    assert exploration.sources_for(run.context, "nothing.csv") == []


def test_raw_rows_number_lines_as_the_readers_do(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes('\ufeffid,comment\n1,plain\n2,"two\nlines"\n\n3,last\n'.encode("utf-8"))
    frame = exploration.raw_rows(path)
    assert frame["line"].tolist() == [2, 3, 6] and frame["comment"].tolist() == ["plain", "two\nlines", "last"]
    assert exploration.raw_rows(path, [6])["id"].tolist() == ["3"]


def test_drill_down_of_a_terminated_person_shows_hr_and_the_access_still_held(run):
    leaver = _one(run, "approved_terminated_user")
    sections = exploration.evidence_rows(run, leaver["exception_id"])
    titles = list(sections)
    assert titles[0] == f"Cited evidence: {leaver['evidence_reference']}"
    cited = sections[titles[0]]
    assert len(cited) == 1 and cited["Decision"].iloc[0] == "APPROVE"
    assert cited["Identity Email"].str.casefold().iloc[0] == leaver["subject"]
    hr = sections["HR record of the subject: workday_workers.csv"]
    assert len(hr) == 1 and hr["Termination Date"].iloc[0] != "" and hr["Worker Status"].iloc[0] == "Terminated"
    erp = sections["Accounts and access of the subject: ledgerline_erp_user_roles.csv"]
    assert len(erp) and (erp["END_DATE"] == "").all() and (erp["ACCOUNT_STATUS"] == "ACTIVE").all()
    okta = sections["Accounts and access of the subject: okta_users.csv"]
    assert okta["status"].tolist() == ["ACTIVE"]
    assert "Tickets for the subject: servicenow_access_requests.csv" in sections


def test_drill_down_of_rubber_stamping_lists_every_decision_of_the_reviewer(run):
    stamp = _one(run, "rubber_stamping")
    sections = exploration.evidence_rows(run, stamp["exception_id"])
    cited = sections[f"Cited evidence: {stamp['evidence_reference']}"]
    approved = int(stamp["description"].split(" approved ")[1].split(" of ")[0])
    assert len(cited) == approved >= 20
    assert set(cited["Reviewer Email"].str.casefold()) == {stamp["subject"]} and set(cited["Decision"]) == {"APPROVE"}


def test_drill_down_of_an_unexecuted_revocation_shows_both_files_and_the_open_ticket(run):
    revoke = _one(run, "revocation_not_executed")
    sections = exploration.evidence_rows(run, revoke["exception_id"])
    cited = [t for t in sections if t.startswith("Cited evidence")]
    assert len(cited) == 2 and all(len(sections[t]) == 1 for t in cited)
    listing = sections[next(t for t in cited if "ledgerline_erp_user_roles.csv" in t)]
    assert listing["END_DATE"].tolist() == [""]
    tickets = sections["Tickets for the subject: servicenow_access_requests.csv"]
    assert "Open" in set(tickets["State"])


def test_drill_down_of_an_orphan_account_has_no_hr_record(run):
    orphan = run.register[(run.register["rule"] == "review_population_gap") & ~run.register["subject"].str.contains("@")]
    sections = exploration.evidence_rows(run, orphan["exception_id"].iloc[0])
    assert sections["HR record of the subject: workday_workers.csv"].empty
    accounts = [frame for title, frame in sections.items() if title.startswith("Accounts and access")]
    assert accounts and len(accounts[0])
    html = exploration.detail_html(run, orphan["exception_id"].iloc[0])
    assert "no worker with this e-mail in HR" in html


def test_a_source_its_reader_cannot_read_is_named_not_fatal(run_dir, monkeypatch):
    real = exploration.populations.load_source

    def refuse_tickets(kind, path, **options):
        if kind == "servicenow_access_requests":
            raise exploration.populations.PopulationError(path.name, "the export changed shape")
        return real(kind, path, **options)

    monkeypatch.setattr(exploration.populations, "load_source", refuse_tickets)
    opened = exploration.open_run(run_dir)
    sections = exploration.evidence_rows(opened, _one(opened, "self_review")["exception_id"])
    assert "Tickets for the subject: servicenow_access_requests.csv" not in sections
    assert "changed shape" in sections["Not searched: servicenow_access_requests.csv"]["reason"].iloc[0]


def test_an_unknown_exception_id_is_named(run):
    with pytest.raises(ExplorationError, match="EX-NOPE is not in run"):
        exploration.evidence_rows(run, "EX-NOPE")


# --- history across periods -----------------------------------------------------------------------------

def test_history_follows_the_finding_key_across_periods_and_notes(run_dir, tmp_path):
    outputs = tmp_path / "outputs"
    current = _copy_run_to_period(run_dir, outputs, "2026-Q3", "2026-07-01", "2026-09-30")
    earlier = _copy_run_to_period(run_dir, outputs, "2026-Q2", "2026-04-01", "2026-06-30")
    (outputs / "2026-Q4").mkdir()  # a period without runs is skipped
    register = exceptions.read_register(current / "exceptions.csv")
    row = register[register["rule"] == "rubber_stamping"].iloc[0]
    earlier_id = row["exception_id"].replace("EX-Q3-", "EX-Q2-")
    notes = tmp_path / "q2.remediation.yaml"
    exceptions.write_remediation({
        earlier_id: RemediationRecord(status="remediated", history=[HistoryEntry(date=dt.date(2026, 7, 2), by="Avery",
                                                                                 note="manager retrained")]),
        "EX-OTHER": RemediationRecord(history=[HistoryEntry(date=dt.date(2026, 7, 1), by="Avery", note="unrelated")]),
    }, notes)
    found = exploration.history(outputs, row["finding_key"], [notes])
    assert found.runs["period"].tolist() == ["2026-Q2", "2026-Q3"]
    assert found.runs["run_id"].tolist() == [earlier.name, current.name]
    assert found.notes[["date", "by", "note", "exception_id", "status"]].values.tolist() == [
        ["2026-07-02", "Avery", "manager retrained", earlier_id, "remediated"]]
    assert exploration.history(outputs, "FK-NOTHING").runs.empty
    assert exploration.history(outputs, "").runs.empty


# --- recording notes ---------------------------------------------------------------------------------------

def test_record_note_appends_to_the_period_remediation_file_and_keeps_its_header(run, notes_file):
    notes_file.write_text("# Remediation of 2026-Q3: keep this header.\nEX-KEEP:\n  status: open\n  owner: IT\n",
                          encoding="utf-8")
    stamp = _one(run, "rubber_stamping")
    exploration.record_note(run, stamp["exception_id"], "Asked the AP manager how the lines were reviewed.",
                            "Avery Quinn", today=TODAY)
    path = exploration.record_note(run, stamp["exception_id"], "  Manager confirmed: no review.  ", "Morgan Lee",
                                   today=TODAY + dt.timedelta(days=1))
    assert path == notes_file.resolve()
    assert notes_file.read_text(encoding="utf-8").startswith("# Remediation of 2026-Q3: keep this header.\n")
    records = exceptions.read_remediation(notes_file)
    assert records["EX-KEEP"].owner == "IT"
    record = records[stamp["exception_id"]]
    assert [(h.date, h.by, h.note) for h in record.history] == [
        (TODAY, "Avery Quinn", "Asked the AP manager how the lines were reviewed."),
        (TODAY + dt.timedelta(days=1), "Morgan Lee", "Manager confirmed: no review.")]
    assert (record.finding_key, record.control_id, record.rule, record.subject, record.status) == (
        stamp["finding_key"], "UAR-01", "rubber_stamping", stamp["subject"], "open")
    run.reload_records()
    assert "Manager confirmed: no review." in _one(run, "rubber_stamping")["history"]


def test_a_note_on_a_finding_carried_from_an_earlier_period_goes_into_the_carried_record(run_dir, notes_file):
    register = exceptions.read_register(run_dir / "exceptions.csv")
    row = register[register["rule"] == "self_review"].iloc[0]
    carried = RemediationRecord(status="remediated", finding_key=row["finding_key"], control_id="UAR-01",
                                history=[HistoryEntry(date=dt.date(2026, 7, 1), by="workbench rollforward",
                                                      note="carried forward from 2026-Q2 (EX-OLD) with status remediated")])
    exceptions.write_remediation({"EX-OLD": carried}, notes_file)
    opened = exploration.open_run(run_dir)
    assert _one(opened, "self_review")["status"] == "remediated"  # the carried record applies to this finding
    exploration.record_note(opened, row["exception_id"], "Recurred: escalate.", "Avery", today=TODAY)
    records = exceptions.read_remediation(notes_file)
    assert set(records) == {"EX-OLD"}
    assert [h.note for h in records["EX-OLD"].history][-1] == "Recurred: escalate."
    opened.reload_records()
    assert "Recurred: escalate." in _one(opened, "self_review")["history"]
    assert (opened.register["in_current_run"] == "yes").all()


@pytest.mark.parametrize("note,by,target,message", [
    ("", "Avery", None, "write the note"),
    ("a note", " ", None, "say who records the note"),
    ("a note", "Avery", "RUN/notes.yaml", "runs are evidence"),
    ("a note", "Avery", "TMP/notes.csv", "YAML remediation file"),
    ("a note", "Avery", "TMP/missing/notes.yaml", "folder of the remediation file does not exist"),
])
def test_record_note_refuses_what_it_must_not_do(run, tmp_path, note, by, target, message):
    if target:
        target = target.replace("RUN", str(run.run_dir)).replace("TMP", str(tmp_path))
    with pytest.raises(ExplorationError, match=message):
        exploration.record_note(run, run.register["exception_id"].iloc[0], note, by, remediation_file=target)


# --- the widgets, headless ---------------------------------------------------------------------------------

def test_explorer_filters_the_table_and_drills_down(run):
    explorer = exploration.build_explorer(run)
    def table():
        return explorer.table.outputs[0]["data"]["text/html"]

    def detail():
        return explorer.detail.outputs[0]["data"]["text/html"]

    assert len(explorer.matching) == len(run.register)
    assert explorer.choice.value == explorer.matching["exception_id"].iloc[0]
    assert explorer.matching["severity"].iloc[0] == "high" and "Evidence rows" in detail()
    explorer.filters["rule"].value = ("rubber_stamping",)
    stamp = _one(run, "rubber_stamping")
    assert explorer.choice.options == ((exploration.choice_label(stamp), stamp["exception_id"]),)
    assert "rubber_stamping" in table() and "self_review" not in table()
    assert f"Exception {stamp['exception_id']}" in detail() and "Reviewer Email" in detail()
    assert explorer.count.value.startswith("<b>1</b> of")
    explorer.filters["rule"].value = ("approved_terminated_user",)
    assert "HR record of the subject" in detail() and "Termination Date" in detail()
    explorer.filters["severity"].value = ("medium",)  # no approval of a leaver is of medium severity
    assert explorer.choice.value is None and "No exception matches" in table() and "No exception selected" in detail()
    explorer.clear.click()
    assert len(explorer.matching) == len(run.register)


def test_explorer_starts_on_a_control_when_asked(run):
    explorer = exploration.build_explorer(run, control_id="UAR-01")
    assert explorer.filters["control"].value == ("UAR-01",)
    with pytest.raises(ExplorationError, match="control NOPE-01 has no exception"):
        exploration.build_explorer(run, control_id="NOPE-01")


def test_exploring_and_recording_a_note_never_changes_the_run(run_dir, notes_file):
    before = _tree_digest(run_dir)
    run = exploration.open_run(run_dir)
    explorer = exploration.build_explorer(run)
    for rule in exploration.filter_options(run.register)["rule"]:
        explorer.filters["rule"].value = (rule,)
    explorer.record.click()
    assert "Not recorded: write the note" in explorer.message.value
    explorer.filters["rule"].value = ("rubber_stamping",)
    explorer.note.value = "Reviewer interviewed on 20 October."
    explorer.record.click()
    assert "Note recorded against" in explorer.message.value and explorer.note.value == ""
    assert "Reviewer interviewed on 20 October." in explorer.detail.outputs[0]["data"]["text/html"]
    assert "Reviewer interviewed" in notes_file.read_text(encoding="utf-8")
    for chart in exploration.run_charts(run):
        chart.png()
    assert _tree_digest(run_dir) == before


def test_explorer_loads_the_other_periods_and_starts_on_the_runs_period(run_dir, tmp_path):
    outputs = tmp_path / "outputs"
    current = _copy_run_to_period(run_dir, outputs, "2026-Q3", "2026-07-01", "2026-09-30")
    _copy_run_to_period(run_dir, outputs, "2026-Q2", "2026-04-01", "2026-06-30")
    explorer = exploration.build_explorer(exploration.open_run(current, remediation_file=tmp_path / "n.yaml"))
    assert [r.period for r in explorer.runs] == ["2026-Q3", "2026-Q2"]
    assert explorer.filters["period"].value == ("2026-Q3",)
    assert set(explorer.matching["period"]) == {"2026-Q3"}
    explorer.clear.click()
    assert set(explorer.matching["period"]) == {"2026-Q2", "2026-Q3"}
    explorer.filters["period"].value = ("2026-Q2",)
    assert explorer.run_of(explorer.choice.value).period == "2026-Q2"
    assert "Found in the latest run of each period" in explorer.detail.outputs[0]["data"]["text/html"]


def test_run_charts_show_the_rubber_stamper(run):
    shown = exploration.run_charts(run)
    stamp = _one(run, "rubber_stamping")
    name = stamp["description"].split(" approved ")[0]
    assert [c.alt.split(":")[0] for c in shown[2:]] == ["UAR-01", "UAR-01"]
    assert any(f"meet every threshold: {name}" in c.alt for c in shown)
    assert shown[0].alt.startswith("Stacked bar chart of")


def test_a_chart_that_cannot_be_drawn_is_explained_not_fatal(run, monkeypatch):
    def broken(run, control):
        raise KeyError("decided_at")

    monkeypatch.setattr(exploration, "_control_charts", broken)
    shown = exploration.run_charts(run)
    assert len(shown) == 3 and "UAR-01: chart not available (KeyError" in shown[2].markup


# --- the notebook, headless -----------------------------------------------------------------------------------

def test_the_notebook_runs_headless_against_a_run_without_changing_it(run_dir, tmp_path):
    import papermill

    before = _tree_digest(run_dir)
    out = tmp_path / "explored.ipynb"
    papermill.execute_notebook(str(ROOT / "src" / "workbench" / "notebooks" / "explore_exceptions.ipynb"), str(out),
                               parameters={"run_dir": str(run_dir), "control_id": ""}, kernel_name="python3",
                               cwd=str(ROOT / "src" / "workbench" / "notebooks"), progress_bar=False,
                               extra_arguments=["--IPKernelApp.log_level=ERROR"])
    notebook = nbformat.read(out, as_version=4)
    outputs = {cell.id: cell.outputs for cell in notebook.cells if cell.cell_type == "code"}
    assert not [o for cell in outputs.values() for o in cell if o.output_type == "error"]
    assert run_dir.name in outputs["open-run"][0]["data"]["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in outputs["explorer"][0]["data"]
    state = json.dumps(notebook.metadata["widgets"])
    assert "rubber_stamping" in state and "Evidence rows" in state
    assert len(outputs["charts"]) == 4 and all("data:image/png;base64," in o["data"]["text/html"] for o in outputs["charts"])
    assert _tree_digest(run_dir) == before


# --- issue 15, item 7: the run's statuses, evidence cells, search, long values, comments kept ------------------

def test_the_explorer_shows_the_runs_own_statuses_including_retested_pass(run_dir, tmp_path):
    """A run whose register has lifecycle columns: a carried record the run retested (pass) and a
    finding whose status the auditor changed in the file after the run."""
    copy = tmp_path / "outputs" / "2026-Q3" / run_dir.name
    shutil.copytree(run_dir, copy)
    register = exceptions.read_register(copy / "exceptions.csv")
    first = register["exception_id"].iloc[0]
    gone = RemediationRecord(status="remediated", finding_key="FK-GONE", control_id="UAR-01", rule="self_review",
                             subject="gone@x.example", system="ledgerline_erp", framework="SOX", severity="medium",
                             retest=exceptions.Retest(period="2026-Q3", sample_size=2, basis="policy"))
    at_run = {"EX-UAR01-GONE": gone}
    exceptions.write_register(exceptions.merge_records(register, at_run, dt.date(2026, 9, 30), "2026-Q3"),
                              copy / "exceptions.csv")
    notes = tmp_path / "notes.remediation.yaml"  # the file now: the auditor marked the first finding remediated
    exceptions.write_remediation(at_run | {first: RemediationRecord(status="remediated")}, notes)
    opened = exploration.open_run(copy, remediation_file=notes).register.set_index("exception_id")
    assert opened.loc["EX-UAR01-GONE", "status"] == "retested-pass"  # not the file's "remediated"
    assert opened.loc["EX-UAR01-GONE", "in_current_run"] == "no" and opened.loc["EX-UAR01-GONE", "system"] == "ledgerline_erp"
    assert list(opened.index).count("EX-UAR01-GONE") == 1
    assert (opened.loc[first, "status"], opened.loc[first, "status_in_file"]) == ("open", "remediated")
    run = exploration.open_run(copy, remediation_file=notes)
    assert "remediated (changed since the run)" in exploration.detail_html(run, first)
    explorer = exploration.build_explorer(run, other_periods=False)
    assert "retested-pass" in explorer.filters["status"].options


def test_the_evidence_cells_that_make_the_finding_are_highlighted(run):
    leaver = _one(run, "approved_terminated_user")
    html = exploration.detail_html(run, leaver["exception_id"])
    assert '<th class="wb-evidence">Termination Date</th>' in html and '<th class="wb-evidence">Decision</th>' in html
    assert '<th>Reviewer Name</th>' in html  # not evidence of this rule: not highlighted
    assert "cells make the finding: decision, decision_date, termination_date" in html
    assert set(exploration.EVIDENCE_COLUMNS) >= set(run.register["rule"])  # every rule of the run has its columns


def test_the_search_box_narrows_the_table_to_rows_containing_every_word(run):
    explorer = exploration.build_explorer(run)
    stamp = _one(run, "rubber_stamping")
    explorer.search.value = stamp["subject"].upper() + " rubber"
    assert explorer.matching["exception_id"].tolist() == [stamp["exception_id"]]
    assert explorer.choice.value == stamp["exception_id"]
    explorer.search.value = "no such words anywhere"
    assert explorer.matching.empty and "No exception matches" in explorer.table.outputs[0]["data"]["text/html"]
    explorer.clear.click()
    assert explorer.search.value == "" and len(explorer.matching) == len(run.register)


def test_long_values_are_shown_in_full_and_wrap():
    long = "x" * 400 + " <b>not markup</b>"
    html = explorer_view.wrapped(explorer_view.evidence_table(pd.DataFrame({"Comments": [long], "Decision": ["APPROVE"]}),
                                                              "Cited", ["decision"]))
    assert "x" * 400 + " &lt;b&gt;not markup&lt;/b&gt;" in html and "white-space: pre-wrap" in html
    assert '<td class="wb-evidence">APPROVE</td>' in html and "<td>" + "x" * 400 in html


def test_recording_a_note_keeps_the_auditors_comments_and_layout(run, notes_file):
    stamp = _one(run, "rubber_stamping")
    original = (f"# Remediation of 2026-Q3: keep this header.\n"
                f"EX-KEEP:   # agreed with Mei on 14 October\n"
                f"    status: open    # waiting for HR\n"
                f"    owner: 'IT service desk'\n"
                f"# --- findings of this run ---\n"
                f"{stamp['exception_id']}:\n"
                f"    owner: AP manager\n")
    notes_file.write_text(original, encoding="utf-8")
    exploration.record_note(run, stamp["exception_id"], "Asked: how were the lines reviewed?", "Avery Quinn", today=TODAY)
    text = notes_file.read_text(encoding="utf-8")
    assert text.startswith(original)
    assert text[len(original):] == ("    history:\n"
                                    "    - date: 2026-10-20\n"
                                    "      by: Avery Quinn\n"
                                    "      note: 'Asked: how were the lines reviewed?'\n")
    assert exceptions.read_remediation(notes_file)[stamp["exception_id"]].owner == "AP manager"
