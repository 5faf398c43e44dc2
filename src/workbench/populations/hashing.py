"""SHA-256 of export files, and the one pass over a CSV file's bytes that the Arrow path runs
beside its parse: hash, size, line ends and a vectorised check of the quoting."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np

from .errors import PopulationError
from .files import _line_ends


def file_sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes, read in chunks so large exports stay cheap."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


class _HashJob(threading.Thread):
    """SHA-256, size and line-end count of a file (LF, CRLF or a lone CR each count once, as in
    Python's universal newlines), computed beside the parse (hashlib and numpy free the GIL).
    With a ``delimiter`` it also checks the quoting from byte ``data_offset`` on (see
    :class:`_QuoteCheck`): Arrow's parser accepts some faults silently that the csv module
    refuses."""

    def __init__(self, path: Path, delimiter: str | None = None, data_offset: int = 0) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.quotes = None if delimiter is None else _QuoteCheck(delimiter)
        self.data_offset = data_offset
        self.sha256 = ""
        self.size = 0
        self.newlines = 0
        self.last = b""
        self.error: OSError | None = None
        self.start()

    @property
    def suspect(self) -> bool:
        """Whether the quoting needs the csv module's judgement."""
        return self.quotes is not None and self.quotes.suspect

    def run(self) -> None:
        digest = hashlib.sha256()
        try:
            with open(self.path, "rb") as handle:
                while chunk := handle.read(1 << 22):
                    digest.update(chunk)
                    if self.quotes is not None and self.size + len(chunk) > self.data_offset:
                        self.quotes.feed(chunk[max(0, self.data_offset - self.size):])
                    self.size += len(chunk)
                    self.newlines += _line_ends(chunk)
                    if self.last == b"\r" and chunk[:1] == b"\n":
                        self.newlines -= 1  # a CRLF split between two reads
                    self.last = chunk[-1:]
            if self.quotes is not None:
                self.quotes.finish()
        except OSError as exc:
            self.error = exc
        self.sha256 = digest.hexdigest()

    def result(self, file: str) -> _HashJob:
        self.join()
        if self.error is not None:
            raise PopulationError(file, f"cannot read the file ({self.error}).")
        return self


class _QuoteCheck:
    """Vectorised check of CSV quoting, fed the bytes from the header line on.

    Counting quotes from there, a quote that makes the count odd opens a quoted value and must
    follow a delimiter, a line end or another quote; one that makes it even closes the value (or
    is the first of an escaped ``""``) and must be followed by a delimiter, a line end, another
    quote or the end of the file. Anything else (``"Priya" Nair``, ``""x``, a quote inside an
    unquoted value) sets ``suspect``, and the csv module then reads the file and decides. Only
    the positions of quotes are looked at, so a quote-free file costs one ``memchr``-like scan."""

    def __init__(self, delimiter: str) -> None:
        self.allowed = np.zeros(256, dtype=bool)
        self.allowed[[ord(delimiter), 10, 13, 34]] = True
        self.count = 0
        self.tail = b"\n"  # a context byte (a virtual line start), then the unchecked last byte
        self.suspect = False

    def feed(self, chunk: bytes, final: bool = False) -> None:
        if self.suspect or not (chunk or final):
            return
        data = self.tail + chunk
        if b'"' not in data:
            self.tail = data[-2:] if len(data) > 1 else data
            return
        codes = np.frombuffer(data, dtype=np.uint8)
        # codes[0] is context (already checked); check codes[1:end]; the last byte waits for
        # the next chunk unless this is the end of the file
        end = len(data) if final else len(data) - 1
        quotes = np.flatnonzero(codes[1:end] == 34) + 1
        if quotes.size:
            opening = (self.count + np.arange(1, quotes.size + 1)) % 2 == 1
            before = self.allowed[codes[quotes - 1]]
            after = np.ones(quotes.size, dtype=bool)
            inside = quotes + 1 < len(data)
            after[inside] = self.allowed[codes[quotes[inside] + 1]]
            if ((opening & ~before) | (~opening & ~after)).any():
                self.suspect = True
            self.count += int(quotes.size)
        self.tail = data[end - 1:] if end >= 1 else data

    def finish(self) -> None:
        self.feed(b"", final=True)
