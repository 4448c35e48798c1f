"""Comparing a run's ledger times with visibility's, and how findings word them.

Split out of the audit because timestamps get the closest look (a zone
offset away is a local wall time stored as UTC); the wording helpers live
here too since `reconcile` describes records the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agentfleet.audit.scope import AuditWindow, Key
from agentfleet.contracts.reports import Discrepancy, LedgerEntry, VisibilityRecord

# Every UTC offset in use is a multiple of 15 minutes, within +-14 h; a
# little beyond, in case the writer's clock was also off.
_OFFSET_STEP = timedelta(minutes=15)
_MAX_OFFSET = timedelta(hours=26)


def zone_offset_like(diff: timedelta, tolerance: timedelta) -> timedelta | None:
    """The zone offset that `diff` looks like, if any.

    That is the non-zero multiple of 15 minutes (up to 26 h) that `diff` is
    within `tolerance` of: the signature of a local wall time stored as UTC.
    """
    steps = round(diff / _OFFSET_STEP)
    if steps == 0:
        return None
    offset = steps * _OFFSET_STEP
    if abs(offset) > _MAX_OFFSET or abs(diff - offset) > tolerance:
        return None
    return offset


def _fmt_offset(offset: timedelta) -> str:
    sign = "+" if offset >= timedelta(0) else "-"
    minutes = int(abs(offset).total_seconds() // 60)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _fmt_span(d: timedelta) -> str:
    secs = int(abs(d).total_seconds())
    sign = "-" if d < timedelta(0) else "+"
    return f"{sign}{secs // 3600}h{secs % 3600 // 60:02d}m{secs % 60:02d}s"


def _ts(ts: datetime | None) -> str:
    return "none" if ts is None else ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _say_ledger(entry: LedgerEntry) -> str:
    return f"{entry.status}, started {_ts(entry.started_at)}, closed {_ts(entry.closed_at)}"


def _say_vis(v: VisibilityRecord) -> str:
    return f"{v.status}, started {_ts(v.start_time)}, closed {_ts(v.close_time)}"


def _zone_shift(field: str, diff: timedelta, tolerance: timedelta, theirs: str) -> str | None:
    """Why `field` looks like a local wall time stored as UTC, if `diff` is a zone offset."""
    offset = zone_offset_like(diff, tolerance)
    if offset is None:
        return None
    return (
        f"{field} is {_fmt_offset(offset)} off visibility's {theirs}: "
        "a local wall time stored as UTC"
    )


def _start_problem(entry: LedgerEntry, v: VisibilityRecord, tolerance: timedelta) -> str | None:
    if entry.started_at is None:
        return None
    diff = entry.started_at - v.start_time
    shifted = _zone_shift("started_at", diff, tolerance, "start time")
    if shifted is None and diff < -tolerance:
        # A queued first task may start late, never early.
        return f"started_at is {_fmt_span(diff)} before visibility's start time"
    return shifted


def _close_problem(closed_at: datetime, close_time: datetime, tolerance: timedelta) -> str | None:
    diff = closed_at - close_time
    shifted = _zone_shift("closed_at", diff, tolerance, "close time")
    if shifted is None and diff > tolerance:
        # The ledger's close is written before the workflow returns, so
        # it can lag visibility's (a slow or retried write), never lead.
        return f"closed_at is {_fmt_span(diff)} after visibility's close time"
    return shifted


def _outside_window(
    key: Key, entry: LedgerEntry, v: VisibilityRecord, window: AuditWindow
) -> Discrepancy | None:
    """A close that the ledger puts in another week than visibility does."""
    ledger_in, vis_in = entry.closed_at in window, v.close_time in window
    if ledger_in == vis_in:
        return None
    where = (
        "inside the window, but visibility closed it outside"
        if ledger_in
        else "outside the window, but visibility closed it inside"
    )
    return Discrepancy(
        kind="outside_window",
        workflow_id=key[0],
        run_id=key[1],
        detail=f"the ledger's closed_at {_ts(entry.closed_at)} puts it {where} "
        f"(at {_ts(v.close_time)}); the report counts it in the wrong week",
        ledger=_say_ledger(entry),
        visibility=_say_vis(v),
    )


def _check_times(
    key: Key,
    entry: LedgerEntry,
    v: VisibilityRecord,
    window: AuditWindow,
    tolerance: timedelta,
) -> list[Discrepancy]:
    """The findings about a run's ledger times, judged against visibility's."""
    found: list[Discrepancy] = []
    reasons: list[str] = list(entry.timestamp_problems)
    started = _start_problem(entry, v, tolerance)
    if started is not None:
        reasons.append(started)
    if entry.status != "running" and entry.closed_at is not None and v.close_time is not None:
        closed = _close_problem(entry.closed_at, v.close_time, tolerance)
        if closed is not None:
            reasons.append(closed)
        elsewhere = _outside_window(key, entry, v, window)
        if elsewhere is not None:
            found.append(elsewhere)
    if reasons:
        found.append(
            Discrepancy(
                kind="naive_or_shifted_timestamp",
                workflow_id=key[0],
                run_id=key[1],
                detail="; ".join(reasons),
                ledger=_say_ledger(entry),
                visibility=_say_vis(v),
            )
        )
    return found
