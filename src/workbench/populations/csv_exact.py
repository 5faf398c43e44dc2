"""CSV through the ``csv`` module: exact line numbers whatever the quoting, blank and empty lines
rejected by line, ragged rows refused, a preamble above the header skipped, the delimiter
declared or sniffed from the header line. The Arrow path (:mod:`.csv_fast`) hands this module
any file it cannot vouch for, to name the line."""

from __future__ import annotations

import csv
import gc
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import PopulationError, RejectedRow
from .evidence import _delimiter_label
from .files import _decode, _RawTable, _read_bytes, _refuse_nul, _text_column
from .options import _Options


@dataclass
class _Csv:
    header: list[str]
    records: list[list[str]]
    lines: list[int]
    rejected: list[RejectedRow]
    header_line: int
    padded: list[int] = field(default_factory=list)


def _parse_csv(lines: str | Iterator[str], file: str, *, delimiter: str = ",",
               line_offset: int = 0, keep: bool = True, pad: bool = False) -> _Csv:
    """Split CSV text into header and records, remembering where each record starts.

    The ``csv`` module is used rather than ``pandas.read_csv`` because it lets us name the exact
    starting line of every record (quoted fields may span lines) and detect rows with too few
    fields, which pandas silently pads with missing values. ``line_offset`` is the number of
    preamble lines skipped before ``lines``; ``keep=False`` only checks (for locating an error
    in a file read by the Arrow fast path); ``pad=True`` (the reader option
    ``pad_missing_fields``) reads a row with fewer fields than the header as if its missing
    trailing fields were empty, and lists its line in ``padded``.
    """
    source = io.StringIO(lines, newline="") if isinstance(lines, str) else lines
    reader = csv.reader(source, delimiter=delimiter, strict=True)
    collecting = gc.isenabled()
    gc.disable()  # a million row lists would otherwise trigger full collections over and over
    try:
        return _parse_records(reader, file, line_offset, keep, pad)
    finally:
        if collecting:
            gc.enable()


def _parse_records(reader: Any, file: str, line_offset: int, keep: bool, pad: bool = False
                   ) -> _Csv:
    header: list[str] | None = None
    padded: list[int] = []
    header_line = line_offset + 1
    records: list[list[str]] = []
    starts: list[int] = []
    rejected: list[RejectedRow] = []
    while True:
        start = reader.line_num + 1 + line_offset
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise PopulationError(file, f"the CSV is malformed ({exc}); check the quoting.",
                                  row=start) from None
        if not record or (len(record) == 1 and not record[0].strip()):
            rejected.append(RejectedRow(start, "blank line"))
            continue
        if header is None:
            header = [h.replace("\ufeff", "").strip() for h in record]
            header_line = start
            continue
        if pad and 0 < len(record) < len(header):
            record = record + [""] * (len(header) - len(record))
            padded.append(start)
        if len(record) != len(header):
            raise PopulationError(file, _ragged(len(record), len(header),
                                                None if records else start),
                                  row=start)
        if not (record[0].strip() or "".join(record).strip()):
            rejected.append(RejectedRow(start, "empty fields only"))
            continue
        if keep:
            records.append(record)
            starts.append(start)
    if header is None:
        raise PopulationError(file, "the file is empty: no header row.")
    return _Csv(header, records, starts, rejected, header_line, padded)


def _ragged(fields: int, width: int, line: int | None = None) -> str:
    """The message for a row that does not have the header's number of fields; ``line`` is
    given for the first record when a one-field "header" may be a report title."""
    text = (f"the row has {fields} fields but the header has {width}; values are never shifted "
            "to fit: fix the export (an unquoted delimiter, or a truncated row).")
    if line is not None and width == 1 and fields > 1:
        text += (f" If the header is on line {line} and a title is above it, declare the reader "
                 f"option preamble_lines: {line - 1}.")
    return text


def _split_preamble(text: str, count: int, file: str) -> tuple[list[str], str]:
    """The first ``count`` lines (without line ends) and the text after them."""
    preamble: list[str] = []
    position = 0
    for k in range(count):
        end = text.find("\n", position)
        if end < 0:
            raise _short_preamble(file, count, k + (1 if text[position:] else 0))
        preamble.append(text[position:end].rstrip("\r"))
        position = end + 1
    return preamble, text[position:]


def _short_preamble(file: str, count: int, lines: int) -> PopulationError:
    return PopulationError(file, f"reader option preamble_lines is {count} but the file has only "
                                 f"{lines} line(s) before its end: no header is left.")


_SNIFFED = (",", ";", "\t", "|")


def _sniff_delimiter(header_text: str, file: str, line: int) -> str:
    """The candidate delimiter that occurs most often (outside quotes) in the header line."""
    counts = dict.fromkeys(_SNIFFED, 0)
    quoted = False
    for char in header_text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    if ranked[0][1] == 0:
        return ","
    if ranked[0][1] == ranked[1][1]:
        raise PopulationError(
            file, f"cannot detect the delimiter: the header line has as many "
                  f"{_delimiter_label(ranked[0][0])} as {_delimiter_label(ranked[1][0])}; declare "
                  "the reader option delimiter.", row=line)
    return ranked[0][0]


def _first_line(text: str) -> tuple[int, str]:
    """(lines skipped, text) of the first non-blank line."""
    for skipped, line in enumerate(text.splitlines()):
        if line.strip():
            return skipped, line
    return 0, ""


def _read_csv_exact(path: Path, file: str, opts: _Options, delimiter: str) -> _RawTable:
    """A CSV file through the ``csv`` module: exact line numbers whatever the quoting."""
    data = _read_bytes(path, file)
    text, encoding = _decode(data, file, opts.encoding)
    _refuse_nul(text, file)
    preamble, body = _split_preamble(text, opts.preamble_lines, file)
    detected = False
    if delimiter == "auto":
        skipped, header_text = _first_line(body)
        delimiter = _sniff_delimiter(header_text, file, opts.preamble_lines + skipped + 1)
        detected = True
    parsed = _parse_csv(body, file, delimiter=delimiter, line_offset=opts.preamble_lines,
                        pad=opts.pad_missing_fields)
    width = len(parsed.header)
    columns = ([_text_column(values) for values in zip(*parsed.records)] if parsed.records
               else [_text_column([]) for _ in range(width)])
    del parsed.records[:]
    return _RawTable(
        file=file, header=parsed.header, header_line=parsed.header_line, columns=columns,
        lines=np.asarray(parsed.lines, dtype="int64"), sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data), file_format="csv", rejected=parsed.rejected, delimiter=delimiter,
        delimiter_detected=detected, encoding=encoding, preamble=tuple(preamble),
        padded=tuple(parsed.padded))
