"""`agentfleet report`, `agentfleet audit` and `agentfleet schedule`.

Like `agentfleet.cli.commands`: `--json` prints one JSON document on stdout;
problems raise `CliError` (one line on stderr, exit 2). `audit` exits 1 when
it names any discrepancy, 0 when the week is clean.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from agentfleet.cli.commands import temporal_client
from agentfleet.cli.output import emit_json
from agentfleet.config import Settings
from agentfleet.errors import CliError
from agentfleet.ledger.store import LEDGER_URL_ENV, Ledger, LedgerUpgradeError, ledger_url_from_env
from agentfleet.reporting.weekly import generate, previous_week
from agentfleet.reporting.weeks import iso_week_bounds, zone

__all__ = ["audit", "report", "schedule"]


def _zone_name(tz: str) -> str:
    try:
        zone(tz)
    except ValueError as err:
        raise CliError(str(err)) from None
    return "UTC" if tz.upper() == "UTC" else tz


def _week(week: str | None, tz: str) -> str:
    if week is None:
        return previous_week(datetime.now(UTC), tz)
    try:
        iso_week_bounds(week, tz)
    except ValueError as err:
        raise CliError(str(err)) from None
    return week


def _ledger(settings: Settings) -> Ledger:
    url = ledger_url_from_env(settings.home, os.environ)
    try:
        ledger = Ledger.from_url(url)
    except (ValueError, sa.exc.ArgumentError) as err:
        raise CliError(f"{LEDGER_URL_ENV}: {err}") from None
    try:
        ledger.create()
    except (LedgerUpgradeError, sa.exc.SQLAlchemyError) as err:
        ledger.dispose()
        first = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        shown = ledger.engine.url.render_as_string(hide_password=True)
        raise CliError(f"ledger at {shown}: {first}") from None
    return ledger


async def report(settings: Settings, week: str | None, tz: str, *, as_json: bool = False) -> int:
    """Build the report for `week` (default: the week that just ended).

    The files land under `$AGENTFLEET_HOME/reports/`; the summary is printed.
    """
    tz = _zone_name(tz)
    week = _week(week, tz)
    ledger = _ledger(settings)
    try:
        rep, files = await asyncio.to_thread(generate, ledger, settings.home, week, tz)
    finally:
        ledger.dispose()
    if as_json:
        emit_json({**rep.model_dump(mode="json"), "files": [str(p) for p in files]})
        return 0
    t = rep.tasks
    rate = "n/a" if t.completion_rate is None else f"{t.completion_rate * 100:.1f}%"
    unchecked = f", {t.completed_unchecked} completed (unchecked)" if t.completed_unchecked else ""
    print(
        f"{rep.week} ({rep.tz}): {t.spawned} spawned, {t.completed} completed (verified), "
        f"{t.unverified} unverified{unchecked}, "
        f"{t.failed + t.timed_out + t.budget_exhausted} failed, {t.canceled} canceled, "
        f"{t.still_running} still running; completion {rate} (verified only); "
        f"cost ${rep.totals.cost_usd:.4f}"
        + (
            ""
            if rep.totals.cache_hit_rate is None
            else f" (incl. cache; hit rate {rep.totals.cache_hit_rate:.1%})"
        )
    )
    if rep.top_unverified_reasons:
        top = ", ".join(f"{u.path} ({u.count})" for u in rep.top_unverified_reasons)
        print(f"unverified, missing: {top}")
    for p in files:
        print(p)
    return 0


async def audit(
    settings: Settings,
    week: str | None,
    tz: str,
    *,
    as_json: bool = False,
    running_limit_hours: float = 24.0,
) -> int:
    """Reconcile visibility, the ledger and the span file for `week`."""
    from agentfleet.audit.run import run_audit, write_audit

    tz = _zone_name(tz)
    week = _week(week, tz)
    if running_limit_hours <= 0:
        raise CliError("--running-limit must be a positive number of hours")
    client = await temporal_client(settings)
    ledger = _ledger(settings)
    try:
        result = await run_audit(
            client,
            ledger,
            settings.home,
            week,
            tz,
            task_queue=settings.task_queue,
            running_limit=timedelta(hours=running_limit_hours),
        )
    finally:
        ledger.dispose()
    path = await asyncio.to_thread(write_audit, result, settings.home)
    if as_json:
        emit_json(result.model_dump(mode="json"))
    else:
        c = result.counts
        spans = "no span file" if c.telemetry_spans is None else f"{c.telemetry_spans} spans"
        print(
            f"{result.week} ({result.tz}): visibility {c.visibility_closed} closed + "
            f"{c.visibility_running} running; ledger {c.ledger_closed} closed + "
            f"{c.ledger_running} running"
            + (f" + {c.ledger_inline} inline" if c.ledger_inline else "")
            + f"; telemetry {spans}"
        )
        if result.clean:
            print("clean: the three records agree")
        for d in result.discrepancies:
            who = f" {d.workflow_id}" if d.workflow_id else ""
            run = f" (run {d.run_id})" if d.run_id else ""
            print(f"{d.kind}{who}{run}: {d.detail}")
        print(path)
    return 0 if result.clean else 1


async def schedule(
    settings: Settings,
    *,
    show: bool = True,
    set_time: str | None = None,
    tz: str | None = None,
    as_json: bool = False,
) -> int:
    """Show the weekly-report schedule, or move it (creating it if missing)."""
    from agentfleet.reporting.schedule import (
        SCHEDULE_ID,
        describe_schedule,
        ensure_schedule,
        parse_hhmm,
        update_schedule,
    )

    try:
        at = parse_hhmm(set_time) if set_time is not None else None
    except ValueError as err:
        raise CliError(str(err)) from None
    zone_name = _zone_name(tz) if tz is not None else None
    client = await temporal_client(settings)
    if at is not None or zone_name is not None:
        await ensure_schedule(client, settings.task_queue, tz=zone_name or "UTC")
        view = await update_schedule(client, at=at, tz=zone_name)
    else:
        found = await describe_schedule(client)
        if found is None:
            raise CliError(
                f"no schedule {SCHEDULE_ID!r} in namespace {settings.temporal_namespace!r}; "
                "`agentfleet dev` creates it, or `agentfleet schedule --set-time 00:30`"
            )
        view = found
    if as_json:
        emit_json(view.model_dump(mode="json"))
        return 0
    print(f"{view.schedule_id}: {view.day_of_week} at {view.time} {view.tz}", end="")
    print(" (paused)" if view.paused else "")
    print(f"  reports the ISO week that just ended, in {view.report_tz}")
    print(f"  task queue: {view.task_queue}")
    for ts in view.next_runs[:3]:
        print(f"  next: {ts.isoformat()}")
    return 0
