"""Terminal and JSON views of a result tree (pure: no I/O).

Two things here are read from what the run recorded, never from the shell
that asks: each node's completion check (`AgentNode.verification`), and
whether the spend was the simulator's (`Receipt.simulated`). A run started
with the simulator and looked at from a shell with an API key is still
simulated, and the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from agentfleet.contracts.models import AgentNode, MasterResult, Receipt, Usage

ICONS = {
    "completed": "✔",
    "unverified": "⚠",
    "partial": "◐",
    "failed": "✘",
    "canceled": "⊘",
    "budget_exhausted": "$",
    "skipped": "↷",
    "running": "…",
}
# The simulator's message ids (agentfleet/sim/protocol.py): how a run recorded
# before receipts carried `simulated` still tells which spend was simulated.
SIMULATOR_ID_PREFIX = "msg_sim_"


def workflow_url(ui_url: str, namespace: str, workflow_id: str) -> str:
    """The Temporal UI page of a workflow, so a printed result links to its history."""
    return (
        f"{ui_url}/namespaces/{quote(namespace, safe='')}/workflows/{quote(workflow_id, safe='')}"
    )


# --- verification ----------------------------------------------------------------


def _paths(paths: list[str], limit: int = 4) -> str:
    shown = ", ".join(paths[:limit])
    return shown + (f" (+{len(paths) - limit} more)" if len(paths) > limit else "")


def verification_text(node: AgentNode) -> str | None:
    """One line on the node's completion check.

    None when there is nothing to say: a run that never claimed to be done.
    """
    v = node.verification
    if v is None:
        if node.status == "completed":
            return "? no completion check recorded"
        return None
    if not v.passed:
        parts = []
        if v.missing:
            parts.append(f"missing {_paths(v.missing)}")
        if v.unjournaled:
            parts.append(f"not in its tool journal: {_paths(v.unjournaled)}")
        if v.mismatched:
            parts.append(f"not as asked: {_paths(v.mismatched)}")
        if v.unread:
            parts.append(f"never looked at: {_paths(v.unread)}")
        if not parts:
            parts.append(v.reason or "the check failed")
        return "✗ unverified: " + "; ".join(parts)
    if v.mode == "answer_only":
        return "✓ answer only (no file effect was asked for)"
    n = len(v.checked)
    return f"✓ verified {n} path{'s' if n != 1 else ''}"


# --- spend -------------------------------------------------------------------------


def receipt_simulated(receipt: Receipt) -> bool | None:
    """Whether the simulator answered this attempt, as the run recorded it.

    Either record is enough: the receipt's own flag (from the response's
    `x-simulator` header), or the simulator's stamp on the response id, which
    is all a receipt written before the flag existed has. None when the run
    recorded neither (an attempt with no response id, from before the flag).
    """
    if receipt.simulated:
        return True
    if receipt.request_id:
        return receipt.request_id.startswith(SIMULATOR_ID_PREFIX)
    if "simulated" in receipt.model_fields_set:
        return False
    return None


@dataclass(frozen=True)
class SpendSource:
    """The tree's billed spend, split by who answered.

    `llm_calls` counts the billed attempts: who answered is read from it, not
    from `cost_usd`, since an answer may cost $0.
    """

    simulated: Usage = field(default_factory=Usage)
    """Spend the simulator answered: not real money."""
    real: Usage = field(default_factory=Usage)
    """Spend a real model answered."""
    unrecorded: Usage = field(default_factory=Usage)
    """Spend whose run did not record which of the two answered."""

    @property
    def source(self) -> str:
        """Who answered: `simulator`, `model`, `unrecorded`, `mixed`, or `none`."""
        kinds = [
            name
            for name, spend in (
                ("simulator", self.simulated),
                ("model", self.real),
                ("unrecorded", self.unrecorded),
            )
            if spend.llm_calls
        ]
        if not kinds:
            return "none"
        return kinds[0] if len(kinds) == 1 else "mixed"

    @property
    def label(self) -> str:
        """Text after the total: empty for real spend alone."""
        if self.source == "simulator":
            return " (simulator: no real spend)"
        if self.source == "unrecorded":
            return " (the run did not record whether the simulator answered)"
        if self.source == "mixed":
            parts = [f"${self.real.cost_usd:.4f} real"] if self.real.llm_calls else []
            if self.simulated.llm_calls:
                parts.append(f"${self.simulated.cost_usd:.4f} from the simulator, not real spend")
            if self.unrecorded.llm_calls:
                parts.append(f"${self.unrecorded.cost_usd:.4f} not recorded either way")
            return " (" + "; ".join(parts) + ")"
        return ""

    def as_json(self) -> dict[str, Any]:
        """The `spend` object of `status --json` and `run --json`."""
        return {
            "source": self.source,
            "simulated_usd": round(self.simulated.cost_usd, 8),
            "real_usd": round(self.real.cost_usd, 8),
            "unrecorded_usd": round(self.unrecorded.cost_usd, 8),
        }


def spend_source(tree: AgentNode) -> SpendSource:
    """Split the spend of every billed attempt in the tree by who answered it.

    Each node keeps its own receipts. Rejected attempts (429, 5xx) cost
    nothing and say nothing here.
    """
    spent: dict[bool | None, Usage] = {True: Usage(), False: Usage(), None: Usage()}
    for node in tree.walk():
        for r in node.receipts:
            if not r.ok:
                continue
            sim = receipt_simulated(r)
            spent[sim] += Usage(**r.token_counts(), llm_calls=1)
    return SpendSource(simulated=spent[True], real=spent[False], unrecorded=spent[None])


# --- text ----------------------------------------------------------------------------


def _line(node: AgentNode) -> str:
    tokens = node.usage.total_tokens
    dur = f"{node.duration_s:.1f}s" if node.duration_s is not None else "-"
    label = node.title or node.workflow_id
    extra = f" · {node.tool_calls} tool calls" if node.tool_calls else ""
    if node.forecast_usd is not None:
        extra += f" · forecast ${node.forecast_usd:.4f}"
    return (
        f"{ICONS.get(node.status, '?')} {label}  [{node.status}] {node.model or '-'} · "
        f"{tokens} tok · ${node.usage.cost_usd:.4f} · {dur}{extra}"
    )


def _details(node: AgentNode, indent: str, *, with_id: bool) -> list[str]:
    lines = [f"{indent}   id {node.workflow_id}"] if with_id else []
    check = verification_text(node)
    if check:
        lines.append(f"{indent}   check: {check}")
    if node.error:
        lines.append(f"{indent}   error: {node.error}")
    return lines


def render_tree(node: AgentNode) -> str:
    """The agent tree as `status` prints it: one line per agent, its check and error below."""
    lines = [_line(node), *_details(node, "", with_id=False)]

    def walk(children: list[AgentNode], prefix: str) -> None:
        for i, child in enumerate(children):
            last = i == len(children) - 1
            lines.append(prefix + ("└─ " if last else "├─ ") + _line(child))
            lines.extend(_details(child, prefix + ("   " if last else "│  "), with_id=True))
            walk(child.children, prefix + ("   " if last else "│  "))

    walk(node.children, "")
    return "\n".join(lines)


def render_result(result: MasterResult, ui_url: str | None, namespace: str) -> str:
    """What `run --wait` and `status` print: the tree, the answer, the spend, where to look."""
    tree = result.tree
    out = [render_tree(tree), "", "Answer:", tree.output.strip() or "(none)"]
    u = tree.usage
    out.append("")
    out.append(
        f"Total: {u.llm_calls} LLM calls, {u.input_tokens} in / {u.output_tokens} out tokens, "
        f"${u.cost_usd:.4f}{spend_source(tree).label}"
    )
    if u.cache_read_input_tokens or u.cache_creation_input_tokens:
        out.append(
            f"Prompt cache: {u.cache_read_input_tokens} tokens read, "
            f"{u.cache_creation_input_tokens} written (priced in the total)"
        )
    if tree.forecast_usd is not None:
        out.append(f"Forecast before the plan ran: ${tree.forecast_usd:.4f}")
    out.append(f"Workspace: {result.workspace}")
    if ui_url:
        out.append(f"Temporal UI: {workflow_url(ui_url, namespace, tree.workflow_id)}")
    return "\n".join(out)


# --- JSON ------------------------------------------------------------------------------


# The plain fields that lead an agent's `--json` object, in their order.
_NODE_KEYS = ("workflow_id", "role", "title", "status", "model", "output", "error")


def node_json(node: AgentNode) -> dict[str, Any]:
    """One agent and its subtree as the `--json` outputs give it."""
    return {
        **{key: getattr(node, key) for key in _NODE_KEYS},
        "usage": node.usage.model_dump(mode="json"),
        "turns": node.turns,
        "tool_calls": node.tool_calls,
        "started_at": node.started_at.isoformat() if node.started_at else None,
        "closed_at": node.closed_at.isoformat() if node.closed_at else None,
        "duration_s": node.duration_s,
        # None: no check ran (or the run predates checks).
        "verification": (
            node.verification.model_dump(mode="json") if node.verification is not None else None
        ),
        "effects": [e.model_dump(mode="json") for e in node.effects],
        "children": [node_json(c) for c in node.children],
    }


def result_json(result: MasterResult) -> dict[str, Any]:
    """`status --json` and `run --json`: the tree, and where its spend came from."""
    return {**node_json(result.tree), "spend": spend_source(result.tree).as_json()}
