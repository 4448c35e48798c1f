"""A changed SubAgentWorkflow, as a careless release would ship it.

Registered under the real name "SubAgentWorkflow", it starts a timer before
the real agent loop: a new command at the very start, outside any
`workflow.patched`. A history recorded by the real sub-agent does not replay on
it (the replay gate must say so), and a worker running it is a different build
(the versioning test tells its runs apart by that timer).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.models import AgentNode, SubAgentInput

from workflows.subagent import SubAgentWorkflow

CHANGE_TIMER = timedelta(milliseconds=1)


@workflow.defn(name="SubAgentWorkflow")
class ChangedSubAgentWorkflow(SubAgentWorkflow):
    @workflow.run
    async def run(self, inp: SubAgentInput) -> AgentNode:
        await workflow.sleep(CHANGE_TIMER)
        return await super().run(inp)


def with_changed_subagent(workflows: Sequence[type]) -> list[type]:
    """The worker's workflow list with the sub-agent swapped for the changed one."""
    return [ChangedSubAgentWorkflow if w is SubAgentWorkflow else w for w in workflows]
