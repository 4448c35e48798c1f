"""Shared rate limits: a fleet of goals against simulated limits, without and with the governor.

One private stack (a headless dev server, an in-process worker); every run gets a fresh
simulator with Anthropic-style limits (requests and tokens per minute, 429s carrying
`retry-after` and the `anthropic-ratelimit-*` headers) and a fresh task queue, so each
governed run starts its own governor. A run submits BULK goals at once (priority 5, key
"batch"), waits until they fill the queue, then submits URGENT goals (priority 1, key
"oncall"). Every goal is a small file chore on one model: two LLM calls, so 90-odd calls
against a limit of RPM requests a minute.

Figures per run:

* share_429: 429 answers / all Messages requests the simulator saw;
* throughput_share: requests admitted per second, beyond the bucket's initial burst, over
  the time from the first admitted request to the last, divided by the configured rate;
* priority_p95_ratio: p95 latency (submit to result) of the urgent goals / p95 of the bulk.
  p50s are printed too. A goal that failed counts at the time it failed.

Targets (governed): share_429 <= 0.01, throughput_share >= 0.90, priority_p95_ratio < 0.5.
Three rounds, each printed; medians at the end; the last line is one JSON object
`{"governed": {...}, "ungoverned": {...}}`. A benchmark reports, it does not gate.

    python -m bench.rate_limits [--rounds 3] [--bulk 40] [--urgent 6] [--rpm 180]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from temporalio.client import Client, WorkflowFailureError  # noqa: E402
from temporalio.common import Priority  # noqa: E402

from agentfleet.cli.devserver import DevServer, free_port  # noqa: E402
from agentfleet.client import connect  # noqa: E402
from agentfleet.config import Settings  # noqa: E402
from agentfleet.contracts.models import MasterInput, MasterResult  # noqa: E402
from agentfleet.governance.limits import GovernorConfig  # noqa: E402
from agentfleet.governance.models import ModelLimitsSpec  # noqa: E402
from agentfleet.sim import Simulator  # noqa: E402
from agentfleet.sim.limits import SimLimits  # noqa: E402
from bench._common import percentile, verdict  # noqa: E402

MODEL = "claude-haiku-4-5"
BURST_S = 3.0
# Tokens are limited too (their headers are read back), but generously: the request
# rate is the limit this benchmark measures against.
ITPM = 2_000_000
OTPM = 400_000
TOPICS = ("rain", "snow", "wind", "tide", "moss", "dusk", "frost", "ember", "fern", "stone")
FILL_WAIT_S = 3.0
TARGETS = {"share_429": 0.01, "throughput_share": 0.90, "priority_p95_ratio": 0.5}


@dataclass
class Goal:
    urgent: bool
    submitted: float
    done: float = 0.0
    ok: bool = False


@dataclass
class Run:
    mode: str
    share_429: float
    throughput_share: float | None
    priority_p95_ratio: float | None
    requests: int
    refused: int
    urgent_p50: float | None
    urgent_p95: float | None
    bulk_p50: float | None
    bulk_p95: float | None
    failed: int
    seconds: float
    refused_by: dict[str, int] = dataclasses.field(default_factory=dict)

    def line(self, round_no: int) -> str:
        def f(v: float | None, d: int = 2) -> str:
            return "-" if v is None else f"{v:.{d}f}"

        return (
            f"round {round_no} {self.mode:<10} requests {self.requests:>4}  429s {self.refused:>4} "
            f"(share {self.share_429:.3f})  throughput {f(self.throughput_share, 3)} of limit  "
            f"urgent p50/p95 {f(self.urgent_p50)}/{f(self.urgent_p95)} s  "
            f"bulk p50/p95 {f(self.bulk_p50)}/{f(self.bulk_p95)} s  "
            f"ratio {f(self.priority_p95_ratio, 3)}  failed goals {self.failed}  "
            f"{self.seconds:.1f} s"
            + (f"  429s by dimension {self.refused_by}" if self.refused_by else "")
        )


def goal_text(i: int) -> str:
    return f"Write a haiku about {TOPICS[i % len(TOPICS)]} into poem-{i}.md"


async def run_goal(client: Client, settings: Settings, inp: MasterInput, goal: Goal) -> None:
    handle = await client.start_workflow(
        "MasterAgentWorkflow",
        inp,
        id=f"bench-rl-{uuid.uuid4().hex[:10]}",
        task_queue=settings.task_queue,
        result_type=MasterResult,
        # As `agentfleet fleet submit --priority` starts it: the whole tree inherits it.
        priority=Priority(priority_key=inp.priority, fairness_key=inp.fairness_key),
    )
    try:
        result = await handle.result()
        goal.ok = result.tree.status == "completed"
    except WorkflowFailureError:
        goal.ok = False
    goal.done = time.perf_counter()


async def one_run(
    client: Client, base: Settings, mode: str, rpm: int, bulk: int, urgent: int
) -> Run:
    limits = SimLimits(
        requests_per_minute=rpm,
        input_tokens_per_minute=ITPM,
        output_tokens_per_minute=OTPM,
        burst_s=BURST_S,
    )
    queue = f"bench-rl-{mode}-{uuid.uuid4().hex[:6]}"
    governor = GovernorConfig()
    if mode == "governed":
        spec = ModelLimitsSpec(
            requests_per_minute=rpm,
            input_tokens_per_minute=ITPM,
            output_tokens_per_minute=OTPM,
            burst_s=BURST_S,
        )
        governor = GovernorConfig(limits={"*": spec}, scope=queue)
    from worker import build_worker

    with Simulator(port=0, rate_limits=limits) as sim:
        settings = dataclasses.replace(
            base, task_queue=queue, anthropic_base_url=sim.url, governor=governor
        )
        goals: list[Goal] = []
        jobs: list[asyncio.Task[None]] = []
        started = time.perf_counter()
        async with build_worker(client, settings, queue):
            for i in range(bulk):
                g = Goal(urgent=False, submitted=time.perf_counter())
                inp = MasterInput(goal=goal_text(i), model=MODEL, priority=5, fairness_key="batch")
                goals.append(g)
                jobs.append(asyncio.create_task(run_goal(client, settings, inp, g)))
            await asyncio.sleep(FILL_WAIT_S)  # the queue is full now
            for i in range(urgent):
                g = Goal(urgent=True, submitted=time.perf_counter())
                inp = MasterInput(
                    goal=goal_text(bulk + i), model=MODEL, priority=1, fairness_key="oncall"
                )
                goals.append(g)
                jobs.append(asyncio.create_task(run_goal(client, settings, inp, g)))
            await asyncio.gather(*jobs)
        seconds = time.perf_counter() - started
        assert sim.limiter is not None
        admitted = sorted(sim.limiter.admitted)
        refused = sim.limiter.refused
        refused_by = dict(sim.limiter.refused_by)
    total = len(admitted) + refused
    throughput = None
    if len(admitted) > 1 and admitted[-1] > admitted[0]:
        burst = rpm / 60.0 * BURST_S
        rate = (len(admitted) - burst) / (admitted[-1] - admitted[0])
        throughput = rate / (rpm / 60.0)

    def lat(urgent_only: bool) -> list[float]:
        return [g.done - g.submitted for g in goals if g.urgent == urgent_only]

    u95, b95 = percentile(lat(True), 95), percentile(lat(False), 95)
    return Run(
        mode=mode,
        share_429=refused / total if total else 0.0,
        throughput_share=throughput,
        priority_p95_ratio=(u95 / b95) if u95 is not None and b95 else None,
        requests=total,
        refused=refused,
        urgent_p50=percentile(lat(True), 50),
        urgent_p95=u95,
        bulk_p50=percentile(lat(False), 50),
        bulk_p95=b95,
        failed=sum(1 for g in goals if not g.ok),
        seconds=seconds,
        refused_by=refused_by,
    )


async def bench(rounds: int, rpm: int, bulk: int, urgent: int) -> list[list[Run]]:
    out: list[list[Run]] = []
    with tempfile.TemporaryDirectory(prefix="agentfleet-bench-rl-") as tmp:
        with DevServer(
            db_file=Path(tmp) / "temporal.db",
            port=free_port(),
            ui_port=None,
            log_file=Path(tmp) / "temporal.log",
        ) as server:
            base = Settings(
                home=Path(tmp) / "home",
                temporal_address=server.address,
                ui_port=0,
                anthropic_api_key=None,
            )
            base.workspaces.mkdir(parents=True, exist_ok=True)
            client = await connect(server.address)
            for r in range(1, rounds + 1):
                pair = []
                for mode in ("ungoverned", "governed"):
                    run = await one_run(client, base, mode, rpm, bulk, urgent)
                    print(run.line(r), flush=True)
                    pair.append(run)
                out.append(pair)
    return out


def _median(values: list[float | None]) -> float | None:
    data = [v for v in values if v is not None]
    return round(statistics.median(data), 4) if data else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rate_limits")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bulk", type=int, default=40, help="bulk goals submitted at once")
    parser.add_argument("--urgent", type=int, default=6, help="urgent goals submitted after")
    parser.add_argument("--rpm", type=int, default=180, help="the simulated requests/minute")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    print(
        f"{args.bulk} bulk + {args.urgent} urgent goals, 2 LLM calls each, on {MODEL}; "
        f"limit {args.rpm} requests/min (burst {BURST_S:g} s), {ITPM} input and {OTPM} "
        f"output tokens/min; {args.rounds} rounds",
        flush=True,
    )
    runs = asyncio.run(bench(args.rounds, args.rpm, args.bulk, args.urgent))
    summary: dict[str, dict[str, Any]] = {}
    for i, mode in enumerate(("ungoverned", "governed")):
        mine = [pair[i] for pair in runs]
        summary[mode] = {
            key: _median([getattr(r, key) for r in mine])
            for key in ("share_429", "throughput_share", "priority_p95_ratio")
        }
    for mode, figures in summary.items():
        print(f"median {mode}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    g = summary["governed"]
    checks = {
        "share_429": g["share_429"] is not None and g["share_429"] <= TARGETS["share_429"],
        "throughput_share": g["throughput_share"] is not None
        and g["throughput_share"] >= TARGETS["throughput_share"],
        "priority_p95_ratio": g["priority_p95_ratio"] is not None
        and g["priority_p95_ratio"] < TARGETS["priority_p95_ratio"],
    }
    for key, met in checks.items():
        print(f"governed {key}: {g[key]} (target {TARGETS[key]})  {verdict(met)}")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
