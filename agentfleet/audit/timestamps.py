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
    """The non-zero multiple of 15 minutes (up to 26 h) that `diff` is within
    `tolerance` of, if any: the signature of a local wall time stored as UTC."""
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


def _check_times(
    key: Key,
    entry: LedgerEntry,
    v: VisibilityRecord,
    window: AuditWindow,
    tolerance: timedelta,
) -> list[Discrepancy]:
    found: list[Discrepancy] = []
    wid, rid = key
    reasons: list[str] = list(entry.timestamp_problems)
    if entry.started_at is not None:
        diff = entry.started_at - v.start_time
        offset = zone_offset_like(diff, tolerance)
        if offset is not None:
            reasons.append(
                f"started_at is {_fmt_offset(offset)} off visibility's start time: "
                "a local wall time stored as UTC"
            )
        elif diff < -tolerance:
            # A queued first task may start late, never early.
            reasons.append(f"started_at is {_fmt_span(diff)} before visibility's start time")
    if entry.status != "running" and entry.closed_at is not None and v.close_time is not None:
        diff = entry.closed_at - v.close_time
        offset = zone_offset_like(diff, tolerance)
        if offset is not None:
            reasons.append(
                f"closed_at is {_fmt_offset(offset)} off visibility's close time: "
                "a local wall time stored as UTC"
            )
        elif diff > tolerance:
            # The ledger's close is written before the workflow returns, so
            # it can lag visibility's (a slow or retried write), never lead.
            reasons.append(f"closed_at is {_fmt_span(diff)} after visibility's close time")
        ledger_in, vis_in = entry.closed_at in window, v.close_time in window
        if ledger_in != vis_in:
            where = (
                "inside the window, but visibility closed it outside"
                if ledger_in
                else "outside the window, but visibility closed it inside"
            )
            found.append(
                Discrepancy(
                    kind="outside_window",
                    workflow_id=wid,
                    run_id=rid,
                    detail=f"the ledger's closed_at {_ts(entry.closed_at)} puts it {where} "
                    f"(at {_ts(v.close_time)}); the report counts it in the wrong week",
                    ledger=_say_ledger(entry),
                    visibility=_say_vis(v),
                )
            )
    if reasons:
        found.append(
            Discrepancy(
                kind="naive_or_shifted_timestamp",
                workflow_id=wid,
                run_id=rid,
                detail="; ".join(reasons),
                ledger=_say_ledger(entry),
                visibility=_say_vis(v),
            )
        )
    return found
