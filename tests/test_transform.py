"""Declared transformations of raw exports: empty tokens, derived columns (DuckDB), renames and
value maps, each disclosed; bad declarations and failing expressions named precisely."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.populations import transform as transform_module
from workbench.populations.transform import (
    TransformError,
    apply_transform,
    map_values,
    parse_transform,
    parse_value_maps,
)

FILE = "hr/bamboohr_employees.csv"
HEADER = ["Employee #", "First Name", "Last Name", "Termination Date", "Access", "Status"]
ROWS = [
    ["E-001", "Ann", "Lee", "", "ann.lee:AP Clerk", "Active"],
    ["E-002", "Bob", "Ng", "2026-08-01", "bob.ng:System Administrator", "TERMINATED"],
    ["E-003", "Cy", "Oh", "N/A", "cy.oh", "leave"],
]


def _columns(rows: list[list[str]] = ROWS) -> list[pa.ChunkedArray]:
    return [pa.chunked_array([pa.array(list(col), pa.large_string())]) for col in zip(*rows)]


def _apply(options: dict, rows: list[list[str]] = ROWS, header: list[str] = HEADER):
    transform = parse_transform(FILE, options)
    lines = np.arange(2, 2 + len(rows))
    return apply_transform(FILE, header, _columns(rows), lines, transform)


def _column(header: list[str], columns: list[pa.ChunkedArray], name: str) -> list[str]:
    return columns[header.index(name)].to_pylist()


def test_derived_columns_concatenate_split_extract_and_compute_from_presence():
    header, columns, _, disclosure = _apply({
        "null_tokens": ["N/A"],
        "derive": {
            "full_name": "\"First Name\" || ' ' || \"Last Name\"",
            "login": "split_part(\"Access\", ':', 1)",
            "role": "regexp_extract(\"Access\", ':(.+)$', 1)",
            "status": "CASE WHEN \"Termination Date\" IS NULL THEN 'active' ELSE 'terminated' END",
            "privileged": "coalesce(role IN ('System Administrator'), false)",
            "system": "'ledgerline_erp'",
        },
    })
    assert _column(header, columns, "full_name") == ["Ann Lee", "Bob Ng", "Cy Oh"]
    assert _column(header, columns, "login") == ["ann.lee", "bob.ng", "cy.oh"]
    assert _column(header, columns, "role") == ["AP Clerk", "System Administrator", ""]
    # N/A is read as empty first, so the third person counts as active
    assert _column(header, columns, "status") == ["active", "terminated", "active"]
    assert _column(header, columns, "privileged") == ["false", "true", "false"]
    assert _column(header, columns, "system") == ["ledgerline_erp"] * 3
    summary = "\n".join(disclosure.summary())
    assert "1 value(s) 'N/A' in any column read as empty" in summary
    assert "'status' derived as CASE WHEN" in summary and "'active' 2, 'terminated' 1" in summary


def test_rename_gives_the_reader_its_expected_header_and_keeps_row_order():
    header, columns, _, disclosure = _apply({"columns": {"Employee_ID": "Employee #"}})
    assert header[0] == "Employee_ID"
    assert _column(header, columns, "Employee_ID") == ["E-001", "E-002", "E-003"]
    assert disclosure.renamed == [("Employee_ID", "Employee #")]


def test_rename_onto_an_existing_header_sets_the_original_aside():
    header, columns, _, _ = _apply({"columns": {"Status": "Termination Date"}})
    assert "Status (replaced by options.columns)" in header
    assert _column(header, columns, "Status") == ["", "2026-08-01", "N/A"]


def test_value_maps_ignore_case_and_use_the_default_for_other_values():
    header, columns, _, disclosure = _apply({"values": {"Status": {
        "active": "Active", "Terminated": "Terminated", "*": "On Leave"}}})
    assert _column(header, columns, "Status") == ["Active", "Terminated", "On Leave"]
    assert disclosure.mapped == [("Status", 2, 1, 0)]


def test_value_map_without_default_keeps_other_values_and_never_maps_empty_by_default():
    rows = [r[:] for r in ROWS]
    rows[0][5] = ""
    header, columns, _, disclosure = _apply({"values": {"Status": {"terminated": "Terminated",
                                                                "*": "Active"}}}, rows)
    assert _column(header, columns, "Status") == ["", "Terminated", "Active"]
    assert disclosure.mapped == [("Status", 1, 1, 1)]


def test_per_column_null_tokens_only_touch_their_column():
    rows = [r[:] for r in ROWS]
    rows[0][1] = "N/A"
    header, columns, _, disclosure = _apply({"null_tokens": {"Termination Date": ["n/a"]}}, rows)
    assert _column(header, columns, "Termination Date") == ["", "2026-08-01", ""]
    assert _column(header, columns, "First Name")[0] == "N/A"
    assert disclosure.emptied == [("Termination Date", "n/a", 1)]


def test_a_failing_expression_names_the_file_the_column_and_the_first_failing_line():
    with pytest.raises(TransformError) as caught:
        _apply({"derive": {"terminated_on": "CAST(\"Termination Date\" AS DATE)"}})
    error = caught.value
    assert error.key == "options.derive.terminated_on"
    assert error.line == 4  # header is line 1; 'N/A' is the third record
    assert FILE in str(error) and "line 4" in str(error) and "N/A" in str(error)


def test_an_unknown_column_in_an_expression_gets_a_did_you_mean():
    with pytest.raises(TransformError, match=r"'Frist Name'. Did you mean 'First Name'\?"):
        _apply({"derive": {"x": "\"Frist Name\""}})


@pytest.mark.parametrize("expression, message", [
    ("1; DROP TABLE t", "not statements"),
    ("(SELECT 1)", "subqueries"),
    ("read_text('/etc/passwd')", "cannot be evaluated"),
    ("((", "not a valid SQL expression"),
])
def test_only_an_expression_is_accepted(expression, message):
    with pytest.raises(TransformError, match=message):
        _apply({"derive": {"x": expression}})


def test_the_engine_cannot_read_files():
    with pytest.raises(TransformError):
        _apply({"derive": {"x": "(FROM read_csv('/etc/passwd') LIMIT 1)"}})


def test_a_semicolon_inside_a_literal_is_text_not_a_statement():
    header, columns, _, _ = _apply({"derive": {"x": "'a;b'"}})
    assert _column(header, columns, "x") == ["a;b"] * 3


@pytest.mark.parametrize("options, key", [
    ({"derive": {"Status": "'x'"}}, "options.derive.Status"),
    ({"columns": {"Employee_ID": "Employee"}}, "options.columns.Employee_ID"),
    ({"values": {"State": {"a": "b"}}}, "options.values.State"),
    ({"null_tokens": {"Termination": ["N/A"]}}, "options.null_tokens.Termination"),
])
def test_declarations_naming_missing_columns_are_refused_with_their_key(options, key):
    with pytest.raises(TransformError) as caught:
        _apply(options)
    assert caught.value.key == key


@pytest.mark.parametrize("declared, message", [
    ({"Status": {True: "Active"}}, "boolean or null"),
    ({"Status": ["Active"]}, "must be a mapping"),
    ({"Status": {"Active": "a", "ACTIVE": "b"}}, "mapped twice"),
])
def test_bad_value_maps_are_refused(declared, message):
    with pytest.raises(TransformError, match=message):
        parse_value_maps(FILE, declared)


def test_yaml_booleans_as_expressions_are_refused():
    with pytest.raises(TransformError, match="quote it"):
        parse_transform(FILE, {"derive": {"flag": True}})


@given(st.lists(st.sampled_from(["Active", "ACTIVE", "active ", "Leave", "", "Gone"]),
                max_size=40))
def test_value_maps_keep_every_row_and_match_ignoring_case(values):
    column = pa.chunked_array([pa.array(values, pa.large_string())])
    value_map = parse_value_maps(FILE, {"s": {"active": "A", "*": "O"}})["s"]
    out, (mapped, defaulted, kept) = map_values(column, value_map)
    result = out.to_pylist()
    assert len(result) == len(values)
    assert mapped + defaulted + kept == len(values)
    for before, after in zip(values, result):
        expected = "A" if before.strip().casefold() == "active" else ("O" if before else "")
        assert after == expected


# --- one sandboxed database per process, a cursor per derivation ------------------------------------

def test_every_derivation_on_the_shared_sandbox_is_refused_files_and_settings():
    for _ in range(2):
        with pytest.raises(TransformError):
            _apply({"derive": {"x": "(FROM read_csv('/etc/passwd') LIMIT 1)"}})
    cursor = transform_module._sandbox(duckdb)
    try:
        with pytest.raises(duckdb.Error):
            cursor.execute("SET enable_external_access = true")
        with pytest.raises(duckdb.Error):
            cursor.execute("SELECT * FROM read_text('/etc/passwd')")
    finally:
        cursor.close()


def test_a_failing_derivation_leaves_the_next_one_unharmed_and_results_are_those_of_a_fresh_database(monkeypatch):
    options = {"derive": {"full": "\"First Name\" || ' ' || coalesce(\"Termination Date\", 'active')"}}
    def values(applied):
        return [column.to_pylist() for column in applied[1]]

    shared = _apply(options)
    with pytest.raises(TransformError):
        _apply({"derive": {"terminated_on": "CAST(\"Termination Date\" AS DATE)"}})
    assert values(_apply(options)) == values(shared)
    monkeypatch.setattr(transform_module, "_SANDBOX", None)   # a database opened for this derivation alone
    assert values(_apply(options)) == values(shared)
    assert ["Ann active", "Bob 2026-08-01"] == values(shared)[-1][:2]


def test_a_forked_process_opens_a_sandbox_of_its_own(monkeypatch):
    transform_module._sandbox(duckdb).close()
    first = transform_module._SANDBOX
    monkeypatch.setattr(transform_module.os, "getpid", lambda: first[0] + 1)
    transform_module._sandbox(duckdb).close()
    assert transform_module._SANDBOX[1] is not first[1]
