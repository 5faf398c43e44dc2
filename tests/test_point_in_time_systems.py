"""The termination test's point-in-time systems (``TerminationTest.point_in_time_systems``): those of
the control whose listings carry no grant date on any row, or that a credential report lists.
Held to the per-system definition (every row of the system undated) on hand-made and
hypothesis-generated listings, worked out once."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.procedures.termination import TerminationTest

SYSTEMS = ["erp", "github", "aws", "okta"]


def termination(listings: pd.DataFrame, report_systems: list[str], control_systems: list[str]) -> TerminationTest:
    test = TerminationTest(None, SimpleNamespace(systems=control_systems), None)
    test.__dict__["listings"] = listings
    test.__dict__["credential_report"] = pd.DataFrame({"system": pd.array(report_systems, dtype="string")})
    return test


def by_system(listings: pd.DataFrame, report_systems: list[str], control_systems: list[str]) -> list[str]:
    """The definition, system by system."""
    undated = {s for s, g in listings.groupby("system") if g["granted_at"].isna().all()}
    return sorted((undated | set(report_systems)) & set(control_systems))


def test_a_system_with_one_dated_row_is_not_point_in_time():
    listings = pd.DataFrame({"system": ["erp", "erp", "github", None],
                             "granted_at": pd.to_datetime([None, "2026-07-01", None, None], utc=True)})
    test = termination(listings, ["aws"], ["erp", "github", "aws"])
    assert test.point_in_time_systems == ["aws", "github"]
    assert test.point_in_time_systems is test.point_in_time_systems   # worked out once


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(SYSTEMS)), st.booleans()), max_size=15),
       report=st.lists(st.sampled_from(SYSTEMS), max_size=3),
       control=st.lists(st.sampled_from(SYSTEMS), max_size=4, unique=True))
def test_the_point_in_time_systems_are_those_of_the_per_system_definition(rows, report, control):
    listings = pd.DataFrame({"system": pd.array([s for s, _ in rows], dtype="string"),
                             "granted_at": pd.to_datetime(["2026-07-01" if dated else None for _, dated in rows],
                                                          utc=True)})
    assert termination(listings, report, control).point_in_time_systems == by_system(listings, report, control)
