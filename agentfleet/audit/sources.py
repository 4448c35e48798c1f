"""Reading the raw inputs: timestamps as the ledger stored them, and the span file.

Split out of the audit so the parsing of what other code wrote (a ledger
column, OTLP protobuf-JSON lines) is apart from the comparison of it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agentfleet.contracts.reports import SpanRecord
from agentfleet.telemetry.names import AF_STATUS, GEN_AI_AGENT_ID, GEN_AI_CONVERSATION_ID

SPAN_PREFIX = "invoke_agent"
TRACES_FILE = Path("traces") / "spans.jsonl"

# The only text the ledger itself stores in SQLite (see agentfleet.ledger.store.UTCDateTime):
# UTC wall time with exactly six fractional digits.
_SQLITE_CANONICAL = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$")


def spans_path(home: Path) -> Path:
    """Where the local span file of `home` is, the telemetry the audit reads."""
    return Path(home) / TRACES_FILE


# --- stored values --------------------------------------------------------------


def parse_stored_timestamp(
    value: object, dialect: str
) -> tuple[datetime | None, str | None, str | None]:
    """Read a raw timestamp column as (instant as the ledger reads it, raw text, problem).

    The instant follows the ledger's own reading (naive means UTC), so it is
    the value the report really used; the problem is None for a canonical value.
    """
    if value is None:
        return None, None, None
    if isinstance(value, datetime):
        raw = value.isoformat()
        if value.tzinfo is None or value.utcoffset() is None:
            return (
                value.replace(tzinfo=UTC),
                raw,
                f"stored without a zone ({raw}) in a column that should hold instants",
            )
        return value.astimezone(UTC), raw, None
    if not isinstance(value, str):
        return None, repr(value), f"stored as {type(value).__name__} {value!r}, not a timestamp"
    if dialect == "sqlite" and _SQLITE_CANONICAL.match(value):
        return datetime.fromisoformat(value).replace(tzinfo=UTC), value, None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None, value, f"stored as {value!r}, which is not a timestamp"
    if parsed.tzinfo is not None and parsed.utcoffset() is not None:
        return (
            parsed.astimezone(UTC),
            value,
            f"stored as {value!r}: with a UTC offset, not in the ledger's UTC format, "
            "so something other than the ledger wrote it",
        )
    return (
        parsed.replace(tzinfo=UTC),
        value,
        f"stored as {value!r}: not in the ledger's UTC format, so something other than "
        "the ledger wrote it (a naive, probably local, time)",
    )


def parse_stored_check(
    verified: object, missing: object
) -> tuple[bool | None, list[str] | None, list[str]]:
    """Read the raw completion-check columns as (verified, missing paths, problems).

    Only what the ledger itself writes counts as a check: a boolean (SQLite:
    0 or 1) and a JSON list of paths. Anything else is no check, and the
    problem says what was stored instead.
    """
    problems: list[str] = []
    flag: bool | None
    if verified is None or isinstance(verified, bool):
        flag = verified
    elif isinstance(verified, int) and verified in (0, 1):
        flag = bool(verified)
    else:
        flag = None
        problems.append(f"verified stored as {verified!r}, not a boolean")
    paths: list[str] | None = None
    if isinstance(missing, str):
        try:
            parsed = json.loads(missing)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
            paths = parsed
        else:
            problems.append(f"verify_missing stored as {missing!r}, not a JSON list of paths")
    elif missing is not None:
        problems.append(f"verify_missing stored as {type(missing).__name__} {missing!r}")
    return flag, paths, problems


def _value(v: dict[str, Any]) -> Any:
    for key in ("stringValue", "string_value"):
        if key in v:
            return v[key]
    for key in ("intValue", "int_value"):
        if key in v:
            # protobuf JSON writes int64 as a string.
            return int(v[key])
    for key in ("boolValue", "bool_value", "doubleValue", "double_value"):
        if key in v:
            return v[key]
    return None


def _get(d: dict[str, Any], *names: str) -> Any:
    for n in names:
        if n in d:
            return d[n]
    return None


def _nanos(v: object) -> datetime | None:
    try:
        ns = int(str(v))
    except (TypeError, ValueError):
        return None
    if ns <= 0:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


def spans_from_lines(lines: Iterable[str]) -> tuple[list[SpanRecord], int]:
    """Read the `invoke_agent` spans from lines of the span file.

    Each line is an OTLP `ExportTraceServiceRequest` in protobuf-JSON
    (camelCase or proto field names). Returns (spans, number of lines that
    could not be read).
    """
    spans: list[SpanRecord] = []
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            resource_spans = _get(doc, "resourceSpans", "resource_spans") or []
        except (json.JSONDecodeError, AttributeError, TypeError):
            bad += 1
            continue
        for rs in resource_spans:
            for ss in _get(rs, "scopeSpans", "scope_spans") or []:
                for sp in ss.get("spans") or []:
                    name = str(sp.get("name", ""))
                    if not name.startswith(SPAN_PREFIX):
                        continue
                    attrs = {
                        a.get("key"): _value(a.get("value") or {})
                        for a in sp.get("attributes") or []
                    }
                    agent = attrs.get(GEN_AI_AGENT_ID)
                    if not agent:
                        continue
                    status = attrs.get(AF_STATUS)
                    conv = attrs.get(GEN_AI_CONVERSATION_ID)
                    spans.append(
                        SpanRecord(
                            name=name,
                            agent_id=str(agent),
                            conversation_id=None if conv is None else str(conv),
                            trace_id=str(_get(sp, "traceId", "trace_id") or ""),
                            span_id=str(_get(sp, "spanId", "span_id") or ""),
                            start=_nanos(_get(sp, "startTimeUnixNano", "start_time_unix_nano")),
                            end=_nanos(_get(sp, "endTimeUnixNano", "end_time_unix_nano")),
                            status=None if status is None else str(status),
                        )
                    )
    return spans, bad
