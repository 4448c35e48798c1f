"""Delegation end to end: inline work, tree budgets, receipts, subtree control."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError

from agentfleet.cli.demo import DEMO_GOAL, seed_workspace
from agentfleet.config import Settings
from agentfleet.contracts.models import (
    Budget,
    ControlRequest,
    ControlResult,
    MasterInput,
    MasterResult,
    SubtreeControl,
)
from agentfleet.ledger.store import Ledger
from tests.conftest import running_worker
from workflows.master import MasterAgentWorkflow


async def _run(client: Client, settings: Settings, inp: MasterInput) -> MasterResult:
    handle = await client.start_workflow(
        MasterAgentWorkflow.run,
        inp,
        id=f"deleg-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
    )
    return await handle.result()


async def _children_started(client: Client, root_id: str) -> list[str]:
    return [
        w.id
        async for w in client.list_workflows(
            f"WorkflowId STARTS_WITH '{root_id}.' AND WorkflowType = 'SubAgentWorkflow'"
        )
    ]


async def test_trivial_goal_spawns_no_child_workflow(client: Client, settings: Settings) -> None:
    async with running_worker(client, settings):
        result = await _run(client, settings, MasterInput(goal="What is the capital of France?"))
    tree = result.tree
    assert tree.tier == "trivial"
    assert tree.status == "completed"
    assert [c.role for c in tree.children] == ["inline"]
    assert tree.usage.llm_calls == 1 and len(tree.receipts) == 1
    assert result.plan is None
    assert await _children_started(client, tree.workflow_id) == []


async def test_simple_goal_is_one_subagent_on_the_small_model_with_no_plan(
    client: Client, settings: Settings
) -> None:
    seed_workspace(settings.workspaces / "ws")
    async with running_worker(client, settings):
        result = await _run(
            client, settings, MasterInput(goal="Sort the files in inbox/ by type", workspace="ws")
        )
    tree = result.tree
    assert tree.tier == "simple" and result.plan is None
    (child,) = tree.children
    assert child.role == "subagent" and child.model == "claude-haiku-4-5"
    assert child.status == "completed" and child.tool_calls > 0
    # No plan call and no synthesis call: every LLM call is the sub-agent's.
    assert tree.receipts == []
    assert await _children_started(client, tree.workflow_id) == [child.workflow_id]


async def test_complex_goal_prunes_the_planner_habit_and_records_it(
    client: Client, settings: Settings
) -> None:
    seed_workspace(settings.workspaces / "ws")
    async with running_worker(client, settings):
        result = await _run(client, settings, MasterInput(goal=DEMO_GOAL, workspace="ws"))
    tree = result.tree
    assert result.plan is not None
    titles = [s.title for s in result.plan.subtasks]
    assert "Plan the approach" in titles and "Validate the results" in titles
    actions = {p.title: p.action for p in tree.pruned}
    assert actions == {
        "Plan the approach": "stripped_plan",
        "Validate the results": "stripped_validate",
    }
    assert all(p.reason for p in tree.pruned)
    assert len(tree.children) == 4
    assert len(tree.decisions) == 4
    assert {d.decision for d in tree.decisions} == {"spawn"}
    assert len(await _children_started(client, tree.workflow_id)) == 4


async def test_budget_exhaustion_stops_the_tree_and_receipts_add_up(
    client: Client, settings: Settings, sim
) -> None:
    seed_workspace(settings.workspaces / "ws")
    # Failed attempts are part of the record: the first call is rejected once.
    sim.enqueue_faults([{"status": 529}])
    async with running_worker(client, settings):
        result = await _run(
            client,
            settings,
            MasterInput(goal=DEMO_GOAL, workspace="ws", budget=Budget(tokens=3000, usd=1.0)),
        )
    tree = result.tree
    nodes = tree.walk()
    exhausted = [n for n in nodes if n.status == "budget_exhausted"]
    assert exhausted, [(n.workflow_id, n.status) for n in nodes]
    assert tree.status == "budget_exhausted"
    for n in exhausted:
        assert n.error and "budget exhausted" in n.error
    receipts = [r for n in nodes for r in n.receipts]
    assert any(not r.ok and r.cost_usd == 0 for r in receipts)
    assert sum(r.cost_usd for r in receipts) == pytest.approx(tree.usage.cost_usd, abs=1e-7)
    assert sum(r.input_tokens for r in receipts) == tree.usage.input_tokens
    assert sum(r.output_tokens for r in receipts) == tree.usage.output_tokens
    assert sum(1 for r in receipts if r.ok) == tree.usage.llm_calls


async def test_ledger_records_every_node_in_utc(client: Client, settings: Settings) -> None:
    seed_workspace(settings.workspaces / "ws")
    async with running_worker(client, settings):
        result = await _run(client, settings, MasterInput(goal=DEMO_GOAL, workspace="ws"))
    ledger = Ledger.from_url(settings.ledger_url)
    workflows = [n for n in result.tree.walk() if n.role != "inline"]
    for node in workflows:
        (row,) = ledger.runs(node.workflow_id)
        assert row.status == node.status
        assert row.root_id == result.tree.workflow_id
        assert row.started_at is not None and row.closed_at is not None
        assert (
            row.closed_at.utcoffset() is not None and row.closed_at.utcoffset().total_seconds() == 0
        )
        assert row.input_tokens == node.usage.input_tokens
    assert ledger.get(result.tree.workflow_id).role == "master"  # type: ignore[union-attr]


async def test_parent_can_cancel_a_subtree_by_update(
    client: Client, settings: Settings, sim
) -> None:
    seed_workspace(settings.workspaces / "ws")
    async with running_worker(client, settings):
        handle = await client.start_workflow(
            MasterAgentWorkflow.run,
            MasterInput(goal=DEMO_GOAL, workspace="ws"),
            id=f"ctl-{uuid.uuid4().hex[:8]}",
            task_queue=settings.task_queue,
        )
        sim.enqueue_faults([{"latency_ms": 1500}] * 8)
        target = f"{handle.id}.1"
        for _ in range(100):
            if target in await _children_started(client, handle.id):
                break
            await asyncio.sleep(0.1)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                MasterAgentWorkflow.control_subtree,
                SubtreeControl(workflow_id="not-mine", action="cancel"),
            )
        done = await handle.execute_update(
            MasterAgentWorkflow.control_subtree,
            SubtreeControl(workflow_id=target, action="cancel", reason="operator"),
        )
        assert done.state == "cancel"
        result = await handle.result()
    node = next(n for n in result.tree.children if n.workflow_id == target)
    assert node.status == "canceled", (node.status, node.turns)
    assert "operator" in (node.error or "")
    assert node.turns < 3
    assert result.tree.status == "partial"


async def test_paused_subagent_waits_then_resumes(client: Client, settings: Settings, sim) -> None:
    seed_workspace(settings.workspaces / "ws")
    async with running_worker(client, settings):
        handle = await client.start_workflow(
            MasterAgentWorkflow.run,
            MasterInput(goal="Sort the files in inbox/ by type", workspace="ws"),
            id=f"pause-{uuid.uuid4().hex[:8]}",
            task_queue=settings.task_queue,
        )
        sim.enqueue_faults([{"latency_ms": 1000}])
        target = f"{handle.id}.1"
        for _ in range(100):
            if target in await _children_started(client, handle.id):
                break
            await asyncio.sleep(0.1)
        child = client.get_workflow_handle(target)
        paused = await child.execute_update(
            "control", ControlRequest(action="pause"), result_type=ControlResult
        )
        assert paused.state == "paused"
        calls_while_paused = sim.stats()["requests"]
        await asyncio.sleep(2.0)
        # Paused at a turn boundary: no new LLM call was made meanwhile.
        assert sim.stats()["requests"] <= calls_while_paused + 1
        resumed = await child.execute_update(
            "control", ControlRequest(action="resume"), result_type=ControlResult
        )
        assert resumed.state == "running"
        result = await handle.result()
    assert result.tree.children[0].status == "completed"


async def test_naive_strategy_reproduces_the_over_decomposing_baseline(
    client: Client, settings: Settings
) -> None:
    seed_workspace(settings.workspaces / "ws")
    async with running_worker(client, settings):
        result = await _run(
            client, settings, MasterInput(goal=DEMO_GOAL, workspace="ws", strategy="naive")
        )
    tree = result.tree
    titles = [c.title for c in tree.children]
    assert titles[0] == "Plan the approach" and titles[-1] == "Validate the results"
    assert len(titles) == 6 and tree.pruned == []
    assert all(c.role == "subagent" for c in tree.children)
