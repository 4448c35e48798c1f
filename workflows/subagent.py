"""SubAgentWorkflow: one agent loop, durable turn by turn.

Each LLM turn and each tool call is an activity, so a worker crash resumes the
loop at the last completed step instead of re-running (and re-paying for) the
whole conversation. Tool calls of one turn run in order: a model that asks to
make a folder and then move a file into it expects exactly that order.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from agentfleet import prompts
    from agentfleet.models import (
        AgentNode,
        LlmRequest,
        Message,
        NodeStatus,
        SubAgentInput,
        ToolRequest,
        ToolResultBlock,
        ToolSpec,
        ToolUseBlock,
        Usage,
    )
    from agentfleet.tools import TOOL_SPECS

from workflows._calls import chat, failure_message, run_tool

DELEGATE_TOOL = ToolSpec(
    name="delegate",
    description=(
        "Hand independent parts of your task to sub-agents that run in parallel. "
        "Use only for large tasks; each sub-agent reports back as text."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "tasks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                    },
                    "required": ["title", "description"],
                },
                "maxItems": 8,
            }
        },
        "required": ["tasks"],
    },
)


@workflow.defn(name="SubAgentWorkflow")
class SubAgentWorkflow:
    def __init__(self) -> None:
        self._children: list[AgentNode] = []
        self._delegated = 0

    @workflow.run
    async def run(self, inp: SubAgentInput) -> AgentNode:
        started = workflow.now()
        wid = workflow.info().workflow_id
        tools = list(TOOL_SPECS)
        if inp.depth < inp.max_depth:
            tools.append(DELEGATE_TOOL)
        messages = [Message.user_text(inp.task)]
        usage = Usage()
        tool_calls = 0
        status: NodeStatus = "partial"
        output = ""
        error: str | None = None
        turns = 0
        try:
            while turns < inp.max_turns:
                turns += 1
                resp = await chat(
                    LlmRequest(
                        model=inp.model,
                        system=prompts.SUBAGENT_SYSTEM,
                        messages=messages,
                        tools=tools,
                        max_tokens=inp.max_tokens,
                        root_id=inp.root_id,
                        agent_id=wid,
                    ),
                    summary=f"turn {turns} · {inp.model}",
                )
                usage = usage + resp.usage
                messages.append(Message(role="assistant", content=resp.content))
                if resp.text:
                    output = resp.text
                uses = resp.tool_uses
                if not uses:
                    status = "completed"
                    break
                results: list[ToolResultBlock] = []
                for use in uses:
                    tool_calls += 1
                    results.append(await self._call(inp, use))
                messages.append(Message(role="user", content=list(results)))
            else:
                output = output or f"stopped at the turn cap ({inp.max_turns} turns)"
                error = f"turn cap of {inp.max_turns} reached; result is partial"
        except Exception as err:  # noqa: BLE001 - a failed LLM call ends this agent, not the tree
            status, error = "failed", failure_message(err)
        for child in self._children:
            usage = usage + child.usage
        return AgentNode(
            workflow_id=wid,
            role="subagent",
            title=inp.title,
            status=status,
            model=inp.model,
            output=output,
            error=error,
            usage=usage,
            turns=turns,
            tool_calls=tool_calls,
            depth=inp.depth,
            started_at=started,
            closed_at=workflow.now(),
            children=self._children,
        )

    async def _call(self, inp: SubAgentInput, use: ToolUseBlock) -> ToolResultBlock:
        if use.name == "delegate":
            text, is_error = await self._delegate(inp, use)
            return ToolResultBlock(tool_use_id=use.id, content=text, is_error=is_error)
        result = await run_tool(
            ToolRequest(workspace=inp.workspace, name=use.name, input=use.input, call_id=use.id)
        )
        return ToolResultBlock(tool_use_id=use.id, content=result.content, is_error=result.is_error)

    async def _delegate(self, inp: SubAgentInput, use: ToolUseBlock) -> tuple[str, bool]:
        if inp.depth >= inp.max_depth:
            return f"delegation refused: depth cap {inp.max_depth} reached", True
        tasks = use.input.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            return "delegate needs a non-empty 'tasks' list", True
        wid = workflow.info().workflow_id
        handles = []
        for raw in tasks[:8]:
            title = str(raw.get("title", "")) if isinstance(raw, dict) else ""
            desc = str(raw.get("description", "")) if isinstance(raw, dict) else str(raw)
            if not desc.strip():
                continue
            self._delegated += 1
            child_input = SubAgentInput(
                task=f"Task: {title}\n{desc}",
                title=title or desc[:60],
                workspace=inp.workspace,
                model=inp.model,
                root_id=inp.root_id,
                parent_id=wid,
                depth=inp.depth + 1,
                index=self._delegated,
                siblings=len(tasks),
                max_depth=inp.max_depth,
                max_turns=inp.max_turns,
                max_tokens=inp.max_tokens,
            )
            handles.append(run_child(child_input, f"{wid}.{self._delegated}"))
        nodes = await asyncio.gather(*handles)
        self._children.extend(nodes)
        report = "\n".join(f"- {n.title} [{n.status}]: {n.output or n.error}" for n in nodes)
        return report or "no valid tasks given", not nodes


async def run_child(child_input: SubAgentInput, child_id: str) -> AgentNode:
    """Run a sub-agent child; its failure becomes a failed node, not ours."""
    started = workflow.now()
    try:
        return await workflow.execute_child_workflow(
            SubAgentWorkflow.run,
            child_input,
            id=child_id,
            static_summary=(
                f"sub-agent {child_input.index}/{child_input.siblings} · "
                f'"{child_input.title[:60]}" · {child_input.model}'
            ),
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
            started_at=started,
            closed_at=workflow.now(),
        )
