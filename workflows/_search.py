"""Custom search attributes, so the Temporal UI and CLI can filter agents.

The keys are agentfleet.contracts.search's, registered by `agentfleet dev` and by the
compose stack's namespace job. Children get theirs at start; a master upserts its own.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.activities import SEARCH_ATTRIBUTES_ACTIVITY
    from agentfleet.contracts.search import (
        AGENT_DEPTH,
        AGENT_KEYS,
        AGENT_ROLE,
        AGENT_TIER,
        ROOT_TASK_ID,
    )

# Guards the upsert command added after histories were first recorded.
PATCH_SEARCH_ATTRIBUTES = "agentfleet-search-attributes-1"

NAMES = [key.name for key in AGENT_KEYS]


def agent_attributes(role: str, tier: str, depth: int, root_id: str) -> TypedSearchAttributes:
    """A child's tags, set when it starts: no upsert command in its history."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(AGENT_ROLE, role),
            SearchAttributePair(AGENT_TIER, tier),
            SearchAttributePair(AGENT_DEPTH, depth),
            SearchAttributePair(ROOT_TASK_ID, root_id),
        ]
    )


async def upsert_own(role: str, tier: str, depth: int, root_id: str) -> bool:
    """Tag a workflow its starter could not tag (a master started from the UI).

    Returns whether the cluster has the attributes, so children are tagged
    only where tagging cannot fail their workflow tasks.
    """
    if not workflow.patched(PATCH_SEARCH_ATTRIBUTES):
        return False
    registered = await workflow.execute_activity(
        SEARCH_ATTRIBUTES_ACTIVITY,
        NAMES,
        result_type=bool,
        # One cluster read at a master's start, safe to repeat: a dead worker's call is
        # retried after the 2 s heartbeat timeout (a slow read beats), not the 3 s
        # start-to-close, nor the 10 s before that (bench/chaos_week.py: the last held
        # run of a restart waited 11.7 s on it, then 3.7 s).
        start_to_close_timeout=timedelta(seconds=3),
        heartbeat_timeout=timedelta(seconds=2),
        retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200)),
        summary="search attributes registered?",
    )
    if registered:
        workflow.upsert_search_attributes(
            [
                AGENT_ROLE.value_set(role),
                AGENT_TIER.value_set(tier),
                AGENT_DEPTH.value_set(depth),
                ROOT_TASK_ID.value_set(root_id),
            ]
        )
    return registered
