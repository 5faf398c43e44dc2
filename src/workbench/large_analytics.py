"""Full-population analytics over a listing kept in Parquet: the DuckDB twins of the access review
and segregation-of-duties analytics (issue 17: 10 million grants in bounded memory).

A large population stays in Parquet; ``ControlTest.listing_relation`` gives it as a DuckDB relation
with the columns of ``ControlTest.frames`` (canonical grant columns, ``line`` and ``listing``). Each
function here returns exactly what its pandas namesake in ``workbench.analytics`` returns on the
same listing (same columns, dtypes and row order). It gets there in three steps, so that each rule
keeps one implementation, the proven pandas one:

1. Per-account logic runs in pandas on the DISTINCT accounts (about a tenth of the grants): the
   identity correlation (``analytics.correlate_grants`` with the systems' ``identity_match`` rules
   and service-account patterns) and the casefolded and loosely spelled keys of the account.
   Per-entitlement keys (casefolded, loosely spelled, in review scope) are computed in pandas on the
   distinct (system, entitlement) pairs. Casefolding therefore is Python's ``str.casefold`` (SQL
   ``lower`` differs, e.g. on 'ß').
2. Per-grant logic runs in SQL over the listing joined to those two small tables, and keeps only
   the rows the pandas rule's answer can depend on (e.g. for the review's population gaps, the
   access held at the snapshot that no review line names in any spelling).
3. The pandas rule runs on those few rows, which come back through Arrow, in the listing's order
   (files in source order, then line: the order ``frames`` concatenates them in).

Where a rule's input is itself large, SQL decides which of its rows are exceptions and only those
reach pandas: the review lines the listings do not support are found by an anti-join of the lines
against every held grant's review subjects (``lines_unexplained``), and the pandas rule words those
lines from the grants they name. "Named by a review line" is a semi-join on equi-joins (hash joins,
which spill under DuckDB's memory limit), never correlated EXISTS. A control that queries its listing
several times may materialise it once (``correlated_listing(materialise=True)``) and keep it to the
systems its rules compare (``systems=``).

Nothing here reads a file; the caller owns the connection (one per control, ``staged.connect``);
DuckDB running out of memory within its limit is reported naming the setting that raises it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench import analytics, sod
from workbench.populations.staged import explained_out_of_memory
from workbench.valuemap import transform_distinct

if TYPE_CHECKING:   # the connection is the caller's: importing this module does not load DuckDB
    import duckdb

#: The grant columns the identity correlation reads: one distinct combination is one account.
ACCOUNT_KEYS = ("system", "email", "login", "employee_id", "display_name")
#: What the correlation adds to a grant (``analytics.correlate_grants``), with the pandas dtypes it gives them.
CORRELATION_DTYPES = {"person_email": "string", "match_rule": "string", "match_candidates": "string",
                      "service_account": "boolean", "correlated": bool}
#: Per-account keys computed in pandas (loosely spelled: ``analytics._loose``; casefolded).
_ACCOUNT_DERIVED = ("_loose_person_email", "_loose_email", "_loose_login", "_fold_email", "_fold_login")
#: Per-(system, entitlement) keys computed in pandas.
_ENTITLEMENT_DERIVED = ("_loose_entitlement", "_in_scope")
# Lines of one file stay below 2**40, files of one role below 2**23: one BIGINT orders a row.
_LINE_SPAN = 2 ** 40
_FILE_SPAN = 2 ** 23
_names = itertools.count()


def quote(value: str) -> str:
    """``value`` as a SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def timestamp_literal(moment: pd.Timestamp) -> str:
    """A moment as a SQL TIMESTAMPTZ literal in UTC, to the microsecond."""
    return f"TIMESTAMPTZ {quote(pd.Timestamp(moment).tz_convert('UTC').strftime('%Y-%m-%d %H:%M:%S.%f+00'))}"


def held_at_sql(moment: pd.Timestamp) -> str:
    """SQL twin of ``analytics.held_at``: granted on or before ``moment`` (or undated), not yet removed."""
    at = timestamp_literal(moment)
    return f"(granted_at IS NULL OR granted_at <= {at}) AND (removed_at IS NULL OR removed_at > {at})"


def _unique(prefix: str) -> str:
    return f"{prefix}_{next(_names)}"


def _casefold(values: pd.Series) -> pd.Series:
    """Python's casefolding of text, once per distinct value."""
    return transform_distinct(values.astype("string"), lambda text: text.str.casefold())


@dataclass
class CorrelatedListing:
    """A listing relation with each row tied to its account's correlation, as a view on ``con``.

    ``view`` has the listing's columns, the correlation columns (``CORRELATION_DTYPES``), the derived
    keys and ``_order`` (the row's place in ``frames``); ``accounts`` are the distinct accounts as
    correlated in pandas, in order of their first row; ``dtypes`` the pandas dtypes of the columns a
    fetched row carries (those of ``frames`` plus the correlation's).
    """

    con: duckdb.DuckDBPyConnection
    view: str
    accounts: pd.DataFrame
    dtypes: dict[str, object]

    @property
    def columns(self) -> list[str]:
        """The columns of a fetched row: the listing's, then the correlation's."""
        return list(self.dtypes)

    def fetch(self, where: str = "TRUE", order: str = "_order") -> pd.DataFrame:
        """The rows satisfying the SQL condition ``where`` (the view is aliased ``g``: a subquery names the
        row's own columns ``g.<column>``), as ``frames`` rows correlated would show them."""
        selected = ", ".join(f'"{c}"' for c in self.columns)
        with explained_out_of_memory("a query of the large population's listing"):
            table = self.con.sql(f"SELECT {selected} FROM {self.view} g WHERE {where} ORDER BY {order}").to_arrow_table()
        return as_pandas(table, self.dtypes)

    def count(self, where: str = "TRUE") -> int:
        """How many rows satisfy ``where``."""
        with explained_out_of_memory("a count over the large population's listing"):
            return int(self.con.sql(f"SELECT count(*) FROM {self.view} g WHERE {where}").fetchall()[0][0])

    def register(self, frame: pd.DataFrame, prefix: str) -> str:
        """A small pandas table on the connection (through Arrow), under a fresh name."""
        name = _unique(prefix)
        self.con.register(name, pa.Table.from_pandas(frame, preserve_index=False))
        return name


def listing_dtypes(schema: pa.Schema) -> dict[str, object]:
    """The pandas dtypes ``frames`` gives a listing's columns, from the relation's Arrow schema: text is
    pandas' nullable string, except ``listing`` (the file's name, plain ``str``); moments are UTC; other
    types as Arrow converts them."""
    dtypes: dict[str, object] = {}
    for field in schema:
        if field.name == "listing":
            dtypes[field.name] = "str"
        elif pa.types.is_string(field.type) or pa.types.is_large_string(field.type) or \
                pa.types.is_string_view(field.type):
            dtypes[field.name] = "string"
        elif pa.types.is_timestamp(field.type) and field.type.tz is not None:
            dtypes[field.name] = pd.DatetimeTZDtype(field.type.unit, "UTC")   # DuckDB says Etc/UTC
        else:
            dtypes[field.name] = None
    return dtypes


def as_pandas(table: pa.Table, dtypes: Mapping[str, object]) -> pd.DataFrame:
    """An Arrow result as pandas with the dtypes the pandas path gives (``None``: as Arrow converts it)."""
    frame = table.to_pandas()
    wanted = {c: pd.api.types.pandas_dtype(d) for c, d in dtypes.items() if d is not None and c in frame}
    wanted = {c: d for c, d in wanted.items() if repr(frame[c].dtype) != repr(d)}
    return frame.astype(wanted) if wanted else frame


def order_sql(listings: Sequence[str]) -> str:
    """The SQL expression ordering a listing's rows as ``frames`` does: files in source order, then line."""
    labels = "[" + ", ".join(quote(label) for label in dict.fromkeys(listings)) + "]"
    return f"(coalesce(list_position({labels}, listing), 0)::BIGINT * {_LINE_SPAN} + line::BIGINT)"


def distinct_accounts(con: duckdb.DuckDBPyConnection, view: str, keys: Sequence[str], order: str,
                      dtypes: Mapping[str, object]) -> pd.DataFrame:
    """The distinct accounts (combinations of ``keys``) of a listing view, each with the listing of its
    first row, in order of their first row."""
    columns = ", ".join(f'"{k}"' for k in keys)
    table = con.sql(f"SELECT {columns}, arg_min(listing, {order}) AS listing, min({order}) AS _first "
                    f"FROM {view} GROUP BY {columns} ORDER BY _first").to_arrow_table()
    return as_pandas(table.drop_columns(["_first"]), dtypes)


def account_keys(accounts: pd.DataFrame) -> pd.DataFrame:
    """Each correlated account's loosely spelled (``analytics._loose``) and casefolded identifiers,
    as the review analytics compare them: computed once per account, never per grant."""
    missing = pd.Series(pd.NA, index=accounts.index, dtype="string")
    column = {c: accounts[c] if c in accounts else missing for c in ("person_email", "email", "login")}
    return pd.DataFrame({"_loose_person_email": analytics._loose(column["person_email"]),
                         "_loose_email": analytics._loose(column["email"]),
                         "_loose_login": analytics._loose(column["login"]),
                         "_fold_email": _casefold(column["email"]),
                         "_fold_login": _casefold(column["login"])}, index=accounts.index)


def entitlement_keys(pairs: pd.DataFrame, in_scope: Callable[[pd.DataFrame], pd.Series] | None) -> pd.DataFrame:
    """Each distinct (system, entitlement) with its loosely spelled entitlement and whether it is in
    scope (``in_scope``, e.g. the review's declared scope; all when None)."""
    keep = in_scope(pairs) if in_scope is not None else pd.Series(True, index=pairs.index)
    return pairs.assign(_loose_entitlement=analytics._loose(pairs["entitlement"]),
                        _in_scope=keep.fillna(False).astype(bool).to_numpy())


def _of_systems_sql(systems: Sequence[str]) -> str:
    """SQL: the listing row ``g``'s system is one of ``systems`` (a row without a system is not)."""
    return f"coalesce(g.system IN ({', '.join(quote(s) for s in systems)}), FALSE)" if len(systems) else "FALSE"


def correlated_listing(con: duckdb.DuckDBPyConnection, relation: duckdb.DuckDBPyRelation, listings: Sequence[str],
                       correlate: Callable[[pd.DataFrame], pd.DataFrame],
                       in_scope: Callable[[pd.DataFrame], pd.Series] | None = None, *,
                       systems: Sequence[str] | None = None, materialise: bool = False) -> CorrelatedListing:
    """The listing ``relation`` with every row tied to its HR worker, rows out of scope left out.

    ``correlate`` is the pandas correlation (``ControlTest.correlate``), run once on the distinct
    accounts (of every system: the identity evidence lists them all); ``in_scope`` (a frame's rows ->
    kept) is run on the distinct (system, entitlement) pairs; ``listings`` are the files' labels in
    source order (the row order of ``frames``). ``systems``: only those systems' rows are kept (a
    control whose rules compare the system, as the review's do, never reads another's). ``materialise``:
    the correlated rows are computed once into a temporary table (which DuckDB spills to its
    ``temp_directory`` under its memory limit) rather than re-joined by every query of a view.
    """
    with explained_out_of_memory("correlating the large population's listing with HR"):
        return _correlated_listing(con, relation, listings, correlate, in_scope, systems, materialise)


def _correlated_listing(con: duckdb.DuckDBPyConnection, relation: duckdb.DuckDBPyRelation, listings: Sequence[str],
                        correlate: Callable[[pd.DataFrame], pd.DataFrame],
                        in_scope: Callable[[pd.DataFrame], pd.Series] | None, systems: Sequence[str] | None,
                        materialise: bool) -> CorrelatedListing:
    rows = _unique("listing_rows")
    relation.create_view(rows, replace=True)
    dtypes = listing_dtypes(relation.limit(0).to_arrow_table().schema)
    order = order_sql(listings)
    keys = [k for k in (*ACCOUNT_KEYS, "is_root") if k in relation.columns]   # is_root: the evidence leaves root out
    accounts = correlate(distinct_accounts(con, rows, keys, order, dtypes)).reset_index(drop=True)
    table = pd.concat([accounts[keys], accounts[list(CORRELATION_DTYPES)], account_keys(accounts)], axis=1)
    pairs = con.sql(f"SELECT DISTINCT system, entitlement FROM {rows}").to_arrow_table()
    entitlements = entitlement_keys(as_pandas(pairs, dtypes), in_scope)
    listing = CorrelatedListing(con, _unique("listing_correlated"), accounts,
                                {**dtypes, **CORRELATION_DTYPES})
    account_table, entitlement_table = listing.register(table, "accounts"), listing.register(entitlements, "ents")
    on = " AND ".join(f'g."{k}" IS NOT DISTINCT FROM a."{k}"' for k in keys)
    added = ", ".join(f'a."{c}"' for c in [*CORRELATION_DTYPES, *_ACCOUNT_DERIVED])
    derived = 'e."_loose_entitlement"'
    kept = f" AND {_of_systems_sql(systems)}" if systems is not None else ""
    con.sql(f"CREATE OR REPLACE TEMP {'TABLE' if materialise else 'VIEW'} {listing.view} AS "
            f"SELECT g.*, {added}, {derived}, {order} AS _order FROM {rows} g "
            f"JOIN {account_table} a ON {on} "
            f"JOIN {entitlement_table} e ON g.system IS NOT DISTINCT FROM e.system "
            f"AND g.entitlement IS NOT DISTINCT FROM e.entitlement WHERE e._in_scope{kept}")
    return listing


# --- user access review -------------------------------------------------------------------------

def _line_keys(listing: CorrelatedListing, decisions: pd.DataFrame) -> str:
    """The review lines' (system, subject, entitlement), loosely spelled, as a table on the connection."""
    keys = pd.DataFrame({"system": decisions["system"].astype("string"),
                         "subject": analytics._loose(decisions["subject_email"]),
                         "entitlement": analytics._loose(decisions["entitlement"])}).drop_duplicates()
    return listing.register(keys.dropna(subset=["subject"]), "lines")


#: The listing's identifiers a review line may name an account by, loosely spelled (``analytics._loose_held_keys``).
_LOOSE_IDENTIFIERS = ("_loose_person_email", "_loose_email", "_loose_login")


def _named_by_any_line(listing: CorrelatedListing, lines: str) -> str:
    """SQL: the row's access is named by a review line of ``lines`` (``_line_keys``) through one of its
    loosely spelled identifiers (HR e-mail, account e-mail, login) and its loosely spelled entitlement.

    Written as a semi-join on the union of three equi-joins (one per identifier), which DuckDB runs
    as hash joins that spill under its memory limit, rather than three correlated EXISTS ORed."""
    joins = " UNION ALL ".join(
        f"SELECT n._order FROM {listing.view} n JOIN {lines} l ON l.system IS NOT DISTINCT FROM n.system "
        f"AND l.entitlement IS NOT DISTINCT FROM n._loose_entitlement AND l.subject = n.{identifier}"
        for identifier in _LOOSE_IDENTIFIERS)
    return f"(g._order IN ({joins}))"


def review_population_gaps(listing: CorrelatedListing, decisions: pd.DataFrame, identities: pd.DataFrame,
                           snapshot: pd.Timestamp, systems: Sequence[str], listing_label: str) -> pd.DataFrame:
    """Twin of ``analytics.review_population_gaps``: SQL keeps the access of the systems under test,
    not a service account's, held at the snapshot, that no review line names in any spelling (a line
    naming it exactly names it loosely too); the pandas rule then judges those rows (undated access
    of people hired after the snapshot, the wording)."""
    if not len(systems):
        return analytics.review_population_gaps(listing.fetch("FALSE"), decisions, identities, snapshot,
                                                list(systems), listing_label)
    lines = _line_keys(listing, decisions)
    where = (f"system IN ({', '.join(quote(s) for s in systems)}) AND service_account IS NOT TRUE "
             f"AND {held_at_sql(snapshot)} AND NOT {_named_by_any_line(listing, lines)}")
    return analytics.review_population_gaps(listing.fetch(where), decisions, identities, snapshot, list(systems),
                                            listing_label)


def _held_review_subjects_sql(listing: CorrelatedListing, snapshot: pd.Timestamp) -> str:
    """SQL: (system, subject, entitlement) of every grant held at the snapshot under each subject a review
    line may name it by exactly (``analytics.review_subjects``): the HR e-mail of a correlated grant, else
    its casefolded account e-mail and login."""
    held = held_at_sql(snapshot)
    return " UNION ALL ".join(
        f"SELECT system, {subject} AS subject, entitlement FROM {listing.view} WHERE {held} AND {condition}"
        for subject, condition in (("person_email", "person_email IS NOT NULL"),
                                   ("_fold_email", "person_email IS NULL AND _fold_email IS NOT NULL"),
                                   ("_fold_login", "person_email IS NULL AND _fold_login IS NOT NULL")))


def lines_unexplained(decisions: pd.DataFrame, listing: CorrelatedListing, identities: pd.DataFrame,
                      snapshot: pd.Timestamp) -> np.ndarray:
    """Which review lines ``analytics.review_lines_not_in_listing`` finds unexplained, as a boolean mask:
    not a revoke decision, not a leaver's (exact HR e-mail, in pandas as the rule does it), and no grant
    held at the snapshot under the line's exact (system, subject, entitlement) (an anti-join in SQL)."""
    explained = (decisions["decision"] == "revoke").fillna(False).to_numpy(dtype=bool)
    leavers = set(identities.loc[identities["termination_date"].notna(), "email"])
    explained |= np.fromiter((subject in leavers for subject in decisions["subject_email"].to_numpy(dtype=object)),
                             dtype=bool, count=len(decisions))
    open_lines = np.flatnonzero(~explained)
    if not len(open_lines):
        return ~explained
    keys = pa.table({"pos": pa.array(open_lines, pa.int64()),
                     "system": pa.array(decisions["system"].to_numpy(dtype=object)[open_lines], pa.string(),
                                        from_pandas=True),
                     "subject": pa.array(decisions["subject_email"].to_numpy(dtype=object)[open_lines], pa.string(),
                                         from_pandas=True),
                     "entitlement": pa.array(decisions["entitlement"].to_numpy(dtype=object)[open_lines], pa.string(),
                                             from_pandas=True)})
    name = _unique("decided")
    listing.con.register(name, keys)
    try:
        with explained_out_of_memory("finding the review lines the large population's listing does not support"):
            found = listing.con.sql(
                f"SELECT l.pos FROM {name} l ANTI JOIN ({_held_review_subjects_sql(listing, snapshot)}) h "
                "ON l.system IS NOT DISTINCT FROM h.system AND l.subject = h.subject "
                "AND l.entitlement IS NOT DISTINCT FROM h.entitlement").to_arrow_table()
    finally:
        listing.con.unregister(name)
    unexplained = np.zeros(len(decisions), dtype=bool)
    unexplained[found["pos"].to_numpy()] = True
    return unexplained


def review_lines_not_in_listing(decisions: pd.DataFrame, listing: CorrelatedListing, identities: pd.DataFrame,
                                snapshot: pd.Timestamp, file_label: str) -> pd.DataFrame:
    """Twin of ``analytics.review_lines_not_in_listing``: SQL finds the unexplained lines (the exceptions,
    ``lines_unexplained``); the pandas rule then words them from those lines and the held grants they
    name in some spelling (all it reads of the listing for them: which grant shows an imprecise line's
    access, the last one in the listing's order under the last identifier, as the rule's look-up takes it)."""
    unexplained = decisions[lines_unexplained(decisions, listing, identities, snapshot)]
    if unexplained.empty:
        return analytics.review_lines_not_in_listing(unexplained, listing.fetch("FALSE"), identities, snapshot,
                                                     file_label)
    lines = _line_keys(listing, unexplained)
    held = listing.fetch(f"{held_at_sql(snapshot)} AND {_named_by_any_line(listing, lines)}")
    return analytics.review_lines_not_in_listing(unexplained, held, identities, snapshot, file_label)


def rows_named_by(listing: CorrelatedListing, lines: pd.DataFrame) -> pd.DataFrame:
    """The listing's rows (held or not) that ``lines`` (review lines) name in some spelling, in the listing's
    order: every row a look-up by (HR e-mail, account e-mail or login; entitlement), trimmed and
    casefolded, can find (``removals.prove_revocations`` looks up a revoke's access so)."""
    return listing.fetch(_named_by_any_line(listing, _line_keys(listing, lines)))


def held_for_lines(listing: CorrelatedListing, lines: pd.DataFrame, snapshot: pd.Timestamp) -> pd.DataFrame:
    """The grants held at the snapshot that ``lines`` (review lines: system, subject_email, entitlement)
    may name exactly (``analytics.review_subjects``: HR e-mail, casefolded account e-mail or login),
    in the listing's order: all ``held_at`` and ``review_subjects`` need to answer for those lines."""
    keys = pd.DataFrame({"system": lines["system"].astype("string"), "subject": lines["subject_email"].astype("string"),
                         "entitlement": lines["entitlement"].astype("string")}).dropna().drop_duplicates()
    wanted = listing.register(keys, "items")
    named = " UNION ALL ".join(
        f"SELECT n._order FROM {listing.view} n JOIN {wanted} k ON k.system = n.system "
        f"AND k.entitlement = n.entitlement AND k.subject = n.{c}" for c in ("person_email", "_fold_email", "_fold_login"))
    return listing.fetch(f"{held_at_sql(snapshot)} AND g._order IN ({named})")


# --- segregation of duties ------------------------------------------------------------------------

def held_at_extraction_sql(columns: Iterable[str]) -> str:
    """SQL twin of ``analytics.held_at_extraction``: not removed and not on a disabled account."""
    sql = "removed_at IS NULL"
    if "account_status" in columns:
        sql += " AND coalesce(account_status, 'active') <> 'disabled'"
    return sql


def in_systems_sql(systems: Sequence[str]) -> str:
    """SQL: the row's system is one of ``systems`` (a row without a system is not)."""
    return f"coalesce(system IN ({', '.join(quote(s) for s in systems)}), FALSE)" if len(systems) else "FALSE"


def sod_held(listing: CorrelatedListing, systems: Sequence[str]) -> str:
    """SQL condition of ``SegregationOfDutiesTest.held``: held at the extraction, in the control's systems."""
    return f"{held_at_extraction_sql(listing.columns)} AND {in_systems_sql(systems)}"


ACCOUNT_FRAME_DTYPES = {"system": "string", "login": "string", "login_original": "string", "person_email": "string",
                        "line": "int64", "listing": "str", "entitlements": "string"}


def sod_accounts(listing: CorrelatedListing, held: str) -> pd.DataFrame:
    """Twin of the grouping in ``SegregationOfDutiesTest.accounts``: per (system, login) held, sorted,
    the first login as exported and HR e-mail, the first line, its listing and the entitlements in
    order of line, each once (rows ordered by line, then as ``frames`` gives them)."""
    by_line = f"(line::BIGINT * {_FILE_SPAN} + (_order // {_LINE_SPAN}))"
    query = f"""
        WITH held AS (SELECT system, login, login_original, person_email, line, listing, entitlement,
                             {by_line} AS _by_line
                      FROM {listing.view} WHERE {held} AND system IS NOT NULL AND login IS NOT NULL),
        firsts AS (SELECT system, login, entitlement, min(_by_line) AS _first FROM held
                   GROUP BY system, login, entitlement),
        names AS (SELECT system, login, string_agg(entitlement, '; ' ORDER BY _first) AS entitlements FROM firsts
                  GROUP BY system, login),
        firsts_of_account AS (
            SELECT system, login,
                   arg_min(login_original, _by_line) FILTER (WHERE login_original IS NOT NULL) AS login_original,
                   arg_min(person_email, _by_line) FILTER (WHERE person_email IS NOT NULL) AS person_email,
                   min(line)::BIGINT AS line,
                   arg_min(listing, _by_line) FILTER (WHERE listing IS NOT NULL) AS listing
            FROM held GROUP BY system, login)
        SELECT f.system, f.login, f.login_original, f.person_email, f.line, f.listing, n.entitlements
        FROM firsts_of_account f JOIN names n ON n.system = f.system AND n.login = f.login
        ORDER BY f.system, f.login"""
    return as_pandas(listing.con.sql(query).to_arrow_table(), ACCOUNT_FRAME_DTYPES).reset_index(drop=True)


def folded_in(names: set[str], strip: bool = False) -> Callable[[pd.Series], pd.Series]:
    """A test of entitlements: casefolded (after trimming, with ``strip``) they are one of ``names``."""
    def test(entitlements: pd.Series) -> pd.Series:
        text = entitlements.astype("string")
        return (text.str.strip() if strip else text).str.casefold().isin(names).fillna(False).astype(bool)
    return test


def sod_rule_entitlements(rules: pd.DataFrame, attribute_rules: Sequence[analytics.AttributeRule]) -> set[str]:
    """Every entitlement a rule-set rule (stripped, casefolded) or an attribute rule (casefolded) names."""
    named = {str(e).strip().casefold() for side in ("entitlements_a", "entitlements_b") if side in rules
             for e in rules[side].explode().dropna()}
    return named | {e.casefold() for rule in attribute_rules for e in rule.entitlements}


def extended_rule_entitlements(rules: pd.DataFrame, role_permissions: pd.DataFrame | None) -> set[str]:
    """Every entitlement (trimmed, casefolded) through which a grant can give a name a rule names: the
    name itself, or a role that ``role_permissions`` says grants it (``sod.holdings``)."""
    named = sod_rule_entitlements(rules, [])
    if role_permissions is None or role_permissions.empty:
        return named
    permission = role_permissions["permission"].astype("string").str.strip().str.casefold()
    roles = role_permissions["role"].astype("string").str.strip().str.casefold()[permission.isin(named).fillna(False)]
    return named | set(roles.dropna())


def in_list_sql(column: str, values: Iterable[object]) -> str:
    """SQL: ``column`` is one of ``values``, written out as literals (DuckDB then filters the Parquet scan
    itself instead of joining every row to a table of them); FALSE when there are none."""
    literals = sorted({quote(v) for v in values if v is not None and not pd.isna(v)})
    return f"{column} IN ({', '.join(literals)})" if literals else "FALSE"


def fetch_any(listing: CorrelatedListing, conditions: Sequence[str]) -> pd.DataFrame:
    """The rows satisfying any of the SQL ``conditions``, each once, in the listing's order, as ``fetch``
    gives them: each condition is queried on its own, so that each can filter the scan."""
    selected = ", ".join(f'"{c}"' for c in listing.columns)
    tables = [listing.con.sql(f"SELECT {selected}, _order FROM {listing.view} g WHERE {c}").to_arrow_table()
              for c in conditions if c != "FALSE"]
    if not tables:
        return listing.fetch("FALSE")
    table = pa.concat_tables(tables)
    _, first = np.unique(table["_order"].to_numpy(), return_index=True)
    return as_pandas(table.take(first).drop_columns(["_order"]), listing.dtypes)


def held_catalogue(listing: CorrelatedListing, held: str) -> pd.DataFrame:
    """The distinct (system, entitlement) held (SQL condition ``held``) with their ``grants``, sorted: one
    scan of the listing answers the rule set's accuracy check, the count of grants held and which
    entitlements a rule can name."""
    table = listing.con.sql(f"SELECT system, entitlement, count(*) AS grants FROM {listing.view} g WHERE {held} "
                            "GROUP BY system, entitlement ORDER BY system, entitlement").to_arrow_table()
    return as_pandas(table, {"system": "string", "entitlement": "string", "grants": "int64"})


def held_of_entitlements(listing: CorrelatedListing, held: str, keep: Callable[[pd.Series], pd.Series],
                         catalogue: pd.DataFrame | None = None, first_grants: bool = True) -> pd.DataFrame:
    """The held grants (SQL condition ``held``) of the entitlements ``keep`` marks (a pandas test run on the
    distinct entitlements, from ``catalogue`` when given, see ``held_catalogue``), in the listing's order:
    all a rule over named entitlements reads. With ``first_grants``, also the first held grant of each
    account holding one of them (it names the account in ``analytics.sod_rule_conflicts``; an account
    holding none has no conflict). The names and logins go into the SQL as literals, so DuckDB filters
    the Parquet scan by them."""
    if catalogue is None:
        catalogue = held_catalogue(listing, held)
    distinct = catalogue["entitlement"].dropna().drop_duplicates()
    names = distinct[keep(distinct).to_numpy()]
    if names.empty:
        return listing.fetch("FALSE")
    named = f"{held} AND {in_list_sql('entitlement', names)}"
    if not first_grants:
        return fetch_any(listing, [named])
    logins = listing.con.sql(f"SELECT DISTINCT login FROM {listing.view} g WHERE {named}").fetchall()
    of_accounts = f"{held} AND {in_list_sql('login', [login for (login,) in logins])}"
    first = f"SELECT min(_order) AS _o FROM {listing.view} g WHERE {of_accounts} GROUP BY system, login"
    return fetch_any(listing, [named, f"{of_accounts} AND _order IN ({first})"])


def sod_rule_conflicts(listing: CorrelatedListing, held: str, rules: pd.DataFrame,
                       catalogue: pd.DataFrame | None = None) -> pd.DataFrame:
    """Twin of ``analytics.sod_rule_conflicts`` over the held grants (SQL condition ``held``)."""
    rows = held_of_entitlements(listing, held, folded_in(sod_rule_entitlements(rules, [])), catalogue)
    return analytics.sod_rule_conflicts(rows, rules)


def sod_attribute_conflicts(listing: CorrelatedListing, held: str, identities: pd.DataFrame,
                            rules: list[analytics.AttributeRule], listing_label: str,
                            catalogue: pd.DataFrame | None = None) -> pd.DataFrame:
    """Twin of ``analytics.sod_attribute_conflicts`` over the held grants (SQL condition ``held``): the
    rule reads only the grants of the entitlements it names."""
    if not rules:
        return analytics.sod_attribute_conflicts(listing.fetch("FALSE"), identities, rules, listing_label)
    rows = held_of_entitlements(listing, held, folded_in(sod_rule_entitlements(pd.DataFrame(), rules)), catalogue,
                                first_grants=False)
    return analytics.sod_attribute_conflicts(rows, identities, rules, listing_label)


def held_for_extended_rules(listing: CorrelatedListing, held: str, rules: pd.DataFrame,
                            role_permissions: pd.DataFrame | None,
                            catalogue: pd.DataFrame | None = None) -> pd.DataFrame:
    """The held grants the permission-level and cross-system rules (``sod.extended_rule_conflicts``,
    ``sod.unjoinable_accounts``) can match: those giving a name a rule names, directly or through a role."""
    return held_of_entitlements(listing, held, folded_in(extended_rule_entitlements(rules, role_permissions),
                                                         strip=True), catalogue, first_grants=False)


def held_of_logins(listing: CorrelatedListing, held: str, logins: Iterable[str]) -> pd.DataFrame:
    """The held grants (SQL condition ``held``) of the accounts with these logins (any system), in the
    listing's order (the logins written into the SQL, so DuckDB filters the Parquet scan by them)."""
    return listing.fetch(f"{held} AND {in_list_sql('login', logins)}")


def held_entitlements(listing: CorrelatedListing, held: str) -> pd.DataFrame:
    """The distinct (system, entitlement) held, as the rule set's accuracy check compares them."""
    table = listing.con.sql(f"SELECT DISTINCT system, entitlement FROM {listing.view} WHERE {held} "
                            "ORDER BY system, entitlement").to_arrow_table()
    return as_pandas(table, {"system": "string", "entitlement": "string"})


# --- role baseline and movers (segregation of duties) ---------------------------------------------

def _entitlement_keys(listing: CorrelatedListing, held: str, key: Callable[[pd.Series], pd.Series],
                      prefix: str) -> str:
    """The distinct entitlements of the held grants with ``_key`` (``key`` run in pandas on them: Python's
    casefolding, never SQL ``lower``), as a table on the connection."""
    distinct = as_pandas(listing.con.sql(f"SELECT DISTINCT entitlement FROM {listing.view} g WHERE {held}")
                         .to_arrow_table(), {"entitlement": "string"})
    return listing.register(distinct.assign(_key=key(distinct["entitlement"]).astype("string")), prefix)


def baseline_deviation_grants(listing: CorrelatedListing, held: str, identities: pd.DataFrame,
                              baseline: pd.DataFrame) -> pd.DataFrame:
    """The held grants (SQL condition ``held``) ``sod.baseline_deviations`` can report, in the listing's
    order: those of a person (``person_email``) in a system the baseline names whose entitlement (trimmed,
    casefolded) no baseline row of that system allows to any of the person's HR attribute values. Whether a
    grant is kept depends only on its (person, system, entitlement), the rule's group, so every group the
    rule reports comes back whole and no other."""
    keys = sod.baseline_keys(baseline)
    systems = [s for s in dict.fromkeys(baseline["system"].dropna().astype(str))]
    if baseline.empty or not systems:
        return listing.fetch("FALSE")
    rule_keys, people = listing.register(keys, "baseline"), listing.register(sod.baseline_person_values(identities),
                                                                            "people")
    ents = _entitlement_keys(listing, held, sod.baseline_entitlement_key, "baseline_ents")
    allowed = (f"SELECT p.email, k.system, e.entitlement FROM {people} p "
               f"JOIN {rule_keys} k ON k._attribute = p._attribute AND k._value = p._value "
               f"JOIN {ents} e ON e._key = k._ent")
    return listing.fetch(f"{held} AND person_email IS NOT NULL AND {in_systems_sql(systems)} "
                         f"AND entitlement IN (SELECT entitlement FROM {ents} WHERE _key IS NOT NULL) "
                         f"AND NOT EXISTS (SELECT 1 FROM ({allowed}) a WHERE a.email = g.person_email "
                         f"AND a.system = g.system AND a.entitlement = g.entitlement)")


def sod_baseline_deviations(listing: CorrelatedListing, held: str, identities: pd.DataFrame, baseline: pd.DataFrame,
                            baseline_label: str, listing_label: str) -> pd.DataFrame:
    """Twin of ``sod.baseline_deviations`` over the held grants (SQL condition ``held``)."""
    return sod.baseline_deviations(baseline_deviation_grants(listing, held, identities, baseline), identities,
                                   baseline, baseline_label, listing_label)


def mover_rule_runs(prior_as_of: object, as_of: object, grace_days: int) -> bool:
    """Whether ``analytics.mover_retained_access`` reports anyone: the period end's day is more than
    ``grace_days`` after the earlier roster's day (the same day arithmetic as the rule)."""
    prior_day = analytics._as_utc(pd.Timestamp(pd.Timestamp(prior_as_of).date()))
    day = analytics._as_utc(pd.Timestamp(pd.Timestamp(as_of).date()))
    return day - prior_day > pd.Timedelta(days=grace_days)


def mover_grants(listing: CorrelatedListing, held: str, identities: pd.DataFrame, prior: pd.DataFrame,
                 prior_as_of: object, as_of: object, grace_days: int = 30, peer_attribute: str = "department",
                 min_peers: int = 1, attributes: Sequence[str] = analytics.MOVER_ATTRIBUTES) -> pd.DataFrame:
    """The held grants (SQL condition ``held``) ``analytics.mover_retained_access`` needs, in the listing's
    order: every grant of a mover (``analytics.movers``) granted before the earlier roster's day (or
    undated) whose holder has a current ``peer_attribute``, and, for each (system, casefolded entitlement,
    peer group) of those, one grant of each of the first ``min_peers`` + 1 holders of that group (by
    e-mail). The rule counts the other holders of a mover's entitlement in the group against
    ``min_peers``: with up to ``min_peers`` + 1 of them kept, every count below ``min_peers`` (which the
    rule reports and words) is exact and every other count stays at least ``min_peers``."""
    if not mover_rule_runs(prior_as_of, as_of, grace_days):
        return listing.fetch("FALSE")
    moved = analytics.movers(identities, prior, attributes)
    if moved.empty:
        return listing.fetch("FALSE")
    group = analytics.person_attribute(identities, peer_attribute).astype("string").str.strip().str.casefold()
    groups = listing.register(pd.DataFrame({"email": pd.Series(group.index, dtype="string"),
                                            "_group": group.to_numpy()}).dropna(), "peer_groups")
    movers = listing.register(moved[["email"]].astype("string"), "movers")
    ents = _entitlement_keys(listing, held, lambda e: e.astype("string").str.casefold(), "mover_ents")
    prior_day = timestamp_literal(analytics._as_utc(pd.Timestamp(pd.Timestamp(prior_as_of).date())))
    rows = f"""
        WITH keyed AS (SELECT g._order, g.system, e._key, p._group, g.person_email, g.granted_at
                       FROM {listing.view} g JOIN {groups} p ON p.email = g.person_email
                       JOIN {ents} e ON e.entitlement IS NOT DISTINCT FROM g.entitlement WHERE {held}),
        mine AS (SELECT * FROM keyed WHERE person_email IN (SELECT email FROM {movers})
                 AND (granted_at IS NULL OR granted_at < {prior_day})),
        wanted AS (SELECT DISTINCT system, _key, _group FROM mine),
        holders AS (SELECT k.system, k._key, k._group, k.person_email, min(k._order) AS _o FROM keyed k
                    JOIN wanted w ON w.system = k.system AND w._key IS NOT DISTINCT FROM k._key AND w._group = k._group
                    GROUP BY k.system, k._key, k._group, k.person_email),
        peers AS (SELECT _o FROM holders
                  QUALIFY row_number() OVER (PARTITION BY system, _key, _group ORDER BY person_email) <= {min_peers + 1})
        SELECT _order FROM mine UNION SELECT _o FROM peers"""
    return listing.fetch(f"{held} AND _order IN ({rows})")


def sod_mover_retained_access(listing: CorrelatedListing, held: str, identities: pd.DataFrame, prior: pd.DataFrame,
                              prior_as_of: object, as_of: object, grace_days: int = 30,
                              peer_attribute: str = "department", min_peers: int = 1,
                              attributes: Sequence[str] = analytics.MOVER_ATTRIBUTES,
                              listing_label: str = "listing") -> pd.DataFrame:
    """Twin of ``analytics.mover_retained_access`` over the held grants (SQL condition ``held``)."""
    rows = mover_grants(listing, held, identities, prior, prior_as_of, as_of, grace_days, peer_attribute, min_peers,
                        attributes)
    return analytics.mover_retained_access(rows, identities, prior, prior_as_of, as_of, grace_days, peer_attribute,
                                           min_peers, attributes, listing_label)
