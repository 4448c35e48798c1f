"""The LLM activity's side of the governor: take capacity in blocks, hand it out, settle.

Everything happens inside the worker, with its client: a workflow that calls the
LLM activity knows nothing about governors, so no workflow gains a command and
no history needs a patch. The governor is started on first use
(Update-with-Start, USE_EXISTING), so there is nothing to deploy or schedule.

Per worker and model, one acquire at a time is in flight: calls that arrive
meanwhile wait for it, and it asks for a block as large as the calls waiting (or
as many as the last window made). The block (agentfleet/governance/blocks.py) is
then handed out locally, most urgent caller first, until it is used up or its
window passes; one settle per block returns what its calls did not use.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import Priority, WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from agentfleet.contracts.workflows import GOVERNOR_WORKFLOW
from agentfleet.governance.blocks import BLOCK_USE_S, Block, wanted_block
from agentfleet.governance.limits import GovernorConfig
from agentfleet.governance.models import (
    DEFAULT_PRIORITY,
    CallReport,
    GovernorInput,
    LeaseGrant,
    LeaseRequest,
    LeaseSettle,
    ModelLimitsSpec,
)

log = logging.getLogger("agentfleet.governor")

# The governor refuses acquires only while it hands over to its next run, which
# takes one workflow task: ask again soon.
_HANDOVER_PAUSE_S = 0.1
# The validator's words for it (workflows/governor.py).
HANDOVER_REASON = "continuing as new"


def _aborted(err: RPCError) -> bool:
    """Whether `err` is an Update the governor could not take just now, but will soon.

    Its next workflow task (or its next run, after continue-as-new) takes it:
    aborted as the run closed (UNAVAILABLE, ABORTED) or refused while its workflow
    task was lost in that race (FAILED_PRECONDITION, "not ready"). The lease wait's
    own deadline in the LLM activity bounds how long we keep asking.
    """
    return err.status in (
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.ABORTED,
        RPCStatusCode.FAILED_PRECONDITION,
    ) or ("update was aborted" in err.message)


@dataclass
class Ticket:
    """One call's share of a model's limits: the grant, and the block it was drawn from.

    The block is None when the lease was not granted: the breaker refused it.
    """

    model: str
    grant: LeaseGrant
    block: Block | None = None
    estimate_in: int = 0
    estimate_out: int = 0


@dataclass
class _Waiter:
    req: LeaseRequest
    seq: int
    future: asyncio.Future[Ticket]


@dataclass
class _ModelLeases:
    """One model's blocks in this worker."""

    block: Block | None = None
    waiting: list[_Waiter] = field(default_factory=list)
    acquiring: asyncio.Task[None] | None = None
    # When recent calls asked (monotonic seconds), to size the next block.
    recent: deque[float] = field(default_factory=deque)

    def note(self, now: float) -> int:
        self.recent.append(now)
        while self.recent and self.recent[0] < now - BLOCK_USE_S:
            self.recent.popleft()
        return len(self.recent)


class Governor:
    """This worker's side of every model's governor: blocks taken, handed out, settled."""

    def __init__(self, config: GovernorConfig, client: Client | None = None) -> None:
        self.config = config
        self._client = client
        # The activity's client, kept for settles sent outside any activity (a block
        # whose window ran out while no call was running).
        self._seen_client: Client | None = None
        self._models: dict[str, _ModelLeases] = {}
        self._seq = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()

    def limits_for(self, model: str) -> ModelLimitsSpec | None:
        """The limits governing `model`'s calls, or None when they go straight out."""
        return self.config.for_model(model)

    def client(self) -> Client:
        """The Temporal client to reach the governors with: given, or the activity's."""
        return self._client or self._seen_client or activity.client()

    # --- blocks: what the LLM activity calls ------------------------------------

    async def lease(self, req: LeaseRequest, task_queue: str) -> Ticket:
        """This call's share: from the worker's current block, or from the next one."""
        if self._client is None and self._seen_client is None:
            self._seen_client = activity.client()
        m = self._models.setdefault(req.model, _ModelLeases())
        now = time.monotonic()
        m.note(now)
        if not m.waiting and m.block is not None:
            ticket = self._draw(req, m.block, now)
            if ticket is not None:
                return ticket
            self._drop(req.model, m, m.block)
        waiter = _Waiter(req, next(self._seq), asyncio.get_running_loop().create_future())
        m.waiting.append(waiter)
        if m.acquiring is None or m.acquiring.done():
            m.acquiring = asyncio.create_task(self._fill(req.model, m, task_queue))
        try:
            return await waiter.future
        except asyncio.CancelledError:
            if waiter in m.waiting:
                m.waiting.remove(waiter)
            elif waiter.future.done() and not waiter.future.cancelled():
                if waiter.future.exception() is None:
                    # Drawn just as it was canceled: that call never went out.
                    gone = LeaseSettle(lease_id="", outcome="abandoned")
                    await asyncio.shield(self.finish(waiter.future.result(), gone))
            raise

    async def finish(self, ticket: Ticket, s: LeaseSettle) -> None:
        """A call is over (`s` is its outcome): report a refusal now, settle a used-up block."""
        block = ticket.block
        if block is None:
            return
        block.finish(s, estimate_in=ticket.estimate_in, estimate_out=ticket.estimate_out)
        while block.refused:
            await self.report(ticket.model, block.refused.pop(0))
        m = self._models.get(ticket.model)
        if block.retired and m is not None and m.block is block:
            m.block = None
        if block.due:
            await self.settle(ticket.model, block.settlement())

    def _draw(self, req: LeaseRequest, block: Block, now: float) -> Ticket | None:
        if not block.take(input_tokens=req.input_tokens, output_tokens=req.output_tokens, now=now):
            return None
        return Ticket(req.model, block.grant, block, req.input_tokens, req.output_tokens)

    def _drop(self, model: str, m: _ModelLeases, block: Block) -> None:
        """The block is no longer handed out; settle it once its last call is over."""
        block.retire()
        if m.block is block:
            m.block = None
        if block.due:
            self._background(self.settle(model, block.settlement()))

    def _background(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fill(self, model: str, m: _ModelLeases, task_queue: str) -> None:
        """Ask for blocks while calls wait, and hand each out, most urgent first."""
        while m.waiting:
            order = sorted(m.waiting, key=lambda w: (w.req.priority, w.seq))
            head = order[0].req
            ask = head.model_copy(
                update={
                    # One attempt may head several asks: each block is a lease of its own.
                    "lease_id": f"{head.lease_id}#{next(self._seq)}",
                    "requests": wanted_block(len(order), len(m.recent)),
                    "input_tokens": max(w.req.input_tokens for w in order),
                    "output_tokens": max(w.req.output_tokens for w in order),
                }
            )
            try:
                grant = await self.acquire(ask, task_queue)
            except BaseException as err:
                # Every caller waiting hears the error (or, shut down, is canceled).
                for w in m.waiting:
                    if w.future.done():
                        continue
                    if isinstance(err, Exception):
                        w.future.set_exception(err)
                    else:
                        w.future.cancel()
                m.waiting.clear()
                if isinstance(err, Exception):
                    return
                raise
            if not grant.granted:
                # The breaker refused it: every caller waiting hears so.
                for w in m.waiting:
                    if not w.future.done():
                        w.future.set_result(Ticket(model, grant))
                m.waiting.clear()
                return
            ttl = (ask.limits or ModelLimitsSpec()).lease_ttl_s
            block = Block.of(grant, time.monotonic(), ttl)
            now = time.monotonic()
            for w in sorted(m.waiting, key=lambda w: (w.req.priority, w.seq)):
                ticket = self._draw(w.req, block, now)
                if ticket is None:
                    break
                m.waiting.remove(w)
                w.future.set_result(ticket)
            if block.retired:
                if block.due:
                    self._background(self.settle(model, block.settlement()))
                continue
            m.block = block
            delay = max(0.0, block.usable_until - time.monotonic())
            asyncio.get_running_loop().call_later(delay, self._drop, model, m, block)

    async def acquire(self, req: LeaseRequest, task_queue: str) -> LeaseGrant:
        """Ask until the lease is granted (or the breaker refuses it).

        The governor keeps a few callers waiting inside the Update and tells the
        rest when to ask again; the place in line is kept by the lease id, also
        across the governor's continue-as-new.
        """
        client = self.client()
        busy = 0
        while True:
            # An operation object is good for one call only.
            start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
                GOVERNOR_WORKFLOW,
                GovernorInput(model=req.model, limits=req.limits or ModelLimitsSpec()),
                id=self.config.governor_id(req.model),
                task_queue=task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                static_summary=f"LLM governor · {req.model}",
                # Every LLM call of every goal waits on its tasks: they go first.
                priority=Priority(priority_key=1),
            )
            try:
                grant: LeaseGrant = await client.execute_update_with_start_workflow(
                    "acquire", req, start_workflow_operation=start, result_type=LeaseGrant
                )
            except WorkflowUpdateFailedError as err:
                reason = str(getattr(err.cause, "message", err.cause))
                if HANDOVER_REASON not in reason:
                    raise RuntimeError(f"the governor refused the lease: {reason}") from None
                # Refused by the validator while the governor continues as new.
                await asyncio.sleep(_HANDOVER_PAUSE_S)
                continue
            except WorkflowUpdateRPCTimeoutOrCancelledError:
                # The call outlived its RPC deadline while it waited in line: ask again.
                continue
            except RPCError as err:
                if _aborted(err):
                    # The run that took the Update closed (continue-as-new) before it
                    # answered; the lease id keeps our place with the next run.
                    await asyncio.sleep(random.uniform(_HANDOVER_PAUSE_S / 2, _HANDOVER_PAUSE_S))
                    continue
                if err.status != RPCStatusCode.RESOURCE_EXHAUSTED:
                    raise
                # Too many Updates in flight on the governor: back off, with jitter
                # so the callers do not come back together; an urgent call only
                # briefly, or it would lose the turn its priority gives it.
                busy = min(busy + 1, 1 if req.priority < DEFAULT_PRIORITY else 3)
                await asyncio.sleep(random.uniform(0.02, 0.05 * 2**busy))
                continue
            busy = 0
            if grant.granted or grant.breaker_open:
                return grant
            if not grant.retry_now:
                await asyncio.sleep(grant.retry_after_s)

    async def report(self, model: str, r: CallReport) -> None:
        """A block's call was refused: the governor's breaker and pause act on it now."""
        await self._signal(model, "report", r, f"a {r.outcome} of lease {r.lease_id}")

    async def settle(self, model: str, s: LeaseSettle) -> None:
        """Fire and forget: a lost settle costs capacity until the lease expires, no more."""
        await self._signal(model, "settle", s, f"lease {s.lease_id}")

    async def _signal(self, model: str, name: str, arg: Any, what: str) -> None:
        try:
            await (
                self.client().get_workflow_handle(self.config.governor_id(model)).signal(name, arg)
            )
        except RPCError as err:
            log.warning("could not %s %s with %s: %s", name, what, model, err.message)
