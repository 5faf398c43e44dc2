"""Tests of workbench.populations: readers, canonical tables, IPE evidence, reconciliation.

Fixtures under tests/data/exports/ are shaped like docs/demo-exports.md (same folders, headers and
value formats, including the real systems' quirks); tests/data/exports/robustness/ holds one small
file per robustness case.
"""

from __future__ import annotations

import csv
import hashlib
import inspect
import json
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
    assert set(P.READERS) == set(FILES)
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
    assert frame["removed_at"].notna().tolist() == [False, False, False, True, False, False]
    assert frame["account_status"].tolist()[2:5] == ["locked", "locked", "disabled"]
    temp = by(frame, "login", "tempadm")
    assert pd.isna(temp["last_login_at"]) and temp["last_login_state"] == "never"
    # the same role twice (line 3 and 7) is a duplicate key the evidence names
    evidence = population.evidence
    assert evidence.key_columns == ("login", "entitlement", "granted_at")
    assert not evidence.key_unique and evidence.duplicate_key_count == 1
    assert evidence.duplicate_keys[0].lines == (3, 7)
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
    with pytest.raises(ValueError, match=r"'jdoe'.*account_status.*2, 3, 7"):
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
    assert evidence.row_count == len(data.decode("utf-8").splitlines()) - 1
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
    assert rows["Rows"] == "6" and rows["Extracted at (declared)"] == EXTRACTED
    assert rows["Key unique"].startswith("no") and "lines 3, 7" in rows["Key unique"]
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
                 "semicolons")


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
