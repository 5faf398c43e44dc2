"""What every control test procedure shares: one execution over one frozen population, concluded
once per framework.

A procedure subclasses ``ControlTest`` and supplies its population, analytics and attributes. The
base class does the rest the same way for every control, so workpapers read alike and evidence is
recorded alike:

- sources are loaded from the run's frozen inputs, with their IPE evidence;
- the sampling frame (``population``) has one row per item with the columns ``item_key``, ``scope``
  (framework scope stratum), ``subject``, ``system``, ``detail_key`` and ``line``;
- the sample is stratified by framework scope (each framework's conclusion rests on a sample sized
  for it) plus targeted items from the analytics, kept apart;
- analytics hits and failed attributes become findings with stable ids (one per line: a failed
  attribute already reported by an analytic is not reported twice);
- SOC 2 is concluded per criterion ("No exceptions noted" / "Exception noted: ..."), SOX as
  effective / deficiency with the deficiency-evaluation inputs left to the auditor;
- a framework whose stratum is empty (nothing in the population for the period, e.g. no leavers)
  concludes that the control did not operate: no sample is drawn and nothing is tested; SOC 2
  says the control did not operate, SOX that it was not tested (``did_not_operate``);
- IPE checks run on every export read (:mod:`workbench.ipe`): an IPE exception is a finding of
  origin ``ipe``, shown in the population section, and until the auditor accepts it every framework
  concludes "Cannot conclude: evidence unreliable (IPE)";
- the freshness of evidence (:mod:`workbench.freshness`): a procedure declares the states it reads
  from its listings at a moment (``FRESHNESS_CLAIMS``: role, moment, what for); each listing given
  for the role is checked against that moment, section 2 shows the gap, and a stale listing is an
  IPE exception (``ipe_stale_listing``);
- SOC 2 exceptions are worded one by one as in a type 2 report's results of tests, with
  management's response (from the auditors' records frozen into the run) in a section of its own;
- ``record()`` writes sample.csv, population.csv (for re-derivation), exceptions.csv and result.json.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel

if TYPE_CHECKING:
    import duckdb

from workbench import csvsafe, exceptions, freshness, ipe, populations, referencing, runfolder, sampling, workpapers
from workbench.analytics import HIT_COLUMNS
from workbench.parameters import DEFAULT_SERVICE_ACCOUNTS, Control, PeriodParameters, Source, System
from workbench.populations import staged
from workbench.populations.options import expected_rows
from workbench.procedures.identification import PEOPLE_COLUMNS, IdentificationMixin
from workbench.procedures.period_view import PeriodChangesMixin
from workbench.procedures.wording import (
    MANAGEMENT_RESPONSE_COLUMNS,
    management_response_table,
    name_the_system,
    option_text,
)
from workbench.runner import (
    CONTROL_EXCEPTIONS,
    CONTROL_RESULT,
    RECORDS_DIR,
    RunContext,
    frozen_records,
    open_run,
    prepare_standalone_run,
)
from workbench.snapshots import Snapshot, choose, split_by_system
from workbench.valuemap import map_distinct

FRAMEWORKS = ("SOX", "SOC 2")
POPULATION_FILE = "population.csv"
@dataclass(frozen=True)
class SourceRole:
    """One entry a procedure reads from a control's ``sources:`` block, as its code really reads it.

    ``tables``: the canonical tables that can fill the role (the table a source's reader builds);
    ``several``: the code reads every source given (``frames``), not only the first (``frame``);
    ``required``: the procedure cannot run without it; ``required_with``: a setting that makes an
    optional role required when it is given (the code reads the role only then); ``limitation``:
    for an optional role, what is not tested without it, stated in the workpaper and result.json
    as a scope limitation when the control does not give it.
    """

    meaning: str
    tables: tuple[str, ...]
    required: bool = True
    several: bool = False
    required_with: str | None = None
    limitation: str = ""


# The roles the families share, worded once.
HR = SourceRole("the HR roster: every worker with e-mail, manager and termination date", ("identities",))
IDP_USERS = SourceRole("the identity provider's user export: every identity with its status", ("accounts",))
IDP_ASSIGNMENTS = SourceRole("the identity provider's application assignment report (who is assigned which "
                             "application, and when)", ("grants",))
ACCESS_LISTINGS = SourceRole("the systems' access listings: each account with its roles, groups or memberships",
                             ("grants",), several=True)
CREDENTIAL_REPORTS = SourceRole("cloud credential reports: console and access-key use, MFA, key rotation",
                                ("accounts",), several=True)
ACCESS_REQUESTS = SourceRole("the access request tickets with their approvals", ("requests",))
SOD_RULES = SourceRole("the SoD rule set: pairs of incompatible functions, each a list of entitlements", ("sod_rules",))
HR_PRIOR = SourceRole("an earlier HR roster (e.g. at the period start): without it, movers (a change of department or "
                      "cost centre) cannot be seen", ("identities",), required=False)
SOD_MITIGATIONS = SourceRole("the SoD mitigation register (without it, no conflict counts as mitigated)",
                             ("sod_mitigations",), required=False,
                             limitation="no SoD mitigation register: no conflict counts as mitigated; every conflict "
                                        "is reported as unmitigated")
# Where the assignment report only ties application logins to people (the identity-match rule
# application_login), not a source of accounts or grants: without it the control still runs, and the
# systems' other rules (an alias table, the e-mail's local part, a display name) may tie those accounts.
IDP_CORRELATION = replace(
    IDP_ASSIGNMENTS, required=False,
    limitation="no IdP application assignment report: accounts come from the system listings only, and the "
               "identity-match rule application_login cannot be used; an application account that only the IdP "
               "ties to a worker (e.g. an AWS IAM user name, a SAP user) is tied by its system's other rules "
               "(identity_match: an alias table, the e-mail's local part, a display name) or stays unmatched and "
               "is reported as an account without an HR identity")


def attribute_header(attribute: str) -> str:
    """An attribute's column header: its code in words, unique within the procedure (two A3
    attributes read "A3 reviewer independent" and "A3 reviewer appropriate", never "A3" twice)."""
    return attribute.replace("_", " ")


def _systems_listed(population: populations.Population) -> list[str]:
    """The systems a source lists (non-empty, sorted), read without loading a staged table."""
    if isinstance(population, staged.StagedPopulation):
        return list(population.summary.systems)
    frame = population.frame
    # the distinct values first: iterating Arrow-backed text row by row costs far more
    return sorted(set(frame["system"].dropna().unique())) if "system" in frame else []


def _rows_of_own_snapshots(systems: pd.Series, kind: str, source_id: str,
                           chosen: dict[tuple[str, str], str]) -> np.ndarray:
    """Which rows of a listing (``systems``: each row's system) are its own snapshot's: all but those
    of a system whose chosen snapshot of this kind is another source (a row without a system is
    kept). One ``isin`` over the column rather than a look-up per row."""
    elsewhere = [system for (of_kind, system), chosen_id in chosen.items() if of_kind == kind and chosen_id != source_id]
    return ~systems.isin(elsewhere).to_numpy(dtype=bool, na_value=False)


def _columns_of(population: populations.Population) -> tuple[str, ...]:
    """A source's canonical columns, read without loading a staged table."""
    if isinstance(population, staged.StagedPopulation):
        return population.summary.columns
    return tuple(population.frame.columns)


def _frame_or_columns(population: populations.Population) -> pd.DataFrame:
    """The frame the IPE checks see: the table itself, or for a staged table its columns only (the
    checks then read it in batches)."""
    if isinstance(population, staged.StagedPopulation):
        return staged.empty_frame(population.parquet)
    return population.frame


def _sql_text(value: str) -> str:
    """A text literal for DuckDB SQL."""
    return "'" + str(value).replace("'", "''") + "'"


def read_source(source: Source, path: Path, systems: list[System]) -> populations.Population:
    """Read one declared source from ``path`` into its canonical table, with its IPE evidence.

    The one way a source is read: by a control (from its frozen copy) and by ``workbench check``
    (from the file the period names), so the check reads each export exactly as the run will.
    """
    return populations.load_source(
        source.kind, path, system=source.system, timezone=source.timezone,
        extracted_at=source.extracted_at.isoformat(), source_system=source.source_system,
        display_names={s.name: s.id for s in systems},
        **({"privileged_entitlements": declared} if (declared := privileged_entitlements(systems)) else {}),
        **({"options": source.options} if source.options else {}),
    )


def privileged_entitlements(systems: list[System]) -> dict[str, list[str]]:
    """The privileged entitlements the period file declares, by system id (systems that declare
    none are absent, so they keep :data:`populations.DEFAULT_PRIVILEGED_ENTITLEMENTS`)."""
    return {s.id: list(s.privileged_entitlements) for s in systems if s.privileged_entitlements is not None}


def service_account_patterns(systems: list[System]) -> dict[str, list[str]]:
    """The glob patterns of each system's non-person accounts (``systems[].service_accounts``)."""
    return {s.id: list(s.service_accounts) for s in systems}


IDENTITY_ALIASES = SourceRole("the entity's alias table: which worker an account, user id or name belongs to, "
                              "where no export says it (read by the identity-match rule 'alias')",
                              ("identity_aliases",), required=False)


@dataclass
class ControlTest(IdentificationMixin, PeriodChangesMixin):
    """One execution of a procedure over one frozen population; notebook cells call its steps."""

    Settings: ClassVar[type[BaseModel]]
    # The roles of the control's ``sources:`` block this procedure reads (checked before a run).
    SOURCE_ROLES: ClassVar[dict[str, SourceRole]] = {}
    ATTRIBUTES: ClassVar[dict[str, str]] = {}
    ITEM_NOUN: ClassVar[str] = "items"  # e.g. "review lines": how the workpaper names a sample item
    # What an empty population means in the auditors' words (e.g. "no terminations"), if anything.
    OCCASION: ClassVar[str] = ""
    SAMPLE_COLUMNS: ClassVar[list[str]] = []  # population columns shown and kept in sample.csv
    # The columns that tie an analytics hit to a population item (targeted selection, one finding
    # per item). A family whose items are accounts may match on (system, detail_key) alone, because
    # its rules name the subject differently (the login for a dormant account, the person for MFA).
    HIT_MATCH: ClassVar[tuple[str, ...]] = ("subject", "system", "detail_key")
    # The states the procedure reads from its listings, each at a moment (workbench.freshness): every
    # listing given for the claim's role is checked against that moment; a stale one is an IPE exception.
    FRESHNESS_CLAIMS: ClassVar[tuple[freshness.Claim, ...]] = ()

    context: RunContext
    control: Control
    settings: BaseModel
    loaded: dict[str, populations.Population] = field(default_factory=dict)
    hits: pd.DataFrame | None = None
    sample: pd.DataFrame | None = None
    plan: dict[str, sampling.SamplePlan] = field(default_factory=dict)
    evaluations: dict[str, sampling.Evaluation] = field(default_factory=dict)
    selection: sampling.Selection | None = None

    # --- set-up --------------------------------------------------------------------------------
    @classmethod
    def open(cls, run_dir: str, control_id: str) -> ControlTest:
        """Open the control in a prepared run; with no run folder, in a throw-away demo run."""
        context = open_run(run_dir) if run_dir else prepare_standalone_run()
        control = context.parameters.control(control_id)
        return cls(context, control, cls.Settings.model_validate(control.settings))

    @property
    def params(self) -> PeriodParameters:
        return self.context.parameters

    def check_roles(self) -> None:
        """Refuse a ``sources:`` key the procedure does not read (``workbench check`` reports it too):
        a misspelt optional role would otherwise be silently ignored."""
        if not self.SOURCE_ROLES:
            return
        unknown = [role for role in self.control.sources if role not in self.SOURCE_ROLES]
        if unknown:
            hints = [f"'{role}'" + (f" (did you mean '{close[0]}'?)"
                                    if (close := difflib.get_close_matches(role, list(self.SOURCE_ROLES), n=1)) else "")
                     for role in unknown]
            raise ValueError(f"control {self.control.id}: {', '.join(hints)} under sources: is not a source role of "
                             f"its procedure {type(self).__name__} (its roles: {', '.join(self.SOURCE_ROLES)}); "
                             "run 'workbench check' on the period file")

    def given(self, role: str) -> bool:
        """Whether the control's ``sources:`` block gives the role."""
        return role in self.control.sources

    def optional_frame(self, role: str) -> pd.DataFrame | None:
        """The canonical table of an optional single-source role, or None when it is not given."""
        return self.frame(role) if self.given(role) else None

    def scope_limitations(self) -> dict[str, str]:
        """Optional role -> what is not tested without it, for each optional role the control does not give."""
        self.check_roles()
        return {role: spec.limitation for role, spec in self.SOURCE_ROLES.items()
                if not spec.required and spec.limitation and not self.given(role)}

    def scope_limitation_blocks(self) -> list[workpapers.HtmlBlock]:
        """The workpaper's statement of the scope limitations (nothing when every optional source is given)."""
        limitations = self.scope_limitations()
        if not limitations:
            return []
        rows = [(role, f"not given ({self.SOURCE_ROLES[role].meaning}). {text[0].upper()}{text[1:]}.")
                for role, text in limitations.items()]
        return [workpapers.key_values(rows, "Scope limitations: optional sources not given"),
                workpapers.paragraph("What these sources would have evidenced is not tested: the attributes that "
                                     "depend on them read 'not tested' (neither pass nor fail, never a deviation); "
                                     "everything else is tested from the sources given.", "wp-note")]

    def source_ids(self, role: str) -> list[str]:
        """The source ids the control's ``sources:`` block gives for a role."""
        self.check_roles()
        ref = self.control.sources.get(role)
        if ref is None:
            raise KeyError(f"control {self.control.id} needs a source for '{role}' under sources:")
        return [ref] if isinstance(ref, str) else list(ref)

    def load(self, source_id: str) -> populations.Population:
        """A source's canonical table and evidence, read once from its frozen copy. A large export
        (above the period file's ``large_population_size``) is kept in Parquet in the run folder
        (:mod:`workbench.populations.staged`): its evidence is complete, its frame is read back only
        if something asks for it; the large-population paths query it through DuckDB instead."""
        if source_id not in self.loaded:
            source, path = self.params.source(source_id), self.context.inputs[source_id]
            systems = list(self.params.systems)
            if self.is_large(source_id):
                self.loaded[source_id] = staged.stage(
                    source.kind, path, self.context.run_dir / staged.STAGED_DIR / f"{source_id}.parquet",
                    lambda: read_source(source, path, systems), options=source.options,
                    fingerprint=staged.fingerprint(source.model_dump(mode="json"), privileged_entitlements(systems),
                                                   {s.name: s.id for s in systems}),
                    sha256=self.context.input_sha256.get(source_id))
            else:
                self.loaded[source_id] = read_source(source, path, systems)
        return self.loaded[source_id]

    def is_large(self, source_id: str) -> bool:
        """Whether a source is kept in Parquet: a table export above the period file's
        ``large_population_size`` (0: every table export)."""
        source, threshold = self.params.source(source_id), self.params.large_population_size
        if not staged.is_stageable(source.kind):
            return False
        return threshold == 0 or self.context.inputs[source_id].stat().st_size > threshold

    def load_for(self, role: str, source_id: str) -> populations.Population:
        """A source loaded for a role, refused unless it fills a table the role takes (a wrong export
        would otherwise fail later with a bare KeyError on a column it does not have)."""
        population = self.load(source_id)
        spec = self.SOURCE_ROLES.get(role)
        if spec is not None and population.table not in spec.tables:
            raise ValueError(
                f"control {self.control.id}: the source '{source_id}' ({self.label(source_id)}, kind "
                f"{population.kind}) fills the {population.table} table, but the role '{role}' takes "
                f"{' or '.join(spec.tables)} ({spec.meaning}); give a {' or '.join(spec.tables)} export for "
                f"'{role}' (run 'workbench check' on the period file)")
        return population

    def frame(self, role: str) -> pd.DataFrame:
        """The canonical table of a single-source role; the people it names (reviewers, requesters,
        approvers) recognised as HR workers by the declared rules (``resolve_people``)."""
        source_id = self.source_ids(role)[0]
        population = self.load_for(role, source_id)
        if role == "hr" or population.table not in PEOPLE_COLUMNS:
            return population.frame
        if source_id not in self._people_resolved:
            self._people_resolved[source_id] = self.resolve_people(population.table, population.frame)
        return self._people_resolved[source_id]

    @cached_property
    def _people_resolved(self) -> dict[str, pd.DataFrame]:
        return {}

    @cached_property
    def sql(self) -> duckdb.DuckDBPyConnection:
        """One DuckDB connection per control, for populations kept in Parquet (large populations), configured
        by ``staged.connect``: memory limit (``WORKBENCH_DUCKDB_MEMORY_LIMIT``), threads, and a spill folder
        of its own inside the run's staged folder, removed with the connection when the control is done."""
        import os
        import weakref

        spill = runfolder.spill_folder(self.context.run_dir, self.control.id, f"{os.getpid()}-{id(self)}")
        connection = staged.connect(spill)
        weakref.finalize(self, staged.remove_spill, connection, spill)
        return connection

    def listing_relation(self, role: str, at: pd.Timestamp | None = None) -> duckdb.DuckDBPyRelation | None:
        """The role's listings as ``frames(role, at)`` gives them (same columns and dtypes, one snapshot
        per system, ``listing`` naming the file), as a DuckDB relation on ``self.sql`` over their Parquet
        copies, when the role's population is large (kept in Parquet); None when it is held in memory."""
        ids = self.source_ids(role)
        loaded = {source_id: self.load_for(role, source_id) for source_id in dict.fromkeys(ids)}
        if not any(isinstance(p, staged.StagedPopulation) for p in loaded.values()):
            return None
        self._refuse_repeated_snapshots(role, ids)
        chosen = {(s.kind, s.system): s.source_id for s in
                  (choose(group, at) for group in self._snapshot_groups(role).values())}
        parts = []
        for source_id in ids:
            population = loaded[source_id]
            name = self._listing_view(source_id, population)
            columns = _columns_of(population)
            where = ""
            if "system" in columns:
                elsewhere = sorted(system for system in _systems_listed(population)
                                   if chosen.get((population.kind, system)) not in (source_id, None))
                if elsewhere:
                    where = " WHERE system IS NULL OR system NOT IN (" + ", ".join(
                        _sql_text(system) for system in elsewhere) + ")"
            parts.append(f"SELECT *, {_sql_text(self.label(source_id))} AS listing FROM {name}{where}")
        return self.sql.sql(" UNION ALL BY NAME ".join(parts))

    def _listing_view(self, source_id: str, population: populations.Population) -> str:
        """The DuckDB view of one source's canonical table on ``self.sql`` (its Parquet file, or its
        in-memory frame through Arrow), created once; its name."""
        import pyarrow as pa

        name = '"' + f"listing_{source_id}".replace('"', '""') + '"'
        views = self.__dict__.setdefault("_listing_views", set())
        if source_id not in views:
            if isinstance(population, staged.StagedPopulation):
                path = str(population.parquet).replace("'", "''")
                self.sql.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
            else:
                self.sql.register(f"listing_{source_id}", pa.Table.from_pandas(population.frame, preserve_index=False))
            views.add(source_id)
        return name

    def frames(self, role: str, at: pd.Timestamp | None = None) -> pd.DataFrame:
        """The canonical tables of a multi-source role, concatenated, each row naming its file.

        A role may hold several snapshots of one system (listings of the same kind whose moments,
        ``Source.moment``, differ). They are never combined: for each system one snapshot is
        taken, the latest at or before ``at`` (else the nearest after it; with ``at`` None, the
        newest), so one listing never silently shadows another; :meth:`snapshots` gives them all.
        Two snapshots of one system at the same moment are refused (which one holds is unknown).
        """
        ids = self.source_ids(role)
        self._refuse_repeated_snapshots(role, ids)
        chosen = {(s.kind, s.system): s.source_id for s in
                  (choose(group, at) for group in self._snapshot_groups(role).values())}
        parts = []
        for source_id in ids:
            population = self.load_for(role, source_id)
            frame = population.frame
            if "system" in frame:
                frame = frame[_rows_of_own_snapshots(frame["system"], population.kind, source_id, chosen)]
            parts.append(frame.assign(listing=self.label(source_id)))
        return pd.concat(parts, ignore_index=True)

    def snapshots(self, role: str) -> list[Snapshot]:
        """Every source of a role as one snapshot per system it lists, at its moment (UTC). A staged
        (large) listing's snapshots read their rows from Parquet only when their frame is asked for."""
        found = []
        for source_id in dict.fromkeys(self.source_ids(role)):
            population = self.load_for(role, source_id)
            moment = pd.Timestamp(self.params.source(source_id).moment).tz_convert("UTC")
            if isinstance(population, staged.StagedPopulation):
                found += [staged.StagedSnapshot(source_id, self.label(source_id), population.kind, system, moment,
                                                population) for system in population.summary.systems]
            else:
                found += split_by_system(source_id, self.label(source_id), population.kind, moment,
                                         population.frame)
        return found

    def _snapshot_groups(self, role: str) -> dict[tuple[str, str], list[Snapshot]]:
        """(kind, system) -> the role's snapshots of that system."""
        groups: dict[tuple[str, str], list[Snapshot]] = {}
        for snapshot in self.snapshots(role):
            groups.setdefault((snapshot.kind, snapshot.system), []).append(snapshot)
        return groups

    def _refuse_repeated_snapshots(self, role: str, source_ids: list[str]) -> None:
        """Raise when two sources of a role are snapshots of the same system (same kind, shared
        system) at the same moment: neither can be said to show the system then."""
        seen: dict[tuple[str, str, object], str] = {}
        for source_id in dict.fromkeys(source_ids):
            population = self.load(source_id)
            systems = set(_systems_listed(population))
            declared = self.params.source(source_id).system
            moment = self.params.source(source_id).moment
            for system in sorted(systems | ({declared} if declared else set())):
                other = seen.setdefault((population.kind, system, moment), source_id)
                if other == source_id:
                    continue
                raise ValueError(
                    f"control {self.control.id}: the role '{role}' is given two snapshots of system {system} "
                    f"({population.kind}) at the same moment {moment.isoformat()}: '{other}' ({self.label(other)}) "
                    f"and '{source_id}' ({self.label(source_id)}). Which one shows the system then is unknown; give "
                    "one listing per system and moment under sources:, or declare each listing's as_of (the "
                    "moment it shows the system) in the period file.")

    def label(self, source_id: str) -> str:
        """How evidence refers to a source: its file name."""
        return Path(self.params.source(source_id).path).name

    def load_sources(self) -> None:
        """Load every source the control names, so the evidence section lists them all."""
        self.check_roles()
        for ref in self.control.sources.values():
            for source_id in [ref] if isinstance(ref, str) else ref:
                self.load(source_id)

    def extracted_at(self, role: str) -> pd.Timestamp:
        """The declared extraction time (UTC) of a role's first source."""
        return pd.Timestamp(self.params.source(self.source_ids(role)[0]).extracted_at).tz_convert("UTC")

    @property
    def period_start(self) -> pd.Timestamp:
        """Start of the period's first day, UTC."""
        return pd.Timestamp(self.params.period.start, tz="UTC")

    @property
    def period_end(self) -> pd.Timestamp:
        """End of the period's last day (exclusive: midnight after it), UTC."""
        return pd.Timestamp(self.params.period.end, tz="UTC") + pd.Timedelta(days=1)

    # --- small helpers shared by the families -----------------------------------------------------
    @staticmethod
    def verdict(ok: pd.Series, applies: pd.Series | None = None) -> pd.Series:
        """'pass' / 'fail' per item, 'n/a' where the attribute does not apply."""
        result = ok.fillna(False).astype(bool).map({True: "pass", False: "fail"})
        return result if applies is None else result.where(applies.fillna(False).astype(bool), "n/a")

    @staticmethod
    def checks_table(rows: list[tuple[str, object, object]]) -> pd.DataFrame:
        """Control totals and reconciliations: (check, count, expected); expected None is informational."""
        table = pd.DataFrame(
            [(check, count, "—" if expected is None else expected,
              "—" if expected is None else ("agrees" if count == expected else "DIFFERS"))
             for check, count, expected in rows],
            columns=["check", "count", "expected", "result"])
        return workpapers.flag_cells(table, [(i, "result") for i in table.index[table["result"] == "DIFFERS"]])

    # --- scope ----------------------------------------------------------------------------------
    def scopes_of(self, systems: pd.Series) -> pd.Series:
        """``systems.map(self.scope_of_system)``: each row's framework scope stratum, worked out
        once per distinct system rather than once per row."""
        return map_distinct(systems, self.scope_of_system)

    def scope_of_system(self, system_id: str) -> str:
        """The framework scope stratum of a system: which frameworks' conclusions its items feed."""
        system = self.params.system(system_id)
        parts = []
        if system.sox_financially_significant and self.control.frameworks.sox:
            parts.append("SOX")
        if system.soc2_in_boundary and self.control.frameworks.soc2:
            parts.append("SOC 2")
        return " + ".join(parts) or "out of scope"

    def mapped_frameworks(self) -> tuple[str, ...]:
        """The frameworks this control maps to, SOX first."""
        return tuple(f for f, on in (("SOX", bool(self.control.frameworks.sox)),
                                     ("SOC 2", bool(self.control.frameworks.soc2))) if on)

    @property
    def service_accounts(self) -> dict[str, list[str]]:
        """System id -> glob patterns of its service accounts, as the period file declares them."""
        return service_account_patterns(list(self.params.systems))

    def service_account_text(self) -> str:
        """How the workpaper names the service-account patterns: ``svc-`` when every system keeps
        the default, else each system's patterns."""
        patterns = self.service_accounts
        if all(tuple(p) == DEFAULT_SERVICE_ACCOUNTS for p in patterns.values()):
            return "svc-"
        return "; ".join(f"{system}: {', '.join(p) or 'none'}" for system, p in patterns.items()
                         if system in self.control.systems or not self.control.systems)

    @property
    def system_names(self) -> dict[str, str]:
        """System id -> display name, as declared in the period's parameter file."""
        return {system.id: system.name for system in self.params.systems}

    def frameworks_of(self, system: str) -> tuple[str, ...]:
        """The frameworks whose conclusion an exception in this system feeds (all mapped, if no system).

        A finding that lists several systems ("aws_prod; ledgerline_erp") feeds each one's frameworks.
        """
        if not system:
            return self.mapped_frameworks()
        found = {part for one in system.split("; ") for part in self.scope_of_system(one).split(" + ")}
        return tuple(f for f in FRAMEWORKS if f in found)

    # --- what a procedure supplies --------------------------------------------------------------
    def population(self) -> pd.DataFrame:
        """The sampling frame: one row per item (see the module docstring for its columns)."""
        raise NotImplementedError

    def run_analytics(self) -> pd.DataFrame:
        """Full-population analytics; sets and returns ``self.hits`` (columns of ``HIT_COLUMNS``)."""
        raise NotImplementedError

    def test_attributes(self, items: pd.DataFrame) -> pd.DataFrame:
        """Per-item attribute results ('pass' / 'fail' / 'n/a') for every key of ``ATTRIBUTES``."""
        raise NotImplementedError

    # --- evidence ---------------------------------------------------------------------------------
    def population_evidence(self) -> list[workpapers.HtmlBlock]:
        """IPE evidence of every source loaded, with the frozen copy's path inside the run."""
        blocks = self.scope_limitation_blocks()
        blocks.append(workpapers.table(self.source_summary(), "Sources read: one row per export"))
        blocks.append(workpapers.paragraph(
            "Each export was copied into the run and hashed before it was read. Its full evidence (path of the frozen "
            "copy, SHA-256, size, columns, control totals, rows rejected, how the export became its table and the "
            "reader options) is in full in the appendix.", "wp-note"))
        blocks += self.freshness_blocks()
        ipe_register = ipe.with_acceptances(exceptions.build_register(
            self.params.period.id, self.control.id, self.ipe_findings), self.ipe_acceptances)
        blocks += ipe.evidence_blocks(ipe_register, self.ipe_acceptances, [self.label(s) for s in sorted(self.loaded)])
        if (empty := self.did_not_operate()) and len(ipe.unaccepted(ipe_register, self.ipe_acceptances)):
            blocks.append(workpapers.paragraph(ipe.empty_population_notice(self.ITEM_NOUN), "wp-note"))
        elif empty:
            counts = "; ".join(f"{fw}: {self.stratum_size(fw)}" for fw in self.mapped_frameworks())
            where = "" if len(empty) == len(self.mapped_frameworks()) else f" in {' and '.join(empty)} scope"
            blocks.append(workpapers.paragraph(
                f"{self.ITEM_NOUN.capitalize()} in the period: {len(self.population())} ({counts}). Completeness: "
                "every source above was read in full (rows, control totals and reconciliation shown), and the "
                f"population drawn from them is empty{where}: {self.no_items_text(empty[0] if where else None)}. The "
                f"control did not operate{where} during the period; there is nothing to sample or test.", "wp-note"))
        return blocks

    def listing_of(self, source_id: str) -> freshness.Listing:
        """A source as the freshness check sees it: the moment it shows the system and its nature."""
        source, population = self.params.source(source_id), self.load(source_id)
        if isinstance(population, staged.StagedPopulation):
            summary = population.summary
            nature, basis = freshness.listing_nature_of(
                population.table, source_id, self.params.evidence_freshness, summary.columns, summary.rows,
                "granted_at" in summary.columns and summary.non_null.get("granted_at") == summary.rows)
        else:
            nature, basis = freshness.listing_nature(population.frame, population.table, source_id,
                                                     self.params.evidence_freshness)
        return freshness.Listing(source_id, self.label(source_id), source.source_system, freshness.utc(source.moment),
                                 nature, basis)

    @cached_property
    def freshness_assessments(self) -> list[freshness.Assessment]:
        """Every declared claim (``FRESHNESS_CLAIMS``) checked on every listing given for its role, with
        the period's tolerances as the control's ``evidence_freshness:`` replaces them."""
        tolerance = self.params.evidence_freshness.for_control(self.control.evidence_freshness)
        found = []
        for claim in self.FRESHNESS_CLAIMS:
            if not self.given(claim.role) or (moment := getattr(self, claim.moment)) is None:
                continue
            for source_id in self.claim_sources(claim, moment):
                found.append(freshness.assess(self.listing_of(source_id), claim, moment, tolerance))
        return found

    def claim_sources(self, claim: freshness.Claim, moment: pd.Timestamp) -> list[str]:
        """The sources of a claim's role that the claim rests on. Where the role holds several
        snapshots of one system, only the one the procedure reads for the claim is judged: for a state
        at a moment, the snapshot :meth:`frames` chooses for that moment; for a state reached by a
        moment and seen later, the newest. The other snapshots serve other claims, not this one."""
        ids = list(dict.fromkeys(self.source_ids(claim.role)))
        if len(ids) < 2:
            return ids
        groups = self._snapshot_groups(claim.role).values()
        used = {choose(group, moment if claim.kind == "at" else None).source_id for group in groups}
        grouped = {snapshot.source_id for group in groups for snapshot in group}
        return [source_id for source_id in ids if source_id in used or source_id not in grouped]

    def freshness_blocks(self) -> list[workpapers.HtmlBlock]:
        """Section 2's "Freshness of evidence" table: each listing's moment against the moment it is used
        for, the gap and the verdict (a stale listing flagged; it is an IPE exception below)."""
        assessments = self.freshness_assessments
        if not assessments:
            return []
        table = freshness.table(assessments)
        stale = [(i, "verdict") for i, a in enumerate(assessments) if not a.fresh]
        return [workpapers.table(workpapers.flag_cells(table, stale), "Freshness of evidence"),
                workpapers.paragraph(
                    "Each listing shows the system at one moment (its as_of, else its extraction time). A listing "
                    "showing it before the moment it is used for cannot show what changed after; a point-in-time "
                    "listing (no grant dates, or removed access dropped) showing it long after cannot show what was "
                    "removed in between; a dated listing (grant and removal dates, removed rows kept) shows any "
                    "earlier moment. Tolerances: the period file's evidence_freshness (days before; days after, "
                    "point-in-time or dated). A stale listing is an IPE exception.", "wp-note")]

    def source_summary(self) -> pd.DataFrame:
        """One row per source read, for section 2: file, what it became, extraction, rows, and
        whether it read cleanly (rows read, key unique, nothing rejected); a problem is flagged and
        worded in the last column."""
        rows, flags = [], []
        for i, (source_id, population) in enumerate(self.loaded.items()):
            ev = population.evidence
            # empty cells are no problem in themselves (an open end date is empty); the appendix counts them
            problems = [text for text, bad in (
                (f"key repeated ({ev.duplicate_key_count})", not ev.key_unique),
                (f"{len(ev.rows_rejected)} row(s) rejected", bool(ev.rows_rejected)),
                ("no rows", ev.row_count == 0)) if bad]
            declared = ev.options.get("expected_rows")
            count, tolerance = expected_rows(declared) if declared is not None else (None, 0)
            rows.append({
                "source": ev.source_system, "file": self.label(source_id),
                "read as": f"{ev.kind} → {population.table}",
                "extracted": (ev.extracted_at or "not declared").replace("T", " ").replace("+00:00", " UTC"),
                "rows": f"{ev.row_count:,}",
                "control total (expected_rows)": "—" if count is None else
                                                 f"{count:,}" + (f" ± {tolerance:,}" if tolerance else ""),
                "rejected": f"{len(ev.rows_rejected):,}",
                "key unique": "Yes" if ev.key_unique else f"No: {ev.duplicate_key_count} repeated",
                "result": "; ".join(problems) or "read in full",
            })
            flags += [(i, "result")] * bool(problems) + [(i, "key unique")] * (not ev.key_unique)
        table = pd.DataFrame(rows, columns=["source", "file", "read as", "extracted", "rows",
                                            "control total (expected_rows)", "rejected", "key unique", "result"])
        return workpapers.flag_cells(table, flags)

    def source_evidence_blocks(self) -> list[workpapers.HtmlBlock]:
        """Every source's IPE evidence in full (the appendix), with the frozen copy's path in the run."""
        blocks = []
        for source_id, population in list(self.loaded.items()):
            caption = f"{self.params.source(source_id).source_system}: {self.label(source_id)}"
            frozen = self.context.inputs[source_id].relative_to(self.context.run_dir).as_posix()
            rows = [(label, f"{frozen} (frozen copy in the run folder)" if label == "Path" else value)
                    for label, value in population.evidence.as_rows()]
            blocks.append(workpapers.key_values(rows, caption))
        return blocks

    def mapping_appendix(self) -> list[workpapers.HtmlBlock]:
        """Appendix: every source's evidence in full (section 2 has one summary row per source),
        then its declared reader options in full (column mappings, derived columns, value maps,
        leniency), so a reviewer can re-perform how each export became its table; then how people
        were matched."""
        blocks = self.source_evidence_blocks()
        for source_id, population in self.loaded.items():
            options = population.evidence.options
            if not options:
                continue
            rows = [(name, option_text(value)) for name, value in options.items()]
            caption = f"{self.label(source_id)} ({population.evidence.kind} → {population.table})"
            blocks.append(workpapers.key_values(rows, caption, preformatted=True))
        if not any(population.evidence.options for population in self.loaded.values()):
            blocks.append(workpapers.paragraph("Every export was read as exported, with the "
                                               "readers' default options: no options to list."))
        return blocks + self.identity_evidence()

    def all_hits(self) -> pd.DataFrame:
        """The analytics hits, running the analytics first if needed."""
        return self.hits if self.hits is not None else self.run_analytics()

    @staticmethod
    def combine_hits(parts: list[pd.DataFrame]) -> pd.DataFrame:
        """One hit table from several analytics (empty with the right columns if none hit)."""
        non_empty = [p for p in parts if len(p)]
        return pd.concat(non_empty, ignore_index=True) if non_empty else pd.DataFrame(columns=HIT_COLUMNS)

    def rules_run(self) -> tuple[str, ...]:
        """The analytics rules the procedure runs, so the summary lists a rule that found nothing
        (0) too; a family that declares none lists only the rules that hit."""
        return ()

    def analytics_summary(self) -> pd.DataFrame:
        """Hits per rule, for the workpaper: every rule the procedure runs (0 when it found nothing),
        then any other rule that hit."""
        counts = self.all_hits().groupby("rule").size()
        rules = list(dict.fromkeys([*self.rules_run(), *counts.index]))
        return pd.DataFrame({"rule": rules, "exceptions": [int(counts.get(r, 0)) for r in rules]})

    def hits_table(self) -> pd.DataFrame:
        """The hits as shown in the workpaper."""
        return self.all_hits()[["rule", "subject", "system", "description", "evidence_reference"]]

    # --- sample ---------------------------------------------------------------------------------
    def plan_sample(self) -> pd.DataFrame:
        """Size the sample of each framework scope stratum and say why."""
        cfg = self.control.sampling
        rows = []
        for stratum, size in self.population().groupby("scope").size().items():
            if cfg.approach == "frequency":
                plan = sampling.frequency_sample_size(self.control.frequency, cfg.risk, population_size=int(size))
            else:
                plan = sampling.plan_sample(confidence=cfg.confidence, tolerable_rate=cfg.tolerable_rate,
                                            expected_rate=cfg.expected_rate, population_size=int(size), method=cfg.method,
                                            expected_deviations=cfg.expected_deviations)
            self.plan[stratum] = plan
            rows.append({"scope stratum": stratum, self.ITEM_NOUN: int(size), "sample size": min(plan.n, int(size)),
                         "rationale": plan.rationale()})
        for framework in self.did_not_operate():
            rows.append({"scope stratum": framework, self.ITEM_NOUN: 0, "sample size": 0,
                         "rationale": f"No sample is drawn: {self.no_items_text(framework)}, so the control did not "
                                      "operate in this framework's scope and there is nothing to test."})
        return pd.DataFrame(rows, columns=["scope stratum", self.ITEM_NOUN, "sample size", "rationale"])

    def select_sample(self) -> pd.DataFrame:
        """Stratified statistical selection (seeded) plus targeted items from the analytics, kept apart."""
        if not self.plan:
            self.plan_sample()
        population = self.population()
        if population.empty:
            # Nothing in the period: no selection (and no selection record; verify checks that the
            # sample holds no statistical item), and no attribute is tested.
            empty = population.iloc[0:0].assign(selection_order=pd.Series(dtype="Int64"), selection_basis="",
                                                  selection_hash="", targeted_reason="",
                                                  **{attribute: "" for attribute in self.ATTRIBUTES})
            self.selection = None
            self.sample = self.with_deviations(empty)
            return self.sample
        sizes = population["scope"].value_counts()
        allocation = {stratum: min(plan.n, int(sizes[stratum])) for stratum, plan in self.plan.items()}
        statistical, self.selection = sampling.select_with_record(
            population, sum(allocation.values()), method="stratified", seed=self.params.seed,
            key="item_key", strata="scope", allocation=allocation)
        hit_keys = self.hit_identities(self.all_hits())
        targeted_keys = sorted(key for key, identity in zip(population["item_key"], self.hit_identities(population))
                               if identity in hit_keys)
        targeted = sampling.select_targeted(population, targeted_keys, key="item_key",
                                            reason="hit of a full-population analytic")
        combined = sampling.combine_selections(statistical, targeted)
        self.sample = self.with_deviations(self.test_attributes(combined))
        return self.sample

    def hit_identities(self, frame: pd.DataFrame) -> list[tuple]:
        """What ties a hit to a population item: the ``HIT_MATCH`` columns of each row."""
        # through NumPy object arrays (the same values, NA included): iterating Arrow-backed text value by
        # value costs seconds at a million review lines
        return list(zip(*(frame[c].to_numpy(dtype=object) for c in self.HIT_MATCH))) if len(frame) else []

    def with_deviations(self, items: pd.DataFrame) -> pd.DataFrame:
        """Add the ``deviation`` flag: any attribute failed."""
        items = items.copy()
        items["deviation"] = (items[list(self.ATTRIBUTES)] == "fail").any(axis=1) if self.ATTRIBUTES else False
        return items

    def tested_sample(self) -> pd.DataFrame:
        """The selected items with their attribute results, selecting them first if needed."""
        return self.sample if self.sample is not None else self.select_sample()

    def selection_method(self) -> list[tuple[str, str]]:
        """Method, seed and algorithm, so anyone can re-derive the same items."""
        if self.population().empty:
            return [
                ("Method", f"No selection: {self.no_items_text()}; no sample is drawn and no item is tested"),
                ("Seed", str(self.params.seed)),
                ("Re-derivation", f"{POPULATION_FILE} (no items) and result.json, which records no selection "
                                  "(workbench verify checks that the sample holds no item)"),
            ]
        return [
            ("Method", "stratified simple random selection by framework scope, plus targeted items (kept apart)"),
            ("Seed", str(self.params.seed)),
            ("Algorithm", f"{sampling.SELECTION_ALGORITHM}: items ranked by SHA-256 of 'seed|key' within each stratum"),
            ("Population fingerprint", self.selection.population_fingerprint if self.selection else ""),
            ("Re-derivation", f"{POPULATION_FILE} and the selection record in result.json (workbench verify)"),
        ]

    def attribute_results(self) -> pd.DataFrame:
        """The per-item results with tickmarks, as shown in the workpaper."""
        sample = self.tested_sample()
        marks = {name: mark for name, (mark, _) in workpapers.TICKMARKS.items()}
        shown = sample[["selection_order", "selection_basis", "scope", *self.SAMPLE_COLUMNS, *self.ATTRIBUTES]].copy()
        workpapers.anchor_rows(shown, "selection_order", referencing.item_refs(self.control.id, len(shown)))
        for column in self.ATTRIBUTES:
            shown[column] = shown[column].map(lambda value: marks.get(value, value))  # 'not tested' as written
        shown["deviation"] = sample["deviation"].map({True: "Yes", False: ""})
        # last: printed, the tickmarks and the deviation stay in one column group, the evidence after them
        shown["evidence"] = [referencing.item_evidence(item) for item in sample.to_dict("records")]
        shown = shown.rename(columns={k: attribute_header(k) for k in self.ATTRIBUTES} | {"selection_basis": "basis"})
        if shown.empty and self.population().empty:
            shown.attrs["empty"] = (f"No attribute was tested: {self.no_items_text()}, so no item was selected "
                                    "(the control did not operate during the period).")
        return shown

    def attribute_legend(self) -> pd.DataFrame:
        """What each attribute column means."""
        return pd.DataFrame([(attribute_header(k), v) for k, v in self.ATTRIBUTES.items()], columns=["column", "attribute"])

    # --- exceptions -----------------------------------------------------------------------------
    def findings(self) -> list[exceptions.Finding]:
        """Analytics hits and failed sample attributes as findings (one per line) for the register."""
        hits = self.all_hits()
        found = [*self.ipe_findings] + [
            exceptions.Finding(rule=h.rule, subject=h.subject, system=h.system,
                               description=name_the_system(h.description, h.system, self.system_names.get(h.system, "")),
                               evidence_reference=h.evidence_reference, severity=h.severity, origin="analytics",
                               detail_key=h.detail_key, frameworks=self.frameworks_of(h.system))
            for h in hits.itertuples()
        ]
        already = set(self.hit_identities(hits))
        sample = self.tested_sample()
        deviating = sample[sample["deviation"]]
        numbers = [n for n, deviation in enumerate(sample["deviation"], start=1) if deviation]  # rows in section 5
        for item, identity, number in zip(deviating.itertuples(), self.hit_identities(deviating), numbers):
            if identity in already:
                continue  # the same line is already an analytics exception: one finding, not two
            failed = [self.ATTRIBUTES[a] for a in self.ATTRIBUTES if getattr(item, a) == "fail"]
            found.append(exceptions.Finding(
                rule="sample_attribute_failed", subject=item.subject, system=item.system,
                description=f"Sample item {referencing.item_ref(self.control.id, number)} ({item.item_key}) failed: "
                            + "; ".join(failed) + ".",
                evidence_reference=item.evidence_reference, severity="medium", origin="sample",
                detail_key=item.detail_key, frameworks=self.frameworks_of(item.system)))
        return found

    def register(self) -> pd.DataFrame:
        """This control's exception register (stable ids); an accepted IPE exception says so.

        Built once for the control's hits and sample (the workpaper's sections, the conclusions and
        ``record`` each ask for it) and kept with them: new hits or a new sample build it again.
        Each caller gets a copy of its own."""
        hits, sample = self.all_hits(), self.tested_sample()
        built = self.__dict__.get("_register")
        if built is None or built[0] is not hits or built[1] is not sample:
            register = ipe.with_acceptances(
                exceptions.build_register(self.params.period.id, self.control.id, self.findings()), self.ipe_acceptances)
            built = (hits, sample, register)
            self.__dict__["_register"] = built
        return built[2].copy()

    @cached_property
    def ipe_findings(self) -> list[exceptions.Finding]:
        """The IPE exceptions of every export the control reads (:mod:`workbench.ipe`); an export
        given only for an optional role may be empty."""
        self.load_sources()
        required = {s for role, ref in self.control.sources.items()
                    if (spec := self.SOURCE_ROLES.get(role)) is None or spec.required
                    for s in ([ref] if isinstance(ref, str) else ref)}
        data = [ipe.SourceData(s, self.label(s), p.table, _frame_or_columns(p), s in required,
                               (self.params.source(s).options or {}).get("expected_rows"),
                               len(p.evidence.rows_rejected), p.evidence.duplicates_dropped,
                               **({"rows": p.summary.rows, "batches": p.batches, "rows_where": p.rows_where}
                                  if isinstance(p, staged.StagedPopulation) else {}))
                for s, p in sorted(self.loaded.items())]
        issues = ipe.run_checks(data) + freshness.issues(self.freshness_assessments)
        return ipe.as_findings(issues, self.mapped_frameworks())

    @cached_property
    def ipe_acceptances(self) -> dict[str, ipe.IpeAcceptance]:
        """The auditor's IPE acceptances frozen into this run (none when there is no file)."""
        return ipe.read_acceptances(self.context.run_dir / RECORDS_DIR / f"{ipe.RECORD_KIND}.yaml")

    def register_table(self) -> pd.DataFrame:
        """The register as shown in the workpaper."""
        shown = self.register()[["exception_id", "rule", "subject", "system", "framework", "severity", "origin",
                                 "description"]]
        return workpapers.anchor_rows(shown.copy(), "exception_id")

    # --- evaluation and conclusion --------------------------------------------------------------
    def evaluate(self) -> pd.DataFrame:
        """Deviations, upper deviation limit and tolerable rate for each framework's sample."""
        sample = self.tested_sample()
        cfg = self.control.sampling
        statistical = sample[sample["selection_basis"].str.contains("statistical")]
        rows = []
        for framework in self.mapped_frameworks():
            items = statistical[statistical["scope"].str.contains(framework, regex=False)]
            n, k = len(items), int(items["deviation"].sum())
            if n == 0:
                if framework in self.did_not_operate():
                    rows.append({"framework": framework, "items tested": 0, "deviations": 0,
                                 "sample deviation rate": "—", "upper deviation limit": "—",
                                 "tolerable rate": f"{cfg.tolerable_rate:.1%}",
                                 "supports reliance": "not applicable: nothing was tested (the control did not operate)"})
                continue
            population_size = self.stratum_size(framework)
            # Every item of the stratum tested (small populations): no sampling risk, evaluated exactly.
            method = "hypergeometric" if n >= population_size else cfg.method
            ev = sampling.evaluate(n, k, cfg.confidence, cfg.tolerable_rate, method=method,
                                   population_size=population_size if method == "hypergeometric" else None)
            self.evaluations[framework] = ev
            rows.append({"framework": framework, "items tested": n, "deviations": k,
                         "sample deviation rate": f"{ev.sample_deviation_rate:.1%}",
                         "upper deviation limit": f"{sampling.round_up_pct(ev.upper_deviation_limit):.1%}",
                         "tolerable rate": f"{cfg.tolerable_rate:.1%}",
                         "supports reliance": "yes" if ev.supports_reliance else "no"})
        return pd.DataFrame(rows)

    def conclusions(self) -> list[tuple[str, str, list[str], bool | None]]:
        """One conclusion per mapped framework: (framework, headline, sentences, effective); effective
        is None when the control did not operate in the framework's scope.

        Worked out once for the control's hits, sample and evaluations (the conclusions section,
        management's response section and ``record`` each ask) and kept with them: new hits, a new
        sample or other evaluations work them out again. Each caller gets lists of its own."""
        if not self.evaluations:
            self.evaluate()
        hits, sample, evaluations = self.all_hits(), self.tested_sample(), tuple(self.evaluations.items())
        kept = self.__dict__.get("_kept_conclusions")
        if kept is None or kept[0] is not hits or kept[1] is not sample or kept[2] != evaluations:
            kept = (hits, sample, evaluations, self._conclusions())
            self.__dict__["_kept_conclusions"] = kept
        return [(framework, headline, list(body), effective) for framework, headline, body, effective in kept[3]]

    def _conclusions(self) -> list[tuple[str, str, list[str], bool | None]]:
        """:meth:`conclusions`, worked out."""
        register = self.register()
        labels = {"SOC 2": f"SOC 2 {', '.join(self.control.frameworks.soc2)}",
                  "SOX": f"SOX ITGC {self.control.frameworks.sox.itgc_domain.replace('_', ' ')}"
                  if self.control.frameworks.sox else ""}
        concluded = [self._conclude(fw, labels[fw], register) for fw in ("SOC 2", "SOX") if fw in self.mapped_frameworks()]
        limitations = self.scope_limitations()
        if not limitations:
            return concluded
        stated = "Scope limitation: " + "; ".join(f"{role} not given: {text}" for role, text in limitations.items()) + "."
        return [(fw, headline, [*body, stated], effective) for fw, headline, body, effective in concluded]

    def stratum_size(self, framework: str) -> int:
        """How many items of the population fall in a framework's scope (items whose ``scope`` names it)."""
        return sum(count for scope, count in self.scope_counts().items() if framework in scope)

    def scope_counts(self) -> dict[str, int]:
        """Items per distinct ``scope`` of the population, counted once per population rather than once
        per question (the workpaper asks for a stratum's size dozens of times). Kept with the frame it
        was counted on: a procedure whose ``population()`` gives a new frame is counted again."""
        population = self.population()
        counted = self.__dict__.get("_scope_counts")
        if counted is None or counted[0] is not population:
            counts = population["scope"].value_counts(dropna=True)
            counted = (population, {str(scope): int(count) for scope, count in counts.items()})
            self.__dict__["_scope_counts"] = counted
        return counted[1]

    def did_not_operate(self) -> tuple[str, ...]:
        """The mapped frameworks with no item in the population for the period: the control did
        not operate in their scope (nothing to sample, nothing to test)."""
        return tuple(fw for fw in self.mapped_frameworks() if self.stratum_size(fw) == 0)

    def no_items_text(self, framework: str | None = None) -> str:
        """'no <items> in the population for the period (<occasion>)', in a framework's scope if named."""
        where = "" if framework is None or not len(self.population()) else f" in {framework} scope"
        occasion = f" ({self.OCCASION})" if self.OCCASION and not where else ""
        return f"no {self.ITEM_NOUN}{where} in the population for the period{occasion}"

    def _did_not_operate(self, framework: str, label: str) -> tuple[str, str, list[str], None]:
        """The conclusion of a framework whose population is complete and empty, in its own words."""
        completeness = ("The population is complete and empty: section 2 lists the sources read in full, their "
                        f"row counts, and the {self.ITEM_NOUN} that fell in the period (none).")
        if framework == "SOC 2":
            return framework, "Control did not operate", [
                f"{label}: The control did not operate during the period: {self.no_items_text(framework)}; the "
                "circumstances that warrant the operation of the control did not occur during the period. No tests "
                "of operating effectiveness were performed.", completeness], None
        return framework, "Not tested (did not operate)", [
            f"{label}: Not tested: no instances of the control's operation in the period (the population is "
            f"complete and empty: {self.no_items_text(framework)}). There was nothing to test; no deficiency is "
            "identified and no conclusion on operating effectiveness is reached for the period.", completeness], None

    def _conclude(self, framework: str, label: str, register: pd.DataFrame) -> tuple[str, str, list[str], bool | None]:
        """A framework's conclusion in its own language, from its exceptions and its sample.

        ``effective`` is None when the control did not operate in the framework's scope (an empty
        stratum and no exception): neither effective nor deficient.
        """
        mine = register[register["framework"].str.contains(framework, regex=False)]
        ipe_rows, mine = mine[mine["origin"] == ipe.ORIGIN], mine[mine["origin"] != ipe.ORIGIN]
        if len(blocking := ipe.unaccepted(ipe_rows, self.ipe_acceptances)):
            return ipe.cannot_conclude(framework, label, blocking)
        accepted = ipe.accepted_sentences(ipe_rows, self.ipe_acceptances)
        if mine.empty and framework in self.did_not_operate():
            fw, headline, body, effective = self._did_not_operate(framework, label)
            return fw, headline, [*body, *accepted], effective
        analytics_hits = mine[mine["origin"] == "analytics"]
        ev = self.evaluations.get(framework)
        sample_text = self._sample_text(framework)
        effective = mine.empty and (ev is None or ev.supports_reliance)
        rule_text = ", ".join(f"{count} {rule.replace('_', ' ')}" for rule, count in analytics_hits.groupby("rule").size().items())
        detail = f"{len(analytics_hits)} exception(s){' (' + rule_text + ')' if rule_text else ''}"
        if framework == "SOC 2":
            headline = "No exceptions noted" if effective else f"Exception noted ({len(mine)})"
            body = [f"{label}: No exceptions noted ({sample_text}; no full-population analytics exceptions)." if effective
                    else f"{label}: Exception noted: full-population analytics identified {detail}; {sample_text}.",
                    "Management's response is recorded separately and is not part of this result."]
        else:
            headline = "Effective" if effective else "Deficiency identified"
            body = [f"{label}: the control operated effectively in financially significant applications ({sample_text})."
                    if effective else
                    f"{label}: control deficiency identified in financially significant applications: "
                    f"full-population analytics identified {detail}; {sample_text}."]
            if not effective:
                body.append("Deficiency evaluation inputs for the auditor (AS 2201): likelihood and magnitude of a "
                            "misstatement, compensating controls tested and their precision, aggregation by application; "
                            "the classification (deficiency, significant deficiency, material weakness) is the auditor's judgment.")
        body += accepted
        if ev:
            body.append(ev.conclusion())
            if not ev.supports_reliance and (ev.population_size is None or ev.sample_size < ev.population_size):
                cfg = self.control.sampling
                body.append("Sample extension: " + sampling.extension_size(
                    ev.sample_size, ev.deviations, cfg.confidence, cfg.tolerable_rate).statement)
        return framework, headline, body, effective

    def _sample_text(self, framework: str) -> str:
        """How a framework's conclusion states its sample: "k of n sampled <items> deviated"."""
        ev = self.evaluations.get(framework)
        if ev is None and framework in self.did_not_operate():
            return f"no sample drawn: {self.no_items_text(framework)}"
        return (f"{ev.deviations} of {ev.sample_size} sampled {self.ITEM_NOUN} deviated" if ev
                else f"no {self.ITEM_NOUN} in this framework's scope")

    def conclusion_blocks(self) -> list[workpapers.HtmlBlock]:
        """The conclusions as workpaper blocks, one per framework."""
        return [workpapers.conclusion_block(fw, headline, body, effective)
                for fw, headline, body, effective in self.conclusions()]

    # --- SOC 2 exceptions and management's response -----------------------------------------------
    def soc2_scope_notice(self) -> str | None:
        """Why the control has no SOC 2 exceptions to report, if it is outside SOC 2 scope; else None."""
        if not self.control.frameworks.soc2:
            return (f"{self.control.id} is not mapped to SOC 2 Trust Services Criteria: it reports no SOC 2 "
                    "exceptions and needs no management's response for SOC 2.")
        if not any("SOC 2" in self.frameworks_of(system) for system in self.control.systems):
            return (f"None of the systems of {self.control.id} ({', '.join(self.control.systems)}) is inside the SOC 2 "
                    "system boundary: it reports no SOC 2 exceptions and needs no management's response for SOC 2.")
        return None

    def management_responses(self) -> pd.DataFrame:
        """This control's SOC 2 exceptions, worded per criterion, with management's response.

        Management's responses, owners, actions and due dates come from the auditors' records frozen
        into this run (``runner.frozen_records``); an exception without one says so.
        """
        if self.soc2_scope_notice():
            return pd.DataFrame(columns=MANAGEMENT_RESPONSE_COLUMNS)
        if not self.evaluations:
            self.evaluate()
        records, _ = frozen_records(self.context.run_dir)
        register = self.register()
        return management_response_table(register[register["origin"] != ipe.ORIGIN], records, self.params.period.id,
                                         list(self.control.frameworks.soc2), self._sample_text("SOC 2"))

    def management_response_section(self) -> list[workpapers.HtmlBlock]:
        """The workpaper section: the SOC 2 exceptions and management's responses, or why there are none."""
        notice = self.soc2_scope_notice()
        if notice:
            return [workpapers.paragraph(notice, "wp-note")]
        table = self.management_responses()
        criteria = ", ".join(self.control.frameworks.soc2)
        blocked = [workpapers.paragraph(ipe.management_response_notice(criteria), "wp-note")
                   for fw, headline, _, _ in self.conclusions() if fw == "SOC 2" and headline == ipe.HEADLINE]
        if table.empty and blocked:
            return blocked
        if table.empty and "SOC 2" in self.did_not_operate():
            return [workpapers.paragraph(f"SOC 2 {criteria}: the control did not operate during the period: "
                                         f"{self.no_items_text('SOC 2')}. There is no exception and no "
                                         "management's response is required.", "wp-note")]
        if table.empty:
            return [workpapers.paragraph(f"SOC 2 {criteria}: No exceptions noted; no management's response is required.",
                                         "wp-note")]
        return [*blocked, workpapers.table(table, f"SOC 2 {criteria}: {len(table)} exception(s) and management's response"),
                workpapers.paragraph("Management's responses are management's own statements, taken from the auditors' "
                                     "remediation records frozen into this run; they are not part of the results of "
                                     "the tests.", "wp-note")]

    # --- record ---------------------------------------------------------------------------------
    def population_record(self) -> pd.DataFrame:
        """What ``population.csv`` keeps of each item: ``item_key`` and ``scope`` (the sample re-derives
        from them); a procedure may add columns that evidence each item (e.g. its proof of removal)."""
        return self.population()[["item_key", "scope"]]

    def record(self) -> dict:
        """Write sample.csv, population.csv, exceptions.csv and result.json into the control's folder
        (each atomically: a full disk leaves no half file)."""
        out = self.context.control_dir(self.control.id)
        out.mkdir(parents=True, exist_ok=True)
        sample = self.tested_sample()
        columns = ["selection_order", "selection_basis", "scope", "item_key", "selection_hash", *self.SAMPLE_COLUMNS,
                   "evidence_reference", *self.ATTRIBUTES, "deviation"]
        tested = sample[[c for c in dict.fromkeys(columns) if c in sample.columns]]
        runfolder.write_atomically(out / "sample.csv", lambda path: csvsafe.write_csv(tested, path))
        frame = self.population_record().sort_values("item_key", kind="mergesort")
        runfolder.write_atomically(out / POPULATION_FILE, lambda path: csvsafe.write_csv(frame, path))
        register = self.register()
        exceptions.write_register(register, out / CONTROL_EXCEPTIONS)
        conclusions = self.conclusions()
        result = {
            "control_id": self.control.id,
            "conclusions": [f"{fw}: {headline}" for fw, headline, _, _ in conclusions],
            "effective": {fw: effective for fw, _, _, effective in conclusions},
            "exception_count": len(register),
            "evaluations": {fw: {"sample_size": ev.sample_size, "deviations": ev.deviations,
                                 "upper_deviation_limit": ev.upper_deviation_limit, "tolerable_rate": ev.tolerable_rate,
                                 "confidence": ev.confidence, "supports_reliance": ev.supports_reliance}
                            for fw, ev in sorted(self.evaluations.items())},
            **({"did_not_operate": {fw: f"did not operate: {self.no_items_text(fw)}"
                                    for fw, _, _, effective in conclusions if effective is None}}
               if any(effective is None for _, _, _, effective in conclusions) else {}),
            **({"scope_limitations": limitations} if (limitations := self.scope_limitations()) else {}),
            **({"ipe": ipe.result_summary(register, self.ipe_acceptances)} if (register["origin"] == ipe.ORIGIN).any()
               else {}),
            "systems": {fw: sorted(s for s in self.control.systems if fw in self.frameworks_of(s))
                        for fw in self.mapped_frameworks()},
            "sample": {"statistical": int(sample["selection_basis"].str.contains("statistical").sum()),
                       "targeted": int(sample["selection_basis"].str.contains("targeted").sum()),
                       "seed": self.params.seed, "algorithm": sampling.SELECTION_ALGORITHM,
                       "selection_record": self.selection.to_dict() if self.selection else None},
        }
        runfolder.write_text(out / CONTROL_RESULT, json.dumps(result, indent=2, sort_keys=True) + "\n")
        return result
