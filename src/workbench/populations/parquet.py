"""Parquet exports through pyarrow: typed columns are kept (no text round trip); nested
columns are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .contract import _TEXT
from .errors import PopulationError
from .files import _not_for, _RawTable
from .hashing import _HashJob
from .options import _Options

_NESTED = (pa.types.is_list, pa.types.is_large_list, pa.types.is_struct, pa.types.is_map,
           pa.types.is_fixed_size_list, pa.types.is_union)


def _read_parquet(path: Path, file: str, opts: _Options) -> _RawTable:
    """A Parquet file through pyarrow; typed columns are kept (no text round trip)."""
    import pyarrow.parquet as pq

    _not_for(file, opts, ("delimiter", "preamble_lines", "encoding", "fast", "sheet"),
             "a Parquet file")
    if not path.is_file():
        raise PopulationError(file, f"file not found ({path}).")
    job = _HashJob(path)
    try:
        schema = pq.read_schema(path)
        # text straight into large_string (what pandas stores): no second copy of every value
        wanted = pa.schema([f.with_type(_TEXT) if pa.types.is_string(f.type) else f
                            for f in schema])
        table = pq.read_table(path, schema=wanted)
    except (pa.ArrowException, OSError) as exc:
        job.result(file)
        raise PopulationError(file, f"cannot read the Parquet file ({exc}).") from None
    job.result(file)
    columns = _flat_columns(table, file)
    rows = table.num_rows
    return _RawTable(
        file=file, header=[str(n).strip() for n in table.column_names], header_line=None,
        columns=columns, lines=np.arange(1, rows + 1, dtype="int64"), sha256=job.sha256,
        size_bytes=job.size, file_format="parquet", unit="row")


def _flat_columns(table: pa.Table, file: str) -> list[pa.ChunkedArray]:
    """The columns of a Parquet table as the readers take them: dictionaries decoded, bytes and
    string views as text; nested columns refused naming the column."""
    columns: list[pa.ChunkedArray] = []
    for name, column in zip(table.column_names, table.columns):
        kind = column.type
        if pa.types.is_dictionary(kind):
            column, kind = pc.cast(column, kind.value_type), kind.value_type
        if any(test(kind) for test in _NESTED):
            raise PopulationError(file, f"column '{name}' holds {kind} values; only flat columns "
                                        "(text, numbers, booleans, dates, timestamps) are read.")
        if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            try:
                column = pc.cast(column, _TEXT)
            except pa.ArrowInvalid:
                raise PopulationError(file, f"column '{name}' holds bytes that are not UTF-8 "
                                            "text.") from None
        if pa.types.is_string_view(kind):
            column = pc.cast(column, _TEXT)
        columns.append(column)
    return columns
