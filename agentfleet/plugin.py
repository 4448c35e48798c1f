"""What a user adds to their own worker to run agentfleet on it.

RESTRUCTURE-PENDING (issue #14): a stand-in that re-exports the worker wiring while the
real `AgentFleetPlugin` is built; the names below are the interface the CLI codes against.
"""

from __future__ import annotations

from worker import WORKFLOW_HELPERS, WORKFLOWS, build_worker, worker_options
from worker import run as run_worker

__all__ = ["WORKFLOWS", "WORKFLOW_HELPERS", "build_worker", "run_worker", "worker_options"]
