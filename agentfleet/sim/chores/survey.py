"""Operations that look before they act: list, read, summarize, index. Each
works from what the tool results say is there, never from what the request
assumed.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from agentfleet.sim.chores.base import Done, Env, Gen, Op, Use, failed, listing, show
from agentfleet.sim.chores.digest import digest


def ext_of(path: str) -> str:
    suffix = posixpath.splitext(posixpath.basename(path))[1]
    return suffix[1:].lower() if len(suffix) > 1 else "other"


def hidden(path: str) -> bool:
    return any(part.startswith(".") for part in path.split("/") if part not in (".", ""))


def as_dir(path: str) -> str:
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
        return [as_dir(self.directory) or "."]

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
    sentences: int | None = None  # "a two-sentence summary": exactly that, nothing around it

    def run(self, env: Env) -> Gen:
        action = f"summarize {self.source}"
        if "read_file" not in env.offered:
            return Done(f"I could not {action}: the read_file tool was not offered.")
        read = Use("read_file", {"path": self.source})
        (got,) = yield [read]
        if not got.ok:
            return failed(action, read, got)
        words, lines = len(got.text.split()), digest(self.source, got.text, self.sentences)
        if self.target is None:
            sep = "\n" if len(lines) > 1 else " "
            body = sep.join(lines)
            return Done(
                f"Summary of {self.source} ({words} words):{sep}{body}", wanted_change=False
            )
        if "write_file" not in env.offered:
            return Done(f"I could not write {self.target}: the write_file tool was not offered.")
        write = Use("write_file", {"path": self.target, "content": self.document(lines)})
        (out,) = yield [write]
        if not out.ok:
            return failed(f"write {self.target}", write, out)
        return Done(f"Summarized {self.source} ({words} words) into {self.target}.", True)

    def document(self, lines: list[str]) -> str:
        body = "\n".join(lines) + "\n"
        if self.sentences is not None:
            return body
        mark = "# " if str(self.target).lower().endswith((".md", ".markdown")) else ""
        return f"{mark}Summary of {self.source}\n\n{body}"

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
    named: bool = True  # False: the request named no file, INDEX.md was assumed

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
            e for e in [*files, *(d + "/" for d in dirs)] if e != self.target and not hidden(e)
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
        return [as_dir(self.scope) or "."]

    def tools(self) -> list[str]:
        return ["list_files", "write_file"]

    def claim(self) -> str:
        return f"I wrote the index to {self.target}."

    def step(self) -> str:
        return f"index {show(self.scope)} into {self.target}"
