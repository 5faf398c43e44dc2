"""Tests of workbench.populations: readers, canonical tables, IPE evidence, reconciliation.

Fixtures under tests/data/exports/ are shaped like docs/demo-exports.md (same folders, headers and
value formats, including the real systems' quirks); tests/data/exports/robustness/ holds one small
file per robustness case.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import inspect
import io
import json
import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import populations as P
from workbench.populations import PopulationError, load_source

DATA = Path(__file__).parent / "data" / "exports"
ROBUST = DATA / "robustness"
DISPLAY_NAMES = {"Ledgerline ERP": "ledgerline_erp", "AWS Production": "aws_prod",
                 "GitHub Enterprise": "github", "Okta": "okta"}
EXTRACTED = "2026-10-01T06:00:00Z"

FILES = {
    "workday_workers": "hr/workday_workers.csv",
    "okta_users": "idp/okta_users.csv",
    "okta_app_assignments": "idp/okta_app_assignments.csv",
    "ledgerline_erp_user_roles": "apps/ledgerline_erp_user_roles.csv",
    "github_org_members": "apps/github_org_members.csv",
    "aws_iam_credential_report": "cloud/aws_iam_credential_report.csv",
    "aws_iam_group_memberships": "cloud/aws_iam_group_memberships.csv",
    "campaign_decisions": "reviews/uar_2026Q3_decisions.csv",
    "campaign_status": "reviews/uar_2026Q3_campaign_status.csv",
    "servicenow_access_requests": "tickets/servicenow_access_requests.csv",
    "sod_rules": "policy/sod_rules.csv",
    "privileged_access_approved": "policy/privileged_access_approved.csv",
}
TABLES = {
    "workday_workers": "identities", "okta_users": "accounts", "okta_app_assignments": "grants",
    "ledgerline_erp_user_roles": "grants", "github_org_members": "grants",
    "aws_iam_credential_report": "accounts", "aws_iam_group_memberships": "grants",
    "campaign_decisions": "review_decisions", "campaign_status": "campaigns",
    "servicenow_access_requests": "requests", "sod_rules": "sod_rules",
    "privileged_access_approved": "privileged_approvals",
}


MAPPED = DATA / "mapped"
MIDPOINT_OPTIONS = {
    "table": "review_decisions", "delimiter": ";", "preamble_lines": 2,
    "timestamp_format": "%d.%m.%Y %H:%M",
    "columns": {"campaign_id": "Campaign", "subject_email": "Object", "entitlement": "Target",
                "reviewer_name": "Performer", "decision": "Outcome", "comments": "Comment",
                "decided_at": "Closed on"},
    "values": {"decision": {"Accept": "approve", "Revoke": "revoke", "Reduce": "revoke",
                            "No response": "undecided"}},
}
SALESFORCE_OPTIONS = {
    "table": "accounts", "sheet": "Users", "preamble_lines": 2,
    "columns": {"account_id": "User ID", "login": "Username", "email": "Email",
                "display_name": "Full Name", "status": "Active", "last_login_at": "Last Login",
                "created_at": "Created Date", "employee_id": "Employee Number"},
    "values": {"status": {"true": "active", "false": "disabled"}},
}
NETSUITE_OPTIONS = {
    "table": "grants",
    "columns": {"account_id": "Login", "email": "Email", "entitlement": "Role",
                "granted_at": "Assigned", "removed_at": "Removed", "privileged": "Administrator",
                "account_status": "Status"},
    "values": {"account_status": {"Enabled": "active", "Disabled": "disabled"}},
}
GITHUB_TEAMS_OPTIONS = {
    "table": "grants", "timestamp_format": "epoch_ms",
    "columns": {"account_id": "login", "entitlement": "team", "entitlement_type": "role",
                "granted_at": "created_at", "removed_at": "removed_at"},
}
#: The kinds added with reader options: (fixture, table, keyword arguments of load_source).
NEW_KINDS = {
    "entra_users": ("idp/entra_users.csv", "accounts",
                    {"options": {"timestamp_format": "%m/%d/%Y %I:%M:%S %p"}}),
    "google_workspace_users": ("idp/google_workspace_users.csv", "accounts", {}),
    "okta_system_log": ("idp/okta_system_log.ndjson", "events", {}),
    "mapped": ("mapped/midpoint_work_items.csv", "review_decisions",
               {"options": MIDPOINT_OPTIONS, "timezone": "Europe/Berlin"}),
}


def load(kind: str, path: Path | None = None, **kwargs) -> P.Population:
    kwargs.setdefault("display_names", DISPLAY_NAMES)
    kwargs.setdefault("extracted_at", EXTRACTED)
    return load_source(kind, path or DATA / FILES[kind], **kwargs)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def is_utc(series: pd.Series) -> bool:
    return isinstance(series.dtype, pd.DatetimeTZDtype) and str(series.dtype.tz) == "UTC"


def by(frame: pd.DataFrame, column: str, value) -> pd.Series:
    """The single row where ``column`` equals ``value``."""
    rows = frame[frame[column] == value]
    assert len(rows) == 1, f"{len(rows)} rows with {column}={value!r}"
    return rows.iloc[0]


def assert_error(exc: PopulationError, *parts: str) -> None:
    for part in parts:
        assert part in str(exc), f"{part!r} not in {str(exc)!r}"


# --------------------------------------------------------------------------------------------
# Entry point and registry
# --------------------------------------------------------------------------------------------

def test_load_source_signature_is_the_contract():
    params = inspect.signature(load_source).parameters
    assert list(params)[:7] == ["kind", "path", "system", "timezone", "extracted_at",
                                "source_system", "display_names"]
    assert params["timezone"].default == "UTC"
    assert all(params[name].kind is inspect.Parameter.KEYWORD_ONLY for name in list(params)[2:])


def test_readers_cover_every_kind_and_table():
    assert set(FILES) | set(NEW_KINDS) <= set(P.READERS)
    for kind in FILES:
        population = load(kind)
        assert population.kind == kind
        assert population.table == TABLES[kind]
        assert population.frame.columns[-1] == "line"


def test_unknown_kind_lists_known_kinds():
    with pytest.raises(ValueError) as info:
        load_source("okta_groups", DATA / FILES["okta_users"])
    assert "okta_groups" in str(info.value)
    for kind in FILES:
        assert kind in str(info.value)


def test_unknown_timezone_is_rejected():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        load("servicenow_access_requests", timezone="Mars/Olympus")


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(PopulationError) as info:
        load_source("okta_users", tmp_path / "idp" / "okta_users.csv")
    assert_error(info.value, "idp/okta_users.csv", "not found")


# --------------------------------------------------------------------------------------------
# Readers on contract-shaped fixtures
# --------------------------------------------------------------------------------------------

def test_workday_workers_identities():
    frame = load("workday_workers").frame
    assert list(frame.columns) == list(P.IDENTITY_COLUMNS)
    assert frame["employee_id"].tolist() == ["000101", "004217", "004218", "004219", "004220"]
    assert frame["manager_employee_id"].tolist()[1] == "000101"
    assert pd.isna(frame["manager_employee_id"].iloc[0])
    jane = by(frame, "employee_id", "004217")
    assert jane["email"] == "jane.doe@harborlane.example"
    assert jane["email_original"] == "Jane.Doe@HarborLane.example"
    assert jane["department"] == "Accounts Payable" and jane["title"] == "AP Clerk"
    assert frame["status"].tolist() == ["active", "active", "terminated", "terminated", "active"]
    for column in ("hire_date", "termination_date", "last_day_of_work"):
        assert frame[column].dtype == "datetime64[s]"
    marco = by(frame, "employee_id", "004218")
    assert marco["termination_date"] == pd.Timestamp("2026-08-07")
    assert marco["termination_reason"] == "Resignation"
    assert bool(marco["eligible_for_rehire"]) is True
    assert bool(by(frame, "employee_id", "004219")["eligible_for_rehire"]) is False
    assert pd.isna(jane["termination_date"]) and pd.isna(jane["termination_reason"])
    assert pd.isna(jane["eligible_for_rehire"])
    assert frame["line"].tolist() == [2, 3, 4, 5, 6]


def test_okta_users_accounts():
    frame = load("okta_users").frame
    assert list(frame.columns[: len(P.ACCOUNT_COLUMNS)]) == list(P.ACCOUNT_COLUMNS)
    for column in ("created_at", "last_login_at", "status_changed_at", "activated_at"):
        assert is_utc(frame[column]), column
    jane = by(frame, "account_id", "00u1a2b3c4d5e6f7g8h9")
    assert jane["system"] == "okta"
    assert jane["login"] == "jane.doe@harborlane.example"
    assert jane["login_original"] == "Jane.Doe@HarborLane.example"
    assert jane["employee_id"] == "004217"
    assert jane["display_name"] == "Jane Doe"
    assert jane["last_login_at"] == utc("2026-09-29T14:03:11")
    assert jane["last_login_state"] == "used"
    marco = by(frame, "employee_id", "004218")
    assert marco["status"] == "deprovisioned" and marco["status_original"] == "DEPROVISIONED"
    assert marco["status_changed_at"] == utc("2026-08-21T17:45:02")
    sam = by(frame, "employee_id", "004220")
    assert sam["status"] == "staged"
    assert pd.isna(sam["last_login_at"]) and sam["last_login_state"] == "never"
    assert by(frame, "employee_id", "004219")["status"] == "suspended"
    assert frame["employee_id"].isna().sum() == 1
    assert frame["mfa_enabled"].isna().all() and not frame["is_root"].any()


def test_okta_app_assignments_grants_map_display_names():
    population = load("okta_app_assignments")
    frame = population.frame
    assert list(frame.columns[: len(P.GRANT_COLUMNS)]) == list(P.GRANT_COLUMNS)
    assert frame["system"].tolist()[0] == "ledgerline_erp"
    assert pd.isna(frame["system"].iloc[1])  # Slack: no system id, kept, reported
    assert frame["application"].tolist()[1] == "Slack"
    assert population.evidence.unmapped_display_names == {"Slack": 1}
    assert frame["login"].tolist()[0] == "jane.doe@harborlane.example"
    assert frame["login_original"].tolist()[0] == "Jane.Doe@HarborLane.example"
    assert frame["application_login"].tolist() == [
        "jdoe", "jane.doe@harborlane.example", "marco-ruiz", "marco.ruiz"]
    assert frame["application_login_original"].tolist()[2] == "Marco-Ruiz"
    github = by(frame, "system", "github")
    assert github["removed_at"] == utc("2026-08-21T17:45:02")
    assert pd.isna(by(frame, "system", "aws_prod")["removed_at"])
    assert frame["last_login_state"].tolist() == ["used", "never", "used", "used"]
    assert is_utc(frame["granted_at"]) and is_utc(frame["removed_at"])


def test_okta_app_assignments_without_display_names_keeps_rows():
    population = load("okta_app_assignments", display_names=None)
    assert len(population.frame) == 4
    assert population.frame["system"].isna().all()
    assert sum(population.evidence.unmapped_display_names.values()) == 4


def test_erp_user_roles_grants():
    population = load("ledgerline_erp_user_roles")
    frame = population.frame
    assert list(frame.columns[: len(P.GRANT_COLUMNS)]) == list(P.GRANT_COLUMNS)
    assert (frame["system"] == "ledgerline_erp").all()
    assert frame["login"].tolist()[:3] == ["jdoe", "jdoe", "pnair"]
    assert frame["login_original"].tolist()[0] == "JDOE"
    assert frame["email"].tolist()[0] == "jane.doe@harborlane.example"
    assert frame["email_original"].tolist()[0] == "JANE.DOE@HARBORLANE.EXAMPLE"
    privileged = frame.loc[frame["privileged"], "entitlement"].tolist()
    assert privileged == ["System Administrator", "Security Administrator"]
    assert frame["privileged"].dtype == bool
    assert is_utc(frame["granted_at"])
    assert frame["granted_at"].iloc[1] == utc("2026-07-20T10:30:00")  # zone-less, declared UTC
    assert frame["removed_at"].notna().tolist() == [False, False, False, True, False]
    assert frame["account_status"].tolist()[2:5] == ["locked", "locked", "disabled"]
    temp = by(frame, "login", "tempadm")
    assert pd.isna(temp["last_login_at"]) and temp["last_login_state"] == "never"
    # line 7 repeats line 3 field for field: dropped, and the evidence says so
    evidence = population.evidence
    assert frame["line"].tolist() == [2, 3, 4, 5, 6]
    assert evidence.duplicate_rows == (P.DuplicateRow(line=7, duplicate_of=3),)
    assert evidence.duplicates_dropped == 1 and evidence.row_count == 5
    assert evidence.key_columns == ("login", "entitlement", "granted_at")
    assert evidence.key_unique


def test_erp_repeated_key_that_is_not_an_exact_duplicate_is_kept_and_reported():
    population = load("ledgerline_erp_user_roles", ROBUST / "apps" / "erp_duplicate_key.csv")
    evidence = population.evidence
    assert len(population.frame) == 3 and evidence.duplicate_rows == ()
    assert not evidence.key_unique and evidence.duplicate_key_count == 1
    assert evidence.duplicate_keys[0].lines == (2, 4)  # JDOE and jdoe: same login once folded
    assert evidence.duplicate_keys[0].values[:2] == ("jdoe", "AP Payment Run")


def test_erp_timestamps_follow_the_declared_zone():
    frame = load("ledgerline_erp_user_roles", timezone="Europe/Berlin").frame
    assert frame["granted_at"].iloc[1] == utc("2026-07-20T08:30:00")  # CEST = UTC+2
    assert frame["granted_at"].iloc[0] == utc("2021-06-15T07:00:00")


def test_erp_accounts_one_row_per_user():
    grants = load("ledgerline_erp_user_roles")
    accounts = P.erp_accounts(grants)
    assert list(accounts.columns) == [*P.ACCOUNT_COLUMNS, "line"]
    assert accounts["login"].tolist() == ["jdoe", "pnair", "tempadm"]
    assert accounts["status"].tolist() == ["active", "locked", "disabled"]
    assert accounts["line"].tolist() == [2, 4, 6]
    assert is_utc(accounts["last_login_at"]) and is_utc(accounts["status_changed_at"])
    assert accounts["last_login_state"].tolist() == ["used", "used", "never"]


def test_erp_accounts_rejects_inconsistent_listing():
    frame = load("ledgerline_erp_user_roles").frame.copy()
    frame.loc[1, "account_status"] = "disabled"
    with pytest.raises(ValueError, match=r"'jdoe'.*account_status.*lines 2, 3;"):
        P.erp_accounts(frame)


def test_github_members_are_grants_and_accounts():
    population = load("github_org_members")
    frame = population.frame
    assert list(frame.columns[: len(P.GRANT_COLUMNS)]) == list(P.GRANT_COLUMNS)
    assert set(P.ACCOUNT_COLUMNS) <= set(frame.columns)
    assert frame["login"].tolist() == ["marco-ruiz", "pnair-hl", "ci-bot-hl"]
    assert frame["login_original"].tolist()[0] == "Marco-Ruiz"
    assert frame["entitlement"].tolist() == ["member", "owner", "member"]
    assert frame["privileged"].tolist() == [False, True, False]
    assert frame["mfa_enabled"].tolist() == [True, True, False]  # true / TRUE / False
    priya = by(frame, "login", "pnair-hl")
    assert priya["email"] == "priya.nair@harborlane.example"
    assert priya["email_original"] == "Priya.Nair@HarborLane.example"
    assert priya["verified_domain_emails"] == ("priya.nair@harborlane.example",
                                               "priya@harborlane.example")
    bot = by(frame, "login", "ci-bot-hl")
    assert pd.isna(bot["email"]) and bot["verified_domain_emails"] == ()
    assert pd.isna(bot["last_login_at"]) and bot["last_login_state"] == "no_information"
    assert frame["granted_at"].isna().all() and frame["removed_at"].isna().all()
    accounts = P.github_accounts(population)
    assert list(accounts.columns[: len(P.ACCOUNT_COLUMNS)]) == list(P.ACCOUNT_COLUMNS)
    assert accounts["role"].tolist() == ["member", "owner", "member"]


def test_aws_credential_report_sentinels_are_states():
    population = load("aws_iam_credential_report")
    frame = population.frame
    assert list(frame.columns[: len(P.ACCOUNT_COLUMNS)]) == list(P.ACCOUNT_COLUMNS)
    for column in ("created_at", "last_login_at", "password_last_changed",
                   "access_key_1_last_rotated", "access_key_1_last_used_at"):
        assert is_utc(frame[column]), column
    root = by(frame, "account_id", "<root_account>")
    assert bool(root["is_root"]) and frame["is_root"].sum() == 1
    assert pd.isna(root["password_enabled"])
    assert root["password_enabled_original"] == "not_supported"
    assert pd.isna(root["password_last_changed"])
    assert root["password_last_changed_state"] == "not_supported"
    assert root["last_login_at"] == utc("2026-03-01T09:00:00")
    assert bool(root["mfa_enabled"]) is True
    jane = by(frame, "login", "jane.doe")
    assert jane["last_login_state"] == "used"
    assert jane["access_key_1_last_used_at"] == utc("2026-09-30T22:15:00")
    assert jane["access_key_1_last_used_region"] == "us-east-1"
    assert jane["access_key_2_last_rotated_state"] == "not_applicable"
    assert jane["access_key_2_last_used_state"] == "not_applicable"  # no second key
    assert pd.isna(jane["access_key_2_last_used_region"])
    assert pd.isna(jane["password_next_rotation"])
    assert jane["password_next_rotation_state"] == "not_applicable"
    marco = by(frame, "login", "marco.ruiz")
    assert marco["login_original"] == "Marco.Ruiz"
    assert pd.isna(marco["last_login_at"]) and marco["last_login_state"] == "no_information"
    assert marco["access_key_1_last_used_state"] == "never"  # key exists, never used
    svc = by(frame, "login", "svc-ci-deploy")
    assert svc["last_login_state"] == "not_applicable"
    assert bool(svc["password_enabled"]) is False
    assert bool(svc["access_key_1_active"]) and bool(svc["access_key_2_active"])  # TRUE, True
    assert pd.isna(svc["access_key_2_last_used_region"])
    assert svc["access_key_2_last_used_service"] == "sts"
    assert frame["status"].eq("active").all() and frame["email"].isna().all()
    # no sentinel became a date
    for column in frame.columns:
        if is_utc(frame[column]):
            assert not (frame[column].dt.year < 2000).any(), column
    totals = population.evidence.control_totals
    assert totals["password last used"] == {"no_information": 1, "not_applicable": 1, "used": 2}


def test_aws_group_memberships_privileged_groups():
    frame = load("aws_iam_group_memberships").frame
    assert list(frame.columns[: len(P.GRANT_COLUMNS)]) == list(P.GRANT_COLUMNS)
    assert frame.loc[frame["privileged"], "entitlement"].tolist() == [
        "Administrators", "PowerUsers", "BillingAdmins"]
    assert frame["login"].tolist()[1] == "marco.ruiz"
    assert frame["granted_at"].isna().all() and frame["removed_at"].isna().all()
    assert is_utc(frame["granted_at"])


def test_privileged_entitlements_can_be_replaced():
    frame = load("aws_iam_group_memberships",
                 privileged_entitlements={"aws_prod": {"developers"}}).frame
    assert frame.loc[frame["privileged"], "entitlement"].tolist() == ["Developers"]
    assert "owner" in P.DEFAULT_PRIVILEGED_ENTITLEMENTS["github"]


def test_system_override_is_stamped_and_unknown_privileged_list_noted():
    population = load("aws_iam_group_memberships", system="aws_dev")
    assert (population.frame["system"] == "aws_dev").all()
    assert not population.frame["privileged"].any()
    assert population.evidence.source_system == "aws_dev"
    assert any("aws_dev" in note for note in population.evidence.notes)


def test_campaign_decisions():
    population = load("campaign_decisions")
    frame = population.frame
    assert list(frame.columns) == list(P.REVIEW_DECISION_COLUMNS)
    assert frame["decision"].tolist() == [
        "approve", "revoke", "undecided", "approve", "approve", "revoke", "approve"]
    assert frame["decision_original"].tolist()[5] == "Revoke"
    assert frame["system"].tolist()[:5] == [
        "ledgerline_erp", "ledgerline_erp", "github", "aws_prod", "aws_prod"]
    assert frame["application"].tolist()[2] == "GitHub Enterprise"
    assert frame["reviewer_email"].tolist()[0] == "avery.stone@harborlane.example"
    assert frame["reviewer_email_original"].tolist()[0] == "Avery.Stone@HarborLane.example"
    assert frame["subject_email"].tolist()[0] == "jane.doe@harborlane.example"
    assert frame["privileged"].tolist()[:4] == [False, True, True, True]
    assert frame["privileged"].dtype == bool
    assert is_utc(frame["decided_at"])
    assert frame["decided_at"].iloc[0] == utc("2026-08-20T15:02:11")        # ms + Z
    assert frame["decided_at"].iloc[3] == utc("2026-08-22T10:00:00.123")    # ms kept
    assert frame["decided_at"].iloc[4] == utc("2026-08-22T10:00:05")        # +00:00
    assert pd.isna(frame["decided_at"].iloc[2])
    assert frame["comments"].tolist()[1] == "No longer needed, revoke"
    assert frame["line"].tolist() == [2, 3, 4, 5, 6, 7, 8]
    evidence = population.evidence
    assert evidence.unmapped_display_names == {"Legacy Billing": 2}
    assert evidence.control_totals["decision"] == {"approve": 4, "revoke": 2, "undecided": 1}
    # Marco.Ruiz@ and marco.ruiz@ are the same subject once casefolded: a duplicate line
    assert not evidence.key_unique and evidence.duplicate_keys[0].lines == (7, 8)


def test_formula_looking_text_is_carried_unchanged():
    comments = load("campaign_decisions").frame["comments"].tolist()
    assert comments[3:] == ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1:A2)"]


def test_campaign_status():
    frame = load("campaign_status").frame
    assert list(frame.columns) == list(P.CAMPAIGN_COLUMNS)
    row = frame.iloc[0]
    assert row["status"] == "completed" and row["status_original"] == "COMPLETED"
    assert frame["total_items"].dtype == "Int64" and row["total_items"] == 120
    assert row["decisions_made"] == 118
    for column in ("created_at", "activated_at", "deadline", "completed_at", "signed_off_at"):
        assert is_utc(frame[column]), column
    assert row["deadline"] == utc("2026-09-15T23:59:59")


def test_servicenow_requests():
    population = load("servicenow_access_requests")
    frame = population.frame
    assert list(frame.columns) == list(P.REQUEST_COLUMNS)
    assert frame["ticket"].tolist()[0] == "RITM0012345"
    assert frame["action"].tolist() == ["grant", "revoke", "grant", "grant", "grant"]
    assert frame["approval"].tolist() == ["approved", "approved", "rejected", "requested",
                                          "approved"]
    assert frame["system"].tolist()[:4] == ["ledgerline_erp", "github", "aws_prod",
                                            "ledgerline_erp"]
    assert population.evidence.unmapped_display_names == {"Expense Tool": 1}
    first = frame.iloc[0]
    assert first["requested_for"] == "jane.doe@harborlane.example"
    assert first["requested_for_original"] == "Jane.Doe@HarborLane.example"
    assert first["approver"] == "avery.stone@harborlane.example"
    assert first["approved_at"] == utc("2026-07-19T16:00:00")
    assert pd.isna(frame["approved_at"].iloc[2]) and pd.isna(frame["closed_at"].iloc[3])
    assert pd.isna(frame["approver"].iloc[3])
    for column in ("approved_at", "opened_at", "closed_at"):
        assert is_utc(frame[column])


def test_sod_rules_entitlement_tuples():
    frame = load("sod_rules").frame
    assert list(frame.columns) == list(P.SOD_RULE_COLUMNS)
    rule = by(frame, "rule_id", "SOD-AP-01")
    assert rule["entitlements_a"] == ("AP Clerk - Vendor Maintenance",)
    assert rule["entitlements_b"] == ("AP Payment Run", "AP Manager - Payment Approval")
    assert rule["system"] == "ledgerline_erp" and rule["risk_level"] == "High"


def test_privileged_approvals():
    frame = load("privileged_access_approved").frame
    assert list(frame.columns) == list(P.PRIVILEGED_APPROVAL_COLUMNS)
    assert frame["account"].tolist() == ["pnair", "jane.doe", "pnair-hl"]
    assert frame["account_original"].tolist()[0] == "PNAIR"
    assert frame["approved_on"].dtype == "datetime64[s]"
    assert frame["expires_on"].dtype == "datetime64[s]"
    assert frame["expires_on"].isna().tolist() == [True, False, True]
    assert frame["approved_on"].iloc[1] == pd.Timestamp("2026-02-01")


# --------------------------------------------------------------------------------------------
# IPE evidence
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(FILES))
def test_evidence_identifies_the_file(kind):
    path = DATA / FILES[kind]
    data = path.read_bytes()
    evidence = load(kind).evidence
    assert evidence.sha256 == hashlib.sha256(data).hexdigest()
    assert evidence.sha256 == P.file_sha256(path)
    assert evidence.size_bytes == len(data)
    assert evidence.file_name == path.name and evidence.path == str(path)
    assert evidence.extracted_at == EXTRACTED
    header = next(csv.reader(data.decode("utf-8").splitlines()))
    assert evidence.columns == tuple(header) and evidence.column_count == len(header)
    assert (evidence.row_count + evidence.duplicates_dropped
            == len(data.decode("utf-8").splitlines()) - 1)
    assert evidence.table == TABLES[kind] and evidence.rows_rejected == ()
    json.dumps(evidence.to_dict())  # serialisable for the manifest


def test_evidence_null_counts_and_control_totals():
    evidence = load("workday_workers").evidence
    assert evidence.null_counts["Termination Date"] == 3
    assert evidence.null_counts["Employee ID"] == 0
    assert set(evidence.null_counts) >= {"Employee ID", "Hire Date", "Worker Status"}
    assert evidence.control_totals["status"] == {"active": 3, "terminated": 2}
    assert evidence.key_unique and evidence.duplicate_keys == ()
    assert evidence.source_system == "workday"


def test_evidence_as_rows_for_the_workpaper():
    population = load("ledgerline_erp_user_roles", source_system="Ledgerline ERP (prod)")
    rows = dict(population.evidence.as_rows())
    assert rows["Source system"] == "Ledgerline ERP (prod)"
    assert rows["SHA-256"] == P.file_sha256(DATA / FILES["ledgerline_erp_user_roles"])
    assert rows["Rows"] == "5" and rows["Extracted at (declared)"] == EXTRACTED
    assert rows["Key unique"] == "yes"
    assert rows["Exact duplicate lines dropped"] == "1: line 7 repeats line 3"
    assert rows["Read as"] == "csv (Arrow); delimiter ',' (comma) (default); encoding utf-8"
    assert rows["Reader options"] == "none (defaults)"
    assert "System Administrator: 1" in rows["Count by role"]
    assert rows["Rows rejected"] == "none"
    assert all(isinstance(label, str) and isinstance(value, str)
               for label, value in population.evidence.as_rows())


def test_file_sha256_streams_in_chunks():
    path = DATA / FILES["aws_iam_credential_report"]
    assert P.file_sha256(path, chunk_size=7) == hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------
# Robustness
# --------------------------------------------------------------------------------------------

def test_bom_crlf_header_whitespace_padded_values_and_blank_line():
    path = ROBUST / "hr" / "workers_bom_crlf.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # the fixture is what it claims
    population = load("workday_workers", path)
    frame = population.frame
    assert frame["employee_id"].tolist() == ["004217", "004218"]
    assert frame["full_name"].tolist()[0] == "Jane Doe"
    assert frame["email"].tolist() == ["jane.doe@harborlane.example",
                                       "marco.ruiz@harborlane.example"]
    assert frame["email_original"].tolist()[1] == "MARCO.RUIZ@harborlane.example"
    assert frame["department"].tolist()[0] == "Accounts Payable"  # 'Supervisory  Organization'
    assert frame["hire_date"].tolist()[0] == pd.Timestamp("2021-06-14")
    assert frame["status"].tolist() == ["active", "terminated"]
    assert frame["eligible_for_rehire"].tolist()[1] is True
    assert frame["line"].tolist() == [2, 4]
    assert population.evidence.rows_rejected == (P.RejectedRow(3, "blank line"),)
    assert population.evidence.columns[0] == "Employee ID"


@pytest.mark.parametrize("name, fields", [("workers_ragged_long.csv", "14"),
                                          ("workers_ragged_short.csv", "9")])
def test_ragged_row_names_the_line(name, fields):
    with pytest.raises(PopulationError) as info:
        load("workday_workers", ROBUST / "hr" / name)
    assert info.value.row == 3 and info.value.file == f"hr/{name}"
    assert_error(info.value, f"hr/{name}, line 3:", f"{fields} fields", "header has 13",
                 "never shifted")


def test_malformed_date_names_file_line_column_and_format():
    with pytest.raises(PopulationError) as info:
        load("workday_workers", ROBUST / "hr" / "workers_bad_date.csv")
    error = info.value
    assert str(error).startswith(
        "hr/workers_bad_date.csv, line 14, column 'Hire Date': expected a date like 2026-07-01, "
        "found '13/07/2026'.")
    assert (error.file, error.row, error.column, error.found) == (
        "hr/workers_bad_date.csv", 14, "Hire Date", "13/07/2026")
    assert error.expected == "a date like 2026-07-01"
    assert error.more_rows == (15,)  # 2026-02-30 is shaped right but no date
    assert isinstance(error, ValueError)


def test_duplicated_header_names_are_named():
    with pytest.raises(PopulationError) as info:
        load("workday_workers", ROBUST / "hr" / "workers_duplicate_headers.csv")
    assert_error(info.value, "hr/workers_duplicate_headers.csv", "duplicated",
                 "'Hire Date' (column 7)", "'Hire Date' (column 8)")


def test_missing_columns_name_missing_and_found():
    with pytest.raises(PopulationError) as info:
        load("workday_workers", ROBUST / "hr" / "workers_missing_columns.csv")
    assert_error(info.value, "hr/workers_missing_columns.csv", "'Hire Date'", "'Worker Status'",
                 "columns found", "'Termination Date'")


def test_quoted_newlines_keep_file_line_numbers():
    frame = load("workday_workers", ROBUST / "hr" / "workers_quoted_newline.csv").frame
    assert frame["line"].tolist() == [2, 4, 5]
    assert frame["full_name"].tolist()[0] == "Doe, Jane"
    assert frame["title"].tolist()[0] == "AP Clerk\n(vendor master)"


def test_header_only_gives_empty_typed_table():
    population = load("workday_workers", ROBUST / "hr" / "workers_header_only.csv")
    assert population.frame.empty and population.evidence.row_count == 0
    assert list(population.frame.columns) == list(P.IDENTITY_COLUMNS)
    assert population.frame["hire_date"].dtype == "datetime64[s]"


def test_utf16_is_read_and_latin1_is_rejected_with_line():
    frame = load("workday_workers", ROBUST / "hr" / "workers_utf16.csv").frame
    assert frame["full_name"].tolist() == ["Zoë Müller"]
    with pytest.raises(PopulationError) as info:
        load("workday_workers", ROBUST / "hr" / "workers_latin1.csv")
    assert info.value.row == 3
    assert_error(info.value, "hr/workers_latin1.csv, line 3", "UTF-8")


def test_timestamp_variants_and_epoch_zero():
    population = load("okta_users", ROBUST / "idp" / "okta_users_timestamps.csv")
    frame = population.frame
    first, second = frame.iloc[0], frame.iloc[1]
    assert first["created_at"] == utc("2021-06-14T08:00:00")              # Z, no ms
    assert first["activated_at"] == utc("2021-06-14T08:05:00")            # +02:00 -> UTC
    assert first["last_login_at"] == utc("2026-09-29T14:03:11.123")       # ms
    assert first["last_updated_at"] == utc("2026-09-29T14:03:11")         # .000+00:00
    assert first["status"] == "active" and second["status_original"] == "Active"
    # case differences: different logins, same casefolded e-mail
    assert frame["login"].tolist() == ["jdoe@harborlane.example"] * 2
    assert frame["login_original"].tolist() == ["JDoe@HarborLane.example",
                                                "jdoe@harborlane.example"]
    assert frame["email"].nunique() == 1
    # epoch zero is a state, never a 1970 date
    assert pd.isna(second["last_login_at"]) and second["last_login_state"] == "never"
    assert pd.isna(second["last_updated_at"])
    assert any("lastUpdated" in note and "epoch" in note for note in population.evidence.notes)
    assert population.evidence.key_unique


def test_malformed_timestamp_names_file_line_column_and_format():
    with pytest.raises(PopulationError) as info:
        load("okta_users", ROBUST / "idp" / "okta_users_bad_timestamp.csv")
    assert (info.value.row, info.value.column) == (2, "lastLogin")
    assert_error(info.value, "idp/okta_users_bad_timestamp.csv, line 2, column 'lastLogin'",
                 "ISO 8601", "2026-07-14T09:12:33.000Z", "'14/07/2026 09:12'")


def test_unknown_status_is_an_error_not_a_guess():
    with pytest.raises(PopulationError) as info:
        load("okta_users", ROBUST / "idp" / "okta_users_unknown_status.csv")
    assert_error(info.value, "line 3", "column 'status'", "'DEPROVISIONED'", "'HIBERNATING'")


def test_zone_less_timestamps_use_the_declared_zone():
    population = load("servicenow_access_requests",
                      ROBUST / "tickets" / "servicenow_new_york.csv", timezone="America/New_York")
    row = population.frame.iloc[0]
    assert row["approved_at"] == utc("2026-07-19T20:00:00")   # EDT, UTC-4
    assert row["opened_at"] == utc("2026-01-15T14:00:00")     # EST, UTC-5
    assert row["closed_at"] == utc("2026-07-20T10:35:00")     # explicit Z wins
    assert population.evidence.timezone == "America/New_York"
    assert any("America/New_York" in note for note in population.evidence.notes)


def test_local_time_in_a_dst_gap_is_an_error():
    with pytest.raises(PopulationError) as info:
        load("servicenow_access_requests", ROBUST / "tickets" / "servicenow_dst_gap.csv",
             timezone="America/New_York")
    assert_error(info.value, "tickets/servicenow_dst_gap.csv, line 2, column 'Approved'",
                 "America/New_York", "'2026-03-08 02:30:00'")


def test_unknown_sentinel_lists_the_accepted_ones():
    with pytest.raises(PopulationError) as info:
        load("aws_iam_credential_report",
             ROBUST / "cloud" / "aws_credential_report_bad_sentinel.csv")
    assert_error(info.value, "line 2", "column 'password_last_used'", "'N/A'",
                 "'no_information'", "'not_supported'", "found 'unknown'")


def test_bad_boolean_is_an_error():
    with pytest.raises(PopulationError) as info:
        load("github_org_members", ROBUST / "apps" / "github_bad_boolean.csv")
    assert_error(info.value, "apps/github_bad_boolean.csv, line 3, column 'two_factor_enabled'",
                 "true", "false", "'enabled'")


def test_unknown_decision_is_an_error():
    with pytest.raises(PopulationError) as info:
        load("campaign_decisions", ROBUST / "reviews" / "decisions_unknown_decision.csv")
    assert_error(info.value, "line 2", "column 'Decision'", "'APPROVE'", "'DELEGATE'")


def test_malformed_quoting_names_the_line():
    with pytest.raises(PopulationError) as info:
        load("ledgerline_erp_user_roles", ROBUST / "apps" / "erp_malformed_quote.csv")
    assert_error(info.value, "apps/erp_malformed_quote.csv, line 3", "quoting")


def test_sod_rule_with_an_empty_side_is_an_error():
    with pytest.raises(PopulationError) as info:
        load("sod_rules", ROBUST / "policy" / "sod_rules_empty_side.csv")
    assert_error(info.value, "line 3", "column 'entitlements_a'")


TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               max_size=30)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(TEXT, min_size=1, max_size=5))
def test_text_survives_reading(values):
    """Any text (leading zeros, 'N/A', 'null', '=1+1', quotes, newlines) comes back as written,
    trimmed; empty -> NA."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "policy" / "privileged_access_approved.csv"
        path.parent.mkdir()
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["system", "account", "entitlement", "approved_by", "approved_on",
                             "expires_on"])
            for value in values:
                writer.writerow(["github", "x", "owner", value, "2026-01-15", ""])
        frame = load_source("privileged_access_approved", path).frame
    expected = [v.strip() or None for v in values]
    assert [None if pd.isna(v) else v for v in frame["approved_by"]] == expected


# --------------------------------------------------------------------------------------------
# Reconciliation
# --------------------------------------------------------------------------------------------

def test_reconcile_active_hr_to_okta():
    identities = load("workday_workers").frame
    accounts = load("okta_users").frame
    active = identities[identities["status"] == "active"]
    result = P.reconcile(active, accounts, "employee_id", "employee_id", "HR active", "Okta")
    assert (result.left_rows, result.right_rows) == (3, 5)
    assert result.matched_keys == 2
    assert result.unmatched_left["employee_id"].tolist() == ["000101"]
    assert result.unmatched_right["employee_id"].tolist() == ["004218", "004219"]
    assert result.right_empty_keys == 1  # the service identity
    assert not result.is_complete and not result.left_complete
    rows = dict(result.as_rows())
    assert rows["HR active rows not in Okta"] == "1"
    assert rows["Result"] == "NOT complete"


def test_reconcile_complete_direction_and_email_keys():
    hr = load("workday_workers").frame
    okta = load("okta_users").frame
    people = okta[okta["employee_id"].notna()]
    result = P.reconcile(people, hr, "email", "email", "Okta", "HR")
    assert result.is_complete  # every Okta person is in HR (casefolded e-mails match)
    assert result.unmatched_right["employee_id"].tolist() == ["000101"]
    both = P.reconcile(people, hr, "email", "email", "Okta", "HR", direction="both")
    assert not both.is_complete
    backwards = P.reconcile(people, hr, "email", "email", "Okta", "HR", direction="right_in_left")
    assert not backwards.is_complete


def test_reconcile_refuses_numeric_against_text_keys():
    left = pd.DataFrame({"id": [4217], "line": [2]})
    right = pd.DataFrame({"id": pd.Series(["004217"], dtype="string"), "line": [2]})
    with pytest.raises(ValueError, match="leading zeros"):
        P.reconcile(left, right, "id", "id", "A", "B")
    with pytest.raises(ValueError, match="no column 'nope'"):
        P.reconcile(left, right, "nope", "id", "A", "B")
    with pytest.raises(ValueError, match="direction"):
        P.reconcile(right, right, "id", "id", "A", "B", direction="sideways")


def test_other_delimiter_gets_a_hint():
    with pytest.raises(PopulationError) as info:
        load("workday_workers", ROBUST / "hr" / "workers_semicolon.csv")
    assert_error(info.value, "hr/workers_semicolon.csv", "missing required column",
                 "semicolons", "reader option delimiter: ';'")


def test_errors_use_the_header_as_spelt_in_the_file():
    with pytest.raises(PopulationError) as info:
        load("workday_workers", ROBUST / "hr" / "workers_loose_header_bad_status.csv")
    assert info.value.column == "worker status"
    assert_error(info.value, "line 3, column 'worker status'", "'Active' or 'Terminated'",
                 "'On Leave'")


def test_missing_optional_column_reads_as_empty_with_a_note():
    population = load("workday_workers", ROBUST / "hr" / "workers_no_rehire_column.csv")
    assert population.frame["eligible_for_rehire"].isna().all()
    assert any("Eligible for Rehire" in note for note in population.evidence.notes)


def test_reconcile_empty_keys_make_a_side_incomplete():
    okta = load("okta_users").frame
    hr = load("workday_workers").frame
    result = P.reconcile(okta, hr, "employee_id", "employee_id", "Okta", "HR")
    assert result.unmatched_left.empty and result.left_empty_keys == 1
    assert not result.is_complete  # the service identity has no employee id to match
    assert dict(result.as_rows())["Okta rows with an empty key"] == "1"


def test_new_kinds_load_with_their_options():
    for kind, (name, table, kwargs) in NEW_KINDS.items():
        population = load(kind, DATA / name, **kwargs)
        assert population.kind == kind and population.table == table
        assert population.frame.columns[-1] == "line"
        json.dumps(population.evidence.to_dict())


# --------------------------------------------------------------------------------------------
# Reader options
# --------------------------------------------------------------------------------------------

def test_load_source_takes_reader_options():
    params = inspect.signature(load_source).parameters
    assert params["options"].default is None
    assert params["options"].kind is inspect.Parameter.KEYWORD_ONLY
    assert "options" in {f.name for f in dataclasses.fields(P.ReadContext)}
    for kind, reader in P.READERS.items():
        assert list(inspect.signature(reader).parameters) == ["ctx"], kind
    assert set(P.READER_OPTIONS) == set(P.READERS)
    assert set(P.READER_OPTIONS["workday_workers"]) == set(P.COMMON_OPTIONS)
    assert {"table", "columns", "values", "delimiter"} <= set(P.READER_OPTIONS["mapped"])
    assert P.READER_OPTIONS["okta_system_log"] == ("conflicting_duplicates", "encoding", "expected_rows")


def test_unknown_option_is_named_with_the_allowed_ones():
    with pytest.raises(PopulationError) as info:
        load("workday_workers", options={"delimeter": ";"})
    assert_error(info.value, "hr/workday_workers.csv", "unknown reader option 'delimeter'",
                 "'workday_workers'", "Did you mean 'delimiter'?",
                 "Allowed options: columns, date_format, delimiter, derive, encoding, expected_rows, fast, "
                 "formats, null_tokens, number_headers, pad_missing_fields, preamble_lines, sheet, "
                 "skip_rows, timestamp_format, values.")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("option, value, expected", [
    ("delimiter", ":", "one of ',', ';', '\\t' (or 'tab'), '|' or 'auto'"),
    ("preamble_lines", -1, "a whole number of lines from 0 to 1000"),
    ("preamble_lines", True, "a whole number"),
    ("preamble_lines", "2", "a whole number"),
    ("encoding", "klingon-8", "a text encoding"),
    ("date_format", "%d/%m", "a strftime format with day, month and year"),
    ("date_format", "DD/MM/YYYY", "a strftime format"),
    ("timestamp_format", "%d/%m/%Y", "hours and minutes"),
    ("timestamp_format", "%m/%d/%Y %I:%M", "hours and minutes"),  # 12-hour clock without %p
    ("fast", "yes", "true or false"),
    ("sheet", 0, "a worksheet name or its position"),
])
def test_bad_option_values_are_refused(option, value, expected):
    with pytest.raises(PopulationError) as info:
        load("workday_workers", options={option: value})
    assert_error(info.value, "hr/workday_workers.csv", f"reader option '{option}' must be",
                 expected, f"found {value!r}")


def test_options_must_be_a_mapping_and_fit_the_format():
    with pytest.raises(PopulationError, match="must be a mapping"):
        load("workday_workers", options=[("delimiter", ";")])
    with pytest.raises(PopulationError, match="'sheet' does not apply to a CSV file"):
        load("workday_workers", options={"sheet": "Users"})
    with pytest.raises(PopulationError, match="'preamble_lines' does not apply to a Parquet"):
        load("ledgerline_erp_user_roles", DATA / "apps" / "ledgerline_erp_user_roles.parquet",
             options={"preamble_lines": 1})
    with pytest.raises(PopulationError) as info:
        load("okta_system_log", DATA / "idp" / "okta_system_log.ndjson",
             options={"delimiter": ","})
    assert_error(info.value, "unknown reader option 'delimiter'", "Allowed options: conflicting_duplicates, encoding, expected_rows.")


def test_preamble_lines_skip_a_report_title_and_keep_file_line_numbers():
    path = ROBUST / "hr" / "workers_preamble.csv"
    population = load("workday_workers", path, options={"preamble_lines": 3})
    frame, evidence = population.frame, population.evidence
    assert frame["employee_id"].tolist() == ["004217", "004218"]
    assert frame["line"].tolist() == [5, 6]  # the header is line 4 of the file
    assert evidence.preamble == ("All Workers - Harbor Lane Payments,,,,,,,,,,,,",
                                 "Run by: Workday report service 2026-10-01 06:00 UTC,,,,,,,,,,,,",
                                 "")
    assert evidence.options == {"preamble_lines": 3}
    rows = dict(evidence.as_rows())
    assert rows["Preamble skipped above the header"].startswith(
        "3 line(s): 'All Workers - Harbor Lane Payments,,,,,,,,,,,,'")
    assert rows["Reader options"] == "preamble_lines=3"


def test_a_report_title_without_preamble_lines_gets_a_hint():
    with pytest.raises(PopulationError) as info:
        load("workday_workers", ROBUST / "hr" / "workers_preamble.csv")
    assert_error(info.value, "hr/workers_preamble.csv, line 1", "of the header have no name",
                 "The header seems to be on line 4", "preamble_lines: 3")



def test_a_title_line_without_delimiters_gets_the_same_hint(tmp_path):
    path = tmp_path / "hr" / "workers.csv"
    path.parent.mkdir()
    path.write_bytes(b"All Workers report\n" + (DATA / FILES["workday_workers"]).read_bytes())
    with pytest.raises(PopulationError) as info:
        load("workday_workers", path)
    assert_error(info.value, "hr/workers.csv, line 2: the row has 13 fields but the header has 1",
                 "If the header is on line 2", "preamble_lines: 1")
    assert load("workday_workers", path, options={"preamble_lines": 1}).frame["line"].tolist(
    ) == [3, 4, 5, 6, 7]
    path.write_bytes(b"All Workers report\n\n" + (DATA / FILES["workday_workers"]).read_bytes())
    for options in ({"fast": False}, {"fast": True}):
        with pytest.raises(PopulationError) as info:
            load("workday_workers", path, options=options)
        assert_error(info.value, "line 3: the row has 13 fields", "preamble_lines: 2")


def test_preamble_longer_than_the_file_is_an_error():
    with pytest.raises(PopulationError) as info:
        load("workday_workers", ROBUST / "hr" / "workers_header_only.csv",
             options={"preamble_lines": 5})
    assert_error(info.value, "hr/workers_header_only.csv", "preamble_lines is 5",
                 "only 1 line(s)")


@pytest.mark.parametrize("name, options, delimiter, detected", [
    ("workers_semicolon.csv", {"delimiter": ";"}, ";", False),
    ("workers_semicolon.csv", {"delimiter": "auto"}, ";", True),
    ("workers_pipe.csv", {"delimiter": "auto"}, "|", True),
    ("workers_pipe.csv", {"delimiter": "|"}, "|", False),
    ("workers_tab.tsv", None, "\t", False),
    ("workers_tab.tsv", {"delimiter": "tab"}, "\t", False),
])
def test_declared_and_detected_delimiters(name, options, delimiter, detected):
    population = load("workday_workers", ROBUST / "hr" / name, options=options)
    frame, evidence = population.frame, population.evidence
    assert frame["employee_id"].tolist()[0] == "004217"
    assert frame["hire_date"].tolist()[0] == pd.Timestamp("2021-06-14")
    assert evidence.delimiter == delimiter and evidence.delimiter_detected is detected
    if detected:
        assert "detected from the header line" in dict(evidence.as_rows())["Read as"]


def test_pipe_delimited_value_with_a_comma_stays_whole():
    frame = load("workday_workers", ROBUST / "hr" / "workers_pipe.csv",
                 options={"delimiter": "auto"}).frame
    assert frame["full_name"].tolist() == ["Doe, Jane"]


def test_delimiter_that_cannot_be_told_is_refused():
    with pytest.raises(PopulationError) as info:
        load("workday_workers", ROBUST / "hr" / "workers_ambiguous_delimiter.csv",
             options={"delimiter": "auto"})
    assert_error(info.value, "hr/workers_ambiguous_delimiter.csv, line 1",
                 "cannot detect the delimiter", "declare the reader option delimiter")


def test_declared_encoding_reads_a_latin1_export():
    population = load("workday_workers", ROBUST / "hr" / "workers_latin1.csv",
                      options={"encoding": "cp1252"})
    assert population.frame["full_name"].str.contains("ë").any()
    assert population.evidence.encoding == "cp1252"


def test_day_first_dates_are_refused_without_a_declared_format():
    with pytest.raises(PopulationError) as info:
        load("workday_workers", ROBUST / "hr" / "workers_day_first.csv")
    error = info.value
    assert (error.file, error.row, error.column, error.found) == (
        "hr/workers_day_first.csv", 2, "Hire Date", "14/06/2021")
    assert_error(error, "never guessed", "reader option date_format", "'%d/%m/%Y'")
    assert error.more_rows == (3,)  # 03/04/2026 is the truly ambiguous one


@pytest.mark.parametrize("fmt, hire", [("%d/%m/%Y", "2026-04-03")])
def test_declared_date_format_reads_day_first_dates(fmt, hire):
    frame = load("workday_workers", ROBUST / "hr" / "workers_day_first.csv",
                 options={"date_format": fmt}).frame
    assert frame["hire_date"].tolist() == [pd.Timestamp("2021-06-14"), pd.Timestamp(hire)]
    assert frame["termination_date"].tolist()[1] == pd.Timestamp("2026-08-07")
    assert frame["hire_date"].dtype == "datetime64[s]"


def test_a_value_that_does_not_fit_the_declared_format_names_its_line():
    with pytest.raises(PopulationError) as info:
        load("workday_workers", ROBUST / "hr" / "workers_day_first.csv",
             options={"date_format": "%m/%d/%Y"})  # 14/06/2021 has no month 14
    assert_error(info.value, "line 2, column 'Hire Date'", "declared date_format '%m/%d/%Y'",
                 "like 07/14/2026", "found '14/06/2021'")


def test_declared_timestamp_format_with_preamble_and_semicolons_on_an_existing_reader():
    path = ROBUST / "apps" / "erp_roles_semicolon_preamble.csv"
    with pytest.raises(PopulationError) as info:
        load("ledgerline_erp_user_roles", path, options={"delimiter": "auto",
                                                          "preamble_lines": 2})
    assert_error(info.value, "apps/erp_roles_semicolon_preamble.csv, line 4", "'29.09.2026",
                 "reader option timestamp_format")
    population = load("ledgerline_erp_user_roles", path, timezone="Europe/Berlin", options={
        "delimiter": "auto", "preamble_lines": 2, "timestamp_format": "%d.%m.%Y %H:%M:%S"})
    frame = population.frame
    assert frame["line"].tolist() == [4, 5]
    assert frame["granted_at"].tolist()[0] == utc("2026-07-20T08:30:00")  # CEST
    assert frame["removed_at"].tolist()[1] == utc("2026-07-31T22:00:00")
    assert frame["last_login_state"].tolist() == ["used", "never"]
    assert population.evidence.delimiter == ";" and population.evidence.delimiter_detected


# --------------------------------------------------------------------------------------------
# Entra ID and Google Workspace
# --------------------------------------------------------------------------------------------

ENTRA_US = {"timestamp_format": "%m/%d/%Y %I:%M:%S %p"}


def test_entra_locale_timestamps_need_a_declared_format():
    with pytest.raises(PopulationError) as info:
        load("entra_users", DATA / "idp" / "entra_users.csv")
    error = info.value
    assert (error.row, error.column, error.found) == (2, "createdDateTime",
                                                      "8/19/2021 1:25:31 PM")
    assert_error(error, "idp/entra_users.csv, line 2, column 'createdDateTime'",
                 "never guessed", "timestamp_format", "'%m/%d/%Y %I:%M:%S %p'")


def test_entra_users_observed_2021_columns():
    population = load("entra_users", DATA / "idp" / "entra_users.csv", options=ENTRA_US)
    frame = population.frame
    assert list(frame.columns[: len(P.ACCOUNT_COLUMNS)]) == list(P.ACCOUNT_COLUMNS)
    jane = by(frame, "account_id", "3f2a6c1e-8b7d-4e0a-9c51-2d4b6a8e0f11")
    assert jane["system"] == "entra_id" and jane["status"] == "active"
    assert jane["login"] == "jane.doe@harborlane.example"
    assert jane["email_original"] == "Jane.Doe@HarborLane.example"
    assert jane["created_at"] == utc("2021-08-19T13:25:31")  # 1:25:31 PM, declared UTC
    assert bool(jane["directory_synced"]) is True
    marco = by(frame, "display_name", "Marco Ruiz")
    assert marco["status"] == "disabled" and marco["status_original"] == "False"
    guest = by(frame, "display_name", "Sam Vendor")
    assert guest["user_type"] == "guest" and bool(guest["external"])
    assert guest["external_email"] == "sam.vendor@contoso.com"
    assert guest["created_at"] == utc("2026-03-04T09:05:00")  # month first, as declared
    partner = by(frame, "display_name", "Pat Partner")  # #EXT# but typed Member
    assert partner["user_type"] == "guest" and partner["user_type_original"] == "Member"
    service = by(frame, "login", "svc-backup@harborlane.example")
    assert service["display_name"] == '=HYPERLINK("http://evil.example","Backup")'
    assert service["job_title"] == "+1 service" and service["department"] == "@ops"
    assert (frame["last_login_state"] == "no_information").all()
    evidence = population.evidence
    assert evidence.control_totals["user type"] == {"guest": 2, "member": 3}
    assert any("signInActivity" in note for note in evidence.notes)


def test_entra_declared_zone_applies_to_locale_timestamps():
    frame = load("entra_users", DATA / "idp" / "entra_users.csv", options=ENTRA_US,
                 timezone="America/New_York").frame
    assert frame["created_at"].tolist()[0] == utc("2021-08-19T17:25:31")  # EDT


def test_entra_users_documented_columns():
    frame = load("entra_users", DATA / "idp" / "entra_users_documented.csv").frame
    assert frame["account_id"].tolist() == ["3f2a6c1e-8b7d-4e0a-9c51-2d4b6a8e0f11",
                                            "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"]
    assert frame["status"].tolist() == ["active", "active"]  # True / TRUE
    assert frame["created_at"].isna().all()


def test_entra_without_an_id_column_names_both_spellings(tmp_path):
    path = tmp_path / "idp" / "entra_users.csv"
    path.parent.mkdir()
    path.write_text("userPrincipalName,displayName,userType,accountEnabled\n"
                    "a@b.example,A,Member,True\n", encoding="utf-8")
    with pytest.raises(PopulationError) as info:
        load_source("entra_users", path)
    assert_error(info.value, "missing required column(s) 'objectId' or 'id'")


def test_entra_sign_in_activity_cells_give_last_login_states():
    frame = load("entra_users", ROBUST / "idp" / "entra_users_sign_in_activity.csv").frame
    assert frame["last_login_state"].tolist() == ["used", "never", "no_information",
                                                  "no_information"]
    assert frame["last_login_at"].tolist()[0] == utc("2026-09-29T14:03:11")
    assert frame["last_sign_in_attempt_at"].tolist()[2] == utc("2023-06-01T08:00:00")
    assert frame["last_non_interactive_sign_in_at"].tolist()[0] == utc("2026-09-30T01:00:00")
    assert is_utc(frame["last_login_at"])


def test_entra_broken_sign_in_json_names_the_line():
    with pytest.raises(PopulationError) as info:
        load("entra_users", ROBUST / "idp" / "entra_users_bad_sign_in.csv")
    assert_error(info.value, "idp/entra_users_bad_sign_in.csv, line 2, column 'signInActivity'",
                 "JSON object")


def test_google_workspace_users_older_columns():
    population = load("google_workspace_users", DATA / "idp" / "google_workspace_users.csv",
                      timezone="America/New_York")
    frame = population.frame
    assert list(frame.columns[: len(P.ACCOUNT_COLUMNS)]) == list(P.ACCOUNT_COLUMNS)
    assert frame["login"].tolist() == ["jane.doe@harborlane.example",
                                       "marco.ruiz@harborlane.example",
                                       "sam.lee@harborlane.example"]
    assert frame["employee_id"].tolist() == ["004217", "004218", "004220"]
    assert frame["status"].tolist() == ["active", "suspended", "active"]
    assert frame["last_login_at"].tolist()[0] == utc("2026-09-29T18:03:11")  # EDT declared
    assert frame["last_login_state"].tolist() == ["used", "used", "never"]  # Never logged in
    assert pd.isna(frame["last_login_at"].tolist()[2])
    assert frame["mfa_enabled"].tolist() == [True, False, False]
    assert frame["two_step_enforced"].tolist() == [True, False, True]
    assert frame["email_usage"].tolist() == ["0.3GB", "1.1GB", "--"]  # ' --' kept as text
    assert frame["total_storage"].tolist()[2] == "0GB"
    assert frame["manager_email"].tolist()[0] == "avery.stone@harborlane.example"
    assert frame["storage_used"].isna().all()
    evidence = population.evidence
    assert any("America/New_York" in note for note in evidence.notes)
    assert evidence.control_totals["last sign-in"] == {"never": 1, "used": 2}


def test_google_workspace_users_newer_columns_and_epoch_zero():
    frame = load("google_workspace_users",
                 DATA / "idp" / "google_workspace_users_newer.csv").frame
    assert frame["storage_limit"].tolist() == ["30GB", "30GB"]
    assert frame["storage_used"].tolist() == ["1.2GB", "3.6GB"]
    assert frame["advanced_protection"].tolist()[0] == "False"
    assert frame["last_login_state"].tolist() == ["used", "never"]  # 1970/01/01 00:00:00


def test_google_last_sign_in_in_another_format_is_an_error():
    with pytest.raises(PopulationError) as info:
        load("google_workspace_users",
             ROBUST / "idp" / "google_workspace_bad_last_sign_in.csv")
    assert_error(info.value, "line 3, column 'Last Sign In [READ ONLY]'",
                 "'%Y/%m/%d %H:%M:%S'", "'Never logged in'", "found '09/29/2026 14:03'")
    # a declared format replaces the reader's own for the whole file: line 2 no longer fits
    with pytest.raises(PopulationError) as info:
        load("google_workspace_users", ROBUST / "idp" / "google_workspace_bad_last_sign_in.csv",
             options={"timestamp_format": "%m/%d/%Y %H:%M"})
    assert_error(info.value, "line 2, column 'Last Sign In [READ ONLY]'", "'%m/%d/%Y %H:%M'",
                 "found '2026/09/29 14:03:11'")


# --------------------------------------------------------------------------------------------
# Okta System Log
# --------------------------------------------------------------------------------------------

def test_okta_system_log_events():
    population = load("okta_system_log", DATA / "idp" / "okta_system_log.ndjson")
    frame, evidence = population.frame, population.evidence
    assert population.table == "events"
    assert list(frame.columns[: len(P.EVENT_COLUMNS)]) == list(P.EVENT_COLUMNS)
    assert frame.columns[-1] == "line"
    # sorted by published then uuid; line keeps where each event was in the file
    assert frame["line"].tolist() == [1, 7, 3, 2, 6]
    assert frame["published"].is_monotonic_increasing and is_utc(frame["published"])
    assert frame["published"].tolist()[0] == utc("2026-07-14T09:12:33.843")
    assert frame["uuid"].tolist()[1] < frame["uuid"].tolist()[2]  # same published: by uuid
    login = by(frame, "event_type", "user.session.start")
    assert login["actor_login"] == "jane.doe@harborlane.example"
    assert login["actor_login_original"] == "Jane.Doe@HarborLane.example"
    assert pd.isna(login["target_id"]) and login["target_count"] == 0
    assert pd.isna(login["outcome_reason"])  # JSON null
    assert login["client_zone"] == "null"  # the string 'null' is kept, not read as missing
    add = by(frame, "event_type", "application.user_membership.add")
    assert add["target_type"] == "AppInstance" and add["target_count"] == 2
    assert add["target_login"] == "ledgerline erp" and add["client_zone"] == "OFF_NETWORK"
    failed = by(frame, "event_type", "user.lifecycle.deactivate")
    assert failed["outcome_result"] == "FAILURE"
    assert failed["outcome_reason"] == "INSUFFICIENT_PERMISSIONS"
    # line 4 repeats line 1 (same uuid, same content in another key order): dropped, listed
    assert evidence.duplicate_rows == (P.DuplicateRow(line=4, duplicate_of=1),)
    assert evidence.rows_rejected == (P.RejectedRow(5, "blank line"),)
    assert evidence.key_unique and evidence.row_count == 5 and evidence.file_format == "ndjson"
    assert any("not in published order" in note for note in evidence.notes)
    assert evidence.control_totals["outcome"] == {"FAILURE": 1, "SUCCESS": 4}
    assert dict(evidence.as_rows())["Exact duplicate lines dropped"] == "1: line 4 repeats line 1"


def test_okta_system_log_as_a_json_array_names_the_line_of_each_event():
    population = load("okta_system_log", ROBUST / "idp" / "okta_system_log_api.json")
    assert population.frame["line"].tolist() == [61, 2]
    assert population.evidence.file_format == "json"


def test_okta_same_uuid_with_different_content_is_an_error():
    with pytest.raises(PopulationError) as info:
        load("okta_system_log", ROBUST / "idp" / "okta_system_log_conflict.ndjson")
    assert (info.value.row, info.value.column) == (3, "uuid")
    assert_error(info.value, "idp/okta_system_log_conflict.ndjson, line 3, column 'uuid'",
                 "lines 1 and 3", "different content")


def test_okta_invalid_json_names_the_line():
    with pytest.raises(PopulationError) as info:
        load("okta_system_log", ROBUST / "idp" / "okta_system_log_bad_json.ndjson")
    assert_error(info.value, "idp/okta_system_log_bad_json.ndjson, line 3", "invalid JSON")


def test_okta_bad_published_names_line_and_column():
    with pytest.raises(PopulationError) as info:
        load("okta_system_log", ROBUST / "idp" / "okta_system_log_bad_published.ndjson")
    assert_error(info.value, "line 2, column 'published'", "'15/07/2026 10:00'",
                 "2026-07-14T09:12:33.843Z")


# --------------------------------------------------------------------------------------------
# Mapped exports (CSV, .xlsx, Parquet)
# --------------------------------------------------------------------------------------------

def test_mapped_review_decisions_from_a_midpoint_report():
    population = load("mapped", MAPPED / "midpoint_work_items.csv", options=MIDPOINT_OPTIONS,
                      timezone="Europe/Berlin")
    frame, evidence = population.frame, population.evidence
    assert list(frame.columns) == list(P.REVIEW_DECISION_COLUMNS)
    assert frame["decision"].tolist() == ["approve", "revoke", "revoke", "undecided"]
    assert frame["decision_original"].tolist()[2] == "Reduce"
    assert frame["subject_email"].tolist()[1] == "priya.nair@harborlane.example"
    assert frame["subject_email_original"].tolist()[1] == "Priya.Nair@harborlane.example"
    assert frame["decided_at"].tolist()[0] == utc("2026-08-14T07:15:00")  # 09:15 CEST
    assert pd.isna(frame["decided_at"].tolist()[3])
    assert frame["line"].tolist() == [4, 5, 6, 7]
    assert frame["reviewer_email"].isna().all() and frame["privileged"].dtype == bool
    assert evidence.duplicate_rows == (P.DuplicateRow(line=8, duplicate_of=4),)
    assert evidence.delimiter == ";" and len(evidence.preamble) == 2
    assert evidence.source_system == "mapped file (review_decisions)"
    assert evidence.options["values"]["decision"]["Reduce"] == "revoke"


def test_mapped_accounts_from_an_xlsx_sheet():
    population = load("mapped", MAPPED / "salesforce_users.xlsx", options=SALESFORCE_OPTIONS,
                      system="salesforce")
    frame, evidence = population.frame, population.evidence
    assert list(frame.columns) == [*P.ACCOUNT_COLUMNS, "line"]
    assert frame["line"].tolist() == [4, 5, 7]  # worksheet rows
    assert frame["employee_id"].tolist()[:2] == ["004217", "004218"]  # text; number 000000
    assert frame["display_name"].tolist()[1] == '=CONCAT("Marco"," ","Ruiz")'  # not evaluated
    assert frame["status"].tolist() == ["active", "disabled", "active"]
    assert frame["last_login_at"].tolist()[0] == utc("2026-09-29T14:03:11")
    assert frame["last_login_state"].tolist() == ["used", "no_information", "used"]
    assert frame["login"].tolist()[0] == "jane.doe@harborlane.example.prod"
    assert pd.isna(frame["email"].tolist()[2])
    assert (frame["system"] == "salesforce").all()
    assert evidence.rows_rejected == (P.RejectedRow(6, "blank row"),)
    assert evidence.file_format == "xlsx (sheet 'Users')"
    assert any("rows 8-11" in note for note in evidence.notes)
    assert evidence.preamble == ("Salesforce user export", "")


def test_xlsx_errors_name_sheet_and_row():
    options = dict(SALESFORCE_OPTIONS, values={})
    with pytest.raises(PopulationError) as info:
        load("mapped", MAPPED / "salesforce_users.xlsx", options=options, system="salesforce")
    assert_error(info.value, "mapped/salesforce_users.xlsx [sheet 'Users'], row 4, "
                             "column 'Active'", "found 'true'", "options.values.status")
    with pytest.raises(PopulationError) as info:
        load("mapped", MAPPED / "salesforce_users.xlsx", system="salesforce",
             options=dict(SALESFORCE_OPTIONS, sheet="Accounts"))
    assert_error(info.value, "'Accounts'", "sheets: README, Users")
    with pytest.raises(PopulationError) as info:
        load("mapped", ROBUST / "apps" / "salesforce_value_beyond_header.xlsx",
             system="salesforce", options={"table": "accounts", "columns": {
                 "account_id": "User ID", "status": "Active"},
                 "values": {"status": {"true": "active", "false": "disabled"}}})
    assert_error(info.value, "[sheet 'Users'], row 3", "column 4 beyond the header's 3 columns")


def test_mapped_grants_from_parquet():
    population = load("mapped", MAPPED / "netsuite_roles.parquet", options=NETSUITE_OPTIONS,
                      system="netsuite", timezone="America/New_York")
    frame, evidence = population.frame, population.evidence
    assert list(frame.columns) == [*P.GRANT_COLUMNS, "line"]
    assert frame["login"].tolist() == ["jdoe", "pnair", "pnair"]  # from account_id
    assert frame["granted_at"].tolist()[0] == utc("2021-06-15T13:00:00")  # EDT declared
    assert frame["removed_at"].tolist()[2] == utc("2026-08-01T04:00:00")
    assert frame["privileged"].tolist() == [False, True, False]
    assert frame["account_status"].tolist() == ["active", "disabled", "disabled"]
    assert frame["line"].tolist() == [1, 2, 3]  # Parquet: record numbers
    assert evidence.duplicate_rows == (P.DuplicateRow(line=4, duplicate_of=1),)
    assert evidence.file_format == "parquet" and evidence.delimiter is None
    assert evidence.columns[0] == "Login"


def test_existing_readers_read_parquet_too():
    csv_frame = load("ledgerline_erp_user_roles").frame
    parquet = load("ledgerline_erp_user_roles",
                   DATA / "apps" / "ledgerline_erp_user_roles.parquet")
    assert parquet.evidence.duplicate_rows == (P.DuplicateRow(line=6, duplicate_of=2),)
    pd.testing.assert_frame_equal(parquet.frame.drop(columns="line"),
                                  csv_frame.drop(columns="line"))


def test_epoch_millisecond_timestamps():
    population = load("mapped", MAPPED / "github_team_members.csv",
                      options=GITHUB_TEAMS_OPTIONS, system="github")
    frame = population.frame
    assert frame["granted_at"].tolist()[:2] == [utc("2022-01-11T09:00:00"),
                                                utc("2026-07-14T09:12:33.250")]
    assert frame["removed_at"].tolist()[0] == utc("2026-08-21T17:45:02")
    assert pd.isna(frame["granted_at"].tolist()[2])  # epoch zero is no date
    assert any("epoch-zero" in note for note in population.evidence.notes)
    assert frame["entitlement_type"].tolist() == ["maintainer", "maintainer", "member"]
    with pytest.raises(PopulationError) as info:
        load("mapped", ROBUST / "apps" / "github_team_members_bad_epoch.csv",
             options=GITHUB_TEAMS_OPTIONS, system="github")
    assert_error(info.value, "line 3, column 'created_at'", "Unix epoch milliseconds",
                 "found '2026-07-14T09:12:33Z'")


@pytest.mark.parametrize("options, expected", [
    ({"columns": {"account_id": "Login"}}, ["reader option 'table' is required",
                                            "identities, accounts, grants"]),
    ({"table": "users", "columns": {}}, ["reader option 'table' must be one of", "'users'"]),
    ({"table": "grants"}, ["reader option 'columns' is required"]),
    ({"table": "grants", "columns": {"account": "Login", "entitlement": "Role"}},
     ["options.columns.account", "not a column of table 'grants'",
      "Did you mean 'account_id'?"]),
    ({"table": "grants", "columns": {"account_id": "Login"}},
     ["must map the required column(s) 'entitlement'", "mapped: account_id"]),
    ({"table": "grants", "columns": {"account_id": "Login", "entitlement": "Role"},
      "values": {"account_status": {"Enabled": "active"}}},
     ["options.values.account_status", "not mapped in options.columns"]),
    ({"table": "grants", "columns": {"account_id": "Login", "entitlement": "Role",
                                     "account_status": "Status"},
      "values": {"account_status": {"Enabled": "enabled"}}},
     ["maps 'Enabled' to 'enabled'", "use one of active, disabled"]),
    ({"table": "grants", "columns": {"account_id": "Login", "entitlement": "Role",
                                     "privileged": "Administrator"},
      "values": {"privileged": {True: True}}},
     ["read by YAML as a boolean or null", "quote it"]),
])
def test_mapping_options_are_checked_and_named(options, expected):
    with pytest.raises(PopulationError) as info:
        load("mapped", MAPPED / "netsuite_roles.parquet", options=options, system="netsuite")
    assert_error(info.value, "mapped/netsuite_roles.parquet", *expected)


def test_mapped_source_column_missing_names_the_option_key_and_headers():
    options = dict(NETSUITE_OPTIONS, columns=dict(NETSUITE_OPTIONS["columns"],
                                                  entitlement="Role Name"))
    with pytest.raises(PopulationError) as info:
        load("mapped", MAPPED / "netsuite_roles.parquet", options=options, system="netsuite")
    assert_error(info.value, "'Role Name' (named by options.columns.entitlement)",
                 "columns found: 'Login', 'Email', 'Role'")


def test_mapped_grants_need_a_system():
    with pytest.raises(PopulationError) as info:
        load("mapped", MAPPED / "netsuite_roles.parquet", options=NETSUITE_OPTIONS)
    assert_error(info.value, "table 'grants' needs a system id", "options.columns.system")


# --------------------------------------------------------------------------------------------
# Exact duplicate lines
# --------------------------------------------------------------------------------------------

def test_exact_duplicate_decisions_are_dropped_and_listed():
    population = load("campaign_decisions", ROBUST / "reviews" / "decisions_exact_duplicate.csv")
    evidence = population.evidence
    assert population.frame["line"].tolist() == [2, 3, 6]
    assert evidence.duplicate_rows == (P.DuplicateRow(4, 2), P.DuplicateRow(5, 3))
    # line 6 differs (REVOKE): not dropped, its repeated key is reported
    assert not evidence.key_unique and evidence.duplicate_keys[0].lines == (2, 6)
    assert any("2 exact duplicate line(s) dropped" in note for note in evidence.notes)


def test_exact_duplicate_assignments_are_dropped_case_variants_are_not():
    population = load("okta_app_assignments",
                      ROBUST / "idp" / "okta_assignments_duplicate.csv")
    evidence = population.evidence
    assert population.frame["line"].tolist() == [2, 3, 5]
    assert evidence.duplicate_rows == (P.DuplicateRow(4, 2),)
    assert evidence.duplicate_keys[0].lines == (2, 5)


# --------------------------------------------------------------------------------------------
# The Arrow (fast) CSV path
# --------------------------------------------------------------------------------------------

FAST_CASES = [(kind, DATA / name) for kind, name in FILES.items()] + [
    ("workday_workers", ROBUST / "hr" / "workers_quoted_newline.csv"),
    ("workday_workers", ROBUST / "hr" / "workers_bom_crlf.csv"),
    ("workday_workers", ROBUST / "hr" / "workers_header_only.csv"),
    ("okta_users", ROBUST / "idp" / "okta_users_timestamps.csv"),
    ("servicenow_access_requests", ROBUST / "tickets" / "servicenow_new_york.csv"),
]


@pytest.mark.parametrize("kind, path", FAST_CASES, ids=lambda v: getattr(v, "name", v))
def test_fast_path_gives_the_same_table_and_evidence(kind, path):
    timezone = "America/New_York" if "new_york" in path.name else "UTC"
    exact = load(kind, path, timezone=timezone, options={"fast": False})
    fast = load(kind, path, timezone=timezone)   # the one reading path, by default

    assert fast.evidence.file_format == "csv (Arrow)"
    pd.testing.assert_frame_equal(fast.frame, exact.frame)
    left, right = exact.evidence.to_dict(), fast.evidence.to_dict()
    for name in ("file_format", "options"):
        left.pop(name), right.pop(name)
    assert left == right


@pytest.mark.parametrize("kind, name", [
    ("workday_workers", "hr/workers_ragged_long.csv"),
    ("workday_workers", "hr/workers_ragged_short.csv"),
    ("workday_workers", "hr/workers_latin1.csv"),
    ("workday_workers", "hr/workers_bad_date.csv"),
    ("ledgerline_erp_user_roles", "apps/erp_malformed_quote.csv"),  # Arrow alone accepts it
    ("okta_users", "idp/okta_users_bad_timestamp.csv"),
])
def test_fast_path_errors_are_the_same(kind, name):
    messages = []
    for options in ({"fast": False}, {"fast": True}):
        with pytest.raises(PopulationError) as info:
            load(kind, ROBUST / name, options=options)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_fast_path_line_numbers_with_quoted_newlines_blank_lines_and_a_preamble(tmp_path):
    header = ("system,account,entitlement,approved_by,approved_on,expires_on\r\n")
    body = ('github,a1,owner,"Avery\r\nStone",2026-01-15,\r\n'
            "\r\n"
            'github,a2,owner,"multi\nline\nname",2026-01-15,\r\n'
            ",,,,,\r\n"
            "github,a3,owner,Avery,2026-01-15,\r\n"
            "github,a4,owner,Avery,2026-13-15,\r\n")
    path = tmp_path / "policy" / "approved.csv"
    path.parent.mkdir()
    path.write_bytes(("Approved access\r\n\r\n" + header + body).encode())
    good = path.with_name("approved_good.csv")
    good.write_bytes(path.read_bytes().replace(b"2026-13-15", b"2026-12-15"))
    exact = load_source("privileged_access_approved", good, options={"preamble_lines": 2, "fast": False})
    fast = load_source("privileged_access_approved", good,
                       options={"preamble_lines": 2, "fast": True})
    assert exact.frame["line"].tolist() == [4, 7, 11, 12]
    pd.testing.assert_frame_equal(fast.frame, exact.frame)
    assert fast.evidence.rows_rejected == exact.evidence.rows_rejected == (
        P.RejectedRow(6, "blank line"), P.RejectedRow(10, "empty fields only"))
    for options in ({"preamble_lines": 2, "fast": False}, {"preamble_lines": 2, "fast": True}):
        with pytest.raises(PopulationError) as info:
            load_source("privileged_access_approved", path, options=options)
        assert (info.value.row, info.value.column) == (12, "approved_on")


def test_large_files_take_the_fast_path_unless_told_otherwise(monkeypatch):
    monkeypatch.setattr(P, "FAST_PATH_BYTES", 0)
    assert load("workday_workers").evidence.file_format == "csv (Arrow)"
    assert load("workday_workers", options={"fast": False}).evidence.file_format == "csv"
    # UTF-16 and other encodings are read by the csv module, with a note saying why
    population = load("workday_workers", ROBUST / "hr" / "workers_utf16.csv")
    assert population.evidence.file_format == "csv"
    assert any("UTF-16" in note for note in population.evidence.notes)


def test_arrow_trims_exactly_what_str_strip_removes():
    """The Arrow path trims with Arrow's kernels; they must agree with str.strip everywhere."""
    import sys

    import pyarrow as pa
    import pyarrow.compute as pc
    chars = [chr(i) for i in range(sys.maxunicode + 1) if not 0xD800 <= i < 0xE000]
    values = pa.array([f"{c}a{c}" for c in chars], pa.large_string())
    trimmed = pc.utf8_trim_whitespace(values).to_pylist()
    assert trimmed == [v.strip() for v in values.to_pylist()]
    spaces = pc.utf8_is_space(pa.array(chars)).to_pylist()
    assert spaces == [c.isspace() for c in chars]


CELL = st.text(st.sampled_from(list('ab ,"\n\r;é=')), max_size=6)


@settings(max_examples=int(os.environ.get("POPULATIONS_EXAMPLES", 40)), deadline=None)
@given(rows=st.lists(st.one_of(st.lists(CELL, min_size=2, max_size=2).map(tuple),
                               st.sampled_from(["", "   ", ",,,,,", " , , , , , "]),
                               st.sampled_from(["github,x", 'github,"a"b,owner,x,2026-01-15,',
                                                'github,""x,owner,y,2026-01-15,',
                                                'github,""""x",owner,y,2026-01-15,',
                                                'github,a"b,owner,y,2026-01-15,',
                                                "github,\xff,owner,x,2026-01-15,",
                                                "github,x,owner,y,2026-02-30,"])),
                     max_size=6),
       newline=st.sampled_from(["\n", "\r\n"]))
def test_fast_and_exact_paths_agree_on_any_small_file(rows, newline):
    """Quotes, delimiters and newlines inside values, blank and whitespace-only lines, rows of
    empty fields, ragged rows, text after a closing quote, bytes that are not UTF-8, impossible
    dates: the Arrow path gives the csv module's table, lines, rejections and errors."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "policy" / "approved.csv"
        path.parent.mkdir()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator=newline)
        writer.writerow(["system", "account", "entitlement", "approved_by", "approved_on",
                         "expires_on"])
        for row in rows:
            if isinstance(row, str):
                out.write(row + newline)
            else:
                writer.writerow(["github", row[0], "owner", row[1], "2026-01-15", ""])
        path.write_bytes(out.getvalue().encode("utf-8").replace("\xff".encode(), b"\xff"))
        results = []
        for options in ({"fast": False}, {"fast": True}):
            try:
                population = load_source("privileged_access_approved", path, options=options)
            except PopulationError as exc:
                results.append(str(exc))
            else:
                results.append((population.frame, population.evidence.rows_rejected,
                                population.evidence.row_count))
    if isinstance(results[0], str) or isinstance(results[1], str):
        assert results[0] == results[1]
    else:
        pd.testing.assert_frame_equal(results[0][0], results[1][0])
        assert results[0][1:] == results[1][1:]


@pytest.mark.parametrize("text, suspect", [
    ('a,b\n1,2\n', False),
    ('"a","b"\r\n"1","x ""y"" z"\r\n"",""\n', False),
    ('a,b\n1,"multi\nline"\n', False),
    ('a,b\n"Priya" Nair,2\n', True),
    ('a,b\n""x,2\n', True),
    ('a,b\n"""x""",2\n', False),
    ('a,b\n""""x,2\n', True),
    ('a,b\nab"c,2\n', True),   # legal for the csv module, which then decides
    ('a,b\n1,"2"', False),      # closing quote at the very end of the file
])
def test_quote_check_is_the_same_in_one_piece_or_byte_by_byte(text, suspect):
    whole = P._QuoteCheck(",")
    whole.feed(text.encode())
    whole.finish()
    pieces = P._QuoteCheck(",")
    for byte in text.encode():
        pieces.feed(bytes([byte]))
    pieces.finish()
    assert whole.suspect is suspect and pieces.suspect is suspect
