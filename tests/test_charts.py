"""Charts: each DataFrame -> Figure function, deterministic PNGs, and static embedding in HTML."""

from __future__ import annotations

import base64
import re
import struct

import nbformat
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from workbench import charts, workpapers

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _register(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"control_id": c, "rule": r, "status": "open", "age_days": "0"} for c, r in rows])


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of every chunk of a PNG."""
    assert data.startswith(PNG_SIGNATURE)
    chunks, at = [], len(PNG_SIGNATURE)
    while at < len(data):
        (length,) = struct.unpack(">I", data[at:at + 4])
        kind, payload = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        chunks.append((kind, payload))
        at += 12 + length
    return chunks


def _pixels(fig: Figure) -> tuple[int, int]:
    """Width and height of the chart's PNG, read from its header."""
    header = dict(_png_chunks(charts.png_bytes(fig)))[b"IHDR"]
    return struct.unpack(">II", header[:8])


@pytest.fixture
def decisions() -> pd.DataFrame:
    """Twelve decisions over a campaign: ten on time, one after the deadline, one undecided."""
    stamps = [f"2026-08-{d:02d}T10:00:00Z" for d in (17, 17, 18, 18, 18, 20, 24, 25, 26, 27)]
    stamps += ["2026-09-17T09:00:00Z", None]
    return pd.DataFrame({"decided_at": pd.to_datetime(stamps, utc=True),
                         "decision": ["approve"] * 10 + ["revoke", "undecided"]})


@pytest.fixture
def stats() -> pd.DataFrame:
    """Reviewer statistics: one rubber-stamper, two careful reviewers, one with too few lines."""
    return pd.DataFrame([
        {"reviewer_email": "stamp@x.example", "reviewer_name": "Rita Stamp", "decided": 73, "approval_rate": 1.0,
         "median_seconds_between_decisions": 4.0},
        {"reviewer_email": "care@x.example", "reviewer_name": "Carl Care", "decided": 40, "approval_rate": 0.9,
         "median_seconds_between_decisions": 300.0},
        {"reviewer_email": "slow@x.example", "reviewer_name": "Sam Slow", "decided": 25, "approval_rate": 0.99,
         "median_seconds_between_decisions": 120.0},
        {"reviewer_email": "few@x.example", "reviewer_name": "Fay Few", "decided": 3, "approval_rate": 1.0,
         "median_seconds_between_decisions": 5.0},
        {"reviewer_email": "one@x.example", "reviewer_name": "Ole One", "decided": 1, "approval_rate": 1.0,
         "median_seconds_between_decisions": np.nan},
    ])


# --- deterministic PNG and embedding ------------------------------------------------------------

def test_png_is_deterministic_and_carries_no_software_or_time_metadata():
    def build():
        return charts.exceptions_by_control_and_rule(_register([("UAR-01", "self_review"), ("TRM-01", "late")]))

    first, second = charts.png_bytes(build()), charts.png_bytes(build())
    assert first == second
    kinds = [kind for kind, _ in _png_chunks(first)]
    assert b"tIME" not in kinds
    text = b"".join(payload for kind, payload in _png_chunks(first) if kind in (b"tEXt", b"iTXt", b"zTXt"))
    assert b"Software" not in text and b"atplotlib" not in text


def test_figures_have_fixed_sizes(decisions, stats):
    assert _pixels(charts.exceptions_by_control_and_rule(_register([("UAR-01", "x")]))) == (800, 480)
    assert _pixels(charts.decision_timeliness(decisions, "2026-08-17", "2026-09-15")) == (800, 400)
    assert _pixels(charts.reviewer_rubber_stamp(stats)) == (800, 480)


def test_figure_html_embeds_the_png_with_escaped_alt():
    fig = charts.exceptions_by_control_and_rule(_register([("UAR-01", "self_review")]))
    markup = charts.figure_html(fig, 'Exceptions <script>alert("x")</script> & more')
    assert markup.startswith('<img class="wp-chart" src="data:image/png;base64,')
    assert "<script" not in markup and "&lt;script&gt;" in markup and "&amp; more" in markup and "&quot;x&quot;" in markup
    encoded = re.search(r'base64,([^"]+)"', markup).group(1)
    assert base64.b64decode(encoded) == charts.png_bytes(fig)
    assert 'width="800" height="480"' in markup


def test_figure_html_defaults_to_the_charts_own_description():
    fig = charts.exceptions_by_control_and_rule(_register([("UAR-01", "self_review")]))
    assert 'alt="Stacked bar chart of 1 exception(s) by control and rule: UAR-01: 1 (self review 1)."' in charts.figure_html(fig)


def test_outside_a_notebook_nothing_is_registered():
    assert charts.register_notebook_display() is False


def test_chart_display_is_static_html_with_a_text_fallback():
    chart = charts.embed(charts.exceptions_by_control_and_rule(_register([("UAR-01", "self_review")])))
    bundle = chart._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert bundle["text/html"].startswith("<img") and "<script" not in bundle["text/html"]
    assert bundle["text/plain"].startswith("[chart] Stacked bar chart")
    assert chart.png().startswith(PNG_SIGNATURE)


def test_a_chart_displayed_in_a_notebook_is_a_static_png_in_the_exported_workpaper(tmp_path):
    """Executed in a real kernel, then exported with the workpaper template: an inline PNG, no script.

    Both ways of showing a chart count: ``display(charts.embed(fig))`` and ``display(fig)``.
    """
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import pandas as pd\nfrom workbench import charts\n"
        "register = pd.DataFrame({'control_id': ['UAR-01', 'UAR-01'], 'rule': ['self_review', 'rubber_stamping']})\n"
        "display(charts.embed(charts.exceptions_by_control_and_rule(register)))\n"
        "display(charts.exceptions_by_status_and_age(register.assign(status='open', age_days=0)))"))
    NotebookClient(notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    executed = tmp_path / "chart.ipynb"
    nbformat.write(notebook, executed)
    page = workpapers.export_html(executed, tmp_path / "chart.html", "<h1>header</h1>").read_text(encoding="utf-8")
    assert re.search(r'<img class="wp-chart" src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}" alt="Stacked bar chart', page)
    assert re.search(r'<img class="wp-chart" src="data:image/png;base64,[A-Za-z0-9+/=]{1000,}" alt="Bar charts of 2', page)
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")


# --- 1. exceptions by control and rule -------------------------------------------------------------

def test_exceptions_by_control_and_rule_draws_no_empty_bar_for_a_rule_a_control_never_raised():
    """One bar per (control, rule) that has exceptions: three rules over three controls, four bars,
    and every rule still in the legend."""
    register = _register([("UAR-01", "self_review"), ("UAR-01", "rubber_stamping"), ("TRM-01", "late_deprovisioning"),
                          ("SOD-01", "sod_conflict")])
    ax = charts.exceptions_by_control_and_rule(register).axes[0]
    assert sorted((round(p.get_x() + p.get_width() / 2), p.get_height()) for p in ax.patches) == [
        (0, 1), (1, 1), (2, 1), (2, 1)]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "late deprovisioning", "rubber stamping", "self review", "sod conflict"]


def test_exceptions_by_control_and_rule_stacks_rules_per_control():
    register = _register([("UAR-01", "self_review"), ("UAR-01", "self_review"), ("UAR-01", "rubber_stamping"),
                          ("TRM-01", "late_deprovisioning")])
    fig = charts.exceptions_by_control_and_rule(register)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["TRM-01", "UAR-01"]
    heights = sorted(p.get_height() for p in ax.patches if p.get_height() > 0)
    assert heights == [1, 1, 2]
    assert charts.describe(fig) == ("Stacked bar chart of 4 exception(s) by control and rule: TRM-01: 1 "
                                    "(late deprovisioning 1); UAR-01: 3 (rubber stamping 1, self review 2).")


def test_an_empty_register_says_no_exceptions_noted():
    fig = charts.exceptions_by_control_and_rule(_register([]).reindex(columns=["control_id", "rule"]))
    assert charts.describe(fig) == "No exceptions noted in this run."
    assert _pixels(fig) == (800, 480)


def test_missing_columns_are_named_in_the_error():
    with pytest.raises(ValueError, match="needs the column"):
        charts.exceptions_by_control_and_rule(pd.DataFrame({"rule": ["x"]}))


# --- 2. review decision timeliness -----------------------------------------------------------------

def test_decision_timeliness_counts_per_day_and_marks_the_deadline(decisions):
    fig = charts.decision_timeliness(decisions, pd.Timestamp("2026-08-17T09:30Z"), pd.Timestamp("2026-09-15T23:59Z"),
                                     pd.Timestamp("2026-09-17T10:00Z"))
    text = charts.describe(fig)
    assert "11 decisions, 1 line(s) undecided, 1 after the deadline of 2026-09-15" in text
    assert "the busiest day was 2026-08-18 with 3 decisions" in text
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert "deadline 2026-09-15" in labels and "completed 2026-09-17" in labels
    late_bars = [p for p in ax.patches if p.get_facecolor()[:3] == pytest.approx((0xD5 / 255, 0x5E / 255, 0))]
    assert sum(p.get_height() for p in late_bars) == 1


def test_decision_timeliness_with_no_decisions_says_so():
    frame = pd.DataFrame({"decided_at": pd.to_datetime([None, None], utc=True)})
    fig = charts.decision_timeliness(frame, "2026-08-17", "2026-09-15")
    assert charts.describe(fig) == "No review decisions recorded (2 line(s) undecided)."


# --- 3. deprovisioning lag -----------------------------------------------------------------------------

def test_deprovisioning_lag_measures_business_days_against_the_sla():
    leavers = pd.DataFrame({
        "left": pd.to_datetime(["2026-07-03", "2026-07-03", "2026-07-10", "2026-07-15", "2026-08-03"]),  # Fri, Fri, Fri, Wed, Mon
        "gone": pd.to_datetime(["2026-07-03", "2026-07-06", "2026-07-22", None, "2026-08-04"]),
    })
    fig = charts.deprovisioning_lag(leavers, sla_business_days=1, terminated="left", removed="gone")
    assert charts.describe(fig) == ("Histogram of business days from termination to removal for 4 removal(s): 1 after "
                                    "the SLA of 1 business day(s), the longest 8 day(s); 1 leaver(s) still held access "
                                    "at extraction.")
    ax = fig.axes[0]
    bars = {round(p.get_x() + p.get_width() / 2): p.get_height() for p in ax.patches}
    assert bars[0] == 1 and bars[1] == 2 and bars[8] == 1
    assert any(t.get_text() == "SLA: 1 business day(s)" for t in ax.texts)


def test_deprovisioning_lag_accepts_timestamps_with_a_zone():
    leavers = pd.DataFrame({"termination_date": pd.to_datetime(["2026-07-03"]),
                            "removed_at": pd.to_datetime(["2026-07-07T22:00:00Z"], utc=True)})
    assert "1 after the SLA" in charts.describe(charts.deprovisioning_lag(leavers))


# --- 4. reviewer approval rates and pace -----------------------------------------------------------

def test_rubber_stamp_flags_follow_every_threshold(stats):
    assert charts.rubber_stamp_flags(stats).tolist() == [True, False, False, False, False]
    assert charts.rubber_stamp_flags(stats, min_decisions=3, max_median_seconds=10).tolist() == [True, False, False, True, False]


def test_reviewer_scatter_labels_only_the_reviewers_meeting_every_threshold(stats):
    fig = charts.reviewer_rubber_stamp(stats, min_decisions=20, min_approval_rate=0.98, max_median_seconds=30)
    ax = fig.axes[0]
    notes = [a.get_text() for a in ax.texts if "\n" in a.get_text()]
    assert notes == ["Rita Stamp\n73 decided, 100% approved, median 4 s"]
    assert ax.get_xscale() == "log"
    assert any(line.get_xdata()[0] == 30 for line in ax.get_lines())
    assert any(line.get_ydata()[0] == pytest.approx(98) for line in ax.get_lines())
    text = charts.describe(fig)
    assert "1 reviewer(s) meet every threshold: Rita Stamp" in text
    assert "1 reviewer(s) with fewer than two decisions not plotted" in text


def test_names_from_the_data_are_drawn_as_plain_text(stats):
    stats.loc[0, "reviewer_name"] = "Rita $tamp_{x} <script>alert(1)</script>"
    fig = charts.reviewer_rubber_stamp(stats)
    note = next(a for a in fig.axes[0].texts if "\n" in a.get_text())
    assert note.get_text().startswith("Rita $tamp_{x} <script>") and not note.get_parse_math()
    assert charts.png_bytes(fig).startswith(PNG_SIGNATURE)
    assert "&lt;script&gt;" in charts.figure_html(fig) and "<script" not in charts.figure_html(fig)


def test_thresholds_of_reads_a_settings_block():
    class RubberStamp:
        def model_dump(self):
            return {"min_decisions": 40, "min_approval_rate": 0.95, "max_median_seconds": 60.0}

    class Settings:
        rubber_stamp = RubberStamp()

    assert charts.thresholds_of(Settings()) == {"min_decisions": 40, "min_approval_rate": 0.95, "max_median_seconds": 60.0}


# --- 5. exceptions by status and age ---------------------------------------------------------------

def test_status_and_age_counts_open_exceptions_in_age_buckets():
    register = pd.DataFrame({"status": ["open", "open", "remediated", "accepted", "retested-pass", ""],
                             "age_days": ["0", "45", "200", "400", "10", "91"]})
    fig = charts.exceptions_by_status_and_age(register)
    assert charts.describe(fig) == ("Bar charts of 6 exception(s) by status (open 3, remediated 1, retested-pass 1, "
                                    "accepted 1) and of the 4 open one(s) by age (0–30 days 1, 31–90 days 1, "
                                    "91–180 days 1, 181–365 days 1).")
    assert len(fig.axes) == 2


def test_status_and_age_needs_the_merged_register():
    with pytest.raises(ValueError, match="merge the remediation records first"):
        charts.exceptions_by_status_and_age(pd.DataFrame({"control_id": ["UAR-01"]}))


@pytest.mark.parametrize("days,bucket", [(0, "0–30 days"), (30, "0–30 days"), (31, "31–90 days"), (365, "181–365 days"),
                                         (366, "over a year"), (-3, "0–30 days"), (30.5, "31–90 days")])
def test_age_buckets(days, bucket):
    assert charts.age_bucket(days) == bucket


def test_log_axis_ticks_are_plain_numbers_not_math_markup():
    """Math text is off for data names, so the log axis must format its own ticks."""
    stats = pd.DataFrame({"reviewer_email": ["a@x.example", "b@x.example"], "reviewer_name": ["A", "B"],
                          "decided": [40, 30], "approval_rate": [1.0, 0.8],
                          "median_seconds_between_decisions": [4.0, 900.0]})
    figure = charts.reviewer_rubber_stamp(stats, 20, 0.98, 30)
    figure.canvas.draw()
    labels = [t.get_text() for ax in figure.axes for t in ax.get_xticklabels() if t.get_text()]
    assert labels and not any("$" in text or "mathdefault" in text for text in labels), labels
