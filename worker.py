"""The agentfleet worker: every workflow and every activity on one task queue.

Run it with `python worker.py` or `agentfleet worker`. SIGTERM and SIGINT
trigger a graceful shutdown: in-flight activities get time to finish, and
whatever they could not finish is retried by Temporal on another worker.
"""

from __future__ import annotations

import asyncio
import compileall
import logging
import signal
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.worker import Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.audit import AuditActivities
from activities.ledger import LedgerActivities
from activities.llm import LlmActivities
from activities.mcp import McpActivities
from activities.policy import PolicyActivities
from activities.report import ReportActivities
from activities.tools import ToolActivities
from agentfleet.client import connect_traced
from agentfleet.config import Settings
from agentfleet.deploy.versioning import adopt_if_unset, deployment_config
from agentfleet.governance.limits import GovernorConfigError
from agentfleet.ledger.store import open_ledger
from agentfleet.logs import setup_logging
from agentfleet.mcp import McpConfigError, McpHub, hub_for
from agentfleet.payloads.blobstore import LocalBlobStore
from agentfleet.payloads.runner import ContextFreeRunner, context_free
from agentfleet.telemetry import setup_telemetry
from workflows.fleet import FleetWorkflow, await_master
from workflows.governor import LlmGovernorWorkflow
from workflows.master import MasterAgentWorkflow
from workflows.report import WeeklyReportWorkflow
from workflows.subagent import SubAgentWorkflow

WORKFLOWS = [
    MasterAgentWorkflow,
    SubAgentWorkflow,
    WeeklyReportWorkflow,
    FleetWorkflow,
    LlmGovernorWorkflow,
]

# The sandbox re-imports a workflow's module, and everything it imports that is
# not passed through, for every workflow run it starts or replays. These helpers
# hold functions and constants only (no state a run could leak to another), so
# they are imported once. Their code still runs under the workflow's rules (ruff,
# review, replay tests); only the sandbox's import-time checks skip them.
WORKFLOW_HELPERS = (
    "workflows._agent",
    "workflows._calls",
    "workflows._graph",
    "workflows._inline",
    "workflows._lifecycle",
    "workflows._loop",
    "workflows._observe",
    "workflows._search",
    "workflows._upgrade",
)

log = logging.getLogger("agentfleet.worker")


def build_worker(client: Client, settings: Settings, task_queue: str | None = None) -> Worker:
    return Worker(client, **worker_options(settings, task_queue, client.data_converter))


def worker_options(
    settings: Settings,
    task_queue: str | None = None,
    data_converter: DataConverter | None = None,
) -> dict[str, Any]:
    """Everything build_worker passes to Worker(client, ...).

    Tests and benchmarks adjust these (a fake activity under a real name, an
    extra workflow) and keep every tuning setting below. `data_converter` is
    the client's: when it ignores serialization contexts (agentfleet/payloads/runner.py)
    the runner stops asking the sandbox for them.
    """
    runner: WorkflowRunner = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*WORKFLOW_HELPERS)
    )
    if data_converter is not None and context_free(data_converter):
        runner = ContextFreeRunner(runner)
    llm = LlmActivities(settings)
    tools = ToolActivities(settings.workspaces)
    ledger = open_ledger(settings.ledger_url)
    ledger_acts = LedgerActivities(ledger)
    policy = PolicyActivities(settings.home)
    report = ReportActivities(settings, ledger=ledger)
    audit = AuditActivities(settings, ledger=ledger)
    mcp = McpActivities(hub_for(settings.home), LocalBlobStore(settings.blobs))
    versioning = deployment_config(settings)
    # A versioned worker is known by its deployment version (build id from the
    # checkout, agentfleet/deploy/build_info.py); an unversioned one keeps the label.
    identity: dict[str, Any] = (
        {"deployment_config": versioning} if versioning else {"build_id": "agentfleet"}
    )
    return dict(
        task_queue=task_queue or settings.task_queue,
        workflows=WORKFLOWS,
        workflow_runner=runner,
        activities=[
            llm.chat,
            tools.run_tool,
            tools.prepare_workspace,
            tools.verify,
            ledger_acts.record_start,
            ledger_acts.record_close,
            policy.thresholds,
            policy.search_attributes,
            report.build,
            audit.run,
            await_master,
            mcp.list_tools,
            mcp.call_tool,
        ],
        # A SIGKILLed worker's cached workflows wait on its sticky queue until
        # this runs out; only then can another worker take them. A live worker
        # takes a sticky task within milliseconds (its core polls as soon as a
        # slot is free), so 1 s only ever fires for a dead or stuck worker.
        # Measured (bench/recovery.py): recovery with a workflow task pending
        # went from 3.0 s (at 3 s) to 1.3-1.8 s, the new process's startup.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
        # The SDK batches heartbeats to 80% of the heartbeat timeout; the LLM
        # activity's 3 s timeout (workflows/_calls.py) needs each 0.5 s beat
        # sent as it comes, so the server never mistakes a live call for a dead
        # one. Only LLM calls heartbeat: two small RPCs a second per call.
        max_heartbeat_throttle_interval=timedelta(seconds=0.5),
        # Unversioned, the build id is only a label. Left unset, the SDK hashes
        # the bytecode of every loaded module (~4,000) in this constructor:
        # 0.2-0.3 s added to every restart.
        **identity,
        # SIGTERM drains instead of dropping work: in-flight activities get
        # this long to finish (an LLM call finished is not paid for twice),
        # then are cancelled and retried elsewhere. 10 s plus the telemetry
        # flush fits compose's 20 s stop_grace_period. Measured: a SIGTERM
        # with sub-agents in flight exits 0 in about 1 s; its trees complete.
        # AGENTFLEET_SHUTDOWN_GRACE_S changes it (tests/test_graceful_shutdown.py
        # sets it below an LLM call's latency to cut one on purpose).
        graceful_shutdown_timeout=timedelta(seconds=settings.shutdown_grace_s),
        # Pollers and slots stay at the SDK's defaults (5 pollers, 100 slots):
        # after a restart the new worker takes the backlog within
        # milliseconds of polling; recovery is bounded by the dead worker's
        # sticky and activity timeouts, not by pickup (bench/recovery.py).
    )


def precompile_workflows() -> None:
    """Write the bytecode of workflows/ if it is missing or stale.

    Each sandboxed run imports its workflow module afresh. Where
    PYTHONDONTWRITEBYTECODE is set (common in containers and CI) no .pyc is
    ever written, so every run would compile the module's source again:
    about 6 ms of CPU per sub-agent start (bench/overhead.py profile). A
    read-only install (site-packages, already compiled by pip) is left alone.
    """
    folder = Path(__file__).resolve().parent / "workflows"
    try:
        compileall.compile_dir(folder, maxlevels=0, quiet=2)
    except OSError as err:
        log.debug("workflow bytecode not written: %s", err)


async def run(
    settings: Settings,
    build: Callable[[Client, Settings], Worker] = build_worker,
) -> None:
    """Poll until SIGTERM/SIGINT, then drain the worker and flush spans and metrics.

    `build` makes the worker from the (instrumented) client; tests pass their own.
    """
    settings.workspaces.mkdir(parents=True, exist_ok=True)
    precompile_workflows()
    # A bad MCP config stops the worker here, naming the file and the field.
    hub = hub_for(settings.home)
    # Tracing and metrics from the OTel env vars (agentfleet/telemetry/): the plugins
    # trace workflows and activities, the runtime carries the SDK and fleet metrics.
    telemetry = setup_telemetry(settings)
    try:
        client = await connect_traced(settings, telemetry)
        worker = build(client, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        llm = (
            "simulator at " + str(settings.anthropic_base_url)
            if settings.uses_simulator
            else "Claude"
        )
        log.info(
            "worker polling %s on %s (namespace %s); LLM: %s",
            settings.task_queue,
            settings.temporal_address,
            settings.temporal_namespace,
            llm,
        )
        log.info("telemetry: %s", telemetry.describe())
        await _discover(hub)
        async with worker:
            adopt = _adopt_first_version(client, settings)
            await stop.wait()
            adopt.cancel()
            log.info("shutting down: draining in-flight work")
    finally:
        await hub.close()
        # After the drain: the last activities' and workflows' spans and the final
        # metric values are exported before the process exits.
        await telemetry.shutdown()
        log.info("telemetry flushed")


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


def main() -> None:
    setup_logging()
    try:
        settings = Settings.from_env()
        hub_for(settings.home)
    except (McpConfigError, GovernorConfigError, ValueError) as err:
        # A bad setting (AGENTFLEET_SHUTDOWN_GRACE_S=abc), limit or MCP file, named; no traceback.
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
