"""What a sub-agent run is built from, kept apart from the workflow class.

The sandbox executes a workflow's module again for every run; this module is passed
through it (agentfleet/plugin.py, WORKFLOW_HELPERS), so its dataclass and functions are
built once per worker instead of once per sub-agent. Nothing here keeps state between
calls. The child is started by its type name, which is what the command carries anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from temporalio import workflow
from temporalio.common import Priority

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.models import (
        TIERS,
        AgentNode,
        Budget,
        DelegationRecord,
        Effect,
        McpTool,
        Message,
        Plan,
        SubAgentInput,
        Subtask,
        Tier,
        ToolUseBlock,
    )
    from agentfleet.contracts.workflows import SUBAGENT_WORKFLOW
    from agentfleet.delegation import prompts
    from agentfleet.delegation.complexity import ComplexityScore
    from agentfleet.delegation.policy import Decision, DecisionKind, DelegationPolicy
    from agentfleet.deploy.task_timeouts import AGENT_TASK_TIMEOUT, PATCH_TASK_TIMEOUTS
    from agentfleet.mcp.allow import ToolSet
    from agentfleet.sandbox import DELEGATE_TOOL
    from agentfleet.telemetry import names as tn

from workflows._calls import failure_message
from workflows._lifecycle import Estimate, Lifecycle
from workflows._loop import LoopConfig, LoopState
from workflows._observe import AgentSpan, count
from workflows._search import agent_attributes

# The newest sub-agent baseline (workflows/_subagent.py; 2 is PATCH_SUBAGENT_BASELINE_2).
# run_child writes it into each child's input, so a child started by a parent on this
# code takes it from its input and records no patch marker. A later baseline raises
# it; the sub-agent keeps honouring every lower number for the runs in flight.
SUBAGENT_BASELINE = 2


def subtree_effects(nodes: list[AgentNode]) -> list[Effect]:
    """The tool journals of these nodes and everything below them."""
    return [e for node in nodes for n in node.walk() for e in n.effects]


def policy_for(models: Mapping[Tier, str] | None, override: str | None = None) -> DelegationPolicy:
    """The delegation policy with the run's model choices: `override` wins."""
    policy = DelegationPolicy()
    if models:
        policy = policy.with_models(**{str(tier): model for tier, model in models.items()})
    if override:
        policy = policy.with_models(**dict.fromkeys(TIERS, override))
    return policy


@dataclass(frozen=True, kw_only=True)
class Lineage:
    """What every child of one parent inherits from it, whatever its own task."""

    root_id: str
    """The master's workflow id: the tree's root."""
    parent_id: str
    """The parent's workflow id."""
    depth: int
    """The children's depth (the master is 0)."""
    workspace: str
    """The workspace the whole tree works in."""
    max_depth: int
    """How deep the tree may grow."""
    max_total_subagents: int
    """How many sub-agents the whole tree may start."""
    models: Mapping[Tier, str] | None
    """The run's model per tier, if it chose any."""
    thresholds: dict[str, float | str] | None
    """The root's tier thresholds, so a calibration mid-run changes nothing."""
    tag_search_attributes: bool
    """Whether the cluster has the search attributes to tag children with."""
    priority: int | None
    """The root goal's priority, for the children's own calls."""
    fairness_key: str | None
    """The root goal's fairness key, likewise."""


def delegation_record(
    title: str, decision: Decision, kind: DecisionKind, workflow_id: str | None
) -> DelegationRecord:
    """Why one subtask ran where it ran, for the result tree: master and sub-agent alike."""
    # The decision's tier, score and model are named as the record's.
    return DelegationRecord(
        title=title,
        decision=kind,
        workflow_id=workflow_id,
        **decision.model_dump(include={"tier", "score", "model"}),
    )


def child_input(
    decision: Decision,
    estimate: ComplexityScore,
    *,
    lineage: Lineage,
    task: str,
    title: str,
    index: int,
    siblings: int,
    budget: Budget,
    max_turns: int,
    max_tokens: int,
    outputs: list[str],
    tools: list[str] | None,
    mcp_tools: list[McpTool],
) -> SubAgentInput:
    """A sub-agent's input, from its parent's decision about it: master and sub-agent alike."""
    # Lineage's fields, and these of the decision and the estimate, are named as the input's.
    inherited = {f.name: getattr(lineage, f.name) for f in fields(lineage)}
    return SubAgentInput(
        **inherited,
        **decision.model_dump(include={"model", "tier", "score", "may_decompose"}),
        **estimate.model_dump(include={"est_context_tokens", "est_steps", "thresholds_version"}),
        task=task,
        title=title,
        index=index,
        siblings=siblings,
        max_turns=max_turns,
        max_tokens=max_tokens,
        budget=budget,
        outputs=outputs,
        tools=tools,
        mcp_tools=mcp_tools,
    )


def lifecycle(inp: SubAgentInput) -> Lifecycle:
    """The sub-agent's ledger rows, with what its parent's decision assumed."""
    return Lifecycle(
        "subagent",
        root_id=inp.root_id,
        parent_id=inp.parent_id,
        depth=inp.depth,
        model=inp.model,
        title=inp.title,
        tier=inp.tier,
        estimate=Estimate(
            score=inp.score,
            est_context_tokens=inp.est_context_tokens,
            est_steps=inp.est_steps,
            thresholds_version=inp.thresholds_version,
        ),
    )


async def close_run(inp: SubAgentInput, life: Lifecycle, span: AgentSpan, node: AgentNode) -> None:
    """The close row, the span's last attributes and the budget metric of a finished run."""
    if node.status == "budget_exhausted":
        count(tn.BUDGET_EXHAUSTIONS, role="subagent", tier=inp.tier)
    span.set(pruned_count=len(node.pruned))
    await life.end(
        node.status,
        node.usage,
        node.error,
        pruned_count=len(node.pruned) or None,
        turns=node.turns,
        tool_calls=node.tool_calls,
        verification=node.verification,
    )
    if node.verification is not None:
        span.verified(node.verification)
    span.finish(node.status, node.error)


def loop_state(inp: SubAgentInput) -> LoopState:
    """Where the loop starts: the task, or where the previous run left off."""
    r = inp.resume
    return LoopState(
        messages=list(r.pending) if r else [Message.user_text(inp.task)],
        transcript_ref=r.transcript_ref if r else None,
        turns=r.turns if r else 0,
        tool_calls=r.tool_calls if r else 0,
        output=r.output if r else "",
        effects=list(r.effects) if r else [],
    )


def loop_config(inp: SubAgentInput, *, by_ref: bool, real: bool) -> LoopConfig:
    """The loop's settings: its tools (with `delegate` while it may go deeper) and caps."""
    tools = ToolSet(files=inp.tools, mcp=inp.mcp_tools).specs()
    if inp.may_decompose and inp.depth < inp.max_depth:
        tools.append(DELEGATE_TOOL)
    return LoopConfig(
        agent_id=workflow.info().workflow_id,
        root_id=inp.root_id,
        model=inp.model,
        system=prompts.SUBAGENT_SYSTEM,
        tools=tools,
        max_turns=inp.max_turns,
        max_tokens=inp.max_tokens,
        by_ref=by_ref,
        real_completion=real,
    )


def delegated_plan(use: ToolUseBlock) -> Plan | str:
    """The `delegate` call's tasks as a plan, or what is wrong with them."""
    raw_tasks = use.input.get("tasks")
    if not isinstance(raw_tasks, list) or not raw_tasks:
        return "delegate needs a non-empty 'tasks' list"
    try:
        return Plan(
            subtasks=[
                Subtask(
                    title=str(t.get("title") or "")[:200] or "subtask",
                    description=str(t.get("description") or ""),
                )
                for t in raw_tasks
                if isinstance(t, dict)
            ]
        )
    except ValueError as err:
        return f"invalid delegate tasks: {err}"


async def run_child(
    child_input: SubAgentInput, child_id: str, priority: Priority | None = None
) -> AgentNode:
    """Run a sub-agent child; its failure becomes a failed node, not ours."""
    started = workflow.now()
    if child_input.baseline is None:
        child_input = child_input.model_copy(update={"baseline": SUBAGENT_BASELINE})
    try:
        return await workflow.execute_child_workflow(
            SUBAGENT_WORKFLOW,
            child_input,
            result_type=AgentNode,
            id=child_id,
            # A dead worker's task moves on after this, not after the default 10 s.
            task_timeout=AGENT_TASK_TIMEOUT if workflow.patched(PATCH_TASK_TIMEOUTS) else None,
            static_summary=(
                f"sub-agent {child_input.index}/{child_input.siblings} · "
                f'"{child_input.title[:60]}" · {child_input.tier} · {child_input.model}'
            ),
            static_details=(
                f"**Task**\n\n{child_input.task[:2000]}\n\n"
                f"score {child_input.score:.2f} · depth {child_input.depth} · "
                f"max {child_input.max_turns} turns · budget {child_input.budget.tokens} tokens"
            ),
            search_attributes=agent_attributes(
                "subagent", child_input.tier, child_input.depth, child_input.root_id
            )
            if child_input.tag_search_attributes
            else None,
            # Priority.default is what an unset priority already sends.
            priority=priority or Priority.default,
        )
    except Exception as err:  # noqa: BLE001 - one failed child must not fail its parent
        return AgentNode(
            workflow_id=child_id,
            role="subagent",
            title=child_input.title,
            status="failed",
            model=child_input.model,
            error=failure_message(err),
            depth=child_input.depth,
            tier=child_input.tier,
            started_at=started,
            closed_at=workflow.now(),
        )
