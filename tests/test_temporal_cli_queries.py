"""Finding agents with Temporal's own CLI, through the custom search attributes.

Every agent workflow carries AgentRole (master, subagent, fleet), AgentTier,
AgentDepth (int; the master is 0) and RootTaskId (the master's workflow id), so
one List Filter answers "which sub-agents did this task start?".
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from temporalio.client import Client

from agentfleet.cli.demo import DEMO_GOAL, seed_workspace
from agentfleet.cli.devserver import temporal_binary
from agentfleet.config import Settings
from agentfleet.contracts.models import MasterInput, MasterResult
from tests.conftest import COMPLEX_GOAL, running_worker
from workflows.master import MasterAgentWorkflow


async def temporal_list(settings: Settings, query: str) -> list[dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        str(temporal_binary()),
        "workflow",
        "list",
        "--address",
        settings.temporal_address,
        "--namespace",
        settings.temporal_namespace,
        "--query",
        query,
        "--output",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    text = out.decode().strip()
    if not text:
        return []
    doc = json.loads(text) if text.startswith("[") else [json.loads(x) for x in text.splitlines()]
    return list(doc)


def ids(rows: list[dict[str, Any]]) -> set[str]:
    return {r["execution"]["workflowId"] for r in rows}


async def listed(settings: Settings, query: str, expected: set[str]) -> set[str]:
    """Visibility lags the close of a workflow: poll briefly for the expected set."""
    found: set[str] = set()
    for _ in range(50):
        found = ids(await temporal_list(settings, query))
        if found == expected:
            break
        await asyncio.sleep(0.2)
    return found


async def test_list_filter_finds_exactly_the_subagents_of_one_run(
    client: Client, settings: Settings
) -> None:
    seed_workspace(settings.workspaces / "ws")
    async with running_worker(client, settings):
        handles = [
            await client.start_workflow(
                MasterAgentWorkflow.run,
                inp,
                id=f"cli-query-{uuid.uuid4().hex[:8]}",
                task_queue=settings.task_queue,
            )
            for inp in (MasterInput(goal=DEMO_GOAL, workspace="ws"), MasterInput(goal=COMPLEX_GOAL))
        ]
        results: list[MasterResult] = [await h.result() for h in handles]

    root, other = handles[0].id, handles[1].id
    tree = results[0].tree
    subagents = {n.workflow_id for n in tree.walk() if n.role == "subagent"}
    assert len(subagents) >= 3, "the demo goal is planned into several sub-agents"

    query = f"AgentRole='subagent' AND RootTaskId='{root}'"
    assert await listed(settings, query, subagents) == subagents, (
        "sub-agents must carry AgentRole='subagent' and RootTaskId=<master id>"
    )
    # The other run's sub-agents share nothing with this one.
    assert not ids(await temporal_list(settings, query)) & {
        n.workflow_id for n in results[1].tree.walk()
    }
    other_subagents = {n.workflow_id for n in results[1].tree.walk() if n.role == "subagent"}
    assert (
        await listed(settings, f"AgentRole='subagent' AND RootTaskId='{other}'", other_subagents)
        == other_subagents
    )

    # The master tags itself: role master, depth 0, its own id as the root.
    master_query = f"AgentRole='master' AND AgentDepth=0 AND RootTaskId='{root}'"
    assert await listed(settings, master_query, {root}) == {root}
    assert await listed(settings, f"RootTaskId='{root}'", {root} | subagents) == {root} | subagents

    # Depth and tier are filterable too, and agree with the result tree.
    depth1 = {n.workflow_id for n in tree.walk() if n.role == "subagent" and n.depth == 1}
    assert await listed(settings, f"RootTaskId='{root}' AND AgentDepth=1", depth1) == depth1
    for tier in {n.tier for n in tree.walk() if n.role == "subagent" and n.tier}:
        want = {n.workflow_id for n in tree.walk() if n.role == "subagent" and n.tier == tier}
        q = f"AgentRole='subagent' AND RootTaskId='{root}' AND AgentTier='{tier}'"
        assert await listed(settings, q, want) == want, tier
