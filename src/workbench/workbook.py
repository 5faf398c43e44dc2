"""``exceptions.xlsx`` as a working file: the register an auditor filters, edits and hands back.

What the workbook holds:

- **Exceptions** (the sheet an auditor edits), **SOC 2 view** and **SOX view**: each an Excel table
  (filter buttons, banded rows) with headers in words ("Exception ID", "Status", "Due date"), dates
  as real dates (date cells with a ``yyyy-mm-dd`` format, so they sort and filter as dates), the age
  as a number, a link to each exception's row in its workpaper (a relative path such as
  ``UAR-01/workpaper.html#EX-UAR01-4123A9A82E``, which works wherever the run folder is opened; a
  record that matches no finding of this run: to the workpaper's section 6, ``#6.-Exceptions``), long
  text wrapped, the header row and the id column frozen, and print setup for the binder (landscape,
  one page wide, header row repeated on every page). On the Exceptions sheet the status is a
  drop-down list of the register's statuses and the due date must be a date.
- Other sheets given (the SOX deficiency worksheet) as plain tables.
- **Exported values**, a hidden sheet: for every exception, where its record is kept in the
  remediation file (a carried exception is recorded under its first id) and the values of the
  editable columns as shown and as recorded when the workbook was written. ``workbench records
  import`` compares the auditor's edits with the first and the remediation file as it is now with
  the second, so a value changed in the file since the workbook was produced is never overwritten
  without saying so (:mod:`workbench.records`).

Every value is data, never a formula (text that would start a formula keeps Excel's quote prefix),
and the workbook's document dates and zip time stamps are the period end, so the same register
gives the same bytes (:mod:`workbench.reproducible`).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench import reproducible, runfolder
from workbench.exceptions import STATUSES, RemediationRecord, neutralised

if TYPE_CHECKING:  # openpyxl is imported where a workbook is written or read (about 0.1 s): a kernel reads none
    from openpyxl.workbook.workbook import Workbook
    from openpyxl.worksheet.worksheet import Worksheet


@dataclass(frozen=True)
class Column:
    """One column of the register sheets: its register key, its header in words and how it is shown."""

    key: str
    header: str
    kind: str = "text"  # "text", "date", "number" or "link"
    width: int = 14
    editable: bool = False
    wrap: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("exception_id", "Exception ID", width=22),
    Column("control_id", "Control", width=11),
    Column("rule", "Rule", width=24),
    Column("subject", "Subject", width=28),
    Column("system", "System", width=14),
    Column("framework", "Framework", width=14),
    Column("severity", "Severity", width=9),
    Column("status", "Status", width=14, editable=True),
    Column("owner", "Owner", width=20, editable=True, wrap=True),
    Column("due_date", "Due date", "date", width=11, editable=True),
    Column("age_days", "Age (days open at period end)", "number", width=10),
    Column("first_seen", "First seen", "date", width=11),
    Column("root_cause", "Root cause", width=36, editable=True, wrap=True),
    Column("remediation_action", "Remediation action", width=36, editable=True, wrap=True),
    Column("management_response", "Management response", width=40, editable=True, wrap=True),
    Column("accepted_risk_approver", "Accepted risk approver", width=18, editable=True, wrap=True),
    Column("accepted_risk_expiry", "Accepted risk expiry", "date", width=11, editable=True),
    Column("description", "Description", width=50, wrap=True),
    Column("workpaper", "Workpaper", "link", width=18),
    Column("evidence_reference", "Evidence reference", width=30, wrap=True),
    Column("retest", "Retest", width=24, wrap=True),
    Column("history", "History", width=50, wrap=True),
    Column("in_current_run", "Found in this run", width=9),
    Column("origin", "Origin", width=10),
    Column("period", "Period", width=9),
    Column("finding_key", "Finding key", width=22),
)
EDITABLE: tuple[str, ...] = tuple(c.key for c in COLUMNS if c.editable)
DATE_FIELDS = frozenset(c.key for c in COLUMNS if c.kind == "date")
HEADERS: dict[str, str] = {c.key: c.header for c in COLUMNS}
EDIT_SHEET = "Exceptions"
VIEW_SHEETS = {"SOC 2 view": "SOC 2", "SOX view": "SOX"}  # sheet -> framework it shows
TABLE_NAMES = {"Exceptions": "Exceptions", "SOC 2 view": "SOC2View", "SOX view": "SOXView"}
EXPORTED_SHEET = "Exported values"
IDENTITY = ("exception_id", "record_id", "period", "finding_key", "control_id", "rule", "subject", "system",
            "framework", "severity")
DATE_FORMAT = "yyyy-mm-dd"
#: The workpaper section that lists a control's exceptions (its heading's anchor, as nbconvert writes it).
WORKPAPER_SECTION = "6. Exceptions"


class WorkbookError(ValueError):
    """A workbook that cannot be read back, said in the auditor's words."""


def workpaper_link(control_id: str, exception_id: str | None = None) -> str:
    """The relative link from the run folder to an exception's row in its control's workpaper
    (``UAR-01/workpaper.html#EX-UAR01-4123A9A82E``, :mod:`workbench.referencing`); without an id (a
    record that matches no finding of this run, so no row), to the exceptions section
    (``UAR-01/workpaper.html#6.-Exceptions``)."""
    return f"{control_id}/workpaper.html#{exception_id or WORKPAPER_SECTION.strip().replace(' ', '-')}"


def _row_link(row: Mapping[str, Any]) -> str | None:
    """A register row's workpaper link: to its own row when this run found it, else to section 6."""
    control = text(row.get("control_id"))
    if not control:
        return None
    found = text(row.get("in_current_run")) != "no"
    return workpaper_link(control, text(row.get("exception_id")) if found else None)


def text(value: Any) -> str:
    """A cell or record value as comparable text: dates as ``2026-12-31``, whole numbers without ``.0``."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def record_ids(merged: pd.DataFrame, records: Mapping[str, RemediationRecord]) -> dict[str, str]:
    """Exception id -> the id its record is (or would be) kept under in the remediation file.

    A finding carried from an earlier period is recorded under its first id and matched by its
    finding key (as :func:`workbench.exceptions.resolve_records` matches it); every other exception
    under its own id.
    """
    current = set(merged.loc[merged["in_current_run"] == "yes", "exception_id"])
    carried = {r.finding_key: i for i, r in records.items() if r.finding_key and i not in current}
    found = {}
    for row in merged.to_dict("records"):
        exception_id = row["exception_id"]
        in_run = row["in_current_run"] == "yes"
        found[exception_id] = (exception_id if exception_id in records or not in_run
                               else carried.get(row["finding_key"], exception_id))
    return found


def _date(value: str) -> dt.date | None:
    """A register date (ISO text) as a date; None when empty or not a date."""
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _cell_value(column: Column, row: Mapping[str, Any]) -> Any:
    """What a register row puts in one column's cell (dates as dates, the age as a number)."""
    value = text(row.get(column.key))
    if column.kind == "date":
        return _date(value) or (value or None)
    if column.kind == "number":
        return int(value) if value.lstrip("-").isdigit() else (value or None)
    if column.kind == "link":
        control = text(row.get("control_id"))
        return f"{control} workpaper" if control else None
    return value or None


def _format_register_sheet(sheet: Worksheet, rows: int, links: list[str | None]) -> None:
    """Cell formats of a register sheet: date formats, links (``links``: each row's), wrapping,
    formula-like text kept as text."""
    from openpyxl.styles import Alignment

    for index, column in enumerate(COLUMNS, start=1):
        for (cell,) in sheet.iter_rows(min_row=2, max_row=rows + 1, min_col=index, max_col=index):
            if cell.value is None:
                continue
            if isinstance(cell.value, dt.date):
                cell.number_format = DATE_FORMAT
            elif isinstance(cell.value, str):
                cell.data_type = "s"
                cell.quotePrefix = neutralised(cell.value)
                if column.kind == "link":
                    cell.hyperlink = links[cell.row - 2] or workpaper_link(cell.value.removesuffix(" workpaper"))
                    cell.style = "Hyperlink"
            cell.alignment = Alignment(wrap_text=column.wrap, vertical="top")


def _page_setup(sheet: Worksheet, widths: list[int]) -> None:
    """Frozen header and id column, column widths, bold header; landscape, one page wide, header on every page."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "B2"
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"


def _add_table(sheet: Worksheet, name: str, columns: int, rows: int) -> None:
    """An Excel table (with its filter buttons) over the header and the rows (one empty row when none)."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.table import Table, TableStyleInfo

    ref = f"A1:{get_column_letter(columns)}{max(rows, 1) + 1}"
    sheet.add_table(Table(displayName=name, ref=ref, tableStyleInfo=TableStyleInfo(
        name="TableStyleMedium2", showRowStripes=True, showColumnStripes=False)))


def _add_validation(sheet: Worksheet, rows: int) -> None:
    """On the editable sheet: the status from the register's list, the due date and expiry as dates."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    last = max(rows, 1) + 1
    letter = {c.key: get_column_letter(i) for i, c in enumerate(COLUMNS, start=1)}
    status = DataValidation(type="list", formula1='"' + ",".join(STATUSES) + '"', allow_blank=True,
                            showErrorMessage=True, errorTitle="Status",
                            error="Choose a status from the list: " + ", ".join(STATUSES) + ".",
                            promptTitle="Status", prompt="Choose the exception's status from the list.")
    status.add(f"{letter['status']}2:{letter['status']}{last}")
    dates = DataValidation(type="date", operator="greaterThan", formula1="1", allow_blank=True,
                           showErrorMessage=True, errorTitle="Date", error="Enter a date, e.g. 2026-12-31.")
    for key in ("due_date", "accepted_risk_expiry"):
        dates.add(f"{letter[key]}2:{letter[key]}{last}")
    sheet.add_data_validation(status)
    sheet.add_data_validation(dates)


def _register_sheet(book: Workbook, title: str, frame: pd.DataFrame, editable: bool) -> None:
    """One register sheet (the Exceptions sheet or a framework view) as an Excel table."""
    sheet = book.create_sheet(title)
    sheet.append([c.header for c in COLUMNS])
    rows = frame.to_dict("records")
    for row in rows:
        sheet.append([_cell_value(c, row) for c in COLUMNS])
    _format_register_sheet(sheet, len(rows), [_row_link(row) for row in rows])
    _add_table(sheet, TABLE_NAMES[title], len(COLUMNS), len(rows))
    if editable:
        _add_validation(sheet, len(rows))
    _page_setup(sheet, [c.width for c in COLUMNS])


def _plain_sheet(book: Workbook, title: str, frame: pd.DataFrame, table_name: str) -> None:
    """Another sheet (e.g. the SOX deficiency worksheet) as a table of text and numbers."""
    from openpyxl.styles import Alignment

    sheet = book.create_sheet(title[:31])
    sheet.append([str(c) for c in frame.columns])
    for values in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
        sheet.append([None if v is None else v if isinstance(v, (int, float)) else str(v) for v in values])
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
                cell.quotePrefix = neutralised(cell.value)
                cell.alignment = Alignment(wrap_text=len(cell.value) > 40, vertical="top")
    if len(frame.columns):
        _add_table(sheet, table_name, len(frame.columns), len(frame))
    widths = [min(max([len(str(c))] + [len(text(v)) for v in frame[c]], default=8) + 2, 50) for c in frame.columns]
    _page_setup(sheet, widths)


def exported_values(merged: pd.DataFrame, records: Mapping[str, RemediationRecord], period: str) -> pd.DataFrame:
    """The hidden sheet's rows: each exception's record id, identity, and editable values shown and recorded."""
    ids = record_ids(merged, records)
    rows = []
    for row in merged.to_dict("records"):
        record_id = ids[row["exception_id"]]
        record = records.get(record_id, RemediationRecord())
        rows.append({"exception_id": row["exception_id"], "record_id": record_id, "period": text(row.get("period")) or period}
                    | {k: text(row.get(k)) for k in IDENTITY[3:]}
                    | {f"shown {k}": text(row.get(k)) for k in EDITABLE}
                    | {f"recorded {k}": text(getattr(record, k)) for k in EDITABLE})
    return pd.DataFrame(rows, columns=[*IDENTITY, *(f"shown {k}" for k in EDITABLE), *(f"recorded {k}" for k in EDITABLE)])


def write_register_workbook(merged: pd.DataFrame, records: Mapping[str, RemediationRecord], path: Path,
                            period: str, as_at: dt.date, other_sheets: Mapping[str, pd.DataFrame] | None = None) -> Path:
    """Write ``exceptions.xlsx``: the Exceptions sheet, the SOC 2 and SOX views, other sheets, the hidden
    exported values; byte-identical for the same register (document dates and zip stamps ``as_at``)."""
    import openpyxl
    from openpyxl.writer.excel import ExcelWriter

    when = reproducible.document_time(as_at)
    book = openpyxl.Workbook()
    book.properties.created = book.properties.modified = when
    book.properties.title = f"Exception register {period}"
    book.remove(book.active)
    _register_sheet(book, EDIT_SHEET, merged, editable=True)
    for title, framework in VIEW_SHEETS.items():
        _register_sheet(book, title, merged[merged["framework"].str.contains(framework, regex=False)], editable=False)
    for number, (title, frame) in enumerate((other_sheets or {}).items(), start=1):
        _plain_sheet(book, title, frame, f"Sheet{number}Table")
    hidden = book.create_sheet(EXPORTED_SHEET)
    exported = exported_values(merged, records, period)
    hidden.append(list(exported.columns))
    for values in exported.itertuples(index=False):
        hidden.append(list(values))
    for row in hidden.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
                cell.quotePrefix = neutralised(cell.value)
    hidden.sheet_state = "hidden"
    book.active = 0
    buffer = io.BytesIO()  # openpyxl's own save stamps the time of saving as "modified"
    ExcelWriter(book, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return runfolder.write_bytes(Path(path), reproducible.stable_zip(buffer.getvalue(), when))


# --- reading an auditor's workbook back ------------------------------------------------------------

@dataclass(frozen=True)
class EditedRow:
    """One row of the Exceptions sheet as the auditor left it: its Excel row number and editable cells."""

    row: int
    exception_id: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Exported:
    """What the hidden sheet says about one exception when the workbook was written."""

    exception_id: str
    record_id: str
    identity: dict[str, str]
    shown: dict[str, str]
    recorded: dict[str, str]


@dataclass(frozen=True)
class ReadBack:
    """A workbook read back: the edited rows, the exported values, and remarks on what was not read."""

    rows: list[EditedRow]
    exported: dict[str, Exported]
    remarks: list[str]

    @property
    def periods(self) -> set[str]:
        """The periods the exported register belongs to."""
        return {e.identity["period"] for e in self.exported.values() if e.identity.get("period")}


def _read_exported(book: Any, path: Path) -> dict[str, Exported]:
    """The hidden sheet's rows by exception id; an error when the workbook has none."""
    if EXPORTED_SHEET not in book.sheetnames:
        raise WorkbookError(f"{path.name} has no '{EXPORTED_SHEET}' sheet: only an exceptions.xlsx written by "
                            f"`workbench run` (with that hidden sheet kept) can be read back")
    rows = list(book[EXPORTED_SHEET].iter_rows(values_only=True))
    header = [text(h) for h in rows[0]] if rows else []
    found = {}
    for values in rows[1:]:
        row = dict(zip(header, (text(v) for v in values)))
        if not row.get("exception_id"):
            continue
        found[row["exception_id"]] = Exported(
            row["exception_id"], row.get("record_id") or row["exception_id"],
            {k: row.get(k, "") for k in IDENTITY},
            {k: row.get(f"shown {k}", "") for k in EDITABLE}, {k: row.get(f"recorded {k}", "") for k in EDITABLE})
    return found


def read_workbook(path: Path) -> ReadBack:
    """Read the Exceptions sheet's editable columns (found by their headers, in any order) and the hidden
    exported values of an ``exceptions.xlsx``. Rows are matched by Exception ID, so sorting and
    filtering in Excel do not matter; other sheets (the views) are not read."""
    import openpyxl

    path = Path(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise WorkbookError(f"{path} cannot be opened as an Excel workbook (.xlsx): {exc}") from None
    try:
        exported = _read_exported(book, path)
        if EDIT_SHEET not in book.sheetnames:
            raise WorkbookError(f"{path.name} has no '{EDIT_SHEET}' sheet: the register's edits are read from it")
        sheet_rows = book[EDIT_SHEET].iter_rows(values_only=True)
        header = [text(h).casefold() for h in next(sheet_rows, ())]
        by_header = {c.header.casefold(): c.key for c in COLUMNS}
        where = {by_header[h]: i for i, h in enumerate(header) if h in by_header}
        if "exception_id" not in where:
            raise WorkbookError(f"{path.name}, sheet {EDIT_SHEET}: no 'Exception ID' column in the header row; "
                                f"keep the header row as exported")
        remarks = [f"column '{HEADERS[k]}' is not in the sheet: its values are left as they are"
                   for k in EDITABLE if k not in where]
        rows, seen = [], {}
        for number, values in enumerate(sheet_rows, start=2):
            cells = list(values) + [None] * len(header)
            exception_id = text(cells[where["exception_id"]])
            if not exception_id:
                continue
            if exception_id in seen:
                raise WorkbookError(f"{path.name}, sheet {EDIT_SHEET}: exception {exception_id} is on rows "
                                    f"{seen[exception_id]} and {number}; keep one row per exception")
            seen[exception_id] = number
            if exception_id not in exported:
                remarks.append(f"row {number}: {exception_id} was not in the register as exported; the row is ignored")
                continue
            rows.append(EditedRow(number, exception_id, {k: cells[i] for k, i in where.items() if k in EDITABLE}))
        return ReadBack(rows, exported, remarks)
    finally:
        book.close()
