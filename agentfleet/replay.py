"""The replay gate: do the histories on a live server replay on this checkout?

Before a rollout, `agentfleet replay` downloads the histories of running and
recently closed workflows and replays each on the workflow code in front of it,
with the real worker's workflow classes and sandbox. A change that would wedge
a running workflow with a NondeterminismError once the new build picks it up
(an unpinned or upgrading run, or a pinned one after a forced move) shows here,
with the workflow, the event and the SDK's own diff, and the command exits 1.

The classes come in as arguments: the core never imports `workflows`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError
from temporalio.worker import Replayer, WorkflowRunner
from temporalio.workflow import NondeterminismError

from agentfleet.errors import CliError

DEFAULT_TYPES = ("MasterAgentWorkflow", "SubAgentWorkflow", "FleetWorkflow", "WeeklyReportWorkflow")

# sdk-core names the event it could not match as "HistoryEvent(id: 12, TimerStarted)".
_EVENT_RE = re.compile(r"HistoryEvent\(id: (\d+), (\w+)")
_SINCE_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class ReplayFailure:
    workflow_id: str
    run_id: str
    workflow_type: str
    kind: str  # "nondeterminism" or "error"
    event_id: int | None
    event_type: str | None
    message: str


@dataclass(frozen=True)
class ReplayReport:
    query: str
    replayed: int
    failures: list[ReplayFailure]

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "replayed": self.replayed,
            "failures": [asdict(f) for f in self.failures],
        }


def parse_since(text: str) -> timedelta:
    """'7d', '12h', '30m', '2w' (a number and one unit)."""
    m = _SINCE_RE.match(text)
    if not m or int(m.group(1)) <= 0:
        raise CliError(f"--since {text!r}: give a positive number and a unit, like 7d, 12h or 30m")
    return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})


def build_query(
    since: timedelta,
    extra: str | None = None,
    types: Sequence[str] = DEFAULT_TYPES,
    now: datetime | None = None,
) -> str:
    cutoff = ((now or datetime.now(UTC)) - since).strftime("%Y-%m-%dT%H:%M:%SZ")
    names = ", ".join(f"'{t}'" for t in types)
    query = f"WorkflowType IN ({names}) AND (ExecutionStatus = 'Running' OR CloseTime > '{cutoff}')"
    return f"{query} AND ({extra})" if extra and extra.strip() else query


async def download(client: Client, query: str, limit: int) -> AsyncIterator[WorkflowHistory]:
    try:
        async for execution in client.list_workflows(query, limit=limit):
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            yield await handle.fetch_history()
    except RPCError as err:
        # A malformed --query comes back as an RPC error naming the problem.
        raise CliError(f"listing workflows failed ({query}): {err.message}") from None


def describe_failure(history: WorkflowHistory, err: Exception) -> ReplayFailure:
    message = str(err)
    first = history.events[0] if history.events else None
    wf_type = first.workflow_execution_started_event_attributes.workflow_type.name if first else "?"
    event_id: int | None = None
    event_type: str | None = None
    m = _EVENT_RE.search(message)
    if m:
        event_id = int(m.group(1))
        event_type = m.group(2)
    return ReplayFailure(
        workflow_id=history.workflow_id,
        run_id=history.run_id,
        workflow_type=wf_type,
        kind="nondeterminism" if isinstance(err, NondeterminismError) else "error",
        event_id=event_id,
        event_type=event_type,
        message=message,
    )


async def replay_live(
    client: Client,
    workflows: Sequence[type],
    query: str,
    limit: int = 1000,
    workflow_runner: WorkflowRunner | None = None,
) -> ReplayReport:
    """Replay every history `query` matches on `workflows`; collect the failures."""
    options: dict[str, Any] = {"workflow_runner": workflow_runner} if workflow_runner else {}
    replayer = Replayer(workflows=workflows, data_converter=client.data_converter, **options)
    failures: list[ReplayFailure] = []
    replayed = 0
    async with replayer.workflow_replay_iterator(download(client, query, limit)) as results:
        async for result in results:
            replayed += 1
            if result.replay_failure is not None:
                failures.append(describe_failure(result.history, result.replay_failure))
    return ReplayReport(query=query, replayed=replayed, failures=failures)


def render(report: ReplayReport, build_id: str) -> str:
    if report.replayed == 0:
        return f"no workflow histories match ({report.query}); nothing to replay"
    lines = [f"replayed {report.replayed} histories on build {build_id}"]
    for f in report.failures:
        where = f"event {f.event_id} ({f.event_type})" if f.event_id else "no event named"
        lines.append(f"FAIL {f.kind}: {f.workflow_type} {f.workflow_id} run {f.run_id}: {where}")
        lines += [f"    {line}" for line in f.message.splitlines()]
    if report.failures:
        lines.append(
            f"{len(report.failures)} of {report.replayed} histories do not replay on this code: "
            "do not roll it out. Put the change behind workflow.patched(...) and run again."
        )
    else:
        lines.append("every history replays: safe to roll out (README, Deploying)")
    return "\n".join(lines)
