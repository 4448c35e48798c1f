"""A read-only view of one request's conversation, for the scripted roles.

The simulator is stateless: everything a role needs to decide its next step is
recovered from the messages the client sent back.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from agentfleet.sim.protocol import JSON, blocks, digest, text_of

DIRECTIVE = re.compile(r"\[sim:([a-z0-9_-]+)(?:=([^\]]*))?\]", re.IGNORECASE)


def directives(text: str) -> dict[str, str]:
    """`[sim:name=value]` markers; tests use them to script unusual behaviour."""
    return {m.group(1).lower(): (m.group(2) or "").strip() for m in DIRECTIVE.finditer(text)}


def strip_directives(text: str, names: set[str] | None = None) -> str:
    """The text without its `[sim:...]` directives (only those in `names`, if given)."""

    def drop(m: re.Match[str]) -> str:
        return "" if names is None or m.group(1).lower() in names else m.group(0)

    return re.sub(r"[ \t]{2,}", " ", DIRECTIVE.sub(drop, text)).strip()


def int_directive(found: dict[str, str], name: str) -> int:
    """A directive's whole-number value; 0 when it is missing or not a number."""
    try:
        return max(0, int(found.get(name, "0")))
    except ValueError:
        return 0


def text_block(text: str) -> JSON:
    """A text content block of the Messages API."""
    return {"type": "text", "text": text}


@dataclass(frozen=True)
class Call:
    """One tool call the model made earlier, with the result the client sent back."""

    name: str
    input: dict[str, Any]
    result: str
    is_error: bool


class Conversation:
    """A Messages API request body, read as the simulated model needs it.

    The system prompt, the turns, the tools offered and the tool results sent back.
    """

    def __init__(self, body: JSON) -> None:
        self.system = text_of(body.get("system") or "")
        self.messages: list[JSON] = [
            {"role": m.get("role"), "content": blocks(m.get("content"))}
            for m in body.get("messages") or []
        ]
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
        self.tool_names = {str(t.get("name")) for t in tools}
        self.schemas: dict[str, JSON] = {
            str(t.get("name")): dict(t.get("input_schema") or {}) for t in tools
        }
        choice = body.get("tool_choice")
        self.tool_choice: JSON = dict(choice) if isinstance(choice, dict) else {"type": "auto"}
        self.max_tokens = int(body.get("max_tokens") or 0)
        self._seed = digest({"system": body.get("system"), "messages": body.get("messages")})

    @property
    def offered(self) -> frozenset[str]:
        """The tools this turn may call: none at all under tool_choice "none"."""
        if self.tool_choice.get("type") == "none":
            return frozenset()
        return frozenset(self.tool_names)

    @property
    def one_call_per_turn(self) -> bool:
        """Whether the client asked for one tool call per turn (`disable_parallel_tool_use`)."""
        return bool(self.tool_choice.get("disable_parallel_tool_use"))

    def assistant_turns(self) -> int:
        """How many turns the model has taken so far."""
        return sum(1 for m in self.messages if m["role"] == "assistant")

    def user_feedback(self) -> list[list[str]]:
        """What the client said back after each of our turns, one list per user message.

        Its texts, and the text of any error tool_result (how a rejected tool input comes back).
        """
        out: list[list[str]] = []
        for m in self.messages[1:]:
            if m["role"] != "user":
                continue
            said: list[str] = []
            for b in m["content"]:
                if b.get("type") == "text":
                    said.append(str(b.get("text", "")))
                elif b.get("type") == "tool_result" and b.get("is_error"):
                    content = b.get("content")
                    said.append(content if isinstance(content, str) else text_of(content))
            out.append(said)
        return out

    def user_texts(self) -> list[str]:
        """The text of each user turn (tool results carry none)."""
        return [text_of(m["content"]) for m in self.messages if m["role"] == "user"]

    @property
    def first_user_text(self) -> str:
        """The opening request: the task or goal the conversation is about."""
        texts = [t for t in self.user_texts() if t]
        return texts[0] if texts else ""

    @property
    def last_user_text(self) -> str:
        """The newest thing the user said, such as the feedback on a rejected plan."""
        texts = [t for t in self.user_texts() if t]
        return texts[-1] if texts else ""

    def tool_turns(self) -> list[list[Call]]:
        """Earlier assistant turns that called tools, each call paired with its result."""
        results: dict[str, tuple[str, bool]] = {}
        for m in self.messages:
            for b in m["content"]:
                if m["role"] == "user" and b.get("type") == "tool_result":
                    content = b.get("content")
                    text = content if isinstance(content, str) else text_of(content)
                    results[str(b.get("tool_use_id"))] = (text, bool(b.get("is_error")))
        turns: list[list[Call]] = []
        for m in self.messages:
            if m["role"] != "assistant":
                continue
            calls = [
                Call(
                    name=str(b.get("name")),
                    input=dict(b.get("input") or {}),
                    result=results.get(str(b.get("id")), ("", False))[0],
                    is_error=results.get(str(b.get("id")), ("", False))[1],
                )
                for b in m["content"]
                if b.get("type") == "tool_use"
            ]
            if calls:
                turns.append(calls)
        return turns

    def tool_use(self, index: int, name: str, tool_input: dict[str, Any]) -> JSON:
        """A tool_use block whose id derives from the conversation.

        A retried request gets the same ids.
        """
        # Derived from the conversation so a replayed request gets the same ids.
        h = hashlib.sha256(f"{self._seed}:{index}".encode()).hexdigest()[:24]
        return {"type": "tool_use", "id": f"toolu_sim_{h}", "name": name, "input": tool_input}
