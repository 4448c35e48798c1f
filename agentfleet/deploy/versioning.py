"""Worker Versioning: which build serves which run, and moving work between builds.

A versioned worker registers as (deployment name, build id). Temporal routes
each new workflow to the deployment's *current* version (or, for a share of
them, the *ramping* one) and keeps every run on the version it started on:
masters and sub-agents are PINNED (the worker's default behaviour), so a new
release never replays an old run's history on changed code. A pinned master's
children start on the master's version too, so one tree is one build.

Long-lived workflows (FleetWorkflow, and any governor-style workflow) must not
hold an old build alive for months: they stay pinned, and when Temporal tells
them a newer version is current they continue-as-new onto it
(workflows/_upgrade.py). The behaviour is not set with
`@workflow.defn(versioning_behavior=...)`: the server rejects a behaviour from
an unversioned worker, and the same classes run unversioned in tests.

`agentfleet deploy` (agentfleet/cli/deploy.py) drives these functions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from temporalio.api.enums.v1 import WorkerDeploymentVersionStatus
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
    SetWorkerDeploymentRampingVersionRequest,
)
from temporalio.client import Client
from temporalio.common import VersioningBehavior
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import WorkerDeploymentConfig, WorkerDeploymentVersion

from agentfleet.config import Settings
from agentfleet.contracts.workflows import (
    FLEET_WORKFLOW,
    MASTER_WORKFLOW,
    SUBAGENT_WORKFLOW,
    WEEKLY_REPORT_WORKFLOW,
)
from agentfleet.errors import CliError

log = logging.getLogger("agentfleet.deploy.versioning")

# Workflow types `deploy status` counts per version, in this order.
WORKFLOW_TYPES = (FLEET_WORKFLOW, MASTER_WORKFLOW, SUBAGENT_WORKFLOW, WEEKLY_REPORT_WORKFLOW)

_STATUS = {
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT: "current",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING: "ramping",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING: "draining",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED: "drained",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE: "inactive",
    WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CREATED: "inactive",
}


_MISSING_QUEUES = "missing active task queues"


class DeploymentError(CliError):
    """A deployment operation that cannot be done; the message says why."""


def deployment_config(settings: Settings) -> WorkerDeploymentConfig | None:
    """The worker's versioning options, or None for an unversioned worker."""
    if not settings.deployment_name:
        return None
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(settings.deployment_name, settings.build_id),
        use_worker_versioning=True,
        # Every workflow stays on the build it started on; long-lived ones move
        # at continue-as-new (workflows/_upgrade.py).
        default_versioning_behavior=VersioningBehavior.PINNED,
    )


def version_key(deployment: str, build_id: str) -> str:
    """The value of the TemporalWorkerDeploymentVersion search attribute."""
    return f"{deployment}:{build_id}"


@dataclass(frozen=True)
class VersionView:
    """One version (build) of a worker deployment, as `agentfleet deploy status` shows it."""

    build_id: str
    status: str  # current, ramping, draining, drained or inactive
    created: datetime | None
    ramp_percent: float | None = None
    running: dict[str, int] = field(default_factory=dict)

    @property
    def takes_new_work(self) -> bool:
        """Whether new workflows are routed to this version (current or ramping)."""
        return self.status in ("current", "ramping")


@dataclass(frozen=True)
class DeploymentView:
    """A worker deployment's routing and its versions, oldest first."""

    name: str
    current: str | None
    ramping: str | None
    ramp_percent: float
    versions: list[VersionView]

    def version(self, build_id: str) -> VersionView | None:
        """The version with `build_id`, or None when the deployment has none such."""
        return next((v for v in self.versions if v.build_id == build_id), None)


def _when(ts: object) -> datetime | None:
    seconds = getattr(ts, "seconds", 0)
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


def _rpc_problem(err: RPCError, deployment: str) -> DeploymentError:
    if err.status == RPCStatusCode.NOT_FOUND:
        return DeploymentError(
            f"no worker deployment named {deployment!r}: no versioned worker has polled yet "
            "(start one with `agentfleet worker`; AGENTFLEET_DEPLOYMENT names the deployment)"
        )
    if err.status == RPCStatusCode.UNAVAILABLE:
        return DeploymentError(f"the Temporal server is unreachable: {err.message}")
    return DeploymentError(f"deployment {deployment!r}: {err.message}")


async def describe(client: Client, deployment: str, *, count_runs: bool = True) -> DeploymentView:
    """A worker deployment as the server describes it, with running counts unless told not.

    Counting runs costs one visibility query per workflow type and version.
    """
    try:
        resp = await client.workflow_service.describe_worker_deployment(
            DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=deployment)
        )
    except RPCError as err:
        raise _rpc_problem(err, deployment) from None
    info = resp.worker_deployment_info
    routing = info.routing_config
    current = routing.current_deployment_version.build_id or None
    ramping = routing.ramping_deployment_version.build_id or None
    versions = []
    for summary in info.version_summaries:
        build = summary.deployment_version.build_id
        status = _STATUS.get(summary.status, "inactive")
        running = await running_on(client, deployment, build) if count_runs else {}
        versions.append(
            VersionView(
                build_id=build,
                status=status,
                created=_when(summary.create_time),
                ramp_percent=routing.ramping_version_percentage if build == ramping else None,
                running=running,
            )
        )
    versions.sort(key=lambda v: v.created or datetime.min.replace(tzinfo=UTC))
    return DeploymentView(
        name=deployment,
        current=current,
        ramping=ramping,
        ramp_percent=routing.ramping_version_percentage if ramping else 0.0,
        versions=versions,
    )


async def running_on(client: Client, deployment: str, build_id: str) -> dict[str, int]:
    """Running workflows per type on one version (visibility counts)."""
    key = version_key(deployment, build_id)
    counts: dict[str, int] = {}
    for wf_type in WORKFLOW_TYPES:
        query = (
            f"TemporalWorkerDeploymentVersion = '{key}' AND ExecutionStatus = 'Running' "
            f"AND WorkflowType = '{wf_type}'"
        )
        n = (await client.count_workflows(query)).count
        if n:
            counts[wf_type] = n
    return counts


async def _routing_call(
    call: Callable[[], Awaitable[object]], deployment: str, build_id: str, settle: float
) -> None:
    """Change the deployment's routing.

    The server refuses while the new version has not yet polled every task
    queue the current one serves (its workflow and activity pollers register
    a moment apart), so that refusal is retried for up to `settle` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle
    while True:
        try:
            await call()
            return
        except RPCError as err:
            if _MISSING_QUEUES not in err.message:
                raise _rpc_problem(err, deployment) from None
            if loop.time() >= deadline:
                raise DeploymentError(
                    f"{build_id} does not serve every task queue the current version does: "
                    "start its workers on each of them first"
                ) from None
        await asyncio.sleep(0.3)


async def set_current(
    client: Client, deployment: str, build_id: str, *, settle: float = 15.0
) -> None:
    """Route all new work to `build_id`, retried while its pollers are still registering."""
    request = SetWorkerDeploymentCurrentVersionRequest(
        namespace=client.namespace,
        deployment_name=deployment,
        build_id=build_id,
        identity="agentfleet deploy",
    )
    await _routing_call(
        lambda: client.workflow_service.set_worker_deployment_current_version(request),
        deployment,
        build_id,
        settle,
    )


async def set_ramping(
    client: Client, deployment: str, build_id: str | None, *, pct: float, settle: float = 15.0
) -> None:
    """Send `pct`% of new workflows to `build_id`; None (or 0 %) stops the ramp."""
    request = SetWorkerDeploymentRampingVersionRequest(
        namespace=client.namespace,
        deployment_name=deployment,
        build_id=build_id or "",
        percentage=pct if build_id else 0.0,
        identity="agentfleet deploy",
    )
    await _routing_call(
        lambda: client.workflow_service.set_worker_deployment_ramping_version(request),
        deployment,
        build_id or "",
        settle,
    )


async def drain(client: Client, deployment: str, build_id: str, to: str | None = None) -> str:
    """Stop routing new work to `build_id`; its pinned runs finish on it.

    The current version hands over to `to`, or else to the newest other
    version; a ramping version stops ramping. Returns what was done, in words.
    """
    view = await describe(client, deployment, count_runs=False)
    known = [v.build_id for v in view.versions]
    if view.version(build_id) is None:
        raise DeploymentError(
            f"build id {build_id!r} is not a version of deployment {deployment!r}; "
            f"known: {', '.join(known) or 'none'}"
        )
    if to is not None and (to == build_id or view.version(to) is None):
        raise DeploymentError(
            f"--to {to!r} must be another version of {deployment!r}; known: {', '.join(known)}"
        )
    if view.current == build_id:
        others = [v for v in view.versions if v.build_id != build_id]
        target = to or (others[-1].build_id if others else None)
        if target is None:
            raise DeploymentError(
                f"{build_id} is the only version of {deployment!r}: start workers of the new "
                "build first, so new work has somewhere to go"
            )
        await set_current(client, deployment, target)
        return f"{target} is now current; {build_id} takes no new work and drains"
    if view.ramping == build_id:
        await set_ramping(client, deployment, None, pct=0.0)
        if to is not None:
            await set_current(client, deployment, to)
        return f"{build_id} no longer ramps; it takes no new work and drains"
    if to is not None:
        await set_current(client, deployment, to)
        return f"{to} is now current; {build_id} already took no new work"
    status = view.version(build_id).status  # type: ignore[union-attr]
    return f"{build_id} already takes no new work ({status})"


async def adopt_if_unset(
    client: Client,
    deployment: str,
    build_id: str,
    *,
    timeout: float = 60.0,
    take_over: bool = False,
) -> bool:
    """Make `build_id` current when the deployment has no current version yet.

    The first versioned worker of a fresh deployment would otherwise wait for
    an operator: new work goes to the current version, and there is none. A
    later build never takes over by itself (that is `agentfleet deploy`'s job,
    after the replay gate) unless `take_over`, as `agentfleet dev` does: one
    machine, one worker, the code in front of you. The version exists only
    once this worker has polled, so this retries until then.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            view = await describe(client, deployment, count_runs=False)
            if view.current == build_id:
                return True
            if view.current is not None and not take_over:
                return False
            if view.version(build_id) is not None:
                await set_current(client, deployment, build_id)
                log.info(
                    "deployment %s had no current version: %s is current", deployment, build_id
                )
                return True
        except DeploymentError as err:
            if loop.time() > deadline:
                log.warning("could not make %s current: %s", build_id, err)
                return False
        if loop.time() > deadline:
            log.warning("version %s of %s never appeared; not made current", build_id, deployment)
            return False
        await asyncio.sleep(0.3)
