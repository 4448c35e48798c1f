"""Worker Versioning end to end: a rollout under running work.

Build A runs a master and its sub-agents; build B (a changed SubAgentWorkflow,
tests/changed_workflows.py) becomes current while A's tree is in the middle of
its work. A's runs must finish on A, every workflow task of theirs done by an A
worker, and new runs must start on B. Each test has its own deployment name,
so no test moves another's work.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import VersioningBehavior
from temporalio.worker import Worker

from agentfleet.config import Settings
from agentfleet.contracts.models import MasterInput
from agentfleet.deploy.versioning import adopt_if_unset, deployment_config, describe, drain
from tests.changed_workflows import with_changed_subagent
from tests.conftest import COMPLEX_GOAL, collect_evicted_runs
from tests.test_cli import AGENTFLEET, cli_env, sh
from worker import worker_options
from workflows.master import MasterAgentWorkflow

# Several turns per sub-agent, so A's tree is still at work when A stops.
GOAL = COMPLEX_GOAL + " [sim:turns=6]"


def versioned(settings: Settings, build: str) -> Settings:
    return dataclasses.replace(
        settings, deployment_name=f"dep-{settings.task_queue}", build_id_override=build
    )


@asynccontextmanager
async def build_worker(client: Client, settings: Settings, changed: bool) -> AsyncIterator[None]:
    opts = worker_options(settings, settings.task_queue)
    if changed:
        opts["workflows"] = with_changed_subagent(opts["workflows"])
    async with Worker(client, **opts):
        yield


async def start(client: Client, settings: Settings, wid: str):
    return await client.start_workflow(
        MasterAgentWorkflow.run, MasterInput(goal=GOAL), id=wid, task_queue=settings.task_queue
    )


async def wait_for_child(client: Client, child_id: str) -> None:
    while True:
        try:
            await client.get_workflow_handle(child_id).describe()
            return
        except Exception:
            await asyncio.sleep(0.05)


async def wait_for_version(client: Client, deployment: str, build: str) -> None:
    for _ in range(300):
        if (await describe(client, deployment, count_runs=False)).version(build) is not None:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"version {build} of {deployment} never registered")


async def tree_ids(client: Client, settings: Settings, root: str) -> list[str]:
    """The master and every sub-agent below it (child ids extend the parent's)."""
    query = f"TaskQueue = '{settings.task_queue}'"
    ids = [w.id async for w in client.list_workflows(query)]
    return sorted(i for i in ids if i == root or i.startswith(root + "."))


async def build_of(client: Client, wid: str) -> tuple[str, VersioningBehavior]:
    desc = await client.get_workflow_handle(wid).describe()
    info = desc.raw_description.workflow_execution_info.versioning_info
    return info.deployment_version.build_id, VersioningBehavior(info.behavior)


async def task_builds(client: Client, wid: str) -> set[str]:
    """The build of every worker that completed a workflow task of `wid`."""
    history = await client.get_workflow_handle(wid).fetch_history()
    return {
        e.workflow_task_completed_event_attributes.deployment_version.build_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    }


async def first_command(client: Client, wid: str) -> EventType.ValueType:
    """The event of the first command the workflow's code gave."""
    events = (await client.get_workflow_handle(wid).fetch_history()).events
    done = next(
        i
        for i, e in enumerate(events)
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    )
    return events[done + 1].event_type


def test_code_built_settings_are_unversioned_and_env_settings_versioned(tmp_path) -> None:
    plain = Settings(home=tmp_path)
    assert deployment_config(plain) is None
    env = Settings.from_env({"AGENTFLEET_HOME": str(tmp_path), "AGENTFLEET_BUILD_ID": "b7"})
    config = deployment_config(env)
    assert config is not None and config.use_worker_versioning
    assert (config.version.deployment_name, config.version.build_id) == ("agentfleet", "b7")
    assert config.default_versioning_behavior == VersioningBehavior.PINNED
    off = Settings.from_env({"AGENTFLEET_HOME": str(tmp_path), "AGENTFLEET_VERSIONING": "off"})
    assert deployment_config(off) is None


async def test_pinned_runs_finish_on_their_build_and_new_runs_start_on_the_new_one(
    client: Client, settings: Settings
) -> None:
    a, b = versioned(settings, "A"), versioned(settings, "B")
    deployment = a.deployment_name
    assert deployment is not None
    old_id, new_id = f"{settings.task_queue}-old", f"{settings.task_queue}-new"

    async with build_worker(client, a, changed=False):
        assert await adopt_if_unset(client, deployment, "A", timeout=30)
        old = await start(client, a, old_id)
        await wait_for_child(client, f"{old_id}.1")
    collect_evicted_runs()
    # A is down with its tree mid-flight; B arrives and takes new work.
    assert (await old.describe()).status == WorkflowExecutionStatus.RUNNING

    async with build_worker(client, b, changed=True):
        # B must have polled before it can be made current: `drain` of A hands
        # new work to the newest other version, B.
        await wait_for_version(client, deployment, "B")
        said = await drain(client, deployment, "A")
        assert "B is now current" in said
        new = await start(client, b, new_id)
        new_result = await new.result()
        # While A is down, B never touches A's tree.
        assert (await old.describe()).status == WorkflowExecutionStatus.RUNNING
        view = await describe(client, deployment)
        assert (view.current, view.version("A").status) == ("B", "draining")  # type: ignore[union-attr]
        assert view.version("A").running.get("MasterAgentWorkflow") == 1  # type: ignore[union-attr]
        async with build_worker(client, a, changed=False):
            old_result = await old.result()

    assert old_result.tree.workflow_id == old_id and new_result.tree.workflow_id == new_id
    old_tree = await tree_ids(client, settings, old_id)
    new_tree = await tree_ids(client, settings, new_id)
    assert len(old_tree) > 1 and len(new_tree) > 1, (old_tree, new_tree)
    for wid in old_tree:
        assert await build_of(client, wid) == ("A", VersioningBehavior.PINNED), wid
        assert await task_builds(client, wid) == {"A"}, wid
    for wid in new_tree:
        assert await build_of(client, wid) == ("B", VersioningBehavior.PINNED), wid
        assert await task_builds(client, wid) == {"B"}, wid
    # The change is B's alone: its sub-agents start with the timer, A's never do.
    old_subs = [w for w in old_tree if w != old_id]
    new_subs = [w for w in new_tree if w != new_id]
    timer = EventType.EVENT_TYPE_TIMER_STARTED
    assert all([await first_command(client, w) != timer for w in old_subs]), old_subs
    assert all([await first_command(client, w) == timer for w in new_subs]), new_subs


def test_the_dev_server_is_started_with_versioning_on() -> None:
    from agentfleet.cli.devserver import VERSIONING_DYNAMIC_CONFIG, DevServer

    cmd = DevServer(db_file=None).command()
    pairs = {cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--dynamic-config-value"}
    assert {f"{k}={v}" for k, v in VERSIONING_DYNAMIC_CONFIG.items()} <= pairs
    assert VERSIONING_DYNAMIC_CONFIG["system.enableDeploymentVersions"] == "true"


def test_build_id_is_version_and_revision_or_a_source_hash(tmp_path) -> None:
    from agentfleet.deploy.build_info import compute_build_id, source_hash

    # This checkout: the git revision.
    assert compute_build_id(version="1.2.3").startswith("1.2.3-g")
    # No git metadata (an image): a hash of workflows/, stable, and changed by an edit.
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "a.py").write_text("x = 1\n")
    first = compute_build_id(tmp_path, "1.2.3")
    assert (
        first
        == compute_build_id(tmp_path, "1.2.3")
        == f"1.2.3-src{source_hash(tmp_path / 'workflows')}"
    )
    (tmp_path / "workflows" / "a.py").write_text("x = 2\n")
    assert compute_build_id(tmp_path, "1.2.3") != first


async def test_deploy_commands_show_and_move_versions_and_speak_plainly(
    client: Client, settings: Settings
) -> None:
    a, b = versioned(settings, "A"), versioned(settings, "B")
    env = cli_env(settings) | {"AGENTFLEET_DEPLOYMENT": str(a.deployment_name)}

    async def deploy(*args: str) -> tuple[int, str, str]:
        return await sh(*AGENTFLEET, "deploy", *args, env=env)

    code, out, err = await deploy("status")
    assert code == 2 and "no worker deployment named" in err and "Traceback" not in err
    async with build_worker(client, a, changed=False):
        assert await adopt_if_unset(client, str(a.deployment_name), "A", timeout=30)
        code, out, err = await deploy("status", "--json")
        assert code == 0, err
        doc = json.loads(out)
        assert doc["current"] == "A" and [v["status"] for v in doc["versions"]] == ["current"]
        for args, expected in (
            (("drain", "A"), "only version"),
            (("drain", "nosuch"), "known: A"),
            (("ramp", "A", "150"), "PERCENT"),
            (("ramp", "A", "10"), "already current"),
        ):
            code, out, err = await deploy(*args)
            assert code == 2 and expected in err and "Traceback" not in err, (args, err)
        async with build_worker(client, b, changed=False):
            await wait_for_version(client, str(a.deployment_name), "B")
            code, out, err = await deploy("ramp", "B", "25")
            assert code == 0 and "25%" in out, err
            doc = json.loads((await deploy("status", "--json"))[1])
            assert (doc["current"], doc["ramping"], doc["ramp_percent"]) == ("A", "B", 25)
            code, out, err = await deploy("drain", "A")
            assert code == 0 and "B is now current" in out, err
            code, out, err = await deploy("status")
            assert code == 0 and "current B" in out and "ramping" not in out.splitlines()[0]
            a_line = next(line for line in out.splitlines() if line.strip().startswith("A "))
            assert "draining" in a_line or "drained" in a_line, out
    code, out, err = await sh(
        *AGENTFLEET, "deploy", "build-id", "--json", env=env | {"AGENTFLEET_BUILD_ID": "r42"}
    )
    assert code == 0 and json.loads(out)["build_id"] == "r42"


async def test_the_fleet_moves_to_the_new_build_at_continue_as_new(
    client: Client, settings: Settings
) -> None:
    from agentfleet.contracts.fleet import FleetInput, FleetSubmit
    from workflows.fleet import FleetWorkflow

    a, b = versioned(settings, "A"), versioned(settings, "B")
    deployment = str(a.deployment_name)
    fleet_id = f"fleet-{settings.task_queue}"

    async def finished(n: int) -> None:
        for _ in range(600):
            try:
                if (await fleet.query(FleetWorkflow.stats)).finished >= n:
                    return
            except Exception:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"the fleet never finished {n} goals")

    async with build_worker(client, a, changed=False):
        assert await adopt_if_unset(client, deployment, "A", timeout=30)
        fleet = await client.start_workflow(
            FleetWorkflow.run, FleetInput(max_concurrent=2), id=fleet_id, task_queue=a.task_queue
        )
        first = await fleet.execute_update(FleetWorkflow.submit, FleetSubmit(goal="What is 2+2?"))
        await finished(1)
        async with build_worker(client, b, changed=False):
            await wait_for_version(client, deployment, "B")
            await drain(client, deployment, "A")
            # The fleet moves at its first workflow task that sees B current
            # (routing reaches the task queue a moment after `drain`): each
            # no-op signal gives it one, on A, until it has continued-as-new.
            await nudge_until_moved(client, fleet_id)
            second = await fleet.execute_update(
                FleetWorkflow.submit, FleetSubmit(goal="What is 3+3?")
            )
            await finished(2)
            runs = [w async for w in client.list_workflows(f"WorkflowId = '{fleet_id}'")]
            await fleet.signal(FleetWorkflow.drain)
            await fleet.result()

    assert len(runs) == 2, runs
    by_status = {r.status: r for r in runs}
    old_run = by_status[WorkflowExecutionStatus.CONTINUED_AS_NEW]
    old_builds = await task_builds_of_run(client, fleet_id, old_run.run_id)
    assert old_builds == {"A"}, old_builds
    # The new run is on B, and so is the master it started; the first master stayed on A.
    assert (await build_of(client, fleet_id))[0] == "B"
    assert (await build_of(client, first))[0] == "A"
    assert (await build_of(client, second))[0] == "B"


async def nudge_until_moved(client: Client, fleet_id: str) -> None:
    from workflows.fleet import FleetWorkflow

    handle = client.get_workflow_handle(fleet_id)
    for _ in range(100):
        runs = [w async for w in client.list_workflows(f"WorkflowId = '{fleet_id}'")]
        if len(runs) > 1 and (await build_of(client, fleet_id))[0] == "B":
            return
        await handle.signal(FleetWorkflow.resume)
        await asyncio.sleep(0.2)
    raise AssertionError("the fleet never continued-as-new onto B")


async def task_builds_of_run(client: Client, wid: str, run_id: str) -> set[str]:
    history = await client.get_workflow_handle(wid, run_id=run_id).fetch_history()
    return {
        e.workflow_task_completed_event_attributes.deployment_version.build_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    }
