"""Weekly report and audit payloads.

Pure pydantic, no SQL and no Temporal, so the report workflow can build and
read these inside the sandbox. Every instant is aware UTC; local days appear
only as `date`s labelled in the report's zone.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, computed_field, field_validator

from agentfleet.contracts.base import Contract, Record, UtcDatetime
from agentfleet.contracts.models import TokenCounts
from agentfleet.reporting.weeks import iso_week_bounds, zone


class _WeekAndZone(Contract):
    """Validates `week` and `tz` where a subclass declares them.

    A typo typed into the Temporal UI or a schedule fails at once, naming the field.
    """

    @field_validator("week", check_fields=False)
    @classmethod
    def _valid_week(cls, v: str | None) -> str | None:
        if v is not None:
            # iso_week_bounds names the problem (bad format, week 53 in a
            # 52-week year) better than a bare pattern would.
            iso_week_bounds(v)
        return v

    @field_validator("tz", check_fields=False)
    @classmethod
    def _valid_tz(cls, v: str) -> str:
        zone(v)
        return "UTC" if v.upper() == "UTC" else v


class _Week(Record):
    """The ISO week a result is about, and the zone its local days are labelled in."""

    week: str
    tz: str


class _WeekWindow(_Week):
    """A week and the two instants it runs between in its zone: what was read and checked."""

    window_start: UtcDatetime
    window_end: UtcDatetime


# --- report ---------------------------------------------------------------------


class StatusCounts(Record):
    """Agents of one kind in the window.

    `spawned` counts starts in the window; the terminal counts are closes in
    the window, whenever the run started; `still_running` is runs the ledger
    still shows running that started before the window ended.

    `completed` is verified work only: status `completed` and a completion
    check that passed. A `completed` row whose check did not pass or never
    ran (a row from before checks existed, or a writer that skipped it) is
    `completed_unchecked`; an agent that stopped as if done but failed its
    check is `unverified`. Every close lands in exactly one count, so the
    terminal counts sum to `closed`.
    """

    spawned: int = 0
    completed: int = 0
    completed_unchecked: int = 0
    unverified: int = 0
    partial: int = 0
    failed: int = 0
    canceled: int = 0
    budget_exhausted: int = 0
    timed_out: int = 0
    closed: int = 0
    still_running: int = 0
    # completed (verified) / closed: unverified, unchecked and partial
    # results are closed but not completed.
    completion_rate: float | None = None


class Distribution(Record):
    """A spread of durations or counts: how many, the mean and nearest-rank percentiles."""

    count: int = 0
    mean: float | None = None
    # Nearest-rank percentiles: always a value that was really observed.
    p50: float | None = None
    p95: float | None = None
    max: float | None = None


class ModelUsage(TokenCounts):
    """What one model (or `all`) spent in the week, cache writes and reads apart.

    `cost_usd` includes the cache's writes and reads, each at its own price.
    """

    model: str
    # Rows closed in the window that spent on this model.
    agents: int = 0
    # Every token: input (cached or not) and output.
    total_tokens: int = 0
    # cache reads / all input tokens; None with no input at all.
    cache_hit_rate: float | None = None


class ForecastVsActual(Record):
    """Root tasks closed in the window that were forecast before their plan ran."""

    tasks: int = 0
    forecast_usd: float = 0.0
    actual_usd: float = 0.0
    # actual - forecast: positive means the forecast was too low.
    error_usd: float = 0.0
    actual_over_forecast: float | None = None
    # Tasks whose actual cost stayed at or below their forecast.
    within_forecast: int = 0


class FailureReason(Record):
    """A failure reason and how many runs ended with it."""

    reason: str
    count: int


class UnverifiedReason(Record):
    """A path the completion check found missing, and in how many task trees.

    A path missing for a sub-agent and again for its master counts once.
    """

    path: str
    count: int


class _DayCompletions(Record):
    """A local day of the report's zone, and its root tasks that stopped as if done.

    Verified completions, as in StatusCounts: a failed or missing check counts apart.
    """

    day: date
    label: str
    completed: int = 0
    unverified: int = 0
    completed_unchecked: int = 0


class DailyPoint(_DayCompletions):
    """One local day of the report's zone (root tasks closed that day).

    `failed` sums failed, timed out and budget-exhausted runs: the day's red bar.
    """

    failed: int = 0
    closed: int = 0
    completion_rate: float | None = None


class _WeekCompletions(Record):
    """A week's root tasks: how many started, and how many stopped as if done.

    Verified completions, as in StatusCounts; the unchecked ones are apart.
    """

    week: str
    tasks_spawned: int = 0
    tasks_completed: int = 0
    tasks_unverified: int = 0
    tasks_completed_unchecked: int = 0


class _WeekCloses(Record):
    """How the week's root tasks closed and how long they took, and how many sub-agents started."""

    tasks_failed: int = 0
    tasks_closed: int = 0
    completion_rate: float | None = None
    duration_p50_s: float | None = None
    duration_p95_s: float | None = None
    subagents_spawned: int = 0


class _WeekSpend(Record):
    """What the runs closed in the week spent, sub-agents too: the cost side of the headline.

    Tokens count input of every kind and output; the hit rate is cache reads over all input.
    """

    total_tokens: int = 0
    cost_usd: float = 0.0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_hit_rate: float | None = None


# pydantic lays out the last base's fields first: completions, closes, spend, as stored.
class WeekSummary(_WeekSpend, _WeekCloses, _WeekCompletions):
    """One week's headline numbers: what the report compares with the week before."""


class WeekDelta(Record):
    """This week minus the previous one; None where either side has no value."""

    tasks_spawned: int | None = None
    tasks_completed: int | None = None
    tasks_unverified: int | None = None
    tasks_completed_unchecked: int | None = None
    tasks_failed: int | None = None
    tasks_closed: int | None = None
    completion_rate: float | None = None
    duration_p50_s: float | None = None
    duration_p95_s: float | None = None
    subagents_spawned: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None


class WeeklyReport(_WeekWindow):
    """The weekly report as built from the ledger: counts, spend, spread and reasons."""

    generated_at: UtcDatetime
    # Root tasks (role "master").
    tasks: StatusCounts = Field(default_factory=StatusCounts)
    subagents: StatusCounts = Field(default_factory=StatusCounts)
    task_duration_s: Distribution = Field(default_factory=Distribution)
    subagent_duration_s: Distribution = Field(default_factory=Distribution)
    # Over root tasks spawned in the window: sub-agents at every depth.
    subagents_per_task: Distribution = Field(default_factory=Distribution)
    inline_decisions: int = 0
    # None while the ledger records no pruning count at all.
    pruned_subtasks: int | None = None
    by_model: list[ModelUsage] = Field(default_factory=list)
    totals: ModelUsage = Field(default_factory=lambda: ModelUsage(model="all"))
    forecast: ForecastVsActual = Field(default_factory=ForecastVsActual)
    top_failure_reasons: list[FailureReason] = Field(default_factory=list)
    # Why agents (of every role) ended unverified: the paths their checks
    # found missing.
    top_unverified_reasons: list[UnverifiedReason] = Field(default_factory=list)
    daily: list[DailyPoint] = Field(default_factory=list)
    summary: WeekSummary
    previous: WeekSummary
    delta: WeekDelta = Field(default_factory=WeekDelta)
    # Ledger rows that could not be read (e.g. an unknown status written by
    # something other than the ledger); the audit names them.
    unreadable_rows: int = 0


class ReportRequest(_WeekAndZone):
    """Build the report of one ISO week, in a zone for its daily breakdown."""

    week: str
    tz: str = "UTC"


class ReportBuildResult(_Week):
    """What the report activity wrote, and the headline numbers for the workflow's result."""

    files: list[str] = Field(default_factory=list)
    summary: WeekSummary
    tasks: StatusCounts = Field(default_factory=StatusCounts)


# --- audit ----------------------------------------------------------------------

DiscrepancyKind = Literal[
    "missing_in_ledger",
    "missing_in_visibility",
    "missing_in_telemetry",
    "duplicate_in_ledger",
    "outside_window",
    "naive_or_shifted_timestamp",
    "running_past_timeout",
    "status_mismatch",
    "visibility_retention_gap",
    # The ledger says `completed` but its completion check failed or never
    # ran: the run is counted nowhere as verified work.
    "unverified_completion",
]


class VisibilityRecord(Record):
    """One workflow run as Temporal visibility (or describe) reports it."""

    workflow_id: str
    run_id: str
    workflow_type: str
    # WorkflowExecutionStatus name, lower case: running, completed, failed,
    # canceled, terminated, continued_as_new, timed_out.
    status: str
    start_time: UtcDatetime
    close_time: UtcDatetime | None = None


class _EntryRun(Record):
    """A stored row's run, place in its tree and status, as plain text: nothing is assumed valid."""

    workflow_id: str
    run_id: str
    role: str | None = None
    root_id: str | None = None
    parent_id: str | None = None
    status: str


class LedgerEntry(_EntryRun):
    """One ledger row as stored, read without the ledger's own column types.

    Values a rogue writer put there are seen exactly as they are; its instants are
    kept both parsed and raw, so the audit can say what is wrong with them.
    """

    started_at: UtcDatetime | None = None
    closed_at: UtcDatetime | None = None
    started_raw: str | None = None
    closed_raw: str | None = None
    # Why a stored value is not what the ledger itself writes.
    timestamp_problems: list[str] = Field(default_factory=list)
    # The completion check as stored (None: no check recorded).
    verified: bool | None = None
    verify_missing: list[str] | None = None
    # Why a stored check value could not be read as the ledger writes it.
    verify_problems: list[str] = Field(default_factory=list)


class SpanRecord(Record):
    """One `invoke_agent` span from the telemetry file."""

    name: str
    agent_id: str
    conversation_id: str | None = None
    trace_id: str = ""
    span_id: str = ""
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None
    status: str | None = None


class Discrepancy(Record):
    """One disagreement between visibility, the ledger and telemetry, in words per source."""

    kind: DiscrepancyKind
    workflow_id: str | None = None
    run_id: str | None = None
    detail: str
    # What each source says, in words, where it says anything.
    ledger: str | None = None
    visibility: str | None = None
    telemetry: str | None = None


class _VisibilityCounts(Record):
    """The runs Temporal visibility holds for the window: what the ledger is compared with."""

    visibility_closed: int = 0
    visibility_running: int = 0


class SourceCounts(_VisibilityCounts):
    """How many runs each source holds for the window: the audit's first comparison."""

    # Rows of agents that are workflows, comparable with visibility's counts.
    ledger_closed: int = 0
    ledger_running: int = 0
    # Inline work: ledger rows with no workflow of their own (role `inline`).
    ledger_inline: int = 0
    # None when there is no span file to read.
    telemetry_spans: int | None = None


class Audit(_WeekWindow):
    """The telemetry audit of one week: every discrepancy between the three records."""

    checked_at: UtcDatetime
    retention_days: float | None = None
    # The oldest close time visibility can still hold (now - retention).
    visibility_covers_from: UtcDatetime | None = None
    counts: SourceCounts = Field(default_factory=SourceCounts)
    discrepancies: list[Discrepancy] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def clean(self) -> bool:
        """Whether the three records agree: no discrepancy at all."""
        return not self.discrepancies

    @computed_field  # type: ignore[prop-decorator]
    @property
    def by_kind(self) -> dict[str, int]:
        """How many discrepancies of each kind, sorted by kind: the summary a person reads first."""
        out: dict[str, int] = {}
        for d in self.discrepancies:
            out[d.kind] = out.get(d.kind, 0) + 1
        return dict(sorted(out.items()))


class AuditRequest(_WeekAndZone):
    """Audit one ISO week; a run open longer than `running_limit_hours` is reported."""

    week: str
    tz: str = "UTC"
    running_limit_hours: float = Field(default=24.0, gt=0)


class AuditSummary(_Week):
    """What the audit activity returns.

    The full list goes to a file, so a bad week cannot blow the history payload limit.
    """

    clean: bool
    discrepancies: int
    by_kind: dict[str, int] = Field(default_factory=dict)
    file: str | None = None


# --- workflow -------------------------------------------------------------------


class WeeklyReportInput(_WeekAndZone):
    """Start the weekly report workflow: `{}` reports the week that ended last."""

    # None: the ISO week (in `tz`) that ended most recently.
    week: str | None = None
    tz: str = "UTC"


class WeeklyReportResult(ReportBuildResult):
    """What the weekly report workflow returns: what the report built, and the audit's verdict."""

    audit_clean: bool | None = None
    audit_discrepancies: int | None = None
    audit_by_kind: dict[str, int] = Field(default_factory=dict)
    # Set when the audit could not run; the report still stands.
    audit_error: str | None = None


class ScheduleView(Record):
    """The weekly-report schedule, as `agentfleet schedule --show` prints it."""

    schedule_id: str
    exists: bool = True
    day_of_week: str = "Monday"
    time: str = "00:30"
    tz: str = "UTC"
    report_tz: str = "UTC"
    task_queue: str = ""
    paused: bool = False
    next_runs: list[UtcDatetime] = Field(default_factory=list)
    recent_runs: list[str] = Field(default_factory=list)


__all__ = [
    "Audit",
    "AuditRequest",
    "AuditSummary",
    "DailyPoint",
    "Discrepancy",
    "DiscrepancyKind",
    "Distribution",
    "FailureReason",
    "ForecastVsActual",
    "LedgerEntry",
    "ModelUsage",
    "ReportBuildResult",
    "ReportRequest",
    "ScheduleView",
    "SourceCounts",
    "SpanRecord",
    "StatusCounts",
    "UnverifiedReason",
    "VisibilityRecord",
    "WeekDelta",
    "WeekSummary",
    "WeeklyReport",
    "WeeklyReportInput",
    "WeeklyReportResult",
]
