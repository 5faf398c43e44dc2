"""The opt-in timeline of a run (``workbench.timing_trace``): written only when asked for, one event a line."""

from __future__ import annotations

import threading

from workbench import timing_trace


def test_nothing_is_written_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(timing_trace.TRACE_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    timing_trace.mark("stage", step="check")
    assert list(tmp_path.iterdir()) == []


def test_each_event_is_one_line_with_its_time_process_thread_and_fields(tmp_path, monkeypatch):
    trace = tmp_path / "trace.jsonl"
    monkeypatch.setenv(timing_trace.TRACE_VARIABLE, str(trace))
    threads = [threading.Thread(target=lambda n=n: [timing_trace.mark("cell", control=f"C-{n}", cell=i)
                                                    for i in range(50)]) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = timing_trace.read(trace)
    assert len(events) == 200
    assert {e["control"] for e in events} == {"C-0", "C-1", "C-2", "C-3"}
    assert all({"t", "pid", "thread", "cpu_process", "event"} <= set(e) for e in events)
    assert [e["cell"] for e in events if e["control"] == "C-2"] == list(range(50))
