"""The LLM activity's side of the governor: acquire a lease, settle it.

Everything happens inside the activity, with the worker's client: a workflow
that calls the LLM activity knows nothing about governors, so no workflow gains
a command and no history needs a patch. The governor is started on first use
(Update-with-Start, USE_EXISTING), so there is nothing to deploy or schedule.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from temporalio import activity
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import Priority, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from agentfleet.governance.limits import GovernorConfig
from agentfleet.governance.models import (
    DEFAULT_PRIORITY,
    GovernorInput,
    LeaseGrant,
    LeaseRequest,
    LeaseSettle,
    ModelLimitsSpec,
)

log = logging.getLogger("agentfleet.governor")

GOVERNOR_WORKFLOW = "LlmGovernorWorkflow"
# The governor refuses acquires only while it hands over to its next run, which
# takes one workflow task: ask again soon.
_HANDOVER_PAUSE_S = 0.1
# The validator's words for it (workflows/governor.py).
HANDOVER_REASON = "continuing as new"


def _aborted(err: RPCError) -> bool:
    """An Update the governor could not take just now, and its next workflow task
    (or its next run, after continue-as-new) will: aborted as the run closed
    (UNAVAILABLE, ABORTED) or refused while its workflow task was lost in that race
    (FAILED_PRECONDITION, "not ready"). The lease wait's own deadline in the LLM
    activity bounds how long we keep asking."""
    return err.status in (
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.ABORTED,
        RPCStatusCode.FAILED_PRECONDITION,
    ) or ("update was aborted" in err.message)


class Governor:
    def __init__(self, config: GovernorConfig, client: Client | None = None) -> None:
        self.config = config
        self._client = client

    def limits_for(self, model: str) -> ModelLimitsSpec | None:
        return self.config.for_model(model)

    def client(self) -> Client:
        return self._client or activity.client()

    async def acquire(self, req: LeaseRequest, task_queue: str) -> LeaseGrant:
        """Ask until the lease is granted (or the breaker refuses it).

        The governor keeps a few callers waiting inside the Update and tells the
        rest when to ask again; the place in line is kept by the lease id, also
        across the governor's continue-as-new.
        """
        client = self.client()
        busy = 0
        while True:
            # An operation object is good for one call only.
            start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
                GOVERNOR_WORKFLOW,
                GovernorInput(model=req.model, limits=req.limits or ModelLimitsSpec()),
                id=self.config.governor_id(req.model),
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                static_summary=f"LLM governor · {req.model}",
                # Every LLM call of every goal waits on its tasks: they go first.
                priority=Priority(priority_key=1),
            )
            try:
                grant: LeaseGrant = await client.execute_update_with_start_workflow(
                    "acquire", req, start_workflow_operation=start, result_type=LeaseGrant
                )
            except WorkflowUpdateFailedError as err:
                reason = str(getattr(err.cause, "message", err.cause))
                if HANDOVER_REASON not in reason:
                    raise RuntimeError(f"the governor refused the lease: {reason}") from None
                # Refused by the validator while the governor continues as new.
                await asyncio.sleep(_HANDOVER_PAUSE_S)
                continue
            except WorkflowUpdateRPCTimeoutOrCancelledError:
                # The call outlived its RPC deadline while it waited in line: ask again.
                continue
            except RPCError as err:
                if _aborted(err):
                    # The run that took the Update closed (continue-as-new) before it
                    # answered; the lease id keeps our place with the next run.
                    await asyncio.sleep(random.uniform(_HANDOVER_PAUSE_S / 2, _HANDOVER_PAUSE_S))
                    continue
                if err.status != RPCStatusCode.RESOURCE_EXHAUSTED:
                    raise
                # Too many Updates in flight on the governor: back off, with jitter
                # so the callers do not come back together; an urgent call only
                # briefly, or it would lose the turn its priority gives it.
                busy = min(busy + 1, 1 if req.priority < DEFAULT_PRIORITY else 3)
                await asyncio.sleep(random.uniform(0.02, 0.05 * 2**busy))
                continue
            busy = 0
            if grant.granted or grant.breaker_open:
                return grant
            if not grant.retry_now:
                await asyncio.sleep(grant.retry_after_s)

    async def settle(self, model: str, s: LeaseSettle) -> None:
        """Fire and forget: a lost settle costs capacity until the lease expires, no more."""
        try:
            await (
                self.client()
                .get_workflow_handle(self.config.governor_id(model))
                .signal("settle", s)
            )
        except RPCError as err:
            log.warning("could not settle lease %s with %s: %s", s.lease_id, model, err.message)
