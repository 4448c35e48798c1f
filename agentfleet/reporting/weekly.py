"""The weekly report: numbers from the task ledger.

They are rendered as JSON, Markdown and a PNG chart.

No Temporal here: `activities/report.py` and the CLI call into this module.
`build_report` is pure; `load_rows` and `write_report_files` are the only I/O.

Windows are `weeks.iso_week_bounds` (aware UTC, half-open) and every instant
is compared in UTC, so the numbers never depend on the process's `TZ`. The
report's zone only decides where the week and its days begin and how days are
labelled.

Completion means verified work (issue #13): a row counts as completed only
when its status is `completed` and its completion check passed
(`verified` True). Rows that say `completed` without a passing check (older
rows, or a check that never ran) are shown apart as "completed (unchecked)",
and `unverified` rows (the check failed) apart again, with the paths their
checks found missing as their reasons. The completion rate is verified
completions over all closes.

Usage: a ledger row carries the usage of its whole subtree (the `usage` of
its `AgentNode`). A row's own spend is its total minus its direct children's
totals, so tokens and cost are attributed to the model that really spent them
and nothing is counted twice.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pydantic
import sqlalchemy as sa

from agentfleet.atomic import atomic_write_bytes
from agentfleet.contracts.reports import (
    DailyPoint,
    Distribution,
    FailureReason,
    ForecastVsActual,
    ModelUsage,
    StatusCounts,
    UnverifiedReason,
    WeekDelta,
    WeeklyReport,
    WeekSummary,
)
from agentfleet.ledger.store import Ledger, LedgerRow, tasks
from agentfleet.reporting.markdown import render_json, render_markdown
from agentfleet.reporting.weeks import iso_week_bounds, week_of, zone

__all__ = [
    "build_report",
    "load_rows",
    "nearest_rank",
    "outcome",
    "previous_week",
    "render_json",
    "render_markdown",
    "report_paths",
    "report_stem",
    "week_before",
    "write_report_files",
]

FAILURES = ("failed", "timed_out", "budget_exhausted")
TOP_REASONS = 5
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Generous SQL bounds, exact filtering in Python: a value a rogue writer
# stored in another text format (SQLite compares text) or zone still lands
# in the candidate set, and the numbers come from the parsed instants.
_SQL_MARGIN = timedelta(days=2)


# --- weeks ---------------------------------------------------------------------


def week_before(week: str, tz: str = "UTC") -> str:
    """The ISO week before `week` in `tz`: the one the report compares with."""
    start, _ = iso_week_bounds(week, tz)
    return week_of(start - timedelta(microseconds=1), tz)


def previous_week(now: datetime, tz: str = "UTC") -> str:
    """The ISO week in `tz` that ended most recently before `now` (aware).

    Deterministic given `now`, so the report workflow can call it.
    """
    return week_before(week_of(now, tz), tz)


def report_stem(week: str, tz: str) -> str:
    """The report files' name: `2026-W10` for UTC, `2026-W10-America-Los_Angeles` otherwise.

    A zone name's '/' must not become a directory.
    """
    return week if tz == "UTC" else f"{week}-{tz.replace('/', '-')}"


def report_paths(home: Path, week: str, tz: str) -> dict[str, Path]:
    """Where the week's report files go, by extension (`json`, `md`, `png`)."""
    base = Path(home) / "reports" / report_stem(week, tz)
    return {ext: base.with_name(f"{base.name}.{ext}") for ext in ("json", "md", "png")}


# --- loading -------------------------------------------------------------------


def load_rows(ledger: Ledger, start: datetime, end: datetime) -> tuple[list[LedgerRow], int]:
    """Every row that can matter to the window `[start, end)`.

    That is a row closed or started in it, or still running, and the whole
    tree of each (so a row's own spend can be told from its children's).
    Returns (rows, unreadable count).
    """
    lo, hi = start - _SQL_MARGIN, end + _SQL_MARGIN
    t = tasks
    near = sa.or_(
        sa.and_(t.c.closed_at >= lo, t.c.closed_at < hi),
        sa.and_(t.c.started_at >= lo, t.c.started_at < hi),
        sa.and_(t.c.status == "running", t.c.started_at < hi),
    )
    with ledger.engine.connect() as conn:
        raw = [dict(r) for r in conn.execute(sa.select(t).where(near)).mappings()]
        roots = sorted({r["root_id"] for r in raw if r.get("root_id")})
        seen = {(r["workflow_id"], r["run_id"]) for r in raw}
        # Chunked: SQLite caps bound parameters per statement.
        for i in range(0, len(roots), 500):
            chunk = roots[i : i + 500]
            for m in conn.execute(sa.select(t).where(t.c.root_id.in_(chunk))).mappings():
                if (m["workflow_id"], m["run_id"]) not in seen:
                    seen.add((m["workflow_id"], m["run_id"]))
                    raw.append(dict(m))
    rows: list[LedgerRow] = []
    bad = 0
    for r in raw:
        if r.get("status") == "continued_as_new":
            # One task per agent: the chain's last run carries the outcome.
            continue
        try:
            rows.append(LedgerRow.model_validate(r))
        except pydantic.ValidationError:
            bad += 1
    return rows, bad


# --- numbers -------------------------------------------------------------------


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The q-quantile by nearest rank.

    That is the smallest value with at least q of the data at or below it.
    """
    if not values:
        return None
    ordered = sorted(values)
    k = max(1, math.ceil(q * len(ordered)))
    return ordered[k - 1]


def _distribution(values: Sequence[float], digits: int = 3) -> Distribution:
    if not values:
        return Distribution()

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, digits)

    return Distribution(
        count=len(values),
        mean=r(sum(values) / len(values)),
        p50=r(nearest_rank(values, 0.50)),
        p95=r(nearest_rank(values, 0.95)),
        max=r(max(values)),
    )


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _inside(ts: datetime | None, start: datetime, end: datetime) -> bool:
    return ts is not None and start <= ts < end


def _is_root(row: LedgerRow) -> bool:
    return row.role == "master" or (row.role is None and row.parent_id is None)


def outcome(row: LedgerRow) -> str:
    """The row's status as the report counts it.

    A `completed` whose check did not pass (or never ran) is
    `completed_unchecked`, not a completion.
    """
    if row.status == "completed" and row.verified is not True:
        return "completed_unchecked"
    return row.status


def _counts(rows: Iterable[LedgerRow], start: datetime, end: datetime) -> StatusCounts:
    c: Counter[str] = Counter()
    for row in rows:
        if _inside(row.started_at, start, end):
            c["spawned"] += 1
        if row.status == "running":
            if row.started_at is not None and row.started_at < end:
                c["still_running"] += 1
        elif _inside(row.closed_at, start, end):
            c[outcome(row)] += 1
            c["closed"] += 1
    return StatusCounts(
        spawned=c["spawned"],
        completed=c["completed"],
        completed_unchecked=c["completed_unchecked"],
        unverified=c["unverified"],
        partial=c["partial"],
        failed=c["failed"],
        canceled=c["canceled"],
        budget_exhausted=c["budget_exhausted"],
        timed_out=c["timed_out"],
        closed=c["closed"],
        still_running=c["still_running"],
        completion_rate=_rate(c["completed"], c["closed"]),
    )


def _closed_in(rows: Iterable[LedgerRow], start: datetime, end: datetime) -> list[LedgerRow]:
    return [r for r in rows if r.status != "running" and _inside(r.closed_at, start, end)]


def _durations(rows: Iterable[LedgerRow]) -> list[float]:
    return [d for d in (r.duration_s for r in rows) if d is not None]


_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cost_usd",
)


def _own_usage(rows: Sequence[LedgerRow]) -> dict[tuple[str, str], tuple[float, ...]]:
    """What each row spent itself, one value per `_USAGE_FIELDS`.

    That is its subtree total minus its direct children's subtree totals,
    never below zero.
    """
    children: dict[str, list[LedgerRow]] = defaultdict(list)
    for r in rows:
        if r.parent_id:
            children[r.parent_id].append(r)
    own: dict[tuple[str, str], tuple[float, ...]] = {}
    for r in rows:
        kids = children.get(r.workflow_id, [])
        own[(r.workflow_id, r.run_id)] = tuple(
            max(0, getattr(r, f) - sum(getattr(k, f) for k in kids)) for f in _USAGE_FIELDS
        )
    return own


def _usage_by_model(
    rows: Sequence[LedgerRow], start: datetime, end: datetime
) -> tuple[list[ModelUsage], ModelUsage]:
    own = _own_usage(rows)
    width = len(_USAGE_FIELDS) + 1
    acc: dict[str, list[float]] = defaultdict(lambda: [0.0] * width)
    for r in _closed_in(rows, start, end):
        if r.role == "inline":
            # Inline work is paid for by its master's row already.
            continue
        a = acc[r.model or "(unknown)"]
        a[0] += 1
        for k, v in enumerate(own[(r.workflow_id, r.run_id)], start=1):
            a[k] += v

    def usage(model: str, a: Sequence[float]) -> ModelUsage:
        agents, i, o, write, read, cost = a
        prompt = int(i + write + read)
        return ModelUsage(
            model=model,
            agents=int(agents),
            input_tokens=int(i),
            output_tokens=int(o),
            cache_creation_input_tokens=int(write),
            cache_read_input_tokens=int(read),
            total_tokens=int(prompt + o),
            cache_hit_rate=round(read / prompt, 4) if prompt else None,
            cost_usd=round(cost, 6),
        )

    by_model = sorted(
        (usage(m, a) for m, a in acc.items()), key=lambda u: (-u.cost_usd, -u.total_tokens, u.model)
    )
    total = [sum(a[k] for a in acc.values()) for k in range(width)]
    return by_model, usage("all", total)


def _forecast(roots: Iterable[LedgerRow], start: datetime, end: datetime) -> ForecastVsActual:
    """Root tasks closed in the window that carried a cost forecast, against their cost."""
    pairs = [
        (float(r.forecast_usd), r.cost_usd)
        for r in _closed_in(roots, start, end)
        if r.forecast_usd is not None
    ]
    forecast = sum(f for f, _ in pairs)
    actual = sum(a for _, a in pairs)
    return ForecastVsActual(
        tasks=len(pairs),
        forecast_usd=round(forecast, 6),
        actual_usd=round(actual, 6),
        error_usd=round(actual - forecast, 6),
        actual_over_forecast=round(actual / forecast, 4) if forecast > 0 else None,
        within_forecast=sum(1 for f, a in pairs if a <= f),
    )


def _failure_reasons(rows: Iterable[LedgerRow]) -> list[FailureReason]:
    c: Counter[str] = Counter()
    for r in rows:
        # Unverified rows have their own list, by missing path.
        if r.status in ("completed", "unverified"):
            continue
        reason = (r.failure_reason or "").strip().splitlines()
        if reason:
            c[reason[0][:160]] += 1
        elif r.status in FAILURES:
            c["(no reason recorded)"] += 1
    ranked = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]
    return [FailureReason(reason=k, count=v) for k, v in ranked]


def _unverified_reasons(rows: Iterable[LedgerRow]) -> list[UnverifiedReason]:
    """The paths unverified agents were missing, counted once per task tree.

    A master's goal-level check and its sub-agent's often name the same path.
    """
    trees: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r.status != "unverified":
            continue
        tree = r.root_id or r.workflow_id
        paths = [p for p in (r.verify_missing or []) if p.strip()]
        if not paths:
            # A check that failed on claims rather than outputs (or a row
            # whose paths were not recorded) still says why in its reason.
            first = (r.failure_reason or "").strip().splitlines()
            paths = [f"({first[0][:160]})" if first else "(no missing path recorded)"]
        trees[tree].update(paths)
    c: Counter[str] = Counter(p for paths in trees.values() for p in paths)
    ranked = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]
    return [UnverifiedReason(path=k, count=v) for k, v in ranked]


def _daily(roots: Iterable[LedgerRow], start: datetime, end: datetime, tz: str) -> list[DailyPoint]:
    tzi = zone(tz)
    first = start.astimezone(tzi).date()
    days = [first + timedelta(days=i) for i in range(7)]
    per: dict[date, Counter[str]] = {d: Counter() for d in days}
    for r in _closed_in(roots, start, end):
        assert r.closed_at is not None
        day = r.closed_at.astimezone(tzi).date()
        if day not in per:
            continue
        per[day]["closed"] += 1
        kind = outcome(r)
        if kind in ("completed", "unverified", "completed_unchecked"):
            per[day][kind] += 1
        elif kind in FAILURES:
            per[day]["failed"] += 1
    return [
        DailyPoint(
            day=d,
            label=f"{_DAYS[d.weekday()]} {d:%m-%d}",
            completed=per[d]["completed"],
            unverified=per[d]["unverified"],
            completed_unchecked=per[d]["completed_unchecked"],
            failed=per[d]["failed"],
            closed=per[d]["closed"],
            completion_rate=_rate(per[d]["completed"], per[d]["closed"]),
        )
        for d in days
    ]


def _optional_sum(rows: Iterable[LedgerRow], attr: str) -> int | None:
    """Sum of an optional per-row count the ledger may not record at all."""
    values = [getattr(r, attr, None) for r in rows]
    present = [int(v) for v in values if v is not None]
    return sum(present) if present else None


def _summary(rows: Sequence[LedgerRow], week: str, tz: str) -> WeekSummary:
    start, end = iso_week_bounds(week, tz)
    roots = [r for r in rows if _is_root(r)]
    tc = _counts(roots, start, end)
    sc = _counts((r for r in rows if r.role == "subagent"), start, end)
    durations = _durations(_closed_in(roots, start, end))
    _, total = _usage_by_model(rows, start, end)
    return WeekSummary(
        week=week,
        tasks_spawned=tc.spawned,
        tasks_completed=tc.completed,
        tasks_unverified=tc.unverified,
        tasks_completed_unchecked=tc.completed_unchecked,
        tasks_failed=tc.failed + tc.timed_out + tc.budget_exhausted,
        tasks_closed=tc.closed,
        completion_rate=tc.completion_rate,
        duration_p50_s=_distribution(durations).p50,
        duration_p95_s=_distribution(durations).p95,
        subagents_spawned=sc.spawned,
        total_tokens=total.total_tokens,
        cost_usd=total.cost_usd,
        cache_creation_input_tokens=total.cache_creation_input_tokens,
        cache_read_input_tokens=total.cache_read_input_tokens,
        cache_hit_rate=total.cache_hit_rate,
    )


def _delta(now: WeekSummary, before: WeekSummary) -> WeekDelta:
    out: dict[str, Any] = {}
    for name in WeekDelta.model_fields:
        a, b = getattr(now, name), getattr(before, name)
        if a is None or b is None:
            out[name] = None
        elif isinstance(a, float) or isinstance(b, float):
            out[name] = round(a - b, 6)
        else:
            out[name] = a - b
    return WeekDelta.model_validate(out)


def build_report(
    rows: Sequence[LedgerRow],
    prev_rows: Sequence[LedgerRow],
    week: str,
    tz: str = "UTC",
    *,
    generated_at: datetime | None = None,
    unreadable_rows: int = 0,
) -> WeeklyReport:
    """The report for ISO week `week` in zone `tz`.

    `rows` may hold more than the window (as `load_rows` returns): only what
    falls inside counts. `prev_rows` are the rows for the week before, for
    the deltas.
    """
    tz = "UTC" if tz.upper() == "UTC" else tz
    start, end = iso_week_bounds(week, tz)
    roots = [r for r in rows if _is_root(r)]
    subs = [r for r in rows if r.role == "subagent"]
    spawned_roots = [r for r in roots if _inside(r.started_at, start, end)]
    per_root = Counter(r.root_id for r in subs)
    inline = [
        r for r in rows if r.role == "inline" and _inside(r.started_at or r.closed_at, start, end)
    ]
    inline_attr = _optional_sum(spawned_roots, "inline_decisions")
    by_model, totals = _usage_by_model(rows, start, end)
    summary = _summary(rows, week, tz)
    prev_week = week_before(week, tz)
    previous = _summary(prev_rows, prev_week, tz)
    return WeeklyReport(
        week=week,
        tz=tz,
        window_start=start,
        window_end=end,
        generated_at=generated_at or datetime.now(UTC),
        tasks=_counts(roots, start, end),
        subagents=_counts(subs, start, end),
        task_duration_s=_distribution(_durations(_closed_in(roots, start, end))),
        subagent_duration_s=_distribution(_durations(_closed_in(subs, start, end))),
        subagents_per_task=_distribution(
            [float(per_root.get(r.workflow_id, 0)) for r in spawned_roots]
        ),
        inline_decisions=inline_attr if inline_attr is not None else len(inline),
        pruned_subtasks=_optional_sum(spawned_roots, "pruned_count"),
        by_model=by_model,
        totals=totals,
        forecast=_forecast(roots, start, end),
        top_failure_reasons=_failure_reasons(_closed_in(rows, start, end)),
        top_unverified_reasons=_unverified_reasons(_closed_in(rows, start, end)),
        daily=_daily(roots, start, end, tz),
        summary=summary,
        previous=previous,
        delta=_delta(summary, previous),
        unreadable_rows=unreadable_rows,
    )


# --- files ---------------------------------------------------------------------


def write_report_files(report: WeeklyReport, home: Path) -> list[Path]:
    """`$AGENTFLEET_HOME/reports/<stem>.{json,md,png}`; returns the paths."""
    from agentfleet.reporting.charts import render_png

    paths = report_paths(home, report.week, report.tz)
    # Reports are rebuilt from the ledger at will: no fsync.
    atomic_write_bytes(paths["json"], render_json(report).encode(), fsync=False, make_parent=True)
    atomic_write_bytes(paths["md"], render_markdown(report).encode(), fsync=False, make_parent=True)
    atomic_write_bytes(paths["png"], render_png(report), fsync=False, make_parent=True)
    return [paths["json"], paths["md"], paths["png"]]


def generate(
    ledger: Ledger, home: Path, week: str, tz: str = "UTC", *, now: datetime | None = None
) -> tuple[WeeklyReport, list[Path]]:
    """Load, build and write the report for `week` in `tz`."""
    start, end = iso_week_bounds(week, tz)
    prev_start, prev_end = iso_week_bounds(week_before(week, tz), tz)
    rows, bad = load_rows(ledger, start, end)
    prev_rows, _ = load_rows(ledger, prev_start, prev_end)
    report = build_report(rows, prev_rows, week, tz, generated_at=now, unreadable_rows=bad)
    return report, write_report_files(report, home)
