"""An export file's bytes and text: how a file is named in messages, reading and decoding it
(UTF-8 with or without a byte-order mark, UTF-16, or a declared encoding), and :class:`_RawTable`,
what every file format is read into before the contract of its kind is checked."""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from .contract import _TEXT
from .errors import PopulationError, RejectedRow
from .options import _Options


def _display_path(path: Path) -> str:
    """How a file is named in messages: its folder and name (``hr/workday_workers.csv``)."""
    parent = path.parent.name
    return f"{parent}/{path.name}" if parent else path.name


_BOM = b"\xef\xbb\xbf"
_UTF8_NAMES = ("utf-8", "utf-8-sig")


def _is_utf8(encoding: str | None) -> bool:
    return encoding is None or codecs.lookup(encoding).name in _UTF8_NAMES


def _decode(data: bytes, file: str, encoding: str | None = None) -> tuple[str, str]:
    """Decode export bytes; return the text and how it was decoded (for the evidence).

    Default and ``utf-8``/``utf-8-sig``: UTF-8 with an optional BOM, or UTF-16 with a BOM. Any
    other declared encoding is used as declared. Bytes that do not decode are an error naming
    the line.
    """
    if _is_utf8(encoding):
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16"), "utf-16 (byte-order mark)"
        label = "utf-8"
        if data.startswith(_BOM):
            data, label = data[3:], "utf-8 (byte-order mark)"
        name = "utf-8"
    else:
        name = label = codecs.lookup(encoding).name  # type: ignore[arg-type]
    try:
        text = data.decode(name)
    except UnicodeDecodeError as exc:
        line = _line_ends(data[: exc.start]) + 1
        if name == "utf-8":
            raise _not_utf8(file, data[exc.start], line) from None
        raise PopulationError(
            file, f"the file is not valid {name} (byte 0x{data[exc.start]:02x}); declare the "
                  "file's encoding with the reader option encoding.", row=line) from None
    return text.removeprefix("\ufeff"), label


@dataclass
class _RawTable:
    """An export read into text (or, for Parquet, typed) columns, before any contract check."""

    file: str
    header: list[str]
    header_line: int | None
    columns: list[pa.ChunkedArray]
    lines: np.ndarray
    sha256: str
    size_bytes: int
    file_format: str
    rejected: list[RejectedRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    delimiter: str | None = None
    delimiter_detected: bool = False
    encoding: str | None = None
    preamble: tuple[str, ...] = ()
    unit: str = "line"
    padded: tuple[int, ...] = ()  # lines read with missing trailing fields (pad_missing_fields)


def _text_column(values: Sequence[str]) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(values, _TEXT)], _TEXT)


def _read_bytes(path: Path, file: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PopulationError(file, f"file not found ({path}).") from None
    except OSError as exc:
        raise PopulationError(file, f"cannot read the file ({exc}).") from None


def _line_ends(data: bytes) -> int:
    """Line ends in ``data``: LF, CRLF and lone CR each count once."""
    feeds = data.count(b"\n")
    returns = data.count(b"\r")
    return feeds + returns - data.count(b"\r\n") if returns else feeds


def _not_utf8(file: str, byte: int, line: int) -> PopulationError:
    return PopulationError(
        file, f"the file is not valid UTF-8 (byte 0x{byte:02x}); re-export it as UTF-8 CSV, or "
              "declare its encoding with the reader option encoding (e.g. 'cp1252').", row=line)


def _refuse_nul(text: str, file: str, line_offset: int = 0) -> None:
    """Refuse decoded export text holding a NUL character, naming its line: a text export never
    holds one (a damaged file, or UTF-16 read as UTF-8), and the csv module and Arrow would each
    read it into a value without a word."""
    at = text.find("\x00")
    if at < 0:
        return
    before = text[:at]
    line = line_offset + 1 + before.count("\n") + before.count("\r") - before.count("\r\n")
    raise PopulationError(file, "the line holds a NUL byte (a zero byte), which a text export never "
                                "contains: the file is damaged, or is UTF-16 without a byte-order mark "
                                "(declare the reader option encoding); export it again.", row=line)


def _not_for(file: str, opts: _Options, names: Sequence[str], what: str) -> None:
    for name in names:
        if name in opts.declared:
            raise PopulationError(file, f"reader option '{name}' does not apply to {what}.")
