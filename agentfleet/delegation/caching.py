"""Where prompt-cache breakpoints go on a Messages request.

Anthropic caches a prompt prefix up to each `cache_control` breakpoint, in the
order tools, system, messages, and allows at most four per request. For an
agent loop, where every turn resends the same tools and system prompt plus a
conversation one turn longer, the documented pattern is:

1. the last tool definition (caches all tools);
2. the system prompt, sent as a text block (caches tools + system);
3. the last content block of the newest message (caches the whole conversation,
   so the next turn reads it back and pays full price only for its new part);
4. the last block of the user message before that, the prefix the previous
   turn wrote, so the next read still hits when one turn adds more than the
   API's lookback of about 20 blocks.

Applied by the LLM activity to the request as sent, never to what workflows
carry: the breakpoints change no payload in history, and turning caching off
(`AGENTFLEET_PROMPT_CACHE=0`) needs no workflow change.
"""

from __future__ import annotations

from typing import Any

EPHEMERAL: dict[str, str] = {"type": "ephemeral"}
MAX_BREAKPOINTS = 4


def _mark(block: dict[str, Any]) -> None:
    block["cache_control"] = dict(EPHEMERAL)


def _last_block(message: dict[str, Any]) -> dict[str, Any] | None:
    content = message.get("content")
    if isinstance(content, str):
        if not content:
            return None
        message["content"] = [{"type": "text", "text": content}]
        content = message["content"]
    if isinstance(content, list) and content and isinstance(content[-1], dict):
        return content[-1]
    return None


def add_breakpoints(kwargs: dict[str, Any]) -> int:
    """Put cache breakpoints on `messages.create` keyword arguments, in place.

    Returns how many it placed (never more than MAX_BREAKPOINTS, and none on
    what the request already marked itself).
    """
    placed = sum(1 for _ in _existing(kwargs))
    targets: list[dict[str, Any]] = []
    tools = kwargs.get("tools")
    if isinstance(tools, list) and tools and isinstance(tools[-1], dict):
        targets.append(tools[-1])
    system = kwargs.get("system")
    if isinstance(system, str) and system:
        kwargs["system"] = [{"type": "text", "text": system}]
        targets.append(kwargs["system"][0])
    elif isinstance(system, list) and system and isinstance(system[-1], dict):
        targets.append(system[-1])
    messages = kwargs.get("messages")
    if isinstance(messages, list) and messages:
        newest = _last_block(messages[-1])
        if newest is not None:
            targets.append(newest)
        earlier = [m for m in messages[:-1] if isinstance(m, dict) and m.get("role") == "user"]
        if earlier:
            prev = _last_block(earlier[-1])
            if prev is not None:
                targets.append(prev)
    for block in targets:
        if placed >= MAX_BREAKPOINTS:
            break
        if "cache_control" not in block:
            _mark(block)
            placed += 1
    return placed


def _existing(kwargs: dict[str, Any]) -> list[Any]:
    found: list[Any] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            if "cache_control" in obj:
                found.append(obj["cache_control"])
            for k, v in obj.items():
                if k != "cache_control":
                    walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    walk([kwargs.get("tools"), kwargs.get("system"), kwargs.get("messages")])
    return found
