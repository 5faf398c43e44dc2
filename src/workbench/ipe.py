"""IPE checks: whether the information produced by the entity (the exports a control reads) can be
relied on, before anything is concluded from it.

A control test is only as good as its population. An HR roster with no rows, a user list a third
short of the system's own count, two workers with one employee id, a termination dated before the
hire, or a cell with a hidden control character are not facts about the control: they say the
export is unreliable. Each such problem is an *IPE exception* (origin ``ipe``), a finding with a
stable id like any other, listed in the workpaper's population section (section 2) and in the
register. The checks are pure functions over the canonical tables and the declared parameters:

- ``ipe_empty_source``: an export with no rows, for a role the control requires (an empty HR
  roster or IdP user list is not evidence that nothing happened);
- ``ipe_row_count``: a table whose rows differ from the entity's control total, declared per source
  as ``options.expected_rows`` (a count, or a count with a tolerance);
- ``ipe_duplicate_key``: two HR workers with one employee id or one e-mail (``identities``);
- ``ipe_impossible_sequence``: a termination before the hire date (``identities``), a grant
  removed before it was granted (``grants``), a review decision before its campaign was activated
  (``review_decisions`` against ``campaigns``);
- ``ipe_control_characters``: a C0 control character (other than tab, CR, LF) or DEL in a text
  cell of any canonical table, naming the file, line and column.
- ``ipe_stale_listing``: a listing used for a moment it cannot show (extracted before the period end
  or the decision deadline it is used for, or a point-in-time listing extracted long after the
  review snapshot): :mod:`workbench.freshness`, run by the procedures on the claims they declare.

The prior period's row count is not compared: the prior period's run is not among a run's frozen
inputs, so the result would depend on what else lies in the outputs folder and could not be
re-performed from the run folder alone; ``expected_rows`` is the reproducible control total.

**What an IPE exception does to the conclusion.** Until it is resolved (a corrected export and a
re-run) or accepted, the test cannot be relied on, so no conclusion on operating effectiveness is
reached. Every framework the control maps to concludes, in one wording:
**"Cannot conclude: evidence unreliable (IPE)"**; never "Effective" (SOX) or "No exceptions noted"
(SOC 2), and not a deficiency either (nothing shows the control failed). For the period's SOX
deficiency worksheet the control counts as not effective (``effective`` False: it cannot be relied
on, e.g. as a compensating control); the classification stays the auditor's judgment.

**Acceptance.** The auditor may accept an IPE exception with a reason (e.g. the HR roster is empty
because the entity had no employees yet): a record keyed by the exception id or finding key, with
``accepted_by``, ``accepted_on`` and ``reason``, in ``<period file stem>.ipe-acceptances.yaml``
beside the period file, frozen into the run with the other auditors' records. An accepted IPE
exception stays in the register and the workpaper, with "accepted by X on D: reason" beside it,
and no longer blocks the conclusion.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, StringConstraints

from workbench import workpapers
from workbench.exceptions import Finding
from workbench.parameters import read_keyed_records
from workbench.populations.arrowtext import text_bytes
from workbench.populations.options import expected_rows

ORIGIN = "ipe"
RULES: dict[str, str] = {
    "ipe_empty_source": "an export with no rows, for a role the control requires",
    "ipe_row_count": "rows differ from the entity's control total (options.expected_rows)",
    "ipe_duplicate_key": "one employee id or e-mail on two HR workers",
    "ipe_impossible_sequence": "dates in an impossible order (termination before hire, removal before "
                               "grant, decision before the campaign was activated)",
    "ipe_control_characters": "a control character in a text cell",
    "ipe_stale_listing": "a listing whose moment cannot show the state at the moment the control uses it for "
                         "(workbench.freshness)",
}
HEADLINE = "Cannot conclude: evidence unreliable (IPE)"
#: The kind under which the acceptances are frozen into a run (``records/ipe_acceptances.yaml``).
RECORD_KIND = "ipe_acceptances"
#: A table kept in Parquet with more rows than this is checked through a DuckDB query selecting the
#: rows that may fail (a smaller one is read, in batches, and checked as a frame).
QUERY_ABOVE_ROWS = 200_000
#: Findings listed one by one per check and source; beyond this, one finding counts the rest.
MAX_LISTED = 25
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class SourceData:
    """One export a control read, as the checks see it."""

    source_id: str
    file_name: str
    table: str
    frame: pd.DataFrame
    required: bool = True  # given for a role the control requires
    expected_rows: object = None  # options.expected_rows as declared (None: not declared)
    rejected: int = 0
    duplicates_dropped: int = 0
    # A table kept in Parquet (a large population): ``frame`` has its columns and no rows, ``rows``
    # counts them, ``batches(columns)`` gives columns of the table in consecutive pieces, and
    # ``rows_where(condition)`` the rows meeting a DuckDB SQL condition (the row checks ask only for
    # the rows that may fail them, then judge those exactly as over the whole table).
    rows: int | None = None
    batches: Callable[..., Iterator[pd.DataFrame]] | None = None
    rows_where: Callable[[str], pd.DataFrame] | None = None

    @property
    def row_count(self) -> int:
        """How many rows the export gave."""
        return len(self.frame) if self.rows is None else self.rows


@dataclass(frozen=True)
class Issue:
    """One IPE exception before it becomes a finding: which check, which export, what and where."""

    rule: str
    source_id: str
    file_name: str
    subject: str
    detail_key: str
    description: str
    evidence_reference: str
    severity: str = "medium"


# --- the checks ---------------------------------------------------------------------------------

def empty_source(source: SourceData) -> list[Issue]:
    """An export with no rows for a required role: nothing in it is evidence that nothing happened."""
    if source.row_count or not source.required:
        return []
    return [Issue("ipe_empty_source", source.source_id, source.file_name, source.file_name, source.source_id,
                  f"The export {source.file_name} ({source.table}) has no rows, but the control requires it: an "
                  "empty export is not evidence that there was nothing to test. Obtain a complete export (or record "
                  "why an empty one is right).", f"{source.file_name} (header only)", "high")]


def row_count(source: SourceData) -> list[Issue]:
    """Rows read against the entity's control total (``options.expected_rows``), within its tolerance."""
    if source.expected_rows is None:
        return []
    count, tolerance = expected_rows(source.expected_rows)
    rows = source.row_count
    if abs(rows - count) <= tolerance:
        return []
    within = f" ± {tolerance:,}" if tolerance else ""
    aside = f" ({source.rejected:,} rejected, {source.duplicates_dropped:,} exact duplicate lines dropped)" \
        if source.rejected or source.duplicates_dropped else ""
    return [Issue("ipe_row_count", source.source_id, source.file_name, source.file_name, source.source_id,
                  f"The export {source.file_name} ({source.table}) gives {rows:,} rows{aside}; the entity's control "
                  f"total is {count:,}{within} (options.expected_rows): the population is "
                  f"{'incomplete' if rows < count else 'larger than the control total'} and does not reconcile.",
                  f"{source.file_name} ({rows:,} rows)", "high")]


def _lines(lines: Iterable[int]) -> str:
    """'lines 3, 7' for the evidence reference."""
    listed = sorted(int(line) for line in lines)
    return ("line " if len(listed) == 1 else "lines ") + ", ".join(map(str, listed))


def _capped(issues: list[Issue], source: SourceData, rule: str, what: str) -> list[Issue]:
    """The first ``MAX_LISTED`` issues, then one issue counting the rest (deterministic order)."""
    if len(issues) <= MAX_LISTED:
        return issues
    rest = len(issues) - MAX_LISTED
    return issues[:MAX_LISTED] + [Issue(
        rule, source.source_id, source.file_name, source.file_name, f"{source.source_id}|more|{rest}",
        f"{rest:,} more {what} in {source.file_name} beyond the {MAX_LISTED} listed.", source.file_name)]


def duplicate_keys(source: SourceData) -> list[Issue]:
    """Two HR workers with one employee id, or one e-mail (casefolded): who is who is unreliable."""
    if source.table != "identities" or source.frame.empty:
        return []
    issues = []
    for column, what in (("employee_id", "employee id"), ("email", "e-mail")):
        if column not in source.frame:
            continue
        values = source.frame[[column, "line"]].dropna(subset=[column])
        values = values[values[column].astype(str).str.strip() != ""]
        repeated = values[values[column].duplicated(keep=False)]
        for value, group in sorted(repeated.groupby(column, sort=False)["line"], key=lambda item: str(item[0])):
            issues.append(Issue(
                "ipe_duplicate_key", source.source_id, source.file_name, str(value), f"{source.source_id}|{column}",
                f"The {what} {value} is on {len(group)} HR workers in {source.file_name} ({_lines(group)}): a "
                f"worker's {what} must identify one worker.", f"{source.file_name}, {_lines(group)}"))
    return _capped(issues, source, "ipe_duplicate_key", "repeated keys")


def _before(frame: pd.DataFrame, earlier: str, later: str) -> pd.DataFrame:
    """Rows where ``later`` is before ``earlier`` (both given)."""
    if earlier not in frame or later not in frame or frame.empty:
        return frame.iloc[0:0]
    mask = (frame[later] < frame[earlier]).fillna(False).astype(bool)
    return frame[mask] if mask.any() else frame.iloc[0:0]


def _rows(frame: pd.DataFrame) -> Iterator[tuple]:
    """``frame.itertuples()``, nothing at all for an empty frame (where pandas would still build the
    row type: nearly every export has no impossible sequence)."""
    return frame.itertuples() if len(frame) else iter(())


def _day(value: object) -> str:
    """A date or timestamp as the workpaper shows it (a date without its midnight)."""
    stamp = pd.Timestamp(value)
    return stamp.date().isoformat() if stamp == stamp.normalize() and stamp.tz is None else stamp.isoformat()


def impossible_sequences(source: SourceData, campaigns: pd.DataFrame | None = None) -> list[Issue]:
    """Dates in an order that cannot happen: termination before hire (identities), removal before
    grant (grants), a decision before its campaign was activated (review_decisions, with the
    ``campaigns`` table when the control reads one)."""
    return _capped(_impossible_sequences(source, campaigns), source, "ipe_impossible_sequence",
                   "impossible sequences")


def _impossible_sequences(source: SourceData, campaigns: pd.DataFrame | None = None) -> list[Issue]:
    """:func:`impossible_sequences` before the cap, in the order of the rows."""
    frame, issues = source.frame, []
    if source.table == "identities":
        for row in _rows(_before(frame, "hire_date", "termination_date")):
            issues.append(Issue(
                "ipe_impossible_sequence", source.source_id, source.file_name, str(row.employee_id),
                f"{source.source_id}|termination_before_hire",
                f"Worker {row.employee_id} is terminated on {_day(row.termination_date)}, before the hire date "
                f"{_day(row.hire_date)} ({source.file_name}, line {row.line}).", f"{source.file_name}, line {row.line}"))
    elif source.table == "grants":
        for row in _rows(_before(frame, "granted_at", "removed_at")):
            issues.append(Issue(
                "ipe_impossible_sequence", source.source_id, source.file_name, str(row.login),
                f"{source.source_id}|removed_before_granted|{row.system}|{row.account_id}|{row.entitlement}",
                f"{row.entitlement} of {row.login} ({row.system}) is removed on {_day(row.removed_at)}, before it "
                f"was granted on {_day(row.granted_at)} ({source.file_name}, line {row.line}).",
                f"{source.file_name}, line {row.line}"))
    elif source.table == "review_decisions" and campaigns is not None and "activated_at" in campaigns:
        activated = campaigns.dropna(subset=["activated_at"]).drop_duplicates("campaign_id")
        joined = frame.merge(activated[["campaign_id", "activated_at"]], on="campaign_id", how="inner")
        for row in _rows(_before(joined, "activated_at", "decided_at").sort_values("line", kind="mergesort")):
            issues.append(Issue(
                "ipe_impossible_sequence", source.source_id, source.file_name, str(row.subject_email),
                f"{source.source_id}|decided_before_activation|{row.campaign_id}|{row.system}|{row.entitlement}",
                f"The decision on {row.entitlement} of {row.subject_email} is dated {_day(row.decided_at)}, before "
                f"campaign {row.campaign_id} was activated on {_day(row.activated_at)} ({source.file_name}, line "
                f"{row.line}).", f"{source.file_name}, line {row.line}"))
    return issues


def _text_columns(frame: pd.DataFrame) -> list[str]:
    """The columns that hold text (string or object dtype)."""
    return [c for c in frame.columns if c != "line" and (isinstance(frame[c].dtype, pd.StringDtype)
                                                          or frame[c].dtype == object)]


def control_characters(source: SourceData) -> list[Issue]:
    """Text cells holding a C0 control character (other than tab, CR, LF) or DEL: invisible in a
    workpaper, they make two equal-looking values differ or hide part of a value."""
    return _capped(_sorted_by_line(_control_characters(source)), source, "ipe_control_characters",
                   "cells with control characters")


def _sorted_by_line(issues: list[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda issue: (int(issue.subject.split()[1]), issue.detail_key))


#: The bytes of a control character in UTF-8 text (:data:`_CONTROL_CHARACTERS`): each is one byte
#: below 0x80, and no byte of a multi-byte character is below 0x80, so a byte test cannot miss one.
_CONTROL_BYTES = np.zeros(256, dtype=bool)
_CONTROL_BYTES[[*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]] = True


def may_hold_control_character(values: pd.Series) -> bool:
    """Whether any text value of a column may hold a control character: one pass over the whole
    column instead of a search and a selection per value, so that the columns without one (nearly
    all) cost almost nothing. Arrow-backed text is tested on its UTF-8 bytes with numpy (a superset:
    the bytes of a null cell count too); other text by one search over the joined values. A column
    for which this is True is searched value by value (:func:`_control_characters`)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        return any(bool(_CONTROL_BYTES[data].any()) for data in text_bytes(pa.array(values.array)))
    texts = [value for value in values.to_numpy(dtype=object) if isinstance(value, str)]
    return _CONTROL_CHARACTERS.search("\n".join(texts)) is not None


def _control_characters(source: SourceData) -> list[Issue]:
    """:func:`control_characters` before the sort and the cap."""
    issues = []
    for column in _text_columns(source.frame):
        values = source.frame[column]
        if not may_hold_control_character(values):
            continue
        if values.dtype == object:
            values = values.map(lambda v: v if isinstance(v, str) else None).astype("string")
        hit = values.str.contains(_CONTROL_CHARACTERS, regex=True).fillna(False).astype(bool)
        for line, value in zip(source.frame.loc[hit, "line"], values[hit]):
            shown = _CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))[:80]
            issues.append(Issue(
                "ipe_control_characters", source.source_id, source.file_name, f"line {line}",
                f"{source.source_id}|{column}|{line}",
                f"The {column} value on line {line} of {source.file_name} holds a control character: '{shown}'.",
                f"{source.file_name}, line {line}, column {column}"))
    return issues


def run_checks(sources: list[SourceData]) -> list[Issue]:
    """Every check over every export a control read, in a stable order (by source, then check)."""
    campaigns = [s.frame for s in sources if s.table == "campaigns"]
    joined_campaigns = pd.concat(campaigns, ignore_index=True) if campaigns else None
    issues = []
    for source in sources:
        issues += empty_source(source) + row_count(source)
        if source.batches is None:
            issues += duplicate_keys(source)
            issues += impossible_sequences(source, joined_campaigns) + control_characters(source)
        else:
            issues += _batched_row_checks(source, joined_campaigns)
    return issues


def _batched_row_checks(source: SourceData, campaigns: pd.DataFrame | None) -> list[Issue]:
    """The row checks of a table kept in Parquet: the rows that may fail a check (a control character
    in a text cell, two dates that may be out of order) are selected by one DuckDB query and judged by
    the same checks as an in-memory table, so the issues and their order are the same."""
    assert source.batches is not None and source.rows_where is not None
    issues = []
    if source.table == "identities" and source.row_count:
        wanted = [c for c in ("employee_id", "email", "line") if c in source.frame]
        keys = pd.concat(list(source.batches(wanted)), ignore_index=True)
        issues += duplicate_keys(replace(source, frame=keys, rows=None, batches=None, rows_where=None))
    if source.row_count <= QUERY_ABOVE_ROWS:  # small: a query costs more than reading the table
        suspects = pd.concat([source.frame, *source.batches()], ignore_index=True)
    else:
        condition = _suspect_condition(source, campaigns)
        suspects = source.rows_where(condition) if condition else source.frame
    one = replace(source, frame=suspects, rows=None, batches=None, rows_where=None)
    issues += impossible_sequences(one, campaigns) + control_characters(one)
    return issues


def _sql_name(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _suspect_condition(source: SourceData, campaigns: pd.DataFrame | None) -> str:
    """A DuckDB condition true for every row that :func:`impossible_sequences` or
    :func:`control_characters` could report (a superset: those checks then decide)."""
    frame = source.frame
    # an object column may hold lists (an SoD rule's entitlements): its text form is searched, a
    # superset of what control_characters looks at (its text values)
    parts = [f"regexp_matches(CAST({_sql_name(c)} AS VARCHAR), '[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]')"
             for c in _text_columns(frame)]
    pairs = {"identities": ("hire_date", "termination_date"), "grants": ("granted_at", "removed_at")}
    if source.table in pairs and all(c in frame for c in pairs[source.table]):
        earlier, later = pairs[source.table]
        parts.append(f"{_sql_name(later)} < {_sql_name(earlier)}")
    if source.table == "review_decisions" and campaigns is not None and "activated_at" in campaigns \
            and "decided_at" in frame and campaigns["activated_at"].notna().any():
        latest = pd.Timestamp(campaigns["activated_at"].max()).tz_convert("UTC")
        parts.append(f"decided_at < TIMESTAMPTZ '{latest.isoformat()}'")
    return " OR ".join(f"({part})" for part in parts)


def as_findings(issues: list[Issue], frameworks: tuple[str, ...]) -> list[Finding]:
    """The IPE exceptions as findings of the control (they bear on every framework it maps to: an
    unreliable export undermines the whole test)."""
    return [Finding(rule=i.rule, subject=i.subject, system="", description=i.description,
                    evidence_reference=i.evidence_reference, severity=i.severity, origin=ORIGIN,
                    detail_key=i.detail_key, frameworks=frameworks) for i in issues]


# --- the auditor's acceptances ------------------------------------------------------------------

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class IpeAcceptanceError(ValueError):
    """A file of IPE acceptances that cannot be used, naming the file, the key and the field."""


class IpeAcceptance(BaseModel):
    """The auditor's acceptance of one IPE exception: who, when and why it does not undermine the test."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    accepted_by: Text
    accepted_on: dt.date
    reason: Text

    def text(self) -> str:
        """'accepted by X on D: reason', as the workpaper shows it."""
        return f"accepted by {self.accepted_by} on {self.accepted_on.isoformat()}: {self.reason}"


def acceptance_file_for(parameter_file: Path) -> Path:
    """Where the auditor's IPE acceptances of a period live: beside its parameter file."""
    return parameter_file.with_name(f"{parameter_file.stem}.ipe-acceptances.yaml")


def read_acceptances(path: Path) -> dict[str, IpeAcceptance]:
    """Read the acceptances (YAML: exception id or finding key -> record); a missing file means none."""
    return read_keyed_records(path, IpeAcceptance, "exception id or finding key", IpeAcceptanceError)


def acceptance_of(row: Mapping[str, object], acceptances: Mapping[str, IpeAcceptance]) -> IpeAcceptance | None:
    """The acceptance that applies to a register row (by exception id, else by finding key)."""
    return acceptances.get(str(row.get("exception_id"))) or acceptances.get(str(row.get("finding_key")))


def with_acceptances(register: pd.DataFrame, acceptances: Mapping[str, IpeAcceptance]) -> pd.DataFrame:
    """The register with each accepted IPE exception's description ending in its acceptance."""
    if register.empty or not acceptances:
        return register
    register = register.copy()
    for index, row in register[register["origin"] == ORIGIN].iterrows():
        if (accepted := acceptance_of(row, acceptances)) is not None:
            register.at[index, "description"] = f"{row['description']} IPE exception {accepted.text()}."
    return register


def unaccepted(register: pd.DataFrame, acceptances: Mapping[str, IpeAcceptance]) -> pd.DataFrame:
    """The IPE exceptions of a register that no acceptance covers: each blocks the conclusion."""
    ipe = register[register["origin"] == ORIGIN]
    keep = [acceptance_of(row, acceptances) is None for row in ipe.to_dict("records")]
    return ipe[keep] if len(ipe) else ipe


# --- how the workpaper states them --------------------------------------------------------------

def _rule_counts(rows: pd.DataFrame) -> str:
    """'2 ipe duplicate key, 1 ipe empty source'."""
    return ", ".join(f"{n} {rule.replace('_', ' ')}" for rule, n in rows.groupby("rule").size().items())


def cannot_conclude(framework: str, label: str, blocking: pd.DataFrame) -> tuple[str, str, list[str], bool]:
    """A framework's conclusion while IPE exceptions are neither resolved nor accepted."""
    found = f"{len(blocking)} IPE exception(s) not accepted ({_rule_counts(blocking)}; section 2)"
    resolve = ("Until each is resolved (a corrected export and a re-run) or accepted by the auditor with a reason "
               "(<period>.ipe-acceptances.yaml beside the period file), the results of the tests cannot be relied on.")
    if framework == "SOC 2":
        body = [f"{label}: No conclusion is reached: the information produced by the entity that the test relies on "
                f"is not reliable: {found}. No result of the tests is reported on this evidence.", resolve]
    else:
        body = [f"{label}: Cannot conclude on operating effectiveness: the information produced by the entity that "
                f"the test relies on is not reliable: {found}. The control is not concluded effective.", resolve,
                "For the SOX deficiency worksheet the control counts as not effective until the IPE is resolved; "
                "whether it is a deficiency, and its classification, is the auditor's judgment (AS 2201)."]
    return framework, HEADLINE, body, False


def accepted_sentences(rows: pd.DataFrame, acceptances: Mapping[str, IpeAcceptance]) -> list[str]:
    """One sentence on the IPE exceptions the auditor accepted (none when there are none)."""
    if rows.empty:
        return []
    listed = "; ".join(f"{row['exception_id']} ({row['rule'].replace('_', ' ')}) {accepted.text()}"
                       for row in rows.to_dict("records") if (accepted := acceptance_of(row, acceptances)))
    return [f"IPE exceptions accepted by the auditor, so they do not prevent this conclusion: {listed}."]


def evidence_blocks(rows: pd.DataFrame, acceptances: Mapping[str, IpeAcceptance],
                    files: list[str]) -> list[workpapers.HtmlBlock]:
    """Section 2's IPE statement: every check run on the exports, then each IPE exception with its
    acceptance (or that it blocks the conclusion)."""
    checked = ", ".join(files) or "none"
    if rows.empty:
        return [workpapers.paragraph(
            f"IPE checks on {checked}: no IPE exception (checked: an export with no rows, rows against the "
            "declared control total, repeated employee ids and e-mails, impossible date sequences, control "
            "characters in text cells, and the freshness of each listing for the moment it is used for).",
            "wp-note")]
    shown = pd.DataFrame([{
        "exception id": row["exception_id"], "check": row["rule"].replace("_", " "), "where": row["evidence_reference"],
        "IPE exception": row["description"].split(" IPE exception accepted by ")[0],
        "acceptance": (accepted.text() if (accepted := acceptance_of(row, acceptances))
                       else "not accepted: prevents a conclusion on operating effectiveness"),
    } for row in rows.to_dict("records")])
    open_count = int((shown["acceptance"].str.startswith("not accepted")).sum())
    return [workpapers.table(shown, f"IPE exceptions: {len(shown)} ({open_count} not accepted)"),
            workpapers.paragraph(
                f"IPE checks on {checked}. An IPE exception says the information produced by the entity is not "
                "reliable as exported; until it is resolved (a corrected export and a re-run) or accepted by the "
                "auditor with a reason in <period>.ipe-acceptances.yaml, the control cannot be concluded effective "
                "(SOX) or without exceptions (SOC 2).", "wp-note")]


def management_response_notice(criteria: str) -> str:
    """Section 7's statement when SOC 2 cannot be concluded for unreliable evidence."""
    return (f"SOC 2 {criteria}: no conclusion is reached, because IPE exceptions (section 2) make the evidence "
            "unreliable; any exception listed here rests on that evidence and is to be confirmed once the IPE is "
            "resolved or accepted. IPE exceptions themselves are not results of the tests and need no management's "
            "response.")


def empty_population_notice(item_noun: str) -> str:
    """Section 2's statement of an empty population while IPE exceptions are not accepted: its
    completeness is not established, so it does not show that the control did not operate."""
    return (f"{item_noun.capitalize()} in the period: none drawn from the sources above, but the population's "
            "completeness is not established: the IPE exceptions above are not accepted, so an empty population "
            "is not evidence that the control did not operate.")


def result_summary(register: pd.DataFrame, acceptances: Mapping[str, IpeAcceptance]) -> dict[str, object]:
    """What result.json records of the IPE exceptions: how many, by rule, and which are not accepted."""
    rows = register[register["origin"] == ORIGIN]
    return {"exceptions": len(rows), "by_rule": {str(k): int(v) for k, v in rows.groupby("rule").size().items()},
            "not_accepted": sorted(unaccepted(rows, acceptances)["exception_id"])}
