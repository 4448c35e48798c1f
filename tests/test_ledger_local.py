"""Ledger rows without activity round trips: fewer activations, nothing lost.

Since PATCH_LEDGER_LOCAL an agent's two ledger writes (and, since
PATCH_REAL_COMPLETION, its completion check) run inside its workflow tasks. Since
PATCH_SUBAGENT_BASELINE_2 the start row is handed to the worker and the check and
the close row are one local activity. These tests pin the shape that makes a
one-turn agent cost what a bare Temporal child costs (one activity, two workflow
tasks), and show that a ledger outage delays the rows without losing them or
failing the agent.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC
from typing import Any, cast

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Worker

import worker as project_worker
from activities.llm import LlmActivities
from agentfleet.config import Settings
from agentfleet.contracts.activities import LLM_ACTIVITY
from agentfleet.contracts.models import AgentNode, LlmRequest, LlmResponse, SubAgentInput
from agentfleet.delegation.catalog import SMALL_MODEL
from agentfleet.ledger.store import (
    Ledger,
    LedgerClose,
    LedgerStart,
    LedgerWriteResult,
    open_ledger,
)
from tests.conftest import running_worker
from tests.probe_workflows import ChildProbeParent
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
    # PATCH_SUBAGENT_BASELINE_2, then one local activity: the completion check and the
    # close row together. The start row is the worker's (agentfleet/ledger/outbox.py).
    assert markers == ["core_patch", "core_local_activity"], markers
    assert len(_events(history, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)) == 2
    assert node.verification is not None and node.verification.mode == "answer_only"
    rows = open_ledger(settings.ledger_url).runs(node.workflow_id)
    assert [(r.status, r.turns) for r in rows] == [("completed", 1)]
    # The row's check columns are the outcome the agent was settled with.
    assert (rows[0].verified, rows[0].verify_mode) == (True, "answer_only")
    assert rows[0].started_at == history.events[0].event_time.ToDatetime(tzinfo=UTC)


async def test_a_child_takes_its_baseline_from_its_parent_without_a_marker(
    client: Client, settings: Settings
) -> None:
    """Started by `run_child`, the one-turn agent records no patch marker and no upsert.

    Each marker costs an event, a TemporalChangeVersion upsert and a visibility write;
    the parent names the baseline in the child's input instead (SubAgentInput.baseline).
    """
    (settings.workspaces / "ws").mkdir(parents=True, exist_ok=True)
    options = project_worker.worker_options(settings, settings.task_queue, client.data_converter)
    options["workflows"] = [*options["workflows"], ChildProbeParent]
    wid = f"ledger-parent-{uuid.uuid4().hex[:8]}"
    async with Worker(client, **options):
        node = await client.execute_workflow(
            ChildProbeParent.run,
            _input(wid),
            id=wid,
            task_queue=settings.task_queue,
            result_type=AgentNode,
        )
    assert node.status == "completed" and node.turns == 1
    history = await client.get_workflow_handle(node.workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    (payload,) = started.input.payloads
    assert b'"baseline":2' in payload.data.replace(b" ", b"")
    markers = [
        e.marker_recorded_event_attributes.marker_name
        for e in _events(history, EventType.EVENT_TYPE_MARKER_RECORDED)
    ]
    assert markers == ["core_local_activity"], markers
    assert not _events(history, EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
    assert len(_events(history, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)) == 2
    rows = open_ledger(settings.ledger_url).runs(node.workflow_id)
    assert [(r.status, r.verified) for r in rows] == [("completed", True)]


async def test_the_start_row_is_there_while_the_agent_works(
    client: Client, settings: Settings
) -> None:
    """The worker writes the posted start row while the agent's first LLM call runs."""
    ledger = open_ledger(settings.ledger_url)
    real_chat = LlmActivities(settings).chat
    seen: list[str] = []

    @activity.defn(name=LLM_ACTIVITY)
    async def chat(req: LlmRequest) -> LlmResponse:
        wid = activity.info().workflow_id or ""
        for _ in range(100):
            rows = await asyncio.to_thread(ledger.runs, wid)
            if rows:
                seen.append(rows[0].status)
                break
            await asyncio.sleep(0.05)
        return await real_chat(req)

    kwargs = project_worker.worker_options(settings, ledger=ledger)
    kwargs["activities"] = [
        *(
            a
            for a in kwargs["activities"]
            if getattr(a, "__func__", None) is not LlmActivities.chat
        ),
        chat,
    ]
    async with Worker(client, **kwargs):
        node, _ = await asyncio.wait_for(_run_subagent(client, settings), 60)
    assert seen == ["running"]
    assert [r.status for r in ledger.runs(node.workflow_id)] == ["completed"]


class _FlakyLedger:
    """The real ledger, except that each kind of row fails twice before it is written."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self.calls: dict[str, int] = {"start": 0, "close": 0}

    def _flaky(self, kind: str) -> None:
        self.calls[kind] += 1
        if self.calls[kind] <= 2:
            raise OSError(f"ledger unavailable (call {self.calls[kind]})")

    def record_start(self, rec: LedgerStart) -> LedgerWriteResult:
        self._flaky("start")
        return self._ledger.record_start(rec)

    def record_close(self, rec: LedgerClose) -> LedgerWriteResult:
        self._flaky("close")
        return self._ledger.record_close(rec)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)


async def test_ledger_outage_delays_the_rows_but_loses_nothing(
    client: Client, settings: Settings
) -> None:
    """Both writes fail twice with a retryable error (a locked or unreachable database)."""
    ledger = open_ledger(settings.ledger_url)
    flaky = _FlakyLedger(ledger)
    # build_worker's own options, with every row going through the flaky ledger.
    kwargs = project_worker.worker_options(settings, ledger=cast(Ledger, flaky))
    async with Worker(client, **kwargs):
        node, history = await asyncio.wait_for(_run_subagent(client, settings), 60)
        # The start row's retries are the worker's own: wait for them, boundedly.
        for _ in range(200):
            if flaky.calls["start"] >= 3:
                break
            await asyncio.sleep(0.05)
    assert node.status == "completed"
    assert flaky.calls == {"start": 3, "close": 3}
    rows = ledger.runs(node.workflow_id)
    assert [r.status for r in rows] == ["completed"]
    # The row keeps the execution's own start time, however late it was written.
    assert rows[0].started_at == history.events[0].event_time.ToDatetime(tzinfo=UTC)
