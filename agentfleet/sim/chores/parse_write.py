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
from agentfleet.sim.chores.phrases import ART, FLAGS, FOLDER, NAMED, NEW, P, phrasing
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


@phrasing(
    rf"^{_MAKERS}\s+{FILE_WORD}(?P<t>{P})\s+(?:containing|that\s+contains|with\s+(?:the\s+)?"
    r"(?:content|contents|text|line|words?)|with|that\s+says|saying|which\s+says|reading)"
    r"\s*:?\s+(?P<c>.+)$",
)
def _containing(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    if looks_like_file(m.group("t")) or re.search(r"\bfile\b", m.string[: m.start("t")], re.I):
        return Write(clean_path(m.group("t")), content_of(m.group("c")))
    return None


@phrasing(
    rf"^(?P<verb>{_MAKERS}|touch|put|place|drop)\s+{FILE_WORD}(?P<t>{P})(?:{IN_DIR})?$",
    rf"^(?P<verb>{_MAKERS}|put|place|drop)\s+{ART}{NEW}(?P<t>{P})\s+file(?:{IN_DIR})?$",
)
def _empty(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    if not looks_like_file(m.group("t")):
        return None
    # "Put a.txt in logs/" moves a file; only an empty one is made by putting it.
    if m.group("verb").lower() in ("put", "place", "drop") and not re.search(
        r"\b(?:empty|blank)\b", m.string, re.I
    ):
        return None
    name = clean_path(m.group("t"))
    return Write(join(clean_path(m.group("d")), name) if m.group("d") else name, "")


@phrasing(
    rf"^{_MAKERS}\s+{FILE_WORD}(?P<t>{P})\s+(?:for|about|describing|explaining|on)\s+"
    r"(?!(?:me|us|them)\b)(?P<topic>[^:]+?)\s*(?::\s*(?P<spec>.+))?$",
)
def _document(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    if not looks_like_file(m.group("t")):
        return None
    path = clean_path(m.group("t"))
    return Write(path, document(path, m.group("topic"), m.group("spec") or ""))


@phrasing(
    r"^(?:write|put|save|store|create|make|generate|compose|draft|produce|type|insert|place"
    r"|record|jot\s+down|output)\s+(?P<c>.+?)\s+(?:to|into|in|as|inside|at|under)\s+"
    rf"(?:{FILE_WORD})?(?P<t>{P}){_TAIL}$",
)
def _into(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    tail = (m.group("tail") or "").strip()
    said = f"{m.group('c')}{'' if tail.startswith(':') else ', '}{tail}" if tail else m.group("c")
    return Write(clean_path(m.group("t")), content_of(said))


@phrasing(
    rf"^(?:write|put|type)\s+(?:to|into|in)\s+{FILE_WORD}(?P<t>{P})"
    rf"(?:,?\s+(?P<how>{LINEWISE.pattern}))?\s*:\s*(?P<c>.+)$",
)
def _to_file(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """Parses "Write to packing.txt, one per line: a, b, c"."""
    how = m.group("how")
    text = content_of(f"{how}: {m.group('c')}") if how else content_of(m.group("c"))
    return Write(clean_path(m.group("t")), text)


@phrasing(
    r"^(?:make|create|write|start|put\s+together)\s+(?:a|the|my)\s+(?:[\w-]+\s+)?"
    rf"(?:list|checklist)\s+(?:in|at|called|named|as)\s+(?P<t>{P})\s+"
    r"(?:with|of|containing|listing)\s*:?\s+(?P<c>.+)$",
)
def _list_file(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """Parses "Make a packing list in packing.txt with passport, charger and socks"."""
    items = line_items(m.group("c")) or items_of(m.group("c"))
    return Write(clean_path(m.group("t")), "".join(f"{item}\n" for item in items))


@phrasing(
    r"^(?:write|compose|draft|generate|create|make)\s+(?P<c>.+)$",
)
def _generated(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    if not is_generated(m.group("c")):
        return None
    text = content_of(m.group("c"))
    files = [p for p in produce if not p.endswith("/")]
    return Write(clean_path(files[0]), text) if len(files) == 1 else Say(text)


def write(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """Every way a request says to put text in a file: a `Write`.

    Text containing or saying something, an empty file, a document about a topic, text into a file,
    a list of lines, or a piece to write.
    """
    forms = (_containing, _empty, _document, _into, _to_file, _list_file, _generated)
    return next((op for form in forms if (op := form(s, ctx, produce))), None)


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
