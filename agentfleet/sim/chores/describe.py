"""A step written out as a request that stands on its own.

The planner hands each part of a goal to an agent that never saw the rest,
so "write papers/INDEX.md listing them" must become "Write an index of
inbox/ to papers/INDEX.md". Each sentence here reads back, through the same
grammar, as the operation it came from (tests hold that round trip).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentfleet.sim.chores.base import Op, series
from agentfleet.sim.chores.batch import ForEach, Sort
from agentfleet.sim.chores.edits import Edit, FixTypo, SetValue
from agentfleet.sim.chores.files import Append, Copy, MakeDirs, Move, Write
from agentfleet.sim.chores.search import CollectLines, FindFiles
from agentfleet.sim.chores.survey import Index, ListFiles, ReadFile, Summarize


def _folder(path: str) -> str:
    return "the top folder" if path in (".", "") else f"{path}/"


def _quote(text: str) -> str | None:
    # Text with a newline or its own quotes does not fit in one quoted phrase.
    return None if "\n" in text.strip() or "'" in text else f"'{text}'"


def _write(op: Write) -> str | None:
    if not op.content:
        return f"Create an empty file called {op.path}"
    quoted = _quote(op.content)
    return f"Write {quoted} to {op.path}" if quoted else None


def _append(op: Append) -> str | None:
    quoted = _quote(op.text)
    return f"Append {quoted} to {op.path}" if quoted else None


def _summarize(op: Summarize) -> str:
    count = f" in {op.sentences} sentences" if op.sentences else ""
    into = f" into {op.target}" if op.target else ""
    return f"Summarize {op.source}{count}{into}"


def _for_each(op: ForEach) -> str:
    kind = f".{op.ext} files" if op.ext else "files"
    where = f" into {op.dest}/" if op.dest else ""
    return f"{op.mode.capitalize()} all the {kind} in {_folder(op.source)}{where}"


def _edit(op: Edit) -> str | None:
    if op.near:
        return f"Change the {op.near} from {op.old} to {op.new} in {op.path}"
    old, new = _quote(op.old), _quote(op.new)
    return f"Replace {old} with {new} in {op.path}" if old and new else None


def _fix(op: FixTypo) -> str:
    if op.word is None:
        return f"Fix the typos in {op.path}"
    fixed = f" -> '{op.fixed}'" if op.fixed else ""
    return f"Fix the typo '{op.word}'{fixed} in {op.path}"


def _index(op: Index) -> str:
    what = "everything" if op.scope in (".", "") else f"{op.scope}/"
    return f"Write an index of {what} to {op.target}"


def _list(op: ListFiles) -> str:
    into = f" into {op.target}" if op.target else ""
    return f"List {'all' if op.recursive else 'the'} files in {_folder(op.directory)}{into}"


def _find(op: FindFiles) -> str:
    files = f"the files in {_folder(op.scope)} that mention '{op.pattern}'"
    return f"Write the names of {files} to {op.target}" if op.target else f"Find {files}"


def _collect(op: CollectLines) -> str:
    into = f" into {op.target}" if op.target else ""
    return f"Collect every line with '{op.pattern}' from {_folder(op.scope)}{into}"


def _make_dirs(op: MakeDirs) -> str:
    return f"Create the folders {series(list(op.paths))}"


def _move(op: Move) -> str:
    return f"{'Rename' if op.verb == 'Renamed' else 'Move'} {op.src} to {op.dst}"


def _sort(op: Sort) -> str:
    return f"Sort the files in {_folder(op.directory)} by {'topic' if op.by_topic else 'type'}"


# One sentence per kind of op; a kind not here is not put into words.
_SENTENCES: dict[type[Op], Callable[[Any], str | None]] = {
    Write: _write,
    Append: _append,
    MakeDirs: _make_dirs,
    Move: _move,
    Copy: lambda op: f"Copy {op.src} to {op.dst}",
    Sort: _sort,
    ForEach: _for_each,
    Edit: _edit,
    FixTypo: _fix,
    SetValue: lambda op: f"Set the {op.key} to {op.value} in {op.path}",
    Summarize: _summarize,
    Index: _index,
    ListFiles: _list,
    ReadFile: lambda op: f"Read {op.path}",
    FindFiles: _find,
    CollectLines: _collect,
}


def describe(op: Op) -> str | None:
    """The op as one imperative sentence, or None when words would lose something."""
    say = next((_SENTENCES[k] for k in type(op).__mro__ if k in _SENTENCES), None)
    return say(op) if say else None


def describe_all(ops: list[Op]) -> str | None:
    """The ops as one request of sentences, or None when one of them cannot be said in words."""
    said = [describe(op) for op in ops]
    if not said or any(s is None for s in said):
        return None
    return ". ".join(s for s in said if s)
