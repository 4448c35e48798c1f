"""Inline work: the master does a trivial piece itself, with no child workflow.

Inline means no child, not no tools. The master runs the same agent loop a
sub-agent runs (workflows/_loop.py): the file tools, a few turns, the tree's
budget, receipts, an `invoke_agent` span and a ledger row of its own, and the
same completion check. Its receipts stay on the master, which pays for them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.models import (
        AgentNode,
        McpTool,
        Message,
        NodeStatus,
        Tier,
        ToolResult,
        ToolUseBlock,
        Usage,
        Verification,
        VerifyRequest,
    )
    from agentfleet.delegation import prompts
    from agentfleet.mcp.allow import ToolSet

from workflows._agent import Control, Spend
from workflows._calls import (
    call_agent_tool,
    failure_message,
    raise_if_misconfigured,
    verify_work,
)
from workflows._lifecycle import Estimate, Lifecycle
from workflows._loop import AgentLoop, LoopConfig, LoopState
from workflows._observe import agent_span


@dataclass
class InlineJob:
    node_id: str
    root_id: str
    workspace: str
    title: str
    # The task as the agent reads it (with dependency reports, if any).
    task: str
    # The task's own wording, for the completion check.
    wording: str
    outputs: list[str]
    model: str
    tier: Tier
    max_turns: int
    max_tokens: int
    # What the delegation decision assumed, for the ledger row (calibration reads it).
    estimate: Estimate | None = None
    # The goal's allowed file tools (None: all) and the MCP tools offered.
    tools: list[str] | None = None
    mcp: list[McpTool] = field(default_factory=list)


async def run_inline(job: InlineJob, spend: Spend) -> AgentNode:
    started = workflow.now()
    life = Lifecycle(
        "inline",
        root_id=job.root_id,
        parent_id=job.root_id,
        depth=1,
        model=job.model,
        title=job.title,
        tier=job.tier,
        estimate=job.estimate,
        node_id=job.node_id,
    )
    life.begin()
    with agent_span(
        "inline",
        f"inline: {job.title[:60]}",
        {"tier": job.tier, "model": job.model},
        depth=1,
        root_id=job.root_id,
        agent_id=job.node_id,
        start_time=started,
    ) as span:
        try:
            node = await _work(job, spend, started)
        except Exception as err:
            # The row closes whatever happens: a finished task is never left running.
            status = "canceled" if is_cancelled_exception(err) else "failed"
            await life.end(status, Usage(), failure_message(err))
            raise
        if node.verification is not None:
            span.verified(node.verification)
        span.finish(node.status, node.error)
    await life.end(
        node.status,
        node.usage,
        node.error,
        turns=node.turns,
        tool_calls=node.tool_calls,
        verification=node.verification,
    )
    return node


async def _work(job: InlineJob, spend: Spend, started: datetime) -> AgentNode:
    """The loop (unless the budget is already spent), then the completion check."""
    prefix = f"inline {job.node_id.rsplit('-', 1)[-1]} · {job.title[:40]} · "
    state = LoopState(messages=[Message.user_text(job.task)])
    if spend.exhausted:
        end_status: NodeStatus = "budget_exhausted"
        state.output = "budget exhausted before this step"
        error: str | None = state.output
    else:
        end_status, error = await _loop(job, spend, state, prefix)
    verification: Verification | None = None
    if end_status == "completed":
        verification = await verify_work(
            VerifyRequest(
                workspace=job.workspace,
                agent_id=job.node_id,
                task=job.wording,
                outputs=job.outputs,
                report=state.output,
                effects=state.effects,
            )
        )
        if not verification.passed:
            end_status, error = "unverified", f"unverified: {verification.reason}"
    return AgentNode(
        workflow_id=job.node_id,
        role="inline",
        title=job.title,
        status=end_status,
        model=job.model,
        output=state.output,
        error=error,
        usage=_usage(spend, prefix),
        turns=state.turns,
        tool_calls=state.tool_calls,
        depth=1,
        tier=job.tier,
        started_at=started,
        closed_at=workflow.now(),
        verification=verification,
        effects=state.effects,
    )


async def _loop(
    job: InlineJob, spend: Spend, state: LoopState, prefix: str
) -> tuple[NodeStatus, str | None]:
    """The sub-agent's loop on the master's spend, its calls' purposes marked with `prefix`."""

    async def call_tool(use: ToolUseBlock) -> ToolResult:
        return await call_agent_tool(
            use, workspace=job.workspace, agent_id=job.node_id, files=job.tools, mcp=job.mcp
        )

    cfg = LoopConfig(
        agent_id=job.node_id,
        root_id=job.root_id,
        model=job.model,
        system=prompts.SUBAGENT_SYSTEM,
        tools=ToolSet(files=job.tools, mcp=job.mcp).specs(),
        max_turns=job.max_turns,
        max_tokens=job.max_tokens,
        purpose_prefix=prefix,
    )
    loop = AgentLoop(cfg, spend, Control(), call_tool, on_error=raise_if_misconfigured)
    end = await loop.run(state)
    return end.status, end.error


def _usage(spend: Spend, prefix: str) -> Usage:
    """This piece's own usage: the master's receipts its calls left (failed attempts cost too)."""
    mine = [r for r in spend.receipts if r.purpose.startswith(prefix)]
    return Usage(
        input_tokens=sum(r.input_tokens for r in mine),
        output_tokens=sum(r.output_tokens for r in mine),
        cache_creation_input_tokens=sum(r.cache_creation_input_tokens for r in mine),
        cache_read_input_tokens=sum(r.cache_read_input_tokens for r in mine),
        cost_usd=round(sum(r.cost_usd for r in mine), 8),
        llm_calls=sum(1 for r in mine if r.ok),
    )
