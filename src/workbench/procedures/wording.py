"""How a control's workpaper words what it found: reader options as declared, descriptions with the
system's display name, SOC 2 exceptions as a type 2 report words them, and the management's-response
table. Pure functions of their arguments, kept apart from the procedure machinery (``base``)."""

from __future__ import annotations

import re

import pandas as pd

from workbench import exceptions

MANAGEMENT_RESPONSE_COLUMNS = ["exception id", "SOC 2 criteria", "exception noted", "status", "management's response",
                               "owner", "remediation action", "due date"]
NO_RESPONSE = "Management's response not yet recorded"


def option_text(value: object, indent: str = "") -> str:
    """A declared reader option as a reader reads it: one ``key: value`` per line, nested
    mappings indented, text (an SQL expression, a header) exactly as written, without YAML's
    quoting. The run folder's parameters.yaml keeps the exact YAML."""
    if isinstance(value, dict):
        lines = []
        for key, item in value.items():
            if isinstance(item, dict) and item:
                lines.append(f"{indent}{key}:\n{option_text(item, indent + '  ')}")
            else:
                lines.append(f"{indent}{key}: {option_text(item)}")
        return "\n".join(lines)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(option_text(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def name_the_system(description: str, system: str, name: str) -> str:
    """The description with the finding's system id written as its display name ("okta account" -> "Okta account").

    Only where the analytics' wording puts the system: before " account", " access" or a quoted
    entitlement, so an account name that happens to contain the id is never rewritten.
    """
    if not system or not name or system == name:
        return description
    return re.sub(rf"(?<![\w@.\-]){re.escape(system)}(?= account\b| access\b| ')", lambda _: name, description)


def soc2_exception_wording(description: str, origin: str, rule: str, sample_text: str) -> str:
    """One exception as a SOC 2 type 2 report words it in the results of tests: "Exception noted: ...".

    The finding's own description, then how the test found it, in the words of the control's SOC 2
    conclusion (full-population analytics, or the sample's "k of n sampled ... deviated").
    """
    basis = (f"Identified by full-population analytics ({rule.replace('_', ' ')})" if origin == "analytics"
             else f"Sample result: {sample_text}")
    return f"Exception noted: {description.strip().rstrip('.')}. {basis}."


def management_response_table(register: pd.DataFrame, records: dict[str, exceptions.RemediationRecord],
                              period: str, criteria: list[str], sample_text: str = "") -> pd.DataFrame:
    """SOC 2 exceptions of one control with management's response, one row per exception.

    ``register`` is the control's register (``build_register``); only rows whose framework includes
    SOC 2 are kept. Records match by exception id or, when carried from an earlier period, by
    ``finding_key`` (``exceptions.resolve_records``, which also applies a scheduled retest).
    Records that match no finding of this run belong to the period's register, not to this table.
    Empty, with the columns, when the control has no SOC 2 exception.
    """
    soc2 = register[register["framework"].str.contains("SOC 2", regex=False)]
    rows = [{
        "exception id": row["exception_id"],
        "SOC 2 criteria": ", ".join(criteria),
        "exception noted": soc2_exception_wording(row["description"], row["origin"], row["rule"], sample_text),
        "status": record.status,
        "management's response": record.management_response or NO_RESPONSE,
        "owner": record.owner or "",
        "remediation action": record.remediation_action or "",
        "due date": record.due_date.isoformat() if record.due_date else "",
    } for row, record, current in exceptions.resolve_records(soc2, records, period) if current]
    return pd.DataFrame(rows, columns=MANAGEMENT_RESPONSE_COLUMNS)
