"""Review of a run workpaper by workpaper (issue 15, item 2): preparer and reviewer sign-offs, review
notes raised, answered and cleared, the review pages beside the run, a change after a workpaper's
sign-off caught by verify, and the run's sign-off refused until the review is done.

One run of a reduced demo period (UAR-01 and TERM-01) is shared by the module; each test reviews a
copy of it in a period folder of its own, so its review record (beside the run) starts empty.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from conftest import make_demo_project, module_key_folder
from workbench import cli, lineage, review, seal, signing
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
def run(tmp_path_factory, key_folder) -> Path:
    """One sealed run of the demo period's UAR-01 and TERM-01."""
    project = make_demo_project(tmp_path_factory.mktemp("review"))
    code = cli.main(["run", str(project / "parameters" / DEMO_PARAMETER_FILE), "--out", str(project / "outputs"),
                     "--jobs", "2", "--only", *CONTROLS])
    assert code == 0
    return latest_run(project / "outputs" / "2026-Q3")


@pytest.fixture
def copy(run, tmp_path) -> Path:
    """A copy of the run in a period folder of its own (no review record yet)."""
    target = tmp_path / "2026-Q3" / run.name
    shutil.copytree(run, target)
    return target


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _sign(capsys, run_dir: Path, control: str, role: str, name: str) -> tuple[int, str, str]:
    return _cli(capsys, "signoff", str(run_dir), "--control", control, "--as", role, "--name", name)


def _open_notes_in_index(run_dir: Path) -> dict[str, int]:
    """Control -> the open notes the review index shows for it."""
    page = (review.review_dir(run_dir) / review.VIEW).read_text()
    rows = re.findall(r'<tr><td class="wp-id">([A-Z0-9-]+)</td>.*?<td class="wp-open-notes">(\d+)</td>', page, re.S)
    return {control: int(count) for control, count in rows}


def test_the_sealed_pages_say_where_the_review_is_recorded(run):
    header = (run / "UAR-01" / "workpaper.html").read_text()
    assert "not signed off when this workpaper was written" not in header
    assert "recorded beside the run folder, in &lt;run-id&gt;.review/ (workbench review shows them)" in header
    assert f'href="../{run.name}.review/index.html"' in (run / "index.html").read_text()


def test_a_note_is_raised_answered_and_cleared(copy, capsys):
    code, out, _ = _cli(capsys, "notes", str(copy), "add", "--control", "UAR-01", "--by", REVIEWER,
                        "--ref", "Sample, item 7", "Tie the population count to the HR report")
    assert code == 0 and "Review note RN-1 raised on UAR-01" in out
    code, out, _ = _cli(capsys, "notes", str(copy), "list", "--open")
    assert code == 0 and "1 review note(s)" in out and "1 open" in out
    assert "RN-1 [open] UAR-01, Sample, item 7 — raised by Morgan Lee" in out
    assert _cli(capsys, "notes", str(copy), "clear", "RN-1", "--by", PREPARER, "--response", "  ")[0] == 2
    code, out, _ = _cli(capsys, "notes", str(copy), "clear", "rn-1", "--by", PREPARER,
                        "--response", "Tied: 312 workers in both")
    assert code == 0 and "Review note RN-1 cleared by Avery Quinn" in out
    code, out, _ = _cli(capsys, "notes", str(copy), "list")
    assert "RN-1 [cleared]" in out and "cleared by Avery Quinn, Senior IT Auditor on" in out and "0 open" in out
    code, _, err = _cli(capsys, "notes", str(copy), "clear", "RN-1", "--by", PREPARER, "--response", "again")
    assert code == 2 and "already cleared by Avery Quinn" in err
    code, _, err = _cli(capsys, "notes", str(copy), "clear", "RN-9", "--by", PREPARER, "--response", "x")
    assert code == 2 and "no review note RN-9 (its notes: RN-1)" in err
    code, _, err = _cli(capsys, "notes", str(copy), "add", "--control", "SOD-01", "--by", REVIEWER, "x")
    assert code == 2 and "no workpaper SOD-01" in err
    entries, problems = seal.read_ledger(review.record_path(copy), what="review record")
    assert problems == [] and [e["event"] for e in entries] == [review.NOTE_RAISED, review.NOTE_CLEARED]
    assert [e["signer"] for e in entries] == [REVIEWER, PREPARER], "each entry is signed by the person who acted"
    assert entries[0]["reference"] == "Sample, item 7" and entries[1]["response"] == "Tied: 312 workers in both"


def test_a_workpaper_is_signed_off_by_its_preparer_then_its_reviewer(copy, capsys):
    code, _, err = _sign(capsys, copy, "UAR-01", "reviewer", REVIEWER)
    assert code == 2 and "not signed off by its preparer yet" in err
    code, out, _ = _sign(capsys, copy, "UAR-01", "preparer", PREPARER)
    assert code == 0 and "Workpaper UAR-01 signed off as preparer by Avery Quinn" in out
    code, _, err = _sign(capsys, copy, "UAR-01", "preparer", "Someone Else")
    assert code == 2 and "already signed off as preparer by Avery Quinn" in err
    code, _, err = _sign(capsys, copy, "UAR-01", "reviewer", "avery quinn, senior IT auditor")
    assert code == 2 and "cannot also review it" in err
    code, _, err = _cli(capsys, "signoff", str(copy), "--control", "UAR-01", "--as", "reviewer", "--name", REVIEWER,
                        "--key", str(signing.private_key_path(PREPARER)))
    assert code == 2 and "the reviewer signs with a key of their own" in err
    _cli(capsys, "notes", str(copy), "add", "--control", "UAR-01", "--by", REVIEWER, "Explain item 3")
    code, _, err = _sign(capsys, copy, "UAR-01", "reviewer", REVIEWER)
    assert code == 2 and "open review note(s) RN-1" in err
    _cli(capsys, "notes", str(copy), "clear", "RN-1", "--by", PREPARER, "--response", "Explained in the sample")
    code, out, _ = _sign(capsys, copy, "UAR-01", "reviewer", REVIEWER)
    assert code == 0 and "signed off as reviewer by Morgan Lee" in out
    code, _, err = _cli(capsys, "notes", str(copy), "add", "--control", "UAR-01", "--by", REVIEWER, "late")
    assert code == 2 and "was signed off by its reviewer" in err

    signoffs = review.review_state(copy).workpapers["UAR-01"].signoffs
    manifest = lineage.read_manifest(copy)
    assert signoffs["preparer"]["files"] == review.workpaper_files(manifest, "UAR-01")
    assert signoffs["reviewer"]["workpaper_sha256"] == manifest["files"]["UAR-01/workpaper.html"]
    assert {"UAR-01/result.json", "UAR-01/sample.csv", "UAR-01/exceptions.csv"} <= set(signoffs["reviewer"]["files"])
    assert (signoffs["preparer"]["signer"], signoffs["reviewer"]["signer"]) == (PREPARER, REVIEWER)
    code, out, _ = _cli(capsys, "verify", str(copy))
    assert code == 0, out
    assert f"review record review.jsonl (workpaper sign-offs and review notes) by {REVIEWER}, key SHA256:" in out
    assert "Note: workpaper" not in out, "signed off by the preparer and reviewer the period file names"
    page = (review.review_dir(copy) / "UAR-01.html").read_text()
    assert "Avery Quinn, Senior IT Auditor" in page and "Morgan Lee, Internal Audit Manager" in page
    assert f'src="../{copy.name}/UAR-01/workpaper.html"' in page
    assert "not signed off" in (review.review_dir(copy) / "TERM-01.html").read_text()


def test_the_review_index_counts_open_notes_per_control(copy, capsys):
    for control, text in (("UAR-01", "one"), ("UAR-01", "two"), ("TERM-01", "<script>alert(1)</script>")):
        assert _cli(capsys, "notes", str(copy), "add", "--control", control, "--by", REVIEWER, text)[0] == 0
    assert _open_notes_in_index(copy) == {"UAR-01": 2, "TERM-01": 1}
    _cli(capsys, "notes", str(copy), "clear", "RN-2", "--by", PREPARER, "--response", "done")
    assert _open_notes_in_index(copy) == {"UAR-01": 1, "TERM-01": 1}
    page = (review.review_dir(copy) / review.VIEW).read_text()
    assert "2 open review note(s) in all" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page, "note text is escaped"
    (review.review_dir(copy) / "UAR-01.html").unlink(missing_ok=True)
    code, out, _ = _cli(capsys, "review", str(copy))
    assert code == 0 and "UAR-01: preparer: not signed off; reviewer: not signed off; 1 open note(s)" in out
    assert (review.review_dir(copy) / "UAR-01.html").is_file(), "workbench review regenerates the pages"
    before = (review.review_dir(copy) / review.VIEW).read_bytes()
    review.write_views(copy)
    assert (review.review_dir(copy) / review.VIEW).read_bytes() == before, "the same record gives the same page"


def test_a_workpaper_changed_after_its_signoff_fails_verify_and_is_shown(copy, capsys):
    assert _sign(capsys, copy, "TERM-01", "preparer", PREPARER)[0] == 0
    result = copy / "TERM-01" / "result.json"
    result.write_text(result.read_text().replace('"effective"', '"effective" ', 1))
    code, out, _ = _cli(capsys, "verify", str(copy))
    assert code == 1
    assert ("changed after sign-off: workpaper TERM-01 (TERM-01/result.json) is not what Avery Quinn, Senior IT "
            "Auditor signed off as preparer on") in out
    code, out, _ = _cli(capsys, "review", str(copy))
    assert "TERM-01: preparer: Avery Quinn, Senior IT Auditor (" in out and "CHANGED AFTER SIGN-OFF" in out
    assert "changed after sign-off" in (review.review_dir(copy) / "TERM-01.html").read_text()
    code, _, err = _sign(capsys, copy, "TERM-01", "reviewer", REVIEWER)
    assert code == 2 and "does not match its manifest (TERM-01/result.json changed)" in err


def test_the_run_signoff_needs_the_review_done_then_records_it(copy, capsys):
    _cli(capsys, "notes", str(copy), "add", "--control", "TERM-01", "--by", REVIEWER, "Leaver list source?")
    _sign(capsys, copy, "UAR-01", "preparer", PREPARER)
    code, _, err = _cli(capsys, "signoff", str(copy), "--reviewer", REVIEWER)
    assert code == 1 and "cannot be signed off until every workpaper is signed off" in err
    assert "workpaper UAR-01 is not signed off by its reviewer" in err
    assert "workpaper TERM-01 is not signed off by its preparer and its reviewer" in err
    assert "review note RN-1 on TERM-01 is open (raised by Morgan Lee, Internal Audit Manager): Leaver list" in err
    assert not (copy / lineage.SIGNOFF).exists()
    _sign(capsys, copy, "UAR-01", "reviewer", REVIEWER)
    _sign(capsys, copy, "TERM-01", "preparer", PREPARER)
    _cli(capsys, "notes", str(copy), "clear", "RN-1", "--by", PREPARER, "--response", "Workday terminations report")
    code, _, err = _cli(capsys, "signoff", str(copy), "--reviewer", REVIEWER)
    assert code == 1 and "workpaper TERM-01 is not signed off by its reviewer" in err and "RN-1" not in err
    _sign(capsys, copy, "TERM-01", "reviewer", REVIEWER)
    code, out, err = _cli(capsys, "signoff", str(copy), "--reviewer", REVIEWER)
    assert code == 0, err
    record = json.loads((copy / lineage.SIGNOFF).read_text())
    assert record[review.SIGNOFF_RECORD_SHA] == lineage.file_sha256(review.record_path(copy))
    assert record[review.SIGNOFF_RECORD_LINES] == 6  # 4 sign-offs, a note raised and cleared
    assert "signed off by Morgan Lee" in (review.review_dir(copy) / review.VIEW).read_text()
    assert _cli(capsys, "verify", str(copy))[0] == 0
    code, _, err = _cli(capsys, "notes", str(copy), "add", "--control", "UAR-01", "--by", REVIEWER, "late")
    assert code == 2 and "its review is closed" in err
    review.record_path(copy).unlink()
    code, out, _ = _cli(capsys, "verify", str(copy))
    assert code == 1 and "changed after sign-off: the review record" in out


def test_a_review_entry_edited_breaks_the_record(copy, capsys):
    _cli(capsys, "notes", str(copy), "add", "--control", "UAR-01", "--by", REVIEWER, "Explain item 3")
    path = review.record_path(copy)
    path.write_text(path.read_text().replace("Explain item 3", "Nothing to see"))
    code, out, _ = _cli(capsys, "verify", str(copy))
    assert code == 1 and "review record" in out and "the signature does not match the signed content" in out


def test_a_manifest_rewritten_after_a_workpaper_signoff_is_a_change_after_signoff(copy, capsys):
    assert _sign(capsys, copy, "UAR-01", "preparer", PREPARER)[0] == 0
    manifest = lineage.read_manifest(copy)
    lineage.write_json_atomically(copy / lineage.MANIFEST, {**manifest, "seed": manifest["seed"] + 1})
    code, out, _ = _cli(capsys, "verify", str(copy))
    assert code == 1 and "changed after sign-off: workpaper UAR-01 (manifest.json) is not what Avery Quinn" in out


def test_a_signoff_by_someone_the_period_file_does_not_name_is_a_note(copy, capsys):
    assert _sign(capsys, copy, "UAR-01", "preparer", "Jordan Temp")[0] == 0
    code, out, _ = _cli(capsys, "verify", str(copy))
    assert code == 0, out
    assert ("Note: workpaper UAR-01 was signed off as preparer by Jordan Temp; the period file names Avery Quinn, "
            "Senior IT Auditor as the preparer.") in out


@pytest.mark.parametrize("args, message", [
    (["--as", "preparer", "--name", "A"], "--as signs off one workpaper: name it with --control"),
    (["--control", "UAR-01", "--name", "A"], "say whether you sign off as preparer or reviewer"),
])
def test_a_workpaper_signoff_needs_its_control_and_role(tmp_path, capsys, args, message):
    code, _, err = _cli(capsys, "signoff", str(tmp_path), *args)
    assert code == 2 and message in err
