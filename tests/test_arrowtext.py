"""Casefolding text whose Arrow chunks do not start at offset 0, as pyarrow's Parquet reader gives them.

pyarrow 26's ``ascii_lower`` returns an invalid array for such a chunk; ``_fold_arrow`` must still give
exactly ``str.casefold`` of every value, as a valid array (found on a 10-million-row Parquet export).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.populations import load_source
from workbench.populations.arrowtext import _fold_arrow, _offsets_from_zero


def _chunk_not_from_zero(values: list[str], kind: pa.DataType) -> pa.Array:
    """The second half of ``values`` as an array whose offsets start mid-buffer (offset attribute 0)."""
    whole = pa.array(values, kind)
    width = np.int64 if pa.types.is_large_string(kind) else np.int32
    offsets = np.frombuffer(whole.buffers()[1], dtype=width)
    half = len(values) // 2
    chunk = pa.Array.from_buffers(kind, len(values) - half,
                                  [None, pa.py_buffer(offsets[half:].copy().tobytes()), whole.buffers()[2]])
    chunk.validate(full=True)
    return chunk


def test_ascii_text_in_a_chunk_not_starting_at_zero_folds_to_a_valid_array() -> None:
    values = [f"J.Doe{i:05d}@Example.COM" for i in range(400)]
    for kind in (pa.string(), pa.large_string()):
        folded = _fold_arrow(pa.chunked_array([_chunk_not_from_zero(values, kind)]))
        folded.validate(full=True)
        assert folded.to_pylist() == [v.casefold() for v in values[200:]]


def test_chunks_already_from_zero_are_left_as_they_are() -> None:
    values = pa.chunked_array([pa.array(["a", "B"], pa.large_string()), pa.array(["C"], pa.large_string())])
    assert _offsets_from_zero(values) is values


def test_parquet_export_of_several_read_batches_keeps_its_logins(tmp_path: Path) -> None:
    # more rows than one Arrow read batch (131,072), in one row group: chunks share a data buffer
    rows = 300_000
    logins = pa.array([f"USER{i:06d}" for i in range(rows)], pa.string())
    table = pa.table({"system": pa.array(["erp"] * rows), "account_id": logins, "login": logins,
                      "entitlement": pa.array([f"ROLE{i % 7}" for i in range(rows)])})
    path = tmp_path / "erp_roles.parquet"
    pq.write_table(table, path, row_group_size=rows)
    population = load_source("mapped", path, options={"table": "grants", "columns": {
        "system": "system", "account_id": "account_id", "login": "login", "entitlement": "entitlement"}},
        extracted_at="2026-10-01T06:00:00Z")
    login = population.frame["login"]
    assert login.iloc[0] == "user000000"
    assert login.iloc[rows - 1] == f"user{rows - 1:06d}"
    assert (login.str.len() == 10).all()
