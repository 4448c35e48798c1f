"""Durable spans with the local span file: flushed before Temporal hears the work is done."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from temporalio.plugin import SimplePlugin
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    WorkflowInstance,
    WorkflowRunner,
)

# --------------------------------------------------------------------------- durable spans


class DurableBatchSpanProcessor(BatchSpanProcessor):
    """A BatchSpanProcessor that knows whether the current thread ended spans.

    Used with the local span file: after a workflow activation that ended a span, and after
    every activity, the worker flushes before Temporal is told the work is done.
    """

    def __init__(self, exporter: SpanExporter, **options: Any) -> None:
        super().__init__(exporter, **options)
        self._ended = threading.local()

    def on_end(self, span: ReadableSpan) -> None:
        super().on_end(span)
        self._ended.count = getattr(self._ended, "count", 0) + 1

    def ended_in_this_thread(self) -> int:
        return int(getattr(self._ended, "count", 0))


class _FlushingInstance(WorkflowInstance):
    def __init__(self, inner: WorkflowInstance, processor: DurableBatchSpanProcessor) -> None:
        self._inner = inner
        self._processor = processor

    def activate(self, act: Any) -> Any:
        before = self._processor.ended_in_this_thread()
        completion = self._inner.activate(act)
        if self._processor.ended_in_this_thread() != before:
            # Written before the completion goes back to the server.
            self._processor.force_flush()
        return completion

    def get_serialization_context(self, command_info: Any) -> Any:
        return self._inner.get_serialization_context(command_info)

    def get_external_store_context(self, command_info: Any) -> Any:
        return self._inner.get_external_store_context(command_info)

    def get_info(self) -> Any:
        return self._inner.get_info()

    def get_thread_id(self) -> int | None:
        return self._inner.get_thread_id()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _FlushingRunner(WorkflowRunner):
    def __init__(self, inner: WorkflowRunner, processor: DurableBatchSpanProcessor) -> None:
        self._inner = inner
        self._processor = processor

    def prepare_workflow(self, defn: Any) -> None:
        self._inner.prepare_workflow(defn)

    def create_instance(self, det: Any) -> WorkflowInstance:
        return _FlushingInstance(self._inner.create_instance(det), self._processor)

    def set_worker_level_failure_exception_types(
        self, types: Sequence[type[BaseException]]
    ) -> None:
        self._inner.set_worker_level_failure_exception_types(types)


class _FlushAfterActivity(Interceptor):
    def __init__(self, processor: DurableBatchSpanProcessor) -> None:
        self._processor = processor

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _FlushAfterActivityInbound(next, self._processor)


class _FlushAfterActivityInbound(ActivityInboundInterceptor):
    def __init__(
        self, next: ActivityInboundInterceptor, processor: DurableBatchSpanProcessor
    ) -> None:
        super().__init__(next)
        self._processor = processor

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        finally:
            # Before the result goes back to Temporal. Under the export lock, so it also waits
            # for a concurrent flush that took our span. Inline, not in a thread: appending
            # a line costs tens of microseconds, a thread hop more than that.
            self._processor.force_flush()


def durable_spans_plugin(processor: DurableBatchSpanProcessor) -> SimplePlugin:
    def wrap(runner: WorkflowRunner | None) -> WorkflowRunner:
        if runner is None:
            raise ValueError("no WorkflowRunner to wrap")
        return _FlushingRunner(runner, processor)

    return SimplePlugin(
        "agentfleet.DurableSpans",
        interceptors=[_FlushAfterActivity(processor)],
        workflow_runner=wrap,
    )
