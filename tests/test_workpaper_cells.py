"""A workpaper table's cells, worked out column by column (``workpapers._in_words``).

Held to what the frame-wide pandas operations gave before (copy, a ``map`` per column, then
``astype(object)`` and ``where(notna, "")``), on hand-made frames of every kind of column a
procedure shows (text of each storage, dates with and without a time zone, booleans with and
without NA, whole and decimal numbers with and without NA, lists in an object column, dates
written as text, an empty frame) and on hypothesis-generated ones: the same headers, the same
object values, the same HTML.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench import workpapers
from workbench.workpapers import _DATE, _DATE_TEXT, _date_text, _is_missing, column_words


def frame_wide(frame: pd.DataFrame) -> pd.DataFrame:
    """The cells as they were worked out before: frame-wide pandas operations."""
    shown = frame.copy()
    seen: set[str] = set()
    names = []
    for column in shown.columns:
        words = column_words(column)
        if words in seen:
            words = str(column).replace("_", " ")
        seen.add(words)
        names.append(words)
    for column in shown.columns:
        values = shown[column]
        if values.dtype == bool or str(values.dtype) == "boolean":
            shown[column] = values.map({True: "Yes", False: "No"}).astype(object)
        elif str(values.dtype).startswith("datetime64"):
            shown[column] = values.map(lambda v: "" if _is_missing(v) else _DATE + _date_text(v)).astype(object)
        elif values.dtype.kind not in "biufcmM":
            shown[column] = values.map(lambda v: ("Yes" if v else "No") if isinstance(v, bool) else
                                       (_DATE + v if isinstance(v, str) and _DATE_TEXT.match(v) else v))
    shown.columns = names
    return shown.astype(object).where(shown.notna(), "")


def assert_same_cells(frame: pd.DataFrame) -> None:
    new, old = workpapers._in_words(frame), frame_wide(frame)
    assert list(new.columns) == list(old.columns)
    assert list(new.index) == list(old.index)
    assert all(str(dtype) == "object" for dtype in new.dtypes)
    for position in range(new.shape[1]):
        assert list(new.iloc[:, position]) == list(old.iloc[:, position])
        assert [type(v) for v in new.iloc[:, position]] == [type(v) for v in old.iloc[:, position]]
    assert new.to_html(index=False, escape=True, na_rep="", classes="wp-table", border=0) == \
        old.to_html(index=False, escape=True, na_rep="", classes="wp-table", border=0)


def every_kind() -> pd.DataFrame:
    return pd.DataFrame({
        "reviewer_email": pd.array(["a@x.example", None, "2026-09-30"], dtype="string"),
        "python_text": pd.array(["x", None, "y"], dtype=pd.StringDtype("python")),
        "text": pd.Series(["2026-07-01 10:00 UTC", "plain", None], dtype="str"),
        "mixed": pd.Series([True, ["AP Clerk", "AP Manager"], False], dtype=object),
        "objects": pd.Series([3, None, 2.5], dtype=object),
        "lists": pd.Series([["a", "b"], ["c", "d"], ["e", "f"]], dtype=object),
        "decided_at": pd.to_datetime(["2026-07-14 09:12", None, "2026-07-15 00:00"], utc=True),
        "due": pd.to_datetime(["2026-07-14 00:00", "2026-07-15 08:00", None]),
        "approved": [True, False, True],
        "flag": pd.array([True, None, False], dtype="boolean"),
        "count": [1, 2, 3],
        "nullable_count": pd.array([1, None, 3], dtype="Int64"),
        "rate": [0.5, float("nan"), 1.0],
        "age": pd.to_timedelta(["1D", None, "2h"]),
        "category": pd.Categorical(["low", "high", None]),
        "email": ["x", "y", "z"], "e_mail": ["1", "2", "3"],  # two code names that read alike
    }).set_axis([5, 7, 9])


def test_every_kind_of_column_is_shown_as_before():
    assert_same_cells(every_kind())


@pytest.mark.parametrize("rows", [slice(0, 0), slice(0, 1)])
def test_no_rows_or_one_row_is_shown_as_before(rows):
    assert_same_cells(every_kind().iloc[rows])


def test_a_frame_without_columns_is_shown_as_before():
    assert_same_cells(pd.DataFrame(index=[1, 2]))


def test_the_whole_table_reads_as_before_with_flags_and_anchors():
    frame = workpapers.flag_cells(every_kind().reset_index(drop=True), [(1, "count"), (0, "decided_at")])
    workpapers.anchor_rows(frame, "reviewer_email", ["UAR-01.5/1", "UAR-01.5/2", "UAR-01.5/3"])
    markup = workpapers.table(frame, "Every kind").markup
    assert '<td class="wp-flag">2</td>' in markup and '<td class="wp-flag wp-date">2026-07-14 09:12 UTC</td>' in markup
    assert 'id="UAR-01.5/2"' in markup and "&lt;NA&gt;" not in markup and "nan" not in markup


cells = st.one_of(st.none(), st.text(alphabet="ab -:T0123456789Z", max_size=20),
                  st.sampled_from(["2026-07-01", "2026-07-01 10:00 UTC", "2026-07-01T10:00:00Z"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), rows=st.integers(min_value=0, max_value=6))
def test_generated_frames_are_shown_as_before(data, rows):
    text = data.draw(st.lists(cells, min_size=rows, max_size=rows))
    flags = data.draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=rows, max_size=rows))
    numbers = data.draw(st.lists(st.one_of(st.none(), st.integers(-5, 5)), min_size=rows, max_size=rows))
    stamps = data.draw(st.lists(st.one_of(st.none(), st.datetimes(min_value=pd.Timestamp("2000-01-01").to_pydatetime(),
                                                                 max_value=pd.Timestamp("2040-01-01").to_pydatetime())),
                                min_size=rows, max_size=rows))
    frame = pd.DataFrame({
        "text": pd.array(text, dtype=data.draw(st.sampled_from(["string", "str", "object"]))),
        "flag": pd.array(flags, dtype="boolean"),
        "number": pd.array(numbers, dtype="Int64"),
        "decimal": pd.Series([None if n is None else n / 4 for n in numbers], dtype="float64"),
        "stamp": pd.to_datetime(pd.Series(stamps, dtype=object), utc=data.draw(st.booleans())),
    })
    assert_same_cells(frame)
