"""The Schedule that runs the weekly report every Monday, as client code.

The CLI (`agentfleet schedule`, `agentfleet dev`) and the tests create, read and move
the schedule; none of it runs inside a workflow. It starts `WeeklyReportWorkflow` by
its type name, so the core never imports `workflows` (issue #14): the name is the
durable contract, not the class.
"""

from __future__ import annotations

from datetime import time, timedelta

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

from agentfleet.contracts.reports import ScheduleView, WeeklyReportInput
from agentfleet.contracts.workflows import WEEKLY_REPORT_WORKFLOW
from agentfleet.reporting.weeks import zone

__all__ = [
    "DEFAULT_AT",
    "SCHEDULE_ID",
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


def parse_hhmm(value: str) -> time:
    """Read `--set-time`'s HH:MM, with an error that shows the expected form."""
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
        WEEKLY_REPORT_WORKFLOW,
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
