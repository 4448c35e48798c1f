"""What agentfleet costs over bare Temporal: one 200-child fan-out each way, A B A B.

Both fan-outs run on one dev server (persisted database, the product's default pragmas)
against one simulator (zero latency by default, so the figure is orchestration alone; a
real model's seconds per call would dilute it), each on its own worker subprocess and
task queue, alternating rounds so drift hits both alike:

* agentfleet: `BenchFanoutParent` (bench/_fanout.py) starts `--children` real
  `SubAgentWorkflow`s through `run_child`, as the master does, on the worker
  `worker.run` + `worker.build_worker` make: tracing to the span file, metrics to an OTLP
  receiver, the ledger row per agent, pydantic payloads. Each child's task is one LLM turn.
* bare: `BenchBareParent` starts as many `BenchBareChild`s, each one activity making the
  same simulator call (model, system prompt, tools, user message) through the anthropic
  SDK. Default converter, no plugins, same Worker tuning.

Figures: wall time from the parent's start to its result, and the CPU time of the worker
process over that span (/proc/<pid>/stat: Python and the Rust core) and of the dev server.
The ratio is agentfleet/bare, the median over rounds of each agentfleet round against the
bare round next to it. Target: wall-time ratio <= 1.25.

    python -m bench.overhead [--children 200] [--rounds 3] [--latency-ms 0]

Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from temporalio.client import Client  # noqa: E402

from agentfleet.cli.devserver import DevServer, free_port  # noqa: E402
from agentfleet.client import connect  # noqa: E402
from agentfleet.delegation.catalog import SMALL_MODEL  # noqa: E402
from agentfleet.governance.limits import governor_id  # noqa: E402
from agentfleet.governance.models import GovernorStatus  # noqa: E402
from agentfleet.sim import Simulator  # noqa: E402
from bench._bare import FanoutInput  # noqa: E402
from bench._common import BenchWorker, bench_settings, proc_cpu_seconds, verdict  # noqa: E402
from bench.tracing_overhead import count_spans  # noqa: E402

TARGET_WALL_RATIO = 1.25
TARGET_CPU_RATIO = 1.5
# The governor is in the agentfleet path (issue #18 measures with it): every LLM call
# takes and settles a lease. The limits are far above what 200 children use, so it
# costs its round trips but never makes a call wait for capacity.
GOVERNED_ENV = {
    "AGENTFLEET_GOV_RPM": "1000000",
    "AGENTFLEET_GOV_ITPM": "1000000000",
    "AGENTFLEET_GOV_OTPM": "100000000",
}
TASK = "Task: item {n}\nWhat is item {n} on the release checklist?"


@dataclass
class Round:
    index: int
    side: str
    children: int
    seconds: float
    worker_cpu_s: float
    server_cpu_s: float
    ok: int


async def one_round(
    index: int,
    side: str,
    client: Client,
    worker: BenchWorker,
    server: DevServer,
    children: int,
) -> Round:
    workflow = "BenchFanoutParent" if side == "agentfleet" else "BenchBareParent"
    assert server.process is not None and worker.pid is not None
    cpu0, srv0 = worker.cpu_seconds(), proc_cpu_seconds(server.process.pid)
    t0 = time.perf_counter()
    handle = await client.start_workflow(
        workflow,
        FanoutInput(children=children, model=SMALL_MODEL, task_template=TASK),
        id=f"overhead-{side}-{index}-{uuid.uuid4().hex[:6]}",
        task_queue=worker.settings.task_queue,
        result_type=int,
    )
    ok = await handle.result()
    seconds = time.perf_counter() - t0
    cpu1, srv1 = worker.cpu_seconds(), proc_cpu_seconds(server.process.pid)
    return Round(index, side, children, seconds, cpu1 - cpu0, srv1 - srv0, ok)


async def governor_summary(client: Client) -> dict[str, Any]:
    """What the governor did over every round (warm-up included): calls, leases, runs."""
    gid = governor_id(SMALL_MODEL)
    status = await client.get_workflow_handle(gid).query("status", result_type=GovernorStatus)
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{gid}'")]
    t = status.totals
    return {
        "calls": t.calls,
        "leases": t.granted,
        "blocks": t.blocks,
        "settled": t.settled,
        "expired": t.expired,
        "runs": len(runs),
        "history_length": status.history_length,
    }


async def bench(
    children: int, rounds: int, latency_ms: float, tmp: Path, whatif: dict[str, str] | None = None
) -> dict[str, Any]:
    from tests.otlp_receiver import OtlpReceiver

    server = DevServer(
        db_file=tmp / "temporal.db", port=free_port(), ui_port=None, log_file=tmp / "temporal.log"
    )
    await asyncio.to_thread(server.start, reuse=False)
    workers: list[BenchWorker] = []
    try:
        with Simulator(port=0, latency_ms=latency_ms) as sim, OtlpReceiver() as otlp:
            af_settings = bench_settings(tmp / "af", server.address, sim.url, "overhead-af")
            (af_settings.workspaces / "ws").mkdir(parents=True, exist_ok=True)
            bare_settings = bench_settings(tmp / "bare", server.address, sim.url, "overhead-bare")
            af = BenchWorker(
                af_settings,
                tmp / "worker-af.log",
                events=tmp / "events.jsonl",
                extra=["FanoutParent"],
                extra_env={
                    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": otlp.grpc_endpoint,
                    "OTEL_METRIC_EXPORT_INTERVAL": "1000",
                    **(whatif or {}),
                },
            )
            bare = BenchWorker(
                bare_settings, tmp / "worker-bare.log", mode="bare", events=tmp / "events.jsonl"
            )
            workers += [af.start(), bare.start()]
            await asyncio.gather(
                asyncio.to_thread(af.wait_built), asyncio.to_thread(bare.wait_built)
            )
            client = await connect(server.address)
            sides = {"agentfleet": af, "bare": bare}
            # Warm-up at full size, not counted: imports, sandbox caches, server caches.
            for side, w in sides.items():
                await one_round(0, side, client, w, server, children)
            results: list[Round] = []
            print(
                f"{'round':>5}  {'side':<10} {'children':>8} {'ok':>4} {'wall s':>8} "
                f"{'worker cpu s':>12} {'server cpu s':>12}"
            )
            for i in range(1, rounds + 1):
                order = ("agentfleet", "bare") if i % 2 else ("bare", "agentfleet")
                for side in order:
                    r = await one_round(i, side, client, sides[side], server, children)
                    results.append(r)
                    print(
                        f"{r.index:>5}  {r.side:<10} {r.children:>8} {r.ok:>4} "
                        f"{r.seconds:>8.2f} {r.worker_cpu_s:>12.2f} {r.server_cpu_s:>12.2f}",
                        flush=True,
                    )
            metric_names = sorted(otlp.metric_names())
            governor = (
                await governor_summary(client)
                if whatif and GOVERNED_ENV.items() <= whatif.items()
                else None
            )
    finally:
        for w in workers:
            w.terminate()
        server.stop()
    spans = count_spans(af_settings.home / "traces" / "spans.jsonl")
    afs = [r for r in results if r.side == "agentfleet"]
    bares = [r for r in results if r.side == "bare"]
    wall = [a.seconds / b.seconds for a, b in zip(afs, bares, strict=True)]
    cpu = [a.worker_cpu_s / b.worker_cpu_s for a, b in zip(afs, bares, strict=True)]
    srv = [a.server_cpu_s / b.server_cpu_s for a, b in zip(afs, bares, strict=True)]
    ratio = statistics.median(wall)
    return {
        "bench": "overhead",
        "children": children,
        "rounds": rounds,
        "latency_ms": latency_ms,
        "rows": [asdict(r) for r in results],
        "agentfleet_wall_s": round(statistics.median(r.seconds for r in afs), 3),
        "bare_wall_s": round(statistics.median(r.seconds for r in bares), 3),
        "agentfleet_worker_cpu_s": round(statistics.median(r.worker_cpu_s for r in afs), 3),
        "bare_worker_cpu_s": round(statistics.median(r.worker_cpu_s for r in bares), 3),
        "wall_ratios": [round(x, 3) for x in wall],
        "cpu_ratios": [round(x, 3) for x in cpu],
        "server_cpu_ratios": [round(x, 3) for x in srv],
        "wall_ratio": round(ratio, 3),
        "cpu_ratio": round(statistics.median(cpu), 3),
        "server_cpu_ratio": round(statistics.median(srv), 3),
        "all_children_ok": all(r.ok > 0 for r in results) and all(r.ok == children for r in afs),
        "spans_in_file": spans,
        "governor": governor,
        "metrics_exported": len(metric_names),
        "target_wall_ratio": TARGET_WALL_RATIO,
        "within_target": ratio <= TARGET_WALL_RATIO,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.overhead")
    parser.add_argument("--children", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side (>= 2)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="simulator latency")
    parser.add_argument(
        "--no-governor",
        action="store_true",
        help="leave the rate governor out of the agentfleet path (to see what it costs)",
    )
    parser.add_argument(
        "--whatif-passthrough",
        action="store_true",
        help="measure a proposal: the agent workflow modules passed through the sandbox",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    whatif = {"AGENTFLEET_WHATIF_PASSTHROUGH_AGENTS": "1"} if args.whatif_passthrough else {}
    env = {**({} if args.no_governor else GOVERNED_ENV), **whatif}
    with tempfile.TemporaryDirectory(prefix="agentfleet-bench-overhead-") as tmp:
        s = asyncio.run(bench(args.children, max(args.rounds, 2), args.latency_ms, Path(tmp), env))
    s["governed"] = not args.no_governor
    s["cpu_within_target"] = s["cpu_ratio"] <= TARGET_CPU_RATIO
    if whatif:
        print(f"what-if (not the product's setting): {whatif}")
    print(
        f"agentfleet/bare, {s['children']} children: wall {s['wall_ratio']:.2f} "
        f"(per round {s['wall_ratios']}), worker CPU {s['cpu_ratio']:.2f} "
        f"(per round {s['cpu_ratios']}), server CPU {s['server_cpu_ratio']:.2f}"
    )
    print(
        f"agentfleet side: {s['spans_in_file']} spans written, {s['metrics_exported']} metric "
        f"names exported; children completed: {s['all_children_ok']}"
    )
    if s["governor"]:
        g = s["governor"]
        print(
            f"governor (all rounds, warm-up included): {g['calls']} calls in {g['leases']} "
            f"leases ({g['blocks']} blocks), {g['runs']} runs, {g['history_length']} events "
            "in the current run"
        )
    print(
        f"wall-time ratio {s['wall_ratio']:.2f} (target <= {TARGET_WALL_RATIO})  "
        f"{verdict(s['within_target'])}"
    )
    print(
        f"worker CPU ratio {s['cpu_ratio']:.2f} (target <= {TARGET_CPU_RATIO})  "
        f"{verdict(s['cpu_within_target'])}; governor in the path: {s['governed']}"
    )
    print(json.dumps(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
