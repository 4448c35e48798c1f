"""The end-state checks of bench/reality.py on hand-built workspaces: no Temporal, no model.

A check that cannot fail would turn every false completion into a verified one, so every
goal that asks for a file effect must fail on its untouched seed, and the sampled goals
pass on a workspace done right and fail on the usual ways of doing them wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench._reality_goals import Goal, check, load_goals, seed_workspace

GOALS = {g.id: g for g in load_goals()}


def ws(tmp_path: Path, goal_id: str) -> tuple[Path, Goal]:
    goal = GOALS[goal_id]
    root = tmp_path / goal_id
    seed_workspace(root, goal)
    return root, goal


def write(root: Path, rel: str, text: str) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_text(text)


def move(root: Path, src: str, dst: str) -> None:
    (root / dst).parent.mkdir(parents=True, exist_ok=True)
    (root / src).rename(root / dst)


def test_the_data_set_is_big_enough_and_labelled() -> None:
    assert len(GOALS) >= 40
    named = {g.goal for g in GOALS.values()}
    for literal in (
        "Create an empty folder called archive",
        "Write hello into a.txt",
        "Create folder x and move a.txt into it",
        "Write a haiku about durable workflows into poem.txt",
        "Sort the files in inbox/ by type, summarize notes.md, and write an index of everything",
        *(f"Write the number {n} into n{n}.txt" for n in range(1, 7)),
    ):
        assert literal in named
    assert {"delete", "copy", "search", "edit", "answer", "multi"} <= {
        g.category for g in GOALS.values()
    }


@pytest.mark.parametrize("goal_id", sorted(GOALS))
def test_doing_nothing_fails_every_goal_that_asks_for_a_change(
    tmp_path: Path, goal_id: str
) -> None:
    root, goal = ws(tmp_path, goal_id)
    problems = check(root, goal, answer="Done! Everything is in place.")
    if goal.expect.get("unchanged"):
        # Doing nothing is right here; a "done" that answers nothing is not.
        assert problems and all(p.startswith("answer: ") for p in problems), problems
        assert check(root, goal, answer="")[0] == "no answer given"
    else:
        assert problems, f"{goal_id} passes on its untouched seed"


@pytest.mark.parametrize(
    ("goal_id", "right", "wrong"),
    [
        ("answer-count", "There are 3 files in inbox/.", "Let me take a look first."),
        ("answer-deadline", "It says the deadline is 30 April.", "It says nothing about one."),
        (
            "answer-move-vs-copy",
            "Moving relocates the file; copying leaves the original in place.",
            "Good question!",
        ),
    ],
)
def test_an_answer_goal_wants_what_any_right_answer_says(
    tmp_path: Path, goal_id: str, right: str, wrong: str
) -> None:
    root, goal = ws(tmp_path, goal_id)
    assert check(root, goal, answer=right) == []
    assert check(root, goal, answer=wrong)


def test_exact_content_tolerates_a_trailing_newline_only(tmp_path: Path) -> None:
    root, goal = ws(tmp_path, "write-hello")
    write(root, "a.txt", "hello\n")
    assert check(root, goal) == []
    write(root, "a.txt", "Hello, world")
    assert check(root, goal) == ["a.txt: holds 'Hello, world', want 'hello'"]
    (root / "a.txt").unlink()
    (root / "a.txt").mkdir()
    assert check(root, goal) == ["a.txt: is a folder, want a file"]


def test_a_haiku_is_three_lines(tmp_path: Path) -> None:
    root, goal = ws(tmp_path, "gen-haiku")
    write(
        root,
        "poem.txt",
        "History replays\nthe worker falls, the task stays\nstate outlives the crash\n",
    )
    assert check(root, goal) == []
    write(root, "poem.txt", "A haiku about durable workflows.")
    assert check(root, goal) == ["poem.txt: 1 non-empty lines, want 3..3"]


def test_an_empty_folder_may_hold_a_dotfile_but_nothing_else(tmp_path: Path) -> None:
    root, goal = ws(tmp_path, "mkdir-archive")
    (root / "archive").mkdir()
    write(root, "archive/.gitkeep", "")
    assert check(root, goal) == []
    write(root, "archive/readme.txt", "x")
    assert check(root, goal) == ["archive/: should be empty, holds ['archive/readme.txt']"]


def test_a_move_must_remove_the_source_and_keep_the_content(tmp_path: Path) -> None:
    root, goal = ws(tmp_path, "compound-folder-move")
    write(root, "x/a.txt", "alpha\n")
    assert check(root, goal) == ["a.txt: still exists"]  # a copy is not a move
    (root / "a.txt").unlink()
    assert check(root, goal) == []
    write(root, "x/a.txt", "")
    assert check(root, goal) == [
        "x/a.txt: is empty",
        "x/a.txt: holds '', want the content of a.txt",
    ]


def test_append_keeps_the_old_lines_in_order(tmp_path: Path) -> None:
    root, goal = ws(tmp_path, "append-line")
    write(root, "log.txt", "start: build\nstart: deploy\ndone: deploy")
    assert check(root, goal) == []
    write(root, "log.txt", "done: deploy\n")
    assert check(root, goal)


def test_sorting_accepts_any_folder_names_but_not_a_mixed_heap(tmp_path: Path) -> None:
    root, goal = ws(tmp_path, "sort-downloads")
    for name, folder in (
        ("invoice.pdf", "documents"),
        ("contract.pdf", "documents"),
        ("cat.jpg", "images"),
        ("budget.csv", "sheets"),
    ):
        move(root, f"downloads/{name}", f"downloads/{folder}/{name}")
    assert check(root, goal) == []

    root, goal = ws(tmp_path / "heap", "sort-downloads")
    for name in ("invoice.pdf", "contract.pdf", "cat.jpg", "budget.csv"):
        move(root, f"downloads/{name}", f"downloads/all/{name}")
    assert check(root, goal) == ["all types in one folder ['downloads/all']"]

    root, goal = ws(tmp_path / "split", "sort-downloads")
    move(root, "downloads/invoice.pdf", "downloads/pdf/invoice.pdf")
    move(root, "downloads/contract.pdf", "downloads/docs/contract.pdf")
    problems = check(root, goal)
    assert "downloads/cat.jpg: still in place, not sorted" in problems
    assert any(p.startswith(".pdf files split over") for p in problems)


def test_unnamed_outputs_are_found_among_new_files(tmp_path: Path) -> None:
    root, goal = ws(tmp_path, "multi-issue-inbox")
    for name, folder in (
        ("report.pdf", "pdf"),
        ("slides.pdf", "pdf"),
        ("photo.jpg", "images"),
        ("budget.csv", "data"),
    ):
        move(root, f"inbox/{name}", f"inbox/{folder}/{name}")
    write(root, "INDEX.md", "- inbox/pdf/report.pdf\n- inbox/pdf/slides.pdf\n- notes.md\n")
    problems = check(root, goal)
    assert len(problems) == 2  # no summary, and the index misses two files
    write(root, "INDEX.md", "report.pdf slides.pdf photo.jpg budget.csv notes.md SUMMARY.md\n")
    write(root, "SUMMARY.md", "The office moves to Lisbon in June; new laptops for all.\n")
    assert check(root, goal) == []


def test_collateral_damage_to_seeded_files_is_a_wrong_end_state(tmp_path: Path) -> None:
    root, goal = ws(tmp_path, "delete-file")
    (root / "old.log").unlink()
    assert check(root, goal) == []
    (root / "keep.txt").unlink()
    assert check(root, goal) == ["keep.txt: seeded, now gone"]


def test_search_results_must_not_list_files_without_a_match(tmp_path: Path) -> None:
    root, goal = ws(tmp_path, "search-invoice")
    write(root, "found.txt", "docs/a.md\ndocs/c.md\n")
    assert check(root, goal) == []
    write(root, "found.txt", "docs/a.md\ndocs/b.md\ndocs/c.md\n")
    assert check(root, goal) == ["found.txt: should not mention 'b.md'"]


def test_an_answer_only_goal_fails_when_the_workspace_changes(tmp_path: Path) -> None:
    root, goal = ws(tmp_path, "answer-count")
    write(root, "answer.txt", "3")
    assert check(root, goal, answer="There are 3 files.") == [
        "added ['answer.txt'] to a workspace that should be unchanged"
    ]
    (root / "answer.txt").unlink()
    write(root, "inbox/c.txt", "changed")
    assert check(root, goal, answer="3") == ["inbox/c.txt: seeded, now changed to 'changed'"]


def test_a_misspelt_expectation_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "goals.jsonl"
    data.write_text('{"id": "x", "category": "write", "goal": "g", "expect": {"file": {}}}\n')
    with pytest.raises(ValueError, match="unknown expect keys"):
        load_goals(data)
    data.write_text(
        '{"id": "x", "category": "write", "goal": "g",'
        ' "expect": {"files": {"a": {"equal": "1"}}}}\n'
    )
    with pytest.raises(ValueError, match="unknown content rules"):
        load_goals(data)
