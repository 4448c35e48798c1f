"""What a targeted edit must leave alone: the lines of the file the task did not touch.

The sandbox keeps, per agent run, each file as it was before the run first changed it
(`agentfleet.sandbox.original_of`). A targeted change (words added, replaced or
removed, a setting set, lines dropped) must keep every other line of that version in
order. A model that rewrites a whole file to add one name and drops the rest ("Add
Dave to names.txt" leaving only "Dave"), or garbles the line it fixed, has not done
the task. Work that reshapes the whole file (a rewrite, a sort, a conversion) is not
held to this, nor are structured files a rewrite may reformat (JSON).
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass

from agentfleet.verification.intent.content import marker_free

_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Touch:
    """The words by which a task touches lines: what it takes out, puts in, sets, drops."""

    gone: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    starts: tuple[str, ...] = ()

    def reaches(self, line: str) -> bool:
        """Whether the task's change may rewrite or drop this line."""
        low = line.casefold()
        return (
            self.takes_from(line)
            or any(w.casefold() in low for w in self.keys)
            or any(line.lstrip().startswith(p) for p in self.starts)
        )

    @property
    def swap(self) -> tuple[str, str] | None:
        """The one word put in for the one taken out ("Replace 'foo' with 'bar'"), if so."""
        if len(self.gone) == 1 and len(self.added) == 1 and not self.keys:
            return self.gone[0], self.added[0]
        return None

    def takes_from(self, line: str) -> bool:
        """Whether the line holds words the task takes out."""
        low = line.casefold()
        return any(w.casefold() in low for w in self.gone)

    def adds_to(self, line: str) -> bool:
        """Whether a new line carries words the task puts in."""
        low = line.casefold()
        return any(w.casefold() in low for w in self.added)


def _lines(text: str) -> list[str]:
    return [" ".join(marker_free(ln).split()) for ln in text.splitlines() if ln.strip()]


def _kept_around(old: str, new: str, touch: Touch) -> bool:
    """Whether a line changed for its taken-out words kept its other words in order."""
    words = tuple(w.casefold() for w in (*touch.gone, *touch.added))

    def rest(line: str) -> list[str]:
        # The words go whole before the line is split: "1.4.2" is one value, not 1, 4, 2.
        low = line.casefold()
        for w in words:
            low = low.replace(w, " ")
        return [t for t in _TOKEN.findall(low) if not any(w in t for w in words)]

    before, after = rest(old), rest(new)
    it = iter(after)
    return all(t in it for t in before) and len(after) - len(before) <= 2


def _swapped(old: list[str], new: list[str], swap: tuple[str, str]) -> list[str]:
    """Lines that hold the word to swap but whose swapped form is nowhere in the final text."""
    # Case aside: a model that also turned "Colour" into "Color" did the swap too.
    left = [line.casefold() for line in new]
    missed = []
    for line in old:
        if swap[0] not in line:
            continue
        wants = {
            line.replace(*swap).casefold(),
            re.sub(re.escape(swap[0]), lambda _: swap[1], line, flags=re.I).casefold(),
            # A renamed name: "cnt" becomes "count", "cnt_max" stays what it was.
            re.sub(rf"(?<!\w){re.escape(swap[0])}(?!\w)", lambda _: swap[1], line).casefold(),
        }
        found = next((w for w in wants if w in left), None)
        if found is not None:
            left.remove(found)
        else:
            missed.append(line)
    return missed


def lost_lines(original: str, final: str, touch: Touch) -> list[str]:
    """The lines of the original the task did not reach that the final text lost or garbled."""
    old, new = _lines(original), _lines(final)
    lost: list[str] = _swapped(old, new, touch.swap) if touch.swap else []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op not in ("delete", "replace"):
            continue
        paired = op == "replace" and i2 - i1 == j2 - j1
        for k in range(i1, i2):
            line = old[k]
            if not touch.reaches(line):
                # A line the task did not name may still give way to the words it adds.
                if not (paired and touch.adds_to(new[j1 + k - i1])):
                    lost.append(line)
            elif paired and touch.takes_from(line) and not touch.keys:
                # Fixed, not garbled: the words around the ones taken out stay, in order.
                if not _kept_around(line, new[j1 + k - i1], touch):
                    lost.append(line)
    return lost


def misplaced(original: str, final: str, end: str) -> bool:
    """Whether text asked at one end of a file ("top" or "end") all went to the other.

    Only the plain case is judged: every original line first and the new ones after
    (or the reverse). Text put near an end (under a shebang, after a docstring) passes.
    """
    old, new = _lines(original), _lines(final)
    if not old or len(new) <= len(old):
        return False
    return new[: len(old)] == old if end == "top" else new[-len(old) :] == old


# A line commented out: "# x", "// x", "-- x", "; x", "<!-- x -->", "% x".
_COMMENTED = re.compile(r"^(?:#+|//+|--|;+|%+|<!--)\s*(?P<line>.*?)\s*(?:-->)?$")


def dropped(original: str, final: str, *, commented: bool = False) -> list[str]:
    """Lines of the original the final lost: each must stand in it somewhere.

    With `commented`, a line may stand in it behind a comment marker.
    """
    left = Counter(_lines(final))
    if commented:
        left.update(m.group("line") for ln in _lines(final) if (m := _COMMENTED.match(ln)))
    lost = []
    for line in _lines(original):
        if left[line] > 0:
            left[line] -= 1
        else:
            lost.append(line)
    return lost
