"""A framework stratum's size is counted once per population (``ControlTest.scope_counts``).

Held to the definition it replaces (the items whose ``scope`` text names the framework, counted
over the population each time), on hand-made and hypothesis-generated populations; a procedure
whose population is a new frame is counted again, never answered from the old one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.procedures.base import ControlTest

SCOPES = ["SOX", "SOC 2", "SOX + SOC 2", "out of scope"]


@dataclass
class FixedPopulation(ControlTest):
    """A procedure with only a population (nothing else is asked of it here)."""

    frame: pd.DataFrame | None = None
    asked: int = 0

    def population(self) -> pd.DataFrame:
        self.asked += 1
        return self.frame


def procedure(scopes: list[str | None]) -> FixedPopulation:
    frame = pd.DataFrame({"item_key": [f"k{i}" for i in range(len(scopes))],
                          "scope": pd.array(scopes, dtype="string")})
    return FixedPopulation(None, None, None, frame=frame)


def counted_each_time(frame: pd.DataFrame, framework: str) -> int:
    """The size as it was worked out before: a text search of the population's scopes per question."""
    return int(frame["scope"].str.contains(framework, regex=False).sum())


@settings(max_examples=100, deadline=None)
@given(scopes=st.lists(st.one_of(st.none(), st.sampled_from(SCOPES)), max_size=30))
def test_the_size_is_the_number_of_items_whose_scope_names_the_framework(scopes):
    test = procedure(scopes)
    for framework in ("SOX", "SOC 2", "SOC", "ISO 27001"):
        assert test.stratum_size(framework) == counted_each_time(test.frame, framework)


def test_did_not_operate_names_the_empty_strata():
    assert procedure(["SOX", "SOX", "out of scope"]).stratum_size("SOC 2") == 0
    assert procedure([]).stratum_size("SOX") == 0


def test_a_new_population_frame_is_counted_again():
    test = procedure(["SOX", "SOX + SOC 2"])
    assert (test.stratum_size("SOX"), test.stratum_size("SOC 2")) == (2, 1)
    test.frame = pd.DataFrame({"item_key": ["a"], "scope": ["SOC 2"]})
    assert (test.stratum_size("SOX"), test.stratum_size("SOC 2")) == (0, 1)


def test_the_same_population_is_counted_once():
    test = procedure(["SOX", "SOX + SOC 2", "SOC 2"])
    first = test.scope_counts()
    for _ in range(5):
        test.stratum_size("SOX")
    assert test.scope_counts() is first and first == {"SOX": 1, "SOX + SOC 2": 1, "SOC 2": 1}
