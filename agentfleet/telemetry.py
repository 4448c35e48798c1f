"""Tracing and metrics for agentfleet, set up once per process from the standard OTel env vars.

    telemetry = setup_telemetry(settings)                    # or a dict of env vars
    client = await connect(address, namespace, plugins=telemetry.plugins, runtime=telemetry.runtime)
    ...                                                      # workers built from this client
    await telemetry.shutdown()                               # flushes spans and metrics

Configuration (read from the env given, `os.environ` for a `Settings`):

- `OTEL_EXPORTER_OTLP_ENDPOINT`: the collector. Unset: spans go to the local file
  `$AGENTFLEET_HOME/traces/spans.jsonl` and metrics are not exported.
- `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`: per signal, as is.
- `OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc` (default) or `http/protobuf`; per signal too
  (`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`).
- `OTEL_EXPORTER_OTLP_HEADERS`: `key=value,key2=value2`, sent with every export.
- `OTEL_SERVICE_NAME`: `service.name`; default the `service_name` argument, else
  `agentfleet-worker`. `OTEL_RESOURCE_ATTRIBUTES`: `key=value,...` on spans and metrics.
- `OTEL_METRIC_EXPORT_INTERVAL`: metric export period in ms (default 10000).
- `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`,
  `OTEL_BSP_EXPORT_TIMEOUT`: BatchSpanProcessor tuning.
- `AGENTFLEET_TRACE_CONTENT=1`: put prompts, outputs and tool arguments on spans (off by
  default: spans carry models, ids, token counts and errors, never content).

Tracing: Temporal's `OpenTelemetryPlugin` on the client (never also `TracingInterceptor`) and
a replay-safe provider from `create_tracer_provider()`, with a `BatchSpanProcessor`. Workflow
spans (`workflows/_observe.py`) get deterministic ids and are ended only by the worker that
completes the workflow, so a replay exports nothing. Activity spans (`chat`, `execute_tool`,
built here) are exported as soon as the attempt ends: they show a long run's progress.

With the local span file, spans are also *durable before Temporal hears of them*: the spans of an
activity are written before its result is reported, and a workflow span before the activation
that ended it is completed. A worker killed with SIGKILL therefore never loses the span of work
that Temporal considers done; an attempt killed mid-flight has no span, and its retry's span
carries `agentfleet.attempt` > 1. With an OTLP endpoint, spans are batched as usual (a SIGKILL
may lose the last `OTEL_BSP_SCHEDULE_DELAY` of them; SIGTERM loses nothing).

Metrics: the Temporal SDK's own metrics (`temporal_*`, durations in milliseconds, exactly the
names of the SDK dashboards) and the fleet metrics recorded through `workflow.metric_meter()` and
`activity.metric_meter()` all go through the temporalio `Runtime` returned here: a
`MetricBuffer` drained every second (`MetricDrain`, a value-keyed `MetricsExporter`) into an OTel
`MeterProvider` with the same resource as the spans, exported over OTLP (so `force_flush()` and
`shutdown()` really push the last values). Without an endpoint, metrics are not exported.

Calling `setup_telemetry` twice in one process is fine (tests do): the process-wide tracer
provider is installed once and routes to the newest live `Telemetry`; `shutdown()` detaches it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from google.protobuf import json_format
from opentelemetry import baggage, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue
from temporalio import activity
from temporalio.contrib.opentelemetry import (
    OpenTelemetryPlugin,
    ReplaySafeTracerProvider,
    create_tracer_provider,
)
from temporalio.exceptions import ApplicationError
from temporalio.plugin import SimplePlugin
from temporalio.runtime import BufferedMetricUpdate, MetricBuffer, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    WorkflowInstance,
    WorkflowRunner,
)

from agentfleet import telemetry_names as tn

if TYPE_CHECKING:
    from agentfleet.config import Settings
    from agentfleet.models import LlmRequest, LlmResponse, ToolRequest, ToolResult

log = logging.getLogger("agentfleet.telemetry")

SPAN_FILE = Path("traces") / "spans.jsonl"
DEFAULT_METRIC_INTERVAL_MS = 10_000
ACTIVITY_TRACER = "agentfleet.activities"
PROVIDER_ANTHROPIC = "anthropic"

# Attribute names used here that telemetry_names.py does not (yet) carry: standard OTel names
# (error.type, gen_ai.request.max_tokens, the opt-in content attributes), the Anthropic SDK's
# request id, and two of ours that tie a span to its Temporal activity.
ERROR_TYPE = "error.type"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"
AF_ACTIVITY_ID = "agentfleet.activity_id"
ANTHROPIC_REQUEST_ID = "anthropic.request.id"  # as the Anthropic SDK names it
AF_TOOL_ALREADY_DONE = "agentfleet.tool.already_done"

# Live Telemetry objects, newest last: the newest decides what activity spans carry.
_live: list[Telemetry] = []


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class TelemetryOptions:
    """What the OTel env vars ask for, resolved."""

    service_name: str
    resource_attributes: Mapping[str, str]
    traces_endpoint: str | None
    traces_protocol: str
    metrics_endpoint: str | None
    metrics_protocol: str
    headers: Mapping[str, str]
    metric_interval_ms: int
    span_file: Path
    capture_content: bool
    batch: Mapping[str, int] = field(default_factory=dict)  # BatchSpanProcessor options

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], home: Path, service_name: str | None = None
    ) -> TelemetryOptions:
        resource = _parse_pairs(env.get("OTEL_RESOURCE_ATTRIBUTES", ""))
        name = (
            env.get("OTEL_SERVICE_NAME")
            or resource.get(SERVICE_NAME)
            or service_name
            or tn.SERVICE_NAME_DEFAULT
        )
        base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None
        protocol = _protocol(env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc")
        traces_protocol = _protocol(env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or protocol)
        metrics_protocol = _protocol(env.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL") or protocol)
        interval = env.get("OTEL_METRIC_EXPORT_INTERVAL") or str(DEFAULT_METRIC_INTERVAL_MS)
        return cls(
            service_name=name,
            resource_attributes={**resource, SERVICE_NAME: name},
            traces_endpoint=_signal_endpoint(
                env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), base, traces_protocol, "traces"
            ),
            traces_protocol=traces_protocol,
            metrics_endpoint=_signal_endpoint(
                env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"), base, metrics_protocol, "metrics"
            ),
            metrics_protocol=metrics_protocol,
            headers=_parse_pairs(env.get("OTEL_EXPORTER_OTLP_HEADERS", "")),
            metric_interval_ms=max(100, int(float(interval))),
            span_file=home / SPAN_FILE,
            capture_content=env.get("AGENTFLEET_TRACE_CONTENT", "").strip().lower()
            in ("1", "true", "yes"),
            batch={
                arg: int(float(env[var]))
                for var, arg in _BSP_ENV.items()
                if (env.get(var) or "").strip()
            },
        )


# Read from the env given (the SDK itself would read only os.environ).
_BSP_ENV = {
    "OTEL_BSP_SCHEDULE_DELAY": "schedule_delay_millis",
    "OTEL_BSP_MAX_QUEUE_SIZE": "max_queue_size",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "max_export_batch_size",
    "OTEL_BSP_EXPORT_TIMEOUT": "export_timeout_millis",
}


def _parse_pairs(raw: str) -> dict[str, str]:
    """`k=v,k2=v2` as in OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS (URL-decoded)."""
    out: dict[str, str] = {}
    for part in raw.split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            out[unquote(key.strip())] = unquote(value.strip())
    return out


def _protocol(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("grpc", "http/protobuf"):
        raise ValueError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={raw!r} is not supported: use grpc or http/protobuf"
        )
    return value


def _signal_endpoint(specific: str | None, base: str | None, protocol: str, signal: str) -> str:
    if specific:
        return _with_scheme(specific)
    if not base:
        return ""
    url = _with_scheme(base)
    if protocol == "http/protobuf":
        return url.rstrip("/") + f"/v1/{signal}"
    return url


def _with_scheme(url: str) -> str:
    url = url.strip()
    return url if "://" in url else f"http://{url}"


# --------------------------------------------------------------------------- span file


class OtlpJsonLinesExporter(SpanExporter):
    """Appends each batch as one line: an ExportTraceServiceRequest in OTLP/JSON.

    The line is `otlp_json(encode_spans(spans))`: the protobuf JSON mapping with integer enums
    and hex trace and span ids, as the OTLP/JSON spec asks (the Collector's `otlpjsonfile`
    receiver reads it). It is built directly from the spans by `encode_otlp_json`, which gives
    the same document (tests check) at a fraction of the cost: with durable spans, every
    activity flushes its span on its own. Each batch is one `write()` on an `O_APPEND`
    descriptor, so several processes can append to one file safely.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        line = json.dumps(encode_otlp_json(spans), separators=(",", ":")) + "\n"
        data = line.encode()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        except OSError:
            log.exception("cannot append spans to %s", self.path)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def encode_otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """`otlp_json(encode_spans(spans))`, without the detour through protobuf messages."""
    by_resource: dict[Any, dict[Any, list[dict[str, Any]]]] = {}
    for span in spans:
        scopes = by_resource.setdefault(span.resource, {})
        scopes.setdefault(span.instrumentation_scope or None, []).append(_span_json(span))
    resource_spans = []
    for resource, scopes in by_resource.items():
        scope_spans = []
        for scope, encoded in scopes.items():
            entry: dict[str, Any] = {"scope": _scope_json(scope), "spans": encoded}
            if scope is not None and scope.schema_url:
                entry["schemaUrl"] = scope.schema_url
            scope_spans.append(entry)
        rs: dict[str, Any] = {"resource": _resource_json(resource), "scopeSpans": scope_spans}
        if resource.schema_url:
            rs["schemaUrl"] = resource.schema_url
        resource_spans.append(rs)
    return {"resourceSpans": resource_spans}


_FLAGS_HAS_IS_REMOTE = 0x100
_FLAGS_IS_REMOTE = 0x200


def _flags(parent: Any) -> int:
    return _FLAGS_HAS_IS_REMOTE | (
        _FLAGS_IS_REMOTE if parent is not None and parent.is_remote else 0
    )


def _span_json(span: ReadableSpan) -> dict[str, Any]:
    ctx = span.get_span_context()
    assert ctx is not None
    out: dict[str, Any] = {
        "traceId": f"{ctx.trace_id:032x}",
        "spanId": f"{ctx.span_id:016x}",
    }
    if ctx.trace_state:
        out["traceState"] = ",".join(f"{k}={v}" for k, v in ctx.trace_state.items())
    if span.parent is not None:
        out["parentSpanId"] = f"{span.parent.span_id:016x}"
    out["flags"] = _flags(span.parent)
    if span.name:
        out["name"] = span.name
    out["kind"] = span.kind.value + 1  # API INTERNAL=0 .. CONSUMER=4; OTLP is one higher
    if span.start_time:
        out["startTimeUnixNano"] = str(span.start_time)
    if span.end_time:
        out["endTimeUnixNano"] = str(span.end_time)
    if span.attributes:
        out["attributes"] = _kvs(span.attributes)
    if span.dropped_attributes:
        out["droppedAttributesCount"] = span.dropped_attributes
    if span.events:
        events = []
        for e in span.events:
            ev: dict[str, Any] = {}
            if e.timestamp:
                ev["timeUnixNano"] = str(e.timestamp)
            if e.name:
                ev["name"] = e.name
            if e.attributes:
                ev["attributes"] = _kvs(e.attributes)
            if e.dropped_attributes:
                ev["droppedAttributesCount"] = e.dropped_attributes
            events.append(ev)
        out["events"] = events
    if span.dropped_events:
        out["droppedEventsCount"] = span.dropped_events
    if span.links:
        links = []
        for link in span.links:
            lk: dict[str, Any] = {
                "traceId": f"{link.context.trace_id:032x}",
                "spanId": f"{link.context.span_id:016x}",
            }
            if link.attributes:
                lk["attributes"] = _kvs(link.attributes)
            if link.dropped_attributes:
                lk["droppedAttributesCount"] = link.dropped_attributes
            lk["flags"] = _flags(link.context)
            links.append(lk)
        out["links"] = links
    if span.dropped_links:
        out["droppedLinksCount"] = span.dropped_links
    status: dict[str, Any] = {}
    if span.status.description:
        status["message"] = span.status.description
    if span.status.status_code.value:
        status["code"] = span.status.status_code.value
    out["status"] = status
    return out


def _scope_json(scope: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if scope is None:
        return out
    if scope.name:
        out["name"] = scope.name
    if scope.version:
        out["version"] = scope.version
    if scope.attributes:
        out["attributes"] = _kvs(scope.attributes)
    return out


_resource_cache: dict[Any, dict[str, Any]] = {}


def _resource_json(resource: Any) -> dict[str, Any]:
    cached = _resource_cache.get(resource)
    if cached is None:
        cached = {"attributes": _kvs(resource.attributes)} if resource.attributes else {}
        if len(_resource_cache) < 64:
            _resource_cache[resource] = cached
    return cached


def _kvs(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _any(v)} for k, v in attributes.items()]


def _any(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode()}
    if isinstance(value, Mapping):
        items = [{"key": str(k), "value": _any(v)} for k, v in value.items()]
        return {"kvlistValue": {"values": items} if items else {}}
    if isinstance(value, Sequence):
        values = [_any(v) for v in value]
        return {"arrayValue": {"values": values} if values else {}}
    raise TypeError(f"cannot encode attribute value of type {type(value).__name__}")


def otlp_json(request: Any) -> dict[str, Any]:
    """The OTLP/JSON form of an ExportTraceServiceRequest (the reference for the file format)."""
    doc: dict[str, Any] = json_format.MessageToDict(request, use_integers_for_enums=True)
    for rs in doc.get("resourceSpans", ()):
        for ss in rs.get("scopeSpans", ()):
            for span in ss.get("spans", ()):
                _hex_ids(span)
                for link in span.get("links", ()):
                    _hex_ids(link)
    return doc


def _hex_ids(obj: dict[str, Any]) -> None:
    for key in ("traceId", "spanId", "parentSpanId"):
        if obj.get(key):
            obj[key] = base64.b64decode(obj[key]).hex()


# --------------------------------------------------------------------------- tracer provider


class _ProcessTracerProvider(ReplaySafeTracerProvider):
    """The process's one global tracer provider.

    OTel lets the global provider be set once, and Temporal's plugin requires it to be a
    `ReplaySafeTracerProvider`. This one delegates to the provider of the newest live
    `Telemetry` (each made by `create_tracer_provider()` with its own resource and exporter),
    and is a no-op when there is none.
    """

    def __init__(self) -> None:
        # Deliberately not calling super().__init__: there is no single wrapped provider.
        self._live: list[ReplaySafeTracerProvider] = []
        self._lock = threading.Lock()

    def attach(self, provider: ReplaySafeTracerProvider) -> None:
        with self._lock:
            self._live.append(provider)

    def detach(self, provider: ReplaySafeTracerProvider) -> None:
        with self._lock, suppress(ValueError):
            self._live.remove(provider)

    @property
    def current(self) -> ReplaySafeTracerProvider | None:
        live = self._live
        return live[-1] if live else None

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Any = None,
    ) -> trace.Tracer:
        cur = self.current
        if cur is None:
            return trace.NoOpTracer()
        return cur.get_tracer(
            instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )

    def add_span_processor(self, span_processor: Any) -> None:
        cur = self.current
        if cur is None:
            raise RuntimeError("no live Telemetry: call setup_telemetry() first")
        cur.add_span_processor(span_processor)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(p.force_flush(timeout_millis) for p in list(self._live))

    def shutdown(self) -> None:
        for p in list(self._live):
            p.shutdown()

    def id_generator(self) -> Any:
        cur = self.current
        if cur is None:
            raise RuntimeError("no live Telemetry: call setup_telemetry() first")
        return cur.id_generator()


_install_lock = threading.Lock()


def _process_provider() -> _ProcessTracerProvider:
    with _install_lock:
        current = trace.get_tracer_provider()
        if isinstance(current, _ProcessTracerProvider):
            return current
        if not isinstance(current, trace.ProxyTracerProvider):
            raise RuntimeError(
                f"a global tracer provider ({type(current).__name__}) is already set; "
                "agentfleet.telemetry must install its own (replay-safe) one"
            )
        provider = _ProcessTracerProvider()
        trace.set_tracer_provider(provider)
        return provider


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


# --------------------------------------------------------------------------- metrics


class MetricDrain:
    """Drains the Runtime's `MetricBuffer` into an OTel `MeterProvider`, every second.

    What `temporalio.contrib.opentelemetry.MetricsExporter` does, with one difference that
    matters here: instruments and attribute sets are keyed by value. MetricsExporter (temporalio
    1.35) keys its caches by `id()` of the buffer's metric and attribute objects without keeping
    them alive; custom metrics are created per activity and per workflow, their objects are
    freed, the ids are reused, and updates land on the wrong metric with the wrong labels (seen
    in tests/test_telemetry.py before this class existed). Also handles up-down counters.
    """

    def __init__(
        self, buffer: MetricBuffer, meter_provider: MeterProvider, interval: float = 1.0
    ) -> None:
        self._buffer = buffer
        self._meter = meter_provider.get_meter("temporalio")
        self._interval = interval
        self._instruments: dict[tuple[str, int], Any] = {}
        self._gauges: dict[str, dict[tuple[tuple[str, Any], ...], tuple[dict[str, Any], Any]]] = {}
        self._gauge_lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._stop = threading.Event()
        self.names: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="agentfleet-metrics", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.drain()

    def drain(self) -> None:
        with self._drain_lock:
            try:
                updates = self._buffer.retrieve_updates()
            except Exception:
                log.exception("cannot read the SDK metric buffer")
                return
            for update in updates:
                try:
                    self._apply(update)
                except Exception:
                    log.exception("cannot export metric update for %s", update.metric.name)

    def seen(self) -> set[str]:
        with self._drain_lock:
            return set(self.names)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.drain()

    def _apply(self, update: BufferedMetricUpdate) -> None:
        metric = update.metric
        self.names.add(metric.name)
        attrs = dict(update.attributes)
        kind = int(metric.kind)
        if kind == 1:  # gauge: latest value per attribute set, observed at export
            with self._gauge_lock:
                series = self._gauges.get(metric.name)
                if series is None:
                    series = self._gauges[metric.name] = {}
                    self._meter.create_observable_gauge(
                        metric.name,
                        callbacks=[self._observe(metric.name)],
                        unit=metric.unit or "",
                        description=metric.description or "",
                    )
                series[tuple(sorted(attrs.items()))] = (attrs, update.value)
            return
        key = (metric.name, kind)
        inst: Any = self._instruments.get(key)
        if inst is None:
            unit, description = metric.unit or "", metric.description or ""
            if kind == 0:
                inst = self._meter.create_counter(metric.name, unit, description)
            elif kind == 2:
                inst = self._meter.create_histogram(metric.name, unit, description)
            elif kind == 3:
                inst = self._meter.create_up_down_counter(metric.name, unit, description)
            else:
                raise ValueError(f"unknown buffered metric kind {kind}")
            self._instruments[key] = inst
        if kind == 2:
            inst.record(update.value, attrs)
        else:
            inst.add(update.value, attrs)

    def _observe(self, name: str) -> Any:
        def callback(_options: CallbackOptions) -> Iterable[Observation]:
            with self._gauge_lock:
                return [Observation(v, attributes=a) for a, v in self._gauges[name].values()]

        return callback


def _otlp_span_exporter(opts: TelemetryOptions) -> SpanExporter:
    endpoint = opts.traces_endpoint or None
    headers = dict(opts.headers) or None
    if opts.traces_protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpSpanExporter,
        )

        return HttpSpanExporter(endpoint=endpoint, headers=headers)
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcSpanExporter,
    )

    return GrpcSpanExporter(endpoint=endpoint, headers=headers)


def _otlp_metric_exporter(opts: TelemetryOptions) -> MetricExporter:
    endpoint = opts.metrics_endpoint or None
    headers = dict(opts.headers) or None
    if opts.metrics_protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
            OTLPMetricExporter as HttpMetricExporter,
        )

        return HttpMetricExporter(endpoint=endpoint, headers=headers)
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
        OTLPMetricExporter as GrpcMetricExporter,
    )

    return GrpcMetricExporter(endpoint=endpoint, headers=headers)


# --------------------------------------------------------------------------- Telemetry


class Telemetry:
    """What `setup_telemetry` built: pass `plugins` and `runtime` to `connect()`."""

    def __init__(
        self,
        options: TelemetryOptions,
        *,
        tracer_provider: ReplaySafeTracerProvider,
        span_processor: BatchSpanProcessor,
        span_file: Path | None,
        plugins: list[SimplePlugin],
        runtime: Runtime,
        meter_provider: MeterProvider | None,
        metric_drain: MetricDrain | None,
        process_provider: _ProcessTracerProvider,
    ) -> None:
        self.options = options
        self.service_name = options.service_name
        self.tracer_provider = tracer_provider
        self.span_processor = span_processor
        self.span_file = span_file
        self.plugins = plugins
        self.runtime = runtime
        self.meter_provider = meter_provider
        self._drain = metric_drain
        self._process_provider = process_provider
        self._closed = False

    @property
    def metrics_enabled(self) -> bool:
        return self._drain is not None

    @property
    def metric_names(self) -> set[str]:
        """Names of the metrics that went through the Runtime's buffer so far (exercised)."""
        return self._drain.seen() if self._drain is not None else set()

    def describe(self) -> str:
        o = self.options
        spans = (
            f"spans to {self.span_file}"
            if self.span_file
            else f"spans to {o.traces_endpoint or 'a custom exporter'} ({o.traces_protocol})"
        )
        metrics = (
            f"metrics to {o.metrics_endpoint or 'a custom reader'} ({o.metrics_protocol})"
            if self.metrics_enabled
            else "metrics not exported"
        )
        return f"service {self.service_name}: {spans}; {metrics}"

    async def force_flush(self) -> bool:
        """Export every ended span and the current metric values now."""
        ok = await asyncio.to_thread(self.tracer_provider.force_flush)
        if self._drain is not None and self.meter_provider is not None and not self._closed:
            await asyncio.to_thread(self._drain.drain)
            ok = await asyncio.to_thread(self.meter_provider.force_flush) and ok
        return ok

    async def shutdown(self) -> None:
        """Flush and stop. Idempotent; the worker calls it after draining on SIGTERM/SIGINT."""
        if self._closed:
            return
        self._closed = True
        if self._drain is not None:
            await asyncio.to_thread(self._drain.stop)  # with a final drain of the buffer
        if self.meter_provider is not None:
            await asyncio.to_thread(self.meter_provider.shutdown)  # exports the last values
        await asyncio.to_thread(self.tracer_provider.shutdown)
        self._process_provider.detach(self.tracer_provider)
        with suppress(ValueError):
            _live.remove(self)

    async def __aenter__(self) -> Telemetry:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()


def setup_telemetry(
    settings_or_env: Settings | Mapping[str, str] | None = None,
    service_name: str | None = None,
    *,
    span_exporter: SpanExporter | None = None,
    metric_reader: MetricReader | None = None,
) -> Telemetry:
    """Build tracing and metrics from the OTel env vars (see the module docstring).

    `settings_or_env`: a `Settings` (its home; env from `os.environ`), a mapping of env vars
    (home from its `AGENTFLEET_HOME`), or None (`os.environ`). `service_name` is this process's
    default name; `OTEL_SERVICE_NAME` overrides it. `span_exporter` and `metric_reader` replace
    the configured exporters (tests, benchmarks).
    """
    env: Mapping[str, str]
    if settings_or_env is None or isinstance(settings_or_env, Mapping):
        env = os.environ if settings_or_env is None else settings_or_env
        home = Path(env.get("AGENTFLEET_HOME", "./.agentfleet")).resolve()
    else:
        env = os.environ
        home = settings_or_env.home
    opts = TelemetryOptions.from_env(env, home, service_name)
    resource = Resource.create(dict(opts.resource_attributes))

    span_file: Path | None = None
    if span_exporter is None:
        if opts.traces_endpoint:
            span_exporter = _otlp_span_exporter(opts)
        else:
            span_file = opts.span_file
            span_exporter = OtlpJsonLinesExporter(span_file)
    plugins: list[SimplePlugin] = [OpenTelemetryPlugin()]
    processor: BatchSpanProcessor
    if span_file is not None:
        processor = DurableBatchSpanProcessor(span_exporter, **opts.batch)
        plugins.append(durable_spans_plugin(processor))
    else:
        batch: dict[str, Any] = dict(opts.batch)
        processor = BatchSpanProcessor(span_exporter, **batch)
    tracer_provider = create_tracer_provider(resource=resource)
    tracer_provider.add_span_processor(processor)

    meter_provider: MeterProvider | None = None
    drain: MetricDrain | None = None
    if metric_reader is None and opts.metrics_endpoint:
        metric_reader = PeriodicExportingMetricReader(
            _otlp_metric_exporter(opts), export_interval_millis=opts.metric_interval_ms
        )
    if metric_reader is not None:
        buffer = MetricBuffer(200_000)
        # Durations stay integer milliseconds: the SDK dashboards' units. No service_name label
        # (the resource carries service.name); the default "temporal_" prefix is kept.
        runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer, attach_service_name=False))
        meter_provider = MeterProvider(resource=resource, metric_readers=[metric_reader])
        drain = MetricDrain(buffer, meter_provider)
    else:
        runtime = Runtime.default()

    process_provider = _process_provider()
    process_provider.attach(tracer_provider)
    telemetry = Telemetry(
        opts,
        tracer_provider=tracer_provider,
        span_processor=processor,
        span_file=span_file,
        plugins=plugins,
        runtime=runtime,
        meter_provider=meter_provider,
        metric_drain=drain,
        process_provider=process_provider,
    )
    _live.append(telemetry)
    return telemetry


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

    def request_id(self, value: str | None) -> None:
        if value:
            self.span.set_attribute(ANTHROPIC_REQUEST_ID, value)

    def response(self, resp: LlmResponse) -> None:
        s = self.span
        s.set_attributes(
            {
                tn.GEN_AI_RESPONSE_MODEL: resp.model,
                tn.GEN_AI_RESPONSE_ID: resp.id,
                tn.GEN_AI_FINISH_REASONS: [resp.stop_reason] if resp.stop_reason else [],
                tn.GEN_AI_INPUT_TOKENS: resp.usage.input_tokens,
                tn.GEN_AI_OUTPUT_TOKENS: resp.usage.output_tokens,
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
    tracer = trace.get_tracer(ACTIVITY_TRACER)
    with tracer.start_as_current_span(
        f"chat {req.model}",
        kind=SpanKind.CLIENT,
        attributes=attrs,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        call = LlmCall(span, req, attempt)
        try:
            yield call
        except BaseException as exc:
            kind = _error_type(exc)
            span.set_attribute(ERROR_TYPE, kind)
            span.set_status(Status(StatusCode.ERROR, _describe(exc)))
            retryable = isinstance(exc, ApplicationError) and not exc.non_retryable
            if retryable and not _last_attempt(info):
                _count(tn.LLM_RETRIES, 1, {tn.ATTR_MODEL: req.model, tn.ATTR_ERROR_CLASS: kind})
            raise


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
        self.span.set_attribute(AF_TOOL_ALREADY_DONE, res.already_done)
        if capture_content():
            self.span.set_attribute(GEN_AI_TOOL_CALL_RESULT, res.content[:20_000])


SANDBOX_REFUSAL = "SandboxViolation"


@contextmanager
def tool_call(req: ToolRequest) -> Iterator[ToolCall]:
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
    tracer = trace.get_tracer(ACTIVITY_TRACER)
    with tracer.start_as_current_span(
        f"execute_tool {req.name}",
        kind=SpanKind.INTERNAL,
        attributes=attrs,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield ToolCall(span)
        except BaseException as exc:
            kind = _error_type(exc)
            span.set_attribute(ERROR_TYPE, kind)
            span.set_status(Status(StatusCode.ERROR, _describe(exc)))
            if kind == SANDBOX_REFUSAL:
                _count(tn.TOOL_DENIED, 1, tool)
            raise


__all__ = [
    "SPAN_FILE",
    "LlmCall",
    "OtlpJsonLinesExporter",
    "Telemetry",
    "TelemetryOptions",
    "ToolCall",
    "capture_content",
    "llm_call",
    "setup_telemetry",
    "tool_call",
]
