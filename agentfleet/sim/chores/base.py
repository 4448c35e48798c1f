"""The shape of one clause's work: an operation that calls tools over turns.

An operation is a generator: it yields a batch of tool calls, receives their
outcomes, and returns what it did. The simulator is stateless, so the same
generator is re-run on every request and fed the outcomes the client sent
back; determinism makes the replay land on the same next step.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

# Reports name a path after one of these verbs only when this agent's own
# tool call changed it, so a verifier may read them as claims.
CHANGE_VERBS = ("Wrote", "Created", "Moved", "Renamed", "Copied", "Appended", "Deleted", "Edited")


@dataclass(frozen=True)
class Use:
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    text: str

    @property
    def first_line(self) -> str:
        return next((ln.strip() for ln in self.text.splitlines() if ln.strip()), "no detail")


@dataclass(frozen=True)
class Done:
    report: str
    changed: bool = False  # this operation changed the workspace
    stop: bool = False  # a tool failed: the clauses after this one are not attempted
    wanted_change: bool = True  # the clause asked for a file effect


Gen = Generator[list[Use], list[Outcome], Done]


@dataclass(frozen=True)
class Env:
    offered: frozenset[str]
    produce: tuple[str, ...] = ()


class Op:
    """One clause of a request."""

    # True when its single batch of calls needs no earlier result, so a model
    # in a hurry can send it in the same turn as the clause before it.
    blind: ClassVar[bool] = False
    changes: ClassVar[bool] = True

    def run(self, env: Env) -> Gen:
        raise NotImplementedError

    def is_blind(self, env: Env) -> bool:
        return self.blind

    def outputs(self) -> list[str]:
        """Workspace paths it will create or change; a folder ends in '/'."""
        return []

    def reads(self) -> list[str]:
        return []

    def tools(self) -> list[str]:
        return []

    def claim(self) -> str | None:
        """What a model that skipped the work would say it had done."""
        return None

    def step(self) -> str:
        """This clause as a line of a plan."""
        return type(self).__name__


def failed(action: str, use: Use, out: Outcome, *, changed: bool = False) -> Done:
    return Done(f"I could not {action}: {use.name} failed: {out.first_line}.", changed, stop=True)


def not_offered(action: str, tool: str) -> Done:
    return Done(f"I could not {action}: the {tool} tool was not offered.")


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
    low = out.text.lower()
    return not out.ok and ("does not exist" in low or "not found" in low or "no such" in low)


def chars(text: str) -> str:
    return "1 character" if len(text) == 1 else f"{len(text)} characters"


def show(path: str) -> str:
    return "the workspace" if path in (".", "") else path
