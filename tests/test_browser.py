"""Workpapers are self-contained: every page of a demo run opens in headless Chromium, with the
network disabled, making no request beyond the page itself and data: URIs, running no script.

The demo data has a reviewer whose display name is ``<script>alert(1)</script>``: it reaches the
exception register and the workpapers, and must show as text, never run. Chromium is driven over
its DevTools protocol on a pipe (``--remote-debugging-pipe``: no port, no extra package); every
request the page makes is counted from the protocol's Network events.

Chromium is the Debian package ``chromium`` (``make test`` installs it when missing). Locally the
browser tests skip without it; in CI (``CI`` set) a missing browser fails the run.
"""

from __future__ import annotations

import base64
import shutil
import struct
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import ROOT, require_chromium
from workbench import cli, demo, printing
from workbench.runner import DEMO_PARAMETER_FILE, latest_run

pytestmark = pytest.mark.e2e
XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
    # The network is disabled three ways: no name resolves, every connection goes to a closed
    # local port, and each page is emulated offline (below).
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
    "--window-size=1280,1024",
)


@pytest.fixture(scope="module")
def chromium_path() -> str:
    return require_chromium()


class DevTools(printing.DevTools):
    """The workbench's DevTools client (``printing.DevTools``) with this test's flags (a 1280x1024
    window, QUIC off), recording every dialog a page opens and accepting it, so a script cannot
    block the test."""

    def __init__(self, binary: str, profile: Path):
        super().__init__(binary, profile, CHROMIUM_FLAGS)
        self.dialogs: list[str] = []

    def _message(self, timeout: float) -> dict[str, Any]:
        message = super()._message(timeout)
        if message.get("method") == "Page.javascriptDialogOpening":
            self.dialogs.append(message["params"].get("message", ""))
        return message

    def wait_for(self, method: str, session: str, timeout: float = 30) -> dict[str, Any]:
        """Wait for an event (accepting any dialog a page opens, so a script cannot block the test)."""
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(index)
                if event.get("method") == "Page.javascriptDialogOpening":
                    self.events.pop(index)
                    self.send("Page.handleJavaScriptDialog", {"accept": True}, session)
                    break
            else:
                self.events.append(self._message(max(0.1, deadline - time.monotonic())))


def open_offline(browser: DevTools, page: Path, screenshot: Path) -> dict[str, Any]:
    """Open a page offline; return every URL it requested, dialogs, scripts and the screenshot."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for method in ("Page.enable", "Network.enable", "Runtime.enable"):
        browser.send(method, session=session)
    browser.send("Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": -1,
                                                      "uploadThroughput": -1}, session)
    browser.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 1024, "deviceScaleFactor": 1,
                                                        "mobile": False}, session)
    browser.events.clear()
    browser.dialogs.clear()
    url = page.resolve().as_uri()
    browser.send("Page.navigate", {"url": url}, session)
    browser.wait_for("Page.loadEventFired", session, timeout=60)
    scripts = browser.send("Runtime.evaluate", {"expression": "document.scripts.length", "returnByValue": True},
                           session)["result"]["value"]
    image = browser.send("Page.captureScreenshot", {"format": "png"}, session)["data"]
    screenshot.write_bytes(base64.b64decode(image))
    requests = [e["params"]["request"]["url"] for e in browser.events
                if e.get("sessionId") == session and e.get("method") == "Network.requestWillBeSent"]
    sockets = [e["params"]["url"] for e in browser.events
               if e.get("sessionId") == session and e.get("method") == "Network.webSocketCreated"]
    browser.send("Target.closeTarget", {"targetId": target})
    return {"url": url, "requests": requests, "sockets": sockets, "dialogs": list(browser.dialogs),
            "scripts": scripts, "screenshot": screenshot}


def requests_beyond_the_page(visit: dict[str, Any]) -> list[str]:
    """Requests other than the page itself and data: URIs (what a self-contained page never makes)."""
    return [url for url in visit["requests"] + visit["sockets"]
            if url.split("#")[0] != visit["url"] and not url.startswith("data:")]


def png_summary(path: Path) -> tuple[int, int, int]:
    """Width, height and number of distinct colours of a PNG screenshot (a blank page has one)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    from PIL import Image  # Pillow comes with matplotlib

    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    return width, height, len(colours) if colours is not None else 1 << 20


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory) -> Path:
    """The demo period, run end to end, with a reviewer named ``<script>alert(1)</script>``."""
    base = tmp_path_factory.mktemp("planted")
    demo.generate_demo_company(base / "data" / "demo" / "2026-Q3")
    decisions = base / "data" / "demo" / "2026-Q3" / "reviews" / "uar_2026Q3_decisions.csv"
    frame = pd.read_csv(decisions, dtype=str, keep_default_na=False)
    counts = frame["Reviewer Name"].value_counts()
    frame.loc[frame["Reviewer Name"] == counts.index[0], "Reviewer Name"] = XSS  # the busiest reviewer
    frame.to_csv(decisions, index=False)
    (base / "parameters").mkdir()
    shutil.copyfile(ROOT / "parameters" / DEMO_PARAMETER_FILE, base / "parameters" / DEMO_PARAMETER_FILE)
    code = cli.main(["run", str(base / "parameters" / DEMO_PARAMETER_FILE), "--out", str(base / "outputs")])
    run_dir = latest_run(base / "outputs" / "2026-Q3")
    assert code == 0, f"the planted demo run failed; see {run_dir}/index.html"
    return run_dir


def _pages(run_dir: Path) -> list[Path]:
    return [run_dir / "index.html", *sorted(run_dir.glob("*/workpaper.html"))]


def test_values_from_the_data_are_escaped_in_the_index_and_workpapers(planted_run):
    register = pd.read_csv(planted_run / "exceptions.csv", dtype=str, keep_default_na=False)
    assert register["description"].str.contains(XSS, regex=False).any(), "the planted name reaches the register"
    index = (planted_run / "index.html").read_text()
    assert ESCAPED in index
    shown = [page for page in _pages(planted_run) if ESCAPED in page.read_text()]
    assert any(page.name == "workpaper.html" for page in shown), "the planted name shows in a workpaper"
    for page in _pages(planted_run):
        text = page.read_text()
        assert "<script>alert(1)" not in text and "<script" not in text.lower(), f"{page}: a script tag"


def test_every_page_opens_offline_without_any_request_or_script(planted_run, chromium_path, tmp_path):
    pages = _pages(planted_run)
    assert len(pages) >= 2, "a run has an index and at least one workpaper"
    screenshots = tmp_path / "screenshots"
    screenshots.mkdir()
    browser = DevTools(chromium_path, Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)))
    try:
        visits = [open_offline(browser, page, screenshots / f"{page.parent.name}-{page.stem}.png") for page in pages]
    finally:
        browser.close()
    for visit in visits:
        assert visit["requests"][:1] == [visit["url"]], f"{visit['url']}: the page itself was not loaded"
        assert requests_beyond_the_page(visit) == [], f"{visit['url']} made requests"
        assert visit["dialogs"] == [] and visit["scripts"] == 0, f"{visit['url']} ran a script"
        width, height, colours = png_summary(visit["screenshot"])
        assert (width, height) == (1280, 1024) and colours > 16, f"{visit['screenshot']} looks blank"
        assert visit["screenshot"].stat().st_size > 20_000


def test_the_request_counter_sees_a_page_that_reaches_for_the_network(chromium_path, tmp_path):
    """The check above can fail: a page with a CDN stylesheet, an image and a script is caught."""
    page = tmp_path / "leaky.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="stylesheet" href="https://cdn.example.com/x.css">'
                    '</head><body><h1>Leaky page</h1><img src="http://198.51.100.7/logo.png">'
                    f'<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">{XSS}</body></html>')
    browser = DevTools(chromium_path, tmp_path / "profile")
    try:
        visit = open_offline(browser, page, tmp_path / "leaky.png")
    finally:
        browser.close()
    assert sorted(requests_beyond_the_page(visit)) == ["http://198.51.100.7/logo.png", "https://cdn.example.com/x.css"]
    assert visit["dialogs"] == ["1"] and visit["scripts"] == 1


def test_png_summary_tells_a_blank_screenshot(tmp_path):
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\xff\xff" * 4 for _ in range(3))
    blank = tmp_path / "blank.png"
    blank.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 3, 8, 2, 0, 0, 0))
                      + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    assert png_summary(blank) == (4, 3, 1)


@pytest.mark.parametrize("ci, outcome", [("true", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_a_missing_chromium_fails_in_ci_and_skips_elsewhere(monkeypatch, ci, outcome):
    monkeypatch.delenv(printing.CHROMIUM_ENV, raising=False)
    monkeypatch.setenv("CI", ci)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(outcome):
        require_chromium()
