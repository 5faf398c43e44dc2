"""Time an audit group on a 2-worker Dask LocalCluster against the same group run one period after another.

Run from the repository root (``make bench`` does):

    python benchmarks/bench_groups.py [--entities 20] [--employees 100] [--workers 2] [--jobs 2] [--json FILE]

It writes a demo group (``workbench.demo_group``: ``--entities`` demo companies of ``--employees``
people, each with its own seed and the demo period's controls: 8 today) into a temporary folder, then, each
in a fresh process as an auditor would type it:

(a) one period after another: ``workbench run PERIOD --out ENTITY_OUT --jobs N`` for each entity;
(b) the group: ``workbench run-group GROUP.yaml --workers W`` (a LocalCluster of W worker processes,
    one control at a time each), checking every workpaper completed.

It prints the wall-clock seconds of each with the load average beside them, the ratio (a) / (b),
and the per-control, per-preparation and per-publication (worker) and per-signature (client) costs
measured in the group run (from its ``group-manifest.json``), from which ``docs/audit-groups.md`` estimates 500 entities on 50
workers. On a shared machine run it with fewer entities (``--entities 4``) and say so: the
figures are a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
WORKBENCH = str(Path(sys.executable).parent / "workbench")

from workbench import demo_group, groupfile  # noqa: E402
from workbench.parameters import load_period  # noqa: E402


def load() -> str:
    """The 1-minute load average, as printed beside every figure."""
    return f"{os.getloadavg()[0]:.2f}"


def timed_command(command: list[str], env: dict[str, str]) -> float:
    """Wall-clock seconds of a command, which must succeed (exit 0: every workpaper completed)."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return seconds


def sequential(group: groupfile.Group, jobs: int, env: dict[str, str]) -> tuple[float, list[float]]:
    """(a): ``workbench run`` for each period, one after another; total seconds and each period's."""
    each = [timed_command([WORKBENCH, "run", str(p.parameter_file), "--out", str(group.entity_out(p.entity_id) / "seq"),
                           "--jobs", str(jobs)], env) for p in group.periods]
    return sum(each), each


def costs(manifest: dict[str, Any]) -> dict[str, Any]:
    """Per-control (by control id and overall), per-preparation, per-publication (on a worker) and
    per-signature (on the client) seconds of a group run, from its ``group-manifest.json``."""
    controls = [c for p in manifest["periods"] for c in p["controls"]]
    by_control: dict[str, list[float]] = {}
    for control in controls:
        by_control.setdefault(control["control_id"], []).append(control["seconds"])
    periods = [p for p in manifest["periods"] if p["status"] == "published"]
    return {
        "control_mean": statistics.mean(c["seconds"] for c in controls),
        "control_median": statistics.median(c["seconds"] for c in controls),
        "by_control": {cid: statistics.mean(s) for cid, s in by_control.items()},
        "prepare_mean": statistics.mean(p["seconds"]["prepare"] for p in periods),
        "publish_each": [p["seconds"]["publish"] for p in periods],
        # the median: each worker's first publication also imports pandas, openpyxl and matplotlib (once per worker)
        "publish_mean": statistics.median(p["seconds"]["publish"] for p in periods),
        "sign_mean": statistics.mean(p["seconds"].get("sign", 0.0) for p in periods),
        "controls": len(controls), "controls_per_period": len(controls) / max(1, len(periods)),
        "reruns": manifest["summary"]["rerun"],
    }


def estimate(c: dict[str, Any], entities: int = 500, controls: int = 6, workers: int = 50) -> dict[str, float]:
    """Paper estimate for a big group: the workers' work (preparations, controls and publications)
    spread over the workers, and the client's signatures, one at a time while the workers work.
    The group takes the longer of the two, plus the last period's publication and signature."""
    work = entities * (c["prepare_mean"] + controls * c["control_mean"] + c["publish_mean"])
    on_workers = work / workers
    on_client = entities * c["sign_mean"]
    return {"worker_seconds": work, "on_workers": on_workers, "on_client": on_client,
            "estimate": max(on_workers, on_client) + c["publish_mean"] + c["sign_mean"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=20)
    parser.add_argument("--employees", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2, help="--jobs of each sequential `workbench run`")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-groups-") as scratch:
        base = Path(scratch)
        group = groupfile.load_group(demo_group.write_demo_group(base, entities=args.entities, employees=args.employees))
        env = dict(os.environ, WORKBENCH_KEYS_DIR=str(base / "keys"))
        env.pop("WORKBENCH_SIGNING_KEY", None)
        controls = len(load_period(group.periods[0].parameter_file).controls)
        print(f"Group of {args.entities} entities x {controls} controls ({args.employees} employees each); "
              f"{os.cpu_count()} cores; load average before: {load()}")
        load_a = load()
        seq_total, seq_each = sequential(group, args.jobs, env)
        print(f"(a) one period after another (workbench run --jobs {args.jobs}): {seq_total:.1f} s "
              f"({statistics.mean(seq_each):.1f} s per period) [load {load_a} -> {load()}]")
        load_b = load()
        group_total = timed_command([WORKBENCH, "run-group", str(group.path), "--workers", str(args.workers)], env)
        print(f"(b) workbench run-group on a {args.workers}-worker LocalCluster: {group_total:.1f} s "
              f"[load {load_b} -> {load()}]")
        print(f"ratio (a) / (b): {seq_total / group_total:.2f}")
        manifest = json.loads((group.out_dir / (group.out_dir / "latest").read_text().strip()
                               / "group-manifest.json").read_text())
        c = costs(manifest)
        print(f"measured in (b): {c['controls']} controls ({c['controls_per_period']:.0f} per period), mean "
              f"{c['control_mean']:.2f} s (median {c['control_median']:.2f} s) per control on a worker (kernel from "
              f"the worker's warm factory; by control: " + ", ".join(f"{k} {v:.1f} s" for k, v in c["by_control"].items())
              + f"); preparation {c['prepare_mean']:.2f} s per period on a worker; publication "
              f"{c['publish_mean']:.2f} s per period on a worker (median; each: "
              + ", ".join(f"{s:.1f}" for s in c["publish_each"]) + f" s); signing and completing "
              f"{c['sign_mean'] * 1000:.0f} ms per period on the client; {c['reruns']} re-run(s) [load {load()}]")
        e = estimate(c, controls=round(c["controls_per_period"]))
        print(f"paper estimate, 500 entities x {round(c['controls_per_period'])} controls on 50 workers: "
              f"{e['worker_seconds'] / 3600:.1f} worker-hours -> {e['on_workers'] / 60:.1f} min on the workers; "
              f"{e['on_client'] / 60:.1f} min of signing on the client; about {e['estimate'] / 60:.1f} min in all "
              "(see docs/audit-groups.md)")
        if args.json:
            args.json.write_text(json.dumps({"entities": args.entities, "sequential": seq_total, "group": group_total,
                                             "costs": c, "estimate": e, "load": load()}, indent=2))


if __name__ == "__main__":
    main()
