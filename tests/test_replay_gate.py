"""The replay gate: `agentfleet replay` against a server with sub-agents at work.

The command runs as users run it, in its own process. For the careless
release, that process swaps in tests/changed_workflows.py (a sub-agent with a
new first command) before the CLI starts, as if the checkout held that change.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus

from agentfleet.config import Settings
from agentfleet.contracts.models import ControlRequest, MasterInput
from agentfleet.deploy.replay import build_query, parse_since
from agentfleet.errors import CliError
from agentfleet.sim import Simulator
from tests.conftest import COMPLEX_GOAL, collect_evicted_runs, running_worker
from workflows.master import MasterAgentWorkflow

ROOT = Path(__file__).resolve().parent.parent
CHANGED = (
    "import worker, tests.changed_workflows as c; "
    "worker.WORKFLOWS[:] = c.with_changed_subagent(worker.WORKFLOWS); "
)


def agentfleet(
    settings: Settings, *args: str, changed: bool = False
) -> subprocess.CompletedProcess:
    prelude = CHANGED if changed else ""
    code = f"{prelude}from agentfleet.cli.main import main; raise SystemExit(main({list(args)!r}))"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OTEL_"))}
    env.update(
        TEMPORAL_ADDRESS=settings.temporal_address,
        AGENTFLEET_HOME=str(settings.home),
        AGENTFLEET_TASK_QUEUE=settings.task_queue,
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def sub_agents_mid_flight(client: Client, settings: Settings, wid: str) -> list[str]:
    """Start a master; stop the worker once two sub-agents have done an LLM turn.

    The sub-agents must still be running when the worker is gone. Against the shared,
    instant simulator they were not, in CI: a loaded machine took longer to see a
    sub-agent's first activity than the sub-agent took to finish. So they answer to a
    simulator of their own that takes a quarter of a second a turn, look around for 40
    turns, and each is paused once its first activity is done, so the stop may take
    as long as it likes.
    """
    with Simulator(port=0, latency_ms=250) as slow:
        own = dataclasses.replace(settings, anthropic_base_url=slow.url)
        async with running_worker(client, own):
            await client.start_workflow(
                MasterAgentWorkflow.run,
                MasterInput(goal=COMPLEX_GOAL + " [sim:turns=40]", max_turns=60),
                id=wid,
                task_queue=settings.task_queue,
            )
            children = [f"{wid}.1", f"{wid}.2"]
            for child in children:
                await wait_for_activity(client, child)
                await client.get_workflow_handle(child).signal(
                    "control_signal", ControlRequest(action="pause", reason="replay gate test")
                )
    collect_evicted_runs()
    statuses = {
        child: (await client.get_workflow_handle(child).describe()).status for child in children
    }
    running = [c for c, s in statuses.items() if s == WorkflowExecutionStatus.RUNNING]
    assert running, f"every sub-agent finished before the worker stopped: {statuses}"
    return running


async def wait_for_activity(client: Client, wid: str) -> None:
    done = EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
    for _ in range(600):
        try:
            events = (await client.get_workflow_handle(wid).fetch_history()).events
            if any(e.event_type == done for e in events):
                return
        except Exception:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"{wid} never completed an activity")


@pytest.fixture
async def running_tree(client: Client, settings: Settings):
    wid = f"gate-{settings.task_queue}"
    running = await sub_agents_mid_flight(client, settings, wid)
    yield wid, running
    await client.get_workflow_handle(wid).terminate("test over")


async def test_a_nondeterministic_subagent_fails_the_gate_naming_workflow_and_event(
    client: Client, settings: Settings, running_tree: tuple[str, list[str]]
) -> None:
    wid, running = running_tree
    query = f"TaskQueue = '{settings.task_queue}'"
    out = await asyncio.to_thread(
        agentfleet, settings, "replay", "--query", query, "--json", changed=True
    )
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    failed = {f["workflow_id"]: f for f in report["failures"]}
    # Every sub-agent that had started replays into the new first command.
    assert set(running) <= set(failed), (running, report)
    for child in running:
        f = failed[child]
        assert f["workflow_type"] == "SubAgentWorkflow" and f["kind"] == "nondeterminism"
        assert f["run_id"] and f["event_id"] is not None and f["event_type"], f["message"]
        assert "Nondeterminism" in f["message"], f
    # The master's code did not change: it replays.
    assert wid not in failed
    # The text report says the same to a person.
    text = await asyncio.to_thread(agentfleet, settings, "replay", "--query", query, changed=True)
    assert text.returncode == 1
    first = failed[running[0]]
    assert f"SubAgentWorkflow {running[0]} run {first['run_id']}" in text.stdout
    assert f"event {first['event_id']} ({first['event_type']})" in text.stdout
    # The SDK's diff, unwrapped from its debug dump.
    assert first["reason"].startswith("[TMPRL1100] Nondeterminism error")
    assert first["reason"] in text.stdout
    assert "do not roll it out" in text.stdout and "Traceback" not in text.stderr


async def test_the_real_code_passes_the_gate(
    client: Client, settings: Settings, running_tree: tuple[str, list[str]]
) -> None:
    _, running = running_tree
    query = f"TaskQueue = '{settings.task_queue}'"
    out = await asyncio.to_thread(agentfleet, settings, "replay", "--query", query, "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert report["failures"] == []
    # The master and at least the running sub-agents were replayed.
    assert report["replayed"] >= 1 + len(running)


async def test_no_histories_is_a_clear_message_and_exit_0(settings: Settings) -> None:
    query = "WorkflowId = 'no-such-workflow-anywhere'"
    out = await asyncio.to_thread(agentfleet, settings, "replay", "--query", query)
    assert out.returncode == 0, out.stderr
    assert "no workflow histories match" in out.stdout


async def test_bad_input_is_one_line_not_a_traceback(settings: Settings) -> None:
    out = await asyncio.to_thread(agentfleet, settings, "replay", "--since", "7 parsecs")
    assert out.returncode == 2 and out.stderr.startswith("error: --since"), out.stderr
    bad = await asyncio.to_thread(agentfleet, settings, "replay", "--query", "NoSuchField = 1")
    assert bad.returncode == 2 and bad.stderr.startswith("error: listing workflows failed")
    assert "Traceback" not in out.stderr + bad.stderr


def test_query_and_since() -> None:
    from datetime import UTC, datetime, timedelta

    assert parse_since("7d") == timedelta(days=7) and parse_since("12h") == timedelta(hours=12)
    with pytest.raises(CliError):
        parse_since("0d")
    q = build_query(timedelta(days=1), "TaskQueue = 'x'", now=datetime(2026, 1, 2, tzinfo=UTC))
    assert "CloseTime > '2026-01-01T00:00:00Z'" in q and q.endswith("AND (TaskQueue = 'x')")
    assert "ExecutionStatus = 'Running'" in q
