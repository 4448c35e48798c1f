"""The bare side of bench/overhead.py: a 200-child fan-out on plain Temporal.

`BareParent` starts `children` plain `BareChild` workflows; each runs one activity,
`bench.bare.chat`, that makes the sub-agent's first simulator call through the anthropic
SDK (same model, system prompt, tools and user message) and returns its output tokens.
Nothing else: no ledger, no tracing, no pydantic payloads (dataclasses and Temporal's
default converter). The agentfleet side is bench/_fanout.py.

Import-light on purpose: the sandbox re-imports this module for every workflow run, so
it imports nothing of agentfleet or workflows/ (that would bill the bare side for
agentfleet's modules), and the anthropic SDK only in the activity, lazily.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

BARE_CHAT = "bench.bare.chat"
# The LLM activity's own retry policy (workflows/_calls.py), so both sides retry alike.
BARE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=10,
)


@dataclass
class FanoutInput:
    children: int
    model: str
    # "{n}" is replaced by the child's number (1-based).
    task_template: str
    max_tokens: int = 1024
    workspace: str = "ws"


@dataclass
class BareCall:
    model: str
    task: str
    max_tokens: int


def task_text(template: str, n: int) -> str:
    return template.replace("{n}", str(n))


@workflow.defn(name="BenchBareParent")
class BareParent:
    @workflow.run
    async def run(self, inp: FanoutInput) -> int:
        wid = workflow.info().workflow_id
        jobs = [
            workflow.execute_child_workflow(
                BareChild.run,
                BareCall(inp.model, task_text(inp.task_template, n), inp.max_tokens),
                id=f"{wid}.{n}",
            )
            for n in range(1, inp.children + 1)
        ]
        return sum(await asyncio.gather(*jobs))


@workflow.defn(name="BenchBareChild")
class BareChild:
    @workflow.run
    async def run(self, call: BareCall) -> int:
        return await workflow.execute_activity(
            BARE_CHAT,
            call,
            result_type=int,
            start_to_close_timeout=timedelta(seconds=180),
            retry_policy=BARE_RETRY,
        )


class BareActivities:
    """The simulator call, as the LLM activity makes it, minus everything around it."""

    def __init__(self, base_url: str) -> None:
        import anthropic

        from agentfleet.config import SIM_API_KEY
        from agentfleet.delegation import prompts
        from agentfleet.sandbox import TOOL_SPECS

        self._client = anthropic.AsyncAnthropic(
            api_key=SIM_API_KEY, base_url=base_url, max_retries=0, timeout=120.0
        )
        self._system = prompts.SUBAGENT_SYSTEM
        self._tools = [t.model_dump(mode="json") for t in TOOL_SPECS]

    @activity.defn(name=BARE_CHAT)
    async def chat(self, call: BareCall) -> int:
        kwargs: dict[str, Any] = {
            "model": call.model,
            "max_tokens": call.max_tokens,
            "system": self._system,
            "messages": [{"role": "user", "content": [{"type": "text", "text": call.task}]}],
            "tools": self._tools,
        }
        msg = await self._client.messages.create(**kwargs)
        return int(msg.usage.output_tokens)
