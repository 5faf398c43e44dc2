"""The completeness-and-accuracy evidence of one export (:class:`IPEEvidence`), the
:class:`Population` that pairs a canonical table with it, and what the evidence counts: repeated
keys (vectorised) and control totals."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .arrowtext import _arrow_of
from .errors import DuplicateKey, DuplicateRow, RejectedRow, _show
from .files import _RawTable
from .options import _Options
from .transform import Disclosure


@dataclass(frozen=True)
class IPEEvidence:
    """Completeness-and-accuracy evidence for one export file (information produced by entity).

    ``columns`` are the header names as spelt in the file; ``null_counts`` counts empty values per
    required column of the export's contract; ``key_columns`` are canonical columns (the key is
    checked after normalisation, so ``JDoe`` and ``jdoe`` are the same key). ``control_totals``
    maps a name to a small ``{value: count}`` dict (empty values counted under ``"(empty)"``).

    How the file was read: ``file_format`` (``csv``, ``csv (Arrow)``, ``xlsx``, ``parquet``,
    ``ndjson``, ``json``), ``delimiter`` and whether it was ``delimiter_detected`` (sniffed from
    the header line), ``encoding``, ``preamble`` (the text of the lines skipped above the header),
    ``options`` (the reader options as declared) and ``duplicate_rows`` (exact duplicate lines
    dropped, each with the line it repeats). Line counts reconcile: lines read = ``row_count`` +
    ``len(rows_rejected)`` + ``duplicates_dropped``. ``to_dict()`` gives the same content
    JSON-ready for the run manifest.
    """

    kind: str
    table: str
    source_system: str
    file_name: str
    path: str
    sha256: str
    size_bytes: int
    extracted_at: str | None
    row_count: int
    column_count: int
    columns: tuple[str, ...]
    key_columns: tuple[str, ...]
    key_unique: bool
    duplicate_key_count: int
    duplicate_keys: tuple[DuplicateKey, ...]
    null_counts: dict[str, int]
    control_totals: dict[str, dict[str, int]]
    rows_rejected: tuple[RejectedRow, ...] = ()
    unmapped_display_names: dict[str, int] = field(default_factory=dict)
    timezone: str = "UTC"
    notes: tuple[str, ...] = ()
    file_format: str = "csv"
    delimiter: str | None = None
    delimiter_detected: bool = False
    encoding: str | None = None
    preamble: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    duplicate_rows: tuple[DuplicateRow, ...] = ()
    mapping: tuple[str, ...] = ()
    mapping_detail: dict[str, Any] = field(default_factory=dict)
    padded_lines: tuple[int, ...] = ()

    @property
    def duplicates_dropped(self) -> int:
        """How many exact duplicate lines were dropped (listed in ``duplicate_rows``)."""
        return len(self.duplicate_rows)

    def as_rows(self) -> list[tuple[str, str]]:
        """The evidence as (label, value) pairs for a workpaper table, in reading order."""
        rows: list[tuple[str, str]] = [
            ("Source system", self.source_system),
            ("Export", self.kind),
            ("File", self.file_name),
            ("Path", self.path),
            ("SHA-256", self.sha256),
            ("Size (bytes)", f"{self.size_bytes:,}"),
            ("Read as", self._read_as()),
            ("Reader options", _describe_options(self.options)),
        ]
        if self.mapping:
            rows.append(("How the export became the table", "; ".join(self.mapping)))
        if self.padded_lines:
            shown = ", ".join(map(str, self.padded_lines[:20]))
            more = ", ..." if len(self.padded_lines) > 20 else ""
            rows.append(("Rows with missing trailing fields read as empty (pad_missing_fields)",
                         f"{len(self.padded_lines):,}: lines {shown}{more}"))
        if self.preamble:
            shown = "; ".join(_show(line) for line in self.preamble[:5])
            more = f"; ... ({len(self.preamble)} lines)" if len(self.preamble) > 5 else ""
            rows.append(("Preamble skipped above the header",
                         f"{len(self.preamble)} line(s): {shown}{more}"))
        rows += [
            ("Extracted at (declared)", self.extracted_at or "not declared"),
            ("Rows", f"{self.row_count:,}"),
            ("Columns", str(self.column_count)),
            ("Column names", ", ".join(self.columns)),
            ("Key", " + ".join(self.key_columns)),
        ]
        if self.key_unique:
            rows.append(("Key unique", "yes"))
        else:
            examples = "; ".join(
                f"{' / '.join(_fmt(v) for v in d.values)} (lines {', '.join(map(str, d.lines))})"
                for d in self.duplicate_keys
            )
            rows.append(("Key unique", f"no: {self.duplicate_key_count} key(s) repeated, e.g. "
                                       f"{examples}"))
        if self.duplicate_rows:
            shown = "; ".join(f"line {d.line} repeats line {d.duplicate_of}"
                              for d in self.duplicate_rows[:20])
            more = "; ..." if len(self.duplicate_rows) > 20 else ""
            rows.append(("Exact duplicate lines dropped",
                         f"{len(self.duplicate_rows):,}: {shown}{more}"))
        else:
            rows.append(("Exact duplicate lines dropped", "none"))
        empties = {c: n for c, n in self.null_counts.items() if n}
        rows.append(("Empty values by column (an empty cell may be legitimate, e.g. an open end date)",
                     "; ".join(f"{c}: {n}" for c, n in empties.items()) or "none"))
        for name, counts in self.control_totals.items():
            rows.append((f"Count by {name}",
                         "; ".join(f"{k}: {v:,}" for k, v in counts.items()) or "none"))
        rows.append(("Rows rejected",
                     "; ".join(f"line {r.line}: {r.reason}" for r in self.rows_rejected)
                     or "none"))
        if self.unmapped_display_names:
            rows.append(("Display names not mapped to a system",
                         "; ".join(f"{k}: {v}" for k, v in self.unmapped_display_names.items())))
        rows.append(("Time zone for values without a zone", self.timezone))
        for note in self.notes:
            rows.append(("Note", note))
        return rows

    def _read_as(self) -> str:
        parts = [self.file_format]
        if self.delimiter is not None:
            how = ("detected from the header line" if self.delimiter_detected
                   else "declared" if "delimiter" in self.options else "default")
            parts.append(f"delimiter {_delimiter_label(self.delimiter)} ({how})")
        if self.encoding:
            parts.append(f"encoding {self.encoding}")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the evidence (for manifests)."""
        return {
            "kind": self.kind, "table": self.table, "source_system": self.source_system,
            "file_name": self.file_name, "path": self.path, "sha256": self.sha256,
            "size_bytes": self.size_bytes, "extracted_at": self.extracted_at,
            "file_format": self.file_format, "delimiter": self.delimiter,
            "delimiter_detected": self.delimiter_detected, "encoding": self.encoding,
            "options": _jsonable(self.options), "preamble": list(self.preamble),
            "row_count": self.row_count, "column_count": self.column_count,
            "columns": list(self.columns), "key_columns": list(self.key_columns),
            "key_unique": self.key_unique, "duplicate_key_count": self.duplicate_key_count,
            "duplicate_keys": [{"values": [_fmt(v) for v in d.values], "lines": list(d.lines)}
                               for d in self.duplicate_keys],
            "duplicates_dropped": self.duplicates_dropped,
            "duplicate_rows": [{"line": d.line, "duplicate_of": d.duplicate_of}
                               for d in self.duplicate_rows],
            "null_counts": dict(self.null_counts),
            "control_totals": {k: dict(v) for k, v in self.control_totals.items()},
            "rows_rejected": [{"line": r.line, "reason": r.reason} for r in self.rows_rejected],
            "unmapped_display_names": dict(self.unmapped_display_names),
            "timezone": self.timezone, "notes": list(self.notes),
            "mapping": list(self.mapping), "mapping_detail": _jsonable(self.mapping_detail),
            "padded_lines": list(self.padded_lines),
        }


def _fmt(value: Any) -> str:
    if value is None or (not isinstance(value, (tuple, list)) and pd.isna(value)):
        return "(empty)"
    return str(value)


def _jsonable(value: Any) -> Any:
    """Options as plain JSON types (mappings and sequences copied, other values as text)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


#: Options that declare how an export becomes its table; a long one is summarised in the
#: population section and given in full in the workpaper's appendix.
MAPPING_OPTIONS = ("columns", "derive", "values", "null_tokens", "formats")
_INLINE_LIMIT = 160


def _describe_options(options: Mapping[str, Any]) -> str:
    """The declared options in one line; a long mapping option is counted, not listed."""
    if not options:
        return "none (defaults)"
    parts = []
    for name, value in options.items():
        text = json.dumps(_jsonable(value), ensure_ascii=False)
        if name in MAPPING_OPTIONS and len(text) > _INLINE_LIMIT and isinstance(value, Mapping):
            text = f"{len(value)} entries (in full in the appendix)"
        parts.append(f"{name}={text}")
    return "; ".join(parts)


def _delimiter_label(delimiter: str) -> str:
    return {"\t": "tab", ",": "',' (comma)", ";": "';' (semicolon)",
            "|": "'|' (pipe)"}.get(delimiter, repr(delimiter))


@dataclass(frozen=True, eq=False)
class Population:
    """One export read into its canonical table, with its IPE evidence."""

    kind: str
    table: str
    frame: pd.DataFrame
    evidence: IPEEvidence

    def __repr__(self) -> str:
        return (f"Population(kind={self.kind!r}, table={self.table!r}, "
                f"rows={len(self.frame)}, file={self.evidence.file_name!r})")


def _population(*, kind: str, table: str, frame: pd.DataFrame, key: Sequence[str],
                repeated: np.ndarray, totals: Mapping[str, str], source_system: str,
                extracted_at: str | None, path: Path, raw: _RawTable,
                null_counts: dict[str, int], rejected: Sequence[RejectedRow],
                unmapped: Mapping[str, int], timezone: str, notes: Sequence[str],
                options: _Options, duplicate_rows: Sequence[DuplicateRow],
                disclosure: Disclosure | None = None) -> Population:
    unique, count, examples = _duplicate_examples(frame, key, repeated)
    control_totals = {label: _count(frame[col]) for label, col in totals.items()}
    evidence = IPEEvidence(
        kind=kind, table=table, source_system=source_system, file_name=path.name,
        path=str(path), sha256=raw.sha256, size_bytes=raw.size_bytes,
        extracted_at=None if extracted_at is None else str(extracted_at),
        row_count=len(frame), column_count=len(raw.header), columns=tuple(raw.header),
        key_columns=tuple(key), key_unique=unique, duplicate_key_count=count,
        duplicate_keys=examples, null_counts=null_counts, control_totals=control_totals,
        rows_rejected=tuple(sorted(rejected, key=lambda r: r.line)),
        unmapped_display_names=dict(sorted(unmapped.items())), timezone=timezone,
        notes=tuple(notes), file_format=raw.file_format, delimiter=raw.delimiter,
        delimiter_detected=raw.delimiter_detected, encoding=raw.encoding,
        preamble=raw.preamble, options=dict(options.declared),
        duplicate_rows=tuple(duplicate_rows),
        mapping=tuple(disclosure.summary()) if disclosure is not None else (),
        mapping_detail=disclosure.to_dict() if disclosure is not None else {},
        padded_lines=raw.padded,
    )
    return Population(kind=kind, table=table, frame=frame, evidence=evidence)


def _count(series: pd.Series) -> dict[str, int]:
    """Counts by value, empty values as '(empty)', sorted by value for stable workpapers."""
    counts: Counter[str] = Counter()
    for value, count in series.value_counts(dropna=False).items():
        counts["(empty)" if pd.isna(value) else str(value)] += int(count)
    return dict(sorted(counts.items()))


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _codes(series: pd.Series) -> np.ndarray:
    """An int64 code per row, equal for equal values (NA has its own code)."""
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        encoded = pc.dictionary_encode(_arrow_of(series))  # one dictionary for all chunks
        indices = pa.chunked_array([c.indices for c in encoded.chunks], pa.int32())
        return pc.fill_null(indices, -1).to_numpy(zero_copy_only=False)
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return series.to_numpy(dtype="datetime64[us]").view("int64")
    if dtype == bool:  # noqa: E721  # a numpy dtype equals bool; `is` would not
        return series.to_numpy().astype("int64")
    return pd.factorize(series, use_na_sentinel=True)[0].astype("int64")


def _repeated_mask(frame: pd.DataFrame, key: Sequence[str]) -> np.ndarray:
    """Rows whose key occurs more than once (vectorised: a 64-bit hash finds candidates, then
    the candidates are compared exactly)."""
    n = len(frame)
    if not key or not n:
        return np.zeros(n, dtype=bool)
    digest = np.full(n, _MIX, dtype=np.uint64)
    for column in key:  # FNV-style combination, then one avalanche; collisions cost only time
        digest *= np.uint64(0x100000001B3)
        digest ^= _codes(frame[column]).astype(np.int64, copy=False).view(np.uint64)
    digest ^= digest >> np.uint64(31)
    digest *= np.uint64(0xBF58476D1CE4E5B9)
    digest ^= digest >> np.uint64(29)
    ordered = np.sort(digest)
    repeats = ordered[1:][ordered[1:] == ordered[:-1]]
    if not repeats.size:
        return np.zeros(n, dtype=bool)
    candidates = np.isin(digest, repeats)
    subset = frame.loc[candidates, list(key)]
    keyed = subset.astype(object).where(subset.notna(), None)
    exact = keyed.duplicated(keep=False).to_numpy()
    mask = np.zeros(n, dtype=bool)
    mask[np.flatnonzero(candidates)[exact]] = True
    return mask


def _duplicate_examples(frame: pd.DataFrame, key: Sequence[str], repeated: np.ndarray
                        ) -> tuple[bool, int, tuple[DuplicateKey, ...]]:
    """Whether ``key`` is unique; the number of repeated keys and 10 examples (first seen)."""
    if not repeated.any():
        return True, 0, ()
    subset = frame.loc[repeated, list(key)]
    keyed = subset.astype(object).where(subset.notna(), None)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for values, line in zip(keyed.itertuples(index=False, name=None),
                            frame["line"].to_numpy()[repeated]):
        groups.setdefault(tuple(values), []).append(int(line))
    examples = tuple(DuplicateKey(values=k, lines=tuple(v)) for k, v in list(groups.items())[:10])
    return False, len(groups), examples
