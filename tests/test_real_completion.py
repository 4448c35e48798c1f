"""`completed` is a checked fact: end to end, through the simulator's model habits.

Each test runs the real master workflow on a real dev server, with the
simulator answering over HTTP as a model would, bad habits included
(`[sim:habit=...]`), and then looks at the workspace itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from agentfleet.config import Settings
from agentfleet.contracts.models import AgentNode, MasterInput, MasterResult, SubAgentInput
from agentfleet.delegation.prompts import REPORTS_HEADER
from tests.conftest import running_worker
from workflows.master import MasterAgentWorkflow


async def run_goal(
    client: Client, settings: Settings, goal: str, files: dict[str, str] | None = None, **kw: object
) -> tuple[MasterResult, Path, WorkflowHandle[MasterAgentWorkflow, MasterResult]]:
    name = f"ws-{uuid.uuid4().hex[:8]}"
    ws = settings.workspaces / name
    ws.mkdir(parents=True)
    for rel, text in (files or {}).items():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text(text)
    async with running_worker(client, settings):
        handle = await client.start_workflow(
            MasterAgentWorkflow.run,
            MasterInput(goal=goal, workspace=name, **kw),  # type: ignore[arg-type]
            id=f"real-{uuid.uuid4().hex[:10]}",
            task_queue=settings.task_queue,
        )
        result = await handle.result()
    return result, ws, handle


async def no_child_workflow(client: Client, root_id: str) -> bool:
    try:
        await client.get_workflow_handle(f"{root_id}.1").describe()
    except RPCError:
        return True
    return False


async def test_a_trivial_goal_makes_its_folder_inline_with_no_child(
    client: Client, settings: Settings
) -> None:
    result, ws, handle = await run_goal(client, settings, "Create an empty folder called archive")
    assert result.status == "completed", result.tree.error
    assert (ws / "archive").is_dir()
    (node,) = result.tree.children
    assert node.role == "inline" and node.tool_calls >= 1
    assert any(e.op == "mkdir" and e.path == "archive" for e in node.effects)
    assert node.verification is not None and node.verification.passed
    assert "archive/" in node.verification.checked
    assert result.tree.verification == node.verification
    assert await no_child_workflow(client, handle.id)


async def test_done_with_no_tool_call_ends_unverified_with_the_missing_path(
    client: Client, settings: Settings
) -> None:
    result, ws, _ = await run_goal(
        client, settings, "Create an empty folder called archive [sim:habit=claim-done]"
    )
    assert not (ws / "archive").exists()
    assert result.status == "unverified"
    (node,) = result.tree.children
    assert node.status == "unverified" and node.tool_calls == 0
    assert node.verification is not None and node.verification.missing == ["archive/"]
    assert "archive/" in (node.error or "")


@pytest.mark.parametrize(
    ("goal", "path", "words", "seed"),
    [
        ('Create todo.txt containing "buy milk"', "todo.txt", "buy milk", {}),
        ("Append 'deploy done' to log.txt", "log.txt", "deploy done", {"log.txt": "start\n"}),
        (
            "Replace 'colour' with 'color' in essay.md",
            "essay.md",
            "color",
            {"essay.md": "The colour of the sky.\n"},
        ),
    ],
)
async def test_a_file_without_the_words_asked_for_is_not_completed(
    client: Client, settings: Settings, goal: str, path: str, words: str, seed: dict[str, str]
) -> None:
    """The file is there and the agent wrote it, but in its own words: not the work asked."""
    result, ws, _ = await run_goal(client, settings, goal + " [sim:habit=own-words]", seed)
    assert words not in (ws / path).read_text()
    assert result.status == "unverified", result.tree.error
    verification = result.tree.verification
    assert verification is not None and verification.mismatched == [path]
    assert f"{path} does not contain" in verification.reason
    # Without the habit the same goal is done, and checked done.
    result, ws, _ = await run_goal(client, settings, goal, seed)
    assert result.status == "completed", result.tree.error
    assert words in (ws / path).read_text()


async def test_an_answer_about_a_file_given_without_opening_it_is_not_completed(
    client: Client, settings: Settings
) -> None:
    goal, seed = "What does notes.md say about the deadline?", {"notes.md": "Deadline: Friday.\n"}
    result, _, _ = await run_goal(client, settings, goal + " [sim:habit=guess]", seed)
    assert result.status == "unverified", result.tree.error
    verification = result.tree.verification
    assert verification is not None and verification.unread == ["notes.md"]
    assert "no tool call of this agent looked at it" in verification.reason
    # The same question, answered after reading the file, is completed.
    result, _, _ = await run_goal(client, settings, goal, seed)
    assert result.status == "completed", result.tree.error
    assert "Friday" in result.output


async def test_work_the_simulator_cannot_do_is_never_completed(
    client: Client, settings: Settings
) -> None:
    result, ws, _ = await run_goal(
        client, settings, "Compress the files in logs/ into logs.zip", {"logs/a.log": "x\n"}
    )
    assert not (ws / "logs.zip").exists()
    assert result.status != "completed"
    assert result.tree.verification is not None
    assert "logs.zip" in result.tree.verification.missing


async def test_a_cut_off_tool_input_is_asked_again_not_run(
    client: Client, settings: Settings
) -> None:
    result, ws, _ = await run_goal(client, settings, "Write hello into a.txt [sim:habit=truncate]")
    assert result.status == "completed", result.tree.error
    assert (ws / "a.txt").read_text().strip() == "hello"
    (node,) = result.tree.children
    # The half-written call never ran: one write, after one retry with more room.
    assert node.tool_calls == 1
    receipts = [r for n in result.tree.walk() for r in n.receipts]
    assert any("(retry 1)" in r.purpose for r in receipts), [r.purpose for r in receipts]


async def test_an_answer_cut_off_at_max_tokens_is_asked_again_with_more_room(
    client: Client, settings: Settings
) -> None:
    notes = "".join(f"Point {i}: the plan holds for week {i}.\n" for i in range(1, 21))
    # Quoting 20 lines back takes about 200 tokens: the first answer is cut off.
    result, _, _ = await run_goal(
        client, settings, "Read notes.md", {"notes.md": notes}, max_tokens=64
    )
    assert result.status == "completed", result.tree.error
    assert result.output.endswith("Point 20: the plan holds for week 20."), result.output
    receipts = [r for n in result.tree.walk() for r in n.receipts]
    assert any("(retry 1)" in r.purpose for r in receipts), [r.purpose for r in receipts]


async def test_an_answer_still_cut_off_at_the_ceiling_is_partial_not_completed(
    client: Client, settings: Settings
) -> None:
    goal = "What is a workflow? [sim:habit=truncate] [sim:truncate-below=1000000]"
    result, _, _ = await run_goal(client, settings, goal)
    assert result.status == "partial", result.tree.error
    (node,) = result.tree.children
    assert node.status == "partial" and "cut off" in (node.error or "")


async def test_a_tool_call_still_cut_off_at_the_ceiling_is_partial_and_says_so(
    client: Client, settings: Settings
) -> None:
    goal = "Write 'buy milk' into todo.txt [sim:habit=truncate] [sim:truncate-below=1000000]"
    result, ws, _ = await run_goal(client, settings, goal)
    (node,) = result.tree.children
    assert node.status == "partial", node.error
    assert "a write_file call was cut off at max_tokens" in (node.error or "")
    assert node.tool_calls == 0 and not (ws / "todo.txt").exists()


async def test_a_final_answer_cut_off_is_asked_again_with_more_room(
    client: Client, settings: Settings
) -> None:
    from tests.conftest import COMPLEX_GOAL

    # The summary alone is cut below 4096 tokens of room; the parts are untouched.
    goal = COMPLEX_GOAL + " [sim:synthesis-habit=truncate]"
    result, _, _ = await run_goal(client, settings, goal)
    assert result.plan is not None
    assert result.status == "completed", result.tree.error
    purposes = [r.purpose for r in result.tree.receipts]
    assert purposes.count("synthesize") == 1 and "synthesize (retry 1)" in purposes, purposes
    parts = result.tree.children
    assert f"{len(parts)} sub-agent reports ({len(parts)} completed)" in result.output
    assert all(n.title in result.output for n in parts), result.output


def _summary_short(result: MasterResult, why: str) -> list[str]:
    """Every part completed, the master is partial for its summary alone, saying `why`, and
    the parts' reports stand in its output. Returns the summary calls' purposes."""
    assert all(n.status == "completed" for n in result.tree.children), result.tree.error
    assert result.status == "partial" and why in (result.tree.error or ""), result.tree.error
    assert all(f"- {n.title} [completed]" in result.output for n in result.tree.children)
    return [r.purpose for r in result.tree.receipts if r.purpose.startswith("synthesize")]


async def test_a_final_answer_still_cut_off_at_the_ceiling_is_partial(
    client: Client, settings: Settings
) -> None:
    from tests.conftest import COMPLEX_GOAL

    goal = COMPLEX_GOAL + " [sim:synthesis-habit=truncate] [sim:truncate-below=1000000]"
    result, ws, _ = await run_goal(client, settings, goal)
    # Nothing the parts did is hidden behind the cut: their reports follow it.
    asked = _summary_short(result, "cut off at the max_tokens ceiling")
    assert len(asked) == 5, asked  # 2048, 4096, 8192, 16384, 32000
    assert (ws / "memo.md").exists()


async def test_a_refused_final_answer_is_partial_with_the_parts_reports(
    client: Client, settings: Settings
) -> None:
    from tests.conftest import COMPLEX_GOAL

    result, _, _ = await run_goal(client, settings, COMPLEX_GOAL + " [sim:synthesis-habit=refusal]")
    assert _summary_short(result, "refused to write the final answer") == ["synthesize"]


async def test_a_reply_that_fills_the_context_window_runs_nothing_and_is_partial(
    client: Client, settings: Settings
) -> None:
    result, ws, _ = await run_goal(
        client, settings, "Write hello into a.txt [sim:habit=context-full]"
    )
    assert result.status == "partial", result.tree.error
    (node,) = result.tree.children
    assert node.status == "partial" and "context window" in (node.error or "")
    # The half-written write_file was never run, and no turn asked for more room.
    assert node.tool_calls == 0 and not (ws / "a.txt").exists()
    assert [r.purpose for r in node.receipts if "retry" in r.purpose] == []


async def test_a_plan_cut_by_a_full_context_window_fails_clearly(
    client: Client, settings: Settings
) -> None:
    from temporalio.client import WorkflowFailureError
    from temporalio.exceptions import ApplicationError

    from tests.conftest import COMPLEX_GOAL

    with pytest.raises(WorkflowFailureError) as info:
        await run_goal(client, settings, COMPLEX_GOAL + " [sim:habit=context-full]")
    cause = info.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "ContextWindowFull"
    assert "context window" in cause.message


async def test_a_summary_that_fills_the_context_window_is_partial(
    client: Client, settings: Settings
) -> None:
    from tests.conftest import COMPLEX_GOAL

    result, _, _ = await run_goal(
        client, settings, COMPLEX_GOAL + " [sim:synthesis-habit=context-full]"
    )
    # More room cannot help a full window: asked once.
    assert _summary_short(result, "context window") == ["synthesize"]


async def test_an_empty_reply_after_tool_results_is_asked_to_go_on(
    client: Client, settings: Settings
) -> None:
    goal = "What does notes.md say about the deadline? [sim:habit=empty-reply]"
    result, _, _ = await run_goal(client, settings, goal, {"notes.md": "Deadline: Friday.\n"})
    assert result.status == "completed", result.tree.error
    (node,) = result.tree.children
    # The answer is the one given after the nudge, not the preface of the reading turn.
    assert "Friday" in node.output and "Let me take a look" not in node.output, node.output
    turns = [r.purpose for n in result.tree.walk() for r in n.receipts]
    assert len(turns) == 3 and node.turns == 3, turns  # read, the empty reply, the answer


@pytest.mark.parametrize("stop", ["max_tokens", "stop_sequence"])
async def test_an_empty_reply_that_stopped_another_way_is_asked_to_go_on_too(
    client: Client, settings: Settings, stop: str
) -> None:
    habit = f"[sim:habit=empty-reply] [sim:empty-stop={stop}]"
    goal = f"What does notes.md say about the deadline? {habit}"
    result, _, _ = await run_goal(client, settings, goal, {"notes.md": "Deadline: Friday.\n"})
    assert result.status == "completed", result.tree.error
    (node,) = result.tree.children
    assert "Friday" in node.output and "Let me take a look" not in node.output, node.output
    assert node.turns == 3


async def test_an_empty_summary_is_asked_again_then_partial_with_the_parts_reports(
    client: Client, settings: Settings
) -> None:
    from tests.conftest import COMPLEX_GOAL

    goal = COMPLEX_GOAL + " [sim:synthesis-habit=empty-reply]"
    result, _, _ = await run_goal(client, settings, goal)
    asked = _summary_short(result, "came back empty")
    assert asked == ["synthesize", "synthesize (retry 1)"]


async def test_a_file_task_ending_in_an_empty_reply_is_judged_on_its_files(
    client: Client, settings: Settings
) -> None:
    result, ws, _ = await run_goal(
        client, settings, "Write 'buy milk' into todo.txt [sim:habit=empty-reply]"
    )
    assert result.status == "completed" and "buy milk" in (ws / "todo.txt").read_text()
    assert "Let me take a look" not in result.tree.children[0].output, result.tree.error


async def test_a_refusal_is_a_clear_failure(client: Client, settings: Settings) -> None:
    result, ws, _ = await run_goal(client, settings, "Write hello into a.txt [sim:habit=refusal]")
    assert result.status != "completed"
    (node,) = result.tree.children
    assert node.status == "failed" and "ModelRefused" in (node.error or "")
    assert not (ws / "a.txt").exists()
    # The master says which part fell short and why, not only that it is partial.
    assert "1 of 1 parts did not complete" in (result.tree.error or "")
    assert "ModelRefused" in (result.tree.error or "")


async def test_invalid_tool_arguments_go_back_to_the_model_which_repairs_them(
    client: Client, settings: Settings
) -> None:
    result, ws, _ = await run_goal(client, settings, "Write hello into a.txt [sim:habit=bad-args]")
    assert result.status == "completed", result.tree.error
    assert (ws / "a.txt").read_text().strip() == "hello"
    (node,) = result.tree.children
    assert node.tool_calls >= 2  # the refused call, then the repaired one


async def test_several_tool_calls_in_one_turn_all_run_in_order(
    client: Client, settings: Settings
) -> None:
    result, ws, _ = await run_goal(
        client,
        settings,
        "Create folder x and move a.txt into it [sim:habit=multi-tool]",
        {"a.txt": "a\n"},
    )
    assert result.status == "completed", result.tree.error
    assert (ws / "x" / "a.txt").read_text() == "a\n" and not (ws / "a.txt").exists()
    (node,) = result.tree.children
    assert node.tool_calls >= 2 and node.turns < node.tool_calls + 1


async def test_a_plan_in_prose_with_a_fence_is_accepted_on_the_first_attempt(
    client: Client, settings: Settings
) -> None:
    from tests.conftest import COMPLEX_GOAL

    result, _, _ = await run_goal(client, settings, COMPLEX_GOAL + " [sim:habit=prose-json]")
    assert result.plan is not None and result.plan_attempts == 1


def _dependency_goal() -> tuple[str, dict[str, str]]:
    goal = (
        "Sort the files in inbox/ by type into folders, then write an index of inbox/ to "
        "inbox/INDEX.md listing every file, and summarize notes/meeting.txt into "
        "notes/SUMMARY.md"
    )
    files = {
        "inbox/a.pdf": "%PDF a",
        "inbox/b.txt": "b",
        "inbox/c.png": "png",
        "notes/meeting.txt": "We met and agreed to ship on Friday.\n",
    }
    return goal, files


async def test_a_dependent_subtask_runs_after_its_dependency_with_its_report(
    client: Client, settings: Settings
) -> None:
    goal, files = _dependency_goal()
    result, ws, _ = await run_goal(client, settings, goal, files)
    assert result.plan is not None
    graph = {s.id: s.depends_on for s in result.plan.subtasks}
    assert any(graph.values()), graph
    nodes = {n.title: n for n in result.tree.children}
    dependents = [s for s in result.plan.subtasks if s.depends_on]
    for dep in dependents:
        node = nodes.get(dep.title)
        if node is None or node.role != "subagent":
            continue
        before = [s for s in result.plan.subtasks if s.id in dep.depends_on]
        for b in before:
            first = nodes[b.title]
            assert first.closed_at is not None and node.started_at is not None
            assert node.started_at >= first.closed_at, (b.title, dep.title)
        history = await client.get_workflow_handle(node.workflow_id).fetch_history()
        inp = history.events[0].workflow_execution_started_event_attributes.input
        from agentfleet.payloads.converter import data_converter

        (child_input,) = await data_converter.decode(inp.payloads, [SubAgentInput])
        assert REPORTS_HEADER in child_input.task
        assert all(b.title in child_input.task for b in before)
    assert result.status == "completed", [(n.title, n.status, n.error) for n in result.tree.walk()]
    assert (ws / "inbox" / "INDEX.md").exists()


def _walk_statuses(node: AgentNode) -> list[str]:
    return [n.status for n in node.walk()]


@pytest.mark.parametrize(
    ("goal", "files", "check"),
    [
        ("Write hello into a.txt", {}, lambda ws: (ws / "a.txt").read_text().strip() == "hello"),
        (
            "Write a haiku about durable workflows into poem.txt",
            {},
            lambda ws: (
                len([ln for ln in (ws / "poem.txt").read_text().splitlines() if ln.strip()]) == 3
            ),
        ),
        (
            "Create folder x and move a.txt into it",
            {"a.txt": "a"},
            lambda ws: (ws / "x" / "a.txt").is_file() and not (ws / "a.txt").exists(),
        ),
    ],
)
async def test_the_issue_goals_end_completed_with_their_files(
    client: Client, settings: Settings, goal: str, files: dict[str, str], check: object
) -> None:
    result, ws, _ = await run_goal(client, settings, goal, files)
    assert result.status == "completed", _walk_statuses(result.tree)
    assert check(ws)  # type: ignore[operator]


# Goals whose file is named after a few words of what it is, or changed in place,
# each with what its workspace must show for `completed` to be true.
_SEED = {"names.txt": "bob\nalice\n", "todo.txt": "milk\n", "data.csv": "a,b\n1,2\n"}
_NAMED_GOALS = [
    (
        "Write a Python script fizzbuzz.py that prints the numbers 1 to 15",
        "fizzbuzz.py",
        lambda ws: (ws / "fizzbuzz.py").is_file(),
    ),
    (
        "Sort the lines of names.txt alphabetically",
        "names.txt",
        lambda ws: (ws / "names.txt").read_text().split() == ["alice", "bob"],
    ),
    (
        "Add a line 'done' at the end of todo.txt",
        "todo.txt",
        lambda ws: (ws / "todo.txt").read_text().split() == ["milk", "done"],
    ),
    (
        "Create three files: a.txt, b.txt and c.txt",
        "c.txt",
        lambda ws: all((ws / f).is_file() for f in ("a.txt", "b.txt", "c.txt")),
    ),
    (
        "Convert data.csv to JSON in data.json",
        "data.json",
        lambda ws: (ws / "data.json").is_file(),
    ),
]


@pytest.mark.parametrize(("goal", "path", "done"), _NAMED_GOALS)
async def test_a_goal_naming_its_file_is_checked_against_the_workspace(
    client: Client, settings: Settings, goal: str, path: str, done: Callable[[Path], bool]
) -> None:
    """These once passed on the answer alone: `completed` with nothing on disk."""
    result, ws, _ = await run_goal(client, settings, goal, dict(_SEED))
    verification = result.tree.verification
    assert verification is not None and verification.mode == "files", verification
    assert path in verification.checked
    if result.status == "completed":
        assert done(ws), f"completed, but the workspace does not show it: {goal}"
    else:
        assert result.status == "unverified", result.tree.error
        assert not done(ws)
