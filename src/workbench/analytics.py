"""Full-population analytics: rules run over every row before any sample is drawn.

Each rule is a pure function from canonical tables (see ``populations``) to a DataFrame of hits with
the columns of ``HIT_COLUMNS``. A hit is an exception in its own right and may seed targeted sample
items. Thresholds are arguments with the defaults an auditor would expect, recorded in the
workpaper, never hidden constants.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

HIT_COLUMNS = ["rule", "subject", "system", "detail_key", "description", "evidence_reference", "severity"]
SERVICE_ACCOUNT_PREFIXES = ("svc-",)


def _hits(rows: list[dict[str, str]]) -> pd.DataFrame:
    """A hit table with the standard columns, sorted for stable output."""
    frame = pd.DataFrame(rows, columns=HIT_COLUMNS)
    return frame.sort_values(["rule", "subject", "system", "detail_key"], kind="mergesort").reset_index(drop=True)


def _evidence(file_label: str, line: object) -> str:
    """Evidence reference of a source row, e.g. ``uar_decisions line 14``."""
    return f"{file_label} line {int(line)}" if pd.notna(line) else file_label


def _listing_label(row: object, default: str) -> str:
    """The listing file a grant row came from (its ``listing`` column), else the default label."""
    label = getattr(row, "listing", None)
    return label if isinstance(label, str) and label else default


def business_days_between(start: pd.Series, end: pd.Series) -> pd.Series:
    """Whole business days (Mon-Fri) from each start date to each end date; NA where either is missing.

    Same day is 0; Friday to Monday is 1. Used for SLAs such as "removed the next business day".
    """
    valid = start.notna() & end.notna()
    result = pd.Series(pd.NA, index=start.index, dtype="Int64")
    if valid.any():
        s = _as_naive_dates(start[valid])
        e = _as_naive_dates(end[valid])
        result[valid] = np.busday_count(s, e)
    return result


def _as_naive_dates(values: pd.Series) -> np.ndarray:
    """Calendar dates (UTC for aware timestamps) as numpy datetime64[D]."""
    series = pd.to_datetime(values)
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.dt.normalize().to_numpy().astype("datetime64[D]")


# --- identity correlation -------------------------------------------------------------------

def correlate_grants(grants: pd.DataFrame, identities: pd.DataFrame, assignments: pd.DataFrame | None = None) -> pd.DataFrame:
    """Attach ``person_email`` (the HR e-mail) and ``correlated`` to each grant.

    A grant correlates when its account e-mail is an HR e-mail, or when the IdP's application
    assignment maps its application login (e.g. the AWS IAM user name) to an HR person's login.
    Service accounts (``svc-`` prefix) are marked ``service_account`` and are not orphans.
    """
    hr_emails = set(identities["email"].dropna())
    frame = grants.copy()
    email = frame["email"].astype("string")
    if assignments is not None and len(assignments):
        by_app_login = (
            assignments.dropna(subset=["system"])
            .assign(app_login=lambda a: a["application_login"].astype("string").str.casefold())
            .drop_duplicates(["system", "app_login"])
            .set_index(["system", "app_login"])["login"]
        )
        keys = pd.MultiIndex.from_arrays([frame["system"], frame["login"].astype("string").str.casefold()])
        via_idp = pd.Series(by_app_login.reindex(keys).to_numpy(), index=frame.index, dtype="string")
        email = email.where(email.isin(hr_emails), via_idp)
    frame["person_email"] = email.where(email.isin(hr_emails))
    frame["service_account"] = frame["login"].astype("string").str.startswith(SERVICE_ACCOUNT_PREFIXES).fillna(False)
    frame["correlated"] = frame["person_email"].notna()
    return frame


def held_at(grants: pd.DataFrame, moment: pd.Timestamp) -> pd.Series:
    """Which grants were held at ``moment``: granted on or before it (or undated) and not yet removed."""
    granted = grants["granted_at"].isna() | (grants["granted_at"] <= moment)
    not_removed = grants["removed_at"].isna() | (grants["removed_at"] > moment)
    return granted & not_removed


# --- user access review rules ---------------------------------------------------------------

def self_reviews(decisions: pd.DataFrame, file_label: str) -> pd.DataFrame:
    """Review lines where the reviewer reviewed their own access (no independent review)."""
    own = decisions[decisions["reviewer_email"] == decisions["subject_email"]]
    return _hits([
        {
            "rule": "self_review",
            "subject": row.reviewer_email,
            "system": row.system,
            "detail_key": f"{row.system}|{row.entitlement}",
            "description": f"{row.reviewer_name} reviewed their own access to {row.application} '{row.entitlement}' "
                           f"(decision: {row.decision}).",
            "evidence_reference": _evidence(file_label, row.line),
            "severity": "high",
        }
        for row in own.itertuples()
    ])


def undecided_lines(decisions: pd.DataFrame, file_label: str) -> pd.DataFrame:
    """Review lines left without a decision although the campaign was closed."""
    open_lines = decisions[decisions["decision"] == "undecided"]
    return _hits([
        {
            "rule": "undecided_review_line",
            "subject": row.subject_email,
            "system": row.system,
            "detail_key": f"{row.system}|{row.entitlement}",
            "description": f"No decision recorded by {row.reviewer_name} for {row.subject_name}'s access to "
                           f"{row.application} '{row.entitlement}'.",
            "evidence_reference": _evidence(file_label, row.line),
            "severity": "medium",
        }
        for row in open_lines.itertuples()
    ])


def approvals_of_terminated(decisions: pd.DataFrame, identities: pd.DataFrame, file_label: str) -> pd.DataFrame:
    """Approvals of access held by people HR had already terminated when the reviewer approved it."""
    leavers = identities.loc[identities["termination_date"].notna(), ["email", "termination_date"]]
    approved = decisions[decisions["decision"] == "approve"].merge(
        leavers, left_on="subject_email", right_on="email", how="inner"
    )
    decided_day = pd.to_datetime(approved["decided_at"]).dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    late = approved[decided_day >= approved["termination_date"]]
    return _hits([
        {
            "rule": "approved_terminated_user",
            "subject": row.subject_email,
            "system": row.system,
            "detail_key": f"{row.system}|{row.entitlement}",
            "description": f"{row.reviewer_name} approved {row.subject_name}'s {row.application} '{row.entitlement}' "
                           f"on {row.decided_at:%Y-%m-%d}, after HR terminated them on {row.termination_date:%Y-%m-%d}.",
            "evidence_reference": _evidence(file_label, row.line),
            "severity": "high",
        }
        for row in late.itertuples()
    ])


@dataclass(frozen=True)
class RubberStampThresholds:
    """When a reviewer's pattern suggests approvals without real review."""

    min_decisions: int = 20
    min_approval_rate: float = 0.98
    max_median_seconds: float = 30.0


def reviewer_statistics(decisions: pd.DataFrame) -> pd.DataFrame:
    """Per reviewer: lines, decided, approvals, approval rate, median and minimum seconds between decisions."""
    rows = []
    for reviewer, group in decisions.groupby("reviewer_email", sort=True):
        decided = group[group["decision"] != "undecided"]
        times = decided["decided_at"].dropna().sort_values()
        gaps = times.diff().dt.total_seconds().dropna()
        rows.append({
            "reviewer_email": reviewer,
            "reviewer_name": group["reviewer_name"].iloc[0],
            "lines": len(group),
            "decided": len(decided),
            "approved": int((decided["decision"] == "approve").sum()),
            "revoked": int((decided["decision"] == "revoke").sum()),
            "approval_rate": (decided["decision"] == "approve").mean() if len(decided) else np.nan,
            "median_seconds_between_decisions": gaps.median() if len(gaps) else np.nan,
            "first_decision": times.iloc[0] if len(times) else pd.NaT,
            "last_decision": times.iloc[-1] if len(times) else pd.NaT,
        })
    return pd.DataFrame(rows)


def rubber_stamping(decisions: pd.DataFrame, file_label: str,
                    thresholds: RubberStampThresholds = RubberStampThresholds()) -> pd.DataFrame:
    """Reviewers who approved (nearly) everything, seconds apart: the review was likely not performed."""
    stats = reviewer_statistics(decisions)
    flagged = stats[
        (stats["decided"] >= thresholds.min_decisions)
        & (stats["approval_rate"] >= thresholds.min_approval_rate)
        & (stats["median_seconds_between_decisions"] <= thresholds.max_median_seconds)
    ]
    systems = decisions.groupby("reviewer_email")["system"].agg(lambda s: sorted(set(s.dropna())))
    return _hits([
        {
            "rule": "rubber_stamping",
            "subject": row.reviewer_email,
            "system": system,
            "detail_key": system,
            "description": f"{row.reviewer_name} approved {row.approved} of {row.decided} lines "
                           f"({row.approval_rate:.0%}) with a median of {row.median_seconds_between_decisions:.0f} s "
                           f"between decisions ({row.first_decision:%Y-%m-%d %H:%M}–{row.last_decision:%H:%M} UTC).",
            "evidence_reference": f"{file_label}: decisions of {row.reviewer_email}",
            "severity": "high",
        }
        for row in flagged.itertuples()
        for system in systems[row.reviewer_email]
    ])


def revocations_not_executed(decisions: pd.DataFrame, grants: pd.DataFrame, file_label: str,
                             listing_label: str, sla_business_days: int, extracted_at: pd.Timestamp) -> pd.DataFrame:
    """REVOKE decisions whose access was still held in the later listing, or removed after the SLA.

    ``grants`` must carry ``person_email`` (see ``correlate_grants``). Access absent from the later
    listing counts as removed; a removal date, where the listing has one, is checked against the SLA.
    """
    revokes = decisions[decisions["decision"] == "revoke"]
    keep = ["system", "person_email", "entitlement", "removed_at", "line"] + (["listing"] if "listing" in grants else [])
    listing = grants[keep].rename(columns={"line": "listing_line"})
    joined = revokes.merge(
        listing, left_on=["system", "subject_email", "entitlement"], right_on=["system", "person_email", "entitlement"],
        how="left",
    )
    lag = business_days_between(joined["decided_at"], joined["removed_at"])
    still_held = joined["listing_line"].notna() & joined["removed_at"].isna()
    removed_late = joined["removed_at"].notna() & (lag > sla_business_days)
    rows = []
    for row, held in zip(joined[still_held | removed_late].itertuples(), still_held[still_held | removed_late]):
        what = (f"still held at extraction {extracted_at:%Y-%m-%d %H:%M} UTC" if held
                else f"removed only on {row.removed_at:%Y-%m-%d}")
        rows.append({
            "rule": "revocation_not_executed",
            "subject": row.subject_email,
            "system": row.system,
            "detail_key": f"{row.system}|{row.entitlement}",
            "description": f"{row.reviewer_name} decided to revoke {row.subject_name}'s {row.application} "
                           f"'{row.entitlement}' on {row.decided_at:%Y-%m-%d}; the access was {what} "
                           f"(SLA: {sla_business_days} business days).",
            "evidence_reference": f"{_evidence(file_label, row.line)}; "
                                  f"{_evidence(_listing_label(row, listing_label), row.listing_line)}",
            "severity": "high",
        })
    return _hits(rows)


def review_population_gaps(grants: pd.DataFrame, decisions: pd.DataFrame, identities: pd.DataFrame,
                           snapshot: pd.Timestamp, systems: list[str], listing_label: str) -> pd.DataFrame:
    """Access held at the campaign snapshot in the reviewed systems that the campaign did not cover.

    Undated listings (no grant date) are taken as held at the snapshot only for people hired on or
    before it. Uncorrelated accounts (no HR person) are gaps too: campaigns exclude them silently.
    Service accounts are outside a user access review and are not counted.
    """
    in_scope = grants[grants["system"].isin(systems) & ~grants["service_account"]]
    held = in_scope[held_at(in_scope, snapshot)]
    hires = identities.set_index("email")["hire_date"]
    hired_by_snapshot = held["person_email"].map(hires) <= snapshot.tz_convert("UTC").tz_localize(None).normalize()
    expected = held[held["granted_at"].notna() | hired_by_snapshot | ~held["correlated"]]
    reviewed = set(zip(decisions["system"], decisions["subject_email"], decisions["entitlement"]))
    rows = []
    for row in expected.itertuples():
        if (row.system, row.person_email, row.entitlement) in reviewed:
            continue
        subject = row.person_email if row.correlated else row.login
        reason = "" if row.correlated else " The account has no HR identity (uncorrelated), so the campaign excluded it."
        rows.append({
            "rule": "review_population_gap",
            "subject": subject,
            "system": row.system,
            "detail_key": f"{row.system}|{row.entitlement}",
            "description": f"{row.system} access '{row.entitlement}' of {row.login_original} was held at the snapshot "
                           f"{snapshot:%Y-%m-%d} but is not in the review campaign.{reason}",
            "evidence_reference": _evidence(_listing_label(row, listing_label), row.line),
            "severity": "high",
        })
    return _hits(rows)


def campaign_timeliness(campaign: pd.Series, snapshot: dt.date, launch_within_days: int,
                        complete_within_days: int) -> pd.DataFrame:
    """Timeliness of the campaign itself (attribute A2): launched and completed within the window."""
    checks = []
    activated = campaign["activated_at"]
    completed = campaign["completed_at"]
    launch_deadline = pd.Timestamp(snapshot, tz="UTC") + pd.Timedelta(days=launch_within_days + 1)
    checks.append(("Launched within %d days of the snapshot" % launch_within_days,
                   f"{activated:%Y-%m-%d}" if pd.notna(activated) else "not launched",
                   pd.notna(activated) and activated < launch_deadline))
    if pd.notna(activated):
        complete_deadline = activated.normalize() + pd.Timedelta(days=complete_within_days + 1)
        on_time = pd.notna(completed) and completed < complete_deadline
    else:
        on_time = False
    checks.append(("Completed within %d days of launch" % complete_within_days,
                   f"{completed:%Y-%m-%d}" if pd.notna(completed) else "not completed", bool(on_time)))
    checks.append(("Completed by the campaign deadline",
                   f"deadline {campaign['deadline']:%Y-%m-%d}" if pd.notna(campaign["deadline"]) else "no deadline",
                   bool(pd.notna(completed) and pd.notna(campaign["deadline"]) and completed <= campaign["deadline"])))
    checks.append(("Signed off by the campaign owner",
                   f"{campaign['signed_off_by']} on {campaign['signed_off_at']:%Y-%m-%d}"
                   if pd.notna(campaign["signed_off_at"]) else "no sign-off",
                   bool(pd.notna(campaign["signed_off_at"]) and pd.notna(campaign["signed_off_by"]))))
    return pd.DataFrame(checks, columns=["check", "evidence", "passed"])


def review_lines_not_in_listing(decisions: pd.DataFrame, grants: pd.DataFrame, identities: pd.DataFrame,
                                snapshot: pd.Timestamp, file_label: str) -> pd.DataFrame:
    """Campaign lines whose access the system listings do not show (accuracy of the campaign content).

    A line is explained when the listing shows the access at the snapshot (dated listings), shows it
    at all (undated listings), or the access was later revoked or the person left after the snapshot.
    """
    keys = grants[["system", "person_email", "entitlement", "granted_at", "removed_at"]]
    dated_held = set(map(tuple, keys[held_at(keys, snapshot)][["system", "person_email", "entitlement"]].to_numpy()))
    leavers = set(identities.loc[identities["termination_date"].notna(), "email"])
    rows = []
    for row in decisions.itertuples():
        if (row.system, row.subject_email, row.entitlement) in dated_held:
            continue
        if row.decision == "revoke" or row.subject_email in leavers:
            continue
        rows.append({
            "rule": "review_line_not_in_listing",
            "subject": row.subject_email,
            "system": row.system,
            "detail_key": f"{row.system}|{row.entitlement}",
            "description": f"The campaign asked {row.reviewer_name} to review {row.subject_name}'s {row.application} "
                           f"'{row.entitlement}', which the system listing does not show at the snapshot.",
            "evidence_reference": _evidence(file_label, row.line),
            "severity": "medium",
        })
    return _hits(rows)
