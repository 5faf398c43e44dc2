"""Time every control of the demo period, scaled up, the work itself in-process: this tree against another.

Run from the repository root (``make bench`` runs it at a small size):

    python benchmarks/bench_controls.py [--employees 2000] [--baseline-src DIR] [--repeat 1]
                                        [--profile DIR] [--keep]

Builds the demo company of ``--employees`` people in a temporary project, freezes the demo period's
inputs into a run folder, and runs each control's notebook cells in a fresh Python process without
a kernel (its imports done first and not timed, as a warm kernel would have them), so the figure
is the control's own work: loading, IPE, analytics, sampling, attribute testing, evaluation.

``--baseline-src`` names the ``src`` folder of another checkout (for example a ``git worktree`` of
an earlier commit): its controls run the same way on their own copy of the same frozen inputs,
interleaved with this tree's, so both see the same machine load. What each control recorded (its
sample, population, exceptions and result files) is compared byte for byte between the two trees
and any difference is printed. ``--profile DIR`` writes a cProfile of each control
(this tree) to ``DIR/<control>.prof``. Seconds per control, the total, the ratio baseline / this
tree, and the load average beside every figure. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
PARAMETER_FILE = "demo-2026-Q3.yaml"

import yaml  # noqa: E402

from workbench import demo  # noqa: E402

# One control in a fresh interpreter, as a warm kernel would have it: the notebook's modules are
# imported first (not timed), then the cells run (timed, optionally under cProfile).
WORK_ITSELF = r"""
import cProfile, json, os, sys, time
from pathlib import Path
os.environ.setdefault("MPLBACKEND", "Agg")
run_dir, control_id, notebook, profile_to = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
import ast, importlib
cells = [c for c in json.loads(Path(notebook).read_text())["cells"]
         if c["cell_type"] == "code" and "parameters" not in c.get("metadata", {}).get("tags", [])]
sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
for source in sources:
    for node in ast.walk(ast.parse(source)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:
                pass
for name in ("duckdb", "scipy.stats", "matplotlib.figure", "matplotlib.backends.backend_agg"):
    importlib.import_module(name)
import workbench
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
shell = InteractiveShell.instance()
os.chdir(Path(run_dir) / control_id)
shell.run_cell(f"run_dir = {run_dir!r}\ncontrol_id = {control_id!r}", store_history=False)
profiler = cProfile.Profile() if profile_to else None
elapsed = 0.0
for source in sources:
    started = time.perf_counter()
    with capture_output():
        if profiler:
            profiler.enable()
        result = shell.run_cell(source, store_history=False)
        if profiler:
            profiler.disable()
    elapsed += time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"{control_id}: a cell failed in-process: {result.error_in_exec or result.error_before_exec}")
if profiler:
    profiler.dump_stats(profile_to)
print(json.dumps({"seconds": elapsed, "package": str(Path(workbench.__file__).parent)}))
"""

PREPARE = r"""
import sys
from pathlib import Path
from workbench.runner import prepare_run
print(prepare_run(Path(sys.argv[1]), Path(sys.argv[2])).run_dir)
"""


def run(command: list[str], env: dict[str, str] | None = None) -> str:
    """Run a command and return its stdout; stop the benchmark with its output if it fails."""
    completed = subprocess.run(command, capture_output=True, text=True, env=env)
    if completed.returncode != 0:
        raise SystemExit(f"failed ({completed.returncode}): {' '.join(command[:3])} ...\n"
                         f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return completed.stdout


def environment(src: Path) -> dict[str, str]:
    """The environment of a process that imports ``workbench`` from ``src`` (ahead of the editable install)."""
    return {**os.environ, "PYTHONPATH": str(src), "MPLBACKEND": "Agg"}


def build_project(base: Path, employees: int) -> tuple[Path, list[dict[str, Any]]]:
    """The demo company's demo period in ``base``: its exports and its parameter file."""
    demo.generate_demo_company(base / "data" / "demo" / demo.DEMO_PERIOD, employees=employees)
    document = yaml.safe_load((ROOT / "parameters" / PARAMETER_FILE).read_text())
    (base / "parameters").mkdir()
    for extra in (ROOT / "parameters").glob("demo-2026-Q3.*"):
        shutil.copy(extra, base / "parameters" / extra.name)
    parameter_file = base / "parameters" / PARAMETER_FILE
    parameter_file.write_text(yaml.safe_dump(document, sort_keys=False))
    return parameter_file, document["controls"]


def prepare(src: Path, parameter_file: Path, out: Path) -> Path:
    """A run folder with the inputs frozen, prepared by the tree at ``src``."""
    return Path(run([sys.executable, "-c", PREPARE, str(parameter_file), str(out)], environment(src))
                .strip().splitlines()[-1])


def control_seconds(src: Path, run_dir: Path, control: dict[str, Any], profile_to: Path | None) -> float:
    """Seconds of one control's cells in a fresh process importing ``workbench`` from ``src``."""
    (run_dir / control["id"]).mkdir(exist_ok=True)
    notebook = src / "workbench" / "notebooks" / f"{control['procedure']}.ipynb"
    out = run([sys.executable, "-c", WORK_ITSELF, str(run_dir), control["id"], str(notebook),
               str(profile_to or "")], environment(src))
    figures = json.loads(out.strip().splitlines()[-1])
    if Path(figures["package"]).resolve() != (src / "workbench").resolve():
        raise SystemExit(f"imported workbench from {figures['package']}, not {src}")
    return figures["seconds"]


def recorded(run_dir: Path, control_id: str) -> Any:
    """What the control recorded (sample, population, register, result), for comparing two trees' results."""
    files = sorted([*(run_dir / control_id).glob("*.csv"), *(run_dir / control_id).glob("*.json")])
    return {path.name: path.read_bytes() for path in files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--employees", type=int, default=2000, help="size of the demo company (default 2000)")
    parser.add_argument("--baseline-src", type=Path, default=None, help="src folder of another checkout to compare")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each control (default 1; best is shown)")
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of each control here")
    parser.add_argument("--only", nargs="*", default=None, help="only these control ids")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="workbench-bench-controls-"))
    started = time.perf_counter()
    parameter_file, controls = build_project(base, args.employees)
    controls = [c for c in controls if not args.only or c["id"] in args.only]
    print(f"Controls of the demo period at {args.employees:,} employees, the work itself in-process "
          f"(data built in {time.perf_counter() - started:.1f} s); load average {os.getloadavg()[0]:.2f}")
    trees = {"this tree": ROOT / "src"}
    if args.baseline_src:
        trees = {"baseline": args.baseline_src.resolve(), **trees}
    run_dirs = {name: prepare(src, parameter_file, base / f"out-{i}") for i, (name, src) in enumerate(trees.items())}
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    print(f"{'control':10} {'procedure':24}" + "".join(f" {name:>12}" for name in trees)
          + ("  baseline/this" if args.baseline_src else "") + "  load average")
    totals = dict.fromkeys(trees, 0.0)
    for control in controls:
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            for name, src in trees.items():  # interleaved: both trees see the same load
                profile_to = args.profile / f"{control['id']}.prof" if args.profile and name == "this tree" else None
                seconds = control_seconds(src, run_dirs[name], control, profile_to)
                best[name] = min(best.get(name, seconds), seconds)
        for name in trees:
            totals[name] += best[name]
        ratio = f"  {best['baseline'] / best['this tree']:13.2f}x" if args.baseline_src else ""
        print(f"{control['id']:10} {control['procedure']:24}" + "".join(f" {best[n]:10.2f} s" for n in trees)
              + ratio + f"  {os.getloadavg()[0]:.2f}", flush=True)
        if args.baseline_src and recorded(run_dirs["baseline"], control["id"]) != recorded(run_dirs["this tree"],
                                                                                           control["id"]):
            print(f"  {control['id']}: the recorded results DIFFER between the trees")
    ratio = f"  {totals['baseline'] / totals['this tree']:13.2f}x" if args.baseline_src else ""
    print(f"{'total':35}" + "".join(f" {totals[n]:10.2f} s" for n in trees) + ratio
          + f"  {os.getloadavg()[0]:.2f}")
    if args.keep:
        print(f"kept: {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
