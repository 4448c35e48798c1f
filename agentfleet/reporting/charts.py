"""The weekly report's PNG.

Per day, verified completions, work that is not verified (unverified, with
unchecked completions stacked on it) and failures as bars, the verified
completion rate as a line, days labelled in the report's zone.

matplotlib is imported here only, and lazily by `weekly.write_report_files`,
so the CLI and the worker start without paying for it. The object API (no
pyplot) keeps no global figure state, so rendering from an activity thread is
safe.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from agentfleet.contracts.reports import DailyPoint, WeeklyReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["render_png"]


def render_png(report: WeeklyReport) -> bytes:
    """The report's chart as PNG bytes, the same bytes for the same report."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    days = report.daily
    xs = list(range(len(days)))
    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    _outcome_bars(ax, days, xs)
    rate = _rate_line(ax, days, xs)
    _legend_below(ax, rate)
    fig.subplots_adjust(bottom=0.24)
    ax.set_title(_title(report), fontsize=10)
    buf = io.BytesIO()
    # No Software/date metadata: the same report renders the same bytes.
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _outcome_bars(ax: Axes, days: Sequence[DailyPoint], xs: list[int]) -> None:
    """Per day, side by side: verified, not verified (unchecked stacked on it), failed."""
    from matplotlib.ticker import MaxNLocator

    width = 0.27
    ax.bar(
        [x - width for x in xs],
        [d.completed for d in days],
        width,
        label="completed (verified)",
        color="#2e7d32",
    )
    ax.bar(xs, [d.unverified for d in days], width, label="unverified", color="#ef6c00")
    if any(d.completed_unchecked for d in days):
        # Stacked on unverified: neither is a completion, and an old ledger
        # full of unchecked rows must not look like verified work.
        ax.bar(
            xs,
            [d.completed_unchecked for d in days],
            width,
            bottom=[d.unverified for d in days],
            label="completed (unchecked)",
            color="#bdbdbd",
            hatch="//",
        )
    ax.bar(
        [x + width for x in xs],
        [d.failed for d in days],
        width,
        label="failed",
        color="#c62828",
    )
    ax.set_xticks(xs, [d.label for d in days])
    ax.set_ylabel("root tasks closed")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    top = max(
        [1, *(max(d.completed, d.unverified + d.completed_unchecked, d.failed) for d in days)]
    )
    ax.set_ylim(0, top * 1.15)


def _rate_line(ax: Axes, days: Sequence[DailyPoint], xs: list[int]) -> Axes:
    """The verified completion rate per day, on its own axis to the right."""
    from matplotlib.ticker import PercentFormatter

    rate = ax.twinx()
    # Days with nothing closed have no rate: a gap, not a fake 0%.
    rate.plot(
        xs,
        [float("nan") if d.completion_rate is None else d.completion_rate for d in days],
        marker="o",
        color="#1565c0",
        label="completion rate (verified)",
    )
    rate.set_ylim(0, 1.05)
    rate.yaxis.set_major_formatter(PercentFormatter(1.0))
    rate.set_ylabel("verified completion rate")
    return rate


def _legend_below(ax: Axes, rate: Axes) -> None:
    """One legend for bars and line, below the axes, where no bar or point can hide behind it."""
    handles = ax.get_legend_handles_labels()
    rate_handles = rate.get_legend_handles_labels()
    ax.legend(
        handles[0] + rate_handles[0],
        handles[1] + rate_handles[1],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.1),
        ncols=3,
        fontsize=8,
        frameon=False,
    )


def _title(report: WeeklyReport) -> str:
    """The week in one line: the counts behind the bars, and the week's completion rate."""
    rate_text = (
        "n/a"
        if report.tasks.completion_rate is None
        else f"{report.tasks.completion_rate * 100:.1f}%"
    )
    t = report.tasks
    unchecked = f", {t.completed_unchecked} unchecked" if t.completed_unchecked else ""
    return (
        f"agentfleet {report.week} ({report.tz}): {t.completed} verified, "
        f"{t.unverified} unverified{unchecked}, "
        f"{t.failed + t.timed_out + t.budget_exhausted} failed, completion {rate_text}"
    )
