"""One reading path: every CSV export, whatever its size, is read through Arrow, and a file Arrow
cannot vouch for falls back, on its own, to the csv module with a note in its evidence saying why.

The table, the line numbers, the rows rejected and every error are the csv module's (the exact
path, still reachable with ``fast: false``): the fixtures of every canonical export are compared
here, and test_populations / test_intake / test_bad_input hold the edge cases (BOMs, preambles,
quoted newlines, ragged rows, NUL bytes, bytes that are not UTF-8) on both paths.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import populations as P
from workbench.populations import PopulationError, csv_fast, hashing, load_source
from workbench.populations.csv_exact import _read_csv_exact
from workbench.populations.options import _Options

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


# --------------------------------------------------------------------------------------------
# The reader itself (csv_fast._read_csv_fast) against the csv module (csv_exact._read_csv_exact),
# raw table by raw table: text, line numbers, rows set aside, SHA-256, errors. A block of a few
# hundred bytes (csv_fast.BLOCK_BYTES) makes a small file cross many of Arrow's block boundaries.
# --------------------------------------------------------------------------------------------

@pytest.fixture
def small_blocks(monkeypatch):
    """Arrow parses the file 256 bytes at a time: many block boundaries in a small file."""
    monkeypatch.setattr(csv_fast, "BLOCK_BYTES", 256)


def raw_reading(path: Path, fast: bool, **options: object) -> object:
    """What one path makes of the file: its raw table as plain values, or the error message;
    for the Arrow path, why it handed the file to the csv module (None if it did not)."""
    opts = _Options(**options)
    try:
        if fast:
            table, why = csv_fast._read_csv_fast(path, path.name, opts, opts.delimiter)
            if table is None:
                return ("handed to the csv module", why)
        else:
            table = _read_csv_exact(path, path.name, opts, opts.delimiter)
    except PopulationError as error:
        return str(error)
    return {"header": table.header, "header_line": table.header_line,
            "columns": [column.to_pylist() for column in table.columns],
            "lines": table.lines.tolist(), "rejected": table.rejected, "sha256": table.sha256,
            "size": table.size_bytes, "encoding": table.encoding, "preamble": table.preamble}


def long_quoted_export(newline: str, rows: int = 60) -> str:
    """A grants listing whose justification column holds commas, quotes and line breaks (LF,
    CRLF, a lone CR) every few rows, with blank lines and rows of empty fields among them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(["Account", "Entitlement", "Justification", "Granted on"])
    for i in range(rows):
        note = {0: f"ticket {i}, approved", 1: f'said "yes"\nthen\r\nagain {i}', 2: f"plain {i}",
                3: f"old\rmac, {i}", 4: ""}[i % 5]
        writer.writerow([f"acct{i:04d}", f"Role {i % 7}", note, f"2026-0{1 + i % 9}-1{i % 10}"])
        if i % 13 == 0:
            out.write(newline)
        if i % 17 == 0:
            out.write(",,," + newline)
    return out.getvalue()


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("bom", [False, True])
def test_line_numbers_with_quoted_newlines_across_many_arrow_blocks(tmp_path, small_blocks,
                                                                    newline, bom):
    path = tmp_path / "grants.csv"
    data = long_quoted_export(newline).encode()
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    assert len(data) > 8 * csv_fast.BLOCK_BYTES  # the file really crosses many blocks
    fast, exact = raw_reading(path, True), raw_reading(path, False)
    assert isinstance(fast, dict), fast
    assert fast == exact
    # a row after several quoted line breaks is on the line the file shows it on
    text = path.read_bytes().decode("utf-8-sig")
    lines = io.StringIO(text, newline=None).read().split("\n")
    at = fast["columns"][0].index("acct0057")
    assert lines[fast["lines"][at] - 1].startswith("acct0057,")


def test_the_hash_is_sha256_of_the_files_bytes(tmp_path, small_blocks):
    """BOM, a preamble, CRLF, quoted newlines and no final line end: the SHA-256 and size are
    those of every byte of the file, whatever the parser read."""
    path = tmp_path / "grants.csv"
    data = (b"\xef\xbb\xbfGrants report\r\n" + long_quoted_export("\r\n").encode()).rstrip(b"\r\n")
    path.write_bytes(data)
    fast = raw_reading(path, True, preamble_lines=1)
    assert isinstance(fast, dict), fast
    assert fast["sha256"] == hashlib.sha256(data).hexdigest() == P.file_sha256(path)
    assert fast["size"] == len(data)
    assert fast == raw_reading(path, False, preamble_lines=1)


def test_a_ragged_row_in_the_last_block_is_named_on_its_line(tmp_path, small_blocks):
    path = tmp_path / "grants.csv"
    path.write_text(long_quoted_export("\n") + "acct9999,Role 1\n", encoding="utf-8")
    fast, exact = raw_reading(path, True), raw_reading(path, False)
    assert isinstance(fast, str) and fast == exact
    last = len(path.read_text(encoding="utf-8").splitlines())
    assert f"line {last}" in fast


def test_a_nul_byte_in_the_last_block_hands_the_file_to_the_csv_module(tmp_path, small_blocks):
    path = tmp_path / "grants.csv"
    path.write_bytes(long_quoted_export("\n").encode() + b"acct9999,Role\x001,x,2026-01-01\n")
    fast = raw_reading(path, True)
    assert fast == ("handed to the csv module", "the file holds a NUL byte")
    assert "NUL" in raw_reading(path, False)


def test_lone_cr_line_ends_without_quotes_are_counted_as_python_counts_them(tmp_path):
    # no quote in the data: the reader does not count line ends, it relies on Arrow ending a row
    # at a lone CR as Python's universal newlines do
    path = tmp_path / "grants.csv"
    path.write_bytes(b"Account,Entitlement\na1,Role 1\r\ra2,Role 2\r\n,\na3,Role 3")
    fast = raw_reading(path, True)
    assert isinstance(fast, dict), fast
    assert fast["lines"] == [2, 4, 6]
    assert fast == raw_reading(path, False)


def test_a_file_whose_lines_end_with_a_lone_cr_is_handed_to_the_csv_module(tmp_path):
    # the head is read line by line up to each LF: an old Mac file would look like one long header
    path = tmp_path / "grants.csv"
    path.write_bytes(b"Account,Entitlement\ra1,Role 1\ra2,Role 2\r")
    assert raw_reading(path, True) == ("handed to the csv module", "the file's lines end with a lone CR")
    assert raw_reading(path, False)["lines"] == [2, 3]
    population = load_source("mapped", path, system="github", options={"table": "grants", "columns": {
        "account_id": "Account", "entitlement": "Entitlement"}})
    assert population.frame["line"].tolist() == [2, 3]
    assert f"{FALLBACK}: the file's lines end with a lone CR." in population.evidence.notes


def test_tally_is_the_same_in_one_piece_or_in_any_pieces():
    data = b'a,b\r\n"x\ry",1\r\n\r"q""\n",\x002\n\r\n' * 3 + b"end\r"
    whole = hashing._ByteTally(",", 5)
    whole.feed(data)
    whole.finish()
    for size in (1, 2, 3, 7):
        pieces = hashing._ByteTally(",", 5)
        for k in range(0, len(data), size):
            pieces.feed(memoryview(data)[k:k + size])
        pieces.finish()
        assert (pieces.sha256, pieces.size, pieces.newlines, pieces.last, pieces.nul,
                pieces.suspect) == (whole.sha256, whole.size, whole.newlines, whole.last,
                                    whole.nul, whole.suspect)
    assert whole.sha256 == hashlib.sha256(data).hexdigest()
    assert whole.newlines == len(io.StringIO(data.decode("latin-1"), newline=None).readlines())
    assert whole.nul and whole.last == b"\r"


CELLS = st.text(st.sampled_from(list('ab ,"\n\r;é日\U0001f600=')), max_size=8)


@settings(max_examples=int(os.environ.get("POPULATIONS_EXAMPLES", 40)), deadline=None)
@given(rows=st.lists(st.one_of(st.lists(CELLS, min_size=3, max_size=3),
                               st.sampled_from(["", ",,", "  ,  ,  ", "x,y"])),
                     max_size=25),
       newline=st.sampled_from(["\n", "\r\n", "\r"]),
       quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
       bom=st.booleans(), final_newline=st.booleans(),
       block=st.sampled_from([None, 64, 300]))
def test_the_arrow_reader_is_the_csv_module_on_any_small_file(rows, newline, quoting, bom,
                                                              final_newline, block):
    """Generated CSVs (quoting, delimiters, quotes and CR/LF/CRLF inside values, blank lines,
    rows of empty fields, ragged rows, unicode, BOM, no final line end, tiny Arrow blocks): where
    the Arrow reader vouches for the file, its raw table (text, lines, rows set aside, SHA-256) is
    the csv module's, and where the csv module refuses the file, the Arrow reader refuses it with
    the same message or hands it over."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline, quoting=quoting)
    writer.writerow(["Account", "Entitlement", "Note"])
    for row in rows:
        if isinstance(row, str):
            out.write(row + newline)
        else:
            writer.writerow(row)
    text = out.getvalue()
    if not final_newline and text.endswith(newline):
        text = text[:-len(newline)]
    original = csv_fast.BLOCK_BYTES
    csv_fast.BLOCK_BYTES = block
    try:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "grants.csv"
            path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
            fast, exact = raw_reading(path, True), raw_reading(path, False)
    except pa.ArrowInvalid as error:  # a row longer than a tiny block: Arrow's own limit
        assert block is not None and "straddling" in str(error)
        return
    finally:
        csv_fast.BLOCK_BYTES = original
    if isinstance(fast, tuple):  # handed to the csv module: it reads what it reads
        return
    assert fast == exact


def test_staging_batch_by_batch_reads_the_file_once_with_the_same_hash_and_lines(tmp_path):
    """Staging (populations.staged) parses through the same stream: the SHA-256 is hashlib's,
    and a NUL byte found only after the last batch sends the file to the in-memory path, whose
    error names the line; nothing is left half-written."""
    from workbench.populations import staged

    text = "Account,Entitlement,Justification\n" + "".join(
        f'a{i},Role {i % 3},"line\none {i}"\n' if i % 4 == 0 else f"a{i},Role {i % 3},plain\n"
        for i in range(40))
    path = tmp_path / "grants.csv"
    path.write_bytes(text.encode())
    batches, finish = staged._raw_batches(path, _Options(), 7)
    lines = [int(n) for raw in batches for n in raw.lines]
    assert finish() == (hashlib.sha256(path.read_bytes()).hexdigest(), len(path.read_bytes()))
    assert lines == raw_reading(path, False)["lines"]

    path.write_bytes(text.encode() + b"a99,Role\x00 1,x\n")
    batches, finish = staged._raw_batches(path, _Options(), 7)
    assert sum(len(raw.lines) for raw in batches) == 41
    with pytest.raises(staged._NotBatched, match="NUL byte"):
        finish()
    options = {"table": "grants", "columns": {"account_id": "Account", "entitlement": "Entitlement"}}
    load = functools.partial(load_source, "mapped", path, system="erp", options=options)
    with pytest.raises(PopulationError) as error:
        staged.stage("mapped", path, tmp_path / "staged.parquet", load, options=options, batch_rows=7)
    assert error.value.row == len(text.splitlines()) + 1 and "NUL" in str(error.value)
    assert not list(tmp_path.glob("*.parquet")) and not list(tmp_path.glob(".*.tmp"))


def test_the_streamed_parse_allocates_from_jemalloc_where_pyarrow_has_it(monkeypatch):
    """pyarrow's default pool (mimalloc) made the kernel zero fresh pages for seconds on a 10 M-grant
    read from the stream (``csv_fast.parse_memory_pool``); the parse asks for jemalloc (the pool
    decides where the bytes live, not what they are: every other test of this file reads the same
    tables as before)."""
    import pyarrow.csv as pv

    pools = []
    real_read_csv = pv.read_csv

    def spy(*args: object, **kwargs: object) -> pa.Table:
        pools.append(kwargs.get("memory_pool"))
        return real_read_csv(*args, **kwargs)

    monkeypatch.setattr(pv, "read_csv", spy)
    path = EXPORTS / "hr" / "workday_workers.csv"
    arrow = load("workday_workers", path)
    try:
        expected = pa.jemalloc_memory_pool().backend_name
    except NotImplementedError:
        expected = pa.default_memory_pool().backend_name
    assert pools and all(pool is not None and pool.backend_name == expected for pool in pools)
    assert arrow.evidence.row_count == len(arrow.frame) > 0
