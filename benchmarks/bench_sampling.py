"""Time a reproducible random selection from a large population of string keys.

Run from the repository root:

    python benchmarks/bench_sampling.py [--rows 10000000] [--n 250] [--repeat 3]

Builds keys "GRANT-000000000", "GRANT-000000001", ... (plus one integer column), then times
``workbench.sampling.select(..., n, method="random")``: key validation, uniqueness check, SHA-256
of every key in DuckDB, ranking and joining the selected rows back. Prints the row count, the
best and each timing, and the process's peak resident memory. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

from workbench.sampling import SELECTION_ALGORITHM, select  # noqa: E402


def build_population(rows: int) -> pd.DataFrame:
    """A grants table of ``rows`` unique keys "GRANT-%09d" built with Arrow (fast, no Python loop)."""
    numbers = pc.cast(pa.array(np.arange(rows, dtype=np.int64)), pa.string())
    keys = pc.binary_join_element_wise("GRANT-", pc.utf8_lpad(numbers, 9, "0"), "")
    return pd.DataFrame({"grant_id": keys.to_pandas(), "account": np.arange(rows, dtype=np.int64) % 50_000})


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="population size (default 10,000,000)")
    parser.add_argument("--n", type=int, default=250, help="sample size (default 250)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (default 3)")
    parser.add_argument("--seed", default="20261126", help="selection seed")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    population = build_population(args.rows)
    built = time.perf_counter() - started
    rss_after_build = peak_rss_mb()

    timings, first = [], None
    for _ in range(args.repeat):
        started = time.perf_counter()
        sample = select(population, args.n, method="random", seed=args.seed, key="grant_id")
        timings.append(time.perf_counter() - started)
        first = sample if first is None else first
        assert sample["grant_id"].tolist() == first["grant_id"].tolist(), "selection is not reproducible"

    print(f"algorithm          {SELECTION_ALGORITHM}")
    print(f"rows               {args.rows:,}")
    print(f"sample size        {args.n}")
    print(f"build population   {built:.2f} s")
    print(f"select (best)      {min(timings):.2f} s")
    print(f"select (all runs)  {', '.join(f'{t:.2f}' for t in timings)} s")
    print(f"peak RSS           {peak_rss_mb():,.0f} MiB (after building the population: {rss_after_build:,.0f} MiB)")
    print(f"first selected     {', '.join(first['grant_id'].head(3))}")


if __name__ == "__main__":
    main()
