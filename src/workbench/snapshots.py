"""Snapshots of a system compared: what was added, removed or changed between two listings.

A listing (a ``grants`` table) shows a system at one moment (``Source.moment``: its ``as_of``, else
its extraction time). A control may take several listings of one system; this module orders them
by moment, picks the one a claim needs (:func:`choose`) and compares each consecutive pair
(:func:`compare`), naming each change with the lines of both files, so the reviewer can open both
exports at the row. Pure: frames in, frames out; no file is read here.

What is compared is the access *held at each snapshot's moment*: a row whose ``removed_at`` is at
or before the moment (a listing that keeps history, e.g. an ERP's END_DATE) is not held then. One
access is one (account, entitlement) of the system, compared ignoring case; an access listed twice
in one file counts once (its first line is the evidence). So for every system and pair the counts
reconcile by construction: held before − removed + added = held after (:func:`reconcile`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

#: The attributes whose change between two snapshots is reported (when both files give them).
COMPARED_ATTRIBUTES: tuple[str, ...] = ("account_status", "privileged", "entitlement_type", "email", "granted_at")

CHANGE_COLUMNS = ["system", "account", "person", "entitlement", "change", "attribute", "old", "new", "before", "after",
                  "before_line", "after_line", "evidence"]
RECONCILIATION_COLUMNS = ["system", "before", "after", "held before", "removed", "added", "held after",
                          "attributes changed", "result"]


@dataclass(frozen=True)
class Snapshot:
    """One listing's rows of one system, and the moment the listing shows it.

    ``label`` is how evidence names the file (its name); ``source_id`` the period file's id;
    ``frame`` the listing's ``grants`` rows of ``system`` (with ``login``, ``entitlement``,
    ``line`` and, where the export gives them, ``granted_at`` / ``removed_at``).
    """

    source_id: str
    label: str
    kind: str
    system: str
    moment: pd.Timestamp
    frame: pd.DataFrame

    def held(self) -> pd.DataFrame:
        """The access held at the snapshot's moment, one row per (account, entitlement), with its
        comparison key ``access`` (casefolded login and entitlement); first line wins."""
        frame = self.frame
        if "removed_at" in frame:
            removed = frame["removed_at"]
            frame = frame[(removed.isna() | (removed > self.moment)).fillna(True).to_numpy(dtype=bool)]
        key = access_key(frame)
        out = frame.assign(access=key)
        return out[~key.duplicated()].set_index("access", drop=False)


def access_key(frame: pd.DataFrame) -> pd.Series:
    """Login and entitlement, casefolded and trimmed, as one text (joined by U+241F, which no export
    uses): how two listings name the same access."""
    login = frame["login"].astype("string").str.strip().str.casefold()
    entitlement = frame["entitlement"].astype("string").str.strip().str.casefold()
    return (login.fillna("") + "\u241f" + entitlement.fillna("")).astype(object)


def split_by_system(source_id: str, label: str, kind: str, moment: pd.Timestamp,
                    frame: pd.DataFrame) -> list[Snapshot]:
    """One listing as one snapshot per system it lists (rows without a system belong to none)."""
    systems = sorted(set(frame["system"].dropna())) if "system" in frame else []
    return [Snapshot(source_id, label, kind, system, moment, frame[(frame["system"] == system).fillna(False)
                                                                     .to_numpy(dtype=bool)])
            for system in systems]


def by_system(snapshots: Iterable[Snapshot]) -> dict[str, list[Snapshot]]:
    """System -> its snapshots, oldest first (ties: the order given)."""
    grouped: dict[str, list[Snapshot]] = {}
    for snapshot in snapshots:
        grouped.setdefault(snapshot.system, []).append(snapshot)
    return {system: sorted(group, key=lambda s: s.moment) for system, group in sorted(grouped.items())}


def choose(snapshots: Sequence[Snapshot], at: pd.Timestamp | None) -> Snapshot:
    """The snapshot a claim about the system at ``at`` rests on: the latest at or before ``at``;
    with none that early, the earliest after it (nearest); with ``at`` None, the newest."""
    ordered = sorted(snapshots, key=lambda s: s.moment)
    if at is None:
        return ordered[-1]
    before = [s for s in ordered if s.moment <= at]
    return before[-1] if before else ordered[0]


def _same(old: object, new: object) -> bool:
    """Whether two attribute values are the same (two missing values are)."""
    old_missing, new_missing = pd.isna(old), pd.isna(new)
    if old_missing or new_missing:
        return bool(old_missing and new_missing)
    if isinstance(old, str) and isinstance(new, str):
        return old.strip().casefold() == new.strip().casefold()
    return bool(old == new)


def _text(value: object) -> str:
    """An attribute value as the change table shows it."""
    if pd.isna(value):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M UTC") if value.tzinfo else value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _line(label: str, line: object) -> str:
    return f"{label} line {int(line)}" if pd.notna(line) else label


def _account(row: pd.Series) -> str:
    original = row.get("login_original")
    return str(original) if isinstance(original, str) and original else str(row["login"])


def compare(before: Snapshot, after: Snapshot) -> pd.DataFrame:
    """The changes from one snapshot of a system to the next: access added, removed, and each
    compared attribute that changed (old → new), each row with both files' lines as evidence."""
    old, new = before.held(), after.held()
    rows: list[dict[str, object]] = []

    def row(change: str, record: pd.Series, attribute: str = "", old_value: str = "", new_value: str = "",
            before_line: object = pd.NA, after_line: object = pd.NA) -> dict[str, object]:
        evidence = "; ".join([
            _line(before.label, before_line) if pd.notna(before_line) else f"{before.label}: not listed",
            _line(after.label, after_line) if pd.notna(after_line) else f"{after.label}: not listed"])
        person = record.get("person_email", pd.NA)
        return {"system": before.system, "account": _account(record), "person": person if pd.notna(person) else "",
                "entitlement": record["entitlement"],
                "change": change, "attribute": attribute, "old": old_value, "new": new_value,
                "before": before.label, "after": after.label,
                "before_line": before_line, "after_line": after_line, "evidence": evidence}

    for key in sorted(set(old.index) - set(new.index)):
        record = old.loc[key]
        rows.append(row("removed", record, before_line=record.get("line", pd.NA)))
    for key in sorted(set(new.index) - set(old.index)):
        record = new.loc[key]
        rows.append(row("added", record, after_line=record.get("line", pd.NA)))
    shared = old.index.intersection(new.index).sort_values()
    attributes = [a for a in COMPARED_ATTRIBUTES if a in old.columns and a in new.columns]
    if len(shared) and attributes:
        was, now = old.loc[shared], new.loc[shared]
        differs = pd.DataFrame({a: [not _same(x, y) for x, y in zip(was[a], now[a])] for a in attributes},
                               index=shared)
        for key in differs.index[differs.any(axis=1)]:
            for attribute in attributes:
                if differs.at[key, attribute]:
                    rows.append(row("changed", now.loc[key], attribute, _text(was.at[key, attribute]),
                                    _text(now.at[key, attribute]), was.at[key, "line"] if "line" in was else pd.NA,
                                    now.at[key, "line"] if "line" in now else pd.NA))
    frame = pd.DataFrame(rows, columns=CHANGE_COLUMNS)
    return frame.astype({"before_line": "Int64", "after_line": "Int64"})


def consecutive_changes(snapshots: Iterable[Snapshot]) -> pd.DataFrame:
    """Every change between consecutive snapshots of each system (oldest pair first)."""
    parts = [compare(a, b) for group in by_system(snapshots).values() for a, b in zip(group, group[1:])]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=CHANGE_COLUMNS).astype({"before_line": "Int64", "after_line": "Int64"})
    return pd.concat(parts, ignore_index=True)


def reconcile(snapshots: Iterable[Snapshot]) -> pd.DataFrame:
    """Per system and consecutive pair: access held before − removed + added = held after."""
    rows = []
    for system, group in by_system(snapshots).items():
        for a, b in zip(group, group[1:]):
            changes = compare(a, b)
            held_before, held_after = len(a.held()), len(b.held())
            removed = int((changes["change"] == "removed").sum())
            added = int((changes["change"] == "added").sum())
            changed = int(changes.loc[changes["change"] == "changed", ["account", "entitlement"]]
                          .drop_duplicates().shape[0])
            agrees = held_before - removed + added == held_after
            rows.append({"system": system, "before": f"{a.label} ({moment_text(a.moment)})",
                         "after": f"{b.label} ({moment_text(b.moment)})", "held before": held_before,
                         "removed": removed, "added": added, "held after": held_after,
                         "attributes changed": changed,
                         "result": f"agrees: {held_before} − {removed} + {added} = {held_after}" if agrees
                                   else f"DIFFERS: {held_before} − {removed} + {added} ≠ {held_after}"})
    return pd.DataFrame(rows, columns=RECONCILIATION_COLUMNS)


def moment_text(moment: pd.Timestamp) -> str:
    """A snapshot's moment as the workpaper writes it (UTC, to the minute)."""
    return pd.Timestamp(moment).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")
