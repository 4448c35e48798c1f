"""The activity attempts a worker process holds, kept where its successor can end them at once.

After a SIGKILL the server learns that a worker is gone only from timeouts: an attempt the
dead worker held is retried once its heartbeat timeout runs out, which the server notices up
to a second late (2.9 s after a silent attempt started, up to 3.7 s after a beating one's last
beat, with the 2 s heartbeat timeout of an LLM call). That was the floor of issue #18's
recovery figure. A worker restarted on the same home can know more than the server does.

Each worker process locks a slot, `<home>/workers/slot-<k>` (flock'ed as the spool's slots are:
the kernel drops the lock when the process dies, SIGKILL included), and journals there the task
token of every activity attempt it starts, crossing it off when the attempt ends. A process
that claims a free slot with attempts still listed is the successor of a dead one. As soon as
it has connected it fails each of them by its token (`WorkerLost`, retryable, to be retried
after 0.2 s whatever its attempt number), instead of the server waiting out the timeout.

A token names one attempt, so failing it can never touch a later attempt: the server answers
NotFound for an attempt that already timed out and was retried, or that completed after all
but was not yet crossed off when the worker died. Local activities have no token of their
own (they run inside a workflow task); the workflow task timeout covers them.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.plugin import SimplePlugin
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from agentfleet.telemetry.spool import Slot, claim_slot

log = logging.getLogger("agentfleet.worker")

WORKERS_DIR = "workers"
JOURNAL = "attempts.log"
# Past this size the journal is rewritten with only the attempts still open.
ROTATE_BYTES = 1 << 20
WORKER_LOST = "WorkerLost"
_FAIL_TIMEOUT = timedelta(seconds=5)
RETRY_AFTER_LOSS = timedelta(milliseconds=200)


def read_open(path: Path) -> list[bytes]:
    """The tokens a journal lists as started and not ended, in the order they started.

    A line cut short by the crash (the last one) is skipped: its attempt is left to the
    server's timeout, as it was before there was a journal.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    held: dict[bytes, None] = {}
    # Every line ends with a newline; what follows the last one was cut short.
    for line in data.split(b"\n")[:-1]:
        if len(line) < 2 or line[:1] not in (b"+", b"-"):
            continue
        try:
            token = base64.urlsafe_b64decode(line[1:])
        except ValueError:
            continue
        if line[:1] == b"+":
            held[token] = None
        else:
            held.pop(token, None)
    return list(held)


class AttemptJournal:
    """This process's open activity attempts, in its slot's journal.

    `orphans` are the attempts a dead predecessor left in the slot. They stay listed in
    the fresh journal until they are failed, so a successor that dies before it gets to
    them hands them on.
    """

    def __init__(self, slot: Slot, rotate_bytes: int = ROTATE_BYTES) -> None:
        self.slot = slot
        self._path = slot.path / JOURNAL
        self._rotate_bytes = rotate_bytes
        self._lock = threading.Lock()
        self.orphans = read_open(self._path)
        self._open: dict[bytes, None] = dict.fromkeys(self.orphans)
        self._fd = -1
        self._size = 0
        self._failing = False
        self._rewrite()

    @classmethod
    def claim(cls, home: Path) -> AttemptJournal:
        """The journal of the lowest worker slot of `home` that no live process holds."""
        return cls(claim_slot(home / WORKERS_DIR))

    def started(self, token: bytes) -> None:
        """An attempt this process now runs."""
        with self._lock:
            self._open[token] = None
            self._write(lambda: self._append(b"+", token))

    def ended(self, token: bytes) -> None:
        """An attempt that is over, one way or another: its successor must leave it be."""
        with self._lock:
            if self._open.pop(token, ()) is None:
                self._write(lambda: self._append(b"-", token))
                if self._size > self._rotate_bytes:
                    self._write(self._rewrite)

    def _write(self, step: Callable[[], None]) -> None:
        # A journal that cannot be written (a full disk) must not fail the activity it
        # records: an attempt it misses is left to the server's timeout, and one it fails
        # to cross off is answered NotFound when a successor tries to end it.
        try:
            step()
        except OSError as err:
            if not self._failing:
                log.warning("cannot write the journal of held attempts in %s: %s", self._path, err)
            self._failing = True
        else:
            self._failing = False

    def held(self) -> list[bytes]:
        """The attempts still open, orphans included."""
        with self._lock:
            return list(self._open)

    def close(self) -> None:
        """Stop journaling and give the slot up (after the worker drained)."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        self.slot.release()

    def _append(self, sign: bytes, token: bytes) -> None:
        # One write() of a whole line: a SIGKILL leaves whole lines (the page cache keeps
        # them), at worst a last line cut short, which `read_open` skips.
        line = sign + base64.urlsafe_b64encode(token) + b"\n"
        if self._fd >= 0:
            self._size += os.write(self._fd, line)

    def _rewrite(self) -> None:
        """Start the journal over from the attempts open now (atomically, by rename)."""
        tmp = self._path.with_name(JOURNAL + ".new")
        body = b"".join(b"+" + base64.urlsafe_b64encode(t) + b"\n" for t in self._open)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        try:
            os.write(fd, body)
            os.replace(tmp, self._path)
        except BaseException:
            os.close(fd)
            raise
        if self._fd >= 0:
            os.close(self._fd)
        self._fd, self._size = fd, len(body)


async def end_orphans(client: Client, journal: AttemptJournal) -> int:
    """Fail the attempts a dead predecessor held, so they are retried now; how many were."""
    if not journal.orphans:
        return 0
    error = ApplicationError(
        "the worker process running this attempt died; a restarted worker ended it",
        type=WORKER_LOST,
        # The worker died, not the call: retried at once, not after the policy's backoff
        # for its attempt number (3.2 s for a sixth LLM attempt, seen in the chaos bench).
        next_retry_delay=RETRY_AFTER_LOSS,
    )

    async def fail(token: bytes) -> bool:
        try:
            handle = client.get_async_activity_handle(task_token=token)
            await handle.fail(error, rpc_timeout=_FAIL_TIMEOUT)
        except RPCError as err:
            if err.status != RPCStatusCode.NOT_FOUND:
                # Left listed: the server's timeout still ends it.
                log.warning("could not end an attempt held by a dead worker: %s", err)
                return False
            journal.ended(token)  # already over: retried after its timeout, or completed
            return False
        except Exception as err:  # noqa: BLE001 - a start-up helper must not stop the worker
            log.warning("could not end an attempt held by a dead worker: %s", err)
            return False
        journal.ended(token)
        return True

    ended = sum(await asyncio.gather(*(fail(t) for t in journal.orphans)))
    log.info(
        "ended %d of %d activity attempts held by the dead worker of %s",
        ended,
        len(journal.orphans),
        journal.slot.path,
    )
    return ended


class _JournalInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, journal: AttemptJournal) -> None:
        super().__init__(next)
        self._journal = journal

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        if info.is_local:
            return await super().execute_activity(input)
        token = info.task_token
        self._journal.started(token)
        try:
            return await super().execute_activity(input)
        finally:
            self._journal.ended(token)


class _Journaling(Interceptor):
    def __init__(self, journal: AttemptJournal) -> None:
        self._journal = journal

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _JournalInbound(next, self._journal)


def journal_plugin(journal: AttemptJournal) -> SimplePlugin:
    """The client plugin that journals every activity attempt of the workers it builds."""
    return SimplePlugin("agentfleet.HeldAttempts", interceptors=[_Journaling(journal)])
