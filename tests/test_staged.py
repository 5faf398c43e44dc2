"""Large populations kept in Parquet (populations.staged, ControlTest large mode, issue 17 item 3).

The staged table must be the in-memory table: same frame (values, dtypes, line numbers), same IPE
evidence, same errors, whatever the batch size; a run with every export staged (threshold 0) must
record byte for byte what the in-memory run records. Fixtures are written here, in the published
shapes of the Okta "Current Assignments" report and the Workday "All Workers" report.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import threading
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from workbench import cli, populations, procedures
from workbench.parameters import load_period
from workbench.populations import staged
from workbench.runner import latest_run

OKTA_HEADER = ("User,Login,Application name,Application instance,Application login,Assigned on,Unassigned on,"
               "Last login,Last password change")
KESTREL = Path(__file__).parent / "data" / "companies" / "kestrel"


def okta_rows(n: int) -> list[str]:
    """n assignment rows: quotes, a comma and a newline inside quoted values, the sentinels an
    empty 'Last login' (never) and epoch-zero timestamps (a state, or a counted note), mixed-case logins."""
    rows = []
    for i in range(n):
        user = f'"Nair, Priya {i}"' if i % 3 == 0 else (f'"Line\nbreak {i}"' if i % 3 == 1 else f"Plain {i}")
        last = "" if i % 4 == 0 else ("1970-01-01T00:00:00.000Z" if i % 4 == 1 else "2026-09-29T14:05:00.000Z")
        changed = "1970-01-01T00:00:00.000Z" if i % 5 == 2 else ""
        rows.append(f'{user},User{i}@Osprey.Example,Salesforce,sf_prod,U{i:05d},2025-01-0{1 + i % 9}T09:00:00.000Z,,'
                    f'{last},{changed}')
    return rows


def write_okta(path: Path, n: int, bom: bool = True, extra: str = "") -> Path:
    text = "\r\n".join([OKTA_HEADER, *okta_rows(n)]) + "\r\n" + extra
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def stage_and_load(kind: str, path: Path, target: Path, batch_rows: int, **kwargs):
    load = functools.partial(populations.load_source, kind, path, **kwargs)
    return staged.stage(kind, path, target, load, batch_rows=batch_rows, options=kwargs.get("options")), load()


def assert_same(staged_population, memory) -> None:
    pd.testing.assert_frame_equal(staged_population.frame, memory.frame)
    assert staged_population.evidence == memory.evidence


@pytest.mark.parametrize("batch_rows", [1, 2, 5, 1000])
def test_a_csv_staged_in_batches_is_the_in_memory_table_with_the_same_evidence(tmp_path, batch_rows):
    path = write_okta(tmp_path / "okta_app_assignments.csv", 11, extra="\r\n")  # a blank line at the end
    population, memory = stage_and_load("okta_app_assignments", path, tmp_path / "s.parquet", batch_rows,
                                        display_names={"Salesforce": "salesforce"})
    assert population.summary.converted.startswith("batches")
    assert_same(population, memory)
    assert population.summary.rows == 11 and population.summary.systems == ("salesforce",)
    assert any("epoch-zero" in note for note in population.evidence.notes)  # the counted note, summed


def test_a_parquet_export_is_staged_in_batches(tmp_path):
    source = tmp_path / "csv" / "okta_app_assignments.csv"
    source.parent.mkdir()
    write_okta(source, 9, bom=False)
    table = pa.Table.from_pandas(pd.read_csv(source, dtype=str, keep_default_na=False), preserve_index=False)
    path = tmp_path / "okta_app_assignments.parquet"
    pq.write_table(table, path, row_group_size=4)
    population, memory = stage_and_load("okta_app_assignments", path, tmp_path / "s.parquet", 2)
    assert population.summary.converted.startswith("batches")
    assert_same(population, memory)


def test_a_bad_value_in_a_later_batch_is_the_same_error_as_in_memory(tmp_path):
    path = write_okta(tmp_path / "okta_app_assignments.csv", 6,
                      extra="Bad,bad@osprey.example,Salesforce,sf,B,31/12/2025,,,\r\n")
    with pytest.raises(populations.PopulationError) as in_memory:
        populations.load_source("okta_app_assignments", path)
    with pytest.raises(populations.PopulationError) as batched:
        stage_and_load("okta_app_assignments", path, tmp_path / "s.parquet", 2)
    assert str(batched.value) == str(in_memory.value)
    assert (batched.value.row, batched.value.column) == (10, "Assigned on")  # two values span two lines
    assert not list(tmp_path.glob("*.parquet")) and not list(tmp_path.glob(".*.tmp"))  # nothing half-written


def test_an_export_whose_key_repeats_is_read_in_memory_with_its_duplicates_listed(tmp_path):
    rows = okta_rows(4)
    path = tmp_path / "okta_app_assignments.csv"
    path.write_text("\n".join([OKTA_HEADER, *rows, rows[0]]) + "\n", encoding="utf-8")
    population, memory = stage_and_load("okta_app_assignments", path, tmp_path / "s.parquet", 2)
    assert population.summary.converted.startswith("in memory")
    assert_same(population, memory)
    assert memory.evidence.duplicate_rows


def test_a_staged_export_is_reused_not_converted_twice_also_by_parallel_controls(tmp_path):
    path = write_okta(tmp_path / "okta_app_assignments.csv", 5)
    calls = []

    def load():
        calls.append(1)
        return populations.load_source("okta_app_assignments", path)

    target = tmp_path / "staged" / "okta.parquet"
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        staged.stage("okta_app_assignments", path, target, load, fingerprint="f"))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 2
    assert results[0].evidence == results[1].evidence
    again = staged.stage("okta_app_assignments", path, target, load, fingerprint="f")
    assert len(calls) == 1 and again.evidence == results[0].evidence
    staged.stage("okta_app_assignments", path, target, load, fingerprint="other declarations")
    assert len(calls) == 2  # read differently: converted again


def test_a_staged_export_whose_frozen_hash_is_known_is_reused_without_hashing_it_again(tmp_path, monkeypatch):
    """The run froze the export with its SHA-256: another control reuses the staged copy on that hash,
    without reading the (possibly gigabyte) export again; a hash that differs stages it again."""
    path = write_okta(tmp_path / "okta_app_assignments.csv", 5)
    target = tmp_path / "staged" / "okta.parquet"
    first = staged.stage("okta_app_assignments", path, target,
                         lambda: populations.load_source("okta_app_assignments", path), fingerprint="f")
    frozen_hash = hashlib.sha256(path.read_bytes()).hexdigest()
    assert first.evidence.sha256 == frozen_hash
    hashed = []
    monkeypatch.setattr(staged, "file_sha256", lambda p: hashed.append(p) or frozen_hash)
    converted = []

    def load():
        converted.append(1)
        return populations.load_source("okta_app_assignments", path)
    again = staged.stage("okta_app_assignments", path, target, load, fingerprint="f", sha256=frozen_hash)
    assert (hashed, converted) == ([], []) and again.evidence == first.evidence
    staged.stage("okta_app_assignments", path, target, load, fingerprint="f")  # not known: hashed
    assert hashed == [path] and converted == []
    staged.stage("okta_app_assignments", path, target, load, fingerprint="f", sha256="0" * 64)
    assert converted == [1]  # not the bytes the staged copy was made from: staged again


def test_a_staged_table_is_not_read_back_until_asked_and_the_limit_stops_it(tmp_path, monkeypatch):
    path = write_okta(tmp_path / "okta_app_assignments.csv", 5)
    population, memory = stage_and_load("okta_app_assignments", path, tmp_path / "s.parquet", 2)
    assert not population.loaded
    assert pd.concat(list(population.batches(rows=2)), ignore_index=True).equals(memory.frame)
    assert not population.loaded
    monkeypatch.setenv(staged.READ_BACK_LIMIT_VARIABLE, "4")
    with pytest.raises(RuntimeError, match="okta_app_assignments.csv"):
        population.frame  # noqa: B018


TEXT = st.text(alphabet=st.sampled_from(list("aZ ,\"\n\r;é-")), max_size=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=12), batch_rows=st.integers(1, 14))
def test_any_batch_size_gives_the_same_table_and_line_numbers(tmp_path, values, batch_rows):
    folder = tmp_path / f"case{abs(hash((tuple(values), batch_rows)))}"
    folder.mkdir()
    lines = [OKTA_HEADER]
    for i, (user, instance) in enumerate(values):
        quoted = [('"' + v.replace('"', '""') + '"') for v in (f"u{i}{user}", f"i{instance}")]
        lines.append(f"{quoted[0]},user{i}@osprey.example,Salesforce,{quoted[1]},u{i},2025-01-01T00:00:00Z,,,")
    path = folder / "okta_app_assignments.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    population, memory = stage_and_load("okta_app_assignments", path, folder / "s.parquet", batch_rows)
    assert_same(population, memory)


# --- the period file's threshold ----------------------------------------------------------------

def period_text(extra: str) -> str:
    return (KESTREL / "kestrel-2026-Q3.yaml").read_text(encoding="utf-8") + extra


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("'1 MiB'", 2**20), ("1000", 1000)])
def test_large_population_size_is_read_as_a_size(tmp_path, value, expected):
    company = tmp_path / "kestrel"
    shutil.copytree(KESTREL, company)
    period = company / "kestrel-2026-Q3.yaml"
    period.write_text(period_text(f"large_population_size: {value}\n"), encoding="utf-8")
    assert load_period(period).large_population_size == expected


def test_a_bad_large_population_size_is_refused_naming_the_key(tmp_path):
    company = tmp_path / "kestrel"
    shutil.copytree(KESTREL, company)
    period = company / "kestrel-2026-Q3.yaml"
    period.write_text(period_text("large_population_size: lots\n"), encoding="utf-8")
    with pytest.raises((ValidationError, ValueError)) as error:
        load_period(period)
    assert "large_population_size" in str(error.value)


# --- a run with every export staged records what the in-memory run records ----------------------

@pytest.fixture(scope="module")
def kestrel_runs(tmp_path_factory) -> dict[str, Path]:
    runs = {}
    for name, extra in (("in memory", ""), ("staged", "large_population_size: 0\n")):
        company = tmp_path_factory.mktemp(name.replace(" ", "_")) / "kestrel"
        shutil.copytree(KESTREL, company)
        period = company / "kestrel-2026-Q3.yaml"
        period.write_text(period_text(extra), encoding="utf-8")
        assert cli.main(["run", str(period), "--out", str(company / "out"), "--jobs", "2"]) == 0
        runs[name] = latest_run(company / "out" / "2026-Q3")
    return runs


@pytest.mark.e2e
def test_every_export_staged_gives_byte_identical_records(kestrel_runs):
    memory, large = kestrel_runs["in memory"], kestrel_runs["staged"]
    assert sorted((large / staged.STAGED_DIR).glob("*.parquet")) and not (memory / staged.STAGED_DIR).exists()
    records = [p.relative_to(memory) for p in memory.rglob("*")
               if p.is_file() and (p.name in ("population.csv", "sample.csv", "exceptions.csv", "result.json"))]
    assert len(records) > 10
    for relative in records:
        assert (large / relative).read_bytes() == (memory / relative).read_bytes(), relative


@pytest.mark.e2e
def test_the_listing_relation_holds_the_rows_frames_gives(kestrel_runs):
    test = procedures.procedure_class("user_access_review").open(str(kestrel_runs["staged"]), "UAR-01")
    for at in (test.period_end, None):
        relation = test.listing_relation("access_listings", at=at)
        assert relation is not None
        expected = test.frames("access_listings", at)
        got = relation.arrow().read_all().to_pandas() if hasattr(relation.arrow(), "read_all") \
            else relation.arrow().to_pandas()
        assert list(got.columns) == list(expected.columns)
        got = got.astype(expected.dtypes.to_dict()).sort_values(["listing", "line"]).reset_index(drop=True)
        expected = expected.sort_values(["listing", "line"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected)
    in_memory = procedures.procedure_class("user_access_review").open(str(kestrel_runs["in memory"]), "UAR-01")
    assert in_memory.listing_relation("access_listings") is None


@pytest.mark.e2e
def test_ipe_and_freshness_of_a_staged_listing_do_not_load_it(kestrel_runs):
    test = procedures.procedure_class("segregation_of_duties").open(str(kestrel_runs["staged"]), "SOD-CTL-01")
    test.ipe_findings  # noqa: B018
    for source_id in test.source_ids("access_listings"):
        population = test.load(source_id)
        assert isinstance(population, staged.StagedPopulation) and not population.loaded, source_id


ERP_HEADER = "USER_ID,USER_NAME,EMAIL,ROLE_NAME,ROLE_ASSIGNED_DATE,END_DATE,ACCOUNT_STATUS,LAST_LOGON,CREATED_DATE"


@pytest.mark.parametrize("query_above_rows", [0, 10**9], ids=["queried", "read"])
def test_the_ipe_checks_of_a_staged_listing_find_what_they_find_in_memory(tmp_path, monkeypatch, query_above_rows):
    from workbench import ipe

    monkeypatch.setattr(ipe, "QUERY_ABOVE_ROWS", query_above_rows)
    rows = [f"U{i},User {i},u{i}@osprey.example,Role {i % 3},2025-0{1 + i % 9}-01 09:00:00,,ACTIVE,,2025-01-01 09:00:00"
            for i in range(40)]
    rows[7] = "U7,User\x07 7,u7@osprey.example,Role 1,2025-05-01 09:00:00,2025-04-01 00:00:00,ACTIVE,,2025-01-01 09:00:00"
    rows[30] = "U30,User 30,u30@osprey.example,Role\x1b 0,2025-03-01 09:00:00,,ACTIVE,,2025-01-01 09:00:00"
    path = tmp_path / "erp_user_roles.csv"
    path.write_text("\n".join([ERP_HEADER, *rows]) + "\n", encoding="utf-8")
    population, memory = stage_and_load("ledgerline_erp_user_roles", path, tmp_path / "s.parquet", 7)
    in_memory = ipe.run_checks([ipe.SourceData("erp", "erp_user_roles.csv", "grants", memory.frame)])
    batched = ipe.run_checks([ipe.SourceData("erp", "erp_user_roles.csv", "grants", staged.empty_frame(population.parquet),
                                             rows=population.summary.rows, batches=population.batches,
                                             rows_where=population.rows_where)])
    assert {issue.rule for issue in in_memory} == {"ipe_control_characters", "ipe_impossible_sequence"}
    assert batched == in_memory
    assert not population.loaded
