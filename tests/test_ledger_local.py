"""Ledger rows written by local activities: fewer round trips, nothing lost.

Since PATCH_LEDGER_LOCAL an agent's two ledger writes (and, since
PATCH_REAL_COMPLETION, its completion check) run inside its workflow tasks.
These tests pin the shape that makes a one-turn agent cost what a bare
Temporal child costs (one activity, two workflow tasks), and show that a
ledger outage delays the row without losing it or failing the agent.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Worker

import worker as project_worker
from activities.ledger import LedgerActivities
from agentfleet.config import Settings
from agentfleet.contracts.activities import LEDGER_CLOSE_ACTIVITY as RECORD_CLOSE
from agentfleet.contracts.activities import LEDGER_START_ACTIVITY as RECORD_START
from agentfleet.contracts.models import AgentNode, SubAgentInput
from agentfleet.delegation.catalog import SMALL_MODEL
from agentfleet.ledger.store import LedgerClose, LedgerStart, LedgerWriteResult, open_ledger
from tests.conftest import running_worker
from workflows.subagent import SubAgentWorkflow

# The simulator answers this without a tool call: one LLM turn.
ONE_TURN_TASK = "Task: item 1\nWhat is item 1 on the release checklist?"


def _input(root: str) -> SubAgentInput:
    return SubAgentInput(
        task=ONE_TURN_TASK,
        title="item 1",
        workspace="ws",
        model=SMALL_MODEL,
        root_id=root,
        parent_id=root,
        max_depth=1,
        max_turns=3,
        tier="trivial",
    )


def _events(history: WorkflowHistory, kind: EventType.ValueType) -> list:
    return [e for e in history.events if e.event_type == kind]


async def _run_subagent(client: Client, settings: Settings) -> tuple[AgentNode, WorkflowHistory]:
    (settings.workspaces / "ws").mkdir(parents=True, exist_ok=True)
    wid = f"ledger-local-{uuid.uuid4().hex[:8]}"
    handle = await client.start_workflow(
        SubAgentWorkflow.run, _input(wid), id=wid, task_queue=settings.task_queue
    )
    return await handle.result(), await handle.fetch_history()


async def test_one_turn_agent_writes_its_rows_without_activity_round_trips(
    client: Client, settings: Settings
) -> None:
    async with running_worker(client, settings):
        node, history = await _run_subagent(client, settings)
    assert node.status == "completed" and node.turns == 1
    scheduled = _events(history, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    names = [e.activity_task_scheduled_event_attributes.activity_type.name for e in scheduled]
    assert names == ["agentfleet.llm.chat"]
    markers = [
        e.marker_recorded_event_attributes.marker_name
        for e in _events(history, EventType.EVENT_TYPE_MARKER_RECORDED)
    ]
    # The ledger start, the completion check (PATCH_REAL_COMPLETION) and the ledger close:
    # all three inside the agent's two workflow tasks, none a round trip of its own.
    assert markers.count("core_local_activity") == 3, markers
    assert len(_events(history, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)) == 2
    assert node.verification is not None and node.verification.mode == "answer_only"
    rows = open_ledger(settings.ledger_url).runs(node.workflow_id)
    assert [(r.status, r.turns) for r in rows] == [("completed", 1)]


async def test_ledger_outage_delays_the_rows_but_loses_nothing(
    client: Client, settings: Settings
) -> None:
    """Both writes fail twice with a retryable error (a locked or unreachable database)."""
    ledger = open_ledger(settings.ledger_url)
    real = LedgerActivities(ledger)
    attempts: dict[str, list[int]] = {RECORD_START: [], RECORD_CLOSE: []}

    async def flaky(name: str, write, rec):  # type: ignore[no-untyped-def]
        attempt = activity.info().attempt
        attempts[name].append(attempt)
        if attempt <= 2:
            raise OSError(f"ledger unavailable (attempt {attempt})")
        return await write(rec)

    @activity.defn(name=RECORD_START)
    async def record_start(rec: LedgerStart) -> LedgerWriteResult:
        return await flaky(RECORD_START, real.record_start, rec)

    @activity.defn(name=RECORD_CLOSE)
    async def record_close(rec: LedgerClose) -> LedgerWriteResult:
        return await flaky(RECORD_CLOSE, real.record_close, rec)

    # build_worker's own options, with the two ledger writes swapped for the fakes.
    replaced = (LedgerActivities.record_start, LedgerActivities.record_close)
    kwargs = project_worker.worker_options(settings)
    kwargs["activities"] = [
        *(a for a in kwargs["activities"] if getattr(a, "__func__", None) not in replaced),
        record_start,
        record_close,
    ]
    async with Worker(client, **kwargs):
        node, history = await asyncio.wait_for(_run_subagent(client, settings), 60)
    assert node.status == "completed"
    assert attempts == {RECORD_START: [1, 2, 3], RECORD_CLOSE: [1, 2, 3]}
    rows = ledger.runs(node.workflow_id)
    assert [r.status for r in rows] == ["completed"]
    # The row keeps the execution's own start time, however late it was written.
    assert rows[0].started_at == history.events[0].event_time.ToDatetime(tzinfo=UTC)
