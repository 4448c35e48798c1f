"""A targeted edit keeps the rest of the file: checked against the sandbox's originals."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentfleet.contracts.models import Effect, VerifyRequest
from agentfleet.sandbox import AppendFileArgs, EditFileArgs, Sandbox, WriteFileArgs
from agentfleet.sandbox.box import NEW_MARK, original_of
from agentfleet.verification.completion import verify

AGENT = "master-1.1"


def _check(root: Path, task: str, path: str, op: str = "write") -> tuple[bool, str]:
    req = VerifyRequest(
        workspace="ws",
        agent_id=AGENT,
        task=task,
        report=f"Done: {path}.",
        effects=[Effect(op=op, path=path)],  # type: ignore[arg-type]
    )
    v = verify(root, req)
    return v.passed, v.reason


def test_the_sandbox_keeps_a_file_as_it_was_before_the_run_first_changed_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "names.txt").write_text("Alice\nBob\n")
    box = Sandbox(tmp_path, run=AGENT, call_id="c1")
    box.write_file(WriteFileArgs(path="names.txt", content="Alice\n"))
    box.call_id = "c2"
    box.append_file(AppendFileArgs(path="names.txt", content="Dave\n"))
    # The first version is kept, not the run's own later one.
    assert original_of(tmp_path, AGENT, "names.txt").read_text() == "Alice\nBob\n"
    box.write_file(WriteFileArgs(path="new.txt", content="x\n"))
    kept = original_of(tmp_path, AGENT, "new.txt")
    assert not kept.exists() and kept.with_name(kept.name + NEW_MARK).exists()


@pytest.mark.parametrize(
    ("task", "before", "after", "passed"),
    [
        # A whole-file write that added the name and dropped the rest.
        ("Add Dave to the end of names.txt", "Alice\nBob\n", "Dave\n", False),
        ("Add Dave to the end of names.txt", "Alice\nBob\n", "Alice\nBob\nDave\n", True),
        # A numbered list renumbered around the new item is the same list.
        ("Add 'milk' to shopping.md", "1. eggs\n2. bread\n", "1. milk\n2. eggs\n3. bread\n", True),
        (
            "Fix the typo 'teh' in names.txt",
            "Dear Sam,\nPlease find teh report.\n",
            "Dear Sam,\nPlease find the report.\n",
            True,
        ),
        (
            "Fix the typo 'teh' in names.txt",
            "Dear Sam,\nPlease find teh report.\n",
            "Dear Sam,\nreport. the find Please\n",
            False,
        ),
        (
            "In names.txt, change the port from 8080 to 9090",
            "host=a\nport=8080\n",
            "host=a\nport=9090\n",
            True,
        ),
        (
            "In names.txt, change the port from 8080 to 9090",
            "host=a\nport=8080\n",
            "port=9090\n",
            False,
        ),
        # A swap of one word for another: each line it was in holds the swapped form.
        (
            "Replace every foo with bar in names.txt",
            "foo\nfoobar\nbaz foo\n",
            "bar\nbarbar\nbaz bar\n",
            True,
        ),
        (
            "Replace every foo with bar in names.txt",
            "foo\nfoobar\nbaz foo\n",
            "rab\nrab\nbar\nbaz rab\n",
            False,
        ),
        # Added to, with no words given: what was there stays.
        ("Add Dave to names.txt", "Alice\nBob\n", "Dave\n", False),
        ("Add Dave to names.txt", "Alice\nBob\n", "Alice\nBob\nDave\n", True),
        # A swap done case-blind is a swap too.
        (
            'Change "colour" to "color" everywhere in names.txt',
            "The colour. Colour it.\n",
            "The color. Color it.\n",
            True,
        ),
        # The line that held the old value holds the new one, whatever its key is called.
        (
            "Change port 8080 to 9090 in names.txt",
            "listen 8080\nhealth 8081\n",
            "listen 9090\nhealth 8081\n",
            True,
        ),
        (
            "Change port 8080 to 9090 in names.txt",
            "listen 8080\nhealth 8081\n",
            "listen 8080\nhealth 8081\nlisten 9090\n",
            False,
        ),
        # Reshaping the whole file is not a targeted edit.
        ("Rewrite names.txt to say 'hello'", "Alice\nBob\n", "hello\n", True),
    ],
)
def test_a_targeted_edit_keeps_every_line_it_did_not_touch(
    tmp_path: Path, task: str, before: str, after: str, *, passed: bool
) -> None:
    path = "shopping.md" if "shopping" in task else "names.txt"
    (tmp_path / path).write_text(before)
    Sandbox(tmp_path, run=AGENT).write_file(WriteFileArgs(path=path, content=after))
    ok, reason = _check(tmp_path, task, path)
    assert ok is passed, reason
    if not passed:
        assert "did not keep the rest of its text" in reason or "still contains" in reason


def test_an_edit_of_a_file_the_run_made_is_not_held_to_it(tmp_path: Path) -> None:
    box = Sandbox(tmp_path, run=AGENT, call_id="c1")
    box.write_file(WriteFileArgs(path="names.txt", content="Alice\nBob\n"))
    box.call_id = "c2"
    box.edit_file(EditFileArgs(path="names.txt", old_string="Alice\nBob\n", new_string="Dave\n"))
    assert _check(tmp_path, "Add Dave to the end of names.txt", "names.txt", "edit")[0]


def test_lines_collected_into_a_file_are_each_there(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("import os\n# TODO: read the port from env\n")
    (tmp_path / "src" / "db.py").write_text("# TODO: close the pool on exit\nPOOL = None\n")
    task = "Collect every line with TODO in it from the files in src/ into todos.txt"
    effects = [Effect(op="list", path="src"), Effect(op="write", path="todos.txt")]

    def check(content: str) -> tuple[bool, str]:
        (tmp_path / "todos.txt").write_text(content)
        req = VerifyRequest(workspace="ws", task=task, report="Wrote todos.txt.", effects=effects)
        v = verify(tmp_path, req)
        return v.passed, v.reason

    honest = "- src/app.py: TODO: read the port from env\n- src/db.py: close the pool on exit\n"
    assert check(honest)[0]
    ok, reason = check("- env port todo\n- pool todo\n")
    assert not ok and 'lacks the lines with "TODO" from src/' in reason


@pytest.mark.parametrize(
    ("task", "path", "content", "passed"),
    [
        (
            "Write a haiku about durable workflows into poem.txt",
            "poem.txt",
            "Workers fall and rise\nhistory replays each step\nthe fleet carries on\n",
            True,
        ),
        # A title line is allowed on top of the three.
        (
            "Write a haiku about durable workflows into poem.txt",
            "poem.txt",
            "# Durable\nWorkers fall and rise\nhistory replays\nthe fleet carries on\n",
            True,
        ),
        (
            "Write a haiku about durable workflows into poem.txt",
            "poem.txt",
            "workflows durable about haiku\n",
            False,
        ),
        (
            "Put a list of three things to bring to a picnic in picnic.txt",
            "picnic.txt",
            "- sandwiches\n- lemonade\n- a blanket\n",
            True,
        ),
        (
            "Put a list of three things to bring to a picnic in picnic.txt",
            "picnic.txt",
            "Sandwiches, lemonade and a blanket\n",
            True,
        ),
        (
            "Put a list of three things to bring to a picnic in picnic.txt",
            "picnic.txt",
            "picnic a to bring\n",
            False,
        ),
        (
            "Create README.md for a project called Lighthouse: a title and a sentence",
            "README.md",
            "# Lighthouse\nLighthouse watches your services.\n",
            True,
        ),
        (
            "Create README.md for a project called Lighthouse: a title and a sentence",
            "README.md",
            "# Project\nIt watches your services.\n",
            False,
        ),
    ],
)
def test_described_content_still_has_its_shape_and_its_name(
    tmp_path: Path, task: str, path: str, content: str, *, passed: bool
) -> None:
    (tmp_path / path).write_text(content)
    ok, reason = _check(tmp_path, task, path)
    assert ok is passed, reason


@pytest.mark.parametrize(
    ("task", "left", "passed"),
    [
        ("Delete all the .tmp files", ["keep.txt", "sub/c.tmp"], False),
        ("Delete all the .tmp files", ["keep.txt"], True),
        ("Move the pictures in inbox/ into photos/", ["inbox/memo.txt", "inbox/dog.png"], False),
        ("Move the pictures in inbox/ into photos/", ["inbox/memo.txt", "photos/dog.png"], True),
        (
            "Create folders images and docs and move each file from inbox into the right one",
            ["inbox/cv.pdf", "images/cat.jpg"],
            False,
        ),
        (
            "Create folders images and docs and move each file from inbox into the right one",
            ["docs/cv.pdf", "images/cat.jpg"],
            True,
        ),
    ],
)
def test_every_file_of_the_kind_leaves_the_folder(
    tmp_path: Path, task: str, left: list[str], *, passed: bool
) -> None:
    for rel in [*left, "inbox/", "photos/", "images/", "docs/"]:
        target = tmp_path / rel
        if rel.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("x")
    effects = [
        Effect(op="delete", path="a.tmp"),
        Effect(op="move", path="photos/cat.jpg", src="inbox/cat.jpg"),
        Effect(op="move", path="images/cat.jpg", src="inbox/cat.jpg"),
        Effect(op="move", path="docs/cv.pdf", src="inbox/cv.pdf"),
        Effect(op="move", path="photos/dog.png", src="inbox/dog.png"),
    ]
    req = VerifyRequest(workspace="ws", agent_id=AGENT, task=task, report="Done.", effects=effects)
    v = verify(tmp_path, req)
    assert v.passed is passed, v.reason
    if not passed:
        assert "the task asked to go" in v.reason
