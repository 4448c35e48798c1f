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

CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE

log = logging.getLogger("agentfleet.telemetry")

PREFIX = "agentfleet_"
COUNTERS_FILE = "counters.json"
EXPORTED_FILE = "counters.exported"
SCOPE = "temporalio"  # the MetricDrain's meter: the same series as the live exports

AttrKey = tuple[tuple[str, Any], ...]


@dataclass
class Series:
    name: str
    unit: str
    description: str
    attributes: dict[str, Any]
    value: int


class CounterStore:
    """`counters.json` of one slot: resource, start time and the cumulative value per series."""

    def __init__(
        self, directory: Path, resource: Mapping[str, Any] | None = None, fsync: bool = False
    ) -> None:
        self.path = directory / COUNTERS_FILE
        self.fsync = fsync
        self._lock = threading.Lock()
        self._series: dict[tuple[str, AttrKey], Series] = {}
        self.resource: dict[str, Any] = dict(resource or {})
        self.start_ns = time.time_ns()
        self.saved_at_ns = 0
        doc = self._read()
        if doc is not None:
            self.start_ns = int(doc.get("start_unix_nano", self.start_ns))
            self.saved_at_ns = int(doc.get("saved_unix_nano", 0))
            if not self.resource:
                self.resource = dict(doc.get("resource", {}))
            for s in doc.get("series", ()):
                series = Series(
                    s["name"],
                    s.get("unit", ""),
                    s.get("description", ""),
                    s["attributes"],
                    s["value"],
                )
                self._series[(series.name, _key(series.attributes))] = series

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

    def series(self) -> list[Series]:
        with self._lock:
            return [
                Series(s.name, s.unit, s.description, dict(s.attributes), s.value)
                for s in self._series.values()
            ]

    def add(self, increments: Iterable[tuple[str, str, str, Mapping[str, Any], int]]) -> None:
        """Add (name, unit, description, attributes, value) increments and persist the totals."""
        with self._lock:
            for name, unit, description, attrs, value in increments:
                key = (name, _key(attrs))
                s = self._series.get(key)
                if s is None:
                    self._series[key] = Series(name, unit, description, dict(attrs), int(value))
                else:
                    s.value += int(value)
            self._save()

    def _save(self) -> None:
        self.saved_at_ns = time.time_ns()
        doc = {
            "resource": self.resource,
            "start_unix_nano": self.start_ns,
            "saved_unix_nano": self.saved_at_ns,
            "series": [vars(s) for s in self._series.values()],
        }
        data = json.dumps(doc, separators=(",", ":"), default=str).encode()
        tmp = self.path.with_name(f".{COUNTERS_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if self.fsync:
                os.fdatasync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)  # readers see the old totals or the new, never half

    # --- the final export of an adopted slot ---

    def needs_final_export(self) -> bool:
        if not self._series:
            return False
        try:
            done = int((self.path.parent / EXPORTED_FILE).read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            done = 0
        return self.saved_at_ns > done

    def mark_exported(self) -> None:
        marker = self.path.parent / EXPORTED_FILE
        tmp = marker.with_name(f".{EXPORTED_FILE}.{os.getpid()}.tmp")
        tmp.write_text(f"{self.saved_at_ns}\n")
        os.replace(tmp, marker)

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
    if not (directory / COUNTERS_FILE).exists():
        return None
    with contextlib.suppress(OSError):
        return CounterStore(directory)
    return None
