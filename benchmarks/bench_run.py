"""Time a period run end to end against the naive pipeline, the work itself and the kernel cost.

Run from the repository root (``make bench`` does):

    python benchmarks/bench_run.py [--controls 6] [--repeat 3] [--employees 300] [--skip-naive] [--json FILE]

It builds the demo company in a temporary project and takes the demo period's controls; when the
period has fewer than ``--controls`` controls, copies of its controls (new ids, same procedure) are
added so the figures are for that many controls. Then, each measurement in fresh processes:

(a) the naive pipeline: freeze the inputs, then for each control one after another the
    ``papermill`` command line (same parameters, the control's folder as working folder) and
    ``jupyter nbconvert --to html`` on its output;
(b) ``workbench run`` with ``--jobs 2`` and ``--jobs 1`` (everything: validation, freezing, kernels,
    workpapers, index, register, manifest), checking every workpaper completed;
(c) the work itself: each notebook's code cells executed by IPython in a fresh Python process
    without a kernel, after the notebooks' imports (sum over controls); also the cell times
    papermill recorded in the ``--jobs 1`` run's notebooks, and the HTML export in-process;
(d) the kernel cost per control: start a kernel and wait until it answers, import what the
    control's notebook imports, stop it.

Wall-clock seconds, best and median of ``--repeat`` runs (the machine may be shared: the load
average is printed with the figures). The ratio naive / workbench (target at least 3 with two
jobs on two cores) and the overhead of the run above the work itself, per control, in kernel
starts (target about one or less) are printed at the end. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
BIN = Path(sys.executable).parent
PARAMETER_FILE = "demo-2026-Q3.yaml"

import yaml  # noqa: E402

from workbench import demo, runner  # noqa: E402

# (c): one control in a fresh interpreter, as a kernel would have it: the notebooks' modules are
# imported first (not timed; that is the kernel cost), then the cells run (timed).
WORK_ITSELF = r"""
import json, os, sys, time
from pathlib import Path
os.environ.setdefault("MPLBACKEND", "Agg")
run_dir, control_id, notebook, modules = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
import importlib
for name in modules:
    try:
        importlib.import_module(name)
    except Exception:
        pass
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
shell = InteractiveShell.instance()
os.chdir(Path(run_dir) / control_id)
shell.run_cell(f"run_dir = {run_dir!r}\ncontrol_id = {control_id!r}", store_history=False)
elapsed = 0.0
for cell in json.loads(Path(notebook).read_text())["cells"]:
    if cell["cell_type"] != "code" or "parameters" in cell.get("metadata", {}).get("tags", []):
        continue
    source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    started = time.perf_counter()
    with capture_output():
        result = shell.run_cell(source, store_history=False)
    elapsed += time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"{control_id}: a cell failed in-process: {result.error_in_exec or result.error_before_exec}")
print(json.dumps(elapsed))
"""

# (d): one kernel's life, as the runner lives it, minus the notebook.
KERNEL_COST = r"""
import json, sys, time
from jupyter_client.manager import KernelManager
from workbench import runner
modules = json.loads(sys.argv[1])
started = time.perf_counter()
km = KernelManager(kernel_name="python3")
km.start_kernel(extra_arguments=list(runner.KERNEL_ARGUMENTS))
kc = km.client()
kc.start_channels()
kc.wait_for_ready(timeout=120)
ready = time.perf_counter()
reply = kc.execute_interactive(runner.preload_code(modules), silent=True, timeout=300)
imported = time.perf_counter()
kc.stop_channels()
km.shutdown_kernel(now=True)
stopped = time.perf_counter()
print(json.dumps({"start": ready - started, "imports": imported - ready, "stop": stopped - imported,
                  "total": stopped - started}))
"""

PREPARE = r"""
import sys
from pathlib import Path
from workbench.runner import prepare_run
print(prepare_run(Path(sys.argv[1]), Path(sys.argv[2])).run_dir)
"""


def build_project(base: Path, controls: int, employees: int) -> tuple[Path, list[dict[str, Any]]]:
    """The demo company and its period in ``base``, with at least ``controls`` controls."""
    demo.generate_demo_company(base / "data" / "demo" / demo.DEMO_PERIOD, employees=employees)
    document = yaml.safe_load((ROOT / "parameters" / PARAMETER_FILE).read_text())
    originals = document["controls"]
    taken = {c["id"] for c in originals}
    number = 1
    while len(document["controls"]) < controls:
        source = originals[(len(document["controls"]) - len(originals)) % len(originals)]
        prefix = source["id"].rsplit("-", 1)[0]
        while f"{prefix}-{number:02d}" in taken:
            number += 1
        added = dict(copy.deepcopy(source), id=f"{prefix}-{number:02d}")
        taken.add(added["id"])
        document["controls"].append(added)
    (base / "parameters").mkdir()
    parameter_file = base / "parameters" / PARAMETER_FILE
    parameter_file.write_text(yaml.safe_dump(document, sort_keys=False))
    return parameter_file, document["controls"]


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    """Wall-clock seconds of one call, and what it returned."""
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    """Run a command; stop the benchmark with its output if it fails."""
    completed = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if completed.returncode != 0:
        raise SystemExit(f"failed ({completed.returncode}): {' '.join(command)}\n{completed.stdout}\n{completed.stderr}")
    return completed


def prepare(parameter_file: Path, out: Path) -> Path:
    """A run folder with the inputs frozen (what every notebook opens)."""
    return Path(run([sys.executable, "-c", PREPARE, str(parameter_file), str(out)]).stdout.strip().splitlines()[-1])


def naive_pipeline(parameter_file: Path, controls: list[dict[str, Any]], out: Path) -> float:
    """(a) Freeze the inputs, then papermill CLI and nbconvert CLI per control, one after another."""
    started = time.perf_counter()
    run_dir = prepare(parameter_file, out)
    for control in controls:
        folder = run_dir / control["id"]
        folder.mkdir(exist_ok=True)
        notebook = ROOT / "notebooks" / f"{control['procedure']}.ipynb"
        executed = folder / "workpaper.ipynb"
        run([str(BIN / "papermill"), str(notebook), str(executed), "-p", "run_dir", str(run_dir),
             "-p", "control_id", control["id"], "--cwd", str(folder), "-k", "python3", "--no-progress-bar",
             "--log-level", "ERROR"])
        run([str(BIN / "jupyter"), "nbconvert", "--to", "html", str(executed), "--log-level", "ERROR"])
    return time.perf_counter() - started


def workbench_run(parameter_file: Path, out: Path, jobs: int) -> tuple[float, Path]:
    """(b) ``workbench run --jobs N``; every workpaper must complete."""
    keys = {"WORKBENCH_KEYS_DIR": os.environ.get("WORKBENCH_KEYS_DIR") or str(out / "keys")}  # not the user's keys
    seconds, _ = timed(lambda: run([str(BIN / "workbench"), "run", str(parameter_file), "--out", str(out),
                                    "--jobs", str(jobs)], env={**os.environ, **keys}))
    run_dir = runner.latest_run(out / "2026-Q3")
    failed = [c["control_id"] for c in json.loads((run_dir / "manifest.json").read_text())["controls"]
              if c["status"] != "completed"]
    if failed:
        raise SystemExit(f"workbench run --jobs {jobs}: failed workpapers {failed}; see {run_dir}/index.html")
    return seconds, run_dir


def work_itself(parameter_file: Path, controls: list[dict[str, Any]], out: Path,
                preloads: dict[str, list[str]]) -> dict[str, float]:
    """(c) Seconds of each control's cells executed without a kernel, its imports already done."""
    run_dir = prepare(parameter_file, out)
    seconds = {}
    for control in controls:
        (run_dir / control["id"]).mkdir(exist_ok=True)
        notebook = ROOT / "notebooks" / f"{control['procedure']}.ipynb"
        completed = run([sys.executable, "-c", WORK_ITSELF, str(run_dir), control["id"], str(notebook),
                         json.dumps(preloads[control["procedure"]])])
        seconds[control["id"]] = json.loads(completed.stdout.strip().splitlines()[-1])
    return seconds


def recorded_cell_seconds(run_dir: Path) -> dict[str, float]:
    """(c) The cell execution times papermill recorded in a run's executed notebooks."""
    seconds = {}
    for path in sorted(run_dir.glob("*/workpaper.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        seconds[path.parent.name] = sum((c.get("metadata", {}).get("papermill", {}).get("duration") or 0.0)
                                        for c in cells if c["cell_type"] == "code")
    return seconds


def export_seconds(run_dir: Path) -> float:
    """(c) Exporting every workpaper of a run to HTML again, in one process (template compiled once)."""
    code = ("import sys, time, nbformat\nfrom pathlib import Path\nfrom workbench import workpapers\n"
            "workpapers.prepare_exporter()\npaths = sorted(Path(sys.argv[1]).glob('*/workpaper.ipynb'))\n"
            "t = time.perf_counter()\n"
            "for p in paths:\n    workpapers.export_html(p, p.with_name('export-check.html'), '')\n"
            "print(time.perf_counter() - t)\n")
    return float(run([sys.executable, "-c", code, str(run_dir)]).stdout.strip().splitlines()[-1])


def kernel_cost(modules: list[str]) -> dict[str, float]:
    """(d) One kernel: start until it answers, import the notebooks' modules, stop."""
    return json.loads(run([sys.executable, "-c", KERNEL_COST, json.dumps(modules)]).stdout.strip().splitlines()[-1])


def summary(values: list[float]) -> str:
    """Best and median of repeated wall-clock times."""
    return f"{min(values):7.2f} s  {statistics.median(values):7.2f} s   ({', '.join(f'{v:.2f}' for v in values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--controls", type=int, default=6, help="at least this many controls (default 6)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (default 3)")
    parser.add_argument("--employees", type=int, default=300, help="size of the demo company (default 300)")
    parser.add_argument("--skip-naive", action="store_true", help="do not time the naive pipeline")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="workbench-bench-run-"))
    parameter_file, controls = build_project(base, args.controls, args.employees)
    n = len(controls)
    preloads = {c["procedure"]: runner.preload_modules([ROOT / "notebooks" / f"{c['procedure']}.ipynb"])
                for c in controls}
    cores = os.cpu_count() or 1
    print(f"Period run benchmark: {n} controls ({', '.join(c['id'] + '=' + c['procedure'] for c in controls)}), "
          f"{cores} cores, demo company of {args.employees} employees, {args.repeat} run(s) each")
    print(f"load average before: {os.getloadavg()[0]:.2f} (a shared machine makes every figure slower)\n")

    figures: dict[str, Any] = {"controls": n, "cores": cores, "repeat": args.repeat}
    # Interleaved, so that whatever else the machine does weighs on every kind of run alike.
    naive: list[float] = []
    jobs2, jobs1, run_dirs, work_runs, kernels = [], [], [], [], []
    for i in range(args.repeat):
        if not args.skip_naive:
            naive.append(naive_pipeline(parameter_file, controls, base / f"naive-{i}"))
        seconds, _ = workbench_run(parameter_file, base / f"jobs2-{i}", 2)
        jobs2.append(seconds)
        seconds, run_dir = workbench_run(parameter_file, base / f"jobs1-{i}", 1)
        jobs1.append(seconds)
        run_dirs.append(run_dir)
        work_runs.append(work_itself(parameter_file, controls, base / f"work-{i}", preloads))
        kernels.append([kernel_cost(preloads[c["procedure"]]) for c in controls])
    work = [sum(r.values()) for r in work_runs]
    recorded = recorded_cell_seconds(run_dirs[-1])
    export = export_seconds(run_dirs[-1])
    per_kernel = [k for run_kernels in kernels for k in run_kernels]
    kernel_total = statistics.median(k["total"] for k in per_kernel)
    load_after = os.getloadavg()[0]

    print(f"{'':58} {'best':>9} {'median':>9}   (runs)")
    if naive:
        print(f"{'(a) naive: papermill CLI + jupyter nbconvert CLI, in turn':58} {summary(naive)}")
    print(f"{'(b) workbench run --jobs 2':58} {summary(jobs2)}")
    print(f"{'    workbench run --jobs 1':58} {summary(jobs1)}")
    print(f"{'(c) work itself: the cells in-process, no kernel':58} {summary(work)}")
    per_control = {cid: round(statistics.median(r[cid] for r in work_runs), 2) for cid in work_runs[0]}
    print(f"      per control (median): {per_control}")
    print(f"    cell time papermill recorded (--jobs 1 run): {sum(recorded.values()):.2f} s")
    print(f"    HTML export of the {n} workpapers in one process: {export:.2f} s")
    print(f"(d) kernel cost per control, median: {kernel_total:.2f} s = start until it answers "
          f"{statistics.median(k['start'] for k in per_kernel):.2f} s + its notebook's imports "
          f"{statistics.median(k['imports'] for k in per_kernel):.2f} s + stop "
          f"{statistics.median(k['stop'] for k in per_kernel):.2f} s; summed over the controls "
          f"{min(sum(k['total'] for k in run_kernels) for run_kernels in kernels):.2f} s (best run)")
    print(f"load average after: {load_after:.2f}\n")

    best_work = min(work)
    for jobs, times in ((2, jobs2), (1, jobs1)):
        overhead = (min(times) - best_work) / n
        print(f"--jobs {jobs}: above the work itself by {min(times) - best_work:.2f} s = {overhead:.2f} s per control "
              f"= {overhead / kernel_total:.2f} kernel starts per control (target: about 1 or less)")
        figures[f"jobs{jobs}"] = {"best": min(times), "median": statistics.median(times), "runs": times,
                                  "overhead_per_control": overhead, "kernel_starts_per_control": overhead / kernel_total}
    if naive:
        for jobs, times in ((2, jobs2), (1, jobs1)):
            print(f"naive / workbench --jobs {jobs}: {min(naive) / min(times):.2f}x best to best, "
                  f"{statistics.median(naive) / statistics.median(times):.2f}x median to median"
                  + ("  (target: at least 3x)" if jobs == 2 else ""))
        figures["naive"] = {"best": min(naive), "median": statistics.median(naive), "runs": naive}
        figures["ratio_jobs2"] = min(naive) / min(jobs2)
    figures.update({"work_itself": {"best": best_work, "runs": work, "per_control": per_control},
                    "recorded_cell_seconds": recorded, "export_seconds": export, "kernel": kernels,
                    "kernel_total_median": kernel_total, "load_after": load_after})
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if args.keep:
        print(f"\nkept: {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
