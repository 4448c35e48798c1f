"""Operations on named files: write, make folders, move, copy, append, delete
(edits are in edits.py).

Where an issue #16 tool (copy_file, append_file, delete_file) is not offered,
each falls back the way a model would: copy and append become a read and a
write of the whole new content; a delete cannot be faked, so the agent says so
and leaves the file alone.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from agentfleet.sim.chores.base import (
    Done,
    Env,
    Gen,
    Op,
    Use,
    chars,
    failed,
    missing,
    not_offered,
)
from agentfleet.sim.chores.text import join


def series(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@dataclass(frozen=True)
class Write(Op):
    path: str
    content: str
    blind = True

    def run(self, env: Env) -> Gen:
        if "write_file" not in env.offered:
            return not_offered(f"write {self.path}", "write_file")
        use = Use("write_file", {"path": self.path, "content": self.content})
        (out,) = yield [use]
        if not out.ok:
            return failed(f"write {self.path}", use, out)
        if not self.content:
            # Also how a file is cleared, so it does not say the file is new.
            return Done(f"Wrote {self.path} with no content (an empty file).", changed=True)
        return Done(f"Wrote {chars(self.content)} to {self.path}.", changed=True)

    def outputs(self) -> list[str]:
        return [self.path]

    def tools(self) -> list[str]:
        return ["write_file"]

    def claim(self) -> str:
        return f"I wrote {self.path}."

    def step(self) -> str:
        return f"write {self.path}"


@dataclass(frozen=True)
class MakeDirs(Op):
    paths: tuple[str, ...]
    blind = True

    def run(self, env: Env) -> Gen:
        shown = series([f"{p}/" for p in self.paths])
        if "make_dir" not in env.offered:
            return not_offered(f"create {shown}", "make_dir")
        uses = [Use("make_dir", {"path": p}) for p in self.paths]
        outs = yield uses
        made = [f"{u.input['path']}/" for u, o in zip(uses, outs, strict=True) if o.ok]
        for use, out in zip(uses, outs, strict=True):
            if not out.ok:
                done = failed(f"create {use.input['path']}/", use, out, changed=bool(made))
                lead = f"Created {series(made)}. " if made else ""
                return Done(lead + done.report, done.changed, stop=True)
        return Done(f"Created {'folder' if len(made) == 1 else 'folders'} {shown}.", changed=True)

    def outputs(self) -> list[str]:
        return [f"{p}/" for p in self.paths]

    def tools(self) -> list[str]:
        return ["make_dir"]

    def claim(self) -> str:
        return f"I created {series([f'{p}/' for p in self.paths])}."

    def step(self) -> str:
        return f"create {series([f'{p}/' for p in self.paths])}"


@dataclass(frozen=True)
class Move(Op):
    src: str
    dst: str
    verb: str = "Moved"
    blind = True

    def run(self, env: Env) -> Gen:
        action = f"{self.verb.lower()[:-1]} {self.src}"
        if "move_file" not in env.offered:
            return not_offered(action, "move_file")
        use = Use("move_file", {"src": self.src, "dst": self.dst})
        (out,) = yield [use]
        if not out.ok:
            return failed(action, use, out)
        return Done(f"{self.verb} {self.src} to {self.dst}.", changed=True)

    def outputs(self) -> list[str]:
        return [self.dst]

    def reads(self) -> list[str]:
        return [self.src]

    def tools(self) -> list[str]:
        return ["move_file"]

    def claim(self) -> str:
        return f"I {self.verb.lower()} {self.src} to {self.dst}."

    def step(self) -> str:
        return f"{self.verb.lower()[:-1]} {self.src} to {self.dst}"


@dataclass(frozen=True)
class Copy(Op):
    src: str
    dst: str

    def is_blind(self, env: Env) -> bool:
        return "copy_file" in env.offered

    def run(self, env: Env) -> Gen:
        action = f"copy {self.src} to {self.dst}"
        if "copy_file" in env.offered:
            use = Use("copy_file", {"src": self.src, "dst": self.dst})
            (out,) = yield [use]
            if not out.ok:
                return failed(action, use, out)
            return Done(f"Copied {self.src} to {self.dst}.", changed=True)
        for tool in ("read_file", "write_file"):
            if tool not in env.offered:
                return not_offered(action, tool)
        read = Use("read_file", {"path": self.src})
        (got,) = yield [read]
        if not got.ok:
            return failed(action, read, got)
        write = Use("write_file", {"path": self.dst, "content": got.text})
        (out,) = yield [write]
        if not out.ok:
            return failed(action, write, out)
        return Done(f"Copied {self.src} to {self.dst}.", changed=True)

    def outputs(self) -> list[str]:
        return [self.dst]

    def reads(self) -> list[str]:
        return [self.src]

    def tools(self) -> list[str]:
        return ["read_file", "write_file"]

    def claim(self) -> str:
        return f"I copied {self.src} to {self.dst}."

    def step(self) -> str:
        return f"copy {self.src} to {self.dst}"


@dataclass(frozen=True)
class Append(Op):
    path: str
    text: str

    def run(self, env: Env) -> Gen:
        action = f"append to {self.path}"
        if "read_file" not in env.offered or not {"append_file", "write_file"} & env.offered:
            return not_offered(action, "append_file")
        # Read first, so the new text starts on a line of its own.
        read = Use("read_file", {"path": self.path})
        (got,) = yield [read]
        if missing(got) and "write_file" in env.offered:
            write = Use("write_file", {"path": self.path, "content": self.text})
            (out,) = yield [write]
            if not out.ok:
                return failed(action, write, out)
            return Done(
                f"Wrote {chars(self.text)} to {self.path} (it did not exist yet).",
                changed=True,
            )
        if not got.ok:
            return failed(action, read, got)
        sep = "\n" if got.text and not got.text.endswith("\n") else ""
        # A file whose lines each end in a newline keeps that shape.
        end = "\n" if got.text.endswith("\n") and not self.text.endswith("\n") else ""
        added = sep + self.text + end
        if "append_file" in env.offered:
            use = Use("append_file", {"path": self.path, "content": added})
        else:
            use = Use("write_file", {"path": self.path, "content": got.text + added})
        (out,) = yield [use]
        if not out.ok:
            return failed(action, use, out)
        return Done(f"Appended {chars(self.text)} to {self.path}.", changed=True)

    def outputs(self) -> list[str]:
        return [self.path]

    def reads(self) -> list[str]:
        return [self.path]

    def tools(self) -> list[str]:
        return ["read_file", "write_file"]

    def claim(self) -> str:
        return f"I appended the text to {self.path}."

    def step(self) -> str:
        return f"append to {self.path}"


@dataclass(frozen=True)
class Delete(Op):
    paths: tuple[str, ...]

    def is_blind(self, env: Env) -> bool:
        return "delete_file" in env.offered

    def run(self, env: Env) -> Gen:
        shown = series(list(self.paths))
        if "delete_file" not in env.offered:
            # Overwriting or moving the file aside is not a delete; say so instead.
            return Done(
                f"I could not delete {shown}: no tool to delete files was offered, "
                f"so {'it is' if len(self.paths) == 1 else 'they are'} still there."
            )
        uses = [Use("delete_file", {"path": p}) for p in self.paths]
        outs = yield uses
        gone = [str(u.input["path"]) for u, o in zip(uses, outs, strict=True) if o.ok]
        for use, out in zip(uses, outs, strict=True):
            if not out.ok:
                lead = f"Deleted {series(gone)}. " if gone else ""
                done = failed(f"delete {use.input['path']}", use, out)
                return Done(lead + done.report, bool(gone), stop=True)
        return Done(f"Deleted {shown}.", changed=True)

    def reads(self) -> list[str]:
        # Not outputs: a deleted path is checked by its absence, not its presence.
        return list(self.paths)

    def tools(self) -> list[str]:
        return ["delete_file"]

    def claim(self) -> str:
        return f"I deleted {series(list(self.paths))}."

    def step(self) -> str:
        return f"delete {series(list(self.paths))}"


def into(directory: str, src: str) -> str:
    """Where src lands when moved or copied into a folder."""
    return join(directory, posixpath.basename(src))
