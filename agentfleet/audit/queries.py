"""Temporal visibility queries for the audit window.

Split out of the audit so the query text, and its refusal to be built from a
naive time or an unsafe literal, reads on its own; `activities/audit.py` runs
these against Temporal.
"""

from __future__ import annotations

from datetime import UTC, datetime

from agentfleet.contracts.workflows import AGENT_WORKFLOW_TYPES

# --- visibility queries ---------------------------------------------------------


def _rfc3339(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts.isoformat()} in a visibility query")
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _literal(value: str) -> str:
    # Task queue names come from configuration; refuse rather than escape,
    # since the visibility grammar's escaping differs across stores.
    if "'" in value or "\\" in value or "\n" in value:
        raise ValueError(f"cannot use {value!r} in a visibility query")
    return f"'{value}'"


def _types_clause(task_queue: str | None) -> str:
    types = ", ".join(_literal(t) for t in AGENT_WORKFLOW_TYPES)
    clause = f"WorkflowType IN ({types})"
    if task_queue:
        clause += f" AND TaskQueue = {_literal(task_queue)}"
    return clause


def closed_query(start: datetime, end: datetime, task_queue: str | None = None) -> str:
    """Agent runs that closed in `[start, end)`."""
    return (
        f"{_types_clause(task_queue)} AND CloseTime >= {_literal(_rfc3339(start))}"
        f" AND CloseTime < {_literal(_rfc3339(end))}"
    )


def running_query(end: datetime, task_queue: str | None = None) -> str:
    """Agent runs still running that started before `end`.

    These are the ones started in the window, and older ones that may be stuck.
    """
    return (
        f"{_types_clause(task_queue)} AND ExecutionStatus = 'Running'"
        f" AND StartTime < {_literal(_rfc3339(end))}"
    )
