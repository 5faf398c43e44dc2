"""What changed since the prior period: joiners and leavers, grants added and removed, the
population rolled forward, findings resolved, new or recurring.

Why: an auditor who relies on the prior period's testing documents the update period — what is
different in the population now — before carrying any conclusion forward. Each comparison here is a
pure function of the prior run's frozen tables and this run's, keyed on what identifies a row across
periods (a worker's employee number; a grant's system, login and entitlement; a population item's
key; a finding's ``finding_key``), never on row order. Every count reconciles: prior + added −
removed = current.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

#: The columns of the detail file ``period_changes.csv`` written in each control's folder.
DETAIL_COLUMNS = ["category", "change", "system", "subject", "detail", "prior_reference", "current_reference"]
DETAIL_FILE = "period_changes.csv"
GRANT_KEY = ["system", "login", "entitlement"]
#: HR statuses that mean the worker is employed (on the roster and entitled to access).
EMPLOYED = ("active", "on_leave")


@dataclass(frozen=True)
class Reconciliation:
    """One roll-forward of a count: prior + added − removed = current."""

    what: str
    prior: int
    added: int
    removed: int
    current: int

    @property
    def reconciles(self) -> bool:
        """Whether the roll-forward ties (it always does for set differences; a check, not a hope)."""
        return self.prior + self.added - self.removed == self.current

    def row(self) -> dict[str, object]:
        """The roll-forward as a row of the workpaper's reconciliation table."""
        return {"population": self.what, "prior period": self.prior, "added": self.added,
                "removed": self.removed, "this period": self.current,
                "reconciles": "yes" if self.reconciles else "no"}


def _text(value: object) -> str:
    """A cell as text ('' for a missing value; a day as ``2026-05-04``), so keys compare the same in
    both periods and days read as days."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp) and value == value.normalize():
        return value.date().isoformat()
    return str(value).strip()


def _reference(source_label: str, line: object) -> str:
    """Where a row comes from: its export and line (``hr.csv line 14``)."""
    line_text = _text(line)
    return f"{source_label} line {line_text}" if line_text else source_label


def employed(roster: pd.DataFrame) -> pd.DataFrame:
    """The workers an HR roster shows as employed (active or on leave), one row per employee number."""
    frame = roster[roster["status"].astype("string").isin(EMPLOYED)].copy()
    frame["employee_id"] = frame["employee_id"].map(_text)
    return frame.drop_duplicates("employee_id", keep="first")


def people_changes(prior: pd.DataFrame, current: pd.DataFrame) -> tuple[pd.DataFrame, Reconciliation]:
    """Joiners (employed now, not at the prior roster) and leavers (employed then, not now) between
    two HR rosters (canonical ``identities`` tables, each with a ``reference`` column), keyed on the
    employee number; with the headcount roll-forward.

    A leaver is either terminated on the current roster (its termination date given) or no longer on
    it at all; a joiner who was on the prior roster as terminated is a rehire.
    """
    before, now = employed(prior).set_index("employee_id"), employed(current).set_index("employee_id")
    prior_all = prior.assign(employee_id=prior["employee_id"].map(_text)).drop_duplicates("employee_id").set_index(
        "employee_id")
    current_all = current.assign(employee_id=current["employee_id"].map(_text)).drop_duplicates(
        "employee_id").set_index("employee_id")
    rows = []
    for employee in sorted(set(now.index) - set(before.index)):
        worker = now.loc[employee]
        rehire = employee in prior_all.index
        hired = _text(worker.get("hire_date"))
        rows.append({"category": "people", "change": "joiner", "system": "HR", "subject": _who(employee, worker),
                     "detail": ("rehired" if rehire else "hired") + (f" {hired}" if hired else ""),
                     "prior_reference": _text(prior_all.loc[employee, "reference"]) if rehire else "",
                     "current_reference": _text(worker["reference"])})
    for employee in sorted(set(before.index) - set(now.index)):
        worker = before.loc[employee]
        if employee in current_all.index:
            later = current_all.loc[employee]
            ended = _text(later.get("termination_date"))
            detail = f"terminated {ended}" if ended else f"status {_text(later.get('status'))} on this roster"
            reference = _text(later["reference"])
        else:
            detail, reference = "no longer on the HR roster", ""
        rows.append({"category": "people", "change": "leaver", "system": "HR", "subject": _who(employee, worker),
                     "detail": detail, "prior_reference": _text(worker["reference"]), "current_reference": reference})
    frame = pd.DataFrame(rows, columns=DETAIL_COLUMNS)
    joiners = int((frame["change"] == "joiner").sum())
    return frame, Reconciliation("workers employed (HR)", len(before), joiners, len(frame) - joiners, len(now))


def _who(employee: str, worker: pd.Series) -> str:
    """A worker as the workpaper names them: e-mail (or name) and employee number."""
    name = _text(worker.get("email")) or _text(worker.get("full_name"))
    return f"{name} ({employee})" if name else employee


def held_grants(grants: pd.DataFrame, at: pd.Timestamp) -> pd.DataFrame:
    """The grants a listing shows as held at a moment (its extraction): not removed by then.

    Why: dated listings (e.g. SAP AGR_USERS with its validity end) keep ended assignments; only the
    ones still held are access at the listing's date.
    """
    if "removed_at" not in grants.columns:
        return grants
    removed = pd.to_datetime(grants["removed_at"], utc=True)
    return grants[removed.isna() | (removed > at)]


def grant_keys(grants: pd.DataFrame) -> pd.DataFrame:
    """Held grants keyed on (system, login, entitlement), one row per key, with its reference."""
    frame = grants.copy()
    for column in GRANT_KEY:
        frame[column] = frame[column].map(_text)
    return frame.sort_values([*GRANT_KEY, "reference"], kind="mergesort").drop_duplicates(GRANT_KEY, keep="first")


def grant_changes(prior: pd.DataFrame, current: pd.DataFrame) -> tuple[pd.DataFrame, list[Reconciliation]]:
    """Grants added (held now, not at the prior listing) and removed (held then, not now), keyed on
    system, login and entitlement; with one roll-forward per system (both frames: held grants with a
    ``reference`` column)."""
    before = grant_keys(prior).set_index(GRANT_KEY)
    now = grant_keys(current).set_index(GRANT_KEY)
    rows = []
    for change, keys, side in (("added", now.index.difference(before.index), now),
                               ("removed", before.index.difference(now.index), before)):
        for system, login, entitlement in sorted(keys):
            reference = _text(side.loc[(system, login, entitlement), "reference"])
            rows.append({"category": "grants", "change": change, "system": system, "subject": login,
                         "detail": entitlement, "prior_reference": reference if change == "removed" else "",
                         "current_reference": reference if change == "added" else ""})
    frame = pd.DataFrame(rows, columns=DETAIL_COLUMNS)
    systems = sorted(set(before.index.get_level_values(0)) | set(now.index.get_level_values(0)))
    reconciliations = []
    for system in systems:
        mine = frame[frame["system"] == system]
        reconciliations.append(Reconciliation(
            f"grants held in {system or '(no system)'}",
            int((before.index.get_level_values(0) == system).sum()), int((mine["change"] == "added").sum()),
            int((mine["change"] == "removed").sum()), int((now.index.get_level_values(0) == system).sum())))
    return frame, reconciliations


def population_changes(prior_keys: list[str], current_keys: list[str], noun: str,
                       references: tuple[str, str] = ("prior population.csv", "population.csv"),
                       ) -> tuple[pd.DataFrame, Reconciliation]:
    """Items of the control's tested population added and removed since the prior run (by item key);
    ``references`` name the prior and the current population files."""
    before, now = {_text(k) for k in prior_keys}, {_text(k) for k in current_keys}
    rows = [{"category": "population", "change": change, "system": "", "subject": key, "detail": "",
             "prior_reference": references[0] if change == "removed" else "",
             "current_reference": references[1] if change == "added" else ""}
            for change, keys in (("added", now - before), ("removed", before - now)) for key in sorted(keys)]
    frame = pd.DataFrame(rows, columns=DETAIL_COLUMNS)
    added = int((frame["change"] == "added").sum())
    return frame, Reconciliation(noun, len(before), added, len(frame) - added, len(now))


FINDING_CHANGES = ("resolved", "new", "recurring")


def finding_changes(prior: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Findings resolved (in the prior run's register, not in this one), new (only in this one) and
    recurring (in both), matched on ``finding_key``: the finding's identity without the period
    (:func:`workbench.exceptions.finding_key`), so the same condition matches across periods."""
    before = prior.drop_duplicates("finding_key").set_index("finding_key")
    now = current.drop_duplicates("finding_key").set_index("finding_key")
    rows = []
    for change, keys in (("resolved", before.index.difference(now.index)), ("new", now.index.difference(before.index)),
                         ("recurring", now.index.intersection(before.index))):
        for key in sorted(keys):
            row = now.loc[key] if change != "resolved" else before.loc[key]
            rows.append({"category": "findings", "change": change, "system": _text(row["system"]),
                         "subject": _text(row["subject"]), "detail": _text(row["rule"]),
                         "prior_reference": _text(before.loc[key, "exception_id"]) if key in before.index else "",
                         "current_reference": _text(now.loc[key, "exception_id"]) if key in now.index else ""})
    return pd.DataFrame(rows, columns=DETAIL_COLUMNS)


def findings_by_rule(changes: pd.DataFrame, prior: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Per rule: findings in the prior run, resolved, new, recurring and in this run (a roll-forward
    per rule: prior − resolved + new = this period)."""
    findings = changes[changes["category"] == "findings"]
    before = prior.drop_duplicates("finding_key")["rule"].map(_text)
    now = current.drop_duplicates("finding_key")["rule"].map(_text)
    rows = []
    for rule in sorted(set(before) | set(now)):
        mine = findings[findings["detail"] == rule]
        rows.append({"rule": rule, "prior period": int(before.eq(rule).sum()),
                     **{change: int((mine["change"] == change).sum()) for change in FINDING_CHANGES},
                     "this period": int(now.eq(rule).sum())})
    return pd.DataFrame(rows, columns=["rule", "prior period", *FINDING_CHANGES, "this period"])


def summary_line(details: pd.DataFrame) -> str:
    """One line for the period index: the counts of each change (zero counts kept, so the line
    reads the same way for every control)."""
    def count(category: str, change: str) -> int:
        return int(((details["category"] == category) & (details["change"] == change)).sum())
    return (f"{count('people', 'joiner')} joiner(s), {count('people', 'leaver')} leaver(s); "
            f"grants +{count('grants', 'added')} / −{count('grants', 'removed')}; "
            f"population +{count('population', 'added')} / −{count('population', 'removed')}; "
            f"findings {count('findings', 'resolved')} resolved, {count('findings', 'new')} new, "
            f"{count('findings', 'recurring')} recurring")


def detail_table(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Every change of a control in one table, in a stable order (category as listed, then change,
    system, subject, detail): the content of ``period_changes.csv``."""
    order = {"people": 0, "grants": 1, "population": 2, "findings": 3}
    frames = [p for p in parts if not p.empty]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=DETAIL_COLUMNS)
    frame = frame.assign(_order=frame["category"].map(order))
    return frame.sort_values(["_order", "change", "system", "subject", "detail"], kind="mergesort").drop(
        columns="_order").reset_index(drop=True)[DETAIL_COLUMNS]
