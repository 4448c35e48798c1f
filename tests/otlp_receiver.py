"""A real OTLP receiver on loopback: gRPC TraceService and MetricsService, and OTLP/HTTP.

Built on opentelemetry-proto and grpcio, it keeps every request it receives so a test can
check what actually crossed the wire: resources, spans, metric names.

    with OtlpReceiver() as rx:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint}   # or rx.http_endpoint
        ...
        rx.metric_names(), rx.spans(), rx.service_names()

`stop()` then `start()` brings it back on the same ports (an outage, as a restarted Collector
makes). `refuse` makes it answer INVALID_ARGUMENT (HTTP 400) to any trace request holding a span
it matches, as a receiver does with data it cannot accept.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span


def any_value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind) if kind else None


def attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: any_value(kv.value) for kv in kvs if isinstance(kv, KeyValue)}


@dataclass
class ReceivedSpan:
    resource: dict[str, Any]
    span: Span

    @property
    def name(self) -> str:
        return self.span.name

    @property
    def attributes(self) -> dict[str, Any]:
        return attributes(self.span.attributes)


class OtlpReceiver:
    def __init__(self, refuse: Callable[[Span], bool] | None = None) -> None:
        self.refuse = refuse
        self.trace_requests: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self.metric_requests: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.http_paths: list[str] = []
        self._lock = threading.Lock()
        self._grpc: grpc.Server | None = None
        self._http: ThreadingHTTPServer | None = None
        self.grpc_port = 0
        self.http_port = 0

    # --- lifecycle ---

    def start(self) -> OtlpReceiver:
        rx = self

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                if rx._refused(request):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "refused span")
                rx._add_traces(request)
                return trace_service_pb2.ExportTraceServiceResponse()

        class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                rx._add_metrics(request)
                return metrics_service_pb2.ExportMetricsServiceResponse()

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
        # The same ports again after a stop(): clients reconnect as to a restarted Collector.
        self.grpc_port = server.add_insecure_port(f"127.0.0.1:{self.grpc_port}")
        server.start()
        self._grpc = server

        class Http(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with rx._lock:
                    rx.http_paths.append(self.path)
                if self.path == "/v1/traces":
                    req = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                    if rx._refused(req):
                        self.send_response(400)
                        self.end_headers()
                        return
                    rx._add_traces(req)
                    out = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                elif self.path == "/v1/metrics":
                    mreq = metrics_service_pb2.ExportMetricsServiceRequest.FromString(body)
                    rx._add_metrics(mreq)
                    out = metrics_service_pb2.ExportMetricsServiceResponse().SerializeToString()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", self.http_port), Http)
        self.http_port = int(self._http.server_address[1])
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._grpc is not None:
            self._grpc.stop(grace=None)
            self._grpc = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    # --- what arrived ---

    def _refused(self, req: trace_service_pb2.ExportTraceServiceRequest) -> bool:
        refuse = self.refuse
        return refuse is not None and any(
            refuse(span) for rs in req.resource_spans for ss in rs.scope_spans for span in ss.spans
        )

    def _add_traces(self, req: trace_service_pb2.ExportTraceServiceRequest) -> None:
        with self._lock:
            self.trace_requests.append(req)

    def _add_metrics(self, req: metrics_service_pb2.ExportMetricsServiceRequest) -> None:
        with self._lock:
            self.metric_requests.append(req)

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            reqs = list(self.trace_requests)
        return [
            ReceivedSpan(attributes(rs.resource.attributes), span)
            for req in reqs
            for rs in req.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]

    def metrics(self) -> Iterator[tuple[dict[str, Any], Any]]:
        with self._lock:
            reqs = list(self.metric_requests)
        for req in reqs:
            for rm in req.resource_metrics:
                resource = attributes(rm.resource.attributes)
                for sm in rm.scope_metrics:
                    for metric in sm.metrics:
                        yield resource, metric

    def metric_names(self) -> set[str]:
        return {m.name for _, m in self.metrics()}

    def metric_resources(self) -> list[dict[str, Any]]:
        return [r for r, _ in self.metrics()]

    def span_resources(self) -> list[dict[str, Any]]:
        return [s.resource for s in self.spans()]

    def counter_total(self, name: str, **labels: Any) -> float:
        """Latest cumulative value of a sum, summed over the data points matching `labels`."""
        latest: dict[tuple[Any, ...], float] = {}
        for _, m in self.metrics():
            if m.name != name or m.WhichOneof("data") != "sum":
                continue
            for dp in m.sum.data_points:
                attrs = attributes(dp.attributes)
                if any(attrs.get(k) != v for k, v in labels.items()):
                    continue
                key = tuple(sorted((k, str(v)) for k, v in attrs.items()))
                value = dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double
                latest[key] = float(value)
        return sum(latest.values())

    def wait_for(self, check: Callable[[], bool], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.1)
        return check()
