"""The work inside the kernels: each access control's notebook cells run in-process, this tree
against a baseline, in the same minutes, interleaved.

Run from the repository root (``make bench`` does, with the defaults):

    python benchmarks/bench_kernel_work.py [--baseline-commit bb32cbf | --baseline-tree DIR | --baseline-src DIR]
                                           [--repeat 3] [--profile] [--employees 300] [--controls UAR-01 ...]

What a kernel spends on a control once its imports are done: each tree builds its own demo company
and freezes a run folder of its period (``prepare_run``), then each control's code cells run in a
fresh process with the tree's package first on ``PYTHONPATH``, after the imports its warm kernels
do (``preloading``/``kernel_zygote``, where the tree has them), without a kernel, papermill or the
HTML export. Rounds alternate the trees (the order swapped every round). With ``--profile`` the
cells run under cProfile, as the issue's figures were taken (profiling weighs Python calls, so the
ratio differs from the plain one). Printed: each run's CPU seconds with the 1-minute load average,
then per control the median CPU seconds of each tree and the total and ratio. The default baseline
is the main commit before the kernel work of issue 17 (bb32cbf). A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_speedup import (  # noqa: E402
    ACCESS_CONTROLS,
    Tree,
    build_project,
    compile_bytecode,
    run,
    tree_environment,
    trees_to_compare,
)

#: main before the kernels' work of issue 17 (vectorised IPE check, shared selections database,
#: work done once per control, identity look-ups in Arrow, worded tables column by column).
KERNEL_BASELINE_COMMIT = "bb32cbf"
#: Each access control's procedure notebook.
PROCEDURES = {"UAR-01": "user_access_review", "PROV-01": "provisioning", "TERM-01": "termination",
              "PRIV-01": "privileged_access", "SOD-CTL-01": "segregation_of_duties", "AUTH-01": "authentication"}

# Run in the tree's own package: freeze the period's inputs into a run folder; print its path.
PREPARE = r"""
import sys
from pathlib import Path
from workbench.runner import prepare_run
print(prepare_run(Path(sys.argv[1]), Path(sys.argv[2])).run_dir)
"""

# Run in the tree's own package: one control's code cells after the warm kernels' imports; prints CPU seconds.
CELLS = r"""
import cProfile, json, os, sys, time
from pathlib import Path
os.environ.setdefault("MPLBACKEND", "Agg")
run_dir, control_id, notebook, profile = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
try:
    from workbench import kernel_zygote, preloading
    kernel_zygote._preload(preloading.preload_modules(sorted(preloading.notebooks_folder().glob("*.ipynb"))))
except (ImportError, AttributeError):
    import workbench.procedures  # a tree without warm kernels: its package at least
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
shell = InteractiveShell.instance()
(Path(run_dir) / control_id).mkdir(exist_ok=True)
os.chdir(Path(run_dir) / control_id)
shell.run_cell(f"run_dir = {run_dir!r}\ncontrol_id = {control_id!r}", store_history=False)
profiler = cProfile.Profile()
cpu = 0.0
for cell in json.loads(Path(notebook).read_text())["cells"]:
    if cell["cell_type"] != "code" or "parameters" in cell.get("metadata", {}).get("tags", []):
        continue
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    started = time.process_time()
    with capture_output():
        if profile:
            profiler.enable()
        result = shell.run_cell(source, store_history=False)
        if profile:
            profiler.disable()
    cpu += time.process_time() - started
    if not result.success:
        raise SystemExit(f"{control_id}: a cell failed in-process: {result.error_in_exec or result.error_before_exec}")
print(json.dumps(cpu))
"""


def prepare(tree: Tree, parameter_file: Path, out: Path) -> Path:
    """The tree's run folder of the period, its inputs frozen (what every notebook opens)."""
    project = parameter_file.parent.parent
    return Path(run([sys.executable, "-c", PREPARE, str(parameter_file), str(out)],
                    tree_environment(tree, project / "keys"), project).strip().splitlines()[-1])


def cells_cpu(tree: Tree, run_dir: Path, control: str, profile: bool) -> tuple[float, float]:
    """CPU seconds of one control's cells in a fresh process of the tree, and the load average after."""
    notebook = tree.src / "workbench" / "notebooks" / f"{PROCEDURES[control]}.ipynb"
    output = run([sys.executable, "-c", CELLS, str(run_dir), control, str(notebook), "1" if profile else "0"],
                 tree_environment(tree, run_dir / "keys"), run_dir)
    return float(json.loads(output.strip().splitlines()[-1])), os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--baseline-commit", default=KERNEL_BASELINE_COMMIT,
                        help=f"commit of this repository to extract as the baseline (default {KERNEL_BASELINE_COMMIT})")
    source.add_argument("--baseline-tree", type=Path, help="a checkout of the baseline (its src and parameters)")
    source.add_argument("--baseline-src", type=Path, help="the baseline's src folder (its parameters beside it)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3; medians of them)")
    parser.add_argument("--profile", action="store_true", help="run the cells under cProfile (the issue's measure)")
    parser.add_argument("--employees", type=int, default=300, help="size of each demo company (default 300)")
    parser.add_argument("--controls", nargs="+", default=list(ACCESS_CONTROLS), choices=list(PROCEDURES),
                        help="the controls measured")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="workbench-bench-kernel-work-"))
    try:
        trees = trees_to_compare(args, scratch)
        if trees is None:
            return
        run_dirs = {}
        for i, tree in enumerate(trees):
            compile_bytecode(tree)
            parameter_file = build_project(tree, scratch / f"project-{i}", args.employees)
            run_dirs[tree.label] = prepare(tree, parameter_file, scratch / f"out-{i}")
        print(f"The kernels' work, baseline against this tree: {', '.join(args.controls)} in-process"
              f"{' under cProfile' if args.profile else ''}, demo company of {args.employees} employees, "
              f"{args.repeat} round(s), {os.cpu_count()} cores; load average before {os.getloadavg()[0]:.2f}",
              flush=True)
        cpu: dict[str, dict[str, list[float]]] = {tree.label: {c: [] for c in args.controls} for tree in trees}
        for i in range(args.repeat):
            for control in args.controls:
                for tree in (trees if i % 2 == 0 else trees[::-1]):
                    seconds, load = cells_cpu(tree, run_dirs[tree.label], control, args.profile)
                    cpu[tree.label][control].append(seconds)
                    print(f"round {i + 1}: {control:11} {tree.label:22} CPU {seconds:6.3f} s (load {load:.2f})",
                          flush=True)
        print()
        totals = {tree.label: 0.0 for tree in trees}
        for control in args.controls:
            medians = {tree.label: statistics.median(cpu[tree.label][control]) for tree in trees}
            for label, seconds in medians.items():
                totals[label] += seconds
            print(f"{control:11} " + "   ".join(f"{label} {seconds:6.3f} s" for label, seconds in medians.items()))
        base, current = (totals[tree.label] for tree in trees)
        print(f"{'total':11} " + "   ".join(f"{label} {seconds:6.3f} s" for label, seconds in totals.items())
              + f"   this tree / baseline {current / base:.2f} ({(1 - current / base):.0%} less); "
              f"load average after {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
