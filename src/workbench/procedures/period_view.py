"""The workpaper's "Changes since the prior period" section, for every procedure family.

Why a mixin: each control compares what it reads itself (its HR roster, its listings, its population
and its exception register) with what the same control read in the prior period's run, frozen into
this run's ``prior_run/`` folder (:mod:`workbench.prior_run`). The comparisons are
:mod:`workbench.period_changes`; this only gathers the two sides and shows them.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import csvsafe, exceptions, period_changes, runfolder, workpapers
from workbench.prior_run import PRIOR_DIR, PriorRun, frozen_prior_run

HR_ROLE = "hr"
#: How many detail rows the workpaper shows; the control folder's period_changes.csv has them all.
SHOWN_ROWS = 200


def _with_reference(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """A canonical table with a ``reference`` column naming its export and line."""
    lines = frame["line"] if "line" in frame.columns else pd.Series("", index=frame.index)
    return frame.assign(reference=[f"{label} line {line}" if str(line) else label for line in lines])


class PeriodChangesMixin:
    """What changed since the prior period's run, for one control (see the module docstring)."""

    context: Any
    control: Any
    SOURCE_ROLES: dict[str, Any]

    @cached_property
    def prior_run(self) -> PriorRun | None:
        """The prior period's run frozen into this run (re-verified from its copy), if one was given."""
        return frozen_prior_run(self.context.run_dir, self.params)

    def _change_roles(self) -> list[str]:
        """The roles this control reads that the view compares: the HR roster, then every listing of grants."""
        grants = [role for role, spec in self.SOURCE_ROLES.items() if "grants" in spec.tables]
        return [role for role in (HR_ROLE, *grants) if role in self.control.sources]

    def _prior_frames(self, prior: PriorRun, role: str) -> list[tuple[pd.DataFrame, Any]]:
        """The prior run's tables for one role of this control (with each source's declaration)."""
        from workbench.procedures.base import read_source

        control = next(c for c in prior.parameters.controls if c.id == self.control.id)
        ref = control.sources.get(role)
        frames = []
        for source_id in [] if ref is None else [ref] if isinstance(ref, str) else ref:
            source = prior.parameters.source(source_id)
            table = read_source(source, prior.input_path(source_id), list(prior.parameters.systems)).frame
            frames.append((_with_reference(table, Path(source.path).name), source))
        return frames

    def _current_frames(self, role: str) -> list[tuple[pd.DataFrame, Any]]:
        """This run's tables for one role of the control (with each source's declaration)."""
        return [(_with_reference(self.load_for(role, source_id).frame, self.label(source_id)),
                 self.params.source(source_id)) for source_id in self.source_ids(role)]

    @staticmethod
    def _held(frames: list[tuple[pd.DataFrame, Any]]) -> pd.DataFrame:
        """The grants each listing shows as held at its extraction, all listings together."""
        held = [period_changes.held_grants(frame, pd.Timestamp(source.extracted_at).tz_convert("UTC"))
                for frame, source in frames]
        return pd.concat(held, ignore_index=True) if held else pd.DataFrame(columns=[*period_changes.GRANT_KEY, "reference"])

    @cached_property
    def period_changes(self) -> dict[str, Any] | None:
        """The control's changes since the prior run: the detail table, the roll-forwards and the
        findings by rule; None without a prior run or when the prior run did not test this control."""
        prior = self.prior_run
        if prior is None or self.control.id not in {c.id for c in prior.parameters.controls} \
                or prior.control_file(self.control.id, "population.csv") is None:
            return None
        parts, reconciliations = [], []
        roles = self._change_roles()
        if HR_ROLE in roles:
            before, now = self._prior_frames(prior, HR_ROLE), self._current_frames(HR_ROLE)
            if before and now:
                people, headcount = period_changes.people_changes(before[0][0], now[0][0])
                parts.append(people)
                reconciliations.append(headcount)
        grant_roles = [r for r in roles if r != HR_ROLE]
        if grant_roles:
            before = self._held([f for role in grant_roles for f in self._prior_frames(prior, role)])
            now = self._held([f for role in grant_roles for f in self._current_frames(role)])
            grants, per_system = period_changes.grant_changes(before, now)
            parts.append(grants)
            reconciliations += per_system
        prior_population = csvsafe.read_csv(prior.control_file(self.control.id, "population.csv"))
        population, items = period_changes.population_changes(
            list(prior_population["item_key"]), list(self.population()["item_key"]),
            f"{self.ITEM_NOUN} tested (this control's population)",
            (f"run {prior.run_id} {self.control.id}/population.csv", f"{self.control.id}/population.csv"))
        parts.append(population)
        reconciliations.append(items)
        prior_register = exceptions.read_register(prior.control_file(self.control.id, "exceptions.csv"))
        register = self.register()
        findings = period_changes.finding_changes(prior_register, register)
        parts.append(findings)
        detail = period_changes.detail_table(parts)
        return {"detail": detail, "reconciliations": reconciliations,
                "by_rule": period_changes.findings_by_rule(detail, prior_register, register)}

    def period_changes_section(self) -> list[workpapers.HtmlBlock]:
        """The workpaper's section: the prior run (id, period, seal), the roll-forwards, findings by
        rule and every change; writes the detail to ``period_changes.csv`` in the control's folder."""
        prior = self.prior_run
        if prior is None:
            return [workpapers.paragraph("No prior period's run was given for this run (workbench run --prior-run), so "
                                         "changes since the prior period are not shown.", "wp-note")]
        header = workpapers.key_values([
            ("Prior period", f"{prior.period_id} ({prior.parameters.period.start} to {prior.parameters.period.end})"),
            ("Prior run", prior.run_id),
            ("Seal of the prior run", prior.seal),
            ("Integrity", "every file of the prior run read here (its frozen HR roster and listings, this control's "
                          "population and exception register) hashes to the prior run's manifest; the copies read "
                          f"are frozen in this run under {PRIOR_DIR}/"),
        ], "The prior period's run")
        changes = self.period_changes
        if changes is None:
            return [header, workpapers.paragraph(f"Control {self.control.id} was not tested in the prior run "
                                                 f"{prior.run_id} (or its workpaper did not complete there): there is "
                                                 "nothing to compare it with.", "wp-note")]
        out = self.context.control_dir(self.control.id)
        out.mkdir(parents=True, exist_ok=True)
        detail = changes["detail"]
        runfolder.write_atomically(out / period_changes.DETAIL_FILE, lambda path: csvsafe.write_csv(detail, path))
        roll = pd.DataFrame([r.row() for r in changes["reconciliations"]])
        return [header,
                workpapers.table(roll, "Roll-forward from the prior period: prior + added − removed = this period"),
                workpapers.table(changes["by_rule"], "Findings since the prior period, by rule: "
                                                     "prior − resolved + new = this period"),
                workpapers.table(detail, f"{len(detail)} change(s) since the prior period "
                                         f"({period_changes.summary_line(detail)}); all in "
                                         f"{period_changes.DETAIL_FILE}", max_rows=SHOWN_ROWS)]

