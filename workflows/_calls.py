"""Activity calls shared by the agent workflows, with their timeouts and retries.

Keeping them in one place makes the retry story reviewable: the LLM activity is
retried by Temporal (the SDK's own retries are off), tools are retried only for
transient I/O, and every non-retryable failure carries a type the workflows
can turn into a clear message.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from agentfleet.models import (
        LlmRequest,
        LlmResponse,
        ToolRequest,
        ToolResult,
        WorkspaceInfo,
        WorkspaceRequest,
    )

LLM_ACTIVITY = "agentfleet.llm.chat"
TOOL_ACTIVITY = "agentfleet.tool.run"
WORKSPACE_ACTIVITY = "agentfleet.workspace.prepare"

LLM_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=10,
)
TOOL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=5,
)


async def chat(req: LlmRequest, summary: str = "") -> LlmResponse:
    return await workflow.execute_activity(
        LLM_ACTIVITY,
        req,
        result_type=LlmResponse,
        # Heartbeats every few seconds let a dead worker's call be retried
        # after the heartbeat timeout instead of the full call timeout.
        start_to_close_timeout=timedelta(seconds=180),
        heartbeat_timeout=timedelta(seconds=10),
        retry_policy=LLM_RETRY,
        summary=summary or f"chat {req.model}",
    )


async def run_tool(req: ToolRequest) -> ToolResult:
    """Run a file tool; a refusal becomes an error result for the model.

    Sandbox refusals and bad arguments are the model's mistake, not the
    workflow's: the model sees them and can correct course.
    """
    try:
        return await workflow.execute_activity(
            TOOL_ACTIVITY,
            req,
            result_type=ToolResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=TOOL_RETRY,
            summary=f"{req.name} {_first_arg(req)}"[:200],
        )
    except ActivityError as err:
        cause = err.cause
        reason = cause.message if isinstance(cause, ApplicationError) else str(err)
        kind = cause.type if isinstance(cause, ApplicationError) else "ToolError"
        return ToolResult(
            call_id=req.call_id, name=req.name, content=f"{kind}: {reason}", is_error=True
        )


async def prepare_workspace(name: str, create: bool) -> WorkspaceInfo:
    return await workflow.execute_activity(
        WORKSPACE_ACTIVITY,
        WorkspaceRequest(workspace=name, create=create),
        result_type=WorkspaceInfo,
        start_to_close_timeout=timedelta(seconds=30),
        retry_policy=TOOL_RETRY,
        summary=f"workspace {name}",
    )


def failure_message(err: BaseException) -> str:
    """The innermost message of an activity or child failure."""
    while isinstance(err, ActivityError | ChildWorkflowError) and err.cause:
        err = err.cause
    if isinstance(err, ApplicationError):
        return f"{err.type}: {err.message}" if err.type else err.message
    return str(err)


def _first_arg(req: ToolRequest) -> str:
    for key in ("path", "src"):
        if key in req.input:
            return str(req.input[key])
    return ""
