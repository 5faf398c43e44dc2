"""Selections share one in-memory DuckDB database per process (``sampling._selection_connection``).

Every test here ranks in DuckDB (``IN_PROCESS_ITEMS`` set to 0: the populations are small). Each selection works on a cursor of its own; these tests hold that to the same items, digests and
records as a database opened for the selection alone (random, systematic, stratified, targeted,
and a duplicated key refused as before), show that nothing one selection registers is seen by the
next or by a selection running at the same time in another thread, and that a forked process
opens a database of its own.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import sampling
from workbench.sampling import SamplingError


@pytest.fixture(autouse=True)
def ranked_in_duckdb(monkeypatch):
    monkeypatch.setattr(sampling, "IN_PROCESS_ITEMS", 0)


def accounts(count: int, offset: int = 0) -> pd.DataFrame:
    """A hand-made population: accounts in two scope strata."""
    return pd.DataFrame({"account": [f"acct-{offset + i:05d}" for i in range(count)],
                         "scope": ["SOX + SOC 2" if i % 3 else "SOC 2" for i in range(count)]})


def own_database(monkeypatch) -> None:
    """Every selection on a database opened for it alone (how selections ran before the shared one)."""
    monkeypatch.setattr(sampling, "_selection_connection", lambda: duckdb.connect())


def draws(population: pd.DataFrame, seed: int) -> list:
    """Every kind of selection of the population, with its record."""
    found = []
    for method, extra in (("random", {}), ("systematic", {}),
                          ("stratified", {"strata": "scope"})):
        sample, record = sampling.select_with_record(population, min(7, len(population)), method=method, seed=seed,
                                                     key="account", **extra)
        found.append((sample.to_dict("list"), record))
    targeted = sampling.select_targeted(population, list(population["account"][::5]), key="account", reason="risk")
    return [*found, targeted.to_dict("list")]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(count=st.integers(min_value=1, max_value=60), seed=st.integers(min_value=0, max_value=10**6))
def test_a_shared_database_selects_exactly_what_a_database_of_its_own_selects(monkeypatch, count, seed):
    population = accounts(count)
    shared = draws(population, seed)
    with monkeypatch.context() as patch:
        own_database(patch)
        alone = draws(population, seed)
    assert shared == alone


def test_a_duplicated_key_is_refused_with_the_same_words(monkeypatch):
    population = pd.concat([accounts(5), accounts(2)], ignore_index=True)
    with pytest.raises(SamplingError) as shared:
        sampling.select(population, 2, seed=1, key="account")
    with monkeypatch.context() as patch:
        own_database(patch)
        with pytest.raises(SamplingError) as alone:
            sampling.select(population, 2, seed=1, key="account")
    assert str(shared.value) == str(alone.value) and "duplicated" in str(shared.value)


def test_nothing_a_selection_registers_outlives_it():
    sampling.select(accounts(20), 3, seed=5, key="account")
    with sampling._selection_connection() as connection:
        names = {row[0] for row in connection.sql("SELECT table_name FROM information_schema.tables").fetchall()}
    assert not names & {"items", "quotas", "wanted"}


def test_selections_in_threads_at_once_give_what_they_give_one_after_another():
    populations = [accounts(40 + i, offset=1000 * i) for i in range(8)]

    def one(population: pd.DataFrame) -> tuple:
        sample, record = sampling.select_with_record(population, 9, method="stratified", seed=42, key="account",
                                                     strata="scope")
        return tuple(sample["account"]), record

    alone = [one(population) for population in populations]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(one, populations * 3))
    assert together == alone * 3


def test_a_forked_process_opens_a_database_of_its_own(monkeypatch):
    sampling.select(accounts(10), 2, seed=1, key="account")
    first = sampling._SELECTION_DATABASE
    monkeypatch.setattr(sampling.os, "getpid", lambda: first[0] + 1)
    sampling.select(accounts(10), 2, seed=1, key="account")
    assert sampling._SELECTION_DATABASE[1] is not first[1] and sampling._SELECTION_DATABASE[0] == first[0] + 1
