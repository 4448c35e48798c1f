"""Plans as real models send them, and plans as graphs the guard must not break."""

from __future__ import annotations

import json

import pytest

from agentfleet.contracts.models import LlmResponse, Plan, Subtask, TextBlock, ToolUseBlock
from agentfleet.delegation.planning import (
    SUBMIT_PLAN,
    SUBMIT_PLAN_TOOL,
    find_cycle,
    keep_first,
    parse_plan,
    plan_from,
    with_graph,
)
from agentfleet.delegation.policy import DelegationPolicy, guard

PLAN = {
    "subtasks": [
        {"id": "file", "title": "File the papers", "description": "Move inbox/*.pdf into papers/"},
        {
            "id": "index",
            "title": "Index the papers",
            "description": "Write papers/INDEX.md listing every paper",
            "outputs": ["papers/INDEX.md"],
            "depends_on": ["file"],
        },
    ]
}


def test_the_submit_plan_schema_is_flat_and_names_the_graph_fields() -> None:
    schema = SUBMIT_PLAN_TOOL.input_schema
    text = json.dumps(schema)
    assert "$ref" not in text and "$defs" not in text and '"title": "Plan"' not in text
    item = schema["properties"]["subtasks"]["items"]
    assert {"id", "title", "description", "outputs", "depends_on"} <= set(item["properties"])
    assert item["required"] == ["title", "description"]


@pytest.mark.parametrize(
    "reply",
    [
        json.dumps(PLAN),
        "Here is the plan:\n```json\n" + json.dumps(PLAN, indent=2) + "\n```\nLet me know!",
        "Sure. " + json.dumps(PLAN) + " That should cover it.",
        "```\n" + json.dumps(PLAN) + "\n```",
    ],
)
def test_a_plan_in_text_is_found_with_or_without_fence_and_prose(reply: str) -> None:
    plan = parse_plan(reply)
    assert [s.id for s in plan.subtasks] == ["file", "index"]
    assert plan.subtasks[1].depends_on == ["file"]


def test_a_reply_without_json_says_what_to_do() -> None:
    with pytest.raises(ValueError, match="no JSON object; call submit_plan"):
        parse_plan("I would first look at the files, then sort them.")


def test_the_tool_call_wins_over_text() -> None:
    resp = LlmResponse(
        id="m",
        model="claude-haiku-4-5",
        content=[
            TextBlock(text='{"subtasks": []}'),
            ToolUseBlock(id="t1", name=SUBMIT_PLAN, input=PLAN),
        ],
        stop_reason="tool_use",
    )
    assert len(plan_from(resp).subtasks) == 2


@pytest.mark.parametrize("fenced", [True, False])
def test_a_draft_then_the_final_plan_runs_the_final_one(*, fenced: bool) -> None:
    draft = {"subtasks": [{"title": "Only a draft step", "description": "d"}]}
    wrap = (lambda o: f"```json\n{json.dumps(o)}\n```") if fenced else json.dumps
    text = f"A first draft:\n{wrap(draft)}\nOn second thought. Final plan:\n{wrap(PLAN)}\nDone."
    resp = LlmResponse(id="m", model="claude-haiku-4-5", content=[TextBlock(text=text)])
    asked: list[bool] = []

    def later() -> bool:
        asked.append(True)
        return True

    assert len(plan_from(resp, later=later).subtasks) == 2 and asked == [True]
    # Ungated (a history recorded before), the first object is the plan, as it ran.
    assert [s.title for s in plan_from(resp).subtasks] == ["Only a draft step"]


def test_one_plan_in_a_reply_never_asks_for_the_later_reading() -> None:
    resp = LlmResponse(id="m", model="claude-haiku-4-5", content=[TextBlock(text=json.dumps(PLAN))])
    assert len(plan_from(resp, later=lambda: pytest.fail("asked")).subtasks) == 2


def test_ids_default_to_positions_and_references_resolve_by_id_position_or_title() -> None:
    plan = with_graph(
        Plan(
            subtasks=[
                Subtask(title="Make folders", description="mkdir a b"),
                Subtask(title="Move files", description="move", depends_on=["1"]),
                Subtask(title="Index", description="index", depends_on=["move files", "2"]),
            ]
        )
    )
    assert [s.id for s in plan.subtasks] == ["1", "2", "3"]
    assert plan.subtasks[2].depends_on == ["2"]


@pytest.mark.parametrize(
    ("deps", "message"),
    [
        ({"a": ["b"], "b": ["a"]}, "depends_on forms a cycle: a -> b -> a"),
        ({"a": ["zzz"], "b": []}, "depends_on 'zzz', which is not a subtask id"),
        ({"a": ["a"], "b": []}, "depends on itself"),
    ],
)
def test_graph_errors_are_plan_errors_for_the_model(
    deps: dict[str, list[str]], message: str
) -> None:
    plan = Plan(
        subtasks=[
            Subtask(id=k, title=f"step {k}", description=k, depends_on=v) for k, v in deps.items()
        ]
    )
    with pytest.raises(ValueError, match=message):
        with_graph(plan)


def test_duplicate_ids_are_refused() -> None:
    plan = Plan(
        subtasks=[
            Subtask(id="x", title="a", description="a"),
            Subtask(id="x", title="b", description="b"),
        ]
    )
    with pytest.raises(ValueError, match="two subtasks have the id 'x'"):
        with_graph(plan)


def test_find_cycle_finds_long_cycles() -> None:
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": [], "c": ["a", "b"]}) == []


def _work(i: str, desc: str, deps: list[str] | None = None) -> Subtask:
    return Subtask(
        id=i,
        title=f"Step {i}: {desc[:30]}",
        description=desc,
        depends_on=deps or [],
        files=[f"data/{i}/"],
    )


SIZABLE = (
    "Read every report in {d}, compare the quarterly figures across regions and write a summary"
)


def test_a_stripped_validate_step_passes_its_dependencies_on() -> None:
    plan = with_graph(
        Plan(
            subtasks=[
                _work("a", SIZABLE.format(d="q1/")),
                Subtask(
                    id="check",
                    title="Validate the results",
                    description="check it",
                    depends_on=["a"],
                ),
                _work("b", SIZABLE.format(d="q2/"), ["check"]),
            ]
        )
    )
    limits = DelegationPolicy().limits(max_depth=2, max_total=16)
    checked = guard(plan, "complex", depth=0, limits=limits, spawned_so_far=0, strip_overhead=True)
    kept = {s.id: s.depends_on for s in checked.kept}
    assert kept == {"a": [], "b": ["a"]}
    assert checked.removed == {"check": None}


def test_a_merged_step_hands_its_dependents_to_its_absorber() -> None:
    tiny = Subtask(id="t", title="Make the folder out", description="mkdir out", depends_on=["a"])
    plan = with_graph(
        Plan(
            subtasks=[
                _work("a", SIZABLE.format(d="q1/")),
                tiny,
                _work("b", SIZABLE.format(d="q2/"), ["t"]),
            ]
        )
    )
    limits = DelegationPolicy().limits(max_depth=2, max_total=16)
    checked = guard(plan, "complex", depth=0, limits=limits, spawned_so_far=0, strip_overhead=True)
    assert checked.removed == {"t": "a"}
    assert {s.id: s.depends_on for s in checked.kept} == {"a": [], "b": ["a"]}


def test_a_duplicate_hands_its_dependents_to_the_kept_copy() -> None:
    plan = with_graph(
        Plan(
            subtasks=[
                _work("a", SIZABLE.format(d="q1/")),
                _work("a2", SIZABLE.format(d="q1/")).model_copy(update={"files": ["data/a/"]}),
                _work("b", SIZABLE.format(d="q2/"), ["a2"]),
            ]
        )
    )
    limits = DelegationPolicy().limits(max_depth=2, max_total=16)
    checked = guard(plan, "complex", depth=0, limits=limits, spawned_so_far=0, strip_overhead=True)
    assert checked.removed == {"a2": "a"}
    assert [s.depends_on for s in checked.kept if s.id == "b"] == [["a"]]


def test_keep_first_reconnects_edges_through_what_it_cuts() -> None:
    subs = with_graph(
        Plan(subtasks=[_work("a", "x"), _work("b", "y", ["a"]), _work("c", "z", ["b"])])
    ).subtasks
    kept = keep_first([subs[0], subs[2], subs[1]], 2)
    assert {s.id: s.depends_on for s in kept} == {"a": [], "c": ["a"]}


def test_the_plan_tool_schema_carries_no_model_docstring() -> None:
    # A docstring on Plan or Subtask would become a "description" in the submit_plan
    # schema, and so change every planning prompt (and its token count).
    schema = SUBMIT_PLAN_TOOL.input_schema
    subtask = schema["properties"]["subtasks"]["items"]
    assert "description" not in schema
    assert "description" not in subtask
    assert "description" in subtask["properties"]["outputs"]
