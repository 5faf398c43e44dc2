"""The take-away bundle (``workbench bundle``): one deterministic BagIt zip of a signed-off run that
checks itself; a changed, missing or added file is named, and a bag re-made over an edited file still
fails on the run's own verification.

One control of the demo period (PRIV-01, the quickest) is run and signed off once for the module.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import bagit
import pytest

from conftest import make_demo_project, require_chromium, sign_off_workpapers
from workbench import bundle, cli, runfolder
from workbench.runner import DEMO_PARAMETER_FILE, latest_run

pytestmark = pytest.mark.e2e
CONTROL = "PRIV-01"


@pytest.fixture(scope="module")
def signed_run(tmp_path_factory) -> Path:
    """PRIV-01 of the demo period, run and signed off (so the bundle carries a sign-off and its ledger)."""
    base = make_demo_project(tmp_path_factory.mktemp("bundled"))
    code = cli.main(["run", str(base / "parameters" / DEMO_PARAMETER_FILE), "--out", str(base / "outputs"),
                     "--only", CONTROL])
    run_dir = latest_run(base / "outputs" / "2026-Q3")
    assert code == 0, f"the demo run failed; see {run_dir}/index.html"
    sign_off_workpapers(run_dir)   # the run's sign-off needs each workpaper signed off first
    assert cli.main(["signoff", str(run_dir), "--reviewer", "Morgan Lee, Internal Audit Manager"]) == 0
    return run_dir


@pytest.fixture(scope="module")
def archive(signed_run) -> Path:
    assert cli.main(["bundle", str(signed_run), "--no-pdf"]) == 0
    return bundle.default_bundle_path(signed_run)


def _rewrite(source: Path, target: Path, change) -> Path:
    """A copy of a zip with ``change(name, data)`` applied to every entry (None drops the entry)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info))
            if data is not None:
                new.writestr(info, data)
    return target


def test_the_bundle_holds_the_sealed_run_its_sign_off_and_a_readme(signed_run, archive):
    assert archive == signed_run.with_name(f"{signed_run.name}-bundle.zip")
    top = f"2026-Q3-{signed_run.name}"
    run = f"{top}/data/2026-Q3/{signed_run.name}"
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        infos = zipped.infolist()
        readme = zipped.read(f"{top}/README.txt").decode()
    assert names == sorted(names) and {i.date_time for i in infos} == {bundle.FIXED_TIME}
    for name in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt",
                 "data/2026-Q3/signoffs.jsonl"):
        assert f"{top}/{name}" in names
    for name in ("index.html", f"{CONTROL}/workpaper.html", "exceptions.csv", "exceptions.xlsx", "manifest.json",
                 "manifest.sig.json", "signoff.json", "parameters.yaml"):
        assert f"{run}/{name}" in names, name
    assert any(name.startswith(f"{run}/inputs/") for name in names)
    assert f"workbench verify {top}/data/2026-Q3/{signed_run.name}" in readme
    assert "sha256sum -c manifest-sha256.txt" in readme


def test_a_bundle_validates_as_a_bag_and_its_run_verifies(archive, capsys, tmp_path):
    assert cli.main(["bundle", "--check", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "every file matches the SHA-256 in the bag's manifest" in out
    assert "every input and output matches the SHA-256 recorded in its manifest" in out
    assert "Sign-off: signed off by Morgan Lee, Internal Audit Manager" in out
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(tmp_path)
    bag = bagit.Bag(str(next(tmp_path.iterdir())))
    assert bag.validate() and bag.info["Source-Organization"] == "Harbor Lane Payments, Inc."


def test_the_same_run_gives_the_same_archive(signed_run, archive, tmp_path):
    again = tmp_path / "again.zip"
    assert cli.main(["bundle", str(signed_run), "--no-pdf", "--out", str(again)]) == 0
    assert again.read_bytes() == archive.read_bytes()


@pytest.mark.parametrize("how", ["same size", "longer", "removed"])
def test_a_changed_or_missing_payload_file_is_named(signed_run, archive, tmp_path, capsys, how):
    target = f"data/2026-Q3/{signed_run.name}/{CONTROL}/workpaper.html"

    def tamper(name: str, data: bytes) -> bytes | None:
        if not name.endswith(target):
            return data
        if how == "removed":
            return None
        return data.replace(b"Privileged access", b"Privileged acce5s", 1) if how == "same size" else data + b"<!-- -->"

    tampered = _rewrite(archive, tmp_path / "tampered.zip", tamper)
    assert cli.main(["bundle", "--check", str(tampered)]) == 1
    out = capsys.readouterr().out
    assert "does NOT verify" in out
    assert target in out, out
    assert ("missing" if how == "removed" else "changed since the bundle was made") in out


def test_an_added_file_is_named(signed_run, archive, tmp_path, capsys):
    extra = f"2026-Q3-{signed_run.name}/data/2026-Q3/{signed_run.name}/{CONTROL}/note.txt"
    tampered = _rewrite(archive, tmp_path / "added.zip", lambda name, data: data)
    with zipfile.ZipFile(tampered, "a") as zipped:
        zipped.writestr(extra, "added later")
    assert cli.main(["bundle", "--check", str(tampered)]) == 1
    assert "note.txt: added after the bundle was made" in capsys.readouterr().out


def test_a_bag_remade_over_an_edited_workpaper_still_fails_the_runs_verification(signed_run, archive, tmp_path,
                                                                                   capsys):
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(tmp_path / "x")
    bag_dir = next((tmp_path / "x").iterdir())
    page = bag_dir / "data" / "2026-Q3" / signed_run.name / CONTROL / "workpaper.html"
    page.write_text(page.read_text(encoding="utf-8").replace("Privileged access", "Privileged acce5s", 1),
                    encoding="utf-8")
    bagit.Bag(str(bag_dir)).save(manifests=True)  # the bag itself is consistent again
    remade = bundle.write_zip(bag_dir, tmp_path / "remade.zip")
    assert cli.main(["bundle", "--check", str(remade)]) == 1
    out = capsys.readouterr().out
    assert "every file matches the SHA-256 in the bag's manifest" in out and "does NOT verify" in out
    assert f"{CONTROL}/workpaper.html" in out


def test_an_entry_outside_the_bag_folder_is_refused(tmp_path, capsys):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zipped:
        zipped.writestr("bag/bagit.txt", "BagIt-Version: 0.97\n")
        zipped.writestr("../outside.txt", "x")
    assert cli.main(["bundle", "--check", str(evil)]) == 2
    assert "outside the folder" in capsys.readouterr().err
    assert not (tmp_path.parent / "outside.txt").exists()


def test_an_incomplete_run_or_a_bundle_inside_the_run_is_refused(signed_run, tmp_path, capsys):
    assert cli.main(["bundle", str(signed_run), "--no-pdf", "--out", str(signed_run / "b.zip")]) == 2
    assert "sealed evidence" in capsys.readouterr().err
    staged = tmp_path / "2026-Q3" / f"{signed_run.name}{runfolder.INCOMPLETE_SUFFIX}"
    shutil.copytree(signed_run, staged)
    assert cli.main(["bundle", str(staged), "--no-pdf", "--out", str(tmp_path / "b.zip")]) == 2
    assert "incomplete" in capsys.readouterr().err and not (tmp_path / "b.zip").exists()


def test_the_bundle_carries_the_pdfs(signed_run, tmp_path):
    require_chromium()
    made = bundle.make_bundle(signed_run, tmp_path / "with-pdf.zip")
    with zipfile.ZipFile(made.path) as zipped:
        names = set(zipped.namelist())
    pdf = f"2026-Q3-{signed_run.name}/data/2026-Q3/{signed_run.name}-pdf"
    assert {f"{pdf}/{CONTROL}.pdf", f"{pdf}/index.pdf", f"{pdf}/binder.pdf"} <= names
    assert cli.main(["bundle", "--check", str(made.path)]) == 0
