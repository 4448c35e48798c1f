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

import asyncio
import json
import re
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    import pydantic

    from agentfleet import prompts
    from agentfleet import telemetry_names as tn
    from agentfleet.complexity import ComplexityScore, Thresholds, score_text, spec_for
    from agentfleet.complexity import score as score_spec
    from agentfleet.models import (
        AgentNode,
        ApprovalResult,
        ControlRequest,
        ControlResult,
        DelegationRecord,
        LlmRequest,
        MasterInput,
        MasterResult,
        Message,
        NodeStatus,
        Plan,
        PlanApproval,
        Pruning,
        SubAgentInput,
        Subtask,
        SubtreeControl,
        TextBlock,
    )
    from agentfleet.policy import Decision, DelegationPolicy, Limits, guard

from workflows._agent import Spend
from workflows._calls import failure_message, load_thresholds, prepare_workspace
from workflows._lifecycle import Estimate, Lifecycle
from workflows._observe import AgentSpan, agent_span, count
from workflows._search import upsert_own
from workflows.subagent import policy_for, run_child

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def parse_plan(text: str) -> Plan:
    """Raises ValueError with a message fit to show the model."""
    cleaned = _FENCE.sub("", text.strip())
    try:
        data = json.loads(cleaned)
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg} at position {err.pos})") from None
    try:
        return Plan.model_validate(data)
    except pydantic.ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'plan'}: {e['msg']}"
            for e in err.errors(include_url=False)
        )
        raise ValueError(problems) from None


# Errors that no retry and no other subtask can fix: the key, the account or
# the model name is wrong. They fail the whole run at once, with the reason.
CONFIG_ERRORS = {"LlmHttp401", "LlmHttp403", "LlmHttp404"}


def raise_if_misconfigured(err: BaseException) -> None:
    cause: BaseException | None = err
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__ if cause.__cause__ is not None else getattr(cause, "cause", None)
    if isinstance(cause, ApplicationError) and cause.type in CONFIG_ERRORS:
        raise ApplicationError(
            f"LLM configuration error: {cause.message}", type="LlmConfigError", non_retryable=True
        ) from None


_PLAN_STEP = Subtask(title="Plan the approach", description="Plan how to approach the goal")
_VALIDATE_STEP = Subtask(
    title="Validate the results", description="Validate that every part of the goal was done"
)


def naive_plan(subtasks: list[Subtask], goal: str) -> list[Subtask]:
    """The over-decomposing habit, for the baseline: a plan step first and a
    validate step last, whether or not the planner already added them."""
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
    return re.sub(r"[^A-Za-z0-9._-]", "-", workflow_id).strip(".-")[:120] or "task"


@workflow.defn(name="MasterAgentWorkflow")
class MasterAgentWorkflow:
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
        self._approval = answer
        plan = answer.plan or self._awaiting
        return ApprovalResult(accepted=answer.approve, subtasks=len(plan.subtasks) if plan else 0)

    @approve_plan.validator
    def _validate_approval(self, answer: PlanApproval) -> None:
        if self._awaiting is None:
            raise ValueError("no plan is waiting for approval")
        if answer.plan is not None and self._policy is not None and self._decision is not None:
            limits = self._policy.limits(2, 500)
            checked = guard(answer.plan, self._decision.tier, 0, limits, 0, strip_overhead=True)
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
        wid = workflow.info().workflow_id
        with agent_span("master", "master", depth=0, root_id=wid) as span:
            result = await self._run_traced(inp, span)
            span.finish(result.tree.status, result.tree.error)
            return result

    async def _run_traced(self, inp: MasterInput, span: AgentSpan) -> MasterResult:
        wid = workflow.info().workflow_id
        thresholds = await load_thresholds()
        policy = policy_for(inp.models, inp.model)
        goal = score_text(inp.goal, thresholds)
        decision = policy.decide(goal)
        self._policy, self._decision = policy, decision
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
            wid,
            None,
            0,
            decision.model,
            inp.goal,
            decision.tier,
            Estimate(
                score=goal.score,
                est_context_tokens=goal.est_context_tokens,
                est_steps=goal.est_steps,
                thresholds_version=thresholds.version,
            ),
        )
        life.begin()
        spend = self._spend = Spend(wid, inp.budget)
        try:
            result = await self._run(inp, policy, thresholds, goal, decision, spend)
        except Exception as err:
            # The close row carries the whole subtree's spend, children included.
            status = "canceled" if is_cancelled_exception(err) else "failed"
            await life.end(status, self.tree().usage, failure_message(err))
            raise
        tree = result.tree
        span.set(pruned_count=len(tree.pruned))
        await life.end(
            tree.status,
            tree.usage,
            tree.error,
            inline_decisions=sum(1 for d in tree.decisions if d.decision == "inline"),
            pruned_count=len(tree.pruned),
        )
        return result

    async def _run(
        self,
        inp: MasterInput,
        policy: DelegationPolicy,
        thresholds: Thresholds,
        goal: ComplexityScore,
        decision: Decision,
        spend: Spend,
    ) -> MasterResult:
        wid = workflow.info().workflow_id
        started = workflow.now()
        workspace = inp.workspace or workspace_name_for(wid)
        try:
            await prepare_workspace(workspace, create=inp.workspace is None)
        except Exception as err:  # noqa: BLE001 - becomes a clear, final failure
            raise ApplicationError(
                failure_message(err), type="WorkspaceMissing", non_retryable=True
            ) from None

        plan: Plan | None = None
        attempts = 0
        pruned: list[Pruning] = []
        records: list[DelegationRecord] = []
        whole_goal = Subtask(title=inp.goal[:200], description=inp.goal)
        if inp.strategy == "naive":
            # The baseline we replace: always plan, always spawn, plan and
            # validate steps included, nothing pruned, one model for all.
            plan, attempts = await self._plan(inp, decision.model, spend)
            kept = naive_plan(plan.subtasks, inp.goal)[: inp.max_subtasks + 2]
            estimates = [score_spec(spec_for(st, inp.goal, 1), thresholds) for st in kept]
            naive = decision.model_copy(update={"decision": "spawn", "may_decompose": False})
            work = [
                (st, naive.model_copy(update={"tier": e.tier, "score": e.score}), e)
                for st, e in zip(kept, estimates, strict=True)
            ]
        elif decision.decision == "inline" or not decision.may_decompose:
            work = [(whole_goal, decision, goal)]
        else:
            plan, attempts = await self._plan(inp, decision.model, spend)
            limits = policy.limits(inp.max_depth, inp.max_total_subagents)
            checked = guard(plan, decision.tier, 0, limits, 0, strip_overhead=True)
            pruned = list(checked.pruned)
            kept = checked.kept[: inp.max_subtasks] or [whole_goal]
            if inp.require_approval:
                kept, more = await self._await_approval(Plan(subtasks=kept), inp, decision, limits)
                pruned.extend(more)
            estimates = [score_spec(spec_for(st, inp.goal, 1), thresholds) for st in kept]
            work = [(st, policy.decide(e), e) for st, e in zip(kept, estimates, strict=True)]

        spawned = [st for st, d, _ in work if d.decision == "spawn"]
        count(tn.SUBAGENTS_SPAWNED, len(spawned), role="master")
        count(tn.INLINE_DECISIONS, len(work) - len(spawned), role="master")
        count(tn.PRUNED_SUBTASKS, len(pruned), role="master")
        jobs = []
        n_spawn = 0
        for i, (st, d, est) in enumerate(work, start=1):
            if d.decision == "inline":
                node_id = f"{wid}/inline-{i}"
                jobs.append(self._inline(inp, st, d, node_id, spend))
            else:
                n_spawn += 1
                node_id = f"{wid}.{n_spawn}"
                child = self._child_input(inp, st, d, workspace, n_spawn, len(spawned), spend)
                child = child.model_copy(
                    update={
                        "est_context_tokens": est.est_context_tokens,
                        "est_steps": est.est_steps,
                        "thresholds_version": thresholds.version,
                        "thresholds": thresholds.model_dump(),
                    }
                )
                jobs.append(self._track(child, node_id))
            records.append(
                DelegationRecord(
                    title=st.title,
                    tier=d.tier,
                    score=d.score,
                    decision=d.decision,
                    model=d.model,
                    workflow_id=node_id if d.decision == "spawn" else None,
                )
            )
        nodes = list(await asyncio.gather(*jobs))

        if len(nodes) == 1 and plan is None:
            output = nodes[0].output
        else:
            output = await self._synthesize(inp, decision.model, nodes, spend)
        usage = spend.own
        for node in nodes:
            if node.role != "inline":
                usage = usage + node.usage
        status: NodeStatus = (
            "completed" if all(n.status == "completed" for n in nodes) else "partial"
        )
        error = None
        short = [n for n in nodes if n.status == "budget_exhausted"]
        if status != "completed" and (spend.exhausted or short):
            status = "budget_exhausted"
            error = (
                f"budget exhausted ({inp.budget.tokens} tokens, ${inp.budget.usd}): "
                f"{len(short)} of {len(nodes)} parts stopped early"
            )
        tree = AgentNode(
            workflow_id=wid,
            role="master",
            title=inp.goal[:80],
            status=status,
            model=decision.model,
            output=output,
            error=error,
            usage=usage,
            depth=0,
            tier=decision.tier,
            started_at=started,
            closed_at=workflow.now(),
            receipts=spend.receipts,
            pruned=pruned,
            decisions=records,
            children=nodes,
        )
        return MasterResult(
            goal=inp.goal,
            workspace=workspace,
            tree=tree,
            plan=plan,
            plan_attempts=attempts,
            thresholds_version=thresholds.version,
        )

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
        checked = guard(answer.plan, decision.tier, 0, limits, 0, strip_overhead=True)
        return checked.kept[: inp.max_subtasks], list(checked.pruned)

    def _child_input(
        self,
        inp: MasterInput,
        st: Subtask,
        d: Decision,
        workspace: str,
        index: int,
        siblings: int,
        spend: Spend,
    ) -> SubAgentInput:
        wid = workflow.info().workflow_id
        return SubAgentInput(
            task=prompts.subagent_task(st),
            title=st.title,
            workspace=workspace,
            model=d.model,
            root_id=wid,
            parent_id=wid,
            depth=1,
            index=index,
            siblings=siblings,
            max_depth=inp.max_depth,
            max_turns=min(d.max_turns, inp.max_turns),
            max_tokens=min(d.max_tokens, inp.max_tokens),
            tier=d.tier,
            score=d.score,
            may_decompose=d.may_decompose,
            budget=spend.reserve(siblings - index + 1),
            models=inp.models,
            max_total_subagents=inp.max_total_subagents,
            tag_search_attributes=self._tag_children,
        )

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
            node = await run_child(child, child_id)
        finally:
            self._running.discard(child_id)
        self._children[child_id] = node
        return node

    async def _inline(
        self, inp: MasterInput, st: Subtask, d: Decision, node_id: str, spend: Spend
    ) -> AgentNode:
        """Trivial work: one LLM call by the master, no child workflow."""
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
                "cost_usd": round(usage.cost_usd - usage_before.cost_usd, 8),
                "llm_calls": usage.llm_calls - usage_before.llm_calls,
            }
        )
        # The master pays for inline work: its receipts stay on the master, and
        # the node's usage is shown but not added to the total a second time.
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
        messages = [Message.user_text(inp.goal)]
        last_error = ""
        for attempt in range(1, inp.max_plan_attempts + 1):
            try:
                resp = await spend.call(
                    LlmRequest(
                        model=model,
                        system=prompts.PLANNER_SYSTEM,
                        messages=messages,
                        max_tokens=inp.max_tokens,
                        root_id=spend.agent_id,
                        agent_id=spend.agent_id,
                    ),
                    purpose=f"plan attempt {attempt}",
                )
            except Exception as err:  # noqa: BLE001 - a non-retryable LLM error ends the run clearly
                raise ApplicationError(
                    f"planning failed: {failure_message(err)}",
                    type="PlanningFailed",
                    non_retryable=True,
                ) from None
            try:
                return parse_plan(resp.text), attempt
            except ValueError as err:
                last_error = str(err)
            messages.append(Message(role="assistant", content=[TextBlock(text=resp.text or "-")]))
            messages.append(Message.user_text(prompts.PLAN_RETRY.format(error=last_error)))
        raise ApplicationError(
            f"the plan was still invalid after {inp.max_plan_attempts} attempts: {last_error}",
            type="InvalidPlan",
            non_retryable=True,
        )

    async def _synthesize(
        self, inp: MasterInput, model: str, nodes: list[AgentNode], spend: Spend
    ) -> str:
        reports = [(c.title, c.status, c.output or (c.error or "")) for c in nodes]
        if spend.exhausted:
            return "(budget exhausted before synthesis)\n" + "\n".join(
                f"- {t} [{s}]: {o}" for t, s, o in reports
            )
        try:
            resp = await spend.call(
                LlmRequest(
                    model=model,
                    system=prompts.SYNTHESIZER_SYSTEM,
                    messages=[Message.user_text(prompts.synthesis_request(inp.goal, reports))],
                    max_tokens=inp.max_tokens,
                    root_id=spend.agent_id,
                    agent_id=spend.agent_id,
                ),
                purpose="synthesize",
            )
        except Exception as err:  # noqa: BLE001 - the children's work stands without a summary
            return f"(synthesis failed: {failure_message(err)})"
        return resp.text
