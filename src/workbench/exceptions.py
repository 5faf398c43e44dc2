"""The exception register: every analytics hit and failed attribute, with a stable id.

Why stable ids: auditors record root cause, remediation and management responses against an
exception id, so the same finding must get the same id when a period is re-run. The id is a hash of
what identifies the finding (period, control, rule, system, subject, detail key), never of row order
or run time.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

REGISTER_COLUMNS = [
    "exception_id", "period", "control_id", "rule", "subject", "system", "framework",
    "description", "evidence_reference", "severity", "origin",
]
SEVERITIES = ("high", "medium", "low")


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


def exception_id(period: str, control_id: str, finding: Finding) -> str:
    """Stable id such as ``EX-UAR01-3F9A2C1B7D`` from what identifies the finding."""
    identity = "|".join([period, control_id, finding.rule, finding.system, finding.subject, finding.detail_key])
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:10].upper()
    short_control = "".join(ch for ch in control_id if ch.isalnum()).upper()
    return f"EX-{short_control}-{digest}"


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
    """Write a register as UTF-8 CSV with LF line ends (byte-stable for the same content)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def read_register(path: Path) -> pd.DataFrame:
    """Read a register written by ``write_register``, every column as text."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def combine_registers(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The period's register: all controls' registers in a stable order."""
    if not frames:
        return pd.DataFrame(columns=REGISTER_COLUMNS)
    combined = pd.concat(frames, ignore_index=True)
    return combined.sort_values(["control_id", "rule", "subject", "exception_id"], kind="mergesort").reset_index(drop=True)
