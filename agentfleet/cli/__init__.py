"""The `agentfleet` command."""
