"""Parsers for the phrasings that search file contents.

"which files in docs/ mention invoice", "collect every line with TODO from src/ into todos.txt".
Each takes (clause, context, produce) and returns an operation, or None.
"""

from __future__ import annotations

import re

from agentfleet.sim.chores.base import Op
from agentfleet.sim.chores.content import unquote
from agentfleet.sim.chores.phrases import clause, scope_of, split_target
from agentfleet.sim.chores.search import CollectLines, FindFiles
from agentfleet.sim.chores.text import Context, clean_path, looks_like_file

_MENTION = (
    r"(?:mentions?|mentioning|contains?|containing|includes?|including|references?|referencing"
    r"|refers?\s+to|referring\s+to|talks?\s+about|talking\s+about|says?|saying|has|have|having"
    r"|with|matching|matches|that\s+match)"
)
_FILES = r"(?:files?|documents?|docs|notes|pages|texts)"
_ASK = (
    r"(?:find|list|show|tell\s+me|identify|get|give\s+me|which|what|locate|name|check|see"
    r"|look\s+for|search\s+for|work\s+out|figure\s+out)"
)
_PICK = (
    r"(?:out\s+)?(?:me\s+)?(?:(?:which|what|all\s+(?:of\s+)?(?:the\s+)?|the|any|every|each)\s+)?"
)


def _pattern(raw: str) -> str:
    p = re.sub(r"\s+in\s+(?:it|them)$", "", raw.strip().rstrip("?."), flags=re.I)
    p = re.sub(r"^(?:the\s+)?(?:words?|text|string|term|phrase)\s+", "", p, flags=re.I)
    return unquote(p)


def _where(raw: str) -> str:
    raw = raw.strip().rstrip("?.")
    return clean_path(raw) if looks_like_file(raw) else scope_of(raw)


_FILES_THAT_MENTION = clause(
    rf"^{_ASK}\s+{_PICK}{_FILES}\s+(?:that\s+|which\s+|do\s+|does\s+)?{_MENTION}\s+"
    r"(?P<pat>.+)$"
)
_FILES_IN_THAT_MENTION = clause(
    rf"^{_ASK}\s+{_PICK}{_FILES}\s+(?:in|inside|under|within|from|of)\s+(?P<d>.+?)\s+"
    rf"(?:that\s+|which\s+|do\s+|does\s+)?{_MENTION}\s+(?P<pat>.+)$"
)
_FILES_THAT_MENTION_IN = clause(
    rf"^{_ASK}\s+{_PICK}{_FILES}\s+(?:that\s+|which\s+)?{_MENTION}\s+(?P<pat>.+?)\s+"
    r"(?:in|inside|under|within)\s+(?P<d>\S+(?:\s+(?:folder|directory))?)$"
)
_SEARCH_FOR = clause(
    r"^(?:search|grep|scan|look\s+through|go\s+through|check)\s+(?P<d>.+?)\s+for\s+"
    r"(?P<pat>.+)$"
)


def _files_mentioning(phrase: str) -> FindFiles | None:
    """For "which files in docs/ mention invoice", "files that mention X in docs"."""
    p = phrase.strip()
    m = _FILES_IN_THAT_MENTION.match(p) or _FILES_THAT_MENTION_IN.match(p) or _SEARCH_FOR.match(p)
    if m:
        return FindFiles(_where(m.group("d")), _pattern(m.group("pat")))
    # No folder named: the whole workspace.
    everywhere = _FILES_THAT_MENTION.match(p)
    return FindFiles(".", _pattern(everywhere.group("pat"))) if everywhere else None


_NAMES_OF = clause(
    r"^(?:write|save|put|store|record|list)\s+(?:down\s+)?(?:the\s+|a\s+)?(?:names|list|paths)"
    r"\s+of\s+(?:the\s+|all\s+(?:the\s+)?)?(?P<rest>.+)$"
)


def find_files(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "Find which files in docs/ mention 'invoice'": a `FindFiles`.

    With a target, the names are written to that file.
    """
    if found := _files_mentioning(s):
        return found
    # "Write the names of the files in docs/ that mention invoice to found.txt".
    w = _NAMES_OF.match(s)
    if not w:
        return None
    head, target = split_target(w.group("rest"))
    found = _files_mentioning(f"find {head}")
    return FindFiles(found.scope, found.pattern, target) if found else None


_LINES_THAT_MENTION = clause(
    r"^(?:collect|gather|extract|pull(?:\s+out)?|copy|grab|find|list|get|show|give\s+me"
    r"|pick\s+out|write\s+down|put|save|write|dump)\s+(?:out\s+)?(?:me\s+)?"
    r"(?:every|all|each|any|the)?\s*(?:of\s+the\s+)?(?:single\s+)?(?:lines?|entries)\s+"
    rf"(?:that\s+|which\s+)?{_MENTION}\s+(?P<pat>.+?)"
    r"\s+(?:from|in|across|inside|of|within|out\s+of)\s+(?P<src>.+)$"
)
_GREP_IN = clause(r"^grep\s+(?:for\s+)?(?P<pat>.+?)\s+(?:in|across|through|inside)\s+(?P<src>.+)$")


def collect_lines(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "Collect every line with TODO from src/ into todo.txt": a `CollectLines`."""
    head, target = split_target(s)
    m = (
        _LINES_THAT_MENTION.match(head)
        or _GREP_IN.match(head)
        or re.match(
            # "Find all the TODOs in src/": a marker word names the lines it is on.
            r"^(?i:find|collect|gather|list|extract|pull\s+out|grab|get)\s+"
            r"(?i:(?:every|all|each|any)\s+(?:of\s+)?(?:the\s+)?|the\s+)(?P<pat>[A-Z][A-Z0-9_]{2,})s?\b"
            r"(?i:\s+(?:comments?|notes?|lines?|markers?))?"
            r"\s+(?i:from|in|across|inside|within)\s+(?P<src>.+)$",
            head,
            re.DOTALL,
        )
    )
    if not m:
        return None
    return CollectLines(_where(m.group("src")), _pattern(m.group("pat")), target)
