"""What SubAgentWorkflow does: one agent loop, durable turn by turn.

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
from collections.abc import Coroutine
from datetime import datetime
from typing import Any, NoReturn

from temporalio import workflow
from temporalio.exceptions import is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.models import (
        AgentNode,
        ControlRequest,
        ControlResult,
        DelegationRecord,
        Pruning,
        SubAgentInput,
        SubAgentResume,
        Subtask,
        ToolResult,
        ToolUseBlock,
        Usage,
        Verification,
        VerifyRequest,
    )
    from agentfleet.delegation import prompts
    from agentfleet.delegation.complexity import Thresholds, spec_for
    from agentfleet.delegation.complexity import score as score_spec
    from agentfleet.delegation.policy import DelegationPolicy, guard
    from agentfleet.telemetry import names as tn
    from agentfleet.verification.verdict import settle

from workflows._agent import Control, Spend, task_priority
from workflows._calls import call_agent_tool, failure_message, verify_work
from workflows._child import (
    Lineage,
    child_input,
    close_run,
    delegated_plan,
    delegation_record,
    lifecycle,
    loop_config,
    loop_state,
    policy_for,
    run_child,
    subtree_effects,
)
from workflows._lifecycle import Lifecycle
from workflows._loop import AgentLoop, LoopState
from workflows._observe import agent_span, count

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
# The next baseline: everything the first one takes, plus the start row handed to the
# worker instead of a local activity (agentfleet/ledger/outbox.py) and the completion
# check and close row in one local activity (activities/completion.py). A one-turn
# agent then has one marker of a local activity instead of three (bench/overhead.py).
PATCH_SUBAGENT_BASELINE_2 = "agentfleet-subagent-baseline-2"


class SubAgentRun:
    """The sub-agent's state and steps; `workflows.subagent.SubAgentWorkflow` is its entry points.

    The sandbox runs a workflow's module again for every run it starts. This module is
    passed through it (agentfleet/plugin.py, WORKFLOW_HELPERS), so the loop's code is
    loaded once per worker; the workflow module that is run again is a few lines.
    """

    def __init__(self) -> None:
        self._baseline = False
        self._one_close = False
        self._children: list[AgentNode] = []
        self._running_children: set[str] = set()
        self._delegated = 0
        self._control = Control()
        self._pruned: list[Pruning] = []
        self._decisions: list[DelegationRecord] = []

    async def on_control_signal(self, req: ControlRequest) -> None:
        """Pause, resume or cancel from a parent: this agent and its subtree."""
        self._control.apply(req.action, req.reason)
        await self._forward(req)

    async def on_control(self, req: ControlRequest) -> ControlResult:
        """Pause, resume or cancel from a person, answered with the state it leaves."""
        state = self._control.apply(req.action, req.reason)
        await self._forward(req)
        return ControlResult(workflow_id=workflow.info().workflow_id, state=state)

    async def _forward(self, req: ControlRequest) -> None:
        """A paused or canceled agent pauses or cancels its whole subtree."""
        for child_id in sorted(self._running_children):
            await workflow.get_external_workflow_handle(child_id).signal("control_signal", req)

    async def main(self, inp: SubAgentInput) -> AgentNode:
        """Run the loop between its two ledger rows, inside its `invoke_agent` span."""
        wid = workflow.info().workflow_id
        # A parent names the baseline in the input (SUBAGENT_BASELINE); only a run
        # started without one asks the marker.
        from_parent = (inp.baseline or 0) >= 2
        self._one_close = from_parent or workflow.patched(PATCH_SUBAGENT_BASELINE_2)
        self._baseline = self._one_close or workflow.patched(PATCH_SUBAGENT_BASELINE)
        life = lifecycle(inp)
        with agent_span(
            "subagent",
            f"sub-agent: {inp.title or wid}",
            {"tier": inp.tier, "score": inp.score, "model": inp.model},
            depth=inp.depth,
            root_id=inp.root_id,
        ) as span:
            span.set(budget_tokens=inp.budget.tokens, budget_usd=inp.budget.usd)
            if self._one_close:
                life.begin(posted=True)
            else:
                life.begin(local=True if self._baseline else None)
            spend = self._spend(inp, wid)
            try:
                node = await self._loop(inp, spend, life)
            except workflow.ContinueAsNewError:
                # This run's row closes; the next run of the same agent opens its own.
                await life.end("continued_as_new", self._total(spend))
                raise
            except Exception as err:
                status = "canceled" if is_cancelled_exception(err) else "failed"
                await life.end(status, self._total(spend), failure_message(err))
                raise
            await close_run(inp, life, span, node)
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

    async def _loop(self, inp: SubAgentInput, spend: Spend, life: Lifecycle) -> AgentNode:
        """The agent loop to its end, then the completion check of what it claims."""
        # Conversation by reference: history holds each turn's new messages and a
        # transcript id, not the whole transcript, so it grows linearly with turns.
        by_ref = self._baseline or workflow.patched(PATCH_TRANSCRIPT_BY_REF)
        real = self._baseline or workflow.patched(PATCH_REAL_COMPLETION)
        started = inp.resume.started_at if inp.resume else workflow.now()
        state = loop_state(inp)

        async def call_tool(use: ToolUseBlock) -> ToolResult:
            return await self._call(inp, spend, use)

        def at_boundary(s: LoopState) -> None:
            if by_ref and workflow.info().is_continue_as_new_suggested():
                self._continue_as_new(inp, spend, started, s)

        cfg = loop_config(inp, by_ref=by_ref, real=real)
        end = await AgentLoop(cfg, spend, self._control, call_tool, at_boundary).run(state)
        status, error, verification = end.status, end.error, None
        if real and status == "completed":
            verification = await self._verify(inp, state, spend, life)
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

    async def _verify(
        self, inp: SubAgentInput, state: LoopState, spend: Spend, life: Lifecycle
    ) -> Verification:
        """Check the workspace against what the agent said it did (and close its row)."""
        req = VerifyRequest(
            workspace=inp.workspace,
            agent_id=workflow.info().workflow_id,
            task=inp.task,
            outputs=inp.outputs,
            report=state.output,
            # Work this agent delegated counts as its own.
            effects=[*state.effects, *subtree_effects(self._children)],
        )
        if not self._one_close:
            return await verify_work(req)
        return await life.end_checked(
            req,
            self._total(spend),
            pruned_count=len(self._pruned) or None,
            turns=state.turns,
            tool_calls=state.tool_calls,
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
        plan = delegated_plan(use)
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
