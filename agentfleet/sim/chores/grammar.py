"""From a request's words to operations: the common file-chore phrasings.

One parser per family (parse_survey.py, parse_files.py), tried in a fixed
order here: the more specific first, since an index is also a "write" and a
folder is also a "create". The planner reads a
goal with the same grammar, so the outputs it promises are the ones an agent
will make.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import replace

from agentfleet.sim.chores import parse_edit, parse_files, parse_search, parse_survey, parse_write
from agentfleet.sim.chores.answers import Answer, Cannot, Check, PlanSteps, Say
from agentfleet.sim.chores.base import Op
from agentfleet.sim.chores.batch import ForEach, Sort
from agentfleet.sim.chores.content import is_reference
from agentfleet.sim.chores.edits import Rewrite
from agentfleet.sim.chores.files import Append, Copy, MakeDirs, Move, Write
from agentfleet.sim.chores.phrases import Parser
from agentfleet.sim.chores.search import CollectLines, FindFiles
from agentfleet.sim.chores.survey import Index, ListFiles, ReadFile, Summarize
from agentfleet.sim.chores.text import Context, clauses, join, plainly, resolve

PLAN_PREFIX = "plan how to approach:"
CHECK_PREFIX = "validate that every part of the goal was done:"

_FILE_VERBS = re.compile(
    r"\b(?:write|create|make|save|put|store|move|rename|copy|append|add|delete|remove|edit"
    r"|replace|sort|index|summari[sz]e|folders?|director(?:y|ies)|files?)\b",
    re.IGNORECASE,
)
_QUESTION = re.compile(
    r"^(?:what|why|how|who|when|where|which|explain|describe|define|tell\s+me|is|are|can"
    r"|does|do|should|could|would)\b",
    re.IGNORECASE,
)


# --- one parser per family: (clause, context, produce) -> op or None ---------------------


def _question(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    return Answer(s) if s.endswith("?") or _QUESTION.match(s) else None


PARSERS: tuple[Parser, ...] = (
    parse_survey.sort,
    parse_survey.index,
    parse_survey.summarize,
    parse_search.collect_lines,
    parse_search.find_files,
    parse_survey.list_files,
    parse_files.copy,
    parse_files.move,
    parse_files.rename,
    parse_files.delete,
    parse_edit.fix_typo,
    parse_edit.set_value,
    parse_write.overwrite,
    parse_edit.edit,
    parse_files.folder,
    parse_files.append,
    parse_write.write,
    parse_survey.read,
    _question,
)


def _attach(prev: Op, target: str) -> Op | None:
    """For "...and save it as T": the earlier clause's result goes into T."""
    if isinstance(prev, Summarize) and prev.target is None:
        return Summarize(prev.source, target, prev.sentences)
    if isinstance(prev, ListFiles) and prev.target is None:
        return ListFiles(prev.directory, prev.recursive, target)
    if isinstance(prev, Index) and not prev.named:
        return Index(prev.scope, target)
    if isinstance(prev, FindFiles | CollectLines) and prev.target is None:
        return replace(prev, target=target)
    if isinstance(prev, Say):
        return Write(target, prev.text)
    if isinstance(prev, ReadFile):
        return Copy(prev.path, target)
    return None


def _remember(op: Op, ctx: Context) -> None:
    if isinstance(op, MakeDirs):
        ctx.saw_dir(op.paths[-1])
    elif isinstance(op, ForEach) and op.dest:
        ctx.saw_dir(op.dest)
        ctx.last_group = op.dest
    elif isinstance(op, Sort):
        ctx.saw_dir(op.directory)
        ctx.last_group = op.directory
    elif isinstance(op, Write | Append | Rewrite | ReadFile):
        ctx.saw_file(op.path)
    elif isinstance(op, Move | Copy):
        ctx.saw_file(op.dst)
    elif isinstance(op, Summarize | Index) and op.target:
        ctx.saw_file(op.target)


_UNRESOLVED = frozenset({"it", "that", "this", "them", "there", "those", "these"})


def _dangling(op: Op) -> bool:
    """A path that is still a pronoun: "rename it" with nothing named before."""
    paths = [*op.reads(), *op.outputs()]
    return any(part in _UNRESOLVED for p in paths for part in p.lower().strip("/").split("/"))


def parse_clause(clause: str, ctx: Context, produce: tuple[str, ...] = ()) -> Op:
    """The operation one clause asks for; `Cannot` when no phrasing the grammar knows fits it."""
    s = plainly(resolve(clause, ctx))
    for parser in PARSERS:
        op = parser(s, ctx, produce)
        if op is not None:
            return Cannot(s) if _dangling(op) else op
    # "Create folder x and then a file called x/a.txt ...": the verb serves both.
    if re.match(r"^(?:an?|another|one|the)\s+(?:\w+\s+)?(?:file|folder|director)", s, re.I):
        op = parse_clause(f"create {s}", ctx, produce)
        if not isinstance(op, Cannot):
            return op
    return Cannot(s, asks_for_files=bool(_FILE_VERBS.search(s) or re.search(r"\w\.\w|/", s)))


def final_outputs(ops: list[Op]) -> tuple[str, ...]:
    """What should exist once every clause ran.

    A file a later clause moved or renamed away is no longer expected where it was first written.
    """
    wanted: dict[str, None] = {}
    for op in ops:
        if isinstance(op, Move):
            wanted.pop(op.src, None)
        wanted.update(dict.fromkeys(op.outputs()))
    return tuple(wanted)


def parse_request(text: str, produce: tuple[str, ...] = (), ctx: Context | None = None) -> list[Op]:
    """The operations a request asks for, in order."""
    low = text.strip().lower()
    if low.startswith(PLAN_PREFIX):
        goal = text.strip()[len(PLAN_PREFIX) :]
        return [PlanSteps(tuple(op.step() for op in parse_request(goal)))]
    if low.startswith(CHECK_PREFIX):
        goal = text.strip()[len(CHECK_PREFIX) :]
        return [Check(final_outputs(parse_request(goal)))]
    ctx = ctx if ctx is not None else Context()
    ops: list[Op] = []
    for clause in clauses(text):
        op = parse_clause(clause, ctx, produce)
        if isinstance(op, Write) and is_reference(op.content) and not _quoted(op.content, clause):
            attached = _attach(ops[-1], op.path) if ops else None
            if attached is None:
                # "Write their names to found.txt" with nothing named before: the
                # words are not the text, and guessing what they meant is not work.
                op = Cannot(clause)
            else:
                ops[-1] = op = attached
                _remember(op, ctx)
                continue
        _remember(op, ctx)
        ops.append(op)
    ops = _read_once(ops)
    if any(op.outputs() for op in ops):
        ops = [saved_summary(op) for op in ops]
    return ops


def saved_summary(op: Op) -> Op:
    """A summary asked for among file chores goes into a file next to its source.

    The agent's last message reports changes, and the user reads it as one line.
    """
    if isinstance(op, Summarize) and op.target is None:
        stem = posixpath.splitext(posixpath.basename(op.source))[0]
        where = join(posixpath.dirname(op.source), f"{stem}-summary.md")
        return Summarize(op.source, where, op.sentences)
    return op


def _quoted(text: str, clause: str) -> bool:
    return any(f"{q}{text}{q}" in clause for q in "'\"`")


def _read_once(ops: list[Op]) -> list[Op]:
    """For "Read a.txt and summarize it": the summary reads it; a model reads once."""
    return [
        op
        for i, op in enumerate(ops)
        if not (
            isinstance(op, ReadFile)
            and i + 1 < len(ops)
            and op.path in ops[i + 1].reads()
            and not isinstance(ops[i + 1], ReadFile)
        )
    ]
