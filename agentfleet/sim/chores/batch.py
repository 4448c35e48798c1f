"""Operations on every file of a folder.

Sort by type or topic, and move, copy or delete "all the .txt files in X". Each lists the folder
first and acts on what the listing returns, never on what the request assumed was there.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Generator
from dataclasses import dataclass

from typing_extensions import override

from agentfleet.sim.chores.base import (
    Done,
    Env,
    Gen,
    Op,
    Outcome,
    Use,
    attempt,
    failed,
    lacking,
    listing,
    series,
    show,
)
from agentfleet.sim.chores.survey import as_dir, ext_of, hidden
from agentfleet.sim.chores.text import join

_TOPIC_LINE = re.compile(r"^\s*(?:topic|subject|category|tags?)\s*:\s*([\w-]+)", re.I | re.M)


def topic_of(path: str, text: str) -> str:
    """A file's topic: its "Topic:" line, else its name up to the first - or _."""
    if m := _TOPIC_LINE.search(text):
        return m.group(1).lower()
    stem = posixpath.splitext(posixpath.basename(path))[0]
    head = re.split(r"[-_ ]", stem, maxsplit=1)
    return head[0].lower() if len(head) == 2 and head[0] else "misc"


@dataclass(frozen=True)
class Sort(Op):
    """Sorts the files of a folder into subfolders by type (extension) or by topic."""

    directory: str
    by_topic: bool = False
    step_words = "sort the files in {op.directory:place} by {op.by}"
    claim_words = "I sorted the files in {op.directory:place} into folders by {op.by}."

    @override
    def run(self, env: Env) -> Gen:
        action = f"sort the files in {show(self.directory)}"
        if bad := lacking(action, env, ("list_files", "make_dir", "move_file")):
            return bad
        files, bad = yield from _top_files(action, self.directory)
        if bad:
            return bad
        if not files:
            return Done(
                f"Sorted 0 files in {show(self.directory)} into 0 folders: nothing to sort."
            )
        if self.by_topic:
            if bad := lacking(action, env, ("read_file",)):
                return bad
            reads = [Use("read_file", {"path": f}) for f in files]
            texts = yield reads
            group = {
                f: topic_of(f, t.text if t.ok else "") for f, t in zip(files, texts, strict=True)
            }
        else:
            group = {f: ext_of(f) for f in files}
        exts = sorted(set(group.values()))
        uses = [Use("make_dir", {"path": join(self.directory, e)}) for e in exts] + [
            Use(
                "move_file",
                {"src": f, "dst": join(self.directory, group[f], posixpath.basename(f))},
            )
            for f in files
        ]
        outs = yield uses
        if bad := _first_failure(action, uses, outs, changed=True):
            return bad
        return Done(
            f"Sorted {len(files)} files in {show(self.directory)} into {len(exts)} folders: "
            + ", ".join(exts),
            changed=True,
        )

    @override
    def outputs(self) -> list[str]:
        return [as_dir(self.directory) or "./"]

    @override
    def reads(self) -> list[str]:
        return [as_dir(self.directory) or "."]

    @override
    def tools(self) -> list[str]:
        return ["list_files", *(["read_file"] if self.by_topic else []), "make_dir", "move_file"]

    @property
    def by(self) -> str:
        """What the files are grouped by: "topic" or "type"."""
        return "topic" if self.by_topic else "type"


Listed = Generator[list[Use], list[Outcome], tuple[list[str], Done | None]]


def _top_files(action: str, directory: str) -> Listed:
    """The visible files directly in `directory`, sorted, from one list_files call."""
    args = {"path": directory, "recursive": False}
    got, bad = yield from attempt(action, Use("list_files", args))
    if bad:
        return [], bad
    files, _ = listing(got.text, directory)
    parent = "" if directory == "." else directory
    return sorted(f for f in files if posixpath.dirname(f) == parent and not hidden(f)), None


def _first_failure(
    action: str, uses: list[Use], outs: list[Outcome], *, changed: bool
) -> Done | None:
    """The report of the first call of a batch that failed, if one did."""
    bad = next(((u, o) for u, o in zip(uses, outs, strict=True) if not o.ok), None)
    return None if bad is None else failed(action, *bad, changed=changed)


@dataclass(frozen=True)
class ForEach(Op):
    """Move, copy or delete every file of a kind ("all .txt files in inbox")."""

    mode: str  # "move", "copy" or "delete"
    source: str
    dest: str | None = None
    ext: str | None = None

    def _kind(self) -> str:
        return f".{self.ext} files" if self.ext else "files"

    def _needs(self, env: Env) -> list[str]:
        if self.mode == "move":
            return ["list_files", "move_file"]
        if self.mode == "delete":
            return ["list_files", "delete_file"]
        if "copy_file" in env.offered:
            return ["list_files", "copy_file"]
        return ["list_files", "read_file", "write_file"]

    @override
    def run(self, env: Env) -> Gen:
        where = f" to {self.dest}/" if self.dest else ""
        action = f"{self.mode} the {self._kind()} in {show(self.source)}{where}"
        if bad := lacking(action, env, self._needs(env)):
            return bad
        files, bad = yield from _top_files(action, self.source)
        if bad:
            return bad
        picked = [f for f in files if self.ext is None or ext_of(f) == self.ext.lower()]
        if not picked:
            return Done(f"There were no {self._kind()} in {show(self.source)} to {self.mode}.")
        dest = self.dest or "."
        pairs = [(f, join(dest, posixpath.basename(f))) for f in picked]
        tool = self._needs(env)[-1]
        if tool == "delete_file":
            uses = [Use(tool, {"path": src}) for src, _ in pairs]
        elif tool != "write_file":
            uses = [Use(tool, {"src": src, "dst": dst}) for src, dst in pairs]
        else:
            reads = [Use("read_file", {"path": src}) for src, _ in pairs]
            texts = yield reads
            if bad := _first_failure(action, reads, texts, changed=False):
                return bad
            uses = [
                Use("write_file", {"path": dst, "content": t.text})
                for (_, dst), t in zip(pairs, texts, strict=True)
            ]
        outs = yield uses
        if bad := _first_failure(action, uses, outs, changed=True):
            return bad
        did = {"move": "Moved", "copy": "Copied", "delete": "Deleted"}[self.mode]
        return Done(
            f"{did} {series([src for src, _ in pairs])}{where.replace(' to', ' into')}.",
            changed=True,
        )

    @override
    def outputs(self) -> list[str]:
        return [f"{self.dest}/"] if self.dest else []

    @override
    def reads(self) -> list[str]:
        return [as_dir(self.source) or "."]

    @override
    def tools(self) -> list[str]:
        return {
            "move": ["list_files", "move_file"],
            "copy": ["list_files", "read_file", "write_file"],
            "delete": ["list_files", "delete_file"],
        }[self.mode]

    @override
    def claim(self) -> str:
        did = {"move": "moved", "copy": "copied", "delete": "deleted"}[self.mode]
        where = f" into {self.dest}/" if self.dest else ""
        return f"I {did} the {self._kind()} from {show(self.source)}{where}."

    @override
    def step(self) -> str:
        where = f" to {self.dest}/" if self.dest else ""
        return f"{self.mode} the {self._kind()} in {show(self.source)}{where}"
