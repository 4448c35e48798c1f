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


def is_known_model(name: str) -> bool:
    """A model in the price table, or a dated snapshot of one."""
    return any(name == k or name.startswith(k + "-") for k in PRICES_PER_MTOK)


def unknown_model_message(name: str) -> str:
    known = ", ".join(sorted(PRICES_PER_MTOK))
    return f"unknown model {name!r}; known models: {known} (prices live in agentfleet/catalog.py)"
