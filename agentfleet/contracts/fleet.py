"""Payload contracts of the fleet: FleetWorkflow's input, messages and answers.

`FleetInput` is also the state a fleet run hands to its successor when it
continues as new, so every field is durable: new fields must be optional with
defaults, exactly as in `agentfleet.contracts.models`.
"""

from __future__ import annotations

from typing import Literal

import pydantic
from pydantic import AwareDatetime, Field

from agentfleet.contracts.base import Contract, Record
from agentfleet.contracts.models import Budget, MasterInput, Tier
from agentfleet.contracts.status import OutcomeStatus

FLEET_ID = "agentfleet-fleet"

FleetState = Literal["running", "paused", "draining", "drained"]

# Fleet-generated ids are `<fleet-id>-task-<n>`; a caller's own id must be a
# workflow id a person can type into the Temporal UI.
MAX_TASK_ID = 200


class FleetSubmit(Contract):
    """One goal for the fleet: `goal` plus any `MasterInput` option.

    `goal` is deliberately unconstrained here, so an empty goal reaches the
    update validator and is rejected with a reason instead of a decode error.
    """

    goal: str = ""
    task_id: str | None = Field(
        default=None,
        description="Idempotency key and the master's workflow id; default: <fleet-id>-task-<n>.",
    )
    workspace: str | None = None
    model: str | None = None
    max_depth: int | None = None
    max_turns: int | None = None
    max_subtasks: int | None = None
    max_plan_attempts: int | None = None
    max_tokens: int | None = None
    max_total_subagents: int | None = None
    budget: Budget | None = None
    models: dict[Tier, str] | None = None
    priority: int | None = None
    fairness_key: str | None = None

    def master_input(self) -> MasterInput:
        """The goal as a MasterInput; raises ValueError with a reason fit to show the submitter."""
        if not self.goal.strip():
            raise ValueError("goal must not be empty")
        if self.task_id is not None:
            tid = self.task_id
            if not tid.strip() or tid != tid.strip() or len(tid) > MAX_TASK_ID:
                raise ValueError(
                    f"task_id must be 1-{MAX_TASK_ID} characters without surrounding spaces"
                )
        options = self.model_dump(exclude={"goal", "task_id"}, exclude_none=True)
        try:
            return MasterInput(goal=self.goal, **options)
        except pydantic.ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}"
                for e in err.errors(include_url=False)
            )
            raise ValueError(problems) from None


class FleetTask(Record):
    """A goal the fleet accepted, waiting for (or holding) a slot."""

    task_id: str
    input: MasterInput
    submitted_at: AwareDatetime


class FleetOutcome(Record):
    """How one of the fleet's goals ended, as far as the fleet could learn it."""

    task_id: str
    status: OutcomeStatus
    error: str | None = None
    closed_at: AwareDatetime | None = None


class AwaitMaster(Contract):
    """Re-attach to a master this fleet (or an earlier run of it) started."""

    workflow_id: str = Field(min_length=1)


class _Verdicts(Record):
    """How the fleet's goals ended, one count per verdict a master can return.

    Verified work only: `unverified` stopped as if done, but its check failed.
    """

    completed: int = 0
    unverified: int = 0
    partial: int = 0
    failed: int = 0


class _Intake(Record):
    """What became of goals as they arrived, so a lost or doubled goal shows in the totals.

    Each arrival is queued, answered with its earlier task, or refused; a queued
    goal's master is then started, or awaited when an earlier run started it.
    """

    submitted: int = 0
    """Goals queued."""
    duplicates: int = 0
    """Submissions with a task id seen before: answered with that task, not queued again."""
    rejected: int = 0
    """Signalled goals that failed validation (an update raises instead)."""
    started: int = 0
    """Masters this fleet started."""
    reattached: int = 0
    """Masters found already running (an earlier run started them), awaited instead."""


# pydantic lays out the last base's fields first: intake, verdicts, then `runs`, as stored.
class FleetStats(_Verdicts, _Intake):
    """The fleet's running totals, carried across continue-as-new.

    A goal counts once as it arrives and once when it ends; `runs` is this
    fleet's run so far: 1 + the number of continue-as-new.
    """

    runs: int = 1

    @property
    def finished(self) -> int:
        """Goals that came to an end of their own: completed, unverified, partial or failed."""
        return self.completed + self.unverified + self.partial + self.failed


class FleetInput(Contract):
    """Start a fleet with `{}` (or `{"max_concurrent": 3}`).

    The rest is carried state that a run passes to its successor on continue-as-new.
    """

    max_concurrent: int = Field(default=5, ge=1, le=500)
    queue: list[FleetTask] = Field(default_factory=list)
    in_flight: list[FleetTask] = Field(default_factory=list)
    stats: FleetStats = Field(default_factory=FleetStats)
    seen: list[str] = Field(default_factory=list)
    recent: list[FleetOutcome] = Field(default_factory=list)
    next_seq: int = Field(default=1, ge=1)
    paused: bool = False
    draining: bool = False


class FleetStatus(Record):
    """The fleet as its `status` query shows it: state, queue, slots and totals.

    `in_flight` lists the masters' task ids; `history_length` is this run's event count.
    """

    fleet_id: str
    run_id: str
    state: FleetState
    max_concurrent: int
    queued: int
    in_flight: list[str] = Field(default_factory=list)
    stats: FleetStats = Field(default_factory=FleetStats)
    recent: list[FleetOutcome] = Field(default_factory=list)
    history_length: int = 0
