"""A period run: validate parameters, freeze inputs, test every control in parallel, publish.

The order is the evidence chain: nothing reads a source before it is copied into the run and hashed;
each control's notebook runs through papermill's Python API in a fresh kernel of its own; every
failure is caught, stamped in the notebook, the HTML, the index and the manifest; the manifest is
written last. Each run is a new folder; the period folder's ``latest`` file names the newest.

Where the time goes (``benchmarks/bench_run.py``; ``benchmarks/bench_speedup.py`` compares with the
runner before issue 17; demo period, 2 cores): a cold kernel spent
about 1 s starting and 4.6 s importing pandas, SciPy, DuckDB, matplotlib and the workbench before
its notebook did anything, 70 % of the CPU of a run. So the runner

- forks each control's kernel from a process that has imported the notebooks' libraries once
  (``kernel_zygote``: why a fork rather than a reused kernel or a pool of booted ones is in its
  docstring): a new process per control, so nothing of one control is visible to the next, with the
  environment and command line of a cold kernel, and the same workpapers byte for byte;
  ``--kernels cold`` starts each kernel from nothing, as before (and is the fallback when forking
  is not possible);
- tests ``--jobs`` controls at once (default: one per core), each driven by a thread of this
  process (the kernels are the processes that work; see ``ControlPool`` for why threads), with
  papermill imported and the workpaper template compiled once;
- hands the controls out longest first (``schedule``: by the previous run's durations, else by the
  size of the exports each reads), each claimed only when a thread is free to test it, so no
  control waits behind a long one while a slot is idle;
- keeps a kernel ready for each thread, booting (cold) or forked (warm) while the current notebook
  runs, so the kernel start overlaps the work, and never more ready than controls are left
  (``ReadyKernels``: no kernel is started that no control uses); the zygote imports (or the first cold kernels boot)
  while the parameter file is checked and the inputs frozen; ``workbench run`` starts the zygote
  before it imports this module (``preloading.start_zygote_early``), and the zygote imports the
  package too, so a forked kernel imports nothing;
- parses the period file once (``yamlfile.parse_text`` keeps the parse for the check and the
  freezing), imports what publishing needs (register, workbook, charts) in the background while
  the controls run, and neither the zygote nor the ``workbench`` process waits for its
  interpreter's tear-down at the end (0.4-0.5 s each);
- saves the executed notebook once (not after every cell; papermill does not write it for the
  runner to read back: ``executed_notebook``), exports the HTML from the notebook in memory
  (validated once, not after each preprocessor), and stops each kernel at once when its notebook
  is done;
- keeps each kernel's IPython history in memory: kernels writing the shared SQLite history file
  cost the demo period 2-3 s.

``WORKBENCH_TIMING_TRACE=FILE`` writes a timeline of the run (``timing_trace``;
``benchmarks/bench_timeline.py`` reads it): where the stages begin, when each slot's controls ran
and each kernel was forked and ended, with its CPU seconds.

A kernel readied ahead belongs to no control yet: it has only imported modules (silently: nothing
reaches the notebook; the same modules for every control, those of all the run's notebooks) and,
when its control begins, changed into the control's folder; the notebook metadata lists the
modules, and the manifest's run metadata says which kind of kernels ran (``kernels``) and the order
the controls were handed out in (``schedule``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import queue
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from workbench import (
    __version__,
    kernel_zygote,
    lineage,
    prior_run,
    procedures,
    referencing,
    reproducible,
    review,
    runfolder,
    schedule,
    seal,
    stopping,
    timing_trace,
    workpapers,
)
from workbench.parameters import Control, ParameterError, PeriodParameters, load_period, resolve_source_paths
from workbench.preloading import (  # noqa: F401 (part of the runner's interface: tests, benchmarks)
    LAZILY_IMPORTED,
    kernel_environment,
    kernel_preload,
    notebooks_folder,
    preload_modules,
)
from workbench.preloading import (
    cell_text as _cell_text,
)
from workbench.prior_run import PriorRun

if TYPE_CHECKING:  # heavy imports stay out of the kernels, which import this module through procedures
    import nbformat
    import pandas as pd

    from workbench.signing import SigningKey

RUN_PARAMETERS = "parameters.json"
CONTROL_RESULT = "result.json"
CONTROL_EXCEPTIONS = "exceptions.csv"
WORKPAPER_NOTEBOOK = "workpaper.ipynb"
WORKPAPER_HTML = "workpaper.html"
CELL_TIMEOUT_SECONDS = 1800
KERNEL_NAME = "python3"
KERNEL_START_TIMEOUT_SECONDS = 120
ENGINE_NAME = "workbench"
# The kernel talks to the runner over loopback with HMAC-signed messages; its "TCP without
# encryption" warning would only confuse an auditor's terminal. Its IPython history stays in memory
# (as nbclient does for the kernels it starts): parallel kernels sharing one SQLite history file
# wait on each other's locks, and a workpaper's cells have no business in the user's history.
KERNEL_ARGUMENTS = ("--IPKernelApp.log_level=ERROR", "--HistoryManager.hist_file=:memory:")


def project_root() -> Path:
    """The project folder, which holds ``parameters/``, ``data/`` and ``outputs/``.

    The checkout when the package is installed editable from one (so ``make`` targets and tests
    find the committed parameter files wherever they run from); otherwise, as for an installed
    wheel, the current folder: an auditor's project is where they run ``workbench``.
    """
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "parameters").is_dir():
        return checkout
    return Path.cwd()


def shipped_demo_parameters(name: str) -> Path:
    """A demo period's parameter file as shipped in the package (``workbench/demo_parameters``).

    The checkout's ``parameters/`` holds the same files (a test holds them equal); these are what
    ``workbench demo`` copies into a project folder that has none, outside a checkout.
    """
    path = Path(str(resources.files("workbench") / "demo_parameters" / name))
    if not path.is_file():
        raise FileNotFoundError(f"the workbench package has no demo parameter file {name} ({path})")
    return path


def notebook_for(procedure: str, notebooks_dir: Path) -> Path:
    """The notebook that carries out a procedure, with a clear error if it does not exist."""
    path = notebooks_dir / f"{procedure}.ipynb"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in notebooks_dir.glob("*.ipynb"))) or "none"
        raise FileNotFoundError(f"no notebook for procedure '{procedure}' ({path}); procedures available: {known}")
    return path


def new_run_id(period_dir: Path, now: dt.datetime | None = None) -> str:
    """A run id from the UTC start time (run metadata only), unique within the period folder."""
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    run_id, n = stamp, 1
    while (period_dir / run_id).exists() or (period_dir / runfolder.staging_name(run_id)).exists():
        n += 1
        run_id = f"{stamp}-{n}"
    return run_id


@dataclass(frozen=True)
class RunContext:
    """What a control's notebook needs: the validated parameters and the frozen input files."""

    run_dir: Path
    run_id: str
    parameters: PeriodParameters
    inputs: dict[str, Path]  # source id -> frozen copy inside the run folder
    #: source id -> the SHA-256 of its frozen copy, taken as it was frozen (the manifest checks the copy
    #: still has it); a staged Parquet copy made from those bytes is reused without hashing them again
    input_sha256: dict[str, str] = field(default_factory=dict)

    def control_dir(self, control_id: str) -> Path:
        """The folder of one control's outputs inside the run."""
        return self.run_dir / control_id


def prepare_run(parameter_file: Path, out_dir: Path, now: dt.datetime | None = None,
                staged: Callable[[Path], None] | None = None, prior: PriorRun | None = None) -> RunContext:
    """Validate the parameter file, create the run folder and freeze every input into it.

    Raises ``ParameterError`` before anything is written if the file or a source is not usable.
    With ``prior`` (the prior period's verified run), what the roll-forward view reads from it is
    frozen into the run's ``prior_run/`` folder too (``workbench.prior_run``).
    With ``staged`` (a period run), the folder is the staging folder ``<run-id>.incomplete`` with its
    marker (``runfolder``), and ``staged`` is told its path before anything is frozen into it.
    """
    parameter_file = Path(parameter_file)
    params = load_period(parameter_file)
    problems = [problem for i, control in enumerate(params.controls)
                for problem in procedures.settings_problems(control.procedure, control.settings, f"controls[{i}]")]
    if problems:
        raise ParameterError(parameter_file, problems)
    records = auditor_record_files(parameter_file)
    problems = record_file_problems(records)
    if problems:
        raise ParameterError(parameter_file, problems)
    sources = resolve_source_paths(params, parameter_file)
    period_dir = Path(out_dir).resolve() / params.period.id  # absolute: kernels run in another folder
    runfolder.make_folder(period_dir)
    run_id = new_run_id(period_dir, now)
    if staged is not None:
        run_dir = runfolder.create_staging(period_dir, run_id, params.period.id)
        staged(run_dir)
    else:
        run_dir = period_dir / run_id
        run_dir.mkdir()
    frozen = lineage.freeze_inputs(sources, run_dir)
    if prior is not None:
        prior_run.freeze(prior, run_dir)
    runfolder.copy_file(parameter_file, run_dir / "parameters.yaml")
    for kind, path in records.items():  # the auditors' records merged into this run, frozen with it
        if path.is_file():
            (run_dir / RECORDS_DIR).mkdir(exist_ok=True)
            runfolder.copy_file(path, run_dir / RECORDS_DIR / f"{kind}{path.suffix}")
    runfolder.checkpoint("freezing")
    document = {
        "run_id": run_id,
        "parameter_file": str(parameter_file.resolve()),
        "parameters": params.model_dump(mode="json"),
        "inputs": {source_id: asdict(entry) for source_id, entry in frozen.items()},
    }
    lineage.write_json_atomically(run_dir / RUN_PARAMETERS, document)
    return RunContext(run_dir, run_id, params, {k: run_dir / v.frozen_path for k, v in frozen.items()},
                      {k: v.sha256 for k, v in frozen.items()})


RECORDS_DIR = "records"


def auditor_record_files(parameter_file: Path) -> dict[str, Path]:
    """The auditors' files beside a period's parameters: remediation records, deficiency evaluations
    and IPE acceptances."""
    from workbench.deficiencies import evaluation_file_for
    from workbench.ipe import RECORD_KIND, acceptance_file_for
    from workbench.rollforward import remediation_file_for

    return {"remediation": remediation_file_for(parameter_file), "deficiencies": evaluation_file_for(parameter_file),
            RECORD_KIND: acceptance_file_for(parameter_file)}


def record_file_problems(files: dict[str, Path]) -> list[str]:
    """Problems in the auditors' record files, so a run never starts on records it cannot merge."""
    from workbench.deficiencies import read_inputs
    from workbench.exceptions import read_remediation
    from workbench.ipe import RECORD_KIND, read_acceptances

    problems = []
    for reader, path in ((read_remediation, files["remediation"]), (read_inputs, files["deficiencies"]),
                         (read_acceptances, files[RECORD_KIND])):
        try:
            reader(path)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def frozen_records(run_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The remediation records and deficiency evaluations frozen into a run (empty when none)."""
    from workbench.deficiencies import read_inputs
    from workbench.exceptions import read_remediation

    folder = run_dir / RECORDS_DIR
    return read_remediation(folder / "remediation.yaml"), read_inputs(folder / "deficiencies.yaml")


def open_run(run_dir: str | Path) -> RunContext:
    """Re-open a prepared run folder (what a control notebook does first)."""
    run_dir = Path(run_dir).resolve()
    document = json.loads((run_dir / RUN_PARAMETERS).read_text(encoding="utf-8"))
    params = PeriodParameters.model_validate(document["parameters"])
    inputs = {k: run_dir / v["frozen_path"] for k, v in document["inputs"].items()}
    return RunContext(run_dir, document["run_id"], params, inputs,
                      {k: v["sha256"] for k, v in document["inputs"].items() if "sha256" in v})


def prepare_standalone_run() -> RunContext:
    """A throw-away demo run, so a procedure notebook opened or validated on its own has data.

    The demo company is generated into a temporary copy of the project layout, so the demo
    parameter file's relative paths resolve the same way as in the checkout.
    """
    from workbench import demo  # imported here: only standalone runs need the generator

    scratch = Path(tempfile.mkdtemp(prefix="workbench-standalone-"))
    demo.generate_demo_company(scratch / "data" / "demo" / demo.DEMO_PERIOD)
    (scratch / "parameters").mkdir()
    parameter_file = scratch / "parameters" / DEMO_PARAMETER_FILE
    shutil.copyfile(shipped_demo_parameters(DEMO_PARAMETER_FILE), parameter_file)
    return prepare_run(parameter_file, scratch / "outputs")


DEMO_PARAMETER_FILE = "demo-2026-Q3.yaml"
PRIOR_DEMO_PARAMETER_FILE = "demo-2026-Q2.yaml"


# --- outcomes and progress ---------------------------------------------------------------------

@dataclass
class ControlOutcome:
    """How one control's run went: status, result lines, exception count, time, error if any."""

    control_id: str
    status: str  # "completed" or "failed"
    seconds: float
    error: str | None = None
    conclusions: list[str] = field(default_factory=list)
    exception_count: int = 0
    frameworks: list[str] = field(default_factory=list)
    title: str = ""


@dataclass(frozen=True)
class ProgressEvent:
    """Where one control's test has got to: ``step`` of ``total`` steps, and what it is doing."""

    control_id: str
    step: int
    total: int
    activity: str


class ProgressReporter(Protocol):
    """What a period run tells the person waiting for it."""

    def begin(self, params: PeriodParameters, control_ids: list[str], jobs: int, run_dir: Path) -> None:
        """The run starts: which period, how many controls, how many at a time."""

    def update(self, event: ProgressEvent) -> None:
        """A control's test moved on to another step."""

    def finished(self, outcome: ControlOutcome) -> None:
        """A control's workpaper is written (completed or failed)."""

    def close(self) -> None:
        """The run is over."""


def _outcome_line(outcome: ControlOutcome, done: int, total: int) -> str:
    """One line on a finished control, in the auditor's words."""
    if outcome.status == "completed":
        result = "; ".join(outcome.conclusions) or "no conclusion recorded"
        return (f"[{done}/{total}] {outcome.control_id} tested in {outcome.seconds:.1f} s: "
                f"{outcome.exception_count} exception(s) — {result}")
    return f"[{done}/{total}] {outcome.control_id} FAILED after {outcome.seconds:.1f} s — {outcome.error}"


def _begin_line(params: PeriodParameters, control_ids: list[str], jobs: int, run_dir: Path) -> str:
    """The line that opens a run."""
    at_once = min(jobs, len(control_ids)) or 1
    return (f"Period {params.period.id} for {params.entity}: testing {len(control_ids)} control(s), "
            f"{at_once} at a time; source files frozen and hashed in {run_dir}")


class LineProgress:
    """Progress as plain lines (logs, CI, tests): one when a control starts, one when it is done."""

    def __init__(self, write: Callable[[str], None] = print):
        self.write = write
        self.started: set[str] = set()
        self.done = 0
        self.total = 0

    def begin(self, params: PeriodParameters, control_ids: list[str], jobs: int, run_dir: Path) -> None:
        """Say which period is tested, how many controls, how many at a time."""
        self.total = len(control_ids)
        self.write(_begin_line(params, control_ids, jobs, run_dir))

    def update(self, event: ProgressEvent) -> None:
        """Say when a control starts (its steps are for the bars, not for a log)."""
        if event.control_id not in self.started:
            self.started.add(event.control_id)
            self.write(f"Testing control {event.control_id} ...")

    def finished(self, outcome: ControlOutcome) -> None:
        """One line with the control's result, or its error."""
        self.done += 1
        self.started.add(outcome.control_id)
        self.write(_outcome_line(outcome, self.done, self.total))

    def close(self) -> None:
        """Nothing to tidy up."""


class BarProgress:
    """Progress bars on a terminal: one for the period, one per control being tested (tqdm)."""

    def __init__(self, file: IO[str] | None = None):
        self.file = file if file is not None else sys.stderr
        self.overall: Any = None
        self.bars: dict[str, Any] = {}
        self.finished_ids: set[str] = set()
        self.total = 0

    def begin(self, params: PeriodParameters, control_ids: list[str], jobs: int, run_dir: Path) -> None:
        """The opening line and the period's bar (controls tested so far)."""
        from tqdm import tqdm

        self.total = len(control_ids)
        tqdm.write(_begin_line(params, control_ids, jobs, run_dir), file=self.file)
        self.overall = tqdm(total=len(control_ids), desc=f"Period {params.period.id}: controls tested",
                            unit="control", file=self.file, position=0, leave=True, dynamic_ncols=True,
                            bar_format="{desc} {bar:30} {n_fmt}/{total_fmt} [{elapsed}]")

    def update(self, event: ProgressEvent) -> None:
        """Move the control's bar to its step and name the workpaper section it is in."""
        from tqdm import tqdm

        if event.control_id in self.finished_ids:
            return  # a late message about a control already reported
        bar = self.bars.get(event.control_id)
        if bar is None:
            bar = self.bars[event.control_id] = tqdm(
                total=event.total, unit="step", file=self.file, leave=False, dynamic_ncols=True,
                desc=f"{event.control_id}: {event.activity}", bar_format="  {bar:20} {n_fmt:>2}/{total_fmt:<2} {desc}")
        bar.total = max(bar.total or 0, event.total)
        bar.n = event.step
        bar.set_description_str(f"{event.control_id}: {event.activity}", refresh=False)
        bar.refresh()

    def finished(self, outcome: ControlOutcome) -> None:
        """Close the control's bar, advance the period's, and leave a line with the result."""
        from tqdm import tqdm

        self.finished_ids.add(outcome.control_id)
        bar = self.bars.pop(outcome.control_id, None)
        if bar is not None:
            bar.close()
        if self.overall is not None:
            self.overall.update(1)
        tqdm.write(_outcome_line(outcome, len(self.finished_ids), self.total), file=self.file)

    def close(self) -> None:
        """Close every bar still open (an interrupted run)."""
        for bar in self.bars.values():
            bar.close()
        if self.overall is not None:
            self.overall.close()


def default_reporter(stream: IO[str] | None = None) -> ProgressReporter:
    """Bars when a person watches a terminal, plain lines otherwise (logs, CI, pipes)."""
    stream = stream if stream is not None else sys.stderr
    if stream.isatty() and os.environ.get("TERM") != "dumb":
        return BarProgress(stream)
    return LineProgress(print)


# --- the control's notebook: sections, imports, failures -----------------------------------------

SETUP_ACTIVITY = "opening the frozen inputs"
KERNEL_ACTIVITY = "preparing the workpaper"
EXPORT_ACTIVITY = "writing the workpaper"
_HEADING = re.compile(r"^#{1,3}\s+(.+?)\s*$", re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def section_activities(cells: list[dict[str, Any]]) -> list[str]:
    """For each cell, the workpaper section it belongs to (the last markdown heading above it).

    Cells above the first visible heading set the test up (parameters, opening the run).
    """
    activity, activities = SETUP_ACTIVITY, []
    for cell in cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell.get("cell_type") == "markdown" and not tags & workpapers.HIDDEN_CELL_TAGS:
            headings = _HEADING.findall(_cell_text(cell))
            if headings:
                activity = headings[-1].strip()
        activities.append(activity)
    return activities


def preload_code(modules: list[str]) -> str:
    """Code a kernel runs silently before its notebook: import the modules, define nothing."""
    return (
        "def _workbench_preload(names):\n"
        "    import importlib\n"
        "    for name in names:\n"
        "        try:\n"
        "            importlib.import_module(name)\n"
        "        except Exception:\n"
        "            pass\n"
        f"_workbench_preload({modules!r})\n"
        "del _workbench_preload\n"
    )


def describe_failure(exc: BaseException, activity: str | None = None) -> str:
    """A failed execution in an auditor's words: what went wrong, and in which workpaper section."""
    name = type(exc).__name__
    if name == "PapermillExecutionError":
        detail = f"{getattr(exc, 'ename', 'Error')}: {getattr(exc, 'evalue', '')}"
    elif name == "DeadKernelError":
        detail = f"the kernel died (out of memory or killed): {exc}"
    elif name == "CellTimeoutError":
        detail = f"a step ran longer than the {CELL_TIMEOUT_SECONDS} s limit: {exc}"
    else:
        detail = f"{name}: {exc}"
    detail = _ANSI.sub("", detail).strip()[:2000]
    return f"{detail} (in section '{activity}')" if activity and activity != SETUP_ACTIVITY else detail


def framework_labels(control: Control) -> list[str]:
    """The frameworks a control maps to, as the summary and the index name them."""
    labels = []
    if control.frameworks.soc2:
        labels.append("SOC 2 " + ", ".join(control.frameworks.soc2))
    if control.frameworks.sox:
        labels.append("SOX " + control.frameworks.sox.itgc_domain.replace("_", " "))
    return labels


# --- kernels started ahead of their notebooks ---------------------------------------------------

class ControlQueue:
    """The run's controls, handed out in order to whichever executor asks first (thread-safe).

    The order is the schedule's (``schedule``: longest first). An executor claims a control only
    when it is free to test it, so no control waits behind another while a slot is idle. ``stop``
    hands out nothing more (an interrupted run).
    """

    def __init__(self, controls: list[tuple[str, Path]]):
        self.controls = [(control_id, Path(notebook)) for control_id, notebook in controls]
        self._lock = threading.Lock()
        self._next = 0

    def claim(self) -> tuple[str, Path] | None:
        """The next control to test, or None when every control has been handed out."""
        with self._lock:
            if self._next >= len(self.controls):
                return None
            self._next += 1
            return self.controls[self._next - 1]

    def remaining(self) -> int:
        """How many controls have not been handed out yet."""
        with self._lock:
            return len(self.controls) - self._next

    def stop(self) -> None:
        """Hand out no more controls."""
        with self._lock:
            self._next = len(self.controls)


def exit_description(code: int | None) -> str:
    """A process's return code in words: "exit code 3", "killed by SIGKILL" (a negative code is the
    signal that ended it), or "exit status unknown"."""
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Kernel:
    """A Python kernel started before its notebook, importing the notebooks' modules meanwhile.

    Starting returns at once (the kernel boots in its own process); ``enter`` waits until it is
    ready and changes into the control's folder; papermill then executes the notebook in it with
    this kernel's client, already connected (a new client would spend a fifth of a second making
    sure its output channel is connected).
    """

    def __init__(self, cwd: Path, preload: list[str], zygote: kernel_zygote.Zygote | None = None):
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self.preload = list(preload)
        self.preload_status: str | None = None
        self.km = AsyncKernelManager(kernel_name=KERNEL_NAME)
        self.warm = zygote is not None
        if zygote is not None:  # forked by the zygote (``kernel_zygote``) instead of started cold
            self.km.kernel_id = str(uuid.uuid4())
            self.km.provisioner = kernel_zygote.forking_provisioner(zygote, self.km)
        stopping.KERNELS.add(self.km)  # so a stopped run can stop it (refused once the run is stopping)
        timing_trace.mark("kernel-requested", warm=self.warm)
        self.kc: Any = None  # the connected client, handed to papermill by ``enter``
        self._run_sync = run_sync
        self._preload_msg: str | None = None
        try:
            run_sync(self._start)(cwd)
        except BaseException:
            self.close()
            raise

    async def _start(self, cwd: Path) -> None:
        """Launch the kernel, connect a client, and queue the imports (no waiting)."""
        await self.km.start_kernel(cwd=str(cwd), extra_arguments=list(KERNEL_ARGUMENTS))
        self.kc = self.km.client()
        self.kc.allow_stdin = False  # a notebook asking for input must fail, not wait for an answer
        self.kc.start_channels()
        if self.preload:
            self._preload_msg = self.kc.execute(preload_code(self.preload), silent=True, store_history=False)

    def enter(self, directory: Path, timeout: float = KERNEL_START_TIMEOUT_SECONDS) -> Any:
        """Wait until the kernel has started and imported, then make ``directory`` its working folder.

        Returns the connected client for papermill, or None if the kernel's output channel did not
        answer in time (papermill then connects a client of its own).
        """
        return self._run_sync(self._enter)(directory, timeout)

    async def _enter(self, directory: Path, timeout: float) -> Any:
        """See ``enter``: wait for the imports' reply, then for the change of folder's."""
        code = f"import os as _workbench_os\n_workbench_os.chdir({str(directory)!r})\ndel _workbench_os\n"
        msg_id = self.kc.execute(code, silent=True, store_history=False)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    reply = await self.kc.get_shell_msg(timeout=1)
                except queue.Empty:
                    if not await self.km.is_alive():
                        raise RuntimeError("the kernel stopped before the notebook could start "
                                           f"({self.exit_status()})") from None
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the kernel did not start within {timeout:.0f} s") from None
                    continue
                parent = reply.get("parent_header", {}).get("msg_id")
                if parent == self._preload_msg:
                    self.preload_status = reply["content"].get("status")
                elif parent == msg_id:
                    if reply["content"].get("status") != "ok":
                        raise RuntimeError(f"the kernel could not change into {directory}")
                    break
            timing_trace.mark("kernel-entered", folder=directory.name)
            if await self._output_connected(msg_id):
                return self.kc
        except BaseException:
            self.kc.stop_channels()
            raise
        self.kc.stop_channels()
        return None

    def exit_status(self) -> str:
        """How the kernel's process ended (``exit_description`` of its return code)."""
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        try:
            code = process.poll() if process is not None else None
        except OSError:
            code = None
        return exit_description(code)

    async def _output_connected(self, msg_id: str, timeout: float = 2.0, probe_after: float = 0.1) -> bool:
        """Whether the kernel's output (IOPub) messages reach this client: the 'idle' of ``msg_id``, or of a probe.

        A kernel publishes its output to whoever has subscribed at that moment: a message sent before
        this client's subscription is in place is lost, not queued (ZeroMQ's publish/subscribe). A
        kernel forked and entered quickly can answer ``msg_id`` that early, and waiting for an 'idle'
        that was lost cost a control ``timeout`` seconds and a new client. So when no 'idle' has come
        within ``probe_after`` seconds, a kernel-info request is sent, whose own 'idle' follows once
        the subscription is in place; any awaited 'idle' proves it. Replies to the probes are left
        for papermill's client, which skips replies to requests it did not send.
        """
        started = time.monotonic()
        deadline = started + timeout
        awaited = {msg_id}
        next_probe = started + probe_after
        connected = False
        while not connected and time.monotonic() < deadline:
            try:
                message = await self.kc.get_iopub_msg(timeout=max(0.01, min(next_probe, deadline) - time.monotonic()))
            except queue.Empty:
                if time.monotonic() >= next_probe:
                    awaited.add(self.kc.kernel_info())
                    next_probe = time.monotonic() + probe_after
                continue
            connected = (message.get("parent_header", {}).get("msg_id") in awaited and message.get("msg_type") == "status"
                         and message["content"].get("execution_state") == "idle")
        timing_trace.mark("output-connected", connected=connected, probes=len(awaited) - 1,
                          seconds=round(time.monotonic() - started, 3))
        return connected

    def close(self) -> None:
        """Stop the kernel now (its notebook is saved; nothing is left to wait for)."""
        self._run_sync(self._close)()

    async def _close(self) -> None:
        """Stop the client's channels and kill the kernel process, if still there."""
        stopping.KERNELS.discard(self.km)
        if self.kc is not None and self.kc.channels_running:
            self.kc.stop_channels()
        try:
            if self.km.has_kernel:
                await self.km.shutdown_kernel(now=True)
            elif self.km.provisioner is not None:  # a kernel that never started: its connection file
                await self.km.cleanup_resources()
        except RuntimeError:  # already gone
            pass


@functools.cache
def _papermill_engine() -> type:
    """papermill's nbclient engine, extended for the runner, registered as ``workbench`` (once).

    It executes in a kernel started ahead (``km``, with its connected client ``kc``), reports each
    cell to ``on_cell`` (progress), stops the kernel at once when done, and saves the partial
    notebook when execution stops for a reason other than a cell error (dead kernel, timeout),
    which papermill would not save.
    """
    import nbformat
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines

    # nbclient logs a dead kernel or a timeout as it happens; the runner reports each failure
    # itself, in the workpaper and the summary, so those log lines would only repeat it in code terms.
    logger = logging.getLogger("workbench.runner.notebook")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False

    class WorkpaperEngine(NBClientEngine):
        """papermill's nbclient engine with a kernel started ahead, progress and partial saves."""

        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                     stdout_file: Any = None, stderr_file: Any = None, start_timeout: int = 60,
                                     execution_timeout: int | None = None, km: Any = None, kc: Any = None,
                                     on_cell: Callable[[Any, int], None] | None = None,
                                     partial_path: str | None = None, **kwargs: Any) -> Any:
            """Execute the notebook as papermill's engine does, with the additions above."""
            kwargs.pop("input_path", None)
            if on_cell is not None:
                cell_start = nb_man.cell_start

                def reporting_cell_start(cell: Any, cell_index: int | None = None, **kw: Any) -> None:
                    """papermill's bookkeeping for a cell, then the progress report."""
                    cell_start(cell, cell_index, **kw)
                    on_cell(nb_man.nb, cell_index or 0)

                nb_man.cell_start = reporting_cell_start
            client = PapermillNotebookClient(
                nb_man, km=km, timeout=execution_timeout, startup_timeout=start_timeout, kernel_name=kernel_name,
                log=logger, log_output=log_output, stdout_file=stdout_file, stderr_file=stderr_file,
                shutdown_kernel="immediate", record_timing=False, **kwargs)
            client.kc = kc  # a client already connected to ``km`` (None: nbclient connects one)
            try:
                return client.execute(cleanup_kc=True)
            except BaseException:
                if partial_path:
                    runfolder.write_atomically(Path(partial_path), lambda path: nbformat.write(nb_man.nb, path))
                raise

    papermill_engines.register(ENGINE_NAME, WorkpaperEngine)
    return WorkpaperEngine


# --- one control -------------------------------------------------------------------------------

def _system_people_rows(params: PeriodParameters, control: Control) -> list[tuple[str, str]]:
    """Header rows naming the owners and designated reviewers the period file declares for the
    control's systems (``systems[].owners`` / ``reviewers``); none when no system declares them."""
    rows = []
    for label, key in (("System owners", "owners"), ("Designated reviewers", "reviewers")):
        parts = [f"{system.name}: {', '.join(getattr(system, key))}"
                 for system in (params.system(s) for s in control.systems) if getattr(system, key)]
        if parts:
            rows.append((label, "; ".join(parts)))
    return rows


def _control_header(params: PeriodParameters, control: Control, status: str, error: str | None = None,
                    provisional: bool = False) -> str:
    """The header rows of a control's workpaper (without the run id: an unchanged period's re-run
    writes the same workpaper; the run folder and its index name the run). ``provisional``: written
    before the run is finished (``workpapers.header_html``)."""
    sox = control.frameworks.sox
    rows = [
        ("Workpaper ref.", referencing.workpaper_ref(control.id)),
        ("Entity", params.entity),
        ("Period", f"{params.period.id}: {params.period.start} to {params.period.end}"),
        ("Control", f"{control.id} — {control.description}"),
        ("Control owner", control.owner),
        ("Frequency", control.frequency.replace("_", " ")),
        ("SOC 2 criteria", ", ".join(control.frameworks.soc2) or "not mapped"),
        ("SOX ITGC", f"{sox.itgc_domain.replace('_', ' ')}: {sox.objective}" if sox else "not mapped"),
        ("Systems", ", ".join(params.system(s).name for s in control.systems)),
        *_system_people_rows(params, control),
        ("Prepared by", params.preparer),
        ("Reviewed by", params.reviewer),
        ("Sign-off and review notes", "not on this page, which never changes: the preparer's and reviewer's "
                                      "sign-offs of this workpaper and the review notes are recorded beside the run "
                                      "folder, in <run-id>.review/ (workbench review shows them)"),
    ]
    return workpapers.header_html(rows, f"{control.id}: {control.title}", status, error, provisional)


def _error_notebook(message: str) -> nbformat.NotebookNode:
    """A one-cell notebook that carries the error, when not even a partial notebook was saved."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_markdown_cell(f"## Run failed\n\n```\n{message}\n```", id="run-failed"))
    return notebook


def publish_workpaper(context: RunContext, control: Control, status: str, error: str | None,
                      notebook: nbformat.NotebookNode, preload: list[str] | None = None) -> None:
    """Stamp the run status in the executed notebook, save it, and export its HTML workpaper.

    The status goes in the metadata because a notebook whose kernel died can look complete. Both
    are provisional (``finalize_workpaper`` makes them final when the run is published): a reader of
    an unfinished run folder never sees a workpaper that says "completed".
    """
    import nbformat

    out_dir = context.control_dir(control.id)
    shown = workpapers.PROVISIONAL_STATUS if status == "completed" else status
    notebook.metadata["workbench"] = {"status": shown, "error": error, "kernel_preloaded_modules": preload or []}
    reproducible.stable_notebook(notebook, f"{control.id}/{WORKPAPER_NOTEBOOK}")
    runfolder.write_atomically(out_dir / WORKPAPER_NOTEBOOK, lambda path: nbformat.write(notebook, path))
    footer = (f'<div class="wp-footer wp-error">Run failed: {workpapers.escape(error)}</div>' if error
              else '<div class="wp-footer">Generated by Audit Workbench; input and output hashes are in the '
                   "run's manifest.json.</div>")
    params = context.parameters
    workpapers.export_html(out_dir / WORKPAPER_NOTEBOOK, out_dir / WORKPAPER_HTML,
                           _control_header(params, control, status, error, provisional=True), footer, notebook,
                           title=f"{control.id} {control.title} — {params.entity}, {params.period.id} workpaper",
                           control_id=control.id)


def _recorded_result(out_dir: Path) -> tuple[dict[str, Any], str | None]:
    """The result a notebook recorded (``result.json``), or why there is none."""
    path = out_dir / CONTROL_RESULT
    if not path.is_file():
        return {}, f"the notebook finished without recording its result ({CONTROL_RESULT})"
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, f"the notebook's {CONTROL_RESULT} is not valid JSON: {exc}"
    if not isinstance(result, dict):
        return {}, f"the notebook's {CONTROL_RESULT} is not a JSON object"
    return result, None


def execute_control(context: RunContext, control_id: str, notebook: Path, kernel: Kernel | None = None,
                    preload: list[str] | None = None,
                    notify: Callable[[ProgressEvent], None] = lambda event: None) -> ControlOutcome:
    """Execute one control's notebook into its folder and write its HTML workpaper; never raises.

    ``kernel`` is a kernel started ahead (one is started here if not). Every failure (cell error,
    dead kernel, timeout, a kernel that does not start) fails the workpaper, which shows the error;
    only a workpaper that cannot be written at all (full or read-only disk) raises. The notebook
    gets the run folder as ``..`` (its kernel works in the control's folder), so no absolute path,
    which would name the run, is written into the executed notebook.
    """
    import papermill

    started = time.perf_counter()
    control = context.parameters.control(control_id)
    out_dir = context.control_dir(control_id)
    out_dir.mkdir(exist_ok=True)
    executed = out_dir / WORKPAPER_NOTEBOOK
    # Steps: one per code cell, plus the parameters cell papermill injects; then the workpaper.
    total = 1 + sum(1 for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code")
    where = {"activity": SETUP_ACTIVITY, "done": 0}
    executing: dict[str, Any] = {}  # the notebook papermill executes, kept for a cell error

    def on_cell(nb: Any, index: int) -> None:
        """Report each code cell as a step of the section it belongs to."""
        executing["notebook"] = nb
        if nb.cells[index].cell_type != "code":
            return
        where["done"] += 1
        where["activity"] = section_activities(nb.cells)[index]
        timing_trace.mark("cell", control=control_id, cell=where["done"])
        notify(ProgressEvent(control_id, where["done"], max(total, where["done"]), where["activity"]))

    notify(ProgressEvent(control_id, 0, total, KERNEL_ACTIVITY))
    timing_trace.mark("control-begin", control=control_id)
    error: str | None = None
    try:
        kernel = kernel or Kernel(context.run_dir, preload or [])
        kernel, client = enter_kernel(kernel, out_dir, lambda: Kernel(context.run_dir, preload or []))
        executing["done"] = papermill.execute_notebook(  # kept in memory: ``publish_workpaper`` saves it
            str(notebook), None, parameters={"run_dir": "..", "control_id": control_id},
            engine_name=ENGINE_NAME, kernel_name=KERNEL_NAME, progress_bar=False, report_mode=False,
            request_save_on_cell_execute=False, execution_timeout=CELL_TIMEOUT_SECONDS,
            km=kernel.km, kc=client, on_cell=on_cell, partial_path=str(executed))
    except Exception as exc:  # every failure fails the workpaper; the others go on
        error = describe_failure(exc, where["activity"])
    finally:
        if kernel is not None:
            kernel.close()
    result: dict[str, Any] = {}
    if error is None:
        result, error = _recorded_result(out_dir)
    status = "failed" if error else "completed"
    try:
        executed_nb = executed_notebook(executing, executed, error)
    except Exception as exc:  # a partial notebook cut short mid-write
        error = error or f"the executed notebook cannot be read: {exc}"
        status, executed_nb = "failed", _error_notebook(error)
    notify(ProgressEvent(control_id, max(total, where["done"]), max(total, where["done"]), EXPORT_ACTIVITY))
    timing_trace.mark("control-executed", control=control_id)
    try:
        publish_workpaper(context, control, status, error, executed_nb, preload)
    except Exception as exc:  # an export failure is a failed workpaper too, never a lost control
        if runfolder.is_storage_error(exc):  # a full or read-only disk stops the run, not one control
            raise
        error = error or f"the workpaper could not be written: {type(exc).__name__}: {exc}"
        status = "failed"
        publish_workpaper(context, control, status, error, _error_notebook(error), preload)
    timing_trace.mark("control-end", control=control_id)
    return ControlOutcome(
        control_id=control_id, status=status, seconds=round(time.perf_counter() - started, 2), error=error,
        conclusions=result.get("conclusions", []) if status == "completed" else [],
        exception_count=result.get("exception_count", 0) if status == "completed" else 0,
        frameworks=framework_labels(control), title=control.title,
    )


def executed_notebook(executing: dict[str, Any], partial: Path, error: str | None) -> nbformat.NotebookNode:
    """The executed notebook to publish, held in memory rather than written by papermill and read
    back (two passes of nbformat's validation and JSON per control; the saved workpaper is the same).

    ``executing`` holds what papermill returned (``done``) and the notebook it was executing
    (``notebook``: after a cell error, papermill has put its error banner in it); a partial notebook
    saved when execution stopped for another reason (a dead kernel, a timeout) is read from
    ``partial``; with none of them, a notebook that shows the error.
    """
    import nbformat

    if "done" in executing:
        return executing["done"]
    if partial.is_file():
        return nbformat.read(partial, as_version=4)
    if "notebook" in executing:
        return executing["notebook"]
    return _error_notebook(error or "")


def enter_kernel(kernel: Any, out_dir: Path, fresh: Callable[[], Any]) -> tuple[Any, Any]:
    """The kernel to run a notebook in, entered into ``out_dir``, and its client.

    A kernel that dies or does not answer while starting (for example when another process took
    one of the ports it was given, which happens on a busy machine) is replaced once by a fresh
    kernel from ``fresh``; the first one gets half the start-up time, the second all of it.
    """
    try:
        return kernel, kernel.enter(out_dir, timeout=KERNEL_START_TIMEOUT_SECONDS / 2)
    except (TimeoutError, RuntimeError) as exc:
        if "could not change into" in str(exc):
            raise
        kernel.close()
    replacement = fresh()
    try:
        return replacement, replacement.enter(out_dir)
    except BaseException:
        replacement.close()
        raise


KERNEL_MODES = ("warm", "cold")


class KernelSource:
    """Where a run's kernels come from: forked from a zygote (``warm``) or started cold.

    Every kernel imports the same modules (those of all the run's notebooks), so a kernel belongs to
    no control until a control is claimed for it. A warm kernel that cannot be forked (the zygote
    could not start or has gone) is started cold instead; the counts say how many of each ran.
    """

    def __init__(self, preload: list[str], cwd: Path, mode: str = "warm"):
        if mode not in KERNEL_MODES:
            raise ValueError(f"--kernels must be one of {', '.join(KERNEL_MODES)}, got {mode!r}")
        self.preload = list(preload)
        self.cwd = Path(cwd)
        self.mode = mode
        self.zygote: kernel_zygote.Zygote | None = None
        self.started = {"warm": 0, "cold": 0}
        self.closed = False
        self._lock = threading.Lock()
        if mode == "warm" and kernel_zygote.fork_available():
            environment = kernel_environment()
            # one started ahead by ``workbench run`` (``preloading.start_zygote_early``) if it matches,
            # else a new one, importing at once, while the period is checked and its inputs frozen
            self.zygote = kernel_zygote.adopt_early(self.preload, self.cwd, environment)
            if self.zygote is None:
                try:
                    self.zygote = kernel_zygote.Zygote(self.preload, self.cwd, env=environment)
                except OSError:
                    self.zygote = None

    def start(self) -> Kernel | None:
        """A kernel, booting now (None if none could be started: the control then starts one of its
        own, and reports why that fails; or if the run is over)."""
        zygote = self.zygote
        if zygote is not None:
            try:
                return self._count(Kernel(self.cwd, self.preload, zygote))
            except kernel_zygote.ZygoteUnavailable:  # gone or stuck: the run's other kernels start cold
                self.zygote = None
                zygote.close()
            except Exception:  # this kernel did not start: started cold below
                pass
        if self.closed:
            return None
        try:
            return self._count(Kernel(self.cwd, self.preload))
        except Exception:
            return None

    def _count(self, kernel: Kernel) -> Kernel:
        """Count a kernel by kind (for the manifest's run metadata)."""
        with self._lock:
            self.started["warm" if kernel.warm else "cold"] += 1
        return kernel

    def metadata(self) -> dict[str, Any]:
        """What the manifest records about the run's kernels."""
        return {"requested": self.mode, "started": dict(self.started), "preloaded_modules": self.preload,
                "mechanism": ("forked from a process that had imported the preloaded modules "
                              "(workbench.kernel_zygote), one new process per control"
                              if self.started["warm"] else "a new kernel process per control (python -m ipykernel_launcher)")}

    def close(self) -> None:
        """Start no more kernels; stop the zygote (which kills any kernel of its own still running)."""
        self.closed = True
        zygote, self.zygote = self.zygote, None
        if zygote is not None:
            zygote.close()


class ReadyKernels:
    """Kernels started ahead for the run's controls, shared by its executors (thread-safe).

    Never more kernels ready (or starting) than controls left to hand out: each executor readies
    the next control's kernel while its own runs, and with two executors both would otherwise ready
    one for the last control (one kernel forked for nothing per run, measured on the demo period).
    A kernel is taken oldest first, whichever executor readied it, so it has had the longest to boot.
    """

    def __init__(self, controls: ControlQueue, kernels: KernelSource):
        self.controls = controls
        self.kernels = kernels
        self._ready: list[Kernel] = []
        self._starting = 0
        self._lock = threading.Lock()

    def ready_one(self) -> None:
        """Start one more kernel now, if fewer are ready or starting than controls are left."""
        with self._lock:
            if len(self._ready) + self._starting >= self.controls.remaining():
                return
            self._starting += 1
        kernel = None
        try:
            kernel = self.kernels.start()
        finally:
            with self._lock:
                self._starting -= 1
                if kernel is not None:
                    self._ready.append(kernel)

    def take(self) -> Kernel | None:
        """The oldest ready kernel, no longer ready for another control (started now if none is)."""
        with self._lock:
            kernel = self._ready.pop(0) if self._ready else None
        return kernel if kernel is not None else self.kernels.start()

    def close(self) -> None:
        """Stop the kernels readied for controls that will not run."""
        with self._lock:
            ready, self._ready = self._ready, []
        for kernel in ready:
            kernel.close()


class ControlExecutor:
    """Tests controls one after another, claiming each only when it is free to test it.

    Kernels are readied ahead (``ReadyKernels``, shared by the run's executors) and belong to no
    control yet: when an executor is free, it claims the next control (the longest left), runs it in
    a ready kernel, and readies another meanwhile if more controls are left than kernels ready, so
    kernels boot while notebooks run, no control waits behind another while a slot is free, and no
    kernel is started that no control uses. Kernels start in the source's folder and change into
    their control's folder when the control begins.
    """

    def __init__(self, controls: ControlQueue, kernels: KernelSource,
                 notify: Callable[[ProgressEvent], None] = lambda event: None,
                 ready: ReadyKernels | None = None):
        self.controls = controls
        self.kernels = kernels
        self.notify = notify
        self._owns_ready = ready is None  # a shared one is closed by its pool, once every executor is done
        self.ready = ready if ready is not None else ReadyKernels(controls, kernels)

    def ready_kernel(self) -> None:
        """Start a kernel for a control left now, if more controls are left than kernels ready."""
        self.ready.ready_one()

    def run(self, context: RunContext, finished: Callable[[ControlOutcome], None]) -> None:
        """Test controls until none is left to claim, reporting each outcome to ``finished``."""
        _papermill_engine()  # registered once per process; cheap after the warm-up
        while (claimed := self.controls.claim()) is not None:
            control_id, notebook = claimed
            kernel = self.ready.take()
            self.ready_kernel()  # a later control's, booting while this one runs
            try:
                outcome = execute_control(context, control_id, notebook, kernel, self.kernels.preload, self.notify)
            finally:  # execute_control stops its kernel; this is for a fault of the runner itself
                if kernel is not None:
                    kernel.close()
            finished(outcome)

    def close(self) -> None:
        """Stop the kernels readied for controls that will not run (its own; a pool's ready kernels
        are the pool's to stop: another executor may be about to take one)."""
        if self._owns_ready:
            self.ready.close()


def _close_thread_event_loop() -> None:
    """Close the event loop jupyter_client's synchronous calls created for this thread.

    Otherwise each finished thread leaves a loop (and its file descriptors) to the garbage collector.
    """
    import asyncio

    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:  # this thread never made one
        return
    if not loop.is_running() and not loop.is_closed():
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    asyncio.set_event_loop(None)


#: What publishing a run imports (the register, its workbook, the lead sheet's charts): about 0.7 s
#: that the run's end waited for (``benchmarks/bench_run.py`` profile). Imported by a thread of its
#: own once the controls have started, so it overlaps their work.
PUBLISHING_MODULES = ("workbench.exceptions", "workbench.deficiencies", "workbench.workbook", "workbench.charts",
                      "openpyxl.writer.excel", "openpyxl.worksheet.datavalidation", "openpyxl.worksheet.table")


def warm_publishing() -> None:
    """Import what publishing needs, matplotlib's figure modules included (``PUBLISHING_MODULES``),
    and compile the lead sheet's template.

    Imports and compiling only: nothing is computed or written, so a run stopped meanwhile loses nothing.
    """
    import importlib

    for name in PUBLISHING_MODULES:
        importlib.import_module(name)
    importlib.import_module("workbench.charts")._matplotlib()
    workpapers.index_template()


def _warm_publishing_quietly() -> None:
    """``warm_publishing`` in the background: a fault here recurs, and is reported, when publishing."""
    timing_trace.mark("publishing-warm-up")
    try:
        warm_publishing()
    except Exception:
        pass


def core_to_spare(busy_slots: int, cores: int | None) -> bool:
    """Whether the run's busy control slots leave a core free for publishing's warm-up.

    The warm-up (``warm_publishing``: about 0.4 s of imports) is pure CPU. Started beside as many
    kernels as there are cores, it takes its time from the controls; started when a slot has
    no control left to claim, it runs on that slot's core, which would otherwise sit idle until
    the last control ends.
    """
    return busy_slots < max(1, cores or 1)


def _warm_up(executors: list[ControlExecutor] | None = None) -> None:
    """Import papermill while the kernels boot; then ready each executor's first kernel (forked
    kernels wait for the zygote's imports: not in the main thread); then compile the workpaper
    template in a thread of its own (``_warm_exporter``).

    The controls begin when this returns (``ControlPool.run`` waits for it), and the template is
    needed only when the first control's notebook is done: compiling it first (0.2 s of the runner's
    CPU, on two cores busy with the check and the zygote's imports) delayed every run's first control.
    """
    try:
        _papermill_engine()
    except Exception:  # the same fault recurs in the first control, which reports it as its failure
        pass
    for executor in executors or []:
        executor.ready_kernel()
    threading.Thread(target=_warm_exporter, daemon=True, name="workbench-warm-exporter").start()


def _warm_exporter() -> None:
    """Compile the workpaper template in the background (``workpapers.prepare_exporter``; the first
    export waits for it, as exports take turns): a fault here recurs in the first export, which
    reports it as its control's failure."""
    try:
        workpapers.prepare_exporter()
    except Exception:
        pass


def _lost_control(context: RunContext, control_id: str, reason: str) -> ControlOutcome:
    """A control the run could not test: record the failure and a workpaper that shows it."""
    control = context.parameters.control(control_id)
    context.control_dir(control_id).mkdir(exist_ok=True)
    publish_workpaper(context, control, "failed", reason, _error_notebook(reason))
    return ControlOutcome(control_id, "failed", 0.0, reason, frameworks=framework_labels(control), title=control.title)


class ControlPool:
    """``jobs`` executors testing the run's controls at once, one thread each, in this process.

    Threads, not processes: the heavy work happens in the kernels, which are processes of their
    own; a thread only drives its kernel and exports the HTML (about 0.15 s of Python per control),
    and one process imports papermill and nbconvert once instead of once per worker process
    (measured on the demo period, 6 controls on 2 cores: 1.2 s less wall-clock and CPU time than
    two spawned worker processes). papermill's ``cwd`` option, which changes the whole process's
    folder, is not used: each kernel changes into its own control's folder.

    Created before the run folder is prepared, so the first kernels boot (cold) or the zygote
    imports (warm) while the parameter file is validated and the inputs frozen; nothing executes a
    notebook before ``run``. Controls are handed out in ``order`` (default: the notebooks' order);
    outcomes come back in the notebooks' order. Every kernel imports ``preload`` ahead (default: what
    the given notebooks import; a period run passes ``kernel_preload``).
    """

    def __init__(self, jobs: int, notebooks: dict[str, Path], kernel_cwd: Path, kernels: str = "warm",
                 order: list[str] | None = None, preload: list[str] | None = None):
        self.jobs = max(1, min(jobs, len(notebooks)))
        stopping.KERNELS.open()  # kernels may start (a run stopped earlier in this process refused them)
        self._notebooks = dict(notebooks)
        order = list(order) if order is not None else list(notebooks)
        if sorted(order) != sorted(notebooks):
            raise ValueError("the order must name every control of the run once")
        if preload is None:
            preload = preload_modules(sorted(set(notebooks.values())))
        self.kernels = KernelSource(preload, kernel_cwd, kernels)
        self._controls = ControlQueue([(control_id, notebooks[control_id]) for control_id in order])
        self._ready = ReadyKernels(self._controls, self.kernels)
        self._executors = [ControlExecutor(self._controls, self.kernels, ready=self._ready) for _ in range(self.jobs)]
        if self.kernels.zygote is None:  # cold kernels boot now; forks wait for the zygote's imports
            for executor in self._executors:
                executor.ready_kernel()
        self._warm_up = threading.Thread(target=_warm_up, args=(self._executors,), daemon=True,
                                         name="workbench-warm-up")
        self._warm_up.start()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> ControlPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: Any) -> None:
        if exc_type is not None and not issubclass(exc_type, Exception):  # interrupted (Ctrl-C, SIGTERM)
            self.stop()
        self.close()

    def stop(self, wait_seconds: float = 10.0) -> None:
        """Stop at once: hand out no more controls, kill every kernel of the run (by its process
        handle), and give the control threads a moment to notice."""
        self._controls.stop()
        stopping.KERNELS.stop_all()
        deadline = time.monotonic() + wait_seconds
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def run(self, context: RunContext, reporter: ProgressReporter) -> list[ControlOutcome]:
        """Test every control; outcomes in the notebooks' order, whatever order they ran in."""
        self._warm_up.join()
        messages: queue.Queue = queue.Queue()
        outcomes: dict[str, ControlOutcome] = {}
        threads = []
        for number, executor in enumerate(self._executors, start=1):
            executor.notify = lambda event: messages.put(("progress", event))
            threads.append(threading.Thread(target=self._drive, args=(executor, context, messages), daemon=True,
                                            name=f"workbench-control-{number}"))
        self._threads = threads
        for thread in threads:
            thread.start()
        warm_publishing_thread = threading.Thread(target=_warm_publishing_quietly, daemon=True,
                                                  name="workbench-warm-publishing")
        running, crash, fault = len(threads), None, None
        while running:
            if warm_publishing_thread.ident is None and core_to_spare(running, os.cpu_count()):
                warm_publishing_thread.start()
            kind, payload = messages.get()
            if kind == "progress":
                reporter.update(payload)
            elif kind == "outcome":
                outcomes[payload.control_id] = payload
                reporter.finished(payload)
                if len(outcomes) == 1:
                    runfolder.checkpoint("controls")
            else:  # an executor stopped (``payload`` says why and with which error if it crashed)
                running -= 1
                crash, fault = crash or payload[0], fault or payload[1]
        if fault is not None and runfolder.is_storage_error(fault):
            raise fault  # the disk is full or read-only: no workpaper can be written
        for control_id in self._notebooks:
            if control_id not in outcomes:  # only after a crash of the runner itself
                outcomes[control_id] = _lost_control(context, control_id, f"the run stopped before testing this "
                                                     f"control: {crash or 'unknown reason'}")
                reporter.finished(outcomes[control_id])
        return [outcomes[control_id] for control_id in self._notebooks]

    @staticmethod
    def _drive(executor: ControlExecutor, context: RunContext, messages: queue.Queue) -> None:
        """One thread: test controls until none is left; always say when it stops, and why."""
        reason, fault = None, None
        try:
            executor.run(context, lambda outcome: messages.put(("outcome", outcome)))
        except BaseException as exc:  # a fault of the runner, not of a notebook (those are outcomes)
            reason, fault = describe_failure(exc), exc
        finally:
            executor.close()
            _close_thread_event_loop()
            messages.put(("stopped", (reason, fault)))

    def close(self) -> None:
        """Hand out no more controls, stop every kernel readied for a control that did not run, and
        stop the zygote."""
        self._controls.stop()
        self.kernels.close()
        self._warm_up.join()
        self._ready.close()


# --- the period run ----------------------------------------------------------------------------

@dataclass(frozen=True)
class RunResult:
    """The outcome of a period run: where it is, how each control went, how long it took."""

    run_dir: Path
    index_html: Path
    outcomes: list[ControlOutcome]
    seconds: float = 0.0
    jobs: int = 1

    @property
    def failed(self) -> list[str]:
        """Ids of controls whose workpaper failed."""
        return [o.control_id for o in self.outcomes if o.status != "completed"]


def _period_register(context: RunContext, outcomes: list[ControlOutcome]) -> pd.DataFrame:
    """The period's exception register from every completed control's register."""
    from workbench import exceptions  # pandas and openpyxl: the worker processes never need them

    frames = [
        exceptions.read_register(context.control_dir(o.control_id) / CONTROL_EXCEPTIONS)
        for o in outcomes
        if o.status == "completed" and (context.control_dir(o.control_id) / CONTROL_EXCEPTIONS).is_file()
    ]
    return exceptions.combine_registers(frames)


@dataclass(frozen=True)
class PublishedRegister:
    """The period's register with the auditors' records merged in, and the SOX deficiency worksheet."""

    merged: pd.DataFrame
    worksheet: pd.DataFrame
    unmatched: list[str]


def _control_results(context: RunContext, outcomes: list[ControlOutcome]) -> dict[str, dict[str, Any]]:
    """Each completed control's result.json."""
    return {o.control_id: json.loads((context.control_dir(o.control_id) / CONTROL_RESULT).read_text(encoding="utf-8"))
            for o in outcomes if o.status == "completed" and (context.control_dir(o.control_id) / CONTROL_RESULT).is_file()}


def _publish_register(context: RunContext, outcomes: list[ControlOutcome], register: pd.DataFrame) -> PublishedRegister:
    """Write exceptions.csv (register + lifecycle) and exceptions.xlsx (register, SOC 2 and SOX views,
    deficiency worksheet) from the control registers and the auditors' frozen records."""
    from workbench import deficiencies, exceptions, workbook

    records, evaluations = frozen_records(context.run_dir)
    period = context.parameters.period
    merged = exceptions.merge_records(register, records, period.end, period.id)
    titles = {c.id: c.title for c in context.parameters.controls}
    worksheet = deficiencies.worksheet(_control_results(context, outcomes), titles, register, evaluations)
    exceptions.write_register(merged, context.run_dir / "exceptions.csv")
    workbook.write_register_workbook(merged, records, context.run_dir / "exceptions.xlsx", period=period.id,
                                     as_at=period.end, other_sheets={"SOX deficiency worksheet": worksheet})
    return PublishedRegister(merged, worksheet, exceptions.unmatched_records(merged))


def _index_charts(register: pd.DataFrame, merged: pd.DataFrame) -> list[str]:
    """The period's charts as inline PNG blocks for the lead sheet (static: no script, no request)."""
    from workbench import charts

    return [charts.figure_html(charts.exceptions_by_control_and_rule(register)),
            charts.figure_html(charts.exceptions_by_status_and_age(merged))]


def _status_summary(merged: pd.DataFrame) -> list[dict[str, Any]]:
    """Exceptions by control and status, with the oldest age, for the lead sheet."""
    if merged.empty:
        return []
    table = (merged.groupby(["control_id", "status"]).agg(exceptions=("exception_id", "size"),
                                                         oldest_days=("age_days", "max")).reset_index())
    return table.to_dict("records")


def _index_pages(context: RunContext, outcomes: list[ControlOutcome], register: pd.DataFrame,
                 published: PublishedRegister) -> tuple[str, str]:
    """The period lead sheet ``index.html``: provisional (written while the run is published, it
    says the run is not finished) and final (written just before the manifest)."""
    params = context.parameters
    by_id = {o.control_id: o for o in outcomes}
    controls = []
    for control in params.controls:
        if control.id not in by_id:
            continue
        outcome = by_id[control.id]
        sox = control.frameworks.sox
        controls.append({
            "control_id": control.id, "title": control.title, "frequency": control.frequency.replace("_", " "),
            "soc2": ", ".join(control.frameworks.soc2) or "—",
            "sox": sox.itgc_domain.replace("_", " ") if sox else "—",
            "status": outcome.status, "label": outcome.status, "css": outcome.status,
            "conclusions": outcome.conclusions or ([f"Run failed: {outcome.error}"] if outcome.error else []),
            "exception_count": outcome.exception_count,
            "has_sample": (context.control_dir(control.id) / "sample.csv").is_file(),
            "period_changes": _period_changes_line(context.control_dir(control.id)),
        })
    document = {
        "entity": params.entity, "period_id": params.period.id,
        "period_start": params.period.start, "period_end": params.period.end,
        "preparer": params.preparer, "reviewer": params.reviewer, "signoff_file": lineage.SIGNOFF,
        "run_id": context.run_id, "seed": params.seed, "controls": controls,
        "failed": [c["control_id"] for c in controls if c["status"] != "completed"],
        "exceptions": published.merged.to_dict("records"), "exception_count": len(register),
        "soc2_exceptions": published.merged[published.merged["framework"].str.contains("SOC 2", regex=False)].to_dict("records"),
        "sox_exceptions": published.merged[published.merged["framework"].str.contains("SOX", regex=False)].to_dict("records"),
        "status_summary": _status_summary(published.merged), "unmatched": published.unmatched,
        "worksheet": published.worksheet.to_dict("records"), "charts": _index_charts(register, published.merged),
        "prior_run": prior_run.frozen_prior_run(context.run_dir, params),
    }
    document |= _index_references(controls, register)
    pending = [dict(c, label=workpapers.PROVISIONAL_STATUS, css="pending") if c["status"] == "completed" else c
               for c in controls]
    return (workpapers.render_index(document | {"controls": pending, "provisional": workpapers.provisional_notice("lead sheet")}),
            workpapers.render_index(document))


def _period_changes_line(control_dir: Path) -> str | None:
    """The lead sheet's line of a control's changes since the prior period (None when the workpaper
    wrote none: no prior run, or the control was not tested in it)."""
    from workbench import csvsafe, period_changes

    path = control_dir / period_changes.DETAIL_FILE
    return period_changes.summary_line(csvsafe.read_csv(path)) if path.is_file() else None


def _index_references(controls: list[dict[str, Any]], register: pd.DataFrame) -> dict[str, Any]:
    """The index's links into the workpapers (``referencing``): each completed workpaper's sections
    and exceptions, and each exception id of the run's own register linked to its row."""
    pairs = list(register[["control_id", "exception_id"]].itertuples(index=False, name=None)) if len(register) else []
    return {"exception_links": referencing.exception_links(pairs),
            "references": [referencing.index_entries(c["control_id"], [e for ctl, e in pairs if ctl == c["control_id"]])
                           for c in controls if c["status"] == "completed"]}


def finalize_workpaper(context: RunContext, outcome: ControlOutcome) -> None:
    """Make a control's workpaper final as its run is published: its provisional header (HTML) and
    status (notebook metadata) become the final ones. Replaced in place, byte for byte, so the
    page is exactly what a final export would have written."""
    control = context.parameters.control(outcome.control_id)
    out_dir = context.control_dir(control.id)
    header = functools.partial(_control_header, context.parameters, control, outcome.status, outcome.error)
    runfolder.replace_once(out_dir / WORKPAPER_HTML, header(provisional=True), header(provisional=False),
                           done_already_ok=True)  # a publication run again after its worker died
    if outcome.status == "completed":
        status = json.dumps({"status": workpapers.PROVISIONAL_STATUS}, ensure_ascii=False)[1:-1]
        runfolder.replace_once(out_dir / WORKPAPER_NOTEBOOK, status, status.replace(workpapers.PROVISIONAL_STATUS,
                                                                                   outcome.status),
                               done_already_ok=True)


def check_before_run(parameter_file: Path) -> None:
    """Run ``workbench check`` on the period; raise ``CheckFailed`` (a ParameterError) listing every problem.

    Called before the run folder is created, so a refused period leaves nothing behind.
    """
    from workbench.check import CheckFailed, check_period

    report = check_period(parameter_file)
    if not report.ok:
        raise CheckFailed(report)


def run_period(parameter_file: Path, out_dir: Path = Path("outputs"), jobs: int | None = None,
               only: list[str] | None = None, notebooks_dir: Path | None = None,
               progress: Callable[[str], None] = print, reporter: ProgressReporter | None = None,
               sign: bool = True, signing_key: Path | None = None, prior_run_dir: Path | None = None,
               kernels: str = "warm") -> RunResult:
    """Run a period end to end and return where its evidence is. Raises ParameterError on bad input.

    The manifest is signed by the period's preparer (``signing_key``, else their key: see
    ``workbench.signing``); ``sign=False`` only for re-performance, whose scratch run is compared, not kept.

    The period is checked first (``workbench check``: keys, references, exports read by their readers,
    settings, source roles); any problem stops the run before its folder is created.

    The run is built in ``<run-id>.incomplete`` and renamed to its run id once its manifest is
    written (``runfolder``). A run stopped before (Ctrl-C, SIGTERM, a full or read-only disk)
    records why in that folder, stops its kernels and raises ``stopping.RunAbandoned``.

    ``reporter`` shows progress (default: plain lines through ``progress``); ``jobs`` is how many
    controls are tested at once (default: the number of cores).

    ``prior_run_dir`` names the prior period's run (a run folder, or a period folder for its latest
    run): each workpaper then shows what changed since it. It is verified before the run folder is
    created and refused (``prior_run.PriorRunRefused``) when it is not usable evidence.

    ``kernels``: ``warm`` forks each control's kernel from a process that has imported what the
    notebooks import (``kernel_zygote``), ``cold`` starts each from nothing; the workpapers are the
    same. Controls are handed out longest first (``schedule``).
    """
    started_wall = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    reporter = reporter or LineProgress(progress)
    if jobs is not None and jobs < 1:
        raise ValueError(f"--jobs must be at least 1, got {jobs}")
    jobs = jobs or os.cpu_count() or 1
    notebooks_dir = notebooks_dir or notebooks_folder()
    try:
        params = load_period(parameter_file)
    except ParameterError:  # report every problem of the file, not only its keys
        check_before_run(parameter_file)
        raise
    key = seal.preparer_key(params.preparer, signing_key) if sign else None  # a key problem stops the run now
    prior = prior_run.open_prior_run(Path(prior_run_dir), params) if prior_run_dir is not None else None
    selected = [c for c in params.controls if not only or c.id in only]
    unknown = sorted(set(only or []) - {c.id for c in params.controls})
    if unknown:
        raise KeyError(f"--only names control(s) not in {parameter_file}: {', '.join(unknown)}; "
                       f"controls are {', '.join(c.id for c in params.controls)}")
    notebooks = {c.id: notebook_for(c.procedure, notebooks_dir) for c in selected}
    plan = schedule_controls(params, Path(parameter_file), Path(out_dir), selected)
    stage = _Stage()
    try:
        with ControlPool(jobs, notebooks, notebooks_dir, kernels, plan.order,
                         kernel_preload(notebooks_dir, notebooks.values())) as pool:  # kernels boot meanwhile
            timing_trace.mark("stage", step="check")
            check_before_run(parameter_file)  # the whole ``workbench check``, before the run folder exists
            timing_trace.mark("stage", step="prepare")
            context = prepare_run(Path(parameter_file), Path(out_dir), started_wall, staged=stage.staged, prior=prior)
            stage.enter("controls")
            reporter.begin(params, list(notebooks), pool.jobs, context.run_dir)
            try:
                outcomes = pool.run(context, reporter)
            finally:
                reporter.close()
        stage.enter("publishing")
        run_dir = _publish(context, outcomes, notebooks, notebooks_dir, {
            "started_at": started_wall.isoformat(timespec="seconds"), "jobs": pool.jobs,
            "kernels": pool.kernels.metadata(), "schedule": {"order": plan.order, "basis": plan.basis}}, started, key)
    except BaseException as exc:
        abandoned = stopping.abandon(stage.run_dir, stage.step, exc) if stage.run_dir is not None else None
        if abandoned is None:
            raise
        raise abandoned from exc
    _point_latest(run_dir)
    timing_trace.mark("stage", step="done")
    return RunResult(run_dir, run_dir / "index.html", outcomes, round(time.perf_counter() - started, 2), pool.jobs)


def schedule_controls(params: PeriodParameters, parameter_file: Path, out_dir: Path,
                      controls: list[Control]) -> schedule.Plan:
    """The order the controls are handed out in: longest first, by the period's previous complete
    run's durations, else by the size of the exports each control reads (``schedule``)."""
    base = Path(parameter_file).resolve().parent
    sizes = {}
    for source in params.sources:  # not read here: ``workbench check`` and the freezing screen them
        try:
            sizes[source.id] = (base / source.path).stat().st_size
        except (OSError, TypeError, ValueError):
            continue
    return schedule.plan([c.id for c in controls], {c.id: c.sources for c in controls}, sizes,
                         schedule.previous_manifest(Path(out_dir).resolve() / params.period.id))


@dataclass
class _Stage:
    """Where a period run is: its staging folder (once created) and its step (``runfolder.STEPS``)."""

    run_dir: Path | None = None
    step: str = "freezing"

    def staged(self, run_dir: Path) -> None:
        """The staging folder exists (``prepare_run`` calls this before freezing anything)."""
        self.run_dir = run_dir

    def enter(self, step: str) -> None:
        """The run moves on to ``step``; its marker says so."""
        timing_trace.mark("stage", step=step)
        self.step = step
        if self.run_dir is not None:
            runfolder.record_step(self.run_dir, step)


def _publish(context: RunContext, outcomes: list[ControlOutcome], notebooks: dict[str, Path], notebooks_dir: Path,
             metadata: dict[str, Any], started: float, key: SigningKey | None = None) -> Path:
    """Publish a tested run: the register, the lead sheet, the final workpapers, the manifest (signed
    with ``key`` when given), then the rename that makes the run complete. Returns the run folder.

    The lead sheet is written provisional first (it says the run is not finished); the final lead
    sheet and workpapers replace the provisional ones just before the manifest, so a run stopped
    while publishing shows nothing as completed.
    """
    document = _publication(context, outcomes, notebooks, notebooks_dir, metadata, started)

    def seal_it(run_dir: Path) -> None:
        lineage.write_manifest(run_dir, document)
        if key is not None:   # signed inside the staging folder, before the rename makes the run complete
            seal.sign_manifest(run_dir, key)
    return runfolder.finish(context.run_dir, seal_it)


def _publication(context: RunContext, outcomes: list[ControlOutcome], notebooks: dict[str, Path],
                 notebooks_dir: Path, metadata: dict[str, Any], started: float) -> dict[str, Any]:
    """Everything of ``_publish`` before the manifest: the register, the lead sheet and the final
    workpapers written into the run folder; returns the manifest's document (without its files' hashes)."""
    params = context.parameters
    register = _period_register(context, outcomes)
    published = _publish_register(context, outcomes, register)
    provisional_index, final_index = _index_pages(context, outcomes, register, published)
    runfolder.write_text(context.run_dir / "index.html", provisional_index)
    runfolder.checkpoint("publishing")
    for outcome in outcomes:
        finalize_workpaper(context, outcome)
    runfolder.write_text(context.run_dir / "index.html", final_index)
    inputs = json.loads((context.run_dir / RUN_PARAMETERS).read_text(encoding="utf-8"))["inputs"]
    document = {
        "workbench_version": __version__,
        "run_id": context.run_id,
        "period": params.period.id,
        "seed": params.seed,
        "parameters": params.model_dump(mode="json"),
        "inputs": inputs,
        "controls": [asdict(o) for o in outcomes],
        **seal.manifest_statements(context.run_dir, [o.control_id for o in outcomes if o.status == "completed"]),
        "versions": lineage.package_versions(),
        "notebooks": {"commit": lineage.git_commit(notebooks_dir), "files": {
            cid: {"path": nb.name, "sha256": lineage.file_sha256(nb)} for cid, nb in notebooks.items()}},
        "run_metadata": {
            **metadata,
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - started, 2),
            **lineage.runtime_metadata(),
        },
    }
    return document


def _point_latest(run_dir: Path) -> None:
    """Make the period folder's ``latest`` file name this run (written atomically)."""
    runfolder.write_text(run_dir.parent / "latest", run_dir.name + "\n")


def latest_run(period_dir: Path) -> Path:
    """The newest run folder of a period, from its ``latest`` file."""
    return period_dir / (period_dir / "latest").read_text(encoding="utf-8").strip()


def summary_table(outcomes: list[ControlOutcome]) -> str:
    """The end-of-run table for the terminal: control, frameworks, result, exceptions, time."""
    rows = [("Control", "Framework(s)", "Result", "Exceptions", "Time")]
    for o in outcomes:
        result = "; ".join(o.conclusions) if o.status == "completed" else f"FAILED: {(o.error or '').splitlines()[0][:120]}"
        rows.append((o.control_id, "; ".join(o.frameworks) or "—", result or "—", str(o.exception_count),
                     f"{o.seconds:.1f} s"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    right = {3, 4}

    def line(row: tuple[str, ...]) -> str:
        """One row, each cell padded to its column's width."""
        return "  ".join(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                         for i, cell in enumerate(row)).rstrip()

    return "\n".join([line(rows[0]), "  ".join("-" * w for w in widths), *map(line, rows[1:])])


# --- a prepared run tested control by control elsewhere (audit groups: ``workbench.groups``) ------

def run_prepared_control(context: RunContext, control_id: str, notebooks_dir: Path | None = None,
                         kernel: Kernel | None = None, preload: list[str] | None = None) -> ControlOutcome:
    """Test one control of a prepared run in a fresh kernel of this process, as ``run_period`` does.

    What a group's Dask worker calls for each control it is given: the same notebook, kernel and
    workpaper as a period run, so a period tested on a cluster writes the same files as on one machine.
    ``kernel`` is one started ahead (a worker's warm ``KernelSource``, importing ``preload``); else
    a cold kernel is started here.
    """
    stopping.KERNELS.open()
    _papermill_engine()
    notebook = notebook_for(context.parameters.control(control_id).procedure, notebooks_dir or notebooks_folder())
    return execute_control(context, control_id, notebook, kernel,
                           preload=preload if preload is not None else preload_modules([notebook]))


def record_lost_control(context: RunContext, control_id: str, reason: str) -> ControlOutcome:
    """A control that could not be tested (e.g. every worker that tried it was lost): a failed
    workpaper that says why, so the period can still be published."""
    return _lost_control(context, control_id, reason)


def publish_prepared_run(context: RunContext, outcomes: list[ControlOutcome], metadata: dict[str, Any],
                         started: float, key: SigningKey | None = None, notebooks_dir: Path | None = None) -> Path:
    """Publish a prepared run whose controls were tested elsewhere (``_publish``) and point the
    period's ``latest`` at it; ``started`` is the ``time.perf_counter()`` the run's seconds count from."""
    notebooks_dir = notebooks_dir or notebooks_folder()
    notebooks = {o.control_id: notebook_for(context.parameters.control(o.control_id).procedure, notebooks_dir)
                 for o in outcomes}
    runfolder.record_step(context.run_dir, "publishing")
    run_dir = _publish(context, outcomes, notebooks, notebooks_dir, metadata, started, key)
    _point_latest(run_dir)
    return run_dir


def publish_for_signature(context: RunContext, outcomes: list[ControlOutcome], metadata: dict[str, Any],
                          started: float, notebooks_dir: Path | None = None) -> Path:
    """Publish a prepared run up to its signature: register, lead sheet, final workpapers and the
    manifest, written in the staging folder, whose marker goes first (as ``runfolder.finish`` does).

    What an audit group's worker does, so the client that holds the preparer's key only signs and
    completes the run (``complete_signed_run``); the folder keeps its ``.incomplete`` name until
    then. Returns the manifest's path."""
    notebooks_dir = notebooks_dir or notebooks_folder()
    notebooks = {o.control_id: notebook_for(context.parameters.control(o.control_id).procedure, notebooks_dir)
                 for o in outcomes}
    runfolder.record_step(context.run_dir, "publishing")
    document = _publication(context, outcomes, notebooks, notebooks_dir, metadata, started)
    (context.run_dir / runfolder.MARKER).unlink(missing_ok=True)
    return lineage.write_manifest(context.run_dir, document)


def complete_signed_run(run_dir: Path, key: SigningKey | None) -> Path:
    """Sign the manifest a worker wrote (``publish_for_signature``) with the preparer's ``key``, rename
    the staging folder to its run id and point the period's ``latest`` at it; return the run folder."""
    final = runfolder.finish(Path(run_dir), lambda folder: seal.sign_manifest(folder, key) if key else None)
    _point_latest(final)
    return final


# --- verification and sign-off -----------------------------------------------------------------

@dataclass(frozen=True)
class Verification:
    """What ``workbench verify`` found: differences (empty when the run is intact) and the sign-off."""

    run_dir: Path
    problems: list[str]
    rederived: list[str]  # controls whose statistical sample was re-derived and matched
    signoff: dict[str, Any] | None
    sealed: seal.SealReport | None = None  # who signed what, with which key; notes on unknown keys

    @property
    def ok(self) -> bool:
        """Whether every file matches and every sample re-derives."""
        return not self.problems


def verify_run(run_dir: Path) -> Verification:
    """Re-hash every file of a run, re-derive every sample, and check the sign-off if there is one."""
    run_dir = Path(run_dir)
    runfolder.refuse_incomplete(run_dir, "verified")
    manifest = lineage.read_manifest(run_dir)
    signoff = lineage.read_signoff(run_dir)
    problems = lineage.verify_hashes(run_dir, manifest, after_signoff=signoff is not None)
    if signoff is not None:
        problems = lineage.verify_signoff(run_dir, signoff) + problems
    # A failed workpaper supports no conclusion, so only completed controls' samples are re-derived.
    controls = [c["control_id"] for c in manifest.get("controls", []) if c.get("status") == "completed"]
    sample_problems, rederived = lineage.verify_samples(run_dir, controls)
    sealed = seal.check_seal(run_dir, manifest)
    review.check_review(run_dir, manifest, sealed)  # workpaper sign-offs and review notes, beside the run
    return Verification(run_dir, sealed.problems + problems + sample_problems, rederived, signoff, sealed)


class SignoffRefused(Exception):
    """A sign-off that cannot be recorded, with the exit code that says why (1 differences, 2 input)."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def signoff_run(run_dir: Path, reviewer: str, note: str | None = None,
                now: dt.datetime | None = None, key_path: Path | None = None) -> dict[str, Any]:
    """Record the reviewer's sign-off of a verified run and make the run's files read-only.

    Refuses a run that does not verify, has a failed workpaper, is already signed off, or whose review
    is not done (a workpaper not signed off by its preparer and reviewer, an open review note:
    ``review.signoff_blockers``, listed in the refusal).
    """
    run_dir = Path(run_dir)
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise SignoffRefused("name the reviewer who signs off (--reviewer \"NAME\")", 2)
    runfolder.refuse_incomplete(run_dir, "signed off")
    manifest = lineage.read_manifest(run_dir)
    existing = lineage.read_signoff(run_dir)
    if existing is not None:
        raise SignoffRefused(f"run {run_dir} is already signed off by {existing.get('reviewer')} on "
                             f"{existing.get('signed_off_at')}; a run is signed off once", 2)
    verification = verify_run(run_dir)
    if not verification.ok:
        listing = "\n".join(f"  - {p}" for p in verification.problems)
        raise SignoffRefused(f"run {run_dir} does not verify, so it cannot be signed off "
                             f"({len(verification.problems)} difference(s)):\n{listing}", 1)
    failed = [c["control_id"] for c in manifest.get("controls", []) if c.get("status") != "completed"]
    if failed:
        raise SignoffRefused(f"run {run_dir} has failed workpaper(s) {', '.join(failed)}; fix the cause and run "
                             "the period again before sign-off", 1)
    blockers = review.signoff_blockers(run_dir, manifest)
    if blockers:
        raise SignoffRefused(f"run {run_dir} cannot be signed off until every workpaper is signed off by its preparer "
                             f"and reviewer and every review note is cleared ({len(blockers)} open point(s)):\n"
                             + "\n".join(f"  - {b}" for b in blockers), 1)
    record = seal.write_signoff(run_dir, reviewer, note, __version__, now, key_path,
                                extra=review.run_signoff_fields(run_dir))
    lineage.make_read_only(run_dir)
    return record
