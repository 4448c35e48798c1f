"""Graceful shutdown: SIGTERM mid-LLM-call, a new worker, and what the receipts say.

The worker process is `python worker.py`, stopped with SIGTERM while sub-agents wait on
the simulator (with latency), as a deploy or `docker compose stop` stops it. A second
worker then takes over. Every run completes, and the receipts account for every request
the simulator served: a call that finished inside the grace period is paid once; a call
cut by a grace period shorter than the call is retried, and its first attempt is the
one receipt marked `cut`.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client, WorkflowHandle

from agentfleet.cli.demo import DEMO_GOAL, seed_workspace
from agentfleet.cli.devserver import DevServer
from agentfleet.contracts.models import MasterInput, MasterResult, Receipt
from agentfleet.sim import Simulator
from tests.conftest import ARTIFACTS, make_settings
from tests.procs import WorkerProcess, supervised
from workflows.master import MasterAgentWorkflow

pytestmark = pytest.mark.slow


async def llm_call_in_flight(client: Client, root_id: str, beating: bool) -> str:
    """Wait until some sub-agent of `root_id` has an LLM call started on a worker
    (`beating`: and already heartbeating, so the server knows its request is out)."""
    for _ in range(600):
        async for w in client.list_workflows(
            f"WorkflowId STARTS_WITH '{root_id}.' AND ExecutionStatus = 'Running'"
        ):
            desc = await client.get_workflow_handle(w.id).describe()
            for act in desc.raw_description.pending_activities:
                if (
                    act.activity_type.name == "agentfleet.llm.chat"
                    and act.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                    and (not beating or act.HasField("last_heartbeat_time"))
                ):
                    return w.id
        await asyncio.sleep(0.05)
    raise AssertionError(f"no LLM call of {root_id} got under way")


def all_receipts(result: MasterResult) -> list[Receipt]:
    return [r for node in result.tree.walk() for r in node.receipts]


async def sigterm_mid_call(
    client: Client,
    devserver: DevServer,
    tmp_path: Path,
    latency_ms: float,
    grace_s: float,
) -> tuple[MasterResult, list[Receipt], int, int | None]:
    """Run the demo goal; SIGTERM the worker mid-call; finish on a second worker.

    Returns the result, its receipts, the simulator's request count and the first
    worker's exit code.
    """
    with Simulator(port=0, latency_ms=latency_ms) as sim:
        settings = make_settings(tmp_path / "home", devserver, sim.url)
        seed_workspace(settings.workspaces / "ws")
        log = ARTIFACTS / f"worker-sigterm-{uuid.uuid4().hex[:6]}.log"
        env = {"AGENTFLEET_SHUTDOWN_GRACE_S": str(grace_s)}
        first = WorkerProcess(settings, log, env).start()
        workers = [first]
        try:
            handle: WorkflowHandle[MasterAgentWorkflow, MasterResult] = await client.start_workflow(
                MasterAgentWorkflow.run,
                MasterInput(goal=DEMO_GOAL, workspace="ws"),
                id=f"sigterm-{uuid.uuid4().hex[:8]}",
                task_queue=settings.task_queue,
            )
            await supervised(llm_call_in_flight(client, handle.id, grace_s < 1), workers)
            code = await asyncio.to_thread(first.terminate, 60.0)
            workers.append(WorkerProcess(settings, log, env).start())
            result = await supervised(asyncio.wait_for(handle.result(), timeout=240), workers)
        finally:
            for w in workers:
                w.kill()
        return result, all_receipts(result), int(sim.stats()["requests"]), code


async def test_sigterm_lets_in_flight_llm_calls_finish_and_pays_each_once(
    client: Client, devserver: DevServer, tmp_path: Path
) -> None:
    # The grace period (10 s) is far longer than a call (0.8 s): the calls in flight finish.
    result, receipts, requests, code = await sigterm_mid_call(
        client, devserver, tmp_path, latency_ms=800, grace_s=10
    )
    assert code == 0
    assert all(n.status == "completed" for n in result.tree.walk()), [
        (n.workflow_id, n.status, n.error) for n in result.tree.walk()
    ]
    # Every request the simulator served has exactly one receipt, and each was paid once.
    assert len(receipts) == requests
    assert all(r.ok and r.attempt == 1 and not r.cut for r in receipts), [
        r for r in receipts if not r.ok or r.cut or r.attempt != 1
    ]
    ids = [r.request_id for r in receipts]
    assert len(set(ids)) == len(ids)


async def test_sigterm_past_the_grace_period_marks_the_cut_call(
    client: Client, devserver: DevServer, tmp_path: Path
) -> None:
    # A grace period (0.2 s) shorter than a call (2 s): the calls in flight are cut. The
    # SIGTERM comes once a call has beaten (0.5 s in): a call cut before its first beat
    # leaves no trace that its request went out, and is receipted as a plain failure.
    result, receipts, requests, code = await sigterm_mid_call(
        client, devserver, tmp_path, latency_ms=2000, grace_s=0.2
    )
    assert code == 0
    assert all(n.status == "completed" for n in result.tree.walk()), [
        (n.workflow_id, n.status, n.error) for n in result.tree.walk()
    ]
    cut = [r for r in receipts if r.cut]
    assert cut, "a call was beating at SIGTERM, so some attempt must be marked cut"
    # Every request the simulator served has one receipt: nothing was paid silently.
    assert len(receipts) == requests
    # The failed attempts are the calls in flight at SIGTERM (cut, or cut before their
    # first beat): each a first attempt, at no recorded cost, followed by one paid retry.
    failed = [r for r in receipts if not r.ok]
    assert not any(r.ok for r in cut)
    assert all(r.attempt == 1 and r.cost_usd == 0 for r in failed), failed
    for r in failed:
        paid = [p for p in receipts if p.agent_id == r.agent_id and p.purpose == r.purpose and p.ok]
        assert [p.attempt for p in paid] == [2], (r, paid)
