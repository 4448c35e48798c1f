"""The `agentfleet` command.

Built on typer (with rich): each subcommand is one function whose parameters
are its options and whose return value is its exit code, so dispatch, `--help`
and shell completion (`agentfleet --install-completion`) come from the
signatures, in one style. Every `--json` output is one JSON document on stdout;
errors go to stderr as one line with a non-zero exit code, never a traceback.
Temporal and the SDKs are imported inside the commands, so `agentfleet score`
and `--help` stay quick.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Coroutine, Sequence
from typing import Annotated, Any

import typer
from typer.main import get_command

from agentfleet.config import Settings
from agentfleet.errors import CliError

app = typer.Typer(
    name="agentfleet",
    help="Durable fleets of Claude agents on Temporal: start, watch and audit them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
fleet_app = typer.Typer(help="the 24/7 fleet: queue goals on FleetWorkflow", no_args_is_help=True)
workspace_app = typer.Typer(
    help="a workspace's trash: list and restore deleted files", no_args_is_help=True
)
deploy_app = typer.Typer(
    help="Worker Versioning: which build runs what; move new work", no_args_is_help=True
)
app.add_typer(fleet_app, name="fleet")
app.add_typer(workspace_app, name="workspace")
app.add_typer(deploy_app, name="deploy")

# Long-running processes log their progress; the other commands keep the
# terminal for their result and log only warnings.
_LOGGING_COMMANDS = {"dev", "server", "worker", "codec-server", "calibrate", "trace"}

Json = Annotated[bool, typer.Option("--json", help="one JSON document on stdout")]
Week = Annotated[
    str | None, typer.Option("--week", help="YYYY-Www (default: the week that just ended)")
]


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as err:
        raise CliError(str(err)) from None


def _run(coro: Coroutine[Any, Any, int]) -> int:
    return asyncio.run(coro)


@app.callback()
def _root(ctx: typer.Context) -> None:
    # The simulator sets up its own logging (see `sim`).
    if ctx.invoked_subcommand == "sim":
        return
    from agentfleet.logs import setup_logging

    loud = ctx.invoked_subcommand in _LOGGING_COMMANDS
    setup_logging(logging.INFO if loud else logging.WARNING)


# --- processes ---------------------------------------------------------------------------


# The commands that run a process (or the demo) on the settings alone.
_PROCESSES = {
    "demo": "run the demo goal end to end on the embedded defaults",
    "dev": "dev server + simulator (without a key) + worker, until Ctrl-C",
    "server": "the Temporal dev server, persisted in $AGENTFLEET_HOME",
    "worker": "the worker (same as `python worker.py`)",
}


def _process_command(name: str, help_text: str) -> None:
    def command() -> int:
        from agentfleet.cli import commands

        return _run(getattr(commands, name)(_settings()))

    command.__doc__ = help_text
    app.command(name, help=help_text)(command)


for _name, _help in _PROCESSES.items():
    _process_command(_name, _help)


@app.command(
    help="the Anthropic-compatible simulator (see `agentfleet sim --help`)",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def sim(ctx: typer.Context) -> int:
    """Serve the simulator; its options (`--port`, `--help`, ...) are its own."""
    from agentfleet.sim import main as sim_main

    return sim_main(list(ctx.args))


@app.command("codec-server", help="decode encrypted payloads for the Temporal UI")
def codec_server(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8081,
    cors_origins: Annotated[list[str] | None, typer.Option("--cors-origin")] = None,
) -> int:
    """Serve the codec server the Temporal UI decodes payloads with."""
    from agentfleet.payloads.codec_server import DEFAULT_CORS_ORIGINS, codec_server_command

    return codec_server_command(host, port, None, cors_origins or DEFAULT_CORS_ORIGINS)


# --- runs ----------------------------------------------------------------------------------


@app.command("run", help="start a master agent on GOAL")
def run_goal(
    goal: str,
    *,
    wait: Annotated[bool, typer.Option("--wait", help="wait and print the result tree")] = False,
    as_json: Json = False,
    workspace: Annotated[
        str | None, typer.Option(help="workspace name under $AGENTFLEET_HOME/workspaces")
    ] = None,
    model: Annotated[str | None, typer.Option()] = None,
    workflow_id: Annotated[
        str | None, typer.Option("--id", help="workflow id (default: generated)")
    ] = None,
) -> int:
    """Start a master; with --wait, follow it (live on a terminal) to its result."""
    from agentfleet.cli import commands

    return _run(
        commands.run(
            _settings(),
            goal,
            wait=wait,
            as_json=as_json,
            workspace=workspace,
            model=model,
            workflow_id=workflow_id,
        )
    )


@app.command("status", help="status and result tree of a master run")
def status(workflow_id: str, *, as_json: Json = False) -> int:
    """Show a master's state, or its result tree once it has finished."""
    from agentfleet.cli import commands

    return _run(commands.status(_settings(), workflow_id, as_json=as_json))


@app.command(help="a run's trace from the local span file, as a tree")
def trace(workflow_id: str, *, as_json: Json = False) -> int:
    """Show a run's spans from the local span file."""
    from agentfleet.telemetry.trace_view import trace_command

    code, out = trace_command(_settings().home, workflow_id, as_json=as_json)
    print(out, file=sys.stdout if code == 0 else sys.stderr)
    return code


@app.command(help="score a task's complexity, with no LLM call")
def score(task: str, *, as_json: Json = False) -> int:
    """Score a task as the master would, without calling a model."""
    from agentfleet.cli import commands

    return commands.score(task, as_json=as_json)


# --- the weekly report -------------------------------------------------------------------


@app.command(help="weekly report: JSON, Markdown and PNG in $AGENTFLEET_HOME/reports")
def report(
    week: Week = None,
    tz: Annotated[str, typer.Option(help="the zone that defines the week (default UTC)")] = "UTC",
    *,
    as_json: Json = False,
) -> int:
    """Build a week's report from the ledger."""
    from agentfleet.cli import reports

    return _run(reports.report(_settings(), week, tz, as_json=as_json))


@app.command(help="reconcile visibility, ledger and telemetry; exit 1 on any discrepancy")
def audit(
    week: Week = None,
    tz: Annotated[str, typer.Option()] = "UTC",
    *,
    as_json: Json = False,
    running_limit: Annotated[
        float, typer.Option(help="hours after which a running task is flagged")
    ] = 24.0,
) -> int:
    """Reconcile a week's three records; exit 1 when they disagree."""
    from agentfleet.cli import reports

    return _run(
        reports.audit(_settings(), week, tz, as_json=as_json, running_limit_hours=running_limit)
    )


@app.command(help="show or move the weekly-report schedule")
def schedule(
    *,
    show: Annotated[bool, typer.Option("--show")] = False,
    set_time: Annotated[str | None, typer.Option(help="HH:MM")] = None,
    tz: Annotated[str | None, typer.Option()] = None,
    as_json: Json = False,
) -> int:
    """Show the weekly-report schedule, or move it."""
    from agentfleet.cli import reports

    return _run(reports.schedule(_settings(), show=show, set_time=set_time, tz=tz, as_json=as_json))


@app.command(help="refit the tier thresholds from the ledger")
def calibrate(
    *,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show the proposal, write nothing")
    ] = False,
    as_json: Json = False,
) -> int:
    """Refit the complexity tiers' thresholds from what the ledger recorded."""
    from agentfleet.cli.calibrate import calibrate as refit

    return refit(_settings(), dry_run=dry_run, as_json=as_json)


# --- the fleet and workspaces --------------------------------------------------------------


@fleet_app.command("submit", help="queue GOAL (starts the fleet if needed)")
def fleet_submit(
    goal: str,
    *,
    task_id: Annotated[str | None, typer.Option()] = None,
    priority: Annotated[
        int | None,
        typer.Option(min=1, max=5, metavar="N", help="1 (most urgent) to 5; default: normal (3)"),
    ] = None,
    fairness_key: Annotated[
        str | None, typer.Option(help="who the goal is for (a team): served in turn")
    ] = None,
    as_json: Json = False,
) -> int:
    """Queue a goal on the fleet."""
    from agentfleet.cli import fleet

    return _run(
        fleet.fleet_submit(
            _settings(),
            goal,
            as_json=as_json,
            task_id=task_id,
            priority=priority,
            fairness_key=fairness_key,
        )
    )


@fleet_app.command("status", help="the fleet's queue, in-flight tasks and stats")
def fleet_status(*, as_json: Json = False) -> int:
    """Show the fleet's queue, what is in flight, and the LLM governors."""
    from agentfleet.cli import fleet

    return _run(fleet.fleet_status(_settings(), as_json=as_json))


@workspace_app.command("restore", help="list the trash of NAME, or restore PATHs from it")
def workspace_restore(
    name: Annotated[str, typer.Argument(help="workspace name under $AGENTFLEET_HOME/workspaces")],
    paths: Annotated[
        list[str] | None, typer.Argument(metavar="PATH", help="deleted paths to bring back")
    ] = None,
    *,
    run: Annotated[str | None, typer.Option(help="only what this agent run deleted")] = None,
    to: Annotated[
        str | None, typer.Option(help="restore the one PATH to this path instead")
    ] = None,
    as_json: Json = False,
) -> int:
    """List a workspace's trash, or bring deleted files back."""
    from agentfleet.cli.workspace import workspace_restore as restore

    return restore(_settings(), name, paths or [], run=run, to=to, as_json=as_json)


# --- rollouts ------------------------------------------------------------------------------


@deploy_app.callback()
def _deploy(
    ctx: typer.Context,
    deployment: Annotated[
        str | None, typer.Option(help="deployment name (default $AGENTFLEET_DEPLOYMENT)")
    ] = None,
) -> None:
    ctx.obj = deployment


@deploy_app.command("status", help="versions: current, ramping, draining; what runs on each")
def deploy_status(ctx: typer.Context, *, as_json: Json = False) -> int:
    """Show the deployment's versions and what runs on each."""
    from agentfleet.cli import deploy

    return _run(deploy.status(_settings(), ctx.obj, as_json=as_json))


@deploy_app.command("drain", help="send no new work to BUILD_ID; its pinned runs finish")
def deploy_drain(
    ctx: typer.Context,
    build_id: str,
    to: Annotated[
        str | None, typer.Option(help="the version to make current (default: the newest other)")
    ] = None,
) -> int:
    """Stop sending new work to a build."""
    from agentfleet.cli import deploy

    return _run(deploy.drain(_settings(), build_id, to, ctx.obj))


@deploy_app.command("ramp", help="send PERCENT of new workflows to BUILD_ID (0 stops)")
def deploy_ramp(ctx: typer.Context, build_id: str, percent: float) -> int:
    """Send a share of new workflows to a build."""
    from agentfleet.cli import deploy

    return _run(deploy.ramp(_settings(), build_id, percent, ctx.obj))


@deploy_app.command("build-id", help="this checkout's build id")
def deploy_build_id(*, as_json: Json = False) -> int:
    """Print the build id this checkout's workers register."""
    from agentfleet.cli import deploy

    return deploy.build_id(_settings(), as_json=as_json)


@app.command(help="replay live histories on this checkout's code; exit 1 on any nondeterminism")
def replay(
    query: Annotated[
        str | None, typer.Option(help="a visibility query ANDed to the default selection")
    ] = None,
    since: Annotated[str, typer.Option(help="closed this recently (default 7d)")] = "7d",
    address: Annotated[
        str | None, typer.Option(help="Temporal address (default $TEMPORAL_ADDRESS)")
    ] = None,
    namespace: Annotated[
        str | None, typer.Option(help="namespace (default $TEMPORAL_NAMESPACE)")
    ] = None,
    limit: Annotated[int, typer.Option(help="at most this many histories")] = 1000,
    *,
    as_json: Json = False,
) -> int:
    """Replay recent histories on this checkout before rolling it out."""
    from agentfleet.cli import deploy

    return _run(
        deploy.replay(
            _settings(),
            query=query,
            since=since,
            address=address,
            namespace=namespace,
            limit=limit,
            as_json=as_json,
        )
    )


# --- entry points ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `agentfleet` command line and return its exit code.

    People get one line on stderr for what went wrong: a usage error, a
    `CliError`, a bad MCP or governor setting; never a traceback.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return _invoke(args)
    except CliError as err:
        return _error(str(err))
    except ValueError as err:
        # A bad MCP config (agentfleet/mcp/config.py) names its file and field; a bad
        # governor setting (agentfleet/governance/limits.py) its variable.
        from agentfleet.governance.limits import GovernorConfigError
        from agentfleet.mcp import McpConfigError

        if not isinstance(err, McpConfigError | GovernorConfigError):
            raise
        return _error(str(err))
    except KeyboardInterrupt:
        return 130


def _invoke(args: list[str]) -> int:
    """Parse and run `args`; usage problems become one error line, exit 2."""
    # typer vendors click; the bare-group case is the one exception not public.
    from typer._click.exceptions import NoArgsIsHelpError

    try:
        code = get_command(app).main(args=args, prog_name="agentfleet", standalone_mode=False)
    except NoArgsIsHelpError as err:
        err.show()
        return err.exit_code
    except typer.TyperException as err:
        ctx = getattr(err, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        return _error(err.format_message() + hint, code=err.exit_code)
    except typer.Abort:
        return 130
    except SystemExit as done:
        # typer exits on its own in two cases: shell completion has answered,
        # or stdout's reader went away (`agentfleet ... | head`), which is not
        # a failure.
        if isinstance(done.__context__, BrokenPipeError):
            return 0
        return done.code if isinstance(done.code, int) else 0
    return code if isinstance(code, int) else 0


def _error(message: str, *, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def console_main() -> None:
    """Entry point of the `agentfleet` script and `python -m agentfleet`.

    It skips interpreter teardown once the command has finished: the Temporal
    client's Rust threads can outlive the event loop and abort a finalizing
    interpreter ("PyGILState_Release ... finalizing", sdk-python issue #300),
    which would turn a successful command into exit code -6.
    """
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # `agentfleet ... | head` closed the pipe: the reader has what it
        # wanted, so this is not an error worth a traceback.
        code = 0
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)
