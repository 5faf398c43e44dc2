"""Audit groups on a Dask distributed cluster: every control of every entity's period, fanned out.

``workbench run-group GROUP.yaml`` tests each period the group file lists (``workbench.groupfile``)
on a Dask cluster: an existing one (``--scheduler tcp://HOST:8786``) or, by default, a
``LocalCluster`` of worker processes on this machine, so the same command runs on a laptop and on a
cluster. Why Dask: it is an existing engine that schedules tasks on whatever workers there are,
notices a worker that dies and re-runs its task on another one (the scheduler's
``distributed.scheduler.allowed-failures``, 3 by default), and needs nothing on the workers but
this package.

The tasks, for each entity × period:

1. *prepare* (on a worker): ``workbench check`` on the period file and its exports, then the
   staging run folder with its frozen, hashed inputs, exactly as ``workbench run`` does;
2. *one task per control* (on any worker, ``pure=False``), submitted when its period is prepared:
   the control's notebook in a fresh kernel, its workpaper written into the run folder. Each task
   records its attempt (worker, host, process, times) in the group run's ``attempts/`` folder before
   it starts, so a control whose worker was lost and that Dask re-ran elsewhere shows both attempts;
3. *publish* (here, on the client), once all the period's controls are done: the register, the lead
   sheet and the manifest, signed with the preparer's key, which never leaves this machine.

A period whose file or exports cannot be used is reported for its entity; the others go on. The
group run's folder then gets ``group-manifest.json`` and ``index.html`` (``workbench.group_report``).

Storage: the run folders, the frozen inputs and the group folder are written by the workers and by
this process, so the group's ``out`` folder and every period file (and its exports) must be at the
same path on every worker and here (a shared folder). Before anything is submitted, every worker is
asked whether it sees them and runs the same workbench and notebooks; a worker that does not is
named and the group does not start.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench import __version__, group_report, lineage, runfolder, runner, seal
from workbench.group_report import Attempt, ControlReport, PeriodReport
from workbench.groupfile import Group, GroupPeriod
from workbench.parameters import PeriodParameters, load_period

DEFAULT_WORKERS = 2
WORKERS_TIMEOUT_SECONDS = 60
ATTEMPTS = "attempts"
LATEST = "latest"


class GroupSetupError(RuntimeError):
    """The cluster cannot run the group (a worker does not see the shared folder, or runs another
    version of the workbench); nothing was tested."""


# --- on the workers ------------------------------------------------------------------------------

@dataclass(frozen=True)
class WorkerInfo:
    """Where a task ran: the Dask worker's address, its host and the worker process's id."""

    worker: str
    host: str
    pid: int


def where_am_i() -> WorkerInfo:
    """This process as a worker of the cluster ("this process" outside a Dask worker)."""
    try:
        from distributed import get_worker

        address = get_worker().address
    except ValueError:  # not inside a Dask task
        address = "this process"
    return WorkerInfo(address, socket.gethostname(), os.getpid())


def _now() -> str:
    """The current UTC time to the millisecond (run metadata: attempts are ordered by it)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def attempts_folder(group_dir: Path, entity_id: str, period_id: str, control_id: str) -> Path:
    """Where the attempts at one control of one entity's period are recorded."""
    return Path(group_dir) / ATTEMPTS / entity_id / period_id / control_id


def start_attempt(folder: Path, worker: WorkerInfo) -> Path:
    """Record that ``worker`` starts testing the control (state "running" until it finishes)."""
    runfolder.make_folder(folder)
    path = Path(folder) / f"{worker.host}-{worker.pid}-{time.time_ns()}.json"
    runfolder.write_text(path, json.dumps({**asdict(worker), "started_at": _now(), "state": "running"}) + "\n")
    return path


def finish_attempt(path: Path, status: str) -> None:
    """Record that the attempt finished, with the workpaper's status."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    document.update(state="finished", finished_at=_now(), status=status)
    runfolder.write_text(path, json.dumps(document) + "\n")


def read_attempts(folder: Path) -> list[Attempt]:
    """Every attempt at a control, oldest first; one still "running" after its task ended was lost
    with its worker."""
    attempts = []
    for path in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
        document = json.loads(path.read_text(encoding="utf-8"))
        state = "finished" if document.get("state") == "finished" else "lost"
        attempts.append(Attempt(document["worker"], document["host"], int(document["pid"]), document["started_at"],
                                state, document.get("finished_at"), document.get("status")))
    return sorted(attempts, key=lambda a: a.started_at)


@dataclass(frozen=True)
class Prepared:
    """A period prepared by a worker: its staging run folder and run id, or why it could not be used."""

    run_dir: str | None
    run_id: str | None
    prepared_on: WorkerInfo
    problem: str | None = None
    seconds: float = 0.0


def prepare_period(parameter_file: str, entity_out: str) -> Prepared:
    """Task: check the period and its exports, create its staging run folder and freeze its inputs.

    Input problems are returned (a sentence naming the file, key and line), not raised: they are
    the entity's, and the group goes on without it.
    """
    here, started = where_am_i(), time.perf_counter()
    staged: list[Path] = []
    try:
        runner.check_before_run(Path(parameter_file))
        context = runner.prepare_run(Path(parameter_file), Path(entity_out), staged=staged.append)
        runfolder.record_step(context.run_dir, "controls")
    except Exception as exc:
        if staged:
            runfolder.mark_incomplete(staged[0], "freezing", f"{type(exc).__name__}: {exc}")
        return Prepared(None, None, here, str(exc) or type(exc).__name__, round(time.perf_counter() - started, 2))
    return Prepared(str(context.run_dir), context.run_id, here, None, round(time.perf_counter() - started, 2))


@dataclass(frozen=True)
class ControlRun:
    """A control tested by a worker: its outcome and the worker."""

    outcome: runner.ControlOutcome
    worker: WorkerInfo


def run_control(run_dir: str, control_id: str, attempts: str) -> ControlRun:
    """Task: test one control of a prepared run on this worker, recording the attempt first.

    What an attempt lost with its worker left in the control's folder is removed first, so the
    re-run writes the same files as a first attempt would.
    """
    here = where_am_i()
    attempt = start_attempt(Path(attempts), here)
    context = runner.open_run(run_dir)
    shutil.rmtree(context.control_dir(control_id), ignore_errors=True)
    outcome = runner.run_prepared_control(context, control_id)
    finish_attempt(attempt, outcome.status)
    return ControlRun(outcome, here)


def notebooks_digest() -> str:
    """One SHA-256 over the procedure notebooks this process would run (name and content of each)."""
    digest = hashlib.sha256()
    for path in sorted(runner.notebooks_folder().glob("*.ipynb")):
        digest.update(f"{path.name}:{lineage.file_sha256(path)}\n".encode())
    return digest.hexdigest()


def worker_view(paths: list[str]) -> dict[str, Any]:
    """What a worker sees: its host, its workbench version and notebooks, and which ``paths`` it cannot reach."""
    return {"host": socket.gethostname(), "version": __version__, "notebooks": notebooks_digest(),
            "missing": [p for p in paths if not Path(p).exists()]}


# --- on the client -------------------------------------------------------------------------------

@contextlib.contextmanager
def connect(scheduler: str | None = None, workers: int = DEFAULT_WORKERS) -> Iterator[tuple[Any, str]]:
    """A Dask client, and the cluster described in words.

    With ``scheduler`` (``tcp://HOST:8786``), the existing cluster there; otherwise a ``LocalCluster``
    of ``workers`` worker processes on this machine, one thread each (each tests one control at a
    time: the kernel is a process of its own), without a dashboard.
    """
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout=WORKERS_TIMEOUT_SECONDS) as client:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_SECONDS)
            yield client, f"the Dask cluster at {scheduler}"
        return
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.CRITICAL) as cluster, Client(cluster) as client:
        yield client, f"a local Dask cluster of {workers} worker process(es) on {socket.gethostname()}"


def check_workers(client: Any, paths: list[Path]) -> list[str]:
    """Problems that stop the group before anything is tested: a worker that cannot see the shared
    folders and files, or runs another workbench version or other procedure notebooks."""
    views = client.run(worker_view, [str(p) for p in paths])
    mine = (__version__, notebooks_digest())
    problems = []
    for address, view in sorted(views.items()):
        for missing in view["missing"]:
            problems.append(f"worker {address} (host {view['host']}) cannot see {missing}: the group's folders and "
                            "files must be at the same path on every worker (a shared folder)")
        if (view["version"], view["notebooks"]) != mine:
            problems.append(f"worker {address} (host {view['host']}) runs Audit Workbench {view['version']} with "
                            f"other procedure notebooks than this machine ({__version__}): install the same "
                            "version everywhere")
    return problems


@dataclass
class _Period:
    """The client's bookkeeping for one entity × period while the group runs."""

    period: GroupPeriod
    params: PeriodParameters | None = None
    key: Any = None
    problem: str | None = None
    prepared: Prepared | None = None
    runs: dict[str, ControlRun] = field(default_factory=dict)
    lost: dict[str, str] = field(default_factory=dict)  # control id -> why no worker could test it
    started: float = 0.0  # time.perf_counter() when its preparation was submitted
    started_at: str = ""
    run_dir: Path | None = None
    status: str = group_report.PUBLISHED
    publish_seconds: float = 0.0

    @property
    def label(self) -> str:
        """The entity and period as progress lines name them."""
        period = self.params.period.id if self.params else self.period.parameter_file.name
        return f"{self.period.entity_id} {period}"

    @property
    def done(self) -> bool:
        """Whether every control of the prepared period has an outcome."""
        assert self.params is not None
        return len(self.runs) + len(self.lost) == len(self.params.controls)


@dataclass(frozen=True)
class GroupResult:
    """Where a group run's reports are, and how every entity × period went."""

    group_dir: Path
    index_html: Path
    manifest: Path
    periods: list[PeriodReport]
    seconds: float

    @property
    def not_usable(self) -> list[PeriodReport]:
        """Periods whose file or exports could not be used (nothing of them was tested)."""
        return [p for p in self.periods if p.status != group_report.PUBLISHED]

    @property
    def failed_controls(self) -> list[tuple[str, str, str]]:
        """(entity, period, control) of every failed workpaper."""
        return [(p.entity_id, p.period_id, c) for p in self.periods for c in p.failed_controls]


def read_periods(group: Group, signing_key: Path | None) -> list[_Period]:
    """Each period file read here (its controls, and the preparer's key that will sign its run); a
    file that cannot be read is that entity's problem, not the group's."""
    periods = []
    for period in group.periods:
        state = _Period(period)
        try:
            state.params = load_period(period.parameter_file)
            state.key = seal.preparer_key(state.params.preparer, signing_key)
        except Exception as exc:
            state.problem, state.params = str(exc) or type(exc).__name__, None
        periods.append(state)
    return periods


def _outcome_line(done: int, total: int, state: _Period, run: ControlRun) -> str:
    """One progress line for a tested control, in the auditor's words."""
    o = run.outcome
    where = f"on worker {run.worker.worker} ({run.worker.host})"
    if o.status == "completed":
        return (f"[{done}/{total}] {state.label} {o.control_id} tested {where} in {o.seconds:.1f} s: "
                f"{o.exception_count} exception(s) — {'; '.join(o.conclusions) or 'no conclusion recorded'}")
    return f"[{done}/{total}] {state.label} {o.control_id} FAILED {where} after {o.seconds:.1f} s — {o.error}"


def _publish(state: _Period, group: Group, group_run_id: str, group_dir: Path, cluster: str,
             progress: Callable[[str], None]) -> None:
    """Publish a tested period (lead sheet, register, manifest signed with the preparer's key)."""
    assert state.params is not None and state.prepared is not None and state.prepared.run_dir is not None
    context = runner.open_run(state.prepared.run_dir)
    outcomes = []
    for control in state.params.controls:
        if control.id in state.runs:
            outcomes.append(state.runs[control.id].outcome)
        else:
            outcomes.append(runner.record_lost_control(context, control.id, state.lost[control.id]))
    tested_on = {cid: {**asdict(run.worker), "attempts": len(read_attempts(
        attempts_folder(group_dir, state.period.entity_id, state.params.period.id, cid)))}
        for cid, run in state.runs.items()}
    metadata = {"started_at": state.started_at,
                "group": group.name, "group_run_id": group_run_id, "cluster": cluster,
                "prepared_on": asdict(state.prepared.prepared_on), "tested_on": tested_on}
    publishing = time.perf_counter()
    try:
        state.run_dir = runner.publish_prepared_run(context, outcomes, metadata, state.started, state.key)
    except Exception as exc:
        if runfolder.is_storage_error(exc):
            raise
        state.status, state.problem = group_report.NOT_PUBLISHED, f"{type(exc).__name__}: {exc}"
        progress(f"{state.label}: the run could not be published: {state.problem}")
        return
    finally:
        state.publish_seconds = round(time.perf_counter() - publishing, 2)
    progress(f"{state.label}: period run published: {state.run_dir / 'index.html'}")


def _report(state: _Period, group_dir: Path) -> PeriodReport:
    """The group report's view of one entity × period."""
    params = state.params
    if params is None or state.prepared is None or state.prepared.problem:
        return PeriodReport(state.period.entity_id, params.entity if params else "", params.period.id if params
                            else "", str(state.period.parameter_file), group_report.NOT_USABLE,
                            state.problem or (state.prepared.problem if state.prepared else None),
                            prepared_on=asdict(state.prepared.prepared_on) if state.prepared else None)
    controls = []
    for control in params.controls:
        attempts = read_attempts(attempts_folder(group_dir, state.period.entity_id, params.period.id, control.id))
        run = state.runs.get(control.id)
        if run is None:
            controls.append(ControlReport(control.id, control.title, "failed", [], 0, state.lost.get(control.id), 0.0,
                                          None, None, None, attempts))
            continue
        o = run.outcome
        controls.append(ControlReport(control.id, control.title, o.status, o.conclusions, o.exception_count, o.error,
                                      o.seconds, run.worker.worker, run.worker.host, run.worker.pid, attempts))
    return PeriodReport(state.period.entity_id, params.entity, params.period.id, str(state.period.parameter_file),
                        state.status, state.problem, state.prepared.run_id, state.run_dir,
                        asdict(state.prepared.prepared_on), controls,
                        {"prepare": state.prepared.seconds, "publish": state.publish_seconds})


def run_group(group: Group, client: Any, cluster: str = "", progress: Callable[[str], None] = print,
              signing_key: Path | None = None, now: dt.datetime | None = None) -> GroupResult:
    """Test every period of ``group`` on the cluster behind ``client``; write the group's reports.

    Raises ``GroupSetupError`` before anything is tested when a worker cannot take part. A period
    that cannot be used, or a control that fails, is reported and the others go on.
    """
    from distributed import as_completed

    started = time.perf_counter()
    started_at = now or dt.datetime.now(dt.UTC)
    runfolder.make_folder(group.out_dir)
    group_run_id = runner.new_run_id(group.out_dir, started_at)
    group_dir = runfolder.make_folder(group.out_dir / group_run_id)
    periods = read_periods(group, signing_key)
    usable = [p for p in periods if p.params is not None]
    problems = check_workers(client, [group_dir] + [p.period.parameter_file for p in usable])
    if problems:
        shutil.rmtree(group_dir, ignore_errors=True)
        raise GroupSetupError("the cluster cannot run this group:\n" + "\n".join(f"  - {p}" for p in problems))
    workers = len(client.scheduler_info(n_workers=-1)["workers"])
    total = sum(len(p.params.controls) for p in usable if p.params)
    progress(f"Group '{group.name}': {len(group.entity_ids)} entity(ies), {len(periods)} period(s), {total} control(s) "
             f"on {workers} worker(s) of {cluster or 'the cluster'}; reports in {group_dir}")
    for state in periods:
        if state.problem:
            progress(f"{state.label}: the period could not be used; its controls are not tested:\n{state.problem}")
    tasks: dict[str, tuple[_Period, str | None]] = {}
    pending = as_completed()
    for state in usable:
        state.started, state.started_at = time.perf_counter(), dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        key = f"prepare-{state.period.entity_id}-{state.params.period.id}-{group_run_id}-{len(tasks)}"  # type: ignore[union-attr]
        pending.add(client.submit(prepare_period, str(state.period.parameter_file),
                                  str(group.entity_out(state.period.entity_id)), key=key, pure=False))
        tasks[key] = (state, None)
    done = 0
    for future in pending:
        state, control_id = tasks.pop(future.key)
        params = state.params
        assert params is not None
        failure = future.exception() if future.status == "error" else None
        if control_id is None:  # a period was prepared
            state.prepared = future.result() if failure is None else Prepared(None, None, WorkerInfo("", "", 0),
                                                                               f"{type(failure).__name__}: {failure}")
            if state.prepared.problem:
                state.problem = state.prepared.problem
                progress(f"{state.label}: the period could not be used; its controls are not tested:\n{state.problem}")
                continue
            progress(f"{state.label}: source files frozen and hashed in {state.prepared.run_dir} "
                     f"(on worker {state.prepared.prepared_on.worker}); testing {len(params.controls)} control(s)")
            for control in params.controls:
                key = f"control-{state.period.entity_id}-{params.period.id}-{control.id}-{group_run_id}-{len(tasks)}"
                folder = attempts_folder(group_dir, state.period.entity_id, params.period.id, control.id)
                pending.add(client.submit(run_control, state.prepared.run_dir, control.id, str(folder), key=key,
                                          pure=False))
                tasks[key] = (state, control.id)
            continue
        done += 1
        if failure is None:
            run = future.result()
            state.runs[control_id] = run
            progress(_outcome_line(done, total, state, run))
        else:
            state.lost[control_id] = f"the control could not be tested on the cluster: {type(failure).__name__}: {failure}"
            progress(f"[{done}/{total}] {state.label} {control_id} FAILED: {state.lost[control_id]}")
        del future
        if state.done:
            _publish(state, group, group_run_id, group_dir, cluster, progress)
    reports = [_report(state, group_dir) for state in periods]
    metadata = {"started_at": started_at.isoformat(timespec="seconds"),
                "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "seconds": round(time.perf_counter() - started, 2), "cluster": cluster, "workers": workers,
                **lineage.runtime_metadata()}
    manifest, index = group_report.write_reports(group_dir, group.name, group.path, group_run_id, reports, metadata)
    runfolder.write_text(group.out_dir / LATEST, group_run_id + "\n")
    return GroupResult(group_dir, index, manifest, reports, round(time.perf_counter() - started, 2))


def summary_lines(result: GroupResult) -> list[str]:
    """The end of ``workbench run-group``: one line per entity × period, then the counts and the index."""
    lines = []
    for p in result.periods:
        if p.status == group_report.NOT_USABLE:
            lines.append(f"  {p.entity_id} {p.period_id or p.parameter_file}: NOT TESTED — the period could not be used")
            continue
        completed = sum(c.status == "completed" for c in p.controls)
        reruns = sum(c.rerun for c in p.controls)
        failed = f"; FAILED: {', '.join(p.failed_controls)}" if p.failed_controls else ""
        rerun = f"; {reruns} re-run after a lost worker" if reruns else ""
        state = "" if p.status == group_report.PUBLISHED else f" ({p.status}: {p.problem})"
        lines.append(f"  {p.entity_id} {p.period_id}: {completed}/{len(p.controls)} workpaper(s) completed"
                     f"{failed}{rerun}{state}")
    counts = group_report.summary(result.periods)
    lines += ["", f"{counts['periods']} period(s) of {len({p.entity_id for p in result.periods})} entity(ies) in "
                  f"{result.seconds:.1f} s: {counts['published']} published, {counts['not_usable']} not usable; "
                  f"{counts['completed']} of {counts['controls']} workpaper(s) completed, {counts['failed']} failed, "
                  f"{counts['rerun']} re-run after a lost worker.",
              f"Group index: {result.index_html}", f"Group manifest: {result.manifest}"]
    return lines
