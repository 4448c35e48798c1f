"""Telemetry: spans and metrics on the wire, nothing from replay, exactly once across SIGKILL.

The probe workflows (tests/telemetry_workflows.py) use workflows/_observe.py the way the agent
workflows do; the tests marked `requires_wiring` run the same checks on MasterAgentWorkflow
once the lead has wired `agent_span` into it. Set AGENTFLEET_CAPTURE_METRICS=1 to write the
metric names a real run exported to tests/data/captured_metrics.txt.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowHistory,
)
from temporalio.service import RPCError
from temporalio.worker import Replayer

from agentfleet.cli.devserver import DevServer
from agentfleet.client import connect
from agentfleet.config import Settings
from agentfleet.payloads.converter import data_converter
from agentfleet.sim import Simulator
from agentfleet.telemetry import (
    SPAN_FILE,
    OtlpJsonLinesExporter,
    Telemetry,
    TelemetryOptions,
    encode_otlp_json,
    otlp_json,
    setup_telemetry,
)
from agentfleet.telemetry import names as tn
from agentfleet.telemetry.trace_view import SpanRecord, build_tree, iso, parse_line, trace_command
from tests.conftest import ARTIFACTS, make_settings
from tests.otlp_receiver import OtlpReceiver
from tests.procs import ROOT, WorkerProcess
from tests.telemetry_workflows import (
    PROBE_WORKFLOWS,
    ProbeInput,
    ProbeMaster,
    ProbeResult,
    ProbeTaskFailure,
    build_probe_worker,
)

CAPTURED = Path(__file__).parent / "data" / "captured_metrics.txt"
HISTORIES = Path(__file__).parent / "data" / "histories"
CONTENT_ATTRIBUTES = {
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
}
# Core SDK metrics whose own names end in a suffix (the ledger's local activities).
SDK_SUFFIXED_NAMES = {"temporal_local_activity_total"}
# Core SDK metrics every worker run exports; the SDK dashboards query these.
CORE_METRICS = {
    "temporal_workflow_task_schedule_to_start_latency",
    "temporal_workflow_task_execution_latency",
    "temporal_workflow_completed",
    "temporal_workflow_endtoend_latency",
    "temporal_activity_schedule_to_start_latency",
    "temporal_activity_execution_latency",
    "temporal_activity_task_received",
    "temporal_worker_task_slots_available",
    "temporal_num_pollers",
}


def workflows_wired() -> bool:
    src = (ROOT / "workflows" / "master.py").read_text() + (
        ROOT / "workflows" / "subagent.py"
    ).read_text()
    return "agent_span" in src


requires_wiring = pytest.mark.skipif(
    not workflows_wired(),
    reason="workflows/master.py and subagent.py do not call _observe.agent_span yet "
    "(the lead wires it; see workflows/_observe.py)",
)


@pytest.fixture
async def telemetries() -> AsyncIterator[Callable[..., Telemetry]]:
    """setup_telemetry, with every Telemetry shut down after the test (it detaches itself)."""
    made: list[Telemetry] = []

    def make(*args: Any, **kwargs: Any) -> Telemetry:
        t = setup_telemetry(*args, **kwargs)
        made.append(t)
        return t

    yield make
    for t in made:
        await t.shutdown()


@pytest.fixture
def slow_sim() -> Iterator[Simulator]:
    with Simulator(port=0, latency_ms=400) as s:
        yield s


async def run_probe(client: Client, task_queue: str, inp: ProbeInput) -> ProbeResult:
    return await client.execute_workflow(
        ProbeMaster.run, inp, id=f"probe-{uuid.uuid4().hex[:8]}", task_queue=task_queue
    )


# --------------------------------------------------------------------------- configuration


def test_options_follow_the_standard_env_vars(tmp_path: Path) -> None:
    o = TelemetryOptions.from_env({}, tmp_path)
    assert o.service_name == tn.SERVICE_NAME_DEFAULT
    assert not o.traces_endpoint and not o.metrics_endpoint
    assert o.span_file == tmp_path / "traces" / "spans.jsonl"
    assert not o.capture_content

    o = TelemetryOptions.from_env(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m:9/custom",
            "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20x,tenant=t1",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod,service.name=from-attrs",
            "AGENTFLEET_TRACE_CONTENT": "1",
        },
        tmp_path,
        service_name="agentfleet-cli",
    )
    assert o.traces_endpoint == "http://collector:4318/v1/traces"
    assert o.metrics_endpoint == "http://m:9/custom"
    assert o.headers == {"authorization": "Bearer x", "tenant": "t1"}
    assert o.service_name == "from-attrs"  # the operator's env wins over the code's default
    assert o.resource_attributes["deployment.environment.name"] == "prod"
    assert o.capture_content

    o = TelemetryOptions.from_env(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_SERVICE_NAME": "w2"},
        tmp_path,
        service_name="agentfleet-cli",
    )
    assert o.traces_endpoint == o.metrics_endpoint == "http://c:4317"
    assert (o.traces_protocol, o.service_name) == ("grpc", "w2")
    assert TelemetryOptions.from_env({}, tmp_path, "agentfleet-cli").service_name == (
        "agentfleet-cli"
    )
    with pytest.raises(ValueError, match="http/json"):
        TelemetryOptions.from_env({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, tmp_path)


async def test_setup_twice_routes_spans_to_the_newest_live_telemetry(
    tmp_path: Path, telemetries: Callable[..., Telemetry]
) -> None:
    first, second = InMemorySpanExporter(), InMemorySpanExporter()
    a = telemetries({"AGENTFLEET_HOME": str(tmp_path)}, span_exporter=first)
    provider = trace.get_tracer_provider()
    b = telemetries(
        {"AGENTFLEET_HOME": str(tmp_path), "OTEL_SERVICE_NAME": "b"}, span_exporter=second
    )
    assert trace.get_tracer_provider() is provider  # installed once
    trace.get_tracer("t").start_span("to-b").end()
    await b.shutdown()
    trace.get_tracer("t").start_span("to-a").end()
    await a.force_flush()
    await a.shutdown()
    trace.get_tracer("t").start_span("nowhere").end()  # no live telemetry: a no-op
    assert [s.name for s in second.get_finished_spans()] == ["to-b"]
    assert second.get_finished_spans()[0].resource.attributes["service.name"] == "b"
    assert [s.name for s in first.get_finished_spans()] == ["to-a"]
    await b.shutdown()  # idempotent


def test_span_file_lines_are_otlp_json_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / SPAN_FILE
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(OtlpJsonLinesExporter(path)))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("parent", start_time=1_700_000_000_123_456_789) as p:
        p.set_attribute(tn.GEN_AI_AGENT_ID, "wf-1")
        with tracer.start_as_current_span("child") as c:
            c.set_attribute(tn.GEN_AI_FINISH_REASONS, ["end_turn"])
    lines = path.read_text().splitlines()
    assert len(lines) == 2  # one write per batch (SimpleSpanProcessor: one span each)
    doc = json.loads(lines[1])
    span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["name"] == "parent" and span["startTimeUnixNano"] == "1700000000123456789"
    assert len(span["traceId"]) == 32 and len(span["spanId"]) == 16  # OTLP/JSON: hex ids
    assert int(span["traceId"], 16) == p.get_span_context().trace_id
    assert span["kind"] == 1  # integer enums
    records = [s for line in lines for s in parse_line(line)]
    child = next(s for s in records if s.name == "child")
    assert child.parent_span_id == span["spanId"]
    assert child.attributes[tn.GEN_AI_FINISH_REASONS] == ["end_turn"]
    assert iso(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456Z"


def test_fast_span_encoding_equals_the_protobuf_json_mapping() -> None:
    captured: list[Any] = []

    class Keep(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            captured.extend(spans)
            return SpanExportResult.SUCCESS

    spans_for: dict[str, Any] = {}
    for service in ("a", "b"):
        provider = TracerProvider(resource=Resource.create({"service.name": service, "n": 1}))
        provider.add_span_processor(SimpleSpanProcessor(Keep()))
        spans_for[service] = provider
    remote = SpanContext(
        trace_id=0xABC,
        span_id=0xDEF,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("k", "v")]),
    )
    tracer = spans_for["a"].get_tracer("scope.one", "1.2", attributes={"x": "y"})
    with tracer.start_as_current_span(
        "parent",
        context=trace.set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.CLIENT,
        links=[Link(remote, {"l": 1})],
        attributes={
            "s": "t",
            "i": 7,
            "f": 0.5,
            "b": False,
            "empty": [],
            "ints": [1, 2],
            "strs": ["a", ""],
            "bools": [True],
            "floats": [1.0, 2.5],
        },
    ) as parent:
        parent.add_event("e1", {"k": "v"}, timestamp=123)
        parent.add_event("e2")
        with spans_for["a"].get_tracer("scope.two").start_as_current_span("child") as child:
            child.set_status(Status(StatusCode.ERROR, "boom"))
    spans_for["b"].get_tracer("t").start_span("other", start_time=5).end(end_time=9)
    ok = spans_for["b"].get_tracer("t").start_span("ok")
    ok.set_status(Status(StatusCode.OK))
    ok.end()
    assert [s.name for s in captured] == ["child", "parent", "other", "ok"]
    fast = encode_otlp_json(captured)
    assert len(fast["resourceSpans"]) == 2
    assert fast == otlp_json(encode_spans(captured))


def test_trace_view_renders_a_tree_with_utc_times_and_open_agents(tmp_path: Path) -> None:
    t0 = int(datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC).timestamp()) * 10**9

    def span(sid: str, parent: str, name: str, start: int, end: int, **attrs: Any) -> SpanRecord:
        return SpanRecord("ab" * 16, sid, parent, name, 1, t0 + start, t0 + end, attrs)

    spans = [
        span(
            "1" * 16,
            "",
            "invoke_agent master",
            0,
            9_000_000_000,
            **{
                tn.GEN_AI_OPERATION: "invoke_agent",
                tn.GEN_AI_AGENT_ID: "m",
                tn.AF_STATUS: "completed",
            },
        ),
        span(
            "2" * 16,
            "1" * 16,
            "chat claude",
            10**6,
            5 * 10**8,
            **{
                tn.GEN_AI_OPERATION: "chat",
                tn.AF_ATTEMPT: 2,
                tn.GEN_AI_INPUT_TOKENS: 10,
                tn.GEN_AI_OUTPUT_TOKENS: 3,
                tn.GEN_AI_CONVERSATION_ID: "m",
            },
        ),
        # A running sub-agent: its invoke_agent span is not exported yet.
        span(
            "3" * 16,
            "9" * 16,
            "execute_tool write_file",
            10**9,
            2 * 10**9,
            **{
                tn.GEN_AI_OPERATION: "execute_tool",
                tn.GEN_AI_AGENT_ID: "m.1",
            },
        ),
    ]
    tree = build_tree("ab" * 16, spans)
    assert tree.roots[0].name == "invoke_agent master"
    assert any(r.missing and r.attributes[tn.GEN_AI_AGENT_ID] == "m.1" for r in tree.roots)

    path = tmp_path / SPAN_FILE
    path.parent.mkdir(parents=True)
    code, out = trace_command(tmp_path, "m", as_json=False)
    assert code == 1 and "no span file" in out
    line = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "w"}}]
                },
                "scopeSpans": [{"spans": [_otlp(s) for s in spans]}],
            }
        ]
    }
    path.write_text(json.dumps(line) + "\n" + json.dumps(line) + "\n{truncated")
    code, out = trace_command(tmp_path, "m", as_json=False)
    assert code == 0, out
    assert "2026-03-01T23:59:59.000000Z" in out and "9.00 s" in out
    assert "attempt 2  10→3 tok" in out and "still running" in out
    assert out.count("invoke_agent master") == 1  # duplicate lines are shown once
    code, doc_text = trace_command(tmp_path, "m", as_json=True)
    doc = json.loads(doc_text)
    (t,) = doc["traces"]
    assert t["span_count"] == 3 and t["start"] == "2026-03-01T23:59:59.000000Z"
    root = t["spans"][0]
    assert root["name"] == "invoke_agent master" and root["children"][0]["name"] == "chat claude"
    assert root["start_unix_nano"] == t0 and root["duration_ms"] == 9000.0
    assert trace_command(tmp_path, "nope", as_json=False)[0] == 1


def _otlp(s: SpanRecord) -> dict[str, Any]:
    def value(v: Any) -> dict[str, Any]:
        if isinstance(v, bool):
            return {"boolValue": v}
        if isinstance(v, int):
            return {"intValue": str(v)}
        return {"stringValue": str(v)}

    out: dict[str, Any] = {
        "traceId": s.trace_id,
        "spanId": s.span_id,
        "name": s.name,
        "kind": s.kind,
        "startTimeUnixNano": str(s.start_ns),
        "endTimeUnixNano": str(s.end_ns),
        "attributes": [{"key": k, "value": value(v)} for k, v in s.attributes.items()],
    }
    if s.parent_span_id:
        out["parentSpanId"] = s.parent_span_id
    return out


# --------------------------------------------------------------------------- on the wire


async def test_spans_and_metrics_reach_a_real_otlp_receiver(
    devserver: DevServer, tmp_path: Path, telemetries: Callable[..., Telemetry]
) -> None:
    with Simulator(port=0) as sim, OtlpReceiver() as rx:
        settings = make_settings(tmp_path / "home", devserver, sim.url)
        (settings.workspaces / "ws").mkdir()
        t = telemetries(
            {
                "AGENTFLEET_HOME": str(settings.home),
                "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                "OTEL_METRIC_EXPORT_INTERVAL": "500",
                "OTEL_BSP_SCHEDULE_DELAY": "200",
                "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test",
            }
        )
        assert t.span_file is None and t.metrics_enabled
        client = await connect(devserver.address, plugins=t.plugins, runtime=t.runtime)
        # The first LLM call is rate limited once: a retried attempt and an llm_retries count.
        sim.enqueue_faults([{"status": 429, "retry_after": 0}])
        # A one-workflow cache: evictions, so workflows replay mid-run (and must not count
        # or export twice), and the sticky cache metrics are exercised.
        async with build_probe_worker(client, settings, max_cached_workflows=1):
            result = await run_probe(
                client,
                settings.task_queue,
                ProbeInput(
                    workspace="ws", children=2, turns=1, deny=True, fail_child=2, exercise_all=True
                ),
            )
            # Activity spans leave the worker while the run goes on (no flush needed).
            await wait_until(lambda: any(s.name.startswith("chat ") for s in rx.spans()), 30)
            # A cancelled run, and a failed client call, for the metrics they produce.
            long_run = await client.start_workflow(
                ProbeMaster.run,
                ProbeInput(workspace="ws", children=1, turns=500),
                id=f"probe-cancel-{uuid.uuid4().hex[:8]}",
                task_queue=settings.task_queue,
            )
            await wait_until(
                lambda: any(
                    s.attributes.get(tn.GEN_AI_AGENT_ID) == f"{long_run.id}.1" for s in rx.spans()
                ),
                30,
            )
            await long_run.cancel()
            with pytest.raises(WorkflowFailureError):
                await long_run.result()
            with pytest.raises(RPCError):
                await client.get_workflow_handle("no-such-workflow").describe()
            # A failed workflow task (retried by Temporal): no span ends, no task fails.
            flaky = await client.start_workflow(
                ProbeTaskFailure.run,
                id=f"probe-task-{uuid.uuid4().hex[:8]}",
                task_queue=settings.task_queue,
            )
            await wait_until(lambda: "temporal_workflow_task_execution_failed" in t.metric_names)
            await flaky.signal(ProbeTaskFailure.fix)
            assert await flaky.result() == "fixed"
        if workflows_wired():
            await _run_demo_master(client, settings, tmp_path)
        await t.shutdown()  # what the worker does after draining: flush spans and metrics
        exercised = t.metric_names  # every name that went through the SDK's metric buffer

    spans = rx.spans()
    assert spans and all(
        s.resource.get("service.name") == "agentfleet-worker"
        and s.resource.get("deployment.environment.name") == "test"
        for s in spans
    )
    probe = [s for s in spans if s.attributes.get(tn.GEN_AI_CONVERSATION_ID) == result.workflow_id]
    names = Counter(s.name for s in probe)
    assert names["invoke_agent master"] == 1
    assert names["invoke_agent sub-agent: part 1"] == names["invoke_agent sub-agent: part 2"] == 1
    assert names["execute_tool write_file"] == 2 and names["execute_tool read_file"] == 1
    chats = [s for s in probe if s.attributes.get(tn.GEN_AI_OPERATION) == "chat"]
    assert len(chats) == result.llm_calls + 1  # one more: the rate-limited attempt
    limited = [s for s in chats if s.span.status.code == 2]
    assert [s.attributes["error.type"] for s in limited] == ["LlmRateLimited"]
    assert limited[0].attributes[tn.AF_ATTEMPT] == 1
    assert any(s.attributes[tn.AF_ATTEMPT] == 2 for s in chats)
    ok = [s for s in chats if s.span.status.code != 2]
    assert all(
        s.attributes[tn.GEN_AI_PROVIDER] == "anthropic"
        and s.attributes[tn.GEN_AI_REQUEST_MODEL] == "claude-haiku-4-5"
        and s.attributes[tn.GEN_AI_RESPONSE_ID]
        and s.attributes[tn.GEN_AI_FINISH_REASONS] == ["end_turn"]
        and s.attributes[tn.GEN_AI_INPUT_TOKENS] > 0
        and s.attributes[tn.AF_SIMULATED] is True
        for s in ok
    )
    (denied,) = [s for s in probe if s.name == "execute_tool read_file"]
    assert denied.span.status.code == 2 and denied.attributes["error.type"] == "SandboxViolation"
    assert denied.attributes[tn.GEN_AI_TOOL_CALL_ID] == "deny-1"
    (failed,) = [s for s in probe if s.name == "invoke_agent sub-agent: part 2"]
    assert failed.span.status.code == 2 and failed.attributes[tn.AF_STATUS] == "failed"
    cancelled = {
        s.attributes[tn.GEN_AI_AGENT_ID]: s
        for s in spans
        if s.name.startswith("invoke_agent")
        and s.attributes[tn.GEN_AI_CONVERSATION_ID] == long_run.id
    }
    assert set(cancelled) == {long_run.id, f"{long_run.id}.1"}
    assert all(s.attributes[tn.AF_STATUS] == "cancelled" for s in cancelled.values())
    (fixed,) = [s for s in spans if s.attributes.get(tn.GEN_AI_AGENT_ID) == flaky.id]
    assert fixed.attributes[tn.AF_STATUS] == "completed" and fixed.span.status.code != 2
    master = next(s for s in probe if s.name == "invoke_agent master")
    assert master.attributes[tn.AF_TIER] == "complex" and master.attributes[tn.AF_PRUNED] == 1
    assert master.attributes[tn.AF_STATUS] == "partial"
    # Prompts and outputs stay off spans unless AGENTFLEET_TRACE_CONTENT=1.
    assert not any(CONTENT_ATTRIBUTES & set(s.attributes) for s in spans)

    received = {n for n in rx.metric_names()}
    assert all(r.get("service.name") == "agentfleet-worker" for r in rx.metric_resources())
    fleet = set(tn.FLEET_METRICS)
    assert exercised & fleet == fleet, fleet - exercised  # the probe records every fleet metric
    assert exercised <= received, exercised - received  # nothing recorded was lost
    assert CORE_METRICS <= received, CORE_METRICS - received
    # No exporter added a unit or _total suffix; only the SDK's own names may end in one.
    suffixed = {n for n in received if n.endswith(("_total", "_milliseconds", "_seconds", "_ms"))}
    assert suffixed <= SDK_SUFFIXED_NAMES, suffixed - SDK_SUFFIXED_NAMES
    assert all(n.startswith(("temporal_", "agentfleet_")) for n in received), received
    # Counters agree with the spans.
    # Counters agree with the spans (the probe's task queue; the demo, if any, has its own).
    q = {"task_queue": settings.task_queue}
    all_chats = [s for s in spans if s.attributes.get(tn.GEN_AI_OPERATION) == "chat"]
    assert rx.counter_total(tn.LLM_CALLS, **q) == len(all_chats) - len(chats_of_demo(spans))
    assert rx.counter_total(tn.LLM_RETRIES, error_class="LlmRateLimited", **q) == 1
    assert rx.counter_total(tn.TOOL_DENIED, tool="read_file", **q) == 1
    assert rx.counter_total(tn.TOOL_CALLS, **q) == sum(
        1
        for s in spans
        if s.attributes.get(tn.GEN_AI_OPERATION) == "execute_tool"
        and s.attributes[tn.GEN_AI_CONVERSATION_ID] in (result.workflow_id, long_run.id)
    )
    # Tasks: the probe (a master, two sub-agents, one failing) and the cancelled run (a
    # master and a sub-agent), each counted once although the one-slot cache made them replay.
    assert rx.counter_total(tn.TASKS_STARTED, role="subagent", depth=1, **q) == 3
    # Workflow metrics are at-least-once: a final task that the server bounces (new events
    # arrived, e.g. the cancel reaching the child) re-runs live and records again
    # (workflows/_observe.py). The spans above are exactly once; the counter may be one over.
    assert 2 <= rx.counter_total(tn.TASKS_FAILED, role="subagent", tier="simple", **q) <= 3
    # The probe master ends `partial` (a child failed): not verified work, so it lands in
    # `unverified` on the dashboards, never in `completed` (workflows/_observe.outcome_metric).
    assert rx.counter_total(tn.TASKS_UNVERIFIED, role="master", tier="complex", **q) == 1
    assert rx.counter_total(tn.TASKS_COMPLETED, role="master", tier="complex", **q) == 0
    assert 1 <= rx.counter_total(tn.TASKS_FAILED, role="master", **q) <= 2  # the cancelled one
    assert rx.counter_total(tn.TASKS_STARTED, role="master", **q) == 2
    assert rx.counter_total(tn.TASKS_FAILED, role="inline", **q) == 0
    assert rx.counter_total(tn.TASKS_COMPLETED, role="inline", **q) == 1
    answered = [
        s
        for s in all_chats
        if s.span.status.code != 2
        and s not in chats_of_demo(spans)
        and tn.GEN_AI_INPUT_TOKENS in s.attributes
    ]
    tokens = sum(
        s.attributes[tn.GEN_AI_INPUT_TOKENS] + s.attributes[tn.GEN_AI_OUTPUT_TOKENS]
        for s in answered
    )
    assert rx.counter_total(tn.LLM_TOKENS, **q) == tokens
    assert rx.counter_total(tn.LLM_TOKENS, direction="output", **q) == sum(
        s.attributes[tn.GEN_AI_OUTPUT_TOKENS] for s in answered
    )
    if os.environ.get("AGENTFLEET_CAPTURE_METRICS") == "1":
        CAPTURED.parent.mkdir(parents=True, exist_ok=True)
        CAPTURED.write_text(
            "# Metric names a real worker run exported over OTLP (tests/test_telemetry.py,\n"
            "# AGENTFLEET_CAPTURE_METRICS=1): Temporal SDK metrics and the fleet metrics.\n"
            + "".join(f"{n}\n" for n in sorted(received))
        )


def chats_of_demo(spans: list[Any]) -> list[Any]:
    return [
        s
        for s in spans
        if s.attributes.get(tn.GEN_AI_OPERATION) == "chat"
        and str(s.attributes.get(tn.GEN_AI_CONVERSATION_ID, "")).startswith("demo-")
    ]


async def _run_demo_master(client: Client, settings: Settings, tmp_path: Path) -> Any:
    from agentfleet.cli.demo import DEMO_GOAL, seed_workspace
    from agentfleet.contracts.models import MasterInput
    from worker import build_worker
    from workflows.master import MasterAgentWorkflow

    seed_workspace(settings.workspaces / "demo")
    queue = settings.task_queue + "-demo"
    async with build_worker(client, settings, queue):
        return await client.execute_workflow(
            MasterAgentWorkflow.run,
            MasterInput(goal=DEMO_GOAL, workspace="demo"),
            id=f"demo-{uuid.uuid4().hex[:8]}",
            task_queue=queue,
        )


async def test_http_protobuf_protocol_and_opt_in_content(
    devserver: DevServer, sim: Simulator, tmp_path: Path, telemetries: Callable[..., Telemetry]
) -> None:
    with OtlpReceiver() as rx:
        settings = make_settings(tmp_path / "home", devserver, sim.url)
        (settings.workspaces / "ws").mkdir()
        t = telemetries(
            {
                "AGENTFLEET_HOME": str(settings.home),
                "OTEL_EXPORTER_OTLP_ENDPOINT": rx.http_endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_SERVICE_NAME": "agentfleet-http",
                "AGENTFLEET_TRACE_CONTENT": "1",
            }
        )
        client = await connect(devserver.address, plugins=t.plugins, runtime=t.runtime)
        async with build_probe_worker(client, settings):
            await run_probe(
                client, settings.task_queue, ProbeInput(workspace="ws", children=1, turns=1)
            )
        await t.shutdown()
    assert {"/v1/traces", "/v1/metrics"} <= set(rx.http_paths)
    spans = rx.spans()
    assert {s.resource["service.name"] for s in spans} == {"agentfleet-http"}
    chats = [s for s in spans if s.name.startswith("chat ")]
    assert len(chats) == 3
    assert any("part 1: turn 1" in c.attributes["gen_ai.input.messages"] for c in chats)
    assert all("Simulated" in c.attributes["gen_ai.output.messages"] for c in chats)
    assert all("ROLE: inline" in c.attributes["gen_ai.system_instructions"] for c in chats)
    tool = next(s for s in spans if s.name == "execute_tool write_file")
    assert "turn-1.txt" in tool.attributes["gen_ai.tool.call.arguments"]
    # A file tool is the application's own function; MCP tools are `extension`.
    assert tool.attributes["gen_ai.tool.type"] == "function"
    assert {tn.TASKS_STARTED, tn.LLM_CALLS, tn.TOOL_CALLS} <= rx.metric_names()
    assert "temporal_activity_execution_latency" in rx.metric_names()


# --------------------------------------------------------------------------- replay


async def test_replay_with_the_tracing_plugin_exports_no_spans(
    devserver: DevServer, settings: Settings, telemetries: Callable[..., Telemetry]
) -> None:
    exporter = InMemorySpanExporter()
    t = telemetries(settings, span_exporter=exporter)
    client = await connect(devserver.address, plugins=t.plugins, runtime=t.runtime)
    (settings.workspaces / "ws").mkdir()
    async with build_probe_worker(client, settings):
        result = await run_probe(
            client, settings.task_queue, ProbeInput(workspace="ws", children=2, turns=2)
        )
    await t.force_flush()
    live = exporter.get_finished_spans()
    assert Counter(s.name.split(" ")[0] for s in live)["invoke_agent"] == 3
    fresh = [
        await client.get_workflow_handle(wid).fetch_history()
        for wid in [result.workflow_id, *result.children]
    ]
    recorded = [
        WorkflowHistory.from_json(f.stem.split("__", 1)[1], f.read_text())
        for f in sorted(HISTORIES.glob("*.json"))
    ]
    exporter.clear()
    workflows: list[type] = list(PROBE_WORKFLOWS)
    try:
        from workflows.master import MasterAgentWorkflow
        from workflows.subagent import SubAgentWorkflow

        workflows += [MasterAgentWorkflow, SubAgentWorkflow]
    except Exception:  # the agent workflows are mid-edit: the probes still prove the point
        recorded = []
    replayer = Replayer(workflows=workflows, plugins=t.plugins, data_converter=data_converter)
    for history in fresh:
        replay = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert replay.replay_failure is None, replay.replay_failure
    for history in recorded:
        # Whether old histories still replay is tests/test_replay.py's business; here:
        # whatever replays, nothing is exported.
        await replayer.replay_workflow(history, raise_on_replay_failure=False)
    await t.force_flush()
    assert exporter.get_finished_spans() == ()
    # The same with the local span file (and its durable-flush plugin): nothing written.
    local = telemetries({"AGENTFLEET_HOME": str(settings.home / "replay")})
    assert local.span_file is not None and len(local.plugins) == 2
    replayer = Replayer(workflows=workflows, plugins=local.plugins, data_converter=data_converter)
    for history in fresh:
        replay = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert replay.replay_failure is None, replay.replay_failure
    await local.shutdown()
    assert not local.span_file.exists() or not local.span_file.read_text()


# --------------------------------------------------------------------------- exactly once


class ProbeWorkerProcess(WorkerProcess):
    """worker.run() with the probe workflows, as a process (see tests/telemetry_workflows.py)."""

    def start(self) -> ProbeWorkerProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.telemetry_workflows"],
                cwd=ROOT,
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self


def all_span_occurrences(path: Path) -> list[SpanRecord]:
    """Every span line by line, duplicates included (read_spans would fold them)."""
    out: list[SpanRecord] = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        try:
            out.extend(parse_line(line))
        except ValueError:
            continue
    return out


async def wait_until(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {check}")


async def running_children(client: Client, root_id: str) -> int:
    n = 0
    async for _ in client.list_workflows(
        f"WorkflowId STARTS_WITH '{root_id}.' AND ExecutionStatus = 'Running'"
    ):
        n += 1
    return n


async def kill_twice_and_finish(
    client: Client,
    handle: WorkflowHandle[Any, Any],
    span_file: Path,
    start: Callable[[], WorkerProcess],
) -> Any:
    """SIGKILL the worker twice mid-run, restart it, let the run finish, stop gracefully."""
    procs = [start()]
    try:
        for _ in range(200):
            if await running_children(client, handle.id) >= 2:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("no sub-agents started")
        await asyncio.sleep(0.6)
        # Progress is visible while the tree runs: activity spans, no master span yet.
        live = all_span_occurrences(span_file)
        assert any(s.attributes.get(tn.GEN_AI_OPERATION) == "chat" for s in live)
        assert not any(
            s.attributes.get(tn.GEN_AI_AGENT_ID) == handle.id
            and s.attributes.get(tn.GEN_AI_OPERATION) == "invoke_agent"
            for s in live
        )
        for _ in range(2):
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
            before = len(all_span_occurrences(span_file))
            procs[-1].kill()
            procs.append(start())
            # Let the new worker make progress (a new span) before the next blow.
            await wait_until(lambda b=before: len(all_span_occurrences(span_file)) > b, 90)
            await asyncio.sleep(0.3)
        result = await asyncio.wait_for(handle.result(), timeout=240)
        assert procs[-1].terminate() == 0  # SIGTERM: drain, flush, exit 0
    finally:
        for p in procs:
            p.kill()
    return result


@dataclass
class ActivityRun:
    workflow_id: str
    activity_id: str
    activity_type: str
    final_attempt: int
    completed: bool


async def tree_workflows(client: Client, root_id: str) -> dict[str, datetime]:
    """Every workflow of the tree with its WorkflowExecutionStarted time from history."""
    ids = [root_id]
    async for wf in client.list_workflows(f"WorkflowId STARTS_WITH '{root_id}.'"):
        ids.append(wf.id)
    out: dict[str, datetime] = {}
    for wid in ids:
        history = await client.get_workflow_handle(wid).fetch_history()
        first = history.events[0]
        assert first.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
        out[wid] = first.event_time.ToDatetime(tzinfo=UTC)
    return out


async def activity_runs(client: Client, workflow_id: str) -> list[ActivityRun]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    scheduled: dict[int, ActivityRun] = {}
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            a = e.activity_task_scheduled_event_attributes
            scheduled[e.event_id] = ActivityRun(
                workflow_id, a.activity_id, a.activity_type.name, 0, False
            )
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            a = e.activity_task_started_event_attributes
            scheduled[a.scheduled_event_id].final_attempt = a.attempt
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            a = e.activity_task_completed_event_attributes
            scheduled[a.scheduled_event_id].completed = True
    return list(scheduled.values())


def _ns(dt: datetime) -> int:
    return (dt - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


async def assert_exactly_once(client: Client, root_id: str, span_file: Path) -> dict[str, Any]:
    occurrences = all_span_occurrences(span_file)
    dupes = [k for k, n in Counter((s.trace_id, s.span_id) for s in occurrences).items() if n > 1]
    assert not dupes, f"spans exported twice: {dupes}"
    workflows = await tree_workflows(client, root_id)
    ours = [
        s
        for s in occurrences
        if s.attributes.get(tn.GEN_AI_CONVERSATION_ID) == root_id
        or s.attributes.get(tn.GEN_AI_AGENT_ID) in workflows
    ]
    # One trace per root task, and nothing else in it.
    traces = {s.trace_id for s in ours}
    assert len(traces) == 1, traces
    spans = [s for s in occurrences if s.trace_id in traces]
    assert {s.span_id for s in spans} == {s.span_id for s in ours}
    by_id = {s.span_id: s for s in spans}
    # One invoke_agent span per workflow, starting at the workflow's start from history.
    agents = [s for s in spans if s.attributes.get(tn.GEN_AI_OPERATION) == "invoke_agent"]
    per_workflow = Counter(s.attributes[tn.GEN_AI_AGENT_ID] for s in agents)
    assert per_workflow == Counter(list(workflows)), (per_workflow, workflows)
    agent_span = {s.attributes[tn.GEN_AI_AGENT_ID]: s for s in agents}
    for wid, started in workflows.items():
        s = agent_span[wid]
        assert s.start_ns // 1000 == _ns(started) // 1000, (wid, iso(s.start_ns), started)
        assert s.attributes[tn.GEN_AI_CONVERSATION_ID] == root_id
        assert s.start_ns <= s.end_ns

    def agent_of(s: SpanRecord) -> SpanRecord | None:
        parent = by_id.get(s.parent_span_id)
        while parent is not None and parent.attributes.get(tn.GEN_AI_OPERATION) != "invoke_agent":
            parent = by_id.get(parent.parent_span_id)
        return parent

    # Parentage: the root has no parent; a child workflow sits under its parent's agent span;
    # activity spans under the agent span of the workflow that scheduled them.
    assert not agent_span[root_id].parent_span_id
    for wid, s in agent_span.items():
        if wid != root_id:
            parent = agent_of(s)
            assert (
                parent is not None
                and parent.attributes[tn.GEN_AI_AGENT_ID] == wid.rsplit(".", 1)[0]
            )
    for s in spans:
        if s.parent_span_id:
            assert s.parent_span_id in by_id, f"{s.name}: parent not exported"
            assert s.start_ns >= by_id[s.parent_span_id].start_ns, f"{s.name} starts before parent"
        assert isinstance(s.start_ns, int) and 10**18 < s.start_ns <= s.end_ns
        if s.attributes.get(tn.GEN_AI_OPERATION) in ("chat", "execute_tool"):
            owner = agent_of(s)
            assert owner is not None
            assert owner.attributes[tn.GEN_AI_AGENT_ID] == s.attributes[tn.GEN_AI_AGENT_ID]
    # One span per activity attempt that finished; a gap is a killed attempt, and a retry's
    # span (attempt > 1) is backed by history showing the activity was retried.
    op_of = {"agentfleet.llm.chat": "chat", "agentfleet.tool.run": "execute_tool"}
    attempts: dict[tuple[str, str], list[SpanRecord]] = defaultdict(list)
    for s in spans:
        if s.attributes.get(tn.GEN_AI_OPERATION) in ("chat", "execute_tool"):
            key = (s.attributes[tn.GEN_AI_AGENT_ID], s.attributes["agentfleet.activity_id"])
            attempts[key].append(s)
    runs = [
        r for wid in workflows for r in await activity_runs(client, wid) if r.activity_type in op_of
    ]
    assert runs
    known = {(r.workflow_id, r.activity_id): r for r in runs}
    assert set(attempts) <= set(known), set(attempts) - set(known)
    for key, found in attempts.items():
        run = known[key]
        numbers = Counter(s.attributes[tn.AF_ATTEMPT] for s in found)
        assert all(n == 1 for n in numbers.values()), (key, numbers)  # once per attempt
        assert max(numbers) <= run.final_attempt, (key, numbers, run)
        assert all(s.attributes[tn.GEN_AI_OPERATION] == op_of[run.activity_type] for s in found)
    for run in runs:
        if run.completed:
            finished = [
                s
                for s in attempts.get((run.workflow_id, run.activity_id), [])
                if s.attributes[tn.AF_ATTEMPT] == run.final_attempt
            ]
            assert len(finished) == 1, (run, "the attempt that completed has no span")
    return {
        "workflows": len(workflows),
        "spans": len(spans),
        "activities": len(runs),
        "retried_activities": sum(1 for r in runs if r.final_attempt > 1),
        "attempt_spans": {
            f"{op} attempt {n}": c
            for (op, n), c in sorted(
                Counter(
                    (s.attributes[tn.GEN_AI_OPERATION], s.attributes[tn.AF_ATTEMPT])
                    for found in attempts.values()
                    for s in found
                ).items()
            )
        },
        "attempts_without_span": sum(r.final_attempt for r in runs)
        - sum(len(f) for f in attempts.values()),
    }


async def test_exactly_once_across_two_sigkills_probe(
    client: Client, devserver: DevServer, slow_sim: Simulator, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "home", devserver, slow_sim.url)
    (settings.workspaces / "ws").mkdir()
    log = ARTIFACTS / f"telemetry-kill-probe-{uuid.uuid4().hex[:6]}.log"
    span_file = settings.home / SPAN_FILE
    handle = await client.start_workflow(
        ProbeMaster.run,
        ProbeInput(workspace="ws", children=3, turns=4),
        id=f"probe-kill-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
    )
    result = await kill_twice_and_finish(
        client, handle, span_file, lambda: ProbeWorkerProcess(settings, log).start()
    )
    assert not result.failed
    summary = await assert_exactly_once(client, handle.id, span_file)
    log.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    code, out = trace_command(settings.home, handle.id, as_json=False)
    assert code == 0 and "still running" not in out


@requires_wiring
async def test_exactly_once_across_two_sigkills_master(
    client: Client, devserver: DevServer, slow_sim: Simulator, tmp_path: Path
) -> None:
    from agentfleet.cli.demo import DEMO_GOAL, seed_workspace
    from agentfleet.contracts.models import MasterInput
    from workflows.master import MasterAgentWorkflow

    settings = make_settings(tmp_path / "home", devserver, slow_sim.url)
    seed_workspace(settings.workspaces / "ws")
    log = ARTIFACTS / f"telemetry-kill-master-{uuid.uuid4().hex[:6]}.log"
    span_file = settings.home / SPAN_FILE
    handle = await client.start_workflow(
        MasterAgentWorkflow.run,
        MasterInput(goal=DEMO_GOAL, workspace="ws"),
        id=f"master-kill-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
    )
    await kill_twice_and_finish(
        client, handle, span_file, lambda: WorkerProcess(settings, log).start()
    )
    await assert_exactly_once(client, handle.id, span_file)


async def test_sigterm_drains_then_flushes_spans_and_metrics(
    client: Client, devserver: DevServer, sim: Simulator, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "home", devserver, sim.url)
    (settings.workspaces / "ws").mkdir()
    with OtlpReceiver() as rx:
        # Nothing is exported on a timer during the test: what arrives came from the flush.
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
            "OTEL_METRIC_EXPORT_INTERVAL": "600000",
            "OTEL_BSP_SCHEDULE_DELAY": "600000",
        }
        log = ARTIFACTS / f"telemetry-sigterm-{uuid.uuid4().hex[:6]}.log"
        proc = ProbeWorkerProcess(settings, log, extra_env=env).start()
        try:
            result = await run_probe(
                client, settings.task_queue, ProbeInput(workspace="ws", children=1, turns=1)
            )
            assert not rx.spans() and not rx.metric_names()
            assert await asyncio.to_thread(proc.terminate) == 0
        finally:
            proc.kill()
        spans = rx.spans()
        agents = {
            s.attributes.get(tn.GEN_AI_AGENT_ID) for s in spans if s.name.startswith("invoke")
        }
        assert agents == {result.workflow_id, *result.children}
        assert {
            tn.TASKS_COMPLETED,
            tn.LLM_CALLS,
            "temporal_workflow_completed",
        } <= rx.metric_names()
        assert rx.counter_total(tn.TASKS_COMPLETED) == 2


# --------------------------------------------------------------------------- trace view


async def test_trace_view_of_a_probe_run(
    devserver: DevServer, settings: Settings, telemetries: Callable[..., Telemetry]
) -> None:
    t = telemetries(settings)
    assert t.span_file == settings.home / SPAN_FILE and not t.metrics_enabled
    client = await connect(devserver.address, plugins=t.plugins, runtime=t.runtime)
    (settings.workspaces / "ws").mkdir()
    async with build_probe_worker(client, settings):
        result = await run_probe(
            client, settings.task_queue, ProbeInput(workspace="ws", children=2, turns=1, deny=True)
        )
    await t.shutdown()
    code, out = trace_command(settings.home, result.workflow_id, as_json=False)
    assert code == 0, out
    lines = out.splitlines()
    master = next(i for i, ln in enumerate(lines) if "invoke_agent master" in ln)
    assert "├─ invoke_agent sub-agent: part 1" in out and "└─ chat claude-haiku-4-5" in out
    assert "│  ├─ execute_tool write_file" in out and "ERROR SandboxViolation" in out
    assert lines[master].startswith(datetime.now(UTC).strftime("%Y-"))  # UTC ISO start first
    by_child = trace_command(settings.home, result.children[0], as_json=False)[1]
    assert by_child.split("\n", 1)[1] == out.split("\n", 1)[1]  # a sub-agent id: same trace
    code, text = trace_command(settings.home, result.workflow_id, as_json=True)
    (tr,) = json.loads(text)["traces"]
    (root,) = tr["spans"]
    assert root["attributes"][tn.GEN_AI_AGENT_ID] == result.workflow_id
    subs = [c for c in root["children"] if c["name"].startswith("invoke_agent sub-agent")]
    assert len(subs) == 2 and all(c["children"] for c in subs)
    assert {g["name"] for c in subs for g in c["children"]} >= {
        "chat claude-haiku-4-5",
        "execute_tool write_file",
    }
    assert root["start"].endswith("Z") and isinstance(root["start_unix_nano"], int)


@requires_wiring
async def test_trace_view_of_a_demo_run(
    devserver: DevServer, settings: Settings, tmp_path: Path, telemetries: Callable[..., Telemetry]
) -> None:
    t = telemetries(settings)
    client = await connect(devserver.address, plugins=t.plugins, runtime=t.runtime)
    result = await _run_demo_master(client, settings, tmp_path)
    await t.shutdown()
    code, out = trace_command(settings.home, result.tree.workflow_id, as_json=False)
    assert code == 0, out
    assert "invoke_agent master" in out
    assert "├─ invoke_agent sub-agent" in out or "└─ invoke_agent sub-agent" in out
    assert "chat " in out and "execute_tool " in out
    doc = json.loads(trace_command(settings.home, result.tree.workflow_id, as_json=True)[1])
    (tr,) = doc["traces"]
    (root,) = tr["spans"]
    subs = [c for c in root["children"] if c["name"].startswith("invoke_agent")]
    assert subs
    ops = {g["attributes"].get(tn.GEN_AI_OPERATION) for c in subs for g in c["children"]}
    assert {"chat", "execute_tool"} <= ops
