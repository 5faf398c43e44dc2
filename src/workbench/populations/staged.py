"""Large exports kept in Parquet: a source above the period file's ``large_population_size`` is read
batch by batch into a Parquet file of its canonical table, in bounded memory, and stays there.

Why: a listing of ten million grants does not fit a pandas frame on a laptop, but its analytics
(who holds what at a moment, which grants no review line covers) are joins and aggregates that
DuckDB runs on a Parquet file in a fraction of the memory. What an auditor relies on does not
change: the export itself stays the hashed evidence; the staged file is the *same* canonical
table the in-memory path gives (same columns, Arrow types, values and ``line`` numbers), and its
IPE evidence (SHA-256, rows, columns, key check, empty values, control totals, rows rejected,
notes) is the same as the in-memory path's for the same file.

How, reusing the reading path rather than rewriting it:

- CSV files are parsed by Arrow's streaming reader with exactly the options of the in-memory
  Arrow path (:mod:`.csv_fast`: every column as text, blank lines kept, line numbers shifted by
  newlines inside quoted values), and Parquet files read in record batches; each batch becomes a
  raw table handed to the export's own reader (:data:`.registry.READERS`), so values, casefolding,
  states and errors come from the same converters.
- The per-batch evidence is added up (rows, empty values, control totals, rows rejected, display
  names not mapped); the key is checked once over the whole file (a 64-bit hash of each row's key,
  8 bytes a row; a possible repeat sends the export to the in-memory path, which lists it).
- Whatever the batched reading cannot vouch for goes through the in-memory path, which then gives
  the evidence (and the Parquet file is written from its frame): a bad value (so the error names
  the file, line and column with every other bad line, as the in-memory path does), a file the Arrow
  path hands to the ``csv`` module, a declared column transform, an .xlsx file, and an export whose
  key repeats (its exact duplicate lines are judged over the whole file).

Staged files live in the run folder (``<run>/staged/<source id>.parquet``), are written to a
temporary file and renamed, under a lock, so two controls (also in parallel kernels) never convert
one export twice: the second finds the file, with the same SHA-256 of the export and the same read
declarations recorded in its metadata, and reuses it. They are covered by the run's manifest like
every other file in the run: the table the analytics ran on is part of what the run shows.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import fcntl
import hashlib
import json
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..snapshots import Snapshot
from .contract import _TEXT
from .errors import DuplicateKey, DuplicateRow, PopulationError, RejectedRow
from .evidence import IPEEvidence, Population
from .files import _display_path, _not_for, _RawTable
from .hashing import _ByteTally, _HashJob, _holds_byte, _ReadThrough, file_sha256

#: The folder of a run that holds the staged Parquet files.
STAGED_DIR = "staged"
#: Rows converted at a time: bounds the memory of staging (the raw text and the canonical frame of
#: one batch) whatever the size of the export.
BATCH_ROWS = 500_000
#: Exports read from JSON (not tables): always read in memory.
_NOT_TABULAR = frozenset({"okta_system_log", "github_pull_requests", "github_pull_reviews", "github_deployments",
                          "gitlab_merge_requests", "gitlab_merge_request_approvals", "aws_backup_jobs"})
#: Environment variable: the most rows a staged table may be read back into pandas (unset: no limit).
#: The large-population benchmark sets it, so a step that would load a listing of ten million rows
#: stops with a message naming the table instead of measuring that memory.
READ_BACK_LIMIT_VARIABLE = "WORKBENCH_STAGED_READ_BACK_LIMIT"
#: Environment variable: the most memory DuckDB may use for a control's large-population queries (its
#: ``memory_limit``, e.g. ``4GB``, ``1500MB``); above it DuckDB writes intermediate results to a spill
#: folder inside the run. An environment setting, not a period-file key: it is a property of the
#: machine (the same period runs on a laptop and on a cluster's workers), it changes no result, and
#: a period file is evidence hashed into the run's manifest.
MEMORY_LIMIT_VARIABLE = "WORKBENCH_DUCKDB_MEMORY_LIMIT"
#: DuckDB's memory limit when the variable is not set: with the pandas side of a control (about a
#: gigabyte at a million review lines), a large control stays within 4 GB.
DEFAULT_MEMORY_LIMIT = "2GB"
#: DuckDB's worker threads per connection (the controls of a run already run in parallel processes).
DUCKDB_THREADS = 2
_MEMORY_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)
_META_EVIDENCE = b"workbench.evidence"
_META_SCHEMA = b"workbench.schema"
_META_SUMMARY = b"workbench.summary"
_META_FINGERPRINT = b"workbench.fingerprint"

#: The raw table a reader is handed instead of reading its file (one batch of a staged export).
_PRELOADED: contextvars.ContextVar[_RawTable | None] = contextvars.ContextVar("preloaded", default=None)


def preloaded(file: str) -> _RawTable | None:
    """The batch a staging run hands the reader of ``file``, else None (read the file)."""
    raw = _PRELOADED.get()
    return raw if raw is not None and raw.file == file else None


def is_stageable(kind: str) -> bool:
    """Whether an export of ``kind`` is a table that can be kept in Parquet."""
    return kind not in _NOT_TABULAR


# --- the staged population ----------------------------------------------------------------------

@dataclass(frozen=True)
class ListingSummary:
    """What the workbench reads of a staged table without loading it: rows, columns, the systems it
    lists (non-empty, sorted) and the non-empty values per column."""

    rows: int
    columns: tuple[str, ...]
    systems: tuple[str, ...]
    non_null: dict[str, int]
    #: How the export was converted: "batches of N rows", or "in memory: why".
    converted: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "columns": list(self.columns), "systems": list(self.systems),
                "non_null": dict(self.non_null), "converted": self.converted}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ListingSummary:
        return cls(int(data["rows"]), tuple(data["columns"]), tuple(data["systems"]),
                   {k: int(v) for k, v in data["non_null"].items()}, str(data.get("converted", "")))


class StagedPopulation(Population):
    """A population kept in Parquet: its evidence is complete, its frame is read back from the
    Parquet file only when something asks for it (the large-population paths never do: they query
    :attr:`parquet` through DuckDB, and read :attr:`summary` or :meth:`batches`)."""

    parquet: Path
    summary: ListingSummary

    def __init__(self, kind: str, table: str, evidence: IPEEvidence, parquet: Path,
                 summary: ListingSummary) -> None:
        for name, value in (("kind", kind), ("table", table), ("evidence", evidence),
                            ("parquet", Path(parquet)), ("summary", summary)):
            object.__setattr__(self, name, value)

    @property
    def frame(self) -> pd.DataFrame:  # type: ignore[override]
        """The canonical table read back from Parquet (cached): exactly the in-memory frame."""
        cached = self.__dict__.get("_frame")
        if cached is None:
            check_read_back(self.evidence.file_name, self.summary.rows)
            cached = read_back(self.parquet)
            object.__setattr__(self, "_frame", cached)
        return cached

    @property
    def loaded(self) -> bool:
        """Whether the frame has been read back into memory."""
        return "_frame" in self.__dict__

    def batches(self, columns: list[str] | None = None, rows: int = BATCH_ROWS) -> Iterator[pd.DataFrame]:
        """The canonical table in consecutive pieces of at most ``rows`` rows (file order), each
        with the in-memory dtypes; ``columns`` limits the columns read."""
        schema = staged_schema(self.parquet)
        wanted = schema if columns is None else pa.schema([schema.field(c) for c in columns],
                                                         metadata=schema.metadata)
        with pq.ParquetFile(self.parquet) as handle:
            for batch in handle.iter_batches(batch_size=rows, columns=columns):
                yield _to_pandas(pa.Table.from_batches([batch]), wanted)

    def rows_where(self, condition: str) -> pd.DataFrame:
        """The rows of the staged table meeting a DuckDB SQL ``condition`` (in file order), with the
        in-memory dtypes: how a check over every row brings back only the rows it has to look at."""
        connection = connect()
        try:
            path = str(self.parquet).replace("'", "''")
            found = connection.sql(f"SELECT * FROM read_parquet('{path}') WHERE {condition} ORDER BY line")
            table = found.to_arrow_table() if hasattr(found, "to_arrow_table") else found.arrow().read_all()
        finally:
            connection.close()
        return _to_pandas(table, staged_schema(self.parquet))

    def __repr__(self) -> str:
        return (f"StagedPopulation(kind={self.kind!r}, table={self.table!r}, rows={self.summary.rows}, "
                f"file={self.evidence.file_name!r}, parquet={self.parquet.name!r})")


class StagedSnapshot(Snapshot):
    """One system's rows of a staged listing at the listing's moment (:class:`~workbench.snapshots.Snapshot`):
    its frame is read from Parquet (that system's rows only) when asked for, and cached."""

    population: StagedPopulation

    def __init__(self, source_id: str, label: str, kind: str, system: str, moment: pd.Timestamp,
                 population: StagedPopulation) -> None:
        for name, value in (("source_id", source_id), ("label", label), ("kind", kind), ("system", system),
                            ("moment", moment), ("population", population)):
            object.__setattr__(self, name, value)

    @property
    def frame(self) -> pd.DataFrame:  # type: ignore[override]
        cached = self.__dict__.get("_frame")
        if cached is None:
            schema = staged_schema(self.population.parquet)
            table = pq.read_table(self.population.parquet, filters=[("system", "=", self.system)])
            cached = _to_pandas(table, schema)
            object.__setattr__(self, "_frame", cached)
        return cached

    def __repr__(self) -> str:
        return f"StagedSnapshot({self.label!r}, {self.system!r}, {self.moment})"

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


# --- DuckDB over staged tables -------------------------------------------------------------------

class OutOfMemory(MemoryError):
    """DuckDB ran out of memory within the limit :data:`MEMORY_LIMIT_VARIABLE` sets."""


def memory_limit() -> str:
    """DuckDB's memory limit for large-population queries: :data:`MEMORY_LIMIT_VARIABLE`, else
    :data:`DEFAULT_MEMORY_LIMIT`; a value DuckDB would not read is refused naming the variable."""
    value = os.environ.get(MEMORY_LIMIT_VARIABLE, "").strip() or DEFAULT_MEMORY_LIMIT
    if not _MEMORY_SIZE.match(value):
        raise ValueError(f"{MEMORY_LIMIT_VARIABLE}={value!r} is not an amount of memory: give a number and a unit, "
                         "e.g. 4GB, 1500MB or 2GiB")
    return value


def connect(spill_dir: Path | None = None, *, ordered: bool = False) -> Any:
    """A DuckDB connection for queries over staged tables: :data:`DUCKDB_THREADS` threads, the memory
    limit of :func:`memory_limit`, and intermediate results spilled to ``spill_dir`` above it (DuckDB
    creates it when it first spills; the caller removes it, e.g. with :func:`remove_spill`); no
    spilling without one.

    ``ordered``: keep insertion order in results without ORDER BY (DuckDB's
    ``preserve_insertion_order``). Off by default: every query of the large-population paths whose
    order matters says ORDER BY, and keeping insertion order costs memory in large scans."""
    import duckdb

    config: dict[str, Any] = {"threads": DUCKDB_THREADS, "memory_limit": memory_limit(),
                              "preserve_insertion_order": ordered}
    if spill_dir is not None:
        Path(spill_dir).parent.mkdir(parents=True, exist_ok=True)
        config["temp_directory"] = str(spill_dir)   # DuckDB creates it (not its parents) when it first spills
    else:
        config["temp_directory"] = ""   # an in-memory database would spill into the working directory
    return duckdb.connect(config=config)


def remove_spill(connection: Any, spill_dir: Path | None) -> None:
    """Close a connection of :func:`connect` and remove its spill folder (what DuckDB left there)."""
    import shutil

    with contextlib.suppress(Exception):
        connection.close()
    if spill_dir is not None:
        shutil.rmtree(spill_dir, ignore_errors=True)


@contextlib.contextmanager
def explained_out_of_memory(what: str) -> Iterator[None]:
    """Turn DuckDB's out-of-memory error in the block into :class:`OutOfMemory`, whose message names
    the step (``what``), the limit and the setting that raises it."""
    import duckdb

    try:
        yield
    except duckdb.OutOfMemoryException as error:
        raise OutOfMemory(
            f"{what}: DuckDB ran out of memory within its limit of {memory_limit()} (environment variable "
            f"{MEMORY_LIMIT_VARIABLE}) although it spills what it can to disk. Set {MEMORY_LIMIT_VARIABLE} higher "
            f"(e.g. {MEMORY_LIMIT_VARIABLE}=4GB) if the machine has the memory, or run fewer controls at once "
            f"(workbench run --jobs 1). DuckDB said: {str(error).splitlines()[0]}") from error


def check_read_back(file: str, rows: int) -> None:
    """Refuse to read a staged table back into pandas above the limit set in the environment."""
    limit = os.environ.get(READ_BACK_LIMIT_VARIABLE)
    if limit is not None and rows > int(limit):
        import traceback

        callers = [f"{frame.name} ({Path(frame.filename).name}:{frame.lineno})" for frame in traceback.extract_stack()
                   if "workbench" in frame.filename and not frame.filename.endswith("staged.py")][-4:]
        raise RuntimeError(f"the whole table of {file} ({rows:,} rows, kept in Parquet as a large population) was "
                           f"asked for in pandas, above {READ_BACK_LIMIT_VARIABLE}={int(limit):,}: this step has no "
                           f"large-population path yet (asked by {' <- '.join(reversed(callers)) or 'a notebook cell'})")


def empty_frame(path: Path) -> pd.DataFrame:
    """The staged table's columns with their in-memory dtypes and no rows."""
    schema = staged_schema(path)
    return _to_pandas(schema.empty_table(), schema)


def staged_schema(path: Path) -> pa.Schema:
    """The Arrow schema of the canonical table as the in-memory path gives it (Parquet stores dates
    in milliseconds; the recorded schema says they are seconds)."""
    metadata = pq.read_schema(path).metadata or {}
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(metadata[_META_SCHEMA])))


def read_back(path: Path) -> pd.DataFrame:
    """The canonical frame of a staged file, with exactly the in-memory dtypes."""
    return _to_pandas(pq.read_table(path), staged_schema(path))


def _to_pandas(table: pa.Table, schema: pa.Schema) -> pd.DataFrame:
    return table.cast(pa.schema(list(schema), metadata=schema.metadata)).to_pandas()


# --- staging ------------------------------------------------------------------------------------

def stage(kind: str, path: Path, target: Path, load: Callable[[], Population], *,
          options: Mapping[str, Any] | None = None, fingerprint: str = "",
          batch_rows: int = BATCH_ROWS, sha256: str | None = None) -> StagedPopulation:
    """The export at ``path`` kept as ``target`` (a Parquet file of its canonical table) with its
    evidence: reused when ``target`` already holds this export (same SHA-256 and ``fingerprint``,
    the read declarations), else converted batch by batch under a lock (write to a temporary file,
    then rename). ``load`` reads the export the in-memory way (it is called once per batch with the
    batch preloaded, or once for the whole file where the batched reading cannot vouch for it).

    ``sha256``: the export's hash as the run froze it, if known. The run's other controls then reuse
    the staged file without reading the export again to hash it (a gigabyte export costs about a
    second each time); the manifest still checks the frozen copy against that hash."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            found = _reuse(target, path, fingerprint, sha256)
            if found is not None:
                return found
            temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            try:
                evidence, summary = _convert(kind, path, temporary, load, options, batch_rows, fingerprint)
                os.replace(temporary, target)
            except PopulationError:
                raise
            except (pa.ArrowException, TypeError, ValueError):
                # a table Parquet cannot hold as it is (e.g. mixed values in one column): held in memory
                return load()  # type: ignore[return-value]
            finally:
                with contextlib.suppress(FileNotFoundError):
                    temporary.unlink()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return StagedPopulation(evidence.kind, evidence.table, evidence, target, summary)


def _reuse(target: Path, path: Path, fingerprint: str, sha256: str | None = None) -> StagedPopulation | None:
    """The staged population already at ``target`` when it was made from the same export (same
    SHA-256 as ``path`` now, or as ``sha256`` when the caller knows it) with the same declarations;
    else None."""
    if not target.is_file():
        return None
    try:
        metadata = pq.read_metadata(target).metadata or {}
        evidence = evidence_from_dict(json.loads(metadata[_META_EVIDENCE]))
        summary = ListingSummary.from_dict(json.loads(metadata[_META_SUMMARY]))
        same = (metadata[_META_FINGERPRINT].decode() == fingerprint
                and evidence.sha256 == (sha256 or file_sha256(path)))
    except (KeyError, ValueError, pa.ArrowException, OSError):
        return None
    return StagedPopulation(evidence.kind, evidence.table, evidence, target, summary) if same else None


class _Writer:
    """Canonical frames appended to one Parquet file with one schema (the first frame's, recorded
    in the file so that it reads back with the in-memory dtypes); what the workbench reads without
    loading the table (rows, systems, non-empty values) and a 64-bit hash of each row's key are
    gathered on the way."""

    def __init__(self, path: Path, key: tuple[str, ...] = ()) -> None:
        self.path = path
        self.key = key
        self.schema: pa.Schema | None = None
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0
        self.systems: set[str] = set()
        self.non_null: Counter[str] = Counter()
        self.key_hashes: list[np.ndarray] = []

    def append(self, frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.schema is None:
            self.schema = table.schema
            stored = dict(table.schema.metadata or {})
            stored[_META_SCHEMA] = base64.b64encode(table.schema.serialize().to_pybytes())
            self.writer = pq.ParquetWriter(self.path, table.schema.with_metadata(stored), compression="zstd")
        else:
            table = table.cast(self.schema)
        self.writer.write_table(table)  # type: ignore[union-attr]
        self.rows += len(frame)
        if "system" in frame:
            self.systems.update(frame["system"].dropna().unique().tolist())
        self.non_null.update({str(c): int(n) for c, n in frame.notna().sum().items()})
        if self.key:
            self.key_hashes.append(pd.util.hash_pandas_object(frame[list(self.key)], index=False).to_numpy())

    def key_may_repeat(self) -> bool:
        """Whether two rows may share a key (equal 64-bit hashes; a collision only costs a re-read)."""
        if not self.key_hashes:
            return False
        hashes = np.sort(np.concatenate(self.key_hashes))
        return bool((hashes[1:] == hashes[:-1]).any())

    def summary(self) -> ListingSummary:
        columns = tuple(self.schema.names) if self.schema is not None else ()
        return ListingSummary(self.rows, columns, tuple(sorted(self.systems)),
                              {c: self.non_null.get(c, 0) for c in columns})

    def close(self, metadata: Mapping[bytes, bytes] | None = None) -> None:
        if self.writer is not None:
            if metadata:
                self.writer.add_key_value_metadata(dict(metadata))
            self.writer.close()
            self.writer = None


class _NotBatched(Exception):
    """The batched reading cannot vouch for the export: read it in memory."""


def _convert(kind: str, path: Path, temporary: Path, load: Callable[[], Population],
             options: Mapping[str, Any] | None, batch_rows: int, fingerprint: str
             ) -> tuple[IPEEvidence, ListingSummary]:
    """Convert the export into ``temporary``, batch by batch where the batched reading can vouch
    for it, else in memory; the evidence and summary of the table written (recorded in the file)."""
    writer = _Writer(temporary)
    try:
        evidence = _convert_batches(kind, path, writer, load, options, batch_rows)
        converted = f"batches of {batch_rows:,} rows"
    except (_NotBatched, PopulationError) as why:
        writer.close()
        writer = _Writer(temporary)
        population = load()  # raises the in-memory path's exact error, if any
        writer.append(population.frame)
        evidence = population.evidence
        converted = f"in memory: {why if isinstance(why, _NotBatched) else 'a value the reader refuses'}"
    summary = replace(writer.summary(), converted=converted)
    writer.close({_META_EVIDENCE: json.dumps(evidence.to_dict(), sort_keys=True).encode(),
                  _META_SUMMARY: json.dumps(summary.to_dict(), sort_keys=True).encode(),
                  _META_FINGERPRINT: fingerprint.encode()})
    return evidence, summary


def _convert_batches(kind: str, path: Path, writer: _Writer, load: Callable[[], Population],
                     options: Mapping[str, Any] | None, batch_rows: int) -> IPEEvidence:
    """Read the export batch by batch through its reader, streaming each canonical batch into
    ``writer``; the evidence of the batches added up. Raises :class:`_NotBatched` where the
    in-memory path must read the file (its key repeats: exact duplicate lines are judged over the
    whole file, and the evidence lists the repeated keys with all their lines)."""
    if not is_stageable(kind):
        raise _NotBatched(kind)
    opts = _options(kind, path, options)
    batches, finish = _raw_batches(path, opts, batch_rows)
    merged: _MergedEvidence | None = None
    for raw in batches:
        token = _PRELOADED.set(raw)
        try:
            population = load()
        finally:
            _PRELOADED.reset(token)
        if population.evidence.duplicate_rows or not population.evidence.key_unique:
            raise _NotBatched("repeated key")
        if merged is None:
            merged = _MergedEvidence(population.evidence)
            writer.key = tuple(population.evidence.key_columns)
        else:
            merged.add(population.evidence)
        writer.append(population.frame)
    sha256, size = finish()
    if merged is None:
        raise _NotBatched("no rows")
    if writer.key_may_repeat():
        raise _NotBatched("repeated key")
    return replace(merged.evidence(), sha256=sha256, size_bytes=size)


def _options(kind: str, path: Path, options: Mapping[str, Any] | None) -> Any:
    """The declared reader options as the reader will parse them; anything unusual is read in memory."""
    from .context import ReadContext
    from .options import _MAPPED_OPTIONS, COMMON_OPTIONS

    try:
        opts = ReadContext(path=path, options=options).reader_options(kind, {**COMMON_OPTIONS, **_MAPPED_OPTIONS})
    except (PopulationError, ValueError, TypeError):
        raise _NotBatched("options") from None
    if not opts.transform.empty or opts.number_headers or opts.pad_missing_fields:
        raise _NotBatched("declared transform")
    return opts


# --- the evidence of the batches, added up --------------------------------------------------------

_COUNTED_NOTE = re.compile(r"^(Column '.*': )(\d+)( epoch-zero value\(s\) .*)$", re.S)


class _MergedEvidence:
    """The evidence of consecutive batches of one export added up: rows, empty values, control
    totals, rows rejected, display names not mapped; notes in the order first seen (a note that
    counts, such as epoch-zero values, is summed)."""

    def __init__(self, first: IPEEvidence) -> None:
        self.first = first
        self.rows = first.row_count
        self.nulls = Counter(first.null_counts)
        self.totals = {name: Counter(counts) for name, counts in first.control_totals.items()}
        self.rejected = list(first.rows_rejected)
        self.unmapped = Counter(first.unmapped_display_names)
        self.notes: dict[str, int | None] = {}
        self._add_notes(first.notes)

    def add(self, evidence: IPEEvidence) -> _MergedEvidence:
        self.rows += evidence.row_count
        self.nulls.update(evidence.null_counts)
        for name, counts in evidence.control_totals.items():
            self.totals.setdefault(name, Counter()).update(counts)
        self.rejected += evidence.rows_rejected
        self.unmapped.update(evidence.unmapped_display_names)
        self._add_notes(evidence.notes)
        return self

    def _add_notes(self, notes: tuple[str, ...]) -> None:
        for note in notes:
            counted = _COUNTED_NOTE.match(note)
            key = f"{counted.group(1)}\0{counted.group(3)}" if counted else note
            number = int(counted.group(2)) if counted else None
            previous = self.notes.get(key)
            self.notes[key] = number if previous is None else previous + (number or 0)

    def _notes(self) -> tuple[str, ...]:
        out = []
        for key, number in self.notes.items():
            if number is None:
                out.append(key)
            else:
                head, tail = key.split("\0")
                out.append(f"{head}{number}{tail}")
        return tuple(out)

    def evidence(self) -> IPEEvidence:
        return replace(
            self.first, row_count=self.rows, null_counts={k: int(self.nulls.get(k, 0)) for k in self.first.null_counts},
            control_totals={name: dict(sorted(counts.items())) for name, counts in self.totals.items()},
            rows_rejected=tuple(sorted(self.rejected, key=lambda r: r.line)),
            unmapped_display_names=dict(sorted(self.unmapped.items())), notes=self._notes())


def evidence_from_dict(data: Mapping[str, Any]) -> IPEEvidence:
    """The evidence recorded in a staged file (:meth:`IPEEvidence.to_dict`) as an object again."""
    return IPEEvidence(
        kind=data["kind"], table=data["table"], source_system=data["source_system"], file_name=data["file_name"],
        path=data["path"], sha256=data["sha256"], size_bytes=int(data["size_bytes"]),
        extracted_at=data["extracted_at"], row_count=int(data["row_count"]), column_count=int(data["column_count"]),
        columns=tuple(data["columns"]), key_columns=tuple(data["key_columns"]), key_unique=bool(data["key_unique"]),
        duplicate_key_count=int(data["duplicate_key_count"]),
        duplicate_keys=tuple(DuplicateKey(tuple(None if v == "(empty)" else v for v in d["values"]),
                                          tuple(d["lines"])) for d in data["duplicate_keys"]),
        null_counts=dict(data["null_counts"]), control_totals={k: dict(v) for k, v in data["control_totals"].items()},
        rows_rejected=tuple(RejectedRow(r["line"], r["reason"]) for r in data["rows_rejected"]),
        unmapped_display_names=dict(data["unmapped_display_names"]), timezone=data["timezone"],
        notes=tuple(data["notes"]), file_format=data["file_format"], delimiter=data["delimiter"],
        delimiter_detected=bool(data["delimiter_detected"]), encoding=data["encoding"],
        preamble=tuple(data["preamble"]), options=dict(data["options"]),
        duplicate_rows=tuple(DuplicateRow(d["line"], d["duplicate_of"]) for d in data["duplicate_rows"]),
        mapping=tuple(data["mapping"]), mapping_detail=dict(data["mapping_detail"]),
        padded_lines=tuple(data["padded_lines"]))


# --- the export in raw batches ------------------------------------------------------------------

def _raw_batches(path: Path, opts: Any, batch_rows: int
                 ) -> tuple[Iterator[_RawTable], Callable[[], tuple[str, int]]]:
    """The export as consecutive raw tables of ``batch_rows`` rows, and a function giving its
    SHA-256 and size once they are read (raising :class:`_NotBatched` if the file turned out to
    need the in-memory path after all)."""
    file = _display_path(path)
    suffix = path.suffix.casefold()
    if suffix in (".parquet", ".pq"):
        return _parquet_batches(path, file, opts, batch_rows)
    if suffix in (".xlsx", ".xlsm", ".xls", ".json", ".jsonl", ".ndjson"):
        raise _NotBatched(suffix)
    return _csv_batches(path, file, opts, batch_rows)


def _parquet_batches(path: Path, file: str, opts: Any, batch_rows: int
                     ) -> tuple[Iterator[_RawTable], Callable[[], tuple[str, int]]]:
    from .parquet import _flat_columns

    _not_for(file, opts, ("delimiter", "preamble_lines", "encoding", "fast", "sheet"), "a Parquet file")
    job = _HashJob(path)
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError):
        raise _NotBatched("unreadable") from None
    header = [str(n).strip() for n in schema.names]
    wanted = pa.schema([f.with_type(_TEXT) if pa.types.is_string(f.type) else f for f in schema])

    def batches() -> Iterator[_RawTable]:
        first = 1
        try:
            with pq.ParquetFile(path) as handle:
                for batch in handle.iter_batches(batch_size=batch_rows):
                    table = pa.Table.from_batches([batch]).cast(wanted)
                    n = table.num_rows
                    yield _RawTable(file=file, header=header, header_line=None,
                                    columns=_flat_columns(table, file),
                                    lines=np.arange(first, first + n, dtype="int64"), sha256="", size_bytes=0,
                                    file_format="parquet", unit="row")
                    first += n
        except (pa.ArrowException, OSError):
            raise _NotBatched("unreadable") from None

    def finish() -> tuple[str, int]:
        job.result(file)
        return job.sha256, job.size

    return batches(), finish


def _csv_batches(path: Path, file: str, opts: Any, batch_rows: int
                 ) -> tuple[Iterator[_RawTable], Callable[[], tuple[str, int]]]:
    """A CSV file through Arrow's streaming reader, with the in-memory Arrow path's options and
    line numbering (:func:`.csv_fast._read_csv_fast`); anything that path would hand to the csv
    module (or report as malformed) is left to the in-memory path."""
    import csv

    import pyarrow.csv as pv

    from .csv_exact import _sniff_delimiter
    from .csv_fast import (
        _convert_options,
        _newlines_per_row,
        _parse_options,
        _read_head,
        _record_lines,
        _set_aside_empty_rows,
    )
    from .formats import _fast_path_bytes

    _not_for(file, opts, ("sheet",), "a CSV file (only to .xlsx)")
    size = path.stat().st_size
    if not (opts.fast if opts.fast is not None else size > _fast_path_bytes()):
        raise _NotBatched("csv module")
    delimiter = opts.delimiter
    if path.suffix.casefold() == ".tsv" and not opts.delimiter_declared:
        delimiter = "\t"
    head = _read_head(path, file, opts)
    if isinstance(head, str):
        raise _NotBatched(head)
    detected = delimiter == "auto"
    if detected:
        delimiter = _sniff_delimiter(head.header_text, file, head.header_line)
    if head.data_offset >= size:
        raise _NotBatched("header only")
    quoted = _holds_byte(path, b'"', head.data_offset)
    header = [h.replace("\ufeff", "").strip() for h in next(csv.reader([head.header_text], delimiter=delimiter))]
    names = [f"c{j}" for j in range(len(header))]
    invalid: list[int] = []
    state = {"line": head.header_line + 1, "rows": 0, "embedded": 0}
    tallied: list[_ByteTally] = []

    def on_invalid(row: Any) -> str:
        invalid.append(1)
        return "error"

    def raw_table(table: pa.Table, first_batch: bool) -> _RawTable:
        rows = table.num_rows
        per_row = _newlines_per_row(table) if quoted else np.zeros(rows, dtype="int64")
        lines = _record_lines(state["line"], rows, per_row)
        state["line"] += rows + int(per_row.sum())
        state["rows"] += rows
        state["embedded"] += int(per_row.sum())
        columns = [table.column(j) for j in range(len(names))]
        rejected = list(head.rejected) if first_batch else []
        columns, lines = _set_aside_empty_rows(path, columns, lines, rejected)
        return _RawTable(file=file, header=header, header_line=head.header_line, columns=columns, lines=lines,
                         sha256="", size_bytes=0, file_format="csv (Arrow)", rejected=rejected,
                         delimiter=delimiter, delimiter_detected=detected,
                         encoding="utf-8 (byte-order mark)" if head.bom else "utf-8", preamble=head.preamble)

    def batches() -> Iterator[_RawTable]:
        # read, not mapped (a mapped file's pages would count as resident memory), and tallied
        # (SHA-256, NUL bytes, quoting, line ends) as Arrow reads it: the file is read once
        with _ReadThrough(path, head.data_offset, delimiter if quoted else None, head.header_offset) as source:
            reader = pv.open_csv(
                source, read_options=pv.ReadOptions(column_names=names, use_threads=True, block_size=1 << 24),
                parse_options=_parse_options(delimiter, quoted, on_invalid), convert_options=_convert_options(names))
            pending: list[pa.RecordBatch] = []
            held = 0
            first = True
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except pa.ArrowInvalid:
                    raise _NotBatched("malformed") from None
                pending.append(batch)
                held += batch.num_rows
                while held >= batch_rows:
                    table = pa.Table.from_batches(pending)
                    yield raw_table(table.slice(0, batch_rows), first)
                    first = False
                    rest = table.slice(batch_rows)
                    pending, held = rest.to_batches(), rest.num_rows
            if held or first:
                table = pa.Table.from_batches(pending, schema=pa.schema([(n, _TEXT) for n in names]))
                yield raw_table(table, first)
            tallied.append(source.result(file))
        if invalid:
            raise _NotBatched("malformed row")

    def finish() -> tuple[str, int]:
        if not tallied:
            raise _NotBatched("not read to the end")
        tally = tallied[0]
        if tally.nul:
            raise _NotBatched("NUL byte")
        if tally.suspect or invalid:
            raise _NotBatched("quoting")
        if tally.newlines is not None:  # counted where values may hold newlines
            expected = head.header_line + state["rows"] - (0 if tally.last in (b"\n", b"\r") else 1)
            if tally.newlines - expected != state["embedded"]:
                raise _NotBatched("line ends")
        return tally.sha256, tally.size

    return batches(), finish


def fingerprint(*parts: Any) -> str:
    """A short digest of how a source is read (its kind, declarations), recorded with its staged file."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]
