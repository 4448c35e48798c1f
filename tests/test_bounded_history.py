"""Bounded history: conversations by reference, continue-as-new at turn boundaries.

Measured from the real histories the server stores, not estimated.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory

from agentfleet.cli.devserver import DevServer, free_port
from agentfleet.client import connect
from agentfleet.config import Settings
from agentfleet.contracts.models import AgentNode, Budget, SubAgentInput
from agentfleet.ledger.store import Ledger
from agentfleet.sim import Simulator
from tests.conftest import ARTIFACTS, make_settings, running_worker
from workflows.subagent import SubAgentWorkflow

MB = 1024 * 1024


def _input(turns: int, workspace: str, max_turns: int | None = None) -> SubAgentInput:
    return SubAgentInput(
        task=f"Task: look around\nList the files and look again [sim:turns={turns}]",
        title="look around",
        workspace=workspace,
        model="claude-haiku-4-5",
        root_id="bounded",
        parent_id="bounded",
        max_turns=max_turns or turns + 5,
        budget=Budget(tokens=100_000_000, usd=1000.0),
    )


def _sizes(history: WorkflowHistory) -> tuple[int, int]:
    """(total bytes of the history's events, largest single payload in bytes)."""
    total = sum(e.ByteSize() for e in history.events)
    largest = 0
    for e in history.events:
        for field in (
            e.activity_task_scheduled_event_attributes.input,
            e.activity_task_completed_event_attributes.result,
            e.workflow_execution_started_event_attributes.input,
            e.workflow_execution_completed_event_attributes.result,
        ):
            for p in field.payloads:
                largest = max(largest, p.ByteSize())
    return total, largest


async def _run(client: Client, settings: Settings, inp: SubAgentInput) -> tuple[AgentNode, str]:
    wid = f"bounded-{uuid.uuid4().hex[:8]}"
    node = await client.execute_workflow(
        SubAgentWorkflow.run, inp, id=wid, task_queue=settings.task_queue
    )
    return node, wid


async def test_two_hundred_turns_stay_small_and_grow_linearly(
    client: Client, settings: Settings
) -> None:
    (settings.workspaces / "ws").mkdir(parents=True)
    (settings.workspaces / "ws" / "a.txt").write_text("a\n")
    sizes = {}
    async with running_worker(client, settings):
        for turns in (50, 200):
            node, wid = await _run(client, settings, _input(turns, "ws"))
            assert node.status == "completed" and node.turns == turns + 1
            history = await client.get_workflow_handle(wid).fetch_history()
            sizes[turns] = _sizes(history)
    print(f"history (total bytes, largest payload) by turns: {sizes}")
    total_200, largest_200 = sizes[200]
    assert total_200 < 1 * MB, total_200
    assert largest_200 < 1 * MB, largest_200
    # Resending the transcript each turn would make 4x the turns cost ~16x the
    # bytes; by reference it is ~4x.
    ratio = sizes[200][0] / sizes[50][0]
    assert ratio < 5.0, (sizes, ratio)


async def test_long_loop_continues_as_new_at_a_turn_boundary(
    sim: Simulator, tmp_path: Path
) -> None:
    server = DevServer(
        db_file=tmp_path / "can.db",
        port=free_port(),
        ui_port=None,
        log_file=ARTIFACTS / "devserver-can.log",
        dynamic_config={"limit.historyCount.suggestContinueAsNew": "150"},
    )
    server.start(reuse=False)
    try:
        settings = make_settings(tmp_path / "home", server, sim.url)
        (settings.workspaces / "ws").mkdir(parents=True)
        client = await connect(server.address, blob_root=settings.blobs)
        async with running_worker(client, settings):
            node, wid = await _run(client, settings, _input(40, "ws"))
        assert node.status == "completed" and node.turns == 41
        # Usage and receipts survive the hand-over between runs.
        assert len([r for r in node.receipts if r.ok]) == 41 == node.usage.llm_calls
        runs = [r async for r in client.list_workflows(f"WorkflowId = '{wid}'")]
        continued = [r for r in runs if r.status == WorkflowExecutionStatus.CONTINUED_AS_NEW]
        assert len(continued) >= 1 and len(runs) == len(continued) + 1
        ledger = Ledger.from_url(settings.ledger_url)
        rows = ledger.runs(wid)
        assert sorted(r.status for r in rows) == sorted(
            ["continued_as_new"] * len(continued) + ["completed"]
        )
    finally:
        server.stop()
