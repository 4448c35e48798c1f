"""Payloads between the LLM activity and a model's governor workflow.

Durable contracts like every payload: new fields are optional with defaults.
Times are seconds since the epoch (UTC) as floats: the book does arithmetic on
them, and they come from `workflow.now()`, so replay sees the same numbers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agentfleet.contracts.base import Record

# Temporal's priority keys: 1 is the most urgent; unset means the middle.
DEFAULT_PRIORITY = 3
Dimension = Literal["requests", "input_tokens", "output_tokens"]
DIMENSIONS: tuple[Dimension, ...] = ("requests", "input_tokens", "output_tokens")
BreakerState = Literal["closed", "open"]


class ModelLimitsSpec(Record):
    """One model's limits as the governor holds them (agentfleet.governance.limits)."""

    requests_per_minute: int | None = None
    input_tokens_per_minute: int | None = None
    output_tokens_per_minute: int | None = None
    max_in_flight: int | None = None
    # How many seconds of the per-minute rate may be spent at once. The API may
    # enforce a minute's limit over shorter intervals, so a full minute's burst
    # can be refused; a few seconds' worth never is.
    burst_s: float = 6.0
    # The share of that burst kept free for calls that reach the API late.
    headroom: float = Field(default=0.1, ge=0.0, lt=1.0)
    lease_ttl_s: float = 300.0
    breaker_threshold: int = 5
    breaker_window_s: float = 30.0
    breaker_cooldown_s: float = 30.0


class LeaseRequest(Record):
    """What a worker asks the governor for before its call goes out: one call, or a block."""

    lease_id: str = Field(min_length=1)
    model: str
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    priority: int = DEFAULT_PRIORITY
    fairness_key: str = ""
    limits: ModelLimitsSpec | None = None
    # A block lease (agentfleet/governance/blocks.py): up to this many calls, each
    # estimated at `input_tokens` and `output_tokens`. The governor grants at least
    # one and at most what it can spare; 1 is a lease for one call.
    requests: int = Field(default=1, ge=1)


class _Answer(Record):
    """Whether an acquire was granted; if not, when to ask again; and the line it waited in."""

    lease_id: str
    granted: bool
    # Not granted: the breaker is open (`breaker_open`, for `retry_after_s`), or
    # not yet: ask again at once (`retry_now`) or after `retry_after_s`; the
    # place in line is kept either way.
    breaker_open: bool = False
    retry_now: bool = False
    retry_after_s: float = 0.0
    expires_at: float = 0.0
    waited_s: float = 0.0
    queue_depth: int = 0


class LeaseGrant(_Answer):
    """The governor's answer to an acquire: granted, or when to ask again.

    A grant says what it covers: calls, and tokens in all (a block lease's totals).
    """

    requests: int = 1
    input_tokens: int = 0
    output_tokens: int = 0


class RateHeaders(Record):
    """The `anthropic-ratelimit-*` headers of one response, per dimension."""

    remaining: dict[str, int] = Field(default_factory=dict)
    limit: dict[str, int] = Field(default_factory=dict)
    # Seconds from the response until that dimension is full again.
    reset_in_s: dict[str, float] = Field(default_factory=dict)
    retry_after_s: float | None = None
    # When the response came (seconds since the epoch, UTC): what the API has
    # refilled since then is added to its `remaining`.
    observed_at: float | None = None


class LeaseSettle(Record):
    """What a leased call (or a whole block) used: the book credits back the rest."""

    lease_id: str
    # ok: answered; 429/529: refused by the API; error: anything else;
    # abandoned: the call never went out (canceled while waiting).
    outcome: Literal["ok", "429", "529", "error", "abandoned"] = "ok"
    input_tokens: int = 0
    output_tokens: int = 0
    headers: RateHeaders | None = None
    # A block lease's calls that went out (the rest of its requests come back);
    # None: the lease's one call, as always.
    requests: int | None = None


class CallReport(Record):
    """A call of a block lease the API refused (429, 529).

    The block settles later, but the breaker and a `retry-after` must hear of it now.
    """

    lease_id: str
    outcome: Literal["429", "529"]
    headers: RateHeaders | None = None


class LeaseTerms(Record):
    """What a request asks for and a lease holds, and whose turn it is in line."""

    lease_id: str
    input_tokens: int
    output_tokens: int
    priority: int
    fairness_key: str


class PendingLease(LeaseTerms):
    """A request waiting in line; it travels with the book across continue-as-new."""

    enqueued_at: float
    # When its caller last asked: a caller that stopped asking (its worker died)
    # is dropped from the line instead of being granted a lease nobody uses.
    last_seen: float | None = None
    # Calls wanted (a block lease); tokens above are per call.
    requests: int = 1


class Lease(LeaseTerms):
    """A granted lease the book holds until it is settled or expires."""

    granted_at: float
    expires_at: float
    enqueued_at: float | None = None
    # Its caller has been told: from then on the call can reach the API.
    picked_up: bool = False
    # Calls covered (a block lease); tokens above are the block's totals.
    requests: int = 1


class Bucket(Record):
    """One dimension's token bucket: its level as of `updated_at`, refilled lazily from there."""

    level: float
    updated_at: float


class _LeaseFates(Record):
    """What became of leases: granted, then settled, expired or abandoned."""

    granted: int = 0
    settled: int = 0
    expired: int = 0
    abandoned: int = 0
    # Settles for leases the book no longer holds (expired, or a repeat).
    ignored_settles: int = 0


class _Pushback(Record):
    """Calls held back: callers that gave up waiting, and the API's refusals.

    `dropped`: waiting requests whose caller stopped asking.
    """

    dropped: int = 0
    rate_limited: int = 0
    overloaded: int = 0
    breaker_trips: int = 0


# pydantic lays out the last base's fields first: fates, pushback, charges, as stored.
class BookTotals(_Pushback, _LeaseFates):
    """Running counts of what the book did, for the status query and the benches.

    Carried across continue-as-new in the book's state, so they cover the governor's life.
    """

    # What the book has charged for: a settled lease its actual usage, an
    # expired one its whole estimate (the call may have gone out).
    input_tokens: int = 0
    output_tokens: int = 0
    # Calls settled: a block lease counts the calls it covered, a single lease one.
    calls: int = 0
    # Grants that covered more than one call.
    blocks: int = 0
    # Grants per (priority key, fairness key), e.g. "1/team-a": who was served.
    granted_by: dict[str, int] = Field(default_factory=dict)


class BookState(Record):
    """Everything a governor run hands to its successor on continue-as-new."""

    buckets: dict[str, Bucket] = Field(default_factory=dict)
    waiting: list[PendingLease] = Field(default_factory=list)
    leases: list[Lease] = Field(default_factory=list)
    # Round robin over fairness keys: when each key was last served.
    served: dict[str, int] = Field(default_factory=dict)
    serve_seq: int = 0
    blocked_until: float = 0.0
    overloads: list[float] = Field(default_factory=list)
    breaker_open_until: float = 0.0
    # Limits the API reported lower than the configured ones.
    api_limits: dict[str, int] = Field(default_factory=dict)
    totals: BookTotals = Field(default_factory=BookTotals)
    # Lease ids already granted and gone (settled or expired), newest last, so a
    # repeated settle or a re-sent acquire is recognised.
    closed: list[str] = Field(default_factory=list)


class GovernorInput(Record):
    """A governor run's start: its model and limits, and the book of the run before it."""

    model: str
    limits: ModelLimitsSpec = Field(default_factory=ModelLimitsSpec)
    state: BookState | None = None
    # Tests lower this to see continue-as-new; the server's suggestion also counts.
    max_history: int = 4000


class GovernorStatus(Record):
    """The `status` query's answer: the book's state in numbers, for the CLI and tests."""

    model: str
    run_id: str = ""
    breaker: BreakerState = "closed"
    breaker_open_for_s: float = 0.0
    queue_depth: int = 0
    in_flight: int = 0
    lease_ids: list[str] = Field(default_factory=list)
    waiting_by_key: dict[str, int] = Field(default_factory=dict)
    levels: dict[str, float] = Field(default_factory=dict)
    limits: ModelLimitsSpec = Field(default_factory=ModelLimitsSpec)
    totals: BookTotals = Field(default_factory=BookTotals)
    history_length: int = 0
