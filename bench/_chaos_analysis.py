"""After a chaos run: what visibility, the ledger, the histories and the tool journal say.

Split from bench/chaos_week.py so the run orchestration (`Chaos` there) stays readable:
`Chaos` inherits these methods, which only read what the run left behind (the attributes
declared on `ChaosAnalysis`) and turn it into a ChaosReport.

Not a benchmark itself: the runner skips modules whose name starts with "_".
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
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
    WorkflowHistory,
)

from agentfleet.config import Settings  # noqa: E402
from agentfleet.ledger.store import Ledger, LedgerRow, tasks  # noqa: E402
from agentfleet.reporting.weeks import week_of  # noqa: E402
from bench._chaos_plan import (  # noqa: E402
    TZ_NAME,
    ChaosConfig,
    ChaosFaults,
    Goal,
    workspace_problems,
)
from bench._chaos_report import LATE_S, ChaosReport, Restart, TaskOutcome  # noqa: E402
from bench._common import (  # noqa: E402
    BenchWorker,
    epoch,
    fetch_history,
    first_after,
    first_move,
    progress_times,
)
from bench._waits import read_attempts, run_work, waited  # noqa: E402


class ChaosAnalysis:
    """The analysis half of `bench.chaos_week.Chaos`: what the run must have set."""

    cfg: ChaosConfig
    workdir: Path
    goals: list[Goal]
    journal: Path
    attempts: Path
    restarts: list[Restart]
    server_restarts: list[float]
    submitted_at: dict[str, float]
    errors: list[str]
    workers: list[BenchWorker]
    settings: Settings
    client: Client

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
        # One read of the journal for both counts.
        tool_calls, tool_faults = self.tool_faults()
        return ChaosReport(
            # What the run itself kept: its settings, length, restarts and errors.
            config=self.cfg,
            seconds=seconds,
            workdir=str(self.workdir),
            restarts=self.restarts,
            server_restarts=self.server_restarts,
            errors=self.errors,
            # What the analysis found afterwards.
            outcomes=outcomes,
            duplicates=duplicates,
            audit_kinds=kinds,
            audit_examples=examples,
            audit_weeks=weeks,
            faults_injected=dict(faults.injected),
            tool_faults=tool_faults,
            tool_calls=tool_calls,
            sim_stats=sim_stats,
            fleet_stats=fleet_stats,
            tool_effects=effects,
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
        logged = await asyncio.to_thread(read_attempts, self.attempts)
        cache: dict[tuple[str, str], WorkflowHistory] = {}
        gate = asyncio.Semaphore(8)

        async def history_of(w: WorkflowExecution) -> WorkflowHistory:
            key = (w.id, w.run_id)
            if key not in cache:
                async with gate:
                    cache[key] = await fetch_history(client, w.id, w.run_id)
            return cache[key]

        async def times(w: WorkflowExecution) -> list[float]:
            return progress_times(await history_of(w))

        for i, r in enumerate(self.restarts):
            until = self.restarts[i + 1].killed_at if i + 1 < len(self.restarts) else None
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
                r.next_step_s = max(seen) - r.started_at
            await self._why_late(r, in_flight, history_of)
            histories = await asyncio.gather(*(history_of(w) for w in in_flight))
            waits = [
                (
                    waited(
                        run_work(h, logged.get((w.id, w.run_id or ""), []), r.killed_at),
                        r.started_at,
                        until,
                    ),
                    w,
                )
                for h, w in zip(histories, in_flight, strict=True)
            ]
            longest_first = sorted(
                ((wait, w) for wait, w in waits if wait is not None), key=lambda f: -f[0].seconds
            )
            described = [
                f"{w.id} ({w.workflow_type}): {wait.seconds:.2f} s, {wait.what}"
                for wait, w in longest_first
            ]
            r.owed = sum(1 for wait, _w in longest_first if wait.owed)
            r.waits = [wait.seconds for wait, _w in longest_first]
            r.late_waits = [d for d, s in zip(described, r.waits, strict=True) if s > LATE_S]
            if longest_first:
                r.all_resumed_s = r.waits[0]
                r.slowest_all = described[0]

    async def _why_late(
        self,
        r: Restart,
        in_flight: list[WorkflowExecution],
        history_of: Callable[[WorkflowExecution], Awaitable[WorkflowHistory]],
    ) -> None:
        """The runs whose next step came after LATE_S, tallied by what moved them."""
        moves = [
            first_move(h, r.started_at) for h in await asyncio.gather(*map(history_of, in_flight))
        ]
        late: Counter[str] = Counter()
        for w, move in zip(in_flight, moves, strict=True):
            if move is None:
                continue
            when, what = move
            kind = w.workflow_type or "?"
            if when - r.started_at > LATE_S:
                late[f"{kind}: {what}"] += 1
        r.late_causes = dict(late.most_common())

    async def audit(
        self, client: Client, started: float
    ) -> tuple[dict[str, int], list[str], list[str]]:
        from agentfleet.audit.run import run_audit, write_audit

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
