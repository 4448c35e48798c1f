"""The pieces of a request's wording that many phrasings share.

A path as written, a target file at the end ("... into summary.md"), a scope ("everything", "the
files in inbox"), a destination folder, and "all the .txt files in X".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from agentfleet.sim.chores.base import Op
from agentfleet.sim.chores.text import Context, clean_path, has_ext, looks_like_file

P = r"(?:`[^`]+`|'[^']+'|\"[^\"]+\"|[^\s,;]+)"
ART = r"(?:(?:a|an|the|my|our|this|that)\s+)?"
NEW = r"(?:(?:new|empty|blank|fresh)\s+)*"
NAMED = r"(?:(?:called|named|titled)\s+)?"
# Singular or plural: "a folder", "the directories src and tests".
FOLDER = r"(?:sub)?(?:folders?|director(?:y|ies)|dirs?)"
FLAGS = re.IGNORECASE | re.DOTALL


def clause(pattern: str) -> re.Pattern[str]:
    """A pattern for a whole clause, compiled once with the grammar's flags (any case, any line)."""
    return re.compile(pattern, FLAGS)


# One parser per family of phrasings: (clause, context, produce) -> op, or None.
Parser = Callable[[str, Context, tuple[str, ...]], Op | None]
Builder = Callable[[re.Match[str], Context, tuple[str, ...]], Op | None]


def phrasing(*patterns: str) -> Callable[[Builder], Parser]:
    """Makes a parser of one family of phrasings from its patterns and what a match builds.

    The parser tries the patterns in order on the clause; a clause none of them matches is not
    of the family (None), and the first match goes to the builder with the context.
    """
    compiled = [clause(pattern) for pattern in patterns]

    def wrap(build: Builder) -> Parser:
        @functools.wraps(build)
        def parse(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
            m = next((m for pattern in compiled if (m := pattern.match(s))), None)
            return build(m, ctx, produce) if m else None

        return parse

    return wrap


TARGET = re.compile(
    rf"^(?P<head>.*?)\s+(?:to|into|in|as|at|inside|under|called|named)\s+"
    rf"(?:{ART}{NEW}(?:text\s+|markdown\s+)?file\s+{NAMED})?(?P<t>{P})"
    # "... to inbox/INDEX.md listing every file": what follows the path describes it.
    r"(?:,?\s+(?:listing|that\s+lists|which\s+lists|with|containing|covering)\b.*)?$",
    FLAGS,
)
# The folder the workspace starts at, however it is called.
ROOT = (
    r"(?:the\s+)?(?:(?:very\s+)?top(?:[\s-]level)?|root|main|current|base|outer(?:most)?"
    rf"|workspace(?:'s)?(?:\s+root)?)(?:\s+(?:{FOLDER}|level))?|here|this\s+{FOLDER}"
)
EVERYTHING = re.compile(
    r"^(?:everything|all|all\s+(?:the\s+)?files|every\s+file|all\s+of\s+it|it\s+all"
    rf"|(?:the\s+)?(?:whole\s+|entire\s+)?workspace|the\s+files|files|{ROOT}|)$",
    re.IGNORECASE,
)
# "the reports in reports/", "what is in text/": the words before the folder
# say what is in it, not where.
_THINGS_IN = re.compile(
    r"^(?:(?:all|every|each|any)\s+)?(?:of\s+)?(?:the\s+|its\s+|their\s+)?"
    r"(?:[\w-]+\s+){0,2}?(?:in|inside|under|within|at|from)\s+(?P<rest>.+)$"
    r"|^what(?:'s|\s+is|\s+was|\s+ends\s+up)\s+(?:now\s+)?(?:in|inside|under)\s+(?P<what>.+)$",
    re.IGNORECASE,
)
# Word boundaries matter: "the inbox folder" must not lose the "in" of "inbox".
SCOPE_LEAD = re.compile(
    r"^(?:(?:all|every|each)\s+)?(?:of\s+)?(?:the\s+)?"
    r"(?:(?:files?|contents?|entries|everything|things)\b\s*)?"
    rf"(?:(?:in|inside|under|of|from|within)\b\s*)?{ART}(?:{FOLDER}\s+)?",
    re.IGNORECASE,
)
_WHERE = (
    rf"\s+(?:(?:in|from|inside|under|within|at)\s+"
    rf"(?P<where>{ROOT}|{ART}(?:{FOLDER}\s+)?{P}(?:\s+{FOLDER})?)|here)"
)
MANY = re.compile(
    r"^(?:(?:all|every|each|the|any)\s+(?:of\s+)?(?:the\s+)?(?:(?P<ext>\.?[a-z0-9]+)\s+)?files?"
    rf"|everything(?=\s))(?:{_WHERE})?$",
    re.IGNORECASE,
)
# "all the pdfs", "every log": a kind named by its extension, in the plural or not.
KNOWN_EXTS = (
    "txt|md|log|csv|tsv|json|yaml|yml|xml|html|pdf|doc|docx|xls|xlsx|ppt|pptx|jpg|jpeg|png"
    "|gif|svg|mp3|mp4|wav|zip|tar|gz|py|js|ts|sh|bak|tmp|old|ini|cfg|conf"
)
_KIND = re.compile(
    rf"^(?:all|every|each|any)\s+(?:of\s+)?(?:the\s+)?\.?(?P<ext>{KNOWN_EXTS})(?:s|\s+files?)?"
    rf"(?:{_WHERE})?$",
    re.IGNORECASE,
)
EXT_WORDS = {"markdown": "md", "text": "txt", "python": "py", "image": "png", "json": "json"}


def split_target(rest: str) -> tuple[str, str | None]:
    """("notes.md", "summary.md") from "notes.md into summary.md"."""
    m = TARGET.match(rest.strip())
    if m and (looks_like_file(m.group("t")) or m.group("t")[:1] in "'\"`"):
        return m.group("head").strip(), clean_path(m.group("t"))
    return rest.strip(), None


def scope_of(phrase: str) -> str:
    """The folder a phrase means: "." for everything or the root, else the path it names."""
    p = phrase.strip()
    if EVERYTHING.match(p):
        return "."
    if m := _THINGS_IN.match(p):
        return scope_of(m.group("rest") or m.group("what"))
    rest = SCOPE_LEAD.sub("", p, count=1).strip() or p
    rest = re.sub(rf"\s+{FOLDER}$", "", rest, flags=re.IGNORECASE)
    return "." if EVERYTHING.match(rest) else clean_path(rest)


def dest(raw: str) -> tuple[str, bool]:
    """(path, is_folder) for a move or copy destination as written."""
    r = raw.strip()
    m = re.match(
        rf"^{ART}{NEW}(?:(?:{FOLDER})\s+{NAMED}(?P<a>{P})|(?P<b>{P})\s+{FOLDER})$", r, re.I
    )
    if m:
        return clean_path(m.group("a") or m.group("b")), True
    if r.endswith("/") or not has_ext(r):
        return clean_path(r), True
    return clean_path(r), False


def many(src: str) -> tuple[str, str | None] | None:
    """(folder, extension or None) for "all the .txt files in inbox", "every log here"."""
    m = MANY.match(src.strip()) or _KIND.match(src.strip())
    if not m:
        return None
    ext = (m.group("ext") or "").lstrip(".").lower() or None
    ext = EXT_WORDS.get(ext, ext) if ext else None
    where = m.group("where")
    return (scope_of(where) if where else "."), ext


def names(text: str) -> tuple[str, ...]:
    """Folder names from "a, b and c" or "reports and a folder named drafts"."""
    parts = re.split(r",\s*(?:and\s+)?|\s+and\s+", text.strip())
    lead = re.compile(rf"^{ART}{NEW}(?:{FOLDER}\s+)?{NAMED}", re.IGNORECASE)
    return tuple(clean_path(lead.sub("", p.strip())) for p in parts if p.strip())
