"""Payload contracts: every workflow and activity input and result.

These models are durable: they are stored in Temporal history and replayed
months later. New fields must be optional with defaults; removing or retyping a
field is a breaking change that needs `workflow.patched` and a replay test.

Every datetime is `AwareDatetime`, so a naive timestamp is rejected at the
boundary instead of being silently read as local time.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from agentfleet.delegation.catalog import is_known_model, unknown_model_message

# `completed` is a checked fact: the agent's verification passed
# (agentfleet/verification/completion.py).
# `unverified`: the agent stopped as if done, but the check found its work missing.
NodeStatus = Literal[
    "running",
    "completed",
    "unverified",
    "partial",
    "failed",
    "canceled",
    "budget_exhausted",
    "skipped",
]
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


class Contract(BaseModel):
    """Base for inputs: unknown fields are an error, so a typo like `gaol`
    fails loudly instead of being dropped."""

    model_config = ConfigDict(extra="forbid")


class Record(BaseModel):
    """Base for results: tolerate fields added by newer workers."""

    model_config = ConfigDict(extra="ignore")


# --- Anthropic Messages content, as carried through activities --------------


class TextBlock(Record):
    type: Literal["text"] = "text"
    text: str


class ToolUseBlock(Record):
    type: Literal["tool_use"] = "tool_use"
    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)


class ToolResultBlock(Record):
    type: Literal["tool_result"] = "tool_result"
    tool_use_id: str
    content: str
    is_error: bool = False


ContentBlock = Annotated[TextBlock | ToolUseBlock | ToolResultBlock, Field(discriminator="type")]


class Message(Record):
    role: Literal["user", "assistant"]
    content: list[ContentBlock]

    @classmethod
    def user_text(cls, text: str) -> Message:
        return cls(role="user", content=[TextBlock(text=text)])


class ToolSpec(Record):
    name: str
    description: str
    input_schema: dict[str, Any]


class Usage(Record):
    # As the API reports them: `input_tokens` is the uncached input only; prompt
    # cache writes and reads are counted (and priced) apart.
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    llm_calls: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        """Every input token the model read: uncached, written to and read from the cache."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 8),
            llm_calls=self.llm_calls + other.llm_calls,
            cache_creation_input_tokens=self.cache_creation_input_tokens
            + other.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
        )


class Receipt(Record):
    """One LLM attempt, as billed. Attempts the API rejected (429, 529, 5xx)
    return no usage and are billed nothing, but they are still recorded, so
    retries are visible next to the spend."""

    agent_id: str = ""
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cost_usd: float = 0.0
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
        return "".join(b.text for b in self.content if isinstance(b, TextBlock))

    @property
    def tool_uses(self) -> list[ToolUseBlock]:
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
        return ToolSpec(
            name=self.name, description=self.description, input_schema=self.input_schema
        )


class McpCatalog(Record):
    tools: list[McpTool] = Field(default_factory=list)
    # Servers configured but not reachable at listing time, with the reason.
    errors: dict[str, str] = Field(default_factory=dict)


class McpCallRequest(Contract):
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
    workspace: str
    create: bool = False


class WorkspaceInfo(Record):
    workspace: str
    path: str
    files: int


# --- Plans ----------------------------------------------------------------------


class Subtask(Contract):
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


class Plan(Contract):
    subtasks: list[Subtask] = Field(min_length=1, max_length=500)


class Pruning(Record):
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


class BudgetSpec(Contract):
    tokens: int = Field(default=400_000, ge=0)
    usd: float = Field(default=5.0, ge=0.0, allow_inf_nan=False)


# --- Agents ---------------------------------------------------------------------


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
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
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
    priority: int | None = Field(
        default=None,
        ge=1,
        le=5,
        description="Temporal priority key: 1 is the most urgent, 5 the least; "
        "default: normal (3). Passed to every child and activity, and served first by the "
        "LLM governor.",
    )
    fairness_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
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
    budget: BudgetSpec = Field(default_factory=BudgetSpec)
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


class ControlRequest(Contract):
    """Pause, resume or cancel an agent (and its subtree) at the next turn."""

    action: Literal["pause", "resume", "cancel"]
    reason: str = Field(default="", max_length=500)


class SubtreeControl(Contract):
    workflow_id: str = Field(min_length=1)
    action: Literal["pause", "resume", "cancel"]
    reason: str = Field(default="", max_length=500)


class PlanApproval(Contract):
    """A person's answer to a plan: approve it as is, or with an edited plan."""

    approve: bool = True
    plan: Plan | None = None
    note: str = Field(default="", max_length=2000)


class ApprovalResult(Record):
    accepted: bool
    subtasks: int


class ControlResult(Record):
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
    budget: BudgetSpec
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
        if self.started_at is None or self.closed_at is None:
            return None
        return (self.closed_at - self.started_at).total_seconds()

    def walk(self) -> list[AgentNode]:
        out = [self]
        for c in self.children:
            out.extend(c.walk())
        return out


class MasterResult(Record):
    goal: str
    workspace: str
    tree: AgentNode
    plan: Plan | None = None
    plan_attempts: int = 0
    thresholds_version: str = ""

    @property
    def output(self) -> str:
        return self.tree.output

    @property
    def status(self) -> NodeStatus:
        return self.tree.status


SubAgentResume.model_rebuild()
SubAgentInput.model_rebuild()
