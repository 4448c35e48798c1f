"""An Anthropic-compatible HTTP simulator, so agentfleet runs with no API key.

It answers the Messages API with scripted, deterministic replies chosen by the
system prompt's `ROLE:` line, and can inject 429/529/500/401 faults and latency.
It is a test double, not a model: it never pretends to be Claude.
"""

from agentfleet.sim.brain import count_tokens, respond
from agentfleet.sim.cli import main
from agentfleet.sim.protocol import ApiError
from agentfleet.sim.server import SIMULATOR, Simulator

__all__ = ["SIMULATOR", "ApiError", "Simulator", "count_tokens", "main", "respond"]
