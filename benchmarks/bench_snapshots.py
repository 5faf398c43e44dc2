"""Time the snapshot comparison and the proof of removal on two large listings of one system.

Run from the repository root:

    python benchmarks/bench_snapshots.py [--grants 200000] [--revokes 10000] [--repeat 1]

Builds two listings of one system the way the readers return them (``login``, ``entitlement``,
``account_status``, ``line``): the later one without a share of the earlier rows (removals, among
them the revoked access), with some new rows and some changed statuses; a revoke decision per
``--revokes`` line and a remediation log covering half of them. Then times the comparison and
reconciliation (:mod:`workbench.snapshots`), the proof of removal and the unexplained removals
(:mod:`workbench.removals`), and prints rows, results and seconds, and the peak resident memory.
A measurement, not a test.
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

from workbench import removals, snapshots  # noqa: E402

ROLES = np.array(["Read Only", "AP Clerk", "AP Manager", "GL Accountant", "Purchasing", "Admin"])


def listings(grants: int, revokes: int, seed: int = 7) -> tuple[snapshots.Snapshot, snapshots.Snapshot, pd.DataFrame,
                                                                  pd.DataFrame]:
    """The earlier and later snapshot, the revoke decisions and the remediation log."""
    rng = np.random.default_rng(seed)
    logins = np.array([f"user{i:06d}" for i in range(grants // 3 + 1)])
    frame = pd.DataFrame({"login": rng.choice(logins, grants), "entitlement": rng.choice(ROLES, grants)})
    frame = frame.drop_duplicates(ignore_index=True)
    frame["person_email"] = frame["login"] + "@example.com"
    frame["account_status"] = "active"
    frame["line"] = np.arange(2, len(frame) + 2)
    frame["system"] = "erp"
    removed = rng.random(len(frame)) < 0.05
    revoked = frame[removed].head(revokes)
    later = frame[~removed].copy()
    later.loc[later.sample(frac=0.01, random_state=seed).index, "account_status"] = "locked"
    added = frame.sample(n=len(frame) // 50, random_state=seed + 1).assign(entitlement="New Role")
    later = pd.concat([later, added], ignore_index=True).drop_duplicates(["login", "entitlement"])
    later["line"] = np.arange(2, len(later) + 2)
    decided = pd.Timestamp("2026-09-01 10:00", tz="UTC")
    decisions = pd.DataFrame({"system": "erp", "subject_email": revoked["person_email"].to_numpy(),
                              "entitlement": revoked["entitlement"].to_numpy(), "decided_at": decided,
                              "line": np.arange(2, len(revoked) + 2)})
    half = revoked.head(len(revoked) // 2)
    log = pd.DataFrame({"system": "erp", "subjects": [frozenset({p}) for p in half["person_email"]],
                        "entitlement": half["entitlement"].to_numpy(), "action": "remove",
                        "completed_at": decided + pd.Timedelta(hours=20), "ticket": "SCTASK", "performed_by": "ops",
                        "label": "log.csv", "line": np.arange(2, len(half) + 2)})
    before = snapshots.Snapshot("a", "before.csv", "mapped", "erp", pd.Timestamp("2026-08-31", tz="UTC"), frame)
    after = snapshots.Snapshot("b", "after.csv", "mapped", "erp", pd.Timestamp("2026-09-30", tz="UTC"), later)
    return before, after, decisions, log


def timed(label: str, action):
    start = time.perf_counter()
    result = action()
    print(f"{label:<34} {time.perf_counter() - start:8.2f} s   {len(result):>9,} rows")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grants", type=int, default=200_000)
    parser.add_argument("--revokes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    before, after, decisions, log = listings(args.grants, args.revokes)
    print(f"listings: {len(before.frame):,} and {len(after.frame):,} rows; {len(decisions):,} revoke decisions; "
          f"log {len(log):,} rows")
    for _ in range(args.repeat):
        timed("compare (added/removed/changed)", lambda: snapshots.compare(before, after))
        timed("reconcile", lambda: snapshots.reconcile([before, after]))
        proofs = timed("prove revocations", lambda: removals.prove_revocations(decisions, [before, after], log, 5,
                                                                              "uar.csv"))
        print("  outcomes:", proofs["outcome"].value_counts().to_dict())
        timed("unexplained removals", lambda: removals.unexplained_removals([before, after], decisions, log, {},
                                                                             ["erp"]))
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


if __name__ == "__main__":
    main()
