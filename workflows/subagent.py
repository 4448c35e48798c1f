"""SubAgentWorkflow: one agent loop, durable turn by turn.

Each LLM turn and each tool call is an activity, so a worker crash resumes the
loop at the last completed step instead of re-running (and re-paying for) the
whole conversation. The loop itself is `workflows/_subagent.py`: the sandbox runs
this module again for every sub-agent, so it holds only the workflow's entry
points, and the code behind them is loaded once per worker.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.models import (
        AgentNode,
        ControlRequest,
        ControlResult,
        SubAgentInput,
    )
    from agentfleet.contracts.workflows import SUBAGENT_WORKFLOW

from workflows._subagent import (
    PATCH_REAL_COMPLETION,
    PATCH_SUBAGENT_BASELINE,
    PATCH_SUBAGENT_BASELINE_2,
    PATCH_TRANSCRIPT_BY_REF,
    SubAgentRun,
)

__all__ = [
    "PATCH_REAL_COMPLETION",
    "PATCH_SUBAGENT_BASELINE",
    "PATCH_SUBAGENT_BASELINE_2",
    "PATCH_TRANSCRIPT_BY_REF",
    "SubAgentWorkflow",
]


@workflow.defn(name=SUBAGENT_WORKFLOW)
class SubAgentWorkflow:
    """One agent loop, durable turn by turn, that may delegate to children of its own.

    It holds its `SubAgentRun` rather than inheriting from it: the SDK's checks of a
    workflow class, run again with the module for every run, walk every member of the
    class and of its bases.
    """

    def __init__(self) -> None:
        self._agent = SubAgentRun()

    @workflow.signal(name="control_signal")
    async def control_signal(self, req: ControlRequest) -> None:
        """Pause, resume or cancel from a parent: this agent and its subtree."""
        await self._agent.on_control_signal(req)

    @workflow.update(name="control")
    async def control(self, req: ControlRequest) -> ControlResult:
        """Pause, resume or cancel from a person, answered with the state it leaves."""
        return await self._agent.on_control(req)

    @workflow.run
    async def run(self, inp: SubAgentInput) -> AgentNode:
        """Run the loop between its two ledger rows, inside its `invoke_agent` span."""
        return await self._agent.main(inp)
