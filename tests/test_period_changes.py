"""The period-over-period view (issue 16, item 6): what changed since the prior period's run.

Fenwick Marine Ltd (tests/data/period_changes/fenwick, not the demo company) is run for real in two
quarters: Q1 2026, signed off, then Q2 2026 with ``--prior-run`` naming Q1. Between them: two joiners
(one hired in May, one in June), two leavers (one terminated on the roster, one dropped from it),
grants added and removed in two AWS accounts, and findings resolved (access removed), new (a new
administrator off the register, an approval that expired) and recurring (an administrator off the
register in both quarters). The prior run is refused when it is not evidence for this period.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import ROOT, sign_off_workpapers
from workbench import cli, lineage, period_changes, prior_run, runner
from workbench.parameters import load_period

FENWICK = ROOT / "tests" / "data" / "period_changes" / "fenwick"
Q1, Q2 = FENWICK / "fenwick-2026-Q1.yaml", FENWICK / "fenwick-2026-Q2.yaml"
PREPARER, REVIEWER = "Noor Haddad, IT Audit Senior", "Iris Marsh, Head of Internal Audit"
MAIL = "@fenwickmarine.example"


# --- the comparisons, on their own ----------------------------------------------------------------

def roster(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"employee_id": e, "email": f"{n}{MAIL}", "status": s, "termination_date": None,
                          "hire_date": None, "reference": f"hr.csv line {i}"} for i, (e, n, s) in enumerate(rows, 2)])


def test_joiners_leavers_and_rehires_are_keyed_on_the_employee_number():
    prior = roster(("1", "ann", "active"), ("2", "bo", "on_leave"), ("3", "cy", "active"), ("4", "di", "terminated"))
    current = roster(("1", "ann", "active"), ("2", "bo", "terminated"), ("4", "di", "active"), ("5", "ed", "active"))
    changes, headcount = period_changes.people_changes(prior, current)
    by_change = {c: sorted(changes[changes["change"] == c]["subject"]) for c in ("joiner", "leaver")}
    assert by_change == {"joiner": [f"di{MAIL} (4)", f"ed{MAIL} (5)"], "leaver": [f"bo{MAIL} (2)", f"cy{MAIL} (3)"]}
    details = dict(zip(changes["subject"], changes["detail"]))
    assert details[f"di{MAIL} (4)"] == "rehired" and details[f"cy{MAIL} (3)"] == "no longer on the HR roster"
    assert (headcount.prior, headcount.added, headcount.removed, headcount.current) == (3, 2, 2, 3)


def test_grants_are_compared_on_system_login_and_entitlement_and_reconciled_per_system():
    def listing(*rows: tuple[str, str, str]) -> pd.DataFrame:
        return pd.DataFrame([{"system": s, "login": lg, "entitlement": e, "reference": f"l.csv line {i}"}
                             for i, (s, lg, e) in enumerate(rows, 2)])
    prior = listing(("a", "x", "Admin"), ("a", "y", "Dev"), ("b", "x", "Billing"))
    current = listing(("a", "x", "Admin"), ("a", "x", "Dev"), ("a", "x", "Dev"), ("b", "z", "Billing"))
    changes, per_system = period_changes.grant_changes(prior, current)
    assert set(zip(changes["change"], changes["system"], changes["subject"], changes["detail"])) == {
        ("added", "a", "x", "Dev"), ("removed", "a", "y", "Dev"), ("added", "b", "z", "Billing"),
        ("removed", "b", "x", "Billing")}
    assert [(r.what, r.prior, r.added, r.removed, r.current) for r in per_system] == [
        ("grants held in a", 2, 1, 1, 2), ("grants held in b", 1, 1, 1, 1)]


def test_a_grant_removed_before_the_listing_was_extracted_is_not_held():
    at = pd.Timestamp("2026-07-01T06:00:00Z")
    listing = pd.DataFrame({"system": ["s"] * 3, "login": ["a", "b", "c"], "entitlement": ["R"] * 3,
                            "removed_at": [None, "2026-06-30T00:00:00Z", "2026-12-31T00:00:00Z"]})
    assert list(period_changes.held_grants(listing, at)["login"]) == ["a", "c"]


def test_findings_are_resolved_new_or_recurring_by_finding_key_and_counted_per_rule():
    def register(*rows: tuple[str, str, str]) -> pd.DataFrame:
        return pd.DataFrame([{"exception_id": f"EX-{k}-{rule}", "finding_key": k, "rule": rule, "subject": k,
                              "system": "s"} for k, rule in ((k, rule) for k, rule, _ in rows)])
    prior = register(("FK-1", "drift", ""), ("FK-2", "drift", ""), ("FK-3", "expired", ""))
    current = register(("FK-2", "drift", ""), ("FK-4", "drift", ""))
    changes = period_changes.finding_changes(prior, current)
    assert dict(zip(changes["subject"], changes["change"])) == {"FK-1": "resolved", "FK-3": "resolved",
                                                                "FK-2": "recurring", "FK-4": "new"}
    by_rule = period_changes.findings_by_rule(changes, prior, current).set_index("rule")
    assert by_rule.loc["drift"].to_dict() == {"prior period": 2, "resolved": 1, "new": 1, "recurring": 1,
                                              "this period": 2}
    assert by_rule.loc["expired"].to_dict() == {"prior period": 1, "resolved": 1, "new": 0, "recurring": 0,
                                                "this period": 0}


@given(st.sets(st.text("abc", max_size=3)), st.sets(st.text("abc", max_size=3)))
def test_every_population_roll_forward_reconciles(prior, current):
    changes, rolled = period_changes.population_changes(sorted(prior), sorted(current), "items")
    assert rolled.reconciles and (rolled.prior, rolled.current) == (len(prior), len(current))
    assert set(changes[changes["change"] == "added"]["subject"]) == current - prior
    assert set(changes[changes["change"] == "removed"]["subject"]) == prior - current


# --- two real runs --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("fenwick") / "outputs"
    assert cli.main(["run", str(Q1), "--out", str(out), "--jobs", "1"]) == 0
    first = runner.latest_run(out / "2026-Q1")
    sign_off_workpapers(first, preparer=PREPARER, reviewer=REVIEWER)
    runner.signoff_run(first, REVIEWER)
    assert cli.main(["run", str(Q2), "--out", str(out), "--jobs", "1", "--prior-run", str(out / "2026-Q1")]) == 0
    return {"Q1": first, "Q2": runner.latest_run(out / "2026-Q2"), "out": out}


@pytest.fixture(scope="module")
def changes(runs) -> pd.DataFrame:
    return pd.read_csv(runs["Q2"] / "PRIV-01" / period_changes.DETAIL_FILE, dtype=str, keep_default_na=False)


def of(changes: pd.DataFrame, category: str, change: str) -> set[tuple[str, ...]]:
    rows = changes[(changes["category"] == category) & (changes["change"] == change)]
    return set(zip(rows["system"], rows["subject"], rows["detail"]))


def test_joiners_and_leavers_since_the_prior_period(changes):
    assert of(changes, "people", "joiner") == {("HR", f"gus.hale{MAIL} (2007)", "hired 2026-05-04"),
                                               ("HR", f"hana.ito{MAIL} (2008)", "hired 2026-06-01")}
    assert of(changes, "people", "leaver") == {("HR", f"dev.patel{MAIL} (2004)", "terminated 2026-05-20"),
                                               ("HR", f"cora.mint{MAIL} (2003)", "no longer on the HR roster")}


def test_grants_added_and_removed_per_system_with_their_lines(changes):
    assert of(changes, "grants", "added") == {("aws_prod", f"gus.hale{MAIL}", "Administrators"),
                                              ("aws_prod", f"hana.ito{MAIL}", "Developers"),
                                              ("aws_billing", f"ben.carrow{MAIL}", "ReadOnly")}
    assert of(changes, "grants", "removed") == {("aws_prod", f"fay.quill{MAIL}", "Administrators"),
                                                ("aws_prod", f"cora.mint{MAIL}", "Developers"),
                                                ("aws_billing", f"ada.lovell{MAIL}", "BillingAdmins")}
    removed = changes[(changes["change"] == "removed") & (changes["subject"] == f"fay.quill{MAIL}")]
    assert list(removed["prior_reference"]) == ["prod_iam_group_memberships_20260401.csv line 4"]


def test_the_population_rolls_forward_from_the_prior_run(runs, changes):
    prior = set(pd.read_csv(runs["Q1"] / "PRIV-01" / "population.csv", dtype=str)["item_key"])
    current = set(pd.read_csv(runs["Q2"] / "PRIV-01" / "population.csv", dtype=str)["item_key"])
    added, removed = of(changes, "population", "added"), of(changes, "population", "removed")
    assert {s for _, s, _ in added} == current - prior == {f"aws_prod|gus.hale{MAIL}|Administrators"}
    assert {s for _, s, _ in removed} == prior - current == {f"aws_prod|fay.quill{MAIL}|Administrators",
                                                              f"aws_billing|ada.lovell{MAIL}|BillingAdmins"}
    assert len(prior) + len(added) - len(removed) == len(current) == 4


def test_findings_resolved_new_and_recurring_against_the_prior_register(runs, changes):
    assert of(changes, "findings", "resolved") == {("aws_prod", f"fay.quill{MAIL}", "privileged_drift"),
                                                   ("aws_billing", f"ada.lovell{MAIL}", "privileged_drift")}
    assert of(changes, "findings", "new") == {("aws_prod", f"gus.hale{MAIL}", "privileged_drift"),
                                              ("aws_billing", f"eli.stone{MAIL}", "privileged_approval_expired")}
    assert of(changes, "findings", "recurring") == {("aws_prod", f"ben.carrow{MAIL}", "privileged_drift")}
    recurring = changes[changes["change"] == "recurring"].iloc[0]
    prior_ids = set(pd.read_csv(runs["Q1"] / "exceptions.csv", dtype=str)["exception_id"])
    current_ids = set(pd.read_csv(runs["Q2"] / "exceptions.csv", dtype=str)["exception_id"])
    assert recurring["prior_reference"] in prior_ids and recurring["current_reference"] in current_ids


def test_the_workpaper_names_the_prior_run_its_seal_and_reconciles_every_count(runs):
    page = (runs["Q2"] / "PRIV-01" / "workpaper.html").read_text(encoding="utf-8")
    assert "9. Changes since the prior period" in page and 'id="PRIV-01.9"' in page
    assert f"<td>{runs['Q1'].name}</td>" in page
    assert f"signed off by {REVIEWER} on " in page and f"manifest signed by {PREPARER}" in page
    for line in ("<td>workers employed (HR)</td>\n      <td>5</td>\n      <td>2</td>\n      <td>2</td>\n      <td>5</td>",
                 "<td>grants held in aws_prod</td>\n      <td>6</td>\n      <td>2</td>\n      <td>2</td>\n      <td>6</td>",
                 "<td>grants held in aws_billing</td>\n      <td>2</td>\n      <td>1</td>\n      <td>1</td>\n      <td>2</td>"):
        assert line in page
    assert "<td>no</td>" not in page.split('id="PRIV-01.9"')[1].split('id="PRIV-01.A"')[0]
    # the prior run's files read are frozen into this run and sealed by its manifest
    files = lineage.read_manifest(runs["Q2"])["files"]
    assert "prior_run/manifest.json" in files and "prior_run/PRIV-01/exceptions.csv" in files
    assert "PRIV-01/period_changes.csv" in files


def test_the_lead_sheet_has_a_line_of_changes_per_control(runs):
    index = (runs["Q2"] / "index.html").read_text(encoding="utf-8")
    assert f"Against the prior period's run {runs['Q1'].name} (2026-Q1; manifest signed by {PREPARER}" in index
    assert ("2 joiner(s), 2 leaver(s); grants +3 / −3; population +1 / −2; findings 2 resolved, 2 new, "
            "1 recurring") in index
    assert 'href="PRIV-01/period_changes.csv"' in index
    assert "changes-since-prior-period" not in (runs["Q1"] / "index.html").read_text(encoding="utf-8")


def test_without_a_prior_run_the_section_says_so_in_one_line(runs):
    page = (runs["Q1"] / "PRIV-01" / "workpaper.html").read_text(encoding="utf-8")
    section = page.split('id="PRIV-01.9"')[1].split('id="PRIV-01.A"')[0]
    assert "No prior period&#x27;s run was given for this run (workbench run --prior-run)" in section
    assert "<table" not in section
    assert not (runs["Q1"] / "PRIV-01" / period_changes.DETAIL_FILE).exists()


def test_the_run_with_its_prior_run_verifies_and_reperforms(runs, capsys):
    assert cli.main(["verify", str(runs["Q2"])]) == 0
    assert cli.main(["verify", "--reperform", str(runs["Q2"]), "--jobs", "1"]) == 0, capsys.readouterr().out


# --- refusals -------------------------------------------------------------------------------------

def writable_copy(run: Path, target: Path) -> Path:
    shutil.copytree(run, target)
    for path in target.rglob("*"):
        os.chmod(path, path.stat().st_mode | stat.S_IWUSR)
    return target


def test_a_prior_run_of_another_entity_is_refused(runs):
    other = load_period(Q2).model_copy(update={"entity": "Fenwick Marine Holdings plc"})
    with pytest.raises(prior_run.PriorRunRefused, match="of entity 'Fenwick Marine Ltd', not 'Fenwick Marine Holdings plc'"):
        prior_run.open_prior_run(runs["Q1"], other)


def test_a_prior_run_whose_period_does_not_precede_this_one_is_refused(runs, tmp_path, capsys):
    code = cli.main(["run", str(Q1), "--out", str(tmp_path / "out"), "--prior-run", str(runs["Q2"])])
    assert code == 2
    assert "which does not precede period 2026-Q1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("manifest.json"))
    with pytest.raises(prior_run.PriorRunRefused, match="does not precede"):
        prior_run.open_prior_run(runs["Q2"], load_period(Q2))  # a run is not its own prior period


def test_an_incomplete_or_missing_prior_run_is_refused(runs, tmp_path):
    staged = writable_copy(runs["Q1"], tmp_path / f"{runs['Q1'].name}.incomplete")
    with pytest.raises(prior_run.PriorRunRefused, match="not a completed run"):
        prior_run.open_prior_run(staged, load_period(Q2))
    with pytest.raises(prior_run.PriorRunRefused, match="no such folder"):
        prior_run.open_prior_run(tmp_path / "nowhere", load_period(Q2))


def test_a_prior_run_altered_since_its_manifest_is_refused_naming_the_file(runs, tmp_path):
    copy = writable_copy(runs["Q1"], tmp_path / runs["Q1"].name)
    frozen_hr = next((copy / "inputs" / "hr_bamboohr").iterdir())
    frozen_hr.write_text(frozen_hr.read_text(encoding="utf-8").replace("Carrow", "Carow"), encoding="utf-8")
    with pytest.raises(prior_run.PriorRunRefused, match=f"inputs/hr_bamboohr/{frozen_hr.name} changed"):
        prior_run.open_prior_run(copy, load_period(Q2))


def test_a_prior_run_with_a_forged_seal_is_refused(runs, tmp_path):
    copy = writable_copy(runs["Q1"], tmp_path / runs["Q1"].name)
    signoff = copy / lineage.SIGNOFF
    signoff.write_text(signoff.read_text(encoding="utf-8").replace(REVIEWER, "Someone Else"), encoding="utf-8")
    with pytest.raises(prior_run.PriorRunRefused, match="signoff.json"):
        prior_run.open_prior_run(copy, load_period(Q2))


def test_a_prior_run_whose_manifest_was_edited_is_refused(runs, tmp_path):
    copy = writable_copy(runs["Q1"], tmp_path / runs["Q1"].name)
    manifest = copy / lineage.MANIFEST
    manifest.write_text(manifest.read_text(encoding="utf-8").replace('"seed": 41150327', '"seed": 1'), encoding="utf-8")
    with pytest.raises(prior_run.PriorRunRefused, match="manifest edited"):
        prior_run.open_prior_run(copy, load_period(Q2))


def test_a_control_the_prior_run_did_not_complete_has_nothing_to_compare(runs):
    prior = prior_run.open_prior_run(runs["Q1"], load_period(Q2))
    assert prior.control_file("PRIV-01", "population.csv") == runs["Q1"] / "PRIV-01" / "population.csv"
    assert prior.control_file("UAR-01", "population.csv") is None
