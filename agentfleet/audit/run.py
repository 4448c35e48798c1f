"""The audit's I/O: Temporal visibility, the ledger as stored, the span file.

`run_audit` gathers the three sources for a window and hands them to the pure
`agentfleet.audit.reconcile`. It is client code with no activity context: the CLI
(`agentfleet audit`) calls it directly, the weekly report workflow through the
activity in `activities/audit.py`.

Namespace retention lives here too (`ensure_retention`, `namespace_retention`):
visibility forgets a closed run `retention` after it closed, so the audit must
know how far back visibility still reaches before it calls anything missing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from google.protobuf.duration_pb2 import Duration
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, UpdateNamespaceRequest
from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError, RPCStatusCode

from agentfleet.atomic import atomic_write_bytes
from agentfleet.audit.queries import closed_query, running_query
from agentfleet.audit.reconciliation import DEFAULT_RUNNING_LIMIT, reconcile
from agentfleet.audit.scope import AuditWindow, Lookups, lookups_needed, stale_running
from agentfleet.audit.sources import (
    parse_stored_check,
    parse_stored_timestamp,
    spans_from_lines,
    spans_path,
)
from agentfleet.contracts.reports import Audit, LedgerEntry, SpanRecord, VisibilityRecord
from agentfleet.ledger.store import Ledger, tasks
from agentfleet.reporting.weekly import report_stem
from agentfleet.reporting.weeks import iso_week_bounds

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "audit_path",
    "ensure_retention",
    "namespace_retention",
    "read_ledger",
    "read_ledger_ids",
    "read_spans",
    "read_visibility",
    "run_audit",
    "write_audit",
]

DEFAULT_RETENTION_DAYS = 8
# Candidate rows are selected with wide bounds and judged on parsed values:
# a rogue value (another text format, a shifted zone) must still be seen.
_SQL_MARGIN = timedelta(days=2)


# --- namespace retention ----------------------------------------------------------


async def namespace_retention(client: Client, namespace: str | None = None) -> timedelta | None:
    """How long visibility keeps a closed run (None: the server sets no limit)."""
    resp = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace or client.namespace)
    )
    if not resp.config.HasField("workflow_execution_retention_ttl"):
        return None
    return resp.config.workflow_execution_retention_ttl.ToTimedelta()


async def ensure_retention(
    client: Client, namespace: str | None = None, days: int = DEFAULT_RETENTION_DAYS
) -> timedelta:
    """Raise the namespace's retention to at least `days`, never lower it.

    Eight days by default: the weekly audit runs early on Monday over the
    week that just ended, whose first runs closed a week earlier, so seven
    days plus slack keeps the whole week in visibility. A longer retention an
    operator chose is left alone. Returns the retention now in force.
    """
    ns = namespace or client.namespace
    want = timedelta(days=days)
    have = await namespace_retention(client, ns)
    if have is not None and have >= want:
        return have
    ttl = Duration()
    ttl.FromTimedelta(want)
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(
            namespace=ns, config=NamespaceConfig(workflow_execution_retention_ttl=ttl)
        )
    )
    return want


# --- visibility ---------------------------------------------------------------------


def _record(w: WorkflowExecution) -> VisibilityRecord:
    return VisibilityRecord(
        workflow_id=w.id,
        run_id=w.run_id,
        workflow_type=w.workflow_type,
        status=w.status.name.lower() if w.status is not None else "unknown",
        start_time=w.start_time,
        close_time=w.close_time,
    )


async def read_visibility(
    client: Client, start: datetime, end: datetime, task_queue: str | None
) -> list[VisibilityRecord]:
    """Agent runs closed in `[start, end)` plus those still running that started before `end`.

    The SDK iterator follows page tokens itself.
    """
    out: dict[tuple[str, str], VisibilityRecord] = {}
    for query in (closed_query(start, end, task_queue), running_query(end, task_queue)):
        async for w in client.list_workflows(query, page_size=500):
            out[(w.id, w.run_id)] = _record(w)
    return list(out.values())


async def _describe(client: Client, wid: str, run_id: str | None) -> VisibilityRecord | None:
    try:
        desc = await client.get_workflow_handle(wid, run_id=run_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return _record(desc)


# --- ledger as stored -----------------------------------------------------------------


def _entries(ledger: Ledger, where: sa.ColumnElement[bool]) -> list[LedgerEntry]:
    t = tasks
    dialect = ledger.engine.dialect.name
    # type_coerce drops the UTCDateTime result processing, so we see the
    # stored value itself (SQLite text, PostgreSQL instant), not the ledger's
    # forgiving reading of it.
    stmt = sa.select(
        t.c.workflow_id,
        t.c.run_id,
        t.c.role,
        t.c.root_id,
        t.c.parent_id,
        t.c.status,
        sa.type_coerce(t.c.started_at, sa.String()).label("started_at"),
        sa.type_coerce(t.c.closed_at, sa.String()).label("closed_at"),
        # As stored, too: a value the ledger would never write must not read
        # as a passing check (SQLite would turn any non-zero text into True).
        sa.type_coerce(t.c.verified, sa.String()).label("verified"),
        sa.type_coerce(t.c.verify_missing, sa.String()).label("verify_missing"),
    ).where(where)
    out: list[LedgerEntry] = []
    with ledger.engine.connect() as conn:
        for r in conn.execute(stmt).mappings():
            started, started_raw, p1 = parse_stored_timestamp(r["started_at"], dialect)
            closed, closed_raw, p2 = parse_stored_timestamp(r["closed_at"], dialect)
            problems = [f"started_at {p1}"] if p1 else []
            problems += [f"closed_at {p2}"] if p2 else []
            verified, missing, check_problems = parse_stored_check(
                r["verified"], r["verify_missing"]
            )
            out.append(
                LedgerEntry(
                    workflow_id=r["workflow_id"],
                    run_id=r["run_id"],
                    role=r["role"],
                    root_id=r["root_id"],
                    parent_id=r["parent_id"],
                    status=str(r["status"]),
                    started_at=started,
                    closed_at=closed,
                    started_raw=started_raw,
                    closed_raw=closed_raw,
                    timestamp_problems=problems,
                    verified=verified,
                    verify_missing=missing,
                    verify_problems=check_problems,
                )
            )
    return out


def read_ledger(ledger: Ledger, start: datetime, end: datetime) -> list[LedgerEntry]:
    """The ledger rows the window may judge: wide SQL bounds, judged later on parsed values."""
    lo, hi = start - _SQL_MARGIN, end + _SQL_MARGIN
    t = tasks
    return _entries(
        ledger,
        sa.or_(
            sa.and_(t.c.closed_at >= lo, t.c.closed_at < hi),
            sa.and_(t.c.started_at >= lo, t.c.started_at < hi),
            t.c.status == "running",
        ),
    )


def read_ledger_ids(ledger: Ledger, workflow_ids: Iterable[str]) -> list[LedgerEntry]:
    """Rows for runs another source named, in batches the database accepts in one IN list."""
    ids = sorted(set(workflow_ids))
    out: list[LedgerEntry] = []
    for i in range(0, len(ids), 500):
        out += _entries(ledger, tasks.c.workflow_id.in_(ids[i : i + 500]))
    return out


# --- telemetry -------------------------------------------------------------------------


def read_spans(path: Path) -> list[SpanRecord] | None:
    """The span file's records, or None when there is no span file.

    None (telemetry exported elsewhere, or off) lets the audit say so instead of
    calling every run missing.
    """
    if not path.exists():
        return None
    with path.open(encoding="utf-8", errors="replace") as f:
        spans, _bad = spans_from_lines(f)
    return spans


# --- the audit ----------------------------------------------------------------------------


def audit_path(home: Path, week: str, tz: str) -> Path:
    """Where a week's audit lands, next to that week's report files."""
    return Path(home) / "reports" / f"{report_stem(week, tz)}.audit.json"


async def run_audit(
    client: Client,
    ledger: Ledger,
    home: Path,
    week: str,
    tz: str = "UTC",
    *,
    task_queue: str | None = None,
    running_limit: timedelta = DEFAULT_RUNNING_LIMIT,
    now: datetime | None = None,
) -> Audit:
    """Gather the three sources for ISO week `week` in `tz` and reconcile.

    `task_queue` scopes visibility to one fleet's queue (children inherit
    it), so another application's workflows in the namespace are not taken
    for ours.
    """
    tz = "UTC" if tz.upper() == "UTC" else tz
    start, end = iso_week_bounds(week, tz)
    window = AuditWindow(week=week, tz=tz, start=start, end=end)
    retention = await namespace_retention(client)
    visibility = await read_visibility(client, start, end, task_queue)
    entries = await asyncio.to_thread(read_ledger, ledger, start, end)
    span_file = spans_path(home)
    spans = await asyncio.to_thread(read_spans, span_file)

    need = lookups_needed(window, visibility, entries, spans)
    await _look_up_named_runs(client, need, visibility)
    if need.ledger_ids:
        have = {(e.workflow_id, e.run_id) for e in entries}
        more = await asyncio.to_thread(read_ledger_ids, ledger, need.ledger_ids)
        entries += [e for e in more if (e.workflow_id, e.run_id) not in have]
    visibility = await _refresh_stale_running(client, visibility, entries)
    return reconcile(
        window,
        visibility,
        entries,
        spans,
        now=now or datetime.now(UTC),
        retention=retention,
        running_limit=running_limit,
        spans_file=str(span_file),
    )


async def _look_up_named_runs(
    client: Client, need: Lookups, visibility: list[VisibilityRecord]
) -> None:
    """Add the runs the ledger or the spans name that the window's listing missed.

    By run first, then by workflow id alone (its latest run); a run already
    listed is not added twice.
    """
    known = {(v.workflow_id, v.run_id) for v in visibility}
    wanted: list[tuple[str, str | None]] = [*sorted(need.visibility_runs)]
    wanted += [(wid, None) for wid in sorted(need.visibility_ids)]
    for wid, rid in wanted:
        found = await _describe(client, wid, rid)
        if found is not None and (found.workflow_id, found.run_id) not in known:
            known.add((found.workflow_id, found.run_id))
            visibility.append(found)


async def _refresh_stale_running(
    client: Client, visibility: list[VisibilityRecord], entries: list[LedgerEntry]
) -> list[VisibilityRecord]:
    """Visibility's "running" rows the ledger already closed, described again.

    The listing is eventually consistent and may lag a close by a moment;
    describe is not, so these are asked again before being called mismatched.
    """
    refreshed: dict[tuple[str, str], VisibilityRecord] = {}
    for wid, rid in sorted(stale_running(visibility, entries)):
        found = await _describe(client, wid, rid)
        if found is not None:
            refreshed[(wid, rid)] = found
    return [refreshed.get((v.workflow_id, v.run_id), v) for v in visibility]


def write_audit(audit: Audit, home: Path) -> Path:
    """Write the audit as JSON, atomically, and say where."""
    path = audit_path(home, audit.week, audit.tz)
    atomic_write_bytes(
        path, (audit.model_dump_json(indent=2) + "\n").encode(), fsync=False, make_parent=True
    )
    return path
