"""Worksheets of .xlsx workbooks through openpyxl (read-only; formulas read as their text, never
evaluated; whole numbers without '.0'; dates and times in ISO 8601)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from pathlib import Path
from typing import Any

import numpy as np

from .errors import PopulationError, RejectedRow
from .files import _not_for, _RawTable, _read_bytes, _text_column
from .options import _Options


def _cell_text(cell: Any) -> str:
    """An .xlsx cell as text: formulas as written (never evaluated), text as stored, whole
    numbers without '.0' (zero-padded when the cell's number format is all zeros, e.g. 000000),
    dates and times in ISO 8601."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not (value.is_integer() and abs(value) < 1e15):
            return repr(value)
        text = str(int(value))
        number_format = getattr(cell, "number_format", "") or ""
        if re.fullmatch(r"0+", number_format) and not text.startswith("-"):
            text = text.zfill(len(number_format))
        return text
    if isinstance(value, dt.datetime):
        if value.tzinfo is None and value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    text = getattr(value, "text", None)  # ArrayFormula: the formula as written
    return str(text if text is not None else value)


def _read_xlsx(path: Path, file: str, opts: _Options) -> _RawTable:
    """A worksheet of an .xlsx workbook through openpyxl (read-only, formulas not evaluated)."""
    import openpyxl

    _not_for(file, opts, ("delimiter", "encoding", "fast"), "an .xlsx file")
    data = _read_bytes(path, file)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises zipfile, KeyError, InvalidFileException...
        raise PopulationError(file, f"cannot open the workbook ({type(exc).__name__}: {exc}); "
                                    "is it an .xlsx file?") from None
    notes: list[str] = []
    try:
        names = book.sheetnames
        sheet = opts.sheet
        if sheet is None:
            sheet_name = book.worksheets[0].title
            if len(names) > 1:
                notes.append(f"Read worksheet '{sheet_name}', the first of {len(names)}: "
                             f"{', '.join(names)}.")
        elif isinstance(sheet, int):
            if sheet > len(names):
                raise PopulationError(file, f"reader option sheet is {sheet} but the workbook "
                                            f"has {len(names)} sheet(s): {', '.join(names)}.")
            sheet_name = names[sheet - 1]
        else:
            if sheet not in names:
                raise PopulationError(file, f"reader option sheet names {sheet!r}, which is not "
                                            f"in the workbook; sheets: {', '.join(names)}.")
            sheet_name = sheet
        label = f"{file} [sheet '{sheet_name}']"
        worksheet = book[sheet_name]
        if hasattr(worksheet, "reset_dimensions"):
            worksheet.reset_dimensions()
        preamble: list[str] = []
        rejected: list[RejectedRow] = []
        header: list[str] | None = None
        header_line: int | None = None
        records: list[list[str]] = []
        starts: list[int] = []
        pending: list[int] = []
        number = 0
        for cells in worksheet.iter_rows():
            number = cells[0].row if cells and getattr(cells[0], "row", None) else number + 1
            values = [_cell_text(cell) for cell in cells]
            if number <= opts.preamble_lines:
                preamble.append(" | ".join(v for v in values if v.strip()))
                continue
            if not any(v.strip() for v in values):
                (pending if header is not None else rejected).append(
                    number if header is not None else RejectedRow(number, "blank row"))
                continue
            if header is None:
                while values and not values[-1].strip():
                    values.pop()
                header = [v.replace("\ufeff", "").strip() for v in values]
                header_line = number
                continue
            rejected += [RejectedRow(b, "blank row") for b in pending]
            pending = []
            width = len(header)
            extra = [i for i, v in enumerate(values[width:], start=width) if v.strip()]
            if extra:
                raise PopulationError(
                    label, f"the row has a value in column {extra[0] + 1} beyond the header's "
                           f"{width} columns; values are never shifted to fit.", row=number,
                    unit="row")
            records.append((values + [""] * width)[:width])
            starts.append(number)
        if pending:
            notes.append(f"{len(pending)} empty row(s) after the last record (rows {pending[0]}"
                         f"-{pending[-1]}) ignored.")
    finally:
        book.close()
    if header is None:
        raise PopulationError(label, "the worksheet is empty: no header row.")
    columns = ([_text_column(values) for values in zip(*records)] if records
               else [_text_column([]) for _ in header])
    return _RawTable(
        file=label, header=header, header_line=header_line, columns=columns,
        lines=np.asarray(starts, dtype="int64"), sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data), file_format=f"xlsx (sheet '{sheet_name}')", rejected=rejected,
        notes=notes, preamble=tuple(preamble), unit="row")
