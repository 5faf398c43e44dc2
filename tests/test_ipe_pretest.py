"""The control-character check's whole-column pre-test (``ipe.may_hold_control_character``).

The check searches a column value by value only when one pass over the whole column says it may
hold a control character. These tests hold the pre-test to the definition (a C0 control character
other than tab, CR, LF, or DEL, anywhere in any text value), on hand-made and hypothesis-generated
columns of every text storage the readers produce (Arrow-backed ``string``, Python ``string``,
``object`` with non-text values among the text), and hold the check's issues to those of the
value-by-value search alone (the check before the pre-test).
"""

from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import ipe

CONTROL = "\x00\x01\x07\x08\x0b\x0c\x0e\x1b\x1f\x7f"
HARMLESS = "ab Z\t\r\né€😀\x80\x9f\xa0"  # tab, CR, LF and C1 / non-ASCII characters are not control characters
DEFINITION = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

texts = st.lists(st.one_of(st.none(), st.text(alphabet=CONTROL + HARMLESS, max_size=6),
                           st.text(alphabet=HARMLESS, max_size=6)), max_size=12)


def as_storage(values: list[str | None], storage: str) -> pd.Series:
    """The values as a column of one of the readers' text storages."""
    if storage == "object":
        return pd.Series([3 if v == "" else v for v in values], dtype=object)  # a non-text value among the text
    return pd.Series(pd.array(values, dtype=pd.StringDtype(storage=storage)))


def holds_one(values: list[str | None]) -> bool:
    return any(isinstance(v, str) and DEFINITION.search(v) for v in values)


def search_value_by_value(source: ipe.SourceData) -> list[ipe.Issue]:
    """The check without the pre-test: every text column searched value by value (the code before it)."""
    issues = []
    for column in ipe._text_columns(source.frame):
        values = source.frame[column]
        if values.dtype == object:
            values = values.map(lambda v: v if isinstance(v, str) else None).astype("string")
        hit = values.str.contains(ipe._CONTROL_CHARACTERS, regex=True).fillna(False).astype(bool)
        for line, value in zip(source.frame.loc[hit, "line"], values[hit]):
            shown = ipe._CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))[:80]
            issues.append(ipe.Issue(
                "ipe_control_characters", source.source_id, source.file_name, f"line {line}",
                f"{source.source_id}|{column}|{line}",
                f"The {column} value on line {line} of {source.file_name} holds a control character: '{shown}'.",
                f"{source.file_name}, line {line}, column {column}"))
    return ipe._capped(ipe._sorted_by_line(issues), source, "ipe_control_characters", "cells with control characters")


@pytest.mark.parametrize("storage", ["pyarrow", "python", "object"])
@pytest.mark.parametrize("character", list(CONTROL))
def test_one_control_character_anywhere_in_a_column_is_found(storage, character):
    for position in range(3):
        values = ["plain", "text", "é😀"]
        values[position] = values[position][:1] + character + values[position][1:]
        assert ipe.may_hold_control_character(as_storage(values, storage))


@pytest.mark.parametrize("storage", ["pyarrow", "python", "object"])
def test_tab_cr_lf_and_other_characters_are_not_control_characters(storage):
    assert not ipe.may_hold_control_character(as_storage(["a\tb", "line\r\nbreak", None, HARMLESS], storage))
    assert not ipe.may_hold_control_character(as_storage([], storage))


def test_an_arrow_slice_is_judged_on_its_own_values_not_its_shared_buffer():
    full = pa.chunked_array([pa.array(["bad\x07", "fine", "also fine"], pa.large_string())])
    sliced = pd.Series(pd.arrays.ArrowStringArray(full.slice(1)))
    assert not ipe.may_hold_control_character(sliced)
    assert ipe.may_hold_control_character(pd.Series(pd.arrays.ArrowStringArray(full.slice(0, 1))))


def test_a_list_in_an_object_column_is_not_text():
    assert not ipe.may_hold_control_character(pd.Series([["a\x00"], "plain"], dtype=object))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=texts, storage=st.sampled_from(["pyarrow", "python", "object"]))
def test_the_pre_test_says_yes_exactly_when_a_value_holds_a_control_character(values, storage):
    column = as_storage(values, storage)
    expected = holds_one([v for v in column.to_numpy(dtype=object) if isinstance(v, str)])
    assert ipe.may_hold_control_character(column) == expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=texts, second=texts, storages=st.tuples(*[st.sampled_from(["pyarrow", "python", "object"])] * 2))
def test_the_check_reports_exactly_the_issues_of_the_value_by_value_search(first, second, storages):
    rows = max(len(first), len(second))
    frame = pd.DataFrame({"name": as_storage((first + [None] * rows)[:rows], storages[0]),
                          "department": as_storage((second + ["x"] * rows)[:rows], storages[1])})
    source = ipe.SourceData("src", "export.csv", "identities", frame.assign(line=range(2, rows + 2)))
    assert ipe.control_characters(source) == search_value_by_value(source)


def test_beyond_the_listed_issues_the_rest_are_counted_as_before(monkeypatch):
    monkeypatch.setattr(ipe, "MAX_LISTED", 2)
    frame = pd.DataFrame({"name": pd.array(["a\x01", "b", "c\x02", "d\x7f", "e\x00"], dtype="string")})
    source = ipe.SourceData("src", "export.csv", "identities", frame.assign(line=range(2, 7)))
    found = ipe.control_characters(source)
    assert found == search_value_by_value(source) and len(found) == 3 and "2 more" in found[-1].description


# --- impossible sequences: nothing built for an export without one ----------------------------------

def test_rows_of_an_empty_selection_are_none_and_of_another_its_rows():
    frame = pd.DataFrame({"employee_id": ["1", "2"], "line": [2, 3]})
    assert list(ipe._rows(frame.iloc[0:0])) == []
    assert list(ipe._rows(frame)) == list(frame.itertuples())


@settings(max_examples=60, deadline=None)
@given(days=st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 9)), st.one_of(st.none(), st.integers(0, 9))),
                     max_size=8))
def test_terminations_before_hire_are_found_as_by_a_plain_comparison(days):
    base = pd.Timestamp("2026-01-01")
    frame = pd.DataFrame({
        "employee_id": [f"E{i}" for i in range(len(days))],
        "hire_date": pd.Series([None if h is None else base + pd.Timedelta(days=h) for h, _ in days], dtype="datetime64[ns]"),
        "termination_date": pd.Series([None if t is None else base + pd.Timedelta(days=t) for _, t in days],
                                      dtype="datetime64[ns]")})
    source = ipe.SourceData("src", "hr.csv", "identities", frame.assign(line=range(2, len(days) + 2)))
    expected = [f"E{i}" for i, (h, t) in enumerate(days) if h is not None and t is not None and t < h]
    assert [issue.subject for issue in ipe._impossible_sequences(source)] == expected
