"""The simulated sub-agent: a tiny task grammar driven by file tools.

Each recipe is a function of the conversation so far (stateless): it looks at
which tools were already called and what they returned, and picks the next
step. Patterns are anchored at the start of the task description, so a
"Plan how to approach: sort the files..." task does not redo the sorting.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from agentfleet.sim.conversation import (
    Call,
    Conversation,
    directives,
    int_directive,
    strip_directives,
    text_block,
)
from agentfleet.sim.protocol import JSON

_PREFIX = r"\s*(?:please\s+)?"
_END = r"\.?(?:\s|$)"
SORT = re.compile(
    _PREFIX + r"sort\s+(?:all\s+)?(?:the\s+)?files\s+in\s+(\S+?)\s+by\s+(?:file\s+)?type\b", re.I
)
INDEX = re.compile(
    _PREFIX + r"write\s+an?\s+index\s+of\s+(\S+?)\s+(?:to|into)\s+(\S+?)" + _END, re.I
)
SUMMARIZE = re.compile(_PREFIX + r"summari[sz]e\s+(\S+?)\s+(?:into|to)\s+(\S+?)" + _END, re.I)
WRITE = re.compile(_PREFIX + r"write\s+(.+)\s+to\s+(\S+?)\.?\s*$", re.I)
CREATE = re.compile(_PREFIX + r"create\s+(?:a\s+file\s+)?(\S+)\s+containing\s+(.+?)\s*$", re.I)

Step = Callable[["Task", Conversation, list[list[Call]]], list[JSON]]


@dataclass(frozen=True)
class Task:
    title: str
    line: str  # first line of the description, directives removed
    found: dict[str, str]
    match: re.Match[str] | None = None


def parse_task(text: str) -> Task:
    lines = [ln for ln in text.strip().splitlines() if not ln.startswith("Files:")]
    title = ""
    if lines and lines[0].lower().startswith("task:"):
        title, lines = lines[0][5:].strip(), lines[1:]
    desc = "\n".join(lines).strip() or title
    line = next((ln for ln in strip_directives(desc).splitlines() if ln.strip()), "")
    title = strip_directives(title) or line[:60] or "task"
    return Task(title=title, line=line.strip(), found=directives(text))


def _path(raw: str) -> str:
    p = posixpath.normpath(raw.strip("'\"`").rstrip(".,"))
    return p if p not in ("", "/") else "."


def _join(directory: str, *parts: str) -> str:
    return posixpath.join(*parts) if directory == "." else posixpath.join(directory, *parts)


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"`":
        return text[1:-1]
    return text


def _listing(result: str, directory: str) -> tuple[list[str], list[str]]:
    """(files, dirs) from a list_files result: one root-relative path per line."""
    files: list[str] = []
    dirs: list[str] = []
    for raw in result.splitlines():
        entry = raw.strip()
        # "(empty)" and "... and N more entries" are notes, not paths.
        if not entry or entry.startswith(("(", "... ")) or entry.endswith(":"):
            continue
        is_dir = entry.endswith("/")
        entry = entry.rstrip("/")
        if directory != "." and not entry.startswith(directory + "/"):
            entry = _join(directory, entry)
        (dirs if is_dir else files).append(entry)
    return files, dirs


def _ext(path: str) -> str:
    suffix = posixpath.splitext(posixpath.basename(path))[1]
    return suffix[1:].lower() if len(suffix) > 1 else "other"


def _last(turns: list[list[Call]], name: str) -> Call | None:
    calls = [c for c in turns[-1] if c.name == name] if turns else []
    return calls[-1] if calls else None


def _sort(task: Task, convo: Conversation, turns: list[list[Call]]) -> list[JSON]:
    assert task.match is not None
    directory = _path(task.match.group(1))
    if not turns:
        return [convo.tool_use(0, "list_files", {"path": directory, "recursive": False})]
    listed = _last(turns, "list_files")
    if listed is None:
        moves = [c for c in turns[-1] if c.name == "move_file"]
        folders = sorted(
            posixpath.basename(str(c.input.get("path", "")))
            for c in turns[-1]
            if c.name == "make_dir"
        )
        return [
            text_block(
                f"Sorted {len(moves)} files in {directory} into {len(folders)} folders: "
                + ", ".join(folders)
            )
        ]
    files, _ = _listing(listed.result, directory)
    parent = "" if directory == "." else directory
    files = sorted(f for f in files if posixpath.dirname(f) == parent)
    if not files:
        return [text_block(f"Sorted 0 files in {directory} into 0 folders: nothing to sort.")]
    exts = sorted({_ext(f) for f in files})
    calls = [("make_dir", {"path": _join(directory, e)}) for e in exts] + [
        ("move_file", {"src": f, "dst": _join(directory, _ext(f), posixpath.basename(f))})
        for f in files
    ]
    return [convo.tool_use(i, name, args) for i, (name, args) in enumerate(calls)]


def _index(task: Task, convo: Conversation, turns: list[list[Call]]) -> list[JSON]:
    assert task.match is not None
    directory, target = _path(task.match.group(1)), _path(task.match.group(2))
    if not turns:
        return [convo.tool_use(0, "list_files", {"path": directory, "recursive": True})]
    listed = _last(turns, "list_files")
    if listed is not None:
        files, dirs = _listing(listed.result, directory)
        # The index itself is left out, so a rerun writes identical content.
        entries = sorted(e for e in files + [d + "/" for d in dirs] if e != target)
        body = f"# Index of {directory}\n\n" + "".join(f"- {e}\n" for e in entries)
        return [convo.tool_use(0, "write_file", {"path": target, "content": body})]
    return [text_block(f"Wrote an index of {directory} to {target}.")]


def _summarize(task: Task, convo: Conversation, turns: list[list[Call]]) -> list[JSON]:
    assert task.match is not None
    source, target = _path(task.match.group(1)), _path(task.match.group(2))
    if not turns:
        return [convo.tool_use(0, "read_file", {"path": source})]
    read = next((c for t in turns for c in t if c.name == "read_file"), None)
    words = len(read.result.split()) if read else 0
    if _last(turns, "read_file") is not None and read is not None:
        first = next((ln.strip() for ln in read.result.splitlines() if ln.strip()), "(empty)")
        summary = f"# Summary of {source}\n\n{first}\n\n({words} words)"
        return [convo.tool_use(0, "write_file", {"path": target, "content": summary})]
    return [text_block(f"Summarized {source} ({words} words) into {target}.")]


def _write(path: str, content: str) -> Step:
    def step(task: Task, convo: Conversation, turns: list[list[Call]]) -> list[JSON]:
        if not turns:
            return [convo.tool_use(0, "write_file", {"path": path, "content": content})]
        return [text_block(f"Wrote {len(content)} characters to {path}.")]

    return step


def _answer(task: Task, convo: Conversation, turns: list[list[Call]]) -> list[JSON]:
    return [text_block(f"Simulated answer: {task.title}")]


def _busy(task: Task, convo: Conversation, turns: list[list[Call]], wanted: int) -> list[JSON]:
    # Counted from the history sent back: a client that trims history will
    # see this agent run until its own turn cap stops it.
    if len(turns) < wanted:
        return [convo.tool_use(0, "list_files", {"path": ".", "recursive": False})]
    return [text_block(f"Simulated answer: {task.title} (after {wanted} turns)")]


def _recipe(task: Task) -> tuple[Step, Task]:
    line = task.line
    for pattern, step in ((SORT, _sort), (INDEX, _index), (SUMMARIZE, _summarize)):
        m = pattern.match(line)
        if m:
            return step, Task(task.title, line, task.found, m)
    if m := WRITE.match(line):
        return _write(_path(m.group(2)), _unquote(m.group(1))), task
    if m := CREATE.match(line):
        return _write(_path(m.group(1)), _unquote(m.group(2))), task
    return _answer, task


def reply(convo: Conversation) -> list[JSON]:
    task = parse_task(convo.first_user_text)
    turns = convo.tool_turns()
    failed = next((c for t in turns for c in t if c.is_error), None)
    if failed is not None:
        # Report and stop: a model that retries a failing call forever would
        # only burn the turn budget.
        detail = failed.result.strip().splitlines()[0] if failed.result.strip() else "no detail"
        return [text_block(f"Could not finish '{task.title}': {failed.name} failed: {detail}")]
    wanted_turns = int_directive(task.found, "turns")
    if wanted_turns:
        out = _busy(task, convo, turns, wanted_turns)
    else:
        step, task = _recipe(task)
        out = step(task, convo, turns)
    missing = sorted({b["name"] for b in out if b["type"] == "tool_use"} - convo.tool_names)
    if missing:
        return [
            text_block(
                f"Simulated answer: {task.title} (cannot act: tool {', '.join(missing)} "
                "was not offered)"
            )
        ]
    return out
