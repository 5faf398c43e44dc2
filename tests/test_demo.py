"""The demo company generator: contract headers, determinism, scale, atomic writes, and the planted
exceptions re-derived independently from the CSV files (nothing here reads the generator's internals).

The re-derivation (``derive_findings``) implements the analytics' definitions as written in
docs/demo-company.md and must find exactly the rows of ground_truth.csv: every planted exception,
and nothing else anywhere in the data.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import demo

# --- the contract (docs/demo-exports.md), hard-coded on purpose --------------------------------

EXPECTED_HEADERS = {
    "hr/workday_workers.csv": [
        "Employee ID", "Worker", "Email - Work", "Business Title", "Supervisory Organization",
        "Manager Employee ID", "Cost Center", "Hire Date", "Worker Status", "Termination Date",
        "Last Day of Work", "Primary Reason", "Eligible for Rehire"],
    "idp/okta_users.csv": [
        "id", "status", "created", "activated", "statusChanged", "lastLogin", "lastUpdated",
        "passwordChanged", "profile.login", "profile.email", "profile.firstName", "profile.lastName",
        "profile.employeeNumber"],
    "idp/okta_app_assignments.csv": [
        "User", "Login", "Application name", "Application instance", "Application login", "Assigned on",
        "Unassigned on", "Last login", "Last password change"],
    "apps/ledgerline_erp_user_roles.csv": [
        "USER_ID", "USER_NAME", "EMAIL", "ROLE_NAME", "ROLE_ASSIGNED_DATE", "END_DATE", "ACCOUNT_STATUS",
        "LAST_LOGON", "CREATED_DATE"],
    "apps/github_org_members.csv": [
        "login", "name", "role", "two_factor_enabled", "membership_visibility", "last_active",
        "verified_domain_emails"],
    "cloud/aws_iam_credential_report.csv": [
        "user", "arn", "user_creation_time", "password_enabled", "password_last_used", "password_last_changed",
        "password_next_rotation", "mfa_active", "access_key_1_active", "access_key_1_last_rotated",
        "access_key_1_last_used_date", "access_key_1_last_used_region", "access_key_1_last_used_service",
        "access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
        "access_key_2_last_used_region", "access_key_2_last_used_service", "cert_1_active",
        "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated"],
    "cloud/aws_iam_group_memberships.csv": ["GroupName", "UserName", "UserArn"],
    "reviews/uar_2026Q3_decisions.csv": [
        "Campaign ID", "Campaign Name", "Certification ID", "Reviewer Name", "Reviewer Email", "Identity Name",
        "Identity Email", "Source", "Access Type", "Access Name", "Privileged", "Decision", "Decision Date",
        "Comments"],
    "reviews/uar_2026Q3_campaign_status.csv": [
        "Campaign ID", "Campaign Name", "Type", "Date of Creation", "Date of Activation", "Deadline", "Status",
        "Completed Date", "Total Items", "Decisions Made", "Signed Off By", "Signed Off Date"],
    "tickets/servicenow_access_requests.csv": [
        "Number", "Requested for", "Opened by", "Item", "Application", "Entitlement", "Action", "Approval",
        "Approver", "Approved", "Opened", "Closed", "State"],
    "policy/sod_rules.csv": [
        "rule_id", "system", "function_a", "entitlements_a", "function_b", "entitlements_b", "risk_level",
        "description"],
    "policy/privileged_access_approved.csv": [
        "system", "account", "entitlement", "approved_by", "approved_on", "expires_on"],
    "policy/sod_mitigations.csv": [
        "mitigation_id", "rule_id", "login", "mitigating_control", "approved_by", "valid_from", "valid_to"],
    "apps/ledgerline_erp_user_roles_after_review.csv": [
        "USER_ID", "USER_NAME", "EMAIL", "ROLE_NAME", "ROLE_ASSIGNED_DATE", "END_DATE", "ACCOUNT_STATUS",
        "LAST_LOGON", "CREATED_DATE"],
    "tickets/servicenow_remediation_tasks.csv": [
        "Number", "Short description", "Configuration item", "Requested for", "Account", "Entitlement", "State",
        "Assigned to", "Closed", "Closed by"],
    "ground_truth.csv": ["rule", "subject", "system", "control_family", "detail"],
    "removal_truth.csv": ["subject", "system", "entitlement", "outcome", "proven_by", "case"],
}

# The program change exports (workbench.demo_changes), written whole beside the CSV contract files, and
CHANGE_FILES = [
    "changes/github_ledgerline_pulls.json", "changes/github_ledgerline_reviews.json",
    "changes/github_ledgerline_deployments.json", "changes/github_platform-infra_pulls.json",
    "changes/github_platform-infra_reviews.json", "changes/github_platform-infra_deployments.json",
    "changes/servicenow_change_requests.csv", "changes/change_ground_truth.csv",
    # the computer operations exports (workbench.demo_operations)
    "operations/veeam_backup_sessions.csv", "operations/aws_backup_jobs.json", "operations/servicenow_incidents.csv",
    "operations/operations_ground_truth.csv"]

PLANTED = {
    "terminated_with_active_access": 4, "late_deprovisioning": 2, "self_review": 1,
    "undecided_review_line": 3, "revocation_not_executed": 2, "rubber_stamping": 1,
    "approved_terminated_user": 1, "sod_conflict": 2, "orphan_account": 2, "dormant_account": 2,
    "access_without_approval": 2, "privileged_drift": 1, "mfa_not_enabled": 1,
    "access_after_termination": 2, "sod_attribute_conflict": 1, "shared_or_generic_account": 2,
    "unexplained_removal": 1,
}
PAYMENT_APPROVAL_DEPARTMENTS = {"Accounts Payable", "Finance"}     # attribute rule SOD-ATTR-01
SYSTEM_OF_SOURCE = {"Ledgerline ERP": "ledgerline_erp", "AWS Production": "aws_prod", "GitHub Enterprise": "github"}
PRIVILEGED = {("ledgerline_erp", "System Administrator"), ("ledgerline_erp", "Security Administrator"),
              ("aws_prod", "Administrators"), ("aws_prod", "PowerUsers"), ("aws_prod", "BillingAdmins"),
              ("github", "owner")}


# --- the two quarters (docs/demo-company.md sections 0 and 1), hard-coded on purpose -------------

DECISIONS, CAMPAIGN_STATUS = "reviews/decisions", "reviews/campaign_status"   # load()'s keys for a quarter's campaign


@dataclass(frozen=True)
class Period:
    """One demo quarter as the re-derivation needs it: its calendar, its campaign files, its planted counts."""

    id: str
    start: pd.Timestamp             # the first day of the period
    end: pd.Timestamp               # the day after its last day (exclusive)
    last_day: str                   # the period end, as the policy files write dates
    extracted: pd.Timestamp         # every listing's extraction
    after_review: pd.Timestamp      # the after-review ERP listing's extraction
    snapshot_end: pd.Timestamp      # the day after the review snapshot (access held at any moment of that day)
    dormant_before: pd.Timestamp    # no use in the 90 days before the period end
    decisions: str                  # the campaign files' paths
    campaign_status: str
    planted: Mapping[str, int] = field(compare=False, hash=False)

    @property
    def recent_since(self) -> pd.Timestamp:
        return self.extracted - pd.Timedelta(days=45)

    @property
    def new_since(self) -> pd.Timestamp:
        return self.extracted - pd.Timedelta(days=30)

    def files(self) -> dict[str, str]:
        """load()'s key -> the file's path in this quarter's folder (the campaign files under one key each)."""
        paths = {rel: rel for rel in EXPECTED_HEADERS if not rel.startswith("reviews/")}
        return {**paths, DECISIONS: self.decisions, CAMPAIGN_STATUS: self.campaign_status}

    def headers(self) -> dict[str, list[str]]:
        """The contract of this quarter's folder: the Q3 files and headers with this quarter's campaign names."""
        q3_names = {DECISIONS: "reviews/uar_2026Q3_decisions.csv",
                    CAMPAIGN_STATUS: "reviews/uar_2026Q3_campaign_status.csv"}
        return {rel: EXPECTED_HEADERS[q3_names.get(key, key)] for key, rel in self.files().items()}


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


Q3 = Period("2026-Q3", start=utc("2026-07-01"), end=utc("2026-10-01"), last_day="2026-09-30",
            extracted=utc("2026-10-01 06:00"), after_review=utc("2026-09-18 06:00"), snapshot_end=utc("2026-08-15"),
            dormant_before=utc("2026-07-02"),      # 90 days before 2026-09-30
            decisions="reviews/uar_2026Q3_decisions.csv", campaign_status="reviews/uar_2026Q3_campaign_status.csv",
            planted=MappingProxyType(PLANTED))
Q2 = Period("2026-Q2", start=utc("2026-04-01"), end=utc("2026-07-01"), last_day="2026-06-30",
            extracted=utc("2026-07-01 06:00"), after_review=utc("2026-06-18 06:00"), snapshot_end=utc("2026-05-15"),
            dormant_before=utc("2026-04-01"),      # 90 days before 2026-06-30
            decisions="reviews/uar_2026Q2_decisions.csv", campaign_status="reviews/uar_2026Q2_campaign_status.csv",
            # MIT-0002 (the Procurement person's SOD-02) is valid to 2026-06-30: one SoD conflict fewer;
            # the unexplained ERP removal is planted in the demo period only
            planted=MappingProxyType({**{k: v for k, v in PLANTED.items() if k != "unexplained_removal"},
                                      "sod_conflict": 1}))


# --- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def company(tmp_path_factory) -> demo.DemoCompany:
    return demo.generate_demo_company(tmp_path_factory.mktemp("demo") / "data")


@pytest.fixture(scope="module")
def frames(company) -> dict[str, pd.DataFrame]:
    return load(company.out_dir, Q3)


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> demo.DemoCompany:
    return demo.generate_demo_company(tmp_path_factory.mktemp("big") / "data", employees=2000, seed=7)


@pytest.fixture(scope="module")
def prior(tmp_path_factory) -> demo.DemoCompany:
    return demo.generate_demo_company(tmp_path_factory.mktemp("prior") / "data", period="2026-Q2")


@pytest.fixture(scope="module")
def prior_frames(prior) -> dict[str, pd.DataFrame]:
    return load(prior.out_dir, Q2)


@pytest.fixture(scope="module")
def big_prior(tmp_path_factory) -> demo.DemoCompany:
    return demo.generate_demo_company(tmp_path_factory.mktemp("big-prior") / "data", employees=2000, seed=7,
                                      period="2026-Q2")


def load(folder: Path, period: Period) -> dict[str, pd.DataFrame]:
    """Every file of a quarter's folder; its campaign files under the keys DECISIONS and CAMPAIGN_STATUS."""
    return {key: pd.read_csv(folder / rel, dtype=str, keep_default_na=False) for key, rel in period.files().items()}


def ts(series: pd.Series) -> pd.Series:
    """Any of the exports' timestamp formats (Z, +00:00, or UTC without zone) -> aware UTC; '' -> NaT."""
    text = series.where(~series.isin(["", "N/A", "no_information", "not_supported"]))
    return pd.to_datetime(text, utc=True, format="ISO8601")


def bdays(start: pd.Series, end: pd.Series) -> np.ndarray:
    """Business days (Mon-Fri) from start to end date; NaN where either is missing."""
    s = start.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[D]")
    e = end.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[D]")
    valid = ~(np.isnat(s) | np.isnat(e))
    out = np.full(len(s), np.nan)
    out[valid] = np.busday_count(s[valid], e[valid])
    return out


# --- the independent re-derivation of every rule ------------------------------------------------

def derive_findings(f: dict[str, pd.DataFrame], period: Period) -> set[tuple[str, str, str]]:
    """(rule, subject, system) of every exception in a quarter's exports, by the documented definitions."""
    hr = f["hr/workday_workers.csv"].copy()
    hr["email"] = hr["Email - Work"].str.casefold()
    hr["term"] = pd.to_datetime(hr["Termination Date"].replace("", None), utc=True)
    hr_emails = set(hr["email"])
    manager_email = hr.set_index("Employee ID")["email"]
    hr["manager_email"] = hr["Manager Employee ID"].map(manager_email)
    term_of = hr.set_index("email")["term"]
    terminated = set(hr.loc[hr["term"].notna() & (hr["term"] <= period.extracted), "email"])

    okta = f["idp/okta_users.csv"].copy()
    okta["login"] = okta["profile.login"].str.casefold()
    assign = f["idp/okta_app_assignments.csv"].copy()
    login_map = {(app, al.casefold()): lg.casefold()
                 for app, al, lg in zip(assign["Application name"], assign["Application login"], assign["Login"])}

    erp = f["apps/ledgerline_erp_user_roles.csv"].copy()
    erp["email"] = erp["EMAIL"].str.casefold()
    erp["start"], erp["end"] = ts(erp["ROLE_ASSIGNED_DATE"]), ts(erp["END_DATE"])
    erp["person"] = erp["email"].where(erp["email"].isin(hr_emails))
    held = erp[erp["END_DATE"] == ""]

    gh = f["apps/github_org_members.csv"].copy()
    gh["emails"] = gh["verified_domain_emails"].str.casefold().str.split(";")
    gh["person"] = [next((e for e in es if e in hr_emails), None) for es in gh["emails"]]

    cred = f["cloud/aws_iam_credential_report.csv"].copy()
    cred = cred[cred["user"] != "<root_account>"]
    cred["person"] = [login_map.get(("AWS Production", u.casefold())) for u in cred["user"]]
    groups = f["cloud/aws_iam_group_memberships.csv"].copy()
    groups["person"] = [login_map.get(("AWS Production", u.casefold())) for u in groups["UserName"]]

    uar = f[DECISIONS].copy()
    uar["reviewer"] = uar["Reviewer Email"].str.casefold()
    uar["identity"] = uar["Identity Email"].str.casefold()
    uar["system"] = uar["Source"].map(SYSTEM_OF_SOURCE)
    uar["at"] = ts(uar["Decision Date"])

    found: set[tuple[str, str, str]] = set()

    # termination: terminated with active access, per system
    for login in okta.loc[(okta["status"] != "DEPROVISIONED") & okta["login"].isin(terminated), "login"]:
        found.add(("terminated_with_active_access", login, "okta"))
    for person in held.loc[(held["ACCOUNT_STATUS"] == "ACTIVE") & held["person"].isin(terminated), "person"]:
        found.add(("terminated_with_active_access", person, "ledgerline_erp"))
    for person in cred.loc[cred["person"].isin(terminated), "person"]:
        found.add(("terminated_with_active_access", person, "aws_prod"))
    for person in gh.loc[gh["person"].isin(terminated), "person"]:
        found.add(("terminated_with_active_access", person, "github"))

    # termination: deactivation later than the next business day after termination
    gone = okta[(okta["status"] == "DEPROVISIONED")].merge(hr, left_on="login", right_on="email")
    late = bdays(gone["term"], ts(gone["statusChanged"])) > 1
    for login in gone.loc[late, "login"]:
        found.add(("late_deprovisioning", login, "okta"))

    # termination: accounts used after the termination day (last use later than the termination date)
    leavers_in_period = hr[hr["term"].notna() & (hr["term"] >= period.start)].set_index("email")["term"]
    used = okta.assign(last=ts(okta["lastLogin"]))
    for r in used[used["login"].isin(leavers_in_period.index)].itertuples():
        if pd.notna(r.last) and r.last.normalize() > leavers_in_period[r.login]:
            found.add(("access_after_termination", r.login, "okta"))
    erp_used = erp.drop_duplicates("USER_ID").assign(last=lambda e: ts(e["LAST_LOGON"]))
    for r in erp_used[erp_used["person"].isin(leavers_in_period.index)].itertuples():
        if pd.notna(r.last) and r.last.normalize() > leavers_in_period[r.person]:
            found.add(("access_after_termination", r.person, "ledgerline_erp"))

    # termination: accounts without an HR person (service accounts: svc- prefix)
    for uid in held.loc[held["person"].isna(), "USER_ID"].str.casefold():
        found.add(("orphan_account", uid, "ledgerline_erp"))
    for login in gh.loc[gh["person"].isna(), "login"].str.casefold():
        found.add(("orphan_account", login, "github"))
    for user in cred.loc[cred["person"].isna() & ~cred["user"].str.startswith("svc-"), "user"].str.casefold():
        found.add(("orphan_account", user, "aws_prod"))
    for login in okta.loc[~okta["login"].isin(hr_emails), "login"]:
        found.add(("orphan_account", login, "okta"))

    # user access review
    for r in uar[uar["reviewer"] == uar["identity"]].itertuples():
        found.add(("self_review", r.identity, r.system))
    for r in uar[uar["Decision"] == ""].itertuples():
        found.add(("undecided_review_line", r.identity, r.system))
    approved = uar[uar["Decision"] == "APPROVE"]
    left = approved["identity"].map(term_of)
    for r in approved[left.notna() & (approved["at"].dt.normalize() >= left)].itertuples():
        found.add(("approved_terminated_user", r.identity, r.system))
    for r in uar[uar["Decision"] == "REVOKE"].itertuples():
        if r.system == "ledgerline_erp":
            rows = erp[(erp["person"] == r.identity) & (erp["ROLE_NAME"] == r._10)
                       & (erp["start"] < period.snapshot_end)]
            late_or_never = rows["end"].isna() | (bdays(pd.Series([r.at] * len(rows), index=rows.index), rows["end"]) > 2)
            if late_or_never.any():
                found.add(("revocation_not_executed", r.identity, r.system))
        elif r.system == "aws_prod":
            if ((groups["person"] == r.identity) & (groups["GroupName"] == r._10)).any():
                found.add(("revocation_not_executed", r.identity, r.system))
        elif ((gh["person"] == r.identity) & (gh["role"] == r._10)).any():
            found.add(("revocation_not_executed", r.identity, r.system))
    # unexplained removals: ERP roles held in the after-review listing and no longer held at the period
    # end, with no revoke decision, no remediation task and no termination behind them
    after = f["apps/ledgerline_erp_user_roles_after_review.csv"]
    held_after = after[after["END_DATE"] == ""]
    still = set(zip(held["USER_ID"], held["ROLE_NAME"]))
    revoked = set(zip(uar.loc[uar["Decision"] == "REVOKE", "identity"], uar.loc[uar["Decision"] == "REVOKE", "Access Name"]))
    tasks = f["tickets/servicenow_remediation_tasks.csv"]
    tasked = set(zip(tasks["Requested for"].str.casefold(), tasks["Entitlement"]))
    for r in held_after.itertuples():
        person = r.EMAIL.casefold()
        if (r.USER_ID, r.ROLE_NAME) in still or (person, r.ROLE_NAME) in revoked | tasked or person in terminated:
            continue
        found.add(("unexplained_removal", person, "ledgerline_erp"))
    for reviewer, stats in reviewer_stats(uar).iterrows():
        if stats.decided >= 20 and stats.approval_rate >= 0.95 and stats.median_gap <= 60:
            found.add(("rubber_stamping", reviewer, "ledgerline_erp"))

    # segregation of duties at extraction; a mitigation valid at the period end removes the conflict
    rules = f["policy/sod_rules.csv"]
    mitigations = f["policy/sod_mitigations.csv"]
    mitigated = {(m.rule_id, m.login.casefold()) for m in mitigations.itertuples()
                 if m.valid_from <= period.last_day and (m.valid_to == "" or m.valid_to >= period.last_day)}
    for uid, roles in held.groupby("USER_ID")["ROLE_NAME"]:
        roles = set(roles)
        for rule in rules.itertuples():
            if roles & set(rule.entitlements_a.split(";")) and roles & set(rule.entitlements_b.split(";")):
                if (rule.rule_id, uid.casefold()) in mitigated:
                    continue
                who = held.loc[held["USER_ID"] == uid, "person"].iloc[0]
                found.add(("sod_conflict", who if isinstance(who, str) else uid.casefold(), "ledgerline_erp"))
    # attribute rule: payment approval only for Accounts Payable and Finance (HR department)
    department = dict(zip(hr["email"], hr["Supervisory Organization"]))
    approvers = held[held["ROLE_NAME"] == "AP Manager - Payment Approval"]
    for r in approvers.itertuples():
        if department.get(r.person) not in PAYMENT_APPROVAL_DEPARTMENTS:
            found.add(("sod_attribute_conflict", r.person or r.USER_ID.casefold(), "ledgerline_erp"))

    # authentication: dormant accounts (no use in 90 days; never used and older than 30 days)
    def dormant(last: pd.Series, created: pd.Series) -> pd.Series:
        return (last < period.dormant_before) | (last.isna() & (created < period.new_since))

    live = okta[okta["status"] != "DEPROVISIONED"]
    for login in live.loc[dormant(ts(live["lastLogin"]), ts(live["created"])), "login"]:
        found.add(("dormant_account", login, "okta"))
    accounts = held[held["ACCOUNT_STATUS"] != "DISABLED"].drop_duplicates("USER_ID")
    for uid in accounts.loc[dormant(ts(accounts["LAST_LOGON"]), ts(accounts["CREATED_DATE"])), "USER_ID"]:
        found.add(("dormant_account", uid.casefold(), "ledgerline_erp"))
    aws_last = pd.concat([ts(cred[c]) for c in ("password_last_used", "access_key_1_last_used_date",
                                                  "access_key_2_last_used_date")], axis=1).max(axis=1)
    for user in cred.loc[dormant(aws_last, ts(cred["user_creation_time"])), "user"]:
        found.add(("dormant_account", user.casefold(), "aws_prod"))
    for login in gh.loc[dormant(ts(gh["last_active"]), pd.Series(pd.NaT, index=gh.index, dtype="datetime64[ns, UTC]")) |
                        (gh["last_active"] == ""), "login"]:
        found.add(("dormant_account", login.casefold(), "github"))

    # authentication: active accounts with no HR person, no svc- prefix and an interactive sign-in
    # (ERP LAST_LOGON, GitHub last_active, Okta lastLogin, the AWS console password's last use)
    for r in held[held["person"].isna() & (held["ACCOUNT_STATUS"] != "DISABLED")].drop_duplicates("USER_ID").itertuples():
        if pd.notna(ts(pd.Series([r.LAST_LOGON])).iloc[0]) and not r.USER_ID.casefold().startswith("svc-"):
            found.add(("shared_or_generic_account", r.USER_ID.casefold(), "ledgerline_erp"))
    for r in gh[gh["person"].isna() & (gh["last_active"] != "")].itertuples():
        if not r.login.casefold().startswith("svc-"):
            found.add(("shared_or_generic_account", r.login.casefold(), "github"))
    for r in cred[cred["person"].isna() & ~cred["user"].str.startswith("svc-")
                  & ~cred["password_last_used"].isin(["N/A", "no_information", "not_supported"])].itertuples():
        found.add(("shared_or_generic_account", r.user.casefold(), "aws_prod"))
    for r in okta[~okta["login"].isin(hr_emails) & (okta["status"] != "DEPROVISIONED") & (okta["lastLogin"] != "")].itertuples():
        found.add(("shared_or_generic_account", r.login, "okta"))

    # authentication: console password without MFA
    for r in cred[(cred["password_enabled"] == "true") & (cred["mfa_active"] == "false")].itertuples():
        found.add(("mfa_not_enabled", r.person or r.user.casefold(), "aws_prod"))

    # provisioning: roles granted in the period without an approved request by the manager beforehand
    tickets = f["tickets/servicenow_access_requests.csv"].copy()
    tickets["who"] = tickets["Requested for"].str.casefold()
    tickets["approved_at"] = ts(tickets["Approved"])
    ok = tickets[(tickets["Action"] == "Grant") & (tickets["Approval"] == "approved")
                 & (tickets["State"] == "Closed Complete") & (tickets["Application"] == "Ledgerline ERP")
                 & (tickets["Approver"].str.casefold() != tickets["who"])
                 & (tickets["Approver"].str.casefold() != tickets["Opened by"].str.casefold())]
    ok = ok.merge(hr[["email", "manager_email"]], left_on="who", right_on="email")
    ok = ok[ok["Approver"].str.casefold() == ok["manager_email"]]
    new = erp[(erp["start"] >= period.start) & (erp["start"] < period.end)]
    for r in new.itertuples():
        match = ok[(ok["who"] == r.person) & (ok["Entitlement"] == r.ROLE_NAME) & (ok["approved_at"] < r.start)]
        if match.empty:
            found.add(("access_without_approval", r.person or r.USER_ID.casefold(), "ledgerline_erp"))

    # privileged access at extraction not on the approved list (unexpired at period end)
    approved_list = f["policy/privileged_access_approved.csv"]
    valid = {(s, a.casefold(), e) for s, a, e, x in zip(approved_list["system"], approved_list["account"],
                                                       approved_list["entitlement"], approved_list["expires_on"])
             if x == "" or x > period.last_day}
    holders = [("ledgerline_erp", r.USER_ID, r.ROLE_NAME, r.person) for r in held.itertuples()]
    holders += [("aws_prod", r.UserName, r.GroupName, r.person) for r in groups.itertuples()]
    holders += [("github", r.login, r.role, r.person) for r in gh.itertuples()]
    for system, account, entitlement, person in holders:
        if (system, entitlement) in PRIVILEGED and (system, account.casefold(), entitlement) not in valid:
            found.add(("privileged_drift", person or account.casefold(), system))
    return found


def reviewer_stats(uar: pd.DataFrame) -> pd.DataFrame:
    rows = {}
    for reviewer, group in uar.groupby("reviewer"):
        decided = group[group["Decision"] != ""]
        gaps = decided["at"].sort_values().diff().dt.total_seconds().dropna()
        rows[reviewer] = {"lines": len(group), "decided": len(decided),
                          "revoked": int((decided["Decision"] == "REVOKE").sum()),
                          "approval_rate": (decided["Decision"] == "APPROVE").mean() if len(decided) else np.nan,
                          "median_gap": gaps.median() if len(gaps) else np.nan,
                          "max_gap": gaps.max() if len(gaps) else np.nan}
    return pd.DataFrame.from_dict(rows, orient="index")


def truth_keys(f: dict[str, pd.DataFrame]) -> set[tuple[str, str, str]]:
    gt = f["ground_truth.csv"]
    return set(zip(gt["rule"], gt["subject"], gt["system"]))


def file_hashes(company: demo.DemoCompany) -> dict[str, str]:
    return {rel: hashlib.sha256(path.read_bytes()).hexdigest() for rel, path in company.files.items()}


# --- API, contract ------------------------------------------------------------------------------

def test_api_returns_every_contract_file(company):
    assert company.employees == 300 and company.seed == 20260930
    assert sorted(company.files) == sorted([*EXPECTED_HEADERS, *CHANGE_FILES])
    assert all(path.is_file() and path.parent.is_relative_to(company.out_dir) for path in company.files.values())
    assert company.ground_truth == company.out_dir / "ground_truth.csv"
    assert demo.DEMO_PERIOD_START.isoformat() == "2026-07-01" and demo.UAR_SNAPSHOT.isoformat() == "2026-08-14"
    assert demo.DEMO_EXTRACTED_AT == "2026-10-01T06:00:00Z" and demo.DEMO_DOMAIN == "harborlane.example"


@pytest.mark.parametrize("relative", sorted(EXPECTED_HEADERS))
def test_header_matches_the_contract(company, relative):
    raw = (company.out_dir / relative).read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw
    assert raw.split(b"\n", 1)[0].decode("utf-8").split(",") == EXPECTED_HEADERS[relative]
    assert len(pd.read_csv(company.out_dir / relative, dtype=str)) >= 1


def test_iam_credential_report_quirks(frames):
    cred = frames["cloud/aws_iam_credential_report.csv"]
    assert len(cred.columns) == 22
    root = cred.iloc[0]
    assert root["user"] == "<root_account>" and root["arn"] == "arn:aws:iam::123456789012:root"
    assert (root["password_enabled"], root["password_last_changed"], root["password_next_rotation"]) == \
        ("not_supported",) * 3
    values = set(cred.to_numpy().ravel())
    assert {"N/A", "no_information", "not_supported", "true", "false"} <= values
    assert not values & {"TRUE", "FALSE", "True", "False"}
    stamps = cred["user_creation_time"]
    assert stamps.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00").all()
    services = cred[cred["user"].str.startswith("svc-")]
    assert len(services) >= 3 and (services["password_enabled"] == "false").all()
    assert (services["password_last_used"] == "N/A").all() and (services["access_key_1_active"] == "true").all()
    never_used_key = cred[(cred["access_key_1_active"] == "true") & (cred["access_key_1_last_used_date"] == "N/A")]
    assert len(never_used_key) >= 1 and (never_used_key["access_key_1_last_used_region"] == "N/A").all()
    for k in (1, 2):   # every active access key rotated within 90 days of extraction
        active = cred[cred[f"access_key_{k}_active"] == "true"]
        assert (ts(active[f"access_key_{k}_last_rotated"]) >= Q3.extracted - pd.Timedelta(days=90)).all()


def test_export_quirks_present(frames):
    hr = frames["hr/workday_workers.csv"]
    assert hr["Employee ID"].str.fullmatch(r"\d{6}").all() and hr["Employee ID"].str.startswith("0").any()
    assert hr["Employee ID"].is_unique and hr["Email - Work"].str.casefold().is_unique
    mixed = hr[hr["Email - Work"] != hr["Email - Work"].str.lower()]
    assert 3 <= len(mixed) <= 10
    okta = frames["idp/okta_users.csv"]
    assert {"ACTIVE", "DEPROVISIONED"} <= set(okta["status"]) and (okta["lastLogin"] == "").any()
    assert okta["id"].str.fullmatch(r"00u[0-9A-Za-z]{17}").all()
    gh = frames["apps/github_org_members.csv"]
    assert (gh["role"] == "owner").sum() >= 2 and (gh["verified_domain_emails"] == "").sum() == 1
    assert (gh["two_factor_enabled"] == "true").all()
    erp = frames["apps/ledgerline_erp_user_roles.csv"]
    assert erp["USER_ID"].str.fullmatch(r"[A-Z0-9]+").all()
    assert (erp["EMAIL"] != erp["EMAIL"].str.lower()).any()     # upper-case e-mails as stored
    assert {"ACTIVE", "DISABLED", "LOCKED"} <= set(erp["ACCOUNT_STATUS"])
    tickets = frames["tickets/servicenow_access_requests.csv"]
    assert {"approved", "rejected", "requested"} <= set(tickets["Approval"])
    assert {"Grant", "Revoke"} <= set(tickets["Action"]) and tickets["Number"].is_unique


# --- determinism and scale ----------------------------------------------------------------------

def test_same_seed_gives_byte_identical_files_and_another_seed_differs(company, tmp_path):
    again = demo.generate_demo_company(tmp_path / "again")
    assert file_hashes(again) == file_hashes(company)
    other = demo.generate_demo_company(tmp_path / "other", seed=1)
    differing = [rel for rel, h in file_hashes(other).items() if h != file_hashes(company)[rel]]
    assert len(differing) >= 10


def test_ground_truth_has_the_planted_counts(frames):
    gt = frames["ground_truth.csv"]
    assert gt["rule"].value_counts().to_dict() == PLANTED
    assert gt.equals(gt.sort_values(list(gt.columns), ignore_index=True))
    assert (gt["subject"] == gt["subject"].str.casefold()).all()
    assert set(gt["system"]) <= {"okta", "ledgerline_erp", "aws_prod", "github"}
    assert not gt.duplicated(["rule", "subject", "system"]).any()


def test_larger_company_scales_with_the_same_planted_counts(big, frames):
    assert big.employees == 2000
    f = load(big.out_dir, Q3)
    assert f["ground_truth.csv"]["rule"].value_counts().to_dict() == PLANTED
    for relative in ("hr/workday_workers.csv", "apps/ledgerline_erp_user_roles.csv", DECISIONS,
                     "cloud/aws_iam_group_memberships.csv", "idp/okta_app_assignments.csv"):
        assert len(f[relative]) > 4 * len(frames[relative]), relative
    active_hr = f["hr/workday_workers.csv"]
    # employees = everyone employed at some time in the two demo quarters (2026-04-01 to 2026-09-30)
    in_quarters = active_hr[(active_hr["Termination Date"] == "") | (active_hr["Termination Date"] >= "2026-04-01")]
    assert len(in_quarters) == 2000
    in_period = active_hr[(active_hr["Termination Date"] == "") | (active_hr["Termination Date"] >= "2026-07-01")]
    assert 0 < 2000 - len(in_period) <= 0.1 * 2000, "the prior quarter's leavers are gone by Q3"


# --- every planted exception, and nothing else ---------------------------------------------------

def assert_shows_exactly_its_ground_truth(f: dict[str, pd.DataFrame], period: Period) -> None:
    assert f["ground_truth.csv"]["rule"].value_counts().to_dict() == dict(period.planted)
    found, truth = derive_findings(f, period), truth_keys(f)
    assert sorted(found - truth) == [], f"{period.id}: exceptions in the data that were not planted"
    assert sorted(truth - found) == [], f"{period.id}: planted exceptions the data does not show"


def test_independent_analytics_find_exactly_the_ground_truth(frames):
    found = derive_findings(frames, Q3)
    truth = truth_keys(frames)
    assert found - truth == set(), "exceptions in the data that were not planted"
    assert truth - found == set(), "planted exceptions the data does not show"


@pytest.mark.parametrize("employees, seed", [(100, 3), (2000, 7)])
def test_independent_analytics_at_other_sizes(employees, seed, tmp_path, big):
    company = big if employees == 2000 else demo.generate_demo_company(tmp_path / "d", employees, seed)
    f = load(company.out_dir, Q3)
    assert derive_findings(f, Q3) == truth_keys(f)


@settings(max_examples=5, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(employees=st.integers(min_value=100, max_value=400), seed=st.integers(min_value=0, max_value=2**32))
def test_any_size_and_seed_shows_exactly_its_ground_truth(employees, seed):
    with tempfile.TemporaryDirectory() as scratch:
        company = demo.generate_demo_company(Path(scratch) / "d", employees, seed)
        f = load(company.out_dir, Q3)
    assert f["ground_truth.csv"]["rule"].value_counts().to_dict() == PLANTED
    assert derive_findings(f, Q3) == truth_keys(f)


# --- the prior quarter (2026-Q2): the same re-derivation on its own calendar and campaign -----------

def test_the_quarters_calendars_and_planted_counts_are_the_generators():
    for period in (Q3, Q2):
        quarter = demo.QUARTERS[period.id]
        assert (quarter.start.isoformat(), quarter.end.isoformat()) == (str(period.start.date()), period.last_day)
        assert period.end == period.start + pd.DateOffset(months=3)
        assert utc(str(quarter.snapshot)) + pd.Timedelta(days=1) == period.snapshot_end
        assert utc(quarter.extracted.isoformat()) == period.extracted == period.end + pd.Timedelta(hours=6)
        assert period.dormant_before == utc(period.last_day) - pd.Timedelta(days=90)
        assert demo.expected_truth_counts(period.id) == dict(period.planted)
    assert demo.PRIOR_PERIOD == Q2.id and demo.DEMO_PERIOD == Q3.id
    assert str(demo.QUARTERS["2026-Q2"].snapshot) == "2026-05-14"
    assert sum(Q2.planted.values()) == sum(PLANTED.values()) - 2


def test_prior_quarter_files_follow_the_contract(prior):
    assert prior.employees == 300 and prior.seed == 20260930
    headers = Q2.headers()
    assert sorted(prior.files) == sorted([*headers, *CHANGE_FILES])
    assert "reviews/uar_2026Q2_decisions.csv" in headers and "reviews/uar_2026Q3_decisions.csv" not in headers
    for relative, header in headers.items():
        raw = (prior.out_dir / relative).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw, relative
        assert raw.split(b"\n", 1)[0].decode("utf-8").split(",") == header, relative


def test_prior_quarter_campaign_is_its_own(prior_frames):
    uar, status = prior_frames[DECISIONS], prior_frames[CAMPAIGN_STATUS].iloc[0]
    assert int(status["Total Items"]) == len(uar) and int(status["Decisions Made"]) == (uar["Decision"] != "").sum()
    decided = uar.loc[uar["Decision"] != "", "Decision Date"]
    assert decided.min() >= status["Date of Activation"] > "2026-05-14" and decided.max() <= status["Completed Date"]
    assert status["Completed Date"] < "2026-07-01"


def test_prior_quarter_independent_analytics_find_exactly_the_ground_truth(prior_frames):
    assert_shows_exactly_its_ground_truth(prior_frames, Q2)


@pytest.mark.parametrize("employees, seed", [(100, 3), (2000, 7)])
def test_prior_quarter_independent_analytics_at_other_sizes(employees, seed, tmp_path, big_prior):
    company = big_prior if employees == 2000 else \
        demo.generate_demo_company(tmp_path / "d", employees, seed, period="2026-Q2")
    assert_shows_exactly_its_ground_truth(load(company.out_dir, Q2), Q2)


@settings(max_examples=5, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(employees=st.integers(min_value=100, max_value=400), seed=st.integers(min_value=0, max_value=2**32))
def test_prior_quarter_any_size_and_seed_shows_exactly_its_ground_truth(employees, seed):
    with tempfile.TemporaryDirectory() as scratch:
        company = demo.generate_demo_company(Path(scratch) / "d", employees, seed, period="2026-Q2")
        f = load(company.out_dir, Q2)
    assert_shows_exactly_its_ground_truth(f, Q2)


def test_self_review_line(frames):
    uar = frames[DECISIONS]
    own = uar[uar["Reviewer Email"].str.casefold() == uar["Identity Email"].str.casefold()]
    assert len(own) == 1 and own["Decision"].iloc[0] == "APPROVE"


def test_rubber_stamper_and_every_other_reviewer(frames):
    uar = frames[DECISIONS].copy()
    uar["reviewer"], uar["identity"] = uar["Reviewer Email"].str.casefold(), uar["Identity Email"].str.casefold()
    uar["at"] = ts(uar["Decision Date"])
    stats = reviewer_stats(uar)
    stamper = frames["ground_truth.csv"].query("rule == 'rubber_stamping'")["subject"].iloc[0]
    mine = stats.loc[stamper]
    assert mine.decided == mine.lines >= 40 and mine.approval_rate == 1.0 and mine.max_gap <= 6
    others = stats.drop(index=stamper)
    assert (others["median_gap"].dropna() >= 60).all()
    busy = others[others["decided"] >= 20]
    assert (busy["approval_rate"] <= 0.95).all()
    assert (others.loc[others["revoked"] == 0, "decided"] <= 3).all()    # only tiny, all-protected queues
    # the stamper approved the ERP line of a person terminated before the decision
    hr = frames["hr/workday_workers.csv"]
    term = dict(zip(hr["Email - Work"].str.casefold(), hr["Termination Date"]))
    stamped = uar[uar["reviewer"] == stamper]
    after = stamped[[term.get(i, "") != "" and term[i] <= str(a.date()) for i, a in zip(stamped["identity"], stamped["at"])]]
    assert set(after["Source"]) == {"Ledgerline ERP"} and after["identity"].nunique() == 1


def test_sod_users_hold_both_roles_and_nobody_else_does(frames):
    erp = frames["apps/ledgerline_erp_user_roles.csv"]
    held = erp[erp["END_DATE"] == ""]
    roles = held.groupby(held["EMAIL"].str.casefold())["ROLE_NAME"].agg(set)
    gt = frames["ground_truth.csv"].query("rule == 'sod_conflict'")
    vendor_and_pay = {e for e, r in roles.items()
                      if "AP Clerk - Vendor Maintenance" in r and r & {"AP Manager - Payment Approval", "AP Payment Run"}}
    po_both = {e for e, r in roles.items() if {"Purchasing - Create PO", "Purchasing - Approve PO"} <= r}
    assert len(vendor_and_pay) == 1 and len(po_both) == 1
    assert vendor_and_pay | po_both == set(gt["subject"])
    assert 4 <= len(frames["policy/sod_rules.csv"]) <= 6


def test_dormant_accounts_last_use_before_july(frames):
    gt = frames["ground_truth.csv"].query("rule == 'dormant_account'").set_index("system")["subject"]
    okta = frames["idp/okta_users.csv"]
    user = okta[okta["profile.login"].str.casefold() == gt["okta"]].iloc[0]
    assert user["status"] == "ACTIVE" and user["lastLogin"] < "2026-07-02"
    cred = frames["cloud/aws_iam_credential_report.csv"]
    iam = cred[cred["user"].str.casefold() == gt["aws_prod"]].iloc[0]
    assert iam["password_enabled"] == "true" and iam["mfa_active"] == "true"
    assert iam["password_last_used"] < "2026-07-02" and iam["access_key_1_active"] == "false"


def test_terminated_people_keep_access_only_where_planted(frames):
    hr = frames["hr/workday_workers.csv"]
    leavers = hr[(hr["Termination Date"] >= "2026-07-01")]
    share = len(leavers) / len(hr[(hr["Termination Date"] == "") | (hr["Termination Date"] >= "2026-07-01")])
    assert 0.07 <= share <= 0.11
    okta = frames["idp/okta_users.csv"].merge(hr, left_on="profile.employeeNumber", right_on="Employee ID")
    left = okta[okta["Termination Date"] != ""]
    still = left[left["status"] != "DEPROVISIONED"]
    gt = frames["ground_truth.csv"]
    assert set(still["profile.login"]) == set(gt.query("rule == 'terminated_with_active_access'")["subject"])
    assert (left[left["Termination Date"] < "2026-07-01"]["status"] == "DEPROVISIONED").all()


def test_campaign_covers_exactly_the_erp_access_held_at_the_snapshot(frames):
    erp = frames["apps/ledgerline_erp_user_roles.csv"]
    hr_emails = set(frames["hr/workday_workers.csv"]["Email - Work"].str.casefold())
    held = erp[(erp["ROLE_ASSIGNED_DATE"] < "2026-08-15") & ((erp["END_DATE"] == "") | (erp["END_DATE"] >= "2026-08-15"))]
    held = held[held["EMAIL"].str.casefold().isin(hr_emails)]
    uar = frames[DECISIONS]
    lines = uar[uar["Source"] == "Ledgerline ERP"]
    assert sorted(zip(held["EMAIL"].str.casefold(), held["ROLE_NAME"])) == \
        sorted(zip(lines["Identity Email"].str.casefold(), lines["Access Name"]))
    status = frames[CAMPAIGN_STATUS].iloc[0]
    assert int(status["Total Items"]) == len(uar) and int(status["Decisions Made"]) == (uar["Decision"] != "").sum()
    decided = uar.loc[uar["Decision"] != "", "Decision Date"]
    assert decided.min() >= status["Date of Activation"] and decided.max() <= status["Completed Date"]
    expected_priv = [(SYSTEM_OF_SOURCE[s], a) in PRIVILEGED for s, a in zip(uar["Source"], uar["Access Name"])]
    assert uar["Privileged"].eq(pd.Series(expected_priv).map({True: "true", False: "false"})).all()


def test_reviewer_is_the_hr_manager_except_the_self_review(frames):
    hr = frames["hr/workday_workers.csv"]
    email_of = dict(zip(hr["Employee ID"], hr["Email - Work"].str.casefold()))
    manager = {e.casefold(): email_of.get(m) for e, m in zip(hr["Email - Work"], hr["Manager Employee ID"])}
    uar = frames[DECISIONS]
    reviewer, identity = uar["Reviewer Email"].str.casefold(), uar["Identity Email"].str.casefold()
    wrong = uar[(reviewer != identity.map(manager))]
    assert len(wrong) == 1 and (wrong["Reviewer Email"] == wrong["Identity Email"]).all()


# --- atomic replacement ---------------------------------------------------------------------------

def test_existing_demo_folder_is_replaced_whole(tmp_path):
    target = tmp_path / "demo"
    demo.generate_demo_company(target, employees=100, seed=1)
    (target / "stray.txt").write_text("left over")
    (target / "hr" / "old.csv").write_text("x")
    company = demo.generate_demo_company(target, employees=100, seed=2)
    listed = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert listed == sorted(company.files) and "stray.txt" not in listed
    assert [p.name for p in tmp_path.iterdir()] == ["demo"], "no temporary or retired folder left behind"


def test_a_folder_that_is_not_a_demo_is_refused_and_untouched(tmp_path):
    target = tmp_path / "important"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        demo.generate_demo_company(target, employees=100)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["important"]


@pytest.mark.parametrize("employees", [99, 100_001, 300.0, True])
def test_employee_count_is_validated(tmp_path, employees):
    with pytest.raises((ValueError, TypeError)):
        demo.generate_demo_company(tmp_path / "x", employees=employees)
    assert not (tmp_path / "x").exists()


def test_mitigation_register_has_one_valid_and_one_expired_mitigation(frames):
    mitigations = frames["policy/sod_mitigations.csv"]
    assert len(mitigations) == 2 and mitigations["mitigation_id"].is_unique
    valid = mitigations[(mitigations["valid_from"] <= "2026-09-30") & (mitigations["valid_to"] >= "2026-09-30")]
    expired = mitigations[mitigations["valid_to"] < "2026-09-30"]
    assert len(valid) == 1 and len(expired) == 1
    erp = frames["apps/ledgerline_erp_user_roles.csv"]
    held = erp[erp["END_DATE"] == ""]
    rules = frames["policy/sod_rules.csv"].set_index("rule_id")
    gt = frames["ground_truth.csv"]
    email_of = dict(zip(erp["USER_ID"], erp["EMAIL"].str.casefold()))
    for m in mitigations.itertuples():   # each mitigation covers a conflict the user really holds
        roles = set(held.loc[held["USER_ID"] == m.login, "ROLE_NAME"])
        rule = rules.loc[m.rule_id]
        assert roles & set(rule.entitlements_a.split(";")) and roles & set(rule.entitlements_b.split(";"))
    assert email_of[valid["login"].iloc[0]] not in set(gt["subject"]), "the mitigated person must be clean"
    assert email_of[expired["login"].iloc[0]] in set(gt.query("rule == 'sod_conflict'")["subject"])


def test_access_after_termination_is_the_later_leaver_with_active_access(frames):
    gt = frames["ground_truth.csv"]
    after = gt.query("rule == 'access_after_termination'")
    assert set(after["system"]) == {"okta", "ledgerline_erp"} and after["subject"].nunique() == 1
    active = set(gt.query("rule == 'terminated_with_active_access'")["subject"])
    assert after["subject"].iloc[0] in active
