"""Durable fleet counters: the slot's cumulative `agentfleet_*` totals, on disk first.

A killed worker used to take with it every increment since its last export (up to
`OTEL_METRIC_EXPORT_INTERVAL`), and its successor started each series at zero: Grafana's totals
drifted below the ledger's. Now `MetricDrain` writes the slot's new totals here *before* it hands
the increments to the exporter, and the durable-spans plugin drains before Temporal hears that an
activity or workflow task is done. So whatever was exported is on disk, and so is every increment
of work that Temporal considers done.

The next owner of the slot (same `service.instance.id`) starts its counters from these totals, so
the series continues without a reset and the dead process's last increments go out with the next
export. A slot nobody claims again (fewer workers after a crash) is adopted by a live sibling,
which exports the slot's final totals once on the dead instance's behalf. Cumulative values make
both idempotent: sending one twice changes nothing.

What this does not change: workflow-side counters are recorded when a workflow task runs live,
and a task that the server bounces is run, and counted, again (workflows/_observe.py), so a
counter may be above the ledger, never below it from a lost process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from agentfleet.atomic import atomic_write_bytes
from agentfleet.telemetry.spanfile import write_all

CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE

log = logging.getLogger("agentfleet.telemetry")

PREFIX = "agentfleet_"
COUNTERS_FILE = "counters.json"
EXPORTED_FILE = "counters.exported"
SCOPE = "temporalio"  # the MetricDrain's meter: the same series as the live exports

AttrKey = tuple[tuple[str, Any], ...]


@dataclass
class Series:
    """One fleet counter with one set of attributes: its cumulative value so far."""

    name: str
    unit: str
    description: str
    attributes: dict[str, Any]
    value: int


class CounterStore:
    """The cumulative value per series of one slot: a snapshot plus a log of increments.

    `counters.json` holds the totals as of its `log` generation; `counters.<gen>.log` then has
    one appended line per persisted batch of increments. Appending a short line is one write;
    rewriting and renaming the whole snapshot on every activity cost ten times more (and the
    rename is a journal commit). The log is folded into a new snapshot every `compact_bytes`:
    first a new, empty log of the next generation, then the snapshot naming it (an atomic
    rename), then the old log is deleted; a crash at any point leaves one consistent pair.
    """

    def __init__(
        self,
        directory: Path,
        resource: Mapping[str, Any] | None = None,
        *,
        fsync: bool = False,
        compact_bytes: int = 256 << 10,
    ) -> None:
        self.path = directory / COUNTERS_FILE
        self.fsync = fsync
        self.compact_bytes = compact_bytes
        self._lock = threading.Lock()
        self._series: dict[tuple[str, AttrKey], Series] = {}
        self.resource: dict[str, Any] = dict(resource or {})
        self.start_ns = time.time_ns()
        self.saved_at_ns = 0
        self._gen = 0
        self._fd = -1
        self._log_size = 0
        doc = self._read()
        if doc is not None:
            self.start_ns = int(doc.get("start_unix_nano", self.start_ns))
            self.saved_at_ns = int(doc.get("saved_unix_nano", 0))
            self._gen = int(doc.get("log", 0))
            if not self.resource:
                self.resource = dict(doc.get("resource", {}))
            for s in doc.get("series", ()):
                self._apply(
                    s["name"],
                    s.get("unit", ""),
                    s.get("description", ""),
                    s["attributes"],
                    s["value"],
                )
        self._replay()
        if resource is not None:
            # The owner starts with a snapshot: its resource and start time are on disk for a
            # sibling that may have to export the totals on its behalf, and the log is short.
            with self._lock:
                self._compact()

    def _log_path(self, gen: int) -> Path:
        return self.path.with_name(f"counters.{gen}.log")

    def _read(self) -> dict[str, Any] | None:
        try:
            doc: dict[str, Any] = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            log.error(
                "cannot read the durable counters %s (%s): their series restart at zero",
                self.path,
                err,
            )
            return None
        return doc

    def _replay(self) -> None:
        try:
            raw = self._log_path(self._gen).read_bytes()
        except FileNotFoundError:
            return
        for line in raw.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # the torn last line of a killed process: never persisted, never done
            self.saved_at_ns = max(self.saved_at_ns, int(entry.get("t", 0)))
            for name, unit, description, attrs, value in entry.get("inc", ()):
                self._apply(name, unit, description, attrs, value)

    def _apply(
        self, name: str, unit: str, description: str, attrs: Mapping[str, Any], value: int
    ) -> None:
        key = (name, _key(attrs))
        s = self._series.get(key)
        if s is None:
            self._series[key] = Series(name, unit, description, dict(attrs), int(value))
        else:
            s.value += int(value)

    def series(self) -> list[Series]:
        """A copy of every series, safe to read while counts go on."""
        with self._lock:
            return [
                Series(s.name, s.unit, s.description, dict(s.attributes), s.value)
                for s in self._series.values()
            ]

    def add(self, increments: Iterable[tuple[str, str, str, Mapping[str, Any], int]]) -> None:
        """Add (name, unit, description, attributes, value) increments, on disk first."""
        incs = [(str(n), str(u), str(d), dict(a), int(v)) for n, u, d, a, v in increments]
        if not incs:
            return
        with self._lock:
            now = time.time_ns()
            line = json.dumps({"t": now, "inc": incs}, separators=(",", ":"), default=str)
            if self._fd < 0:
                self._fd = os.open(
                    self._log_path(self._gen), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
                )
                self._log_size = os.fstat(self._fd).st_size
            data = (line + "\n").encode()
            write_all(self._fd, data, fsync=self.fsync)
            self._log_size += len(data)
            for name, unit, description, attrs, value in incs:
                self._apply(name, unit, description, attrs, value)
            self.saved_at_ns = now
            if self._log_size >= self.compact_bytes:
                self._compact()

    def _compact(self) -> None:
        old, new = self._gen, self._gen + 1
        fd = os.open(self._log_path(new), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        doc = {
            "resource": self.resource,
            "start_unix_nano": self.start_ns,
            "saved_unix_nano": self.saved_at_ns,
            "log": new,
            "series": [vars(s) for s in self._series.values()],
        }
        atomic_write_bytes(
            self.path,
            json.dumps(doc, separators=(",", ":"), default=str).encode(),
            mode=0o644,
            fsync=self.fsync,
        )
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._gen, self._log_size = fd, new, 0
        with contextlib.suppress(FileNotFoundError):
            self._log_path(old).unlink()

    def close(self) -> None:
        """Close the log; the next record opens it again."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    # --- the final export of an adopted slot ---

    def needs_final_export(self) -> bool:
        """Whether the slot holds counts that no final export has sent yet."""
        if not self._series:
            return False
        try:
            done = int((self.path.parent / EXPORTED_FILE).read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            done = 0
        return self.saved_at_ns > done

    def mark_exported(self) -> None:
        """Note that the final export sent everything saved so far."""
        atomic_write_bytes(
            self.path.parent / EXPORTED_FILE,
            f"{self.saved_at_ns}\n".encode(),
            mode=0o644,
            fsync=False,
        )

    def final_request(self, now_ns: int | None = None) -> bytes:
        """The slot's totals as one OTLP metrics request: cumulative monotonic sums."""
        now_ns = now_ns or time.time_ns()
        by_name: dict[str, list[Series]] = {}
        for s in self.series():
            by_name.setdefault(s.name, []).append(s)
        metrics = [
            {
                "name": name,
                "unit": group[0].unit,
                "description": group[0].description,
                "sum": {
                    "aggregation_temporality": CUMULATIVE,
                    "is_monotonic": True,
                    "data_points": [
                        {
                            "attributes": _kvs(s.attributes),
                            "start_time_unix_nano": self.start_ns,
                            "time_unix_nano": now_ns,
                            "as_int": s.value,
                        }
                        for s in group
                    ],
                },
            }
            for name, group in sorted(by_name.items())
        ]
        resource_metrics = [
            {
                "resource": {"attributes": _kvs(self.resource)},
                "scope_metrics": [{"scope": {"name": SCOPE}, "metrics": metrics}],
            }
        ]
        request = ExportMetricsServiceRequest(resource_metrics=cast(Any, resource_metrics))
        return request.SerializeToString()


def _key(attrs: Mapping[str, Any]) -> AttrKey:
    return tuple(sorted((str(k), v) for k, v in attrs.items()))


def _kvs(attrs: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": str(k), "value": _value(v)} for k, v in attrs.items()]


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"bool_value": v}
    if isinstance(v, int):
        return {"int_value": v}
    if isinstance(v, float):
        return {"double_value": v}
    return {"string_value": str(v)}


def load_store(directory: Path) -> CounterStore | None:
    """The store of an adopted slot, or None when the slot never counted anything."""
    if not has_counters(directory):
        return None
    with contextlib.suppress(OSError):
        return CounterStore(directory)
    return None


def has_counters(directory: Path) -> bool:
    """Whether the slot's counters changed since their final export (or were never exported).

    Compares modification times, so a sibling scanning the volume skips a dead slot whose
    totals it already sent without locking or parsing anything.
    """
    try:
        names = os.listdir(directory)
        newest = max(
            (
                (directory / n).stat().st_mtime_ns
                for n in names
                if n == COUNTERS_FILE or (n.startswith("counters.") and n.endswith(".log"))
            ),
            default=-1,
        )
        exported = (directory / EXPORTED_FILE).stat().st_mtime_ns if EXPORTED_FILE in names else -1
    except OSError:
        return False
    return newest > exported


# --------------------------------------------------------------------------- the checkpoint

# Bumped each time a fleet counter is recorded (workflows/_observe.py, activity.py), after the
# recording. A thread's own recordings happen before its checkpoint, so a checkpoint that finds
# the generation unchanged since the last drain has nothing of its own to persist, and skips
# the drain: most workflow activations count nothing.
_generation = 0
_generation_lock = threading.Lock()


def counted() -> None:
    """Tell the checkpoint that a fleet counter was recorded and must reach disk."""
    global _generation
    with _generation_lock:  # never lost, never backwards: a checkpoint relies on it
        _generation += 1


def generation() -> int:
    """How many fleet counts were recorded so far: a checkpoint drains when it changed."""
    return _generation
