"""Replaying a request's operations against the conversation so far.

Every request re-runs the operations from the start and feeds them the
outcomes the client sent back, turn by turn; where the recorded turns end, the
next batch of calls (or the final report) is the answer. A batch's calls are
queued, so a client that allows one call per turn gets them one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentfleet.sim.chores.base import Done, Env, Gen, Op, Outcome, Use


@dataclass
class _Slot:
    gen: Gen
    queue: list[Use]  # calls of the current batch not yet sent
    outcomes: list[Outcome] = field(default_factory=list)


class Run:
    """One request's operations, replayed against the tool turns so far.

    `merge` sends the calls of clause after clause in one turn (the multi-tool habit); `single`
    sends one call per turn, as `disable_parallel_tool_use` asks.
    """

    def __init__(self, ops: list[Op], env: Env, *, merge: bool, single: bool) -> None:
        self.ops = ops
        self.env = env
        self.merge = merge  # send the calls of clause after clause in one turn
        self.single = single  # one call per turn (tool_choice disable_parallel_tool_use)
        self.done: dict[int, Done] = {}
        self.slots: dict[int, _Slot] = {}
        self.next_op = 0
        self.stopped = False

    def _start(self, i: int) -> None:
        gen = self.ops[i].run(self.env)
        try:
            self.slots[i] = _Slot(gen, list(next(gen)))
        except StopIteration as stop:
            self._finish(i, stop.value)

    def _finish(self, i: int, done: Done) -> None:
        self.done[i] = done
        self.slots.pop(i, None)
        if done.stop:
            self.stopped = True

    def _active(self) -> list[int]:
        """The ops whose calls make up the next turn, starting any that are due."""
        while not self.slots and not self.stopped and self.next_op < len(self.ops):
            self._start(self.next_op)
            self.next_op += 1
        if not self.slots or self.single:
            return sorted(self.slots)
        while (
            self.merge
            and not self.stopped
            and self.next_op < len(self.ops)
            and all(self.ops[i].is_blind(self.env) for i in self.slots)
        ):
            self._start(self.next_op)
            self.next_op += 1
        return sorted(self.slots)

    def turn(self) -> list[tuple[int, Use]]:
        """The calls of the next turn, each with the index of the op that makes it.

        None once the ops are done or one has stopped.
        """
        # After a failed call a model reports; an operation sent in the same
        # turn does not get to go on.
        if self.stopped:
            return []
        calls = [(i, use) for i in self._active() for use in self.slots[i].queue]
        return calls[:1] if self.single else calls

    def feed(self, sent: list[tuple[int, Use]], outcomes: list[Outcome]) -> None:
        """Gives the ops the outcomes of the calls they sent.

        An op whose batch is complete goes on to its next batch or finishes.
        """
        for (i, _), out in zip(sent, outcomes, strict=True):
            slot = self.slots[i]
            slot.queue.pop(0)
            slot.outcomes.append(out)
        for i in sorted({i for i, _ in sent}):
            slot = self.slots[i]
            if slot.queue:
                continue
            try:
                slot.queue, slot.outcomes = list(slot.gen.send(slot.outcomes)), []
            except StopIteration as stop:
                self._finish(i, stop.value)

    def claims(self) -> list[str]:
        """What a model that skipped the work would say it did (the claim-done habit)."""
        return [c for op in self.ops if (c := op.claim())]

    def report(self) -> str:
        """The final message of the agent.

        What each clause did, what was not attempted after a failure, and whether any file changed.
        """
        done = [self.done[i] for i in sorted(self.done)]
        texts = [d.report for d in done]
        skipped = [self.ops[i].step() for i in range(len(self.ops)) if i not in self.done]
        if skipped:
            texts.append("I stopped there and did not " + "; ".join(skipped) + ".")
        changed = any(d.changed for d in done)
        if not changed and any(d.wanted_change for d in done):
            texts.insert(0, "I did not change any files.")
        if len(texts) > 1:
            texts = [t if t.endswith((".", "!", "?", ":")) else t + "." for t in texts]
        sep = "\n" if any("\n" in t for t in texts) else " "
        return sep.join(texts)
