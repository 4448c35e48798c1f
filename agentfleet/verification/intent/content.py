"""The words a task asks to see in a file, or gone from it, when the work is done.

A file that exists and was written by the agent can still hold the wrong thing: "Write
'buy milk' into todo.txt" is not done by a todo.txt that says "buy eggs". Words are taken
where the wording gives them, not where it describes them:

- quoted text right after the verb that puts it in the file ("Write 'x' to", "Append the
  line 'x' to", "todo.txt containing 'x'", "Replace 'a' with 'b' in"), and quoted text
  taken out ("Remove 'x' from", "Fix the typo 'teh' in");
- unquoted words only where they can only be literal: a value with a digit ("change the
  port to 9090"), one word added to an end or a list, the items of a list after a colon.

"Write a poem into poem.txt" describes its content and gets no words check. Work that
transforms the words (translate, reverse, encode, upper-case) or a later step that reworks
the file leaves them unchecked: failing honest work is worse than checking less.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from agentfleet.verification.intent.patterns import FILE_PATH


def _quote(name: str) -> str:
    """A quoted text in any of the quotes people type, its words in group `name`."""
    return (
        rf"(?:'(?P<{name}1>[^'\n]+)'|\"(?P<{name}2>[^\"\n]+)\""
        rf"|“(?P<{name}3>[^”\n]+)”|\u2018(?P<{name}4>[^\u2019\n]+)\u2019|`(?P<{name}5>[^`\n]+)`)"
    )


_FILE_AT = rf"(?:the\s+)?(?:file\s+)?{FILE_PATH}"
# "the line", "a new entry saying": what the quoted words are, said before them.
_WHAT = (
    r"(?:(?:an?|the)\s+)?(?:(?:new|single|short|final|first|last)\s+)?"
    r"(?:line|lines|entry|row|item|word|words|text|phrase|sentence|string|message|note|bullet"
    r"|heading|title|comment|greeting)\s+(?:saying\s+|reading\s+|that\s+says\s+)?"
)
# "the number 3", "the line version=2": one unquoted word the kind of it names. It must
# hold a digit or a symbol: "the line below", "the line numbers" name no words.
_BARE = (
    r"the\s+(?:number|word|line|value|string|text)\s+"
    r"(?P<bare>(?=[^\s'\"`“”\u2018\u2019,;]*[\d=:_/@#+])[^\s'\"`“”\u2018\u2019,;]+)"
)
# "Write 'x' to a.txt", "Save 'x' as memo.txt", "Put the line 'x' in settings.txt".
_PUT = re.compile(
    rf"\b(?:write|save|put|store|type|enter|place)\s+(?:(?:{_WHAT})?{_quote('text')}|{_BARE})\s+"
    rf"(?:(?:in)?to|in|inside|as|at\s+the\s+(?:end|top|bottom|start|beginning)\s+of)\s+{_FILE_AT}",
    re.I,
)
# "Add 'Carol' to the guest list in guests.txt", "Append the line 'done' to log.txt".
_ADD = re.compile(
    rf"\b(?:add|append|prepend|insert)\s+(?:(?:{_WHAT})?{_quote('text')}|{_BARE})"
    r"(?P<gap>[^,;.!?\n'\"“”\u2018\u2019`]{0,50}?)\b(?:to|into|in|of|onto|on)\s+" + _FILE_AT,
    re.I,
)
# "Create todo.txt containing 'buy milk'", "notes.md with the text 'hello'".
_CONTAINING = re.compile(
    rf"{FILE_PATH}\s+(?:that\s+)?(?:containing|contains|which\s+contains|holding|saying"
    r"|that\s+says|reading|with\s+(?:just\s+|only\s+)?(?:the\s+|a\s+)?(?:(?:single|one)\s+)?"
    r"(?:text|content|contents|line|words?|message|sentence|phrase))\s*:?\s*" + _quote("text"),
    re.I,
)
# "Replace 'colour' with 'color' in essay.md": the new words must be there.
_SWAP = (
    r"\b(?:replace|change|swap|switch)\s+(?:(?:every|each|all)\s+(?:occurrences?\s+of\s+)?"
    rf"|the\s+(?:word|text|line|phrase|string)\s+)?{_quote('old')}\s+(?:with|to|for|by|into)\s+"
    + _quote("text")
)
_REPLACE = re.compile(
    _SWAP
    + r"(?P<gap>[^,;.!?\n'\"“”\u2018\u2019`]{0,30}?)\b(?:in|throughout|within|across)\s+"
    + _FILE_AT,
    re.I,
)
# Line by line: a task's title and its description each start a line.
_IN_FILE_REPLACE = re.compile(rf"^\s*in\s+{FILE_PATH}\s*,?\s+" + _SWAP, re.I | re.M)

# "Remove the line 'x' from a.txt", "Fix the typo 'teh' in letter.txt": words to be gone.
_TAKE_OUT = re.compile(
    r"\b(?:remove|delete|strip|drop|erase|cut|get\s+rid\s+of|take\s+out)\s+"
    r"(?:(?:the|every|all|each|any)\s+)?(?:(?:lines?|words?|entry|entries|rows?|mentions?"
    r"|occurrences?|instances?|text|phrase|string)\s+(?:of\s+|saying\s+|containing\s+"
    rf"|with\s+|that\s+says?\s+)?)?{_quote('old')}\s+(?:from|in|out\s+of)\s+{_FILE_AT}",
    re.I,
)
_TYPO = re.compile(
    r"\bfix\s+(?:the\s+)?(?:typo|misspelling|misspelt\s+word|spelling(?:\s+(?:mistake|error))?)"
    rf"s?\s+{_quote('old')}\s+(?:in|of)\s+{_FILE_AT}",
    re.I,
)

# Words that name no item of a list: "Add tests to the end of test_a.py" adds code.
_NOT_ITEM = (
    r"(?:a|an|the|some|more|any|it|them|this|that|these|those|another|one|two|three|tests?"
    r"|comments?|logging|docs|documentation|notes|headers?|footers?|titles?|lines?|entries"
    r"|items|sections?|types?|everything|something|anything|numbers|timestamps?|dates?"
    r"|newlines?|blank|whitespace|padding|spaces?|tabs?|punctuation|links?|details|info"
    r"|information|examples?|descriptions?|summary|summaries|text|content|code|me|us|you"
    r"|yourself|myself|him|her)"
)
# "Add eggs to the end of shopping.txt", "Add Carol to the guest list in guests.txt": one
# item added to an end or a list is named by its word.
_ADD_ITEM = re.compile(
    rf"\b(?:add|append)\s+(?!{_NOT_ITEM}\b)(?P<bare>[A-Za-z][\w'-]*)\s+to\s+(?:the\s+)?"
    r"(?:(?:very\s+)?(?:end|bottom|top|start|beginning)\s+of\s+(?:the\s+)?(?:file\s+)?"
    r"|(?:[\w-]+\s+){0,2}list\s+(?:in|of|at)\s+(?:the\s+)?(?:file\s+)?)" + FILE_PATH,
    re.I,
)
# "Change the port from 8080 to 9090 in config.ini", "In a.cfg, set retries to 5": a new
# value with a digit in it, or quoted, is literal.
_SET = r"\b(?:change|set|update|switch|bump|increase|decrease|raise|lower|reduce)\b"
_VALUE = rf"\bto\s+(?:{_quote('text')}|(?P<bare>[\w.:/-]*\d[\w.:/-]*?))(?=[.,;!?]?(?:\s|$))"
_SET_VALUE = re.compile(
    rf"{_SET}[^;\n]*?{_VALUE}(?P<gap>[^,;.!?\n'\"“”\u2018\u2019`]{{0,30}}?)"
    rf"\b(?:in|of)\s+{_FILE_AT}",
    re.I,
)
_SET_VALUE_LATER = re.compile(
    rf"{_SET}[^;\n]*?\b(?:in|of)\s+{_FILE_AT}(?P<gap>[^;\n]*?){_VALUE}", re.I
)
_IN_FILE_SET = re.compile(rf"^\s*in\s+{FILE_PATH}\s*,?\s+{_SET}[^;\n]*?{_VALUE}", re.I | re.M)

_PATTERNS = (
    _PUT,
    _ADD,
    _CONTAINING,
    _REPLACE,
    _IN_FILE_REPLACE,
    _TAKE_OUT,
    _TYPO,
    _ADD_ITEM,
    _SET_VALUE,
    _SET_VALUE_LATER,
    _IN_FILE_SET,
)

# "Write these lines to packing.txt, one per line: passport, charger, socks", "Replace
# whatever is in status.txt with: all systems go": what follows the colon is literal.
_AFTER_COLON = re.compile(
    r"\b(?:write|put|save|add|append|create|make|replace|overwrite|fill)\b"
    r"(?P<pre>[^:;\n]*?)\s*:\s*(?P<items>[^\n;]+)",
    re.I,
)
_LISTED = re.compile(
    r"\b(?:one\s+(?:per|a|on\s+each)\s+line|lines|items|entries|names|words)\s*$", re.I
)
_WITH = re.compile(r"\bwith\s*$", re.I)
_PER_LINE = re.compile(
    r"\bone\s+(?:per|a|on\s+each)\s+line\b|\beach\s+on\s+its\s+own\s+line\b", re.I
)
_WORDS_END = re.compile(r"\.\s|\s[\[(]")
_ONE_FILE = re.compile(FILE_PATH, re.I)

# The file is to hold the words changed, not as given.
_TRANSFORMED = re.compile(
    r"\b(?:translat\w*|revers\w*|backwards?|encod\w*|encrypt\w*|hash\w*|base64|rot13|upper\w*"
    r"|lower\w*|(?:all\s+)?caps|capitali[sz]\w*|title\s+case|paraphras\w*|reword\w*|rephras\w*"
    r"|summari[sz]\w*|spell\w*|morse|binary|hex\w*|pig\s+latin|emoji\w*|ascii\s+art|scrambl\w*"
    r"|shuffl\w*|sort\w*|in\s+(?:french|spanish|german|italian|portuguese|dutch|japanese|chinese"
    r"|korean|russian|arabic|hindi|latin|greek|another\s+language))\b",
    re.I,
)
# A later step that reworks the file: what it ends up holding is not the quoted words.
_REWORK = re.compile(
    r"\b(?:replace|change|edit|rewrite|overwrite|sort|reverse|shuffle|translate|convert"
    r"|encrypt|encode|rename|move|delete|remove|clear|empty|truncate|strip|reformat|format"
    r"|uppercase|lowercase|capitali[sz]e|dedupe|de-?duplicate|compress|zip)\b",
    re.I,
)
_POINTER = re.compile(r"\b(?:it|its|them|the\s+file|that\s+file|this\s+file)\b", re.I)
_CLAUSE_END = re.compile(r"[.;!?](?:\s|$)|\n")
# A quoted file name is a source ("Save 'draft.md' as final.md"), not words to write.
_JUST_A_NAME = re.compile(r"[\w./-]+\.[A-Za-z][A-Za-z0-9]{0,7}")


@dataclass(frozen=True)
class Wanted:
    """Words that a file must hold when the task is done."""

    path: str
    text: str
    # holds: somewhere in the file; lacks: gone from it (taken out, or replaced);
    # line: a line of its own ("one per line").
    how: Literal["holds", "lacks", "line"] = "holds"


def _group(m: re.Match[str], name: str) -> str | None:
    named = m.groupdict()
    quoted = next((g for i in range(1, 6) if (g := named.get(f"{name}{i}"))), None)
    return quoted or (named.get("bare") if name == "text" else None)


# "5s", "10MB": a number with its unit, which a file may spell its own way.
_WITH_UNIT = re.compile(r"(\d+(?:\.\d+)?)[A-Za-z%]+")


def _asked(m: re.Match[str]) -> list[Wanted]:
    """What one phrasing asks a file to hold, and not hold, when the work is done."""
    path = m.group("file").strip("`'\"")
    new, old = _group(m, "text"), _group(m, "old")
    if new and new == m.groupdict().get("bare") and (unit := _WITH_UNIT.fullmatch(new)):
        new = unit.group(1)
    asked = [Wanted(path, new)] if new and new.strip() else []
    # "Replace 'cat' with 'cats'": the old words live on inside the new ones.
    if old and old.strip() and not (new and _plain(old) in _plain(new)):
        asked.append(Wanted(path, old, how="lacks"))
    return [w for w in asked if not _JUST_A_NAME.fullmatch(w.text.strip())]


def _clause(text: str, start: int, end: int) -> str:
    """The clause a match stands in: from its start to the end of its sentence."""
    stop = _CLAUSE_END.search(text, end)
    return text[start : stop.start() if stop else len(text)]


def _reworked_later(text: str, end: int, path: str, again: list[tuple[int, int]]) -> bool:
    """Whether a later step reworks the file.

    A step asking for the same words is no rework: a task's title line and its
    description often say the same thing twice.
    """
    chars = list(text)
    for a, b in again:
        chars[a:b] = " " * (b - a)
    rest = "".join(chars[end:])
    return bool(_REWORK.search(rest)) and (path in rest or bool(_POINTER.search(rest)))


def _after_colon(text: str) -> list[tuple[int, int, list[Wanted]]]:
    """The items of a list, or the one text, that a colon gives for a single named file."""
    found: list[tuple[int, int, list[Wanted]]] = []
    for m in _AFTER_COLON.finditer(text):
        pre = m.group("pre")
        # The words end with their sentence, or where a note in brackets starts.
        rest = _WORDS_END.split(m.group("items"), maxsplit=1)[0].strip()
        files = {f.group("file").strip("`'\"") for f in _ONE_FILE.finditer(pre)}
        if len(files) != 1 or _TRANSFORMED.search(m.group(0)):
            continue
        (path,) = files
        how: Literal["holds", "line"] = "line" if _PER_LINE.search(pre) else "holds"
        if _WITH.search(pre):
            items = [rest]
        elif _LISTED.search(pre.rstrip(" ,")):
            items = re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", rest)
        else:
            continue
        items = [i.strip().strip("`'\"").rstrip(".") for i in items]
        if all(i and len(i.split()) <= 6 for i in items):
            found.append((m.start(), m.end(), [Wanted(path, i, how) for i in items]))
    return found


def _phrasings(text: str) -> list[tuple[int, int, list[Wanted]]]:
    """Every phrasing that gives words for a file: where it stands, and what it asks."""
    found: list[tuple[int, int, list[Wanted]]] = []
    for pattern in _PATTERNS:
        for m in pattern.finditer(text):
            gap = m.groupdict().get("gap") or ""
            if re.search(r"\b(?:and|then|from|but)\b", gap):
                continue
            if _TRANSFORMED.search(_clause(text, m.start(), m.end())):
                continue
            if asked := _asked(m):
                found.append((m.start(), m.end(), asked))
    return found + _after_colon(text)


def wanted(text: str) -> list[Wanted]:
    """The words the wording asks to see in, or gone from, named files, in the order written."""
    found = sorted(_phrasings(text), key=lambda f: f[0])
    kept: list[Wanted] = []
    for start, end, asked in found:
        again = [(a, b) for a, b, other in found if other == asked and a != start]
        if not _reworked_later(text, end, asked[0].path, again):
            kept += asked
    return kept


_STRAIGHT = str.maketrans({"\u2019": "'", "\u2018": "'", "“": '"', "”": '"'})


def _plain(text: str) -> str:
    """Text as compared, the way a person reading it would compare.

    Escapes typed in a task are made real, quotes straightened, case and runs of white
    space folded, and a closing full stop dropped.
    """
    return _spaced(text).casefold().rstrip(".")


def holds(content: str, words: str) -> bool:
    """Whether a file's content holds the words, as a person reading it would say."""
    return _plain(words) in _plain(content)


# What a list's line may carry besides its item: a bullet or a number.
_MARKER = re.compile(r"^(?:[-*+\u2022]|\d+[.)])\s*")


def on_a_line(content: str, words: str) -> bool:
    """Whether the words are a line of the file by themselves, bullets and numbers aside."""
    want = _plain(words)
    return any(_plain(_MARKER.sub("", line.strip())) == want for line in content.splitlines())


def lacks(content: str, words: str) -> bool:
    """Whether the words are gone from a file's content: "teh" is, from "tehran".

    Case counts here: replacing 'colour' leaves "Colour" alone, as the task said.
    """
    return not re.search(rf"(?<!\w){re.escape(_spaced(words))}(?!\w)", _spaced(content))


def _spaced(text: str) -> str:
    """Text with escapes made real, quotes straightened and white space folded; case kept."""
    real = text.replace("\\n", "\n").replace("\\t", "\t").translate(_STRAIGHT)
    return " ".join(real.split())
