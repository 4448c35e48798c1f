"""The completion check: what a task asks for, and whether the workspace shows it.

Pure tests on real temporary workspaces: the check reads the disk, the
journal is the list of effects the sandbox reported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agentfleet.contracts.models import Effect, Subtask, VerifyRequest
from agentfleet.delegation.prompts import subagent_task
from agentfleet.verification.completion import task_wording, verify
from agentfleet.verification.intent import claimed_changes, expect


@pytest.mark.parametrize(
    ("text", "outputs", "modified", "removed"),
    [
        ("Append 'done' to log.txt", [], ["log.txt"], []),
        ("Fix the typo in README.md", [], ["README.md"], []),
        ("Add Carol to the guest list in guests.txt", [], ["guests.txt"], []),
        ("In config.ini, change the port from 8080 to 9090", [], ["config.ini"], []),
        ("Replace whatever is in status.txt with: all systems go", [], ["status.txt"], []),
        (
            "Rename old.txt to notes.txt and append the word reviewed to it",
            [],
            ["notes.txt"],
            ["old.txt"],
        ),
        # Work on a file's own text: nothing else is named for it to land in.
        ("Refactor main.py to use pathlib", [], ["main.py"], []),
        ("Rename the function foo to bar in main.py", [], ["main.py"], []),
        ("Rename the variable x to count in calc.py", [], ["calc.py"], []),
        ("Comment out the print statements in app.py", [], ["app.py"], []),
        ("Empty log.txt", [], ["log.txt"], []),
        ("Trim the log.txt file to its last 100 lines", [], ["log.txt"], []),
        ("Move the last paragraph of essay.md to the top", [], ["essay.md"], []),
        ("Convert the dates in log.csv to ISO 8601", [], ["log.csv"], []),
        # Another file named after it is where the work lands.
        ("Convert the table in report.md to CSV in report.csv", ["report.csv"], [], []),
        ("Turn todo.txt into a markdown checklist in todo.md", ["todo.md"], [], []),
        ("Fill in the missing values in data.csv with 0", [], ["data.csv"], []),
        ("Remove the trailing commas from data.json", [], ["data.json"], []),
        ("Keep only the first 10 lines of big.txt", [], ["big.txt"], []),
        # The one in that folder goes, not one at the root.
        ("Remove notes.txt from docs/", [], [], ["docs/notes.txt"]),
        ("Turn list.txt into a numbered list", [], ["list.txt"], []),
        ("Get rid of the blank lines in poem.txt", [], ["poem.txt"], []),
        ("Lowercase config.ini", [], ["config.ini"], []),
        # A link is not a path.
        (
            "Add a link to https://example.com/docs.html at the end of README.md",
            [],
            ["README.md"],
            [],
        ),
        ("Copy report.txt into a backup folder", ["backup/report.txt"], [], []),
        ("Delete a.txt and b.txt from tmp/", [], [], ["tmp/a.txt", "tmp/b.txt"]),
    ],
)
def test_files_changed_in_place_are_read_from_the_wording(
    text: str, outputs: list[str], modified: list[str], removed: list[str]
) -> None:
    exp = expect(text)
    assert (exp.outputs, exp.modified, exp.removed) == (outputs, modified, removed)


@pytest.mark.parametrize(
    ("text", "outputs", "touched"),
    [
        ("Create an empty file called .gitkeep inside logs/", ["logs/.gitkeep"], []),
        ("I need a script called backup.sh that copies docs/ to backup/", ["backup.sh"], []),
        ("Can you put a .gitignore in the repo root?", [".gitignore"], []),
        ("Put a README.md in docs/", ["docs/README.md"], []),
        ("Create folders jan and feb, and put a README.md in each", ["jan/", "feb/"], []),
        ("Log today's tasks in journal.md", ["journal.md"], []),
        ("Note the meeting time (3pm) in calendar.txt", ["calendar.txt"], []),
        ("Scaffold a Flask app in webapp/", ["webapp/"], []),
        # Work on the files of a folder: something in it must change.
        ("Change every instance of 'TODO' to 'DONE' across notes/", [], ["notes/"]),
        ("Prefix every file in invoices/ with 2024-", [], ["invoices/"]),
        ("Update all the links in site/ from http to https", [], ["site/"]),
        ("Strip trailing whitespace from all .py files in src/", [], ["src/"]),
        ("Get rid of the temp files in build/", [], ["build/"]),
        ("Clean the build directory", [], ["build/"]),
        ("Declutter the desktop folder", [], ["desktop/"]),
        ("Empty out old_stuff/", [], ["old_stuff/"]),
        # Which folder, not a folder's name.
        (
            "Create folders images and docs and move each file into the right one",
            ["images/", "docs/"],
            [],
        ),
        ("Clean up the empty folders", [], []),
        ("Set up three folders: src, tests and docs", ["src/", "tests/", "docs/"], []),
        ("i need a new directory named drafts", ["drafts/"], []),
        ("Move every .log file in the top folder into logs/", ["logs/"], ["logs/"]),
        (
            "Move all the .txt files in drop/ into a new folder text/, then write text/INDEX.md",
            ["text/", "text/INDEX.md"],
            ["text/"],
        ),
        ("Remove every .bak file in backup/", [], ["backup/"]),
        ("give me the gist of incident.log in incident-summary.txt", ["incident-summary.txt"], []),
        (
            "Make a catalog of everything in recipes/ and save it as recipes/README.md",
            ["recipes/README.md"],
            [],
        ),
        # A file wished for or added by its own name is made.
        ("I need a CHANGELOG.md with a single entry for version 1.0.0", ["CHANGELOG.md"], []),
        ("Add a .gitignore that ignores node_modules and .env", [".gitignore"], []),
        # What the result becomes, or where it comes from, then the file it goes in.
        ("Convert prices.csv into a markdown table in prices.md", ["prices.md"], []),
        ("Turn todo.txt into a markdown checklist in todo.md", ["todo.md"], []),
        ("Summarize notes.md in summary.md", ["summary.md"], []),
        (
            "Summarize the three files in reports/ into one paragraph in summary.md",
            ["summary.md"],
            [],
        ),
        (
            "Write a limerick to limerick.txt, then translate it into French in limerick_fr.txt",
            ["limerick.txt", "limerick_fr.txt"],
            [],
        ),
        ("Create a markdown file with a table of the planets in planets.md", ["planets.md"], []),
        # Each file of a list whose items say what they hold.
        (
            "Create a.txt with hi and b.txt with bye and c.txt with ok",
            ["a.txt", "b.txt", "c.txt"],
            [],
        ),
        # A sentence's full stop does not turn the folder into a file.
        (
            "Step 1: create build/. Step 2: copy app.py into build/. Step 3: write OK to"
            " build/log.txt.",
            ["build/", "build/log.txt", "build/app.py"],
            [],
        ),
        # "per" and "for each" say how many folders, not what one is called.
        ("Create a folder per customer in clients/", [], ["clients/"]),
        ("Make a folder for each month of 2026 under archive/", [], ["archive/"]),
    ],
)
def test_casual_and_counted_phrasings(text: str, outputs: list[str], touched: list[str]) -> None:
    exp = expect(text)
    assert (exp.outputs, exp.touched) == (outputs, touched)
    assert exp.effects_required


@pytest.mark.parametrize(
    ("text", "outputs", "removed", "touched"),
    [
        ("Create an empty folder called archive", ["archive/"], [], []),
        ("Write hello into a.txt", ["a.txt"], [], []),
        ("Create folder x and move a.txt into it", ["x/", "x/a.txt"], ["a.txt"], []),
        ("Write a haiku about durable workflows into poem.txt", ["poem.txt"], [], []),
        ("Write the number 4 into n4.txt", ["n4.txt"], [], []),
        ("Create notes/todo.md containing buy milk", ["notes/todo.md"], [], []),
        ("Summarize notes/meeting.txt into notes/SUMMARY.md", ["notes/SUMMARY.md"], [], []),
        ("Write an index of docs/ to docs/INDEX.md", ["docs/INDEX.md"], [], []),
        ("Rename report.txt to final.txt", ["final.txt"], ["report.txt"], []),
        ("Delete the file tmp/old.log", [], ["tmp/old.log"], []),
        ("Copy a.txt to backup/", ["backup/a.txt"], [], []),
        ("Create folders a, b and c", ["a/", "b/", "c/"], [], []),
        (
            "Create an archive folder and move old.txt there",
            ["archive/", "archive/old.txt"],
            ["old.txt"],
            [],
        ),
        ("Sort the files in inbox/ by type", [], [], ["inbox/"]),
        (
            "file the papers in inbox/ by topic, then write papers/INDEX.md listing them",
            ["papers/INDEX.md"],
            [],
            ["inbox/"],
        ),
        ("Compress the files in logs/ into logs.zip", ["logs.zip"], [], []),
        ("Convert notes.md to notes.html", ["notes.html"], [], []),
        # Quoted content is what goes into the file, not where it goes.
        ("Write 'meet me at 5 into town' to msg.txt", ["msg.txt"], [], []),
    ],
)
def test_outputs_are_read_from_the_wording(
    text: str, outputs: list[str], removed: list[str], touched: list[str]
) -> None:
    exp = expect(text)
    assert (exp.outputs, exp.removed, exp.touched) == (outputs, removed, touched)
    assert exp.effects_required


@pytest.mark.parametrize(
    ("text", "outputs", "modified", "removed", "touched"),
    [
        # A name after a few words saying what the file is.
        ("Write a Python script fizzbuzz.py that prints 1 to 100", ["fizzbuzz.py"], [], [], []),
        ("Generate a CSV file people.csv with 3 rows", ["people.csv"], [], [], []),
        ("Create an empty file named .gitignore", [".gitignore"], [], [], []),
        ("Create three files: a.txt, b.txt and c.txt", ["a.txt", "b.txt", "c.txt"], [], [], []),
        # Where a named file goes, said after it.
        ("Create notes.txt in docs/", ["docs/notes.txt"], [], [], []),
        ("Create a file called notes.txt inside the logs folder", ["logs/notes.txt"], [], [], []),
        # Copies named apart from their original, which stays.
        ("Duplicate template.txt as letter.txt", ["letter.txt"], [], [], []),
        (
            "Make a backup copy of config.yaml named config.yaml.bak",
            ["config.yaml.bak"],
            [],
            [],
            [],
        ),
        ("Make a copy of notes.md in backup/", ["backup/notes.md"], [], [], []),
        ("Convert data.csv to JSON in data.json", ["data.json"], [], [], []),
        # Content reworked in place.
        ("Add a line 'done' at the end of todo.txt", [], ["todo.txt"], [], []),
        ("Sort the lines of names.txt alphabetically", [], ["names.txt"], [], []),
        ("Remove duplicate lines from emails.txt", [], ["emails.txt"], [], []),
        ("Sort the lines of names.txt into sorted.txt", ["sorted.txt"], [], [], []),
        # Folders named as people name them.
        ("Rename the folder tmp to scratch", ["scratch/"], [], ["tmp"], []),
        ("Organize inbox/ into subfolders by extension", [], [], [], ["inbox/"]),
        ("Organize my photos folder by year", [], [], [], ["photos/"]),
        ("Move every pdf in downloads/ to pdfs/", ["pdfs/"], [], [], ["pdfs/"]),
        # Lists of sources, each one moved or removed.
        (
            "Move a.txt and b.txt into archive/",
            ["archive/a.txt", "archive/b.txt"],
            [],
            ["a.txt", "b.txt"],
            [],
        ),
        ("Delete a.txt, b.txt and c.txt", [], [], ["a.txt", "b.txt", "c.txt"], []),
        ("Change the extension of notes.txt to .md", ["notes.md"], [], ["notes.txt"], []),
        ("Create the directory structure a/b/c", ["a/b/c/"], [], [], []),
        ("Make an empty notes folder", ["notes/"], [], [], []),
        # Folders emptied or reworked: something in them must change.
        ("Empty the trash folder", [], [], [], ["trash/"]),
        ("Delete everything in tmp/", [], [], [], ["tmp/"]),
        ("Copy everything in src/ to backup/", ["backup/"], [], [], ["backup/"]),
        ("Rename all .jpeg files in photos/ to .jpg", [], [], [], ["photos/"]),
        # Files changed in place, however the change is put.
        ("Update README.md to mention the new flag", [], ["README.md"], [], []),
        ("Overwrite status.txt with OK", [], ["status.txt"], [], []),
        ("Replace the contents of a.txt with hello", [], ["a.txt"], [], []),
        ("Change 'color' to 'colour' throughout essay.md", [], ["essay.md"], [], []),
        ("Prepend '# Title' to doc.md", [], ["doc.md"], [], []),
        ("Uppercase everything in loud.txt", [], ["loud.txt"], [], []),
        ("Jot down a reminder to call mom in reminders.txt", ["reminders.txt"], [], [], []),
        # Everyday verbs, dotfiles, names with spaces in quotes, folders by their slash.
        ("Get rid of temp.txt", [], [], ["temp.txt"], []),
        ("Throw away old.log", [], [], ["old.log"], []),
        ("Nuke the build folder", [], [], ["build"], []),
        ("I'd like a file named plan.md with three bullet points", ["plan.md"], [], [], []),
        ("Add 'export PATH=$HOME/bin:$PATH' to .bashrc", [], [".bashrc"], [], []),
        ('Write "hello world" to "my notes.txt"', ["my notes.txt"], [], [], []),
        # Quoted words after the verb, or a sentence, are content, not a name.
        ('Write "see notes.txt" into a.txt', ["a.txt"], [], [], []),
        ('Write "Meeting moved to Mon.Tue" into a.txt', ["a.txt"], [], [], []),
        ("Make backup/ and copy config.yaml there", ["backup/", "backup/config.yaml"], [], [], []),
        ("Create the out/ directory.", ["out/"], [], [], []),
        # A sentence's full stop is not part of a name.
        ("Create an empty directory named archive.", ["archive/"], [], [], []),
        ("Move all .jpg files from inbox/ into photos/.", ["photos/"], [], [], ["photos/"]),
        # From the task catalog (tests/data/tasks.jsonl).
        ("Fix the typo in the main heading of README.md.", [], ["README.md"], [], []),
        ("Lowercase all column headers in data/sales.csv.", [], ["data/sales.csv"], [], []),
        (
            "Flatten the nested folders under photos/2023/ into one folder",
            [],
            [],
            [],
            ["photos/2023/"],
        ),
        (
            "Review auth/login.py for security problems and write the findings to review.md.",
            ["review.md"],
            [],
            [],
            [],
        ),
        # Work saved under another name leaves its source as it was.
        (
            "Replace every tab with a comma in export.txt and save the result as export.csv.",
            ["export.csv"],
            [],
            [],
            [],
        ),
        ("Set debug to true in config.yaml", [], ["config.yaml"], [], []),
        ("Swap the first and last lines of list.txt", [], ["list.txt"], [], []),
        ("Move *.txt into text/", ["text/"], [], [], ["text/"]),
        # "into folders by type" names no folder; the one they leave must change.
        ("Move all the files in inbox/ into folders by type", [], [], [], ["inbox/"]),
        ("Move every .txt file into a folder named text", ["text/"], [], [], ["text/"]),
        ("Put the pdfs from inbox/ into pdfs/", ["pdfs/"], [], [], ["pdfs/"]),
        (
            "Archive the old reports into archive/2023/",
            ["archive/2023/"],
            [],
            [],
            ["archive/2023/"],
        ),
        (
            "Find every file that mentions 'invoice' and copy them into invoices/",
            ["invoices/"],
            [],
            [],
            ["invoices/"],
        ),
        # Named after what they hold, or by a writing verb.
        (
            "Write a short story in three parts: part1.txt, part2.txt and part3.txt",
            ["part1.txt", "part2.txt", "part3.txt"],
            [],
            [],
            [],
        ),
        ("Draft an email to the team in email.txt", ["email.txt"], [], [], []),
        ("Generate a changelog in CHANGELOG.md from commits.txt", ["CHANGELOG.md"], [], [], []),
        ("Combine the .txt files in notes/ into one file all.txt", ["all.txt"], [], [], []),
        (
            "Create folders jan, feb and mar, and put a README.md in each",
            ["jan/", "feb/", "mar/"],
            [],
            [],
            [],
        ),
        (
            "Backup config.yaml to config.yaml.bak and then set port to 9090 in config.yaml",
            ["config.yaml.bak"],
            ["config.yaml"],
            [],
            [],
        ),
    ],
)
def test_phrasings_that_name_a_file_by_what_it_is_or_where_it_goes(
    text: str, outputs: list[str], modified: list[str], removed: list[str], touched: list[str]
) -> None:
    exp = expect(text)
    assert (exp.outputs, exp.modified, exp.removed, exp.touched) == (
        outputs,
        modified,
        removed,
        touched,
    )
    assert exp.effects_required


@pytest.mark.parametrize(
    "text",
    [
        "Split big.txt into parts of 100 lines each",
        "Write a haiku and save it",
        "Make a README for this project",
        "Set up a Python project skeleton with src/ and tests/ folders",
        "Back up the docs folder to docs-backup/",
        "Move report.txt up one level",
        # The file is what the tests are for, not (surely) where they go.
        "Write unit tests for the parse_date function in utils/dates.py",
        "Refactor the data access code across the repository",
        "Audit the finance/ folder for misfiled documents and move each one to the right place",
    ],
)
def test_a_change_with_no_output_named_is_still_asked_for(text: str) -> None:
    exp = expect(text)
    assert exp.effects_required
    assert exp.outputs == []


@pytest.mark.parametrize(
    "text",
    [
        "What is a durable workflow?",
        "Write a haiku about Temporal",
        "Explain what inbox/ is for",
        "Summarize notes.md",
        "List the files in docs/",
        "Read notes.md and tell me what it says, without changing anything",
        "Look into notes.md and tell me what is wrong",
        "Compare a.txt to b.txt",
        "Validate that every part of the goal was done: Write hello into a.txt",
        "Plan how to approach: Create folder x and move a.txt into it",
        # A source, not an output: answered in text unless a file is named for it.
        "Write a summary of report.txt",
        "Generate a report from data.csv",
        "Make sure a.txt exists",
        # "a .csv" is a kind of file, not a dotfile's name.
        "Generate a .csv of the first ten squares",
        "Read README.md",
        "Show me todo.txt",
        "Tell me what is in notes.txt",
        # One question asks how, even when it names a change.
        "How do I sort the lines of names.txt?",
        "What would happen if I append a line to log.txt?",
        # Advice about a change, or a look, is not the change.
        "Explain how to refactor main.py",
        "Suggest a refactor of main.py",
        "Lint app.py and tell me the issues",
        "Comment on the code in main.py",
        "Check the log in app.log for errors",
        "Show me what to change in src/",
    ],
)
def test_questions_and_answers_ask_for_no_file_change(text: str) -> None:
    exp = expect(text)
    assert not exp.asks_for_files, exp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sort the files by type", True),
        ("Delete the duplicates in this folder", True),
        ("Create a new folder", True),
        ("Sort this list: 3, 1, 2", False),
        ("Add tests for utils.py", True),
        ("Organise my downloads", True),
        ("Delete all the .tmp files", True),
        ("Rename every .jpeg file to .jpg", True),
        ("Combine a.csv and b.csv", True),
    ],
)
def test_a_chore_without_a_named_path_still_asks_for_a_change(text: str, expected: bool) -> None:
    assert expect(text).effects_required is expected


def test_claims_come_from_sentences_that_say_something_was_done() -> None:
    assert claimed_changes("Done. I created archive/ and moved a.txt into it.") == [
        "archive/",
        "a.txt",
    ]
    assert claimed_changes("I did not touch config.yaml. I wrote `poem.txt` with a haiku.") == [
        "poem.txt"
    ]
    assert claimed_changes("The release is v1.2; see https://example.com/a.md for more.") == []
    assert claimed_changes("I could not move a.txt: it does not exist.") == []
    assert claimed_changes("I fixed the typo in letter.txt and converted data.csv.") == [
        "letter.txt",
        "data.csv",
    ]
    assert claimed_changes("Nothing changed in config.yaml.") == []


@pytest.mark.parametrize(
    ("report", "claimed"),
    [
        # Back-ticked keys and values are not paths.
        ("I've updated settings.ini: `debug` is now `false`.", ["settings.ini"]),
        ("- `status.txt`: appended `reviewed`", []),
        # A sentence may begin with a lower-case file name.
        ("Deleted `a.tmp` and `b.tmp`. keep.txt was left alone.", ["a.tmp", "b.tmp"]),
    ],
)
def test_only_paths_are_claimed(report: str, claimed: list[str]) -> None:
    assert claimed_changes(report) == claimed


def test_a_claimed_bare_name_is_the_file_of_that_name_the_journal_moved(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_text("x")
    effects = [Effect(op="move", path="photos/cat.jpg", src="inbox/cat.jpg")]
    report = "Moved 1 file: cat.jpg is now in photos/."
    assert verify(
        tmp_path, _req("Move the pictures in inbox/ into photos/", effects, report)
    ).passed


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        (
            "Create todo.txt with 'buy milk' and 'walk dog' on separate lines",
            [("todo.txt", "buy milk"), ("todo.txt", "walk dog")],
        ),
        (
            "Make a file named shopping.txt with milk, eggs and bread on separate lines",
            [("shopping.txt", "milk"), ("shopping.txt", "eggs"), ("shopping.txt", "bread")],
        ),
        (
            "Put the numbers 1 to 5 in numbers.txt, one per line",
            [("numbers.txt", str(n)) for n in range(1, 6)],
        ),
        # A count of items, or numbers not asked one per line, give no lines.
        ("Make a file named list.txt with three items on separate lines", []),
        ("Write the numbers 1 to 10 into numbers.txt", []),
    ],
)
def test_items_on_separate_lines_are_each_a_line(text: str, lines: list[tuple[str, str]]) -> None:
    assert expect(text).lines == lines


def test_a_checklist_item_is_a_line_of_its_own(tmp_path: Path) -> None:
    (tmp_path / "packing.md").write_text("- [ ] passport\n- [x] charger\n[ ] socks\n")
    effects = [Effect(op="write", path="packing.md")]
    task = "Write these items to packing.md, one per line: passport, charger, socks"
    assert verify(tmp_path, _req(task, effects, "Wrote packing.md.")).passed


@pytest.mark.parametrize(
    ("report", "claimed"),
    [
        # What a change lists, links to or was made from is not what it changed.
        ("I created INDEX.md listing the 3 files: a.pdf, b.txt and c.png.", ["INDEX.md"]),
        ("I wrote a summary of notes.md to summary.md.", ["summary.md"]),
        ("I updated README.md to link to docs/setup.md.", ["README.md"]),
        # A part with a verb of its own says something else; one without names the thing.
        ("Moved a.txt into archive/ (b.txt was left alone).", ["a.txt", "archive/"]),
        ("I have written the report (report.md).", ["report.md"]),
        ("I created the following files: a.txt, b.txt.", ["a.txt", "b.txt"]),
        ("I copied report.pdf to backup/report.pdf", ["report.pdf", "backup/report.pdf"]),
    ],
)
def test_a_claim_is_what_the_change_acts_on(report: str, claimed: list[str]) -> None:
    assert claimed_changes(report) == claimed


def test_the_task_wording_leaves_out_context() -> None:
    task = subagent_task(
        Subtask(title="Index", description="Write papers/INDEX.md", files=["papers/a.md"]),
        [("File the papers", "completed", "Moved inbox/x.pdf to papers/x.pdf")],
    )
    wording = task_wording(task)
    assert "papers/INDEX.md" in wording
    assert "inbox/x.pdf" not in wording and "papers/a.md" not in wording


def test_a_goal_that_is_its_own_title_and_description_is_read_once() -> None:
    """A trivial goal runs inline as title and description both: still one question."""
    question = "Which of a.txt and b.txt is bigger?"
    wording = task_wording(subagent_task(Subtask(title=question, description=question)))
    assert wording == question
    assert expect(wording).sources == ["a.txt", "b.txt"]


def _req(task: str, effects: list[Effect], report: str = "", **kw: object) -> VerifyRequest:
    return VerifyRequest(workspace="ws", task=task, effects=effects, report=report, **kw)  # type: ignore[arg-type]


def test_a_claim_with_no_tool_call_fails(tmp_path: Path) -> None:
    v = verify(
        tmp_path, _req("Create an empty folder called archive", [], "Done, I created archive/.")
    )
    assert not v.passed and v.mode == "files"
    assert v.missing == ["archive/"] and v.unjournaled == ["archive/"]
    assert "archive/ does not exist" in v.reason


def test_work_that_is_there_and_journaled_passes(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.txt").write_text("a")
    effects = [Effect(op="mkdir", path="x"), Effect(op="move", path="x/a.txt", src="a.txt")]
    v = verify(
        tmp_path, _req("Create folder x and move a.txt into it", effects, "Moved a.txt to x/a.txt.")
    )
    assert v.passed, v.reason
    assert set(v.checked) >= {"x/", "x/a.txt", "a.txt"}


def test_an_output_this_agent_did_not_make_fails(tmp_path: Path) -> None:
    # The file is there, but someone else wrote it: this agent's calls never did.
    (tmp_path / "a.txt").write_text("hello")
    v = verify(tmp_path, _req("Write hello into a.txt", [Effect(op="read", path="a.txt")]))
    assert not v.passed and v.missing == ["a.txt"]
    assert "no tool call of this agent made it" in v.reason


def test_a_move_source_still_present_fails(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.txt").write_text("a")
    (tmp_path / "a.txt").write_text("a")
    effects = [Effect(op="mkdir", path="x"), Effect(op="write", path="x/a.txt")]
    v = verify(tmp_path, _req("Create folder x and move a.txt into it", effects))
    assert not v.passed and v.missing == ["a.txt"] and "still there" in v.reason


def test_a_sort_that_changed_nothing_fails(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    v = verify(
        tmp_path, _req("Sort the files in inbox/ by type", [Effect(op="list", path="inbox")])
    )
    assert not v.passed and v.missing == ["inbox/"]


def test_file_work_with_no_effect_at_all_fails(tmp_path: Path) -> None:
    v = verify(tmp_path, _req("Sort the files by type", [Effect(op="list", path=".")]))
    assert not v.passed and "made none" in v.reason


def test_answer_only_work_passes_on_its_answer_and_says_so(tmp_path: Path) -> None:
    v = verify(
        tmp_path, _req("What is a durable workflow?", [], "A workflow that survives crashes.")
    )
    assert v.passed and v.mode == "answer_only" and "no file change" in v.reason


def test_answer_only_work_that_claims_a_change_fails(tmp_path: Path) -> None:
    v = verify(
        tmp_path, _req("What is a durable workflow?", [], "I wrote notes/answer.md for you.")
    )
    assert not v.passed and v.unjournaled == ["notes/answer.md"]


def test_declared_outputs_win_over_the_wording(tmp_path: Path) -> None:
    (tmp_path / "out.md").write_text("x")
    effects = [Effect(op="write", path="out.md")]
    ok = verify(tmp_path, _req("Do the thing", effects, outputs=["out.md"]))
    assert ok.passed and ok.checked == ["out.md"]
    missing = verify(tmp_path, _req("Do the thing", effects, outputs=["out.md", "report/"]))
    assert not missing.passed and missing.missing == ["report/"]


def test_a_declared_pattern_asks_for_a_change_in_its_folder(tmp_path: Path) -> None:
    (tmp_path / "inbox" / "pdf").mkdir(parents=True)
    (tmp_path / "inbox" / "pdf" / "a.pdf").write_text("x")
    moved = [Effect(op="move", path="inbox/pdf/a.pdf", src="inbox/a.pdf")]
    ok = verify(tmp_path, _req("Sort the pdfs", moved, outputs=["inbox/pdf/*.pdf"]))
    assert ok.passed, ok.reason
    assert ok.checked == ["inbox/pdf/"]
    idle = verify(tmp_path, _req("Sort the pdfs", [], outputs=["inbox/pdf/*.pdf"]))
    assert not idle.passed and idle.missing == ["inbox/pdf/"]


def test_a_folder_output_is_made_by_writing_inside_it(tmp_path: Path) -> None:
    (tmp_path / "papers" / "law").mkdir(parents=True)
    (tmp_path / "papers" / "law" / "a.pdf").write_bytes(b"%PDF")
    effects = [Effect(op="move", path="papers/law/a.pdf", src="inbox/a.pdf")]
    assert verify(tmp_path, _req("x", effects, outputs=["papers/"])).passed


def test_nothing_outside_the_workspace_is_looked_at(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "secret.txt").write_text("s")
    v = verify(ws, _req("x", [Effect(op="write", path="../secret.txt")], outputs=["../secret.txt"]))
    assert not v.passed


def test_a_rename_without_the_asked_append_fails(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("first draft\n")
    effects = [Effect(op="move", path="notes.txt", src="old.txt")]
    task = "Rename old.txt to notes.txt and append the word reviewed to it"
    v = verify(tmp_path, _req(task, effects))
    assert not v.passed and v.missing == ["notes.txt"]
    assert "not changed by a tool call" in v.reason
    appended = [*effects, Effect(op="append", path="notes.txt")]
    # An append of other words is not the append asked for.
    v = verify(tmp_path, _req(task, appended))
    assert not v.passed and v.mismatched == ["notes.txt"] and '"reviewed"' in v.reason
    (tmp_path / "notes.txt").write_text("first draft\nreviewed\n")
    assert verify(tmp_path, _req(task, appended)).passed


def test_a_file_restyled_in_place_is_changed_and_a_size_question_needs_a_look() -> None:
    exp = expect("Make the first line of title.txt uppercase")
    assert exp.modified == ["title.txt"] and exp.outputs == []
    # A copy is something new: its source is not restyled.
    assert expect("Make a copy of a.txt in uppercase").modified == []
    assert expect("How big is data.csv?").sources == ["data.csv"]


@pytest.mark.parametrize(
    ("text", "sources"),
    [
        ("Which is bigger, a.txt or b.txt?", ["a.txt", "b.txt"]),
        ("Tell me the first line of poem.txt", ["poem.txt"]),
        ("What's the last entry in log.txt?", ["log.txt"]),
        ("Does src/ contain any Python files?", ["src/"]),
        ("Is there a file called secrets.env in the workspace?", ["secrets.env"]),
        # Advice, a kind of file, or how to do it: no look is owed.
        ("Should I rename utils.py to helpers.py?", []),
        ("What would happen if I deleted cache/?", []),
        ("What is a .env file?", []),
        ("How do I sort names.txt?", []),
    ],
)
def test_a_question_about_named_paths_needs_a_look_at_them(text: str, sources: list[str]) -> None:
    assert expect(text).sources == sources


def test_a_guess_about_a_named_file_is_not_completed(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("bbbb\n")
    task = "Which is bigger, a.txt or b.txt?"
    v = verify(tmp_path, _req(task, [], "b.txt is bigger."))
    assert not v.passed and v.unread == ["a.txt", "b.txt"]
    looked = [Effect(op="read", path="a.txt"), Effect(op="read", path="b.txt")]
    assert verify(tmp_path, _req(task, looked, "b.txt is bigger.")).passed


def test_answer_only_work_with_an_empty_answer_fails(tmp_path: Path) -> None:
    v = verify(tmp_path, _req("What is a durable workflow?", [], "   "))
    assert not v.passed and v.mode == "answer_only" and "gave no answer" in v.reason


@pytest.mark.parametrize(
    ("text", "contains", "lacks"),
    [
        ('Create todo.txt containing "buy milk"', [("todo.txt", "buy milk")], []),
        ("Save 'Meeting moved to 3pm' as memo.txt", [("memo.txt", "Meeting moved to 3pm")], []),
        ("Put the line version=2 in settings.txt", [("settings.txt", "version=2")], []),
        ("Put the words good morning into hello.txt", [("hello.txt", "good morning")], []),
        ("Replace May with June in notes.txt", [("notes.txt", "June")], [("notes.txt", "May")]),
        (
            "Change 8080 to 9090 in server.conf",
            [("server.conf", "9090")],
            [("server.conf", "8080")],
        ),
        ("Replace commas with semicolons in data.csv", [], []),
        (
            "Append the lines 'Reviewed by Bob' and 'Approved by Eve' to review.txt",
            [("review.txt", "Reviewed by Bob"), ("review.txt", "Approved by Eve")],
            [],
        ),
        ('Make hello.txt say "Hello, World!"', [("hello.txt", "Hello, World!")], []),
        (
            "Add a line saying remember the dentist to the bottom of todo.txt",
            [("todo.txt", "remember the dentist")],
            [],
        ),
        ("Overwrite status.txt with the word done", [("status.txt", "done")], []),
        ("Write the words of the song into lyrics.txt", [], []),
        ("In settings.ini set debug to false", [("settings.ini", "false")], []),
        ("Set debug to true in config.yaml", [("config.yaml", "true")], []),
        ("Set the theme in app.json to no later than Friday", [], []),
        ("Write the number 3 into n3.txt", [("n3.txt", "3")], []),
        ("Add a line 'done' at the end of todo.txt", [("todo.txt", "done")], []),
        ("Add 'Carol' to the guest list in guests.txt", [("guests.txt", "Carol")], []),
        ("Create notes.md with the text 'hello world'", [("notes.md", "hello world")], []),
        ("Write “smart quotes” to s.txt", [("s.txt", "smart quotes")], []),
        (
            "Replace 'colour' with 'color' in essay.md",
            [("essay.md", "color")],
            [("essay.md", "colour")],
        ),
        (
            "In essay.md, change 'colour' to 'color'",
            [("essay.md", "color")],
            [("essay.md", "colour")],
        ),
        # The old words live on inside the new ones.
        ("Replace 'cat' with 'cats' in a.txt", [("a.txt", "cats")], []),
        ("Fix the typo 'teh' in letter.txt", [], [("letter.txt", "teh")]),
        ("Remove the line 'debug=true' from config.ini", [], [("config.ini", "debug=true")]),
        ("Remove 'Bob' from guests.txt", [], [("guests.txt", "Bob")]),
        # Unquoted, where the words can only be literal.
        ("Add eggs to the end of shopping.txt", [("shopping.txt", "eggs")], []),
        ("Add Carol to the guest list in guests.txt", [("guests.txt", "Carol")], []),
        # The value it replaces goes: a swap, on whatever line held it.
        (
            "In config.ini, change the port from 8080 to 9090",
            [("config.ini", "9090")],
            [("config.ini", "8080")],
        ),
        ("Set the port in config.ini to 9090.", [("config.ini", "9090")], []),
        ("Increase the retries from 3 to 5 in settings.json", [("settings.json", "5")], []),
        # A unit may be spelt the file's own way: the number is what must be there.
        ("Decrease the timeout to 5s in a.yaml", [("a.yaml", "5")], []),
        (
            "Create groceries.txt with these items: eggs, milk and bread",
            [("groceries.txt", "eggs"), ("groceries.txt", "milk"), ("groceries.txt", "bread")],
            [],
        ),
        (
            "Replace whatever is in status.txt with: all systems go",
            [("status.txt", "all systems go")],
            [],
        ),
        # The words end with their sentence, or where a note in brackets starts.
        (
            "Replace whatever is in status.txt with: all systems go (urgent). Then tell me.",
            [("status.txt", "all systems go")],
            [],
        ),
        # Several quoted items: each must be there.
        (
            'Add "milk" and "eggs" to shopping.txt',
            [("shopping.txt", "milk"), ("shopping.txt", "eggs")],
            [],
        ),
        ("Create list.txt and add 'x', 'y' to it", [("list.txt", "x"), ("list.txt", "y")], []),
        # One bare word after "write", or after "the word", is the word.
        ("Write hello into a.txt", [("a.txt", "hello")], []),
        ("Write yes into answer.txt", [("answer.txt", "yes")], []),
        ("Write the word hello into a.txt", [("a.txt", "hello")], []),
        # "it" is the file named last before it.
        (
            "Rename old.txt to notes.txt and append the word reviewed to it",
            [("notes.txt", "reviewed")],
            [],
        ),
        ("Create a.txt and add 'x' to it", [("a.txt", "x")], []),
        # The replace reworks what the write put there: its words are the ones to see.
        (
            "Write 'hello' to a.txt and then replace 'hello' with 'bye' in it",
            [("a.txt", "bye")],
            [("a.txt", "hello")],
        ),
        # A title line and its description say the same thing twice: no later rework.
        (
            "In config.ini, change the port to 9090\nIn config.ini, change the port to 9090",
            [("config.ini", "9090")],
            [],
        ),
    ],
)
def test_quoted_words_a_file_must_hold_or_lose_are_read(
    text: str, contains: list[tuple[str, str]], lacks: list[tuple[str, str]]
) -> None:
    exp = expect(text)
    assert (exp.contains, exp.lacks) == (contains, lacks)


def test_items_one_per_line_must_each_be_a_line(tmp_path: Path) -> None:
    task = "Write these three lines to packing.txt, one per line: passport, charger, socks"
    exp = expect(task)
    assert exp.lines == [("packing.txt", w) for w in ("passport", "charger", "socks")]
    (tmp_path / "packing.txt").write_text("passport charger socks\n")
    effects = [Effect(op="write", path="packing.txt")]
    v = verify(tmp_path, _req(task, effects))
    assert not v.passed and 'packing.txt has no line that is just "passport"' in v.reason
    (tmp_path / "packing.txt").write_text("- Passport\n- charger\n- socks\n")
    assert verify(tmp_path, _req(task, effects)).passed


@pytest.mark.parametrize(
    "text",
    [
        # Described, not given.
        "Write a poem about the sea into poem.txt",
        # One bare word that names a kind of thing, or a plural, is no word to write.
        "Write notes into a.txt",
        "Write code into main.py",
        "Write JSON into data.json",
        "Write haiku into poem.txt",
        "Write something into a.txt",
        "Write it to a.txt",
        "Add the word count to stats.txt",
        "Append the line below to notes.md",
        "Add the line numbers to code.py",
        "Write the number of files into count.txt",
        "Add tests to the end of test_a.py",
        "Add a newline to the end of a.txt",
        "Add yourself to the end of team.md",
        "Add imports to the top of main.py",
        "Add docstrings to the end of utils.py",
        "Create notes.md with sections: Intro, Usage, License",
        "Set the log level to debug in app.cfg",
        # The words are to be changed on the way.
        "Write 'hello' in French to a.txt",
        "Write 'hello world' to a.txt in uppercase",
        "Write 'hello' and 'bye' to a.txt in uppercase",
        # A later step reworks the file.
        "Write 'b a' to a.txt, then sort it",
        "Write 'hello' to a.txt and move it to docs/",
        # The file is read, not made or changed.
        "Tell me whether app.log contains 'ERROR'",
        "Find the lines containing 'ERROR' in app.log and write them to errors.txt",
        # A quoted name is a source; an apostrophe is not a closing quote.
        "Save 'draft.md' as final.md",
        "Write 'it's done' to a.txt",
    ],
)
def test_no_words_are_asked_where_the_wording_does_not_give_them(text: str) -> None:
    exp = expect(text)
    assert (exp.contains, exp.lacks) == ([], [])


def test_a_quote_does_not_run_from_one_quoted_word_to_the_next() -> None:
    # The closing quote of 'hello' and the opening one of 'bye' enclose no content.
    exp = expect("Write 'hello' to a.txt and then replace 'hello' with 'bye' in it")
    assert exp.outputs == ["a.txt"]


def test_a_file_in_the_agents_own_words_fails(tmp_path: Path) -> None:
    (tmp_path / "todo.txt").write_text("Milk to buy\n")
    effects = [Effect(op="write", path="todo.txt")]
    v = verify(tmp_path, _req('Create todo.txt containing "buy milk"', effects, "Wrote todo.txt."))
    assert not v.passed and v.mismatched == ["todo.txt"] and v.missing == []
    assert 'todo.txt does not contain "buy milk"' in v.reason


@pytest.mark.parametrize(
    "note",
    [
        "# ... rest of the code unchanged ...",
        "    // ... existing methods ...",
        "<!-- rest of the file unchanged -->",
        "[... existing entries ...]",
        "(omitted for brevity)",
    ],
)
def test_a_rewrite_that_leaves_a_placeholder_for_the_rest_fails(tmp_path: Path, note: str) -> None:
    (tmp_path / "app.py").write_text(f"import pathlib\n\n{note}\n")
    effects = [Effect(op="write", path="app.py")]
    v = verify(tmp_path, _req("Refactor app.py to use pathlib", effects, "Refactored app.py."))
    assert not v.passed and v.mismatched == ["app.py"]
    assert "in for text it left out" in v.reason


@pytest.mark.parametrize(
    "line",
    ["## Existing content", "Unchanged", "The rest of the file is about cats.", "x = [1, ...]"],
)
def test_a_line_that_only_mentions_the_rest_is_not_a_placeholder(tmp_path: Path, line: str) -> None:
    (tmp_path / "notes.md").write_text(f"# Notes\n{line}\n")
    effects = [Effect(op="write", path="notes.md")]
    assert verify(tmp_path, _req("Clean up notes.md", effects, "Cleaned up notes.md.")).passed


@pytest.mark.parametrize(
    ("task", "content", "passed"),
    [
        ("In settings.ini set debug to false", "[app]\ndebug = False\nport = 80\n", True),
        # The port was changed instead: "false" is in the file, but not for debug.
        ("In settings.ini set debug to false", "debug = true\nverbose = false\n", False),
        ("Change the timeout in config.yaml to 30 seconds", "timeout: 30s\nretries: 3\n", True),
        ("Change the timeout in config.yaml to 30 seconds", "timeout: 10\nretries: 30\n", False),
        ("Update the version in package.json to 2.0.0", '{\n  "version": "2.0.0"\n}\n', True),
        (
            "Update the version in package.json to 2.0.0",
            '{"version": "1.0.0",\n "lodash": "^2.0.0"}\n',
            False,
        ),
        ("Change the number of retries in app.cfg to 5", "MAX_RETRIES=5\n", True),
        # Prose is not a settings file: the date need not share a line with "date".
        ("Update the date in README.md to 2026-12-01", "Last updated: 2026-12-01\n", True),
    ],
)
def test_a_setting_is_set_on_its_own_line(
    tmp_path: Path, task: str, content: str, *, passed: bool
) -> None:
    path = next(w for w in task.replace(",", " ").split() if "." in w and w[0].isalpha())
    (tmp_path / path).write_text(content)
    effects = [Effect(op="edit", path=path)]
    v = verify(tmp_path, _req(task, effects, f"Updated {path}."))
    assert v.passed is passed, v.reason
    if not passed:
        assert "has no line that sets" in v.reason


def test_words_typed_without_punctuation_are_read_past_the_files(tmp_path: Path) -> None:
    (tmp_path / "greeting.txt").write_text("Hello, world!\n")
    effects = [Effect(op="write", path="greeting.txt")]
    ok = verify(tmp_path, _req("Write 'hello world' to greeting.txt", effects, "Wrote it."))
    assert ok.passed, ok.reason
    # Words typed with punctuation keep it: 3.5 is not 35.
    (tmp_path / "n.txt").write_text("35\n")
    v = verify(tmp_path, _req("Write '3.5' to n.txt", [Effect(op="write", path="n.txt")], "Done."))
    assert not v.passed


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but I can't help with that.",
        "Sorry, I cannot answer that.",
        "I can't assist with this request.",
        "Unfortunately I am unable to do that.",
    ],
)
def test_an_answer_that_declines_is_no_answer(tmp_path: Path, answer: str) -> None:
    v = verify(tmp_path, _req("What is 2+2?", [], answer))
    assert not v.passed and "declines" in v.reason


def test_an_answer_that_only_mentions_what_it_cannot_do_still_answers(tmp_path: Path) -> None:
    answer = "4. (I can't show my working here, but the sum is simple.)"
    assert verify(tmp_path, _req("What is 2+2?", [], answer)).passed


def test_a_question_answered_by_changing_files_fails(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("a\nb\n")
    effects = [Effect(op="read", path="notes.txt"), Effect(op="delete", path="notes.txt")]
    v = verify(tmp_path, _req("How many lines are in notes.txt?", effects, "It had 2 lines."))
    assert not v.passed and "changed notes.txt" in v.reason


def test_a_summary_written_empty_is_not_done(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("We ship on Friday.\n")
    (tmp_path / "SUMMARY.md").write_text("\n")
    effects = [Effect(op="read", path="notes.md"), Effect(op="write", path="SUMMARY.md")]
    v = verify(tmp_path, _req("Summarize notes.md into SUMMARY.md", effects, "Wrote SUMMARY.md."))
    assert not v.passed and v.mismatched == ["SUMMARY.md"] and "is empty" in v.reason
    # An empty file asked for is done.
    (tmp_path / ".gitkeep").write_text("")
    make = [Effect(op="write", path=".gitkeep")]
    assert verify(tmp_path, _req("Create an empty file named .gitkeep", make, "Made it.")).passed


def test_a_report_may_name_a_file_without_its_extension(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "SUMMARY.md").write_text("Friday.\n")
    effects = [Effect(op="write", path="notes/SUMMARY.md")]
    task = "Write a summary of the week into notes/SUMMARY.md"
    assert verify(tmp_path, _req(task, effects, "I wrote notes/SUMMARY with the gist.")).passed
    # ... or by the stem it starts with.
    (tmp_path / "notes" / "SUMMARY.md").rename(tmp_path / "notes" / "SUMMARY_k7.md")
    moved = [Effect(op="write", path="notes/SUMMARY_k7.md")]
    task = "Write a summary of the week into notes/SUMMARY_k7.md"
    assert verify(tmp_path, _req(task, moved, "I wrote notes/SUMMARY with the gist.")).passed


def test_a_sort_that_leaves_files_loose_is_not_done(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "pdf").mkdir(parents=True)
    (inbox / "pdf" / "a.pdf").write_text("a")
    (inbox / "b.png").write_text("b")
    (inbox / "index.md").write_text("- pdf/a.pdf\n")
    effects = [
        Effect(op="move", path="inbox/pdf/a.pdf", src="inbox/a.pdf"),
        Effect(op="write", path="inbox/index.md"),
    ]
    task = "Sort the files in inbox/ by type"
    v = verify(tmp_path, _req(task, effects, "Sorted inbox/."))
    # index.md is the work's own file; b.png was never sorted.
    assert not v.passed and v.mismatched == ["inbox/"] and "unsorted: b.png" in v.reason
    (inbox / "png").mkdir()
    (inbox / "b.png").rename(inbox / "png" / "b.png")
    effects.append(Effect(op="move", path="inbox/png/b.png", src="inbox/b.png"))
    assert verify(tmp_path, _req(task, effects, "Sorted inbox/.")).passed


@pytest.mark.parametrize(
    ("task", "content", "passed"),
    [
        ("Sort the lines of words.txt alphabetically", "apple\nBanana\ncherry\n", True),
        # As `sort` orders text: capitals first.
        ("Sort the lines of words.txt alphabetically", "Banana\napple\ncherry\n", True),
        ("Sort the lines of words.txt alphabetically", "cherry\nbanana\napple\n", False),
        ("Sort words.txt in reverse order", "cherry\nbanana\napple\n", True),
        ("Sort words.txt", "word\nb\na\n", False),
        ("Sort words.txt", "WORDS\na\nb\n", True),
        ("Remove every line that starts with # from words.txt", "a\n  # b\nc\n", False),
        ("Remove every line that starts with # from words.txt", "a\nc # d\n", True),
    ],
)
def test_lines_keep_the_rule_the_task_gives_them(
    tmp_path: Path, task: str, content: str, *, passed: bool
) -> None:
    (tmp_path / "words.txt").write_text(content)
    effects = [Effect(op="write", path="words.txt")]
    v = verify(tmp_path, _req(task, effects, "Done with words.txt."))
    assert v.passed is passed, v.reason


def test_what_is_merged_is_read_first(tmp_path: Path) -> None:
    for name in ("part1.txt", "part2.txt"):
        (tmp_path / name).write_text(f"{name}\n")
    (tmp_path / "full.txt").write_text("part1.txt\n")
    effects = [Effect(op="read", path="part1.txt"), Effect(op="write", path="full.txt")]
    task = "Merge part1.txt and part2.txt into full.txt"
    v = verify(tmp_path, _req(task, effects, "Merged them into full.txt."))
    assert not v.passed and v.unread == ["part2.txt"]


def test_the_words_pass_however_a_person_would_read_them(tmp_path: Path) -> None:
    (tmp_path / "todo.txt").write_text("- Buy\n  milk.\n")
    effects = [Effect(op="write", path="todo.txt")]
    v = verify(tmp_path, _req('Create todo.txt containing "buy milk"', effects))
    assert v.passed, v.reason


def test_words_asked_gone_that_are_still_there_fail(tmp_path: Path) -> None:
    (tmp_path / "letter.txt").write_text("Dear Ann, teh end. Greetings from Tehran.\n")
    effects = [Effect(op="edit", path="letter.txt")]
    v = verify(tmp_path, _req("Fix the typo 'teh' in letter.txt", effects))
    assert not v.passed and 'letter.txt still contains "teh"' in v.reason
    (tmp_path / "letter.txt").write_text("Dear Ann, the end. Greetings from Tehran.\n")
    assert verify(tmp_path, _req("Fix the typo 'teh' in letter.txt", effects)).passed


def test_words_replaced_as_typed_leave_other_cases_alone(tmp_path: Path) -> None:
    (tmp_path / "essay.md").write_text("Colour matters. The color of the sky.\n")
    effects = [Effect(op="edit", path="essay.md")]
    v = verify(tmp_path, _req("Replace 'colour' with 'color' in essay.md", effects))
    assert v.passed, v.reason


def test_words_for_a_file_the_plan_does_not_make_are_not_checked(tmp_path: Path) -> None:
    # The plan put the file elsewhere: the wording's file is not this step's output.
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("buy milk\n")
    effects = [Effect(op="write", path="notes/todo.txt")]
    req = _req('Create todo.txt containing "buy milk"', effects, outputs=["notes/todo.txt"])
    assert verify(tmp_path, req).passed


@pytest.mark.parametrize(
    ("text", "sources"),
    [
        ("Summarize notes.md into summary.md", ["notes.md"]),
        ("give me the gist of incident.log in incident-summary.txt", ["incident.log"]),
        ("Write an index of docs/ to docs/INDEX.md", ["docs/"]),
        ("How many files are in inbox/?", ["inbox/"]),
        ("What does notes.md say about the deadline?", ["notes.md"]),
        ("Collect every line with TODO in it from the files in src/ into todos.txt", ["src/"]),
        ("Generate a changelog in CHANGELOG.md from commits.txt", ["commits.txt"]),
        ("Compare a.txt and b.txt", ["a.txt", "b.txt"]),
        ("Tell me what's in the docs/ folder", ["docs/"]),
        ("Make a list of the TODOs in notes.md", ["notes.md"]),
        # A noun, not a look: the list is what gets made.
        ("Make a todo list with 3 items in todo.md", []),
        ("Using template.md, write a letter to Bob in letter.md", ["template.md"]),
        # Asks how, not what the file holds.
        ("How do I sort the lines of names.txt?", []),
        # A program written to act on a folder need not look at it.
        ("Write a Python script clean.py that deletes old files in logs/", []),
        # What the work makes or changes has checks of its own.
        ("Sort the files in inbox/ by type", []),
    ],
)
def test_paths_the_work_must_look_at_are_read(text: str, sources: list[str]) -> None:
    assert expect(text).sources == sources


def test_an_answer_about_a_file_nobody_opened_fails(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("Deadline: Friday.\n")
    task = "What does notes.md say about the deadline?"
    v = verify(tmp_path, _req(task, [], "It most likely says the end of the month."))
    assert not v.passed and v.mode == "answer_only" and v.unread == ["notes.md"]
    read = [Effect(op="read", path="notes.md")]
    assert verify(tmp_path, _req(task, read, "It says Friday.")).passed


def test_a_listing_above_a_path_or_a_call_on_it_counts_as_a_look(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.pdf").write_text("x")
    task = "How many files are in inbox/?"
    assert verify(tmp_path, _req(task, [Effect(op="list", path=".")], "One.")).passed
    assert verify(tmp_path, _req(task, [Effect(op="list", path="inbox")], "One.")).passed
    assert not verify(tmp_path, _req(task, [Effect(op="list", path="docs")], "One.")).passed


def test_a_size_question_is_not_answered_by_a_listing_of_names(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x" * 10)
    (tmp_path / "b.txt").write_text("x")
    task = "Which is bigger, a.txt or b.txt?"
    listed = [Effect(op="list", path=".")]
    v = verify(tmp_path, _req(task, listed, "a.txt is bigger."))
    assert not v.passed and v.unread == ["a.txt", "b.txt"]
    looked = [Effect(op="read", path="a.txt"), Effect(op="read", path="b.txt")]
    assert verify(tmp_path, _req(task, looked, "a.txt is bigger.")).passed


def test_a_path_that_is_not_there_needs_no_look(tmp_path: Path) -> None:
    v = verify(tmp_path, _req("What does notes.md say?", [], "There is no notes.md."))
    assert v.passed, v.reason


def test_a_step_given_its_dependencies_reports_need_not_look_again(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("Deadline: Friday.\n")
    (tmp_path / "summary.md").write_text("Friday.\n")
    task = subagent_task(
        Subtask(title="Summarize", description="Summarize notes.md into summary.md"),
        [("Read notes.md", "completed", "notes.md says the deadline is Friday.")],
    )
    v = verify(tmp_path, _req(task, [Effect(op="write", path="summary.md")]))
    assert v.passed, v.reason


@pytest.mark.parametrize(
    ("text", "outputs", "sources"),
    [
        # Where the summary goes is not said; the log is what it is about.
        ("Write a summary of the errors in app.log", [], ["app.log"]),
        ("Write a summary of the errors in app.log to errors.md", ["errors.md"], ["app.log"]),
        ("Summarize the warnings in build.log into warnings.md", ["warnings.md"], ["build.log"]),
        # A meeting is not held in a file: notes.md is where the summary goes.
        ("Write a summary of the meeting in notes.md", ["notes.md"], []),
    ],
)
def test_a_file_holding_what_the_work_is_about_is_its_source(
    text: str, outputs: list[str], sources: list[str]
) -> None:
    exp = expect(text)
    assert (exp.outputs, exp.sources) == (outputs, sources)
