"""Operations that look before they act: list, read, summarize, index, sort,
and moves or copies of "all the .txt files". Each one works from what the
tool results say is there, never from what the request assumed.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from agentfleet.sim.chores.base import Done, Env, Gen, Op, Outcome, Use, failed, listing, show
from agentfleet.sim.chores.files import series
from agentfleet.sim.chores.text import join


def _ext(path: str) -> str:
    suffix = posixpath.splitext(posixpath.basename(path))[1]
    return suffix[1:].lower() if len(suffix) > 1 else "other"


def _hidden(path: str) -> bool:
    return any(part.startswith(".") for part in path.split("/") if part not in (".", ""))


def _as_dir(path: str) -> str:
    return "" if path == "." else path + "/"


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "(empty)")


@dataclass(frozen=True)
class ListFiles(Op):
    directory: str
    recursive: bool = False
    target: str | None = None
    changes = False

    def run(self, env: Env) -> Gen:
        action = f"list {show(self.directory)}"
        if "list_files" not in env.offered:
            return Done(f"I could not {action}: the list_files tool was not offered.", False)
        use = Use("list_files", {"path": self.directory, "recursive": self.recursive})
        (got,) = yield [use]
        if not got.ok:
            return failed(action, use, got)
        files, dirs = listing(got.text, self.directory)
        entries = sorted([*files, *(d + "/" for d in dirs)])
        if self.target is None:
            where = show(self.directory)
            if not entries:
                return Done(f"There are no files in {where}.", wanted_change=False)
            lines = "".join(f"\n- {e}" for e in entries)
            return Done(f"Files in {where} ({len(entries)}):{lines}", wanted_change=False)
        body = f"# Files in {show(self.directory)}\n\n" + "".join(f"- {e}\n" for e in entries)
        write = Use("write_file", {"path": self.target, "content": body})
        (out,) = yield [write]
        if not out.ok:
            return failed(f"write {self.target}", write, out)
        return Done(
            f"Wrote a list of the {len(entries)} entries in {show(self.directory)} "
            f"to {self.target}.",
            changed=True,
        )

    def outputs(self) -> list[str]:
        return [self.target] if self.target else []

    def reads(self) -> list[str]:
        return [_as_dir(self.directory) or "."]

    def tools(self) -> list[str]:
        return ["list_files", *(["write_file"] if self.target else [])]

    def claim(self) -> str | None:
        return f"I wrote the list to {self.target}." if self.target else None

    def step(self) -> str:
        return f"list {show(self.directory)}"


@dataclass(frozen=True)
class ReadFile(Op):
    path: str
    changes = False

    def run(self, env: Env) -> Gen:
        if "read_file" not in env.offered:
            return Done(f"I could not read {self.path}: the read_file tool was not offered.", False)
        use = Use("read_file", {"path": self.path})
        (got,) = yield [use]
        if not got.ok:
            return failed(f"read {self.path}", use, got)
        return Done(f"{self.path} says:\n{got.text.rstrip()}", wanted_change=False)

    def reads(self) -> list[str]:
        return [self.path]

    def tools(self) -> list[str]:
        return ["read_file"]

    def step(self) -> str:
        return f"read {self.path}"


@dataclass(frozen=True)
class Summarize(Op):
    source: str
    target: str | None = None

    def run(self, env: Env) -> Gen:
        action = f"summarize {self.source}"
        if "read_file" not in env.offered:
            return Done(f"I could not {action}: the read_file tool was not offered.")
        read = Use("read_file", {"path": self.source})
        (got,) = yield [read]
        if not got.ok:
            return failed(action, read, got)
        words, first = len(got.text.split()), _first_line(got.text)
        if self.target is None:
            return Done(f"Summary of {self.source} ({words} words): {first}", wanted_change=False)
        if "write_file" not in env.offered:
            return Done(f"I could not write {self.target}: the write_file tool was not offered.")
        summary = f"# Summary of {self.source}\n\n{first}\n\n({words} words)"
        write = Use("write_file", {"path": self.target, "content": summary})
        (out,) = yield [write]
        if not out.ok:
            return failed(f"write {self.target}", write, out)
        return Done(f"Summarized {self.source} ({words} words) into {self.target}.", True)

    def outputs(self) -> list[str]:
        return [self.target] if self.target else []

    def reads(self) -> list[str]:
        return [self.source]

    def tools(self) -> list[str]:
        return ["read_file", *(["write_file"] if self.target else [])]

    def claim(self) -> str | None:
        return f"I wrote the summary to {self.target}." if self.target else None

    def step(self) -> str:
        return f"summarize {self.source}" + (f" into {self.target}" if self.target else "")


@dataclass(frozen=True)
class Index(Op):
    scope: str
    target: str

    def run(self, env: Env) -> Gen:
        action = f"index {show(self.scope)}"
        for tool in ("list_files", "write_file"):
            if tool not in env.offered:
                return Done(f"I could not {action}: the {tool} tool was not offered.")
        use = Use("list_files", {"path": self.scope, "recursive": True})
        (got,) = yield [use]
        if not got.ok:
            return failed(action, use, got)
        files, dirs = listing(got.text, self.scope)
        # The index itself is left out, so a rerun writes identical content.
        entries = sorted(
            e for e in [*files, *(d + "/" for d in dirs)] if e != self.target and not _hidden(e)
        )
        body = f"# Index of {show(self.scope)}\n\n" + "".join(f"- {e}\n" for e in entries)
        write = Use("write_file", {"path": self.target, "content": body})
        (out,) = yield [write]
        if not out.ok:
            return failed(f"write {self.target}", write, out)
        return Done(f"Wrote an index of {show(self.scope)} to {self.target}.", changed=True)

    def outputs(self) -> list[str]:
        return [self.target]

    def reads(self) -> list[str]:
        return [_as_dir(self.scope) or "."]

    def tools(self) -> list[str]:
        return ["list_files", "write_file"]

    def claim(self) -> str:
        return f"I wrote the index to {self.target}."

    def step(self) -> str:
        return f"index {show(self.scope)} into {self.target}"


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
        files = sorted(f for f in files if posixpath.dirname(f) == parent and not _hidden(f))
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
            group = {f: _ext(f) for f in files}
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
        return [_as_dir(self.directory) or "./"]

    def reads(self) -> list[str]:
        return [_as_dir(self.directory) or "."]

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
            and not _hidden(f)
            and (self.ext is None or _ext(f) == self.ext.lower())
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
        return [_as_dir(self.source) or "."]

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
