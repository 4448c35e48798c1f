"""The agent habits of real models, on the wire, over HTTP through the SDK.

Each habit must look exactly like the real API: the content blocks, the
stop_reason and the usage. The seeded server knob must pick conversations
reproducibly, and keep a conversation's habit across its turns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from pydantic import ValidationError

from agentfleet.delegation import prompts
from agentfleet.sandbox import describe_validation_error, parse_tool_input
from agentfleet.sim import Simulator
from agentfleet.sim.cli import build_parser
from agentfleet.sim.habits import REFUSAL_TEXT
from tests import test_sim_workspace as ws

MODEL = "claude-haiku-4-5"
COMPOUND = "Task: t\nCreate folder x and move a.txt into it"


@pytest.fixture(scope="module")
def client() -> Iterator[anthropic.Anthropic]:
    with Simulator(port=0) as s:
        yield anthropic.Anthropic(api_key="sim-no-key", base_url=s.url, max_retries=0)


def create(
    client: anthropic.Anthropic, messages: list[Any], max_tokens: int = 1024, **kw: Any
) -> anthropic.types.Message:
    return client.messages.create(
        model=MODEL,
        max_tokens=max_tokens,
        system=kw.pop("system", prompts.SUBAGENT_SYSTEM),
        messages=messages,
        tools=ws.FILE_TOOLS,
        **kw,
    )


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def blocks(msg: anthropic.types.Message) -> list[tuple[str, Any]]:
    return [
        (b.type, (b.name, dict(b.input)) if b.type == "tool_use" else getattr(b, "text", None))
        for b in msg.content
    ]


def answered(msg: anthropic.types.Message, outputs: list[str], error: bool = False) -> list[Any]:
    uses = [b for b in msg.content if b.type == "tool_use"]
    return [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in msg.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": u.id, "content": o, "is_error": error}
                for u, o in zip(uses, outputs, strict=True)
            ],
        },
    ]


def test_multi_tool_sends_several_tool_use_blocks_in_one_turn(
    client: anthropic.Anthropic,
) -> None:
    messages = [user(COMPOUND + " [sim:habit=multi-tool]")]
    msg = create(client, messages)
    assert msg.stop_reason == "tool_use"
    assert blocks(msg) == [
        ("text", "I'll make these 2 calls in one go."),
        ("tool_use", ("make_dir", {"path": "x"})),
        ("tool_use", ("move_file", {"src": "a.txt", "dst": "x/a.txt"})),
    ]
    ids = [b.id for b in msg.content if b.type == "tool_use"]
    assert len(set(ids)) == 2
    # Both need their tool_result in the next user message; then it reports.
    messages += answered(msg, ["created x", "moved a.txt -> x/a.txt"])
    final = create(client, messages)
    assert blocks(final) == [("text", "Created folder x/. Moved a.txt to x/a.txt.")]
    # With only one result sent back, the API's own rule rejects the request.
    partial = [*answered(msg, ["created x", "moved"])]
    partial[1]["content"] = partial[1]["content"][:1]
    with pytest.raises(anthropic.BadRequestError, match="without `tool_result` blocks"):
        create(client, [messages[0], *partial])
    one = create(client, [user("Task: t\nWrite hello into a.txt [sim:habit=multi-tool]")])
    assert [b for b in blocks(one) if b[0] == "tool_use"] == [
        ("tool_use", ("list_files", {"path": ".", "recursive": False})),
        ("tool_use", ("write_file", {"path": "a.txt", "content": "hello"})),
    ]


def test_truncate_cuts_a_tool_input_while_max_tokens_is_short(
    client: anthropic.Anthropic,
) -> None:
    messages = [user(COMPOUND + " [sim:habit=truncate]")]
    for budget in (1024, 2048):
        cut = create(client, messages, max_tokens=budget)
        assert cut.stop_reason == "max_tokens"
        assert cut.usage.output_tokens == budget
        last = cut.content[-1]
        assert last.type == "tool_use" and last.name == "make_dir"
        with pytest.raises(ValidationError) as err:
            parse_tool_input(last.name, dict(last.input))
        assert "path: Field required" in describe_validation_error(last.name, err.value)
    full = create(client, messages, max_tokens=4096)
    assert full.stop_reason == "tool_use"
    assert blocks(full) == [("tool_use", ("make_dir", {"path": "x"}))]
    # Several calls: the cut lands in the middle of the batch.
    sort = [user("Task: t\nSort the files in inbox by type [sim:habit=truncate]")]
    step = create(client, sort, max_tokens=4096)
    sort += answered(step, ["inbox/a.txt\ninbox/b.pdf\ninbox/c.md"])
    cut = create(client, sort, max_tokens=1024)
    # Six calls (three folders, three moves): it stops inside the third.
    assert [b[1] for b in blocks(cut)] == [
        ("make_dir", {"path": "inbox/md"}),
        ("make_dir", {"path": "inbox/pdf"}),
        ("make_dir", {}),
    ]
    assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens == 1024
    # The threshold is the directive's when given.
    low = [user("Task: t\nWrite hi into a.txt [sim:habit=truncate] [sim:truncate-below=300]")]
    assert create(client, low, max_tokens=299).stop_reason == "max_tokens"
    assert create(client, low, max_tokens=300).stop_reason == "tool_use"


def test_truncate_cuts_an_answer_too(client: anthropic.Anthropic) -> None:
    question = "Task: t\nWhat is a workflow? [sim:habit=truncate] [sim:truncate-below=300]"
    cut = create(client, [user(question)], max_tokens=299)
    assert cut.stop_reason == "max_tokens" and blocks(cut)[0][0] == "text"
    whole = create(client, [user(question)], max_tokens=300)
    assert whole.stop_reason == "end_turn"


def test_a_reply_longer_than_max_tokens_is_cut_off_without_any_habit(
    client: anthropic.Anthropic,
) -> None:
    task = "Task: t\nWrite a haiku about durable workflows into poem.txt"
    cut = create(client, [user(task)], max_tokens=8)
    assert cut.stop_reason == "max_tokens" and cut.usage.output_tokens == 8
    assert blocks(cut) == [("tool_use", ("write_file", {"path": "poem.txt"}))]
    whole = create(client, [user(task)], max_tokens=64)
    assert whole.stop_reason == "tool_use" and whole.usage.output_tokens <= 64


def test_refusal_stops_with_a_refusal_and_no_tool_call(client: anthropic.Anthropic) -> None:
    msg = create(client, [user(COMPOUND + " [sim:habit=refusal]")])
    assert msg.stop_reason == "refusal"
    assert blocks(msg) == [("text", REFUSAL_TEXT)]
    assert 0 < msg.usage.output_tokens < 20
    # Only the agents refuse: the synthesizer's answer is unaffected.
    report = prompts.synthesis_request("g [sim:habit=refusal]", [("a", "completed", "ok")])
    synth = client.messages.create(
        model=MODEL, max_tokens=512, system=prompts.SYNTHESIZER_SYSTEM, messages=[user(report)]
    )
    assert synth.stop_reason == "end_turn"
    # Its own directive makes it refuse, and cut its answer short, as a model can.
    for directive, stop in (("refusal", "refusal"), ("truncate", "max_tokens")):
        report = prompts.synthesis_request(
            f"g [sim:synthesis-habit={directive}]", [("a", "completed", "ok")]
        )
        synth = client.messages.create(
            model=MODEL, max_tokens=512, system=prompts.SYNTHESIZER_SYSTEM, messages=[user(report)]
        )
        assert synth.stop_reason == stop, directive


def test_context_full_stops_mid_reply_whatever_max_tokens_allows(
    client: anthropic.Anthropic,
) -> None:
    task = "Task: t\nWrite hello into a.txt"
    whole = create(client, [user(task)], max_tokens=4096)
    full = create(client, [user(task + " [sim:habit=context-full]")], max_tokens=4096)
    assert whole.stop_reason == "tool_use"
    assert full.stop_reason == "model_context_window_exceeded"
    assert 0 < full.usage.output_tokens < whole.usage.output_tokens
    # What was written stops where the window filled: the call lacks its content.
    assert blocks(full) == [("tool_use", ("write_file", {"path": "a.txt"}))]


def test_empty_reply_ends_the_turn_with_nothing_until_asked_to_go_on(
    client: anthropic.Anthropic,
) -> None:
    task = user("Task: t\nWrite hello into a.txt [sim:habit=empty-reply]")
    first = create(client, [task])
    # It says what it is about to do, then does it.
    assert [k for k, _ in blocks(first)] == ["text", "tool_use"]
    convo = [task, *answered(first, ["wrote 6 bytes to a.txt"])]
    empty = create(client, convo)
    assert empty.stop_reason == "end_turn" and empty.content == []
    # Asked in a new user message (the empty turn is not sent back), it answers.
    answer = create(client, [*convo, user("Please continue")])
    assert answer.stop_reason == "end_turn" and blocks(answer)[0][0] == "text"
    assert "a.txt" in str(blocks(answer)[0][1])


def test_claim_done_says_done_without_any_tool_call_then_works_when_told(
    client: anthropic.Anthropic,
) -> None:
    messages = [user(COMPOUND + " [sim:habit=claim-done]")]
    msg = create(client, messages)
    assert msg.stop_reason == "end_turn"
    assert blocks(msg) == [("text", "Done. I created x/. I moved a.txt to x/a.txt.")]
    # Told its work is missing, it does the work for real.
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in msg.content]},
        user("The workspace has no x/ and a.txt was not moved. Please do the task."),
    ]
    again = create(client, messages)
    assert blocks(again) == [("tool_use", ("make_dir", {"path": "x"}))]
    # A question has no file effect to claim: it is answered as usual.
    question = create(client, [user("Task: t\nWhat is a workflow? [sim:habit=claim-done]")])
    assert question.content[0].type == "text"
    assert question.content[0].text.startswith("A workflow is")


def test_bad_args_first_call_fails_validation_then_is_corrected(
    client: anthropic.Anthropic,
) -> None:
    messages = [user(COMPOUND + " [sim:habit=bad-args]")]
    bad = create(client, messages)
    assert blocks(bad) == [("tool_use", ("make_dir", {"file_path": "x"}))]
    with pytest.raises(ValidationError) as err:
        parse_tool_input("make_dir", dict(bad.content[0].input))  # type: ignore[union-attr]
    reason = describe_validation_error("make_dir", err.value)
    assert "path: Field required" in reason and "file_path" in reason
    messages += answered(bad, [reason], error=True)
    fixed = create(client, messages)
    assert blocks(fixed) == [("tool_use", ("make_dir", {"path": "x"}))]
    messages += answered(fixed, ["created x"])
    nxt = create(client, messages)
    assert blocks(nxt) == [("tool_use", ("move_file", {"src": "a.txt", "dst": "x/a.txt"}))]
    write = create(client, [user("Task: t\nWrite hi into a.txt [sim:habit=bad-args]")])
    assert blocks(write) == [("tool_use", ("write_file", {"path": "a.txt", "text": "hi"}))]


def test_own_words_writes_the_words_its_own_way_and_still_calls_it_done(
    client: anthropic.Anthropic,
) -> None:
    task = "Task: t\nWrite 'buy milk' into todo.txt [sim:habit=own-words]"
    write = create(client, [user(task)])
    assert blocks(write) == [
        ("tool_use", ("write_file", {"path": "todo.txt", "content": "milk buy"}))
    ]
    messages = [user(task), *answered(write, ["wrote todo.txt"])]
    report = create(client, messages)
    assert report.stop_reason == "end_turn" and "todo.txt" in blocks(report)[0][1]


def test_a_habit_answer_is_as_deterministic_as_any_other(client: anthropic.Anthropic) -> None:
    habits = ("multi-tool", "truncate", "refusal", "claim-done", "bad-args", "own-words", "guess")
    for habit in habits:
        messages = [user(f"{COMPOUND} [sim:habit={habit}]")]
        a, b = create(client, messages), create(client, messages)
        assert a.id != b.id, habit  # each reply is named anew, as the API does
        assert a.model_dump(exclude={"id"}) == b.model_dump(exclude={"id"}), habit


def _agents(sim: Simulator, n: int) -> list[str]:
    """The stop_reason of the first reply of n distinct agent conversations."""
    c = anthropic.Anthropic(api_key="sim-no-key", base_url=sim.url, max_retries=0)
    return [
        str(create(c, [user(f"Task: t{i}\nWrite {i} into n{i}.txt")]).stop_reason) for i in range(n)
    ]


def test_seeded_rate_gives_a_reproducible_share_of_conversations_a_habit() -> None:
    with Simulator(habit_rate=0.5, habits=["refusal"], seed=3) as sim:
        first = _agents(sim, 40)
        refused = first.count("refusal")
        assert 8 <= refused <= 32 and set(first) == {"refusal", "tool_use"}
        assert sim.stats()["habits"] == {"refusal": refused}
        assert sim.stats()["stop_reasons"] == {"refusal": refused, "tool_use": 40 - refused}
        # Same request, same habit: a conversation keeps it on every turn.
        assert _agents(sim, 40) == first
    with Simulator(habit_rate=0.5, habits=["refusal"], seed=3) as again:
        assert _agents(again, 40) == first
    with Simulator(habit_rate=0.5, habits=["refusal"], seed=4) as other:
        assert _agents(other, 40) != first
    with Simulator(habit_rate=0.0, habits=["refusal"], seed=3) as off:
        assert set(_agents(off, 10)) == {"tool_use"}


def test_seeded_rate_keeps_each_habit_to_the_roles_it_applies_to() -> None:
    with Simulator(habit_rate=1.0, habits=["refusal", "prose-json"], seed=1) as sim:
        c = anthropic.Anthropic(api_key="sim-no-key", base_url=sim.url, max_retries=0)
        agent = create(c, [user("Task: t\nWrite hi into a.txt")])
        assert agent.stop_reason == "refusal"
        plan = c.messages.create(
            model=MODEL,
            max_tokens=4096,
            system=prompts.PLANNER_SYSTEM,
            messages=[user("Write hi into a.txt")],
            tools=[{"name": "submit_plan", "input_schema": {"type": "object"}}],
            tool_choice={"type": "tool", "name": "submit_plan"},
        )
        assert plan.stop_reason == "end_turn" and "```json" in plan.content[0].text  # type: ignore[union-attr]
        # A soak rate leaves the one summary at the end of a run alone.
        report = prompts.synthesis_request("g", [("a", "completed", "ok")])
        synth = c.messages.create(
            model=MODEL, max_tokens=512, system=prompts.SYNTHESIZER_SYSTEM, messages=[user(report)]
        )
        assert synth.stop_reason == "end_turn"
        assert sim.stats()["habits"] == {"refusal": 1, "prose-json": 1}


def test_habit_knobs_are_checked_and_on_the_cli() -> None:
    with pytest.raises(ValueError, match="unknown habits"):
        Simulator(habit_rate=0.1, habits=["sulking"])
    with pytest.raises(ValueError, match="habit rate"):
        Simulator(habit_rate=1.5)
    args = build_parser().parse_args(["--habit-rate", "0.25", "--habits", "truncate,bad-args"])
    assert (args.habit_rate, args.habits) == (0.25, ("truncate", "bad-args"))
    assert build_parser().parse_args([]).habit_rate == 0.0
    for bad in (["--habits", "sulking"], ["--habit-rate", "2"]):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(bad)
        assert exit_.value.code == 2


def test_habit_stats_are_served_on_the_admin_endpoint() -> None:
    import urllib.request

    with Simulator(habit_rate=1.0, habits=["claim-done"], seed=0) as sim:
        _agents(sim, 3)
        with urllib.request.urlopen(sim.url + "/_sim/stats", timeout=5) as r:
            stats = json.load(r)
    assert stats["habits"] == {"claim-done": 3} and stats["stop_reasons"] == {"end_turn": 3}


def test_multi_tool_stops_after_a_failed_call_in_a_merged_turn(
    client: anthropic.Anthropic,
) -> None:
    messages = [user("Task: t\nCreate folder x, then copy a.txt into it [sim:habit=multi-tool]")]
    msg = create(client, messages)
    # The copy's read needs no earlier result, so it goes out with the make_dir.
    assert [b for b in blocks(msg) if b[0] == "tool_use"] == [
        ("tool_use", ("make_dir", {"path": "x"})),
        ("tool_use", ("read_file", {"path": "a.txt"})),
    ]
    uses = [b for b in msg.content if b.type == "tool_use"]
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in msg.content]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": uses[0].id,
                    "content": "cannot create x: a file with that name exists",
                    "is_error": True,
                },
                {"type": "tool_result", "tool_use_id": uses[1].id, "content": "hi"},
            ],
        },
    ]
    final = create(client, messages)
    assert final.stop_reason == "end_turn"
    assert blocks(final) == [
        (
            "text",
            "I did not change any files. I could not create x/: make_dir failed: cannot create "
            "x: a file with that name exists. I stopped there and did not copy a.txt to x/a.txt.",
        )
    ]
