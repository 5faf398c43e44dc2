"""Lineage: frozen inputs, hashes, manifest, and verification that catches any change."""

from __future__ import annotations

import hashlib
import json

import pytest

from workbench import lineage


def test_file_sha256_matches_hashlib_across_chunks(tmp_path):
    path = tmp_path / "big.bin"
    data = bytes(range(256)) * 9000
    path.write_bytes(data)
    assert lineage.file_sha256(path, chunk_size=4096) == hashlib.sha256(data).hexdigest()


def test_freeze_inputs_copies_and_hashes(tmp_path):
    source = tmp_path / "export.csv"
    source.write_text("a,b\n1,2\n")
    run = tmp_path / "run"
    run.mkdir()
    frozen = lineage.freeze_inputs({"hr": source}, run)["hr"]
    assert frozen.frozen_path == "inputs/hr/export.csv"
    assert (run / frozen.frozen_path).read_bytes() == source.read_bytes()
    assert frozen.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    source.write_text("changed after freezing\n")
    assert (run / frozen.frozen_path).read_text() == "a,b\n1,2\n"


def _run_with_manifest(tmp_path):
    run = tmp_path / "run"
    (run / "UAR-01").mkdir(parents=True)
    (run / "UAR-01" / "sample.csv").write_text("x\n1\n")
    (run / "index.html").write_text("<html></html>")
    lineage.write_manifest(run, {"run_id": "r1"})
    return run


def test_verify_passes_on_an_intact_run(tmp_path):
    run = _run_with_manifest(tmp_path)
    assert lineage.verify_hashes(run, lineage.read_manifest(run)) == []


def test_verify_names_changed_missing_and_added_files(tmp_path):
    run = _run_with_manifest(tmp_path)
    manifest = lineage.read_manifest(run)
    sample = run / "UAR-01" / "sample.csv"
    sample.write_bytes(sample.read_bytes().replace(b"1", b"2"))
    (run / "index.html").unlink()
    (run / "extra.txt").write_text("slipped in")
    problems = lineage.verify_hashes(run, manifest)
    assert any(p.startswith("changed: UAR-01/sample.csv") for p in problems), problems
    assert any(p.startswith("missing: index.html") for p in problems), problems
    assert any(p.startswith("added: extra.txt") for p in problems), problems


def test_manifest_is_not_listed_in_itself_and_is_valid_json(tmp_path):
    run = _run_with_manifest(tmp_path)
    manifest = json.loads((run / "manifest.json").read_text())
    assert "manifest.json" not in manifest["files"]
    assert set(manifest["files"]) == {"UAR-01/sample.csv", "index.html"}


def test_altered_manifest_is_reported(tmp_path):
    run = _run_with_manifest(tmp_path)
    (run / "manifest.json").write_text("{broken")
    with pytest.raises(ValueError, match="manifest was altered"):
        lineage.read_manifest(run)


def test_package_versions_include_the_key_dependencies():
    versions = lineage.package_versions()
    assert versions["pandas"] != "not installed" and versions["papermill"] != "not installed"


# --- re-derivation of samples ------------------------------------------------------------------

def _sampled_control(run, control_id="UAR-01", seed=20260930):
    """A control folder as a procedure writes it: population.csv, sample.csv, result.json."""
    import pandas as pd

    from workbench import sampling

    keys = [f"c1|erp|user{i:03d}@example.com|role{i % 7}" for i in range(240)]
    population = pd.DataFrame({"item_key": keys, "scope": ["SOX" if i % 3 else "SOC 2" for i in range(240)]})
    statistical, record = sampling.select_with_record(population, 25, method="stratified", seed=seed,
                                                      key="item_key", strata="scope")
    targeted = sampling.select_targeted(population, [keys[5]], key="item_key", reason="analytics hit")
    sample = pd.concat([statistical, targeted], ignore_index=True)
    folder = run / control_id
    folder.mkdir(parents=True)
    population.sort_values("item_key").to_csv(folder / "population.csv", index=False)
    sample[["selection_order", "selection_basis", "scope", "item_key"]].to_csv(folder / "sample.csv", index=False)
    (folder / "result.json").write_text(json.dumps({"sample": {"seed": seed, "selection_record": record.to_dict()}}))
    return folder


@pytest.fixture
def sampled_run(tmp_path):
    run = tmp_path / "run"
    _sampled_control(run)
    lineage.write_manifest(run, {"run_id": "r1", "controls": [{"control_id": "UAR-01", "status": "completed"}]})
    return run


def test_an_intact_sample_re_derives(sampled_run):
    assert lineage.verify_samples(sampled_run, ["UAR-01"]) == ([], ["UAR-01"])


def _rewrite_with_manifest(run, relative, edit):
    """Change a file and record its new hash in the manifest, as someone covering their tracks would."""
    path = run / relative
    path.write_text(edit(path.read_text()))
    manifest = lineage.read_manifest(run)
    lineage.write_manifest(run, {k: v for k, v in manifest.items() if k != "files"})
    assert lineage.verify_hashes(run, lineage.read_manifest(run)) == []


def test_a_sample_edited_together_with_the_manifest_is_still_caught(sampled_run):
    lines = (sampled_run / "UAR-01" / "sample.csv").read_text().splitlines()
    _rewrite_with_manifest(sampled_run, "UAR-01/sample.csv",
                           lambda text: text.replace(lines[3].split(",")[-1], "c1|erp|someone@example.com|role1"))
    problems, matched = lineage.verify_samples(sampled_run, ["UAR-01"])
    assert matched == [] and len(problems) == 1
    assert problems[0].startswith("sample of control UAR-01 does not re-derive:")
    assert "first difference at item 3" in problems[0] and "someone@example.com" in problems[0]


def test_a_population_edited_together_with_the_manifest_is_caught(sampled_run):
    _rewrite_with_manifest(sampled_run, "UAR-01/population.csv", lambda text: "\n".join(text.splitlines()[:-1]) + "\n")
    problems, _ = lineage.verify_samples(sampled_run, ["UAR-01"])
    assert "population has 239 items but the recorded sample was drawn from 240" in problems[0]


def test_a_changed_seed_in_the_record_is_caught(sampled_run):
    _rewrite_with_manifest(sampled_run, "UAR-01/result.json", lambda text: text.replace("20260930", "1"))
    problems, _ = lineage.verify_samples(sampled_run, ["UAR-01"])
    assert "sample fingerprint mismatch" in problems[0]


def test_a_missing_population_file_is_named(sampled_run):
    (sampled_run / "UAR-01" / "population.csv").unlink()
    problems, _ = lineage.verify_samples(sampled_run, ["UAR-01"])
    assert problems == ["sample of control UAR-01 does not re-derive: population.csv missing: "
                        "the sample cannot be re-derived from its population"]


def test_a_control_without_a_selection_record_has_nothing_to_re_derive(tmp_path):
    folder = tmp_path / "run" / "TERM-01"
    folder.mkdir(parents=True)
    (folder / "result.json").write_text(json.dumps({"sample": {"selection_record": None}}))
    assert lineage.verify_samples(tmp_path / "run", ["TERM-01", "FAILED-01"]) == ([], [])


def test_verify_samples_finds_the_controls_when_not_told(sampled_run):
    _sampled_control(sampled_run, "PRIV-01")
    assert lineage.verify_samples(sampled_run) == ([], ["PRIV-01", "UAR-01"])


# --- sign-off ----------------------------------------------------------------------------------

def test_signoff_is_not_part_of_the_manifest(tmp_path):
    run = _run_with_manifest(tmp_path)
    lineage.write_signoff(run, "Morgan Lee", None, "0.1.0")
    assert lineage.verify_hashes(run, lineage.read_manifest(run)) == []
    assert "signoff.json" not in lineage.hash_outputs(run)


def test_signoff_records_the_manifest_hash_and_catches_a_new_manifest(tmp_path):
    import datetime as dt

    run = _run_with_manifest(tmp_path)
    record = lineage.write_signoff(run, "Morgan Lee", "ok", "0.1.0", dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC))
    assert record["signed_off_at"] == "2026-11-30T09:00:00+00:00"
    assert lineage.read_signoff(run) == record
    assert lineage.verify_signoff(run, record) == []
    lineage.write_manifest(run, {"run_id": "r1", "note": "rewritten"})
    assert lineage.verify_signoff(run, record)[0].startswith("changed after sign-off: manifest.json")


def test_differences_after_signoff_say_so(tmp_path):
    run = _run_with_manifest(tmp_path)
    (run / "index.html").write_text("<html>changed</html>")
    problems = lineage.verify_hashes(run, lineage.read_manifest(run), after_signoff=True)
    assert problems and problems[0].startswith("changed after sign-off: changed: index.html")


def test_an_unreadable_signoff_is_reported(tmp_path):
    run = _run_with_manifest(tmp_path)
    (run / "signoff.json").write_text("{not json")
    assert "not a readable sign-off record" in lineage.verify_signoff(run, lineage.read_signoff(run))[0]


def test_make_read_only_removes_every_write_bit(tmp_path):
    import stat

    run = _run_with_manifest(tmp_path)
    lineage.make_read_only(run)
    for path in [run, *run.rglob("*")]:
        assert not stat.S_IMODE(path.stat().st_mode) & 0o222, path
    assert stat.S_IMODE((run / "index.html").stat().st_mode) & 0o444
