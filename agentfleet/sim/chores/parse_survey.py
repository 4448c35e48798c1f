"""Parsers for the phrasings that look before they act: sort, index, summarize, list, read.

Each takes (clause, context, produce) and returns an operation, or None when the clause is not of
its family.
"""

from __future__ import annotations

import posixpath
import re

from agentfleet.sim.chores.base import Op
from agentfleet.sim.chores.batch import Sort
from agentfleet.sim.chores.phrases import ART, P, clause, phrasing, scope_of, split_target
from agentfleet.sim.chores.survey import Index, ListFiles, ReadFile, Summarize
from agentfleet.sim.chores.text import Context, clean_path, has_ext, looks_like_file

DEFAULT_INDEX = "INDEX.md"


@phrasing(
    r"^(?:sort|organi[sz]e|group|arrange|tidy(?:\s+up)?|file)\s+(?P<rest>.*?)\s*"
    r"(?:into\s+(?:sub)?folders\s+)?by\s+(?:file\s+)?"
    r"(?P<by>type|extension|kind|format|topic|subject|theme|category)s?"
    r"(?:\s+into\s+(?:separate\s+|their\s+own\s+)?(?:sub)?folders)?$",
)
def sort(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "Sort the files in inbox by type" (or by topic): a `Sort`."""
    by_topic = m.group("by").lower() in ("topic", "subject", "theme", "category")
    return Sort(scope_of(m.group("rest")), by_topic)


_INDEX = (
    r"(?:index|table\s+of\s+contents|catalog(?:ue)?|inventory|manifest|directory\s+listing"
    r"|file\s+listing)"
)


def index(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "Write an index of docs/ to INDEX.md", "write papers/INDEX.md listing them".

    An `Index`.
    """
    return _index_of(s, ctx, produce) or _listing_file(s, ctx, produce)


@phrasing(
    r"^(?:(?:write|create|make|build|generate|produce|add|prepare|update|put\s+together"
    r"|compile|draw\s+up|give\s+me)\s+)?"
    rf"(?:an?\s+|the\s+)?(?:(?:new|full|complete|simple|short)\s+)?{_INDEX}(?![.\w])"
    r"(?P<rest>.*)$",
    r"^(?:index|catalog(?:ue)?|inventory)\s+(?P<rest>.+)$",
)
def _index_of(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    head, target = split_target(m.group("rest"))
    head = re.sub(r"^\s*(?:of|for|listing|covering)\s+", "", head, flags=re.I)
    # Without a file named, the index goes to INDEX.md, until "save it as ..." says where.
    return Index(scope_of(head), target or DEFAULT_INDEX, named=target is not None)


@phrasing(
    rf"^(?:write|create|make|build|generate|produce)\s+{ART}(?:new\s+)?(?:file\s+)?"
    rf"(?P<t>{P})\s+(?:listing|that\s+lists|which\s+lists|indexing|to\s+list)"
    r"\s+(?P<what>.+)$",
)
def _listing_file(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "write papers/INDEX.md listing them": an index of what the file sits with."""
    if not looks_like_file(m.group("t")):
        return None
    target, what = clean_path(m.group("t")), m.group("what").strip().lower()
    if what in ("them", "all of them", "it", "those", "these", "the files", "everything"):
        # "File the papers in inbox/ ..., then write papers/INDEX.md listing them":
        # them are the papers just filed, wherever the index goes.
        scope = ctx.last_group or posixpath.dirname(target) or ctx.last_dir or "."
    else:
        scope = scope_of(what)
    return Index(scope, target)


_GIST = (
    r"(?:summary|summarisation|summarization|gist|overview|recap|digest|synopsis|rundown|abstract"
    r"|tl;?dr|short\s+version|key\s+points|main\s+points|highlights|takeaways)"
)
_NUMBERS = {"one": 1, "a": 1, "a single": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_COUNTED = re.compile(
    r"(?P<n>\d+|one|two|three|four|five|six|a(?:\s+single)?)[\s-]+(?:sentence|line)s?\b",
    re.IGNORECASE,
)


def _sentences(words: str) -> int | None:
    """3 for "a three-sentence summary" or "... in three sentences"."""
    m = _COUNTED.search(words)
    if not m:
        return None
    n = m.group("n").lower()
    return int(n) if n.isdigit() else _NUMBERS.get(re.sub(r"\s+", " ", n))


_SUMMARIZE_VERB = clause(r"^(?:summari[sz]e|sum\s+up|recap|condense|digest|tl;?dr)\s+(?P<rest>.+)$")
_MAKE_GIST = clause(
    r"^(?:write|create|make|produce|prepare|add|save|give\s+me|get\s+me|put|jot\s+down|draft"
    r"|generate|compose|what(?:'s|\s+is)|tell\s+me)\s+(?:me\s+)?(?:an?\s+|the\s+)?"
    rf"(?P<adj>(?:[\w-]+\s+){{0,3}}?){_GIST}\s+(?:of|for|on|about|from|in)\s+(?P<rest>.+?)\??$"
)


def summarize(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "Summarize notes.md into summary.md", "a two-sentence summary of x": a `Summarize`."""
    # "Boil notes.md down into gist.txt" is "summarize notes.md into gist.txt".
    s = re.sub(r"^(?:boil|cut|trim|pare|condense)\s+(\S+)\s+down\b", r"summarize \1", s, flags=re.I)
    m = _SUMMARIZE_VERB.match(s) or _MAKE_GIST.match(s)
    if not m:
        return None
    rest = m.group("rest")
    count = _sentences(m.groupdict().get("adj") or "") or _sentences(rest)
    rest = re.sub(
        r"\s+in\s+(?:\d+|one|two|three|four|five|six|a)\s+(?:sentence|line)s?\b", "", rest
    )
    head, target = split_target(rest)
    head = re.sub(r"^(?:the\s+)?(?:file\s+)?", "", head, flags=re.I)
    head = re.sub(r"\s+(?:for\s+me|please)$", "", head, flags=re.I)
    return Summarize(clean_path(head), target, count)


_WHAT_FILES = clause(
    r"^(?:what|which)\s+files\s+(?:are\s+|exist\s+)?(?:there\s+)?"
    r"(?:(?:in|under|inside)\s+(?P<d>.+?))?\s*\??$"
    r"|^what(?:'s|\s+is)\s+in\s+(?P<e>.+?)\s*\??$"
    r"|^how\s+many\s+files\s+(?:are\s+)?(?:there\s+)?(?:in|under|inside)\s+(?P<f>.+?)\s*\??$"
)
_MAKE_LIST = clause(
    r"^(?:write|save|create|make|put)\s+(?:an?\s+|the\s+)?(?:list|listing)\s+of\s+(?P<rest>.+)$"
)
_LIST_VERB = clause(r"^(?:list|show|display|enumerate)\s+(?:me\s+)?(?P<rest>.*)$")


def list_files(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "List the files in src" or "what files are in docs?": a `ListFiles`.

    Also "write a list of x to y".
    """
    m = _MAKE_LIST.match(s) or _LIST_VERB.match(s)
    q = _WHAT_FILES.match(s)
    if q:
        what, target = (q.group("d") or q.group("e") or q.group("f") or ""), None
    elif m:
        what, target = split_target(m.group("rest"))
        # "a list of the risks" is writing; "a list of the files in docs/" is a listing.
        if s.lower().startswith(("write", "save", "create", "make", "put")) and not re.search(
            r"\bfiles?\b|\bfolders?\b|\bdirector|/|\beverything\b|\bcontents?\b|\bdocuments\b",
            what,
            re.I,
        ):
            return None
    else:
        return None
    bare = re.sub(
        r"^(?:the\s+)?(?:contents?\s+of\s+)?(?:the\s+)?(?:file\s+)?", "", what, flags=re.I
    )
    if looks_like_file(bare) and target is None:
        return ReadFile(clean_path(bare))
    recursive = bool(re.search(r"\brecursive|\ball\s+files\b|\bevery\s+file\b", what, re.I))
    what = re.sub(r",?\s*recursively$", "", what, flags=re.I)
    return ListFiles(scope_of(what), recursive, target)


@phrasing(
    rf"^(?:read|open|print|cat|display|show)\s+(?:me\s+)?(?:the\s+)?(?:contents?\s+of\s+)?"
    rf"(?:the\s+file\s+)?(?P<p>{P})"
    r"(?:,?\s+and\s+(?:tell|show|give)\s+me\s+(?:what\s+(?:it\s+says|is\s+in\s+it)"
    r"|its\s+contents?|what'?s\s+in\s+it))?$",
    rf"^what\s+does\s+(?P<p>{P})\s+(?:say|contain)(?:\s+(?:about|on|regarding)\s+(?P<about>.+?))?"
    r"\s*\??$",
)
def read(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "Read notes.md", "what does a.txt say about the deadline?": a `ReadFile`."""
    if not has_ext(m.group("p")):
        return None
    return ReadFile(clean_path(m.group("p")), m.groupdict().get("about"))
