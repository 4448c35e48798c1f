"""Real completion: does `completed` mean the work is in the workspace? (issue #13)

Every labelled goal of bench/data/reality_goals.jsonl (everyday file chores phrased as a
person types them, plus a few questions) runs as `MasterAgentWorkflow`, as `agentfleet run`
starts it, in a workspace seeded with its files. One private stack: a headless dev server
on a temporary database, the simulator at zero latency, and one worker process on its own
task queue and AGENTFLEET_HOME. After each run the workspace itself is checked
(bench/_reality_goals.py); the run's words are not.

Each goal ends as one of:

* verified: the run says `completed` and the end state is right;
* false completion: the run says `completed` and the end state is wrong;
* unverified: the run says `unverified` (it stopped as if done, its own check disagreed);
* other: any other status (failed, partial, ...; named in the totals), or no result.

Goals that need the file tools of issue #16 (copy, delete, search, edit) are labelled and
also shown apart: without those tools they should end `unverified`, which is honest.

Targets: verified completion >= 95%, false completions 0. The run returns 0 either way (a
benchmark reports, it does not gate). The last line is one JSON object; with `--runs N` its
figures are the medians of the rounds, every round listed under "rounds".

With `--habit NAME` every goal is answered with one bad habit of real models (claim-done:
"done" with no tool call; own-words: the requested words written the model's own way;
multi-tool, truncate, bad-args, ...). The work may then be wrong or missing; what must
hold is 0 false completions.

    python -m bench.reality [--runs 1] [--concurrency 4] [--only ID,ID] [--quiet] [--keep DIR]
                            [--habit NAME]
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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from temporalio.client import Client  # noqa: E402

from agentfleet.cli.devserver import DevServer, free_port  # noqa: E402
from agentfleet.client import connect  # noqa: E402
from agentfleet.config import Settings  # noqa: E402
from agentfleet.contracts.models import MasterInput, MasterResult  # noqa: E402
from agentfleet.sim import Simulator  # noqa: E402
from agentfleet.sim.habits import HABITS  # noqa: E402
from bench._common import BenchWorker, bench_settings, verdict  # noqa: E402
from bench._reality_goals import Goal, check, load_goals, seed_workspace  # noqa: E402

TARGET_VERIFIED = 0.95
TARGET_FALSE = 0
# A run still going after this long is stuck: it counts as `other` (status "error").
RUN_TIMEOUT = timedelta(seconds=120)
KINDS = ("verified", "false_completion", "unverified", "other")


@dataclass(frozen=True)
class Outcome:
    goal: Goal
    status: str
    mismatches: tuple[str, ...]
    seconds: float
    error: str | None = None

    @property
    def kind(self) -> str:
        if self.status == "completed":
            return "false_completion" if self.mismatches else "verified"
        if self.status == "unverified":
            return "unverified"
        return "other"


async def run_goal(
    client: Client,
    settings: Settings,
    goal: Goal,
    round_no: int,
    gate: asyncio.Semaphore,
    habit: str = "",
) -> Outcome:
    name = f"r{round_no}-{goal.id}"
    workspace = settings.workspaces / name
    seed_workspace(workspace, goal)
    async with gate:
        started = time.perf_counter()
        try:
            handle = await client.start_workflow(
                "MasterAgentWorkflow",
                MasterInput(goal=_with_habit(goal.goal, habit), workspace=name),
                id=f"reality-{name}-{uuid.uuid4().hex[:6]}",
                task_queue=settings.task_queue,
                result_type=MasterResult,
                execution_timeout=RUN_TIMEOUT,
            )
            result: MasterResult = await handle.result()
        except Exception as err:  # noqa: BLE001 - a run that breaks is a data point
            cause = getattr(err, "cause", None) or err
            seconds = time.perf_counter() - started
            mismatches = tuple(check(workspace, goal))
            return Outcome(goal, "error", mismatches, seconds, f"{type(cause).__name__}: {cause}")
        seconds = time.perf_counter() - started
    return Outcome(goal, result.status, tuple(check(workspace, goal, result.output)), seconds)


def _with_habit(text: str, habit: str) -> str:
    """The goal as typed, with the simulator told to answer it with a real model's habit."""
    return f"{text} [sim:habit={habit}]" if habit else text


def figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    kinds = Counter(o.kind for o in outcomes)
    n = len(outcomes)
    today = [o for o in outcomes if not o.goal.needs]
    per_category: dict[str, dict[str, int]] = {}
    for o in outcomes:
        row = per_category.setdefault(o.goal.category, {"goals": 0, **dict.fromkeys(KINDS, 0)})
        row["goals"] += 1
        row[o.kind] += 1
    return {
        "goals": n,
        "verified": kinds["verified"],
        "verified_completion": round(kinds["verified"] / n, 4) if n else None,
        "unverified": kinds["unverified"],
        "false_completions": kinds["false_completion"],
        "other": kinds["other"],
        "other_statuses": dict(Counter(o.status for o in outcomes if o.kind == "other")),
        # Goals that today's five file tools can do, without issue #16's.
        "verified_completion_current_tools": (
            round(sum(o.kind == "verified" for o in today) / len(today), 4) if today else None
        ),
        "end_state_ok": sum(not o.mismatches for o in outcomes),
        # Work that was done but not proven: the check was stricter than the workspace.
        "unverified_end_state_ok": sum(
            o.kind == "unverified" and not o.mismatches for o in outcomes
        ),
        "per_category": per_category,
        "by_tools": {
            "current": _counts(today),
            "issue16": _counts([o for o in outcomes if o.goal.needs]),
        },
    }


def _counts(outcomes: Sequence[Outcome]) -> dict[str, int]:
    kinds = Counter(o.kind for o in outcomes)
    return {"goals": len(outcomes), **{k: kinds[k] for k in KINDS}}


def goal_table(outcomes: Sequence[Outcome]) -> str:
    head = f"{'goal':<24} {'category':<10} {'status':<12} {'end':<4} {'kind':<17} mismatches"
    lines = ["(* needs a file tool of issue #16)", head]
    for o in outcomes:
        why = "; ".join(o.mismatches) or "-"
        if o.error:
            why = f"{o.error[:120]} | {why}"
        lines.append(
            f"{o.goal.id:<24} {o.goal.category + ('*' if o.goal.needs else ''):<10} {o.status:<12} "
            f"{'ok' if not o.mismatches else 'BAD':<4} {o.kind:<17} {why[:200]}"
        )
    return "\n".join(lines)


def category_table(stats: dict[str, Any]) -> str:
    def row(label: str, counts: dict[str, int]) -> str:
        return f"{label:<22} {counts['goals']:>5} " + " ".join(f"{counts[k]:>16}" for k in KINDS)

    lines = [f"{'category':<22} {'goals':>5} " + " ".join(f"{k:>16}" for k in KINDS)]
    lines += [row(cat, counts) for cat, counts in sorted(stats["per_category"].items())]
    lines.append(row("= current file tools", stats["by_tools"]["current"]))
    lines.append(row("= needs #16 tools", stats["by_tools"]["issue16"]))
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def summary_line(stats: dict[str, Any]) -> str:
    other = ", ".join(f"{k} {v}" for k, v in sorted(stats["other_statuses"].items())) or "none"
    return (
        f"verified completion {stats['verified']}/{stats['goals']} = "
        f"{_pct(stats['verified_completion'])} (current tools only: "
        f"{_pct(stats['verified_completion_current_tools'])}); unverified {stats['unverified']} "
        f"(end state right in {stats['unverified_end_state_ok']}); "
        f"false completions {stats['false_completions']}; other {stats['other']} ({other})"
    )


async def bench(
    goals: list[Goal], runs: int, concurrency: int, tmp: Path, habit: str = ""
) -> list[list[Outcome]]:
    server = DevServer(
        db_file=tmp / "temporal.db", port=free_port(), ui_port=None, log_file=tmp / "temporal.log"
    )
    await asyncio.to_thread(server.start, reuse=False)
    worker: BenchWorker | None = None
    try:
        with Simulator(port=0, latency_ms=0) as sim:
            settings = bench_settings(tmp / "home", server.address, sim.url, "reality")
            worker = BenchWorker(settings, tmp / "worker.log", events=tmp / "events.jsonl")
            worker.start()
            await asyncio.to_thread(worker.wait_built)
            client = await connect(server.address, blob_root=settings.blobs)
            gate = asyncio.Semaphore(max(concurrency, 1))
            rounds: list[list[Outcome]] = []
            for round_no in range(1, runs + 1):
                jobs = [run_goal(client, settings, g, round_no, gate, habit) for g in goals]
                rounds.append(list(await asyncio.gather(*jobs)))
                if not worker.alive():
                    raise RuntimeError(worker.died() or "the worker exited")
            return rounds
    finally:
        if worker is not None:
            worker.terminate()
        server.stop()


def _median(values: list[Any]) -> Any:
    # median_low keeps a count a count when the number of rounds is even.
    return statistics.median_low(values) if values else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reality")
    parser.add_argument("--runs", type=int, default=3, help="rounds over all goals (default 3)")
    parser.add_argument("--concurrency", type=int, default=4, help="runs at once (default 4)")
    parser.add_argument("--only", default="", help="comma-separated goal ids")
    parser.add_argument("--quiet", action="store_true", help="no per-goal table")
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep the stack's files (workspaces) in this dir"
    )
    parser.add_argument(
        "--habit",
        default="",
        choices=["", *HABITS],
        help="every goal answered with this bad habit of real models (claim-done, own-words, "
        "...): the run's work may be wrong, so what counts is that no false completion is",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    goals = load_goals()
    if args.only:
        wanted = set(args.only.split(","))
        goals = [g for g in goals if g.id in wanted]
    if not goals:
        print("no goals to run")
        return 2
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="agentfleet-bench-reality-") as tmp:
        where = Path(tmp) if args.keep is None else args.keep.resolve()
        where.mkdir(parents=True, exist_ok=True)
        rounds = asyncio.run(
            bench(goals, max(args.runs, 1), args.concurrency, where, habit=args.habit)
        )
    seconds = time.perf_counter() - started

    per_round = [figures(outcomes) for outcomes in rounds]
    for i, (outcomes, stats) in enumerate(zip(rounds, per_round, strict=True), start=1):
        print(f"-- round {i}/{len(rounds)}: {len(goals)} goals")
        if not args.quiet:
            print(goal_table(outcomes))
        print(category_table(stats))
        print(summary_line(stats))
    keys = ("verified_completion", "unverified", "false_completions", "other")
    med = {k: _median([s[k] for s in per_round]) for k in keys}
    last = per_round[-1]
    print()
    print(
        f"{len(goals)} goals x {len(rounds)} round(s) in {seconds:.1f} s "
        f"(concurrency {args.concurrency}); simulator, zero latency"
        + (f", habit {args.habit}" if args.habit else "")
    )
    print(
        f"verified completion (median): {med['verified_completion']:.1%} "
        f"(target >= {TARGET_VERIFIED:.0%}; rounds "
        f"{[s['verified_completion'] for s in per_round]})  "
        f"{verdict(med['verified_completion'] >= TARGET_VERIFIED)}"
    )
    print(
        f"false completions (median): {med['false_completions']} (target {TARGET_FALSE}; rounds "
        f"{[s['false_completions'] for s in per_round]})  "
        f"{verdict(med['false_completions'] <= TARGET_FALSE)}"
    )
    summary = {
        "bench": "reality",
        "goals": len(goals),
        "runs": len(rounds),
        "seconds": round(seconds, 1),
        **med,
        "verified_completion_current_tools": _median(
            [s["verified_completion_current_tools"] for s in per_round]
        ),
        "other_statuses": last["other_statuses"],
        # Rounds run the same goals; the breakdowns are the last round's.
        "per_category": last["per_category"],
        "by_tools": last["by_tools"],
        "unverified_end_state_ok": last["unverified_end_state_ok"],
        "rounds": [{k: s[k] for k in (*keys, "other_statuses")} for s in per_round],
        "targets_met": med["verified_completion"] >= TARGET_VERIFIED
        and med["false_completions"] <= TARGET_FALSE,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
