"""What a chaos run is asked to do: its configuration, its goals and its LLM faults.

Split from bench/chaos_week.py so the plan (seeded, deterministic, no stack needed) can be
read and changed apart from the run that carries it out. Also here: the small helpers the
plan's options need (`parse_range` for --kill-every, `local_zone` for the run's zone) and
the check of a completed file chore's workspace, which knows the seeded files.

Not a benchmark itself: the runner skips modules whose name starts with "_".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agentfleet.cli.demo import DEMO_FILES, DEMO_GOAL  # noqa: E402
from agentfleet.contracts.fleet import FleetSubmit  # noqa: E402
from agentfleet.sim.faults import Fault, Faults  # noqa: E402

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
