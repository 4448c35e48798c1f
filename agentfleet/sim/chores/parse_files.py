"""Parsers for the phrasings that change named files.

Copy, move, rename, delete, make folders, append (writes and edits have modules of their own). Each
takes (clause, context, produce) and returns an operation, or None when the clause is not of its
family.
"""

from __future__ import annotations

import posixpath
import re

from agentfleet.sim.chores.base import Op
from agentfleet.sim.chores.batch import ForEach
from agentfleet.sim.chores.content import content_of
from agentfleet.sim.chores.files import Append, Copy, Delete, MakeDirs, Move, into
from agentfleet.sim.chores.phrases import (
    ART,
    FLAGS,
    FOLDER,
    NEW,
    P,
    clause,
    dest,
    many,
    names,
    phrasing,
)
from agentfleet.sim.chores.text import Context, clean_path, looks_like_file

# Copy and move sources are greedy, so "all .txt files in inbox into texts/"
# splits at the last preposition, not at the "in" of the source.


_COPY_TO = clause(
    r"^(?:copy|duplicate|back\s+up)\s+(?P<src>.+)\s+(?:into|to|as|in|inside|under)\s+"
    r"(?P<dst>.+)$"
)
_COPY_OF_CALLED = clause(
    r"^(?:make|create)\s+(?:an?\s+)?(?:copy|backup|duplicate)\s+of\s+(?P<src>.+?)\s+"
    r"(?:called|named|as|at|in|into|to)\s+(?P<dst>.+)$"
)
_BACKUP_OF = clause(
    rf"^(?:(?:make|create)\s+(?:an?\s+)?(?:copy|backup)\s+of|back\s+up)\s+(?P<src>{P})$"
)


def copy(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "Copy a.txt to backup/": a `Copy` or, for many files, a `ForEach`.

    Also "make a copy of a.txt called b.txt".
    """
    m = _COPY_TO.match(s) or _COPY_OF_CALLED.match(s)
    if not m:
        b = _BACKUP_OF.match(s)
        return Copy(clean_path(b.group("src")), clean_path(b.group("src")) + ".bak") if b else None
    dst, is_dir = dest(m.group("dst"))
    if found := many(m.group("src")):
        return ForEach("copy", found[0], dst, found[1])
    src = clean_path(re.sub(r"^(?:the\s+file\s+)", "", m.group("src"), flags=re.I))
    return Copy(src, into(dst, src) if is_dir else dst)


@phrasing(
    r"^(?P<verb>move|mv|shift|relocate|transfer|put|place|stick|drop)\s+(?P<src>.+)\s+"
    r"(?:into|to|in|inside|under|over\s+to)\s+(?P<dst>.+)$",
)
def move(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "Move a.txt into archive/", "put all the logs in old/": a `Move` or a `ForEach`."""
    dst, is_dir = dest(m.group("dst"))
    found = many(m.group("src"))
    src = clean_path(re.sub(r"^(?:the\s+(?:file|folder)\s+)", "", m.group("src"), flags=re.I))
    # "Put hello into a.txt" is a write: only a file put into a folder is a move.
    if m.group("verb").lower() in ("put", "place", "stick", "drop") and not (
        is_dir and (found or (looks_like_file(src) and " " not in src))
    ):
        return None
    if found:
        return ForEach("move", found[0], dst, found[1])
    return Move(src, into(dst, src) if is_dir else dst)


@phrasing(
    rf"^rename\s+(?:the\s+(?:file|folder)\s+)?(?P<src>{P})\s+(?:to|as|into)\s+(?P<dst>{P})$",
)
def rename(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "Rename a.txt to b.txt".

    A `Move` that stays in the file's folder unless told otherwise.
    """
    src, dst = clean_path(m.group("src")), clean_path(m.group("dst"))
    if "/" not in dst:
        dst = into(posixpath.dirname(src) or ".", dst)
    return Move(src, dst, verb="Renamed")


@phrasing(
    r"^(?:delete|remove|erase|trash|rm|get\s+rid\s+of|throw\s+away|discard)\s+"
    r"(?P<rest>.+)$",
)
def delete(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "Delete a.txt", "remove all the .tmp files in build": a `Delete` or a `ForEach`."""
    if found := many(m.group("rest")):
        return ForEach("delete", found[0], None, found[1])
    rest = re.sub(r"^(?:the\s+)?(?:files?\s+)?", "", m.group("rest"), flags=re.I)
    # "the tmp folder", "the folder tmp": the folder is tmp.
    named = [re.sub(rf"^{FOLDER}\s+|\s+{FOLDER}$", "", n, flags=re.I) for n in names(rest)]
    return Delete(tuple(clean_path(n) for n in named))


_COUNT = (
    r"(?:(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|(?:a\s+)?few"
    r"|(?:a\s+)?couple(?:\s+of)?|some|several|more)\s+)?"
)


_MKDIR = clause(r"^mkdir\s+(?:-p\s+)?(?P<names>.+)$")
_MAKE_SLASHED = clause(rf"^(?:create|make)\s+{ART}{NEW}(?P<names>[^\s,;]+/)$")


def folder(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "Create folders src and tests", "make a folder called x in y": a `MakeDirs`."""
    verb = r"(?:create|make|add|set\s+up|mkdir|build|prepare|start)"
    where = rf"(?:\s+(?:in|inside|under|within)\s+{ART}(?:{FOLDER}\s+)?(?P<parent>{P}))?"
    listed = rf"{P}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+){P})*"
    m = (
        re.match(
            rf"^{verb}\s+{ART}{_COUNT}{NEW}{FOLDER}\s*[:,]?\s+(?:(?:called|named|titled|for)\s+)?"
            rf":?\s*(?P<names>.+?){where}$",
            s,
            FLAGS,
        )
        or re.match(rf"^{verb}\s+{ART}{NEW}(?P<names>{listed})\s+{FOLDER}{where}$", s, FLAGS)
        # "a new project folder called site": the words before "folder" describe it.
        or re.match(
            rf"^{verb}\s+{ART}{NEW}(?:[\w-]+\s+){{1,2}}{FOLDER}\s+(?:called|named|titled)\s+"
            rf"(?P<names>.+?){where}$",
            s,
            FLAGS,
        )
        or _MKDIR.match(s)
        or _MAKE_SLASHED.match(s)
    )
    if not m:
        return None
    made = names(m.group("names"))
    parent = m.groupdict().get("parent")
    if parent:
        made = tuple(into(clean_path(parent), n) for n in made)
    return MakeDirs(made)


@phrasing(
    rf"^(?:append|add|put)\s+(?P<c>.+?)\s+(?:to|onto|on)\s+(?:the\s+(?:end|bottom)\s+of\s+)?"
    r"(?:(?:the|my|our|that)\s+(?:[\w-]+\s+){0,3}?(?:in|at|of|inside|from)\s+)?"
    rf"(?:the\s+file\s+)?(?P<t>{P})$",
    rf"^(?:append|add)\s+to\s+(?P<t>{P})\s*:?\s+(?P<c>.+)$",
)
def append(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "Append 'milk' to list.txt", "add to notes.md: ...": an `Append`."""
    # "to the guest list in guests.txt": the words before the file say which
    # part of it the text joins, and the end of the file is where it goes.
    if not (looks_like_file(clean_path(m.group("t"))) or m.string.lower().startswith("append")):
        return None
    if m.group(0).lower().startswith("put") and not re.search(r"\s(?:on|onto)\s", m.string, re.I):
        return None
    return Append(clean_path(m.group("t")), content_of(m.group("c")))
