"""Warm kernels (``workbench.kernel_zygote``): forked per control, nothing of one control visible to the
next, the same environment and the same workpapers as cold kernels, failures reported as before.

The runs use a stand-in procedure notebook (written here) that records what its kernel looks like
(environment, folder, modules, globals, random stream, matplotlib's settings) and then leaves as
much state behind as it can; every control after the first must see none of it.
"""

from __future__ import annotations

import io
import json
import textwrap
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import pytest

from conftest import write_uar_period
from workbench import cli, kernel_zygote, runner
from workbench.runner import latest_run

pytestmark = pytest.mark.skipif(not kernel_zygote.fork_available(), reason="warm kernels need fork (Linux)")

CONTROLS = ("UAR-01", "UAR-02", "UAR-03")

RECORD_AND_LEAK = textwrap.dedent('''
    import gc, json, os, sys, types, pathlib
    import numpy as np
    import matplotlib
    import workbench.workpapers
    out = pathlib.Path(run_dir).resolve() / control_id
    facts = {
        "pid": os.getpid(),
        "leaked_global": "LEAKED_GLOBAL" in globals(),
        "leaked_module_attribute": hasattr(json, "workbench_leak") or hasattr(workbench.workpapers, "LEAK"),
        "leaked_environment": os.environ.get("WORKBENCH_LEAK"),
        "leaked_module": "workbench_leaky_module" in sys.modules,
        "leaked_sys_path": "/workbench-leak" in sys.path,
        "leaked_matplotlib_setting": matplotlib.rcParams["lines.linewidth"],
        "cwd_is_the_control_folder": pathlib.Path.cwd().resolve() == out,
        "numpy_draw": float(np.random.random()),
        "environment": {k: v for k, v in os.environ.items()},
        "argv": [pathlib.Path(sys.argv[0]).name, *[a for a in sys.argv[1:] if not a.endswith(".json")]],
        "sys_path": sys.path,
        "executable": sys.executable,
        "matplotlib_backend": matplotlib.rcParams._get("backend"),
        "frozen_objects": gc.get_freeze_count(),
        "collector_enabled": gc.isenabled(),
    }
    (out / "facts.json").write_text(json.dumps(facts, indent=1, sort_keys=True))
    LEAKED_GLOBAL = 1
    json.workbench_leak = 1
    workbench.workpapers.LEAK = 1
    os.environ["WORKBENCH_LEAK"] = "1"
    sys.modules["workbench_leaky_module"] = types.ModuleType("workbench_leaky_module")
    sys.path.append("/workbench-leak")
    matplotlib.rcParams["lines.linewidth"] = 9.0
    np.random.seed(1)
    os.chdir("/")
''')
CONCLUDE = textwrap.dedent('''
    (out / "sample.csv").write_text("item_key,selection_basis\\nk1,statistical\\n")
    (out / "result.json").write_text(json.dumps({"conclusions": ["SOC 2: No exceptions noted"], "exception_count": 0}))
    from IPython.display import display
    from matplotlib.figure import Figure
    from workbench import charts
    figure = Figure(figsize=(3, 2))
    figure.add_subplot().bar(["approved", "revoked"], [40, 3])
    display(figure)
''')


def _project(base: Path) -> Path:
    """A project with the demo period's parameters (its controls: copies of one) and the stand-in
    notebook as the procedure's notebook."""
    parameter_file = write_uar_period(base, CONTROLS)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell('run_dir = ""\ncontrol_id = ""', metadata={"tags": ["parameters"]}),
                      nbformat.v4.new_markdown_cell("## 1. Record and leak"),
                      nbformat.v4.new_code_cell(RECORD_AND_LEAK),
                      nbformat.v4.new_markdown_cell("## 2. Conclude"),
                      nbformat.v4.new_code_cell(CONCLUDE)]
    (base / "notebooks").mkdir()
    nbformat.write(notebook, base / "notebooks" / "user_access_review.ipynb")
    return parameter_file


def _run(base: Path, *extra: str) -> tuple[int, Path]:
    parameter_file = base / "parameters" / "period.yaml"
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(io.StringIO()):
        patch.setattr(runner, "project_root", lambda: base)
        patch.setattr(runner, "notebooks_folder", lambda: base / "notebooks")
        code = cli.main(["run", str(parameter_file), "--out", str(base / "outputs"), "--jobs", "1", *extra])
    return code, latest_run(base / "outputs" / "2026-Q3")


def _facts(run_dir: Path) -> dict[str, dict]:
    return {cid: json.loads((run_dir / cid / "facts.json").read_text()) for cid in CONTROLS}


def _kernels(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())["run_metadata"]["kernels"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """The same period run with warm kernels and with cold ones, one control after another."""
    base = tmp_path_factory.mktemp("warm")
    _project(base)
    warm_code, warm = _run(base)
    cold_code, cold = _run(base, "--kernels", "cold")
    assert (warm_code, cold_code) == (0, 0)
    return {"warm": warm, "cold": cold, "base": base}


def test_each_control_ran_in_a_kernel_of_its_own_forked_warm(runs):
    kernels = _kernels(runs["warm"])
    assert kernels["requested"] == "warm" and kernels["started"]["cold"] == 0
    assert kernels["started"]["warm"] >= len(CONTROLS)
    pids = [facts["pid"] for facts in _facts(runs["warm"]).values()]
    assert len(set(pids)) == len(CONTROLS)
    assert _kernels(runs["cold"])["started"] == {"warm": 0, "cold": len(CONTROLS)}


def test_no_kernel_is_started_that_no_control_uses(runs):
    assert _kernels(runs["warm"])["started"] == {"warm": len(CONTROLS), "cold": 0}


class _StandInKernel:
    """A stand-in ``Kernel``: its number, in the order started."""

    def __init__(self, number: int) -> None:
        self.number = number

    def close(self) -> None:
        """Nothing to stop."""


class _CountingSource:
    """A stand-in ``KernelSource``: counts the kernels started."""

    preload: list[str] = []

    def __init__(self) -> None:
        self.started: list[_StandInKernel] = []

    def start(self) -> _StandInKernel:
        kernel = _StandInKernel(len(self.started))
        self.started.append(kernel)
        return kernel


@pytest.mark.parametrize(("controls", "jobs"), [(6, 2), (5, 2), (3, 3), (1, 2), (4, 1)])
def test_executors_sharing_ready_kernels_start_one_kernel_per_control(controls, jobs, monkeypatch):
    """Each executor readies a kernel for a later control while its own runs; together they never
    ready more than the controls left, so every kernel started runs a control."""
    import threading
    import time

    source = _CountingSource()
    queue = runner.ControlQueue([(f"C-{i}", Path(f"c{i}.ipynb")) for i in range(controls)])
    ready = runner.ReadyKernels(queue, source)
    used = []

    def execute(context, control_id, notebook, kernel, preload, notify):
        used.append(kernel.number)
        time.sleep(0.01 * (1 + kernel.number % 3))  # controls of different lengths
        return control_id

    monkeypatch.setattr(runner, "execute_control", execute)
    executors = [runner.ControlExecutor(queue, source, ready=ready) for _ in range(jobs)]
    for executor in executors:
        executor.ready_kernel()
    threads = [threading.Thread(target=e.run, args=(None, lambda outcome: None)) for e in executors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(used) == list(range(controls)) and len(source.started) == controls


def test_what_the_zygote_imports_set_in_its_environment_is_set_in_every_fork(tmp_path):
    """A library that sets an environment variable when imported (debugpy does) sets it in a cold
    kernel; the zygote reports it, so each fork sets it too, unless its own environment does."""
    import subprocess
    import sys

    (tmp_path / "sets_a_variable.py").write_text("import os\nos.environ.setdefault('WORKBENCH_TEST_SET_BY_IMPORT', 'yes')\n")
    code = ("import json, sys\nfrom workbench import kernel_zygote\n"
            "print(json.dumps(kernel_zygote._preload(['sets_a_variable'])))")
    env = {**__import__("os").environ, "PYTHONPATH": f"{tmp_path}:{Path(kernel_zygote.__file__).parents[1]}"}
    env.pop("WORKBENCH_TEST_SET_BY_IMPORT", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["WORKBENCH_TEST_SET_BY_IMPORT"] == "yes"


def test_the_zygote_writes_nothing_to_the_terminal_while_it_imports_the_kernel_app():
    """debugpy warns about frozen modules when ipykernel's debugger is imported: a cold kernel's
    output stream swallows it; the zygote, whose output is the terminal of ``workbench run``, drops it."""
    import subprocess
    import sys

    code = ("from workbench import kernel_zygote\n"
            "kernel_zygote._preload([])\n"
            "import sys\nassert all(m in sys.modules for m in kernel_zygote.KERNEL_APP_MODULES)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in __import__("os").environ.items() if not k.startswith("PYDEVD")})
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")


@pytest.mark.parametrize("mode", ["warm", "cold"])
def test_nothing_one_control_leaves_behind_is_visible_to_the_next(runs, mode):
    for control_id, facts in _facts(runs[mode]).items():
        assert facts["leaked_global"] is False, control_id
        assert facts["leaked_module_attribute"] is False, control_id
        assert facts["leaked_environment"] is None, control_id
        assert facts["leaked_module"] is False, control_id
        assert facts["leaked_sys_path"] is False, control_id
        assert facts["leaked_matplotlib_setting"] != 9.0, control_id
        assert facts["cwd_is_the_control_folder"] is True, control_id


def test_each_warm_kernel_draws_its_own_random_stream_as_a_new_process_does(runs):
    draws = [facts["numpy_draw"] for facts in _facts(runs["warm"]).values()]
    assert len(set(draws)) == len(draws), "forked kernels must not share the zygote's NumPy seed"


def test_a_warm_kernels_collector_never_visits_what_the_zygote_imported(runs):
    """The zygote freezes its imported objects before forking (``freeze_imported_objects``), so a
    fork's collections neither cost the time to visit them nor copy their memory pages; a cold
    kernel freezes nothing."""
    assert all(facts["frozen_objects"] > 100_000 for facts in _facts(runs["warm"]).values())
    assert all(facts["frozen_objects"] == 0 for facts in _facts(runs["cold"]).values())
    # the zygote imports with its collector off; every kernel collects, as a cold one does
    assert all(facts["collector_enabled"] for run in ("warm", "cold") for facts in _facts(runs[run]).values())


def test_a_warm_kernel_has_the_environment_of_a_cold_one(runs):
    warm, cold = _facts(runs["warm"])["UAR-02"], _facts(runs["cold"])["UAR-02"]
    for key in ("environment", "argv", "sys_path", "executable", "matplotlib_backend"):
        assert warm[key] == cold[key], key


def test_warm_and_cold_kernels_write_the_same_workpapers_byte_for_byte(runs):
    for control_id in CONTROLS:
        for name in ("workpaper.ipynb", "workpaper.html", "result.json", "sample.csv"):
            assert (runs["warm"] / control_id / name).read_bytes() == (runs["cold"] / control_id / name).read_bytes(), \
                f"{control_id}/{name}"
    page = (runs["warm"] / "UAR-01" / "workpaper.html").read_text()
    assert 'src="data:image/png;base64,' in page, "the figure is displayed as the package registers it"


def test_no_zygote_or_kernel_is_left_running(runs):
    psutil = pytest.importorskip("psutil")
    left = [p.cmdline() for p in psutil.Process().children(recursive=True)
            if any(name in " ".join(p.cmdline()) for name in ("ipykernel", kernel_zygote.MODULE))]
    assert left == []


def test_a_kernel_that_dies_is_reported_with_how_it_ended(tmp_path):
    _project(tmp_path)
    path = tmp_path / "notebooks" / "user_access_review.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(2, nbformat.v4.new_code_cell("import os\nif control_id == 'UAR-02':\n    os._exit(3)"))
    nbformat.write(notebook, path)
    code, run_dir = _run(tmp_path)
    assert code == 1
    controls = {c["control_id"]: c for c in json.loads((run_dir / "manifest.json").read_text())["controls"]}
    assert controls["UAR-02"]["status"] == "failed" and "the kernel died" in controls["UAR-02"]["error"]
    assert controls["UAR-01"]["status"] == controls["UAR-03"]["status"] == "completed"
    assert _kernels(run_dir)["started"]["cold"] == 0


def test_when_the_zygote_cannot_fork_the_kernels_start_cold(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise kernel_zygote.ZygoteUnavailable("simulated: no fork")

    monkeypatch.setattr(kernel_zygote.Zygote, "fork", refuse)
    _project(tmp_path)
    code, run_dir = _run(tmp_path)
    assert code == 0
    assert _kernels(run_dir)["started"]["warm"] == 0 and _kernels(run_dir)["started"]["cold"] >= len(CONTROLS)


# --- pure parts ----------------------------------------------------------------------------------

def test_a_fork_stands_in_only_for_this_python_running_ipykernel_launcher(tmp_path):
    python = "/usr/bin/python3"
    assert kernel_zygote.launcher_arguments([python, "-m", "ipykernel_launcher", "-f", "c.json"], python) == \
        ["-f", "c.json"]
    assert kernel_zygote.launcher_arguments(["/other/python", "-m", "ipykernel_launcher"], python) is None
    assert kernel_zygote.launcher_arguments([python, "-m", "some_other_kernel"], python) is None


def test_the_zygote_imports_the_preload_as_a_cold_kernel_does_without_reading_the_package_first(tmp_path):
    """The zygote imports the preload's modules as a cold kernel does: what they import at module
    level, and no module behind a branch that import never takes (nor one only a function imports).
    It works nothing out beforehand: no source file of the package is read (listing the libraries
    beneath the package by parsing its source cost 0.3 s of CPU before the first import)."""
    import subprocess
    import sys

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(textwrap.dedent('''
        import sys
        import csv
        from . import b
        if sys.platform == "no-such-platform":
            import tabnanny
        try:
            import fractions
        except ImportError:
            import mailbox
        def lazy():
            import pickletools
    '''))
    (package / "b.py").write_text("import decimal\n")
    code = textwrap.dedent('''
        import json, pathlib, sys
        from workbench import kernel_zygote, preloading
        modules = preloading.kernel_preload(preloading.notebooks_folder())
        package = pathlib.Path(kernel_zygote.__file__).parent
        read, read_text = [], pathlib.Path.read_text
        def recording(self, *args, **kwargs):
            read.append(str(self))
            return read_text(self, *args, **kwargs)
        pathlib.Path.read_text = recording
        kernel_zygote._preload([*modules, "pkg.a"])
        print(json.dumps({"sources_read": [p for p in read if p.startswith(str(package)) and p.endswith(".py")],
                          "imported": {m: m in sys.modules for m in ["pkg.a", "pkg.b", "csv", "decimal", "fractions",
                                                                     "tabnanny", "mailbox", "pickletools"]},
                          "not_preloaded": [m for m in modules if m not in sys.modules and not hasattr(
                              sys.modules.get(m.rpartition(".")[0]), m.rpartition(".")[2])]}))
    ''')
    env = {**__import__("os").environ, "PYTHONPATH": f"{tmp_path}:{Path(kernel_zygote.__file__).parents[1]}"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["sources_read"] == []
    assert facts["imported"] == {"pkg.a": True, "pkg.b": True, "csv": True, "decimal": True, "fractions": True,
                                 "tabnanny": False, "mailbox": False, "pickletools": False}
    assert facts["not_preloaded"] == []


def test_a_forked_process_handle_reads_the_exit_status_the_zygote_recorded(tmp_path):
    status = tmp_path / "kernel.json.exit"
    handle = kernel_zygote.ForkedProcess(2 ** 22 + 12345, str(status))  # no such process
    status.write_text("-9")
    assert handle.poll() == -9 and handle.wait(timeout=1) == -9
    assert runner.exit_description(handle.poll()) == "killed by SIGKILL"


def test_every_kernel_imports_the_same_modules_whichever_controls_a_run_tests():
    folder = runner.notebooks_folder()
    one = runner.kernel_preload(folder, [folder / "user_access_review.ipynb"])
    every = runner.kernel_preload(folder, sorted(folder.glob("*.ipynb")))
    assert one == runner.kernel_preload(folder, [folder / "termination.ipynb"]) == runner.kernel_preload(folder)
    assert "workbench.procedures.termination" in one and "workbench.procedures.user_access_review" in one
    assert set(one) <= set(every)


def test_the_zygote_imports_the_package_too_and_a_forked_kernel_registers_its_shell_hooks():
    """The package is imported once in the zygote; what a module registers with the shell on import
    (a bare Figure displayed as its PNG) is registered again in each kernel once its shell exists."""
    import subprocess
    import sys

    code = textwrap.dedent('''
        import json, sys
        from workbench import kernel_zygote
        kernel_zygote._preload(["workbench.charts", "workbench.analytics"])
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        ran = kernel_zygote.register_shell_hooks()
        from matplotlib.figure import Figure
        figure = Figure(figsize=(2, 1))
        figure.add_subplot().bar(["a"], [1])
        html = shell.display_formatter.formatters["text/html"](figure)
        print(json.dumps({"imported": ["workbench.charts" in sys.modules, "workbench.analytics" in sys.modules],
                          "ran": ran, "png": "data:image/png;base64" in (html or "")}))
    ''')
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    facts = json.loads(completed.stdout.strip().splitlines()[-1])
    assert facts == {"imported": [True, True], "ran": ["workbench.charts"], "png": True}


def test_every_import_time_call_of_the_package_is_a_known_shell_hook():
    """A module of the package that does something when imported (a call at module level) would do it
    in the zygote, not in the kernel: each such call must be a shell hook a forked kernel calls again."""
    import ast

    package = Path(kernel_zygote.__file__).resolve().parent
    hooks = {(module, function) for module, function in kernel_zygote.SHELL_HOOKS}
    calls = set()
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                calls.add((module, ast.unparse(node.value.func)))
    assert calls == hooks


def test_the_zygote_leaves_without_tearing_down_its_interpreter():
    """Once its kernels are killed it ends at once (``leave``): no exit handler runs, exit status 0."""
    import subprocess
    import sys

    code = ("import atexit\nfrom workbench import kernel_zygote\n"
            "atexit.register(lambda: print('torn down'))\nprint('leaving')\nkernel_zygote.leave()\n")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (completed.returncode, completed.stdout) == (0, "leaving\n")


def test_a_run_adopts_the_zygote_started_ahead_only_when_it_asks_for_the_same(tmp_path):
    """``workbench run`` starts the zygote before importing the runner; the run takes it over when
    its modules, folder and environment are those the run asks for, and stops it otherwise."""
    from workbench import preloading

    folder = runner.notebooks_folder()
    preloading.start_zygote_early(folder)
    early = kernel_zygote._early
    source = runner.KernelSource(runner.kernel_preload(folder), folder)
    try:
        assert early is not None and source.zygote is early and kernel_zygote._early is None
    finally:
        source.close()
    assert early.process.poll() is not None

    preloading.start_zygote_early(folder)
    early = kernel_zygote._early
    other = runner.KernelSource(["json"], folder)  # other modules: a zygote of its own
    try:
        assert other.zygote is not None and other.zygote is not early
        assert early.process.wait(timeout=10) is not None  # the one started ahead was stopped
    finally:
        other.close()
    preloading.start_zygote_early(folder)
    early = kernel_zygote._early
    kernel_zygote.discard_early()  # a run refused before it began
    assert kernel_zygote._early is None and early.process.poll() is not None


def test_a_zygote_whose_runner_has_gone_before_it_is_ready_leaves_without_a_traceback():
    """A run refused by its check stops the zygote started ahead; if the zygote has just finished
    importing, its 'ready' meets a closed socket: it leaves quietly (no traceback on the terminal)."""
    import socket
    import subprocess
    import sys

    ours, theirs = socket.socketpair()
    ours.close()
    completed = subprocess.run([sys.executable, "-m", kernel_zygote.MODULE, kernel_zygote.LAUNCHER[1],
                                str(theirs.fileno()), json.dumps(["json"])], pass_fds=(theirs.fileno(),),
                               capture_output=True, text=True, timeout=120)
    theirs.close()
    assert completed.returncode == 0 and "Traceback" not in completed.stderr


def test_a_zygote_started_ahead_works_out_the_notebooks_preload_itself_and_a_run_forks_from_it():
    """``workbench run`` starts the zygote before anything the preload list needs is imported: the
    zygote works the list out (the same as the run's), and the run that adopts it forks warm kernels."""
    from workbench import preloading

    folder = runner.notebooks_folder()
    assert kernel_zygote.wanted_modules({"preload_of": str(folder)}) == runner.kernel_preload(folder)
    preloading.start_zygote_early(folder)
    early = kernel_zygote._early
    assert early is not None and early.modules is None and early.notebooks == folder
    source = runner.KernelSource(runner.kernel_preload(folder), folder)
    try:
        assert source.zygote is early and early.modules == runner.kernel_preload(folder)
        kernel = source.start()
        assert kernel is not None and kernel.warm
        kernel.close()
    finally:
        source.close()


def test_a_zygote_that_imported_other_modules_than_the_run_expects_is_not_forked_from(tmp_path):
    """Before its first fork, the modules the zygote imported are compared with those the run's kernels
    preload: a zygote that imported others is not used (the run's kernels then start cold)."""
    zygote = kernel_zygote.Zygote(["json"], tmp_path)
    zygote.modules = ["csv"]  # what the run expected
    try:
        with pytest.raises(kernel_zygote.ZygoteUnavailable, match="other modules"):
            zygote.fork(["-f", str(tmp_path / "kernel.json")], {}, str(tmp_path), str(tmp_path / "kernel.json.exit"))
    finally:
        zygote.close()
    assert zygote.process.poll() is not None
