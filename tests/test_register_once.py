"""A control's exception register is built once for its hits and sample (``ControlTest.register``).

On a hand-made procedure (its own findings, hits and sample): the register is what building it
from the findings gives, it is built once however often it is asked for, a caller's change to its
copy never reaches the next caller, and new hits or a new sample build it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import pandas as pd

from workbench import exceptions
from workbench.analytics import HIT_COLUMNS
from workbench.procedures.base import ControlTest


def finding(subject: str, rule: str = "orphan_account") -> exceptions.Finding:
    return exceptions.Finding(rule=rule, subject=subject, system="erp", description=f"{subject} has no owner.",
                              evidence_reference="roles.csv line 2", frameworks=("SOX",))


@dataclass
class HandMade(ControlTest):
    """A procedure whose findings are given; it counts how often they are worked out."""

    found: list = field(default_factory=list)
    built: int = 0

    def findings(self) -> list[exceptions.Finding]:
        self.built += 1
        return list(self.found)

    def run_analytics(self) -> pd.DataFrame:
        self.hits = pd.DataFrame(columns=HIT_COLUMNS)
        return self.hits

    def select_sample(self) -> pd.DataFrame:
        self.sample = pd.DataFrame({"item_key": ["a"], "deviation": [False]})
        return self.sample


def procedure(*subjects: str) -> HandMade:
    context = SimpleNamespace(parameters=SimpleNamespace(period=SimpleNamespace(id="2026-Q1")))
    test = HandMade(context, SimpleNamespace(id="TST-01"), None, found=[finding(s) for s in subjects])
    test.__dict__["ipe_acceptances"] = {}
    return test


def test_the_register_is_built_from_the_findings():
    test = procedure("bob", "alice")
    expected = exceptions.build_register("2026-Q1", "TST-01", test.found)
    pd.testing.assert_frame_equal(test.register(), expected)
    assert list(test.register()["subject"]) == ["alice", "bob"]


def test_asked_for_again_it_is_not_built_again():
    test = procedure("bob")
    first = test.register()
    for _ in range(4):
        pd.testing.assert_frame_equal(test.register(), first)
    assert test.built == 1


def test_a_callers_change_to_its_copy_does_not_reach_the_next_caller():
    test = procedure("bob")
    mine = test.register()
    mine.loc[0, "description"] = "changed"
    mine["extra"] = 1
    again = test.register()
    assert again.loc[0, "description"] == "bob has no owner." and "extra" not in again


def test_a_new_sample_or_new_hits_build_it_again():
    test = procedure("bob")
    test.register()
    test.found.append(finding("carol"))
    test.sample = pd.DataFrame({"item_key": ["b"], "deviation": [True]})
    assert list(test.register()["subject"]) == ["bob", "carol"] and test.built == 2
    test.found.append(finding("dave"))
    test.hits = pd.DataFrame(columns=HIT_COLUMNS)
    assert list(test.register()["subject"]) == ["bob", "carol", "dave"] and test.built == 3


# --- the conclusions, worked out once for the hits, sample and evaluations -------------------------

def concluding(*subjects: str) -> HandMade:
    """A hand-made procedure whose conclusions are counted each time they are worked out."""
    test = procedure(*subjects)
    test.evaluations = {"SOX": "evaluated"}
    test.__dict__["worked_out"] = 0

    def work_out():
        test.__dict__["worked_out"] += 1
        return [("SOX", f"{len(test.register())} exception(s)", ["sentence"], False)]

    test._conclusions = work_out
    return test


def test_the_conclusions_are_worked_out_once_and_each_caller_gets_its_own_lists():
    test = concluding("bob")
    first = test.conclusions()
    first[0][2].append("a caller's own sentence")
    assert test.conclusions() == [("SOX", "1 exception(s)", ["sentence"], False)]
    assert test.worked_out == 1


def test_new_evaluations_a_new_sample_or_new_hits_work_them_out_again():
    test = concluding("bob")
    test.conclusions()
    test.evaluations["SOC 2"] = "evaluated"
    test.conclusions()
    test.found.append(finding("carol"))
    test.sample = pd.DataFrame({"item_key": ["b"], "deviation": [True]})
    assert test.conclusions()[0][1] == "2 exception(s)"
    test.hits = pd.DataFrame(columns=HIT_COLUMNS)
    test.conclusions()
    assert test.worked_out == 4
