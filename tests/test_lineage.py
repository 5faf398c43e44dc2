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
