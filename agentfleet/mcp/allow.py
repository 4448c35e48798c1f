"""Which tools a goal's agents are offered: the allow-list, checked. Pure and deterministic.

`MasterInput.tools` names the tools a goal may use: file tools by name, MCP
tools as `mcp__<server>__<tool>`, or all of a server's as `mcp__<server>__*`.
Without it every file tool and every tool of the recorded MCP catalogue is
allowed. A plan that asks for a tool outside the allowed set is a plan error,
sent back to the planner; a subtask that names MCP tools is offered only
those (and the allowed file tools), one that names none gets every allowed one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentfleet.contracts.models import MCP_PREFIX, McpCatalog, McpTool, Plan, Subtask, ToolSpec
from agentfleet.sandbox.args import TOOL_NAMES, TOOL_SPECS


@dataclass
class ToolSet:
    """The tools one agent is offered: file tools by name and the MCP tools allowed to it."""

    # None: every file tool (what agents were offered before allow-lists).
    files: list[str] | None
    mcp: list[McpTool] = field(default_factory=list)
    explicit: bool = False

    @property
    def names(self) -> list[str]:
        """Every tool name offered, file tools first."""
        return [
            *(self.files if self.files is not None else TOOL_NAMES),
            *(t.name for t in self.mcp),
        ]

    def specs(self) -> list[ToolSpec]:
        """The tool specs to send to the model, in the same order as `names`."""
        wanted = set(self.files) if self.files is not None else None
        files = [s for s in TOOL_SPECS if wanted is None or s.name in wanted]
        return [*files, *(t.spec() for t in self.mcp)]

    def for_subtask(self, st: Subtask) -> list[McpTool]:
        """The MCP tools a subtask may use.

        The ones it names, or all of this set's when it names none.
        """
        named = {t for t in st.tools if t.startswith(MCP_PREFIX)}
        if not named:
            return list(self.mcp)
        return [t for t in self.mcp if t.name in named]


def _matches(pattern: str, name: str) -> bool:
    if pattern.endswith("__*"):
        return name.startswith(pattern[:-1])
    return pattern == name


def resolve(requested: list[str] | None, catalog: McpCatalog) -> ToolSet:
    """The allowed tools; ValueError names each requested tool that does not exist."""
    if requested is None:
        return ToolSet(files=None, mcp=list(catalog.tools))
    unknown: list[str] = []
    for name in requested:
        if name in TOOL_NAMES:
            continue
        if any(_matches(name, t.name) for t in catalog.tools):
            continue
        server = name[len(MCP_PREFIX) :].split("__", 1)[0] if name.startswith(MCP_PREFIX) else ""
        why = catalog.errors.get(server) or catalog.errors.get("*")
        unknown.append(f"{name} ({why})" if why else name)
    if unknown:
        available = [*TOOL_NAMES, *(t.name for t in catalog.tools)]
        raise ValueError(
            f"tools: unknown tool {', '.join(unknown)}; available: {', '.join(available)}"
        )
    files = [n for n in TOOL_NAMES if n in requested]
    mcp = [t for t in catalog.tools if any(_matches(p, t.name) for p in requested)]
    return ToolSet(files=files, mcp=mcp, explicit=True)


def plan_errors(plan: Plan, tools: ToolSet) -> str | None:
    """Why a plan asks for tools this goal may not use; None if it does not."""
    allowed = set(tools.names)
    bad: list[str] = []
    for i, st in enumerate(plan.subtasks, start=1):
        # Without an allow-list a planner's loose names ("editor") are tolerated as
        # before; an MCP tool that does not exist would only fail later.
        outside = [
            t for t in st.tools if t not in allowed and (tools.explicit or t.startswith(MCP_PREFIX))
        ]
        if outside:
            bad.append(f"subtask {st.id or i} asks for {', '.join(outside)}")
    if not bad:
        return None
    return (
        "; ".join(bad)
        + ". Those tools are not available to this goal; use only: "
        + ", ".join(tools.names)
    )


def planner_note(tools: ToolSet) -> str:
    """What the planner is told when the tool set differs from the plain file tools."""
    if not tools.explicit and not tools.mcp:
        return ""
    lines = ["", "Tools the sub-agents can use (name them in a subtask's tools to ask for them):"]
    for spec in tools.specs():
        first = spec.description.strip().splitlines()[0] if spec.description.strip() else ""
        lines.append(f"- {spec.name}" + (f": {first[:200]}" if first else ""))
    return "\n".join(lines)
