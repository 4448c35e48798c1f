"""`reconcile`: name every disagreement among visibility, the ledger and telemetry.

Split out of the audit so the checks over the three sources, one per kind of
finding, and the status rules they apply, stand apart from the parsing,
queries and time checks they rely on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from agentfleet.audit.completion import unverified_completion
from agentfleet.audit.scope import (
    AuditWindow,
    Key,
    _ledger_in_scope,
    _vis_in_scope,
    inline_id,
    is_inline,
)
from agentfleet.audit.sources import SPAN_PREFIX
from agentfleet.audit.timestamps import _check_times, _fmt_span, _say_ledger, _say_vis, _ts
from agentfleet.contracts.reports import (
    Audit,
    Discrepancy,
    DiscrepancyKind,
    LedgerEntry,
    SourceCounts,
    SpanRecord,
    VisibilityRecord,
)
from agentfleet.contracts.status import TERMINAL

DEFAULT_TOLERANCE = timedelta(minutes=2)
DEFAULT_RUNNING_LIMIT = timedelta(hours=24)

# A run an agent continued-as-new from: closed in both records, not a task outcome.
CONTINUED = frozenset({"continued_as_new"})
# Which ledger statuses each visibility status allows. An agent that ends on
# its own terms (a failed step, a cancel request, an exhausted budget) still
# *returns*, so a completed workflow may carry any terminal ledger status; a
# workflow that failed, was canceled or timed out can only be recorded so.
_COMPATIBLE: dict[str, frozenset[str]] = {
    "running": frozenset({"running"}),
    "completed": TERMINAL,
    "continued_as_new": TERMINAL | CONTINUED,
    "failed": frozenset({"failed", "budget_exhausted", "timed_out"}),
    "canceled": frozenset({"canceled"}),
    "terminated": frozenset({"canceled", "failed"}),
    "timed_out": frozenset({"timed_out", "failed"}),
}


# --- reconciliation --------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """One run in scope, as visibility and the ledger each recorded it."""

    key: Key
    """The run's (workflow id, run id)."""
    vis: VisibilityRecord | None
    """Visibility's record of the run, if it has one."""
    entries: list[LedgerEntry]
    """Every ledger row of the run (a second terminal row is itself a finding)."""

    @property
    def terminal(self) -> list[LedgerEntry]:
        """The rows that record an outcome rather than a start."""
        return [e for e in self.entries if e.status != "running"]

    @property
    def entry(self) -> LedgerEntry | None:
        """The row the run is judged by: its first terminal row, else its first row."""
        terminal = self.terminal
        return terminal[0] if terminal else (self.entries[0] if self.entries else None)

    @property
    def closed(self) -> bool:
        """Whether the run is over, by visibility or, where it has no record, by the ledger."""
        v, entry = self.vis, self.entry
        return (v is not None and v.status != "running") or (
            v is None and entry is not None and entry.status != "running"
        )

    @property
    def ledger_said(self) -> str | None:
        """How a finding words the ledger's side, if there is one."""
        return None if self.entry is None else _say_ledger(self.entry)

    @property
    def vis_said(self) -> str | None:
        """How a finding words visibility's side, if there is one."""
        return None if self.vis is None else _say_vis(self.vis)


class _Reconciler:
    """The three sources indexed by run, and the findings as the checks name them.

    Each `_check_*` method looks for one kind of finding; `run` applies them to a run in the
    order the audit lists them.
    """

    def __init__(
        self,
        window: AuditWindow,
        visibility: Sequence[VisibilityRecord],
        ledger: Sequence[LedgerEntry],
        spans: Sequence[SpanRecord] | None,
        *,
        now: datetime,
        retention: timedelta | None,
        running_limit: timedelta,
        tolerance: timedelta,
    ) -> None:
        self.window = window
        self.now = now
        self.retention = retention
        self.covers_from = None if retention is None else now - retention
        self.running_limit = running_limit
        self.tolerance = tolerance
        self.spans = spans
        self.vis: dict[Key, VisibilityRecord] = {(v.workflow_id, v.run_id): v for v in visibility}
        self.vis_ids = {v.workflow_id for v in visibility}
        self.led: dict[Key, list[LedgerEntry]] = defaultdict(list)
        for e in ledger:
            self.led[(e.workflow_id, e.run_id)].append(e)
        self.led_ids = {e.workflow_id for e in ledger}
        self.span_by_id: dict[str, list[SpanRecord]] = defaultdict(list)
        for s in spans or ():
            self.span_by_id[s.agent_id].append(s)
        self.keys = {k for k, v in self.vis.items() if _vis_in_scope(v, window)}
        self.keys |= {
            k for k, es in self.led.items() if any(_ledger_in_scope(e, window) for e in es)
        }
        self.found: list[Discrepancy] = []
        # Ledger rows closed before visibility's retention: not checkable, only counted.
        self.unverifiable = 0
        # Closed runs that a missing span file leaves unchecked against telemetry.
        self.closed_unchecked = 0

    def add(
        self, kind: DiscrepancyKind, key: tuple[str, str | None], detail: str, **say: str | None
    ) -> None:
        """Record one finding about the run `key`; `say` holds each source's own words."""
        wid, rid = key
        self.found.append(Discrepancy(kind=kind, workflow_id=wid, run_id=rid, detail=detail, **say))

    def run(self, key: Key) -> None:
        """Every check of one run in scope, in the order the audit lists its findings."""
        run = _Run(key, self.vis.get(key), self.led.get(key, []))
        self._check_duplicate_rows(run)
        if run.entry is None:
            self._check_missing_in_ledger(run)
        elif run.vis is None:
            self._check_ledger_only(run, run.entry)
        else:
            self._check_status(run, run.entry, run.vis)
            self.found.extend(_check_times(key, run.entry, run.vis, self.window, self.tolerance))
        if run.entry is not None and run.entry.status != "running":
            claim = unverified_completion(key, run.entry)
            if claim is not None:
                self.found.append(claim)
        self._check_running_too_long(run)
        self._check_telemetry(run)

    def _check_duplicate_rows(self, run: _Run) -> None:
        terminal = run.terminal
        if len(terminal) > 1:
            self.add(
                "duplicate_in_ledger",
                run.key,
                f"{len(terminal)} terminal rows for one run: "
                + "; ".join(_say_ledger(e) for e in terminal),
            )

    def _check_missing_in_ledger(self, run: _Run) -> None:
        v = run.vis
        assert v is not None
        self.add(
            "missing_in_ledger",
            run.key,
            f"visibility has this {v.workflow_type} run ({v.status}) but the ledger has "
            "no row for it",
            visibility=_say_vis(v),
        )

    def _check_ledger_only(self, run: _Run, entry: LedgerEntry) -> None:
        """A run only the ledger knows: its own times, a stuck run, or visibility's gap."""
        key = run.key
        if entry.timestamp_problems:
            self.add(
                "naive_or_shifted_timestamp",
                key,
                "; ".join(entry.timestamp_problems),
                ledger=_say_ledger(entry),
            )
        age = None if entry.started_at is None else self.now - entry.started_at
        if entry.status == "running" and age is not None and age > self.running_limit:
            self.add(
                "running_past_timeout",
                key,
                f"the ledger shows it running for {_fmt_span(age)[1:]} (limit "
                f"{_fmt_span(self.running_limit)[1:]}), and visibility has no record of the run",
                ledger=_say_ledger(entry),
            )
        elif (
            self.covers_from is not None
            and entry.closed_at is not None
            and entry.closed_at < self.covers_from
        ):
            # Visibility has forgotten it (retention), not necessarily
            # never known it: counted under the retention finding.
            self.unverifiable += 1
        elif not is_inline(entry):
            # Inline work runs inside its master's workflow: visibility
            # never lists it, and that is not a discrepancy.
            self.add(
                "missing_in_visibility",
                key,
                "the ledger has this run but Temporal visibility does not",
                ledger=_say_ledger(entry),
            )

    def _check_status(self, run: _Run, entry: LedgerEntry, v: VisibilityRecord) -> None:
        allowed = _COMPATIBLE.get(v.status, TERMINAL)
        if entry.status in allowed:
            return
        if entry.status == "running":
            detail = (
                f"visibility says {v.status} (closed {_ts(v.close_time)}) but the "
                "ledger still shows it running: its close was never recorded"
            )
        elif v.status == "running":
            detail = (
                f"the ledger recorded it {entry.status} at {_ts(entry.closed_at)} but "
                "visibility shows it still running"
            )
        else:
            detail = f"visibility says {v.status} but the ledger says {entry.status}"
        self.add(
            "status_mismatch",
            run.key,
            detail,
            ledger=_say_ledger(entry),
            visibility=_say_vis(v),
        )

    def _check_running_too_long(self, run: _Run) -> None:
        v = run.vis
        if v is None or v.status != "running":
            return
        age = self.now - v.start_time
        if age > self.running_limit:
            self.add(
                "running_past_timeout",
                run.key,
                f"running for {_fmt_span(age)[1:]}, past the limit of "
                f"{_fmt_span(self.running_limit)[1:]}",
                visibility=_say_vis(v),
                ledger=run.ledger_said,
            )

    def _check_telemetry(self, run: _Run) -> None:
        """A closed run's agent span: present, and telling the ledger's outcome."""
        # Whether inline work gets an agent span of its own is the master's
        # choice; its ledger row is the record, so only a span that exists
        # is compared.
        entry = run.entry
        inline = entry is not None and is_inline(entry)
        if not run.closed:
            return
        if self.spans is None:
            self.closed_unchecked += 0 if inline else 1
            return
        wid = run.key[0]
        seen = self.span_by_id.get(wid, [])
        if not seen and not inline:
            self.add(
                "missing_in_telemetry",
                run.key,
                f"no {SPAN_PREFIX} span with gen_ai.agent.id {wid!r} in the span file",
                ledger=run.ledger_said,
                visibility=run.vis_said,
            )
        elif seen and entry is not None and entry.status != "running":
            told = {s.status for s in seen if s.status in TERMINAL}
            if told and entry.status not in told:
                self.add(
                    "status_mismatch",
                    run.key,
                    f"telemetry says {'/'.join(sorted(told))} but the ledger says {entry.status}",
                    ledger=_say_ledger(entry),
                    telemetry=", ".join(sorted(told)),
                )

    def check_span_only_agents(self) -> None:
        """Agent spans in the window whose workflow id neither visibility nor the ledger has."""
        scoped_ids = {k[0] for k in self.keys}
        for wid in sorted(self.span_by_id):
            in_window = [s for s in self.span_by_id[wid] if s.end in self.window]
            if not in_window or wid in scoped_ids:
                # A run already compared above has said all there is to say.
                continue
            last = max(s.end for s in in_window if s.end is not None)
            said = f"{len(in_window)} span(s), last ending {_ts(last)}"
            if wid not in self.vis_ids and not inline_id(wid):
                self.add(
                    "missing_in_visibility",
                    (wid, None),
                    "telemetry has an agent span for this workflow id but visibility has no run",
                    telemetry=said,
                )
            if wid not in self.led_ids:
                self.add(
                    "missing_in_ledger",
                    (wid, None),
                    "telemetry has an agent span for this workflow id but the ledger has no row",
                    telemetry=said,
                )

    def check_span_file(self, spans_file: str | None) -> None:
        """One finding for every closed run that no span file lets the audit check."""
        if self.spans is None and self.closed_unchecked:
            self.found.append(
                Discrepancy(
                    kind="missing_in_telemetry",
                    detail=f"no span file{f' at {spans_file}' if spans_file else ''}: "
                    f"{self.closed_unchecked} closed run(s) in the window cannot be checked "
                    "against telemetry",
                )
            )

    def check_retention(self) -> None:
        """Listed first: the part of the window that visibility has already forgotten."""
        covers_from, window, retention = self.covers_from, self.window, self.retention
        if covers_from is None or window.start >= covers_from:
            return
        gap_end = min(window.end, covers_from)
        days = retention.total_seconds() / 86400 if retention is not None else 0
        self.found.insert(
            0,
            Discrepancy(
                kind="visibility_retention_gap",
                detail=f"namespace retention is {days:g} day(s), so visibility no longer holds "
                f"runs closed before {_ts(covers_from)}: the window from {_ts(window.start)} "
                f"to {_ts(gap_end)} cannot be checked against visibility"
                + (
                    f" ({self.unverifiable} ledger row(s) closed there were not verified)"
                    if self.unverifiable
                    else ""
                ),
            ),
        )


def _counts(
    window: AuditWindow,
    visibility: Sequence[VisibilityRecord],
    ledger: Sequence[LedgerEntry],
    spans: Sequence[SpanRecord] | None,
) -> SourceCounts:
    """How many records of each source fall in the window: the audit's denominators."""
    vis_in = [v for v in visibility if _vis_in_scope(v, window)]
    led_in = [e for e in ledger if _ledger_in_scope(e, window) and not is_inline(e)]
    inline_in = [e for e in ledger if _ledger_in_scope(e, window) and is_inline(e)]
    return SourceCounts(
        visibility_closed=sum(1 for v in vis_in if v.status != "running"),
        visibility_running=sum(1 for v in vis_in if v.status == "running"),
        ledger_closed=sum(1 for e in led_in if e.status != "running"),
        ledger_running=sum(1 for e in led_in if e.status == "running"),
        ledger_inline=len(inline_in),
        telemetry_spans=None if spans is None else sum(1 for s in spans if s.end in window),
    )


def reconcile(
    window: AuditWindow,
    visibility: Sequence[VisibilityRecord],
    ledger: Sequence[LedgerEntry],
    spans: Sequence[SpanRecord] | None,
    *,
    now: datetime,
    retention: timedelta | None = None,
    running_limit: timedelta = DEFAULT_RUNNING_LIMIT,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    spans_file: str | None = None,
) -> Audit:
    """Name every disagreement among the three sources for `window`.

    `visibility` and `ledger` may hold records outside the window (fetched by
    key, see `lookups_needed`); `spans` is None when there is no span file.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    checks = _Reconciler(
        window,
        visibility,
        ledger,
        spans,
        now=now,
        retention=retention,
        running_limit=running_limit,
        tolerance=tolerance,
    )
    for key in sorted(checks.keys):
        checks.run(key)
    checks.check_span_only_agents()
    checks.check_span_file(spans_file)
    checks.check_retention()
    return Audit(
        week=window.week,
        tz=window.tz,
        window_start=window.start,
        window_end=window.end,
        checked_at=now,
        retention_days=None if retention is None else retention.total_seconds() / 86400,
        visibility_covers_from=checks.covers_from,
        counts=_counts(window, visibility, ledger, spans),
        discrepancies=checks.found,
    )
