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

import pytest

from tests.test_sim_workspace import assert_honest, converse, pure, seed, state

SEED = {
    "app.log": "09:14 ERROR db timeout\n",
    "db.log": "09:15 WARN slow query\n",
    "keep.txt": "keep me\n",
    "status.txt": "degraded since 09:14\n",
    "guests.txt": "Ana\nBo\n",
    "old.txt": "first draft\n",
    "logs/": "",
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
