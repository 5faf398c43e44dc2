"""Tests of workbench.tables: the canonical tables declared once, checked, printed and documented.

The declarations must agree with what the readers produce today (their public column constants,
and every reader's frame on its fixture and on the demo company's exports); validate_frame must
catch each kind of departure; docs/tables.md must be the rendering of the declarations; and the
``workbench tables`` command prints them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from workbench import cli
from workbench import populations as P
from workbench import tables as T

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "exports"
DOC = ROOT / "docs" / "tables.md"
DISPLAY_NAMES = {"Ledgerline ERP": "ledgerline_erp", "AWS Production": "aws_prod",
                 "GitHub Enterprise": "github", "Okta": "okta"}

#: Export kind -> the fixtures it is read from: (file under tests/data/exports, load_source
#: keyword arguments). Every reader in populations.READERS must have at least one.
FIXTURES: dict[str, list[tuple[str, dict]]] = {
    "workday_workers": [("hr/workday_workers.csv", {})],
    "okta_users": [("idp/okta_users.csv", {})],
    "okta_app_assignments": [("idp/okta_app_assignments.csv", {})],
    "ledgerline_erp_user_roles": [("apps/ledgerline_erp_user_roles.csv", {}),
                                  ("apps/ledgerline_erp_user_roles.parquet", {})],
    "github_org_members": [("apps/github_org_members.csv", {})],
    "aws_iam_credential_report": [("cloud/aws_iam_credential_report.csv", {})],
    "aws_iam_group_memberships": [("cloud/aws_iam_group_memberships.csv", {})],
    "campaign_decisions": [("reviews/uar_2026Q3_decisions.csv", {})],
    "campaign_status": [("reviews/uar_2026Q3_campaign_status.csv", {})],
    "servicenow_access_requests": [("tickets/servicenow_access_requests.csv", {})],
    "sod_rules": [("policy/sod_rules.csv", {})],
    "privileged_access_approved": [("policy/privileged_access_approved.csv", {})],
    "sod_mitigations": [("policy/sod_mitigations.csv", {})],
    "entra_users": [("idp/entra_users.csv",
                     {"options": {"timestamp_format": "%m/%d/%Y %I:%M:%S %p"}}),
                    ("idp/entra_users_documented.csv", {})],
    "google_workspace_users": [("idp/google_workspace_users.csv", {}),
                               ("idp/google_workspace_users_newer.csv", {})],
    "okta_system_log": [("idp/okta_system_log.ndjson", {})],
    "github_pull_requests": [("changes/github_ledgerline_pulls.json", {"system": "ledgerline_erp"})],
    "github_pull_reviews": [("changes/github_ledgerline_reviews.json", {"system": "ledgerline_erp"})],
    "github_deployments": [("changes/github_platform-infra_deployments.json", {"system": "aws_prod"})],
    "gitlab_merge_requests": [("gitlab/web-portal_merge_requests.json", {"system": "web_portal"})],
    "gitlab_merge_request_approvals": [("gitlab/web-portal_approvals.json", {"system": "web_portal"})],
    "aws_backup_jobs": [("operations/aws_backup_jobs.json", {"system": "aws_prod"})],
    "mapped": [
        ("operations/veeam_backup_sessions.csv", {"system": "ledgerline_erp", "options": {
            "table": "job_runs", "timestamp_format": "%m/%d/%Y %I:%M:%S %p",
            "columns": {"run_id": "Id", "job_name": "JobName", "job_type": "JobType", "started_at": "CreationTime",
                        "ended_at": "EndTime", "result": "Result", "message": "Info"}}}),
        ("operations/servicenow_incidents.csv", {"options": {
            "table": "incidents", "timestamp_format": "%Y-%m-%d %H:%M:%S",
            "columns": {"ticket": "number", "priority": "priority", "opened_at": "opened_at",
                        "resolved_at": "resolved_at", "assigned_to": "assigned_to", "system": "cmdb_ci"},
            "values": {"priority": {"1 - Critical": "critical", "2 - High": "high", "3 - Moderate": "moderate",
                                    "4 - Low": "low"},
                       "system": {"Ledgerline ERP": "ledgerline_erp", "AWS Production": "aws_prod"}}}}),
        ("changes/servicenow_change_requests.csv", {"options": {
            "table": "change_tickets", "timestamp_format": "%Y-%m-%d %H:%M:%S",
            "columns": {"ticket": "number", "type": "type", "approval": "approval", "system": "cmdb_ci",
                        "approved_at": "approval_set", "planned_start": "start_date", "planned_end": "end_date",
                        "approver": "u_cab_approver", "test_evidence": "test_plan"},
            "values": {"system": {"Ledgerline ERP": "ledgerline_erp", "AWS Production": "aws_prod"}}}}),
        ("mapped/midpoint_work_items.csv", {"timezone": "Europe/Berlin", "options": {
            "table": "review_decisions", "delimiter": ";", "preamble_lines": 2,
            "timestamp_format": "%d.%m.%Y %H:%M",
            "columns": {"campaign_id": "Campaign", "subject_email": "Object",
                        "entitlement": "Target", "reviewer_name": "Performer",
                        "decision": "Outcome", "comments": "Comment", "decided_at": "Closed on"},
            "values": {"decision": {"Accept": "approve", "Revoke": "revoke", "Reduce": "revoke",
                                    "No response": "undecided"}}}}),
        ("mapped/salesforce_users.xlsx", {"system": "salesforce", "options": {
            "table": "accounts", "sheet": "Users", "preamble_lines": 2,
            "columns": {"account_id": "User ID", "login": "Username", "email": "Email",
                        "display_name": "Full Name", "status": "Active",
                        "last_login_at": "Last Login", "created_at": "Created Date",
                        "employee_id": "Employee Number"},
            "values": {"status": {"true": "active", "false": "disabled"}}}}),
        ("mapped/netsuite_roles.parquet", {"system": "netsuite", "options": {
            "table": "grants",
            "columns": {"account_id": "Login", "email": "Email", "entitlement": "Role",
                        "granted_at": "Assigned", "removed_at": "Removed",
                        "privileged": "Administrator", "account_status": "Status"},
            "values": {"account_status": {"Enabled": "active", "Disabled": "disabled"}}}}),
        ("mapped/github_team_members.csv", {"system": "github", "options": {
            "table": "grants", "timestamp_format": "epoch_ms",
            "columns": {"account_id": "login", "entitlement": "team", "entitlement_type": "role",
                        "granted_at": "created_at", "removed_at": "removed_at"}}}),
    ],
}
FIXTURE_CASES = [pytest.param(kind, path, kwargs, id=f"{kind}:{Path(path).name}")
                 for kind, cases in FIXTURES.items() for path, kwargs in cases]


def load_fixture(kind: str, path: str, kwargs: dict) -> P.Population:
    """A fixture read the way tests/test_populations.py reads it."""
    kwargs = {"display_names": DISPLAY_NAMES, "extracted_at": "2026-10-01T06:00:00Z", **kwargs}
    return P.load_source(kind, DATA / path, **kwargs)


def workers() -> pd.DataFrame:
    """A conforming identities frame (lines 2 to 6) to break one way at a time."""
    frame = load_fixture("workday_workers", "hr/workday_workers.csv", {}).frame
    assert T.validate_frame("identities", frame) == []
    return frame.copy()


# --------------------------------------------------------------------------------------------
# The declarations agree with the readers' public constants
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, constant", [
    ("identities", "IDENTITY_COLUMNS"), ("accounts", "ACCOUNT_COLUMNS"),
    ("grants", "GRANT_COLUMNS"), ("review_decisions", "REVIEW_DECISION_COLUMNS"),
    ("campaigns", "CAMPAIGN_COLUMNS"), ("requests", "REQUEST_COLUMNS"),
    ("sod_rules", "SOD_RULE_COLUMNS"), ("privileged_approvals", "PRIVILEGED_APPROVAL_COLUMNS"),
    ("events", "EVENT_COLUMNS"),
])
def test_the_readers_column_constants_are_the_declarations_themselves(name, constant):
    """Declared once: the readers' constants are the declaration's own tuples, not a copy that
    could drift (the conformance tests below hold every reader's output to them)."""
    assert getattr(P, constant) is T.columns_of(name) or getattr(P, constant) == T.columns_of(name)
    assert getattr(P.contract, constant) == T.columns_of(name)
    source = (Path(P.__file__).parent / "contract.py").read_text(encoding="utf-8")
    assert f'{constant}: tuple[str, ...] = canonical.columns_of("{name}")' in source


def test_tables_with_extra_columns_end_with_line_after_them():
    for name in ("accounts", "grants", "events"):
        assert T.table(name).extra_columns
        assert T.table(name).names == (*T.columns_of(name), "line")
    closed = [t.name for t in T.TABLES.values() if not t.extra_columns]
    for name in closed:
        assert T.columns_of(name)[-1] == "line", name


def test_account_statuses_are_the_readers():
    assert P.ACCOUNT_STATUSES is T.ACCOUNT_STATUSES
    assert T.table("accounts").column("status").values == P.ACCOUNT_STATUSES
    assert T.table("grants").column("account_status").values == P.ACCOUNT_STATUSES


def test_mapped_tables_are_the_mapped_readers():
    declared = T.mapped_tables()
    assert list(declared) == list(P.MAPPED_TABLES)
    assert declared == P.MAPPED_TABLES
    assert list(declared) == list(T.TABLES)  # a mapping reaches every canonical table


def test_every_table_a_reader_builds_is_declared_and_every_reader_is_named():
    named = {kind for spec in T.TABLES.values() for kind in spec.built_by}
    assert named == set(P.READERS)
    assert list(T.TABLES) == [
        "identities", "accounts", "grants", "review_decisions", "campaigns", "requests",
        "sod_rules", "sod_mitigations", "privileged_approvals", "events", "role_permissions", "identity_aliases",
        "access_baseline", "remediation_log", "code_changes", "code_reviews", "deployments", "change_tickets",
        "job_runs", "incidents"]
    assert T.table("role_permissions").built_by == ("mapped",)
    assert T.columns_of("role_permissions") == (
        "system", "role", "permission", "permission_type", "description", "line")


def test_mapped_columns_and_derived_columns_make_up_each_mapped_table():
    for spec in T.TABLES.values():
        if not spec.mappable:
            continue
        mapped = {m.column for m in spec.mappable}
        derived = {c.name for c in spec.columns if c.derived}
        assert mapped.isdisjoint(derived), spec.name
        assert mapped | derived == set(spec.names), spec.name
        must = {m.column for m in spec.mappable if m.required}
        required = {c.name for c in spec.columns if c.required}
        assert must <= required, f"{spec.name}: a column a mapping must fill is declared optional"


def test_every_join_key_keeps_its_original():
    for spec in T.TABLES.values():
        for column in spec.columns:
            if column.type != "key":
                continue
            if f"{column.name}_original" in spec.names:
                original = spec.column(f"{column.name}_original")
                assert original.derived and original.required == column.required, original.name
            else:  # the events table keeps it among its extra columns
                assert spec.extra_columns, f"{spec.name}.{column.name} has no *_original"
    log = load_fixture("okta_system_log", "idp/okta_system_log.ndjson", {}).frame
    assert {"actor_login_original", "target_login_original"} <= set(log.columns)


def test_key_columns_are_declared_required_or_explained():
    # A key column may be empty only where a reader legitimately leaves it so: the system of an
    # application that is not one of the period's systems, a grant's unknown grant time, and an
    # alias that names the worker in every system.
    allowed_empty = {("grants", "system"), ("grants", "granted_at"),
                     ("review_decisions", "system"), ("identity_aliases", "system")}
    for spec in T.TABLES.values():
        for name in spec.key:
            if (spec.name, name) not in allowed_empty:
                assert spec.column(name).required, f"{spec.name}.{name}"


def test_unknown_table_and_column_say_did_you_mean():
    with pytest.raises(KeyError) as info:
        T.table("acounts")
    assert "unknown canonical table 'acounts'" in str(info.value)
    assert "Did you mean 'accounts'?" in str(info.value)
    with pytest.raises(KeyError, match="Did you mean 'last_login_at'"):
        T.table("accounts").column("last_logon_at")


def test_declarations_are_frozen_and_checked():
    column = T.table("accounts").column("status")
    with pytest.raises(ValidationError):
        column.required = False  # type: ignore[misc]
    with pytest.raises(ValidationError, match="allowed values"):
        T.Column(name="status", type="choice", required=True, meaning="A status.")
    with pytest.raises(ValidationError, match="last column must be 'line'"):
        T.Table(name="t", meaning="A table.", key=("a",),
                columns=(T.Column(name="a", type="text", required=True, meaning="A."),))
    with pytest.raises(ValidationError, match="does not give"):
        T.Table(name="t", meaning="A table.", key=("a",),
                columns=(T.Column(name="a", type="text", required=True, meaning="A."),
                         T.table("identities").column("line")),
                mappable=(T.Mappable(column="a", kind="key"),))


def test_column_types_have_one_dtype_each():
    assert {name: dtype for name, (dtype, _) in T.TYPES.items()} == {
        "text": "string", "key": "string", "choice": "string", "date": "datetime64[s]",
        "timestamp": "datetime64[us, UTC]", "state": "string", "boolean": "boolean",
        "flag": "bool", "integer": "Int64", "list": "object", "line": "int64"}


# --------------------------------------------------------------------------------------------
# Conformance: every reader's frame is accepted
# --------------------------------------------------------------------------------------------

def test_every_reader_has_a_conformance_fixture():
    assert set(FIXTURES) == set(P.READERS)


@pytest.mark.parametrize("kind, path, kwargs", FIXTURE_CASES)
def test_reader_output_on_its_fixture_conforms(kind, path, kwargs):
    population = load_fixture(kind, path, kwargs)
    assert kind in T.table(population.table).built_by
    assert T.validate_frame(population.table, population.frame) == []


def test_derived_account_views_conform():
    grants = load_fixture("ledgerline_erp_user_roles", "apps/ledgerline_erp_user_roles.csv", {})
    members = load_fixture("github_org_members", "apps/github_org_members.csv", {})
    assert T.validate_frame("accounts", P.erp_accounts(grants)) == []
    assert T.validate_frame("accounts", P.github_accounts(members)) == []


@pytest.fixture(scope="module")
def demo_populations(tmp_path_factory) -> dict[str, P.Population]:
    """Every source of the demo period, generated and read as a period run reads it."""
    from conftest import make_demo_project
    from workbench.parameters import load_period, resolve_source_paths
    from workbench.runner import DEMO_PARAMETER_FILE

    project = make_demo_project(tmp_path_factory.mktemp("demo"))
    parameter_file = project / "parameters" / DEMO_PARAMETER_FILE
    params = load_period(parameter_file)
    paths = resolve_source_paths(params, parameter_file)
    names = {system.name: system.id for system in params.systems}
    return {source.id: P.load_source(
        source.kind, paths[source.id], system=source.system, timezone=source.timezone,
        extracted_at=source.extracted_at.isoformat(), source_system=source.source_system,
        display_names=names, **({"options": source.options} if source.options else {}))
        for source in params.sources}


def test_demo_company_exports_conform(demo_populations):
    assert len(demo_populations) >= 13
    problems = {source: T.validate_frame(population.table, population.frame)
                for source, population in demo_populations.items()}
    assert {source: found for source, found in problems.items() if found} == {}
    for population in demo_populations.values():
        assert population.kind in T.table(population.table).built_by
        if population.kind == "ledgerline_erp_user_roles":
            assert T.validate_frame("accounts", P.erp_accounts(population)) == []


# --------------------------------------------------------------------------------------------
# validate_frame catches what it must
# --------------------------------------------------------------------------------------------

def test_a_wrong_dtype_is_named():
    frame = workers()
    frame["hire_date"] = frame["hire_date"].astype("string")
    assert T.validate_frame("identities", frame) == [
        "table 'identities', column 'hire_date': expected date values (pandas dtype "
        "datetime64[s]), found dtype string."]


def test_plain_str_text_is_not_the_canonical_string_dtype():
    frame = workers()
    frame["title"] = frame["title"].astype("str")
    [problem] = T.validate_frame("identities", frame)
    assert "column 'title'" in problem and "pandas dtype string" in problem


def test_a_value_outside_the_allowed_values_names_the_first_line():
    frame = workers()
    frame.loc[[1, 3], "status"] = "retired"
    assert T.validate_frame("identities", frame) == [
        "table 'identities', column 'status', line 3: not an allowed value (allowed: active, "
        "terminated, on_leave) (found 'retired'); 1 more row(s) like it."]


def test_an_empty_required_column_names_the_first_line():
    frame = workers()
    frame.loc[2, "employee_id"] = pd.NA
    frame.loc[4, "employee_id"] = "  "
    assert T.validate_frame("identities", frame) == [
        "table 'identities', column 'employee_id', line 4: empty, but the column is required "
        "(every row must have a value); 1 more row(s) like it."]


def test_an_empty_optional_column_is_fine():
    frame = workers()
    frame["department"] = pd.Series(pd.NA, index=frame.index, dtype="string")
    assert T.validate_frame("identities", frame) == []


def test_a_missing_column_is_named():
    frame = workers().drop(columns=["cost_center"])
    assert T.validate_frame("identities", frame) == [
        "table 'identities', column 'cost_center': missing (an optional text column of the "
        "table)."]


def test_columns_out_of_order_and_unexpected_columns():
    frame = workers()
    swapped = frame[["full_name", "employee_id", *frame.columns[2:]]]
    [problem] = T.validate_frame("identities", swapped)
    assert problem.startswith("table 'identities': columns are not in the declared order: "
                              "expected employee_id, full_name,")
    frame.insert(3, "nickname", pd.Series(["x"] * len(frame), dtype="string"))
    assert T.validate_frame("identities", frame) == [
        "table 'identities', column 'nickname': not a column of the table; it admits no extra "
        "columns."]


def test_extra_columns_go_between_the_canonical_columns_and_line():
    frame = load_fixture("okta_users", "idp/okta_users.csv", {}).frame
    assert "activated_at" in frame.columns
    assert T.validate_frame("accounts", frame) == []
    moved = frame[[*frame.columns[:-1][::-1], "line"]]
    [problem] = T.validate_frame("accounts", moved)
    assert "columns are not in the declared order" in problem and "<extra columns>" in problem
    line_first = frame[["line", *frame.columns[:-1]]]
    assert any("declared order" in p for p in T.validate_frame("accounts", line_first))


def test_extra_state_and_timestamp_columns_follow_the_conventions():
    frame = load_fixture("aws_iam_credential_report", "cloud/aws_iam_credential_report.csv",
                         {}).frame
    assert T.validate_frame("accounts", frame) == []
    broken = frame.copy()
    broken.loc[0, "password_last_changed_state"] = "expired"
    broken["access_key_1_last_used_at"] = broken["access_key_1_last_used_at"].astype("string")
    problems = T.validate_frame("accounts", broken)
    assert problems == [
        "table 'accounts', extra column 'password_last_changed_state', line 2: not a state "
        "(states: used, set, never, no_information, not_applicable, not_supported) (found "
        "'expired').",
        "table 'accounts', extra column 'access_key_1_last_used_at': a *_at column holds UTC "
        "timestamps (pandas dtype datetime64[us, UTC]), found dtype string."]


def test_a_join_key_must_be_casefolded_and_trimmed():
    frame = workers()
    frame.loc[0, "email"] = "Avery.Stone@HarborLane.example"
    frame.loc[2, "email"] = " marco.ruiz@harborlane.example"
    [problem] = T.validate_frame("identities", frame)
    assert problem == ("table 'identities', column 'email', line 2: a join key must be trimmed "
                       "and casefolded (found 'Avery.Stone@HarborLane.example'); 1 more row(s) "
                       "like it.")


def test_a_state_outside_its_states_and_a_list_that_is_not_a_tuple():
    accounts = load_fixture("okta_users", "idp/okta_users.csv", {}).frame.copy()
    accounts.loc[0, "last_login_state"] = "set"          # a state, but not of a last sign-in
    [problem] = T.validate_frame("accounts", accounts)
    assert "column 'last_login_state', line 2: not an allowed value" in problem
    rules = load_fixture("sod_rules", "policy/sod_rules.csv", {}).frame.copy()
    rules.at[1, "entitlements_a"] = "GL Accountant - Journal Entry"
    rules.at[2, "entitlements_b"] = ()
    assert T.validate_frame("sod_rules", rules) == [
        "table 'sod_rules', column 'entitlements_a', line 3: expected a tuple of text values "
        "(found 'GL Accountant - Journal Entry').",
        "table 'sod_rules', column 'entitlements_b', line 4: empty, but the column is required "
        "(every row must have a value)."]


def test_rows_are_named_by_position_without_a_usable_line():
    frame = workers().drop(columns=["line"])
    frame.loc[1, "status"] = "retired"
    problems = T.validate_frame("identities", frame)
    assert "table 'identities', column 'line': missing (a required line column of the table)." \
        in problems
    assert any("column 'status', row 2: not an allowed value" in p for p in problems)


def test_a_repeated_column_is_named_once():
    frame = workers()
    doubled = pd.concat([frame, frame[["title"]]], axis=1)
    problems = T.validate_frame("identities", doubled)
    assert "table 'identities', column 'title': appears 2 times; a column appears once." in problems


def test_validate_frame_of_an_unknown_table():
    with pytest.raises(KeyError, match="Did you mean 'grants'"):
        T.validate_frame("grant", workers())


# --------------------------------------------------------------------------------------------
# Documentation and the command line
# --------------------------------------------------------------------------------------------

def test_docs_page_is_the_rendering_of_the_declarations():
    expected = T.render_markdown()
    found = DOC.read_text(encoding="utf-8") if DOC.is_file() else "(missing)"
    assert found == expected, ("docs/tables.md is out of date with src/workbench/tables/: "
                               "regenerate it with `workbench tables --markdown > docs/tables.md`")


def test_docs_page_says_it_is_generated_and_by_which_command():
    first_lines = T.render_markdown().splitlines()[:3]
    assert any("Generated" in line and "workbench tables --markdown > docs/tables.md" in line
               for line in first_lines)
    page = T.render_markdown()
    for spec in T.TABLES.values():
        assert f"\n## {spec.name}\n" in page
        for column in spec.columns:
            assert f"| `{column.name}` |" in page


def test_tables_command_lists_every_table_with_its_key(capsys):
    assert cli.main(["tables"]) == 0
    out = capsys.readouterr().out
    for spec in T.TABLES.values():
        assert spec.name in out
        assert f"key: {' + '.join(spec.key)}" in out
    assert "workbench tables TABLE" in out


def test_tables_command_shows_one_tables_columns(capsys):
    assert cli.main(["tables", "accounts"]) == 0
    out = capsys.readouterr().out
    assert out == T.render_text("accounts")
    for column in T.table("accounts").columns:
        assert f"  {column.name} " in out
    assert "Key: system + account_id" in out
    assert "password_expired" in out                         # allowed values are listed
    assert "optional" in out and "required" in out
    assert "must map: account_id (text), status (choice)" in out
    assert "extra columns may follow" in out


def test_tables_command_with_an_unknown_table_exits_2(capsys):
    assert cli.main(["tables", "acounts"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "unknown canonical table 'acounts'" in captured.err
    assert "Did you mean 'accounts'?" in captured.err


def test_tables_markdown_prints_the_docs_page(capsys):
    assert cli.main(["tables", "--markdown"]) == 0
    assert capsys.readouterr().out == T.render_markdown()
    assert cli.main(["tables", "accounts", "--markdown"]) == 2
    assert "--markdown prints the whole page" in capsys.readouterr().err


def test_the_regenerating_command_writes_the_page_byte_for_byte():
    done = subprocess.run([sys.executable, "-m", "workbench.cli", "tables", "--markdown"],
                          capture_output=True, check=True, timeout=120)
    assert done.stdout == T.render_markdown().encode("utf-8")
