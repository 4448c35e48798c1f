"""Tiny stand-ins for the agent workflows, for the report and audit tests.

They register under the real type names ("MasterAgentWorkflow",
"SubAgentWorkflow") on a test's own task queue, write the ledger through the
real ledger activities and append one `invoke_agent` span per run to the span
file, as the real fleet does. So the report and the audit are tested against
real Temporal visibility without depending on the real agents' wiring, or on
an LLM.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field

    from activities.audit import AuditActivities
    from activities.ledger import LedgerActivities
    from activities.report import ReportActivities
    from agentfleet.audit import spans_path
    from agentfleet.config import Settings
    from agentfleet.contracts.activities import LEDGER_CLOSE_ACTIVITY as RECORD_CLOSE
    from agentfleet.contracts.activities import LEDGER_START_ACTIVITY as RECORD_START
    from agentfleet.contracts.ledger import LedgerClose, LedgerStart, LedgerWriteResult
    from agentfleet.ledger.store import Ledger
    from workflows.report import WeeklyReportWorkflow

EMIT_SPAN = "tests.fake.emit_span"
FAST = RetryPolicy(maximum_attempts=3, initial_interval=timedelta(milliseconds=100))


Outcome = Literal["completed", "unverified", "partial", "failed"]


class FakeTask(BaseModel):
    title: str
    subagents: int = 0
    outcome: Literal["completed", "unverified", "failed"] = "completed"
    sub_outcome: Outcome = "completed"
    model: str = "fake-large"
    sub_model: str = "fake-small"
    tokens: int = 100
    # False: the workflow runs but writes no ledger row (a rogue writer does).
    ledger: bool = True
    spans: bool = True
    # True: record the start, then never finish (until terminated).
    hold: bool = False
    # False: close rows carry no completion check, as rows written before
    # checks existed do (a `completed` then is not a verified completion).
    checked: bool = True


class FakeSubInput(BaseModel):
    title: str
    root_id: str
    parent_id: str
    outcome: Outcome = "completed"
    model: str
    tokens: int
    ledger: bool = True
    spans: bool = True
    checked: bool = True


class FakeOutcome(BaseModel):
    workflow_id: str
    run_id: str
    status: str
    input_tokens: int
    output_tokens: int
    children: list[FakeOutcome] = Field(default_factory=list)


class SpanLine(BaseModel):
    name: str
    agent_id: str
    conversation_id: str
    start: datetime
    end: datetime
    status: str


def missing_path(title: str) -> str:
    """The output an unverified fake agent failed to make."""
    return f"out/{title.replace(' ', '_')}.txt"


def verification(outcome: str, title: str, checked: bool) -> dict[str, object]:
    """The completion-check fields of a close row, as the real agents write
    them: a check runs when the agent ends as if done, not when it fails."""
    if not checked or outcome not in ("completed", "unverified"):
        return {}
    if outcome == "completed":
        return {"verified": True, "verify_mode": "files", "verify_checked": 1, "verify_missing": []}
    return {
        "verified": False,
        "verify_mode": "files",
        "verify_checked": 1,
        "verify_missing": [missing_path(title)],
    }


def _ns(ts: datetime) -> str:
    delta = ts - datetime(1970, 1, 1, tzinfo=UTC)
    return str((delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000)


def otlp_line(span: SpanLine) -> str:
    """One ExportTraceServiceRequest in protobuf-JSON, as the telemetry file
    exporter writes it."""
    ident = os.urandom(8).hex()
    doc = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "fake"}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "tests"},
                        "spans": [
                            {
                                "traceId": os.urandom(16).hex(),
                                "spanId": ident,
                                "name": span.name,
                                "kind": 1,
                                "startTimeUnixNano": _ns(span.start),
                                "endTimeUnixNano": _ns(span.end),
                                "attributes": [
                                    {
                                        "key": "gen_ai.agent.id",
                                        "value": {"stringValue": span.agent_id},
                                    },
                                    {
                                        "key": "gen_ai.conversation.id",
                                        "value": {"stringValue": span.conversation_id},
                                    },
                                    {
                                        "key": "agentfleet.status",
                                        "value": {"stringValue": span.status},
                                    },
                                    {"key": "agentfleet.depth", "value": {"intValue": "0"}},
                                ],
                            }
                        ],
                    }
                ],
            }
        ]
    }
    return json.dumps(doc, separators=(",", ":")) + "\n"


class FakeSpans:
    def __init__(self, path: Path) -> None:
        self.path = path

    @activity.defn(name=EMIT_SPAN)
    async def emit(self, span: SpanLine) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(otlp_line(span))


async def _agent(
    role: Literal["master", "subagent"],
    title: str,
    root_id: str,
    parent_id: str | None,
    model: str,
    tokens: int,
    outcome: str,
    ledger: bool,
    spans: bool,
    children: list[FakeOutcome],
    hold: bool = False,
    checked: bool = True,
) -> FakeOutcome:
    info = workflow.info()
    wid, rid = info.workflow_id, info.run_id
    started = info.workflow_start_time
    if ledger:
        await workflow.execute_activity(
            RECORD_START,
            LedgerStart(
                workflow_id=wid,
                run_id=rid,
                parent_id=parent_id,
                root_id=root_id,
                role=role,
                depth=0 if role == "master" else 1,
                model=model,
                title=title,
                started_at=started,
            ),
            result_type=LedgerWriteResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=FAST,
        )
    if hold:
        await workflow.wait_condition(lambda: False)
    # Subtree totals, as the real agents record them.
    inp_tokens = tokens + sum(c.input_tokens for c in children)
    out_tokens = tokens // 10 + sum(c.output_tokens for c in children)
    closed = workflow.now()
    if ledger:
        await workflow.execute_activity(
            RECORD_CLOSE,
            LedgerClose(
                workflow_id=wid,
                run_id=rid,
                status=outcome,  # type: ignore[arg-type]
                closed_at=closed,
                input_tokens=inp_tokens,
                output_tokens=out_tokens,
                cost_usd=round(inp_tokens * 1e-6, 8),
                failure_reason=(
                    f"fake failure in {title}"
                    if outcome == "failed"
                    else f"missing {missing_path(title)}"
                    if outcome == "unverified"
                    else None
                ),
                **verification(outcome, title, checked),  # type: ignore[arg-type]
            ),
            result_type=LedgerWriteResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=FAST,
        )
    if spans:
        await workflow.execute_activity(
            EMIT_SPAN,
            SpanLine(
                name=f"invoke_agent {role}",
                agent_id=wid,
                conversation_id=root_id,
                start=started,
                end=closed,
                status=outcome,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=FAST,
        )
    return FakeOutcome(
        workflow_id=wid,
        run_id=rid,
        status=outcome,
        input_tokens=inp_tokens,
        output_tokens=out_tokens,
        children=children,
    )


@workflow.defn(name="SubAgentWorkflow")
class FakeSubAgent:
    @workflow.run
    async def run(self, inp: FakeSubInput) -> FakeOutcome:
        return await _agent(
            "subagent",
            inp.title,
            inp.root_id,
            inp.parent_id,
            inp.model,
            inp.tokens,
            inp.outcome,
            inp.ledger,
            inp.spans,
            [],
            checked=inp.checked,
        )


@workflow.defn(name="MasterAgentWorkflow")
class FakeMaster:
    @workflow.run
    async def run(self, inp: FakeTask) -> FakeOutcome:
        wid = workflow.info().workflow_id
        children = await asyncio.gather(
            *(
                workflow.execute_child_workflow(
                    "SubAgentWorkflow",
                    FakeSubInput(
                        title=f"{inp.title} / {i}",
                        root_id=wid,
                        parent_id=wid,
                        outcome=inp.sub_outcome,
                        model=inp.sub_model,
                        tokens=inp.tokens // 2,
                        ledger=inp.ledger,
                        spans=inp.spans,
                        checked=inp.checked,
                    ),
                    id=f"{wid}.{i}",
                    result_type=FakeOutcome,
                )
                for i in range(1, inp.subagents + 1)
            )
        )
        out = await _agent(
            "master",
            inp.title,
            wid,
            None,
            inp.model,
            inp.tokens,
            inp.outcome,
            inp.ledger,
            inp.spans,
            list(children),
            hold=inp.hold,
            checked=inp.checked,
        )
        if inp.outcome == "failed":
            # The workflow itself fails, as a real master does on a fatal
            # error, after recording its close.
            raise ApplicationError(f"fake failure in {inp.title}", non_retryable=True)
        return out


@asynccontextmanager
async def fleet_worker(client: Client, settings: Settings, ledger: Ledger) -> AsyncIterator[None]:
    """The fakes, the ledger activities and the report + audit activities
    and workflow, on the test's task queue."""
    ledger_acts = LedgerActivities(ledger)
    spans = FakeSpans(spans_path(settings.home))
    report = ReportActivities(settings, ledger)
    audit = AuditActivities(settings, ledger)
    async with Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[FakeMaster, FakeSubAgent, WeeklyReportWorkflow],
        activities=[
            ledger_acts.record_start,
            ledger_acts.record_close,
            spans.emit,
            report.build,
            audit.run,
        ],
    ):
        yield


async def run_tasks(
    client: Client, settings: Settings, tasks: list[FakeTask], prefix: str
) -> list[str]:
    """Start every task, wait for each to finish (failed ones included), and
    return their workflow ids."""
    handles = [
        await client.start_workflow(
            "MasterAgentWorkflow",
            t,
            id=f"{prefix}-{i}",
            task_queue=settings.task_queue,
            result_type=FakeOutcome,
        )
        for i, t in enumerate(tasks)
    ]
    for h in handles:
        try:
            await h.result()
        except Exception:
            pass
    return [h.id for h in handles]
