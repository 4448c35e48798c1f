"""Operations that look before they act: list, read, summarize, index.

Each works from what the tool results say is there, never from what the request assumed.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from typing_extensions import override

from agentfleet.sim.chores.base import (
    Done,
    Env,
    Gen,
    Op,
    Saves,
    Use,
    attempt,
    lacking,
    listing,
    show,
    write,
)
from agentfleet.sim.chores.digest import digest


def ext_of(path: str) -> str:
    """The extension a file is sorted by (lowercase, no dot), or "other"."""
    suffix = posixpath.splitext(posixpath.basename(path))[1]
    return suffix[1:].lower() if len(suffix) > 1 else "other"


def hidden(path: str) -> bool:
    """Whether any part of the path is a dot-name, which listings and sorts leave alone."""
    return any(part.startswith(".") for part in path.split("/") if part not in (".", ""))


def as_dir(path: str) -> str:
    """A folder as a path prefix: "" for the root, else "name/"."""
    return "" if path == "." else path + "/"


@dataclass(frozen=True)
class ListFiles(Saves):
    """Lists a folder: the answer, or, with a target, a Markdown list in that file."""

    directory: str
    recursive: bool = False
    target: str | None = None
    changes = False
    needs = ("list_files",)
    step_words = "list {op.directory:place}"
    claim_words = "I wrote the list to {op.target}."

    @override
    def run(self, env: Env) -> Gen:
        args = {"path": self.directory, "recursive": self.recursive}
        got, bad = yield from self.call(env, self.step(), Use("list_files", args))
        if bad:
            return bad
        files, dirs = listing(got.text, self.directory)
        entries = sorted([*files, *(d + "/" for d in dirs)])
        if self.target is None:
            where = show(self.directory)
            if not entries:
                return Done(f"There are no files in {where}.", wanted_change=False)
            lines = "".join(f"\n- {e}" for e in entries)
            return Done(f"Files in {where} ({len(entries)}):{lines}", wanted_change=False)
        body = f"# Files in {show(self.directory)}\n\n" + "".join(f"- {e}\n" for e in entries)
        _, bad = yield from write(self.target, body)
        return bad or Done(
            f"Wrote a list of the {len(entries)} entries in {show(self.directory)} "
            f"to {self.target}.",
            changed=True,
        )

    @override
    def reads(self) -> list[str]:
        return [as_dir(self.directory) or "."]


@dataclass(frozen=True)
class ReadFile(Op):
    """Shows what one file says."""

    path: str
    # "... about the deadline": only the lines on that topic are quoted.
    about: str | None = None
    changes = False
    needs = ("read_file",)
    step_words = "read {op.path}"
    looks_at = ("path",)

    @override
    def run(self, env: Env) -> Gen:
        got, bad = yield from self.call(env, self.step(), Use("read_file", {"path": self.path}))
        if bad:
            return bad
        text = got.text.rstrip()
        if self.about is None:
            return Done(f"{self.path} says:\n{text}", wanted_change=False)
        words = {w for w in re.findall(r"[a-z0-9]+", self.about.lower()) if len(w) > 3}
        lines = [
            ln for ln in text.splitlines() if words & set(re.findall(r"[a-z0-9]+", ln.lower()))
        ]
        if not lines:
            return Done(f"{self.path} says nothing about {self.about}.", wanted_change=False)
        return Done(f"On {self.about}, {self.path} says:\n" + "\n".join(lines), wanted_change=False)


@dataclass(frozen=True)
class Summarize(Saves):
    """Sums up one file from what it says: the answer, or a summary file."""

    source: str
    target: str | None = None
    sentences: int | None = None  # "a two-sentence summary": exactly that, nothing around it
    needs = ("read_file",)
    claim_words = "I wrote the summary to {op.target}."
    looks_at = ("source",)

    @override
    def run(self, env: Env) -> Gen:
        action = f"summarize {self.source}"
        got, bad = yield from self.call(env, action, Use("read_file", {"path": self.source}))
        if bad:
            return bad
        words, lines = len(got.text.split()), digest(self.source, got.text, self.sentences)
        if self.target is None:
            sep = "\n" if len(lines) > 1 else " "
            body = sep.join(lines)
            return Done(
                f"Summary of {self.source} ({words} words):{sep}{body}", wanted_change=False
            )
        if bad := lacking(f"write {self.target}", env, ("write_file",)):
            return bad
        _, bad = yield from write(self.target, self.document(lines))
        return bad or Done(
            f"Summarized {self.source} ({words} words) into {self.target}.", changed=True
        )

    def document(self, lines: list[str]) -> str:
        """The summary file: a heading unless an exact sentence count was asked for."""
        body = "\n".join(lines) + "\n"
        if self.sentences is not None:
            return body
        mark = "# " if str(self.target).lower().endswith((".md", ".markdown")) else ""
        return f"{mark}Summary of {self.source}\n\n{body}"

    @override
    def step(self) -> str:
        return f"summarize {self.source}" + (f" into {self.target}" if self.target else "")


@dataclass(frozen=True)
class Index(Saves):
    """Writes an index of a folder's files to a file."""

    scope: str
    target: str
    named: bool = True  # False: the request named no file, INDEX.md was assumed
    needs = ("list_files",)
    step_words = "index {op.scope:place} into {op.target}"
    claim_words = "I wrote the index to {op.target}."

    @override
    def run(self, env: Env) -> Gen:
        action = f"index {show(self.scope)}"
        if bad := lacking(action, env, ("list_files", "write_file")):
            return bad
        args = {"path": self.scope, "recursive": True}
        got, bad = yield from attempt(action, Use("list_files", args))
        if bad:
            return bad
        files, dirs = listing(got.text, self.scope)
        # The index itself is left out, so a rerun writes identical content.
        entries = sorted(
            e for e in [*files, *(d + "/" for d in dirs)] if e != self.target and not hidden(e)
        )
        body = f"# Index of {show(self.scope)}\n\n" + "".join(f"- {e}\n" for e in entries)
        _, bad = yield from write(self.target, body)
        return bad or Done(f"Wrote an index of {show(self.scope)} to {self.target}.", changed=True)

    @override
    def reads(self) -> list[str]:
        return [as_dir(self.scope) or "."]
