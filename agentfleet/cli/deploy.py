"""`agentfleet deploy ...` and `agentfleet replay`: rolling out a new build.

The order of a rollout (README, "Deploying"): `agentfleet replay` against the
live server, start the new build's workers, `agentfleet deploy ramp` or
`drain` the old build, watch `agentfleet deploy status` until the old build
runs nothing, stop its workers.
"""

from __future__ import annotations

from temporalio.client import Client

from agentfleet.cli.output import emit_json
from agentfleet.config import Settings
from agentfleet.errors import CliError


async def _client(settings: Settings, address: str | None = None, ns: str | None = None) -> Client:
    from agentfleet.client import connect

    target = address or settings.temporal_address
    try:
        return await connect(target, ns or settings.temporal_namespace, blob_root=settings.blobs)
    except RuntimeError as err:
        # The SDK's message ends in a transport-level dump; its head is enough.
        head = str(err).split(": Server connection error")[0]
        raise CliError(f"cannot reach Temporal at {target}: {head} (is the server up?)") from None


def _deployment(settings: Settings, name: str | None) -> str:
    chosen = name or settings.deployment_name
    if not chosen:
        raise CliError(
            "versioning is off (AGENTFLEET_VERSIONING=off): name the deployment with --deployment"
        )
    return chosen


def build_id(settings: Settings, *, as_json: bool = False) -> int:
    """Print the build id this checkout's workers register under."""
    if as_json:
        emit_json({"deployment": settings.deployment_name, "build_id": settings.build_id})
    else:
        print(settings.build_id)
    return 0


async def status(settings: Settings, name: str | None, *, as_json: bool = False) -> int:
    """Show the deployment's versions (current, ramping, draining) and what runs on each."""
    from agentfleet.deploy.versioning import describe

    deployment = _deployment(settings, name)
    view = await describe(await _client(settings), deployment)
    if as_json:
        emit_json(
            {
                "deployment": view.name,
                "current": view.current,
                "ramping": view.ramping,
                "ramp_percent": view.ramp_percent,
                "this_build": settings.build_id,
                "versions": [
                    {
                        "build_id": v.build_id,
                        "status": v.status,
                        "created": v.created.isoformat() if v.created else None,
                        "ramp_percent": v.ramp_percent,
                        "running": v.running,
                    }
                    for v in view.versions
                ],
            }
        )
        return 0
    print(f"deployment {view.name}: current {view.current or '(none)'}", end="")
    print(f", ramping {view.ramping} at {view.ramp_percent:g}%" if view.ramping else "")
    for v in view.versions:
        mark = " (this checkout)" if v.build_id == settings.build_id else ""
        runs = ", ".join(f"{n} {t}" for t, n in v.running.items()) or "nothing running"
        created = v.created.strftime("%Y-%m-%d %H:%M UTC") if v.created else "?"
        print(f"  {v.build_id:<28} {v.status:<9} since {created}  {runs}{mark}")
    return 0


async def drain(settings: Settings, build: str, to: str | None, name: str | None) -> int:
    """Send no new work to `build`; the runs pinned to it finish there."""
    from agentfleet.deploy.versioning import drain as drain_version

    deployment = _deployment(settings, name)
    print(await drain_version(await _client(settings), deployment, build, to))
    return 0


async def ramp(settings: Settings, build: str, percent: float, name: str | None) -> int:
    """Send `percent` of new workflows to `build`, the rest to the current version."""
    from agentfleet.deploy.versioning import describe, set_ramping

    if not 0 <= percent <= 100:
        raise CliError(f"PERCENT must be between 0 and 100, not {percent:g}")
    deployment = _deployment(settings, name)
    client = await _client(settings)
    view = await describe(client, deployment, count_runs=False)
    if view.version(build) is None:
        known = ", ".join(v.build_id for v in view.versions) or "none"
        raise CliError(f"build id {build!r} is not a version of {deployment!r}; known: {known}")
    if build == view.current:
        raise CliError(f"{build} is already current: it takes all new work")
    await set_ramping(client, deployment, build if percent > 0 else None, pct=percent)
    if percent > 0:
        print(f"{build} takes {percent:g}% of new workflows; {view.current} the rest")
    else:
        print(f"no ramp: {view.current} takes every new workflow")
    return 0


async def replay(
    settings: Settings,
    *,
    query: str | None = None,
    since: str = "7d",
    address: str | None = None,
    namespace: str | None = None,
    limit: int = 1000,
    as_json: bool = False,
) -> int:
    """Replay recent histories on this checkout's workflow code before it rolls out.

    Exit 1 when any history fails to replay: the new build would break the runs
    it takes over.
    """
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    from agentfleet.deploy.replay import build_query, parse_since, render, replay_live
    from agentfleet.plugin import WORKFLOW_HELPERS, WORKFLOWS

    window = parse_since(since)
    client = await _client(settings, address, namespace)
    runner = SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*WORKFLOW_HELPERS)
    )
    report = await replay_live(
        client, list(WORKFLOWS), build_query(window, query), limit, workflow_runner=runner
    )
    if as_json:
        emit_json({**report.to_json(), "build_id": settings.build_id})
    else:
        print(render(report, settings.build_id))
    return 1 if report.failures else 0
