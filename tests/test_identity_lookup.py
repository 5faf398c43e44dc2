"""A rule's keys looked up in its index by one Arrow hash look-up (``identity.Directory.lookup``).

Held to pandas' ``Series.map`` against the index (what it was before) on hand-made and
hypothesis-generated keys: keys of one worker, keys several workers share, unknown keys, missing
keys, non-ASCII keys, an empty index, a repeated index on the keys; same values, same ``string``
dtype, same index.
"""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import identity

KEYS = ["priya", "marcus", "sam", "sam.p", "zoë", "ghost", "", "Sam"]


def index_of(pairs: list[tuple[str, str]]) -> identity.KeyIndex:
    keys = pd.Series([k for k, _ in pairs], dtype="string")
    return identity.KeyIndex.build(keys, pd.Series([p for _, p in pairs], dtype="string"))


def by_map(index: identity.KeyIndex, keys: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The look-up as it was: ``Series.map`` against the index's Series."""
    return keys.map(index.unique_series).astype("string"), keys.map(index.shared_series).astype("string")


def test_unique_shared_unknown_and_missing_keys():
    index = index_of([("priya", "p@x"), ("sam", "s1@x"), ("sam", "s2@x"), ("zoë", "z@x")])
    keys = pd.Series(["priya", "sam", "ghost", None, "zoë"], dtype="string", index=[3, 3, 1, 0, 9])
    found, shared = identity.Directory({"email": index}).lookup("email", keys)
    assert found.tolist() == ["p@x", pd.NA, pd.NA, pd.NA, "z@x"]
    assert shared.tolist() == [pd.NA, "s1@x, s2@x", pd.NA, pd.NA, pd.NA]
    for new, old in zip((found, shared), by_map(index, keys)):
        pd.testing.assert_series_equal(new, old)


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(["a@x", "b@x", "c@x"])), max_size=8),
       keys=st.lists(st.one_of(st.none(), st.sampled_from(KEYS)), max_size=12),
       storage=st.sampled_from(["string", "str", "object"]))
def test_the_look_up_gives_what_series_map_gives(pairs, keys, storage):
    index = index_of(pairs)
    column = pd.Series(pd.array(keys, dtype=storage))
    found, shared = identity.Directory({"email": index}).lookup("email", column)
    expected_found, expected_shared = by_map(index, column)
    pd.testing.assert_series_equal(found, expected_found)
    pd.testing.assert_series_equal(shared, expected_shared)


def test_a_row_ambiguous_by_one_rule_and_matched_by_a_later_one_keeps_no_candidates():
    workers = pd.DataFrame({"employee_id": ["1", "2"], "email": ["sam.patel@kf.example", "sam.patel@kf-labs.example"],
                            "full_name": ["Sam Patel", "Samuel Patel"]})
    directory = identity.build_directory(workers)
    frame = pd.DataFrame({"login": ["sam.patel", "sam.patel", "nobody"], "name": ["Samuel Patel", "Someone", None]},
                         dtype="string")
    resolved = identity.resolve_keys(directory, frame, ("email_local_part", "display_name"), logins=("login",),
                                     names=("name",))
    assert resolved["person"].tolist() == ["sam.patel@kf-labs.example", pd.NA, pd.NA]
    assert resolved["match_rule"].tolist() == ["display_name", "ambiguous", "unmatched"]
    assert resolved["candidates"].tolist() == [pd.NA, "sam.patel@kf-labs.example, sam.patel@kf.example", pd.NA]
    assert all(str(dtype) == "string" for dtype in resolved.dtypes)


# --- keys folded in Arrow (identity._folded) ------------------------------------------------------

FOLDING = "aZ09 .@_-\t\r\n\x0b\x0c\x1c\x1f\x85\xa0\u2003\u3000ßẞİıﬁΣσςÉé😀"


def folded_by_pandas(values: pd.Series) -> pd.Series:
    """The folding as it was: pandas' strip and casefold, then blanks as NA."""
    text = values.astype("string").str.strip().str.casefold()
    return text.where(text != "")


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.text(alphabet=FOLDING, max_size=8)), max_size=12),
       storage=st.sampled_from(["string", "str", "object"]), name=st.sampled_from([None, "login"]))
def test_keys_are_folded_as_pandas_strip_and_casefold_fold_them(values, storage, name):
    column = pd.Series(pd.array(values, dtype=storage), name=name, index=[7 * i for i in range(len(values))])
    pd.testing.assert_series_equal(identity._folded(column), folded_by_pandas(column))
    pd.testing.assert_series_equal(identity._folded_distinct(column), folded_by_pandas(column))


def test_whole_numbers_are_folded_as_their_text():
    column = pd.Series([1001, 1002], dtype="int64")
    pd.testing.assert_series_equal(identity._folded(column), folded_by_pandas(column))


# --- a rule's index built in one pass (identity.KeyIndex.build) -------------------------------------

def built_by_pandas(keys: pd.Series, people: pd.Series) -> tuple[dict, dict]:
    """The index as pandas' de-duplication and grouping built it before."""
    pairs = pd.DataFrame({"key": keys.astype("string").to_numpy(), "person": people.astype("string").to_numpy()})
    pairs = pairs.dropna().drop_duplicates()
    once = pairs.drop_duplicates("key", keep=False)
    many = pairs[pairs["key"].duplicated(keep=False)]
    shared = {key: tuple(sorted(group)) for key, group in many.groupby("key", sort=True)["person"]}
    return dict(zip(once["key"].to_numpy(dtype=object), once["person"].to_numpy(dtype=object))), shared


@settings(max_examples=200, deadline=None)
@given(pairs=st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(KEYS)),
                                st.one_of(st.none(), st.sampled_from(["a@x", "b@x", "c@x", "é@x"]))), max_size=15),
       storage=st.sampled_from(["string", "str", "object"]))
def test_the_index_is_what_pandas_de_duplication_and_grouping_built(pairs, storage):
    keys = pd.Series(pd.array([k for k, _ in pairs], dtype=storage))
    people = pd.Series(pd.array([p for _, p in pairs], dtype="string"), index=range(100, 100 + len(pairs)))
    index = identity.KeyIndex.build(keys, people)
    unique, shared = built_by_pandas(keys, people)
    assert index.unique == unique and list(index.unique) == list(unique)
    assert index.shared == shared and list(index.shared) == list(shared)
