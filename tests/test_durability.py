"""Crash tests: SIGKILL the worker mid-tree, restart the dev server mid-run.

Exactly-once is checked twice: in Temporal's history (one child execution per
subtask, one scheduled activity per tool call) and in the workspace (every
file where it belongs, once).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError

from agentfleet.cli.demo import DEMO_FILES, DEMO_GOAL, seed_workspace
from agentfleet.cli.devserver import DevServer, free_port
from agentfleet.client import connect
from agentfleet.contracts.models import MasterInput, MasterResult
from agentfleet.sim import Simulator
from tests.conftest import ARTIFACTS, make_settings
from tests.procs import WorkerProcess
from workflows.master import MasterAgentWorkflow

pytestmark = pytest.mark.slow


@pytest.fixture
def slow_sim() -> Iterator[Simulator]:
    # Slow enough that a kill lands while sub-agents are mid-conversation.
    with Simulator(port=0, latency_ms=400) as s:
        yield s


async def running_children(client: Client, root_id: str) -> int:
    n = 0
    async for _ in client.list_workflows(
        f"WorkflowId STARTS_WITH '{root_id}.' AND ExecutionStatus = 'Running'"
    ):
        n += 1
    return n


async def wait_for_running_children(client: Client, root_id: str, at_least: int = 1) -> int:
    for _ in range(200):
        n = await running_children(client, root_id)
        if n >= at_least:
            return n
        await asyncio.sleep(0.1)
    raise AssertionError(f"no sub-agent of {root_id} started")


async def assert_exactly_once(client: Client, handle: WorkflowHandle, result: MasterResult) -> None:
    children = result.tree.children
    assert children and all(c.status == "completed" for c in children), [
        (c.workflow_id, c.status, c.error) for c in children
    ]
    history = await handle.fetch_history()
    kinds = Counter(e.event_type for e in history.events)
    assert kinds[EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED] == len(children)
    assert kinds[EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED] == len(children)
    for child in children:
        runs = [w async for w in client.list_workflows(f"WorkflowId = '{child.workflow_id}'")]
        assert len(runs) == 1, child.workflow_id
        assert runs[0].status == WorkflowExecutionStatus.COMPLETED
        child_history = await client.get_workflow_handle(child.workflow_id).fetch_history()
        scheduled = [
            e.activity_task_scheduled_event_attributes
            for e in child_history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        ]
        tool_calls = [a for a in scheduled if a.activity_type.name == "agentfleet.tool.run"]
        assert len(tool_calls) == child.tool_calls
        completions = Counter(
            e.event_type
            for e in child_history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
        )
        assert completions[EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED] == len(scheduled)


def assert_workspace_exact(ws: Path) -> None:
    # The trash holds the sandbox's own records (the call journal, the originals kept
    # for the completion check); nothing was deleted, so it holds nothing else.
    kept = {p.relative_to(ws / ".trash").parts[0] for p in (ws / ".trash").rglob("*")}
    assert kept <= {".calls", ".originals"}, kept
    files = sorted(
        str(p.relative_to(ws)) for p in ws.rglob("*") if p.is_file() and ".trash" not in p.parts
    )
    names = Counter(Path(f).name for f in files)
    expected = {Path(f).name for f in DEMO_FILES} | {"INDEX.md", "SUMMARY.md", "RETRO.md"}
    assert set(names) == expected, files
    assert all(n == 1 for n in names.values()), names
    assert sorted(p.name for p in (ws / "inbox" / "pdf").iterdir()) == ["report.pdf", "slides.pdf"]
    for rel, text in DEMO_FILES.items():
        name = Path(rel).name
        (found,) = [f for f in files if Path(f).name == name]
        assert (ws / found).read_text() == text
    index = (ws / "docs" / "INDEX.md").read_text()
    assert index.count("guide.md") == 1 and index.count("faq.md") == 1


async def test_worker_sigkill_mid_tree_completes_exactly_once(
    client: Client, devserver: DevServer, slow_sim: Simulator, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "home", devserver, slow_sim.url)
    seed_workspace(settings.workspaces / "ws")
    log = ARTIFACTS / f"worker-kill-{uuid.uuid4().hex[:6]}.log"
    first = WorkerProcess(settings, log).start()
    second: WorkerProcess | None = None
    try:
        handle = await client.start_workflow(
            MasterAgentWorkflow.run,
            MasterInput(goal=DEMO_GOAL, workspace="ws"),
            id=f"durable-{uuid.uuid4().hex[:8]}",
            task_queue=settings.task_queue,
        )
        await wait_for_running_children(client, handle.id, at_least=2)
        await asyncio.sleep(0.6)  # let tool calls get under way
        assert await running_children(client, handle.id) >= 1
        first.kill()
        second = WorkerProcess(settings, log).start()
        result = await asyncio.wait_for(handle.result(), timeout=180)
    finally:
        first.kill()
        if second:
            second.kill()
    await assert_exactly_once(client, handle, result)
    assert_workspace_exact(settings.workspaces / "ws")


async def _result_across_outage(handle: WorkflowHandle, timeout: float) -> MasterResult:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await asyncio.wait_for(handle.result(), timeout=max(1.0, deadline - loop.time()))
        except RPCError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def test_dev_server_restart_on_same_database_mid_run(
    slow_sim: Simulator, tmp_path: Path
) -> None:
    server = DevServer(
        db_file=tmp_path / "restart.db",
        port=free_port(),
        ui_port=None,
        log_file=ARTIFACTS / "devserver-restart.log",
    )
    server.start(reuse=False)
    settings = make_settings(tmp_path / "home", server, slow_sim.url)
    seed_workspace(settings.workspaces / "ws")
    worker = WorkerProcess(settings, ARTIFACTS / "worker-server-restart.log").start()
    try:
        client = await connect(server.address)
        handle = await client.start_workflow(
            MasterAgentWorkflow.run,
            MasterInput(goal=DEMO_GOAL, workspace="ws"),
            id=f"restart-{uuid.uuid4().hex[:8]}",
            task_queue=settings.task_queue,
        )
        await wait_for_running_children(client, handle.id, at_least=2)
        server.kill()
        await asyncio.sleep(1.0)
        server.start(reuse=False)
        result = await _result_across_outage(handle, timeout=180)
        await assert_exactly_once(client, handle, result)
    finally:
        worker.kill()
        server.stop()
    assert_workspace_exact(settings.workspaces / "ws")
