"""The audit window and which runs fall in it.

Split out of the audit so what counts as "this week" (for a running and for
a closed run) and what must be fetched by key before reconciling are defined
once, for both `lookups_needed` and `reconcile`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from agentfleet.contracts.reports import LedgerEntry, SpanRecord, VisibilityRecord


@dataclass(frozen=True)
class AuditWindow:
    """The audited ISO week: its UTC bounds, and the zone whose week it is."""

    week: str
    """The ISO week, `YYYY-Www`."""
    tz: str
    """The IANA zone whose Monday 00:00 starts the week."""
    start: datetime
    """The first instant in the window (aware UTC)."""
    end: datetime
    """The first instant after the window (aware UTC)."""

    def __contains__(self, ts: object) -> bool:
        return isinstance(ts, datetime) and self.start <= ts < self.end


Key = tuple[str, str]

# Inline work (issue #13) has a ledger row and spans but no workflow of its
# own: `<master-id>/inline-<n>`, so visibility can never list it.
_INLINE_ID = re.compile(r"/inline-\d+$")


def is_inline(entry: LedgerEntry) -> bool:
    """Inline work: a ledger row of its own, but no workflow that visibility could list."""
    return entry.role == "inline"


def inline_id(workflow_id: str) -> bool:
    """An agent id of inline work, for sources that carry no role (spans)."""
    return _INLINE_ID.search(workflow_id) is not None


def _ledger_in_scope(entry: LedgerEntry, window: AuditWindow) -> bool:
    if entry.status == "running":
        return entry.started_at is not None and entry.started_at < window.end
    return entry.closed_at in window


def _vis_in_scope(v: VisibilityRecord, window: AuditWindow) -> bool:
    if v.status == "running":
        return v.start_time < window.end
    return v.close_time in window


@dataclass
class Lookups:
    """What to fetch by key before reconciling.

    A run that one source places outside the window is then compared rather
    than called missing.
    """

    visibility_runs: set[Key] = field(default_factory=set)
    """Runs the ledger has in the window that the visibility list did not return."""
    visibility_ids: set[str] = field(default_factory=set)
    """Workflow ids with agent spans in the window that visibility did not return."""
    ledger_ids: set[str] = field(default_factory=set)
    """Workflow ids that visibility or telemetry has in the window and the ledger did not."""


def lookups_needed(
    window: AuditWindow,
    visibility: Sequence[VisibilityRecord],
    ledger: Sequence[LedgerEntry],
    spans: Sequence[SpanRecord] | None,
) -> Lookups:
    """The records to fetch by key before `reconcile`, given what the window's queries returned."""
    vis_keys = {(v.workflow_id, v.run_id) for v in visibility}
    vis_ids = {v.workflow_id for v in visibility}
    led_keys = {(e.workflow_id, e.run_id) for e in ledger}
    led_ids = {e.workflow_id for e in ledger}
    out = Lookups()
    for e in ledger:
        if is_inline(e):
            continue
        if _ledger_in_scope(e, window) and (e.workflow_id, e.run_id) not in vis_keys:
            out.visibility_runs.add((e.workflow_id, e.run_id))
    for v in visibility:
        if _vis_in_scope(v, window) and (v.workflow_id, v.run_id) not in led_keys:
            out.ledger_ids.add(v.workflow_id)
    for s in spans or ():
        if s.end in window:
            if s.agent_id not in vis_ids and not inline_id(s.agent_id):
                out.visibility_ids.add(s.agent_id)
            if s.agent_id not in led_ids:
                out.ledger_ids.add(s.agent_id)
    return out


def stale_running(
    visibility: Sequence[VisibilityRecord], ledger: Sequence[LedgerEntry]
) -> set[Key]:
    """Runs the visibility list shows running while the ledger has closed them.

    The list is eventually consistent and may lag a close by a moment;
    describe is not, so these are asked again before being called mismatched.
    """
    closed = {(e.workflow_id, e.run_id) for e in ledger if e.status != "running"}
    return {
        (v.workflow_id, v.run_id)
        for v in visibility
        if v.status == "running" and (v.workflow_id, v.run_id) in closed
    }
