"""CSV through Arrow, every column as text, the path of every CSV file (see ``FAST_PATH_BYTES``): the same
table, line numbers, rejections and errors as the ``csv`` module path, which it hands anything
it cannot vouch for (odd quoting, bytes that are not UTF-8, a ragged row) to name the line."""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .arrowtext import _np, text_bytes
from .contract import _TEXT
from .csv_exact import _parse_csv, _ragged, _short_preamble, _sniff_delimiter
from .errors import PopulationError, RejectedRow
from .files import _BOM, _is_utf8, _line_ends, _not_utf8, _RawTable
from .hashing import _holds_byte, _ReadThrough
from .options import _Options


def _decode_line(raw: bytes, file: str, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(file, raw[exc.start], line) from None


@dataclass(frozen=True)
class _CsvHead:
    """What precedes a CSV file's data: the preamble lines, blank lines before the header, the
    header line and where the data starts (byte offsets). Read once by the Arrow path and by the
    batched staging of a large export (:mod:`.staged`), so both see the same header and lines."""

    bom: bool
    preamble: tuple[str, ...]
    rejected: tuple[RejectedRow, ...]
    header_line: int
    header_text: str
    header_offset: int
    data_offset: int


_LONE_CR = "the file's lines end with a lone CR"


def _lone_cr(raw: bytes) -> bool:
    """Whether a line read up to its LF holds a CR that is not the CR of its CRLF: a line end of
    its own (an old Mac file, or a blank line ``\\r\\r\\n``), so the head read line by line up
    to each LF would miscount lines; such a file goes to the csv module."""
    body = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1] if raw.endswith(b"\n") else raw
    return b"\r" in body


def _read_head(path: Path, file: str, opts: _Options) -> _CsvHead | str:
    """The head of a CSV file for the Arrow path, or why the Arrow path cannot read the file."""
    if not _is_utf8(opts.encoding):
        return "the Arrow path reads UTF-8 files only"
    if not path.is_file():
        raise PopulationError(file, f"file not found ({path}).")
    preamble: list[str] = []
    rejected: list[RejectedRow] = []
    with open(path, "rb") as handle:
        head = handle.read(3)
        if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return "the file is UTF-16"
        handle.seek(3 if head == _BOM else 0)
        line = 0
        for k in range(opts.preamble_lines):
            raw = handle.readline()
            if _lone_cr(raw):
                return _LONE_CR
            if not raw.endswith(b"\n"):
                raise _short_preamble(file, opts.preamble_lines, k + (1 if raw else 0))
            line += 1
            preamble.append(_decode_line(raw, file, line).rstrip("\r\n"))
        while True:
            raw = handle.readline()
            line += 1
            if _lone_cr(raw):
                return _LONE_CR
            if not raw:
                raise PopulationError(file, "the file is empty: no header row.")
            if raw.strip():
                break
            rejected.append(RejectedRow(line, "blank line"))
        header_offset = handle.tell() - len(raw)
        header_text = _decode_line(raw, file, line).rstrip("\r\n")
        data_offset = handle.tell()
    if header_text.count('"') % 2:
        return "the header row spans several lines"
    return _CsvHead(head == _BOM, tuple(preamble), tuple(rejected), line, header_text, header_offset,
                    data_offset)


def _read_csv_fast(path: Path, file: str, opts: _Options, delimiter: str
                   ) -> tuple[_RawTable | None, str]:
    """A CSV file through Arrow, every column as text: (table, "") or (None, why not).

    The file is read once: its bytes pass through a :class:`.hashing._ReadThrough` on their way
    to the parser, which gives the SHA-256, NUL bytes, the quote check and (where the data holds
    a quote) the line ends. Line numbers stay exact: Arrow keeps blank lines as rows
    (``ignore_empty_lines=False``) and ends a row at LF, CRLF or a lone CR as Python does, so
    without quotes record k is on line header + k; with quotes, when the file's line-end count
    shows newlines inside quoted values, each record's line is shifted by the newlines of the
    records before it. A structural problem (ragged row, bad quoting, invalid UTF-8) is located
    and reported exactly like the csv-module path.
    """
    head = _read_head(path, file, opts)
    if isinstance(head, str):
        return None, head
    rejected = list(head.rejected)
    header_line = head.header_line
    detected = delimiter == "auto"
    if detected:
        delimiter = _sniff_delimiter(head.header_text, file, header_line)
    header = [h.replace("\ufeff", "").strip()
              for h in next(csv.reader([head.header_text], delimiter=delimiter))]
    names = [f"c{j}" for j in range(len(header))]
    empty = head.data_offset >= path.stat().st_size  # a header and nothing else
    # no quote in the data: no newline inside a value, and Arrow may cut blocks at any line end
    quoted = not empty and _holds_byte(path, b'"', head.data_offset)
    invalid: list[tuple[int | None, int, str]] = []

    def on_invalid(row: Any) -> str:
        invalid.append((row.number, row.actual_columns, row.text))
        return "skip" if len(invalid) < 1000 else "error"

    with _ReadThrough(path, head.data_offset, delimiter if quoted else None, head.header_offset
                      ) as stream:
        try:
            table = (pa.table({name: pa.array([], _TEXT) for name in names}) if empty else
                     _arrow_csv(stream, names, delimiter, quoted, True, on_invalid))
        except pa.ArrowInvalid as exc:
            if _holds_byte(path, b"\x00"):  # the csv module path names its line
                return None, "the file holds a NUL byte"
            _locate_csv_problem(path, file, opts, delimiter, head.bom)
            raise PopulationError(file, f"the CSV is malformed ({exc}).") from None
        except OSError as exc:
            raise PopulationError(file, f"cannot read the file ({exc}).") from None
        tally = stream.result(file)
    if tally.nul:  # the csv module path names its line
        return None, "the file holds a NUL byte"
    if tally.suspect:  # Arrow drops such quotes silently: let the csv module judge the file
        _locate_csv_problem(path, file, opts, delimiter, head.bom)
    rows = table.num_rows
    embedded = 0
    if tally.newlines is not None:  # counted where values may hold newlines (a quote in the data)
        expected = header_line + rows + len(invalid) - (0 if tally.last in (b"\n", b"\r") else 1)
        embedded = tally.newlines - expected
        if embedded < 0:
            return None, "the line ends could not be counted"
    first_line = header_line + 1
    per_row = _newlines_per_row(table) if embedded else None
    lines = _record_lines(first_line, rows, per_row)
    if invalid:
        if not invalid[0][2].strip():
            return None, "a line holds only whitespace"
        number = invalid[0][0]
        if number is None:  # Arrow numbers rows only when it parses on one thread
            number = _first_invalid_row(path, head.data_offset, names, delimiter, quoted)
        if number is None:
            return None, "a malformed row could not be located"
        before = number - 1
        at = first_line + before + (int(per_row[:before].sum()) if per_row is not None else 0)
        fields = invalid[0][1]
        if opts.pad_missing_fields and fields < len(header):
            return None, "rows with missing trailing fields are padded (pad_missing_fields)"
        first = not any(pc.any(pc.not_equal(column.slice(0, before), "")).as_py()
                        for column in table.columns) if before else True
        raise PopulationError(file, _ragged(fields, len(header), at if first else None), row=at)
    columns = [table.column(j) for j in range(len(names))]
    del table
    columns, lines = _set_aside_empty_rows(path, columns, lines, rejected)
    return _RawTable(
        file=file, header=header, header_line=header_line, columns=columns, lines=lines,
        sha256=tally.sha256, size_bytes=tally.size, file_format="csv (Arrow)", rejected=rejected,
        delimiter=delimiter, delimiter_detected=detected,
        encoding="utf-8 (byte-order mark)" if head.bom else "utf-8",
        preamble=head.preamble), ""


#: Bytes Arrow parses at a time in the whole-file read (Arrow's default, 1 MiB, when None). A
#: setting for tests: a few hundred bytes make a small file cross many block boundaries.
BLOCK_BYTES: int | None = None


@functools.cache
def parse_memory_pool() -> pa.MemoryPool:
    """The memory pool Arrow's parse of a streamed CSV allocates from: jemalloc where this pyarrow
    has it, else pyarrow's default.

    Why (measured on 10 million grants, 1.1 GB, each read in a fresh process): parsed from our
    read-through stream with pyarrow's default pool (mimalloc), the kernel spent 1-16 s zeroing
    fresh pages (``perf``: 67 % of the samples in ``clear_page_erms``), so the same read took
    3.3-11 s; from jemalloc, 2.0-2.3 s with 1.3-1.5 s of system time, and the same tables.
    The pool decides only where the bytes live, never what they are.
    """
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc (e.g. some platforms' wheels)
        return pa.default_memory_pool()


def _arrow_csv(source: Any, names: list[str], delimiter: str, quoted: bool, threads: bool,
               on_invalid: Callable[[Any], str]) -> pa.Table:
    """The data rows of a CSV file (``source`` positioned at the first one) parsed by Arrow, every
    column as text, blank lines kept as rows, ragged rows handed to ``on_invalid``."""
    import pyarrow.csv as pv

    read_options = pv.ReadOptions(column_names=names, use_threads=threads)
    if BLOCK_BYTES is not None:
        read_options.block_size = BLOCK_BYTES
    return pv.read_csv(source, read_options=read_options,
                       parse_options=_parse_options(delimiter, quoted, on_invalid),
                       convert_options=_convert_options(names), memory_pool=parse_memory_pool())


def _parse_options(delimiter: str, quoted: bool, on_invalid: Callable[[Any], str]) -> Any:
    """How Arrow splits the CSV (the whole-file read and staging batch by batch alike): blank
    lines kept (their line numbers count), newlines inside values only where the data holds a
    quote (Arrow's block splitting is slower when it must look for them)."""
    import pyarrow.csv as pv

    return pv.ParseOptions(delimiter=delimiter, newlines_in_values=quoted, ignore_empty_lines=False,
                           invalid_row_handler=on_invalid)


def _convert_options(names: list[str]) -> Any:
    """Every column as text, an empty value as an empty string (never null)."""
    import pyarrow.csv as pv

    return pv.ConvertOptions(column_types=dict.fromkeys(names, _TEXT), strings_can_be_null=False,
                             quoted_strings_can_be_null=False)


def _newlines_per_row(table: pa.Table | pa.RecordBatch) -> np.ndarray:
    """Per record, the line ends inside its quoted values (LF, CR and CRLF each once). Only the
    columns whose text holds a CR or LF at all are counted value by value."""
    per_row = np.zeros(table.num_rows, dtype="int64")
    for column in table.columns:
        if not _holds_line_end(column):
            continue
        for sign, what in ((1, "\n"), (1, "\r"), (-1, "\r\n")):
            per_row += sign * pc.fill_null(pc.count_substring(column, what), 0).to_numpy()
    return per_row


def _holds_line_end(column: pa.ChunkedArray | pa.Array) -> bool:
    """Whether any value of a text column holds a CR or LF (looked for in its data buffers)."""
    return any(((data == 10) | (data == 13)).any() for data in text_bytes(column))


def _record_lines(first_line: int, rows: int, per_row: np.ndarray | None) -> np.ndarray:
    """The line each record starts on: one line after another, shifted by the newlines inside the
    quoted values of the records before it."""
    lines = np.arange(first_line, first_line + rows, dtype="int64")
    if per_row is not None and rows > 1:
        lines[1:] += np.cumsum(per_row[:-1])
    return lines


def _first_invalid_row(path: Path, data_offset: int, names: list[str], delimiter: str,
                       quoted: bool) -> int | None:
    """The record number (1 = first data record) of the first ragged row: Arrow numbers rows only
    when it parses on one thread, so the file is parsed again that way (only when a row is bad)."""
    found: list[int | None] = []
    source = pa.OSFile(str(path))
    try:
        source.seek(data_offset)
        _arrow_csv(source, names, delimiter, quoted, False,
                   lambda row: found.append(row.number) or "error")
    except pa.ArrowInvalid:
        pass
    finally:
        source.close()
    return found[0] if found else None


def _set_aside_empty_rows(path: Path, columns: list[pa.ChunkedArray], lines: np.ndarray,
                          rejected: list[RejectedRow]) -> tuple[list[pa.ChunkedArray], np.ndarray]:
    """The columns and line numbers without the rows that hold no value; each such row is added to
    ``rejected`` as a blank line or a line of empty fields, so the evidence lists it (both the
    whole-file read and staging batch by batch set them aside this way)."""
    if not columns or not len(lines):
        return columns, lines
    empty = _no_values(columns)
    if not empty.any():
        return columns, lines
    blank = _blank_lines(path, lines[empty])
    rejected += [RejectedRow(int(n), "blank line" if n in blank else "empty fields only") for n in lines[empty]]
    keep = pa.array(~empty)
    return [pc.filter(column, keep) for column in columns], lines[~empty]


def _no_values(columns: Sequence[pa.ChunkedArray]) -> np.ndarray:
    """Rows whose every field is empty or whitespace (only rows with an empty first field are
    looked at beyond the first column)."""
    first = columns[0]
    empty = _np(pc.or_(pc.equal(first, ""), pc.utf8_is_space(first)))
    if empty.any() and len(columns) > 1:
        positions = np.flatnonzero(empty)
        take = pa.array(positions)
        still = np.ones(len(positions), dtype=bool)
        for column in columns[1:]:
            values = pc.take(column, take)
            still &= _np(pc.or_(pc.equal(values, ""), pc.utf8_is_space(values)))
        empty[:] = False
        empty[positions[still]] = True
    return empty


def _blank_lines(path: Path, lines: np.ndarray) -> set[int]:
    """Which of ``lines`` are blank in the file (called only for the few rows with no value).
    Lines end at LF, CRLF or a lone CR, as in Python's universal newlines."""
    wanted = {int(n) for n in lines}
    last = max(wanted)
    starts = [0]
    offset = 0
    previous = 0
    with open(path, "rb") as handle:
        while len(starts) <= last and (chunk := handle.read(1 << 24)):
            codes = np.frombuffer(chunk, dtype=np.uint8)
            following = np.append(codes[1:], 0)  # the next byte (0 at the chunk's end)
            ends = np.flatnonzero((codes == 10) | ((codes == 13) & (following != 10)))
            if previous == 13 and codes[0] == 10:  # a CRLF split between two reads
                starts.pop()
                ends = np.concatenate(([0], ends[ends != 0]))
            starts.extend((ends + offset + 1).tolist())
            offset += len(chunk)
            previous = int(codes[-1])
        handle.seek(0)
        data_end = offset
        blank = set()
        for line in wanted:
            begin = starts[line - 1]
            finish = starts[line] if line < len(starts) else data_end
            handle.seek(begin)
            if not handle.read(finish - begin).strip():
                blank.add(line)
    return blank


def _locate_csv_problem(path: Path, file: str, opts: _Options, delimiter: str, bom: bool
                        ) -> None:
    """Stream the file through the csv module to raise the exact error Arrow only summarised."""
    _check_utf8(path, file, bom)
    with open(path, "rb") as raw:
        raw.seek(3 if bom else 0)
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")  # universal line ends
        for _ in range(opts.preamble_lines):
            text.readline()
        _parse_csv(text, file, delimiter=delimiter, line_offset=opts.preamble_lines, keep=False)


def _check_utf8(path: Path, file: str, bom: bool) -> None:
    """Raise the error naming the line of the first byte that is not UTF-8 (read in pieces cut
    after a LF, so that no character is split between two pieces)."""
    lines = 0
    carry = b""
    with open(path, "rb") as handle:
        handle.seek(3 if bom else 0)
        while True:
            chunk = handle.read(1 << 24)
            data = carry + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            piece, carry = data[:cut], data[cut:]
            try:
                piece.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _not_utf8(file, piece[exc.start],
                                lines + _line_ends(piece[:exc.start]) + 1) from None
            lines += _line_ends(piece)
            if not chunk:
                return
