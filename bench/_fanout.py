"""The agentfleet side of bench/overhead.py: the same fan-out through real sub-agents.

`FanoutParent` starts `children` real `SubAgentWorkflow`s through `run_child`, the
master's own call, on a worker built by `worker.build_worker` (tracing, metrics, ledger).
Each child's task is answered by the simulator without a tool call: one LLM turn.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.models import SubAgentInput

from bench._bare import FanoutInput, task_text
from workflows._child import run_child


@workflow.defn(name="BenchFanoutParent")
class FanoutParent:
    @workflow.run
    async def run(self, inp: FanoutInput) -> int:
        """Completed children; each is a real SubAgentWorkflow, as the master starts them."""
        wid = workflow.info().workflow_id
        jobs = [
            run_child(
                SubAgentInput(
                    task=task_text(inp.task_template, n),
                    title=f"item {n}",
                    workspace=inp.workspace,
                    model=inp.model,
                    root_id=wid,
                    parent_id=wid,
                    depth=1,
                    index=n,
                    siblings=inp.children,
                    max_depth=1,
                    max_turns=3,
                    max_tokens=inp.max_tokens,
                    tier="trivial",
                ),
                f"{wid}.{n}",
            )
            for n in range(1, inp.children + 1)
        ]
        nodes = await asyncio.gather(*jobs)
        return sum(1 for node in nodes if node.status == "completed")
