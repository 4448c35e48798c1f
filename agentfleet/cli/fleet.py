"""`agentfleet fleet submit|status`: the 24/7 fleet from the command line.

The fleet is one long-lived FleetWorkflow (id `agentfleet-fleet` by default).
`submit` starts it when it is not running (USE_EXISTING makes concurrent first
submits converge on one fleet) and queues the goal through the `submit` update,
so a rejected goal is reported at once with the fleet's reason.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pydantic
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from agentfleet.cli.commands import temporal_client
from agentfleet.cli.output import emit_json
from agentfleet.config import Settings
from agentfleet.contracts.fleet import FLEET_ID, FleetInput, FleetStatus, FleetSubmit
from agentfleet.contracts.workflows import FLEET_WORKFLOW, GOVERNOR_WORKFLOW
from agentfleet.errors import CliError
from agentfleet.governance.models import GovernorStatus
from agentfleet.reporting.render import workflow_url

# A fleet that drained and closed between our start and our update is started
# again; an update the server aborted (WorkflowNotReady, a worker just died) is
# sent again. Ten tries is a few seconds: more means something else is wrong.
_SUBMIT_ATTEMPTS = 10


async def _ensure_fleet(
    client: Client, settings: Settings, fleet_id: str
) -> WorkflowHandle[Any, FleetStatus]:
    return await client.start_workflow(
        FLEET_WORKFLOW,
        FleetInput(),
        id=fleet_id,
        task_queue=settings.task_queue,
        result_type=FleetStatus,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary="agentfleet fleet · goals queued by `agentfleet fleet submit`",
    )


async def fleet_submit(
    settings: Settings,
    goal: str,
    *,
    as_json: bool = False,
    task_id: str | None = None,
    fleet_id: str = FLEET_ID,
    priority: int | None = None,
    fairness_key: str | None = None,
) -> int:
    """Queue `goal` on the fleet, starting the fleet when none runs.

    A goal the fleet refuses is reported at once, with the fleet's reason.
    """
    try:
        req = FleetSubmit(goal=goal, task_id=task_id, priority=priority, fairness_key=fairness_key)
        req.master_input()
    except (pydantic.ValidationError, ValueError) as err:
        raise CliError(f"invalid goal: {err}") from None
    client = await temporal_client(settings)
    submitted: str | None = None
    for attempt in range(1, _SUBMIT_ATTEMPTS + 1):
        handle = await _ensure_fleet(client, settings, fleet_id)
        try:
            submitted = await handle.execute_update("submit", req, result_type=str)
            break
        except WorkflowUpdateFailedError as err:
            reason = getattr(err.cause, "message", None) or str(err.cause or err)
            raise CliError(f"the fleet refused the goal: {reason}") from None
        except RPCError as err:
            if not _retryable(err) or attempt == _SUBMIT_ATTEMPTS:
                raise CliError(f"could not submit to fleet {fleet_id!r}: {err.message}") from None
            if req.task_id is None:
                # Pinned before the retry: were the aborted attempt applied after all,
                # the fleet would see the same id again and not queue the goal twice.
                req = req.model_copy(update={"task_id": f"{fleet_id}-cli-{uuid.uuid4().hex[:12]}"})
            await asyncio.sleep(min(0.2 * attempt, 2.0))
    assert submitted is not None
    doc = {
        "fleet_id": fleet_id,
        "task_id": submitted,
        "ui_url": workflow_url(settings.ui_url, settings.temporal_namespace, submitted),
    }
    if as_json:
        emit_json(doc)
    else:
        print(f"queued {submitted} on {fleet_id}\n{doc['ui_url']}")
    return 0


async def fleet_status(
    settings: Settings, *, as_json: bool = False, fleet_id: str = FLEET_ID
) -> int:
    """Show the fleet's queue, what is in flight, its totals, and the LLM governors."""
    client = await temporal_client(settings)
    handle = client.get_workflow_handle(fleet_id)
    try:
        status = await handle.query("status", result_type=FleetStatus)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            raise CliError(
                f"no fleet {fleet_id!r}; start one with `agentfleet fleet submit GOAL`"
            ) from None
        raise CliError(f"could not query fleet {fleet_id!r}: {err.message}") from None
    governors = await governor_statuses(client)
    if as_json:
        emit_json(
            {
                **status.model_dump(mode="json"),
                "governors": [g.model_dump(mode="json") for g in governors],
                "ui_url": workflow_url(settings.ui_url, settings.temporal_namespace, fleet_id),
            }
        )
    else:
        s = status.stats
        print(f"fleet {status.fleet_id}: {status.state}, at most {status.max_concurrent} at once")
        print(f"  queued {status.queued}, in flight {len(status.in_flight)}")
        print(
            f"  submitted {s.submitted}, done {s.finished} (completed {s.completed}, "
            f"unverified {s.unverified}, partial {s.partial}, failed {s.failed}), "
            f"duplicates {s.duplicates}, "
            f"rejected {s.rejected}, runs {s.runs}"
        )
        for task_id in status.in_flight:
            print(f"  running {task_id}")
        for g in governors:
            breaker: str = g.breaker
            if g.breaker == "open":
                breaker += f" for another {g.breaker_open_for_s:.0f} s"
            t = g.totals
            print(
                f"  governor {g.model}: breaker {breaker}, waiting {g.queue_depth}, "
                f"leases {g.in_flight}, granted {t.granted}, 429s {t.rate_limited}, "
                f"529s {t.overloaded}, expired {t.expired}"
            )
        print(workflow_url(settings.ui_url, settings.temporal_namespace, fleet_id))
    return 0


async def governor_statuses(client: Client) -> list[GovernorStatus]:
    """Every running LLM governor (one per governed model), as it answers its query."""
    out: list[GovernorStatus] = []
    query = f"WorkflowType = '{GOVERNOR_WORKFLOW}' AND ExecutionStatus = 'Running'"
    try:
        async for wf in client.list_workflows(query):
            try:
                handle = client.get_workflow_handle(wf.id)
                out.append(await handle.query("status", result_type=GovernorStatus))
            except RPCError:
                continue  # handing over to its next run, or just closed
    except RPCError:
        return out
    return sorted(out, key=lambda g: g.model)


def _retryable(err: RPCError) -> bool:
    """Whether the server says to send the update again.

    It does when the fleet is being (re)started, or when it aborted the update
    because the workflow task that would take it failed (a worker just died).
    """
    if err.status == RPCStatusCode.NOT_FOUND:
        return True
    return err.status == RPCStatusCode.FAILED_PRECONDITION and "WorkflowNotReady" in repr(
        err.raw_grpc_status
    )
