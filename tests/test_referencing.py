"""Referencing (issue 15, item 5): workpaper reference numbers, exception ids anchored on their rows
and linked from the index, each sample item's evidence named in the item table, and the index's
links to every workpaper section and exception, every one of which opens a file and anchor that exist.

One run of a reduced demo period (UAR-01 and PROV-01: a review line, and a grant with its ticket) is
shared by the module and signed off (workpapers first), so that the index's links to the sign-off
record and the review pages open too.
"""

from __future__ import annotations

import csv
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pandas as pd
import pytest

from conftest import make_demo_project, module_key_folder, sign_off_workpapers
from workbench import cli, referencing, workpapers
from workbench.runner import DEMO_PARAMETER_FILE, latest_run

CONTROLS = ("UAR-01", "PROV-01")
REVIEWER = "Morgan Lee, Internal Audit Manager"
SECTIONS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "A")


# --- the scheme, on its own -------------------------------------------------------------------
def test_the_reference_scheme():
    assert referencing.workpaper_ref("UAR-01") == "UAR-01"
    assert referencing.section_ref("UAR-01", "6") == "UAR-01.6"
    assert referencing.item_ref("UAR-01", 17) == "UAR-01.5/17"
    assert referencing.item_refs("PROV-01", 2) == ["PROV-01.5/1", "PROV-01.5/2"]
    assert referencing.workpaper_link("UAR-01", "EX-UAR01-4123A9A82E") == "UAR-01/workpaper.html#EX-UAR01-4123A9A82E"


@pytest.mark.parametrize(("heading", "section"), [
    ("1. Objective and test procedure", "1"), ("6. Exceptions", "6"), ("8. Evaluation and conclusion", "8"),
    ("Appendix: how each export was read", "A"), ("Run failed", None), ("7. SOC 2 exceptions and management&#x27;s", "7"),
])
def test_the_section_a_heading_opens(heading, section):
    assert referencing.section_of_heading(heading) == section


def test_a_reference_goes_above_each_numbered_heading_and_only_those():
    page = ('<h2 id="6.-Exceptions">6. Exceptions<a class="anchor-link" href="#6.-Exceptions">¶</a></h2>'
            '<h2 id="Run-failed">Run failed<a class="anchor-link" href="#Run-failed">¶</a></h2>')
    marked = referencing.anchor_sections(page, "UAR-01")
    assert marked.count('id="UAR-01.6"') == 1 and 'id="UAR-01.Run' not in marked
    assert marked.index('id="UAR-01.6"') < marked.index('<h2 id="6.-Exceptions">')  # the heading itself unchanged
    assert '<h2 id="6.-Exceptions">6. Exceptions<a class="anchor-link"' in marked


def test_a_reference_from_an_odd_control_id_is_escaped():
    marked = referencing.anchor_sections('<h2 id="x">1. Objective</h2>', 'A"B<1>')
    assert 'id="A&quot;B&lt;1&gt;.1"' in marked and '<1>' not in marked


def test_an_items_evidence_is_its_source_line_then_its_ticket():
    assert referencing.item_evidence({"evidence_reference": "AGR_USERS.txt line 14", "ticket": "ITSD-102"}) \
        == "AGR_USERS.txt line 14; ITSD-102"
    assert referencing.item_evidence({"evidence_reference": "uar.csv line 3", "ticket": pd.NA}) == "uar.csv line 3"
    assert referencing.item_evidence({"evidence_reference": float("nan"), "ticket": " "}) == ""


def test_only_exceptions_of_the_runs_own_register_get_a_link():
    links = referencing.exception_links([("UAR-01", "EX-UAR01-1"), ("PROV-01", "EX-PROV01-2")])
    assert links == {"EX-UAR01-1": "UAR-01/workpaper.html#EX-UAR01-1", "EX-PROV01-2": "PROV-01/workpaper.html#EX-PROV01-2"}


def test_an_anchored_table_cell_carries_an_escaped_id_and_its_text():
    frame = workpapers.anchor_rows(pd.DataFrame({"exception_id": ['EX-1"><script>', "EX-2"], "rule": ["a", "b"]}),
                                   "exception_id")
    markup = str(workpapers.table(frame))
    assert '<td class="wp-id" id="EX-1&quot;&gt;&lt;script&gt;">EX-1' in markup
    assert '<td class="wp-id" id="EX-2">EX-2</td>' in markup and "<script>" not in markup


def test_an_anchor_prefix_names_an_item_by_its_section_and_order():
    frame = pd.DataFrame({"selection_order": [7, pd.NA]}, dtype="Int64")  # a targeted item has no order
    frame = workpapers.anchor_rows(frame, "selection_order", referencing.item_refs("UAR-01", 2))
    assert '<td class="wp-id" id="UAR-01.5/1">7</td>' in str(workpapers.table(frame, max_rows=1))
    markup = str(workpapers.table(frame))
    assert '<td class="wp-id" id="UAR-01.5/2"></td>' in markup and "NA" not in markup


def test_the_index_escapes_the_links_it_makes():
    entries = referencing.index_entries('X"1', ['EX-"><b>'])
    page = workpapers.render_index(_minimal_index() | {"references": [entries],
                                                       "exception_links": {'EX-"><b>': entries["exceptions"][0]["href"]}})
    assert 'href="X&#34;1/workpaper.html#EX-&#34;&gt;&lt;b&gt;"' in page and "<b>" not in page


def _minimal_index() -> dict:
    return {"entity": "E", "period_id": "P", "period_start": "2026-01-01", "period_end": "2026-03-31",
            "preparer": "A", "reviewer": "B", "signoff_file": "signoff.json", "run_id": "R", "seed": 1,
            "controls": [], "failed": [], "exceptions": [], "exception_count": 0}


# --- a real run --------------------------------------------------------------------------------
class _Page(HTMLParser):
    """A page's element ids (each occurrence), links, and its table cells' texts by id."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(values["id"])
        if tag == "a" and values.get("href"):
            self.links.append(values["href"])


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module", autouse=True)
def key_folder(tmp_path_factory):
    """This module's key folder (conftest.module_key_folder)."""
    yield from module_key_folder(tmp_path_factory)


@pytest.fixture(scope="module")
def run(tmp_path_factory, key_folder) -> Path:
    """One run of the demo period's UAR-01 and PROV-01, its workpapers and the run signed off."""
    project = make_demo_project(tmp_path_factory.mktemp("referencing"))
    code = cli.main(["run", str(project / "parameters" / DEMO_PARAMETER_FILE), "--out", str(project / "outputs"),
                     "--jobs", "2", "--only", *CONTROLS])
    assert code == 0
    run_dir = latest_run(project / "outputs" / "2026-Q3")
    sign_off_workpapers(run_dir)
    assert cli.main(["signoff", str(run_dir), "--reviewer", REVIEWER]) == 0
    return run_dir


def _register(run_dir: Path, control: str) -> list[str]:
    with (run_dir / "exceptions.csv").open(encoding="utf-8", newline="") as handle:
        return [row["exception_id"] for row in csv.DictReader(handle) if row["control_id"] == control]


def _sample(run_dir: Path, control: str) -> list[dict[str, str]]:
    with (run_dir / control / "sample.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.e2e
@pytest.mark.parametrize("control", CONTROLS)
def test_every_section_and_exception_of_a_workpaper_has_its_anchor_once(run, control):
    page = _parse(run / control / "workpaper.html")
    text = (run / control / "workpaper.html").read_text(encoding="utf-8")
    for section in SECTIONS:
        assert page.ids.count(f"{control}.{section}") == 1, f"{control}: no anchor for section {section}"
        assert f'href="#{control}.{section}"' in text, f"{control}: section {section} not in the contents"
    exceptions = _register(run, control)
    assert exceptions, f"{control}: the demo should have exceptions to anchor"
    for exception_id in exceptions:
        assert page.ids.count(exception_id) == 1, f"{control}: exception {exception_id} has no row anchor"
    assert len(page.ids) == len(set(page.ids)), "an id used twice on one page"
    assert f"<th>Workpaper ref.</th><td>{control}</td>" in text


@pytest.mark.e2e
@pytest.mark.parametrize("control", CONTROLS)
def test_every_sampled_item_has_its_reference_and_its_evidence(run, control):
    items = _sample(run, control)
    assert items
    text = (run / control / "workpaper.html").read_text(encoding="utf-8")
    table = text[text.index("Results per sample item"):]
    table = table[:table.index("</table>")]
    rows = table.split("<tr")[2:]  # after the header row
    assert len(rows) == len(items)
    for number, (row, item) in enumerate(zip(rows, items), start=1):
        ref = referencing.item_ref(control, number)
        assert f'id="{ref}"' in row, f"item {ref}: no anchor"
        expected = referencing.item_evidence(item)
        assert item["evidence_reference"] and expected.startswith(item["evidence_reference"])
        assert f"<td>{expected}</td>" in row, f"item {ref}: no evidence {expected!r}"
        if item.get("ticket"):
            assert item["ticket"] in expected


@pytest.mark.e2e
def test_every_link_in_the_index_opens_an_existing_file_and_anchor(run):
    index = _parse(run / "index.html")
    assert index.links
    pages: dict[Path, _Page] = {}
    for link in index.links:
        parts = urlsplit(link)
        assert not parts.scheme and not parts.netloc, f"{link}: not a relative link"
        target = (run / unquote(parts.path)).resolve() if parts.path else run / "index.html"
        assert target.exists(), f"{link}: no such file"
        if parts.fragment:
            if target not in pages:
                pages[target] = _parse(target)
            assert unquote(parts.fragment) in pages[target].ids, f"{link}: no such anchor"


@pytest.mark.e2e
def test_the_index_links_every_section_and_every_exception(run):
    links = set(_parse(run / "index.html").links)
    for control in CONTROLS:
        for section in SECTIONS:
            assert f"{control}/workpaper.html#{control}.{section}" in links
        for exception_id in _register(run, control):
            assert f"{control}/workpaper.html#{exception_id}" in links
    text = (run / "index.html").read_text(encoding="utf-8")
    first = _register(run, CONTROLS[0])[0]
    assert text.count(f'<a href="{CONTROLS[0]}/workpaper.html#{first}">{first}</a>') >= 2  # the list and the register


@pytest.mark.e2e
def test_every_link_of_the_workbook_opens_its_exceptions_row(run):
    import openpyxl

    sheet = openpyxl.load_workbook(run / "exceptions.xlsx")["Exceptions"]
    headers = [c.value for c in sheet[1]]
    rows = list(sheet.iter_rows(min_row=2))
    assert rows
    for row in rows:
        exception_id, control = row[0].value, row[headers.index("Control")].value
        target = row[headers.index("Workpaper")].hyperlink.target
        assert target == f"{control}/workpaper.html#{exception_id}"
        assert exception_id in _parse(run / control / "workpaper.html").ids

