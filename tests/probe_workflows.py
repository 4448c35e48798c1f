"""Tiny workflows used by tests to drive one activity through real Temporal.

Kept apart from the test modules so the workflow sandbox imports only this.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.models import LlmRequest, LlmResponse

from workflows._calls import chat


@workflow.defn(name="LlmProbeWorkflow")
class LlmProbeWorkflow:
    @workflow.run
    async def run(self, req: LlmRequest) -> LlmResponse:
        return await chat(req)
