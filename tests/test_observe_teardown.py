"""An agent span whose workflow coroutine is torn down ends nothing and raises nothing."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from workflows._observe import AgentSpan


def test_a_coroutine_closed_outside_its_workflow_leaves_the_span_open() -> None:
    # A worker that stops with runs in its cache leaves their coroutines to the garbage
    # collector, which closes them with GeneratorExit outside any workflow event loop
    # (seen as an unraisable exception in tests/test_versioning.py). There is no
    # workflow to ask whether it is replaying: the span is neither ended nor counted.
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    span = provider.get_tracer("test").start_span("invoke_agent subagent")
    AgentSpan(span, "subagent", {"depth": 1})._close(GeneratorExit())
    assert exporter.get_finished_spans() == ()
