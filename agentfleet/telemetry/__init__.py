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
  `agentfleet-worker`. `OTEL_RESOURCE_ATTRIBUTES`: `key=value,...` on spans and metrics;
  `service.instance.id` defaults to the spool slot's stable id (`<volume id>-<slot>`).
- `OTEL_METRIC_EXPORT_INTERVAL`: metric export period in ms (default 10000).
- `OTEL_BSP_SCHEDULE_DELAY`: how long a spooled span waits before it is shipped over OTLP
  (default 5000 ms; the local file is written within 50 ms). With `OTEL_BSP_MAX_QUEUE_SIZE`,
  `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` and `OTEL_BSP_EXPORT_TIMEOUT` it also tunes the in-process
  BatchSpanProcessor in front of the spool.
- `AGENTFLEET_SPOOL_MAX_MB` (512), `AGENTFLEET_SPOOL_MAX_AGE_H` (72): the spool's bounds.
  `AGENTFLEET_SPOOL_FSYNC=1`: fdatasync every spooled batch before Temporal hears the work is
  done (survives a power loss, not only a killed process; costs the disk's sync latency).
- `AGENTFLEET_TRACE_CONTENT=1`: put prompts, outputs and tool arguments on spans (off by
  default: spans carry models, ids, token counts and errors, never content).

Tracing: Temporal's `OpenTelemetryPlugin` on the client (never also `TracingInterceptor`) and
a replay-safe provider from `create_tracer_provider()`. Workflow spans (`workflows/_observe.py`)
get deterministic ids and are ended only by the worker that completes the workflow, so a replay
exports nothing. Activity spans (`chat`, `execute_tool`, built here) are exported as soon as the
attempt ends: they show a long run's progress.

Every export path goes through the spool (spool.py, shipper.py): spans are *durable before
Temporal hears of them*. The spans of an activity are appended to `$AGENTFLEET_HOME/spool/`
before its result is reported, and a workflow span before the activation that ended it is
completed; a shipper thread then sends them to the local span file or over OTLP and records
what the receiver acknowledged. A worker killed with SIGKILL therefore never loses the span of
work that Temporal considers done: a restarted worker on the same volume, or a sibling, ships
what it left. An attempt killed mid-flight has no span, and its retry's span carries
`agentfleet.attempt` > 1. A receiver or collector outage only delays export, up to the spool's
bounds; anything dropped is counted in `agentfleet_spans_dropped{reason}` and named in the log.

Metrics: the Temporal SDK's own metrics (`temporal_*`, durations in milliseconds, exactly the
names of the SDK dashboards) and the fleet metrics recorded through `workflow.metric_meter()` and
`activity.metric_meter()` all go through the temporalio `Runtime` returned here: a
`MetricBuffer` drained every second (`MetricDrain`, a value-keyed `MetricsExporter`) into an OTel
`MeterProvider` with the same resource as the spans, exported over OTLP (so `force_flush()` and
`shutdown()` really push the last values). Without an endpoint, metrics are not exported.
The fleet counters (`agentfleet_*`) are durable (counters.py): their totals reach the spool
slot before the exporter sees them and before Temporal hears that the work is done, and the
next process in the slot continues the same series from there.

Calling `setup_telemetry` twice in one process is fine (tests do): the process-wide tracer
provider is installed once and routes to the newest live `Telemetry`; `shutdown()` detaches it.
"""

from __future__ import annotations

from agentfleet.telemetry.activity import (
    LlmCall,
    ToolCall,
    capture_content,
    llm_call,
    tool_call,
)
from agentfleet.telemetry.durable import (
    DurableBatchSpanProcessor as DurableBatchSpanProcessor,
)
from agentfleet.telemetry.durable import durable_spans_plugin as durable_spans_plugin
from agentfleet.telemetry.metrics import MetricDrain as MetricDrain
from agentfleet.telemetry.options import (
    DEFAULT_METRIC_INTERVAL_MS as DEFAULT_METRIC_INTERVAL_MS,
)
from agentfleet.telemetry.options import SPAN_FILE, TelemetryOptions
from agentfleet.telemetry.setup import Telemetry, setup_telemetry
from agentfleet.telemetry.spanfile import OtlpJsonLinesExporter
from agentfleet.telemetry.spanfile import encode_otlp_json as encode_otlp_json
from agentfleet.telemetry.spanfile import otlp_json as otlp_json

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
