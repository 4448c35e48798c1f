"""MasterAgentWorkflow: score a goal, then do it inline, delegate it, or plan it.

Complexity is scored before anything is spawned (pure and deterministic, so it
runs inside the workflow): trivial goals are answered in one LLM call with no
child, simple and moderate goals go to one sub-agent, and only complex goals
are planned. A plan is structured output, validated by pydantic in the
workflow; a malformed plan is sent back with the validation error, a bounded
number of times. The over-decomposition guard prunes the plan (recording every
pruning) before any child starts; trivial subtasks are done inline by the
master. Children's ids extend the master's id, so a tree is found from its root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.models import (
        AgentNode,
        ApprovalResult,
        ContentBlock,
        ControlRequest,
        ControlResult,
        DelegationRecord,
        LlmRequest,
        LlmResponse,
        MasterInput,
        MasterResult,
        Message,
        NodeStatus,
        Plan,
        PlanApproval,
        Pruning,
        Role,
        SubAgentInput,
        Subtask,
        SubtreeControl,
        TextBlock,
        Tier,
        ToolResultBlock,
        Usage,
        Verification,
        VerifyRequest,
    )
    from agentfleet.contracts.workflows import MASTER_WORKFLOW
    from agentfleet.delegation import prompts
    from agentfleet.delegation.complexity import ComplexityScore, Thresholds, score_text, spec_for
    from agentfleet.delegation.complexity import score as score_spec
    from agentfleet.delegation.forecast import Forecast, TierCost
    from agentfleet.delegation.forecast import forecast as forecast_cost
    from agentfleet.delegation.forecast import part as forecast_part
    from agentfleet.delegation.planning import (
        FORCE_SUBMIT_PLAN,
        SUBMIT_PLAN,
        SUBMIT_PLAN_TOOL,
        keep_first,
        legacy_parse_plan,
        plan_from,
        with_graph,
    )
    from agentfleet.delegation.policy import (
        Decision,
        DelegationPolicy,
        GuardResult,
        Limits,
        guard,
    )
    from agentfleet.mcp.allow import ToolSet, plan_errors, planner_note
    from agentfleet.mcp.allow import resolve as resolve_tools
    from agentfleet.telemetry import names as tn
    from agentfleet.verification.verdict import settle, task_wording

from workflows._agent import Spend, task_priority
from workflows._calls import (
    failure_message,
    list_mcp_tools,
    load_thresholds,
    prepare_workspace,
    raise_if_misconfigured,
    verify_work,
)
from workflows._child import (
    Lineage,
    child_input,
    delegation_record,
    policy_for,
    run_child,
    subtree_effects,
)
from workflows._graph import Reports, Step, run_graph
from workflows._inline import InlineJob, run_inline
from workflows._lifecycle import Estimate, Lifecycle
from workflows._loop import CONTEXT_FULL, PATCH_CONTEXT_FULL
from workflows._observe import AgentSpan, agent_span, count
from workflows._search import upsert_own
from workflows._subagent import PATCH_REAL_COMPLETION
from workflows._synthesis import Synthesis, synthesize

# Guards the tool set: the MCP catalogue recorded by an activity, the goal's allow-list,
# and plans checked against it.
PATCH_MCP_TOOLS = "agentfleet-mcp-tools-1"

# Guards the refusal of a plan whose cost forecast exceeds its budget
# (agentfleet/delegation/forecast.py).
# The forecast itself is pure code on data already in history: no command of its own.
PATCH_FORECAST = "agentfleet-forecast-1"
# A planner text holding a draft and then the final plan runs the final one. Histories
# recorded before ran the first; the marker is written only when a reply holds two.
PATCH_LAST_PLAN = "agentfleet-last-plan-1"

# A planner reply cut off at max_tokens is asked again with this much more room.
PLAN_TOKENS_CEILING = 32_000


_PLAN_STEP = Subtask(title="Plan the approach", description="Plan how to approach the goal")
_VALIDATE_STEP = Subtask(
    title="Validate the results", description="Validate that every part of the goal was done"
)


def naive_plan(subtasks: list[Subtask], goal: str) -> list[Subtask]:
    """The over-decomposing habit, for the baseline: a plan step first, a validate step last.

    Added whether or not the planner already planned such steps.
    """
    titles = {s.title.lower() for s in subtasks}
    out = list(subtasks)
    if not any(t.startswith("plan") for t in titles):
        out.insert(
            0, _PLAN_STEP.model_copy(update={"description": f"Plan how to approach: {goal}"})
        )
    if not any(t.startswith(("validate", "verify")) for t in titles):
        out.append(_VALIDATE_STEP)
    return out


def workspace_name_for(workflow_id: str) -> str:
    """A fresh goal's workspace: its workflow id, made safe as a folder name."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", workflow_id).strip(".-")[:120] or "task"


# One piece of the master's work: the subtask, how it is done, what it was scored.
Piece = tuple[Subtask, Decision, ComplexityScore]
# A piece by its step id, with its index among the children (0 for inline work).
Numbered = dict[str, tuple[Subtask, Decision, ComplexityScore, int]]


@dataclass(frozen=True)
class Scored:
    """The goal as the master first judged it, before any plan."""

    policy: DelegationPolicy
    """The delegation policy with the run's model choices."""
    thresholds: Thresholds
    """The tier thresholds in force when the run started."""
    goal: ComplexityScore
    """The whole goal's complexity score."""
    decision: Decision
    """What the policy decided for the whole goal."""


@dataclass
class Decided:
    """What the master decided to do, before any of it runs."""

    work: list[Piece]
    """The pieces, each with its decision (inline or spawn) and its score."""
    plan: Plan | None = None
    """The validated plan they came from, if the goal was planned."""
    attempts: int = 0
    """How many planner calls it took."""
    pruned: list[Pruning] = field(default_factory=list)
    """What the guard (or the person approving) took out of the plan."""


@workflow.defn(name=MASTER_WORKFLOW)
class MasterAgentWorkflow:
    """One goal: scored, then done inline, delegated to one sub-agent, or planned."""

    def __init__(self) -> None:
        self._spend: Spend | None = None
        self._children: dict[str, AgentNode] = {}
        self._running: set[str] = set()
        self._root: AgentNode | None = None
        self._awaiting: Plan | None = None
        self._approval: PlanApproval | None = None
        self._policy: DelegationPolicy | None = None
        self._decision: Decision | None = None
        self._tag_children = False
        # PATCH_REAL_COMPLETION, decided once per run (see _run).
        self._real = False
        # The goal's tools (PATCH_MCP_TOOLS); None in runs from before it.
        self._tools: ToolSet | None = None
        # The calibration record's cost per tier, and the plan's forecast.
        self._tier_costs: dict[str, TierCost] = {}
        self._forecast: Forecast | None = None

    @workflow.query(name="tree")
    def tree(self) -> AgentNode:
        """The live tree: finished children as they ended, the rest as running."""
        root = self._root or AgentNode(
            workflow_id=workflow.info().workflow_id, role="master", status="running"
        )
        usage = self._spend.own if self._spend else root.usage
        children = list(self._children.values())
        for child in children:
            if child.role != "inline" and child.status != "running":
                usage = usage + child.usage
        return root.model_copy(
            update={
                "children": children,
                "usage": usage,
                "receipts": list(self._spend.receipts) if self._spend else [],
            }
        )

    @workflow.update(name="approve_plan")
    async def approve_plan(self, answer: PlanApproval) -> ApprovalResult:
        """Approve (maybe edited) or reject the plan waiting under `require_approval`."""
        self._approval = answer
        plan = answer.plan or self._awaiting
        return ApprovalResult(accepted=answer.approve, subtasks=len(plan.subtasks) if plan else 0)

    @approve_plan.validator
    def _validate_approval(self, answer: PlanApproval) -> None:
        if self._awaiting is None:
            raise ValueError("no plan is waiting for approval")
        if answer.plan is not None and self._policy is not None and self._decision is not None:
            edited = with_graph(answer.plan) if self._real else answer.plan
            limits = self._policy.limits(max_depth=2, max_total=500)
            checked = _guard_top(edited, self._decision.tier, limits)
            if not checked.kept:
                reasons = "; ".join(f"{p.title}: {p.reason}" for p in checked.pruned)
                raise ValueError(f"the edited plan leaves nothing to do ({reasons})")

    @workflow.update(name="control_subtree")
    async def control_subtree(self, req: SubtreeControl) -> ControlResult:
        """Pause, resume or cancel one sub-agent and everything below it."""
        await workflow.get_external_workflow_handle(req.workflow_id).signal(
            "control_signal", ControlRequest(action=req.action, reason=req.reason)
        )
        return ControlResult(workflow_id=req.workflow_id, state=req.action)

    @control_subtree.validator
    def _validate_control(self, req: SubtreeControl) -> None:
        if req.workflow_id not in self._running:
            known = ", ".join(sorted(self._running)) or "none"
            raise ValueError(f"{req.workflow_id!r} is not a running sub-agent (running: {known})")

    @workflow.run
    async def run(self, inp: MasterInput) -> MasterResult:
        """Score the goal, then do it inline, delegate it or plan it, in one traced run."""
        wid = workflow.info().workflow_id
        with agent_span("master", "master", depth=0, root_id=wid) as span:
            result = await self._run_traced(inp, span)
            span.finish(result.tree.status, result.tree.error)
            return result

    async def _run_traced(self, inp: MasterInput, span: AgentSpan) -> MasterResult:
        """The run between the master's two ledger rows."""
        loaded = await load_thresholds()
        # The cut points as before, and the calibration record's per-tier costs.
        thresholds = loaded.base()
        self._tier_costs = dict(loaded.tier_costs)
        policy = policy_for(inp.models, inp.model)
        goal = score_text(inp.goal, thresholds)
        decision = policy.decide(goal)
        self._policy, self._decision = policy, decision
        life = await self._open(inp, span, goal, decision)
        wid = workflow.info().workflow_id
        spend = self._spend = Spend(wid, inp.budget, task_priority(inp.priority, inp.fairness_key))
        try:
            result = await self._run(inp, Scored(policy, thresholds, goal, decision), spend)
        except Exception as err:
            # The close row carries the whole subtree's spend, children included.
            status = "canceled" if is_cancelled_exception(err) else "failed"
            await life.end(status, self.tree().usage, failure_message(err))
            raise
        await self._close(life, span, result)
        return result

    async def _open(
        self, inp: MasterInput, span: AgentSpan, goal: ComplexityScore, decision: Decision
    ) -> Lifecycle:
        """The decision on the span, the live tree's root, the master's tags and start row."""
        wid = workflow.info().workflow_id
        span.set(
            tier=decision.tier,
            score=goal.score,
            decision=decision.decision if not decision.may_decompose else "plan",
            budget_tokens=inp.budget.tokens,
            budget_usd=inp.budget.usd,
        )
        self._root = AgentNode(
            workflow_id=wid,
            role="master",
            title=inp.goal[:80],
            status="running",
            model=decision.model,
            tier=decision.tier,
            started_at=workflow.now(),
        )
        self._tag_children = await upsert_own("master", decision.tier, 0, wid)
        life = Lifecycle(
            "master",
            root_id=wid,
            parent_id=None,
            depth=0,
            model=decision.model,
            title=inp.goal,
            tier=decision.tier,
            estimate=Estimate.of(goal),
        )
        life.begin()
        return life

    async def _close(self, life: Lifecycle, span: AgentSpan, result: MasterResult) -> None:
        """The close row and the span's last attributes, from the finished tree."""
        tree = result.tree
        span.set(pruned_count=len(tree.pruned))
        if self._forecast is not None:
            span.span.set_attribute(tn.AF_FORECAST_USD, self._forecast.usd)
        await life.end(
            tree.status,
            tree.usage,
            tree.error,
            inline_decisions=sum(1 for d in tree.decisions if d.decision == "inline"),
            pruned_count=len(tree.pruned),
            verification=tree.verification,
            forecast_usd=tree.forecast_usd,
        )
        if tree.verification is not None:
            span.verified(tree.verification)

    async def _run(self, inp: MasterInput, scored: Scored, spend: Spend) -> MasterResult:
        """Decide what to do, execute it, and assemble the result."""
        thresholds, decision = scored.thresholds, scored.decision
        started = workflow.now()
        workspace = await self._prepare(inp)
        decided = await self._decide(inp, scored, spend, workspace)
        if isinstance(decided, MasterResult):
            return decided
        self._set_forecast(inp, decided.work, decision, spend)
        n_spawn = sum(1 for _, d, _ in decided.work if d.decision == "spawn")
        count(tn.SUBAGENTS_SPAWNED, n_spawn, role="master")
        count(tn.INLINE_DECISIONS, len(decided.work) - n_spawn, role="master")
        count(tn.PRUNED_SUBTASKS, len(decided.pruned), role="master")
        nodes, records = await self._execute(inp, decided.work, workspace, thresholds, spend)
        answer = await self._answer(inp, decision, decided, nodes, spend)
        output = answer.text
        status, error, check = await self._outcome(
            inp, nodes, decided.plan, workspace, spend, answer
        )
        tree = AgentNode(
            workflow_id=workflow.info().workflow_id,
            role="master",
            title=inp.goal[:80],
            status=status,
            model=decision.model,
            output=output,
            error=error,
            usage=_rolled_up(spend, nodes),
            depth=0,
            tier=decision.tier,
            started_at=started,
            closed_at=workflow.now(),
            receipts=spend.receipts,
            pruned=decided.pruned,
            decisions=records,
            children=nodes,
            verification=check,
            forecast_usd=self._forecast.usd if self._forecast else None,
        )
        return MasterResult(
            goal=inp.goal,
            workspace=workspace,
            tree=tree,
            plan=decided.plan,
            plan_attempts=decided.attempts,
            thresholds_version=thresholds.version,
        )

    async def _prepare(self, inp: MasterInput) -> str:
        """The goal's workspace, the completion-check patch and the goal's tools."""
        workspace = inp.workspace or workspace_name_for(workflow.info().workflow_id)
        try:
            await prepare_workspace(workspace, create=inp.workspace is None)
        except Exception as err:  # noqa: BLE001 - becomes a clear, final failure
            raise ApplicationError(
                failure_message(err), type="WorkspaceMissing", non_retryable=True
            ) from None
        self._real = workflow.patched(PATCH_REAL_COMPLETION)
        if workflow.patched(PATCH_MCP_TOOLS):
            self._tools = await self._tool_set(inp)
        return workspace

    async def _decide(
        self, inp: MasterInput, scored: Scored, spend: Spend, workspace: str
    ) -> Decided | MasterResult:
        """The pieces of work: the whole goal, or a plan's kept subtasks (or a refusal)."""
        policy, thresholds, decision = scored.policy, scored.thresholds, scored.decision
        whole_goal = Subtask(title=inp.goal[:200], description=inp.goal)
        if inp.strategy == "naive":
            return await self._naive(inp, thresholds, decision, spend)
        if decision.decision == "inline" or not decision.may_decompose:
            return Decided(work=[(whole_goal, decision, scored.goal)])
        plan, attempts = await self._plan(inp, decision.model, spend)
        limits = policy.limits(max_depth=inp.max_depth, max_total=inp.max_total_subagents)
        checked = _guard_top(plan, decision.tier, limits)
        pruned = list(checked.pruned)
        kept = keep_first(checked.kept, inp.max_subtasks) or [whole_goal]
        ahead = self._estimate(inp, kept, policy, thresholds, decision, spend)
        if ahead.over_budget and not inp.require_approval and workflow.patched(PATCH_FORECAST):
            # Refused before any child starts; with require_approval a person decides.
            refused = self._refused(inp, ahead, plan, attempts, pruned, workspace, spend)
            return refused.model_copy(update={"thresholds_version": thresholds.version})
        if inp.require_approval:
            kept, more = await self._await_approval(Plan(subtasks=kept), inp, decision, limits)
            pruned.extend(more)
        estimates = [score_spec(spec_for(st, inp.goal, 1), thresholds) for st in kept]
        work = [(st, policy.decide(e), e) for st, e in zip(kept, estimates, strict=True)]
        return Decided(work=work, plan=plan, attempts=attempts, pruned=pruned)

    async def _naive(
        self, inp: MasterInput, thresholds: Thresholds, decision: Decision, spend: Spend
    ) -> Decided:
        """The baseline we replace: always plan, always spawn, one model for all.

        Plan and validate steps included, nothing pruned.
        """
        plan, attempts = await self._plan(inp, decision.model, spend)
        # Nor does the baseline order anything: every step starts at once.
        kept = [
            st.model_copy(update={"depends_on": []})
            for st in naive_plan(plan.subtasks, inp.goal)[: inp.max_subtasks + 2]
        ]
        estimates = [score_spec(spec_for(st, inp.goal, 1), thresholds) for st in kept]
        naive = decision.model_copy(update={"decision": "spawn", "may_decompose": False})
        work = [
            (st, naive.model_copy(update={"tier": e.tier, "score": e.score}), e)
            for st, e in zip(kept, estimates, strict=True)
        ]
        return Decided(work=work, plan=plan, attempts=attempts)

    async def _answer(
        self,
        inp: MasterInput,
        decision: Decision,
        decided: Decided,
        nodes: list[AgentNode],
        spend: Spend,
    ) -> Synthesis:
        """A lone piece's own output, or a synthesis of every part's."""
        if len(nodes) == 1 and decided.plan is None:
            return Synthesis(nodes[0].output)
        return await synthesize(
            inp.goal,
            decision.model,
            [(c.title, c.status, c.output or (c.error or "")) for c in nodes],
            spend,
            max_tokens=inp.max_tokens,
            whole=self._real,
        )

    def _estimate(
        self,
        inp: MasterInput,
        kept: list[Subtask],
        policy: DelegationPolicy,
        thresholds: Thresholds,
        decision: Decision,
        spend: Spend,
    ) -> Forecast:
        scores = [score_spec(spec_for(st, inp.goal, 1), thresholds) for st in kept]
        work = [(st, policy.decide(e), e) for st, e in zip(kept, scores, strict=True)]
        return self._set_forecast(inp, work, decision, spend)

    def _set_forecast(
        self,
        inp: MasterInput,
        work: list[tuple[Subtask, Decision, ComplexityScore]],
        decision: Decision,
        spend: Spend,
    ) -> Forecast:
        """The cost forecast of `work`, shown on the live tree (pure: no command)."""
        parts = [
            forecast_part(
                st.title, d.tier, d.model, max_turns=d.max_turns, max_tokens=d.max_tokens, score=est
            )
            for st, d, est in work
        ]
        self._forecast = forecast_cost(
            parts,
            self._tier_costs,
            budget_usd=inp.budget.usd,
            spent_usd=spend.own.cost_usd,
            synthesis_model=decision.model,
        )
        if self._root is not None:
            self._root = self._root.model_copy(update={"forecast_usd": self._forecast.usd})
        return self._forecast

    def _refused(
        self,
        inp: MasterInput,
        ahead: Forecast,
        plan: Plan,
        attempts: int,
        pruned: list[Pruning],
        workspace: str,
        spend: Spend,
    ) -> MasterResult:
        assert self._root is not None
        tree = self._root.model_copy(
            update={
                "status": "failed",
                "error": ahead.refusal(),
                "output": ahead.refusal(),
                "usage": spend.own,
                "receipts": spend.receipts,
                "pruned": pruned,
                "closed_at": workflow.now(),
                "forecast_usd": ahead.usd,
            }
        )
        return MasterResult(
            goal=inp.goal,
            workspace=workspace,
            tree=tree,
            plan=plan,
            plan_attempts=attempts,
        )

    async def _tool_set(self, inp: MasterInput) -> ToolSet:
        """The goal's tools, from the catalogue as an activity found it (so it replays)."""
        catalog = await list_mcp_tools()
        try:
            return resolve_tools(inp.tools, catalog)
        except ValueError as err:
            raise ApplicationError(str(err), type="InvalidInput", non_retryable=True) from None

    async def _execute(
        self,
        inp: MasterInput,
        work: list[Piece],
        workspace: str,
        thresholds: Thresholds,
        spend: Spend,
    ) -> tuple[list[AgentNode], list[DelegationRecord]]:
        """Run every piece, inline or as a child, in the order its dependencies allow."""
        wid = workflow.info().workflow_id
        steps, pieces, records = _layout(work, wid)
        n_spawn = sum(1 for _, d, _ in work if d.decision == "spawn")
        lineage = Lineage(
            root_id=wid,
            parent_id=wid,
            depth=1,
            workspace=workspace,
            max_depth=inp.max_depth,
            max_total_subagents=inp.max_total_subagents,
            models=inp.models,
            thresholds=thresholds.model_dump(),
            tag_search_attributes=self._tag_children,
            priority=inp.priority,
            fairness_key=inp.fairness_key,
        )
        # Children not started yet, for each one's share of the budget.
        left = [n_spawn]

        async def start(step: Step, reports: Reports) -> AgentNode:
            st, d, est, n = pieces[step.id]
            if d.decision == "inline":
                return await self._inline(
                    inp, st, d, step.node_id, spend, workspace, reports, Estimate.of(est)
                )
            child = child_input(
                d,
                est,
                lineage=lineage,
                task=prompts.subagent_task(st, reports),
                title=st.title,
                index=n,
                siblings=n_spawn,
                budget=spend.reserve(left[0]),
                max_turns=min(d.max_turns, inp.max_turns),
                max_tokens=min(d.max_tokens, inp.max_tokens),
                outputs=st.outputs,
                tools=self._tools.files if self._tools else None,
                mcp_tools=self._tools.for_subtask(st) if self._tools else [],
            )
            left[0] -= 1
            return await self._track(child, step.node_id)

        return await run_graph(steps, start), records

    async def _outcome(
        self,
        inp: MasterInput,
        nodes: list[AgentNode],
        plan: Plan | None,
        workspace: str,
        spend: Spend,
        answer: Synthesis,
    ) -> tuple[NodeStatus, str | None, Verification | None]:
        """The master's status, rolled up from its parts' checked statuses."""
        check = nodes[0].verification if len(nodes) == 1 and plan is None else None
        error = None
        if all(n.status == "completed" for n in nodes):
            status: NodeStatus = "completed"
            if self._real and plan is not None:
                # Each part passed its own check; the goal's named outputs must
                # be there too, whatever the plan made of them.
                check = await verify_work(
                    VerifyRequest(
                        workspace=workspace,
                        agent_id=workflow.info().workflow_id,
                        task=inp.goal,
                        # The final answer may claim only what the tree's calls did.
                        report=answer.text,
                        effects=subtree_effects(nodes),
                    )
                )
                status, error = settle(check)
            if status == "completed" and answer.short:
                # The parts are there, but the answer a person reads is not whole.
                status, error = "partial", answer.short
        elif self._real and all(n.status in ("completed", "unverified") for n in nodes):
            status = "unverified"
            short = [n for n in nodes if n.status == "unverified"]
            # Each part's own reason: the missing paths are what a person acts on.
            error = f"unverified: {len(short)} of {len(nodes)} parts failed their check: " + (
                "; ".join(
                    f"{n.title[:80]}: {(n.error or '').removeprefix('unverified: ')}" for n in short
                )
            )
        else:
            status = "partial"
            # Each part that fell short, and why: what a person acts on.
            short = [n for n in nodes if n.status != "completed"]
            error = f"{len(short)} of {len(nodes)} parts did not complete: " + "; ".join(
                f"{n.title[:80]} [{n.status}]" + (f": {n.error[:200]}" if n.error else "")
                for n in short
            )
        short_budget = [n for n in nodes if n.status == "budget_exhausted"]
        if status not in ("completed", "unverified") and (spend.exhausted or short_budget):
            status = "budget_exhausted"
            error = (
                f"budget exhausted ({inp.budget.tokens} tokens, ${inp.budget.usd}): "
                f"{len(short_budget)} of {len(nodes)} parts stopped early"
            )
        return status, error, check

    async def _await_approval(
        self, plan: Plan, inp: MasterInput, decision: Decision, limits: Limits
    ) -> tuple[list[Subtask], list[Pruning]]:
        """Hold the plan until a person approves it (maybe edited) or time runs out."""
        self._awaiting = plan
        try:
            await workflow.wait_condition(
                lambda: self._approval is not None,
                timeout=timedelta(seconds=inp.approval_timeout_s),
            )
        except TimeoutError:
            raise ApplicationError(
                f"the plan was not approved within {inp.approval_timeout_s} s "
                "(send the approve_plan update to run it)",
                type="ApprovalTimeout",
                non_retryable=True,
            ) from None
        finally:
            self._awaiting = None
        answer = self._approval
        assert answer is not None
        if not answer.approve:
            raise ApplicationError(
                f"the plan was rejected: {answer.note or 'no reason given'}",
                type="PlanRejected",
                non_retryable=True,
            )
        if answer.plan is None:
            return plan.subtasks, []
        edited = with_graph(answer.plan) if self._real else answer.plan
        checked = _guard_top(edited, decision.tier, limits)
        return keep_first(checked.kept, inp.max_subtasks), list(checked.pruned)

    async def _track(self, child: SubAgentInput, child_id: str) -> AgentNode:
        self._children[child_id] = AgentNode(
            workflow_id=child_id,
            role="subagent",
            title=child.title,
            status="running",
            model=child.model,
            tier=child.tier,
            depth=1,
        )
        self._running.add(child_id)
        try:
            node = await run_child(child, child_id, self._spend.priority if self._spend else None)
        finally:
            self._running.discard(child_id)
        self._children[child_id] = node
        return node

    async def _inline(
        self,
        inp: MasterInput,
        st: Subtask,
        d: Decision,
        node_id: str,
        spend: Spend,
        workspace: str,
        reports: Reports,
        estimate: Estimate,
    ) -> AgentNode:
        """Trivial work, done by the master itself: no child workflow, but tools."""
        if not self._real:
            return await self._inline_one_call(inp, st, d, node_id, spend)
        self._children[node_id] = AgentNode(
            workflow_id=node_id, role="inline", title=st.title, status="running", model=d.model
        )
        job = InlineJob(
            node_id=node_id,
            root_id=workflow.info().workflow_id,
            workspace=workspace,
            title=st.title,
            task=prompts.subagent_task(st, reports),
            wording=task_wording(prompts.subagent_task(st)),
            outputs=st.outputs,
            model=d.model,
            tier=d.tier,
            max_turns=min(d.max_turns, inp.max_turns),
            max_tokens=min(d.max_tokens, inp.max_tokens),
            estimate=estimate,
        )
        if self._tools is not None:
            job.tools, job.mcp = self._tools.files, self._tools.for_subtask(st)
        try:
            node = await run_inline(job, spend)
        except Exception as err:
            if is_cancelled_exception(err):
                raise
            raise_if_misconfigured(err)
            node = self._children[node_id].model_copy(
                update={"status": "failed", "error": failure_message(err)}
            )
        self._children[node_id] = node
        return node

    async def _inline_one_call(
        self, inp: MasterInput, st: Subtask, d: Decision, node_id: str, spend: Spend
    ) -> AgentNode:
        """Inline work as histories recorded before PATCH_REAL_COMPLETION ran it.

        One LLM call, no tools. Kept so those histories replay.
        """
        started = workflow.now()
        before = len(spend.receipts)
        usage_before = spend.own
        status: NodeStatus = "completed"
        error = None
        output = ""
        if spend.exhausted:
            status, error = "budget_exhausted", "budget exhausted before this step"
        else:
            try:
                resp = await spend.call(
                    LlmRequest(
                        model=d.model,
                        system=prompts.INLINE_SYSTEM,
                        messages=[Message.user_text(prompts.subagent_task(st))],
                        max_tokens=min(d.max_tokens, inp.max_tokens),
                        root_id=spend.agent_id,
                        agent_id=spend.agent_id,
                    ),
                    purpose=f"inline · {st.title[:40]}",
                )
                output = resp.text
            except Exception as err:  # noqa: BLE001 - a failed step is reported, not fatal
                raise_if_misconfigured(err)
                status, error = "failed", failure_message(err)
        usage = spend.own
        own = usage.model_copy(
            update={
                "input_tokens": usage.input_tokens - usage_before.input_tokens,
                "output_tokens": usage.output_tokens - usage_before.output_tokens,
                "cache_creation_input_tokens": usage.cache_creation_input_tokens
                - usage_before.cache_creation_input_tokens,
                "cache_read_input_tokens": usage.cache_read_input_tokens
                - usage_before.cache_read_input_tokens,
                "cost_usd": round(usage.cost_usd - usage_before.cost_usd, 8),
                "llm_calls": usage.llm_calls - usage_before.llm_calls,
            }
        )
        return AgentNode(
            workflow_id=node_id,
            role="inline",
            title=st.title,
            status=status,
            model=d.model,
            output=output,
            error=error,
            usage=own,
            turns=1 if len(spend.receipts) > before else 0,
            depth=1,
            tier=d.tier,
            started_at=started,
            closed_at=workflow.now(),
        )

    async def _plan(self, inp: MasterInput, model: str, spend: Spend) -> tuple[Plan, int]:
        """Ask for a plan until one validates, showing the model each error.

        Since PATCH_REAL_COMPLETION the planner must call submit_plan (a text
        reply holding the JSON is accepted too); a reply cut off at max_tokens
        is asked again with more room, and a refusal ends the run clearly.
        """
        messages = [Message.user_text(inp.goal)]
        last_error = ""
        max_tokens = inp.max_tokens
        for attempt in range(1, inp.max_plan_attempts + 1):
            resp = await self._ask_planner(inp, model, spend, messages, max_tokens, attempt)
            if not self._real:
                try:
                    return legacy_parse_plan(resp.text), attempt
                except ValueError as err:
                    last_error = str(err)
                messages.extend(_plan_feedback(resp.model_copy(update={"content": []}), last_error))
                continue
            if resp.stop_reason == "refusal":
                said = resp.text.strip()[:300] or "(no reason given)"
                raise ApplicationError(
                    f"the model refused to plan the goal: {said}",
                    type="ModelRefused",
                    non_retryable=True,
                )
            if resp.stop_reason == CONTEXT_FULL and workflow.patched(PATCH_CONTEXT_FULL):
                # More room cannot finish a plan the window cut off: say so, run none of it.
                raise ApplicationError(
                    "the goal filled the model's context window before the plan was written",
                    type="ContextWindowFull",
                    non_retryable=True,
                )
            if resp.stop_reason == "max_tokens":
                # A plan cut off mid-way is not the model's mistake to fix.
                max_tokens = min(max_tokens * 2, PLAN_TOKENS_CEILING)
                last_error = f"the reply was cut off at {resp.usage.output_tokens} tokens"
                continue
            try:
                plan = plan_from(resp, later=lambda: workflow.patched(PATCH_LAST_PLAN))
                outside = plan_errors(plan, self._tools) if self._tools else None
                if outside is None:
                    return plan, attempt
                last_error = outside
            except ValueError as err:
                last_error = str(err)
            messages.extend(_plan_feedback(resp, last_error))
        raise ApplicationError(
            f"the plan was still invalid after {inp.max_plan_attempts} attempts: {last_error}",
            type="InvalidPlan",
            non_retryable=True,
        )

    async def _ask_planner(
        self,
        inp: MasterInput,
        model: str,
        spend: Spend,
        messages: list[Message],
        max_tokens: int,
        attempt: int,
    ) -> LlmResponse:
        by_tool = (
            {"tools": [SUBMIT_PLAN_TOOL], "tool_choice": FORCE_SUBMIT_PLAN} if self._real else {}
        )
        try:
            return await spend.call(
                LlmRequest(
                    model=model,
                    system=prompts.PLANNER_SYSTEM
                    + (planner_note(self._tools) if self._tools else ""),
                    messages=list(messages),
                    max_tokens=max_tokens,
                    root_id=spend.agent_id,
                    agent_id=spend.agent_id,
                    **by_tool,
                ),
                purpose=f"plan attempt {attempt}",
            )
        except Exception as err:  # noqa: BLE001 - a non-retryable LLM error ends the run clearly
            raise ApplicationError(
                f"planning failed: {failure_message(err)}",
                type="PlanningFailed",
                non_retryable=True,
            ) from None


def _guard_top(plan: Plan, tier: Tier, limits: Limits) -> GuardResult:
    """The guard on the master's own plan: depth 0, nothing spawned yet, overhead steps cut."""
    return guard(plan, tier, depth=0, limits=limits, spawned_so_far=0, strip_overhead=True)


def _layout(work: list[Piece], wid: str) -> tuple[list[Step], Numbered, list[DelegationRecord]]:
    """Each piece as a graph step with its node id, and the delegation record of each.

    Children are numbered after the master (`wid.1`, `wid.2`, ...); inline pieces
    are keyed under it (`wid/inline-3`). A piece is known by its plan id, or its place.
    """
    steps: list[Step] = []
    pieces: Numbered = {}
    records: list[DelegationRecord] = []
    index = 0
    for i, (st, d, est) in enumerate(work, start=1):
        if d.decision == "inline":
            node_id = f"{wid}/inline-{i}"
        else:
            index += 1
            node_id = f"{wid}.{index}"
        step_id = st.id or f"#{i}"
        pieces[step_id] = (st, d, est, index)
        role: Role = "inline" if d.decision == "inline" else "subagent"
        steps.append(Step(step_id, node_id, st.title, role, d.model, d.tier, st.depends_on))
        spawned = node_id if d.decision == "spawn" else None
        records.append(delegation_record(st.title, d, d.decision, spawned))
    return steps, pieces, records


def _rolled_up(spend: Spend, nodes: list[AgentNode]) -> Usage:
    """The tree's usage: the master's own calls (inline work included) and its children's."""
    usage = spend.own
    for node in nodes:
        if node.role != "inline":
            usage = usage + node.usage
    return usage


def _plan_feedback(resp: LlmResponse, error: str) -> list[Message]:
    """The rejected reply and the error, as the Messages API wants them back.

    A tool call is answered with a tool_result (every tool_use in the turn
    needs one); a text reply with a user message.
    """
    text = prompts.PLAN_RETRY.format(error=error)
    uses = resp.tool_uses
    if not uses:
        return [
            Message(role="assistant", content=[TextBlock(text=resp.text or "-")]),
            Message.user_text(text),
        ]
    results: list[ContentBlock] = [
        ToolResultBlock(
            tool_use_id=u.id,
            content=text if u.name == SUBMIT_PLAN else f"{u.name} is not available here",
            is_error=True,
        )
        for u in uses
    ]
    return [Message(role="assistant", content=resp.content), Message(role="user", content=results)]
