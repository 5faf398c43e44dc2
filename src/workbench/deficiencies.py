"""SOX deficiency evaluation worksheet: the inputs the auditor weighs, and the classification they enter.

PCAOB AS 2201: a control deficiency is a significant deficiency when it merits the attention of those
overseeing financial reporting, and a material weakness when there is a reasonable possibility that
a material misstatement will not be prevented or detected on a timely basis. Severity depends on
likelihood and magnitude, on compensating controls that were themselves tested and are precise
enough, and is aggregated by application and control. That is the auditor's judgment: this module
lays out the evidence (deviations, upper limit against tolerable rate, exceptions by rule), checks
the auditor's inputs for consistency, and shows the classification they entered with its rationale.
It never decides the classification.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from workbench.parameters import read_keyed_records
from workbench.sampling import round_up_pct

LIKELIHOODS = ("remote", "reasonably_possible", "probable")
MAGNITUDES = ("inconsequential", "more_than_inconsequential", "material")
CLASSIFICATIONS = ("control_deficiency", "significant_deficiency", "material_weakness")


class DeficiencyError(ValueError):
    """A deficiency evaluation file that cannot be used, naming the file, control and key."""


class DeficiencyInputs(BaseModel):
    """The auditor's evaluation of one SOX control's deficiency."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    likelihood: Literal[LIKELIHOODS] | None = None  # type: ignore[valid-type]
    magnitude: Literal[MAGNITUDES] | None = None  # type: ignore[valid-type]
    compensating_controls: list[str] = Field(default_factory=list)
    compensating_precision: str | None = None
    classification: Literal[CLASSIFICATIONS] | None = None  # type: ignore[valid-type]
    rationale: str | None = None
    evaluated_by: str | None = None
    evaluated_on: dt.date | None = None


def evaluation_file_for(parameter_file: Path) -> Path:
    """Where the auditor's deficiency evaluations of a period live: beside its parameter file."""
    return parameter_file.with_name(f"{parameter_file.stem}.deficiencies.yaml")


def read_inputs(path: Path) -> dict[str, DeficiencyInputs]:
    """Read the evaluations (YAML: control id -> inputs); a missing file means none entered yet."""
    return read_keyed_records(path, DeficiencyInputs, "control id", DeficiencyError)


def _sox_effective(result: dict[str, Any]) -> bool | None:
    """A control's SOX result from its result.json (None when not mapped to SOX or not run)."""
    return result.get("effective", {}).get("SOX")


def consistency_flags(inputs: DeficiencyInputs | None, results: dict[str, dict[str, Any]]) -> list[str]:
    """What the reviewer should look at in the auditor's inputs (never a verdict on severity)."""
    if inputs is None:
        return ["No evaluation entered yet: likelihood, magnitude, compensating controls and classification pending."]
    flags = []
    for missing in ("likelihood", "magnitude", "classification", "rationale"):
        if getattr(inputs, missing) is None:
            flags.append(f"{missing.replace('_', ' ')} not entered")
    for control_id in inputs.compensating_controls:
        effective = _sox_effective(results.get(control_id, {}))
        if control_id not in results:
            flags.append(f"compensating control {control_id} was not tested in this period: it cannot be relied upon")
        elif effective is not True:
            flags.append(f"compensating control {control_id} was not found effective under SOX: it cannot be relied upon")
    if inputs.compensating_controls and not inputs.compensating_precision:
        flags.append("compensating controls named without evidence that they are precise enough")
    reasonable = inputs.likelihood in ("reasonably_possible", "probable")
    if reasonable and inputs.magnitude == "material" and inputs.classification not in (None, "material_weakness"):
        flags.append("likelihood and magnitude as entered describe a material weakness; document why the "
                     "classification is lower")
    if inputs.classification == "material_weakness" and (inputs.magnitude == "inconsequential"
                                                         or inputs.likelihood == "remote"):
        flags.append("a material weakness with remote likelihood or inconsequential magnitude: inputs and "
                     "classification disagree")
    return flags


def worksheet(results: dict[str, dict[str, Any]], titles: dict[str, str], register: pd.DataFrame,
              inputs: dict[str, DeficiencyInputs]) -> pd.DataFrame:
    """One row per SOX control that was not effective: evidence, the auditor's inputs, flags."""
    rows = []
    for control_id, result in sorted(results.items()):
        if _sox_effective(result) is not False:
            continue
        evaluation = result.get("evaluations", {}).get("SOX")
        sox_exceptions = register[(register["control_id"] == control_id)
                                  & register["framework"].str.contains("SOX", regex=False)]
        by_rule = sox_exceptions.groupby("rule").size()
        entered = inputs.get(control_id)
        rows.append({
            "control": control_id,
            "title": titles.get(control_id, ""),
            "applications": ", ".join(sorted(set(sox_exceptions["system"]) - {""})
                                      or result.get("systems", {}).get("SOX", [])),
            "sample deviations": (f"{evaluation['deviations']} of {evaluation['sample_size']}" if evaluation else "—"),
            # rounded up, as the workpaper shows it (sampling.round_up_pct): one figure everywhere
            "upper limit vs tolerable": (f"{round_up_pct(evaluation['upper_deviation_limit']):.1%} vs "
                                         f"{evaluation['tolerable_rate']:.1%}"
                                         if evaluation else "—"),
            "exceptions": ", ".join(f"{n} {rule.replace('_', ' ')}" for rule, n in by_rule.items()) or "—",
            "likelihood": (entered.likelihood or "").replace("_", " ") if entered else "",
            "magnitude": (entered.magnitude or "").replace("_", " ") if entered else "",
            "compensating controls": ", ".join(entered.compensating_controls) if entered else "",
            "classification (auditor)": ((entered.classification or "pending").replace("_", " ") if entered else "pending"),
            "rationale": (entered.rationale or "") if entered else "",
            "for the reviewer": "; ".join(consistency_flags(entered, results)),
        })
    return pd.DataFrame(rows)


def aggregation_by_application(table: pd.DataFrame) -> pd.DataFrame:
    """Deficient SOX controls per application, with the most severe classification entered so far."""
    if table.empty:
        return pd.DataFrame(columns=["application", "deficient controls", "controls", "most severe classification"])
    rank = {c.replace("_", " "): i for i, c in enumerate(CLASSIFICATIONS)}
    exploded = table.assign(application=table["applications"].str.split(", ")).explode("application")
    rows = []
    for application, group in exploded.groupby("application", sort=True):
        entered = [c for c in group["classification (auditor)"] if c in rank]
        rows.append({"application": application, "deficient controls": len(group),
                     "controls": ", ".join(group["control"]),
                     "most severe classification": max(entered, key=rank.get) if entered else "pending"})
    return pd.DataFrame(rows)
