"""Everyday code and data chores, done right and done wrong, judged by the completion check.

Each case is a goal a person types, the workspace before, the workspace the agent left
(written through the sandbox, so it keeps the originals as a real run does), and the
report. Right work must pass and wrong work must not: the wrong runs are the ones a
scripted Anthropic-compatible responder showed ending `completed` (rename in one of two
files, a rewrite that dropped rows, a header put at the bottom, duplicates left), and
the right ones are honest work a real model does that had ended `unverified`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentfleet.contracts.models import Effect, VerifyRequest
from agentfleet.sandbox import DeleteFileArgs, Sandbox, WriteFileArgs
from agentfleet.verification.completion import verify
from agentfleet.verification.intent import expect
from agentfleet.verification.intent.content import column_in_order

AGENT = "master-1.1"
Files = dict[str, str]


def _judge(root: Path, task: str, before: Files, after: Files, report: str) -> tuple[bool, str]:
    """Seed `before`, write what differs in `after` as the agent, and check the work."""
    for path, text in before.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    box = Sandbox(root, run=AGENT)
    effects = [Effect(op="read", path=p) for p in before]
    for path, text in after.items():
        if before.get(path) != text:
            box.write_file(WriteFileArgs(path=path, content=text))
            effects.append(Effect(op="write", path=path))
    req = VerifyRequest(workspace="ws", agent_id=AGENT, task=task, report=report, effects=effects)
    v = verify(root, req)
    return v.passed, v.reason


APP = "cnt = 0\nfor x in xs:\n    cnt += 1\nprint(cnt)\n"
HELPERS = "def bump(cnt):\n    return cnt + 1\n"
DB = "def get_user(i):\n    return USERS[i]\n\n\ndef list_users():\n    return USERS\n"
INVENTORY = "sku,qty\na1,4\nb2,7\n"
MEMBERS = "Ann <ANN@X.COM>\nBob <Bob@Y.org>\n"
README = "# tool\n\n## Usage\nrun it\n\n## Install\npip install tool\n"
EMAILS = "a@x.com\nb@x.com\nb@x.com\nc@x.com\n"
API = "get /a\nget /b DEPRECATED\npost /c\nput /d DEPRECATED\n"
SCORES = "name,score\nann,7\nbob,12\ncid,9\n"
APP_TOP = '"""The app."""\n\nimport os\n\nprint(os.getcwd())\n'
CONTACTS = "name,type,city\nAnn,customer,Oslo\nBo,supplier,Rome\nDyn,supplier,Pune\n"
RUN = "setup()\ndebug_dump()\nmain()\n"
REPORT = "import os\nimport sys\n\nprint(sys.argv)\n"
PACKAGE = (
    '{\n  "name": "app",\n  "version": "1.0.0",\n  "scripts": {"test": "jest"},\n'
    '  "dependencies": {\n    "react": "18",\n    "lodash": "4"\n  }\n}\n'
)


CASES = [
    # A name renamed in every file listed: each use in each file, nothing else.
    (
        "Rename the variable cnt to count in app.py and helpers.py.",
        {"app.py": APP, "helpers.py": HELPERS},
        {"app.py": APP.replace("cnt", "count"), "helpers.py": HELPERS.replace("cnt", "count")},
        "Renamed cnt to count in app.py and helpers.py.",
        True,
    ),
    (
        "Rename the variable cnt to count in app.py and helpers.py.",
        {"app.py": APP, "helpers.py": HELPERS},
        {"app.py": APP.replace("cnt", "count"), "helpers.py": HELPERS},
        "Renamed cnt to count in app.py and helpers.py.",
        False,
    ),
    (
        "Rename get_user to fetch_user in db.py.",
        {"db.py": DB},
        {"db.py": DB.replace("get_user(", "fetch_user(")},
        "Renamed get_user to fetch_user in db.py.",
        True,
    ),
    (
        "Rename get_user to fetch_user in db.py.",
        {"db.py": DB},
        {"db.py": "def fetch_user(i):\n    return USERS[i]\n"},
        "Renamed get_user to fetch_user in db.py.",
        False,
    ),
    (
        "Rename the column qty to quantity in inventory.csv.",
        {"inventory.csv": INVENTORY},
        {"inventory.csv": "sku,quantity\n"},
        "Renamed the column in inventory.csv.",
        False,
    ),
    (
        "Rename the column qty to quantity in inventory.csv.",
        {"inventory.csv": INVENTORY},
        {"inventory.csv": INVENTORY.replace("qty", "quantity")},
        "Renamed the column in inventory.csv.",
        True,
    ),
    # A file people name with no extension is still a file the task changes.
    (
        "Update the copyright year in LICENSE to 2026.",
        {"LICENSE": "Copyright (c) 2025 Ann\n"},
        {"LICENSE": "Copyright (c) 2025 Ann\n"},
        "I updated the copyright year in LICENSE to 2026.",
        False,
    ),
    (
        "Update the copyright year in LICENSE to 2026.",
        {"LICENSE": "Copyright (c) 2025 Ann\n"},
        {"LICENSE": "Copyright (c) 2026 Ann\n"},
        "Updated the year in LICENSE.",
        True,
    ),
    # Work done to a file's own text is done in that file, not in a copy.
    (
        "Lowercase all the email addresses in members.txt.",
        {"members.txt": MEMBERS},
        {"members.txt": MEMBERS, "members_lower.txt": MEMBERS.lower()},
        "Wrote the lowercased list to members_lower.txt.",
        False,
    ),
    (
        "Lowercase all the email addresses in members.txt.",
        {"members.txt": MEMBERS},
        {"members.txt": "Ann <ann@x.com>\nBob <bob@y.org>\n"},
        "Lowercased the addresses in members.txt.",
        True,
    ),
    # A section moved keeps every line; one dropped on the way is lost.
    (
        "Move the install section above the usage section in README.md.",
        {"README.md": README},
        {"README.md": "# tool\n\n## Install\npip install tool\n"},
        "Moved the install section above usage in README.md.",
        False,
    ),
    (
        "Move the install section above the usage section in README.md.",
        {"README.md": README},
        {"README.md": "# tool\n\n## Install\npip install tool\n\n## Usage\nrun it\n"},
        "Moved the install section above usage in README.md.",
        True,
    ),
    # The rule the goal states holds in the file.
    (
        "Remove the duplicate lines from emails.txt.",
        {"emails.txt": EMAILS},
        {"emails.txt": EMAILS.replace("c@x.com\n", "")},
        "Removed the duplicates from emails.txt.",
        False,
    ),
    (
        "Remove the duplicate lines from emails.txt.",
        {"emails.txt": EMAILS},
        {"emails.txt": "a@x.com\nb@x.com\nc@x.com\n"},
        "Removed the duplicates from emails.txt.",
        True,
    ),
    (
        "Delete every line containing DEPRECATED from api.txt.",
        {"api.txt": API},
        {"api.txt": "get /a\npost /c\nput /d DEPRECATED\n"},
        "Deleted the deprecated lines from api.txt.",
        False,
    ),
    (
        "Delete every line containing DEPRECATED from api.txt.",
        {"api.txt": API},
        {"api.txt": "get /a\npost /c\n"},
        "Deleted the deprecated lines from api.txt.",
        True,
    ),
    (
        "Sort scores.csv by the score column, highest first.",
        {"scores.csv": SCORES},
        {"scores.csv": "name,score\nann,7\ncid,9\nbob,12\n"},
        "Sorted scores.csv by score.",
        False,
    ),
    (
        "Sort scores.csv by the score column, highest first.",
        {"scores.csv": SCORES},
        {"scores.csv": "name,score\nbob,12\ncid,9\nann,7\n"},
        "Sorted scores.csv by score, highest first.",
        True,
    ),
    # Text asked at the top is not at the bottom; near the top (after a docstring) is fine.
    (
        "Insert the line import logging at the top of app.py.",
        {"app.py": APP_TOP},
        {"app.py": APP_TOP + "import logging\n"},
        "Inserted import logging at the top of app.py.",
        False,
    ),
    (
        "Insert the line import logging at the top of app.py.",
        {"app.py": APP_TOP},
        {"app.py": APP_TOP.replace("import os\n", "import logging\nimport os\n")},
        "Inserted import logging at the top of app.py.",
        True,
    ),
    # A line commented out is still there, behind its comment marker.
    (
        "Comment out the line in run.py that calls debug_dump().",
        {"run.py": RUN},
        {"run.py": RUN.replace("debug_dump()\n", "")},
        "Commented out the debug_dump() call in run.py.",
        False,
    ),
    (
        "Comment out the line in run.py that calls debug_dump().",
        {"run.py": RUN},
        {"run.py": RUN.replace("debug_dump()", "# debug_dump()")},
        "Commented out the debug_dump() call in run.py.",
        True,
    ),
    (
        "Remove the unused import os from report.py.",
        {"report.py": REPORT},
        {"report.py": REPORT.replace("import sys\n", "")},
        "Removed the unused import from report.py.",
        False,
    ),
    (
        "Remove the unused import os from report.py.",
        {"report.py": REPORT},
        {"report.py": REPORT.replace("import os\n", "")},
        "Removed the unused import from report.py.",
        True,
    ),
    # A JSON file may be laid out anew, but keeps every key the task did not name.
    (
        "Set the version in package.json to 2.0.0.",
        {"package.json": PACKAGE},
        {"package.json": '{"name": "app", "version": "2.0.0"}\n'},
        "Set the version in package.json to 2.0.0.",
        False,
    ),
    (
        "Set the version in package.json to 2.0.0.",
        {"package.json": PACKAGE},
        {"package.json": PACKAGE.replace("1.0.0", "2.0.0").replace("\n  ", "")},
        "Set the version in package.json to 2.0.0.",
        True,
    ),
    (
        'Rename the key "name" to "title" in config.json.',
        {"config.json": '{"name": "svc", "port": 80, "debug": false}'},
        {"config.json": '{"title": "svc"}'},
        "Renamed the key in config.json.",
        False,
    ),
    (
        'Rename the key "name" to "title" in config.json.',
        {"config.json": '{"name": "svc", "port": 80, "debug": false}'},
        {"config.json": '{\n  "title": "svc",\n  "port": 80,\n  "debug": false\n}\n'},
        "Renamed the key in config.json.",
        True,
    ),
    (
        "Remove the unused dependencies from package.json.",
        {"package.json": PACKAGE},
        {"package.json": PACKAGE.replace(',\n    "lodash": "4"', "")},
        "Removed lodash from package.json.",
        True,
    ),
    # A file split into parts: every row lands in one of them, with or without the key.
    (
        "Split contacts.csv into customers.csv and suppliers.csv by the type column.",
        {"contacts.csv": CONTACTS},
        {
            "contacts.csv": CONTACTS,
            "customers.csv": "name,type,city\nAnn,customer,Oslo\n",
            "suppliers.csv": "name,type,city\nBo,supplier,Rome\n",
        },
        "Split contacts.csv into customers.csv and suppliers.csv.",
        False,
    ),
    (
        "Split contacts.csv into customers.csv and suppliers.csv by the type column.",
        {"contacts.csv": CONTACTS},
        {
            "contacts.csv": CONTACTS,
            "customers.csv": "name,city\nAnn,Oslo\n",
            "suppliers.csv": "name,city\nBo,Rome\nDyn,Pune\n",
        },
        "Split contacts.csv into customers.csv and suppliers.csv.",
        True,
    ),
    # A ceiling on words, one word for another given with arrows, a setting given as KEY=VALUE.
    (
        "Rewrite intro.md in a friendlier tone, keep it under 100 words.",
        {"intro.md": "We build tools.\n"},
        {"intro.md": "Hi! " * 120},
        "Rewrote intro.md in a friendlier tone.",
        False,
    ),
    (
        "Rewrite intro.md in a friendlier tone, keep it under 100 words.",
        {"intro.md": "We build tools.\n"},
        {"intro.md": "# Hello\n\nHi there! We make friendly tools.\n"},
        "Rewrote intro.md in a friendlier tone.",
        True,
    ),
    (
        "Fix the typos in story.md: 'teh'\u2192'the' and 'recieve'\u2192'receive'.",
        {"story.md": "I saw teh cat.\nDid you recieve it?\n"},
        {"story.md": "I saw the cat.\nDid you recieve it?\n"},
        "Fixed both typos in story.md.",
        False,
    ),
    (
        "Fix the typos in story.md: 'teh' should be 'the' and 'recieve' should be 'receive'.",
        {"story.md": "I saw teh cat.\nDid you recieve it?\n"},
        {"story.md": "I saw the cat.\nDid you recieve it?\n"},
        "Fixed both typos in story.md.",
        False,
    ),
    (
        "Fix the typos in story.md: 'teh' should be 'the' and 'recieve' should be 'receive'.",
        {"story.md": "I saw teh cat.\nDid you recieve it?\n"},
        {"story.md": "I saw the cat.\nDid you receive it?\n"},
        "Fixed both typos in story.md.",
        True,
    ),
    (
        "Set LOG_LEVEL=debug in .env without touching the other variables.",
        {".env": "PORT=8000\nLOG_LEVEL=info\n"},
        {".env": "PORT=8080\nLOG_LEVEL=debug\n"},
        "Set LOG_LEVEL=debug in .env.",
        False,
    ),
    (
        "Set LOG_LEVEL=debug in .env without touching the other variables.",
        {".env": "PORT=8000\nLOG_LEVEL=info\n"},
        {".env": "PORT=8000\nLOG_LEVEL=debug\n"},
        "Set LOG_LEVEL=debug in .env.",
        True,
    ),
    (
        "Add tmp/ and *.log to .gitignore.",
        {".gitignore": "dist/\n"},
        {".gitignore": "dist/\n*.log\n"},
        "Added tmp/ and *.log to .gitignore.",
        False,
    ),
    (
        "Add tmp/ and *.log to .gitignore.",
        {".gitignore": "dist/\n"},
        {".gitignore": "dist/\ntmp/\n*.log\n"},
        "Added tmp/ and *.log to .gitignore.",
        True,
    ),
    (
        "Flatten the nested folders in downloads/.",
        {"downloads/a/x.pdf": "x", "downloads/a/b/y.pdf": "y"},
        {"downloads/a/x.pdf": "x", "downloads/a/b/y.pdf": "y", "downloads/x.pdf": "x"},
        "Flattened downloads/.",
        False,
    ),
    # Honest work that had ended `unverified`.
    (
        "Add type hints to the area function in geometry.py.",
        {"geometry.py": "def area(r):\n    return 3.14 * r * r\n\nUNIT = 'cm'\n"},
        {"geometry.py": "def area(r: float) -> float:\n    return 3.14 * r * r\n\nUNIT = 'cm'\n"},
        "Added type hints to area in geometry.py.",
        True,
    ),
    (
        "Write a unit test file tests/test_mathutils.py for the add function in mathutils.py.",
        {"mathutils.py": "def add(a, b):\n    return a + b\n"},
        {
            "mathutils.py": "def add(a, b):\n    return a + b\n",
            "tests/test_mathutils.py": "from mathutils import add\n\n\ndef test_add():\n"
            "    assert add(1, 2) == 3\n",
        },
        "Wrote tests/test_mathutils.py with a test for add.",
        True,
    ),
    (
        "Add node_modules/ to .gitignore.",
        {".gitignore": "dist/\n"},
        {".gitignore": "dist/\nnode_modules/\n"},
        "Added node_modules/ to .gitignore.",
        True,
    ),
    (
        "Bump pyproject version\nIn pyproject.toml change version 1.4.2 to 1.5.0.",
        {"pyproject.toml": '[project]\nname = "widget"\nversion = "1.4.2"\n'},
        {"pyproject.toml": '[project]\nname = "widget"\nversion = "1.5.0"\n'},
        "Changed the version in pyproject.toml to 1.5.0.",
        True,
    ),
]


@pytest.mark.parametrize(("task", "before", "after", "report", "passed"), CASES)
def test_code_and_data_chores_are_judged_by_what_the_files_show(
    tmp_path: Path, task: str, before: Files, after: Files, report: str, *, passed: bool
) -> None:
    ok, reason = _judge(tmp_path, task, before, after, report)
    assert ok is passed, reason or "passed"


def test_a_file_in_each_subfolder_is_work_under_that_folder(tmp_path: Path) -> None:
    task = "Create an empty __init__.py in each subfolder of pkg/."
    before = {"pkg/a/m.py": "", "pkg/b/n.py": ""}
    done = {"pkg/a/__init__.py": "", "pkg/b/__init__.py": ""}
    ok, reason = _judge(tmp_path / "done", task, before, {**before, **done}, "Created both.")
    assert ok, reason
    ok, reason = _judge(tmp_path / "not", task, before, before, "Created both.")
    assert not ok
    assert "pkg/" in reason


def test_a_folder_the_report_says_stays_is_not_claimed(tmp_path: Path) -> None:
    task = "Delete the empty folders inside build/."
    (tmp_path / "build" / "out").mkdir(parents=True)
    (tmp_path / "build" / "out" / "a.o").write_text("x")
    (tmp_path / "build" / "tmp").mkdir()
    req = VerifyRequest(
        workspace="ws",
        agent_id=AGENT,
        task=task,
        report="Deleted build/tmp; build/out (with a.o) stays.",
        effects=[Effect(op="list", path="build"), Effect(op="delete", path="build/tmp")],
    )
    (tmp_path / "build" / "tmp").rmdir()
    v = verify(tmp_path, req)
    assert v.passed, v.reason


def test_a_file_asked_in_each_subfolder_is_in_every_one(tmp_path: Path) -> None:
    task = "Create an empty __init__.py in each subfolder of pkg/."
    before = {"pkg/a/m.py": "", "pkg/b/n.py": "", "pkg/c/o.py": ""}
    some = {"pkg/a/__init__.py": "", "pkg/b/__init__.py": ""}
    ok, reason = _judge(tmp_path, task, before, {**before, **some}, "Created them.")
    assert not ok
    assert "pkg/c/" in reason


def test_files_renamed_to_another_extension_leave_none_of_the_old(tmp_path: Path) -> None:
    task = "Rename every .jpeg in photos/ to .jpg"
    (tmp_path / "photos").mkdir()
    for name in ("a.jpeg", "b.jpeg"):
        (tmp_path / "photos" / name).write_text("x")
    (tmp_path / "photos" / "a.jpeg").rename(tmp_path / "photos" / "a.jpg")
    moved = [Effect(op="move", path="photos/a.jpg", src="photos/a.jpeg")]
    req = VerifyRequest(workspace="ws", agent_id=AGENT, task=task, report="Renamed.", effects=moved)
    v = verify(tmp_path, req)
    assert not v.passed
    assert "photos/b.jpeg" in v.reason


@pytest.mark.parametrize(
    ("task", "effects", "passed"),
    [
        # A listing gives names: no size, no total.
        ("Which file in data/ is the largest?", [("list", "data")], False),
        ("Which file in data/ is the largest?", [("list", "data"), ("read", "data/b.json")], True),
        ("What is the total of the amount column in costs.csv?", [("list", ".")], False),
        ("What is the total of the amount column in costs.csv?", [("read", "costs.csv")], True),
        # Names are what a listing is for.
        ("How many files are in data/?", [("list", "data")], True),
    ],
)
def test_a_question_of_sizes_or_totals_owes_a_look_inside(
    tmp_path: Path, task: str, effects: list[tuple[str, str]], *, passed: bool
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "b.json").write_text("{}" * 50)
    (tmp_path / "costs.csv").write_text("amount\n1\n2\n")
    journal = [Effect(op=op, path=p) for op, p in effects]  # type: ignore[arg-type]
    req = VerifyRequest(
        workspace="ws", agent_id=AGENT, task=task, report="It is 3.", effects=journal
    )
    assert verify(tmp_path, req).passed is passed


@pytest.mark.parametrize(
    ("deleted", "passed"), [(["tmp/a.log"], True), (["tmp/a.log", "tmp/b.log"], False)]
)
def test_deleting_the_empty_files_deletes_only_empty_ones(
    tmp_path: Path, deleted: list[str], *, passed: bool
) -> None:
    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp" / "a.log").write_text("")
    (tmp_path / "tmp" / "b.log").write_text("kept: it has lines\n")
    box = Sandbox(tmp_path, run=AGENT)
    for path in deleted:
        box.delete_file(DeleteFileArgs(path=path))
    effects = [Effect(op="list", path="tmp"), *(Effect(op="delete", path=p) for p in deleted)]
    task = "Delete the empty files in tmp/"
    req = VerifyRequest(workspace="ws", agent_id=AGENT, task=task, report="Done.", effects=effects)
    v = verify(tmp_path, req)
    assert v.passed is passed, v.reason
    if not passed:
        assert "tmp/b.log was deleted but was not empty" in v.reason


@pytest.mark.parametrize(
    ("copied", "passed"), [(["app.ini", "nested/cache.yml"], True), (["app.ini"], False)]
)
def test_a_folder_copied_whole_has_a_copy_of_every_file(
    tmp_path: Path, copied: list[str], *, passed: bool
) -> None:
    before = {"config/app.ini": "a=1\n", "config/nested/cache.yml": "ttl: 5\n"}
    after = {**before, **{f"config.bak/{p}": before[f"config/{p}"] for p in copied}}
    task = "Make a backup copy of every file in config/ under config.bak/, keeping the folders."
    ok, reason = _judge(tmp_path, task, before, after, "Copied app.ini and nested/cache.yml.")
    assert ok is passed, reason
    if not passed:
        assert "config.bak/ has no copy of config/nested/cache.yml" in reason


def test_deleting_the_empty_folders_deletes_only_empty_ones(tmp_path: Path) -> None:
    for d in ("build/tmp", "build/cache", "build/out"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "build" / "out" / "a.o").write_text("x")
    task = "Delete the empty folders inside build/."
    box = Sandbox(tmp_path, run=AGENT)
    for path in ("build/tmp", "build/cache"):
        box.delete_file(DeleteFileArgs(path=path))
    done = [Effect(op="delete", path=p) for p in ("build/tmp", "build/cache")]
    req = VerifyRequest(workspace="ws", agent_id=AGENT, task=task, report="Done.", effects=done)
    assert verify(tmp_path, req).passed
    box.delete_file(DeleteFileArgs(path="build/out"))
    req.effects.append(Effect(op="delete", path="build/out"))
    v = verify(tmp_path, req)
    assert not v.passed
    assert "build/out was deleted but was not empty" in v.reason


def test_a_file_linked_to_is_not_where_the_work_lands() -> None:
    exp = expect(
        "Compute the total in expenses.csv, convert the bullet list in summary.md into a "
        "numbered list, and add a link to expenses.csv at the end of summary.md."
    )
    assert exp.outputs == []
    assert exp.modified == ["summary.md"]


@pytest.mark.parametrize(
    ("table", "spec", "ordered"),
    [
        # Amounts are numbers: "$1,200" comes after "$900", and "1200" before "900" is not.
        ('name,amount\na,$900\nb,"$1,200"\n', "amount asc", True),
        ("name,amount\na,$1200\nb,$900\n", "amount asc", False),
        ("name,score\nbob,12\ncid,9\nann,7\n", "score desc", True),
        # Which part of 03/01/2024 is the day is not for the check to guess.
        ("day,x\n03/01/2024,1\n01/02/2024,2\n", "day asc", True),
        # No such column: not judged.
        ("name,score\nann,7\nbob,3\n", "age asc", True),
    ],
)
def test_a_table_is_in_its_columns_order(table: str, spec: str, *, ordered: bool) -> None:
    assert column_in_order(table, spec) is ordered


def test_tool_made_folders_need_no_file_of_their_own(tmp_path: Path) -> None:
    task = "Create an empty __init__.py in each subfolder of pkg/."
    before = {"pkg/a/m.py": "", "pkg/__pycache__/m.pyc": "", "pkg/.hidden/x": ""}
    ok, reason = _judge(tmp_path, task, before, {**before, "pkg/a/__init__.py": ""}, "Done.")
    assert ok, reason


def test_a_folder_added_to_a_file_may_be_written_without_its_slash(tmp_path: Path) -> None:
    task = "Add src/ to the PYTHONPATH line in .env"
    before = {".env": "PYTHONPATH=lib\n"}
    ok, reason = _judge(tmp_path, task, before, {".env": "PYTHONPATH=lib:./src\n"}, "Done.")
    assert ok, reason


@pytest.mark.parametrize(
    "question",
    [
        "How do I copy all the files in config/ into backup/?",
        "How would I create an empty __init__.py in each subfolder of pkg/?",
        "Should I rename every .jpeg in photos/ to .jpg?",
        "How do I delete all the .tmp files in config/?",
    ],
)
def test_a_question_about_file_work_asks_for_none_of_it(tmp_path: Path, question: str) -> None:
    for path in ("config/a.tmp", "pkg/a/m.py", "photos/x.jpeg"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    answer = "Use a loop over the files; here is how."
    req = VerifyRequest(workspace="ws", agent_id=AGENT, task=question, report=answer, effects=[])
    v = verify(tmp_path, req)
    assert v.passed and v.mode == "answer_only", v.reason
