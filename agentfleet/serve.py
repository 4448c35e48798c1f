"""The worker process around a worker: what `python worker.py` and `agentfleet worker` run.

SIGTERM and SIGINT trigger a graceful shutdown: in-flight activities get time to
finish, and whatever they could not finish is retried by Temporal on another
worker. Before polling, the workflows' bytecode is written and the MCP servers
are listed; after the drain, the last spans and metric values are exported.
"""

from __future__ import annotations

import asyncio
import compileall
import gc
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from agentfleet.client import connect_traced
from agentfleet.config import Settings
from agentfleet.deploy.versioning import adopt_if_unset
from agentfleet.held_attempts import AttemptJournal, end_orphans, journal_plugin
from agentfleet.mcp import McpHub, hub_for
from agentfleet.telemetry import Telemetry, setup_telemetry

log = logging.getLogger("agentfleet.worker")


async def serve(
    settings: Settings, build: Callable[[Client, Settings], Worker], *, workflow_code: Path
) -> None:
    """Poll until SIGTERM/SIGINT, then drain the worker and flush spans and metrics.

    `build` makes the worker from the (instrumented) client; `workflow_code` is the
    folder of workflow modules to precompile.
    """
    settings.workspaces.mkdir(parents=True, exist_ok=True)
    precompile_workflows(workflow_code)
    # A bad MCP config stops the worker here, naming the file and the field.
    hub = hub_for(settings.home)
    # Tracing and metrics from the OTel env vars (agentfleet/telemetry/): the plugins
    # trace workflows and activities, the runtime carries the SDK and fleet metrics.
    telemetry = setup_telemetry(settings)
    # The attempts this process runs, where a successor finds them if it dies; the ones
    # a dead predecessor left are ended as soon as the client is up (held_attempts.py).
    journal = AttemptJournal.claim(settings.home)
    orphans: asyncio.Task[int] | None = None
    try:
        client = await connect_traced(settings, telemetry, [journal_plugin(journal)])
        orphans = asyncio.create_task(end_orphans(client, journal))
        worker = build(client, settings)
        stop = _stop_on_signals()
        _log_start(settings, telemetry)
        await _discover(hub)
        _tune_gc()
        async with worker:
            adopt = _adopt_first_version(client, settings)
            await stop.wait()
            adopt.cancel()
            log.info("shutting down: draining in-flight work")
    finally:
        if orphans is not None and not orphans.done():
            orphans.cancel()  # still listed: a successor, or the server's timeout, ends them
        journal.close()
        await hub.close()
        # After the drain: the last activities' and workflows' spans and the final
        # metric values are exported before the process exits.
        await telemetry.shutdown()
        log.info("telemetry flushed")


def _tune_gc() -> None:
    """Fewer, cheaper garbage collections for a worker that allocates per workflow task.

    Everything loaded by now (modules, the SDK, pydantic's schemas) lives as long as the
    process, so it is frozen out of the collector's sight. Almost every object a task
    makes is freed by its reference count; collecting young objects every 20,000
    allocations instead of every 700 finds the same few cycles for a fraction of the
    passes. bench/overhead.py, the agentfleet worker's time in the collector over one
    run (800 sub-agents): 1.50 s as Python sets it, 1.08 s frozen, 0.28 s frozen and
    with these thresholds.
    """
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    # The worker's entry points load its modules with the collector off (worker.py).
    gc.enable()


def precompile_workflows(folder: Path) -> None:
    """Write the bytecode of the workflow modules in `folder` if it is missing or stale.

    Each sandboxed run imports its workflow module afresh. Where
    PYTHONDONTWRITEBYTECODE is set (common in containers and CI) no .pyc is
    ever written, so every run would compile the module's source again:
    about 6 ms of CPU per sub-agent start (bench/overhead.py profile). A
    read-only install (site-packages, already compiled by pip) is left alone.
    """
    try:
        compileall.compile_dir(folder, maxlevels=0, quiet=2)
    except OSError as err:
        log.debug("workflow bytecode not written: %s", err)


def _stop_on_signals() -> asyncio.Event:
    """An event SIGTERM and SIGINT set: the drain starts when it is set."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _log_start(settings: Settings, telemetry: Telemetry) -> None:
    """Where this worker polls, which LLM it calls and where its telemetry goes."""
    llm = (
        "simulator at " + str(settings.anthropic_base_url) if settings.uses_simulator else "Claude"
    )
    log.info(
        "worker polling %s on %s (namespace %s); LLM: %s",
        settings.task_queue,
        settings.temporal_address,
        settings.temporal_namespace,
        llm,
    )
    log.info("telemetry: %s", telemetry.describe())


def _adopt_first_version(client: Client, settings: Settings) -> asyncio.Task[bool]:
    """In the background: a fresh deployment's first build becomes current."""

    async def adopt() -> bool:
        if not settings.deployment_name:
            return False
        log.info("deployment %s, build %s", settings.deployment_name, settings.build_id)
        return await adopt_if_unset(client, settings.deployment_name, settings.build_id)

    return asyncio.create_task(adopt())


async def _discover(hub: McpHub) -> None:
    """Open each MCP server's session and list its tools before taking work.

    A server that is down is logged and tried again when a master asks; the
    worker still serves everything else.
    """
    if not hub.servers:
        return
    catalog = await hub.catalog()
    for tool in catalog.tools:
        kind = "idempotent" if tool.idempotent else "runs at most once"
        log.info("MCP tool %s (%s, timeout %.0f s)", tool.name, kind, tool.timeout_s)
    for server, why in catalog.errors.items():
        log.error("MCP server %s unavailable: %s", server, why)
