"""AgentFleetPlugin on a user's own worker: agentfleet next to the user's workflows.

The README's promise: a user who already runs a Temporal worker adds agentfleet
with one plugin, keeps their own workflows and activities on it, and gets every
tuning setting agentfleet's timeouts rely on.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

# A user's workflow module is re-imported by the sandbox: what it imports beside its
# workflows is passed through, as the Temporal docs advise.
with workflow.unsafe.imports_passed_through():
    from agentfleet.client import connect_traced
    from agentfleet.config import Settings
    from agentfleet.contracts.models import MasterInput
    from agentfleet.payloads.converter import AgentfleetPayloadConverter
    from agentfleet.plugin import WORKFLOW_HELPERS, AgentFleetPlugin, build_worker
    from agentfleet.runner_wrap import ActivationHook, WrappingRunner
    from agentfleet.telemetry import setup_telemetry
    from tests.conftest import COMPLEX_GOAL
    from workflows.master import MasterAgentWorkflow


@activity.defn(name="user.greet")
async def greet(name: str) -> str:
    return f"hello {name}"


@workflow.defn(name="UserGreeting")
class UserGreeting:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            greet, name, start_to_close_timeout=timedelta(seconds=10)
        )


def users_worker(client: Client, settings: Settings) -> Worker:
    """A user's worker: their own workflow and activity, and agentfleet by its plugin."""
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[UserGreeting],
        activities=[greet],
        plugins=[AgentFleetPlugin(settings)],
    )


async def test_a_users_own_worker_runs_a_master_goal_with_the_plugin(
    client: Client, settings: Settings
) -> None:
    async with users_worker(client, settings):
        master = await client.start_workflow(
            MasterAgentWorkflow.run,
            MasterInput(goal=COMPLEX_GOAL),
            id=f"master-{uuid.uuid4().hex[:10]}",
            task_queue=settings.task_queue,
        )
        greeting = await client.execute_workflow(
            UserGreeting.run,
            "fleet",
            id=f"greet-{uuid.uuid4().hex[:10]}",
            task_queue=settings.task_queue,
        )
        result = await master.result()
    assert greeting == "hello fleet"
    assert result.tree.status == "completed"
    assert [c.status for c in result.tree.children] == ["completed"] * len(result.tree.children)
    assert len(result.tree.children) >= 2


async def test_the_plugin_adds_to_the_users_worker_and_tunes_it(
    client: Client, settings: Settings
) -> None:
    config = users_worker(client, settings).config(active_config=True)
    names = {getattr(w, "__temporal_workflow_definition").name for w in config["workflows"]}
    assert {"UserGreeting", "MasterAgentWorkflow", "SubAgentWorkflow"} <= names
    assert greet in config["activities"] and len(config["activities"]) > 1
    assert config["sticky_queue_schedule_to_start_timeout"] == timedelta(seconds=1)
    assert config["max_heartbeat_throttle_interval"] == timedelta(seconds=0.5)
    assert config["graceful_shutdown_timeout"] == timedelta(seconds=settings.shutdown_grace_s)
    assert config["build_id"] == "agentfleet"
    runner = config["workflow_runner"]
    # Outermost, the worker's writer of the start rows its workflows post.
    assert isinstance(runner, ActivationHook)
    assert runner.hook.__qualname__.startswith("start_row_runner.")
    assert set(WORKFLOW_HELPERS) <= _sandbox_beneath(runner).restrictions.passthrough_modules


async def test_the_plugin_keeps_a_users_own_versioning(client: Client, settings: Settings) -> None:
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        build_id="user-build-7",
        plugins=[AgentFleetPlugin(settings)],
    )
    assert worker.config(active_config=True)["build_id"] == "user-build-7"
    assert worker.config(active_config=True).get("deployment_config") is None


def test_the_plugin_installs_the_converter_on_a_plain_client(settings: Settings) -> None:
    config = AgentFleetPlugin(settings).configure_client({})  # type: ignore[typeddict-item]
    assert issubclass(config["data_converter"].payload_converter_class, AgentfleetPayloadConverter)


async def test_a_client_without_the_converter_is_refused_by_name(
    client: Client, settings: Settings
) -> None:
    plain = Client(client.service_client, namespace=client.namespace)
    with pytest.raises(ValueError, match="agentfleet's data converter"):
        Worker(plain, task_queue=settings.task_queue, plugins=[AgentFleetPlugin(settings)])


def _sandbox_beneath(runner: object) -> SandboxedWorkflowRunner:
    """The sandbox at the bottom of a chain of wrapping runners."""
    while not isinstance(runner, SandboxedWorkflowRunner):
        assert isinstance(runner, WrappingRunner), f"{type(runner).__name__} hides the sandbox"
        runner = runner.inner
    return runner


async def test_a_traced_workers_sandbox_passes_the_helpers_through(settings: Settings) -> None:
    """`worker.py`'s own worker: telemetry's plugins on the client wrap the sandbox first.

    Before, the plugin stopped at that wrapping and every workflow run imported the
    helpers again.
    """
    telemetry = setup_telemetry(settings)
    traced = await connect_traced(settings, telemetry)
    runner = build_worker(traced, settings).config(active_config=True)["workflow_runner"]
    assert isinstance(runner, WrappingRunner)
    assert set(WORKFLOW_HELPERS) <= _sandbox_beneath(runner).restrictions.passthrough_modules


def test_a_worker_starts_without_the_intent_reader_or_the_sdk() -> None:
    # Start-up work delays every run a restarted worker resumes (issue #18): the intent
    # reader's patterns (about 0.5 s of CPU) are compiled where the check runs, and the
    # anthropic SDK (about 3 s) is imported in the background once the worker is built.
    import subprocess
    import sys
    from pathlib import Path

    probe = (
        "import sys, worker; "
        "print(sorted(m for m in ('agentfleet.verification.intent', 'anthropic') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
