"""Token prices, looked up in the tables in `catalog` (input/output and cache rates)."""

from __future__ import annotations

from typing import Protocol

from agentfleet.contracts.models import LlmResponse, Receipt, Usage
from agentfleet.delegation.catalog import CACHE_PRICES_PER_MTOK, PRICES_PER_MTOK


def _entry(model: str, table: dict[str, tuple[float, float]]) -> tuple[float, float]:
    # Real responses name dated snapshots (`claude-sonnet-4-5-20250929`), so the
    # longest table key that prefixes the name wins. An unknown model is priced at
    # the dearest rate: a budget must never be under-charged.
    matches = [k for k in table if model.startswith(k)]
    if matches:
        return table[max(matches, key=len)]
    return max(table.values())


def price_of(model: str) -> tuple[float, float]:
    """(input, output) USD per million tokens."""
    return _entry(model, PRICES_PER_MTOK)


def cache_price_of(model: str) -> tuple[float, float]:
    """(cache write, cache read) USD per million tokens (5-minute cache)."""
    return _entry(model, CACHE_PRICES_PER_MTOK)


def cost_usd(
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_creation_input_tokens: int = 0,
    cache_read_input_tokens: int = 0,
) -> float:
    """What one call costs, in USD rounded to 8 places, so sums over receipts are exact.

    `input_tokens` is the uncached input only, as the API reports it: cache writes
    and reads are priced apart, at their own rates.
    """
    counts = (input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens)
    if min(counts) < 0:
        raise ValueError(
            f"token counts must not be negative, got input={input_tokens} output={output_tokens} "
            f"cache_creation={cache_creation_input_tokens} cache_read={cache_read_input_tokens}"
        )
    p_in, p_out = price_of(model)
    p_write, p_read = cache_price_of(model)
    micro = (
        input_tokens * p_in
        + output_tokens * p_out
        + cache_creation_input_tokens * p_write
        + cache_read_input_tokens * p_read
    )
    return round(micro / 1_000_000, 8)


def usage_cost(model: str, usage: Usage) -> float:
    """What `usage` costs on `model` by the price table, whatever its own `cost_usd` says."""
    return cost_usd(
        model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens,
        cache_read_input_tokens=usage.cache_read_input_tokens,
    )


class ApiUsage(Protocol):
    """The usage block of an Anthropic Messages response, as far as pricing reads it."""

    input_tokens: int
    output_tokens: int
    # None (not 0) where the API did not cache at all.
    cache_creation_input_tokens: int | None
    cache_read_input_tokens: int | None


def usage_for(model: str, api: ApiUsage) -> Usage:
    """One call's usage as the API reported it, priced: what the LLM activity returns."""
    counted = Usage(
        input_tokens=api.input_tokens,
        output_tokens=api.output_tokens,
        cache_creation_input_tokens=api.cache_creation_input_tokens or 0,
        cache_read_input_tokens=api.cache_read_input_tokens or 0,
        llm_calls=1,
    )
    return counted.model_copy(update={"cost_usd": usage_cost(model, counted)})


def receipts_for(resp: LlmResponse, *, agent_id: str, purpose: str) -> list[Receipt]:
    """The receipts of one LLM call: what the root's reported cost adds up from.

    A zero-cost one per rejected attempt (429/529/5xx responses carry no usage
    and are not billed), then the billed one, so retries stay visible next to
    the spend.
    """
    call = {"agent_id": agent_id, "model": resp.model, "purpose": purpose}
    failed = [
        Receipt(**call, attempt=n, ok=False, simulated=resp.simulated, cut=n in resp.cut_attempts)
        for n in range(1, resp.attempt)
    ]
    billed = Receipt(
        **call,
        **resp.usage.token_counts(),
        request_id=resp.id,
        attempt=resp.attempt,
        simulated=resp.simulated,
    )
    return [*failed, billed]
