"""A per-value Python function applied once per distinct value of a column, not once per row.

Populations repeat a few values many times (a review campaign names 2,500 reviewers on 120,000
lines, and a handful of systems): ``series.map(function)`` calls the function on every row, which
at a million rows is most of a control's time. :func:`map_distinct` calls it once per distinct
value and spreads the results back by position, giving exactly what ``series.map(function)`` gives
(values, dtype and index), so callers can switch without changing any result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd


def map_distinct(series: pd.Series, function: Callable[[Any], Any]) -> pd.Series:
    """``series.map(function)``, with ``function`` called once per distinct value (missing values
    included, as ``map`` passes them too) rather than once per row.

    The distinct values keep the column's dtype, so the mapped result has the dtype
    ``series.map(function)`` would infer from the same results; the index is the series' own.
    """
    if len(series) == 0:
        return series.map(function)
    return transform_distinct(series, lambda distinct: distinct.map(function))


def transform_distinct(series: pd.Series, transform: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``transform(series)`` for an element-wise ``transform`` (each value's result depends on that
    value alone, e.g. a chain of ``.str`` methods), computed on the distinct values only and spread
    back by position: the same values and dtype, on the series' index, at the cost of the distinct
    values (a column of 120,000 e-mails of 20,000 people costs 20,000)."""
    if len(series) == 0:
        return transform(series)
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    distinct = pd.Series(uniques.to_numpy() if isinstance(uniques, pd.Index) else uniques, dtype=series.dtype)
    result = transform(distinct).take(codes)
    result.index = series.index
    result.name = series.name
    return result
