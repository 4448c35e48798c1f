"""Task ledger: one row per workflow run, in SQL, in UTC.

The system this replaces stamped completions with naive local time while its
queries ran in UTC, so a weekly report silently lost a day. Here every instant
is aware UTC end to end:

* the pydantic boundary (`LedgerStart`, `LedgerClose`) rejects naive datetimes
  and normalises aware ones to UTC;
* the store re-validates what it is handed, so a `model_construct`ed record or
  a raw naive window bound cannot sneak past;
* the column type (`UTCDateTime`) refuses naive binds, stores UTC, and returns
  aware UTC on read even on SQLite, which has no zone-aware type.

Writes come from Temporal activities, which are retried and may be re-executed
after a replay, so both writes are idempotent upserts keyed by
(workflow_id, run_id). Once a run is terminal it stays as first recorded: a
late `start` or a second `close` never overwrites it.

This module has no Temporal imports; `activities/ledger.py` wraps it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import (
    BaseModel,
    ValidationError,
)
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Dialect, Engine

from agentfleet.contracts.ledger import LedgerClose, LedgerRow, LedgerStart, LedgerWriteResult
from agentfleet.contracts.status import LedgerStatus, TerminalStatus

__all__ = [
    "LEDGER_URL_ENV",
    "TABLE_NAME",
    "InvalidLedgerRecord",
    "Ledger",
    "LedgerClose",
    "LedgerRow",
    "LedgerStart",
    "LedgerStatus",
    "LedgerUpgradeError",
    "LedgerWriteResult",
    "TerminalStatus",
    "UTCDateTime",
    "ledger_url_from_env",
    "open_ledger",
    "tasks",
]

LEDGER_URL_ENV = "AGENTFLEET_LEDGER_URL"
TABLE_NAME = "agentfleet_tasks"


def ledger_url_from_env(home: Path, env: Mapping[str, str]) -> str:
    """`AGENTFLEET_LEDGER_URL` if set and non-blank, else SQLite in `home`."""
    url = (env.get(LEDGER_URL_ENV) or "").strip()
    if url:
        return url
    return f"sqlite:///{Path(home).expanduser().resolve() / 'ledger.db'}"


def open_ledger(url: str) -> Ledger:
    """The ledger at `url`, its schema created or brought up to date."""
    ledger = Ledger.from_url(url)
    ledger.create()
    return ledger


class InvalidLedgerRecord(ValueError):
    """Data that can never be written, however often it is retried."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# Failures no retry of the same record can fix: the record itself is invalid, or the
# database refused its values (a constraint, a string PostgreSQL cannot store).
REFUSED_FOR_GOOD = (InvalidLedgerRecord, ValidationError, sa.exc.IntegrityError, sa.exc.DataError)


class LedgerUpgradeError(RuntimeError):
    """An existing ledger lacks columns this version writes, and they could not be added.

    For example a read-only database, or a user without ALTER.
    """


def _require_aware(name: str, value: object) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidLedgerRecord(
            f"{name} must be a datetime, got {type(value).__name__}", field=name
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidLedgerRecord(
            f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}", field=name
        )
    return value.astimezone(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on every backend.

    PostgreSQL gets `timestamptz` and an aware value, so the session TimeZone
    only affects display. SQLite has no zone-aware type, so we store the UTC
    wall time and re-attach UTC on read; since every stored value is UTC, the
    text representation also sorts and compares in instant order.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store aware UTC; a naive value is refused before it reaches the database."""
        if value is None:
            return None
        # Last line of defence: psycopg would send a naive value as
        # `timestamp`, which PostgreSQL reads in the *session* zone.
        utc = _require_aware("datetime column value", value)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back aware UTC, re-attaching the zone SQLite does not keep."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class JSONPathList(sa.TypeDecorator[list[str]]):
    """A list of workspace paths as JSON text, the same on both backends.

    Text rather than PostgreSQL `json`: one column type on SQLite and
    PostgreSQL, and `ALTER TABLE ADD COLUMN` needs nothing dialect-specific.
    A stored value that is not a JSON list (written by something other than
    the ledger) is handed back as it is, so the row fails validation and is
    counted as unreadable instead of breaking the whole read.
    """

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: list[str] | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(list(value), ensure_ascii=False)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            return value


class CheckFlag(sa.TypeDecorator[bool]):
    """The completion check's verdict: a boolean that reads back strictly.

    SQLite's boolean reading turns any non-zero value into true, so a `yes`
    or a `2` that something else stored would count as a passing check.
    Here only what a boolean column holds (true, false, 0, 1) reads as one;
    anything else comes back as stored, fails `LedgerRow` validation, and the
    row is counted unreadable (and named by the audit), never as verified.
    """

    impl = sa.Boolean
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any]:
        def process(value: Any) -> Any:
            if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
                return bool(value)
            return value

        return process


metadata = sa.MetaData()

tasks = sa.Table(
    TABLE_NAME,
    metadata,
    sa.Column("workflow_id", sa.String, primary_key=True),
    sa.Column("run_id", sa.String, primary_key=True),
    sa.Column("parent_id", sa.String, nullable=True),
    # Start fields are nullable because a close may arrive before (or
    # instead of) its start; the pydantic models enforce them per write.
    sa.Column("root_id", sa.String, nullable=True),
    sa.Column("role", sa.String(16), nullable=True),
    sa.Column("depth", sa.Integer, nullable=True),
    sa.Column("tier", sa.String(64), nullable=True),
    sa.Column("model", sa.String(128), nullable=True),
    # No CHECK on status/role: adding a status must not need a migration on
    # every deployed ledger; LedgerStart/LedgerClose/LedgerRow gate values.
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("input_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("output_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("cost_usd", sa.Double, nullable=False, server_default="0"),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.Column("failure_reason", sa.Text, nullable=True),
    sa.Column("title", sa.Text, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # Delegation outcome of a parent (added after the first schema: see
    # `_add_missing_columns`).
    sa.Column("inline_decisions", sa.Integer, nullable=True),
    sa.Column("pruned_count", sa.Integer, nullable=True),
    # Estimate next to outcome, for `agentfleet calibrate`.
    sa.Column("score", sa.Double, nullable=True),
    sa.Column("est_context_tokens", sa.Integer, nullable=True),
    sa.Column("est_steps", sa.Integer, nullable=True),
    sa.Column("turns", sa.Integer, nullable=True),
    sa.Column("tool_calls", sa.Integer, nullable=True),
    sa.Column("thresholds_version", sa.String(64), nullable=True),
    # The completion check (issue #13). NULL `verified`: no check ran, which
    # is also what every row written before the check existed reads as.
    sa.Column("verified", CheckFlag, nullable=True),
    sa.Column("verify_mode", sa.String(16), nullable=True),
    sa.Column("verify_checked", sa.Integer, nullable=True),
    sa.Column("verify_missing", JSONPathList, nullable=True),
    # Prompt caching (issue #17): input_tokens is the uncached input, as the API
    # reports it; these are the cached input written and read. Added in place to
    # an older ledger, where every earlier row reads as 0.
    sa.Column("cache_creation_input_tokens", sa.BigInteger, nullable=True, server_default="0"),
    sa.Column("cache_read_input_tokens", sa.BigInteger, nullable=True, server_default="0"),
    # A root's cost forecast before its plan ran (agentfleet/delegation/forecast.py).
    sa.Column("forecast_usd", sa.Double, nullable=True),
    sa.CheckConstraint(
        "input_tokens >= 0 AND output_tokens >= 0 AND cost_usd >= 0",
        name="agentfleet_tasks_nonnegative_usage",
    ),
    sa.Index("ix_agentfleet_tasks_closed_at", "closed_at"),
    sa.Index("ix_agentfleet_tasks_started_at", "started_at"),
    sa.Index("ix_agentfleet_tasks_root_id", "root_id"),
)

_KEY = ("workflow_id", "run_id")
_START_FIELDS = (
    "parent_id",
    "root_id",
    "role",
    "depth",
    "tier",
    "model",
    "title",
    "started_at",
    "score",
    "est_context_tokens",
    "est_steps",
    "thresholds_version",
)

# What a close writes besides the start fields (each is the LedgerClose field of that name).
_CLOSE_FIELDS = (
    "status",
    "closed_at",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "forecast_usd",
    "failure_reason",
    "inline_decisions",
    "pruned_count",
    "turns",
    "tool_calls",
    "verified",
    "verify_mode",
    "verify_checked",
    "verify_missing",
)


# The two statements every agent's rows go through, built once: building one per
# write, with its values inlined, was most of the ledger's CPU (bench/overhead.py).
@functools.cache
def _insert_if_absent_stmt(dialect: str) -> Any:
    ins = pg_dialect.insert(tasks) if dialect == "postgresql" else sqlite_dialect.insert(tasks)
    return (
        ins.on_conflict_do_nothing(index_elements=list(_KEY))
        # SQLAlchemy reports rowcount only for UPDATE/DELETE unless asked;
        # for this INSERT it is the inserted-or-not answer we need.
        .execution_options(preserve_rowcount=True)
    )


def _param(prefix: str, name: str) -> Any:
    return sa.bindparam(f"{prefix}_{name}", type_=tasks.c[name].type)


# A close of a running row: its outcome, and the start fields it lacks. COALESCE keeps
# whatever is already stored (a None start field leaves the column as it is), so the
# first writer of a start field wins and replays cannot rewrite history.
_CLOSE_RUNNING = (
    sa.update(tasks)
    .where(
        tasks.c.workflow_id == _param("key", "workflow_id"),
        tasks.c.run_id == _param("key", "run_id"),
        tasks.c.status == "running",
    )
    .values(
        {
            **{n: sa.func.coalesce(tasks.c[n], _param("start", n)) for n in _START_FIELDS},
            **{n: _param("out", n) for n in _CLOSE_FIELDS},
            "updated_at": _param("at", "updated_at"),
        }
    )
)

M = TypeVar("M", bound=BaseModel)


def _revalidate(cls: type[M], rec: object) -> M:
    """Validate again at the store: this is the last stop before the database.

    `model_construct` (or a plain dict) skips pydantic.
    """
    if isinstance(rec, BaseModel) and not isinstance(rec, cls):
        raise InvalidLedgerRecord(f"expected {cls.__name__}, got {type(rec).__name__}")
    data: object = rec.model_dump() if isinstance(rec, BaseModel) else rec
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        where = f"{field}: " if field else ""
        raise InvalidLedgerRecord(
            f"invalid {cls.__name__}: {where}{first['msg']} (input {first.get('input')!r})",
            field=field,
        ) from err


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """Synchronous store; call it from a thread (see `LedgerActivities`)."""

    def __init__(
        self,
        engine: Engine,
        *,
        schema: str | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(
                f"unsupported ledger database {engine.dialect.name!r}: use sqlite or postgresql"
            )
        if schema is not None and engine.dialect.name != "postgresql":
            raise ValueError("a ledger schema is only supported on PostgreSQL")
        self.schema = schema
        self._base_engine = engine
        # The table is declared without a schema; translating at execution
        # time lets tests (or tenants) use a private schema with one Table.
        self.engine = (
            engine.execution_options(schema_translate_map={None: schema}) if schema else engine
        )
        self._clock = clock

    @classmethod
    def from_url(
        cls,
        url: str | sa.URL,
        *,
        schema: str | None = None,
        connect_args: Mapping[str, Any] | None = None,
        clock: Callable[[], datetime] = _utcnow,
        **engine_kwargs: Any,
    ) -> Ledger:
        """The ledger at `sqlite:///path/ledger.db` or `postgresql+psycopg://...`.

        A bare `postgresql://` is taken to mean psycopg 3, the driver we ship.
        """
        u = sa.make_url(url)
        args: dict[str, Any] = dict(connect_args or {})
        if u.drivername in ("postgresql", "postgres"):
            u = u.set(drivername="postgresql+psycopg")
        if u.get_backend_name() == "sqlite":
            if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
                Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            # Several workers may share one file: wait for the lock rather
            # than fail with "database is locked".
            args.setdefault("timeout", 30.0)
        engine = sa.create_engine(u, connect_args=args, **engine_kwargs)
        if u.get_backend_name() == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_on_connect)
        return cls(engine, schema=schema, clock=clock)

    def __repr__(self) -> str:
        shown = self._base_engine.url.render_as_string(hide_password=True)
        return f"Ledger({shown!r}, schema={self.schema!r})"

    def dispose(self) -> None:
        """Close the ledger's connections, when its process is done with it."""
        self._base_engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # --- schema --------------------------------------------------------------

    def create(self) -> None:
        """Create the schema if missing, or bring an older one up to date.

        Safe to call from every worker at boot.
        """
        try:
            self._create()
        except sa.exc.DBAPIError:
            # Two workers booting together can both pass `checkfirst` and
            # race on CREATE; the loser is fine if the table now exists.
            if not self._table_exists():
                raise
        self._add_missing_columns()

    def _create(self) -> None:
        with self._tx() as conn:
            if self.schema is not None:
                conn.execute(sa.schema.CreateSchema(self.schema, if_not_exists=True))
            metadata.create_all(conn, checkfirst=True)

    def _columns(self) -> set[str]:
        with self._base_engine.connect() as conn:
            return {c["name"] for c in sa.inspect(conn).get_columns(TABLE_NAME, schema=self.schema)}

    def _add_missing_columns(self) -> None:
        """Forward-only migration: nullable columns added since a ledger was made.

        One transaction per column, so a worker that loses the race to add
        one (PostgreSQL aborts the whole transaction on the error) simply
        finds it there and goes on with the next.
        """
        present = self._columns()
        table = tasks.name if self.schema is None else f"{self.schema}.{tasks.name}"
        for column in tasks.columns:
            if column.name in present:
                continue
            if not column.nullable:
                raise LedgerUpgradeError(
                    f"ledger column {column.name} cannot be added in place to {table}"
                )
            kind = column.type.compile(dialect=self.engine.dialect)
            default = column.server_default
            if isinstance(default, sa.DefaultClause) and isinstance(default.arg, str):
                kind += f" DEFAULT {default.arg}"
            # PostgreSQL can skip a column another worker added meanwhile; SQLite
            # has no IF NOT EXISTS here, and its writers are serialised anyway.
            guard = " IF NOT EXISTS" if self.engine.dialect.name == "postgresql" else ""
            try:
                with self._tx() as conn:
                    conn.execute(
                        sa.text(f"ALTER TABLE {table} ADD COLUMN{guard} {column.name} {kind}")
                    )
            except sa.exc.DBAPIError as err:
                if column.name in self._columns():
                    continue  # another worker added it first
                raise LedgerUpgradeError(
                    f"cannot add column {column.name} to the ledger table {table}: "
                    f"{str(err.orig).strip().splitlines()[0]} (an older ledger is upgraded in "
                    "place; run once with a user allowed to ALTER TABLE)"
                ) from err

    def _table_exists(self) -> bool:
        with self.engine.connect() as conn:
            return sa.inspect(conn).has_table(TABLE_NAME, schema=self.schema)

    # --- writes --------------------------------------------------------------

    def _insert_if_absent(self, conn: Connection, values: dict[str, Any]) -> bool:
        return conn.execute(_insert_if_absent_stmt(conn.dialect.name), values).rowcount == 1

    @staticmethod
    def _key_clause(workflow_id: str, run_id: str) -> sa.ColumnElement[bool]:
        return sa.and_(tasks.c.workflow_id == workflow_id, tasks.c.run_id == run_id)

    @staticmethod
    def _fill_missing(values: Mapping[str, Any]) -> dict[str, Any]:
        # COALESCE keeps whatever is already stored: the first writer of a
        # start field wins, so replays and late writes cannot rewrite history.
        return {
            name: sa.func.coalesce(tasks.c[name], sa.literal(value, tasks.c[name].type))
            for name, value in values.items()
            if value is not None
        }

    def record_start(self, rec: LedgerStart) -> LedgerWriteResult:
        """Insert a running row, or fill start fields on a row a close created.

        Never touches status, closed_at or usage.
        """
        rec = _revalidate(LedgerStart, rec)
        start = {name: getattr(rec, name) for name in _START_FIELDS}

        def fill(conn: Connection, now: datetime) -> bool:
            # Built only here: almost every start row is inserted, not filled in, and the
            # expression cost more than the insert (bench/overhead.py profile).
            missing = sa.or_(
                *(tasks.c[name].is_(None) for name in _START_FIELDS if start[name] is not None)
            )
            stmt = (
                sa.update(tasks)
                .where(self._key_clause(rec.workflow_id, rec.run_id), missing)
                .values(**self._fill_missing(start), updated_at=now)
            )
            return conn.execute(stmt).rowcount > 0

        return self._write(
            rec.workflow_id, rec.run_id, new_row={**start, "status": "running"}, update=fill
        )

    def record_close(self, rec: LedgerClose) -> LedgerWriteResult:
        """Move a running row to its terminal state (inserting it if the start never landed).

        A row already terminal is left exactly as it is.
        """
        rec = _revalidate(LedgerClose, rec)
        outcome = {name: getattr(rec, name) for name in _CLOSE_FIELDS}
        start = {name: getattr(rec, name) for name in _START_FIELDS}

        def close(conn: Connection, now: datetime) -> bool:
            params = {
                "key_workflow_id": rec.workflow_id,
                "key_run_id": rec.run_id,
                "at_updated_at": now,
                **{f"start_{n}": v for n, v in start.items()},
                **{f"out_{n}": v for n, v in outcome.items()},
            }
            return conn.execute(_CLOSE_RUNNING, params).rowcount > 0

        return self._write(rec.workflow_id, rec.run_id, new_row={**start, **outcome}, update=close)

    def _write(
        self,
        workflow_id: str,
        run_id: str,
        *,
        new_row: dict[str, Any],
        update: Callable[[Connection, datetime], bool],
    ) -> LedgerWriteResult:
        """Insert the run's row if absent, else `update` it (True: a row changed).

        One transaction, keyed by (workflow_id, run_id): a retried or replayed
        write finds its row and changes nothing its update's condition does not allow.
        """
        now = _require_aware("clock()", self._clock())
        with self._tx() as conn:
            row = {"workflow_id": workflow_id, "run_id": run_id, **new_row, "updated_at": now}
            created = self._insert_if_absent(conn, row)
            changed = False if created else update(conn, now)
        return LedgerWriteResult(
            workflow_id=workflow_id, run_id=run_id, created=created, changed=changed
        )

    # --- reads ---------------------------------------------------------------

    def _rows(self, stmt: sa.Select[Any]) -> list[LedgerRow]:
        with self.engine.connect() as conn:
            return [LedgerRow.model_validate(dict(r)) for r in conn.execute(stmt).mappings()]

    def _between(
        self, column: sa.Column[datetime], start_utc: datetime, end_utc: datetime
    ) -> list[LedgerRow]:
        start = _require_aware("start_utc", start_utc)
        end = _require_aware("end_utc", end_utc)
        if end < start:
            raise ValueError(f"end_utc {end.isoformat()} is before start_utc {start.isoformat()}")
        stmt = (
            sa.select(tasks)
            .where(column >= start, column < end)
            .order_by(column, tasks.c.workflow_id, tasks.c.run_id)
        )
        return self._rows(stmt)

    def rows_closed_between(self, start_utc: datetime, end_utc: datetime) -> list[LedgerRow]:
        """Rows with `start_utc <= closed_at < end_utc`, oldest first.

        Half-open, so consecutive windows (e.g. from `weeks.iso_week_bounds`) count
        every row exactly once.
        """
        return self._between(tasks.c.closed_at, start_utc, end_utc)

    def rows_started_between(self, start_utc: datetime, end_utc: datetime) -> list[LedgerRow]:
        """Rows with `start_utc <= started_at < end_utc`, oldest first."""
        return self._between(tasks.c.started_at, start_utc, end_utc)

    def get(self, workflow_id: str, run_id: str | None = None) -> LedgerRow | None:
        """One run; without `run_id`, the most recently started run of the id."""
        stmt = sa.select(tasks).where(tasks.c.workflow_id == workflow_id)
        if run_id is not None:
            stmt = stmt.where(tasks.c.run_id == run_id)
        stmt = stmt.order_by(
            tasks.c.started_at.desc().nulls_last(), tasks.c.updated_at.desc(), tasks.c.run_id
        ).limit(1)
        rows = self._rows(stmt)
        return rows[0] if rows else None

    def runs(self, workflow_id: str) -> list[LedgerRow]:
        """Every recorded run of `workflow_id`, oldest start first."""
        stmt = (
            sa.select(tasks)
            .where(tasks.c.workflow_id == workflow_id)
            .order_by(tasks.c.started_at.nulls_last(), tasks.c.run_id)
        )
        return self._rows(stmt)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    try:
        # WAL lets report reads proceed while a worker writes.
        cur.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL syncs at checkpoints, not at every commit: a
        # killed process loses nothing, an OS crash can lose the last rows,
        # which the weekly audit then reports against Temporal's history
        # (the same trade-off as the embedded server's own database).
        cur.execute("PRAGMA synchronous=NORMAL")
    finally:
        cur.close()
