"""Terminal and JSON views of a result tree (pure: no I/O)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from agentfleet.models import AgentNode, MasterResult

ICONS = {
    "completed": "✔",
    "partial": "◐",
    "failed": "✘",
    "canceled": "⊘",
    "running": "…",
}


def workflow_url(ui_url: str, namespace: str, workflow_id: str) -> str:
    return (
        f"{ui_url}/namespaces/{quote(namespace, safe='')}/workflows/{quote(workflow_id, safe='')}"
    )


def _line(node: AgentNode) -> str:
    tokens = node.usage.input_tokens + node.usage.output_tokens
    dur = f"{node.duration_s:.1f}s" if node.duration_s is not None else "-"
    label = node.title or node.workflow_id
    extra = f" · {node.tool_calls} tool calls" if node.tool_calls else ""
    return (
        f"{ICONS.get(node.status, '?')} {label}  [{node.status}] {node.model or '-'} · "
        f"{tokens} tok · ${node.usage.cost_usd:.4f} · {dur}{extra}"
    )


def render_tree(node: AgentNode) -> str:
    lines = [_line(node)]

    def walk(children: list[AgentNode], prefix: str) -> None:
        for i, child in enumerate(children):
            last = i == len(children) - 1
            lines.append(prefix + ("└─ " if last else "├─ ") + _line(child))
            lines.append(prefix + ("   " if last else "│  ") + f"   id {child.workflow_id}")
            if child.error:
                lines.append(prefix + ("   " if last else "│  ") + f"   error: {child.error}")
            walk(child.children, prefix + ("   " if last else "│  "))

    walk(node.children, "")
    return "\n".join(lines)


def render_result(result: MasterResult, ui_url: str | None, namespace: str, simulated: bool) -> str:
    tree = result.tree
    out = [render_tree(tree), "", "Answer:", tree.output.strip() or "(none)"]
    u = tree.usage
    out.append("")
    out.append(
        f"Total: {u.llm_calls} LLM calls, {u.input_tokens} in / {u.output_tokens} out tokens, "
        f"${u.cost_usd:.4f}" + (" (simulator: no real spend)" if simulated else "")
    )
    out.append(f"Workspace: {result.workspace}")
    if ui_url:
        out.append(f"Temporal UI: {workflow_url(ui_url, namespace, tree.workflow_id)}")
    return "\n".join(out)


def node_json(node: AgentNode) -> dict[str, Any]:
    return {
        "workflow_id": node.workflow_id,
        "role": node.role,
        "title": node.title,
        "status": node.status,
        "model": node.model,
        "output": node.output,
        "error": node.error,
        "usage": node.usage.model_dump(mode="json"),
        "turns": node.turns,
        "tool_calls": node.tool_calls,
        "started_at": node.started_at.isoformat() if node.started_at else None,
        "closed_at": node.closed_at.isoformat() if node.closed_at else None,
        "duration_s": node.duration_s,
        "children": [node_json(c) for c in node.children],
    }
