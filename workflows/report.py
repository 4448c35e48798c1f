"""WeeklyReportWorkflow and the Schedule that runs it every Monday.

The workflow only decides which week to report (from `workflow.now()`, so a
replay picks the same week) and calls two activities, the report and the
audit, in parallel; all I/O happens there. A failed audit does not cost the
report: the result says the audit could not run.

The schedule that runs it (`ensure_schedule`, `describe_schedule`,
`update_schedule`) is client code: it lives in `agentfleet.reporting.schedule`,
so the CLI reaches it without importing workflows.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.activities import AUDIT_ACTIVITY, REPORT_ACTIVITY
    from agentfleet.contracts.reports import (
        AuditRequest,
        AuditSummary,
        ReportBuildResult,
        ReportRequest,
        WeeklyReportInput,
        WeeklyReportResult,
    )
    from agentfleet.contracts.workflows import WEEKLY_REPORT_WORKFLOW
    from agentfleet.reporting.weekly import previous_week

from workflows._calls import failure_message

__all__ = ["WeeklyReportWorkflow"]

REPORT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
)


@workflow.defn(name=WEEKLY_REPORT_WORKFLOW)
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
