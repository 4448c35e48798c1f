"""Completion claims: a ledger row that says `completed` must carry a passing check.

Split out of the audit because it is a different question from the other
findings: not whether the three records agree, but whether the one that the
report counts is telling the truth (issue #13). A run that ended
`unverified` is honest and not a finding; `completed` with a failed check,
or with none recorded, is.
"""

from __future__ import annotations

from agentfleet.audit.scope import Key
from agentfleet.audit.timestamps import _say_ledger
from agentfleet.contracts.reports import Discrepancy, LedgerEntry


def unverified_completion(key: Key, entry: LedgerEntry) -> Discrepancy | None:
    """A `completed` row without a passing completion check.

    The ledger claims work that nothing verified: a failed check that was
    still recorded as done, or no check at all.
    """
    if entry.status != "completed" or (entry.verified is True and not entry.verify_problems):
        return None
    if entry.verified is False:
        missing = entry.verify_missing or []
        why = "its completion check failed" + (
            f" (missing: {', '.join(missing)})" if missing else ""
        )
        said = "check failed"
    else:
        why = (
            "no completion check is recorded (the check never ran, or the row was written "
            "before checks existed)"
        )
        said = "no check recorded"
    extra = f"; {'; '.join(entry.verify_problems)}" if entry.verify_problems else ""
    wid, rid = key
    return Discrepancy(
        kind="unverified_completion",
        workflow_id=wid,
        run_id=rid,
        detail=f"the ledger says completed, but {why}{extra}: not verified work",
        ledger=f"{_say_ledger(entry)}, {said}",
    )
