"""A period run: validate parameters, freeze inputs, execute each control's notebook, publish.

The order is the evidence chain: nothing reads a source before it is copied into the run and hashed;
each control's notebook runs through papermill's Python API (in worker processes when there are
several: papermill's ``cwd`` option changes the process's directory, so threads would interfere);
every failure is caught, stamped in the notebook, the HTML, the index and the manifest; the manifest
is written last. Each run is a new folder; the period folder's ``latest`` file names the newest.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import nbformat
import pandas as pd

from workbench import __version__, exceptions, lineage, procedures, workpapers
from workbench.parameters import Control, ParameterError, PeriodParameters, load_period, resolve_source_paths

RUN_PARAMETERS = "parameters.json"
CONTROL_RESULT = "result.json"
CONTROL_EXCEPTIONS = "exceptions.csv"
CELL_TIMEOUT_SECONDS = 1800


def project_root() -> Path:
    """The checkout holding ``notebooks/`` and ``parameters/`` (the package is installed editable)."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2], Path.cwd()):
        if (candidate / "notebooks").is_dir() and (candidate / "parameters").is_dir():
            return candidate
    raise FileNotFoundError("cannot find the workbench's notebooks/ and parameters/ folders; run from the project folder")


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
    while (period_dir / run_id).exists():
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

    def control_dir(self, control_id: str) -> Path:
        """The folder of one control's outputs inside the run."""
        return self.run_dir / control_id


def prepare_run(parameter_file: Path, out_dir: Path, now: dt.datetime | None = None) -> RunContext:
    """Validate the parameter file, create the run folder and freeze every input into it.

    Raises ``ParameterError`` before anything is written if the file or a source is not usable.
    """
    parameter_file = Path(parameter_file)
    params = load_period(parameter_file)
    problems = [problem for i, control in enumerate(params.controls)
                for problem in procedures.settings_problems(control.procedure, control.settings, f"controls[{i}]")]
    if problems:
        raise ParameterError(parameter_file, problems)
    sources = resolve_source_paths(params, parameter_file)
    period_dir = Path(out_dir) / params.period.id
    period_dir.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id(period_dir, now)
    run_dir = period_dir / run_id
    run_dir.mkdir()
    frozen = lineage.freeze_inputs(sources, run_dir)
    shutil.copyfile(parameter_file, run_dir / "parameters.yaml")
    document = {
        "run_id": run_id,
        "parameters": params.model_dump(mode="json"),
        "inputs": {source_id: asdict(entry) for source_id, entry in frozen.items()},
    }
    lineage.write_json_atomically(run_dir / RUN_PARAMETERS, document)
    return RunContext(run_dir, run_id, params, {k: run_dir / v.frozen_path for k, v in frozen.items()})


def open_run(run_dir: str | Path) -> RunContext:
    """Re-open a prepared run folder (what a control notebook does first)."""
    run_dir = Path(run_dir).resolve()
    document = json.loads((run_dir / RUN_PARAMETERS).read_text(encoding="utf-8"))
    params = PeriodParameters.model_validate(document["parameters"])
    inputs = {k: run_dir / v["frozen_path"] for k, v in document["inputs"].items()}
    return RunContext(run_dir, document["run_id"], params, inputs)


def prepare_standalone_run(root: Path | None = None) -> RunContext:
    """A throw-away demo run, so a procedure notebook opened or validated on its own has data.

    The demo company is generated into a temporary copy of the project layout, so the demo
    parameter file's relative paths resolve the same way as in the checkout.
    """
    from workbench import demo  # imported here: only standalone runs need the generator

    root = root or project_root()
    scratch = Path(tempfile.mkdtemp(prefix="workbench-standalone-"))
    demo.generate_demo_company(scratch / "data" / "demo")
    (scratch / "parameters").mkdir()
    parameter_file = scratch / "parameters" / DEMO_PARAMETER_FILE
    shutil.copyfile(root / "parameters" / DEMO_PARAMETER_FILE, parameter_file)
    return prepare_run(parameter_file, scratch / "outputs")


DEMO_PARAMETER_FILE = "demo-2026-Q3.yaml"


@dataclass
class ControlOutcome:
    """How one control's run went: status, result lines, exception count, time, error if any."""

    control_id: str
    status: str  # "completed" or "failed"
    seconds: float
    error: str | None = None
    conclusions: list[str] = field(default_factory=list)
    exception_count: int = 0


def _control_header(params: PeriodParameters, control: Control, run_id: str, status: str) -> str:
    """The header rows of a control's workpaper."""
    sox = control.frameworks.sox
    rows = [
        ("Entity", params.entity),
        ("Period", f"{params.period.id}: {params.period.start} to {params.period.end}"),
        ("Control", f"{control.id} — {control.description}"),
        ("Control owner", control.owner),
        ("Frequency", control.frequency.replace("_", " ")),
        ("SOC 2 criteria", ", ".join(control.frameworks.soc2) or "not mapped"),
        ("SOX ITGC", f"{sox.itgc_domain.replace('_', ' ')}: {sox.objective}" if sox else "not mapped"),
        ("Systems", ", ".join(params.system(s).name for s in control.systems)),
        ("Prepared by", params.preparer),
        ("Reviewed by", f"{params.reviewer} — not signed off"),
        ("Run", run_id),
    ]
    return workpapers.header_html(rows, f"{control.id}: {control.title}", status)


def _stamp_status(notebook_path: Path, status: str, error: str | None) -> None:
    """Record the run status in the executed notebook's metadata (a dead kernel can look complete)."""
    notebook = nbformat.read(notebook_path, as_version=4)
    notebook.metadata["workbench"] = {"status": status, "error": error}
    nbformat.write(notebook, notebook_path)


def _error_notebook(path: Path, message: str) -> None:
    """A one-cell notebook that carries the error, when papermill could not even save a partial one."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_markdown_cell(f"## Run failed\n\n```\n{message}\n```"))
    nbformat.write(notebook, path)


def execute_control(run_dir: Path, control_id: str, notebook: Path) -> ControlOutcome:
    """Execute one control's notebook into its folder and export the HTML workpaper; never raises."""
    import papermill  # imported in the worker: it is slow to import

    context = open_run(run_dir)
    control = context.parameters.control(control_id)
    out_dir = context.control_dir(control_id)
    out_dir.mkdir(exist_ok=True)
    executed = out_dir / "workpaper.ipynb"
    started = time.perf_counter()
    error: str | None = None
    try:
        papermill.execute_notebook(
            str(notebook), str(executed),
            parameters={"run_dir": str(context.run_dir), "control_id": control_id},
            kernel_name="python3", cwd=str(out_dir), progress_bar=False,
            execution_timeout=CELL_TIMEOUT_SECONDS, report_mode=False,
            # The kernel talks to this process over loopback with HMAC-signed messages; its
            # "TCP without encryption" warning would only confuse an auditor's terminal.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except Exception as exc:  # every failure (cell error, dead kernel, timeout) fails the workpaper
        error = f"{type(exc).__name__}: {str(exc).strip()[:2000]}"
    if not executed.is_file():
        _error_notebook(executed, error or "the notebook was not written")
    if error is None and not (out_dir / CONTROL_RESULT).is_file():
        error = f"the notebook finished without recording its result ({CONTROL_RESULT})"
    status = "failed" if error else "completed"
    _stamp_status(executed, status, error)
    result = json.loads((out_dir / CONTROL_RESULT).read_text(encoding="utf-8")) if not error else {}
    footer = (f'<div class="wp-footer">Run failed: {workpapers.escape(error)}</div>' if error
              else '<div class="wp-footer">Generated by Audit Workbench; input and output hashes are in the run\'s manifest.json.</div>')
    workpapers.export_html(executed, out_dir / "workpaper.html",
                           _control_header(context.parameters, control, context.run_id, status), footer)
    return ControlOutcome(
        control_id=control_id, status=status, seconds=round(time.perf_counter() - started, 2), error=error,
        conclusions=result.get("conclusions", []), exception_count=result.get("exception_count", 0),
    )


def _execute_all(context: RunContext, notebooks: dict[str, Path], jobs: int,
                 progress: Callable[[str], None]) -> list[ControlOutcome]:
    """Execute the controls, in ``jobs`` worker processes when there is more than one control."""
    outcomes: list[ControlOutcome] = []
    total = len(notebooks)

    def report(outcome: ControlOutcome) -> None:
        outcomes.append(outcome)
        detail = f"{outcome.exception_count} exception(s)" if outcome.status == "completed" else outcome.error
        progress(f"[{len(outcomes)}/{total}] {outcome.control_id}: {outcome.status} in {outcome.seconds:.1f} s — {detail}")

    if jobs <= 1 or total <= 1:
        for control_id, notebook in notebooks.items():
            progress(f"Testing control {control_id} ...")
            report(execute_control(context.run_dir, control_id, notebook))
    else:
        spawn = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=spawn) as pool:
            futures = [pool.submit(execute_control, context.run_dir, cid, nb) for cid, nb in notebooks.items()]
            for future in concurrent.futures.as_completed(futures):
                report(future.result())
    return sorted(outcomes, key=lambda o: o.control_id)


@dataclass(frozen=True)
class RunResult:
    """The outcome of a period run: where it is and how each control went."""

    run_dir: Path
    index_html: Path
    outcomes: list[ControlOutcome]

    @property
    def failed(self) -> list[str]:
        """Ids of controls whose workpaper failed."""
        return [o.control_id for o in self.outcomes if o.status != "completed"]


def _period_register(context: RunContext, outcomes: list[ControlOutcome]) -> pd.DataFrame:
    """The period's exception register from every completed control's register."""
    frames = [
        exceptions.read_register(context.control_dir(o.control_id) / CONTROL_EXCEPTIONS)
        for o in outcomes
        if (context.control_dir(o.control_id) / CONTROL_EXCEPTIONS).is_file()
    ]
    return exceptions.combine_registers(frames)


def _write_index(context: RunContext, outcomes: list[ControlOutcome], register: pd.DataFrame) -> Path:
    """Write the period lead sheet ``index.html``."""
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
            "status": outcome.status,
            "conclusions": outcome.conclusions or ([f"Run failed: {outcome.error}"] if outcome.error else []),
            "exception_count": outcome.exception_count,
        })
    page = workpapers.render_index({
        "entity": params.entity, "period_id": params.period.id,
        "period_start": params.period.start, "period_end": params.period.end,
        "preparer": params.preparer, "reviewer": params.reviewer, "signoff": "not signed off",
        "run_id": context.run_id, "seed": params.seed, "controls": controls,
        "exceptions": register.to_dict("records"), "exception_count": len(register),
    })
    path = context.run_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def run_period(parameter_file: Path, out_dir: Path = Path("outputs"), jobs: int | None = None,
               only: list[str] | None = None, notebooks_dir: Path | None = None,
               progress: Callable[[str], None] = print) -> RunResult:
    """Run a period end to end and return where its evidence is. Raises ParameterError on bad input."""
    started_wall = dt.datetime.now(dt.UTC)
    notebooks_dir = notebooks_dir or project_root() / "notebooks"
    params = load_period(parameter_file)
    selected = [c for c in params.controls if not only or c.id in only]
    unknown = sorted(set(only or []) - {c.id for c in params.controls})
    if unknown:
        raise KeyError(f"--only names control(s) not in {parameter_file}: {', '.join(unknown)}; "
                       f"controls are {', '.join(c.id for c in params.controls)}")
    notebooks = {c.id: notebook_for(c.procedure, notebooks_dir) for c in selected}
    context = prepare_run(Path(parameter_file), Path(out_dir), started_wall)
    progress(f"Period {params.period.id} for {params.entity}: {len(selected)} control(s), inputs frozen in {context.run_dir}")
    outcomes = _execute_all(context, notebooks, jobs or os.cpu_count() or 1, progress)
    register = _period_register(context, outcomes)
    exceptions.write_register(register, context.run_dir / "exceptions.csv")
    index = _write_index(context, outcomes, register)
    inputs = json.loads((context.run_dir / RUN_PARAMETERS).read_text(encoding="utf-8"))["inputs"]
    lineage.write_manifest(context.run_dir, {
        "workbench_version": __version__,
        "run_id": context.run_id,
        "period": params.period.id,
        "seed": params.seed,
        "parameters": params.model_dump(mode="json"),
        "inputs": inputs,
        "controls": [asdict(o) for o in outcomes],
        "versions": lineage.package_versions(),
        "notebooks": {"commit": lineage.git_commit(notebooks_dir), "files": {
            cid: {"path": nb.name, "sha256": lineage.file_sha256(nb)} for cid, nb in notebooks.items()}},
        "run_metadata": {
            "started_at": started_wall.isoformat(timespec="seconds"),
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **lineage.runtime_metadata(),
        },
    })
    _point_latest(context.run_dir)
    return RunResult(context.run_dir, index, outcomes)


def _point_latest(run_dir: Path) -> None:
    """Make the period folder's ``latest`` file name this run (written atomically)."""
    latest = run_dir.parent / "latest"
    temporary = run_dir.parent / ".latest.tmp"
    temporary.write_text(run_dir.name + "\n", encoding="utf-8")
    temporary.replace(latest)


def latest_run(period_dir: Path) -> Path:
    """The newest run folder of a period, from its ``latest`` file."""
    return period_dir / (period_dir / "latest").read_text(encoding="utf-8").strip()


def verify_run(run_dir: Path) -> list[str]:
    """Every difference between a run folder and its manifest (empty when the run is intact)."""
    manifest = lineage.read_manifest(Path(run_dir))
    return lineage.verify_hashes(Path(run_dir), manifest)


def summary_table(outcomes: list[ControlOutcome]) -> str:
    """A plain-text summary of the run for the terminal."""
    header = f"{'Control':<10} {'Status':<10} {'Exceptions':>10} {'Seconds':>8}  Result"
    lines = [header, "-" * len(header)]
    for o in outcomes:
        result = " | ".join(o.conclusions) if o.conclusions else (o.error or "")
        lines.append(f"{o.control_id:<10} {o.status:<10} {o.exception_count:>10} {o.seconds:>8.1f}  {result}")
    return "\n".join(lines)
