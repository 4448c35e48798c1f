"""What the OTel env vars ask for: `TelemetryOptions.from_env` and its parsing helpers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from opentelemetry.sdk.resources import SERVICE_NAME

from agentfleet.telemetry import names as tn

SPAN_FILE = Path("traces") / "spans.jsonl"
DEFAULT_METRIC_INTERVAL_MS = 10_000
DEFAULT_SCHEDULE_DELAY_MS = 5_000  # OTel's default for OTEL_BSP_SCHEDULE_DELAY
DEFAULT_SPOOL_MAX_MB = 512
DEFAULT_SPOOL_MAX_AGE_H = 72


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
    # The spool (spool.py, shipper.py): its bounds, and fdatasync before completions.
    spool_max_bytes: int = DEFAULT_SPOOL_MAX_MB << 20
    spool_max_age_s: float = DEFAULT_SPOOL_MAX_AGE_H * 3600.0
    spool_fsync: bool = False
    # Per OTLP request. OTEL_EXPORTER_OTLP_TIMEOUT is not read: the spec says milliseconds,
    # the Python SDK reads seconds, and a misread value would stall every export.
    export_timeout_s: float = 10.0

    @property
    def schedule_delay_s(self) -> float:
        """How long a spooled span may wait before the shipper sends it over OTLP."""
        return self.batch.get("schedule_delay_millis", DEFAULT_SCHEDULE_DELAY_MS) / 1000

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], home: Path, service_name: str | None = None
    ) -> TelemetryOptions:
        """Read the standard `OTEL_*` variables (and ours) from `env`; `home` locates the spool."""
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
            capture_content=_flag(env.get("AGENTFLEET_TRACE_CONTENT")),
            batch={
                arg: int(float(env[var]))
                for var, arg in _BSP_ENV.items()
                if (env.get(var) or "").strip()
            },
            spool_max_bytes=int(
                float(env.get("AGENTFLEET_SPOOL_MAX_MB") or DEFAULT_SPOOL_MAX_MB) * (1 << 20)
            ),
            spool_max_age_s=float(env.get("AGENTFLEET_SPOOL_MAX_AGE_H") or DEFAULT_SPOOL_MAX_AGE_H)
            * 3600.0,
            spool_fsync=_flag(env.get("AGENTFLEET_SPOOL_FSYNC")),
        )


def _flag(raw: str | None) -> bool:
    return (raw or "").strip().lower() in ("1", "true", "yes")


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
