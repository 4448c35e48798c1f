"""Activity type names: the one place both sides of every activity call read them.

A workflow schedules an activity by its name and a worker registers the function
under the same name; a history recorded with one name replays only if the code still
uses it. Each name is a durable contract: never change a value, only add names.
"""

from __future__ import annotations

# The model call (activities/llm.py): one turn of an agent.
LLM_ACTIVITY = "agentfleet.llm.chat"
# Sandboxed file tools (activities/tools.py): a call, the workspace, the completion check.
TOOL_ACTIVITY = "agentfleet.tool.run"
WORKSPACE_ACTIVITY = "agentfleet.workspace.prepare"
VERIFY_ACTIVITY = "agentfleet.verify.check"
# The check and the close row of an agent that stopped as if done, in one call
# (activities/completion.py).
CHECKED_CLOSE_ACTIVITY = "agentfleet.verify.check_and_close"
# The tier thresholds and the cluster's search attributes (activities/policy.py).
THRESHOLDS_ACTIVITY = "agentfleet.policy.thresholds"
SEARCH_ATTRIBUTES_ACTIVITY = "agentfleet.cluster.search_attributes"
# MCP servers (activities/mcp.py): the catalogue and one tool call.
MCP_LIST_ACTIVITY = "agentfleet.mcp.list_tools"
MCP_CALL_ACTIVITY = "agentfleet.mcp.call"
# The task ledger's two rows of an agent (activities/ledger.py).
LEDGER_START_ACTIVITY = "agentfleet.ledger.record_start"
LEDGER_CLOSE_ACTIVITY = "agentfleet.ledger.record_close"
# The weekly report and its telemetry audit (activities/report.py, activities/audit.py).
REPORT_ACTIVITY = "agentfleet.report.build"
AUDIT_ACTIVITY = "agentfleet.audit.run"
# The fleet's wait on one master it started (workflows/fleet.py).
AWAIT_MASTER_ACTIVITY = "agentfleet.fleet.await_master"
