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
recorded); p50/p95 task latency; and the recovery
latency after each worker restart: from the new worker's process start to the first
workflow task or activity completed for a task that was in flight at the kill (server
event times in the histories).

Targets: 100% terminal; >= 99% completed, impossible goals excluded; 0 duplicates; 0 black
holes; median recovery <= 2 s. Each prints "target met" or "MISSED"; the run returns 0
either way. The last line is one JSON object.

    python -m bench.chaos_week [--tasks 424] [--kill-every 20-40] [--impossible 0.05]
    python -m bench.chaos_week --tasks 40 --kill-every 5-10        # CI-sized
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from temporalio.client import (  # noqa: E402
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowHistory,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.service import RPCError  # noqa: E402

from activities.audit import ensure_retention  # noqa: E402
from agentfleet.client import connect  # noqa: E402
from agentfleet.demo import DEMO_FILES, DEMO_GOAL, seed_workspace  # noqa: E402
from agentfleet.devserver import DevServer, free_port  # noqa: E402
from agentfleet.fleet_models import FleetInput, FleetStatus, FleetSubmit  # noqa: E402
from agentfleet.ledger import Ledger, LedgerRow, tasks  # noqa: E402
from agentfleet.sim import Simulator  # noqa: E402
from agentfleet.sim.faults import Fault, Faults  # noqa: E402
from agentfleet.weeks import week_of  # noqa: E402
from bench._common import (  # noqa: E402
    BenchWorker,
    bench_settings,
    epoch,
    fetch_history,
    first_after,
    fmt_s,
    median,
    percentile,
    progress_times,
    verdict,
)

TZ_NAME = "America/Los_Angeles"
TASKS_FILE = ROOT / "tests" / "data" / "tasks.jsonl"
# Goals on the seeded workspace that the simulated agents carry out with file tools (the
# catalog's goals mostly get answered without one): they give the tool faults and the
# duplicate-effect checks something to bite on.
WORKSPACE_GOALS = (
    DEMO_GOAL,
    "Sort the files in inbox/ by type; write an index of docs/ to docs/INDEX.md",
    "Summarize notes/meeting.txt into notes/SUMMARY.md; "
    "summarize notes/retro.txt into notes/RETRO.md",
)
# A dated snapshot of a known model: MasterInput accepts it (catalog.is_known_model), the
# API does not serve it, so every LLM call is a 404, which is never retried.
IMPOSSIBLE_MODEL = "claude-haiku-4-5-29991231"

TARGET_TERMINAL = 1.0
TARGET_COMPLETED = 0.99
TARGET_RECOVERY_S = 2.0

# Audit findings that mean a run fell into a hole: one record has it and another does not,
# or its close was never recorded. The rest (timestamps, windows) are listed, not counted.
BLACK_HOLE_KINDS = frozenset(
    {
        "missing_in_ledger",
        "missing_in_visibility",
        "missing_in_telemetry",
        "duplicate_in_ledger",
        "running_past_timeout",
        "status_mismatch",
    }
)


# --- configuration ------------------------------------------------------------------------


@dataclass
class ChaosConfig:
    tasks: int = 424
    concurrency: int = 12
    impossible: float = 0.0
    workspace_goals: float = 0.25  # share of goals from WORKSPACE_GOALS
    fault_rate: float = 0.20
    slow_ms: float = 3000.0
    latency_ms: float = 500.0
    retry_after_s: float = 1.0
    tool_fault_rate: float = 0.05
    kill_every: tuple[float, float] = (20.0, 40.0)
    downtime_s: float = 0.0
    server_restart_at: float | None = 0.4  # share of goals done; None: no server restart
    seed: int = 424
    timeout_s: float | None = None
    # Environment for the worker processes: the what-if knobs of bench/_chaos_worker.py.
    worker_env: dict[str, str] = field(default_factory=dict)

    @property
    def deadline_s(self) -> float:
        return self.timeout_s if self.timeout_s is not None else 900.0 + 6.0 * self.tasks


def parse_range(text: str) -> tuple[float, float]:
    lo, sep, hi = text.partition("-")
    a, b = float(lo), float(hi if sep else lo)
    if a <= 0 or b < a:
        raise argparse.ArgumentTypeError(f"expected LO-HI seconds with 0 < LO <= HI, got {text!r}")
    return a, b


@contextlib.contextmanager
def local_zone(name: str) -> Iterator[None]:
    """Run with TZ=name in this process (time.tzset) and every subprocess it starts."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


# --- faults -------------------------------------------------------------------------------


class ChaosFaults:
    """The simulator's fault source for chaos: scripted faults first (the simulator's own
    queue), then 429-with-retry-after / 529 / 500 / slow, each at rate/4, seeded."""

    KINDS = ("429", "529", "500", "slow")

    def __init__(self, inner: Faults, rate: float, slow_ms: float, seed: int) -> None:
        self._inner = inner
        self._rate = rate
        self._slow_ms = slow_ms
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    def next(self) -> Fault | None:
        scripted = self._inner.next()
        if scripted is not None:
            return scripted
        with self._lock:
            draw = self._rng.random()
            if draw >= self._rate:
                return None
            kind = self.KINDS[min(int(draw / (self._rate / 4)), 3)]
            self.injected[kind] += 1
        if kind == "slow":
            return Fault(latency_ms=self._slow_ms)
        return Fault(status=int(kind))

    def retry_after_for(self, fault: Fault) -> float | None:
        return self._inner.retry_after_for(fault)

    def enqueue(self, faults: list[Any]) -> int:
        return self._inner.enqueue(faults)

    def queued(self) -> int:
        return self._inner.queued()

    def reset(self) -> None:
        self._inner.reset()


# --- goals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Goal:
    index: int
    task_id: str
    text: str
    workspace: str
    impossible: bool
    tier: str
    category: str
    kind: str = "catalog"  # or "workspace": one of WORKSPACE_GOALS

    def submit(self) -> FleetSubmit:
        return FleetSubmit(
            goal=self.text,
            task_id=self.task_id,
            workspace=self.workspace,
            model=IMPOSSIBLE_MODEL if self.impossible else None,
        )


def plan_goals(
    n: int, impossible: float, seed: int, run: str, workspace_share: float = 0.25
) -> list[Goal]:
    """`n` goals: the catalog (tests/data/tasks.jsonl) shuffled and cycled, a share of them
    replaced by WORKSPACE_GOALS, a share (any kind) made impossible; all seeded."""
    rows = [json.loads(line) for line in TASKS_FILE.read_text().splitlines() if line.strip()]
    rng = random.Random(seed)
    picked: list[dict[str, Any]] = []
    while len(picked) < n:
        batch = list(rows)
        rng.shuffle(batch)
        picked += batch
    picked = picked[:n]
    on_files = set(rng.sample(range(n), round(n * workspace_share)))
    k = round(n * impossible)
    bad = set(rng.sample(range(n), k)) if k else set()
    goals = []
    for i, row in enumerate(picked):
        ws = i in on_files
        goals.append(
            Goal(
                index=i,
                task_id=f"{run}-{i:04d}",
                text=WORKSPACE_GOALS[i % len(WORKSPACE_GOALS)] if ws else str(row["task"]),
                workspace=f"ws-{i:04d}",
                impossible=i in bad,
                tier="" if ws else str(row.get("ideal_tier", "")),
                category="workspace" if ws else str(row.get("category", "")),
                kind="workspace" if ws else "catalog",
            )
        )
    return goals


def workspace_problems(root: Path) -> list[str]:
    """Effects applied twice (or lost) in a workspace a WORKSPACE_GOALS goal completed in:
    every seeded file once, no file name twice, an index naming each document once."""
    problems: list[str] = []
    files = [
        p
        for p in root.rglob("*")
        if p.is_file() and not (p.name.startswith(".") and p.name.endswith(".tmp"))
    ]
    names = Counter(p.name for p in files)
    for name, k in names.items():
        if k > 1:
            problems.append(f"{root.name}: {name} exists {k} times")
    for rel in DEMO_FILES:
        if names[Path(rel).name] == 0:
            problems.append(f"{root.name}: {rel} is gone")
    index = root / "docs" / "INDEX.md"
    if index.exists():
        text = index.read_text()
        for doc in ("guide.md", "faq.md"):
            if text.count(doc) != 1:
                problems.append(f"{root.name}: docs/INDEX.md names {doc} {text.count(doc)} times")
    return problems


# --- results ------------------------------------------------------------------------------


@dataclass
class Restart:
    index: int
    killed_at: float
    started_at: float
    built_at: float | None = None
    in_flight: int = 0
    recovery_s: float | None = None  # process start -> first progress of an in-flight task
    all_resumed_s: float | None = None  # process start -> every in-flight run progressed
    near_server_restart: bool = False


@dataclass
class TaskOutcome:
    goal: Goal
    terminal: bool
    status: str  # the master's own verdict (ledger) or its execution status
    reason: str | None = None
    latency_s: float | None = None  # master start -> close
    e2e_s: float | None = None  # submitted -> close


@dataclass
class ChaosReport:
    config: ChaosConfig
    seconds: float
    outcomes: list[TaskOutcome]
    restarts: list[Restart]
    server_restarts: list[float]
    duplicates: dict[str, list[str]]
    audit_kinds: dict[str, int]
    audit_examples: list[str]
    audit_weeks: list[str]
    faults_injected: dict[str, int]
    tool_faults: int
    sim_stats: dict[str, Any]
    fleet_stats: dict[str, Any] | None
    workdir: str
    tool_effects: int = 0
    tool_calls: int = 0
    errors: list[str] = field(default_factory=list)

    # --- figures ---

    @property
    def possible(self) -> list[TaskOutcome]:
        return [o for o in self.outcomes if not o.goal.impossible]

    @property
    def impossible(self) -> list[TaskOutcome]:
        return [o for o in self.outcomes if o.goal.impossible]

    @property
    def terminal_share(self) -> float:
        n = len(self.outcomes)
        return sum(o.terminal for o in self.outcomes) / n if n else 0.0

    @property
    def completed_share(self) -> float:
        pos = self.possible
        return sum(o.status == "completed" for o in pos) / len(pos) if pos else 1.0

    @property
    def impossible_failed_clearly(self) -> int:
        return sum(
            1
            for o in self.impossible
            if o.terminal and o.status != "completed" and o.reason and "404" in o.reason
        )

    @property
    def duplicate_count(self) -> int:
        return sum(len(v) for v in self.duplicates.values())

    @property
    def black_holes(self) -> int:
        return sum(n for k, n in self.audit_kinds.items() if k in BLACK_HOLE_KINDS)

    @property
    def recoveries(self) -> list[float]:
        return [r.recovery_s for r in self.restarts if r.recovery_s is not None]

    @property
    def recovery_median(self) -> float | None:
        return median(self.recoveries)

    def targets(self) -> dict[str, dict[str, Any]]:
        rec = self.recovery_median
        return {
            "terminal": {
                "value": round(self.terminal_share, 4),
                "target": "100%",
                "met": self.terminal_share >= TARGET_TERMINAL,
            },
            "completed_excl_impossible": {
                "value": round(self.completed_share, 4),
                "target": f">= {TARGET_COMPLETED:.0%}",
                "met": self.completed_share >= TARGET_COMPLETED,
            },
            "impossible_failed_with_reason": {
                "value": [self.impossible_failed_clearly, len(self.impossible)],
                "target": "all",
                "met": self.impossible_failed_clearly == len(self.impossible),
            },
            "duplicates": {
                "value": self.duplicate_count,
                "target": 0,
                "met": not self.duplicate_count,
            },
            "black_holes": {"value": self.black_holes, "target": 0, "met": not self.black_holes},
            "median_recovery_s": {
                "value": None if rec is None else round(rec, 3),
                "target": f"<= {TARGET_RECOVERY_S} s",
                "met": rec is not None and rec <= TARGET_RECOVERY_S,
            },
        }

    def failure_reasons(self) -> Counter[str]:
        return Counter(
            _normalize(o.reason or o.status) for o in self.outcomes if o.status != "completed"
        )

    def summary(self) -> dict[str, Any]:
        lat = [o.latency_s for o in self.outcomes if o.latency_s is not None]
        e2e = [o.e2e_s for o in self.outcomes if o.e2e_s is not None]
        statuses = Counter(o.status for o in self.outcomes)
        targets = self.targets()
        return {
            "bench": "chaos_week",
            "tasks": len(self.outcomes),
            "impossible": len(self.impossible),
            "seconds": round(self.seconds, 1),
            "terminal": sum(o.terminal for o in self.outcomes),
            "completed": statuses.get("completed", 0),
            "statuses": dict(statuses),
            "failure_reasons": dict(self.failure_reasons().most_common(10)),
            "duplicates": {k: len(v) for k, v in self.duplicates.items()},
            "audit": self.audit_kinds,
            "audit_weeks": self.audit_weeks,
            "black_holes": self.black_holes,
            "latency_p50_s": _r(percentile(lat, 50)),
            "latency_p95_s": _r(percentile(lat, 95)),
            "e2e_p50_s": _r(percentile(e2e, 50)),
            "e2e_p95_s": _r(percentile(e2e, 95)),
            "worker_restarts": len(self.restarts),
            "server_restarts": len(self.server_restarts),
            "recovery_s": [_r(r.recovery_s) for r in self.restarts],
            "recovery_median_s": _r(self.recovery_median),
            "recovery_p95_s": _r(percentile(self.recoveries, 95)),
            "startup_median_s": _r(
                median(r.built_at - r.started_at for r in self.restarts if r.built_at is not None)
            ),
            "all_resumed_median_s": _r(
                median(r.all_resumed_s for r in self.restarts if r.all_resumed_s is not None)
            ),
            "llm_faults_injected": self.faults_injected,
            "tool_faults_injected": self.tool_faults,
            "tool_attempts": self.tool_calls + self.tool_faults,
            "tool_effects": self.tool_effects,
            "llm_requests": self.sim_stats.get("requests"),
            "fleet_stats": self.fleet_stats,
            "config": {
                **asdict(self.config),
                "kill_every": list(self.config.kill_every),
            },
            "targets": targets,
            "all_met": all(t["met"] for t in targets.values()),
            "errors": self.errors,
            "workdir": self.workdir,
        }


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


_IDS = re.compile(r"chaos-[0-9a-f]{6}-\d{4}(?:[./][\w.-]*)?|ws-\d{4}|req_sim_\w+")


def _normalize(reason: str) -> str:
    return _IDS.sub("<id>", reason.strip().splitlines()[0] if reason.strip() else reason)[:160]


# --- the run ------------------------------------------------------------------------------


class Chaos:
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

    # --- analysis ---

    async def list_runs(self, workflow_type: str) -> list[WorkflowExecution]:
        query = f"WorkflowType = '{workflow_type}' AND TaskQueue = '{self.settings.task_queue}'"
        return [w async for w in self.client.list_workflows(query, page_size=1000)]

    async def settled_runs(self) -> tuple[list[WorkflowExecution], list[WorkflowExecution]]:
        """Masters and sub-agents, once visibility shows no run of ours still running
        (it lags closes a little), or after 30 s."""
        deadline = time.time() + 30
        while True:
            masters = await self.list_runs("MasterAgentWorkflow")
            subs = await self.list_runs("SubAgentWorkflow")
            running = [w for w in (*masters, *subs) if w.status == WorkflowExecutionStatus.RUNNING]
            if not running or time.time() > deadline:
                return masters, subs
            await asyncio.sleep(1.0)

    def ledger_rows(self) -> list[LedgerRow]:
        ledger = Ledger.from_url(self.settings.ledger_url)
        try:
            with ledger.engine.connect() as conn:
                return [
                    LedgerRow.model_validate(dict(r))
                    for r in conn.execute(sa.select(tasks)).mappings()
                ]
        finally:
            ledger.dispose()

    def journal_duplicates(self) -> tuple[list[str], int]:
        """Scheduled tool calls (workflow, run, activity id) whose effect was applied more
        than once: two attempts that both changed the workspace (already_done False)."""
        applied: Counter[tuple[str, str, str]] = Counter()
        if self.journal.exists():
            for line in self.journal.read_text().splitlines():
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if doc.get("mutating") and not doc.get("fault") and not doc.get("already_done"):
                    applied[(doc["wf"], doc["run"], doc["act"])] += 1
        dups = [
            f"{wf} activity {act}: applied {n}x" for (wf, _r, act), n in applied.items() if n > 1
        ]
        return dups, sum(applied.values())

    def tool_faults(self) -> tuple[int, int]:
        """(tool attempts that returned, tool attempts failed by the injected fault)."""
        if not self.journal.exists():
            return 0, 0
        lines = self.journal.read_text().splitlines()
        faults = sum(1 for line in lines if '"fault":true' in line)
        return len(lines) - faults, faults

    async def analyse(
        self,
        client: Client,
        started: float,
        faults: ChaosFaults,
        sim_stats: dict[str, Any],
        fleet_stats: dict[str, Any] | None,
        seconds: float,
    ) -> ChaosReport:
        masters, subs = await self.settled_runs()
        rows = await asyncio.to_thread(self.ledger_rows)
        by_wid: dict[str, list[LedgerRow]] = defaultdict(list)
        for row in rows:
            by_wid[row.workflow_id].append(row)

        # Duplicates: one execution per task id and per sub-agent id (a continue-as-new
        # chain is one execution), one ledger row per run, one effect per tool call.
        def extra_runs(runs: list[WorkflowExecution]) -> list[str]:
            per: Counter[str] = Counter(
                w.id for w in runs if w.status != WorkflowExecutionStatus.CONTINUED_AS_NEW
            )
            return [f"{wid}: {n} executions" for wid, n in per.items() if n > 1]

        ledger_dups = [
            f"{wid}: {len(rs)} ledger rows"
            for wid, rs in by_wid.items()
            if len([r for r in rs if r.status != "continued_as_new"]) > 1
        ]
        tool_dups, effects = self.journal_duplicates()
        ws_problems: list[str] = []
        for g in self.goals:
            done = any(
                r.role == "master" and r.status == "completed" for r in by_wid.get(g.task_id, [])
            )
            if g.kind == "workspace" and done:
                ws_problems += await asyncio.to_thread(
                    workspace_problems, self.settings.workspaces / g.workspace
                )
        duplicates = {
            "masters_per_task_id": extra_runs(masters),
            "subagents_per_id": extra_runs(subs),
            "ledger_rows_per_workflow": ledger_dups,
            "tool_effects_applied_twice": tool_dups,
            "workspace_effects": ws_problems,
        }

        # Outcomes, per task id.
        master_runs: dict[str, list[WorkflowExecution]] = defaultdict(list)
        for w in masters:
            master_runs[w.id].append(w)
        children_rows: dict[str, list[LedgerRow]] = defaultdict(list)
        for row in rows:
            if row.role != "master" and row.root_id:
                children_rows[row.root_id].append(row)
        outcomes: list[TaskOutcome] = []
        for g in self.goals:
            runs = master_runs.get(g.task_id, [])
            closed = [w for w in runs if w.status != WorkflowExecutionStatus.RUNNING]
            mrow = next((r for r in by_wid.get(g.task_id, []) if r.role == "master"), None)
            terminal = bool(runs) and len(closed) == len(runs)
            status: str
            if mrow is not None and mrow.status != "running":
                status = mrow.status
            elif closed:
                status = closed[-1].status.name.lower() if closed[-1].status else "unknown"
            else:
                status = "running" if runs else "never_started"
            reason = None
            if status != "completed":
                reason = mrow.failure_reason if mrow is not None else None
                if not reason:
                    bad = [
                        c
                        for c in children_rows.get(g.task_id, [])
                        if c.status not in ("completed", "continued_as_new")
                    ]
                    reason = next((c.failure_reason for c in bad if c.failure_reason), None)
                    reason = reason or (f"a part ended {bad[0].status}" if bad else status)
            last = closed[-1] if closed else None
            close = epoch(last.close_time) if last is not None else None
            start = epoch(last.start_time) if last is not None else None
            outcomes.append(
                TaskOutcome(
                    goal=g,
                    terminal=terminal,
                    status=status,
                    reason=reason,
                    latency_s=None if close is None or start is None else close - start,
                    e2e_s=None
                    if close is None or g.task_id not in self.submitted_at
                    else close - self.submitted_at[g.task_id],
                )
            )

        await self.measure_recovery(client, masters, subs)
        kinds, examples, weeks = await self.audit(client, started)
        return ChaosReport(
            config=self.cfg,
            seconds=seconds,
            outcomes=outcomes,
            restarts=self.restarts,
            server_restarts=self.server_restarts,
            duplicates=duplicates,
            audit_kinds=kinds,
            audit_examples=examples,
            audit_weeks=weeks,
            faults_injected=dict(faults.injected),
            tool_faults=self.tool_faults()[1],
            tool_calls=self.tool_faults()[0],
            sim_stats=sim_stats,
            fleet_stats=fleet_stats,
            workdir=str(self.workdir),
            tool_effects=effects,
            errors=self.errors,
        )

    async def measure_recovery(
        self, client: Client, masters: list[WorkflowExecution], subs: list[WorkflowExecution]
    ) -> None:
        """For each worker restart: the runs of tasks in flight at the kill, and the first
        workflow task or activity a worker completed for any of them after the new process
        started (history event times, server clock)."""
        for bw in self.workers:
            built = bw.built_at()
            for r in self.restarts:
                if bw.started_at == r.started_at:
                    r.built_at = built
        runs = [*masters, *subs]
        cache: dict[tuple[str, str], list[float]] = {}
        gate = asyncio.Semaphore(8)

        async def times(w: WorkflowExecution) -> list[float]:
            key = (w.id, w.run_id)
            if key not in cache:
                async with gate:
                    history: WorkflowHistory = await fetch_history(client, w.id, w.run_id)
                cache[key] = progress_times(history)
            return cache[key]

        for r in self.restarts:
            r.near_server_restart = any(abs(s - r.killed_at) < 15 for s in self.server_restarts)
            in_flight = []
            for w in runs:
                start, close = epoch(w.start_time), epoch(w.close_time)
                if (
                    start is not None
                    and start < r.killed_at
                    and (close is None or close > r.killed_at)
                ):
                    in_flight.append(w)
            r.in_flight = len(in_flight)
            if not in_flight:
                continue
            firsts = [
                first_after(t, r.started_at)
                for t in await asyncio.gather(*(times(w) for w in in_flight))
            ]
            seen = [f for f in firsts if f is not None]
            if seen:
                r.recovery_s = min(seen) - r.started_at
                r.all_resumed_s = max(seen) - r.started_at

    async def audit(
        self, client: Client, started: float
    ) -> tuple[dict[str, int], list[str], list[str]]:
        from activities.audit import run_audit, write_audit

        first = datetime.fromtimestamp(started, UTC)
        last = datetime.now(UTC)
        weeks = sorted({week_of(first, TZ_NAME), week_of(last, TZ_NAME)})
        kinds: Counter[str] = Counter()
        examples: list[str] = []
        ledger = Ledger.from_url(self.settings.ledger_url)
        try:
            for week in weeks:
                result = await run_audit(
                    client,
                    ledger,
                    self.settings.home,
                    week,
                    TZ_NAME,
                    task_queue=self.settings.task_queue,
                )
                await asyncio.to_thread(write_audit, result, self.settings.home)
                for d in result.discrepancies:
                    kinds[d.kind] += 1
                    if len(examples) < 12:
                        examples.append(f"{d.kind} {d.workflow_id or ''}: {d.detail}"[:240])
        finally:
            ledger.dispose()
        return dict(kinds), examples, weeks


async def run_chaos(
    cfg: ChaosConfig, workdir: Path, say: Callable[[str], None] = print
) -> ChaosReport:
    """One chaos run in `workdir` (kept: logs, journal, databases), under TZ=America/Los_Angeles."""
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    with local_zone(TZ_NAME):
        return await Chaos(cfg, workdir, say).run()


# --- printing -----------------------------------------------------------------------------


def print_report(rep: ChaosReport) -> None:
    s = rep.summary()
    t = rep.targets()
    n = len(rep.outcomes)
    print()
    print(
        f"{n} goals ({len(rep.impossible)} impossible) in {rep.seconds:.0f} s; "
        f"{len(rep.restarts)} worker SIGKILLs, {len(rep.server_restarts)} server restart(s); "
        f"LLM faults {s['llm_faults_injected']} of {s['llm_requests']} calls; "
        f"tool attempts {rep.tool_calls + rep.tool_faults} ({rep.tool_faults} faulted, "
        f"{rep.tool_effects} changed a workspace)"
    )
    rows = [
        ("terminal", f"{s['terminal']}/{n}"),
        ("completed", f"{s['completed']}/{n}"),
        (
            "completed, impossible excluded",
            f"{sum(o.status == 'completed' for o in rep.possible)}/{len(rep.possible)} "
            f"({rep.completed_share:.1%})",
        ),
        (
            "impossible failed with reason",
            f"{rep.impossible_failed_clearly}/{len(rep.impossible)}",
        ),
        ("statuses", ", ".join(f"{k} {v}" for k, v in sorted(s["statuses"].items()))),
        ("duplicates", ", ".join(f"{k} {v}" for k, v in s["duplicates"].items())),
        (
            "audit findings",
            ", ".join(f"{k} {v}" for k, v in sorted(rep.audit_kinds.items())) or "none",
        ),
        ("black holes", str(rep.black_holes)),
        ("task latency p50 / p95", f"{fmt_s(s['latency_p50_s'])} / {fmt_s(s['latency_p95_s'])}"),
        ("submit->close p50 / p95", f"{fmt_s(s['e2e_p50_s'])} / {fmt_s(s['e2e_p95_s'])}"),
        (
            "recovery median / p95",
            f"{fmt_s(s['recovery_median_s'])} / {fmt_s(s['recovery_p95_s'])} "
            f"(startup to polling median {fmt_s(s['startup_median_s'])}; every in-flight run "
            f"resumed, median {fmt_s(s['all_resumed_median_s'])})",
        ),
    ]
    for label, value in rows:
        print(f"{label:<32}{value}")
    reasons = rep.failure_reasons()
    if reasons:
        print("not completed, by reason:")
        for reason, k in reasons.most_common(10):
            print(f"  {k:>4}  {reason}")
    for kind, items in rep.duplicates.items():
        for item in items[:5]:
            print(f"  duplicate ({kind}): {item}")
    for line in rep.audit_examples:
        print(f"  audit: {line}")
    print("worker restarts (s after process start):")
    print(f"  {'#':>3} {'in flight':>9} {'polling':>8} {'recovery':>9} {'all resumed':>11}")
    for r in rep.restarts:
        built = None if r.built_at is None else r.built_at - r.started_at
        print(
            f"  {r.index:>3} {r.in_flight:>9} {fmt_s(built):>8} {fmt_s(r.recovery_s):>9} "
            f"{fmt_s(r.all_resumed_s):>11}"
            + ("  (server restart nearby)" if r.near_server_restart else "")
        )
    for e in rep.errors:
        print(f"  error: {e}")
    print()
    labels = {
        "terminal": "terminal",
        "completed_excl_impossible": "completed (impossible excluded)",
        "impossible_failed_with_reason": "impossible goals failed with a reason",
        "duplicates": "duplicates",
        "black_holes": "black holes (audit)",
        "median_recovery_s": "median recovery",
    }
    for key, label in labels.items():
        print(f"{label}: {t[key]['value']} (target {t[key]['target']})  {verdict(t[key]['met'])}")
    missed = [k for k, v in t.items() if not v["met"]]
    if missed:
        print(f"MISSED: {', '.join(missed)}")


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
    args = parser.parse_args(args_list)
    worker_env = {}
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
        rep = asyncio.run(run_chaos(cfg, workdir, lambda m: print(m, flush=True)))
        print_report(rep)
        print(json.dumps(rep.summary()))
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
