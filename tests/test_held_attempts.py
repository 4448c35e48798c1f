"""A worker's journal of the activity attempts it holds, and the successor that ends them.

The journal is checked on its own (what a successor reads after a crash at any line), then
end to end: a worker process SIGKILLed in the middle of an activity whose heartbeat timeout
is a minute, and a new worker process on the same home that gets the attempt retried at
once, which the server would otherwise do only after that minute.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.client import Client

from agentfleet.cli.devserver import DevServer
from agentfleet.held_attempts import JOURNAL, AttemptJournal, read_open
from tests.conftest import ARTIFACTS
from tests.held_workflows import HeldProbeWorkflow

ROOT = Path(__file__).resolve().parent.parent


def test_a_successor_finds_exactly_the_attempts_left_open(tmp_path: Path) -> None:
    first = AttemptJournal.claim(tmp_path)
    for token in (b"a" * 40, b"b" * 40, b"c" * 40):
        first.started(token)
    first.ended(b"b" * 40)
    first.ended(b"zz")  # never started here: nothing to cross off
    # A crash mid-write leaves a last line cut short; it names no attempt.
    journal = first.slot.path / JOURNAL
    with journal.open("ab") as f:
        f.write(b"+YWJj")
    first.slot.release()  # what the kernel does when the process dies

    second = AttemptJournal.claim(tmp_path)
    try:
        assert second.slot.path == first.slot.path
        assert second.orphans == [b"a" * 40, b"c" * 40]
        # Until they are ended, the orphans stay listed for whoever comes next.
        assert read_open(journal) == [b"a" * 40, b"c" * 40]
        second.ended(b"a" * 40)
        assert read_open(journal) == [b"c" * 40]
    finally:
        second.close()


def test_a_live_process_keeps_its_slot_and_the_journal_stays_small(tmp_path: Path) -> None:
    live = AttemptJournal(AttemptJournal.claim(tmp_path).slot, rotate_bytes=2_000)
    other = AttemptJournal.claim(tmp_path)
    try:
        assert other.slot.path != live.slot.path and other.orphans == []
        live.started(b"kept")
        for n in range(500):
            token = f"attempt-{n}".encode()
            live.started(token)
            live.ended(token)
        path = live.slot.path / JOURNAL
        assert path.stat().st_size < 2_500
        assert read_open(path) == [b"kept"] and live.held() == [b"kept"]
    finally:
        other.close()
        live.close()


async def _started_attempt(client: Client, workflow_id: str) -> None:
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(400):
        desc = await handle.describe()
        if any(
            a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            for a in desc.raw_description.pending_activities
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the activity of {workflow_id} never started")


def _worker(home: Path, devserver: DevServer, task_queue: str, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OTEL_"))}
    env.update(
        AGENTFLEET_HOME=str(home),
        TEMPORAL_ADDRESS=devserver.address,
        AGENTFLEET_TASK_QUEUE=task_queue,
        AGENTFLEET_VERSIONING="off",
        PYTHONUNBUFFERED="1",
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.held_workflows"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_a_restarted_worker_ends_the_dead_workers_attempt_at_once(
    client: Client, devserver: DevServer, tmp_path: Path
) -> None:
    task_queue = f"held-{uuid.uuid4().hex[:8]}"
    log = ARTIFACTS / f"worker-{task_queue}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    first = _worker(tmp_path, devserver, task_queue, log)
    second: subprocess.Popen | None = None
    try:
        handle = await client.start_workflow(
            HeldProbeWorkflow.run, "probe", id=f"{task_queue}-run", task_queue=task_queue
        )
        await _started_attempt(client, handle.id)
        first.kill()
        first.wait(10)
        second = _worker(tmp_path, devserver, task_queue, log)
        # The activity's heartbeat timeout and first retry interval are 60 s: well inside
        # them, only the successor ending the dead attempt can have the retry run.
        attempt = await asyncio.wait_for(handle.result(), timeout=30)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert attempt == 2
    history = await handle.fetch_history()
    started = [
        e.activity_task_started_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert len(started) == 1 and started[0].attempt == 2
    lost = started[0].last_failure
    assert lost.application_failure_info.type == "WorkerLost", json.dumps(str(lost))
    assert "ended 1 of 1 activity attempts held by the dead worker" in log.read_text()


def test_a_journal_that_cannot_be_written_never_fails_the_attempt(tmp_path: Path) -> None:
    journal = AttemptJournal.claim(tmp_path)
    os.close(journal._fd)
    # Every write now fails, as on a full disk or a volume gone read-only.
    journal._fd = os.open(os.devnull, os.O_RDONLY)
    try:
        journal.started(b"attempt")  # the activity goes on; the server's timeout covers it
        journal.ended(b"attempt")
        assert journal.held() == []
    finally:
        journal.close()
