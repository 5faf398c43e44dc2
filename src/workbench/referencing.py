"""Workpaper references: the numbers an auditor cites, and the anchors and links that carry them.

The scheme (issue 15, item 5):

- a control's workpaper is referenced by its control id: ``UAR-01`` (as the printed page header's
  "Workpaper ref." already says);
- its sections by the workpaper reference and the section number: ``UAR-01.1`` (objective) to
  ``UAR-01.8`` (conclusion), ``UAR-01.A`` for the appendix;
- a sample item by the attribute-testing section and its row in the item table (the printed row
  number): ``UAR-01.5/17``;
- an exception by its own id (``EX-UAR01-4123A9A82E``), anchored on its row in section 6.

Each reference is also the ``id`` of the element it names, so ``UAR-01/workpaper.html#UAR-01.6``,
``…#UAR-01.5/17`` and ``…#EX-UAR01-4123A9A82E`` open the page there. Everything is derived from the
control id, the notebook's headings and the data, never from time or chance: a re-run writes the same
bytes. Links are relative (the run folder opens anywhere) and every value in them is HTML-escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: The sections of every procedure workpaper, by number, in the auditors' short names (the index's links).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("1", "Objective"), ("2", "Population"), ("3", "Analytics"), ("4", "Sample"), ("5", "Attribute testing"),
    ("6", "Exceptions"), ("7", "Management's response"), ("8", "Conclusion"),
    ("9", "Changes since the prior period"), ("A", "Appendix"),
)
#: The section that holds the per-item attribute results (items are referenced under it).
ITEM_SECTION = "5"
#: Columns of a sample item that name a ticket, after its source line, in the Evidence column.
TICKET_COLUMNS = ("ticket", "request_ticket", "removal_ticket")
WORKPAPER_HTML = "workpaper.html"


def workpaper_ref(control_id: str) -> str:
    """A control's workpaper reference: its control id (``UAR-01``)."""
    return str(control_id)


def section_ref(control_id: str, section: str) -> str:
    """A section's reference: ``UAR-01.6`` (``UAR-01.A`` for the appendix)."""
    return f"{workpaper_ref(control_id)}.{section}"


def item_ref(control_id: str, number: int) -> str:
    """A sample item's reference: the attribute-testing section and the item's number, its row in the
    table of results per sample item, as the printed workpaper numbers it (``UAR-01.5/17``). The
    number, not the selection order: a targeted item (an analytics hit) has no selection order."""
    return f"{section_ref(control_id, ITEM_SECTION)}/{number}"


def item_refs(control_id: str, count: int) -> list[str]:
    """The references of a table of ``count`` sample items, in its order (``UAR-01.5/1`` …)."""
    return [item_ref(control_id, number) for number in range(1, count + 1)]


def section_of_heading(text: str) -> str | None:
    """The section number a level-2 heading opens ("6. Exceptions" -> "6", "Appendix: …" -> "A"), or
    None for a heading that is not a numbered section (e.g. a failed run's "Run failed")."""
    text = html.unescape(re.sub(r"<[^>]*>", "", text)).strip()
    match = re.match(r"^(\d+)\.", text)
    if match:
        return match[1]
    return "A" if text.lower().startswith("appendix") else None


def workpaper_link(control_id: str, anchor: str | None = None) -> str:
    """The relative link from the run folder to a workpaper or one of its anchors
    (``UAR-01/workpaper.html#EX-UAR01-4123A9A82E``); unescaped: the index's template escapes it."""
    return f"{control_id}/{WORKPAPER_HTML}" + (f"#{anchor}" if anchor else "")


_H2 = re.compile(r'<h2 id="([^"]*)">(.*?)(?=<a class="anchor-link"|</h2>)', re.DOTALL)


def anchor_sections(page: str, control_id: str) -> str:
    """The exported workpaper with each numbered section's reference placed just above its heading,
    as an element whose ``id`` is the reference (``<p class="wp-ref" id="UAR-01.6">``).

    Above, not inside, the heading: the heading's own text and id stay as nbconvert writes them (the
    PDF outline and existing links to ``#6.-Exceptions`` keep working)."""
    def mark(match: re.Match[str]) -> str:
        section = section_of_heading(match[2])
        if section is None:
            return match[0]
        ref = html.escape(section_ref(control_id, section), quote=True)
        return f'<p class="wp-ref" id="{ref}">Workpaper ref. <a href="#{ref}">{ref}</a></p>\n{match[0]}'
    return _H2.sub(mark, page)


def item_evidence(item: Mapping[str, Any]) -> str:
    """Where a sample item comes from, compactly: its source line, then any ticket
    (``ledgerline_erp_user_roles.csv line 14; RITM0010002``); empty parts left out."""
    parts = [item.get("evidence_reference"), *(item.get(column) for column in TICKET_COLUMNS)]
    return "; ".join(dict.fromkeys(str(p).strip() for p in parts if _present(p)))


def _present(value: object) -> bool:
    """Whether a value is there (not None, NaN, NA or blank text)."""
    if value is None:
        return False
    try:
        if value != value:  # NaN, NaT
            return False
    except (TypeError, ValueError):  # pandas NA refuses comparison to a bool
        return False
    return bool(str(value).strip())


def index_entries(control_id: str, exception_ids: Iterable[str]) -> dict[str, Any]:
    """What the period index lists for a control's workpaper: its reference, a link to each section
    and to each exception's row (ids sorted, each once)."""
    return {
        "ref": workpaper_ref(control_id), "href": workpaper_link(control_id),
        "sections": [{"ref": section_ref(control_id, number), "name": name,
                      "href": workpaper_link(control_id, section_ref(control_id, number))} for number, name in SECTIONS],
        "exceptions": [{"id": e, "href": workpaper_link(control_id, e)} for e in sorted(set(exception_ids))],
    }


def exception_links(rows: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each exception id's link to its row in its control's workpaper, from (control id, exception id)
    pairs of the run's own register: an id carried from the auditors' records that no workpaper of
    this run shows gets no link (a link must open a row that exists)."""
    return {str(exception_id): workpaper_link(str(control_id), str(exception_id))
            for control_id, exception_id in sorted(rows) if _present(exception_id)}
