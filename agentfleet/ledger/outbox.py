"""Start rows posted by workflow code, written by the worker before it answers Temporal.

A start row was a local activity of its own: a marker in the agent's history and one
more activation of its workflow (bench/overhead.py), for a row that changes nothing the
workflow does. Now workflow code posts the row here, and the worker writes it when the
activation that posted it ends, before that activation's completion goes back to
Temporal: the way spans are made durable (agentfleet/telemetry/durable.py).

- Deterministic: posting adds no command and changes nothing the workflow reads.
- Replays write nothing: a replayed activation's row was written when it first ran.
  A workflow task that failed or timed out is run again as new, and its row is written
  then; the ledger's start write is an upsert, so a second write changes nothing.
- A write that fails is logged and retried in the background with backoff. If the
  worker dies before it lands, the close row brings every start field with it.
- Where nothing collects (a Replayer, a worker built without agentfleet's runner), a
  posted row is dropped; the close row still writes the whole row.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentfleet.contracts.ledger import LedgerStart

_collecting = threading.local()


def post(row: LedgerStart) -> None:
    """Hand a start row to the worker running this activation (called by workflow code)."""
    rows = getattr(_collecting, "rows", None)
    if rows is not None:
        rows.append(row)


@contextmanager
def collecting() -> Iterator[list[LedgerStart]]:
    """Collect the rows this thread posts until the block ends (one activation)."""
    rows: list[LedgerStart] = []
    _collecting.rows = rows
    try:
        yield rows
    finally:
        _collecting.rows = None
