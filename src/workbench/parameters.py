"""The period's parameter file: one YAML file per period, validated before anything runs.

Why strict: papermill writes parameter names verbatim into notebooks and only warns on a misspelt
name, so a typo would silently keep a default. Every key is declared here (unknown keys are refused),
values are plain YAML (read by :func:`workbench.yamlfile.load_yaml`: no duplicate keys, bounded
aliases, nesting and size), and every error names the file, the key path and the line.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from workbench.identity import DEFAULT_PEOPLE_MATCH, DEFAULT_SYSTEM_MATCH, MATCH_RULES
from workbench.inputfiles import (
    DEFAULT_LARGE_POPULATION_BYTES,
    DEFAULT_MAX_EXPORT_BYTES,
    InputFileError,
    parse_size,
    parse_threshold,
    screen_export,
)
from workbench.yamlfile import YamlFileError, load_yaml, load_yaml_with_nodes

SOC2_CRITERION = re.compile(r"^(CC[1-9]\.[0-9]{1,2}|A1\.[1-3]|C1\.[1-2]|PI1\.[1-5]|P[1-8]\.[1-9])$")
SOX_ITGC_DOMAINS = (
    "access_to_programs_and_data",
    "program_change",
    "program_development",
    "computer_operations",
)
FREQUENCIES = ("annual", "semi_annual", "quarterly", "monthly", "weekly", "daily", "multiple_daily")
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
#: A system's non-person accounts when its ``service_accounts:`` is absent (today's convention).
DEFAULT_SERVICE_ACCOUNTS = ("svc-*",)
NonEmptyText = Annotated[str, Field(min_length=1, pattern=r"\S")]


class DocumentError(ValueError):
    """A YAML file the auditor wrote that cannot be used, with every problem found (file, key path, line).

    Every problem is listed at once, so one correction round fixes them all; ``document`` names
    the kind of file in the message."""

    document = "file"

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"The {self.document} {path} has {len(problems)} problem(s):\n{listing}")


class ParameterError(DocumentError):
    """A parameter file that cannot be used, with every problem found (file, key path, line)."""

    document = "period parameter file"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(_Strict):
    """The audit period under test."""

    id: Annotated[str, Field(pattern=IDENTIFIER)]
    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _start_before_end(self) -> Period:
        if self.start > self.end:
            raise ValueError(f"period start {self.start} is after period end {self.end}")
        return self


def known_match_rules(rules: list[str]) -> list[str]:
    """Identity-match rules as declared, refused when one is unknown or repeated."""
    unknown = [r for r in rules if r not in MATCH_RULES]
    if unknown:
        raise ValueError(f"unknown identity-match rule(s) {', '.join(map(repr, unknown))}; the rules are "
                         f"{', '.join(MATCH_RULES)}")
    repeated = sorted({r for r in rules if rules.count(r) > 1})
    if repeated:
        raise ValueError(f"listed more than once: {', '.join(repeated)}")
    return rules


class System(_Strict):
    """An application or platform whose access is tested, with its scope under each framework."""

    id: Annotated[str, Field(pattern=IDENTIFIER)]
    name: str
    sox_financially_significant: bool = False
    soc2_in_boundary: bool = False
    owner: str | None = None
    # The entity's own settings for the system (optional; absent keeps the workbench's defaults):
    # its privileged entitlements (matched ignoring case; absent: DEFAULT_PRIVILEGED_ENTITLEMENTS),
    # the glob patterns of its non-person accounts (fnmatch, ignoring case), its owners and
    # designated reviewers, and the entitlements in review scope (absent or empty: all).
    privileged_entitlements: list[NonEmptyText] | None = None
    service_accounts: list[NonEmptyText] = Field(default_factory=lambda: list(DEFAULT_SERVICE_ACCOUNTS))
    owners: list[NonEmptyText] = Field(default_factory=list)
    reviewers: list[NonEmptyText] = Field(default_factory=list)
    review_scope: list[NonEmptyText] = Field(default_factory=list)
    # How an account of the system is tied to an HR worker: rules tried in this order (identity.MATCH_RULES).
    identity_match: list[str] = Field(default_factory=lambda: list(DEFAULT_SYSTEM_MATCH), min_length=1)

    @field_validator("identity_match")
    @classmethod
    def _known_rules(cls, rules: list[str]) -> list[str]:
        return known_match_rules(rules)

    @field_validator("privileged_entitlements", "service_accounts", "owners", "reviewers", "review_scope")
    @classmethod
    def _no_repeats(cls, values: list[str] | None) -> list[str] | None:
        if values is None:
            return values
        folded = [v.casefold() for v in values]
        repeated = sorted({v for v, f in zip(values, folded) if folded.count(f) > 1})
        if repeated:
            raise ValueError(f"listed more than once (ignoring case): {', '.join(repeated)}")
        return values


class Source(_Strict):
    """One export file of the period: what it is, where it came from and when it was extracted."""

    id: Annotated[str, Field(pattern=IDENTIFIER)]
    kind: str
    path: str
    source_system: str
    extracted_at: dt.datetime
    # The moment the export shows the system as it was (a snapshot "as of" that moment), where it
    # differs from the extraction time: e.g. a listing saved by the system at 00:00 and collected
    # later. Omitted, the export shows the system at its extraction time.
    as_of: dt.datetime | None = None
    timezone: str = "UTC"
    system: str | None = None
    description: str | None = None
    # Reader options for this export (e.g. delimiter, preamble lines, a declared date format, or a
    # column mapping for a generic CSV/XLSX/Parquet file); each reader validates its own keys.
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("extracted_at")
    @classmethod
    def _extraction_time_has_zone(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("extracted_at needs a time zone, e.g. 2026-10-01T06:00:00Z")
        return value

    @field_validator("as_of")
    @classmethod
    def _snapshot_time_has_zone(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("as_of needs a time zone, e.g. 2026-08-14T00:00:00Z")
        return value

    @model_validator(mode="after")
    def _snapshot_not_after_extraction(self) -> Source:
        if self.as_of is not None and self.as_of > self.extracted_at:
            raise ValueError(f"as_of ({self.as_of.isoformat()}) is after extracted_at ({self.extracted_at.isoformat()}): "
                             "an export cannot show the system at a moment after it was extracted")
        return self

    @property
    def moment(self) -> dt.datetime:
        """The moment this export shows the system: ``as_of`` where declared, else the extraction time."""
        return self.as_of if self.as_of is not None else self.extracted_at


class FreshnessTolerance(_Strict):
    """How far a listing's moment may lie from the moment a control uses it for (in days).

    Given at the top level of the period file (``evidence_freshness:``) and, for one control,
    under that control's ``evidence_freshness:``, where a key given replaces the period's value.
    """

    # A listing showing the system more than this before the moment cannot show the state then.
    max_days_before: Annotated[float, Field(ge=0)] | None = None
    # A point-in-time listing (no grant dates, removed access not kept) showing the system more
    # than this after the moment cannot show the state then either.
    max_days_after_point_in_time: Annotated[float, Field(ge=0)] | None = None
    # A dated listing (grant and removal dates, removed rows kept) reconstructs earlier moments:
    # no limit unless one is given.
    max_days_after_dated: Annotated[float, Field(ge=0)] | None = None


class EvidenceFreshness(FreshnessTolerance):
    """The period's ``evidence_freshness:`` block: the tolerances, with their defaults, and which
    sources are dated or point-in-time listings where their rows do not say it."""

    max_days_before: Annotated[float, Field(ge=0)] | None = 1.0
    max_days_after_point_in_time: Annotated[float, Field(ge=0)] | None = 7.0
    # Source ids declared dated (they keep removed rows with their dates) or point-in-time (they
    # drop removed rows, even if their rows carry grant dates, e.g. SAP AGR_USERS), overriding
    # what the rows show (grant dates on every row: dated).
    dated: list[Annotated[str, Field(pattern=IDENTIFIER)]] = Field(default_factory=list)
    point_in_time: list[Annotated[str, Field(pattern=IDENTIFIER)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_nature_per_source(self) -> EvidenceFreshness:
        both = sorted(set(self.dated) & set(self.point_in_time))
        if both:
            raise ValueError(f"declared both dated and point_in_time: {', '.join(both)}; a listing is one or the other")
        return self

    def for_control(self, override: FreshnessTolerance | None) -> FreshnessTolerance:
        """The tolerances one control applies: the period's, replaced key by key by the control's own."""
        mine = {name: getattr(self, name) for name in FreshnessTolerance.model_fields}
        if override is not None:
            mine |= {name: getattr(override, name) for name in override.model_fields_set}
        return FreshnessTolerance(**mine)


class Sox(_Strict):
    """The SOX ITGC mapping of a control."""

    itgc_domain: Literal[SOX_ITGC_DOMAINS]  # type: ignore[valid-type]
    objective: str


class Frameworks(_Strict):
    """Framework mappings of a control: SOC 2 criteria and/or a SOX ITGC objective."""

    soc2: list[str] = Field(default_factory=list)
    sox: Sox | None = None

    @field_validator("soc2")
    @classmethod
    def _known_criteria(cls, criteria: list[str]) -> list[str]:
        bad = [c for c in criteria if not SOC2_CRITERION.match(c)]
        if bad:
            raise ValueError(f"not Trust Services Criteria identifiers: {', '.join(bad)} (e.g. CC6.1, CC6.2)")
        return criteria

    @model_validator(mode="after")
    def _at_least_one(self) -> Frameworks:
        if not self.soc2 and self.sox is None:
            raise ValueError("a control must map to SOC 2 criteria, a SOX objective, or both")
        return self


class Sampling(_Strict):
    """How the control's sample is sized: statistical attribute sampling or the frequency policy."""

    approach: Literal["statistical", "frequency"] = "statistical"
    method: Literal["binomial", "hypergeometric", "poisson"] = "binomial"
    confidence: Annotated[float, Field(gt=0, lt=1)] = 0.95
    tolerable_rate: Annotated[float, Field(gt=0, lt=1)] = 0.05
    expected_rate: Annotated[float, Field(ge=0, lt=1)] = 0.0
    #: Plan by an allowed number of deviations in the sample (the acceptance number, as jfa's
    #: ``expected`` >= 1) instead of an expected deviation rate.
    expected_deviations: Annotated[StrictInt, Field(ge=0)] | None = None
    risk: Literal["lower", "higher"] = "lower"

    @model_validator(mode="after")
    def _expected_below_tolerable(self) -> Sampling:
        if self.expected_rate >= self.tolerable_rate:
            raise ValueError("expected_rate must be below tolerable_rate, or no sample size can support reliance")
        if self.expected_deviations is not None and self.expected_rate != 0:
            raise ValueError(
                "give expected_rate or expected_deviations, not both: the sample is planned either from an expected "
                "deviation rate or by allowing a number of deviations in the sample; remove one of them"
            )
        return self


class Control(_Strict):
    """One control tested in the period, and the procedure (notebook) that tests it."""

    id: Annotated[str, Field(pattern=IDENTIFIER)]
    procedure: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    title: str
    description: str
    owner: str
    frequency: Literal[FREQUENCIES]  # type: ignore[valid-type]
    frameworks: Frameworks
    systems: list[str]
    sources: dict[str, str | list[str]]
    sampling: Sampling = Field(default_factory=Sampling)
    settings: dict[str, Any] = Field(default_factory=dict)
    # This control's own tolerances for the freshness of its evidence (replacing the period's, key by key).
    evidence_freshness: FreshnessTolerance | None = None


class PeriodParameters(_Strict):
    """Everything one period run needs: entity, period, people, systems, sources and controls."""

    entity: str
    period: Period
    preparer: str
    reviewer: str
    seed: Annotated[int, Field(ge=0)]
    systems: list[System]
    sources: list[Source]
    controls: Annotated[list[Control], Field(min_length=1)]
    # How people named on review lines, tickets and registers (reviewers, requesters, approvers) are
    # recognised as HR workers: rules tried in this order (identity.MATCH_RULES).
    people_match: list[str] = Field(default_factory=lambda: list(DEFAULT_PEOPLE_MATCH), min_length=1)

    @field_validator("people_match")
    @classmethod
    def _known_people_rules(cls, rules: list[str]) -> list[str]:
        return known_match_rules(rules)
    #: The largest source export a run copies into its folder and reads, in bytes or as text such
    #: as "4 GiB" or "500 MB" (default 2 GiB); a larger export is refused before it is copied.
    max_export_size: Annotated[int, BeforeValidator(parse_size)] = DEFAULT_MAX_EXPORT_BYTES
    #: From what size (bytes, or text such as "256 MiB") a source export is kept in Parquet inside the
    #: run (``<run>/staged/``) and the analytics that scan a whole listing run as DuckDB queries on it,
    #: rather than holding it in memory (default 256 MiB; 0: every tabular export, as the tests force
    #: it). Where the work runs changes; what it finds does not (same records either way).
    large_population_size: Annotated[int, BeforeValidator(parse_threshold)] = DEFAULT_LARGE_POPULATION_BYTES
    #: How far a listing's moment may lie from the moment a control uses it for (period end, review
    #: snapshot, decision deadline) before it is a stale listing (an IPE exception).
    evidence_freshness: EvidenceFreshness = Field(default_factory=EvidenceFreshness)

    @model_validator(mode="after")
    def _references_resolve(self) -> PeriodParameters:
        problems: list[str] = []
        for label, items in (("systems", self.systems), ("sources", self.sources), ("controls", self.controls)):
            ids = [item.id for item in items]
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                problems.append(f"{label}: duplicate id(s) {', '.join(dupes)}")
        system_ids = {s.id for s in self.systems}
        source_ids = {s.id for s in self.sources}
        for i, source in enumerate(self.sources):
            if source.system is not None and source.system not in system_ids:
                problems.append(f"sources[{i}].system: unknown system '{source.system}'")
        for i, control in enumerate(self.controls):
            for system in control.systems:
                if system not in system_ids:
                    problems.append(f"controls[{i}].systems: unknown system '{system}'")
            for role, ref in control.sources.items():
                for source_id in [ref] if isinstance(ref, str) else ref:
                    if source_id not in source_ids:
                        problems.append(f"controls[{i}].sources.{role}: unknown source '{source_id}'")
        for key in ("dated", "point_in_time"):
            for source_id in getattr(self.evidence_freshness, key):
                if source_id not in source_ids:
                    problems.append(f"evidence_freshness.{key}: unknown source '{source_id}'")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def control(self, control_id: str) -> Control:
        """The control with this id, or a KeyError naming the ids that exist."""
        for control in self.controls:
            if control.id == control_id:
                return control
        raise KeyError(f"no control '{control_id}' in this period; controls are {', '.join(c.id for c in self.controls)}")

    def source(self, source_id: str) -> Source:
        """The source with this id."""
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(f"no source '{source_id}' in this period")

    def system(self, system_id: str) -> System:
        """The system with this id."""
        for system in self.systems:
            if system.id == system_id:
                return system
        raise KeyError(f"no system '{system_id}' in this period")


def _key_lines(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map each key path of a composed YAML document to its 1-based line, for error messages."""
    lines: dict[tuple[Any, ...], int] = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = path + (key_node.value,)
            lines.update(_key_lines(value_node, child))
            lines[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_key_lines(item, path + (index,)))
    return lines


def _format_location(loc: tuple[Any, ...]) -> str:
    """Render a pydantic error location as a YAML key path such as ``controls[0].sampling.confidence``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _describe(error: dict[str, Any]) -> str:
    """An auditor-readable sentence for one pydantic error."""
    kind = error["type"]
    if kind == "extra_forbidden":
        return "is not a known key (check the spelling)"
    if kind == "missing":
        return "is required but missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message


def _is_plain_json(value: Any) -> bool:
    """True when the value is made only of YAML's plain scalar types, lists and string-keyed maps."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_plain_json(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool, dt.date, dt.datetime))


def load_period(path: str | Path) -> PeriodParameters:
    """Read and validate a period parameter file; raise ParameterError listing every problem found."""
    path = Path(path)
    try:
        document, root = load_yaml_with_nodes(path, "period file")
    except YamlFileError as exc:
        raise ParameterError(path, exc.problems) from None
    lines = _key_lines(root) if root is not None else {}
    if not isinstance(document, dict):
        raise ParameterError(path, ["the file must be a YAML mapping of keys (entity, period, controls, ...)"])
    if not _is_plain_json(document):
        raise ParameterError(path, ["values must be plain text, numbers, dates, lists and mappings (no YAML tags)"])
    try:
        return PeriodParameters.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), None)
            where = f"line {line}, " if line else ""
            problems.append(f"{where}{_format_location(loc)}: {_describe(error)}")
        raise ParameterError(path, problems) from None


def resolve_source_paths(params: PeriodParameters, parameter_file: Path) -> dict[str, Path]:
    """Absolute path of every source (relative paths are relative to the parameter file's folder).

    Each export is screened before anything copies or reads it (:func:`inputfiles.screen_export`):
    a missing file, a folder, a link loop, a pipe or device, a file above the period's
    ``max_export_size``, or text that starts with NUL bytes or as UTF-16 without a byte-order mark.
    Raises ParameterError naming each source and its path.
    """
    base = parameter_file.resolve().parent
    resolved = {s.id: _absolute(base / s.path) for s in params.sources}
    problems = []
    for i, s in enumerate(params.sources):
        try:
            screen_export(Path(os.path.abspath(base / s.path)), params.max_export_size, s.options.get("encoding"))
        except InputFileError as exc:
            reason = exc.reason.removeprefix("the source export ")
            if reason == "does not exist":
                reason = f"file not found: {resolved[s.id]}"
            else:  # named as written: a link's target may be /dev/null or the link itself
                reason = f"{os.path.abspath(base / s.path)}: {reason}"
            problems.append(f"sources[{i}] ({s.id}).path: {reason}")
    if problems:
        raise ParameterError(parameter_file, problems)
    return resolved


def _absolute(path: Path) -> Path:
    """``path`` made absolute with its links resolved; a link loop is left as it is (and refused by its screening)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # a symbolic link loop
        return Path(os.path.abspath(path))


def read_keyed_records(path: Path, model: type[BaseModel], what: str, error: type[ValueError]) -> dict[str, Any]:
    """Read a YAML file mapping ids to records of ``model`` (auditors' remediation or evaluation files).

    A missing file means no records yet. Every problem is reported at once as ``error``, naming the
    file, the id and the key, so an auditor can fix them all in one pass.
    """
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        raw = load_yaml(path, f"file of {what} records") or {}
    except YamlFileError as exc:  # listed as validate_keyed_records lists its problems, each naming the file
        raise error(f"{path} has {len(exc.problems)} problem(s):\n"
                    + "\n".join(f"  - {path.name}: {p}" for p in exc.problems)) from None
    if not isinstance(raw, dict):
        raise error(f"{path}: expected a mapping of {what} to its record")
    return validate_keyed_records(raw, path, model, error)


def validate_keyed_records(raw: dict[Any, Any], path: Path, model: type[BaseModel],
                           error: type[ValueError]) -> dict[str, Any]:
    """Validate each record of an id -> fields mapping; raise ``error`` listing every problem."""
    records, problems = {}, []
    for key, fields in raw.items():
        try:
            records[str(key)] = model.model_validate(fields or {})
        except ValidationError as exc:
            for problem in exc.errors():
                where = ".".join(str(p) for p in problem["loc"]) or "(record)"
                problems.append(f"{path.name}: {key}, {where}: {_describe(problem)}")
    if problems:
        raise error(f"{path} has {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))
    return records
