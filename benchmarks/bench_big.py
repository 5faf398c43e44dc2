"""Large populations end to end: a company of N grants and M review lines, its UAR and SoD controls.

Run from the repository root (``make bench`` runs it at a small size; the full figure is
``--grants 10000000 --review-lines 1000000``):

    python benchmarks/bench_big.py [--grants 200000] [--review-lines 20000]
                                   [--large-population-size 0] [--keep]

Writes Osprey Logistics (benchmarks/big_population.py; not timed), freezes its period into a run
folder, then measures, each step in a fresh process whose peak resident memory (VmHWM, from the
kernel's account of the process, read while it runs) is reported:

1. staging: each source of the two controls loaded the product's way (``ControlTest.load``: a
   source above ``large_population_size`` is kept in Parquet, batch by batch), each in a process of
   its own, with how it was read; then each control's IPE checks (``ControlTest.ipe_findings``);
2. each control's notebook cells in-process, as ``bench_controls.py`` runs them (loading reuses
   the staged files, so its figure is the analytics, sampling, testing and recording); a staged
   listing above ``--read-back-limit`` rows may not be read back into pandas there: a step that asks
   for one stops, and the benchmark says which (the large-population path must query it in DuckDB);

and whether every exception planted in the company (its ``answer_key.csv``) is in the control's
register, and each control in all: the staging of its sources and its cells (which run its IPE
checks, as a run does), the figure issue 17's target (60 s, 4 GB) is about. A step that fails is reported with the error that
stopped it, not a figure. Seconds,
peak memory and the load average beside every figure; a measurement, not a test.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import big_population  # noqa: E402
from bench_controls import PREPARE, WORK_ITSELF, environment  # noqa: E402

from workbench.populations import staged  # noqa: E402

CONTROLS = {"UAR-01": "user_access_review", "SOD-01": "segregation_of_duties"}

# One source loaded as a control loads it (argument: a source id), or one control's IPE checks
# (argument: "ipe"), in a process of its own: one JSON line.
STAGE = r"""
import json, sys, time
from workbench import procedures
run_dir, control_id, procedure, what = sys.argv[1:5]
test = procedures.procedure_class(procedure).open(run_dir, control_id)
started = time.perf_counter()
if what == "ipe":
    test.ipe_findings
    figures = {"seconds": time.perf_counter() - started,
               "read_back": [s for s, p in test.loaded.items() if getattr(p, "loaded", False)]}
else:
    population = test.load(what)
    summary = getattr(population, "summary", None)
    figures = {"seconds": time.perf_counter() - started, "rows": population.evidence.row_count,
               "bytes": population.evidence.size_bytes,
               "read": summary.converted if summary is not None else "in memory (below the threshold)"}
print(json.dumps(figures))
"""


def peak_mib(pid: int) -> float | None:
    """The peak resident memory (VmHWM) of a running process, in MiB; None once it has ended."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def measured(command: list[str], env: dict[str, str]) -> tuple[int, str, str, float, float]:
    """Run a process: (exit code, stdout, stderr, wall seconds, peak resident MiB of that process, its
    VmHWM read every 50 ms while it runs)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        peak = 0.0
        while process.poll() is None:
            peak = max(peak, peak_mib(process.pid) or 0.0)
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return (process.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                seconds, peak)


def planted_found(run_dir: Path, answer_key: Path, control_id: str) -> tuple[int, int, int]:
    """(planted, found, other exceptions) for one control: planted rows are matched on rule and subject."""
    with open(answer_key, newline="", encoding="utf-8") as handle:
        planted = {(r["rule"], r["subject"], r["system"]) for r in csv.DictReader(handle) if r["control_id"] == control_id}
    register = run_dir / control_id / "exceptions.csv"
    with open(register, newline="", encoding="utf-8") as handle:
        found = {(r["rule"], r["subject"], r["system"]) for r in csv.DictReader(handle)}
    return len(planted), len(planted & found), len(found - planted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grants", type=int, default=200_000)
    parser.add_argument("--review-lines", type=int, default=20_000)
    parser.add_argument("--large-population-size", default="0",
                        help="the period file's large_population_size (default 0: every listing kept in Parquet; "
                             "'256 MiB' is the product's default)")
    parser.add_argument("--read-back-limit", type=int, default=2_000_000,
                        help="the most rows a staged listing may be read back into pandas in the control runs "
                             "(above it the step stops and says which table it asked for)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the company and its run folder")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="workbench-bench-big-"))
    try:
        started = time.perf_counter()
        company = base / "osprey"
        counts = big_population.write_company(company, args.grants, args.review_lines, args.seed)
        period_file = company / "osprey-2026-Q3.yaml"
        with open(period_file, "a", encoding="utf-8") as handle:
            handle.write(f"large_population_size: {args.large_population_size}\n")
        print(f"Osprey Logistics: {counts['grants']:,} grants ({counts['erp_grants']:,} ERP, {counts['app_grants']:,} "
              f"application), {counts['review_lines']:,} review lines, {counts['workers']:,} workers; written in "
              f"{time.perf_counter() - started:.1f} s (not timed); large_population_size: {args.large_population_size}; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        env = environment(ROOT / "src")
        code, out, err, seconds, _ = measured([sys.executable, "-c", PREPARE, str(period_file), str(base / "out")], env)
        if code:
            raise SystemExit(f"preparing the run failed:\n{err[-3000:]}")
        run_dir = Path(out.strip().splitlines()[-1])
        print(f"run folder prepared (inputs frozen and hashed) in {seconds:.1f} s; load average {os.getloadavg()[0]:.2f}")

        print("staging, each source in a process of its own (ControlTest.load), then each control's IPE checks:")
        seen: set[str] = set()
        steps: dict[str, tuple[float, float]] = {}   # source id or "ipe CONTROL" -> (wall seconds, peak MiB)
        control_sources: dict[str, list[str]] = {}
        for control_id, procedure in CONTROLS.items():
            sources = yaml.safe_load(period_file.read_text(encoding="utf-8"))
            control = next(c for c in sources["controls"] if c["id"] == control_id)
            ids = [i for ref in control["sources"].values() for i in ([ref] if isinstance(ref, str) else ref)]
            control_sources[control_id] = list(dict.fromkeys(ids))
            for what in [*(i for i in ids if i not in seen), "ipe"]:
                seen.add(what)
                code, out, err, seconds, peak = measured(
                    [sys.executable, "-c", STAGE, str(run_dir), control_id, procedure, what], env)
                load = os.getloadavg()[0]
                label = f"IPE checks of {control_id}" if what == "ipe" else what
                if code:
                    reason = (err.strip().splitlines() or ["(no message)"])[-1]
                    print(f"  {label}: STOPPED after {seconds:.1f} s, peak {peak:,.0f} MiB: {reason[:600]}")
                    return
                steps[f"ipe {control_id}" if what == "ipe" else what] = (seconds, peak)
                f = json.loads(out.strip().splitlines()[-1])
                detail = (f"read back into pandas: {', '.join(f['read_back']) or 'nothing'}" if what == "ipe" else
                          f"{f['rows']:>12,} rows {f['bytes'] / 2**20:9,.1f} MiB  {f['read']}")
                print(f"  {label:26} {f['seconds']:7.1f} s ({seconds:6.1f} s wall)  peak {peak:7,.0f} MiB  {detail}  "
                      f"load average {load:.2f}", flush=True)

        env[staged.READ_BACK_LIMIT_VARIABLE] = str(args.read_back_limit)
        for control_id, procedure in CONTROLS.items():
            (run_dir / control_id).mkdir(exist_ok=True)
            notebook = ROOT / "src" / "workbench" / "notebooks" / f"{procedure}.ipynb"
            code, out, err, seconds, peak = measured(
                [sys.executable, "-c", WORK_ITSELF, str(run_dir), control_id, str(notebook), ""], env)
            load = os.getloadavg()[0]
            if code:
                reason = (err.strip().splitlines() or ["(no message)"])[-1]
                print(f"{control_id} ({procedure}): STOPPED after {seconds:.1f} s wall, peak {peak:,.0f} MiB, load "
                      f"average {load:.2f}: {reason[:600]}")
                continue
            work = json.loads(out.strip().splitlines()[-1])["seconds"]
            planted, found, other = planted_found(run_dir, company / "answer_key.csv", control_id)
            print(f"{control_id} ({procedure}): {seconds:.1f} s wall ({work:.1f} s in its cells), peak {peak:,.0f} MiB; "
                  f"planted exceptions found {found}/{planted}"
                  + ("" if found == planted else "  MISSING SOME") + f", other exceptions {other}; "
                  f"load average {load:.2f}", flush=True)
            # the cells run the IPE checks again (the population section shows them): a run pays them once, in
            # the cells; the separate IPE figure above says what they cost of it
            parts = [steps[s] for s in control_sources[control_id]] + [(seconds, peak)]
            print(f"{control_id} in all (staging of its {len(control_sources[control_id])} sources, each in a process of "
                  f"its own, + its cells, which run its IPE checks): {sum(p[0] for p in parts):.1f} s wall, the largest "
                  f"peak {max(p[1] for p in parts):,.0f} MiB (target: 60 s, 4,096 MiB); load average {load:.2f}",
                  flush=True)
        if args.keep:
            print(f"kept: {base}")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
