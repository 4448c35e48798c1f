"""What goes into a file.

The literal text a request names ("the number 7", 'hello world'), or a piece written on request
(writing.py).
"""

from __future__ import annotations

import re

from agentfleet.sim.chores.text import protect, restore
from agentfleet.sim.chores.writing import is_piece, write_piece

_QUOTES = "'\"`\u2018\u2019\u201c\u201d"
_LITERAL = re.compile(
    r"(?:the\s+)?(?:word|words|text|line|string|sentence|phrase|message|contents?|value)\s+(.+)",
    re.I,
)
_SAYING = re.compile(
    r"(?:a|an|one|the)\s+(?:new\s+)?(?:line|note|message|sentence|reminder|text)\s+"
    r"(?:saying|that\s+says|reading|with|of)\s+(.+)",
    re.I,
)
_NUMBER = re.compile(r"(?:the\s+)?number\s+(\S+)", re.I)
_RANGE = re.compile(r"(?:the\s+)?numbers\s+(?:from\s+)?(-?\d+)\s+(?:to|through|-)\s+(-?\d+)", re.I)
# "the summary", "it", "their names": content that is another clause's result, not text.
_REFERENCE = re.compile(
    r"^(?:it|that|this|them|those|these|(?:the|that|this)\s+(?:(?:matching|resulting|found)\s+)?"
    r"(?:summary|result|results|list|names"
    r"|matches|output|answer|findings|lines|index|catalog(?:ue)?|paths|file\s+names|filenames)"
    r"|(?:their|its)\s+(?:names|paths|file\s*names|summary|contents?)"
    r"|(?:the\s+)?(?:names|paths|list)\s+of\s+(?:them|those|these|the\s+(?:files|matches)))$",
    re.IGNORECASE,
)


def is_reference(phrase: str) -> bool:
    """Whether the words name another clause's result rather than text to write.

    "it", "the summary" and "their names" are references.
    """
    return bool(_REFERENCE.match(phrase.strip()))


# "one per line", "each on its own line", "these three lines": text that is a list of lines.
LINEWISE = re.compile(
    r"\b(?:one\s+(?:\w+\s+)?(?:per|a|on\s+each|to\s+a)\s+line"
    r"|each\s+(?:one\s+)?on\s+(?:its\s+own|a\s+(?:separate|new|different))\s+line"
    r"|(?:on|in)\s+(?:separate|their\s+own|individual|different)\s+lines"
    r"|line\s+by\s+line)\b",
    re.IGNORECASE,
)
_LINES_NOUN = re.compile(
    r"^(?:(?:these|the\s+following|the|following|those)\s+)?(?:\w+\s+)?"
    r"(?:lines|items|entries|words|names)\b",
    re.IGNORECASE,
)


def items_of(text: str) -> list[str]:
    """The items of a list: "passport, charger and socks" -> three; quotes keep commas inside."""
    t, saved = protect(text.strip().rstrip("."))
    parts = re.split(r"\s*[,;]\s*", t)
    if len(parts) > 1:
        last = re.sub(r"^(?:and|or)\s+", "", parts[-1], flags=re.I)
        split = re.split(r"\s+and\s+", last, maxsplit=1)
        parts = [*parts[:-1], *split]
    else:
        parts = re.split(r"\s+and\s+", t)
    return [unquote(restore(p, saved)) for p in (q.strip() for q in parts) if p]


def line_items(phrase: str) -> list[str] | None:
    """The lines a phrase lists, or None when it is not a list of lines."""
    p = phrase.strip()
    head, colon, tail = p.partition(":")
    if colon and tail.strip() and (LINEWISE.search(head) or _LINES_NOUN.match(head.strip())):
        return items_of(LINEWISE.sub("", tail)) or None
    if (m := re.match(r"^(?:the|these|those)\s+(?:\w+\s+)?lines\s+(?P<rest>\S.*)$", p, re.I)) and (
        "," in m.group("rest") or " and " in m.group("rest")
    ):
        return items_of(LINEWISE.sub("", m.group("rest"))) or None
    if LINEWISE.search(p):
        body = _LINES_NOUN.sub("", LINEWISE.sub("", p).strip(" ,;:"), count=1).strip(" ,;:")
        body = re.sub(r"[\s,;]+$", "", body)
        return items_of(body) or None
    return None


def unquote(text: str) -> str:
    """The text inside one pair of matching quote marks, or the text as it is."""
    text = text.strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        return text[1:-1]
    return text


def is_generated(phrase: str) -> bool:
    """Whether the words ask for a piece to be written rather than name the text.

    "a haiku about rain" is generated; "the summary" is a reference.
    """
    return not is_reference(phrase) and is_piece(phrase)


def content_of(phrase: str) -> str:
    """The text a phrase asks for: 'the number 7' -> '7', a quote -> its inside."""
    p = phrase.strip()
    if (lines := line_items(p)) is not None:
        return "".join(f"{line}\n" for line in lines)
    if p[:1] in _QUOTES:
        return unquote(p)
    if m := _RANGE.fullmatch(p):
        lo, hi = int(m.group(1)), int(m.group(2))
        step = 1 if hi >= lo else -1
        return "".join(f"{n}\n" for n in range(lo, hi + step, step)[:1000])
    for pattern in (_NUMBER, _SAYING, _LITERAL):
        if m := pattern.fullmatch(p):
            return unquote(m.group(1))
    if not is_reference(p) and (text := write_piece(p)) is not None:
        return text
    return p
