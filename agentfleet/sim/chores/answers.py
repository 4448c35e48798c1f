"""Clauses answered in words.

Questions, a plan, a check, a piece of writing with no file named, and requests the agent cannot act
on. None of them claims a file effect; the ones that look at the workspace only read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from typing_extensions import override

from agentfleet.sim.chores.base import Done, Env, Gen, Op, Use, listing

_GLOSSARY: tuple[tuple[str, str], ...] = (
    (
        "child workflow",
        "A child workflow is a workflow started by another workflow. The parent can wait for "
        "its result, and each child has its own event history, which keeps large fan-outs "
        "manageable.",
    ),
    (
        "task queue",
        "A task queue is the named queue Temporal uses to hand workflow and activity tasks to "
        "workers. Workers poll it; a workflow says which queue its work goes to.",
    ),
    (
        "continue-as-new",
        "Continue-as-new ends a workflow run and starts a fresh run with the same workflow id "
        "and a new, empty history, so a long-lived workflow never hits the history limits.",
    ),
    (
        "durable execution",
        "Durable execution means a program's progress is recorded as it runs, so after a crash "
        "it resumes from the last recorded step instead of starting over or losing work.",
    ),
    (
        "workflow",
        "A workflow is a defined sequence of steps that carries a piece of work from start to "
        "finish. In Temporal, a workflow is durable code: every step it takes is recorded in an "
        "event history, so it resumes where it left off after a crash or restart.",
    ),
    (
        "activity",
        "An activity is one step of a workflow that does the work with side effects, such as "
        "calling an API or writing a file. Temporal retries a failed activity by its retry "
        "policy and records its result in the workflow's history.",
    ),
    (
        "worker",
        "A worker is a process that polls a task queue and runs the workflow and activity code "
        "registered with it. Any number of workers can share a queue.",
    ),
    (
        "temporal",
        "Temporal is an open-source platform for durable execution. You write workflows as "
        "ordinary code; Temporal records their progress and retries their activities, so they "
        "survive crashes, restarts and outages.",
    ),
    (
        "agent",
        "An agent is a program that uses a language model to decide its next step and calls "
        "tools to carry it out, looping until the task is done.",
    ),
    (
        "retry",
        "A retry runs a failed step again, usually after a growing delay (backoff), until it "
        "succeeds or a limit on attempts or time is reached.",
    ),
)
_ARITH = re.compile(
    r"^(?:what\s+is|what's|calculate|compute|how\s+much\s+is)\s+"
    r"(-?\d+(?:\.\d+)?)\s*([-+*/x\u00d7])\s*(-?\d+(?:\.\d+)?)\s*\??$",
    re.IGNORECASE,
)
_TOPIC = re.compile(
    r"^(?:what\s+(?:is|are)|what's|explain|describe|define|tell\s+me\s+about"
    r"|what\s+does|how\s+does|why\s+(?:is|are|do|does))\s+(?:an?\s+|the\s+)?(.+?)\??$",
    re.IGNORECASE,
)


def _number(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"


def answer_to(question: str) -> str:
    """A short answer, as a model would give one.

    Sums are worked out; the Temporal and agent terms the goals ask about come from a glossary.
    """
    q = question.strip()
    if m := _ARITH.match(q):
        a, op, b = float(m.group(1)), m.group(2), float(m.group(3))
        if op in "/" and b == 0:
            return f"{m.group(1)} / {m.group(3)} is undefined: division by zero."
        value = {"+": a + b, "-": a - b, "/": a / b if b else 0.0}.get(op, a * b)
        return f"{m.group(1)} {op} {m.group(3)} = {_number(value)}."
    topic = m.group(1).lower() if (m := _TOPIC.match(q)) else q.lower()
    for term, text in _GLOSSARY:
        if term in topic:
            return text
    return (
        f'I don\'t have enough context to answer "{q}" reliably, and nothing in the '
        "workspace bears on it."
    )


class Spoken(Op):
    """A clause answered in words alone: no tool call, no file effect."""

    changes = False

    def said(self) -> Done:
        """The answer, the whole of what the clause does."""
        raise NotImplementedError

    @override
    def run(self, env: Env) -> Gen:
        yield from ()
        return self.said()


@dataclass(frozen=True)
class Worded(Spoken):
    """A clause whose whole answer is made from one text of the request."""

    text: str

    def reply(self) -> str:
        """The answer: by default the text itself, as the request gave it."""
        return self.text.rstrip("\n")

    @override
    def said(self) -> Done:
        return Done(self.reply(), wanted_change=False)


@dataclass(frozen=True)
class Answer(Worded):
    """A question (`text`) answered in words; the workspace is not touched."""

    step_words = "answer: {op.text}"

    @override
    def reply(self) -> str:
        return answer_to(self.text)


@dataclass(frozen=True)
class Say(Worded):
    """Text the request asked for with no file to put it in ("Write a haiku")."""

    step_words = "write the requested text"


@dataclass(frozen=True)
class Cannot(Spoken):
    """A request the agent could not turn into any tool call."""

    request: str
    asks_for_files: bool = True
    step_words = "{op.request}"

    @override
    def said(self) -> Done:
        if not self.asks_for_files:
            return Done(
                f'"{self.request}" does not ask for any file change, so I did not change '
                "any files.",
                wanted_change=False,
            )
        return Done(
            f'I could not tell which file change "{self.request}" asks for, so I did nothing. '
            "Tell me which file to create or change, and what it should contain."
        )


@dataclass(frozen=True)
class PlanSteps(Spoken):
    """The over-decomposed "plan the approach" subtask: a plan, in words."""

    steps: tuple[str, ...]
    step_words = "plan the approach"

    @override
    def said(self) -> Done:
        lines = [f"{i}. {s[:1].upper()}{s[1:]}" for i, s in enumerate(self.steps, 1)]
        return Done(
            "Here is how I would approach it:\n"
            + "\n".join(lines)
            + "\nI did not change any files.",
            wanted_change=False,
        )


def _outputs(n: int) -> str:
    return "1 expected output" if n == 1 else f"{n} expected outputs"


@dataclass(frozen=True)
class Check(Op):
    """The "validate the results" subtask: looks for the goal's outputs, changes nothing."""

    expected: tuple[str, ...]
    changes = False
    step_words = "check the results"

    @override
    def run(self, env: Env) -> Gen:
        if "list_files" not in env.offered:
            return Done("I could not check the results: the list_files tool was not offered.")
        folders = [p.rstrip("/") for p in self.expected if p.endswith("/") and p != "./"]
        # A recursive listing shows files only, so each folder is listed by itself.
        uses = [Use("list_files", {"path": ".", "recursive": True})] + [
            Use("list_files", {"path": f, "recursive": False}) for f in folders
        ]
        outs = yield uses
        files, _ = listing(outs[0].text, ".") if outs[0].ok else ([], [])
        present = set(files) | {f + "/" for f, o in zip(folders, outs[1:], strict=True) if o.ok}
        wanted = [p for p in self.expected if p != "./"]
        gone = [p for p in wanted if p not in present]
        if not wanted:
            found = f"The workspace holds {len(files)} files; the goal names no output to check."
        elif gone:
            found = f"Checked {_outputs(len(wanted))}; missing: {', '.join(gone)}."
        else:
            found = f"Checked {_outputs(len(wanted))}: all present."
        return Done(found + " I did not change any files.", wanted_change=False)
