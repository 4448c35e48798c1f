"""The Anthropic Messages wire format, as far as the simulator needs it.

Validation mirrors the real API's checks that agent code most often trips on
(missing fields, empty content, unpaired tool_use/tool_result), so a bug found
against the simulator is a bug that would have failed against Claude too.
"""

from __future__ import annotations

import hashlib
import json
import math
import typing
from dataclasses import dataclass
from typing import Any

import anthropic.types

from agentfleet.delegation.catalog import PRICES_PER_MTOK
from agentfleet.jsontree import without_key

JSON = dict[str, Any]


@dataclass
class Reply:
    """What a role answers: content blocks, and why the model stopped.

    The stop_reason is given only when the content alone does not say it (a refusal).
    """

    content: list[JSON]
    stop_reason: str | None = None


ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class ApiError(Exception):
    """An error response, in Anthropic's shape, ready to be served."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    @property
    def error_type(self) -> str:
        """The `error.type` the real API sends with this status, which the SDK maps to a class."""
        return ERROR_TYPES.get(self.status, "api_error")

    def body(self, request_id: str) -> JSON:
        """The error response body, shaped as the real API's so the SDK parses it alike."""
        return {
            "type": "error",
            "error": {"type": self.error_type, "message": self.message},
            "request_id": request_id,
        }


def canonical(obj: Any) -> str:
    """`obj` as JSON with sorted keys and no spaces: one text for equal requests.

    Key order and whitespace differ between clients; hashing the canonical form keeps
    ids stable for semantically identical requests.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(obj: Any) -> str:
    """A SHA-256 of the canonical form: the seed of deterministic ids and choices."""
    return hashlib.sha256(canonical(obj).encode("utf-8")).hexdigest()


def blocks(content: Any) -> list[JSON]:
    """Message content as a list of blocks (the API also accepts a bare string)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


def text_of(content: Any) -> str:
    """The text blocks of message content joined by newlines; tool blocks say nothing here."""
    return "\n".join(str(b.get("text", "")) for b in blocks(content) if b.get("type") == "text")


def system_text(body: JSON) -> str:
    """The system prompt as text, whether sent as a string or as blocks."""
    return text_of(body.get("system") or "")


def role_of(body: Any) -> str:
    """The part the simulator plays, from the system prompt's `ROLE:` line."""
    if not isinstance(body, dict):
        return "unknown"
    first = system_text(body).strip().split("\n", 1)[0]
    if first.upper().startswith("ROLE:"):
        return first[5:].strip().lower() or "unknown"
    return "unknown"


def _chars(obj: Any) -> int:
    if obj is None:
        return 0
    if isinstance(obj, str):
        return len(obj)
    return len(canonical(obj))


def strip_cache_control(obj: Any) -> Any:
    """`obj` without its cache_control markers: they are not prompt tokens."""
    return without_key(obj, "cache_control")


def _system_chars(system: Any) -> int:
    # A system prompt sent as text blocks (how a cache breakpoint is put on it)
    # is the same prompt as that text sent as a string.
    if isinstance(system, list):
        return sum(len(str(b.get("text", ""))) for b in system if isinstance(b, dict))
    return _chars(system)


def input_tokens(body: JSON) -> int:
    """Input tokens billed for a request: about four characters a token, as Claude counts.

    The same estimate serves /v1/messages and count_tokens, so the two agree.
    """
    chars = (
        _system_chars(body.get("system"))
        + _chars(strip_cache_control(body.get("messages")))
        + _chars(strip_cache_control(body.get("tools")))
    )
    return max(1, math.ceil(chars / 4))


MAX_CACHE_BREAKPOINTS = 4


def _cache_marks(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        found = [obj["cache_control"]] if "cache_control" in obj else []
        return found + [m for k, v in obj.items() if k != "cache_control" for m in _cache_marks(v)]
    if isinstance(obj, list):
        return [m for v in obj for m in _cache_marks(v)]
    return []


def _validate_cache_control(body: JSON) -> None:
    marks = _cache_marks([body.get("tools"), body.get("system"), body.get("messages")])
    _require(
        len(marks) <= MAX_CACHE_BREAKPOINTS,
        f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. "
        f"Found {len(marks)}.",
    )
    for m in marks:
        _require(
            isinstance(m, dict) and m.get("type") == "ephemeral",
            "cache_control.type: Input should be 'ephemeral'",
        )


def output_tokens(content: list[JSON]) -> int:
    """Output tokens billed for a reply, counted from what the model generated.

    That is the text, and a tool call's name and JSON input; the block wrappers are
    not generated tokens.
    """
    chars = 0
    for b in content:
        if b.get("type") == "text":
            chars += len(str(b.get("text", "")))
        elif b.get("type") == "tool_use":
            chars += len(str(b.get("name", ""))) + _chars(b.get("input") or {})
    return max(1, math.ceil(chars / 4))


def _require(cond: object, message: str, status: int = 400) -> None:
    # A guard read like `assert`: any value, true or false by Python's rules.
    if not cond:
        raise ApiError(status, message)


def _sdk_model_names() -> set[str]:
    # The model ids this anthropic SDK release knows: what the real API serves.
    names: set[str] = set()
    for arg in typing.get_args(anthropic.types.Model):
        if typing.get_origin(arg) is typing.Literal:
            names.update(str(a) for a in typing.get_args(arg))
    return names


# Like the real API, a model id nobody serves is a 404, not a silent answer.
SERVED_MODELS = frozenset(_sdk_model_names() | set(PRICES_PER_MTOK))


def validate(body: Any, *, for_create: bool) -> JSON:
    """Raise ApiError for what the real API rejects; return the body typed."""
    _require(isinstance(body, dict), "request body must be a JSON object")
    assert isinstance(body, dict)
    model = body.get("model")
    _require(model is not None, "model: Field required")
    _require(isinstance(model, str) and model in SERVED_MODELS, f"model: {model}", 404)
    if for_create:
        if body.get("stream"):
            raise ApiError(
                400, "stream: streaming is not simulated by agentfleet-sim; send stream=false"
            )
        _require("max_tokens" in body, "max_tokens: Field required")
        mt = body["max_tokens"]
        _require(
            isinstance(mt, int) and not isinstance(mt, bool) and mt >= 1,
            "max_tokens: Input should be an integer greater than or equal to 1",
        )
    _validate_system(body.get("system"))
    _validate_tools(body.get("tools"))
    _validate_messages(body.get("messages"))
    _validate_cache_control(body)
    return body


def _validate_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    _require(isinstance(system, list), "system: Input should be a string or a list of blocks")
    for i, b in enumerate(system):
        _require(
            isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str),
            f"system.{i}: Input should be a text block",
        )


def _validate_tools(tools: Any) -> None:
    if tools is None:
        return
    _require(isinstance(tools, list), "tools: Input should be a valid list")
    for i, t in enumerate(tools):
        _require(
            isinstance(t, dict) and isinstance(t.get("name"), str),
            f"tools.{i}.name: Field required",
        )
        _require("input_schema" in t, f"tools.{i}.input_schema: Field required")


def _validate_messages(messages: Any) -> None:
    _require(messages is not None, "messages: Field required")
    _require(isinstance(messages, list), "messages: Input should be a valid list")
    _require(len(messages) > 0, "messages: at least one message is required")
    pending: set[str] = set()
    for i, m in enumerate(messages):
        _require(isinstance(m, dict), f"messages.{i}: Input should be an object")
        role = m.get("role")
        _require(
            role in ("user", "assistant"),
            f"messages.{i}.role: Input should be 'user' or 'assistant'",
        )
        content = m.get("content")
        _require(
            isinstance(content, str | list),
            f"messages.{i}.content: Input should be a string or list",
        )
        last_assistant = i == len(messages) - 1 and role == "assistant"
        _require(
            bool(content) or last_assistant,
            f"messages.{i}: all messages must have non-empty content except for the optional "
            "final assistant message",
        )
        seen: set[str] = set()
        for j, b in enumerate(blocks(content)):
            kind = b.get("type")
            if kind == "text":
                _require(
                    isinstance(b.get("text"), str) and b["text"] != "",
                    f"messages.{i}.content.{j}.text: text content blocks must be non-empty",
                )
            elif kind == "tool_result":
                tid = b.get("tool_use_id")
                _require(
                    role == "user" and tid in pending,
                    f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` "
                    f"blocks: {tid}. Each `tool_result` block must have a corresponding "
                    "`tool_use` block in the previous message.",
                )
                seen.add(str(tid))
        if pending:
            missing = sorted(pending - seen)
            _require(
                not missing,
                f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                "corresponding `tool_result` block in the next message.",
            )
        pending = (
            {str(b.get("id")) for b in blocks(content) if b.get("type") == "tool_use"}
            if role == "assistant"
            else set()
        )


# What the generation filled before it ended: newer models stop this way instead of
# refusing the request, with what they had written so far.
CONTEXT_FULL = "model_context_window_exceeded"
STOP_REASONS = frozenset(
    {"end_turn", "tool_use", "max_tokens", "stop_sequence", "pause_turn", "refusal", CONTEXT_FULL}
)


def envelope(
    body: JSON,
    content: list[JSON],
    *,
    stop_reason: str | None = None,
    output: int | None = None,
) -> JSON:
    """A complete Messages API response around `content`.

    stop_reason and output override what the content implies, for replies the
    model did not finish (max_tokens) or would not give (refusal).
    """
    if stop_reason is None:
        stop_reason = "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn"
    if stop_reason not in STOP_REASONS:
        raise ValueError(f"not a stop_reason the API sends: {stop_reason!r}")
    return {
        "id": "msg_sim_" + digest(body)[:24],
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": input_tokens(body),
            "output_tokens": output_tokens(content) if output is None else output,
            # The pure brain has no cache; the server fills these in (sim/cache.py).
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }
