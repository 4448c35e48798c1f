"""Ledger payloads: what the ledger activities take and return.

Pure pydantic, no SQL, so workflow code can build these inside the sandbox.
Naive datetimes are rejected at this boundary and every instant is pinned to
UTC, so equal instants compare and serialise identically.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, StrictBool, model_validator

from agentfleet.contracts.base import Contract, Record, UtcDatetime
from agentfleet.contracts.models import Role, TokenCounts, Verification, VerifyRequest
from agentfleet.contracts.status import LedgerStatus, TerminalStatus

# A count stored as NULL (a row written before its column existed) reads as none counted.
NoneAsZero = Annotated[int, BeforeValidator(lambda v: 0 if v is None else v)]


class LedgerStart(Contract):
    """The ledger row a run opens when it starts: who it is and the estimate it was given."""

    workflow_id: str = Field(min_length=1)
    run_id: str = Field(min_length=1)
    parent_id: str | None = None
    root_id: str = Field(min_length=1)
    role: Role
    depth: int = Field(default=0, ge=0)
    tier: str = ""
    model: str = ""
    title: str = ""
    started_at: UtcDatetime
    # The estimate the delegation decision was made on.
    score: float | None = Field(default=None, ge=0.0, le=1.0)
    est_context_tokens: int | None = Field(default=None, ge=0)
    est_steps: int | None = Field(default=None, ge=0)
    thresholds_version: str | None = None


class LedgerClose(Contract):
    """How a run ended: the ledger's close write, with its spend and its check.

    It may also carry the start fields, so a close whose start never landed still
    makes a usable row.
    """

    workflow_id: str = Field(min_length=1)
    run_id: str = Field(min_length=1)
    status: TerminalStatus
    closed_at: UtcDatetime
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cost_usd: float = Field(default=0.0, ge=0.0)
    cache_creation_input_tokens: int = Field(default=0, ge=0)
    cache_read_input_tokens: int = Field(default=0, ge=0)
    # A root's cost forecast, made before its plan ran.
    forecast_usd: float | None = Field(default=None, ge=0.0)
    failure_reason: str | None = None
    # A parent's delegation outcome: work done inline, subtasks pruned.
    inline_decisions: int | None = Field(default=None, ge=0)
    pruned_count: int | None = Field(default=None, ge=0)
    turns: int | None = Field(default=None, ge=0)
    tool_calls: int | None = Field(default=None, ge=0)
    # The completion check (models.Verification): None when none ran.
    verified: bool | None = None
    verify_mode: Literal["files", "answer_only"] | None = None
    verify_checked: int | None = Field(default=None, ge=0)
    verify_missing: list[str] | None = None
    # Optional copies of the start fields: if the start write never landed,
    # the close alone still yields a usable row. Ignored when a start exists.
    parent_id: str | None = None
    root_id: str | None = None
    role: Role | None = None
    depth: int | None = Field(default=None, ge=0)
    tier: str | None = None
    model: str | None = None
    title: str | None = None
    started_at: UtcDatetime | None = None
    score: float | None = None
    est_context_tokens: int | None = None
    est_steps: int | None = None
    thresholds_version: str | None = None

    @model_validator(mode="after")
    def _closed_after_started(self) -> LedgerClose:
        if self.started_at is not None and self.closed_at < self.started_at:
            raise ValueError(
                f"closed_at {self.closed_at.isoformat()} is before "
                f"started_at {self.started_at.isoformat()}"
            )
        return self


def verification_columns(v: Verification | None) -> dict[str, object]:
    """The completion check's outcome as a close row's columns; none when no check ran."""
    if v is None:
        return {}
    return {
        "verified": v.passed,
        "verify_mode": v.mode,
        "verify_checked": len(v.checked),
        "verify_missing": list(v.missing) or None,
    }


class CheckedClose(Contract):
    """An agent that stopped as if done: check its work, then write its close row.

    One local activity instead of two: the row's status, reason and check columns
    are the check's outcome (`agentfleet.verification.settle`), filled in by the
    activity; `close` carries everything else.
    """

    check: VerifyRequest
    close: LedgerClose


class CheckedCloseResult(Record):
    """The check's outcome, and whether the ledger took the row."""

    verification: Verification
    # Set when the ledger refused the row for good (an invalid record); the work's
    # outcome stands, and the weekly audit names the missing row.
    ledger_refused: str | None = None


class _RowPlace(TokenCounts):
    """A ledger row's run, and its place in the task tree.

    Only the ids are sure to be there: a close whose start never landed leaves the rest NULL.
    """

    workflow_id: str
    run_id: str
    parent_id: str | None = None
    root_id: str | None = None
    role: Role | None = None
    depth: int | None = None


class _RowRun(_RowPlace):
    """What ran and how it went: tier and model, status, spend, and when it started and closed.

    `updated_at` is the row's last write, by the start or the close.
    """

    tier: str | None = None
    model: str | None = None
    status: LedgerStatus
    # NULL in a row written before the column existed: nothing was cached.
    cache_creation_input_tokens: NoneAsZero = 0
    cache_read_input_tokens: NoneAsZero = 0
    forecast_usd: float | None = None
    started_at: UtcDatetime | None = None
    closed_at: UtcDatetime | None = None
    failure_reason: str | None = None
    title: str | None = None
    updated_at: UtcDatetime


class LedgerRow(_RowRun):
    """One ledger row as read back: a run's start and close, all instants in UTC.

    The rest are what the close reported: delegation, the estimate, the loop's size and the check.
    """

    inline_decisions: int | None = None
    pruned_count: int | None = None
    score: float | None = None
    est_context_tokens: int | None = None
    est_steps: int | None = None
    turns: int | None = None
    tool_calls: int | None = None
    thresholds_version: str | None = None
    # Strict: a stored "yes" must not read as a passing check (ledger.CheckFlag).
    verified: StrictBool | None = None
    verify_mode: str | None = None
    verify_checked: int | None = None
    verify_missing: list[str] | None = None

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to close; None while either end is unknown."""
        if self.started_at is None or self.closed_at is None:
            return None
        return (self.closed_at - self.started_at).total_seconds()


class LedgerWriteResult(Record):
    """What a ledger write did, so a retried activity can tell a replay from a change."""

    workflow_id: str
    run_id: str
    # True if this call inserted the row; False for a retry or replay.
    created: bool
    # True if this call changed an existing row (filled a missing start, or
    # closed a running run). A retried write reports created=changed=False.
    changed: bool = False
