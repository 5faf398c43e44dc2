"""The order in which a period's controls are tested: longest first, each claimed when a slot frees.

Why: with ``--jobs`` slots, the run lasts as long as its busiest slot. Handing the longest controls
out first and letting a slot take its next control only when it has finished its current one (not
when it begins it) keeps every slot busy until the queue is empty; a slot that claimed ahead sat
idle 13-26 s behind the longest control of the demo period (issue 17).

How long a control will take is estimated from what the workbench already knows, in this order:

1. the seconds each control took in the period's previous complete run (``latest``'s manifest),
   when that run tested every control to be tested now: the best predictor, since it is the same
   procedure on a population of about the same size;
2. otherwise the size in bytes of the frozen exports each control reads (its ``sources``), a proxy
   for its population size, which is what a procedure's work grows with.

Ties keep the parameter file's order, so the order is a pure function of the estimates. The order
only changes when controls run, never what they produce: outcomes, the index and the manifest list
controls in the parameter file's order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def longest_first(control_ids: list[str], estimates: Mapping[str, float]) -> list[str]:
    """The controls ordered by estimated duration, longest first; ties (and controls without an
    estimate, taken as 0) in the order given."""
    position = {control_id: i for i, control_id in enumerate(control_ids)}
    return sorted(control_ids, key=lambda c: (-float(estimates.get(c, 0.0)), position[c]))


def previous_durations(manifest: Mapping[str, Any], control_ids: Iterable[str]) -> dict[str, float] | None:
    """Each control's seconds as a previous run's manifest recorded them, or None unless that run
    tested every one of ``control_ids`` (estimates of two kinds cannot be compared)."""
    recorded = {c.get("control_id"): c.get("seconds") for c in manifest.get("controls", []) if isinstance(c, dict)}
    durations = {}
    for control_id in control_ids:
        seconds = recorded.get(control_id)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            return None
        durations[control_id] = float(seconds)
    return durations


def population_bytes(control_sources: Mapping[str, Mapping[str, str | list[str]]],
                     source_bytes: Mapping[str, int]) -> dict[str, float]:
    """Each control's estimate from its population: the bytes of the exports it reads.

    ``control_sources`` maps a control to its ``sources`` (role -> source id or ids);
    ``source_bytes`` a source id to its file's size.
    """
    estimates = {}
    for control_id, roles in control_sources.items():
        ids = [s for value in roles.values() for s in ([value] if isinstance(value, str) else value)]
        estimates[control_id] = float(sum(source_bytes.get(source_id, 0) for source_id in dict.fromkeys(ids)))
    return estimates


def previous_manifest(period_dir: Path) -> dict[str, Any] | None:
    """The manifest of the period's latest complete run, or None (no run yet, or unreadable)."""
    try:
        run_name = (period_dir / "latest").read_text(encoding="utf-8").strip()
        document = json.loads((period_dir / run_name / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


@dataclass(frozen=True)
class Plan:
    """The order controls are handed out in, and what the estimates were based on."""

    order: list[str]
    basis: str  # "previous run" or "population size"
    estimates: dict[str, float]


def plan(control_ids: list[str], control_sources: Mapping[str, Mapping[str, str | list[str]]],
         source_bytes: Mapping[str, int], manifest: Mapping[str, Any] | None) -> Plan:
    """Longest first by the previous run's durations when it tested every control, else by the
    bytes each control reads."""
    durations = previous_durations(manifest, control_ids) if manifest else None
    if durations is not None:
        return Plan(longest_first(control_ids, durations), "previous run", durations)
    sizes = population_bytes({c: control_sources.get(c, {}) for c in control_ids}, source_bytes)
    return Plan(longest_first(control_ids, sizes), "population size", sizes)


# --- the claiming policy, as a pure model ------------------------------------------------------

@dataclass(frozen=True)
class Timeline:
    """When each control ran under a claiming policy: (slot, start, end) per control, and the end."""

    runs: dict[str, tuple[int, float, float]]
    makespan: float


def simulate(order: list[str], durations: Mapping[str, float], jobs: int, claim_ahead: bool) -> Timeline:
    """The timeline of testing ``order`` on ``jobs`` slots (each control taking ``durations``).

    ``claim_ahead=False`` is the runner's policy: a slot claims the next control when it finishes its
    current one. ``claim_ahead=True`` was the old one: a slot claims its next control when it
    begins one, so that control waits for that slot even if another slot frees first.
    """
    free_at = [0.0] * max(1, jobs)
    runs: dict[str, tuple[int, float, float]] = {}
    queue = list(order)
    if claim_ahead:
        claimed: list[list[str]] = [[] for _ in free_at]
        for slot in range(len(free_at)):  # each slot claims its first control, and the one after it
            if queue:
                claimed[slot].append(queue.pop(0))
        while any(claimed):
            slot = min((s for s in range(len(free_at)) if claimed[s]), key=lambda s: (free_at[s], s))
            control_id = claimed[slot].pop(0)
            if queue:  # claims the next one as it begins this one
                claimed[slot].append(queue.pop(0))
            start = free_at[slot]
            free_at[slot] = start + durations[control_id]
            runs[control_id] = (slot, start, free_at[slot])
    else:
        for control_id in queue:
            slot = min(range(len(free_at)), key=lambda s: (free_at[s], s))
            start = free_at[slot]
            free_at[slot] = start + durations[control_id]
            runs[control_id] = (slot, start, free_at[slot])
    return Timeline(runs, max(free_at))
