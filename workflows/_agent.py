"""What every agent workflow keeps: its spend, its receipts, its control state.

Every LLM call goes through `Spend.call`, so no attempt escapes the budget or
the receipts: the root's reported cost is exactly the sum of the receipts in
its tree, failed attempts included.
"""

from __future__ import annotations

from typing import Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from agentfleet.models import BudgetSpec, LlmRequest, LlmResponse, Receipt, Usage
    from agentfleet.policy import Budget
    from agentfleet.pricing import receipts_for

from workflows._calls import chat
from workflows._observe import record_llm_usage

ControlAction = Literal["pause", "resume", "cancel"]


class Spend:
    def __init__(self, agent_id: str, budget: BudgetSpec) -> None:
        self.agent_id = agent_id
        self.receipts: list[Receipt] = []
        self.own = Usage()
        self.budget = Budget(tokens=budget.tokens, usd=budget.usd)

    @property
    def exhausted(self) -> bool:
        return self.budget.exhausted()

    async def call(self, req: LlmRequest, purpose: str, summary: str = "") -> LlmResponse:
        resp = await chat(req, summary=summary or f"{purpose} · {req.model}")
        record_llm_usage(resp)
        self.receipts.extend(receipts_for(resp, self.agent_id, purpose))
        self.own = self.own + resp.usage
        self.budget = self.budget.charge(resp.usage)
        return resp

    def reserve(self, children_left: int) -> BudgetSpec:
        """Carve one child's share out of what is left; the parent keeps a share."""
        child, self.budget = self.budget.reserve_for_child(children_left)
        return BudgetSpec(tokens=child.tokens, usd=child.usd)


class Control:
    """Pause, resume and cancel, applied at turn boundaries."""

    def __init__(self) -> None:
        self.paused = False
        self.cancelled = False
        self.reason = ""

    def apply(self, action: ControlAction, reason: str = "") -> str:
        if action == "pause":
            self.paused = True
        elif action == "resume":
            self.paused = False
        else:
            self.cancelled, self.paused = True, False
        self.reason = reason or action
        return self.state

    @property
    def state(self) -> str:
        return "canceled" if self.cancelled else "paused" if self.paused else "running"

    async def checkpoint(self) -> bool:
        """Wait while paused; True if the agent should carry on."""
        await workflow.wait_condition(lambda: not self.paused or self.cancelled)
        return not self.cancelled
