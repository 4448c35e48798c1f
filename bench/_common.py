"""Shared pieces of the chaos, overhead, recovery and SQLite benchmarks.

* `BenchWorker`: a worker subprocess (`bench/_chaos_worker.py`), started as users start a
  worker and killed hard like a crashed host; its CPU time is read from /proc.
* `bench_settings`: Settings for a private stack (own home, own task queue, the simulator).
* small statistics (nearest-rank percentiles) and history helpers (first progress event).

Not a benchmark itself: the runner skips modules whose name starts with "_".
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from temporalio.api.enums.v1 import EventType, TimeoutType  # noqa: E402
from temporalio.client import Client, WorkflowHistory  # noqa: E402
from temporalio.service import RPCError  # noqa: E402

from agentfleet.config import Settings  # noqa: E402
from tests.procs import WorkerProcess  # noqa: E402

WORKER_SCRIPT = ROOT / "bench" / "_chaos_worker.py"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Events that mean a worker did something for a workflow: it completed a workflow task
# or an activity. Everything else in a history the server writes on its own.
PROGRESS_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    }
)


# --- statistics ---------------------------------------------------------------------------


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100): always a value that was really observed."""
    data = sorted(values)
    if not data:
        return None
    rank = max(1, math.ceil(q / 100 * len(data)))
    return data[min(rank, len(data)) - 1]


def median(values: Iterable[float]) -> float | None:
    data = list(values)
    return statistics.median(data) if data else None


def spread(values: Sequence[float]) -> str:
    """`median (min-max, n=k)` for a table cell."""
    if not values:
        return "-"
    m = statistics.median(values)
    return f"{m:.3f} ({min(values):.3f}-{max(values):.3f}, n={len(values)})"


def fmt_s(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f} s"


def verdict(met: bool) -> str:
    return "target met" if met else "MISSED  <<<<<<<<<<"


# --- processes ----------------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process (all its threads), from /proc/<pid>/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def bench_settings(home: Path, address: str, sim_url: str, prefix: str) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    (home / "workspaces").mkdir(exist_ok=True)
    return Settings(
        home=home,
        temporal_address=address,
        task_queue=f"{prefix}-{uuid.uuid4().hex[:8]}",
        ui_port=0,
        anthropic_api_key=None,
        anthropic_base_url=sim_url,
    )


class BenchWorker(WorkerProcess):
    """`python bench/_chaos_worker.py`: the project's worker, in its own process.

    `mode` "agentfleet" is `worker.run` with `worker.build_worker` (plus `extra` bench
    workflows, and transient tool faults at `tool_fault_rate`); "bare" is the plain
    Temporal worker of bench/_bare.py. The process appends `{"event": "built", "t": ...}`
    to `events` once its client is connected and its Worker built, just before it polls.
    """

    def __init__(
        self,
        settings: Settings,
        log: Path,
        *,
        mode: str = "agentfleet",
        tool_fault_rate: float = 0.0,
        seed: int = 0,
        journal: Path | None = None,
        events: Path | None = None,
        attempts: Path | None = None,
        extra: Sequence[str] = (),
        extra_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(settings, log, extra_env)
        self.mode = mode
        self.tool_fault_rate = tool_fault_rate
        self.seed = seed
        self.journal = journal
        self.events = events
        self.attempts = attempts
        self.extra = list(extra)

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(
            AGENTFLEET_BENCH_MODE=self.mode,
            AGENTFLEET_CHAOS_TOOL_FAULT_RATE=str(self.tool_fault_rate),
            AGENTFLEET_CHAOS_SEED=str(self.seed),
            AGENTFLEET_BENCH_EXTRA=",".join(self.extra),
        )
        if self.journal is not None:
            env["AGENTFLEET_CHAOS_JOURNAL"] = str(self.journal)
        if self.events is not None:
            env["AGENTFLEET_BENCH_EVENTS"] = str(self.events)
        if self.attempts is not None:
            env["AGENTFLEET_CHAOS_ATTEMPTS"] = str(self.attempts)
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        return [sys.executable, str(WORKER_SCRIPT)]

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        return proc_cpu_seconds(self.proc.pid)

    def built_at(self) -> float | None:
        """When this process had connected and built its Worker (wall clock), if it has."""
        if self.events is None or not self.events.exists() or self.proc is None:
            return None
        for line in self.events.read_text().splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if doc.get("pid") == self.proc.pid and doc.get("event") == "built":
                return float(doc["t"])
        return None

    def wait_built(self, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = self.built_at()
            if t is not None:
                return t
            if not self.alive():
                raise RuntimeError(f"worker exited with {self.proc and self.proc.returncode}")
            time.sleep(0.05)
        raise TimeoutError("the worker did not start polling in time")


# --- histories ------------------------------------------------------------------------------


async def fetch_history(client: Client, workflow_id: str, run_id: str | None) -> WorkflowHistory:
    return await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()


def event_seconds(event: Any) -> float:
    """A history event's time as epoch seconds (server clock; zone-free)."""
    return float(event.event_time.ToNanoseconds() / 1e9)


def progress_times(history: WorkflowHistory) -> list[float]:
    """When workers completed a workflow task or an activity of this run (epoch seconds,
    server clock; zone-free, so TZ cannot shift them), in order."""
    return [event_seconds(e) for e in history.events if e.event_type in PROGRESS_EVENTS]


def first_move(history: WorkflowHistory, restarted: float) -> tuple[float, str] | None:
    """When this run first moved at or after `restarted`, and what set it moving.

    A workflow task is named by the event that scheduled it (a child or an activity
    closing, a timer, a signal, the task itself redone); an activity by its type and
    attempt, and whether the attempt before it failed by a timeout (its worker died)
    or by an answer (a fault, waited out as a retry backoff). This tells a run the dead
    worker held from one that had nothing to do until its own work came back.
    """
    events = list(history.events)
    by_id = {e.event_id: e for e in events}
    for i, e in enumerate(events):
        if e.event_type not in PROGRESS_EVENTS or event_seconds(e) < restarted:
            continue
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            a = e.activity_task_completed_event_attributes
            started = by_id.get(a.started_event_id)
            sched = by_id.get(a.scheduled_event_id)
            name = (
                sched.activity_task_scheduled_event_attributes.activity_type.name if sched else "?"
            )
            if started is None:
                return event_seconds(e), f"activity {name}"
            sa = started.activity_task_started_event_attributes
            before = (
                ""
                if sa.attempt <= 1
                else ", after a timeout"
                if sa.last_failure.HasField("timeout_failure_info")
                else ", after a fault answer"
            )
            return event_seconds(e), f"activity {name} attempt {sa.attempt}{before}"
        return event_seconds(e), f"workflow task after {_trigger(events[:i], restarted)}"
    return None


_TRIGGERS = {
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED: "a child completed",
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: "a child failed",
    EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED: "a child started",
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "an activity completed",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "an activity failed",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "an activity timed out",
    EventType.EVENT_TYPE_TIMER_FIRED: "a timer fired",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "a signal",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "an update",
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT: "its task timed out",
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED: "its task failed",
}


def _trigger(before: Sequence[Any], restarted: float) -> str:
    """What the last workflow task before this point was scheduled for, and when."""
    for e in reversed(before):
        if e.event_type in _TRIGGERS:
            at = event_seconds(e) - restarted
            what = _TRIGGERS[e.event_type]
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
                kind = e.workflow_task_timed_out_event_attributes.timeout_type
                what += f" ({TimeoutType.Name(kind).removeprefix('TIMEOUT_TYPE_').lower()})"
            return f"{what} at {at:+.1f} s"
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            return "the run started"
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            # Nothing new came in since the last task: it went on with its own work
            # (a local activity's result, a workflow task heartbeat).
            return "its previous task"
    return "something else"


def first_after(times: Sequence[float], after: float) -> float | None:
    """The first of `times` at or after epoch second `after`."""
    for t in times:
        if t >= after:
            return t
    return None


def epoch(ts: datetime | None) -> float | None:
    """An aware datetime as epoch seconds (naive ones are refused: they are ambiguous)."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts.isoformat()}")
    return ts.timestamp()


async def quietly(coro: Any, default: Any = None) -> Any:
    """Await `coro`; an RPC failure (server restarting) gives `default`."""
    try:
        return await coro
    except RPCError:
        return default
