"""The statuses an agent's run can end in: one definition for every record that stores them.

A status is a durable value: it is written into workflow results, the ledger, the
fleet's outcomes and the weekly report, and read back months later. Each record keeps
the subset it can hold, built here from the same parts, so a new status is added in
one place and a record that cannot hold it says so by its type.

`completed` is a checked fact: the agent's completion check passed
(`agentfleet.verification.completion`). `unverified`: the agent stopped as if done,
but the check found its work missing.
"""

from __future__ import annotations

from typing import Literal, get_args

# How an agent's own run ends, as the agent itself reports it.
Verdict = Literal["completed", "unverified", "partial", "failed", "canceled", "budget_exhausted"]

# A node of a result tree: still running, a verdict, or a step the master skipped.
NodeStatus = Literal["running", Verdict, "skipped"]

# A closed ledger row. `continued_as_new` closes one run of an agent whose next run
# carries on the task: reports count the chain's last run, never this one.
TerminalStatus = Literal[Verdict, "timed_out", "continued_as_new"]

# A ledger row, open or closed.
LedgerStatus = Literal["running", TerminalStatus]

# A fleet task: the master's own NodeStatus when it returned, else how its execution
# closed (terminated, timed out) or `unknown` when the fleet could not find it.
OutcomeStatus = Literal[Verdict, "skipped", "running", "terminated", "timed_out", "unknown"]

# The statuses that close a task for good: a verdict, or a run Temporal timed out.
# A run that continued as new is closed, but its task is not.
TERMINAL: frozenset[str] = frozenset({*get_args(Verdict), "timed_out"})

__all__ = [
    "TERMINAL",
    "LedgerStatus",
    "NodeStatus",
    "OutcomeStatus",
    "TerminalStatus",
    "Verdict",
]
