"""Tiny agent workflows that use workflows/_observe.py, for the telemetry tests and bench.

A probe master makes an LLM call, starts `children` probe sub-agents (ids `<master>.<n>`),
each of which makes `turns` LLM calls and as many tool calls, then synthesizes. Every helper
of `_observe` is exercised, and with `exercise_all` every fleet metric name is recorded once.
They call the real LLM and tool activities by name, so they do not depend on `_calls.py`.

Run as a worker process (`python -m tests.telemetry_workflows`): the same `worker.run()` as
`worker.py`, with telemetry from the env, but with these workflows.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.models import (
        LlmRequest,
        LlmResponse,
        Message,
        ToolRequest,
        ToolResult,
    )
    from agentfleet.reporting.weeks import week_of
    from agentfleet.telemetry import names as tn

from workflows._observe import agent_span, count, event, record_llm_usage

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.worker import Worker

    from agentfleet.config import Settings

LLM_ACTIVITY = "agentfleet.llm.chat"
TOOL_ACTIVITY = "agentfleet.tool.run"
INLINE_SYSTEM = "ROLE: inline\nAnswer briefly."
RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=10)


@dataclass
class ProbeInput:
    workspace: str
    children: int = 2
    turns: int = 2
    model: str = "claude-haiku-4-5"
    deny: bool = False
    fail_child: int = 0
    exercise_all: bool = False


@dataclass
class ChildInput:
    workspace: str
    title: str
    root_id: str
    turns: int
    model: str
    deny: bool = False
    fail: bool = False


@dataclass
class ProbeResult:
    workflow_id: str
    children: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    llm_calls: int = 0
    tool_calls: int = 0


async def _chat(text: str, model: str, root_id: str) -> LlmResponse:
    resp = await workflow.execute_activity(
        LLM_ACTIVITY,
        LlmRequest(
            model=model,
            system=INLINE_SYSTEM,
            messages=[Message.user_text(text)],
            max_tokens=64,
            root_id=root_id,
            agent_id=workflow.info().workflow_id,
        ),
        result_type=LlmResponse,
        start_to_close_timeout=timedelta(seconds=60),
        heartbeat_timeout=timedelta(seconds=10),
        retry_policy=RETRY,
    )
    record_llm_usage(resp)
    return resp


async def _tool(workspace: str, name: str, args: dict[str, object], call_id: str) -> ToolResult:
    try:
        return await workflow.execute_activity(
            TOOL_ACTIVITY,
            ToolRequest(workspace=workspace, name=name, input=args, call_id=call_id),
            result_type=ToolResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RETRY,
        )
    except ActivityError as err:  # a refusal is a result for the model, as in _calls.run_tool
        if is_cancelled_exception(err):
            raise
        return ToolResult(call_id=call_id, name=name, content=str(err), is_error=True)


@workflow.defn(name="TelemetryProbeChild")
class ProbeChild:
    @workflow.run
    async def run(self, inp: ChildInput) -> int:
        with agent_span(
            "subagent",
            f"sub-agent: {inp.title}",
            {"tier": "simple", "budget_tokens": 5000},
            depth=1,
            root_id=inp.root_id,
        ) as span:
            wid = workflow.info().workflow_id
            calls = 0
            for turn in range(1, inp.turns + 1):
                await _chat(f"{inp.title}: turn {turn}", inp.model, inp.root_id)
                await _tool(
                    inp.workspace,
                    "write_file",
                    {"path": f"probe/{wid}/turn-{turn}.txt", "content": f"turn {turn}\n"},
                    f"call-{turn}",
                )
                calls += 1
            if inp.deny:
                await _tool(inp.workspace, "read_file", {"path": "../../etc/passwd"}, "deny-1")
                calls += 1
            if inp.fail:
                raise ApplicationError("probe child asked to fail", type="ProbeFailure")
            span.finish("completed")
            return calls


@workflow.defn(name="TelemetryProbeMaster")
class ProbeMaster:
    @workflow.run
    async def run(self, inp: ProbeInput) -> ProbeResult:
        wid = workflow.info().workflow_id
        attrs = {"tier": "complex", "score": 0.93, "decision": "delegate", "budget_usd": 1.5}
        with agent_span("master", "master", attrs, depth=0) as span:
            await _chat(f"plan {inp.children} subtasks", inp.model, wid)
            event("plan.accepted", subtasks=inp.children)
            if inp.exercise_all:
                span.set(pruned_count=1)
                count(tn.PRUNED_SUBTASKS, 1, role="master")
                count(tn.INLINE_DECISIONS, role="master")
                count(tn.BUDGET_EXHAUSTIONS, role="subagent", depth=1)
                # The real weekly audit, so its gauge is exported like in production.
                await workflow.execute_activity(
                    "agentfleet.audit.run",
                    {"week": week_of(workflow.now())},
                    start_to_close_timeout=timedelta(seconds=60),
                )
            count(tn.SUBAGENTS_SPAWNED, inp.children, role="master")
            ids = [f"{wid}.{i}" for i in range(1, inp.children + 1)]
            outcomes = await asyncio.gather(
                *(
                    workflow.execute_child_workflow(
                        ProbeChild.run,
                        ChildInput(
                            workspace=inp.workspace,
                            title=f"part {i}",
                            root_id=wid,
                            turns=inp.turns,
                            model=inp.model,
                            deny=inp.deny and i == 1,
                            fail=i == inp.fail_child,
                        ),
                        id=cid,
                    )
                    for i, cid in enumerate(ids, start=1)
                ),
                return_exceptions=True,
            )
            failed = [
                cid for cid, o in zip(ids, outcomes, strict=True) if isinstance(o, BaseException)
            ]
            await _chat("synthesize", inp.model, wid)
            span.finish("partial" if failed else "completed")
            tool_calls = sum(o for o in outcomes if isinstance(o, int))
            return ProbeResult(
                workflow_id=wid,
                children=ids,
                failed=failed,
                llm_calls=2 + inp.children * inp.turns,
                tool_calls=tool_calls,
            )


@workflow.defn(name="TelemetryProbeTaskFailure")
class ProbeTaskFailure:
    """Fails its workflow task (a bug, not a workflow failure) until signalled `fix`.

    Temporal retries the task; the retry runs `run()` afresh with the signal delivered first.
    """

    def __init__(self) -> None:
        self.fixed = False

    @workflow.signal
    def fix(self) -> None:
        self.fixed = True

    @workflow.run
    async def run(self) -> str:
        with agent_span("inline", "task failure probe") as span:
            if not self.fixed:
                raise RuntimeError("probe: this workflow task fails until signalled")
            span.finish("completed")
            return "fixed"


PROBE_WORKFLOWS = [ProbeMaster, ProbeChild, ProbeTaskFailure]


def build_probe_worker(client: Client, settings: Settings, **options: Any) -> Worker:
    """The worker.py worker, with the probe workflows (and the real LLM and tool activities).

    `options` go to `Worker` (e.g. `max_cached_workflows=1` to force evictions and replays).
    """
    from temporalio.worker import Worker

    from activities.audit import AuditActivities
    from activities.llm import LlmActivities
    from activities.tools import ToolActivities

    llm = LlmActivities(settings)
    tools = ToolActivities(settings.workspaces)
    audit = AuditActivities(settings)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=PROBE_WORKFLOWS,
        activities=[llm.chat, tools.run_tool, tools.prepare_workspace, audit.run],
        **{
            "sticky_queue_schedule_to_start_timeout": timedelta(seconds=3),
            "graceful_shutdown_timeout": timedelta(seconds=10),
            **options,
        },
    )


def main() -> None:
    from agentfleet.config import Settings
    from agentfleet.logs import setup_logging
    from worker import run

    setup_logging()
    asyncio.run(run(Settings.from_env(), build=build_probe_worker))


if __name__ == "__main__":
    main()
