"""Workflow type names: the one place starters, decorators and queries read them.

A client starts a workflow, a parent a child, and visibility is queried, by these
names; a history recorded under a name replays only if a worker still registers it.
Each name is a durable contract: never change a value, only add names.
"""

from __future__ import annotations

MASTER_WORKFLOW = "MasterAgentWorkflow"
SUBAGENT_WORKFLOW = "SubAgentWorkflow"
FLEET_WORKFLOW = "FleetWorkflow"
WEEKLY_REPORT_WORKFLOW = "WeeklyReportWorkflow"
GOVERNOR_WORKFLOW = "LlmGovernorWorkflow"

# The workflows that are agents: each has ledger rows and a span of its own.
AGENT_WORKFLOW_TYPES = (MASTER_WORKFLOW, SUBAGENT_WORKFLOW)
