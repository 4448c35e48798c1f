"""LlmGovernorWorkflow: one model's shared rate limits, as a long-lived workflow.

Every worker asks this workflow (id `agentfleet-governor-<model>`) for a lease
through the `acquire` Update before its LLM calls go out, and reports what they
used through the `settle` signal. A lease may be a block for several calls of
one worker (agentfleet/governance/blocks.py): one Update and one settle serve
them all, and a call of a block the API refused is reported at once through the
`report` signal. The lease book
(agentfleet/governance/book.py) decides; this workflow only gives it the time
(`workflow.now()`), wakes up when capacity refills or a lease expires, and
hands the book to its successor when the history grows long.

Why a workflow: its state is durable and shared by every worker wherever the
Temporal cluster runs, and a crashed worker's lease simply expires. Its limit
is the rate one workflow can take Updates (README, "How the governor scales").

Continue-as-new: new acquires are rejected by the validator (not written to
history; the activity asks again at once), waiting ones are answered
`retry_now` and keep their place in line, because the waiting list travels
with the book to the next run.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.workflows import GOVERNOR_WORKFLOW
    from agentfleet.governance.book import LeaseBook
    from agentfleet.governance.models import (
        CallReport,
        GovernorInput,
        GovernorStatus,
        Lease,
        LeaseGrant,
        LeaseRequest,
        LeaseSettle,
    )
    from agentfleet.telemetry import names as tn

from workflows._upgrade import continue_as_new_upgrading, newer_build_current

# A wake-up sooner than this is rounded up: the book's arithmetic may leave a
# few microseconds, and a zero timer would spin.
MIN_WAKE_S = 0.02
# At most this many acquires wait inside the workflow at once (the server's
# default cap on in-flight Updates per workflow is 10, and settles, queries and
# the next arrivals need room); each waits at most BLOCK_S, then asks again.
MAX_BLOCKED = 4
URGENT_SPARE = 2
BLOCK_S = 10.0
# Everyone else polls: at 80% of its estimated wait, within these bounds.
MIN_POLL_S = 0.05
MAX_POLL_S = 8.0
# The lease fields a grant repeats to its caller.
_GRANTED_TERMS = {"lease_id", "expires_at", "requests", "input_tokens", "output_tokens"}


@workflow.defn(name=GOVERNOR_WORKFLOW)
class LlmGovernorWorkflow:
    """One model's lease book, fed the time and the workers' messages; see the module doc."""

    @workflow.init
    def __init__(self, inp: GovernorInput) -> None:
        self._model = inp.model
        self._max_history = inp.max_history
        self._book = LeaseBook(inp.limits, inp.state, self._now())
        self._changed = False
        self._handing_over = False
        self._gauged: tuple[int, int, bool] | None = None
        self._blocked = 0

    def _now(self) -> float:
        return workflow.now().timestamp()

    # --- messages -------------------------------------------------------------

    @workflow.update(name="acquire")
    async def acquire(self, req: LeaseRequest) -> LeaseGrant:
        """Grant a lease, or say when to ask again; waits briefly while the line moves.

        A few callers wait inside the Update (the server admits few in flight),
        the rest are told to poll; each keeps its place in line by lease id.
        """
        now = self._now()
        book = self._book
        if req.limits is not None:
            book.set_limits(req.limits, now)
        held = book.lease(req.lease_id)
        if held is not None:
            return self._granted(held, now)
        if book.is_closed(req.lease_id):
            # Its lease expired and this attempt asks again: a new attempt gets a new id.
            return LeaseGrant(lease_id=req.lease_id, granted=False, retry_after_s=1.0)
        if book.breaker_open(now):
            return self._refused(req.lease_id, now)
        book.enqueue(req, now)
        self._changed = True
        lid = req.lease_id
        head = book.head()
        first = head is not None and head.priority == req.priority
        # The most urgent waiters may take the spare slots: they are next, and a
        # poll's delay would be idle capacity.
        if self._blocked >= MAX_BLOCKED + (URGENT_SPARE if first else 0):
            # The server admits few Updates in flight per workflow (10 by default):
            # the rest are told when to ask again and keep their place in line.
            return self._later(lid, now)
        self._blocked += 1
        try:
            await workflow.wait_condition(
                lambda: (
                    book.lease(lid) is not None
                    or not book.is_waiting(lid)
                    or self._handing_over
                    or book.breaker_open(self._now())
                ),
                timeout=timedelta(seconds=BLOCK_S),
            )
        except TimeoutError:
            pass
        finally:
            self._blocked -= 1
        now = self._now()
        held = book.lease(lid)
        if held is not None:
            return self._granted(held, now)
        if book.breaker_open(now):
            book.withdraw(lid)
            return self._refused(lid, now)
        if book.is_waiting(lid):
            return LeaseGrant(lease_id=lid, granted=False, retry_now=True)
        # Dropped from the line (it looked gone): join again.
        return LeaseGrant(lease_id=lid, granted=False, retry_now=True)

    def _later(self, lid: str, now: float) -> LeaseGrant:
        eta = self._book.eta(lid, now)
        return LeaseGrant(
            lease_id=lid,
            granted=False,
            retry_after_s=round(min(MAX_POLL_S, max(MIN_POLL_S, eta * 0.8)), 3),
            queue_depth=self._book.queue_depth,
        )

    @acquire.validator
    def _validate_acquire(self, req: LeaseRequest) -> None:
        if self._handing_over:
            raise ValueError("the governor is continuing as new: ask again")
        if req.model != self._model:
            raise ValueError(f"this governor is for {self._model!r}, not {req.model!r}")

    @workflow.signal(name="settle")
    def settle(self, s: LeaseSettle) -> None:
        """A lease's calls are over: the book credits back what they did not use."""
        trips = self._book.s.totals.breaker_trips
        self._book.settle(s, self._now())
        self._after_outcome(trips)

    @workflow.signal(name="report")
    def report(self, r: CallReport) -> None:
        """A block's call was refused: the breaker and `retry-after` act on it now.

        The block settles later; its usage is counted then, once.
        """
        trips = self._book.s.totals.breaker_trips
        self._book.report(r, self._now())
        self._after_outcome(trips)

    def _after_outcome(self, trips_before: int) -> None:
        self._changed = True
        if self._book.s.totals.breaker_trips > trips_before:
            workflow.metric_meter().create_counter(tn.BREAKER_TRIPS).add(
                1, {tn.ATTR_MODEL: self._model}
            )

    @workflow.query(name="status")
    def status(self) -> GovernorStatus:
        """The book in numbers, for `agentfleet governor` and the tests."""
        now = self._now()
        book = self._book
        return GovernorStatus(
            model=self._model,
            run_id=workflow.info().run_id,
            breaker="open" if book.breaker_open(now) else "closed",
            breaker_open_for_s=round(book.breaker_remaining(now), 3),
            queue_depth=book.queue_depth,
            in_flight=book.in_flight,
            lease_ids=book.lease_ids(),
            waiting_by_key=book.waiting_by_key(),
            levels=book.levels(),
            limits=book.limits,
            totals=book.s.totals,
            history_length=workflow.info().get_current_history_length(),
        )

    # --- the loop ---------------------------------------------------------------

    @workflow.run
    async def run(self, inp: GovernorInput) -> GovernorStatus:
        """Tick the book when something changed or capacity refills, until it is time to hand over.

        Never returns: it continues as new with the book, which carries the line.
        """
        while not self._should_continue():
            now = self._now()
            self._book.tick(now)
            self._gauges(now)
            wake = self._book.next_wake(now)
            self._changed = False
            timeout = None if wake is None else timedelta(seconds=max(wake, MIN_WAKE_S))
            try:
                await workflow.wait_condition(lambda: self._changed, timeout=timeout)
            except TimeoutError:
                pass
        self._handing_over = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        continue_as_new_upgrading(
            GovernorInput(
                model=self._model,
                limits=self._book.limits,
                state=self._book.state(),
                max_history=self._max_history,
            )
        )

    def _should_continue(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= self._max_history
            # A new build is current: hand the book over to it (workflows/_upgrade.py).
            or newer_build_current()
        )

    def _granted(self, lease: Lease, now: float) -> LeaseGrant:
        self._book.pick_up(lease.lease_id)
        return LeaseGrant(
            # What the grant covers is what the lease holds, under the same names.
            **lease.model_dump(include=_GRANTED_TERMS),
            granted=True,
            waited_s=max(0.0, lease.granted_at - self._enqueued(lease)),
            queue_depth=self._book.queue_depth,
        )

    def _enqueued(self, lease: Lease) -> float:
        return lease.granted_at if lease.enqueued_at is None else lease.enqueued_at

    def _refused(self, lease_id: str, now: float) -> LeaseGrant:
        return LeaseGrant(
            lease_id=lease_id,
            granted=False,
            breaker_open=True,
            retry_after_s=round(self._book.breaker_remaining(now), 3),
            queue_depth=self._book.queue_depth,
        )

    def _gauges(self, now: float) -> None:
        """Queue depth, leases held and the breaker, for Grafana (not while replaying)."""
        book = self._book
        current = (book.queue_depth, book.in_flight, book.breaker_open(now))
        if current == self._gauged:
            return
        self._gauged = current
        meter = workflow.metric_meter()
        attrs = {tn.ATTR_MODEL: self._model}
        meter.create_gauge(tn.GOVERNOR_QUEUE_DEPTH).set(current[0], attrs)
        meter.create_gauge(tn.GOVERNOR_IN_FLIGHT).set(current[1], attrs)
        meter.create_gauge(tn.BREAKER_OPEN).set(int(current[2]), attrs)
