"""Proof of removal: was each revoke decision of an access review executed, and on time?

A revoke decision is proven executed only by evidence from after the decision:

- a listing of the system whose moment (``Source.moment``) is after the decision and that no longer
  shows the access; the removal's time against the SLA comes from the listing's removal date, or
  from the listing's own moment when that is before the SLA deadline;
- or a matching remediation-log or ticket row (same system, person or account, entitlement; a
  removal completed after the decision), unless a later listing still shows the access.

Each decision gets one outcome (:data:`OUTCOMES`) and the proof it rests on (which listing or log
row, ``file:line``). A revoke with no evidence from after the decision is "cannot be proven from the
evidence provided": not executed, and not "not executed" either. A listing after the decision but
before the SLA deadline that still shows the access does not prove non-execution: it shows the
access was not yet removed at its moment, which the SLA still allowed.

The converse: a removal between two listings that no revoke decision, remediation-log or ticket
row, or termination explains is an unexplained removal (:func:`unexplained_removals`).
Pure: frames in, frames out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from workbench.snapshots import Snapshot, by_system, compare, moment_text

EXECUTED_WITHIN_SLA = "executed within SLA"
EXECUTED_LATE = "executed late"
NOT_EXECUTED = "not executed"
CANNOT_BE_PROVEN = "cannot be proven from the evidence provided"
TIME_NOT_PROVEN = "executed; within SLA cannot be proven from the evidence provided"
#: Every outcome, in the order the workpaper counts them.
OUTCOMES: tuple[str, ...] = (EXECUTED_WITHIN_SLA, EXECUTED_LATE, NOT_EXECUTED, TIME_NOT_PROVEN, CANNOT_BE_PROVEN)
#: What attribute A6 (revocation executed within the SLA) reads for each outcome.
A6_VERDICT: Mapping[str, str] = {EXECUTED_WITHIN_SLA: "pass", EXECUTED_LATE: "fail", NOT_EXECUTED: "fail",
                                 TIME_NOT_PROVEN: "not tested", CANNOT_BE_PROVEN: "not tested"}

LATER_LISTING = "later listing"
REMEDIATION_LOG = "remediation log"
NO_PROOF = "none"

PROOF_COLUMNS = ["system", "subject", "entitlement", "decided_at", "sla_deadline", "outcome", "proof_kind",
                 "proof", "removed_at", "finding", "decision_evidence", "proof_reference",
                 "decision_line"]
#: The remediation evidence as this module reads it (from ``remediation_log`` or revoke ``requests``).
LOG_COLUMNS = ["system", "subjects", "entitlement", "action", "completed_at", "ticket", "performed_by", "label", "line"]
#: Log actions that remove access.
REMOVAL_ACTIONS: frozenset[str] = frozenset({"remove", "revoke", "disable", "delete"})


def _fold(value: object) -> str:
    return str(value).strip().casefold() if pd.notna(value) else ""


def business_days(start: pd.Timestamp, end: pd.Timestamp) -> int:
    """Whole business days (Mon–Fri) from ``start``'s UTC date to ``end``'s (same day 0)."""
    return int(np.busday_count(_day(start), _day(end)))


def sla_deadline(decided_at: pd.Timestamp, sla_business_days: int) -> np.datetime64:
    """The last UTC day a removal meets the SLA: ``sla_business_days`` business days after the decision."""
    return np.busday_offset(_day(decided_at), sla_business_days, roll="forward")


def _day(moment: pd.Timestamp) -> np.datetime64:
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp
    return np.datetime64(stamp.normalize().date(), "D")


def _access_index(snapshot: Snapshot) -> dict[tuple[str, str], list[int]]:
    """(subject, entitlement) -> the snapshot's row positions, the subject being the person's HR
    e-mail, the account's e-mail or its login (each casefolded): one pass, then look-ups."""
    frame = snapshot.frame
    entitlement = frame["entitlement"].astype("string").str.strip().str.casefold()
    index: dict[tuple[str, str], list[int]] = {}
    for column in ("person_email", "email", "login"):
        if column not in frame:
            continue
        names = frame[column].astype("string").str.strip().str.casefold()
        for position, (name, ent) in enumerate(zip(names, entitlement)):
            if isinstance(name, str) and isinstance(ent, str):
                rows = index.setdefault((name, ent), [])
                if position not in rows:
                    rows.append(position)
    return index


class _Listing:
    """One snapshot ready for look-ups: its access index, and each row's line and removal time."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.index = _access_index(snapshot)
        frame = snapshot.frame
        self.lines = frame["line"].tolist() if "line" in frame else [pd.NA] * len(frame)
        self.removed = frame["removed_at"].tolist() if "removed_at" in frame else [pd.NaT] * len(frame)

    def state(self, subject: str, entitlement: str, decided: pd.Timestamp) -> tuple:
        """(snapshot, the line showing the access held at the snapshot's moment or None, the earliest
        removal time the listing records after the decision or NaT, that row's line)."""
        positions = sorted(self.index.get((subject, entitlement), []))
        moment = self.snapshot.moment
        held = [p for p in positions if pd.isna(self.removed[p]) or self.removed[p] > moment]
        gone = [p for p in positions if pd.notna(self.removed[p]) and self.removed[p] >= decided]
        first = min(gone, key=lambda p: self.removed[p]) if gone else None
        return (self.snapshot, {"line": self.lines[held[0]]} if held else None,
                self.removed[first] if first is not None else pd.NaT,
                self.lines[first] if first is not None else pd.NA)


def _where(snapshot: Snapshot, line: object) -> str:
    return f"{snapshot.label} line {int(line)}" if pd.notna(line) else snapshot.label


def prove_revocations(revokes: pd.DataFrame, listings: Sequence[Snapshot], log: pd.DataFrame | None,
                      sla_business_days: int, decisions_label: str) -> pd.DataFrame:
    """One row per revoke decision: its outcome (:data:`OUTCOMES`), the kind of proof and the proof.

    ``revokes``: the revoke lines (``system``, ``subject_email``, ``entitlement``, ``decided_at``,
    ``line``); ``listings``: every snapshot of the systems (frames correlated: ``person_email``);
    ``log``: remediation evidence in :data:`LOG_COLUMNS` (None when not given).
    """
    systems = by_system(listings)
    ready = {id(s): _Listing(s) for group in systems.values() for s in group}
    log_index = _log_index(log)
    records = log.to_dict("records") if log is not None else []
    rows = []
    for decision in revokes.itertuples(index=False):
        subject, entitlement = _fold(decision.subject_email), _fold(decision.entitlement)
        decided = decision.decided_at
        base = {"system": decision.system, "subject": decision.subject_email, "entitlement": decision.entitlement,
                "decided_at": decided, "decision_evidence": f"{decisions_label} line {int(decision.line)}",
                "decision_line": int(decision.line)}
        if pd.isna(decided):
            rows.append({**base, "sla_deadline": pd.NaT, "outcome": CANNOT_BE_PROVEN, "proof_kind": NO_PROOF,
                         "proof": "the decision has no date, so no evidence can be placed after it",
                         "removed_at": pd.NaT, "finding": "", "proof_reference": ""})
            continue
        later = [s for s in systems.get(decision.system, []) if s.moment > decided]
        matches = _log_rows(records, log_index, decision.system, subject, entitlement, decided)
        states = [ready[id(s)].state(subject, entitlement, decided) for s in later]
        rows.append({**base, **_outcome(states, matches, decided, sla_business_days)})
    frame = pd.DataFrame(rows, columns=PROOF_COLUMNS)
    return frame.sort_values(["system", "subject", "entitlement"], kind="mergesort").reset_index(drop=True)


def _log_index(log: pd.DataFrame | None) -> dict[tuple[str, str, str], list[int]]:
    """(system, subject, entitlement) -> positions of the log's removal rows, each subject a name the
    row's person or account goes by, the entitlement casefolded: one pass, then look-ups."""
    index: dict[tuple[str, str, str], list[int]] = {}
    if log is None:
        return index
    for position, (system, subjects, ent, action) in enumerate(zip(log["system"], log["subjects"], log["entitlement"],
                                                                   log["action"])):
        if _fold(action) in REMOVAL_ACTIONS and isinstance(system, str):
            for subject in subjects:
                index.setdefault((system, subject, _fold(ent)), []).append(position)
    return index


def _log_rows(records: list[dict], index: dict[tuple[str, str, str], list[int]], system: str, subject: str,
              entitlement: str, decided: pd.Timestamp) -> list[dict]:
    """The remediation rows that record this access removed after the decision, earliest first."""
    mine = [records[p] for p in sorted(index.get((system, subject, entitlement), []))]
    done = [r for r in mine if pd.notna(r["completed_at"]) and r["completed_at"] >= decided]
    return sorted(done, key=lambda r: r["completed_at"])


def _outcome(states: list[tuple], log_rows: list[dict], decided: pd.Timestamp, sla: int) -> dict[str, object]:
    """Outcome, proof kind, proof, removal time and the finding's words for one revoke decision, from
    the state of the access in each later listing (``_Listing.state``) and the matching log rows."""
    deadline = sla_deadline(decided, sla)
    deadline_text = str(deadline)
    held_states = [s for s in states if s[1] is not None]
    absent_states = [s for s in states if s[1] is None]
    last_held = held_states[-1] if held_states else None
    # a log row is contradicted by a listing from after its completion that still shows the access
    standing = [not any(state[0].moment > row["completed_at"] for state in held_states) for row in log_rows]
    overruled = [row for row, keep in zip(log_rows, standing) if not keep]
    log_rows = [row for row, keep in zip(log_rows, standing) if keep]
    overruled_text = "".join(f"; {row['label']} line {int(row['line'])} records it removed "
                             f"{moment_text(row['completed_at'])}, but a listing from after that still shows it"
                             for row in overruled)
    after_deadline_held = [s for s in held_states if business_days(decided, s[0].moment) > sla]
    absent_after_held = [s for s in absent_states if last_held is not None and s[0].moment > last_held[0].moment]

    def result(outcome: str, kind: str, proof: str, removed_at: object = pd.NaT, finding: str = "",
               refs: Sequence[str] = ()) -> dict:
        return {"sla_deadline": deadline_text, "outcome": outcome, "proof_kind": kind, "proof": proof,
                "removed_at": removed_at, "finding": finding, "proof_reference": "; ".join(dict.fromkeys(refs))}

    if last_held is not None and not absent_after_held and after_deadline_held:
        snapshot, row = last_held[0], last_held[1]
        proof = (f"{_where(snapshot, row['line'])}: still held at {moment_text(snapshot.moment)}, after the SLA "
                 f"deadline {deadline_text}{overruled_text}")
        return result(NOT_EXECUTED, LATER_LISTING, proof,
                      finding=f"still held at {moment_text(snapshot.moment)} ({snapshot.label}), after the SLA deadline",
                      refs=[_where(snapshot, row["line"])])
    if after_deadline_held and absent_after_held:
        held_snap, held_row = after_deadline_held[-1][0], after_deadline_held[-1][1]
        gone_snap, removed_at, removed_line = absent_after_held[0][0], absent_after_held[0][2], absent_after_held[0][3]
        proof = (f"{_where(held_snap, held_row['line'])}: still held at {moment_text(held_snap.moment)}, after the "
                 f"deadline {deadline_text}; {_where(gone_snap, removed_line)}: "
                 + (f"removed {moment_text(removed_at)}" if pd.notna(removed_at)
                    else f"no longer held at {moment_text(gone_snap.moment)}"))
        return result(EXECUTED_LATE, LATER_LISTING, proof, removed_at,
                      finding=f"still held at {moment_text(held_snap.moment)} ({held_snap.label}), after the SLA "
                              "deadline, and removed only later",
                      refs=[_where(held_snap, held_row["line"]), _where(gone_snap, removed_line)])
    # no listing after the deadline still shows the access
    candidates = []  # (removal time, kind, proof, reference)
    for snapshot, _, removed_at, removed_line in absent_states:
        if pd.notna(removed_at):
            candidates.append((removed_at, LATER_LISTING, f"{_where(snapshot, removed_line)}: removed "
                                                         f"{moment_text(removed_at)}", _where(snapshot, removed_line)))
    for row in log_rows:
        ticket, by = _fold(row["ticket"]) and row["ticket"], _fold(row["performed_by"]) and row["performed_by"]
        what = f"completed {moment_text(row['completed_at'])}" + (f", ticket {ticket}" if ticket else "") \
            + (f", by {by}" if by else "")
        where = f"{row['label']} line {int(row['line'])}"
        candidates.append((row["completed_at"], REMEDIATION_LOG, f"{where}: {row['action']} {what}",
                           where + (f" ({ticket})" if ticket else "")))
    if candidates:
        # the earliest removal evidenced; at the same time, the log row (it names who and which ticket)
        removed_at, kind, proof, reference = min(candidates, key=lambda c: (c[0], c[1] != REMEDIATION_LOG))
        refs = [reference]
        if absent_states and kind == REMEDIATION_LOG:
            snapshot = absent_states[0][0]
            proof += f"; {snapshot.label}: not held at {moment_text(snapshot.moment)}"
            kind = f"{REMEDIATION_LOG} and {LATER_LISTING}"
            refs.append(snapshot.label)
        lag = business_days(decided, removed_at)
        if lag <= sla:
            return result(EXECUTED_WITHIN_SLA, kind, proof, removed_at, refs=refs)
        return result(EXECUTED_LATE, kind, proof, removed_at,
                      finding=f"removed only on {moment_text(removed_at)} ({lag} business days)", refs=refs)
    if absent_states:
        snapshot = absent_states[0][0]
        if business_days(decided, snapshot.moment) <= sla:
            return result(EXECUTED_WITHIN_SLA, LATER_LISTING,
                          f"{snapshot.label}: not held at {moment_text(snapshot.moment)}, within the SLA deadline "
                          f"{deadline_text}", refs=[snapshot.label])
        since = (f"; {_where(last_held[0], last_held[1]['line'])} still showed it at {moment_text(last_held[0].moment)}"
                 if last_held is not None else "")
        return result(TIME_NOT_PROVEN, LATER_LISTING,
                      f"{snapshot.label}: not held at {moment_text(snapshot.moment)} (after the deadline {deadline_text}; "
                      f"the listing gives no removal date){since}", refs=[snapshot.label])
    if last_held is not None:  # shown only by listings from before the deadline
        snapshot, row = last_held[0], last_held[1]
        return result(CANNOT_BE_PROVEN, NO_PROOF,
                      f"{_where(snapshot, row['line'])} still shows the access at {moment_text(snapshot.moment)}, "
                      f"before the SLA deadline {deadline_text}: it shows the removal was not yet made then, which "
                      "the SLA allowed, not that it was never executed; no listing from after the deadline and no "
                      "remediation-log row", refs=[_where(snapshot, row["line"])])
    return result(CANNOT_BE_PROVEN, NO_PROOF, "no listing of the system extracted after the decision and no "
                                              "remediation-log or ticket row")


def outcome_counts(proofs: pd.DataFrame) -> pd.DataFrame:
    """Revoke decisions per outcome, every outcome listed, and the total: the counts reconcile
    (each decision has exactly one outcome)."""
    counts = proofs["outcome"].value_counts()
    rows = [(outcome, int(counts.get(outcome, 0))) for outcome in OUTCOMES]
    rows.append(("revoke decisions", len(proofs)))
    return pd.DataFrame(rows, columns=["outcome", "decisions"])


def unexplained_removals(listings: Sequence[Snapshot], revokes: pd.DataFrame, log: pd.DataFrame | None,
                         terminations: Mapping[str, object], systems: Sequence[str]) -> pd.DataFrame:
    """Access removed between consecutive listings of a system that nothing explains.

    A removal is explained by a revoke decision for the access (person or account, system,
    entitlement), a remediation-log or ticket row removing it, or the person's termination on or
    before the later listing's moment. ``terminations``: HR e-mail -> termination date.
    Returns the removal rows of :func:`workbench.snapshots.compare` that remain.
    """
    decided = {(d.system, _fold(d.subject_email), _fold(d.entitlement)) for d in revokes.itertuples(index=False)}
    logged = set()
    if log is not None:
        for row in log.itertuples(index=False):
            if _fold(row.action) in REMOVAL_ACTIONS:
                logged |= {(row.system, who, _fold(row.entitlement)) for who in row.subjects}
    parts = []
    for system, group in by_system(listings).items():
        if system not in systems:
            continue
        for before, after in zip(group, group[1:]):
            removed = compare(before, after)
            removed = removed[removed["change"] == "removed"]
            keep = []
            for row in removed.itertuples(index=False):
                names = {_fold(row.person), _fold(row.account)} - {""}
                ent = _fold(row.entitlement)
                explained = any((system, who, ent) in decided or (system, who, ent) in logged for who in names)
                left = terminations.get(_fold(row.person)) if _fold(row.person) else None
                if left is not None and pd.notna(left) and _day(pd.Timestamp(left)) <= _day(after.moment):
                    explained = True
                keep.append(not explained)
            parts.append(removed[np.array(keep, dtype=bool)].assign(before_moment=before.moment, after_moment=after.moment))
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
