"""Plans as real models write them: a tool call, or JSON wrapped in prose.

The planner is offered one tool, `submit_plan`, whose input schema is the
`Plan` model, and `tool_choice` forces it: that is the dependable way to get
structured output from Claude. Some Anthropic-compatible endpoints ignore
`tool_choice`, and a model asked again after an error sometimes answers in
text, so a text reply is accepted too when it holds one JSON object, fenced or
not, with prose around it.

A plan is a graph: a subtask may name the subtasks it `depends_on`. The graph
is checked here (unknown references, self-references, cycles) and every
problem is phrased for the model to fix, because it goes back to the model.
Pure code: the master workflow runs it inside its sandbox.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pydantic

from agentfleet.contracts.models import LlmResponse, Plan, Subtask, ToolSpec

SUBMIT_PLAN = "submit_plan"
RETRY_PREFIX = "Your plan was invalid:"

_FENCED = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)


def _inline_refs(schema: Any, defs: Mapping[str, Any]) -> Any:
    # Tool schemas are read by the model as prose-like structure; a flat
    # schema without $ref/$defs is what every Anthropic-compatible endpoint
    # accepts, and pydantic's "title" keys are noise in a prompt.
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        # A "title" whose value is a schema is a property called title: kept.
        return {
            k: _inline_refs(v, defs)
            for k, v in schema.items()
            if k != "$defs" and not (k == "title" and isinstance(v, str))
        }
    if isinstance(schema, list):
        return [_inline_refs(v, defs) for v in schema]
    return schema


def _plan_schema() -> dict[str, Any]:
    raw = Plan.model_json_schema()
    schema: dict[str, Any] = _inline_refs(raw, raw.get("$defs", {}))
    return schema


SUBMIT_PLAN_TOOL = ToolSpec(
    name=SUBMIT_PLAN,
    description=(
        "Submit the plan for the user's goal: the subtasks that sub-agents will run. "
        "Give each subtask an id, the workspace paths it will create or change in "
        "`outputs`, and in `depends_on` the ids of the subtasks whose results it needs. "
        "Subtasks without dependencies run in parallel."
    ),
    input_schema=_plan_schema(),
)

FORCE_SUBMIT_PLAN: dict[str, Any] = {"type": "tool", "name": SUBMIT_PLAN}


def find_json_object(text: str) -> Any:
    """The one JSON object in a reply, wherever the prose around it puts it.

    Fenced blocks are tried first (a model that fences means the fence), then
    every `{` in order until one starts a complete object. Raises ValueError
    phrased for the model when there is none.
    """
    objects = json_objects(text)
    if objects:
        return objects[0]
    if not text.strip():
        raise ValueError("the reply was empty; call submit_plan with the plan")
    raise ValueError("the reply holds no JSON object; call submit_plan with the plan")


def _describe(err: pydantic.ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'plan'}: {e['msg']}"
        for e in err.errors(include_url=False)
    )


def parse_plan_data(data: Any) -> Plan:
    """Validate a plan object and its graph; ValueError says what to fix."""
    try:
        plan = Plan.model_validate(data)
    except pydantic.ValidationError as err:
        raise ValueError(_describe(err)) from None
    return with_graph(plan)


def parse_plan(text: str) -> Plan:
    """A plan from a text reply (JSON alone, fenced, or inside prose)."""
    return parse_plan_data(find_json_object(text))


def legacy_parse_plan(text: str) -> Plan:
    """The parser histories recorded before plans-by-tool-use ran with.

    Strict (the whole reply, at most fenced, must be the object): a replayed
    run must fail and retry exactly where it did, so this never changes.
    """
    cleaned = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    try:
        data = json.loads(cleaned)
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON ({err.msg} at position {err.pos})") from None
    try:
        return Plan.model_validate(data)
    except pydantic.ValidationError as err:
        raise ValueError(_describe(err)) from None


def json_objects(text: str) -> list[dict[str, Any]]:
    """Every whole JSON object in a reply, in order: the fenced ones if any, else top-level."""
    decoder = json.JSONDecoder()
    fenced = []
    for m in _FENCED.finditer(text):
        try:
            value, _ = decoder.raw_decode(m.group(1).strip())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            fenced.append(value)
    if fenced:
        return fenced
    found, at = [], 0
    while (start := text.find("{", at)) >= 0:
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            at = start + 1
            continue
        if isinstance(value, dict):
            found.append(value)
        at = end
    return found


def plan_from(resp: LlmResponse, later: Callable[[], bool] | None = None) -> Plan:
    """The plan in a planner reply: its submit_plan call, else its text.

    A text that holds a draft and then the final plan ("Final plan: {...}") means the
    last one that validates; `later` says whether that reading applies (workflows gate
    it, so histories that took the first replay as they ran), and is asked only when
    the text holds more than one object.
    """
    for use in resp.tool_uses:
        if use.name == SUBMIT_PLAN:
            return parse_plan_data(use.input)
    objects = json_objects(resp.text)
    if len(objects) > 1 and objects[-1] != objects[0] and later is not None and later():
        for data in reversed(objects):
            try:
                return parse_plan_data(data)
            except ValueError:
                continue
    return parse_plan(resp.text)


# --- the graph ------------------------------------------------------------------


def _resolver(subtasks: list[Subtask]) -> dict[str, str]:
    """Every name a model may use for a subtask, mapped to its id.

    Models refer to steps by the id they gave, by position ("2") or by
    title; all three are accepted, ids first.
    """
    names: dict[str, str] = {}
    for i, s in enumerate(subtasks, start=1):
        assert s.id is not None
        names.setdefault(s.title.strip().lower(), s.id)
        names.setdefault(str(i), s.id)
    for s in subtasks:
        assert s.id is not None
        names[s.id] = s.id
    return names


def with_graph(plan: Plan) -> Plan:
    """The plan with every subtask's id set and every reference resolved to an id.

    Raises ValueError for duplicate ids, unknown or self references, and cycles.
    """
    subtasks = [
        s if s.id else s.model_copy(update={"id": str(i)})
        for i, s in enumerate(plan.subtasks, start=1)
    ]
    seen: set[str] = set()
    for s in subtasks:
        assert s.id is not None
        if s.id in seen:
            raise ValueError(f"two subtasks have the id {s.id!r}; ids must be unique")
        seen.add(s.id)
    names = _resolver(subtasks)
    resolved: list[Subtask] = []
    for s in subtasks:
        deps: list[str] = []
        for ref in s.depends_on:
            target = names.get(ref.strip()) or names.get(ref.strip().lower())
            if target is None:
                known = ", ".join(x.id or "" for x in subtasks)
                raise ValueError(
                    f"subtask {s.id!r} depends_on {ref!r}, which is not a subtask id (ids: {known})"
                )
            if target == s.id:
                raise ValueError(f"subtask {s.id!r} depends on itself")
            if target not in deps:
                deps.append(target)
        resolved.append(s.model_copy(update={"depends_on": deps}))
    cycle = find_cycle({s.id or "": s.depends_on for s in resolved})
    if cycle:
        raise ValueError(
            "depends_on forms a cycle: " + " -> ".join(cycle) + "; a subtask cannot wait for "
            "itself, directly or through others"
        )
    return Plan(subtasks=resolved)


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str]:
    """One cycle in a dependency map (node -> what it waits for), or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for dep in edges.get(node, ()):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return []

    for node in edges:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def rewire(kept: list[Subtask], removed: Mapping[str, str | None], original: Plan) -> list[Subtask]:
    """Reconnect dependencies after the guard removed or merged subtasks.

    `removed` maps the id of each subtask the guard took out to the id of the
    kept subtask that absorbed its work, or None when nothing did (a stripped
    step, a capped one). A dependency on an absorbed subtask becomes one on
    its absorber; a dependency on a dropped one becomes its own
    dependencies, so an order the plan asked for survives the pruning.
    """
    deps_of = {s.id or "": list(s.depends_on) for s in original.subtasks}
    kept_ids = {s.id for s in kept}

    def targets(ref: str, seen: frozenset[str]) -> list[str]:
        if ref in kept_ids:
            return [ref]
        if ref in seen:
            return []
        into = removed.get(ref)
        if into is not None:
            return targets(into, seen | {ref})
        out: list[str] = []
        for dep in deps_of.get(ref, []):
            out.extend(t for t in targets(dep, seen | {ref}) if t not in out)
        return out

    result: list[Subtask] = []
    for s in kept:
        deps: list[str] = []
        for ref in s.depends_on:
            deps.extend(t for t in targets(ref, frozenset()) if t != s.id and t not in deps)
        result.append(s.model_copy(update={"depends_on": deps}))
    return _break_cycles(result)


def keep_first(subtasks: list[Subtask], limit: int) -> list[Subtask]:
    """The first `limit` subtasks, with edges to the rest reconnected."""
    if len(subtasks) <= limit:
        return subtasks
    kept, cut = subtasks[:limit], subtasks[limit:]
    if not any(s.depends_on for s in subtasks):
        return kept
    return rewire(kept, {s.id: None for s in cut if s.id}, Plan(subtasks=subtasks))


def _break_cycles(subtasks: list[Subtask]) -> list[Subtask]:
    # A merge can join two steps that waited on each other through a third.
    # The plan's order then decides: an edge to a later subtask is dropped.
    order = {s.id: i for i, s in enumerate(subtasks)}
    while find_cycle({s.id or "": s.depends_on for s in subtasks}):
        subtasks = [
            s.model_copy(update={"depends_on": [d for d in s.depends_on if order[d] < order[s.id]]})
            for s in subtasks
        ]
    return subtasks
