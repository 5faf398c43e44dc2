"""Identity resolution on the second company (issue 13, item 3): Kestrel's SAP users tied to people
without the identity provider, through an alias table, find what the IdP's assignments found; and
the people named in Jira, the mitigation register and the admin register are recognised by name.

The alias table is SAP's own "Users by address data" list (SUIM, RSUSR002_ADDRESS: User Name,
Complete Name, E-Mail Address), written here from the same cast; users without an e-mail (the
batch user, the firefighter) are skipped as SAP lists them with an empty address.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from workbench import procedures
from workbench.runner import prepare_run

KESTREL = ROOT / "tests" / "data" / "companies" / "kestrel"
PERIOD = "kestrel-2026-Q3.yaml"
CONTROLS = ("UAR-01", "PRIV-01", "SOD-CTL-01")
ALIAS_SOURCE = {
    "id": "sap_users_by_address",
    "kind": "mapped",
    "path": "exports/2026-Q3/sap/RSUSR002_ADDRESS.csv",
    "source_system": "SAP S/4HANA PRD (SUIM Users by address data, CSV)",
    "system": "sap_s4_prd",
    "extracted_at": "2026-10-01T06:00:00Z",
    "options": {
        "table": "identity_aliases",
        "skip_rows": '"E-Mail Address" IS NULL',
        "derive": {"system": "'sap_s4_prd'"},
        "columns": {"identifier": "User Name", "person": "E-Mail Address", "note": "Complete Name"},
    },
}


def sap_users(folder: Path) -> list[tuple[str, str, str]]:
    """(SAP user, complete name, e-mail) of every SAP user of the fixture, from the Okta SAP app's
    application logins (the same facts a SUIM list holds), plus the two users SAP lists without an
    e-mail."""
    params = prepare_run(folder / PERIOD, folder / "outputs" / "aliases").parameters
    okta = procedures.base.read_source(params.source("okta_assignments"),
                                       folder / params.source("okta_assignments").path, list(params.systems)).frame
    hr = procedures.base.read_source(params.source("hr_bamboohr"), folder / params.source("hr_bamboohr").path,
                                     list(params.systems)).frame
    names = dict(zip(hr["email"], hr["full_name"]))
    sap = okta[okta["system"] == "sap_s4_prd"].drop_duplicates("application_login")
    rows = sorted({(str(u).upper(), names.get(e, ""), e) for u, e in zip(sap["application_login"], sap["login"])})
    return rows + [("FF_ID01", "Firefighter Finance", ""), ("SAPBATCH", "Batch user", "")]


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> Path:
    """Kestrel in a folder of its own: the committed exports, the SUIM alias list beside them."""
    folder = tmp_path_factory.mktemp("kestrel-aliases")
    (folder / "exports").mkdir()
    for item in (KESTREL / "exports" / "2026-Q3").iterdir():
        (folder / "exports" / "2026-Q3").mkdir(exist_ok=True)
        if item.name != "sap":
            (folder / "exports" / "2026-Q3" / item.name).symlink_to(item)
    sap = folder / "exports" / "2026-Q3" / "sap"
    sap.mkdir()
    for item in (KESTREL / "exports" / "2026-Q3" / "sap").iterdir():
        (sap / item.name).symlink_to(item)
    (folder / PERIOD).write_text((KESTREL / PERIOD).read_text(encoding="utf-8"), encoding="utf-8")
    lines = ["User Name,Complete Name,E-Mail Address"] + [f'{u},"{n}",{e}' for u, n, e in sap_users(folder)]
    (sap / "RSUSR002_ADDRESS.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def variant(folder: Path, control_id: str, *, aliases: bool, people_match: list[str] | None = None) -> Path:
    """The period with only ``control_id``; with ``aliases``, its IdP assignments replaced by the
    SUIM alias list and SAP's rules ``[email, alias]``."""
    data = yaml.safe_load((folder / PERIOD).read_text(encoding="utf-8"))
    data["controls"] = [c for c in data["controls"] if c["id"] == control_id]
    if aliases:
        data["sources"].append(ALIAS_SOURCE)
        sources = data["controls"][0]["sources"]
        sources.pop("idp_assignments")
        sources["identity_aliases"] = ALIAS_SOURCE["id"]
        next(s for s in data["systems"] if s["id"] == "sap_s4_prd")["identity_match"] = ["email", "alias"]
    if people_match is not None:
        data["people_match"] = people_match
    name = f"{control_id}-{'aliases' if aliases else 'okta'}-{'-'.join(people_match or ['default'])}.yaml"
    (folder / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return folder / name


def execute(period: Path, control_id: str):
    context = prepare_run(period, period.parent / "outputs" / period.stem)
    test = procedures.procedure_class(context.parameters.control(control_id).procedure).open(str(context.run_dir),
                                                                                             control_id)
    test.load_sources()
    test.run_analytics()
    test.select_sample()
    test.record()
    return test


def findings(test) -> collections.Counter:
    return collections.Counter((f.rule, f.subject, f.system) for f in test.findings())


@pytest.fixture(scope="module")
def runs(company):
    return {control: (execute(variant(company, control, aliases=False), control),
                      execute(variant(company, control, aliases=True), control)) for control in CONTROLS}


@pytest.mark.parametrize("control", CONTROLS)
def test_an_alias_table_ties_sap_users_without_the_identity_provider(runs, control):
    with_okta, with_aliases = runs[control]
    assert findings(with_aliases) == findings(with_okta)
    assert not with_aliases.given("idp_assignments")
    sap = {rule for frame in with_aliases._matched_accounts
           for system, rule in zip(frame["system"], frame["match_rule"]) if system == "sap_s4_prd"}
    assert "alias" in sap and "application_login" not in sap
    shown = "".join(block.markup for block in with_aliases.identity_evidence())
    assert "<td>sap_s4_prd</td>\n      <td>alias</td>" in shown


def test_the_firefighter_stays_an_orphan_when_the_alias_list_has_no_e_mail_for_it(runs):
    _, with_aliases = runs["UAR-01"]
    gaps = {(f.rule, f.subject) for f in with_aliases.findings()}
    assert ("review_population_gap", "ff_id01") in gaps
    unmatched = "".join(block.markup for block in with_aliases.identity_evidence())
    assert "Accounts no rule tied to a worker" in unmatched and "ff_id01" in unmatched


def test_names_on_tickets_and_registers_count_only_through_the_display_name_rule(company):
    """Without display_name among the people rules, the Jira names are recognised as nobody: the
    planted self-approval is missed (so the rule, not a naming convention, finds it)."""
    by_name = execute(variant(company, "PROV-01", aliases=False), "PROV-01")
    by_email = execute(variant(company, "PROV-01", aliases=False, people_match=["email", "employee_id"]), "PROV-01")
    assert "self_approval" in {f.rule for f in by_name.findings()}
    assert "self_approval" not in {f.rule for f in by_email.findings()}
    requests = by_name.frame("access_requests")
    assert set(requests["requested_for_match_rule"].dropna()) == {"display_name"}
    assert requests["requested_for"].str.endswith("@kestrelfreight.example").all()
