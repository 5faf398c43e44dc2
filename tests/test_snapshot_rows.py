"""Which rows of a listing are its own snapshot's (``base._rows_of_own_snapshots``), and the systems
a listing names (``base._systems_listed``), held to their row-by-row definitions on hand-made and
hypothesis-generated listings of each text storage, rows without a system among them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.procedures import base

SYSTEMS = ["erp", "aws", "github", "okta"]


def row_by_row(systems: pd.Series, kind: str, source_id: str, chosen: dict) -> np.ndarray:
    """The definition: a row is kept unless its system's chosen snapshot of this kind is another source."""
    return np.array([chosen.get((kind, x)) in (source_id, None) for x in systems], dtype=bool)


def test_rows_of_a_system_chosen_from_another_listing_are_dropped():
    systems = pd.Series(["erp", "aws", None, "erp", "github"], dtype="string")
    chosen = {("app_roles", "erp"): "later", ("app_roles", "aws"): "mine", ("iam", "github"): "other"}
    kept = base._rows_of_own_snapshots(systems, "app_roles", "mine", chosen)
    assert kept.tolist() == [False, True, True, False, True]


@settings(max_examples=200, deadline=None)
@given(systems=st.lists(st.one_of(st.none(), st.sampled_from(SYSTEMS)), max_size=20),
       chosen=st.dictionaries(st.tuples(st.sampled_from(["app_roles", "iam"]), st.sampled_from(SYSTEMS)),
                              st.sampled_from(["mine", "other", "later"]), max_size=6),
       storage=st.sampled_from(["string", "str", "object"]))
def test_the_rows_kept_are_those_the_row_by_row_definition_keeps(systems, chosen, storage):
    column = pd.Series(pd.array(systems, dtype=storage))
    assert base._rows_of_own_snapshots(column, "app_roles", "mine", chosen).tolist() == \
        row_by_row(column, "app_roles", "mine", chosen).tolist()


@settings(max_examples=100, deadline=None)
@given(systems=st.lists(st.one_of(st.none(), st.sampled_from(SYSTEMS)), max_size=20),
       storage=st.sampled_from(["string", "str", "object"]))
def test_the_systems_listed_are_the_distinct_systems_sorted(systems, storage):
    population = SimpleNamespace(frame=pd.DataFrame({"system": pd.array(systems, dtype=storage)}))
    assert base._systems_listed(population) == sorted({s for s in systems if s is not None})
    assert base._systems_listed(SimpleNamespace(frame=pd.DataFrame({"login": ["a"]}))) == []
