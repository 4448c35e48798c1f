"""The weekly audit as an activity: `AuditActivities.run`.

The audit itself (visibility, the ledger as stored, the span file, and
namespace retention) is client code in `agentfleet.audit.run`; this module
only runs it inside the activity and reports the result.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity

from activities.ledger import LedgerOnDemand
from agentfleet.config import Settings
from agentfleet.contracts.activities import AUDIT_ACTIVITY
from agentfleet.contracts.reports import AuditRequest, AuditSummary
from agentfleet.ledger.store import Ledger
from agentfleet.telemetry import names as tn

__all__ = ["AuditActivities"]


class AuditActivities:
    """The weekly audit of the ledger (`LedgerOnDemand`: the settings' unless given one)."""

    def __init__(self, settings: Settings, ledger: Ledger | None = None) -> None:
        self._settings = settings
        self._ledger = LedgerOnDemand(settings, ledger)

    @activity.defn(name=AUDIT_ACTIVITY)
    async def run(self, req: AuditRequest) -> AuditSummary:
        """Audit the week, write the audit file, and set the dashboard's discrepancy gauge."""
        # Weekly work: its reconciliation and reports are not imported before a worker polls.
        from agentfleet.audit.run import run_audit, write_audit

        ledger = await asyncio.to_thread(self._ledger.get)
        audit = await run_audit(
            activity.client(),
            ledger,
            self._settings.home,
            req.week,
            req.tz,
            task_queue=self._settings.task_queue,
            running_limit=timedelta(hours=req.running_limit_hours),
        )
        path = await asyncio.to_thread(write_audit, audit, self._settings.home)
        # The Weekly report dashboard's big number, which must read 0.
        activity.metric_meter().create_gauge(
            tn.AUDIT_DISCREPANCIES, "discrepancies found by the last weekly audit"
        ).set(len(audit.discrepancies), {"week": audit.week})
        return AuditSummary(
            week=audit.week,
            tz=audit.tz,
            clean=audit.clean,
            discrepancies=len(audit.discrepancies),
            by_kind=audit.by_kind,
            file=str(path),
        )
