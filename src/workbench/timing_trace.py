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
