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

import csv
import io
import re
from dataclasses import dataclass
from typing import Any, Literal

from agentfleet.verification.intent import words as wd


@dataclass(frozen=True)
class Wanted:
    """Words that a file must hold when the task is done."""

    path: str
    text: str
    # holds: somewhere in the file; lacks: gone from it (taken out, or replaced);
    # line: a line of its own ("one per line"); pair: "key\0value", a line that sets the
    # key to the value ("set debug to false in settings.ini"); start: no line starts with
    # the text; order: the lines are in order, text "asc" or "desc"; count: "LOW-HIGH"
    # items (lines, or one line's comma-separated parts), HIGH empty for no bound; unique:
    # no line twice; column: "COLUMN asc|desc", a table's rows in that column's order; end:
    # "top" or "end", the end of the file new text goes to; words: "LOW-HIGH" words in all.
    how: Literal[
        "holds",
        "lacks",
        "line",
        "pair",
        "start",
        "order",
        "count",
        "unique",
        "column",
        "end",
        "words",
    ] = "holds"


def _group(m: re.Match[str], name: str) -> str | None:
    named = m.groupdict()
    quoted = next((g for i in range(1, 6) if (g := named.get(f"{name}{i}"))), None)
    return quoted or named.get("bare" if name == "text" else f"bare_{name}")


# "5s", "10MB": a number with its unit, which a file may spell its own way.
_WITH_UNIT = re.compile(r"(\d+(?:\.\d+)?)[A-Za-z%]+")


def _pointed(text: str, at: int) -> str | None:
    """The file "it" means at `at`: the last one named before it on its line."""
    line = text[text.rfind("\n", 0, at) + 1 : at]
    named = [f.group("file") for f in wd.ONE_FILE.finditer(line)]
    return named[-1] if named else None


def _file_of(m: re.Match[str], text: str) -> str | None:
    """The file a phrasing names, or the one its "it" points at."""
    return m.groupdict().get("file") or (m.group("it") and _pointed(text, m.start("it")))


def _asked(m: re.Match[str], text: str) -> list[Wanted]:
    """What one phrasing asks a file to hold, and not hold, when the work is done."""
    named = _file_of(m, text)
    if not named:
        return []
    path = named.strip("`'\"")
    new, old = _group(m, "text"), _group(m, "old")
    if new and new == m.groupdict().get("bare") and (unit := _WITH_UNIT.fullmatch(new)):
        new = unit.group(1)
    asked = [Wanted(path, new)] if new and new.strip() else []
    if asked and m.re in wd.SETS:
        asked += _setting(m, path, new or "")
    # "Replace 'cat' with 'cats'": the old words live on inside the new ones.
    if old and old.strip() and not (new and _plain(old) in _plain(new)):
        asked.append(Wanted(path, old, how="lacks"))
    return [w for w in asked if not wd.JUST_A_NAME.fullmatch(w.text.strip())]


# Files of settings, where a key and its value share a line ("port = 9090", "port: 9090",
# '"port": 9090'). In prose ("Update the date in README.md to ...") they need not.
_CONFIG = re.compile(
    r"(?:\.(?:ini|cfg|conf|config|ya?ml|json|toml|env|properties|py)|(?:^|/)\.env[\w.-]*)$", re.I
)
_KEY_END = re.compile(r"\b(?:to|from|in|inside|within|at|for|on)\b", re.I)
# Words that say what kind of thing the key is, not its name: "the number of retries".
_ROLE = frozenset(
    "the a an its my our default field setting settings value option key entry variable flag"
    " parameter param number of".split()
)


def _setting(m: re.Match[str], path: str, new: str) -> list[Wanted]:
    """What setting a value asks besides the value itself.

    Given with the value it replaces, it is a swap ("port 8080 to 9090": 8080 goes, on
    whatever line held it), if that value is distinctive enough to look for ("3" is
    not); else the value is set on the line of its key, in a settings file.
    """
    before = m.group(0)[: m.start("bare") - m.start()] if m.group("bare") else ""
    old = next((o.group("old") for o in wd.OLD_VALUE.finditer(before)), None)
    if old and len(old) >= 3 and old != new and old not in new:
        return [Wanted(path, old, how="lacks")]
    if _CONFIG.search(path) and (key := m.groupdict().get("key") or _key_words(m)):
        return [Wanted(path, f"{key}\0{new}", how="pair")]
    return []


def _key_words(m: re.Match[str]) -> str:
    """The setting a phrasing names ("port" in "change the port from 8080 to 9090")."""
    said = m.group(0)
    verb = wd.SET_VERB.search(said)
    if verb is None:
        return ""
    rest = said[verb.end() :]
    end = _KEY_END.search(rest)
    named = re.findall(r"[A-Za-z][\w-]*", rest[: end.start() if end else len(rest)])
    key = [w for w in named if w.lower() not in _ROLE]
    return " ".join(key) if 1 <= len(key) <= 3 else ""


def sets(content: str, pair: str) -> bool:
    """Whether a line of the file names one of the key's words and holds the value."""
    key, value = pair.split("\0", 1)
    names = [w.casefold() for w in key.split()]
    at = re.compile(rf"(?<![\w.]){re.escape(_plain(value))}(?!\d|\.\d)")
    for line in content.splitlines():
        low = _plain(line)
        if any(n in low for n in names) and at.search(low):
            return True
    return False


def _clause(text: str, start: int, end: int) -> str:
    """The clause a match stands in: from its start to the end of its sentence."""
    stop = wd.CLAUSE_END.search(text, end)
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
    return bool(wd.REWORK.search(rest)) and (path in rest or bool(wd.POINTER.search(rest)))


def _after_colon(text: str) -> list[tuple[int, int, list[Wanted]]]:
    """The items of a list, or the one text, that a colon gives for a single named file."""
    found: list[tuple[int, int, list[Wanted]]] = []
    for m in wd.AFTER_COLON.finditer(text):
        pre = m.group("pre")
        # The words end with their sentence, or where a note in brackets starts.
        rest = wd.WORDS_END.split(m.group("items"), maxsplit=1)[0].strip()
        files = {f.group("file").strip("`'\"") for f in wd.ONE_FILE.finditer(pre)}
        if len(files) != 1 or wd.TRANSFORMED.search(m.group(0)):
            continue
        (path,) = files
        how: Literal["holds", "line"] = "line" if wd.PER_LINE.search(pre) else "holds"
        if wd.WITH.search(pre):
            items = [rest]
        elif wd.LISTED.search(pre.rstrip(" ,")):
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
    for pattern in wd.PATTERNS:
        for m in pattern.finditer(text):
            gap = m.groupdict().get("gap") or ""
            if re.search(r"\b(?:and|then|from|but)\b", gap):
                continue
            if wd.TRANSFORMED.search(_clause(text, m.start(), m.end())):
                continue
            if asked := _asked(m, text):
                found.append((m.start(), m.end(), asked))
    lists = _own_lines(text) + _numbers(text) + _shapes(text) + _path_items(text) + _swaps(text)
    return found + _after_colon(text) + _quoted_items(text) + lists + _line_rules(text)


def _path_items(text: str) -> list[tuple[int, int, list[Wanted]]]:
    """Paths and patterns added to a file ("Add tmp/ and *.log to .gitignore"): each is there."""
    found: list[tuple[int, int, list[Wanted]]] = []
    for m in wd.PATH_ITEMS.finditer(text):
        path = _file_of(m, text)
        # "src/" is there as "./src" too: the folder's name is what must be.
        items = [i.rstrip("/") or i for i in _SPLIT_ITEMS.split(m.group("items")) if i]
        if path:
            found.append((m.start(), m.end(), [Wanted(_bare(path), i) for i in items]))
    return found


def _shapes(text: str) -> list[tuple[int, int, list[Wanted]]]:
    """Described content a reader can still count or name.

    A haiku's lines, a list's items, the name of the thing a file is for.
    """
    found: list[tuple[int, int, list[Wanted]]] = []
    for m in wd.HAIKU.finditer(text):
        found.append((m.start(), m.end(), [Wanted(_bare(m.group("file")), "3-4", how="count")]))
    for m in wd.COUNTED.finditer(text):
        said = (m.group("n") or m.group("m")).lower()
        n = wd.NUMBER_WORDS.get(said) or int(said)
        path = _bare(m.group("file") or m.group("file2"))
        found.append((m.start(), m.end(), [Wanted(path, f"{n}-", how="count")]))
    for m in wd.WORD_LIMIT.finditer(text):
        if limited := _sentence_file(text, m):
            asked = [Wanted(limited, f"0-{m.group('n')}", how="words")]
            found.append((m.start(), m.end(), asked))
    for m in wd.NAMED_THING.finditer(text):
        sentence = _sentence(text, m.start(), m.end())
        named = wd.ONE_FILE.search(sentence)
        name = m.group("q1") or m.group("q2") or m.group("name")
        if named and not wd.TRANSFORMED.search(sentence):
            found.append((m.start(), m.end(), [Wanted(_bare(named.group("file")), name)]))
    return found


def _swaps(text: str) -> list[tuple[int, int, list[Wanted]]]:
    """One word for another, given with an arrow or "should be", in the sentence's file."""
    found: list[tuple[int, int, list[Wanted]]] = []
    for m in wd.ARROW_SWAP.finditer(text):
        path = _sentence_file(text, m)
        new, old = _group(m, "text") or "", _group(m, "old") or ""
        if path:
            asked = [Wanted(path, new)] + ([Wanted(path, old, "lacks")] if old not in new else [])
            found.append((m.start(), m.end(), asked))
    return found


def _sentence_file(text: str, m: re.Match[str]) -> str | None:
    """The file the sentence around a match names first, if any."""
    named = wd.ONE_FILE.search(_sentence(text, m.start(), m.end()))
    return _bare(named.group("file")) if named else None


def _bare(path: str) -> str:
    return path.strip("`'\"")


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence around a match: from the last stop before it to the next after it."""
    stops = [m.end() for m in wd.CLAUSE_END.finditer(text, 0, start)]
    begin = stops[-1] if stops else 0
    stop = wd.CLAUSE_END.search(text, end)
    return text[begin : stop.start() if stop else len(text)]


# "milk, eggs and bread", "milk; eggs": the items of a list written on one line.
_SPLIT_ITEMS = re.compile(r"\s*[,;]\s*(?:and\s+)?|\s+and\s+")


def counts(content: str, span: str) -> bool:
    """Whether the content has as many items as asked: lines, or one line's listed parts."""
    low, _, high = span.partition("-")
    lines = [marker_free(ln) for ln in content.splitlines() if ln.strip()]
    n = len(lines) if len(lines) != 1 else len(_SPLIT_ITEMS.split(lines[0]))
    return int(low) <= n and (not high or n <= int(high))


def _line_rules(text: str) -> list[tuple[int, int, list[Wanted]]]:
    """Rules every line must keep: in order after a sort, none starting as removed."""
    found: list[tuple[int, int, list[Wanted]]] = []
    for m in wd.SORTED.finditer(text):
        how = m.group("how")
        if not wd.NOT_OWN_ORDER.search(how):
            order = "desc" if wd.DESCENDING.search(how) else "asc"
            found.append((m.start(), m.end(), [Wanted(_bare(m.group("file")), order, how="order")]))
    for m in wd.LINES_STARTING.finditer(text):
        path, prefix = _file_of(m, text), _group(m, "text")
        if path and prefix:
            found.append((m.start(), m.end(), [Wanted(_bare(path), prefix, how="start")]))
    return found + _table_rules(text)


def _table_rules(text: str) -> list[tuple[int, int, list[Wanted]]]:
    """Rules of a file's rows: none twice, none with a word, in a column's order, new at an end."""
    found: list[tuple[int, int, list[Wanted]]] = []
    rules = (
        (wd.DEDUPE, "unique"),
        (wd.LINES_WITH, "lacks"),
        (wd.REMOVE_IMPORT, "lacks"),
        (wd.AT_END, "end"),
    )
    for pattern, how in rules:
        for m in pattern.finditer(text):
            path = _file_of(m, text)
            if not path:
                continue
            if how == "unique":
                rule = Wanted(_bare(path), "lines", how="unique")
            elif how == "lacks":
                rule = Wanted(_bare(path), m.group("bare_old"), how="lacks")
            else:
                end = (m.group("end") or "").lower()
                top = m.group("pre") or end in ("top", "start", "beginning", "head", "front")
                rule = Wanted(_bare(path), "top" if top else "end", how="end")
            found.append((m.start(), m.end(), [rule]))
    for m in wd.BY_COLUMN.finditer(text):
        path = _bare(m.group("file"))
        if path.lower().endswith((".csv", ".tsv")):
            order = "desc" if wd.DESCENDING.search(m.group("how")) else "asc"
            found.append(
                (m.start(), m.end(), [Wanted(path, f"{m.group('col')} {order}", "column")])
            )
    return found


def word_count(content: str, span: str) -> bool:
    """Whether the text comes to as many words as asked (a Markdown heading's marks aside)."""
    low, _, high = span.partition("-")
    n = len(re.findall(r"[^\W_][\w'\u2019-]*", content))
    return int(low) <= n and (not high or n <= int(high))


def unique_lines(content: str, _: str) -> bool:
    """Whether no line of the file stands in it twice (blank lines and white space aside)."""
    lines = [" ".join(ln.split()) for ln in content.splitlines() if ln.strip()]
    return len(lines) == len(set(lines))


def column_in_order(content: str, spec: str) -> bool:
    """Whether a table's rows are in the order of the named column ("score desc").

    Amounts are read as numbers ("$1,200" after "$900"). A file with no such column in
    its header row, or dates written day or month first, is not judged here.
    """
    column, how = spec.rsplit(" ", 1)
    delimiter = "\t" if "\t" in content.split("\n", 1)[0] else ","
    rows = [r for r in csv.reader(io.StringIO(content), delimiter=delimiter) if any(r)]
    header = [h.strip().casefold() for h in rows[0]] if rows else []
    if column.casefold() not in header:
        return True
    at = header.index(column.casefold())
    cells = [r[at].strip() if at < len(r) else "" for r in rows[1:]]
    if any(_LOCAL_DATE.fullmatch(c) for c in cells):
        return True
    amounts = [_AMOUNT_MARKS.sub("", c) for c in cells]
    if cells and all(_NUMBER.fullmatch(a) for a in amounts):
        # Numbers in a column are sorted by value: "1200" before "900" is not ascending.
        values = [float(a) for a in amounts]
        return values == sorted(values, reverse=how == "desc")
    return in_order("\n".join(cells), how)


# "03/01/2024", "1.3.24": which part is the day is not for a check to guess.
_LOCAL_DATE = re.compile(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}")
_AMOUNT_MARKS = re.compile(r"[$€£¥%,\s]|(?<=\d)_(?=\d)")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def none_start(content: str, prefix: str) -> bool:
    """Whether no line starts with the prefix (leading white space aside)."""
    return not any(line.lstrip().startswith(prefix) for line in content.splitlines())


def _by_value(line: str) -> tuple[int, float, str]:
    number = re.fullmatch(r"-?\d+(?:\.\d+)?", line)
    return (0, float(line), "") if number else (1, 0.0, line.casefold())


# The orders a sort may honestly mean: numbers by value and words A to Z, case aside, or
# as `sort` and sorted() order text, code point by code point.
_ORDERS = (_by_value, str.casefold, str)


def in_order(content: str, how: str) -> bool:
    """Whether the file's lines are sorted, or reversed for "desc".

    Blank lines aside, and a first line that reads as a header ("name,age", "# Names",
    "NAMES") may stay on top.
    """
    lines = [ln.strip() for ln in content.splitlines() if ln.strip()]
    header = bool(lines) and bool(re.search(r"[,\t:|]|^#", lines[0]) or lines[0].isupper())
    for key in _ORDERS:
        keys: list[Any] = [key(ln) for ln in lines]
        for run in (keys, keys[1:]) if header else (keys,):
            if run == sorted(run, reverse=how == "desc"):
                return True
    return False


_NOT_AN_ITEM = re.compile(r"^(?:an?|the|some|my|\d+|one|two|three|four|five|six|ten)\b", re.I)


def _own_lines(text: str) -> list[tuple[int, int, list[Wanted]]]:
    """Items a named file is to hold each on a line of its own."""
    found: list[tuple[int, int, list[Wanted]]] = []
    for m in wd.SEPARATE_LINES.finditer(text):
        items = [
            i.strip().strip("`'\"“”\u2018\u2019") for i in _SPLIT_ITEMS.split(m.group("items"))
        ]
        if len(items) < 2 or wd.TRANSFORMED.search(_clause(text, m.start(), m.end())):
            continue
        if all(i and len(i.split()) <= 4 and not _NOT_AN_ITEM.match(i) for i in items):
            path = _bare(m.group("file"))
            found.append((m.start(), m.end(), [Wanted(path, i, how="line") for i in items]))
    return found


def _numbers(text: str) -> list[tuple[int, int, list[Wanted]]]:
    """A run of numbers put in a named file one per line: each number is a line."""
    found: list[tuple[int, int, list[Wanted]]] = []
    for m in wd.NUMBERS.finditer(text):
        clause = _clause(text, m.start(), m.end())
        first, last = int(m.group("a")), int(m.group("b"))
        named = wd.ONE_FILE.search(clause)
        if not (named and wd.OWN_LINES.search(clause)) or not 0 < last - first <= 100:
            continue
        if wd.TRANSFORMED.search(clause):
            continue
        path = _bare(named.group("file"))
        asked = [Wanted(path, str(n), how="line") for n in range(first, last + 1)]
        found.append((m.start(), m.end(), asked))
    return found


def _quoted_items(text: str) -> list[tuple[int, int, list[Wanted]]]:
    """Several quoted items put in one file: each must be there."""
    found: list[tuple[int, int, list[Wanted]]] = []
    for m in wd.QUOTED_ITEMS.finditer(text):
        path = _file_of(m, text)
        if not path or wd.TRANSFORMED.search(_clause(text, m.start(), m.end())):
            continue
        quoted = [q.group(0)[1:-1] for q in wd.ONE_QUOTED.finditer(m.group("items"))]
        items = [i for i in quoted if not wd.JUST_A_NAME.fullmatch(i.strip())]
        found.append((m.start(), m.end(), [Wanted(path.strip("`'\""), i) for i in items]))
    return found


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


_PUNCT = re.compile(r"[^\w\s]+")


def _words_only(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text).split())


def holds(content: str, words: str) -> bool:
    """Whether a file's content holds the words, as a person reading it would say.

    Words asked with no punctuation of their own are read past the file's: "hello world"
    is in "Hello, world!". Words with punctuation ("3.5", "a=1") must have it as asked.
    """
    want, have = _plain(words), _plain(content)
    if want in have:
        return True
    return not _PUNCT.search(want) and f" {want} " in f" {_words_only(have)} "


# A bullet, a number, a checkbox ("- [ ] passport"), or a bullet and a checkbox.
_MARKER = re.compile(r"^(?:[-*+\u2022]|\d+[.)])?\s*(?:\[[ xX]?\]\s*)?")


def marker_free(line: str) -> str:
    """A line without the bullet, number or checkbox a list puts before its item."""
    return _MARKER.sub("", line.strip())


def on_a_line(content: str, words: str) -> bool:
    """Whether the words are a line of the file by themselves, bullets and numbers aside."""
    want = _plain(words)
    return any(_plain(marker_free(line)) == want for line in content.splitlines())


def lacks(content: str, words: str) -> bool:
    """Whether the words are gone from a file's content: "teh" is, from "tehran".

    Case counts here: replacing 'colour' leaves "Colour" alone, as the task said.
    """
    return not re.search(rf"(?<!\w){re.escape(_spaced(words))}(?!\w)", _spaced(content))


def _spaced(text: str) -> str:
    """Text with escapes made real, quotes straightened and white space folded; case kept."""
    real = text.replace("\\n", "\n").replace("\\t", "\t").translate(_STRAIGHT)
    return " ".join(real.split())


# A model rewriting a whole file often stands a placeholder in for the part it did not
# repeat ("# ... rest of the code unchanged ...", "<!-- existing content -->"). Written
# with write_file, that placeholder is all the file now holds of it: the rest is lost.
# Only a short line that is nothing but such a note counts; prose about it does not.
_ELISION = re.compile(
    r"^\s*(?:#+|//+|/\*+|<!--|--|;+|%|[-*])?\s*[(\[]?\s*(?:\.{3}|…)?\s*[(\[]?\s*(?:"
    r"(?:the\s+)?(?:rest|remainder)(?:\s+of\s+(?:the\s+|this\s+)?(?:file|code|content|document"
    r"|text|list|lines|entries|config(?:uration)?|class|function|module))?"
    r"(?:\s+(?:is|are|remains?|stays?))?(?:\s+(?:unchanged|the\s+same|as\s+before|omitted))?"
    r"|(?:all\s+)?(?:the\s+)?(?:existing|previous|original|other|remaining|unchanged)\s+"
    r"(?:code|content|contents|lines|entries|text|items|functions|methods|sections|settings)"
    r"(?:\s+(?:here|unchanged|omitted|(?:remains?|stays?|goes)(?:\s+here|\s+the\s+same"
    r"|\s+unchanged)?|as\s+before))?"
    r"|(?:unchanged|omitted|snip(?:ped)?|truncated)(?:\s+for\s+brevity)?"
    r")\s*[)\]]?\s*(?:\.{3}|…)?\s*[)\]]?\s*(?:\*+/|-->)?\s*$",
    re.I,
)
# What makes such a line a note about left-out text rather than a heading ("## Existing
# content"): an ellipsis, or words that say so.
_LEFT_OUT = re.compile(
    r"\.{3}|…|\b(?:unchanged|omitted|here|remains?|stays?|the\s+same|as\s+before|snip(?:ped)?"
    r"|brevity|truncated)\b",
    re.I,
)


def elided(content: str) -> str | None:
    """The first line that stands in for text left out of a rewritten file, if any."""
    for line in content.splitlines():
        # A lone "Unchanged" is a value (a status column), not a note.
        bare = line.strip().replace(" ", "").isalpha()
        if len(line) <= 80 and not bare and _ELISION.match(line) and _LEFT_OUT.search(line):
            return line.strip()
    return None
