"""Time a period run end to end against the naive pipeline, today's cold-kernel runner and the work itself.

Run from the repository root (``make bench`` does):

    python benchmarks/bench_run.py [--controls 6] [--repeat 3] [--employees 300] [--skip-naive] [--json FILE]

It builds the demo company in a temporary project and takes the demo period's controls; when the
period has fewer than ``--controls`` controls, copies of its controls (new ids, same procedure) are
added so the figures are for that many controls. Then, each measurement in fresh processes and
interleaved (every kind of run meets the same load on a shared machine):

(a) the naive pipeline: freeze the inputs, then for each control one after another the
    ``papermill`` command line (same parameters, the control's folder as working folder) and
    ``jupyter nbconvert --to html`` on its output;
(b) ``workbench run --kernels cold --jobs 2``: a new kernel per control that imports everything
    (the runner before warm kernels), and ``workbench run`` with warm kernels (each forked from a
    process that imported the notebooks' libraries once: ``workbench.kernel_zygote``) with
    ``--jobs 2`` and ``--jobs 1``; everything (validation, freezing, kernels, workpapers, index,
    register, manifest), checking every workpaper completed;
(c) the work itself: each notebook's code cells executed by IPython in a fresh Python process
    without a kernel, after the notebooks' imports (sum over controls); also the HTML export
    in-process;
(d) the kernel cost per control of a cold kernel: start it and wait until it answers, import what
    the control's notebook imports, stop it (first round only).

Wall-clock seconds (median and best of ``--repeat`` runs) and CPU seconds (the run and all its
processes), each run with the 1-minute load average when it ended: the machine may be shared, so
the ratios between kinds of run measured in the same rounds are the figures to read. Targets (issue
17): naive / warm ``--jobs 2`` at least 6; warm ``--jobs 2`` within 1.5 x the work itself; cold /
warm (``--jobs 2``) at least 2. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
BIN = Path(sys.executable).parent
PARAMETER_FILE = "demo-2026-Q3.yaml"

import yaml  # noqa: E402

from workbench import demo, runner  # noqa: E402

NOTEBOOKS = runner.notebooks_folder()

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


def children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process of this one and their children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Measured:
    """One run of one kind: wall-clock and CPU seconds, and the load average when it ended."""

    wall: float
    cpu: float
    load: float


def measured(action: Callable[[], Any]) -> tuple[Measured, Any]:
    """Run ``action`` (which runs child processes) and measure it."""
    cpu = children_cpu()
    seconds, result = timed(action)
    return Measured(seconds, children_cpu() - cpu, os.getloadavg()[0]), result


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
        notebook = NOTEBOOKS / f"{control['procedure']}.ipynb"
        executed = folder / "workpaper.ipynb"
        run([str(BIN / "papermill"), str(notebook), str(executed), "-p", "run_dir", str(run_dir),
             "-p", "control_id", control["id"], "--cwd", str(folder), "-k", "python3", "--no-progress-bar",
             "--log-level", "ERROR"])
        run([str(BIN / "jupyter"), "nbconvert", "--to", "html", str(executed), "--log-level", "ERROR"])
    return time.perf_counter() - started


def workbench_run(parameter_file: Path, out: Path, jobs: int, kernels: str = "warm") -> Path:
    """(b) ``workbench run --jobs N --kernels K``; every workpaper must complete."""
    keys = {"WORKBENCH_KEYS_DIR": os.environ.get("WORKBENCH_KEYS_DIR") or str(out / "keys")}  # not the user's keys
    run([str(BIN / "workbench"), "run", str(parameter_file), "--out", str(out), "--jobs", str(jobs),
         "--kernels", kernels], env={**os.environ, **keys})
    run_dir = runner.latest_run(out / "2026-Q3")
    failed = [c["control_id"] for c in json.loads((run_dir / "manifest.json").read_text())["controls"]
              if c["status"] != "completed"]
    if failed:
        raise SystemExit(f"workbench run --jobs {jobs}: failed workpapers {failed}; see {run_dir}/index.html")
    return run_dir


def same_workpapers(first: Path, second: Path) -> list[str]:
    """Files of two runs of the period that differ, other than those that always do (run id, times)."""
    from workbench import reproducible

    names = sorted({p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file()}
                   | {p.relative_to(second).as_posix() for p in second.rglob("*") if p.is_file()})
    return [name for name in names if name not in reproducible.DIFFERING_FILES
            and (not (first / name).is_file() or not (second / name).is_file()
                 or (first / name).read_bytes() != (second / name).read_bytes())]


def work_itself(parameter_file: Path, controls: list[dict[str, Any]], out: Path,
                preloads: dict[str, list[str]]) -> dict[str, float]:
    """(c) Seconds of each control's cells executed without a kernel, its imports already done."""
    run_dir = prepare(parameter_file, out)
    seconds = {}
    for control in controls:
        (run_dir / control["id"]).mkdir(exist_ok=True)
        notebook = NOTEBOOKS / f"{control['procedure']}.ipynb"
        completed = run([sys.executable, "-c", WORK_ITSELF, str(run_dir), control["id"], str(notebook),
                         json.dumps(preloads[control["procedure"]])])
        seconds[control["id"]] = json.loads(completed.stdout.strip().splitlines()[-1])
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


def summary(runs: list[Measured]) -> str:
    """Median and best wall-clock seconds, median CPU seconds, and each run with its load average."""
    walls = [r.wall for r in runs]
    return (f"{statistics.median(walls):7.2f} s {min(walls):7.2f} s {statistics.median(r.cpu for r in runs):7.1f} s   "
            + ", ".join(f"{r.wall:.1f} s (load {r.load:.1f})" for r in runs))


def ratio(numerator: list[Measured], denominator: list[Measured]) -> tuple[float, float]:
    """Median to median, and the median of the per-round ratios (same round, same load)."""
    medians = statistics.median(r.wall for r in numerator) / statistics.median(r.wall for r in denominator)
    rounds = statistics.median(n.wall / d.wall for n, d in zip(numerator, denominator, strict=False))
    return medians, rounds


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
    preloads = {c["procedure"]: runner.preload_modules([NOTEBOOKS / f"{c['procedure']}.ipynb"]) for c in controls}
    cores = os.cpu_count() or 1
    print(f"Period run benchmark: {n} controls ({', '.join(c['id'] + '=' + c['procedure'] for c in controls)}), "
          f"{cores} cores, demo company of {args.employees} employees, {args.repeat} round(s)")
    print(f"load average before: {os.getloadavg()[0]:.2f} (a shared machine makes every figure slower)\n")

    kinds = {"naive": "(a) naive: papermill CLI + jupyter nbconvert CLI, in turn",
             "cold2": "(b) workbench run --kernels cold --jobs 2 (cold kernels)",
             "warm2": "    workbench run --jobs 2 (warm kernels)",
             "warm1": "    workbench run --jobs 1 (warm kernels)",
             "work": "(c) work itself: the cells in-process, no kernel (sum)"}
    if args.skip_naive:
        del kinds["naive"]
    figures: dict[str, Any] = {"controls": n, "cores": cores, "repeat": args.repeat}
    runs: dict[str, list[Measured]] = {kind: [] for kind in kinds}
    work_runs, kernels, differing = [], [], []
    for i in range(args.repeat):  # interleaved rounds: whatever else the machine does weighs on every kind alike
        if "naive" in kinds:
            runs["naive"].append(measured(functools.partial(naive_pipeline, parameter_file, controls,
                                                            base / f"naive-{i}"))[0])
        result, cold_dir = measured(functools.partial(workbench_run, parameter_file, base / f"cold2-{i}", 2, "cold"))
        runs["cold2"].append(result)
        result, warm_dir = measured(functools.partial(workbench_run, parameter_file, base / f"warm2-{i}", 2))
        runs["warm2"].append(result)
        runs["warm1"].append(measured(functools.partial(workbench_run, parameter_file, base / f"warm1-{i}", 1))[0])
        differing += same_workpapers(cold_dir, warm_dir)
        cpu = children_cpu()
        per_control = work_itself(parameter_file, controls, base / f"work-{i}", preloads)
        work_runs.append(per_control)
        runs["work"].append(Measured(sum(per_control.values()), children_cpu() - cpu, os.getloadavg()[0]))
        if i == 0:
            kernels = [kernel_cost(preloads[c["procedure"]]) for c in controls]
        print(f"round {i + 1}: " + ", ".join(f"{kind} {r[-1].wall:.1f} s" for kind, r in runs.items())
              + f" (load {os.getloadavg()[0]:.1f})", flush=True)
    export = export_seconds(runner.latest_run(base / "warm1-0" / "2026-Q3"))

    print(f"\n{'':60} {'median':>9} {'best':>9} {'CPU med':>9}   (runs, load average at their end)")
    for kind, label in kinds.items():
        print(f"{label:60} {summary(runs[kind])}")
    per_control = {cid: round(statistics.median(r[cid] for r in work_runs), 2) for cid in work_runs[0]}
    print(f"      work itself per control (median): {per_control}")
    print("      (c) CPU is each control's whole process, imports included; its wall figure is the cells only")
    print(f"    HTML export of the {n} workpapers in one process: {export:.2f} s")
    print(f"(d) a cold kernel per control, median: {statistics.median(k['total'] for k in kernels):.2f} s = start "
          f"{statistics.median(k['start'] for k in kernels):.2f} s + imports "
          f"{statistics.median(k['imports'] for k in kernels):.2f} s + stop {statistics.median(k['stop'] for k in kernels):.2f} s")
    print("warm and cold runs wrote the same workpapers byte for byte" if not differing
          else f"WARNING: warm and cold runs differ in {sorted(set(differing))}")
    print(f"load average after: {os.getloadavg()[0]:.2f}\n")

    targets = [("cold2", "warm2", "cold kernels / warm kernels, --jobs 2", "at least 2x"),
               ("warm2", "work", "warm --jobs 2 / the work itself", "at most 1.5x"),
               ("warm1", "warm2", "warm --jobs 1 / warm --jobs 2", "")]
    if "naive" in runs:
        targets[:0] = [("naive", "warm2", "naive / warm --jobs 2", "at least 6x"),
                       ("naive", "cold2", "naive / cold --jobs 2", "")]
    for numerator, denominator, label, target in targets:
        medians, rounds = ratio(runs[numerator], runs[denominator])
        print(f"{label:42} {medians:5.2f}x median to median, {rounds:5.2f}x per round"
              + (f"   (target: {target})" if target else ""))
        figures[f"{numerator}/{denominator}"] = {"medians": medians, "per_round": rounds}
    figures.update({kind: [asdict(r) for r in measured_runs] for kind, measured_runs in runs.items()})
    figures.update({"work_per_control": per_control, "export_seconds": export, "kernel": kernels,
                    "differing_files": sorted(set(differing)), "load_after": os.getloadavg()[0]})
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if args.keep:
        print(f"\nkept: {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
