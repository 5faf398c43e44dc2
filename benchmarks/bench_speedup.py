"""Time this tree's period run against the runner before issue 17's work, in the same session, interleaved.

Run from the repository root (``make bench`` does, with the defaults):

    python benchmarks/bench_speedup.py [--baseline-commit 1e28db5 | --baseline-tree DIR | --baseline-src DIR]
                                       [--repeat 3] [--jobs 2] [--employees 300] [--controls UAR-01 ...]

The baseline is another checkout's ``src`` folder: ``--baseline-src DIR`` (a ``src`` folder),
``--baseline-tree DIR`` (a checkout, e.g. ``git worktree add /tmp/base 1e28db5``), or by default the
commit ``--baseline-commit`` extracted with ``git archive`` into a temporary folder. Both trees run
with this interpreter's libraries (the baseline's pinned dependencies are a subset of this tree's:
compare ``constraints.txt``), each tree's own package first on ``PYTHONPATH``, so its kernels, its
notebooks and its demo generator are its own.

Each tree builds its own demo company and period in a temporary project and runs ``workbench run
--jobs 2 --only`` the six access controls the baseline had (the demo period has grown since), in
fresh processes, alternating baseline and this tree (the order swapped every round, so neither
always runs on a machine the other has just warmed). Printed: every run's wall-clock seconds with
the 1-minute load average at its end, the medians, and the ratio baseline / this tree (median to
median, and the median of the same-round ratios). Target (issue 17): at least 2x. This is a
measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
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

ROOT = Path(__file__).resolve().parents[1]
#: The last first-parent commit of main before issue 17's work (warm kernels, scheduling,
#: vectorised analytics, the Arrow reader) was merged.
BASELINE_COMMIT = "1e28db5"
#: The access controls of the demo period before issue 17 (the period later gained CHG-01, OPS-01).
ACCESS_CONTROLS = ("UAR-01", "PROV-01", "TERM-01", "PRIV-01", "SOD-CTL-01", "AUTH-01")
PARAMETER_FILE = "demo-2026-Q3.yaml"

# Run in the tree's own package (``PYTHONPATH``): its demo company in the project, its parameter file beside it.
BUILD = r"""
import shutil, sys
from pathlib import Path
from workbench import demo
project, parameters, employees = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
demo.generate_demo_company(project / "data" / "demo" / demo.DEMO_PERIOD, employees=employees)
(project / "parameters").mkdir()
shutil.copyfile(parameters, project / "parameters" / parameters.name)
print(demo.__file__)
"""
# Each tree's own console script (``console_main`` where the tree has one, else ``main``).
RUN_CLI = ("import sys; from workbench import cli; sys.argv[0] = 'workbench'\n"
           "cli.console_main() if hasattr(cli, 'console_main') else sys.exit(cli.main())")


class BaselineUnavailable(RuntimeError):
    """The baseline cannot be had (no git history here, an unknown commit): the benchmark is skipped."""


@dataclass(frozen=True)
class Tree:
    """A checkout's package to time: a label, its ``src`` folder and its demo period's parameter file."""

    label: str
    src: Path
    parameters: Path


@dataclass(frozen=True)
class Timing:
    """One run: wall-clock seconds, CPU seconds (the run and every process under it: its kernels,
    the warm-kernel process) and the 1-minute load average when it ended."""

    wall: float
    cpu: float
    load: float


def tree_environment(tree: Tree, keys: Path) -> dict[str, str]:
    """The environment a tree's processes (and their kernels) run with: its package first on the path."""
    return {**os.environ, "PYTHONPATH": str(tree.src), "WORKBENCH_KEYS_DIR": str(keys)}


def run(command: list[str], env: dict[str, str], cwd: Path) -> str:
    """Run a command; stop the benchmark with its output if it fails. Returns its standard output."""
    completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd)
    if completed.returncode != 0:
        raise SystemExit(f"failed ({completed.returncode}): {' '.join(command)}\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


def extract_commit(commit: str, into: Path) -> Path:
    """The tree of ``commit`` of this repository in ``into`` (``git archive``: no worktree is registered)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src", "parameters"], capture_output=True)
    if archive.returncode != 0:
        raise BaselineUnavailable(f"cannot extract the baseline commit {commit} from this repository's history "
                                  f"({archive.stderr.decode(errors='replace').strip()}); name a checkout with "
                                  "--baseline-tree or a src folder with --baseline-src")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def baseline_tree(args: argparse.Namespace, scratch: Path) -> Tree:
    """The baseline named on the command line (a src folder, a checkout, or a commit of this repository)."""
    if args.baseline_src:
        src = Path(args.baseline_src).resolve()
        return Tree(f"baseline {src}", src, src.parent / "parameters" / PARAMETER_FILE)
    root = Path(args.baseline_tree).resolve() if args.baseline_tree else extract_commit(
        args.baseline_commit, scratch / "baseline-tree")
    label = f"baseline {args.baseline_tree or args.baseline_commit}"
    return Tree(label, root / "src", root / "parameters" / PARAMETER_FILE)


def trees_to_compare(args: argparse.Namespace, scratch: Path) -> list[Tree] | None:
    """The baseline named on the command line and this tree, in that order; None, having said why,
    when the baseline cannot be had (a clone without the commit's history)."""
    try:
        baseline = baseline_tree(args, scratch)
    except BaselineUnavailable as exc:
        print(f"skipped: {exc}")
        return None
    return [baseline, Tree("this tree", ROOT / "src", ROOT / "parameters" / PARAMETER_FILE)]


def compile_bytecode(tree: Tree) -> None:
    """Compile the tree's package to bytecode (``compileall``) before anything is timed.

    Python writes a module's bytecode on its first import, unless ``PYTHONDONTWRITEBYTECODE`` is
    set (as on some CI machines and this one): then every process would compile the package from
    source again (about 0.8 s of a run's CPU). Both trees get their bytecode, so the ratio is the
    code's and not whether one tree happened to have a bytecode cache."""
    run([sys.executable, "-m", "compileall", "-q", str(tree.src)], dict(os.environ), tree.src)


def build_project(tree: Tree, project: Path, employees: int) -> Path:
    """The tree's demo company and period file in ``project``; checks the tree's own package built it."""
    project.mkdir(parents=True)
    built_by = run([sys.executable, "-c", BUILD, str(project), str(tree.parameters), str(employees)],
                   tree_environment(tree, project / "keys"), project).strip().splitlines()[-1]
    if not Path(built_by).resolve().is_relative_to(tree.src.resolve()):
        raise SystemExit(f"{tree.label}: the demo was built by {built_by}, not by the tree's package in {tree.src}")
    return project / "parameters" / tree.parameters.name


def timed_run(tree: Tree, parameter_file: Path, out: Path, jobs: int, controls: list[str]) -> Timing:
    """One ``workbench run --jobs N --only CONTROLS`` of the tree, in a fresh process; every workpaper must complete."""
    project = parameter_file.parent.parent
    command = [sys.executable, "-c", RUN_CLI, "run", str(parameter_file), "--out", str(out), "--jobs", str(jobs),
               "--only", *controls]
    cpu = children_cpu()
    started = time.perf_counter()
    run(command, tree_environment(tree, project / "keys"), project)
    wall = time.perf_counter() - started
    cpu = children_cpu() - cpu
    run_dir = out / "2026-Q3" / (out / "2026-Q3" / "latest").read_text(encoding="utf-8").strip()
    failed = [c["control_id"] for c in json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))["controls"]
              if c["status"] != "completed"]
    if failed:
        raise SystemExit(f"{tree.label}: failed workpapers {failed}; see {run_dir}/index.html")
    shutil.rmtree(out)
    return Timing(wall, cpu, os.getloadavg()[0])


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process of this one and of theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def describe(runs: list[Timing]) -> str:
    """Median wall-clock and CPU seconds, then every run with its load average."""
    return (f"median {statistics.median(r.wall for r in runs):6.2f} s, CPU {statistics.median(r.cpu for r in runs):5.1f} s   "
            + ", ".join(f"{r.wall:.2f} s (load {r.load:.2f})" for r in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--baseline-commit", default=BASELINE_COMMIT,
                        help=f"commit of this repository to extract as the baseline (default {BASELINE_COMMIT})")
    source.add_argument("--baseline-tree", type=Path, help="a checkout of the baseline (its src and parameters)")
    source.add_argument("--baseline-src", type=Path, help="the baseline's src folder (its parameters beside it)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tree (default 3; median of them)")
    parser.add_argument("--jobs", type=int, default=2, help="workbench run --jobs (default 2)")
    parser.add_argument("--employees", type=int, default=300, help="size of each demo company (default 300)")
    parser.add_argument("--controls", nargs="+", default=list(ACCESS_CONTROLS), help="the controls run (--only)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="workbench-bench-speedup-"))
    try:
        trees = trees_to_compare(args, scratch)
        if trees is None:
            return
        for tree in trees:
            compile_bytecode(tree)
        files = {tree.label: build_project(tree, scratch / f"project-{i}", args.employees)
                 for i, tree in enumerate(trees)}
        print(f"Period run, baseline against this tree: {', '.join(args.controls)}, --jobs {args.jobs}, demo company "
              f"of {args.employees} employees, {args.repeat} round(s), {os.cpu_count()} cores; "
              f"load average before {os.getloadavg()[0]:.2f}", flush=True)
        runs: dict[str, list[Timing]] = {tree.label: [] for tree in trees}
        for i in range(args.repeat):  # alternating, the order swapped each round
            for tree in (trees if i % 2 == 0 else trees[::-1]):
                timing = timed_run(tree, files[tree.label], scratch / f"out-{i}", args.jobs, args.controls)
                runs[tree.label].append(timing)
                print(f"round {i + 1}: {tree.label:30} {timing.wall:6.2f} s, CPU {timing.cpu:5.1f} s "
                      f"(load {timing.load:.2f})", flush=True)
        baseline, current = (runs[tree.label] for tree in trees)
        medians = statistics.median(r.wall for r in baseline) / statistics.median(r.wall for r in current)
        per_round = statistics.median(b.wall / c.wall for b, c in zip(baseline, current, strict=True))
        print()
        for tree in trees:
            print(f"{tree.label:30} {describe(runs[tree.label])}")
        cpu_ratio = statistics.median(r.cpu for r in baseline) / statistics.median(r.cpu for r in current)
        print(f"baseline / this tree: {medians:.2f}x median to median, {per_round:.2f}x per round "
              f"(target: at least 2x); CPU {cpu_ratio:.2f}x; load average after {os.getloadavg()[0]:.2f}")
        if args.json:
            args.json.write_text(json.dumps({"runs": {k: [vars(t) for t in v] for k, v in runs.items()},
                                             "median_ratio": medians, "per_round_ratio": per_round,
                                             "cpu_ratio": cpu_ratio}, indent=2) + "\n")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
