"""AgentFleetPlugin: what a user adds to their own Temporal worker to run agentfleet on it.

The composition root: the one module of the core that imports `workflows` and
`activities` (tests/test_layout.py). It registers agentfleet's workflows and
activities, the data converter with the codec and the blob store, the sandbox's
passthrough helpers, telemetry, and the worker tuning the benchmarks measured::

    settings = Settings.from_env()
    client = await agentfleet.client.connect(settings.temporal_address)
    worker = Worker(client, task_queue="agentfleet", plugins=[AgentFleetPlugin(settings)])

`worker.py` and `agentfleet worker` are that, plus the process around it
(agentfleet/serve.py: signals, telemetry, MCP discovery, bytecode, the drain).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, ClientConfig, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.plugin import SimplePlugin
from temporalio.worker import (
    Replayer,
    ReplayerConfig,
    Worker,
    WorkerConfig,
    WorkflowReplayResult,
    WorkflowRunner,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

import workflows
from activities.audit import AuditActivities
from activities.completion import CompletionActivities
from activities.ledger import LedgerActivities
from activities.llm import LlmActivities
from activities.mcp import McpActivities
from activities.policy import PolicyActivities
from activities.report import ReportActivities
from activities.tools import ToolActivities
from agentfleet.config import Settings
from agentfleet.deploy.versioning import deployment_config
from agentfleet.ledger.start_rows import StartRowWriter, start_row_runner
from agentfleet.ledger.store import Ledger, open_ledger
from agentfleet.mcp import hub_for
from agentfleet.payloads.blobstore import LocalBlobStore, external_storage
from agentfleet.payloads.codec import codec_from_env
from agentfleet.payloads.converter import AgentfleetPayloadConverter, data_converter_for
from agentfleet.payloads.runner import ContextFreeRunner, context_free
from agentfleet.runner_wrap import WrappingRunner
from agentfleet.serve import serve
from agentfleet.telemetry import Telemetry
from workflows.fleet import FleetWorkflow, await_master
from workflows.governor import LlmGovernorWorkflow
from workflows.master import MasterAgentWorkflow
from workflows.report import WeeklyReportWorkflow
from workflows.subagent import SubAgentWorkflow

__all__ = [
    "WORKFLOWS",
    "WORKFLOW_HELPERS",
    "AgentFleetPlugin",
    "build_worker",
    "run_worker",
    "worker_options",
]

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
    "workflows._child",
    "workflows._graph",
    "workflows._inline",
    "workflows._lifecycle",
    "workflows._loop",
    "workflows._observe",
    "workflows._search",
    "workflows._subagent",
    "workflows._upgrade",
)

PLUGIN_NAME = "agentfleet.AgentFleetPlugin"


class AgentFleetPlugin(SimplePlugin):
    """Registers agentfleet on a client, a worker or a replayer.

    On a client it installs agentfleet's data converter (pydantic payloads that
    fail clearly, the codec from AGENTFLEET_ENCRYPTION_KEY, large payloads in the
    settings' blob store); a worker made from that client takes the plugin too.
    On a worker it adds the workflows and activities to the worker's own, passes
    the workflow helpers through the sandbox and, unless `tune=False`, sets the
    timeouts agentfleet relies on (`worker_tuning`). `telemetry` (from
    `agentfleet.telemetry.setup_telemetry`) adds its tracing plugins as well; leave
    it out when the client already carries them (`agentfleet.client.connect_traced`).
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        telemetry: Telemetry | None = None,
        tune: bool = True,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self._inner: list[SimplePlugin] = list(telemetry.plugins) if telemetry else []
        self._tune = tune
        super().__init__(PLUGIN_NAME, data_converter=self._converter, workflows=WORKFLOWS)

    def _converter(self, existing: DataConverter | None) -> DataConverter:
        if existing is not None and _is_agentfleet(existing):
            return existing
        codec = codec_from_env(os.environ)
        return data_converter_for(codec, external_storage(self.settings.blobs))

    def configure_client(self, config: ClientConfig) -> ClientConfig:
        """Telemetry's client plugins first, then the data converter."""
        for inner in self._inner:
            config = inner.configure_client(config)
        return super().configure_client(config)

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        """The workflows, activities, sandbox runner and tuning, on the user's own."""
        for inner in self._inner:
            config = inner.configure_worker(config)
        config = super().configure_worker(config)
        converter = config["client"].data_converter
        _require_agentfleet(converter)
        ledger = open_ledger(self.settings.ledger_url)
        config["activities"] = [
            *config.get("activities", []),
            *agent_activities(self.settings, ledger),
        ]
        config["workflow_runner"] = agent_runner(
            sandbox_runner(config.get("workflow_runner"), converter), ledger
        )
        if self._tune:
            versioned = config.get("deployment_config") or config.get("build_id")
            tuning = worker_tuning(self.settings, identity=not versioned)
            config.update(tuning)  # type: ignore[typeddict-item]
        return config

    def configure_replayer(self, config: ReplayerConfig) -> ReplayerConfig:
        """Replays agentfleet's histories with the worker's converter and sandbox."""
        for inner in self._inner:
            config = inner.configure_replayer(config)
        config = super().configure_replayer(config)
        config["workflow_runner"] = sandbox_runner(config.get("workflow_runner"), None)
        return config

    async def run_worker(self, worker: Worker, next: Callable[[Worker], Awaitable[None]]) -> None:
        """The worker runs inside telemetry's own wrapping, if any."""
        for inner in reversed(self._inner):
            next = _wrapped(inner, next)
        await next(worker)

    @asynccontextmanager
    async def run_replayer(
        self,
        replayer: Replayer,
        histories: AsyncIterator[WorkflowHistory],
        next: Callable[
            [Replayer, AsyncIterator[WorkflowHistory]],
            AbstractAsyncContextManager[AsyncIterator[WorkflowReplayResult]],
        ],
    ) -> AsyncIterator[AsyncIterator[WorkflowReplayResult]]:
        """Replays run inside telemetry's own wrapping, as the worker does."""
        for inner in reversed(self._inner):
            next = _wrapped_replayer(inner, next)
        async with next(replayer, histories) as results:
            yield results


def _wrapped(
    plugin: SimplePlugin, next_run: Callable[[Worker], Awaitable[None]]
) -> Callable[[Worker], Awaitable[None]]:
    return lambda worker: plugin.run_worker(worker, next_run)


def _wrapped_replayer(plugin: SimplePlugin, next_run: Any) -> Any:
    return lambda replayer, histories: plugin.run_replayer(replayer, histories, next_run)


def _is_agentfleet(converter: DataConverter) -> bool:
    return issubclass(converter.payload_converter_class, AgentfleetPayloadConverter)


def _require_agentfleet(converter: DataConverter) -> None:
    """Agentfleet's payloads are pydantic models: the SDK's default converter cannot read them."""
    if not _is_agentfleet(converter):
        raise ValueError(
            "AgentFleetPlugin needs a client with agentfleet's data converter: connect with "
            "agentfleet.client.connect(), or pass the plugin to Client.connect(plugins=[...])"
        )


def agent_activities(settings: Settings, ledger: Ledger | None = None) -> list[Callable[..., Any]]:
    """Every activity agentfleet's workflows call, bound to one ledger connection."""
    llm = LlmActivities(settings)
    tools = ToolActivities(settings.workspaces)
    ledger = ledger or open_ledger(settings.ledger_url)
    ledger_acts = LedgerActivities(ledger)
    policy = PolicyActivities(settings.home)
    report = ReportActivities(settings, ledger=ledger)
    audit = AuditActivities(settings, ledger=ledger)
    mcp = McpActivities(hub_for(settings.home), LocalBlobStore(settings.blobs))
    return [
        llm.chat,
        tools.run_tool,
        tools.prepare_workspace,
        tools.verify,
        CompletionActivities(tools, ledger).check_and_close,
        ledger_acts.record_start,
        ledger_acts.record_close,
        policy.thresholds,
        policy.search_attributes,
        report.build,
        audit.run,
        await_master,
        mcp.list_tools,
        mcp.call_tool,
    ]


def agent_runner(runner: WorkflowRunner, ledger: Ledger) -> WorkflowRunner:
    """`runner`, with the ledger's start rows written as the workflow code posts them.

    On a worker only: a Replayer must write nothing (agentfleet/ledger/outbox.py).
    """
    return start_row_runner(runner, StartRowWriter(ledger))


def sandbox_runner(
    base: WorkflowRunner | None, data_converter: DataConverter | None
) -> WorkflowRunner:
    """The sandbox with the workflow helpers passed through.

    A sandboxed `base` (the SDK's default, or one another plugin extended) keeps
    its own passthrough modules and gains the helpers; any other runner is the
    user's choice and is kept. When `data_converter` ignores serialization
    contexts (agentfleet/payloads/runner.py) the runner stops asking the sandbox
    for them.
    """
    runner = _passing_helpers(base)
    if data_converter is not None and context_free(data_converter):
        runner = ContextFreeRunner(runner)
    return runner


def _passing_helpers(base: WorkflowRunner | None) -> WorkflowRunner:
    """`base` with the helpers passed through, found beneath any plugin's wrapping.

    Telemetry wraps the SDK's default sandbox before this plugin sees it (the client's
    plugins configure the worker first). Stopping at that wrapping left the helpers
    to be imported again for every workflow run.
    """
    if base is None:
        return SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(*WORKFLOW_HELPERS)
        )
    if isinstance(base, SandboxedWorkflowRunner):
        passthrough = base.restrictions.with_passthrough_modules(*WORKFLOW_HELPERS)
        return dataclasses.replace(base, restrictions=passthrough)
    if isinstance(base, WrappingRunner):
        return base.around(_passing_helpers(base.inner))
    return base


def worker_tuning(settings: Settings, *, identity: bool = True) -> dict[str, Any]:
    """The Worker options agentfleet's timeouts and recovery were measured with.

    `identity`: also set the build id or deployment version (left out when the
    user's worker has its own versioning).
    """
    tuning: dict[str, Any] = {
        # A SIGKILLed worker's cached workflows wait on its sticky queue until
        # this runs out; only then can another worker take them. A live worker
        # takes a sticky task within milliseconds (its core polls as soon as a
        # slot is free), so 1 s only ever fires for a dead or stuck worker.
        # Measured (bench/recovery.py): recovery with a workflow task pending
        # went from 3.0 s (at 3 s) to 1.3-1.8 s, the new process's startup.
        "sticky_queue_schedule_to_start_timeout": timedelta(seconds=1),
        # The SDK batches heartbeats to 80% of the heartbeat timeout; the LLM
        # activity's 3 s timeout (workflows/_calls.py) needs each 0.5 s beat
        # sent as it comes, so the server never mistakes a live call for a dead
        # one. Only LLM calls heartbeat: two small RPCs a second per call.
        "max_heartbeat_throttle_interval": timedelta(seconds=0.5),
        # SIGTERM drains instead of dropping work: in-flight activities get
        # this long to finish (an LLM call finished is not paid for twice),
        # then are canceled and retried elsewhere. 10 s plus the telemetry
        # flush fits compose's 20 s stop_grace_period. Measured: a SIGTERM
        # with sub-agents in flight exits 0 in about 1 s; its trees complete.
        # AGENTFLEET_SHUTDOWN_GRACE_S changes it (tests/test_graceful_shutdown.py
        # sets it below an LLM call's latency to cut one on purpose).
        "graceful_shutdown_timeout": timedelta(seconds=settings.shutdown_grace_s),
        # Pollers and slots stay at the SDK's defaults (5 pollers, 100 slots):
        # after a restart the new worker takes the backlog within
        # milliseconds of polling; recovery is bounded by the dead worker's
        # sticky and activity timeouts, not by pickup (bench/recovery.py).
    }
    if identity:
        # A versioned worker is known by its deployment version (build id from the
        # checkout, agentfleet/deploy/build_info.py). Unversioned, the build id is
        # only a label; left unset, the SDK hashes the bytecode of every loaded
        # module (~4,000) in the Worker constructor: 0.2-0.3 s added to every restart.
        versioning = deployment_config(settings)
        tuning.update(
            {"deployment_config": versioning} if versioning else {"build_id": "agentfleet"}
        )
    return tuning


def worker_options(
    settings: Settings,
    task_queue: str | None = None,
    data_converter: DataConverter | None = None,
    *,
    ledger: Ledger | None = None,
) -> dict[str, Any]:
    """What the plugin sets on a worker, as `Worker(client, **options)` keywords.

    Tests and benchmarks adjust these (a fake activity under a real name, an
    extra workflow) and keep every tuning setting. `data_converter` is the
    client's (see `sandbox_runner`). `ledger` is the one every row goes to, else the
    settings' own.
    """
    ledger = ledger or open_ledger(settings.ledger_url)
    return {
        "task_queue": task_queue or settings.task_queue,
        "workflows": WORKFLOWS,
        "workflow_runner": agent_runner(sandbox_runner(None, data_converter), ledger),
        "activities": agent_activities(settings, ledger),
        **worker_tuning(settings),
    }


def build_worker(client: Client, settings: Settings, task_queue: str | None = None) -> Worker:
    """Agentfleet's worker: the plugin on a worker of its own task queue."""
    plugins: Sequence[AgentFleetPlugin] = (
        []
        if any(isinstance(p, AgentFleetPlugin) for p in client.config()["plugins"])
        else [AgentFleetPlugin(settings)]
    )
    return Worker(client, task_queue=task_queue or settings.task_queue, plugins=plugins)


async def run_worker(
    settings: Settings,
    build: Callable[[Client, Settings], Worker] = build_worker,
) -> None:
    """Poll until SIGTERM/SIGINT, then drain the worker and flush spans and metrics.

    `build` makes the worker from the (instrumented) client; tests pass their own.
    """
    # The workflow modules' folder: their bytecode is written before polling.
    await serve(settings, build, workflow_code=Path(str(workflows.__file__)).parent)
