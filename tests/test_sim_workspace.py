"""Acceptance: the simulator really acts. A client loop (the contract of the
workflows' agent loop, without Temporal) runs each goal against a real
temp-dir workspace through agentfleet.sandbox.Sandbox, and the end state is
checked: files present, contents right, nothing claimed that was not done.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from agentfleet.delegation import prompts
from agentfleet.sandbox import (
    TOOL_SPECS,
    Sandbox,
    SandboxViolation,
    ToolError,
    UnknownToolError,
    describe_validation_error,
    parse_tool_input,
)
from agentfleet.sim import respond

MODEL = "claude-haiku-4-5"
# The five tools these tests were written for; issue #16's are offered where a test says so.
FIVE_TOOLS = ("list_files", "read_file", "write_file", "move_file", "make_dir")
FILE_TOOLS: list[dict[str, Any]] = [t.model_dump() for t in TOOL_SPECS if t.name in FIVE_TOOLS]
MUTATING = {"write_file", "make_dir", "move_file", "copy_file", "append_file", "edit_file"}
CHANGE_CLAIM = re.compile(
    r"\b(?:wrote|created|moved|renamed|copied|appended|deleted|edited)\b[^.\n]*(?:\.\w+[^.\n]*)*",
    re.IGNORECASE,
)
PATHISH = re.compile(r"[\w.-]*[\w-](?:\.[A-Za-z0-9]+)+/?|[\w.-]+/(?:[\w.-]+/?)*")

Send = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Transcript:
    replies: list[dict[str, Any]] = field(default_factory=list)
    # Paths named by this agent's own successful calls (its tool journal, reads
    # and listings included, as the workflows' effects are), and the subset
    # its mutating calls changed.
    touched: set[str] = field(default_factory=set)
    changed: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    @property
    def last(self) -> dict[str, Any]:
        return self.replies[-1]

    @property
    def text(self) -> str:
        return "".join(b.get("text", "") for b in self.last["content"] if b["type"] == "text")

    @property
    def tool_calls(self) -> list[list[tuple[str, dict[str, Any]]]]:
        return [
            [(b["name"], b["input"]) for b in r["content"] if b["type"] == "tool_use"]
            for r in self.replies
            if r["stop_reason"] == "tool_use"
        ]


def _execute(box: Sandbox, use: dict[str, Any], t: Transcript) -> tuple[str, bool]:
    try:
        args = parse_tool_input(use["name"], use["input"])
    except ValidationError as e:
        return describe_validation_error(use["name"], e), True
    except UnknownToolError as e:
        return str(e), True
    try:
        out, _ = box.run(args)
    except (ToolError, SandboxViolation) as e:
        return str(e), True
    paths = {str(v).rstrip("/") for k, v in use["input"].items() if k in PATH_KEYS}
    t.touched |= paths
    if use["name"] in MUTATING:
        t.changed |= paths
    return out, False


PATH_KEYS = {"path", "src", "dst"}


def converse(
    send: Send,
    task: str,
    root: Path,
    *,
    tools: list[dict[str, Any]] | None = None,
    max_tokens: int = 1024,
    max_turns: int = 16,
    tool_choice: dict[str, Any] | None = None,
) -> Transcript:
    """The agent loop's contract: every tool_use gets a tool_result, a bad
    argument comes back as an error naming the field, and a turn cut off in a
    tool input is not executed but asked again with max_tokens doubled."""
    box = Sandbox(root)
    messages: list[dict[str, Any]] = [{"role": "user", "content": task}]
    t = Transcript()
    while len(t.replies) < max_turns:
        body: dict[str, Any] = {
            "model": MODEL,
            "max_tokens": max_tokens,
            "system": prompts.SUBAGENT_SYSTEM,
            "tools": FILE_TOOLS if tools is None else tools,
            "messages": messages,
        }
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
        reply = send(body)
        t.replies.append(reply)
        content = reply["content"]
        if reply["stop_reason"] == "max_tokens" and content and content[-1]["type"] == "tool_use":
            max_tokens = min(max_tokens * 2, 32_000)
            continue
        uses = [b for b in content if b["type"] == "tool_use"]
        if not uses or reply["stop_reason"] == "refusal":
            break
        results = []
        for use in uses:
            out, is_error = _execute(box, use, t)
            if is_error:
                t.errors.append(out)
            results.append(
                {
                    "type": "tool_result",
                    "tool_use_id": use["id"],
                    "content": out,
                    "is_error": is_error,
                }
            )
        messages += [
            {"role": "assistant", "content": content},
            {"role": "user", "content": results},
        ]
    return t


def state(root: Path) -> dict[str, str | None]:
    """Every path under root: file contents, or None for a folder (which ends in /)."""
    out: dict[str, str | None] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        out[rel + "/" if p.is_dir() else rel] = None if p.is_dir() else p.read_text()
    return out


def seed(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        target = root / rel
        if rel.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)


def claimed_paths(report: str) -> set[str]:
    """Paths the report names in a sentence led by a change verb."""
    return {
        p.rstrip("/") for m in CHANGE_CLAIM.finditer(report) for p in PATHISH.findall(m.group(0))
    }


def claimed_results(report: str) -> set[str]:
    """What each change sentence says it produced: its last path ("... to x/a.txt")."""
    found = (PATHISH.findall(m.group(0)) for m in CHANGE_CLAIM.finditer(report))
    return {paths[-1].rstrip("/") for paths in found if paths}


def assert_honest(t: Transcript) -> None:
    """Every path a change sentence names is in the journal, and what it says
    it produced was changed by one of this agent's own calls."""
    for path in claimed_paths(t.text):
        assert _within(path, t.touched), f"{path!r} named but never touched: {t.text!r}"
    for path in claimed_results(t.text):
        assert _within(path, t.changed), f"{path!r} claimed but not changed: {t.text!r}"


def _within(path: str, journal: set[str]) -> bool:
    # A folder counts when a call changed it or something inside it.
    return path in journal or any(p.startswith(path + "/") for p in journal)


def pure(body: dict[str, Any]) -> dict[str, Any]:
    return respond(body)


SEED = {
    "a.txt": "hi",
    "notes.md": "Meeting notes\nWe agreed to ship on Friday.\n",
    "draft.md": "# Draft\n",
    "report.pdf": "%PDF",
    "status.txt": "state: draft\n",
    "log.txt": "hello",
    "docs/a.md": "A",
    "docs/sub/b.md": "B",
    "inbox/x.pdf": "%",
    "inbox/y.txt": "y",
    "inbox/z.TXT": "z",
    "papers/bio-cells.txt": "cells",
    "papers/notes.md": "Topic: physics\nforces",
}


@dataclass(frozen=True)
class Goal:
    task: str
    expect: dict[str, str | None]  # path -> content (None: a folder)
    gone: tuple[str, ...] = ()
    errors: int = 0  # tool errors a careful model runs into on the way
    check: Callable[[dict[str, str | None]], bool] | None = None


GOALS: dict[str, Goal] = {
    "write": Goal("Write hello into b.txt", {"b.txt": "hello"}),
    "write-number": Goal("Write the number 7 into n7.txt", {"n7.txt": "7"}),
    "create-containing": Goal(
        "Create notes/todo.md containing buy milk", {"notes/todo.md": "buy milk"}
    ),
    "save-as": Goal("Save the text good morning as greeting.txt", {"greeting.txt": "good morning"}),
    "empty-file": Goal("Create an empty file called empty.log", {"empty.log": ""}),
    "haiku": Goal(
        "Write a haiku about durable workflows into poem.txt",
        {},
        check=lambda s: (
            len(str(s.get("poem.txt")).splitlines()) == 3
            and "durable workflows" in str(s.get("poem.txt")).lower()
        ),
    ),
    "memo": Goal(
        "Write a recommendation memo to memo.md",
        {},
        check=lambda s: str(s.get("memo.md")).startswith(
            "MEMO\nTo: all\nSubject: Recommendation\n"
        ),
    ),
    "exclaim": Goal(
        "Create a file named hello.txt with the content Hello, world!",
        {"hello.txt": "Hello, world!"},
    ),
    "elided-writes": Goal(
        "Write 'line one' to one.txt and 'line two' to two.txt",
        {"one.txt": "line one", "two.txt": "line two"},
    ),
    "folders-named": Goal(
        "Make a folder named reports and a folder named drafts",
        {"reports/": None, "drafts/": None},
    ),
    "directories": Goal("Create the directories src and tests", {"src/": None, "tests/": None}),
    "index-listing": Goal(
        "Create an INDEX.md listing all files",
        {},
        check=lambda s: "- papers/notes.md\n" in str(s.get("INDEX.md")),
    ),
    "index-folder-word": Goal(
        "Write an index of the inbox folder",
        {"INDEX.md": "# Index of inbox\n\n- inbox/x.pdf\n- inbox/y.txt\n- inbox/z.TXT\n"},
    ),
    "organize": Goal(
        "Organize inbox by file type", {"inbox/pdf/x.pdf": "%"}, gone=("inbox/x.pdf",)
    ),
    "empty-folder": Goal("Create an empty folder called archive", {"archive/": None}),
    "make-directory": Goal("make a directory x", {"x/": None}),
    "folders": Goal("Create folders a, b and c", {"a/": None, "b/": None, "c/": None}),
    "folder-and-move": Goal(
        "Create folder x and move a.txt into it", {"x/": None, "x/a.txt": "hi"}, gone=("a.txt",)
    ),
    "then-rename-it": Goal(
        "Write hello into h.txt, then rename it to g.txt", {"g.txt": "hello"}, gone=("h.txt",)
    ),
    "copy-there": Goal(
        "Create a folder called bk, then copy a.txt there", {"bk/a.txt": "hi", "a.txt": "hi"}
    ),
    "append": Goal("Append world to log.txt", {"log.txt": "hello\nworld"}),
    # It reads first, finds no file, and writes a new one.
    "append-new": Goal("Add the line buy eggs to todo.txt", {"todo.txt": "buy eggs"}, errors=1),
    "rename": Goal("Rename draft.md to final.md", {"final.md": "# Draft\n"}, gone=("draft.md",)),
    "move-to-folder": Goal(
        "Move report.pdf into the archive folder",
        {"archive/report.pdf": "%PDF"},
        gone=("report.pdf",),
    ),
    "copy-into": Goal("Copy a.txt to backup/", {"backup/a.txt": "hi", "a.txt": "hi"}),
    "backup": Goal("Make a backup of notes.md", {"notes.md.bak": SEED["notes.md"]}),
    "edit": Goal("Replace draft with final in status.txt", {"status.txt": "state: final\n"}),
    "summarize-into": Goal(
        "Summarize notes.md into summary.md",
        {"summary.md": "# Summary of notes.md\n\nWe agreed to ship on Friday.\n"},
    ),
    "summarize-save-it": Goal(
        "Summarize notes.md and save it as s.md",
        {"s.md": "# Summary of notes.md\n\nWe agreed to ship on Friday.\n"},
    ),
    "list-into": Goal(
        "List the files in inbox into inbox.md",
        {"inbox.md": "# Files in inbox\n\n- inbox/x.pdf\n- inbox/y.txt\n- inbox/z.TXT\n"},
    ),
    "index-dir": Goal(
        "Write an index of docs/ to docs/INDEX.md",
        {"docs/INDEX.md": "# Index of docs\n\n- docs/a.md\n- docs/sub/b.md\n"},
    ),
    "index-everything": Goal(
        "Write an index of everything",
        {},
        check=lambda s: (
            str(s.get("INDEX.md")).startswith("# Index of the workspace\n")
            and all(f"- {p}\n" in str(s["INDEX.md"]) for p in SEED if not p.endswith("/"))
        ),
    ),
    "sort": Goal(
        "Sort the files in inbox/ by type",
        {"inbox/pdf/x.pdf": "%", "inbox/txt/y.txt": "y", "inbox/txt/z.TXT": "z"},
        gone=("inbox/x.pdf", "inbox/y.txt"),
    ),
    "sort-then-index": Goal(
        "Sort the files in inbox/ by type and write an index of everything",
        {"inbox/pdf/x.pdf": "%"},
        check=lambda s: (
            "- inbox/pdf/x.pdf\n" in str(s.get("INDEX.md"))
            and "- inbox/x.pdf\n" not in str(s.get("INDEX.md"))
        ),
    ),
    "by-topic": Goal(
        "File the papers by topic",
        {"papers/bio/bio-cells.txt": "cells", "papers/physics/notes.md": SEED["papers/notes.md"]},
        gone=("papers/bio-cells.txt",),
    ),
    "move-all-txt": Goal(
        "Move all .txt files in inbox into texts/",
        {"texts/y.txt": "y", "texts/z.TXT": "z", "inbox/x.pdf": "%"},
        gone=("inbox/y.txt",),
    ),
}
# Goals that ask for nothing the agent can do: the workspace must not change.
UNCHANGED: dict[str, str] = {
    "question": "What is a workflow?",
    "explain": "Explain durable execution",
    "delete-without-tool": "Delete a.txt",
    "nonsense": "Frobnicate the widgets in a.txt",
    "summarize-answer": "Summarize notes.md",
    "list-answer": "List the files in inbox",
    "count-answer": "How many files are in inbox?",
    "no-target": "Write hello.",
}


@pytest.mark.parametrize("name", sorted(GOALS))
def test_goal_ends_with_the_files_it_asked_for(name: str, tmp_path: Path) -> None:
    goal = GOALS[name]
    seed(tmp_path, SEED)
    t = converse(pure, f"Task: {name}\n{goal.task}", tmp_path)
    after = state(tmp_path)
    assert t.last["stop_reason"] == "end_turn", t.text
    assert len(t.errors) == goal.errors, t.errors
    for path, content in goal.expect.items():
        assert path in after, f"{path} missing after {goal.task!r}: {sorted(after)}"
        assert after[path] == content, path
    for path in goal.gone:
        assert path not in after, f"{path} still there after {goal.task!r}"
    if goal.check is not None:
        assert goal.check(after), after
    assert t.changed, "a file chore must change the workspace through its own tool calls"
    assert t.text and not t.text.startswith("I did not change any files")
    assert_honest(t)


@pytest.mark.parametrize("name", sorted(UNCHANGED))
def test_goal_it_cannot_act_on_changes_nothing_and_claims_nothing(
    name: str, tmp_path: Path
) -> None:
    seed(tmp_path, SEED)
    before = state(tmp_path)
    t = converse(pure, f"Task: {name}\n{UNCHANGED[name]}", tmp_path)
    assert state(tmp_path) == before
    assert t.changed == set()
    assert t.last["stop_reason"] == "end_turn" and t.text
    assert claimed_paths(t.text) == set(), t.text


def test_every_goal_at_once_as_one_compound_task(tmp_path: Path) -> None:
    # One agent, several clauses, in order: the later ones see the earlier results.
    seed(tmp_path, SEED)
    task = (
        "Create folder x and move a.txt into it. Write hello into x/b.txt, then copy it to "
        "c.txt; append more to c.txt. Sort the files in inbox by type, "
        "then write an index of everything"
    )
    t = converse(pure, task, tmp_path, max_turns=20)
    after = state(tmp_path)
    assert after["x/a.txt"] == "hi" and "a.txt" not in after
    assert after["x/b.txt"] == "hello" and after["c.txt"] == "hello\nmore"
    assert after["inbox/pdf/x.pdf"] == "%"
    index = str(after["INDEX.md"])
    assert "- x/a.txt\n" in index and "- inbox/txt/y.txt\n" in index and "- c.txt\n" in index
    assert t.errors == []
    assert_honest(t)


def _shows(habit: str, t: Transcript, plain_errors: int) -> bool:
    if habit == "multi-tool":
        return any(len(turn) >= 2 for turn in t.tool_calls)
    if habit == "truncate":
        return any(r["stop_reason"] == "max_tokens" for r in t.replies)
    # bad-args: one more error than the plain run, naming the field it got wrong.
    return len(t.errors) == plain_errors + 1 and "invalid input for" in t.errors[0]


@pytest.mark.parametrize("habit", ["multi-tool", "bad-args", "truncate"])
def test_recoverable_habits_reach_the_same_end_state(habit: str, tmp_path: Path) -> None:
    # A client that follows the contract repairs each of these habits.
    for name, goal in sorted(GOALS.items()):
        plain, habitual = tmp_path / name / "plain", tmp_path / name / habit
        for root in (plain, habitual):
            seed(root, SEED)
        converse(pure, f"Task: {name}\n{goal.task}", plain)
        t = converse(pure, f"Task: {name}\n{goal.task} [sim:habit={habit}]", habitual)
        assert state(habitual) == state(plain), name
        assert t.last["stop_reason"] == "end_turn", (name, t.text)
        assert _shows(habit, t, goal.errors), (name, t.replies)
        assert_honest(t)


def test_claim_done_and_refusal_change_nothing(tmp_path: Path) -> None:
    seed(tmp_path, SEED)
    before = state(tmp_path)
    claim = converse(
        pure, "Create folder x and move a.txt into it [sim:habit=claim-done]", tmp_path
    )
    assert claim.text == "Done. I created x/. I moved a.txt to x/a.txt."
    assert claim.tool_calls == [] and state(tmp_path) == before
    # The honesty check that every acting goal passes catches this reply.
    with pytest.raises(AssertionError, match="never touched"):
        assert_honest(claim)
    refused = converse(pure, "Write hello into b.txt [sim:habit=refusal]", tmp_path)
    assert refused.last["stop_reason"] == "refusal" and refused.tool_calls == []
    assert state(tmp_path) == before
