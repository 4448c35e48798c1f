"""Durable spans and counters: spooled before Temporal hears that the work is done.

After every activity, and after every workflow activation, the plugin flushes the span
processor into the spool (spool.py) and, with durable counters, drains the fleet counters to
disk (counters.py), before the activity's result or the activation's completion goes back.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from temporalio.plugin import SimplePlugin
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    WorkflowRunner,
)

from agentfleet.runner_wrap import Activate, ActivationHook, Hook

# --------------------------------------------------------------------------- durable spans


class DurableBatchSpanProcessor(BatchSpanProcessor):
    """A BatchSpanProcessor that knows whether the current thread ended spans.

    Its exporter is the spool writer: after a workflow activation that ended a span, and after
    every activity, the worker flushes before Temporal is told the work is done.
    """

    def __init__(self, exporter: SpanExporter, **options: Any) -> None:
        super().__init__(exporter, **options)
        self._ended = threading.local()

    def on_end(self, span: ReadableSpan) -> None:
        """Hand the span on to the batch, and count it for this thread."""
        super().on_end(span)
        self._ended.count = getattr(self._ended, "count", 0) + 1

    def ended_in_this_thread(self) -> int:
        """How many spans this thread has ended: a change means there is something to flush."""
        return int(getattr(self._ended, "count", 0))


Checkpoint = Callable[[], None]


@dataclass(frozen=True)
class _Flush:
    """What a workflow activation makes durable before its completion goes back."""

    processor: DurableBatchSpanProcessor
    """The span processor to flush when the activation ended a span."""
    checkpoint: Checkpoint | None
    """The durable counters' checkpoint, run after every activation; None without them."""


def _flushing(flush: _Flush) -> Hook:
    processor, checkpoint = flush.processor, flush.checkpoint

    def activate_then_flush(activate: Activate, act: Any) -> Any:
        before = processor.ended_in_this_thread()
        completion = activate(act)
        if processor.ended_in_this_thread() != before:
            # Written before the completion goes back to the server.
            processor.force_flush()
        if checkpoint is not None:
            # Any activation may have counted something (a task started, a child spawned).
            checkpoint()
        return completion

    return activate_then_flush


class _FlushAfterActivity(Interceptor):
    def __init__(self, flush: _Flush, *, in_thread: bool) -> None:
        self._flush = flush
        self._in_thread = in_thread

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _FlushAfterActivityInbound(next, self._flush, in_thread=self._in_thread)


class _FlushAfterActivityInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, flush: _Flush, *, in_thread: bool) -> None:
        super().__init__(next)
        self._flush = flush
        self._in_thread = in_thread

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        processor = self._flush.processor
        # An async activity ends its spans on this thread (the event loop's); a sync one
        # ends them on an executor thread, where this count cannot see them.
        before = processor.ended_in_this_thread() if inspect.iscoroutinefunction(input.fn) else -1
        try:
            return await super().execute_activity(input)
        finally:
            # Before the result goes back to Temporal. Under the export lock, so it also waits
            # for a concurrent flush that took our span. Inline, not in a thread: appending
            # a line costs tens of microseconds, a thread hop more than that; but an fdatasync
            # takes milliseconds, which the event loop must not wait out. Skipped when no
            # span ended meanwhile (a local activity that records none): nothing to wait for.
            spans = before != processor.ended_in_this_thread()
            if self._in_thread:
                await asyncio.to_thread(self._after, spans=spans)
            else:
                self._after(spans=spans)

    def _after(self, *, spans: bool) -> None:
        if spans:
            self._flush.processor.force_flush()
        if self._flush.checkpoint is not None:
            self._flush.checkpoint()


def durable_spans_plugin(
    processor: DurableBatchSpanProcessor,
    checkpoint: Checkpoint | None = None,
    *,
    fsync: bool = False,
) -> SimplePlugin:
    """Flush spans (and run `checkpoint`, the durable counters) before completions go back."""
    flush = _Flush(processor, checkpoint)

    def wrap(runner: WorkflowRunner | None) -> WorkflowRunner:
        if runner is None:
            raise ValueError("no WorkflowRunner to wrap")
        return ActivationHook(runner, _flushing(flush))

    return SimplePlugin(
        "agentfleet.DurableSpans",
        interceptors=[_FlushAfterActivity(flush, in_thread=fsync)],
        workflow_runner=wrap,
    )
