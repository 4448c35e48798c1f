"""Chaos week: a fleet's worth of goals through crashes, an outage, faults and a zone.

N goals (default 424, a realistic mix drawn from tests/data/tasks.jsonl) go through one
`FleetWorkflow` on a private dev server with a persisted database, while:

* the simulator fails a share of LLM calls (default 20%, split evenly over 429 with
  retry-after, 529, 500 and slow answers), seeded;
* file tools fail transiently at 5% (bench/_chaos_worker.py raises a retryable OSError
  before delegating to the real tool activity);
* the worker subprocess is SIGKILLed and a new one started at random intervals (default
  every 20-40 s, seeded);
* the dev server is SIGKILLed and restarted once on the same database (once 40% of the
  goals are done);
* this process, the dev server and every worker run with TZ=America/Los_Angeles (the
  ledger must stay UTC whatever the host's zone);
* a quarter of the goals (`--workspace-goals`) are file chores on the seeded workspace
  (the demo's sorting, indexing and summarizing), which the simulated agents do with file
  tools: the catalog's goals are mostly answered without a tool call;
* a fraction of goals (default 0, `--impossible`) is made impossible: they name a model
  snapshot agentfleet accepts but the API (the simulator) answers 404, a non-retryable
  error. They must fail, with that reason.

At the end the audit (activities/audit.run_audit) reconciles visibility, ledger and spans
for the ISO week(s) of the run in America/Los_Angeles, and the bench prints: tasks terminal,
completed, failed with reasons; duplicates (masters per task id, sub-agent executions per
id, ledger rows per workflow id, file-tool effects applied twice by one scheduled tool
call from the worker's tool journal, and in the workspaces of completed file chores:
every seeded file once, no file name twice, an index naming each document once); audit
findings ("black holes": a run one record has and another lacks, or a close never
recorded); p50/p95 task latency; and, after each worker restart, the recovery latency
(from the new worker's process start to the first workflow task or activity completed for
a task that was in flight at the kill; server event times in the histories) and "all
in-flight resumed": the longest any run open at the kill waited for a worker
(bench/_waits.py defines it; the next step of every open run, the goals' own pace, is
printed beside it).

Targets: 100% terminal; >= 99% completed, impossible goals excluded; 0 duplicates; 0 black
holes; median recovery <= 2 s; all in-flight resumed, median <= 3 s and p95 <= 5 s over
the restarts (issue #18). Each prints "target met" or "MISSED"; the run returns 0
either way. The last line is one JSON object.

    python -m bench.chaos_week [--tasks 424] [--kill-every 20-40] [--impossible 0.05]
    python -m bench.chaos_week --tasks 40 --kill-every 5-10        # CI-sized

This module runs it (`Chaos`, `run_chaos`, `main`); the plan (configuration, goals, LLM
faults) is in bench/_chaos_plan.py, the analysis after the run in bench/_chaos_analysis.py,
the report and its targets in bench/_chaos_report.py. Their names are re-exported here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from temporalio.client import (  # noqa: E402
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError  # noqa: E402

from agentfleet.audit.run import ensure_retention  # noqa: E402
from agentfleet.cli.demo import seed_workspace  # noqa: E402
from agentfleet.cli.devserver import DevServer, free_port  # noqa: E402
from agentfleet.client import connect  # noqa: E402
from agentfleet.contracts.fleet import FleetInput, FleetStatus  # noqa: E402
from agentfleet.sim import Simulator  # noqa: E402
from bench._chaos_analysis import ChaosAnalysis  # noqa: E402
from bench._chaos_plan import (  # noqa: E402
    IMPOSSIBLE_MODEL,
    TASKS_FILE,
    TZ_NAME,
    WORKSPACE_GOALS,
    ChaosConfig,
    ChaosFaults,
    Goal,
    local_zone,
    parse_range,
    plan_goals,
    workspace_problems,
)
from bench._chaos_report import (  # noqa: E402
    BLACK_HOLE_KINDS,
    TARGET_COMPLETED,
    TARGET_RECOVERY_S,
    TARGET_TERMINAL,
    ChaosReport,
    Restart,
    TaskOutcome,
    print_report,
)
from bench._common import BenchWorker, bench_settings  # noqa: E402

# Everything bench.chaos_week defined before the split stays importable from here.
__all__ = [
    "BLACK_HOLE_KINDS",
    "IMPOSSIBLE_MODEL",
    "TARGET_COMPLETED",
    "TARGET_RECOVERY_S",
    "TARGET_TERMINAL",
    "TASKS_FILE",
    "TZ_NAME",
    "WORKSPACE_GOALS",
    "Chaos",
    "ChaosConfig",
    "ChaosFaults",
    "ChaosReport",
    "Goal",
    "Restart",
    "TaskOutcome",
    "local_zone",
    "main",
    "parse_range",
    "plan_goals",
    "print_report",
    "run_chaos",
    "workspace_problems",
]


# --- the run ------------------------------------------------------------------------------


class Chaos(ChaosAnalysis):
    """One chaos run: the stack, the fleet, the killer, and the bookkeeping."""

    def __init__(self, cfg: ChaosConfig, workdir: Path, say: Callable[[str], None]) -> None:
        self.cfg = cfg
        self.workdir = workdir
        self.say = say
        self.run_id = f"chaos-{uuid.uuid4().hex[:6]}"
        self.rng = random.Random(cfg.seed)
        self.goals = plan_goals(
            cfg.tasks, cfg.impossible, cfg.seed, self.run_id, cfg.workspace_goals
        )
        self.journal = workdir / "tool-journal.jsonl"
        self.events = workdir / "worker-events.jsonl"
        self.attempts = workdir / "activity-attempts.jsonl"
        self.restarts: list[Restart] = []
        self.server_restarts: list[float] = []
        self.submitted_at: dict[str, float] = {}
        self.finished = 0
        self.done = asyncio.Event()
        self.errors: list[str] = []
        self.worker: BenchWorker | None = None
        self.workers: list[BenchWorker] = []

    def new_worker(self) -> BenchWorker:
        w = BenchWorker(
            self.settings,
            self.workdir / "worker.log",
            tool_fault_rate=self.cfg.tool_fault_rate,
            seed=self.cfg.seed + len(self.workers),
            journal=self.journal,
            events=self.events,
            attempts=self.attempts,
            extra_env={**self.cfg.worker_env, "TZ": TZ_NAME},
        )
        self.workers.append(w)
        return w.start()

    async def run(self) -> ChaosReport:
        cfg = self.cfg
        started = time.time()
        self.server = DevServer(
            db_file=self.workdir / "temporal.db",
            port=free_port(),
            ui_port=None,
            log_file=self.workdir / "temporal.log",
        )
        await asyncio.to_thread(self.server.start, reuse=False)
        sim = Simulator(port=0, latency_ms=cfg.latency_ms, retry_after_s=cfg.retry_after_s)
        faults = ChaosFaults(sim.faults, cfg.fault_rate, cfg.slow_ms, cfg.seed)
        sim.faults = faults  # type: ignore[assignment]
        sim.start()
        fleet_stats: dict[str, Any] | None = None
        try:
            self.settings = bench_settings(
                self.workdir / "home", self.server.address, sim.url, "chaos"
            )
            for g in self.goals:
                await asyncio.to_thread(seed_workspace, self.settings.workspaces / g.workspace)
            self.worker = self.new_worker()
            client = await connect(self.server.address)
            self.client = client
            # As the production stack (and the weekly schedule) does: 8 days, so visibility
            # still holds the whole audited week.
            await ensure_retention(client)
            fleet_id = f"{self.run_id}-fleet"
            handle: WorkflowHandle[Any, Any] = await client.start_workflow(
                "FleetWorkflow",
                FleetInput(max_concurrent=cfg.concurrency),
                id=fleet_id,
                task_queue=self.settings.task_queue,
                result_type=FleetStatus,
            )
            self.say(
                f"chaos run {self.run_id}: {len(self.goals)} goals "
                f"({sum(g.impossible for g in self.goals)} impossible), fleet {fleet_id}, "
                f"queue {self.settings.task_queue}, TZ={os.environ.get('TZ')}, "
                f"workdir {self.workdir}"
            )
            killer = asyncio.create_task(self.killer(handle))
            try:
                await self.submit_all(handle)
                await self.watch(handle, started)
            finally:
                self.done.set()
                await killer
            status = await self.drain(handle)
            fleet_stats = None if status is None else status.stats.model_dump()
            # Graceful stop of the last worker: its spans and metrics are flushed.
            if self.worker is not None:
                await asyncio.to_thread(self.worker.terminate)
            return await self.analyse(
                client, started, faults, sim.stats(), fleet_stats, time.time() - started
            )
        finally:
            for w in self.workers:
                w.kill()
            sim.stop()
            self.server.stop()

    # --- submitting and watching ---

    async def submit_all(self, handle: WorkflowHandle[Any, Any]) -> None:
        gate = asyncio.Semaphore(8)

        async def one(g: Goal) -> None:
            async with gate:
                for _ in range(240):
                    try:
                        self.submitted_at.setdefault(g.task_id, time.time())
                        got = await asyncio.wait_for(
                            handle.execute_update("submit", g.submit(), result_type=str), 30
                        )
                        if got != g.task_id:
                            self.errors.append(f"submit {g.task_id} returned {got}")
                        return
                    except WorkflowUpdateFailedError as err:
                        self.errors.append(f"submit {g.task_id} refused: {err.cause}")
                        return
                    except (RPCError, TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
                        await asyncio.sleep(0.5)
                self.errors.append(f"could not submit {g.task_id}")

        await asyncio.gather(*(one(g) for g in self.goals))
        self.say(f"submitted {len(self.goals)} goals")

    async def fleet_status(self, handle: WorkflowHandle[Any, Any]) -> FleetStatus | None:
        try:
            return await asyncio.wait_for(
                handle.query("status", result_type=FleetStatus), timeout=5
            )
        except Exception:  # noqa: BLE001 - a query needs a live worker and server
            return None

    async def watch(self, handle: WorkflowHandle[Any, Any], started: float) -> None:
        deadline = started + self.cfg.deadline_s
        last_say = 0.0
        while time.time() < deadline:
            status = await self.fleet_status(handle)
            if status is not None:
                self.finished = status.stats.finished
                if (
                    status.stats.submitted >= len(self.goals)
                    and self.finished >= status.stats.submitted
                    and not status.in_flight
                    and not status.queued
                ):
                    self.say(
                        f"all {self.finished} goals finished after {time.time() - started:.0f} s"
                    )
                    return
            if time.time() - last_say >= 15:
                last_say = time.time()
                self.say(
                    f"  {time.time() - started:5.0f} s: finished {self.finished}/{len(self.goals)}"
                    f", worker restarts {len(self.restarts)}"
                    f", server restarts {len(self.server_restarts)}"
                )
            await asyncio.sleep(1.0)
        self.errors.append(f"deadline of {self.cfg.deadline_s:.0f} s reached")
        self.say(f"MISSED: deadline reached with {self.finished}/{len(self.goals)} finished")

    async def killer(self, handle: WorkflowHandle[Any, Any]) -> None:
        lo, hi = self.cfg.kill_every
        next_kill = time.time() + self.rng.uniform(lo, hi)
        restart_after = (
            None
            if self.cfg.server_restart_at is None
            else self.cfg.server_restart_at * len(self.goals)
        )
        while not self.done.is_set():
            now = time.time()
            if (
                restart_after is not None
                and not self.server_restarts
                and self.finished >= restart_after
            ):
                await self.restart_server()
                next_kill = max(next_kill, time.time() + lo / 2)
            elif now >= next_kill:
                await self.restart_worker()
                next_kill = time.time() + self.rng.uniform(lo, hi)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.done.wait(), 0.2)

    async def restart_worker(self) -> None:
        assert self.worker is not None
        self.worker.kill()
        killed = time.time()
        if self.cfg.downtime_s:
            await asyncio.sleep(self.cfg.downtime_s)
        self.worker = self.new_worker()
        assert self.worker.started_at is not None
        self.restarts.append(Restart(len(self.restarts) + 1, killed, self.worker.started_at))

    async def restart_server(self) -> None:
        self.say(f"  killing the dev server (finished {self.finished}/{len(self.goals)})")
        self.server.kill()
        self.server_restarts.append(time.time())
        await asyncio.sleep(1.0)
        await asyncio.to_thread(self.server.start, reuse=False)
        self.say("  dev server back on the same database")

    async def drain(self, handle: WorkflowHandle[Any, Any]) -> FleetStatus | None:
        last: Exception | None = None
        for _ in range(60):
            try:
                await handle.signal("drain")
                result: FleetStatus = await asyncio.wait_for(handle.result(), 60)
                return result
            except (RPCError, TimeoutError) as err:
                last = err
                await asyncio.sleep(1.0)
        self.errors.append(f"the fleet did not drain: {last}")
        return None


async def run_chaos(
    cfg: ChaosConfig, workdir: Path, say: Callable[[str], None] = print
) -> ChaosReport:
    """One chaos run in `workdir` (kept: logs, journal, databases), under TZ=America/Los_Angeles."""
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    with local_zone(TZ_NAME):
        return await Chaos(cfg, workdir, say).run()


def calm(cfg: ChaosConfig) -> ChaosConfig:
    """The same goals with nothing going wrong: no faults, no kills, no server restart."""
    return dataclasses.replace(
        cfg,
        fault_rate=0.0,
        tool_fault_rate=0.0,
        kill_every=(1e9, 1e9),
        server_restart_at=None,
        downtime_s=0.0,
    )


async def run_with_reference(
    cfg: ChaosConfig, workdir: Path, say: Callable[[str], None] = print
) -> ChaosReport:
    """A calm run, then the chaos run of the same goals, which is compared with it."""
    say("calm reference run (no faults, no kills)")
    reference = await run_chaos(calm(cfg), workdir / "calm", say)
    say("chaos run")
    report = await run_chaos(cfg, workdir / "chaos", say)
    report.reference = reference
    return report


def _ensure_zone(argv: list[str]) -> None:
    """Run under TZ=America/Los_Angeles: re-exec when started as `python -m bench.chaos_week`,
    else (the bench runner, a test) switch this process with tzset; run_chaos does too."""
    if os.environ.get("TZ") == TZ_NAME:
        return
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if main_spec is not None and main_spec.name == "bench.chaos_week":
        sys.stdout.flush()
        os.execve(
            sys.executable,
            [sys.executable, "-m", "bench.chaos_week", *argv],
            {**os.environ, "TZ": TZ_NAME},
        )


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    _ensure_zone(args_list)
    parser = argparse.ArgumentParser(prog="python -m bench.chaos_week")
    parser.add_argument("--tasks", type=int, default=424)
    parser.add_argument("--concurrency", type=int, default=12, help="fleet max_concurrent")
    parser.add_argument("--impossible", type=float, default=0.0, help="share of impossible goals")
    parser.add_argument(
        "--workspace-goals", type=float, default=0.25, help="share of file-tool goals"
    )
    parser.add_argument("--fault-rate", type=float, default=0.20, help="share of LLM calls faulted")
    parser.add_argument("--slow-ms", type=float, default=3000.0)
    parser.add_argument("--latency-ms", type=float, default=500.0, help="simulator base latency")
    parser.add_argument("--tool-fault-rate", type=float, default=0.05)
    parser.add_argument("--kill-every", type=parse_range, default=(20.0, 40.0), metavar="LO-HI")
    parser.add_argument("--downtime", type=float, default=0.0, help="seconds with no worker")
    parser.add_argument(
        "--server-restart-at", type=float, default=0.4, help="share done; negative: never"
    )
    parser.add_argument("--seed", type=int, default=424)
    parser.add_argument("--timeout", type=float, default=None, help="seconds (default 900+6N)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep logs and databases here")
    parser.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="skip the calm run that outcomes under chaos are compared with",
    )
    parser.add_argument(
        "--whatif-llm-heartbeat",
        type=float,
        default=None,
        metavar="S",
        help="measure a proposal: the LLM activity heartbeating under this heartbeat timeout",
    )
    parser.add_argument(
        "--whatif-short-timeout",
        type=float,
        default=None,
        metavar="S",
        help="measure a proposal: start-to-close cap for tools, workspace, ledger, thresholds",
    )
    parser.add_argument(
        "--whatif-task-timeout",
        type=float,
        default=None,
        metavar="S",
        help="measure a lever: masters and sub-agents started with this workflow task "
        "timeout (10 = the server's default, agentfleet/deploy/task_timeouts.py off)",
    )
    args = parser.parse_args(args_list)
    worker_env = {}
    if args.whatif_task_timeout:
        worker_env["AGENTFLEET_WHATIF_TASK_TIMEOUT_S"] = str(args.whatif_task_timeout)
    if args.whatif_llm_heartbeat:
        worker_env["AGENTFLEET_WHATIF_LLM_HEARTBEAT_S"] = str(args.whatif_llm_heartbeat)
    if args.whatif_short_timeout:
        worker_env["AGENTFLEET_WHATIF_SHORT_TIMEOUT_S"] = str(args.whatif_short_timeout)
    cfg = ChaosConfig(
        tasks=args.tasks,
        concurrency=args.concurrency,
        impossible=args.impossible,
        workspace_goals=args.workspace_goals,
        fault_rate=args.fault_rate,
        slow_ms=args.slow_ms,
        latency_ms=args.latency_ms,
        tool_fault_rate=args.tool_fault_rate,
        kill_every=args.kill_every,
        downtime_s=args.downtime,
        server_restart_at=None if args.server_restart_at < 0 else args.server_restart_at,
        seed=args.seed,
        timeout_s=args.timeout,
        worker_env=worker_env,
    )
    keep = args.workdir is not None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="agentfleet-chaos-"))
    try:
        say = lambda m: print(m, flush=True)  # noqa: E731 - one line
        run = run_with_reference if args.reference else run_chaos
        rep = asyncio.run(run(cfg, workdir, say))
        print_report(rep)
        print(json.dumps(rep.summary()))
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
