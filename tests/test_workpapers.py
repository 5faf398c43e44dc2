"""Workpaper HTML: data is escaped, code is hidden, and nothing is fetched from the network."""

from __future__ import annotations

import re

import nbformat
import pandas as pd

from workbench import workpapers

XSS = "<script>alert(1)</script>"


def test_table_escapes_values_from_the_data():
    markup = str(workpapers.table(pd.DataFrame({"subject": [XSS]}), caption=f"caption {XSS}"))
    assert "<script>" not in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in markup


def test_key_values_and_header_escape():
    assert "<script>" not in str(workpapers.key_values([("Owner", XSS)]))
    assert "<script>" not in workpapers.header_html([("Entity", XSS)], XSS, "completed")


def test_table_says_when_rows_are_cut():
    markup = str(workpapers.table(pd.DataFrame({"a": range(10)}), max_rows=3))
    assert "First 3 of 10 rows shown" in markup


def _executed_notebook(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("run_dir = ''", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_markdown_cell("## 1. Population"),
        nbformat.v4.new_code_cell("secret_code_line = 42"),
    ]
    notebook.cells[2].outputs = [nbformat.v4.new_output(
        "display_data", data={"text/html": str(workpapers.table(pd.DataFrame({"subject": [XSS]})))})]
    path = tmp_path / "workpaper.ipynb"
    nbformat.write(notebook, path)
    return path


def test_export_hides_code_and_loads_nothing_from_the_network(tmp_path):
    html_path = workpapers.export_html(_executed_notebook(tmp_path), tmp_path / "workpaper.html",
                                       workpapers.header_html([("Entity", "Acme")], "UAR-01", "completed"))
    page = html_path.read_text()
    assert "secret_code_line" not in page and "run_dir = ''" not in page
    assert "<script>alert(1)</script>" not in page
    assert re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page) == []
    assert "require.js" not in page and "mathjax" not in page.lower()
    assert 'href="#1.-Population"' in page and 'id="1.-Population"' in page
    assert "Acme" in page


def test_index_escapes_entity_and_exceptions():
    page = workpapers.render_index({
        "entity": XSS, "period_id": "2026-Q3", "period_start": "2026-07-01", "period_end": "2026-09-30",
        "preparer": "p", "reviewer": XSS, "signoff_file": "signoff.json", "run_id": "r1", "seed": 1,
        "controls": [], "failed": [], "exceptions": [{"exception_id": "EX-1", "control_id": "UAR-01", "rule": "self_review",
                                        "subject": XSS, "system": "s", "framework": "SOC 2", "severity": "high",
                                        "description": "d"}],
        "exception_count": 1,
    })
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_escape_treats_missing_values_as_empty_text():
    import numpy as np

    for missing in (None, float("nan"), np.nan, pd.NA, pd.NaT):
        assert workpapers.escape(missing) == ""
    assert workpapers.escape(0) == "0" and workpapers.escape("") == "" and workpapers.escape([1]) == "[1]"


def test_importing_the_display_helpers_does_not_import_nbconvert():
    """Every procedure kernel imports workpapers: nbconvert and Jinja load only when exporting."""
    import subprocess
    import sys

    code = "import sys, workbench.workpapers; print(sorted({'nbconvert', 'jinja2', 'nbformat', 'pandas'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_export_embeds_figures_with_alt_text_and_sets_the_title(tmp_path):
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("plot()")
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})]
    notebook.cells = [cell]
    nbformat.write(notebook, tmp_path / "workpaper.ipynb")
    page = workpapers.export_html(tmp_path / "workpaper.ipynb", tmp_path / "workpaper.html", "", title=f"UAR-01 {XSS}").read_text()
    assert f'src="data:image/png;base64,{png}"' in page
    assert re.search(r'<img alt="[^"]+"\s+src="data:image/png', page)
    assert "<title>UAR-01 &lt;script&gt;" in page


def test_export_reuses_one_exporter_per_process(tmp_path):
    notebook = _executed_notebook(tmp_path)
    first = workpapers.export_html(notebook, tmp_path / "a.html", "h")
    second = workpapers.export_html(notebook, tmp_path / "b.html", "h")
    assert first.read_text() == second.read_text()
    assert workpapers._html_exporter() is workpapers._html_exporter()


def test_index_keeps_the_stylesheet_intact():
    """The stylesheet is ours, not data: autoescaping it would turn its quotes into entities."""
    page = workpapers.render_index({
        "entity": "e", "period_id": "p", "period_start": "s", "period_end": "e", "preparer": "p", "reviewer": "r",
        "signoff_file": "signoff.json", "run_id": "r1", "seed": 1, "controls": [], "failed": [], "exceptions": [],
        "exception_count": 0,
    })
    assert 'font-family: "Segoe UI"' in page and "&#34;" not in page


def test_a_failed_workpaper_says_so_under_the_header_and_hides_papermills_marker(tmp_path):
    notebook = nbformat.v4.new_notebook()
    marker = nbformat.v4.new_markdown_cell("An Exception was encountered at 'In [5]'.")
    marker.metadata["tags"] = ["papermill-error-cell-tag"]
    notebook.cells = [marker, nbformat.v4.new_markdown_cell("## 1. Population")]
    nbformat.write(notebook, tmp_path / "workpaper.ipynb")
    header = workpapers.header_html([("Entity", "Acme")], "UAR-01", "failed", f"ValueError: bad date {XSS}")
    page = workpapers.export_html(tmp_path / "workpaper.ipynb", tmp_path / "workpaper.html", header).read_text()
    assert "This workpaper is incomplete" in page and "ValueError: bad date &lt;script&gt;" in page
    assert "An Exception was encountered" not in page
    assert page.index("This workpaper is incomplete") < page.index("1. Population")


def test_flagged_cells_are_highlighted_and_nothing_else_is():
    frame = pd.DataFrame({"check": ["a", "b"], "result": ["agrees", "DIFFERS"]})
    markup = workpapers.table(workpapers.flag_cells(frame, [(1, "result")])).markup
    assert '<td class="wp-flag">DIFFERS</td>' in markup and "<td>agrees</td>" in markup
    assert markup.count("wp-flag") == 1 and "\ue000" not in markup


def test_headers_and_values_read_in_words_and_dates_do_not_wrap():
    frame = pd.DataFrame({"reviewer_email": ["a@x.example"], "median_seconds_between_decisions": [3.0],
                          "approved_before": [True], "decided_at": [pd.Timestamp("2026-07-14 09:12", tz="UTC")],
                          "A3_reviewer_independent": ["✓"], "A3_reviewer_appropriate": ["✗"],
                          "due_date": ["2026-09-30"]})
    markup = workpapers.table(frame).markup
    for header in ("Reviewer", "Median seconds between decisions", "Approved before", "Decided at",
                   "A3 reviewer independent", "A3 reviewer appropriate", "Due date"):
        assert f"<th>{header}</th>" in markup, header
    assert "reviewer_email" not in markup and "True" not in markup and "<td>Yes</td>" in markup
    assert '<td class="wp-date">2026-07-14 09:12 UTC</td>' in markup
    assert '<td class="wp-date">2026-09-30</td>' in markup
