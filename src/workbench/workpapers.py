"""Workpapers: what the notebooks display, the self-contained HTML export, and the period index.

Why its own template: nbconvert's default HTML loads require.js and MathJax from a CDN, and
``report_mode`` does not hide code. The ``workpaper`` template extends JupyterLab's, drops every
network script, and the exporter excludes code cells and the parameter cells, so a reviewer opens
the workpaper offline years later and sees only evidence. Every value from the data is HTML-escaped.

Every procedure notebook's kernel imports this module for its display helpers, so nbconvert,
nbformat and Jinja (about a quarter of a second) are imported only by the functions that export;
and the runner's worker processes, which only export, never import pandas.
"""

from __future__ import annotations

import functools
import html
import math
import re
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench import __version__, referencing, runfolder

if TYPE_CHECKING:  # imported lazily at run time: see the module docstring
    import nbformat
    import pandas as pd
    from nbconvert import HTMLExporter

TEMPLATES = Path(str(resources.files("workbench") / "templates"))
# papermill marks a failed notebook with cells saying "An Exception was encountered at 'In [5]'";
# a failed workpaper says what failed in its header instead (``header_html``'s ``error``).
HIDDEN_CELL_TAGS = {"parameters", "injected-parameters", "remove-cell", "papermill-error-cell-tag"}
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


def _is_missing(value: Any) -> bool:
    """Whether a single value is missing (None, NaN, pandas NA/NaT), without importing pandas."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (str, list, tuple, dict, int)):
        return False
    pandas = sys.modules.get("pandas")  # a pandas missing value implies pandas is imported
    return bool(pandas is not None and pandas.api.types.is_scalar(value) and pandas.isna(value))


def escape(value: Any) -> str:
    """HTML-escape a value from the data (quotes included); missing values become empty text."""
    if _is_missing(value):
        return ""
    return html.escape(str(value), quote=True)


#: Marks a cell to flag while pandas renders the table (a private-use character, never in data).
_FLAG = "\ue000"
#: Marks a date or time cell, which must not wrap.
_DATE = "\ue001"
#: Marks a cell that anchors its row (an exception id, an item reference): the text after it is the id.
_ANCHOR = "\ue002"
_ANCHOR_CELL = re.compile("<td>" + _ANCHOR + "([^\ue003]*)\ue003")
ANCHORS_ATTR = "anchors"
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?( ?(UTC|Z|[+-]\d{2}:\d{2}))?$")
#: How a column's code name reads in a workpaper where the general rule (underscores as spaces,
#: "email" as "e-mail", a capital first letter) would not say it as an auditor does.
COLUMN_WORDS = {
    "reviewer_email": "Reviewer", "reviewer_name": "Reviewer name", "subject_email": "Person reviewed",
    "subject_name": "Name of the person reviewed", "person_email": "Person", "login": "Account",
    "login_original": "Account as exported", "item_key": "Item", "detail_key": "Detail",
    "evidence_reference": "Evidence", "selection_order": "Order", "decided_at": "Decided at",
    "granted_at": "Granted at", "removed_at": "Removed at", "approved_at": "Approved at",
    "median_seconds_between_decisions": "Median seconds between decisions", "approval_rate": "Approval rate",
    "requested_for": "Requested for", "opened_by": "Opened by", "expires_on": "Expires on",
    "approved_by": "Approved by", "rule": "Rule", "system": "System", "subject": "Subject",
}


def column_words(column: object) -> str:
    """A column header in words: ``reviewer_email`` -> "Reviewer", ``A3_reviewer_independent`` ->
    "A3 reviewer independent" (each attribute header unique), ``last_decision`` -> "Last decision"."""
    name = str(column)
    if name in COLUMN_WORDS:
        return COLUMN_WORDS[name]
    text = name.replace("_", " ").replace("email", "e-mail")
    return text[:1].upper() + text[1:]


def _in_words(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a workpaper shows it: headers in words (never two alike), True/False as Yes/No,
    dates marked so they do not wrap, every value an object and a missing one empty (a nullable NA
    would print as "<NA>").

    Built column by column on NumPy object arrays and made a frame once, rather than by pandas'
    frame-wide copy, assignment and ``where``: a workpaper renders a dozen or more small tables, and
    those operations cost more than the values (the same values: ``table``'s test holds them to it)."""
    import numpy as np
    import pandas as pd

    seen: set[str] = set()
    names = []
    for column in frame.columns:
        words = column_words(column)
        if words in seen:   # two code names that read alike: keep the second's general reading
            words = str(column).replace("_", " ")
        seen.add(words)
        names.append(words)
    shown = []
    for _, values in frame.items():   # by position: two columns may share a name
        if values.dtype == bool or str(values.dtype) == "boolean":
            cells = np.fromiter((_YES_NO.get(v) if isinstance(v, bool | np.bool_) else None
                                 for v in values.to_numpy(dtype=object)), dtype=object, count=len(values))
        elif str(values.dtype).startswith("datetime64"):
            cells = np.fromiter(("" if _is_missing(v) else _DATE + _date_text(v) for v in values), dtype=object,
                                count=len(values))
        elif values.dtype.kind not in "biufcmM":   # text (object or a string dtype)
            # one value at a time into a 1-D array: a cell may hold a list (an SoD rule's entitlements)
            cells = np.fromiter(map(_text_in_words, values.to_numpy(dtype=object)), dtype=object, count=len(values))
            if not all(isinstance(value, str) for value in cells[~pd.isna(cells)]):
                # pandas' map infers a type for values other than text (3 and 2.5 in one column show as
                # 3.0 and 2.5): such a column is shown through it, as it always was
                cells = values.map(_text_in_words).astype(object).to_numpy(dtype=object, copy=True)
        else:
            cells = values.astype(object).to_numpy(dtype=object, copy=True)
        cells[pd.isna(cells)] = ""
        shown.append(cells)
    result = pd.DataFrame(dict(enumerate(shown)), index=frame.index, dtype=object) if shown else \
        pd.DataFrame(index=frame.index, columns=range(0), dtype=object)
    result.columns = names
    return result


_YES_NO = {True: "Yes", False: "No"}


def _text_in_words(value: Any) -> Any:
    """A text column's cell as shown: a True/False as Yes/No, a date or time marked so it does not wrap."""
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return _DATE + value if isinstance(value, str) and _DATE_TEXT.match(value) else value


def _date_text(value: Any) -> str:
    """A timestamp as a workpaper shows it: the day, or the day and minute (UTC) where it has a time."""
    stamp = value.tz_convert("UTC") if getattr(value, "tzinfo", None) is not None else value
    if stamp.hour == stamp.minute == stamp.second == 0:
        return f"{stamp:%Y-%m-%d}"
    return f"{stamp:%Y-%m-%d %H:%M}" + (" UTC" if getattr(value, "tzinfo", None) is not None else "")
FLAGS_ATTR = "flags"


def flag_cells(frame: pd.DataFrame, cells: Iterable[tuple[Any, str]]) -> pd.DataFrame:
    """``frame`` with (row label, column) cells marked for :func:`table` to highlight: a failed
    check, a difference, a key that is not unique. The mark travels in ``frame.attrs``."""
    frame.attrs[FLAGS_ATTR] = sorted({*frame.attrs.get(FLAGS_ATTR, ()), *cells}, key=str)
    return frame


def table(frame: pd.DataFrame, caption: str | None = None, max_rows: int | None = None) -> HtmlBlock:
    """A DataFrame as an escaped, styled HTML table; ``max_rows`` shows the first rows and says so;
    an empty frame whose ``attrs["empty"]`` holds a sentence shows it under the headers; cells
    marked by :func:`flag_cells` are highlighted (class ``wp-flag``)."""
    shown = frame if max_rows is None or len(frame) <= max_rows else frame.head(max_rows)
    position = {column: i for i, column in enumerate(shown.columns)}
    flags = [(row, position[column]) for row, column in frame.attrs.get(FLAGS_ATTR, ())
             if row in shown.index and column in position]
    shown = _in_words(shown)  # every value an object, missing ones empty
    for row, column in flags:
        shown.iat[shown.index.get_loc(row), column] = _FLAG + str(shown.iat[shown.index.get_loc(row), column])
    shown = _mark_anchors(shown, frame)
    markup = shown.to_html(index=False, escape=True, na_rep="", classes="wp-table", border=0)
    markup = _ANCHOR_CELL.sub(lambda m: f'<td class="wp-id" id="{escape(html.unescape(m[1]))}">', markup)
    markup = (markup.replace("<td>" + _FLAG + _DATE, '<td class="wp-flag wp-date">')
              .replace("<td>" + _FLAG, '<td class="wp-flag">').replace("<td>" + _DATE, '<td class="wp-date">'))
    if frame.empty and frame.attrs.get("empty"):  # an empty table that says why (e.g. nothing was tested)
        markup += f'<p class="wp-note">{escape(frame.attrs["empty"])}</p>'
    if caption:
        markup = markup.replace('class="dataframe wp-table">', f'class="dataframe wp-table">\n  <caption>{escape(caption)}</caption>', 1)
    if len(shown) < len(frame):
        markup += f'<p class="wp-note">First {len(shown)} of {len(frame)} rows shown; all rows are in the run folder.</p>'
    return HtmlBlock(markup)


def anchor_rows(frame: pd.DataFrame, column: str, ids: list[str] | None = None) -> pd.DataFrame:
    """``frame`` with each row's ``column`` cell made an anchor for :func:`table`, whose id is the
    cell's value (an exception id) or the row's entry in ``ids`` (an item's ``UAR-01.5/17``), so a
    link to ``workpaper.html#EX-…`` opens the page at that row. The mark travels in ``frame.attrs``."""
    frame.attrs[ANCHORS_ATTR] = {**frame.attrs.get(ANCHORS_ATTR, {}),
                                 column: list(ids) if ids is not None else [str(v) for v in frame[column]]}
    return frame


def _mark_anchors(shown: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """The shown (worded) frame with the anchor cells of ``frame`` marked: the id between private-use
    characters, then the cell's text (both escaped by pandas)."""
    for column, ids in frame.attrs.get(ANCHORS_ATTR, {}).items():
        if column not in frame.columns:
            continue
        position = list(frame.columns).index(column)
        shown.iloc[:, position] = [f"{_ANCHOR}{anchor}\ue003{value}"
                                   for anchor, value in zip(ids, shown.iloc[:, position])]
    return shown


def key_values(rows: Iterable[tuple[str, Any]], caption: str | None = None, preformatted: bool = False) -> HtmlBlock:
    """Label/value pairs as a two-column table (evidence, rationale, evaluation); ``preformatted``
    keeps each value's lines and indentation (declared options, expressions)."""
    cell = '<td class="wp-pre">' if preformatted else "<td>"
    body = "".join(f"<tr><th>{escape(label)}</th>{cell}{escape(value)}</td></tr>" for label, value in rows)
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return HtmlBlock(f'<table class="wp-table">{cap}<tbody>{body}</tbody></table>')


def paragraph(text: str, css_class: str = "") -> HtmlBlock:
    """A paragraph of escaped text."""
    cls = f' class="{css_class}"' if css_class else ""
    return HtmlBlock(f"<p{cls}>{escape(text)}</p>")


def tickmark_legend() -> HtmlBlock:
    """The tickmark legend used in per-item attribute results."""
    return key_values(((f"{mark}  ({name})", meaning) for name, (mark, meaning) in TICKMARKS.items()), "Tickmark legend")


def conclusion_block(framework: str, headline: str, body: list[str], effective: bool | None) -> HtmlBlock:
    """One framework's conclusion, written in that framework's language; ``effective`` None: the
    control did not operate (neither effective nor deficient, shown as neither)."""
    css = "wp-status-pending" if effective is None else "wp-result-effective" if effective else "wp-result-exceptions"
    items = "".join(f"<p>{escape(line)}</p>" for line in body)
    return HtmlBlock(
        f'<div class="wp-conclusion"><h4>{escape(framework)}: <span class="wp-status {css}">{escape(headline)}</span></h4>{items}</div>'
    )


#: A control's status while its run is still in progress: its test finished, the run did not yet.
PROVISIONAL_STATUS = "tested; run not finished"


def provisional_notice(page: str = "workpaper") -> str:
    """What a page written before its run is finished says about itself (``page``: what it is)."""
    return (f"Provisional: this {page} was written while its run was still in progress. It is evidence only "
            "in a finished run folder: one without '.incomplete' in its name, whose manifest.json lists this "
            "file's SHA-256 (workbench verify checks it).")


def header_html(rows: list[tuple[str, Any]], title: str, status: str, error: str | None = None,
                provisional: bool = False) -> str:
    """The workpaper header block: identification, frameworks, people and run status.

    A failed workpaper says so under the header, with the error, before any evidence. A
    ``provisional`` header (written before the run is finished) never says "completed": it says the
    run is not finished, and the runner replaces it with the final header when it publishes the run.
    """
    body = "".join(f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>" for label, value in rows)
    banner = (f'<div class="wp-banner wp-status-failed">This workpaper is incomplete: the test stopped with an error, '
              f"and the sections below show only what was done before it. {escape(error)}</div>" if error else "")
    shown, css = (PROVISIONAL_STATUS, "pending") if provisional and status == "completed" else (status, status)
    notice = f'<div class="wp-banner wp-status-pending">{escape(provisional_notice())}</div>' if provisional else ""
    return (
        f'<div class="wp-header"><h1>{escape(title)}</h1><table>{body}'
        f'<tr><th>Run status</th><td><span class="wp-status wp-status-{escape(css)}">{escape(shown)}</span></td></tr>'
        f"</table></div>{notice}{banner}"
    )


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: A failed step's error, in words, by the Python exception's name (others: its own message).
_ERROR_WORDS = {
    "KeyError": "something the step needed is missing",
    "FileNotFoundError": "a file the step needed was not found",
    "MemoryError": "the computer ran out of memory",
    "RecursionError": "the data is nested too deeply to be processed",
    "ZeroDivisionError": "a calculation divided by zero",
}


def error_summary(ename: str, evalue: str) -> str:
    """A failed step's error in plain words: what went wrong, without the Python traceback."""
    value = _ANSI.sub("", str(evalue or "")).strip()
    words = _ERROR_WORDS.get(ename)
    if words:
        return f"{words}: {value}" if value else words
    return value or f"the step stopped on an unexpected error ({ename})"


def error_output_html(ename: str, evalue: str, traceback: Iterable[str]) -> str:
    """The HTML a workpaper shows for a step that raised: the plain-words summary first, and the
    Python traceback only folded away (``<details>``) as technical detail for whoever maintains
    the workbench; both escaped."""
    detail = _ANSI.sub("", "\n".join(str(line) for line in traceback))
    return (f'<div class="wp-error-output"><p class="wp-error"><strong>This step stopped:</strong> '
            f"{escape(error_summary(ename, evalue))}</p>"
            '<details class="wp-technical"><summary>Technical detail (the Python traceback, for whoever '
            f"maintains the workbench)</summary><pre>{escape(detail)}</pre></details></div>")


def fold_error_outputs(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as a workpaper shows it: each error output replaced by :func:`error_output_html`.

    The executed notebook on disk keeps the raw error; a copy is made only when there is one.
    """
    import copy

    import nbformat

    if not any(output.get("output_type") == "error" for cell in notebook.cells for output in cell.get("outputs", [])):
        return notebook
    folded = copy.deepcopy(notebook)
    for cell in folded.cells:
        outputs = cell.get("outputs")
        if not outputs:
            continue
        cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": error_output_html(
                            output.get("ename", ""), output.get("evalue", ""), output.get("traceback", []))})
                        if output.get("output_type") == "error" else output for output in outputs]
    return folded


def _heading_anchor(text: str) -> str:
    """The id nbconvert gives a markdown heading (its text with spaces as hyphens)."""
    return text.strip().replace(" ", "-")


def toc_html(notebook: nbformat.NotebookNode, control_id: str | None = None) -> str:
    """A table of contents from the notebook's level-2 markdown headings; with a ``control_id``, each
    numbered section listed with its workpaper reference and linked to it (``referencing``)."""

    headings = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and not HIDDEN_CELL_TAGS & set(cell.metadata.get("tags", [])):
            headings += [m.group(1).strip() for m in re.finditer(r"^##\s+(.+)$", cell.source, re.MULTILINE)]
    if not headings:
        return ""
    def entry(heading: str) -> str:
        section = referencing.section_of_heading(heading) if control_id else None
        if section is None:
            return f'<li><a href="#{escape(_heading_anchor(heading))}">{escape(heading)}</a></li>'
        ref = referencing.section_ref(str(control_id), section)
        return f'<li><a href="#{escape(ref)}"><span class="wp-ref">{escape(ref)}</span> {escape(heading)}</a></li>'
    items = "".join(entry(h) for h in headings)
    return f'<nav class="wp-toc"><strong>Contents</strong><ol>{items}</ol></nav>'


_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\balt=)")


# One exporter per process, its templates compiled once. An export registers filters on it, so
# exports from several threads take turns (an export takes about 20 ms).
_EXPORT_LOCK = threading.Lock()


@functools.cache
def _html_exporter() -> HTMLExporter:
    """The workpaper exporter, built once per process (its templates compile on first use).

    nbconvert's HTML exporter ends by re-parsing the whole page with BeautifulSoup only to add alt
    text to images and keyboard focus to cells; on a 300 KB workpaper that is most of the export
    time, once per control. This exporter renders the same template without that pass and adds the
    alt text itself (figures are the only images in a workpaper).
    """
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter
    from nbconvert.filters.highlight import Highlight2HTML
    from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
    from traitlets.config import Config

    class WorkpaperExporter(HTMLExporter):
        """HTMLExporter.from_notebook_node as in nbconvert 7, less the BeautifulSoup pass."""

        def from_notebook_node(self, nb: Any, resources: dict[str, Any] | None = None,
                               **kw: Any) -> tuple[str, dict[str, Any]]:
            """Render the notebook with the workpaper template; add alt text to figures."""
            langinfo = nb.metadata.get("language_info", {})
            lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
            highlight_code = self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self))
            resources = self._init_resources(resources)
            self.register_filter("highlight_code", highlight_code)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            page, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return _IMG_WITHOUT_ALT.sub('<img alt="Figure of the workpaper (described in the text above it)"', page), resources

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_cell_tags = HIDDEN_CELL_TAGS
    config.HTMLExporter.exclude_input = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    # Validate the notebook once, after the preprocessors, not after each of its 12 (nbconvert's
    # default): 0.05-0.1 s of the runner's CPU per control; the page is the same.
    config.HTMLExporter.optimistic_validation = True
    return WorkpaperExporter(config=config, template_name="workpaper", extra_template_basedirs=[str(TEMPLATES)])


def prepare_exporter() -> None:
    """Build the workpaper exporter and compile its templates now (while the first kernels start)."""
    import nbformat

    warm_up = {"metadata": {"name": "warm-up"},
               "workbench": {"version": __version__, "css": "", "header_html": "", "toc_html": "", "footer_html": ""}}
    with _EXPORT_LOCK:
        _html_exporter().from_notebook_node(nbformat.v4.new_notebook(), resources=warm_up)


def export_html(notebook_path: Path, html_path: Path, header: str, footer: str = "",
                notebook: nbformat.NotebookNode | None = None, title: str | None = None,
                control_id: str | None = None) -> Path:
    """Convert an executed notebook to a self-contained HTML workpaper (no code, no network).

    ``notebook`` is the executed notebook when the caller already holds it (the runner does), so
    it is not read back from ``notebook_path``; ``title`` is the page title (default: the file
    name). Written through a temporary file and a rename, so a failed export never leaves half a page.
    With a ``control_id``, each numbered section carries its workpaper reference (``referencing``).
    """
    import nbformat

    if notebook is None:
        notebook = nbformat.read(notebook_path, as_version=4)
    notebook = fold_error_outputs(notebook)
    resources_in = {
        "metadata": {"name": title or Path(notebook_path).stem},
        "workbench": {
            "version": __version__,
            "css": stylesheet(),
            "header_html": header,
            "toc_html": toc_html(notebook, control_id),
            "footer_html": footer,
        },
    }
    with _EXPORT_LOCK:
        body, _ = _html_exporter().from_notebook_node(notebook, resources=resources_in)
    if control_id:
        body = referencing.anchor_sections(body, control_id)
    return runfolder.write_text(html_path, body)


@functools.cache
def index_template() -> Any:
    """The lead sheet's Jinja template, compiled once per process: a run renders it twice (provisional,
    then final), and the runner compiles it ahead while the controls run (``runner.warm_publishing``).
    Jinja templates are safe to render from several threads."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=jinja2.StrictUndefined
    )
    return environment.get_template("index.html.j2")


def render_index(context: dict[str, Any]) -> str:
    """The period index (lead sheet) as HTML, every data value escaped by Jinja's autoescape."""
    optional = {"charts": [], "status_summary": [], "unmatched": [], "worksheet": [], "provisional": "",
                "soc2_exceptions": [], "sox_exceptions": [], "references": [], "exception_links": {}}  # sections a run without exceptions leaves empty
    return index_template().render(css=stylesheet(), version=__version__, **(optional | context))
