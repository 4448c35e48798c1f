"""An Anthropic-compatible HTTP simulator, so agentfleet runs with no API key.

It answers the Messages API with deterministic replies chosen by the system
prompt's `ROLE:` line: the planner answers with a `submit_plan` tool call, and
agents do common file chores with real tool calls (`chores/`). It can show the
bad habits of real models on request (`habits`), and inject 429/529/500/401
faults and latency. It is a test double, not a model: it never pretends to be
Claude, and every response carries an `x-simulator` header.

Directives in a goal or task text script unusual behaviour for tests:
`[sim:habit=NAME,...]` (prose-json, multi-tool, truncate, refusal,
claim-done, bad-args, own-words, guess, context-full, empty-reply; see habits.py),
`[sim:synthesis-habit=NAME]` (the master's summary: truncate, refusal, context-full,
empty-reply), `[sim:empty-stop=max_tokens|stop_sequence]` (how an empty reply ends),
`[sim:truncate-below=N]`,
`[sim:malformed-plans=N]` (the planner's first N plans are invalid) and
`[sim:turns=N]` (an agent looks around for N turns). The planner passes the
agent ones on to every subtask it writes.
"""

from agentfleet.sim.brain import count_tokens, respond
from agentfleet.sim.cli import main
from agentfleet.sim.protocol import ApiError
from agentfleet.sim.server import SIMULATOR, Simulator

__all__ = ["SIMULATOR", "ApiError", "Simulator", "count_tokens", "main", "respond"]
