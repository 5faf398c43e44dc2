"""Charts for workpapers, the period index and the exception explorer: a DataFrame in, a Figure out.

Why charts at all: some evidence is seen faster than read. A burst of approvals seconds apart, a
campaign finished after its deadline, leavers whose access outlived the SLA, a backlog of old open
exceptions. Each chart is a pure function of plain DataFrames (so any procedure can feed it) and
also sets the figure's label to a one-sentence description of what it shows, used as the image's
alt text.

Why this way: figures are built with matplotlib's object API on an Agg canvas (no pyplot state, no
GUI, safe in papermill workers), at fixed sizes with a fixed style and the bundled DejaVu font, and
saved without software or time metadata, so the same data gives the same PNG bytes. ``figure_html``
and ``Chart`` embed the PNG as a data URI: no script and no network, so a chart displayed in a
notebook survives nbconvert's HTML export as a static image that opens offline years later. In a
notebook kernel, importing this module also makes ``display(fig)`` of a bare Figure show that image.
matplotlib itself is imported with the first figure, not with this module: it would slow the start
of every control's kernel, including those that draw no chart.
"""

from __future__ import annotations

import base64
import html
import io
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from cycler import cycler

from workbench.analytics import business_days_between
from workbench.exceptions import OPEN_STATUSES, STATUSES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100
WIDE = (8.0, 4.0)   # inches; 800 x 400 pixels at DPI
TALL = (8.0, 4.8)
# Okabe-Ito: distinguishable with the common colour-vision deficiencies and in greyscale print.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999", "#000000")
FLAG = "#D55E00"     # beyond a threshold: an exception
OK = "#0072B2"       # within the threshold
MUTED = "#999999"    # not assessed (e.g. too few decisions)
# Fixed style: nothing from the user's matplotlibrc changes a chart.
STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": False, "figure.facecolor": "white", "axes.facecolor": "white",
    "savefig.facecolor": "white", "text.hinting": "default", "text.antialiased": True, "path.simplify": True,
    "hatch.color": "black", "axes.prop_cycle": cycler(color=list(PALETTE)),
    "text.parse_math": False,  # names from exports are text: "$" must never start mathtext
}
AGE_BUCKETS: tuple[tuple[str, int, float], ...] = (
    ("0–30 days", 0, 30), ("31–90 days", 31, 90), ("91–180 days", 91, 180), ("181–365 days", 181, 365),
    ("over a year", 366, np.inf),
)


# --- figures, PNG bytes and embedding ------------------------------------------------------------

def _matplotlib() -> Any:
    """matplotlib with its Figure, Agg canvas and ticker modules, imported on first use (~0.3 s of kernel start-up)."""
    import matplotlib
    import matplotlib.backends.backend_agg
    import matplotlib.figure
    import matplotlib.ticker

    return matplotlib


def new_figure(size: tuple[float, float] = WIDE, columns: int = 1) -> tuple[Figure, list[Any]]:
    """A blank figure of a fixed size on an Agg canvas, with ``columns`` side-by-side axes."""
    mpl = _matplotlib()
    with mpl.rc_context(STYLE):
        fig = mpl.figure.Figure(figsize=size, dpi=DPI, layout="constrained")
        mpl.backends.backend_agg.FigureCanvasAgg(fig)
        axes = [fig.add_subplot(1, columns, i + 1) for i in range(columns)]
    return fig, axes


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG bytes: fixed size and resolution, no software or date metadata.

    The same figure gives the same bytes on every call, so workpapers and the index hash stably.
    """
    buffer = io.BytesIO()
    with _matplotlib().rc_context(STYLE):
        fig.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def describe(fig: Figure) -> str:
    """The one-sentence description a chart function gave its figure (empty if none)."""
    label = fig.get_label()
    return label if isinstance(label, str) else ""


def figure_html(fig: Figure, alt: str | None = None) -> str:
    """An ``<img>`` with the PNG inline (data URI) and HTML-escaped alt text, for the period index.

    ``alt`` defaults to the chart's own description. No script, no external request.
    """
    text = describe(fig) if alt is None else alt
    encoded = base64.b64encode(png_bytes(fig)).decode("ascii")
    width, height = (int(round(v * DPI)) for v in fig.get_size_inches())
    return (f'<img class="wp-chart" src="data:image/png;base64,{encoded}" alt="{html.escape(text, quote=True)}" '
            f'width="{width}" height="{height}" style="max-width:100%;height:auto">')


@dataclass(frozen=True)
class Chart:
    """A figure as a notebook display: an inline PNG ``<img>`` that nbconvert keeps as a static image.

    Display it with ``display(charts.embed(fig))``. The HTML holds the PNG itself (no JavaScript, no
    widget), so the exported workpaper shows the chart offline; plain text carries the description.
    """

    figure: Figure
    alt: str

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/html": figure_html(self.figure, self.alt), "text/plain": f"[chart] {self.alt}"}

    def png(self) -> bytes:
        """The chart's PNG bytes."""
        return png_bytes(self.figure)


def embed(fig: Figure, alt: str | None = None) -> Chart:
    """Wrap a figure for ``display`` in a notebook; ``alt`` defaults to the chart's description."""
    return Chart(fig, describe(fig) if alt is None else alt)


def register_notebook_display() -> bool:
    """In an IPython kernel, display any Figure as the static inline PNG ``<img>`` (True if registered).

    A Figure built without pyplot has no rich display of its own: ``display(fig)`` would show only
    "<Figure size ...>" and the workpaper would lose the chart. Called on import, so a notebook that
    imports this module can display a figure directly; outside IPython it does nothing.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return False
    # By name, so matplotlib is not imported here: IPython looks the class up when a Figure is displayed.
    shell.display_formatter.formatters["text/html"].for_type_by_name("matplotlib.figure", "Figure", figure_html)
    return True


def _empty(fig: Figure, ax: Any, message: str) -> Figure:
    """A chart with nothing to plot says so in words rather than showing empty axes."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=11)
    fig.set_label(message)
    return fig


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    """Fail with the missing column names, in words, rather than a KeyError deep inside matplotlib."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"the {what} chart needs the column(s) {', '.join(missing)}; "
                         f"the table given has {', '.join(map(str, frame.columns)) or 'no columns'}")


# --- 1. exceptions by control and rule ---------------------------------------------------------

def exceptions_by_control_and_rule(register: pd.DataFrame) -> Figure:
    """Stacked bars: for each control, its exceptions split by rule (the period's shape at a glance)."""
    _require(register, ["control_id", "rule"], "exceptions by control and rule")
    with _matplotlib().rc_context(STYLE):
        fig, (ax,) = new_figure(TALL)
        if register.empty:
            return _empty(fig, ax, "No exceptions noted in this run.")
        counts = (register.assign(control_id=register["control_id"].replace("", "(no control)"))
                  .groupby(["control_id", "rule"]).size().unstack(fill_value=0).sort_index().sort_index(axis=1))
        positions = np.arange(len(counts.index))
        bottom = np.zeros(len(counts.index))
        for i, rule in enumerate(counts.columns):
            values = counts[rule].to_numpy()
            drawn = values > 0  # a rule most controls never raise would add an empty bar for each
            ax.bar(positions[drawn], values[drawn], bottom=bottom[drawn], width=0.6, label=rule.replace("_", " "),
                   color=PALETTE[i % len(PALETTE)], edgecolor="white", linewidth=0.5,
                   hatch="//" if i >= len(PALETTE) else None)
            bottom += values
        for x, total in zip(positions, bottom):
            ax.text(x, total, f"{int(total)}", ha="center", va="bottom", fontsize=9, fontweight="bold")
        ax.set_xticks(positions, list(counts.index))
        ax.set_xlim(-0.75, max(len(positions), 3) - 0.25)  # one control does not become one wide slab
        ax.set_ylabel("exceptions")
        ax.set_ylim(0, max(bottom) * 1.15 + 0.5)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_title(f"Exceptions by control and rule ({len(register)} in total)", loc="left")
        ax.legend(title="rule", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        parts = [f"{control}: {int(row.sum())} (" + ", ".join(f"{rule.replace('_', ' ')} {int(n)}"
                                                            for rule, n in row.items() if n) + ")"
                 for control, row in counts.iterrows()]
        fig.set_label(f"Stacked bar chart of {len(register)} exception(s) by control and rule: " + "; ".join(parts) + ".")
    return fig


# --- 2. review decision timeliness -------------------------------------------------------------

def _utc_days(values: pd.Series) -> pd.Series:
    """Calendar days (UTC for aware timestamps) as naive midnight timestamps."""
    series = pd.to_datetime(values)
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    return series.dt.normalize()


def _utc_day(value: Any) -> pd.Timestamp | None:
    """One timestamp as its UTC calendar day; None when missing."""
    if value is None or pd.isna(value):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.normalize()


def decision_timeliness(decisions: pd.DataFrame, window_start: Any, deadline: Any, completed_at: Any = None) -> Figure:
    """Review decisions per day over the campaign window, with the deadline (and completion) marked.

    ``decisions`` needs ``decided_at`` (lines without a timestamp count as undecided). Days after the
    deadline are drawn in the exception colour. A wall of decisions on one day is a rubber-stamp hint;
    bars after the deadline are late decisions.
    """
    _require(decisions, ["decided_at"], "review decision timeliness")
    with _matplotlib().rc_context(STYLE):
        fig, (ax,) = new_figure(WIDE)
        days = _utc_days(decisions["decided_at"]).dropna()
        undecided = int(decisions["decided_at"].isna().sum())
        start, end, done = _utc_day(window_start), _utc_day(deadline), _utc_day(completed_at)
        if days.empty:
            return _empty(fig, ax, f"No review decisions recorded ({undecided} line(s) undecided).")
        first = min(d for d in (start, days.min()) if d is not None)
        last = max(d for d in (end, done, days.max()) if d is not None)
        calendar = pd.date_range(first, last, freq="D")
        counts = days.value_counts().reindex(calendar, fill_value=0)
        x = np.arange(len(calendar))
        late = np.array([end is not None and day > end for day in calendar])
        ax.bar(x[~late], counts.to_numpy()[~late], width=0.8, color=OK, label="decisions on time")
        if late.any() and counts[late].sum():
            ax.bar(x[late], counts.to_numpy()[late], width=0.8, color=FLAG, label="decisions after the deadline")
        top = counts.max() * 1.2 + 1
        for day, text, colour, style in ((start, "launched", MUTED, ":"), (done, "completed", "#009E73", "--"),
                                         (end, "deadline", FLAG, "-")):
            if day is not None:
                position = calendar.get_loc(day)
                ax.axvline(position + (0.5 if text == "deadline" else 0.0), color=colour, linestyle=style, linewidth=1.2)
                ax.text(position + (0.6 if text == "deadline" else 0.1), top * 0.97,
                        f"{text} {day:%Y-%m-%d}", rotation=90, va="top", ha="left", fontsize=7, color=colour)
        step = max(1, len(calendar) // 12)
        ax.set_xticks(x[::step], [f"{d:%m-%d}" for d in calendar[::step]])
        ax.set_xlim(-0.8, len(calendar) - 0.2)
        ax.set_ylim(0, top)
        ax.set_xlabel("decision date (UTC)")
        ax.set_ylabel("decisions per day")
        busiest = counts.idxmax()
        late_count = int(counts[late].sum())
        ax.set_title(f"Review decisions per day: {len(days)} decided, {undecided} undecided, {late_count} after the deadline",
                     loc="left")
        if late_count:
            ax.legend(loc="upper right", frameon=False)
        fig.set_label(f"Bar chart of review decisions per day from {calendar[0]:%Y-%m-%d} to {calendar[-1]:%Y-%m-%d}: "
                      f"{len(days)} decisions, {undecided} line(s) undecided, {late_count} after the deadline"
                      f"{f' of {end:%Y-%m-%d}' if end is not None else ''}; the busiest day was {busiest:%Y-%m-%d} "
                      f"with {int(counts.max())} decisions.")
    return fig


# --- 3. deprovisioning lag ---------------------------------------------------------------------

def deprovisioning_lag(leavers: pd.DataFrame, sla_business_days: int = 1, terminated: str = "termination_date",
                       removed: str = "removed_at") -> Figure:
    """Histogram of business days from termination to access removal, with the SLA line.

    ``leavers`` has one row per leaver (or per leaver and system) with a termination date and the
    date their access was removed (empty when still held at extraction: counted and stated, not
    plotted). Bars beyond the SLA are exceptions. Plain columns, so any procedure can feed it.
    """
    _require(leavers, [terminated, removed], "deprovisioning lag")
    with _matplotlib().rc_context(STYLE):
        fig, (ax,) = new_figure(WIDE)
        lag = business_days_between(leavers[terminated], leavers[removed])
        not_removed = int((leavers[terminated].notna() & leavers[removed].isna()).sum())
        measured = lag.dropna().astype(int)
        if measured.empty:
            return _empty(fig, ax, f"No removals to measure ({not_removed} leaver(s) still held access at extraction).")
        low, high = min(0, int(measured.min())), max(int(measured.max()), sla_business_days + 1)
        values = np.arange(low, high + 1)
        counts = measured.value_counts().reindex(values, fill_value=0).to_numpy()
        beyond = values > sla_business_days
        ax.bar(values[~beyond], counts[~beyond], width=0.8, color=OK, label="within the SLA")
        ax.bar(values[beyond], counts[beyond], width=0.8, color=FLAG, label="after the SLA")
        ax.axvline(sla_business_days + 0.5, color="black", linestyle="--", linewidth=1.2)
        top = counts.max() * 1.2 + 1
        ax.text(sla_business_days + 0.6, top * 0.97, f"SLA: {sla_business_days} business day(s)", va="top", fontsize=8)
        ax.set_ylim(0, top)
        step = max(1, len(values) // 15)
        ax.set_xticks(values[::step])
        ax.set_xlabel("business days from termination to removal")
        ax.set_ylabel("leavers")
        late = int(counts[beyond].sum())
        ax.set_title(f"Deprovisioning lag: {late} of {len(measured)} removal(s) after the SLA; "
                     f"{not_removed} not removed at extraction", loc="left")
        ax.legend(loc="upper right", frameon=False)
        fig.set_label(f"Histogram of business days from termination to removal for {len(measured)} removal(s): "
                      f"{late} after the SLA of {sla_business_days} business day(s), the longest {int(measured.max())} "
                      f"day(s); {not_removed} leaver(s) still held access at extraction.")
    return fig


# --- 4. reviewer approval rates (rubber-stamping) ----------------------------------------------

def rubber_stamp_flags(stats: pd.DataFrame, min_decisions: int = 20, min_approval_rate: float = 0.98,
                       max_median_seconds: float = 30.0) -> pd.Series:
    """Which reviewers meet every rubber-stamping threshold (the same rule as ``analytics.rubber_stamping``)."""
    return ((stats["decided"] >= min_decisions) & (stats["approval_rate"] >= min_approval_rate)
            & (stats["median_seconds_between_decisions"] <= max_median_seconds)).fillna(False).astype(bool)


def _reviewer_name(row: Any) -> str:
    """How a chart names a reviewer: the name, with the e-mail when there is no name."""
    name = getattr(row, "reviewer_name", "")
    return name if isinstance(name, str) and name else row.reviewer_email


def reviewer_rubber_stamp(stats: pd.DataFrame, min_decisions: int = 20, min_approval_rate: float = 0.98,
                          max_median_seconds: float = 30.0) -> Figure:
    """Scatter of reviewers: median seconds between decisions against approval rate, thresholds marked.

    ``stats`` is ``analytics.reviewer_statistics`` (numeric ``approval_rate`` from 0 to 1). Reviewers
    meeting every threshold sit in the shaded corner and are labelled; reviewers with fewer than
    ``min_decisions`` decided lines are hollow (the rule does not assess them).
    """
    needed = ["reviewer_email", "decided", "approval_rate", "median_seconds_between_decisions"]
    _require(stats, needed, "reviewer approval rate")
    with _matplotlib().rc_context(STYLE):
        fig, (ax,) = new_figure(TALL)
        plotted = stats.dropna(subset=["approval_rate", "median_seconds_between_decisions"])
        unplotted = len(stats) - len(plotted)
        if plotted.empty:
            return _empty(fig, ax, f"No reviewer made two or more decisions ({len(stats)} reviewer(s)).")
        flags = rubber_stamp_flags(plotted, min_decisions, min_approval_rate, max_median_seconds)
        assessed = plotted["decided"] >= min_decisions
        seconds = plotted["median_seconds_between_decisions"].clip(lower=1.0).astype(float)
        rate = plotted["approval_rate"].astype(float) * 100
        size = 20 + 80 * np.sqrt(plotted["decided"].astype(float) / max(float(plotted["decided"].max()), 1.0))
        x_low, x_high = 1.0 / 1.5, max(float(seconds.max()) * 2, max_median_seconds * 10)
        y_low = max(min(float(rate.min()), min_approval_rate * 100) - 5, -2)
        ax.set_xscale("log")
        # Math text is off (data names are text), so log ticks must be plain numbers, not "10^{n}".
        ax.xaxis.set_major_formatter(_matplotlib().ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        ax.set_xlim(x_low, x_high)
        ax.set_ylim(y_low, 103)
        ax.fill_between([x_low, max_median_seconds], min_approval_rate * 100, 103, color=FLAG, alpha=0.10,
                        linewidth=0, label="rubber-stamp zone")
        ax.axvline(max_median_seconds, color=FLAG, linestyle="--", linewidth=1)
        ax.axhline(min_approval_rate * 100, color=FLAG, linestyle="--", linewidth=1)
        ax.text(max_median_seconds * 1.05, y_low + 1, f"median ≤ {max_median_seconds:.0f} s", fontsize=7, color=FLAG,
                va="bottom")
        ax.text(x_high, min_approval_rate * 100 - 0.3, f"approved ≥ {min_approval_rate:.0%}", fontsize=7, color=FLAG,
                ha="right", va="top")
        groups = ((~assessed, "none", MUTED, f"fewer than {min_decisions} decisions"),
                  (assessed & ~flags, OK, OK, "reviewers"),
                  (flags, FLAG, FLAG, "meets every threshold"))
        for mask, face, edge, label in groups:
            if mask.any():
                ax.scatter(seconds[mask], rate[mask], s=size[mask], facecolors=face, edgecolors=edge, linewidths=1,
                           label=label, zorder=3)
        for row, x, y in zip(plotted[flags].itertuples(), seconds[flags], rate[flags]):
            ax.annotate(f"{_reviewer_name(row)}\n{int(row.decided)} decided, {row.approval_rate:.0%} approved, "
                        f"median {row.median_seconds_between_decisions:.0f} s",
                        (x, y), xytext=(14, -30), textcoords="offset points", fontsize=8, color=FLAG,
                        arrowprops={"arrowstyle": "-", "color": FLAG, "linewidth": 0.8})
        ax.set_xlabel("median seconds between consecutive decisions (log scale)")
        ax.set_ylabel("lines approved (%)")
        ax.set_title(f"Reviewers: approval rate and pace ({len(plotted)} reviewers; meeting every rubber-stamp "
                     f"threshold: {int(flags.sum())})", loc="left")
        ax.legend(loc="lower right", frameon=False, markerscale=0.6)
        names = [_reviewer_name(r) for r in plotted[flags].itertuples()]
        fig.set_label(f"Scatter chart of {len(plotted)} reviewer(s) by median seconds between decisions and approval "
                      f"rate, thresholds at {max_median_seconds:.0f} s and {min_approval_rate:.0%} with at least "
                      f"{min_decisions} decisions; {len(names)} reviewer(s) meet every threshold"
                      f"{': ' + ', '.join(names) if names else ''}"
                      f"{f'; {unplotted} reviewer(s) with fewer than two decisions not plotted' if unplotted else ''}.")
    return fig


# --- 5. exceptions by status and age -----------------------------------------------------------

def age_bucket(days: float) -> str:
    """The age bucket label of an exception's age in days (a negative age counts as new)."""
    for label, _, high in AGE_BUCKETS:
        if days <= high:
            return label
    return AGE_BUCKETS[-1][0]


def exceptions_by_status_and_age(register: pd.DataFrame) -> Figure:
    """Two panels: exceptions by status, and the still-open ones by age since first seen.

    ``register`` is a register merged with the remediation records (``exceptions.merge_records``:
    columns ``status`` and ``age_days``). Old open exceptions are what a reviewer asks about first.
    """
    _require(register, ["status", "age_days"], "exceptions by status and age (merge the remediation records first)")
    with _matplotlib().rc_context(STYLE):
        fig, (left, right) = new_figure(WIDE, columns=2)
        if register.empty:
            right.set_axis_off()
            return _empty(fig, left, "No exceptions noted in this run.")
        status = register["status"].replace("", "open")
        order = list(STATUSES) + sorted(set(status) - set(STATUSES))
        by_status = status.value_counts().reindex(order, fill_value=0)
        colours = [FLAG if s in OPEN_STATUSES else OK for s in order]
        left.bar(np.arange(len(order)), by_status.to_numpy(), color=colours, width=0.6)
        left.set_xticks(np.arange(len(order)), [s.replace("-", "-\n") for s in order])
        for x, n in enumerate(by_status.to_numpy()):
            if n:
                left.text(x, n, str(int(n)), ha="center", va="bottom", fontsize=8)
        left.set_ylim(0, by_status.max() * 1.2 + 0.5)
        left.set_ylabel("exceptions")
        left.set_title("By status (open ones in orange)", loc="left")
        still_open = register[status.isin(OPEN_STATUSES)]
        ages = pd.to_numeric(still_open["age_days"], errors="coerce").fillna(0)
        labels = [label for label, _, _ in AGE_BUCKETS]
        by_age = ages.map(age_bucket).value_counts().reindex(labels, fill_value=0)
        right.bar(np.arange(len(labels)), by_age.to_numpy(), color=[OK, "#E69F00", FLAG, FLAG, FLAG], width=0.6)
        right.set_xticks(np.arange(len(labels)), [label.replace(" ", "\n", 1) for label in labels])
        for x, n in enumerate(by_age.to_numpy()):
            if n:
                right.text(x, n, str(int(n)), ha="center", va="bottom", fontsize=8)
        right.set_ylim(0, by_age.max() * 1.2 + 0.5)
        right.set_title(f"Open exceptions by age since first seen ({len(still_open)})", loc="left")
        for ax in (left, right):
            ax.yaxis.get_major_locator().set_params(integer=True)
        fig.set_label(f"Bar charts of {len(register)} exception(s) by status ("
                      + ", ".join(f"{s} {int(n)}" for s, n in by_status.items() if n)
                      + f") and of the {len(still_open)} open one(s) by age ("
                      + ", ".join(f"{a} {int(n)}" for a, n in by_age.items() if n) + ").")
    return fig


def thresholds_of(settings: Any) -> Mapping[str, Any]:
    """The rubber-stamp thresholds of a UAR control's settings, as keyword arguments for the scatter."""
    source = getattr(settings, "rubber_stamp", settings)
    dump = source.model_dump() if hasattr(source, "model_dump") else dict(source)
    return {k: dump[k] for k in ("min_decisions", "min_approval_rate", "max_median_seconds") if k in dump}


register_notebook_display()
