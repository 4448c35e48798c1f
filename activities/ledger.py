"""Temporal activities that write the task ledger.

Retry policy is decided by the error: a database that is down or locked is
worth retrying (the exception propagates and Temporal's retry policy applies),
while a record that is invalid will be invalid on every attempt, so it fails
once, non-retryably, with type `InvalidLedgerRecord`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities._beat import short_beating
from agentfleet.config import Settings
from agentfleet.contracts.activities import LEDGER_CLOSE_ACTIVITY, LEDGER_START_ACTIVITY
from agentfleet.ledger.store import (
    InvalidLedgerRecord,
    Ledger,
    LedgerClose,
    LedgerStart,
    LedgerWriteResult,
    open_ledger,
)

__all__ = ["INVALID_LEDGER_RECORD", "LedgerActivities", "LedgerOnDemand", "LedgerWriteResult"]

INVALID_LEDGER_RECORD = "InvalidLedgerRecord"

R = TypeVar("R")


class LedgerActivities:
    """The two rows of every agent: written by workflows through these activities."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    @activity.defn(name=LEDGER_START_ACTIVITY)
    async def record_start(self, rec: LedgerStart) -> LedgerWriteResult:
        """The start row, written as the agent starts (an idempotent upsert)."""
        return await write_row(self._ledger.record_start, rec)

    @activity.defn(name=LEDGER_CLOSE_ACTIVITY)
    async def record_close(self, rec: LedgerClose) -> LedgerWriteResult:
        """The close row, with the outcome and the spend (an idempotent upsert)."""
        return await write_row(self._ledger.record_close, rec)


class LedgerOnDemand:
    """The ledger the report and the audit read, opened on first use.

    Given none, it is the one `AGENTFLEET_LEDGER_URL` names (else SQLite in
    `$AGENTFLEET_HOME`); the worker shares its own with them.
    """

    def __init__(self, settings: Settings, ledger: Ledger | None = None) -> None:
        self._settings = settings
        self._ledger = ledger

    def get(self) -> Ledger:
        """The ledger, opened now if this is the first use."""
        if self._ledger is None:
            self._ledger = open_ledger(self._settings.ledger_url)
        return self._ledger


async def write_row(fn: Callable[[R], LedgerWriteResult], rec: R) -> LedgerWriteResult:
    """Write off the event loop; a record no retry can fix fails once, non-retryably."""
    try:
        # The store is synchronous SQLAlchemy; keep it off the event loop so
        # a slow database never stalls other activities on this worker. A slow write
        # beats: the row runs under a 2 s heartbeat timeout, so a dead worker's row is
        # retried within seconds, not after its 15 s (issue #18).
        return await short_beating(asyncio.to_thread(fn, rec))
    except (InvalidLedgerRecord, ValidationError) as err:
        raise ApplicationError(str(err), type=INVALID_LEDGER_RECORD, non_retryable=True) from err
    except (sa.exc.IntegrityError, sa.exc.DataError) as err:
        # The database itself rejected the values (a constraint, or a string
        # PostgreSQL cannot store such as one with a NUL byte): retrying the
        # same payload cannot succeed.
        raise ApplicationError(
            f"database rejected ledger record: {err.orig}",
            type=INVALID_LEDGER_RECORD,
            non_retryable=True,
        ) from err
