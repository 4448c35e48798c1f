"""Rate limits in the simulator: refused with Anthropic's 429 and headers, reported on success."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest

from agentfleet.governance.headers import rate_headers
from agentfleet.sim import Simulator
from agentfleet.sim.limits import SimLimits

BODY = {
    "model": "claude-haiku-4-5",
    "max_tokens": 100,
    "system": "ROLE: inline\nAnswer briefly.",
    "messages": [{"role": "user", "content": "What is 2+2?"}],
}


def post(url: str, body: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
    req = urllib.request.Request(
        url + "/v1/messages",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-api-key": "sim"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def test_requests_beyond_the_limit_get_429_with_retry_after_and_headers() -> None:
    # 60 a minute, two at once: the third request in a row is refused.
    with Simulator(port=0, rate_limits=SimLimits(requests_per_minute=60, burst_s=2)) as sim:
        codes = [post(sim.url, BODY) for _ in range(3)]
        assert [c for c, _, _ in codes] == [200, 200, 429]
        ok_headers, (_, headers, body) = codes[0][1], codes[2]
        assert body["error"]["type"] == "rate_limit_error"
        assert headers["retry-after"] == "1"
        assert headers["anthropic-ratelimit-requests-limit"] == "60"
        assert headers["anthropic-ratelimit-requests-remaining"] == "0"
        assert ok_headers["anthropic-ratelimit-requests-remaining"] == "1"
        reset = datetime.fromisoformat(ok_headers["anthropic-ratelimit-requests-reset"])
        assert reset.tzinfo is not None
        assert sim.limiter is not None and sim.limiter.refused == 1
        assert sim.stats()["by_status"] == {"200": 2, "429": 1}
        time.sleep(1.05)  # one request's worth refills
        assert post(sim.url, BODY)[0] == 200


def test_output_is_reserved_at_max_tokens_and_the_unused_part_returned() -> None:
    limits = SimLimits(input_tokens_per_minute=6000, output_tokens_per_minute=600, burst_s=60)
    with Simulator(port=0, rate_limits=limits) as sim:
        status, headers, body = post(sim.url, {**BODY, "max_tokens": 500})
        assert status == 200
        used = body["usage"]["output_tokens"]
        remaining = int(headers["anthropic-ratelimit-output-tokens-remaining"])
        assert 600 - used - 1 <= remaining <= 600 - used + 1
        # More than is left of the 600: refused, though the last answer was short.
        status, headers, _ = post(sim.url, {**BODY, "max_tokens": 600 - used + 50})
        assert status == 429 and int(headers["retry-after"]) >= 1
        # The combined family is the tighter of input and output, as the API reports it.
        view = rate_headers(headers, datetime.now(UTC))
        assert view is not None
        assert headers["anthropic-ratelimit-tokens-remaining"] == str(
            min(view.remaining["input_tokens"], view.remaining["output_tokens"])
        )


def test_limits_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="requests_per_minute must be positive"):
        SimLimits(requests_per_minute=0)
