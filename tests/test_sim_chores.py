"""The simulated agent's file chores, over HTTP through the real anthropic SDK.

Each phrasing family is driven to the end against a real Sandbox, with its
exact tool calls, turn by turn, and its exact report. Tools from issue #16
are used when offered and replaced the way a model would when not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from agentfleet.delegation import prompts
from agentfleet.sim import Simulator
from tests import test_sim_workspace as ws

MODEL = "claude-haiku-4-5"
ISSUE16_TOOLS: list[Any] = [
    {"name": name, "description": name, "input_schema": {"type": "object", "required": req}}
    for name, req in {
        "copy_file": ["src", "dst"],
        "append_file": ["path", "content"],
        "edit_file": ["path", "old_string", "new_string"],
        "delete_file": ["path"],
    }.items()
]


@pytest.fixture(scope="module")
def client() -> Iterator[anthropic.Anthropic]:
    with Simulator(port=0) as s:
        yield anthropic.Anthropic(api_key="sim-no-key", base_url=s.url, max_retries=0)


def sdk(client: anthropic.Anthropic) -> ws.Send:
    def send(body: dict[str, Any]) -> dict[str, Any]:
        return client.messages.create(**body).model_dump(exclude_none=True)

    return send


def create(client: anthropic.Anthropic, messages: list[Any], **kw: Any) -> anthropic.types.Message:
    kw.setdefault("tools", ws.FILE_TOOLS)
    return client.messages.create(
        model=MODEL, max_tokens=1024, system=prompts.SUBAGENT_SYSTEM, messages=messages, **kw
    )


def calls(msg: anthropic.types.Message) -> list[tuple[str, dict[str, Any]]]:
    return [(b.name, dict(b.input)) for b in msg.content if b.type == "tool_use"]


def text(msg: anthropic.types.Message) -> str:
    return "".join(b.text for b in msg.content if b.type == "text")


def ws_user(task: str) -> dict[str, Any]:
    return {"role": "user", "content": f"Task: t\n{task}"}


def answered(msg: anthropic.types.Message, outputs: list[str], error: bool = False) -> list[Any]:
    uses = [b for b in msg.content if b.type == "tool_use"]
    assert len(uses) == len(outputs)
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


HAIKU = "Durable workflows\nKeep every step they have taken\nThrough the crash and back\n"
INDEX = (
    "# Index of the workspace\n\n- a.txt\n- docs/a.md\n- docs/sub/b.md\n- draft.md\n"
    "- inbox/x.pdf\n- inbox/y.txt\n- inbox/z.TXT\n- log.txt\n- notes.md\n- papers/bio-cells.txt\n"
    "- papers/notes.md\n- report.pdf\n- status.txt\n"
)
# task -> (tool calls turn by turn, final report)
FAMILIES: dict[str, tuple[list[list[tuple[str, dict[str, Any]]]], str]] = {
    "Write hello into a.txt": (
        [[("write_file", {"path": "a.txt", "content": "hello"})]],
        "Wrote 5 characters to a.txt.",
    ),
    "Write the number 7 into n7.txt": (
        [[("write_file", {"path": "n7.txt", "content": "7"})]],
        "Wrote 1 character to n7.txt.",
    ),
    "Create notes/todo.md containing buy milk": (
        [[("write_file", {"path": "notes/todo.md", "content": "buy milk"})]],
        "Wrote 8 characters to notes/todo.md.",
    ),
    "Save the text good morning as greeting.txt": (
        [[("write_file", {"path": "greeting.txt", "content": "good morning"})]],
        "Wrote 12 characters to greeting.txt.",
    ),
    "Write a haiku about durable workflows into poem.txt": (
        [[("write_file", {"path": "poem.txt", "content": HAIKU})]],
        "Wrote 77 characters to poem.txt.",
    ),
    "Append world to log.txt": (
        [
            [("read_file", {"path": "log.txt"})],
            [("write_file", {"path": "log.txt", "content": "hello\nworld"})],
        ],
        "Appended 5 characters to log.txt.",
    ),
    "Rename draft.md to final.md": (
        [[("move_file", {"src": "draft.md", "dst": "final.md"})]],
        "Renamed draft.md to final.md.",
    ),
    "Move report.pdf into the archive folder": (
        [[("move_file", {"src": "report.pdf", "dst": "archive/report.pdf"})]],
        "Moved report.pdf to archive/report.pdf.",
    ),
    "Copy a.txt to backup/": (
        [
            [("read_file", {"path": "a.txt"})],
            [("write_file", {"path": "backup/a.txt", "content": "hi"})],
        ],
        "Copied a.txt to backup/a.txt.",
    ),
    "Create an empty folder called archive": (
        [[("make_dir", {"path": "archive"})]],
        "Created folder archive/.",
    ),
    "make a directory x": ([[("make_dir", {"path": "x"})]], "Created folder x/."),
    "List the files in inbox": (
        [[("list_files", {"path": "inbox", "recursive": False})]],
        "Files in inbox (3):\n- inbox/x.pdf\n- inbox/y.txt\n- inbox/z.TXT",
    ),
    "Summarize notes.md": (
        [[("read_file", {"path": "notes.md"})]],
        "Summary of notes.md (8 words): We agreed to ship on Friday.",
    ),
    "Summarize notes.md into summary.md": (
        [
            [("read_file", {"path": "notes.md"})],
            [
                (
                    "write_file",
                    {
                        "path": "summary.md",
                        "content": "# Summary of notes.md\n\nWe agreed to ship on Friday.\n",
                    },
                )
            ],
        ],
        "Summarized notes.md (8 words) into summary.md.",
    ),
    "Write an index of everything": (
        [
            [("list_files", {"path": ".", "recursive": True})],
            [("write_file", {"path": "INDEX.md", "content": INDEX})],
        ],
        "Wrote an index of the workspace to INDEX.md.",
    ),
    "Sort the files in inbox/ by type": (
        [
            [("list_files", {"path": "inbox", "recursive": False})],
            [
                ("make_dir", {"path": "inbox/pdf"}),
                ("make_dir", {"path": "inbox/txt"}),
                ("move_file", {"src": "inbox/x.pdf", "dst": "inbox/pdf/x.pdf"}),
                ("move_file", {"src": "inbox/y.txt", "dst": "inbox/txt/y.txt"}),
                ("move_file", {"src": "inbox/z.TXT", "dst": "inbox/txt/z.TXT"}),
            ],
        ],
        "Sorted 3 files in inbox into 2 folders: pdf, txt",
    ),
    "Replace draft with final in status.txt": (
        [
            [("read_file", {"path": "status.txt"})],
            [("write_file", {"path": "status.txt", "content": "state: final\n"})],
        ],
        "Edited status.txt: replaced 'draft' with 'final'.",
    ),
    # Compound tasks: clause by clause, "it" and "there" resolved.
    "Create folder x and move a.txt into it": (
        [
            [("make_dir", {"path": "x"})],
            [("move_file", {"src": "a.txt", "dst": "x/a.txt"})],
        ],
        "Created folder x/. Moved a.txt to x/a.txt.",
    ),
    "Write hello into h.txt, then rename it to g.txt": (
        [
            [("write_file", {"path": "h.txt", "content": "hello"})],
            [("move_file", {"src": "h.txt", "dst": "g.txt"})],
        ],
        "Wrote 5 characters to h.txt. Renamed h.txt to g.txt.",
    ),
    "Create a folder called bk, then move report.pdf there": (
        [
            [("make_dir", {"path": "bk"})],
            [("move_file", {"src": "report.pdf", "dst": "bk/report.pdf"})],
        ],
        "Created folder bk/. Moved report.pdf to bk/report.pdf.",
    ),
    # Works from what the listing says exists.
    "Move all .txt files in inbox into texts/": (
        [
            [("list_files", {"path": "inbox", "recursive": False})],
            [
                ("move_file", {"src": "inbox/y.txt", "dst": "texts/y.txt"}),
                ("move_file", {"src": "inbox/z.TXT", "dst": "texts/z.TXT"}),
            ],
        ],
        "Moved inbox/y.txt and inbox/z.TXT into texts/.",
    ),
}


@pytest.mark.parametrize("task", list(FAMILIES))
def test_phrasing_families_act_with_exact_calls(
    task: str, client: anthropic.Anthropic, tmp_path: Path
) -> None:
    expected_calls, report = FAMILIES[task]
    ws.seed(tmp_path, ws.SEED)
    t = ws.converse(sdk(client), f"Task: t\n{task}", tmp_path)
    assert t.tool_calls == expected_calls
    assert t.text == report
    assert t.last["stop_reason"] == "end_turn" and t.errors == []
    ws.assert_honest(t)


def test_issue16_tools_are_used_when_offered(client: anthropic.Anthropic) -> None:
    tools = [*ws.FILE_TOOLS, *ISSUE16_TOOLS]
    first = create(client, [ws_user("Copy a.txt to b.txt")], tools=tools)
    assert calls(first) == [("copy_file", {"src": "a.txt", "dst": "b.txt"})]

    messages = [ws_user("Append world to log.txt")]
    step = create(client, messages, tools=tools)
    assert calls(step) == [("read_file", {"path": "log.txt"})]
    messages += answered(step, ["hello"])
    step = create(client, messages, tools=tools)
    # Read first, so the new text starts on its own line.
    assert calls(step) == [("append_file", {"path": "log.txt", "content": "\nworld"})]

    edit = create(client, [ws_user("Replace draft with final in s.txt")], tools=tools)
    assert calls(edit) == [
        (
            "edit_file",
            {"path": "s.txt", "old_string": "draft", "new_string": "final", "replace_all": True},
        )
    ]
    messages = [ws_user("Delete a.txt and old.log")]
    step = create(client, messages, tools=tools)
    assert calls(step) == [
        ("delete_file", {"path": "a.txt"}),
        ("delete_file", {"path": "old.log"}),
    ]
    messages += answered(step, ["deleted a.txt", "deleted old.log"])
    assert text(create(client, messages, tools=tools)) == "Deleted a.txt and old.log."


def test_only_offered_tools_are_called(client: anthropic.Anthropic, tmp_path: Path) -> None:
    read_only = [t for t in ws.FILE_TOOLS if t["name"] in ("list_files", "read_file")]
    msg = create(client, [ws_user("Write hello into a.txt")], tools=read_only)
    assert calls(msg) == [] and msg.stop_reason == "end_turn"
    assert text(msg) == (
        "I did not change any files. I could not write a.txt: the write_file tool was not offered."
    )
    # tool_choice "none" forbids every tool, whatever is listed.
    none = create(client, [ws_user("Create folder x")], tool_choice={"type": "none"})
    assert calls(none) == [] and text(none).startswith("I did not change any files.")
    # No delete tool: it says so plainly and changes nothing.
    ws.seed(tmp_path, ws.SEED)
    before = ws.state(tmp_path)
    t = ws.converse(sdk(client), "Task: t\nDelete a.txt", tmp_path)
    assert t.text == (
        "I did not change any files. I could not delete a.txt: no tool to delete files was "
        "offered, so it is still there."
    )
    assert ws.state(tmp_path) == before and t.tool_calls == []
    # A clause it can do is done; the one it cannot is reported, not faked.
    t = ws.converse(sdk(client), "Task: t\nWrite hi into n.txt and delete a.txt", tmp_path)
    assert t.tool_calls == [[("write_file", {"path": "n.txt", "content": "hi"})]]
    assert t.text.startswith("Wrote 2 characters to n.txt. I could not delete a.txt")
    assert (tmp_path / "a.txt").read_text() == "hi"


def test_one_call_per_turn_when_parallel_tool_use_is_disabled(
    client: anthropic.Anthropic, tmp_path: Path
) -> None:
    t = ws.converse(
        sdk(client),
        "Task: t\nCreate folders a, b and c",
        tmp_path,
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    assert t.tool_calls == [[("make_dir", {"path": p})] for p in ("a", "b", "c")]
    assert t.text == "Created folders a/, b/ and c/."
    assert ws.state(tmp_path) == {"a/": None, "b/": None, "c/": None}


def test_a_failed_call_is_reported_and_nothing_after_it_is_tried(
    client: anthropic.Anthropic,
) -> None:
    messages = [ws_user("Create folder x, move a.txt into it, then write ok into x/done.txt")]
    step = create(client, messages)
    messages += answered(step, ["created x"])
    step = create(client, messages)
    assert calls(step) == [("move_file", {"src": "a.txt", "dst": "x/a.txt"})]
    messages += answered(
        step, ["cannot move a.txt: it does not exist (and neither does x/a.txt)"], True
    )
    final = create(client, messages)
    assert calls(final) == [] and final.stop_reason == "end_turn"
    assert text(final) == (
        "Created folder x/. I could not move a.txt: move_file failed: cannot move a.txt: it "
        "does not exist (and neither does x/a.txt). I stopped there and did not write "
        "x/done.txt."
    )


def test_listing_decides_what_is_acted_on(client: anthropic.Anthropic) -> None:
    messages = [ws_user("Move all .md files in notes into archive")]
    step = create(client, messages)
    assert calls(step) == [("list_files", {"path": "notes", "recursive": False})]
    messages += answered(step, ["notes/a.md\nnotes/b.txt\nnotes/old/\nnotes/C.MD"])
    step = create(client, messages)
    assert calls(step) == [
        ("move_file", {"src": "notes/C.MD", "dst": "archive/C.MD"}),
        ("move_file", {"src": "notes/a.md", "dst": "archive/a.md"}),
    ]
    empty = [ws_user("Move all .md files in notes into archive")]
    step = create(client, empty)
    empty += answered(step, ["(empty)"])
    final = create(client, empty)
    assert calls(final) == []
    assert text(final) == "I did not change any files. There were no .md files in notes to move."


@pytest.mark.parametrize(
    ("task", "answer"),
    [
        ("What is a workflow?", "A workflow is a defined sequence of steps"),
        ("What is 6 * 7?", "6 * 7 = 42."),
        ("Explain what an activity is", "An activity is one step of a workflow"),
        ("Write a haiku about the sea", "The sea at dawn\nEach small step written down\n"),
        ("Draft the email to the finance team", "Subject: An update\n\nHello finance team,\n"),
    ],
)
def test_answer_only_requests_get_a_plain_answer(
    task: str, answer: str, client: anthropic.Anthropic
) -> None:
    msg = create(client, [ws_user(task)])
    assert calls(msg) == [] and msg.stop_reason == "end_turn"
    assert text(msg).startswith(answer)
    assert ws.claimed_paths(text(msg)) == set()


@pytest.mark.parametrize(
    "task",
    [
        "Frobnicate the widgets in a.txt",
        "Make the files better",
        "Create",
        "Rename it to b.txt",
        "Think",
    ],
)
def test_requests_it_cannot_act_on_claim_no_effect(task: str, client: anthropic.Anthropic) -> None:
    msg = create(client, [ws_user(task)])
    assert calls(msg) == [] and msg.stop_reason == "end_turn"
    assert "did not change any files" in text(msg)
    assert ws.claimed_paths(text(msg)) == set()


def test_plan_and_validate_subtasks_only_look(client: anthropic.Anthropic) -> None:
    goal = "Create folder x and move a.txt into it; write an index of everything"
    plan = create(client, [ws_user(f"Plan how to approach: {goal}")])
    assert calls(plan) == []
    assert text(plan) == (
        "Here is how I would approach it:\n1. Create x/\n2. Move a.txt to x/a.txt\n"
        "3. Index the workspace into INDEX.md\nI did not change any files."
    )
    messages = [ws_user(f"Validate that every part of the goal was done: {goal}")]
    step = create(client, messages)
    assert calls(step) == [
        ("list_files", {"path": ".", "recursive": True}),
        ("list_files", {"path": "x", "recursive": False}),
    ]
    messages += answered(step, ["INDEX.md\nb.txt", "x/b.txt"])
    final = create(client, messages)
    assert text(final) == (
        "Checked 3 expected outputs; missing: x/a.txt. I did not change any files."
    )


def test_task_text_sections_are_read_but_reports_are_not_acted_on(
    client: anthropic.Anthropic,
) -> None:
    task = (
        "Task: A poem\n"
        "Write a haiku about durable workflows\n"
        "Files: notes/\n"
        "Produce: poem.txt\n"
        "\n"
        "Reports from the steps this one depends on:\n"
        "- Tidy up [completed]: Write junk into z.txt. Delete a.txt\n"
    )
    msg = create(client, [{"role": "user", "content": task}])
    # The plan's output names the file the request left unnamed.
    assert calls(msg) == [("write_file", {"path": "poem.txt", "content": HAIKU})]
    bare = create(client, [{"role": "user", "content": "Write hello into a.txt"}])
    assert calls(bare) == [("write_file", {"path": "a.txt", "content": "hello"})]


def test_validate_expects_the_final_state_not_each_step(client: anthropic.Anthropic) -> None:
    goal = "Write hello into b.txt, then move it into archive/"
    messages = [ws_user(f"Validate that every part of the goal was done: {goal}")]
    step = create(client, messages)
    assert calls(step) == [("list_files", {"path": ".", "recursive": True})]
    # b.txt was written and then moved on purpose: only archive/b.txt is expected.
    messages += answered(step, ["archive/b.txt\nnotes.md"])
    final = create(client, messages)
    assert text(final) == "Checked 1 expected output: all present. I did not change any files."
