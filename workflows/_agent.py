"""What every agent workflow keeps: its spend, its receipts, its control state.

Every LLM call goes through `Spend.call`, so no attempt escapes the budget or
the receipts: the root's reported cost is exactly the sum of the receipts in
its tree, failed attempts included.
"""

from __future__ import annotations

from typing import Any, Literal

from temporalio import workflow
from temporalio.common import Priority

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.models import Budget, LlmRequest, LlmResponse, Receipt, Usage
    from agentfleet.delegation.pricing import receipts_for

from workflows._calls import chat
from workflows._observe import record_llm_usage

ControlAction = Literal["pause", "resume", "cancel"]

PRIORITY_PATCH = "agentfleet-fleet-priority-1"


def task_priority(priority: int | None, fairness_key: str | None) -> Priority | None:
    """The Temporal Priority a goal's children and activities run with, if it has one.

    Histories recorded before priorities existed never reach `patched`, so they
    replay unchanged; a goal with a priority records the patch marker once.
    """
    if priority is None and fairness_key is None:
        return None
    if not workflow.patched(PRIORITY_PATCH):
        return None
    return Priority(priority_key=priority, fairness_key=fairness_key)


class Spend:
    def __init__(self, agent_id: str, budget: Budget, priority: Priority | None = None) -> None:
        self.agent_id = agent_id
        self.priority = priority
        self.receipts: list[Receipt] = []
        self.own = Usage()
        self.budget = budget

    @property
    def exhausted(self) -> bool:
        return self.budget.exhausted()

    def carried(self) -> dict[str, Any]:
        """What a continue-as-new carries of this spend, named as SubAgentResume's fields."""
        return {"own": self.own, "receipts": self.receipts, "budget": self.budget}

    async def call(self, req: LlmRequest, purpose: str, summary: str = "") -> LlmResponse:
        resp = await chat(
            req, summary=summary or f"{purpose} · {req.model}", priority=self.priority
        )
        record_llm_usage(resp)
        receipts = receipts_for(resp, agent_id=self.agent_id, purpose=purpose)
        if resp.fallback_from:
            receipts[-1] = receipts[-1].model_copy(update={"fallback_from": resp.fallback_from})
        self.receipts.extend(receipts)
        self.own = self.own + resp.usage
        self.budget = self.budget.charge(resp.usage)
        return resp

    def reserve(self, children_left: int) -> Budget:
        """Carve one child's share out of what is left; the parent keeps a share."""
        child, self.budget = self.budget.reserve_for_child(children_left)
        return child


class Control:
    """Pause, resume and cancel, applied at turn boundaries."""

    def __init__(self) -> None:
        self.paused = False
        self.canceled = False
        self.reason = ""

    def apply(self, action: ControlAction, reason: str = "") -> str:
        if action == "pause":
            self.paused = True
        elif action == "resume":
            self.paused = False
        else:
            self.canceled, self.paused = True, False
        self.reason = reason or action
        return self.state

    @property
    def state(self) -> str:
        return "canceled" if self.canceled else "paused" if self.paused else "running"

    async def checkpoint(self) -> bool:
        """Wait while paused; True if the agent should carry on."""
        await workflow.wait_condition(lambda: not self.paused or self.canceled)
        return not self.canceled
