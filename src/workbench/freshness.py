"""Freshness of evidence: whether a listing can show the system at the moment a control uses it for.

A control claims states at moments: access held at the period end, at the review snapshot, after
the revoke decisions' deadline. Each state is read from a listing, and a listing shows the system
at one moment of its own (:attr:`workbench.parameters.Source.moment`: its ``as_of`` where declared,
else its extraction time). Whether the listing can show the claimed state depends on the gap
between the two moments and on the listing's nature:

- a listing showing the system **before** the moment cannot show what happened after it: beyond
  ``max_days_before`` (default 1 day) it is stale, whatever its nature (a listing extracted before
  the revoke decisions cannot prove they were executed);
- a **dated** listing (every row carries its grant date, removed rows are kept with their removal
  date) showing the system after the moment reconstructs the state at that earlier moment: fresh,
  unless the period file sets ``max_days_after_dated``;
- a **point-in-time** listing (no grant dates, or removed rows dropped) showing the system after
  the moment cannot: what was removed in between is gone. Beyond ``max_days_after_point_in_time``
  (default 7 days) it is stale.

A claim is of one of two kinds: ``at`` (the state at the moment, e.g. access held at the period
end) or ``after`` (a state reached by the moment and still seen later, e.g. a revocation executed
by its deadline, the leavers of the period in the HR roster): a later listing of any nature shows
an ``after`` claim, so only its lateness matters.

How the nature is known: the period file's ``evidence_freshness.dated`` / ``.point_in_time`` lists
of source ids, where declared; else from the rows: a ``grants`` listing whose every row carries a
``granted_at`` is dated, and so is an HR roster (workers kept with hire and termination dates);
anything else (a listing without grant dates, an account listing such as a credential report) is
point-in-time. A listing that carries grant dates but drops removed rows
(e.g. SAP AGR_USERS) cannot be told from its rows: declare it ``point_in_time``.

A stale listing is an IPE exception (rule ``ipe_stale_listing``, :mod:`workbench.ipe`): the
workpaper's conclusion is "Cannot conclude: evidence unreliable (IPE)" until the auditor obtains a
fresh listing or accepts the stale one with a reason. Everything here is a pure function of the
declared moments, the listings' rows and the tolerances.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from workbench.ipe import Issue
from workbench.parameters import EvidenceFreshness, FreshnessTolerance

RULE = "ipe_stale_listing"
DATED = "dated"
POINT_IN_TIME = "point-in-time"
ClaimKind = Literal["at", "after"]


@dataclass(frozen=True)
class Claim:
    """A state a procedure reads from the listings of one source role at one moment.

    ``moment`` names the procedure's attribute giving the moment (a UTC timestamp, or None when the
    control makes no such claim, e.g. no review snapshot declared) and ``moment_label`` names it in
    words ("the period end"); ``purpose`` says in the auditor's words what the state is used for;
    ``kind`` is ``at`` or ``after`` (module docstring).
    """

    role: str
    moment: str
    moment_label: str
    purpose: str
    kind: ClaimKind = "at"


@dataclass(frozen=True)
class Listing:
    """One listing as the freshness check sees it: which export, the moment it shows, its nature."""

    source_id: str
    file_name: str
    source_system: str
    moment: pd.Timestamp
    nature: str  # DATED or POINT_IN_TIME
    nature_basis: str  # how the nature is known, in words


@dataclass(frozen=True)
class Assessment:
    """The verdict on one listing used for one claim."""

    listing: Listing
    claim: Claim
    claimed: pd.Timestamp
    claimed_label: str  # e.g. "the period end"
    gap: pd.Timedelta  # the listing's moment minus the moment claimed (negative: before)
    fresh: bool
    reason: str
    tolerance_key: str | None  # the evidence_freshness key that decided a stale verdict


def utc(moment: dt.datetime | pd.Timestamp) -> pd.Timestamp:
    """A moment as a UTC timestamp (a naive one is taken as UTC)."""
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


def listing_nature(frame: pd.DataFrame, table: str, source_id: str, declared: EvidenceFreshness) -> tuple[str, str]:
    """Whether a listing is dated or point-in-time, and how that is known (module docstring)."""
    return listing_nature_of(table, source_id, declared, tuple(frame.columns), len(frame),
                             "granted_at" in frame and bool(frame["granted_at"].notna().all()))


def listing_nature_of(table: str, source_id: str, declared: EvidenceFreshness, columns: tuple[str, ...], rows: int,
                      every_grant_dated: bool) -> tuple[str, str]:
    """:func:`listing_nature` from what it looks at (columns, rows, whether every row has a grant date),
    so a listing kept in Parquet is judged without loading it."""
    if source_id in declared.dated:
        return DATED, "declared dated (evidence_freshness.dated)"
    if source_id in declared.point_in_time:
        return POINT_IN_TIME, "declared point-in-time (evidence_freshness.point_in_time)"
    if table == "grants" and rows and "granted_at" in columns and "removed_at" in columns and every_grant_dated:
        return DATED, "every row carries its grant date"
    if table == "grants":
        return POINT_IN_TIME, "rows without grant dates"
    if table == "identities" and {"hire_date", "termination_date"} <= set(columns):
        return DATED, "workers kept with their hire and termination dates"
    return POINT_IN_TIME, f"the {table} table: the state at its moment only"


def _days(value: float) -> pd.Timedelta:
    return pd.Timedelta(days=value)


def days_text(value: float) -> str:
    """'1 day', '7 days', '0.5 days'."""
    shown = f"{value:g}"
    return f"{shown} day" if shown == "1" else f"{shown} days"


def gap_text(gap: pd.Timedelta) -> str:
    """The gap in words, to the minute: '47 days 6 h after', '3 h before', 'same moment'."""
    minutes = int(abs(gap).total_seconds() // 60)
    if minutes == 0:
        return "same moment"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = ([f"{days} day{'s' if days != 1 else ''}"] if days else []) + ([f"{hours} h"] if hours else []) \
        + ([f"{minutes} min"] if minutes and not days else [])
    return " ".join(parts) + (" after" if gap > pd.Timedelta(0) else " before")


def assess(listing: Listing, claim: Claim, claimed: pd.Timestamp, tolerance: FreshnessTolerance) -> Assessment:
    """The verdict on one listing for one claim: the gap and whether the listing can show the state."""
    claimed, claimed_label = utc(claimed), claim.moment_label
    gap = utc(listing.moment) - claimed

    def verdict(fresh: bool, reason: str, key: str | None = None) -> Assessment:
        return Assessment(listing, claim, claimed, claimed_label, gap, fresh, reason, None if fresh else key)

    if gap < pd.Timedelta(0):
        limit = tolerance.max_days_before
        if limit is not None and -gap > _days(limit):
            return verdict(False, f"a listing showing the system more than {days_text(limit)} before "
                                  f"{claimed_label} (evidence_freshness.max_days_before): what changed after it "
                                  "is not in it", "max_days_before")
        within = "no limit set" if limit is None else f"within {days_text(limit)} before"
        return verdict(True, within)
    if claim.kind == "after":
        return verdict(True, f"shows the system after {claimed_label}, as the claim needs")
    if listing.nature == DATED:
        limit = tolerance.max_days_after_dated
        if limit is not None and gap > _days(limit):
            return verdict(False, f"a dated listing showing the system more than {days_text(limit)} after "
                                  f"{claimed_label} (evidence_freshness.max_days_after_dated)", "max_days_after_dated")
        return verdict(True, f"dated listing ({listing.nature_basis}): it shows the state at that earlier moment")
    limit = tolerance.max_days_after_point_in_time
    if limit is not None and gap > _days(limit):
        return verdict(False, f"a point-in-time listing ({listing.nature_basis}) showing the system more than "
                              f"{days_text(limit)} after {claimed_label} (evidence_freshness."
                              "max_days_after_point_in_time): access removed in between is not in it",
                       "max_days_after_point_in_time")
    within = "no limit set" if limit is None else f"within {days_text(limit)} after"
    return verdict(True, f"point-in-time listing, {within}")


def moment_text(moment: pd.Timestamp) -> str:
    """A moment as the workpaper shows it: '2026-10-01 06:00 UTC' (to the minute)."""
    return f"{utc(moment):%Y-%m-%d %H:%M} UTC"


def claimed_text(moment: pd.Timestamp) -> str:
    """A claimed moment as the auditor names it: 'end of 2026-03-31' for the midnight after a day (a
    period end, a deadline) or the day's last instant (a review snapshot), else to the minute."""
    stamp = utc(moment)
    if stamp == stamp.normalize():
        return f"end of {(stamp - pd.Timedelta(days=1)):%Y-%m-%d}"
    if stamp + pd.Timedelta(microseconds=1) == (stamp + pd.Timedelta(microseconds=1)).normalize():
        return f"end of {stamp:%Y-%m-%d}"
    return moment_text(stamp)


def table(assessments: list[Assessment]) -> pd.DataFrame:
    """The workpaper's "Freshness of evidence" table: one row per listing and claim."""
    rows = [{
        "source": a.listing.source_system, "file": a.listing.file_name,
        "moment of the listing": f"{moment_text(a.listing.moment)} ({a.listing.nature})",
        "used for": a.claim.purpose,
        "moment claimed": f"{claimed_text(a.claimed)} ({a.claimed_label})",
        "gap": gap_text(a.gap),
        "verdict": f"{'fresh' if a.fresh else 'STALE'}: {a.reason}",
    } for a in assessments]
    return pd.DataFrame(rows, columns=["source", "file", "moment of the listing", "used for", "moment claimed",
                                       "gap", "verdict"])


def issues(assessments: list[Assessment]) -> list[Issue]:
    """Each stale listing as an IPE exception (one per source and claim), in the order given."""
    found = []
    for a in assessments:
        if a.fresh:
            continue
        listing = a.listing
        found.append(Issue(
            RULE, listing.source_id, listing.file_name, listing.file_name,
            f"{listing.source_id}|{a.claim.role}|{a.claim.moment}",
            f"The listing {listing.file_name} ({listing.source_system}) shows the system at "
            f"{moment_text(listing.moment)}, {gap_text(a.gap)} {a.claimed_label} ({claimed_text(a.claimed)}), the "
            f"moment it is used for ({a.claim.purpose}): it is {a.reason}. It cannot show the state at that moment. "
            "Obtain a listing as of that moment (a dated one, or one extracted then), or record why this one is "
            "sufficient.",
            f"{listing.file_name} (shows the system at {moment_text(listing.moment)})", "high"))
    return found
