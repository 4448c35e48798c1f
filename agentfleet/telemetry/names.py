"""Names shared by the code that emits telemetry and the dashboards that read it.

Metric names carry no `_total` or unit suffix, like the Temporal SDK's own, so
the same name is used from the worker through the Collector and Prometheus to
every Grafana panel. The static tests check each dashboard query against this
module and against the names a real worker run exported.
"""

from __future__ import annotations

SERVICE_NAME_DEFAULT = "agentfleet-worker"

# Fleet metrics, recorded through workflow.metric_meter()/activity.metric_meter().
TASKS_STARTED = "agentfleet_tasks_started"
TASKS_COMPLETED = "agentfleet_tasks_completed"
TASKS_FAILED = "agentfleet_tasks_failed"
# An agent that stopped as if done but failed its completion check.
TASKS_UNVERIFIED = "agentfleet_tasks_unverified"
SUBAGENTS_SPAWNED = "agentfleet_subagents_spawned"
INLINE_DECISIONS = "agentfleet_inline_decisions"
PRUNED_SUBTASKS = "agentfleet_pruned_subtasks"
BUDGET_EXHAUSTIONS = "agentfleet_budget_exhaustions"
LLM_CALLS = "agentfleet_llm_calls"
LLM_TOKENS = "agentfleet_llm_tokens"
LLM_COST_MICRO_USD = "agentfleet_llm_cost_micro_usd"
LLM_RETRIES = "agentfleet_llm_retries"
TOOL_CALLS = "agentfleet_tool_calls"
TOOL_DENIED = "agentfleet_tool_denied"
# LLM governance (agentfleet/governance): 429s the API answered, 529s, and the
# governor's own view per model (gauges set by LlmGovernorWorkflow).
LLM_RATE_LIMITED = "agentfleet_llm_rate_limited"
LLM_OVERLOADED = "agentfleet_llm_overloaded"
LLM_FALLBACKS = "agentfleet_llm_fallbacks"
GOVERNOR_QUEUE_DEPTH = "agentfleet_governor_queue_depth"
GOVERNOR_IN_FLIGHT = "agentfleet_governor_in_flight"
BREAKER_OPEN = "agentfleet_breaker_open"
BREAKER_TRIPS = "agentfleet_breaker_trips"
GOVERNOR_GAUGES = (GOVERNOR_QUEUE_DEPTH, GOVERNOR_IN_FLIGHT, BREAKER_OPEN)
GOVERNANCE_COUNTERS = (LLM_RATE_LIMITED, LLM_OVERLOADED, LLM_FALLBACKS, BREAKER_TRIPS)
# Gauge set by the weekly audit activity (a report metric, not a fleet counter).
AUDIT_DISCREPANCIES = "agentfleet_audit_discrepancies"

FLEET_METRICS = (
    TASKS_STARTED,
    TASKS_COMPLETED,
    TASKS_UNVERIFIED,
    TASKS_FAILED,
    SUBAGENTS_SPAWNED,
    INLINE_DECISIONS,
    PRUNED_SUBTASKS,
    BUDGET_EXHAUSTIONS,
    LLM_CALLS,
    LLM_TOKENS,
    LLM_COST_MICRO_USD,
    LLM_RETRIES,
    TOOL_CALLS,
    TOOL_DENIED,
)

# Metric attribute keys.
ATTR_ROLE = "role"
ATTR_DEPTH = "depth"
ATTR_TIER = "tier"
ATTR_MODEL = "model"
# input | output | cache_read | cache_creation. `input` is the uncached input only (as the
# API reports it), so a cache hit rate is cache_read / (input + cache_read + cache_creation).
ATTR_DIRECTION = "direction"
DIRECTION_CACHE_READ = "cache_read"
DIRECTION_CACHE_CREATION = "cache_creation"
ATTR_ERROR_CLASS = "error_class"
ATTR_TOOL = "tool"

# Span attributes: OTel GenAI conventions plus the agentfleet namespace.
GEN_AI_OPERATION = "gen_ai.operation.name"
GEN_AI_PROVIDER = "gen_ai.provider.name"
GEN_AI_AGENT_ID = "gen_ai.agent.id"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
# Prompt caching (OTel GenAI): both are also included in gen_ai.usage.input_tokens.
GEN_AI_CACHE_READ_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_CACHE_CREATION_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"

AF_ROOT_ID = "agentfleet.root_id"
AF_DEPTH = "agentfleet.depth"
AF_TIER = "agentfleet.tier"
AF_SCORE = "agentfleet.score"
AF_DECISION = "agentfleet.decision"
AF_PRUNED = "agentfleet.pruned_count"
AF_BUDGET_TOKENS = "agentfleet.budget.tokens"
AF_BUDGET_USD = "agentfleet.budget.usd"
AF_ATTEMPT = "agentfleet.attempt"
AF_STATUS = "agentfleet.status"
AF_SIMULATED = "agentfleet.simulated"
# A master's cost forecast (agentfleet/delegation/forecast.py), set before its plan runs.
AF_FORECAST_USD = "agentfleet.forecast.usd"
# The LLM call's governance: the model first asked for when a fallback answered,
# the time spent waiting for a lease, and the lease itself.
AF_FALLBACK_FROM = "agentfleet.fallback.from_model"
AF_GOVERNOR_WAIT_S = "agentfleet.governor.wait_s"
AF_LEASE_ID = "agentfleet.governor.lease_id"
# An attempt whose request may have reached the API with no answer back (a read timeout,
# a dropped connection): the API may bill it, and the retry's receipts mark it cut.
AF_MAYBE_BILLED = "agentfleet.llm.maybe_billed"
# The completion check on an invoke_agent span (models.Verification).
AF_VERIFY_PASSED = "agentfleet.verification.passed"
AF_VERIFY_MODE = "agentfleet.verification.mode"
AF_VERIFY_CHECKED = "agentfleet.verification.checked"
AF_VERIFY_MISSING = "agentfleet.verification.missing"
# The GenAI conventions' evaluation event, carrying the same check.
GEN_AI_EVALUATION_EVENT = "gen_ai.evaluation.result"
# OTel's `error.type` on a span that ended in error: the classified type of what ended it.
ERROR_TYPE = "error.type"

SPAN_ATTRIBUTES = tuple(
    v for k, v in dict(globals()).items() if k.startswith(("GEN_AI_", "AF_")) and isinstance(v, str)
)
