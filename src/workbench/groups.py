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
   the control's notebook in a kernel of the worker's own warm kernel factory (one
   ``runner.KernelSource`` per worker process, kept across the controls it tests, the next
   control's kernel forked while the current one runs), its workpaper written into the run
   folder. Each task records its attempt (worker, host, process, times) in the group run's
   ``attempts/`` folder before it starts, so a control whose worker was lost and that Dask re-ran
   elsewhere shows both attempts;
3. *publish* (on a worker), once all the period's controls are done: the register, the lead sheet,
   the final workpapers and the manifest (``runner.publish_for_signature``). The client then only
   signs the manifest with the preparer's key, which never leaves this machine, and completes the
   run (a rename, or the manifest's upload last in object storage): milliseconds, so the client
   does not bind a large group.

A period whose file or exports cannot be used is reported for its entity; the others go on. The
group run's folder then gets ``group-manifest.json`` and ``index.html`` (``workbench.group_report``).

Storage: either a shared folder (the group's ``out`` folder and every period file, with its exports,
at the same path on every worker and here), or object storage (``out`` and the period files are
fsspec URLs such as ``s3://``: ``workbench.groupstore``). Then each worker works in a local scratch
folder: the inputs are fetched into it and frozen there, the prepared run is uploaded, a control's
folder is uploaded when it is tested, and a run is complete when its signed manifest, uploaded last,
is there. Before anything is submitted, every worker is asked whether it reaches the group's files
and runs the same workbench and notebooks; a worker that does not is named and the group does not
start.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import posixpath
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePath
from typing import Any

from workbench import __version__, group_report, groupstore, lineage, runfolder, runner, seal, stopping
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


def attempts_folder(group_dir: Path | str, entity_id: str, period_id: str, control_id: str) -> Path | str:
    """Where the attempts at one control of one entity's period are recorded (a folder or a URL prefix)."""
    if isinstance(group_dir, str):
        return groupstore.join(group_dir, ATTEMPTS, entity_id, period_id, control_id)
    return Path(group_dir) / ATTEMPTS / entity_id / period_id / control_id


def _write_record(path: Path | str, document: dict[str, Any]) -> None:
    """Write an attempt record: atomically into a folder, or as one object (one PUT is atomic too)."""
    text = json.dumps(document) + "\n"
    if isinstance(path, str):
        groupstore.write_bytes(path, text.encode())
    else:
        runfolder.write_text(path, text)


def start_attempt(folder: Path | str, worker: WorkerInfo) -> Path | str:
    """Record that ``worker`` starts testing the control (state "running" until it finishes)."""
    name = f"{worker.host}-{worker.pid}-{time.time_ns()}.json"
    if isinstance(folder, str):
        path: Path | str = groupstore.join(folder, name)
    else:
        runfolder.make_folder(folder)
        path = Path(folder) / name
    _write_record(path, {**asdict(worker), "started_at": _now(), "state": "running"})
    return path


def _read_record(path: Path | str) -> dict[str, Any]:
    """An attempt record, from a folder or an object."""
    data = groupstore.read_bytes(path) if isinstance(path, str) else Path(path).read_bytes()
    return json.loads(data.decode("utf-8"))


def finish_attempt(path: Path | str, status: str) -> None:
    """Record that the attempt finished, with the workpaper's status."""
    document = _read_record(path)
    document.update(state="finished", finished_at=_now(), status=status)
    _write_record(path, document)


def read_attempts(folder: Path | str) -> list[Attempt]:
    """Every attempt at a control, oldest first; one still "running" after its task ended was lost
    with its worker."""
    if isinstance(folder, str):
        paths: list[Path | str] = list(groupstore.list_files(folder, ".json"))
    else:
        paths = list(sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else [])
    attempts = []
    for path in paths:
        document = _read_record(path)
        state = "finished" if document.get("state") == "finished" else "lost"
        attempts.append(Attempt(document["worker"], document["host"], int(document["pid"]), document["started_at"],
                                state, document.get("finished_at"), document.get("status")))
    return sorted(attempts, key=lambda a: a.started_at)


# --- what a worker process keeps between tasks ---------------------------------------------------

class WorkerState:
    """What one worker process keeps across the group's tasks: one warm kernel factory (a zygote that
    has imported what the notebooks import, ``runner.KernelSource``) with the next control's kernel
    booting ahead, and, for a group in object storage, its scratch folder and the runs fetched into it.

    Kept per process (``worker_state``) and released at the end of the group (``release_worker``).
    """

    def __init__(self) -> None:
        self.kernels: runner.KernelSource | None = None
        self.ready: runner.Kernel | None = None
        self.scratch: Path | None = None
        self.runs: dict[str, Path] = {}  # run URL -> its local copy, as prepared or fetched here

    def kernel_source(self) -> runner.KernelSource:
        """The worker's kernel factory, started (its zygote importing) the first time it is asked for."""
        stopping.KERNELS.open()
        if self.kernels is None or self.kernels.closed:
            folder = runner.notebooks_folder()
            self.kernels = runner.KernelSource(runner.kernel_preload(folder), folder, "warm")
        return self.kernels

    def take_kernel(self) -> tuple[runner.Kernel | None, list[str]]:
        """A kernel for the control about to be tested (the one readied ahead, else one started now)
        and the modules it imports; then the next control's kernel starts booting."""
        source = self.kernel_source()
        kernel, self.ready = self.ready, None
        kernel = kernel or source.start()
        self.ready = source.start()  # cheap: a fork of the zygote, booting while this control runs
        return kernel, source.preload

    def scratch_folder(self) -> Path:
        """This worker's local scratch folder (made the first time)."""
        if self.scratch is None:
            self.scratch = groupstore.new_scratch()
        return self.scratch

    def local_run(self, run_url: str) -> Path:
        """The local copy of a prepared run in object storage (fetched the first time this worker needs it)."""
        if run_url not in self.runs or not self.runs[run_url].is_dir():
            target = self.scratch_folder() / "runs" / f"{len(self.runs)}-{posixpath.basename(run_url)}"
            self.runs[run_url] = groupstore.download_folder(run_url, target)
        return self.runs[run_url]

    def release(self) -> None:
        """Stop the ready kernel and the kernel factory; remove the scratch folder."""
        ready, self.ready = self.ready, None
        if ready is not None:
            ready.close()
        if self.kernels is not None:
            self.kernels.close()
        if self.scratch is not None:
            groupstore.remove_scratch(self.scratch)
        self.kernels, self.scratch, self.runs = None, None, {}


_WORKER_STATE: WorkerState | None = None


def worker_state() -> WorkerState:
    """This process's ``WorkerState`` (one per worker process)."""
    global _WORKER_STATE
    if _WORKER_STATE is None:
        _WORKER_STATE = WorkerState()
    return _WORKER_STATE


def release_worker() -> None:
    """Run on every worker when the group ends: its kernels stop and its scratch folder goes."""
    global _WORKER_STATE
    state, _WORKER_STATE = _WORKER_STATE, None
    if state is not None:
        state.release()


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

    In object storage (``entity_out`` a URL) the inputs are fetched into this worker's scratch
    folder, prepared there, and the prepared run is uploaded to ``ENTITY_OUT/PERIOD/RUN_ID``. Input
    problems are returned (a sentence naming the file, key and line), not raised: they are the
    entity's, and the group goes on without it.
    """
    here, started = where_am_i(), time.perf_counter()
    worker_state().kernel_source()  # the worker's kernel factory imports while the period is checked
    if groupstore.is_url(entity_out):
        return _prepare_in_store(parameter_file, entity_out, here, started)
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


def _record_urls(run_dir: Path, inputs: Path, scheme: str) -> None:
    """Make the run's record of where its period file and exports came from name their URLs, not the
    scratch folder they were fetched into (``runner.RUN_PARAMETERS``; the manifest copies it)."""
    path = run_dir / runner.RUN_PARAMETERS
    document = json.loads(path.read_text(encoding="utf-8"))

    prefix = f"{inputs.resolve()}/"

    def url(local: str) -> str:
        return f"{scheme}://{local.removeprefix(prefix)}" if local.startswith(prefix) else local
    document["parameter_file"] = url(document["parameter_file"])
    for entry in document["inputs"].values():
        entry["original_path"] = url(entry["original_path"])
    lineage.write_json_atomically(path, document)


def _prepare_in_store(parameter_url: str, entity_out: str, here: WorkerInfo, started: float) -> Prepared:
    """``prepare_period`` for a group in object storage: fetch, check and freeze in the scratch folder,
    then upload the prepared run (its marker included: it is not complete until its manifest is there)."""
    state = worker_state()
    inputs = state.scratch_folder() / "inputs"
    try:
        local_file = groupstore.fetch_period(parameter_url, inputs)
        runner.check_before_run(local_file)
        context = runner.prepare_run(local_file, state.scratch_folder() / "prepared" / str(time.time_ns()),
                                     staged=lambda folder: None)
        runfolder.record_step(context.run_dir, "controls")
        _record_urls(context.run_dir, inputs, groupstore.scheme(parameter_url) or "")
        run_url = groupstore.join(entity_out, context.parameters.period.id, context.run_id)
        if groupstore.exists(run_url):
            raise FileExistsError(f"a run {context.run_id} of this period is already at {run_url}")
        groupstore.upload_folder(context.run_dir, run_url)
    except Exception as exc:
        problem = (str(exc) or type(exc).__name__).replace(f"{inputs.resolve()}/",
                                                           f"{groupstore.scheme(parameter_url)}://")
        if not isinstance(exc, ValueError):  # not a period's own problem (ParameterError): reaching the store
            problem = groupstore.describe_error(exc, parameter_url, "prepare the period of")
        return Prepared(None, None, here, problem, round(time.perf_counter() - started, 2))
    state.runs[run_url] = context.run_dir
    return Prepared(run_url, context.run_id, here, None, round(time.perf_counter() - started, 2))


@dataclass(frozen=True)
class ControlRun:
    """A control tested by a worker: its outcome and the worker."""

    outcome: runner.ControlOutcome
    worker: WorkerInfo


def run_control(run_dir: str, control_id: str, attempts: str) -> ControlRun:
    """Task: test one control of a prepared run on this worker, recording the attempt first.

    The kernel comes from the worker's warm kernel factory (``WorkerState``). What an attempt lost
    with its worker left in the control's folder is removed first, so the re-run writes the same
    files as a first attempt would. In object storage, the run is tested in this worker's local
    copy and the control's folder is uploaded when its workpaper is written.
    """
    here = where_am_i()
    in_store = groupstore.is_url(run_dir)
    attempt = start_attempt(attempts if in_store else Path(attempts), here)
    state = worker_state()
    context = runner.open_run(state.local_run(run_dir) if in_store else run_dir)
    shutil.rmtree(context.control_dir(control_id), ignore_errors=True)
    kernel, preload = state.take_kernel()
    outcome = runner.run_prepared_control(context, control_id, kernel=kernel, preload=preload)
    if in_store:
        groupstore.remove(groupstore.join(run_dir, control_id))
        groupstore.upload_folder(context.control_dir(control_id), groupstore.join(run_dir, control_id))
    finish_attempt(attempt, outcome.status)
    return ControlRun(outcome, here)


@dataclass(frozen=True)
class Publication:
    """A period published by a worker up to its signature: where its run is, and (object storage) the
    manifest the client uploads last, once signed."""

    run_dir: str
    run_id: str
    published_on: WorkerInfo
    manifest: bytes | None = None
    seconds: float = 0.0


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Each file of a folder with its size and modification time (to find what publishing changed)."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def publish_period(run_dir: str, control_ids: list[str], runs: dict[str, runner.ControlOutcome],
                   lost: dict[str, str], metadata: dict[str, Any], elapsed: float) -> Publication:
    """Task: publish a tested period up to its signature (``runner.publish_for_signature``): a failed
    workpaper for each control no worker could test (``lost``), the register, the lead sheet, the final
    workpapers and the manifest. ``elapsed``: seconds since the period's preparation was submitted.

    In object storage the run is fetched whole into the scratch folder, published there, and what
    publishing wrote is uploaded, the marker removed; the manifest comes back to the client, which
    signs it and uploads it last.
    """
    here, started = where_am_i(), time.perf_counter()
    in_store = groupstore.is_url(run_dir)
    state = worker_state()
    local = (groupstore.download_folder(run_dir, state.scratch_folder() / "publishing" / str(time.time_ns()))
             if in_store else Path(run_dir))
    before = _snapshot(local) if in_store else {}
    context = runner.open_run(local)
    outcomes = [runs[cid] if cid in runs else runner.record_lost_control(context, cid, lost[cid])
                for cid in control_ids]
    manifest = runner.publish_for_signature(context, outcomes, metadata, time.perf_counter() - elapsed)
    if not in_store:
        return Publication(run_dir, context.run_id, here, None, round(time.perf_counter() - started, 2))
    after = _snapshot(local)
    unchanged = frozenset(name for name in after if before.get(name) == after[name]) | {lineage.MANIFEST}
    groupstore.upload_folder(local, run_dir, skip=unchanged)  # what publishing wrote; the manifest comes last
    groupstore.remove(groupstore.join(run_dir, runfolder.MARKER))
    document = manifest.read_bytes()
    shutil.rmtree(local, ignore_errors=True)
    return Publication(run_dir, context.run_id, here, document, round(time.perf_counter() - started, 2))


def complete_run(publication: Publication, key: Any) -> Path | str:
    """On the client: sign the manifest a worker built with the preparer's ``key`` (never sent to a
    worker) and make the run complete: the rename of its staging folder, or, in object storage, its
    signature and then its manifest uploaded last (a run without its manifest is unfinished), and
    the period's ``latest``. Returns the complete run's folder or URL."""
    if publication.manifest is None:
        return runner.complete_signed_run(Path(publication.run_dir), key)
    if key is not None:
        signature = seal.manifest_signature(publication.manifest, key)
        groupstore.write_bytes(groupstore.join(publication.run_dir, seal.MANIFEST_SIGNATURE),
                               lineage.json_text(signature).encode())
    groupstore.write_bytes(groupstore.join(publication.run_dir, lineage.MANIFEST), publication.manifest)
    groupstore.write_bytes(groupstore.join(publication.run_dir, "..", "latest"), f"{publication.run_id}\n".encode())
    return publication.run_dir


def notebooks_digest() -> str:
    """One SHA-256 over the procedure notebooks this process would run (name and content of each)."""
    digest = hashlib.sha256()
    for path in sorted(runner.notebooks_folder().glob("*.ipynb")):
        digest.update(f"{path.name}:{lineage.file_sha256(path)}\n".encode())
    return digest.hexdigest()


def _unreachable(location: str) -> str | None:
    """Why this worker cannot reach a folder, a file or an object of the group (None when it can)."""
    if groupstore.is_url(location):
        return groupstore.file_problem(location, "file")
    return None if Path(location).exists() else f"{location} does not exist here"


def worker_view(paths: list[str]) -> dict[str, Any]:
    """What a worker sees: its host, its workbench version and notebooks, which ``paths`` it cannot
    reach (``missing``) and why (``why``)."""
    why = {p: problem for p in paths if (problem := _unreachable(p))}
    return {"host": socket.gethostname(), "version": __version__, "notebooks": notebooks_digest(),
            "missing": list(why), "why": why}


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
            if groupstore.is_url(missing):
                problems.append(f"worker {address} (host {view['host']}) cannot reach {missing} "
                                f"({view.get('why', {}).get(missing)}): the group's files must be reachable with the "
                                "same URLs and credentials from every worker")
            else:
                problems.append(f"worker {address} (host {view['host']}) cannot see {missing}: the group's folders "
                                "and files must be at the same path on every worker (a shared folder)")
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
    run_dir: Path | str | None = None
    status: str = group_report.PUBLISHED
    publish_seconds: float = 0.0  # publishing on a worker
    sign_seconds: float = 0.0  # signing and completing the run on the client

    @property
    def label(self) -> str:
        """The entity and period as progress lines name them."""
        period = self.params.period.id if self.params else posixpath.basename(str(self.period.parameter_file))
        return f"{self.period.entity_id} {period}"

    @property
    def done(self) -> bool:
        """Whether every control of the prepared period has an outcome."""
        assert self.params is not None
        return len(self.runs) + len(self.lost) == len(self.params.controls)


@dataclass(frozen=True)
class GroupResult:
    """Where a group run's reports are, and how every entity × period went."""

    group_dir: Path | str  # a URL for a group in object storage
    index_html: Path | str
    manifest: Path | str
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


def read_periods(group: Group, signing_key: Path | None, scratch: Path | None = None) -> list[_Period]:
    """Each period file read here (its controls, and the preparer's key that will sign its run); a
    file that cannot be read is that entity's problem, not the group's. A period file in object
    storage is fetched into ``scratch`` first."""
    periods = []
    for period in group.periods:
        state = _Period(period)
        try:
            location = period.parameter_file
            if isinstance(location, str):
                location = groupstore.fetch(location, groupstore.mirror_path(scratch or Path("."), location))
            state.params = load_period(location)
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


def _publish_task(client: Any, state: _Period, group: Group, group_run_id: str, group_dir: Path | str,
                  cluster: str, key: str) -> Any:
    """Submit the period's publication to a worker, once its controls are done."""
    assert state.params is not None and state.prepared is not None and state.prepared.run_dir is not None
    tested_on = {cid: {**asdict(run.worker), "attempts": len(read_attempts(
        attempts_folder(group_dir, state.period.entity_id, state.params.period.id, cid)))}
        for cid, run in state.runs.items()}
    metadata = {"started_at": state.started_at,
                "group": group.name, "group_run_id": group_run_id, "cluster": cluster,
                "prepared_on": asdict(state.prepared.prepared_on), "tested_on": tested_on}
    return client.submit(publish_period, state.prepared.run_dir, [c.id for c in state.params.controls],
                         {cid: run.outcome for cid, run in state.runs.items()}, dict(state.lost), metadata,
                         time.perf_counter() - state.started, key=key, pure=False)


def _complete(state: _Period, publication: Publication | None, failure: BaseException | None,
              progress: Callable[[str], None]) -> None:
    """Sign and complete a period a worker published (or record why it could not be published)."""
    signing = time.perf_counter()
    try:
        if failure is not None:
            raise failure
        assert publication is not None
        state.publish_seconds = publication.seconds
        state.run_dir = complete_run(publication, state.key)
    except Exception as exc:
        if runfolder.is_storage_error(exc):
            raise
        state.status, state.problem = group_report.NOT_PUBLISHED, f"{type(exc).__name__}: {exc}"
        progress(f"{state.label}: the run could not be published: {state.problem}")
        return
    finally:
        state.sign_seconds = round(time.perf_counter() - signing, 3)
    index = groupstore.join(state.run_dir, "index.html") if isinstance(state.run_dir, str) else state.run_dir / "index.html"
    progress(f"{state.label}: period run published (on worker {publication.published_on.worker}, signed here): {index}")


def _report(state: _Period, group_dir: Path | str) -> PeriodReport:
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
    run_dir: PurePath | None = (groupstore.key_path(state.run_dir) if isinstance(state.run_dir, str)
                                else state.run_dir)
    return PeriodReport(state.period.entity_id, params.entity, params.period.id, str(state.period.parameter_file),
                        state.status, state.problem, state.prepared.run_id, run_dir,
                        asdict(state.prepared.prepared_on), controls,
                        {"prepare": state.prepared.seconds, "publish": state.publish_seconds,
                         "sign": state.sign_seconds})


def _group_run_id(group: Group, now: dt.datetime) -> str:
    """A new group run id (the UTC start time), unique in the group's ``out``."""
    if not isinstance(group.out_dir, str):
        runfolder.make_folder(group.out_dir)
        return runner.new_run_id(group.out_dir, now)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    run_id, n = stamp, 1
    while groupstore.exists(groupstore.join(group.out_dir, run_id)):
        n += 1
        run_id = f"{stamp}-{n}"
    return run_id


def _write_group_reports(group: Group, group_dir: Path | str, group_run_id: str, reports: list[PeriodReport],
                         metadata: dict[str, Any]) -> tuple[Path | str, Path | str]:
    """The group's manifest and index, written into its folder, or uploaded to its URL prefix (with
    links relative between objects, as between files), and the group's ``latest``."""
    if not isinstance(group_dir, str):
        manifest, index = group_report.write_reports(group_dir, group.name, group.path, group_run_id, reports,
                                                     metadata)
        runfolder.write_text(Path(group.out_dir) / LATEST, group_run_id + "\n")
        return manifest, index
    with tempfile.TemporaryDirectory(prefix="workbench-group-reports-") as folder:
        local_manifest, local_index = group_report.write_reports(Path(folder), group.name, group.path, group_run_id,
                                                                 reports, metadata,
                                                                 links_from=groupstore.key_path(group_dir))
        for local in (local_manifest, local_index):
            groupstore.write_bytes(groupstore.join(group_dir, local.name), local.read_bytes())
    groupstore.write_bytes(groupstore.join(str(group.out_dir), LATEST), f"{group_run_id}\n".encode())
    return groupstore.join(group_dir, group_report.MANIFEST), groupstore.join(group_dir, group_report.INDEX)


def run_group(group: Group, client: Any, cluster: str = "", progress: Callable[[str], None] = print,
              signing_key: Path | None = None, now: dt.datetime | None = None) -> GroupResult:
    """Test every period of ``group`` on the cluster behind ``client``; write the group's reports.

    Raises ``GroupSetupError`` before anything is tested when a worker cannot take part. A period
    that cannot be used, or a control that fails, is reported and the others go on.
    """
    with tempfile.TemporaryDirectory(prefix="workbench-group-client-") as scratch:
        try:
            return _run_group(group, client, cluster, progress, signing_key, now, Path(scratch))
        finally:
            with contextlib.suppress(Exception):  # a worker lost at the end has nothing left to release
                client.run(release_worker)


def _run_group(group: Group, client: Any, cluster: str, progress: Callable[[str], None], signing_key: Path | None,
               now: dt.datetime | None, scratch: Path) -> GroupResult:
    """``run_group``, with a local scratch folder for the period files of a group in object storage."""
    from distributed import as_completed

    started = time.perf_counter()
    started_at = now or dt.datetime.now(dt.UTC)
    group_run_id = _group_run_id(group, started_at)
    group_dir: Path | str = (groupstore.join(group.out_dir, group_run_id) if isinstance(group.out_dir, str)
                             else runfolder.make_folder(group.out_dir / group_run_id))
    periods = read_periods(group, signing_key, scratch)
    usable = [p for p in periods if p.params is not None]
    reach = [str(p.period.parameter_file) for p in usable]
    problems = check_workers(client, reach if isinstance(group_dir, str) else [group_dir, *map(Path, reach)])
    if problems:
        if not isinstance(group_dir, str):
            shutil.rmtree(group_dir, ignore_errors=True)
        raise GroupSetupError("the cluster cannot run this group:\n" + "\n".join(f"  - {p}" for p in problems))
    workers = len(client.scheduler_info(n_workers=-1)["workers"])
    total = sum(len(p.params.controls) for p in usable if p.params)
    progress(f"Group '{group.name}': {len(group.entity_ids)} entity(ies), {len(periods)} period(s), {total} control(s) "
             f"on {workers} worker(s) of {cluster or 'the cluster'}; reports in {group_dir}")
    for state in periods:
        if state.problem:
            progress(f"{state.label}: the period could not be used; its controls are not tested:\n{state.problem}")
    tasks: dict[str, tuple[_Period, str, str | None]] = {}  # key -> (period, "prepare"/"control"/"publish", control)
    pending = as_completed()
    for state in usable:
        state.started, state.started_at = time.perf_counter(), dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        key = f"prepare-{state.period.entity_id}-{state.params.period.id}-{group_run_id}-{len(tasks)}"  # type: ignore[union-attr]
        pending.add(client.submit(prepare_period, str(state.period.parameter_file),
                                  str(group.entity_out(state.period.entity_id)), key=key, pure=False))
        tasks[key] = (state, "prepare", None)
    done = 0
    for future in pending:
        state, kind, control_id = tasks.pop(future.key)
        params = state.params
        assert params is not None
        failure = future.exception() if future.status == "error" else None
        if kind == "publish":
            _complete(state, future.result() if failure is None else None, failure, progress)
            continue
        if kind == "prepare":
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
                tasks[key] = (state, "control", control.id)
            continue
        assert control_id is not None
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
            key = f"publish-{state.period.entity_id}-{params.period.id}-{group_run_id}-{len(tasks)}"
            pending.add(_publish_task(client, state, group, group_run_id, group_dir, cluster, key))
            tasks[key] = (state, "publish", None)
    reports = [_report(state, group_dir) for state in periods]
    metadata = {"started_at": started_at.isoformat(timespec="seconds"),
                "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "seconds": round(time.perf_counter() - started, 2), "cluster": cluster, "workers": workers,
                **lineage.runtime_metadata()}
    manifest, index = _write_group_reports(group, group_dir, group_run_id, reports, metadata)
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
