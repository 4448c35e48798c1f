"""Metrics plumbing: the Runtime's `MetricBuffer` drained into an OTel `MeterProvider`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from temporalio.runtime import BufferedMetric, BufferedMetricUpdate, MetricBuffer

from agentfleet.telemetry.counters import PREFIX, CounterStore, generation

log = logging.getLogger("agentfleet.telemetry")


# --------------------------------------------------------------------------- metrics


class Folded:
    """One series' updates of one drain, folded: shaped as a `BufferedMetricUpdate`."""

    __slots__ = ("attributes", "metric", "value")

    def __init__(self, metric: BufferedMetric, attributes: Any, value: float) -> None:
        self.metric, self.attributes, self.value = metric, attributes, value


def fold(updates: Sequence[BufferedMetricUpdate]) -> list[Folded]:
    """The updates of one drain with what the instruments would not keep folded away.

    A gauge keeps the last value of each series, and a counter's increments add up, so
    one update per series says the same; a histogram keeps every value. The SDK refreshes
    its slot gauges at every task (about a third of a worker's updates), and each update
    costs a dict and an instrument call. A series is the same metric object and the same
    attributes object (the buffer reuses both, see temporalio.runtime); the folded entries
    hold on to them, so no other object can take their ids while the fold runs.
    """
    out: list[Folded] = []
    series: dict[tuple[int, int], Folded] = {}
    for u in updates:
        metric, attributes = u.metric, u.attributes
        kind = int(metric.kind)
        if kind == 2:
            out.append(Folded(metric, attributes, u.value))
            continue
        key = (id(metric), id(attributes))
        entry = series.get(key)
        if entry is None:
            entry = series[key] = Folded(metric, attributes, u.value)
            out.append(entry)
        elif kind == 1:
            entry.value = u.value
        else:
            entry.value += u.value
    return out


class MetricDrain:
    """Drains the Runtime's `MetricBuffer` into an OTel `MeterProvider`, every second.

    What `temporalio.contrib.opentelemetry.MetricsExporter` does, with one difference that
    matters here: instruments and attribute sets are keyed by value. MetricsExporter (temporalio
    1.35) keys its caches by `id()` of the buffer's metric and attribute objects without keeping
    them alive; custom metrics are created per activity and per workflow, their objects are
    freed, the ids are reused, and updates land on the wrong metric with the wrong labels (seen
    in tests/test_telemetry.py before this class existed). Also handles up-down counters.

    With a `store` (counters.py), the fleet counters are durable: each drain writes the new
    totals to disk before the exporter can see them, and the instruments start from the totals
    the slot's previous owner left. `checkpoint()`, which the durable-spans plugin runs before
    Temporal hears that work is done, persists them without waiting for the next drain.
    """

    def __init__(
        self,
        buffer: MetricBuffer,
        meter_provider: MeterProvider,
        interval: float = 1.0,
        store: CounterStore | None = None,
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
        self._store = store
        self._persisted = -1  # the counters.generation() that the last drain covered
        self._taken: list[Folded] = []  # taken by checkpoints, not yet in the instruments
        if store is not None:
            for series in store.series():
                counter = self._instrument(series.name, 0, series.unit, series.description)
                counter.add(series.value, series.attributes)
        self._thread = threading.Thread(target=self._run, name="agentfleet-metrics", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.drain()

    def drain(self) -> None:
        """Move the Runtime's buffered metric updates into the OTel instruments (and the store)."""
        with self._drain_lock:
            # What checkpoints took since the last drain, and what came after: folded
            # together, a second of slot gauges and counter increments is a few calls.
            taken, self._taken = [*self._taken, *self._take()], []
            for update in fold(taken):
                try:
                    self._apply(update)
                except Exception:
                    log.exception("cannot export metric update for %s", update.metric.name)

    def checkpoint(self) -> None:
        """Persist the fleet counters recorded so far: run before Temporal hears work is done.

        Skipped when no fleet counter was recorded since the last drain finished: a thread's
        own recordings come before its checkpoint, and `_persisted` moves only once a drain
        that saw them has written them. The updates it takes reach the instruments at the
        next drain, within the drain interval, as the ones it did not take would have: the
        exporter reads them no sooner, and the activation or activity waiting on this
        checkpoint does not pay for them.
        """
        if generation() != self._persisted:
            with self._drain_lock:
                self._taken.extend(self._take())

    def _take(self) -> list[Folded]:
        """The buffer's updates, folded, with the fleet counters among them persisted."""
        seen = generation()
        try:
            updates = self._buffer.retrieve_updates()
        except Exception:
            log.exception("cannot read the SDK metric buffer")
            return []
        folded = fold(updates)
        if self._store is not None:
            self._persist(folded)
        self._persisted = max(self._persisted, seen)
        return folded

    def _persist(self, updates: Sequence[Folded]) -> None:
        increments = [
            (
                u.metric.name,
                u.metric.unit or "",
                u.metric.description or "",
                dict(u.attributes),
                int(u.value),
            )
            for u in updates
            if int(u.metric.kind) == 0 and u.metric.name.startswith(PREFIX) and u.value
        ]
        if not increments or self._store is None:
            return
        try:
            self._store.add(increments)
        except OSError:
            # Still exported below; only the crash-safety of these increments is lost.
            log.exception(
                "cannot persist %d fleet counter increments to %s: a crash before the next "
                "export would lose them",
                len(increments),
                self._store.path,
            )

    def _instrument(self, name: str, kind: int, unit: str, description: str) -> Any:
        key = (name, kind)
        inst: Any = self._instruments.get(key)
        if inst is None:
            if kind == 0:
                inst = self._meter.create_counter(name, unit, description)
            elif kind == 2:
                inst = self._meter.create_histogram(name, unit, description)
            elif kind == 3:
                inst = self._meter.create_up_down_counter(name, unit, description)
            else:
                raise ValueError(f"unknown buffered metric kind {kind}")
            self._instruments[key] = inst
        return inst

    def seen(self) -> set[str]:
        """Names of the metrics drained so far."""
        with self._drain_lock:
            return set(self.names)

    def stop(self) -> None:
        """Stop the drain thread after one last drain, and close the counter store."""
        self._stop.set()
        self._thread.join(timeout=5)
        self.drain()
        if self._store is not None:
            self._store.close()

    def _apply(self, update: Folded) -> None:
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
        inst = self._instrument(metric.name, kind, metric.unit or "", metric.description or "")
        if kind == 2:
            inst.record(update.value, attrs)
        else:
            inst.add(update.value, attrs)

    def _observe(self, name: str) -> Any:
        def callback(_options: CallbackOptions) -> Iterable[Observation]:
            with self._gauge_lock:
                return [Observation(v, attributes=a) for a, v in self._gauges[name].values()]

        return callback
