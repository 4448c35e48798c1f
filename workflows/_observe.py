"""Telemetry for workflow code: deterministic, replay-safe, cheap when tracing is off.

- `agent_span` wraps a whole agent run (master, sub-agent, inline work) in one
  `invoke_agent` span. Children and activities started inside it become its child
  spans (the OpenTelemetryPlugin carries the context in Temporal headers). The span
  starts at the workflow's original start time and ends at its last task (history
  times, UTC epoch ns), whatever worker replays it, and is exported once, when the
  run closes. It counts `agentfleet_tasks_started` on entry and `_completed`,
  `_unverified` or `_failed` on exit (`outcome_metric`), labelled role/depth/tier. A
  task-failing bug (not a failure exception) ends nothing: Temporal retries the task.
- `count(name, value, **labels)` for the delegation metrics, where the decision is
  made. Labels are low-cardinality (role, depth, tier), never ids. Fleet metrics go
  through `count()` only: it marks the activation, so the worker persists the counter
  (agentfleet/telemetry/counters.py) before Temporal hears the task is done.
- `record_llm_usage(resp)` adds an answer's tokens to the current agent span; the LLM
  activity records the LLM metrics itself, once per paid attempt, so nothing counts twice.
- `event(name, **attrs)` marks a notable moment on the agent span, at workflow time.

Replay safety: spans come from the replay-safe provider (`create_tracer_provider()`):
ids are drawn from the workflow's seeded random, so a replay recreates the same span,
and `end()` is a no-op while replaying history; `workflow.metric_meter()` drops
recordings during replay. With no telemetry set up (a plain test worker) spans are
no-ops and metrics go to the runtime's meter.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from opentelemetry import baggage, trace
    from opentelemetry import context as otel_context
    from opentelemetry.trace import SpanKind, Status, StatusCode

    from agentfleet.telemetry import names as tn
    from agentfleet.telemetry.counters import counted

__all__ = [
    "ALIASES",
    "AgentSpan",
    "agent_span",
    "count",
    "event",
    "record_llm_usage",
]

TRACER = "agentfleet.workflows"
ERROR_TYPE = "error.type"

# Short names accepted in `attrs` and `AgentSpan.set()`; full attribute names work too.
ALIASES = {
    "tier": tn.AF_TIER,
    "score": tn.AF_SCORE,
    "decision": tn.AF_DECISION,
    "pruned_count": tn.AF_PRUNED,
    "budget_tokens": tn.AF_BUDGET_TOKENS,
    "budget_usd": tn.AF_BUDGET_USD,
    "status": tn.AF_STATUS,
    "depth": tn.AF_DEPTH,
    "root_id": tn.AF_ROOT_ID,
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_current: ContextVar[AgentSpan | None] = ContextVar("agentfleet_agent_span", default=None)


def _ns(dt: datetime) -> int:
    """Aware datetime -> UTC epoch ns, exactly (no float rounding)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # Temporal's times are UTC
    return (dt - _EPOCH) // timedelta(microseconds=1) * 1000


def _attributes(attrs: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (attrs or {}).items():
        if value is None:
            continue
        out[ALIASES.get(key, key)] = value
    return out


def _replaying() -> bool:
    return workflow.unsafe.is_replaying_history_events()


def count(metric: str, value: int = 1, **labels: str | int | float | bool | None) -> None:
    """Add `value` to the counter `metric` (replay-safe: nothing is recorded during replay)."""
    _add(metric, value, labels)


def _add(metric: str, value: int, labels: Mapping[str, str | int | float | bool | None]) -> None:
    if value <= 0:
        return
    attrs = {k: v for k, v in labels.items() if v is not None}
    workflow.metric_meter().create_counter(metric).add(value, attrs)
    # Tells the durable-counters checkpoint (agentfleet/telemetry/counters.py) that this
    # activation counted something: it persists before the completion goes back.
    counted()


class AgentSpan:
    """Handle on the `invoke_agent` span of the running workflow."""

    def __init__(self, span: trace.Span, role: str, labels: dict[str, str | int]) -> None:
        self.span = span
        self.role = role
        self.labels = labels
        self.status: str | None = None
        self.error: str | None = None
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_read_tokens = 0
        self.cache_creation_tokens = 0

    def set(self, **attrs: Any) -> None:
        """Set span attributes by short name (tier, score, decision, pruned_count, ...)."""
        values = _attributes(attrs)
        if values:
            self.span.set_attributes(values)
        tier = attrs.get("tier")
        if tier is not None:
            self.labels[tn.ATTR_TIER] = str(tier)

    def finish(self, status: str, error: str | None = None) -> None:
        """Record the outcome: completed, partial or failed (failed sets span status ERROR)."""
        self.status = status
        self.error = error
        self.span.set_attribute(tn.AF_STATUS, status)
        if status == "failed":
            self.span.set_status(Status(StatusCode.ERROR, (error or "failed")[:500]))

    def verified(self, check: Any) -> None:
        """Put the completion check (models.Verification) on the span.

        As attributes for queries, and as the GenAI conventions' evaluation
        event, so a trace viewer shows the verdict with its explanation.
        """
        self.span.set_attributes(
            {
                tn.AF_VERIFY_PASSED: bool(check.passed),
                tn.AF_VERIFY_MODE: str(check.mode),
                tn.AF_VERIFY_CHECKED: len(check.checked),
                tn.AF_VERIFY_MISSING: [str(p) for p in check.missing],
            }
        )
        self.span.add_event(
            tn.GEN_AI_EVALUATION_EVENT,
            {
                "gen_ai.evaluation.name": "agentfleet.completion_check",
                "gen_ai.evaluation.score.value": 1.0 if check.passed else 0.0,
                "gen_ai.evaluation.score.label": "passed" if check.passed else "failed",
                "gen_ai.evaluation.explanation": str(check.reason)[:1000],
            },
            timestamp=workflow.time_ns(),
        )

    def record_llm_usage(self, resp: Any) -> None:
        usage = getattr(resp, "usage", None)
        if usage is None:
            return
        read = int(getattr(usage, "cache_read_input_tokens", 0) or 0)
        creation = int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
        # As on the `chat` spans: input_tokens includes the cached input.
        self.input_tokens += int(getattr(usage, "input_tokens", 0) or 0) + read + creation
        self.output_tokens += int(getattr(usage, "output_tokens", 0) or 0)
        self.cache_read_tokens += read
        self.cache_creation_tokens += creation
        attrs = {
            tn.GEN_AI_INPUT_TOKENS: self.input_tokens,
            tn.GEN_AI_OUTPUT_TOKENS: self.output_tokens,
        }
        if self.cache_read_tokens or self.cache_creation_tokens:
            attrs[tn.GEN_AI_CACHE_READ_TOKENS] = self.cache_read_tokens
            attrs[tn.GEN_AI_CACHE_CREATION_TOKENS] = self.cache_creation_tokens
        self.span.set_attributes(attrs)

    def event(self, name: str, **attrs: Any) -> None:
        values = {k: v for k, v in attrs.items() if v is not None}
        self.span.add_event(name, values, timestamp=workflow.time_ns())

    def _close(self, exc: BaseException | None) -> None:
        if isinstance(exc, GeneratorExit):
            # The run's coroutine is being torn down, maybe by the garbage collector after
            # its worker stopped, outside the workflow's event loop: nothing ended here.
            return
        if _replaying():
            # A replay (or a cache eviction, which counts as one) ends and counts nothing:
            # the worker that runs the workflow's last task does, once.
            return
        if exc is None:
            status = self.status or "completed"
        elif isinstance(exc, workflow.ContinueAsNewError):
            # One span per run: the next run of the same agent opens its own.
            self.span.set_attribute(tn.AF_STATUS, "continued_as_new")
            self.span.end(end_time=workflow.time_ns())
            return
        elif is_cancelled_exception(exc):  # as Temporal decides the workflow was canceled
            status = "cancelled"
            self.span.set_attribute(ERROR_TYPE, "cancelled")
            self.span.set_status(Status(StatusCode.ERROR, "cancelled"))
        elif workflow.is_failure_exception(exc):
            status = "failed"
            kind = exc.type if isinstance(exc, ApplicationError) and exc.type else None
            self.span.set_attribute(ERROR_TYPE, kind or type(exc).__name__)
            self.span.record_exception(exc)
            self.span.set_status(Status(StatusCode.ERROR, str(exc)[:500]))
        else:
            # Fails the workflow *task*, which Temporal retries: the span stays open.
            return
        self.span.set_attribute(tn.AF_STATUS, status)
        _add(outcome_metric(status), 1, {tn.ATTR_ROLE: self.role, **self.labels})
        # History time of the last task: deterministic, and >= every child's end.
        self.span.end(end_time=workflow.time_ns())


def outcome_metric(status: str) -> str:
    """The task counter an agent's final status lands in.

    `completed` is verified work only. An agent that stopped short of a
    verified result (its check failed, its turns ran out) is `unverified`
    on dashboards; an exhausted budget is a failure, as in the weekly report.
    """
    if status == "completed":
        return tn.TASKS_COMPLETED
    if status in ("unverified", "partial", "skipped"):
        return tn.TASKS_UNVERIFIED
    return tn.TASKS_FAILED


def _agent_attributes(
    kind: str, name: str, agent_id: str, *, root: str, depth: int, extra: dict[str, Any]
) -> dict[str, Any]:
    """The `invoke_agent` span's attributes: the GenAI conventions' and agentfleet's."""
    return {
        tn.GEN_AI_OPERATION: "invoke_agent",
        tn.GEN_AI_AGENT_ID: agent_id,
        tn.GEN_AI_AGENT_NAME: name,
        tn.GEN_AI_CONVERSATION_ID: root,
        tn.AF_ROOT_ID: root,
        tn.AF_DEPTH: depth,
        "agentfleet.role": kind,
        **extra,
    }


@contextmanager
def agent_span(
    kind: str,
    name: str,
    attrs: Mapping[str, Any] | None = None,
    *,
    depth: int = 0,
    root_id: str | None = None,
    agent_id: str | None = None,
    start_time: datetime | None = None,
) -> Iterator[AgentSpan]:
    """The `invoke_agent {name}` span around a workflow run; see the module docstring.

    kind: the role ("master", "subagent", "inline"); name: the agent name ("master",
    "sub-agent: <title>"); attrs: delegation attributes by short name (tier, score,
    decision, pruned_count, budget_tokens, budget_usd) or full name; root_id: the root
    task's workflow id (default: Temporal's root, else this workflow). Inline work inside a
    master passes its node id as `agent_id` and `workflow.now()` as `start_time`: it is an
    agent of its own, without a workflow of its own.
    """
    info = workflow.info()
    root = root_id or (info.root.workflow_id if info.root else info.workflow_id)
    extra = _attributes(attrs)
    span = trace.get_tracer(TRACER).start_span(
        f"invoke_agent {name}",
        kind=SpanKind.INTERNAL,
        attributes=_agent_attributes(
            kind, name, agent_id or info.workflow_id, root=root, depth=depth, extra=extra
        ),
        start_time=_ns(start_time or info.workflow_start_time),
    )
    labels: dict[str, str | int] = {tn.ATTR_DEPTH: depth}
    tier = extra.get(tn.AF_TIER)
    if tier is not None:
        labels[tn.ATTR_TIER] = str(tier)
    handle = AgentSpan(span, kind, labels)
    _add(tn.TASKS_STARTED, 1, {tn.ATTR_ROLE: kind, **labels})
    token = _current.set(handle)
    failure: BaseException | None = None
    # The span is current for everything started inside, and the root id rides along as
    # baggage (in the same Temporal headers) so activity spans can name the conversation.
    ctx = baggage.set_baggage(tn.AF_ROOT_ID, root, context=trace.set_span_in_context(span))
    otel_token = otel_context.attach(ctx)
    try:
        yield handle
    except BaseException as exc:
        failure = exc
        raise
    finally:
        try:
            otel_context.detach(otel_token)
            _current.reset(token)
        except ValueError:  # reset from another context (teardown): harmless
            pass
        handle._close(failure)


def record_llm_usage(resp: Any) -> None:
    """Add an LlmResponse's tokens to the current agent span (no metric; see docstring)."""
    handle = _current.get()
    if handle is not None:
        handle.record_llm_usage(resp)


def event(name: str, **attrs: Any) -> None:
    """Add an event, at workflow time, to the current agent span."""
    handle = _current.get()
    if handle is not None:
        handle.event(name, **attrs)
