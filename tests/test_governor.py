"""The LLM governor on the real dev server: limits kept, priority carried, crashes survived.

Each test scopes its governors to its own task queue (AGENTFLEET_GOV_SCOPE), so
tests sharing the session's dev server never share a governor.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities.governor import Governor
from activities.llm import LlmActivities
from agentfleet.cli.devserver import DevServer
from agentfleet.config import Settings
from agentfleet.contracts.models import LlmRequest, MasterInput, Message
from agentfleet.governance.limits import GovernorConfig
from agentfleet.governance.models import GovernorInput, GovernorStatus, ModelLimitsSpec
from agentfleet.sim import Simulator
from agentfleet.sim.limits import SimLimits
from tests.conftest import (
    ARTIFACTS,
    COMPLEX_GOAL,
    collect_evicted_runs,
    make_settings,
    running_worker,
)
from tests.probe_workflows import LlmProbeWorkflow
from tests.procs import WorkerProcess, supervised
from workflows.governor import LlmGovernorWorkflow
from workflows.master import MasterAgentWorkflow

MODEL = "claude-haiku-4-5"


def request(i: int) -> LlmRequest:
    return LlmRequest(
        model=MODEL,
        system="ROLE: inline\nAnswer briefly.",
        messages=[Message.user_text(f"What is {i}+2?")],
        max_tokens=64,
    )


def governed(settings: Settings, limits: ModelLimitsSpec, **extra: str) -> Settings:
    return dataclasses.replace(
        settings,
        governor=GovernorConfig(limits={"*": limits}, scope=settings.task_queue),
    )


async def governor_status(client: Client, settings: Settings, model: str = MODEL) -> GovernorStatus:
    handle = client.get_workflow_handle(settings.governor.governor_id(model))
    return await handle.query("status", result_type=GovernorStatus)


async def start_short_governor(client: Client, s: Settings, *, max_history: int) -> None:
    """Start the model's governor with a short history, to see it continue as new."""
    async with Worker(client, task_queue=s.task_queue, workflows=[LlmGovernorWorkflow]):
        await client.start_workflow(
            LlmGovernorWorkflow.run,
            GovernorInput(model=MODEL, limits=s.governor.limits["*"], max_history=max_history),
            id=s.governor.governor_id(MODEL),
            task_queue=s.task_queue,
        )


async def start_probes(
    client: Client, s: Settings, *, n: int, prefix: str
) -> list[WorkflowHandle[Any, Any]]:
    return [
        await client.start_workflow(
            LlmProbeWorkflow.run,
            request(i),
            id=f"{prefix}-{uuid.uuid4().hex[:8]}",
            task_queue=s.task_queue,
        )
        for i in range(n)
    ]


@contextlib.asynccontextmanager
async def probe_worker(client: Client, s: Settings) -> AsyncIterator[None]:
    """A worker for probes and the governor, its LLM calls governed as `s` says."""
    llm = LlmActivities(s, governor=Governor(s.governor, client))
    async with Worker(
        client,
        task_queue=s.task_queue,
        workflows=[LlmProbeWorkflow, LlmGovernorWorkflow],
        activities=[llm.chat],
    ):
        yield


async def probe_burst(client: Client, s: Settings, n: int) -> GovernorStatus | None:
    """Run `n` LLM calls at once; the governor's status after them (a query needs a worker)."""
    async with probe_worker(client, s):
        handles = await start_probes(client, s, n=n, prefix="gov-probe")
        await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=120)
        if s.governor.for_model(MODEL) is None:
            return None
        # Settles are signals sent after each call: wait until the last one is in.
        return await settled(client, s)


@pytest.fixture
def limited_sim() -> Iterator[Simulator]:
    # One request a second, two at once: a burst of eight is mostly refused.
    with Simulator(port=0, rate_limits=SimLimits(requests_per_minute=60, burst_s=2)) as s:
        yield s


async def test_governed_burst_gets_no_429s_where_the_ungoverned_one_does(
    client: Client, settings: Settings, limited_sim: Simulator
) -> None:
    s = dataclasses.replace(settings, anthropic_base_url=limited_sim.url)
    await probe_burst(client, s, 8)
    assert limited_sim.limiter is not None
    ungoverned_429s = limited_sim.limiter.refused
    assert ungoverned_429s > 0  # the wall the governor is for

    limited_sim.reset()
    s = governed(s, ModelLimitsSpec(requests_per_minute=60, burst_s=2))
    status = await probe_burst(client, s, 8)
    assert status is not None
    assert limited_sim.limiter.refused == 0
    assert limited_sim.stats()["by_status"] == {"200": 8}
    t = status.totals
    assert (t.granted, t.settled, t.expired, t.rate_limited) == (8, 8, 0, 0)
    assert status.in_flight == 0 and status.queue_depth == 0
    # The simulator's own headers were read back: its limit is what we configured.
    assert status.limits.requests_per_minute == 60


async def test_a_burst_under_spare_limits_takes_blocks_and_counts_every_call_once(
    client: Client, settings: Settings
) -> None:
    """Far below the limits, a worker's calls share block leases: fewer Updates than
    calls, one settle per block, and every call counted exactly once."""
    with Simulator(port=0, rate_limits=SimLimits(requests_per_minute=100_000)) as sim:
        s = dataclasses.replace(settings, anthropic_base_url=sim.url)
        s = governed(s, ModelLimitsSpec(requests_per_minute=100_000))
        status = await probe_burst(client, s, 30)
        assert sim.limiter is not None and sim.limiter.refused == 0
        assert sim.stats()["by_status"] == {"200": 30}
    assert status is not None
    t = status.totals
    assert t.calls == 30
    assert t.blocks >= 1 and t.granted < 30
    assert t.settled == t.granted and (t.expired, t.abandoned, t.ignored_settles) == (0, 0, 0)
    assert status.in_flight == 0 and status.queue_depth == 0


async def test_governor_hands_its_book_over_on_continue_as_new(
    client: Client, settings: Settings, limited_sim: Simulator
) -> None:
    s = dataclasses.replace(settings, anthropic_base_url=limited_sim.url)
    s = governed(s, ModelLimitsSpec(requests_per_minute=60, burst_s=2))
    gid = s.governor.governor_id(MODEL)
    await start_short_governor(client, s, max_history=40)
    status = await probe_burst(client, s, 8)
    assert status is not None
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{gid}'")]
    assert len(runs) >= 2  # it continued as new at least once mid-burst
    assert status.totals.granted == 8 and status.totals.settled == 8
    assert limited_sim.limiter is not None and limited_sim.limiter.refused == 0
    # The governor's code is deterministic: every closed run replays cleanly.
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.worker import Replayer

    from agentfleet.payloads.converter import data_converter

    replayer = Replayer(workflows=[LlmGovernorWorkflow], data_converter=data_converter)
    closed = [r for r in runs if r.status == WorkflowExecutionStatus.CONTINUED_AS_NEW]
    assert closed
    for run in closed:
        history = await client.get_workflow_handle(gid, run_id=run.run_id).fetch_history()
        await replayer.replay_workflow(history)


async def test_priority_and_fairness_key_reach_children_and_activities(
    client: Client, settings: Settings
) -> None:
    s = governed(settings, ModelLimitsSpec(requests_per_minute=6000))
    async with running_worker(client, s):
        handle = await client.start_workflow(
            MasterAgentWorkflow.run,
            MasterInput(goal=COMPLEX_GOAL, priority=1, fairness_key="team-x"),
            id=f"prio-{uuid.uuid4().hex[:8]}",
            task_queue=s.task_queue,
        )
        result = await asyncio.wait_for(handle.result(), timeout=120)
        models = {c.model for c in result.tree.children if c.model}
        statuses = [await governor_status(client, s, m) for m in sorted(models)]
    assert result.tree.children, "the goal was meant to be planned into sub-agents"
    await assert_priority(handle, child_starts=len(result.tree.children))
    for child in result.tree.children:
        await assert_priority(client.get_workflow_handle(child.workflow_id))
    # Every call the governors saw came at priority 1 for team-x.
    assert statuses
    for status in statuses:
        assert set(status.totals.granted_by) == {"1/team-x"}


async def assert_priority(handle: WorkflowHandle, child_starts: int = 0) -> None:
    history = await handle.fetch_history()
    chats = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "agentfleet.llm.chat"
    ]
    assert chats, handle.id
    for a in chats:
        assert (a.priority.priority_key, a.priority.fairness_key) == (1, "team-x"), handle.id
    starts = [
        e.start_child_workflow_execution_initiated_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    ]
    assert len(starts) == child_starts
    for a in starts:
        assert (a.priority.priority_key, a.priority.fairness_key) == (1, "team-x")


@pytest.fixture
def slow_sim() -> Iterator[Simulator]:
    # Slow enough that the kill lands while both leases are held.
    with Simulator(port=0, latency_ms=2500) as s:
        yield s


@pytest.mark.slow
async def test_sigkilled_worker_leases_expire_and_nothing_is_counted_twice(
    client: Client, devserver: DevServer, slow_sim: Simulator, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "home", devserver, slow_sim.url)
    env = {
        "AGENTFLEET_RATE_LIMITS": json.dumps({"*": {"max_in_flight": 2}}),
        "AGENTFLEET_GOV_LEASE_TTL_S": "6",
        "AGENTFLEET_GOV_SCOPE": settings.task_queue,
    }
    settings = dataclasses.replace(settings, governor=GovernorConfig.from_env(env))
    log = ARTIFACTS / f"worker-gov-kill-{uuid.uuid4().hex[:6]}.log"
    first = WorkerProcess(settings, log, extra_env=env).start()
    workers = [first]
    try:
        handles = [
            await client.start_workflow(
                MasterAgentWorkflow.run,
                MasterInput(goal=f"Say hello to {name}", model=MODEL),
                id=f"gov-kill-{name}-{uuid.uuid4().hex[:6]}",
                task_queue=settings.task_queue,
            )
            for name in ("ann", "bob", "cy")
        ]
        held = await supervised(wait_for_leases(client, settings, 2), workers)
        first.kill()
        second = WorkerProcess(settings, log, extra_env=env).start()
        workers.append(second)
        results = await supervised(
            asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=150),
            workers,
        )
        status = await supervised(settled(client, settings), workers)
    finally:
        for w in workers:
            w.kill()
    assert all(r.tree.status == "completed" for r in results), [r.tree.status for r in results]
    t = status.totals
    # The dead worker's leases are gone, each by expiry, and their capacity came back:
    # the new worker's calls could only run once both slots of the cap were free again.
    assert not set(held) & set(status.lease_ids)
    assert t.expired >= len(held)
    assert status.in_flight == 0 and status.queue_depth == 0
    # Every lease ended exactly once: settled, expired or given back.
    assert t.granted == t.settled + t.expired + t.abandoned
    assert t.ignored_settles == 0


async def settled(client: Client, settings: Settings) -> GovernorStatus:
    """The governor's status once no lease is in flight (or after 5 s, whatever it is)."""
    for _ in range(100):
        status = await governor_status(client, settings)
        if status.in_flight == 0:
            return status
        await asyncio.sleep(0.05)
    return status


async def wait_for_leases(client: Client, settings: Settings, n: int) -> list[str]:
    for _ in range(600):
        try:
            status = await governor_status(client, settings)
        except Exception:  # not started yet
            status = None
        if status is not None and status.in_flight >= n:
            return status.lease_ids
        await asyncio.sleep(0.05)
    raise AssertionError(f"the governor never held {n} leases")


async def test_breaker_opens_after_529s_and_the_fallback_model_answers(
    client: Client, settings: Settings
) -> None:
    """Two 529s open the breaker; the next attempt goes to the fallback model, which is
    recorded on the receipt; the breaker shows in the governors' status (fleet status)."""
    from agentfleet.cli.fleet import governor_statuses

    fallback = "claude-sonnet-5"
    with Simulator(port=0) as sim:
        s = dataclasses.replace(
            settings,
            anthropic_base_url=sim.url,
            governor=GovernorConfig(
                limits={
                    "*": ModelLimitsSpec(
                        requests_per_minute=6000,
                        breaker_threshold=2,
                        breaker_window_s=60,
                        breaker_cooldown_s=120,
                    )
                },
                fallbacks={MODEL: fallback},
                scope=settings.task_queue,
            ),
        )
        sim.enqueue_faults([{"status": 529}, {"status": 529}])
        async with running_worker(client, s):
            handle = await client.start_workflow(
                MasterAgentWorkflow.run,
                MasterInput(goal="Say hello to Ann", model=MODEL),
                id=f"breaker-{uuid.uuid4().hex[:8]}",
                task_queue=s.task_queue,
            )
            result = await asyncio.wait_for(handle.result(), timeout=120)
            status = await governor_status(client, s)
            listed = {g.model: g for g in await governor_statuses(client)}
    assert result.tree.status == "completed"
    receipts = result.tree.receipts
    assert [r.ok for r in receipts] == [False, False, True]
    answered = receipts[-1]
    assert (answered.model, answered.fallback_from) == (fallback, MODEL)
    assert status.breaker == "open" and status.totals.breaker_trips == 1
    assert status.totals.overloaded == 2 and status.breaker_open_for_s > 0
    assert listed[MODEL].breaker == "open"
    assert sim.stats()["by_status"] == {"529": 2, "200": 1}


async def test_fleet_starts_the_most_urgent_goal_first_with_its_temporal_priority(
    client: Client, settings: Settings
) -> None:
    """A paused fleet holds a team's batch and one urgent goal; on resume, with one slot,
    the urgent goal starts first, and its master runs at its priority and key."""
    from temporalio.worker import Replayer

    from agentfleet.contracts.fleet import FleetInput, FleetSubmit
    from agentfleet.payloads.converter import data_converter
    from workflows.fleet import FleetWorkflow

    fleet_id = f"fleet-prio-{uuid.uuid4().hex[:8]}"
    async with running_worker(client, settings):
        handle = await client.start_workflow(
            FleetWorkflow.run,
            FleetInput(max_concurrent=1),
            id=fleet_id,
            task_queue=settings.task_queue,
        )
        await handle.signal(FleetWorkflow.pause)
        batch = [
            await handle.execute_update(
                FleetWorkflow.submit,
                FleetSubmit(goal=f"What is {n}+{n}?", priority=5, fairness_key="batch"),
            )
            for n in range(1, 4)
        ]
        urgent = await handle.execute_update(
            FleetWorkflow.submit,
            FleetSubmit(goal="What is 9+9?", priority=1, fairness_key="oncall"),
        )
        await handle.signal(FleetWorkflow.resume)
        await handle.signal(FleetWorkflow.drain)
        result = await asyncio.wait_for(handle.result(), 90)
    assert result.stats.completed == 4
    history = await handle.fetch_history()
    starts = [
        e.start_child_workflow_execution_initiated_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    ]
    assert [a.workflow_id for a in starts] == [urgent, *batch]
    assert (starts[0].priority.priority_key, starts[0].priority.fairness_key) == (1, "oncall")
    master = await client.get_workflow_handle(urgent).fetch_history()
    started = master.events[0].workflow_execution_started_event_attributes
    assert (started.priority.priority_key, started.priority.fairness_key) == (1, "oncall")
    await Replayer(workflows=[FleetWorkflow], data_converter=data_converter).replay_workflow(
        history
    )


async def test_acquires_cut_off_by_continue_as_new_ask_the_next_run(
    client: Client, settings: Settings
) -> None:
    # A governor that continues as new every few dozen events, under a burst far
    # above the server's 10 in-flight Updates: Updates the closing run had taken are
    # aborted, and must be asked again of the next run, not fail the LLM call.
    s = governed(settings, ModelLimitsSpec(requests_per_minute=100_000))
    gid = s.governor.governor_id(MODEL)
    await start_short_governor(client, s, max_history=30)
    async with probe_worker(client, s):
        handles = await start_probes(client, s, n=120, prefix="gov-can")
        await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), timeout=180)
        attempts = []
        for h in handles:
            async for e in h.fetch_history_events():
                if e.HasField("activity_task_started_event_attributes"):
                    attempts.append(e.activity_task_started_event_attributes.attempt)
    # The closed governor runs the worker had cached are finalized now, not inside a
    # later import (tests/conftest.py explains).
    collect_evicted_runs()
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{gid}'")]
    assert len(runs) >= 2  # it handed over during the burst
    assert attempts == [1] * 120  # no LLM call failed because its Update was cut off
