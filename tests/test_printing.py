"""Workpapers on paper (``workbench pdf``): every attribute column of every sampled item reaches the
PDF, each page has its header and "Page x of y" footer, the binder has a bookmark per control, and the
sealed run folder is never written.

One control of the demo period (UAR-01: the widest per-item table) is run once for the module. PDF
text is read with pypdf; Chromium drops text that falls outside the paper, so a cut column is missing
from the text. Chromium is the Debian package ``chromium`` (``make test`` installs it): locally these
tests skip without it; in CI (``CI`` set) a missing browser fails the run.
"""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from conftest import make_demo_project, require_chromium
from workbench import cli, printing, runfolder, workpapers
from workbench.runner import DEMO_PARAMETER_FILE, latest_run, verify_run

pytestmark = pytest.mark.e2e
CONTROL = "UAR-01"
MARKS = {name: mark for name, (mark, _) in workpapers.TICKMARKS.items()}


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_chromium()


def _fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under a folder with its SHA-256 and modification time (to see that nothing changed)."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def printed(tmp_path_factory, chromium) -> dict:
    """UAR-01 of the demo period, run, then printed with ``workbench pdf`` (default output folder)."""
    base = make_demo_project(tmp_path_factory.mktemp("printed"))
    code = cli.main(["run", str(base / "parameters" / DEMO_PARAMETER_FILE), "--out", str(base / "outputs"),
                     "--only", CONTROL])
    run_dir = latest_run(base / "outputs" / "2026-Q3")
    assert code == 0, f"the demo run failed; see {run_dir}/index.html"
    before = _fingerprint(run_dir)
    assert cli.main(["pdf", str(run_dir)]) == 0
    return {"run_dir": run_dir, "before": before, "out": printing.default_out_dir(run_dir)}


def _text_lines(pdf: Path) -> list[str]:
    return [line.strip() for page in PdfReader(pdf).pages for line in page.extract_text().splitlines()]


def _row_lines(lines: list[str]) -> dict[int, str]:
    """Each printed row that has tickmarks, by its row number: a cell that wraps continues the row on
    the next lines (joined until the line with the tickmarks)."""
    rows: dict[int, str] = {}
    for index, line in enumerate(lines):
        match = re.match(r"^(\d+) ", line)
        if not match:
            continue
        text = line
        for following in lines[index + 1:index + 7]:
            if any(mark in text for mark in MARKS.values()) or re.match(r"^\d+ ", following):
                break
            text += " " + following
        if any(mark in text for mark in MARKS.values()):
            rows.setdefault(int(match[1]), text)
    return rows


def test_a_wrapped_row_is_read_whole():
    lines = ["66 66 Security Administrator ✓ ✓ —", "67 67 AP Clerk; GL Accountant; Read Only -", "Reporting ✓ ✓ —",
             "68 68 statistical SOX"]
    assert _row_lines(lines) == {66: "66 66 Security Administrator ✓ ✓ —",
                                 67: "67 67 AP Clerk; GL Accountant; Read Only - Reporting ✓ ✓ —"}


def _sample(run_dir: Path) -> tuple[list[dict[str, str]], list[str]]:
    """The control's tested sample (sample.csv, in the workpaper's order) and its attribute columns
    (those holding only attribute results: pass, fail, n/a, not tested)."""
    with (run_dir / CONTROL / "sample.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    results = set(MARKS) | {"not tested"}
    return rows, [column for column in rows[0] if column != "deviation" and all(r[column] in results for r in rows)]


def test_every_attribute_tickmark_of_every_sampled_item_is_in_the_pdf(printed):
    rows, attributes = _sample(printed["run_dir"])
    lines = _text_lines(printed["out"] / f"{CONTROL}.pdf")
    lines = lines[next(i for i, line in enumerate(lines) if line.startswith("Results per sample item")):]  # the item table on
    assert any(re.match(r"Results per sample item \(columns, part 2 of \d, rows 1–", line) for line in lines), \
        "the per-item table is wider than the page: it is printed in column groups, a block of rows at a time"
    row_lines = _row_lines(lines)
    for number, item in enumerate(rows, start=1):
        marks = " ".join(MARKS.get(item[a], item[a]) for a in attributes)
        deviation = " Yes" if item["deviation"] == "True" else ""
        expected = re.compile(rf"^{number} (?:{re.escape(item['selection_order'])} )?.*{re.escape(marks)}{deviation}$")
        assert number in row_lines, f"item {number} (selection {item['selection_order']}): no tickmarks in the PDF"
        assert expected.match(row_lines[number]), f"item {number}: {row_lines[number]!r} lacks {marks}{deviation}"
    assert len(row_lines) == len(rows)


def test_every_page_has_the_header_and_page_x_of_y(printed):
    reader = PdfReader(printed["out"] / f"{CONTROL}.pdf")
    count = len(reader.pages)
    assert count > 5
    first, last = reader.pages[0].extract_text(), reader.pages[-1].extract_text()
    for text, number in ((first, 1), (last, count)):
        assert "Harbor Lane Payments, Inc. · 2026-Q3" in text
        assert "UAR-01: Quarterly user access review" in text
        assert "Workpaper ref. UAR-01" in text
        assert f"Page {number} of {count}" in text
        assert f"Audit Workbench run {printed['run_dir'].name}" in text
    page = reader.pages[0]
    assert float(page.mediabox.width) > float(page.mediabox.height), "landscape"
    run_id = printed["run_dir"].name
    assert reader.metadata["/CreationDate"] == f"D:{run_id[:8]}{run_id[9:15]}+00'00'", "dated by the run"


def test_the_binder_is_the_index_then_each_workpaper_with_a_bookmark_per_control(printed):
    out = printed["out"]
    binder = PdfReader(out / printing.BINDER)
    index_pages = len(PdfReader(out / "index.pdf").pages)
    workpaper_pages = len(PdfReader(out / f"{CONTROL}.pdf").pages)
    assert len(binder.pages) == index_pages + workpaper_pages
    top = {item.title: binder.get_destination_page_number(item) for item in binder.outline if not isinstance(item, list)}
    assert top == {"Period index (lead sheet)": 0, "UAR-01: Quarterly user access review": index_pages}
    sections = [item.title for item in binder.outline[-1] if not isinstance(item, list)]  # under its bookmark
    assert "5. Attribute testing" in sections and "UAR-01: Quarterly user access review" not in sections
    assert "Workpaper ref. Lead sheet" in binder.pages[0].extract_text()
    assert f"Page 1 of {workpaper_pages}" in binder.pages[index_pages].extract_text()


def test_the_pdfs_go_beside_the_sealed_run_which_still_verifies(printed):
    run_dir, out = printed["run_dir"], printed["out"]
    assert out == run_dir.with_name(f"{run_dir.name}-pdf")
    assert sorted(p.name for p in out.iterdir()) == ["UAR-01.pdf", "binder.pdf", "index.pdf"]
    assert _fingerprint(run_dir) == printed["before"], "printing changed the run folder"
    assert verify_run(run_dir).problems == []
    assert [state.path.name for state in runfolder.list_runs(run_dir.parent)] == [run_dir.name]


def test_printing_into_the_run_folder_or_an_incomplete_run_is_refused(printed, tmp_path, capsys):
    run_dir = printed["run_dir"]
    assert cli.main(["pdf", str(run_dir), "--out", str(run_dir / "pdf")]) == 2
    assert "sealed evidence" in capsys.readouterr().err
    staged = tmp_path / "2026-Q3" / f"{run_dir.name}{runfolder.INCOMPLETE_SUFFIX}"
    shutil.copytree(run_dir, staged)
    assert cli.main(["pdf", str(staged), "--out", str(tmp_path / "out")]) == 2
    assert "incomplete" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _count_ticks(pdf: bytes, path: Path) -> int:
    """The pass tickmarks in a PDF's text (every page is landscape: the stylesheet's @page asks for it)."""
    path.write_bytes(pdf)
    pages = PdfReader(path).pages
    assert all(float(page.mediabox.width) > float(page.mediabox.height) for page in pages), "landscape"
    return sum(page.extract_text().count(MARKS["pass"]) for page in pages)


def test_a_browsers_own_print_keeps_every_column(printed, chromium, tmp_path):
    """The print stylesheet alone (a reviewer's File > Print) puts every tickmark on paper; without
    its wrapping rule the table runs off the page and the tickmarks are lost (the check can fail)."""
    rows, attributes = _sample(printed["run_dir"])
    expected = sum(item[a] == "pass" for item in rows for a in attributes) + 1  # + the legend's
    page = printed["run_dir"] / CONTROL / "workpaper.html"
    rule = "table.wp-table th, table.wp-table td { overflow-wrap: anywhere; }"
    assert rule in page.read_text(encoding="utf-8")
    unwrapped = tmp_path / "unwrapped.html"
    unwrapped.write_text(page.read_text(encoding="utf-8").replace(rule, ""), encoding="utf-8")
    with printing.browser(chromium) as client:
        as_printed = _count_ticks(printing.print_page(client, page, None), tmp_path / "print.pdf")
        cut = _count_ticks(printing.print_page(client, unwrapped, None), tmp_path / "cut.pdf")
    assert as_printed == expected
    assert cut < expected


def test_a_pdf_is_dated_by_its_run_not_by_its_printing():
    pdf = b"<< /Producer (Skia/PDF m156)\n/CreationDate (D:20270101120000+00'00')\n/ModDate (D:20270101120000+00'00')>>"
    stamped = printing.stamp_date(pdf, "20261126T101500Z-2")
    assert stamped == pdf.replace(b"20270101120000", b"20261126101500") and len(stamped) == len(pdf)
    assert printing.stamp_date(pdf, "not-a-run-id") == pdf


def test_header_and_footer_values_are_escaped():
    page = printing.Page(title="<b>x</b>", entity="A & B", period="2026-Q3", reference="R<1>", run_id="r")
    header = printing.header_template(page)
    assert "&lt;b&gt;x&lt;/b&gt;" in header and "A &amp; B" in header and "<b>" not in header
    assert 'class="pageNumber"' in printing.footer_template(page)


def test_without_chromium_printing_says_how_to_install_it(monkeypatch):
    monkeypatch.delenv(printing.CHROMIUM_ENV, raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(printing.PrintError, match="apt-get install chromium"):
        with printing.browser():
            pass
