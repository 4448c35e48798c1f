"""The weekly report as text: JSON, and Markdown for people.

Apart from `agentfleet.reporting.weekly` (the numbers) so that the wording, which
grows with every count the report gains, stays out of the arithmetic.
Pure: no I/O.
"""

from __future__ import annotations

from agentfleet.contracts.reports import WeeklyReport
from agentfleet.reporting.weeks import zone

__all__ = ["render_json", "render_markdown"]


def render_json(report: WeeklyReport) -> str:
    """The report file's JSON: the whole model, indented for a diff between weeks."""
    return report.model_dump_json(indent=2) + "\n"


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 100:.1f}%"


def _secs(v: float | None) -> str:
    if v is None:
        return "n/a"
    if v < 120:
        return f"{v:.1f}s"
    if v < 7200:
        return f"{v / 60:.1f}m"
    return f"{v / 3600:.1f}h"


def _signed(v: float | None, fmt: str = "{:+d}") -> str:
    return "n/a" if v is None else fmt.format(v)


_TASK_ROWS = (
    ("spawned", "spawned"),
    ("completed", "completed (verified)"),
    ("completed_unchecked", "completed (unchecked)"),
    ("unverified", "unverified"),
    ("partial", "partial"),
    ("failed", "failed"),
    ("canceled", "canceled"),
    ("budget_exhausted", "budget exhausted"),
    ("timed_out", "timed out"),
    ("closed", "closed"),
    ("still_running", "still running"),
)


def _tasks(report: WeeklyReport) -> list[str]:
    t, sub = report.tasks, report.subagents
    # Shown only when there are any: a ledger written after the completion
    # check existed has none, and an empty row would only raise a question.
    unchecked = t.completed_unchecked or sub.completed_unchecked
    lines = ["## Tasks", "", "| | root tasks | sub-agents |", "|---|---:|---:|"]
    lines += [
        f"| {label} | {getattr(t, name)} | {getattr(sub, name)} |"
        for name, label in _TASK_ROWS
        if unchecked or name != "completed_unchecked"
    ]
    lines.append(
        f"| completion rate (verified) | {_pct(t.completion_rate)} | {_pct(sub.completion_rate)} |"
    )
    note = (
        "Completed means the completion check passed: the outputs exist and the agent's "
        "own tool calls made them."
    )
    if unchecked:
        note += (
            " **Completed (unchecked)** rows say `completed` but no passing check is "
            "recorded; they do not count as completions (`agentfleet audit` names them)."
        )
    return [*lines, "", note]


def _shape(report: WeeklyReport) -> list[str]:
    td, sd, per = report.task_duration_s, report.subagent_duration_s, report.subagents_per_task
    lines = [
        "## Durations and shape",
        "",
        f"- Root task duration: p50 {_secs(td.p50)}, p95 {_secs(td.p95)} ({td.count} closed)",
        f"- Sub-agent duration: p50 {_secs(sd.p50)}, p95 {_secs(sd.p95)} ({sd.count} closed)",
        f"- Sub-agents per root task: mean {per.mean if per.mean is not None else 'n/a'}, "
        f"p95 {per.p95 if per.p95 is not None else 'n/a'}, "
        f"max {per.max if per.max is not None else 'n/a'}",
        f"- Inline decisions: {report.inline_decisions}",
        "- Pruned subtasks: "
        + ("not recorded" if report.pruned_subtasks is None else str(report.pruned_subtasks)),
        "",
        "## Tokens and cost by model",
        "",
        "| model | agents | input | cache write | cache read | cache hit rate | output "
        "| cost (USD) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for u in [*report.by_model, report.totals]:
        name = "**all**" if u.model == "all" else u.model
        hit = "n/a" if u.cache_hit_rate is None else f"{u.cache_hit_rate:.1%}"
        lines.append(
            f"| {name} | {u.agents} | {u.input_tokens} | {u.cache_creation_input_tokens} | "
            f"{u.cache_read_input_tokens} | {hit} | {u.output_tokens} | {u.cost_usd:.4f} |"
        )
    lines += ["", "Cost includes cache writes and reads, each at its own price.", ""]
    f = report.forecast
    if f.tasks:
        ratio = "n/a" if f.actual_over_forecast is None else f"{f.actual_over_forecast:.2f}x"
        lines += [
            "## Forecast vs actual",
            "",
            f"- {f.tasks} root tasks were forecast before their plan ran: forecast "
            f"${f.forecast_usd:.4f}, actual ${f.actual_usd:.4f} ({ratio} of forecast, "
            f"error {f.error_usd:+.4f}); {f.within_forecast} stayed within their forecast.",
        ]
    else:
        lines += ["## Forecast vs actual", "", "No root task closed this week carried a forecast."]
    return lines


def _reasons(report: WeeklyReport) -> list[str]:
    lines = ["## Top failure reasons", ""]
    lines += [
        f"{i}. {f.reason} ({f.count})" for i, f in enumerate(report.top_failure_reasons, 1)
    ] or ["None."]
    lines += ["", "## Top reasons for unverified (missing paths)", ""]
    lines += [
        f"{i}. {u.path} ({u.count} task{'s' if u.count != 1 else ''})"
        for i, u in enumerate(report.top_unverified_reasons, 1)
    ] or ["None."]
    return lines


def _daily(report: WeeklyReport) -> list[str]:
    unchecked = any(p.completed_unchecked for p in report.daily)
    lines = [
        f"## Daily ({report.tz})",
        "",
        "| day | completed (verified) | unverified | "
        + ("completed (unchecked) | " if unchecked else "")
        + "failed | completion rate |",
        "|---|---:|---:|---:|---:|" + ("---:|" if unchecked else ""),
    ]
    lines += [
        f"| {p.label} | {p.completed} | {p.unverified} | "
        + (f"{p.completed_unchecked} | " if unchecked else "")
        + f"{p.failed} | {_pct(p.completion_rate)} |"
        for p in report.daily
    ]
    return lines


def _versus(report: WeeklyReport) -> list[str]:
    s, p, d = report.summary, report.previous, report.delta
    rate_pts = None if d.completion_rate is None else d.completion_rate * 100
    unchecked = (
        [
            f"| completed (unchecked) | {s.tasks_completed_unchecked} | "
            f"{p.tasks_completed_unchecked} | {_signed(d.tasks_completed_unchecked)} |"
        ]
        if s.tasks_completed_unchecked or p.tasks_completed_unchecked
        else []
    )
    return [
        f"## Versus {p.week}",
        "",
        "| | this week | previous | change |",
        "|---|---:|---:|---:|",
        f"| spawned | {s.tasks_spawned} | {p.tasks_spawned} | {_signed(d.tasks_spawned)} |",
        f"| completed (verified) | {s.tasks_completed} | {p.tasks_completed} | "
        f"{_signed(d.tasks_completed)} |",
        f"| unverified | {s.tasks_unverified} | {p.tasks_unverified} | "
        f"{_signed(d.tasks_unverified)} |",
        *unchecked,
        f"| failed | {s.tasks_failed} | {p.tasks_failed} | {_signed(d.tasks_failed)} |",
        f"| completion rate (verified) | {_pct(s.completion_rate)} | {_pct(p.completion_rate)} | "
        f"{_signed(rate_pts, '{:+.1f} pt')} |",
        f"| p50 duration | {_secs(s.duration_p50_s)} | {_secs(p.duration_p50_s)} | "
        f"{_signed(d.duration_p50_s, '{:+.1f}s')} |",
        f"| p95 duration | {_secs(s.duration_p95_s)} | {_secs(p.duration_p95_s)} | "
        f"{_signed(d.duration_p95_s, '{:+.1f}s')} |",
        f"| tokens | {s.total_tokens} | {p.total_tokens} | {_signed(d.total_tokens)} |",
        f"| cost (USD) | {s.cost_usd:.4f} | {p.cost_usd:.4f} | {_signed(d.cost_usd, '{:+.4f}')} |",
    ]


def render_markdown(report: WeeklyReport) -> str:
    """The report for people: a header, then one section per function below."""
    tzi = zone(report.tz)
    fmt = "%Y-%m-%d %H:%M %Z"
    lines = [
        f"# agentfleet weekly report: {report.week} ({report.tz})",
        "",
        f"Window: {report.window_start.astimezone(tzi).strftime(fmt)} to "
        f"{report.window_end.astimezone(tzi).strftime(fmt)} "
        f"(UTC {report.window_start:%Y-%m-%d %H:%M} to {report.window_end:%Y-%m-%d %H:%M}).",
        f"Generated {report.generated_at:%Y-%m-%d %H:%M:%S} UTC.",
    ]
    for section in (_tasks, _shape, _reasons, _daily, _versus):
        lines += ["", *section(report)]
    if report.unreadable_rows:
        lines += [
            "",
            f"**{report.unreadable_rows} ledger row(s) could not be read** and are not "
            "counted; run `agentfleet audit` for this week.",
        ]
    return "\n".join(lines) + "\n"
