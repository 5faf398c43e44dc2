"""Where a period run's wall-clock time goes: the stages, the two slots' controls and idle time, the kernels' CPU.

Run from the repository root (``make bench`` does, with the defaults):

    python benchmarks/bench_timeline.py [--repeat 1] [--jobs 2] [--employees 300] [--controls UAR-01 ...]
                                        [--baseline-src DIR | --baseline-commit COMMIT]

Builds the demo company in a temporary project and runs ``workbench run --jobs N --only`` the six
access controls of ``bench_speedup.py`` with ``WORKBENCH_TIMING_TRACE`` set (``workbench.timing_trace``:
one JSON line per event: stages, the zygote ready, each kernel forked and reaped with its CPU
seconds, each control's begin and end per slot). Printed per run, with the 1-minute load average
when it ended: seconds from the start to each stage, when the warm-kernel process was ready, each
slot's controls with the seconds it sat idle while another control ran, and the kernels forked
(one per control: none is forked that no control uses) with their CPU seconds; then the runner's
own CPU seconds. A measurement, not a test.

With ``--baseline-src DIR`` (another checkout's ``src`` folder) or ``--baseline-commit COMMIT`` (a commit
of this repository, extracted with ``git archive``), the baseline's package and this tree's run in
turn on the same demo company (the order swapped every round, each tree's package first on
``PYTHONPATH``, as in ``bench_speedup.py``), and the start of a run is compared: the seconds from
launching ``workbench run`` to the warm-kernel process beginning (where the tree marks it: event
``zygote-begins``), being ready, and to the first control's beginning, each tree's median with the
load beside every run, and the difference of the medians.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_speedup import (  # noqa: E402
    ACCESS_CONTROLS,
    PARAMETER_FILE,
    RUN_CLI,
    BaselineUnavailable,
    Tree,
    compile_bytecode,
    extract_commit,
)

from workbench import demo, timing_trace  # noqa: E402

BIN = Path(sys.executable).parent


def build_project(base: Path, employees: int) -> Path:
    """The demo company and its period file in ``base``; the period file's path."""
    demo.generate_demo_company(base / "data" / "demo" / demo.DEMO_PERIOD, employees=employees)
    (base / "parameters").mkdir()
    shutil.copyfile(ROOT / "parameters" / PARAMETER_FILE, base / "parameters" / PARAMETER_FILE)
    return base / "parameters" / PARAMETER_FILE


@dataclass(frozen=True)
class Start:
    """How a run started: seconds from launching ``workbench run`` to the warm-kernel process beginning
    (None where the tree does not mark it), being ready, to the first control's beginning and to a
    kernel having imported the preload and entered its control's folder (``kernel-entered``); the CPU
    seconds the warm-kernel process had used when ready and the runner when the controls stage began
    (less at the mercy of the load than the wall clock); the run's wall-clock seconds and the
    1-minute load average when it ended."""

    zygote_begins: float | None
    zygote_ready: float | None
    first_control: float
    first_entered: float | None
    zygote_cpu: float | None
    runner_cpu: float | None
    wall: float
    load: float


def traced_run(parameter_file: Path, out: Path, trace: Path, jobs: int, controls: list[str],
               src: Path | None = None) -> tuple[float, float, float]:
    """One traced ``workbench run``: its wall-clock seconds, the CPU seconds of it and its processes,
    and when it was launched (``time.time()``, the trace's clock). ``src``: a tree's package, run
    first on ``PYTHONPATH`` through its own console script (default: this interpreter's ``workbench``)."""
    env = {**os.environ, timing_trace.TRACE_VARIABLE: str(trace),
           "WORKBENCH_KEYS_DIR": str(parameter_file.parent.parent / "keys")}
    command = [str(BIN / "workbench")]
    if src is not None:
        env["PYTHONPATH"] = str(src)
        command = [sys.executable, "-c", RUN_CLI]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    launched, started = time.time(), time.perf_counter()
    done = subprocess.run([*command, "run", str(parameter_file), "--out", str(out), "--jobs", str(jobs),
                           "--only", *controls], capture_output=True, text=True, env=env,
                          cwd=parameter_file.parent.parent)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"workbench run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime), launched


def start_of(events: list[dict[str, Any]], launched: float, wall: float) -> Start:
    """The start of one traced run, in seconds from its launch (``Start``)."""
    begins = next((e["t"] - launched for e in events if e["event"] == "zygote-begins"), None)
    ready = next((e for e in events if e["event"] == "zygote-ready"), None)
    controls = next((e for e in events if e["event"] == "stage" and e["step"] == "controls"), None)
    first = min(e["t"] - launched for e in events if e["event"] == "control-begin")
    entered = min((e["t"] - launched for e in events if e["event"] == "kernel-entered"), default=None)
    return Start(begins, None if ready is None else ready["t"] - launched, first, entered,
                 None if ready is None else ready["cpu_process"], None if controls is None else controls["cpu_process"],
                 wall, os.getloadavg()[0])


def _median(values: list[float | None]) -> float:
    """The median of the values known (NaN if none is)."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else float("nan")


def describe_starts(label: str, starts: list[Start]) -> str:
    """A tree's medians (zygote ready, first control, wall) and every run's figures with its load."""
    return (f"{label:10} median: zygote begins {_median([s.zygote_begins for s in starts]):.2f} s, "
            f"ready {_median([s.zygote_ready for s in starts]):.2f} s, "
            f"first control {_median([s.first_control for s in starts]):.2f} s (its kernel entered "
            f"{_median([s.first_entered for s in starts]):.2f} s), wall "
            f"{_median([s.wall for s in starts]):.2f} s; CPU: zygote at ready {_median([s.zygote_cpu for s in starts]):.2f} s, "
            f"runner at controls {_median([s.runner_cpu for s in starts]):.2f} s\n    runs: "
            + ", ".join(f"{s.zygote_ready or float('nan'):.2f}/{s.first_control:.2f}/{s.wall:.2f} (load {s.load:.2f})"
                        for s in starts))


def compare(args: argparse.Namespace, scratch: Path, parameter_file: Path) -> None:
    """Interleaved runs of the baseline's package and this tree's on the same demo company: the start
    of each (``Start``), the medians, and this tree's gain on the baseline."""
    if args.baseline_src:
        baseline_src = Path(args.baseline_src).resolve()
    else:
        try:
            baseline_src = extract_commit(args.baseline_commit, scratch / "baseline-tree") / "src"
        except BaselineUnavailable as exc:
            print(f"skipped: {exc}")
            return
    trees = {"baseline": baseline_src, "this tree": ROOT / "src"}
    for label, src in trees.items():
        compile_bytecode(Tree(label, src, parameter_file))
    starts: dict[str, list[Start]] = {label: [] for label in trees}
    for i in range(args.repeat):
        for label in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
            trace = scratch / f"trace-{label.replace(' ', '-')}-{i}.jsonl"
            wall, _, launched = traced_run(parameter_file, scratch / f"out-{label.replace(' ', '-')}-{i}", trace,
                                           args.jobs, args.controls, trees[label])
            start = start_of(timing_trace.read(trace), launched, wall)
            starts[label].append(start)
            print(f"round {i + 1}: {label:10} zygote begins {start.zygote_begins or float('nan'):.2f} s, ready "
                  f"{start.zygote_ready or float('nan'):.2f} s, first control "
                  f"{start.first_control:.2f} s, wall {start.wall:.2f} s; CPU zygote {start.zygote_cpu} s, runner "
                  f"{start.runner_cpu} s (load {start.load:.2f})", flush=True)
    print("seconds from launching workbench run (runs: zygote ready/first control/wall):")
    for label, runs in starts.items():
        print("  " + describe_starts(label, runs))
    base, this = starts["baseline"], starts["this tree"]
    gain = _median([s.first_control for s in base]) - _median([s.first_control for s in this])
    ready = _median([s.zygote_ready for s in base]) - _median([s.zygote_ready for s in this])
    per_round = _median([b.first_control - t.first_control for b, t in zip(base, this, strict=True)])
    print(f"this tree against the baseline (medians): first control begins {gain:.2f} s earlier ({per_round:.2f} s, "
          f"median of the same rounds' differences), zygote ready {ready:.2f} s earlier; load average after "
          f"{os.getloadavg()[0]:.2f}")


def report(summary: dict, wall: float, cpu: float, runner_cpu: float | None) -> None:
    """Print one run's timeline."""
    print(f"  wall {wall:.2f} s, CPU {cpu:.1f} s (all processes), load {os.getloadavg()[0]:.2f}")
    print("  stages (s from start): " + ", ".join(f"{step} {at:.2f}" for step, at in summary["stages"].items())
          + f"; warm-kernel process ready {summary['zygote_ready']}")
    for slot, facts in summary["slots"].items():
        controls = ", ".join(f"{c} {b:.2f}-{e:.2f}" for c, b, e in facts["controls"])
        print(f"  {slot}: idle {facts['idle']:.2f} s while controls ran; {controls}")
    kernels = summary["kernels"]
    print(f"  kernels forked {kernels['forked']}, ended {kernels['reaped']}, their CPU {kernels['cpu']:.2f} s; "
          f"runner CPU {runner_cpu if runner_cpu is not None else 'n/a'} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="traced runs (default 1)")
    parser.add_argument("--jobs", type=int, default=2, help="workbench run --jobs (default 2)")
    parser.add_argument("--employees", type=int, default=300, help="size of the demo company (default 300)")
    parser.add_argument("--controls", nargs="+", default=list(ACCESS_CONTROLS), help="the controls run (--only)")
    baseline = parser.add_mutually_exclusive_group()
    baseline.add_argument("--baseline-src", type=Path, help="compare the start with this src folder's package")
    baseline.add_argument("--baseline-commit", help="compare the start with this commit of the repository")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="workbench-bench-timeline-"))
    try:
        parameter_file = build_project(scratch / "project", args.employees)
        print(f"Timeline of a period run: {', '.join(args.controls)}, --jobs {args.jobs}, demo company of "
              f"{args.employees} employees, {os.cpu_count()} cores; load average before {os.getloadavg()[0]:.2f}")
        if args.baseline_src or args.baseline_commit:
            compare(args, scratch, parameter_file)
            return
        for i in range(args.repeat):
            trace = scratch / f"trace-{i}.jsonl"
            wall, cpu, _ = traced_run(parameter_file, scratch / f"out-{i}", trace, args.jobs, args.controls)
            events = timing_trace.read(trace)
            runner_pid = events[0]["pid"]
            runner_cpu = max((e["cpu_process"] for e in events if e["pid"] == runner_pid), default=None)
            print(f"run {i + 1}:")
            report(timing_trace.summarise(events), wall, cpu, runner_cpu)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
