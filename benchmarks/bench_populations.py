"""Time loading and validating large grants populations (CSV and Parquet), and a DuckDB aggregate.

Run from the repository root:

    python benchmarks/bench_populations.py --sizes 1e5,1e6,1e7 [--dir /tmp/bench] [--keep]

For each size it generates a grants-shaped file (``system, account_id, login, email, entitlement,
granted_at, removed_at, privileged``; 10 grants per account, 200 entitlements, 10% removed) as CSV
(ISO 8601 ``Z`` timestamps, ``true``/``false``, no quoting) and as Parquet (typed timestamp and
boolean columns). Generation is not timed. Then, each in a fresh Python process so that neither
imports nor caches of one measurement leak into another:

- ``load_source("mapped", file, options={"table": "grants", "columns": ...})``: read, trim,
  casefold, parse and check every value, check the key for duplicates, build the evidence.
  Every CSV takes the Arrow path (``FAST_PATH_BYTES`` is 0); ``--fast`` declares it.
- a population-wide DuckDB query straight on the Parquet file: grants per entitlement and the
  number of distinct logins.
- the reading path alone (``formats._load_table``: the CSV into text columns with its line
  numbers, rejected rows and SHA-256) against pyarrow's own ``read_csv`` (every column as text;
  and with type inference) and DuckDB's ``read_csv`` (``all_varchar``) on the same file, with the
  ratios and the load average (target: the reader within 2x of pyarrow's ``read_csv``).

Reported per run: wall seconds of the measured call (imports excluded), peak resident memory of
the process (``VmHWM``) and the resident memory after imports. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("system", "account_id", "login", "email", "entitlement", "granted_at", "removed_at",
           "privileged")


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def user_and_system_seconds() -> tuple[float, float]:
    """User and system CPU time of this process so far (all threads), apart: on this shared machine
    the kernel's share (page faults, memory zeroing) swings far more between runs than the user time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def rss_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (VmHWM = peak, VmRSS = now), MiB."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


# --------------------------------------------------------------------------------------------
# Generation (not timed)
# --------------------------------------------------------------------------------------------

def generate(rows: int, folder: Path) -> tuple[Path, Path]:
    """Write grants_<rows>.csv and grants_<rows>.parquet; vectorised with Arrow, no Python loop."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pv
    import pyarrow.parquet as pq

    i = np.arange(rows, dtype=np.int64)
    account = i // 10
    number = pc.utf8_lpad(pc.cast(pa.array(account), pa.string()), 8, "0")
    systems = pa.array(["ledgerline_erp", "aws_prod", "github", "okta"])
    roles = pa.array([f"Role {k:03d} - Function" for k in range(200)])
    granted = (np.datetime64("2020-01-01T00:00:00", "s")
               + ((i * 7919) % (6 * 365 * 86400)).astype("timedelta64[s]"))
    removed = np.where(i % 10 == 0, granted + np.timedelta64(30 * 86400, "s"),
                       np.datetime64("NaT", "s"))
    utc = pa.timestamp("us", "UTC")
    table = pa.table({
        "system": pc.take(systems, pa.array(account % 4)),
        "account_id": pc.binary_join_element_wise("U", number, ""),
        "login": pc.binary_join_element_wise("user", number, ""),
        "email": pc.binary_join_element_wise("User", number, "@HarborLane.example", ""),
        "entitlement": pc.take(roles, pa.array((account * 3 + i % 10) % 200)),
        "granted_at": pa.array(granted.astype("datetime64[us]"), pa.timestamp("us")).cast(utc),
        "removed_at": pa.array(removed.astype("datetime64[us]"), pa.timestamp("us"),
                               from_pandas=True).cast(utc),
        "privileged": pa.array(i % 200 == 0),
    })
    parquet = folder / f"grants_{rows}.parquet"
    pq.write_table(table, parquet)

    def iso(column: pa.ChunkedArray) -> pa.ChunkedArray:
        seconds = pc.cast(column, pa.timestamp("s", "UTC"))
        return pc.if_else(pc.is_null(seconds), "",
                          pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%SZ"))

    text = table.set_column(5, "granted_at", iso(table["granted_at"]))
    text = text.set_column(6, "removed_at", iso(text["removed_at"]))
    text = text.set_column(7, "privileged", pc.if_else(text["privileged"], "true", "false"))
    csv_path = folder / f"grants_{rows}.csv"
    pv.write_csv(text, csv_path, write_options=pv.WriteOptions(quoting_style="none"))
    return csv_path, parquet


# --------------------------------------------------------------------------------------------
# Measurements (each in a fresh process)
# --------------------------------------------------------------------------------------------

def measure_load(path: str, fast: bool) -> dict:
    sys.path.insert(0, str(ROOT / "src"))
    import workbench.populations.staged  # noqa: F401  # imported by the first read: not timed
    from workbench.populations import load_source

    baseline = rss_mb("VmRSS")
    options = {"table": "grants", "columns": {c: c for c in COLUMNS}}
    if fast and path.endswith(".csv"):
        options["fast"] = True
    cpu = cpu_seconds()
    started = time.perf_counter()
    population = load_source("mapped", Path(path), options=options,
                             extracted_at="2026-10-01T06:00:00Z")
    seconds = time.perf_counter() - started
    evidence = population.evidence
    return {"seconds": seconds, "cpu": cpu_seconds() - cpu, "peak_mb": rss_mb("VmHWM"),
            "baseline_mb": baseline,
            "rows": evidence.row_count, "read_as": evidence.file_format,
            "key_unique": evidence.key_unique, "privileged": evidence.control_totals["privileged"]}


def measure_read(path: str, how: str) -> dict:
    """Seconds to read the CSV file into a table of text columns: the workbench's one reading
    path (``formats._load_table``: the raw table with line numbers, rejections and the SHA-256),
    pyarrow's own ``read_csv`` (every column as text, and with its type inference) or DuckDB's
    ``read_csv`` (``all_varchar``, into Arrow)."""
    sys.path.insert(0, str(ROOT / "src"))
    import pyarrow as pa
    import pyarrow.csv as pv

    import workbench.populations.staged  # noqa: F401  # imported by the first read: not timed
    from workbench.populations.formats import _load_table
    from workbench.populations.options import _Options

    baseline = rss_mb("VmRSS")
    cpu = cpu_seconds()
    user, system = user_and_system_seconds()
    started = time.perf_counter()
    if how == "reader":
        table = _load_table(Path(path), Path(path).name, _Options())
        rows, read_as = len(table.lines), table.file_format
    elif how == "pyarrow-text":
        result = pv.read_csv(path, convert_options=pv.ConvertOptions(
            column_types={c: pa.string() for c in COLUMNS}, strings_can_be_null=False))
        rows, read_as = result.num_rows, "pyarrow text"
    elif how == "pyarrow":
        result = pv.read_csv(path)
        rows, read_as = result.num_rows, "pyarrow typed"
    elif how == "duckdb":
        import duckdb

        result = duckdb.connect().execute("SELECT * FROM read_csv(?, all_varchar = true, header = true)",
                                          [path]).to_arrow_table()
        rows, read_as = result.num_rows, "duckdb text"
    else:
        raise SystemExit(f"unknown reader {how}")
    seconds = time.perf_counter() - started
    user_after, system_after = user_and_system_seconds()
    return {"seconds": seconds, "cpu": cpu_seconds() - cpu, "user": user_after - user, "system": system_after - system,
            "peak_mb": rss_mb("VmHWM"), "baseline_mb": baseline, "rows": rows, "read_as": read_as}


def measure_duckdb(path: str) -> dict:
    import duckdb

    baseline = rss_mb("VmRSS")
    cpu = cpu_seconds()
    started = time.perf_counter()
    connection = duckdb.connect()
    by_entitlement = connection.execute(
        "SELECT entitlement, count(*) AS grants FROM read_parquet(?) GROUP BY entitlement "
        "ORDER BY entitlement", [path]).to_arrow_table()
    logins = connection.execute("SELECT count(DISTINCT login) FROM read_parquet(?)",
                                [path]).fetchone()[0]
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "cpu": cpu_seconds() - cpu, "peak_mb": rss_mb("VmHWM"),
            "baseline_mb": baseline, "entitlements": by_entitlement.num_rows,
            "distinct_logins": logins}


def compare_readers(csv_path: Path, rows: int, repeat: int) -> list[str]:
    """The workbench's reading path against pyarrow's and DuckDB's ``read_csv`` on the same file,
    each in a fresh process, interleaved ``repeat`` times (best kept), with the load average."""
    best: dict[str, dict] = {}
    for _ in range(repeat):
        for how in ("reader", "pyarrow-text", "pyarrow", "duckdb"):
            result = child(["--measure-read", str(csv_path), how])
            if result["rows"] != rows:
                raise SystemExit(f"{how} read {result['rows']} rows of {csv_path}, not {rows}")
            if how not in best or result["seconds"] < best[how]["seconds"]:
                best[how] = result
    lines = []
    for how, result in best.items():
        lines.append(f"{rows:>12,} {'read csv':<8} {csv_path.stat().st_size / 2**20:>8.0f} "
                     f"{how:<12} {result['seconds']:>8.2f} {result['cpu']:>7.2f} {result['peak_mb']:>8.0f} "
                     f"{result['baseline_mb']:>16.0f} {rows / result['seconds']:>12,.0f}")
        print(lines[-1], flush=True)
    reader = best["reader"]["seconds"]
    lines.append(f"{'':>12} reader / pyarrow read_csv (text) {reader / best['pyarrow-text']['seconds']:.2f}x, "
                 f"/ pyarrow (typed) {reader / best['pyarrow']['seconds']:.2f}x, / DuckDB read_csv "
                 f"{reader / best['duckdb']['seconds']:.2f}x (target: within 2x of pyarrow); in CPU seconds "
                 f"{best['reader']['cpu'] / best['pyarrow-text']['cpu']:.2f}x, "
                 f"{best['reader']['cpu'] / best['pyarrow']['cpu']:.2f}x, "
                 f"{best['reader']['cpu'] / best['duckdb']['cpu']:.2f}x; load average {os.getloadavg()[0]:.2f}")
    print(lines[-1], flush=True)
    lines.append(f"{'':>12} user / system CPU seconds: " + ", ".join(
        f"{how} {result['user']:.2f} / {result['system']:.2f}" for how, result in best.items())
        + f"; reader / pyarrow read_csv (text) in user seconds {best['reader']['user'] / best['pyarrow-text']['user']:.2f}x")
    print(lines[-1], flush=True)
    return lines


def child(args: list[str]) -> dict:
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise SystemExit(f"measurement {args} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e5,1e6,1e7",
                        help="comma-separated row counts, e.g. 1e5,1e6,1e7")
    parser.add_argument("--dir", type=Path, default=None,
                        help="folder for the generated files (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--fast", action="store_true",
                        help="force the Arrow CSV path for every CSV (default: by file size)")
    parser.add_argument("--only", choices=("csv", "parquet", "duckdb", "readers"), action="append",
                        help="measure only these (repeatable; default all)")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse grants_<rows>.* already in --dir instead of generating")
    parser.add_argument("--measure-load", help=argparse.SUPPRESS)
    parser.add_argument("--measure-duckdb", help=argparse.SUPPRESS)
    parser.add_argument("--measure-read", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each reader comparison (the best is shown; default 1)")
    args = parser.parse_args(argv)
    if args.measure_read:
        print(json.dumps(measure_read(*args.measure_read)))
        return
    if args.measure_load:
        print(json.dumps(measure_load(args.measure_load, args.fast)))
        return
    if args.measure_duckdb:
        print(json.dumps(measure_duckdb(args.measure_duckdb)))
        return

    sizes = [int(float(s)) for s in args.sizes.split(",") if s.strip()]
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench_populations_"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPU(s); files in {folder}")
    header = (f"{'rows':>12} {'format':<8} {'file MB':>8} {'read as':<12} {'wall s':>8} "
              f"{'CPU s':>7} {'peak MB':>8} {'after import MB':>16} {'rows/s':>12}")
    lines = []
    try:
        for rows in sizes:
            csv_path = folder / f"grants_{rows}.csv"
            parquet = folder / f"grants_{rows}.parquet"
            if not (args.reuse and csv_path.exists() and parquet.exists()):
                started = time.perf_counter()
                csv_path, parquet = generate(rows, folder)
                print(f"generated {rows:,} rows in {time.perf_counter() - started:.1f} s "
                      "(not counted)", flush=True)
            only = set(args.only or ("csv", "parquet", "duckdb", "readers"))
            if "readers" in only:
                lines += compare_readers(csv_path, rows, args.repeat)
            for label, path in (("csv", csv_path), ("parquet", parquet)):
                if label not in only:
                    continue
                extra = ["--fast"] if args.fast else []
                result = child(["--measure-load", str(path), *extra])
                if result["rows"] != rows or not result["key_unique"]:
                    raise SystemExit(f"unexpected result for {path}: {result}")
                lines.append(
                    f"{rows:>12,} {label:<8} {path.stat().st_size / 2**20:>8.0f} "
                    f"{result['read_as']:<12} {result['seconds']:>8.2f} {result['cpu']:>7.2f} "
                    f"{result['peak_mb']:>8.0f} {result['baseline_mb']:>16.0f} "
                    f"{rows / result['seconds']:>12,.0f}")
                print(lines[-1], flush=True)
            if "duckdb" in only:
                result = child(["--measure-duckdb", str(parquet)])
                lines.append(
                    f"{rows:>12,} {'duckdb':<8} {parquet.stat().st_size / 2**20:>8.0f} "
                    f"{'aggregate':<12} {result['seconds']:>8.2f} {result['cpu']:>7.2f} "
                    f"{result['peak_mb']:>8.0f} {result['baseline_mb']:>16.0f} "
                    f"{rows / result['seconds']:>12,.0f}")
                print(lines[-1], flush=True)
            if not args.keep:
                csv_path.unlink(missing_ok=True)
                parquet.unlink(missing_ok=True)
    finally:
        if not args.keep and args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    print()
    print(header)
    print("\n".join(lines))
    print("\ncsv/parquet: load_source('mapped', table=grants) = read + validate + evidence, in a "
          "fresh process (imports excluded);\nduckdb: grants per entitlement + count(DISTINCT "
          "login) straight on the Parquet file.\nwall s: elapsed; CPU s: user+system of all "
          "threads (steadier than wall on a shared machine);\npeak MB: VmHWM of the measuring "
          "process (includes the 'after import' MB).")


if __name__ == "__main__":
    main()
