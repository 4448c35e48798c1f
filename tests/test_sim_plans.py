"""Acceptance: a multi-part goal, planned, pruned and run step by step.

The simulated planner answers `submit_plan`; the plan goes through the real
graph check and over-decomposition guard; each kept subtask runs as its own
agent (the client loop of test_sim_workspace.py) in dependency order, with
the task text the workflows send, against one real temp-dir Sandbox. The
end state is checked, so a step that only works with its siblings in view
(an unresolved "them", a summary left in a report) fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentfleet.contracts.models import Plan, Subtask
from agentfleet.delegation import prompts
from agentfleet.delegation.planning import with_graph
from agentfleet.delegation.policy import Limits, guard
from agentfleet.sim import respond
from agentfleet.sim.chores.answers import Cannot
from agentfleet.sim.chores.describe import describe
from agentfleet.sim.chores.grammar import parse_request
from agentfleet.sim.planner import plan_for
from tests.test_sim_workspace import MODEL, assert_honest, converse, pure, seed, state

State = dict[str, str | None]
SUBMIT_PLAN: Any = {
    "name": "submit_plan",
    "description": "Submit the plan for the goal.",
    "input_schema": Plan.model_json_schema(),
}


def planned(goal: str) -> list[Subtask]:
    reply = respond(
        {
            "model": MODEL,
            "max_tokens": 4096,
            "system": prompts.PLANNER_SYSTEM,
            "messages": [{"role": "user", "content": goal}],
            "tools": [SUBMIT_PLAN],
            "tool_choice": {"type": "tool", "name": "submit_plan"},
        }
    )
    (block,) = reply["content"]
    plan = with_graph(Plan.model_validate(block["input"]))
    return guard(
        plan, "complex", depth=0, limits=Limits(), spawned_so_far=0, strip_overhead=True
    ).kept


def run_plan(goal: str, root: Path) -> list[tuple[Subtask, str]]:
    """Every kept subtask, run once its dependencies have reported."""
    done: dict[str, tuple[str, str]] = {}
    out: list[tuple[Subtask, str]] = []
    for sub in planned(goal):
        assert all(d in done for d in sub.depends_on), (sub.id, sub.depends_on, list(done))
        reports = [(done[d][0], "completed", done[d][1]) for d in sub.depends_on]
        t = converse(pure, prompts.subagent_task(sub, reports), root, max_turns=6)
        assert t.last["stop_reason"] == "end_turn" and t.errors == [], (sub, t.text, t.errors)
        assert_honest(t)
        done[sub.id or ""] = (sub.title, t.text)
        out.append((sub, t.text))
    return out


INBOX = {
    "inbox/report.pdf": "%PDF quarterly\n",
    "inbox/photo.jpg": "JPEG\n",
    "inbox/budget.csv": "month,amount\njan,10\n",
    "notes.md": "# Notes\nThe office moves to Lisbon in June.\nEveryone gets a new laptop.\n",
}
PAPERS = {
    "inbox/attention.pdf": "a",
    "inbox/raft.pdf": "r",
    "inbox/dynamo.html": "d",
    "inbox/paxos.txt": "p",
}
SALES = {"sales.csv": "region,amount\nnorth,120\nsouth,80\neast,200\n"}
DROP = {"drop/a.txt": "a", "drop/b.txt": "b", "drop/c.md": "c"}


def _summary_saved(s: State) -> bool:
    return "Lisbon" in str(s.get("notes-summary.md")) and "- notes-summary.md\n" in str(
        s.get("INDEX.md")
    )


def _papers_indexed(s: State) -> bool:
    index = str(s.get("papers/INDEX.md"))
    return s.get("inbox/pdf/raft.pdf") == "r" and all(
        f"/{name}\n" in index for name in ("attention.pdf", "raft.pdf", "dynamo.html", "paxos.txt")
    )


def _reports_indexed(s: State) -> bool:
    return "east (200)" in str(s.get("reports/sales.md")) and "- reports/sales.md\n" in str(
        s.get("reports/INDEX.md")
    )


def _text_indexed(s: State) -> bool:
    index = str(s.get("text/INDEX.md"))
    return "- text/a.txt\n- text/b.txt\n" in index and s.get("drop/c.md") == "c"


GOALS: list[tuple[str, dict[str, str], Callable[[State], bool]]] = (
    [
        (goal, INBOX, _summary_saved)
        for goal in (
            "Sort the files in inbox/ by type, summarize notes.md, and write an index of "
            "everything",
            "Organize inbox/ by file type; summarise notes.md; then index the whole workspace",
            "Summarize notes.md, sort the files in inbox by type and write an index of everything",
        )
    ]
    + [
        (goal, PAPERS, _papers_indexed)
        for goal in (
            "File the papers in inbox/ into folders by type, then write papers/INDEX.md "
            "listing them",
            "Sort the files in inbox by type. After that, write papers/INDEX.md listing them",
        )
    ]
    + [
        (goal, SALES, _reports_indexed)
        for goal in (
            "Create a reports folder, summarize sales.csv into reports/sales.md, and when that is "
            "done write reports/INDEX.md listing the reports in it",
            "Make a folder called reports; summarize sales.csv into reports/sales.md; once that's "
            "done, write reports/INDEX.md listing what is in it",
        )
    ]
    + [
        (goal, DROP, _text_indexed)
        for goal in (
            "Move all the .txt files in drop/ into a new folder text/, then write text/INDEX.md "
            "listing what is in text/",
            "Put every .txt file from drop into a folder named text, then write text/INDEX.md "
            "listing them",
        )
    ]
)


@pytest.mark.parametrize(("goal", "files", "check"), GOALS, ids=[g for g, _, _ in GOALS])
def test_planned_steps_each_stand_alone_and_reach_the_goal(
    goal: str, files: dict[str, str], check: Callable[[State], bool], tmp_path: Path
) -> None:
    seed(tmp_path, files)
    ran = run_plan(goal, tmp_path)
    after = state(tmp_path)
    assert check(after), (after, [(s.description, r) for s, r in ran])
    for sub, report in ran:
        # Read with no other step in view, every step is something to do.
        assert not any(isinstance(op, Cannot) for op in parse_request(sub.description)), sub
        assert not report.startswith("I did not change any files"), (sub.description, report)


def test_a_step_that_needs_its_siblings_is_written_out() -> None:
    plan = plan_for(
        "File the papers in inbox/ into folders by type, then write papers/INDEX.md listing them"
    )
    index = plan["subtasks"][2]
    assert (index["description"], index["files"], index["depends_on"]) == (
        "Write an index of inbox/ to papers/INDEX.md",
        ["inbox/"],
        ["s2"],
    )
    reports = plan_for(
        "Create a reports folder, summarize sales.csv into reports/sales.md, and when that is "
        "done write reports/INDEX.md listing the reports in it"
    )["subtasks"]
    # "when that is done" orders the steps as "then" does, and is not part of the step.
    assert reports[3]["description"] == "write reports/INDEX.md listing the reports in reports/"
    assert reports[3]["depends_on"] == ["s2", "s3"]
    edit = plan_for("In config.ini, change the port from 8080 to 9090; write ok to done.txt")
    assert edit["subtasks"][1]["description"] == "In config.ini, change the port from 8080 to 9090"
    assert edit["subtasks"][1]["outputs"] == ["config.ini"]


@pytest.mark.parametrize(
    "request_text",
    [
        "Write an index of inbox/ to papers/INDEX.md",
        "Summarize notes.md in 2 sentences into s.md",
        "Move all the .log files in the top folder into logs/",
        "Change the port from 8080 to 9090 in config.ini",
        "Fix the typo 'teh' in letter.txt",
        "Write the names of the files in docs/ that mention 'invoice' to found.txt",
        "Collect every line with 'TODO' from src/ into todos.txt",
        "Sort the files in the top folder by topic",
        "Create the folders src, tests and docs",
        "Create an empty file called logs/.gitkeep",
        "Append 'reviewed' to notes.txt",
        "List all files in docs/ into list.md",
        "Set the port to 9090 in config.ini",
        "Rename old.txt to notes.txt",
    ],
)
def test_a_written_out_step_reads_back_as_the_same_step(request_text: str) -> None:
    (op,) = parse_request(request_text)
    said = describe(op)
    assert said is not None
    assert parse_request(said) == [op], (said, parse_request(said))
