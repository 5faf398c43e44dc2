"""Audit groups on Dask (``workbench run-group``): the group file, the reports, and a group run on a
2-worker LocalCluster with a worker killed while it tests a control.

The cluster test runs one small group once (module fixture): two demo entities of 100 employees
(6 and 2 controls) and a third whose period cannot be used (an export is missing). While the group
runs, a watcher kills the worker process testing the first control to start, by the process id
the task recorded, and only if that id is one of this cluster's workers (``client.run(os.getpid)``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import assert_same_evidence, module_key_folder, write_uar_period
from workbench import __version__, cli, demo_group, group_report, groupfile, groups, kernel_zygote, runner, seal
from workbench.group_report import Attempt, ControlReport, PeriodReport
from workbench.parameters import load_period

keys = pytest.fixture(scope="module", autouse=True)(module_key_folder)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- the group file ------------------------------------------------------------------------------

def test_a_group_file_lists_each_entitys_periods_relative_to_itself(tmp_path):
    _write(tmp_path / "a" / "q3.yaml", "entity: A\n")
    _write(tmp_path / "b" / "q3.yaml", "entity: B\n")
    group = groupfile.load_group(_write(tmp_path / "group.yaml", "group: Test group\nout: runs\nentities:\n"
                                        "  - id: alpha\n    periods: [a/q3.yaml]\n"
                                        "  - id: beta\n    periods: [b/q3.yaml]\n"))
    assert group.name == "Test group"
    assert group.out_dir == (tmp_path / "runs").resolve()
    assert [(p.entity_id, p.parameter_file) for p in group.periods] == [
        ("alpha", (tmp_path / "a" / "q3.yaml").resolve()), ("beta", (tmp_path / "b" / "q3.yaml").resolve())]
    assert group.entity_out("beta") == (tmp_path / "runs" / "entities" / "beta").resolve()


@pytest.mark.parametrize(("body", "expected"), [
    ("group: G\nout: runs\nentities:\n  - id: alpha\n    period: [a.yaml]\n",
     ["line 5, entities[0].period: is not a known key", "entities[0].periods: is required but missing"]),
    ("group: G\nout: runs\nentities:\n  - id: alpha\n    periods: [a.yaml]\n  - id: alpha\n    periods: [a.yaml]\n",
     ["line 3, entities: ", "entity id(s) given more than once: alpha"]),
    ("group: G\nout: runs\nentities:\n  - id: alpha\n    periods:\n      - a.yaml\n      - missing.yaml\n",
     ["line 7, entities[0].periods[1]: the period file", "missing.yaml does not exist"]),
    ("group: G\nout: s3://audit-bucket/group\nentities:\n  - id: alpha\n    periods: [a.yaml, gs://b/a.yaml]\n",
     ["line 5, entities[0].periods[0]: 'a.yaml' is reached as a folder, but out is a URL (s3://)",
      "line 5, entities[0].periods[1]: 'gs://b/a.yaml' is reached as a URL (gs://), but out is a URL (s3://)",
      "a group's paths are all folders or all URLs of one kind"]),
    ("group: G\nentities: []\n", ["out: is required but missing", "line 2, entities: "]),
    ("group: G\ngroup: H\nout: runs\nentities: []\n", ["line 2, group: ", "given twice"]),
], ids=["misspelt-key", "repeated-entity", "missing-period-file", "mixed-url-styles", "missing-out-no-entities",
        "duplicate-key"])
def test_a_bad_group_file_is_refused_naming_the_file_key_and_line(tmp_path, body, expected):
    _write(tmp_path / "a.yaml", "entity: A\n")
    path = _write(tmp_path / "group.yaml", body)
    with pytest.raises(groupfile.GroupFileError) as refused:
        groupfile.load_group(path)
    message = str(refused.value)
    assert f"The group file {path}" in message
    for part in expected:
        assert part in message, message


def test_run_group_refuses_a_bad_group_file_with_exit_2_and_no_traceback(tmp_path, capsys):
    path = _write(tmp_path / "group.yaml", "group: G\nout: runs\nentities:\n  - id: Not an id!\n    periods: [x.yaml]\n")
    assert cli.main(["run-group", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"error: The group file {path} has 2 problem(s)" in err
    assert "line 4, entities[0].id: String should match pattern" in err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_workers_are_for_the_local_cluster_only(tmp_path, capsys):
    assert cli.main(["run-group", str(tmp_path / "g.yaml"), "--scheduler", "tcp://127.0.0.1:1", "--workers", "3"]) == 2
    assert "--workers sizes the local cluster" in capsys.readouterr().err


# --- the reports ---------------------------------------------------------------------------------

def _attempt(pid: int, state: str, started: str) -> Attempt:
    return Attempt(f"tcp://10.0.0.{pid}:4000", "node", pid, started, state,
                   None if state == "lost" else "t", None if state == "lost" else "completed")


def _reports(tmp_path: Path) -> list[PeriodReport]:
    run = tmp_path / "entities" / "alpha" / "2026-Q3" / "20261001T000000Z"
    controls = [
        ControlReport("UAR-01", "Access review", "completed", ["SOC 2: No exceptions noted"], 0, None, 1.0,
                      "tcp://10.0.0.2:4000", "node", 2, [_attempt(1, "lost", "a"), _attempt(2, "finished", "b")]),
        ControlReport("TERM-01", "Leavers <removed>", "failed", [], 0, "KeyError: 'x'", 1.0,
                      "tcp://10.0.0.2:4000", "node", 2, [_attempt(2, "finished", "c")]),
    ]
    return [PeriodReport("alpha", "Alpha & Co", "2026-Q3", "/p/a.yaml", group_report.PUBLISHED, run_id=run.name,
                         run_dir=run, controls=controls),
            PeriodReport("beta", "", "", "/p/b.yaml", group_report.NOT_USABLE, "export <missing>")]


def test_the_group_index_shows_every_entity_and_control_with_result_links_and_reruns(tmp_path):
    group_dir = tmp_path / "20261001T000000Z"
    group_dir.mkdir()
    manifest, index = group_report.write_reports(group_dir, "G <group>", tmp_path / "g.yaml", group_dir.name,
                                                 _reports(tmp_path), {"cluster": "test", "started_at": "now"})
    html = index.read_text(encoding="utf-8")
    assert 'href="../entities/alpha/2026-Q3/20261001T000000Z/UAR-01/workpaper.html"' in html
    assert 'href="../entities/alpha/2026-Q3/20261001T000000Z/index.html"' in html
    assert "tested 2 times: its worker was lost" in html
    assert "Failed: KeyError: &#39;x&#39;" in html and "Leavers" not in html  # titles are in the workpapers
    assert "Not tested: the period could not be used." in html and "export &lt;missing&gt;" in html
    assert "G &lt;group&gt;" in html and "<script" not in html
    document = json.loads(manifest.read_text(encoding="utf-8"))
    assert document["summary"] == {"periods": 2, "published": 1, "not_usable": 1, "not_published": 0,
                                   "controls": 2, "completed": 1, "failed": 1, "rerun": 1}
    uar = document["periods"][0]["controls"][0]
    assert (uar["worker"], uar["attempt_count"]) == ("tcp://10.0.0.2:4000", 2)
    assert [a["state"] for a in uar["attempts"]] == ["lost", "finished"]


def test_attempts_are_read_oldest_first_and_an_unfinished_one_was_lost(tmp_path):
    folder = tmp_path / "attempts" / "alpha" / "2026-Q3" / "UAR-01"
    first = groups.start_attempt(folder, groups.WorkerInfo("tcp://a:1", "h", 11))
    time.sleep(0.01)
    second = groups.start_attempt(folder, groups.WorkerInfo("tcp://b:2", "h", 22))
    groups.finish_attempt(second, "completed")
    attempts = groups.read_attempts(folder)
    assert [(a.pid, a.state, a.status) for a in attempts] == [(11, "lost", None), (22, "finished", "completed")]
    assert first.exists()


def test_the_demo_group_names_each_entity_in_its_period_file(tmp_path):
    group = groupfile.load_group(demo_group.write_demo_group(tmp_path, entities=2))
    names = [load_period(p.parameter_file).entity for p in group.periods]
    assert names == [demo_group.entity_name(1), demo_group.entity_name(2)]
    assert [p.entity_id for p in group.periods] == ["entity-01", "entity-02"]


@pytest.mark.parametrize(("keep", "code"), [(slice(None), 2), (slice(0, 1), 1)], ids=["period-not-usable", "failed"])
def test_run_group_exit_code_says_whether_a_period_was_not_usable_or_a_workpaper_failed(tmp_path, monkeypatch, capsys,
                                                                                        keep, code):
    _write(tmp_path / "a.yaml", "entity: A\n")
    path = _write(tmp_path / "group.yaml", "group: G\nout: runs\nentities:\n  - id: alpha\n    periods: [a.yaml]\n")
    reports = _reports(tmp_path)[keep]

    @contextlib.contextmanager
    def connect(scheduler, workers):
        yield None, "a test cluster"

    monkeypatch.setattr(groups, "connect", connect)
    monkeypatch.setattr(groups, "run_group", lambda group, client, cluster, signing_key=None: groups.GroupResult(
        tmp_path, tmp_path / "index.html", tmp_path / "group-manifest.json", reports, 1.0))
    assert cli.main(["run-group", str(path)]) == code
    captured = capsys.readouterr()
    assert "alpha 2026-Q3: 1/2 workpaper(s) completed; FAILED: TERM-01; 1 re-run after a lost worker" in captured.out
    assert ("Not tested: beta" in captured.err) == (code == 2)
    assert "Failed workpaper(s): alpha 2026-Q3 TERM-01" in captured.err or code == 2


class _StubClient:
    """Runs ``client.run``'s function here, then lets a test change what one worker 'sees'."""

    def __init__(self, change=lambda view: None):
        self.change = change

    def run(self, function, *args):
        good, other = function(*args), function(*args)
        self.change(other)
        return {"tcp://10.0.0.1:4000": good, "tcp://10.0.0.2:4000": other}


def test_a_worker_that_cannot_see_the_shared_folder_or_runs_another_version_is_named(tmp_path):
    seen = tmp_path / "group"
    seen.mkdir()
    assert groups.check_workers(_StubClient(), [seen]) == []
    problems = groups.check_workers(_StubClient(lambda view: view.update(missing=[str(seen)], version="0.0.1")), [seen])
    assert problems == [
        f"worker tcp://10.0.0.2:4000 (host {socket.gethostname()}) cannot see {seen}: the group's folders and files "
        "must be at the same path on every worker (a shared folder)",
        f"worker tcp://10.0.0.2:4000 (host {socket.gethostname()}) runs Audit Workbench 0.0.1 with other procedure "
        f"notebooks than this machine ({__version__}): install the same version everywhere"]


def test_a_period_file_that_cannot_be_read_is_that_entitys_problem(tmp_path):
    group_file = demo_group.write_demo_group(tmp_path, entities=2)
    (tmp_path / "entity-02" / "parameters" / runner.DEMO_PARAMETER_FILE).write_text("entity: X\nseed: [\n")
    periods = groups.read_periods(groupfile.load_group(group_file), None)
    assert periods[0].problem is None and periods[0].params is not None
    assert periods[1].params is None and "not valid YAML" in periods[1].problem


# --- a group on a 2-worker LocalCluster, with a worker killed mid-run --------------------------------

class _WorkerKiller(threading.Thread):
    """Kills the worker process of the first control attempt it sees running, if that process is
    one of the cluster's own workers (their ids come from the cluster: ``client.run(os.getpid)``)."""

    def __init__(self, out_dir: Path, worker_pids: dict[str, int]):
        super().__init__(daemon=True)
        self.out_dir, self.worker_pids = out_dir, worker_pids
        self.killed: dict | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        while not self.finished.is_set() and self.killed is None:
            for path in sorted(self.out_dir.glob(f"*/{groups.ATTEMPTS}/*/*/*/*.json")):
                try:
                    attempt = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                if attempt.get("state") == "running" and self.worker_pids.get(attempt["worker"]) == attempt["pid"]:
                    os.kill(attempt["pid"], signal.SIGKILL)
                    self.killed = dict(attempt, control=path.parent.name, entity=path.parts[-4])
                    return
            time.sleep(0.05)


def _keep_controls(parameter_file: Path, control_ids: set[str]) -> None:
    """Trim a period file to some of its controls (a smaller group keeps the test suite quick)."""
    document = yaml.safe_load(parameter_file.read_text(encoding="utf-8"))
    document["controls"] = [c for c in document["controls"] if c["id"] in control_ids]
    parameter_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def group_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("group")
    group_file = demo_group.write_demo_group(base, entities=3)
    # the six access controls, and two of them for the second entity: a smaller group keeps the suite quick
    _keep_controls(base / "entity-01" / "parameters" / runner.DEMO_PARAMETER_FILE,
                   {"UAR-01", "PROV-01", "TERM-01", "PRIV-01", "SOD-CTL-01", "AUTH-01"})
    _keep_controls(base / "entity-02" / "parameters" / runner.DEMO_PARAMETER_FILE, {"PRIV-01", "AUTH-01"})
    (base / "entity-03" / "data" / "demo" / "2026-Q3" / "hr" / "workday_workers.csv").unlink()  # not usable
    group = groupfile.load_group(group_file)
    lines: list[str] = []
    with groups.connect(None, 2) as (client, cluster):
        pids = client.run(os.getpid)
        killer = _WorkerKiller(group.out_dir, pids)
        killer.start()
        try:
            result = groups.run_group(group, client, cluster, progress=lines.append)
        finally:
            killer.finished.set()
            killer.join(5)
    return result, killer.killed, pids, lines


def test_the_group_tests_every_usable_period_and_writes_the_index_and_manifest(group_run):
    result, _, _, lines = group_run
    published = [p for p in result.periods if p.status == group_report.PUBLISHED]
    assert [p.entity_id for p in published] == ["entity-01", "entity-02"]
    for period in published:
        assert [c.status for c in period.controls] == ["completed"] * len(period.controls)
        assert runner.verify_run(period.run_dir).ok  # a complete period run, as `workbench run` writes it
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    assert [len(p.controls) for p in published] == [6, 2]
    assert manifest["summary"]["controls"] == 8 and manifest["summary"]["completed"] == 8
    assert {c["worker"] for p in manifest["periods"][:2] for c in p["controls"]} <= {
        a["worker"] for p in manifest["periods"][:2] for c in p["controls"] for a in c["attempts"]}
    html = result.index_html.read_text(encoding="utf-8")
    for period in published:
        for control in period.controls:
            link = group_report.relative_link(period.run_dir / control.control_id / "workpaper.html", result.group_dir)
            assert f'href="{link}"' in html and (result.group_dir / link).is_file()
    assert (result.group_dir.parent / groups.LATEST).read_text().strip() == result.group_dir.name
    assert any("period run published" in line for line in lines)


def test_a_period_that_cannot_be_used_is_reported_for_its_entity_only(group_run):
    result, _, _, lines = group_run
    bad = result.periods[2]
    assert (bad.entity_id, bad.status) == ("entity-03", group_report.NOT_USABLE)
    assert "workday_workers.csv" in (bad.problem or "")
    assert result.not_usable == [bad] and bad.controls == []
    assert any(line.startswith("entity-03 2026-Q3: the period could not be used") for line in lines)


def test_a_killed_workers_control_is_rerun_on_another_worker_and_both_attempts_are_recorded(group_run):
    result, killed, pids, _ = group_run
    assert killed is not None, "no control attempt was seen running: nothing was killed"
    period = next(p for p in result.periods if p.entity_id == killed["entity"])
    control = next(c for c in period.controls if c.control_id == killed["control"])
    assert control.status == "completed"
    lost, final = control.attempts[0], control.attempts[-1]
    assert (lost.state, lost.pid, lost.worker) == ("lost", killed["pid"], killed["worker"])
    assert final.state == "finished" and final.pid != killed["pid"] and final.worker != killed["worker"]
    assert (control.worker, control.pid) == (final.worker, final.pid)
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    assert manifest["summary"]["rerun"] >= 1
    recorded = next(c for p in manifest["periods"] if p["entity"] == killed["entity"] for c in p["controls"]
                    if c["control_id"] == killed["control"])
    assert recorded["attempt_count"] == len(control.attempts) >= 2
    assert killed["pid"] in pids.values()


def test_a_group_writes_the_workpapers_and_manifest_workbench_run_writes(group_run, tmp_path):
    """Published on a worker and signed on the client: the same evidence as ``workbench run`` of the period."""
    result, _, _, lines = group_run
    period = result.periods[1]  # entity-02: two controls
    alone = runner.run_period(Path(str(period.parameter_file)), tmp_path / "alone", jobs=1, progress=lambda line: None)
    assert_same_evidence(Path(period.run_dir), alone.run_dir)
    assert runner.verify_run(period.run_dir).ok
    assert any(f"{period.entity_id} 2026-Q3: period run published (on worker tcp://" in line and "signed here" in line
               for line in lines)


def test_a_worker_keeps_one_warm_kernel_factory_and_readies_the_next_controls_kernel():
    """What a worker process keeps between controls: one kernel factory (its zygote imported once),
    and a kernel started ahead that the next control takes; releasing it stops everything."""
    state = groups.WorkerState()
    try:
        first, preload = state.take_kernel()
        factory, ahead = state.kernels, state.ready
        second, _ = state.take_kernel()
        assert state.kernels is factory and second is ahead and state.ready not in (None, first, second)
        assert preload == runner.kernel_preload(runner.notebooks_folder())
        assert sum(factory.started.values()) == 3
        if kernel_zygote.fork_available():
            assert factory.started["warm"] == 3 and factory.zygote is not None
        for kernel in (first, second):
            kernel.close()
    finally:
        state.release()
    assert (state.kernels, state.ready, state.scratch) == (None, None, None) and factory.closed


# --- a worker lost while it publishes a period ----------------------------------------------------

class _WorkerLost(Exception):
    """Stands for the death of the worker process at that point of the publication."""


def _dies_at(monkeypatch, module, name: str, after_calls: int) -> None:
    """Make ``module.name`` stop the publication (as a worker's death would) once it has run ``after_calls`` times."""
    real, calls = getattr(module, name), []

    def cut_off(*args, **kwargs):
        if len(calls) >= after_calls:
            raise _WorkerLost(f"worker lost in {name}")
        calls.append(name)
        return real(*args, **kwargs)
    monkeypatch.setattr(module, name, cut_off)


@pytest.mark.parametrize("cut", [
    pytest.param(("runner", "finalize_workpaper", 1), id="after-one-workpaper-was-made-final"),
    pytest.param(("lineage", "write_manifest", 0), id="after-the-marker-went-before-the-manifest"),
])
def test_a_publication_cut_off_by_a_lost_worker_publishes_again_to_the_same_evidence(tmp_path, monkeypatch, cut):
    """Dask runs a lost worker's publication again on another worker. It meets a run folder the dead
    worker left half published (some workpapers already final, or the marker already gone): the
    second publication completes the same evidence as an uninterrupted ``workbench run``."""
    from workbench import lineage

    control_ids = ["UAR-A", "UAR-B", "UAR-C"]
    parameter_file = write_uar_period(tmp_path / "project", control_ids)
    prepared = groups.prepare_period(str(parameter_file), str(tmp_path / "out"))
    assert prepared.problem is None and prepared.run_dir is not None
    try:
        runs = {cid: groups.run_control(prepared.run_dir, cid, str(tmp_path / "attempts" / cid)).outcome
                for cid in control_ids}
    finally:
        groups.release_worker()
    assert [o.status for o in runs.values()] == ["completed"] * 3
    module, name, after = cut
    with monkeypatch.context() as patch:
        _dies_at(patch, {"runner": runner, "lineage": lineage}[module], name, after)
        with pytest.raises(_WorkerLost):
            groups.publish_period(prepared.run_dir, control_ids, runs, {}, {}, time.perf_counter())
    publication = groups.publish_period(prepared.run_dir, control_ids, runs, {}, {}, time.perf_counter())
    final = groups.complete_run(publication, seal.preparer_key(load_period(parameter_file).preparer, None))
    assert runner.verify_run(Path(final)).ok
    alone = runner.run_period(parameter_file, tmp_path / "alone", jobs=1, progress=lambda line: None)
    assert_same_evidence(Path(final), alone.run_dir)
