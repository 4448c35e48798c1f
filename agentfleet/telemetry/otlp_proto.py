"""Spool lines (OTLP/JSON) back to OTLP protobuf, for the shipper.

The spool keeps the span file's format, one `ExportTraceServiceRequest` per line in OTLP/JSON,
because the hot path encodes JSON at a fraction of protobuf's cost and `agentfleet trace`
reads it as is. Shipping over OTLP needs protobuf again. `json_format.ParseDict` does that at
about 240 µs a span; building the messages from plain dicts in one constructor call, as here,
takes about 30 µs, in the shipper's thread and off the activity's path. Tests check that the
result equals the SDK's own encoding of the same spans.

Serialized `ExportTraceServiceRequest`s concatenate into one valid request (its only field is
the repeated `resource_spans`), so a batch of lines is one request without a merge step.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def lines_to_request(data: bytes) -> tuple[bytes, int]:
    """(serialized ExportTraceServiceRequest, span count) for newline-separated spool lines."""
    parts: list[bytes] = []
    spans = 0
    for line in data.splitlines():
        if not line.strip():
            continue
        request, n = trace_request(json.loads(line))
        parts.append(request.SerializeToString())
        spans += n
    return b"".join(parts), spans


def trace_request(doc: Mapping[str, Any]) -> tuple[ExportTraceServiceRequest, int]:
    """Build the protobuf request from its OTLP/JSON form; returns it and its span count."""
    count = 0
    resource_spans = []
    for rs in doc.get("resourceSpans", ()):
        scope_spans = []
        for ss in rs.get("scopeSpans", ()):
            spans = [_span(s) for s in ss.get("spans", ())]
            count += len(spans)
            entry: dict[str, Any] = {"scope": _scope(ss.get("scope") or {}), "spans": spans}
            if ss.get("schemaUrl"):
                entry["schema_url"] = ss["schemaUrl"]
            scope_spans.append(entry)
        resource = rs.get("resource") or {}
        out: dict[str, Any] = {
            "resource": {
                "attributes": _kvs(resource.get("attributes", ())),
                "dropped_attributes_count": resource.get("droppedAttributesCount", 0),
            },
            "scope_spans": scope_spans,
        }
        if rs.get("schemaUrl"):
            out["schema_url"] = rs["schemaUrl"]
        resource_spans.append(out)
    # The constructor takes plain dicts for messages (typed stubs say otherwise).
    return ExportTraceServiceRequest(resource_spans=cast(Any, resource_spans)), count


def _id(value: str) -> bytes:
    return bytes.fromhex(value) if value else b""


def _span(s: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "trace_id": _id(s.get("traceId", "")),
        "span_id": _id(s.get("spanId", "")),
        "parent_span_id": _id(s.get("parentSpanId", "")),
        "trace_state": s.get("traceState", ""),
        "flags": s.get("flags", 0),
        "name": s.get("name", ""),
        "kind": s.get("kind", 0),
        "start_time_unix_nano": int(s.get("startTimeUnixNano", 0)),
        "end_time_unix_nano": int(s.get("endTimeUnixNano", 0)),
        "attributes": _kvs(s.get("attributes", ())),
        "dropped_attributes_count": s.get("droppedAttributesCount", 0),
        "dropped_events_count": s.get("droppedEventsCount", 0),
        "dropped_links_count": s.get("droppedLinksCount", 0),
    }
    events = s.get("events")
    if events:
        out["events"] = [
            {
                "time_unix_nano": int(e.get("timeUnixNano", 0)),
                "name": e.get("name", ""),
                "attributes": _kvs(e.get("attributes", ())),
                "dropped_attributes_count": e.get("droppedAttributesCount", 0),
            }
            for e in events
        ]
    links = s.get("links")
    if links:
        out["links"] = [
            {
                "trace_id": _id(lk.get("traceId", "")),
                "span_id": _id(lk.get("spanId", "")),
                "trace_state": lk.get("traceState", ""),
                "attributes": _kvs(lk.get("attributes", ())),
                "dropped_attributes_count": lk.get("droppedAttributesCount", 0),
                "flags": lk.get("flags", 0),
            }
            for lk in links
        ]
    status = s.get("status") or {}
    out["status"] = {"code": status.get("code", 0), "message": status.get("message", "")}
    return out


def _scope(scope: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": scope.get("name", ""),
        "version": scope.get("version", ""),
        "attributes": _kvs(scope.get("attributes", ())),
    }


def _kvs(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"key": kv["key"], "value": _any(kv.get("value") or {})} for kv in items]


def _any(v: Mapping[str, Any]) -> dict[str, Any]:
    if "stringValue" in v:
        return {"string_value": v["stringValue"]}
    if "intValue" in v:
        return {"int_value": int(v["intValue"])}
    if "boolValue" in v:
        return {"bool_value": v["boolValue"]}
    if "doubleValue" in v:
        return {"double_value": v["doubleValue"]}
    if "arrayValue" in v:
        return {"array_value": {"values": [_any(x) for x in _values(v["arrayValue"])]}}
    if "kvlistValue" in v:
        return {"kvlist_value": {"values": _kvs(_values(v["kvlistValue"]))}}
    if "bytesValue" in v:
        return {"bytes_value": base64.b64decode(v["bytesValue"])}
    return {}


def _values(container: Mapping[str, Any]) -> Sequence[Any]:
    values: Sequence[Any] = container.get("values", ())
    return values
