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

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.service import RPCError
from temporalio.worker import Replayer, WorkflowRunner
from temporalio.workflow import NondeterminismError

from agentfleet.contracts.workflows import (
    FLEET_WORKFLOW,
    MASTER_WORKFLOW,
    SUBAGENT_WORKFLOW,
    WEEKLY_REPORT_WORKFLOW,
)
from agentfleet.errors import CliError

DEFAULT_TYPES = (MASTER_WORKFLOW, SUBAGENT_WORKFLOW, FLEET_WORKFLOW, WEEKLY_REPORT_WORKFLOW)

# sdk-core names the event it could not match as "HistoryEvent(id: 12, TimerStarted)".
_EVENT_RE = re.compile(r"HistoryEvent\(id: (\d+), (\w+)")
# The SDK wraps core's reason in a Rust debug dump: `message: "[TMPRL1100] ..."`.
_REASON_RE = re.compile(r'message: "((?:[^"\\]|\\.)*)"')
_SINCE_RE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class ReplayFailure:
    """One history that did not replay: the workflow, the event it broke at, and the SDK's words."""

    workflow_id: str
    run_id: str
    workflow_type: str
    kind: str  # "nondeterminism" or "error"
    event_id: int | None
    event_type: str | None
    message: str

    @property
    def reason(self) -> str:
        """The SDK's diff without the wrapping: what differs, in its words."""
        m = _REASON_RE.search(self.message)
        return m.group(1) if m else self.message


@dataclass(frozen=True)
class ReplayReport:
    """What the replay gate found: how many histories replayed and which did not."""

    query: str
    replayed: int
    failures: list[ReplayFailure]

    def to_json(self) -> dict[str, Any]:
        """The report as `agentfleet replay --json` prints it."""
        return {
            "query": self.query,
            "replayed": self.replayed,
            "failures": [{**asdict(f), "reason": f.reason} for f in self.failures],
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
    """The visibility query for the histories to replay: running, or closed within `since`."""
    cutoff = ((now or datetime.now(UTC)) - since).strftime("%Y-%m-%dT%H:%M:%SZ")
    names = ", ".join(f"'{t}'" for t in types)
    query = f"WorkflowType IN ({names}) AND (ExecutionStatus = 'Running' OR CloseTime > '{cutoff}')"
    return f"{query} AND ({extra})" if extra and extra.strip() else query


async def download(client: Client, query: str, limit: int) -> AsyncIterator[WorkflowHistory]:
    """Fetch the history of every workflow `query` matches, as the replayer consumes them."""
    try:
        async for execution in client.list_workflows(query, limit=limit):
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            yield await handle.fetch_history()
    except RPCError as err:
        # A malformed --query comes back as an RPC error naming the problem.
        raise CliError(f"listing workflows failed ({query}): {err.message}") from None


def _event_name(event_type: int) -> str:
    name = EventType.Name(event_type)  # type: ignore[arg-type]
    return name.removeprefix("EVENT_TYPE_")


async def locate(replayer: Replayer, history: WorkflowHistory) -> tuple[int, str] | None:
    """The first command event of the first workflow task that does not replay.

    sdk-core names the event only in some messages ("HistoryEvent(id: 12,
    ...)"); others ("patch marker encountered ... no corresponding change
    command") do not. So the history is cut after each workflow task's
    commands and the shortest failing prefix is found by bisection.
    """
    events = list(history.events)
    completed = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    scheduled = EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
    tasks = [i for i, e in enumerate(events) if e.event_type == completed]

    def cut(j: int) -> WorkflowHistory:
        end = tasks[j] + 1
        while end < len(events) and events[end].event_type != scheduled:
            end += 1
        return WorkflowHistory(history.workflow_id, events[:end])

    async def fails(j: int) -> bool:
        result = await replayer.replay_workflow(cut(j), raise_on_replay_failure=False)
        return result.replay_failure is not None

    lo, hi = 0, len(tasks) - 1
    if hi < 0 or not await fails(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if await fails(mid):
            hi = mid
        else:
            lo = mid + 1
    first = tasks[lo] + 1
    event = events[first] if first < len(events) else events[tasks[lo]]
    return event.event_id, _event_name(event.event_type)


async def describe_failure(
    replayer: Replayer, history: WorkflowHistory, err: Exception
) -> ReplayFailure:
    """A replay failure in words: its kind, and the event it broke at when one can be found."""
    message = str(err)
    first = history.events[0] if history.events else None
    wf_type = first.workflow_execution_started_event_attributes.workflow_type.name if first else "?"
    event_id: int | None = None
    event_type: str | None = None
    m = _EVENT_RE.search(message)
    if m:
        event_id = int(m.group(1))
        event_type = m.group(2)
    else:
        found = await locate(replayer, history)
        if found is not None:
            event_id, event_type = found
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
    # Core's own log lines would land on stdout, inside --json; every failure
    # it would log is in the report.
    quiet = Runtime(telemetry=TelemetryConfig(logging=None))
    replayer = Replayer(
        workflows=workflows, data_converter=client.data_converter, runtime=quiet, **options
    )
    failed: list[tuple[WorkflowHistory, Exception]] = []
    replayed = 0
    async with replayer.workflow_replay_iterator(download(client, query, limit)) as results:
        async for result in results:
            replayed += 1
            if result.replay_failure is not None:
                failed.append((result.history, result.replay_failure))
    failures = [await describe_failure(replayer, h, err) for h, err in failed]
    return ReplayReport(query=query, replayed=replayed, failures=failures)


def render(report: ReplayReport, build_id: str) -> str:
    """The replay report as text: each failure, then the verdict on the rollout."""
    if report.replayed == 0:
        return f"no workflow histories match ({report.query}); nothing to replay"
    lines = [f"replayed {report.replayed} histories on build {build_id}"]
    for f in report.failures:
        where = f"event {f.event_id} ({f.event_type})" if f.event_id else "no event named"
        lines.append(f"FAIL {f.kind}: {f.workflow_type} {f.workflow_id} run {f.run_id}: {where}")
        lines += [f"    {line}" for line in f.reason.splitlines()]
    if report.failures:
        lines.append(
            f"{len(report.failures)} of {report.replayed} histories do not replay on this code: "
            "do not roll it out. Put the change behind workflow.patched(...) and run again."
        )
    else:
        lines.append("every history replays: safe to roll out (README, Deploying)")
    return "\n".join(lines)
