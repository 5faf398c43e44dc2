"""Forgeries of a run, each caught by `workbench verify` or `workbench verify --reperform`, with a
message naming what was altered (issue 14).

One run of a reduced demo period (UAR-01 and TERM-01) is shared by the module (pytest-xdist keeps a
file on one worker); each forgery works on a copy of its period folder (the run and the sign-off
ledger beside it). The module has a key folder of its own (the verifier's), holding the preparer's
public key as a colleague's would be; the preparer signs with `--key`; the attacker's key is made in
a folder of its own. Re-performance runs twice:
on the untouched run and on the consistent forgery re-signed with the attacker's key.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from conftest import make_demo_project, module_key_folder, sign_off_workpapers
from workbench import cli, lineage, reperform, review, seal, signing
from workbench.runner import DEMO_PARAMETER_FILE, latest_run

pytestmark = pytest.mark.e2e
CONTROLS = ("UAR-01", "TERM-01")
PREPARER = "Avery Quinn, Senior IT Auditor"
REVIEWER = "Morgan Lee, Internal Audit Manager"


@pytest.fixture(scope="module", autouse=True)
def key_folder(tmp_path_factory):
    """This module's key folder (conftest.module_key_folder)."""
    yield from module_key_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def preparer_key(tmp_path_factory, key_folder) -> signing.SigningKey:
    """The preparer's key, kept outside the key folder; its public key handed to the verifier's folder."""
    key = signing.create_key(PREPARER, path=tmp_path_factory.mktemp("preparer") / "avery.pem")
    shutil.copyfile(key.path.with_name("avery.pub.pem"), signing.public_key_path(PREPARER, key_folder))
    return key


@pytest.fixture(scope="module")
def run(tmp_path_factory, preparer_key) -> Path:
    """One run of the demo period's UAR-01 and TERM-01, signed with the preparer's key (--key)."""
    project = make_demo_project(tmp_path_factory.mktemp("forgery"))
    code = cli.main(["run", str(project / "parameters" / DEMO_PARAMETER_FILE), "--out", str(project / "outputs"),
                     "--jobs", "2", "--only", *CONTROLS, "--key", str(preparer_key.path)])
    assert code == 0
    return latest_run(project / "outputs" / "2026-Q3")


@pytest.fixture(scope="module")
def signed(run, tmp_path_factory, preparer_key) -> Path:
    """A copy of the run, its workpapers signed off by preparer and reviewer, then signed off by the
    reviewer (signoff.json and the period's ledger)."""
    copy = _copy(run, tmp_path_factory.mktemp("signed"))
    sign_off_workpapers(copy, PREPARER, REVIEWER, preparer_key.path)
    assert cli.main(["signoff", str(copy), "--reviewer", REVIEWER]) == 0
    return copy


@pytest.fixture(scope="module")
def attacker(tmp_path_factory) -> signing.SigningKey:
    """A key the verifier has never seen, made in the attacker's own key folder."""
    return signing.create_key(PREPARER, tmp_path_factory.mktemp("attacker-keys"))


def _copy(run: Path, base: Path) -> Path:
    """A writable copy of the run's period folder (the run, its review record and the ledger beside it);
    the copied run."""
    target = base / run.parent.name
    kept = {run.name, f"{run.name}{review.REVIEW_SUFFIX}"}
    shutil.copytree(run.parent, target, ignore=shutil.ignore_patterns(*[p.name for p in run.parent.iterdir()
                                                                         if p.is_dir() and p.name not in kept]))
    for path in [target, *target.rglob("*")]:
        path.chmod(stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)
    return target / run.name


def _verify(run: Path, capsys, *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(["verify", *extra, str(run)])
    return code, capsys.readouterr().out


def _rehash(run: Path, **changes) -> None:
    """Record every file's current hash in the manifest (and ``changes``), as a forger covering tracks."""
    manifest = lineage.read_manifest(run)
    manifest.update(changes)
    lineage.write_manifest(run, {k: v for k, v in manifest.items() if k != "files"})


def _edit_manifest(run: Path, edit) -> None:
    """Edit manifest.json in place (its signature is left as it was)."""
    manifest = lineage.read_manifest(run)
    edit(manifest)
    lineage.write_json_atomically(run / lineage.MANIFEST, manifest)


def _drop_csv_row(path: Path, column: str, value: str) -> None:
    """Remove the row of a CSV file whose ``column`` is ``value``."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
        header = list(rows[0])
    kept = [row for row in rows if row[column] != value]
    assert len(kept) == len(rows) - 1
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
    path.write_text(out.getvalue(), encoding="utf-8")


def _first_exception(run: Path, control_id: str) -> str:
    with open(run / control_id / "exceptions.csv", newline="", encoding="utf-8") as handle:
        return next(csv.DictReader(handle))["exception_id"]


# --- the untouched run ---------------------------------------------------------------------------

def test_an_untouched_run_verifies_and_re_performs(run, capsys, preparer_key, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"   # a temp folder of this test's own: others may re-perform at the same time
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    code, out = _verify(run, capsys, "--reperform")
    assert code == 0, out
    assert f"manifest.json (preparer) signed by {PREPARER}, key {preparer_key.fingerprint} ({PREPARER}'s key in " \
           "your key folder" in out
    assert "Re-performance: every control (UAR-01, TERM-01) re-executed" in out
    assert "; the run itself took" in out and "Not compared (they legitimately differ between runs): run id" in out
    assert not list(scratch.glob("workbench-reperform-*"))


def test_a_signed_off_run_names_both_signers_and_keys(signed, capsys):
    code, out = _verify(signed, capsys)
    assert code == 0, out
    assert f"signoff.json (reviewer) signed by {REVIEWER}, key SHA256:" in out
    record = json.loads((signed / lineage.SIGNOFF).read_text())
    assert record["manifest_sha256"] == lineage.file_sha256(signed / lineage.MANIFEST)
    assert record["manifest_signature_sha256"] == lineage.file_sha256(signed / seal.MANIFEST_SIGNATURE)
    entries, problems = seal.read_ledger(signed.parent / seal.LEDGER)
    assert problems == [] and [e["run"] for e in entries] == [signed.name]


# --- forged files with their hashes updated: the manifest's signature no longer holds -------------

def test_a_removed_exception_row_with_its_hash_updated(run, tmp_path, capsys):
    copy = _copy(run, tmp_path)
    _drop_csv_row(copy / "exceptions.csv", "exception_id", _first_exception(copy, "UAR-01"))
    _rehash(copy)
    code, out = _verify(copy, capsys)
    assert code == 1
    assert "manifest edited: manifest.json was changed after Avery Quinn" in out
    assert "row(s) in exceptions.csv, the file holds" in out


def test_a_changed_workpaper_conclusion_with_its_hash_updated(run, tmp_path, capsys):
    copy = _copy(run, tmp_path)
    page = copy / "UAR-01" / "workpaper.html"
    text = page.read_text()
    assert "Exception noted (3)" in text
    page.write_text(text.replace("Exception noted (3)", "No exceptions noted"))
    _rehash(copy)
    code, out = _verify(copy, capsys)
    assert code == 1 and "manifest edited: manifest.json was changed after" in out
    assert "changed: UAR-01/workpaper.html" not in out, "the hash was updated: only the signature catches it"


def test_an_edited_input_export_with_its_hash_updated(run, tmp_path, capsys):
    copy = _copy(run, tmp_path)
    manifest = lineage.read_manifest(copy)
    entry = manifest["inputs"]["uar_decisions"]
    path = copy / entry["frozen_path"]
    text = path.read_text()
    assert ",REVOKE," in text
    path.write_text(text.replace(",REVOKE,", ",APPROVE,", 1))
    manifest["inputs"]["uar_decisions"] = {**entry, "sha256": lineage.file_sha256(path)}
    _rehash(copy, inputs=manifest["inputs"])
    code, out = _verify(copy, capsys)
    assert code == 1 and "manifest edited" in out


def test_a_sample_attribute_flipped_from_fail_to_pass_with_its_hash_updated(run, tmp_path, capsys):
    copy = _copy(run, tmp_path)
    path = copy / "UAR-01" / "sample.csv"
    lines = path.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if ",fail," in line)
    lines[index] = lines[index].replace(",fail,", ",pass,", 1)
    path.write_text("".join(lines))
    _rehash(copy)
    code, out = _verify(copy, capsys)
    assert code == 1 and "manifest edited" in out


# --- the manifest edited, its signature left alone ----------------------------------------------

def test_the_seed_edited_in_the_manifest(run, tmp_path, capsys):
    copy = _copy(run, tmp_path)
    _edit_manifest(copy, lambda m: m.update(seed=m["seed"] + 1))
    code, out = _verify(copy, capsys)
    assert code == 1 and "manifest edited" in out
    assert "manifest states seed 814594838, the frozen parameters.yaml says 814594837" in out


def test_a_conclusion_edited_in_the_manifest(run, tmp_path, capsys):
    copy = _copy(run, tmp_path)
    _edit_manifest(copy, lambda m: m["controls"][0].update(conclusions=["SOC 2: No exceptions noted",
                                                                        "SOX: Effective"]))
    code, out = _verify(copy, capsys)
    assert code == 1 and "manifest edited" in out
    assert "control UAR-01: manifest states conclusions ['SOC 2: No exceptions noted', 'SOX: Effective']" in out


def test_versions_edited_in_the_manifest(run, tmp_path, capsys):
    copy = _copy(run, tmp_path)
    _edit_manifest(copy, lambda m: m["versions"].update(pandas="2.0.0"))
    code, out = _verify(copy, capsys)
    assert code == 1 and "manifest edited: manifest.json was changed after" in out


def test_the_workbench_version_edited_in_the_manifest_disagrees_with_its_versions(run, tmp_path, capsys):
    copy = _copy(run, tmp_path)
    _edit_manifest(copy, lambda m: m.update(workbench_version="9.9.9"))
    code, out = _verify(copy, capsys)
    assert code == 1 and "manifest states workbench version 9.9.9, its versions list says" in out


def test_a_missing_signature(run, tmp_path, capsys):
    copy = _copy(run, tmp_path)
    (copy / seal.MANIFEST_SIGNATURE).unlink()
    code, out = _verify(copy, capsys)
    assert code == 1 and "signature missing: the run has no manifest.sig.json" in out


def test_a_signature_replaced_by_one_from_another_key(run, tmp_path, capsys, attacker):
    copy = _copy(run, tmp_path)
    record = json.loads((copy / seal.MANIFEST_SIGNATURE).read_text())
    record["signature"] = base64.b64encode(attacker.private.sign(signing.canonical(record))).decode()
    lineage.write_json_atomically(copy / seal.MANIFEST_SIGNATURE, record)
    code, out = _verify(copy, capsys)
    assert code == 1 and "the signature does not match the signed content" in out


def test_a_manifest_re_signed_with_another_key_in_the_preparers_name(run, tmp_path, capsys, attacker):
    copy = _copy(run, tmp_path)
    _edit_manifest(copy, lambda m: m.update(seed=m["seed"] + 1))
    seal.sign_manifest(copy, attacker)
    code, out = _verify(copy, capsys)
    assert code == 1
    assert f"untrusted signer: {PREPARER}'s key in your key folder" in out and "the signature is not" in out


# --- the sign-off edited or deleted ----------------------------------------------------------

@pytest.mark.parametrize("field, value", [("manifest_sha256", "0" * 64), ("reviewer", "Someone Senior"),
                                          ("signed_off_at", "2026-10-01T09:00:00+00:00")])
def test_an_edited_signoff(signed, tmp_path, capsys, field, value):
    copy = _copy(signed, tmp_path)
    record = json.loads((copy / lineage.SIGNOFF).read_text())
    record[field] = value
    lineage.write_json_atomically(copy / lineage.SIGNOFF, record)
    code, out = _verify(copy, capsys)
    assert code == 1
    assert "sign-off record edited: signoff.json (reviewer): the signature does not match" in out


def test_a_deleted_signoff(signed, tmp_path, capsys):
    copy = _copy(signed, tmp_path)
    (copy / lineage.SIGNOFF).unlink()
    code, out = _verify(copy, capsys)
    assert code == 1
    assert f"sign-off record deleted: the ledger {copy.parent.resolve() / seal.LEDGER} records that {REVIEWER} " \
           "signed this run off on" in out


def test_a_signoff_re_signed_by_another_key_disagrees_with_the_ledger(signed, tmp_path, capsys):
    copy = _copy(signed, tmp_path)
    record = json.loads((copy / lineage.SIGNOFF).read_text())
    record["note"] = "added later"
    forger = signing.create_key(REVIEWER, tmp_path / "forger")
    lineage.write_json_atomically(copy / lineage.SIGNOFF, signing.sign_record(
        {k: v for k, v in record.items() if k not in (*signing.SIGNER_FIELDS, signing.SIGNATURE_FIELD)}, forger))
    code, out = _verify(copy, capsys)
    assert code == 1
    assert "untrusted signer" in out and "signoff.json is not the record the ledger" in out


def test_a_forged_signoff_with_a_ledger_entry_of_its_own(signed, tmp_path, capsys):
    copy = _copy(signed, tmp_path)
    record = json.loads((copy / lineage.SIGNOFF).read_text())
    forger = signing.create_key(REVIEWER, tmp_path / "forger")
    record = signing.sign_record({**{k: v for k, v in record.items() if k not in (*signing.SIGNER_FIELDS,
                                                                                  signing.SIGNATURE_FIELD)},
                                  "signed_off_at": "2026-10-01T09:00:00+00:00"}, forger)
    lineage.write_json_atomically(copy / lineage.SIGNOFF, record)
    seal.append_ledger(copy.parent / seal.LEDGER, {
        "run": copy.name, "run_id": record["run_id"], "reviewer": REVIEWER, "signed_off_at": record["signed_off_at"],
        "manifest_sha256": record["manifest_sha256"], "signoff_sha256": lineage.file_sha256(copy / lineage.SIGNOFF)},
        forger)
    code, out = _verify(copy, capsys)
    assert code == 1
    assert "records 2 sign-offs of this run" in out and "entry for this run: untrusted signer" in out


def test_a_ledger_entry_removed_breaks_the_chain(signed, tmp_path, capsys):
    copy = _copy(signed, tmp_path)
    ledger = copy.parent / seal.LEDGER
    first = ledger.read_text()
    (copy / lineage.SIGNOFF).unlink()
    ledger.write_text(first + first)  # a second entry whose chain link is wrong
    code, out = _verify(copy, capsys)
    assert code == 1 and "does not follow the line before it" in out


# --- a consistent forgery re-signed by the forger: re-performance catches it ------------------------

def test_a_consistent_forgery_re_signed_with_the_attackers_key(run, tmp_path, capsys, attacker, monkeypatch):
    copy = _copy(run, tmp_path)
    removed = _first_exception(copy, "UAR-01")
    for path in (copy / "UAR-01" / "exceptions.csv", copy / "exceptions.csv"):
        _drop_csv_row(path, "exception_id", removed)
    result = json.loads((copy / "UAR-01" / "result.json").read_text())
    result["exception_count"] -= 1
    (copy / "UAR-01" / "result.json").write_text(json.dumps(result, indent=2))
    manifest = lineage.read_manifest(copy)
    manifest["controls"][0]["exception_count"] -= 1
    manifest.update(seal.manifest_statements(copy, list(CONTROLS)))
    lineage.write_manifest(copy, {k: v for k, v in manifest.items() if k != "files"})
    seal.sign_manifest(copy, attacker)
    monkeypatch.setenv(signing.KEYS_ENV, str(tmp_path / "a-verifier-who-has-no-keys"))
    code, out = _verify(copy, capsys, "--reperform")
    assert code == 1
    assert "not a key you know" in out and f"confirm the fingerprint {attacker.fingerprint}" in out
    assert "Re-performance found" in out
    assert f"UAR-01: UAR-01/exceptions.csv, row exception_id={removed}: recorded absent — re-performed" in out
    assert f"period: exceptions.csv, row exception_id={removed}" in out
    assert "UAR-01: UAR-01/result.json, exception_count: recorded 12 — re-performed 13" in out
    assert "/workpaper.ipynb" not in out, "the copy ran elsewhere: the notebooks' run folder is not a difference"


# --- the parts on their own ----------------------------------------------------------------------

def test_keys_are_created_on_first_use_with_a_message_and_never_overwritten(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(signing.KEYS_ENV, str(tmp_path))
    key = signing.key_for("Dana Preparer")
    assert key.created and "Created a signing key for Dana Preparer" in capsys.readouterr().err
    assert stat.S_IMODE(key.path.stat().st_mode) == 0o600
    assert signing.key_for("Dana Preparer").fingerprint == key.fingerprint
    assert cli.main(["keys", "create", "Dana Preparer"]) == 2
    assert cli.main(["keys", "list"]) == 0
    assert f"dana-preparer: {key.fingerprint}" in capsys.readouterr().out


def test_signatures_are_deterministic_and_cover_every_field(tmp_path):
    key = signing.create_key("Dana", tmp_path)
    record = signing.sign_record({"a": 1, "b": "x"}, key)
    assert record == signing.sign_record({"b": "x", "a": 1}, key)
    assert signing.signature_problem(record) is None
    assert signing.signature_problem({**record, "a": 2}) is not None
    assert signing.signature_problem({**record, "signer": "Eve"}) is not None


def test_csv_comparison_names_a_removed_row_by_its_key_and_a_changed_field(tmp_path):
    left, right = tmp_path / "a.csv", tmp_path / "b.csv"
    left.write_text("id,deviation\nA,True\nB,False\nC,False\n")
    right.write_text("id,deviation\nA,False\nC,False\n")
    found = reperform.compare_csv(left, right)
    assert ("row id=B", "B, False", "absent") in found
    assert ("row id=A, field 'deviation'", "'True'", "'False'") in found


def test_the_declared_exclusions_are_the_only_ones_applied():
    assert set(reperform.MANIFEST_EXCLUDED) <= {"run_id", "run_metadata", "files", "parameter_file", "notebooks",
                                                "versions"}
    assert all(name in " ".join(reperform.EXCLUDED) for name in reperform.MANIFEST_EXCLUDED if name != "notebooks")


def test_signoff_signs_with_the_key_given_and_a_key_the_verifier_does_not_know_is_a_note(run, tmp_path, capsys,
                                                                                         preparer_key):
    copy = _copy(run, tmp_path)
    key = signing.create_key("Riley Reviewer", path=tmp_path / "riley.pem")
    sign_off_workpapers(copy, PREPARER, REVIEWER, preparer_key.path)
    assert cli.main(["signoff", str(copy), "--reviewer", "Riley Reviewer", "--key", str(key.path)]) == 0
    assert json.loads((copy / lineage.SIGNOFF).read_text())["key_fingerprint"] == key.fingerprint
    code, out = _verify(copy, capsys)
    assert code == 0, out
    assert f"signoff.json (reviewer) signed by Riley Reviewer, key {key.fingerprint} (not a key you know)" in out
    assert "Note: signoff.json (reviewer): no key of Riley Reviewer in your key folder" in out


def test_library_versions_and_notebooks_changed_since_the_run_are_notes_not_differences(tmp_path):
    recorded = {"versions": {"pandas": "3.1.1"}, "notebooks": {"files": {"UAR-01": {"path": "uar.ipynb", "sha256": "a"}}}}
    again = {"versions": {"pandas": "3.2.0"}, "notebooks": {"files": {"UAR-01": {"path": "uar.ipynb", "sha256": "b"}}}}
    assert reperform.environment_notes(recorded, again) == ["pandas 3.1.1 at the run, 3.2.0 now",
                                                            "notebook uar.ipynb of UAR-01 changed since the run"]
    for document, name in ((recorded, "a.json"), (again, "b.json")):
        (tmp_path / name).write_text(json.dumps({**document, "seed": 1, "controls": [], "inputs": {}}))
    assert reperform.compare_json(reperform._manifest_view(tmp_path / "a.json"),
                                  reperform._manifest_view(tmp_path / "b.json")) == []


def test_an_unreadable_key_stops_the_run_before_its_folder_is_created(run, tmp_path, capsys):
    parameter_file = run.parents[2] / "parameters" / DEMO_PARAMETER_FILE
    (tmp_path / "not-a-key.pem").write_text("not a key\n")
    code = cli.main(["run", str(parameter_file), "--out", str(tmp_path / "out"), "--key", str(tmp_path / "not-a-key.pem")])
    assert code == 2
    assert "cannot read the signing key" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_signoff_with_the_preparers_own_key_is_noted(run, tmp_path, capsys, preparer_key):
    copy = _copy(run, tmp_path)
    sign_off_workpapers(copy, PREPARER, REVIEWER, preparer_key.path)
    assert cli.main(["signoff", str(copy), "--reviewer", REVIEWER, "--key", str(preparer_key.path)]) == 0
    code, out = _verify(copy, capsys)
    assert code == 1 and "untrusted signer: the key SHA256:" in out and "belongs to 'avery-quinn" in out
    assert "signed the manifest as preparer (Avery Quinn, Senior IT Auditor) and the sign-off as reviewer" in out
