"""The `agentfleet` command.

Every `--json` output is one JSON document on stdout; errors go to stderr with a
non-zero exit code. Temporal and the SDKs are imported inside the commands, so
`agentfleet score` and `--help` stay instant.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from agentfleet.config import Settings
from agentfleet.errors import CliError


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agentfleet", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the demo goal end to end on the embedded defaults")
    sub.add_parser("dev", help="dev server + simulator (without a key) + worker, until Ctrl-C")
    sub.add_parser("server", help="the Temporal dev server, persisted in $AGENTFLEET_HOME")
    sub.add_parser("worker", help="the worker (same as `python worker.py`)")
    # The simulator parses its own options (see main): argparse's REMAINDER
    # would reject `sim --port N` because the option looks like one of ours.
    sub.add_parser("sim", help="the Anthropic-compatible simulator (see `agentfleet sim --help`)")
    r = sub.add_parser("run", help="start a master agent on GOAL")
    r.add_argument("goal")
    r.add_argument("--wait", action="store_true", help="wait and print the result tree")
    r.add_argument("--json", action="store_true")
    r.add_argument("--workspace", help="workspace name under $AGENTFLEET_HOME/workspaces")
    r.add_argument("--model")
    r.add_argument("--id", dest="workflow_id", help="workflow id (default: generated)")
    st = sub.add_parser("status", help="status and result tree of a master run")
    st.add_argument("workflow_id")
    st.add_argument("--json", action="store_true")
    rp = sub.add_parser(
        "report", help="weekly report: JSON, Markdown and PNG in $AGENTFLEET_HOME/reports"
    )
    rp.add_argument("--week", help="YYYY-Www (default: the week that just ended)")
    rp.add_argument("--tz", default="UTC", help="the zone that defines the week (default UTC)")
    rp.add_argument("--json", action="store_true")
    au = sub.add_parser(
        "audit", help="reconcile visibility, ledger and telemetry; exit 1 on any discrepancy"
    )
    au.add_argument("--week", help="YYYY-Www (default: the week that just ended)")
    au.add_argument("--tz", default="UTC")
    au.add_argument("--json", action="store_true")
    au.add_argument(
        "--running-limit",
        type=float,
        default=24.0,
        dest="running_limit",
        help="hours after which a running task is flagged",
    )
    sch = sub.add_parser("schedule", help="show or move the weekly-report schedule")
    sch.add_argument("--show", action="store_true")
    sch.add_argument("--set-time", dest="set_time", help="HH:MM")
    sch.add_argument("--tz")
    sch.add_argument("--json", action="store_true")
    fl = sub.add_parser("fleet", help="the 24/7 fleet: queue goals on FleetWorkflow")
    fsub = fl.add_subparsers(dest="fleet_command", required=True)
    fs = fsub.add_parser("submit", help="queue GOAL (starts the fleet if needed)")
    fs.add_argument("goal")
    fs.add_argument("--task-id")
    fs.add_argument(
        "--priority",
        type=int,
        choices=range(1, 6),
        metavar="N",
        help="1 (most urgent) to 5; default: normal (3)",
    )
    fs.add_argument("--fairness-key", help="who the goal is for (a team): served in turn")
    fs.add_argument("--json", action="store_true")
    ft = fsub.add_parser("status", help="the fleet's queue, in-flight tasks and stats")
    ft.add_argument("--json", action="store_true")
    cs = sub.add_parser("codec-server", help="decode encrypted payloads for the Temporal UI")
    cs.add_argument("--host", default="127.0.0.1")
    cs.add_argument("--port", type=int, default=8081)
    cs.add_argument("--cors-origin", action="append", dest="cors_origins")
    ca = sub.add_parser("calibrate", help="refit the tier thresholds from the ledger")
    ca.add_argument("--dry-run", action="store_true", help="show the proposal, write nothing")
    ca.add_argument("--json", action="store_true")
    tr = sub.add_parser("trace", help="a run's trace from the local span file, as a tree")
    tr.add_argument("workflow_id")
    tr.add_argument("--json", action="store_true")
    ws = sub.add_parser("workspace", help="a workspace's trash: list and restore deleted files")
    wsub = ws.add_subparsers(dest="workspace_command", required=True)
    wr = wsub.add_parser("restore", help="list the trash of NAME, or restore PATHs from it")
    wr.add_argument("name", help="workspace name under $AGENTFLEET_HOME/workspaces")
    wr.add_argument("paths", nargs="*", metavar="PATH", help="deleted paths to bring back")
    wr.add_argument("--run", help="only what this agent run deleted")
    wr.add_argument("--to", help="restore the one PATH to this path instead")
    wr.add_argument("--json", action="store_true")
    _add_deploy(sub)
    sc = sub.add_parser("score", help="score a task's complexity, with no LLM call")
    sc.add_argument("task")
    sc.add_argument("--json", action="store_true")
    return p


def _add_deploy(sub: Any) -> None:
    dp = sub.add_parser("deploy", help="Worker Versioning: which build runs what; move new work")
    dp.add_argument("--deployment", help="deployment name (default $AGENTFLEET_DEPLOYMENT)")
    dsub = dp.add_subparsers(dest="deploy_command", required=True)
    ds = dsub.add_parser("status", help="versions: current, ramping, draining; what runs on each")
    ds.add_argument("--json", action="store_true")
    dd = dsub.add_parser("drain", help="send no new work to BUILD_ID; its pinned runs finish")
    dd.add_argument("build_id")
    dd.add_argument("--to", help="the version to make current (default: the newest other)")
    dr = dsub.add_parser("ramp", help="send PERCENT of new workflows to BUILD_ID (0 stops)")
    dr.add_argument("build_id")
    dr.add_argument("percent", type=float)
    db = dsub.add_parser("build-id", help="this checkout's build id")
    db.add_argument("--json", action="store_true")
    rp = sub.add_parser(
        "replay",
        help="replay live histories on this checkout's code; exit 1 on any nondeterminism",
    )
    rp.add_argument("--query", help="a visibility query ANDed to the default selection")
    rp.add_argument("--since", default="7d", help="closed this recently (default 7d)")
    rp.add_argument("--address", help="Temporal address (default $TEMPORAL_ADDRESS)")
    rp.add_argument("--namespace", help="namespace (default $TEMPORAL_NAMESPACE)")
    rp.add_argument("--limit", type=int, default=1000, help="at most this many histories")
    rp.add_argument("--json", action="store_true")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sim"]:
        from agentfleet.sim import main as sim_main

        return sim_main(argv[1:])
    args = _build_parser().parse_args(argv)
    from agentfleet.logs import setup_logging

    # Commands that print a result keep the terminal for it; long-running
    # processes (dev, worker, server) log their progress.
    quiet = args.command in {
        "demo",
        "run",
        "status",
        "score",
        "report",
        "audit",
        "schedule",
        "fleet",
        "workspace",
        "deploy",
        "replay",
    }
    setup_logging(logging.WARNING if quiet else logging.INFO)
    try:
        return _dispatch(args)
    except CliError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        # A bad MCP config (agentfleet/mcp/config.py) names its file and field; a bad
        # governor setting (agentfleet/governance/limits.py) its variable.
        from agentfleet.governance.limits import GovernorConfigError
        from agentfleet.mcp import McpConfigError

        if not isinstance(err, McpConfigError | GovernorConfigError):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from agentfleet.cli import commands
    from agentfleet.cli import fleet as commands_fleet
    from agentfleet.cli import reports as commands_report

    settings = Settings.from_env()
    if args.command == "codec-server":
        from agentfleet.payloads.codec_server import DEFAULT_CORS_ORIGINS, codec_server_command

        return codec_server_command(
            args.host, args.port, None, args.cors_origins or DEFAULT_CORS_ORIGINS
        )
    if args.command == "calibrate":
        from agentfleet.cli.calibrate import calibrate

        return calibrate(settings, args.dry_run, args.json)
    if args.command == "trace":
        from agentfleet.telemetry.trace_view import trace_command

        code, out = trace_command(settings.home, args.workflow_id, as_json=args.json)
        print(out, file=sys.stdout if code == 0 else sys.stderr)
        return code
    if args.command == "score":
        return commands.score(args.task, args.json)
    if args.command == "workspace":
        from agentfleet.cli.workspace import workspace_restore

        return workspace_restore(settings, args.name, args.paths, args.run, args.to, args.json)
    if args.command == "deploy" and args.deploy_command == "build-id":
        from agentfleet.cli.deploy import build_id

        return build_id(settings, args.json)
    handlers = {
        "demo": lambda: commands.demo(settings),
        "dev": lambda: commands.dev(settings),
        "server": lambda: commands.server(settings),
        "worker": lambda: commands.worker(settings),
        "run": lambda: commands.run(
            settings,
            args.goal,
            args.wait,
            args.json,
            args.workspace,
            args.model,
            args.workflow_id,
        ),
        "status": lambda: commands.status(settings, args.workflow_id, args.json),
        "fleet": lambda: (
            commands_fleet.fleet_submit(
                settings,
                args.goal,
                args.json,
                task_id=args.task_id,
                priority=args.priority,
                fairness_key=args.fairness_key,
            )
            if args.fleet_command == "submit"
            else commands_fleet.fleet_status(settings, args.json)
        ),
        "report": lambda: commands_report.report(settings, args.week, args.tz, args.json),
        "audit": lambda: commands_report.audit(
            settings, args.week, args.tz, args.json, args.running_limit
        ),
        "schedule": lambda: commands_report.schedule(
            settings, args.show, args.set_time, args.tz, args.json
        ),
    }
    if args.command in ("deploy", "replay"):
        return asyncio.run(_deploy(settings, args))
    return asyncio.run(handlers[args.command]())


async def _deploy(settings: Settings, args: argparse.Namespace) -> int:
    from agentfleet.cli import deploy as cd

    if args.command == "replay":
        return await cd.replay(
            settings, args.query, args.since, args.address, args.namespace, args.limit, args.json
        )
    if args.deploy_command == "status":
        return await cd.status(settings, args.deployment, args.json)
    if args.deploy_command == "drain":
        return await cd.drain(settings, args.build_id, args.to, args.deployment)
    return await cd.ramp(settings, args.build_id, args.percent, args.deployment)


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
