"""The declared intake layer on real export shapes (tests/data/byo, see SOURCES.md there): any
kind renames, derives and maps its columns; ``kind: mapped`` reaches every canonical table; the
leniency options are chosen by the auditor and disclosed; failures name file, key and line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from workbench import populations as P
from workbench import tables
from workbench.populations import PopulationError, load_source

BYO = Path(__file__).parent / "data" / "byo"
EXPORTS = Path(__file__).parent / "data" / "exports"
BAMBOO = BYO / "bamboohr" / "kestrel_employees_no_status_columns.csv"
AGR_USERS = BYO / "sap" / "AGR_USERS.txt"
MIDPOINT = BYO / "midpoint" / "Certification cases report-KF_Q3_2026.csv"
SOD_BOOK = BYO / "sod_matrix" / "kestrel_sod_ruleset_v3.xlsx"


def rows(population: P.Population) -> dict[str, str]:
    return dict(population.evidence.as_rows())


def conforms(population: P.Population) -> None:
    assert tables.validate_frame(population.table, population.frame) == []


# -- an HR roster with a termination date but no status column (BambooHR custom report) -------

BAMBOO_IDENTITIES = {
    "table": "identities",
    "date_format": "%d/%m/%Y",
    "columns": {"employee_id": "Employee #", "email": "Work Email", "title": "Job Title",
                "department": "Department", "hire_date": "Hire Date",
                "termination_date": "Termination Date"},
    "derive": {
        "full_name": "trim(split_part(\"Last Name, First Name\", ',', 2)) || ' ' || "
                     "trim(split_part(\"Last Name, First Name\", ',', 1))",
        "status": "CASE WHEN \"Termination Date\" IS NULL THEN 'active' ELSE 'terminated' END",
    },
}


def test_an_hr_roster_without_a_status_column_reads_with_derived_status_and_names():
    population = load_source("mapped", BAMBOO, options=BAMBOO_IDENTITIES)
    frame = population.frame.set_index("employee_id")
    assert frame.loc["1001", "full_name"] == "Harriet Okafor"
    assert frame.loc["1001", "status"] == "active"
    assert frame.loc["1008", "status"] == "terminated"  # Ben Carter, left 30/06/2026
    assert frame.loc["1008", "termination_date"] == pd.Timestamp("2026-06-30")
    assert frame.loc["1002", "full_name"] == "Tomasz Wiśniewski"
    conforms(population)
    disclosed = rows(population)["How the export became the table"]
    assert "'status' derived as CASE WHEN" in disclosed
    assert "'terminated'" in disclosed and "'active'" in disclosed
    assert population.evidence.mapping_detail["derived"][1]["column"] == "status"


# -- SAP user-role assignments (AGR_USERS, SE16N tab-delimited download) -----------------------

AGR_USERS_GRANTS = {
    "table": "grants",
    "delimiter": "\t",
    "null_tokens": {"TO_DAT": ["31.12.9999"]},
    "formats": {"FROM_DAT": "%d.%m.%Y", "TO_DAT": "%d.%m.%Y"},
    "columns": {"account_id": "UNAME", "entitlement": "AGR_NAME", "granted_at": "FROM_DAT",
                "removed_at": "TO_DAT"},
}


def test_sap_role_assignments_read_with_per_column_formats_and_the_end_of_time_as_empty():
    population = load_source("mapped", AGR_USERS, system="sap_prd", timezone="Europe/London",
                             options=AGR_USERS_GRANTS)
    frame = population.frame
    carter = frame[frame["login"] == "bcarter"]
    assert len(carter) >= 1
    assert frame["removed_at"].isna().sum() >= 1  # 31.12.9999 means "no end"
    first = frame.iloc[0]
    assert first["granted_at"].tzinfo is not None
    conforms(population)
    disclosed = rows(population)["How the export became the table"]
    assert "'31.12.9999' in column 'TO_DAT' read as empty" in disclosed


# -- a certification export with packed cells (midPoint certification cases report) -----------

MIDPOINT_DECISIONS = {
    "table": "review_decisions",
    "delimiter": ";",
    "formats": {"Last reviewed on": "%m/%d/%y, %I:%M %p"},
    "derive": {
        "subject_email": "regexp_extract(\"Object\", '^User: (.+)$', 1) || '@kestrelfreight.example'",
        "entitlement": "regexp_extract(\"Target\", '^[A-Za-z]+: (.+)$', 1)",
        "access_type": "split_part(\"Target\", ':', 1)",
        "system": "CASE WHEN \"Target\" LIKE 'Role: SAP %' THEN 'sap_prd' ELSE 'other' END",
    },
    "columns": {"campaign_id": "Campaign", "reviewer_name": "Reviewed by",
                "decision": "Outcome", "decided_at": "Last reviewed on",
                "comments": "Comments"},
    "values": {"decision": {"Accept": "approve", "Revoke": "revoke", "Reduce": "revoke",
                            "*": "undecided"}},
}


def test_packed_cells_are_split_by_expression_and_a_short_value_map_has_a_default():
    population = load_source("mapped", MIDPOINT, timezone="Europe/London",
                             options=MIDPOINT_DECISIONS)
    frame = population.frame
    assert set(frame["decision"]) == {"approve", "revoke", "undecided"}
    # "Not decided" by the default '*', and the empty outcome of a line still open
    assert (frame["decision"] == "undecided").sum() == 2
    # the mapped reader's own value map is disclosed too: 12 mapped by an entry, 'Not decided'
    # by the default, the empty outcome kept (read as undecided)
    assert population.evidence.mapping_detail["value_maps"] == [
        {"column": "decision", "mapped": 12, "default": 1, "kept": 1}]
    assert "'Outcome' read as 'decision'" in rows(population)["How the export became the table"]
    aoneill = frame[frame["subject_email"] == "aoneill@kestrelfreight.example"].iloc[0]
    assert aoneill["entitlement"] == "SAP Z_BC_USER_ADMIN"
    assert aoneill["system"] == "sap_prd"
    assert aoneill["decided_at"] == pd.Timestamp("2026-10-06 13:14", tz="UTC")  # 2:14 PM BST
    conforms(population)
    mapped = population.evidence.mapping_detail
    assert [d["column"] for d in mapped["derived"]] == [
        "subject_email", "entitlement", "access_type", "system"]


# -- tables that only dedicated readers built before: SoD mitigations from a rule book ---------

MITIGATIONS = {
    "table": "sod_mitigations",
    "sheet": "Mitigations",
    "null_tokens": {"Valid To": ["31.12.9999"]},
    "derive": {"mitigation_id": "\"Control ID\" || '/' || \"User ID\""},
    "columns": {"rule_id": "Risk ID", "login": "User ID", "mitigating_control":
                "Control Description", "approved_by": "Monitor", "valid_from": "Valid From",
                "valid_to": "Valid To"},
}


def test_a_mitigation_sheet_with_its_own_headers_becomes_the_mitigation_register():
    with pytest.raises(PopulationError) as caught:  # a mitigation still "TBC"
        load_source("mapped", SOD_BOOK, options=MITIGATIONS)
    assert caught.value.row == 6 and caught.value.column == "Valid From"
    assert caught.value.found == "TBC"
    population = load_source("mapped", SOD_BOOK, options={
        **MITIGATIONS, "skip_rows": "\"Valid From\" = 'TBC'"})
    assert [(r.line, r.reason.split(":")[0]) for r in population.evidence.rows_rejected] == [
        (6, "not read")]
    assert "1 row(s) not read because \"Valid From\" = 'TBC'" in rows(population)[
        "How the export became the table"]
    frame = population.frame.set_index("mitigation_id")
    assert frame.loc["MC-01/PRAMAN", "valid_to"] == pd.Timestamp("2026-06-30")
    assert pd.isna(frame.loc["MC-03/PRAMAN", "valid_to"])  # 31.12.9999: open-ended
    assert frame.loc["MC-01/PRAMAN", "login"] == "praman"
    assert population.evidence.key_unique
    conforms(population)


def test_every_canonical_table_can_be_built_by_a_mapping(tmp_path):
    export = tmp_path / "role_tcodes.csv"
    export.write_text("Role,Transaction,Text\nZ_FI_AP_INVOICE,FB60,Enter vendor invoice\n"
                      "Z_FI_AP_INVOICE,MIRO,Enter incoming invoice\n", encoding="utf-8")
    population = load_source("mapped", export, system="sap_prd", options={
        "table": "role_permissions",
        "columns": {"role": "Role", "permission": "Transaction", "description": "Text"},
        "derive": {"permission_type": "'transaction'"}})
    assert list(population.frame["permission"]) == ["FB60", "MIRO"]
    assert set(population.frame["system"]) == {"sap_prd"}
    conforms(population)
    assert set(P.MAPPED_TABLES) == set(tables.TABLES)


def test_a_mapped_rule_set_splits_entitlement_lists_and_needs_both_sides(tmp_path):
    export = tmp_path / "rules.csv"
    export.write_text("Risk,Left,Right,Rating\nR1,Vendor Maintain; Vendor Create,AP Pay,High\n"
                      "R2,GL Post,,Low\n", encoding="utf-8")
    options = {"table": "sod_rules", "columns": {"rule_id": "Risk", "entitlements_a": "Left",
                                                 "entitlements_b": "Right",
                                                 "risk_level": "Rating"}}
    with pytest.raises(PopulationError) as caught:
        load_source("mapped", export, system="erp", options=options)
    assert caught.value.row == 3 and "entitlements_b is required" in str(caught.value)
    export.write_text("Risk,Left,Right,Rating\nR1,Vendor Maintain; Vendor Create,AP Pay,High\n",
                      encoding="utf-8")
    population = load_source("mapped", export, system="erp", options=options)
    assert population.frame.loc[0, "entitlements_a"] == ("Vendor Maintain", "Vendor Create")
    conforms(population)


# -- dedicated readers: a variant header keeps the reader's own handling -----------------------


def _workday_variant(tmp_path: Path, rename: dict[str, str], drop: tuple[str, ...] = ()) -> Path:
    frame = pd.read_csv(EXPORTS / "hr" / "workday_workers.csv", dtype=str, keep_default_na=False)
    frame = frame.drop(columns=list(drop)).rename(columns=rename)
    path = tmp_path / "hr" / "workers.csv"
    path.parent.mkdir()
    frame.to_csv(path, index=False)
    return path


def test_a_dedicated_reader_reads_a_variant_header_through_columns(tmp_path):
    path = _workday_variant(tmp_path, {"Employee ID": "Worker ID", "Email - Work": "Work Email"})
    with pytest.raises(PopulationError, match="missing required column"):
        load_source("workday_workers", path)
    population = load_source("workday_workers", path, options={
        "columns": {"Employee ID": "Worker ID", "Email - Work": "Work Email"}})
    reference = load_source("workday_workers", EXPORTS / "hr" / "workday_workers.csv")
    pd.testing.assert_frame_equal(population.frame, reference.frame)
    assert "'Worker ID' read as 'Employee ID'" in rows(population)["How the export became the table"]
    assert population.evidence.columns[0] == "Worker ID"  # the file's header, as exported


def test_a_dedicated_reader_gets_a_missing_column_derived(tmp_path):
    path = _workday_variant(tmp_path, {}, drop=("Worker Status",))
    population = load_source("workday_workers", path, options={"derive": {
        "Worker Status": "CASE WHEN \"Termination Date\" IS NULL THEN 'Active' "
                         "ELSE 'Terminated' END"}})
    reference = load_source("workday_workers", EXPORTS / "hr" / "workday_workers.csv")
    assert list(population.frame["status"]) == list(reference.frame["status"])


def test_a_bad_value_in_a_renamed_column_names_the_files_header(tmp_path):
    path = _workday_variant(tmp_path, {"Hire Date": "Start"})
    text = path.read_text(encoding="utf-8").splitlines()
    cells = text[2].split(",")
    start = text[0].split(",").index("Start")
    cells[start] = "31/12/2020"
    text[2] = ",".join(cells)
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(PopulationError) as caught:
        load_source("workday_workers", path, options={"columns": {"Hire Date": "Start"}})
    assert caught.value.row == 3
    assert "column 'Start' (read as 'Hire Date' by options.columns)" in str(caught.value)


def test_a_failing_expression_names_the_source_file_the_option_and_the_row():
    options = dict(BAMBOO_IDENTITIES, derive={
        **BAMBOO_IDENTITIES["derive"], "hire_year": "CAST(\"Hire Date\" AS DATE)"})
    with pytest.raises(PopulationError) as caught:
        load_source("mapped", BAMBOO, options=options)
    assert "bamboohr/kestrel_employees_no_status_columns.csv" in str(caught.value)
    assert "options.derive.hire_year" in str(caught.value)
    assert caught.value.row == 2


# -- leniency, chosen by the auditor and disclosed ---------------------------------------------


def test_rows_missing_trailing_fields_are_refused_unless_padding_is_declared(tmp_path):
    path = tmp_path / "apps" / "roles.csv"
    path.parent.mkdir()
    path.write_text("User,Role,Granted,Removed\njdoe,AP Clerk,2026-07-01,\n"
                    "asmith,GL Post,2026-07-02\nbcarter,Admin\n", encoding="utf-8")
    options = {"table": "grants", "columns": {"account_id": "User", "entitlement": "Role",
                                              "granted_at": "Granted", "removed_at": "Removed"}}
    with pytest.raises(PopulationError) as caught:
        load_source("mapped", path, system="erp", options=options)
    assert caught.value.row == 3
    for fast in (False, True):
        population = load_source("mapped", path, system="erp",
                                 options={**options, "pad_missing_fields": True, "fast": fast})
        assert len(population.frame) == 3
        assert population.evidence.padded_lines == (3, 4)
        assert rows(population)[
            "Rows with missing trailing fields read as empty (pad_missing_fields)"] == \
            "2: lines 3, 4"


JIRA = BYO / "jira" / "Jira Export CSV (all fields) 20260930.csv"


def test_a_header_that_repeats_a_name_is_read_numbered_only_when_declared():
    options = {"table": "requests", "columns": {"ticket": "Issue key",
                                                "requested_for": "Reporter",
                                                "action": "Custom field (Request Type)"},
               "values": {"action": {"Leaver - remove access": "revoke", "*": "grant"}}}
    with pytest.raises(PopulationError) as caught:  # Jira repeats Labels and Comment
        load_source("mapped", JIRA, options=options)
    assert "'Labels' (column 20) and 'Labels' (column 21)" in str(caught.value)
    assert "number_headers: true" in str(caught.value)
    population = load_source("mapped", JIRA, options={
        **options, "number_headers": True,
        "derive": {"labels": "concat_ws(', ', \"Labels\", \"Labels (2)\")"}})
    assert len(population.frame) == 15
    evidence = population.evidence
    assert evidence.columns.count("Labels") == 2  # the header as exported
    disclosed = rows(population)["How the export became the table"]
    assert disclosed.startswith("column 21 'Labels' (repeated in the header) read as "
                                "'Labels (2)'; column 31 'Comment' (repeated in the header) "
                                "read as 'Comment (2)'")
    assert evidence.mapping_detail["headers"][0] == {
        "position": 21, "header": "Labels", "read_as": "Labels (2)"}
    assert "'access-request, sap' 5" in disclosed  # both Labels cells, read together


def test_unnamed_columns_of_a_bordered_list_are_named_by_their_position(tmp_path):
    path = tmp_path / "roles.txt"
    path.write_text("|User|Role|\n|jdoe|AP Clerk|\n", encoding="utf-8")
    options = {"delimiter": "|", "table": "grants",
               "columns": {"account_id": "User", "entitlement": "Role"}}
    with pytest.raises(PopulationError, match="column.s. 1, 4 of the header have no name"):
        load_source("mapped", path, system="erp", options=options)
    population = load_source("mapped", path, system="erp",
                             options={**options, "number_headers": True})
    assert population.frame.loc[0, "entitlement"] == "AP Clerk"
    assert population.evidence.mapping[:2] == (
        "column 1 (no name in the header) read as 'column 1'",
        "column 4 (no name in the header) read as 'column 4'")
    with pytest.raises(PopulationError, match="number_headers' must be true or false"):
        load_source("mapped", path, system="erp", options={**options, "number_headers": "yes"})


@pytest.mark.parametrize("suffix", [".json", ".ndjson"])
def test_a_json_file_is_refused_with_what_to_export_instead(tmp_path, suffix):
    path = tmp_path / f"certifications{suffix}"
    path.write_text('[\n  {"id": "c1", "reviewer": {"name": "Marcus Bell"}}\n]\n',
                    encoding="utf-8")
    with pytest.raises(PopulationError, match="a JSON file is not read as a table .* export "
                                              "the data as CSV, .xlsx or Parquet"):
        load_source("mapped", path, options={"table": "campaigns",
                                             "columns": {"campaign_id": "id"}})


def test_a_mapped_source_discloses_its_column_mapping_and_value_maps(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("Id,Mail,State\nE1,a@x.example,Active\nE2,b@x.example,Accepted\n"
                    "E3,c@x.example,ACTIVE\n", encoding="utf-8")
    population = load_source("mapped", path, options={
        "table": "identities", "columns": {"employee_id": "Id", "email": "Mail",
                                           "status": "State"},
        "values": {"status": {"Accepted": "active"}}})
    assert population.evidence.mapping == (
        "'Id' read as 'employee_id'", "'Mail' read as 'email'", "'State' read as 'status'",
        "'status': 1 value(s) mapped, 0 by the default '*', 2 kept as exported")
    assert list(population.frame["status_original"]) == ["Active", "Accepted", "ACTIVE"]


def test_null_tokens_are_counted_per_column(tmp_path):
    path = tmp_path / "apps" / "roles.csv"
    path.parent.mkdir()
    path.write_text("User,Role,Removed\njdoe,AP Clerk,NULL\nasmith,GL Post,null\n"
                    "bcarter,Admin,2026-08-01T00:00:00Z\n", encoding="utf-8")
    options = {"table": "grants", "columns": {"account_id": "User", "entitlement": "Role",
                                              "removed_at": "Removed"}}
    with pytest.raises(PopulationError, match="line 2"):
        load_source("mapped", path, system="erp", options=options)
    population = load_source("mapped", path, system="erp",
                             options={**options, "null_tokens": {"Removed": ["NULL"]}})
    assert population.frame["removed_at"].isna().sum() == 2
    assert population.evidence.mapping_detail["null_tokens"] == [
        {"column": "Removed", "token": "NULL", "count": 2}]


def test_a_log_with_conflicting_duplicate_events_loads_only_when_declared(tmp_path):
    source = EXPORTS / "idp" / "okta_system_log.ndjson"
    events = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()
              if line.strip()]
    changed = dict(events[0], displayMessage="edited")
    path = tmp_path / "idp" / "log.ndjson"
    path.parent.mkdir()
    path.write_text("\n".join(json.dumps(e) for e in [*events, changed]) + "\n",
                    encoding="utf-8")
    with pytest.raises(PopulationError, match="conflicting_duplicates: reject"):
        load_source("okta_system_log", path)
    population = load_source("okta_system_log", path,
                             options={"conflicting_duplicates": "reject"})
    reference = load_source("okta_system_log", source)
    conflicting = len(events) + 1
    assert len(population.frame) == len(reference.frame) - 1
    rejected = {r.line: r.reason for r in population.evidence.rows_rejected}
    assert set(rejected) >= {1, conflicting}
    assert f"also on line(s) {conflicting}" in rejected[1]


def test_a_mapped_table_the_declaration_refuses_is_never_passed_on(tmp_path):
    path = tmp_path / "hr.csv"
    path.write_text("Id,Mail,State\nE1,a@x.example,Active\nE2,,Active\n", encoding="utf-8")
    with pytest.raises(PopulationError) as caught:
        load_source("mapped", path, options={"table": "identities", "columns": {
            "employee_id": "Id", "email": "Mail", "status": "State"}})
    assert caught.value.row == 3 and "email is required in table 'identities'" in str(
        caught.value)


def test_long_mapping_options_are_summarised_in_the_population_section(tmp_path):
    shutil.copy(BAMBOO, tmp_path / "hr.csv")
    departments = {f"Dept {i}": f"Department {i}" for i in range(30)}
    options = dict(BAMBOO_IDENTITIES, values={"department": {**departments, "*": "Other"}})
    population = load_source("mapped", tmp_path / "hr.csv", options=options)
    shown = rows(population)["Reader options"]
    assert "values=1 entries (in full in the appendix)" in shown or "in full in the appendix" in shown
    assert "Dept 17" not in shown
    assert population.evidence.options["values"]["department"]["Dept 17"] == "Department 17"
