"""Completion, checked by code against the workspace and the agent's tool journal.

A model saying "done" is a claim. An agent is `completed` only when this check
passes:

- every output the plan or the task names exists, and this agent's own tool
  calls made it (wrote, created, moved or copied it there);
- every file the task asks to change (append to, edit) was changed by this
  agent's own calls;
- every path the task asks to move away or delete is gone, and this agent's
  calls removed it;
- a folder the task asks to sort or organise had something changed in it;
- a task that asks for file changes shows at least one in the journal;
- every path the final report says was changed appears in the journal;
- no file this agent wrote holds a placeholder for text it left out ("# ... rest of
  the code unchanged ..."), and a file it makes to hold a summary or a list is not empty;
- work judged on its answer did not decline the task in words, and a question changed
  no file (nothing moved, deleted or rewritten).

The journal is the `effects` the sandbox reported for each tool call, as
recorded in the agent's history: it cannot be written by the model.
Work that asks for no file effect passes on its answer alone, and says so.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from agentfleet.contracts.models import MUTATING_OPS, Effect, Verification, VerifyRequest
from agentfleet.delegation.prompts import REPORTS_HEADER
from agentfleet.sandbox.box import original_of
from agentfleet.sandbox.trash import held_nothing, trashed_of
from agentfleet.verification.intent import Expectation, add_path, claimed_changes, expect, norm
from agentfleet.verification.intent.content import (
    column_in_order,
    counts,
    elided,
    holds,
    in_order,
    lacks,
    none_start,
    on_a_line,
    sets,
    unique_lines,
    word_count,
)
from agentfleet.verification.kept import Touch, dropped, lost_lines, misplaced
from agentfleet.verification.structured import lost_keys
from agentfleet.verification.verdict import task_wording

# What changes a file's content: a move or a copy only puts it somewhere.
_CONTENT_OPS = frozenset({"write", "append", "edit"})


# No check reads without bound. A file larger than this is not judged on its words:
# reading part of it could miss words an append put at its end.
_READ_LIMIT = 4 * 1024 * 1024


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


class _Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._texts: dict[str, str | None] = {}

    def _inside(self, rel: str) -> Path | None:
        """`rel` resolved, or None when it points outside the root: never looked at."""
        target = (self.root / rel).resolve()
        return target if target.is_relative_to(self.root) else None

    def kind(self, rel: str) -> str | None:
        """What `rel` is: "dir", "file" or None; nothing outside the root is ever looked at."""
        target = self._inside(rel)
        if target is None:
            return None
        if target.is_dir():
            return "dir"
        return "file" if os.path.lexists(target) else None

    def subfolders(self, rel: str) -> list[str]:
        """The folders right inside `rel`, hidden ones aside, as workspace-relative paths."""
        top = self.folder(rel)
        if top is None:
            return []
        # Hidden and tool-made folders (".git", "__pycache__") are no one's subfolders.
        return sorted(
            str(d.relative_to(self.root))
            for d in top.iterdir()
            if d.is_dir() and not d.name.startswith((".", "__"))
        )

    def files_under(self, rel: str, limit: int = 200) -> list[str]:
        """`rel` if it is a file, else the files below it (the trash aside), up to `limit`."""
        if self.kind(rel) == "file":
            return [rel]
        top = self.folder(rel)
        found: list[str] = []
        for here, dirs, files in os.walk(top) if top is not None else ():
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found += [str((Path(here) / n).relative_to(self.root)) for n in sorted(files)]
            if len(found) >= limit:
                return found[:limit]
        return found

    def files_in(self, rel: str) -> list[str]:
        """The files directly in folder `rel`, as workspace paths."""
        top = self.folder(rel)
        if top is None:
            return []
        return sorted(
            str(p.relative_to(self.root)) for p in top.iterdir() if p.is_file() or p.is_symlink()
        )

    def folder(self, rel: str) -> Path | None:
        """The folder `rel` names inside the root, if it is one."""
        target = self._inside(rel)
        return target if target is not None and target.is_dir() else None

    def text(self, rel: str) -> str | None:
        """A file's text, read once per check; None if it is no file or too large to judge."""
        if rel not in self._texts:
            self._texts[rel] = self._read(rel)
        return self._texts[rel]

    def _read(self, rel: str) -> str | None:
        target = self._inside(rel)
        if target is None or not target.is_file() or target.stat().st_size > _READ_LIMIT:
            return None
        return target.read_bytes().decode("utf-8", errors="replace")


def _made(path: str, effects: Iterable[Effect], *, is_dir: bool) -> bool:
    for e in effects:
        if e.op not in MUTATING_OPS or e.op == "delete":
            continue
        if e.path == path or (is_dir and _under(e.path, path)):
            return True
    return False


def _removed(path: str, effects: Iterable[Effect]) -> bool:
    return any(
        (e.op == "delete" and _under(path, e.path)) or (e.op == "move" and e.src == path)
        for e in effects
    )


def _in_journal(path: str, effects: Iterable[Effect]) -> bool:
    """Whether a call acted on the path.

    A bare name ("cat.jpg") may be any file of that name, and a name without its
    extension ("notes/SUMMARY") the file it names ("notes/SUMMARY.md").
    """
    for e in effects:
        for p in (e.path, e.src):
            if p is None:
                continue
            # A bare name, or a path named from a folder the report is about ("nested/
            # cache.yml" for config.bak/nested/cache.yml): the file the journal shows.
            if _under(p, path) or p.endswith("/" + path):
                return True
            # "notes/SUMMARY" for notes/SUMMARY.md, or for notes/SUMMARY_k7.md.
            stem = "." not in path.rsplit("/", 1)[-1]
            rest = p[len(path) :] if p.startswith(path) else ""
            if stem and rest[:1] in (".", "_", "-") and "/" not in rest:
                return True
    return False


# "I'm sorry, but I can't help with that": a decline in words, whatever the stop reason.
_DECLINED = re.compile(
    r"^\W*(?:(?:I'?m|I\s+am)\s+(?:so\s+|very\s+)?sorry|I\s+apologi[sz]e|sorry|unfortunately)\b"
    r"[^.\n]{0,60}?\b(?:can(?:no|')?t|cannot|unable|not\s+able|won'?t)\b"
    r"|^\W*I\s+(?:can(?:no|')?t|cannot|won'?t|(?:am|'m)\s+(?:unable|not\s+able)\s+to)\s+"
    r"(?:help|assist|do|provide|comply|complete|answer|fulfil+)\b",
    re.I,
)
# Changes no answer asks for: what was there is moved, gone, or rewritten.
_DESTRUCTIVE = frozenset({"delete", "move", "edit", "append"})


def _answer_problems(exp: Expectation, effects: list[Effect], answer: str | None) -> list[str]:
    """What is wrong with work judged on its answer (None: it gave none).

    No answer, a decline, or files changed unasked.
    """
    problems = []
    if answer is None:
        problems.append("no file change was asked for and the agent gave no answer")
    elif _DECLINED.search(answer.strip()):
        problems.append("the answer declines the task instead of doing it")
    if exp.hands_off:
        changed = list(dict.fromkeys(e.path for e in effects if e.op in _DESTRUCTIVE))
        if changed:
            problems.append(
                "the task asks for an answer, not a change, and this agent's calls changed "
                + ", ".join(changed)
            )
    return problems


def _check_filled(ws: _Workspace, exp: Expectation, f: _Findings) -> None:
    """A file the work makes to hold something (a summary, a list) is not left empty."""
    if not exp.wants_content:
        return
    for out in exp.outputs:
        if out.endswith("/") or ws.kind(out) != "file":
            continue
        content = ws.text(out)
        if content is not None and not content.strip():
            f.mismatch(out, f"{out} is empty")


class _Findings:
    """What the check found wrong so far: the paths short of done, and why, in order."""

    def __init__(self) -> None:
        self.missing: list[str] = []
        self.mismatched: list[str] = []
        self.problems: list[str] = []

    def miss(self, path: str, problem: str) -> None:
        """Record `path` as not done, for `problem`."""
        self.missing.append(path)
        self.problems.append(problem)

    def mismatch(self, path: str, problem: str) -> None:
        """Record `path` as there, but not holding what the task asked, for `problem`."""
        if path not in self.mismatched:
            self.mismatched.append(path)
        self.problems.append(problem)


def _output_state(ws: _Workspace, out: str, mutating: list[Effect]) -> tuple[bool, bool]:
    """Whether an expected output is there (a folder where one is named), and this agent made it."""
    path, is_dir = out.rstrip("/"), out.endswith("/")
    kind = ws.kind(path)
    there = kind == "dir" or (kind == "file" and not is_dir)
    return there, _made(path, mutating, is_dir=is_dir)


def _modified_state(ws: _Workspace, changed: str, mutating: list[Effect]) -> tuple[bool, bool]:
    """Whether a file to change is there, and this agent's calls wrote, appended or edited it."""
    path = changed.rstrip("/")
    by_agent = any(e.path == path and e.op in _CONTENT_OPS for e in mutating)
    return ws.kind(path) == "file", by_agent


def _removed_state(ws: _Workspace, gone: str, mutating: list[Effect]) -> tuple[bool, bool]:
    """Whether a path to move away or delete is gone, and this agent's calls removed it."""
    path = gone.rstrip("/")
    return ws.kind(path) is None, _removed(path, mutating)


# Per kind of expected path: how to read its state, and what to say when the workspace
# is not as asked, or is but this agent's journal does not show it did it.
_EXPECTED_PATHS = (
    (
        "outputs",
        _output_state,
        "{} does not exist",
        "{} exists but no tool call of this agent made it",
    ),
    (
        "modified",
        _modified_state,
        "{} does not exist",
        "{} was not changed by a tool call of this agent",
    ),
    (
        "removed",
        _removed_state,
        "{} is still there",
        "{} is gone but no tool call of this agent removed it",
    ),
)


def _check_paths(ws: _Workspace, exp: Expectation, mutating: list[Effect], f: _Findings) -> None:
    """Every path the task names is as asked (made, changed, gone), and by this agent's calls."""
    for field, state, not_there, not_by_agent in _EXPECTED_PATHS:
        for path in getattr(exp, field):
            there, by_agent = state(ws, path, mutating)
            if not there:
                f.miss(path, not_there.format(path))
            elif not by_agent:
                f.miss(path, not_by_agent.format(path))


# Per kind of words asked: where the expectation keeps them, how to check them, and
# what to say when the file is not as asked.
_WORDS = (
    ("contains", holds, "does not contain"),
    ("lacks", lacks, "still contains"),
    ("lines", on_a_line, "has no line that is just"),
    ("pairs", sets, "has no line that sets"),
    ("starts", none_start, "still has a line starting with"),
    ("ordered", in_order, "is not in this order:"),
    ("counted", counts, "does not have this many items:"),
    ("unique", unique_lines, "still has a line twice among its"),
    ("columns", column_in_order, "is not in the order of its column"),
    ("wordcounts", word_count, "does not come to this many words:"),
)


def _check_words(ws: _Workspace, exp: Expectation, f: _Findings) -> None:
    """Every file the task gives words for holds them as asked, or has lost them.

    A missing file is already reported by the path check.
    """
    for field, ok, not_so in _WORDS:
        for path, words in getattr(exp, field):
            content = ws.text(path)
            if content is None or ok(content, words):
                continue
            shown = words.replace("\0", " to ")
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            f.mismatch(path, f'{path} {not_so} "{shown}"')


def _check_whole(ws: _Workspace, mutating: list[Effect], f: _Findings) -> None:
    """No file this agent wrote stands a placeholder in for text it left out."""
    written = dict.fromkeys(e.path for e in mutating if e.op in _CONTENT_OPS)
    for path in written:
        content = ws.text(path)
        note = elided(content) if content is not None else None
        if note is not None:
            f.mismatch(path, f'{path} stands "{note[:60]}" in for text it left out')


Original = Callable[[str], str | None]
"""A file as it was before the agent first changed it, if the sandbox kept it."""


def _check_contents(
    ws: _Workspace, exp: Expectation, mutating: list[Effect], f: _Findings, original: Original
) -> None:
    """What is there holds what was asked.

    The words, the whole text, some content, sorted folders, and the rest of a file a
    targeted edit changed.
    """
    _check_words(ws, exp, f)
    _check_whole(ws, mutating, f)
    _check_filled(ws, exp, f)
    _check_kept(ws, exp, f, original)
    _check_keys(ws, exp, f, original)
    _check_layout(ws, exp, f, original)
    _check_split(ws, exp, f, original)
    _check_collected(ws, exp, f)
    _check_cleared(ws, exp, mutating, f)


_IMAGES = frozenset("jpg jpeg png gif webp heic bmp tif tiff svg".split())


def _some(items: list[str], shown: int = 5) -> str:
    """The first few items, and how many more there are."""
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def _of_kind(name: str, kind: str) -> bool:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if kind in ("any", "unsorted", "nested"):
        return not name.startswith(".")
    if kind == "image":
        return ext in _IMAGES
    return ext == kind.removeprefix("ext:") or (kind == "ext:jpg" and ext == "jpeg")


def _check_cleared(ws: _Workspace, exp: Expectation, mutating: list[Effect], f: _Findings) -> None:
    """Every file of the kind left the folder, but for files the work wrote there itself.

    "unsorted": a folder sorted into subfolders keeps no loose file; "nested": a folder
    flattened keeps no file below a subfolder.
    """
    written = {e.path for e in mutating if e.op in _CONTENT_OPS or e.op == "copy"}
    for folder, kind in exp.cleared:
        deep = folder.endswith("/**")
        top = folder.removesuffix("/**").rstrip("/") or "."
        if ws.folder(top) is None:
            continue
        files = ws.files_under(top, limit=2000) if deep or kind == "nested" else ws.files_in(top)
        if kind == "nested":
            files = [p for p in files if "/" in p[len(top) + 1 :]]
        left = [p for p in files if _of_kind(Path(p).name, kind) and p not in written]
        if kind == "unsorted" and left:
            names = [Path(p).name for p in left]
            f.mismatch(top + "/", f"{top}/ still holds files left unsorted: {_some(names)}")
        elif left:
            what = {"any": "files", "nested": "files in subfolders"}.get(kind)
            what = what or kind.removeprefix("ext:") + " files"
            f.mismatch(top + "/", f"{top}/ still holds {what} the task asked to go: {_some(left)}")


def _collected_tails(ws: _Workspace, word: str, src: str, out: str) -> list[str]:
    """What follows the word on each line of the source that holds it.

    "# TODO: fix x" gives "fix x". Lines with less than two words after the word say
    too little to look for.
    """
    case = word.lower() != word
    tails = []
    for rel in ws.files_under(src):
        for line in (ws.text(rel) or "").splitlines() if rel != out else ():
            at = line.find(word) if case else line.lower().find(word.lower())
            tail = line[at + len(word) :].strip(" \t:-#/*>") if at >= 0 else ""
            if len(tail.split()) >= 2:
                tails.append(tail)
    return tails


def _check_collected(ws: _Workspace, exp: Expectation, f: _Findings) -> None:
    """Lines collected into a file are there: each source line that holds the word."""
    for out, word, src in exp.collects:
        content = ws.text(out)
        if content is None:
            continue
        missing = [t for t in _collected_tails(ws, word, src, out) if not holds(content, t)]
        if missing:
            shown = ", ".join(repr(t[:40]) for t in missing[:3])
            f.mismatch(out, f'{out} lacks the lines with "{word}" from {src}: {shown}')


def _touch_of(exp: Expectation, path: str) -> Touch | None:
    """How a targeted task touches a file's lines; None when it reshapes the whole file."""

    def said(items: list[tuple[str, str]]) -> tuple[str, ...]:
        return tuple(w for p, w in items if p == path)

    if path.endswith(".json") or exp.reshapes or said(exp.ordered):
        return None
    pairs = [p.split("\0", 1) for p in said(exp.pairs)]
    renamed = [r.split("\0", 1) for r in said(exp.renames)]
    added = (*said(exp.contains), *said(exp.lines), *(v for _, v in pairs))
    touch = Touch(
        gone=(*said(exp.lacks), *(old for old, _ in renamed)),
        added=tuple(dict.fromkeys(added)),
        keys=tuple(w for k, _ in pairs for w in k.split()),
        starts=said(exp.starts),
    )
    named = any((touch.gone, touch.added, touch.keys, touch.starts))
    return touch if named or path in exp.added_to else None


def _check_kept(ws: _Workspace, exp: Expectation, f: _Findings, original: Original) -> None:
    """A file changed in place for a few words keeps its other lines, as they were."""
    for path in exp.modified:
        touch = _touch_of(exp, path)
        before = original(path) if touch is not None else None
        after = ws.text(path)
        if touch is None or before is None or after is None:
            continue
        lost = lost_lines(before, after, touch)
        if lost:
            shown = _some([repr(line[:40]) for line in lost], 3)
            f.mismatch(path, f"{path} did not keep the rest of its text as it was: {shown}")


def _check_keys(ws: _Workspace, exp: Expectation, f: _Findings, original: Original) -> None:
    """A JSON file changed for a few keys keeps every other key, however it is laid out."""
    for path in exp.modified if not exp.reshapes else ():
        before, after = original(path), ws.text(path)
        if not (path.endswith(".json") and before and after):
            continue
        if keys := lost_keys(before, after, exp.said):
            f.mismatch(path, f"{path} lost keys the task did not name: {_some(keys, 3)}")


def _check_split(ws: _Workspace, exp: Expectation, f: _Findings, original: Original) -> None:
    """Every line of a file split into parts is in one of the parts.

    A table's header may change, and a row may lose the one column it was split by.
    """
    for src, joined in exp.splits:
        text = original(src) or ws.text(src)
        if not text:
            continue  # deleted by the run, or empty: nothing left to compare
        table = src.lower().endswith((".csv", ".tsv"))
        parts = {_cells(ln, table=table) for p in joined.split("\0") for ln in _text_lines(ws, p)}
        lines = [ln for ln in text.splitlines() if ln.strip()][1 if table else 0 :]
        missing = [ln for ln in lines if not _in_some(_cells(ln, table=table), parts)]
        if missing:
            shown = _some([repr(ln.strip()[:40]) for ln in missing], 3)
            f.mismatch(src, f"lines of {src} are in none of its parts: {shown}")


def _text_lines(ws: _Workspace, path: str) -> list[str]:
    return (ws.text(path) or "").splitlines()


def _cells(line: str, *, table: bool) -> tuple[str, ...]:
    """A line as compared: a table row's cells, or the line's words."""
    if table:
        return tuple(c.strip() for c in re.split(r"[,\t]", line))
    return (" ".join(line.split()),)


def _in_some(cells: tuple[str, ...], lines: set[tuple[str, ...]]) -> bool:
    """Whether a part holds the row, or the row without one of its columns (the split key)."""
    if cells in lines:
        return True
    return len(cells) > 2 and any(cells[:i] + cells[i + 1 :] in lines for i in range(len(cells)))


def _check_layout(ws: _Workspace, exp: Expectation, f: _Findings, original: Original) -> None:
    """Lines only moved or commented out are all still there; new text is at the end asked."""
    for path, how in exp.keeps_lines:
        before, after = original(path), ws.text(path)
        gone = dropped(before, after, commented=how == "commented") if before and after else []
        if gone:
            shown = _some([repr(line[:40]) for line in gone], 3)
            verb = "move" if how == "moved" else "comment out"
            f.mismatch(path, f"{path} lost lines it was only to {verb}: {shown}")
    for path, end in exp.ends:
        before, after = original(path), ws.text(path)
        if before is not None and after is not None and misplaced(before, after, end):
            f.mismatch(path, f"{path} has the new text at the other end, not at the {end}")


def _looked_at(path: str, effects: Iterable[Effect], *, listing: bool = True) -> bool:
    """Whether a call read, listed, searched or acted on the path, or listed a folder above it.

    With `listing` False, a folder listed above the path is no look at it.
    """
    for e in effects:
        if not listing and e.op == "list":
            continue  # names only: no size, no total
        if _under(e.path, path) or (e.src is not None and _under(e.src, path)):
            return True
        if e.op == "list" and (e.path in (".", "") or _under(path, e.path)):
            return True
    return False


def _unread(ws: _Workspace, exp: Expectation, effects: list[Effect]) -> list[str]:
    """The paths the work had to look at, that are there, and that no call looked at."""
    unread = []
    for p in exp.sources:
        kind = ws.kind(p.rstrip("/"))
        if kind and not _looked_at(p.rstrip("/"), effects, listing=not exp.reads_files):
            unread.append(p)
    return unread


def _check_in_each(ws: _Workspace, exp: Expectation, f: _Findings) -> None:
    """A file asked in each subfolder of a folder is in every one of them."""
    for folder, name in exp.in_each:
        subs = ws.subfolders(folder.rstrip("/"))
        if lacking := [s for s in subs if ws.kind(f"{s}/{name}") != "file"]:
            f.miss(folder, f"{name} is not in {_some([s + '/' for s in lacking], 3)}")


def _check_mirrors(ws: _Workspace, exp: Expectation, f: _Findings) -> None:
    """Every file below a folder copied whole has its copy below the other.

    At the same place under it, or, where the copy was flattened, by its name.
    """
    for src, dst in exp.mirrors:
        top, copy = src.rstrip("/"), dst.rstrip("/")
        copies = {p[len(copy) + 1 :] for p in ws.files_under(copy, limit=5000)}
        names = {p.rsplit("/", 1)[-1] for p in copies}
        lacking = []
        for path in ws.files_under(top, limit=5000):
            rel = path[len(top) + 1 :]
            if rel not in copies and rel.rsplit("/", 1)[-1] not in names and not _under(path, copy):
                lacking.append(path)
        if lacking:
            f.miss(dst, f"{dst} has no copy of {_some(lacking, 3)}")


def _check_only_empty(
    exp: Expectation, mutating: list[Effect], f: _Findings, trashed: Callable[[str], Path | None]
) -> None:
    """What a task deleting the empty files or folders deleted was empty (the trash shows it)."""
    for folder in exp.only_empty:
        top = folder.rstrip("/")
        for e in mutating:
            if e.op != "delete" or not (top == "." or _under(e.path, top)):
                continue
            kept = trashed(e.path)
            if kept is not None and not held_nothing(kept):
                f.mismatch(e.path, f"{e.path} was deleted but was not empty")


def _check_touched(touched: list[str], mutating: list[Effect], f: _Findings) -> None:
    """A folder the task asks to sort or organise had something changed in it."""
    for folder in touched:
        path = folder.rstrip("/")
        if not any(_under(e.path, path) or (e.src and _under(e.src, path)) for e in mutating):
            f.miss(folder, f"nothing in {folder} was changed")


def _check_folders(
    ws: _Workspace,
    exp: Expectation,
    mutating: list[Effect],
    f: _Findings,
    trashed: Callable[[str], Path | None],
) -> None:
    """What the task asks of folders: changed, a file in each, copied whole, emptied right."""
    _check_touched(exp.touched, mutating, f)
    _check_in_each(ws, exp, f)
    _check_mirrors(ws, exp, f)
    _check_only_empty(exp, mutating, f, trashed)


def check(
    root: Path,
    exp: Expectation,
    effects: list[Effect],
    claimed: list[str],
    *,
    answered: bool = True,
    answer: str = "",
    original: Original | None = None,
    trashed: Callable[[str], Path | None] | None = None,
) -> Verification:
    """Check one agent's work in `root` against what was expected and what it claimed.

    `effects` is its tool journal; `answered` says whether it gave a final answer,
    which is all that work asking for no file change can be judged on, and `answer`
    is that answer (a decline in words is no answer).
    """
    ws = _Workspace(root)
    mutating = [e for e in effects if e.op in MUTATING_OPS]
    found = _Findings()
    _check_paths(ws, exp, mutating, found)
    _check_contents(ws, exp, mutating, found, original or (lambda _: None))
    _check_folders(ws, exp, mutating, found, trashed or (lambda _: None))
    problems = found.problems
    if exp.effects_required and not mutating:
        problems.append("the task asks for file changes and this agent's tool calls made none")
    unread = _unread(ws, exp, effects)
    if unread:
        problems.append(
            "the task asks to read or search "
            + ", ".join(unread)
            + " and no tool call of this agent looked at it"
        )
    unjournaled = [c for c in claimed if not _in_journal(c.rstrip("/") or ".", effects)]
    if unjournaled:
        problems.append(
            "the report claims changes to "
            + ", ".join(unjournaled)
            + " that no tool call of this agent touched"
        )
    mode = "files" if exp.asks_for_files else "answer_only"
    if mode == "answer_only":
        problems += _answer_problems(exp, effects, answer if answered else None)
    checked = list(
        dict.fromkeys(
            [*exp.outputs, *exp.modified, *exp.removed, *exp.touched, *claimed, *exp.sources]
        )
    )
    return Verification(
        mode=mode,
        passed=not problems,
        checked=checked,
        missing=found.missing,
        mismatched=found.mismatched,
        unjournaled=unjournaled,
        unread=unread,
        reason="; ".join(problems)
        if problems
        else ("answered; no file change was asked for" if mode == "answer_only" else ""),
    )


# A declared output a planner wrote as a pattern ("inbox/pdf/*.pdf") names no one path.
_GLOB = re.compile(r"[*?\[]")


def expectation_for(req: VerifyRequest) -> Expectation:
    """Declared outputs win; otherwise the task's wording says what to expect."""
    read = expect(task_wording(req.task))
    if REPORTS_HEADER in req.task:
        # The steps it depends on may have read them and reported what they hold.
        read.sources = []
    if req.outputs:
        paths = [norm(o) for o in req.outputs]
        read.outputs = list(dict.fromkeys(p for p in paths if p != "." and not _GLOB.search(p)))
        for pattern in paths:
            if star := _GLOB.search(pattern):
                # The folder the pattern is in must have changed.
                folder = pattern[: star.start()].rpartition("/")[0]
                if folder:
                    add_path(read.touched, folder + "/")
        read.effects_required = True
        # Words for a file the plan does not make are not this step's to check.
        read.keep_words_for(set(read.outputs) | set(read.modified))
    return read


def verify(root: Path, req: VerifyRequest) -> Verification:
    """The whole check for one agent (or one tree, for a master's goal)."""
    claimed = claimed_changes(req.report)
    return check(
        root,
        expectation_for(req),
        list(req.effects),
        claimed,
        answered=bool(req.report.strip()),
        answer=req.report,
        original=lambda rel: _kept_text(original_of(root, req.agent_id, rel)),
        trashed=lambda rel: trashed_of(root, req.agent_id, rel),
    )


def _kept_text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
