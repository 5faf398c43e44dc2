"""Stopping a run: signals, the kernels a run started, and what an abandoned run reports.

Why: a run stopped by Ctrl-C (SIGINT), by ``kill`` or a scheduler (SIGTERM), or by a full disk must
say what happened and where its incomplete folder is, leave no kernel of its own running, and exit
with a code a script can test. Kernels are started in a session of their own (jupyter_client), so a
terminal's Ctrl-C does not reach them: the runner stops each one it started, through the process
handle of its kernel manager, never by looking for processes by name.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from workbench import runfolder

#: Exit codes of a stopped run: the shell's 128 + signal number, and 2 when the output cannot be written.
EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_NOT_WRITABLE = 130, 143, 2


class RunStopped(BaseException):
    """The run was asked to stop by a signal (SIGTERM); a BaseException, like KeyboardInterrupt
    for SIGINT, so no ``except Exception`` of a control swallows it."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


class RunAbandoned(Exception):
    """A run that stopped before it was complete: where its folder is, why, and the exit code."""

    def __init__(self, run_dir: Path, step: str, what: str, exit_code: int, message: str):
        super().__init__(message)
        self.run_dir = run_dir
        self.step = step
        self.what = what
        self.exit_code = exit_code


def what_stopped(exc: BaseException) -> tuple[str, int | None]:
    """What stopped a run, in words, and its exit code (None: an unexpected error, raised as it is)."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted by Ctrl-C (SIGINT)", EXIT_INTERRUPTED
    if isinstance(exc, RunStopped):
        name = signal.Signals(exc.signum).name
        return f"stopped by {name}", 128 + exc.signum
    if runfolder.is_storage_error(exc):
        return str(exc), EXIT_NOT_WRITABLE
    return f"{type(exc).__name__}: {exc}", None


@contextmanager
def signals_stop_the_run() -> Iterator[None]:
    """While a run is in progress, SIGTERM raises ``RunStopped`` in the main thread (SIGINT raises
    KeyboardInterrupt as always). Outside the main thread (signals cannot be handled there) a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        """Turn the signal into an exception where the run is."""
        raise RunStopped(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def signals_held() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM while a stopped run is being recorded, so a second Ctrl-C does not
    cut the record short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class KernelRegistry:
    """The kernel managers of the kernels this process started for a run (thread-safe).

    ``stop_all`` kills each through its own process handle; afterwards ``refuse_new`` is set, so a
    control thread whose kernel was stopped does not start a replacement.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._managers: dict[int, Any] = {}
        self.refuse_new = False

    def open(self) -> None:
        """A run starts: kernels may be started."""
        with self._lock:
            self.refuse_new = False

    def add(self, manager: Any) -> None:
        """Register a kernel's manager; raises when the run is stopping."""
        with self._lock:
            if self.refuse_new:
                raise RuntimeError("the run is stopping; no kernel is started")
            self._managers[id(manager)] = manager

    def discard(self, manager: Any) -> None:
        """The kernel was shut down normally."""
        with self._lock:
            self._managers.pop(id(manager), None)

    def stop_all(self) -> list[int]:
        """Kill every registered kernel's process (by its handle) and return their process ids."""
        with self._lock:
            self.refuse_new = True
            managers, self._managers = list(self._managers.values()), {}
        return [pid for pid in (kill_kernel(manager) for manager in managers) if pid is not None]


def kill_kernel(manager: Any, wait_seconds: float = 5.0) -> int | None:
    """Kill one kernel's process through its manager's process handle and remove its connection file."""
    process = getattr(getattr(manager, "provisioner", None), "process", None)
    pid = getattr(process, "pid", None)
    if process is not None:
        with suppress(OSError):
            process.kill()
        with suppress(Exception):
            process.wait(timeout=wait_seconds)
    connection_file = getattr(manager, "connection_file", "")
    if connection_file:
        with suppress(OSError):
            Path(connection_file).unlink(missing_ok=True)
    return pid


KERNELS = KernelRegistry()


def abandon(run_dir: Path, step: str, exc: BaseException) -> RunAbandoned | None:
    """Record a stopped run in its folder's marker and stop its kernels; the ``RunAbandoned`` to raise
    (None for an unexpected error, which is then raised as it is, its marker recorded all the same)."""
    what, exit_code = what_stopped(exc)
    with signals_held():
        KERNELS.stop_all()
        message = runfolder.mark_incomplete(run_dir, step, what)
    if exit_code is None:
        exc.add_note(f"The run is left incomplete in {run_dir}.")
        return None
    return RunAbandoned(run_dir, step, what, exit_code, f"{message}\nIncomplete run folder: {run_dir}")
