"""MCP servers as durable tools.

The worker holds a client session per configured server (`hub.McpHub`) and
lists their tools at start-up. Workflows never look at the worker's state:
the master asks for the catalogue through an activity, so what it offered and
how each call is retried is in its history and replays the same on any worker.
Agents see a server's tools as `mcp__<server>__<tool>`; the LLM activity
resolves those names against this worker's catalogue (`resolve_tool`).
"""

from __future__ import annotations

from pathlib import Path

from agentfleet.contracts.models import ToolSpec
from agentfleet.mcp.config import McpConfigError, config_path, load_config
from agentfleet.mcp.hub import McpHub, McpLost, McpRejected, McpUnavailable, tool_name
from agentfleet.sandbox import TOOLS_BY_NAME

__all__ = [
    "McpConfigError",
    "McpHub",
    "McpLost",
    "McpRejected",
    "McpUnavailable",
    "config_path",
    "hub_for",
    "resolve_tool",
    "tool_name",
]

# One hub per config file in this process: the worker's activities share it.
_HUBS: dict[str, McpHub] = {}


def hub_for(home: Path) -> McpHub:
    """This process's hub for the config in force; raises McpConfigError on a bad file."""
    cfg = load_config(home)
    key = cfg.source + "\n" + cfg.model_dump_json()
    hub = _HUBS.get(key)
    if hub is None:
        hub = _HUBS[key] = McpHub(cfg, logs_dir=home / "logs")
    return hub


def resolve_tool(name: str) -> ToolSpec | None:
    """A file tool's spec, or an MCP tool's from a catalogue this worker listed."""
    spec = TOOLS_BY_NAME.get(name)
    if spec is not None:
        return spec
    for hub in _HUBS.values():
        tool = hub.known(name)
        if tool is not None:
            return tool.spec()
    return None
