"""The worked examples of docs/bring-your-own-exports.md, each read with exactly the YAML the page
shows. The ```yaml block after an ``<!-- example: NAME -->`` comment is parsed out of the page and
loaded as the run loads a source (a ``sources:`` entry of the period file, its path relative to
``parameters/``, the systems of the page's ``<!-- systems -->`` block giving display names their
ids), so the page cannot drift from what the workbench does: a block that stops loading, a
planted finding that stops showing, or an ``<!-- evidence: NAME -->`` text that is no longer the
evidence's "How the export became the table" fails here. The fixtures and their planted
exceptions are described in tests/data/byo/SOURCES.md."""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from workbench import tables
from workbench.check import check_period
from workbench.parameters import Source, System
from workbench.populations import Population, PopulationError, load_source

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "bring-your-own-exports.md"
PARAMETERS = REPO / "parameters"  # the examples' paths are relative to a period file here
BYO = REPO / "tests" / "data" / "byo"
UTC = "UTC"

#: Every example the page must show, and the table it builds.
EXPECTED = {
    "midpoint_review_decisions": "review_decisions",
    "bamboohr_two_status_columns": "identities",
    "bamboohr_last_first": "identities",
    "rippling_identities": "identities",
    "jira_requests": "requests",
    "servicenow_requests": "requests",
    "sap_agr_users": "grants",
    "sap_agr_1251": "role_permissions",
    "entra_signins": "events",
    "approved_administrators": "privileged_approvals",
    "sod_mitigations": "sod_mitigations",
}

_EXAMPLE = re.compile(r"<!-- example: (\w+) -->\s*\n```yaml\n(.*?)\n```", re.S)
_EVIDENCE = re.compile(r"<!-- evidence: (\w+) -->\s*\n```text\n(.*?)\n```", re.S)
_SYSTEMS = re.compile(r"<!-- systems -->\s*\n```yaml\n(.*?)\n```", re.S)


@functools.cache
def _page() -> str:
    return DOC.read_text(encoding="utf-8")


@functools.cache
def _examples() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, block in _EXAMPLE.findall(_page()):
        entries = yaml.safe_load(block)
        assert isinstance(entries, list) and len(entries) == 1, (
            f"example {name}: the block must be one entry of the sources: list")
        assert name not in found, f"example {name} appears twice"
        found[name] = entries[0]
    return found


def example(name: str) -> dict[str, Any]:
    """The example's sources: entry as the page shows it (a copy: tests may change it)."""
    return copy.deepcopy(_examples()[name])


@functools.cache
def systems() -> tuple[System, ...]:
    blocks = _SYSTEMS.findall(_page())
    assert len(blocks) == 1, "the page has one <!-- systems --> block"
    return tuple(System.model_validate(s) for s in yaml.safe_load(blocks[0])["systems"])


def read(entry: dict[str, Any]) -> Population:
    """Load a sources: entry as the run does (procedures.base.read_source)."""
    source = Source.model_validate(entry)
    return load_source(
        source.kind, PARAMETERS / source.path, system=source.system, timezone=source.timezone,
        extracted_at=source.extracted_at.isoformat(), source_system=source.source_system,
        display_names={s.name: s.id for s in systems()},
        **({"options": source.options} if source.options else {}))


@functools.cache
def _loaded(name: str) -> Population:
    return read(example(name))


def loaded(name: str) -> tuple[Population, pd.DataFrame]:
    population = _loaded(name)
    return population, population.frame.copy()


def rows(population: Population) -> dict[str, str]:
    return dict(population.evidence.as_rows())


def rejected(population: Population) -> list[int]:
    return [r.line for r in population.evidence.rows_rejected]


def stamp(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


def one(frame: pd.DataFrame, **where: Any) -> pd.Series:
    """The one row of ``frame`` whose columns have these values."""
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        mask &= frame[column] == value
    matched = frame[mask.fillna(False)]
    assert len(matched) == 1, f"{len(matched)} rows where {where}"
    return matched.iloc[0]


# -- the page and its examples ------------------------------------------------------------------


def test_the_page_shows_every_example_with_its_evidence_and_test():
    assert set(_examples()) == set(EXPECTED)
    assert {name for name, _ in _EVIDENCE.findall(_page())} == set(EXPECTED)
    listed = set(re.findall(r"`(test_\w+)`", _page()))
    assert listed == {f"test_{name}" for name in EXPECTED}
    assert all(callable(globals().get(test)) for test in listed)


def test_the_page_links_only_to_its_own_headings():
    def slug(heading: str) -> str:  # as GitHub names a heading's anchor
        return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")

    headings = {slug(h) for h in re.findall(r"^#+ (.+)$", _page(), re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", _page()))
    assert links and links <= headings, sorted(links - headings)
    for target in re.findall(r"\]\((?!#|https?:)([^)]+)\)", _page()):
        assert (DOC.parent / target).resolve().is_file(), target


@pytest.mark.parametrize("name", EXPECTED)
def test_every_example_is_a_complete_sources_entry_with_short_value_maps(name):
    entry = example(name)
    source = Source.model_validate(entry)  # what the period file's sources: list accepts
    assert source.kind == "mapped" and source.options["table"] == EXPECTED[name]
    assert (PARAMETERS / source.path).resolve().is_file()
    assert (PARAMETERS / source.path).resolve().is_relative_to(BYO)
    for column, mapping in (source.options.get("values") or {}).items():
        assert len(mapping) <= 20, f"{name}: the value map of {column} has {len(mapping)} entries"


@pytest.mark.parametrize("name", EXPECTED)
def test_every_example_loads_into_a_table_its_declaration_accepts(name):
    population, frame = loaded(name)
    assert population.table == EXPECTED[name]
    assert tables.validate_frame(population.table, frame) == []
    assert population.evidence.key_unique
    shown = dict(_EVIDENCE.findall(_page()))[name].split("\n")
    assert list(population.evidence.mapping) == shown  # the page quotes the evidence as written
    assert rows(population)["How the export became the table"] == "; ".join(shown)


def test_workbench_check_reads_every_example_as_the_run_will(tmp_path):
    sources = []
    for name in EXPECTED:
        entry = example(name)
        entry["path"] = str((PARAMETERS / entry["path"]).resolve())
        sources.append(entry)
    period = {
        "entity": "Kestrel Freight Ltd",
        "period": {"id": "2026-Q3", "start": "2026-07-01", "end": "2026-09-30"},
        "preparer": "Preparer", "reviewer": "Reviewer", "seed": 1,
        "systems": [s.model_dump(exclude_defaults=True) for s in systems()],
        "sources": sources, "controls": []}
    path = tmp_path / "kestrel-2026-Q3.yaml"
    path.write_text(yaml.safe_dump(period, sort_keys=False, allow_unicode=True), encoding="utf-8")
    report = check_period(path)
    # no control uses these sources here; every source reads, with the table the page names
    assert [p.key for p in report.problems] == ["controls"]
    assert report.tables == {example(name)["id"]: table for name, table in EXPECTED.items()}


# -- 1. midPoint certification cases report -> review_decisions ----------------------------------


def test_midpoint_review_decisions():
    population, frame = loaded("midpoint_review_decisions")
    assert len(frame) == 14
    assert set(frame["campaign_id"]) == {"KF Q3 2026 Role Recertification"}
    own = frame[frame["reviewer_name"] == frame["subject_email"]]  # reviewed their own access
    assert list(own["subject_email"]) == ["mbell"]
    mbell = one(frame, subject_email="mbell")
    assert (mbell["system"], mbell["entitlement"], mbell["decision"]) == (
        "active_directory", "Domain Admins", "approve")
    aoneill = one(frame, subject_email="aoneill")
    assert (aoneill["system"], aoneill["entitlement"], aoneill["access_type"]) == (
        "sap_s4_prd", "Z_BC_USER_ADMIN", "Role")
    assert aoneill["decided_at"] == stamp("2026-10-06 13:14")  # 10/6/26, 2:14 PM in London
    jthompson = one(frame, subject_email="jthompson")  # no outcome: nobody responded
    assert jthompson["decision"] == "undecided" and pd.isna(jthompson["decided_at"])
    assert pd.isna(jthompson["reviewer_name"])
    salmeida = one(frame, subject_email="salmeida")
    assert (salmeida["decision"], salmeida["decision_original"]) == ("undecided", "Not decided")
    rpatel = one(frame, subject_email="rpatel")
    assert (rpatel["decision"], rpatel["decision_original"]) == ("revoke", "Reduce")
    ogrant = one(frame, subject_email="ogrant")
    assert pd.isna(ogrant["system"]) and ogrant["entitlement"] == "Technology"
    assert one(frame, subject_email="praman", entitlement="Z_MM_VENDOR_MAINT")[
        "reviewer_name"] == "hokafor"  # decided by someone not among the reviewers


def test_midpoint_an_outcome_word_nobody_declared_stops_the_load():
    entry = example("midpoint_review_decisions")
    del entry["options"]["values"]["decision"]["Reduce"]
    with pytest.raises(PopulationError) as caught:
        read(entry)
    assert caught.value.row == 11 and caught.value.found == "Reduce"


# -- 2. and 3. BambooHR -> identities -----------------------------------------------------------


def test_bamboohr_two_status_columns():
    population, frame = loaded("bamboohr_two_status_columns")
    frame = frame.set_index("employee_id")
    assert len(frame) == 22
    assert frame["status"].value_counts().to_dict() == {"active": 18, "terminated": 4}
    # Status says Active, Employment Status says Terminated: he left on 10/07/2026
    assert frame.loc["1014", "status"] == "terminated"
    assert frame.loc["1014", "termination_date"] == pd.Timestamp("2026-07-10")
    assert frame.loc["1008", "termination_date"] == pd.Timestamp("2026-06-30")  # Ben Carter
    assert frame.loc["1022", "status"] == "terminated"  # Hannah Reid: no termination date
    assert pd.isna(frame.loc["1022", "termination_date"])
    assert frame.loc["1021", "status"] == "active"  # Leo Marchetti, a future starter
    assert frame.loc["1021", "hire_date"] == pd.Timestamp("2026-10-12")
    assert frame.loc["1007", "full_name"] == "Aisling O'Neill"
    assert frame.loc["1002", "email"] == "tomasz.wisniewski@kestrelfreight.example"


def test_bamboohr_last_first():
    population, frame = loaded("bamboohr_last_first")
    frame = frame.set_index("employee_id")
    assert len(frame) == 22
    assert frame.loc["1002", "full_name"] == "Tomasz Wiśniewski"
    assert frame.loc["1001", "full_name"] == "Harriet Okafor"
    assert frame.loc["1008", "status"] == "terminated"
    assert frame.loc["1008", "termination_date"] == pd.Timestamp("2026-06-30")
    assert sorted(frame.index[frame["status"] == "terminated"]) == ["1008", "1009", "1014"]
    assert frame.loc["1022", "status"] == "active"  # her leaving cannot be seen in this report


# -- 4. Rippling -> identities -----------------------------------------------------------------


def test_rippling_identities():
    population, frame = loaded("rippling_identities")
    frame = frame.set_index("email")
    assert len(frame) == 22
    leo = frame.loc["leo.marchetti@kestrelfreight.example"]
    assert (leo["status"], leo["status_original"]) == ("active", "Accepted")
    assert leo["hire_date"] == pd.Timestamp("2026-10-12")  # 10/12/2026, month first
    jack = frame.loc["jack.thompson@kestrelfreight.example"]
    assert jack["status"] == "terminated" and jack["termination_date"] == pd.Timestamp(
        "2026-07-10")
    assert frame.loc["raj.patel@kestrelfreight.example", "manager_employee_id"] == (
        "ben.carter@kestrelfreight.example")  # reports to a leaver
    assert frame.loc["ben.carter@kestrelfreight.example", "termination_date"] == pd.Timestamp(
        "2026-06-30")
    assert frame.loc["harriet.okafor@kestrelfreight.example", "hire_date"] == pd.Timestamp(
        "2019-03-04")


# -- 5. and 6. Jira and ServiceNow -> requests --------------------------------------------------

MARCUS = "marcus.bell@kestrelfreight.example"


def test_jira_requests():
    population, frame = loaded("jira_requests")
    frame = frame.set_index("ticket")
    assert len(frame) == 15
    itsd1052 = frame.loc["ITSD-1052"]  # Marcus Bell asks for, and approves, his Domain Admins
    assert itsd1052["requested_for"] == itsd1052["opened_by"] == itsd1052["approver"] == MARCUS
    assert (itsd1052["system"], itsd1052["approval"]) == ("active_directory", "approved")
    itsd1045 = frame.loc["ITSD-1045"]  # approved on 10 July, granted on 8 July
    assert itsd1045["approved_at"] == stamp("2026-07-09 23:00")
    assert itsd1045["closed_at"] == stamp("2026-07-08 13:05")
    assert itsd1045["approved_at"] > itsd1045["closed_at"]
    itsd1095 = frame.loc["ITSD-1095"]  # Won't Do, yet granted in SAP
    assert (itsd1095["approval"], itsd1095["state"], itsd1095["system"],
            itsd1095["entitlement"]) == ("rejected", "Closed", "sap_s4_prd", "Z_FI_GL_MASTER")
    itsd1093 = frame.loc["ITSD-1093"]  # done without an approval date
    assert pd.isna(itsd1093["approval"]) and pd.isna(itsd1093["approved_at"])
    itsd1098 = frame.loc["ITSD-1098"]  # Jack Thompson's leaver ticket, still open
    assert itsd1098["action"] == "revoke" and pd.isna(itsd1098["closed_at"])
    assert pd.isna(itsd1098["system"])
    assert frame.loc["ITSD-1084", "approval"] == "requested"
    assert frame.loc["ITSD-1063", "requested_for"] == "ben.carter@kestrelfreight.example"
    assert frame.loc["ITSD-1058", "approver"] == "tomasz.wisniewski@kestrelfreight.example"
    assert frame.loc["ITSD-1071", "approver"] == "liam.walsh@kestrelfreight.example"
    assert (frame["action"] == "revoke").sum() == 3
    assert rows(population)["Display names not mapped to a system"] == "All: 3"


def test_jira_repeated_headers_are_refused_without_number_headers():
    entry = example("jira_requests")
    del entry["options"]["number_headers"]
    with pytest.raises(PopulationError) as caught:
        read(entry)
    assert ("duplicated column name(s) in the header: 'Labels' (column 20) and 'Labels' "
            "(column 21); 'Comment' (column 30) and 'Comment' (column 31)") in str(caught.value)


def test_servicenow_requests():
    population, frame = loaded("servicenow_requests")
    frame = frame.set_index("ticket")
    assert len(frame) == 13
    own = frame.loc["RITM0010236"]  # Marcus Bell's own Entra Global Administrator
    assert own["requested_for"] == own["opened_by"] == MARCUS
    assert (own["system"], own["entitlement"]) == ("entra_id", "Global Administrator")
    assert own["opened_at"] == stamp("2026-07-08 06:55")  # 07:55 London time
    rejected_but_done = frame.loc["RITM0010252"]
    assert (rejected_but_done["approval"], rejected_but_done["state"]) == (
        "rejected", "Closed Complete")
    leaver = frame.loc["RITM0010273"]
    assert (leaver["action"], leaver["approval"], leaver["approval_original"]) == (
        "revoke", "not_yet_requested", "Not Yet Requested")
    assert pd.isna(leaver["closed_at"])
    assert frame.loc["RITM0010262", "requested_for"] == "aisling.oneill@kestrelfreight.example"
    assert frame.loc["RITM0010247", "requested_for"] == "ben.carter@kestrelfreight.example"
    assert frame["approver"].isna().all()  # the approvals are in sysapproval_approver
    assert rows(population)["Display names not mapped to a system"] == "All: 1; Power BI: 1"


# -- 7. and 8. SAP -> grants and role_permissions -----------------------------------------------


def test_sap_agr_users():
    population, frame = loaded("sap_agr_users")
    assert len(frame) == 24
    assert rejected(population) == [26]  # the client 200 row
    assert population.evidence.rows_rejected[0].reason == (
        "not read: options.skip_rows (\"MANDT\" <> '100')")
    assert set(frame["system"]) == {"sap_s4_prd"}
    carter = frame[frame["login"] == "bcarter"]  # left 30/06/2026: 31.12.9999, not removed
    assert len(carter) == 2 and carter["removed_at"].isna().all()
    assert frame[frame["login"] == "jthompson"]["removed_at"].isna().all()
    dubois = one(frame, login="cdubois")
    assert dubois["removed_at"] == stamp("2026-08-14 23:00")  # 15.08.2026, London midnight
    assert set(frame[frame["login"] == "praman"]["entitlement"]) == {
        "Z_FI_AP_INVOICE", "Z_FI_AP_PAYMENT_RUN", "Z_MM_VENDOR_MAINT"}
    assert one(frame, login="praman", entitlement="Z_FI_AP_INVOICE")["line"] == 3
    assert one(frame, login="twisniewski", entitlement="Z_FI_GL_MASTER")[
        "entitlement_type"] == "composite_child"
    assert one(frame, login="salmeida", entitlement="Z_FI_GL_MASTER")[
        "granted_at"] == stamp("2026-07-20 23:00")
    basis = frame[(frame["login"] == "ogrant") & (frame["entitlement"] == "Z_BASIS_ADMIN")]
    assert list(basis["removed_at"].isna()) == [False, True]  # expired, then granted again
    assert sorted(frame[frame["privileged"]]["login"]) == [
        "aoneill", "ff_id01", "ogrant", "ogrant", "ogrant"]
    assert not any("privileged-entitlement list" in note for note in population.evidence.notes)


def test_sap_agr_1251():
    population, frame = loaded("sap_agr_1251")
    assert len(frame) == 24
    assert rejected(population) == [7, 10, 33]  # the two dashed rules and the deleted FB01
    assert population.evidence.padded_lines == (7, 33)
    assert population.evidence.preamble[1].startswith("Table:")
    assert population.evidence.columns[0] == population.evidence.columns[-1] == ""
    by_role = frame.groupby("role")["permission"].apply(set)
    transactions = frame[frame["permission_type"] == "transaction"]
    assert set(transactions[transactions["role"] == "Z_BC_USER_ADMIN"]["permission"]) == {
        "SU01", "PFCG"}
    assert "FB01" not in by_role["Z_FI_AP_INVOICE"]
    assert "F_BKPF_BUK BUKRS 1000-1999" in by_role["Z_FI_AP_INVOICE"]
    assert one(frame, role="Z_DISPLAY_ALL")["permission"] == "*"
    assert set(frame["system"]) == {"sap_s4_prd"}


# -- 9. Entra sign-ins -> events ----------------------------------------------------------------


def test_entra_signins():
    population, frame = loaded("entra_signins")
    assert len(frame) == 14
    assert population.evidence.columns.count("Incoming token type") == 2  # as exported
    assert frame["outcome_result"].value_counts().to_dict() == {
        "SUCCESS": 11, "FAILURE": 2, "CHALLENGE": 1}
    carter = frame[frame["actor_login"] == "ben.carter@kestrelfreight.example"]
    success = one(carter, outcome_result="SUCCESS")  # two weeks after he left
    assert success["published"] == stamp("2026-07-14 09:12:30")
    assert success["target_login"] == "manhattan wms"
    assert success["target_id"] == "bb398408-ce74-10fe-1930-a689e9db510a"  # 'Application ID '
    assert one(carter, outcome_result="FAILURE")["outcome_reason"].startswith("50126: ")
    jack = one(frame, actor_login="jack.thompson@kestrelfreight.example")
    assert jack["published"] == stamp("2026-07-22 06:30:51")
    assert one(frame, actor_login="leo.marchetti@kestrelfreight.example")[
        "published"] == stamp("2026-09-22 19:04:33")
    guest = frame[frame["actor_login"].str.contains("#ext#")]
    assert list(guest["display_message"].str.startswith("Guest sign-in")) == [True]
    batch = one(frame, actor_login="svc-sapbatch@kestrelfreight.example")
    assert "Single-factor authentication" in batch["display_message"]
    assert one(frame, actor_login="chloe.dubois@kestrelfreight.example")[
        "outcome_reason"] == "50057: The user account is disabled."
    assert set(frame["event_type"]) == {"entra.signin.interactive"}


# -- 10. approved administrators register -> privileged_approvals -------------------------------


def test_approved_administrators():
    population, frame = loaded("approved_administrators")
    assert len(frame) == 14
    assert rejected(population) == [19, 20, 21]  # a blank row, then the two '*' notes
    frame = frame.set_index(["system", "account"])
    own = frame.loc[("active_directory", "kf\\mbell-adm")]  # approved by himself
    assert (own["approved_by"], own["approved_on"]) == ("Marcus Bell", pd.Timestamp("2026-07-06"))
    assert frame.loc[("entra_id", MARCUS), "approved_by"] == "Marcus Bell"
    aoneill = frame.loc[("active_directory", "kf\\aoneill-adm")]
    assert aoneill["approved_on"] == pd.Timestamp("2025-03-12")  # '12th March 2025'
    assert aoneill["expires_on"] == pd.Timestamp("2026-03-31")  # review overdue
    assert frame.loc[("aws_prod", "owen.price"), "approved_on"] == pd.Timestamp(
        "2026-07-06")  # '06.07.26'
    assert pd.isna(frame.loc[("sap_s4_prd", "z_bc_user_admin"), "approved_on"])  # 'TBC'
    assert pd.isna(frame.loc[("aws_prod", "aisling.oneill"), "approved_on"])  # 'Pending'
    guest = frame.loc[("entra_id",
                       "oliver.grant_grantbasis.example#ext#@kestrelfreight.onmicrosoft.com")]
    assert (guest["approved_by"], guest["approved_on"]) == ("Liam Walsh",
                                                            pd.Timestamp("2026-07-20"))
    assert frame.loc[("manhattan_wms", "bcarter"), "expires_on"] == pd.Timestamp("2024-02-01")
    assert ("sap_s4_prd", "z_basis_admin; z_bc_user_admin") in frame.index  # packed: one row
    assert pd.isna(frame.loc[("sap_s4_prd", "batch_user"), "approved_by"])
    assert pd.isna(frame.loc[("sap_s4_prd", "z_fi_emergency"), "expires_on"])


def test_approved_administrators_a_date_written_another_way_stops_the_load(tmp_path):
    entry = example("approved_administrators")
    options = {k: v for k, v in entry["options"].items() if k not in ("sheet", "preamble_lines")}
    register = tmp_path / "register.csv"
    register.write_text(
        "Admin Name,System,Access Level,Account / Username,Approved By,Approval Date,Review Due\n"
        "Marcus Bell,Entra ID,Global Administrator,mbell,Ethan Brooks,12th March 2025,\n"
        "Owen Price,Entra ID,Global Administrator,oprice,Ethan Brooks,March 12 2025,\n",
        encoding="utf-8")
    entry.update(path=str(register), options=options)
    with pytest.raises(PopulationError) as caught:
        read(entry)
    assert caught.value.row == 3 and "options.derive.approved_on" in str(caught.value)


# -- 11. SoD rule book, Mitigations sheet -> sod_mitigations ------------------------------------


def test_sod_mitigations():
    population, frame = loaded("sod_mitigations")
    assert len(frame) == 4
    assert rejected(population) == [6]  # SALMEIDA's MC-05, valid from 'TBC'
    frame = frame.set_index("mitigation_id")
    assert "MC-05/SALMEIDA" not in frame.index
    assert frame.loc["MC-01/PRAMAN", "valid_to"] == pd.Timestamp("2026-06-30")  # expired
    assert frame.loc["MC-01/PRAMAN", "login"] == "praman"
    assert frame.loc["MC-03/PRAMAN", "valid_from"] == pd.Timestamp("2026-07-08")
    assert pd.isna(frame.loc["MC-03/PRAMAN", "valid_to"])  # 31.12.9999: open-ended
    assert frame.loc["MC-01/DMURPHY", "valid_to"] == pd.Timestamp("2027-06-30")
    assert frame["approved_by"].isna().all()  # the register names a monitor, not an approver
    assert frame.loc["MC-03/PRAMAN", "mitigating_control"].endswith(
        "(Monthly, monitor: Declan Murphy)")


def test_sod_mitigations_a_start_still_tbc_stops_the_load_until_it_is_skipped():
    entry = example("sod_mitigations")
    del entry["options"]["skip_rows"]
    with pytest.raises(PopulationError) as caught:
        read(entry)
    assert caught.value.row == 6 and caught.value.column == "Valid From"
    assert "expected a date like 2026-07-01, found 'TBC'" in str(caught.value)


# -- SailPoint: its API files are JSON, which intake does not read -------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in (BYO / "sailpoint_isc").glob("*.json")))
def test_sailpoint_json_is_refused_with_what_to_export_instead(name):
    with pytest.raises(PopulationError, match="a JSON file is not read as a table"):
        load_source("mapped", BYO / "sailpoint_isc" / name, options={
            "table": "review_decisions",
            "columns": {"campaign_id": "campaign.id", "subject_email": "identitySummary.name",
                        "entitlement": "accessSummary.access.name", "decision": "decision"}})
