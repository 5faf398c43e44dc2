"""The period runner: parallel execution, failures that do not stop the others, progress, sign-off.

The runs here use small stand-in procedure notebooks (written by the tests) instead of the real
ones, so they test the runner itself: kernels, parallel controls, failure handling, progress and
publishing.
The parameter file is the demo period's, with its controls replaced by copies of one control.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import nbformat
import pytest
import yaml

from conftest import ROOT, sign_off_workpapers, write_uar_period
from workbench import cli, lineage, runner
from workbench.runner import DEMO_PARAMETER_FILE, latest_run

OK_CONTROLS = ("UAR-01", "UAR-04")
FAILING = "UAR-02"  # a cell raises
DYING = "UAR-03"  # the kernel dies mid-notebook
GARBLED = "UAR-06"  # the notebook records a result that is not JSON

NOTEBOOK_CELLS = [
    ("code", 'run_dir = ""\ncontrol_id = ""', ["parameters"]),
    ("markdown", "# Stand-in procedure\nOnly for the runner's tests.", ["remove-cell"]),
    ("markdown", "## 1. Population", []),
    ("code", "import json, os, pathlib\n"
             "from IPython.display import display\n"
             "from workbench import workpapers as wp\n"
             "out = pathlib.Path(run_dir) / control_id\n"
             "pathlib.Path('cwd.txt').write_text(os.getcwd())\n"
             "display(wp.paragraph(f'Population of {control_id} <b>loaded</b>'))", []),
    ("markdown", "## 2. Testing", []),
    ("code", "if control_id == 'UAR-02':\n"
             "    raise ValueError('the population export users.csv has a malformed date on line 4')\n"
             "if control_id == 'UAR-03':\n"
             "    os._exit(1)", []),
    ("code", "import matplotlib.pyplot as plt\n"
             "fig, ax = plt.subplots(figsize=(3, 2))\n"
             "ax.bar(['approved', 'revoked'], [40, 3])\n"
             "plt.show()", []),
    ("markdown", "## 3. Conclusion", []),
    ("code", "(out / 'sample.csv').write_text('item_key,selection_basis\\nk1,statistical\\n')\n"
             "result = {'conclusions': ['SOC 2: No exceptions noted'], 'exception_count': 0}\n"
             "(out / 'result.json').write_text('{not json' if control_id == 'UAR-06' else json.dumps(result))", []),
]


def _stand_in_notebook(path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, source, tags in NOTEBOOK_CELLS:
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        notebook.cells.append(make(source, metadata={"tags": tags} if tags else {}))
    nbformat.write(notebook, path)


def _project(base: Path, control_ids: tuple[str, ...]) -> Path:
    """A project folder: stand-in notebooks, the demo period with these controls, and as its exports
    the small test fixtures of the same kinds (a run is checked first, so they must be readable)."""
    parameter_file = write_uar_period(base, control_ids)
    (base / "notebooks").mkdir()
    _stand_in_notebook(base / "notebooks" / "user_access_review.ipynb")
    return parameter_file


def _run_cli(base: Path, parameter_file: Path, *extra: str) -> tuple[int, Path]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "project_root", lambda: base)
        patch.setattr(runner, "notebooks_folder", lambda: base / "notebooks")
        code = cli.main(["run", str(parameter_file), "--out", str(base / "outputs"), *extra])
    return code, latest_run(base / "outputs" / "2026-Q3")


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory) -> dict:
    """Five controls, one job per core (default): two complete, one raises, one's kernel dies, one
    records a garbled result."""
    base = tmp_path_factory.mktemp("failing")
    parameter_file = _project(base, ("UAR-01", "UAR-02", "UAR-03", "UAR-04", "UAR-06"))
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code, run_dir = _run_cli(base, parameter_file)
    return {"code": code, "run_dir": run_dir, "out": out.getvalue(), "err": err.getvalue(), "base": base}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> dict:
    """Two controls that complete, in this process (--jobs 1)."""
    base = tmp_path_factory.mktemp("clean")
    parameter_file = _project(base, OK_CONTROLS)
    out = io.StringIO()
    with redirect_stdout(out):
        code, run_dir = _run_cli(base, parameter_file, "--jobs", "1")
    return {"code": code, "run_dir": run_dir, "out": out.getvalue(), "base": base}


def _status(run_dir: Path, control_id: str) -> dict:
    return nbformat.read(run_dir / control_id / "workpaper.ipynb", as_version=4).metadata["workbench"]


# --- a failing control does not stop the others ------------------------------------------------

def test_the_command_exits_1_and_names_only_the_failed_controls(failing_run):
    assert failing_run["code"] == 1
    failed_line = next(line for line in failing_run["err"].splitlines() if line.startswith("Failed workpaper"))
    assert FAILING in failed_line and DYING in failed_line and GARBLED in failed_line
    assert not any(cid in failed_line for cid in OK_CONTROLS)


def test_the_other_controls_complete_with_their_workpapers(failing_run):
    run_dir = failing_run["run_dir"]
    for control_id in OK_CONTROLS:
        assert _status(run_dir, control_id)["status"] == "completed"
        page = (run_dir / control_id / "workpaper.html").read_text()
        assert "Population of" in page and "&lt;b&gt;loaded&lt;/b&gt;" in page
        assert (run_dir / control_id / "result.json").is_file()


def test_a_cell_error_keeps_the_partial_notebook_and_shows_the_error(failing_run):
    run_dir = failing_run["run_dir"]
    status = _status(run_dir, FAILING)
    assert status["status"] == "failed"
    assert "malformed date on line 4" in status["error"] and "2. Testing" in status["error"]
    notebook = nbformat.read(run_dir / FAILING / "workpaper.ipynb", as_version=4)
    outputs = json.dumps([c.get("outputs", []) for c in notebook.cells])
    assert "Population of UAR-02" in outputs, "the cells before the failure keep their outputs"
    page = (run_dir / FAILING / "workpaper.html").read_text()
    assert "Run failed" in page and "malformed date on line 4" in page and "wp-status-failed" in page


def test_a_cell_error_workpaper_keeps_papermills_error_banner_from_the_notebook_held_in_memory(failing_run):
    """The executed notebook is not written by papermill and read back (``runner.executed_notebook``):
    after a cell error, the notebook papermill was executing, with its banner and anchor, is published."""
    notebook = nbformat.read(failing_run["run_dir"] / FAILING / "workpaper.ipynb", as_version=4)
    banners = [c for c in notebook.cells if "papermill-error-cell-tag" in c.metadata.get("tags", [])]
    assert len(banners) == 2 and "An Exception was encountered" in banners[0].source


def test_a_failed_workpaper_folds_its_traceback_and_the_terminal_shows_none(failing_run):
    """Issue 14: the error in words first; the Python traceback only under the folded technical detail."""
    page = (failing_run["run_dir"] / FAILING / "workpaper.html").read_text()
    before, folded = page.split('<details class="wp-technical">', 1)
    assert "This step stopped:" in before and "malformed date on line 4" in before
    assert "Traceback (most recent call last)" not in before.replace("&#x27;", "'")
    assert "Traceback (most recent call last)" in folded.split("</details>")[0]
    assert "Traceback (most recent call last)" not in failing_run["out"] + failing_run["err"]


def test_a_dead_kernel_fails_the_workpaper_even_though_the_notebook_looks_complete(failing_run):
    run_dir = failing_run["run_dir"]
    status = _status(run_dir, DYING)
    assert status["status"] == "failed" and "kernel died" in status["error"]
    notebook = nbformat.read(run_dir / DYING / "workpaper.ipynb", as_version=4)
    assert "Population of UAR-03" in json.dumps([c.get("outputs", []) for c in notebook.cells])
    assert "kernel died" in (run_dir / DYING / "workpaper.html").read_text()


def test_a_garbled_result_fails_the_workpaper(failing_run):
    status = _status(failing_run["run_dir"], GARBLED)
    assert status["status"] == "failed" and "result.json is not valid JSON" in status["error"]


def test_the_index_and_manifest_mark_the_failed_controls(failing_run):
    run_dir = failing_run["run_dir"]
    page = (run_dir / "index.html").read_text()
    assert "3 control workpaper(s) failed: UAR-02, UAR-03, UAR-06" in page
    assert page.count('class="wp-row-failed"') == 3 and page.count('class="wp-row-completed"') == 2
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert [(c["control_id"], c["status"]) for c in manifest["controls"]] == [
        ("UAR-01", "completed"), ("UAR-02", "failed"), ("UAR-03", "failed"), ("UAR-04", "completed"),
        ("UAR-06", "failed")]  # in the parameter file's order, whatever order they finished in
    assert manifest["run_metadata"]["jobs"] == min(os.cpu_count() or 1, 5)  # --jobs defaults to the cores


def test_a_run_with_failed_controls_still_verifies_but_cannot_be_signed_off(failing_run, capsys):
    run_dir = failing_run["run_dir"]
    assert cli.main(["verify", str(run_dir)]) == 0
    assert cli.main(["signoff", str(run_dir), "--reviewer", "Morgan Lee"]) == 1
    assert "failed workpaper(s) UAR-02, UAR-03, UAR-06" in capsys.readouterr().err
    assert not (run_dir / lineage.SIGNOFF).exists()


def test_the_summary_table_lists_every_control_with_frameworks_result_exceptions_and_time(failing_run):
    lines = failing_run["out"].splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("Control"))
    assert lines[header].split()[:2] == ["Control", "Framework(s)"]
    assert "Result" in lines[header] and "Exceptions" in lines[header] and "Time" in lines[header]
    rows = {line.split()[0]: line for line in lines[header + 2:header + 7]}
    assert list(rows) == ["UAR-01", "UAR-02", "UAR-03", "UAR-04", "UAR-06"]
    assert "SOC 2 CC6.2" in rows["UAR-01"] and "No exceptions noted" in rows["UAR-01"]
    assert "FAILED: ValueError" in rows["UAR-02"]
    assert "5 control(s) tested in" in failing_run["out"]
    assert "2 workpaper(s) completed, 3 failed" in failing_run["out"]


def test_progress_speaks_of_controls_in_plain_lines_when_not_on_a_terminal(failing_run):
    out = failing_run["out"]
    assert f"testing 5 control(s), {min(os.cpu_count() or 1, 5)} at a time" in out
    assert "Testing control UAR-01 ..." in out
    assert any(line.startswith("[") and "UAR-02 FAILED" in line for line in out.splitlines())


# --- kernels, figures and the working folder ---------------------------------------------------

def test_each_notebook_runs_in_its_control_folder(clean_run):
    for control_id in OK_CONTROLS:  # in the staging folder: the run folder gets its name when complete
        folder = clean_run["run_dir"] / control_id
        staged = folder.parent.with_name(folder.parent.name + ".incomplete") / control_id
        assert Path((folder / "cwd.txt").read_text()).resolve() == staged.resolve()


def test_figures_are_embedded_in_the_workpaper(clean_run):
    page = (clean_run["run_dir"] / "UAR-01" / "workpaper.html").read_text()
    assert '<img alt="' in page and 'src="data:image/png;base64,' in page


def test_the_modules_imported_ahead_are_recorded_in_the_notebook(clean_run):
    preloaded = _status(clean_run["run_dir"], "UAR-01")["kernel_preloaded_modules"]
    assert "matplotlib.pyplot" in preloaded and "workbench.workpapers" in preloaded


def test_no_kernel_is_left_running_after_a_run(clean_run):
    psutil = pytest.importorskip("psutil")
    kernels = [p for p in psutil.Process().children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]
    assert kernels == []


def test_one_job_and_two_jobs_give_the_same_results(clean_run, failing_run):
    for control_id in OK_CONTROLS:
        for name in ("result.json", "sample.csv"):
            assert (clean_run["run_dir"] / control_id / name).read_bytes() == \
                   (failing_run["run_dir"] / control_id / name).read_bytes()


def test_a_fault_of_the_runner_itself_fails_the_controls_it_had_and_the_others_complete(tmp_path, capsys):
    parameter_file = _project(tmp_path, ("UAR-01", "UAR-04", "UAR-07", "UAR-08"))
    real = runner.execute_control

    def faulty(context, control_id, *args, **kwargs):
        if control_id == "UAR-04":
            raise RuntimeError("simulated fault in the runner")
        return real(context, control_id, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "execute_control", faulty)
        code, run_dir = _run_cli(tmp_path, parameter_file, "--jobs", "2")
    assert code == 1
    statuses = {c["control_id"]: c for c in json.loads((run_dir / "manifest.json").read_text())["controls"]}
    assert statuses["UAR-04"]["status"] == "failed"
    assert "the run stopped before testing this control: RuntimeError: simulated fault" in statuses["UAR-04"]["error"]
    assert "simulated fault" in (run_dir / "UAR-04" / "workpaper.html").read_text()
    assert statuses["UAR-01"]["status"] == "completed", "the other thread's controls are not affected"
    assert sum(c["status"] == "completed" for c in statuses.values()) >= 2
    psutil = pytest.importorskip("psutil")
    assert [p for p in psutil.Process().children(recursive=True) if "ipykernel" in " ".join(p.cmdline())] == []


# --- sign-off ----------------------------------------------------------------------------------

@pytest.fixture
def signed_copy(clean_run, tmp_path) -> Path:
    """A signed-off copy of the clean run."""
    run_dir = tmp_path / "2026-Q3" / clean_run["run_dir"].name
    shutil.copytree(clean_run["run_dir"], run_dir)
    sign_off_workpapers(run_dir, reviewer="Morgan Lee")
    assert cli.main(["signoff", str(run_dir), "--reviewer", "Morgan Lee", "--note", "Reviewed; no open points."]) == 0
    return run_dir


def _writable(path: Path) -> Path:
    path.chmod(stat.S_IMODE(path.stat().st_mode) | stat.S_IWUSR)
    return path


def test_signoff_records_reviewer_time_manifest_hash_and_version(signed_copy):
    record = json.loads((signed_copy / "signoff.json").read_text())
    assert record["reviewer"] == "Morgan Lee" and record["note"] == "Reviewed; no open points."
    assert record["manifest_sha256"] == lineage.file_sha256(signed_copy / "manifest.json")
    assert record["workbench_version"] and record["signed_off_at"].endswith("+00:00")


def test_signoff_makes_every_file_and_folder_read_only(signed_copy):
    paths = [signed_copy, *signed_copy.rglob("*")]
    writable = [p for p in paths if stat.S_IMODE(p.stat().st_mode) & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)]
    assert writable == []


def test_verify_reports_the_signoff(signed_copy, capsys):
    capsys.readouterr()
    assert cli.main(["verify", str(signed_copy)]) == 0
    out = capsys.readouterr().out
    assert "signed off by Morgan Lee on" in out and "nothing changed after sign-off" in out


def test_a_second_signoff_says_it_is_already_signed_off(signed_copy, capsys):
    capsys.readouterr()
    assert cli.main(["signoff", str(signed_copy), "--reviewer", "Someone Else"]) == 2
    assert "already signed off by Morgan Lee" in capsys.readouterr().err
    assert json.loads((signed_copy / "signoff.json").read_text())["reviewer"] == "Morgan Lee"


@pytest.mark.parametrize("relative", ["UAR-01/workpaper.html", "manifest.json", "inputs/hr_workers/workday_workers.csv"])
def test_a_change_after_signoff_fails_verify_and_says_so(signed_copy, capsys, relative):
    path = _writable(signed_copy / relative)
    path.write_bytes(path.read_bytes() + b" ")
    capsys.readouterr()
    assert cli.main(["verify", str(signed_copy)]) == 1
    out = capsys.readouterr().out
    assert "changed after sign-off: " in out and relative in out
    assert "The run was signed off by Morgan Lee" in out


def test_signoff_refuses_a_run_that_does_not_verify(clean_run, tmp_path, capsys):
    run_dir = tmp_path / "copy"
    shutil.copytree(clean_run["run_dir"], run_dir)
    (run_dir / "UAR-01" / "sample.csv").write_text("tampered\n")
    capsys.readouterr()
    assert cli.main(["signoff", str(run_dir), "--reviewer", "Morgan Lee"]) == 1
    err = capsys.readouterr().err
    assert "does not verify" in err and "changed: UAR-01/sample.csv" in err
    assert not (run_dir / "signoff.json").exists()


def test_signoff_needs_a_reviewer_name(clean_run, tmp_path, capsys):
    run_dir = tmp_path / "copy"
    shutil.copytree(clean_run["run_dir"], run_dir)
    assert cli.main(["signoff", str(run_dir), "--reviewer", "  "]) == 2
    assert "name the reviewer" in capsys.readouterr().err


# --- the pieces --------------------------------------------------------------------------------

def test_preload_modules_are_the_notebooks_imports(tmp_path):
    path = tmp_path / "nb.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import secret_parameter_module", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("import pandas as pd\nfrom workbench import workpapers as wp\nfrom . import x"),
        nbformat.v4.new_code_cell("%matplotlib inline"),
        nbformat.v4.new_markdown_cell("import not_code"),
    ]
    nbformat.write(notebook, path)
    assert runner.preload_modules([path]) == sorted(["pandas", "workbench", "workbench.workpapers",
                                                     *runner.LAZILY_IMPORTED])


def test_the_lazily_imported_libraries_are_preloaded_and_really_imported_lazily():
    """Each library the package imports on first use is preloaded by the kernel started ahead."""
    import inspect

    from workbench import charts, sampling

    lazy_sources = inspect.getsource(charts._matplotlib) + inspect.getsource(sampling._stats) \
        + inspect.getsource(sampling._duckdb)
    for module in runner.LAZILY_IMPORTED:
        assert module.split(".")[-1] in lazy_sources, module


def test_section_activities_follow_the_visible_headings():
    cells = [
        {"cell_type": "code", "source": "x = 1", "metadata": {"tags": ["parameters"]}},
        {"cell_type": "markdown", "source": "# Hidden title", "metadata": {"tags": ["remove-cell"]}},
        {"cell_type": "code", "source": "setup()", "metadata": {}},
        {"cell_type": "markdown", "source": ["## 1. Population\n", "text"], "metadata": {}},
        {"cell_type": "code", "source": "load()", "metadata": {}},
    ]
    assert runner.section_activities(cells) == [runner.SETUP_ACTIVITY, runner.SETUP_ACTIVITY, runner.SETUP_ACTIVITY,
                                                "1. Population", "1. Population"]


def test_control_queue_hands_out_each_control_once_in_order_until_stopped():
    controls = runner.ControlQueue([("UAR-01", Path("a.ipynb")), ("PROV-01", Path("b.ipynb")), ("TERM-01", Path("c.ipynb"))])
    assert controls.claim() == ("UAR-01", Path("a.ipynb"))
    assert controls.claim() == ("PROV-01", Path("b.ipynb"))
    controls.stop()
    assert controls.claim() is None


def test_describe_failure_speaks_of_the_section():
    class PapermillExecutionError(Exception):
        ename, evalue = "ValueError", "\x1b[31mbad date\x1b[0m in users.csv"

    text = runner.describe_failure(PapermillExecutionError(), "2. Population")
    assert text == "ValueError: bad date in users.csv (in section '2. Population')"
    assert runner.describe_failure(RuntimeError("x"), runner.SETUP_ACTIVITY) == "RuntimeError: x"


def _outcome(control_id: str, status: str = "completed", **kw) -> runner.ControlOutcome:
    return runner.ControlOutcome(control_id, status, kw.pop("seconds", 1.25), frameworks=["SOC 2 CC6.1"], **kw)


def test_summary_table_aligns_columns_and_shows_failures():
    table = runner.summary_table([
        _outcome("UAR-01", conclusions=["SOC 2: No exceptions noted"], exception_count=0),
        _outcome("TERM-01", "failed", error="ValueError: bad\nsecond line", seconds=12.0),
    ])
    lines = table.splitlines()
    assert lines[0].startswith("Control  Framework(s)")
    assert lines[2].split() == ["UAR-01", "SOC", "2", "CC6.1", "SOC", "2:", "No", "exceptions", "noted", "0", "1.2", "s"]
    assert "FAILED: ValueError: bad" in lines[3] and "second line" not in table
    assert len({len(line) for line in lines[:2]}) == 1


def _event(step: int, activity: str, control_id: str = "UAR-01") -> runner.ProgressEvent:
    return runner.ProgressEvent(control_id, step, 5, activity)


def test_line_progress_writes_one_line_per_start_and_finish(tmp_path):
    lines: list[str] = []
    progress = runner.LineProgress(lines.append)
    params = runner.load_period(ROOT / "parameters" / DEMO_PARAMETER_FILE)
    progress.begin(params, ["UAR-01"], 2, tmp_path)
    progress.update(_event(0, runner.KERNEL_ACTIVITY))
    progress.update(_event(2, "2. Population"))
    progress.finished(_outcome("UAR-01", conclusions=["SOC 2: No exceptions noted"], exception_count=2))
    assert lines[1:] == ["Testing control UAR-01 ...",
                         "[1/1] UAR-01 tested in 1.2 s: 2 exception(s) — SOC 2: No exceptions noted"]
    assert "testing 1 control(s), 1 at a time" in lines[0]


def test_bar_progress_shows_the_period_and_each_control_in_auditor_words(tmp_path):
    stream = io.StringIO()
    progress = runner.BarProgress(stream)
    params = runner.load_period(ROOT / "parameters" / DEMO_PARAMETER_FILE)
    progress.begin(params, ["UAR-01", "TERM-01"], 2, tmp_path)
    progress.update(_event(1, "2. Population: completeness and accuracy"))
    progress.finished(_outcome("UAR-01", conclusions=["SOC 2: No exceptions noted"]))
    progress.update(_event(5, "late message"))  # after its control finished: ignored
    progress.close()
    text = stream.getvalue()
    assert "Period 2026-Q3: controls tested" in text
    assert "2. Population: completeness and accuracy" in text
    assert "[1/2] UAR-01 tested in 1.2 s" in text
    assert "late message" not in text


def test_default_reporter_is_plain_lines_off_a_terminal():
    assert isinstance(runner.default_reporter(io.StringIO()), runner.LineProgress)


def test_jobs_must_be_a_positive_number(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["run", "x.yaml", "--jobs", "0"])
    assert caught.value.code == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err


def test_only_with_an_unknown_control_is_bad_input(tmp_path, capsys):
    parameter_file = _project(tmp_path, ("UAR-01",))
    assert cli.main(["run", str(parameter_file), "--out", str(tmp_path / "out"), "--only", "NOPE-9"]) == 2
    assert "NOPE-9" in capsys.readouterr().err
    assert not (tmp_path / "out" / "2026-Q3").exists()


def test_a_bad_settings_block_stops_the_run_before_any_notebook_and_leaves_no_kernel(tmp_path, capsys):
    """Workers and kernels start while the parameter file is validated; a problem stops them all."""
    parameter_file = _project(tmp_path, ("UAR-01", "UAR-04"))
    document = yaml.safe_load(parameter_file.read_text())
    document["controls"][1]["settings"]["no_such_setting"] = 1
    parameter_file.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "project_root", lambda: tmp_path)
        patch.setattr(runner, "notebooks_folder", lambda: tmp_path / "notebooks")
        code = cli.main(["run", str(parameter_file), "--out", str(tmp_path / "outputs"), "--jobs", "2"])
    assert code == 2
    assert "controls[1].settings.no_such_setting" in capsys.readouterr().err
    assert not (tmp_path / "outputs" / "2026-Q3").exists() or not any((tmp_path / "outputs" / "2026-Q3").iterdir())
    psutil = pytest.importorskip("psutil")
    assert [p for p in psutil.Process().children(recursive=True) if "ipykernel" in " ".join(p.cmdline())] == []


class _StubKernel:
    """A kernel that fails to start (``fails``) or starts; records its life."""

    def __init__(self, fails: Exception | None = None):
        self.fails, self.closed, self.timeouts = fails, 0, []

    def enter(self, directory, timeout=runner.KERNEL_START_TIMEOUT_SECONDS):
        self.timeouts.append(timeout)
        if self.fails is not None:
            raise self.fails
        return f"client in {directory}"

    def close(self):
        self.closed += 1


@pytest.mark.parametrize("failure", [TimeoutError("the kernel did not start within 60 s"),
                                     RuntimeError("the kernel stopped before the notebook could start")])
def test_a_kernel_that_does_not_start_is_replaced_once(tmp_path, failure):
    first, second = _StubKernel(failure), _StubKernel()
    kernel, client = runner.enter_kernel(first, tmp_path, lambda: second)
    assert kernel is second and client == f"client in {tmp_path}"
    assert first.closed == 1 and second.closed == 0
    assert first.timeouts == [runner.KERNEL_START_TIMEOUT_SECONDS / 2]
    assert second.timeouts == [runner.KERNEL_START_TIMEOUT_SECONDS]


def test_a_kernel_is_replaced_only_once_and_a_folder_problem_is_not_retried(tmp_path):
    first, second = _StubKernel(TimeoutError("slow")), _StubKernel(TimeoutError("slow again"))
    with pytest.raises(TimeoutError, match="slow again"):
        runner.enter_kernel(first, tmp_path, lambda: second)
    assert first.closed == 1 and second.closed == 1
    folder = _StubKernel(RuntimeError(f"the kernel could not change into {tmp_path}"))
    with pytest.raises(RuntimeError, match="could not change into"):
        runner.enter_kernel(folder, tmp_path, lambda: pytest.fail("no second kernel"))


def test_a_kernel_that_stops_before_its_notebook_names_its_signal_or_exit_code(tmp_path):
    """Issue 13 (6.6): "the kernel stopped" says how: the signal that killed it, or its exit code."""
    import signal

    kernel = runner.Kernel(tmp_path, [])
    try:
        kernel.km.provisioner.process.send_signal(signal.SIGKILL)  # the kernel this test started
        with pytest.raises(RuntimeError, match=r"the kernel stopped before the notebook could start \(killed by SIGKILL\)"):
            kernel.enter(tmp_path, timeout=30)
    finally:
        kernel.close()
    assert runner.exit_description(3) == "exit code 3"
    assert runner.exit_description(-int(signal.SIGSEGV)) == "killed by SIGSEGV"
    assert runner.exit_description(None) == "exit status unknown"


def test_what_publishing_imports_is_imported_ahead_without_writing_anything(tmp_path):
    """``warm_publishing`` (run in the background while the controls run) only imports."""
    import subprocess
    import sys

    code = ("import json, os, sys\nfrom workbench import runner\nos.chdir(sys.argv[1])\nrunner.warm_publishing()\n"
            "print(json.dumps([m in sys.modules for m in (*runner.PUBLISHING_MODULES, 'matplotlib.figure', "
            "'matplotlib.backends.backend_agg', 'openpyxl')]))\n")
    completed = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == [True] * (len(runner.PUBLISHING_MODULES) + 3)
    assert list(tmp_path.iterdir()) == []


def test_neither_the_kernels_imports_nor_the_runners_start_import_openpyxl():
    """The register workbook is written when the run is published (imported ahead then, on a spare
    core); a kernel, the check and the runner's start never need openpyxl (about 0.1 s each)."""
    import subprocess
    import sys

    code = ("import importlib, json, sys\nfrom workbench import cli, runner, check, exceptions, workbook, records\n"
            "for name in runner.preload_modules(sorted(runner.notebooks_folder().glob('*.ipynb'))):\n"
            "    try:\n        importlib.import_module(name)\n    except ImportError:\n        pass\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'openpyxl')))\n")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []


def test_publishing_warms_up_only_when_a_core_is_spare():
    """Beside as many busy kernels as cores, the warm-up would take its CPU from the controls."""
    assert runner.core_to_spare(busy_slots=1, cores=2)
    assert not runner.core_to_spare(busy_slots=2, cores=2)
    assert not runner.core_to_spare(busy_slots=3, cores=2)
    assert runner.core_to_spare(busy_slots=0, cores=1)
    assert not runner.core_to_spare(busy_slots=1, cores=None)  # unknown: one core assumed


def test_publishing_warms_up_on_the_core_of_the_first_slot_left_without_a_control(tmp_path, monkeypatch):
    """Two slots on two cores: the warm-up starts once, after one slot has ended its last control."""
    from workbench import timing_trace

    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv(timing_trace.TRACE_VARIABLE, str(trace))
    monkeypatch.setattr(runner.os, "cpu_count", lambda: 2)
    parameter_file = _project(tmp_path, ("UAR-01", "UAR-04", "UAR-05"))
    with redirect_stdout(io.StringIO()):
        code, _ = _run_cli(tmp_path, parameter_file, "--jobs", "2")
    assert code == 0
    events = timing_trace.read(trace)
    warm_ups = [e["t"] for e in events if e["event"] == "publishing-warm-up"]
    last_end_of_slot: dict[str, float] = {}
    for event in events:
        if event["event"] == "control-end":
            last_end_of_slot[event["thread"]] = event["t"]
    assert len(warm_ups) == 1 and len(last_end_of_slot) == 2
    assert warm_ups[0] >= min(last_end_of_slot.values())


def test_the_lead_sheet_template_is_compiled_once_ahead_and_reused(tmp_path):
    """``warm_publishing`` compiles the lead sheet's template; rendering the provisional and the final
    lead sheet reuses it (Jinja compiled it twice per run before)."""
    from workbench import workpapers

    workpapers.index_template.cache_clear()
    runner.warm_publishing()
    compiled = workpapers.index_template()
    context = {"entity": "E", "period": "P", "run_id": "R", "controls": [], "inputs": [], "exceptions_total": 0}
    try:
        workpapers.render_index(context)
    except Exception:  # a context this small may miss a required value: the template is what is looked at
        pass
    assert workpapers.index_template() is compiled
    assert workpapers.index_template.cache_info().misses == 1


def test_the_controls_do_not_wait_for_the_workpaper_template_to_compile(monkeypatch):
    """The warm-up (which ``ControlPool.run`` waits for before the first control) imports papermill and
    readies the first kernels; the workpaper template compiles after, in a thread of its own, which
    the first export waits for (``workpapers.prepare_exporter``): it no longer delays the first control."""
    import threading

    from workbench import workpapers

    release, compiled, readied = threading.Event(), threading.Event(), []

    def slow_compile() -> None:
        release.wait(30)
        compiled.set()

    class Executor:
        def ready_kernel(self) -> None:
            readied.append(compiled.is_set())

    monkeypatch.setattr(runner, "_papermill_engine", lambda: None)
    monkeypatch.setattr(workpapers, "prepare_exporter", slow_compile)
    warm_up = threading.Thread(target=runner._warm_up, args=([Executor(), Executor()],))
    warm_up.start()
    warm_up.join(10)
    try:
        assert not warm_up.is_alive(), "the warm-up waited for the template to compile"
        assert readied == [False, False]
    finally:
        release.set()
    assert compiled.wait(10), "the template is still compiled, in the background"


class _LateSubscriber:
    """A kernel client whose output subscription came too late for the first 'idle' (ZeroMQ drops
    what is published before a subscriber is connected): only the messages of later requests reach it."""

    def __init__(self, subscribed: bool = True):
        self.subscribed = subscribed
        self.pending: list[dict] = []
        self.probes: list[str] = []

    @staticmethod
    def status(msg_id: str, state: str) -> dict:
        return {"msg_type": "status", "parent_header": {"msg_id": msg_id}, "content": {"execution_state": state}}

    async def get_iopub_msg(self, timeout: float) -> dict:
        import asyncio
        import queue

        if self.pending:
            return self.pending.pop(0)
        await asyncio.sleep(timeout)
        raise queue.Empty

    def kernel_info(self) -> str:
        msg_id = f"probe-{len(self.probes) + 1}"
        self.probes.append(msg_id)
        if self.subscribed:
            self.pending += [self.status(msg_id, "busy"), self.status(msg_id, "idle")]
        return msg_id


def _output_connected(client: _LateSubscriber, msg_id: str, timeout: float = 2.0) -> tuple[bool, float]:
    import asyncio
    import time

    kernel = object.__new__(runner.Kernel)
    kernel.kc = client
    started = time.monotonic()
    connected = asyncio.run(kernel._output_connected(msg_id, timeout=timeout))
    return connected, time.monotonic() - started


def test_a_lost_idle_is_made_up_by_a_probe_instead_of_waiting_out_the_timeout():
    """The 'idle' of the change of folder was published before the client subscribed: a kernel-info
    probe's 'idle' proves the output channel within a fraction of a second (it cost 2 s and a new client)."""
    client = _LateSubscriber()
    connected, seconds = _output_connected(client, "change-of-folder")
    assert connected and client.probes == ["probe-1"]
    assert seconds < 1.0


def test_an_idle_that_arrives_needs_no_probe():
    client = _LateSubscriber()
    client.pending = [client.status("other", "idle"), client.status("change-of-folder", "busy"),
                      client.status("change-of-folder", "idle")]
    assert _output_connected(client, "change-of-folder")[0] is True
    assert client.probes == []


def test_output_that_never_arrives_is_not_connected():
    client = _LateSubscriber(subscribed=False)
    connected, seconds = _output_connected(client, "change-of-folder", timeout=0.35)
    assert connected is False and 0.3 <= seconds < 1.0
    assert len(client.probes) >= 2
