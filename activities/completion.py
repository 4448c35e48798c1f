"""The completion check and the close row of an agent that stopped as if done.

Both used to be local activities of their own, one after the other: two markers in
the agent's history and two more activations of its workflow. Together they are one
(bench/overhead.py measured the difference). The check still decides the row: the
status, the reason and the check columns written are the outcome this call returns.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.ledger import write_row
from activities.tools import ToolActivities
from agentfleet.contracts.activities import CHECKED_CLOSE_ACTIVITY
from agentfleet.contracts.ledger import (
    CheckedClose,
    CheckedCloseResult,
    verification_columns,
)
from agentfleet.contracts.models import Verification
from agentfleet.ledger.store import Ledger
from agentfleet.verification.verdict import settle

# A check that raised this many times is a failed check: the same five attempts the
# check had as an activity of its own (workflows/_calls.py, TOOL_RETRY).
CHECK_ATTEMPTS = 5


class CompletionActivities:
    """The check of a finished agent's work and its close row, written from the outcome."""

    def __init__(self, tools: ToolActivities, ledger: Ledger) -> None:
        self._tools = tools
        self._ledger = ledger

    @activity.defn(name=CHECKED_CLOSE_ACTIVITY)
    async def check_and_close(self, req: CheckedClose) -> CheckedCloseResult:
        """Check the workspace, then write the close row that the outcome decides.

        A database that is down raises, and the whole call is retried: the check is a
        read, so running it again is harmless, and the row always matches the outcome
        returned with it.
        """
        outcome = await self._check(req)
        status, reason = settle(outcome)
        row = req.close.model_copy(
            update={"status": status, "failure_reason": reason, **verification_columns(outcome)}
        )
        try:
            await write_row(self._ledger.record_close, row)
        except ApplicationError as err:
            if not err.non_retryable:
                raise
            return CheckedCloseResult(verification=outcome, ledger_refused=err.message)
        return CheckedCloseResult(verification=outcome)

    async def _check(self, req: CheckedClose) -> Verification:
        """The check's outcome; a check that cannot run is a failed check, never a pass."""
        try:
            return await self._tools.verify(req.check)
        except Exception as err:
            final = isinstance(err, ApplicationError) and err.non_retryable
            if not final and activity.info().attempt < CHECK_ATTEMPTS:
                raise
            why = (
                err.message if isinstance(err, ApplicationError) else f"{type(err).__name__}: {err}"
            )
            return _not_run(why)


def _not_run(why: str) -> Verification:
    return Verification(mode="files", passed=False, reason=f"the check could not run: {why}")
