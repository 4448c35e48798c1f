"""Metrics plumbing: the Runtime's `MetricBuffer` drained into an OTel `MeterProvider`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from temporalio.runtime import BufferedMetricUpdate, MetricBuffer

log = logging.getLogger("agentfleet.telemetry")


# --------------------------------------------------------------------------- metrics


class MetricDrain:
    """Drains the Runtime's `MetricBuffer` into an OTel `MeterProvider`, every second.

    What `temporalio.contrib.opentelemetry.MetricsExporter` does, with one difference that
    matters here: instruments and attribute sets are keyed by value. MetricsExporter (temporalio
    1.35) keys its caches by `id()` of the buffer's metric and attribute objects without keeping
    them alive; custom metrics are created per activity and per workflow, their objects are
    freed, the ids are reused, and updates land on the wrong metric with the wrong labels (seen
    in tests/test_telemetry.py before this class existed). Also handles up-down counters.
    """

    def __init__(
        self, buffer: MetricBuffer, meter_provider: MeterProvider, interval: float = 1.0
    ) -> None:
        self._buffer = buffer
        self._meter = meter_provider.get_meter("temporalio")
        self._interval = interval
        self._instruments: dict[tuple[str, int], Any] = {}
        self._gauges: dict[str, dict[tuple[tuple[str, Any], ...], tuple[dict[str, Any], Any]]] = {}
        self._gauge_lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._stop = threading.Event()
        self.names: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="agentfleet-metrics", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.drain()

    def drain(self) -> None:
        with self._drain_lock:
            try:
                updates = self._buffer.retrieve_updates()
            except Exception:
                log.exception("cannot read the SDK metric buffer")
                return
            for update in updates:
                try:
                    self._apply(update)
                except Exception:
                    log.exception("cannot export metric update for %s", update.metric.name)

    def seen(self) -> set[str]:
        with self._drain_lock:
            return set(self.names)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.drain()

    def _apply(self, update: BufferedMetricUpdate) -> None:
        metric = update.metric
        self.names.add(metric.name)
        attrs = dict(update.attributes)
        kind = int(metric.kind)
        if kind == 1:  # gauge: latest value per attribute set, observed at export
            with self._gauge_lock:
                series = self._gauges.get(metric.name)
                if series is None:
                    series = self._gauges[metric.name] = {}
                    self._meter.create_observable_gauge(
                        metric.name,
                        callbacks=[self._observe(metric.name)],
                        unit=metric.unit or "",
                        description=metric.description or "",
                    )
                series[tuple(sorted(attrs.items()))] = (attrs, update.value)
            return
        key = (metric.name, kind)
        inst: Any = self._instruments.get(key)
        if inst is None:
            unit, description = metric.unit or "", metric.description or ""
            if kind == 0:
                inst = self._meter.create_counter(metric.name, unit, description)
            elif kind == 2:
                inst = self._meter.create_histogram(metric.name, unit, description)
            elif kind == 3:
                inst = self._meter.create_up_down_counter(metric.name, unit, description)
            else:
                raise ValueError(f"unknown buffered metric kind {kind}")
            self._instruments[key] = inst
        if kind == 2:
            inst.record(update.value, attrs)
        else:
            inst.add(update.value, attrs)

    def _observe(self, name: str) -> Any:
        def callback(_options: CallbackOptions) -> Iterable[Observation]:
            with self._gauge_lock:
                return [Observation(v, attributes=a) for a, v in self._gauges[name].values()]

        return callback
