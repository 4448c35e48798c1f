"""The weekly audit: reconcile three independent records of the same runs.

* Temporal visibility: what really ran, and when it closed;
* the task ledger: what the report counts;
* the telemetry span file: what the traces show.

Each disagreement is named with a `DiscrepancyKind`. The system this replaces
stamped completions with naive local time, so timestamps get the closest
look: a ledger instant a whole zone offset away from visibility's is a local
wall time stored as UTC, and a stored value in a shape the ledger never
writes was put there by something else.

Everything here is pure: `activities/audit.py` gathers the inputs (Temporal,
SQL, the span file) and hands them to `reconcile`.

The pieces, by concern:

* `scope`: `AuditWindow`, which runs are in it, what to fetch by key;
* `queries`: the visibility queries for the window;
* `sources`: stored ledger timestamps and the span file, as read;
* `timestamps`: ledger times against visibility's, and their wording;
* `completion`: a `completed` row without a passing completion check;
* `reconciliation`: `reconcile` itself.

Inline work (role `inline`) has a ledger row but no workflow of its own, so
it is never looked for in visibility; its completion claim is checked like
any other.
"""

from __future__ import annotations

from agentfleet.audit.completion import unverified_completion
from agentfleet.audit.queries import closed_query, running_query
from agentfleet.audit.reconciliation import CONTINUED as CONTINUED
from agentfleet.audit.reconciliation import DEFAULT_RUNNING_LIMIT as DEFAULT_RUNNING_LIMIT
from agentfleet.audit.reconciliation import DEFAULT_TOLERANCE as DEFAULT_TOLERANCE
from agentfleet.audit.reconciliation import TERMINAL as TERMINAL
from agentfleet.audit.reconciliation import reconcile
from agentfleet.audit.scope import (
    AuditWindow,
    Lookups,
    inline_id,
    is_inline,
    lookups_needed,
    stale_running,
)
from agentfleet.audit.scope import Key as Key
from agentfleet.audit.sources import (
    SPAN_PREFIX,
    TRACES_FILE,
    parse_stored_check,
    parse_stored_timestamp,
    spans_from_lines,
    spans_path,
)
from agentfleet.audit.timestamps import zone_offset_like

__all__ = [
    "SPAN_PREFIX",
    "TRACES_FILE",
    "AuditWindow",
    "Lookups",
    "closed_query",
    "inline_id",
    "is_inline",
    "lookups_needed",
    "parse_stored_check",
    "parse_stored_timestamp",
    "reconcile",
    "running_query",
    "spans_from_lines",
    "spans_path",
    "stale_running",
    "unverified_completion",
    "zone_offset_like",
]
