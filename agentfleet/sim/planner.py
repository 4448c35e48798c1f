"""The simulated planner: split a goal into subtasks, like an eager real one.

It over-decomposes on purpose (an extra "plan" and "validate" subtask around
any multi-part goal), because real planners do, and the master must cope.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentfleet.sim.conversation import (
    Conversation,
    directives,
    int_directive,
    strip_directives,
    text_block,
)
from agentfleet.sim.protocol import JSON

RETRY_PREFIX = "Your plan was invalid"
# Kept in subtask descriptions: they script the sub-agent that receives them.
PLANNER_DIRECTIVES = {"malformed-plans"}
TITLE_LIMIT = 60
DESCRIPTION_LIMIT = 4000
MAX_SUBTASKS = 500

_SPLIT = re.compile(
    r"(?:^|(?<=\s))\d{1,3}[.)](?=\s)"  # numbered list items: "1." or "1)"
    r"|;|\n"
    r"|(?<=\S)\.\s+"  # sentence ends; "notes/a.txt" has no space after its dot
    r"|,\s+and\s+|,\s+then\s+|\s+then\s+",
    re.IGNORECASE,
)
_LEADING = re.compile(r"^(?:and|then|also|finally)\b[\s,]*", re.IGNORECASE)
_PATH = re.compile(
    r"(?<![\w./-])((?:[\w.-]+/)+(?:[\w.-]*[\w-])?|[\w-]+\.[A-Za-z][A-Za-z0-9]{1,7})(?![\w/-])"
)
_TOOL_HINTS: list[tuple[str, tuple[str, ...]]] = [
    (r"\bsort", ("list_files", "make_dir", "move_file")),
    (r"\bindex\b", ("list_files", "write_file")),
    (r"\blist", ("list_files",)),
    (r"\bsummari[sz]e", ("read_file", "write_file")),
    (r"\bread\b", ("read_file",)),
    (r"\b(?:write|create|save)\b", ("write_file",)),
    (r"\b(?:move|rename)\b", ("move_file",)),
    (r"\b(?:folder|director(?:y|ies)|mkdir)\b", ("make_dir",)),
]
_TOOL_ORDER = ("list_files", "read_file", "write_file", "move_file", "make_dir")


def split_goal(goal: str) -> list[str]:
    parts = []
    for raw in _SPLIT.split(goal):
        part = raw.strip()
        while _LEADING.match(part):
            part = _LEADING.sub("", part, count=1).strip()
        part = re.sub(r"(?:\s+and)?[\s.,]*$", "", part)
        if part:
            parts.append(part)
    return parts


def files_in(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(1) for m in _PATH.finditer(text)))


def tools_for(text: str) -> list[str]:
    found = {t for pattern, tools in _TOOL_HINTS if re.search(pattern, text, re.I) for t in tools}
    return [t for t in _TOOL_ORDER if t in found]


def _title(text: str) -> str:
    text = strip_directives(text)
    text = text[:1].upper() + text[1:]
    return text if len(text) <= TITLE_LIMIT else text[: TITLE_LIMIT - 3].rstrip() + "..."


def _subtask(title: str, description: str, tools: list[str], files: list[str]) -> JSON:
    return {
        "title": title,
        "description": description[:DESCRIPTION_LIMIT],
        "tools": tools,
        "files": files,
    }


def plan_for(goal: str) -> JSON:
    clean_goal = strip_directives(goal)
    parts = [
        p for p in split_goal(strip_directives(goal, PLANNER_DIRECTIVES)) if strip_directives(p)
    ]
    if not parts:
        parts = [clean_goal or "Answer the request"]
    subtasks = [_subtask(_title(p), p, tools_for(p), files_in(strip_directives(p))) for p in parts]
    if len(parts) >= 2:
        subtasks.insert(
            0, _subtask("Plan the approach", f"Plan how to approach: {clean_goal}", [], [])
        )
        subtasks.append(
            _subtask(
                "Validate the results",
                f"Validate that every part of the goal was done: {clean_goal}",
                ["list_files", "read_file"],
                files_in(clean_goal),
            )
        )
    return {"subtasks": subtasks[:MAX_SUBTASKS]}


def _malformed(attempt: int, plan: JSON) -> str:
    # Three distinct failure shapes, so the master's error messages for each
    # (not JSON / wrong schema / invalid field) all get exercised.
    variant = attempt % 3
    if variant == 0:
        return (
            "Sure! Here is how I would split this goal: first look at the files, "
            "then do each part, then check the results."
        )
    if variant == 1:
        return json.dumps({"plan": [s["title"] for s in plan["subtasks"]]})
    broken: list[Any] = [dict(plan["subtasks"][0], title="")]
    return json.dumps({"subtasks": broken + plan["subtasks"][1:]}, indent=1)


def reply(convo: Conversation) -> list[JSON]:
    goal = convo.first_user_text.strip()
    if goal.lower().startswith("goal:"):
        goal = goal[5:].strip()
    attempt = sum(1 for t in convo.user_texts() if t.lstrip().startswith(RETRY_PREFIX))
    plan = plan_for(goal)
    if attempt < int_directive(directives(goal), "malformed-plans"):
        return [text_block(_malformed(attempt, plan))]
    return [text_block(json.dumps(plan, indent=1, ensure_ascii=False))]
