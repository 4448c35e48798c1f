"""The local span file: OTLP/JSON lines, one `ExportTraceServiceRequest` per exported batch."""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from google.protobuf import json_format
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

log = logging.getLogger("agentfleet.telemetry")


# --------------------------------------------------------------------------- span file


def write_all(fd: int, data: bytes, *, fsync: bool = False) -> None:
    """Write all of `data`, however many `write()` calls that takes, and `fsync` if asked.

    Used by every writer of spool, counter and span files; `fsync` is an fdatasync, for
    files whose loss the next run would notice (the spool, the counters).
    """
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    if fsync:
        os.fdatasync(fd)


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
        """Append the batch as one line; FAILURE (and a log line) if the file cannot be written."""
        if not spans:
            return SpanExportResult.SUCCESS
        data = otlp_json_line(spans)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                write_all(fd, data)
            finally:
                os.close(fd)
        except OSError:
            log.exception("cannot append spans to %s", self.path)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to close: every export opens and closes the file."""
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered: every export is written before it returns."""
        return True


def otlp_json_line(spans: Sequence[ReadableSpan]) -> bytes:
    """The batch as one compact line of the span file (and of a spool segment)."""
    return (json.dumps(encode_otlp_json(spans), separators=(",", ":")) + "\n").encode()


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
    """One span as OTLP/JSON, its keys in the order the protobuf mapping writes them."""
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
    _put_attributes(out, span.attributes, span.dropped_attributes)
    if span.events:
        out["events"] = [_event_json(e) for e in span.events]
    if span.dropped_events:
        out["droppedEventsCount"] = span.dropped_events
    if span.links:
        out["links"] = [_link_json(link) for link in span.links]
    if span.dropped_links:
        out["droppedLinksCount"] = span.dropped_links
    out["status"] = _status_json(span.status)
    return out


def _put_attributes(out: dict[str, Any], attributes: Any, dropped: int) -> None:
    """The attributes of a span, event or link, and how many its limits dropped."""
    if attributes:
        out["attributes"] = _kvs(attributes)
    if dropped:
        out["droppedAttributesCount"] = dropped


def _event_json(event: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if event.timestamp:
        out["timeUnixNano"] = str(event.timestamp)
    if event.name:
        out["name"] = event.name
    _put_attributes(out, event.attributes, event.dropped_attributes)
    return out


def _link_json(link: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": f"{link.context.trace_id:032x}",
        "spanId": f"{link.context.span_id:016x}",
    }
    _put_attributes(out, link.attributes, link.dropped_attributes)
    out["flags"] = _flags(link.context)
    return out


def _status_json(status: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if status.description:
        out["message"] = status.description
    if status.status_code.value:
        out["code"] = status.status_code.value
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
