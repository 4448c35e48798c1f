"""Operations on named files.

Write, make folders, move, copy, append, delete (edits are in edits.py).

Where an issue #16 tool (copy_file, append_file, delete_file) is not offered,
each falls back the way a model would: copy and append become a read and a
write of the whole new content; a delete cannot be faked, so the agent says so
and leaves the file alone.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from typing_extensions import override

from agentfleet.sim.chores.base import (
    Done,
    Env,
    FromTo,
    Gen,
    InFile,
    Op,
    Outcome,
    Use,
    attempt,
    chars,
    failed,
    lacking,
    missing,
    series,
    write,
)
from agentfleet.sim.chores.text import join


def each(doing: str, did: str, uses: list[Use], outs: list[Outcome], mark: str = "") -> Done | None:
    """One call per path.

    The report that stops at the first failed path and names the paths done before it, or None when
    all went through.
    """
    done = [f"{u.input['path']}{mark}" for u, o in zip(uses, outs, strict=True) if o.ok]
    for use, out in zip(uses, outs, strict=True):
        if not out.ok:
            lead = f"{did} {series(done)}. " if done else ""
            report = failed(f"{doing} {use.input['path']}{mark}", use, out).report
            return Done(lead + report, bool(done), stop=True)
    return None


@dataclass(frozen=True)
class Write(Op):
    """Writes the whole content of one file, new or not."""

    path: str
    content: str
    blind = True
    needs = ("write_file",)
    step_words = "write {op.path}"
    claim_words = "I wrote {op.path}."
    writes = ("path",)

    @override
    def run(self, env: Env) -> Gen:
        if bad := lacking(f"write {self.path}", env, self.needs):
            return bad
        _, bad = yield from write(self.path, self.content)
        if bad:
            return bad
        if not self.content:
            # Also how a file is cleared, so it does not say the file is new.
            return Done(f"Wrote {self.path} with no content (an empty file).", changed=True)
        return Done(f"Wrote {chars(self.content)} to {self.path}.", changed=True)


@dataclass(frozen=True)
class MakeDirs(Op):
    """Creates folders, all in one batch."""

    paths: tuple[str, ...]
    blind = True
    needs = ("make_dir",)
    step_words = "create {op.paths:folders}"
    claim_words = "I created {op.paths:folders}."

    @override
    def outputs(self) -> list[str]:
        return [f"{p}/" for p in self.paths]

    @override
    def run(self, env: Env) -> Gen:
        if bad := lacking(self.step(), env, self.needs):
            return bad
        uses = [Use("make_dir", {"path": p}) for p in self.paths]
        outs = yield uses
        if bad := each("create", "Created", uses, outs, "/"):
            return bad
        folders = "folder" if len(uses) == 1 else "folders"
        return Done(f"Created {folders} {series(self.outputs())}.", changed=True)


@dataclass(frozen=True)
class Move(FromTo):
    """Moves or renames one file (`verb` says which the request asked for)."""

    verb: str = "Moved"
    blind = True
    needs = ("move_file",)
    step_words = "{op.doing} {op.src} to {op.dst}"

    @property
    def doing(self) -> str:
        """The verb as a plan or a failure names the act: "move" or "rename"."""
        return self.verb.lower()[:-1]

    @override
    def run(self, env: Env) -> Gen:
        action = f"{self.doing} {self.src}"
        _, bad = yield from self.call(
            env, action, Use("move_file", {"src": self.src, "dst": self.dst})
        )
        return bad or Done(f"{self.verb} {self.src} to {self.dst}.", changed=True)

    @override
    def claim(self) -> str:
        return f"I {self.verb.lower()} {self.src} to {self.dst}."


class Copy(FromTo):
    """Copies one file; without copy_file, a read and a write of its content."""

    needs = ("read_file", "write_file")
    step_words = "copy {op.src} to {op.dst}"
    claim_words = "I copied {op.src} to {op.dst}."
    blind_when = "copy_file"

    @override
    def run(self, env: Env) -> Gen:
        action = f"copy {self.src} to {self.dst}"
        done = Done(f"Copied {self.src} to {self.dst}.", changed=True)
        if "copy_file" in env.offered:
            _, bad = yield from attempt(
                action, Use("copy_file", {"src": self.src, "dst": self.dst})
            )
            return bad or done
        if bad := lacking(action, env, self.needs):
            return bad
        got, bad = yield from attempt(action, Use("read_file", {"path": self.src}))
        if bad:
            return bad
        args = {"path": self.dst, "content": got.text}
        _, bad = yield from attempt(action, Use("write_file", args))
        return bad or done


@dataclass(frozen=True)
class Append(InFile):
    """Adds text at the end of a file, on a line of its own."""

    text: str
    needs = ("read_file", "write_file")
    step_words = "append to {op.path}"
    claim_words = "I appended the text to {op.path}."

    @override
    def run(self, env: Env) -> Gen:
        action = self.step()
        # Read first, so the new text starts on a line of its own.
        got, bad = yield from self.read_first(env, "append_file")
        if missing(got) and "write_file" in env.offered:
            args = {"path": self.path, "content": self.text}
            _, bad = yield from attempt(action, Use("write_file", args))
            return bad or Done(
                f"Wrote {chars(self.text)} to {self.path} (it did not exist yet).",
                changed=True,
            )
        if bad:
            return bad
        sep = "\n" if got.text and not got.text.endswith("\n") else ""
        # A file whose lines each end in a newline keeps that shape.
        end = "\n" if got.text.endswith("\n") and not self.text.endswith("\n") else ""
        added = sep + self.text + end
        if "append_file" in env.offered:
            use = Use("append_file", {"path": self.path, "content": added})
        else:
            use = Use("write_file", {"path": self.path, "content": got.text + added})
        _, bad = yield from attempt(action, use)
        return bad or Done(f"Appended {chars(self.text)} to {self.path}.", changed=True)


@dataclass(frozen=True)
class Delete(Op):
    """Deletes files; with no delete tool it says so, as overwriting is no delete."""

    paths: tuple[str, ...]
    needs = ("delete_file",)
    step_words = "delete {op.paths:series}"
    claim_words = "I deleted {op.paths:series}."
    blind_when = "delete_file"

    @override
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
        return each("delete", "Deleted", uses, outs) or Done(f"Deleted {shown}.", changed=True)

    @override
    def reads(self) -> list[str]:
        # Not outputs: a deleted path is checked by its absence, not its presence.
        return list(self.paths)


def into(directory: str, src: str) -> str:
    """Where src lands when moved or copied into a folder."""
    return join(directory, posixpath.basename(src))
