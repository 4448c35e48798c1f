"""FleetWorkflow: a queue of goals that never loses or repeats one.

The durability test runs its own dev server whose continue-as-new suggestion
comes after a few dozen history events instead of thousands, so 50 goals cross
several fleet runs; a worker is SIGKILLed and the server restarted on the way.
Exactly-once is checked in Temporal itself: one MasterAgentWorkflow execution
per task id.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.worker import Replayer, Worker

from agentfleet.cli.devserver import DevServer, free_port
from agentfleet.client import connect
from agentfleet.config import Settings
from agentfleet.contracts.fleet import FleetInput, FleetStats, FleetStatus, FleetSubmit, FleetTask
from agentfleet.payloads.converter import data_converter
from agentfleet.sim import Simulator
from tests.conftest import ARTIFACTS, make_settings
from tests.procs import WorkerProcess, supervised
from workflows.fleet import FleetWorkflow, await_master

T = TypeVar("T")

# The dev server suggests continue-as-new past this many events (default:
# 4K events or 4 MB); one goal costs the fleet about ten events.
SUGGEST_CAN_EVENTS = 120


def build_fleet_worker(client: Client, settings: Settings, task_queue: str | None = None) -> Worker:
    """The project's worker plus the fleet, until worker.py registers it itself."""
    import worker as project_worker

    kwargs = project_worker.worker_options(settings, task_queue)
    if FleetWorkflow not in kwargs["workflows"]:
        kwargs["workflows"] = [*kwargs["workflows"], FleetWorkflow]
    if await_master not in kwargs["activities"]:
        kwargs["activities"] = [*kwargs["activities"], await_master]
    return Worker(client, **kwargs)


@asynccontextmanager
async def fleet_worker(client: Client, settings: Settings) -> AsyncIterator[None]:
    async with build_fleet_worker(client, settings, settings.task_queue):
        yield


class FleetWorkerProcess(WorkerProcess):
    """`python worker.py` with the fleet registered: killed hard like a crashed host."""

    def command(self) -> list[str]:
        # Settings are read before tests.* is imported: conftest clears ANTHROPIC_*.
        script = (
            "import asyncio, worker\n"
            "from agentfleet.config import Settings\n"
            "from agentfleet.logs import setup_logging\n"
            "settings = Settings.from_env()\n"
            "from tests.test_fleet import build_fleet_worker\n"
            "setup_logging()\n"
            "asyncio.run(worker.run(settings, build_fleet_worker))\n"
        )
        return [sys.executable, "-c", script]


async def start_fleet(
    client: Client, settings: Settings, fleet_id: str, max_concurrent: int = 5
) -> WorkflowHandle[FleetWorkflow, FleetStatus]:
    return await client.start_workflow(
        FleetWorkflow.run,
        FleetInput(max_concurrent=max_concurrent),
        id=fleet_id,
        task_queue=settings.task_queue,
    )


async def eventually(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float = 60
) -> T:
    """Poll through worker and server outages (a query needs a live worker)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: T | None = None
    while True:
        try:
            last = await probe()
            if ok(last):
                return last
        except RPCError:
            pass
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")
        await asyncio.sleep(0.3)


async def executions(client: Client, query: str) -> list[Any]:
    return [w async for w in client.list_workflows(query)]


async def submit(handle: WorkflowHandle[Any, Any], goal: str, task_id: str | None = None) -> str:
    return await handle.execute_update(
        FleetWorkflow.submit, FleetSubmit(goal=goal, task_id=task_id)
    )


# --- durability -----------------------------------------------------------------


@pytest.mark.slow
async def test_fifty_goals_across_continue_as_new_worker_kill_and_server_restart(
    sim: Simulator, tmp_path: Path
) -> None:
    server = DevServer(
        db_file=tmp_path / "fleet.db",
        port=free_port(),
        ui_port=None,
        log_file=ARTIFACTS / "devserver-fleet.log",
        dynamic_config={"limit.historyCount.suggestContinueAsNew": str(SUGGEST_CAN_EVENTS)},
    )
    server.start(reuse=False)
    settings = make_settings(tmp_path / "home", server, sim.url)
    log = ARTIFACTS / f"worker-fleet-{uuid.uuid4().hex[:6]}.log"
    workers = [FleetWorkerProcess(settings, log).start()]
    fleet_id = f"fleet-{uuid.uuid4().hex[:8]}"

    async def scenario() -> tuple[list[str], FleetStatus, FleetStatus]:
        handle = await start_fleet(client, settings, fleet_id, max_concurrent=5)
        # A workflow task that fails (e.g. new events racing its completion) aborts the
        # updates riding on it with WorkflowNotReady: a client retries, with a pinned id.
        ids = [await _submit_retrying(handle, f"What is 2+2? #{n}") for n in range(1, 21)]

        # Kill while masters are in flight and the fleet has moved on at least once.
        await eventually(
            lambda: handle.query(FleetWorkflow.status),
            lambda s: s.stats.runs >= 2 and s.stats.finished >= 5,
        )
        workers[0].kill()
        # Updates sent while no worker runs wait for the next one to accept them.
        pending = [
            asyncio.ensure_future(_submit_retrying(handle, f"What is 2+2? #{n}"))
            for n in range(21, 26)
        ]
        await asyncio.sleep(1.0)
        workers.append(FleetWorkerProcess(settings, log).start())
        ids += await asyncio.gather(*pending)
        # Right after a restart the server may abort an update whose workflow task the
        # dead worker held (WorkflowNotReady, "retry"): submit as a client must, with a
        # pinned task id so a retry cannot duplicate.
        ids += [await _submit_retrying(handle, f"What is 2+2? #{n}") for n in range(26, 41)]

        server.kill()
        await asyncio.sleep(1.0)
        server.start(reuse=False)
        ids += [await _submit_retrying(handle, f"What is 2+2? #{n}") for n in range(41, 51)]

        final = await eventually(
            lambda: handle.query(FleetWorkflow.status),
            lambda s: s.stats.finished >= 50,
            timeout=240,
        )
        await handle.signal(FleetWorkflow.drain)
        result = await _result_across_outage(handle, timeout=60)
        return ids, final, result

    try:
        client = await connect(server.address)
        ids, final, result = await supervised(scenario(), workers)
    finally:
        for w in workers:
            w.kill()
    try:
        assert len(ids) == 50 and len(set(ids)) == 50, ids
        stats: FleetStats = result.stats
        assert result.state == "drained"
        assert (stats.submitted, stats.completed, stats.failed) == (50, 50, 0), stats
        assert stats.started == 50, stats
        # Masters in flight at a continue-as-new were re-attached, not restarted.
        assert stats.reattached >= 1, stats
        assert final.stats.runs >= 2 and stats.runs >= 3, stats

        # Visibility is eventually consistent: wait for it to show every close.
        masters = await eventually(
            lambda: executions(
                client,
                f"WorkflowType = 'MasterAgentWorkflow' AND WorkflowId STARTS_WITH '{fleet_id}'",
            ),
            lambda rows: (
                len(rows) >= 50 and all(r.status == WorkflowExecutionStatus.COMPLETED for r in rows)
            ),
        )
        per_id = Counter(r.id for r in masters)
        assert set(per_id) == set(ids), sorted(set(per_id) ^ set(ids))
        assert all(n == 1 for n in per_id.values()), [i for i, n in per_id.items() if n > 1]

        runs = await executions(client, f"WorkflowId = '{fleet_id}'")
        assert len(runs) == stats.runs >= 3
        assert sum(r.status == WorkflowExecutionStatus.CONTINUED_AS_NEW for r in runs) >= 2
        # Every run of the chain (re-attaches, the kill, the outage) replays cleanly.
        replayer = Replayer(workflows=[FleetWorkflow], data_converter=data_converter)
        for run in runs:
            history = await client.get_workflow_handle(fleet_id, run_id=run.run_id).fetch_history()
            await replayer.replay_workflow(history)
    finally:
        server.stop()


async def _submit_retrying(handle: WorkflowHandle[Any, Any], goal: str) -> str:
    """Submit through an outage with a fixed task id, so a retry cannot duplicate."""
    task_id = f"{handle.id}-pinned-{uuid.uuid4().hex[:8]}"
    for _ in range(120):
        try:
            return await asyncio.wait_for(submit(handle, goal, task_id), timeout=15)
        except (RPCError, TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            await asyncio.sleep(0.5)
    raise AssertionError(f"could not submit {goal!r}")


async def _result_across_outage(handle: WorkflowHandle[Any, Any], timeout: float) -> FleetStatus:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await asyncio.wait_for(handle.result(), max(1.0, deadline - loop.time()))
        except RPCError:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)


# --- messages ---------------------------------------------------------------------


async def test_submit_validator_rejects_an_empty_goal_with_a_reason(
    client: Client, settings: Settings
) -> None:
    async with fleet_worker(client, settings):
        handle = await start_fleet(client, settings, f"fleet-{uuid.uuid4().hex[:8]}")
        for goal in ("", "   \n"):
            with pytest.raises(WorkflowUpdateFailedError) as info:
                await submit(handle, goal)
            assert isinstance(info.value.cause, ApplicationError)
            assert "goal must not be empty" in info.value.cause.message
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(
                FleetWorkflow.submit, FleetSubmit(goal="fine", max_depth=99)
            )
        assert "max_depth" in str(info.value.cause)
        # A signal cannot be refused: it is counted instead, and nothing queued.
        await handle.signal(FleetWorkflow.submit_signal, FleetSubmit(goal=" "))
        stats = await eventually(
            lambda: handle.query(FleetWorkflow.stats), lambda s: s.rejected == 1
        )
        assert stats.submitted == 0
        await handle.signal(FleetWorkflow.drain)
        await handle.result()
    history = await handle.fetch_history()
    # Rejected updates never reach history; the fleet saw nothing to do.
    kinds = Counter(e.event_type for e in history.events)
    assert kinds[EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED] == 0
    assert kinds[EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED] == 0


async def test_a_duplicate_task_id_returns_the_same_id_and_runs_once(
    client: Client, settings: Settings
) -> None:
    fleet_id = f"fleet-{uuid.uuid4().hex[:8]}"
    task_id = f"dup-{uuid.uuid4().hex[:8]}"
    async with fleet_worker(client, settings):
        handle = await start_fleet(client, settings, fleet_id)
        assert await submit(handle, "What is 2+2?", task_id) == task_id
        assert await submit(handle, "What is 2+2?", task_id) == task_id
        await handle.signal(
            FleetWorkflow.submit_signal, FleetSubmit(goal="What is 3+3?", task_id=task_id)
        )
        generated = await submit(handle, "What is 5+5?")
        assert generated == f"{fleet_id}-task-1"
        status = await eventually(
            lambda: handle.query(FleetWorkflow.status), lambda s: s.stats.finished == 2
        )
        # Once it is done, the id is still known: no second run.
        assert await submit(handle, "What is 2+2?", task_id) == task_id
        await handle.signal(FleetWorkflow.drain)
        result = await handle.result()
    assert (result.stats.submitted, result.stats.duplicates, result.stats.started) == (2, 3, 2)
    assert {o.task_id for o in status.recent} == {task_id, generated}
    runs = await executions(client, f"WorkflowId = '{task_id}'")
    assert len(runs) == 1 and runs[0].workflow_type == "MasterAgentWorkflow"


async def test_a_resubmission_beyond_the_seen_window_is_attached_not_rerun(
    client: Client, settings: Settings
) -> None:
    """Ids older than the remembered window hit REJECT_DUPLICATE and are awaited instead."""
    task_id = f"old-{uuid.uuid4().hex[:8]}"
    async with fleet_worker(client, settings):
        first = await start_fleet(client, settings, f"fleet-{uuid.uuid4().hex[:8]}")
        await submit(first, "What is 2+2?", task_id)
        await first.signal(FleetWorkflow.drain)
        await first.result()
        # A fresh fleet knows nothing of that id, as after the window moved on.
        second = await start_fleet(client, settings, f"fleet-{uuid.uuid4().hex[:8]}")
        assert await submit(second, "What is 2+2?", task_id) == task_id
        await second.signal(FleetWorkflow.drain)
        result = await asyncio.wait_for(second.result(), 60)
    assert (result.stats.started, result.stats.reattached, result.stats.completed) == (0, 1, 1)
    assert len(await executions(client, f"WorkflowId = '{task_id}'")) == 1


async def test_pause_holds_the_queue_resume_runs_it_and_drain_finishes_then_completes(
    client: Client, settings: Settings
) -> None:
    fleet_id = f"fleet-{uuid.uuid4().hex[:8]}"
    async with fleet_worker(client, settings):
        handle = await start_fleet(client, settings, fleet_id, max_concurrent=2)
        await handle.signal(FleetWorkflow.pause)
        ids = [await submit(handle, f"What is {n}+{n}?") for n in range(1, 4)]
        queue: list[FleetTask] = await handle.query(FleetWorkflow.queue)
        assert [t.task_id for t in queue] == ids  # FIFO
        status = await handle.query(FleetWorkflow.status)
        assert status.state == "paused" and status.queued == 3 and status.in_flight == []
        await asyncio.sleep(1.0)
        assert await executions(client, f"WorkflowId STARTS_WITH '{fleet_id}-task-'") == []

        # Draining refuses new goals but keeps every accepted one.
        await handle.signal(FleetWorkflow.drain)
        await eventually(
            lambda: handle.query(FleetWorkflow.status), lambda s: s.state == "draining"
        )
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await submit(handle, "one more")
        assert "draining" in str(info.value.cause)
        # An id it already has is still answered (idempotent), not refused.
        assert await submit(handle, "What is 1+1?", ids[0]) == ids[0]

        await handle.signal(FleetWorkflow.resume)
        result = await asyncio.wait_for(handle.result(), 60)
    assert result.state == "drained"
    assert (result.stats.submitted, result.stats.completed, result.stats.started) == (3, 3, 3)
    assert [o.task_id for o in result.recent] and set(o.task_id for o in result.recent) == set(ids)
    history = await handle.fetch_history()
    starts = [
        e.start_child_workflow_execution_initiated_event_attributes.workflow_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    ]
    assert starts == ids  # FIFO, each once
    # The fleet's code is deterministic: its own history replays cleanly.
    await Replayer(workflows=[FleetWorkflow], data_converter=data_converter).replay_workflow(
        history
    )


async def test_max_concurrent_bounds_masters_in_flight(client: Client, settings: Settings) -> None:
    async with fleet_worker(client, settings):
        handle = await start_fleet(client, settings, f"fleet-{uuid.uuid4().hex[:8]}", 2)
        ids = [await submit(handle, f"What is {n}+1?") for n in range(6)]
        seen_in_flight: list[int] = []

        async def sample() -> FleetStatus:
            s = await handle.query(FleetWorkflow.status)
            seen_in_flight.append(len(s.in_flight))
            return s

        await eventually(sample, lambda s: s.stats.finished == 6)
        await handle.signal(FleetWorkflow.drain)
        await handle.result()
    assert max(seen_in_flight) <= 2
    history = await handle.fetch_history()
    open_children = peak = 0
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            open_children += 1
            peak = max(peak, open_children)
        elif e.event_type in (
            EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
            EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED,
        ):
            open_children -= 1
    assert peak == 2 and len(ids) == 6


# --- CLI command functions ------------------------------------------------------------


async def test_fleet_submit_starts_the_fleet_once_and_status_reports_it(
    client: Client, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from agentfleet.cli.fleet import fleet_status, fleet_submit
    from agentfleet.errors import CliError

    fleet_id = f"fleet-{uuid.uuid4().hex[:8]}"
    async with fleet_worker(client, settings):
        assert await fleet_submit(settings, "What is 2+2?", as_json=True, fleet_id=fleet_id) == 0
        first = json.loads(capsys.readouterr().out)
        assert await fleet_submit(settings, "What is 3+3?", as_json=True, fleet_id=fleet_id) == 0
        second = json.loads(capsys.readouterr().out)
        assert first["fleet_id"] == second["fleet_id"] == fleet_id
        assert (first["task_id"], second["task_id"]) == (f"{fleet_id}-task-1", f"{fleet_id}-task-2")
        assert first["ui_url"].endswith(f"/workflows/{first['task_id']}")
        with pytest.raises(CliError, match="goal must not be empty"):
            await fleet_submit(settings, "  ", as_json=True, fleet_id=fleet_id)

        handle = client.get_workflow_handle(fleet_id)
        await eventually(lambda: handle.query(FleetWorkflow.stats), lambda s: s.finished == 2)
        assert await fleet_status(settings, as_json=True, fleet_id=fleet_id) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["state"] == "running" and doc["stats"]["completed"] == 2
        assert await fleet_status(settings, as_json=False, fleet_id=fleet_id) == 0
        text = capsys.readouterr().out
        assert f"fleet {fleet_id}: running" in text and "completed 2" in text
        await handle.signal("drain")
        await handle.result()
    runs = await executions(client, f"WorkflowId = '{fleet_id}'")
    assert len(runs) == 1
    with pytest.raises(CliError, match="no fleet"):
        await fleet_status(settings, as_json=True, fleet_id=f"fleet-missing-{uuid.uuid4().hex[:6]}")
