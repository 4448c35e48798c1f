"""Tiny workflows used by tests to drive one activity through real Temporal.

Kept apart from the test modules so the workflow sandbox imports only this.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.models import AgentNode, LlmRequest, LlmResponse, SubAgentInput

from workflows._calls import chat
from workflows._child import run_child


@workflow.defn(name="LlmProbeWorkflow")
class LlmProbeWorkflow:
    @workflow.run
    async def run(self, req: LlmRequest) -> LlmResponse:
        return await chat(req)


@workflow.defn(name="ChildProbeParent")
class ChildProbeParent:
    """One sub-agent started the way a master starts it (`run_child`)."""

    @workflow.run
    async def run(self, inp: SubAgentInput) -> AgentNode:
        return await run_child(inp, f"{workflow.info().workflow_id}.1")
