"""Workpapers: what the notebooks display, the self-contained HTML export, and the period index.

Why its own template: nbconvert's default HTML loads require.js and MathJax from a CDN, and
``report_mode`` does not hide code. The ``workpaper`` template extends JupyterLab's, drops every
network script, and the exporter excludes code cells and the parameter cells, so a reviewer opens
the workpaper offline years later and sees only evidence. Every value from the data is HTML-escaped.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import jinja2
import nbformat
import pandas as pd
from nbconvert import HTMLExporter
from traitlets.config import Config

from workbench import __version__

TEMPLATES = Path(str(resources.files("workbench") / "templates"))
HIDDEN_CELL_TAGS = {"parameters", "injected-parameters", "remove-cell"}
TICKMARKS = {
    "pass": ("✓", "Attribute tested; no exception noted."),
    "fail": ("✗", "Attribute tested; exception noted (see the exception register)."),
    "n/a": ("—", "Attribute not applicable to this item (e.g. no revocation was decided)."),
}


def stylesheet() -> str:
    """The CSS shared by workpapers and the index (inlined: no external requests)."""
    return (TEMPLATES / "workbench.css").read_text(encoding="utf-8")


@dataclass(frozen=True)
class HtmlBlock:
    """Ready-made HTML that a notebook displays as a rich output (and nbconvert keeps as is)."""

    markup: str

    def _repr_html_(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup


def escape(value: Any) -> str:
    """HTML-escape a value from the data (quotes included); missing values become empty text."""
    if value is None or (not isinstance(value, (list, tuple, dict)) and pd.isna(value)):
        return ""
    return html.escape(str(value), quote=True)


def table(frame: pd.DataFrame, caption: str | None = None, max_rows: int | None = None) -> HtmlBlock:
    """A DataFrame as an escaped, styled HTML table; ``max_rows`` shows the first rows and says so."""
    shown = frame if max_rows is None or len(frame) <= max_rows else frame.head(max_rows)
    shown = shown.astype(object).where(shown.notna(), "")  # nullable NA would print as "<NA>"
    markup = shown.to_html(index=False, escape=True, na_rep="", classes="wp-table", border=0)
    if caption:
        markup = markup.replace('class="dataframe wp-table">', f'class="dataframe wp-table">\n  <caption>{escape(caption)}</caption>', 1)
    if len(shown) < len(frame):
        markup += f'<p class="wp-note">First {len(shown)} of {len(frame)} rows shown; all rows are in the run folder.</p>'
    return HtmlBlock(markup)


def key_values(rows: Iterable[tuple[str, Any]], caption: str | None = None) -> HtmlBlock:
    """Label/value pairs as a two-column table (evidence, rationale, evaluation)."""
    body = "".join(f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>" for label, value in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return HtmlBlock(f'<table class="wp-table">{cap}<tbody>{body}</tbody></table>')


def paragraph(text: str, css_class: str = "") -> HtmlBlock:
    """A paragraph of escaped text."""
    cls = f' class="{css_class}"' if css_class else ""
    return HtmlBlock(f"<p{cls}>{escape(text)}</p>")


def tickmark_legend() -> HtmlBlock:
    """The tickmark legend used in per-item attribute results."""
    return key_values(((f"{mark}  ({name})", meaning) for name, (mark, meaning) in TICKMARKS.items()), "Tickmark legend")


def conclusion_block(framework: str, headline: str, body: list[str], effective: bool) -> HtmlBlock:
    """One framework's conclusion, written in that framework's language."""
    css = "wp-result-effective" if effective else "wp-result-exceptions"
    items = "".join(f"<p>{escape(line)}</p>" for line in body)
    return HtmlBlock(
        f'<div class="wp-conclusion"><h4>{escape(framework)}: <span class="wp-status {css}">{escape(headline)}</span></h4>{items}</div>'
    )


def header_html(rows: list[tuple[str, Any]], title: str, status: str) -> str:
    """The workpaper header block: identification, frameworks, people and run status."""
    body = "".join(f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>" for label, value in rows)
    return (
        f'<div class="wp-header"><h1>{escape(title)}</h1><table>{body}'
        f'<tr><th>Run status</th><td><span class="wp-status wp-status-{escape(status)}">{escape(status)}</span></td></tr>'
        f"</table></div>"
    )


def _heading_anchor(text: str) -> str:
    """The id nbconvert gives a markdown heading (its text with spaces as hyphens)."""
    return text.strip().replace(" ", "-")


def toc_html(notebook: nbformat.NotebookNode) -> str:
    """A table of contents from the notebook's level-2 markdown headings."""
    headings = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and not HIDDEN_CELL_TAGS & set(cell.metadata.get("tags", [])):
            headings += [m.group(1).strip() for m in re.finditer(r"^##\s+(.+)$", cell.source, re.MULTILINE)]
    if not headings:
        return ""
    items = "".join(f'<li><a href="#{escape(_heading_anchor(h))}">{escape(h)}</a></li>' for h in headings)
    return f'<nav class="wp-toc"><strong>Contents</strong><ol>{items}</ol></nav>'


def export_html(notebook_path: Path, html_path: Path, header: str, footer: str = "") -> Path:
    """Convert an executed notebook to a self-contained HTML workpaper (no code, no network).

    Written through a temporary file and a rename, so a failed export never leaves half a page.
    """
    notebook = nbformat.read(notebook_path, as_version=4)
    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = HIDDEN_CELL_TAGS
    config.HTMLExporter.exclude_input = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    exporter = HTMLExporter(config=config, template_name="workpaper", extra_template_basedirs=[str(TEMPLATES)])
    resources_in = {
        "metadata": {"name": notebook_path.stem},
        "workbench": {
            "version": __version__,
            "css": stylesheet(),
            "header_html": header,
            "toc_html": toc_html(notebook),
            "footer_html": footer,
        },
    }
    body, _ = exporter.from_notebook_node(notebook, resources=resources_in)
    temporary = html_path.with_name(f".{html_path.name}.tmp")
    temporary.write_text(body, encoding="utf-8")
    temporary.replace(html_path)
    return html_path


def render_index(context: dict[str, Any]) -> str:
    """The period index (lead sheet) as HTML, every data value escaped by Jinja's autoescape."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=jinja2.StrictUndefined
    )
    return environment.get_template("index.html.j2").render(css=stylesheet(), version=__version__, **context)
