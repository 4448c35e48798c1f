"""Reading spool segments for the shipper: whole-line batches, torn tails, what a batch holds."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agentfleet.telemetry.counters import has_counters

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def segment_size(seg: Path) -> int:
    """The segment's size in bytes; 0 once it is gone."""
    try:
        return seg.stat().st_size
    except FileNotFoundError:
        return 0


def read_range(seg: Path, start: int, length: int) -> bytes:
    """Up to `length` bytes of the segment from `start`; empty once it is gone."""
    if length <= 0:
        return b""
    try:
        with seg.open("rb") as f:
            f.seek(start)
            return f.read(length)
    except FileNotFoundError:
        return b""


def next_batch(seg: Path, start: int, limit: int, *, active: bool) -> tuple[bytes, bytes]:
    """(whole lines from `start`, up to about `limit` bytes; a torn tail of a closed segment)."""
    try:
        with seg.open("rb") as f:
            f.seek(start)
            chunk = f.read(limit)
            while chunk and b"\n" not in chunk:
                more = f.read(limit)
                if not more:
                    break
                chunk += more
    except FileNotFoundError:
        return b"", b""
    end = chunk.rfind(b"\n") + 1
    if end:
        return chunk[:end], b""
    if chunk and not active:
        return b"", chunk
    return b"", b""  # the writer is mid-line; it finishes it


def has_work(path: Path, *, counters: bool) -> bool:
    """Whether a slot directory still holds segments (or, if `counters`, counts) to ship."""
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return any(n.endswith(".jsonl") for n in names) or (counters and has_counters(path))


def summary(data: bytes) -> tuple[int, set[str], int, int]:
    """(spans, trace ids, first start ns, last start ns) of spool lines; torn lines skipped."""
    spans, traces, first, last = 0, set(), 0, 0
    for line in data.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        for rs in doc.get("resourceSpans", ()):
            for ss in rs.get("scopeSpans", ()):
                for s in ss.get("spans", ()):
                    spans += 1
                    traces.add(s.get("traceId", ""))
                    start = int(s.get("startTimeUnixNano", 0))
                    first = start if not first else min(first, start)
                    last = max(last, start)
    return spans, traces, first, last


def _iso(ns: int) -> str:
    when = _EPOCH + timedelta(microseconds=ns // 1000)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def describe(data: bytes, seg: Path, why: str) -> str:
    """Name what a batch held and where it came from, for the log line that drops it."""
    spans, traces, first, last = summary(data)
    shown = ", ".join(sorted(traces)[:3]) + (", ..." if len(traces) > 3 else "")
    span_range = f"started {_iso(first)} to {_iso(last)}" if spans else "no readable span"
    return f"{spans} spans of {len(traces)} traces ({shown}; {span_range}) from {seg}: {why}"
