"""Delegation against the over-decomposing baseline, on the 64 labelled tasks.

Every task of tests/data/tasks.jsonl runs end to end twice, as `MasterAgentWorkflow` with
strategy "policy" (score, then inline / one sub-agent / plan + guard) and with strategy
"naive" (always plan, spawn every step, plan and validate steps added). Both run on one
private stack: a headless dev server on a temporary database, the simulator at zero latency,
and an in-process worker on a unique task queue with its own AGENTFLEET_HOME. Each run gets an
empty workspace of its own (files a task mentions are missing; the simulated agent reports the
tool errors as a real one would). The simulator never sees the labels.

Figures, for both strategies, overall and for the "trivial+simple half" (tasks labelled
trivial or simple):

* spawned/ideal: sub-agent workflows started anywhere in the trees, summed, divided by the sum
  of the labels' `ideal_subagents`. A task whose ideal is 0 adds nothing to the denominator and
  every sub-agent it spawns to the numerator, so a spawn there counts fully as excess; those
  spawns are also shown on their own ("spawned on ideal-0").
* LLM calls: successful LLM attempts (receipts with ok=True) in the whole result tree.
* tokens: input + output tokens of the whole tree (the root's usage).
* completion: share of tasks whose root finished "completed" (a failed run counts as not).
* tier agreement: the master's goal tier against the label, as the exact share and the
  largest distance in tiers (a run with no result counts as a miss, distance unknown).

Targets: spawned/ideal <= 1.15 (policy, all tasks); at least 50% fewer LLM calls than the
baseline on the trivial+simple half; completion no lower than the baseline's; tier agreement
>= 85% and never more than one tier off. Each prints "target met" or "MISSED"; the run returns
0 either way (a benchmark reports, it does not gate). The last line is one JSON object.

    python -m bench.decomposition [--limit N] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from temporalio.client import Client  # noqa: E402

from agentfleet.cli.devserver import DevServer, free_port  # noqa: E402
from agentfleet.client import connect  # noqa: E402
from agentfleet.config import Settings  # noqa: E402
from agentfleet.contracts.models import TIERS, MasterInput, MasterResult  # noqa: E402
from agentfleet.sim import Simulator  # noqa: E402

Strategy = Literal["policy", "naive"]
STRATEGIES: tuple[Strategy, ...] = ("policy", "naive")
TASKS = ROOT / "tests" / "data" / "tasks.jsonl"
HALF = ("trivial", "simple")

TARGET_SPAWN_RATIO = 1.15
TARGET_CALL_CUT = 0.50
TARGET_AGREEMENT = 0.85
TARGET_MAX_TIER_GAP = 1

# A run still going after this long is stuck: it is recorded as not completed.
RUN_TIMEOUT = timedelta(seconds=120)


@dataclass(frozen=True)
class Task:
    index: int
    text: str
    ideal_tier: str
    ideal_subagents: int
    category: str


@dataclass(frozen=True)
class Outcome:
    task: Task
    strategy: Strategy
    status: str
    spawned: int = 0
    llm_calls: int = 0
    tokens: int = 0
    tier: str | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def completed(self) -> bool:
        return self.status == "completed"

    @property
    def tier_gap(self) -> int | None:
        if self.tier is None:
            return None
        return abs(TIERS.index(self.tier) - TIERS.index(self.task.ideal_tier))


def load_tasks(path: Path = TASKS) -> list[Task]:
    tasks: list[Task] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row["ideal_tier"] not in TIERS:
            raise ValueError(f"{path}:{lineno}: unknown ideal_tier {row['ideal_tier']!r}")
        tasks.append(
            Task(
                index=len(tasks),
                text=str(row["task"]),
                ideal_tier=str(row["ideal_tier"]),
                ideal_subagents=int(row["ideal_subagents"]),
                category=str(row.get("category", "")),
            )
        )
    return tasks


def measure(task: Task, strategy: Strategy, result: MasterResult, seconds: float) -> Outcome:
    nodes = result.tree.walk()
    calls = sum(1 for n in nodes for r in n.receipts if r.ok)
    usage = result.tree.usage
    return Outcome(
        task=task,
        strategy=strategy,
        status=result.tree.status,
        spawned=sum(1 for n in nodes if n.role == "subagent"),
        llm_calls=calls,
        tokens=usage.input_tokens + usage.output_tokens,
        tier=result.tree.tier,
        seconds=seconds,
    )


async def run_one(
    client: Client, settings: Settings, task: Task, strategy: Strategy, gate: asyncio.Semaphore
) -> Outcome:
    workspace = f"{strategy}-{task.index:02d}"
    (settings.workspaces / workspace).mkdir(parents=True, exist_ok=True)
    async with gate:
        started = time.perf_counter()
        try:
            handle = await client.start_workflow(
                "MasterAgentWorkflow",
                MasterInput(goal=task.text, workspace=workspace, strategy=strategy),
                id=f"bench-dec-{workspace}-{uuid.uuid4().hex[:6]}",
                task_queue=settings.task_queue,
                result_type=MasterResult,
                execution_timeout=RUN_TIMEOUT,
            )
            result: MasterResult = await handle.result()
        except Exception as err:  # noqa: BLE001 - a failed run is a data point, not a crash
            cause = getattr(err, "cause", None) or err
            return Outcome(
                task,
                strategy,
                "failed",
                seconds=time.perf_counter() - started,
                error=f"{type(cause).__name__}: {cause}",
            )
        return measure(task, strategy, result, time.perf_counter() - started)


def figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    n = len(outcomes)
    ideal = sum(o.task.ideal_subagents for o in outcomes)
    spawned = sum(o.spawned for o in outcomes)
    gaps = [o.tier_gap for o in outcomes]
    known = [g for g in gaps if g is not None]
    return {
        "tasks": n,
        "spawned": spawned,
        "ideal": ideal,
        "spawned_per_ideal": round(spawned / ideal, 3) if ideal else None,
        "spawned_on_ideal0": sum(o.spawned for o in outcomes if o.task.ideal_subagents == 0),
        "llm_calls": sum(o.llm_calls for o in outcomes),
        "tokens": sum(o.tokens for o in outcomes),
        "completion": round(sum(o.completed for o in outcomes) / n, 4) if n else None,
        "tier_agreement": round(sum(1 for g in gaps if g == 0) / n, 4) if n else None,
        "max_tier_gap": max(known) if len(known) == n and known else None,
        "failed_runs": sum(1 for o in outcomes if o.error is not None),
    }


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    if kind == "pct":
        return f"{value:.1%}"
    if kind == "ratio":
        return f"{value:.2f}"
    return f"{value:,}"


ROWS = (
    ("spawned/ideal", "spawned_per_ideal", "ratio"),
    ("spawned (sum)", "spawned", "int"),
    ("ideal (sum)", "ideal", "int"),
    ("spawned on ideal-0", "spawned_on_ideal0", "int"),
    ("LLM calls", "llm_calls", "int"),
    ("tokens", "tokens", "int"),
    ("completion", "completion", "pct"),
    ("tier agreement", "tier_agreement", "pct"),
    ("max tier gap", "max_tier_gap", "int"),
)


def table(stats: dict[str, dict[str, dict[str, Any]]]) -> str:
    cols = [(s, part) for part in ("all", "half") for s in STRATEGIES]
    head = ["", *(f"{s} {'all' if p == 'all' else 'triv+simple'}" for s, p in cols)]
    lines = [f"{head[0]:<20}" + "".join(f"{h:>20}" for h in head[1:])]
    for label, key, kind in ROWS:
        cells = "".join(f"{_fmt(stats[s][p][key], kind):>20}" for s, p in cols)
        lines.append(f"{label:<20}{cells}")
    return "\n".join(lines)


def check_targets(stats: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    pol, base = stats["policy"], stats["naive"]
    ratio = pol["all"]["spawned_per_ideal"]
    calls_pol, calls_base = pol["half"]["llm_calls"], base["half"]["llm_calls"]
    cut = 1 - calls_pol / calls_base if calls_base else None
    agreement = pol["all"]["tier_agreement"]
    gap = pol["all"]["max_tier_gap"]
    return {
        "spawned_per_ideal": {
            "value": ratio,
            "target": f"<= {TARGET_SPAWN_RATIO}",
            # With no ideal sub-agents at all (a --limit run), any spawn is excess.
            "met": pol["all"]["spawned"] == 0 if ratio is None else ratio <= TARGET_SPAWN_RATIO,
        },
        "llm_call_cut_trivial_simple": {
            "value": None if cut is None else round(cut, 4),
            "target": f">= {TARGET_CALL_CUT:.0%} fewer than naive",
            "met": cut is not None and cut >= TARGET_CALL_CUT,
        },
        "completion_vs_naive": {
            "value": [pol["all"]["completion"], base["all"]["completion"]],
            "target": "policy >= naive",
            "met": (pol["all"]["completion"] or 0) >= (base["all"]["completion"] or 0),
        },
        "tier_agreement": {
            "value": agreement,
            "target": f">= {TARGET_AGREEMENT:.0%}",
            "met": agreement is not None and agreement >= TARGET_AGREEMENT,
        },
        "max_tier_gap": {
            "value": gap,
            "target": f"<= {TARGET_MAX_TIER_GAP}",
            "met": gap is not None and gap <= TARGET_MAX_TIER_GAP,
        },
    }


def target_lines(targets: dict[str, dict[str, Any]], stats: dict[str, Any]) -> list[str]:
    pol, base = stats["policy"], stats["naive"]

    def verdict(name: str) -> str:
        return "target met" if targets[name]["met"] else "MISSED  <<<<<<<<<<"

    t = targets
    cut = t["llm_call_cut_trivial_simple"]["value"]
    return [
        f"spawned/ideal (policy, all): {_fmt(t['spawned_per_ideal']['value'], 'ratio')} "
        f"(target <= {TARGET_SPAWN_RATIO}; naive {_fmt(base['all']['spawned_per_ideal'], 'ratio')})"
        f"  {verdict('spawned_per_ideal')}",
        f"LLM calls, trivial+simple half: policy {pol['half']['llm_calls']} vs naive "
        f"{base['half']['llm_calls']} = {_fmt(cut, 'pct')} fewer "
        f"(target >= {TARGET_CALL_CUT:.0%})  {verdict('llm_call_cut_trivial_simple')}",
        f"completion: policy {_fmt(pol['all']['completion'], 'pct')} vs naive "
        f"{_fmt(base['all']['completion'], 'pct')} (target: no lower)  "
        f"{verdict('completion_vs_naive')}",
        f"tier agreement: {_fmt(t['tier_agreement']['value'], 'pct')} "
        f"(target >= {TARGET_AGREEMENT:.0%}; triv+simple half "
        f"{_fmt(pol['half']['tier_agreement'], 'pct')})  {verdict('tier_agreement')}",
        f"max tier gap: {_fmt(t['max_tier_gap']['value'], 'int')} "
        f"(target <= {TARGET_MAX_TIER_GAP})  {verdict('max_tier_gap')}",
    ]


async def bench(tasks: list[Task], concurrency: int) -> tuple[list[Outcome], float]:
    with tempfile.TemporaryDirectory(prefix="agentfleet-bench-dec-") as tmp:
        home = Path(tmp) / "home"
        with (
            DevServer(
                db_file=Path(tmp) / "temporal.db",
                port=free_port(),
                ui_port=None,
                log_file=Path(tmp) / "temporal.log",
            ) as server,
            Simulator(port=0, latency_ms=0) as sim,
        ):
            settings = Settings(
                home=home,
                temporal_address=server.address,
                task_queue=f"bench-dec-{uuid.uuid4().hex[:8]}",
                ui_port=0,
                anthropic_api_key=None,
                anthropic_base_url=sim.url,
            )
            settings.workspaces.mkdir(parents=True, exist_ok=True)
            client = await connect(server.address)
            from worker import build_worker

            gate = asyncio.Semaphore(max(concurrency, 1))
            started = time.perf_counter()
            async with build_worker(client, settings, settings.task_queue):
                # Interleaved, so both strategies see the same warm-up and load.
                jobs = [
                    run_one(client, settings, task, strategy, gate)
                    for task in tasks
                    for strategy in STRATEGIES
                ]
                outcomes = list(await asyncio.gather(*jobs))
            return outcomes, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.decomposition")
    parser.add_argument("--limit", type=int, default=None, help="only the first N tasks")
    parser.add_argument("--concurrency", type=int, default=8, help="runs at once (default 8)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    tasks = load_tasks()
    if args.limit is not None:
        tasks = tasks[: max(args.limit, 0)]
    if not tasks:
        print("no tasks to run")
        return 2
    outcomes, seconds = asyncio.run(bench(tasks, args.concurrency))

    stats: dict[str, dict[str, dict[str, Any]]] = {}
    for strategy in STRATEGIES:
        mine = [o for o in outcomes if o.strategy == strategy]
        stats[strategy] = {
            "all": figures(mine),
            "half": figures([o for o in mine if o.task.ideal_tier in HALF]),
        }
    print(
        f"{len(tasks)} tasks x {len(STRATEGIES)} strategies in {seconds:.1f} s "
        f"(concurrency {args.concurrency}); simulator, zero latency"
    )
    print(table(stats))
    for strategy in STRATEGIES:
        by_tier = ", ".join(
            f"{tier} {sum(o.spawned for o in mine)}/{sum(o.task.ideal_subagents for o in mine)}"
            for tier in TIERS
            if (
                mine := [
                    o for o in outcomes if o.strategy == strategy and o.task.ideal_tier == tier
                ]
            )
        )
        print(f"spawned/ideal by label, {strategy}: {by_tier}")
    for o in outcomes:
        if o.error is not None:
            print(f"  run failed: {o.strategy} #{o.task.index}: {o.error[:200]}")
    targets = check_targets(stats)
    print()
    for line in target_lines(targets, stats):
        print(line)
    missed = [name for name, t in targets.items() if not t["met"]]
    if missed:
        print(f"MISSED: {', '.join(missed)}")
    summary = {
        "bench": "decomposition",
        "tasks": len(tasks),
        "concurrency": args.concurrency,
        "seconds": round(seconds, 1),
        "policy": stats["policy"],
        "naive": stats["naive"],
        "targets": targets,
        "all_met": not missed,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
