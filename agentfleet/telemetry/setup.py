"""`setup_telemetry` and the `Telemetry` it returns: providers, exporters, flush and shutdown."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from temporalio.contrib.opentelemetry import (
    OpenTelemetryPlugin,
    ReplaySafeTracerProvider,
    create_tracer_provider,
)
from temporalio.plugin import SimplePlugin
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig

from agentfleet.telemetry.durable import DurableBatchSpanProcessor, durable_spans_plugin
from agentfleet.telemetry.metrics import MetricDrain
from agentfleet.telemetry.options import TelemetryOptions
from agentfleet.telemetry.provider import _process_provider, _ProcessTracerProvider
from agentfleet.telemetry.spanfile import OtlpJsonLinesExporter

if TYPE_CHECKING:
    from agentfleet.config import Settings

# Live Telemetry objects, newest last: the newest decides what activity spans carry.
_live: list[Telemetry] = []


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
