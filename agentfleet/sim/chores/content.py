"""What goes into a file: the literal text a request names, or a short piece
written on request ("a haiku about X"), chosen by a hash of the topic so the
same request always gets the same words.
"""

from __future__ import annotations

import hashlib
import re

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
_PIECE = re.compile(
    r"(?:a|an|one|some)\s+(?:short\s+|little\s+|tiny\s+|brief\s+|simple\s+|funny\s+)*"
    r"(haiku|poem|limerick|note|paragraph|story|description|greeting|joke|sentence)"
    r"(?:\s+(?:about|on|for|describing|of)\s+(.+))?",
    re.I,
)
# "the summary", "it": content that is another clause's result, not text.
PRONOUNS = frozenset({"it", "that", "this", "them", "the summary", "the result", "the list"})


def unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        return text[1:-1]
    return text


def is_generated(phrase: str) -> bool:
    return bool(_PIECE.fullmatch(phrase.strip()))


def content_of(phrase: str) -> str:
    """The text a phrase asks for: 'the number 7' -> '7', a quote -> its inside."""
    p = phrase.strip()
    if p[:1] in _QUOTES:
        return unquote(p)
    if m := _RANGE.fullmatch(p):
        lo, hi = int(m.group(1)), int(m.group(2))
        step = 1 if hi >= lo else -1
        return "".join(f"{n}\n" for n in range(lo, hi + step, step)[:1000])
    for pattern in (_NUMBER, _SAYING, _LITERAL):
        if m := pattern.fullmatch(p):
            return unquote(m.group(1))
    if m := _PIECE.fullmatch(p):
        return piece(m.group(1).lower(), unquote(m.group(2) or ""))
    return p


def _pick(topic: str, options: int) -> int:
    return int(hashlib.sha256(topic.lower().encode()).hexdigest()[:8], 16) % options


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


_HAIKU = (
    ("{T}", "keep every step they have taken", "through the crash and back"),
    ("{T} at dawn", "each small step written down", "nothing is lost now"),
    ("Quiet {t}", "retries fold into the log", "the work carries on"),
)
_POEM = (
    (
        "Of {t} I write a line,",
        "a patient, steady, simple thing,",
        "it waits, it works, it does just fine,",
        "and finishes what it began.",
    ),
    (
        "When {t} comes to mind,",
        "I think of work that will not break,",
        "of steps recorded, well defined,",
        "and every promise it will keep.",
    ),
)
_LIMERICK = (
    "There once was a thing called {t},",
    "that nobody thought much of, it seems;",
    "it kept every state,",
    "never once was it late,",
    "and it quietly fulfilled all our dreams.",
)


def piece(kind: str, topic: str) -> str:
    """A short piece of writing: deterministic, plausible, and about the topic."""
    t = topic.strip().rstrip(".") or "the day"
    if kind == "haiku":
        lines: tuple[str, ...] = _HAIKU[_pick(t, len(_HAIKU))]
    elif kind == "poem":
        lines = _POEM[_pick(t, len(_POEM))]
    elif kind == "limerick":
        lines = _LIMERICK
    elif kind == "greeting":
        return f"Hello! Welcome{' to ' + t if topic else ''}.\n"
    elif kind == "joke":
        return f"Why did {t} never get lost? Because it wrote down every step it took.\n"
    elif kind == "sentence":
        return f"{_cap(t)} is worth a moment of attention.\n"
    else:
        return (
            f"{_cap(t)}\n\n"
            f"This is a short {kind} about {t}. It gives the main idea in a few plain "
            "sentences, so a reader can pick it up quickly and come back to it later.\n"
        )
    return "".join(_cap(line.format(T=_cap(t), t=t)) + "\n" for line in lines)
