"""The metric drain folds each drain's updates per series and exports the same numbers."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from agentfleet.telemetry.metrics import MetricDrain, fold

COUNTER, GAUGE, HISTOGRAM, UP_DOWN = 0, 1, 2, 3


def _metric(name: str, kind: int) -> Any:
    return SimpleNamespace(name=name, kind=kind, unit="", description="")


def _update(metric: Any, attributes: dict[str, str], value: float) -> Any:
    return SimpleNamespace(metric=metric, attributes=attributes, value=value)


class _Buffer:
    """Hands out the queued batches, as the SDK's MetricBuffer does at each drain."""

    def __init__(self, *batches: list[Any]) -> None:
        self.batches = list(batches)

    def retrieve_updates(self) -> list[Any]:
        return self.batches.pop(0) if self.batches else []


def _points(reader: InMemoryMetricReader) -> dict[tuple[str, tuple[tuple[str, Any], ...]], Any]:
    data = reader.get_metrics_data()
    out: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}
    if data is None:  # no instrument has anything yet
        return out
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                for p in m.data.data_points:
                    key = (m.name, tuple(sorted(p.attributes.items())))
                    out[key] = (p.count, p.sum) if hasattr(p, "bucket_counts") else p.value
    return out


def test_gauges_keep_their_last_value_counters_add_up_and_histograms_keep_every_value() -> None:
    slots, calls, latency = _metric("slots", GAUGE), _metric("calls", COUNTER), _metric("lat", 2)
    queue = {"task_queue": "q"}
    other = {"task_queue": "other"}  # same values as no one else: a series of its own
    updates = [
        _update(slots, queue, 5),
        _update(calls, queue, 1),
        _update(latency, queue, 10.0),
        _update(slots, queue, 4),
        _update(calls, queue, 2),
        _update(latency, queue, 30.0),
        _update(slots, other, 9),
        _update(slots, queue, 3),
    ]
    folded = fold(updates)
    assert [(f.metric.name, f.attributes, f.value) for f in folded] == [
        ("slots", queue, 3),
        ("calls", queue, 3),
        ("lat", queue, 10.0),
        ("lat", queue, 30.0),
        ("slots", other, 9),
    ]


def test_a_folded_drain_exports_what_every_update_one_by_one_would() -> None:
    slots, calls = _metric("slots", GAUGE), _metric("calls", COUNTER)
    depth, latency = _metric("depth", UP_DOWN), _metric("lat", HISTOGRAM)
    a, b = {"task_queue": "a"}, {"task_queue": "b"}
    first = [
        _update(calls, a, 1),
        _update(slots, a, 7),
        _update(depth, a, 2),
        _update(latency, a, 5.0),
        _update(calls, a, 1),
        _update(slots, a, 6),
        _update(depth, a, -1),
        _update(latency, a, 15.0),
        _update(calls, b, 4),
    ]
    # The next drain's attribute objects are new ones with equal values: the same series.
    second = [_update(calls, dict(a), 3), _update(slots, dict(a), 2), _update(latency, b, 1.0)]
    reader = InMemoryMetricReader()
    drain = MetricDrain(_Buffer(first, second), MeterProvider(metric_readers=[reader]), 3600)
    try:
        drain.drain()
        after_first = _points(reader)
        drain.drain()
        after_second = _points(reader)
    finally:
        drain.stop()
    calls_a, calls_b = ("calls", (("task_queue", "a"),)), ("calls", (("task_queue", "b"),))
    slots_a, depth_a = ("slots", (("task_queue", "a"),)), ("depth", (("task_queue", "a"),))
    lat_a, lat_b = ("lat", (("task_queue", "a"),)), ("lat", (("task_queue", "b"),))
    assert after_first[calls_a] == 2 and after_first[calls_b] == 4
    assert after_first[slots_a] == 6 and after_first[depth_a] == 1
    assert after_first[lat_a] == (2, 20.0)
    assert after_second[calls_a] == 5 and after_second[slots_a] == 2
    assert after_second[lat_b] == (1, 1.0) and after_second[lat_a] == (2, 20.0)


def test_a_checkpoint_persists_fleet_counters_at_once_and_leaves_the_export_to_the_drain(
    tmp_path: Any,
) -> None:
    from agentfleet.telemetry.counters import CounterStore, counted

    started, slots = _metric("agentfleet_tasks_started", COUNTER), _metric("slots", GAUGE)
    q = {"task_queue": "q"}
    batches = [
        [_update(started, q, 1), _update(slots, q, 9)],
        [_update(started, q, 2), _update(slots, q, 8)],
        [_update(slots, q, 7)],
    ]
    reader = InMemoryMetricReader()
    store = CounterStore(tmp_path)
    drain = MetricDrain(_Buffer(*batches), MeterProvider(metric_readers=[reader]), 3600, store)
    try:
        for _ in range(2):
            counted()  # a fleet counter was recorded: the checkpoint must run
            drain.checkpoint()
        # On disk before the completion goes back; not yet handed to the exporter.
        assert [(s.name, s.value) for s in store.series()] == [("agentfleet_tasks_started", 3)]
        assert _points(reader) == {}
        drain.drain()
        points = _points(reader)
    finally:
        drain.stop()
    assert points[("agentfleet_tasks_started", (("task_queue", "q"),))] == 3
    assert points[("slots", (("task_queue", "q"),))] == 7
