"""Run folders without a run: atomic writes on a full or read-only disk, the states of a period's
runs (``workbench runs``), refusing incomplete runs, and the pieces of byte-identical output.

The runs themselves (interrupted, killed, out of disk, run twice) are in test_atomic_runs.py.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from workbench import cli, exceptions, reproducible, runfolder


def _partial_then(error: int):
    """A writer that writes half a file into the temporary path, then fails with ``error``."""
    def write(temporary: Path) -> None:
        temporary.write_bytes(b"half a fi")
        raise OSError(error, os.strerror(error))
    return write


@pytest.mark.parametrize("code, words", [(errno.ENOSPC, "is full"), (errno.EROFS, "read-only file system"),
                                         (errno.EACCES, "no permission to write")])
def test_a_failed_write_keeps_the_old_file_leaves_no_temporary_and_names_the_folder(tmp_path, code, words):
    target = tmp_path / "index.html"
    target.write_text("the earlier page")
    with pytest.raises(runfolder.OutputWriteError) as raised:
        runfolder.write_atomically(target, _partial_then(code))
    assert raised.value.errno == code
    assert str(tmp_path) in str(raised.value) and words in str(raised.value)
    assert target.read_text() == "the earlier page", "no truncated file replaces the earlier one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"], "no .tmp file survives"


def test_an_interrupted_write_leaves_no_temporary(tmp_path):
    def interrupted(temporary: Path) -> None:
        temporary.write_bytes(b"half")
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        runfolder.write_atomically(tmp_path / "exceptions.csv", interrupted)
    assert list(tmp_path.iterdir()) == []


def test_a_write_replaces_the_file_whole(tmp_path):
    runfolder.write_text(tmp_path / "a.txt", "one\n")
    runfolder.write_text(tmp_path / "a.txt", "two\n")
    runfolder.copy_file(tmp_path / "a.txt", tmp_path / "b.txt")
    assert (tmp_path / "b.txt").read_text() == "two\n" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


# --- the states of a period's runs ---------------------------------------------------------------

def _complete(period: Path, run_id: str, signed_by: str | None = None) -> Path:
    folder = period / run_id
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    if signed_by:
        (folder / "signoff.json").write_text(json.dumps({"reviewer": signed_by, "signed_off_at": "2026-10-02T09:00:00+00:00"}))
    return folder


def _staged(period: Path, run_id: str, **marker) -> Path:
    folder = period / f"{run_id}.incomplete"
    folder.mkdir(parents=True)
    (folder / "incomplete.json").write_text(json.dumps({"run_id": run_id, **marker}))
    return folder


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def period(tmp_path) -> Path:
    """A period folder with runs in every state (run ids in time order)."""
    period = tmp_path / "outputs" / "2026-Q3"
    _complete(period, "20261001T080000Z", signed_by="Morgan Lee")
    _complete(period, "20261001T090000Z")
    _staged(period, "20261001T100000Z", state="stopped", step="controls", stopped_at="2026-10-01T10:03:00+00:00",
            reason="stopped by SIGTERM")
    _staged(period, "20261001T110000Z", state="running", step="publishing", pid=_dead_pid(), host=None)
    _staged(period, "20261001T120000Z", state="running", step="controls", pid=os.getpid(),
            process_started=runfolder._process_started(os.getpid()), host=None)
    (period / "20261001T070000Z").mkdir()  # a folder from before staging: no manifest
    (period / "latest").write_text("20261001T090000Z\n")
    (period / "notes").mkdir()  # not a run
    return period


def test_runs_are_listed_newest_first_with_their_state(period):
    states = runfolder.list_runs(period)
    assert [(s.path.name, s.state) for s in states] == [
        ("20261001T120000Z.incomplete", "in progress"),
        ("20261001T110000Z.incomplete", "incomplete"),
        ("20261001T100000Z.incomplete", "incomplete"),
        ("20261001T090000Z", "complete"),
        ("20261001T080000Z", "signed off"),
        ("20261001T070000Z", "incomplete"),
    ]
    by_name = {s.path.name: s.detail for s in states}
    assert "stopped while testing the controls" in by_name["20261001T100000Z.incomplete"]
    assert "stopped by SIGTERM" in by_name["20261001T100000Z.incomplete"]
    assert "ended abruptly" in by_name["20261001T110000Z.incomplete"], "a killed run names the step it reached"
    assert "publishing" in by_name["20261001T110000Z.incomplete"]
    assert "Morgan Lee" in by_name["20261001T080000Z"]
    assert "no manifest.json" in by_name["20261001T070000Z"]


def test_the_output_folder_lists_every_period(period):
    other = period.parent / "2026-Q2"
    _complete(other, "20260701T080000Z")
    assert [s.path.parent.name for s in runfolder.list_runs(period.parent)] == ["2026-Q2"] + ["2026-Q3"] * 6


def test_remove_incomplete_deletes_only_incomplete_runs_and_says_which(period, capsys):
    assert cli.main(["runs", str(period), "--remove-incomplete"]) == 0
    out = capsys.readouterr().out
    assert "20261001T100000Z.incomplete  incomplete — stopped while testing the controls" in out
    removed = sorted(line.split()[-1] for line in out.splitlines() if line.startswith("Removed incomplete run"))
    assert removed == [str(period / name) for name in
                       ("20261001T070000Z", "20261001T100000Z.incomplete", "20261001T110000Z.incomplete")]
    assert sorted(p.name for p in period.iterdir()) == ["20261001T080000Z", "20261001T090000Z",
                                                        "20261001T120000Z.incomplete", "latest", "notes"]


def test_runs_takes_a_period_id_under_out(period, capsys):
    assert cli.main(["runs", "2026-Q3", "--out", str(period.parent)]) == 0
    assert "20261001T090000Z" in capsys.readouterr().out
    assert cli.main(["runs", str(period / "nothing-here")]) == 2


def test_verify_and_signoff_refuse_an_incomplete_run(period, capsys):
    incomplete = period / "20261001T100000Z.incomplete"
    (incomplete / "manifest.json").write_text("{}")  # even with a manifest, the name says it never finished
    assert cli.main(["verify", str(incomplete)]) == 2
    err = capsys.readouterr().err
    assert "is incomplete" in err and "stopped by SIGTERM" in err and "cannot be verified" in err
    assert cli.main(["signoff", str(incomplete), "--reviewer", "Morgan Lee"]) == 2
    assert "cannot be signed off" in capsys.readouterr().err
    assert not (incomplete / "signoff.json").exists()


def test_a_renamed_incomplete_run_is_still_refused_by_its_marker(period, capsys):
    renamed = period / "20261001T100000Z.incomplete"
    renamed = renamed.rename(period / "20261001T100001Z")
    assert cli.main(["verify", str(renamed)]) == 2
    assert "is incomplete" in capsys.readouterr().err


# --- byte-identical pieces -------------------------------------------------------------------------

def test_the_excel_register_is_byte_identical_whenever_it_is_written(tmp_path, monkeypatch):
    frame = pd.DataFrame({"exception_id": ["E1"], "description": ["=HYPERLINK(\"x\")"]})
    first = exceptions.write_excel({"Exceptions": frame}, tmp_path / "a.xlsx", as_at=dt.date(2026, 9, 30))
    monkeypatch.setattr("time.time", lambda: 2_000_000_000.0)  # another day, another second
    second = exceptions.write_excel({"Exceptions": frame}, tmp_path / "b.xlsx", as_at=dt.date(2026, 9, 30))
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert {info.date_time for info in archive.infolist()} == {(2026, 9, 30, 0, 0, 0)}
        core = archive.read("docProps/core.xml").decode()
    assert core.count("2026-09-30T00:00:00Z") == 2, "created and modified are the period end"


def test_a_stable_notebook_has_fixed_ids_and_no_times_or_run_paths():
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["papermill"] = {"start_time": "t", "end_time": "t", "duration": 1.0,
                                      "input_path": "/home/x/notebooks/uar.ipynb",
                                      "output_path": "/out/2026-Q3/20261001T100000Z.incomplete/UAR-01/workpaper.ipynb"}
    injected = nbformat.v4.new_code_cell("run_dir = '..'", metadata={"tags": ["injected-parameters"]})
    injected.metadata["papermill"] = {"start_time": "t", "end_time": "t", "duration": 0.1, "status": "completed"}
    injected.metadata["execution"] = {"iopub.status.busy": "t"}
    notebook.cells = [nbformat.v4.new_code_cell("x", id="same"), nbformat.v4.new_code_cell("y", id="same"), injected]
    reproducible.stable_notebook(notebook, "UAR-01/workpaper.ipynb")
    assert notebook.metadata["papermill"] == {"input_path": "uar.ipynb", "output_path": "UAR-01/workpaper.ipynb"}
    assert [c["id"] for c in notebook.cells] == ["same", "cell-1", "injected-parameters"]
    assert injected.metadata["papermill"] == {"status": "completed"} and "execution" not in injected.metadata
    nbformat.validate(notebook)


def test_the_test_pause_hook_does_nothing_without_its_variable(monkeypatch, tmp_path):
    monkeypatch.delenv(runfolder.PAUSE_VARIABLE, raising=False)
    runfolder.checkpoint("publishing")  # returns at once
    gate = tmp_path / "gate"
    gate.touch()
    monkeypatch.setenv(runfolder.PAUSE_VARIABLE, f"publishing:{gate}")
    runfolder.checkpoint("controls")  # another step: nothing written
    assert not Path(f"{gate}.waiting").exists()
    runfolder.checkpoint("publishing")  # the gate is open: says it got here and goes on
    assert Path(f"{gate}.waiting").read_text() == str(os.getpid())


# --- stopping -------------------------------------------------------------------------------------

def test_what_stopped_a_run_and_its_exit_code():
    from workbench import stopping

    assert stopping.what_stopped(KeyboardInterrupt()) == ("interrupted by Ctrl-C (SIGINT)", 130)
    assert stopping.what_stopped(stopping.RunStopped(15)) == ("stopped by SIGTERM", 143)
    full = runfolder.OutputWriteError(Path("/out/2026-Q3/x.incomplete/index.html"), OSError(errno.ENOSPC, "full"))
    assert stopping.what_stopped(full) == ("cannot write the run's files in /out/2026-Q3/x.incomplete: the disk "
                                           "(or the quota) holding it is full", 2)
    assert stopping.what_stopped(RuntimeError("a bug"))[1] is None, "an unexpected error is raised as it is"


def test_a_stopping_run_kills_its_kernels_by_handle_and_starts_no_more():
    from workbench import stopping

    class Manager:
        def __init__(self):
            self.provisioner = type("P", (), {"process": subprocess.Popen([sys.executable, "-c",
                                                                           "import time; time.sleep(60)"])})()
            self.connection_file = ""

    registry = stopping.KernelRegistry()
    manager = Manager()
    registry.add(manager)
    assert registry.stop_all() == [manager.provisioner.process.pid]
    assert manager.provisioner.process.poll() is not None, "the kernel's process is gone"
    with pytest.raises(RuntimeError, match="stopping"):
        registry.add(Manager.__new__(Manager))
    registry.open()
    registry.add(Manager.__new__(Manager))


def test_a_run_whose_process_ended_but_was_not_reaped_is_not_in_progress(tmp_path):
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while runfolder._process_stat(process.pid)[:1] not in (["Z"], []) and time.monotonic() < deadline:
        time.sleep(0.05)  # it has exited; nobody waited for it yet (a zombie)
    try:
        folder = _staged(tmp_path / "2026-Q3", "20261001T100000Z", state="running", step="controls",
                         pid=process.pid, host=None)
        assert runfolder.run_state(folder).state == "incomplete"
    finally:
        process.wait()


def test_an_incomplete_run_that_cannot_be_removed_is_reported(period, capsys, monkeypatch):
    def refuse(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(runfolder.shutil, "rmtree", refuse)
    assert cli.main(["runs", str(period), "--remove-incomplete"]) == 1
    err = capsys.readouterr().err
    assert f"could not remove incomplete run {period / '20261001T100000Z.incomplete'}: Permission denied" in err
    assert (period / "20261001T100000Z.incomplete").is_dir()


def test_replace_once_refuses_a_file_without_the_text_unless_the_replacement_is_already_done(tmp_path):
    """A step run again (a publication Dask re-runs after its worker died) may meet a file it had
    already rewritten: with ``done_already_ok`` it is left as it is; anything else is still refused."""
    page = tmp_path / "workpaper.html"
    page.write_text("<h1>UAR-01</h1><p>Run status: provisional</p>", encoding="utf-8")
    runfolder.replace_once(page, "provisional", "completed", done_already_ok=True)
    assert page.read_text(encoding="utf-8") == "<h1>UAR-01</h1><p>Run status: completed</p>"
    runfolder.replace_once(page, "provisional", "completed", done_already_ok=True)  # again: already done
    assert page.read_text(encoding="utf-8") == "<h1>UAR-01</h1><p>Run status: completed</p>"
    with pytest.raises(RuntimeError, match="found it 0 time"):
        runfolder.replace_once(page, "provisional", "completed")
    with pytest.raises(RuntimeError, match="found it 0 time"):  # neither the old text nor the new one
        runfolder.replace_once(page, "provisional", "failed", done_already_ok=True)


def test_the_manifest_leaves_out_a_killed_controls_duckdb_spill_folder_and_removes_it(tmp_path):
    """A kernel killed while DuckDB spilled leaves ``staged/.spill-…`` behind: scratch, not evidence.
    The manifest is written without it (and verify then finds nothing added)."""
    from workbench import lineage
    from workbench.populations import staged

    run_dir = tmp_path / "20261205T080000Z.incomplete"
    (run_dir / "UAR-01").mkdir(parents=True)
    (run_dir / "UAR-01" / "result.json").write_text("{}\n", encoding="utf-8")
    (run_dir / staged.STAGED_DIR).mkdir()
    (run_dir / staged.STAGED_DIR / "erp_roles.parquet").write_bytes(b"PAR1")
    spill = runfolder.spill_folder(run_dir, "UAR-01", "4242-1")
    assert spill.parent == run_dir / staged.STAGED_DIR
    spill.mkdir()
    (spill / "duckdb_temp_block-0.block").write_bytes(b"\0" * 1024)
    manifest = json.loads(lineage.write_manifest(run_dir, {"run_id": "20261205T080000Z"}).read_text())
    assert sorted(manifest["files"]) == ["UAR-01/result.json", "staged/erp_roles.parquet"]
    assert not spill.exists() and (run_dir / staged.STAGED_DIR / "erp_roles.parquet").exists()
    assert lineage.verify_hashes(run_dir, manifest) == []
