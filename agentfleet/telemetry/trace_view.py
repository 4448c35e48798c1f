"""`agentfleet trace ID [--json]`: a task's trace from the local span file, as a tree.

Reads `$AGENTFLEET_HOME/traces/spans.jsonl` (one OTLP/JSON ExportTraceServiceRequest per
line, see agentfleet/telemetry/spanfile.py), finds the trace(s) in which a span carries
`gen_ai.conversation.id`, `gen_ai.agent.id` or `agentfleet.root_id` equal to ID, and renders
every span of them as a tree, like a trace view: UTC start, duration, a timeline bar, the span
and its key attributes (for an agent, its completion check: verified, unverified with the
missing paths, or answer only). `--json` gives one document with the spans nested.

A workflow's `invoke_agent` span is exported when the workflow closes, so while a task runs
its activities' spans (`chat`, `execute_tool`) hang under a placeholder for the still-open
agent span. Spans written twice (same trace and span id) are shown once.

The spool's segments (`$AGENTFLEET_HOME/spool/`, same format) are read too: they hold what is
not shipped yet, such as the spans of a killed worker that no worker has taken over.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agentfleet.telemetry import SPAN_FILE
from agentfleet.telemetry import names as tn
from agentfleet.telemetry.spool import SPOOL_DIR

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STATUS_NAMES = {0: "UNSET", 1: "OK", 2: "ERROR"}
KIND_NAMES = {
    0: "UNSPECIFIED",
    1: "INTERNAL",
    2: "SERVER",
    3: "CLIENT",
    4: "PRODUCER",
    5: "CONSUMER",
}
ID_KEYS = (tn.GEN_AI_CONVERSATION_ID, tn.GEN_AI_AGENT_ID, tn.AF_ROOT_ID)
BAR = 24


@dataclass
class SpanRecord:
    """One span as the trace view shows it, with its children once the tree is built."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    status_code: int = 0
    status_message: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    children: list[SpanRecord] = field(default_factory=list)
    missing: bool = False  # a placeholder for a parent not (yet) in the file

    @property
    def duration_ns(self) -> int:
        """How long the span ran, never negative."""
        return max(0, self.end_ns - self.start_ns)


def utc(ns: int) -> datetime:
    """Epoch ns -> aware UTC datetime (microsecond precision, exact integer arithmetic)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def iso(ns: int) -> str:
    """Epoch ns as the view prints it: UTC, microseconds, `Z`."""
    return utc(ns).isoformat(timespec="microseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- reading


def _value(v: dict[str, Any]) -> Any:
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "arrayValue" in v:
        return [_value(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return {kv["key"]: _value(kv.get("value", {})) for kv in v["kvlistValue"].get("values", [])}
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def _attrs(kvs: Iterable[dict[str, Any]] | None) -> dict[str, Any]:
    return {kv["key"]: _value(kv.get("value", {})) for kv in kvs or ()}


def _hex_id(raw: str | None, size: int) -> str:
    """OTLP/JSON ids are hex; plain protobuf JSON has base64. Accept both."""
    if not raw:
        return ""
    if len(raw) == size * 2:
        try:
            bytes.fromhex(raw)
            return raw.lower()
        except ValueError:
            pass
    try:
        return base64.b64decode(raw, validate=True).hex()
    except (binascii.Error, ValueError):
        return raw


def parse_line(line: str) -> Iterator[SpanRecord]:
    """The spans of one span-file line (an OTLP/JSON ExportTraceServiceRequest)."""
    doc = json.loads(line)
    for rs in doc.get("resourceSpans", ()):
        resource = _attrs(rs.get("resource", {}).get("attributes"))
        for ss in rs.get("scopeSpans", ()):
            for s in ss.get("spans", ()):
                status = s.get("status", {})
                yield SpanRecord(
                    trace_id=_hex_id(s.get("traceId"), 16),
                    span_id=_hex_id(s.get("spanId"), 8),
                    parent_span_id=_hex_id(s.get("parentSpanId"), 8),
                    name=s.get("name", ""),
                    kind=_enum(s.get("kind", 0), KIND_NAMES),
                    start_ns=int(s.get("startTimeUnixNano", 0)),
                    end_ns=int(s.get("endTimeUnixNano", 0)),
                    attributes=_attrs(s.get("attributes")),
                    status_code=_enum(status.get("code", 0), STATUS_NAMES),
                    status_message=status.get("message", ""),
                    events=[
                        {
                            "name": e.get("name", ""),
                            "time_unix_nano": int(e.get("timeUnixNano", 0)),
                            "attributes": _attrs(e.get("attributes")),
                        }
                        for e in s.get("events", ())
                    ],
                    resource=resource,
                )


def _enum(value: Any, names: dict[int, str]) -> int:
    if isinstance(value, str) and not value.isdigit():
        for code, name in names.items():
            if value.endswith(name):
                return code
        return 0
    return int(value)


def read_spans(path: Path, *more: Path) -> list[SpanRecord]:
    """Every span in the files, once per (trace id, span id).

    Unreadable lines are skipped: a writer may be mid-append on the last one.
    """
    seen: dict[tuple[str, str], SpanRecord] = {}
    for p in (path, *more):
        try:
            f = p.open(encoding="utf-8")
        except FileNotFoundError:  # a spool segment shipped and deleted meanwhile
            continue
        with f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    spans = list(parse_line(line))
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue
                for s in spans:
                    seen.setdefault((s.trace_id, s.span_id), s)
    return list(seen.values())


def spool_segments(home: Path) -> list[Path]:
    """Spool segments not yet shipped: their spans belong in the view too."""
    return sorted((home / SPOOL_DIR).glob("*/slot-*/*.jsonl"))


# --------------------------------------------------------------------------- trees


@dataclass
class TraceTree:
    """One trace's spans, as roots with their children."""

    trace_id: str
    roots: list[SpanRecord]
    spans: list[SpanRecord]

    @property
    def start_ns(self) -> int:
        """When the trace's first span started: the left edge of every timeline bar."""
        return min(s.start_ns for s in self.spans)

    @property
    def end_ns(self) -> int:
        """When the trace's last span ended: the right edge of every timeline bar."""
        return max(s.end_ns for s in self.spans)


def traces_for(spans: list[SpanRecord], workflow_id: str) -> list[TraceTree]:
    """The traces in which some span names `workflow_id`, earliest first, as trees."""
    trace_ids = {
        s.trace_id for s in spans if any(s.attributes.get(k) == workflow_id for k in ID_KEYS)
    }
    trees = [build_tree(tid, [s for s in spans if s.trace_id == tid]) for tid in trace_ids]
    return sorted(trees, key=lambda t: t.start_ns)


def build_tree(trace_id: str, spans: list[SpanRecord]) -> TraceTree:
    """Link a trace's spans to their parents, with placeholders for parents not yet written."""
    by_id = {s.span_id: s for s in spans}
    for s in spans:
        s.children = []
    placeholders: dict[str, SpanRecord] = {}
    roots: list[SpanRecord] = []
    for s in spans:
        parent_id = s.parent_span_id
        if not parent_id:
            roots.append(s)
        elif parent_id in by_id:
            by_id[parent_id].children.append(s)
        else:
            holder = placeholders.get(parent_id)
            if holder is None:
                holder = SpanRecord(
                    trace_id=trace_id,
                    span_id=parent_id,
                    parent_span_id="",
                    name="",
                    kind=0,
                    start_ns=s.start_ns,
                    end_ns=s.end_ns,
                    attributes={},
                    missing=True,
                )
                placeholders[parent_id] = holder
                roots.append(holder)
            holder.children.append(s)
            holder.start_ns = min(holder.start_ns, s.start_ns)
            holder.end_ns = max(holder.end_ns, s.end_ns)
    for holder in placeholders.values():
        agents = {c.attributes.get(tn.GEN_AI_AGENT_ID) for c in holder.children} - {None}
        holder.name = "(span not exported yet: the agent is still running or was lost)"
        if len(agents) == 1:
            holder.attributes = {tn.GEN_AI_AGENT_ID: agents.pop()}
    for s in [*spans, *placeholders.values()]:
        s.children.sort(key=lambda c: (c.start_ns, c.name))
    roots.sort(key=lambda r: (r.start_ns, r.name))
    return TraceTree(trace_id=trace_id, roots=roots, spans=spans)


# --------------------------------------------------------------------------- rendering


def _duration(ns: int) -> str:
    seconds = ns / 1e9
    if seconds >= 100:
        return f"{seconds:,.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{ns / 1e6:.1f} ms"


def _as_paths(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str) and value.strip():
        return [p.strip() for p in value.split(",") if p.strip()]
    return []


def span_verification(attrs: dict[str, Any]) -> dict[str, Any] | None:
    """The completion check an `invoke_agent` span carries.

    None when it carries none (no check ran, or a span from before checks
    existed). `checked` may come as the count or as the paths themselves.
    """
    if tn.AF_VERIFY_PASSED not in attrs and tn.AF_VERIFY_MODE not in attrs:
        return None
    checked = attrs.get(tn.AF_VERIFY_CHECKED)
    if isinstance(checked, bool) or not isinstance(checked, (int, float)):
        count = len(_as_paths(checked))
    else:
        count = int(checked)
    passed = attrs.get(tn.AF_VERIFY_PASSED)
    return {
        "passed": passed if isinstance(passed, bool) else None,
        "mode": attrs.get(tn.AF_VERIFY_MODE),
        "checked": count,
        "missing": _as_paths(attrs.get(tn.AF_VERIFY_MISSING)),
    }


def verification_words(v: dict[str, Any]) -> str:
    """A completion check (from `span_verification`) in the words the tree shows."""
    if v["passed"] is not True:
        missing = v["missing"]
        return "✗ unverified" + (f": missing {', '.join(missing)}" if missing else "")
    if v["mode"] == "answer_only":
        return "✓ answer only"
    n = v["checked"]
    return f"✓ verified {n} path{'s' if n != 1 else ''}"


def _summary(s: SpanRecord) -> str:
    a = s.attributes
    if s.missing:
        agent = a.get(tn.GEN_AI_AGENT_ID)
        return f"[{agent}]" if agent else ""
    parts: list[str] = []
    op = a.get(tn.GEN_AI_OPERATION)
    if op == "invoke_agent":
        parts.append(f"[{a.get(tn.GEN_AI_AGENT_ID, '?')}]")
        for key in (tn.AF_TIER, tn.AF_DECISION, tn.AF_STATUS):
            if key in a:
                parts.append(str(a[key]))
        check = span_verification(a)
        if check is not None:
            parts.append(verification_words(check))
    elif op == "chat":
        attempt = a.get(tn.AF_ATTEMPT, 1)
        parts.append(f"attempt {attempt}")
        if tn.GEN_AI_INPUT_TOKENS in a:
            parts.append(f"{a[tn.GEN_AI_INPUT_TOKENS]}→{a.get(tn.GEN_AI_OUTPUT_TOKENS, 0)} tok")
        if a.get(tn.GEN_AI_FINISH_REASONS):
            parts.append(",".join(str(r) for r in a[tn.GEN_AI_FINISH_REASONS]))
        if a.get(tn.AF_SIMULATED):
            parts.append("simulated")
    elif op == "execute_tool":
        if a.get(tn.GEN_AI_TOOL_CALL_ID):
            parts.append(str(a[tn.GEN_AI_TOOL_CALL_ID]))
        if int(a.get(tn.AF_ATTEMPT, 1)) > 1:
            parts.append(f"attempt {a[tn.AF_ATTEMPT]}")
    if s.status_code == 2:
        kind = a.get(tn.ERROR_TYPE)
        parts.append(f"ERROR {kind}" if kind else "ERROR")
    return "  ".join(parts)


def _bar(s: SpanRecord, t0: int, total: int) -> str:
    if total <= 0:
        return "█" + " " * (BAR - 1)
    first = min(BAR - 1, int((s.start_ns - t0) * BAR / total))
    last = max(first + 1, min(BAR, round((s.end_ns - t0) * BAR / total)))
    return " " * first + ("░" if s.missing else "█") * (last - first) + " " * (BAR - last)


def _walk(
    lines: list[str],
    s: SpanRecord,
    t0: int,
    total: int,
    prefix: str,
    *,
    last: bool,
    top: bool,
) -> None:
    """One span's line of the tree, then its children's, below it."""
    branch = "" if top else ("└─ " if last else "├─ ")
    start = iso(s.start_ns) if not s.missing else "-"
    dur = _duration(s.duration_ns) if not s.missing else "open"
    extra = _summary(s)
    lines.append(
        f"{start:<27} {dur:>9}  {_bar(s, t0, total)}  {prefix}{branch}{s.name}"
        + (f"  {extra}" if extra else "")
    )
    child_prefix = prefix if top else prefix + ("   " if last else "│  ")
    for i, c in enumerate(s.children):
        _walk(lines, c, t0, total, child_prefix, last=i == len(s.children) - 1, top=False)


def render_text(workflow_id: str, trees: list[TraceTree], path: Path) -> str:
    """The traces as text trees with UTC times and timeline bars: `agentfleet trace ID`."""
    lines: list[str] = []
    for tree in trees:
        t0, total = tree.start_ns, tree.end_ns - tree.start_ns
        errors = sum(1 for s in tree.spans if s.status_code == 2)
        service = next((s.resource.get("service.name") for s in tree.spans if s.resource), "?")
        lines.append(
            f"trace {tree.trace_id} · {workflow_id} · {len(tree.spans)} spans"
            + (f" · {errors} error{'s' if errors != 1 else ''}" if errors else "")
            + f" · service {service}"
        )
        lines.append(f"started {iso(t0)} · {_duration(total)} (times UTC)")
        lines.append(f"{'start (UTC)':<27} {'duration':>9}  {'timeline':<{BAR}}  span")

        for root in tree.roots:
            _walk(lines, root, t0, total, "", last=True, top=True)
        lines.append("")
    lines.append(f"({path})")
    return "\n".join(lines)


def _node(s: SpanRecord) -> dict[str, Any]:
    return {
        "name": s.name or None,
        "trace_id": s.trace_id,
        "span_id": s.span_id,
        "parent_span_id": s.parent_span_id or None,
        "missing": s.missing,
        "kind": KIND_NAMES.get(s.kind, "UNSPECIFIED"),
        "start": iso(s.start_ns),
        "end": iso(s.end_ns),
        "start_unix_nano": s.start_ns,
        "end_unix_nano": s.end_ns,
        "duration_ms": round(s.duration_ns / 1e6, 3),
        "status": {"code": STATUS_NAMES.get(s.status_code, "UNSET"), "message": s.status_message},
        "attributes": s.attributes,
        "verification": span_verification(s.attributes),
        "events": [
            {**e, "time": iso(e["time_unix_nano"])} for e in s.events if "time_unix_nano" in e
        ],
        "children": [_node(c) for c in s.children],
    }


def render_json(workflow_id: str, trees: list[TraceTree], path: Path) -> str:
    """The traces as one JSON document with the spans nested: `agentfleet trace ID --json`."""
    doc = {
        "id": workflow_id,
        "file": str(path),
        "traces": [
            {
                "trace_id": t.trace_id,
                "start": iso(t.start_ns),
                "start_unix_nano": t.start_ns,
                "duration_ms": round((t.end_ns - t.start_ns) / 1e6, 3),
                "span_count": len(t.spans),
                "spans": [_node(r) for r in t.roots],
            }
            for t in trees
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def trace_command(home: Path, workflow_id: str, *, as_json: bool) -> tuple[int, str]:
    """`agentfleet trace ID [--json]`: (exit code, text to print). 1 when nothing is found."""
    path = home / SPAN_FILE
    segments = spool_segments(home)
    if not path.exists() and not segments:
        return 1, (
            f"no span file at {path}: traces are written there by workers that run without "
            "OTEL_EXPORTER_OTLP_ENDPOINT (with an endpoint, look in your tracing backend)"
        )
    trees = traces_for(read_spans(path, *segments), workflow_id)
    if not trees:
        return 1, f"no spans for {workflow_id!r} in {path}"
    if as_json:
        return 0, render_json(workflow_id, trees, path)
    return 0, render_text(workflow_id, trees, path)
