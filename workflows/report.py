"""WeeklyReportWorkflow and the Schedule that runs it every Monday.

The workflow only decides which week to report (from `workflow.now()`, so a
replay picks the same week) and calls two activities, the report and the
audit, in parallel; all I/O happens there. A failed audit does not cost the
report: the result says the audit could not run.

The schedule helpers (`ensure_schedule`, `describe_schedule`,
`update_schedule`) are client code used by the CLI and at dev-server start;
they live here so the workflow and its cadence are read together.
"""

from __future__ import annotations

import asyncio
from datetime import time, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from temporalio.client import (
        Client,
        Schedule,
        ScheduleActionStartWorkflow,
        ScheduleAlreadyRunningError,
        ScheduleCalendarSpec,
        ScheduleDescription,
        ScheduleHandle,
        ScheduleOverlapPolicy,
        SchedulePolicy,
        ScheduleRange,
        ScheduleSpec,
        ScheduleUpdate,
        ScheduleUpdateInput,
    )
    from temporalio.service import RPCError, RPCStatusCode

    from agentfleet.contracts.activities import AUDIT_ACTIVITY, REPORT_ACTIVITY
    from agentfleet.contracts.reports import (
        AuditRequest,
        AuditSummary,
        ReportBuildResult,
        ReportRequest,
        ScheduleView,
        WeeklyReportInput,
        WeeklyReportResult,
    )
    from agentfleet.reporting.weekly import previous_week
    from agentfleet.reporting.weeks import zone

from workflows._calls import failure_message

__all__ = [
    "DEFAULT_AT",
    "SCHEDULE_ID",
    "WeeklyReportWorkflow",
    "describe_schedule",
    "ensure_schedule",
    "parse_hhmm",
    "update_schedule",
]

SCHEDULE_ID = "agentfleet-weekly-report"
# Monday 00:30: the ISO week has just ended, with half an hour for the last
# closes of Sunday night to land in the ledger.
DEFAULT_AT = time(0, 30)
MONDAY = 1  # ScheduleCalendarSpec counts days of the week from Sunday = 0.

REPORT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
)


@workflow.defn(name="WeeklyReportWorkflow")
class WeeklyReportWorkflow:
    """The weekly report and its telemetry audit, run by the schedule every Monday."""

    @workflow.run
    async def run(self, inp: WeeklyReportInput) -> WeeklyReportResult:
        """Build the week's report and audit it; a failed audit still leaves the report."""
        week = inp.week or previous_week(workflow.now(), inp.tz)
        report, (audit, audit_error) = await asyncio.gather(
            workflow.execute_activity(
                REPORT_ACTIVITY,
                ReportRequest(week=week, tz=inp.tz),
                result_type=ReportBuildResult,
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=REPORT_RETRY,
                summary=f"report {week} ({inp.tz})",
            ),
            self._audit(week, inp.tz),
        )
        files = list(report.files)
        if audit is not None and audit.file:
            files.append(audit.file)
        return WeeklyReportResult(
            week=week,
            tz=inp.tz,
            files=files,
            summary=report.summary,
            tasks=report.tasks,
            audit_clean=None if audit is None else audit.clean,
            audit_discrepancies=None if audit is None else audit.discrepancies,
            audit_by_kind={} if audit is None else audit.by_kind,
            audit_error=audit_error,
        )

    async def _audit(self, week: str, tz: str) -> tuple[AuditSummary | None, str | None]:
        try:
            summary = await workflow.execute_activity(
                AUDIT_ACTIVITY,
                AuditRequest(week=week, tz=tz),
                result_type=AuditSummary,
                start_to_close_timeout=timedelta(minutes=10),
                retry_policy=REPORT_RETRY,
                summary=f"audit {week} ({tz})",
            )
        except ActivityError as err:
            return None, failure_message(err)
        return summary, None


# --- the schedule ---------------------------------------------------------------------


def parse_hhmm(value: str) -> time:
    """`HH:MM` as a time of day; anything else is a ValueError that says what to type."""
    try:
        hh, mm = value.strip().split(":")
        return time(int(hh), int(mm))
    except ValueError:
        raise ValueError(f"invalid time {value!r}: expected HH:MM, e.g. 00:30") from None


def _spec(at: time, tz: str) -> ScheduleSpec:
    return ScheduleSpec(
        calendars=[
            ScheduleCalendarSpec(
                second=(ScheduleRange(0),),
                minute=(ScheduleRange(at.minute),),
                hour=(ScheduleRange(at.hour),),
                day_of_week=(ScheduleRange(MONDAY),),
                comment="weekly report, after the ISO week ends",
            )
        ],
        time_zone_name=tz,
    )


def _action(task_queue: str, report: WeeklyReportInput, run_id: str) -> ScheduleActionStartWorkflow:
    return ScheduleActionStartWorkflow(
        WeeklyReportWorkflow.run,
        report,
        id=run_id,
        task_queue=task_queue,
        # A stuck report must not sit there until next Monday's run is
        # skipped by the overlap policy.
        execution_timeout=timedelta(hours=6),
        static_summary=f"weekly report ({report.tz})",
    )


async def ensure_schedule(
    client: Client,
    task_queue: str,
    *,
    at: time = DEFAULT_AT,
    tz: str = "UTC",
    schedule_id: str = SCHEDULE_ID,
    report: WeeklyReportInput | None = None,
    spec: ScheduleSpec | None = None,
) -> ScheduleHandle:
    """Create the weekly-report schedule unless it exists; return its handle.

    An existing schedule is left as it is: someone may have moved it with
    `agentfleet schedule --set-time`, and a restart must not undo that.
    `report` overrides the workflow input (default: the week that just ended,
    in `tz`); `spec` overrides the Monday calendar.
    """
    zone(tz)
    report = report or WeeklyReportInput(tz=tz)
    schedule = Schedule(
        action=_action(task_queue, report, schedule_id),
        spec=spec or _spec(at, tz),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP,
            # A server down over Monday morning still reports that week
            # when it comes back, but not weeks-old runs after a long outage.
            catchup_window=timedelta(days=6),
        ),
    )
    try:
        return await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:
        return client.get_schedule_handle(schedule_id)


_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def _current(desc: ScheduleDescription) -> tuple[time, str]:
    spec = desc.schedule.spec
    at = DEFAULT_AT
    if spec.calendars:
        cal = spec.calendars[0]
        hour = cal.hour[0].start if cal.hour else 0
        minute = cal.minute[0].start if cal.minute else 0
        at = time(hour, minute)
    return at, spec.time_zone_name or "UTC"


def _day(desc: ScheduleDescription) -> str:
    cals = desc.schedule.spec.calendars
    if not cals or not cals[0].day_of_week:
        return "every day"
    days = [
        _DAY_NAMES[d % 7]
        for r in cals[0].day_of_week
        for d in range(r.start, max(r.start, r.end) + 1, r.step or 1)
    ]
    return ", ".join(days) if len(days) < 7 else "every day"


async def _report_input(client: Client, action: ScheduleActionStartWorkflow) -> WeeklyReportInput:
    args = list(action.args)
    if not args:
        return WeeklyReportInput()
    if isinstance(args[0], WeeklyReportInput):
        return args[0]
    decoded = await client.data_converter.decode(args, [WeeklyReportInput])
    value = decoded[0]
    return value if isinstance(value, WeeklyReportInput) else WeeklyReportInput()


async def _view(client: Client, desc: ScheduleDescription) -> ScheduleView:
    at, tz = _current(desc)
    action = desc.schedule.action
    task_queue, report_tz = "", tz
    if isinstance(action, ScheduleActionStartWorkflow):
        task_queue = action.task_queue
        report_tz = (await _report_input(client, action)).tz
    return ScheduleView(
        schedule_id=desc.id,
        day_of_week=_day(desc),
        time=f"{at:%H:%M}",
        tz=tz,
        report_tz=report_tz,
        task_queue=task_queue,
        paused=desc.schedule.state.paused,
        next_runs=list(desc.info.next_action_times[:5]),
        recent_runs=[getattr(a.action, "workflow_id", "") for a in desc.info.recent_actions[-5:]],
    )


async def describe_schedule(client: Client, schedule_id: str = SCHEDULE_ID) -> ScheduleView | None:
    """The schedule as people read it, or None if it does not exist."""
    try:
        desc = await client.get_schedule_handle(schedule_id).describe()
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    return await _view(client, desc)


async def update_schedule(
    client: Client,
    *,
    at: time | None = None,
    tz: str | None = None,
    schedule_id: str = SCHEDULE_ID,
) -> ScheduleView:
    """Move the schedule to `at` (HH:MM on Monday) and/or zone `tz`.

    A new zone also becomes the report's zone, so a Monday-morning run in
    Los Angeles reports the Los Angeles week that just ended.
    """
    if tz is not None:
        zone(tz)
        tz = "UTC" if tz.upper() == "UTC" else tz
    handle = client.get_schedule_handle(schedule_id)

    async def updater(inp: ScheduleUpdateInput) -> ScheduleUpdate:
        sched = inp.description.schedule
        cur_at, cur_tz = _current(inp.description)
        new_tz = tz or cur_tz
        sched.spec = _spec(at or cur_at, new_tz)
        action = sched.action
        if tz is not None and isinstance(action, ScheduleActionStartWorkflow):
            old = await _report_input(client, action)
            sched.action = _action(
                action.task_queue, old.model_copy(update={"tz": new_tz}), action.id
            )
        return ScheduleUpdate(schedule=sched)

    await handle.update(updater)
    view = await describe_schedule(client, schedule_id)
    assert view is not None
    return view
