"""Activity spans (`chat`, `execute_tool`) and the LLM and tool metrics recorded with them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import baggage, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue
from temporalio import activity
from temporalio.exceptions import ApplicationError

from agentfleet.telemetry import names as tn
from agentfleet.telemetry.counters import counted
from agentfleet.telemetry.setup import _live

if TYPE_CHECKING:
    from agentfleet.contracts.models import (
        LlmRequest,
        LlmResponse,
        McpCallRequest,
        ToolRequest,
        ToolResult,
    )

ACTIVITY_TRACER = "agentfleet.activities"
PROVIDER_ANTHROPIC = "anthropic"

# Attribute names only the activity spans use: standard OTel names (gen_ai.request.max_tokens,
# the opt-in content attributes), the Anthropic SDK's request id, and ours that tie a span to
# its Temporal activity or describe its tool call.
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
AF_ACTIVITY_ID = "agentfleet.activity_id"
ANTHROPIC_REQUEST_ID = "anthropic.request.id"  # as the Anthropic SDK names it
AF_TOOL_ALREADY_DONE = "agentfleet.tool.already_done"
# OTel GenAI: `function` for a tool the application runs, `extension` for one an agent
# reaches through an extension such as an MCP server.
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"
AF_MCP_SERVER = "agentfleet.mcp.server"


# --------------------------------------------------------------------------- activity spans


def capture_content() -> bool:
    """Whether prompts and outputs go on spans (AGENTFLEET_TRACE_CONTENT of the live setup)."""
    return bool(_live) and _live[-1].options.capture_content


def _attrs(values: Mapping[str, AttributeValue | None]) -> dict[str, AttributeValue]:
    return {k: v for k, v in values.items() if v is not None}


def _count(name: str, value: int, attrs: Mapping[str, str | int]) -> None:
    if value <= 0:
        return
    try:
        meter = activity.metric_meter()
    except RuntimeError:  # not in an activity (direct calls in tests)
        return
    meter.create_counter(name).add(value, attrs)
    counted()  # the activity's checkpoint persists it before its result goes back


def count_event(name: str, model: str) -> None:
    """One governance event of an LLM call (a 429, a 529, a fallback), by model."""
    _count(name, 1, {tn.ATTR_MODEL: model})


def _error_type(exc: BaseException) -> str:
    if isinstance(exc, ApplicationError) and exc.type:
        return exc.type
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return type(exc).__name__


def _root_id() -> str | None:
    """The root task id that the workflow's agent span put in the baggage, if any."""
    value = baggage.get_baggage(tn.AF_ROOT_ID)
    return str(value) if value else None


def _activity_info() -> activity.Info | None:
    try:
        return activity.info()
    except RuntimeError:
        return None


class LlmCall:
    """The `chat` span of one LLM activity attempt; see `llm_call`."""

    def __init__(self, span: trace.Span, req: LlmRequest, attempt: int) -> None:
        self.span = span
        self.req = req
        self.attempt = attempt
        self.unanswered = False

    def went_unanswered(self) -> None:
        """The request may have reached the API, but no answer came back: maybe billed."""
        self.unanswered = True
        self.span.set_attributes({tn.AF_MAYBE_BILLED: True})

    def request_id(self, value: str | None) -> None:
        """The provider's request id, for finding the call in Anthropic's logs."""
        if value:
            self.span.set_attribute(ANTHROPIC_REQUEST_ID, value)

    def governed(self, lease_id: str | None, wait_s: float, fallback_from: str | None) -> None:
        """The lease this attempt held, how long it waited, and the fallback it took."""
        self.span.set_attribute(tn.AF_GOVERNOR_WAIT_S, round(wait_s, 3))
        if lease_id:
            self.span.set_attribute(tn.AF_LEASE_ID, lease_id)
        if fallback_from:
            self.span.set_attribute(tn.AF_FALLBACK_FROM, fallback_from)

    def response(self, resp: LlmResponse) -> None:
        """The reply's model, id, finish reason and usage, and the token and cost metrics."""
        s = self.span
        s.set_attributes(
            {
                tn.GEN_AI_RESPONSE_MODEL: resp.model,
                tn.GEN_AI_RESPONSE_ID: resp.id,
                tn.GEN_AI_FINISH_REASONS: [resp.stop_reason] if resp.stop_reason else [],
                # The conventions count cached input in input_tokens too; the API does not.
                tn.GEN_AI_INPUT_TOKENS: resp.usage.prompt_tokens,
                tn.GEN_AI_OUTPUT_TOKENS: resp.usage.output_tokens,
                tn.GEN_AI_CACHE_READ_TOKENS: resp.usage.cache_read_input_tokens,
                tn.GEN_AI_CACHE_CREATION_TOKENS: resp.usage.cache_creation_input_tokens,
                tn.AF_SIMULATED: resp.simulated,
            }
        )
        if capture_content():
            s.set_attribute(
                GEN_AI_OUTPUT_MESSAGES,
                json.dumps(
                    [
                        {
                            "role": "assistant",
                            "parts": [b.model_dump(mode="json") for b in resp.content],
                            "finish_reason": resp.stop_reason,
                        }
                    ]
                ),
            )
        model = {tn.ATTR_MODEL: self.req.model}
        _count(tn.LLM_TOKENS, resp.usage.input_tokens, {**model, tn.ATTR_DIRECTION: "input"})
        _count(tn.LLM_TOKENS, resp.usage.output_tokens, {**model, tn.ATTR_DIRECTION: "output"})
        for direction, value in (
            (tn.DIRECTION_CACHE_READ, resp.usage.cache_read_input_tokens),
            (tn.DIRECTION_CACHE_CREATION, resp.usage.cache_creation_input_tokens),
        ):
            _count(tn.LLM_TOKENS, value, {**model, tn.ATTR_DIRECTION: direction})
        _count(tn.LLM_COST_MICRO_USD, round(resp.usage.cost_usd * 1_000_000), model)


@contextmanager
def llm_call(req: LlmRequest, *, simulated: bool) -> Iterator[LlmCall]:
    """Span `chat {model}` around one attempt of the LLM activity, plus the LLM metrics.

    An exception leaving the block marks the span ERROR with `error.type` (the classified
    `ApplicationError` type, e.g. `LlmRateLimited`); a retryable one counts in `llm_retries`.
    """
    info = _activity_info()
    attempt = info.attempt if info else 1
    agent_id = req.agent_id or (info.workflow_id if info else None) or None
    root_id = req.root_id or _root_id()
    attrs = _attrs(
        {
            tn.GEN_AI_OPERATION: "chat",
            tn.GEN_AI_PROVIDER: PROVIDER_ANTHROPIC,
            tn.GEN_AI_REQUEST_MODEL: req.model,
            GEN_AI_REQUEST_MAX_TOKENS: req.max_tokens,
            tn.GEN_AI_AGENT_ID: agent_id,
            tn.GEN_AI_CONVERSATION_ID: root_id,
            tn.AF_ROOT_ID: root_id,
            tn.AF_ATTEMPT: attempt,
            tn.AF_SIMULATED: simulated,
            AF_ACTIVITY_ID: info.activity_id if info else None,
        }
    )
    if capture_content():
        attrs[GEN_AI_SYSTEM_INSTRUCTIONS] = json.dumps([{"type": "text", "content": req.system}])
        attrs[GEN_AI_INPUT_MESSAGES] = json.dumps([m.model_dump(mode="json") for m in req.messages])
    _count(tn.LLM_CALLS, 1, {tn.ATTR_MODEL: req.model})
    with _activity_span(f"chat {req.model}", SpanKind.CLIENT, attrs) as span:
        call = LlmCall(span, req, attempt)
        try:
            yield call
        except BaseException as exc:
            kind = _failed(span, exc)
            retryable = isinstance(exc, ApplicationError) and not exc.non_retryable
            if retryable and not _last_attempt(info):
                _count(tn.LLM_RETRIES, 1, {tn.ATTR_MODEL: req.model, tn.ATTR_ERROR_CLASS: kind})
            raise


@contextmanager
def _activity_span(
    name: str, kind: SpanKind, attrs: Mapping[str, AttributeValue]
) -> Iterator[trace.Span]:
    """An activity span; the caller decides how an exception marks it (see `_failed`)."""
    tracer = trace.get_tracer(ACTIVITY_TRACER)
    with tracer.start_as_current_span(
        name,
        kind=kind,
        attributes=attrs,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        yield span


def _failed(span: trace.Span, exc: BaseException) -> str:
    """Mark `span` ERROR with the exception's `error.type`, and return that type."""
    kind = _error_type(exc)
    span.set_attribute(tn.ERROR_TYPE, kind)
    span.set_status(Status(StatusCode.ERROR, _describe(exc)))
    return kind


def _last_attempt(info: activity.Info | None) -> bool:
    policy = info.retry_policy if info else None
    return bool(
        info and policy and policy.maximum_attempts and info.attempt >= policy.maximum_attempts
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


class ToolCall:
    """The `execute_tool` span of one tool activity attempt; see `tool_call`."""

    def __init__(self, span: trace.Span) -> None:
        self.span = span

    def result(self, res: ToolResult) -> None:
        """Whether the journal replayed the tool call, and (if captured) what it returned."""
        self.span.set_attribute(AF_TOOL_ALREADY_DONE, res.already_done)
        if capture_content():
            self.span.set_attribute(GEN_AI_TOOL_CALL_RESULT, res.content[:20_000])


SANDBOX_REFUSAL = "SandboxViolation"


@contextmanager
def tool_call(
    req: ToolRequest | McpCallRequest, *, tool_type: str = "function"
) -> Iterator[ToolCall]:
    """Span `execute_tool {tool}` around one tool activity attempt, plus the tool metrics.

    An exception leaving the block marks the span ERROR with `error.type`; a sandbox refusal
    (`SandboxViolation`) also counts in `agentfleet_tool_denied`.
    """
    info = _activity_info()
    root_id = _root_id()
    attrs = _attrs(
        {
            tn.GEN_AI_OPERATION: "execute_tool",
            tn.GEN_AI_TOOL_NAME: req.name,
            tn.GEN_AI_TOOL_CALL_ID: req.call_id or None,
            GEN_AI_TOOL_TYPE: tool_type,
            AF_MCP_SERVER: getattr(req, "server", None),
            tn.GEN_AI_AGENT_ID: info.workflow_id if info else None,
            tn.GEN_AI_CONVERSATION_ID: root_id,
            tn.AF_ROOT_ID: root_id,
            tn.AF_ATTEMPT: info.attempt if info else 1,
            AF_ACTIVITY_ID: info.activity_id if info else None,
        }
    )
    if capture_content():
        attrs[GEN_AI_TOOL_CALL_ARGUMENTS] = json.dumps(req.input)[:20_000]
    tool = {tn.ATTR_TOOL: req.name}
    _count(tn.TOOL_CALLS, 1, tool)
    with _activity_span(f"execute_tool {req.name}", SpanKind.INTERNAL, attrs) as span:
        try:
            yield ToolCall(span)
        except BaseException as exc:
            kind = _failed(span, exc)
            if kind == SANDBOX_REFUSAL:
                _count(tn.TOOL_DENIED, 1, tool)
            raise
