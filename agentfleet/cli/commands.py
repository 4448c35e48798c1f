"""The CLI's commands. Temporal is imported here, never by `agentfleet.cli.main`.

Workflows are started by their type name (`MASTER_WORKFLOW`), never by class, and
the worker comes from `agentfleet.plugin`: the core does not import `workflows`,
`activities` or `worker` (issue #14).
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.service import RPCError

from agentfleet.cli.devserver import DevServer, DevServerError, is_serving
from agentfleet.cli.output import emit_json, say
from agentfleet.client import connect, connect_traced
from agentfleet.config import Settings
from agentfleet.contracts.models import MasterInput, MasterResult
from agentfleet.contracts.workflows import MASTER_WORKFLOW
from agentfleet.deploy.task_timeouts import AGENT_TASK_TIMEOUT
from agentfleet.errors import CliError
from agentfleet.reporting.render import render_result, result_json, workflow_url

if TYPE_CHECKING:
    from rich.console import Console

    from agentfleet.sim import Simulator


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return (host or "localhost"), int(port)


def _start_simulator(settings: Settings) -> tuple[Settings, Simulator | None]:
    """Without a key the simulator stands in for Claude, on its port if that is free."""
    if not settings.uses_simulator:
        return settings, None
    from agentfleet.sim import Simulator

    port = settings.sim_port if not is_serving("127.0.0.1", settings.sim_port) else 0
    sim = Simulator(port=port).start()
    say(f"LLM: agentfleet SIMULATOR at {sim.url} (set ANTHROPIC_API_KEY for real Claude)")
    return dataclasses.replace(settings, anthropic_base_url=sim.url), sim


def _start_server(settings: Settings, sim: Simulator | None) -> DevServer:
    """The dev server on the configured address, or the one already answering there."""
    host, port = _host_port(settings.temporal_address)
    server = DevServer(
        db_file=settings.temporal_db,
        host="127.0.0.1" if host == "localhost" else host,
        port=port,
        ui_port=settings.ui_port,
        log_file=settings.home / "temporal.log",
    )
    settings.home.mkdir(parents=True, exist_ok=True)
    try:
        server.start()
    except DevServerError as err:
        if sim:
            sim.stop()
        raise CliError(str(err)) from None
    if server.reused:
        say(f"Temporal: reusing the server already running at {server.address}")
    else:
        say(f"Temporal: dev server at {server.address}, state in {settings.temporal_db}")
    say(f"Temporal UI: {settings.ui_url}")
    return server


@asynccontextmanager
async def embedded_stack(
    settings: Settings, *, with_worker: bool = True
) -> AsyncIterator[Settings]:
    """Simulator (when there is no key), dev server and worker, torn down in order."""
    settings, sim = _start_simulator(settings)
    server = _start_server(settings, sim)
    from agentfleet.telemetry import setup_telemetry

    telemetry = setup_telemetry(settings)
    try:
        client = await connect_traced(settings, telemetry)
        await prepare_cluster(client, settings)
        async with _worker_while_open(client, settings, with_worker=with_worker):
            yield settings
    finally:
        # Spans of the last workflows are flushed before the server goes away.
        await telemetry.shutdown()
        server.stop()
        if sim:
            sim.stop()


@asynccontextmanager
async def _worker_while_open(
    client: Client, settings: Settings, *, with_worker: bool
) -> AsyncIterator[None]:
    """The plugin's worker polls (and its build becomes current) while the stack is open."""
    if not with_worker:
        yield
        return
    from agentfleet.plugin import build_worker

    settings.workspaces.mkdir(parents=True, exist_ok=True)
    async with build_worker(client, settings):
        await _take_over(client, settings)
        yield


async def _take_over(client: Client, settings: Settings) -> None:
    """The dev worker's build becomes current before any work starts.

    Runs pinned to an earlier build stay on it (`agentfleet deploy status`).
    """
    if not settings.deployment_name:
        return
    from agentfleet.deploy.versioning import adopt_if_unset

    if await adopt_if_unset(
        client, settings.deployment_name, settings.build_id, timeout=30.0, take_over=True
    ):
        say(f"Worker: deployment {settings.deployment_name}, build {settings.build_id} (current)")
    else:
        say(f"Worker: build {settings.build_id} could not be made current; see the log")


async def prepare_cluster(client: Client, settings: Settings) -> None:
    """Retention long enough for a weekly audit, and the weekly schedule."""
    from agentfleet.audit.run import ensure_retention
    from agentfleet.reporting.schedule import ensure_schedule

    await ensure_retention(client, settings.temporal_namespace)
    await ensure_schedule(client, settings.task_queue)


def new_workflow_id(prefix: str = "master") -> str:
    """A workflow id people can sort by start time and still tell apart within a second."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{prefix}-{stamp}-{secrets.token_hex(3)}"


async def _start_master(client: Client, settings: Settings, inp: MasterInput, wid: str) -> Any:
    return await client.start_workflow(
        MASTER_WORKFLOW,
        inp,
        id=wid,
        task_queue=settings.task_queue,
        result_type=MasterResult,
        static_summary=f"master · {inp.goal[:80]}",
        task_timeout=AGENT_TASK_TIMEOUT,
    )


async def demo(settings: Settings) -> int:
    """Run the demo goal on a seeded workspace, on the embedded stack, and show the tree."""
    from agentfleet.cli.demo import DEMO_GOAL, seed_workspace

    async with embedded_stack(settings) as live:
        client = await connect(live.temporal_address, live.temporal_namespace, blob_root=live.blobs)
        wid = new_workflow_id("demo")
        seed_workspace(live.workspaces / wid)
        say(f"Goal: {DEMO_GOAL}")
        handle = await _start_master(client, live, MasterInput(goal=DEMO_GOAL, workspace=wid), wid)
        say(f"Started {wid}; waiting for the sub-agents…")
        result = await wait_for_result(handle)
        print(render_result(result, live.ui_url, live.temporal_namespace))
        print(f"Files: {live.workspaces / wid}")
        print("The UI runs while a server does: `agentfleet dev` serves it again with this run.")
        return 0 if result.status == "completed" else 1


async def wait_for_result(handle: Any) -> MasterResult:
    """The master's result; a failed run is one error line, not a traceback."""
    try:
        result: MasterResult = await handle.result()
    except WorkflowFailureError as err:
        cause = err.cause
        raise CliError(f"workflow {handle.id} failed: {getattr(cause, 'message', cause)}") from None
    return result


async def dev(settings: Settings) -> int:
    """Serve the embedded stack, worker included, until Ctrl-C or SIGTERM."""
    async with embedded_stack(settings):
        say(f"Worker polling task queue '{settings.task_queue}'. Ctrl-C to stop.")
        await _until_signal()
    return 0


async def server(settings: Settings) -> int:
    """Serve the dev server (and simulator) without a worker, until Ctrl-C or SIGTERM."""
    async with embedded_stack(settings, with_worker=False):
        await _until_signal()
    return 0


async def worker(settings: Settings) -> int:
    """Run the worker as `python worker.py` does, until Ctrl-C or SIGTERM."""
    # As worker.py: the worker's modules load with the collector off; serve() turns it on.
    gc.disable()
    from agentfleet.plugin import run_worker

    await run_worker(settings)
    return 0


async def _until_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def temporal_client(settings: Settings) -> Client:
    """The configured cluster's client, or one error line saying how to get one."""
    try:
        return await connect(
            settings.temporal_address, settings.temporal_namespace, blob_root=settings.blobs
        )
    except RuntimeError as err:
        raise CliError(
            f"cannot reach Temporal at {settings.temporal_address}: {err}. "
            "Start one with `agentfleet dev` or set TEMPORAL_ADDRESS."
        ) from None


def _master_input(goal: str, workspace: str | None, model: str | None) -> MasterInput:
    import pydantic

    try:
        return MasterInput(goal=goal, workspace=workspace, model=model)
    except pydantic.ValidationError as err:
        from agentfleet.payloads.converter import describe_invalid_payload

        raise CliError(describe_invalid_payload(err)) from None


async def run(
    settings: Settings,
    goal: str,
    *,
    wait: bool = False,
    as_json: bool = False,
    workspace: str | None = None,
    model: str | None = None,
    workflow_id: str | None = None,
    console: Console | None = None,
) -> int:
    """Start a master on `goal`; with `wait`, follow it to the end and show its tree.

    On a terminal (or with `console`), the tree is drawn live as it grows; piped
    or with `--json`, only the final result is printed, as scripts expect.
    """
    inp = _master_input(goal, workspace, model)
    client = await temporal_client(settings)
    wid = workflow_id or new_workflow_id()
    handle = await _start_master(client, settings, inp, wid)
    url = workflow_url(settings.ui_url, settings.temporal_namespace, wid)
    if not wait:
        if as_json:
            emit_json({"workflow_id": wid, "run_id": handle.result_run_id, "ui_url": url})
        else:
            print(f"started {wid}\n{url}")
        return 0
    if console is None and not as_json and sys.stdout.isatty():
        from rich.console import Console

        console = Console()
    if console is not None and not as_json:
        from agentfleet.cli.live import watch

        result = await watch(handle, console)
    else:
        try:
            result = await wait_for_result(handle)
        except CliError as err:
            if not as_json:
                raise
            # A script reading stdout gets a document for a failed run too.
            emit_json({"workflow_id": wid, "status": "failed", "error": str(err), "ui_url": url})
            print(f"error: {err}", file=sys.stderr)
            return 1
    return _print_result(settings, result, as_json=as_json)


def _print_result(settings: Settings, result: MasterResult, *, as_json: bool) -> int:
    if as_json:
        emit_json(result_json(result))
    else:
        # Simulated or not is what the run's receipts say, not this shell's settings.
        print(render_result(result, settings.ui_url, settings.temporal_namespace))
    return 0 if result.status == "completed" else 1


async def status(settings: Settings, workflow_id: str, *, as_json: bool = False) -> int:
    """A master's result tree once it has finished; its state and times before that."""
    client = await temporal_client(settings)
    handle = client.get_workflow_handle(workflow_id, result_type=MasterResult)
    try:
        desc = await handle.describe()
    except RPCError as err:
        raise CliError(f"no workflow {workflow_id!r}: {err.message}") from None
    if desc.status == WorkflowExecutionStatus.COMPLETED:
        return _print_result(settings, await handle.result(), as_json=as_json)
    doc: dict[str, Any] = {
        "workflow_id": workflow_id,
        "status": desc.status.name.lower() if desc.status else "unknown",
        "output": None,
        "usage": None,
        "children": [],
        "start_time": desc.start_time.isoformat(),
        "close_time": desc.close_time.isoformat() if desc.close_time else None,
        "ui_url": workflow_url(settings.ui_url, settings.temporal_namespace, workflow_id),
    }
    if as_json:
        emit_json(doc)
    else:
        for k, v in doc.items():
            print(f"{k:>11}: {v}")
    return 0 if desc.status == WorkflowExecutionStatus.RUNNING else 1


def score(task: str, *, as_json: bool = False) -> int:
    """Score a task's complexity with no LLM call: what the master would decide."""
    from agentfleet.delegation.policy import score_command

    code, out = score_command(task, as_json=as_json)
    print(out, file=sys.stdout if code == 0 else sys.stderr)
    return code
