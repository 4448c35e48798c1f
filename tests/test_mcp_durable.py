"""Acceptance: a sub-agent calls a tool on a real MCP server process, and the worker is
SIGKILLed during the call.

The server (tests/mcp_notes_server.py, streamable HTTP) is a process of its own that
outlives the worker, and logs every invocation. The goal's sub-agent (the simulator,
scripted by `[sim:call=...]`) calls one slow tool; once the server's log shows the call
started, the worker is killed and a new one started.

- An idempotent tool (`lookup`, readOnlyHint) is retried after the crash: the server ran
  it twice, the agent got one result, its journal has one call, and one `execute_tool`
  span completed, in the run's one trace.
- A tool that is not idempotent (`add_note`) is not run again: the server ran it once,
  and the model was told that the outcome is unknown.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from agentfleet.cli.devserver import DevServer
from agentfleet.contracts.models import AgentNode, Effect, MasterInput, MasterResult
from agentfleet.sim import Simulator
from agentfleet.telemetry.trace_view import read_spans
from tests.conftest import ARTIFACTS, make_settings
from tests.procs import WorkerProcess, supervised
from tests.test_mcp import SERVER, free_tcp_port, invocations

pytestmark = pytest.mark.slow

GOAL = "Use the notes service to look up the key alpha and report its value"
SECRET = "tok-durable-5e3r3t"


@pytest.fixture
def notes_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_tcp_port()
    log = tmp_path / "notes-calls.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--log", str(log), "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "notes-server.err").open("w"),
    )
    try:
        deadline = time.monotonic() + 30
        import socket

        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp", log
    finally:
        proc.terminate()
        proc.wait(10)


async def _wait_started(log: Path, tool: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while invocations(log, tool) < 1:
        if time.monotonic() > deadline:
            raise AssertionError(f"{tool} was never invoked")
        await asyncio.sleep(0.05)


async def _kill_during_call(
    client: Client,
    devserver: DevServer,
    sim: Simulator,
    tmp_path: Path,
    server: tuple[str, Path],
    tool: str,
    args: dict[str, object],
) -> tuple[MasterResult, str, list[WorkerProcess]]:
    url, log = server
    settings = make_settings(tmp_path / "home", devserver, sim.url)
    (settings.home / "mcp.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "notes": {"url": url, "headers": {"Authorization": "Bearer ${NOTES_TOKEN}"}}
                }
            }
        )
    )
    out = ARTIFACTS / f"worker-mcp-{uuid.uuid4().hex[:6]}.log"
    env = {"NOTES_TOKEN": SECRET}
    workers = [WorkerProcess(settings, out, env).start()]
    try:
        goal = f"{GOAL} [sim:call=mcp__notes__{tool} {json.dumps(args)}]"
        handle = await client.start_workflow(
            "MasterAgentWorkflow",
            MasterInput(goal=goal),
            id=f"mcp-kill-{tool}-{uuid.uuid4().hex[:6]}",
            task_queue=settings.task_queue,
            result_type=MasterResult,
        )
        await supervised(_wait_started(log, tool), workers)
        workers[0].kill()
        workers.append(WorkerProcess(settings, out, env).start())
        result = await supervised(asyncio.wait_for(handle.result(), 120), workers)
        history = await client.get_workflow_handle(
            result.tree.children[0].workflow_id
        ).fetch_history()
        scheduled = [
            e.activity_task_scheduled_event_attributes.activity_type.name
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        ]
        assert scheduled.count("agentfleet.mcp.call") == 1  # one call, however many attempts
        # Give a wrongly retried call time to show up in the server's log.
        await asyncio.sleep(2)
    finally:
        for w in workers:
            w.terminate(20)
    return result, str(settings.home), workers


def _the_subagent(result: MasterResult) -> AgentNode:
    (child,) = result.tree.children
    assert child.role == "subagent", child
    return child


def _spans(home: str, root_id: str, tool: str) -> tuple[list[str], set[str]]:
    spans = read_spans(Path(home) / "traces" / "spans.jsonl")
    mine = [s for s in spans if s.attributes.get("agentfleet.root_id") == root_id]
    traces = {s.trace_id for s in mine}
    calls = [s for s in spans if s.name == f"execute_tool mcp__notes__{tool}"]
    for s in calls:
        assert s.attributes["gen_ai.tool.type"] == "extension"
        assert s.attributes["gen_ai.tool.name"] == f"mcp__notes__{tool}"
        assert str(s.attributes["gen_ai.tool.call.id"]).startswith("toolu_")
    ok = [s.trace_id for s in calls if s.status_code != 2]
    return ok, traces


async def test_idempotent_mcp_tool_is_retried_after_a_worker_crash(
    client: Client,
    devserver: DevServer,
    sim: Simulator,
    tmp_path: Path,
    notes_server: tuple[str, Path],
) -> None:
    result, home, _ = await _kill_during_call(
        client, devserver, sim, tmp_path, notes_server, "lookup", {"key": "alpha", "seconds": 3}
    )
    child = _the_subagent(result)
    assert result.status == "completed", (result.tree.error, child.error, child.output)
    assert "the value of alpha is 42" in child.output
    assert child.effects.count(Effect(op="call", path="mcp__notes__lookup")) == 1
    # The server ran it twice (the killed worker's call, then the retry): harmless, by the
    # tool's own declaration, and the agent saw one result.
    assert invocations(notes_server[1], "lookup") == 2
    ok, traces = _spans(home, result.tree.workflow_id, "lookup")
    assert len(traces) == 1, traces  # the whole run is one trace, across both workers
    assert ok == list(traces), ok  # and in it, the call completed once
    assert SECRET not in (Path(home) / "traces" / "spans.jsonl").read_text()


async def test_non_idempotent_mcp_tool_is_not_run_again_after_a_worker_crash(
    client: Client,
    devserver: DevServer,
    sim: Simulator,
    tmp_path: Path,
    notes_server: tuple[str, Path],
) -> None:
    result, home, _ = await _kill_during_call(
        client,
        devserver,
        sim,
        tmp_path,
        notes_server,
        "add_note",
        {"text": "pay rent", "seconds": 3},
    )
    child = _the_subagent(result)
    # The server ran it once; the retry that a crash would normally bring never came.
    assert invocations(notes_server[1], "add_note") == 1
    assert "McpOutcomeUnknown" in child.output and "not marked idempotent" in child.output
    # The journal records the call: it may have taken effect.
    assert child.effects.count(Effect(op="call", path="mcp__notes__add_note")) == 1
    ok, traces = _spans(home, result.tree.workflow_id, "add_note")
    assert len(traces) == 1 and ok == []  # no attempt completed; the killed one left no span
