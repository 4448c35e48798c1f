"""FleetWorkflow: a 24/7 queue of goals, each run by its own MasterAgentWorkflow.

Goals arrive through the `submit` update (validated, returns the task id) or
the fire-and-forget `submit_signal`. They start FIFO, at most `max_concurrent`
at a time, each as a child with the task id as its workflow id. A task id is
the idempotency key: a resubmitted id returns the same id and never starts a
second master.

Continue-as-new and re-attaching to in-flight masters
-----------------------------------------------------
A fleet lives forever, so it continues as new whenever the server suggests it.
The queue, the stats, the recently seen ids and the *in-flight* tasks go to the
next run. Masters are started with parent_close_policy ABANDON, so they keep
running while the fleet hands over. A new run cannot await a child started by
an earlier run (a child handle lives only in its parent run's history), and the
master cannot signal the fleet (it knows nothing about fleets), so the new run
re-attaches like this:

1. it starts the carried task again with the same id and id_reuse_policy
   REJECT_DUPLICATE. The server refuses (WorkflowAlreadyStarted) because the
   master exists, running or closed: nothing runs twice, and a task whose
   start had somehow never happened would simply start now;
2. on that refusal it awaits the existing master through the
   `agentfleet.fleet.await_master` activity, which waits for the result with
   the worker's client and heartbeats, so a killed worker's wait is retried on
   another worker after the heartbeat timeout.

The same refusal protects ids that fell out of the bounded `seen` window: a
resubmission older than the window is attached to, not re-run, for as long as
the namespace retains the old master.

Before continuing as new the run stops starting masters and waits until every
child start it initiated is confirmed, and until every message handler has
finished, so no start and no accepted update is left half done across runs.
Updates the server admitted but had not delivered are retried by the server
onto the new run.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.common import (
    Priority,
    RetryPolicy,
    SearchAttributeKey,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ChildWorkflowError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
    from temporalio.service import RPCError, RPCStatusCode

    from agentfleet.contracts.activities import AWAIT_MASTER_ACTIVITY
    from agentfleet.contracts.fleet import (
        AwaitMaster,
        FleetInput,
        FleetOutcome,
        FleetState,
        FleetStats,
        FleetStatus,
        FleetSubmit,
        FleetTask,
        OutcomeStatus,
    )
    from agentfleet.contracts.workflows import FLEET_WORKFLOW, MASTER_WORKFLOW
    from agentfleet.deploy.task_timeouts import AGENT_TASK_TIMEOUT, PATCH_TASK_TIMEOUTS

from workflows._agent import PRIORITY_PATCH
from workflows._calls import failure_message
from workflows._upgrade import continue_as_new_upgrading, newer_build_current

# Fleet runs from before it never continue-as-new because a new build is current.
UPGRADE_PATCH = "agentfleet-fleet-upgrade-at-can-1"

# After a worker crash the fleet's next task replays its whole history on the new
# worker, and every run the crash held waits behind that replay: at the server's own
# suggestion (4K events) a 150-goal chaos run's fleet had 1,518 events, which took
# 1.1-1.4 s of CPU to replay (bench/chaos_week.py, issue #18). Continuing as new at
# this length keeps the replay to a few tenths of a second; each continue-as-new
# re-attaches the masters in flight (`await_master`), so a run must also have seen a
# goal finish: re-attaching many masters can itself pass the limit, and a run that
# continued on that alone would never get further. Runs from before keep the server's
# suggestion alone.
SHORT_HISTORY_PATCH = "agentfleet-fleet-short-history-1"
HISTORY_LIMIT = 300

# Ids remembered for idempotency; older ones are still protected by the
# REJECT_DUPLICATE child start (see the module docstring). Bounded so the
# state carried across continue-as-new stays far below the payload limit.
SEEN_LIMIT = 5000
RECENT_LIMIT = 50

AGENT_ROLE = SearchAttributeKey.for_keyword("AgentRole")
ROOT_TASK_ID = SearchAttributeKey.for_keyword("RootTaskId")

# The wait can last as long as a master does; the heartbeat, not the
# start-to-close timeout, is what notices a dead worker. 2 s as the short activities
# (workflows/_calls.py): a master that ended while the worker was down is seen within
# seconds of the restart, not ten. A wait retried after a stalled beat is harmless.
AWAIT_HEARTBEAT = timedelta(seconds=2)
AWAIT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=0,
)

_PARTIAL = {"partial", "budget_exhausted", "skipped"}
# Temporal's priority key when none is set: the middle of 1 (most urgent) to 5.
DEFAULT_PRIORITY = 3


@activity.defn(name=AWAIT_MASTER_ACTIVITY)
async def await_master(req: AwaitMaster) -> FleetOutcome:
    """Wait for a master started by an earlier fleet run; report how it ended."""
    waiter = asyncio.ensure_future(_master_outcome(req.workflow_id))
    try:
        while True:
            done, _ = await asyncio.wait({waiter}, timeout=AWAIT_HEARTBEAT.total_seconds() / 4)
            if done:
                return waiter.result()
            activity.heartbeat()
    finally:
        waiter.cancel()


async def _master_outcome(workflow_id: str) -> FleetOutcome:
    handle = activity.client().get_workflow_handle(workflow_id)
    try:
        # No result type: any payload decodes, and only the status is kept.
        result: Any = await handle.result()
    except WorkflowFailureError as err:
        desc = await handle.describe()
        status: OutcomeStatus = "failed"
        if desc.status == WorkflowExecutionStatus.CANCELED:
            status = "canceled"
        elif desc.status == WorkflowExecutionStatus.TERMINATED:
            status = "terminated"
        elif desc.status == WorkflowExecutionStatus.TIMED_OUT:
            status = "timed_out"
        return FleetOutcome(
            task_id=workflow_id,
            status=status,
            error=failure_message(err.cause or err),
            closed_at=desc.close_time,
        )
    except RPCError as err:
        if err.status != RPCStatusCode.NOT_FOUND:
            raise
        return FleetOutcome(
            task_id=workflow_id,
            status="unknown",
            error="the master is gone (past the namespace's retention)",
        )
    desc = await handle.describe()
    return FleetOutcome(
        task_id=workflow_id, status=_result_status(result), closed_at=desc.close_time
    )


def _result_status(result: Any) -> OutcomeStatus:
    """A master's own verdict from its (undecoded) result: its tree's status."""
    tree = result.get("tree") if isinstance(result, dict) else None
    status = tree.get("status") if isinstance(tree, dict) else None
    if status in ("completed", "unverified") or status in _PARTIAL:
        return status
    return "completed" if status is None else "failed"


@workflow.defn(name=FLEET_WORKFLOW)
class FleetWorkflow:
    """The 24/7 orchestrator: a queue of goals, one master each, under a concurrency limit."""

    @workflow.init
    def __init__(self, inp: FleetInput) -> None:
        # Restored in __init__, not run(): updates and signals delivered in the
        # new run's first task must already see the carried queue and ids.
        self._max_concurrent = inp.max_concurrent
        self._queue: list[FleetTask] = list(inp.queue)
        # Carried masters count as in flight from the first moment, so a
        # resubmission of their id is seen as a duplicate before run() re-attaches.
        self._in_flight: dict[str, FleetTask] = {t.task_id: t for t in inp.in_flight}
        self._stats = inp.stats.model_copy()
        self._finished_before = inp.stats.finished
        self._seen: dict[str, None] = dict.fromkeys(inp.seen)
        self._recent: list[FleetOutcome] = list(inp.recent)
        self._next_seq = inp.next_seq
        self._paused = inp.paused
        self._draining = inp.draining
        self._starting = 0
        self._continuing = False
        self._moves_to_new_builds = False
        self._short_history = False
        self._tasks: set[asyncio.Task[None]] = set()

    # --- messages -------------------------------------------------------------

    @workflow.update(name="submit")
    def submit(self, req: FleetSubmit) -> str:
        """Queue a goal; returns its task id (the master's workflow id)."""
        return self._accept(req)

    @submit.validator
    def _validate_submit(self, req: FleetSubmit) -> None:
        problem = self._problem(req)
        if problem:
            raise ValueError(problem)

    @workflow.signal(name="submit_signal")
    def submit_signal(self, req: FleetSubmit) -> None:
        """Fire-and-forget submit: a bad goal is counted and logged, not raised."""
        problem = self._problem(req)
        if problem:
            self._stats.rejected += 1
            workflow.logger.warning("fleet: rejected a signalled goal: %s", problem)
            return
        self._accept(req)

    @workflow.signal(name="pause")
    def pause(self) -> None:
        """Start nothing new; masters already running go on."""
        self._paused = True

    @workflow.signal(name="resume")
    def resume(self) -> None:
        """Start queued goals again after a pause."""
        self._paused = False

    @workflow.signal(name="drain")
    def drain(self) -> None:
        """Take no new goals; finish every accepted one, then complete."""
        self._draining = True

    @workflow.query(name="status")
    def status(self) -> FleetStatus:
        """The fleet at a glance: its state, queue length, masters in flight and stats."""
        info = workflow.info()
        return FleetStatus(
            fleet_id=info.workflow_id,
            run_id=info.run_id,
            state=self._state(),
            max_concurrent=self._max_concurrent,
            queued=len(self._queue),
            in_flight=sorted(self._in_flight),
            stats=self._stats,
            recent=self._recent,
            history_length=info.get_current_history_length(),
        )

    @workflow.query(name="queue")
    def queue(self) -> list[FleetTask]:
        """The goals accepted and not started yet, in the order they will start."""
        return list(self._queue)

    @workflow.query(name="stats")
    def stats(self) -> FleetStats:
        """The fleet's counters, carried across continue-as-new."""
        return self._stats

    # --- the loop ------------------------------------------------------------

    @workflow.run
    async def run(self, inp: FleetInput) -> FleetStatus:
        """Start goals as slots free up, until drained; continue as new when Temporal suggests."""
        self._moves_to_new_builds = workflow.patched(UPGRADE_PATCH)
        self._short_history = workflow.patched(SHORT_HISTORY_PATCH)
        self._tag()
        for task in list(self._in_flight.values()):
            self._launch(task)
        while True:
            await workflow.wait_condition(
                lambda: self._drained() or self._can_start() or self._should_continue()
            )
            if self._drained():
                break
            if self._should_continue():
                self._continuing = True
                await workflow.wait_condition(
                    lambda: self._starting == 0 and workflow.all_handlers_finished()
                )
                self._stats.runs += 1
                continue_as_new_upgrading(self._carry())
            while self._can_start():
                self._launch(self._queue.pop(self._next_index()))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.status()

    def _next_index(self) -> int:
        """The next goal to start: the most urgent first, then the least-served key, then FIFO.

        Among goals of equal priority, the fairness key with the fewest masters
        running goes first, so one team's batch cannot hold every slot. Goals
        without priority or key are plain FIFO, as before.
        """
        running: dict[str | None, int] = {}
        for t in self._in_flight.values():
            running[t.input.fairness_key] = running.get(t.input.fairness_key, 0) + 1

        def rank(i: int) -> tuple[int, int, int]:
            inp = self._queue[i].input
            return (inp.priority or DEFAULT_PRIORITY, running.get(inp.fairness_key, 0), i)

        return min(range(len(self._queue)), key=rank)

    def _drained(self) -> bool:
        return self._draining and not self._queue and not self._in_flight

    def _can_start(self) -> bool:
        return (
            bool(self._queue)
            and not self._paused
            and not self._continuing
            and len(self._in_flight) < self._max_concurrent
        )

    def _should_continue(self) -> bool:
        info = workflow.info()
        if info.is_continue_as_new_suggested():
            return True
        if (
            self._short_history
            and info.get_current_history_length() >= HISTORY_LIMIT
            and self._stats.finished > self._finished_before
        ):
            return True
        # A new build is current: move to it (workflows/_upgrade.py).
        return self._moves_to_new_builds and newer_build_current()

    def _carry(self) -> FleetInput:
        return FleetInput(
            max_concurrent=self._max_concurrent,
            queue=self._queue,
            in_flight=list(self._in_flight.values()),
            stats=self._stats,
            seen=list(self._seen),
            recent=self._recent,
            next_seq=self._next_seq,
            paused=self._paused,
            draining=self._draining,
        )

    def _state(self) -> FleetState:
        if self._draining:
            return "drained" if self._drained() else "draining"
        return "paused" if self._paused else "running"

    def _tag(self) -> None:
        """Make the fleet findable as AgentRole='fleet' (kept across continue-as-new)."""
        current = workflow.info().typed_search_attributes
        if current.get(AGENT_ROLE) != "fleet":
            workflow.upsert_search_attributes(
                [
                    AGENT_ROLE.value_set("fleet"),
                    ROOT_TASK_ID.value_set(workflow.info().workflow_id),
                ]
            )

    # --- submissions ---------------------------------------------------------

    def _known(self, task_id: str) -> bool:
        return (
            task_id in self._seen
            or task_id in self._in_flight
            or any(t.task_id == task_id for t in self._queue)
        )

    def _problem(self, req: FleetSubmit) -> str | None:
        if req.task_id is not None and self._known(req.task_id):
            return None  # idempotent: answered with the same id, even while draining
        if self._draining:
            return "the fleet is draining and takes no new goals"
        try:
            req.master_input()
        except ValueError as err:
            return str(err)
        return None

    def _accept(self, req: FleetSubmit) -> str:
        if req.task_id is not None and self._known(req.task_id):
            self._stats.duplicates += 1
            return req.task_id
        task_id = req.task_id or self._new_id()
        self._queue.append(
            FleetTask(task_id=task_id, input=req.master_input(), submitted_at=workflow.now())
        )
        self._remember(task_id)
        self._stats.submitted += 1
        return task_id

    def _new_id(self) -> str:
        fleet_id = workflow.info().workflow_id
        while True:
            candidate = f"{fleet_id}-task-{self._next_seq}"
            self._next_seq += 1
            if not self._known(candidate):
                return candidate

    def _remember(self, task_id: str) -> None:
        self._seen[task_id] = None
        while len(self._seen) > SEEN_LIMIT:
            del self._seen[next(iter(self._seen))]

    # --- running masters -----------------------------------------------------

    def _launch(self, task: FleetTask) -> None:
        self._in_flight[task.task_id] = task
        self._starting += 1
        job = asyncio.create_task(self._drive(task))
        self._tasks.add(job)
        job.add_done_callback(self._tasks.discard)

    async def _drive(self, task: FleetTask) -> None:
        starting = True
        priority = Priority.default
        inp = task.input
        if (inp.priority is not None or inp.fairness_key is not None) and workflow.patched(
            PRIORITY_PATCH
        ):
            # The master and, by inheritance, its whole tree run at this priority.
            priority = Priority(priority_key=inp.priority, fairness_key=inp.fairness_key)
        try:
            try:
                handle = await workflow.start_child_workflow(
                    MASTER_WORKFLOW,
                    task.input,
                    id=task.task_id,
                    # Masters outlive a fleet run: the next run re-attaches.
                    parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                    # An id that ever ran is never run again (see the docstring).
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    static_summary=f"master (fleet) · {task.input.goal[:80]}",
                    priority=priority,
                    # A dead worker's task moves on after this, not after the default 10 s.
                    task_timeout=AGENT_TASK_TIMEOUT
                    if workflow.patched(PATCH_TASK_TIMEOUTS)
                    else None,
                )
            except WorkflowAlreadyStartedError:
                self._starting -= 1
                starting = False
                self._stats.reattached += 1
                outcome = await workflow.execute_activity(
                    AWAIT_MASTER_ACTIVITY,
                    AwaitMaster(workflow_id=task.task_id),
                    result_type=FleetOutcome,
                    start_to_close_timeout=timedelta(hours=6),
                    heartbeat_timeout=AWAIT_HEARTBEAT,
                    retry_policy=AWAIT_RETRY,
                    summary=f"await {task.task_id}",
                )
            else:
                self._starting -= 1
                starting = False
                self._stats.started += 1
                outcome = await self._result(task, handle)
        except Exception as err:  # noqa: BLE001 - one bad task must not stop the fleet
            if starting:
                self._starting -= 1
            outcome = FleetOutcome(
                task_id=task.task_id,
                status="failed",
                error=failure_message(err),
                closed_at=workflow.now(),
            )
        self._finish(task, outcome)

    async def _result(
        self, task: FleetTask, handle: workflow.ChildWorkflowHandle[Any, Any]
    ) -> FleetOutcome:
        try:
            result = await handle
        except ChildWorkflowError as err:
            return FleetOutcome(
                task_id=task.task_id,
                status="failed",
                error=failure_message(err),
                closed_at=workflow.now(),
            )
        return FleetOutcome(
            task_id=task.task_id, status=_result_status(result), closed_at=workflow.now()
        )

    def _finish(self, task: FleetTask, outcome: FleetOutcome) -> None:
        self._in_flight.pop(task.task_id, None)
        if outcome.status == "completed":
            self._stats.completed += 1
        elif outcome.status == "unverified":
            self._stats.unverified += 1
        elif outcome.status in _PARTIAL:
            self._stats.partial += 1
        else:
            self._stats.failed += 1
        self._recent = [*self._recent, outcome][-RECENT_LIMIT:]
