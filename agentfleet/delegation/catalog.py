"""Model names and prices: pure data, safe to import from workflow code."""

from __future__ import annotations

SMALL_MODEL = "claude-haiku-4-5"
DEFAULT_MODEL = "claude-sonnet-5"
LARGE_MODEL = "claude-opus-5"

# Per-million-token prices in USD: (input, output), from Anthropic's public
# price list (November 2026). The one table receipts, budgets and reports use.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    SMALL_MODEL: (1.0, 5.0),
    DEFAULT_MODEL: (2.0, 10.0),
    "claude-sonnet-4-6": (3.0, 15.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    LARGE_MODEL: (5.0, 25.0),
}


# Prompt caching, as multiples of the input price: a write to the 5-minute cache
# costs 1.25x, a read 0.1x (Anthropic's published rates, the same for every
# current model). CACHE_PRICES_PER_MTOK spells them out per model so a model
# with other rates can be given its own line.
CACHE_WRITE_MULTIPLIER = 1.25
CACHE_READ_MULTIPLIER = 0.1
# Per-million-token prices in USD: (cache write 5 min, cache read).
CACHE_PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    name: (round(p_in * CACHE_WRITE_MULTIPLIER, 6), round(p_in * CACHE_READ_MULTIPLIER, 6))
    for name, (p_in, _) in PRICES_PER_MTOK.items()
}
# The shortest prefix each model caches (Anthropic's documented minimums); a
# shorter one marked with cache_control is processed, and billed, uncached.
CACHE_MIN_TOKENS: dict[str, int] = {
    SMALL_MODEL: 4096,
    DEFAULT_MODEL: 1024,
    "claude-sonnet-4-6": 2048,
    "claude-sonnet-4-5": 1024,
    LARGE_MODEL: 512,
}


def is_known_model(name: str) -> bool:
    """A model in the price table, or a dated snapshot of one."""
    return any(name == k or name.startswith(k + "-") for k in PRICES_PER_MTOK)


def unknown_model_message(name: str) -> str:
    """Why a model name was refused, naming the known ones and where prices live."""
    known = ", ".join(sorted(PRICES_PER_MTOK))
    return (
        f"unknown model {name!r}; known models: {known}"
        " (prices live in agentfleet/delegation/catalog.py)"
    )
