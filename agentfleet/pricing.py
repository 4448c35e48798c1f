"""Token prices, looked up in the one table in `catalog.PRICES_PER_MTOK`."""

from __future__ import annotations

from agentfleet.catalog import PRICES_PER_MTOK
from agentfleet.models import LlmResponse, Receipt, Usage


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
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError(
            f"token counts must not be negative, got input={input_tokens} output={output_tokens}"
        )
    p_in, p_out = price_of(model)
    return round((input_tokens * p_in + output_tokens * p_out) / 1_000_000, 8)


def usage_for(model: str, input_tokens: int, output_tokens: int) -> Usage:
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost_usd(model, input_tokens, output_tokens),
        llm_calls=1,
    )


def receipts_for(resp: LlmResponse, agent_id: str, purpose: str) -> list[Receipt]:
    """The receipts of one LLM call: a zero-cost one per rejected attempt
    (429/529/5xx responses carry no usage and are not billed), then the
    billed one. Retries stay visible next to the spend."""
    failed = [
        Receipt(
            agent_id=agent_id,
            model=resp.model,
            attempt=n,
            ok=False,
            purpose=purpose,
            simulated=resp.simulated,
            cut=n in resp.cut_attempts,
        )
        for n in range(1, resp.attempt)
    ]
    return [
        *failed,
        Receipt(
            agent_id=agent_id,
            model=resp.model,
            input_tokens=resp.usage.input_tokens,
            output_tokens=resp.usage.output_tokens,
            cost_usd=resp.usage.cost_usd,
            request_id=resp.id,
            attempt=resp.attempt,
            purpose=purpose,
            simulated=resp.simulated,
        ),
    ]
