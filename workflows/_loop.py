"""The agent loop, shared by sub-agents and the master's inline work.

One LLM turn, then every tool call of that turn in order, until the model
answers without a tool call (a claim of being done, which verification then
checks), the turn cap or the budget runs out, a parent cancels, or the model
refuses. Each turn and each tool call is an activity, so a crash resumes at
the last finished step.

Real replies are not tidy, and the loop is built for them:
- several `tool_use` blocks in one turn each get their `tool_result`, in order;
- `stop_reason: max_tokens` with a `tool_use` last means its input was cut
  off: that turn is not run, it is asked again with more room;
- `stop_reason: refusal` ends the agent as failed, with the model's words;
- `pause_turn` hands the turn back to the model to finish;
- `stop_reason: max_tokens` on a text answer means the answer was cut off: it is
  asked again with more room, and still cut at the ceiling it ends `partial`,
  never `completed` (PATCH_WHOLE_ANSWER, checked only when that happens);
- an empty `end_turn` (no text, no call, mostly right after tool results) is
  answered once with a new user message asking the model to go on
  (PATCH_EMPTY_REPLY, checked only when that happens), and so is an empty reply
  that stopped at max_tokens or a stop sequence (PATCH_EMPTY_ANY);
- `stop_reason: model_context_window_exceeded` means the reply stopped where the
  window filled: nothing of it runs, and the agent ends `partial`
  (PATCH_CONTEXT_FULL, checked only when that happens).
Behaviour added after histories were recorded is gated by the caller's
`real_completion` patch flag, so those histories replay unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import workflow
from temporalio.exceptions import is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from agentfleet.contracts.models import (
        Effect,
        LlmRequest,
        LlmResponse,
        Message,
        NodeStatus,
        ToolResult,
        ToolResultBlock,
        ToolSpec,
        ToolUseBlock,
    )

from workflows._agent import Control, Spend
from workflows._calls import failure_message

# A cut-off tool input is asked again with twice the room, this many times.
MAX_TOKEN_RETRIES = 4
MAX_TOKENS_CEILING = 32_000
# A final answer cut off at max_tokens is asked again too. Histories recorded before
# took such an answer as done; the marker is written only when an answer is cut, so
# runs that never see one carry no extra event.
PATCH_WHOLE_ANSWER = "agentfleet-whole-answer-1"
# A reply that filled the model's context window stopped mid-way, and more room cannot
# finish it: nothing of that turn runs and the agent ends `partial`. Histories recorded
# before ran such a turn as it came; the marker is written only when one is seen.
CONTEXT_FULL = "model_context_window_exceeded"
PATCH_CONTEXT_FULL = "agentfleet-context-full-1"
# Claude sometimes ends a turn with no content at all, mostly right after tool results.
# Resending that turn gets the same nothing; a new user message asking it to go on gets
# the answer. Histories recorded before ended there, with an earlier turn's preface
# ("Let me read the file first.") standing as the answer; the marker is written only
# when an empty reply is seen.
PATCH_EMPTY_REPLY = "agentfleet-empty-reply-1"
# The same nothing, ended another way: an empty reply that stopped at max_tokens or a stop
# sequence says nothing either, and the preface before it is still no answer.
PATCH_EMPTY_ANY = "agentfleet-empty-reply-2"
# A tool call still cut off at the ceiling never runs; the agent ends `partial` saying
# so. Histories recorded before ended `completed` on the text around it and left the
# check to find the work missing; the marker is written only when that happens.
PATCH_CUT_TOOL = "agentfleet-cut-tool-1"
GO_ON = "Please continue: finish the task, then give your final answer."

CallTool = Callable[[ToolUseBlock], Awaitable[ToolResult]]


@dataclass
class LoopConfig:
    agent_id: str
    root_id: str
    model: str
    system: str
    tools: list[ToolSpec]
    max_turns: int
    max_tokens: int
    # Conversation by reference (PATCH_TRANSCRIPT_BY_REF): the activity keeps
    # the transcript and tools are named, not carried in history.
    by_ref: bool = True
    # PATCH_REAL_COMPLETION: truncation, refusal and pause_turn handling.
    real_completion: bool = True
    # Receipt purposes read "<prefix>turn N".
    purpose_prefix: str = ""

    def request_fields(self) -> dict[str, Any]:
        """What every model request of this loop carries, named as LlmRequest's fields.

        By reference, the activity keeps the transcript and the tools are only named.
        """
        tools: dict[str, Any] = (
            {"tools": [], "tool_names": [t.name for t in self.tools]}
            if self.by_ref
            else {"tools": self.tools}
        )
        return {
            "model": self.model,
            "system": self.system,
            "root_id": self.root_id,
            "agent_id": self.agent_id,
            "keep_transcript": self.by_ref,
            **tools,
        }


@dataclass
class LoopState:
    """Everything the loop needs to carry on, e.g. after continue-as-new."""

    messages: list[Message]
    transcript_ref: str | None = None
    turns: int = 0
    tool_calls: int = 0
    output: str = ""
    effects: list[Effect] = field(default_factory=list)

    def results(self) -> dict[str, Any]:
        """What the loop produced, named as AgentNode's fields (and SubAgentResume's)."""
        return {
            "output": self.output,
            "turns": self.turns,
            "tool_calls": self.tool_calls,
            "effects": self.effects,
        }


@dataclass
class LoopEnd:
    # "completed" here means the model stopped as if done: verification decides.
    status: NodeStatus
    error: str | None
    state: LoopState


@dataclass(eq=False)
class AgentLoop:
    cfg: LoopConfig
    spend: Spend
    control: Control
    call_tool: CallTool
    at_boundary: Callable[[LoopState], None] | None = None
    """Runs before each turn: the sub-agent continues-as-new from here."""
    on_error: Callable[[BaseException], None] | None = None
    """May raise to fail the caller instead of ending the loop as failed."""
    answer_cut: bool = False
    """The last answer was cut off at max_tokens, under PATCH_WHOLE_ANSWER."""
    tool_cut: str = ""
    """The tool whose call the last reply still cut off at the last room tried ("" if none)."""
    room: int = 0
    """The max_tokens the last reply was asked with."""

    async def run(self, state: LoopState) -> LoopEnd:
        status: NodeStatus = "partial"
        error: str | None = None
        try:
            status, error = await self._turns(state)
        except Exception as err:
            if is_cancelled_exception(err):
                raise
            if self.on_error is not None:
                self.on_error(err)
            status, error = "failed", failure_message(err)
        if not state.output and status != "completed":
            state.output = error or ""
        return LoopEnd(status=status, error=error, state=state)

    async def _turns(self, s: LoopState) -> tuple[NodeStatus, str | None]:
        cfg = self.cfg
        nudged = False
        while True:
            if not await self.control.checkpoint():
                return "canceled", f"canceled by parent: {self.control.reason}"
            if self.spend.exhausted:
                calls = self.spend.own.llm_calls
                return "budget_exhausted", f"budget exhausted after {s.turns} turns ({calls} calls)"
            if s.turns >= cfg.max_turns:
                return "partial", f"turn cap of {cfg.max_turns} reached; result is partial"
            if self.at_boundary is not None:
                self.at_boundary(s)
            s.turns += 1
            resp = await self._ask(s)
            stop = self._stopped(resp)
            if stop is not None:
                return stop
            empty = self._empty(resp)
            if empty and not nudged:
                nudged = True
                self._ask_on(s, resp)
                continue
            if cfg.by_ref:
                s.transcript_ref, s.messages = resp.transcript_ref, []
            else:
                s.messages.append(Message(role="assistant", content=resp.content))
            if resp.text or empty:
                # After a nudge that got nothing, no answer was given: an earlier turn's
                # preface is not one.
                s.output = resp.text
            uses = resp.tool_uses
            if cfg.real_completion and resp.stop_reason == "pause_turn" and not uses:
                continue
            if not uses and self.answer_cut:
                return "partial", (
                    f"the answer was cut off at the max_tokens ceiling ({MAX_TOKENS_CEILING}); "
                    "result is partial"
                )
            if not uses:
                return "completed", None
            await self._run_tools(s, uses)

    def _stopped(self, resp: LlmResponse) -> tuple[NodeStatus, str] | None:
        """A reply that ends the agent as it is: a refusal, a full window, a call cut off."""
        if self.cfg.real_completion and resp.stop_reason == "refusal":
            said = resp.text.strip()
            return "failed", "ModelRefused: the model refused the task" + (
                f": {said[:300]}" if said else ""
            )
        if self._context_full(resp):
            return "partial", (
                "the conversation filled the model's context window mid-reply; result is partial"
            )
        if self.tool_cut and workflow.patched(PATCH_CUT_TOOL):
            # Its transcript ends in a call that never runs: nothing can follow it.
            return "partial", (
                f"a {self.tool_cut} call was cut off at max_tokens ({self.room}, asked again "
                f"with more room {MAX_TOKEN_RETRIES} times) and was not run; result is partial"
            )
        return None

    async def _run_tools(self, s: LoopState, uses: list[ToolUseBlock]) -> None:
        """Every tool call of the turn, in order; their results are the next user message."""
        results: list[ToolResultBlock] = []
        for use in uses:
            s.tool_calls += 1
            result = await self.call_tool(use)
            s.effects.extend(result.effects)
            results.append(
                ToolResultBlock(
                    tool_use_id=use.id, content=result.content, is_error=result.is_error
                )
            )
        s.messages.append(Message(role="user", content=list(results)))

    async def _ask(self, s: LoopState) -> LlmResponse:
        """One turn; a reply cut off in a tool input or mid-answer is asked again, roomier."""
        cfg = self.cfg
        max_tokens = cfg.max_tokens
        for retry in range(MAX_TOKEN_RETRIES + 1):
            purpose = f"{cfg.purpose_prefix}turn {s.turns}" + (f" (retry {retry})" if retry else "")
            resp = await self.spend.call(self._request(s, max_tokens), purpose=purpose)
            cut_off = (
                resp.stop_reason == "max_tokens"
                and bool(resp.content)
                and isinstance(resp.content[-1], ToolUseBlock)
            ) or self._answer_cut_off(resp)
            self.answer_cut = cut_off and not resp.tool_uses
            self.tool_cut = resp.tool_uses[-1].name if cut_off and resp.tool_uses else ""
            self.room = max_tokens
            if not (cfg.real_completion and cut_off) or retry == MAX_TOKEN_RETRIES:
                if cfg.real_completion and cut_off:
                    # Still cut off at the ceiling: run nothing half-written.
                    return resp.model_copy(
                        update={"content": [b for b in resp.content if b.type == "text"]}
                    )
                return resp
            max_tokens = min(max_tokens * 2, MAX_TOKENS_CEILING)
        raise AssertionError("unreachable")

    def _empty(self, resp: LlmResponse) -> bool:
        """Whether the model ended its turn saying and calling nothing (and it is gated)."""
        nothing = self.cfg.real_completion and not resp.tool_uses and not resp.text.strip()
        if not nothing:
            return False
        if resp.stop_reason == "end_turn":
            return workflow.patched(PATCH_EMPTY_REPLY)
        ended = resp.stop_reason in ("max_tokens", "stop_sequence")
        return ended and workflow.patched(PATCH_EMPTY_ANY)

    def _ask_on(self, s: LoopState, resp: LlmResponse) -> None:
        """Ask for the rest in a new user message; the empty turn is not sent back."""
        if self.cfg.by_ref:
            s.transcript_ref, s.messages = resp.transcript_ref, [Message.user_text(GO_ON)]
        else:
            s.messages.append(Message.user_text(GO_ON))

    def _context_full(self, resp: LlmResponse) -> bool:
        """Whether the reply stopped because the context window was full (and is gated)."""
        full = self.cfg.real_completion and resp.stop_reason == CONTEXT_FULL
        return full and workflow.patched(PATCH_CONTEXT_FULL)

    def _answer_cut_off(self, resp: LlmResponse) -> bool:
        """Whether a final answer (no tool call) stopped at max_tokens, mid-answer."""
        cut = (
            self.cfg.real_completion
            and resp.stop_reason == "max_tokens"
            and not resp.tool_uses
            and bool(resp.text.strip())
        )
        return cut and workflow.patched(PATCH_WHOLE_ANSWER)

    def _request(self, s: LoopState, max_tokens: int) -> LlmRequest:
        return LlmRequest(
            messages=s.messages,
            max_tokens=max_tokens,
            transcript_ref=s.transcript_ref,
            **self.cfg.request_fields(),
        )
