"""The simulator's pure core: a Messages request in, a Messages response out.

No I/O, no clock, no randomness: the same request always gets the same
response (habit rates are hashed from the seed and the conversation, not
drawn), which is what makes simulated runs replayable and testable.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from agentfleet.delegation import prompts
from agentfleet.sim import chores, planner
from agentfleet.sim.chores.base import first_line
from agentfleet.sim.conversation import Conversation, text_block
from agentfleet.sim.habits import (
    AGENT,
    CONTEXT_FULL,
    EMPTY_REPLY,
    PLANNER,
    REFUSAL,
    SYNTHESIZER,
    TRUNCATE,
    HabitKnobs,
    Habits,
    cut_off,
    habits_for,
    refusal,
)
from agentfleet.sim.protocol import CONTEXT_FULL as CONTEXT_STOP
from agentfleet.sim.protocol import (
    JSON,
    Reply,
    envelope,
    input_tokens,
    output_tokens,
    role_of,
    validate,
)

REPORTS_MARKER = "Sub-agent reports (JSON):"
NO_KNOBS = HabitKnobs()


def _synthesize(convo: Conversation, habits: Habits) -> Reply:
    if REFUSAL in habits:
        return Reply(refusal(), stop_reason="refusal")
    if EMPTY_REPLY in habits:
        return Reply([])
    text = convo.last_user_text
    reports: list[JSON] = []
    at = text.find(REPORTS_MARKER)
    if at >= 0:
        try:
            parsed, _ = json.JSONDecoder().raw_decode(text[at + len(REPORTS_MARKER) :].lstrip())
        except json.JSONDecodeError:
            parsed = []
        reports = [r for r in parsed if isinstance(r, dict)] if isinstance(parsed, list) else []
    done = sum(1 for r in reports if r.get("status") == "completed")
    lines = [f"Simulated synthesis of {len(reports)} sub-agent reports ({done} completed):"]
    for r in reports:
        report = first_line(str(r.get("report") or "")) or "(no report)"
        lines.append(f"- {r.get('title', '')} [{r.get('status', '?')}]: {report}")
    return Reply([text_block("\n".join(lines))])


def _inline(convo: Conversation, habits: Habits) -> Reply:
    # The tool-less inline role of older workflows: it can only answer.
    return Reply([text_block(f"Simulated inline answer: {first_line(convo.last_user_text)}")])


def _unknown(convo: Conversation, habits: Habits) -> Reply:
    return Reply(
        [
            text_block(
                "Simulated reply (agentfleet-sim found no known ROLE line): "
                + (first_line(convo.last_user_text) or "(no text)")
            )
        ]
    )


ROLES: dict[str, Callable[[Conversation, Habits], Reply]] = {
    prompts.ROLE_PLANNER: planner.reply,
    prompts.ROLE_SUBAGENT: chores.reply,
    prompts.ROLE_SYNTHESIZER: _synthesize,
    prompts.ROLE_INLINE: _inline,
}
# Which habits a role can show; the others answer plainly.
HABIT_PARTS = {
    prompts.ROLE_PLANNER: PLANNER,
    prompts.ROLE_SUBAGENT: AGENT,
    prompts.ROLE_SYNTHESIZER: SYNTHESIZER,
}


def answer(body: object, knobs: HabitKnobs = NO_KNOBS) -> tuple[JSON, frozenset[str]]:
    """The response, and the habits it showed (for the server's stats)."""
    req = validate(body, for_create=True)
    convo = Conversation(req)
    role = role_of(req)
    part = HABIT_PARTS.get(role)
    habits = habits_for(convo, part, knobs) if part else Habits()
    reply = ROLES.get(role, _unknown)(convo, habits)
    content, stop, output = reply.content, reply.stop_reason, None
    if stop is None and not content and habits.empty_stop:
        stop = habits.empty_stop
    if stop is None and CONTEXT_FULL in habits:
        # The window fills half way through the reply, whatever max_tokens allows.
        half = max(1, output_tokens(content) // 2)
        content, stop, output = cut_off(content, convo.schemas, half), CONTEXT_STOP, half
    if stop is None:
        # Under the habit a reply is cut below the room it needs: a tool input, or an answer.
        short = TRUNCATE in habits and convo.max_tokens < habits.truncate_below
        # Past max_tokens the real API stops mid-answer, habit or not.
        if short or output_tokens(content) > convo.max_tokens:
            content = cut_off(content, convo.schemas, convo.max_tokens)
            stop, output = "max_tokens", convo.max_tokens
    return envelope(req, content, stop_reason=stop, output=output), habits.on


def respond(body: object, knobs: HabitKnobs = NO_KNOBS) -> JSON:
    """POST /v1/messages. Raises protocol.ApiError for an invalid request."""
    return answer(body, knobs)[0]


def count_tokens(body: object) -> JSON:
    """POST /v1/messages/count_tokens, counted exactly as `respond` bills input."""
    return {"input_tokens": input_tokens(validate(body, for_create=False))}
