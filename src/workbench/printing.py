"""Workpapers on paper: one PDF per workpaper and the period binder (``workbench pdf``).

Engine: headless Chromium, driven over its DevTools protocol on a pipe (``--remote-debugging-pipe``),
with ``Page.printToPDF``. Why Chromium and not WeasyPrint:

- the workpapers are nbconvert's JupyterLab HTML (CSS variables, flex layouts): Chromium prints them
  exactly as the reviewer sees them on screen, WeasyPrint would be a second rendering to keep true;
- Chromium (the Debian package) is already what the browser test installs (``make browser``);
  WeasyPrint would add a Python package tree and the pango libraries;
- the pipe needs no port (nothing to collide with on a shared machine, nothing reachable from the
  network) and no package beyond the standard library: the DevTools client is about 60 lines here.

Chromium does not print CSS ``@page`` margin boxes, so the page header (entity, period, control,
workpaper reference) and footer ("Page x of y", run id) are ``printToPDF``'s header and footer
templates. Every page is printed landscape with the run's page size (A4 by default, or Letter).
The binder (the period index, then each workpaper) is joined with pypdf (pinned), which also writes
its outline: one bookmark per control, with the workpaper's own headings under it.

Wide tables: the per-item attribute results have more columns than a page is wide. The print
stylesheet (``templates/workbench.css``, ``@media print``) lets every table fit the page width, so a
browser's own Print keeps every column; before printing, this module also splits each table wider
than the page into column groups that each fit, every group starting with a row number and the
item's identifying columns (its selection number, or the exception id), and prints the groups a block
of rows at a time: each page shows the same items in every group ("columns, part 1 of 2, rows 1–11
of 124"), so a tickmark is read on the same page as the item it belongs to. Why not transpose (one
item per column) or shrink: a sample of 60–120 items would make hundreds of narrow columns, and
shrinking the text to fit 17 columns leaves it unreadable on paper.

The sealed run folder is never written: the PDFs go to a sibling folder (``<run-id>-pdf``) by default.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench import runfolder

CHROMIUM_ENV = "WORKBENCH_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
#: Paper sizes in inches, landscape (width, height): what Page.printToPDF takes.
PAPER = {"a4": (11.69, 8.27), "letter": (11.0, 8.5)}
#: Margins in inches: room above and below for the header and footer templates.
MARGINS = {"marginTop": 0.55, "marginBottom": 0.55, "marginLeft": 0.4, "marginRight": 0.4}
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
    "--mute-audio", "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
)
BINDER = "binder.pdf"
PAGE_TIMEOUT_SECONDS = 120


class PrintError(ValueError):
    """A run could not be printed (no browser, an incomplete run, a page that would not print)."""


def find_chromium() -> str | None:
    """The Chromium to drive: $WORKBENCH_CHROMIUM, else ``chromium``, ``chromium-browser`` or ``google-chrome`` on the PATH."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured:
        return configured
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


class DevTools:
    """A minimal Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (fds 3 and 4).

    Chromium reads NUL-terminated JSON commands on fd 3 and writes replies and events on fd 4.
    """

    def __init__(self, binary: str, profile: Path, flags: tuple[str, ...] = CHROMIUM_FLAGS):
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # Copy the child's ends above 4 first, so that placing them on 3 and 4 cannot overwrite one another.
        keep_r, keep_w = os.dup(to_browser_r), os.dup(from_browser_w)
        while min(keep_r, keep_w) <= 4:
            keep_r, keep_w = os.dup(keep_r), os.dup(keep_w)

        def place_pipes() -> None:
            os.dup2(keep_r, 3)
            os.dup2(keep_w, 4)

        self.process = subprocess.Popen(
            [binary, *flags, f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4), preexec_fn=place_pipes, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for fd in {to_browser_r, from_browser_w, keep_r, keep_w}:
            os.close(fd)
        self._out = os.fdopen(to_browser_w, "wb", buffering=0)
        self._in = from_browser_r
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def _message(self, timeout: float) -> dict[str, Any]:
        """The next message from Chromium (waiting at most ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._in], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise PrintError("the browser did not answer in time while printing")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise PrintError("the browser closed unexpectedly while printing")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = PAGE_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Send a command and return its result; events that arrive meanwhile are kept."""
        self._next_id += 1
        command: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            command["sessionId"] = session
        self._out.write(json.dumps(command).encode() + b"\0")
        while True:
            message = self._message(timeout)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise PrintError(f"the browser refused to print ({method}: {message['error'].get('message')})")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, session: str, timeout: float = PAGE_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Wait for an event of this page."""
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method and event.get("sessionId") == session:
                    return self.events.pop(index)
            self.events.append(self._message(max(0.1, deadline - time.monotonic())))

    def close(self) -> None:
        """Close the browser and wait for its process (killed if it does not exit)."""
        try:
            self.send("Browser.close", timeout=10)
        except (OSError, PrintError):
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._out.close()
        os.close(self._in)


@contextmanager
def browser(binary: str | None = None) -> Iterator[DevTools]:
    """A headless Chromium with a throw-away profile, closed (and its profile removed) afterwards."""
    binary = binary or find_chromium()
    if binary is None:
        raise PrintError("printing needs Chromium, which is not installed: install the Debian package "
                         f"(apt-get install chromium, or `make browser`) or set {CHROMIUM_ENV} to its path")
    with tempfile.TemporaryDirectory(prefix="workbench-print-") as profile:
        client = DevTools(binary, Path(profile))
        try:
            yield client
        finally:
            client.close()


@dataclass(frozen=True)
class Page:
    """What the header and footer of every printed page of one document say."""

    title: str  # e.g. "UAR-01: User access review"
    entity: str
    period: str
    reference: str  # the workpaper reference, e.g. "UAR-01"
    run_id: str


def _margin_text(text: str, align: str) -> str:
    return f'<span style="flex:1;text-align:{align}">{html.escape(text)}</span>'


def header_template(page: Page) -> str:
    """The header printed on every page: entity, period, control and the workpaper reference."""
    return ('<div style="font-size:7.5pt;font-family:DejaVu Sans,Arial,sans-serif;color:#333;width:100%;'
            'margin:0 0.4in;display:flex;gap:12px;border-bottom:0.5pt solid #999;padding-bottom:2px">'
            + _margin_text(f"{page.entity} · {page.period}", "left")
            + _margin_text(page.title, "center")
            + _margin_text(f"Workpaper ref. {page.reference}", "right") + "</div>")


def footer_template(page: Page) -> str:
    """The footer printed on every page: the run, the page number and the page count."""
    return ('<div style="font-size:7.5pt;font-family:DejaVu Sans,Arial,sans-serif;color:#333;width:100%;'
            'margin:0 0.4in;display:flex;gap:12px">'
            + _margin_text(f"Audit Workbench run {page.run_id}; hashes in the run's manifest.json", "left")
            + '<span style="flex:1;text-align:right">Page <span class="pageNumber"></span> of '
              '<span class="totalPages"></span></span></div>')


#: Run in the page before printing: split every table wider than the printable width into column
#: groups that fit, each group repeating a row number and the identifying columns; and print the groups
#: in blocks of rows that fit a page, so that each page shows the same items in every group (see the
#: module docstring). __PAGE_HEIGHT__ is the printable height in CSS pixels.
SPLIT_WIDE_TABLES_JS = r"""
(() => {
  const KEY_COLUMNS = ["selection_order", "item_key", "exception_id", "exception id"];
  const PAGE = __PAGE_HEIGHT__;
  const pageWidth = document.querySelector("main").clientWidth;
  let split = 0;
  for (const table of Array.from(document.querySelectorAll("table.wp-table"))) {
    const headRow = table.tHead && table.tHead.rows[0];
    if (!headRow) continue;
    table.classList.add("wp-measure");
    if (table.offsetWidth <= pageWidth + 1) { table.classList.remove("wp-measure"); continue; }
    const names = Array.from(headRow.cells).map(c => c.textContent.trim());
    let keys = names.map((n, i) => KEY_COLUMNS.includes(n) ? i : -1).filter(i => i >= 0);
    if (keys.length === 0) keys = [0];
    const rest = names.map((_, i) => i).filter(i => !keys.includes(i));
    const bodyRows = Array.from(table.tBodies).flatMap(b => Array.from(b.rows));
    const total = bodyRows.length;
    const caption = table.caption ? table.caption.textContent : "";
    const build = (columns, from, to, label) => {
      const t = document.createElement("table");
      t.className = table.className + " wp-measure wp-part";
      if (label) t.createCaption().textContent = label;
      const head = t.createTHead().insertRow();
      const rowHead = document.createElement("th");
      rowHead.textContent = "row";
      head.appendChild(rowHead);
      columns.forEach(i => head.appendChild(headRow.cells[i].cloneNode(true)));
      const body = t.createTBody();
      bodyRows.slice(from, to).forEach((r, n) => {
        const row = body.insertRow();
        const number = row.insertCell();
        number.textContent = String(from + n + 1);
        number.className = "wp-id";
        columns.forEach(i => { if (r.cells[i]) row.appendChild(r.cells[i].cloneNode(true)); });
      });
      return t;
    };
    const holder = document.createElement("div");
    table.parentNode.insertBefore(holder, table);
    // Column groups: add columns while the group still fits the page width.
    const groups = [];
    let current = [];
    for (const i of rest) {
      const trial = build([...keys, ...current, i], 0, total, caption);
      holder.replaceChildren(trial);
      if (current.length > 0 && trial.offsetWidth > pageWidth + 1) {
        groups.push(current);
        current = [i];
      } else {
        current.push(i);
      }
    }
    if (current.length) groups.push(current);
    // Row blocks: as many rows as fit a page in every group (the first block: what is left of its page).
    const sizes = groups.map(g => {
      const t = build([...keys, ...g], 0, total, caption);
      holder.replaceChildren(t);
      return {head: t.tHead.offsetHeight + (t.caption ? t.caption.offsetHeight : 0) + 24,
              rows: Array.from(t.tBodies[0].rows).map(r => r.offsetHeight)};
    });
    const fixed = sizes.reduce((sum, size) => sum + size.head, 0);
    const top = holder.getBoundingClientRect().top + window.scrollY;
    let room = PAGE - (top % PAGE);
    let newPage = false;
    const blocks = [];
    for (let from = 0; from < total;) {
      let to = from, used = fixed;
      while (to < total) {
        const height = sizes.reduce((sum, size) => sum + size.rows[to], 0);
        if (to > from && used + height > room * 0.95) break;
        used += height;
        to += 1;
      }
      if (blocks.length === 0 && !newPage && to - from < Math.min(3, total) && room < PAGE) {
        room = PAGE;  // too little room left on this page: start on the next one
        newPage = true;
        continue;
      }
      blocks.push([from, to, blocks.length === 0 && newPage]);
      from = to;
      room = PAGE;
    }
    const parts = groups.length;
    holder.replaceChildren(...blocks.map(([from, to, breakBefore]) => {
      const block = document.createElement("div");
      block.className = "wp-print-block";
      if (breakBefore || blocks.length > 1 && from > 0) block.style.breakBefore = "page";
      const rows = blocks.length > 1 ? `, rows ${from + 1}–${to} of ${total}` : "";
      block.append(...groups.map((g, n) =>
        build([...keys, ...g], from, to, caption ? `${caption} (columns, part ${n + 1} of ${parts}${rows})` : "")));
      return block;
    }));
    holder.querySelectorAll("table").forEach(t => t.classList.remove("wp-measure"));
    table.remove();
    split += 1;
  }
  return split;
})()
"""

#: Added to every printed page: while measured, a table's cells wrap only between words (so a table is
#: split only when its words and identifiers cannot fit, not merely because a description is long);
#: long outputs may run across pages (JupyterLab keeps each output on one page, leaving pages blank),
#: as the current stylesheet says too (a run's pages keep the stylesheet they were written with).
PRINT_CSS = ("table.wp-table.wp-measure th, table.wp-table.wp-measure td { overflow-wrap: normal !important; }\n"
             "body.wp-body .jp-OutputArea-child { break-inside: auto !important; }\n"
             ".wp-print-block { break-inside: avoid; }")


_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:\d{14}\+00'00'\)")


def stamp_date(pdf: bytes, run_id: str) -> bytes:
    """The PDF dated by its run (creation and modification dates set to the run's start), not by the
    moment it was printed: a reader sees the date of the evidence. Chromium writes both dates in one
    fixed-length form; the replacement has the same length, so the cross-reference offsets still hold.
    (Printing twice still differs in the tagged-PDF structure's node ids, which Chromium numbers.)"""
    match = re.match(r"^(\d{8})T(\d{6})Z", run_id)
    if not match:
        return pdf
    date = f"D:{match[1]}{match[2]}+00'00'".encode()
    return _PDF_DATE.sub(lambda m: b"/" + m[1] + b" (" + date + b")", pdf)


def print_page(client: DevTools, source: Path, page: Page | None, paper: str = "a4") -> bytes:
    """One HTML page (offline) as PDF bytes: landscape, header and footer on every page, wide tables split.

    ``page`` None prints the page as a browser's own Print does (its stylesheet's ``@page``, no header or
    footer, no table split): what a reviewer gets from the workpaper in a browser.
    """
    if paper not in PAPER:
        raise PrintError(f"unknown paper size '{paper}' (use one of: {', '.join(PAPER)})")
    width, height = PAPER[paper]
    target = client.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = client.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for method in ("Page.enable", "Runtime.enable", "Network.enable"):
            client.send(method, session=session)
        client.send("Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": -1,
                                                         "uploadThroughput": -1}, session)
        client.send("Emulation.setScriptExecutionDisabled", {"value": True}, session)  # the page's own: none run
        client.send("Emulation.setEmulatedMedia", {"media": "print"}, session)
        # The viewport as wide as the printable width, so measurements below are those of the paper.
        css_width = round((width - MARGINS["marginLeft"] - MARGINS["marginRight"]) * 96)
        client.send("Emulation.setDeviceMetricsOverride", {"width": css_width, "height": round(height * 96),
                                                           "deviceScaleFactor": 1, "mobile": False}, session)
        client.send("Page.navigate", {"url": Path(source).resolve().as_uri()}, session)
        client.wait_for("Page.loadEventFired", session)
        if page is None:
            result = client.send("Page.printToPDF", {"printBackground": True, "preferCSSPageSize": True}, session)
            return base64.b64decode(result["data"])
        client.send("Emulation.setScriptExecutionDisabled", {"value": False}, session)
        client.send("Runtime.evaluate", {"expression": f"document.head.insertAdjacentHTML('beforeend', "
                                                       f"{json.dumps('<style>' + PRINT_CSS + '</style>')})"},
                    session)
        printable_height = round((height - MARGINS["marginTop"] - MARGINS["marginBottom"]) * 96)
        client.send("Runtime.evaluate", {"expression": SPLIT_WIDE_TABLES_JS.replace("__PAGE_HEIGHT__",
                                                                                    str(printable_height)),
                                         "returnByValue": True}, session)
        result = client.send("Page.printToPDF", {
            "landscape": False,  # the paper sizes above are already landscape
            "paperWidth": width, "paperHeight": height, **MARGINS,
            "printBackground": True, "preferCSSPageSize": False,
            "displayHeaderFooter": True, "headerTemplate": header_template(page),
            "footerTemplate": footer_template(page), "generateDocumentOutline": True,
            "generateTaggedPDF": True,
        }, session)
    finally:
        client.send("Target.closeTarget", {"targetId": target})
    return base64.b64decode(result["data"])


# --- a run on paper ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Document:
    """One page of a run to print: the index or a control's workpaper."""

    reference: str  # "INDEX" or the control id; the PDF's file name and bookmark
    title: str
    source: Path


@dataclass(frozen=True)
class PrintedRun:
    """What ``print_run`` wrote, and how long each document took (seconds)."""

    out_dir: Path
    index: Path
    workpapers: dict[str, Path]  # by control id
    binder: Path
    seconds: dict[str, float]


def default_out_dir(run_dir: Path) -> Path:
    """Where a run's PDFs go by default: beside the run, never inside it (the run folder is sealed evidence)."""
    run_dir = Path(run_dir)
    return run_dir.with_name(f"{run_dir.name}-pdf")


def run_documents(run_dir: Path) -> tuple[dict[str, Any], list[Document]]:
    """The run's manifest and its documents in binder order: the period index, then each control's
    workpaper in the manifest's order. Refuses a run that is not finished (not evidence)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise PrintError(f"there is no run folder at {run_dir}")
    runfolder.refuse_incomplete(run_dir, "printed")
    if runfolder.is_incomplete(run_dir):
        raise PrintError(f"{run_dir} is not a finished run folder (it has no manifest.json); only a finished run "
                         "can be printed")
    manifest = json.loads((run_dir / runfolder.MANIFEST).read_text(encoding="utf-8"))
    documents = [Document("INDEX", f"Period index {manifest.get('period', '')}", run_dir / "index.html")]
    for control in manifest.get("controls", []):
        control_id = str(control["control_id"])
        documents.append(Document(control_id, f"{control_id}: {control.get('title', '')}",
                                  run_dir / control_id / "workpaper.html"))
    missing = [str(d.source.relative_to(run_dir)) for d in documents if not d.source.is_file()]
    if missing:
        raise PrintError(f"{run_dir} lacks {', '.join(missing)}: run `workbench verify {run_dir}`")
    return manifest, documents


def page_for(document: Document, manifest: dict[str, Any], entity: str) -> Page:
    """The header and footer of one document's pages."""
    reference = "Lead sheet" if document.reference == "INDEX" else document.reference
    return Page(title=document.title, entity=entity, period=str(manifest.get("period", "")),
                reference=reference, run_id=str(manifest.get("run_id", "")))


def entity_of(run_dir: Path) -> str:
    """The entity under audit, from the run's parameters.json (empty when it cannot be read)."""
    try:
        document = json.loads((Path(run_dir) / "parameters.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    parameters = document.get("parameters") if isinstance(document, dict) else None
    return str(parameters.get("entity", "")) if isinstance(parameters, dict) else ""


def _outline_entries(reader: Any, items: list[Any], depth: int = 0) -> list[tuple[int, str, int]]:
    """A PDF's outline as (depth, title, page index), in order."""
    entries: list[tuple[int, str, int]] = []
    for item in items:
        if isinstance(item, list):
            entries += _outline_entries(reader, item, depth + 1)
        else:
            entries.append((depth, str(item.title), reader.get_destination_page_number(item)))
    return entries


def bind(parts: list[tuple[Document, Path]], target: Path, title: str) -> Path:
    """Join PDFs into one binder with an outline: one bookmark per document (the index, each control),
    the document's own section headings under it (its title heading, which repeats the bookmark, left out)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for document, pdf in parts:
        reader = PdfReader(pdf)
        start = len(writer.pages)
        writer.append(reader, import_outline=False)
        label = "Period index (lead sheet)" if document.reference == "INDEX" else document.title
        parents = [writer.add_outline_item(title=label, page_number=start, is_open=False)]
        entries = _outline_entries(reader, list(reader.outline))
        if len([e for e in entries if e[0] == 0]) == 1:  # the page's one h1: already the bookmark above
            entries = [(depth - 1, text, page) for depth, text, page in entries[1:]]
        for depth, text, page in entries:
            del parents[depth + 1:]
            parent = parents[min(depth, len(parents) - 1)]
            parents.append(writer.add_outline_item(title=text, page_number=start + page, parent=parent))
    writer.add_metadata({"/Title": title, "/Creator": "Audit Workbench"})
    writer.page_mode = "/UseOutlines"
    return runfolder.write_atomically(target, lambda path: writer.write(str(path)))


def print_run(run_dir: Path, out_dir: Path | None = None, paper: str = "a4",
              binary: str | None = None) -> PrintedRun:
    """Print a finished run: one PDF per workpaper (``<control>.pdf``), the index and ``binder.pdf``.

    Nothing is written into the run folder; ``out_dir`` must not be inside it.
    """
    run_dir = Path(run_dir).resolve()
    manifest, documents = run_documents(run_dir)
    out_dir = Path(out_dir).resolve() if out_dir is not None else default_out_dir(run_dir)
    if out_dir == run_dir or run_dir in out_dir.parents:
        raise PrintError(f"{out_dir} is inside the run folder, which is sealed evidence; print to a folder "
                         "outside it (the default is the run's sibling folder ending in -pdf)")
    runfolder.make_folder(out_dir)
    entity = entity_of(run_dir)
    written: dict[str, Path] = {}
    seconds: dict[str, float] = {}
    with browser(binary) as client:
        for document in documents:
            started = time.monotonic()
            data = stamp_date(print_page(client, document.source, page_for(document, manifest, entity), paper),
                              str(manifest.get("run_id", "")))
            name = "index.pdf" if document.reference == "INDEX" else f"{document.reference}.pdf"
            written[document.reference] = runfolder.write_bytes(out_dir / name, data)
            seconds[document.reference] = time.monotonic() - started
    started = time.monotonic()
    title = f"{entity} {manifest.get('period', '')} workpapers, run {manifest.get('run_id', '')}".strip()
    binder = bind([(d, written[d.reference]) for d in documents], out_dir / BINDER, title)
    seconds["binder"] = time.monotonic() - started
    workpapers = {ref: path for ref, path in written.items() if ref != "INDEX"}
    return PrintedRun(out_dir, written["INDEX"], workpapers, binder, seconds)
