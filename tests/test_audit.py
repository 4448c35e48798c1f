"""The audit: every discrepancy kind on hand-made records, and the black-hole
drill on a real dev server, where a rogue writer stores completions in naive
local time and the audit must name every one of them, and nothing else."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from temporalio.client import Client, WorkflowExecutionStatus

from agentfleet.audit import (
    AuditWindow,
    closed_query,
    lookups_needed,
    parse_stored_check,
    parse_stored_timestamp,
    reconcile,
    running_query,
    spans_from_lines,
    spans_path,
    zone_offset_like,
)
from agentfleet.audit.run import ensure_retention, run_audit
from agentfleet.cli import reports as commands_report
from agentfleet.config import Settings
from agentfleet.contracts.reports import (
    Audit,
    LedgerEntry,
    SpanRecord,
    VisibilityRecord,
    WeeklyReportInput,
)
from agentfleet.ledger.store import TABLE_NAME, Ledger
from agentfleet.reporting.weeks import iso_week_bounds, week_of
from tests.report_fakes import FakeTask, SpanLine, fleet_worker, otlp_line, run_tasks
from workflows.report import WeeklyReportWorkflow

PG_URL = os.environ.get(
    "AGENTFLEET_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
T0 = datetime(2026, 3, 2, tzinfo=UTC)
END = T0 + timedelta(days=7)
W = AuditWindow(week="2026-W10", tz="UTC", start=T0, end=END)
NOW = T0 + timedelta(days=3)
MIN = timedelta(minutes=1)


def vis(
    wid: str,
    status: str = "completed",
    start: datetime = T0 + timedelta(hours=1),
    close: datetime | None = T0 + timedelta(hours=2),
    run: str = "r1",
) -> VisibilityRecord:
    return VisibilityRecord(
        workflow_id=wid,
        run_id=run,
        workflow_type="MasterAgentWorkflow",
        status=status,
        start_time=start,
        close_time=None if status == "running" else close,
    )


def led(
    wid: str,
    status: str = "completed",
    started: datetime | None = T0 + timedelta(hours=1),
    closed: datetime | None = T0 + timedelta(hours=2),
    run: str = "r1",
    problems: tuple[str, ...] = (),
    verified: bool | str | None = "auto",
    role: str = "master",
    missing: list[str] | None = None,
) -> LedgerEntry:
    # A `completed` row carries a passing check unless the test says otherwise.
    if verified == "auto":
        verified = True if status == "completed" else None
    assert not isinstance(verified, str)
    return LedgerEntry(
        workflow_id=wid,
        run_id=run,
        role=role,
        root_id=wid,
        status=status,
        started_at=started,
        closed_at=None if status == "running" else closed,
        timestamp_problems=list(problems),
        verified=verified,
        verify_missing=missing,
    )


def span(
    wid: str, end: datetime = T0 + timedelta(hours=2), status: str | None = None
) -> SpanRecord:
    return SpanRecord(
        name="invoke_agent master", agent_id=wid, start=end - MIN, end=end, status=status
    )


def audit_of(
    v: list[VisibilityRecord],
    ledger: list[LedgerEntry],
    spans: list[SpanRecord] | None = None,
    **kw: object,
) -> Audit:
    if spans is None and "no_spans" not in kw:
        spans = [span(x.workflow_id, x.close_time or NOW) for x in v if x.status != "running"]
    kw.pop("no_spans", None)
    return reconcile(W, v, ledger, spans, now=kw.pop("now", NOW), **kw)  # type: ignore[arg-type]


def kinds(a: Audit) -> list[tuple[str, str | None]]:
    return [(d.kind, d.workflow_id) for d in a.discrepancies]


# --- every kind, on hand-made records --------------------------------------------------


def test_agreeing_sources_are_clean() -> None:
    v = [vis("a"), vis("b", "failed"), vis("c", "running", start=NOW - timedelta(hours=1))]
    ledger = [led("a"), led("b", "failed"), led("c", "running", started=NOW - timedelta(hours=1))]
    a = audit_of(v, ledger)
    assert a.clean and a.discrepancies == [] and a.by_kind == {}
    assert (a.counts.visibility_closed, a.counts.visibility_running) == (2, 1)
    assert (a.counts.ledger_closed, a.counts.ledger_running) == (2, 1)
    assert a.counts.telemetry_spans == 2
    # A late ledger close (a retried write) is not a timestamp bug.
    late = audit_of([vis("a")], [led("a", closed=T0 + timedelta(hours=2) - 37 * MIN)])
    assert late.clean


def test_missing_in_each_source() -> None:
    a = audit_of(
        [vis("only-vis"), vis("both")],
        [led("only-led"), led("both")],
        spans=[span("only-vis"), span("only-led"), span("both")],
    )
    assert kinds(a) == [
        ("missing_in_visibility", "only-led"),
        ("missing_in_ledger", "only-vis"),
    ]
    a = audit_of([vis("a"), vis("b")], [led("a"), led("b")], spans=[span("a")])
    assert kinds(a) == [("missing_in_telemetry", "b")]
    # No span file at all: one finding, not one per run.
    a = audit_of([vis("a"), vis("b")], [led("a"), led("b")], no_spans=True)
    assert kinds(a) == [("missing_in_telemetry", None)]
    assert "2 closed run(s)" in a.discrepancies[0].detail
    assert a.counts.telemetry_spans is None
    # A span in the window for a run neither other source has.
    a = audit_of([vis("a")], [led("a")], spans=[span("a"), span("ghost")])
    assert kinds(a) == [("missing_in_visibility", "ghost"), ("missing_in_ledger", "ghost")]


def test_duplicate_terminal_rows_for_one_run() -> None:
    a = audit_of([vis("a")], [led("a"), led("a", "failed")])
    assert ("duplicate_in_ledger", "a") in kinds(a)
    # Two runs of one workflow id are two runs, not duplicates.
    a = audit_of([vis("a"), vis("a", run="r2")], [led("a"), led("a", run="r2")])
    assert a.clean


def test_naive_local_close_outside_the_window() -> None:
    # Closed Sunday 20:00 UTC; stored as Kiritimati wall time (UTC+14), the
    # ledger says Monday 10:00, next week.
    close = END - timedelta(hours=4)
    a = audit_of(
        [vis("a", close=close)],
        [led("a", closed=close + timedelta(hours=14))],
    )
    assert kinds(a) == [("outside_window", "a"), ("naive_or_shifted_timestamp", "a")]
    assert "+14:00" in a.discrepancies[1].detail
    assert "outside the window" in a.discrepancies[0].detail
    # And the other way: closed last week, shifted into this one.
    a = audit_of(
        [vis("b", start=T0 - timedelta(hours=8), close=T0 - timedelta(hours=7))],
        [
            led(
                "b",
                started=T0 - timedelta(hours=8),
                closed=T0 - timedelta(hours=7) + timedelta(hours=8),
            )
        ],
    )
    assert kinds(a) == [("outside_window", "b"), ("naive_or_shifted_timestamp", "b")]


@pytest.mark.parametrize(
    "offset", [timedelta(hours=14), timedelta(hours=-8), timedelta(hours=5, minutes=30)]
)
def test_whole_zone_offsets_are_named(offset: timedelta) -> None:
    start, close = T0 + timedelta(days=2), T0 + timedelta(days=2, hours=1)
    a = audit_of(
        [vis("a", start=start, close=close)],
        [led("a", started=start + offset, closed=close + offset + timedelta(seconds=3))],
    )
    assert kinds(a) == [("naive_or_shifted_timestamp", "a")]
    detail = a.discrepancies[0].detail
    assert "started_at" in detail and "closed_at" in detail


def test_stored_naive_value_is_named_even_when_the_instant_matches() -> None:
    a = audit_of([vis("a")], [led("a", problems=("closed_at stored as '2026-03-02T02:00:00'",))])
    assert kinds(a) == [("naive_or_shifted_timestamp", "a")]


def test_ledger_close_after_visibility_close_is_impossible() -> None:
    a = audit_of([vis("a")], [led("a", closed=T0 + timedelta(hours=2) + 37 * MIN)])
    assert kinds(a) == [("naive_or_shifted_timestamp", "a")]
    assert "after visibility's close time" in a.discrepancies[0].detail


def test_running_past_the_limit() -> None:
    old = NOW - timedelta(hours=30)
    a = audit_of([vis("a", "running", start=old)], [led("a", "running", started=old)])
    assert kinds(a) == [("running_past_timeout", "a")]
    a = audit_of(
        [vis("a", "running", start=old)],
        [led("a", "running", started=old)],
        running_limit=timedelta(hours=48),
    )
    assert a.clean
    # The ledger says running and visibility knows nothing: stuck.
    a = audit_of([], [led("z", "running", started=old)])
    assert kinds(a) == [("running_past_timeout", "z")]


def test_status_mismatches() -> None:
    a = audit_of([vis("a", "failed")], [led("a", "completed")])
    assert kinds(a) == [("status_mismatch", "a")]
    # Closed, but the ledger's close never landed.
    a = audit_of([vis("a", "terminated")], [led("a", "running")])
    assert kinds(a) == [("status_mismatch", "a")]
    assert "never recorded" in a.discrepancies[0].detail
    a = audit_of(
        [vis("a", "running", start=NOW - MIN)],
        [led("a", "completed", started=NOW - MIN, closed=NOW)],
    )
    assert kinds(a) == [("status_mismatch", "a")]
    # A completed workflow may carry any terminal status the agent chose.
    for status in ("partial", "failed", "budget_exhausted", "canceled"):
        assert audit_of([vis("a")], [led("a", status)]).clean
    # Telemetry disagreeing with the ledger.
    a = audit_of([vis("a")], [led("a")], spans=[span("a", status="failed")])
    assert kinds(a) == [("status_mismatch", "a")]


def test_retention_gap_is_a_finding_not_missing_rows() -> None:
    # Retention 1 day, audited 3 days into the week: visibility has already
    # forgotten runs closed on Monday.
    forgotten = led("old", closed=T0 + timedelta(hours=5))
    recent = vis("new", start=NOW - timedelta(hours=2), close=NOW - timedelta(hours=1))
    a = audit_of(
        [recent],
        [forgotten, led("new", started=recent.start_time, closed=recent.close_time)],
        spans=[span("old"), span("new", NOW - timedelta(hours=1))],
        retention=timedelta(days=1),
    )
    assert kinds(a) == [("visibility_retention_gap", None)]
    detail = a.discrepancies[0].detail
    assert "retention is 1 day(s)" in detail and "1 ledger row(s)" in detail
    assert a.visibility_covers_from == NOW - timedelta(days=1)
    assert not a.clean
    # With enough retention, the same ledger row is missing in visibility.
    a = audit_of(
        [recent],
        [forgotten, led("new", started=recent.start_time, closed=recent.close_time)],
        spans=[span("old"), span("new", NOW - timedelta(hours=1))],
        retention=timedelta(days=8),
    )
    assert kinds(a) == [("missing_in_visibility", "old")]


def test_lookups_cover_runs_one_source_places_elsewhere() -> None:
    v = [vis("v-only")]
    ledger = [led("l-only"), led("both")]
    need = lookups_needed(W, [*v, vis("both")], ledger, [span("s-only")])
    assert need.visibility_runs == {("l-only", "r1")}
    assert need.ledger_ids == {"v-only", "s-only"}
    assert need.visibility_ids == {"s-only"}


def test_completed_without_a_passing_check_is_named() -> None:
    runs = ["ok", "old", "liar", "honest", "broke", "answer", "odd"]
    a = audit_of(
        [vis(w) for w in runs],
        [
            led("ok"),
            led("old", verified=None),
            led("liar", verified=False, missing=["notes/SUMMARY.md", "x/"]),
            # Unverified is the truth told: not a finding.
            led("honest", "unverified", verified=False, missing=["y.txt"]),
            led("broke", "failed"),
            led("answer", verified=True),
            LedgerEntry(
                **{
                    **led("odd").model_dump(),
                    "verified": None,
                    "verify_problems": ["verified stored as 'yes', not a boolean"],
                }
            ),
        ],
    )
    assert kinds(a) == [
        ("unverified_completion", "liar"),
        ("unverified_completion", "odd"),
        ("unverified_completion", "old"),
    ]
    by_id = {d.workflow_id: d for d in a.discrepancies}
    assert "completion check failed (missing: notes/SUMMARY.md, x/)" in by_id["liar"].detail
    assert by_id["liar"].run_id == "r1" and "check failed" in (by_id["liar"].ledger or "")
    assert "no completion check is recorded" in by_id["old"].detail
    assert "'yes', not a boolean" in by_id["odd"].detail
    assert a.by_kind == {"unverified_completion": 3} and not a.clean
    # Verification is judged on the ledger's own word, whatever visibility says.
    assert kinds(audit_of([], [led("gone", verified=None)], spans=[span("gone")])) == [
        ("missing_in_visibility", "gone"),
        ("unverified_completion", "gone"),
    ]


def test_telemetry_may_say_unverified() -> None:
    a = audit_of(
        [vis("a")],
        [led("a", "unverified", verified=False)],
        spans=[span("a", status="unverified")],
    )
    assert a.clean
    a = audit_of([vis("a")], [led("a")], spans=[span("a", status="unverified")])
    assert kinds(a) == [("status_mismatch", "a")]
    assert "telemetry says unverified but the ledger says completed" in a.discrepancies[0].detail


def test_inline_rows_are_not_looked_for_in_visibility() -> None:
    inline = led("m/inline-1", role="inline")
    unchecked = led("m/inline-2", role="inline", verified=None)
    a = audit_of([vis("m")], [led("m"), inline, unchecked], spans=[span("m")])
    # No workflow and no span of their own is expected; the claim still is.
    assert kinds(a) == [("unverified_completion", "m/inline-2")]
    assert (a.counts.ledger_closed, a.counts.ledger_inline, a.counts.visibility_closed) == (1, 2, 1)
    # A span of inline work with no ledger row is missing there, not in visibility.
    a = audit_of([vis("m")], [led("m")], spans=[span("m"), span("m/inline-3")])
    assert kinds(a) == [("missing_in_ledger", "m/inline-3")]
    # An inline span that disagrees with the inline row is still compared.
    a = audit_of(
        [vis("m")], [led("m"), inline], spans=[span("m"), span("m/inline-1", status="failed")]
    )
    assert kinds(a) == [("status_mismatch", "m/inline-1")]
    need = lookups_needed(W, [vis("m")], [led("m"), inline], [span("m/inline-3")])
    assert need.visibility_runs == set() and need.visibility_ids == set()
    assert need.ledger_ids == {"m/inline-3"}
    # A sub-agent is a workflow: without visibility it is missing there.
    sub = led("m.1", role="subagent")
    assert kinds(audit_of([vis("m")], [led("m"), sub], spans=[span("m"), span("m.1")])) == [
        ("missing_in_visibility", "m.1")
    ]


# --- parsing ---------------------------------------------------------------------


def test_stored_timestamps_are_read_as_the_ledger_reads_them() -> None:
    at = datetime(2026, 3, 2, 14, 0, 0, 123456, tzinfo=UTC)
    assert parse_stored_timestamp("2026-03-02 14:00:00.123456", "sqlite") == (
        at,
        "2026-03-02 14:00:00.123456",
        None,
    )
    for raw in ("2026-03-02T14:00:00.123456", "2026-03-02 14:00:00"):
        inst, _, problem = parse_stored_timestamp(raw, "sqlite")
        assert (
            inst is not None and inst.tzinfo is UTC and problem and "not in the ledger" in problem
        )
    inst, _, problem = parse_stored_timestamp("2026-03-03T04:00:00.123456+14:00", "sqlite")
    assert inst == at and problem and "offset" in problem
    assert parse_stored_timestamp("yesterday", "sqlite")[2]
    assert parse_stored_timestamp(1772460000, "sqlite")[2]
    # PostgreSQL hands back instants; a naive one means a `timestamp` column.
    assert parse_stored_timestamp(at, "postgresql") == (at, at.isoformat(), None)
    naive = at.replace(tzinfo=None)
    assert parse_stored_timestamp(naive, "postgresql")[2]
    assert parse_stored_timestamp(None, "sqlite") == (None, None, None)


def test_stored_check_values_are_read_as_the_ledger_writes_them() -> None:
    assert parse_stored_check(None, None) == (None, None, [])
    assert parse_stored_check(True, '["a.txt", "x/"]') == (True, ["a.txt", "x/"], [])
    assert parse_stored_check(1, "[]") == (True, [], [])  # SQLite's boolean
    assert parse_stored_check(0, None) == (False, None, [])
    flag, paths, problems = parse_stored_check("yes", "a.txt, b.txt")
    assert flag is None and paths is None
    assert problems == [
        "verified stored as 'yes', not a boolean",
        "verify_missing stored as 'a.txt, b.txt', not a JSON list of paths",
    ]
    assert parse_stored_check(2, "[1, 2]")[0] is None
    assert parse_stored_check(2, "[1, 2]")[2][1].startswith("verify_missing stored as '[1, 2]'")


def test_spans_are_read_from_otlp_json_lines() -> None:
    end = T0 + timedelta(hours=2)
    line = otlp_line(
        SpanLine(
            name="invoke_agent master",
            agent_id="wf-1",
            conversation_id="wf-1",
            start=end - MIN,
            end=end,
            status="completed",
        )
    )
    snake = {
        "resource_spans": [
            {
                "scope_spans": [
                    {
                        "spans": [
                            {
                                "name": "invoke_agent subagent",
                                "start_time_unix_nano": "1772416800000000000",
                                "end_time_unix_nano": "1772416860000000000",
                                "attributes": [
                                    {"key": "gen_ai.agent.id", "value": {"string_value": "wf-1.1"}}
                                ],
                            },
                            {"name": "chat claude", "attributes": []},
                        ]
                    }
                ]
            }
        ]
    }
    spans, bad = spans_from_lines([line, json.dumps(snake), "{not json", ""])
    assert bad == 1
    assert [(s.agent_id, s.status) for s in spans] == [("wf-1", "completed"), ("wf-1.1", None)]
    assert spans[0].end == end and spans[0].conversation_id == "wf-1"
    assert spans[1].start == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_visibility_queries() -> None:
    q = closed_query(T0, END, "agentfleet")
    assert q == (
        "WorkflowType IN ('MasterAgentWorkflow', 'SubAgentWorkflow') AND TaskQueue = 'agentfleet'"
        " AND CloseTime >= '2026-03-02T00:00:00.000000Z'"
        " AND CloseTime < '2026-03-09T00:00:00.000000Z'"
    )
    assert "ExecutionStatus = 'Running'" in running_query(END)
    with pytest.raises(ValueError):
        closed_query(T0, END, "it's")
    assert zone_offset_like(timedelta(hours=14, seconds=40), timedelta(minutes=2)) == timedelta(
        hours=14
    )
    assert zone_offset_like(timedelta(minutes=37), timedelta(minutes=2)) is None
    assert zone_offset_like(timedelta(seconds=50), timedelta(minutes=2)) is None


# --- the black-hole drill, live ----------------------------------------------------------


def _pg_unreachable() -> str | None:
    engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        return None
    except Exception as err:
        return f"{type(err).__name__}: {err}".splitlines()[0]
    finally:
        engine.dispose()


@contextmanager
def drill_ledger(backend: str, home: Path) -> Iterator[tuple[Ledger, sa.Engine, str]]:
    """(ledger, a rogue engine on the same table, the qualified table name)."""
    if backend == "sqlite":
        url = f"sqlite:///{home / 'ledger.db'}"
        led = Ledger.from_url(url)
        led.create()
        rogue = sa.create_engine(url)
        try:
            yield led, rogue, TABLE_NAME
        finally:
            rogue.dispose()
            led.dispose()
        return
    reason = _pg_unreachable()
    if reason is not None:
        pytest.skip(f"!!! PostgreSQL NOT REACHABLE at {PG_URL}: {reason}")
    schema = f"agentfleet_audit_{uuid.uuid4().hex[:10]}"
    led = Ledger.from_url(PG_URL, schema=schema)
    led.create()
    # The rogue's session runs in UTC, so a local wall time it sends as a
    # bare string is taken as UTC: shifted by the process's offset.
    rogue = sa.create_engine(PG_URL, connect_args={"options": "-c timezone=UTC"})
    try:
        yield led, rogue, f'"{schema}".{TABLE_NAME}'
    finally:
        rogue.dispose()
        led.dispose()
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


async def _rogue_insert(
    client: Client, rogue: sa.Engine, table: str, ids: list[str]
) -> dict[tuple[str, str], str]:
    """The old system's writer: local wall times, no zone, no completion
    check, straight SQL. Returns the status written for each run."""
    keys: dict[tuple[str, str], str] = {}
    cast = "CAST({} AS timestamp)" if rogue.dialect.name == "postgresql" else "{}"
    stmt = sa.text(
        f"INSERT INTO {table} (workflow_id, run_id, parent_id, root_id, role, depth, status,"
        " input_tokens, output_tokens, cost_usd, started_at, closed_at, updated_at) VALUES"
        " (:wid, :rid, :parent, :root, :role, :depth, :status, 10, 1, 0.0,"
        f" {cast.format(':started')}, {cast.format(':closed')}, {cast.format(':updated')})"
    )
    for n, wid in enumerate(ids):
        for child in (wid, f"{wid}.1"):
            desc = await client.get_workflow_handle(child).describe()
            assert desc.close_time is not None
            status = "completed" if desc.status == WorkflowExecutionStatus.COMPLETED else "failed"
            # The bug itself: naive local time, as `datetime.now()` gives it.
            started = datetime.fromtimestamp(desc.start_time.timestamp())  # noqa: DTZ006
            closed = datetime.now()  # noqa: DTZ005
            # Half the rows in the ledger's own text shape, half ISO with a
            # 'T': the first kind only visibility can expose.
            text = str if n % 2 == 0 else datetime.isoformat
            with rogue.begin() as conn:
                conn.execute(
                    stmt,
                    {
                        "wid": child,
                        "rid": desc.run_id,
                        "parent": None if child == wid else wid,
                        "root": wid,
                        "role": "master" if child == wid else "subagent",
                        "depth": 0 if child == wid else 1,
                        "status": status,
                        "started": text(started),
                        "closed": text(closed),
                        "updated": text(closed),
                    },
                )
            keys[(child, desc.run_id)] = status
    return keys


DRILLS = [
    ("sqlite", "Pacific/Kiritimati"),
    ("postgresql", "Pacific/Kiritimati"),
    ("sqlite", "Asia/Kolkata"),
    ("postgresql", "America/Los_Angeles"),
]


@pytest.mark.parametrize(("backend", "zone_name"), DRILLS)
async def test_black_hole_drill(
    client: Client,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    backend: str,
    zone_name: str,
) -> None:
    monkeypatch.delenv("AGENTFLEET_LEDGER_URL", raising=False)
    monkeypatch.setenv("TZ", zone_name)
    time.tzset()
    try:
        assert time.strftime("%z", time.localtime()) != "+0000"
        await ensure_retention(client, "default", days=8)
        weeks = {week_of(datetime.now(UTC))}
        prefix = f"drill-{uuid.uuid4().hex[:6]}"
        with drill_ledger(backend, settings.home) as (led, rogue, table):
            async with fleet_worker(client, settings, led):
                clean = await run_tasks(
                    client,
                    settings,
                    [
                        FakeTask(title="one", subagents=2),
                        FakeTask(title="two", subagents=1, sub_outcome="partial"),
                        FakeTask(title="three", outcome="failed"),
                    ],
                    f"{prefix}-clean",
                )
                weeks.add(week_of(datetime.now(UTC)))
                for week in sorted(weeks):
                    audit = await run_audit(
                        client, led, settings.home, week, task_queue=settings.task_queue
                    )
                    assert audit.discrepancies == [], audit.model_dump_json(indent=2)
                assert (
                    sum(
                        a.counts.ledger_closed
                        for a in [
                            await run_audit(
                                client, led, settings.home, w, task_queue=settings.task_queue
                            )
                            for w in sorted(weeks)
                        ]
                    )
                    == 6
                )

                rogue_ids = await run_tasks(
                    client,
                    settings,
                    [FakeTask(title=f"rogue {i}", subagents=1, ledger=False) for i in range(3)]
                    + [
                        FakeTask(title="rogue failing", subagents=1, ledger=False, outcome="failed")
                    ],
                    f"{prefix}-rogue",
                )
                injected = await _rogue_insert(client, rogue, table, rogue_ids)
                weeks.add(week_of(datetime.now(UTC)))
                found = []
                for week in sorted(weeks):
                    audit = await run_audit(
                        client, led, settings.home, week, task_queue=settings.task_queue
                    )
                    found += audit.discrepancies
        assert len(injected) == 8
        flagged: dict[tuple[str, str | None], set[str]] = {}
        for d in found:
            assert d.workflow_id is not None
            flagged.setdefault((d.workflow_id, d.run_id), set()).add(d.kind)
        # Every injected row is named, for its timestamps and, when it says
        # completed, for a completion no check ever verified ...
        assert set(flagged) == set(injected), {
            k: v for k, v in flagged.items() if k not in injected
        }
        rogue_kinds = {"outside_window", "naive_or_shifted_timestamp", "unverified_completion"}
        for key, kinds_of_row in flagged.items():
            assert kinds_of_row <= rogue_kinds, [d for d in found if d.kind not in rogue_kinds]
            assert "naive_or_shifted_timestamp" in kinds_of_row
            assert ("unverified_completion" in kinds_of_row) == (injected[key] == "completed"), (
                key,
                injected[key],
                kinds_of_row,
            )
        # Three rogue tasks and all four sub-agents completed; one master failed.
        assert sorted(injected.values()).count("completed") == 7
        # ... and no row written through the ledger is.
        assert not {k for k in flagged if k[0].startswith(tuple(clean))}

        if backend == "sqlite":
            # The command says the same, and exits 1.
            code = await commands_report.audit(settings, sorted(weeks)[-1], "UTC", as_json=True)
            doc = json.loads(capsys.readouterr().out)
            assert code == 1 and doc["clean"] is False
            assert set(doc["by_kind"]) <= rogue_kinds
            if len(weeks) == 1:  # else the rows are split over the weeks
                assert doc["by_kind"]["unverified_completion"] == 7
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_weekly_run_names_completions_no_check_verified(
    client: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    """Real runs through the ledger activities: verified work and honest
    `unverified` runs are clean; runs that close `completed` with no check
    (as every run did before checks existed) are named, each by id, and the
    weekly workflow's report counts none of them as completed."""
    monkeypatch.delenv("AGENTFLEET_LEDGER_URL", raising=False)
    await ensure_retention(client, "default", days=8)
    week = week_of(datetime.now(UTC))
    prefix = f"check-{uuid.uuid4().hex[:6]}"
    with drill_ledger(backend, settings.home) as (led, _rogue, _table):
        async with fleet_worker(client, settings, led):
            ids = await run_tasks(
                client,
                settings,
                [
                    FakeTask(title="done", subagents=1),
                    FakeTask(
                        title="claimed", subagents=1, outcome="unverified", sub_outcome="unverified"
                    ),
                    FakeTask(title="old style", subagents=1, checked=False),
                ],
                prefix,
            )
            audit = await run_audit(
                client, led, settings.home, week, task_queue=settings.task_queue
            )
            result = await client.execute_workflow(
                WeeklyReportWorkflow.run,
                WeeklyReportInput(week=week),
                id=f"weekly-{prefix}",
                task_queue=settings.task_queue,
            )
        claimed = led.get(ids[1])
    if week_of(datetime.now(UTC)) != week:
        pytest.skip("the ISO week changed while the test ran")
    old = ids[2]
    assert kinds(audit) == [
        ("unverified_completion", old),
        ("unverified_completion", f"{old}.1"),
    ], audit.model_dump_json(indent=2)
    assert all("no completion check is recorded" in d.detail for d in audit.discrepancies)
    assert all(d.run_id for d in audit.discrepancies)
    assert claimed is not None and claimed.status == "unverified" and claimed.verified is False
    assert claimed.verify_missing == ["out/claimed.txt"]

    t = result.tasks
    assert (t.completed, t.unverified, t.completed_unchecked, t.closed) == (1, 1, 1, 3)
    assert t.completion_rate == round(1 / 3, 4)
    assert result.audit_clean is False
    assert result.audit_by_kind == {"unverified_completion": 2}
    doc = json.loads((settings.home / "reports" / f"{week}.json").read_text())
    assert doc["subagents"]["unverified"] == 1 and doc["subagents"]["completed"] == 1
    # The master's and its sub-agent's missing outputs, one task tree.
    assert doc["top_unverified_reasons"] == [
        {"path": "out/claimed.txt", "count": 1},
        {"path": "out/claimed_/_1.txt", "count": 1},
    ]


async def test_stuck_and_terminated_runs(
    client: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTFLEET_LEDGER_URL", raising=False)
    await ensure_retention(client, "default", days=8)
    led = Ledger.from_url(f"sqlite:///{settings.home / 'ledger.db'}")
    led.create()
    wid = f"stuck-{uuid.uuid4().hex[:6]}"
    week = week_of(datetime.now(UTC))
    # Telemetry is on (the file exists) but this run will never write a span.
    spans_path(settings.home).parent.mkdir(parents=True)
    spans_path(settings.home).touch()
    try:
        async with fleet_worker(client, settings, led):
            handle = await client.start_workflow(
                "MasterAgentWorkflow",
                FakeTask(title="stuck", hold=True),
                id=wid,
                task_queue=settings.task_queue,
            )
            while led.get(wid) is None:  # noqa: ASYNC110 - polling a database, not an event
                await asyncio.sleep(0.05)
            audit = await run_audit(
                client,
                led,
                settings.home,
                week,
                task_queue=settings.task_queue,
                running_limit=timedelta(0),
            )
            assert kinds(audit) == [("running_past_timeout", wid)]
            assert audit.counts.visibility_running == 1 and audit.counts.ledger_running == 1
            assert (
                await run_audit(client, led, settings.home, week, task_queue=settings.task_queue)
            ).clean
            await handle.terminate("drill")
            # Visibility is eventually consistent: wait until it lists the
            # run as terminated, as it will long before any weekly audit.
            query = f"WorkflowId = '{wid}' AND ExecutionStatus = 'Terminated'"
            while (await client.count_workflows(query)).count == 0:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        audit = await run_audit(client, led, settings.home, week, task_queue=settings.task_queue)
    finally:
        led.dispose()
    if week_of(datetime.now(UTC)) != week:
        pytest.skip("the ISO week changed while the test ran")
    # Terminated: no close in the ledger, no span.
    assert kinds(audit) == [("status_mismatch", wid), ("missing_in_telemetry", wid)]
    assert "never recorded" in audit.discrepancies[0].detail
    assert audit.counts.telemetry_spans == 0


def test_window_bounds_come_from_weeks() -> None:
    start, end = iso_week_bounds("2026-W10", "America/Los_Angeles")
    w = AuditWindow("2026-W10", "America/Los_Angeles", start, end)
    assert start in w and end not in w and (end - timedelta(microseconds=1)) in w
