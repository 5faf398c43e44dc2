"""The exception register: stable ids, stable order, deduplication."""

from __future__ import annotations

import pytest

from workbench.exceptions import Finding, build_register, exception_id, read_register, write_register


def _finding(**changes) -> Finding:
    base = dict(rule="self_review", subject="ann.lee@harborlane.example", system="github",
                description="Ann reviewed her own access.", evidence_reference="uar.csv line 4",
                severity="high", detail_key="github|owner", frameworks=("SOC 2",))
    return Finding(**(base | changes))


def test_id_is_stable_and_ignores_wording_and_evidence_row():
    a = exception_id("2026-Q3", "UAR-01", _finding())
    b = exception_id("2026-Q3", "UAR-01", _finding(description="Reworded.", evidence_reference="uar.csv line 99"))
    assert a == b
    assert a.startswith("EX-UAR01-") and len(a) == len("EX-UAR01-") + 10


@pytest.mark.parametrize("change", [
    {"subject": "bob@harborlane.example"}, {"rule": "undecided_review_line"}, {"system": "aws_prod"},
    {"detail_key": "github|member"},
])
def test_id_changes_with_what_identifies_the_finding(change):
    assert exception_id("2026-Q3", "UAR-01", _finding()) != exception_id("2026-Q3", "UAR-01", _finding(**change))


def test_id_depends_on_period_and_control():
    base = exception_id("2026-Q3", "UAR-01", _finding())
    assert base != exception_id("2026-Q4", "UAR-01", _finding())
    assert base != exception_id("2026-Q3", "UAR-02", _finding())


def test_register_is_sorted_deduplicated_and_round_trips(tmp_path):
    findings = [_finding(subject="zed@x.example"), _finding(), _finding(description="duplicate of the second")]
    register = build_register("2026-Q3", "UAR-01", findings)
    assert list(register["subject"]) == ["ann.lee@harborlane.example", "zed@x.example"]
    assert register.loc[0, "description"] == "Ann reviewed her own access."
    assert register.loc[0, "framework"] == "SOC 2"
    path = write_register(register, tmp_path / "exceptions.csv")
    assert read_register(path).equals(register.astype(str))
    assert b"\r\n" not in path.read_bytes()


def test_unknown_severity_is_refused():
    with pytest.raises(ValueError, match="severity must be one of"):
        _finding(severity="catastrophic")
