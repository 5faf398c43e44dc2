"""The decisive test of issue 17 item 3 (sql17's half): a control run with its listings in DuckDB
(``listing_relation`` forced on) writes byte-identical records to the same control run in pandas.

Fixtures of our own (not the demo's): Kestrel Freight (SAP and AWS listings, an access review and an
SoD rule book with mitigations), the snapshots-and-removal company (several snapshots of one system,
a remediation log), the permission-level SoD company (rules in permissions, expanded through
role_permissions, and a role baseline) and the movers' company (a role baseline and an earlier HR
roster: the SoD rules that once read the held grants whole). Each control runs twice in-process, once as is and once with
``listing_relation`` returning a DuckDB relation over exactly what ``frames`` gives; the records
(sample.csv, population.csv, exceptions.csv, result.json) and the tables the workpaper shows of the
listings must agree byte for byte. Any difference is a bug in the large-population path.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from workbench import snapshots
from workbench.populations import staged
from workbench.procedures.base import ControlTest
from workbench.procedures.segregation_of_duties import SegregationOfDutiesTest
from workbench.procedures.user_access_review import UserAccessReviewTest
from workbench.runner import prepare_run

DATA = Path(__file__).parent / "data"
RECORDS = ("sample.csv", "population.csv", "exceptions.csv", "result.json")
CASES = [
    (DATA / "companies" / "kestrel" / "kestrel-2026-Q3.yaml", UserAccessReviewTest, "UAR-01"),
    (DATA / "companies" / "kestrel" / "kestrel-2026-Q3.yaml", SegregationOfDutiesTest, "SOD-CTL-01"),
    (DATA / "snapshots_removal" / "period.yaml", UserAccessReviewTest, "UAR-FW"),
    (DATA / "sod_permissions" / "period.yaml", SegregationOfDutiesTest, "SOD-PERM-01"),
    (DATA / "sod_movers" / "period.yaml", SegregationOfDutiesTest, "SOD-MOVE-01"),
]


def relation_over_frames(self: ControlTest, role: str, at: pd.Timestamp | None = None):
    """``listing_relation`` forced on: the role's frames as a DuckDB relation (what stage17's Parquet gives)."""
    return self.sql.from_arrow(pa.Table.from_pandas(self.frames(role, at), preserve_index=False))


def run_control(period: Path, procedure: type[ControlTest], control_id: str, out: Path) -> tuple[ControlTest, Path]:
    """Run one control in-process into ``out`` and return it with its folder of records."""
    context = prepare_run(period, out)
    test = procedure.open(str(context.run_dir), control_id)
    test.load_sources()
    test.run_analytics()
    test.select_sample()
    test.record()
    return test, context.control_dir(control_id)


def shown_tables(test: ControlTest) -> dict[str, pd.DataFrame]:
    """The tables the workpaper shows that the listings feed (besides the records)."""
    tables = {"reconciliation": test.reconciliation(), "analytics_summary": test.analytics_summary(),
              "ambiguous": test.ambiguous_matches(), "population": test.population().reset_index(drop=True)}
    if isinstance(test, SegregationOfDutiesTest):
        tables["conflicts"] = test.conflicts_table()
    else:
        tables["revocation_proofs"] = test.revocation_proofs
        tables["listings_reconciled"] = snapshots.reconcile(test.listing_snapshots)
        tables["removed_unexplained"] = test.removed_unexplained
    return tables


def shown_sections(test: ControlTest) -> list[str]:
    """The workpaper sections the listings feed, as HTML: identity evidence, population evidence
    (IPE and reconciliations) and, for the access review, the snapshots and the proof of removal."""
    blocks = [*test.identity_evidence(), *test.population_evidence()]
    if isinstance(test, UserAccessReviewTest):
        blocks += [*test.snapshot_blocks(), *test.removal_blocks()]
    return [block.markup for block in blocks]


@pytest.mark.parametrize(("period", "procedure", "control_id"), CASES, ids=[c[2] for c in CASES])
def test_large_path_writes_the_same_records_as_the_pandas_path(period, procedure, control_id, tmp_path, monkeypatch):
    small, small_dir = run_control(period, procedure, control_id, tmp_path / "pandas")
    small_tables, small_sections = shown_tables(small), shown_sections(small)
    with monkeypatch.context() as patch:
        patch.setattr(ControlTest, "listing_relation", relation_over_frames)
        large, large_dir = run_control(period, procedure, control_id, tmp_path / "duckdb")
        large_tables, large_sections = shown_tables(large), shown_sections(large)
        listing = large.large_grants if isinstance(large, UserAccessReviewTest) else large.large_held
        assert listing is not None  # the large path really ran
    for name in RECORDS:
        assert (large_dir / name).read_bytes() == (small_dir / name).read_bytes(), f"{control_id}: {name} differs"
    for name, table in small_tables.items():
        pd.testing.assert_frame_equal(large_tables[name], table, obj=f"{control_id} {name}")
    assert large_sections == small_sections
    assert len(pd.read_csv(small_dir / "population.csv")) > 0


def test_accounts_of_a_listing_without_the_root_flag_are_in_the_identity_evidence(tmp_path):
    """AWS group memberships carry no ``is_root``; concatenated with a listing that does (GitHub), their
    rows read NA, which is not root: their accounts are tied to workers in the evidence like any other."""
    test, _ = run_control(*CASES[2], tmp_path)
    shown = test.identity_evidence()[0].markup
    assert "aws_prod" in shown and "github" in shown


def test_sod_with_a_role_baseline_and_movers_never_reads_the_held_grants_whole(tmp_path, monkeypatch):
    """With the staged read-back limit far below the held grants, the large path still runs every rule
    (the baseline and the movers' rule read back only the grants they report and the movers' peers) and
    finds what is planted; asking for the held grants whole stops with a message naming them."""
    monkeypatch.setattr(ControlTest, "listing_relation", relation_over_frames)
    monkeypatch.setenv(staged.READ_BACK_LIMIT_VARIABLE, "3")
    test, _ = run_control(DATA / "sod_movers" / "period.yaml", SegregationOfDutiesTest, "SOD-MOVE-01", tmp_path)
    assert test.large_held is not None and "held" not in test.__dict__
    found = set(zip(test.hits["rule"], test.hits["detail_key"]))
    assert {("mover_retained_access", "sap_prd|lena.vogt|Z_FI_AP_PAYMENT_RUN"),
            ("mover_retained_access", "sap_prd|lena.vogt|Z_MM_VENDOR_DISPLAY"),
            ("mover_retained_access", "aws_prod|lena.vogt|Admins"),
            ("mover_retained_access", "sap_prd|jonas.brandt|Z_FI_TREASURY"),
            ("baseline_deviation", "sap_prd|lena.vogt@tarnwick.example|z_fi_ap_payment_run"),
            ("baseline_deviation", "sap_prd|ida.lang@tarnwick.example|z_le_shipping"),
            ("baseline_deviation", "sap_prd|tom.falk@tarnwick.example|z_sd_orders"),
            ("sod_conflict", "sap_prd|nora.heil|R-01")} == found
    with pytest.raises(RuntimeError, match="held grants of the period-end listings"):
        _ = test.held
