"""Reading a task: the parts of the task text, and its clauses in order.

The task text is what the workflows send as an agent's first message
(prompts.subagent_task and the lead's `Files:` / `Produce:` / `Reports from`
lines); a bare goal works too. Quoted text is never split or reinterpreted:
"Write 'copy and move' into a.txt" writes those three words.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from agentfleet.sim.conversation import directives, strip_directives

VERBS = (
    r"(?:write|create|make|add|append|put|save|store|move|rename|copy|duplicate|delete|remove"
    r"|erase|list|show|read|summari[sz]e|index|sort|organi[sz]e|mkdir|touch|replace|change"
    r"|edit|update|generate|compose|draft|back\s+up|then|also|finally|next|afterwards)\b"
)
_SPLIT = re.compile(
    r"\s*\n\s*|\s*;\s*"
    r"|(?<=[^\s.])[.!?]\s+(?=\S)"  # a sentence end; "notes/a.txt" has no space after its dot
    r"|,?\s+and\s+then\s+|,\s*then\s+|\s+then\s+"
    rf"|,?\s+and\s+(?={VERBS})|,\s+(?={VERBS})",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"^(?:\d{1,3}[.)]\s+|[-*]\s+|please\s+|(?:can|could|would)\s+you\s+(?:please\s+)?"
    r"|i\s+(?:want|need|would\s+like)\s+you\s+to\s+|go\s+ahead\s+and\s+|now\s+|also\s+"
    r"|then\s+|and\s+|finally\s+|next\s+|first(?:ly)?,?\s+|after\s+that,?\s+|afterwards,?\s+)",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"(?<!\w)(?:'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`|\u201c[^\u201d\n]*\u201d)(?!\w)")
_SECTIONS = ("files:", "produce:", "reports from the steps")


@dataclass(frozen=True)
class TaskText:
    title: str
    description: str  # directives removed
    produce: tuple[str, ...] = ()
    found: dict[str, str] = field(default_factory=dict)


def parse_task(text: str) -> TaskText:
    lines = text.strip().splitlines()
    title = ""
    if lines and lines[0].lower().startswith("task:"):
        title, lines = lines[0][5:].strip(), lines[1:]
    elif lines and lines[0].lower().startswith("goal:"):
        lines = [lines[0][5:].strip(), *lines[1:]]
    body: list[str] = []
    produce: list[str] = []
    for i, line in enumerate(lines):
        low = line.strip().lower()
        if low.startswith(_SECTIONS):
            for rest in lines[i:]:
                if rest.lower().startswith("produce:"):
                    produce += [p.strip() for p in rest[8:].split(",") if p.strip()]
            break
        body.append(line)
    description = strip_directives("\n".join(body)).strip() or strip_directives(title)
    return TaskText(
        title=strip_directives(title) or description.split("\n", 1)[0][:60] or "task",
        description=description,
        produce=tuple(produce),
        found=directives(text),
    )


def protect(text: str) -> tuple[str, list[str]]:
    saved: list[str] = []

    def keep(m: re.Match[str]) -> str:
        saved.append(m.group(0))
        return f"\x00{len(saved) - 1}\x00"

    return _QUOTED.sub(keep, text), saved


def restore(text: str, saved: list[str]) -> str:
    return re.sub(r"\x00(\d+)\x00", lambda m: saved[int(m.group(1))], text)


def tidy(clause: str) -> str:
    clause = clause.strip()
    while m := _FILLER.match(clause):
        clause = clause[m.end() :].lstrip()
    # A full stop ends the sentence; "!" may belong to the text ("Hello, world!").
    return re.sub(r"[\s.,]+$", "", clause)


_ELIDED = re.compile(
    r"^(?P<verb>(?:write|put|save|store|append|add)\s+)"
    r"(?P<a>\S.*?\s+(?:to|into|in)\s+[^\s,;]+\.\w+)\s*,?\s+and\s+"
    r"(?P<b>(?!(?:to|into|in)\b)\S.*?\s+(?:to|into|in)\s+[^\s,;]+\.\w+)$",
    re.IGNORECASE,
)


def _unelide(clause: str) -> list[str]:
    """ "Write 'a' to a.txt and 'b' to b.txt": the verb serves both halves."""
    m = _ELIDED.match(clause.strip())
    if not m:
        return [clause]
    return [m.group("verb") + m.group("a"), *_unelide(m.group("verb") + m.group("b"))]


def clauses(text: str) -> list[str]:
    """The request's clauses in order; quoted text stays whole."""
    shielded, saved = protect(text)
    parts = [half for part in _SPLIT.split(shielded) for half in _unelide(part)]
    out = [tidy(restore(part, saved)) for part in parts]
    return [c for c in out if c]


# --- pronouns -------------------------------------------------------------------------


@dataclass
class Context:
    """What "it" and "there" can mean: the last file and folder named so far."""

    last_file: str | None = None
    last_dir: str | None = None


_INTO_IT = re.compile(
    r"\b(into|in|inside|to|under)\s+(?:it|there|that\s+folder|this\s+folder|the\s+new\s+folder"
    r"|that\s+directory|the\s+new\s+directory)\s*$",
    re.IGNORECASE,
)
_THERE = re.compile(r"\s+there\s*$", re.IGNORECASE)
_VERB_IT = re.compile(
    r"^(rename|move|copy|duplicate|delete|remove|read|summari[sz]e|append\s+to|back\s+up)"
    r"\s+(?:it|that\s+file|this\s+file|the\s+file)\b",
    re.IGNORECASE,
)


def resolve(clause: str, ctx: Context) -> str:
    """The clause with "it"/"there" replaced by what they refer to, as a model reads it."""
    if ctx.last_dir is not None:
        clause = _INTO_IT.sub(lambda m: f"{m.group(1)} {ctx.last_dir}/", clause)
        clause = _THERE.sub(f" into {ctx.last_dir}/", clause)
    if ctx.last_file is not None:
        clause = _VERB_IT.sub(lambda m: f"{m.group(1)} {ctx.last_file}", clause)
    return clause


# --- paths ----------------------------------------------------------------------------

_EXT = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,7}$")


def clean_path(raw: str) -> str:
    """A workspace path from how a request wrote it ("./notes/", "`a.txt`")."""
    p = raw.strip().strip("'\"`\u2018\u2019\u201c\u201d").rstrip(".,:;!?")
    p = posixpath.normpath(p) if p else "."
    return "." if p in ("", "/", "./") else p.lstrip("/")


def has_ext(raw: str) -> bool:
    return bool(_EXT.search(raw.strip().strip("'\"`").rstrip("/")))


def looks_like_file(raw: str) -> bool:
    r = raw.strip().strip("'\"`")
    return has_ext(r) and not r.endswith("/")


def join(directory: str, *parts: str) -> str:
    return posixpath.join(*parts) if directory in (".", "") else posixpath.join(directory, *parts)
