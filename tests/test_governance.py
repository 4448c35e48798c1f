"""The lease book and the governor's configuration, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agentfleet.governance.book import LeaseBook
from agentfleet.governance.headers import rate_headers
from agentfleet.governance.limits import GovernorConfig, GovernorConfigError
from agentfleet.governance.models import LeaseRequest, LeaseSettle, ModelLimitsSpec, RateHeaders

MODEL = "claude-haiku-4-5"


def req(lid: str, *, prio: int = 3, key: str = "", inp: int = 10, out: int = 10) -> LeaseRequest:
    return LeaseRequest(
        lease_id=lid,
        model=MODEL,
        input_tokens=inp,
        output_tokens=out,
        priority=prio,
        fairness_key=key,
    )


class Book(LeaseBook):
    """The book as the governor drives it: a blocked caller picks its grant up at once."""

    auto_pick = True

    def tick(self, now: float) -> list[str]:
        granted = super().tick(now)
        for lid in granted if self.auto_pick else []:
            self.pick_up(lid)
        return granted


def book(**limits: float) -> Book:
    limits.setdefault("headroom", 0.0)  # the arithmetic below is easier to read without it
    return Book(ModelLimitsSpec(**limits), None, now=0.0)


def test_grants_only_what_the_bucket_holds_and_refills_at_the_rate() -> None:
    b = book(requests_per_minute=60, burst_s=2)  # 1 a second, 2 at once
    for i in range(5):
        b.enqueue(req(f"l{i}"), 0.0)
    assert b.tick(0.0) == ["l0", "l1"]
    assert b.next_wake(0.0) == pytest.approx(1.0)
    assert b.tick(0.5) == []
    assert b.tick(1.0) == ["l2"]
    assert b.tick(3.0) == ["l3", "l4"]


def test_higher_priority_first_then_fifo() -> None:
    b = book(requests_per_minute=60, burst_s=1)
    b.tick(0.0)
    b.enqueue(req("bulk-1", prio=4), 0.0)
    b.enqueue(req("bulk-2", prio=4), 0.1)
    b.enqueue(req("urgent", prio=1), 0.2)
    b.enqueue(req("normal", prio=3), 0.3)
    order = [g for t in range(4) for g in b.tick(float(t))]
    assert order == ["urgent", "normal", "bulk-1", "bulk-2"]


def test_equal_priorities_take_turns_by_fairness_key() -> None:
    """Team a's batch of 50 cannot starve team b's single goal."""
    b = book(requests_per_minute=60, burst_s=1)
    for i in range(50):
        b.enqueue(req(f"a{i}", key="team-a"), 0.0)
    b.tick(0.0)  # a0 takes the only token
    b.enqueue(req("b0", key="team-b"), 0.5)
    b.enqueue(req("c0", key="team-c"), 0.6)
    served = [g for t in range(1, 5) for g in b.tick(float(t))]
    assert served[:3] == ["b0", "c0", "a1"] or served[:3] == ["c0", "b0", "a1"]
    assert served[0] in ("b0", "c0") and "a1" in served


def test_the_head_is_never_overtaken_by_smaller_later_requests() -> None:
    b = book(output_tokens_per_minute=600, burst_s=10)  # 10 a second, 100 at once
    b.enqueue(req("big", out=100), 0.0)
    assert b.tick(0.0) == ["big"]
    b.enqueue(req("big2", out=80), 0.0)
    b.enqueue(req("small", out=1), 0.0)
    assert b.tick(1.0) == []  # 10 back: small would fit, but big2 is first in line
    assert b.tick(8.0) == ["big2"]
    assert b.tick(8.5) == ["small"]


def test_settle_returns_the_unused_estimate_and_counts_actual_usage() -> None:
    b = book(output_tokens_per_minute=600, burst_s=10)
    b.enqueue(req("x", out=100), 0.0)
    b.tick(0.0)
    assert b.levels()["output_tokens"] == 0
    assert b.settle(LeaseSettle(lease_id="x", input_tokens=7, output_tokens=30), 0.0)
    assert b.levels()["output_tokens"] == pytest.approx(70)
    assert (b.s.totals.settled, b.s.totals.output_tokens, b.s.totals.input_tokens) == (1, 30, 7)


def test_a_lease_nobody_settles_expires_and_a_late_settle_is_ignored() -> None:
    b = book(max_in_flight=2, lease_ttl_s=10)
    for lid in ("dead-1", "dead-2", "next"):
        b.enqueue(req(lid, inp=5, out=50), 0.0)
    assert b.tick(0.0) == ["dead-1", "dead-2"]  # the in-flight cap is full
    assert b.tick(9.0) == []
    assert b.next_wake(9.0) == pytest.approx(1.0)
    assert b.tick(10.0) == ["next"]  # the dead worker's capacity came back
    t = b.s.totals
    assert (t.granted, t.expired, t.input_tokens, t.output_tokens) == (3, 2, 10, 100)
    # The killed attempt's settle arrives after all: it changes nothing.
    assert not b.settle(LeaseSettle(lease_id="dead-1", output_tokens=1), 11.0)
    assert not b.settle(LeaseSettle(lease_id="dead-1", output_tokens=1), 11.0)
    assert (t.expired, t.settled, t.ignored_settles, t.output_tokens) == (2, 0, 2, 100)
    assert b.settle(LeaseSettle(lease_id="next", output_tokens=20), 11.0)
    # Repeated acquires of a closed lease id are not queued again.
    b.enqueue(req("dead-1"), 12.0)
    assert b.queue_depth == 0


def test_state_survives_continue_as_new() -> None:
    b = book(requests_per_minute=60, burst_s=1, lease_ttl_s=30)
    b.enqueue(req("held"), 0.0)
    b.enqueue(req("waits", key="k"), 0.0)
    b.tick(0.0)
    again = Book(b.limits, b.state(), now=0.5)
    assert again.lease_ids() == ["held"] and again.is_waiting("waits")
    assert again.tick(1.0) == ["waits"]
    assert again.settle(LeaseSettle(lease_id="held"), 1.0)
    assert again.s.totals.granted == 2


def test_api_headers_lower_the_bucket_and_the_limit_never_raise_them() -> None:
    b = book(requests_per_minute=120, input_tokens_per_minute=6000, burst_s=10)
    b.observe(RateHeaders(remaining={"requests": 3, "input_tokens": 5000}), 0.0)
    assert b.levels()["requests"] == 3  # the API saw traffic we did not
    assert b.levels()["input_tokens"] == 1000  # ours was already lower
    b.observe(RateHeaders(limit={"requests": 60}), 0.0)
    assert b.limit("requests") == 60 and b.capacity("requests") == 10
    b.observe(RateHeaders(limit={"requests": 1000}), 0.0)
    assert b.limit("requests") == 60


def test_a_remaining_within_rounding_of_ours_changes_nothing() -> None:
    b = book(requests_per_minute=60, burst_s=10)
    b.observe(RateHeaders(remaining={"requests": 9}), 0.0)
    assert b.levels()["requests"] == 10  # the API's 9 may be 9.99: not surely lower
    # Seen 2 s ago, the API's 3 has refilled to 5 by now.
    b.observe(RateHeaders(remaining={"requests": 3}, observed_at=8.0), 10.0)
    assert b.levels()["requests"] == 5


def test_headroom_keeps_part_of_the_burst_free() -> None:
    b = LeaseBook(ModelLimitsSpec(requests_per_minute=600), None, now=0.0)
    assert b.capacity("requests") == pytest.approx(54)  # 10 a second, 6 s, 10% kept free


def test_retry_after_on_a_429_stops_granting_until_it_passes() -> None:
    b = book(requests_per_minute=600, burst_s=10)
    b.enqueue(req("a"), 0.0)
    b.tick(0.0)
    b.settle(LeaseSettle(lease_id="a", outcome="429", headers=RateHeaders(retry_after_s=4)), 0.0)
    b.enqueue(req("b"), 0.0)
    assert b.tick(3.9) == [] and b.next_wake(3.9) == pytest.approx(0.1)
    assert b.tick(4.0) == ["b"]
    assert b.s.totals.rate_limited == 1


def test_breaker_opens_after_sustained_529s_and_closes_after_the_cool_down() -> None:
    b = book(
        requests_per_minute=6000, breaker_threshold=3, breaker_window_s=10, breaker_cooldown_s=30
    )
    for i, t in enumerate((0.0, 20.0, 21.0)):  # the first one is outside the window
        b.enqueue(req(f"o{i}"), t)
        b.tick(t)
        b.settle(LeaseSettle(lease_id=f"o{i}", outcome="529"), t)
    assert not b.breaker_open(21.0)
    b.enqueue(req("o3"), 22.0)
    b.tick(22.0)
    b.settle(LeaseSettle(lease_id="o3", outcome="529"), 22.0)
    assert b.breaker_open(22.0) and b.breaker_remaining(22.0) == 30
    b.enqueue(req("later"), 23.0)
    assert b.tick(30.0) == []
    assert b.tick(52.0) == ["later"]
    assert b.s.totals.breaker_trips == 1 and b.s.totals.overloaded == 4


def test_rate_headers_parse_anthropic_names() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    h = rate_headers(
        {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:02Z",
            "anthropic-ratelimit-input-tokens-remaining": "9000",
            "anthropic-ratelimit-tokens-remaining": "800",
            "retry-after": "3",
        },
        now,
    )
    assert h is not None
    # The combined family stands in for output only: input has its own header.
    assert h.remaining == {"requests": 49, "input_tokens": 9000, "output_tokens": 800}
    assert h.limit == {"requests": 50} and h.reset_in_s == {"requests": 2.0}
    assert h.retry_after_s == 3.0
    assert rate_headers({"content-type": "application/json"}, now) is None


def test_config_from_env_and_clear_errors() -> None:
    assert GovernorConfig.from_env({}).for_model(MODEL) is None
    cfg = GovernorConfig.from_env(
        {
            "AGENTFLEET_GOV_RPM": "50",
            "AGENTFLEET_RATE_LIMITS": '{"claude-opus-4-5": {"otpm": 800, "max_in_flight": 4}}',
            "AGENTFLEET_GOV_LEASE_TTL_S": "60",
            "AGENTFLEET_FALLBACK_MODELS": '{"claude-opus-4-5": "claude-sonnet-5"}',
        }
    )
    haiku, opus = cfg.for_model(MODEL), cfg.for_model("claude-opus-4-5")
    assert haiku is not None and haiku.requests_per_minute == 50 and haiku.lease_ttl_s == 60
    assert opus is not None and opus.output_tokens_per_minute == 800 and opus.max_in_flight == 4
    assert cfg.fallback("claude-opus-4-5") == "claude-sonnet-5"
    off = GovernorConfig.from_env({"AGENTFLEET_GOV_RPM": "50", "AGENTFLEET_GOVERNOR": "off"})
    assert off.for_model(MODEL) is None
    for env, fragment in (
        ({"AGENTFLEET_GOV_RPM": "lots"}, "AGENTFLEET_GOV_RPM must be a number"),
        ({"AGENTFLEET_RATE_LIMITS": "[1]"}, "AGENTFLEET_RATE_LIMITS must be a JSON object"),
        ({"AGENTFLEET_RATE_LIMITS": '{"*": {"rpn": 5}}'}, "unknown field 'rpn'"),
        ({"AGENTFLEET_RATE_LIMITS": '{"*": {"rpm": -1}}'}, "rpm must be a positive number"),
        ({"AGENTFLEET_RATE_LIMITS": '{"*": {"rpm": 5, "headroom": 2}}'}, "'\\*'\\]\\.headroom"),
        ({"AGENTFLEET_FALLBACK_MODELS": '{"a": 3}'}, "AGENTFLEET_FALLBACK_MODELS['a']"),
        ({"AGENTFLEET_FALLBACK_MODELS": '{"a": "gpt-9"}'}, "AGENTFLEET_FALLBACK_MODELS['a']: "),
    ):
        with pytest.raises(GovernorConfigError, match=fragment.replace("[", r"\[")):
            GovernorConfig.from_env(env)


def test_a_grant_not_yet_picked_up_stops_the_refill_as_the_api_bucket_would() -> None:
    """Granted at 0 but sent at 2: the API's bucket stayed full meanwhile and lost that
    refill, so ours must not count it either, or the next grants would meet a 429."""
    b = book(requests_per_minute=60, burst_s=3)  # 1 a second, 3 at once
    b.auto_pick = False
    for lid in ("a", "b", "c", "d"):
        b.enqueue(req(lid), 0.0)
    assert b.tick(0.0) == ["a", "b", "c"]
    assert b.tick(2.0) == []  # nothing sent yet: the API still has 3, ours stays at 0
    for lid in ("a", "b", "c"):
        b.pick_up(lid)
    assert b.tick(2.0) == [] and b.tick(3.0) == ["d"]


def block_req(lid: str, *, calls: int, inp: int = 10, out: int = 10, key: str = "") -> LeaseRequest:
    return req(lid, inp=inp, out=out, key=key).model_copy(update={"requests": calls})


def test_a_block_lease_covers_several_calls_within_the_headroom_and_settles_once() -> None:
    # Blocks take at most the headroom (20%) of the burst.
    b = book(requests_per_minute=1000, output_tokens_per_minute=100_000, burst_s=6, headroom=0.2)
    b.enqueue(block_req("w1#0", calls=50, out=100), 0.0)
    assert b.tick(0.0) == ["w1#0"]
    held = b.lease("w1#0")
    assert held is not None
    # Buckets of 80 requests and 8,000 output tokens (the burst less its headroom): 16
    # requests' worth of headroom, and 1,600 output tokens' worth is 16 calls too.
    assert (held.requests, held.output_tokens, held.input_tokens) == (16, 1600, 160)
    assert b.levels()["requests"] == pytest.approx(80 - 16)
    # 12 calls went out: the other 4 requests and the unused tokens come back.
    settle = LeaseSettle(lease_id="w1#0", input_tokens=70, output_tokens=300, requests=12)
    assert b.settle(settle, 0.0)
    assert b.levels()["requests"] == pytest.approx(80 - 12)
    assert b.levels()["output_tokens"] == pytest.approx(8000 - 300)  # 1,300 came back
    t = b.s.totals
    assert (t.granted, t.blocks, t.settled, t.calls, t.output_tokens) == (1, 1, 1, 12, 300)
    # Said twice (a repeated signal), it counts once.
    assert not b.settle(settle, 0.1)
    assert (t.settled, t.calls, t.ignored_settles) == (1, 12, 1)


def test_a_block_is_one_call_while_others_wait_or_in_flight_is_capped_or_limits_are_tight() -> None:
    b = book(requests_per_minute=1000, burst_s=6, headroom=0.2)
    b.enqueue(block_req("w1#0", calls=30), 0.0)
    b.enqueue(block_req("w2#0", calls=30), 0.0)
    assert b.tick(0.0) == ["w1#0", "w2#0"]
    lease1, lease2 = b.lease("w1#0"), b.lease("w2#0")
    assert lease1 is not None and lease2 is not None
    # Someone else waited behind the first: it got one call; the last one a block.
    assert (lease1.requests, lease2.requests) == (1, 16)
    capped = book(requests_per_minute=1000, burst_s=6, headroom=0.2, max_in_flight=5)
    capped.enqueue(block_req("w1#0", calls=30), 0.0)
    capped.tick(0.0)
    assert capped.lease("w1#0").requests == 1  # type: ignore[union-attr]
    # 60 a minute over 2 s with 10% headroom: 0.18 of a call is spare, so one call.
    tight = book(requests_per_minute=60, burst_s=2, headroom=0.1)
    tight.enqueue(block_req("w1#0", calls=30), 0.0)
    tight.tick(0.0)
    assert tight.lease("w1#0").requests == 1  # type: ignore[union-attr]


def test_a_dead_workers_block_expires_charged_and_its_late_settle_is_ignored() -> None:
    b = book(requests_per_minute=6000, burst_s=6, headroom=0.2, lease_ttl_s=10)
    b.enqueue(block_req("w1#0", calls=40, inp=5, out=50), 0.0)
    b.tick(0.0)
    held = b.lease("w1#0")
    assert held is not None and held.requests == 40
    b.tick(10.0)
    t = b.s.totals
    assert (t.expired, t.input_tokens, t.output_tokens) == (1, 200, 2000)
    assert not b.settle(LeaseSettle(lease_id="w1#0", output_tokens=1, requests=3), 11.0)
    assert (t.settled, t.calls, t.ignored_settles, t.output_tokens) == (0, 0, 1, 2000)


def test_a_refused_call_of_a_block_acts_at_once_and_counts_once() -> None:
    from agentfleet.governance.models import CallReport

    b = book(requests_per_minute=6000, burst_s=6, headroom=0.2, breaker_threshold=2)
    b.enqueue(block_req("w1#0", calls=10), 0.0)
    b.tick(0.0)
    b.report(CallReport(lease_id="w1#0", outcome="429", headers=RateHeaders(retry_after_s=5)), 1.0)
    assert b.s.blocked_until == pytest.approx(6.0)
    b.report(CallReport(lease_id="w1#0", outcome="529"), 1.0)
    b.report(CallReport(lease_id="w1#0", outcome="529"), 1.1)
    assert b.breaker_open(1.2)
    t = b.s.totals
    assert (t.rate_limited, t.overloaded, t.breaker_trips) == (1, 2, 1)
    # The block's one settle counts its three refused calls as requests, no tokens.
    assert b.settle(LeaseSettle(lease_id="w1#0", requests=3), 2.0)
    assert (t.settled, t.calls, t.rate_limited, t.input_tokens) == (1, 3, 1, 0)


def test_a_worker_hands_a_block_out_until_it_is_used_up_then_settles_what_its_calls_used() -> None:
    from agentfleet.governance.blocks import Block
    from agentfleet.governance.models import LeaseGrant

    grant = LeaseGrant(lease_id="b", granted=True, requests=3, input_tokens=300, output_tokens=30)
    block = Block.of(grant, now=0.0, ttl_s=300)
    assert block.take(input_tokens=100, output_tokens=10, now=0.1) and block.take(
        input_tokens=100, output_tokens=10, now=0.2
    )
    assert not block.due  # two calls out
    block.finish(
        LeaseSettle(lease_id="", input_tokens=40, output_tokens=5), estimate_in=100, estimate_out=10
    )
    block.finish(
        LeaseSettle(lease_id="", outcome="abandoned"), estimate_in=100, estimate_out=10
    )  # never sent
    assert not block.retired and not block.due  # one call left in it, for a second more
    assert block.take(input_tokens=100, output_tokens=10, now=0.5)
    assert block.retired  # used up
    block.finish(
        LeaseSettle(lease_id="", outcome="error"), estimate_in=100, estimate_out=10
    )  # may have gone out
    assert block.due
    s = block.settlement()
    assert (s.lease_id, s.outcome, s.requests) == ("b", "ok", 2)
    assert (s.input_tokens, s.output_tokens) == (140, 15)
    assert not block.due  # settled once


def test_a_block_retires_after_its_window_on_a_refusal_or_when_a_call_does_not_fit() -> None:
    from agentfleet.governance.blocks import BLOCK_USE_S, Block
    from agentfleet.governance.models import LeaseGrant

    grant = LeaseGrant(lease_id="b", granted=True, requests=5, input_tokens=50, output_tokens=50)
    late = Block.of(grant, now=0.0, ttl_s=300)
    assert (
        not late.take(input_tokens=10, output_tokens=10, now=BLOCK_USE_S)
        and late.retired
        and late.due
    )
    assert late.settlement().requests == 0  # nothing used: all of it comes back
    # A lease TTL shorter than the window shortens it.
    assert Block.of(grant, now=0.0, ttl_s=2).usable_until == pytest.approx(0.5)
    big = Block.of(grant, now=0.0, ttl_s=300)
    assert not big.take(input_tokens=60, output_tokens=10, now=0.1) and big.retired
    refused = Block.of(grant, now=0.0, ttl_s=300)
    assert refused.take(input_tokens=10, output_tokens=10, now=0.1) and refused.take(
        input_tokens=10, output_tokens=10, now=0.1
    )
    refused.finish(LeaseSettle(lease_id="", outcome="529"), estimate_in=10, estimate_out=10)
    assert refused.retired and [r.outcome for r in refused.refused] == ["529"]
    assert not refused.take(input_tokens=10, output_tokens=10, now=0.2)
    refused.finish(
        LeaseSettle(lease_id="", input_tokens=3, output_tokens=4), estimate_in=10, estimate_out=10
    )
    s = refused.settlement()
    assert (s.requests, s.input_tokens, s.output_tokens) == (2, 3, 4)


def test_a_block_of_one_settles_as_the_single_lease_always_did() -> None:
    from agentfleet.governance.blocks import Block
    from agentfleet.governance.models import LeaseGrant

    grant = LeaseGrant(lease_id="one", granted=True, input_tokens=10, output_tokens=10)
    block = Block.of(grant, now=0.0, ttl_s=300)
    assert block.take(input_tokens=10, output_tokens=10, now=0.0) and block.retired
    headers = RateHeaders(retry_after_s=3)
    block.finish(
        LeaseSettle(lease_id="", outcome="429", headers=headers), estimate_in=10, estimate_out=10
    )
    assert block.refused == []  # the settle itself carries the 429
    s = block.settlement()
    assert (s.lease_id, s.outcome, s.requests, s.headers) == ("one", "429", None, headers)
