"""Parsers for the phrasings that change text inside a file.

Replace one text with another, change a value "from A to B", set a key, fix a typo. Each takes
(clause, context, produce) and returns an operation, or None.
"""

from __future__ import annotations

import re

from agentfleet.sim.chores.base import Op
from agentfleet.sim.chores.content import content_of, unquote
from agentfleet.sim.chores.edits import Edit, FixTypo, SetValue
from agentfleet.sim.chores.files import Write
from agentfleet.sim.chores.phrases import FLAGS, P, clause, phrasing
from agentfleet.sim.chores.text import Context, clean_path

_IN_FILE = rf"\s+in\s+(?:the\s+file\s+)?(?P<t>{P})$"
# "every foo", "all occurrences of the word foo": how many, not what.
_HOW_MANY = re.compile(
    r"^(?:(?:every|each|all|any)\s+(?:of\s+)?(?:the\s+)?"
    r"(?:(?:occurrences?|instances?|mentions?|appearances?|copies)\s+of\s+(?:the\s+)?)?)?"
    r"(?:(?:words?|strings?|text|term|name)\s+)?",
    re.IGNORECASE,
)


def _text(phrase: str) -> str:
    p = phrase.strip()
    return unquote(p) if p[:1] in "'\"`" else unquote(_HOW_MANY.sub("", p, count=1))


_REPLACE_WITH = clause(
    r"^(?:replace|change|substitute|swap)\s+(?P<old>.+?)\s+(?:with|to|by|for)\s+"
    rf"(?P<new>.+?){_IN_FILE}"
)
_EDIT_TO_SAY = clause(
    rf"^(?:edit|update|change|rewrite)\s+(?P<t>{P})\s+(?:so\s+(?:that\s+)?it\s+"
    r"(?:says|reads|contains)|to\s+(?:say|read|contain))\s+(?P<c>.+)$"
)
_EDIT_SO_IT_GOES = clause(
    rf"^(?:update|edit|change)\s+(?P<t>{P})\s+so\s+(?:that\s+)?(?:the\s+)?"
    r"(?P<key>[\w .-]{1,40}?)\s+(?:goes|changes|is\s+changed|becomes|moves)\s+from\s+"
    r"(?P<old>\S.*?)\s+to\s+(?P<new>.+)$"
)


def edit(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "Change the port from 8080 to 9090 in app.ini": an `Edit` or a `SetValue`.

    Also "replace 'a' with 'b' in x.txt" and "set the port to 9090 in app.ini".
    """
    verb = r"^(?:change|update|set|switch|bump|move|edit)\s+(?:the\s+)?(?P<key>[\w .-]{1,40}?)\s+"
    f = re.match(
        rf"{verb}from\s+(?P<old>\S.*?)\s+to\s+(?P<new>.+?){_IN_FILE}", s, FLAGS
    ) or re.match(
        rf"{verb}in\s+(?:the\s+file\s+)?(?P<t>{P})\s+from\s+(?P<old>\S.*?)\s+to\s+(?P<new>.+)$",
        s,
        FLAGS,
    )
    f = f or _EDIT_SO_IT_GOES.match(s)
    if f:
        key = re.sub(r"^(?:value\s+of\s+(?:the\s+)?)", "", f.group("key"), flags=re.I)
        return Edit(clean_path(f.group("t")), _text(f.group("old")), _text(f.group("new")), key)
    m = _REPLACE_WITH.match(s)
    if m:
        return Edit(clean_path(m.group("t")), _text(m.group("old")), _text(m.group("new")))
    w = _EDIT_TO_SAY.match(s)
    return Write(clean_path(w.group("t")), content_of(w.group("c"))) if w else None


@phrasing(
    r"^(?:set|change|update|switch|make)\s+(?:the\s+)?(?P<key>[\w.-]+(?:\s[\w.-]+)?)\s+"
    rf"(?:to|=)\s+(?P<v>[^\s]+|'[^']*'|\"[^\"]*\"){_IN_FILE}",
)
def set_value(m: re.Match[str], ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "Set the port to 9090 in config.ini": a setting, by its name."""
    if re.search(r"\b(?:contents?|text)\b", m.group("key"), re.I):
        return None
    return SetValue(clean_path(m.group("t")), m.group("key"), unquote(m.group("v")))


_WORD = r"(?P<w>'[^']+'|\"[^\"]+\"|`[^`]+`|[\w'-]+)"
_TYPO = (
    r"(?:typo(?:graphical\s+error)?|misspel(?:l)?ing|spelling(?:\s+(?:mistake|error))?"
    r"|misspel(?:l)?ed\s+word|misspelt\s+word|mistake|error|spelling\s+of)"
)


_FIX_WORD = clause(
    rf"^(?:fix|correct|repair)\s+(?:the\s+|a\s+|that\s+)?(?:{_TYPO}\s+)?{_WORD}"
    r"(?:\s*(?:->|\u2192|=>|to|with|into|as|so\s+it\s+reads|should\s+be)\s*"
    r"(?P<fix>'[^']+'|\"[^\"]+\"|[\w'-]+))?"
    rf"{_IN_FILE}"
)
_FIX_EVERY = clause(
    rf"^(?:fix|correct|repair)\s+(?:the\s+|any\s+|all\s+(?:the\s+)?)?(?:{_TYPO}s?|typos"
    rf"|spelling)(?:\s+mistakes)?{_IN_FILE}"
)
_SPELL_CHECK = clause(rf"^(?:spell[- ]?check|proofread)\s+(?:the\s+file\s+)?(?P<t>{P})$")


def fix_typo(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    """For "Fix the typo 'teh' in notes.md", "spell-check notes.md": a `FixTypo`."""
    m = _FIX_WORD.match(s)
    if m and not re.fullmatch(rf"{_TYPO}s?|typos|spelling", m.group("w"), re.I):
        fixed = unquote(m.group("fix")) if m.group("fix") else None
        return FixTypo(clean_path(m.group("t")), unquote(m.group("w")), fixed)
    every = _FIX_EVERY.match(s) or _SPELL_CHECK.match(s)
    return FixTypo(clean_path(every.group("t"))) if every else None
