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


def test_the_summary_gives_stages_slots_with_their_idle_time_and_the_kernels_cpu():
    def event(t, name, thread="MainThread", **fields):
        return {"t": 100.0 + t, "pid": 1, "thread": thread, "cpu_process": 0.0, "event": name, **fields}

    events = [event(0, "stage", step="start"), event(1, "stage", step="check"), event(2, "zygote-ready"),
              event(2.1, "kernel-forked", kernel=11), event(2.1, "kernel-forked", kernel=12),
              event(2.5, "control-begin", "workbench-control-1", control="A"),
              event(2.5, "control-begin", "workbench-control-2", control="B"),
              event(4.5, "control-end", "workbench-control-2", control="B"),
              event(4.6, "kernel-reaped", kernel=12, cpu=1.5),
              event(6.5, "control-end", "workbench-control-1", control="A"),
              event(6.6, "kernel-reaped", kernel=11, cpu=3.0), event(7, "stage", step="publishing")]
    summary = timing_trace.summarise(events)
    assert summary["stages"] == {"start": 0.0, "check": 1.0, "publishing": 7.0}
    assert summary["zygote_ready"] == 2.0
    assert summary["slots"]["workbench-control-1"] == {"controls": [("A", 2.5, 6.5)], "idle": 0.0}
    assert summary["slots"]["workbench-control-2"] == {"controls": [("B", 2.5, 4.5)], "idle": 2.0}
    assert summary["kernels"] == {"forked": 2, "reaped": 2, "cpu": 4.5}
    assert timing_trace.summarise([])["slots"] == {}
