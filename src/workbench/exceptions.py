"""The exception register and its lifecycle: stable ids, remediation records, Excel export.

Why stable ids: auditors record root cause, remediation and management responses against an
exception id, so the same finding must get the same id when a period is re-run. The id is a hash of
what identifies the finding (period, control, rule, system, subject, detail key), never of row order
or run time. ``finding_key`` is the same hash without the period: it links one finding across
periods (roll-forward, retests, history).

Auditors' records live in a remediation file beside the period's parameters (YAML or CSV, keyed by
exception id). A re-run merges them in and never loses them; a record whose id no longer matches a
finding is reported and kept, never dropped.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from workbench import csvsafe, reproducible, runfolder
from workbench.parameters import read_keyed_records, validate_keyed_records

REGISTER_COLUMNS = [
    "exception_id", "finding_key", "period", "control_id", "rule", "subject", "system", "framework",
    "description", "evidence_reference", "severity", "origin",
]
LIFECYCLE_COLUMNS = [
    "status", "first_seen", "age_days", "root_cause", "owner", "remediation_action", "due_date",
    "management_response", "accepted_risk_approver", "accepted_risk_expiry", "retest", "history",
    "in_current_run",
]
SEVERITIES = ("high", "medium", "low")
STATUSES = ("open", "remediated", "retested-pass", "retested-fail", "accepted")
OPEN_STATUSES = ("open", "remediated", "retested-fail")  # still to be closed: carried into the next period
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Finding:
    """One exception found by a control test, before it gets its register id.

    ``detail_key`` distinguishes two findings of the same rule on the same subject (e.g. two
    undecided review lines); it must be stable across runs (an entitlement name, not a row number).
    """

    rule: str
    subject: str
    system: str
    description: str
    evidence_reference: str
    severity: str = "medium"
    origin: str = "analytics"  # "analytics" (full population) or "sample" (failed attribute)
    detail_key: str = ""
    frameworks: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not '{self.severity}'")


#: Rules whose finding is about a person across systems (one finding listing the systems): the
#: systems are not part of its identity, so it keeps its id and key when the systems change.
CROSS_SYSTEM_RULES = frozenset({"rubber_stamping"})


def _identity_system(finding: Finding) -> str:
    """The system as part of a finding's identity ('' for a cross-system rule)."""
    return "" if finding.rule in CROSS_SYSTEM_RULES else finding.system


def exception_id(period: str, control_id: str, finding: Finding) -> str:
    """Stable id such as ``EX-UAR01-3F9A2C1B7D`` from what identifies the finding."""
    identity = "|".join([period, control_id, finding.rule, _identity_system(finding), finding.subject,
                         finding.detail_key])
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:10].upper()
    short_control = "".join(ch for ch in control_id if ch.isalnum()).upper()
    return f"EX-{short_control}-{digest}"


def finding_key(control_id: str, finding: Finding) -> str:
    """The finding's identity without the period, to follow it across periods (``FK-`` + 16 hex)."""
    identity = "|".join([control_id, finding.rule, _identity_system(finding), finding.subject, finding.detail_key])
    return "FK-" + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16].upper()


def build_register(period: str, control_id: str, findings: list[Finding]) -> pd.DataFrame:
    """The control's exception register as a DataFrame in a stable order (by rule, subject, id).

    Two findings with the same identity are one exception: the first description is kept.
    """
    rows = {}
    for finding in findings:
        ex_id = exception_id(period, control_id, finding)
        if ex_id in rows:
            continue
        record = asdict(finding)
        rows[ex_id] = {
            "exception_id": ex_id,
            "finding_key": finding_key(control_id, finding),
            "period": period,
            "control_id": control_id,
            "rule": finding.rule,
            "subject": finding.subject,
            "system": finding.system,
            "framework": "; ".join(finding.frameworks),
            "description": record["description"],
            "evidence_reference": finding.evidence_reference,
            "severity": finding.severity,
            "origin": finding.origin,
        }
    frame = pd.DataFrame(list(rows.values()), columns=REGISTER_COLUMNS)
    return frame.sort_values(["rule", "subject", "exception_id"], kind="mergesort").reset_index(drop=True)


def write_register(frame: pd.DataFrame, path: Path) -> Path:
    """Write a register as UTF-8 CSV with LF line ends (byte-stable for the same content), formula
    injection neutralised (:mod:`workbench.csvsafe`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return runfolder.write_atomically(path, lambda temporary: csvsafe.write_csv(frame, temporary))


def read_register(path: Path) -> pd.DataFrame:
    """Read a register written by ``write_register``, every column as text, values as they were."""
    return csvsafe.read_csv(path)


def combine_registers(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The period's register: all controls' registers in a stable order."""
    if not frames:
        return pd.DataFrame(columns=REGISTER_COLUMNS)
    combined = pd.concat(frames, ignore_index=True)
    return combined.sort_values(["control_id", "rule", "subject", "exception_id"], kind="mergesort").reset_index(drop=True)


# --- auditors' records: root cause, remediation, management response --------------------------

class RemediationError(ValueError):
    """A remediation file that cannot be used, naming the file, the exception id and the key."""


class HistoryEntry(BaseModel):
    """One dated note in an exception's history (what happened, who recorded it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    date: dt.date
    by: str
    note: str


class Retest(BaseModel):
    """A retest scheduled for a remediated exception (set by roll-forward, completed by the auditor)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    period: str
    sample_size: int = Field(ge=1)
    basis: str
    result: Literal["pending", "pass", "fail"] = "pending"


class RemediationRecord(BaseModel):
    """What the auditor records against one exception id."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    status: Literal[STATUSES] = "open"  # type: ignore[valid-type]
    root_cause: str | None = None
    owner: str | None = None
    remediation_action: str | None = None
    due_date: dt.date | None = None
    management_response: str | None = None
    accepted_risk_approver: str | None = None
    accepted_risk_expiry: dt.date | None = None
    first_seen: dt.date | None = None
    finding_key: str | None = None
    control_id: str | None = None
    rule: str | None = None
    subject: str | None = None
    # What the finding was about, kept when it is carried into a later period so that a carried
    # exception the later run does not find still shows its system, framework and severity.
    system: str | None = None
    framework: str | None = None
    severity: Literal[SEVERITIES] | None = None  # type: ignore[valid-type]
    prior_exception_ids: list[str] = Field(default_factory=list)
    retest: Retest | None = None
    history: list[HistoryEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _accepted_risk_is_approved(self) -> RemediationRecord:
        if self.status == "accepted" and not (self.accepted_risk_approver and self.accepted_risk_expiry):
            raise ValueError("status 'accepted' needs accepted_risk_approver and accepted_risk_expiry")
        return self


def read_remediation(path: Path) -> dict[str, RemediationRecord]:
    """Read the auditors' records (YAML mapping of exception id -> record, or CSV with exception_id).

    A missing file means no records yet. Every problem is reported at once, naming the id and key.
    """
    if path.suffix.lower() != ".csv":
        return read_keyed_records(path, RemediationRecord, "exception id", RemediationError)
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        raw = {row.pop("exception_id"): {k: v for k, v in row.items() if v not in ("", None)}
               for row in csv.DictReader(handle) if row.get("exception_id")}
    return validate_keyed_records(raw, path, RemediationRecord, RemediationError)


def write_remediation(records: dict[str, RemediationRecord], path: Path, header: str = "") -> Path:
    """Write records as YAML (sorted by id) through a temporary file, so nothing is half-written."""
    document = {k: v.model_dump(mode="json", exclude_none=True, exclude_defaults=False) for k, v in sorted(records.items())}
    for record in document.values():
        for empty in [k for k, v in record.items() if v == [] or v is None]:
            record.pop(empty)
    text = (header + "\n" if header else "") + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path


def resolve_records(register: pd.DataFrame, records: dict[str, RemediationRecord],
                    period: str = "") -> list[tuple[dict[str, Any], RemediationRecord, bool]]:
    """Each register row with the record that applies to it, then each record that matched no row.

    A record matches a finding by exception id, or, for a record carried forward from an earlier
    period, by ``finding_key``. A carried record with a scheduled retest is retested here against
    this period's full population: the finding recurred (retest fail) or it did not (retest pass).
    Returns (register row, record, in current run) triples; unmatched records get a row of their own.
    """
    current_ids = set(register["exception_id"])
    carried = {r.finding_key: (i, r) for i, r in records.items() if r.finding_key and i not in current_ids}
    # a cross-system finding carried from a run that keyed it per system: the same reviewer's finding
    by_person = {(r.control_id, r.rule, (r.subject or "").casefold()): (i, r) for i, r in records.items()
                 if r.finding_key and i not in current_ids and r.rule in CROSS_SYSTEM_RULES}
    resolved, used = [], set()
    for row in register.to_dict("records"):
        person = (row["control_id"], row["rule"], str(row["subject"]).casefold())
        if row["finding_key"] not in carried and person in by_person and by_person[person][0] not in used:
            carried[row["finding_key"]] = by_person[person]
        if row["exception_id"] in records:
            record = records[row["exception_id"]]
            used.add(row["exception_id"])
        elif row["finding_key"] in carried:
            prior_id, prior = carried[row["finding_key"]]
            used.add(prior_id)
            record = _retested(prior, prior_id, period, recurred=row["exception_id"])
        else:
            record = RemediationRecord()
        resolved.append((row, record, True))
    for exception, record in sorted(records.items()):
        if exception in used:
            continue
        if record.finding_key in carried and record.retest is not None:
            record = _retested(record, exception, period, recurred=None)
        row = {column: "" for column in REGISTER_COLUMNS} | {
            "exception_id": exception, "finding_key": record.finding_key or "", "period": period,
            "control_id": record.control_id or "", "rule": record.rule or "", "subject": record.subject or "",
            "system": record.system or "", "framework": record.framework or "", "severity": record.severity or "",
            "description": ("Carried forward from an earlier period; not found in this period's full-population "
                            "analytics." if record.retest or any(h.by == "workbench rollforward" for h in record.history)
                            else "Record in the remediation file whose exception this run did not find "
                                 "(remediated, out of scope, or a mistyped id): review it."),
        }
        resolved.append((row, record, False))
    return resolved


def merge_records(register: pd.DataFrame, records: dict[str, RemediationRecord], as_of: dt.date,
                  period: str = "") -> pd.DataFrame:
    """The register with every record merged in (see ``resolve_records``), as text columns.

    ``as_of`` (the period end) dates new findings (``first_seen``) and measures ``age_days``.
    """
    rows = [row | _lifecycle(record, as_of, current) for row, record, current in resolve_records(register, records, period)]
    return pd.DataFrame(rows, columns=REGISTER_COLUMNS + LIFECYCLE_COLUMNS)


def _retested(record: RemediationRecord, record_id: str, period: str, recurred: str | None) -> RemediationRecord:
    """A carried record after this period's full-population retest (status changes only if remediated)."""
    if record.retest is None:
        return record.model_copy(update={"prior_exception_ids": [*record.prior_exception_ids, record_id]}) \
            if recurred and record_id not in record.prior_exception_ids else record
    result = "fail" if recurred else "pass"
    status = record.status
    if status == "remediated":
        status = "retested-fail" if recurred else "retested-pass"
    return record.model_copy(update={
        "status": status,
        "retest": record.retest.model_copy(update={
            "result": result,
            "basis": record.retest.basis + (f"; recurred as {recurred}" if recurred
                                            else f"; not found in the {period or 'current'} population"),
        }),
        "prior_exception_ids": sorted({*record.prior_exception_ids, record_id}) if recurred else record.prior_exception_ids,
    })


def _lifecycle(record: RemediationRecord, as_of: dt.date, in_current_run: bool) -> dict[str, Any]:
    """The lifecycle columns of one exception, as text for the register."""
    first_seen = record.first_seen or as_of
    return {
        "status": record.status,
        "first_seen": first_seen.isoformat(),
        "age_days": (as_of - first_seen).days,
        "root_cause": record.root_cause or "",
        "owner": record.owner or "",
        "remediation_action": record.remediation_action or "",
        "due_date": record.due_date.isoformat() if record.due_date else "",
        "management_response": record.management_response or "",
        "accepted_risk_approver": record.accepted_risk_approver or "",
        "accepted_risk_expiry": record.accepted_risk_expiry.isoformat() if record.accepted_risk_expiry else "",
        "retest": (f"{record.retest.period}: {record.retest.sample_size} item(s), {record.retest.result}"
                   if record.retest else ""),
        "history": " | ".join(f"{h.date} {h.by}: {h.note}" for h in record.history),
        "in_current_run": "yes" if in_current_run else "no",
    }


def carried_summary(merged: pd.DataFrame) -> str | None:
    """One line on the exceptions carried in from earlier periods: how their retests came out, what stays open.

    Carried records are those whose history has a roll-forward entry; None when there are none.
    """
    carried = merged[merged["history"].str.contains("workbench rollforward:", regex=False)]
    if carried.empty:
        return None
    counts = carried["status"].value_counts()
    return (f"{len(carried)} exception(s) carried from earlier periods: "
            f"{counts.get('retested-pass', 0)} retested and passed (no longer in the full population), "
            f"{counts.get('retested-fail', 0)} retested and failed (recurred), "
            f"{counts.get('remediated', 0)} remediated awaiting retest, {counts.get('open', 0)} still open, "
            f"{counts.get('accepted', 0)} accepted risk(s).")


def unmatched_records(merged: pd.DataFrame) -> list[str]:
    """Ids of records that match no finding of this run and need the auditor's review (never dropped).

    A carried exception whose retest passed is not among them: it is expected not to be found, and
    its retest says so.
    """
    unmatched = (merged["in_current_run"] == "no") & (merged["status"] != "retested-pass")
    return merged.loc[unmatched, "exception_id"].tolist()


# --- Excel ------------------------------------------------------------------------------------

def neutralised(value: Any) -> bool:
    """True when a text value would be read as a formula by a spreadsheet (=, +, -, @, tab, CR)."""
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def write_excel(sheets: dict[str, pd.DataFrame], path: Path, as_at: dt.date | None = None) -> Path:
    """Write DataFrames as an Excel workbook in which every value is data, never a formula.

    Text is stored as text (with Excel's quote prefix where it begins with =, +, -, @), so a value
    such as ``=HYPERLINK(...)`` planted in an export shows as text and never runs. The workbook's
    created and modified properties, and its archive's time stamps, are ``as_at`` (the period end;
    default 2000-01-01), never the time of saving, so the same register gives the same bytes.
    """
    import openpyxl  # on first use: about 0.1 s that a kernel or the check never needs
    from openpyxl.styles import Alignment, Font
    from openpyxl.writer.excel import ExcelWriter

    when = reproducible.document_time(as_at or dt.date(2000, 1, 1))
    workbook = openpyxl.Workbook()
    workbook.properties.created = workbook.properties.modified = when
    workbook.remove(workbook.active)
    for title, frame in sheets.items():
        sheet = workbook.create_sheet(title[:31])
        sheet.append(list(frame.columns))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for values in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
            sheet.append([None if v is None else str(v) if not isinstance(v, (int, float)) else v for v in values])
        for row in sheet.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
                    cell.quotePrefix = neutralised(cell.value)
                    cell.alignment = Alignment(wrap_text=len(cell.value) > 60, vertical="top")
        sheet.freeze_panes = "A2"
        for column in sheet.columns:
            width = max((len(str(c.value)) for c in column if c.value is not None), default=8)
            sheet.column_dimensions[column[0].column_letter].width = min(max(width + 2, 8), 60)
    buffer = io.BytesIO()  # openpyxl's own save stamps the time of saving as "modified"
    ExcelWriter(workbook, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    return runfolder.write_bytes(path, reproducible.stable_zip(buffer.getvalue(), when))
