"""The simulator's pure core: a Messages request in, a Messages response out.

No I/O, no clock, no randomness: the same request always gets the same
response, which is what makes simulated runs replayable and testable.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from agentfleet import prompts
from agentfleet.sim import planner, subagent
from agentfleet.sim.conversation import Conversation, text_block
from agentfleet.sim.protocol import JSON, envelope, input_tokens, role_of, validate

REPORTS_MARKER = "Sub-agent reports (JSON):"


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def _synthesize(convo: Conversation) -> list[JSON]:
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
        report = _first_line(str(r.get("report") or "")) or "(no report)"
        lines.append(f"- {r.get('title', '')} [{r.get('status', '?')}]: {report}")
    return [text_block("\n".join(lines))]


def _inline(convo: Conversation) -> list[JSON]:
    return [text_block(f"Simulated inline answer: {_first_line(convo.last_user_text)}")]


def _unknown(convo: Conversation) -> list[JSON]:
    return [
        text_block(
            "Simulated reply (agentfleet-sim found no known ROLE line): "
            + (_first_line(convo.last_user_text) or "(no text)")
        )
    ]


ROLES: dict[str, Callable[[Conversation], list[JSON]]] = {
    prompts.ROLE_PLANNER: planner.reply,
    prompts.ROLE_SUBAGENT: subagent.reply,
    prompts.ROLE_SYNTHESIZER: _synthesize,
    prompts.ROLE_INLINE: _inline,
}


def respond(body: object) -> JSON:
    """POST /v1/messages. Raises protocol.ApiError for an invalid request."""
    req = validate(body, for_create=True)
    content = ROLES.get(role_of(req), _unknown)(Conversation(req))
    return envelope(req, content)


def count_tokens(body: object) -> JSON:
    """POST /v1/messages/count_tokens, counted exactly as `respond` bills input."""
    return {"input_tokens": input_tokens(validate(body, for_create=False))}
