"""Kernels that start warm: a pre-imported process (a "zygote") forks a fresh ipykernel per control.

Why: a control's kernel spent about 4.6 s importing pandas, SciPy, matplotlib, DuckDB and the
workbench before its notebook did anything (``benchmarks/bench_run.py``; 70 % of the CPU of the demo
period). Three ways to remove that cost were weighed:

- a pool of kernels booted ahead still pays every import once per control: the CPU is the same,
  only hidden behind other work, and on two busy cores there is nothing to hide it behind;
- one kernel reused per worker with its namespace reset pays the imports once, but "reset" must be
  proven for everything a notebook can touch (module attributes, caches, ``sys.modules``,
  matplotlib's state, random streams, the folder, the environment, the execution counter that
  papermill writes into the notebook), and a proof that is incomplete is a leak between
  workpapers;
- a process that imports everything once and then ``fork``s a child per control that becomes an
  ordinary ipykernel (ipykernel's own ``IPKernelApp``, as ``python -m ipykernel_launcher`` would
  start it, with its own connection file) gives each control a new process: nothing of one control
  can be visible to the next, because the next never shared its memory. The imports are paid once
  per run and shared copy-on-write. This is what the Android runtime's zygote and some test
  runners do, and what is used here.

The zygote runs ``python -m workbench.kernel_zygote`` with the environment and the folder a kernel
gets from jupyter_client, sets what ipykernel sets before a notebook's imports (``MPLBACKEND``),
imports the modules the notebooks import and waits on a socket. For each kernel jupyter_client
starts (``ForkingProvisioner``, a ``LocalProvisioner`` that asks the zygote instead of calling
``Popen``), it forks; the child starts a new session, takes the kernel's command line (``sys.argv``),
environment and folder exactly as a cold kernel would have them, reseeds NumPy's global random
stream (``random`` reseeds itself after a fork; NumPy's legacy stream does not), and runs
``IPKernelApp``, calling, once its shell exists, the hook of each package module that registers with
the shell on import (``SHELL_HOOKS``: the zygote imported them before any shell existed). The zygote reaps its children and writes each one's exit status beside its
connection file, so a dead kernel is reported as today (``ForkedProcess`` is the ``Popen``-like
handle jupyter_client, nbclient and ``stopping`` use). When the runner goes away (its end of the
socket closes), the zygote kills the kernels it forked and exits.

The executed notebook is the same byte for byte as with a cold kernel; the manifest's run metadata
says which kind of kernel ran (``--kernels warm|cold``). Forking needs POSIX ``fork``; elsewhere,
and whenever the zygote cannot start or fork, the runner starts cold kernels as before.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.util
import io
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench import timing_trace

#: How the zygote identifies itself on its command line (tests and process listings look for it).
MODULE = "workbench.kernel_zygote"
#: The kernel command line a fork can stand in for: ``python -m ipykernel_launcher ARGS``.
LAUNCHER = ("-m", "ipykernel_launcher")
#: What ipykernel sets before any notebook code runs (``IPKernelApp.init_gui_pylab``), set in the
#: zygote before matplotlib is imported, so that matplotlib reads the same backend a cold kernel has.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
REAP_INTERVAL_SECONDS = 0.05
EXIT_SUFFIX = ".exit"


def fork_available() -> bool:
    """Whether warm kernels can be used here: POSIX ``fork`` on Linux (macOS's system libraries are
    not safe to use after a fork of a process that has imported them)."""
    return hasattr(os, "fork") and sys.platform.startswith("linux")


def launcher_arguments(cmd: list[str], python: str) -> list[str] | None:
    """The ipykernel arguments of a kernel command line that a fork of this Python can run, or None
    (another interpreter, or not ``python -m ipykernel_launcher``): then the kernel starts cold."""
    if len(cmd) < 3 or tuple(cmd[1:3]) != LAUNCHER:
        return None
    if os.path.realpath(cmd[0]) != os.path.realpath(python):
        return None
    return list(cmd[3:])


def exit_code(wait_status: int) -> int:
    """A reaped child's return code as ``Popen`` gives it (negative: the signal that ended it)."""
    return os.waitstatus_to_exitcode(wait_status)


# --- what the zygote imports -------------------------------------------------------------------

#: The workbench's own package. The zygote imports it too (about 0.3 s of CPU per kernel otherwise,
#: measured on the demo period), as a cold kernel's preload does. A module of it that looks at the
#: running IPython shell when imported would miss the shell a forked kernel makes later, so such modules are
#: listed in ``SHELL_HOOKS`` and each forked kernel calls their hook once its shell exists, before
#: its first message; ``tests/test_warm_kernels.py`` fails on any new import-time call in the package.
PACKAGE = "workbench"
#: (module, function): what a package module calls on import to register with the IPython shell
#: (``charts`` makes a bare matplotlib Figure display as its PNG). Called in every forked kernel
#: once its shell exists; a cold kernel imports the module with its shell already there.
SHELL_HOOKS: tuple[tuple[str, str], ...] = (("workbench.charts", "register_notebook_display"),)


#: What ipykernel's kernel app imports before a kernel answers: the app, its kernel and shell
#: classes, and the debugger (which imports debugpy's vendored pydevd): imported in the zygote, once,
#: rather than in every forked kernel's ``IPKernelApp.initialize`` (0.17 s of its 0.22 s of CPU,
#: measured on this machine). Importing them starts nothing: no thread, socket or shell exists
#: before the fork.
KERNEL_APP_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.debugger")
#: What every control's notebook imported on first use after the kernel's preload (measured: the
#: modules new in ``sys.modules`` after each demo control's cells ran in a preloaded interpreter):
#: pandas' HTML and CSV writers and ``to_dict``, pyarrow's CSV reader, the image plugins Pillow loads
#: when the first PNG is saved, IPython's logger and ``bdb``, and the package's deficiency records
#: (read with the auditors' records). Imported in the zygote only: a cold kernel imports them when
#: they are first used, so the kernel's preload list, which workpapers record, does not change.
FIRST_USE_MODULES = ("bdb", "IPython.core.logger", "pandas.core.methods.to_dict", "pandas.core.reshape.reshape",
                     "pandas.io.formats.csvs", "pandas.io.formats.html", "pyarrow.csv", "PIL.BmpImagePlugin",
                     "PIL.GifImagePlugin", "PIL.JpegImagePlugin", "PIL.PngImagePlugin", "PIL.PpmImagePlugin",
                     "workbench.deficiencies")


# --- inside the zygote -------------------------------------------------------------------------

def _preload(modules: list[str]) -> dict[str, str]:
    """Import ipykernel's kernel app (``KERNEL_APP_MODULES``), the modules the kernels' preload
    imports, then what the notebooks import on first use (``FIRST_USE_MODULES``), before any fork:
    the order of a cold kernel, whose app is running when its preload imports the modules.

    Exactly what importing the modules imports, and nothing worked out beforehand: the zygote once
    listed the libraries beneath the package's modules by parsing the package's source (every
    top-level import, in every ``if`` and ``try`` branch) and imported those first. That cost 0.3 s
    of the zygote's CPU before its first import, on the path of every run's first control (measured
    on the demo period: 2.2 s against 1.9 s of CPU to be ready), loaded the same modules, and could
    load a module in a branch a cold kernel never takes.

    What the kernel app's modules write on import (debugpy warns about frozen modules) is dropped:
    in a cold kernel it goes to the kernel's own output stream, which no client reads before the
    kernel answers; from the zygote it would reach the terminal of ``workbench run``.

    Returns the environment variables the imports set (debugpy sets ``PYDEVD_USE_FRAME_EVAL`` unless
    it is set): a cold kernel's imports set them in its environment, so each fork sets them too
    (``_become_kernel``), where its own environment does not set them already.
    """
    before = dict(os.environ)
    if not os.environ.get("MPLBACKEND"):
        os.environ["MPLBACKEND"] = INLINE_BACKEND
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        _import_each(KERNEL_APP_MODULES)
    _import_each([*modules, *FIRST_USE_MODULES])
    if os.environ.get("MPLBACKEND") == INLINE_BACKEND:  # ipykernel sets it itself in the child
        del os.environ["MPLBACKEND"]
    return {name: value for name, value in os.environ.items() if name not in before}


def _import_each(names: Iterable[str]) -> None:
    """Import each module named, as the cold kernel's preload does: a name that is not a module is skipped."""
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:
            pass


def _debugger_log_to_kernel_output() -> None:
    """In a forked kernel whose output streams now exist: debugpy's log, set up while its warning was
    dropped in the zygote (``_preload``), writes to the kernel's standard error, as in a cold kernel."""
    pydev_log = sys.modules.get("_pydev_bundle.pydev_log")
    if pydev_log is not None:
        with contextlib.suppress(Exception):
            pydev_log.initialize_debug_stream(reinitialize=True)


def _become_kernel(request: dict[str, Any], channel: socket.socket, set_by_imports: dict[str, str] | None = None) -> None:
    """In the forked child: take the kernel's session, streams, folder, environment and command
    line (with what the zygote's imports set in the environment, as a cold kernel's imports would:
    ``_preload``), then run ipykernel's kernel app. Never returns."""
    code = 1
    try:
        channel.close()
        os.setsid()  # its own session and process group, as jupyter_client starts kernels
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for name, value in (set_by_imports or {}).items():
            os.environ.setdefault(name, value)
        launcher = importlib.util.find_spec("ipykernel_launcher")
        sys.argv = [launcher.origin if launcher and launcher.origin else "ipykernel_launcher", *request["argv"]]
        if "numpy" in sys.modules:  # a new process draws a new seed; a fork would share the zygote's
            sys.modules["numpy"].random.seed()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from ipykernel import kernelapp

        app = kernelapp.IPKernelApp.instance()  # as ``launch_new_instance`` does, with the hooks between
        app.initialize()
        _debugger_log_to_kernel_output()
        register_shell_hooks()
        timing_trace.mark("kernel-initialised")
        app.start()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def register_shell_hooks(hooks: tuple[tuple[str, str], ...] = SHELL_HOOKS) -> list[str]:
    """In a forked kernel whose shell now exists: call the hook of each already imported module
    that registers with the shell on import (``SHELL_HOOKS``). Returns the modules whose hook ran."""
    ran = []
    for module_name, function in hooks:
        module = sys.modules.get(module_name)
        if module is not None:
            getattr(module, function)()
            ran.append(module_name)
    return ran


class _Children:
    """The kernels a zygote forked: reaped as they end, each exit status written to its file."""

    def __init__(self) -> None:
        self.status_files: dict[int, str] = {}

    def reap(self) -> None:
        """Collect every child that has ended and record its return code (written atomically)."""
        while self.status_files:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            timing_trace.mark("kernel-reaped", kernel=pid, cpu=round(usage.ru_utime + usage.ru_stime, 3))
            path = self.status_files.pop(pid, None)
            if path:
                with contextlib.suppress(OSError):
                    Path(path + ".tmp").write_text(str(exit_code(status)))
                    os.replace(path + ".tmp", path)

    def kill_all(self) -> None:
        """Kill every child still running (the runner has gone) and reap them."""
        for pid in list(self.status_files):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while self.status_files and time.monotonic() < deadline:
            self.reap()
            time.sleep(REAP_INTERVAL_SECONDS)


def serve(channel: socket.socket, set_by_imports: dict[str, str] | None = None) -> None:
    """The zygote's loop: one JSON request per line (``argv``, ``env``, ``cwd``, ``status_file``),
    answered with the forked kernel's ``pid`` (or an ``error``); ends when the runner closes.
    ``set_by_imports``: what the zygote's imports set in its environment (``_preload``)."""
    children, buffer = _Children(), b""
    try:
        while True:
            readable, _, _ = select.select([channel], [], [], REAP_INTERVAL_SECONDS)
            children.reap()
            if not readable:
                continue
            data = channel.recv(65536)
            if not data:
                return
            buffer += data
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                try:
                    pid = os.fork()
                except OSError as exc:
                    channel.sendall(json.dumps({"error": f"fork failed: {exc}"}).encode() + b"\n")
                    continue
                if pid == 0:
                    _become_kernel(request, channel, set_by_imports)
                children.status_files[pid] = request["status_file"]
                channel.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    finally:
        children.kill_all()


def freeze_imported_objects() -> None:
    """Move every object the zygote's imports made out of the garbage collector's sight (``gc.freeze``),
    then let it collect again (``main`` turns it off before the imports).

    The forks share the zygote's memory page by page until a page is written. A collection of the
    oldest generation in a fork visits every object, writes to each (its reference count) and so
    copies the pages of all 2,000 imported modules; when that collection falls during the kernel's
    start-up or a control's cells depends on how many objects the zygote happened to allocate
    (measured: 0.07 s or 0.22 s of CPU for the same kernel start after an unrelated change to the
    imports). Frozen, those objects are never visited: what Python's documentation advises for a
    process that forks without exec (collector off early in the parent, freeze before the fork).
    With the collector off, the imports themselves take 0.1-0.4 s less CPU (each collection during
    them visited everything imported so far). The objects are modules, classes and functions, which
    live as long as the kernel anyway; the few the imports left unreachable (about 2,700, under a
    megabyte) are frozen with them. A kernel's own objects are collected as in a cold kernel.
    """
    gc.freeze()
    gc.enable()


def wanted_modules(wanted: list[str] | dict[str, str]) -> list[str]:
    """The modules a zygote is asked to import: a list of them, or ``{"preload_of": FOLDER}``, the
    preload of the procedure notebooks in FOLDER (``preloading.kernel_preload``), worked out here."""
    if isinstance(wanted, list):
        return [str(name) for name in wanted]
    from workbench import preloading

    return preloading.kernel_preload(Path(wanted["preload_of"]))


def main(argv: list[str] | None = None) -> None:
    """``python -m workbench.kernel_zygote ipykernel_launcher FD MODULES_JSON``: preload, say
    ready (with the modules imported), serve on FD. MODULES_JSON is a list of modules or
    ``{"preload_of": FOLDER}`` (``wanted_modules``). The first argument names what the zygote forks,
    so that a process listing (and the tests that look for a run's kernels) sees it as a kernel,
    which is what it becomes."""
    timing_trace.mark("zygote-begins")
    gc.disable()  # until the imports are frozen (``freeze_imported_objects``)
    argv = sys.argv[1:] if argv is None else argv
    if argv[0] != LAUNCHER[1]:
        raise SystemExit(f"usage: python -m {MODULE} {LAUNCHER[1]} FD MODULES_JSON")
    argv = argv[1:]
    channel = socket.socket(fileno=int(argv[0]))
    if sys.path and (sys.path[0] == "" or Path(sys.path[0]) == Path.cwd()):
        del sys.path[0]  # as ipykernel_launcher does; IPython puts the folder back in the child
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner stops the zygote; Ctrl-C is the runner's
    modules = wanted_modules(json.loads(argv[1]))
    set_by_imports = _preload(modules)
    freeze_imported_objects()
    timing_trace.mark("zygote-ready")
    try:
        channel.sendall(json.dumps({"ready": True, "modules": modules}).encode() + b"\n")
    except OSError:  # the runner has gone meanwhile (a run refused by its check): nothing to serve
        leave()
    with contextlib.suppress(OSError):  # the runner went while it was answered: its kernels are killed
        serve(channel, set_by_imports)
    leave()


def leave() -> None:
    """End the zygote at once, its kernels killed and reaped (``serve``): tearing down an interpreter
    that has imported pandas, SciPy and matplotlib took 0.4-0.5 s, which the runner waited for at the
    end of every run. Nothing is left to write: the zygote writes only its kernels' exit statuses."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(0)


# --- in the runner -----------------------------------------------------------------------------

class ZygoteUnavailable(RuntimeError):
    """The zygote could not start, died, or could not fork: the kernel starts cold instead."""


class Zygote:
    """The runner's handle on one zygote process: started at once, forks kernels on request.

    ``modules`` are the modules a kernel imports ahead (``runner.kernel_preload``); the zygote
    imports them as a cold kernel's preload does (``_preload``). With ``modules`` None, the zygote
    works out the preload of the procedure notebooks in the folder ``notebooks`` itself
    (``wanted_modules``): ``workbench run`` starts it so before importing anything that list needs
    (``preloading.start_zygote_early``), and the run that adopts it says which modules it expects
    (``adopt_early``). Before the first fork, the modules the zygote imported are compared with
    those expected: a zygote that imported others is not used (the kernels start cold).

    Thread-safe: each control's thread asks for its kernels through the same socket, one request
    at a time.
    """

    def __init__(self, modules: list[str] | None, cwd: Path, env: dict[str, str] | None = None,
                 python: str = sys.executable, notebooks: Path | None = None):
        if modules is None and notebooks is None:
            raise ValueError("a zygote needs its modules, or the folder of the notebooks whose preload it imports")
        self.python = python
        self.modules = None if modules is None else list(modules)
        self.notebooks = None if notebooks is None else Path(notebooks)
        self.cwd = Path(cwd)
        self.env = dict(env) if env is not None else None
        self._lock = threading.Lock()
        self._buffer = b""
        self._ready = False
        ours, theirs = socket.socketpair()
        self._channel = ours
        try:
            self.process = subprocess.Popen(
                [python, "-m", MODULE, LAUNCHER[1], str(theirs.fileno()),
                 json.dumps(self.modules if self.modules is not None else {"preload_of": str(self.notebooks)})],
                cwd=str(cwd), env=env, stdin=subprocess.PIPE, pass_fds=(theirs.fileno(),),
                start_new_session=True)
        finally:
            theirs.close()

    def _read_line(self, timeout: float) -> dict[str, Any]:
        """The zygote's next answer (a JSON line); raises ``ZygoteUnavailable`` if it has gone."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ZygoteUnavailable(f"the warm kernel process did not answer within {timeout:.0f} s")
            readable, _, _ = select.select([self._channel], [], [], min(left, 1.0))
            if readable:
                data = self._channel.recv(65536)
                if not data:
                    raise ZygoteUnavailable(f"the warm kernel process ended ({self.process.poll()})")
                self._buffer += data
            elif self.process.poll() is not None:
                raise ZygoteUnavailable(f"the warm kernel process ended ({self.process.returncode})")
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def fork(self, argv: list[str], env: dict[str, str], cwd: str, status_file: str,
             timeout: float = 120.0) -> int:
        """Fork a kernel with this command line, environment and folder; its process id.

        Waits for the zygote's imports the first time (it started importing when it was created).
        """
        with self._lock:
            try:
                if not self._ready:
                    self._check_ready(self._read_line(timeout))
                    self._ready = True
                request = {"argv": argv, "env": env, "cwd": cwd, "status_file": status_file}
                self._channel.sendall(json.dumps(request).encode() + b"\n")
                answer = self._read_line(timeout)
            except OSError as exc:
                raise ZygoteUnavailable(f"the warm kernel process cannot be reached: {exc}") from exc
        if "pid" not in answer:
            raise ZygoteUnavailable(answer.get("error", "the warm kernel process did not fork"))
        return int(answer["pid"])

    def _check_ready(self, answer: dict[str, Any]) -> None:
        """The zygote's 'ready': raises ``ZygoteUnavailable`` if it imported other modules than the
        kernels preload (``modules``): its forks would differ from the kernels the run records."""
        imported = answer.get("modules")
        if self.modules is None:  # nobody said what to expect: take what it imported
            self.modules = imported
        elif imported is not None and list(imported) != self.modules:
            raise ZygoteUnavailable("the warm kernel process imported other modules than the run's kernels preload")

    def close(self) -> None:
        """Stop the zygote: close its socket (it kills any kernel of its own still running and
        exits), then make sure its process has ended. A zygote that never forked (a run refused by
        its check, say) is killed at once: it may still be importing."""
        with contextlib.suppress(OSError):
            self._channel.close()
        with contextlib.suppress(OSError):
            if self.process.stdin:
                self.process.stdin.close()
        try:
            self.process.wait(timeout=5 if self._ready else 0)
        except subprocess.TimeoutExpired:  # still importing, or stuck: it has no kernel to look after
            self.process.kill()
            self.process.wait()


#: The zygote started ahead of a run (``start_early``), until the run adopts it.
_early: Zygote | None = None
_early_lock = threading.Lock()


def start_early(modules: list[str] | None, cwd: Path, env: dict[str, str], notebooks: Path | None = None) -> None:
    """Start a zygote now, for a run that will ask for one with these modules (None: the preload of
    the notebooks in ``notebooks``, worked out by the zygote), folder and environment
    (``adopt_early``): ``workbench run`` calls this before it imports the runner, so the zygote's
    imports overlap the runner's. Replaces (and stops) one started earlier."""
    global _early
    zygote = Zygote(modules, cwd, env, notebooks=notebooks)
    with _early_lock:
        previous, _early = _early, zygote
    if previous is not None:
        previous.close()


def adopt_early(modules: list[str], cwd: Path, env: dict[str, str] | None) -> Zygote | None:
    """The zygote started ahead, if it was started with exactly these modules, folder and
    environment (it then belongs to the caller); else None, and one that does not match is stopped."""
    global _early
    with _early_lock:
        zygote, _early = _early, None
    if zygote is None:
        return None
    expected = zygote.modules if zygote.modules is not None else _preload_of(zygote.notebooks)
    if (expected, zygote.cwd, zygote.env) == (list(modules), Path(cwd), None if env is None else dict(env)) \
            and zygote.process.poll() is None:
        zygote.modules = expected  # checked against what it imported before its first fork
        return zygote
    zygote.close()
    return None


def _preload_of(notebooks: Path | None) -> list[str] | None:
    """The preload of the procedure notebooks in a folder (``preloading.kernel_preload``), as a
    zygote started with that folder works it out; None without a folder or if it cannot be read."""
    if notebooks is None:
        return None
    try:
        return wanted_modules({"preload_of": str(notebooks)})
    except (OSError, ValueError):
        return None


def started_early() -> bool:
    """Whether a zygote started ahead waits for a run to adopt it (``start_early``)."""
    with _early_lock:
        return _early is not None


def discard_early() -> None:
    """Stop a zygote started ahead that no run adopted (the run was refused before it began)."""
    global _early
    with _early_lock:
        zygote, _early = _early, None
    if zygote is not None:
        zygote.close()


class ForkedProcess:
    """A ``Popen``-like handle on a kernel forked by the zygote (a child of the zygote, not of
    this process): its return code comes from the status file the zygote writes when it reaps it."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, status_file: str):
        self.pid = pid
        self.status_file = status_file
        self.returncode: int | None = None
        self.exit_known = True

    def poll(self) -> int | None:
        """The return code once the kernel has ended, else None."""
        if self.returncode is not None:
            return self.returncode
        recorded = self._recorded()
        if recorded is not None:
            self.returncode = recorded
            return recorded
        try:
            os.kill(self.pid, 0)
            return None
        except ProcessLookupError:  # gone; the zygote writes its status just after reaping it
            time.sleep(0.2)
            recorded = self._recorded()
            if recorded is None:  # the zygote itself has gone: nobody knows how the kernel ended
                self.exit_known, recorded = False, 1
            self.returncode = recorded
            return recorded
        except PermissionError:
            return None

    def _recorded(self) -> int | None:
        """The return code the zygote recorded, or None (not ended yet)."""
        try:
            return int(Path(self.status_file).read_text())
        except (OSError, ValueError):
            return None

    def wait(self, timeout: float | None = None) -> int:
        """Wait until the kernel has ended; its return code."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0)
            time.sleep(REAP_INTERVAL_SECONDS)
        return code

    def send_signal(self, signum: int) -> None:
        """Signal the kernel (nothing if it has ended)."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def kill(self) -> None:
        """Kill the kernel."""
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        """Ask the kernel to end."""
        self.send_signal(signal.SIGTERM)


def forking_provisioner(zygote: Zygote, manager: Any) -> Any:
    """A jupyter_client provisioner for ``manager`` that gets its kernel from ``zygote``.

    jupyter_client prepares everything as for a local kernel (ports, connection file, environment,
    command line); only the launch differs: a fork instead of ``Popen``.
    """
    from jupyter_client.provisioning import LocalProvisioner

    class ForkingProvisioner(LocalProvisioner):  # type: ignore[misc]
        """``LocalProvisioner`` whose kernel process is forked by the zygote."""

        async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
            """Fork the kernel this command line describes (refused: ``ZygoteUnavailable``)."""
            argv = launcher_arguments(cmd, zygote.python)
            if argv is None:
                raise ZygoteUnavailable(f"a forked kernel cannot stand in for {cmd[:3]}")
            env = dict(kwargs.get("env") or os.environ)
            env["JPY_PARENT_PID"] = str(os.getpid())  # as jupyter_client's launcher sets it
            cwd = str(kwargs.get("cwd") or Path.cwd())
            status_file = str(self.parent.connection_file) + EXIT_SUFFIX
            Path(status_file).unlink(missing_ok=True)
            pid = zygote.fork(argv, env, cwd, status_file)
            timing_trace.mark("kernel-forked", kernel=pid)
            self.process = ForkedProcess(pid, status_file)
            self.pid = self.pgid = pid
            self.cwd = cwd
            return self.connection_info

        async def cleanup(self, restart: bool = False) -> None:
            """Return the ports and remove the exit status file."""
            await super().cleanup(restart)
            Path(str(self.parent.connection_file) + EXIT_SUFFIX).unlink(missing_ok=True)

    return ForkingProvisioner(kernel_id=manager.kernel_id, kernel_spec=manager.kernel_spec, parent=manager)


if __name__ == "__main__":
    main()
