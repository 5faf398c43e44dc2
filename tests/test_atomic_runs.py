"""Atomic runs of the demo company: interrupted (SIGTERM), killed (SIGKILL), out of disk, and run
twice with nothing changed.

A run is paused deterministically at a step with the test-only hook ``WORKBENCH_TEST_PAUSE_AT``
(``runfolder.checkpoint``), then signalled. After each stop: no folder looks complete, ``workbench
runs`` lists the run as incomplete, ``workbench verify`` refuses it, roll-forward ignores it, and
after SIGTERM no kernel of the run is left. One control (UAR-01) keeps the runs short.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import make_demo_project
from workbench import cli, reproducible, rollforward, runfolder
from workbench.runner import DEMO_PARAMETER_FILE, latest_run

pytestmark = pytest.mark.e2e
WORKBENCH = Path(sys.executable).with_name("workbench")
ONLY = ("--only", "UAR-01", "--jobs", "1")
# Stopped in the controls step, a run has a second control: its notebook runs while the first one's
# workpaper is written (one job: its kernel was started ahead), so the stop catches a notebook mid-way.
ONLY_TWO = ("--only", "UAR-01", "PROV-01", "--jobs", "1")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_demo_project(tmp_path_factory.mktemp("atomic"))


@pytest.fixture(scope="module")
def complete_run(project) -> Path:
    """One complete run of UAR-01, in this process."""
    code = cli.main(["run", str(project / "parameters" / DEMO_PARAMETER_FILE), "--out", str(project / "outputs"),
                     "--only", "UAR-01", "--jobs", "1"])
    assert code == 0
    return latest_run(project / "outputs" / "2026-Q3")


def _outputs_with(complete_run: Path, base: Path) -> Path:
    """An output folder holding a copy of the complete run (and its ``latest`` file)."""
    period = base / "outputs" / "2026-Q3"
    shutil.copytree(complete_run, period / complete_run.name)
    (period / "latest").write_text(complete_run.name + "\n")
    return base / "outputs"


def _kernels_of(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]
    except psutil.Error:
        return []


def _alive(pids: list[int]) -> list[int]:
    import psutil

    return [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


@dataclass
class PausedRun:
    """A ``workbench run`` started to be stopped at ``step``, into its own output folder."""

    process: subprocess.Popen
    outputs: Path
    gate: Path
    step: str

    def wait(self) -> subprocess.Popen:
        """Return the process once it waits at its step."""
        deadline = time.monotonic() + 240
        while not Path(f"{self.gate}.waiting").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                out, err = self.process.communicate()
                pytest.fail(f"the run never reached {self.step}: exit {self.process.returncode}\n{out}\n{err}")
            time.sleep(0.05)
        return self.process


# The runs the kill tests stop: which signal, at which step (the step its marker must name). The
# steps: while its inputs are frozen (the first kernel is booting), after its control's workpaper is
# written, after its lead sheet is written.
KILLS = [("SIGTERM", "freezing"), ("SIGTERM", "controls"), ("SIGTERM", "publishing"),
         ("SIGKILL", "controls"), ("SIGKILL", "publishing"), ("SIGINT", "freezing")]


@pytest.fixture(scope="module")
def paused_runs(project, complete_run, tmp_path_factory) -> dict[tuple[str, str], PausedRun]:
    """Every run the kill tests stop, started at once: they share the cores while they start, then
    each waits at its step (``WORKBENCH_TEST_PAUSE_AT``) until its test signals it."""
    runs = {}
    for signal_name, step in KILLS:
        base = tmp_path_factory.mktemp(f"{signal_name}-{step}")
        outputs = _outputs_with(complete_run, base)
        env = dict(os.environ, **{runfolder.PAUSE_VARIABLE: f"{step}:{base / 'gate'}"})
        process = subprocess.Popen([str(WORKBENCH), "run", str(project / "parameters" / DEMO_PARAMETER_FILE),
                                    "--out", str(outputs), *(ONLY_TWO if step == "controls" else ONLY)],
                                   env=env, cwd=project,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        runs[(signal_name, step)] = PausedRun(process, outputs, base / "gate", step)
    yield runs
    for run in runs.values():  # a failed test's run: stop it and its kernels, by their process ids
        if run.process.poll() is None:
            kernels = _kernels_of(run.process.pid)
            run.process.kill()
            run.process.communicate()
            for pid in _alive(kernels):
                os.kill(pid, signal.SIGKILL)


def _assert_nothing_looks_complete(outputs: Path, complete_run: Path) -> Path:
    """Only the earlier complete run looks complete; return the incomplete folder."""
    period = outputs / "2026-Q3"
    others = [p for p in period.iterdir() if p.is_dir() and p.name != complete_run.name]
    assert [p.name for p in others] == [f"{others[0].name.removesuffix('.incomplete')}.incomplete"]
    incomplete = others[0]
    assert not (incomplete / "manifest.json").exists()
    for page in [*incomplete.glob("*/workpaper.html"), *incomplete.glob("index.html")]:
        text = page.read_text(encoding="utf-8")
        assert "wp-status wp-status-completed" not in text and "wp-row-completed" not in text, f"{page} says completed"
    for notebook in incomplete.glob("*/workpaper.ipynb"):
        assert json.loads(notebook.read_text())["metadata"]["workbench"]["status"] != "completed"
    assert (period / "latest").read_text().strip() == complete_run.name
    return incomplete


def _assert_refused_everywhere(project: Path, outputs: Path, incomplete: Path, complete_run: Path, capsys,
                               reason: str) -> None:
    """``workbench runs`` says incomplete (and why), verify refuses it, roll-forward ignores it."""
    capsys.readouterr()
    assert cli.main(["runs", str(outputs / "2026-Q3")]) == 0
    listing = capsys.readouterr().out
    line = next(line for line in listing.splitlines() if incomplete.name in line)
    assert " incomplete — " in line and reason in line, listing
    assert re.search(rf"^  {complete_run.name} +complete$", listing, re.MULTILINE), listing
    assert cli.main(["verify", str(incomplete)]) == 2
    assert "is incomplete" in capsys.readouterr().err
    parameters = outputs.parent / "parameters"
    parameters.mkdir(exist_ok=True)
    shutil.copyfile(project / "parameters" / DEMO_PARAMETER_FILE, parameters / DEMO_PARAMETER_FILE)
    rolled = rollforward.rollforward(parameters / DEMO_PARAMETER_FILE, "2026-Q4", outputs=outputs)
    assert rolled.source_run is not None and rolled.source_run.name == complete_run.name


@pytest.mark.parametrize("step", ["freezing", "controls", "publishing"])
def test_sigterm_leaves_an_incomplete_run_that_says_why_and_no_kernel(project, complete_run, paused_runs, capsys,
                                                                      step):
    run = paused_runs[("SIGTERM", step)]
    process, outputs = run.wait(), run.outputs
    kernels = _kernels_of(process.pid)
    assert kernels or step == "publishing", "a kernel boots while inputs are frozen, and runs during controls"
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    incomplete = _assert_nothing_looks_complete(outputs, complete_run)
    assert "stopped by SIGTERM" in err and str(incomplete) in err, err
    marker = json.loads((incomplete / "incomplete.json").read_text())
    assert (marker["state"], marker["step"], marker["reason"]) == ("stopped", step, "stopped by SIGTERM")
    if step != "freezing":  # what a reader of the half-run folder sees instead of "completed"
        assert "tested; run not finished" in (incomplete / "UAR-01" / "workpaper.html").read_text()
    if step == "publishing":
        assert "Provisional: this lead sheet was written while its run was still in progress" in \
            (incomplete / "index.html").read_text()
    assert not list(outputs.rglob("*.tmp")), "no temporary file is left"
    assert _alive(kernels) == [], "the run stops the kernels it started"
    _assert_refused_everywhere(project, outputs, incomplete, complete_run, capsys, "stopped by SIGTERM")


@pytest.mark.parametrize("step", ["controls", "publishing"])
def test_sigkill_leaves_a_folder_whose_name_says_it_is_incomplete(project, complete_run, paused_runs, capsys,
                                                                  step):
    run = paused_runs[("SIGKILL", step)]
    process, outputs = run.wait(), run.outputs
    kernels = _kernels_of(process.pid)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    try:
        assert process.returncode == -signal.SIGKILL
        incomplete = _assert_nothing_looks_complete(outputs, complete_run)
        marker = json.loads((incomplete / "incomplete.json").read_text())
        assert (marker["state"], marker["step"]) == ("running", step), "nothing is written at a SIGKILL"
        _assert_refused_everywhere(project, outputs, incomplete, complete_run, capsys, "ended abruptly")
    finally:  # orphaned kernels stop themselves when their parent is gone; never leave one behind here
        for pid in _alive(kernels):
            os.kill(pid, signal.SIGKILL)


def test_sigint_exits_130_and_remove_incomplete_cleans_up(complete_run, paused_runs, capsys):
    run = paused_runs[("SIGINT", "freezing")]
    process, outputs = run.wait(), run.outputs
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted by Ctrl-C (SIGINT)" in err
    incomplete = _assert_nothing_looks_complete(outputs, complete_run)
    capsys.readouterr()
    assert cli.main(["runs", str(outputs), "--remove-incomplete"]) == 0
    assert f"Removed incomplete run {incomplete}" in capsys.readouterr().out
    assert sorted(p.name for p in (outputs / "2026-Q3").iterdir()) == [complete_run.name, "latest"]
    assert not _alive(_kernels_of(process.pid))


# --- a full or read-only disk ---------------------------------------------------------------------

def _fail_writing(monkeypatch, name: str) -> None:
    """Make every atomic write of a file called ``name`` run out of disk after half a file."""
    real = runfolder.write_atomically

    def write_atomically(path, write):
        if Path(path).name != name:
            return real(path, write)

        def half_then_full(temporary: Path) -> None:
            temporary.write_bytes(b"half a fi")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, half_then_full)

    monkeypatch.setattr(runfolder, "write_atomically", write_atomically)


@pytest.mark.parametrize("name, step", [("okta_users.csv", "freezing"), ("workpaper.html", "controls"),
                                        ("manifest.json", "publishing")])
def test_a_full_disk_stops_the_run_with_a_clear_message_and_no_partial_file(project, tmp_path, monkeypatch, capsys,
                                                                            name, step):
    _fail_writing(monkeypatch, name)
    code = cli.main(["run", str(project / "parameters" / DEMO_PARAMETER_FILE), "--out", str(tmp_path / "outputs"),
                     "--only", "UAR-01", "--jobs", "1"])
    err = capsys.readouterr().err
    assert code == 2, err
    [incomplete] = (tmp_path / "outputs" / "2026-Q3").iterdir()
    assert incomplete.name.endswith(".incomplete")
    assert f"cannot write the run's files in {incomplete}" in err and "is full" in err, err
    assert "Traceback" not in err
    marker = json.loads((incomplete / "incomplete.json").read_text())
    assert marker["state"] == "stopped" and marker["step"] == step
    assert not [p for p in incomplete.rglob("*") if p.name.endswith(".tmp")], "no temporary file survives"
    assert not [p for p in incomplete.rglob(name) if p.read_bytes() == b"half a fi"], "no truncated file survives"


def _mount_tmpfs(folder: Path, options: str) -> bool:
    folder.mkdir(parents=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True).returncode == 0


@pytest.mark.parametrize("options, words", [("size=700k", "is full"), ("ro,size=64k", "read-only file system")])
def test_a_real_small_or_read_only_disk(project, tmp_path, options, words):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, options):
        pytest.skip("cannot mount a tmpfs here (needs root and permission to mount)")
    try:
        result = subprocess.run([str(WORKBENCH), "run", str(project / "parameters" / DEMO_PARAMETER_FILE),
                                 "--out", str(disk / "outputs"), "--only", "UAR-01", "--jobs", "1"],
                                capture_output=True, text=True, timeout=300, cwd=project)
        assert result.returncode == 2, result.stderr
        assert words in result.stderr and str(disk) in result.stderr and "Traceback" not in result.stderr
        assert not [p for p in disk.rglob("*") if p.name.endswith(".tmp")]
        assert not [p for p in (disk / "outputs").rglob("*") if p.is_dir() and re.fullmatch(r"\d{8}T\d{6}Z", p.name)]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# --- the same period twice -------------------------------------------------------------------------

def _files(run: Path) -> dict[str, bytes]:
    return {p.relative_to(run).as_posix(): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_an_unchanged_period_run_twice_writes_the_same_bytes(project, complete_run, tmp_path):
    code = cli.main(["run", str(project / "parameters" / DEMO_PARAMETER_FILE), "--out", str(tmp_path / "outputs"),
                     "--only", "UAR-01", "--jobs", "1"])
    assert code == 0
    again = latest_run(tmp_path / "outputs" / "2026-Q3")
    first, second = _files(complete_run), _files(again)
    assert sorted(first) == sorted(second)
    differing = sorted(name for name in first if first[name] != second[name])
    assert differing == sorted(reproducible.DIFFERING_FILES)
    for name in ("parameters.json", "index.html"):  # they differ by the run id only
        assert first[name].replace(complete_run.name.encode(), b"RUN") == second[name].replace(again.name.encode(), b"RUN")
    manifests = [json.loads(first["manifest.json"]), json.loads(second["manifest.json"])]
    for manifest in manifests:
        manifest.pop("run_id"), manifest.pop("run_metadata")
        for name in reproducible.DIFFERING_FILES:
            manifest["files"].pop(name, None)
        for control in manifest["controls"]:
            control.pop("seconds")
    assert manifests[0] == manifests[1]
    for name, data in first.items():
        if name not in reproducible.DIFFERING_FILES:
            assert complete_run.name.encode() not in data, f"{name} carries the run id"
