"""Block leases: a worker takes a model's capacity in blocks and hands it out locally.

A lease per LLM call costs the governor workflow one Update and one signal per
call, and under a burst that serial round trip, the history it writes and the
continue-as-new it forces are what the fleet waits on. A block lease is one
lease for several calls: the worker asks for as many calls as it has waiting
(or made in the last window), the governor grants what its buckets can spare
(agentfleet/governance/book.py decides, at most `headroom` of the burst), and
the worker hands the block out to its calls without a round trip. When the
block is used up, or its short window has passed, or a call was refused, the
block retires; once its last call has finished, one settle returns what the
calls did not use.

The guarantees stay those of a single lease. A block is debited in full when it
is granted, so no call goes out beyond the limits. A worker that dies holding a
block leaks nothing for good: the block expires after its TTL, its estimate
charged, and a late settle is ignored. Each call is counted once, in its
block's one settle. A refused call (429, 529) is reported at once (`report`),
so the breaker and a `retry-after` act as quickly as before.

Pure bookkeeping, no Temporal and no asyncio: activities/governor.py drives it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentfleet.governance.models import CallReport, LeaseGrant, LeaseSettle, RateHeaders

# A block is handed out locally for at most this long (and at most a quarter of
# its lease's TTL): capacity it did not use goes back to the governor soon.
BLOCK_USE_S = 1.0
# A worker asks for at most this many calls in one block.
MAX_BLOCK = 100


@dataclass
class Block:
    """One granted lease and what this worker's calls have drawn from it."""

    grant: LeaseGrant
    usable_until: float
    requests_left: int
    input_left: int
    output_left: int
    # Calls drawn and not finished yet.
    open: int = 0
    retired: bool = False
    settled: bool = False
    # What the finished calls used, as the book would count a single lease's settle.
    used_requests: int = 0
    used_input: int = 0
    used_output: int = 0
    # The outcome of a block of one call, settled as a single lease always was.
    single: LeaseSettle | None = None
    headers: RateHeaders | None = None
    refused: list[CallReport] = field(default_factory=list)

    @classmethod
    def of(cls, grant: LeaseGrant, now: float, ttl_s: float) -> Block:
        """A fresh block for `grant`, usable for its short window (bounded by the lease TTL)."""
        return cls(
            grant=grant,
            usable_until=now + min(BLOCK_USE_S, ttl_s / 4),
            requests_left=max(1, grant.requests),
            input_left=grant.input_tokens,
            output_left=grant.output_tokens,
        )

    @property
    def lease_id(self) -> str:
        """The governor's lease id, which its one settle names."""
        return self.grant.lease_id

    @property
    def is_single(self) -> bool:
        """A block of one call, settled exactly as a single lease always was."""
        return self.grant.requests <= 1

    def take(self, *, input_tokens: int, output_tokens: int, now: float) -> bool:
        """Draw one call from the block; False (and the block retires) when it cannot."""
        if self.retired:
            return False
        if now >= self.usable_until:
            self.retired = True
            return False
        if self.requests_left < 1 or (
            not self.is_single
            and (input_tokens > self.input_left or output_tokens > self.output_left)
        ):
            self.retired = True
            return False
        self.requests_left -= 1
        self.input_left -= input_tokens
        self.output_left -= output_tokens
        self.open += 1
        if self.requests_left == 0:
            self.retired = True
        return True

    def finish(self, s: LeaseSettle, *, estimate_in: int, estimate_out: int) -> None:
        """One call drawn from this block is over; `s` is its outcome."""
        self.open -= 1
        if self.is_single:
            self.single = s.model_copy(update={"lease_id": self.lease_id})
            return
        if s.headers is not None and (
            self.headers is None
            or (s.headers.observed_at or 0.0) >= (self.headers.observed_at or 0.0)
        ):
            self.headers = s.headers
        if s.outcome == "abandoned":
            # Never sent: the API used nothing.
            return
        self.used_requests += 1
        if s.outcome == "ok":
            self.used_input += s.input_tokens
            self.used_output += s.output_tokens
        elif s.outcome == "error":
            # It may have been processed: its estimate stays charged.
            self.used_input += estimate_in
            self.used_output += estimate_out
        if s.outcome != "ok":
            # Refused or failed: no more calls from this block, and the governor hears
            # of a 429 or 529 at once (its breaker and `retry-after` act on it).
            self.retired = True
            if s.outcome in ("429", "529"):
                self.refused.append(
                    CallReport(
                        lease_id=self.lease_id,
                        outcome="429" if s.outcome == "429" else "529",
                        headers=s.headers,
                    )
                )

    def retire(self) -> None:
        """Hand out no more calls from this block (its window passed, or it was dropped)."""
        self.retired = True

    @property
    def due(self) -> bool:
        """Retired, every call drawn from it finished, and not settled yet."""
        return self.retired and self.open == 0 and not self.settled

    def settlement(self) -> LeaseSettle:
        """The one settle for the whole block (marks it settled)."""
        self.settled = True
        if self.is_single:
            if self.single is not None:
                return self.single
            # Granted for a call that was no longer waiting: nothing went out.
            return LeaseSettle(lease_id=self.lease_id, outcome="ok", requests=0)
        return LeaseSettle(
            lease_id=self.lease_id,
            outcome="ok",
            input_tokens=self.used_input,
            output_tokens=self.used_output,
            requests=self.used_requests,
            headers=self.headers,
        )


def wanted_block(waiting: int, recent: int) -> int:
    """How many calls to ask for: those waiting now, or as many as the last window made."""
    return max(1, min(MAX_BLOCK, max(waiting, recent)))
