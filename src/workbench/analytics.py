"""Full-population analytics: rules run over every row before any sample is drawn.

Each rule is a pure function from canonical tables (see ``populations``) to a DataFrame of hits with
the columns of ``HIT_COLUMNS``. A hit is an exception in its own right and may seed targeted sample
items. Thresholds are arguments with the defaults an auditor would expect, recorded in the
workpaper, never hidden constants.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from workbench import identity
from workbench.valuemap import transform_distinct

HIT_COLUMNS = ["rule", "subject", "system", "detail_key", "description", "evidence_reference", "severity"]
#: Glob patterns (fnmatch, ignoring case) of non-person accounts for a system the caller gives no
#: patterns for: the period file's ``systems[].service_accounts`` default.
DEFAULT_SERVICE_ACCOUNT_PATTERNS: tuple[str, ...] = ("svc-*",)


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


NO_REVIEWER = "no reviewer recorded"


def _known(value: object) -> str | None:
    """A text value, or None when it is missing (NA, NaN, None or blank)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    return text or None


def _reviewer(row: object) -> str | None:
    """How a description names a review line's reviewer: the name, else the e-mail; None when neither."""
    return _known(getattr(row, "reviewer_name", None)) or _known(getattr(row, "reviewer_email", None))


def _reviewed_person(row: object) -> str:
    """How a description names the person whose access a review line covers: the name, else the e-mail."""
    return (_known(getattr(row, "subject_name", None)) or _known(getattr(row, "subject_email", None))
            or "an unnamed person")


def _same(left: pd.Series, right: pd.Series) -> pd.Series:
    """NA-safe equality of two text columns: a missing value equals nothing (not even another missing one)."""
    return (left.astype("string") == right.astype("string")).fillna(False).astype(bool)


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

def service_account_flags(frame: pd.DataFrame,
                          patterns: Mapping[str, Sequence[str]] | None = None) -> pd.Series:
    """True where the row's ``login`` matches a service-account glob pattern of its ``system``
    (fnmatch, ignoring case); a system absent from ``patterns`` uses
    :data:`DEFAULT_SERVICE_ACCOUNT_PATTERNS`."""
    login = frame["login"].astype("string").reset_index(drop=True)
    system = frame["system"].astype("string").reset_index(drop=True)
    given = patterns or {}
    groups: dict[tuple[str, ...], np.ndarray] = {}
    for name in system.dropna().unique():
        globs = tuple(given.get(name, DEFAULT_SERVICE_ACCOUNT_PATTERNS))
        rows = (system == name).fillna(False).to_numpy(dtype=bool)
        groups[globs] = groups[globs] | rows if globs in groups else rows
    if system.isna().any():  # no system: the default patterns
        rows = system.isna().to_numpy(dtype=bool)
        default = DEFAULT_SERVICE_ACCOUNT_PATTERNS
        groups[default] = groups[default] | rows if default in groups else rows
    flags = np.zeros(len(frame), dtype=bool)
    for globs, rows in groups.items():
        if not globs or not rows.any():
            continue
        regex = "|".join(f"(?:{fnmatch.translate(g)})" for g in globs)
        matched = login.str.match(regex, case=False).fillna(False).to_numpy(dtype=bool)
        flags |= rows & matched
    return pd.Series(flags, index=frame.index, dtype="boolean")


def correlate_grants(grants: pd.DataFrame, identities: pd.DataFrame | None, assignments: pd.DataFrame | None = None,
                     service_accounts: Mapping[str, Sequence[str]] | None = None, *,
                     directory: identity.Directory | None = None,
                     orders: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Attach the HR worker of each grant (``person_email``, the HR e-mail), the rule that tied it
    (``match_rule``; ``ambiguous`` / ``unmatched`` otherwise), ``match_candidates`` and ``correlated``.

    The worker is found by the rules of the grant's system (``orders``: system id -> rules, the
    period file's ``systems[].identity_match``; default :data:`identity.DEFAULT_SYSTEM_MATCH`:
    the e-mail, the employee number, then the IdP's application assignment mapping the
    application login, e.g. an AWS IAM user name, to a worker), in ``directory`` (default: built
    from ``identities`` and ``assignments``). Service accounts are marked ``service_account`` and
    are not orphans: logins matching a glob pattern of their system in ``service_accounts``
    (system id -> patterns, ``systems[].service_accounts``; a system not given uses ``svc-*``).
    """
    if directory is None:
        directory = identity.build_directory(identities, assignments=assignments)
    frame = grants.copy()
    resolved = identity.resolve_by_system(directory, frame, orders or {}, emails=("email",), logins=("login",),
                                          employee_ids=("employee_id",), names=("display_name",))
    frame["person_email"] = resolved["person"]
    frame["match_rule"] = resolved["match_rule"]
    frame["match_candidates"] = resolved["candidates"]
    frame["service_account"] = service_account_flags(frame, service_accounts)
    frame["correlated"] = frame["person_email"].notna()
    return frame


def review_subjects(grants: pd.DataFrame) -> pd.DataFrame:
    """Each grant under every subject a review line may name it by, in ``review_subject``.

    A grant of an HR person is reviewed under the person's HR e-mail (``person_email``). A grant
    with no HR identity falls back to an account-level match (system + account): its account
    e-mail and its login, casefolded, so the account still matches its own review line. Keeps the
    grants' index; an uncorrelated grant may appear twice (once per key).
    """
    missing = pd.Series(pd.NA, index=grants.index, dtype="string")
    person = grants["person_email"].astype("string") if "person_email" in grants else missing
    email = grants["email"].astype("string").str.casefold() if "email" in grants else missing
    login = grants["login"].astype("string").str.casefold() if "login" in grants else missing
    no_person = person.isna()
    parts = [grants[(~no_person).to_numpy()].assign(review_subject=person[~no_person]),
             grants[(no_person & email.notna()).to_numpy()].assign(review_subject=email[no_person & email.notna()])]
    by_login = no_person & login.notna() & (login != email).fillna(True)
    parts.append(grants[by_login.to_numpy()].assign(review_subject=login[by_login]))
    return pd.concat(parts).astype({"review_subject": "string"})


def held_at(grants: pd.DataFrame, moment: pd.Timestamp) -> pd.Series:
    """Which grants were held at ``moment``: granted on or before it (or undated) and not yet removed."""
    granted = grants["granted_at"].isna() | (grants["granted_at"] <= moment)
    not_removed = grants["removed_at"].isna() | (grants["removed_at"] > moment)
    return granted & not_removed


# --- user access review rules ---------------------------------------------------------------

def self_reviews(decisions: pd.DataFrame, file_label: str) -> pd.DataFrame:
    """Review lines where the reviewer reviewed their own access (no independent review)."""
    own = decisions[_same(decisions["reviewer_email"], decisions["subject_email"]).to_numpy()]
    return _hits([
        {
            "rule": "self_review",
            "subject": row.reviewer_email,
            "system": row.system,
            "detail_key": f"{row.system}|{row.entitlement}",
            "description": f"{_reviewer(row)} reviewed their own access to {row.application} '{row.entitlement}' "
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
            "description": (f"No decision recorded by {reviewer} for {_reviewed_person(row)}'s access to "
                            f"{row.application} '{row.entitlement}'." if (reviewer := _reviewer(row)) else
                            f"No decision recorded for {_reviewed_person(row)}'s access to {row.application} "
                            f"'{row.entitlement}' ({NO_REVIEWER})."),
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
            "description": (f"{reviewer} approved {_reviewed_person(row)}'s {row.application} '{row.entitlement}' "
                            if (reviewer := _reviewer(row)) else
                            f"{_reviewed_person(row)}'s {row.application} '{row.entitlement}' was approved ({NO_REVIEWER}) ")
                           + f"on {row.decided_at:%Y-%m-%d}, after HR terminated them on {row.termination_date:%Y-%m-%d}.",
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
    """Per reviewer: lines, decided, approvals, approval rate, median and minimum seconds between decisions.

    One row per reviewer e-mail (sorted; lines without a reviewer are not counted). ``reviewer_name``
    is the name on the reviewer's first line (the e-mail when blank); decided lines are those whose
    decision is not ``undecided``; the seconds between decisions are those of the reviewer's decided
    lines with a time, in time order. Computed column-wise over the whole campaign (group-by
    aggregates, no Python loop per reviewer), so a million lines take about a second.
    """
    lines = decisions[decisions["reviewer_email"].notna().to_numpy()]
    if lines.empty:
        return pd.DataFrame()
    codes, reviewers = pd.factorize(lines["reviewer_email"], sort=True)   # reviewer k = reviewers[k]
    n = len(reviewers)
    decision = lines["decision"]
    decided = (decision != "undecided").fillna(False).astype(bool).to_numpy()
    approved = (decision == "approve").fillna(False).astype(bool).to_numpy() & decided
    revoked = (decision == "revoke").fillna(False).astype(bool).to_numpy() & decided
    line_count = np.bincount(codes, minlength=n)
    decided_count = np.bincount(codes, weights=decided, minlength=n).astype("int64")
    approved_count = np.bincount(codes, weights=approved, minlength=n).astype("int64")
    times = lines["decided_at"]
    timed = decided & times.notna().to_numpy()
    moments = pd.DataFrame({"reviewer": codes[timed], "at": times.array[timed]})
    moments = moments.sort_values(["reviewer", "at"], kind="mergesort").reset_index(drop=True)
    same_reviewer = moments["reviewer"].eq(moments["reviewer"].shift()).to_numpy()
    gaps = moments["at"].diff().dt.total_seconds()[same_reviewer]
    median = gaps.groupby(moments["reviewer"][same_reviewer]).median().reindex(range(n))
    by_reviewer = moments.groupby("reviewer")["at"]
    first, last = by_reviewer.min().reindex(range(n)), by_reviewer.max().reindex(range(n))
    _, first_line = np.unique(codes, return_index=True)                    # each reviewer's first line
    names = lines["reviewer_name"].astype("string").str.strip().iloc[first_line]
    emails = np.asarray(reviewers, dtype=object)
    name = np.where((names.isna() | (names == "")).fillna(True).to_numpy(dtype=bool), emails,
                    names.to_numpy(dtype=object))
    rate = np.full(n, np.nan)
    np.divide(approved_count, decided_count, out=rate, where=decided_count > 0)
    return pd.DataFrame({
        "reviewer_email": pd.array(emails, dtype="str"),
        "reviewer_name": pd.array(name, dtype="str"),
        "lines": line_count.astype("int64"),
        "decided": decided_count,
        "approved": approved_count,
        "revoked": np.bincount(codes, weights=revoked, minlength=n).astype("int64"),
        "approval_rate": rate,
        "median_seconds_between_decisions": median.to_numpy(dtype="float64"),
        "first_decision": first.to_numpy(),
        "last_decision": last.to_numpy(),
    })


def rubber_stamping(decisions: pd.DataFrame, file_label: str,
                    thresholds: RubberStampThresholds = RubberStampThresholds()) -> pd.DataFrame:
    """Reviewers who approved (nearly) everything, seconds apart: the review was likely not performed.

    One hit per reviewer, whatever the number of systems reviewed: the condition is the reviewer's
    conduct. ``system`` lists the systems ("aws_prod; ledgerline_erp"), the description gives each
    system's statistics, and ``detail_key`` is empty so the finding's identity is the reviewer alone
    (``exceptions.CROSS_SYSTEM_RULES``): it stays the same finding when the systems change.
    """
    stats = reviewer_statistics(decisions)
    if stats.empty:
        return _hits([])
    flagged = stats[
        (stats["decided"] >= thresholds.min_decisions)
        & (stats["approval_rate"] >= thresholds.min_approval_rate)
        & (stats["median_seconds_between_decisions"] <= thresholds.max_median_seconds)
    ]
    reviewers = decisions["reviewer_email"].astype("string")
    of_flagged = reviewers.isin(list(flagged["reviewer_email"])).fillna(False).to_numpy()
    lines_of = dict(list(decisions[of_flagged].groupby(reviewers[of_flagged].to_numpy(), sort=False)))
    rows = []
    for row in flagged.itertuples():
        mine = lines_of[row.reviewer_email]
        systems = sorted(set(mine["system"].dropna()))
        per_system = reviewer_statistics(mine.assign(reviewer_email=mine["system"]))
        detail = "; ".join(f"{s.reviewer_email}: {s.approved} of {s.decided} approved, median "
                           + (f"{s.median_seconds_between_decisions:.0f} s" if pd.notna(s.median_seconds_between_decisions)
                              else "n/a")
                           for s in per_system.itertuples())
        rows.append({
            "rule": "rubber_stamping",
            "subject": row.reviewer_email,
            "system": "; ".join(systems),
            "detail_key": "",
            "description": f"{row.reviewer_name} approved {row.approved} of {row.decided} lines "
                           f"({row.approval_rate:.0%}) with a median of {row.median_seconds_between_decisions:.0f} s "
                           f"between decisions ({row.first_decision:%Y-%m-%d %H:%M}–{row.last_decision:%H:%M} UTC)"
                           + (f" across {len(systems)} systems ({detail})." if len(systems) > 1 else "."),
            "evidence_reference": f"{file_label}: decisions of {row.reviewer_email}",
            "severity": "high",
        })
    return _hits(rows)


def revocations_not_executed_proven(decisions: pd.DataFrame, proofs: pd.DataFrame, file_label: str,
                                    sla_business_days: int) -> pd.DataFrame:
    """REVOKE decisions whose proof of removal (``removals.prove_revocations``) shows them not
    executed, or executed after the SLA: the access still held in a listing from after the SLA
    deadline, or removed late. A decision whose execution cannot be proven is not a hit here (the
    proof-of-removal table states it, and attribute A6 reads 'not tested')."""
    failed = proofs[proofs["outcome"].isin(["not executed", "executed late"])]
    named = decisions[[c for c in ("line", "reviewer_name", "reviewer_email", "subject_name", "subject_email",
                                   "application") if c in decisions]]
    joined = failed.merge(named, left_on="decision_line", right_on="line", how="left")
    rows = []
    for row in joined.itertuples():
        rows.append({
            "rule": "revocation_not_executed",
            "subject": row.subject,
            "system": row.system,
            "detail_key": f"{row.system}|{row.entitlement}",
            "description": (f"{reviewer} decided to revoke {_reviewed_person(row)}'s {row.application} "
                            f"'{row.entitlement}'" if (reviewer := _reviewer(row)) else
                            f"A decision to revoke {_reviewed_person(row)}'s {row.application} '{row.entitlement}' "
                            f"was recorded ({NO_REVIEWER})")
                           + f" on {_text(row.decided_at)}; the access was {row.finding} "
                             f"(SLA: {sla_business_days} business days, deadline {row.sla_deadline}).",
            "evidence_reference": "; ".join(p for p in (_evidence(file_label, row.decision_line), row.proof_reference) if p),
            "severity": "high",
        })
    return _hits(rows)


def unexplained_removals(removed: pd.DataFrame, system_names: Mapping[str, str]) -> pd.DataFrame:
    """Access removed between two listings of a system that no revoke decision, remediation-log or
    ticket row, or termination explains (``removals.unexplained_removals``): a change to access made
    outside the access management process, whose authorisation is not evidenced."""
    rows = []
    for row in removed.itertuples():
        name = system_names.get(row.system, row.system)
        rows.append({
            "rule": "unexplained_removal",
            "subject": row.person or str(row.account).casefold(),
            "system": row.system,
            "detail_key": f"{row.system}|{row.entitlement}",
            "description": f"{name} access '{row.entitlement}' of {row.account} was held in {row.before} "
                           f"({_as_utc(row.before_moment):%Y-%m-%d %H:%M} UTC) and is no longer held in {row.after} "
                           f"({_as_utc(row.after_moment):%Y-%m-%d %H:%M} UTC); no revoke decision of the review, no "
                           "remediation-log or ticket row and no termination of the person explains the removal, so "
                           "the change was made without evidence of authorisation.",
            "evidence_reference": "; ".join([_evidence(row.before, row.before_line), row.after]),
            "severity": "medium",
        })
    return _hits(rows)


def _loose(values: pd.Series) -> pd.Series:
    """Text as two spellings of one value compare: casefolded, whitespace trimmed and collapsed
    (computed once per distinct value)."""
    return transform_distinct(values.astype("string"),
                              lambda text: text.str.strip().str.replace(r"\s+", " ", regex=True).str.casefold())


def _loose_held_keys(grants: pd.DataFrame) -> pd.DataFrame:
    """Each grant under every spelling a review line may use for it: (system, identifier, entitlement),
    loosely compared (``_loose``), the identifier being the HR e-mail, the account e-mail or the login.
    Keeps the grants' index (a grant appears once per identifier it has)."""
    entitlement = _loose(grants["entitlement"])
    parts = []
    for column in ("person_email", "email", "login"):
        if column in grants:
            ident = _loose(grants[column])
            known = ident.notna().to_numpy()
            parts.append(pd.DataFrame({"system": grants["system"][known], "identifier": ident[known],
                                       "entitlement": entitlement[known]}))
    if not parts:
        return pd.DataFrame(columns=["system", "identifier", "entitlement"])
    return pd.concat(parts)


def _loose_line_keys(decisions: pd.DataFrame) -> pd.Series:
    """The (system, subject, entitlement) of each review line, loosely compared (see ``_loose_held_keys``)."""
    loose = pd.DataFrame({"system": decisions["system"], "subject": _loose(decisions["subject_email"]),
                          "entitlement": _loose(decisions["entitlement"])})
    return pd.Series(_key_tuples(loose, ("system", "subject", "entitlement")), index=decisions.index, dtype=object)


def _key_tuples(frame: pd.DataFrame, columns: Sequence[str]) -> list[tuple]:
    """Each row's values of ``columns`` as a tuple (a missing value as the column's own NA), for set
    membership: the values iterating the columns gives, taken through NumPy object arrays, which is
    many times faster than iterating Arrow-backed text columns value by value."""
    return list(zip(*(frame[c].to_numpy(dtype=object) for c in columns)))


def review_population_gaps(grants: pd.DataFrame, decisions: pd.DataFrame, identities: pd.DataFrame,
                           snapshot: pd.Timestamp, systems: list[str], listing_label: str) -> pd.DataFrame:
    """Access held at the campaign snapshot in the reviewed systems that the campaign did not cover.

    Undated listings (no grant date) are taken as held at the snapshot only for people hired on or
    before it. Uncorrelated accounts (no HR person) are gaps too: campaigns exclude them silently.
    Service accounts are outside a user access review and are not counted.
    """
    used = ("system", "entitlement", "person_email", "email", "login", "login_original", "granted_at", "removed_at",
            "correlated", "match_rule", "match_candidates", "listing", "line", "service_account")
    grants = grants[[c for c in grants.columns if c in used]]   # the columns read below: cheaper filters
    in_scope = grants[grants["system"].isin(systems) & ~grants["service_account"]]
    held = in_scope[held_at(in_scope, snapshot)]
    hires = identities.set_index("email")["hire_date"]
    hired_by_snapshot = dates_of(held["person_email"], hires) <= snapshot.tz_convert("UTC").tz_localize(None).normalize()
    expected = held[held["granted_at"].notna() | hired_by_snapshot | ~held["correlated"]]
    reviewed = set(_key_tuples(decisions, ("system", "subject_email", "entitlement")))
    subjects = review_subjects(expected)
    covered = set(subjects.index[[key in reviewed for key in _key_tuples(subjects, ("system", "review_subject",
                                                                                    "entitlement"))]])
    # a line naming the same access in another spelling (the login, other capitals) covered it: the
    # imprecise line is review_line_not_in_listing's one finding, not a gap as well
    lines = set(_loose_line_keys(decisions))
    loose = _loose_held_keys(expected)
    covered |= set(loose.index[[key in lines for key in _key_tuples(loose, ("system", "identifier", "entitlement"))]])
    rows = []
    for row in expected[~expected.index.isin(list(covered))].itertuples():   # only the gaps are visited
        subject = row.person_email if row.correlated else row.login
        ambiguous = getattr(row, "match_rule", None) == identity.AMBIGUOUS
        reason = ("" if row.correlated else
                  " The account matches several HR workers (ambiguous: " + str(row.match_candidates) + "), so the "
                  "campaign could not name its person." if ambiguous else
                  " The account has no HR identity (uncorrelated), so the campaign excluded it.")
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
    checks.append((f"Launched within {launch_within_days:d} days of the snapshot",
                   f"{activated:%Y-%m-%d}" if pd.notna(activated) else "not launched",
                   pd.notna(activated) and activated < launch_deadline))
    if pd.notna(activated):
        complete_deadline = activated.normalize() + pd.Timedelta(days=complete_within_days + 1)
        on_time = pd.notna(completed) and completed < complete_deadline
    else:
        on_time = False
    checks.append((f"Completed within {complete_within_days:d} days of launch",
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
    held_grants = grants[held_at(grants, snapshot).to_numpy()]
    held = review_subjects(held_grants)
    dated_held = set(_key_tuples(held, ("system", "review_subject", "entitlement")))
    loose = _loose_held_keys(held_grants)
    spelled = dict(zip(_key_tuples(loose, ("system", "identifier", "entitlement")), loose.index))
    leavers = set(identities.loc[identities["termination_date"].notna(), "email"])
    # a line is explained by the access held at the snapshot, a decision to revoke it, or a leaver
    explained = np.fromiter((key in dated_held for key in _key_tuples(decisions, ("system", "subject_email",
                                                                                   "entitlement"))),
                            dtype=bool, count=len(decisions))
    explained |= (decisions["decision"] == "revoke").fillna(False).to_numpy(dtype=bool)
    explained |= np.fromiter((subject in leavers for subject in decisions["subject_email"].to_numpy(dtype=object)),
                             dtype=bool, count=len(decisions))
    unexplained = decisions[~explained]
    rows = []
    for row, key in zip(unexplained.itertuples(), _loose_line_keys(unexplained)):   # only the findings are visited
        if key in spelled:
            # the same access under another spelling: one finding (the line is imprecise), never a
            # population gap as well (review_population_gaps counts the access as covered)
            grant = held_grants.loc[spelled[key]]
            rows.append({
                "rule": "review_line_not_in_listing",
                "subject": row.subject_email,
                "system": row.system,
                "detail_key": f"{row.system}|{row.entitlement}",
                "description": (f"The campaign asked {reviewer} to review " if (reviewer := _reviewer(row)) else
                                f"The campaign listed for review ({NO_REVIEWER}) ")
                               + f"'{row.subject_email}' {row.application} '{row.entitlement}', which the system "
                                 f"listing shows as {grant['login_original']}'s '{grant['entitlement']}': the line does "
                                 "not name the access as the listing does (imprecise).",
                "evidence_reference": f"{_evidence(file_label, row.line)}; "
                                      f"{_evidence(_listing_label(grant, 'system listing'), grant['line'])}",
                "severity": "medium",
            })
            continue
        rows.append({
            "rule": "review_line_not_in_listing",
            "subject": row.subject_email,
            "system": row.system,
            "detail_key": f"{row.system}|{row.entitlement}",
            "description": (f"The campaign asked {reviewer} to review " if (reviewer := _reviewer(row)) else
                            f"The campaign listed for review ({NO_REVIEWER}) ")
                           + f"{_reviewed_person(row)}'s {row.application} '{row.entitlement}', which the system "
                             "listing does not show at the snapshot.",
            "evidence_reference": _evidence(file_label, row.line),
            "severity": "medium",
        })
    return _hits(rows)


# =============================================================================================
# Shared helpers of the control families (provisioning, termination, privileged access,
# segregation of duties, authentication). Everything below is vectorised: a million grants
# take seconds, not minutes (benchmarks/bench_analytics.py).
# =============================================================================================

def _utc_day(values: pd.Series) -> pd.Series:
    """Calendar day (naive midnight, UTC for aware timestamps) of each value; NaT stays NaT."""
    series = pd.to_datetime(values)
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.dt.normalize()


def _as_utc(moment: object) -> pd.Timestamp:
    """A timestamp in UTC (naive values and dates are read as UTC)."""
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _text(value: object, fmt: str = "%Y-%m-%d") -> str:
    """A date or timestamp for a description; 'unknown' when missing."""
    return "unknown" if value is None or pd.isna(value) else f"{pd.Timestamp(value):{fmt}}"


def _subject(frame: pd.DataFrame) -> pd.Series:
    """The register subject of each row: the HR e-mail where correlated, else the account login."""
    person = frame["person_email"].astype("string") if "person_email" in frame else pd.Series(pd.NA, index=frame.index, dtype="string")
    return person.fillna(frame["login"].astype("string").str.casefold())


def manager_emails(identities: pd.DataFrame) -> pd.Series:
    """Each person's HR manager's e-mail, indexed by the person's (casefolded) e-mail."""
    by_id = identities.dropna(subset=["employee_id"]).drop_duplicates("employee_id").set_index("employee_id")["email"]
    people = identities.dropna(subset=["email"]).drop_duplicates("email")
    return pd.Series(people["manager_employee_id"].map(by_id).to_numpy(), index=people["email"].to_numpy(), dtype="string")


def dates_of(keys: pd.Series, dates: pd.Series) -> pd.Series:
    """Each key's date from ``dates`` (key -> date), NaT where it has none. With no dates at all
    (an empty HR roster) every key gets NaT: pandas cannot map through an empty date series."""
    if dates.empty:
        return pd.Series(pd.NaT, index=keys.index, dtype=dates.dtype if dates.dtype.kind == "M" else "datetime64[s]")
    return keys.map(dates)


def person_attribute(identities: pd.DataFrame, column: str) -> pd.Series:
    """An HR attribute (department, title, ...) indexed by the person's e-mail."""
    people = identities.dropna(subset=["email"]).drop_duplicates("email")
    return pd.Series(people[column].to_numpy(), index=people["email"].to_numpy())


def held_at_extraction(grants: pd.DataFrame) -> pd.Series:
    """Grants held in the period-end listing: not removed and not on a disabled account."""
    not_removed = grants["removed_at"].isna()
    if "account_status" in grants:
        not_removed &= grants["account_status"].astype("string").fillna("active") != "disabled"
    return not_removed


def _with_label(frame: pd.DataFrame, label: str) -> pd.Series:
    """Each row's listing file (its ``listing`` column) or ``label``."""
    if "listing" in frame:
        return frame["listing"].astype("string").fillna(label)
    return pd.Series(label, index=frame.index, dtype="string")


# --- provisioning -----------------------------------------------------------------------------

def new_grants(grants: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Grants made in the period: ``granted_at`` on or after ``start`` and before ``end`` (exclusive)."""
    start, end = _as_utc(start), _as_utc(end)
    made = grants["granted_at"].notna() & (grants["granted_at"] >= start) & (grants["granted_at"] < end)
    return grants[made].reset_index(drop=True)


MATCH_COLUMNS = ["ticket", "request_line", "requested_for", "opened_by", "approver", "approved_at",
                 "request_entitlement", "manager_email", "has_request", "approved_before",
                 "approver_independent", "approver_is_manager"]


#: No minimum time between an approval and the grant it supports (the default of match_approvals).
NO_LEAD = pd.Timedelta(0)


def match_approvals(grants: pd.DataFrame, requests: pd.DataFrame, identities: pd.DataFrame,
                    min_lead: pd.Timedelta = NO_LEAD) -> pd.DataFrame:
    """Each new grant with its best supporting access request and the checks that request passes.

    ``grants`` needs ``person_email``, ``login``, ``system``, ``entitlement``, ``granted_at`` and
    ``entitlement_level`` (True: the request must name the entitlement, e.g. an ERP role; False:
    any request for the application supports it, e.g. an IdP application assignment). A candidate
    is an approved ``grant`` request for the same person and system. Among candidates the best one
    is approved before the grant (by at least ``min_lead``), by someone other than the recipient
    and the requester, who is the recipient's HR manager; the earliest approval breaks ties.
    Adds :data:`MATCH_COLUMNS` (``has_request`` False and NA details where there is no candidate).
    """
    frame = grants.reset_index(drop=True).copy()
    frame["_gid"] = np.arange(len(frame))
    approved = requests[(requests["action"] == "grant") & (requests["approval"] == "approved")
                        & requests["requested_for"].notna()]
    req = approved[["ticket", "line", "requested_for", "opened_by", "approver", "approved_at", "system",
                    "entitlement"]].rename(columns={"line": "request_line", "entitlement": "request_entitlement"})
    people = frame[frame["person_email"].notna()]
    level = people["entitlement_level"].astype(bool)
    exact = people[level].merge(req, left_on=["person_email", "system", "entitlement"],
                                right_on=["requested_for", "system", "request_entitlement"], how="inner")
    by_app = people[~level].merge(req, left_on=["person_email", "system"], right_on=["requested_for", "system"],
                                  how="inner")
    candidates = pd.concat([exact, by_app], ignore_index=True)
    managers = manager_emails(identities)
    candidates["manager_email"] = candidates["person_email"].map(managers).astype("string")
    candidates["approved_before"] = (candidates["approved_at"].notna()
                                     & (candidates["approved_at"] <= candidates["granted_at"] - min_lead)).astype(bool)
    approver = candidates["approver"].astype("string")
    # NA-safe: a missing requester is nobody the approver can be; a missing approver is not independent
    # (nothing shows who approved) but is no self-approval either (``self_approved_grants``).
    candidates["approver_independent"] = (approver.notna() & ~_same(approver, candidates["requested_for"])
                                          & ~_same(approver, candidates["opened_by"])).astype(bool)
    candidates["approver_is_manager"] = _same(approver, candidates["manager_email"])
    candidates["_score"] = (candidates["approved_before"].astype(int) * 4 + candidates["approver_independent"].astype(int) * 2
                            + candidates["approver_is_manager"].astype(int))
    best = (candidates.sort_values(["_gid", "_score", "approved_at", "ticket"], ascending=[True, False, True, True],
                                   kind="mergesort")
            .drop_duplicates("_gid"))
    keep = ["_gid", *[c for c in MATCH_COLUMNS if c in best.columns and c not in ("has_request", "manager_email")]]
    result = frame.merge(best[keep], on="_gid", how="left")
    result["has_request"] = result["ticket"].notna()
    for column in ("approved_before", "approver_independent", "approver_is_manager"):
        result[column] = result[column].astype("boolean").fillna(False).astype(bool)
    result["manager_email"] = result["person_email"].map(managers).astype("string")
    return result.drop(columns="_gid")


def grant_detail_key(grants: pd.DataFrame) -> pd.Series:
    """The stable key of a grant event: system, entitlement and the moment it was granted."""
    when = grants["granted_at"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S").fillna("undated")
    return grants["system"].astype("string") + "|" + grants["entitlement"].astype("string") + "|" + when


def _provisioning_hits(matched: pd.DataFrame, mask: pd.Series, rule: str, severity: str, listing_label: str,
                       request_label: str, describe) -> pd.DataFrame:
    rows = matched[mask.to_numpy()]
    if rows.empty:
        return _hits([])
    subjects = _subject(rows)
    keys = grant_detail_key(rows)
    labels = _with_label(rows, listing_label)
    out = []
    for (_, row), subject, key, label in zip(rows.iterrows(), subjects, keys, labels):
        evidence = _evidence(label, row["line"])
        if pd.notna(row.get("ticket")):
            evidence += f"; {_evidence(request_label, row['request_line'])} ({row['ticket']})"
        out.append({"rule": rule, "subject": subject, "system": row["system"], "detail_key": key,
                    "description": describe(row), "evidence_reference": evidence, "severity": severity})
    return _hits(out)


def _account(row: pd.Series) -> str:
    original = row.get("login_original")
    return str(original) if isinstance(original, str) and original else str(row["login"])


def grants_without_approval(matched: pd.DataFrame, listing_label: str, request_label: str) -> pd.DataFrame:
    """New grants with no approved access request at all for that person, system (and entitlement)."""
    return _provisioning_hits(
        matched, ~matched["has_request"], "access_without_approval", "high", listing_label, request_label,
        lambda r: f"{r['system']} '{r['entitlement']}' was granted to {_account(r)} on "
                  f"{_text(r['granted_at'], '%Y-%m-%d %H:%M')} UTC with no approved access request.")


def approvals_after_grant(matched: pd.DataFrame, listing_label: str, request_label: str) -> pd.DataFrame:
    """New grants whose best request was approved only after the access was granted."""
    return _provisioning_hits(
        matched, matched["has_request"] & ~matched["approved_before"], "approval_after_grant", "high",
        listing_label, request_label,
        lambda r: f"{r['system']} '{r['entitlement']}' was granted to {_account(r)} on "
                  f"{_text(r['granted_at'], '%Y-%m-%d %H:%M')} UTC; request {r['ticket']} was approved only on "
                  f"{_text(r['approved_at'], '%Y-%m-%d %H:%M')} UTC.")


def _approver_known(matched: pd.DataFrame) -> pd.Series:
    """True where the matched request names its approver."""
    return matched["approver"].astype("string").notna().to_numpy() if "approver" in matched \
        else np.zeros(len(matched), dtype=bool)


def _self_approver(r: pd.Series) -> str:
    """Who a self-approver is: the recipient, the requester or both (NA-safe)."""
    approver = _known(r.get("approver"))
    roles = [role for role, column in (("the recipient", "requested_for"), ("the requester", "opened_by"))
             if approver is not None and _known(r.get(column)) == approver]
    return " and ".join(roles) or "the recipient or the requester"


def self_approved_grants(matched: pd.DataFrame, listing_label: str, request_label: str) -> pd.DataFrame:
    """New grants whose request was approved by the recipient or by the person who requested it
    (a request with no approver recorded is not self-approved: ``approvers_not_manager`` reports it)."""
    return _provisioning_hits(
        matched, matched["has_request"] & ~matched["approver_independent"] & _approver_known(matched),
        "self_approval", "high", listing_label, request_label,
        lambda r: f"Request {r['ticket']} for {r['system']} '{r['entitlement']}' was approved by {r['approver']}, "
                  f"who is {_self_approver(r)}.")


def approvers_not_manager(matched: pd.DataFrame, listing_label: str, request_label: str) -> pd.DataFrame:
    """New grants whose (independent) approver is not the recipient's HR manager, and approved
    requests that record no approver."""
    mask = matched["has_request"] & ~matched["approver_is_manager"] \
        & (matched["approver_independent"] | ~_approver_known(matched))
    return _provisioning_hits(
        matched, mask, "approver_not_manager", "medium", listing_label, request_label,
        lambda r: f"Request {r['ticket']} for {r['system']} '{r['entitlement']}' "
                  + (f"was approved by {approver}" if (approver := _known(r.get("approver")))
                     else "is marked approved with no approver recorded")
                  + f"; the recipient's HR manager is {_known(r['manager_email']) or 'unknown'}.")


# --- segregation of duties ----------------------------------------------------------------------

SOD_CONFLICT_COLUMNS = ["system", "login", "login_original", "person_email", "rule_id", "risk_level", "function_a",
                        "function_b", "held_a", "held_b", "lines", "listing"]


def sod_rule_conflicts(held: pd.DataFrame, rules: pd.DataFrame) -> pd.DataFrame:
    """Every (account, rule) where the account holds at least one entitlement of each side of the rule.

    ``held`` are the grants held at the time tested (e.g. the period-end listing); entitlement names
    are compared ignoring case. One row per conflict with the entitlements held on each side and
    the listing lines that show them.
    """
    sides = []
    for side in ("a", "b"):
        part = rules[["rule_id", "system", f"entitlements_{side}"]].explode(f"entitlements_{side}")
        part = part.rename(columns={f"entitlements_{side}": "rule_entitlement"}).dropna(subset=["rule_entitlement"])
        part["side"] = side
        sides.append(part)
    long = pd.concat(sides, ignore_index=True)
    long["_ent"] = long["rule_entitlement"].astype("string").str.strip().str.casefold()
    long = long.drop_duplicates(["rule_id", "side", "_ent"])
    grants = held[["system", "login", "entitlement", "line"]].copy()
    grants["_ent"] = grants["entitlement"].astype("string").str.casefold()
    hits = grants.merge(long[["rule_id", "system", "side", "_ent"]], on=["system", "_ent"], how="inner")
    if hits.empty:
        return pd.DataFrame(columns=SOD_CONFLICT_COLUMNS)
    both = hits.groupby(["system", "login", "rule_id"], sort=True)["side"].transform("nunique") == 2
    hits = hits[both]
    if hits.empty:
        return pd.DataFrame(columns=SOD_CONFLICT_COLUMNS)
    keys = ["system", "login", "rule_id"]
    hits = hits.sort_values([*keys, "side", "entitlement", "line"], kind="mergesort")
    names = hits.drop_duplicates([*keys, "side", "entitlement"]).groupby([*keys, "side"], sort=True)["entitlement"] \
        .agg(" + ".join).unstack("side")
    held_a, held_b = names["a"], names["b"]
    numbered = hits.drop_duplicates([*keys, "line"]).sort_values([*keys, "line"], kind="mergesort")
    lines = numbered.assign(line=numbered["line"].astype("int64").astype(str)).groupby(keys, sort=True)["line"] \
        .agg(", ".join)
    conflicts = pd.DataFrame({"held_a": held_a, "held_b": held_b, "lines": lines}).reset_index()
    info = rules.drop_duplicates("rule_id").set_index("rule_id")
    conflicts["risk_level"] = conflicts["rule_id"].map(info["risk_level"])
    conflicts["function_a"] = conflicts["rule_id"].map(info["function_a"])
    conflicts["function_b"] = conflicts["rule_id"].map(info["function_b"])
    accounts = held.drop_duplicates(["system", "login"]).set_index(["system", "login"])
    index = pd.MultiIndex.from_frame(conflicts[["system", "login"]])
    for column in ("login_original", "person_email", "listing"):
        conflicts[column] = accounts[column].reindex(index).to_numpy() if column in accounts else pd.NA
    return conflicts[SOD_CONFLICT_COLUMNS]


def held_accounts(held: pd.DataFrame) -> pd.DataFrame:
    """One row per account (system, login) holding access, sorted: its first login as exported and HR
    e-mail, its first line and that row's listing, and its entitlements in order of line, each once
    ("; "-joined). The SoD sampling frame is built on it."""
    held = held.sort_values(["system", "login", "line"], kind="mergesort")
    grouped = held.groupby(["system", "login"], sort=True)
    return grouped.agg(login_original=("login_original", "first"), person_email=("person_email", "first"),
                       line=("line", "min"), listing=("listing", "first"),
                       entitlements=("entitlement", lambda e: "; ".join(dict.fromkeys(e)))).reset_index()


def apply_mitigations(conflicts: pd.DataFrame, mitigations: pd.DataFrame | None, as_of: object) -> pd.DataFrame:
    """Attach the mitigation of each conflict and whether it is valid on ``as_of`` (e.g. the period end).

    A mitigation names the rule and the user (the account login, or the person's e-mail). It is
    valid when ``valid_from`` <= ``as_of`` <= ``valid_to`` (an empty ``valid_to`` never expires).
    An expired or not-yet-valid mitigation does not mitigate. Adds ``mitigation_id``,
    ``mitigation_status`` (valid, expired, not yet valid, none), ``mitigating_control``,
    ``mitigation_approved_by``, ``valid_from``, ``valid_to`` and ``mitigation_line``.
    """
    result = conflicts.reset_index(drop=True).copy()
    columns = ["mitigation_id", "mitigating_control", "mitigation_approved_by", "valid_from", "valid_to", "mitigation_line"]
    for column in columns:
        result[column] = pd.NA
    result["mitigation_status"] = "none"
    if mitigations is None or mitigations.empty or result.empty:
        return result
    day = pd.Timestamp(pd.Timestamp(as_of).date())
    register = mitigations.rename(columns={"approved_by": "mitigation_approved_by", "line": "mitigation_line"}).copy()
    register["_who"] = register["login"].astype("string").str.casefold()
    status = np.where(register["valid_from"].notna() & (register["valid_from"] > day), "not yet valid",
                      np.where(register["valid_to"].notna() & (register["valid_to"] < day), "expired", "valid"))
    register["_status"] = status
    register["_rank"] = register["_status"].map({"valid": 0, "expired": 1, "not yet valid": 2})
    keep = ["rule_id", "_who", "_status", "_rank", *columns]
    frames = []
    for who in ("login", "person_email"):
        left = result[["rule_id", who]].assign(_row=np.arange(len(result)), _who=result[who].astype("string").str.casefold())
        frames.append(left.dropna(subset=["_who"]).merge(register[keep], on=["rule_id", "_who"], how="inner"))
    matches = pd.concat(frames, ignore_index=True)
    if matches.empty:
        return result
    best = matches.sort_values(["_row", "_rank", "valid_to"], ascending=[True, True, False], kind="mergesort") \
        .drop_duplicates("_row").set_index("_row")
    rows = best.index.to_numpy()
    for column in columns:
        result.loc[rows, column] = best[column].to_numpy()
    result.loc[rows, "mitigation_status"] = best["_status"].to_numpy()
    return result


def sod_conflicts(conflicts: pd.DataFrame, listing_label: str, mitigation_label: str = "sod_mitigations") -> pd.DataFrame:
    """SoD rule conflicts that no valid mitigation covers (rule ``sod_conflict``), one per account and rule."""
    if "mitigation_status" not in conflicts:
        conflicts = apply_mitigations(conflicts, None, pd.Timestamp(0))
    open_ = conflicts[conflicts["mitigation_status"] != "valid"]
    rows = []
    for row in open_.itertuples():
        account = row.login_original if isinstance(row.login_original, str) else row.login
        note = ""
        if row.mitigation_status in ("expired", "not yet valid"):
            note = (f" Mitigation {row.mitigation_id} is {row.mitigation_status} "
                    f"(valid {_text(row.valid_from)} to {_text(row.valid_to)}), so it does not mitigate.")
        label = row.listing if isinstance(row.listing, str) and row.listing else listing_label
        evidence = f"{label} {'lines' if ',' in str(row.lines) else 'line'} {row.lines}"
        if isinstance(getattr(row, "evidence", None), str):  # permission-level or cross-system (workbench.sod)
            evidence = row.evidence
        if pd.notna(row.mitigation_line):
            evidence += f"; {_evidence(mitigation_label, row.mitigation_line)}"
        rows.append({
            "rule": "sod_conflict",
            "subject": row.person_email if isinstance(row.person_email, str) else str(row.login).casefold(),
            "system": row.system,
            "detail_key": f"{row.system}|{row.login}|{row.rule_id}",
            "description": f"{row.system} account {account} holds {row.held_a} ({row.function_a}) and {row.held_b} "
                           f"({row.function_b}): rule {row.rule_id}, risk {row.risk_level}.{note}",
            "evidence_reference": evidence,
            "severity": "high",
        })
    return _hits(rows)


@dataclass(frozen=True)
class AttributeRule:
    """An attribute-based SoD rule: entitlements only people with certain HR attribute values may hold.

    E.g. payment approval may be held only by people whose HR department is Accounts Payable or
    Finance. An account without an HR person (no attribute) breaks the rule.
    """

    rule_id: str
    description: str
    systems: tuple[str, ...]
    entitlements: tuple[str, ...]
    attribute: str
    allowed: tuple[str, ...]
    risk_level: str = "High"


def sod_attribute_conflicts(held: pd.DataFrame, identities: pd.DataFrame, rules: list[AttributeRule],
                            listing_label: str) -> pd.DataFrame:
    """Accounts holding an entitlement of an attribute rule whose holder's HR attribute is not allowed."""
    rows = []
    for rule in rules:
        values = person_attribute(identities, rule.attribute)
        wanted = {e.casefold() for e in rule.entitlements}
        allowed = {a.casefold() for a in rule.allowed}
        mine = held[held["system"].isin(rule.systems) & held["entitlement"].astype("string").str.casefold().isin(wanted)]
        if mine.empty:
            continue
        attribute = mine["person_email"].map(values).astype("string")
        bad = mine[~attribute.str.casefold().isin(allowed).fillna(False).to_numpy()].assign(_attr=attribute)
        for (system, login), group in bad.groupby(["system", "login"], sort=True):
            first = group.iloc[0]
            value = first["_attr"] if pd.notna(first["_attr"]) else "no HR person"
            entitlements = " + ".join(dict.fromkeys(group["entitlement"]))
            label = first["listing"] if "listing" in group and isinstance(first["listing"], str) else listing_label
            rows.append({
                "rule": "sod_attribute_conflict",
                "subject": first["person_email"] if isinstance(first["person_email"], str) else str(login).casefold(),
                "system": system,
                "detail_key": f"{system}|{login}|{rule.rule_id}",
                "description": f"{system} account {_account(first)} holds {entitlements} but its holder's {rule.attribute} "
                               f"is {value}; rule {rule.rule_id} allows only {', '.join(rule.allowed)} "
                               f"({rule.description}).",
                "evidence_reference": f"{label} {'lines' if len(group) > 1 else 'line'} "
                                      f"{', '.join(str(int(x)) for x in sorted(group['line']))}",
                "severity": "high",
            })
    return _hits(rows)


MOVER_ATTRIBUTES: tuple[str, ...] = ("department", "cost_center")
_ATTRIBUTE_WORDS = {"department": "department", "cost_center": "cost centre"}


def movers(identities: pd.DataFrame, prior: pd.DataFrame,
           attributes: Sequence[str] = MOVER_ATTRIBUTES) -> pd.DataFrame:
    """People on both HR rosters, not terminated in the current one, whose department or cost centre
    (``attributes``) differs between the earlier roster (``prior``) and the current one (ignoring
    case and surrounding blanks; a value missing on either roster is no evidence of a move).

    One row per mover: ``email``, ``full_name`` and ``<attribute>_before`` / ``<attribute>_now``.
    """
    def values(frame: pd.DataFrame) -> pd.DataFrame:
        people = frame.dropna(subset=["email"]).drop_duplicates("email")
        return people[["email", *[a for a in attributes if a in people]]].assign(
            full_name=people["full_name"] if "full_name" in people else people["email"],
            termination_date=people["termination_date"] if "termination_date" in people else pd.NaT)

    before, now = values(prior), values(identities)
    both = now.merge(before.drop(columns=["full_name", "termination_date"]), on="email", suffixes=("_now", "_before"))
    both = both[both["termination_date"].isna()]
    changed = pd.Series(False, index=both.index)
    for a in attributes:
        if f"{a}_now" not in both or f"{a}_before" not in both:
            continue
        old = both[f"{a}_before"].astype("string").str.strip().str.casefold()
        new = both[f"{a}_now"].astype("string").str.strip().str.casefold()
        changed |= (old.notna() & new.notna() & (old != "") & (new != "") & (old != new)).fillna(False).astype(bool)
    return both[changed.to_numpy()].drop(columns="termination_date").reset_index(drop=True)


def mover_retained_access(held: pd.DataFrame, identities: pd.DataFrame, prior: pd.DataFrame,
                          prior_as_of: object, as_of: object, grace_days: int = 30,
                          peer_attribute: str = "department", min_peers: int = 1,
                          attributes: Sequence[str] = MOVER_ATTRIBUTES,
                          listing_label: str = "listing") -> pd.DataFrame:
    """Movers (see :func:`movers`) who still hold access of their previous job.

    The rosters give no move date: the move happened after the earlier roster (``prior_as_of``)
    and by the current one. A mover is reported only once ``as_of`` is more than ``grace_days``
    after ``prior_as_of`` (the time allowed to remove the old job's access). An entitlement held
    at extraction (``held``: correlated grants) belongs to the old job when it was granted before
    the earlier roster, or on an unknown date (a point-in-time listing cannot show it was granted
    after the move), and fewer than ``min_peers`` other people of the mover's current
    ``peer_attribute`` (department or cost centre) hold it: access the new job's colleagues do not
    need. One hit per retained entitlement; subject: the person.
    """
    prior_day = _as_utc(pd.Timestamp(pd.Timestamp(prior_as_of).date()))
    day = _as_utc(pd.Timestamp(pd.Timestamp(as_of).date()))
    if day - prior_day <= pd.Timedelta(days=grace_days):
        return _hits([])
    moved = movers(identities, prior, attributes).set_index("email")
    if moved.empty:
        return _hits([])
    group = person_attribute(identities, peer_attribute).astype("string").str.strip().str.casefold()
    grants = held[held["person_email"].notna()].assign(
        mover_ent=lambda g: g["entitlement"].astype("string").str.casefold(),
        mover_group=lambda g: g["person_email"].map(group))
    holders: dict[tuple[str, str, str], set[str]] = {}
    for system, ent, grp, person in zip(grants["system"], grants["mover_ent"], grants["mover_group"], grants["person_email"]):
        if pd.notna(grp):
            holders.setdefault((system, ent, grp), set()).add(person)
    granted = pd.to_datetime(grants["granted_at"], utc=True)
    mine = grants[grants["person_email"].isin(moved.index) & (granted.isna() | (granted < prior_day)).to_numpy()]
    rows = []
    for row, label in zip(mine.itertuples(), _with_label(mine, listing_label)):
        person = moved.loc[row.person_email]
        peers = holders.get((row.system, row.mover_ent, row.mover_group), set()) - {row.person_email}
        if pd.isna(row.mover_group) or len(peers) >= min_peers:
            continue
        change = "; ".join(f"{_ATTRIBUTE_WORDS.get(a, a)} {person[f'{a}_before']} -> {person[f'{a}_now']}"
                           for a in attributes if f"{a}_now" in person
                           and str(person[f"{a}_before"]).strip().casefold() != str(person[f"{a}_now"]).strip().casefold())
        when = _text(row.granted_at) if pd.notna(row.granted_at) else "on a date the listing does not give"
        peer_text = (f"no one else in {_ATTRIBUTE_WORDS.get(peer_attribute, peer_attribute)} "
                     f"{person.get(f'{peer_attribute}_now', row.mover_group)} holds" if min_peers == 1 else
                     f"only {len(peers)} other(s) in {_ATTRIBUTE_WORDS.get(peer_attribute, peer_attribute)} "
                     f"{person.get(f'{peer_attribute}_now', row.mover_group)} hold (at least {min_peers} expected)")
        rows.append({"rule": "mover_retained_access", "subject": row.person_email, "system": row.system,
                     "detail_key": f"{row.system}|{row.login}|{row.entitlement}",
                     "description": f"{person['full_name']} moved ({change}) after the HR roster of {prior_day:%Y-%m-%d} "
                                    f"and still holds {row.system} access '{row.entitlement}' granted {when}, which "
                                    f"{peer_text}: access of the previous job not removed within {grace_days} days.",
                     "evidence_reference": _evidence(label, row.line), "severity": "medium"})
    return _hits(rows)


# --- privileged access --------------------------------------------------------------------------

def privileged_memberships(grants: pd.DataFrame) -> pd.DataFrame:
    """Privileged grants held in the period-end listings."""
    return grants[held_at_extraction(grants) & grants["privileged"].astype(bool)].reset_index(drop=True)


def approval_status(memberships: pd.DataFrame, approvals: pd.DataFrame, as_of: object) -> pd.DataFrame:
    """Each privileged membership with its approved-list row: ``approval`` current, expired or missing.

    The list matches on system, account (ignoring case) and entitlement; an approval is current when
    ``expires_on`` is empty or on or after ``as_of`` (the period end).
    """
    day = pd.Timestamp(pd.Timestamp(as_of).date())
    approved = approvals.rename(columns={"account": "_account", "line": "approval_line"})[
        ["system", "_account", "entitlement", "approved_by", "approved_on", "expires_on", "approval_line"]].copy()
    approved["_ent"] = approved["entitlement"].astype("string").str.casefold()
    frame = memberships.reset_index(drop=True).copy()
    frame["_account"] = frame["login"].astype("string").str.casefold()
    frame["_ent"] = frame["entitlement"].astype("string").str.casefold()
    approved = approved.sort_values(["expires_on"], ascending=False, na_position="first").drop_duplicates(
        ["system", "_account", "_ent"])
    merged = frame.merge(approved.drop(columns="entitlement"), on=["system", "_account", "_ent"], how="left")
    current = merged["approval_line"].notna() & (merged["expires_on"].isna() | (merged["expires_on"] >= day))
    merged["approval"] = np.where(merged["approval_line"].isna(), "missing", np.where(current, "current", "expired"))
    return merged.drop(columns=["_account", "_ent"])


def privileged_drift(status: pd.DataFrame, listing_label: str, approved_label: str) -> pd.DataFrame:
    """Privileged memberships with no row on the approved list (``privileged_drift``) or only an
    expired one (``privileged_approval_expired``)."""
    rows = []
    for row, subject, label in zip(status[status["approval"] != "current"].itertuples(),
                                   _subject(status[status["approval"] != "current"]),
                                   _with_label(status[status["approval"] != "current"], listing_label)):
        account = row.login_original if isinstance(row.login_original, str) else row.login
        if row.approval == "missing":
            rule, text = "privileged_drift", "is not on the approved privileged access list"
            evidence = _evidence(label, row.line)
        else:
            rule = "privileged_approval_expired"
            text = f"was approved by {row.approved_by} but the approval expired on {_text(row.expires_on)}"
            evidence = f"{_evidence(label, row.line)}; {_evidence(approved_label, row.approval_line)}"
        rows.append({"rule": rule, "subject": subject, "system": row.system,
                     "detail_key": f"{row.system}|{row.login}|{row.entitlement}",
                     "description": f"{row.system} account {account} holds privileged '{row.entitlement}' and {text}.",
                     "evidence_reference": evidence, "severity": "high"})
    return _hits(rows)


def held_at_snapshot(grants: pd.DataFrame, identities: pd.DataFrame, snapshot: pd.Timestamp) -> pd.Series:
    """Whether each grant held at extraction was already held at a review snapshot.

    Dated grants: granted by the snapshot. Undated (point-in-time) grants: held then when the
    person was hired by the snapshot, or when the account has no HR person (nothing says otherwise).
    """
    snapshot = _as_utc(snapshot)
    hires = person_attribute(identities, "hire_date")
    hired_by = (dates_of(grants["person_email"], hires) <= snapshot.tz_localize(None).normalize()).fillna(False).astype(bool)
    dated = grants["granted_at"].notna()
    return (dated & (grants["granted_at"] <= snapshot)) | (~dated & (hired_by | grants["person_email"].isna()))


def privileged_not_reviewed(memberships: pd.DataFrame, decisions: pd.DataFrame, identities: pd.DataFrame,
                            snapshot: pd.Timestamp, listing_label: str) -> pd.DataFrame:
    """Privileged access held at the review snapshot with no decided, privileged line in the campaign.

    Undated memberships count as held at the snapshot for people hired by then and for accounts
    without an HR person. A line must exist for the same person, system and entitlement, carry a
    decision, and be flagged privileged (so the reviewer saw it highlighted) where the export has
    the flag.
    """
    snapshot = _as_utc(snapshot)
    expected = memberships[held_at_snapshot(memberships, identities, snapshot).to_numpy()].copy()
    expected["_ent"] = expected["entitlement"].astype("string").str.casefold()
    lines = decisions[["system", "subject_email", "entitlement", "decision"]].copy()
    lines["_ent"] = lines["entitlement"].astype("string").str.casefold()
    lines["decided_line"] = lines["decision"] != "undecided"
    lines["flagged"] = decisions["privileged"].astype(bool) if "privileged" in decisions else True
    per_key = lines.dropna(subset=["subject_email"]).groupby(["system", "subject_email", "_ent"], sort=False)[
        ["decided_line", "flagged"]].max().reset_index()
    per_key["_ok"] = per_key["decided_line"].astype(bool) & per_key["flagged"].astype(bool)
    expected = expected.reset_index(drop=True)
    subjects = review_subjects(expected).rename_axis("_row").reset_index()[["_row", "system", "review_subject", "_ent"]]
    found = subjects.merge(per_key, left_on=["system", "review_subject", "_ent"],
                           right_on=["system", "subject_email", "_ent"], how="inner") \
        .groupby("_row")[["decided_line", "flagged", "_ok"]].max()
    joined = expected.join(found)
    ok = joined["_ok"].astype("boolean").fillna(False)
    missing = joined[~ok.to_numpy(dtype=bool)]
    rows = []
    for row, subject, label in zip(missing.itertuples(), _subject(missing), _with_label(missing, listing_label)):
        what = ("is not in the review campaign" if pd.isna(row.decided_line)
                else "has a review line without a decision" if not row.decided_line
                else "was reviewed on a line not flagged privileged")
        account = row.login_original if isinstance(row.login_original, str) else row.login
        rows.append({"rule": "privileged_not_reviewed", "subject": subject, "system": row.system,
                     "detail_key": f"{row.system}|{row.login}|{row.entitlement}",
                     "description": f"Privileged '{row.entitlement}' of {row.system} account {account}, held at the "
                                    f"review snapshot {snapshot:%Y-%m-%d}, {what}.",
                     "evidence_reference": _evidence(label, row.line), "severity": "high"})
    return _hits(rows)


# --- account inventory (termination, authentication) ------------------------------------------

NO_INFORMATION_STATE = "no_information"   # populations.NO_INFORMATION: a sentinel state, not a date

INVENTORY_COLUMNS = ["system", "login", "login_original", "person_email", "correlated", "service_account", "active",
                     "granted_at", "removed_at", "last_used_at", "last_used_state", "created_at", "mfa_applicable",
                     "mfa_enabled", "line", "listing", "signed_in_at", "match_rule", "match_candidates"]


def _inventory(frame: pd.DataFrame) -> pd.DataFrame:
    """The inventory columns with one dtype each, so inventories of several systems concatenate cleanly."""
    frame = frame.reset_index(drop=True)
    for column in INVENTORY_COLUMNS:
        if column not in frame:
            frame[column] = pd.NA
    for column in ("granted_at", "removed_at", "last_used_at", "created_at", "signed_in_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[us, UTC]")
    for column in ("system", "login", "login_original", "person_email", "last_used_state", "listing", "match_rule",
                   "match_candidates"):
        frame[column] = frame[column].astype("string")
    for column in ("correlated", "service_account", "active", "mfa_applicable"):
        frame[column] = frame[column].astype("boolean").fillna(False).astype(bool)
    frame["mfa_enabled"] = frame["mfa_enabled"].astype("boolean")
    frame["line"] = frame["line"].astype("Int64")
    return frame[INVENTORY_COLUMNS]


def idp_accounts(users: pd.DataFrame, identities: pd.DataFrame | None, label: str, *,
                 directory: identity.Directory | None = None,
                 orders: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Accounts of the identity provider (Okta users): active unless deprovisioned.

    The person is the HR worker the IdP system's identity-match rules find (default: the login
    or e-mail is the HR e-mail, else the employee id the user carries); ``match_rule`` says which.
    A deprovisioned user's removal time is its ``status_changed_at``. The export has no MFA flag.
    """
    if directory is None:
        directory = identity.build_directory(identities)
    login = users["login"].astype("string")
    resolved = identity.resolve_by_system(directory, users, orders or {}, emails=("email",), logins=("login",),
                                          employee_ids=("employee_id",), names=("display_name",))
    person = resolved["person"]
    deprovisioned = users["status"] == "deprovisioned"
    frame = pd.DataFrame({
        "system": users["system"], "login": login, "login_original": users["login_original"], "person_email": person,
        "service_account": False, "active": ~deprovisioned,
        "granted_at": users["created_at"], "removed_at": users["status_changed_at"].where(deprovisioned),
        "last_used_at": users["last_login_at"], "last_used_state": users["last_login_state"],
        "created_at": users["created_at"], "mfa_applicable": False, "mfa_enabled": pd.NA,
        "line": users["line"], "listing": label, "signed_in_at": users["last_login_at"],
        "match_rule": resolved["match_rule"], "match_candidates": resolved["candidates"],
    })
    frame["correlated"] = frame["person_email"].notna()
    return _inventory(frame)


def listing_accounts(grants: pd.DataFrame, label: str) -> pd.DataFrame:
    """Accounts of an application listing (user x entitlement rows, correlated): one row per account.

    Active when the account still holds an entitlement (not removed, account not disabled); a
    removed account's removal time is its latest entitlement removal. Last use, creation and MFA
    come from the listing where it has them.
    """
    frame = grants.copy()
    frame["_held"] = held_at_extraction(frame)
    frame["listing"] = _with_label(frame, label)
    for column in ("last_login_at", "created_at"):
        if column not in frame:
            frame[column] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
    if "last_login_state" not in frame:
        frame["last_login_state"] = pd.NA
    for column in ("mfa_enabled", "match_rule", "match_candidates"):
        if column not in frame:
            frame[column] = pd.NA
    frame = frame.sort_values("line", kind="mergesort")
    grouped = frame.groupby(["system", "login"], sort=True, dropna=False)
    accounts = grouped.agg(
        login_original=("login_original", "first"), person_email=("person_email", "first"),
        match_rule=("match_rule", "first"), match_candidates=("match_candidates", "first"),
        correlated=("correlated", "max"), service_account=("service_account", "max"), active=("_held", "max"),
        granted_at=("granted_at", "min"), removed_at=("removed_at", "max"), last_used_at=("last_login_at", "max"),
        last_used_state=("last_login_state", "first"), created_at=("created_at", "min"),
        mfa_enabled=("mfa_enabled", "first"), line=("line", "min"), listing=("listing", "first"),
    ).reset_index()
    accounts["active"] = accounts["active"].astype(bool)
    accounts["signed_in_at"] = accounts["last_used_at"]   # an application's last logon is a sign-in
    accounts["removed_at"] = accounts["removed_at"].where(~accounts["active"])
    accounts["mfa_applicable"] = accounts["mfa_enabled"].notna()
    accounts["last_used_state"] = accounts["last_used_state"].where(accounts["last_used_at"].isna(), "used")
    return _inventory(accounts)


def credential_accounts(report: pd.DataFrame, label: str) -> pd.DataFrame:
    """IAM users of a credential report (correlated; the root row excluded): every listed user is active.

    Last use is the latest of the console password and both access keys. Without any use the
    state says why: ``no_information`` (password never used), ``never`` (a key never used) or
    ``not_applicable`` (no credential). MFA is required for console (password) users.
    """
    users = report[~report["is_root"].astype(bool)].copy()
    used = pd.concat([users["last_login_at"], users["access_key_1_last_used_at"], users["access_key_2_last_used_at"]],
                     axis=1).max(axis=1)
    states = pd.concat([users["last_login_state"], users["access_key_1_last_used_state"],
                        users["access_key_2_last_used_state"]], axis=1).astype("string")
    fallback = np.where((states == NO_INFORMATION_STATE).any(axis=1), NO_INFORMATION_STATE,
                        np.where((states == "never").any(axis=1), "never", "not_applicable"))
    frame = pd.DataFrame({
        "system": users["system"], "login": users["login"], "login_original": users["login_original"],
        "person_email": users["person_email"], "correlated": users["correlated"],
        "match_rule": users.get("match_rule"), "match_candidates": users.get("match_candidates"),
        "service_account": users["service_account"], "active": True, "granted_at": users["created_at"],
        "removed_at": pd.NaT, "last_used_at": used, "last_used_state": np.where(used.notna(), "used", fallback),
        "created_at": users["created_at"], "mfa_applicable": users["password_enabled"].fillna(False).astype(bool),
        "mfa_enabled": users["mfa_enabled"], "line": users["line"], "listing": _with_label(users, label),
        "signed_in_at": users["last_login_at"],   # console (password) use; access keys are programmatic
    })
    return _inventory(frame)


def assignment_accounts(assignments: pd.DataFrame, systems: list[str], present: pd.DataFrame,
                        identities: pd.DataFrame | None, label: str, *,
                        directory: identity.Directory | None = None) -> pd.DataFrame:
    """Accounts the IdP assigned in ``systems`` that the system's own listing no longer shows.

    Point-in-time listings (IAM users, GitHub members) drop removed accounts; the IdP's assignment
    report still shows them with their ``Unassigned on`` time, which is their removal time. Each
    such account is inactive; ``present`` is the inventory of those systems' listings.
    """
    if directory is None:
        directory = identity.build_directory(identities)
    mine = assignments[assignments["system"].isin(systems)].copy()
    resolved = identity.resolve_keys(directory, mine, ("email",), emails=("login", "email"))
    mine["person_email"] = resolved["person"]
    mine["match_rule"] = resolved["match_rule"]
    shown = set(zip(present["system"], present["person_email"].dropna())) | set(zip(present["system"], present["login"]))
    keep = [not ((s, p) in shown or (s, a) in shown)
            for s, p, a in zip(mine["system"], mine["person_email"], mine["application_login"])]
    mine = mine[np.array(keep, dtype=bool)]  # a mask even when empty (an empty list selects columns)
    frame = pd.DataFrame({
        "system": mine["system"], "login": mine["application_login"],
        "login_original": mine["application_login_original"], "person_email": mine["person_email"],
        "correlated": mine["person_email"].notna(), "service_account": False, "active": False,
        "granted_at": mine["granted_at"], "removed_at": mine["removed_at"], "last_used_at": mine["last_login_at"],
        "last_used_state": mine["last_login_state"], "created_at": mine["granted_at"], "mfa_applicable": False,
        "mfa_enabled": pd.NA, "line": mine["line"], "listing": label, "signed_in_at": mine["last_login_at"],
        "match_rule": mine["match_rule"],
    })
    return _inventory(frame)


# --- termination ---------------------------------------------------------------------------------

def leaver_accounts(inventory: pd.DataFrame, identities: pd.DataFrame, start: object, end: object) -> pd.DataFrame:
    """Accounts of people terminated from ``start`` to ``end`` (dates, inclusive) that existed when they left.

    An account existed at termination when it was created (granted) by the end of the termination
    day and not removed before that day. Adds ``termination_date``, ``full_name`` and the business
    days from termination to removal (``removal_business_days``).
    """
    start_day, end_day = pd.Timestamp(pd.Timestamp(start).date()), pd.Timestamp(pd.Timestamp(end).date())
    leavers = identities[identities["termination_date"].notna() & (identities["termination_date"] >= start_day)
                         & (identities["termination_date"] <= end_day)].drop_duplicates("email")
    frame = inventory.merge(leavers[["email", "termination_date", "full_name"]], left_on="person_email",
                            right_on="email", how="inner").drop(columns="email")
    term = frame["termination_date"]
    created = _utc_day(frame["granted_at"])
    removed = _utc_day(frame["removed_at"])
    existed = (created.isna() | (created <= term)) & (removed.isna() | (removed >= term))
    frame = frame[existed.to_numpy()].reset_index(drop=True)
    frame["removal_business_days"] = business_days_between(frame["termination_date"], frame["removed_at"])
    return frame


def _account_hits(accounts: pd.DataFrame, rule: str, severity: str, listing_label: str,
                  describe: Callable[[Any, str], str]) -> pd.DataFrame:
    """One exception per account row of ``accounts`` under ``rule``, its words from ``describe(row, account)``.

    The leaver rules differ only in which accounts they keep and what they say of each; the subject
    (the person), the detail key (system and login), the account as the export spelled it and the
    evidence reference (the listing's file and line) are the same for all of them.
    """
    rows = []
    for row, label in zip(accounts.itertuples(), _with_label(accounts, listing_label)):
        account = row.login_original if isinstance(row.login_original, str) else row.login
        rows.append({"rule": rule, "subject": row.person_email, "system": row.system,
                     "detail_key": f"{row.system}|{row.login}", "description": describe(row, account),
                     "evidence_reference": _evidence(label, row.line), "severity": severity})
    return _hits(rows)


def terminated_with_active_access(inventory: pd.DataFrame, identities: pd.DataFrame, as_of: object,
                                  listing_label: str = "listing") -> pd.DataFrame:
    """Accounts still active in the period-end listings of people HR terminated on or before ``as_of``."""
    day = pd.Timestamp(pd.Timestamp(as_of).date())
    leavers = identities[identities["termination_date"].notna() & (identities["termination_date"] <= day)] \
        .drop_duplicates("email").set_index("email")["termination_date"]
    active = inventory[inventory["active"].astype(bool) & inventory["person_email"].isin(leavers.index)]
    return _account_hits(active, "terminated_with_active_access", "high", listing_label, lambda row, account: (
        f"Terminated {_text(leavers[row.person_email])}; {row.system} account {account} is "
        f"still active at extraction (last use {_text(row.last_used_at)})."))


def late_deprovisioning(leavers: pd.DataFrame, sla_business_days: int = 1, listing_label: str = "listing") -> pd.DataFrame:
    """Leavers' accounts removed more than ``sla_business_days`` business days after termination."""
    late = leavers[leavers["removal_business_days"].notna()
                   & (leavers["removal_business_days"].fillna(0) > sla_business_days)]
    return _account_hits(late, "late_deprovisioning", "medium", listing_label, lambda row, account: (
        f"Terminated {_text(row.termination_date)}; {row.system} account {account} was "
        f"removed on {_text(row.removed_at)}, {int(row.removal_business_days)} business "
        f"days later (SLA: {sla_business_days})."))


def access_after_termination(leavers: pd.DataFrame, listing_label: str = "listing") -> pd.DataFrame:
    """Leavers' accounts used after the termination day (last use later than the termination date)."""
    used_after = leavers[leavers["last_used_at"].notna()
                         & (_utc_day(leavers["last_used_at"]) > leavers["termination_date"]).fillna(False)]
    return _account_hits(used_after, "access_after_termination", "high", listing_label, lambda row, account: (
        f"Terminated {_text(row.termination_date)}; {row.system} account {account} was "
        f"used on {_text(row.last_used_at, '%Y-%m-%d %H:%M')} UTC, after termination."))


def orphan_accounts(inventory: pd.DataFrame, listing_label: str = "listing") -> pd.DataFrame:
    """Active accounts that no identity-match rule tied to an HR worker (service accounts excluded).

    An account a rule tied to several workers (``match_rule`` ``ambiguous``) is not an orphan: a
    person may well be behind it, and the workpaper lists it with its candidates instead.
    Subject: the login.
    """
    rule = inventory["match_rule"].astype("string") if "match_rule" in inventory else pd.Series(pd.NA, index=inventory.index)
    orphans = inventory[inventory["active"].astype(bool) & ~inventory["correlated"].fillna(False).astype(bool)
                        & ~inventory["service_account"].fillna(False).astype(bool)
                        & (rule != identity.AMBIGUOUS).fillna(True).astype(bool)]
    rows = []
    for row, label in zip(orphans.itertuples(), _with_label(orphans, listing_label)):
        account = row.login_original if isinstance(row.login_original, str) else row.login
        rows.append({"rule": "orphan_account", "subject": str(row.login).casefold(), "system": row.system,
                     "detail_key": f"{row.system}|{row.login}",
                     "description": f"{row.system} account {account} is active but maps to no HR worker: no "
                                    f"identity-match rule tied it to one (last use {_text(row.last_used_at)}).",
                     "evidence_reference": _evidence(label, row.line), "severity": "high"})
    return _hits(rows)


# --- authentication ------------------------------------------------------------------------------

def dormant_accounts(inventory: pd.DataFrame, as_of: object, dormant_days: int = 90, grace_days: int = 90,
                     listing_label: str = "listing") -> pd.DataFrame:
    """Active accounts with no use in the ``dormant_days`` before ``as_of``, or never used although
    created more than ``grace_days`` before it (new joiners who have not signed in yet are not
    dormant). Sentinel states (never, no_information) count as no use; an account whose creation
    date the export does not give cannot be shown to be new. Subject: the account login."""
    day = _as_utc(pd.Timestamp(pd.Timestamp(as_of).date()))
    active = inventory[inventory["active"].astype(bool)]
    last, created = active["last_used_at"], active["created_at"]
    stale = last.notna() & (last < day - pd.Timedelta(days=dormant_days))
    never = last.isna() & (created.isna() | (created < day - pd.Timedelta(days=grace_days)))
    dormant = active[(stale | never).fillna(False).to_numpy()]
    rows = []
    for row, label in zip(dormant.itertuples(), _with_label(dormant, listing_label)):
        account = row.login_original if isinstance(row.login_original, str) else row.login
        use = (f"last used {_text(row.last_used_at)}" if pd.notna(row.last_used_at)
               else f"never used (state {row.last_used_state}; created {_text(row.created_at)})")
        rows.append({"rule": "dormant_account", "subject": str(row.login).casefold(), "system": row.system,
                     "detail_key": f"{row.system}|{row.login}",
                     "description": f"{row.system} account {account} is active but {use}: no use in the "
                                    f"{dormant_days} days before {day:%Y-%m-%d}.",
                     "evidence_reference": _evidence(label, row.line), "severity": "medium"})
    return _hits(rows)


def mfa_not_enabled(inventory: pd.DataFrame, listing_label: str = "listing") -> pd.DataFrame:
    """Active accounts that need MFA (console password, organisation membership) and do not have it."""
    needs = inventory["active"].astype(bool) & inventory["mfa_applicable"].fillna(False).astype(bool)
    off = inventory[needs & (inventory["mfa_enabled"].astype("boolean") == False).fillna(False)]  # noqa: E712
    rows = []
    for row, subject, label in zip(off.itertuples(), _subject(off), _with_label(off, listing_label)):
        account = row.login_original if isinstance(row.login_original, str) else row.login
        rows.append({"rule": "mfa_not_enabled", "subject": subject, "system": row.system,
                     "detail_key": f"{row.system}|{row.login}",
                     "description": f"{row.system} account {account} signs in without MFA (last use {_text(row.last_used_at)}).",
                     "evidence_reference": _evidence(label, row.line), "severity": "high"})
    return _hits(rows)


def access_keys_not_rotated(report: pd.DataFrame, as_of: object, max_age_days: int = 90,
                            file_label: str = "credential report") -> pd.DataFrame:
    """Active access keys last rotated more than ``max_age_days`` before ``as_of`` (root included)."""
    day = _as_utc(pd.Timestamp(pd.Timestamp(as_of).date()))
    rows = []
    for k in (1, 2):
        active = report[f"access_key_{k}_active"].fillna(False).astype(bool)
        rotated = report[f"access_key_{k}_last_rotated"]
        old = report[active & (rotated.isna() | (rotated < day - pd.Timedelta(days=max_age_days))).to_numpy()]
        rows += _access_key_hits(
            old, "access_key_not_rotated", file_label,
            lambda row, k=k: f"Access key {k} of {row.login_original} is active and was last rotated "
                             f"{_text(getattr(row, f'access_key_{k}_last_rotated'))} (more than {max_age_days} days "
                             f"before {day:%Y-%m-%d}).")
    return _hits(rows)


def _access_key_hits(keys: pd.DataFrame, rule: str, file_label: str, describe: Callable[[Any], str]
                     ) -> list[dict[str, Any]]:
    """One medium hit per credential-report row in ``keys`` (accounts whose access key meets ``rule``),
    described by ``describe(row)``; the subject is the person, else the login."""
    subjects = _subject(keys) if "person_email" in keys else keys["login"].astype("string")
    return [{"rule": rule, "subject": subject, "system": row.system, "detail_key": f"{row.system}|{row.login}",
             "description": describe(row), "evidence_reference": _evidence(label, row.line), "severity": "medium"}
            for row, subject, label in zip(keys.itertuples(), subjects, _with_label(keys, file_label))]


def access_keys_never_used(report: pd.DataFrame, as_of: object, grace_days: int = 90,
                           file_label: str = "credential report") -> pd.DataFrame:
    """Active access keys that were never used (``access_key_N_last_used_date`` ``N/A``) although
    created more than ``grace_days`` before ``as_of``: a live credential nobody needs.

    A key's creation is its ``access_key_N_last_rotated`` (AWS sets it when the key is created);
    a key with no such date cannot be shown to be new and is reported. The root credential is
    left to :func:`root_account_exceptions` (no active key at all). Subject: the person, else the login.
    """
    day = _as_utc(pd.Timestamp(pd.Timestamp(as_of).date()))
    users = report[~report["is_root"].astype(bool)]
    rows = []
    for k in (1, 2):
        active = users[f"access_key_{k}_active"].fillna(False).astype(bool)
        unused = users[f"access_key_{k}_last_used_at"].isna()
        created = users[f"access_key_{k}_last_rotated"]
        old = created.isna() | (created < day - pd.Timedelta(days=grace_days))
        keys = users[(active & unused & old).fillna(False).to_numpy()]
        rows += _access_key_hits(
            keys, "access_key_never_used", file_label,
            lambda row, k=k: f"Access key {k} of {row.login_original} is active but was never used; it was created "
                             f"{_text(getattr(row, f'access_key_{k}_last_rotated'))}, more than {grace_days} days "
                             f"before {day:%Y-%m-%d}.")
    return _hits(rows)


def shared_or_generic_accounts(inventory: pd.DataFrame, listing_label: str = "listing") -> pd.DataFrame:
    """Active accounts with no person behind them that are used to sign in interactively.

    No HR person correlates to the account, its login matches none of the system's service-account
    patterns (``systems[].service_accounts``), and the export shows an interactive sign-in
    (``signed_in_at``: the IdP's or application's last login, the AWS console password's last use;
    access-key use is programmatic and does not count). Whoever signs in cannot be identified, so
    the sign-ins cannot be attributed to one accountable person. Subject: the login.
    """
    shared = inventory[inventory["active"].astype(bool) & ~inventory["correlated"].fillna(False).astype(bool)
                       & ~inventory["service_account"].fillna(False).astype(bool)
                       & inventory["signed_in_at"].notna()]
    rows = []
    for row, label in zip(shared.itertuples(), _with_label(shared, listing_label)):
        account = row.login_original if isinstance(row.login_original, str) else row.login
        rows.append({"rule": "shared_or_generic_account", "subject": str(row.login).casefold(), "system": row.system,
                     "detail_key": f"{row.system}|{row.login}",
                     "description": f"{row.system} account {account} maps to no HR worker and is not a service account, "
                                    f"but was signed in to interactively (last sign-in "
                                    f"{_text(row.signed_in_at, '%Y-%m-%d %H:%M')} UTC): a shared or generic account "
                                    "whose use no one person is accountable for.",
                     "evidence_reference": _evidence(label, row.line), "severity": "high"})
    return _hits(rows)


def passwords_not_rotated(report: pd.DataFrame, as_of: object, max_age_days: int,
                          file_label: str = "credential report") -> pd.DataFrame:
    """Console passwords last changed more than ``max_age_days`` before ``as_of`` (where policy requires rotation)."""
    day = _as_utc(pd.Timestamp(pd.Timestamp(as_of).date()))
    users = report[~report["is_root"].astype(bool) & report["password_enabled"].fillna(False).astype(bool)]
    old = users[(users["password_last_changed"].notna()
                 & (users["password_last_changed"] < day - pd.Timedelta(days=max_age_days))).to_numpy()]
    subjects = _subject(old) if "person_email" in old else old["login"].astype("string")
    return _hits([{"rule": "password_not_rotated", "subject": subject, "system": row.system,
                   "detail_key": f"{row.system}|{row.login}",
                   "description": f"The console password of {row.login_original} was last changed "
                                  f"{_text(row.password_last_changed)} (more than {max_age_days} days before {day:%Y-%m-%d}).",
                   "evidence_reference": _evidence(label, row.line), "severity": "low"}
                  for row, subject, label in zip(old.itertuples(), subjects, _with_label(old, file_label))])


def root_account_exceptions(report: pd.DataFrame, file_label: str = "credential report") -> pd.DataFrame:
    """The root (break-glass) credential: MFA must be on and it must have no active access key."""
    rows = []
    root = report[report["is_root"].astype(bool)]
    for row, label in zip(root.itertuples(), _with_label(root, file_label)):
        if not (pd.notna(row.mfa_enabled) and bool(row.mfa_enabled)):
            rows.append({"rule": "mfa_not_enabled", "subject": str(row.login), "system": row.system,
                         "detail_key": f"{row.system}|{row.login}",
                         "description": "The root account has no MFA device.",
                         "evidence_reference": _evidence(label, row.line), "severity": "high"})
        if any(pd.notna(k) and bool(k) for k in (row.access_key_1_active, row.access_key_2_active)):
            rows.append({"rule": "root_access_key_active", "subject": str(row.login), "system": row.system,
                         "detail_key": f"{row.system}|{row.login}",
                         "description": "The root account has an active access key.",
                         "evidence_reference": _evidence(label, row.line), "severity": "high"})
    return _hits(rows)


def subject_of(frame: pd.DataFrame) -> pd.Series:
    """The register subject of each row: the HR e-mail where correlated, else the account login (casefolded)."""
    return _subject(frame)


def evidence_reference(file_label: str, line: object) -> str:
    """Evidence reference of a source row, e.g. ``ledgerline_erp_user_roles.csv line 14``."""
    return _evidence(file_label, line)


def sod_conflicts_created(new: pd.DataFrame, listing: pd.DataFrame, rules: pd.DataFrame) -> list[list[str]]:
    """For each new grant, the SoD rules it completes (empty list when none).

    A grant completes a rule of its system when its entitlement is on one side of the rule and the
    account held an entitlement of the other side at the moment of the grant (names ignoring case).
    """
    by_system: dict[str, list[tuple[str, set[str], set[str]]]] = {}
    for rule in rules.itertuples():
        by_system.setdefault(rule.system, []).append(
            (rule.rule_id, {str(e).casefold() for e in rule.entitlements_a}, {str(e).casefold() for e in rule.entitlements_b}))
    relevant_listing = listing[listing["login"].isin(set(new["login"]))]
    accounts = {key: group for key, group in relevant_listing.groupby(["system", "login"], sort=False)}
    created = []
    for row in new.itertuples():
        entitlement = str(row.entitlement).casefold()
        candidates = [r for r in by_system.get(row.system, []) if entitlement in r[1] or entitlement in r[2]]
        if not candidates:
            created.append([])
            continue
        group = accounts.get((row.system, row.login))
        held = {entitlement}
        if group is not None:
            held |= {str(e).casefold() for e in group.loc[held_at(group, row.granted_at), "entitlement"]}
        created.append([rule_id for rule_id, a, b in candidates
                        if (entitlement in a and held & b) or (entitlement in b and held & a)])
    return created
