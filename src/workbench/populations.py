"""Populations: read access-control exports into canonical tables, with IPE evidence.

Every test of an access control starts from a population: the HR worker list, the accounts of a
system, the grants (account x entitlement), the decisions of a review campaign, the access tickets.
This module turns each export file into one *canonical* table whose column names and dtypes are a
contract the analytics code relies on, and records the completeness-and-accuracy evidence an
auditor needs for information produced by the entity (IPE): which file, its SHA-256, the declared
extraction time, row and column counts, key uniqueness, empty values, control totals and anything
rejected.

Principles (see DESIGN.md section 3):

- Every CSV is read with every value as text first, so leading zeros (``004217``), ``N/A``,
  ``null`` and formula-looking text (``=cmd|...``) survive unchanged. Whitespace around values and
  headers is stripped. Values are then converted column by column, and a value that does not fit
  raises :class:`PopulationError` naming the file, the line, the column, what was expected and
  what was found. Nothing is guessed, shifted or silently dropped.
- Join keys (e-mails, logins) are casefolded; the values as exported stay in ``*_original``
  columns.
- Date-only values become ``datetime64[s]`` (naive, midnight). Timestamps become
  ``datetime64[us, UTC]``; values without a zone are read in the zone declared for the source.
- Sentinels (``N/A``, ``no_information``, ``not_supported``, an empty ``lastLogin``, epoch zero)
  are *states*, carried in ``*_state`` columns next to a NaT, never turned into dates.
- Every canonical row keeps ``line``: the 1-based line of the source file where its record
  starts (the header is line 1), so an exception can cite its evidence row.

The entry point is :func:`load_source`; :data:`READERS` maps each export kind to its reader.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

__all__ = [
    "ACCOUNT_COLUMNS",
    "CAMPAIGN_COLUMNS",
    "DEFAULT_PRIVILEGED_ENTITLEMENTS",
    "DuplicateKey",
    "GRANT_COLUMNS",
    "IDENTITY_COLUMNS",
    "IPEEvidence",
    "Population",
    "PopulationError",
    "PRIVILEGED_APPROVAL_COLUMNS",
    "READERS",
    "REQUEST_COLUMNS",
    "REVIEW_DECISION_COLUMNS",
    "Reconciliation",
    "RejectedRow",
    "SOD_RULE_COLUMNS",
    "erp_accounts",
    "file_sha256",
    "github_accounts",
    "load_source",
    "reconcile",
]

# --------------------------------------------------------------------------------------------
# Contract constants
# --------------------------------------------------------------------------------------------

#: Entitlements treated as privileged, by system id. Matching is case-insensitive. Pass
#: ``privileged_entitlements=`` to :func:`load_source` to use the entity's own list instead.
DEFAULT_PRIVILEGED_ENTITLEMENTS: dict[str, frozenset[str]] = {
    "ledgerline_erp": frozenset({"System Administrator", "Security Administrator"}),
    "aws_prod": frozenset({"Administrators", "PowerUsers", "BillingAdmins"}),
    "github": frozenset({"owner"}),
}

#: Canonical columns of the ``identities`` table (HR workers).
IDENTITY_COLUMNS: tuple[str, ...] = (
    "employee_id", "full_name", "email", "email_original", "department", "title",
    "manager_employee_id", "cost_center", "hire_date", "status", "status_original",
    "termination_date", "last_day_of_work", "termination_reason", "eligible_for_rehire", "line",
)

#: Columns every ``accounts`` table starts with; system-specific columns follow, ``line`` last.
ACCOUNT_COLUMNS: tuple[str, ...] = (
    "system", "account_id", "login", "login_original", "email", "email_original", "employee_id",
    "display_name", "status", "status_original", "created_at", "last_login_at",
    "last_login_state", "status_changed_at", "mfa_enabled", "password_enabled", "is_root",
)

#: Columns every ``grants`` table starts with; source-specific columns follow, ``line`` last.
GRANT_COLUMNS: tuple[str, ...] = (
    "system", "account_id", "login", "login_original", "email", "email_original", "entitlement",
    "entitlement_type", "privileged", "granted_at", "removed_at", "account_status",
)

#: Canonical columns of the ``review_decisions`` table (certification campaign export).
REVIEW_DECISION_COLUMNS: tuple[str, ...] = (
    "campaign_id", "campaign_name", "certification_id", "reviewer_name", "reviewer_email",
    "reviewer_email_original", "subject_name", "subject_email", "subject_email_original",
    "system", "application", "access_type", "entitlement", "privileged", "decision",
    "decision_original", "decided_at", "comments", "line",
)

#: Canonical columns of the ``campaigns`` table (campaign status report).
CAMPAIGN_COLUMNS: tuple[str, ...] = (
    "campaign_id", "campaign_name", "type", "created_at", "activated_at", "deadline", "status",
    "status_original", "completed_at", "total_items", "decisions_made", "signed_off_by",
    "signed_off_at", "line",
)

#: Canonical columns of the ``requests`` table (ServiceNow requested items).
REQUEST_COLUMNS: tuple[str, ...] = (
    "ticket", "requested_for", "requested_for_original", "opened_by", "opened_by_original",
    "item", "system", "application", "entitlement", "action", "action_original", "approval",
    "approval_original", "approver", "approver_original", "approved_at", "opened_at",
    "closed_at", "state", "line",
)

#: Canonical columns of the ``sod_rules`` table.
SOD_RULE_COLUMNS: tuple[str, ...] = (
    "rule_id", "system", "function_a", "entitlements_a", "function_b", "entitlements_b",
    "risk_level", "description", "line",
)

#: Canonical columns of the ``privileged_approvals`` table.
PRIVILEGED_APPROVAL_COLUMNS: tuple[str, ...] = (
    "system", "account", "account_original", "entitlement", "approved_by", "approved_on",
    "expires_on", "line",
)

# States carried next to a timestamp that may hold a sentinel instead of a value.
USED = "used"                   # a real timestamp of use
SET = "set"                     # a real timestamp (changed / rotated / next rotation)
NEVER = "never"                 # the system says: never used
NO_INFORMATION = "no_information"
NOT_APPLICABLE = "not_applicable"
NOT_SUPPORTED = "not_supported"

TIMESTAMP_DTYPE = "datetime64[us, UTC]"
DATE_DTYPE = "datetime64[s]"
_EPOCH = pd.Timestamp(0, tz="UTC")

# --------------------------------------------------------------------------------------------
# Errors and evidence
# --------------------------------------------------------------------------------------------


class PopulationError(ValueError):
    """An export does not match its contract.

    Attributes: ``file`` (the file as shown in messages, e.g. ``hr/workday_workers.csv``),
    ``row`` (1-based line in the file, the header is line 1; None when the problem is not one
    line), ``column`` (the column as spelt in the file), ``expected``, ``found`` and
    ``more_rows`` (further lines with the same problem in that column).
    """

    def __init__(
        self,
        file: str,
        message: str | None = None,
        *,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
        found: str | None = None,
        more_rows: Sequence[int] = (),
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.expected = expected
        self.found = found
        self.more_rows = tuple(more_rows)
        where = [file]
        if row is not None:
            where.append(f"line {row}")
        if column is not None:
            where.append(f"column '{column}'")
        if expected is not None:
            body = f"expected {expected}, found {_show(found)}."
        else:
            body = message or "invalid export."
        if expected is not None and message:
            body = f"{body} {message}"
        text = f"{', '.join(where)}: {body}"
        if self.more_rows:
            shown = ", ".join(str(r) for r in self.more_rows[:10])
            tail = ", ..." if len(self.more_rows) > 10 else ""
            text += (f" The same problem is on {len(self.more_rows)} more line(s) in this column:"
                     f" {shown}{tail}.")
        super().__init__(text)

    @property
    def line(self) -> int | None:
        """Alias of ``row``: the 1-based line number in the file."""
        return self.row


def _either(options: Sequence[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    options = list(options)
    if len(options) <= 1:
        return "".join(options)
    return f"{', '.join(options[:-1])} or {options[-1]}"


def _show(value: str | None) -> str:
    """Render a found value for an error message."""
    if value is None:
        return "nothing"
    if value == "":
        return "an empty value"
    if len(value) > 80:
        value = value[:77] + "..."
    return repr(value)


@dataclass(frozen=True)
class RejectedRow:
    """A line of the file that produced no canonical row, and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class DuplicateKey:
    """One key value that occurs on more than one line."""

    values: tuple[Any, ...]
    lines: tuple[int, ...]


@dataclass(frozen=True)
class IPEEvidence:
    """Completeness-and-accuracy evidence for one export file (information produced by entity).

    ``columns`` are the header names as spelt in the file; ``null_counts`` counts empty values per
    required column of the export's contract; ``key_columns`` are canonical columns (the key is
    checked after normalisation, so ``JDoe`` and ``jdoe`` are the same key). ``control_totals``
    maps a name to a small ``{value: count}`` dict (empty values counted under ``"(empty)"``).
    ``to_dict()`` gives the same content JSON-ready for the run manifest.
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

    def as_rows(self) -> list[tuple[str, str]]:
        """The evidence as (label, value) pairs for a workpaper table, in reading order."""
        rows: list[tuple[str, str]] = [
            ("Source system", self.source_system),
            ("Export", self.kind),
            ("File", self.file_name),
            ("Path", self.path),
            ("SHA-256", self.sha256),
            ("Size (bytes)", f"{self.size_bytes:,}"),
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
        empties = {c: n for c, n in self.null_counts.items() if n}
        rows.append(("Empty values in required columns",
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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the evidence (for manifests)."""
        return {
            "kind": self.kind, "table": self.table, "source_system": self.source_system,
            "file_name": self.file_name, "path": self.path, "sha256": self.sha256,
            "size_bytes": self.size_bytes, "extracted_at": self.extracted_at,
            "row_count": self.row_count, "column_count": self.column_count,
            "columns": list(self.columns), "key_columns": list(self.key_columns),
            "key_unique": self.key_unique, "duplicate_key_count": self.duplicate_key_count,
            "duplicate_keys": [{"values": [_fmt(v) for v in d.values], "lines": list(d.lines)}
                               for d in self.duplicate_keys],
            "null_counts": dict(self.null_counts),
            "control_totals": {k: dict(v) for k, v in self.control_totals.items()},
            "rows_rejected": [{"line": r.line, "reason": r.reason} for r in self.rows_rejected],
            "unmapped_display_names": dict(self.unmapped_display_names),
            "timezone": self.timezone, "notes": list(self.notes),
        }


def _fmt(value: Any) -> str:
    if value is None or (not isinstance(value, (tuple, list)) and pd.isna(value)):
        return "(empty)"
    return str(value)


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


# --------------------------------------------------------------------------------------------
# File reading
# --------------------------------------------------------------------------------------------


def file_sha256(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes, read in chunks so large exports stay cheap."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _display_path(path: Path) -> str:
    """How a file is named in messages: its folder and name (``hr/workday_workers.csv``)."""
    parent = path.parent.name
    return f"{parent}/{path.name}" if parent else path.name


def _normalise_header(name: str) -> str:
    """Key for tolerant header matching: casefolded, inner whitespace collapsed."""
    return " ".join(name.split()).casefold()


def _decode(data: bytes, file: str) -> str:
    """Decode export bytes: UTF-8 (BOM optional) or UTF-16 with a BOM; anything else is an error."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PopulationError(
            file, f"the file is not valid UTF-8 (byte 0x{data[exc.start]:02x}); re-export it as "
                  "UTF-8 CSV.", row=line) from None


@dataclass
class _Csv:
    header: list[str]
    records: list[list[str]]
    lines: list[int]
    blank_lines: list[int]


def _parse_csv(text: str, file: str) -> _Csv:
    """Split CSV text into header and records, remembering where each record starts.

    The ``csv`` module is used rather than ``pandas.read_csv`` because it lets us name the exact
    starting line of every record (quoted fields may span lines) and detect rows with too few
    fields, which pandas silently pads with missing values.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    records: list[list[str]] = []
    lines: list[int] = []
    blanks: list[int] = []
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise PopulationError(file, f"the CSV is malformed ({exc}); check the quoting.",
                                  row=start) from None
        if not record or (len(record) == 1 and not record[0].strip()):
            if header is not None:
                blanks.append(start)
            continue
        if header is None:
            if start != 1:
                blanks.extend(range(1, start))
            header = [h.replace("\ufeff", "").strip() for h in record]
            continue
        if len(record) != len(header):
            raise PopulationError(
                file,
                f"the row has {len(record)} fields but the header has {len(header)}; values are "
                "never shifted to fit: fix the export (an unquoted comma, or a truncated row).",
                row=start)
        records.append(record)
        lines.append(start)
    if header is None:
        raise PopulationError(file, "the file is empty: no header row.")
    return _Csv(header, records, lines, blanks)


def _check_header(header: list[str], file: str) -> None:
    """Reject empty and duplicated header names (after trimming and ignoring case)."""
    empty = [str(i + 1) for i, h in enumerate(header) if not h]
    if empty:
        raise PopulationError(file, f"column(s) {', '.join(empty)} of the header have no name.",
                              row=1)
    seen: dict[str, list[int]] = {}
    for i, h in enumerate(header):
        seen.setdefault(_normalise_header(h), []).append(i)
    dupes = [idx for idx in seen.values() if len(idx) > 1]
    if dupes:
        described = "; ".join(
            " and ".join(f"'{header[i]}' (column {i + 1})" for i in idx) for idx in dupes)
        raise PopulationError(file, f"duplicated column name(s) in the header: {described}.",
                              row=1)


# --------------------------------------------------------------------------------------------
# Column conversion
# --------------------------------------------------------------------------------------------

_ISO_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?P<offset>Z|[+-]\d{2}:?\d{2})?)?",
    re.IGNORECASE,
)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEAN_TOKENS = {"true": True, "false": False}
_YES_NO_TOKENS = {"yes": True, "no": False, "y": True, "n": False}


class _Source:
    """One export file read as text, with converters that name the line of any bad value."""

    def __init__(
        self,
        kind: str,
        path: str | Path,
        *,
        required: Sequence[str],
        optional: Sequence[str] = (),
        timezone: str = "UTC",
    ) -> None:
        self.kind = kind
        self.path = Path(path)
        self.file = _display_path(self.path)
        self.timezone = _check_timezone(timezone)
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            raise PopulationError(self.file, f"file not found ({self.path}).") from None
        except OSError as exc:
            raise PopulationError(self.file, f"cannot read the file ({exc}).") from None
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.size_bytes = len(data)
        parsed = _parse_csv(_decode(data, self.file), self.file)
        _check_header(parsed.header, self.file)
        self.header = parsed.header
        self.required = tuple(required)
        self.notes: list[str] = []
        self.rejected = [RejectedRow(line, "blank line") for line in parsed.blank_lines]
        self.unmapped: Counter[str] = Counter()
        self.lines = np.asarray(parsed.lines, dtype="int64")
        self.n = len(parsed.records)

        position = self._match_columns(required, optional)
        self._values: dict[str, np.ndarray] = {}
        self._spelling = {name: self.header[i] for name, i in position.items()}
        for name in (*required, *optional):
            index = position.get(name)
            if index is None:
                self._values[name] = np.full(self.n, "", dtype=object)
                self.notes.append(f"Optional column '{name}' is not in the file; read as empty.")
            else:
                values = np.empty(self.n, dtype=object)
                values[:] = [record[index].strip() for record in parsed.records]
                self._values[name] = values

    def _match_columns(self, required: Sequence[str], optional: Sequence[str]) -> dict[str, int]:
        """Map each contract column to its position; exact name first, then ignoring case/spaces."""
        exact = {h: i for i, h in enumerate(self.header)}
        loose = {_normalise_header(h): i for i, h in enumerate(self.header)}
        position: dict[str, int] = {}
        for name in (*required, *optional):
            index = exact.get(name, loose.get(_normalise_header(name)))
            if index is not None:
                position[name] = index
        missing = [name for name in required if name not in position]
        if missing:
            hint = ""
            if len(self.header) == 1:
                for delimiter, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
                    if delimiter in self.header[0]:
                        hint = (f" The header looks delimited by {label}; export the file "
                                "comma-delimited.")
                        break
            raise PopulationError(
                self.file,
                f"missing required column(s) {', '.join(repr(m) for m in missing)}; columns "
                f"found: {', '.join(repr(h) for h in self.header)}.{hint}")
        return position

    # -- raw access ------------------------------------------------------------------------

    def raw(self, column: str) -> np.ndarray:
        """The stripped text of a column (object array of str; empty string when empty)."""
        return self._values[column]

    def fail(self, column: str, bad: np.ndarray, expected: str, message: str | None = None
             ) -> NoReturn:
        """Raise a PopulationError for the first bad value of a column, listing the others."""
        positions = np.flatnonzero(bad)
        first = int(positions[0])
        raise PopulationError(
            self.file, message, row=int(self.lines[first]),
            column=self._spelling.get(column, column), expected=expected,
            found=str(self.raw(column)[first]),
            more_rows=[int(self.lines[p]) for p in positions[1:]])

    # -- converters ------------------------------------------------------------------------

    def text(self, column: str) -> pd.Series:
        """Text as pandas ``string`` dtype, empty -> NA."""
        series = pd.Series(self.raw(column), dtype="string")
        return series.mask(series == "")

    def folded(self, column: str) -> pd.Series:
        """Casefolded text for join keys (e-mails, logins), empty -> NA."""
        return self.text(column).str.casefold()

    def choice(self, column: str, mapping: Mapping[str, str], *, empty: str | None = None,
               allow_empty: bool = False) -> pd.Series:
        """Map an enumerated value (matched ignoring case) to its canonical spelling."""
        raw = self.raw(column)
        lookup = {k.casefold(): v for k, v in mapping.items()}
        out = np.empty(self.n, dtype=object)
        bad = np.zeros(self.n, dtype=bool)
        for i, value in enumerate(raw):
            if value == "":
                if empty is None and not allow_empty:
                    bad[i] = True
                out[i] = empty
                continue
            canonical = lookup.get(value.casefold())
            if canonical is None:
                bad[i] = True
            out[i] = canonical
        if bad.any():
            options = [repr(k) for k in mapping]
            if empty is not None or allow_empty:
                options.append("an empty value")
            self.fail(column, bad, "one of " + _either(options))
        return pd.Series(out, dtype="string")

    def boolean(self, column: str, *, sentinels: Collection[str] = (), yes_no: bool = False,
                allow_empty: bool = False) -> pd.Series:
        """``true``/``TRUE``/``True`` (and ``false``) as nullable ``boolean``.

        Declared ``sentinels`` (e.g. ``not_supported``) and, if allowed, empty values become NA;
        keep the raw text in a ``*_original`` column when the distinction matters.
        """
        tokens = dict(_BOOLEAN_TOKENS)
        if yes_no:
            tokens.update(_YES_NO_TOKENS)
        nulls = {s.casefold() for s in sentinels}
        raw = self.raw(column)
        out = np.empty(self.n, dtype=object)
        bad = np.zeros(self.n, dtype=bool)
        for i, value in enumerate(raw):
            key = value.casefold()
            if key in tokens:
                out[i] = tokens[key]
            elif key in nulls or (allow_empty and value == ""):
                out[i] = pd.NA
            else:
                bad[i] = True
        if bad.any():
            self.fail(column, bad, _either(["true", "false", *(["yes", "no"] if yes_no else []),
                                            *(repr(s) for s in sentinels),
                                            *(["an empty value"] if allow_empty else [])]))
        return pd.Series(out, dtype="boolean")

    def integer(self, column: str, *, allow_empty: bool = True) -> pd.Series:
        """Whole numbers as nullable ``Int64``."""
        raw = self.raw(column)
        empty = raw == ""
        bad = np.array([bool(v) and not _INTEGER.fullmatch(v) for v in raw], dtype=bool)
        if not allow_empty:
            bad |= empty
        if bad.any():
            self.fail(column, bad, "a whole number like 120")
        values = [int(v) if v else pd.NA for v in raw]
        return pd.Series(values, dtype="Int64")

    def date(self, column: str, *, example: str = "2026-07-01") -> pd.Series:
        """``YYYY-MM-DD`` dates as naive ``datetime64[s]``; empty -> NaT."""
        codes, distinct = pd.factorize(self.raw(column), use_na_sentinel=False)
        distinct = np.asarray(distinct, dtype=object)
        filled = distinct != ""
        shaped = np.array([bool(_ISO_DATE.fullmatch(v)) for v in distinct], dtype=bool)
        parsed = pd.to_datetime(pd.Series(np.where(filled & shaped, distinct, None),
                                          dtype=object), format="%Y-%m-%d", errors="coerce")
        bad = filled & (~shaped | parsed.isna().to_numpy())
        if bad.any():
            self.fail(column, bad[codes], f"a date like {example}")
        return pd.Series(parsed.astype(DATE_DTYPE).to_numpy()[codes], dtype=DATE_DTYPE)

    def timestamp(self, column: str, *, example: str) -> pd.Series:
        """ISO 8601 timestamps as ``datetime64[us, UTC]``; empty -> NaT.

        Values with ``Z`` or an offset are converted to UTC; values without a zone are read in
        the declared time zone of the source. Epoch zero (1970-01-01T00:00:00Z) is read as NaT
        and counted in the evidence notes: systems use it for "no value", never as a date.
        """
        values, _ = self._timestamps(column, example=example, sentinels={}, empty_state=None,
                                     allow_empty=True, value_state=SET, epoch_state=None)
        return values

    def timestamp_state(self, column: str, *, example: str, sentinels: Mapping[str, str],
                        empty_state: str | None, value_state: str = USED,
                        epoch_state: str | None = None) -> tuple[pd.Series, pd.Series]:
        """Timestamps plus a state column for sentinel values.

        ``sentinels`` maps a token (matched ignoring case) to its state; ``empty_state`` is the
        state of an empty value (None: empty is not allowed); ``value_state`` the state of a real
        timestamp; ``epoch_state`` the state of epoch zero (None: epoch zero reads as NaT with a
        note, like :meth:`timestamp`).
        """
        return self._timestamps(column, example=example, sentinels=sentinels,
                                empty_state=empty_state, allow_empty=empty_state is not None,
                                value_state=value_state, epoch_state=epoch_state)

    def _timestamps(self, column: str, *, example: str, sentinels: Mapping[str, str],
                    empty_state: str | None, allow_empty: bool, value_state: str,
                    epoch_state: str | None) -> tuple[pd.Series, pd.Series]:
        # Work on the distinct values (listings repeat the same timestamps on many lines), then
        # expand back to rows through ``codes``; error masks are expanded the same way.
        codes, distinct = pd.factorize(self.raw(column), use_na_sentinel=False)
        distinct = np.asarray(distinct, dtype=object)
        m = len(distinct)
        tokens = {k.casefold(): v for k, v in sentinels.items()}
        state = np.full(m, None, dtype=object)
        aware = np.zeros(m, dtype=bool)
        naive = np.zeros(m, dtype=bool)
        bad = np.zeros(m, dtype=bool)
        for i, value in enumerate(distinct):
            if value == "":
                bad[i] = not allow_empty
                state[i] = empty_state
                continue
            token_state = tokens.get(value.casefold())
            if token_state is not None:
                state[i] = token_state
                continue
            match = _ISO_TIMESTAMP.fullmatch(value)
            if match is None:
                bad[i] = True
            else:
                aware[i] = match.group("offset") is not None
                naive[i] = not aware[i]
                state[i] = value_state
        expected = _either([f"an ISO 8601 timestamp like {example}",
                            *(repr(k) for k in sentinels),
                            *(["an empty value"] if allow_empty else [])])

        def check(mask: np.ndarray, message: str | None = None) -> None:
            if mask.any():
                self.fail(column, mask[codes], expected, message)

        check(bad)
        values = pd.Series(pd.NaT, index=range(m), dtype=TIMESTAMP_DTYPE)
        if aware.any():
            parsed = pd.to_datetime(pd.Series(distinct[aware], dtype=object).str.upper(),
                                    format="ISO8601", utc=True, errors="coerce")
            check(_scatter(m, aware, parsed.isna().to_numpy()))
            values.iloc[np.flatnonzero(aware)] = _to_us(parsed).to_numpy()
        if naive.any():
            parsed = pd.to_datetime(pd.Series(distinct[naive], dtype=object), format="ISO8601",
                                    errors="coerce")
            check(_scatter(m, naive, parsed.isna().to_numpy()))
            local = parsed.dt.tz_localize(self.timezone, ambiguous="NaT", nonexistent="NaT")
            check(_scatter(m, naive, local.isna().to_numpy()),
                  f"That local time does not exist or is ambiguous in {self.timezone} "
                  "(daylight-saving change); the export must give an offset.")
            values.iloc[np.flatnonzero(naive)] = _to_us(local.dt.tz_convert("UTC")).to_numpy()
            self._note_zone(column)

        epoch = (values == _EPOCH).to_numpy()
        if epoch.any():
            values[epoch] = pd.NaT
            if epoch_state is not None:
                state[epoch] = epoch_state
            else:
                self.notes.append(
                    f"Column '{column}': {int(epoch[codes].sum())} epoch-zero value(s) "
                    "(1970-01-01T00:00:00Z) read as missing, not as a date.")
        result = pd.Series(values.array.take(codes), dtype=TIMESTAMP_DTYPE)
        return result, pd.Series(state[codes], dtype="string")

    def _note_zone(self, column: str) -> None:
        note = (f"Values without a zone are read in the declared time zone {self.timezone} "
                "and converted to UTC.")
        if note not in self.notes:
            self.notes.append(note)

    def systems(self, column: str, display_names: Mapping[str, str] | None) -> pd.Series:
        """System ids for a column of display names; unmapped names -> NA, counted in evidence."""
        lookup = {_normalise_header(k): v for k, v in (display_names or {}).items()}
        out = np.empty(self.n, dtype=object)
        for i, value in enumerate(self.raw(column)):
            system = lookup.get(_normalise_header(value)) if value else None
            out[i] = system
            if system is None:
                self.unmapped[value or "(empty)"] += 1
        return pd.Series(out, dtype="string")

    def null_counts(self) -> dict[str, int]:
        """Empty values per required column, as spelt in the contract."""
        return {name: int((self.raw(name) == "").sum()) for name in self.required}

    # -- evidence --------------------------------------------------------------------------

    def population(
        self,
        table: str,
        frame: pd.DataFrame,
        *,
        key: Sequence[str],
        totals: Mapping[str, str],
        source_system: str,
        extracted_at: str | None,
    ) -> Population:
        """Wrap a canonical frame with its IPE evidence."""
        unique, count, examples = _duplicates(frame, key)
        control_totals = {label: _count(frame[col]) for label, col in totals.items()}
        evidence = IPEEvidence(
            kind=self.kind, table=table, source_system=source_system, file_name=self.path.name,
            path=str(self.path), sha256=self.sha256, size_bytes=self.size_bytes,
            extracted_at=None if extracted_at is None else str(extracted_at),
            row_count=len(frame), column_count=len(self.header),
            columns=tuple(self.header), key_columns=tuple(key), key_unique=unique,
            duplicate_key_count=count, duplicate_keys=examples, null_counts=self.null_counts(),
            control_totals=control_totals, rows_rejected=tuple(self.rejected),
            unmapped_display_names=dict(sorted(self.unmapped.items())),
            timezone=self.timezone, notes=tuple(self.notes),
        )
        return Population(kind=self.kind, table=table, frame=frame, evidence=evidence)


def _scatter(size: int, where: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """A boolean mask of ``size`` that is ``flags`` at the positions where ``where`` is True."""
    mask = np.zeros(size, dtype=bool)
    mask[np.flatnonzero(where)[flags]] = True
    return mask


def _to_us(series: pd.Series) -> pd.Series:
    """Timestamps at microsecond resolution (sub-microsecond digits are truncated)."""
    if series.dt.unit == "ns":
        series = series.dt.floor("us")
    return series.dt.as_unit("us")


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name like 'UTC' or 'America/New_York'."
        ) from None
    return name


def _count(series: pd.Series) -> dict[str, int]:
    """Counts by value, empty values as '(empty)', sorted by value for stable workpapers."""
    counts: Counter[str] = Counter()
    for value, count in series.value_counts(dropna=False).items():
        counts["(empty)" if pd.isna(value) else str(value)] += int(count)
    return dict(sorted(counts.items()))


def _duplicates(frame: pd.DataFrame, key: Sequence[str]
                ) -> tuple[bool, int, tuple[DuplicateKey, ...]]:
    """Whether ``key`` is unique in ``frame``; the number of repeated keys and 10 examples."""
    if not key or frame.empty:
        return True, 0, ()
    keyed = frame[list(key)].astype(object).where(frame[list(key)].notna(), None)
    repeated = keyed.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return True, 0, ()
    groups: dict[tuple[Any, ...], list[int]] = {}
    for values, line in zip(keyed[repeated].itertuples(index=False, name=None),
                            frame["line"].to_numpy()[repeated]):
        groups.setdefault(tuple(values), []).append(int(line))
    examples = tuple(DuplicateKey(values=k, lines=tuple(v)) for k, v in list(groups.items())[:10])
    return False, len(groups), examples


def _privileged(system: pd.Series, entitlement: pd.Series,
                table: Mapping[str, Collection[str]]) -> pd.Series:
    """True where (system, entitlement) is in the privileged list (entitlement ignoring case)."""
    system = system.reset_index(drop=True).astype("string")
    folded = entitlement.reset_index(drop=True).astype("string").str.casefold()
    flags = np.zeros(len(system), dtype=bool)
    for system_id, entitlements in table.items():
        hit = (system == system_id) & folded.isin({e.casefold() for e in entitlements})
        flags |= hit.fillna(False).to_numpy(dtype=bool)
    return pd.Series(flags, dtype=bool)


def _constant(value: Any, n: int, dtype: str) -> pd.Series:
    return pd.Series([value] * n, dtype=dtype)


def _nat(n: int) -> pd.Series:
    return pd.Series(pd.NaT, index=range(n), dtype=TIMESTAMP_DTYPE)


def _email_or_na(series: pd.Series) -> pd.Series:
    """Casefolded value where it looks like an e-mail address, else NA."""
    folded = series.str.casefold()
    return folded.where(folded.str.contains("@", regex=False).fillna(False).astype(bool))


def _where_email(series: pd.Series) -> pd.Series:
    """The value as exported where it looks like an e-mail address, else NA."""
    return series.where(series.str.contains("@", regex=False).fillna(False).astype(bool))


def _frame(columns: Mapping[str, pd.Series | np.ndarray], lines: np.ndarray) -> pd.DataFrame:
    data = {name: (values.reset_index(drop=True) if isinstance(values, pd.Series) else values)
            for name, values in columns.items()}
    data["line"] = pd.Series(lines, dtype="int64")
    return pd.DataFrame(data)


# --------------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------------

_DEFAULT_SOURCE_SYSTEM = {
    "workday_workers": "workday",
    "okta_users": "okta",
    "okta_app_assignments": "okta",
    "ledgerline_erp_user_roles": "ledgerline_erp",
    "github_org_members": "github",
    "aws_iam_credential_report": "aws_prod",
    "aws_iam_group_memberships": "aws_prod",
    "campaign_decisions": "certification_campaign",
    "campaign_status": "certification_campaign",
    "servicenow_access_requests": "servicenow",
    "sod_rules": "policy",
    "privileged_access_approved": "policy",
}

_OKTA_EXAMPLE = "2026-07-14T09:12:33.000Z"
_AWS_EXAMPLE = "2026-07-14T09:12:33+00:00"
_LOCAL_EXAMPLE = "2026-07-14 09:12:33"


def _source_system(kind: str, system: str | None, source_system: str | None) -> str:
    return source_system or system or _DEFAULT_SOURCE_SYSTEM[kind]


def _privileged_table(privileged_entitlements: Mapping[str, Collection[str]] | None
                      ) -> Mapping[str, Collection[str]]:
    if privileged_entitlements is None:
        return DEFAULT_PRIVILEGED_ENTITLEMENTS
    return privileged_entitlements


def _note_privileged(src: _Source, system: str, table: Mapping[str, Collection[str]]) -> None:
    if system not in table:
        src.notes.append(f"No privileged-entitlement list for system '{system}': no grant is "
                         "flagged privileged.")


def read_workday_workers(path: str | Path, *, system: str | None = None, timezone: str = "UTC",
                         extracted_at: str | None = None, source_system: str | None = None,
                         display_names: Mapping[str, str] | None = None,
                         privileged_entitlements: Mapping[str, Collection[str]] | None = None,
                         ) -> Population:
    """Workday "All Workers" report -> ``identities`` (key ``employee_id``)."""
    kind = "workday_workers"
    src = _Source(kind, path, timezone=timezone, required=(
        "Employee ID", "Worker", "Email - Work", "Business Title", "Supervisory Organization",
        "Manager Employee ID", "Cost Center", "Hire Date", "Worker Status", "Termination Date",
        "Last Day of Work", "Primary Reason"), optional=("Eligible for Rehire",))
    frame = _frame({
        "employee_id": src.text("Employee ID"),
        "full_name": src.text("Worker"),
        "email": src.folded("Email - Work"),
        "email_original": src.text("Email - Work"),
        "department": src.text("Supervisory Organization"),
        "title": src.text("Business Title"),
        "manager_employee_id": src.text("Manager Employee ID"),
        "cost_center": src.text("Cost Center"),
        "hire_date": src.date("Hire Date"),
        "status": src.choice("Worker Status", {"Active": "active", "Terminated": "terminated"}),
        "status_original": src.text("Worker Status"),
        "termination_date": src.date("Termination Date"),
        "last_day_of_work": src.date("Last Day of Work"),
        "termination_reason": src.text("Primary Reason"),
        "eligible_for_rehire": src.boolean("Eligible for Rehire", yes_no=True, allow_empty=True),
    }, src.lines)
    return src.population("identities", frame, key=("employee_id",),
                          totals={"status": "status", "department": "department"},
                          source_system=_source_system(kind, system, source_system),
                          extracted_at=extracted_at)


_OKTA_STATUS = {
    "ACTIVE": "active", "SUSPENDED": "suspended", "DEPROVISIONED": "deprovisioned",
    "STAGED": "staged", "PROVISIONED": "provisioned", "RECOVERY": "recovery",
    "PASSWORD_EXPIRED": "password_expired", "LOCKED_OUT": "locked",
}


def read_okta_users(path: str | Path, *, system: str | None = None, timezone: str = "UTC",
                    extracted_at: str | None = None, source_system: str | None = None,
                    display_names: Mapping[str, str] | None = None,
                    privileged_entitlements: Mapping[str, Collection[str]] | None = None,
                    ) -> Population:
    """Okta users (flattened API objects) -> ``accounts`` (key ``account_id``).

    ``lastLogin`` empty means the user never signed in (state ``never``). Okta's user object has
    no MFA or password flag, so ``mfa_enabled``/``password_enabled`` are NA. Extra columns:
    ``activated_at``, ``last_updated_at``, ``password_changed_at``.
    """
    kind = "okta_users"
    system_id = system or "okta"
    src = _Source(kind, path, timezone=timezone, required=(
        "id", "status", "created", "activated", "statusChanged", "lastLogin", "lastUpdated",
        "passwordChanged", "profile.login", "profile.email", "profile.firstName",
        "profile.lastName", "profile.employeeNumber"))
    last_login, last_login_state = src.timestamp_state(
        "lastLogin", example=_OKTA_EXAMPLE, sentinels={}, empty_state=NEVER, epoch_state=NEVER)
    names = [" ".join(p for p in (f, l) if p)
             for f, l in zip(src.raw("profile.firstName"), src.raw("profile.lastName"))]
    display = pd.Series(names, dtype="string")
    n = src.n
    frame = _frame({
        "system": _constant(system_id, n, "string"),
        "account_id": src.text("id"),
        "login": src.folded("profile.login"),
        "login_original": src.text("profile.login"),
        "email": src.folded("profile.email"),
        "email_original": src.text("profile.email"),
        "employee_id": src.text("profile.employeeNumber"),
        "display_name": display.mask(display == ""),
        "status": src.choice("status", _OKTA_STATUS),
        "status_original": src.text("status"),
        "created_at": src.timestamp("created", example=_OKTA_EXAMPLE),
        "last_login_at": last_login,
        "last_login_state": last_login_state,
        "status_changed_at": src.timestamp("statusChanged", example=_OKTA_EXAMPLE),
        "mfa_enabled": _constant(pd.NA, n, "boolean"),
        "password_enabled": _constant(pd.NA, n, "boolean"),
        "is_root": _constant(False, n, "bool"),
        "activated_at": src.timestamp("activated", example=_OKTA_EXAMPLE),
        "last_updated_at": src.timestamp("lastUpdated", example=_OKTA_EXAMPLE),
        "password_changed_at": src.timestamp("passwordChanged", example=_OKTA_EXAMPLE),
    }, src.lines)
    return src.population("accounts", frame, key=("account_id",),
                          totals={"status": "status", "last login": "last_login_state"},
                          source_system=_source_system(kind, system, source_system),
                          extracted_at=extracted_at)


def read_okta_app_assignments(path: str | Path, *, system: str | None = None,
                              timezone: str = "UTC", extracted_at: str | None = None,
                              source_system: str | None = None,
                              display_names: Mapping[str, str] | None = None,
                              privileged_entitlements: Mapping[str, Collection[str]] | None = None,
                              ) -> Population:
    """Okta "Current Assignments" report -> ``grants`` (key ``login`` + ``application``).

    One grant per Okta user x application: the account is the *Okta* user (``account_id`` the
    Okta login as exported, ``login`` casefolded, ``email`` the login when it is an e-mail);
    ``system`` is the application's system id (via ``display_names``; NA and counted in the
    evidence when unmapped); ``entitlement`` the application name; ``entitlement_type``
    ``app_assignment``. ``application_login`` (casefolded, original kept) is the account name in
    the target system, which lets a system listing without e-mails (AWS IAM user names, GitHub
    logins) be correlated to a person. Extra columns: ``application``, ``application_instance``,
    ``application_login``, ``application_login_original``, ``user_name``, ``last_login_at``,
    ``last_login_state`` (``used``/``never``), ``last_password_change_at``.
    """
    kind = "okta_app_assignments"
    src = _Source(kind, path, timezone=timezone, required=(
        "User", "Login", "Application name", "Application instance", "Application login",
        "Assigned on", "Unassigned on", "Last login", "Last password change"))
    table = _privileged_table(privileged_entitlements)
    systems = src.systems("Application name", display_names)
    application = src.text("Application name")
    okta_login = src.text("Login")
    last_login, last_login_state = src.timestamp_state(
        "Last login", example=_OKTA_EXAMPLE, sentinels={}, empty_state=NEVER, epoch_state=NEVER)
    frame = _frame({
        "system": systems,
        "account_id": okta_login,
        "login": okta_login.str.casefold(),
        "login_original": okta_login,
        "email": _email_or_na(okta_login),
        "email_original": _where_email(okta_login),
        "entitlement": application,
        "entitlement_type": _constant("app_assignment", src.n, "string"),
        "privileged": _privileged(systems, application, table),
        "granted_at": src.timestamp("Assigned on", example=_OKTA_EXAMPLE),
        "removed_at": src.timestamp("Unassigned on", example=_OKTA_EXAMPLE),
        "account_status": _constant(pd.NA, src.n, "string"),
        "application": application,
        "application_instance": src.text("Application instance"),
        "application_login": src.folded("Application login"),
        "application_login_original": src.text("Application login"),
        "user_name": src.text("User"),
        "last_login_at": last_login,
        "last_login_state": last_login_state,
        "last_password_change_at": src.timestamp("Last password change", example=_OKTA_EXAMPLE),
    }, src.lines)
    return src.population("grants", frame, key=("login", "application"),
                          totals={"application": "application"},
                          source_system=_source_system(kind, system, source_system),
                          extracted_at=extracted_at)


def read_ledgerline_erp_user_roles(path: str | Path, *, system: str | None = None,
                                   timezone: str = "UTC", extracted_at: str | None = None,
                                   source_system: str | None = None,
                                   display_names: Mapping[str, str] | None = None,
                                   privileged_entitlements: Mapping[str, Collection[str]]
                                   | None = None) -> Population:
    """ERP security listing (user x role) -> ``grants``; use :func:`erp_accounts` for accounts.

    Key ``login`` + ``entitlement`` + ``granted_at`` (a role removed and granted again in the
    period legitimately appears twice). Timestamps have no zone: they are read in ``timezone``
    (the ERP clock is UTC for the demo company). Extra columns: ``display_name``,
    ``account_status_original``, ``created_at``, ``last_login_at``, ``last_login_state``
    (``used``/``never``).
    """
    kind = "ledgerline_erp_user_roles"
    system_id = system or "ledgerline_erp"
    src = _Source(kind, path, timezone=timezone, required=(
        "USER_ID", "USER_NAME", "EMAIL", "ROLE_NAME", "ROLE_ASSIGNED_DATE", "END_DATE",
        "ACCOUNT_STATUS", "LAST_LOGON", "CREATED_DATE"))
    table = _privileged_table(privileged_entitlements)
    _note_privileged(src, system_id, table)
    n = src.n
    systems = _constant(system_id, n, "string")
    role = src.text("ROLE_NAME")
    last_logon, last_logon_state = src.timestamp_state(
        "LAST_LOGON", example=_LOCAL_EXAMPLE, sentinels={}, empty_state=NEVER, epoch_state=NEVER)
    frame = _frame({
        "system": systems,
        "account_id": src.text("USER_ID"),
        "login": src.folded("USER_ID"),
        "login_original": src.text("USER_ID"),
        "email": src.folded("EMAIL"),
        "email_original": src.text("EMAIL"),
        "entitlement": role,
        "entitlement_type": _constant("role", n, "string"),
        "privileged": _privileged(systems, role, table),
        "granted_at": src.timestamp("ROLE_ASSIGNED_DATE", example=_LOCAL_EXAMPLE),
        "removed_at": src.timestamp("END_DATE", example=_LOCAL_EXAMPLE),
        "account_status": src.choice("ACCOUNT_STATUS", {
            "ACTIVE": "active", "LOCKED": "locked", "DISABLED": "disabled"}),
        "display_name": src.text("USER_NAME"),
        "account_status_original": src.text("ACCOUNT_STATUS"),
        "created_at": src.timestamp("CREATED_DATE", example=_LOCAL_EXAMPLE),
        "last_login_at": last_logon,
        "last_login_state": last_logon_state,
    }, src.lines)
    return src.population("grants", frame, key=("login", "entitlement", "granted_at"),
                          totals={"role": "entitlement", "account status": "account_status"},
                          source_system=_source_system(kind, system, source_system),
                          extracted_at=extracted_at)


def read_github_org_members(path: str | Path, *, system: str | None = None,
                            timezone: str = "UTC", extracted_at: str | None = None,
                            source_system: str | None = None,
                            display_names: Mapping[str, str] | None = None,
                            privileged_entitlements: Mapping[str, Collection[str]] | None = None,
                            ) -> Population:
    """GitHub organisation members -> ``grants`` that also carry every account column.

    A member is one account holding one org role, so the frame is both: the grant columns
    (``entitlement`` = org role ``owner``/``member``/``billing_manager``, ``entitlement_type``
    ``org_role``, ``privileged`` for ``owner``; ``granted_at``/``removed_at`` NaT, the export is a
    point-in-time listing) followed by the remaining :data:`ACCOUNT_COLUMNS`. Use
    :func:`github_accounts` for the accounts view. Key ``login``.

    ``email`` is the first verified domain e-mail (all of them, casefolded, in
    ``verified_domain_emails`` as a tuple). An empty ``last_active`` is state ``no_information``:
    GitHub records only some activity, so an empty value does not prove the member never used the
    account. Members listed are ``active``. Extra columns: ``membership_visibility``,
    ``verified_domain_emails``.
    """
    kind = "github_org_members"
    system_id = system or "github"
    src = _Source(kind, path, timezone=timezone, required=(
        "login", "name", "role", "two_factor_enabled", "membership_visibility", "last_active",
        "verified_domain_emails"))
    table = _privileged_table(privileged_entitlements)
    _note_privileged(src, system_id, table)
    n = src.n
    systems = _constant(system_id, n, "string")
    split = [[e.strip() for e in re.split(r"[;,]", v) if e.strip()]
             for v in src.raw("verified_domain_emails")]
    role = src.choice("role", {"owner": "owner", "member": "member",
                               "billing_manager": "billing_manager"})
    last_active, last_active_state = src.timestamp_state(
        "last_active", example=_OKTA_EXAMPLE, sentinels={}, empty_state=NO_INFORMATION,
        epoch_state=NO_INFORMATION)
    frame = _frame({
        "system": systems,
        "account_id": src.text("login"),
        "login": src.folded("login"),
        "login_original": src.text("login"),
        "email": pd.Series([e[0].casefold() if e else pd.NA for e in split], dtype="string"),
        "email_original": pd.Series([e[0] if e else pd.NA for e in split], dtype="string"),
        "entitlement": role,
        "entitlement_type": _constant("org_role", n, "string"),
        "privileged": _privileged(systems, role, table),
        "granted_at": _nat(n),
        "removed_at": _nat(n),
        "account_status": _constant("active", n, "string"),
        "employee_id": _constant(pd.NA, n, "string"),
        "display_name": src.text("name"),
        "status": _constant("active", n, "string"),
        "status_original": _constant(pd.NA, n, "string"),
        "created_at": _nat(n),
        "last_login_at": last_active,
        "last_login_state": last_active_state,
        "status_changed_at": _nat(n),
        "mfa_enabled": src.boolean("two_factor_enabled"),
        "password_enabled": _constant(pd.NA, n, "boolean"),
        "is_root": _constant(False, n, "bool"),
        "membership_visibility": src.text("membership_visibility"),
        "verified_domain_emails": pd.Series([tuple(e.casefold() for e in v) for v in split],
                                            dtype=object),
    }, src.lines)
    return src.population("grants", frame, key=("login",),
                          totals={"role": "entitlement", "two-factor": "mfa_enabled",
                                  "last active": "last_login_state"},
                          source_system=_source_system(kind, system, source_system),
                          extracted_at=extracted_at)


_AWS_COLUMNS = (
    "user", "arn", "user_creation_time", "password_enabled", "password_last_used",
    "password_last_changed", "password_next_rotation", "mfa_active", "access_key_1_active",
    "access_key_1_last_rotated", "access_key_1_last_used_date", "access_key_1_last_used_region",
    "access_key_1_last_used_service", "access_key_2_active", "access_key_2_last_rotated",
    "access_key_2_last_used_date", "access_key_2_last_used_region",
    "access_key_2_last_used_service", "cert_1_active", "cert_1_last_rotated", "cert_2_active",
    "cert_2_last_rotated",
)


def read_aws_iam_credential_report(path: str | Path, *, system: str | None = None,
                                   timezone: str = "UTC", extracted_at: str | None = None,
                                   source_system: str | None = None,
                                   display_names: Mapping[str, str] | None = None,
                                   privileged_entitlements: Mapping[str, Collection[str]]
                                   | None = None) -> Population:
    """AWS IAM credential report (22 columns) -> ``accounts`` (key ``login``).

    Sentinels are states, not dates: ``password_last_used`` (-> ``last_login_at``/
    ``last_login_state``) ``N/A`` = ``not_applicable`` (no password), ``no_information`` =
    ``no_information``; ``not_supported`` (root) = ``not_supported``. For access keys,
    ``last_used_date`` ``N/A`` is ``never`` when the key exists (has a rotation date) and
    ``not_applicable`` when there is no key. ``password_enabled`` is NA for the root account
    (``not_supported``, raw text in ``password_enabled_original``). Every IAM user listed is
    ``active``; ``is_root`` marks ``<root_account>``.
    """
    kind = "aws_iam_credential_report"
    system_id = system or "aws_prod"
    src = _Source(kind, path, timezone=timezone, required=_AWS_COLUMNS)
    n = src.n
    na = {"N/A": NOT_APPLICABLE}
    user = src.text("user")
    arn = src.text("arn")
    is_root = ((user == "<root_account>") | arn.str.endswith(":root")).fillna(False).astype(bool)
    last_used, last_used_state = src.timestamp_state(
        "password_last_used", example=_AWS_EXAMPLE,
        sentinels={"N/A": NOT_APPLICABLE, "no_information": NO_INFORMATION,
                   "not_supported": NOT_SUPPORTED}, empty_state=None, epoch_state=NEVER)
    columns: dict[str, pd.Series] = {
        "system": _constant(system_id, n, "string"),
        "account_id": user,
        "login": user.str.casefold(),
        "login_original": user,
        "email": _email_or_na(user),
        "email_original": _where_email(user),
        "employee_id": _constant(pd.NA, n, "string"),
        "display_name": user,
        "status": _constant("active", n, "string"),
        "status_original": _constant(pd.NA, n, "string"),
        "created_at": src.timestamp("user_creation_time", example=_AWS_EXAMPLE),
        "last_login_at": last_used,
        "last_login_state": last_used_state,
        "status_changed_at": _nat(n),
        "mfa_enabled": src.boolean("mfa_active"),
        "password_enabled": src.boolean("password_enabled", sentinels=("not_supported",)),
        "is_root": is_root,
        "arn": arn,
        "password_enabled_original": src.text("password_enabled"),
    }
    for name in ("password_last_changed", "password_next_rotation"):
        values, state = src.timestamp_state(
            name, example=_AWS_EXAMPLE, value_state=SET, empty_state=None,
            sentinels={"N/A": NOT_APPLICABLE, "not_supported": NOT_SUPPORTED})
        columns[name], columns[f"{name}_state"] = values, state
    for k in (1, 2):
        prefix = f"access_key_{k}"
        rotated, rotated_state = src.timestamp_state(
            f"{prefix}_last_rotated", example=_AWS_EXAMPLE, value_state=SET, sentinels=na,
            empty_state=None)
        used, used_state = src.timestamp_state(
            f"{prefix}_last_used_date", example=_AWS_EXAMPLE, sentinels=na, empty_state=None,
            epoch_state=NEVER)
        key_exists = rotated_state == SET
        used_state = used_state.mask((used_state == NOT_APPLICABLE) & key_exists, NEVER)
        columns[f"{prefix}_active"] = src.boolean(f"{prefix}_active")
        columns[f"{prefix}_last_rotated"] = rotated
        columns[f"{prefix}_last_rotated_state"] = rotated_state
        columns[f"{prefix}_last_used_at"] = used
        columns[f"{prefix}_last_used_state"] = used_state
        for part in ("region", "service"):
            text = src.text(f"{prefix}_last_used_{part}")
            columns[f"{prefix}_last_used_{part}"] = text.mask(text == "N/A")
    for k in (1, 2):
        columns[f"cert_{k}_active"] = src.boolean(f"cert_{k}_active")
        rotated, rotated_state = src.timestamp_state(
            f"cert_{k}_last_rotated", example=_AWS_EXAMPLE, value_state=SET, sentinels=na,
            empty_state=None)
        columns[f"cert_{k}_last_rotated"] = rotated
        columns[f"cert_{k}_last_rotated_state"] = rotated_state
    frame = _frame(columns, src.lines)
    return src.population("accounts", frame, key=("login",),
                          totals={"MFA active": "mfa_enabled",
                                  "password enabled": "password_enabled_original",
                                  "password last used": "last_login_state",
                                  "access key 1 active": "access_key_1_active",
                                  "access key 2 active": "access_key_2_active"},
                          source_system=_source_system(kind, system, source_system),
                          extracted_at=extracted_at)


def read_aws_iam_group_memberships(path: str | Path, *, system: str | None = None,
                                   timezone: str = "UTC", extracted_at: str | None = None,
                                   source_system: str | None = None,
                                   display_names: Mapping[str, str] | None = None,
                                   privileged_entitlements: Mapping[str, Collection[str]]
                                   | None = None) -> Population:
    """Flattened ``aws iam get-group`` output -> ``grants`` (key ``login`` + ``entitlement``).

    The listing is a point-in-time membership: ``granted_at`` is unknown (NaT) and ``removed_at``
    NaT (held at extraction). Extra column: ``arn``.
    """
    kind = "aws_iam_group_memberships"
    system_id = system or "aws_prod"
    src = _Source(kind, path, timezone=timezone, required=("GroupName", "UserName", "UserArn"))
    table = _privileged_table(privileged_entitlements)
    _note_privileged(src, system_id, table)
    n = src.n
    systems = _constant(system_id, n, "string")
    group = src.text("GroupName")
    user = src.text("UserName")
    frame = _frame({
        "system": systems,
        "account_id": user,
        "login": user.str.casefold(),
        "login_original": user,
        "email": _email_or_na(user),
        "email_original": _where_email(user),
        "entitlement": group,
        "entitlement_type": _constant("group", n, "string"),
        "privileged": _privileged(systems, group, table),
        "granted_at": _nat(n),
        "removed_at": _nat(n),
        "account_status": _constant(pd.NA, n, "string"),
        "arn": src.text("UserArn"),
    }, src.lines)
    return src.population("grants", frame, key=("login", "entitlement"),
                          totals={"group": "entitlement"},
                          source_system=_source_system(kind, system, source_system),
                          extracted_at=extracted_at)


def read_campaign_decisions(path: str | Path, *, system: str | None = None,
                            timezone: str = "UTC", extracted_at: str | None = None,
                            source_system: str | None = None,
                            display_names: Mapping[str, str] | None = None,
                            privileged_entitlements: Mapping[str, Collection[str]] | None = None,
                            ) -> Population:
    """Certification campaign decisions -> ``review_decisions``.

    Key ``campaign_id`` + ``subject_email`` + ``system`` + ``entitlement`` (one line per
    identity x access item). ``Decision`` ``APPROVE``/``REVOKE``/empty -> ``approve``/``revoke``/
    ``undecided``; ``privileged`` is the campaign's own flag as exported; ``system`` is the id of
    the ``Source`` display name (NA and counted in the evidence when unmapped).
    """
    kind = "campaign_decisions"
    src = _Source(kind, path, timezone=timezone, required=(
        "Campaign ID", "Campaign Name", "Certification ID", "Reviewer Name", "Reviewer Email",
        "Identity Name", "Identity Email", "Source", "Access Type", "Access Name", "Privileged",
        "Decision", "Decision Date", "Comments"))
    frame = _frame({
        "campaign_id": src.text("Campaign ID"),
        "campaign_name": src.text("Campaign Name"),
        "certification_id": src.text("Certification ID"),
        "reviewer_name": src.text("Reviewer Name"),
        "reviewer_email": src.folded("Reviewer Email"),
        "reviewer_email_original": src.text("Reviewer Email"),
        "subject_name": src.text("Identity Name"),
        "subject_email": src.folded("Identity Email"),
        "subject_email_original": src.text("Identity Email"),
        "system": src.systems("Source", display_names),
        "application": src.text("Source"),
        "access_type": src.text("Access Type"),
        "entitlement": src.text("Access Name"),
        "privileged": src.boolean("Privileged").astype(bool),
        "decision": src.choice("Decision", {"APPROVE": "approve", "REVOKE": "revoke"},
                               empty="undecided"),
        "decision_original": src.text("Decision"),
        "decided_at": src.timestamp("Decision Date", example=_OKTA_EXAMPLE),
        "comments": src.text("Comments"),
    }, src.lines)
    return src.population("review_decisions", frame,
                          key=("campaign_id", "subject_email", "system", "entitlement"),
                          totals={"decision": "decision", "source": "application"},
                          source_system=_source_system(kind, system, source_system),
                          extracted_at=extracted_at)


def read_campaign_status(path: str | Path, *, system: str | None = None, timezone: str = "UTC",
                         extracted_at: str | None = None, source_system: str | None = None,
                         display_names: Mapping[str, str] | None = None,
                         privileged_entitlements: Mapping[str, Collection[str]] | None = None,
                         ) -> Population:
    """Campaign Status Report -> ``campaigns`` (key ``campaign_id``); status lower-cased."""
    kind = "campaign_status"
    src = _Source(kind, path, timezone=timezone, required=(
        "Campaign ID", "Campaign Name", "Type", "Date of Creation", "Date of Activation",
        "Deadline", "Status", "Completed Date", "Total Items", "Decisions Made", "Signed Off By",
        "Signed Off Date"))
    status = src.text("Status")
    frame = _frame({
        "campaign_id": src.text("Campaign ID"),
        "campaign_name": src.text("Campaign Name"),
        "type": src.text("Type"),
        "created_at": src.timestamp("Date of Creation", example=_OKTA_EXAMPLE),
        "activated_at": src.timestamp("Date of Activation", example=_OKTA_EXAMPLE),
        "deadline": src.timestamp("Deadline", example=_OKTA_EXAMPLE),
        "status": status.str.lower(),
        "status_original": status,
        "completed_at": src.timestamp("Completed Date", example=_OKTA_EXAMPLE),
        "total_items": src.integer("Total Items"),
        "decisions_made": src.integer("Decisions Made"),
        "signed_off_by": src.text("Signed Off By"),
        "signed_off_at": src.timestamp("Signed Off Date", example=_OKTA_EXAMPLE),
    }, src.lines)
    return src.population("campaigns", frame, key=("campaign_id",),
                          totals={"status": "status"},
                          source_system=_source_system(kind, system, source_system),
                          extracted_at=extracted_at)


_SERVICENOW_APPROVAL = {
    "approved": "approved", "rejected": "rejected", "requested": "requested",
    "not yet requested": "not_yet_requested", "not requested": "not_requested",
    "cancelled": "cancelled", "no longer required": "not_required",
    "not required": "not_required",
}


def read_servicenow_access_requests(path: str | Path, *, system: str | None = None,
                                    timezone: str = "UTC", extracted_at: str | None = None,
                                    source_system: str | None = None,
                                    display_names: Mapping[str, str] | None = None,
                                    privileged_entitlements: Mapping[str, Collection[str]]
                                    | None = None) -> Population:
    """ServiceNow requested items -> ``requests`` (key ``ticket``).

    Timestamps without a zone are read in ``timezone`` (declare the instance's zone; the demo
    company exports UTC). ``Action`` -> ``grant``/``revoke``; ``Approval`` -> ``approved``/
    ``rejected``/``requested`` (other ServiceNow approval states are accepted too, snake_case).
    """
    kind = "servicenow_access_requests"
    src = _Source(kind, path, timezone=timezone, required=(
        "Number", "Requested for", "Opened by", "Item", "Application", "Entitlement", "Action",
        "Approval", "Approver", "Approved", "Opened", "Closed", "State"))
    frame = _frame({
        "ticket": src.text("Number"),
        "requested_for": src.folded("Requested for"),
        "requested_for_original": src.text("Requested for"),
        "opened_by": src.folded("Opened by"),
        "opened_by_original": src.text("Opened by"),
        "item": src.text("Item"),
        "system": src.systems("Application", display_names),
        "application": src.text("Application"),
        "entitlement": src.text("Entitlement"),
        "action": src.choice("Action", {"Grant": "grant", "Revoke": "revoke"}),
        "action_original": src.text("Action"),
        "approval": src.choice("Approval", _SERVICENOW_APPROVAL),
        "approval_original": src.text("Approval"),
        "approver": src.folded("Approver"),
        "approver_original": src.text("Approver"),
        "approved_at": src.timestamp("Approved", example=_LOCAL_EXAMPLE),
        "opened_at": src.timestamp("Opened", example=_LOCAL_EXAMPLE),
        "closed_at": src.timestamp("Closed", example=_LOCAL_EXAMPLE),
        "state": src.text("State"),
    }, src.lines)
    return src.population("requests", frame, key=("ticket",),
                          totals={"action": "action", "approval": "approval", "state": "state"},
                          source_system=_source_system(kind, system, source_system),
                          extracted_at=extracted_at)


def _split_entitlements(values: np.ndarray) -> pd.Series:
    return pd.Series([tuple(p.strip() for p in v.split(";") if p.strip()) for v in values],
                     dtype=object)


def read_sod_rules(path: str | Path, *, system: str | None = None, timezone: str = "UTC",
                   extracted_at: str | None = None, source_system: str | None = None,
                   display_names: Mapping[str, str] | None = None,
                   privileged_entitlements: Mapping[str, Collection[str]] | None = None,
                   ) -> Population:
    """The entity's SoD rule set -> ``sod_rules`` (key ``rule_id``).

    ``entitlements_a``/``entitlements_b`` are tuples of entitlement names (split on ``;``). A
    rule with an empty side can never fire, so it is an error naming the line.
    """
    kind = "sod_rules"
    src = _Source(kind, path, timezone=timezone, required=(
        "rule_id", "system", "function_a", "entitlements_a", "function_b", "entitlements_b",
        "risk_level", "description"))
    for column in ("entitlements_a", "entitlements_b"):
        empty = np.array([not any(p.strip() for p in v.split(";")) for v in src.raw(column)],
                         dtype=bool)
        if empty.any():
            src.fail(column, empty, "one or more entitlement names separated by ';'")
    frame = _frame({
        "rule_id": src.text("rule_id"),
        "system": src.text("system"),
        "function_a": src.text("function_a"),
        "entitlements_a": _split_entitlements(src.raw("entitlements_a")),
        "function_b": src.text("function_b"),
        "entitlements_b": _split_entitlements(src.raw("entitlements_b")),
        "risk_level": src.text("risk_level"),
        "description": src.text("description"),
    }, src.lines)
    return src.population("sod_rules", frame, key=("rule_id",),
                          totals={"system": "system", "risk level": "risk_level"},
                          source_system=_source_system(kind, system, source_system),
                          extracted_at=extracted_at)


def read_privileged_access_approved(path: str | Path, *, system: str | None = None,
                                    timezone: str = "UTC", extracted_at: str | None = None,
                                    source_system: str | None = None,
                                    display_names: Mapping[str, str] | None = None,
                                    privileged_entitlements: Mapping[str, Collection[str]]
                                    | None = None) -> Population:
    """Management's approved privileged access -> ``privileged_approvals``.

    Key ``system`` + ``account`` + ``entitlement``; ``account`` casefolded (original kept);
    ``approved_on``/``expires_on`` are dates (``expires_on`` empty = no expiry).
    """
    kind = "privileged_access_approved"
    src = _Source(kind, path, timezone=timezone, required=(
        "system", "account", "entitlement", "approved_by", "approved_on", "expires_on"))
    frame = _frame({
        "system": src.text("system"),
        "account": src.folded("account"),
        "account_original": src.text("account"),
        "entitlement": src.text("entitlement"),
        "approved_by": src.text("approved_by"),
        "approved_on": src.date("approved_on"),
        "expires_on": src.date("expires_on"),
    }, src.lines)
    return src.population("privileged_approvals", frame,
                          key=("system", "account", "entitlement"),
                          totals={"system": "system"},
                          source_system=_source_system(kind, system, source_system),
                          extracted_at=extracted_at)


Reader = Callable[..., Population]

#: Export kind -> reader. Every reader takes ``(path, *, system, timezone, extracted_at,
#: source_system, display_names, privileged_entitlements)`` and returns a :class:`Population`.
READERS: dict[str, Reader] = {
    "workday_workers": read_workday_workers,
    "okta_users": read_okta_users,
    "okta_app_assignments": read_okta_app_assignments,
    "ledgerline_erp_user_roles": read_ledgerline_erp_user_roles,
    "github_org_members": read_github_org_members,
    "aws_iam_credential_report": read_aws_iam_credential_report,
    "aws_iam_group_memberships": read_aws_iam_group_memberships,
    "campaign_decisions": read_campaign_decisions,
    "campaign_status": read_campaign_status,
    "servicenow_access_requests": read_servicenow_access_requests,
    "sod_rules": read_sod_rules,
    "privileged_access_approved": read_privileged_access_approved,
}


def load_source(
    kind: str,
    path: Path,
    *,
    system: str | None = None,
    timezone: str = "UTC",
    extracted_at: str | None = None,
    source_system: str | None = None,
    display_names: Mapping[str, str] | None = None,
    privileged_entitlements: Mapping[str, Collection[str]] | None = None,
) -> Population:
    """Read one export into its canonical table with IPE evidence.

    ``kind`` selects the reader (see :data:`READERS`). ``system`` overrides the system id written
    into single-system exports (e.g. a second AWS account); ``timezone`` is the IANA zone of
    values exported without a zone; ``extracted_at`` is recorded as declared; ``source_system``
    labels the evidence (default: ``system`` or the export's system); ``display_names`` maps
    application display names to system ids; ``privileged_entitlements`` replaces
    :data:`DEFAULT_PRIVILEGED_ENTITLEMENTS`.
    """
    reader = READERS.get(kind)
    if reader is None:
        known = ", ".join(sorted(READERS))
        raise ValueError(f"unknown export kind {kind!r}; known kinds: {known}.")
    return reader(Path(path), system=system, timezone=timezone, extracted_at=extracted_at,
                  source_system=source_system, display_names=display_names,
                  privileged_entitlements=privileged_entitlements)


# --------------------------------------------------------------------------------------------
# Derived tables
# --------------------------------------------------------------------------------------------

_ERP_ACCOUNT_ATTRIBUTES = ("account_id", "login_original", "email", "email_original",
                           "display_name", "account_status", "account_status_original",
                           "created_at", "last_login_at", "last_login_state")


def erp_accounts(grants: Population | pd.DataFrame) -> pd.DataFrame:
    """One ``accounts`` row per ERP user from the ERP user x role ``grants`` table.

    The ERP listing repeats each user's attributes on every role line; they must agree, else a
    :class:`ValueError` names the login and the lines. ``line`` is the user's first line. A user
    whose roles were all removed in the period is still an account (it was listed).
    """
    frame = grants.frame if isinstance(grants, Population) else grants
    distinct = frame[["login", *_ERP_ACCOUNT_ATTRIBUTES]].drop_duplicates()
    conflicting = distinct[distinct["login"].duplicated(keep=False)]
    if not conflicting.empty:
        login = conflicting["login"].iloc[0]
        versions = conflicting[conflicting["login"] == login]
        differing = [c for c in _ERP_ACCOUNT_ATTRIBUTES
                     if versions[c].nunique(dropna=False) > 1]
        lines = frame.loc[frame["login"] == login, "line"].tolist()
        raise ValueError(f"ERP user {login!r} has different {', '.join(differing)} on lines "
                         f"{', '.join(map(str, lines))}; the listing is inconsistent.")
    first = (frame.sort_values("line", kind="stable").drop_duplicates("login", keep="first")
             .reset_index(drop=True))
    n = len(first)
    return pd.DataFrame({
        "system": first["system"],
        "account_id": first["account_id"],
        "login": first["login"],
        "login_original": first["login_original"],
        "email": first["email"],
        "email_original": first["email_original"],
        "employee_id": _constant(pd.NA, n, "string"),
        "display_name": first["display_name"],
        "status": first["account_status"],
        "status_original": first["account_status_original"],
        "created_at": first["created_at"],
        "last_login_at": first["last_login_at"],
        "last_login_state": first["last_login_state"],
        "status_changed_at": _nat(n),
        "mfa_enabled": _constant(pd.NA, n, "boolean"),
        "password_enabled": _constant(pd.NA, n, "boolean"),
        "is_root": _constant(False, n, "bool"),
        "line": first["line"].astype("int64"),
    })


def github_accounts(members: Population | pd.DataFrame) -> pd.DataFrame:
    """The ``accounts`` view of the GitHub member frame: :data:`ACCOUNT_COLUMNS`, the GitHub
    extras (``role``, ``privileged``, ``membership_visibility``, ``verified_domain_emails``) and
    ``line``."""
    frame = members.frame if isinstance(members, Population) else members
    view = frame[[*ACCOUNT_COLUMNS, "entitlement", "privileged", "membership_visibility",
                  "verified_domain_emails", "line"]]
    return view.rename(columns={"entitlement": "role"}).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Reconciliation
# --------------------------------------------------------------------------------------------

_DIRECTIONS = ("left_in_right", "right_in_left", "both")


@dataclass(frozen=True, eq=False)
class Reconciliation:
    """The result of matching two populations on a key (completeness evidence).

    ``direction`` states what completeness means for this reconciliation: ``left_in_right``
    (every left key is in the right population, e.g. every active HR employee has an Okta
    identity), ``right_in_left`` or ``both``. Rows with an empty key can never match and are
    counted separately (and make the side they are on incomplete).
    """

    left_name: str
    right_name: str
    left_key: str
    right_key: str
    direction: str
    left_rows: int
    right_rows: int
    left_keys: int
    right_keys: int
    matched_keys: int
    left_empty_keys: int
    right_empty_keys: int
    unmatched_left: pd.DataFrame
    unmatched_right: pd.DataFrame

    @property
    def left_complete(self) -> bool:
        """Every left row's key is present on the right."""
        return self.unmatched_left.empty and self.left_empty_keys == 0

    @property
    def right_complete(self) -> bool:
        """Every right row's key is present on the left."""
        return self.unmatched_right.empty and self.right_empty_keys == 0

    @property
    def is_complete(self) -> bool:
        """Complete in the stated ``direction``."""
        if self.direction == "left_in_right":
            return self.left_complete
        if self.direction == "right_in_left":
            return self.right_complete
        return self.left_complete and self.right_complete

    def as_rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for a workpaper table."""
        statement = {
            "left_in_right": f"every {self.left_name} key is in {self.right_name}",
            "right_in_left": f"every {self.right_name} key is in {self.left_name}",
            "both": f"{self.left_name} and {self.right_name} have the same keys",
        }[self.direction]
        rows = [
            ("Reconciliation", f"{self.left_name}.{self.left_key} to "
                               f"{self.right_name}.{self.right_key}"),
            ("Completeness tested", statement),
            (f"{self.left_name} rows", f"{self.left_rows:,}"),
            (f"{self.right_name} rows", f"{self.right_rows:,}"),
            (f"{self.left_name} distinct keys", f"{self.left_keys:,}"),
            (f"{self.right_name} distinct keys", f"{self.right_keys:,}"),
            ("Matched keys", f"{self.matched_keys:,}"),
            (f"{self.left_name} rows not in {self.right_name}", f"{len(self.unmatched_left):,}"),
            (f"{self.right_name} rows not in {self.left_name}", f"{len(self.unmatched_right):,}"),
        ]
        if self.left_empty_keys:
            rows.append((f"{self.left_name} rows with an empty key", f"{self.left_empty_keys:,}"))
        if self.right_empty_keys:
            rows.append((f"{self.right_name} rows with an empty key",
                         f"{self.right_empty_keys:,}"))
        rows.append(("Result", "complete" if self.is_complete else "NOT complete"))
        return rows


def reconcile(left: pd.DataFrame, right: pd.DataFrame, left_key: str, right_key: str,
              left_name: str, right_name: str, *, direction: str = "left_in_right"
              ) -> Reconciliation:
    """Match ``left`` and ``right`` on their key columns and report what does not match.

    Keys are compared exactly as given: pass canonical (casefolded) key columns. Unmatched rows
    are returned whole (with their ``line``) so they can be cited as exceptions.
    """
    if direction not in _DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; use one of {', '.join(_DIRECTIONS)}.")
    for frame, key, name in ((left, left_key, left_name), (right, right_key, right_name)):
        if key not in frame.columns:
            raise ValueError(f"{name} has no column {key!r}; columns: {', '.join(frame.columns)}.")
    left_numeric = pd.api.types.is_numeric_dtype(left[left_key])
    right_numeric = pd.api.types.is_numeric_dtype(right[right_key])
    if left_numeric != right_numeric:
        raise ValueError(f"cannot reconcile {left_name}.{left_key} ({left[left_key].dtype}) with "
                         f"{right_name}.{right_key} ({right[right_key].dtype}): one key is "
                         "numeric and the other is not (leading zeros would be lost).")
    left_values = left[left_key]
    right_values = right[right_key]
    left_set = set(left_values.dropna())
    right_set = set(right_values.dropna())
    unmatched_left = left[left_values.notna() & ~left_values.isin(right_set)]
    unmatched_right = right[right_values.notna() & ~right_values.isin(left_set)]
    return Reconciliation(
        left_name=left_name, right_name=right_name, left_key=left_key, right_key=right_key,
        direction=direction, left_rows=len(left), right_rows=len(right),
        left_keys=len(left_set), right_keys=len(right_set),
        matched_keys=len(left_set & right_set),
        left_empty_keys=int(left_values.isna().sum()),
        right_empty_keys=int(right_values.isna().sum()),
        unmatched_left=unmatched_left.reset_index(drop=True),
        unmatched_right=unmatched_right.reset_index(drop=True),
    )
