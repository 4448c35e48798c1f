"""Searching file contents: which files mention a word, and every line that does.

With no search tool offered, the agent does what a model would: lists the
folder, reads each file, and decides from what it read. The result is the
answer, or, with a target, a file of names or lines (one per line).
"""

from __future__ import annotations

from dataclasses import dataclass

from typing_extensions import override

from agentfleet.sim.chores.base import (
    Done,
    Env,
    Gen,
    Outcome,
    Saves,
    Use,
    attempt,
    lacking,
    listing,
    series,
    show,
    write,
)
from agentfleet.sim.chores.survey import as_dir, hidden
from agentfleet.sim.chores.text import looks_like_file


def _matcher(pattern: str) -> tuple[str, bool]:
    # As grep users type: "TODO" means that case, "invoice" any case.
    return (pattern, True) if pattern != pattern.lower() else (pattern.lower(), False)


def mentions(text: str, pattern: str) -> bool:
    """Whether the text has the word, matched as grep users expect.

    An all-lowercase word matches in any case; one with a capital matches exactly.
    """
    needle, exact = _matcher(pattern)
    return needle in (text if exact else text.lower())


@dataclass(frozen=True)
class Search(Saves):
    """List the scope (or take the one file named), read every file, then decide."""

    scope: str
    pattern: str
    target: str | None = None
    needs = ("list_files", "read_file")

    @override
    def run(self, env: Env) -> Gen:
        action = f"search {show(self.scope)} for '{self.pattern}'"
        single = looks_like_file(self.scope)
        needs = ["read_file", *([] if single else ["list_files"])]
        needs += ["write_file"] if self.target else []
        if bad := lacking(action, env, needs):
            return bad
        if single:
            files = [self.scope]
        else:
            args = {"path": self.scope, "recursive": True}
            got, bad = yield from attempt(action, Use("list_files", args))
            if bad:
                return bad
            found, _ = listing(got.text, self.scope)
            files = sorted(f for f in found if not hidden(f) and f != self.target)
        if not files:
            return Done(f"There are no files in {show(self.scope)} to search.", wanted_change=False)
        reads = [Use("read_file", {"path": f}) for f in files]
        texts = yield reads
        unread = [f for f, t in zip(files, texts, strict=True) if not t.ok]
        result, said = self.decide(files, texts)
        if unread:
            said += f" I could not read {series(unread)}."
        if self.target is None:
            return Done(said + ("\n" + "\n".join(result) if result else ""), wanted_change=False)
        _, bad = yield from write(self.target, "".join(f"{line}\n" for line in result))
        wrote = self.wrote() if result else "nothing (an empty file)"
        return bad or Done(f"{said} Wrote {wrote} to {self.target}.", changed=True)

    def decide(self, files: list[str], texts: list[Outcome]) -> tuple[list[str], str]:
        """The lines to answer or write, and the sentence that says what was found."""
        raise NotImplementedError

    def wrote(self) -> str:
        """What the written file holds, as the report names it."""
        raise NotImplementedError

    @override
    def reads(self) -> list[str]:
        return [self.scope if looks_like_file(self.scope) else as_dir(self.scope) or "."]


class FindFiles(Search):
    """Which files mention a word: "Find which files in docs/ mention 'invoice'"."""

    step_words = "find the files in {op.scope:place} that mention '{op.pattern}'"
    claim_words = "I wrote the matching file names to {op.target}."

    @override
    def decide(self, files: list[str], texts: list[Outcome]) -> tuple[list[str], str]:
        hits = [
            f for f, t in zip(files, texts, strict=True) if t.ok and mentions(t.text, self.pattern)
        ]
        where = f"{len(files)} file{'s' if len(files) != 1 else ''} in {show(self.scope)}"
        if not hits:
            return hits, f"None of the {where} mention '{self.pattern}'."
        return hits, f"Of the {where}, {len(hits)} mention '{self.pattern}': {series(hits)}."

    @override
    def wrote(self) -> str:
        return "their names"


class CollectLines(Search):
    """Every line that mentions a word: "Collect every line with TODO from src/"."""

    step_words = "collect the lines with '{op.pattern}' from {op.scope:place}"
    claim_words = "I collected the lines into {op.target}."

    @override
    def decide(self, files: list[str], texts: list[Outcome]) -> tuple[list[str], str]:
        lines: list[str] = []
        holding = 0
        for t in texts:
            found = [
                ln.strip() for ln in t.text.splitlines() if t.ok and mentions(ln, self.pattern)
            ]
            holding += bool(found)
            lines += found
        where = show(self.scope)
        if not lines:
            return lines, f"No line in {where} mentions '{self.pattern}'."
        count = f"{len(lines)} line{'s' if len(lines) != 1 else ''}"
        return lines, f"Found {count} with '{self.pattern}' in {holding} of the files in {where}."

    @override
    def wrote(self) -> str:
        return "them"
