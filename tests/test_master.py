"""MasterAgentWorkflow end to end on a real dev server and the simulator."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from agentfleet.cli.demo import DEMO_GOAL, seed_workspace
from agentfleet.config import Settings
from agentfleet.contracts.models import MasterInput, MasterResult
from tests.conftest import COMPLEX_GOAL, running_worker
from workflows.master import MasterAgentWorkflow


async def start_master(
    client: Client, settings: Settings, inp: MasterInput, wid: str | None = None
):
    return await client.start_workflow(
        MasterAgentWorkflow.run,
        inp,
        id=wid or f"master-{uuid.uuid4().hex[:10]}",
        task_queue=settings.task_queue,
    )


async def test_demo_goal_builds_a_tree_of_subagents(client: Client, settings: Settings) -> None:
    seed_workspace(settings.workspaces / "ws")
    async with running_worker(client, settings):
        handle = await start_master(client, settings, MasterInput(goal=DEMO_GOAL, workspace="ws"))
        result = await handle.result()
    assert isinstance(result, MasterResult)
    tree = result.tree
    assert tree.workflow_id == handle.id and tree.role == "master"
    completed = [c for c in tree.children if c.status == "completed"]
    assert len(completed) >= 3
    assert all(c.workflow_id.startswith(handle.id + ".") for c in tree.children)
    assert sum(c.tool_calls for c in tree.children) > 0
    # The file effects really happened in the workspace.
    ws = settings.workspaces / "ws"
    assert sorted(p.name for p in (ws / "inbox" / "pdf").iterdir()) == ["report.pdf", "slides.pdf"]
    assert not any(p.is_file() for p in (ws / "inbox").iterdir())
    assert "guide.md" in (ws / "docs" / "INDEX.md").read_text()
    assert "Decided to ship on Friday." in (ws / "notes" / "SUMMARY.md").read_text()
    # Usage rolls up: the root carries at least every child's tokens.
    assert tree.usage.input_tokens >= sum(c.usage.input_tokens for c in tree.children) > 0
    assert tree.usage.llm_calls == 2 + sum(c.usage.llm_calls for c in tree.children)
    for node in tree.walk():
        assert node.started_at is not None and node.started_at.tzinfo is not None
        assert node.started_at.utcoffset() == UTC.utcoffset(None)
        assert node.closed_at is not None and node.closed_at >= node.started_at
    assert tree.output.startswith("Simulated synthesis")


async def test_malformed_plan_is_retried_with_the_error(client: Client, settings: Settings) -> None:
    async with running_worker(client, settings):
        handle = await start_master(
            client, settings, MasterInput(goal=COMPLEX_GOAL + " [sim:malformed-plans=2]")
        )
        result = await handle.result()
    assert result.plan_attempts == 3
    assert result.tree.status == "completed"
    history = await handle.fetch_history()
    llm_inputs = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "agentfleet.llm.chat"
    ]
    payloads = [
        e.activity_task_scheduled_event_attributes.input.payloads[0].data for e in llm_inputs
    ]
    assert any(b"Your plan was invalid" in p for p in payloads)


async def test_malformed_plan_fails_clearly_after_the_bound(
    client: Client, settings: Settings
) -> None:
    async with running_worker(client, settings):
        handle = await start_master(
            client,
            settings,
            MasterInput(goal=COMPLEX_GOAL + " [sim:malformed-plans=9]", max_plan_attempts=2),
        )
        with pytest.raises(WorkflowFailureError) as info:
            await handle.result()
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "InvalidPlan"
    assert "after 2 attempts" in cause.message


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        ({"gaol": 1}, ["'goal'", "'gaol'"]),
        ({"goal": "   "}, ["'goal'", "empty"]),
        ({"goal": "x", "max_depth": "deep"}, ["'max_depth'"]),
        ({"goal": "x", "workspace": "../etc"}, ["'workspace'"]),
    ],
)
async def test_bad_master_input_fails_fast_naming_the_field(
    client: Client, settings: Settings, raw: dict[str, object], fields: list[str]
) -> None:
    async with running_worker(client, settings):
        handle = await client.start_workflow(
            "MasterAgentWorkflow",
            raw,
            id=f"bad-{uuid.uuid4().hex[:8]}",
            task_queue=settings.task_queue,
        )
        t0 = time.monotonic()
        with pytest.raises(WorkflowFailureError) as info:
            await asyncio.wait_for(handle.result(), timeout=10)
        assert time.monotonic() - t0 < 10
    desc = await handle.describe()
    assert desc.status == WorkflowExecutionStatus.FAILED
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "InvalidPayload" and cause.non_retryable
    for f in fields:
        assert f in cause.message


async def test_unknown_model_fails_clearly(client: Client, settings: Settings) -> None:
    async with running_worker(client, settings):
        handle = await start_master(
            client, settings, MasterInput.model_construct(goal="hi", model="gpt-nope")
        )
        with pytest.raises(WorkflowFailureError) as info:
            await asyncio.wait_for(handle.result(), timeout=10)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "InvalidPayload"
    assert "'model'" in cause.message and "gpt-nope" in cause.message


async def test_model_the_api_rejects_fails_the_run_clearly(
    client: Client, settings: Settings
) -> None:
    # Known to our price table but not served by this endpoint: the API's 404
    # fails the run at once instead of being retried or swallowed.
    async with running_worker(client, settings):
        handle = await start_master(
            client, settings, MasterInput(goal="hi", model="claude-haiku-4-5-29991231")
        )
        with pytest.raises(WorkflowFailureError) as info:
            await asyncio.wait_for(handle.result(), timeout=20)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "LlmConfigError"
    assert "404" in cause.message


async def test_missing_workspace_fails_clearly(client: Client, settings: Settings) -> None:
    async with running_worker(client, settings):
        handle = await start_master(client, settings, MasterInput(goal="hi", workspace="nowhere"))
        with pytest.raises(WorkflowFailureError) as info:
            await asyncio.wait_for(handle.result(), timeout=20)
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "WorkspaceMissing"
    assert "nowhere" in cause.message


async def test_turn_cap_returns_a_partial_result(client: Client, settings: Settings) -> None:
    async with running_worker(client, settings):
        handle = await start_master(
            client,
            settings,
            MasterInput(
                goal="List the files in the workspace and describe each one [sim:turns=50]",
                max_turns=3,
            ),
        )
        result = await handle.result()
    workers = [n for n in result.tree.walk() if n.role == "subagent"]
    capped = [n for n in workers if n.status == "partial"]
    assert capped, [n.status for n in workers]
    assert all(n.turns == 3 and "turn cap" in (n.error or "") for n in capped)
    assert result.tree.status == "partial"
