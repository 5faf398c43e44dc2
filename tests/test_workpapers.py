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
        "preparer": "p", "reviewer": "r", "signoff": "not signed off", "run_id": "r1", "seed": 1,
        "controls": [], "exceptions": [{"exception_id": "EX-1", "control_id": "UAR-01", "rule": "self_review",
                                        "subject": XSS, "system": "s", "framework": "SOC 2", "severity": "high",
                                        "description": "d"}],
        "exception_count": 1,
    })
    assert "<script>" not in page and "&lt;script&gt;" in page
