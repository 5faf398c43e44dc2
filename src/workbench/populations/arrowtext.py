"""Small helpers for text in Arrow and pandas: Arrow masks as numpy, Arrow text as pandas
``string`` Series and back without copies, empty values as nulls, casefolding and trimming
exactly as ``str.casefold`` and ``str.strip`` do, any flat column as text."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .contract import _TEXT


def _np(mask: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An Arrow boolean result as a numpy bool array (null -> False)."""
    return pc.fill_null(mask, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _chunked(values: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])


def _string_series(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    """Arrow text as a pandas ``string`` Series (Arrow-backed: no copy for large_string)."""
    values = _chunked(values)
    if values.type != _TEXT:
        values = pc.cast(values, _TEXT)
    return pd.Series(pd.arrays.ArrowStringArray(values))


def _arrow_of(series: pd.Series) -> pa.ChunkedArray:
    """The Arrow array behind a pandas Series (no copy for Arrow-backed text)."""
    if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow":
        return _chunked(pa.array(series.array))
    return _chunked(pa.array(series.astype(object).where(series.notna(), None).tolist(),
                             _TEXT))


def _null_empty(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Empty strings as nulls."""
    empty = pc.equal(values, "")
    if not pc.any(empty).as_py():
        return values
    return pc.if_else(empty, pa.scalar(None, values.type), values)


def text_bytes(values: pa.ChunkedArray | pa.Array) -> Iterator[np.ndarray]:
    """The UTF-8 bytes of a text column's values, one numpy view per chunk (no copy): what a byte
    test looks at, far cheaper than a per-value Arrow kernel. Only the bytes of the chunk's own
    values: a sliced chunk shares its buffers with the rows outside it."""
    for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
        buffers = chunk.buffers()
        if len(chunk) == 0 or len(buffers) < 3 or buffers[2] is None:
            continue
        wide = pa.types.is_large_string(chunk.type)
        offsets = np.frombuffer(buffers[1], dtype=np.int64 if wide else np.int32)
        yield np.frombuffer(buffers[2], dtype=np.uint8)[offsets[chunk.offset]:offsets[chunk.offset + len(chunk)]]


def _plain_ascii(values: pa.ChunkedArray, *, controls: bool = False) -> bool:
    """Whether every byte of the text is ASCII (and, with ``controls``, none is a control
    character, so that a space is the only whitespace there is). Checked on the raw data
    buffers with numpy's min/max."""
    return not any(data.size and (data.max() >= 0x80 or (controls and data.min() < 0x20))
                   for data in text_bytes(values))


def _text_bytes(values: pa.ChunkedArray) -> int:
    """Total bytes of the values (from the offsets; no pass over the data)."""
    total = 0
    for chunk in values.chunks:
        if len(chunk) == 0:
            continue
        wide = pa.types.is_large_string(chunk.type)
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64 if wide else np.int32)
        total += int(offsets[chunk.offset + len(chunk)] - offsets[chunk.offset])
    return total


def _offsets_from_zero(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """The same text with every chunk's value offsets starting at 0.

    pyarrow's Parquet reader hands out chunks that share one data buffer, each with offsets that
    start where the previous chunk ended. pyarrow 26's ASCII case kernels (``ascii_lower``) copy
    such offsets unchanged into a data buffer sized from 0, so their result is an invalid array
    (measured on a 10-million-row Parquet export: "offset for slot 1 out of bounds", then "Invalid
    UTF8 sequence" in the next kernel). Copying just those chunks gives them offsets from 0."""
    chunks, copied = [], False
    for chunk in values.chunks:
        buffers = chunk.buffers()
        if len(chunk) and len(buffers) >= 2 and buffers[1] is not None:
            wide = pa.types.is_large_string(chunk.type)
            first = np.frombuffer(buffers[1], dtype=np.int64 if wide else np.int32)[chunk.offset]
            if first != 0:
                chunk, copied = pa.concat_arrays([chunk]), True
        chunks.append(chunk)
    return pa.chunked_array(chunks, values.type) if copied else values


def _fold_arrow(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """``str.casefold`` of every value: Arrow lower-casing for ASCII, Python for the rest."""
    if _plain_ascii(values):
        return pc.ascii_lower(_offsets_from_zero(values))
    lowered = pc.utf8_lower(values)
    other = pc.invert(pc.fill_null(pc.string_is_ascii(values), True))
    if not pc.any(other).as_py():
        return lowered
    positions = np.flatnonzero(_np(other))
    folded = [v.casefold() for v in pc.take(values, pa.array(positions)).to_pylist()]
    return pa.chunked_array([pc.replace_with_mask(
        lowered.combine_chunks(), other.combine_chunks(), pa.array(folded, lowered.type))])


def _fold(series: pd.Series) -> pd.Series:
    """Casefolded text (NA stays NA) as a pandas ``string`` Series."""
    return _string_series(_fold_arrow(_arrow_of(series)))


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Any flat Arrow column as text, nulls as empty strings."""
    kind = column.type
    if kind == _TEXT:
        text = column
    elif pa.types.is_string(kind):
        text = pc.cast(column, _TEXT)
    elif pa.types.is_boolean(kind):
        text = pc.if_else(column, "true", "false")
    elif pa.types.is_timestamp(kind):
        text = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S" + ("Z" if kind.tz else ""))
    elif pa.types.is_floating(kind):
        text = pa.array([None if v is None else (str(int(v)) if float(v).is_integer()
                                                 else repr(v)) for v in column.to_pylist()],
                        _TEXT)
    else:
        text = pc.cast(column, _TEXT)
    text = _chunked(text)
    return pc.fill_null(text, "") if text.null_count else text


def _trim(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Values without surrounding whitespace (the same characters ``str.strip`` removes: Arrow's
    UTF-8 whitespace). When the text is plain ASCII without control characters, a space is the
    only whitespace there is: the first and last byte of every value are looked at with numpy
    and the column is returned as it is when none is a space (no copy)."""
    if _plain_ascii(column, controls=True):
        if not _edge_spaces(column):
            return column
        return pc.ascii_trim_whitespace(column)
    trimmed = pc.utf8_trim_whitespace(column)
    return column if _text_bytes(trimmed) == _text_bytes(column) else trimmed


def _edge_spaces(values: pa.ChunkedArray) -> bool:
    """Whether any value starts or ends with a space (read from the offsets and data buffers)."""
    for chunk in values.chunks:
        buffers = chunk.buffers()
        if len(chunk) == 0 or len(buffers) < 3 or buffers[2] is None:
            continue
        wide = pa.types.is_large_string(chunk.type)
        offsets = np.frombuffer(buffers[1], dtype=np.int64 if wide else np.int32)[
            chunk.offset:chunk.offset + len(chunk) + 1]
        data = np.frombuffer(buffers[2], dtype=np.uint8)
        starts, ends = offsets[:-1], offsets[1:]
        filled = ends > starts
        if not filled.any():
            continue
        if (data[starts[filled]] == 32).any() or (data[ends[filled] - 1] == 32).any():
            return True
    return False
