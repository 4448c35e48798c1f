"""The weekly audit: reconcile three independent records of the same runs.

* Temporal visibility: what really ran, and when it closed;
* the task ledger: what the report counts;
* the telemetry span file: what the traces show.

Each disagreement is named with a `DiscrepancyKind`. The system this replaces
stamped completions with naive local time, so timestamps get the closest
look: a ledger instant a whole zone offset away from visibility's is a local
wall time stored as UTC, and a stored value in a shape the ledger never
writes was put there by something else.

Everything here is pure: `activities/audit.py` gathers the inputs (Temporal,
SQL, the span file) and hands them to `reconcile`.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agentfleet.report_models import (
    Audit,
    Discrepancy,
    DiscrepancyKind,
    LedgerEntry,
    SourceCounts,
    SpanRecord,
    VisibilityRecord,
)
from agentfleet.telemetry_names import AF_STATUS, GEN_AI_AGENT_ID, GEN_AI_CONVERSATION_ID

__all__ = [
    "AGENT_WORKFLOW_TYPES",
    "SPAN_PREFIX",
    "TRACES_FILE",
    "AuditWindow",
    "Lookups",
    "closed_query",
    "lookups_needed",
    "parse_stored_timestamp",
    "reconcile",
    "running_query",
    "spans_from_lines",
    "spans_path",
    "stale_running",
    "zone_offset_like",
]

AGENT_WORKFLOW_TYPES = ("MasterAgentWorkflow", "SubAgentWorkflow")
SPAN_PREFIX = "invoke_agent"
TRACES_FILE = Path("traces") / "spans.jsonl"

DEFAULT_TOLERANCE = timedelta(minutes=2)
DEFAULT_RUNNING_LIMIT = timedelta(hours=24)

TERMINAL = frozenset(
    {"completed", "partial", "failed", "canceled", "budget_exhausted", "timed_out"}
)
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

# The only text the ledger itself stores in SQLite (see ledger.UTCDateTime):
# UTC wall time with exactly six fractional digits.
_SQLITE_CANONICAL = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")
# Every UTC offset in use is a multiple of 15 minutes, within +-14 h; a
# little beyond, in case the writer's clock was also off.
_OFFSET_STEP = timedelta(minutes=15)
_MAX_OFFSET = timedelta(hours=26)


@dataclass(frozen=True)
class AuditWindow:
    week: str
    tz: str
    start: datetime
    end: datetime

    def __contains__(self, ts: object) -> bool:
        return isinstance(ts, datetime) and self.start <= ts < self.end


def spans_path(home: Path) -> Path:
    return Path(home) / TRACES_FILE


# --- visibility queries ---------------------------------------------------------


def _rfc3339(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts.isoformat()} in a visibility query")
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _literal(value: str) -> str:
    # Task queue names come from configuration; refuse rather than escape,
    # since the visibility grammar's escaping differs across stores.
    if "'" in value or "\\" in value or "\n" in value:
        raise ValueError(f"cannot use {value!r} in a visibility query")
    return f"'{value}'"


def _types_clause(task_queue: str | None) -> str:
    types = ", ".join(_literal(t) for t in AGENT_WORKFLOW_TYPES)
    clause = f"WorkflowType IN ({types})"
    if task_queue:
        clause += f" AND TaskQueue = {_literal(task_queue)}"
    return clause


def closed_query(start: datetime, end: datetime, task_queue: str | None = None) -> str:
    """Agent runs that closed in `[start, end)`."""
    return (
        f"{_types_clause(task_queue)} AND CloseTime >= {_literal(_rfc3339(start))}"
        f" AND CloseTime < {_literal(_rfc3339(end))}"
    )


def running_query(end: datetime, task_queue: str | None = None) -> str:
    """Agent runs still running that started before `end`: the ones started
    in the window, and older ones that may be stuck."""
    return (
        f"{_types_clause(task_queue)} AND ExecutionStatus = 'Running'"
        f" AND StartTime < {_literal(_rfc3339(end))}"
    )


# --- stored values --------------------------------------------------------------


def parse_stored_timestamp(
    value: object, dialect: str
) -> tuple[datetime | None, str | None, str | None]:
    """(instant as the ledger reads it, raw text, problem or None) for a raw
    column value. The instant follows the ledger's own reading (naive means
    UTC), so it is the value the report really used."""
    if value is None:
        return None, None, None
    if isinstance(value, datetime):
        raw = value.isoformat()
        if value.tzinfo is None or value.utcoffset() is None:
            return (
                value.replace(tzinfo=UTC),
                raw,
                f"stored without a zone ({raw}) in a column that should hold instants",
            )
        return value.astimezone(UTC), raw, None
    if not isinstance(value, str):
        return None, repr(value), f"stored as {type(value).__name__} {value!r}, not a timestamp"
    if dialect == "sqlite" and _SQLITE_CANONICAL.match(value):
        return datetime.fromisoformat(value).replace(tzinfo=UTC), value, None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None, value, f"stored as {value!r}, which is not a timestamp"
    if parsed.tzinfo is not None and parsed.utcoffset() is not None:
        return (
            parsed.astimezone(UTC),
            value,
            f"stored as {value!r}: with a UTC offset, not in the ledger's UTC format, "
            "so something other than the ledger wrote it",
        )
    return (
        parsed.replace(tzinfo=UTC),
        value,
        f"stored as {value!r}: not in the ledger's UTC format, so something other than "
        "the ledger wrote it (a naive, probably local, time)",
    )


def _value(v: dict[str, Any]) -> Any:
    for key in ("stringValue", "string_value"):
        if key in v:
            return v[key]
    for key in ("intValue", "int_value"):
        if key in v:
            # protobuf JSON writes int64 as a string.
            return int(v[key])
    for key in ("boolValue", "bool_value", "doubleValue", "double_value"):
        if key in v:
            return v[key]
    return None


def _get(d: dict[str, Any], *names: str) -> Any:
    for n in names:
        if n in d:
            return d[n]
    return None


def _nanos(v: object) -> datetime | None:
    try:
        ns = int(str(v))
    except (TypeError, ValueError):
        return None
    if ns <= 0:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


def spans_from_lines(lines: Iterable[str]) -> tuple[list[SpanRecord], int]:
    """`invoke_agent` spans from lines of OTLP `ExportTraceServiceRequest`
    protobuf-JSON (camelCase or proto field names). Returns (spans, number of
    lines that could not be read)."""
    spans: list[SpanRecord] = []
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            resource_spans = _get(doc, "resourceSpans", "resource_spans") or []
        except (json.JSONDecodeError, AttributeError, TypeError):
            bad += 1
            continue
        for rs in resource_spans:
            for ss in _get(rs, "scopeSpans", "scope_spans") or []:
                for sp in ss.get("spans") or []:
                    name = str(sp.get("name", ""))
                    if not name.startswith(SPAN_PREFIX):
                        continue
                    attrs = {
                        a.get("key"): _value(a.get("value") or {})
                        for a in sp.get("attributes") or []
                    }
                    agent = attrs.get(GEN_AI_AGENT_ID)
                    if not agent:
                        continue
                    status = attrs.get(AF_STATUS)
                    conv = attrs.get(GEN_AI_CONVERSATION_ID)
                    spans.append(
                        SpanRecord(
                            name=name,
                            agent_id=str(agent),
                            conversation_id=None if conv is None else str(conv),
                            trace_id=str(_get(sp, "traceId", "trace_id") or ""),
                            span_id=str(_get(sp, "spanId", "span_id") or ""),
                            start=_nanos(_get(sp, "startTimeUnixNano", "start_time_unix_nano")),
                            end=_nanos(_get(sp, "endTimeUnixNano", "end_time_unix_nano")),
                            status=None if status is None else str(status),
                        )
                    )
    return spans, bad


# --- reconciliation --------------------------------------------------------------


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


Key = tuple[str, str]


def _ledger_in_scope(entry: LedgerEntry, window: AuditWindow) -> bool:
    if entry.status == "running":
        return entry.started_at is not None and entry.started_at < window.end
    return entry.closed_at in window


def _vis_in_scope(v: VisibilityRecord, window: AuditWindow) -> bool:
    if v.status == "running":
        return v.start_time < window.end
    return v.close_time in window


@dataclass
class Lookups:
    """What to fetch by key before reconciling, so a run that one source
    places outside the window is compared rather than called missing."""

    visibility_runs: set[Key] = field(default_factory=set)
    visibility_ids: set[str] = field(default_factory=set)
    ledger_ids: set[str] = field(default_factory=set)


def lookups_needed(
    window: AuditWindow,
    visibility: Sequence[VisibilityRecord],
    ledger: Sequence[LedgerEntry],
    spans: Sequence[SpanRecord] | None,
) -> Lookups:
    vis_keys = {(v.workflow_id, v.run_id) for v in visibility}
    vis_ids = {v.workflow_id for v in visibility}
    led_keys = {(e.workflow_id, e.run_id) for e in ledger}
    led_ids = {e.workflow_id for e in ledger}
    out = Lookups()
    for e in ledger:
        if _ledger_in_scope(e, window) and (e.workflow_id, e.run_id) not in vis_keys:
            out.visibility_runs.add((e.workflow_id, e.run_id))
    for v in visibility:
        if _vis_in_scope(v, window) and (v.workflow_id, v.run_id) not in led_keys:
            out.ledger_ids.add(v.workflow_id)
    for s in spans or ():
        if s.end in window:
            if s.agent_id not in vis_ids:
                out.visibility_ids.add(s.agent_id)
            if s.agent_id not in led_ids:
                out.ledger_ids.add(s.agent_id)
    return out


def stale_running(
    visibility: Sequence[VisibilityRecord], ledger: Sequence[LedgerEntry]
) -> set[Key]:
    """Runs the visibility list shows running while the ledger has closed
    them. The list is eventually consistent and may lag a close by a moment;
    describe is not, so these are asked again before being called mismatched."""
    closed = {(e.workflow_id, e.run_id) for e in ledger if e.status != "running"}
    return {
        (v.workflow_id, v.run_id)
        for v in visibility
        if v.status == "running" and (v.workflow_id, v.run_id) in closed
    }


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
            else:
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

        if closed:
            if spans is None:
                closed_unchecked += 1
            else:
                wid = key[0]
                seen = span_by_id.get(wid, [])
                if not seen:
                    add(
                        "missing_in_telemetry",
                        key,
                        f"no {SPAN_PREFIX} span with gen_ai.agent.id {wid!r} in the span file",
                        ledger=None if entry is None else _say_ledger(entry),
                        visibility=None if v is None else _say_vis(v),
                    )
                elif entry is not None and entry.status != "running":
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
        if wid not in vis_ids:
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
    led_in = [e for e in ledger if _ledger_in_scope(e, window)]
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
            telemetry_spans=None if spans is None else sum(1 for s in spans if s.end in window),
        ),
        discrepancies=found,
    )
