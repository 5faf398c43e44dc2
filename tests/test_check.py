"""``workbench check``: every mistake of a period file at once, with its line and key, before anything runs.

The period checked here is the demo period file with the small export fixtures of tests/data/exports
as its sources (plus one mapped export); it checks clean, and a copy with fourteen different
mistakes reports all fourteen in one run, each with its YAML line, key path and suggestion, and
nothing else. ``workbench run`` refuses the same file before it creates a run folder. The demo's
own period files check clean on generated demo data, so the check cannot refuse a good period.
The source roles each procedure declares are held to what its code really reads.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import ROOT, make_demo_project
from workbench import check, cli, populations, procedures, tables
from workbench.check import KIND_TABLES, check_period
from workbench.runner import DEMO_PARAMETER_FILE, PRIOR_DEMO_PARAMETER_FILE, prepare_run

DATA = ROOT / "tests" / "data" / "exports"
MAPPED_SOURCE = f"""  - id: midpoint_reviews
    kind: mapped
    path: {DATA}/mapped/midpoint_work_items.csv
    source_system: midPoint (work items report)
    extracted_at: 2026-10-01T06:00:00Z
    timezone: Europe/Berlin
    options:
      table: review_decisions
      delimiter: ";"
      preamble_lines: 2
      timestamp_format: "%d.%m.%Y %H:%M"
      columns:
        campaign_id: Campaign
        subject_email: Object
        entitlement: Target
        decision: Outcome
      values:
        decision: {{Accept: approve, Revoke: revoke, Reduce: revoke, No response: undecided}}

controls:
"""


def valid_period() -> str:
    """The demo period file reading the test fixtures (absolute paths), with a mapped source added."""
    text = (ROOT / "parameters" / DEMO_PARAMETER_FILE).read_text(encoding="utf-8")
    text = text.replace("../data/demo/2026-Q3/", f"{DATA}/")
    assert "\ncontrols:\n" in text
    return text.replace("\ncontrols:\n", "\n" + MAPPED_SOURCE, 1)


def swap(text: str, old: str, new: str, within: str | None = None) -> str:
    """Replace the first ``old`` (after ``within``, if given); the test fails if it is not there."""
    start = text.index(within) if within else 0
    at = text.index(old, start)
    return text[:at] + new + text[at + len(old):]


#: (what is wrong, text before, text after, within) — applied in this order to the valid period.
MISTAKES = [
    ("misspelt top-level key", "reviewer: ", "reviewr: ", None),
    ("period end before start", "start: 2026-07-01", "start: 2026-10-01", None),
    ("seed given twice", "seed: 814594837\n", "seed: 814594837\nseed: 12345\n", None),
    ("unknown export kind", "kind: aws_iam_group_memberships", "kind: aws_iam_group_membership", None),
    ("missing export file", "apps/github_org_members.csv", "apps/github_org_memberz.csv", None),
    ("unknown reader option", "    source_system: Workday (All Workers report)\n",
     "    source_system: Workday (All Workers report)\n    options:\n      delimeter: \",\"\n", None),
    ("mapped column not in the file", "campaign_id: Campaign", "campaign_id: Campaing", None),
    ("unknown source in a control", "review_campaign: uar_campaign", "review_campaign: uar_campaing", None),
    ("misspelt setting", "launch_within_days: 5", "launch_within_dayz: 5", None),
    ("unknown source role", "role_grants: [erp_roles]", "role_grant: [erp_roles]", None),
    ("unknown system in a control", "systems: [okta, ledgerline_erp, aws_prod, github]",
     "systems: [okta, ledgerline_erp, aws_prod, githib]", None),
    ("required role missing", "      privileged_approved: privileged_approved\n", "", "id: PRIV-01"),
    ("role filled by a source of the wrong table", "hr: hr_workers", "hr: okta_users", "id: SOD-CTL-01"),
    ("misspelt procedure", "procedure: authentication", "procedure: authentification", None),
]


def mistaken_period() -> str:
    text = valid_period()
    for _, old, new, within in MISTAKES:
        text = swap(text, old, new, within)
    return text


def line_of(text: str, fragment: str, after: str | None = None) -> int:
    """1-based line of the first line containing ``fragment`` (after the line containing ``after``)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines[start:], start + 1) if fragment in line)


def expected_problems(text: str) -> dict[str, tuple[int, str | None, str]]:
    """Key path -> (YAML line, did you mean, a phrase of the message) for every mistake of ``MISTAKES``."""
    return {
        "reviewr": (line_of(text, "reviewr:"), "reviewer", "not a known key"),
        "period": (line_of(text, "period:"), None, "period start 2026-10-01 is after period end 2026-09-30"),
        "seed": (line_of(text, "seed: 12345"), None, f"given twice in the same mapping (lines "
                                                     f"{line_of(text, 'seed: 814594837')} and {line_of(text, 'seed: 12345')})"),
        "sources[6].kind": (line_of(text, "kind: aws_iam_group_membership"), "aws_iam_group_memberships",
                            "not an export kind"),
        "sources[4].path": (line_of(text, "github_org_memberz.csv"), None, "the export file does not exist"),
        "sources[0].options.delimeter": (line_of(text, "delimeter:"), "delimiter",
                                         "not a reader option of export kind 'workday_workers'"),
        "sources[25].options.columns.campaign_id": (line_of(text, "campaign_id: Campaing"), "Campaign",
                                                    "midpoint_work_items.csv: missing required column(s) 'Campaing'"),
        "controls[0].sources.review_campaign": (line_of(text, "review_campaign: uar_campaing"), "uar_campaign",
                                                "names the source 'uar_campaing', which is not among"),
        "controls[0].settings.launch_within_dayz": (line_of(text, "launch_within_dayz"), "launch_within_days",
                                                    "not a known setting of procedure user_access_review"),
        "controls[1].sources.role_grant": (line_of(text, "role_grant:"), "role_grants",
                                           "not a source role of procedure provisioning"),
        "controls[2].systems[3]": (line_of(text, "githib"), "github", "names the system 'githib'"),
        "controls[3].sources": (line_of(text, "    sources:", after="id: PRIV-01"), None,
                                "no source for the role 'privileged_approved', which procedure privileged_access needs"),
        "controls[4].sources.hr": (line_of(text, "hr: okta_users"), "hr_workers",
                                   "the source 'okta_users' (kind okta_users) fills the accounts table, but the "
                                   "role 'hr' takes identities"),
        "controls[5].procedure": (line_of(text, "authentification"), "authentication", "not a procedure"),
    }


@pytest.fixture()
def mistaken(tmp_path) -> Path:
    folder = tmp_path / "parameters"
    folder.mkdir()
    path = folder / "2026-Q3.yaml"
    path.write_text(mistaken_period(), encoding="utf-8")
    return path


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its content, to prove nothing was written."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- a small valid period, and one with every kind of mistake ---------------------------------------

def test_the_small_valid_period_is_ready_to_run(tmp_path, capsys):
    path = tmp_path / "2026-Q3.yaml"
    path.write_text(valid_period(), encoding="utf-8")
    report = check_period(path)
    assert report.problems == []
    assert report.parameters is not None and report.parameters.period.id == "2026-Q3"
    assert report.tables["midpoint_reviews"] == "review_decisions" and report.tables["hr_workers"] == "identities"
    assert cli.main(["check", str(path)]) == 0
    assert capsys.readouterr().out.strip() == (f"{path}: ready to run: 26 sources, 8 controls (every key, export, "
                                               "setting and source role checked).")


def test_every_mistake_is_reported_at_once_with_its_line_key_and_suggestion(mistaken):
    text = mistaken.read_text(encoding="utf-8")
    report = check_period(mistaken)
    found = {p.key: p for p in report.problems}
    expected = expected_problems(text)
    assert len(MISTAKES) == len(expected) == 14
    assert sorted(found) == sorted(expected), "exactly one problem per mistake, and nothing else"
    assert len(report.problems) == len(expected)
    for key, (line, hint, phrase) in expected.items():
        problem = found[key]
        assert (problem.line, problem.did_you_mean) == (line, hint), (key, problem)
        assert phrase in problem.message, (key, problem.message)
        assert problem.file == str(mistaken)
    assert report.parameters is None


def test_the_mapped_column_keeps_the_readers_message_naming_file_and_headers(mistaken):
    problem = next(p for p in check_period(mistaken).problems if p.key.endswith("columns.campaign_id"))
    assert "mapped/midpoint_work_items.csv" in problem.message and "columns found: 'Object', 'Target', 'Campaign'" \
        in problem.message


def test_the_check_command_prints_the_problems_grouped_and_exits_2_writing_nothing(mistaken, capsys):
    before = tree(mistaken.parent.parent)
    assert cli.main(["check", str(mistaken)]) == 2
    out = capsys.readouterr().out
    assert tree(mistaken.parent.parent) == before, "workbench check writes nothing"
    text = mistaken.read_text(encoding="utf-8")
    headings = [line for line in out.splitlines() if line and not line.startswith(" ")]
    assert headings[1:-1] == ["Period file", "Source hr_workers (sources[0])", "Source github_members (sources[4])",
                              "Source aws_groups (sources[6])", "Source midpoint_reviews (sources[25])",
                              "Control UAR-01 (controls[0])", "Control PROV-01 (controls[1])",
                              "Control TERM-01 (controls[2])", "Control PRIV-01 (controls[3])",
                              "Control SOD-CTL-01 (controls[4])", "Control AUTH-01 (controls[5])"]
    assert headings[0].startswith(f"{mistaken}: 14 problem(s)") and headings[-1].startswith("14 problem(s) in")
    for key, (line, hint, _) in expected_problems(text).items():
        shown = next(row for row in out.splitlines() if row.lstrip().startswith(f"line {line:>4}  {key}:"))
        assert hint is None or shown.endswith(f"did you mean '{hint}'?"), shown


def test_run_refuses_the_period_before_creating_a_run_folder(mistaken, capsys):
    out = mistaken.parent.parent / "outputs"
    out.mkdir()
    assert cli.main(["run", str(mistaken), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert list(out.iterdir()) == [], "no run folder, no period folder"
    assert "14 problem(s)" in err
    assert "sources[25].options.columns.campaign_id" in err and "controls[5].procedure" in err


def test_run_refuses_an_unreadable_export_even_when_every_key_is_valid(tmp_path, capsys):
    """The keys load (``load_period`` passes), so the run starts its kernels; the check still stops it."""
    path = tmp_path / "2026-Q3.yaml"
    path.write_text(swap(valid_period(), "campaign_id: Campaign", "campaign_id: Campaing"), encoding="utf-8")
    out = tmp_path / "outputs"
    out.mkdir()
    assert cli.main(["run", str(path), "--out", str(out), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert list(out.iterdir()) == []
    assert "sources[25].options.columns.campaign_id" in err and "did you mean 'Campaign'?" in err


# --- each layer on its own ------------------------------------------------------------------------------

def problems_of(tmp_path: Path, text: str) -> list[check.Problem]:
    path = tmp_path / "period.yaml"
    path.write_text(text, encoding="utf-8")
    return check_period(path).problems


def test_yaml_syntax_error_names_its_line(tmp_path):
    text = swap(valid_period(), "entity: Harbor", "entity: [Harbor")
    [problem] = problems_of(tmp_path, text)
    assert problem.line == line_of(text, "period:") and "not valid YAML" in problem.message  # where YAML stops


def test_a_duplicate_key_deep_in_a_source_is_found(tmp_path):
    text = swap(valid_period(), "    timezone: UTC\n", "    timezone: UTC\n    timezone: Europe/Paris\n")
    [problem] = problems_of(tmp_path, text)
    assert problem.key == "sources[3].timezone" and problem.line == line_of(text, "Europe/Paris")


def test_a_second_source_for_a_single_source_role_is_a_problem(tmp_path):
    [problem] = problems_of(tmp_path, swap(valid_period(), "hr: hr_workers", "hr: [hr_workers, hr_workers]"))
    assert problem.key == "controls[0].sources.hr" and "takes one source" in problem.message


def test_several_sources_where_the_role_takes_several_are_fine(tmp_path):
    text = swap(valid_period(), "credential_reports: [aws_credential_report]", "credential_reports: aws_credential_report")
    assert problems_of(tmp_path, text) == []


def test_an_optional_role_becomes_required_with_its_setting(tmp_path):
    without = swap(valid_period(), "      review_decisions: uar_decisions\n", "", within="id: PRIV-01")
    [problem] = problems_of(tmp_path, without)
    assert problem.key == "controls[3].sources" and "settings.review_snapshot_date is given" in problem.message
    assert problems_of(tmp_path, swap(without, "settings:\n      review_snapshot_date: 2026-08-14\n", "settings: {}\n")) == []


def test_an_optional_role_may_be_left_out(tmp_path):
    text = swap(valid_period(), "      sod_mitigations: sod_mitigations\n", "", within="id: SOD-CTL-01")
    assert problems_of(tmp_path, text) == []


def test_a_source_the_reader_refuses_keeps_the_readers_message(tmp_path):
    text = swap(valid_period(), "kind: campaign_status", "kind: campaign_decisions")
    problems = {p.key: p for p in problems_of(tmp_path, text)}
    assert problems["sources[8]"].line == line_of(text, "id: uar_campaign")
    assert "reviews/uar_2026Q3_campaign_status.csv: missing required column(s)" in problems["sources[8]"].message
    # its table comes from its kind when it cannot be read: a review_decisions table cannot be the campaign
    assert "fills the review_decisions table" in problems["controls[0].sources.review_campaign"].message


def test_duplicate_ids_are_reported_without_guessing_which_source_is_meant(tmp_path):
    text = swap(valid_period(), "id: okta_users", "id: hr_workers")
    keys = sorted(p.key for p in problems_of(tmp_path, text))
    assert keys == ["controls[2].sources.idp_users", "controls[5].sources.idp_users", "sources[1].id"]


def test_a_missing_period_file(tmp_path):
    [problem] = check_period(tmp_path / "nope.yaml").problems
    assert "does not exist" in problem.message


def test_a_value_that_is_not_plain_yaml_is_reported_once(tmp_path):
    text = swap(valid_period(), "preparer: Avery Quinn, Senior IT Auditor", "preparer: !!set {a, b}")
    [problem] = problems_of(tmp_path, text)
    assert problem.key == "preparer" and "no YAML tags" in problem.message


def test_a_key_yaml_reads_as_a_boolean_is_named_once(tmp_path):
    text = swap(valid_period(), "No response: undecided", "No: undecided")  # YAML 1.1 reads the key No as false
    [problem] = problems_of(tmp_path, text)
    assert problem.key == "sources[25].options.values.decision.False" and "quote a key" in problem.message
    assert problem.line == line_of(text, "decision: {Accept")


# --- the demo periods check clean ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", [PRIOR_DEMO_PARAMETER_FILE, DEMO_PARAMETER_FILE])
def test_the_demo_period_files_check_clean_on_demo_data(demo_project, name, capsys):
    report = check_period(demo_project / "parameters" / name)
    assert report.problems == [] and (report.sources, report.controls) == (25, 8)
    assert cli.main(["check", str(demo_project / "parameters" / name)]) == 0
    assert "ready to run: 25 sources, 8 controls" in capsys.readouterr().out


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory) -> Path:
    return make_demo_project(tmp_path_factory.mktemp("check-demo"), prior=True)


# --- the kind -> table map agrees with the readers ----------------------------------------------------------

READER_FIXTURES = {
    "workday_workers": ("hr/workday_workers.csv", {}),
    "okta_users": ("idp/okta_users.csv", {}),
    "okta_app_assignments": ("idp/okta_app_assignments.csv", {}),
    "ledgerline_erp_user_roles": ("apps/ledgerline_erp_user_roles.csv", {}),
    "github_org_members": ("apps/github_org_members.csv", {}),
    "aws_iam_credential_report": ("cloud/aws_iam_credential_report.csv", {}),
    "aws_iam_group_memberships": ("cloud/aws_iam_group_memberships.csv", {}),
    "campaign_decisions": ("reviews/uar_2026Q3_decisions.csv", {}),
    "campaign_status": ("reviews/uar_2026Q3_campaign_status.csv", {}),
    "servicenow_access_requests": ("tickets/servicenow_access_requests.csv", {}),
    "sod_rules": ("policy/sod_rules.csv", {}),
    "sod_mitigations": ("policy/sod_mitigations.csv", {}),
    "privileged_access_approved": ("policy/privileged_access_approved.csv", {}),
    "entra_users": ("idp/entra_users.csv", {"options": {"timestamp_format": "%m/%d/%Y %I:%M:%S %p"}}),
    "google_workspace_users": ("idp/google_workspace_users.csv", {}),
    "okta_system_log": ("idp/okta_system_log.ndjson", {}),
    "github_pull_requests": ("changes/github_ledgerline_pulls.json", {"system": "ledgerline_erp"}),
    "github_pull_reviews": ("changes/github_ledgerline_reviews.json", {"system": "ledgerline_erp"}),
    "github_deployments": ("changes/github_ledgerline_deployments.json", {"system": "ledgerline_erp"}),
    "gitlab_merge_requests": ("gitlab/web-portal_merge_requests.json", {"system": "web_portal"}),
    "gitlab_merge_request_approvals": ("gitlab/web-portal_approvals.json", {"system": "web_portal"}),
    "aws_backup_jobs": ("operations/aws_backup_jobs.json", {"system": "aws_prod"}),
}
MAPPED_FIXTURES = {
    "mapped/midpoint_work_items.csv": {"table": "review_decisions", "delimiter": ";", "preamble_lines": 2,
                                       "columns": {"campaign_id": "Campaign", "subject_email": "Object",
                                                   "entitlement": "Target", "decision": "Outcome"},
                                       "values": {"decision": {"Accept": "approve", "Revoke": "revoke",
                                                               "Reduce": "revoke", "No response": "undecided"}}},
    "mapped/netsuite_roles.parquet": {"table": "grants", "columns": {"account_id": "Login", "entitlement": "Role"}},
    "mapped/salesforce_users.xlsx": {"table": "accounts", "sheet": "Users", "preamble_lines": 2,
                                     "columns": {"account_id": "User ID", "status": "Active"},
                                     "values": {"status": {"true": "active", "false": "disabled"}}},
}


def test_every_reader_kind_has_its_table_in_the_map():
    assert set(KIND_TABLES) == set(populations.READERS) - {"mapped"}
    assert set(KIND_TABLES.values()) <= set(tables.TABLES)
    assert set(READER_FIXTURES) == set(KIND_TABLES), "a fixture for every kind"


@pytest.mark.parametrize("kind", sorted(READER_FIXTURES))
def test_the_kind_table_map_agrees_with_what_each_reader_builds(kind):
    fixture, kwargs = READER_FIXTURES[kind]
    population = populations.load_source(kind, DATA / fixture, extracted_at="2026-10-01T06:00:00Z", **kwargs)
    assert population.table == KIND_TABLES[kind]


@pytest.mark.parametrize("fixture", sorted(MAPPED_FIXTURES))
def test_a_mapped_source_fills_the_table_its_options_name(fixture):
    options = MAPPED_FIXTURES[fixture]
    population = populations.load_source("mapped", DATA / fixture, system="erp", options=options)
    assert population.table == options["table"] == check._Checker.declared_table("mapped", options)


@pytest.mark.parametrize("fixture", sorted(MAPPED_FIXTURES))
def test_the_header_row_is_read_as_the_reader_reads_it(fixture):
    """The did-you-mean for a mapped column comes from this header row: the reader must agree with it."""
    options = MAPPED_FIXTURES[fixture]
    headers = check.export_headers(DATA / fixture, options)
    assert headers is not None and set(options["columns"].values()) <= set(headers)
    wrong = dict(options, columns=dict(options["columns"], account_id="Nope") if "account_id" in options["columns"]
                 else dict(options["columns"], campaign_id="Nope"))
    with pytest.raises(populations.PopulationError) as caught:
        populations.load_source("mapped", DATA / fixture, system="erp", options=wrong)
    assert all(f"'{h}'" in str(caught.value) for h in headers), "the reader lists the same headers"


# --- the source roles each procedure declares are what its code reads ------------------------------------

ROLE_USE = re.compile(r"""(frames?|source_ids)\("([a-z_]+)"(?:, [^)]*)?\)(\[0\])?|"([a-z_]+)" (?:not )?in self\.control\.sources""")


def role_uses(procedure: str) -> dict[str, set[str]]:
    """Role -> how the procedure's module reads it: 'frame' (first source), 'frames' (every source), 'guarded'."""
    text = (ROOT / "src" / "workbench" / "procedures" / f"{procedure}.py").read_text(encoding="utf-8")
    uses: dict[str, set[str]] = {}
    for call, role, first, guarded in ROLE_USE.findall(text):
        if guarded:
            uses.setdefault(guarded, set()).add("guarded")
        elif call == "frame" or first:
            uses.setdefault(role, set()).add("frame")
        else:
            uses.setdefault(role, set()).add("frames")
    return uses


def identification_roles() -> set[str]:
    """The roles the shared identity resolution reads when a control gives them (every procedure)."""
    text = (ROOT / "src" / "workbench" / "procedures" / "identification.py").read_text(encoding="utf-8")
    return set(re.findall(r"""optional\("([a-z_]+)"\)""", text))


@pytest.mark.parametrize("procedure", procedures.PROCEDURES)
def test_declared_roles_are_the_roles_the_code_reads_one_or_several(procedure):
    declared = procedures.procedure_class(procedure).SOURCE_ROLES
    uses = role_uses(procedure)
    assert "identity_aliases" in declared, "every procedure takes the alias table"
    for role in identification_roles() & set(declared):
        uses.setdefault(role, set()).add("frame")
    assert set(declared) == set(uses)
    for role, spec in declared.items():
        assert spec.several == ("frames" in uses[role]), role
        assert set(spec.tables) <= set(tables.TABLES), "a role takes canonical tables"
        assert spec.required_with is None or spec.required_with in procedures.settings_model(procedure).model_fields


def notebook_steps(procedure: str) -> list[str]:
    """What the procedure's notebook asks of its test object, in order (``test.x()`` or ``test.x``)."""
    notebook = json.loads((ROOT / "src" / "workbench" / "notebooks" / f"{procedure}.ipynb").read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code")
    return list(dict.fromkeys(re.findall(r"test\.([a-z_]+)", code)))


def run_notebook_steps(test) -> None:
    for step in notebook_steps(type(test).__module__.rsplit(".", 1)[1]):
        value = getattr(test, step)
        if callable(value):
            value()


@pytest.fixture(scope="module")
def demo_run(demo_project):
    return prepare_run(demo_project / "parameters" / DEMO_PARAMETER_FILE, demo_project / "outputs")


def control_without(context, procedure: str, role: str, keep_setting: bool = True):
    control = next(c for c in context.parameters.controls if c.procedure == procedure)
    spec = procedures.procedure_class(procedure).SOURCE_ROLES[role]
    settings = dict(control.settings)
    if spec.required_with and not keep_setting:
        settings.pop(spec.required_with, None)
    sources = {k: v for k, v in control.sources.items() if k != role}
    return control.model_copy(update={"sources": sources, "settings": settings})


@pytest.mark.parametrize("procedure, role", [(p, r) for p in procedures.PROCEDURES
                                             for r in procedures.procedure_class(p).SOURCE_ROLES])
def test_a_role_is_optional_exactly_when_the_procedure_runs_without_it(demo_run, procedure, role):
    """Every notebook step runs without an optional role; without a required one, the run stops naming it."""
    test_class = procedures.procedure_class(procedure)
    spec = test_class.SOURCE_ROLES[role]
    control = control_without(demo_run, procedure, role, keep_setting=False)
    test = test_class(demo_run, control, test_class.Settings.model_validate(control.settings))
    if spec.required:
        with pytest.raises(KeyError, match=f"'{role}'"):
            run_notebook_steps(test)
        return
    run_notebook_steps(test)
    if spec.required_with:  # with its setting given, the role is needed after all
        control = control_without(demo_run, procedure, role, keep_setting=True)
        test = test_class(demo_run, control, test_class.Settings.model_validate(control.settings))
        with pytest.raises(KeyError, match=f"'{role}'"):
            run_notebook_steps(test)


def test_mistakes_in_an_exports_declared_reshaping_are_named_at_their_key(tmp_path):
    """A derived column naming a header the file lacks, a value map naming an unmapped column and
    an expression that fails on a value: each is reported at its own key and line, with the file,
    and with the closest real header."""
    text = valid_period()
    text = swap(text, "      columns:\n        campaign_id: Campaign",
                "      derive:\n        reviewer_name: >-\n          \"Performer\" || ' (' || \"Orignal assignee\" || ')'\n"
                "      columns:\n        campaign_id: Campaign", within="id: midpoint_reviews")
    text = swap(text, "    extracted_at: 2026-10-01T06:00:00Z\n",
                "    extracted_at: 2026-10-01T06:00:00Z\n    options:\n      derive:\n"
                "        Hire Date: CAST(\"Termination Date\" AS DATE) + 1\n", within="id: erp_roles")
    text = swap(text, "    extracted_at: 2026-10-01T06:00:00Z\n",
                "    extracted_at: 2026-10-01T06:00:00Z\n    options:\n      values:\n"
                "        Worker Statu: {Active: Active}\n", within="id: hr_workers")
    path = tmp_path / "period.yaml"
    path.write_text(text, encoding="utf-8")
    problems = {p.key: p for p in check_period(path).problems}
    derive = problems["sources[25].options.derive.reviewer_name"]
    assert derive.line == line_of(text, "reviewer_name: >-")
    assert "'Orignal assignee'" in derive.message and derive.did_you_mean is None
    assert "Did you mean 'Original assignee'?" in derive.message
    values = problems["sources[0].options.values.Worker Statu"]
    assert values.line == line_of(text, "Worker Statu:")
    assert "Did you mean 'Worker Status'?" in values.message
    erp = problems["sources[3].options.derive.Hire Date"]
    assert "apps/ledgerline_erp_user_roles.csv" in erp.message
    assert len(problems) == 3
