"""Acceptance: everyday phrasings of file chores, each family with paraphrases.

The same client loop as test_sim_workspace.py runs every request against a
real temp-dir Sandbox; the end state is checked, and the report may claim
only what the agent's own calls changed. Paraphrases guard against a parser
that knows one sentence rather than a way of saying things.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agentfleet.delegation import prompts
from agentfleet.sim import respond
from tests.test_sim_chores import ISSUE16_TOOLS
from tests.test_sim_workspace import (
    FILE_TOOLS,
    MODEL,
    assert_honest,
    claimed_paths,
    converse,
    pure,
    seed,
    state,
)

SEED = {
    "config.ini": "[server]\nhost=localhost\nport=8080\n# 8080 was the old default\n",
    "names.txt": "foo\nfoobar\nbaz foo\n",
    "letter.txt": "Dear Sam,\nPlease find teh report attached.\nBest, Kim\n",
    "app.log": "09:14 ERROR db timeout\n",
    "db.log": "09:15 WARN slow query\n",
    "keep.txt": "keep me\n",
    "status.txt": "degraded since 09:14\n",
    "guests.txt": "Ana\nBo\n",
    "old.txt": "first draft\n",
    "logs/": "",
    "meeting.txt": (
        "Weekly sync, 3 May\nAttendees: Ana, Bo, Kim\nWe will ship release 2.1 on Friday.\n"
        "The login bug is fixed and verified by QA.\nBo will update the docs.\n"
    ),
    "incident.log": (
        "2024-05-02 09:14:03 INFO deploy started\n"
        "2024-05-02 09:14:40 ERROR db connection refused\n"
        "2024-05-02 09:16:00 ERROR db connection refused\n"
        "2024-05-02 09:20:00 INFO recovered after failover\n"
    ),
    "recipes/soup.md": "# Soup\n",
    "recipes/cake.md": "# Cake\n",
    "docs/a.md": "Invoice 12 for ACME\n",
    "docs/b.md": "meeting notes\n",
    "docs/sub/c.md": "Pay the invoice by Friday.\n",
    "src/a.py": "x = 1\n# TODO fix this\n",
    "src/b.py": "def f():\n    pass  # TODO: test\n",
    "src/c.py": "todo = []\n",
}

State = dict[str, str | None]


@dataclass(frozen=True)
class Case:
    expect: State  # path -> exact content; a folder ends in "/" and maps to None
    gone: tuple[str, ...] = ()
    check: Callable[[State], bool] | None = None
    seed: dict[str, str] = field(default_factory=lambda: SEED)


def family(paraphrases: list[str], case: Case) -> list[tuple[str, Case]]:
    return [(text, case) for text in paraphrases]


CASES: list[tuple[str, Case]] = [
    *family(
        [
            "i need a new directory named drafts",
            "I want a folder called drafts",
            "we need an empty directory drafts",
            "can I get a new folder named drafts?",
            "there should be a folder named drafts",
            "i'd like a folder called drafts",
            "Make a new directory for drafts",
            "let's have a folder named drafts",
        ],
        Case({"drafts/": None}),
    ),
    *family(
        [
            "Set up three folders: src, tests and docs",
            "Create two directories, src and tests, and a folder named docs",
            "make 3 folders named src, tests, and docs",
            "Create src, tests and docs folders",
            "I need three new folders: src, tests and docs",
            "Could you create a few folders: src, tests and docs?",
        ],
        Case({"src/": None, "tests/": None, "docs/": None}),
    ),
    *family(
        [
            "Move every .log file in the top folder into logs/",
            "move all the .log files in the root folder to logs/",
            "Put every log file here into the logs folder",
            "Move all the logs at the top level into logs",
            "Move each .log file from the workspace root into logs/",
        ],
        Case(
            {
                "logs/app.log": SEED["app.log"],
                "logs/db.log": SEED["db.log"],
                "keep.txt": "keep me\n",
            },
            gone=("app.log", "db.log"),
        ),
    ),
    *family(
        [
            "Replace whatever is in status.txt with: all systems go",
            "Replace the contents of status.txt with all systems go",
            "Overwrite status.txt with 'all systems go'",
            "Set the contents of status.txt to: all systems go",
            "Make status.txt say all systems go",
            "Replace everything in status.txt with the text all systems go",
            "Change status.txt to say all systems go",
        ],
        Case({"status.txt": "all systems go"}),
    ),
    *family(
        [
            "Write these three lines to packing.txt, one per line: passport, charger, socks",
            "Put passport, charger and socks in packing.txt, one per line",
            "Write passport, charger, and socks into packing.txt, each on its own line",
            "Create packing.txt with these lines: passport, charger, socks",
            "Write to packing.txt, one item per line: passport, charger, socks",
            "save the following lines to packing.txt: passport, charger, socks",
            "Make a packing list in packing.txt with passport, charger and socks",
            "Create a file named packing.txt with the lines passport, charger, socks",
            "Write the words passport, charger and socks to packing.txt, one per line",
        ],
        Case({"packing.txt": "passport\ncharger\nsocks\n"}),
    ),
    *family(
        [
            "Create an empty file called .gitkeep inside logs/",
            "Add an empty file named .gitkeep to the logs folder",
            "put an empty .gitkeep file in logs",
            "touch logs/.gitkeep",
            "I need an empty file called .gitkeep in logs/",
        ],
        Case({"logs/.gitkeep": ""}),
    ),
    *family(
        [
            "Create README.md for a project called Lighthouse: a title and one sentence "
            "saying what it does",
            "Write a README.md for the Lighthouse project",
            "make README.md about a tool named Lighthouse",
            "Write a README for project Lighthouse into README.md",
        ],
        Case(
            {},
            check=lambda s: (
                str(s.get("README.md")).startswith("# Lighthouse\n\nLighthouse is ")
                and len(str(s["README.md"]).strip().splitlines()) == 3
            ),
        ),
    ),
]

CASES += [
    *family(
        [
            "Add Carol to the guest list in guests.txt",
            "add Carol to guests.txt",
            "Put Carol on the list in guests.txt",
            "Append Carol to the end of the guest list in guests.txt",
            "add to guests.txt: Carol",
        ],
        Case({"guests.txt": "Ana\nBo\nCarol\n"}),
    ),
    *family(
        [
            "Rename old.txt to notes.txt and append the word reviewed to it",
            "Rename old.txt to notes.txt, then add reviewed to the end of it",
            "rename old.txt as notes.txt and then append reviewed to that file",
        ],
        Case({"notes.txt": "first draft\nreviewed\n"}, gone=("old.txt",)),
    ),
    *family(
        [
            "In config.ini, change the port from 8080 to 9090",
            "Change the port in config.ini from 8080 to 9090",
            "change the port from 8080 to 9090 in config.ini",
            "Set the port to 9090 in config.ini",
            "In config.ini, set port to 9090",
            "Update config.ini so the port goes from 8080 to 9090",
        ],
        # Only the port line: the comment's 8080 is history, not the setting.
        Case({"config.ini": SEED["config.ini"].replace("port=8080", "port=9090")}),
    ),
    *family(
        [
            "Replace every foo with bar in names.txt",
            "In names.txt, replace all occurrences of foo with bar",
            "replace each 'foo' with 'bar' in names.txt",
            "Change every instance of the word foo to bar in names.txt",
        ],
        Case({"names.txt": "bar\nbarbar\nbaz bar\n"}),
    ),
    *family(
        [
            "Fix the typo 'teh' in letter.txt",
            "fix teh in letter.txt",
            "Correct the misspelling teh in letter.txt",
            "In letter.txt, fix the typo teh",
            "Fix the typos in letter.txt",
            "Fix 'teh' -> 'the' in letter.txt",
        ],
        Case({"letter.txt": "Dear Sam,\nPlease find the report attached.\nBest, Kim\n"}),
    ),
]


TWO_SENTENCES = "We will ship release 2.1 on Friday. The login bug is fixed and verified by QA.\n"
INDEX_OF_RECIPES = "# Index of recipes\n\n- recipes/cake.md\n- recipes/soup.md\n"
CASES += [
    *family(
        [
            "Read meeting.txt and write a two-sentence summary of it to meeting-summary.md",
            "Summarize meeting.txt in two sentences into meeting-summary.md",
            "write a 2-sentence summary of meeting.txt to meeting-summary.md",
            "Open meeting.txt, then put a two sentence recap of it in meeting-summary.md",
        ],
        # Its content, not its title line: the two sentences that carry the news.
        Case({"meeting-summary.md": TWO_SENTENCES}),
    ),
    *family(
        [
            "give me the gist of incident.log in incident-summary.txt",
            "Put the key points of incident.log into incident-summary.txt",
            "write a short overview of incident.log to incident-summary.txt",
            "Sum up incident.log in incident-summary.txt",
            "Boil incident.log down into incident-summary.txt",
            "jot down the key points from incident.log in incident-summary.txt",
        ],
        Case(
            {},
            check=lambda s: (
                str(s.get("incident-summary.txt")).startswith("Summary of incident.log\n\n")
                and "4 entries from 2024-05-02 09:14:03 to 2024-05-02 09:20:00"
                in str(s["incident-summary.txt"])
                and "- ERROR db connection refused\n" in str(s["incident-summary.txt"])
            ),
        ),
    ),
    *family(
        [
            "Make a catalog of everything in recipes/ and save it as recipes/README.md",
            "Catalog the recipes folder into recipes/README.md",
            "Put together an inventory of what is in recipes/ and save it to recipes/README.md",
            "write a table of contents for recipes/ to recipes/README.md",
        ],
        Case({"recipes/README.md": INDEX_OF_RECIPES}),
    ),
    *family(
        [
            "Find which files in docs/ mention 'invoice' and write their names to found.txt",
            "list the files in the docs folder that contain invoice, and put their names in "
            "found.txt",
            "Search docs/ for invoice and save the list to found.txt",
            "Write the names of the files in docs/ that mention the word invoice to found.txt",
        ],
        Case({"found.txt": "docs/a.md\ndocs/sub/c.md\n"}),
    ),
    *family(
        [
            "Collect every line with TODO in it from the files in src/ into todos.txt",
            "gather the lines that mention TODO in src into todos.txt",
            "Find all the TODOs in src/ and write them to todos.txt",
            "extract all lines containing 'TODO' from src/ to todos.txt",
            "Grep for TODO in src and put the results in todos.txt",
        ],
        # "TODO" in capitals is the marker; the list named todo is not one.
        Case({"todos.txt": "# TODO fix this\npass  # TODO: test\n"}),
    ),
]


@pytest.mark.parametrize(
    ("task", "starts"),
    [
        ("what's the gist of meeting.txt?", "Summary of meeting.txt (29 words): We will ship"),
        ("Which files in docs mention invoice?", "Of the 3 files in docs, 2 mention 'invoice'"),
        (
            "summarize meeting.txt in one sentence",
            "Summary of meeting.txt (29 words): We will ship release 2.1 on Friday.",
        ),
    ],
)
def test_a_search_or_summary_with_no_file_named_is_answered(
    task: str, starts: str, tmp_path: Path
) -> None:
    seed(tmp_path, SEED)
    before = state(tmp_path)
    t = converse(pure, f"Task: t\n{task}", tmp_path)
    assert state(tmp_path) == before and t.changed == set()
    assert t.text.startswith(starts), t.text
    assert claimed_paths(t.text) == set()


@pytest.mark.parametrize(("task", "case"), CASES, ids=[t for t, _ in CASES])
def test_phrasing_ends_with_the_files_it_asked_for(task: str, case: Case, tmp_path: Path) -> None:
    seed(tmp_path, case.seed)
    t = converse(pure, f"Task: t\n{task}", tmp_path)
    after = state(tmp_path)
    assert t.last["stop_reason"] == "end_turn", t.text
    assert t.errors == [], t.errors
    for path, content in case.expect.items():
        assert path in after, f"{path} missing after {task!r}: {sorted(after)}; {t.text}"
        assert after[path] == content, (path, after[path], t.text)
    for path in case.gone:
        assert path not in after, f"{path} still there after {task!r}"
    if case.check is not None:
        assert case.check(after), (after, t.text)
    assert t.changed and not t.text.startswith("I did not change any files"), t.text
    assert_honest(t)


@pytest.mark.parametrize(
    ("task", "why"),
    [
        ("Fix the typo 'xqzt' in odd.txt", "I could not tell what 'xqzt' should be"),
        ("Fix the typo 'recieve' in letter.txt", "it does not contain the word 'recieve'"),
        ("Replace qux with bar in names.txt", "it does not contain 'qux'"),
        ("Set the timeout to 5 in config.ini", "it has no 'timeout' setting"),
    ],
)
def test_a_change_the_file_does_not_fit_is_reported_not_made(
    task: str, why: str, tmp_path: Path
) -> None:
    seed(tmp_path, {**SEED, "odd.txt": "a xqzt here\n"})
    before = state(tmp_path)
    t = converse(pure, f"Task: t\n{task}", tmp_path)
    assert state(tmp_path) == before and t.changed == set()
    assert t.text.startswith("I did not change any files.") and why in t.text, t.text
    assert claimed_paths(t.text) == set()


def _step(task: str, done: list[tuple[str, str]], tools: list[dict[str, Any]]) -> list[Any]:
    """The calls of the next turn after the (call result) turns in `done`."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": f"Task: t\n{task}"}]
    for n, (name, result) in enumerate(done):
        use = {"type": "tool_use", "id": f"toolu_{n}", "name": name, "input": {}}
        messages += [
            {"role": "assistant", "content": [use]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": result}
                ],
            },
        ]
    body = {"model": MODEL, "max_tokens": 1024, "system": prompts.SUBAGENT_SYSTEM}
    reply = respond({**body, "tools": tools, "messages": messages})
    return [(b["name"], b["input"]) for b in reply["content"] if b["type"] == "tool_use"]


def test_edits_that_must_read_first_use_edit_file_when_offered() -> None:
    tools = [*FILE_TOOLS, *ISSUE16_TOOLS]
    config = SEED["config.ini"]
    task = "In config.ini, change the port from 8080 to 9090"
    assert _step(task, [], tools) == [("read_file", {"path": "config.ini"})]
    # One line changes, so one exact edit: the comment keeps its 8080.
    assert _step(task, [("read_file", config)], tools) == [
        (
            "edit_file",
            {
                "path": "config.ini",
                "old_string": "port=8080",
                "new_string": "port=9090",
                "replace_all": True,
            },
        )
    ]
    letter = SEED["letter.txt"]
    assert _step("Fix the typo 'teh' in letter.txt", [("read_file", letter)], tools) == [
        (
            "edit_file",
            {
                "path": "letter.txt",
                "old_string": "Please find teh report attached.",
                "new_string": "Please find the report attached.",
                "replace_all": True,
            },
        )
    ]
    # Without edit_file the whole new text is written, as a model without it would.
    assert _step(task, [("read_file", config)], FILE_TOOLS) == [
        ("write_file", {"path": "config.ini", "content": config.replace("port=8080", "port=9090")})
    ]


@pytest.mark.parametrize(
    "task",
    [
        "Delete old.log",
        "we need to delete old.log",
        "Delete the tmp folder",
        "Remove every .bak file in backup/",
        "Get rid of status.txt",
    ],
)
def test_a_delete_without_a_delete_tool_says_so_and_changes_nothing(
    task: str, tmp_path: Path
) -> None:
    seed(tmp_path, {**SEED, "old.log": "x\n", "tmp/x": "x", "backup/a.bak": "a"})
    before = state(tmp_path)
    t = converse(pure, f"Task: t\n{task}", tmp_path)
    assert state(tmp_path) == before and t.changed == set()
    # Plainly: it names the missing tool, and promises nothing it did not do.
    assert t.text.startswith("I did not change any files. I could not delete"), t.text
    assert "delete_file" in t.text or "no tool to delete" in t.text, t.text
    assert claimed_paths(t.text) == set()


FIRSTS = list(dict((id(case), (task, case)) for task, case in CASES).values())


@pytest.mark.parametrize("habit", ["multi-tool", "bad-args", "truncate"])
def test_each_family_reaches_the_same_end_state_under_a_recoverable_habit(
    habit: str, tmp_path: Path
) -> None:
    for n, (task, _) in enumerate(FIRSTS):
        plain, habitual = tmp_path / f"{n}-plain", tmp_path / f"{n}-{habit}"
        for root in (plain, habitual):
            seed(root, SEED)
        converse(pure, f"Task: t\n{task}", plain)
        t = converse(pure, f"Task: t\n{task} [sim:habit={habit}]", habitual)
        assert state(habitual) == state(plain), task
        assert t.last["stop_reason"] == "end_turn", (task, t.text)
        assert_honest(t)
