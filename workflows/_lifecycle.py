"""The ledger bracket around every agent workflow: a start row, then a close row.

The start write is not awaited before the agent's first steps; the close write
is awaited before the workflow returns, so a finished task can never be
missing from the ledger. Since PATCH_LEDGER_LOCAL both are local activities
(a few milliseconds of SQLite inside the workflow task, instead of two
activity round trips through the server and two more workflow tasks).
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.ledger import (
        CheckedClose,
        LedgerClose,
        LedgerStart,
        verification_columns,
    )
    from agentfleet.contracts.models import Record, Role, Usage, Verification, VerifyRequest
    from agentfleet.delegation.complexity import ComplexityScore
    from agentfleet.ledger import outbox


from workflows._calls import checked_close, ledger_write

# Guards the switch from ledger activities to local activities: histories
# recorded before it replay with the activities they scheduled.
PATCH_LEDGER_LOCAL = "agentfleet-ledger-local-1"

# The spend a close row carries, named as in `Usage` (calls are counted by the receipts).
USAGE_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


class Estimate(Record):
    """What the delegation decision assumed, kept next to the outcome."""

    score: float | None = None
    est_context_tokens: int | None = None
    est_steps: int | None = None
    thresholds_version: str | None = None

    @classmethod
    def of(cls, score: ComplexityScore) -> Estimate:
        """What a complexity score predicted, under the thresholds it was scored with."""
        return cls(
            score=score.score,
            est_context_tokens=score.est_context_tokens,
            est_steps=score.est_steps,
            thresholds_version=score.thresholds_version,
        )


class Lifecycle:
    """One agent's two ledger rows: `begin` writes the start, `end` the close.

    `node_id` keys inline work, which has no workflow of its own; every other
    agent is keyed by its workflow id and run id.
    """

    def __init__(
        self,
        role: Role,
        *,
        root_id: str,
        parent_id: str | None,
        depth: int,
        model: str,
        title: str,
        tier: str = "",
        estimate: Estimate | None = None,
        node_id: str | None = None,
    ) -> None:
        info = workflow.info()
        # Inline work has no workflow of its own: its row is keyed by its node
        # id under the master's run, and it starts when the master starts it.
        self._ids = {"workflow_id": node_id or info.workflow_id, "run_id": info.run_id}
        self._start = LedgerStart(
            **self._ids,
            parent_id=parent_id,
            root_id=root_id,
            role=role,
            depth=depth,
            tier=tier,
            model=model,
            title=title[:500],
            # The execution's original start, as visibility records it: not
            # the time of this replay, nor of the first workflow task.
            started_at=workflow.now() if node_id else info.workflow_start_time,
            **(estimate.model_dump() if estimate else {}),
        )
        self._start_write: asyncio.Task[Any] | None = None
        self._local = False
        self._closed = False

    def begin(self, *, local: bool | None = None, posted: bool = False) -> None:
        """Start the start row's write, not awaited: the agent's first steps go on meanwhile.

        `local` is decided by the caller's own patch when it has one covering this.
        `posted` (a patch of the caller's too) hands the row to the worker instead of
        an activity (agentfleet/ledger/outbox.py); the close row is then local.
        """
        if posted:
            self._local = True
            outbox.post(self._start)
            return
        self._local = workflow.patched(PATCH_LEDGER_LOCAL) if local is None else local
        self._start_write = asyncio.ensure_future(ledger_write(self._start, local=self._local))

    async def end_checked(
        self, check: VerifyRequest, usage: Usage, **counts: int | None
    ) -> Verification:
        """Check the work of an agent that stopped as if done, and close its row, in one call.

        `counts` are the close row's counts, named as `end` takes them (turns, tool_calls,
        pruned_count). The row's status, reason and check columns are the check's outcome,
        returned here; a later `end` writes nothing more.
        """
        close = await self._close_row("completed", usage, dict(counts))
        outcome = await checked_close(CheckedClose(check=check, close=close))
        self._closed = True
        return outcome

    async def end(
        self,
        status: str,
        usage: Usage,
        reason: str | None = None,
        *,
        inline_decisions: int | None = None,
        pruned_count: int | None = None,
        turns: int | None = None,
        tool_calls: int | None = None,
        verification: Verification | None = None,
        forecast_usd: float | None = None,
    ) -> None:
        """Write the close row (awaited: a finished task is never missing from the ledger).

        It repeats the start row's fields, so the row is whole even if the start
        write never landed. Nothing more is written after `end_checked`.
        """
        if self._closed:
            return
        fields = {
            "failure_reason": reason,
            "turns": turns,
            "tool_calls": tool_calls,
            "forecast_usd": forecast_usd,
            "inline_decisions": inline_decisions,
            "pruned_count": pruned_count,
            **verification_columns(verification),
        }
        close = await self._close_row(status, usage, fields)
        await ledger_write(close, local=self._local)

    async def _close_row(self, status: str, usage: Usage, fields: dict[str, Any]) -> LedgerClose:
        """The close row: the start row's fields, the status, the spend and `fields`.

        Built once the start write is done, so a close never overtakes its start.
        """
        if self._start_write is not None:
            await self._start_write
        start = self._start.model_dump(exclude={"workflow_id", "run_id"})
        return LedgerClose(
            **self._ids,
            **start,
            status=status,
            closed_at=workflow.now(),
            **usage.model_dump(include=set(USAGE_COLUMNS)),
            **fields,
        )
