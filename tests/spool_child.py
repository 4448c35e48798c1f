"""A process that spools spans (and counts) as a worker does, then is killed (test_spool.py).

    python -m tests.spool_child HOME '{"spans": 20, "conversation": "root-1", ...}'

Each span is flushed into the spool on its own, as after an activity, and its start time is
`start_ns + i` so a test can check that the receiver got the original times. Options:
`endpoint` (OTLP/gRPC, else the local span file), `delay_ms` (the shipper's schedule delay;
the default keeps it from shipping anything), `counter` (adds to `agentfleet_test_counter`
and checkpoints the durable counters), `crash_after_ack` (SIGKILL right after the receiver
acknowledged a batch, before its cursor is written: the shipper's residual window), `ship`
(flush the shipper before dying). It prints one JSON line (slot, instance id), then SIGKILLs
itself unless `exit` is set.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from opentelemetry import trace

import agentfleet.telemetry.shipper as shipper_module
from agentfleet.telemetry import setup_telemetry
from agentfleet.telemetry.spool import Cursor


def crash_after_ack() -> None:
    real = shipper_module.write_cursor

    def write_cursor(seg: Any, cursor: Cursor, *, fsync: bool = False) -> None:
        if cursor.inflight == 0 and cursor.acked > 0:
            os.kill(os.getpid(), signal.SIGKILL)
        real(seg, cursor, fsync=fsync)

    shipper_module.write_cursor = write_cursor  # type: ignore[assignment]


def main(home: str, raw: str) -> None:
    opts: dict[str, Any] = json.loads(raw)
    env = {"AGENTFLEET_HOME": home, "OTEL_BSP_SCHEDULE_DELAY": str(opts.get("delay_ms", 600_000))}
    if opts.get("endpoint"):
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = opts["endpoint"]
        env["OTEL_METRIC_EXPORT_INTERVAL"] = "600000"
    if opts.get("crash_after_ack"):
        crash_after_ack()
    telemetry = setup_telemetry(env)
    tracer = trace.get_tracer("tests.spool_child")
    start = int(opts.get("start_ns", 1_700_000_000_000_000_000))
    for i in range(int(opts.get("spans", 0))):
        span = tracer.start_span(
            f"{opts.get('name', 'child')} {i}",
            start_time=start + i,
            attributes={"gen_ai.conversation.id": opts.get("conversation", "root"), "i": i},
        )
        span.end(end_time=start + i + 1000)
        telemetry.span_processor.force_flush()
    if opts.get("counter"):
        telemetry.runtime.metric_meter.create_counter("agentfleet_test_counter").add(
            int(opts["counter"]), {"kind": "test"}
        )
        assert telemetry._drain is not None
        telemetry._drain.drain()  # the checkpoint the durable-spans plugin runs
    assert telemetry.slot is not None
    print(
        json.dumps(
            {
                "slot": str(telemetry.slot.path),
                "instance": telemetry.resource.attributes.get("service.instance.id")
                if telemetry.resource
                else None,
            }
        ),
        flush=True,
    )
    if opts.get("ship") and telemetry.shipper is not None:
        telemetry.shipper.flush(10)
    if not opts.get("exit"):
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
