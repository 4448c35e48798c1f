"""The simulated planner: split a goal into subtasks, like an eager real one.

It over-decomposes on purpose (an extra "plan" and "validate" subtask around
any multi-part goal), because real planners do, and the master must cope.
Each subtask gets an id, the paths it will produce (`outputs`, read with the
same grammar the agents act on) and `depends_on` for the parts that need an
earlier part's result.

Offered `submit_plan`, it answers with that tool call, as a forced
tool_choice makes Claude do; without it (older clients) it answers in text,
in the plan shape those clients know.
"""

from __future__ import annotations

import json
import re
from typing import Any

from agentfleet.sim.chores.answers import Cannot
from agentfleet.sim.chores.base import Op
from agentfleet.sim.chores.describe import describe_all
from agentfleet.sim.chores.grammar import parse_request, saved_summary
from agentfleet.sim.chores.text import (
    AFTER_THAT,
    VERBS,
    Context,
    clauses,
    is_lead_in,
    protect,
    resolve,
    restore,
)
from agentfleet.sim.conversation import (
    DIRECTIVE,
    Conversation,
    directives,
    int_directive,
    strip_directives,
    text_block,
)
from agentfleet.sim.habits import PROSE_JSON, Habits, for_subtasks
from agentfleet.sim.protocol import JSON, Reply

RETRY_PREFIX = "Your plan was invalid"
PLAN_TOOL = "submit_plan"
# Planner-only or re-added to every subtask by `for_subtasks`.
PLANNER_DIRECTIVES = {"malformed-plans", "habit", "truncate-below", "turns"}
TITLE_LIMIT = 60
DESCRIPTION_LIMIT = 4000
MAX_SUBTASKS = 500

_SPLIT = re.compile(
    r"(?:^|(?<=\s))\d{1,3}[.)](?=\s)"  # numbered list items: "1." or "1)"
    r"|;|\n"
    r"|(?<=\S)\.\s+"  # sentence ends; "notes/a.txt" has no space after its dot
    rf"|,?\s+(?:and\s+)?{AFTER_THAT},?\s+"
    rf"|,\s+and\s+then\s+|,\s+and\s+|,\s+then\s+|\s+then\s+|,\s+(?={VERBS})",
    re.IGNORECASE,
)
_THEN_WORDS = (
    rf"then|{AFTER_THAT}|after\s+(?:that|this)|afterwards|next|later|once\s+(?:done|finished)"
    r"|when\s+(?:done|finished)"
)
_LEADING = re.compile(rf"^(?:and|also|finally|{_THEN_WORDS})\b[\s,]*", re.IGNORECASE)
_AFTER = re.compile(rf"\b(?:{_THEN_WORDS})\b", re.IGNORECASE)
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


def split_parts(goal: str) -> list[tuple[str, bool]]:
    """(part, follows "then") for each part of a goal, in order.

    Quoted text and listed items ("one per line: a, b, write c") are never split.
    """
    shielded, saved = protect(goal, lists=True)
    parts: list[tuple[str, bool]] = []
    then = False
    at = 0
    for sep in [*_SPLIT.finditer(shielded), None]:
        raw = shielded[at : sep.start() if sep else len(shielded)]
        part = raw.strip()
        lead_then = bool(_AFTER.match(part))
        while _LEADING.match(part):
            part = _LEADING.sub("", part, count=1).strip()
        part = re.sub(r"(?:\s+and)?[\s.,]*$", "", part)
        if part:
            parts.append((restore(part, saved), then or lead_then))
        # "After that, write ...": a connective alone orders the next part.
        then = bool(sep and _AFTER.search(sep.group(0))) or (lead_then and not part)
        at = sep.end() if sep else len(shielded)
    # "In config.ini, change the port ...": the place belongs to the part after it.
    merged: list[tuple[str, bool]] = []
    for part, after in parts:
        if merged and is_lead_in(merged[-1][0]):
            merged[-1] = (f"{merged[-1][0]}, {part}", merged[-1][1] or after)
        else:
            merged.append((part, after))
    return merged


def split_goal(goal: str) -> list[str]:
    """The parts of a goal, one subtask each."""
    return [p for p, _ in split_parts(goal)]


def files_in(text: str) -> list[str]:
    """The file paths a text mentions, in order, without repeats."""
    return list(dict.fromkeys(m.group(1) for m in _PATH.finditer(text)))


def tools_for(text: str) -> list[str]:
    """The file tools a subtask's words suggest, for a part the grammar did not understand."""
    found = {t for pattern, tools in _TOOL_HINTS if re.search(pattern, text, re.I) for t in tools}
    return [t for t in _TOOL_ORDER if t in found]


def _title(text: str) -> str:
    text = strip_directives(text)
    text = text[:1].upper() + text[1:]
    return text if len(text) <= TITLE_LIMIT else text[: TITLE_LIMIT - 3].rstrip() + "..."


def _norm(path: str) -> str:
    return path.rstrip("/") or "."


def _overlaps(a: str, b: str) -> bool:
    a, b = _norm(a), _norm(b)
    return "." in (a, b) or a == b or a.startswith(b + "/") or b.startswith(a + "/")


def _subtask(sid: str, title: str, description: str, **rest: Any) -> JSON:
    body: JSON = {"id": sid, "title": title, "description": description[:DESCRIPTION_LIMIT]}
    body.update({"tools": [], "files": [], "outputs": [], "depends_on": []} | rest)
    return body


def _standing_alone(part: str, ops: list[Op]) -> str:
    """The part as its agent must read it.

    With no other part in view, it has to mean the same steps ("listing them" names what "them"
    was).
    """
    words = strip_directives(part)
    if parse_request(words) == ops:
        return part
    said = describe_all(ops)
    if said is None:
        return part
    kept = " ".join(m.group(0) for m in DIRECTIVE.finditer(part))
    return f"{said} {kept}".strip()


def plan_for(goal: str) -> JSON:
    """The `submit_plan` input for a goal.

    One subtask per part, with the outputs, files and tools the grammar finds in it; a goal of two
    or more parts also gets a plan step first and a check step last.
    """
    clean_goal = strip_directives(goal)
    carry = for_subtasks(directives(goal))
    parts = [
        (p, then)
        for p, then in split_parts(strip_directives(goal, PLANNER_DIRECTIVES))
        if strip_directives(p)
    ] or [(clean_goal or "Answer the request", False)]
    ctx = Context()
    work: list[JSON] = []
    offset = 1 if len(parts) >= 2 else 0  # the plan step takes s1
    for n, (part, then) in enumerate(parts):
        words = strip_directives(part)
        # A planner writes "it" out: the part runs alone, far from its referent.
        if len(clauses(words)) == 1:
            part = part.replace(words, resolve(words, ctx)) if words in part else part
        ops = parse_request(words, ctx=ctx)
        if len(parts) >= 2:
            ops = [saved_summary(op) for op in ops]
        part = _standing_alone(part, ops)
        outputs = list(dict.fromkeys(o for op in ops for o in op.outputs()))
        reads = [r for op in ops for r in op.reads()]
        understood = not any(isinstance(op, Cannot) for op in ops)
        files = [r for r in dict.fromkeys(reads) if r not in (".", "./")]
        files = files if understood else files_in(words)
        hints = [t for op in ops for t in op.tools()] if understood else tools_for(words)
        tools = [t for t in _TOOL_ORDER if t in hints] + [
            t for t in dict.fromkeys(hints) if t not in _TOOL_ORDER
        ]
        deps = [
            work[i]["id"]
            for i in range(n)
            if (then and i == n - 1)
            or any(_overlaps(x, o) for x in [*reads, *outputs] for o in work[i]["outputs"])
        ]
        description = f"{part} {carry}".strip()
        sid = f"s{n + 1 + offset}"
        work.append(
            _subtask(sid, _title(part), description, tools=tools, files=files, outputs=outputs)
        )
        work[-1]["depends_on"] = deps
    if len(parts) < 2:
        return {"subtasks": work[:MAX_SUBTASKS]}
    plan = _subtask(
        "s1", "Plan the approach", f"Plan how to approach: {clean_goal} {carry}".strip()
    )
    check = _subtask(
        f"s{len(work) + 2}",
        "Validate the results",
        f"Validate that every part of the goal was done: {clean_goal} {carry}".strip(),
        tools=["list_files", "read_file"],
        files=files_in(clean_goal),
        depends_on=[w["id"] for w in work],
    )
    return {"subtasks": [plan, *work, check][:MAX_SUBTASKS]}


def legacy(plan: JSON) -> JSON:
    """The plan in the shape clients had before plans were graphs.

    Their Plan model forbids unknown fields, so a client that offers no
    submit_plan gets no id, outputs or depends_on, and the files and tools
    it always got: every path a subtask names, and tools hinted by its verbs.
    """
    out = []
    for sub in plan["subtasks"]:
        words = strip_directives(sub["description"])
        if sub["title"] in ("Plan the approach", "Validate the results"):
            tools, files = sub["tools"], sub["files"]
        else:
            tools, files = tools_for(words), files_in(words)
        out.append(
            {
                "title": sub["title"],
                "description": sub["description"],
                "tools": tools,
                "files": files,
            }
        )
    return {"subtasks": out}


def _malformed_text(attempt: int, plan: JSON) -> str:
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


def _malformed_input(attempt: int, plan: JSON) -> JSON:
    # The same three shapes as tool input: prose where the list belongs, a
    # different schema, and an empty required field.
    variant = attempt % 3
    if variant == 0:
        return {"subtasks": _malformed_text(0, plan)}
    if variant == 1:
        return {"plan": [s["title"] for s in plan["subtasks"]]}
    return {"subtasks": [dict(plan["subtasks"][0], title=""), *plan["subtasks"][1:]]}


def _prose(plan_json: str, plan: JSON) -> str:
    n = len(plan["subtasks"])
    return (
        f"Here is a plan that splits the goal into {n} subtask{'s' if n != 1 else ''}.\n\n"
        f"```json\n{plan_json}\n```\n\n"
        "Subtasks with depends_on wait for those steps; the others can run in parallel."
    )


def reply(convo: Conversation, habits: Habits) -> Reply:
    """The simulated planner's answer: a `submit_plan` call, or the plan as text.

    Under prose-json, or without the tool, the plan comes as text. While the goal's `[sim:malformed-
    plans=N]` asks for it, the plan is malformed first.
    """
    goal = convo.first_user_text.strip()
    if goal.lower().startswith("goal:"):
        goal = goal[5:].strip()
    # One retry per user message, however many blocks it spreads the error over.
    attempt = sum(
        1
        for said in convo.user_feedback()
        if any(t.lstrip().startswith(RETRY_PREFIX) for t in said)
    )
    plan = plan_for(goal)
    malformed = attempt < int_directive(directives(goal), "malformed-plans")
    if PLAN_TOOL in convo.offered and PROSE_JSON not in habits:
        turns = convo.tool_turns()
        if turns and not any(c.is_error for c in turns[-1]):
            return Reply([text_block("The plan is submitted.")])
        tool_input = _malformed_input(attempt, plan) if malformed else plan
        return Reply([convo.tool_use(0, PLAN_TOOL, tool_input)])
    if PROSE_JSON in habits and not malformed:
        # A habit of the tool-mode planner: the graph is all there, in prose.
        return Reply([text_block(_prose(json.dumps(plan, indent=2), plan))])
    old = legacy(plan)
    text = _malformed_text(attempt, old) if malformed else json.dumps(old, indent=1)
    return Reply([text_block(text)])
