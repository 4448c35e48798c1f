"""The simulated agent (sub-agent and the master's inline work).

File chores done with real tool calls, clause by clause, from what the tools report.

Stateless: each request re-reads the task, re-runs its operations against the
tool results already in the conversation, and answers with the next step. It
acts only with the tools the request offers, and its report names a path as
changed only when one of its own calls changed it.
"""

from __future__ import annotations

from agentfleet.sim.chores.answers import Cannot
from agentfleet.sim.chores.base import Env, Outcome, Use
from agentfleet.sim.chores.driver import Run
from agentfleet.sim.chores.grammar import parse_request
from agentfleet.sim.chores.mcp import mcp_calls
from agentfleet.sim.chores.text import parse_task
from agentfleet.sim.conversation import Call, Conversation, int_directive, text_block
from agentfleet.sim.habits import (
    BAD_ARGS,
    CLAIM_DONE,
    EMPTY_REPLY,
    GUESS,
    MULTI_TOOL,
    PARAPHRASE,
    REFUSAL,
    Habits,
    bad_arguments,
    guessed,
    paraphrased,
    refusal,
)
from agentfleet.sim.protocol import JSON, Reply

__all__ = ["reply"]


def _busy(title: str, convo: Conversation, wanted: int) -> list[JSON]:
    # `[sim:turns=N]`: keeps looking around for N turns, counted from the
    # history sent back, so a client that trims history runs into its turn cap.
    if len(convo.tool_turns()) < wanted:
        return [convo.tool_use(0, "list_files", {"path": ".", "recursive": False})]
    return [text_block(f"Simulated answer: {title} (after {wanted} turns)")]


def _looks_first(habits: Habits, env: Env, sent: list[tuple[int, Use]]) -> bool:
    """Whether a lone first call goes out with a look at the workspace (multi-tool).

    A model in a hurry looks and acts in one turn.
    """
    return MULTI_TOOL in habits and len(sent) == 1 and "list_files" in env.offered


def _replay(run: Run, turns: list[list[Call]], habits: Habits, env: Env) -> None:
    """Feeds the run the tool results already in the conversation, turn by turn."""
    # Under bad-args the first tool turn was the malformed try; its error
    # result taught nothing the operations need, so it is passed over.
    recorded = turns[1:] if BAD_ARGS in habits else turns
    for n, calls in enumerate(recorded):
        sent = run.turn()
        if not sent:
            break
        if n == 0 and _looks_first(habits, env, sent) and len(calls) == len(sent) + 1:
            calls = calls[1:]
        outs = [Outcome(ok=not c.is_error, text=c.result) for c in calls]
        outs += [Outcome(ok=False, text="no tool_result was sent back")] * (len(sent) - len(outs))
        run.feed(sent, outs[: len(sent)])


def reply(convo: Conversation, habits: Habits) -> Reply:
    """The simulated agent's next message: its next tool calls, or its final report.

    Habits shape it the way a real model misbehaves (refusal, claim-done, bad-args, multi-tool,
    own-words, guess, empty-reply).
    """
    task = parse_task(convo.first_user_text)
    if REFUSAL in habits:
        return Reply(refusal(), stop_reason="refusal")
    wanted = int_directive(task.found, "turns")
    if wanted:
        return Reply(_busy(task.title, convo, wanted))
    env = Env(convo.offered, task.produce)
    ops = parse_request(task.description, task.produce)
    scripted = mcp_calls(task.description, task.found)
    if scripted:
        # The words around a scripted tool call are not file chores of their own.
        ops = [*scripted, *(op for op in ops if not isinstance(op, Cannot))]
    run = Run(
        ops,
        env,
        merge=MULTI_TOOL in habits,
        single=convo.one_call_per_turn,
    )
    if GUESS in habits and convo.assistant_turns() == 0:
        return Reply(guessed(task.title))
    if CLAIM_DONE in habits and convo.assistant_turns() == 0 and run.claims():
        return Reply([text_block("Done. " + " ".join(run.claims()))])
    turns = convo.tool_turns()
    _replay(run, turns, habits, env)
    sent = run.turn()
    if not sent:
        if EMPTY_REPLY in habits and _after_tool_results(convo):
            # Claude's empty end_turn: the work is done, the answer never comes unless asked.
            return Reply([])
        return Reply([text_block(run.report())])
    if any(use.name not in env.offered for _, use in sent):
        # Operations check what is offered; this keeps that promise if one forgets.
        names = sorted({use.name for _, use in sent} - env.offered)
        return Reply([text_block(f"I stopped: {', '.join(names)} was not offered.")])
    if BAD_ARGS in habits and not turns:
        first = sent[0][1]
        bad = bad_arguments(first.input, convo.schemas.get(first.name, {}))
        return Reply([convo.tool_use(0, first.name, bad)])
    uses = [use for _, use in sent]
    if PARAPHRASE in habits:
        uses = [Use(use.name, paraphrased(use.input)) for use in uses]
    if not turns and _looks_first(habits, env, sent):
        uses.insert(0, Use("list_files", {"path": ".", "recursive": False}))
    blocks = [convo.tool_use(k, use.name, use.input) for k, use in enumerate(uses)]
    if MULTI_TOOL in habits and len(blocks) > 1:
        blocks.insert(0, text_block(f"I'll make these {len(blocks)} calls in one go."))
    elif EMPTY_REPLY in habits:
        # As Claude often does, it says what it is about to do before it does it.
        blocks.insert(0, text_block("Let me take a look first."))
    return Reply(blocks)


def _after_tool_results(convo: Conversation) -> bool:
    """Whether the newest user message only hands back tool results (no words of its own)."""
    last = convo.messages[-1] if convo.messages else {}
    return last.get("role") == "user" and all(
        b.get("type") == "tool_result" for b in last.get("content") or []
    )
