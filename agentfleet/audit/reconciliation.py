"""`reconcile`: name every disagreement among visibility, the ledger and telemetry.

Split out of the audit so the one long pass over the three sources, and the
status rules it applies, stand apart from the parsing, queries and time
checks it relies on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from agentfleet.audit.completion import unverified_completion
from agentfleet.audit.scope import (
    AuditWindow,
    Key,
    _ledger_in_scope,
    _vis_in_scope,
    inline_id,
    is_inline,
)
from agentfleet.audit.sources import SPAN_PREFIX
from agentfleet.audit.timestamps import _check_times, _fmt_span, _say_ledger, _say_vis, _ts
from agentfleet.contracts.reports import (
    Audit,
    Discrepancy,
    DiscrepancyKind,
    LedgerEntry,
    SourceCounts,
    SpanRecord,
    VisibilityRecord,
)
from agentfleet.contracts.status import TERMINAL

DEFAULT_TOLERANCE = timedelta(minutes=2)
DEFAULT_RUNNING_LIMIT = timedelta(hours=24)

# A run an agent continued-as-new from: closed in both records, not a task outcome.
CONTINUED = frozenset({"continued_as_new"})
# Which ledger statuses each visibility status allows. An agent that ends on
# its own terms (a failed step, a cancel request, an exhausted budget) still
# *returns*, so a completed workflow may carry any terminal ledger status; a
# workflow that failed, was canceled or timed out can only be recorded so.
_COMPATIBLE: dict[str, frozenset[str]] = {
    "running": frozenset({"running"}),
    "completed": TERMINAL,
    "continued_as_new": TERMINAL | CONTINUED,
    "failed": frozenset({"failed", "budget_exhausted", "timed_out"}),
    "canceled": frozenset({"canceled"}),
    "terminated": frozenset({"canceled", "failed"}),
    "timed_out": frozenset({"timed_out", "failed"}),
}


# --- reconciliation --------------------------------------------------------------


def reconcile(
    window: AuditWindow,
    visibility: Sequence[VisibilityRecord],
    ledger: Sequence[LedgerEntry],
    spans: Sequence[SpanRecord] | None,
    *,
    now: datetime,
    retention: timedelta | None = None,
    running_limit: timedelta = DEFAULT_RUNNING_LIMIT,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    spans_file: str | None = None,
) -> Audit:
    """Name every disagreement among the three sources for `window`.

    `visibility` and `ledger` may hold records outside the window (fetched by
    key, see `lookups_needed`); `spans` is None when there is no span file.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    covers_from = None if retention is None else now - retention
    vis: dict[Key, VisibilityRecord] = {(v.workflow_id, v.run_id): v for v in visibility}
    vis_ids = {v.workflow_id for v in visibility}
    led: dict[Key, list[LedgerEntry]] = defaultdict(list)
    for e in ledger:
        led[(e.workflow_id, e.run_id)].append(e)
    led_ids = {e.workflow_id for e in ledger}
    span_by_id: dict[str, list[SpanRecord]] = defaultdict(list)
    for s in spans or ():
        span_by_id[s.agent_id].append(s)

    keys = {k for k, v in vis.items() if _vis_in_scope(v, window)}
    keys |= {k for k, es in led.items() if any(_ledger_in_scope(e, window) for e in es)}

    found: list[Discrepancy] = []
    unverifiable = 0
    closed_unchecked = 0

    def add(
        kind: DiscrepancyKind, key: tuple[str, str | None], detail: str, **say: str | None
    ) -> None:
        wid, rid = key
        found.append(Discrepancy(kind=kind, workflow_id=wid, run_id=rid, detail=detail, **say))

    for key in sorted(keys):
        v = vis.get(key)
        entries = led.get(key, [])
        terminal = [e for e in entries if e.status != "running"]
        if len(terminal) > 1:
            add(
                "duplicate_in_ledger",
                key,
                f"{len(terminal)} terminal rows for one run: "
                + "; ".join(_say_ledger(e) for e in terminal),
            )
        entry = terminal[0] if terminal else (entries[0] if entries else None)
        closed = (v is not None and v.status != "running") or (
            v is None and entry is not None and entry.status != "running"
        )

        if entry is None:
            assert v is not None
            add(
                "missing_in_ledger",
                key,
                f"visibility has this {v.workflow_type} run ({v.status}) but the ledger has "
                "no row for it",
                visibility=_say_vis(v),
            )
        elif v is None:
            if entry.timestamp_problems:
                add(
                    "naive_or_shifted_timestamp",
                    key,
                    "; ".join(entry.timestamp_problems),
                    ledger=_say_ledger(entry),
                )
            age = None if entry.started_at is None else now - entry.started_at
            if entry.status == "running" and age is not None and age > running_limit:
                add(
                    "running_past_timeout",
                    key,
                    f"the ledger shows it running for {_fmt_span(age)[1:]} (limit "
                    f"{_fmt_span(running_limit)[1:]}), and visibility has no record of the run",
                    ledger=_say_ledger(entry),
                )
            elif (
                covers_from is not None
                and entry.closed_at is not None
                and entry.closed_at < covers_from
            ):
                # Visibility has forgotten it (retention), not necessarily
                # never known it: counted under the retention finding.
                unverifiable += 1
            elif not is_inline(entry):
                # Inline work runs inside its master's workflow: visibility
                # never lists it, and that is not a discrepancy.
                add(
                    "missing_in_visibility",
                    key,
                    "the ledger has this run but Temporal visibility does not",
                    ledger=_say_ledger(entry),
                )
        else:
            allowed = _COMPATIBLE.get(v.status, TERMINAL)
            if entry.status not in allowed:
                if entry.status == "running":
                    detail = (
                        f"visibility says {v.status} (closed {_ts(v.close_time)}) but the "
                        "ledger still shows it running: its close was never recorded"
                    )
                elif v.status == "running":
                    detail = (
                        f"the ledger recorded it {entry.status} at {_ts(entry.closed_at)} but "
                        "visibility shows it still running"
                    )
                else:
                    detail = f"visibility says {v.status} but the ledger says {entry.status}"
                add(
                    "status_mismatch",
                    key,
                    detail,
                    ledger=_say_ledger(entry),
                    visibility=_say_vis(v),
                )
            found.extend(_check_times(key, entry, v, window, tolerance))

        if entry is not None and entry.status != "running":
            claim = unverified_completion(key, entry)
            if claim is not None:
                found.append(claim)

        start = v.start_time if v is not None else (entry.started_at if entry else None)
        if v is not None and v.status == "running" and start is not None:
            age = now - start
            if age > running_limit:
                add(
                    "running_past_timeout",
                    key,
                    f"running for {_fmt_span(age)[1:]}, past the limit of "
                    f"{_fmt_span(running_limit)[1:]}",
                    visibility=_say_vis(v),
                    ledger=None if entry is None else _say_ledger(entry),
                )

        # Whether inline work gets an agent span of its own is the master's
        # choice; its ledger row is the record, so only a span that exists
        # is compared.
        inline = entry is not None and is_inline(entry)
        if closed and spans is None:
            closed_unchecked += 0 if inline else 1
        elif closed and spans is not None:
            wid = key[0]
            seen = span_by_id.get(wid, [])
            if not seen and not inline:
                add(
                    "missing_in_telemetry",
                    key,
                    f"no {SPAN_PREFIX} span with gen_ai.agent.id {wid!r} in the span file",
                    ledger=None if entry is None else _say_ledger(entry),
                    visibility=None if v is None else _say_vis(v),
                )
            elif seen and entry is not None and entry.status != "running":
                told = {s.status for s in seen if s.status in TERMINAL}
                if told and entry.status not in told:
                    add(
                        "status_mismatch",
                        key,
                        f"telemetry says {'/'.join(sorted(told))} but the ledger says "
                        f"{entry.status}",
                        ledger=_say_ledger(entry),
                        telemetry=", ".join(sorted(told)),
                    )

    scoped_ids = {k[0] for k in keys}
    for wid in sorted(span_by_id):
        in_window = [s for s in span_by_id[wid] if s.end in window]
        if not in_window or wid in scoped_ids:
            # A run already compared above has said all there is to say.
            continue
        last = max(s.end for s in in_window if s.end is not None)
        said = f"{len(in_window)} span(s), last ending {_ts(last)}"
        if wid not in vis_ids and not inline_id(wid):
            add(
                "missing_in_visibility",
                (wid, None),
                "telemetry has an agent span for this workflow id but visibility has no run",
                telemetry=said,
            )
        if wid not in led_ids:
            add(
                "missing_in_ledger",
                (wid, None),
                "telemetry has an agent span for this workflow id but the ledger has no row",
                telemetry=said,
            )

    if spans is None and closed_unchecked:
        found.append(
            Discrepancy(
                kind="missing_in_telemetry",
                detail=f"no span file{f' at {spans_file}' if spans_file else ''}: "
                f"{closed_unchecked} closed run(s) in the window cannot be checked against "
                "telemetry",
            )
        )

    if covers_from is not None and window.start < covers_from:
        gap_end = min(window.end, covers_from)
        days = retention.total_seconds() / 86400 if retention is not None else 0
        found.insert(
            0,
            Discrepancy(
                kind="visibility_retention_gap",
                detail=f"namespace retention is {days:g} day(s), so visibility no longer holds "
                f"runs closed before {_ts(covers_from)}: the window from {_ts(window.start)} "
                f"to {_ts(gap_end)} cannot be checked against visibility"
                + (
                    f" ({unverifiable} ledger row(s) closed there were not verified)"
                    if unverifiable
                    else ""
                ),
            ),
        )

    vis_in = [v for v in visibility if _vis_in_scope(v, window)]
    led_in = [e for e in ledger if _ledger_in_scope(e, window) and not is_inline(e)]
    inline_in = [e for e in ledger if _ledger_in_scope(e, window) and is_inline(e)]
    return Audit(
        week=window.week,
        tz=window.tz,
        window_start=window.start,
        window_end=window.end,
        checked_at=now,
        retention_days=None if retention is None else retention.total_seconds() / 86400,
        visibility_covers_from=covers_from,
        counts=SourceCounts(
            visibility_closed=sum(1 for v in vis_in if v.status != "running"),
            visibility_running=sum(1 for v in vis_in if v.status == "running"),
            ledger_closed=sum(1 for e in led_in if e.status != "running"),
            ledger_running=sum(1 for e in led_in if e.status == "running"),
            ledger_inline=len(inline_in),
            telemetry_spans=None if spans is None else sum(1 for s in spans if s.end in window),
        ),
        discrepancies=found,
    )
