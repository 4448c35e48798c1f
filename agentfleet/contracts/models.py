"""Payload contracts: every workflow and activity input and result.

These models are durable: they are stored in Temporal history and replayed
months later. New fields must be optional with defaults; removing or retyping a
field is a breaking change that needs `workflow.patched` and a replay test.

Every datetime is `AwareDatetime`, so a naive timestamp is rejected at the
boundary instead of being silently read as local time.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, field_validator

from agentfleet.contracts.base import Contract, FrozenContract, Record
from agentfleet.contracts.base import FrozenRecord as FrozenRecord  # for workflow-safe importers
from agentfleet.contracts.status import NodeStatus
from agentfleet.delegation.catalog import is_known_model, unknown_model_message

Role = Literal["master", "subagent", "inline"]
Tier = Literal["trivial", "simple", "moderate", "complex"]
TIERS: tuple[Tier, ...] = ("trivial", "simple", "moderate", "complex")
PruneAction = Literal[
    "merged",
    "dropped_duplicate",
    "stripped_plan",
    "stripped_validate",
    "capped_fanout",
    "capped_depth",
    "capped_total",
]

WORKSPACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


# --- Anthropic Messages content, as carried through activities --------------


class TextBlock(Record):
    """Text the model wrote, or a person's message: the part of a reply a report quotes."""

    type: Literal["text"] = "text"
    text: str


class ToolUseBlock(Record):
    """A tool call the model asked for; its `id` pairs it with the `tool_result` that answers it."""

    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)


class ToolResultBlock(Record):
    """What a tool call returned, sent back to the model in the next user message."""

    type: Literal["tool_result"] = "tool_result"
    tool_use_id: str
    content: str
    is_error: bool = False


ContentBlock = Annotated[TextBlock | ToolUseBlock | ToolResultBlock, Field(discriminator="type")]


class Message(Record):
    """One turn of a conversation, as the Messages API takes it and history carries it."""

    role: Literal["user", "assistant"]
    content: list[ContentBlock]

    @classmethod
    def user_text(cls, text: str) -> Message:
        """A user turn holding plain text: how every conversation and retry starts."""
        return cls(role="user", content=[TextBlock(text=text)])


class ToolSpec(Record):
    """A tool as offered to the model: the schema it must fill in to call it."""

    name: str
    description: str
    input_schema: dict[str, Any]


class TokenCounts(Record):
    """Tokens as the API reports them and what they cost: the fields every spend record shares.

    `input_tokens` is the uncached input only; prompt cache writes and reads are
    counted, and priced, apart.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    """Input written to the prompt cache (priced at 1.25x input)."""
    cache_read_input_tokens: int = 0
    """Input read back from the prompt cache (priced at 0.1x input)."""
    cost_usd: float = 0.0
    """Rounded to 8 places at every sum, so a tree's total is exactly its receipts'."""

    def token_counts(self) -> dict[str, Any]:
        """Just these fields, to build another spend record from this one."""
        return {name: getattr(self, name) for name in TokenCounts.model_fields}


class Usage(TokenCounts):
    """Tokens and dollars spent: one call's, or a whole subtree's when added up."""

    llm_calls: int = 0
    """Calls that came back with usage: one per answered request."""

    @property
    def prompt_tokens(self) -> int:
        """Every input token the model read: uncached, written to and read from the cache."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    @property
    def total_tokens(self) -> int:
        """Every token processed, input of every kind and output: what a token budget is charged."""
        return self.prompt_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        sums = {name: getattr(self, name) + getattr(other, name) for name in Usage.model_fields}
        return Usage(**{**sums, "cost_usd": round(sums["cost_usd"], 8)})


class Receipt(TokenCounts):
    """One LLM attempt, as billed.

    Attempts the API rejected (429, 529, 5xx) return no usage and are billed
    nothing, but they are still recorded, so retries are visible next to the spend.
    """

    agent_id: str = ""
    model: str
    request_id: str | None = None
    attempt: int = 1
    ok: bool = True
    purpose: str = ""
    # What answered: the simulator or a real model, as the response said.
    simulated: bool = False
    # The tier's own model, when its breaker was open and `model` stood in.
    fallback_from: str | None = None
    # Cut mid-flight (worker killed or shut down with the request out): possibly billed
    # by the API, though no answer arrived. The cost is unknown, so it stays 0 here.
    cut: bool = False


class LlmRequest(Contract):
    """One Messages API call, as a workflow asks the LLM activity to make it."""

    model: str
    system: str
    # With `transcript_ref`, only the messages new since that stored transcript.
    messages: list[Message]
    tools: list[ToolSpec] = Field(default_factory=list)
    # Names from agentfleet.sandbox.TOOLS_BY_NAME, resolved by the activity.
    tool_names: list[str] | None = None
    max_tokens: int = Field(default=2048, ge=1, le=64000)
    # Root workflow id, so receipts and spans group by task tree.
    root_id: str = ""
    agent_id: str = ""
    # Conversation by reference: the activity loads the stored transcript, appends
    # `messages`, and (with keep_transcript) stores the result with the answer.
    transcript_ref: str | None = None
    keep_transcript: bool = False
    # Anthropic's tool_choice, e.g. {"type": "tool", "name": "submit_plan"}.
    tool_choice: dict[str, Any] | None = None


class LlmResponse(Record):
    """The LLM activity's answer: the reply, what it cost, and how many attempts it took."""

    id: str
    model: str
    content: list[ContentBlock]
    stop_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    attempt: int = 1
    simulated: bool = False
    transcript_ref: str | None = None
    # The model asked for, when its breaker was open and a fallback answered.
    fallback_from: str | None = None
    # Earlier attempts that were cut mid-flight: the request had gone out (the attempt
    # was heartbeating) when its worker died or shut down, so the API may have billed
    # an answer nobody received. Their receipts carry `cut`.
    cut_attempts: list[int] = Field(default_factory=list)

    @property
    def text(self) -> str:
        """The reply's text blocks joined: the answer an agent reports."""
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))

    @property
    def tool_uses(self) -> list[ToolUseBlock]:
        """The tool calls in the reply, in order: each needs its result in the next turn."""
        return [b for b in self.content if isinstance(b, ToolUseBlock)]


# --- File tools ---------------------------------------------------------------

ToolName = Literal[
    "list_files",
    "read_file",
    "write_file",
    "move_file",
    "make_dir",
    "delete_file",
    "copy_file",
    "append_file",
    "edit_file",
    "search_files",
    "stat_file",
]
# Tools from MCP servers are offered as mcp__<server>__<tool> (agentfleet/mcp).
MCP_PREFIX = "mcp__"


class ToolRequest(Contract):
    """One file tool call, as a workflow asks the tool activity to run it in a workspace."""

    workspace: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    call_id: str = ""
    # The calling agent: its deletes go to the trash folder of this run.
    agent_id: str = ""


# `call`: a tool outside the workspace (an MCP server) was called; its path is the tool's name.
EffectOp = Literal[
    "write", "mkdir", "move", "copy", "delete", "append", "edit", "read", "list", "call"
]
# The operations that change the workspace; `read` and `list` only look.
MUTATING_OPS: frozenset[str] = frozenset(
    {"write", "mkdir", "move", "copy", "delete", "append", "edit"}
)


class Effect(Record):
    """One thing a tool call did to (or looked at in) the workspace.

    Reported by the sandbox, not by the model: the effects in an agent's
    history are its tool journal, which verification checks claims against.
    Paths are workspace-relative POSIX paths; `src` is set for move and copy.
    """

    op: EffectOp
    path: str
    src: str | None = None


class ToolResult(Record):
    """What a tool call returned to the model, and what it did to the workspace (the journal)."""

    call_id: str = ""
    name: str
    content: str
    is_error: bool = False
    # True when the call found its effect already in place (a retry after a
    # crash), so callers and tests can see idempotence at work.
    already_done: bool = False
    effects: list[Effect] = Field(default_factory=list)
    # A result too large for history: `content` holds its start, the blob store all of it.
    content_ref: str | None = None


class McpTool(Record):
    """One tool of an MCP server, as the worker's catalogue lists it.

    Recorded in the master's history (through an activity), so every decision
    a workflow takes about a tool (offer it, retry it) replays identically.
    """

    # mcp__<server>__<tool>: the name the model sees.
    name: str
    server: str
    # The tool's own name on its server.
    tool: str
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    # Safe to run twice: retried after a worker crash. Otherwise run at most once.
    idempotent: bool = False
    timeout_s: float = 60.0

    def spec(self) -> ToolSpec:
        """The tool as the model is offered it, under its `mcp__<server>__<tool>` name."""
        return ToolSpec(
            name=self.name, description=self.description, input_schema=self.input_schema
        )


class McpCatalog(Record):
    """The MCP tools a worker can reach, recorded once per root so every choice replays."""

    tools: list[McpTool] = Field(default_factory=list)
    # Servers configured but not reachable at listing time, with the reason.
    errors: dict[str, str] = Field(default_factory=dict)


class McpCallRequest(Contract):
    """One call to an MCP server's tool, as a workflow asks the MCP activity to make it."""

    server: str
    tool: str
    # The name the model called (mcp__<server>__<tool>), for spans and the journal.
    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    call_id: str = ""
    agent_id: str = ""
    # From the recorded catalogue: decides whether a call whose outcome is unknown may rerun.
    idempotent: bool = False


class WorkspaceRequest(Contract):
    """Find (or, with `create`, make) a named workspace before any agent works in it."""

    workspace: str
    create: bool = False


class WorkspaceInfo(Record):
    """Where a workspace lives on the worker, and how many files it holds."""

    workspace: str
    path: str
    files: int


# --- Plans ----------------------------------------------------------------------


# Plan and Subtask have comments, not docstrings: pydantic would make a docstring the
# "description" of their JSON schema, which is the submit_plan tool the planner reads
# (agentfleet/delegation/planning.py), and so change every planning prompt.


# One piece of a plan: the work a sub-agent (or the master, inline) will do.
class Subtask(Contract):  # noqa: D101 - see above: a docstring would change the tool schema
    id: str | None = Field(
        default=None,
        max_length=64,
        description="Short key other subtasks use in depends_on; default: its 1-based position.",
    )
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    tools: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list, description="Workspace paths it reads.")
    outputs: list[str] = Field(
        default_factory=list,
        description="Workspace paths this subtask will create or change (a folder ends in /).",
    )
    depends_on: list[str] = Field(
        default_factory=list,
        description="ids of the subtasks that must finish before this one starts.",
    )


# The planner's answer: the subtasks a goal splits into, with their dependencies.
class Plan(Contract):  # noqa: D101 - see above: a docstring would change the tool schema
    subtasks: list[Subtask] = Field(min_length=1, max_length=500)


class Pruning(Record):
    """One subtask the guard took out of a plan, why, and who does its work instead."""

    title: str
    action: PruneAction
    reason: str
    into: str | None = None


class DelegationRecord(Record):
    """Why a piece of work ran where it ran: the score behind the decision."""

    title: str
    tier: Tier
    score: float
    decision: Literal["inline", "spawn"]
    model: str
    workflow_id: str | None = None


class Budget(FrozenContract):
    """What a node may still spend, in tokens and dollars.

    The one budget model: a goal's input, a child's share and the running balance
    a workflow charges. Immutable: every operation returns a new Budget, so a
    workflow can keep the old value for its history and logs.
    """

    tokens: int = Field(default=400_000, ge=0)
    usd: float = Field(default=5.0, ge=0.0, allow_inf_nan=False)

    def reserve_for_child(self, children: int) -> tuple[Budget, Budget]:
        """Carve one child's share out of this budget: `(child, parent_after)`.

        `children` is the number of children still to start, this one
        included. Each gets `remaining / (children + 1)`: the extra share stays
        with the parent to synthesise the results. Calling this once per child
        with a count that goes down by one gives every child the same share.
        """
        if children < 1:
            raise ValueError(f"children must be at least 1, got {children}")
        parts = children + 1
        # Round the child's dollars down, so rounding never hands out more
        # than the parent has.
        child = Budget(
            tokens=self.tokens // parts,
            usd=math.floor(self.usd / parts * 1e8) / 1e8,
        )
        parent = Budget(
            tokens=self.tokens - child.tokens,
            usd=max(round(self.usd - child.usd, 8), 0.0),
        )
        return child, parent

    def charge(self, usage: Usage, model: str | None = None) -> Budget:
        """Subtract one call's usage; what is left after the call.

        With `model`, the cost is recomputed from the price table instead of
        trusting `usage.cost_usd`. Spending past zero clamps at zero: the call
        already happened, and an exhausted budget is what the caller needs to see.
        """
        spent = usage.cost_usd
        if model is not None:
            # Imported here: pricing builds the Usage and Receipt models of this module.
            from agentfleet.delegation.pricing import usage_cost

            spent = usage_cost(model, usage)
        # Every token the model processed counts, cached or not: caching makes a
        # run cheaper in dollars, not smaller in tokens.
        return Budget(
            tokens=max(self.tokens - usage.total_tokens, 0),
            usd=max(round(self.usd - spent, 8), 0.0),
        )

    def exhausted(self) -> bool:
        """Whether nothing is left to spend, in tokens or in dollars: the agent stops."""
        return self.tokens <= 0 or self.usd <= 0.0


# --- Agents ---------------------------------------------------------------------

# What a goal may ask of the scheduler, checked where a person types it (MasterInput):
# Temporal's priority keys run from 1 (most urgent) to 5, and a fairness key names
# who the goal is for.
PriorityKey = Annotated[int, Field(ge=1, le=5)]
FairnessKey = Annotated[str, Field(min_length=1, max_length=64)]


class MasterInput(Contract):
    """What a person types into the Temporal UI: only `goal` is required."""

    goal: str = Field(min_length=1, max_length=20000)
    workspace: str | None = Field(
        default=None,
        description="Workspace name under $AGENTFLEET_HOME/workspaces; "
        "default: a fresh one named after the workflow id.",
    )
    model: str | None = None
    max_depth: int = Field(default=2, ge=1, le=5)
    max_turns: int = Field(default=12, ge=1, le=500)
    max_subtasks: int = Field(default=8, ge=1, le=50)
    max_plan_attempts: int = Field(default=3, ge=1, le=10)
    max_tokens: int = Field(default=2048, ge=64, le=64000)
    max_total_subagents: int = Field(default=16, ge=1, le=500)
    budget: Budget = Field(default_factory=Budget)
    models: dict[Tier, str] | None = Field(
        default=None, description="Model per tier; `model` overrides every tier."
    )
    require_approval: bool = False
    approval_timeout_s: int = Field(default=3600, ge=1, le=30 * 24 * 3600)
    strategy: Literal["policy", "naive"] = Field(
        default="policy",
        description="'naive' reproduces the always-decompose baseline, for benchmarks.",
    )
    tools: list[str] | None = Field(
        default=None,
        description="The tools this goal's agents may use (file tools and mcp__<server>__<tool>, "
        "or mcp__<server>__* for all of a server's); default: all.",
    )
    priority: PriorityKey | None = Field(
        default=None,
        description="Temporal priority key: 1 is the most urgent, 5 the least; "
        "default: normal (3). Passed to every child and activity, and served first by the "
        "LLM governor.",
    )
    fairness_key: FairnessKey | None = Field(
        default=None,
        description="Who the goal is for (a team, a tenant): the governor serves equal "
        "priorities in turn by this key.",
    )

    @field_validator("tools")
    @classmethod
    def _tool_names(cls, v: list[str] | None) -> list[str] | None:
        for name in v or []:
            if not re.fullmatch(r"[A-Za-z0-9_*-]{1,128}", name):
                raise ValueError(f"{name!r} is not a tool name")
        return v

    @field_validator("goal")
    @classmethod
    def _goal_not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("goal must not be empty")
        return v.strip()

    @field_validator("model")
    @classmethod
    def _model_known(cls, v: str | None) -> str | None:
        if v is not None and not is_known_model(v):
            raise ValueError(unknown_model_message(v))
        return v

    @field_validator("models")
    @classmethod
    def _models_known(cls, v: dict[Tier, str] | None) -> dict[Tier, str] | None:
        for name in (v or {}).values():
            if not is_known_model(name):
                raise ValueError(unknown_model_message(name))
        return v

    @field_validator("workspace")
    @classmethod
    def _workspace_name(cls, v: str | None) -> str | None:
        if v is not None and not WORKSPACE_NAME.fullmatch(v):
            raise ValueError(
                "workspace must be a plain name (letters, digits, '.', '_', '-'), not a path"
            )
        return v


class SubAgentInput(Contract):
    """Everything a sub-agent needs from its parent: its task, model and share of the budget."""

    task: str = Field(min_length=1)
    title: str = ""
    workspace: str
    model: str
    root_id: str
    parent_id: str
    depth: int = Field(default=1, ge=1)
    index: int = 1
    siblings: int = 1
    max_depth: int = 2
    max_turns: int = Field(default=12, ge=1)
    max_tokens: int = 2048
    tier: Tier = "moderate"
    score: float = 0.0
    est_context_tokens: int | None = None
    est_steps: int | None = None
    thresholds_version: str | None = None
    # The tier cut points the root started with (complexity.Thresholds).
    thresholds: dict[str, float | str] | None = None
    may_decompose: bool = False
    budget: Budget = Field(default_factory=Budget)
    models: dict[Tier, str] | None = None
    max_total_subagents: int = 16
    tag_search_attributes: bool = False
    resume: SubAgentResume | None = None
    # Paths the plan says this agent produces: what its completion check expects.
    outputs: list[str] = Field(default_factory=list)
    # The file tools it is offered (None: all of them, as before allow-lists).
    tools: list[str] | None = None
    # The MCP tools it is offered, from the catalogue its root recorded.
    mcp_tools: list[McpTool] = Field(default_factory=list)
    # The root goal's priority and fairness key (MasterInput), for its own calls and children.
    priority: int | None = None
    fairness_key: str | None = None
    # The sub-agent baseline its parent's code started it on (workflows/_child.py,
    # SUBAGENT_BASELINE). The input is in the history, so replay sees the same number
    # and the run needs no patch marker, which would cost an event, a
    # TemporalChangeVersion upsert and a visibility write per agent. None (started by
    # hand, or by a parent older than this field): the patch markers decide, as before.
    baseline: int | None = None


class ControlRequest(Contract):
    """Pause, resume or cancel an agent (and its subtree) at the next turn."""

    action: Literal["pause", "resume", "cancel"]
    reason: str = Field(default="", max_length=500)


class SubtreeControl(Contract):
    """Pause, resume or cancel one agent of a tree, addressed by its workflow id from the root."""

    workflow_id: str = Field(min_length=1)
    action: Literal["pause", "resume", "cancel"]
    reason: str = Field(default="", max_length=500)


class PlanApproval(Contract):
    """A person's answer to a plan: approve it as is, or with an edited plan."""

    approve: bool = True
    plan: Plan | None = None
    note: str = Field(default="", max_length=2000)


class ApprovalResult(Record):
    """The answer to a plan approval: whether it was taken, and how many subtasks will run."""

    accepted: bool
    subtasks: int


class ControlResult(Record):
    """The state an agent is in after a control request (running, paused, canceled)."""

    workflow_id: str
    state: str


class SubAgentResume(Record):
    """A sub-agent's loop state, carried across continue-as-new at a turn boundary."""

    transcript_ref: str | None = None
    pending: list[Message] = Field(default_factory=list)
    turns: int = 0
    tool_calls: int = 0
    output: str = ""
    started_at: AwareDatetime
    own: Usage = Field(default_factory=Usage)
    receipts: list[Receipt] = Field(default_factory=list)
    budget: Budget
    children: list[AgentNode] = Field(default_factory=list)
    delegated: int = 0
    pruned: list[Pruning] = Field(default_factory=list)
    decisions: list[DelegationRecord] = Field(default_factory=list)
    # The tool journal so far: verification at the end needs every run's effects.
    effects: list[Effect] = Field(default_factory=list)


class Verification(Record):
    """What the completion check found, by code, in the workspace and the journal."""

    # files: outputs were checked; answer_only: no file effect was asked for.
    mode: Literal["files", "answer_only"]
    passed: bool
    # The paths the check looked at: expected outputs and claimed changes.
    checked: list[str] = Field(default_factory=list)
    # Expected outputs absent from the workspace, or not made by this run.
    missing: list[str] = Field(default_factory=list)
    # Paths the agent reported as changed that its tool journal never touched.
    unjournaled: list[str] = Field(default_factory=list)
    reason: str = ""
    # Paths the task asks the work to read or search that no tool call looked at: an
    # answer about notes.md given without opening it.
    unread: list[str] = Field(default_factory=list)
    # Files that are there but do not hold the words the task gave, or still hold
    # words it asked to take out.
    mismatched: list[str] = Field(default_factory=list)


class VerifyRequest(Contract):
    """Everything the completion check needs; the heuristics run in the activity.

    The workflow passes raw text (the task, the final report), never
    extracted paths: improving how outputs are read from text then changes
    no workflow's commands, so it needs no patch.
    """

    workspace: str
    agent_id: str = ""
    # The agent's own task (title and description), without dependency reports.
    task: str
    # Paths the plan declared this agent produces; they take precedence.
    outputs: list[str] = Field(default_factory=list)
    # The agent's final text: paths it says it changed are checked against `effects`.
    report: str = ""
    effects: list[Effect] = Field(default_factory=list)


class AgentNode(Record):
    """One node of the result tree: a master, a sub-agent or inline work."""

    workflow_id: str
    role: Role
    title: str = ""
    status: NodeStatus
    model: str = ""
    output: str = ""
    error: str | None = None
    usage: Usage = Field(default_factory=Usage)
    turns: int = 0
    tool_calls: int = 0
    depth: int = 0
    tier: Tier | None = None
    started_at: AwareDatetime | None = None
    closed_at: AwareDatetime | None = None
    # This node's own LLM attempts; `usage` is the whole subtree's total.
    receipts: list[Receipt] = Field(default_factory=list)
    pruned: list[Pruning] = Field(default_factory=list)
    decisions: list[DelegationRecord] = Field(default_factory=list)
    children: list[AgentNode] = Field(default_factory=list)
    # None: no check ran (a node recorded before checks existed, or one that
    # never claimed to be done).
    verification: Verification | None = None
    # This node's own tool journal (its children keep theirs).
    effects: list[Effect] = Field(default_factory=list)
    # A master's cost forecast, made before its plan ran (agentfleet/delegation/forecast.py).
    forecast_usd: float | None = None

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to close; None while either end is unknown."""
        if self.started_at is None or self.closed_at is None:
            return None
        return (self.closed_at - self.started_at).total_seconds()

    def walk(self) -> list[AgentNode]:
        """This node and every node below it, depth first: what a report sums over."""
        out = [self]
        for c in self.children:
            out.extend(c.walk())
        return out


class MasterResult(Record):
    """What a master returns: the result tree of its goal, and the plan it ran."""

    goal: str
    workspace: str
    tree: AgentNode
    plan: Plan | None = None
    plan_attempts: int = 0
    thresholds_version: str = ""

    @property
    def output(self) -> str:
        """The goal's answer: the root node's output."""
        return self.tree.output

    @property
    def status(self) -> NodeStatus:
        """The goal's status: the root node's."""
        return self.tree.status


SubAgentResume.model_rebuild()
SubAgentInput.model_rebuild()
