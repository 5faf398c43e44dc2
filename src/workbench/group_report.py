"""What a group run leaves in its folder: ``group-manifest.json`` and the group index ``index.html``.

Why a module of its own: the reports are pure functions of what happened to every entity × period
× control (``PeriodReport``), so they are tested without a cluster, and the orchestration
(``workbench.groups``) stays about scheduling. The manifest records, per entity and period, the
run id and folder, where it was prepared, and for every control its result and links, the worker
(address, host, process id) that tested it and every attempt, including one lost with its worker.
The index shows every entity × control with its result, linked to the workpapers. Both are written
atomically (``runfolder``); the folder layout is relative, so the group folder can be moved whole.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePath
from typing import Any

from workbench import __version__, runfolder, workpapers

MANIFEST = "group-manifest.json"
INDEX = "index.html"
#: Period states: published (a complete run), not usable (its period file or exports were refused,
#: nothing tested), not published (tested, but publishing the run failed).
PUBLISHED, NOT_USABLE, NOT_PUBLISHED = "published", "not usable", "not published"


@dataclass(frozen=True)
class Attempt:
    """One attempt at a control: the worker, its host and process, when, and how it ended."""

    worker: str
    host: str
    pid: int
    started_at: str
    state: str  # "finished", or "lost" (the worker ended while testing the control)
    finished_at: str | None = None
    status: str | None = None  # the workpaper's status when finished


@dataclass
class ControlReport:
    """One control of one period: its result and where it was tested (the final attempt's worker)."""

    control_id: str
    title: str
    status: str
    conclusions: list[str]
    exception_count: int
    error: str | None
    seconds: float
    worker: str | None
    host: str | None
    pid: int | None
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def rerun(self) -> bool:
        """Whether the control was tested more than once (a lost worker's control re-run elsewhere)."""
        return len(self.attempts) > 1


@dataclass
class PeriodReport:
    """One entity's period in the group: where its run is and how every control went."""

    entity_id: str
    entity_name: str
    period_id: str
    parameter_file: str
    status: str  # PUBLISHED, NOT_USABLE or NOT_PUBLISHED
    problem: str | None = None
    run_id: str | None = None
    run_dir: PurePath | None = None  # a folder, or ``bucket/prefix/...`` of a run in object storage
    prepared_on: dict[str, Any] | None = None
    controls: list[ControlReport] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # "prepare", "publish" (on workers), "sign" (the client)

    @property
    def failed_controls(self) -> list[str]:
        """Controls whose workpaper failed."""
        return [c.control_id for c in self.controls if c.status != "completed"]


def relative_link(target: PurePath, group_dir: PurePath) -> str:
    """A link from the group run's folder to ``target`` (POSIX, relative: the folder can move)."""
    return Path(os.path.relpath(target, group_dir)).as_posix()


def _period_document(report: PeriodReport, group_dir: Path) -> dict[str, Any]:
    """One entity × period of the manifest."""
    run = report.run_dir
    return {
        "entity": report.entity_id, "entity_name": report.entity_name, "period": report.period_id,
        "parameter_file": report.parameter_file, "status": report.status, "problem": report.problem,
        "run_id": report.run_id, "run_dir": relative_link(run, group_dir) if run else None,
        "index": relative_link(run / "index.html", group_dir) if run else None,
        "prepared_on": report.prepared_on, "seconds": report.seconds,
        "controls": [{
            "control_id": c.control_id, "title": c.title, "status": c.status, "conclusions": c.conclusions,
            "exception_count": c.exception_count, "error": c.error, "seconds": c.seconds,
            "workpaper": relative_link(run / c.control_id / "workpaper.html", group_dir) if run else None,
            "worker": c.worker, "host": c.host, "pid": c.pid,
            "attempt_count": len(c.attempts), "attempts": [asdict(a) for a in c.attempts],
        } for c in report.controls],
    }


def summary(reports: list[PeriodReport]) -> dict[str, int]:
    """Counts for the manifest and the last lines of ``workbench run-group``."""
    controls = [c for r in reports for c in r.controls]
    return {
        "periods": len(reports), "published": sum(r.status == PUBLISHED for r in reports),
        "not_usable": sum(r.status == NOT_USABLE for r in reports),
        "not_published": sum(r.status == NOT_PUBLISHED for r in reports),
        "controls": len(controls), "completed": sum(c.status == "completed" for c in controls),
        "failed": sum(c.status != "completed" for c in controls), "rerun": sum(c.rerun for c in controls),
    }


def manifest_document(name: str, group_file: Path, group_run_id: str, group_dir: Path, reports: list[PeriodReport],
                      run_metadata: dict[str, Any]) -> dict[str, Any]:
    """The group manifest: every entity × period × control with its result, worker and attempts.

    Periods are in the group file's order and controls in each period file's order; times, worker
    addresses and process ids are run metadata (they differ between two runs of the same group).
    """
    return {
        "group": name, "group_file": str(group_file), "group_run_id": group_run_id, "workbench_version": __version__,
        "summary": summary(reports), "periods": [_period_document(r, group_dir) for r in reports],
        "run_metadata": run_metadata,
    }


def _cell(report: PeriodReport, control: ControlReport, group_dir: Path) -> dict[str, Any]:
    """One entity × control cell of the index."""
    link = relative_link(report.run_dir / control.control_id / "workpaper.html", group_dir) if report.run_dir else None
    result = "; ".join(control.conclusions) if control.status == "completed" else f"Failed: {control.error or ''}"
    return {"status": control.status, "result": result, "exceptions": control.exception_count, "link": link,
            "worker": control.worker or "", "attempts": len(control.attempts)}


def index_document(name: str, group_run_id: str, group_dir: Path, reports: list[PeriodReport],
                   run_metadata: dict[str, Any]) -> dict[str, Any]:
    """What the group index shows: a row per entity × period, a column per control id (in order of
    first appearance), and the counts."""
    control_ids = list(dict.fromkeys(c.control_id for r in reports for c in r.controls))
    rows = []
    for report in reports:
        by_id = {c.control_id: _cell(report, c, group_dir) for c in report.controls}
        rows.append({
            "entity_id": report.entity_id, "entity_name": report.entity_name, "period_id": report.period_id,
            "status": report.status, "problem": report.problem or "", "run_id": report.run_id or "",
            "index": relative_link(report.run_dir / "index.html", group_dir) if report.run_dir else None,
            "cells": [by_id.get(cid) for cid in control_ids],
        })
    return {"group": name, "group_run_id": group_run_id, "control_ids": control_ids, "rows": rows,
            "summary": summary(reports), "started_at": run_metadata.get("started_at", ""),
            "cluster": run_metadata.get("cluster", "")}


def render_index(document: dict[str, Any]) -> str:
    """The group index as HTML (every value escaped by Jinja's autoescape; no script, no request)."""
    import jinja2

    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(str(workpapers.TEMPLATES)), autoescape=True,
                                     undefined=jinja2.StrictUndefined)
    return environment.get_template("group_index.html.j2").render(css=workpapers.stylesheet(), version=__version__,
                                                                  **document)


def write_reports(group_dir: Path, name: str, group_file: Path, group_run_id: str, reports: list[PeriodReport],
                  run_metadata: dict[str, Any], links_from: PurePath | None = None) -> tuple[Path, Path]:
    """Write ``group-manifest.json`` and ``index.html`` into the group run's folder (atomically each).

    ``links_from``: where the reports will be read from, when not ``group_dir`` (a group in object
    storage: the reports are written here, then uploaded beside the runs they link to)."""
    base = links_from if links_from is not None else group_dir
    manifest = manifest_document(name, group_file, group_run_id, base, reports, run_metadata)
    runfolder.write_text(group_dir / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    runfolder.write_text(group_dir / INDEX, render_index(index_document(name, group_run_id, base, reports,
                                                                        run_metadata)))
    return group_dir / MANIFEST, group_dir / INDEX


def now_utc() -> str:
    """The current UTC time to the second (run metadata only)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
