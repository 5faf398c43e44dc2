"""Byte-identical evidence: what makes two runs of an unchanged period write the same bytes.

Why: "everything is a pure function of (inputs, parameters, seed)" should be checkable with a hash.
Left alone, the stack writes the time of the run into results: papermill and nbclient stamp every
cell with start and end times, papermill gives the cell it injects a random id and records the
absolute path of the executed notebook (which names the run), and openpyxl stamps the workbook's
document properties and every member of its zip archive with the time it was saved. Those are
removed or fixed here. Time-of-run belongs in the manifest's run metadata only.

What still differs between two runs of an unchanged period (``DIFFERING_FILES``): ``manifest.json``
(``run_id``, ``run_metadata`` and each control's ``seconds``), ``manifest.sig.json`` (the preparer's
signature over that manifest, so it differs with it), ``parameters.json`` (``run_id``) and
``index.html`` (the run id in its header). Workpapers, registers, samples and results do not carry
the run id.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

#: Files of a run that differ between two runs of an unchanged period, and what differs in them.
DIFFERING_FILES = {
    "manifest.json": ("run_id", "run_metadata", "controls[].seconds"),
    "manifest.sig.json": ("signature and signed hash: the manifest they sign differs",),
    "parameters.json": ("run_id",),
    "index.html": ("run id in the header",),
}
#: papermill's and nbclient's timing fields, in notebook and cell metadata.
TIMING_KEYS = ("start_time", "end_time", "duration")
INJECTED_CELL_ID = "injected-parameters"


def stable_notebook(notebook: Any, output_path: str) -> Any:
    """Remove run-time noise from an executed notebook (in place; returned for convenience).

    Drops papermill's start/end times and durations (notebook and cells) and nbclient's
    ``execution`` timings, records the executed notebook's path relative to the run folder and the
    source notebook by file name (absolute paths name the run and the machine), and gives cells
    that execution added (papermill's injected parameters, the runner's error cell) fixed ids.
    """
    papermill = notebook.metadata.get("papermill")
    if papermill is not None:
        for key in TIMING_KEYS:
            papermill.pop(key, None)
        if papermill.get("input_path"):
            papermill["input_path"] = str(papermill["input_path"]).replace("\\", "/").rsplit("/", 1)[-1]
        if "output_path" in papermill:
            papermill["output_path"] = output_path
    seen: set[str] = set()
    for index, cell in enumerate(notebook.cells):
        cell_papermill = cell.metadata.get("papermill")
        if cell_papermill is not None:
            for key in TIMING_KEYS:
                cell_papermill.pop(key, None)
        cell.metadata.pop("execution", None)
        if INJECTED_CELL_ID in cell.metadata.get("tags", []):
            cell["id"] = INJECTED_CELL_ID
        if "id" in cell and cell["id"] in seen:
            cell["id"] = f"cell-{index}"
        if "id" in cell:
            seen.add(cell["id"])
    return notebook


def document_time(period_end: dt.date) -> dt.datetime:
    """The fixed time stamped in generated documents' properties: the period's end, midnight UTC
    (deterministic, and meaningful: the register is as at the period end)."""
    return dt.datetime(period_end.year, period_end.month, period_end.day)


def stable_zip(data: bytes, when: dt.datetime) -> bytes:
    """A zip archive (an .xlsx) rewritten with every member stamped ``when``, in the same order and
    compression, so the same content gives the same bytes whenever it is saved."""
    stamp = (max(when.year, 1980), when.month, when.day, when.hour, when.minute, when.second)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            info = zipfile.ZipInfo(member.filename, date_time=stamp)
            info.compress_type = member.compress_type
            info.external_attr = member.external_attr
            info.create_system = 3  # Unix, whatever the machine
            target.writestr(info, source.read(member.filename))
    return out.getvalue()
