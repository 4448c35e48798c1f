"""Chaos, CI-sized: 40 goals through the fleet while everything that can fail does.

The run is bench/chaos_week.py's own (`run_chaos`): its own dev server on a persisted
database (SIGKILLed and restarted once), the worker SIGKILLed and restarted every 5-10 s,
20% of LLM calls faulted (429 with retry-after, 529, 500, slow), 5% of file-tool attempts
failing transiently, TZ=America/Los_Angeles, and two goals made impossible (a model the
API 404s). Nothing may be lost and nothing may run twice. No timing is asserted: the
figures are printed for the log, and bench/chaos_week.py judges them. A failed run leaves
its logs, tool journal and databases in test-artifacts/chaos-ci-*.
"""

from __future__ import annotations

import json
import shutil
import uuid

import pytest

from bench.chaos_week import ChaosConfig, print_report, run_with_reference
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.slow

CI = ChaosConfig(
    tasks=40,
    concurrency=4,
    impossible=0.05,
    kill_every=(5.0, 10.0),
    # A hang guard, not a speed check (no timing is asserted): a kill every 5-10 s costs
    # each restart 1.5-5 s of recovery, and runs took 125-191 s on this 2-core machine.
    timeout_s=360.0,
)
# The calm reference run of the same goals comes first (bench.chaos_week.calm).


async def test_chaos_ci_every_goal_ends_once_and_only_the_impossible_fail() -> None:
    workdir = ARTIFACTS / f"chaos-ci-{uuid.uuid4().hex[:6]}"
    report = await run_with_reference(CI, workdir, say=lambda line: print(line, flush=True))
    print_report(report)
    print(json.dumps(report.summary()))

    assert not report.errors, report.errors
    # The chaos really happened.
    assert report.restarts, "the worker was never killed"
    assert len(report.server_restarts) == 1
    assert sum(report.faults_injected.values()) > 0

    # Zero loss: every goal reached a terminal state...
    stuck = [(o.goal.task_id, o.status) for o in report.outcomes if not o.terminal]
    assert not stuck, stuck
    # ...and chaos changed no outcome. `completed` is a checked fact now: a catalog goal
    # the simulator cannot do in an empty workspace ends `unverified` in the calm run
    # too, so each goal must end exactly as it did there;
    assert report.reference is not None and not report.reference.errors
    assert not report.changed_by_chaos, report.changed_by_chaos
    # the seeded file chores, which the simulator can do, completed;
    chores = [o for o in report.possible if o.goal.kind == "workspace"]
    assert chores and all(o.status == "completed" for o in chores), [
        (o.goal.task_id, o.status, o.reason) for o in chores
    ]
    # and no possible goal failed outright (`partial`: some parts unverified or skipped).
    failed = [
        (o.goal.task_id, o.goal.text[:60], o.status, o.reason)
        for o in report.possible
        if o.status not in ("completed", "unverified", "partial")
    ]
    assert not failed, failed
    # while the impossible ones failed, saying why.
    assert len(report.impossible) == 2
    for o in report.impossible:
        assert o.terminal and o.status != "completed", (o.goal.task_id, o.status)
        assert o.reason and "404" in o.reason, (o.goal.task_id, o.reason)

    # Zero duplicates: one master per task id, one execution per sub-agent id, one ledger
    # row per run, no tool effect applied twice, no file twice in a finished workspace.
    assert report.duplicate_count == 0, report.duplicates
    # And the audit finds no run that one record has and another lacks.
    assert report.black_holes == 0, (report.audit_kinds, report.audit_examples)
    # The fleet kept its history short, so a restarted worker's replay of it is short
    # (workflows/fleet.py, HISTORY_LIMIT): 40 goals take it past that limit, far below the
    # server's own suggestion (4K events), and it continued as new on its own.
    assert report.fleet_stats is not None and report.fleet_stats["runs"] >= 2, report.fleet_stats
    # Logs, journal and databases are kept only when something failed.
    shutil.rmtree(workdir, ignore_errors=True)
