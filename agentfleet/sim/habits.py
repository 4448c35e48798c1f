"""Fault modes for the habits of real models, one conversation at a time.

A habit is switched on by `[sim:habit=NAME,...]` in the conversation's first
user message (the goal for the planner, the task text for an agent), or by a
seeded per-server rate for soak runs. The draw is a hash of the seed and the
conversation's opening, never a random stream: every turn of one conversation
sees the same habit, and a replayed request gets the same answer.

Each habit only changes what a real model could send: content blocks,
stop_reason and usage. Nothing here adds a field the Messages API lacks.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from agentfleet.sim.conversation import Conversation, directives, text_block
from agentfleet.sim.protocol import JSON

PROSE_JSON = "prose-json"
MULTI_TOOL = "multi-tool"
TRUNCATE = "truncate"
REFUSAL = "refusal"
CLAIM_DONE = "claim-done"
BAD_ARGS = "bad-args"
PARAPHRASE = "own-words"
GUESS = "guess"
CONTEXT_FULL = "context-full"
EMPTY_REPLY = "empty-reply"
HABITS: tuple[str, ...] = (
    PROSE_JSON,
    MULTI_TOOL,
    TRUNCATE,
    REFUSAL,
    CLAIM_DONE,
    BAD_ARGS,
    PARAPHRASE,
    GUESS,
    CONTEXT_FULL,
    EMPTY_REPLY,
)

PLANNER = "planner"
AGENT = "agent"
SYNTHESIZER = "synthesizer"
# A planner has one tool, so several calls or a retried argument make no sense
# there; a refusal or "done" from the planner would end the run before any
# agent could show its own habit.
APPLIES: dict[str, frozenset[str]] = {
    PLANNER: frozenset({PROSE_JSON, TRUNCATE, CONTEXT_FULL}),
    # An agent answers in tool calls and words: every habit but the planner's prose.
    AGENT: frozenset(HABITS) - {PROSE_JSON},
    SYNTHESIZER: frozenset({TRUNCATE, REFUSAL, CONTEXT_FULL, EMPTY_REPLY}),
}
# How an empty reply ends, `[sim:empty-stop=max_tokens]`: some servers stop an empty
# reply at max_tokens or a stop sequence rather than end_turn.
EMPTY_STOPS = frozenset({"max_tokens", "stop_sequence"})
# The summary has a directive of its own, `[sim:synthesis-habit=...]`: a goal's
# `habit` reaches its planner and agents, and a test can cut or refuse the one reply
# that sums their work up without touching theirs.
HABIT_KEY = {SYNTHESIZER: "synthesis-habit"}
# Soak rates reach only these parts: a summary is one call at the end of a run, and a
# rate there would mostly re-measure what the agents' habits already do.
RATED = frozenset({PLANNER, AGENT})
TRUNCATE_BELOW = 4096
REFUSAL_TEXT = "I can't help with that request."


def check_habits(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The habit names, known and without repeats; an unknown name is an error."""
    unknown = sorted(set(names) - set(HABITS))
    if unknown:
        raise ValueError(f"unknown habits {unknown}; known: {', '.join(HABITS)}")
    return tuple(dict.fromkeys(names))


def named_habits(found: dict[str, str], key: str = "habit") -> list[str]:
    """The habits a `[sim:habit=...]` directive turns on (unknown names ignored)."""
    raw = found.get(key, "")
    return [h for h in (p.strip().lower() for p in raw.split(",")) if h in HABITS]


@dataclass(frozen=True)
class HabitKnobs:
    """The server-level switch: a share of conversations gets one habit each."""

    rate: float = 0.0
    pool: tuple[str, ...] = HABITS
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"habit rate must be in [0, 1], got {self.rate}")
        check_habits(self.pool)


@dataclass(frozen=True)
class Habits:
    """The bad habits one reply shows, and the output length below which `truncate` cuts."""

    on: frozenset[str] = frozenset()
    truncate_below: int = TRUNCATE_BELOW
    empty_stop: str | None = None

    def __contains__(self, name: object) -> bool:
        return name in self.on


def _unit(key: str) -> float:
    return int(hashlib.sha256(key.encode()).hexdigest()[:13], 16) / float(16**13)


def habits_for(convo: Conversation, part: str, knobs: HabitKnobs) -> Habits:
    """The bad habits this reply shows.

    Those the directives name, plus one drawn at the configured rate, seeded by the conversation so
    a retry behaves the same.
    """
    opening = convo.first_user_text
    found = directives(opening)
    names = {h for h in named_habits(found, HABIT_KEY.get(part, "habit")) if h in APPLIES[part]}
    pool = [h for h in knobs.pool if h in APPLIES[part]]
    if knobs.rate > 0 and pool and part in RATED:
        key = f"{knobs.seed}:{part}:{convo.system}:{opening}"
        if _unit(key) < knobs.rate:
            names.add(pool[int(_unit(key + ":which") * len(pool))])
    try:
        below = int(found.get("truncate-below", TRUNCATE_BELOW))
    except ValueError:
        below = TRUNCATE_BELOW
    stop = found.get("empty-stop", "").strip().lower()
    return Habits(frozenset(names), max(1, below), stop if stop in EMPTY_STOPS else None)


def for_subtasks(found: dict[str, str]) -> str:
    """The directives a planner passes on to every subtask it writes."""
    agent = [h for h in named_habits(found) if h in APPLIES[AGENT]]
    out = f"[sim:habit={','.join(agent)}]" if agent else ""
    if agent and "truncate-below" in found:
        out += f" [sim:truncate-below={found['truncate-below']}]"
    if "turns" in found:
        # Every agent of the tree keeps busy, not only the one whose part the goal's
        # text happened to end with.
        out += f" [sim:turns={found['turns']}]"
    return out.strip()


# --- wire shaping ---------------------------------------------------------------------

_WRONG_NAMES = {
    "content": "text",
    "path": "file_path",
    "src": "source",
    "dst": "destination",
    "old_string": "old_text",
    "new_string": "new_text",
    "pattern": "query",
}


def bad_arguments(tool_input: dict[str, Any], schema: JSON) -> dict[str, Any]:
    """The input with its last required field under a name the schema lacks.

    The commonest way a real model's call fails validation.
    """
    required = [k for k in schema.get("required") or [] if k in tool_input]
    key = required[-1] if required else next(iter(tool_input), None)
    if key is None:
        return {"directory": "."}
    wrong = _WRONG_NAMES.get(key, f"{key}_value")
    return {(wrong if k == key else k): v for k, v in tool_input.items()}


def _incomplete(tool_input: dict[str, Any], schema: JSON) -> dict[str, Any]:
    # JSON is generated key by key, so a cut keeps a prefix: for a list of
    # objects, the first items and a last one without its later keys.
    for key, value in tool_input.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            kept = [dict(v) for v in value[: (len(value) + 1) // 2]]
            last = kept[-1]
            names = list(last)
            stop = names.index("description") if "description" in names else len(names) - 1
            kept[-1] = {k: last[k] for k in names[: max(1, stop)]}
            return {**{k: v for k, v in tool_input.items() if k != key}, key: kept}
    required = [k for k in schema.get("required") or [] if k in tool_input]
    if not required:
        return {}
    names = list(tool_input)
    return {k: tool_input[k] for k in names[: names.index(required[-1])]}


def cut_off(content: list[JSON], schemas: dict[str, JSON], max_tokens: int) -> list[JSON]:
    """What is left of a reply stopped by max_tokens."""
    uses = [i for i, b in enumerate(content) if b.get("type") == "tool_use"]
    if uses:
        at = uses[(len(uses) - 1) // 2]
        block = content[at]
        cut = _incomplete(dict(block.get("input") or {}), schemas.get(str(block["name"]), {}))
        return [*content[:at], {**block, "input": cut}]
    text = "".join(str(b.get("text", "")) for b in content if b.get("type") == "text")
    return [text_block(text[: max(1, max_tokens * 4)])]


# The fields that carry the words a file ends up holding.
_WORDS_FIELDS = ("content", "new_string")


def paraphrased(tool_input: dict[str, Any]) -> dict[str, Any]:
    """The input with the words it writes put the model's own way: close, not as given.

    A real model asked to write "buy milk" sometimes writes "Milk to buy" and says done.
    """
    out = dict(tool_input)
    for key in _WORDS_FIELDS:
        text = out.get(key)
        if isinstance(text, str) and text.strip():
            words = text.split()
            out[key] = " ".join(reversed(words)) if len(words) > 1 else words[0][::-1] + "\n"
    return out


def guessed(title: str) -> list[JSON]:
    """An answer given without opening anything, as a model sure of itself words one."""
    return [
        text_block(
            f"{title.rstrip('?.')}: files like this usually say the deadline is the end of "
            "the month, so that is most likely what it says."
        )
    ]


def refusal() -> list[JSON]:
    """A refusal as a real model words one, for the refusal habit."""
    return [text_block(REFUSAL_TEXT)]
