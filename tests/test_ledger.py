"""Ledger: same UTC instants in and out on SQLite and PostgreSQL, whatever the
database session zone and the process zone, with idempotent writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.ledger import INVALID_LEDGER_RECORD, LedgerActivities
from agentfleet.ledger.store import (
    TABLE_NAME,
    InvalidLedgerRecord,
    Ledger,
    LedgerClose,
    LedgerStart,
    LedgerUpgradeError,
    ledger_url_from_env,
)
from agentfleet.reporting.weeks import iso_week_bounds

PG_URL = os.environ.get(
    "AGENTFLEET_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PG_SESSION_TZ = "America/Los_Angeles"
PROCESS_TZ = "Asia/Kolkata"

LA = ZoneInfo("America/Los_Angeles")
KOLKATA = ZoneInfo("Asia/Kolkata")
US = timedelta(microseconds=1)

_pg_probe: str | None = None


def _pg_unreachable_reason() -> str | None:
    """None if PostgreSQL answers, else why not (probed once per session)."""
    global _pg_probe
    if _pg_probe is None:
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
            _pg_probe = ""
        except Exception as err:
            _pg_probe = f"{type(err).__name__}: {err}".splitlines()[0]
        finally:
            engine.dispose()
    return _pg_probe or None


@pytest.fixture(autouse=True)
def process_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A hostile local zone: +05:30, far from both UTC and the DB session zone.
    monkeypatch.setenv("TZ", PROCESS_TZ)
    time.tzset()
    assert time.strftime("%z", time.localtime(0)) == "+0530"
    yield
    monkeypatch.undo()
    time.tzset()


@contextmanager
def pg_ledger_in_private_schema() -> Iterator[Ledger]:
    reason = _pg_unreachable_reason()
    if reason is not None:
        pytest.skip(
            f"!!! PostgreSQL NOT REACHABLE at {PG_URL} -- PostgreSQL ledger tests SKIPPED: {reason}"
        )
    # A private schema per test keeps parallel runs and reruns apart.
    schema = f"agentfleet_test_{uuid.uuid4().hex[:12]}"
    led = Ledger.from_url(
        PG_URL,
        schema=schema,
        connect_args={"options": f"-c timezone={PG_SESSION_TZ}"},
    )
    try:
        led.create()
        yield led
    finally:
        led.dispose()
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "postgresql":
        with pg_ledger_in_private_schema() as led:
            yield led
        return
    led = Ledger.from_url(f"sqlite:///{tmp_path / 'nested' / 'ledger.db'}")
    led.create()
    yield led
    led.dispose()


@pytest.fixture
def pg_ledger() -> Iterator[Ledger]:
    with pg_ledger_in_private_schema() as led:
        yield led


def start_rec(wf: str = "wf-1", run: str = "run-1", **kw: object) -> LedgerStart:
    fields: dict[str, object] = {
        "workflow_id": wf,
        "run_id": run,
        "root_id": "root",
        "role": "subagent",
        "depth": 1,
        "tier": "fast",
        "model": "claude-haiku-4-5",
        "title": "summarise",
        "started_at": datetime(2026, 3, 8, 9, 0, tzinfo=UTC),
    }
    fields.update(kw)
    return LedgerStart.model_validate(fields)


def close_rec(wf: str = "wf-1", run: str = "run-1", **kw: object) -> LedgerClose:
    fields: dict[str, object] = {
        "workflow_id": wf,
        "run_id": run,
        "status": "completed",
        "closed_at": datetime(2026, 3, 8, 9, 5, tzinfo=UTC),
        "input_tokens": 1200,
        "output_tokens": 300,
        "cost_usd": 0.0027,
    }
    fields.update(kw)
    return LedgerClose.model_validate(fields)


def count_rows(led: Ledger) -> int:
    with led.engine.connect() as conn:
        return int(conn.execute(sa.text(f"select count(*) from {qualified(led)}")).scalar_one())


def qualified(led: Ledger) -> str:
    return f'"{led.schema}".{TABLE_NAME}' if led.schema else TABLE_NAME


# --- round trip ------------------------------------------------------------------


def test_postgres_session_really_runs_in_los_angeles(pg_ledger: Ledger) -> None:
    with pg_ledger.engine.connect() as conn:
        assert conn.execute(sa.text("show timezone")).scalar_one() == PG_SESSION_TZ


def test_same_utc_instants_in_and_out(ledger: Ledger) -> None:
    # One instant, written with three different offsets: all must read back
    # as the same aware UTC value.
    instant = datetime(2026, 3, 9, 3, 30, 0, 123456, tzinfo=UTC)  # Sunday 20:30 in LA
    cases = {
        "utc": instant,
        "kolkata": instant.astimezone(KOLKATA),
        "la": instant.astimezone(LA),
    }
    for name, value in cases.items():
        ledger.record_start(start_rec(wf=name, started_at=value - timedelta(minutes=5)))
        ledger.record_close(close_rec(wf=name, closed_at=value))

    for name in cases:
        row = ledger.get(name)
        assert row is not None
        assert row.status == "completed"
        assert row.closed_at == instant
        assert row.started_at == instant - timedelta(minutes=5)
        for dt in (row.closed_at, row.started_at, row.updated_at):
            assert dt is not None and dt.tzinfo is UTC
        assert row.duration_s == 300.0
        assert (row.input_tokens, row.output_tokens, row.cost_usd) == (1200, 300, 0.0027)

    # Stored value, independent of any session or process zone.
    with ledger.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            epochs = conn.execute(
                sa.text(f"select extract(epoch from closed_at) from {qualified(ledger)}")
            ).scalars()
            assert {float(e) for e in epochs} == {instant.timestamp()}
        else:
            raw = conn.execute(sa.text(f"select closed_at from {TABLE_NAME}")).scalars()
            assert set(raw) == {"2026-03-09 03:30:00.123456"}


def test_window_returns_exactly_the_rows_inside(ledger: Ledger) -> None:
    # The legacy bug: LA Sunday evening is Monday in UTC and must count in the
    # Monday's UTC week, not the week the local calendar suggests.
    start, end = iso_week_bounds("2026-W11")  # [2026-03-09, 2026-03-16) UTC
    closes = {
        "before": start - US,
        "at-start": start,
        "la-sunday-evening": datetime(2026, 3, 8, 18, 30, tzinfo=LA),  # 01:30Z Monday
        "middle": datetime(2026, 3, 12, 12, 0, tzinfo=KOLKATA),
        "last-us": end - US,
        "at-end": end,
        "after": end + timedelta(days=1),
    }
    for wf, closed_at in closes.items():
        ledger.record_start(start_rec(wf=wf, started_at=closed_at - timedelta(hours=1)))
        ledger.record_close(close_rec(wf=wf, closed_at=closed_at))
    ledger.record_start(start_rec(wf="still-running", started_at=start + timedelta(hours=2)))

    got = ledger.rows_closed_between(start, end)
    assert [r.workflow_id for r in got] == ["at-start", "la-sunday-evening", "middle", "last-us"]
    # Bounds given in another zone denote the same instants.
    got_la = ledger.rows_closed_between(start.astimezone(LA), end.astimezone(KOLKATA))
    assert [r.workflow_id for r in got_la] == [r.workflow_id for r in got]

    started = ledger.rows_started_between(start, end)
    # started_at is closed_at - 1h: "at-start" started before the window and
    # "at-end" inside it; the running row has no close but did start.
    assert [r.workflow_id for r in started] == [
        "la-sunday-evening",
        "still-running",
        "middle",
        "last-us",
        "at-end",
    ]
    assert ledger.rows_closed_between(start, start) == []


def test_adjacent_windows_count_every_row_once(ledger: Ledger) -> None:
    w10 = iso_week_bounds("2026-W10", "America/New_York")
    w11 = iso_week_bounds("2026-W11", "America/New_York")
    boundary = w10[1]
    for i, closed_at in enumerate([boundary - US, boundary, boundary + US]):
        ledger.record_start(start_rec(wf=f"wf-{i}", started_at=closed_at - timedelta(hours=1)))
        ledger.record_close(close_rec(wf=f"wf-{i}", closed_at=closed_at))
    a = [r.workflow_id for r in ledger.rows_closed_between(*w10)]
    b = [r.workflow_id for r in ledger.rows_closed_between(*w11)]
    assert a == ["wf-0"]
    assert b == ["wf-1", "wf-2"]


# --- idempotence -------------------------------------------------------------------


def test_retried_writes_create_no_duplicates(ledger: Ledger) -> None:
    first = ledger.record_start(start_rec())
    again = ledger.record_start(start_rec())
    assert (first.created, first.changed) == (True, False)
    assert (again.created, again.changed) == (False, False)
    assert count_rows(ledger) == 1

    closed = ledger.record_close(close_rec())
    retried = ledger.record_close(close_rec())
    assert (closed.created, closed.changed) == (False, True)
    assert (retried.created, retried.changed) == (False, False)
    assert count_rows(ledger) == 1
    row = ledger.get("wf-1")
    assert row is not None and row.status == "completed"


def test_late_start_never_overwrites_terminal_state(ledger: Ledger) -> None:
    ledger.record_start(start_rec())
    ledger.record_close(close_rec(status="failed", failure_reason="tool crashed"))
    before = ledger.get("wf-1")
    replayed = ledger.record_start(start_rec(title="renamed on replay"))
    assert (replayed.created, replayed.changed) == (False, False)
    after = ledger.get("wf-1")
    assert after == before
    assert after is not None and after.status == "failed"
    assert after.failure_reason == "tool crashed"


def test_close_before_start_then_late_start_fills_in(ledger: Ledger) -> None:
    closed = ledger.record_close(close_rec(status="timed_out"))
    assert closed.created
    row = ledger.get("wf-1")
    assert row is not None and row.started_at is None and row.root_id is None
    late = ledger.record_start(start_rec())
    assert (late.created, late.changed) == (False, True)
    row = ledger.get("wf-1")
    assert row is not None
    assert row.status == "timed_out"
    assert row.closed_at == datetime(2026, 3, 8, 9, 5, tzinfo=UTC)
    assert row.started_at == datetime(2026, 3, 8, 9, 0, tzinfo=UTC)
    assert (row.root_id, row.role, row.title) == ("root", "subagent", "summarise")
    assert count_rows(ledger) == 1


def test_first_terminal_state_wins(ledger: Ledger) -> None:
    ledger.record_start(start_rec())
    ledger.record_close(close_rec(status="budget_exhausted"))
    other = ledger.record_close(
        close_rec(status="completed", closed_at=datetime(2026, 3, 8, 10, tzinfo=UTC))
    )
    assert (other.created, other.changed) == (False, False)
    row = ledger.get("wf-1")
    assert row is not None and row.status == "budget_exhausted"
    assert row.closed_at == datetime(2026, 3, 8, 9, 5, tzinfo=UTC)


def test_concurrent_duplicate_writes_make_one_row(ledger: Ledger) -> None:
    results: list[bool] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        try:
            barrier.wait()
            results.append(ledger.record_start(start_rec()).created)
        except BaseException as err:  # surfaced by the assert below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [False] * 7 + [True]
    assert count_rows(ledger) == 1


def test_runs_of_one_workflow_are_kept_apart(ledger: Ledger) -> None:
    ledger.record_start(start_rec(run="run-a", started_at=datetime(2026, 3, 8, 9, tzinfo=UTC)))
    ledger.record_close(close_rec(run="run-a", status="failed"))
    ledger.record_start(start_rec(run="run-b", started_at=datetime(2026, 3, 8, 10, tzinfo=UTC)))
    latest = ledger.get("wf-1")
    assert latest is not None and (latest.run_id, latest.status) == ("run-b", "running")
    first = ledger.get("wf-1", "run-a")
    assert first is not None and first.status == "failed"
    assert [r.run_id for r in ledger.runs("wf-1")] == ["run-a", "run-b"]
    assert ledger.get("nope") is None


def test_create_is_idempotent(ledger: Ledger) -> None:
    ledger.record_start(start_rec())
    ledger.create()
    ledger.create()
    assert count_rows(ledger) == 1


# --- naive datetimes -----------------------------------------------------------------


def naive(dt: datetime) -> datetime:
    return dt.replace(tzinfo=None)


def test_models_reject_naive_datetimes_naming_the_field() -> None:
    wall = naive(datetime(2026, 3, 8, 9, tzinfo=UTC))
    with pytest.raises(ValidationError, match="started_at") as exc:
        start_rec(started_at=wall)
    assert "timezone" in str(exc.value)
    with pytest.raises(ValidationError, match="closed_at"):
        close_rec(closed_at=wall)
    with pytest.raises(ValidationError, match="started_at"):
        close_rec(started_at=wall)


def test_models_normalise_to_utc() -> None:
    rec = start_rec(started_at="2026-03-08T14:30:00+05:30")
    assert rec.started_at == datetime(2026, 3, 8, 9, 0, tzinfo=UTC)
    assert rec.started_at.tzinfo is UTC
    assert rec.model_dump(mode="json")["started_at"] == "2026-03-08T09:00:00Z"


def test_close_before_start_in_one_record_rejected() -> None:
    with pytest.raises(ValidationError, match="before"):
        close_rec(
            started_at=datetime(2026, 3, 8, 10, tzinfo=UTC),
            closed_at=datetime(2026, 3, 8, 9, tzinfo=UTC),
        )


def test_store_rejects_naive_that_bypassed_pydantic(ledger: Ledger) -> None:
    good = start_rec()
    sneaky = LedgerStart.model_construct(
        **{**good.model_dump(), "started_at": naive(good.started_at)}
    )
    with pytest.raises(InvalidLedgerRecord, match="started_at") as exc:
        ledger.record_start(sneaky)
    assert exc.value.field == "started_at"

    good_close = close_rec()
    sneaky_close = LedgerClose.model_construct(
        **{**good_close.model_dump(), "closed_at": naive(good_close.closed_at)}
    )
    with pytest.raises(InvalidLedgerRecord, match="closed_at"):
        ledger.record_close(sneaky_close)
    assert count_rows(ledger) == 0

    start, end = iso_week_bounds("2026-W11")
    with pytest.raises(InvalidLedgerRecord, match="start_utc"):
        ledger.rows_closed_between(naive(start), end)
    with pytest.raises(InvalidLedgerRecord, match="end_utc"):
        ledger.rows_started_between(start, naive(end))
    with pytest.raises(ValueError, match="before"):
        ledger.rows_closed_between(end, start)


def test_column_type_refuses_naive_bind(ledger: Ledger) -> None:
    from agentfleet.ledger.store import tasks

    stmt = sa.select(tasks).where(tasks.c.closed_at >= naive(datetime(2026, 1, 1, tzinfo=UTC)))
    with pytest.raises(sa.exc.StatementError, match="timezone-aware"), ledger.engine.connect() as c:
        c.execute(stmt)


# --- activities ------------------------------------------------------------------------


async def test_activities_write_idempotently(ledger: Ledger) -> None:
    env = ActivityEnvironment()
    acts = LedgerActivities(ledger)
    first = await env.run(acts.record_start, start_rec())
    again = await env.run(acts.record_start, start_rec())
    assert (first.created, again.created) == (True, False)
    closed = await env.run(acts.record_close, close_rec())
    assert (closed.workflow_id, closed.run_id, closed.changed) == ("wf-1", "run-1", True)
    assert count_rows(ledger) == 1


async def test_activity_invalid_record_is_non_retryable(ledger: Ledger) -> None:
    good = close_rec()
    sneaky = LedgerClose.model_construct(
        **{**good.model_dump(), "closed_at": naive(good.closed_at)}
    )
    with pytest.raises(ApplicationError) as exc:
        await ActivityEnvironment().run(LedgerActivities(ledger).record_close, sneaky)
    assert exc.value.type == INVALID_LEDGER_RECORD
    assert exc.value.non_retryable
    assert "closed_at" in str(exc.value)


async def test_activity_database_rejection_is_non_retryable(pg_ledger: Ledger) -> None:
    # PostgreSQL text cannot hold NUL (SQLite can), so the database refuses it.
    with pytest.raises(ApplicationError) as exc:
        await ActivityEnvironment().run(
            LedgerActivities(pg_ledger).record_start, start_rec(title="a\x00b")
        )
    assert exc.value.type == INVALID_LEDGER_RECORD
    assert exc.value.non_retryable


async def test_activity_database_outage_is_retryable(tmp_path: Path) -> None:
    # No create(): the table is missing, as when the database is not ready.
    led = Ledger.from_url(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(sa.exc.OperationalError):
            await ActivityEnvironment().run(LedgerActivities(led).record_start, start_rec())
    finally:
        led.dispose()

    unreachable = Ledger.from_url(
        "postgresql+psycopg://postgres@127.0.0.1:1/test", connect_args={"connect_timeout": 2}
    )
    try:
        with pytest.raises(sa.exc.OperationalError):
            await ActivityEnvironment().run(LedgerActivities(unreachable).record_start, start_rec())
    finally:
        unreachable.dispose()


async def test_records_survive_the_temporal_pydantic_converter() -> None:
    from temporalio.contrib.pydantic import pydantic_data_converter

    conv = pydantic_data_converter.payload_converter
    rec = close_rec(closed_at=datetime(2026, 3, 8, 17, 0, tzinfo=LA), started_at=None)
    (payload,) = conv.to_payloads([rec])
    (back,) = conv.from_payloads([payload], [LedgerClose])
    assert back == rec
    assert back.closed_at == datetime(2026, 3, 9, 0, 0, tzinfo=UTC)


# --- configuration -------------------------------------------------------------------


def test_ledger_url_from_env(tmp_path: Path) -> None:
    assert ledger_url_from_env(tmp_path, {}) == f"sqlite:///{tmp_path.resolve()}/ledger.db"
    assert ledger_url_from_env(tmp_path, {"AGENTFLEET_LEDGER_URL": "  "}).endswith("ledger.db")
    assert ledger_url_from_env(tmp_path, {"AGENTFLEET_LEDGER_URL": PG_URL}) == PG_URL


def test_from_url_accepts_bare_postgresql_and_rejects_others() -> None:
    led = Ledger.from_url("postgresql://postgres@127.0.0.1:1/test")
    try:
        assert led.engine.url.drivername == "postgresql+psycopg"
    finally:
        led.dispose()
    with pytest.raises(ValueError, match="only supported on PostgreSQL"):
        Ledger.from_url("sqlite://", schema="x")


def test_repr_hides_password() -> None:
    led = Ledger.from_url("postgresql+psycopg://u:s3cret@127.0.0.1:1/db")
    try:
        assert "s3cret" not in repr(led)
    finally:
        led.dispose()


def test_create_adds_columns_missing_from_an_older_ledger(ledger: Ledger) -> None:
    table = qualified(ledger)
    with ledger.engine.begin() as conn:
        for column in ("inline_decisions", "pruned_count"):
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    ledger.engine.dispose()  # forget cached column reflection, as a new process would
    ledger.create()
    ledger.record_start(start_rec())
    ledger.record_close(close_rec(inline_decisions=2, pruned_count=3))
    row = ledger.get("wf-1")
    assert row is not None and (row.inline_decisions, row.pruned_count) == (2, 3)


# --- the completion check (issue #13) ----------------------------------------------------

VERIFY_COLUMNS = ("verified", "verify_mode", "verify_checked", "verify_missing")


def test_verification_round_trips_and_unverified_is_terminal(ledger: Ledger) -> None:
    ledger.record_start(start_rec(wf="ok"))
    ledger.record_close(
        close_rec(wf="ok", verified=True, verify_mode="files", verify_checked=2, verify_missing=[])
    )
    ledger.record_start(start_rec(wf="bad"))
    missing = ["notes/SUMMARY.md", "x/", "ünïcode 'q\".txt"]
    ledger.record_close(
        close_rec(
            wf="bad",
            status="unverified",
            verified=False,
            verify_mode="files",
            verify_checked=3,
            verify_missing=missing,
            failure_reason="missing notes/SUMMARY.md",
        )
    )
    ledger.record_start(start_rec(wf="answer"))
    ledger.record_close(close_rec(wf="answer", verified=True, verify_mode="answer_only"))
    ledger.record_start(start_rec(wf="unchecked"))
    ledger.record_close(close_rec(wf="unchecked", status="failed"))

    ok, bad = ledger.get("ok"), ledger.get("bad")
    answer, unchecked = ledger.get("answer"), ledger.get("unchecked")
    assert ok is not None and bad is not None and answer is not None and unchecked is not None
    assert (ok.verified, ok.verify_mode, ok.verify_checked, ok.verify_missing) == (
        True,
        "files",
        2,
        [],
    )
    assert (bad.status, bad.verified, bad.verify_checked, bad.verify_missing) == (
        "unverified",
        False,
        3,
        missing,
    )
    assert (answer.verified, answer.verify_mode, answer.verify_missing) == (
        True,
        "answer_only",
        None,
    )
    assert (unchecked.verified, unchecked.verify_mode, unchecked.verify_checked) == (
        None,
        None,
        None,
    )
    # Stored as a boolean and as JSON text, readable by any SQL client.
    with ledger.engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                f"select verified, verify_missing from {qualified(ledger)} where workflow_id='bad'"
            )
        ).one()
    assert stored[0] in (False, 0) and stored[0] is not None
    assert json.loads(stored[1]) == missing

    # `unverified` is terminal: a replayed or second close does not move it.
    again = ledger.record_close(close_rec(wf="bad", verified=True, verify_missing=[]))
    assert (again.created, again.changed) == (False, False)
    late = ledger.record_start(start_rec(wf="bad", title="replayed"))
    assert (late.created, late.changed) == (False, False)
    assert ledger.get("bad") == bad


def test_verification_fields_are_validated_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="verify_checked"):
        close_rec(verify_checked=-1)
    with pytest.raises(ValidationError, match="verify_mode"):
        close_rec(verify_mode="vibes")
    with pytest.raises(ValidationError, match="verify_missing"):
        close_rec(verify_missing="a.txt")
    with pytest.raises(ValidationError, match="status"):
        close_rec(status="verified")


def _old_schema_table(md: sa.MetaData) -> sa.Table:
    """The ledger table as it was before the completion check: every column
    of today's table but the verification ones (and the cache and forecast
    ones, added later still)."""
    from agentfleet.ledger.store import tasks

    return sa.Table(
        TABLE_NAME,
        md,
        *(
            sa.Column(
                c.name,
                c.type,
                primary_key=c.primary_key,
                nullable=c.nullable,
                server_default=c.server_default,
            )
            for c in tasks.columns
            if c.name not in (*VERIFY_COLUMNS, *CACHE_COLUMNS)
        ),
    )


def make_old_ledger(url: str, schema: str | None) -> None:
    """An old-schema ledger at `url` with one completed row and one running row."""
    engine = sa.create_engine(url)
    md = sa.MetaData(schema=schema)
    old = _old_schema_table(md)
    at = datetime(2026, 3, 8, 9, tzinfo=UTC)
    with engine.begin() as conn:
        if schema:
            conn.execute(sa.schema.CreateSchema(schema))
        md.create_all(conn)
        for values in (
            {
                "workflow_id": "old-done",
                "run_id": "r",
                "root_id": "old-done",
                "role": "master",
                "status": "completed",
                "started_at": at,
                "closed_at": at + timedelta(minutes=1),
                "updated_at": at + timedelta(minutes=1),
            },
            {
                "workflow_id": "old-running",
                "run_id": "r",
                "root_id": "old-running",
                "role": "master",
                "status": "running",
                "started_at": at,
                "updated_at": at,
            },
        ):
            conn.execute(old.insert().values(**values))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def old_ledger_url(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, str | None]]:
    """(url, schema) of a database holding an old-schema ledger."""
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path / 'old.db'}", None
    else:
        reason = _pg_unreachable_reason()
        if reason is not None:
            pytest.skip(f"!!! PostgreSQL NOT REACHABLE at {PG_URL}: {reason}")
        url, schema = PG_URL, f"agentfleet_old_{uuid.uuid4().hex[:10]}"
    make_old_ledger(url, schema)
    try:
        yield url, schema
    finally:
        if schema:
            admin = sa.create_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


def test_an_old_ledger_is_migrated_in_place(old_ledger_url: tuple[str, str | None]) -> None:
    url, schema = old_ledger_url

    def columns() -> set[str]:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                return {c["name"] for c in sa.inspect(conn).get_columns(TABLE_NAME, schema=schema)}
        finally:
            engine.dispose()

    assert not set(VERIFY_COLUMNS) & columns()
    led = Ledger.from_url(url, schema=schema)
    try:
        led.create()
        assert set(VERIFY_COLUMNS) <= columns()
        led.create()  # a second worker booting: nothing left to add
        # The old row survives and reads as "no check ran".
        old = led.get("old-done")
        assert old is not None and old.status == "completed"
        assert (old.verified, old.verify_mode, old.verify_checked, old.verify_missing) == (
            None,
            None,
            None,
            None,
        )
        # A run that started before the upgrade closes with its check.
        closed = led.record_close(
            close_rec(
                wf="old-running",
                run="r",
                status="unverified",
                verified=False,
                verify_mode="files",
                verify_checked=1,
                verify_missing=["out.txt"],
            )
        )
        assert closed.changed
        row = led.get("old-running")
        assert row is not None
        assert (row.status, row.verified, row.verify_missing) == ("unverified", False, ["out.txt"])
    finally:
        led.dispose()


CACHE_COLUMNS = ("cache_creation_input_tokens", "cache_read_input_tokens", "forecast_usd")


def test_an_old_ledger_gains_the_cache_and_forecast_columns(
    old_ledger_url: tuple[str, str | None],
) -> None:
    url, schema = old_ledger_url

    def columns() -> set[str]:
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                return {c["name"] for c in sa.inspect(conn).get_columns(TABLE_NAME, schema=schema)}
        finally:
            engine.dispose()

    assert not set(CACHE_COLUMNS) & columns()
    led = Ledger.from_url(url, schema=schema)
    try:
        led.create()
        led.create()  # a second worker booting: nothing left to add
        assert set(CACHE_COLUMNS) <= columns()
        # A row from before the upgrade cached nothing and was not forecast.
        old = led.get("old-done")
        assert old is not None
        assert (old.cache_creation_input_tokens, old.cache_read_input_tokens) == (0, 0)
        assert old.forecast_usd is None
        led.record_close(
            close_rec(
                wf="old-running",
                run="r",
                input_tokens=10,
                cache_creation_input_tokens=1500,
                cache_read_input_tokens=4200,
                forecast_usd=0.25,
            )
        )
        row = led.get("old-running")
        assert row is not None
        assert (row.input_tokens, row.cache_creation_input_tokens, row.cache_read_input_tokens) == (
            10,
            1500,
            4200,
        )
        assert row.forecast_usd == 0.25
    finally:
        led.dispose()


def test_foreign_check_values_make_the_row_unreadable_not_the_read(
    tmp_path: Path,
) -> None:
    from agentfleet.reporting.weekly import load_rows

    led = Ledger.from_url(f"sqlite:///{tmp_path / 'ledger.db'}")
    led.create()
    try:
        at = datetime(2026, 3, 10, 9, tzinfo=UTC)
        for wf in ("good", "no", "rogue", "yes", "two"):
            led.record_start(start_rec(wf=wf, started_at=at))
            led.record_close(
                close_rec(wf=wf, closed_at=at + timedelta(minutes=1), verified=wf != "no")
            )
        with led.engine.begin() as conn:
            for sql in (
                "verify_missing = 'a.txt, b.txt' where workflow_id = 'rogue'",
                # SQLite would read any non-zero value as true: not a passing check.
                "verified = 'yes' where workflow_id = 'yes'",
                "verified = 2 where workflow_id = 'two'",
            ):
                conn.execute(sa.text(f"update {TABLE_NAME} set {sql}"))
        rows, bad = load_rows(led, *iso_week_bounds("2026-W11"))
        assert sorted((r.workflow_id, r.verified) for r in rows) == [("good", True), ("no", False)]
        assert bad == 3
    finally:
        led.dispose()


def test_an_old_ledger_that_cannot_be_upgraded_says_which_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    make_old_ledger(url, None)
    # WAL first, as a worker would have left it: a read-only open cannot switch modes.
    Ledger.from_url(url).engine.connect().close()
    read_only = Ledger.from_url(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with pytest.raises(LedgerUpgradeError, match="cannot add column verified") as exc:
            read_only.create()
        assert "ALTER TABLE" in str(exc.value) and "readonly" in str(exc.value)
    finally:
        read_only.dispose()
    # The CLI says the same in one line, without a traceback.
    env = {k: v for k, v in os.environ.items() if k != "AGENTFLEET_LEDGER_URL"}
    env.update(
        {
            "AGENTFLEET_HOME": str(tmp_path / "home"),
            "AGENTFLEET_LEDGER_URL": f"sqlite:///file:{path}?mode=ro&uri=true",
        }
    )
    proc = subprocess.run(
        [sys.executable, "-m", "agentfleet", "report", "--week", "2026-W10"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: ledger at sqlite:///") and "old.db" in proc.stderr
    assert "cannot add column verified" in proc.stderr and "Traceback" not in proc.stderr


def test_workers_booting_together_upgrade_an_old_ledger_once(
    old_ledger_url: tuple[str, str | None],
) -> None:
    url, schema = old_ledger_url
    ledgers = [Ledger.from_url(url, schema=schema) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(ledgers))

    def boot(led: Ledger) -> None:
        try:
            barrier.wait()
            led.create()
        except BaseException as err:  # surfaced by the assert below
            errors.append(err)

    threads = [threading.Thread(target=boot, args=(led,)) for led in ledgers]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        row = ledgers[0].get("old-done")
        assert row is not None and row.verified is None
        ledgers[1].record_close(close_rec(wf="old-running", run="r", verified=True))
        done = ledgers[2].get("old-running")
        assert done is not None and done.verified is True
    finally:
        for led in ledgers:
            led.dispose()
