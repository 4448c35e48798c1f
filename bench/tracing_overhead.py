"""What tracing costs: the same fan-out with tracing off and on, interleaved A B A B.

A dev server (in memory) and the simulator at zero latency; each round starts a fresh worker
on a fresh task queue and runs `--masters` root tasks at once, each a master that fans out to
sub-agents making LLM and tool calls. "on" is the worker as shipped with no collector
configured: the OpenTelemetryPlugin, replay-safe workflow spans, `chat`/`execute_tool` spans,
written durably to the local span file. "off" is the same worker without telemetry. Rounds
alternate so drift (disk cache, server warm-up, other load) hits both sides alike; the figure
is the median over rounds of on/off throughput, each "on" round against the "off" round before
it. Target: tracing costs at most 10%. The CPU time of this process (client, worker, exporter;
not the server or simulator) per master is reported too: it is steadier on a busy machine.

`--export otlp` makes "on" the worker as deployed with a collector: spans and metrics go over
OTLP/gRPC to a real receiver on loopback (tests/otlp_receiver.py, in this process, so its CPU
counts on the "on" side), and the spans column counts what the receiver got.

    python -m bench.tracing_overhead [--masters 30] [--rounds 4] [--workload master|probe]
                                     [--export file|otlp]

Prints a table and one JSON line: {"bench": "tracing_overhead", "ratio": on/off, ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from temporalio.client import Client  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from agentfleet.cli.devserver import DevServer, free_port  # noqa: E402
from agentfleet.client import connect  # noqa: E402
from agentfleet.config import Settings  # noqa: E402
from agentfleet.sim import Simulator  # noqa: E402
from agentfleet.telemetry import SPAN_FILE, Telemetry, setup_telemetry  # noqa: E402

TARGET_OVERHEAD = 0.10


@dataclass
class Round:
    index: int
    mode: str
    masters: int
    workflows: int
    seconds: float
    cpu_seconds: float  # this process: client, worker, telemetry (not the server or simulator)
    spans: int

    @property
    def per_second(self) -> float:
        return self.masters / self.seconds if self.seconds else 0.0


def workflows_wired() -> bool:
    return "agent_span" in (ROOT / "workflows" / "master.py").read_text()


async def run_probe(client: Client, queue: str, settings: Settings, masters: int) -> int:
    from tests.telemetry_workflows import ProbeInput, ProbeMaster

    (settings.workspaces / "ws").mkdir(parents=True, exist_ok=True)
    handles = [
        await client.start_workflow(
            ProbeMaster.run,
            ProbeInput(workspace="ws", children=3, turns=2),
            id=f"bench-{uuid.uuid4().hex[:10]}",
            task_queue=queue,
        )
        for _ in range(masters)
    ]
    results = await asyncio.gather(*(h.result() for h in handles))
    return sum(1 + len(r.children) for r in results)


async def run_master(client: Client, queue: str, settings: Settings, masters: int) -> int:
    from agentfleet.cli.demo import DEMO_GOAL, seed_workspace
    from agentfleet.contracts.models import MasterInput
    from workflows.master import MasterAgentWorkflow

    handles = []
    for _ in range(masters):
        ws = f"bench-{uuid.uuid4().hex[:10]}"
        seed_workspace(settings.workspaces / ws)
        handles.append(
            await client.start_workflow(
                MasterAgentWorkflow.run,
                MasterInput(goal=DEMO_GOAL, workspace=ws),
                id=ws,
                task_queue=queue,
            )
        )
    results = await asyncio.gather(*(h.result() for h in handles))
    return sum(len(r.tree.walk()) for r in results)


def build(workload: str) -> Callable[[Client, Settings], Worker]:
    if workload == "probe":
        from tests.telemetry_workflows import build_probe_worker

        return build_probe_worker
    from worker import build_worker

    return lambda client, settings: build_worker(client, settings, settings.task_queue)


def count_spans(path: Path) -> int:
    if not path.exists():
        return 0
    n = 0
    for line in path.read_text().splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        n += sum(
            len(ss.get("spans", ()))
            for rs in doc.get("resourceSpans", ())
            for ss in rs.get("scopeSpans", ())
        )
    return n


def received_spans(rx: Any) -> int:
    return 0 if rx is None else len(rx.spans())


async def one_round(
    index: int,
    mode: str,
    server: DevServer,
    sim: Simulator,
    home: Path,
    masters: int,
    workload: str,
    rx: Any = None,
) -> Round:
    settings = Settings(
        home=home,
        temporal_address=server.address,
        task_queue=f"bench-{mode}-{uuid.uuid4().hex[:8]}",
        anthropic_api_key=None,
        anthropic_base_url=sim.url,
    )
    settings.workspaces.mkdir(parents=True, exist_ok=True)
    span_file = home / SPAN_FILE
    before = count_spans(span_file) + received_spans(rx)
    telemetry: Telemetry | None = None
    if mode == "on":
        env = {"AGENTFLEET_HOME": str(home)}
        if rx is not None:
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = rx.grpc_endpoint
        telemetry = setup_telemetry(env)
        client = await connect(server.address, plugins=telemetry.plugins, runtime=telemetry.runtime)
    else:
        client = await connect(server.address)
    run: Callable[[Client, str, Settings, int], Awaitable[int]] = (
        run_probe if workload == "probe" else run_master
    )
    try:
        async with build(workload)(client, settings):
            started, cpu_started = time.perf_counter(), time.process_time()
            workflows = await run(client, settings.task_queue, settings, masters)
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
    finally:
        if telemetry is not None:
            await telemetry.shutdown()
        # The round's LLM client goes with its worker: let it close its connections while
        # the loop still runs, not at interpreter exit.
        gc.collect()
        await asyncio.sleep(0.05)
    spans = count_spans(span_file) + received_spans(rx) - before
    return Round(index, mode, masters, workflows, seconds, cpu_seconds, spans)


async def bench(masters: int, rounds: int, workload: str, export: str = "file") -> dict[str, Any]:
    from tests.otlp_receiver import OtlpReceiver

    with (
        tempfile.TemporaryDirectory(prefix="agentfleet-bench-") as tmp,
        DevServer(db_file=None, port=free_port(), ui_port=None) as server,
        Simulator(port=0, latency_ms=0) as sim,
        OtlpReceiver() as receiver,
    ):
        home = Path(tmp)
        rx = receiver if export == "otlp" else None
        # Warm-up at full size (not counted): imports, sandbox caches, the server's first
        # tasks and its in-memory database growing make the first rounds slower.
        for mode in ("off", "on"):
            await one_round(0, mode, server, sim, home, masters, workload, rx)
        results: list[Round] = []
        print(
            f"{'round':>5}  {'mode':<4} {'masters':>7} {'agents':>6} {'seconds':>8} "
            f"{'masters/s':>9} {'cpu ms/master':>13} {'spans':>6}"
        )
        for i in range(1, rounds + 1):
            for mode in ("off", "on"):
                r = await one_round(i, mode, server, sim, home, masters, workload, rx)
                results.append(r)
                print(
                    f"{r.index:>5}  {r.mode:<4} {r.masters:>7} {r.workflows:>6} "
                    f"{r.seconds:>8.2f} {r.per_second:>9.2f} "
                    f"{r.cpu_seconds * 1000 / r.masters:>13.1f} {r.spans:>6}",
                    flush=True,
                )
    offs = [r for r in results if r.mode == "off"]
    ons = [r for r in results if r.mode == "on"]
    off = statistics.median(r.per_second for r in offs)
    on = statistics.median(r.per_second for r in ons)
    # Each "on" round against the "off" round just before it: slow drift cancels out.
    pair_ratios = [b.per_second / a.per_second for a, b in zip(offs, ons, strict=True)]
    ratio = statistics.median(pair_ratios)
    cpu_off = statistics.median(r.cpu_seconds / r.masters for r in offs)
    cpu_on = statistics.median(r.cpu_seconds / r.masters for r in ons)
    return {
        "bench": "tracing_overhead",
        "workload": workload,
        "export": export,
        "masters": masters,
        "rounds": rounds,
        "off_masters_per_s": round(off, 3),
        "on_masters_per_s": round(on, 3),
        "pair_ratios": [round(x, 3) for x in pair_ratios],
        "ratio": round(ratio, 3),
        "overhead_pct": round((1 - ratio) * 100, 1),
        "cpu_ms_per_master_off": round(cpu_off * 1000, 1),
        "cpu_ms_per_master_on": round(cpu_on * 1000, 1),
        "cpu_overhead_pct": round((cpu_on / cpu_off - 1) * 100, 1) if cpu_off else None,
        "target_overhead_pct": TARGET_OVERHEAD * 100,
        "within_target": ratio >= 1 - TARGET_OVERHEAD,
        "spans_per_round": max((r.spans for r in ons), default=0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tracing_overhead")
    parser.add_argument("--masters", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--workload",
        choices=("master", "probe"),
        default=None,
        help="master: MasterAgentWorkflow on the demo goal (default once it is traced); "
        "probe: the traced probe workflows of tests/telemetry_workflows.py",
    )
    parser.add_argument(
        "--export",
        choices=("file", "otlp"),
        default="file",
        help="file: no collector, spans to the local span file (the default setup); "
        "otlp: spans and metrics over OTLP/gRPC to a receiver on loopback",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    workload = args.workload or ("master" if workflows_wired() else "probe")
    summary = asyncio.run(bench(args.masters, args.rounds, workload, args.export))
    print(
        f"tracing on/off throughput: {summary['ratio']:.3f} "
        f"({summary['overhead_pct']:+.1f}% overhead; target <= {TARGET_OVERHEAD:.0%}); "
        f"worker CPU per master {summary['cpu_overhead_pct']:+.1f}%"
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
