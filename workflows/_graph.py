"""Run a plan's subtasks in dependency order.

Subtasks with nothing to wait for start together, in plan order, exactly as
the master started every child before plans had edges (so recorded
histories replay). A dependent starts when all its dependencies have ended
`completed`, with their reports in its task; if one of them ended otherwise,
the dependent is `skipped` with the reason, since work built on a missing
result would only be wrong.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.models import AgentNode, Role, Tier

# (title, status, report) of each finished dependency, in dependency order.
Reports = list[tuple[str, str, str]]


@dataclass
class Step:
    id: str
    node_id: str
    title: str
    role: Role
    model: str
    tier: Tier | None
    depends_on: list[str] = field(default_factory=list)


def report_of(node: AgentNode) -> tuple[str, str, str]:
    return (node.title, node.status, node.output or node.error or "")


async def run_graph(
    steps: Sequence[Step], start: Callable[[Step, Reports], Awaitable[AgentNode]]
) -> list[AgentNode]:
    """Every step's node, in plan order."""
    done: dict[str, AgentNode] = {}
    waiting = list(steps)
    running: dict[str, asyncio.Task[AgentNode]] = {}
    while waiting or running:
        for step in list(waiting):
            if not all(dep in done for dep in step.depends_on):
                continue
            waiting.remove(step)
            blocked = [done[d] for d in step.depends_on if done[d].status != "completed"]
            if blocked:
                done[step.id] = _skipped(step, blocked)
                continue
            reports = [report_of(done[d]) for d in step.depends_on]
            running[step.id] = asyncio.ensure_future(start(step, reports))
        if not running:
            if waiting:
                # Unreachable for a checked plan (planning.with_graph refuses
                # cycles and unknown ids); never hang if one slips through.
                for step in waiting:
                    done[step.id] = _skipped(step, [])
                waiting = []
            break
        await workflow.wait_condition(lambda: any(t.done() for t in running.values()))
        for step_id in [i for i in running if running[i].done()]:
            done[step_id] = running.pop(step_id).result()
    return [done[s.id] for s in steps]


def _skipped(step: Step, blocked: list[AgentNode]) -> AgentNode:
    why = (
        "; ".join(f"{n.title!r} ended {n.status}" for n in blocked)
        if blocked
        else "its dependencies could not be ordered"
    )
    now = workflow.now()
    return AgentNode(
        workflow_id=step.node_id,
        role=step.role,
        title=step.title,
        status="skipped",
        model=step.model,
        error=f"not started: {why}",
        depth=1,
        tier=step.tier,
        started_at=now,
        closed_at=now,
    )
