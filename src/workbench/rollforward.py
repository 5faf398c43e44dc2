"""Roll a period forward: the next period's parameter file, and its open exceptions carried over.

What an auditor does at the start of each period, done the same way every time: dates move by one
period (quarter to quarter, month to month), dates inside control settings and extraction times move
with them, file names that carry the period move too, a new seed is proposed (samples must differ
from period to period), and every exception still open (open, remediated awaiting retest,
retested-fail, or an accepted risk that has not expired) is carried into the next period's
remediation file with its history, and a retest is scheduled for the remediated ones. The prior
period's runs and files are only read. A source's ``as_of`` (the moment a snapshot shows its
system) moves with its extraction time, so a rolled-forward snapshot never claims the old period.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from workbench import sampling
from workbench.exceptions import (
    OPEN_STATUSES,
    REGISTER_COLUMNS,
    HistoryEntry,
    RemediationRecord,
    Retest,
    read_register,
    read_remediation,
    resolve_records,
    write_remediation,
)
from workbench.parameters import IDENTIFIER, PeriodParameters, load_period
from workbench.yamlfile import load_yaml


class RollforwardError(ValueError):
    """A roll-forward that cannot be done safely (e.g. it would overwrite an existing file)."""


@dataclass(frozen=True)
class Shift:
    """How far the next period lies from this one: whole months when periods are whole months."""

    months: int = 0
    days: int = 0

    def apply(self, value: dt.date | dt.datetime) -> dt.date | dt.datetime:
        """Move a date or timestamp by the shift (month ends stay month ends)."""
        if self.months:
            month_index = value.month - 1 + self.months
            year, month = value.year + month_index // 12, month_index % 12 + 1
            last = calendar.monthrange(year, month)[1]
            was_month_end = value.day == calendar.monthrange(value.year, value.month)[1]
            return value.replace(year=year, month=month, day=last if was_month_end else min(value.day, last))
        return value + dt.timedelta(days=self.days)


def period_shift(start: dt.date, end: dt.date) -> Shift:
    """The shift to the next period: its length in months if it spans whole months, else in days."""
    whole_months = start.day == 1 and end.day == calendar.monthrange(end.year, end.month)[1]
    if whole_months:
        return Shift(months=(end.year - start.year) * 12 + end.month - start.month + 1)
    return Shift(days=(end - start).days + 1)


def proposed_seed(seed: int, period_id: str) -> int:
    """A new seed for the next period, derived from the old one (so the proposal is re-performable)."""
    return int(hashlib.sha256(f"{seed}|{period_id}".encode()).hexdigest()[:8], 16)


def _period_tokens(period_id: str) -> list[str]:
    """Spellings of a period id that appear in file names (``2026-Q3`` and ``2026Q3``)."""
    compact = period_id.replace("-", "").replace("_", "")
    return [period_id] if compact == period_id else [period_id, compact]


def _rename(text: str, old: str, new: str) -> str:
    """Replace the old period's id in a path, in each spelling, with the new one's."""
    for old_token, new_token in zip(_period_tokens(old), _period_tokens(new)):
        text = text.replace(old_token, new_token)
    return text


def _shift_dates(value: Any, shift: Shift) -> Any:
    """Every date and timestamp inside a settings block, moved by the shift."""
    if isinstance(value, (dt.date, dt.datetime)):
        return shift.apply(value)
    if isinstance(value, dict):
        return {k: _shift_dates(v, shift) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift_dates(v, shift) for v in value]
    return value


def next_parameters(document: dict[str, Any], to_period: str) -> dict[str, Any]:
    """The next period's parameter document from this period's (as read with ``yaml.safe_load``)."""
    period = document["period"]
    shift = period_shift(period["start"], period["end"])
    new = dict(document)
    new["period"] = {"id": to_period, "start": shift.apply(period["start"]), "end": shift.apply(period["end"])}
    new["seed"] = proposed_seed(int(document["seed"]), to_period)
    new["sources"] = [
        source | {"path": _rename(source["path"], period["id"], to_period),
                  "extracted_at": shift.apply(source["extracted_at"])}
        | ({"as_of": shift.apply(source["as_of"])} if source.get("as_of") is not None else {})
        for source in document["sources"]
    ]
    new["controls"] = [control | {"settings": _shift_dates(control.get("settings", {}), shift)}
                       for control in document["controls"]]
    return new


def carried_records(register: pd.DataFrame, records: dict[str, RemediationRecord], params: PeriodParameters,
                    to_period: str, new_start: dt.date, today: dt.date) -> dict[str, RemediationRecord]:
    """The records to carry: every exception still open, and accepted risks that have not expired.

    Each keeps its history (plus a line saying it was carried) and its finding key, so the next
    period's run matches it to the same finding; remediated ones get a retest sized by policy.
    """
    frequency = {c.id: c.frequency for c in params.controls}
    carried = {}
    for row, record, _ in resolve_records(register, records, params.period.id):
        status = record.status
        expiry = record.accepted_risk_expiry
        if not (status in OPEN_STATUSES or (status == "accepted" and expiry and expiry >= new_start)):
            continue
        control_id = row["control_id"] or record.control_id
        retest = None
        if status in ("remediated", "retested-fail") and control_id in frequency:
            plan = sampling.retest_sample_size(frequency[control_id])
            retest = Retest(period=to_period, sample_size=plan.n, basis=plan.rationale())
        note = f"carried forward from {params.period.id} ({row['exception_id']}) with status {status}"
        carried[row["exception_id"]] = record.model_copy(update={
            "status": "open" if status == "retested-fail" else status,
            "first_seen": record.first_seen or params.period.end,
            "finding_key": row["finding_key"] or record.finding_key,
            "control_id": control_id, "rule": row["rule"] or record.rule, "subject": row["subject"] or record.subject,
            **finding_identity(row, record),
            "retest": retest,
            "history": [*record.history, HistoryEntry(date=today, by="workbench rollforward", note=note)],
        })
    return carried


def finding_identity(row: dict[str, Any], record: RemediationRecord) -> dict[str, Any]:
    """The finding's system, framework and severity for a carried record: from the run's register row,
    else as the record already carries them (a record carried more than once, not found in between).

    Why: a carried exception that the next period's run does not find has no register row of its
    own there; without these its row in the next register would be blank in system, framework and
    severity.
    """
    return {name: (row.get(name) or None) or getattr(record, name) for name in ("system", "framework", "severity")}


@dataclass(frozen=True)
class Rollforward:
    """What a roll-forward wrote."""

    parameter_file: Path
    remediation_file: Path | None
    carried: int
    retests: int
    source_run: Path | None


def remediation_file_for(parameter_file: Path) -> Path:
    """Where the auditors' records of a period live: beside its parameter file."""
    return parameter_file.with_name(f"{parameter_file.stem}.remediation.yaml")


def rollforward(parameter_file: Path, to_period: str, outputs: Path = Path("outputs"),
                today: dt.date | None = None, records_only: bool = False, note: str = "") -> Rollforward:
    """Write the next period's parameter file and carry the open exceptions of this period's latest run.

    Refuses to overwrite an existing file of the next period. With ``records_only`` the next
    period's parameter file must already exist (prepared by hand or rolled forward earlier): it is
    checked, left as it is, and only the open exceptions are carried. ``today`` dates the history
    entries; ``note`` is added to the carried records file's header.
    """
    if not re.match(IDENTIFIER, to_period):
        raise RollforwardError(f"'{to_period}' is not a usable period id (letters, digits, '-', '_', '.')")
    parameter_file = Path(parameter_file)
    params = load_period(parameter_file)
    if to_period == params.period.id:
        raise RollforwardError(f"{parameter_file} already is period {to_period}")
    document = load_yaml(parameter_file, "period file")  # already validated by load_period above
    new_document = next_parameters(document, to_period)
    target = parameter_file.with_name(f"{_rename(parameter_file.stem, params.period.id, to_period)}.yaml")
    if target == parameter_file:
        target = parameter_file.with_name(f"{to_period}.yaml")
    new_records_file = remediation_file_for(target)
    for existing in (new_records_file,) if records_only else (target, new_records_file):
        if existing.exists():
            raise RollforwardError(f"{existing} already exists; roll-forward never overwrites a period's files")
    if records_only:
        if not target.is_file():
            raise RollforwardError(f"{target} does not exist; without --records-only roll-forward writes it")
        next_period = load_period(target).period
        if next_period.id != to_period:
            raise RollforwardError(f"{target} is period {next_period.id}, not {to_period}")
        new_start = next_period.start
    else:
        header = (f"# Period parameters rolled forward from {parameter_file.name} ({params.period.id}) to {to_period}.\n"
                  f"# Review before running: source files and extraction times, the proposed seed, people and controls.\n")
        target.write_text(header + yaml.safe_dump(new_document, sort_keys=False, allow_unicode=True, width=100),
                          encoding="utf-8")
        load_period(target)  # the written file must itself be a valid period file
        new_start = new_document["period"]["start"]

    run = _latest_run(Path(outputs) / params.period.id)
    if run is None:
        return Rollforward(target, None, 0, 0, None)
    register = read_register(run / "exceptions.csv")
    if "in_current_run" in register:  # the run's merged register also lists records without a finding
        register = register[register["in_current_run"] != "no"]
    register = register[REGISTER_COLUMNS]
    records = read_remediation(remediation_file_for(parameter_file))
    carried = carried_records(register, records, params, to_period, new_start, today or dt.date.today())
    write_remediation(carried, new_records_file,
                      header=f"# Exceptions carried forward from {params.period.id} (run {run.name}) into {to_period}.\n"
                             f"# Record root cause, remediation, management responses and retest results here."
                             + (f"\n# {note}" if note else ""))
    return Rollforward(target, new_records_file, len(carried), sum(r.retest is not None for r in carried.values()), run)


def _latest_run(period_dir: Path) -> Path | None:
    """The latest run of a period, if the period has been run."""
    latest = period_dir / "latest"
    if not latest.is_file():
        return None
    run = period_dir / latest.read_text(encoding="utf-8").strip()
    return run if (run / "exceptions.csv").is_file() else None
