"""`agentfleet run --wait` on a terminal: the result tree drawn as it grows.

A long run used to show nothing until its end. Here the master's `tree` query
(workflows/master.py) is polled while the run goes on, and each answer is drawn
with rich's `Live`: every node with its status, turns, tool calls, tokens and
cost. Finished children carry their final numbers; a child still at work shows
as running. The view is transient: when the run ends it gives way to the same
final text a pipe gets, so what stays on the screen is what scripts parse.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text
from rich.tree import Tree
from temporalio.client import WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError

from agentfleet.cli.commands import wait_for_result
from agentfleet.contracts.models import AgentNode, MasterResult
from agentfleet.reporting.render import ICONS

# How often the tree is asked for: often enough to feel live, rare enough that
# a long run's queries stay a small load on the worker.
POLL_INTERVAL_S = 0.5
# A query waits for a worker to answer it; a slow answer must not hold up the view.
QUERY_TIMEOUT = timedelta(seconds=5)

_STYLES = {
    "completed": "green",
    "running": "cyan",
    "unverified": "yellow",
    "partial": "yellow",
    "failed": "red",
    "budget_exhausted": "red",
    "canceled": "dim",
    "skipped": "dim",
}


def node_label(node: AgentNode) -> Text:
    """One node's progress on one line: what it is, its status, and what it has used."""
    label = node.title or node.workflow_id
    parts = [f"{node.turns} turns", f"{node.tool_calls} tool calls"]
    parts += [f"{node.usage.total_tokens} tok", f"${node.usage.cost_usd:.4f}"]
    if node.duration_s is not None:
        parts.append(f"{node.duration_s:.1f}s")
    text = Text(f"{ICONS.get(node.status, '?')} {label}  ")
    text.append(f"[{node.status}]", style=_STYLES.get(node.status, ""))
    text.append(f" {node.model or '-'} · " + " · ".join(parts))
    return text


def tree_view(node: AgentNode) -> Tree:
    """The whole tree as rich renders it, children under their parents."""
    view = Tree(node_label(node))
    _add_children(view, node.children)
    return view


def _add_children(view: Tree, children: list[AgentNode]) -> None:
    for child in children:
        _add_children(view.add(node_label(child)), child.children)


def frame(workflow_id: str, tree: AgentNode | None, elapsed_s: float) -> Group:
    """What the screen shows at one moment: a header line and the tree so far.

    The header stays short enough for an 80-column terminal; Ctrl-C stops the
    watching, not the run (the README says so).
    """
    running = sum(1 for n in tree.walk() if n.status == "running") if tree else 0
    header = Text(f"{workflow_id} · {elapsed_s:.0f}s · ", style="bold")
    if tree is None:
        header.append("waiting for a worker to pick the run up…")
        return Group(header)
    header.append(f"{running} running")
    return Group(header, tree_view(tree))


async def fetch_tree(handle: Any) -> AgentNode | None:
    """The master's live tree, or None while no worker can answer (the view waits)."""
    try:
        tree: AgentNode = await handle.query(
            "tree", result_type=AgentNode, rpc_timeout=QUERY_TIMEOUT
        )
    except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError, TimeoutError):
        return None
    return tree


async def watch(
    handle: Any, console: Console, *, interval_s: float = POLL_INTERVAL_S
) -> MasterResult:
    """Draw the run's tree on `console` until the run ends; return its result."""
    started = time.monotonic()
    result = asyncio.ensure_future(wait_for_result(handle))
    tree: AgentNode | None = None
    with Live(
        frame(handle.id, tree, 0.0), console=console, transient=True, auto_refresh=False
    ) as live:
        while not result.done():
            tree = await _next_tree(handle, result) or tree
            live.update(frame(handle.id, tree, time.monotonic() - started), refresh=True)
            await asyncio.wait({result}, timeout=interval_s)
    return await result


async def _next_tree(handle: Any, result: asyncio.Future[MasterResult]) -> AgentNode | None:
    """A fresh tree, unless the run ends first (its result then says it all)."""
    query = asyncio.ensure_future(fetch_tree(handle))
    pending: set[asyncio.Future[Any]] = {query, result}
    await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    if not query.done():
        query.cancel()
        return None
    return query.result()
