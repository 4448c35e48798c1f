"""The span spool and its shipper, process by process (no Temporal): what a killed process
spooled is shipped once, by one process, with its original times; outages only delay; the
bounds drop nothing silently. The worker-level crash tests are in tests/test_spool_crash.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)

from agentfleet.telemetry import SPAN_FILE, Telemetry, encode_otlp_json, setup_telemetry
from agentfleet.telemetry.counters import CounterStore
from agentfleet.telemetry.otlp_proto import lines_to_request
from agentfleet.telemetry.spool import SPOOL_DIR, claim_slot, service_dir
from agentfleet.telemetry.trace_view import trace_command
from tests.otlp_receiver import OtlpReceiver
from tests.procs import ROOT

START_NS = 1_767_225_600_123_456_789  # 2026-01-01T00:00:00.123456789Z


@pytest.fixture
async def telemetries() -> AsyncIterator[Callable[..., Telemetry]]:
    made: list[Telemetry] = []

    def make(env: dict[str, str]) -> Telemetry:
        t = setup_telemetry(env)
        made.append(t)
        return t

    yield make
    for t in made:
        await t.shutdown()


def child(home: Path, **opts: Any) -> dict[str, Any]:
    """Run tests/spool_child.py: spool `spans` spans (and counts), then die by SIGKILL."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.spool_child", str(home), json.dumps(opts)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
    )
    if not opts.get("exit"):
        assert proc.returncode == -9, proc.stderr  # killed, as a crashed host would be
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def otlp_env(home: Path, rx: OtlpReceiver, **extra: str) -> dict[str, str]:
    return {
        "AGENTFLEET_HOME": str(home),
        "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
        "OTEL_METRIC_EXPORT_INTERVAL": "600000",
        **extra,
    }


def named(rx: OtlpReceiver, prefix: str) -> Counter[str]:
    return Counter(s.name for s in rx.spans() if s.name.startswith(prefix))


def segments(home: Path) -> list[Path]:
    return sorted((home / SPOOL_DIR).glob("*/slot-*/*.jsonl"))


# --------------------------------------------------------------------------- the format


def test_spool_lines_become_exactly_the_protobuf_the_sdk_sends() -> None:
    captured: list[Any] = []

    class Keep(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            captured.extend(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider(resource=Resource.create({"service.name": "w", "n": 1}))
    provider.add_span_processor(SimpleSpanProcessor(Keep()))
    remote = SpanContext(
        trace_id=0xABC,
        span_id=0xDEF,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("k", "v")]),
    )
    tracer = provider.get_tracer("scope.one", "1.2", attributes={"x": "y"})
    with tracer.start_as_current_span(
        "parent",
        context=trace.set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.CLIENT,
        links=[Link(remote, {"l": 1})],
        attributes={"s": "t", "i": 7, "f": 0.5, "b": False, "ints": [1, 2], "empty": []},
        start_time=START_NS,
    ) as parent:
        parent.add_event("e1", {"k": "v"}, timestamp=START_NS + 5)
        with provider.get_tracer("scope.two").start_as_current_span("child") as child_span:
            child_span.set_status(Status(StatusCode.ERROR, "boom"))
    other = TracerProvider(resource=Resource.create({"service.name": "other"}))
    other.add_span_processor(SimpleSpanProcessor(Keep()))
    other.get_tracer("t").start_span("ok", start_time=5).end(end_time=9)

    first, second = captured[:2], captured[2:]
    data = b"".join(
        (json.dumps(encode_otlp_json(batch)) + "\n").encode() for batch in (first, second)
    )
    body, spans = lines_to_request(data)
    assert spans == 3
    got = ExportTraceServiceRequest.FromString(body)
    want = ExportTraceServiceRequest()
    want.resource_spans.extend(encode_spans(first).resource_spans)
    want.resource_spans.extend(encode_spans(second).resource_spans)
    assert got == want
    parent_pb = next(
        s
        for rs in got.resource_spans
        for ss in rs.scope_spans
        for s in ss.spans
        if s.name == "parent"
    )
    assert parent_pb.start_time_unix_nano == START_NS  # the original time, to the nanosecond


# --------------------------------------------------------------------------- dead processes


async def test_a_restarted_process_ships_what_its_killed_predecessor_spooled(
    tmp_path: Path, telemetries: Callable[..., Telemetry]
) -> None:
    home = tmp_path / "home"
    with OtlpReceiver() as rx:
        dead = child(home, spans=12, endpoint=rx.grpc_endpoint, start_ns=START_NS)
        assert not rx.spans()  # killed before its shipper sent anything
        assert segments(home)
        successor = telemetries(otlp_env(home, rx))
        assert successor.slot is not None and str(successor.slot.path) == dead["slot"]
        assert rx.wait_for(lambda: len(named(rx, "child")) >= 12, 20)
        await successor.shutdown()
    got = named(rx, "child")
    assert got == Counter({f"child {i}": 1 for i in range(12)})
    starts = {s.name: s.span.start_time_unix_nano for s in rx.spans()}
    assert all(starts[f"child {i}"] == START_NS + i for i in range(12))
    # The same slot, so the same instance: counter series continue instead of restarting.
    assert {s.resource["service.instance.id"] for s in rx.spans()} == {dead["instance"]}
    assert not segments(home)  # shipped, then deleted


async def test_a_dead_process_spool_is_shipped_once_by_one_of_two_siblings(
    tmp_path: Path, telemetries: Callable[..., Telemetry]
) -> None:
    home = tmp_path / "home"
    with OtlpReceiver() as rx:
        a = telemetries(otlp_env(home, rx))
        b = telemetries(otlp_env(home, rx))
        dead = child(home, spans=30, endpoint=rx.grpc_endpoint, start_ns=START_NS)
        assert dead["slot"].endswith("slot-2")  # the siblings hold slots 0 and 1
        assert rx.wait_for(lambda: len(named(rx, "child")) >= 30, 20)
        await asyncio.sleep(2.5)  # a full scan period more: nobody ships it again
        assert a.shipper is not None and b.shipper is not None
        adopted = a.shipper.stats.adopted + b.shipper.stats.adopted
        await a.shutdown()
        await b.shutdown()
    assert adopted == [dead["slot"]]
    assert named(rx, "child") == Counter({f"child {i}": 1 for i in range(30)})
    assert not segments(home)


# --------------------------------------------------------------------------- the ack window


async def test_a_shipper_killed_after_the_ack_resends_that_one_batch_and_counts_it(
    tmp_path: Path, telemetries: Callable[..., Telemetry], caplog: pytest.LogCaptureFixture
) -> None:
    """The residual window of OTLP: the receiver took a batch, its cursor was not written."""
    home = tmp_path / "home"
    with OtlpReceiver() as rx:
        child(home, spans=5, endpoint=rx.grpc_endpoint, crash_after_ack=True, ship=True)
        assert named(rx, "child") == Counter({f"child {i}": 1 for i in range(5)})
        caplog.set_level(logging.WARNING, "agentfleet.telemetry")
        successor = telemetries(otlp_env(home, rx))
        assert successor.shipper is not None
        assert rx.wait_for(lambda: len(rx.spans()) >= 10, 20)
        await successor.shutdown()
    # Exactly that batch twice, nothing else, and said so: counted and in the log.
    assert named(rx, "child") == Counter({f"child {i}": 2 for i in range(5)})
    assert successor.shipper.stats.resent == 5
    assert any("may now hold them twice" in r.getMessage() for r in caplog.records)


async def test_the_span_file_is_written_once_even_if_the_shipper_dies_after_writing(
    tmp_path: Path, telemetries: Callable[..., Telemetry]
) -> None:
    home = tmp_path / "home"
    child(home, spans=5, crash_after_ack=True, ship=True)
    lines = (home / SPAN_FILE).read_text().splitlines()
    assert len(lines) == 5  # written, cursor not: the window is open
    successor = telemetries({"AGENTFLEET_HOME": str(home)})
    assert successor.shipper is not None and successor.shipper.flush(10)
    await successor.shutdown()
    assert (home / SPAN_FILE).read_text().splitlines() == lines  # checked, not written again
    assert successor.shipper.stats.resent == 0 and not segments(home)


# --------------------------------------------------------------------------- outages, bounds


async def test_a_receiver_outage_only_delays_export(
    tmp_path: Path, telemetries: Callable[..., Telemetry], caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    caplog.set_level(logging.INFO, "agentfleet.telemetry")
    with OtlpReceiver() as rx:
        t = telemetries(otlp_env(home, rx, OTEL_BSP_SCHEDULE_DELAY="100"))
        rx.stop()
        tracer = trace.get_tracer("outage")
        for i in range(40):
            tracer.start_span(f"outage {i}", start_time=START_NS + i).end()
            t.span_processor.force_flush()
        assert t.shipper is not None and not t.shipper.flush(1.0)  # nowhere to go
        assert segments(home)
        rx.start()  # the same port, as a restarted Collector
        assert rx.wait_for(lambda: len(named(rx, "outage")) >= 40, 30)
        await t.shutdown()
    assert named(rx, "outage") == Counter({f"outage {i}": 1 for i in range(40)})
    assert not t.shipper.stats.dropped
    messages = [r.getMessage() for r in caplog.records]
    assert any("cannot export spans" in m and "retried" in m for m in messages)
    assert any("resumed after" in m and "nothing was lost" in m for m in messages)


async def test_the_size_bound_drops_the_oldest_and_counts_and_names_every_span(
    tmp_path: Path, telemetries: Callable[..., Telemetry], caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    caplog.set_level(logging.WARNING, "agentfleet.telemetry")
    with OtlpReceiver() as rx:
        t = telemetries(otlp_env(home, rx, AGENTFLEET_SPOOL_MAX_MB="0.0625"))  # 64 KiB
        rx.stop()
        tracer = trace.get_tracer("bound")
        for i in range(200):
            tracer.start_span(f"bound {i}", start_time=START_NS + i).end()
            t.span_processor.force_flush()
        assert t.shipper is not None and not t.shipper.flush(0.5)
        assert sum(p.stat().st_size for p in segments(home)) <= 64 << 10
        rx.start()
        assert t.shipper.flush(20)
        await t.shutdown()
    got = named(rx, "bound")
    dropped = t.shipper.stats.dropped
    assert set(dropped) == {"size"} and dropped["size"] > 0
    # Nothing silently: every span was either delivered once or counted as dropped.
    assert all(n == 1 for n in got.values()) and len(got) + dropped["size"] == 200
    # The oldest went: what arrived is the newest run of spans.
    kept = sorted(int(n.split()[1]) for n in got)
    assert kept == list(range(200 - len(kept), 200))
    warnings = [r.getMessage() for r in caplog.records if "(size)" in r.getMessage()]
    assert warnings and sum(int(m.split()[1]) for m in warnings) == dropped["size"]
    assert all(".jsonl" in m and "traces" in m and "never exported" in m for m in warnings)


async def test_the_age_bound_drops_old_segments_and_says_which(
    tmp_path: Path, telemetries: Callable[..., Telemetry], caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    caplog.set_level(logging.WARNING, "agentfleet.telemetry")
    with OtlpReceiver() as rx:
        child(home, spans=4, endpoint=rx.grpc_endpoint, name="stale", start_ns=START_NS)
        old = time.time() - 80 * 3600
        for seg in segments(home):
            os.utime(seg, (old, old))
        t = telemetries(otlp_env(home, rx))  # AGENTFLEET_SPOOL_MAX_AGE_H defaults to 72
        tracer = trace.get_tracer("age")
        for i in range(3):
            tracer.start_span(f"fresh {i}").end()
            t.span_processor.force_flush()
        assert t.shipper is not None and t.shipper.flush(20)
        await t.shutdown()
    assert named(rx, "fresh") == Counter({f"fresh {i}": 1 for i in range(3)})
    assert not named(rx, "stale")
    assert t.shipper.stats.dropped == Counter({"age": 4})
    (warning,) = [r.getMessage() for r in caplog.records if "(age)" in r.getMessage()]
    assert "older than the spool's 72 h" in warning and "2026-01-01T00:00:00Z" in warning


async def test_a_refused_span_is_isolated_counted_and_named(
    tmp_path: Path, telemetries: Callable[..., Telemetry], caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    caplog.set_level(logging.WARNING, "agentfleet.telemetry")
    with OtlpReceiver(refuse=lambda span: span.name == "poison") as rx:
        t = telemetries(otlp_env(home, rx))
        tracer = trace.get_tracer("refuse")
        for name in ("good 0", "poison", "good 1"):
            tracer.start_span(name).end()
            t.span_processor.force_flush()  # three lines, shipped as one batch
        assert t.shipper is not None and t.shipper.flush(10)
        await t.shutdown()
    assert named(rx, "good") == Counter({"good 0": 1, "good 1": 1})
    assert t.shipper.stats.dropped == Counter({"rejected": 1})
    assert any(
        "(rejected)" in r.getMessage() and "INVALID_ARGUMENT" in r.getMessage()
        for r in caplog.records
    )


async def test_a_torn_last_line_of_a_killed_writer_is_counted_not_shipped(
    tmp_path: Path, telemetries: Callable[..., Telemetry], caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    caplog.set_level(logging.WARNING, "agentfleet.telemetry")
    with OtlpReceiver() as rx:
        child(home, spans=2, endpoint=rx.grpc_endpoint)
        (seg,) = segments(home)
        with seg.open("ab") as f:
            f.write(b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"cut')  # no newline
        t = telemetries(otlp_env(home, rx))
        assert t.shipper is not None and t.shipper.flush(10)
        await t.shutdown()
    assert named(rx, "child") == Counter({"child 0": 1, "child 1": 1})
    assert t.shipper.stats.dropped == Counter({"torn": 1})
    assert any("torn last line" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- trace view


def test_agentfleet_trace_shows_spans_still_in_a_dead_workers_spool(tmp_path: Path) -> None:
    home = tmp_path / "home"
    child(home, spans=3, endpoint="http://127.0.0.1:9", conversation="root-7", start_ns=START_NS)
    assert not (home / SPAN_FILE).exists() and segments(home)
    code, out = trace_command(home, "root-7", as_json=False)
    assert code == 0, out
    assert out.count("child ") == 3 and "2026-01-01T00:00:00.123456Z" in out


# --------------------------------------------------------------------------- counters


async def test_counters_survive_a_kill_and_continue_in_the_next_owner(
    tmp_path: Path, telemetries: Callable[..., Telemetry]
) -> None:
    home = tmp_path / "home"
    with OtlpReceiver() as rx:
        dead = child(home, endpoint=rx.grpc_endpoint, counter=7)
        assert not rx.metric_names()  # killed before any export
        t = telemetries(otlp_env(home, rx))
        t.runtime.metric_meter.create_counter("agentfleet_test_counter").add(2, {"kind": "test"})
        await t.shutdown()
    assert rx.counter_total("agentfleet_test_counter", kind="test") == 9
    instances = {r.get("service.instance.id") for r in rx.metric_resources()}
    assert instances == {dead["instance"]}  # one series, continued


async def test_a_sibling_exports_the_final_counters_of_a_slot_nobody_claims(
    tmp_path: Path, telemetries: Callable[..., Telemetry]
) -> None:
    home = tmp_path / "home"
    with OtlpReceiver() as rx:
        live = telemetries(otlp_env(home, rx))
        dead = child(home, endpoint=rx.grpc_endpoint, counter=5)
        assert dead["slot"].endswith("slot-1")
        assert rx.wait_for(lambda: "agentfleet_test_counter" in rx.metric_names(), 20)
        await live.shutdown()
    (resource,) = {
        r.get("service.instance.id") for r, m in rx.metrics() if m.name == "agentfleet_test_counter"
    }
    assert resource == dead["instance"]  # on the dead instance's behalf
    assert rx.counter_total("agentfleet_test_counter", kind="test") == 5
    assert live.shipper is not None and live.shipper.stats.counters_exported == [dead["slot"]]


def test_slots_exclude_each_other_in_one_process_and_free_on_release(tmp_path: Path) -> None:
    directory = service_dir(tmp_path, "svc/with:odd chars")
    assert directory.name == "svc_with_odd_chars"
    a, b = claim_slot(directory), claim_slot(directory)
    assert (a.index, b.index) == (0, 1)
    a.release()
    c = claim_slot(directory)
    assert c.index == 0
    b.release()
    c.release()


def test_counter_store_keeps_exact_totals_through_compaction_and_crashes(tmp_path: Path) -> None:
    inc = ("agentfleet_x", "", "", {"model": "m"}, 3)
    store = CounterStore(tmp_path, {"service.name": "s"}, compact_bytes=300)
    for _ in range(50):
        store.add([inc])  # several compactions on the way
    logs = sorted(p.name for p in tmp_path.glob("counters.*.log"))
    assert len(logs) == 1 and logs != ["counters.1.log"]  # compacted, old logs deleted
    # Killed without close(): a reader (the next owner, a sibling) sees every increment.
    assert [s.value for s in CounterStore(tmp_path).series()] == [150]

    # Killed mid-compaction, after the next log was made, before the snapshot named it.
    gen = int(logs[0].split(".")[1])
    (tmp_path / f"counters.{gen + 1}.log").write_text(
        '{"t":1,"inc":[["agentfleet_x","","",{"model":"m"},1000]]}\n'
    )
    assert [s.value for s in CounterStore(tmp_path).series()] == [150]
    (tmp_path / f"counters.{gen + 1}.log").unlink()
    # Killed after the snapshot, before the old log was deleted: the old log is not replayed.
    store.add([inc])
    store.close()
    reopened = CounterStore(tmp_path, {"service.name": "s"})  # an owner compacts at start
    (tmp_path / f"counters.{gen}.log").write_text(
        '{"t":1,"inc":[["agentfleet_x","","",{"model":"m"},1000]]}\n'
    )
    assert [s.value for s in CounterStore(tmp_path).series()] == [153]
    # A torn last line (killed mid-append) was never persisted, so never acknowledged.
    reopened.add([inc])
    reopened.close()
    (log,) = [p for p in tmp_path.glob("counters.*.log") if p.name != f"counters.{gen}.log"]
    with log.open("a") as f:
        f.write('{"t":2,"inc":[["agentfleet_x"')
    assert [s.value for s in CounterStore(tmp_path).series()] == [156]
