"""Time the DuckDB twins of the access review and SoD analytics over a listing in Parquet, against pandas.

Run from the repository root:

    python benchmarks/bench_large_analytics.py [--grants 200000] [--review-lines 20000] [--people 20000]
    python benchmarks/bench_large_analytics.py --grants 10000000 --review-lines 1000000 --people 1000000

Builds canonical tables as ``bench_analytics.py`` does (its builders, in chunks of at most a
million grants so the build stays small), writes the listing to Parquet (not timed), then in a
fresh process per measurement times each full-population operation of the access review and
segregation of duties: the DuckDB twin (``workbench.large_analytics``) over ``read_parquet`` of the
file, and the pandas analytic on the same data loaded in memory, at a size pandas can take
(``--pandas-grants``, default the smaller of ``--grants`` and 1,000,000). It prints rows, hits and
seconds of each operation, the ratio pandas / DuckDB on the same data, the peak resident memory of
each process (VmHWM) and the load average beside every figure. A measurement, not a test.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from bench_analytics import AS_OF, ROLES, build, rules  # noqa: E402

from workbench import analytics  # noqa: E402

CHUNK = 1_000_000
SNAPSHOT = pd.Timestamp("2026-09-01 23:59:59.999999", tz="UTC")
SYSTEMS = ["erp"]            # the access review's system
SOD_SYSTEMS = ["erp", "apps"]  # every system of the listing
ATTRIBUTE_RULES = [analytics.AttributeRule("ATTR-01", "payment approval", ("erp",), (ROLES[2],), "department",
                                           ("Accounts Payable", "Finance"))]
LABEL = "erp_user_roles.csv"


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}/{fifteen:.1f}"


def peak_rss_mb() -> float:
    """VmHWM of this process (its peak resident memory), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- building the data (not timed) ----------------------------------------------------------------

def decisions_of(listing: pd.DataFrame, wanted: float, rng: np.random.Generator) -> pd.DataFrame:
    """About ``wanted`` review lines for the ERP access held at the snapshot (the campaign's system):
    most as listed, some with the subject's e-mail in capitals (imprecise), a few for access the
    listing does not show; ERP access left without a line is a population gap."""
    held = listing[analytics.held_at(listing, SNAPSHOT) & listing["email"].notna() & (listing["system"] == "erp")]
    picked = held[rng.random(len(held)) < min(1.0, wanted / max(len(held), 1))]
    subject = picked["email"].astype("string")
    shouting = rng.random(len(picked)) < 0.01
    entitlement = picked["entitlement"].astype("string")
    ghost = rng.random(len(picked)) < 0.001
    return pd.DataFrame({
        "campaign_id": "Q3", "system": "erp", "subject_email": subject.where(~shouting, subject.str.upper()),
        "entitlement": entitlement.where(~ghost, "Decommissioned Role"),
        "decision": np.where(rng.random(len(picked)) < 0.01, "revoke", "approve"), "reviewer_email": "cfo@corp.example",
        "application": "ERP", "decided_at": pd.Timestamp("2026-09-10", tz="UTC"),
        "line": np.arange(len(picked), dtype="int64")}).astype(
        {c: "string" for c in ("campaign_id", "system", "subject_email", "entitlement", "decision", "reviewer_email",
                               "application")})


def write_data(folder: Path, grants: int, review_lines: int, people: int) -> dict[str, str]:
    """The listing in Parquet (built in chunks), HR, the review lines and the mitigations; their paths."""
    paths = {name: str(folder / f"{name}.parquet") for name in ("listing", "identities", "decisions", "mitigations")}
    rng = np.random.default_rng(11)
    writer, identities, parts, offset = None, None, [], 0
    for seed, size in enumerate([CHUNK] * (grants // CHUNK) + ([grants % CHUNK] if grants % CHUNK else [])):
        data = build(size, people, seed=7 + seed)
        listing = data["listing"].assign(line=np.arange(offset + 2, offset + size + 2))
        # most application roles (nine in ten grants) are another system's, outside the access review
        app = listing["entitlement"].str.extract(r"^APP-ROLE-(\d+)$")[0].astype("float")
        listing["system"] = np.where(app.isna() | (app < 40), "erp", "apps")
        offset += size
        if identities is None:
            identities = data["identities"]
            data["mitigations"].to_parquet(paths["mitigations"], index=False)
        parts.append(decisions_of(listing, review_lines * size / grants, rng))
        table = pa.Table.from_pandas(listing, preserve_index=False)
        writer = writer or pq.ParquetWriter(paths["listing"], table.schema)
        writer.write_table(table)
        del data, listing, table
    writer.close()
    identities.to_parquet(paths["identities"], index=False)
    decisions = pd.concat(parts, ignore_index=True)
    decisions.assign(line=np.arange(2, len(decisions) + 2)).to_parquet(paths["decisions"], index=False)
    return paths


# --- one measurement per process ----------------------------------------------------------------

def small_tables(paths: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    identities = pd.read_parquet(paths["identities"])
    decisions = pd.read_parquet(paths["decisions"])
    mitigations = pd.read_parquet(paths["mitigations"])
    return identities, decisions, mitigations


def measure_duckdb(paths: dict[str, str], rows: int) -> list[dict]:
    """The DuckDB twins over read_parquet of the listing (its first ``rows`` rows)."""
    import duckdb

    from workbench import large_analytics
    identities, decisions, mitigations = small_tables(paths)
    con = duckdb.connect(config={"threads": 2})
    relation = con.sql(f"SELECT * FROM read_parquet({large_analytics.quote(paths['listing'])}) "
                       f"WHERE line < {rows + 2}")
    decisions = decisions[decisions["line"] < len(decisions) * rows // _total(paths) + 2]
    results: list[dict] = []
    timed = _timer(results)
    listing = timed("correlate (distinct accounts) + join", rows, lambda: large_analytics.correlated_listing(
        con, relation, [LABEL], lambda accounts: analytics.correlate_grants(accounts, identities)))
    results[-1]["hits"] = len(listing.accounts)
    timed("review_population_gaps", rows, lambda: large_analytics.review_population_gaps(
        listing, decisions, identities, SNAPSHOT, SYSTEMS, LABEL))
    timed("review_lines_not_in_listing", len(decisions), lambda: large_analytics.review_lines_not_in_listing(
        decisions, listing, identities, SNAPSHOT, "decisions.csv"))
    held = large_analytics.sod_held(listing, SOD_SYSTEMS)
    timed("SoD accounts (sampling frame)", rows, lambda: large_analytics.sod_accounts(listing, held))
    conflicts = timed("sod_rule_conflicts", rows, lambda: large_analytics.sod_rule_conflicts(listing, held, rules()))
    timed("apply_mitigations", len(conflicts), lambda: analytics.apply_mitigations(conflicts, mitigations, AS_OF))
    timed("sod_attribute_conflicts", rows, lambda: large_analytics.sod_attribute_conflicts(
        listing, held, identities, ATTRIBUTE_RULES, LABEL))
    timed("held count + entitlement catalogue", rows, lambda: (listing.count(held),
                                                               large_analytics.held_entitlements(listing, held)))
    return results


def measure_pandas(paths: dict[str, str], rows: int) -> list[dict]:
    """The pandas analytics on the same listing rows, loaded in memory (loading not timed)."""
    identities, decisions, mitigations = small_tables(paths)
    listing = pq.read_table(paths["listing"], filters=[("line", "<", rows + 2)]).to_pandas()
    listing = listing.astype({c: "string" for c in listing.columns if listing[c].dtype == "str" and c != "listing"})
    decisions = decisions[decisions["line"] < len(decisions) * rows // _total(paths) + 2]
    results: list[dict] = []
    timed = _timer(results)
    grants = timed("correlate (distinct accounts) + join", rows, lambda: analytics.correlate_grants(listing, identities))
    results[-1]["hits"] = len(grants[["system", "login", "email"]].drop_duplicates())
    timed("review_population_gaps", rows, lambda: analytics.review_population_gaps(
        grants, decisions, identities, SNAPSHOT, SYSTEMS, LABEL))
    timed("review_lines_not_in_listing", len(decisions), lambda: analytics.review_lines_not_in_listing(
        decisions, grants, identities, SNAPSHOT, "decisions.csv"))
    held = grants[analytics.held_at_extraction(grants) & grants["system"].isin(SOD_SYSTEMS)].reset_index(drop=True)
    timed("SoD accounts (sampling frame)", rows, lambda: analytics.held_accounts(held))
    conflicts = timed("sod_rule_conflicts", rows, lambda: analytics.sod_rule_conflicts(held, rules()))
    timed("apply_mitigations", len(conflicts), lambda: analytics.apply_mitigations(conflicts, mitigations, AS_OF))
    timed("sod_attribute_conflicts", rows, lambda: analytics.sod_attribute_conflicts(
        held, identities, ATTRIBUTE_RULES, LABEL))
    timed("held count + entitlement catalogue", rows, lambda: (len(held), held[["system", "entitlement"]]
                                                               .drop_duplicates()))
    return results


def _total(paths: dict[str, str]) -> int:
    return pq.ParquetFile(paths["listing"]).metadata.num_rows


def _timer(results: list[dict]):
    def timed(name: str, rows: int, function):
        began = time.perf_counter()
        result = function()
        seconds = time.perf_counter() - began
        hits = len(result) if isinstance(result, pd.DataFrame) else 0
        results.append({"operation": name, "rows": int(rows), "hits": hits, "seconds": seconds, "load": load_text()})
        return result
    return timed


def run_phase(phase: str, paths: dict[str, str], rows: int) -> dict:
    """One measurement in a fresh process, so its peak memory is its own."""
    command = [sys.executable, __file__, "--phase", phase, "--rows", str(rows), "--paths", json.dumps(paths)]
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"the {phase} measurement at {rows:,} rows failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - began
    return result


def show(title: str, result: dict, baseline: dict | None = None) -> None:
    print(f"\n{title}: process wall {result['wall']:.1f} s (imports and reading included), peak RSS "
          f"{result['peak_rss_mb']:,.0f} MB, {result['load']}")
    base = {r["operation"]: r for r in baseline["results"]} if baseline else {}
    print(f"  {'operation':40s} {'rows':>11s} {'hits':>9s} {'seconds':>8s} {'pandas/duckdb':>13s}  load")
    for r in result["results"]:
        ratio = f"{base[r['operation']]['seconds'] / r['seconds']:.1f}x" if r["operation"] in base else ""
        print(f"  {r['operation']:40s} {r['rows']:>11,} {r['hits']:>9,} {r['seconds']:>8.2f} {ratio:>13s}  {r['load']}")
    print(f"  {'total':40s} {'':>11s} {'':>9s} {sum(r['seconds'] for r in result['results']):>8.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grants", type=int, default=200_000, help="grant rows in Parquet (default 200,000)")
    parser.add_argument("--review-lines", type=int, default=20_000, help="review lines, about (default 20,000)")
    parser.add_argument("--people", type=int, default=20_000, help="HR workers (default 20,000)")
    parser.add_argument("--pandas-grants", type=int, default=None,
                        help="rows for the pandas comparison (default: the smaller of --grants and 1,000,000)")
    parser.add_argument("--phase", choices=["duckdb", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--paths", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        paths = json.loads(args.paths)
        results = (measure_duckdb if args.phase == "duckdb" else measure_pandas)(paths, args.rows)
        print(json.dumps({"results": results, "peak_rss_mb": peak_rss_mb(), "load": load_text()}))
        return
    folder = Path(tempfile.mkdtemp(prefix="bench_large_analytics_"))
    try:
        began = time.perf_counter()
        paths = write_data(folder, args.grants, args.review_lines, args.people)
        size = Path(paths["listing"]).stat().st_size / 2 ** 20
        print(f"Wrote {args.grants:,} grants to Parquet ({size:,.0f} MB) and "
              f"{pq.ParquetFile(paths['decisions']).metadata.num_rows:,} review lines for {args.people:,} people in "
              f"{time.perf_counter() - began:.1f} s (not timed below), {load_text()}")
        small = min(args.grants, args.pandas_grants or 1_000_000)
        pandas_result = run_phase("pandas", paths, small)
        show(f"pandas, {small:,} grants in memory", pandas_result)
        show(f"DuckDB twins, the same {small:,} grants from Parquet", run_phase("duckdb", paths, small), pandas_result)
        if args.grants > small:
            show(f"DuckDB twins, all {args.grants:,} grants from Parquet", run_phase("duckdb", paths, args.grants))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
