"""The worker's side of the start-row outbox (outbox.py): write, and retry what failed.

`start_row_runner` wraps the workflow runner: each activation collects the rows its
workflow code posts and hands them to a writer thread as it ends. The thread writes
them at once and retries a failed write with backoff until the ledger takes the row or
refuses it for good (an invalid record, logged and dropped).

Why a thread, and not a write before the activation's completion goes back: a database
that is slow or locked would hold the workflow task, and past two seconds the SDK calls
that a deadlock. The price is a window of a few milliseconds in which a worker that dies
has not written the row yet; the close row then brings every start field.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from typing import Any

from temporalio.worker import WorkflowRunner

from agentfleet.contracts.ledger import LedgerStart
from agentfleet.ledger.outbox import collecting
from agentfleet.ledger.store import REFUSED_FOR_GOOD, Ledger
from agentfleet.runner_wrap import Activate, ActivationHook

log = logging.getLogger(__name__)


class StartRowWriter:
    """Writes start rows now, and keeps retrying the ones that failed, in the background.

    `first_retry` and `max_retry` (seconds) bound the backoff, as the ledger activities'
    retry policy does (workflows/_calls.py, LEDGER_RETRY).
    """

    def __init__(self, ledger: Ledger, *, first_retry: float = 1.0, max_retry: float = 30.0):
        self._ledger = ledger
        self._first, self._max = first_retry, max_retry
        self._due: list[tuple[float, int, float, LedgerStart]] = []
        self._seq = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def write(self, rows: list[LedgerStart]) -> None:
        """Write these rows as soon as the thread can; a failure is retried later."""
        for row in rows:
            self._later(row, 0.0)

    def _try(self, row: LedgerStart) -> bool:
        """True once the row is done with: written, or refused for good."""
        try:
            self._ledger.record_start(row)
        except REFUSED_FOR_GOOD as err:
            log.error("ledger refused the start row of %s: %s", row.workflow_id, err)
        except Exception as err:  # noqa: BLE001 - any other failure is worth another try
            log.warning("start row of %s not written yet: %s", row.workflow_id, err)
            return False
        return True

    def _later(self, row: LedgerStart, delay: float) -> None:
        with self._cond:
            self._seq += 1
            heapq.heappush(self._due, (time.monotonic() + delay, self._seq, delay, row))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._retry_forever, name="ledger-start-retry", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _retry_forever(self) -> None:
        while True:
            with self._cond:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._cond.wait(self._due[0][0] - time.monotonic() if self._due else None)
                _, _, delay, row = heapq.heappop(self._due)
            if not self._try(row):
                self._later(row, min(max(delay * 2, self._first), self._max))


def start_row_runner(inner: WorkflowRunner, writer: StartRowWriter) -> ActivationHook:
    """`inner`, with the start rows each activation's code posts handed to `writer`."""

    def collect(activate: Activate, act: Any) -> Any:
        with collecting() as rows:
            completion = activate(act)
        if rows and not act.is_replaying:
            writer.write(rows)
        return completion

    return ActivationHook(inner, collect)
