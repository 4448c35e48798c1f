"""The agentfleet worker: every workflow and every activity on one task queue.

Run it with `python worker.py` or `agentfleet worker`. The wiring is
`agentfleet.plugin.AgentFleetPlugin`; the process around it (signals, telemetry,
the graceful drain) is agentfleet/serve.py.
"""

from __future__ import annotations

import gc

if __name__ == "__main__":
    # The worker process: its modules load with the collector off (it spent about an
    # eighth of the imports' CPU collecting, and a restarted worker's runs wait for it
    # to poll: issue #18). serve() turns it back on, tuned, once the worker is built.
    gc.disable()

import asyncio
import sys

from agentfleet.config import Settings
from agentfleet.governance.limits import GovernorConfigError
from agentfleet.logs import setup_logging
from agentfleet.mcp import McpConfigError, hub_for
from agentfleet.plugin import WORKFLOW_HELPERS, WORKFLOWS, build_worker, worker_options
from agentfleet.plugin import run_worker as run

__all__ = ["WORKFLOWS", "WORKFLOW_HELPERS", "build_worker", "main", "run", "worker_options"]


def main() -> None:
    """Run the worker from the environment's settings; a bad setting exits 2, named."""
    setup_logging()
    try:
        settings = Settings.from_env()
        hub_for(settings.home)
    except (McpConfigError, GovernorConfigError, ValueError) as err:
        # A bad setting (AGENTFLEET_SHUTDOWN_GRACE_S=abc), limit or MCP file, named; no traceback.
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
