"""Temporal activities: every side effect of agentfleet, one module per concern."""
