"""Short pieces written on request ("a haiku about durable workflows", "a recommendation memo").

Each is chosen by a hash of the topic: deterministic, about the topic, and
shaped like the kind of text asked for.
"""

from __future__ import annotations

import hashlib
import re

KINDS = (
    "haiku|poem|limerick|joke|greeting|sentence|paragraph|story|description|note|memo|email"
    "|e-mail|letter|message|report|readme|announcement|recommendation|proposal|plan|list"
)
PIECE = re.compile(
    r"(?:a|an|one|some|the)\s+(?P<adj>(?:[\w'-]+\s+){0,3}?)"
    rf"(?P<kind>{KINDS})"
    r"(?:\s+(?P<prep>about|on|for|describing|of|to|regarding|explaining|with)\s+(?P<topic>.+))?",
    re.IGNORECASE,
)
_PLAIN_ADJ = frozenset({"short", "little", "tiny", "brief", "simple", "funny", "quick", "new"})

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


def _pick(topic: str, options: int) -> int:
    return int(hashlib.sha256(topic.lower().encode()).hexdigest()[:8], 16) % options


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lines(lines: tuple[str, ...], t: str) -> str:
    return "".join(_cap(line.format(T=_cap(t), t=t)) + "\n" for line in lines)


def is_piece(phrase: str) -> bool:
    """Whether the words ask for a piece to be written ("a haiku about rain", "a greeting")."""
    return bool(PIECE.fullmatch(phrase.strip()))


def write_piece(phrase: str) -> str | None:
    """The text for "a haiku about X", "the email to the finance team", ..."""
    m = PIECE.fullmatch(phrase.strip())
    if not m:
        return None
    kind = m.group("kind").lower().replace("e-mail", "email")
    adj = " ".join(w for w in m.group("adj").split() if w.lower() not in _PLAIN_ADJ)
    prep, topic = (m.group("prep") or "").lower(), (m.group("topic") or "").strip().rstrip(".")
    if prep in ("to", "for") and kind in ("email", "letter", "message", "memo", "note"):
        return _addressed(kind, adj or "an update", topic)
    return piece(kind, " ".join(p for p in (adj, topic) if p))


_PURPOSES = (
    "a lightweight tool that helps you get one job done simply and reliably",
    "a small project that does one useful thing well and is easy to set up",
    "a simple, dependable tool for everyday work that is quick to install and use",
)


def _name(subject: str) -> str:
    """A subject as a name: "a project called Lighthouse" -> "Lighthouse".

    "the billing app" -> "Billing app".
    """
    s = subject.strip().strip("'\"`").rstrip(".")
    if m := re.search(r"\b(?:called|named|titled)\s+(.+)$", s, re.IGNORECASE):
        return m.group(1).strip().strip("'\"`")
    s = re.sub(r"^(?:(?:a|an|the|my|our)\s+)?(?:(?:new|small|little)\s+)*", "", s, flags=re.I)
    s = re.sub(r"^(?:project|app|tool|library|service)\s+(?=[A-Z])", "", s)
    # "the Lighthouse project": the name, without the kind of thing it names.
    s = re.sub(
        r"(?<=\S)\s+(?:project|app|application|tool|library|service|repo(?:sitory)?|package"
        r"|website|site)$",
        "",
        s,
        flags=re.I,
    )
    return _cap(s) or "This project"


def document(path: str, subject: str, spec: str = "") -> str:
    """A file written for a subject: "README.md for a project called Lighthouse"."""
    name = _name(subject)
    base = path.rsplit("/", 1)[-1].lower()
    if base.startswith("readme"):
        return f"# {name}\n\n{name} is {_PURPOSES[_pick(name, len(_PURPOSES))]}.\n"
    if base.startswith("changelog"):
        return f"# Changelog\n\n## Unreleased\n\n- First version of {name}.\n"
    if base.startswith("todo"):
        return f"# To do: {name}\n\n- [ ] Decide the first step for {name}\n"
    return piece("description", name)


def _addressed(kind: str, subject: str, to: str) -> str:
    to = re.sub(r"^the\s+", "", to, flags=re.IGNORECASE)
    body = (
        f"I am writing about {subject}. Here are the main points in a few plain sentences, "
        "so you can act on them quickly; reply if anything is unclear."
    )
    if kind == "email" or kind == "message":
        return f"Subject: {_cap(subject)}\n\nHello {to},\n\n{body}\n\nBest regards\n"
    if kind == "letter":
        return f"Dear {to},\n\n{body}\n\nSincerely\n"
    return f"{kind.upper()}\nTo: {to}\nSubject: {_cap(subject)}\n\n{body}\n"


def piece(kind: str, topic: str) -> str:
    """A short piece of the kind asked for.

    It is chosen from the topic, so the same request gets the same text.
    """
    t = topic or "the day"
    if kind == "haiku":
        return _lines(_HAIKU[_pick(t, len(_HAIKU))], t)
    if kind == "poem":
        return _lines(_POEM[_pick(t, len(_POEM))], t)
    if kind == "limerick":
        return _lines(_LIMERICK, t)
    if kind == "greeting":
        return f"Hello! Welcome{' to ' + topic if topic else ''}.\n"
    if kind == "joke":
        return f"Why did {t} never get lost? Because it wrote down every step it took.\n"
    if kind == "sentence":
        return f"{_cap(t)} is worth a moment of attention.\n"
    if kind == "readme":
        return document("README.md", topic)
    if kind == "list":
        return "".join(f"- {_cap(t)}: item {n}\n" for n in (1, 2, 3))
    if kind in ("memo", "email", "letter", "message"):
        return _addressed(kind, t, "all")
    return (
        f"# {_cap(t)}\n\n"
        f"This is a short {kind} about {t}. It gives the main idea in a few plain "
        "sentences, so a reader can pick it up quickly and come back to it later.\n"
    )
