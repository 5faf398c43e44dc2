"""Issue 16, items 1 and 2: listings as snapshots compared, and proof of removal of revoke decisions.

On the small company of tests/data/snapshots_removal (Fenwick Freight plc; its README says what is
planted): three AWS IAM group-membership listings of one account (at the review snapshot, during
the SLA, after the quarter), a GitHub member export from the review snapshot only, the SailPoint
ISC campaign export, and a ServiceNow catalog-task export read as the remediation log. Each revoke
decision's outcome and proof is asserted, and the count reconciliation of consecutive listings;
the pure modules (``snapshots``, ``removals``) are tested on frames of their own, the
reconciliation as a hypothesis property.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT
from workbench import procedures, removals, snapshots
from workbench.runner import prepare_run

FIXTURE = ROOT / "tests" / "data" / "snapshots_removal"
CONTROL = "UAR-FW"


def copy_fixture(tmp: Path) -> Path:
    for item in FIXTURE.iterdir():
        if item.is_file():
            shutil.copy(item, tmp / item.name)
    return tmp


def run(folder: Path, period: str = "period.yaml"):
    context = prepare_run(folder / period, folder / "outputs")
    test = procedures.procedure_class("user_access_review").open(str(context.run_dir), CONTROL)
    test.load_sources()
    test.run_analytics()
    return test


@pytest.fixture(scope="module")
def uar(tmp_path_factory):
    test = run(copy_fixture(tmp_path_factory.mktemp("snapremoval")))
    test.select_sample()
    test.record()
    return test


def proof_of(test, subject: str, entitlement: str) -> pd.Series:
    proofs = test.revocation_proofs
    found = proofs[(proofs["subject"] == subject) & (proofs["entitlement"] == entitlement)]
    assert len(found) == 1, proofs
    return found.iloc[0]


# --- proof of removal: each outcome and what proves it -------------------------------------------

def test_a_listing_before_the_sla_deadline_without_the_access_proves_a_timely_removal(uar):
    ana = proof_of(uar, "ana.souza@fenwick.example", "Billing")
    assert (ana["outcome"], ana["proof_kind"]) == ("executed within SLA", "later listing")
    assert ana["proof"].startswith("aws_groups_2026-09-08.csv: not held at 2026-09-08 06:00 UTC, within the SLA")
    assert ana["sla_deadline"] == "2026-09-09"


def test_access_still_held_after_the_deadline_is_not_executed_even_if_a_listing_before_it_showed_it(uar):
    ben = proof_of(uar, "ben.okoro@fenwick.example", "PowerUsers")
    assert (ben["outcome"], ben["proof_kind"]) == ("not executed", "later listing")
    # the 09-08 listing (before the deadline) also shows it; the proof is the listing after the deadline
    assert ben["proof_reference"] == "aws_groups_2026-09-30.csv line 2"
    assert "after the SLA deadline 2026-09-09" in ben["proof"]


def test_a_remediation_log_row_times_the_removal_and_a_late_one_is_reported(uar):
    cara = proof_of(uar, "cara.lind@fenwick.example", "Developers")
    assert (cara["outcome"], cara["proof_kind"]) == ("executed late", "remediation log and later listing")
    assert cara["proof_reference"] == "sc_task_remediation.csv line 2 (SCTASK0041101); aws_groups_2026-09-30.csv"
    assert cara["removed_at"] == pd.Timestamp("2026-09-16 10:20:04", tz="UTC")  # 11:20:04 Europe/London
    dev = proof_of(uar, "dev.patel@fenwick.example", "ReadOnly")
    assert (dev["outcome"], dev["proof_kind"]) == ("executed within SLA", "remediation log and later listing")
    assert "SCTASK0041102" in dev["proof"] and "by Lena Fox" in dev["proof"]


def test_a_revoke_with_no_later_listing_and_no_log_row_cannot_be_proven(uar):
    eve = proof_of(uar, "eve.marsh@fenwick.example", "member")
    assert eve["outcome"] == "cannot be proven from the evidence provided"
    assert eve["proof_kind"] == "none"
    assert "no listing of the system extracted after the decision" in eve["proof"]


def test_a_removal_seen_only_after_the_deadline_without_a_date_is_executed_but_not_proven_timely(uar):
    finn = proof_of(uar, "finn.doyle@fenwick.example", "Developers")
    assert finn["outcome"] == removals.TIME_NOT_PROVEN
    assert "aws_groups_2026-09-08.csv line 5 still showed it" in finn["proof"]


def test_outcomes_reconcile_to_the_revoke_decisions(uar):
    counts = removals.outcome_counts(uar.revocation_proofs).set_index("outcome")["decisions"]
    assert counts.to_dict() == {"executed within SLA": 2, "executed late": 1, "not executed": 1,
                                removals.TIME_NOT_PROVEN: 1, "cannot be proven from the evidence provided": 1,
                                "revoke decisions": 6}
    assert counts.drop("revoke decisions").sum() == counts["revoke decisions"]
    assert counts["revoke decisions"] == int((uar.decisions["decision"] == "revoke").sum())


def test_findings_a6_and_population_csv_use_the_proof(uar):
    hits = uar.hits
    revocations = hits[hits["rule"] == "revocation_not_executed"]
    assert sorted(revocations["subject"]) == ["ben.okoro@fenwick.example", "cara.lind@fenwick.example"]
    cara = revocations[revocations["subject"] == "cara.lind@fenwick.example"].iloc[0]
    assert cara["evidence_reference"] == ("uar_2026Q3_decisions.csv line 4; sc_task_remediation.csv line 2 "
                                          "(SCTASK0041101); aws_groups_2026-09-30.csv")
    a6 = dict(zip(uar.sample["subject_email"] + "|" + uar.sample["entitlement"], uar.sample["A6_revocation_executed"]))
    assert a6["ben.okoro@fenwick.example|PowerUsers"] == "fail"
    assert a6["cara.lind@fenwick.example|Developers"] == "fail"
    assert a6["ana.souza@fenwick.example|Billing"] == "pass"
    assert a6["eve.marsh@fenwick.example|member"] == "not tested"
    assert a6["finn.doyle@fenwick.example|Developers"] == "not tested"
    assert a6["gus.holm@fenwick.example|Admins"] == "n/a"
    population = pd.read_csv(uar.context.control_dir(CONTROL) / "population.csv", dtype=str, keep_default_na=False)
    assert list(population.columns) == ["item_key", "scope", "removal_outcome", "removal_proven_by", "removal_proof"]
    ben = population[population["item_key"].str.contains("ben.okoro")].iloc[0]
    assert (ben["removal_outcome"], ben["removal_proof"]) == ("not executed", "aws_groups_2026-09-30.csv line 2")
    approved = population[population["item_key"].str.contains("gus.holm")]
    assert set(approved["removal_outcome"]) == {""}


def test_the_workpaper_shows_the_proof_of_removal_and_the_snapshots(uar):
    markup = "".join(block.markup for block in uar.removal_blocks())
    assert "Proof of removal: 6 revoke decision(s)" in markup
    assert "cannot be proven from the evidence provided" in markup and "executed late" in markup
    snapshot_markup = "".join(block.markup for block in uar.snapshot_blocks())
    assert "agrees: 11 − 3 + 1 = 9" in snapshot_markup and "agrees: 9 − 4 + 0 = 5" in snapshot_markup
    assert "the review population (snapshot 2026-08-31)" in snapshot_markup
    assert "after-review evidence" in snapshot_markup


# --- unexplained removals --------------------------------------------------------------------------

def test_a_removal_nothing_explains_is_an_exception_and_explained_ones_are_not(uar):
    hits = uar.hits[uar.hits["rule"] == "unexplained_removal"]
    assert list(hits["subject"]) == ["gus.holm@fenwick.example"]
    gus = hits.iloc[0]
    assert gus["detail_key"] == "aws_prod|Admins" and gus["severity"] == "medium"
    assert gus["evidence_reference"] == "aws_groups_2026-08-31.csv line 8; aws_groups_2026-09-08.csv"
    assert "without evidence of authorisation" in gus["description"]
    # revoked (ana, dev, cara, finn), terminated on 2026-09-20 (hana), removed by a task (ivan): explained
    removed = uar.removed_unexplained
    assert set(removed["account"]) == {"gus.holm"}


# --- the population rests on the snapshot nearest the review; no listing shadows another -----------

def test_the_review_population_uses_the_snapshot_at_the_review_and_later_ones_only_as_evidence(uar):
    aws = uar.grants[uar.grants["system"] == "aws_prod"]
    assert set(aws["listing"]) == {"aws_groups_2026-08-31.csv"}
    # Gus Holm's Admins and Dev Patel's ReadOnly are gone by 09-08 but were held at the snapshot: no gap
    gaps = uar.hits[uar.hits["rule"].isin(["review_population_gap", "review_line_not_in_listing"])]
    assert gaps.empty, gaps


def test_two_listings_of_one_system_at_the_same_moment_are_refused_naming_both(tmp_path):
    folder = copy_fixture(tmp_path)
    data = yaml.safe_load((folder / "period.yaml").read_text(encoding="utf-8"))
    sla = next(s for s in data["sources"] if s["id"] == "aws_groups_sla")
    sla["as_of"] = "2026-09-30T23:00:00Z"
    sla["extracted_at"] = "2026-10-01T05:00:00Z"
    (folder / "same.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        run(folder, "same.yaml")
    message = str(caught.value)
    for part in ("aws_groups_after", "aws_groups_sla", "aws_groups_2026-09-08.csv", "aws_groups_2026-09-30.csv",
                 "same moment", "aws_prod"):
        assert part in message, message


def test_without_the_later_listings_and_the_log_no_revoke_is_called_executed_or_not(tmp_path):
    """Regression (issue 16): one listing before the decisions used to "prove" their state after them."""
    folder = copy_fixture(tmp_path)
    data = yaml.safe_load((folder / "period.yaml").read_text(encoding="utf-8"))
    sources = data["controls"][0]["sources"]
    sources["access_listings"] = ["aws_groups_review", "github_members"]
    sources.pop("remediation_log")
    (folder / "review_only.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    test = run(folder, "review_only.yaml")
    assert set(test.revocation_proofs["outcome"]) == {"cannot be proven from the evidence provided"}
    assert "revocation_not_executed" not in set(test.hits["rule"])
    assert "remediation_log" in test.scope_limitations()


def test_both_listings_give_no_false_revocation_not_executed(tmp_path):
    """Regression (issue 16): given the listing before the review and the one after, executed revokes
    were reported as not executed (the earlier listing still shows the access)."""
    folder = copy_fixture(tmp_path)
    data = yaml.safe_load((folder / "period.yaml").read_text(encoding="utf-8"))
    data["controls"][0]["sources"]["access_listings"] = ["aws_groups_review", "aws_groups_sla", "github_members"]
    (folder / "two.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    test = run(folder, "two.yaml")
    flagged = set(test.hits.loc[test.hits["rule"] == "revocation_not_executed", "subject"])
    # Ana's and Dev's access is gone from the 09-08 listing: executed, whatever the review listing shows
    assert not flagged & {"ana.souza@fenwick.example", "dev.patel@fenwick.example"}
    # Ben's is still in the 09-08 listing, but that is before his SLA deadline: not proven not executed
    assert "ben.okoro@fenwick.example" not in flagged
    ben = proof_of(test, "ben.okoro@fenwick.example", "PowerUsers")
    assert ben["outcome"] == "cannot be proven from the evidence provided"
    assert "before the SLA deadline 2026-09-09" in ben["proof"] and "not that it was never executed" in ben["proof"]


# --- the pure modules --------------------------------------------------------------------------------

UTC = "UTC"


def listing(rows: list[tuple[str, str]], **extra: list) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["login", "entitlement"]).assign(system="erp", line=range(2, len(rows) + 2))
    return frame.assign(login_original=frame["login"], **extra)


def snap(label: str, moment: str, frame: pd.DataFrame) -> snapshots.Snapshot:
    return snapshots.Snapshot(label, label, "mapped", "erp", pd.Timestamp(moment, tz=UTC), frame)


def test_an_attribute_change_names_old_and_new_with_both_lines():
    before = snap("a.csv", "2026-08-31", listing([("ann", "AP"), ("bob", "GL")], account_status=["active", "active"]))
    after = snap("b.csv", "2026-09-30", listing([("bob", "GL"), ("ann", "AP")], account_status=["active", "disabled"]))
    changes = snapshots.compare(before, after)
    assert len(changes) == 1
    change = changes.iloc[0]
    assert (change["change"], change["attribute"], change["old"], change["new"]) == (
        "changed", "account_status", "active", "disabled")
    assert change["evidence"] == "a.csv line 2; b.csv line 3"


def test_a_history_listing_counts_only_what_is_held_at_its_moment():
    frame = listing([("ann", "AP"), ("bob", "GL")],
                    removed_at=[pd.Timestamp("2026-09-02", tz=UTC), pd.NaT])
    assert list(snap("erp.csv", "2026-09-30", frame).held()["login"]) == ["bob"]
    assert list(snap("erp.csv", "2026-09-01", frame).held()["login"]) == ["ann", "bob"]


def test_choose_takes_the_latest_at_or_before_else_the_nearest_after():
    early, mid, late = (snap(x, m, listing([])) for x, m in (("e", "2026-08-01"), ("m", "2026-08-20"), ("l", "2026-10-01")))
    assert snapshots.choose([late, early, mid], pd.Timestamp("2026-08-31", tz=UTC)).label == "m"
    assert snapshots.choose([late, mid], pd.Timestamp("2026-08-10", tz=UTC)).label == "m"
    assert snapshots.choose([early, late, mid], None).label == "l"


def test_a_log_row_a_later_listing_contradicts_proves_nothing():
    revokes = pd.DataFrame({"system": ["erp"], "subject_email": ["ann"], "entitlement": ["AP"],
                            "decided_at": [pd.Timestamp("2026-09-01 10:00", tz=UTC)], "line": [7]})
    later = snap("erp_late.csv", "2026-09-20", listing([("ann", "AP")]))
    log = pd.DataFrame({"system": ["erp"], "subjects": [frozenset({"ann"})], "entitlement": ["AP"], "action": ["remove"],
                        "completed_at": [pd.Timestamp("2026-09-02 09:00", tz=UTC)], "ticket": ["T1"],
                        "performed_by": ["ops"], "label": ["log.csv"], "line": [3]})
    proof = removals.prove_revocations(revokes, [later], log, 5, "uar.csv").iloc[0]
    assert proof["outcome"] == "not executed"
    assert "log.csv line 3 records it removed 2026-09-02 09:00 UTC, but a listing from after that still shows it" \
        in proof["proof"]


access = st.tuples(st.sampled_from(["ann", "bob", "Cid", "dee", "ed"]), st.sampled_from(["AP", "GL", "ap", "Admin"]))


@settings(max_examples=60, deadline=None)
@given(before=st.lists(access, max_size=12), after=st.lists(access, max_size=12),
       status=st.lists(st.sampled_from(["active", "locked"]), min_size=12, max_size=12))
def test_counts_reconcile_for_any_pair_of_listings(before, after, status):
    """Held before − removed + added = held after, for any two listings (repeats and case included)."""
    a = snap("a.csv", "2026-08-31", listing(before, account_status=status[:len(before)]))
    b = snap("b.csv", "2026-09-30", listing(after, account_status=status[:len(after)]))
    row = snapshots.reconcile([b, a]).iloc[0]
    assert row["held before"] - row["removed"] + row["added"] == row["held after"]
    assert row["result"].startswith("agrees")
    assert row["held before"] == len({(x.casefold(), y.casefold()) for x, y in before})
    changes = snapshots.compare(a, b)
    assert (changes["change"] == "removed").sum() == row["removed"]
    assert changes.loc[changes["change"] != "added", "before_line"].notna().all()
    assert changes.loc[changes["change"] != "removed", "after_line"].notna().all()
