"""One reading path: every CSV export, whatever its size, is read through Arrow, and a file Arrow
cannot vouch for falls back, on its own, to the csv module with a note in its evidence saying why.

The table, the line numbers, the rows rejected and every error are the csv module's (the exact
path, still reachable with ``fast: false``): the fixtures of every canonical export are compared
here, and test_populations / test_intake / test_bad_input hold the edge cases (BOMs, preambles,
quoted newlines, ragged rows, NUL bytes, bytes that are not UTF-8) on both paths.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from workbench import populations as P
from workbench.populations import PopulationError, load_source

EXPORTS = Path(__file__).parent / "data" / "exports"
ROBUST = EXPORTS / "robustness"
EXTRACTED = "2026-10-01T06:00:00+00:00"
FALLBACK = "Read with the csv module rather than Arrow"


def load(kind: str, path: Path, **options: object) -> P.Population:
    return load_source(kind, path, extracted_at=EXTRACTED, **({"options": options} if options else {}))


def same_reading(arrow: P.Population, exact: P.Population) -> None:
    """The two paths read the file alike: table, line numbers, rejections, evidence (but the format)."""
    pd.testing.assert_frame_equal(arrow.frame, exact.frame, check_exact=True)
    left, right = arrow.evidence.to_dict(), exact.evidence.to_dict()
    for name in ("file_format", "options", "notes"):
        left.pop(name), right.pop(name)
    assert left == right


def test_the_threshold_is_gone_every_csv_takes_arrow():
    assert P.FAST_PATH_BYTES == 0


@pytest.mark.parametrize("kind, path", [
    ("workday_workers", EXPORTS / "hr" / "workday_workers.csv"),
    ("okta_users", EXPORTS / "idp" / "okta_users.csv"),
    ("ledgerline_erp_user_roles", EXPORTS / "apps" / "ledgerline_erp_user_roles.csv"),
    ("workday_workers", ROBUST / "hr" / "workers_bom_crlf.csv"),
    ("workday_workers", ROBUST / "hr" / "workers_quoted_newline.csv"),
    ("workday_workers", ROBUST / "hr" / "workers_header_only.csv"),
], ids=lambda v: getattr(v, "name", v))
def test_a_small_export_is_read_by_arrow_as_the_csv_module_reads_it(kind, path):
    if not path.exists():
        pytest.skip(f"no fixture {path.name}")
    arrow = load(kind, path)
    assert arrow.evidence.file_format == "csv (Arrow)"
    assert not any(FALLBACK in note for note in arrow.evidence.notes)
    same_reading(arrow, load(kind, path, fast=False))


def test_a_utf16_file_falls_back_to_the_csv_module_and_says_so():
    path = ROBUST / "hr" / "workers_utf16.csv"
    population = load("workday_workers", path)
    assert population.evidence.file_format == "csv"
    assert f"{FALLBACK}: the file is UTF-16." in population.evidence.notes
    same_reading(population, load("workday_workers", path, fast=False))


def test_a_declared_encoding_other_than_utf8_falls_back_and_says_so():
    path = ROBUST / "hr" / "workers_latin1.csv"
    population = load("workday_workers", path, encoding="latin-1")
    assert population.evidence.file_format == "csv"
    assert f"{FALLBACK}: the Arrow path reads UTF-8 files only." in population.evidence.notes


def test_a_header_spanning_two_lines_is_read_by_the_csv_module_with_a_note(tmp_path):
    # Arrow cannot place a header row holding a newline inside quotes: the file goes to the csv
    # module whole, and its line numbers are the csv module's (the first row is on line 3).
    path = tmp_path / "policy" / "approved.csv"
    path.parent.mkdir()
    path.write_text('system,account,entitlement,"approved\nby",approved_on,expires_on\n'
                    "github,a1,owner,Avery,2026-01-15,\n", encoding="utf-8")
    options = {"columns": {"approved_by": "approved\nby"}}
    population = load_source("privileged_access_approved", path, options=options)
    assert population.evidence.file_format == "csv"
    assert f"{FALLBACK}: the header row spans several lines." in population.evidence.notes
    assert population.frame["line"].tolist() == [3]


def test_a_nul_byte_falls_back_and_is_named_on_its_line(tmp_path):
    path = tmp_path / "policy" / "approved.csv"
    path.parent.mkdir()
    path.write_bytes(b"system,account,entitlement,approved_by,approved_on,expires_on\n"
                     b"github,a1,owner,Avery,2026-01-15,\n"
                     b"github,a2,owner,Av\x00ery,2026-01-15,\n")
    messages = []
    for fast in (True, False):
        with pytest.raises(PopulationError) as error:
            load_source("privileged_access_approved", path, options={"fast": fast})
        messages.append(str(error.value))
    assert messages[0] == messages[1] and "line 3" in messages[0]


def test_quoted_newlines_keep_the_csv_modules_line_numbers_on_arrow(tmp_path):
    path = tmp_path / "policy" / "approved.csv"
    path.parent.mkdir()
    path.write_text("system,account,entitlement,approved_by,approved_on,expires_on\n"
                    'github,a1,owner,"Avery\nStone",2026-01-15,\n'
                    'github,a2,owner,"A\r\nB\rC",2026-01-15,\n'
                    "github,a3,owner,Dana,2026-01-15,\n", encoding="utf-8", newline="")
    arrow = load_source("privileged_access_approved", path)
    exact = load_source("privileged_access_approved", path, options={"fast": False})
    assert arrow.evidence.file_format == "csv (Arrow)"
    assert arrow.frame["line"].tolist() == exact.frame["line"].tolist() == [2, 4, 7]
    pd.testing.assert_frame_equal(arrow.frame, exact.frame, check_exact=True)
