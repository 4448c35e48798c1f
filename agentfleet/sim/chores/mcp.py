"""Calling an MCP tool, as a model does when a task asks it to.

An MCP tool is called when the task carries `[sim:call=mcp__<server>__<tool>
{json}]` (tests script it that way) or says "use the <server> <tool> tool".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from typing_extensions import override

from agentfleet.sim.chores.base import Done, Env, Gen, Op, Use


@dataclass(frozen=True)
class McpCall(Op):
    """A call to an MCP tool the task names, with the arguments it gives.

    The report quotes what the server answered.
    """

    name: str
    args: str  # JSON text: an Op is frozen, a dict would not hash
    changes = False
    step_words = "call {op.name}"

    @override
    def run(self, env: Env) -> Gen:
        if self.name not in env.offered:
            return Done(f"I could not call {self.name}: it was not offered.", wanted_change=False)
        use = Use(self.name, json.loads(self.args or "{}"))
        (out,) = yield [use]
        if not out.ok:
            return Done(f"{self.name} failed: {out.first_line}", wanted_change=False)
        return Done(f"{self.name} answered: {out.first_line}", wanted_change=False)

    @override
    def tools(self) -> list[str]:
        return [self.name]


_USE = re.compile(
    r"\buse\s+the\s+(?P<s>[A-Za-z0-9-]+)\s+(?P<t>[A-Za-z0-9_-]+)\s+tool"
    r"(?:\s+with\s+(?P<a>\{.*\}))?",
    re.IGNORECASE,
)


def mcp_calls(text: str, found: dict[str, str]) -> list[McpCall]:
    """The MCP calls a task asks for, by directive or in words."""
    out: list[McpCall] = []
    raw = found.get("call", "")
    if raw:
        name, _, args = raw.partition(" ")
        out.append(McpCall(name.strip(), _json(args)))
    for m in _USE.finditer(text):
        out.append(McpCall(f"mcp__{m.group('s')}__{m.group('t')}", _json(m.group("a") or "")))
    return out


def _json(text: str) -> str:
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        value = {}
    return json.dumps(value if isinstance(value, dict) else {})


__all__ = ["McpCall", "mcp_calls"]
