"""Token prices, looked up in the one table in `catalog.PRICES_PER_MTOK`."""

from __future__ import annotations

from agentfleet.catalog import PRICES_PER_MTOK
from agentfleet.models import Usage


def price_of(model: str) -> tuple[float, float]:
    """(input, output) USD per million tokens.

    Real responses name dated snapshots (`claude-sonnet-4-5-20250929`), so the
    longest table key that prefixes the name wins. An unknown model is priced at
    the dearest rate: a budget must never be under-charged.
    """
    matches = [k for k in PRICES_PER_MTOK if model.startswith(k)]
    if matches:
        return PRICES_PER_MTOK[max(matches, key=len)]
    return max(PRICES_PER_MTOK.values())


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    p_in, p_out = price_of(model)
    return round((input_tokens * p_in + output_tokens * p_out) / 1_000_000, 8)


def usage_for(model: str, input_tokens: int, output_tokens: int) -> Usage:
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost_usd(model, input_tokens, output_tokens),
        llm_calls=1,
    )
