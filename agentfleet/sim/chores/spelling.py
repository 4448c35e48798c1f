"""What a misspelt word should be, as a careful writer would guess it.

A known misspelling is corrected from a table; any other word is matched to
a common word, or a word the file itself uses, one keystroke away (a swap of
two neighbours first: the commonest slip). No guess is made when none fits,
so the agent can say it did not know instead of changing the text.
"""

from __future__ import annotations

import re
from collections import Counter

KNOWN: dict[str, str] = {
    "teh": "the",
    "hte": "the",
    "adn": "and",
    "nad": "and",
    "taht": "that",
    "wiht": "with",
    "whcih": "which",
    "wich": "which",
    "waht": "what",
    "yuo": "you",
    "jsut": "just",
    "thier": "their",
    "recieve": "receive",
    "reciept": "receipt",
    "acheive": "achieve",
    "beleive": "believe",
    "freind": "friend",
    "wierd": "weird",
    "seperate": "separate",
    "definately": "definitely",
    "occured": "occurred",
    "occassion": "occasion",
    "untill": "until",
    "becuase": "because",
    "tommorow": "tomorrow",
    "tomorow": "tomorrow",
    "adress": "address",
    "neccessary": "necessary",
    "accomodate": "accommodate",
    "goverment": "government",
    "enviroment": "environment",
    "recomend": "recommend",
    "calender": "calendar",
    "truely": "truly",
    "begining": "beginning",
    "buisness": "business",
    "succesful": "successful",
    "existance": "existence",
    "arguement": "argument",
    "posession": "possession",
    "wednesay": "Wednesday",
    "febuary": "February",
    "attatched": "attached",
    "attachement": "attachment",
}
COMMON = (
    "the of and to in is it you that he was for on are with as his they be at one have this from"
    " or had by not but what some we can out other were all there when up use your how said an"
    " each she which do their time if will way about many then them write would like so these"
    " her long make thing see him two has look more day could go come did number sound no most"
    " people my over know water than call first who may down side been now find any new work"
    " part take get place made live where after back little only round man year came show every"
    " good me give our under name very through just form sentence great think say help low line"
    " before turn cause same mean differ move right boy old too does tell set three want well"
    " also play small end put home read hand port large spell add even land here must big high"
    " such follow act why ask men change went light kind off need house picture try us again"
    " animal point mother world near build self earth father report please find attached best"
    " dear thanks thank regards meeting team today tomorrow week month date file files send sent"
    " review draft final note notes letter list project update status"
).split()
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def _one_away(word: str) -> list[tuple[int, str]]:
    """Strings one edit from word, ranked: a swap (0), a drop or an extra (1), a change (2)."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = [(0, a + b[1] + b[0] + b[2:]) for a, b in splits if len(b) > 1]
    out += [(1, a + b[1:]) for a, b in splits if b]
    out += [(1, a + c + b) for a, b in splits for c in letters]
    out += [(2, a + c + b[1:]) for a, b in splits if b for c in letters if c != b[0]]
    return out


def correction(word: str, text: str = "") -> str | None:
    """The word `word` was meant to be, or None when no guess is safe."""
    low = word.lower()
    if low in KNOWN:
        return _cased(KNOWN[low], word)
    used = Counter(w.lower() for w in _WORD.findall(text) if w.lower() != low)
    rank = {w: i for i, w in enumerate(COMMON)}
    best: tuple[int, int, int, str] | None = None
    for cost, cand in _one_away(low):
        if cand in rank or cand in used:
            # Cheapest edit first, then the word the file uses most, then the commonest.
            key = (cost, -used[cand], rank.get(cand, len(rank)), cand)
            best = key if best is None or key < best else best
    return _cased(best[3], word) if best else None


def _cased(fixed: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return fixed.upper()
    return fixed[:1].upper() + fixed[1:] if like[:1].isupper() else fixed


def fix_word(text: str, word: str, fixed: str) -> str:
    """Text with each whole-word `word` (any case) replaced by `fixed` in that case."""
    pattern = re.compile(rf"(?<![\w'-]){re.escape(word)}(?![\w'-])", re.IGNORECASE)
    return pattern.sub(lambda m: _cased(fixed, m.group(0)), text)


def misspellings(text: str) -> list[str]:
    """Known misspellings that occur in text, in order of first appearance."""
    found = [w for w in _WORD.findall(text) if w.lower() in KNOWN]
    return list(dict.fromkeys(w.lower() for w in found))
