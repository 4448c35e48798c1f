"""Parsers for the phrasings that write a whole file.

Text into a file, an empty file, a list of lines, new content over old, a document for a subject.
Each takes (clause, context, produce) and returns an operation, or None.
"""

from __future__ import annotations

import re

from agentfleet.sim.chores.answers import Say
from agentfleet.sim.chores.base import Op
from agentfleet.sim.chores.content import LINEWISE, content_of, is_generated, items_of, line_items
from agentfleet.sim.chores.files import Write
from agentfleet.sim.chores.phrases import ART, FLAGS, FOLDER, NAMED, NEW, P, clause
from agentfleet.sim.chores.text import Context, clean_path, join, looks_like_file
from agentfleet.sim.chores.writing import document

_MAKERS = r"(?:create|make|write|save|add|generate|put\s+together)"
FILE_WORD = rf"{ART}{NEW}(?:(?:text\s+|markdown\s+)?file\s+{NAMED})?"
IN_DIR = rf"\s+(?:in|inside|under|within|into|to)\s+{ART}(?:{FOLDER}\s+)?(?P<d>{P})(?:\s+{FOLDER})?"
# What may follow the target: how the text is laid out, or the text itself.
_TAIL = rf"(?P<tail>,?\s+(?:{LINEWISE.pattern}).*|\s*:\s*\S.*)?"
_WHOLE = (
    r"(?:whatever(?:'s|\s+is)|what(?:'s|\s+is)|everything|all\s+(?:of\s+)?(?:the\s+)?"
    r"(?:text|contents?)|the\s+(?:whole\s+|entire\s+|current\s+)?(?:contents?|text)|all)"
)


_CONTAINING = clause(
    rf"^{_MAKERS}\s+{FILE_WORD}(?P<t>{P})\s+(?:containing|that\s+contains|with\s+(?:the\s+)?"
    r"(?:content|contents|text|line|words?)|with|that\s+says|saying|which\s+says|reading)"
    r"\s*:?\s+(?P<c>.+)$"
)


def _containing(s: str) -> Op | None:
    m = _CONTAINING.match(s)
    if m and (looks_like_file(m.group("t")) or re.search(r"\bfile\b", s[: m.start("t")], re.I)):
        return Write(clean_path(m.group("t")), content_of(m.group("c")))
    return None


_EMPTY_FILE = clause(
    rf"^(?P<verb>{_MAKERS}|touch|put|place|drop)\s+{FILE_WORD}(?P<t>{P})(?:{IN_DIR})?$"
)
_EMPTY_NEW_FILE = clause(
    rf"^(?P<verb>{_MAKERS}|put|place|drop)\s+{ART}{NEW}(?P<t>{P})\s+file(?:{IN_DIR})?$"
)


def _empty(s: str) -> Op | None:
    m = _EMPTY_FILE.match(s) or _EMPTY_NEW_FILE.match(s)
    if not m or not looks_like_file(m.group("t")):
        return None
    # "Put a.txt in logs/" moves a file; only an empty one is made by putting it.
    if m.group("verb").lower() in ("put", "place", "drop") and not re.search(
        r"\b(?:empty|blank)\b", s, re.I
    ):
        return None
    name = clean_path(m.group("t"))
    return Write(join(clean_path(m.group("d")), name) if m.group("d") else name, "")


_DOCUMENT = clause(
    rf"^{_MAKERS}\s+{FILE_WORD}(?P<t>{P})\s+(?:for|about|describing|explaining|on)\s+"
    r"(?!(?:me|us|them)\b)(?P<topic>[^:]+?)\s*(?::\s*(?P<spec>.+))?$"
)


def _document(s: str) -> Op | None:
    m = _DOCUMENT.match(s)
    if not m or not looks_like_file(m.group("t")):
        return None
    path = clean_path(m.group("t"))
    return Write(path, document(path, m.group("topic"), m.group("spec") or ""))


_INTO = clause(
    r"^(?:write|put|save|store|create|make|generate|compose|draft|produce|type|insert|place"
    r"|record|jot\s+down|output)\s+(?P<c>.+?)\s+(?:to|into|in|as|inside|at|under)\s+"
    rf"(?:{FILE_WORD})?(?P<t>{P}){_TAIL}$"
)


def _into(s: str) -> Op | None:
    w = _INTO.match(s)
    if not w:
        return None
    tail = (w.group("tail") or "").strip()
    said = f"{w.group('c')}{'' if tail.startswith(':') else ', '}{tail}" if tail else w.group("c")
    return Write(clean_path(w.group("t")), content_of(said))


_TO_FILE = clause(
    rf"^(?:write|put|type)\s+(?:to|into|in)\s+{FILE_WORD}(?P<t>{P})"
    rf"(?:,?\s+(?P<how>{LINEWISE.pattern}))?\s*:\s*(?P<c>.+)$"
)


def _to_file(s: str) -> Op | None:
    """Parses "Write to packing.txt, one per line: a, b, c"."""
    m = _TO_FILE.match(s)
    if not m:
        return None
    how = m.group("how")
    text = content_of(f"{how}: {m.group('c')}") if how else content_of(m.group("c"))
    return Write(clean_path(m.group("t")), text)


_LIST_FILE = clause(
    r"^(?:make|create|write|start|put\s+together)\s+(?:a|the|my)\s+(?:[\w-]+\s+)?"
    rf"(?:list|checklist)\s+(?:in|at|called|named|as)\s+(?P<t>{P})\s+"
    r"(?:with|of|containing|listing)\s*:?\s+(?P<c>.+)$"
)


def _list_file(s: str) -> Op | None:
    """Parses "Make a packing list in packing.txt with passport, charger and socks"."""
    m = _LIST_FILE.match(s)
    if not m:
        return None
    items = line_items(m.group("c")) or items_of(m.group("c"))
    return Write(clean_path(m.group("t")), "".join(f"{item}\n" for item in items))


_GENERATED = clause(r"^(?:write|compose|draft|generate|create|make)\s+(?P<c>.+)$")


def _generated(s: str, produce: tuple[str, ...]) -> Op | None:
    g = _GENERATED.match(s)
    if not g or not is_generated(g.group("c")):
        return None
    text = content_of(g.group("c"))
    files = [p for p in produce if not p.endswith("/")]
    return Write(clean_path(files[0]), text) if len(files) == 1 else Say(text)


def write(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """Every way a request says to put text in a file: a `Write`.

    Text containing or saying something, an empty file, a document about a topic, text into a file,
    a list of lines, or a piece to write.
    """
    return (
        _containing(s)
        or _empty(s)
        or _document(s)
        or _into(s)
        or _to_file(s)
        or _list_file(s)
        or _generated(s, produce)
    )


def overwrite(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """New content over old: "Replace whatever is in status.txt with: all systems go"."""
    forms = (
        rf"^(?:replace|overwrite|swap(?:\s+out)?)\s+{_WHOLE}\s+(?:in|of|inside)\s+"
        rf"(?:the\s+file\s+)?(?P<t>{P})\s+(?:with|by|for)\s*:?\s+(?P<c>.+)$",
        # "Replace a.txt with hello"; "replace x with y in a.txt" is an edit.
        rf"^(?:overwrite|replace)\s+(?:the\s+file\s+)?(?P<t>{P})\s+(?:with|by)\s*:?\s+"
        r"(?P<c>(?!.*\s+in\s+\S+\.\w+$).+)$",
        rf"^(?:set|change|update|make)\s+(?:the\s+(?:contents?|text)\s+of\s+)?(?P<t>{P})\s+"
        r"(?:to\s+(?:say|read|contain)|so\s+(?:that\s+)?it\s+(?:says|reads)|to|into)\s*:?\s+"
        r"(?P<c>.+)$",
        rf"^(?:make|have|let)\s+(?P<t>{P})\s+(?:say|read|contain|hold)\s*:?\s+(?P<c>.+)$",
        rf"^(?:empty|clear|blank|wipe|truncate)\s+(?:out\s+)?(?:the\s+file\s+)?(?P<t>{P})(?P<c>)$",
    )
    for form in forms:
        m = re.match(form, s, FLAGS)
        if m and looks_like_file(m.group("t")):
            text = content_of(m.group("c")) if m.group("c") else ""
            return Write(clean_path(m.group("t")), text)
    return None
