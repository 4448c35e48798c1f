"""Where the shipper sends spool lines: OTLP/gRPC, OTLP/HTTP, or the local span file.

Each sink answers one question per batch: did the receiver take it (`Sent.ok`), is it worth
trying again later (`Sent.retry`: the receiver is down, slow, overloaded or misconfigured, which
only delays export), or did the receiver refuse the data itself (neither: OTLP's
INVALID_ARGUMENT / HTTP 400, which no retry can fix). Refused and partially rejected spans are
counted and logged by the shipper, never dropped silently.

`intent(pos)` is called right before the point of no return: the shipper records there that the
batch may have reached the receiver. The span-file sink can later check whether it did
(`confirm`); an OTLP receiver cannot be asked, so such a batch is sent again and counted as
possibly duplicated.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from agentfleet.telemetry.otlp_proto import lines_to_request
from agentfleet.telemetry.spanfile import write_all

log = logging.getLogger("agentfleet.telemetry")

TRACE_METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
METRICS_METHOD = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"


@dataclass(frozen=True)
class Sent:
    """The answer of one send: see the module docstring for `ok` and `retry`."""

    ok: bool
    """The receiver took the batch (perhaps rejecting some of its spans)."""
    retry: bool = False
    """Not taken, but worth trying again later: the receiver is down, slow or misconfigured."""
    spans: int = 0
    """Spans in the batch."""
    rejected: int = 0
    """Spans the receiver refused (partial success, or all of a refused batch)."""
    message: str = ""
    """The receiver's or the transport's words, for the log."""


Intent = Callable[[int], None]


class Sink(Protocol):
    """Where the shipper sends spool lines and, at the end of a slot, its final counters."""

    describe: str

    def send(self, lines: bytes, intent: Intent) -> Sent:
        """Send spool lines, calling `intent` just before the point of no return."""
        ...

    def confirm(self, lines: bytes, pos: int) -> bool:
        """Whether a batch whose send was interrupted did arrive, at `pos`; False if unknown."""
        ...

    def send_metrics(self, request: bytes) -> Sent:
        """Send a serialized OTLP metrics request (a dead slot's final counters)."""
        ...

    def close(self) -> None:
        """Release connections; the sink is not used again."""
        ...


# --------------------------------------------------------------------------- span file


class SpanFileSink:
    """Appends to `$AGENTFLEET_HOME/traces/spans.jsonl`, exactly once.

    Every shipper on the volume appends under an exclusive flock, and records the file's size in
    the segment's cursor before it writes. If it dies before it records the batch as shipped,
    the next shipper finds those very bytes at that offset (nobody else could append between),
    so a batch is never written twice.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.describe = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, lines: bytes, intent: Intent) -> Sent:
        """Append under the volume-wide flock, recording the offset first (`intent`)."""
        spans = 0  # not counted here: parsing would cost more than the copy
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as err:
            return Sent(ok=False, retry=True, message=str(err))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            intent(os.fstat(fd).st_size)
            write_all(fd, lines)
        except OSError as err:
            return Sent(ok=False, retry=True, message=str(err))
        finally:
            os.close(fd)  # drops the flock
        return Sent(ok=True, spans=spans)

    def confirm(self, lines: bytes, pos: int) -> bool:
        """Whether the file holds exactly these bytes at `pos`: then the batch arrived."""
        try:
            with self.path.open("rb") as f:
                f.seek(pos)
                return f.read(len(lines)) == lines
        except OSError:
            return False

    def send_metrics(self, request: bytes) -> Sent:
        """Nothing to do: without an endpoint there is no metrics backend."""
        return Sent(ok=True)  # no metrics backend without an endpoint

    def close(self) -> None:
        """Nothing to release: every send opens and closes the file."""
        pass


# --------------------------------------------------------------------------- OTLP/gRPC

# OTLP's retryable codes, and the misconfigurations (auth, routing) that an operator fixes
# while the spool waits. Only INVALID_ARGUMENT and the like say the data itself is bad.
_GRPC_FATAL = {"INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE"}


@dataclass(frozen=True)
class OtlpTarget:
    """Where an OTLP sink sends, and how: one receiver's endpoints, headers and timeout."""

    traces_endpoint: str | None
    """The receiver for spool lines; None for a sink that only sends final counters."""
    metrics_endpoint: str | None
    """The receiver for the durable counters' final values; None to send none."""
    headers: Mapping[str, str]
    """Sent with every request (e.g. an API key), from `OTEL_EXPORTER_OTLP_HEADERS`."""
    timeout_s: float
    """How long one export may take before it counts as failed and is tried again."""

    @property
    def describe(self) -> str:
        """The endpoint the shipper's log lines name."""
        return f"{self.traces_endpoint or self.metrics_endpoint}"


class GrpcSink:
    """OTLP/gRPC: the request bytes go out as they are, on one channel per endpoint."""

    def __init__(self, target: OtlpTarget) -> None:
        import grpc

        self._grpc = grpc
        self.describe = f"{target.describe} (OTLP/gRPC)"
        self._timeout = target.timeout_s
        self._metadata = tuple((k.lower(), v) for k, v in target.headers.items())
        self._channels: list[Any] = []
        self._traces = (
            self._method(target.traces_endpoint, TRACE_METHOD, ExportTraceServiceResponse)
            if target.traces_endpoint
            else None
        )
        self._metrics = (
            self._method(target.metrics_endpoint, METRICS_METHOD, ExportMetricsServiceResponse)
            if target.metrics_endpoint
            else None
        )

    def _method(self, endpoint: str, method: str, response: Any) -> Any:
        grpc = self._grpc
        url = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
        target = url.netloc or url.path
        # Reconnect quickly after an outage: gRPC's default backoff grows to two minutes.
        options = [
            ("grpc.initial_reconnect_backoff_ms", 250),
            ("grpc.min_reconnect_backoff_ms", 250),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ]
        if url.scheme == "https":
            channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(), options)
        else:
            channel = grpc.insecure_channel(target, options)
        self._channels.append(channel)
        # Bytes in, parsed response out: the request is already serialized.
        return channel.unary_unary(method, response_deserializer=response.FromString)

    def _call(self, method: Any, body: bytes, spans: int) -> Sent:
        try:
            resp = method(body, timeout=self._timeout, metadata=self._metadata or None)
        except self._grpc.RpcError as err:
            code = err.code().name if hasattr(err, "code") else "UNKNOWN"
            detail = err.details() if hasattr(err, "details") else str(err)
            message = f"{code}: {detail}"
            if code in _GRPC_FATAL:
                return Sent(ok=False, spans=spans, rejected=spans, message=message)
            return Sent(ok=False, retry=True, spans=spans, message=message)
        return _partial(resp, spans)

    def send(self, lines: bytes, intent: Intent) -> Sent:
        """Export the lines as one trace request; the receiver may take part of it."""
        if self._traces is None:
            raise RuntimeError("this sink has no traces endpoint")
        body, spans = lines_to_request(lines)
        intent(0)
        return self._call(self._traces, body, spans)

    def confirm(self, lines: bytes, pos: int) -> bool:
        """Never known: an OTLP receiver cannot be asked, so the batch is sent again."""
        return False

    def send_metrics(self, request: bytes) -> Sent:
        """Export the request, or take it as sent when there is no metrics endpoint."""
        if self._metrics is None:
            return Sent(ok=True)
        return self._call(self._metrics, request, 0)

    def close(self) -> None:
        """Close the channels."""
        for channel in self._channels:
            channel.close()


def otlp_sink(protocol: str, target: OtlpTarget) -> GrpcSink | HttpSink:
    """The sink for an OTel protocol name: `http/protobuf`, else gRPC (the OTel default)."""
    if protocol == "http/protobuf":
        return HttpSink(target)
    return GrpcSink(target)


# --------------------------------------------------------------------------- OTLP/HTTP


class HttpSink:
    """OTLP/HTTP with protobuf bodies, on one pooled session."""

    def __init__(self, target: OtlpTarget) -> None:
        import requests

        self._requests = requests
        self._session = requests.Session()
        self._session.headers.update({**target.headers, "Content-Type": "application/x-protobuf"})
        self._traces = target.traces_endpoint
        self._metrics = target.metrics_endpoint
        self._timeout = target.timeout_s
        self.describe = f"{target.describe} (OTLP/HTTP)"

    def _post(self, url: str, body: bytes, spans: int, response: Any) -> Sent:
        try:
            resp = self._session.post(url, data=body, timeout=self._timeout)
        except self._requests.RequestException as err:
            return Sent(ok=False, retry=True, spans=spans, message=str(err))
        if resp.status_code == 200:
            parsed = response()
            with contextlib.suppress(Exception):
                parsed.ParseFromString(resp.content)
            return _partial(parsed, spans)
        message = f"HTTP {resp.status_code}: {resp.text[:200]}"
        if resp.status_code == 400:
            return Sent(ok=False, spans=spans, rejected=spans, message=message)
        return Sent(ok=False, retry=True, spans=spans, message=message)

    def send(self, lines: bytes, intent: Intent) -> Sent:
        """POST the lines as one trace request; the receiver may take part of it."""
        if not self._traces:
            raise RuntimeError("this sink has no traces endpoint")
        body, spans = lines_to_request(lines)
        intent(0)
        return self._post(self._traces, body, spans, ExportTraceServiceResponse)

    def confirm(self, lines: bytes, pos: int) -> bool:
        """Never known: an OTLP receiver cannot be asked, so the batch is sent again."""
        return False

    def send_metrics(self, request: bytes) -> Sent:
        """POST the request, or take it as sent when there is no metrics endpoint."""
        if not self._metrics:
            return Sent(ok=True)
        return self._post(self._metrics, request, 0, ExportMetricsServiceResponse)

    def close(self) -> None:
        """Close the session."""
        self._session.close()


def _partial(resp: Any, spans: int) -> Sent:
    partial = getattr(resp, "partial_success", None)
    rejected = 0
    message = ""
    if partial is not None:
        rejected = int(
            getattr(partial, "rejected_spans", 0) or getattr(partial, "rejected_data_points", 0)
        )
        message = partial.error_message
    return Sent(ok=True, spans=spans, rejected=rejected, message=message)
