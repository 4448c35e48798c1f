"""The simulated planner in tool mode, over HTTP through the real anthropic SDK.

Offered submit_plan with a forced tool_choice, it answers with one tool_use
whose input is a plan graph: ids, outputs, depends_on. Its habits (prose
around JSON, a cut-off input, malformed plans) have the real API's shapes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from pydantic import ValidationError

from agentfleet.contracts.models import Plan
from agentfleet.delegation import prompts
from agentfleet.sim import Simulator

MODEL = "claude-haiku-4-5"
SUBMIT_PLAN: Any = {
    "name": "submit_plan",
    "description": "Submit the plan for the goal.",
    "input_schema": Plan.model_json_schema(),
}
FORCED: Any = {"type": "tool", "name": "submit_plan"}
RETRY = "Your plan was invalid: {error}"


@pytest.fixture(scope="module")
def client() -> Iterator[anthropic.Anthropic]:
    with Simulator(port=0) as s:
        yield anthropic.Anthropic(api_key="sim-no-key", base_url=s.url, max_retries=0)


def plan_call(
    client: anthropic.Anthropic, messages: list[Any], max_tokens: int = 4096
) -> anthropic.types.Message:
    return client.messages.create(
        model=MODEL,
        max_tokens=max_tokens,
        system=prompts.PLANNER_SYSTEM,
        messages=messages,
        tools=[SUBMIT_PLAN],
        tool_choice=FORCED,
    )


def submitted(msg: anthropic.types.Message) -> dict[str, Any]:
    assert msg.stop_reason == "tool_use"
    assert [b.type for b in msg.content] == ["tool_use"]
    block = msg.content[0]
    assert block.type == "tool_use" and block.name == "submit_plan"
    return dict(block.input)


def plan_of(client: anthropic.Anthropic, goal: str) -> Plan:
    return Plan.model_validate(submitted(plan_call(client, [{"role": "user", "content": goal}])))


def by_title(plan: Plan) -> dict[str, Any]:
    ids = {s.id: s.title for s in plan.subtasks}
    return {s.title: sorted(ids[d] for d in s.depends_on) for s in plan.subtasks}


def assert_graph(plan: Plan) -> None:
    """ids unique, every reference known, no cycle (each edge points back)."""
    ids = [s.id for s in plan.subtasks]
    assert all(ids) and len(set(ids)) == len(ids)
    seen: set[str | None] = set()
    for s in plan.subtasks:
        assert set(s.depends_on) <= seen, (s.id, s.depends_on)
        seen.add(s.id)


def test_planner_answers_with_one_submit_plan_call(client: anthropic.Anthropic) -> None:
    goal = "Sort the files in inbox/ by type, summarize notes.md, and write an index of everything"
    msg = plan_call(client, [{"role": "user", "content": goal}])
    plan = Plan.model_validate(submitted(msg))
    assert msg.content[0].type == "tool_use" and msg.content[0].id.startswith("toolu_sim_")
    assert msg.usage.output_tokens > 0 and msg.usage.input_tokens > 0
    assert [(s.id, s.title, s.outputs) for s in plan.subtasks] == [
        ("s1", "Plan the approach", []),
        ("s2", "Sort the files in inbox/ by type", ["inbox/"]),
        # One step of several: its summary is saved where a person finds it,
        # not left in a report the final answer shortens to a line.
        ("s3", "Summarize notes.md into notes-summary.md", ["notes-summary.md"]),
        ("s4", "Write an index of everything", ["INDEX.md"]),
        ("s5", "Validate the results", []),
    ]
    # The index of everything must wait for the sorting and the summary it
    # lists; those two touch nothing of each other. The over-decomposed
    # validate step waits for all the work.
    assert [s.depends_on for s in plan.subtasks] == [[], [], [], ["s2", "s3"], ["s2", "s3", "s4"]]
    assert plan.subtasks[2].files == ["notes.md"]
    assert_graph(plan)


@pytest.mark.parametrize(
    ("goal", "edges"),
    [
        (
            # The example: the index lists what the filing produced.
            "File the papers by topic; write papers/INDEX.md listing them",
            {"Write papers/INDEX.md listing them": ["File the papers by topic"]},
        ),
        (
            "Create folder x, then move a.txt into it",
            {"Move a.txt into x/": ["Create folder x"]},
        ),
        (
            "Write hello into a.txt, then rename it to b.txt",
            {"Rename a.txt to b.txt": ["Write hello into a.txt"]},
        ),
        ("List x/, then read x/a.md", {"Read x/a.md": ["List x/"]}),
        (
            "Write a into a.txt; write b into b.txt; copy a.txt to c.txt",
            {
                "Write a into a.txt": [],
                "Write b into b.txt": [],
                "Copy a.txt to c.txt": ["Write a into a.txt"],
            },
        ),
    ],
)
def test_dependent_parts_depend_on_what_they_need(
    goal: str, edges: dict[str, list[str]], client: anthropic.Anthropic
) -> None:
    plan = plan_of(client, goal)
    assert_graph(plan)
    deps = by_title(plan)
    for title, needs in edges.items():
        assert deps[title] == sorted(needs), deps


def test_pronouns_are_written_out_and_outputs_match_the_agents(
    client: anthropic.Anthropic,
) -> None:
    plan = plan_of(client, "Create folder x, then move a.txt into it")
    move = plan.subtasks[2]
    assert (move.description, move.files, move.outputs) == (
        "move a.txt into x/",
        ["a.txt"],
        ["x/a.txt"],
    )
    assert (plan.subtasks[1].outputs, plan.subtasks[1].tools) == (["x/"], ["make_dir"])
    single = plan_of(client, "Create an empty folder called archive")
    assert [(s.id, s.outputs, s.depends_on) for s in single.subtasks] == [("s1", ["archive/"], [])]


def test_retries_after_an_error_tool_result_through_three_malformed_shapes(
    client: anthropic.Anthropic,
) -> None:
    messages: list[Any] = [
        {"role": "user", "content": "[sim:malformed-plans=3] Write hi to a.txt; write bye to b.txt"}
    ]
    errors = []
    for _ in range(3):
        msg = plan_call(client, messages)
        raw = submitted(msg)
        with pytest.raises(ValidationError) as err:
            Plan.model_validate(raw)
        errors.append(str(err.value))
        messages += [
            {
                "role": "assistant",
                "content": [b.model_dump(exclude_none=True) for b in msg.content],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": msg.content[0].id,
                        "content": RETRY.format(error=str(err.value)[:300]),
                        "is_error": True,
                    }
                ],
            },
        ]
    assert "subtasks" in errors[0] and "valid list" in errors[0]
    assert "subtasks" in errors[1] and "Field required" in errors[1]
    assert "title" in errors[2] and "at least 1 character" in errors[2]
    plan = Plan.model_validate(submitted(plan_call(client, messages)))
    assert [s.title for s in plan.subtasks[1:-1]] == ["Write hi to a.txt", "Write bye to b.txt"]
    assert all("[sim:" not in s.title + s.description for s in plan.subtasks)


def test_prose_json_ignores_tool_choice_and_keeps_its_style_on_retry(
    client: anthropic.Anthropic,
) -> None:
    goal = "Write hi into a.txt, then rename it to b.txt [sim:habit=prose-json]"
    messages: list[Any] = [{"role": "user", "content": goal}]
    for _ in range(2):
        msg = plan_call(client, messages)
        assert msg.stop_reason == "end_turn"
        assert [b.type for b in msg.content] == ["text"]
        body = msg.content[0].text  # type: ignore[union-attr]
        m = re.fullmatch(r"([^\n`]+\.)\n\n```json\n(.+)\n```\n\n([^\n`]+\.)", body, re.DOTALL)
        assert m, body
        plan = Plan.model_validate(json.loads(m.group(2)))
        assert by_title(plan)["Rename a.txt to b.txt"] == ["Write hi into a.txt"]
        # The planner-only habit is not passed on to the agents.
        assert all("prose-json" not in s.description for s in plan.subtasks)
        messages += [
            {"role": "assistant", "content": body},
            {"role": "user", "content": RETRY.format(error="a cycle, say")},
        ]


def test_truncated_plan_is_cut_off_inside_the_tool_input(client: anthropic.Anthropic) -> None:
    goal = "Write a into a.txt; write b into b.txt; write c into c.txt [sim:habit=truncate]"
    messages = [{"role": "user", "content": goal}]
    cut = plan_call(client, messages, max_tokens=2048)
    assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens == 2048
    block = cut.content[-1]
    assert block.type == "tool_use" and block.name == "submit_plan"
    with pytest.raises(ValidationError, match="description"):
        Plan.model_validate(block.input)
    full = plan_call(client, messages, max_tokens=4096)
    assert len(Plan.model_validate(submitted(full)).subtasks) == 5
    lower = "Write a into a.txt [sim:habit=truncate] [sim:truncate-below=1000]"
    assert plan_call(client, [{"role": "user", "content": lower}], 1000).stop_reason == "tool_use"
    assert plan_call(client, [{"role": "user", "content": lower}], 999).stop_reason == "max_tokens"


def test_agent_habits_reach_every_subtask_and_planner_ones_do_not(
    client: anthropic.Anthropic,
) -> None:
    goal = (
        "[sim:habit=prose-json,bad-args,multi-tool] [sim:truncate-below=8000] "
        "Write a into a.txt; write b into b.txt"
    )
    msg = plan_call(client, [{"role": "user", "content": goal}])
    text = msg.content[0].text  # type: ignore[union-attr]
    plan = Plan.model_validate(json.loads(text.split("```json\n")[1].split("\n```")[0]))
    for s in plan.subtasks:
        assert s.description.endswith("[sim:habit=bad-args,multi-tool] [sim:truncate-below=8000]")
        assert "[sim:" not in s.title and "prose-json" not in s.description


def test_a_retry_spread_over_blocks_of_one_message_counts_once(
    client: anthropic.Anthropic,
) -> None:
    messages: list[Any] = [{"role": "user", "content": "[sim:malformed-plans=2] Write hi to a.txt"}]
    msg = plan_call(client, messages)
    error = RETRY.format(error="subtasks: Input should be a valid list")
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in msg.content]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": msg.content[0].id,
                    "content": error,
                    "is_error": True,
                },
                {"type": "text", "text": error},
            ],
        },
    ]
    # The second of two malformed plans: a different schema, not yet a valid plan.
    second = submitted(plan_call(client, messages))
    assert set(second) == {"plan"}
