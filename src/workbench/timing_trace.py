"""An opt-in timeline of a period run, for finding where its wall-clock time goes.

With ``WORKBENCH_TIMING_TRACE=FILE`` in the environment, the runner appends one JSON line per event
to FILE: the time (``time.time()``, seconds), the process, its CPU seconds so far and the thread, the event's name and its
fields (the control, the cell). Read with ``benchmarks/bench_run.py --timeline FILE`` or any JSON
lines tool: when each slot's kernel was asked for, was ready, ran each cell, and was done, and
where the slots sat idle. Without the variable nothing is written and ``mark`` costs one lookup.

Not evidence: nothing of it reaches a workpaper, the manifest or the run folder.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

#: The environment variable naming the trace file.
TRACE_VARIABLE = "WORKBENCH_TIMING_TRACE"
_lock = threading.Lock()


def trace_file() -> str | None:
    """The trace file the environment names, or None (no trace)."""
    return os.environ.get(TRACE_VARIABLE) or None


def mark(event: str, **fields: Any) -> None:
    """Append ``event`` with ``fields`` to the trace file, if one is named (one line, appended whole)."""
    path = trace_file()
    if path is None:
        return
    line = json.dumps({"t": round(time.time(), 4), "pid": os.getpid(), "thread": threading.current_thread().name,
                       "cpu_process": round(time.process_time(), 3), "event": event, **fields}, default=str) + "\n"
    with _lock, open(path, "a", encoding="utf-8") as file:
        file.write(line)


def read(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The events of a trace file, in the order written."""
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def summarise(events: list[dict[str, Any]]) -> dict[str, Any]:
    """What a run's trace says: seconds from the start of each stage, when the zygote was ready,
    each slot's controls (begin, end) with the seconds it sat idle between the first control's
    begin and the last control's end, and the kernels forked, reaped and their CPU seconds.

    Slots are the runner's control threads (``workbench-control-N``); times are seconds after the
    first event.
    """
    if not events:
        return {"stages": {}, "zygote_ready": None, "slots": {}, "kernels": {"forked": 0, "reaped": 0, "cpu": 0.0}}
    start = events[0]["t"]
    stages = {e["step"]: round(e["t"] - start, 3) for e in events if e["event"] == "stage"}
    ready = next((round(e["t"] - start, 3) for e in events if e["event"] == "zygote-ready"), None)
    slots: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event["event"] == "control-begin":
            slots.setdefault(event["thread"], []).append({"control": event["control"], "begin": event["t"] - start})
        elif event["event"] == "control-end" and slots.get(event["thread"]):
            slots[event["thread"]][-1]["end"] = event["t"] - start
    first = min((c["begin"] for runs in slots.values() for c in runs), default=0.0)
    last = max((c.get("end", c["begin"]) for runs in slots.values() for c in runs), default=0.0)
    summary_slots = {}
    for thread, runs in sorted(slots.items()):
        busy = sum(c.get("end", c["begin"]) - c["begin"] for c in runs)
        summary_slots[thread] = {"controls": [(c["control"], round(c["begin"], 3), round(c.get("end", c["begin"]), 3))
                                              for c in runs], "idle": round((last - first) - busy, 3)}
    reaped = [e["cpu"] for e in events if e["event"] == "kernel-reaped"]
    return {"stages": stages, "zygote_ready": ready, "slots": summary_slots,
            "kernels": {"forked": sum(1 for e in events if e["event"] == "kernel-forked"), "reaped": len(reaped),
                        "cpu": round(sum(reaped), 3)}}
