"""SubAgentWorkflow: one agent loop, durable turn by turn.

Each LLM turn and each tool call is an activity, so a worker crash resumes the
loop at the last completed step instead of re-running (and re-paying for) the
whole conversation. Tool calls of one turn run in order: a model that asks to
make a folder and then move a file into it expects exactly that order.

The loop stops at a turn boundary when the model answers without a tool call,
when the turn cap or the budget runs out (a partial result, not a crash), or
when a parent cancels it through the `control_signal` signal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, NoReturn

from temporalio import workflow
from temporalio.common import Priority
from temporalio.exceptions import is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.models import (
        TIERS,
        AgentNode,
        Budget,
        ControlRequest,
        ControlResult,
        DelegationRecord,
        Effect,
        McpTool,
        Message,
        NodeStatus,
        Plan,
        Pruning,
        SubAgentInput,
        SubAgentResume,
        Subtask,
        Tier,
        ToolResult,
        ToolUseBlock,
        Usage,
        Verification,
        VerifyRequest,
    )
    from agentfleet.delegation import prompts
    from agentfleet.delegation.complexity import ComplexityScore, Thresholds, spec_for
    from agentfleet.delegation.complexity import score as score_spec
    from agentfleet.delegation.policy import Decision, DecisionKind, DelegationPolicy, guard
    from agentfleet.deploy.task_timeouts import AGENT_TASK_TIMEOUT, PATCH_TASK_TIMEOUTS
    from agentfleet.mcp.allow import ToolSet
    from agentfleet.sandbox import DELEGATE_TOOL
    from agentfleet.telemetry import names as tn

from workflows._agent import Control, Spend, task_priority
from workflows._calls import call_agent_tool, failure_message, verify_work
from workflows._lifecycle import Estimate, Lifecycle
from workflows._loop import AgentLoop, LoopConfig, LoopState
from workflows._observe import AgentSpan, agent_span, count
from workflows._search import agent_attributes

# Guards the switch to conversation-by-reference for histories recorded before it.
PATCH_TRANSCRIPT_BY_REF = "agentfleet-transcript-by-ref-1"
# Guards verified completion (the check at the end, `unverified`) and the loop's
# handling of cut-off tool inputs, refusals and paused turns.
PATCH_REAL_COMPLETION = "agentfleet-real-completion-1"
# One marker for a new sub-agent instead of the three above (and the ledger's): a run
# that records it takes every change they guard. Each marker costs a history event, a
# TemporalChangeVersion upsert and a visibility write (bench/overhead.py). Runs
# recorded before it have no such marker and ask for the older ones, as before.
PATCH_SUBAGENT_BASELINE = "agentfleet-subagent-baseline-1"


def subtree_effects(nodes: list[AgentNode]) -> list[Effect]:
    """The tool journals of these nodes and everything below them."""
    return [e for node in nodes for n in node.walk() for e in n.effects]


def settle(check: Verification) -> tuple[NodeStatus, str | None]:
    """An agent that stopped as if done: `completed` only if its check passed."""
    if check.passed:
        return "completed", None
    return "unverified", f"unverified: {check.reason}"


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


@workflow.defn(name="SubAgentWorkflow")
class SubAgentWorkflow:
    """One agent loop, durable turn by turn, that may delegate to children of its own."""

    def __init__(self) -> None:
        self._baseline = False
        self._children: list[AgentNode] = []
        self._running_children: set[str] = set()
        self._delegated = 0
        self._control = Control()
        self._pruned: list[Pruning] = []
        self._decisions: list[DelegationRecord] = []

    @workflow.signal(name="control_signal")
    async def control_signal(self, req: ControlRequest) -> None:
        """Pause, resume or cancel from a parent: this agent and its subtree."""
        self._control.apply(req.action, req.reason)
        await self._forward(req)

    @workflow.update(name="control")
    async def control(self, req: ControlRequest) -> ControlResult:
        """Pause, resume or cancel from a person, answered with the state it leaves."""
        state = self._control.apply(req.action, req.reason)
        await self._forward(req)
        return ControlResult(workflow_id=workflow.info().workflow_id, state=state)

    async def _forward(self, req: ControlRequest) -> None:
        """A paused or canceled agent pauses or cancels its whole subtree."""
        for child_id in sorted(self._running_children):
            await workflow.get_external_workflow_handle(child_id).signal("control_signal", req)

    @workflow.run
    async def run(self, inp: SubAgentInput) -> AgentNode:
        """Run the loop between its two ledger rows, inside its `invoke_agent` span."""
        wid = workflow.info().workflow_id
        self._baseline = workflow.patched(PATCH_SUBAGENT_BASELINE)
        life = _lifecycle(inp)
        with agent_span(
            "subagent",
            f"sub-agent: {inp.title or wid}",
            {"tier": inp.tier, "score": inp.score, "model": inp.model},
            depth=inp.depth,
            root_id=inp.root_id,
        ) as span:
            span.set(budget_tokens=inp.budget.tokens, budget_usd=inp.budget.usd)
            life.begin(local=True if self._baseline else None)
            spend = self._spend(inp, wid)
            try:
                node = await self._loop(inp, spend)
            except workflow.ContinueAsNewError:
                # This run's row closes; the next run of the same agent opens its own.
                await life.end("continued_as_new", self._total(spend))
                raise
            except Exception as err:
                status = "canceled" if is_cancelled_exception(err) else "failed"
                await life.end(status, self._total(spend), failure_message(err))
                raise
            await _close(inp, life, span, node)
            return node

    def _spend(self, inp: SubAgentInput, wid: str) -> Spend:
        """This run's spend: fresh, or carried over from the run that continued as new."""
        spend = Spend(
            wid,
            inp.resume.budget if inp.resume else inp.budget,
            task_priority(inp.priority, inp.fairness_key),
        )
        if inp.resume:
            spend.own, spend.receipts = inp.resume.own, list(inp.resume.receipts)
            self._children = list(inp.resume.children)
            self._delegated = inp.resume.delegated
            self._pruned = list(inp.resume.pruned)
            self._decisions = list(inp.resume.decisions)
        return spend

    def _total(self, spend: Spend) -> Usage:
        total = spend.own
        for child in self._children:
            total = total + child.usage
        return total

    async def _loop(self, inp: SubAgentInput, spend: Spend) -> AgentNode:
        """The agent loop to its end, then the completion check of what it claims."""
        # Conversation by reference: history holds each turn's new messages and a
        # transcript id, not the whole transcript, so it grows linearly with turns.
        by_ref = self._baseline or workflow.patched(PATCH_TRANSCRIPT_BY_REF)
        real = self._baseline or workflow.patched(PATCH_REAL_COMPLETION)
        started = inp.resume.started_at if inp.resume else workflow.now()
        state = _loop_state(inp)

        async def call_tool(use: ToolUseBlock) -> ToolResult:
            return await self._call(inp, spend, use)

        def at_boundary(s: LoopState) -> None:
            if by_ref and workflow.info().is_continue_as_new_suggested():
                self._continue_as_new(inp, spend, started, s)

        cfg = _loop_config(inp, by_ref=by_ref, real=real)
        end = await AgentLoop(cfg, spend, self._control, call_tool, at_boundary).run(state)
        status, error, verification = end.status, end.error, None
        if real and status == "completed":
            verification = await self._verify(inp, state)
            status, error = settle(verification)
        return AgentNode(
            workflow_id=workflow.info().workflow_id,
            role="subagent",
            title=inp.title,
            status=status,
            model=inp.model,
            error=error,
            usage=self._total(spend),
            depth=inp.depth,
            tier=inp.tier,
            started_at=started,
            closed_at=workflow.now(),
            receipts=spend.receipts,
            pruned=self._pruned,
            decisions=self._decisions,
            children=self._children,
            verification=verification,
            **state.results(),
        )

    async def _verify(self, inp: SubAgentInput, state: LoopState) -> Verification:
        """Check the workspace against what the agent said it did."""
        return await verify_work(
            VerifyRequest(
                workspace=inp.workspace,
                agent_id=workflow.info().workflow_id,
                task=inp.task,
                outputs=inp.outputs,
                report=state.output,
                # Work this agent delegated counts as its own.
                effects=[*state.effects, *subtree_effects(self._children)],
            )
        )

    def _continue_as_new(
        self, inp: SubAgentInput, spend: Spend, started: datetime, s: LoopState
    ) -> NoReturn:
        """Start a fresh history at this turn boundary, carrying the loop's state."""
        resume = SubAgentResume(
            transcript_ref=s.transcript_ref,
            pending=s.messages,
            **s.results(),
            started_at=started,
            **spend.carried(),
            children=self._children,
            delegated=self._delegated,
            pruned=self._pruned,
            decisions=self._decisions,
        )
        workflow.continue_as_new(inp.model_copy(update={"resume": resume}))

    async def _call(self, inp: SubAgentInput, spend: Spend, use: ToolUseBlock) -> ToolResult:
        if use.name == "delegate":
            text, is_error = await self._delegate(inp, spend, use)
            return ToolResult(call_id=use.id, name=use.name, content=text, is_error=is_error)
        return await call_agent_tool(
            use,
            workspace=inp.workspace,
            agent_id=workflow.info().workflow_id,
            files=inp.tools,
            mcp=inp.mcp_tools,
        )

    async def _delegate(
        self, inp: SubAgentInput, spend: Spend, use: ToolUseBlock
    ) -> tuple[str, bool]:
        """The `delegate` tool: guard the model's plan, run what is kept, report back."""
        plan = _delegated_plan(use)
        if isinstance(plan, str):
            return plan, True
        policy = policy_for(inp.models)
        limits = policy.limits(max_depth=inp.max_depth, max_total=inp.max_total_subagents)
        checked = guard(
            plan, inp.tier, depth=inp.depth, limits=limits, spawned_so_far=self._delegated
        )
        self._pruned.extend(checked.pruned)
        count(tn.PRUNED_SUBTASKS, len(checked.pruned), role="subagent")
        if not checked.kept:
            reasons = "; ".join(f"{p.title}: {p.reason}" for p in checked.pruned)
            return f"no sub-agent started ({reasons}); do the work yourself", True
        lineage = Lineage(
            root_id=inp.root_id,
            parent_id=workflow.info().workflow_id,
            depth=inp.depth + 1,
            workspace=inp.workspace,
            max_depth=inp.max_depth,
            max_total_subagents=inp.max_total_subagents,
            models=inp.models,
            thresholds=inp.thresholds,
            tag_search_attributes=inp.tag_search_attributes,
            priority=inp.priority,
            fairness_key=inp.fairness_key,
        )
        # The root's thresholds, not today's: a calibration mid-run changes nothing.
        thresholds = Thresholds.model_validate(inp.thresholds) if inp.thresholds else None
        kept = len(checked.kept)
        runs = [
            self._spawn(inp, spend, sub, lineage, policy, thresholds, left=kept - i, siblings=kept)
            for i, sub in enumerate(checked.kept)
        ]
        nodes = await asyncio.gather(*runs)
        self._children.extend(nodes)
        report = "\n".join(f"- {n.title} [{n.status}]: {n.output or n.error}" for n in nodes)
        return report, False

    def _spawn(
        self,
        inp: SubAgentInput,
        spend: Spend,
        sub: Subtask,
        lineage: Lineage,
        policy: DelegationPolicy,
        thresholds: Thresholds | None,
        *,
        left: int,
        siblings: int,
    ) -> Coroutine[Any, Any, AgentNode]:
        """Decide one delegated subtask and reserve its budget; the child starts when awaited.

        `left`: children not reserved yet, this one included (for its budget share).
        """
        estimate = score_spec(spec_for(sub, inp.task, inp.depth + 1), thresholds)
        decision = policy.decide(estimate)
        self._delegated += 1
        child_id = f"{lineage.parent_id}.{self._delegated}"
        self._decisions.append(delegation_record(sub.title, decision, "spawn", child_id))
        child = child_input(
            decision,
            estimate,
            lineage=lineage,
            task=prompts.subagent_task(sub),
            title=sub.title,
            index=self._delegated,
            siblings=siblings,
            budget=spend.reserve(left),
            max_turns=decision.max_turns,
            max_tokens=decision.max_tokens,
            outputs=sub.outputs,
            tools=inp.tools,
            mcp_tools=inp.mcp_tools,
        )
        count(tn.SUBAGENTS_SPAWNED, role="subagent", tier=decision.tier)
        return self._track(run_child(child, child_id, spend.priority), child_id)

    async def _track(self, run: Coroutine[Any, Any, AgentNode], child_id: str) -> AgentNode:
        self._running_children.add(child_id)
        try:
            return await run
        finally:
            self._running_children.discard(child_id)


def _lifecycle(inp: SubAgentInput) -> Lifecycle:
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


async def _close(inp: SubAgentInput, life: Lifecycle, span: AgentSpan, node: AgentNode) -> None:
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


def _loop_state(inp: SubAgentInput) -> LoopState:
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


def _loop_config(inp: SubAgentInput, *, by_ref: bool, real: bool) -> LoopConfig:
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


def _delegated_plan(use: ToolUseBlock) -> Plan | str:
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
    try:
        return await workflow.execute_child_workflow(
            SubAgentWorkflow.run,
            child_input,
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
