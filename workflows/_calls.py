"""Activity calls shared by the agent workflows, with their timeouts and retries.

Keeping them in one place makes the retry story reviewable: the LLM activity is
retried by Temporal (the SDK's own retries are off), tools are retried only for
transient I/O, and every non-retryable failure carries a type the workflows
can turn into a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ChildWorkflowError,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.activities import (
        CHECKED_CLOSE_ACTIVITY,
        LEDGER_CLOSE_ACTIVITY,
        LEDGER_START_ACTIVITY,
        LLM_ACTIVITY,
        MCP_CALL_ACTIVITY,
        MCP_LIST_ACTIVITY,
        THRESHOLDS_ACTIVITY,
        TOOL_ACTIVITY,
        VERIFY_ACTIVITY,
        WORKSPACE_ACTIVITY,
    )
    from agentfleet.contracts.ledger import (
        CheckedClose,
        CheckedCloseResult,
        LedgerClose,
        LedgerStart,
        LedgerWriteResult,
    )
    from agentfleet.contracts.models import (
        Effect,
        LlmRequest,
        LlmResponse,
        McpCallRequest,
        McpCatalog,
        McpTool,
        ToolRequest,
        ToolResult,
        ToolUseBlock,
        Verification,
        VerifyRequest,
        WorkspaceInfo,
        WorkspaceRequest,
    )
    from agentfleet.delegation.forecast import CalibratedThresholds

# Heartbeat timeout of the short activities (file tools, workspace): 4 beats of
# 0.5 s, so a beat held up by a busy event loop is not taken for a dead worker.
SHORT_HEARTBEAT = timedelta(seconds=2)

# 0.2 s first: after a dead worker's heartbeat timeout the call is retried at once
# (bench/chaos_week.py: with 1 s here, held calls moved again 3.9 s after a restart,
# median). Error answers keep their 1 s, doubling, backoff: the activity sets it
# (activities/llm.py, with_api_backoff), or the API's retry-after does.
LLM_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=10,
)
TOOL_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    maximum_interval=timedelta(seconds=5),
    maximum_attempts=5,
)

# MCP tools (activities/mcp.py). An idempotent tool is retried, a few times, after a
# crash or a broken session: running it twice is harmless by its own declaration. Any
# other tool runs at most once: after a worker crash mid-call nobody knows whether it
# took effect, so the model is told that instead of the tool being run again blindly.
# A call that never reached its server is retried inside that one attempt.
MCP_RETRY_IDEMPOTENT = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
    non_retryable_error_types=["McpError"],
)
MCP_RETRY_ONCE = RetryPolicy(maximum_attempts=1)
MCP_HEARTBEAT = timedelta(seconds=5)

# A ledger outage must not lose a row: keep retrying, slowly, for as long as
# it takes. An invalid record is non-retryable and surfaces in the audit.
LEDGER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=0,
)

T = TypeVar("T")


@dataclass(frozen=True)
class _Bounds:
    """How long one kind of activity call may take and how it is retried."""

    start_to_close: timedelta
    retry: RetryPolicy
    # None where a dead worker's call may wait out `start_to_close`.
    heartbeat: timedelta | None = None
    # A local activity runs in the workflow task and lands in history as a marker.
    # It cannot heartbeat and has no task queue, so `heartbeat` and a priority are unused.
    local: bool = False

    async def run(
        self,
        activity: str,
        *args: Any,
        result_type: type[T],
        summary: str,
        priority: Priority = Priority.default,
    ) -> T:
        """Run `activity` on `args` within these bounds; the summary names it in the UI."""
        options: dict[str, Any] = {
            "args": args,
            "result_type": result_type,
            "start_to_close_timeout": self.start_to_close,
            "retry_policy": self.retry,
            "summary": summary,
        }
        if self.local:
            return await workflow.execute_local_activity(activity, **options)
        return await workflow.execute_activity(
            activity, heartbeat_timeout=self.heartbeat, priority=priority, **options
        )


# The activity beats every 0.5 s and the worker sends each beat at once
# (worker.py, max_heartbeat_throttle_interval), so a dead worker's call is
# retried 2 s after its last beat instead of after the full call timeout,
# while a slow answer keeps going. Measured (bench/chaos_week.py, 40 goals,
# --whatif-llm-heartbeat): held calls moved again 3.5 s after a restart at
# 3 s, 2.6 s at 2 s. The price: an event loop stalled for 2 s (4 missed
# beats) makes a live call look dead; it is retried, may be paid twice, and
# its receipt says `cut` (activities/llm.py).
LLM_CALL = _Bounds(timedelta(seconds=180), LLM_RETRY, heartbeat=timedelta(seconds=2))
# Sandboxed file operations take milliseconds. A dead worker's call is
# retried after SHORT_HEARTBEAT (a slow live call beats, activities/tools.py);
# before it had only this 10 s timeout (bench/chaos_week.py: held tool calls
# moved again after 10.6 s).
TOOL_CALL = _Bounds(timedelta(seconds=10), TOOL_RETRY, heartbeat=SHORT_HEARTBEAT)
# As for file tools: without a heartbeat a dead worker's call waited out the 30 s
# (bench/chaos_week.py: a held prepare moved again after 30.5 s).
WORKSPACE_CALL = _Bounds(timedelta(seconds=30), TOOL_RETRY, heartbeat=SHORT_HEARTBEAT)
MCP_LIST_CALL = _Bounds(timedelta(seconds=60), RetryPolicy(maximum_attempts=2), local=True)
VERIFY_CALL = _Bounds(timedelta(seconds=30), TOOL_RETRY, local=True)
# Rows and thresholds as file tools: before the heartbeat, a dead worker's row waited out
# the 15 s and its thresholds read the 10 s (bench/chaos_week.py: a master moved again
# 11.0 s after a restart, held on its thresholds). Local, a row has no heartbeat.
LEDGER_CALL = _Bounds(timedelta(seconds=15), LEDGER_RETRY, heartbeat=SHORT_HEARTBEAT)
# The check and the close row together: retried as the close row is (never given up
# on), inside the workflow task as the check was. The activity itself turns a check
# that keeps failing into a failed check (activities/completion.py), so an unreachable
# workspace cannot hold the agent open.
CHECKED_CLOSE_CALL = _Bounds(timedelta(seconds=30), LEDGER_RETRY, local=True)
THRESHOLDS_CALL = _Bounds(timedelta(seconds=10), TOOL_RETRY, heartbeat=SHORT_HEARTBEAT)


async def chat(req: LlmRequest, summary: str = "", priority: Priority | None = None) -> LlmResponse:
    return await LLM_CALL.run(
        LLM_ACTIVITY,
        req,
        result_type=LlmResponse,
        summary=summary or f"chat {req.model}",
        # Priority.default is what an unset priority already sends.
        priority=priority or Priority.default,
    )


async def run_tool(req: ToolRequest) -> ToolResult:
    """Run a file tool; a refusal becomes an error result for the model.

    Sandbox refusals and bad arguments are the model's mistake, not the
    workflow's: the model sees them and can correct course.
    """
    try:
        return await TOOL_CALL.run(
            TOOL_ACTIVITY,
            req,
            result_type=ToolResult,
            summary=f"{req.name} {_first_arg(req)}"[:200],
        )
    except ActivityError as err:
        if is_cancelled_exception(err):
            # The agent itself is being canceled: that is not the model's to handle.
            raise
        cause = err.cause
        reason = cause.message if isinstance(cause, ApplicationError) else str(err)
        kind = cause.type if isinstance(cause, ApplicationError) else "ToolError"
        return ToolResult(
            call_id=req.call_id, name=req.name, content=f"{kind}: {reason}", is_error=True
        )


async def call_agent_tool(
    use: ToolUseBlock,
    *,
    workspace: str,
    agent_id: str,
    files: list[str] | None = None,
    mcp: list[McpTool] | None = None,
) -> ToolResult:
    """One tool call of an agent: an MCP tool, or a file tool if this goal allows it."""
    for tool in mcp or []:
        if tool.name == use.name:
            req = McpCallRequest(
                **tool.model_dump(include={"server", "tool", "name", "idempotent"}),
                input=use.input,
                call_id=use.id,
                agent_id=agent_id,
            )
            return await run_mcp_tool(req, tool)
    if files is not None and use.name not in files:
        # Not offered to this goal's agents: refused here, no activity runs.
        allowed = ", ".join([*files, *(t.name for t in mcp or [])]) or "none"
        return ToolResult(
            call_id=use.id,
            name=use.name,
            content=f"ToolNotAllowed: {use.name} is not one of this goal's tools ({allowed})",
            is_error=True,
        )
    return await run_tool(
        ToolRequest(
            workspace=workspace, name=use.name, input=use.input, call_id=use.id, agent_id=agent_id
        )
    )


async def run_mcp_tool(req: McpCallRequest, tool: McpTool) -> ToolResult:
    """Call an MCP tool; every failure becomes an error result the model reads."""
    try:
        bounds = _Bounds(
            timedelta(seconds=tool.timeout_s + 15),
            MCP_RETRY_IDEMPOTENT if tool.idempotent else MCP_RETRY_ONCE,
            heartbeat=MCP_HEARTBEAT,
        )
        return await bounds.run(
            MCP_CALL_ACTIVITY, req, result_type=ToolResult, summary=f"{req.name}"[:200]
        )
    except ActivityError as err:
        if is_cancelled_exception(err):
            raise
        cause = err.cause
        if isinstance(cause, ApplicationError) and cause.type in ("McpServerDown", "McpError"):
            # The server never ran it (down), or refused it: a plain error for the model.
            return ToolResult(
                call_id=req.call_id,
                name=req.name,
                content=f"{cause.type}: {cause.message}",
                is_error=True,
            )
        if tool.idempotent:
            content = f"McpCallFailed: {req.name} failed after retries: {failure_message(err)}"
        else:
            content = (
                f"McpOutcomeUnknown: the call to {req.name} was interrupted "
                f"({failure_message(err)}). It was not run again because the tool is not "
                "marked idempotent, so whether it took effect is unknown: check before "
                "calling it again."
            )
        # It was sent (or may have been): the journal records the call either way.
        return ToolResult(
            call_id=req.call_id,
            name=req.name,
            content=content,
            is_error=True,
            effects=[Effect(op="call", path=req.name)],
        )


async def list_mcp_tools() -> McpCatalog:
    """The MCP catalogue, recorded in history as a local activity's marker.

    A master that cannot list (no worker answers in time) goes on with file
    tools only and says why, rather than failing the goal.
    """
    try:
        return await MCP_LIST_CALL.run(
            MCP_LIST_ACTIVITY, result_type=McpCatalog, summary="MCP tools"
        )
    except ActivityError as err:
        if is_cancelled_exception(err):
            raise
        return McpCatalog(errors={"*": failure_message(err)})


async def prepare_workspace(name: str, *, create: bool) -> WorkspaceInfo:
    """Make (or check) the goal's workspace: the sandbox every file tool works in."""
    return await WORKSPACE_CALL.run(
        WORKSPACE_ACTIVITY,
        WorkspaceRequest(workspace=name, create=create),
        result_type=WorkspaceInfo,
        summary=f"workspace {name}",
    )


async def verify_work(req: VerifyRequest) -> Verification:
    """The completion check, as a local activity: no extra task, a marker in history.

    It is a few stat() calls on this worker's workspace.

    A check that cannot run (the workspace vanished) is a failed check, never
    a pass: the agent ends `unverified` with the reason.
    """
    try:
        return await VERIFY_CALL.run(
            VERIFY_ACTIVITY, req, result_type=Verification, summary=f"verify {req.agent_id}"[:200]
        )
    except ActivityError as err:
        if is_cancelled_exception(err):
            raise
        return Verification(
            mode="files", passed=False, reason=f"the check could not run: {failure_message(err)}"
        )


async def checked_close(req: CheckedClose) -> Verification:
    """The completion check and the close row in one local activity (bench/overhead.py).

    One marker and one activation fewer than `verify_work` then `ledger_write`, for
    every agent that ends as if done. The activity answers every outcome of the check
    and every refusal of the row; a database that is down is retried until it is back.
    """
    done = await CHECKED_CLOSE_CALL.run(
        CHECKED_CLOSE_ACTIVITY,
        req,
        result_type=CheckedCloseResult,
        summary=f"verify and close {req.check.agent_id}"[:200],
    )
    if done.ledger_refused:
        workflow.logger.error("ledger write refused: %s", done.ledger_refused)
    return done.verification


async def ledger_write(
    rec: LedgerStart | LedgerClose, *, local: bool = False
) -> LedgerWriteResult | None:
    """Write a ledger row; `local` runs it as a local activity.

    A local activity runs inside the workflow task that asked for it and
    lands in history as a marker: no activity task to schedule, poll and
    complete, and no extra workflow task for its result. For a one-turn
    agent that halves the server round trips (bench/overhead.py). The write
    is an idempotent upsert, so the re-run after a worker crash mid-task
    is harmless.
    """
    name = LEDGER_START_ACTIVITY if isinstance(rec, LedgerStart) else LEDGER_CLOSE_ACTIVITY
    try:
        return await replace(LEDGER_CALL, local=local).run(
            name,
            rec,
            result_type=LedgerWriteResult,
            summary=f"ledger {'start' if isinstance(rec, LedgerStart) else rec.status}",
        )
    except ActivityError as err:
        # The work itself succeeded or failed on its own terms; a rejected
        # ledger row is logged here and named by the weekly audit.
        workflow.logger.error("ledger write refused: %s", failure_message(err))
        return None


async def load_thresholds() -> CalibratedThresholds:
    """The tier thresholds in force when this workflow started.

    Read through an activity, so the value lands in history: a calibration
    that writes new thresholds never changes a workflow already running.
    """
    return await THRESHOLDS_CALL.run(
        THRESHOLDS_ACTIVITY, result_type=CalibratedThresholds, summary="tier thresholds"
    )


# Errors that no retry and no other subtask can fix: the key, the account or
# the model name is wrong. They fail the whole run at once, with the reason.
CONFIG_ERRORS = frozenset({"LlmHttp401", "LlmHttp403", "LlmHttp404"})


def raise_if_misconfigured(err: BaseException) -> None:
    """Turn a wrong key, account or model into a failure of the whole run."""
    cause: BaseException | None = err
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__ if cause.__cause__ is not None else getattr(cause, "cause", None)
    if isinstance(cause, ApplicationError) and cause.type == "LlmConfigError":
        raise cause
    if isinstance(cause, ApplicationError) and cause.type in CONFIG_ERRORS:
        raise ApplicationError(
            f"LLM configuration error: {cause.message}", type="LlmConfigError", non_retryable=True
        ) from None


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
