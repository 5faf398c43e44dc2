"""Review of a run, workpaper by workpaper: preparer and reviewer sign-offs, review notes raised by
the reviewer and answered and cleared by the preparer, and the page that shows where the review stands.

Where the review lives, and why. A run folder is sealed evidence: its manifest lists the SHA-256 of
every file, the preparer signed that manifest, and nothing written into the folder afterwards can be
told apart from tampering. A review, though, goes on after the run: notes are raised and cleared,
people sign off on different days. So the review is kept BESIDE the run, never inside it::

    outputs/<period>/<run-id>/                  the sealed run (unchanged by anything here)
    outputs/<period>/<run-id>.review/review.jsonl  the review record: append-only, one signed entry a line
    outputs/<period>/<run-id>.review/index.html    the review's current state (generated, not evidence)
    outputs/<period>/<run-id>.review/<CONTROL>.html  one workpaper with its sign-off block and notes

The record is an append-only, hash-chained file of signed entries, exactly like the period's
sign-off ledger (``seal.append_ledger`` / ``seal.read_ledger``, ``signing.sign_record``: one signing
scheme): "workpaper signed off", "review note raised", "review note cleared". Each entry is signed
with the key of the person who acts, so a note cannot be cleared, nor a workpaper signed off, in
someone else's name without their key; nothing is ever rewritten, so the history of every note
(raised, answered, cleared) stays readable, and an edited or removed line breaks the chain. The
current state is computed from the record (``review_state``), never stored, so it cannot disagree
with it.

A workpaper sign-off records the SHA-256 of the workpaper and of every file of the control's folder
as the manifest lists them (result, sample, exceptions, notebook ...). If any of them changes after
the sign-off, the state pages say "changed after sign-off" and ``workbench verify`` fails naming
the workpaper and the sign-off.

The pages: the sealed workpapers and lead sheet cannot show a state that changes, so they say where
it is (the review record beside the run); the review pages are regenerated from the record after
every review command (and by ``workbench review RUN_DIR``) and link into the sealed workpapers. They
are deterministic: the same record gives the same bytes.

The run-level sign-off (``workbench signoff RUN_DIR --reviewer NAME``) needs every completed
workpaper signed off by its preparer and its reviewer, unchanged since, and no open review note;
it records the review record's SHA-256 in the signed ``signoff.json``, so a review record edited or
removed after the run's sign-off fails verify. After the run's sign-off the review is closed.

Limits: two people appending at the very same moment can interleave; the chain then breaks and
verify says so (the review is done by a few people, one command at a time). Deleting the whole
``.review`` folder before the run's sign-off loses the review (but the run cannot then be signed off
without doing the review again).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from workbench import lineage, runfolder, seal, signing

REVIEW_SUFFIX = ".review"
RECORD = "review.jsonl"
VIEW = "index.html"
ROLES = ("preparer", "reviewer")
SIGNED_OFF, NOTE_RAISED, NOTE_CLEARED = "workpaper signed off", "review note raised", "review note cleared"
#: What the run's signoff.json records of the review record (see ``run_signoff_fields``).
SIGNOFF_RECORD_SHA, SIGNOFF_RECORD_LINES = "review_record_sha256", "review_record_entries"


class ReviewRefused(ValueError):
    """A review action that cannot be recorded (a ValueError: the command line reports it, exit 2)."""


# --- where things are ---------------------------------------------------------------------------

def review_dir(run_dir: Path) -> Path:
    """The run's review folder, beside it: ``outputs/<period>/<run-id>.review``."""
    run_dir = Path(run_dir).resolve()
    return run_dir.parent / f"{run_dir.name}{REVIEW_SUFFIX}"


def record_path(run_dir: Path) -> Path:
    """The run's review record (append-only signed JSONL)."""
    return review_dir(run_dir) / RECORD


def _now(now: dt.datetime | None) -> str:
    """A UTC time to the second, as every record of the workbench writes it."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="seconds")


def _same_person(a: str, b: str) -> bool:
    """Whether two names name the same person (as their keys are named: case and punctuation aside)."""
    try:
        return signing.key_slug(a) == signing.key_slug(b)
    except signing.SigningError:
        return a.strip().casefold() == b.strip().casefold()


# --- what a workpaper is made of ------------------------------------------------------------------

def workpaper_files(manifest: dict[str, Any], control_id: str) -> dict[str, str]:
    """The files of a control's folder as the manifest lists them (relative path -> SHA-256)."""
    prefix = f"{control_id}/"
    return {path: digest for path, digest in sorted((manifest.get("files") or {}).items()) if path.startswith(prefix)}


def current_hashes(run_dir: Path, paths: list[str]) -> dict[str, str | None]:
    """The SHA-256 of each file now (None when it is missing)."""
    return {p: lineage.file_sha256(run_dir / p) if (run_dir / p).is_file() else None for p in paths}


def changed_files(run_dir: Path, signed: dict[str, str]) -> list[str]:
    """The files whose SHA-256 differs from the one a sign-off recorded (or that are gone)."""
    now = current_hashes(run_dir, list(signed))
    return [path for path, digest in signed.items() if now[path] != digest]


def changed_since(run_dir: Path, signoff: dict[str, Any]) -> list[str]:
    """What changed since a workpaper sign-off: the workpaper's files, and the manifest that lists them
    (a manifest rewritten to match edited files is a change too)."""
    changed = changed_files(run_dir, signoff.get("files") or {})
    if signoff.get("manifest_sha256") and lineage.file_sha256(run_dir / lineage.MANIFEST) != signoff["manifest_sha256"]:
        changed.append(lineage.MANIFEST)
    return changed


def completed_controls(manifest: dict[str, Any]) -> list[str]:
    """The controls whose workpapers are complete (a failed workpaper is not reviewed: the run is re-run)."""
    return [c["control_id"] for c in manifest.get("controls", []) if c.get("status") == "completed"]


# --- the state, from the record -----------------------------------------------------------------

@dataclass
class Note:
    """A review note: raised by the reviewer on a workpaper, answered and cleared by the preparer."""

    note_id: str
    control_id: str
    reference: str | None
    raised_by: str
    raised_at: str
    text: str
    cleared_by: str | None = None
    cleared_at: str | None = None
    response: str | None = None

    @property
    def status(self) -> str:
        """``open`` until cleared, then ``cleared``."""
        return "cleared" if self.cleared_at else "open"


@dataclass
class WorkpaperState:
    """One workpaper's review: its sign-offs by role, its notes, and files changed after a sign-off."""

    control_id: str
    signoffs: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # role -> files changed after that sign-off

    @property
    def open_notes(self) -> list[Note]:
        """The notes not yet cleared."""
        return [n for n in self.notes if n.status == "open"]


@dataclass
class ReviewState:
    """Where a run's review stands: each workpaper's state, the record's entries and its problems."""

    run_dir: Path
    workpapers: dict[str, WorkpaperState]
    entries: list[dict[str, Any]]
    problems: list[str]
    run_signoff: dict[str, Any] | None

    def notes(self) -> list[Note]:
        """Every note, in the order raised."""
        return sorted((n for w in self.workpapers.values() for n in w.notes), key=lambda n: _note_number(n.note_id))


def _note_number(note_id: str) -> int:
    """RN-7 -> 7 (0 for anything else), for ordering notes."""
    tail = note_id.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def read_record(run_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The review record's entries (only this run's) and what is wrong with the record."""
    path = record_path(run_dir)
    entries, problems = seal.read_ledger(path, what="review record")
    return entries, problems


def review_state(run_dir: Path, manifest: dict[str, Any] | None = None) -> ReviewState:
    """The current state of a run's review, folded from its record, with each sign-off's files re-hashed."""
    run_dir = Path(run_dir)
    manifest = manifest if manifest is not None else lineage.read_manifest(run_dir)
    entries, problems = read_record(run_dir)
    states = {cid: WorkpaperState(cid) for cid in completed_controls(manifest)}
    notes: dict[str, Note] = {}
    for entry in entries:
        if entry.get("run_id") != manifest.get("run_id"):
            problems.append(f"review record {record_path(run_dir)}: an entry belongs to run {entry.get('run_id')}, "
                            f"not to this run {manifest.get('run_id')}")
            continue
        state = states.setdefault(str(entry.get("control_id")), WorkpaperState(str(entry.get("control_id"))))
        event = entry.get("event")
        if event == SIGNED_OFF and entry.get("role") in ROLES:
            state.signoffs.setdefault(entry["role"], entry)
        elif event == NOTE_RAISED:
            note = Note(entry["note_id"], state.control_id, entry.get("reference"), entry["by"], entry["at"],
                        entry.get("text", ""))
            notes[note.note_id] = note
            state.notes.append(note)
        elif event == NOTE_CLEARED and entry.get("note_id") in notes:
            note = notes[entry["note_id"]]
            note.cleared_by, note.cleared_at, note.response = entry["by"], entry["at"], entry.get("response")
    for state in states.values():
        for role, signoff in state.signoffs.items():
            changed = changed_since(run_dir, signoff)
            if changed:
                state.changed[role] = changed
    return ReviewState(run_dir, states, entries, problems, lineage.read_signoff(run_dir))


# --- recording ----------------------------------------------------------------------------------

def _open_for_review(run_dir: Path, control_id: str | None = None) -> dict[str, Any]:
    """The run's manifest, after checking that the run can still be reviewed (and that the control is in it)."""
    runfolder.refuse_incomplete(run_dir, "reviewed")
    manifest = lineage.read_manifest(run_dir)
    signoff = lineage.read_signoff(run_dir)
    if signoff is not None:
        raise ReviewRefused(f"run {run_dir} was signed off by {signoff.get('reviewer')} on "
                            f"{signoff.get('signed_off_at')}: its review is closed")
    if control_id is not None:
        listed = [c.get("control_id") for c in manifest.get("controls", [])]
        if control_id not in listed:
            raise ReviewRefused(f"run {run_dir} has no workpaper {control_id} (it has {', '.join(listed)})")
        if control_id not in completed_controls(manifest):
            raise ReviewRefused(f"workpaper {control_id} failed in this run: it is not reviewed or signed off; "
                                "fix the cause and run the period again")
    return manifest


def _append(run_dir: Path, record: dict[str, Any], key: signing.SigningKey) -> dict[str, Any]:
    """Sign an entry with the acting person's key and append it to the run's review record; refresh the pages."""
    folder = review_dir(run_dir)
    folder.mkdir(exist_ok=True)
    entry = seal.append_ledger(folder / RECORD, {"run": Path(run_dir).resolve().name, **record}, key)
    write_views(run_dir)
    return entry


def _name(name: str | None, option: str) -> str:
    """A person's name, required (refused when blank)."""
    name = (name or "").strip()
    if not name:
        raise ReviewRefused(f"name the person ({option} \"NAME\")")
    return name


def sign_off_workpaper(run_dir: Path, control_id: str, role: str, name: str, key_path: Path | None = None,
                       now: dt.datetime | None = None) -> dict[str, Any]:
    """Record a preparer's or reviewer's sign-off of one workpaper, over the SHA-256 of its files.

    Refused when the workpaper's files differ from the manifest (the run does not verify), when that
    role already signed it off, for the reviewer before the preparer's sign-off or while notes on the
    workpaper are open, and for a reviewer who is the workpaper's preparer.
    """
    run_dir = Path(run_dir)
    name = _name(name, "--name")
    if role not in ROLES:
        raise ReviewRefused(f"sign off as preparer or reviewer, not '{role}'")
    manifest = _open_for_review(run_dir, control_id)
    files = workpaper_files(manifest, control_id)
    changed = changed_files(run_dir, files)
    if changed:
        raise ReviewRefused(f"workpaper {control_id} does not match its manifest ({', '.join(changed)} changed): "
                            "it cannot be signed off; run workbench verify")
    state = review_state(run_dir, manifest).workpapers[control_id]
    key = signing.key_for(name, key_path)
    if role in state.signoffs:
        done = state.signoffs[role]
        raise ReviewRefused(f"workpaper {control_id} is already signed off as {role} by {done['name']} on {done['at']}")
    if role == "reviewer":
        preparer = state.signoffs.get("preparer")
        if preparer is None:
            raise ReviewRefused(f"workpaper {control_id} is not signed off by its preparer yet: the reviewer signs off "
                                "after the preparer")
        if _same_person(preparer["name"], name):
            raise ReviewRefused(f"{name} signed off workpaper {control_id} as its preparer and cannot also review it")
        if preparer.get("key_fingerprint") == key.fingerprint:
            raise ReviewRefused(f"the key {key.path} signed workpaper {control_id} off as its preparer "
                                f"({preparer['name']}): the reviewer signs with a key of their own")
        if state.open_notes:
            raise ReviewRefused(f"workpaper {control_id} has open review note(s) "
                                f"{', '.join(n.note_id for n in state.open_notes)}: they are cleared before the "
                                "reviewer signs off")
    workpaper = f"{control_id}/workpaper.html"
    return _append(run_dir, {
        "event": SIGNED_OFF, "run_id": manifest.get("run_id"), "control_id": control_id, "role": role,
        "name": name, "at": _now(now), "workpaper_sha256": files.get(workpaper), "files": files,
        "manifest_sha256": lineage.file_sha256(run_dir / lineage.MANIFEST),
    }, key)


def raise_note(run_dir: Path, control_id: str, by: str, text: str, reference: str | None = None,
               key_path: Path | None = None, now: dt.datetime | None = None) -> dict[str, Any]:
    """Raise a review note on a workpaper (optionally on a section or item, ``reference``); ids RN-1, RN-2 ..."""
    run_dir = Path(run_dir)
    by = _name(by, "--by")
    text = (text or "").strip()
    if not text:
        raise ReviewRefused("a review note needs its text")
    manifest = _open_for_review(run_dir, control_id)
    state = review_state(run_dir, manifest)
    if "reviewer" in state.workpapers[control_id].signoffs:
        done = state.workpapers[control_id].signoffs["reviewer"]
        raise ReviewRefused(f"workpaper {control_id} was signed off by its reviewer {done['name']} on {done['at']}; "
                            "no note can be raised on it now")
    number = 1 + max((_note_number(n.note_id) for n in state.notes()), default=0)
    return _append(run_dir, {
        "event": NOTE_RAISED, "run_id": manifest.get("run_id"), "control_id": control_id, "note_id": f"RN-{number}",
        "reference": (reference or "").strip() or None, "by": by, "at": _now(now), "text": text,
    }, signing.key_for(by, key_path))


def clear_note(run_dir: Path, note_id: str, by: str, response: str, key_path: Path | None = None,
               now: dt.datetime | None = None) -> dict[str, Any]:
    """Answer and clear an open review note, with the preparer's response."""
    run_dir = Path(run_dir)
    by = _name(by, "--by")
    response = (response or "").strip()
    if not response:
        raise ReviewRefused(f"clearing {note_id} needs the response to the note (--response \"...\")")
    manifest = _open_for_review(run_dir)
    notes = {n.note_id: n for n in review_state(run_dir, manifest).notes()}
    note = notes.get(note_id.strip().upper())
    if note is None:
        raise ReviewRefused(f"run {run_dir} has no review note {note_id}"
                            + (f" (its notes: {', '.join(notes)})" if notes else " (no notes were raised)"))
    if note.status == "cleared":
        raise ReviewRefused(f"review note {note.note_id} was already cleared by {note.cleared_by} on {note.cleared_at}")
    return _append(run_dir, {
        "event": NOTE_CLEARED, "run_id": manifest.get("run_id"), "control_id": note.control_id,
        "note_id": note.note_id, "by": by, "at": _now(now), "response": response,
    }, signing.key_for(by, key_path))


# --- the run's sign-off -----------------------------------------------------------------------------

def signoff_blockers(run_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """What keeps the run from being signed off: workpapers not signed off by their preparer and
    reviewer, workpapers changed after a sign-off, open review notes, a broken review record."""
    state = review_state(run_dir, manifest)
    blockers = list(state.problems)
    for cid, workpaper in state.workpapers.items():
        missing = [role for role in ROLES if role not in workpaper.signoffs]
        if missing:
            blockers.append(f"workpaper {cid} is not signed off by its {' and its '.join(missing)}")
        for role, files in workpaper.changed.items():
            blockers.append(f"workpaper {cid} changed after its {role}'s sign-off ({', '.join(files)})")
    for note in state.notes():
        if note.status == "open":
            blockers.append(f"review note {note.note_id} on {note.control_id} is open (raised by {note.raised_by}): "
                            f"{note.text}")
    return blockers


def run_signoff_fields(run_dir: Path) -> dict[str, Any]:
    """What the run's signed signoff.json records of the review: the record's SHA-256 and entry count,
    so a review record edited or removed after the run's sign-off is caught."""
    path = record_path(run_dir)
    text = path.read_bytes() if path.is_file() else b""
    return {SIGNOFF_RECORD_SHA: hashlib.sha256(text).hexdigest(), SIGNOFF_RECORD_LINES: text.count(b"\n")}


# --- verify ------------------------------------------------------------------------------------

def check_review(run_dir: Path, manifest: dict[str, Any], report: seal.SealReport) -> None:
    """What verify adds for the review: every entry's signature and signer, every workpaper changed
    after a sign-off (named with the sign-off), and the review record the run's sign-off recorded."""
    run_dir = Path(run_dir)
    state = review_state(run_dir, manifest)
    report.problems += state.problems
    signers: dict[str, str] = {}
    for entry in state.entries:
        trust = signing.trust_of(entry)
        if trust.status == "mismatch":
            report.problems.append(f"review record: {entry.get('event')} ({entry.get('control_id')}): untrusted "
                                   f"signer: {trust.message}")
        elif entry.get("signer") and entry["signer"] not in signers:
            signers[entry["signer"]] = f"{entry['key_fingerprint']} ({trust.message})"
    for cid, workpaper in state.workpapers.items():
        for role, files in workpaper.changed.items():
            signoff = workpaper.signoffs[role]
            report.problems.append(f"changed after sign-off: workpaper {cid} ({', '.join(files)}) is not what "
                                   f"{signoff['name']} signed off as {role} on {signoff['at']}")
    report.notes += named_people_notes(state, manifest)
    if signers:
        report.signers += [f"review record {RECORD} (workpaper sign-offs and review notes) by {name}, key {what}"
                           for name, what in signers.items()]
    _check_recorded_review(run_dir, state, report)


def named_people_notes(state: ReviewState, manifest: dict[str, Any]) -> list[str]:
    """Workpaper sign-offs by someone other than the preparer or reviewer the period file names (worth
    knowing, not a failure: a team may share the work)."""
    named = {role: str((manifest.get("parameters") or {}).get(role) or "") for role in ROLES}
    notes = []
    for cid, workpaper in state.workpapers.items():
        for role, signoff in workpaper.signoffs.items():
            if named[role] and not _same_person(named[role], signoff["name"]):
                notes.append(f"workpaper {cid} was signed off as {role} by {signoff['name']}; the period file names "
                             f"{named[role]} as the {role}")
    return notes


def _check_recorded_review(run_dir: Path, state: ReviewState, report: seal.SealReport) -> None:
    """The review record as the run's sign-off recorded it: its first lines must still be those."""
    signoff = state.run_signoff
    if not signoff or SIGNOFF_RECORD_SHA not in signoff:
        return
    path = record_path(run_dir)
    lines = path.read_bytes().splitlines(keepends=True) if path.is_file() else []
    signed = b"".join(lines[: int(signoff.get(SIGNOFF_RECORD_LINES) or 0)])
    if hashlib.sha256(signed).hexdigest() != signoff[SIGNOFF_RECORD_SHA]:
        report.problems.append(f"changed after sign-off: the review record {path} is not the one "
                               f"{signoff.get('reviewer')} signed the run off with (edited or removed)")


# --- the pages ---------------------------------------------------------------------------------

def _signoff_rows(workpaper: WorkpaperState) -> list[dict[str, Any]]:
    """The sign-off block of one workpaper: preparer and reviewer, who, when, or not signed off."""
    rows = []
    for role in ROLES:
        signoff = workpaper.signoffs.get(role)
        changed = workpaper.changed.get(role)
        rows.append({"role": role.capitalize(), "name": signoff["name"] if signoff else None,
                     "at": signoff["at"] if signoff else None,
                     "key": signing.short(str(signoff.get("key_fingerprint"))) if signoff else None,
                     "changed": changed or []})
    return rows


def _page_context(state: ReviewState, manifest: dict[str, Any]) -> dict[str, Any]:
    """What the review pages show, from the state (no clock, no machine: same record, same page)."""
    run = state.run_dir.resolve().name
    workpapers = []
    for cid, workpaper in state.workpapers.items():
        rows = _signoff_rows(workpaper)
        status = ("changed after sign-off" if workpaper.changed else
                  "signed off" if all(r["name"] for r in rows) else
                  "not signed off" if not any(r["name"] for r in rows) else "prepared; review pending")
        workpapers.append({
            "control_id": cid, "rows": rows, "status": status,
            "css": "failed" if workpaper.changed else "completed" if status == "signed off" else "pending",
            "open_notes": len(workpaper.open_notes), "notes": [vars(n) | {"status": n.status} for n in workpaper.notes],
            "workpaper": f"../{run}/{cid}/workpaper.html",
        })
    signoff = state.run_signoff
    return {"run": run, "run_id": manifest.get("run_id"), "period": manifest.get("period"),
            "entity": (manifest.get("parameters") or {}).get("entity", ""),
            "workpapers": workpapers, "problems": state.problems,
            "open_notes": sum(w["open_notes"] for w in workpapers),
            "run_signoff": {"reviewer": signoff.get("reviewer"), "at": signoff.get("signed_off_at")} if signoff else None,
            "lead_sheet": f"../{run}/index.html"}


def render_page(context: dict[str, Any], control: dict[str, Any] | None = None) -> str:
    """The review index (``control`` None) or one workpaper's review page, every value escaped."""
    import jinja2

    from workbench import workpapers

    templates = Path(str(resources.files("workbench") / "templates"))
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    return environment.get_template("review.html.j2").render(css=workpapers.stylesheet(), control=control, **context)


def write_views(run_dir: Path) -> Path:
    """Regenerate the review pages beside the run from its record; the review index's path."""
    run_dir = Path(run_dir)
    manifest = lineage.read_manifest(run_dir)
    state = review_state(run_dir, manifest)
    context = _page_context(state, manifest)
    folder = review_dir(run_dir)
    folder.mkdir(exist_ok=True)
    for control in context["workpapers"]:
        runfolder.write_text(folder / f"{control['control_id']}.html", render_page(context, control))
    return runfolder.write_text(folder / VIEW, render_page(context))


def describe(state: ReviewState) -> list[str]:
    """The review's state in lines for the terminal: per workpaper, sign-offs and open notes."""
    lines = []
    for cid, workpaper in state.workpapers.items():
        parts = []
        for row in _signoff_rows(workpaper):
            who = f"{row['name']} ({row['at']})" if row["name"] else "not signed off"
            parts.append(f"{row['role'].lower()}: {who}" + (" — CHANGED AFTER SIGN-OFF" if row["changed"] else ""))
        parts.append(f"{len(workpaper.open_notes)} open note(s)")
        lines.append(f"  {cid}: " + "; ".join(parts))
    return lines


def describe_notes(notes: list[Note]) -> list[str]:
    """Review notes in lines for the terminal."""
    lines = []
    for note in notes:
        where = f"{note.control_id}" + (f", {note.reference}" if note.reference else "")
        lines.append(f"  {note.note_id} [{note.status}] {where} — raised by {note.raised_by} on {note.raised_at}: "
                     f"{note.text}")
        if note.cleared_at:
            lines.append(f"      cleared by {note.cleared_by} on {note.cleared_at}: {note.response}")
    return lines


def relative_view(run_dir: Path) -> str:
    """The review index's path, relative to the working folder when it is below it."""
    path = review_dir(run_dir) / VIEW
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
