"""The seal of a run: what the manifest states, the preparer's signature on it, the reviewer's signed
sign-off, and the period's sign-off ledger; and the checks ``workbench verify`` makes of all of them.

Why: hashes alone let anyone who edits a file edit its hash too. The chain is

    inputs -> results -> workpapers   (hashed in manifest.json, which also states the seed, the
                                       parameters, every conclusion, evaluation and exception count)
    manifest.json -> manifest.sig.json (the preparer's Ed25519 signature over the manifest's SHA-256)
    manifest + its signature -> signoff.json (the reviewer's signature over both hashes)
    signoff.json -> ../signoffs.jsonl  (a signed, hash-chained, append-only ledger beside the runs)
    review record -> signoff.json      (the run's sign-off records the SHA-256 of the workpaper
                                       sign-offs and review notes kept beside the run: workbench.review)

so editing anything after the run breaks a signature, and deleting the sign-off leaves its ledger
entry behind. Limits (also in the README): a person holding the preparer's private key can re-sign a
forged run, and someone who deletes both signoff.json and the ledger's last entry removes the trace
of a sign-off; re-performance (``workbench verify --reperform``) is the answer to the first, keeping
a copy of the ledger outside the auditors' reach the answer to the second.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import lineage, signing

MANIFEST_SIGNATURE = lineage.MANIFEST_SIGNATURE
LEDGER = "signoffs.jsonl"
PARAMETERS_COPY = "parameters.yaml"
# What a control's result states that the manifest repeats as the run's statement of results.
RESULT_STATEMENT_KEYS = ("effective", "evaluations")
SAMPLE_STATEMENT_KEYS = ("method", "seed", "n", "population_size", "population_fingerprint", "sample_fingerprint")


# --- what the manifest states ---------------------------------------------------------------------

def csv_rows(path: Path) -> int | None:
    """Data rows of a CSV file (header excluded, quoted line breaks respected), None if it is absent."""
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as handle:
        return max(sum(1 for _ in csv.reader(handle)) - 1, 0)


def result_statement(control_dir: Path) -> dict[str, Any]:
    """What one control's files establish, as the manifest states it: evaluations, effectiveness, the
    sample's method, seed, size and fingerprints, and the exceptions counted in its register.

    Conclusions and the exception count are stated once, in the manifest's ``controls`` list.
    """
    path = control_dir / lineage.RESULT_FILE
    if not path.is_file():
        return {}
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return {"unreadable": True}
    record = ((result.get("sample") or {}).get("selection_record")) or {}
    return {
        **{key: result.get(key) for key in RESULT_STATEMENT_KEYS},
        "sample": {key: record.get(key) for key in SAMPLE_STATEMENT_KEYS} if record else None,
        "register_rows": csv_rows(control_dir / "exceptions.csv"),
    }


def manifest_statements(run_dir: Path, control_ids: list[str]) -> dict[str, Any]:
    """The statements the manifest adds to its hashes: the parameter file's SHA-256, each control's
    result statement, and the number of rows of the period's exception register."""
    return {
        "parameters_sha256": lineage.file_sha256(run_dir / PARAMETERS_COPY),
        "results": {cid: result_statement(run_dir / cid) for cid in control_ids},
        "register_rows": csv_rows(run_dir / "exceptions.csv"),
    }


def _frozen_parameters(run_dir: Path) -> dict[str, Any] | None:
    """The run's frozen parameter file, as the manifest records it (None if unreadable)."""
    from workbench.parameters import ParameterError, load_period

    try:
        return load_period(run_dir / PARAMETERS_COPY).model_dump(mode="json")
    except (ParameterError, OSError, ValueError):
        return None


def statement_problems(run_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """Where the manifest's statements disagree with the run's own files (empty when they agree).

    Each statement is checked against the file it summarises: the seed and parameters against the
    frozen parameter file, each control's conclusions and exception count against its result.json
    and its exception register, the evaluations and sample against result.json.
    """
    problems: list[str] = []
    parameters = _frozen_parameters(run_dir)
    if parameters is None:
        problems.append(f"{PARAMETERS_COPY} cannot be read, so the manifest's parameters cannot be checked")
    else:
        if manifest.get("seed") != parameters.get("seed"):
            problems.append(f"manifest states seed {manifest.get('seed')}, the frozen {PARAMETERS_COPY} says "
                            f"{parameters.get('seed')}")
        if manifest.get("parameters") != parameters:
            problems.append(f"manifest's parameters differ from the frozen {PARAMETERS_COPY}")
    if "parameters_sha256" in manifest and (run_dir / PARAMETERS_COPY).is_file() and \
            manifest["parameters_sha256"] != lineage.file_sha256(run_dir / PARAMETERS_COPY):
        problems.append(f"manifest's parameters_sha256 is not the SHA-256 of {PARAMETERS_COPY}")
    installed = (manifest.get("versions") or {}).get("audit-workbench")
    if installed is not None and manifest.get("workbench_version") != installed:
        problems.append(f"manifest states workbench version {manifest.get('workbench_version')}, its versions list "
                        f"says {installed}")
    for control in manifest.get("controls", []):
        if control.get("status") != "completed":
            continue
        problems += _control_statement_problems(run_dir, control, (manifest.get("results") or {}))
    if "register_rows" in manifest and manifest["register_rows"] != csv_rows(run_dir / "exceptions.csv"):
        problems.append(f"manifest states {manifest['register_rows']} row(s) in exceptions.csv, the file holds "
                        f"{csv_rows(run_dir / 'exceptions.csv')}")
    return problems


def _control_statement_problems(run_dir: Path, control: dict[str, Any], results: dict[str, Any]) -> list[str]:
    """One completed control: the manifest's conclusions, count and result statement against its files."""
    cid = control.get("control_id", "?")
    path = run_dir / cid / lineage.RESULT_FILE
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return [f"control {cid}: {lineage.RESULT_FILE} is missing or unreadable"]
    problems = []
    if control.get("conclusions") != result.get("conclusions"):
        problems.append(f"control {cid}: manifest states conclusions {control.get('conclusions')}, "
                        f"{cid}/{lineage.RESULT_FILE} says {result.get('conclusions')}")
    rows = csv_rows(run_dir / cid / "exceptions.csv")
    for where, count in (("manifest", control.get("exception_count")), (f"{cid}/{lineage.RESULT_FILE}",
                                                                         result.get("exception_count"))):
        if rows is not None and count != rows:
            problems.append(f"control {cid}: {where} states {count} exception(s), {cid}/exceptions.csv holds {rows}")
    if cid in results and results[cid] != result_statement(run_dir / cid):
        actual = result_statement(run_dir / cid)
        fields = sorted(k for k in set(results[cid]) | set(actual) if results[cid].get(k) != actual.get(k))
        problems.append(f"control {cid}: manifest's statement of {', '.join(fields)} differs from its files")
    return problems


# --- the preparer's signature on the manifest ---------------------------------------------------

def preparer_key(preparer: str, key_path: Path | None = None) -> signing.SigningKey:
    """The key the preparer signs the run with, found (or created) before the run starts, so a key
    that cannot be read stops the run before any control is tested."""
    return signing.key_for(preparer, key_path)


def manifest_signature(manifest_bytes: bytes, key: signing.SigningKey) -> dict[str, Any]:
    """The preparer's signature record of a manifest given as its bytes: its SHA-256, run id, period
    and time, signed with the preparer's key (what ``manifest.sig.json`` holds). Bytes, not a folder,
    so a manifest built elsewhere (an audit group's worker) is signed here without its run folder."""
    manifest = json.loads(manifest_bytes)
    return signing.sign_record({
        "document": lineage.MANIFEST,
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "run_id": manifest.get("run_id"),
        "period": manifest.get("period"),
        "role": "preparer",
        "signed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }, key)


def sign_manifest(run_dir: Path, key: signing.SigningKey) -> dict[str, Any]:
    """Sign the run's manifest as its preparer: ``manifest.sig.json`` with the manifest's SHA-256, run
    id, period and time, signed with the preparer's key."""
    lineage.read_manifest(run_dir)  # a missing or unreadable manifest is named as such
    record = manifest_signature((run_dir / lineage.MANIFEST).read_bytes(), key)
    lineage.write_json_atomically(run_dir / MANIFEST_SIGNATURE, record)
    return record


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file; None when absent; ``{"unreadable": True}`` when not a JSON object."""
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {"unreadable": True}
    return document if isinstance(document, dict) else {"unreadable": True}


@dataclass
class SealReport:
    """What the signature checks found: problems (verify fails), signers (who signed what, with which
    key) and notes (worth knowing, not failures)."""

    problems: list[str] = field(default_factory=list)
    signers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _check_signed(record: dict[str, Any], what: str, report: SealReport) -> bool:
    """Check one signed record's signature and its signer's key; False if the signature fails."""
    problem = signing.signature_problem(record)
    if problem:
        report.problems.append(f"{what}: {problem}")
        return False
    trust = signing.trust_of(record)
    line = f"{what} signed by {record['signer']}, key {record['key_fingerprint']}"
    if trust.status == "mismatch":
        report.problems.append(f"{what}: untrusted signer: {trust.message}")
    elif trust.status == "unknown":
        report.signers.append(f"{line} (not a key you know)")
        report.notes.append(f"{what}: {trust.message}")
    else:
        report.signers.append(f"{line} ({trust.message})")
    return True


def check_manifest_signature(run_dir: Path, manifest: dict[str, Any], report: SealReport) -> None:
    """The manifest's signature: present, intact, over this very manifest, by a known key."""
    record = read_json(run_dir / MANIFEST_SIGNATURE)
    if record is None:
        report.problems.append(f"signature missing: the run has no {MANIFEST_SIGNATURE}, so nothing shows who "
                               f"prepared it or that {lineage.MANIFEST} is the manifest they produced")
        return
    if record.get("unreadable"):
        report.problems.append(f"{MANIFEST_SIGNATURE} is not a readable signature record")
        return
    if not _check_signed(record, f"{lineage.MANIFEST} ({record.get('role', 'preparer')})", report):
        return
    digest = lineage.file_sha256(run_dir / lineage.MANIFEST)
    if record.get("manifest_sha256") != digest:
        report.problems.append(f"manifest edited: {lineage.MANIFEST} was changed after {record['signer']} signed it "
                               f"(SHA-256 {digest[:12]}… differs from the signed {str(record.get('manifest_sha256'))[:12]}…)")
    if record.get("run_id") != manifest.get("run_id"):
        report.problems.append(f"{MANIFEST_SIGNATURE} was signed for run {record.get('run_id')}, the manifest is run "
                               f"{manifest.get('run_id')}")


# --- the reviewer's sign-off and the ledger -------------------------------------------------------

def ledger_path(run_dir: Path) -> Path:
    """The period's sign-off ledger: beside the run folders, outside any one run."""
    return Path(run_dir).resolve().parent / LEDGER


def read_ledger(path: Path, what: str = "sign-off ledger") -> tuple[list[dict[str, Any]], list[str]]:
    """The ledger's entries and what is wrong with it: unreadable lines, broken signatures, a broken chain.
    ``what`` names the ledger in messages (the review record beside a run is one too: workbench.review)."""
    if not path.is_file():
        return [], []
    entries, problems, previous = [], [], None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            problems.append(f"{what} {path} line {number} is not readable: the {what} was edited")
            continue
        problem = signing.signature_problem(entry)
        if problem:
            problems.append(f"{what} {path} line {number}: {problem}")
        if entry.get("previous_entry_sha256") != previous:
            problems.append(f"{what} {path} line {number} does not follow the line before it: an entry "
                            "was removed, reordered or edited")
        previous = hashlib.sha256(line.encode("utf-8")).hexdigest()
        entries.append(entry)
    return entries, problems


def append_ledger(path: Path, record: dict[str, Any], key: signing.SigningKey) -> dict[str, Any]:
    """Append a signed entry to the ledger, chained to the last line by its SHA-256."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    previous = hashlib.sha256(lines[-1].encode("utf-8")).hexdigest() if lines else None
    entry = signing.sign_record({**record, "previous_entry_sha256": previous}, key)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n")
    return entry


def write_signoff(run_dir: Path, reviewer: str, note: str | None, version: str, now: dt.datetime | None = None,
                  key_path: Path | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the signed ``signoff.json`` (over the manifest's hash and its signature's hash, and
    ``extra``: what the run's review record was when it was signed off) and its ledger entry beside the run."""
    run_dir = Path(run_dir)
    manifest = lineage.read_manifest(run_dir)
    key = signing.key_for(reviewer, key_path)
    record = signing.sign_record({
        "reviewer": reviewer,
        "role": "reviewer",
        "signed_off_at": (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).isoformat(timespec="seconds"),
        "run_id": manifest.get("run_id"),
        "manifest_sha256": lineage.file_sha256(run_dir / lineage.MANIFEST),
        "manifest_signature_sha256": lineage.file_sha256(run_dir / MANIFEST_SIGNATURE),
        "workbench_version": version,
        "note": note,
        **(extra or {}),
    }, key)
    lineage.write_json_atomically(run_dir / lineage.SIGNOFF, record)
    append_ledger(ledger_path(run_dir), {
        "run": run_dir.resolve().name, "run_id": record["run_id"], "reviewer": reviewer,
        "signed_off_at": record["signed_off_at"], "manifest_sha256": record["manifest_sha256"],
        "signoff_sha256": lineage.file_sha256(run_dir / lineage.SIGNOFF),
    }, key)
    return record


def check_signoff(run_dir: Path, manifest: dict[str, Any], report: SealReport) -> None:
    """The sign-off: its signature, what it approves, and the ledger's record of it (which is how a
    deleted signoff.json is noticed)."""
    path = ledger_path(run_dir)
    entries, ledger_problems = read_ledger(path)
    report.problems += ledger_problems
    mine = [e for e in entries if e.get("run") == Path(run_dir).resolve().name
            and e.get("run_id") == manifest.get("run_id")]
    if len(mine) > 1:
        who = "; ".join(f"{e.get('reviewer')} on {e.get('signed_off_at')}" for e in mine)
        report.problems.append(f"the ledger {path} records {len(mine)} sign-offs of this run ({who}); a run is "
                               "signed off once, so all but the first were added later")
    for entry in mine:
        trust = signing.trust_of(entry)
        if trust.status == "mismatch":
            report.problems.append(f"the ledger {path} entry for this run: untrusted signer: {trust.message}")
    record = read_json(run_dir / lineage.SIGNOFF)
    if record is None:
        for entry in mine:
            report.problems.append(f"sign-off record deleted: the ledger {path} records that {entry.get('reviewer')} "
                                   f"signed this run off on {entry.get('signed_off_at')} (key "
                                   f"{signing.short(str(entry.get('key_fingerprint')))}…), but {lineage.SIGNOFF} is missing")
        return
    if record.get("unreadable"):
        return  # lineage.verify_signoff reports it
    if not _check_signed(record, f"{lineage.SIGNOFF} (reviewer)", report):
        report.problems[-1] = f"sign-off record edited: {report.problems[-1]}"
        return
    signature_file = run_dir / MANIFEST_SIGNATURE
    prepared = read_json(signature_file) or {}
    if prepared.get("key_fingerprint") and prepared.get("key_fingerprint") == record.get("key_fingerprint"):
        report.notes.append(f"the same key ({signing.short(record['key_fingerprint'])}…) signed the manifest as "
                            f"preparer ({prepared.get('signer')}) and the sign-off as reviewer ({record['signer']}): "
                            "the review was not signed by a second person")
    if signature_file.is_file() and record.get("manifest_signature_sha256") != lineage.file_sha256(signature_file):
        report.problems.append(f"changed after sign-off: {MANIFEST_SIGNATURE} is not the manifest signature "
                               f"{record['reviewer']} signed off")
    digest = lineage.file_sha256(run_dir / lineage.SIGNOFF)
    if mine and all(e.get("signoff_sha256") != digest for e in mine):
        report.problems.append(f"sign-off record edited: {lineage.SIGNOFF} is not the record the ledger {path} "
                               f"holds for this run ({mine[-1].get('reviewer')}, {mine[-1].get('signed_off_at')})")
    elif not mine:
        report.notes.append(f"the sign-off has no entry in the ledger {path} (the run was moved or copied, or "
                            "the ledger was removed)")


def check_seal(run_dir: Path, manifest: dict[str, Any]) -> SealReport:
    """Every signature of a run and every statement of its manifest, checked (see the module's docstring)."""
    report = SealReport()
    check_manifest_signature(run_dir, manifest, report)
    report.problems += statement_problems(run_dir, manifest)
    check_signoff(run_dir, manifest, report)
    return report
