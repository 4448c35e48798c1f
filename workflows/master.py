"""MasterAgentWorkflow: plan a goal, delegate it, and synthesize the answer.

The plan is structured output: the model's JSON is validated by pydantic in the
workflow (pure, so replay-safe), and a malformed plan is sent back with the
validation error, a bounded number of times. Sub-agents run as child workflows
whose ids extend the master's id, so a tree can be found from its root id.
"""

from __future__ import annotations

import asyncio
import json
import re

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import pydantic

    from agentfleet import prompts
    from agentfleet.catalog import DEFAULT_MODEL
    from agentfleet.models import (
        AgentNode,
        LlmRequest,
        MasterInput,
        MasterResult,
        Message,
        NodeStatus,
        Plan,
        SubAgentInput,
        TextBlock,
        Usage,
    )

from workflows._calls import chat, failure_message, prepare_workspace
from workflows.subagent import run_child

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


def workspace_name_for(workflow_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", workflow_id).strip(".-")[:120] or "task"


@workflow.defn(name="MasterAgentWorkflow")
class MasterAgentWorkflow:
    def __init__(self) -> None:
        self._usage = Usage()

    @workflow.run
    async def run(self, inp: MasterInput) -> MasterResult:
        info = workflow.info()
        wid = info.workflow_id
        started = workflow.now()
        model = inp.model or DEFAULT_MODEL
        workspace = inp.workspace or workspace_name_for(wid)
        try:
            await prepare_workspace(workspace, create=inp.workspace is None)
        except Exception as err:  # noqa: BLE001 - becomes a clear, final failure
            raise ApplicationError(
                failure_message(err), type="WorkspaceMissing", non_retryable=True
            ) from None

        plan, attempts = await self._plan(inp, model, wid)
        subtasks = plan.subtasks[: inp.max_subtasks]
        children = await asyncio.gather(
            *(
                run_child(
                    SubAgentInput(
                        task=prompts.subagent_task(st),
                        title=st.title,
                        workspace=workspace,
                        model=model,
                        root_id=wid,
                        parent_id=wid,
                        depth=1,
                        index=i,
                        siblings=len(subtasks),
                        max_depth=inp.max_depth,
                        max_turns=inp.max_turns,
                        max_tokens=inp.max_tokens,
                    ),
                    f"{wid}.{i}",
                )
                for i, st in enumerate(subtasks, start=1)
            )
        )
        for child in children:
            self._usage = self._usage + child.usage

        output = await self._synthesize(inp, model, wid, children)
        status: NodeStatus = (
            "completed" if all(c.status == "completed" for c in children) else "partial"
        )
        tree = AgentNode(
            workflow_id=wid,
            role="master",
            title=inp.goal[:80],
            status=status,
            model=model,
            output=output,
            usage=self._usage,
            depth=0,
            started_at=started,
            closed_at=workflow.now(),
            children=list(children),
        )
        return MasterResult(
            goal=inp.goal, workspace=workspace, tree=tree, plan=plan, plan_attempts=attempts
        )

    async def _plan(self, inp: MasterInput, model: str, wid: str) -> tuple[Plan, int]:
        messages = [Message.user_text(inp.goal)]
        last_error = ""
        for attempt in range(1, inp.max_plan_attempts + 1):
            try:
                resp = await chat(
                    LlmRequest(
                        model=model,
                        system=prompts.PLANNER_SYSTEM,
                        messages=messages,
                        max_tokens=inp.max_tokens,
                        root_id=wid,
                        agent_id=wid,
                    ),
                    summary=f"plan attempt {attempt} · {model}",
                )
            except Exception as err:  # noqa: BLE001 - a non-retryable LLM error ends the run clearly
                raise ApplicationError(
                    f"planning failed: {failure_message(err)}",
                    type="PlanningFailed",
                    non_retryable=True,
                ) from None
            self._usage = self._usage + resp.usage
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
        self, inp: MasterInput, model: str, wid: str, children: list[AgentNode]
    ) -> str:
        reports = [(c.title, c.status, c.output or (c.error or "")) for c in children]
        try:
            resp = await chat(
                LlmRequest(
                    model=model,
                    system=prompts.SYNTHESIZER_SYSTEM,
                    messages=[Message.user_text(prompts.synthesis_request(inp.goal, reports))],
                    max_tokens=inp.max_tokens,
                    root_id=wid,
                    agent_id=wid,
                ),
                summary=f"synthesize · {model}",
            )
        except Exception as err:  # noqa: BLE001 - the children's work stands without a summary
            return f"(synthesis failed: {failure_message(err)})"
        self._usage = self._usage + resp.usage
        return resp.text
