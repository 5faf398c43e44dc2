"""Program change control analytics: the period's changes to production, each traced to its review,
its deployment and its change ticket, and the full-population rules over them.

A *change* is a merged pull or merge request of the period (``code_changes``), with its approving
reviews (``code_reviews``), its first production deployment (``deployments``: the deployment whose
commit is the change's merge commit) and the change ticket it names. A production deployment of the
period whose commit is no merged change is a change of its own: code that reached production
without a reviewed merge. Tickets are found where teams write them: the change's title, branch and
description, the deployment's description, ref and ticket field, by a pattern the period file may
change (ServiceNow ``CHG0030012``, Jira ``OPS-412``).

People are compared by the keys identity resolution gives (the HR e-mail of a recognised person,
else the value as exported, casefolded), so a GitHub login and the HR e-mail of one person agree.
Every function is pure: frames in, frames out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from workbench.analytics import HIT_COLUMNS, evidence_reference

#: ServiceNow change numbers and Jira issue keys, the default way changes name their tickets.
DEFAULT_TICKET_PATTERN = r"\b(?:CHG\d{4,}|[A-Z][A-Z0-9]+-\d+)\b"
#: Approval states that let a change go ahead (a standard change is pre-approved by its template).
APPROVED = "approved"
STANDARD_APPROVALS = ("approved", "not_required", "not_requested")
#: The deployment outcomes that changed production (an empty status is read as succeeded).
DEPLOYED = ("succeeded",)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

RULES = (
    "change_without_approved_ticket",
    "ticket_approved_after_deployment",
    "emergency_change_not_approved_in_time",
    "merged_without_approval",
    "self_approved_change",
    "ticket_approved_by_author",
    "approval_after_merge",
    "deployed_without_reviewed_change",
    "developer_with_deploy_access",
    "author_deployed_own_change",
    "deployed_outside_change_window",
)


@dataclass(frozen=True)
class ChangeWindow:
    """The entity's standing change window: the weekdays and local hours deployments may run."""

    days: tuple[str, ...]
    start: str  # "HH:MM", local time
    end: str    # "HH:MM"; at or before start: the window runs past midnight into the next day
    timezone: str = "UTC"

    def contains(self, moments: pd.Series) -> pd.Series:
        """Whether each UTC moment falls inside the window (NA moments: inside, nothing to judge).

        A window that runs past midnight belongs to the day it starts: Saturday 22:00-02:00 holds
        Sunday 01:30."""
        local = moments.dt.tz_convert(self.timezone)
        minutes = local.dt.hour * 60 + local.dt.minute
        start, end = _minutes(self.start), _minutes(self.end)
        day = local.dt.day_of_week
        allowed = {WEEKDAYS.index(d) for d in self.days}
        if end > start:
            inside = day.isin(allowed) & (minutes >= start) & (minutes < end)
        else:
            inside = (day.isin(allowed) & (minutes >= start)) | (((day - 1) % 7).isin(allowed) & (minutes < end))
        return inside.where(moments.notna(), True).astype(bool)

    def text(self) -> str:
        """The window in words, for the workpaper."""
        return f"{', '.join(self.days)} {self.start}-{self.end} ({self.timezone})"


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def ticket_references(texts: Sequence[pd.Series], pattern: str) -> list[tuple[str, ...]]:
    """The ticket numbers each row names across ``texts`` (in order, each once)."""
    compiled = re.compile(pattern)
    found: list[tuple[str, ...]] = []
    for values in zip(*texts):
        refs: dict[str, None] = {}
        for value in values:
            if isinstance(value, str):
                refs.update(dict.fromkeys(compiled.findall(value)))
        found.append(tuple(refs))
    return found


def person_key(resolved: pd.Series) -> pd.Series:
    """How people are compared: the resolved value (an HR e-mail, else the login), casefolded."""
    return resolved.astype("string").str.strip().str.casefold()


def approvals_of(changes: pd.DataFrame, reviews: pd.DataFrame) -> pd.DataFrame:
    """Per change (``system``, ``change_id``): who approved it, and whether an approval came from
    someone other than the author before the merge, only after it, or only from the author.

    A review counts as an approval when its state is ``approved``; a GitHub approval later dismissed
    does not count. Approvals without a time (GitLab's approvals endpoint) count as before the merge:
    the export cannot show otherwise, and the workpaper says so.
    """
    approved = reviews[reviews["state"] == APPROVED]
    joined = changes[["system", "change_id", "author", "merged_at"]].merge(
        approved[["system", "change_id", "reviewer", "submitted_at"]], on=["system", "change_id"], how="left")
    reviewer = person_key(joined["reviewer"])
    by_author = reviewer.notna() & (reviewer == person_key(joined["author"]))
    independent = reviewer.notna() & ~by_author
    before = joined["submitted_at"].isna() | joined["merged_at"].isna() | (joined["submitted_at"] <= joined["merged_at"])
    joined = joined.assign(by_author=by_author, independent_before=independent & before,
                           independent_after=independent & ~before)
    grouped = joined.groupby(["system", "change_id"], sort=False)
    summary = grouped.agg(approvers=("reviewer", lambda s: ", ".join(sorted(set(s.dropna().astype(str))))),
                          self_approved=("by_author", "any"), approved_independently=("independent_before", "any"),
                          approved_after_merge=("independent_after", "any")).reset_index()
    return summary


def link_changes(changes: pd.DataFrame, reviews: pd.DataFrame, deployments: pd.DataFrame, tickets: pd.DataFrame,
                 pattern: str = DEFAULT_TICKET_PATTERN) -> pd.DataFrame:
    """The change population: every merged change with its approvals, first production deployment
    and ticket, then every production deployment of no merged change (``change_kind``
    ``unreviewed deployment``). ``changes`` and ``deployments`` are already the period's, in scope.
    """
    merged = changes.merge(approvals_of(changes, reviews), on=["system", "change_id"], how="left")
    deploys = deployments.sort_values(["deployed_at", "deployment_id"], kind="mergesort")
    first = deploys.dropna(subset=["commit"]).drop_duplicates(["system", "commit"])
    merged = merged.merge(first.rename(columns={"commit": "merge_commit", "line": "deployment_line",
                                                "listing": "deployment_listing",
                                                "description": "deployment_description",
                                                "ticket": "deployment_ticket"})
                          [["system", "merge_commit", "deployment_id", "deployed_at", "deployed_by", "environment",
                            "deployment_line", "deployment_listing", "deployment_description", "ref",
                            "deployment_ticket"]],
                          on=["system", "merge_commit"], how="left")
    merged["change_kind"] = "merged change"
    deployed = merged[merged["deployment_id"].notna()]
    linked = set(zip(deployed["system"], deployed["deployment_id"]))
    alone = deploys[[(s, d) not in linked for s, d in zip(deploys["system"], deploys["deployment_id"])]]
    standalone = pd.DataFrame({
        "system": alone["system"], "change_id": "deployment " + alone["deployment_id"].astype(str),
        "title": alone["description"], "author": alone["deployed_by"], "merge_commit": alone["commit"],
        "deployment_id": alone["deployment_id"], "deployed_at": alone["deployed_at"],
        "deployed_by": alone["deployed_by"], "environment": alone["environment"], "deployment_line": alone["line"],
        "deployment_listing": alone["listing"], "deployment_description": alone["description"], "ref": alone["ref"],
        "deployment_ticket": alone["ticket"], "change_kind": "unreviewed deployment",
        "self_approved": False, "approved_independently": False, "approved_after_merge": False, "approvers": "",
    })
    frame = pd.concat([merged, standalone], ignore_index=True) if len(standalone) else merged
    texts = [frame.get(c, pd.Series(pd.NA, index=frame.index)) for c in
             ("title", "source_branch", "description", "deployment_ticket", "deployment_description", "ref")]
    refs = ticket_references(texts, pattern)
    known = set(tickets["ticket"])
    frame["ticket_refs"] = [", ".join(r) for r in refs]
    frame["ticket"] = pd.Series([next((t for t in r if t in known), r[0] if r else pd.NA) for r in refs],
                                index=frame.index, dtype="string")
    shown = tickets.rename(columns={c: f"ticket_{c}" for c in tickets.columns if c != "ticket"})
    frame = frame.merge(shown, on="ticket", how="left")
    for flag in ("self_approved", "approved_independently", "approved_after_merge"):
        frame[flag] = frame[flag].fillna(False).astype(bool)
    frame["approvers"] = frame["approvers"].fillna("")
    return frame


def ticket_approval(frame: pd.DataFrame, emergency_days: int) -> pd.DataFrame:
    """Per change: ``ticket_found``, ``ticket_approved`` (approved, or a standard change's template),
    ``approved_in_time`` (before the deployment, or for an emergency change within
    ``emergency_days`` after it) and the reason in words when not."""
    found = frame["ticket_type"].notna()
    emergency = frame["ticket_type"] == "emergency"
    standard = frame["ticket_type"] == "standard"
    approval = frame["ticket_approval"].astype("string")
    approved = found & ((approval == APPROVED) | (standard & approval.isin(STANDARD_APPROVALS).fillna(False)))
    when = frame["deployed_at"].where(frame["deployed_at"].notna(), frame.get("merged_at"))
    at = frame["ticket_approved_at"]
    before = at.isna() & standard | (at.notna() & when.notna() & (at <= when)) | when.isna()
    deadline = when + pd.Timedelta(days=emergency_days)
    retrospective = at.notna() & (when.isna() | (at <= deadline))
    in_time = approved & ((emergency & retrospective) | (~emergency & before)).fillna(False)
    return pd.DataFrame({"ticket_found": found.fillna(False).astype(bool),
                         "ticket_approved": approved.fillna(False).astype(bool),
                         "approved_in_time": in_time.astype(bool), "emergency": emergency.fillna(False).astype(bool)},
                        index=frame.index)


def _hit(rule: str, row: pd.Series, description: str, evidence: str, severity: str = "high") -> dict[str, str]:
    return {"rule": rule, "subject": str(row["subject"]), "system": str(row["system"]),
            "detail_key": str(row["detail_key"]), "description": description, "evidence_reference": evidence,
            "severity": severity}


def _frame(rows: Iterable[dict[str, str]]) -> pd.DataFrame:
    hits = pd.DataFrame(list(rows), columns=HIT_COLUMNS)
    return hits.sort_values(["rule", "subject", "system", "detail_key"], kind="mergesort").reset_index(drop=True)


def _when(moment: object) -> str:
    return pd.Timestamp(moment).strftime("%Y-%m-%d %H:%M UTC") if pd.notna(moment) else "no time recorded"


def ticket_exceptions(frame: pd.DataFrame, emergency_days: int, tickets_label: str) -> pd.DataFrame:
    """Deployed changes without an approved ticket, normal changes approved after the deployment,
    and emergency changes not approved within ``emergency_days`` after it."""
    status = ticket_approval(frame, emergency_days)
    rows = []
    for i, row in frame[frame["deployed_at"].notna()].iterrows():
        s = status.loc[i]
        where = evidence_reference(tickets_label, row.get("ticket_line"))
        if s.emergency and not s.approved_in_time:
            rows.append(_hit("emergency_change_not_approved_in_time", row,
                             f"Emergency change {row['ticket']} deployed {_when(row['deployed_at'])} was not approved "
                             f"within {emergency_days} day(s) after the deployment (approval: "
                             f"{row['ticket_approval'] if pd.notna(row['ticket_approval']) else 'none'}, approved "
                             f"{_when(row['ticket_approved_at'])}).", where))
        elif not s.ticket_found or not s.ticket_approved:
            reason = ("names no change ticket" if pd.isna(row["ticket"]) else
                      f"names ticket {row['ticket']}, which is not in the change tickets" if not s.ticket_found else
                      f"rests on ticket {row['ticket']}, whose approval is {row['ticket_approval_original']}")
            rows.append(_hit("change_without_approved_ticket", row,
                             f"{row['change_kind'].capitalize()} {row['change_id']} deployed to production "
                             f"{_when(row['deployed_at'])} {reason}.",
                             evidence_reference(row["deployment_listing"], row["deployment_line"])))
        elif not s.approved_in_time:
            rows.append(_hit("ticket_approved_after_deployment", row,
                             f"Change {row['change_id']} was deployed {_when(row['deployed_at'])}, before its "
                             f"{row['ticket_type']} ticket {row['ticket']} was approved ({_when(row['ticket_approved_at'])}).",
                             where))
        if s.ticket_found and pd.notna(row["ticket_approver"]) \
                and person_key(pd.Series([row["ticket_approver"]])).iloc[0] == person_key(pd.Series([row["author"]])).iloc[0]:
            rows.append(_hit("ticket_approved_by_author", row,
                             f"Change ticket {row['ticket']} of change {row['change_id']} was approved by "
                             f"{row['ticket_approver']}, the change's own author.", where))
    return _frame(rows)


def review_exceptions(frame: pd.DataFrame, changes_label: str) -> pd.DataFrame:
    """Merged changes without an independent approval before the merge: approved by no one, only by
    their author, or only after the merge; and production deployments of no reviewed change."""
    rows = []
    for _, row in frame.iterrows():
        evidence = evidence_reference(row.get("listing", changes_label), row.get("line"))
        if row["change_kind"] == "unreviewed deployment":
            rows.append(_hit("deployed_without_reviewed_change", row,
                             f"Production deployment {row['deployment_id']} ({_when(row['deployed_at'])}, by "
                             f"{row['deployed_by']}) deployed commit {row['merge_commit']}, which is the merge of no "
                             "reviewed change of the period.",
                             evidence_reference(row["deployment_listing"], row["deployment_line"])))
        elif row["approved_independently"]:
            continue
        elif row["self_approved"]:
            rows.append(_hit("self_approved_change", row,
                             f"Change {row['change_id']} by {row['author']} was approved only by its author before "
                             f"it was merged {_when(row['merged_at'])}.", evidence))
        elif row["approved_after_merge"]:
            rows.append(_hit("approval_after_merge", row,
                             f"Change {row['change_id']} was merged {_when(row['merged_at'])} before any independent "
                             f"approval (approved afterwards by {row['approvers']}).", evidence, "medium"))
        else:
            rows.append(_hit("merged_without_approval", row,
                             f"Change {row['change_id']} by {row['author']} was merged {_when(row['merged_at'])} "
                             "without an approving review.", evidence))
    return _frame(rows)


def deploy_access_exceptions(frame: pd.DataFrame, deploy_grants: pd.DataFrame) -> pd.DataFrame:
    """Segregation of duties between develop and deploy: each author of a change of the period who
    holds production deploy access (``deploy_grants``: grants already limited to deploy
    entitlements, with ``person_email``), and each change its own author deployed to production."""
    rows = []
    authors = frame[frame["change_kind"] == "merged change"]
    for person, mine in authors.groupby(person_key(authors["subject"]), sort=True):
        held = deploy_grants[person_key(deploy_grants["person_email"]) == person]
        changed = "; ".join(sorted(set(mine["system"].astype(str))))  # the systems the developer changed
        for grant in held.drop_duplicates(["system", "entitlement"]).itertuples():
            rows.append({"rule": "developer_with_deploy_access", "subject": str(mine["subject"].iloc[0]),
                         "system": changed, "detail_key": f"deploy access|{grant.system}|{grant.entitlement}",
                         "description": f"{mine['subject'].iloc[0]} authored {len(mine)} change(s) in the period "
                                        f"({', '.join(mine['change_id'].head(3))}{', ...' if len(mine) > 3 else ''}) "
                                        f"and holds production deploy access through {grant.entitlement} "
                                        f"in {grant.system} ({grant.login}).",
                         "evidence_reference": evidence_reference(grant.listing, grant.line), "severity": "high"})
    deployed = authors[authors["deployed_by"].notna()
                       & (person_key(authors["deployed_by"]) == person_key(authors["author"]))]
    for _, row in deployed.iterrows():
        rows.append(_hit("author_deployed_own_change", row,
                         f"{row['author']} deployed their own change {row['change_id']} to production "
                         f"({_when(row['deployed_at'])}): no one else moved it into production.",
                         evidence_reference(row["deployment_listing"], row["deployment_line"])))
    return _frame(rows)


def window_exceptions(frame: pd.DataFrame, window: ChangeWindow | None, tickets_label: str) -> pd.DataFrame:
    """Deployments outside their change window: a normal or standard change outside its ticket's
    planned start and end, or, where the ticket plans none, outside the entity's standing window.
    Emergency changes are exempt (they are the way round the window)."""
    rows = []
    deployed = frame[frame["deployed_at"].notna() & (frame["ticket_type"] != "emergency").fillna(True)]
    planned = deployed["ticket_planned_start"].notna() & deployed["ticket_planned_end"].notna()
    in_plan = (deployed["deployed_at"] >= deployed["ticket_planned_start"]) & \
              (deployed["deployed_at"] <= deployed["ticket_planned_end"])
    standing = window.contains(deployed["deployed_at"]) if window else pd.Series(True, index=deployed.index)
    for i, row in deployed.iterrows():
        if planned[i] and not in_plan[i]:
            rows.append(_hit("deployed_outside_change_window", row,
                             f"Change {row['change_id']} was deployed {_when(row['deployed_at'])}, outside the window "
                             f"ticket {row['ticket']} approved ({_when(row['ticket_planned_start'])} to "
                             f"{_when(row['ticket_planned_end'])}).",
                             evidence_reference(row["deployment_listing"], row["deployment_line"]), "medium"))
        elif not planned[i] and not standing[i]:
            rows.append(_hit("deployed_outside_change_window", row,
                             f"Change {row['change_id']} was deployed {_when(row['deployed_at'])}, outside the "
                             f"standing change window ({window.text() if window else ''}).",
                             evidence_reference(row["deployment_listing"], row["deployment_line"]), "medium"))
    return _frame(rows)
