"""The weekly audit as an activity: `AuditActivities.run`.

The audit itself (visibility, the ledger as stored, the span file, and
namespace retention) is client code in `agentfleet.audit.run`; this module
only runs it inside the activity and reports the result.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity

from agentfleet.audit.run import (
    audit_path,
    ensure_retention,
    namespace_retention,
    read_ledger,
    read_spans,
    read_visibility,
    run_audit,
    write_audit,
)
from agentfleet.config import Settings
from agentfleet.contracts.reports import AuditRequest, AuditSummary
from agentfleet.ledger.store import Ledger, open_ledger
from agentfleet.telemetry import names as tn

__all__ = [
    "RUN_AUDIT",
    "AuditActivities",
    "audit_path",
    "ensure_retention",
    "namespace_retention",
    "read_ledger",
    "read_spans",
    "read_visibility",
    "run_audit",
    "write_audit",
]

RUN_AUDIT = "agentfleet.audit.run"


class AuditActivities:
    """`AuditActivities(settings)`; the ledger defaults to the one named by
    `AGENTFLEET_LEDGER_URL` (else SQLite in `$AGENTFLEET_HOME`)."""

    def __init__(self, settings: Settings, ledger: Ledger | None = None) -> None:
        self._settings = settings
        self._ledger = ledger

    def _get_ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = open_ledger(self._settings.ledger_url)
        return self._ledger

    @activity.defn(name=RUN_AUDIT)
    async def run(self, req: AuditRequest) -> AuditSummary:
        ledger = await asyncio.to_thread(self._get_ledger)
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
