"""Long-lived workflows move to a new build at continue-as-new.

Workers run PINNED by default (agentfleet/deploy/versioning.py): a run stays on the
build it started on. That is right for masters and sub-agents, which end; a
workflow that runs for months (FleetWorkflow, a governor) would hold its old
build alive, and every master it starts would inherit that build. So such a
workflow asks, at each turn of its loop, whether Temporal has made another
version current (the flag is recorded in history, so this replays), and if so
continues-as-new onto it. Adding a workflow to this scheme is one call in its
loop's continue-as-new condition, plus `continue_as_new_upgrading` there:

    if workflow.info().is_continue_as_new_suggested() or newer_build_current():
        continue_as_new_upgrading(self._carry())

Unversioned workers never see the flag set, and the server accepts the
upgrade request from them, so the same code runs with versioning off.
"""

from __future__ import annotations

from typing import Any, NoReturn

from temporalio import workflow


def newer_build_current() -> bool:
    """True once another version than this run's is current for its deployment."""
    return workflow.info().is_target_worker_deployment_version_changed()


def continue_as_new_upgrading(arg: Any) -> NoReturn:
    """Continue-as-new; the new run starts on the deployment's current version."""
    workflow.continue_as_new(
        arg,
        initial_versioning_behavior=workflow.ContinueAsNewVersioningBehavior.AUTO_UPGRADE,
    )
