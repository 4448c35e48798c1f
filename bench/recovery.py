"""Recovery: SIGKILL the worker with sub-agents in flight; how soon does work resume?

A private dev server (persisted database, the product's default pragmas), the simulator at
400 ms per call (so a kill lands mid-conversation), and the worker as a subprocess
(bench/_chaos_worker.py, which is `python worker.py` with a timestamp once it polls).
Each trial starts `--masters` masters on the demo goal (four sub-agents each), waits until
at least two sub-agents run and a little more, SIGKILLs the worker, and starts a new one at
once. After the trees finish, the histories of every run that was in flight at the kill
give, from the new process's start:

* polling: the new worker connected and built (imports, telemetry, build_worker);
* recovery: the first workflow task or activity a worker completed for any in-flight run
  ("work resumes"); target <= 2 s, median over trials;
* all resumed: every in-flight run has progressed again (bounded by the sticky queue's
  schedule-to-start timeout and by the timeouts of the activities the dead worker held).

Finally one graceful stop: SIGTERM with work in flight, timed to the process's exit, and
checked to exit 0 without leaving its activities to time out.

    python -m bench.recovery [--trials 5] [--masters 3] [--latency-ms 400]
    python -m bench.recovery --whatif-llm-heartbeat 2 --whatif-short-timeout 5

The --whatif options measure a proposal for workflows/_calls.py without editing it (see
bench/_chaos_worker.py): the LLM activity heartbeating under that heartbeat timeout, and
the short activities (tools, workspace, ledger, thresholds) under that start-to-close cap.

Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus  # noqa: E402

from agentfleet.cli.demo import DEMO_GOAL, seed_workspace  # noqa: E402
from agentfleet.cli.devserver import DevServer, free_port  # noqa: E402
from agentfleet.client import connect  # noqa: E402
from agentfleet.config import Settings  # noqa: E402
from agentfleet.contracts.models import MasterInput  # noqa: E402
from agentfleet.sim import Simulator  # noqa: E402
from bench._common import (  # noqa: E402
    BenchWorker,
    bench_settings,
    epoch,
    fetch_history,
    first_after,
    fmt_s,
    median,
    progress_times,
    verdict,
)

TARGET_RECOVERY_S = 2.0


@dataclass
class Trial:
    index: int
    in_flight: int
    subagents_in_flight: int
    polling_s: float | None
    recovery_s: float | None
    all_resumed_s: float | None
    completed: bool


async def running_subagents(client: Client, roots: list[str]) -> int:
    n = 0
    for root in roots:
        async for _ in client.list_workflows(
            f"WorkflowId STARTS_WITH '{root}.' AND ExecutionStatus = 'Running'"
        ):
            n += 1
    return n


async def runs_of(client: Client, roots: list[str]) -> list[WorkflowExecution]:
    out: list[WorkflowExecution] = []
    for root in roots:
        async for w in client.list_workflows(f"WorkflowId STARTS_WITH '{root}'"):
            out.append(w)
    return out


async def start_masters(client: Client, settings: Settings, n: int, tag: str) -> list[str]:
    ids = []
    for i in range(n):
        wid = f"rec-{tag}-{i}-{uuid.uuid4().hex[:6]}"
        await asyncio.to_thread(seed_workspace, settings.workspaces / wid)
        await client.start_workflow(
            "MasterAgentWorkflow",
            MasterInput(goal=DEMO_GOAL, workspace=wid),
            id=wid,
            task_queue=settings.task_queue,
        )
        ids.append(wid)
    return ids


async def wait_results(client: Client, ids: list[str], timeout: float) -> bool:
    try:
        await asyncio.wait_for(
            asyncio.gather(*(client.get_workflow_handle(i).result() for i in ids)), timeout
        )
        return True
    except Exception:  # noqa: BLE001 - reported as not completed
        return False


async def one_trial(
    index: int,
    client: Client,
    settings: Settings,
    worker: BenchWorker,
    make_worker: Any,
    masters: int,
) -> tuple[Trial, BenchWorker]:
    ids = await start_masters(client, settings, masters, f"t{index}")
    for _ in range(300):
        if await running_subagents(client, ids) >= 2:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.6)  # let turns and tool calls get under way
    worker.kill()
    killed = time.time()
    new = make_worker()
    started = new.started_at
    assert started is not None
    completed = await wait_results(client, ids, timeout=240)
    polling = new.built_at()
    # Visibility lags closes a little; the histories are exact.
    await asyncio.sleep(1.0)
    runs = await runs_of(client, ids)
    in_flight = [
        w
        for w in runs
        if (s := epoch(w.start_time)) is not None
        and s < killed
        and ((c := epoch(w.close_time)) is None or c > killed)
    ]
    firsts = []
    for w in in_flight:
        times = progress_times(await fetch_history(client, w.id, w.run_id))
        firsts.append(first_after(times, started))
    seen = [f for f in firsts if f is not None]
    trial = Trial(
        index=index,
        in_flight=len(in_flight),
        subagents_in_flight=sum(1 for w in in_flight if w.workflow_type == "SubAgentWorkflow"),
        polling_s=None if polling is None else polling - started,
        recovery_s=min(seen) - started if seen else None,
        all_resumed_s=max(seen) - started if seen else None,
        completed=completed
        and all(
            w.status
            in (WorkflowExecutionStatus.COMPLETED, WorkflowExecutionStatus.CONTINUED_AS_NEW)
            for w in runs
        ),
    )
    return trial, new


async def graceful(
    client: Client, settings: Settings, worker: BenchWorker, make_worker: Any, masters: int
) -> dict[str, Any]:
    """SIGTERM with work in flight: the drain time and the exit code."""
    ids = await start_masters(client, settings, masters, "term")
    for _ in range(300):
        if await running_subagents(client, ids) >= 2:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.6)
    t0 = time.monotonic()
    code = await asyncio.to_thread(worker.terminate, 60.0)
    drain = time.monotonic() - t0
    new = make_worker()
    completed = await wait_results(client, ids, timeout=240)
    return {"exit_code": code, "drain_s": round(drain, 3), "completed": completed, "worker": new}


async def bench(
    trials: int, masters: int, latency_ms: float, tmp: Path, whatif: dict[str, str]
) -> dict[str, Any]:
    server = DevServer(
        db_file=tmp / "temporal.db", port=free_port(), ui_port=None, log_file=tmp / "temporal.log"
    )
    await asyncio.to_thread(server.start, reuse=False)
    workers: list[BenchWorker] = []
    try:
        with Simulator(port=0, latency_ms=latency_ms) as sim:
            settings = bench_settings(tmp / "home", server.address, sim.url, "recovery")

            def make_worker() -> BenchWorker:
                w = BenchWorker(
                    settings, tmp / "worker.log", events=tmp / "events.jsonl", extra_env=whatif
                )
                workers.append(w)
                return w.start()

            client = await connect(server.address)
            worker = make_worker()
            await asyncio.to_thread(worker.wait_built)
            # Warm-up (not counted): the server's first tasks, the sandbox's first imports.
            ids = await start_masters(client, settings, masters, "warm")
            await wait_results(client, ids, timeout=120)
            results: list[Trial] = []
            print(
                f"{'trial':>5} {'in flight':>9} {'sub-agents':>10} {'polling':>9} "
                f"{'recovery':>9} {'all resumed':>11} {'completed':>9}"
            )
            for i in range(1, trials + 1):
                trial, worker = await one_trial(i, client, settings, worker, make_worker, masters)
                results.append(trial)
                print(
                    f"{trial.index:>5} {trial.in_flight:>9} {trial.subagents_in_flight:>10} "
                    f"{fmt_s(trial.polling_s):>9} {fmt_s(trial.recovery_s):>9} "
                    f"{fmt_s(trial.all_resumed_s):>11} {trial.completed!s:>9}",
                    flush=True,
                )
            await asyncio.to_thread(worker.wait_built)
            term = await graceful(client, settings, worker, make_worker, masters)
            term.pop("worker")
    finally:
        for w in workers:
            w.kill()
        server.stop()
    rec = median(t.recovery_s for t in results if t.recovery_s is not None)
    return {
        "bench": "recovery",
        "trials": [asdict(t) for t in results],
        "masters": masters,
        "latency_ms": latency_ms,
        "whatif": whatif,
        "polling_median_s": _r(median(t.polling_s for t in results if t.polling_s is not None)),
        "recovery_median_s": _r(rec),
        "all_resumed_median_s": _r(
            median(t.all_resumed_s for t in results if t.all_resumed_s is not None)
        ),
        "all_completed": all(t.completed for t in results),
        "sigterm": term,
        "target_recovery_s": TARGET_RECOVERY_S,
        "within_target": rec is not None and rec <= TARGET_RECOVERY_S,
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.recovery")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--masters", type=int, default=3, help="masters in flight per trial")
    parser.add_argument("--latency-ms", type=float, default=400.0)
    parser.add_argument("--whatif-llm-heartbeat", type=float, default=None, metavar="S")
    parser.add_argument("--whatif-short-timeout", type=float, default=None, metavar="S")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    whatif = {}
    if args.whatif_llm_heartbeat:
        whatif["AGENTFLEET_WHATIF_LLM_HEARTBEAT_S"] = str(args.whatif_llm_heartbeat)
    if args.whatif_short_timeout:
        whatif["AGENTFLEET_WHATIF_SHORT_TIMEOUT_S"] = str(args.whatif_short_timeout)
    if whatif:
        print(f"what-if: {whatif}")
    with tempfile.TemporaryDirectory(prefix="agentfleet-bench-recovery-") as tmp:
        summary = asyncio.run(bench(args.trials, args.masters, args.latency_ms, Path(tmp), whatif))
    rec = summary["recovery_median_s"]
    term = summary["sigterm"]
    print(
        f"polling after start: median {fmt_s(summary['polling_median_s'])}; every in-flight "
        f"run resumed: median {fmt_s(summary['all_resumed_median_s'])}"
    )
    print(
        f"SIGTERM with work in flight: exit code {term['exit_code']} after {term['drain_s']} s; "
        f"trees completed: {term['completed']}"
    )
    print(
        f"median recovery (new process start -> first progress of in-flight work): "
        f"{fmt_s(rec)} (target <= {TARGET_RECOVERY_S} s)  {verdict(summary['within_target'])}"
    )
    if not summary["all_completed"]:
        print("MISSED: some trees did not complete after the kill")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
