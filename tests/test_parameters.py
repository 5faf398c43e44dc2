"""The period parameter file: valid files load; every kind of mistake names the file, key and line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from workbench import cli
from workbench.parameters import ParameterError, load_period, resolve_source_paths
from workbench.runner import prepare_run

DEMO = ROOT / "parameters" / "demo-2026-Q3.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "period.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _mutated(tmp_path: Path, old: str, new: str) -> Path:
    text = DEMO.read_text(encoding="utf-8")
    assert old in text, f"test set-up: '{old}' not in the demo parameter file"
    return _write(tmp_path, text.replace(old, new, 1))


def _problems(path: Path) -> list[str]:
    with pytest.raises(ParameterError) as caught:
        load_period(path)
    assert str(path) in str(caught.value)
    return caught.value.problems


def test_demo_parameter_file_is_valid():
    params = load_period(DEMO)
    assert params.period.id == "2026-Q3"
    assert [c.id for c in params.controls] == ["UAR-01", "PROV-01", "TERM-01", "PRIV-01", "SOD-CTL-01", "AUTH-01",
                                               "CHG-01", "OPS-01"]
    assert params.controls[0].frameworks.soc2 == ["CC6.2", "CC6.3"]
    assert params.controls[0].frameworks.sox.itgc_domain == "access_to_programs_and_data"


def test_misspelt_key_is_named_with_its_line(tmp_path):
    path = _mutated(tmp_path, "    frequency: quarterly", "    frequncy: quarterly")
    problems = _problems(path)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "frequncy" in text)
    assert any(f"line {line}, controls[0].frequncy: is not a known key" in p for p in problems), problems
    assert any("controls[0].frequency: is required but missing" in p for p in problems), problems


def test_wrong_value_names_the_key_path(tmp_path):
    problems = _problems(_mutated(tmp_path, "confidence: 0.95", "confidence: 1.5"))
    assert any("controls[0].sampling.confidence" in p for p in problems), problems


def test_period_start_after_end_is_refused(tmp_path):
    problems = _problems(_mutated(tmp_path, "start: 2026-07-01", "start: 2026-10-01"))
    assert any("period" in p and "after period end" in p for p in problems), problems


def test_unknown_soc2_criterion_is_refused(tmp_path):
    problems = _problems(_mutated(tmp_path, "soc2: [CC6.2, CC6.3]", "soc2: [CC6.2, CC66]"))
    assert any("CC66" in p and "controls[0].frameworks.soc2" in p for p in problems), problems


def test_unknown_system_reference_is_refused(tmp_path):
    problems = _problems(_mutated(tmp_path, "systems: [ledgerline_erp, aws_prod, github]",
                                  "systems: [ledgerline_erp, aws_prod, gitlab]"))
    assert any("controls[0].systems: unknown system 'gitlab'" in p for p in problems), problems


def test_unknown_source_reference_is_refused(tmp_path):
    problems = _problems(_mutated(tmp_path, "review_campaign: uar_campaign", "review_campaign: uar_campaing"))
    assert any("controls[0].sources.review_campaign: unknown source 'uar_campaing'" in p for p in problems), problems


def test_expected_rate_not_below_tolerable_is_refused(tmp_path):
    problems = _problems(_mutated(tmp_path, "expected_rate: 0.0", "expected_rate: 0.05"))
    assert any("expected_rate must be below tolerable_rate" in p for p in problems), problems


def test_expected_deviations_is_read_and_excludes_a_non_zero_expected_rate(tmp_path):
    params = load_period(_mutated(tmp_path, "expected_rate: 0.0", "expected_rate: 0.0\n      expected_deviations: 2"))
    assert params.controls[0].sampling.expected_deviations == 2
    assert load_period(DEMO).controls[0].sampling.expected_deviations is None
    problems = _problems(_mutated(tmp_path, "expected_rate: 0.0", "expected_rate: 0.01\n      expected_deviations: 2"))
    assert any("controls[0].sampling" in p and "expected_rate or expected_deviations, not both" in p
               for p in problems), problems
    for bad in ("-1", "1.5", "true"):
        problems = _problems(_mutated(tmp_path, "expected_rate: 0.0", f"expected_rate: 0.0\n      expected_deviations: {bad}"))
        assert any("expected_deviations" in p for p in problems), (bad, problems)


def test_extraction_time_without_zone_is_refused(tmp_path):
    problems = _problems(_mutated(tmp_path, "extracted_at: 2026-10-01T06:00:00Z", "extracted_at: 2026-10-01T06:00:00"))
    assert any("sources[0].extracted_at" in p and "time zone" in p for p in problems), problems


def test_yaml_tags_cannot_smuggle_objects(tmp_path):
    problems = _problems(_mutated(tmp_path, "preparer: Avery Quinn, Senior IT Auditor", "preparer: !!set {a, b}"))
    assert any("plain" in p for p in problems), problems
    problems = _problems(_mutated(tmp_path, "preparer: Avery Quinn, Senior IT Auditor",
                                  "preparer: !!python/object/apply:os.system ['true']"))
    assert any("not valid YAML" in p for p in problems), problems


def test_broken_yaml_names_the_line(tmp_path):
    problems = _problems(_write(tmp_path, "entity: x\nperiod: [unclosed\n"))
    assert any(p.startswith("line ") and "not valid YAML" in p for p in problems), problems


def test_missing_file_and_non_mapping(tmp_path):
    assert _problems(tmp_path / "nope.yaml") == ["the period file does not exist"]
    assert "YAML mapping" in _problems(_write(tmp_path, "- just\n- a list\n"))[0]


def test_missing_source_file_is_named(tmp_path):
    path = _mutated(tmp_path, "path: ../data/demo/2026-Q3/hr/workday_workers.csv", "path: missing/workers.csv")
    params = load_period(path)
    with pytest.raises(ParameterError) as caught:
        resolve_source_paths(params, path)
    assert "sources[0] (hr_workers).path: file not found" in str(caught.value)


def test_misspelt_procedure_setting_is_refused_before_anything_is_written(tmp_path):
    path = _mutated(tmp_path, "launch_within_days: 5", "launch_within_dayz: 5")
    out = tmp_path / "outputs"
    with pytest.raises(ParameterError) as caught:
        prepare_run(path, out)
    assert "controls[0].settings.launch_within_dayz: is not a known setting" in str(caught.value)
    assert not out.exists(), "a refused parameter file must not create a run folder"


def test_cli_reports_bad_parameters_with_exit_code_2(tmp_path, capsys):
    path = _mutated(tmp_path, "    owner: Chief Information Security Officer\n", "")
    code = cli.main(["run", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert str(path) in err and "controls[0].owner: is required but missing" in err
    assert not (tmp_path / "out").exists()


def test_every_demo_key_is_plain_yaml():
    """The demo file is the model users copy: it must load with safe_load alone."""
    assert isinstance(yaml.safe_load(DEMO.read_text()), dict)


def test_snapshot_moment_is_read_and_defaults_to_the_extraction_time(tmp_path):
    first = "extracted_at: 2026-10-01T06:00:00Z"
    params = load_period(_mutated(tmp_path, first, first + "\n    as_of: 2026-09-30T23:59:00Z"))
    assert params.sources[0].moment.isoformat() == "2026-09-30T23:59:00+00:00"
    assert params.sources[1].as_of is None
    assert params.sources[1].moment == params.sources[1].extracted_at


def test_snapshot_after_its_extraction_or_without_zone_is_refused(tmp_path):
    first = "extracted_at: 2026-10-01T06:00:00Z"
    later = _problems(_mutated(tmp_path, first, first + "\n    as_of: 2026-10-02T00:00:00Z"))
    assert any("sources[0]" in p and "after extracted_at" in p for p in later), later
    naive = _problems(_mutated(tmp_path, first, first + "\n    as_of: 2026-09-30T00:00:00"))
    assert any("sources[0].as_of" in p and "time zone" in p for p in naive), naive
