"""Operations on every file of a folder: sort by type or topic, and move, copy
or delete "all the .txt files in X". Each lists the folder first and acts on
what the listing returns, never on what the request assumed was there.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from agentfleet.sim.chores.base import Done, Env, Gen, Op, Outcome, Use, failed, listing, show
from agentfleet.sim.chores.files import series
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
    directory: str
    by_topic: bool = False

    def run(self, env: Env) -> Gen:
        action = f"sort the files in {show(self.directory)}"
        for tool in ("list_files", "make_dir", "move_file"):
            if tool not in env.offered:
                return Done(f"I could not {action}: the {tool} tool was not offered.")
        use = Use("list_files", {"path": self.directory, "recursive": False})
        (got,) = yield [use]
        if not got.ok:
            return failed(action, use, got)
        files, _ = listing(got.text, self.directory)
        parent = "" if self.directory == "." else self.directory
        files = sorted(f for f in files if posixpath.dirname(f) == parent and not hidden(f))
        if not files:
            return Done(
                f"Sorted 0 files in {show(self.directory)} into 0 folders: nothing to sort."
            )
        if self.by_topic:
            if "read_file" not in env.offered:
                return Done(f"I could not {action}: the read_file tool was not offered.")
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
        bad = _first_failure(uses, outs)
        if bad is not None:
            return failed(action, bad[0], bad[1], changed=True)
        return Done(
            f"Sorted {len(files)} files in {show(self.directory)} into {len(exts)} folders: "
            + ", ".join(exts),
            changed=True,
        )

    def outputs(self) -> list[str]:
        return [as_dir(self.directory) or "./"]

    def reads(self) -> list[str]:
        return [as_dir(self.directory) or "."]

    def tools(self) -> list[str]:
        return ["list_files", *(["read_file"] if self.by_topic else []), "make_dir", "move_file"]

    def claim(self) -> str:
        return f"I sorted the files in {show(self.directory)} into folders by {self._by()}."

    def step(self) -> str:
        return f"sort the files in {show(self.directory)} by {self._by()}"

    def _by(self) -> str:
        return "topic" if self.by_topic else "type"


def _first_failure(uses: list[Use], outs: list[Outcome]) -> tuple[Use, Outcome] | None:
    return next(((u, o) for u, o in zip(uses, outs, strict=True) if not o.ok), None)


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

    def run(self, env: Env) -> Gen:
        where = f" to {self.dest}/" if self.dest else ""
        action = f"{self.mode} the {self._kind()} in {show(self.source)}{where}"
        for need in self._needs(env):
            if need not in env.offered:
                return Done(f"I could not {action}: the {need} tool was not offered.")
        use = Use("list_files", {"path": self.source, "recursive": False})
        (got,) = yield [use]
        if not got.ok:
            return failed(action, use, got)
        files, _ = listing(got.text, self.source)
        parent = "" if self.source == "." else self.source
        picked = sorted(
            f
            for f in files
            if posixpath.dirname(f) == parent
            and not hidden(f)
            and (self.ext is None or ext_of(f) == self.ext.lower())
        )
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
            bad = _first_failure(reads, texts)
            if bad is not None:
                return failed(action, bad[0], bad[1])
            uses = [
                Use("write_file", {"path": dst, "content": t.text})
                for (_, dst), t in zip(pairs, texts, strict=True)
            ]
        outs = yield uses
        bad = _first_failure(uses, outs)
        if bad is not None:
            return failed(action, bad[0], bad[1], changed=True)
        did = {"move": "Moved", "copy": "Copied", "delete": "Deleted"}[self.mode]
        return Done(
            f"{did} {series([src for src, _ in pairs])}{where.replace(' to', ' into')}.", True
        )

    def outputs(self) -> list[str]:
        return [f"{self.dest}/"] if self.dest else []

    def reads(self) -> list[str]:
        return [as_dir(self.source) or "."]

    def tools(self) -> list[str]:
        return {
            "move": ["list_files", "move_file"],
            "copy": ["list_files", "read_file", "write_file"],
            "delete": ["list_files", "delete_file"],
        }[self.mode]

    def claim(self) -> str:
        did = {"move": "moved", "copy": "copied", "delete": "deleted"}[self.mode]
        where = f" into {self.dest}/" if self.dest else ""
        return f"I {did} the {self._kind()} from {show(self.source)}{where}."

    def step(self) -> str:
        where = f" to {self.dest}/" if self.dest else ""
        return f"{self.mode} the {self._kind()} in {show(self.source)}{where}"
