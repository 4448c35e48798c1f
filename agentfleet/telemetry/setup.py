"""`setup_telemetry` and the `Telemetry` it returns: providers, exporters, flush and shutdown."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import KW_ONLY, InitVar, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, Resource
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from temporalio.contrib.opentelemetry import (
    OpenTelemetryPlugin,
    ReplaySafeTracerProvider,
    create_tracer_provider,
)
from temporalio.plugin import SimplePlugin
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig

from agentfleet.telemetry.counters import CounterStore
from agentfleet.telemetry.durable import DurableBatchSpanProcessor, durable_spans_plugin
from agentfleet.telemetry.metrics import MetricDrain
from agentfleet.telemetry.options import TelemetryOptions
from agentfleet.telemetry.provider import _process_provider, _ProcessTracerProvider
from agentfleet.telemetry.shipper import Shipper, ShipperOptions
from agentfleet.telemetry.sinks import OtlpTarget, Sink, SpanFileSink, otlp_sink
from agentfleet.telemetry.spool import (
    Slot,
    SpoolWriter,
    claim_slot,
    service_dir,
    spool_root,
    volume_id,
)

if TYPE_CHECKING:
    from agentfleet.config import Settings

# Live Telemetry objects, newest last: the newest decides what activity spans carry.
_live: list[Telemetry] = []


def _sinks(opts: TelemetryOptions, *, counters: bool) -> tuple[Sink, Sink | None]:
    """(where spool lines go, where dead slots' final counters go, if they are durable)."""
    metrics_endpoint = opts.metrics_endpoint if counters else None
    same = opts.metrics_protocol == opts.traces_protocol
    if opts.traces_endpoint:
        traces: Sink = otlp_sink(
            opts.traces_protocol,
            OtlpTarget(
                traces_endpoint=opts.traces_endpoint,
                metrics_endpoint=metrics_endpoint if same else None,
                headers=opts.headers,
                timeout_s=opts.export_timeout_s,
            ),
        )
        if same or not metrics_endpoint:
            return traces, traces if metrics_endpoint else None
    else:
        traces = SpanFileSink(opts.span_file)
    if not metrics_endpoint:
        return traces, None
    metrics = otlp_sink(
        opts.metrics_protocol,
        OtlpTarget(
            traces_endpoint=None,
            metrics_endpoint=metrics_endpoint,
            headers=opts.headers,
            timeout_s=10.0,
        ),
    )
    return traces, metrics


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


@dataclass(eq=False)
class Telemetry:
    """What `setup_telemetry` built: pass `plugins` and `runtime` to `connect()`."""

    options: TelemetryOptions
    _: KW_ONLY
    tracer_provider: ReplaySafeTracerProvider
    span_processor: BatchSpanProcessor
    span_file: Path | None
    plugins: list[SimplePlugin]
    runtime: Runtime
    meter_provider: MeterProvider | None
    metric_drain: InitVar[MetricDrain | None]
    process_provider: InitVar[_ProcessTracerProvider]
    shipper: Shipper | None = None
    slot: Slot | None = None
    resource: Resource | None = None

    def __post_init__(
        self, metric_drain: MetricDrain | None, process_provider: _ProcessTracerProvider
    ) -> None:
        self.service_name = self.options.service_name
        self._drain = metric_drain
        self._process_provider = process_provider
        self._closed = False

    @property
    def metrics_enabled(self) -> bool:
        """Whether metrics are exported at all (an endpoint or a reader was given)."""
        return self._drain is not None

    @property
    def metric_names(self) -> set[str]:
        """Names of the metrics that went through the Runtime's buffer so far (exercised)."""
        return self._drain.seen() if self._drain is not None else set()

    def describe(self) -> str:
        """One line for the worker's start-up log: where spans and metrics go."""
        o = self.options
        spans = (
            f"spans to {self.span_file}"
            if self.span_file
            else f"spans to {o.traces_endpoint or 'a custom exporter'} ({o.traces_protocol})"
        )
        if self.slot is not None:
            spans += f" through the spool {self.slot.path}"
        metrics = (
            f"metrics to {o.metrics_endpoint or 'a custom reader'} ({o.metrics_protocol})"
            if self.metrics_enabled
            else "metrics not exported"
        )
        return f"service {self.service_name}: {spans}; {metrics}"

    async def force_flush(self) -> bool:
        """Export every ended span and the current metric values now."""
        ok = await asyncio.to_thread(self.tracer_provider.force_flush)
        if self.shipper is not None and not self._closed:
            ok = await asyncio.to_thread(self.shipper.flush) and ok
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
        await asyncio.to_thread(self.tracer_provider.shutdown)  # the last spans, to the spool
        if self.shipper is not None:
            await asyncio.to_thread(self.shipper.close)  # and on to the sink
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
    env, home = _env_and_home(settings_or_env)
    opts = TelemetryOptions.from_env(env, home, service_name)
    slot, resource = _identity(opts, home, spooled=span_exporter is None)
    metrics = _metrics(opts, resource, slot, metric_reader)
    spans = (
        _spooled_spans(opts, home, slot, metrics)
        if span_exporter is None and slot is not None
        else _exported_spans(opts, span_exporter)
    )
    tracer_provider = create_tracer_provider(resource=resource)
    tracer_provider.add_span_processor(spans.processor)

    process_provider = _process_provider()
    process_provider.attach(tracer_provider)
    telemetry = Telemetry(
        opts,
        tracer_provider=tracer_provider,
        span_processor=spans.processor,
        span_file=spans.span_file,
        plugins=[OpenTelemetryPlugin(), *spans.plugins],
        runtime=metrics.runtime,
        meter_provider=metrics.meter_provider,
        metric_drain=metrics.drain,
        process_provider=process_provider,
        shipper=spans.shipper,
        slot=slot,
        resource=resource,
    )
    _live.append(telemetry)
    return telemetry


def _env_and_home(
    settings_or_env: Settings | Mapping[str, str] | None,
) -> tuple[Mapping[str, str], Path]:
    """The env vars to read, and the home whose spool and span file this process uses."""
    if settings_or_env is None or isinstance(settings_or_env, Mapping):
        env = os.environ if settings_or_env is None else settings_or_env
        return env, Path(env.get("AGENTFLEET_HOME", "./.agentfleet")).resolve()
    return os.environ, settings_or_env.home


def _identity(opts: TelemetryOptions, home: Path, *, spooled: bool) -> tuple[Slot | None, Resource]:
    """The spool slot this process claims, if spooled, and the resource its data carries."""
    attributes = dict(opts.resource_attributes)
    slot: Slot | None = None
    if spooled:
        # Every export path goes through the spool; a slot gives a stable instance id.
        root = spool_root(home)
        slot = claim_slot(service_dir(root, opts.service_name))
        attributes.setdefault(SERVICE_INSTANCE_ID, f"{volume_id(root)}-{slot.index}")
    return slot, Resource.create(attributes)


@dataclass(frozen=True)
class _Metrics:
    """The metrics side: the Runtime the worker uses, and where its buffer drains to."""

    runtime: Runtime
    """The Temporal Runtime: with a metric buffer when metrics are exported."""
    meter_provider: MeterProvider | None = None
    """The OTel meter provider that exports the drained metrics, if any."""
    drain: MetricDrain | None = None
    """Moves the Runtime's buffered metrics into `meter_provider`."""
    store: CounterStore | None = None
    """The durable fleet counters in the spool slot, when there is one."""


def _metrics(
    opts: TelemetryOptions,
    resource: Resource,
    slot: Slot | None,
    metric_reader: MetricReader | None,
) -> _Metrics:
    """The Runtime, buffering the SDK's metrics for our meter provider when any are exported."""
    if metric_reader is None and opts.metrics_endpoint:
        metric_reader = PeriodicExportingMetricReader(
            _otlp_metric_exporter(opts), export_interval_millis=opts.metric_interval_ms
        )
    if metric_reader is None:
        return _Metrics(Runtime.default())
    buffer = MetricBuffer(200_000)
    # Durations stay integer milliseconds: the SDK dashboards' units. No service_name label
    # (the resource carries service.name); the default "temporal_" prefix is kept.
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer, attach_service_name=False))
    meter_provider = MeterProvider(resource=resource, metric_readers=[metric_reader])
    store = None
    if slot is not None:
        store = CounterStore(slot.path, dict(resource.attributes), fsync=opts.spool_fsync)
    drain = MetricDrain(buffer, meter_provider, store=store)
    return _Metrics(runtime, meter_provider, drain, store)


@dataclass(frozen=True)
class _Spans:
    """The span side: the processor spans end into, and what ships them on."""

    processor: BatchSpanProcessor
    """Where ended spans go: the spool writer, or a caller's exporter."""
    plugins: list[SimplePlugin] = field(default_factory=list)
    """Worker plugins besides OpenTelemetry's: the durable-spans flush, when spooled."""
    span_file: Path | None = None
    """The local span file, when spans go there rather than to a collector."""
    shipper: Shipper | None = None
    """Ships the spool to the span file or the collector, when spooled."""


def _spooled_spans(opts: TelemetryOptions, home: Path, slot: Slot, metrics: _Metrics) -> _Spans:
    """Spans (and durable counters) through the spool, shipped on by a background thread."""
    # Segments small against the bound, so that the bound drops old spans, not new ones.
    segment = min(8 << 20, max(4096, opts.spool_max_bytes // 16))
    writer = SpoolWriter(slot, segment_bytes=segment, fsync=opts.spool_fsync)
    sink, metrics_sink = _sinks(opts, counters=metrics.store is not None)
    shipper = Shipper(
        spool_root(home),
        slot,
        writer,
        sink,
        ShipperOptions(
            # The local file is read while runs go on; a collector gets batches.
            delay_s=opts.schedule_delay_s if opts.traces_endpoint else 0.05,
            max_bytes=opts.spool_max_bytes,
            max_age_s=opts.spool_max_age_s,
            fsync=opts.spool_fsync,
        ),
        meter=metrics.runtime.metric_meter,
        metrics_sink=metrics_sink,
    )
    writer.on_write, writer.on_failure = shipper.notify, shipper.write_failed
    shipper.start()
    processor = DurableBatchSpanProcessor(writer, **opts.batch)
    drain = metrics.drain
    checkpoint = drain.checkpoint if metrics.store is not None and drain is not None else None
    return _Spans(
        processor,
        plugins=[durable_spans_plugin(processor, checkpoint, fsync=opts.spool_fsync)],
        span_file=None if opts.traces_endpoint else opts.span_file,
        shipper=shipper,
    )


def _exported_spans(opts: TelemetryOptions, span_exporter: SpanExporter | None) -> _Spans:
    """Spans straight to the caller's exporter, batched as configured (tests, benchmarks)."""
    assert span_exporter is not None
    batch: dict[str, Any] = dict(opts.batch)
    return _Spans(BatchSpanProcessor(span_exporter, **batch))
