"""Small populations are ranked in this process (``hashlib``), large ones by DuckDB: the same items.

``sampling.IN_PROCESS_ITEMS`` decides which; these tests run every selection both ways on
hand-made and hypothesis-generated populations (text keys with non-ASCII characters, whole-number
keys, strata of uneven sizes, proportional and specified allocations) and require the same rows,
selection columns, digests, order and records, the same refusals in the same words, and digests
equal to the reference definition ``selection_hash``.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import sampling
from workbench.sampling import SamplingError

KEY_TEXT = st.text(alphabet="ab-_09éß€😀Z", min_size=1, max_size=8)


def both_ways(monkeypatch, action):
    """(what ``action()`` gives ranked in this process, what it gives ranked by DuckDB)."""
    with monkeypatch.context() as patch:
        patch.setattr(sampling, "IN_PROCESS_ITEMS", 10**9)
        here = action()
    with monkeypatch.context() as patch:
        patch.setattr(sampling, "IN_PROCESS_ITEMS", 0)
        there = action()
    return here, there


def outcome(action):
    """What an action gives, or the refusal it raises, as comparable values."""
    def run():
        try:
            sample, record = action()
        except SamplingError as refusal:
            return ("refused", str(refusal))
        return (sample.to_dict("list"), list(sample.columns), sample.attrs, record)
    return run


def population(keys: list, strata: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"key": keys, "scope": strata, "detail": [f"d{i}" for i in range(len(keys))]})


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), method=st.sampled_from(["random", "systematic", "stratified"]),
       seed=st.one_of(st.integers(0, 10**9), st.text(alphabet="seed-é", min_size=1, max_size=6)))
def test_each_method_selects_the_same_items_both_ways(monkeypatch, data, method, seed):
    keys = data.draw(st.one_of(st.lists(KEY_TEXT, min_size=1, max_size=40, unique=True),
                               st.lists(st.integers(-10**6, 10**6), min_size=1, max_size=40, unique=True)))
    strata = data.draw(st.lists(st.sampled_from(["SOX", "SOC 2", "SOX + SOC 2", "é"]), min_size=len(keys),
                                max_size=len(keys)))
    n = data.draw(st.integers(1, len(keys)))
    extra = {"strata": "scope"} if method == "stratified" else {}
    frame = population(keys, strata)
    here, there = both_ways(monkeypatch, outcome(lambda: sampling.select_with_record(
        frame, n, method=method, seed=seed, key="key", **extra)))
    assert here == there
    sample = here[0]
    prefix = [f"{s}|" for s in sample.get("selection_stratum", [""] * n)] if method == "stratified" else [""] * n
    assert sample["selection_hash"] == [sampling.selection_hash(seed, p + str(k))
                                        for p, k in zip(prefix, sample["key"])]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 12), min_size=1, max_size=4), data=st.data(), seed=st.integers(0, 99))
def test_a_specified_allocation_selects_the_same_items_both_ways(monkeypatch, sizes, data, seed):
    names = [f"S{i}" for i in range(len(sizes))]
    strata = [name for name, size in zip(names, sizes) for _ in range(size)]
    if not strata:
        return
    keys = [f"k{i}" for i in range(len(strata))]
    allocation = {name: data.draw(st.integers(0, size)) for name, size in zip(names, sizes) if size}
    n = sum(allocation.values())
    if n == 0:
        return
    frame = population(keys, strata)
    here, there = both_ways(monkeypatch, outcome(lambda: sampling.select_with_record(
        frame, n, method="stratified", seed=seed, key="key", strata="scope", allocation=allocation)))
    assert here == there


@pytest.mark.parametrize("keys", [["a", "b", "a", "c", "c", "c"], [1, 2, 2]])
def test_a_repeated_key_is_refused_in_the_same_words_both_ways(monkeypatch, keys):
    frame = population(keys, ["SOX"] * len(keys))
    for method in ("random", "systematic", "stratified"):
        extra = {"strata": "scope"} if method == "stratified" else {}
        here, there = both_ways(monkeypatch, outcome(lambda method=method, extra=extra: sampling.select_with_record(
            frame, 1, method=method, seed=1, key="key", **extra)))
        assert here == there and here[0] == "refused" and "duplicated" in here[1]
    refusals = both_ways(monkeypatch, outcome(lambda: (sampling.select_targeted(frame, [keys[0]], "key", "risk"), None)))
    assert refusals[0] == refusals[1] and refusals[0][0] == "refused"


def test_targeted_items_are_the_same_both_ways(monkeypatch):
    frame = population([f"k{i}" for i in range(30)], ["SOX"] * 30)
    here, there = both_ways(monkeypatch, outcome(lambda: (sampling.select_targeted(
        frame, ["k7", "k3", "k7"], "key", "hit of an analytic"), None)))
    assert here == there and here[0]["key"] == ["k7", "k3"]


def test_reselect_re_derives_a_sample_drawn_the_other_way(monkeypatch):
    frame = population([f"k{i}" for i in range(50)], ["SOX", "SOC 2"] * 25)
    with monkeypatch.context() as patch:
        patch.setattr(sampling, "IN_PROCESS_ITEMS", 0)
        sample, record = sampling.select_with_record(frame, 9, method="stratified", seed=3, key="key", strata="scope")
    pd.testing.assert_frame_equal(sampling.reselect(frame, record), sample)


def test_the_boundary_size_is_ranked_in_this_process(monkeypatch):
    opened = []
    monkeypatch.setattr(sampling, "_selection_connection", lambda: opened.append(1))
    monkeypatch.setattr(sampling, "IN_PROCESS_ITEMS", 25)
    sampling.select(population([f"k{i}" for i in range(25)], ["SOX"] * 25), 5, seed=1, key="key")
    assert not opened
    with pytest.raises(TypeError):  # one more item: DuckDB is asked for a connection (here, none)
        sampling.select(population([f"k{i}" for i in range(26)], ["SOX"] * 26), 5, seed=1, key="key")
    assert opened
