"""Custom search attributes: the keys agents are tagged with, defined once.

Workflows tag agents with them (workflows/_search.py), `agentfleet dev` registers
them on the dev server (agentfleet/cli/devserver.py), and the compose stack's
namespace job registers the same list (docker/docker-compose.yml; a test checks it
against `SEARCH_ATTRIBUTES`). The names are durable: saved queries use them.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

AGENT_ROLE = SearchAttributeKey.for_keyword("AgentRole")
AGENT_TIER = SearchAttributeKey.for_keyword("AgentTier")
AGENT_DEPTH = SearchAttributeKey.for_int("AgentDepth")
ROOT_TASK_ID = SearchAttributeKey.for_keyword("RootTaskId")

AGENT_KEYS = (AGENT_ROLE, AGENT_TIER, AGENT_DEPTH, ROOT_TASK_ID)

# Each key's name and its type as `temporal operator search-attribute create` spells it.
# (KEYWORD -> "Keyword", INT -> "Int").
SEARCH_ATTRIBUTES: dict[str, str] = {
    key.name: key.indexed_value_type.name.title() for key in AGENT_KEYS
}
