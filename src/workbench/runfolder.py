"""Run folders: built under a staging name, published by one rename, written file by file atomically.

Why: a run folder is evidence only when it is whole. A run is built in ``<period>/<run-id>.incomplete``
with a marker file (``incomplete.json``: which step it is in, which process runs it); only when its
manifest is written does the folder lose the ``.incomplete`` suffix, by one ``os.rename`` on the same
file system. So a run that is interrupted, runs out of disk or is killed outright (SIGKILL, power
loss) can never look complete: its name says it is not, and its marker says how far it got and, when
the runner could still write, why it stopped.

Every file the runner writes goes through ``write_atomically`` (a temporary file in the same folder,
flushed to disk, then renamed over the target; removed on any failure), so a full disk or a
read-only folder never leaves half a file or a ``.tmp`` file behind, and the error names the folder.

``list_runs`` tells the runs of a period apart (complete, signed off, incomplete with its reason, in
progress) for ``workbench runs``.
"""

from __future__ import annotations

import datetime as dt
import errno
import itertools
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INCOMPLETE_SUFFIX = ".incomplete"
MARKER = "incomplete.json"
MANIFEST = "manifest.json"  # lineage.MANIFEST; repeated so lineage can import this module
SIGNOFF = "signoff.json"  # lineage.SIGNOFF
#: DuckDB's spill folders of a control (``ControlTest.sql``): scratch, never evidence. A kernel that was
#: killed leaves its folder behind; ``remove_spill_folders`` clears them before the manifest is written.
SPILL_FOLDERS = "staged/.spill-*"
#: The steps of a run, as the marker and ``workbench runs`` name them.
STEPS = {
    "freezing": "freezing the source files",
    "controls": "testing the controls",
    "publishing": "publishing the exception register, the index and the manifest",
}
#: Errors that mean the output folder cannot take the run's files (not a fault of the run's data).
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}
_RUN_NAME = re.compile(r"^(?P<run_id>\d{8}T\d{6}Z(?:-(?P<n>\d+))?)(?P<incomplete>\.incomplete)?$")

#: Test-only hook (see ``checkpoint``): ``WORKBENCH_TEST_PAUSE_AT=STEP:GATE_FILE``.
PAUSE_VARIABLE = "WORKBENCH_TEST_PAUSE_AT"
PAUSE_TIMEOUT_SECONDS = 300


# --- atomic writes -----------------------------------------------------------------------------

class OutputWriteError(OSError):
    """A run's file could not be written: the disk is full, or the folder is read-only or not ours.

    The message names the folder in an auditor's words; ``errno`` is the original error's.
    """

    def __init__(self, path: Path, cause: OSError):
        super().__init__(cause.errno, describe_write_error(Path(path).parent, cause), str(path))
        self.folder = Path(path).parent

    def __str__(self) -> str:
        return str(self.strerror)


def is_storage_error(exc: BaseException) -> bool:
    """Whether an error means the output folder cannot take more files (full, read-only, no permission)."""
    return isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS


def describe_write_error(folder: Path, exc: OSError) -> str:
    """What a storage error means for the run, naming the folder."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        what = "the disk (or the quota) holding it is full"
    elif exc.errno == errno.EROFS:
        what = "it is on a read-only file system"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        what = "you have no permission to write in it"
    else:
        what = os.strerror(exc.errno) if exc.errno else str(exc)
    return f"cannot write the run's files in {folder}: {what}"


def _fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk, so a rename never publishes unwritten data.
    (A folder cannot be opened for this on Windows, where renames are journalled anyway.)"""
    if path.is_dir() and not hasattr(os, "O_DIRECTORY"):
        return
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    except OSError as exc:  # some file systems cannot fsync a folder; the data is flushed anyway
        if path.is_dir() and exc.errno in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            return
        raise
    finally:
        os.close(descriptor)


def write_atomically(path: Path, write: Callable[[Path], Any]) -> Path:
    """Write ``path`` through ``write(temporary)``: a temporary file in the same folder, flushed,
    then renamed over ``path``. On any failure the temporary file is removed and ``path`` is left as
    it was; a full disk or an unwritable folder raises ``OutputWriteError`` naming the folder.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        _fsync(temporary)
        os.replace(temporary, path)
    except BaseException as exc:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass
        if is_storage_error(exc) and not isinstance(exc, OutputWriteError):
            raise OutputWriteError(path, exc) from exc  # type: ignore[arg-type]
        raise
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    """Write bytes atomically (``write_atomically``)."""
    return write_atomically(path, lambda temporary: temporary.write_bytes(data))


def write_text(path: Path, text: str) -> Path:
    """Write UTF-8 text atomically, line ends as given (``write_atomically``)."""
    return write_bytes(path, text.encode("utf-8"))


def copy_file(source: Path, target: Path) -> Path:
    """Copy a file's bytes atomically (``write_atomically``)."""
    return write_atomically(target, lambda temporary: shutil.copyfile(source, temporary))


def replace_once(path: Path, old: str, new: str, done_already_ok: bool = False) -> Path:
    """Rewrite a file (atomically) with ``old``, which must occur exactly once, replaced by ``new``.

    ``done_already_ok``: a file that no longer has ``old`` but has ``new`` is left as it is. A step
    run again after the process doing it died (an audit group's publication, re-run by Dask on
    another worker) meets the files the first attempt had already rewritten."""
    data, before = Path(path).read_bytes(), old.encode("utf-8")
    if done_already_ok and data.count(before) == 0 and new.encode("utf-8") in data:
        return Path(path)
    if data.count(before) != 1:
        raise RuntimeError(f"{path}: expected the text to replace once, found it {data.count(before)} time(s)")
    return write_bytes(path, data.replace(before, new.encode("utf-8")))


def spill_folder(run_dir: Path, control_id: str, owner: str) -> Path:
    """Where a control's DuckDB connection spills (``SPILL_FOLDERS``); ``owner`` tells connections apart."""
    return Path(run_dir) / SPILL_FOLDERS.replace("*", f"{control_id}-{owner}")


def remove_spill_folders(run_dir: Path) -> list[str]:
    """Remove the spill folders a killed control left in the run folder; return their names.

    Spilled intermediate results are not evidence: listed in the manifest, they would make every
    re-performance differ (and could be gigabytes to hash)."""
    removed = []
    for folder in sorted(Path(run_dir).glob(SPILL_FOLDERS)):
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder.relative_to(run_dir).as_posix())
    return removed


def make_folder(path: Path) -> Path:
    """Create a folder (and its parents); a full or read-only disk raises ``OutputWriteError``."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if is_storage_error(exc):
            raise OutputWriteError(Path(path) / ".", exc) from exc
        raise
    return Path(path)


# --- staging, marker, completion ----------------------------------------------------------------

def staging_name(run_id: str) -> str:
    """The folder name of a run still being built."""
    return run_id + INCOMPLETE_SUFFIX


def run_id_of(folder: Path) -> str:
    """The run id of a run folder, complete or not."""
    name = Path(folder).name
    return name[: -len(INCOMPLETE_SUFFIX)] if name.endswith(INCOMPLETE_SUFFIX) else name


def _process_stat(pid: int) -> list[str]:
    """A process's /proc stat fields after its name (state first), or [] where there is no /proc."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _process_started(pid: int) -> str | None:
    """When a process started (clock ticks since boot, from /proc), to tell a reused process id apart."""
    fields = _process_stat(pid)
    return fields[19] if len(fields) > 19 else None


def _now() -> str:
    """The current UTC time, to the second (run metadata)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _write_marker(run_dir: Path, document: dict[str, Any]) -> None:
    """Write ``incomplete.json`` (atomically)."""
    write_text(run_dir / MARKER, json.dumps(document, indent=2, sort_keys=True) + "\n")


def create_staging(period_dir: Path, run_id: str, period: str) -> Path:
    """Create ``<period_dir>/<run-id>.incomplete`` with its marker (step: freezing) and return it."""
    make_folder(period_dir)
    run_dir = period_dir / staging_name(run_id)
    try:
        run_dir.mkdir()
    except OSError as exc:
        if is_storage_error(exc):
            raise OutputWriteError(run_dir, exc) from exc
        raise
    _write_marker(run_dir, {
        "state": "running", "period": period, "run_id": run_id, "step": "freezing", "started_at": _now(),
        "pid": os.getpid(), "process_started": _process_started(os.getpid()), "host": socket.gethostname(),
        "message": f"Run {run_id} of period {period} is being built in this folder. Until it is finished, "
                   f"this folder is not evidence; a finished run has no '{INCOMPLETE_SUFFIX}' in its name.",
    })
    return run_dir


def read_marker(run_dir: Path) -> dict[str, Any] | None:
    """The run's ``incomplete.json``, or None when there is none (or it cannot be read)."""
    try:
        document = json.loads((Path(run_dir) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def record_step(run_dir: Path, step: str) -> None:
    """Note in the marker that the run has moved on to ``step`` (one of ``STEPS``)."""
    document = read_marker(run_dir) or {}
    document["step"] = step
    _write_marker(run_dir, document)


def mark_incomplete(run_dir: Path, step: str, what: str) -> str:
    """Record why the run stopped (``what``), in which step and when; return the sentence recorded.

    Best effort: when even this small file cannot be written (a full disk), the folder's
    ``.incomplete`` name still says the run is incomplete.
    """
    document = read_marker(run_dir) or {"run_id": run_id_of(run_dir)}
    stopped_at = _now()
    message = (f"Run {document.get('run_id', run_id_of(run_dir))} stopped while {STEPS.get(step, step)} "
               f"(step '{step}') at {stopped_at}: {what}. It is not evidence: nothing in this folder was published. "
               f"Run the period again; `workbench runs {run_dir.parent} --remove-incomplete` removes this folder.")
    document.update({"state": "stopped", "step": step, "stopped_at": stopped_at, "reason": what, "message": message})
    try:
        _write_marker(run_dir, document)
    except OSError:
        pass
    return message


def finish(run_dir: Path, write_manifest: Callable[[Path], Any]) -> Path:
    """Publish a staged run: remove its marker, write its manifest, rename it to its run id.

    The rename is the moment the run becomes complete; a run stopped before it keeps its
    ``.incomplete`` name (and, after the marker is gone, its manifest alone does not make it complete).
    """
    run_dir = Path(run_dir)
    (run_dir / MARKER).unlink(missing_ok=True)
    write_manifest(run_dir)
    final = run_dir.with_name(run_id_of(run_dir))
    _fsync(run_dir)
    os.rename(run_dir, final)
    _fsync(final.parent)
    return final


def is_incomplete(folder: Path) -> bool:
    """Whether a run folder is unfinished: staging name, marker, or no manifest at all."""
    folder = Path(folder)
    return (folder.name.endswith(INCOMPLETE_SUFFIX) or (folder / MARKER).exists()
            or not (folder / MANIFEST).is_file())


class IncompleteRun(ValueError):
    """A run folder that is not finished: it is not evidence, so it is not verified or signed off."""


def refuse_incomplete(folder: Path, action: str) -> None:
    """Raise ``IncompleteRun`` when ``folder`` is a staged run that never finished (its name or marker
    says so), with the reason it recorded; ``action`` is what was refused ("verified")."""
    folder = Path(folder)
    if not (folder.name.endswith(INCOMPLETE_SUFFIX) or (folder / MARKER).exists()):
        return
    state = run_state(folder)
    raise IncompleteRun(f"run {folder} is incomplete ({state.state}: {state.detail}); an incomplete run is not "
                        f"evidence and cannot be {action}. Run the period again; `workbench runs "
                        f"{folder.parent}` lists the period's runs.")


def checkpoint(step: str) -> None:
    """Test-only hook: pause at a named point of a run so a test can interrupt it deterministically.

    With ``WORKBENCH_TEST_PAUSE_AT=STEP:GATE`` in the environment, the run writes ``GATE.waiting``
    when it reaches ``STEP`` and waits (at most ``PAUSE_TIMEOUT_SECONDS``) for ``GATE`` to exist.
    Without the variable it does nothing; it is not a feature for users.
    """
    setting = os.environ.get(PAUSE_VARIABLE, "")
    wanted, _, gate = setting.partition(":")
    if not gate or wanted != step:
        return
    Path(gate + ".waiting").write_text(str(os.getpid()), encoding="utf-8")
    deadline = time.monotonic() + PAUSE_TIMEOUT_SECONDS
    while not Path(gate).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


# --- listing runs ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunState:
    """One run folder of a period and its state: complete, signed off, in progress or incomplete."""

    path: Path
    run_id: str
    state: str  # "complete", "signed off", "in progress", "incomplete"
    detail: str  # who signed off, or why the run is incomplete

    @property
    def removable(self) -> bool:
        """Whether ``--remove-incomplete`` may delete it (incomplete and not still running)."""
        return self.state == "incomplete"

    def line(self) -> str:
        """One line for ``workbench runs``."""
        return f"{self.path.parent.name}/{self.path.name}  {self.state}" + (f" — {self.detail}" if self.detail else "")


def _still_running(marker: dict[str, Any]) -> bool:
    """Whether the process that builds a run is alive (on this machine; another machine's is assumed alive)."""
    if marker.get("state") != "running":
        return False
    if marker.get("host") not in (None, socket.gethostname()):
        return True
    try:
        pid = int(marker.get("pid", 0))
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _process_stat(pid)
    if fields and fields[0] in ("Z", "X"):  # ended, not yet reaped by its parent
        return False
    started = marker.get("process_started")
    return started is None or _process_started(pid) in (None, started)


def run_state(folder: Path) -> RunState:
    """The state of one run folder, with the reason an incomplete run recorded (or what is known)."""
    folder = Path(folder)
    run_id = run_id_of(folder)
    marker = read_marker(folder)
    if not is_incomplete(folder):
        signoff = None
        try:
            signoff = json.loads((folder / SIGNOFF).read_text(encoding="utf-8")) if (folder / SIGNOFF).is_file() else None
        except (OSError, ValueError):
            signoff = {"reviewer": "unknown (signoff.json unreadable)", "signed_off_at": "unknown"}
        if isinstance(signoff, dict):
            return RunState(folder, run_id, "signed off",
                            f"complete; signed off by {signoff.get('reviewer')} on {signoff.get('signed_off_at')}")
        return RunState(folder, run_id, "complete", "")
    if marker is not None and _still_running(marker):
        step = marker.get("step", "?")
        return RunState(folder, run_id, "in progress",
                        f"process {marker.get('pid')} is {STEPS.get(step, step)} (started {marker.get('started_at')})")
    if marker is not None and marker.get("state") == "stopped":
        return RunState(folder, run_id, "incomplete",
                        f"stopped while {STEPS.get(marker.get('step'), marker.get('step'))} at "
                        f"{marker.get('stopped_at')}: {marker.get('reason')}")
    if marker is not None:
        step = marker.get("step", "?")
        return RunState(folder, run_id, "incomplete",
                        f"stopped while {STEPS.get(step, step)} without recording why: its process "
                        f"({marker.get('pid')}) ended abruptly (killed, e.g. SIGKILL, or the machine stopped)")
    if folder.name.endswith(INCOMPLETE_SUFFIX):
        what = ("its manifest was being written" if (folder / MANIFEST).is_file()
                else "it had no marker left")
        return RunState(folder, run_id, "incomplete", f"stopped while publishing ({what}); no reason recorded")
    return RunState(folder, run_id, "incomplete", f"no {MANIFEST}: the run never finished")


def _sort_key(folder: Path) -> tuple[str, int]:
    """Newest first by run id (its UTC start time, then its number within the second)."""
    match = _RUN_NAME.match(folder.name)
    assert match is not None
    return match["run_id"].split("-")[0], int(match["n"] or 1)


def run_folders(period_dir: Path) -> list[Path]:
    """The run folders of a period folder (named by their run id, complete or not), newest first."""
    period_dir = Path(period_dir)
    if not period_dir.is_dir():
        return []
    folders = [p for p in period_dir.iterdir() if p.is_dir() and _RUN_NAME.match(p.name)]
    return sorted(folders, key=_sort_key, reverse=True)


def period_folders(path: Path) -> list[Path]:
    """The period folders at ``path``: itself when it holds runs, else its sub-folders that do."""
    path = Path(path)
    if run_folders(path) or (path / "latest").is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_dir() and run_folders(p)) if path.is_dir() else []


def list_runs(path: Path) -> list[RunState]:
    """Every run under a period folder or an output folder: per period (by name), newest run first."""
    return [run_state(folder) for period_dir in period_folders(Path(path).resolve()) for folder in run_folders(period_dir)]


def remove_incomplete(states: list[RunState]) -> tuple[list[RunState], list[str]]:
    """Delete the incomplete runs among ``states`` (never a complete, signed-off or running one):
    the runs removed, and a sentence for each that could not be removed."""
    removed, problems = [], []
    for state in states:
        if state.removable and is_incomplete(state.path):
            try:
                shutil.rmtree(state.path)
            except OSError as exc:
                problems.append(f"could not remove incomplete run {state.path}: {exc.strerror or exc}")
                continue
            removed.append(state)
    return removed, problems


def describe_runs(states: list[RunState]) -> str:
    """``workbench runs``: each period's runs, newest first, with their state, as aligned lines."""
    if not states:
        return "No runs found."
    width = max(len(state.path.name) for state in states)
    blocks = []
    for period_dir, group in itertools.groupby(states, key=lambda state: state.path.parent):
        lines = [f"Period {period_dir.name} ({period_dir}), newest run first:"]
        for state in group:
            detail = state.detail.removeprefix("complete; ")
            lines.append(f"  {state.path.name.ljust(width)}  {state.state}" + (f" — {detail}" if detail else ""))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
