"""Building blocks of canonical frames: columns of one value or of NaT, e-mail columns, the
privileged flag from the privileged-entitlement list, and the frame with its ``line`` column."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .arrowtext import _arrow_of, _fold, _fold_arrow, _np, _string_series
from .contract import _TEXT, TIMESTAMP_DTYPE
from .source import _Source


def _privileged(system: pd.Series, entitlement: pd.Series,
                table: Mapping[str, Collection[str]]) -> pd.Series:
    """True where (system, entitlement) is in the privileged list (entitlement ignoring case)."""
    systems = _arrow_of(system.reset_index(drop=True).astype("string"))
    folded = _fold_arrow(_arrow_of(entitlement.reset_index(drop=True).astype("string")))
    flags = np.zeros(len(systems), dtype=bool)
    for system_id, entitlements in table.items():
        wanted = pa.array(sorted({e.casefold() for e in entitlements}), _TEXT)
        flags |= _np(pc.and_(pc.equal(systems, system_id), pc.is_in(folded, value_set=wanted)))
    return pd.Series(flags, dtype=bool)


def _constant(value: Any, n: int, dtype: str) -> pd.Series:
    if dtype == "string":
        scalar = pa.scalar(None if value is pd.NA or value is None else value, _TEXT)
        return _string_series(pa.repeat(scalar, n))
    if dtype == "boolean":
        missing = value is pd.NA or value is None
        return pd.Series(pd.arrays.BooleanArray(np.full(n, False if missing else bool(value)),
                                                np.full(n, missing)))
    if dtype == "bool":
        return pd.Series(np.full(n, bool(value)), dtype=bool)
    return pd.Series([value] * n, dtype=dtype)


def _nat(n: int) -> pd.Series:
    return pd.Series(pd.NaT, index=range(n), dtype=TIMESTAMP_DTYPE)


def _has_at(series: pd.Series) -> pd.Series:
    return series.str.contains("@", regex=False).fillna(False).astype(bool)


def _email_or_na(series: pd.Series) -> pd.Series:
    """Casefolded value where it looks like an e-mail address, else NA."""
    return _fold(series).where(_has_at(series))


def _where_email(series: pd.Series) -> pd.Series:
    """The value as exported where it looks like an e-mail address, else NA."""
    return series.where(_has_at(series))


def _frame(columns: Mapping[str, pd.Series | np.ndarray], lines: np.ndarray) -> pd.DataFrame:
    data = {name: (values.reset_index(drop=True) if isinstance(values, pd.Series) else values)
            for name, values in columns.items()}
    data["line"] = pd.Series(lines, dtype="int64")
    return pd.DataFrame(data, copy=False)


def _privileged_list(src: _Source, system: str) -> Mapping[str, Collection[str]]:
    """The privileged-entitlement list for a single-system export; when it has no entry for
    ``system`` the evidence says so, since then no grant is flagged privileged."""
    table = src.context.privileged_table
    declared = src.context.privileged_note(system)
    if declared is not None:
        src.notes.append(declared)
    elif system not in table:
        src.notes.append(f"No privileged-entitlement list for system '{system}': no grant is "
                         "flagged privileged.")
    return table
