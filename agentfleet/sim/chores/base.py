"""The shape of one clause's work: an operation that calls tools over turns.

An operation is a generator: it yields a batch of tool calls, receives their
outcomes, and returns what it did. The simulator is stateless, so the same
generator is re-run on every request and fed the outcomes the client sent
back; determinism makes the replay land on the same next step.
"""

from __future__ import annotations

import string
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from typing_extensions import override

# Reports name a path after one of these verbs only when this agent's own
# tool call changed it, so a verifier may read them as claims.
CHANGE_VERBS = ("Wrote", "Created", "Moved", "Renamed", "Copied", "Appended", "Deleted", "Edited")


@dataclass(frozen=True)
class Use:
    """One tool call the simulated model makes: the tool's name and its input."""

    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What the client sent back for one call: whether it succeeded, and the tool's text."""

    ok: bool
    text: str

    @property
    def first_line(self) -> str:
        """The tool's message in one line, for a report that quotes why a call failed."""
        return first_line(self.text) or "no detail"


@dataclass(frozen=True)
class Done:
    """How one clause ended: the words of the final report and what it did to the workspace."""

    report: str
    changed: bool = False  # this operation changed the workspace
    stop: bool = False  # a tool failed: the clauses after this one are not attempted
    wanted_change: bool = True  # the clause asked for a file effect


Gen = Generator[list[Use], list[Outcome], Done]


@dataclass(frozen=True)
class Env:
    """What the request allows: the tools offered and the outputs the task declares."""

    offered: frozenset[str]
    produce: tuple[str, ...] = ()


class Op:
    """One clause of a request."""

    # True when its single batch of calls needs no earlier result, so a model
    # in a hurry can send it in the same turn as the clause before it.
    blind: ClassVar[bool] = False
    # Blind also whenever this tool is offered (its own tool, where a fallback would need a read).
    blind_when: ClassVar[str] = ""
    changes: ClassVar[bool] = True
    # The tools its calls use when every tool it can use is offered.
    needs: ClassVar[tuple[str, ...]] = ()
    # How a plan names the clause (`step`) and what a model that skipped the work would say
    # it did (`claim`), as templates over the op: "write {op.path}" (see `_Words`).
    step_words: ClassVar[str] = ""
    claim_words: ClassVar[str] = ""
    # The fields that hold the paths it creates or changes, and the paths it reads.
    writes: ClassVar[tuple[str, ...]] = ()
    looks_at: ClassVar[tuple[str, ...]] = ()

    def run(self, env: Env) -> Gen:
        """The clause's work as a generator of tool-call batches (see the module docstring)."""
        raise NotImplementedError

    def is_blind(self, env: Env) -> bool:
        """Whether its first batch may go out in the same turn as the clause before it."""
        return self.blind or self.blind_when in env.offered

    def outputs(self) -> list[str]:
        """Workspace paths it will create or change; a folder ends in '/'."""
        return [getattr(self, name) for name in self.writes]

    def reads(self) -> list[str]:
        """Workspace paths it reads or lists; a folder ends in '/'."""
        return [getattr(self, name) for name in self.looks_at]

    def tools(self) -> list[str]:
        """The tools it may call, so the planner can hint at them."""
        return list(self.needs)

    def call(self, env: Env, action: str, use: Use) -> Call:
        """Its first call, made only once every tool in `needs` is offered.

        When one is not, no call is made: the outcome is an empty failure and the report says
        which tool was missing.
        """
        if bad := lacking(action, env, self.needs):
            return Outcome(ok=False, text=""), bad
        return (yield from attempt(action, use))

    def claim(self) -> str | None:
        """What a model that skipped the work would say it had done."""
        return _WORDS.format(self.claim_words, op=self) if self.claim_words else None

    def step(self) -> str:
        """This clause as a line of a plan."""
        return _WORDS.format(self.step_words, op=self) if self.step_words else type(self).__name__


class Saves(Op):
    """A clause answered in words, or, with a target, written to that file."""

    target: str | None

    @override
    def outputs(self) -> list[str]:
        return [self.target] if self.target else []

    @override
    def tools(self) -> list[str]:
        return [*self.needs, *(["write_file"] if self.target else [])]

    @override
    def claim(self) -> str | None:
        return super().claim() if self.target else None


@dataclass(frozen=True)
class FromTo(Op):
    """A clause that puts what `src` holds at `dst` (move, copy)."""

    src: str
    dst: str
    writes = ("dst",)
    looks_at = ("src",)


@dataclass(frozen=True)
class InFile(Op):
    """A clause that reads one file and changes it in place (append, edit)."""

    path: str
    writes = ("path",)
    looks_at = ("path",)

    def read_first(self, env: Env, tool: str) -> Call:
        """Reads the file before changing it, as a model must to change part of a file.

        Stops at once, with no call made, unless read_file and either `tool` or its fallback
        write_file are offered; the outcome is then an empty failure that says nothing.
        """
        if "read_file" not in env.offered or not {tool, "write_file"} & env.offered:
            return Outcome(ok=False, text=""), not_offered(self.step(), tool)
        return (yield from attempt(self.step(), Use("read_file", {"path": self.path})))


def first_line(text: str) -> str:
    """The first line of the text that is not blank, stripped; "" when there is none."""
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")


def series(items: list[str]) -> str:
    """Items as a sentence lists them: "a, b and c"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class _Words(string.Formatter):
    """Fills an op's phrase templates.

    Besides plain fields it knows three ways to say paths: `{op.directory:place}` names a folder
    as a report does (the root is "the workspace"), `{op.paths:series}` lists paths in a
    sentence, and `{op.paths:folders}` lists them as folders ("a/ and b/").
    """

    @override
    def format_field(self, value: Any, format_spec: str) -> Any:
        if format_spec == "place":
            return show(value)
        if format_spec == "series":
            return series(list(value))
        if format_spec == "folders":
            return series([f"{p}/" for p in value])
        return super().format_field(value, format_spec)


_WORDS = _Words()


def failed(action: str, use: Use, out: Outcome, *, changed: bool = False) -> Done:
    """The report of a clause whose tool call failed; the clauses after it are not attempted."""
    return Done(f"I could not {action}: {use.name} failed: {out.first_line}.", changed, stop=True)


def not_offered(action: str, tool: str) -> Done:
    """The report of a clause that stopped before calling anything."""
    return Done(f"I could not {action}: the {tool} tool was not offered.")


def lacking(action: str, env: Env, tools: Iterable[str]) -> Done | None:
    """The report for the first of `tools` not offered, as a model checks its tool list."""
    return next((not_offered(action, tool) for tool in tools if tool not in env.offered), None)


Call = Generator[list[Use], list[Outcome], tuple[Outcome, Done | None]]


def attempt(action: str, use: Use) -> Call:
    """One call on its own turn: its outcome, and the report to stop with if it failed."""
    (out,) = yield [use]
    return out, (None if out.ok else failed(action, use, out))


def write(path: str, content: str) -> Call:
    """Writes `content` to `path`; on failure the report says the write failed."""
    return (
        yield from attempt(f"write {path}", Use("write_file", {"path": path, "content": content}))
    )


def listing(result: str, directory: str) -> tuple[list[str], list[str]]:
    """(files, dirs) from a list_files result: one root-relative path per line."""
    files: list[str] = []
    dirs: list[str] = []
    for raw in result.splitlines():
        entry = raw.strip()
        # "(empty)" and "... and N more entries" are notes, not paths.
        if not entry or entry.startswith(("(", "... ")) or entry.endswith(":"):
            continue
        is_dir = entry.endswith("/")
        entry = entry.rstrip("/")
        if directory not in (".", "") and not entry.startswith(directory + "/"):
            entry = f"{directory}/{entry}"
        (dirs if is_dir else files).append(entry)
    return files, dirs


def missing(out: Outcome) -> bool:
    """Whether a failed call failed because the file is not there (so it may be created instead)."""
    low = out.text.lower()
    return not out.ok and ("does not exist" in low or "not found" in low or "no such" in low)


def chars(text: str) -> str:
    """A length as a report says it: "1 character", "12 characters"."""
    return "1 character" if len(text) == 1 else f"{len(text)} characters"


def show(path: str) -> str:
    """A folder as a report names it; the root is "the workspace"."""
    return "the workspace" if path in (".", "") else path
