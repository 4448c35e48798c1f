"""The weekly report activity: read the ledger, write the report files.

The ledger is synchronous SQLAlchemy and the chart is CPU work, so both run
in a thread, keeping the worker's event loop free for other activities.
"""

from __future__ import annotations

import asyncio

from temporalio import activity

from activities.ledger import LedgerOnDemand
from agentfleet.config import Settings
from agentfleet.contracts.activities import REPORT_ACTIVITY
from agentfleet.contracts.reports import ReportBuildResult, ReportRequest
from agentfleet.ledger.store import Ledger
from agentfleet.reporting.weekly import generate

__all__ = ["ReportActivities"]


class ReportActivities:
    """The weekly report from the ledger (`LedgerOnDemand`: the settings' unless given one)."""

    def __init__(self, settings: Settings, ledger: Ledger | None = None) -> None:
        self._settings = settings
        self._ledger = LedgerOnDemand(settings, ledger)

    def _build(self, req: ReportRequest) -> ReportBuildResult:
        report, files = generate(self._ledger.get(), self._settings.home, req.week, req.tz)
        return ReportBuildResult(
            week=report.week,
            tz=report.tz,
            files=[str(p) for p in files],
            summary=report.summary,
            tasks=report.tasks,
        )

    @activity.defn(name=REPORT_ACTIVITY)
    async def build(self, req: ReportRequest) -> ReportBuildResult:
        """Write the week's report files and return their summary."""
        return await asyncio.to_thread(self._build, req)
