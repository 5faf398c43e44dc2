"""SHA-256 of export files, and the one pass over a CSV file's bytes that the Arrow path makes
while it parses (:class:`_ReadThrough`: the bytes are tallied as they are handed to the parser):
hash, size, line ends, NUL bytes and a vectorised check of the quoting."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa

from .errors import PopulationError


def file_sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes, read in chunks so large exports stay cheap."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _chunk_line_ends(codes: np.ndarray) -> int:
    """Line ends in one piece of a file, given as its bytes' codes (LF, CRLF and a lone CR each
    once; a CR ending the piece counts, and :class:`_ByteTally` takes it back when the next piece
    starts with its LF). Counted with numpy, which frees the GIL: ``bytes.count`` holds it for the
    whole scan, and a thread counting beside Arrow's parse then stalled every Python step."""
    ends = int(np.count_nonzero(codes == 10))
    returns = codes == 13
    if returns.any():
        ends += int(np.count_nonzero(returns)) - int(np.count_nonzero(returns[:-1] & (codes[1:] == 10)))
    return ends


class _ByteTally:
    """What one pass over a file's bytes, fed piece by piece from its first byte, gathers: the
    SHA-256, the size, the last byte and whether a NUL byte occurs; with a ``delimiter``, where
    values may hold quotes, also the line ends (LF, CRLF or a lone CR each once, as in Python's
    universal newlines) and the check of the quoting from byte ``quote_offset`` on
    (:class:`_QuoteCheck`: Arrow's parser accepts some faults silently that the csv module
    refuses). Without a delimiter ``newlines`` is ``None``: where the data holds no quote, each
    line end ends a row, for Arrow as for Python, and the rows are the count."""

    def __init__(self, delimiter: str | None = None, quote_offset: int = 0) -> None:
        self.digest = hashlib.sha256()
        self.quotes = None if delimiter is None else _QuoteCheck(delimiter)
        self.quote_offset = quote_offset
        self.size = 0
        self.newlines: int | None = None if delimiter is None else 0
        self.last = b""
        self.nul = False

    def feed(self, chunk: bytes | memoryview | pa.Buffer) -> None:
        """Tally the next piece of the file (any object exposing its bytes: no copy is made
        unless the quoting is checked)."""
        codes = np.frombuffer(chunk, dtype=np.uint8)
        if not codes.size:
            return
        self.digest.update(memoryview(codes))  # hashlib frees the GIL for large pieces
        self.nul = self.nul or bool(codes.min() == 0)
        if self.quotes is not None:
            if self.size + codes.size > self.quote_offset:
                self.quotes.feed(codes[max(0, self.quote_offset - self.size):].tobytes())
            self.newlines += _chunk_line_ends(codes)  # type: ignore[operator]
            if self.last == b"\r" and codes[0] == 10:
                self.newlines -= 1  # type: ignore[operator]  # a CRLF split between two pieces
        self.size += codes.size
        self.last = bytes(codes[-1:])

    def finish(self) -> None:
        if self.quotes is not None:
            self.quotes.finish()

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()

    @property
    def suspect(self) -> bool:
        """Whether the quoting needs the csv module's judgement."""
        return self.quotes is not None and self.quotes.suspect


class _HashJob(threading.Thread):
    """A :class:`_ByteTally` of a whole file computed on a thread beside other work (hashlib and
    numpy free the GIL): for readers whose parser reads the file itself (Parquet). The file is
    read into one reused buffer: a fresh 4 MiB object per read made the allocator map and unmap
    memory beside Arrow's threads, which cost the reader more than the hashing itself."""

    def __init__(self, path: Path, delimiter: str | None = None, data_offset: int = 0) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.tally = _ByteTally(delimiter, data_offset)
        self.sha256 = ""
        self.size = 0
        self.newlines: int | None = None
        self.last = b""
        self.error: OSError | None = None
        self.start()

    @property
    def suspect(self) -> bool:
        """Whether the quoting needs the csv module's judgement."""
        return self.tally.suspect

    def run(self) -> None:
        buffer = bytearray(1 << 22)
        view = memoryview(buffer)
        try:
            with open(self.path, "rb", buffering=0) as handle:
                while count := handle.readinto(buffer):
                    self.tally.feed(view[:count])
            self.tally.finish()
        except OSError as exc:
            self.error = exc
        self.sha256, self.size = self.tally.sha256, self.tally.size
        self.newlines, self.last = self.tally.newlines, self.tally.last

    def result(self, file: str) -> _HashJob:
        self.join()
        if self.error is not None:
            raise PopulationError(file, f"cannot read the file ({self.error}).")
        return self


class _ReadThrough:
    """A CSV file as the input stream of Arrow's parser, from byte ``data_offset`` on, with every
    byte of the file passing once through a :class:`_ByteTally` as it is handed over.

    Why (measured on 1 and 2.5 million grants): a thread hashing the file beside the parse read
    every byte twice, held the GIL while ``bytes.count`` counted line ends, and allocated a fresh
    4 MiB object per read next to Arrow's threads; in a fresh process that cost the reader
    several times the parse itself. Here the file is read once: each block Arrow asks for is
    read into a buffer of Arrow's own memory pool (recycled, no copy handed over), tallied on
    Arrow's reading thread (hashlib and numpy free the GIL) and parsed; the bytes before the
    data (byte-order mark, preamble, header) are tallied when the stream is opened. Pages read
    are not mapped, so the file does not count as resident memory. ``delimiter`` is given where
    the data holds a quote (then line ends are counted and the quoting checked). Use it as a
    context manager; after the parse, :meth:`result` tallies whatever the parser left unread
    and gives the tally."""

    def __init__(self, path: Path, data_offset: int, delimiter: str | None, header_offset: int
                 ) -> None:
        self.tally = _ByteTally(delimiter, header_offset)
        self._handle = open(path, "rb", buffering=0)  # noqa: SIM115  # closed by close()
        self.tally.feed(self._handle.read(data_offset))
        self.error: OSError | None = None

    def read(self, size: int = -1) -> pa.Buffer:
        try:
            if size is None or size < 0:
                block = pa.py_buffer(self._handle.read())
            else:
                block = pa.allocate_buffer(size, resizable=True)
                count = self._handle.readinto(memoryview(block))
                if count < size:
                    block.resize(count)
        except OSError as exc:
            self.error = exc
            raise
        self.tally.feed(block)
        return block

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> _ReadThrough:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def result(self, file: str) -> _ByteTally:
        """The tally of the whole file (the bytes the parser did not ask for are read here)."""
        try:
            if self.error is None and not self._handle.closed:
                while chunk := self._handle.read(1 << 22):
                    self.tally.feed(chunk)
        except OSError as exc:
            self.error = exc
        if self.error is not None:
            raise PopulationError(file, f"cannot read the file ({self.error}).")
        self.tally.finish()
        return self.tally


def _holds_byte(path: Path, byte: bytes, start: int = 0) -> bool:
    """Whether ``byte`` occurs in the file from byte ``start`` on: read in pieces into one buffer
    (a memory map would make the whole file resident), each searched with ``memchr``; stops at
    the first."""
    buffer = bytearray(1 << 20)
    with open(path, "rb", buffering=0) as handle:
        handle.seek(start)
        while count := handle.readinto(buffer):
            if buffer.find(byte, 0, count) >= 0:
                return True
    return False


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
        if b'"' not in chunk and self.tail[-1:] != b'"' and len(chunk) > 1 and not final:
            self.tail = chunk[-2:]  # nothing to check, and no copy of the piece
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
