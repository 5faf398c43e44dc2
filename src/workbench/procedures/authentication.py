"""Authentication and dormant accounts: CC6.1 and SOX access to programs and data.

Every account active at extraction in the control's systems is an item: IdP users (Okta), ERP
accounts, AWS IAM users (credential report) and GitHub members. MFA is tested where the export
shows it (AWS ``mfa_active`` for console users, GitHub ``two_factor_enabled``; the Okta user
export has no MFA column and ERP sign-in is federated through the IdP, so MFA is not applicable
there). Active access keys must be rotated within N days (and console passwords, if the policy
sets a maximum age). Accounts with no use in N days are dormant, except new accounts created
within the grace period that were never used. An active access key never used (``N/A``) is
reported once older than its grace period. An active account that maps to no HR worker, is no
service account and shows an interactive sign-in is a shared or generic account. Sentinels (``N/A``, ``no_information``,
``not_supported``, the ``<root_account>`` row) are states, never dates: the root credential is
tested on its own (MFA on, no active access key) and is outside the dormancy rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from workbench import analytics, populations, workpapers
from workbench.freshness import Claim
from workbench.procedures.base import (
    ACCESS_LISTINGS,
    CREDENTIAL_REPORTS,
    HR,
    IDENTITY_ALIASES,
    IDP_CORRELATION,
    IDP_USERS,
    ControlTest,
)


class Settings(BaseModel):
    """The ``settings:`` block of an authentication control in the period file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dormant_days: int = Field(90, ge=1)
    new_account_grace_days: int = Field(90, ge=0)
    max_access_key_age_days: int = Field(90, ge=1)
    # An active access key never used is reported once it is older than this (None: the new-account grace).
    unused_access_key_grace_days: int | None = Field(None, ge=0)
    # None: the policy does not require periodic password changes (NIST SP 800-63B); no rule runs.
    max_password_age_days: int | None = Field(None, ge=1)


ATTRIBUTES = {
    "AU1_mfa_enabled": "AU1 MFA is enabled where the account signs in with a password or joins the organisation",
    "AU2_credentials_rotated": "AU2 Active access keys (and passwords, if the policy requires) are within the maximum age",
    "AU3_not_dormant": "AU3 The account was used within the dormancy window, or is new and not yet used",
}


@dataclass
class AuthenticationTest(ControlTest):
    """Accounts active at extraction: MFA, credential age and dormancy."""

    Settings = Settings
    SOURCE_ROLES = {
        "hr": HR,
        "identity_aliases": IDENTITY_ALIASES,
        "idp_users": IDP_USERS,
        "idp_assignments": replace(
            IDP_CORRELATION, limitation=IDP_CORRELATION.limitation + "; the shared or generic account rule is not "
                                                                     "run (an uncorrelated login may be a person's)"),
        "access_listings": ACCESS_LISTINGS,
        "credential_reports": CREDENTIAL_REPORTS,
    }
    ATTRIBUTES = ATTRIBUTES
    ITEM_NOUN = "accounts"
    SAMPLE_COLUMNS = ["subject", "system", "account", "last_used", "mfa"]
    FRESHNESS_CLAIMS = (
        Claim("idp_users", "period_end", "the period end", "IdP accounts active at the period end (AU1–AU3)"),
        Claim("access_listings", "period_end", "the period end", "application accounts active at the period end "
                                                                 "(AU1–AU3)"),
        Claim("credential_reports", "period_end", "the period end", "IAM users and credentials at the period end "
                                                                    "(AU1–AU3)"),
    )
    # Rules name a dormant account by its login and an MFA gap by its person: match on the account.
    HIT_MATCH = ("system", "detail_key")

    # --- 1. objective -------------------------------------------------------------------------
    def objective(self) -> workpapers.HtmlBlock:
        s = self.settings
        rows = [
            ("Objective", "Users are authenticated with MFA, credentials are rotated within policy, and unused "
                          "accounts are disabled."),
            ("Procedure", "Take every active account from the IdP, the application listings and the AWS IAM credential "
                          "report; run MFA, credential-age and dormancy analytics over every account; select a sample "
                          "stratified by framework scope and test AU1–AU3; evaluate and conclude per framework."),
            ("Systems in scope", ", ".join(self.params.system(x).name for x in self.control.systems)),
            ("As of", f"the period end {self.params.period.end}"),
            ("Dormant", f"no use in the {s.dormant_days} days before the period end; never used and created more than "
                        f"{s.new_account_grace_days} days before it"),
            ("Access keys", f"active keys rotated within {s.max_access_key_age_days} days; an active key never used is "
                            f"reported once created more than {self.key_grace_days} days before the period end"),
            ("Shared or generic accounts", "an active account that maps to no HR worker and matches no service-account "
                                           f"pattern ({self.service_account_text()}) but shows an interactive sign-in "
                                           "(IdP or application last login, AWS console password use)"),
            ("Passwords", f"changed within {s.max_password_age_days} days" if s.max_password_age_days
                          else "no maximum age (the policy does not require periodic changes)"),
            ("MFA evidence", "AWS credential report mfa_active (console users), GitHub two_factor_enabled; the Okta user "
                             "export has no MFA column, so Okta and IdP-federated ERP sign-in are not applicable"),
            ("Root account", "tested separately: MFA on, no active access key; outside the dormancy rule"),
        ]
        return workpapers.key_values(rows)

    @property
    def key_grace_days(self) -> int:
        """Days after creation before a never-used access key is reported (default: the new-account grace)."""
        s = self.settings
        return s.new_account_grace_days if s.unused_access_key_grace_days is None else s.unused_access_key_grace_days

    # --- 2. population --------------------------------------------------------------------------
    @property
    def identities(self) -> pd.DataFrame:
        return self.frame("hr")

    @cached_property
    def credential_report(self) -> pd.DataFrame:
        parts = [self.load(s).frame.assign(listing=self.label(s)) for s in self.source_ids("credential_reports")]
        return self.correlate(pd.concat(parts, ignore_index=True))

    @property
    def as_of(self) -> pd.Timestamp:
        return pd.Timestamp(self.params.period.end, tz="UTC")

    @cached_property
    def inventory(self) -> pd.DataFrame:
        """Every account active at extraction in the control's systems (the root credential excluded)."""
        listings = self.correlate(self.frames("access_listings"))
        idp = self.source_ids("idp_users")[0]
        parts = [self.idp_accounts(self.frame("idp_users"), self.label(idp)),
                 analytics.listing_accounts(listings, "listing"),
                 analytics.credential_accounts(self.credential_report, "credential report")]
        inventory = pd.concat(parts, ignore_index=True)
        active = inventory["active"] & inventory["system"].isin(self.control.systems)
        return inventory[active].reset_index(drop=True)

    @cached_property
    def accounts(self) -> pd.DataFrame:
        """The sampling frame: one item per active account."""
        frame = self.inventory.copy()
        frame["subject"] = analytics.subject_of(frame)
        frame["detail_key"] = frame["system"] + "|" + frame["login"]
        frame["item_key"] = frame["detail_key"]
        frame["scope"] = self.scopes_of(frame["system"])
        frame["account"] = frame["login_original"].fillna(frame["login"])
        frame["last_used"] = frame["last_used_at"].dt.strftime("%Y-%m-%d").fillna(frame["last_used_state"])
        frame["mfa"] = frame["mfa_enabled"].map({True: "on", False: "OFF"}).where(frame["mfa_applicable"], "n/a")
        frame["evidence_reference"] = [analytics.evidence_reference(label, line)
                                       for label, line in zip(frame["listing"], frame["line"])]
        frame = frame[frame["scope"] != "out of scope"].drop_duplicates("item_key")
        return frame.sort_values("item_key", kind="mergesort").reset_index(drop=True)

    def population(self) -> pd.DataFrame:
        return self.accounts

    def population_evidence(self) -> list[workpapers.HtmlBlock]:
        return super().population_evidence() + [workpapers.table(self.reconciliation(), "Reconciliation of the account population")]

    def reconciliation(self) -> pd.DataFrame:
        """Control totals: active accounts per system; active HR workers to IdP users; IAM group members to IAM users."""
        hr = self.identities
        active_hr = hr[hr["status"] == "active"]
        rows = [(f"Active accounts: {self.params.system(s).name}", int((self.accounts["system"] == s).sum()), None)
                for s in self.control.systems]
        rows.append(("Active accounts in the sampling frame", len(self.accounts), None))
        if "okta" in self.control.systems:
            idp = self.inventory[self.inventory["system"] == "okta"]
            match = populations.reconcile(active_hr, idp, "email", "person_email", "active HR workers", "IdP users")
            rows.append(("Active HR workers with an active IdP user", match.matched_keys, len(active_hr)))
        report = self.credential_report
        rows.append(("Credential report rows (incl. the root credential)", len(report), None))
        rows.append((f"Service accounts ({self.service_account_text()}) in the credential report", int(report["service_account"].sum()), None))
        return self.checks_table(rows)

    def credential_states(self) -> pd.DataFrame:
        """How each system's last use reads: real timestamps and sentinel states, counted (not turned into dates)."""
        return pd.crosstab(self.accounts["system"], self.accounts["last_used_state"].fillna("(empty)")) \
            .reset_index().rename_axis(columns=None)

    # --- 3. analytics ---------------------------------------------------------------------------
    def run_analytics(self) -> pd.DataFrame:
        """MFA, root credential, key and password age, never-used keys, dormancy and shared or generic
        accounts over every active account."""
        s = self.settings
        report = self.credential_report[self.credential_report["system"].isin(self.control.systems)]
        parts = [
            analytics.mfa_not_enabled(self.inventory),
            analytics.root_account_exceptions(report, "credential report"),
            analytics.access_keys_not_rotated(report, self.as_of, s.max_access_key_age_days, "credential report"),
            analytics.access_keys_never_used(report, self.as_of, self.key_grace_days, "credential report"),
            analytics.dormant_accounts(self.inventory, self.as_of, s.dormant_days, s.new_account_grace_days),
        ]
        if self.correlates_people:
            parts.append(analytics.shared_or_generic_accounts(self.inventory))
        if s.max_password_age_days:
            parts.append(analytics.passwords_not_rotated(report, self.as_of, s.max_password_age_days, "credential report"))
        self.hits = self.combine_hits(parts)
        return self.hits

    @property
    def correlates_people(self) -> bool:
        """Whether accounts can be tied to people fully: only with the IdP's assignment report does an
        application login without an HR e-mail (an AWS IAM user name) reach its person, so only then can an
        uncorrelated account be called shared or generic."""
        return "idp_assignments" in self.control.sources

    def rules_run(self) -> tuple[str, ...]:
        rules = ("mfa_not_enabled", "root_access_key_active", "access_key_not_rotated", "access_key_never_used",
                 "dormant_account") + (("shared_or_generic_account",) if self.correlates_people else ())
        return rules + (("password_not_rotated",) if self.settings.max_password_age_days else ())

    # --- 5. attributes --------------------------------------------------------------------------
    def test_attributes(self, items: pd.DataFrame) -> pd.DataFrame:
        """Test AU1–AU3 on each selected account."""
        s = self.settings
        result = items.copy()
        applicable = result["mfa_applicable"].astype(bool)
        result["AU1_mfa_enabled"] = self.verdict(result["mfa_enabled"].fillna(False), applicable)
        report = self.credential_report
        mine = report[report["login"].isin(set(result["login"])) & report["system"].isin(set(result["system"]))]
        old = analytics.access_keys_not_rotated(mine, self.as_of, s.max_access_key_age_days)
        if s.max_password_age_days:
            old = pd.concat([old, analytics.passwords_not_rotated(mine, self.as_of, s.max_password_age_days)])
        keyed = mine["access_key_1_active"].fillna(False) | mine["access_key_2_active"].fillna(False)
        if s.max_password_age_days:
            keyed |= mine["password_enabled"].fillna(False)
        has_credential = set(zip(mine.loc[keyed, "system"], mine.loc[keyed, "login"]))
        keys = list(zip(result["system"], result["login"]))
        result["AU2_credentials_rotated"] = self.verdict(~result["detail_key"].isin(set(old["detail_key"])),
                                                         pd.Series([k in has_credential for k in keys], index=result.index))
        dormant = analytics.dormant_accounts(result, self.as_of, s.dormant_days, s.new_account_grace_days)
        result["AU3_not_dormant"] = self.verdict(~result["detail_key"].isin(set(dormant["detail_key"])))
        return result
