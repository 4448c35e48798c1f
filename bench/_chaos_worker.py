"""The benchmarks' worker process: the project's worker, optionally with chaos.

    AGENTFLEET_BENCH_MODE=agentfleet (default) | bare    python bench/_chaos_worker.py

"agentfleet" runs `worker.run(settings, build)` exactly as `python worker.py` does
(telemetry, graceful SIGTERM), the Worker made from `worker.worker_options`. Two bench-only
additions, both applied to those options (what build_worker passes to `Worker(...)`) so every
tuning setting there is kept:

* `AGENTFLEET_CHAOS_TOOL_FAULT_RATE` (0..1): the file-tool activity is registered under its
  own name as a wrapper that first raises a retryable `OSError(EIO)` at that rate, then
  delegates to `ToolActivities.run_tool`. Temporal retries it like any transient I/O error
  (workflows/_calls.py TOOL_RETRY). Product code stays fault-free.
* `AGENTFLEET_CHAOS_JOURNAL`: one JSON line per tool attempt that returned (workflow, run,
  activity id, attempt, tool, already_done), appended with a single O_APPEND write, so the
  chaos bench can count effects applied twice by one scheduled tool call.
* `AGENTFLEET_CHAOS_ATTEMPTS`: one JSON line as each activity attempt starts and one as it
  ends (with the retry delay a failure asked for). A history keeps only an activity's last
  attempt; bench/_waits.py needs each one to tell when a retry fell due.
* `AGENTFLEET_BENCH_EXTRA`: names of bench workflows from bench/_fanout.py to register too.

"bare" is a plain Temporal worker (default converter, no plugins) for bench/_bare.py's
workflows, with the same Worker tuning as build_worker (`worker.worker_options` with the
workflows and activities swapped out).

`AGENTFLEET_BENCH_EVENTS`: a file to which `{"pid", "event": "built", "t"}` is appended once
the client is connected and the Worker built, just before polling starts.

What-if knobs for bench/recovery.py (they change activity options the workflows set, through
a worker interceptor, to measure a proposal before anyone edits workflows/_calls.py):
`AGENTFLEET_WHATIF_LLM_HEARTBEAT_S` gives the LLM activity that heartbeat timeout and makes
it heartbeat every third of it; `AGENTFLEET_WHATIF_SHORT_TIMEOUT_S` caps the start-to-close
timeout of the short activities (file tools, workspace, ledger, thresholds);
`AGENTFLEET_WHATIF_TASK_TIMEOUT_S` starts child masters and sub-agents with that workflow
task timeout instead of agentfleet/deploy/task_timeouts.py's (10 = the server's default, the lever
off).
"""

from __future__ import annotations

import gc

# As worker.py does when run as the worker process: modules load with the collector off,
# and serve() turns it back on once the worker is built.
gc.disable()

import asyncio  # noqa: E402
import errno  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from temporalio import activity  # noqa: E402
from temporalio.client import Client  # noqa: E402
from temporalio.worker import (  # noqa: E402
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    StartActivityInput,
    StartChildWorkflowInput,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

import worker as project_worker  # noqa: E402
from activities.tools import ToolActivities  # noqa: E402
from agentfleet.config import Settings  # noqa: E402
from agentfleet.contracts.activities import (  # noqa: E402
    LEDGER_CLOSE_ACTIVITY,
    LEDGER_START_ACTIVITY,
    LLM_ACTIVITY,
    THRESHOLDS_ACTIVITY,
    TOOL_ACTIVITY,
    WORKSPACE_ACTIVITY,
)
from agentfleet.contracts.models import ToolRequest, ToolResult  # noqa: E402
from agentfleet.logs import setup_logging  # noqa: E402

MUTATING_TOOLS = frozenset({"write_file", "move_file", "make_dir"})


def _append_line(path: str | None, doc: dict[str, Any]) -> None:
    if not path:
        return
    data = (json.dumps(doc, separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _attempt_of(info: activity.Info) -> dict[str, Any]:
    """Which attempt of which scheduled activity: the key both logs are read by."""
    return {
        "wf": info.workflow_id,
        "run": info.workflow_run_id,
        "act": info.activity_id,
        "attempt": info.attempt,
    }


def event(name: str, **more: Any) -> None:
    _append_line(
        os.environ.get("AGENTFLEET_BENCH_EVENTS"),
        {"pid": os.getpid(), "event": name, "t": time.time(), **more},
    )


def chaos_tool(
    original: Callable[[ToolRequest], Any], rate: float, rng: random.Random, journal: str | None
) -> Callable[[ToolRequest], Any]:
    @activity.defn(name=TOOL_ACTIVITY)
    async def run_tool(req: ToolRequest) -> ToolResult:
        line = {
            **_attempt_of(activity.info()),
            "tool": req.name,
            "ws": req.workspace,
            "call": req.call_id,
            "mutating": req.name in MUTATING_TOOLS,
            "pid": os.getpid(),
        }
        if rate > 0 and rng.random() < rate:
            _append_line(journal, {**line, "fault": True, "t": time.time()})
            raise OSError(errno.EIO, f"chaos: injected transient I/O error in {req.name}")
        result: ToolResult = await original(req)
        _append_line(journal, {**line, "already_done": result.already_done, "t": time.time()})
        return result

    return run_tool


SHORT_ACTIVITIES = frozenset(
    {
        TOOL_ACTIVITY,
        WORKSPACE_ACTIVITY,
        LEDGER_START_ACTIVITY,
        LEDGER_CLOSE_ACTIVITY,
        THRESHOLDS_ACTIVITY,
    }
)


class WhatIf(Interceptor):
    """Activity options as a proposal would set them (see the module docstring)."""

    llm_heartbeat: timedelta | None = None
    short_timeout: timedelta | None = None
    task_timeout: timedelta | None = None

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _WhatIfInbound

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Heartbeating(next)


class _WhatIfInbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_WhatIfOutbound(outbound))


class _WhatIfOutbound(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> Any:
        if input.activity == LLM_ACTIVITY and WhatIf.llm_heartbeat is not None:
            input.heartbeat_timeout = WhatIf.llm_heartbeat
        if input.activity in SHORT_ACTIVITIES and WhatIf.short_timeout is not None:
            current = input.start_to_close_timeout
            if current is None or current > WhatIf.short_timeout:
                input.start_to_close_timeout = WhatIf.short_timeout
        return super().start_activity(input)

    async def start_child_workflow(self, input: StartChildWorkflowInput) -> Any:
        if WhatIf.task_timeout is not None:
            input.task_timeout = WhatIf.task_timeout
        return await super().start_child_workflow(input)


class _Heartbeating(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        hb = WhatIf.llm_heartbeat
        if hb is None or activity.info().activity_type != LLM_ACTIVITY:
            return await super().execute_activity(input)

        async def beat() -> None:
            while True:
                activity.heartbeat()
                await asyncio.sleep(hb.total_seconds() / 3)

        beating = asyncio.create_task(beat())
        try:
            return await super().execute_activity(input)
        finally:
            beating.cancel()


class AttemptLog(Interceptor):
    """Logs every activity attempt's start and end (see the module docstring)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Logged(next, self.path)


class _Logged(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, path: str) -> None:
        super().__init__(next)
        self.path = path

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        if info.is_local:
            # A local activity runs inside its workflow task (a marker, not a task of its
            # own), and its ids are numbered apart from the run's activities.
            return await super().execute_activity(input)
        key = _attempt_of(info)
        _append_line(self.path, {**key, "t0": time.time()})
        try:
            result = await super().execute_activity(input)
        except BaseException as err:
            delay = getattr(err, "next_retry_delay", None)
            wait = delay.total_seconds() if isinstance(delay, timedelta) else None
            _append_line(self.path, {**key, "t1": time.time(), "ok": False, "retry_in": wait})
            raise
        _append_line(self.path, {**key, "t1": time.time(), "ok": True})
        return result


def _whatif() -> Interceptor | None:
    hb = float(os.environ.get("AGENTFLEET_WHATIF_LLM_HEARTBEAT_S") or 0)
    short = float(os.environ.get("AGENTFLEET_WHATIF_SHORT_TIMEOUT_S") or 0)
    task = float(os.environ.get("AGENTFLEET_WHATIF_TASK_TIMEOUT_S") or 0)
    if not hb and not short and not task:
        return None
    WhatIf.llm_heartbeat = timedelta(seconds=hb) if hb else None
    WhatIf.short_timeout = timedelta(seconds=short) if short else None
    WhatIf.task_timeout = timedelta(seconds=task) if task else None
    return WhatIf()


def _passthrough_agents(runner: Any) -> Any:
    """What-if (bench/overhead.py --whatif-passthrough): the agent workflows' own modules
    passed through the sandbox like worker.WORKFLOW_HELPERS, so a run does not re-import
    them. Not the product's setting: the project keeps workflow classes sandboxed."""
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    from agentfleet.payloads.runner import ContextFreeRunner

    sandboxed = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            *project_worker.WORKFLOW_HELPERS, "workflows.subagent", "workflows.master"
        )
    )
    return ContextFreeRunner(sandboxed) if isinstance(runner, ContextFreeRunner) else sandboxed


def _extra_workflows() -> list[type]:
    names = [n for n in os.environ.get("AGENTFLEET_BENCH_EXTRA", "").split(",") if n]
    if not names:
        return []
    from bench import _fanout

    return [getattr(_fanout, n) for n in names]


def build_agentfleet(client: Client, settings: Settings) -> Worker:
    rate = float(os.environ.get("AGENTFLEET_CHAOS_TOOL_FAULT_RATE") or 0)
    seed = os.environ.get("AGENTFLEET_CHAOS_SEED") or "0"
    journal = os.environ.get("AGENTFLEET_CHAOS_JOURNAL") or None
    rng = random.Random(f"{seed}:{os.getpid()}")
    extra = _extra_workflows()
    whatif = _whatif()

    kwargs = project_worker.worker_options(settings, settings.task_queue, client.data_converter)
    acts = list(kwargs["activities"])
    if rate > 0 or journal:
        acts = [
            chaos_tool(a, rate, rng, journal)
            if getattr(a, "__func__", None) is ToolActivities.run_tool
            else a
            for a in acts
        ]
    kwargs["activities"] = acts
    kwargs["workflows"] = [*kwargs["workflows"], *extra]
    if os.environ.get("AGENTFLEET_WHATIF_PASSTHROUGH_AGENTS"):
        kwargs["workflow_runner"] = _passthrough_agents(kwargs["workflow_runner"])
    if whatif is not None:
        kwargs["interceptors"] = [*kwargs.get("interceptors", ()), whatif]
    attempts = os.environ.get("AGENTFLEET_CHAOS_ATTEMPTS")
    if attempts:
        kwargs["interceptors"] = [*kwargs.get("interceptors", ()), AttemptLog(attempts)]
    built = Worker(client, **kwargs)
    event("built", mode="agentfleet", tool_fault_rate=rate, whatif=whatif is not None)
    return built


async def run_bare(settings: Settings) -> None:
    import compileall
    import signal

    from bench._bare import BareActivities, BareChild, BareParent

    # The same favour worker.run does workflows/: the sandbox reads bytecode, not source.
    compileall.compile_file(str(ROOT / "bench" / "_bare.py"), quiet=2)
    client = await Client.connect(settings.temporal_address, namespace=settings.temporal_namespace)
    kwargs = project_worker.worker_options(settings, settings.task_queue)
    kwargs.update(
        workflows=[BareParent, BareChild],
        activities=[BareActivities(str(settings.anthropic_base_url)).chat],
    )
    worker = Worker(client, **kwargs)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    event("built", mode="bare")
    async with worker:
        await stop.wait()


def main() -> None:
    setup_logging()
    settings = Settings.from_env()
    mode = os.environ.get("AGENTFLEET_BENCH_MODE", "agentfleet")
    if mode == "bare":
        # A plain worker keeps Python's collector as it is: only agentfleet's serve()
        # turns it back on after start-up, and the bare side must not run without one.
        gc.enable()
        asyncio.run(run_bare(settings))
    else:
        asyncio.run(project_worker.run(settings, build_agentfleet))


if __name__ == "__main__":
    main()
