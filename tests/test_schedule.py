"""The order controls are tested in (longest first) and when they are claimed (when a slot frees)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from workbench import runner, schedule


def test_longest_first_orders_by_estimate_and_keeps_the_file_order_for_ties():
    order = schedule.longest_first(["A", "B", "C", "D"], {"A": 1.0, "B": 5.0, "C": 1.0, "D": 3.0})
    assert order == ["B", "D", "A", "C"]
    assert schedule.longest_first(["A", "B"], {}) == ["A", "B"], "no estimates: the file's order"


def test_previous_durations_are_used_only_when_the_previous_run_tested_every_control():
    manifest = {"controls": [{"control_id": "A", "seconds": 2.5}, {"control_id": "B", "seconds": 9.0}]}
    assert schedule.previous_durations(manifest, ["A", "B"]) == {"A": 2.5, "B": 9.0}
    assert schedule.previous_durations(manifest, ["A", "B", "C"]) is None, "C was not in that run"
    assert schedule.previous_durations({"controls": [{"control_id": "A", "seconds": None}]}, ["A"]) is None


def test_population_bytes_sums_each_source_a_control_reads_once():
    sources = {"UAR": {"review": "campaign", "people": ["hr", "idp"]}, "AUTH": {"accounts": "idp", "again": "idp"}}
    sizes = {"campaign": 900, "hr": 50, "idp": 30}
    assert schedule.population_bytes(sources, sizes) == {"UAR": 980.0, "AUTH": 30.0}


def test_the_plan_prefers_the_previous_run_and_falls_back_to_population_size():
    sources = {"A": {"x": "big"}, "B": {"x": "small"}}
    sizes = {"big": 1000, "small": 10}
    by_size = schedule.plan(["B", "A"], sources, sizes, None)
    assert by_size.order == ["A", "B"] and by_size.basis == "population size"
    previous = {"controls": [{"control_id": "A", "seconds": 1.0}, {"control_id": "B", "seconds": 20.0}]}
    by_run = schedule.plan(["A", "B"], sources, sizes, previous)
    assert by_run.order == ["B", "A"] and by_run.basis == "previous run"


def test_previous_manifest_reads_the_latest_complete_run(tmp_path):
    assert schedule.previous_manifest(tmp_path) is None
    (tmp_path / "20260101T000000Z").mkdir()
    (tmp_path / "20260101T000000Z" / "manifest.json").write_text('{"controls": []}')
    (tmp_path / "latest").write_text("20260101T000000Z\n")
    assert schedule.previous_manifest(tmp_path) == {"controls": []}


# The case: one long control and short ones on two slots.
DURATIONS = {"LONG": 20.0, "S1": 4.0, "S2": 4.0, "S3": 4.0, "S4": 4.0, "S5": 4.0}


def test_claiming_when_a_slot_frees_leaves_no_slot_idle_behind_a_long_control():
    order = schedule.longest_first(list(DURATIONS), DURATIONS)
    timeline = schedule.simulate(order, DURATIONS, jobs=2, claim_ahead=False)
    assert timeline.makespan == 20.0, "the short controls all run beside the long one"
    assert {timeline.runs[c][0] for c in ("S1", "S2", "S3", "S4", "S5")} == {1}


def test_claiming_ahead_makes_a_control_wait_behind_the_long_one():
    order = ["S1", "LONG", "S2", "S3", "S4", "S5"]  # the parameter file's order, claimed ahead (the old runner)
    ahead = schedule.simulate(order, DURATIONS, jobs=2, claim_ahead=True)
    when_free = schedule.simulate(order, DURATIONS, jobs=2, claim_ahead=False)
    assert ahead.makespan > when_free.makespan
    slot, start, _ = ahead.runs["S3"]  # claimed by the long control's slot as it began LONG
    assert slot == ahead.runs["LONG"][0] and start == ahead.runs["LONG"][2]


def test_under_claim_when_free_every_control_starts_as_soon_as_any_slot_is_free():
    order = ["A", "B", "C", "D", "E"]
    durations = {"A": 3.0, "B": 1.0, "C": 7.0, "D": 2.0, "E": 2.0}
    timeline = schedule.simulate(order, durations, jobs=2, claim_ahead=False)
    for control_id in order:
        _, start, _ = timeline.runs[control_id]
        earlier = [c for c in order[: order.index(control_id)]]
        ends = sorted(timeline.runs[c][2] for c in earlier)
        # a control starts at time 0 or when the earliest-ending busy slot frees, never later
        assert start == 0.0 or start in ends


class _NoKernels:
    """A kernel source that starts nothing (the fake execute_control needs no kernel)."""

    preload: list[str] = []

    def start(self):
        return None


def test_the_executors_claim_a_control_only_when_they_are_free(monkeypatch):
    """Two executors, one long control first: the other executor tests every short control."""
    ran_by: dict[str, str] = {}

    def fake_execute(context, control_id, notebook, kernel, preload, notify):
        ran_by[control_id] = threading.current_thread().name
        time.sleep(0.6 if control_id == "LONG" else 0.05)
        return runner.ControlOutcome(control_id, "completed", 0.0)

    monkeypatch.setattr(runner, "execute_control", fake_execute)
    monkeypatch.setattr(runner, "_papermill_engine", lambda: None)
    controls = runner.ControlQueue([(c, Path(f"{c}.ipynb")) for c in ("LONG", "S1", "S2", "S3", "S4")])
    executors = [runner.ControlExecutor(controls, _NoKernels()) for _ in range(2)]
    threads = [threading.Thread(target=e.run, args=(None, lambda outcome: None), name=f"slot-{i}")
               for i, e in enumerate(executors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert set(ran_by) == {"LONG", "S1", "S2", "S3", "S4"}
    assert {ran_by[c] for c in ("S1", "S2", "S3", "S4")} == {thread.name for thread in threads} - {ran_by["LONG"]}
