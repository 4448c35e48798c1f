"""Changes inside a file: replace text, fix a typo, set a key's value.

Each reads the file first (unless edit_file can do a plain replace blind),
decides the new text from what is really there, and applies it with
edit_file when offered, else by writing the whole new content, as a model
without an edit tool would. When the file does not hold what the request
assumed, nothing is written and the report says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from typing_extensions import override

from agentfleet.sim.chores.base import (
    Done,
    Env,
    Gen,
    InFile,
    Use,
    attempt,
    failed,
    not_offered,
    series,
)
from agentfleet.sim.chores.spelling import correction, fix_word, misspellings


def _changed_lines(old: str, new: str) -> list[tuple[str, str]]:
    """(old line, new line) pairs where a line-preserving change differs."""
    pairs = [(a, b) for a, b in zip(old.split("\n"), new.split("\n"), strict=True) if a != b]
    # Longest first, so a short line that is part of a longer one is edited last.
    return sorted(dict.fromkeys(pairs), key=lambda p: -len(p[0]))


class Rewrite(InFile):
    """Read the file, work out its new text, write it back."""

    needs = ("read_file", "write_file")
    step_words = "edit {op.path}"

    def revise(self, text: str) -> tuple[str | None, str]:
        """(new text, what changed) or (None, why nothing could be changed)."""
        raise NotImplementedError

    @override
    def run(self, env: Env) -> Gen:
        action = self.step()
        got, bad = yield from self.read_first(env, "edit_file")
        if bad:
            return bad
        new, what = self.revise(got.text)
        if new is None:
            return Done(f"I did not edit {self.path}: {what}.")
        if new == got.text:
            return Done(f"{self.path} needed no change: {what}.", wanted_change=False)
        pairs = _changed_lines(got.text, new) if "\n" not in new[len(got.text) :] else []
        if "edit_file" in env.offered and pairs and new.count("\n") == got.text.count("\n"):
            uses = [self._replace(a, b) for a, b in pairs]
        elif "write_file" in env.offered:
            uses = [Use("write_file", {"path": self.path, "content": new})]
        else:
            return not_offered(action, "write_file")
        outs = yield uses
        for use, out in zip(uses, outs, strict=True):
            if not out.ok:
                return failed(action, use, out, changed=use is not uses[0])
        return Done(f"Edited {self.path}: {what}.", changed=True)

    def _replace(self, old: str, new: str) -> Use:
        args = {"path": self.path, "old_string": old, "new_string": new, "replace_all": True}
        return Use("edit_file", args)


@dataclass(frozen=True)
class Edit(Rewrite):
    """Replace `old` with `new`.

    With `near`, only on the lines that mention it ("change the port from 8080 to 9090" leaves other
    8080s alone).
    """

    old: str
    new: str
    near: str | None = None
    claim_words = "I replaced '{op.old}' with '{op.new}' in {op.path}."

    @override
    def is_blind(self, env: Env) -> bool:
        return "edit_file" in env.offered and self.near is None

    @override
    def run(self, env: Env) -> Gen:
        if not self.is_blind(env):
            return (yield from super().run(env))
        _, bad = yield from attempt(f"edit {self.path}", self._replace(self.old, self.new))
        return bad or Done(f"Edited {self.path}: {self._what()}.", changed=True)

    def _what(self) -> str:
        return f"replaced '{self.old}' with '{self.new}'"

    @override
    def revise(self, text: str) -> tuple[str | None, str]:
        if self.old not in text:
            return None, f"it does not contain '{self.old}'"
        if self.near:
            key = self.near.lower()
            lines = text.split("\n")
            hits = [i for i, ln in enumerate(lines) if key in ln.lower() and self.old in ln]
            if hits:
                for i in hits:
                    lines[i] = lines[i].replace(self.old, self.new)
                return "\n".join(lines), f"changed the {self.near} from {self.old} to {self.new}"
        return text.replace(self.old, self.new), self._what()


@dataclass(frozen=True)
class FixTypo(Rewrite):
    """Correct one misspelt word (or, with none named, every known misspelling)."""

    word: str | None = None
    fixed: str | None = None
    claim_words = "I fixed the typo in {op.path}."

    @override
    def revise(self, text: str) -> tuple[str | None, str]:
        words = [self.word] if self.word else misspellings(text)
        if not words:
            return None, "I found no misspelling I could be sure of"
        done: list[str] = []
        for word in words:
            if not re.search(rf"(?<![\w'-]){re.escape(word)}(?![\w'-])", text, re.IGNORECASE):
                return None, f"it does not contain the word '{word}'"
            fixed = self.fixed or correction(word, text)
            if fixed is None:
                return None, f"I could not tell what '{word}' should be"
            text = fix_word(text, word, fixed)
            done.append(f"'{word}' to '{fixed}'")
        return text, "corrected " + series(done)


@dataclass(frozen=True)
class SetValue(Rewrite):
    """For "Set the port to 9090 in config.ini": the value on the key's own line."""

    key: str
    value: str
    claim_words = "I set {op.key} to {op.value} in {op.path}."

    @override
    def revise(self, text: str) -> tuple[str | None, str]:
        name = r"[\s_.-]?".join(re.escape(w) for w in self.key.split())
        line = re.compile(rf"^(?P<lead>\s*{name}\s*[=:]\s*)(?P<v>.*?)(?P<end>\s*)$", re.I | re.M)
        if not line.search(text):
            return None, f"it has no '{self.key}' setting"
        new = line.sub(lambda m: m.group("lead") + self.value + m.group("end"), text)
        return new, f"set {self.key} to {self.value}"
