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
# "when that is done", "once it's finished": a "then" in other words.
AFTER_THAT = (
    r"(?:when|once|after)\s+(?:that|this|it)(?:'s|\s+is|\s+has\s+been)?\s+"
    r"(?:done|finished|complete(?:d)?|ready)\b"
)
_SPLIT = re.compile(
    r"\s*\n\s*|\s*;\s*"
    r"|(?<=[^\s.])[.!?]\s+(?=\S)"  # a sentence end; "notes/a.txt" has no space after its dot
    r"|,?\s+and\s+then\s+|,\s*then\s+|\s+then\s+"
    rf"|,?\s+(?:and\s+)?{AFTER_THAT},?\s+"
    rf"|,?\s+and\s+(?={VERBS})|,\s+(?={VERBS})",
    re.IGNORECASE,
)
_FILLER = re.compile(
    # "Also (Title): ..." is how a plan's guard folds a small step into another.
    r"^(?:also\s*\((?:[^()]|\([^()]*\))*\)\s*:\s*"
    r"|\d{1,3}[.)]\s+|[-*]\s+|please\s+|(?:can|could|would)\s+you\s+(?:please\s+)?"
    r"|i\s+(?:want|need|would\s+like)\s+you\s+to\s+|go\s+ahead\s+and\s+|now\s+|also\s+"
    r"|(?:i|we)\s+(?:need|want|have|would\s+like|'d\s+like)\s+to\s+|let(?:'s|\s+us)\s+(?!have\b|get\b)"
    r"|then\s+|and\s+|finally\s+|next\s+|first(?:ly)?,?\s+|after\s+that,?\s+|afterwards,?\s+"
    rf"|{AFTER_THAT},?\s+)",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"(?<!\w)(?:'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`|\u201c[^\u201d\n]*\u201d)(?!\w)")
_SECTIONS = ("files:", "produce:", "reports from the steps")


@dataclass(frozen=True)
class TaskText:
    """A task message as the agent sees it.

    Its title, the request without directives, the declared outputs and the directives found.
    """

    title: str
    description: str  # directives removed
    produce: tuple[str, ...] = ()
    found: dict[str, str] = field(default_factory=dict)


def parse_task(text: str) -> TaskText:
    """Reads the master's task message (Task:, the description, "Produce:" lines) or a bare goal."""
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


# "...these lines: eggs, milk, write letters": a listed item is text, not a clause.
_LISTED = re.compile(
    r"(?P<head>\b(?:lines|items|entries|names|words|following|per\s+line|own\s+line)\b"
    r"(?:[^:\n;.]|\.(?=\S)){0,60}?:)(?P<list>[ \t]*[^\n;]+?)(?=[ \t]*(?:[\n;]|[.!?](?:\s|$)|$))",
    re.IGNORECASE,
)


def protect(text: str, *, lists: bool = False) -> tuple[str, list[str]]:
    """Hides quoted text behind placeholders, so splitting into clauses never cuts inside it.

    With `lists=True` the list after a colon is hidden too.
    """
    saved: list[str] = []

    def keep(m: re.Match[str]) -> str:
        saved.append(m.group(0))
        return f"\x00{len(saved) - 1}\x00"

    def keep_list(m: re.Match[str]) -> str:
        saved.append(m.group("list"))
        return f"{m.group('head')}\x00{len(saved) - 1}\x00"

    shielded = _QUOTED.sub(keep, text)
    return (_LISTED.sub(keep_list, shielded) if lists else shielded), saved


def restore(text: str, saved: list[str]) -> str:
    """Puts back what `protect` hid."""
    return re.sub(r"\x00(\d+)\x00", lambda m: saved[int(m.group(1))], text)


def tidy(clause: str) -> str:
    """A clause without leading filler ("please", "then") or a closing full stop."""
    clause = clause.strip()
    while m := _FILLER.match(clause):
        clause = clause[m.end() :].lstrip()
    # A full stop ends the sentence; "!" may belong to the text ("Hello, world!").
    return re.sub(r"[\s.,]+$", "", clause)


# "i need a new directory named drafts": a wish for a thing is a request to make it.
_WANT = re.compile(
    r"^(?:(?:i|we)\s+(?:really\s+|also\s+|just\s+|still\s+)?(?:need|want|require"
    r"|would\s+(?:like|love))|(?:i|we)'d\s+(?:like|love)|give\s+me|get\s+me|let(?:'s|\s+us)\s+(?:have|get)"
    r"|there\s+(?:should|must|needs\s+to)\s+be|(?:can|could|may)\s+(?:i|we)\s+(?:get|have))\s+"
    r"(?=(?:(?:an?|one|two|three|four|five|six|\d+|some|another|a\s+few|a\s+couple\s+of)\s+)?"
    r"(?:(?:new|empty|fresh|blank|separate|extra|little)\s+)*(?:sub)?(?:folders?|director(?:y|ies)"
    r"|dirs?|files?)\b)",
    re.IGNORECASE,
)


_LEAD_PLACE = re.compile(
    r"^(?:in|inside|within)\s+(?:the\s+file\s+)?(?P<t>[^\s,;]+\.\w+),?\s+(?P<rest>\S.*)$",
    re.IGNORECASE | re.DOTALL,
)


def plainly(clause: str) -> str:
    """A casual request in the imperative the parsers read.

    "i need a folder x" asks to create it; "In config.ini, change ..." is "change ... in
    config.ini".
    """
    clause = _WANT.sub("create ", clause, count=1)
    if m := _LEAD_PLACE.match(clause):
        clause = f"{m.group('rest')} in {m.group('t')}"
    return clause


_ELIDED = re.compile(
    r"^(?P<verb>(?:write|put|save|store|append|add)\s+)"
    r"(?P<a>\S.*?\s+(?:to|into|in)\s+[^\s,;]+\.\w+)\s*,?\s+and\s+"
    r"(?P<b>(?!(?:to|into|in)\b)\S.*?\s+(?:to|into|in)\s+[^\s,;]+\.\w+)$",
    re.IGNORECASE,
)


def _unelide(clause: str) -> list[str]:
    """For "Write 'a' to a.txt and 'b' to b.txt": the verb serves both halves."""
    m = _ELIDED.match(clause.strip())
    if not m:
        return [clause]
    return [m.group("verb") + m.group("a"), *_unelide(m.group("verb") + m.group("b"))]


_LEAD_IN = re.compile(r"^(?:in|inside|within|for)\s+\S+$", re.IGNORECASE)


def is_lead_in(part: str) -> bool:
    """Whether a part only introduces what follows ("Here is what I need:") and asks for nothing."""
    return bool(_LEAD_IN.match(part.strip()))


def join_lead_ins(parts: list[str]) -> list[str]:
    """For "In config.ini, change ...": the place named first belongs to the next clause."""
    out: list[str] = []
    for part in parts:
        if out and is_lead_in(out[-1]):
            out[-1] = f"{out[-1].strip()}, {part.strip()}"
        else:
            out.append(part)
    return out


# A connective on its own ("After that, write ...") orders clauses, asks for nothing.
_CONNECTIVE = re.compile(
    rf"^(?:and\s+)?(?:then|next|later|afterwards|finally|after\s+(?:that|this)|{AFTER_THAT}"
    r"|once\s+(?:done|finished)|when\s+(?:done|finished))$",
    re.IGNORECASE,
)


def clauses(text: str) -> list[str]:
    """The request's clauses in order; quoted text stays whole."""
    shielded, saved = protect(text, lists=True)
    parts = [half for part in _SPLIT.split(shielded) for half in _unelide(part)]
    out = [tidy(restore(part, saved)) for part in parts]
    return join_lead_ins([c for c in out if c and not _CONNECTIVE.match(c)])


# --- pronouns -------------------------------------------------------------------------


@dataclass
class Context:
    """What "it" and "there" can mean.

    The last file and folder named so far, and which of the two came last ("rename a.txt to b.txt
    and append x to it").
    """

    last_file: str | None = None
    last_dir: str | None = None
    recent: str | None = None  # "file" or "dir"
    # The folder whose files were last acted on together: what "them" lists.
    last_group: str | None = None

    def saw_file(self, path: str) -> None:
        """Notes the file a clause named, for "it" in a later one."""
        self.last_file, self.recent = path, "file"

    def saw_dir(self, path: str) -> None:
        """Notes the folder a clause named, for "there" and "it" in a later one."""
        self.last_dir, self.recent = path, "dir"


# The words that point back at the file a clause before named.
_THE_FILE = r"(?:it|that\s+file|this\s+file|the\s+file)"
# ... and the ones that point back at the folder.
_THE_FOLDER = (
    r"(?:it|there|that\s+folder|this\s+folder|the\s+new\s+folder|that\s+directory"
    r"|the\s+new\s+directory)"
)
_INTO_IT = re.compile(rf"\b(into|in|inside|to|under)\s+{_THE_FOLDER}\s*$", re.IGNORECASE)
# "the reports in it", "what is in it": things are in a folder, not a file.
_THINGS_IN_IT = re.compile(
    r"\b((?:everything|what(?:'s|\s+is)|(?:all\s+)?(?:the\s+)?[\w-]+s|them|files)\s+"
    r"(?:in|inside|under|within))\s+it\b",
    re.IGNORECASE,
)
_TO_IT = re.compile(rf"\b(to|into|in|onto|inside)\s+{_THE_FILE}\s*$", re.IGNORECASE)
_OF_IT = re.compile(
    r"\bof\s+(?:it|(?:that|this)(?:\s+file)?)\b(?!\s+(?:folder|director|dir\b))", re.IGNORECASE
)
_THERE = re.compile(r"\s+there\s*$", re.IGNORECASE)
_VERB_IT = re.compile(
    r"^(rename|move|copy|duplicate|delete|remove|read|summari[sz]e|append\s+to|back\s+up)"
    rf"\s+{_THE_FILE}\b",
    re.IGNORECASE,
)


def resolve(clause: str, ctx: Context) -> str:
    """The clause with "it"/"there" replaced by what they refer to, as a model reads it."""
    if ctx.last_dir is not None:
        clause = _THINGS_IN_IT.sub(lambda m: f"{m.group(1)} {ctx.last_dir}/", clause)
    if ctx.recent == "file" and ctx.last_file is not None:
        clause = _TO_IT.sub(lambda m: f"{m.group(1)} {ctx.last_file}", clause)
    if ctx.last_dir is not None:
        clause = _INTO_IT.sub(lambda m: f"{m.group(1)} {ctx.last_dir}/", clause)
        clause = _THERE.sub(f" into {ctx.last_dir}/", clause)
    if ctx.last_file is not None:
        clause = _VERB_IT.sub(lambda m: f"{m.group(1)} {ctx.last_file}", clause)
    last = ctx.last_file if ctx.recent == "file" else ctx.last_dir
    if last is not None:
        shown = last if ctx.recent == "file" else f"{last}/"
        clause = _OF_IT.sub(f"of {shown}", clause)
    return clause


# --- paths ----------------------------------------------------------------------------

_EXT = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,7}$")


def clean_path(raw: str) -> str:
    """A workspace path from how a request wrote it ("./notes/", "`a.txt`")."""
    p = raw.strip().strip("'\"`\u2018\u2019\u201c\u201d").rstrip(".,:;!?")
    p = posixpath.normpath(p) if p else "."
    return "." if p in ("", "/", "./") else p.lstrip("/")


def has_ext(raw: str) -> bool:
    """Whether a path as written ends in a file extension."""
    return bool(_EXT.search(raw.strip().strip("'\"`").rstrip("/")))


def looks_like_file(raw: str) -> bool:
    """Whether a path as written names a file: it has an extension and no trailing '/'."""
    r = raw.strip().strip("'\"`")
    return has_ext(r) and not r.endswith("/")


def join(directory: str, *parts: str) -> str:
    """A workspace path under a folder, where "." is the root."""
    return posixpath.join(*parts) if directory in (".", "") else posixpath.join(directory, *parts)
