"""bench/_waits.py: how long a run open at a worker's kill waited for a worker afterwards.

Issue #18's figure is read from histories and the chaos worker's attempt log; these
histories are built by hand so each case says exactly what happened when.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from temporalio.api.common.v1 import ActivityType, RetryPolicy
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import (
    ActivityTaskScheduledEventAttributes,
    HistoryEvent,
)
from temporalio.client import WorkflowHistory

from bench._waits import Attempt, read_attempts, run_work, waited

KILLED = 1_000.0
RESTARTED = 1_000.2  # the new process started; it polls about a second later

E = EventType


def _at(t: float) -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(round(t * 1e9))
    return ts


def history(*events: tuple[float, int] | HistoryEvent) -> WorkflowHistory:
    built = []
    for i, e in enumerate(events, start=1):
        if isinstance(e, HistoryEvent):
            e.event_id = i
            built.append(e)
        else:
            built.append(HistoryEvent(event_id=i, event_time=_at(e[0]), event_type=e[1]))
    return WorkflowHistory("wf", built)


def scheduled(t: float, act: str, name: str = "agentfleet.llm.chat") -> HistoryEvent:
    policy = RetryPolicy(
        initial_interval=Duration(nanos=200_000_000),
        backoff_coefficient=2.0,
        maximum_interval=Duration(seconds=60),
    )
    return HistoryEvent(
        event_time=_at(t),
        event_type=E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        activity_task_scheduled_event_attributes=ActivityTaskScheduledEventAttributes(
            activity_id=act, activity_type=ActivityType(name=name), retry_policy=policy
        ),
    )


def wait_of(h: WorkflowHistory, attempts: list[Attempt] | None = None) -> tuple[float, bool]:
    found = waited(run_work(h, attempts or [], KILLED), RESTARTED)
    assert found is not None
    return round(found.seconds, 3), found.owed


def test_a_task_the_dead_worker_held_counts_from_the_restart() -> None:
    h = history(
        (KILLED - 0.5, E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
        (KILLED - 0.4, E.EVENT_TYPE_WORKFLOW_TASK_STARTED),
        (KILLED + 1.6, E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT),
        (KILLED + 1.6, E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
        (RESTARTED + 1.4, E.EVENT_TYPE_WORKFLOW_TASK_STARTED),
        (RESTARTED + 1.5, E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
    )
    assert wait_of(h) == (1.5, True)


def test_a_run_waiting_on_its_child_counts_from_when_the_child_came_back() -> None:
    # Its child answered 12 s after the restart: the goal's pace, not the crash's. The
    # task that followed went to the dead worker's sticky queue first (1 s): the crash's.
    h = history(
        (KILLED - 3.0, E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
        (KILLED - 2.9, E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
        (RESTARTED + 12.0, E.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED),
        (RESTARTED + 12.0, E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
        (RESTARTED + 13.0, E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT),
        (RESTARTED + 13.0, E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
        (RESTARTED + 13.2, E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
    )
    assert wait_of(h) == (1.2, False)


def test_a_call_cut_by_the_kill_is_owed_until_its_new_attempt_starts() -> None:
    h = history(scheduled(KILLED - 1.0, "7"))
    attempts = [Attempt("7", 1, KILLED - 0.9), Attempt("7", 2, RESTARTED + 2.1)]
    assert wait_of(h, attempts) == (2.1, True)


def test_a_retry_backoff_running_past_the_restart_is_the_goals_own_wait() -> None:
    # A 529 asked for 4 s just before the kill: the next attempt fell due after the
    # restart and started as soon as it did.
    h = history(scheduled(KILLED - 2.0, "3"))
    attempts = [
        Attempt("3", 1, KILLED - 2.0, ended=KILLED - 1.9, retry_in=4.0),
        Attempt("3", 2, KILLED + 2.15),
    ]
    assert wait_of(h, attempts) == (0.05, False)


def test_without_a_retry_delay_the_policy_backoff_sets_when_a_retry_falls_due() -> None:
    h = history(scheduled(RESTARTED + 3.0, "4"))
    attempts = [
        Attempt("4", 1, RESTARTED + 3.0, ended=RESTARTED + 3.1),
        Attempt("4", 2, RESTARTED + 3.5),  # due at +3.3 (200 ms), started 0.2 s late
    ]
    assert wait_of(h, attempts) == (0.0, False)  # the first attempt, due at +3.0
    due = run_work(h, attempts, KILLED)
    assert [round(w.due - RESTARTED, 3) for w in due] == [3.0, 3.3]


def test_work_owed_at_the_restart_outweighs_a_later_quick_move() -> None:
    h = history(
        scheduled(KILLED - 1.0, "9"),
        (KILLED - 0.2, E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
        (RESTARTED + 1.1, E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
    )
    attempts = [Attempt("9", 1, KILLED - 0.9), Attempt("9", 2, RESTARTED + 2.6)]
    found = waited(run_work(h, attempts, KILLED), RESTARTED)
    assert found is not None
    assert (round(found.seconds, 3), found.owed) == (2.6, True)
    assert "attempt 2" in found.what


def test_work_due_after_the_next_kill_waits_on_the_next_restart() -> None:
    # Idle at this restart; its next task fell due 8 s later, just after the next kill,
    # and waited for the worker after that one: that restart's wait, not this one's.
    h = history(
        (KILLED - 3.0, E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
        (KILLED - 2.9, E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
        (RESTARTED + 8.0, E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
        (RESTARTED + 12.0, E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
    )
    work = run_work(h, [], KILLED)
    assert waited(work, RESTARTED, until=RESTARTED + 7.9) is None
    found = waited(work, RESTARTED, until=RESTARTED + 8.1)
    assert found is not None and round(found.seconds, 3) == 4.0


def test_a_run_with_nothing_more_for_a_worker_has_no_wait() -> None:
    h = history(
        (KILLED - 3.0, E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED),
        (KILLED - 2.9, E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED),
        (KILLED + 5.0, E.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED),
    )
    assert waited(run_work(h, [], KILLED), RESTARTED) is None


@pytest.mark.parametrize("cut", [True, False])
def test_the_attempt_log_pairs_starts_with_ends_and_skips_a_cut_line(
    tmp_path: Path, cut: bool
) -> None:
    key = {"wf": "m-1", "run": "r", "act": "5", "attempt": 1}
    lines = [
        json.dumps({**key, "t0": 10.0}),
        json.dumps({**key, "t1": 11.0, "ok": False, "retry_in": 2.0}),
        json.dumps({**key, "attempt": 2, "t0": 13.0}),
    ]
    text = "\n".join(lines) + ("\n" + '{"wf": "m-1", "ru' if cut else "\n")
    (tmp_path / "a.jsonl").write_text(text)
    got = read_attempts(tmp_path / "a.jsonl")
    assert got[("m-1", "r")] == [
        Attempt("5", 1, 10.0, ended=11.0, retry_in=2.0),
        Attempt("5", 2, 13.0),
    ]
