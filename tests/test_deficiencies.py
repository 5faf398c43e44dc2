"""SOX deficiency worksheet: evidence laid out, inputs checked, the auditor's classification shown."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.deficiencies import (
    DeficiencyError,
    DeficiencyInputs,
    aggregation_by_application,
    consistency_flags,
    read_inputs,
    worksheet,
)

RESULTS = {
    "UAR-01": {"effective": {"SOX": False, "SOC 2": False},
               "evaluations": {"SOX": {"sample_size": 59, "deviations": 4, "upper_deviation_limit": 0.153,
                                       "tolerable_rate": 0.05}},
               "systems": {"SOX": ["ledgerline_erp"]}},
    "PRV-01": {"effective": {"SOX": True}},
    "TRM-01": {"effective": {"SOX": False}, "systems": {"SOX": ["ledgerline_erp"]}},
    "SOC-ONLY": {"effective": {"SOC 2": False}},
}
REGISTER = pd.DataFrame({
    "control_id": ["UAR-01", "UAR-01", "UAR-01", "TRM-01"],
    "rule": ["self_review", "rubber_stamping", "undecided_review_line", "late_deprovisioning"],
    "system": ["ledgerline_erp", "ledgerline_erp", "github", "ledgerline_erp"],
    "framework": ["SOX", "SOX", "SOC 2", "SOX"],
})


def test_only_deficient_sox_controls_are_on_the_worksheet():
    table = worksheet(RESULTS, {"UAR-01": "Quarterly user access review"}, REGISTER, {})
    assert list(table["control"]) == ["TRM-01", "UAR-01"]
    uar = table.set_index("control").loc["UAR-01"]
    assert uar["sample deviations"] == "4 of 59" and uar["upper limit vs tolerable"] == "15.3% vs 5.0%"
    assert uar["exceptions"] == "1 rubber stamping, 1 self review"
    assert uar["applications"] == "ledgerline_erp"
    assert uar["classification (auditor)"] == "pending" and "No evaluation entered yet" in uar["for the reviewer"]


def test_compensating_controls_must_be_tested_and_effective():
    inputs = DeficiencyInputs(likelihood="remote", magnitude="more_than_inconsequential",
                              compensating_controls=["PRV-01", "TRM-01", "XYZ-9"], compensating_precision="daily",
                              classification="control_deficiency", rationale="r")
    flags = consistency_flags(inputs, RESULTS)
    assert not any("PRV-01" in f for f in flags)
    assert any("TRM-01 was not found effective" in f for f in flags)
    assert any("XYZ-9 was not tested in this period" in f for f in flags)


def test_inputs_that_describe_a_material_weakness_need_a_reason_for_a_lower_classification():
    inputs = DeficiencyInputs(likelihood="reasonably_possible", magnitude="material",
                              classification="significant_deficiency", rationale="r")
    assert any("describe a material weakness" in f for f in consistency_flags(inputs, RESULTS))
    agreed = DeficiencyInputs(likelihood="reasonably_possible", magnitude="material",
                              classification="material_weakness", rationale="r")
    assert consistency_flags(agreed, RESULTS) == []


def test_aggregation_by_application_takes_the_most_severe_entered():
    inputs = {"UAR-01": DeficiencyInputs(classification="significant_deficiency"),
              "TRM-01": DeficiencyInputs(classification="control_deficiency")}
    table = aggregation_by_application(worksheet(RESULTS, {}, REGISTER, inputs))
    row = table.set_index("application").loc["ledgerline_erp"]
    assert row["deficient controls"] == 2 and row["most severe classification"] == "significant deficiency"


def test_input_file_errors_name_control_and_key(tmp_path):
    path = tmp_path / "p.deficiencies.yaml"
    path.write_text("UAR-01:\n  likelihood: likely\n  magnitud: material\n")
    with pytest.raises(DeficiencyError) as caught:
        read_inputs(path)
    assert "UAR-01, likelihood" in str(caught.value) and "UAR-01, magnitud: is not a known key" in str(caught.value)
    assert read_inputs(tmp_path / "missing.yaml") == {}


def test_the_worksheet_rounds_the_upper_limit_up_as_the_workpaper_does():
    """0.12631 is 12.7% in the workpaper (rounded up, as published tables do); the worksheet must not say 12.6%."""
    results = {"UAR-01": {**RESULTS["UAR-01"], "evaluations": {"SOX": {
        **RESULTS["UAR-01"]["evaluations"]["SOX"], "upper_deviation_limit": 0.12631}}}}
    table = worksheet(results, {}, REGISTER, {}).set_index("control")
    assert table.loc["UAR-01", "upper limit vs tolerable"] == "12.7% vs 5.0%"
