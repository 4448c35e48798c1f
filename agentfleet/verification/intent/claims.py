"""Paths a final report says were changed, read from its sentences."""

from __future__ import annotations

import re

from agentfleet.verification.intent.patterns import _DIR, _FILE
from agentfleet.verification.intent.reading import add_path

_CHANGE_WORDS = re.compile(
    r"\b(?:created|wrote|written|saved|moved|renamed|copied|deleted|removed|made|added"
    r"|appended|edited|updated|replaced|sorted|placed|filed|organi[sz]ed|archived|put"
    r"|generated|produced|stored|modified|changed|fixed|converted|duplicated|inserted|prepended"
    r"|overwrote|overwritten)\b",
    re.I,
)
_NEGATED = re.compile(
    r"\b(?:not|never|no|none|nothing|unable|failed|cannot|couldn't|can't|didn't|wasn't|won't"
    r"|without|instead of)\b|n't\b",
    re.I,
)
_CLAIMED_PATH = re.compile(
    r"`(?P<tick>[^`\s]+)`|(?<![\w./@:-])(?P<path>" + _FILE + "|" + _DIR + r"[\w.-]*)(?![\w/@])"
)
# "... now in photos/. memo.txt stayed": a sentence may start with a lower-case file name.
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# Back-ticked words are often values or keys ("`debug` is now `false`"): only a path is one.
_PATH_LIKE = re.compile(rf"(?:{_FILE}|{_DIR}[\w.-]*)")
# After these, the paths of a sentence say what a change is about or holds, not what was
# changed: "I created INDEX.md listing a.pdf and b.txt", "I updated README.md to link to
# docs/setup.md".
_CONTEXT = (
    r"\b(?:listing|lists?|of|from|with|containing|contains?|links?|linking|referenc\w*"
    r"|mention\w*|based\s+on|using|including|includes?|such\s+as|like|for|about|besides"
    r"|except|alongside|describ\w*|summari[sz]\w*|explain\w*|points?\s+to"
    # "a cron line that runs backup.sh": what the change calls on, not what it changed.
    r"|runs?|calls?|invokes?|executes?|imports?|loads?|reads?|sources?|requires?)\b"
)
# Verbs whose change lands somewhere named after "to", "into", "as" or "in": "I wrote a
# summary of notes.md to summary.md" claims summary.md again after the "of".
_LANDS = frozenset(
    "wrote written saved moved copied put placed renamed converted exported archived stored"
    " generated produced filed duplicated created made".split()
)
_ADDS = frozenset("added appended inserted prepended".split())
_TO = r"\b(?:to|into|as|in|inside|under)\b"
_TOKEN = re.compile(
    rf"(?P<change>{_CHANGE_WORDS.pattern})|(?P<context>{_CONTEXT})|(?P<to>{_TO})"
    rf"|{_CLAIMED_PATH.pattern}",
    re.I,
)


# A sentence's clauses and their parts: "Moved a.txt into archive/ (b.txt was left
# alone)" says two things, and "Deleted tmp/; out/ (with a.o) stays" says two.
_CLAUSE = re.compile(r";")
_PART = re.compile(r"[()]")
# A part that says something of its own, with no change in it, claims nothing.
_OTHER_VERB = re.compile(
    r"\b(?:was|were|is|are|has|have|had|stays?|stayed|remains?|remained|left|kept|looks?"
    r"|seems?|exists?|existed)\b",
    re.I,
)


def _claimed_in(sentence: str) -> list[str]:
    """The paths a sentence says were changed: what its change verbs act on, in order.

    A part in brackets or after a semicolon with a verb of its own says something
    else; one without ("the report (report.md)") names what came before it.
    """
    out: list[str] = []
    state = (False, False)
    for clause in _CLAUSE.split(sentence):
        if not _CHANGE_WORDS.search(clause) and _OTHER_VERB.search(clause):
            state = (False, False)
            continue
        for part in _PART.split(clause):
            if not _CHANGE_WORDS.search(part) and _OTHER_VERB.search(part):
                state = (False, False)
                continue
            state = _scan(part, state, out)
    return out


def _scan(part: str, state: tuple[bool, bool], out: list[str]) -> tuple[bool, bool]:
    """Claim the paths of one part; returns whether it ends claiming, and by what verb."""
    claiming, lands = state
    # "Added node_modules/ to .gitignore": what an add names before "to" is what went in.
    items: list[str] | None = None
    for m in _TOKEN.finditer(part):
        if m.group("change"):
            out.extend(items or ())
            claiming, lands = True, m.group("change").lower() in _LANDS
            items = [] if m.group("change").lower() in _ADDS else None
        elif m.group("context"):
            claiming = False
        elif m.group("to"):
            if items is not None and m.group("to").lower() in ("to", "into"):
                items = None
            claiming = claiming or lands
        elif claiming:
            raw = (m.group("tick") or m.group("path") or "").rstrip(".,;:)")
            if not raw or "://" in raw or raw.lower() in ("e.g", "i.e", "etc"):
                continue
            if m.group("tick") and not _PATH_LIKE.fullmatch(raw):
                continue
            (items if items is not None else out).append(raw)
    out.extend(items or ())
    return claiming, lands


def claimed_changes(report: str) -> list[str]:
    """Paths a final report says this agent changed.

    Only sentences that say something was done (and do not deny it) count,
    so "I did not touch config.yaml" claims nothing; and in them only what the
    change acts on, not the paths it lists, links to or was made from.
    """
    out: list[str] = []
    for sentence in _SENTENCE.split(report):
        if not _CHANGE_WORDS.search(sentence) or _NEGATED.search(sentence):
            continue
        for raw in _claimed_in(sentence):
            add_path(out, raw)
    return out
