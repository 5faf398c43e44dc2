"""Screening an input file before anything copies or parses it: is it a regular file, is it within
its size limit, and (for text exports) does its start look like text.

Why: a period names its source exports and record files by path, and a path can name a folder, a
symbolic link that points back to itself, a named pipe that blocks forever, a device, or a huge
file. Each used to end in a Python traceback, a hang, or a 1 GB copy into the run before failing.
These checks look only at the file's type (``os.stat``), its size, and its first bytes, so they are
fast whatever the file, and each problem is a sentence naming the path.

The size limit of a source export is the period file's ``max_export_size`` (default
:data:`DEFAULT_MAX_EXPORT_BYTES`, 2 GiB); YAML files have their own limit (:mod:`workbench.yamlfile`).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

DEFAULT_MAX_EXPORT_BYTES = 2 * 1024**3
#: From this size a source export is kept in Parquet and its full-population analytics run in DuckDB
#: (the period file's ``large_population_size``; see :mod:`workbench.populations.staged`).
DEFAULT_LARGE_POPULATION_BYTES = 256 * 1024**2
#: How much of a text export's start is looked at for NUL bytes and UTF-16 without a byte-order mark.
HEAD_BYTES = 64 * 1024
#: Suffixes of binary exports (zip-based workbooks, Parquet): NUL bytes are normal in them.
BINARY_SUFFIXES = (".xlsx", ".xlsm", ".parquet", ".pq")
_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


class InputFileError(ValueError):
    """An input file that cannot be used; the message names the path and says why."""

    def __init__(self, path: Path, message: str):
        self.path = Path(path)
        self.reason = message
        super().__init__(f"{path}: {message}")


def parse_size(value: int | str) -> int:
    """Bytes from a whole number of bytes or a text such as ``"2 GiB"``, ``"500 MB"`` (ValueError if not)."""
    if isinstance(value, bool):
        raise ValueError("a size is a number of bytes or a text such as '2 GiB' or '500 MB'")
    if isinstance(value, int):
        number, unit = float(value), ""
    else:
        match = _SIZE.match(str(value))
        if not match or match.group(2).casefold() not in _UNITS:
            raise ValueError(f"'{value}' is not a size (write e.g. 2 GiB, 500 MB or a number of bytes)")
        number, unit = float(match.group(1)), match.group(2).casefold()
    size = int(number * _UNITS[unit])
    if size <= 0:
        raise ValueError("a size limit must be more than 0 bytes")
    return size


def parse_threshold(value: int | str) -> int:
    """A size threshold: as :func:`parse_size`, and also 0 (every export is above it)."""
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return 0
    if isinstance(value, str) and value.strip() == "0":
        return 0
    return parse_size(value)


def describe_size(size: int) -> str:
    """A byte count for people: ``1.5 GiB``, ``12.0 MiB``, ``300 bytes``."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} bytes"


def file_type_problem(path: Path) -> str | None:
    """Why ``path`` is not a regular file that can be read (None when it is).

    Follows symbolic links, so a link to a file is fine and a link that points back to itself is
    named as a loop; a folder, a named pipe (which would block the run), a device or a socket is
    refused by its type without being opened.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            return "is a symbolic link to a file that does not exist"
        return "does not exist"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link that points back to itself (a link loop), not a file"
        if exc.errno == errno.ENAMETOOLONG:
            return "the path is too long to be a file's name"
        return f"cannot be looked at ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a file: reading it would wait for another program"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a file"
    return "is not a regular file"


def size_problem(size: int, limit: int, what: str = "file") -> str | None:
    """Why a file of ``size`` bytes is refused under ``limit`` (None when within it)."""
    if size <= limit:
        return None
    return (f"the {what} is {describe_size(size)} ({size:,} bytes), above the limit of {describe_size(limit)}; "
            "it is refused before it is copied or read")


def nul_line(data: bytes) -> int | None:
    """The 1-based line of the first NUL byte in ``data`` (LF, CRLF or CR end a line), or None."""
    at = data.find(b"\x00")
    if at < 0:
        return None
    before = data[:at]
    returns = before.count(b"\r")
    feeds = before.count(b"\n")
    return 1 + (feeds + returns - before.count(b"\r\n") if returns else feeds)


def looks_utf16_without_bom(head: bytes) -> str | None:
    """``"UTF-16LE"``/``"UTF-16BE"`` when text starts as UTF-16 without a byte-order mark, else None.

    The sign is its NUL pattern: ASCII text in UTF-16 has a NUL in every other byte (the odd
    bytes for little-endian, the even ones for big-endian).
    """
    sample = head[:4096]
    if len(sample) < 4 or sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) >= 0.8 * len(odd) and even.count(0) <= 0.1 * len(even):
        return "UTF-16LE"
    if even.count(0) >= 0.8 * len(even) and odd.count(0) <= 0.1 * len(odd):
        return "UTF-16BE"
    return None


def text_head_problem(head: bytes) -> str | None:
    """Why the first bytes of a text export show it is not the UTF-8/declared text it should be (None if fine)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # UTF-16 with a byte-order mark: the readers decode it
    flavour = looks_utf16_without_bom(head)
    if flavour:
        return (f"the file looks like {flavour} text without a byte-order mark (a NUL byte between every "
                "character); re-export it as UTF-8 CSV, or declare the reader option encoding: "
                f"{'utf-16-le' if flavour == 'UTF-16LE' else 'utf-16-be'}")
    line = nul_line(head)
    if line is None:
        return None
    if head.count(0) == len(head):
        return (f"the file holds only NUL bytes (zero bytes) in its first {describe_size(len(head))}: it is not "
                "a text export (a damaged or unfinished download?); export it again")
    return (f"line {line} holds a NUL byte (a zero byte), which a text export never contains: the file is "
            "damaged or is not text; export it again")


def _declares_wide_encoding(encoding: str | None) -> bool:
    """True when a declared encoding (reader option ``encoding``) is UTF-16 or UTF-32, where NULs are normal."""
    return bool(encoding) and str(encoding).casefold().replace("-", "").replace("_", "").startswith(("utf16", "utf32"))


def screen_export(path: Path, limit: int = DEFAULT_MAX_EXPORT_BYTES, encoding: str | None = None) -> int:
    """Check a source export before it is copied into a run or read; return its size in bytes.

    Raises :class:`InputFileError` naming the path when it is not a regular file, is above
    ``limit``, or (a text export) starts with NUL bytes or as UTF-16 without a byte-order mark.
    Only the first :data:`HEAD_BYTES` are read, so a huge file fails at once.
    """
    path = Path(path)
    problem = file_type_problem(path)
    if problem:
        raise InputFileError(path, f"the source export {problem}")
    size = path.stat().st_size
    problem = size_problem(size, limit, "source export")
    if problem:
        raise InputFileError(path, problem + " (raise the period file's max_export_size if the export is genuine)")
    if path.suffix.casefold() in BINARY_SUFFIXES or _declares_wide_encoding(encoding):
        return size
    try:
        with open(path, "rb") as handle:
            head = handle.read(HEAD_BYTES)
    except OSError as exc:
        raise InputFileError(path, f"the source export cannot be read ({exc.strerror or exc})") from None
    problem = text_head_problem(head)
    if problem:
        raise InputFileError(path, f"the source export cannot be used: {problem}")
    return size


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """The bytes of a small input file (a YAML period or record file), refused unread above ``limit``.

    The type and size are checked first, and at most ``limit + 1`` bytes are ever read, so a file
    that grows while it is read cannot exhaust memory either.
    """
    path = Path(path)
    problem = file_type_problem(path)
    if problem:
        raise InputFileError(path, f"the {what} {problem}")
    problem = size_problem(path.stat().st_size, limit, what)
    if problem:
        raise InputFileError(path, problem)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputFileError(path, f"the {what} cannot be read ({exc.strerror or exc})") from None
    if len(data) > limit:
        raise InputFileError(path, size_problem(len(data), limit, what) or "")
    return data
