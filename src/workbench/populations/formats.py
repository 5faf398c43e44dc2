"""Any tabular export into a :class:`_RawTable` by its suffix: .xlsx, .parquet, otherwise CSV
(through Arrow, unless the source declares ``fast: false`` or Arrow cannot vouch for the file:
then through the ``csv`` module); legacy .xls and
JSON files are refused with what to export instead."""

from __future__ import annotations

from pathlib import Path

from .csv_exact import _read_csv_exact
from .csv_fast import _read_csv_fast
from .errors import PopulationError
from .files import _not_for, _RawTable
from .options import _Options
from .parquet import _read_parquet
from .xlsx import _read_xlsx


def _load_table(path: Path, file: str, opts: _Options) -> _RawTable:
    """Read any tabular export by its suffix: .xlsx, .parquet, otherwise CSV (or, while a large
    export is staged batch by batch, the batch at hand: :func:`.staged.preloaded`)."""
    from .staged import preloaded

    batch = preloaded(file)
    if batch is not None:
        return batch
    suffix = path.suffix.casefold()
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path, file, opts)
    if suffix in (".parquet", ".pq"):
        return _read_parquet(path, file, opts)
    if suffix in (".json", ".jsonl", ".ndjson"):
        raise PopulationError(file, "a JSON file is not read as a table (only the Okta System Log "
                                    "kind reads JSON): export the data as CSV, .xlsx or Parquet, "
                                    "one row per record.")
    if suffix == ".xls":
        raise PopulationError(file, "legacy .xls workbooks are not read; save the sheet as .xlsx "
                                    "or as CSV (UTF-8).")
    _not_for(file, opts, ("sheet",), "a CSV file (only to .xlsx)")
    delimiter = opts.delimiter
    if suffix == ".tsv" and not opts.delimiter_declared:
        delimiter = "\t"
    note = None
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise PopulationError(file, f"file not found ({path}).") from None
    fast = opts.fast if opts.fast is not None else size > _fast_path_bytes()
    if fast:
        table, why = _read_csv_fast(path, file, opts, delimiter)
        if table is not None:
            return table
        note = f"Read with the csv module rather than Arrow: {why}."
    table = _read_csv_exact(path, file, opts, delimiter)
    if note:
        table.notes.append(note)
    return table


def _fast_path_bytes() -> int:
    """:data:`FAST_PATH_BYTES` as the package holds it when a file is read: the setting is the
    package's attribute, so ``populations.FAST_PATH_BYTES = n`` takes effect on the next read."""
    from workbench import populations

    return populations.FAST_PATH_BYTES
