"""Parsers for the phrasings that change named files: copy, move, rename,
delete, edit, make folders, append, write. Each takes (clause, context,
produce) and returns an operation, or None when the clause is not of its family.
"""

from __future__ import annotations

import posixpath
import re

from agentfleet.sim.chores.answers import Say
from agentfleet.sim.chores.base import Op
from agentfleet.sim.chores.batch import ForEach
from agentfleet.sim.chores.content import content_of, is_generated, unquote
from agentfleet.sim.chores.files import Append, Copy, Delete, Edit, MakeDirs, Move, Write, into
from agentfleet.sim.chores.phrases import ART, FLAGS, FOLDER, NAMED, NEW, P, dest, many, names
from agentfleet.sim.chores.text import Context, clean_path, looks_like_file

# Copy and move sources are greedy, so "all .txt files in inbox into texts/"
# splits at the last preposition, not at the "in" of the source.


def copy(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(
        r"^(?:copy|duplicate|back\s+up)\s+(?P<src>.+)\s+(?:into|to|as|in|inside|under)\s+"
        r"(?P<dst>.+)$",
        s,
        FLAGS,
    ) or re.match(
        r"^(?:make|create)\s+(?:an?\s+)?(?:copy|backup|duplicate)\s+of\s+(?P<src>.+?)\s+"
        r"(?:called|named|as|at|in|into|to)\s+(?P<dst>.+)$",
        s,
        FLAGS,
    )
    if not m:
        b = re.match(
            rf"^(?:(?:make|create)\s+(?:an?\s+)?(?:copy|backup)\s+of|back\s+up)\s+(?P<src>{P})$",
            s,
            FLAGS,
        )
        return Copy(clean_path(b.group("src")), clean_path(b.group("src")) + ".bak") if b else None
    dst, is_dir = dest(m.group("dst"))
    if found := many(m.group("src")):
        return ForEach("copy", found[0], dst, found[1])
    src = clean_path(re.sub(r"^(?:the\s+file\s+)", "", m.group("src"), flags=re.I))
    return Copy(src, into(dst, src) if is_dir else dst)


def move(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(
        r"^move\s+(?P<src>.+)\s+(?:into|to|in|inside|under|over\s+to)\s+(?P<dst>.+)$", s, FLAGS
    )
    if not m:
        return None
    dst, is_dir = dest(m.group("dst"))
    if found := many(m.group("src")):
        return ForEach("move", found[0], dst, found[1])
    src = clean_path(re.sub(r"^(?:the\s+(?:file|folder)\s+)", "", m.group("src"), flags=re.I))
    return Move(src, into(dst, src) if is_dir else dst)


def rename(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(
        rf"^rename\s+(?:the\s+(?:file|folder)\s+)?(?P<src>{P})\s+(?:to|as|into)\s+(?P<dst>{P})$",
        s,
        FLAGS,
    )
    if not m:
        return None
    src, dst = clean_path(m.group("src")), clean_path(m.group("dst"))
    if "/" not in dst:
        dst = into(posixpath.dirname(src) or ".", dst)
    return Move(src, dst, verb="Renamed")


def delete(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(r"^(?:delete|remove|erase|trash|rm)\s+(?P<rest>.+)$", s, FLAGS)
    if not m:
        return None
    if found := many(m.group("rest")):
        return ForEach("delete", found[0], None, found[1])
    rest = re.sub(r"^(?:the\s+)?(?:files?\s+)?", "", m.group("rest"), flags=re.I)
    # "the tmp folder and everything in it" is one folder, deleted whole.
    rest = re.sub(
        r"\s+(?:and|with)\s+(?:everything|all(?:\s+of\s+it)?|its\s+contents|all\s+its\s+files)"
        r"(?:\s+(?:in|inside)\s+it)?$",
        "",
        rest,
        flags=re.I,
    )
    rest = re.sub(r"^(?P<n>[^\s,;]+)\s+(?:folder|directory)$", r"\g<n>", rest, flags=re.I)
    return Delete(names(rest))


# Misspellings a model corrects without being told the right word.
TYPOS = {
    "teh": "the",
    "adn": "and",
    "taht": "that",
    "wiht": "with",
    "thier": "their",
    "recieve": "receive",
    "seperate": "separate",
    "occured": "occurred",
    "definately": "definitely",
    "untill": "until",
}


def where(s: str, ctx: Context) -> bool:
    """ "In config.ini," before the change it is about: remembered, not an op."""
    m = re.match(rf"^in\s+(?:the\s+file\s+)?(?P<t>{P})$", s.strip().rstrip(",:"), FLAGS)
    if m and looks_like_file(m.group("t")):
        ctx.last_file = clean_path(m.group("t"))
        return True
    return False


def edit(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(
        rf"^(?:replace|change|substitute|swap)\s+(?P<old>.+?)\s+(?:with|to|by|for)\s+"
        rf"(?P<new>.+?)\s+in\s+(?:the\s+file\s+)?(?P<t>{P})$",
        s,
        FLAGS,
    ) or re.match(
        rf"^in\s+(?P<t>{P}),?\s+(?:replace|change)\s+(?P<old>.+?)\s+(?:with|to|by)\s+(?P<new>.+)$",
        s,
        FLAGS,
    )
    if m:
        old = re.sub(
            r"^(?:every|each|all(?:\s+the)?|all\s+occurrences\s+of)\s+", "", m.group("old")
        )
        return Edit(clean_path(m.group("t")), unquote(old), unquote(m.group("new")))
    # "change the port from 8080 to 9090 (in config.ini)": the file may be the clause before.
    f = re.match(
        rf"^(?:change|update|set|switch)\s+(?:the\s+)?[\w -]{{0,40}}?\s*from\s+(?P<old>{P})\s+"
        rf"to\s+(?P<new>{P})(?:\s+in\s+(?:the\s+file\s+)?(?P<t>{P}))?$",
        s,
        FLAGS,
    )
    target = (f.group("t") or ctx.last_file) if f else None
    if f and target:
        return Edit(clean_path(target), unquote(f.group("old")), unquote(f.group("new")))
    t = re.match(
        rf"^(?:fix|correct)\s+(?:the\s+)?(?:typo|misspelling|spelling(?:\s+mistake)?|mistake)\s+"
        rf"(?P<old>{P})(?:\s+(?:to|as|with)\s+(?P<new>{P}))?\s+in\s+(?:the\s+file\s+)?(?P<t>{P})$",
        s,
        FLAGS,
    )
    if t:
        old = unquote(t.group("old"))
        new = unquote(t.group("new")) if t.group("new") else TYPOS.get(old.lower())
        if new:
            return Edit(clean_path(t.group("t")), old, new)
    w = re.match(
        rf"^(?:edit|update|change|rewrite)\s+(?P<t>{P})\s+(?:so\s+(?:that\s+)?it\s+"
        r"(?:says|reads|contains)|to\s+(?:say|read|contain))\s+(?P<c>.+)$",
        s,
        FLAGS,
    )
    return Write(clean_path(w.group("t")), content_of(w.group("c"))) if w else None


def folder(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    verb = r"(?:create|make|add|set\s+up|mkdir)"
    where = rf"(?:\s+(?:in|inside|under|within)\s+{ART}(?:{FOLDER}\s+)?(?P<parent>{P}))?"
    m = (
        re.match(rf"^{verb}\s+{ART}{NEW}{FOLDER}\s+{NAMED}(?P<names>.+?){where}$", s, FLAGS)
        or re.match(rf"^{verb}\s+{ART}{NEW}(?P<names>{P})\s+{FOLDER}{where}$", s, FLAGS)
        or re.match(r"^mkdir\s+(?:-p\s+)?(?P<names>.+)$", s, FLAGS)
        or re.match(rf"^(?:create|make)\s+{ART}{NEW}(?P<names>[^\s,;]+/)$", s, FLAGS)
    )
    if not m:
        return None
    made = names(m.group("names"))
    parent = m.groupdict().get("parent")
    if parent:
        made = tuple(into(clean_path(parent), n) for n in made)
    return MakeDirs(made)


def append(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    m = re.match(
        rf"^(?:append|add)\s+(?P<c>.+?)\s+(?:to|onto)\s+(?:the\s+end\s+of\s+)?"
        rf"(?:the\s+file\s+)?(?P<t>{P})$",
        s,
        FLAGS,
    ) or re.match(rf"^append\s+to\s+(?P<t>{P})\s*:?\s+(?P<c>.+)$", s, FLAGS)
    return Append(clean_path(m.group("t")), content_of(m.group("c"))) if m else None


_MAKERS = r"(?:create|make|write|save|add|generate|put\s+together)"


def write(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    file_word = rf"{ART}{NEW}(?:(?:text\s+|markdown\s+)?file\s+{NAMED})?"
    m = re.match(
        rf"^{_MAKERS}\s+{file_word}(?P<t>{P})\s+(?:containing|that\s+contains|with\s+(?:the\s+)?"
        r"(?:content|contents|text|line|words?)|with|that\s+says|saying|which\s+says|reading)"
        r"\s*:?\s+(?P<c>.+)$",
        s,
        FLAGS,
    )
    if m and (looks_like_file(m.group("t")) or re.search(r"\bfile\b", s[: m.start("t")], re.I)):
        return Write(clean_path(m.group("t")), content_of(m.group("c")))
    e = re.match(rf"^(?:{_MAKERS}|touch)\s+{file_word}(?P<t>{P})$", s, FLAGS)
    if e and looks_like_file(e.group("t")):
        return Write(clean_path(e.group("t")), "")
    w = re.match(
        r"^(?:write|put|save|store|create|make|generate|compose|draft|produce|type|insert|place"
        r"|record|jot\s+down|output)\s+(?P<c>.+?)\s+(?:to|into|in|as|inside|at|under)\s+"
        rf"(?:{file_word})?(?P<t>{P})$",
        s,
        FLAGS,
    )
    if w:
        return Write(clean_path(w.group("t")), content_of(w.group("c")))
    g = re.match(r"^(?:write|compose|draft|generate|create|make)\s+(?P<c>.+)$", s, FLAGS)
    if g and is_generated(g.group("c")):
        text = content_of(g.group("c"))
        files = [p for p in produce if not p.endswith("/")]
        return Write(clean_path(files[0]), text) if len(files) == 1 else Say(text)
    return None
