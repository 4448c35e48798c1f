"""The lease book: one model's shared capacity, who waits for it, who holds it.

Capacity is a token bucket per dimension (requests, input tokens, output
tokens), refilled continuously at the per-minute limit, as Anthropic's own
limiter works. A grant debits the estimate (input tokens and `max_tokens`, as
the API itself reserves output at `max_tokens` when a request starts); the
settle puts back what was not used. A lease nobody settles (its worker died)
expires after its TTL: its in-flight slot comes back and its estimate stays
charged, because the call may well have reached the API. A settle that comes
after that is ignored, so no lease is counted twice.

Who is served: the most urgent priority first (Temporal's keys: 1 before 5);
within one priority, fairness keys take turns (round robin by when each was
last served), FIFO within a key. The head of that order waits until it fits,
so a large or urgent request is never overtaken by smaller, later ones.

A block lease (agentfleet/governance/blocks.py) is one lease for several calls of
one worker: the request says how many calls it wants, and the grant covers as
many as fit, but only while nobody else waits, no `max_in_flight` cap counts
leases, and at most `headroom` of the burst (the share already kept free for
calls that reach the API late: a block's calls go out over its short window).
Under tight limits a block is one call, exactly the single lease.

All times are seconds (floats) handed in by the caller: the governor workflow
passes `workflow.now()`, so the book is deterministic and replays exactly.
"""

from __future__ import annotations

import math
from typing import Any

from agentfleet.governance.models import (
    DIMENSIONS,
    BookState,
    Bucket,
    CallReport,
    Lease,
    LeaseRequest,
    LeaseSettle,
    LeaseTerms,
    ModelLimitsSpec,
    PendingLease,
    RateHeaders,
)

CLOSED_KEEP = 5000
# A waiting caller asks again at least this often (the governor has it poll at
# most 8 s apart, or block in the update at most 10 s); one silent for longer
# is gone.
STALE_S = 30.0


class LeaseBook:
    """One model's capacity and lines, kept by its governor workflow and handed on in `state()`."""

    def __init__(self, limits: ModelLimitsSpec, state: BookState | None, now: float) -> None:
        self.limits = limits
        self.s = state.model_copy(deep=True) if state is not None else BookState()
        self._leases = {lease.lease_id: lease for lease in self.s.leases}
        self._waiting = {p.lease_id: p for p in self.s.waiting}
        self._closed = dict.fromkeys(self.s.closed)
        for dim in DIMENSIONS:
            if self.limit(dim) and dim not in self.s.buckets:
                self.s.buckets[dim] = Bucket(level=self.capacity(dim), updated_at=now)

    # --- limits --------------------------------------------------------------

    def set_limits(self, limits: ModelLimitsSpec, now: float) -> None:
        """New configuration (a worker restarted with other settings)."""
        if limits == self.limits:
            return
        self.refill(now)
        self.limits = limits
        for dim in DIMENSIONS:
            if self.limit(dim) and dim not in self.s.buckets:
                self.s.buckets[dim] = Bucket(level=self.capacity(dim), updated_at=now)
            elif not self.limit(dim):
                self.s.buckets.pop(dim, None)
            else:
                b = self.s.buckets[dim]
                b.level = min(b.level, self.capacity(dim))

    def limit(self, dim: str) -> int | None:
        """The per-minute limit in force for `dim`: the configured one, or the API's if lower."""
        configured = {
            "requests": self.limits.requests_per_minute,
            "input_tokens": self.limits.input_tokens_per_minute,
            "output_tokens": self.limits.output_tokens_per_minute,
        }.get(dim)
        reported = self.s.api_limits.get(dim)
        if configured and reported:
            return min(configured, reported)
        return configured

    def rate(self, dim: str) -> float:
        """How much of `dim` the bucket refills per second."""
        return (self.limit(dim) or 0) / 60.0

    def capacity(self, dim: str) -> float:
        """The bucket's size: `burst_s` of the rate, less `headroom`.

        Below the API's own bucket by `headroom`: a call reaches the API a little
        after its grant, and the later ones may arrive sooner behind it.
        """
        return max(1.0, self.rate(dim) * self.limits.burst_s * (1.0 - self.limits.headroom))

    # --- time ----------------------------------------------------------------

    def refill(self, now: float) -> None:
        """Bring every bucket up to `now`, so what follows decides on current levels."""
        for dim, b in self.s.buckets.items():
            if now > b.updated_at:
                # A lease its caller has not picked up yet has not reached the API, whose
                # bucket, fuller by that much, stops refilling sooner: so does ours.
                cap = self.capacity(dim) - self._unsent(dim)
                if b.level < cap:
                    b.level = min(cap, b.level + self.rate(dim) * (now - b.updated_at))
                b.updated_at = now

    def _unsent(self, dim: str) -> float:
        return float(sum(self._amount(x, dim) for x in self._leases.values() if not x.picked_up))

    def pick_up(self, lease_id: str) -> None:
        """Its caller has the grant: from now on its call may reach the API (see `refill`)."""
        lease = self._leases.get(lease_id)
        if lease is not None:
            lease.picked_up = True

    def expire(self, now: float) -> list[str]:
        """Close leases past their TTL (their worker died), charging their whole estimate."""
        gone = [lid for lid, lease in self._leases.items() if lease.expires_at <= now]
        for lid in gone:
            lease = self._leases.pop(lid)
            self.s.totals.expired += 1
            self.s.totals.input_tokens += lease.input_tokens
            self.s.totals.output_tokens += lease.output_tokens
            self._close(lid)
        return gone

    def drop_stale(self, now: float) -> list[str]:
        """Take out of line the requests whose callers stopped asking (a worker died).

        Nobody is then granted a lease that nobody would use.
        """
        gone = [
            lid
            for lid, p in self._waiting.items()
            if (p.last_seen if p.last_seen is not None else p.enqueued_at) < now - STALE_S
        ]
        for lid in gone:
            del self._waiting[lid]
            self.s.totals.dropped += 1
        return gone

    def tick(self, now: float) -> list[str]:
        """Expire old leases, then grant in order for as long as the head fits."""
        self.refill(now)
        self.expire(now)
        self.drop_stale(now)
        granted: list[str] = []
        if now < self.s.blocked_until or self.breaker_open(now):
            return granted
        while True:
            head = self.head()
            if head is None or not self._fits(head):
                return granted
            self._grant(head, now)
            granted.append(head.lease_id)

    def next_wake(self, now: float) -> float | None:
        """Seconds until a tick could change something, if nothing else happens."""
        times: list[float] = [lease.expires_at for lease in self._leases.values()]
        if self.breaker_open(now):
            times.append(self.s.breaker_open_until)  # the gauge goes back to closed
        head = self.head()
        if head is not None:
            if now < self.s.blocked_until:
                times.append(self.s.blocked_until)
            elif self.breaker_open(now):
                times.append(self.s.breaker_open_until)
            else:
                times.extend(now + w for w in self._waits(head))
        if not times:
            return None
        return max(0.0, min(times) - now)

    # --- acquiring -------------------------------------------------------------

    def enqueue(self, req: LeaseRequest, now: float) -> None:
        """Queue a request; a lease id already known is left as it is."""
        lid = req.lease_id
        if lid in self._waiting:
            self._waiting[lid].last_seen = now
            return
        if lid in self._leases or lid in self._closed:
            return
        self._waiting[lid] = PendingLease(
            **_terms(req),
            enqueued_at=now,
            last_seen=now,
            requests=req.requests,
        )

    def eta(self, lease_id: str, now: float) -> float:
        """Roughly how long until this waiting request is granted, to tell a poller when to ask.

        The requests of its priority or better queued before it, paid for at the
        refill rate.
        """
        me = self._waiting.get(lease_id)
        if me is None:
            return 0.0
        ahead = [
            p
            for p in self._waiting.values()
            if p.priority < me.priority
            or (p.priority == me.priority and p.enqueued_at <= me.enqueued_at)
        ]
        waits = [max(0.0, self.s.blocked_until - now), self.breaker_remaining(now)]
        for dim, b in self.s.buckets.items():
            need = sum(self._amount(p, dim) for p in ahead)
            waits.append(max(0.0, (need - b.level) / self.rate(dim)))
        return max(waits)

    def lease(self, lease_id: str) -> Lease | None:
        """The lease held under this id, or None (not granted yet, or gone)."""
        return self._leases.get(lease_id)

    def is_waiting(self, lease_id: str) -> bool:
        """Whether the request is still in line (not granted, dropped or withdrawn)."""
        return lease_id in self._waiting

    def is_closed(self, lease_id: str) -> bool:
        """Whether this lease was granted and is gone: a repeat of it is not served again."""
        return lease_id in self._closed

    def withdraw(self, lease_id: str) -> bool:
        """Take a waiting request out of the line (the breaker opened, the caller gave up)."""
        return self._waiting.pop(lease_id, None) is not None

    def head(self) -> PendingLease | None:
        """The request served next: best priority, then the key served longest ago."""
        if not self._waiting:
            return None
        best = min(p.priority for p in self._waiting.values())
        return min(
            (p for p in self._waiting.values() if p.priority == best),
            key=lambda p: (self.s.served.get(p.fairness_key, 0), p.enqueued_at),
        )

    def _amount(self, p: PendingLease | Lease, dim: str) -> int:
        """A lease's whole amount; a waiting request's for its first call."""
        if dim == "requests":
            return p.requests if isinstance(p, Lease) else 1
        return p.input_tokens if dim == "input_tokens" else p.output_tokens

    def _fits(self, p: PendingLease) -> bool:
        if self.limits.max_in_flight and len(self._leases) >= self.limits.max_in_flight:
            return False
        for dim, b in self.s.buckets.items():
            need = self._amount(p, dim)
            # Larger than the whole bucket: it goes when the bucket is full, or never would.
            if b.level < need and b.level < self.capacity(dim) - 1e-9:
                return False
        return True

    def _waits(self, p: PendingLease) -> list[float]:
        waits = []
        for dim, b in self.s.buckets.items():
            cap = self.capacity(dim)
            need = min(float(self._amount(p, dim)), cap)
            if b.level < need:
                waits.append((need - b.level) / self.rate(dim))
        return waits

    def _block_size(self, p: PendingLease) -> int:
        """How many calls a grant to `p` covers: 1, or a block while capacity is spare."""
        if p.requests <= 1 or self.limits.max_in_flight or len(self._waiting) > 1:
            return 1
        calls = p.requests
        for dim, b in self.s.buckets.items():
            each = self._amount(p, dim)
            if each > 0:
                spare = min(b.level, self.capacity(dim) * self.limits.headroom)
                calls = min(calls, math.floor(spare / each))
        return max(1, calls)

    def _grant(self, p: PendingLease, now: float) -> None:
        calls = self._block_size(p)
        del self._waiting[p.lease_id]
        for dim, b in self.s.buckets.items():
            b.level -= self._amount(p, dim) * calls
        self.s.serve_seq += 1
        self.s.served[p.fairness_key] = self.s.serve_seq
        self._leases[p.lease_id] = Lease(
            **_terms(p, calls=calls),
            requests=calls,
            granted_at=now,
            expires_at=now + self.limits.lease_ttl_s,
            enqueued_at=p.enqueued_at,
        )
        self.s.totals.granted += 1
        if calls > 1:
            self.s.totals.blocks += 1
        who = f"{p.priority}/{p.fairness_key}"
        self.s.totals.granted_by[who] = self.s.totals.granted_by.get(who, 0) + 1

    # --- settling ----------------------------------------------------------------

    def settle(self, s: LeaseSettle, now: float) -> bool:
        """Apply a call's outcome; False when the lease is no longer held (ignored)."""
        self.refill(now)
        if s.outcome == "abandoned" and self.withdraw(s.lease_id):
            self.s.totals.abandoned += 1
            return True
        lease = self._leases.pop(s.lease_id, None)
        if lease is None:
            self.s.totals.ignored_settles += 1
            return False
        self._close(s.lease_id)
        if s.outcome == "ok":
            self.s.totals.settled += 1
            self._credit("input_tokens", lease.input_tokens - s.input_tokens)
            self._credit("output_tokens", lease.output_tokens - s.output_tokens)
            self.s.totals.input_tokens += s.input_tokens
            self.s.totals.output_tokens += s.output_tokens
            sent = lease.requests if s.requests is None else min(s.requests, lease.requests)
            self._credit("requests", lease.requests - sent)
            self.s.totals.calls += sent
        elif s.outcome in ("429", "529", "abandoned"):
            # Refused or never sent: the API used nothing (a 429 still counts as a request).
            self.s.totals.settled += 1
            self._credit("input_tokens", lease.input_tokens)
            self._credit("output_tokens", lease.output_tokens)
            if s.outcome == "abandoned":
                self.s.totals.abandoned += 1
                self._credit("requests", lease.requests)
            else:
                self.s.totals.calls += lease.requests
                if s.outcome == "429":
                    self.s.totals.rate_limited += 1
                else:
                    self._overloaded(now)
        else:
            # The call may have been processed: its estimate stays charged.
            self.s.totals.settled += 1
            self.s.totals.calls += lease.requests
            self.s.totals.input_tokens += lease.input_tokens
            self.s.totals.output_tokens += lease.output_tokens
        if s.headers is not None:
            self.observe(s.headers, now, refused=s.outcome == "429")
        return True

    def report(self, r: CallReport, now: float) -> None:
        """A block lease's call was refused: count it and act on it now.

        The block's settle, later, counts its usage; so nothing is counted twice.
        """
        self.refill(now)
        if r.outcome == "429":
            self.s.totals.rate_limited += 1
        else:
            self._overloaded(now)
        if r.headers is not None:
            self.observe(r.headers, now, refused=r.outcome == "429")

    def _credit(self, dim: str, amount: float) -> None:
        b = self.s.buckets.get(dim)
        if b is not None and amount:
            b.level = min(self.capacity(dim), b.level + amount)

    def _close(self, lease_id: str) -> None:
        self._closed[lease_id] = None
        while len(self._closed) > CLOSED_KEEP:
            del self._closed[next(iter(self._closed))]

    # --- what the API says ---------------------------------------------------------

    def observe(self, h: RateHeaders, now: float, *, refused: bool = False) -> None:
        """Adopt the API's view where it is stricter than ours.

        The API sees every caller of the organisation (other apps, other
        fleets) and counts tokens its own way, so its `remaining` can be
        lower than our bucket: we take the lower of the two and never the
        higher (a response is older than the grants made since). A lower
        `limit` than configured is adopted too.
        """
        self.refill(now)
        for dim, value in h.limit.items():
            if dim in DIMENSIONS and value > 0:
                configured = self.limit(dim)
                if configured is not None and value < configured:
                    self.s.api_limits[dim] = value
                    b = self.s.buckets.get(dim)
                    if b is not None:
                        b.level = min(b.level, self.capacity(dim))
        for dim, value in h.remaining.items():
            b = self.s.buckets.get(dim)
            if b is None:
                continue
            # The API rounds down, and it answered a moment ago: its bucket held
            # between `value` and `value + 1` then, and has refilled since. Only
            # when even the upper end is below ours is it surely lower; then we
            # take the lower end.
            since = max(0.0, now - h.observed_at) if h.observed_at else 0.0
            api_now = value + self.rate(dim) * since
            if api_now + 1 < b.level:
                b.level = api_now
        wait = h.retry_after_s
        if refused and wait is None:
            exhausted = [
                h.reset_in_s[d] for d, v in h.remaining.items() if v <= 0 and d in h.reset_in_s
            ]
            wait = min(exhausted) if exhausted else None
        if wait is not None and wait > 0:
            self.s.blocked_until = max(self.s.blocked_until, now + wait)

    # --- the breaker -----------------------------------------------------------------

    def _overloaded(self, now: float) -> None:
        self.s.totals.overloaded += 1
        window = self.limits.breaker_window_s
        recent = [t for t in self.s.overloads if t > now - window] + [now]
        if len(recent) >= self.limits.breaker_threshold and not self.breaker_open(now):
            self.s.breaker_open_until = now + self.limits.breaker_cooldown_s
            self.s.totals.breaker_trips += 1
            recent = []
        self.s.overloads = recent

    def breaker_open(self, now: float) -> bool:
        """Whether overloads (529s) have the breaker refusing leases at `now`."""
        return now < self.s.breaker_open_until

    def breaker_remaining(self, now: float) -> float:
        """Seconds until the breaker closes again (0 when it is closed)."""
        return max(0.0, self.s.breaker_open_until - now)

    # --- views -------------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        """Requests waiting in line."""
        return len(self._waiting)

    @property
    def in_flight(self) -> int:
        """Leases held (granted, not settled or expired)."""
        return len(self._leases)

    def lease_ids(self) -> list[str]:
        """The held leases' ids, sorted, for the status query."""
        return sorted(self._leases)

    def waiting_by_key(self) -> dict[str, int]:
        """Requests waiting per fairness key: who is queued, for the status query."""
        out: dict[str, int] = {}
        for p in self._waiting.values():
            out[p.fairness_key] = out.get(p.fairness_key, 0) + 1
        return out

    def levels(self) -> dict[str, float]:
        """Each bucket's level, rounded for display."""
        return {dim: round(b.level, 3) for dim, b in self.s.buckets.items()}

    def state(self) -> BookState:
        """The whole book as a payload, for the next run after continue-as-new."""
        out = self.s.model_copy(deep=True)
        out.leases = list(self._leases.values())
        out.waiting = list(self._waiting.values())
        out.closed = list(self._closed)
        return out


def _terms(x: LeaseRequest | PendingLease, *, calls: int = 1) -> dict[str, Any]:
    """The lease terms `x` carries into the next stage, its tokens for `calls` calls."""
    terms = x.model_dump(include=set(LeaseTerms.model_fields))
    terms["input_tokens"] *= calls
    terms["output_tokens"] *= calls
    return terms
