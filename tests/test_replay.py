"""Replay: recorded histories must replay on today's workflow code.

`tests/data/histories/` holds histories recorded from real runs of earlier
versions. A change that would break a running workflow fails here, before it
ships; such a change needs `workflow.patched`. Set AGENTFLEET_RECORD_HISTORIES=1
to add the histories of this run to the recorded set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from agentfleet.cli.demo import DEMO_GOAL, seed_workspace
from agentfleet.config import Settings
from agentfleet.contracts.models import MasterInput
from agentfleet.payloads.converter import data_converter
from tests.conftest import COMPLEX_GOAL, running_worker
from workflows._loop import (
    PATCH_CONTEXT_FULL,
    PATCH_CUT_TOOL,
    PATCH_EMPTY_ANY,
    PATCH_EMPTY_REPLY,
    PATCH_WHOLE_ANSWER,
)
from workflows._synthesis import PATCH_EMPTY_SYNTHESIS, PATCH_WHOLE_SYNTHESIS
from workflows.fleet import FleetWorkflow
from workflows.master import MasterAgentWorkflow
from workflows.subagent import SubAgentWorkflow

HISTORIES = Path(__file__).parent / "data" / "histories"


def replayer() -> Replayer:
    return Replayer(
        workflows=[MasterAgentWorkflow, SubAgentWorkflow, FleetWorkflow],
        data_converter=data_converter,
    )


async def test_recorded_histories_replay_without_nondeterminism() -> None:
    files = sorted(HISTORIES.glob("*.json"))
    assert files, f"no recorded histories in {HISTORIES}"
    for f in files:
        # Files are named <version>__<original workflow id>.json: child ids
        # derive from the parent's, so replay needs the original id.
        history = WorkflowHistory.from_json(f.stem.split("__", 1)[1], f.read_text())
        result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{f.name}: {result.replay_failure}"


# The demo plans and delegates; the trivial goal is inline work with tools (no child).
REPLAY_GOALS = (DEMO_GOAL, "Create an empty folder called archive")


async def test_fresh_master_run_replays(client: Client, settings: Settings) -> None:
    seed_workspace(settings.workspaces / "ws")
    ids: list[str] = []
    async with running_worker(client, settings):
        for n, goal in enumerate(REPLAY_GOALS):
            handle = await client.start_workflow(
                MasterAgentWorkflow.run,
                MasterInput(goal=goal, workspace="ws"),
                id=f"replay-{settings.task_queue}" + (f"-{n}" if n else ""),
                task_queue=settings.task_queue,
            )
            result = await handle.result()
            assert result.status == "completed", result.tree.error
            # Inline nodes have no workflow of their own: only real workflow ids.
            ids += [x.workflow_id for x in result.tree.walk() if x.role != "inline"]
    histories = [await client.get_workflow_handle(i).fetch_history() for i in ids]
    for history in histories:
        result = await replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert result.replay_failure is None, f"{history.workflow_id}: {result.replay_failure}"
    if os.environ.get("AGENTFLEET_RECORD_HISTORIES") == "1":
        HISTORIES.mkdir(parents=True, exist_ok=True)
        version = os.environ.get("AGENTFLEET_HISTORY_VERSION", "v1")
        for h in histories:
            (HISTORIES / f"{version}__{h.workflow_id}.json").write_text(h.to_json())


async def run_with_marker(
    client: Client,
    settings: Settings,
    inp: MasterInput,
    wid: str,
    patch: str,
    *,
    status: str = "completed",
) -> None:
    """Run `inp` to its end: a history of its tree holds `patch`'s marker, and all replay.

    A lazily checked patch writes its marker only on the path it guards, so each such
    path needs a run of its own (and, recorded, histories of its own).
    """
    async with running_worker(client, settings):
        handle = await client.start_workflow(
            MasterAgentWorkflow.run, inp, id=wid, task_queue=settings.task_queue
        )
        result = await handle.result()
    assert result.status == status, result.tree.error
    ids = [n.workflow_id for n in result.tree.walk() if n.role != "inline"]
    histories = [await client.get_workflow_handle(i).fetch_history() for i in ids]
    marked = [
        h
        for h in histories
        for e in h.events
        if e.HasField("marker_recorded_event_attributes")
        and patch.encode() in e.SerializeToString()
    ]
    assert marked, f"no {patch} marker in {ids}"
    for history in histories:
        replayed = await replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert replayed.replay_failure is None, f"{history.workflow_id}: {replayed.replay_failure}"
    if os.environ.get("AGENTFLEET_RECORD_HISTORIES") == "1":
        version = os.environ.get("AGENTFLEET_HISTORY_VERSION", "v1")
        for h in marked:
            (HISTORIES / f"{version}__{h.workflow_id}.json").write_text(h.to_json())


async def test_a_run_that_asked_again_for_a_cut_answer_replays(
    client: Client, settings: Settings
) -> None:
    """PATCH_WHOLE_ANSWER writes its marker only when an answer is cut: such a run replays."""
    notes = "".join(f"Point {i}: the plan holds for week {i}.\n" for i in range(1, 21))
    (settings.workspaces / "ws").mkdir(parents=True, exist_ok=True)
    (settings.workspaces / "ws" / "notes.md").write_text(notes)
    inp = MasterInput(goal="Read notes.md", workspace="ws", max_tokens=64)
    await run_with_marker(
        client, settings, inp, f"replay-cut-{settings.task_queue}", PATCH_WHOLE_ANSWER
    )


# Each lazily checked patch of the loop and the summary, and a goal that takes its path.
# Recorded (AGENTFLEET_RECORD_HISTORIES=1), their histories are the v8__replay-* files.
LAZY_PATCHES = [
    (
        "summary",
        PATCH_WHOLE_SYNTHESIS,
        f"{COMPLEX_GOAL} [sim:synthesis-habit=truncate]",
        "completed",
    ),
    ("full", PATCH_CONTEXT_FULL, "Write hello into a.txt [sim:habit=context-full]", "partial"),
    (
        "empty",
        PATCH_EMPTY_REPLY,
        "What does notes.md say about the deadline? [sim:habit=empty-reply]",
        "completed",
    ),
    # v9: an empty reply stopped at max_tokens, and an empty summary.
    (
        "empty-cut",
        PATCH_EMPTY_ANY,
        "What does notes.md say about the deadline? [sim:habit=empty-reply] "
        "[sim:empty-stop=max_tokens]",
        "completed",
    ),
    (
        "cut-tool",
        PATCH_CUT_TOOL,
        "Write 'buy milk' into todo.txt [sim:habit=truncate] [sim:truncate-below=1000000]",
        "partial",
    ),
    (
        "empty-summary",
        PATCH_EMPTY_SYNTHESIS,
        f"{COMPLEX_GOAL} [sim:synthesis-habit=empty-reply]",
        "partial",
    ),
]


@pytest.mark.parametrize(("name", "patch", "goal", "status"), LAZY_PATCHES)
async def test_a_run_down_a_lazily_patched_path_replays(
    client: Client, settings: Settings, name: str, patch: str, goal: str, status: str
) -> None:
    """The patch writes its marker only on the path it guards: such a run replays."""
    (settings.workspaces / "ws").mkdir(parents=True, exist_ok=True)
    (settings.workspaces / "ws" / "notes.md").write_text("Deadline: Friday.\n")
    inp = MasterInput(goal=goal, workspace="ws")
    wid = f"replay-{name}-{settings.task_queue}"
    await run_with_marker(client, settings, inp, wid, patch, status=status)


def test_passed_through_helpers_hold_no_workflow_or_run_state() -> None:
    """worker.WORKFLOW_HELPERS are imported once and shared by every run.

    A workflow class there would escape the sandbox, and a module-level list,
    dict or set could carry one run's data into another.
    """
    import importlib
    import inspect

    from worker import WORKFLOW_HELPERS

    constants = {"__all__", "ALIASES", "NAMES"}  # read-only by convention, checked here
    for name in WORKFLOW_HELPERS:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == name:
                assert not hasattr(value, "__temporal_workflow_definition"), f"{name}.{attr}"
            if isinstance(value, list | dict | set) and not attr.startswith("__"):
                assert attr in constants, f"{name}.{attr} is mutable module state"
