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
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`*-])|\n+")


def claimed_changes(report: str) -> list[str]:
    """Paths a final report says this agent changed.

    Only sentences that say something was done (and do not deny it) count,
    so "I did not touch config.yaml" claims nothing.
    """
    out: list[str] = []
    for sentence in _SENTENCE.split(report):
        if not _CHANGE_WORDS.search(sentence) or _NEGATED.search(sentence):
            continue
        for m in _CLAIMED_PATH.finditer(sentence):
            raw = m.group("tick") or m.group("path") or ""
            raw = raw.rstrip(".,;:)")
            if not raw or "://" in raw or raw.lower() in ("e.g", "i.e", "etc"):
                continue
            if m.group("tick") and not re.fullmatch(r"[\w./-]+", raw):
                continue
            add_path(out, raw)
    return out
