"""How long each run open at a worker's kill waited for a worker once the new one started.

Issue #18 asks that every in-flight run move again within 3 s of a crash. A run can only be
moved by a worker when it has work a worker can take: a workflow task, or an activity
attempt. So each piece of work in a run's history gets two times:

* **due**: when a worker could first have taken it. A workflow task is due when it was
  scheduled; a task that timed out and was scheduled again (the dead worker held it, or it
  sat on the dead worker's sticky queue) keeps the due time of the first. An activity's
  first attempt is due when it was scheduled; a later attempt when the attempt before it
  failed plus its retry delay (the API's retry-after, or the retry policy's backoff), or,
  when the attempt before it ran on the dead worker and never ended, at the kill.
* **moved**: when a worker took it. A workflow task when a worker completed it (the run's
  state moved on); an activity attempt when a worker started it.

For a run, the work it was owed at the restart (due by then, not yet taken) is what the
crash held up: the run moved again when the last of it was taken, counted from the new
process's start. A run owed nothing at the restart was waiting on its own work (a child, a
timer, a retry backoff, an answer); its wait is from when its next piece of work fell due
to when a worker took it. That is the crash's share either way, which is what the levers
of #18 (task timeouts, sticky queue, heartbeats, start-up) can shorten. How soon a run's
*own* work comes back (a child finishing its conversation) is the goal's pace, reported
beside it by `bench.chaos_week` as "next step of every open run".

Histories show only an activity's last attempt, so the chaos worker logs every attempt's
start and end (`AGENTFLEET_CHAOS_ATTEMPTS`, bench/_chaos_worker.py); `read_attempts` reads
that log back.

Not a benchmark itself: the runner skips modules whose name starts with "_".
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from bench._common import event_seconds


@dataclass
class Attempt:
    """One activity attempt as the worker that ran it logged it (epoch seconds)."""

    act: str
    attempt: int
    started: float
    ended: float | None = None
    retry_in: float | None = None  # the delay the failure asked for, if it asked


@dataclass(frozen=True)
class Work:
    """One piece of a run's work: when a worker could take it, and when one did."""

    due: float
    moved: float
    what: str


@dataclass(frozen=True)
class Wait:
    """How long a run waited for a worker after the restart, and on what."""

    seconds: float
    what: str
    owed: bool  # its work was due at the restart (else: it fell due later)


Attempts = dict[tuple[str, str], list[Attempt]]


def read_attempts(path: Path) -> Attempts:
    """The attempt log, per (workflow id, run id); a killed worker's cut line is skipped."""
    found: dict[tuple[str, str, str, int], Attempt] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                doc = json.loads(line)
                key = (doc["wf"], doc["run"], doc["act"], int(doc["attempt"]))
            except (ValueError, KeyError, TypeError):
                continue
            if "t0" in doc:
                found[key] = Attempt(key[2], key[3], float(doc["t0"]))
            elif key in found and "t1" in doc:
                found[key].ended = float(doc["t1"])
                found[key].retry_in = doc.get("retry_in")
    per_run: Attempts = defaultdict(list)
    for (wf, run, _a, _n), attempt in sorted(found.items()):
        per_run[(wf, run)].append(attempt)
    return per_run


def _task_work(history: WorkflowHistory) -> list[Work]:
    """Workflow tasks, a timed-out task and its reschedules counted as one piece of work."""
    work: list[Work] = []
    due: float | None = None
    for e in history.events:
        # A task that timed out or failed is scheduled again: the same work, due since the
        # first schedule, so a later schedule leaves `due` as it is.
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED and due is None:
            due = event_seconds(e)
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and due is not None:
            work.append(Work(due, event_seconds(e), "workflow task"))
            due = None
    return work


def _backoff(policy: Any, failed_attempt: int) -> float:
    """The retry policy's wait after attempt `failed_attempt` failed (no retry-after)."""
    initial = policy.initial_interval.ToTimedelta().total_seconds() or 1.0
    coefficient = policy.backoff_coefficient or 2.0
    wait = initial * coefficient ** (failed_attempt - 1)
    cap = policy.maximum_interval.ToTimedelta().total_seconds()
    return min(wait, cap) if cap else wait


def _activity_work(history: WorkflowHistory, attempts: list[Attempt], killed: float) -> list[Work]:
    """Every logged attempt of the run's activities, each with when it fell due."""
    by_act: dict[str, list[Attempt]] = defaultdict(list)
    for a in attempts:
        by_act[a.act].append(a)
    work: list[Work] = []
    for e in history.events:
        if e.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            continue
        attrs = e.activity_task_scheduled_event_attributes
        name = attrs.activity_type.name
        before: Attempt | None = None
        for a in sorted(by_act.get(attrs.activity_id, []), key=lambda x: x.attempt):
            if before is None:
                due = event_seconds(e)
            elif before.ended is not None:
                wait = before.retry_in
                if wait is None:
                    wait = _backoff(attrs.retry_policy, before.attempt)
                due = before.ended + wait
            elif before.started <= killed:
                due = killed  # it ran on the dead worker: held until a timeout said so
            else:
                before = a
                continue  # it hung on a live worker: when it fell due again is not known
            work.append(Work(due, a.started, f"{name} attempt {a.attempt}"))
            before = a
    return work


def run_work(history: WorkflowHistory, attempts: list[Attempt], killed: float) -> list[Work]:
    """A run's workflow tasks and activity attempts, each with its due and moved times."""
    return _task_work(history) + _activity_work(history, attempts, killed)


def waited(work: list[Work], restarted: float, until: float | None = None) -> Wait | None:
    """How long the run waited for a worker after the restart, and on what.

    Work owed at the restart (due by then and not yet taken) counts from the restart to
    when the last of it was taken; with none owed, the run's next piece of work counts
    from when it fell due, if that was before `until` (the next kill: work due after it
    waits on that restart, and counts there). None: no more work for this restart.
    """
    owed = [w for w in work if w.due <= restarted <= w.moved]
    if owed:
        last = max(owed, key=lambda w: w.moved)
        return Wait(last.moved - restarted, f"{last.what}, owed at the restart", owed=True)
    later = [w for w in work if restarted < w.due and (until is None or w.due < until)]
    if not later:
        return None
    first = min(later, key=lambda w: w.due)
    # A due time estimated from a logged end can run a little past the server's own.
    late = max(0.0, first.moved - first.due)
    return Wait(late, f"{first.what}, due at +{first.due - restarted:.1f} s", owed=False)
