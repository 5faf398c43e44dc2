"""Where a period run's wall-clock time goes: the stages, the two slots' controls and idle time, the kernels' CPU.

Run from the repository root (``make bench`` does, with the defaults):

    python benchmarks/bench_timeline.py [--repeat 1] [--jobs 2] [--employees 300] [--controls UAR-01 ...]

Builds the demo company in a temporary project and runs ``workbench run --jobs N --only`` the six
access controls of ``bench_speedup.py`` with ``WORKBENCH_TIMING_TRACE`` set (``workbench.timing_trace``:
one JSON line per event: stages, the zygote ready, each kernel forked and reaped with its CPU
seconds, each control's begin and end per slot). Printed per run, with the 1-minute load average
when it ended: seconds from the start to each stage, when the warm-kernel process was ready, each
slot's controls with the seconds it sat idle while another control ran, and the kernels forked
(one per control: none is forked that no control uses) with their CPU seconds; then the runner's
own CPU seconds. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_speedup import ACCESS_CONTROLS, PARAMETER_FILE  # noqa: E402

from workbench import demo, timing_trace  # noqa: E402

BIN = Path(sys.executable).parent


def build_project(base: Path, employees: int) -> Path:
    """The demo company and its period file in ``base``; the period file's path."""
    demo.generate_demo_company(base / "data" / "demo" / demo.DEMO_PERIOD, employees=employees)
    (base / "parameters").mkdir()
    shutil.copyfile(ROOT / "parameters" / PARAMETER_FILE, base / "parameters" / PARAMETER_FILE)
    return base / "parameters" / PARAMETER_FILE


def traced_run(parameter_file: Path, out: Path, trace: Path, jobs: int, controls: list[str]) -> tuple[float, float]:
    """One traced ``workbench run``: its wall-clock seconds and the CPU seconds of it and its processes."""
    env = {**os.environ, timing_trace.TRACE_VARIABLE: str(trace),
           "WORKBENCH_KEYS_DIR": str(parameter_file.parent.parent / "keys")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "workbench"), "run", str(parameter_file), "--out", str(out), "--jobs", str(jobs),
                           "--only", *controls], capture_output=True, text=True, env=env,
                          cwd=parameter_file.parent.parent)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"workbench run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


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
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="workbench-bench-timeline-"))
    try:
        parameter_file = build_project(scratch / "project", args.employees)
        print(f"Timeline of a period run: {', '.join(args.controls)}, --jobs {args.jobs}, demo company of "
              f"{args.employees} employees, {os.cpu_count()} cores; load average before {os.getloadavg()[0]:.2f}")
        for i in range(args.repeat):
            trace = scratch / f"trace-{i}.jsonl"
            wall, cpu = traced_run(parameter_file, scratch / f"out-{i}", trace, args.jobs, args.controls)
            events = timing_trace.read(trace)
            runner_pid = events[0]["pid"]
            runner_cpu = max((e["cpu_process"] for e in events if e["pid"] == runner_pid), default=None)
            print(f"run {i + 1}:")
            report(timing_trace.summarise(events), wall, cpu, runner_cpu)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
