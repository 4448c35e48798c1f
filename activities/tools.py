"""File tool and workspace activities: the only code that touches workspaces.

Errors are classified here, once. A bad call (unknown tool, invalid input, a
path escaping the sandbox, a missing file) is non-retryable: retrying would
repeat the same mistake, so the workflow should hand it back to the model.
A transient OSError (EIO, EAGAIN...) propagates as is and Temporal retries it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities._beat import short_beating
from agentfleet.contracts.activities import TOOL_ACTIVITY, VERIFY_ACTIVITY, WORKSPACE_ACTIVITY
from agentfleet.contracts.models import (
    WORKSPACE_NAME,
    Effect,
    ToolRequest,
    ToolResult,
    Verification,
    VerifyRequest,
    WorkspaceInfo,
    WorkspaceRequest,
)
from agentfleet.sandbox import (
    Sandbox,
    SandboxViolation,
    ToolArgs,
    ToolError,
    UnknownToolError,
    describe_validation_error,
    parse_tool_input,
)
from agentfleet.telemetry import tool_call


def _fail(message: str, kind: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


def _count_files(root: Path) -> int:
    # Regular files only, symlinks never followed: a link pointing outside the
    # workspace must not make us stat (or count) what lies there.
    count = 0
    stack = [str(root)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    count += 1
    return count


def _journal_key(req: ToolRequest) -> str:
    """What makes an append or edit idempotent: this scheduled call, under all its retries.

    The model's tool-use id alone is not enough: some Anthropic-compatible servers send
    the same id ("call_0") on every turn, and a second edit under a reused id would be
    taken for a retry of the first and silently skipped. The run and the activity id
    are the same for every attempt of one call, and differ between calls.
    """
    try:
        info = activity.info()
    except RuntimeError:  # called outside an activity (tests drive the sandbox directly)
        return req.call_id
    return f"{info.workflow_run_id}/{info.activity_id}/{req.call_id}"


class ToolActivities:
    """The file tools, each confined to its goal's workspace under `workspaces_root`."""

    def __init__(self, workspaces_root: Path) -> None:
        self._root = Path(workspaces_root)

    def _path_of(self, workspace: str) -> Path:
        # fullmatch, not match: `$` would accept a trailing newline.
        if not WORKSPACE_NAME.fullmatch(workspace):
            raise _fail(
                f"invalid workspace name {workspace!r}: use letters, digits, '.', '_', '-'",
                "InvalidWorkspace",
            )
        return self._root / workspace

    @activity.defn(name=TOOL_ACTIVITY)
    async def run_tool(self, req: ToolRequest) -> ToolResult:
        """One file tool call, journaled; a refusal fails it non-retryably, by type.

        One `execute_tool {tool}` span and the tool metrics per attempt; a sandbox refusal
        marks the span ERROR and counts in agentfleet_tool_denied (agentfleet/telemetry/).
        """
        with tool_call(req) as call:
            result = await self._run_tool(req)
            call.result(result)
            return result

    async def _run_tool(self, req: ToolRequest) -> ToolResult:
        workspace = self._path_of(req.workspace)
        try:
            args = parse_tool_input(req.name, req.input)
        except UnknownToolError as e:
            raise _fail(str(e), "UnknownTool") from None
        except ValidationError as e:
            raise _fail(describe_validation_error(req.name, e), "InvalidToolInput") from None

        content, already_done, effects = await short_beating(
            asyncio.to_thread(self._run_sync, workspace, req, args, _journal_key(req))
        )
        activity.logger.info(
            "tool %s in %s: %d chars%s",
            req.name,
            req.workspace,
            len(content),
            " (already done)" if already_done else "",
        )
        return ToolResult(
            call_id=req.call_id,
            name=req.name,
            content=content,
            already_done=already_done,
            effects=effects,
        )

    @staticmethod
    def _run_sync(
        workspace: Path, req: ToolRequest, args: ToolArgs, key: str
    ) -> tuple[str, bool, list[Effect]]:
        if not workspace.is_dir():
            raise _fail(f"workspace {req.workspace!r} does not exist", "WorkspaceMissing")
        try:
            box = Sandbox(workspace, run=req.agent_id, call_id=key)
            content, already_done = box.run(args)
            # A retry that finds its effect in place reports it too: the journal
            # records what this agent's calls did, not which attempt did it.
            return content, already_done, box.effects_of(args)
        except SandboxViolation as e:
            activity.logger.warning("tool %s refused: %s", req.name, e)
            raise _fail(str(e), "SandboxViolation") from None
        except ToolError as e:
            raise _fail(str(e), "ToolError") from None

    @activity.defn(name=WORKSPACE_ACTIVITY)
    async def prepare_workspace(self, req: WorkspaceRequest) -> WorkspaceInfo:
        """Make the goal's workspace (or check that a named one exists) and count its files."""
        path = self._path_of(req.workspace)
        files = await short_beating(asyncio.to_thread(self._prepare_sync, path, req))
        activity.logger.info("workspace %s ready: %d files", req.workspace, files)
        return WorkspaceInfo(workspace=req.workspace, path=str(path.resolve()), files=files)

    def _prepare_sync(self, path: Path, req: WorkspaceRequest) -> int:
        if req.create:
            try:
                path.mkdir(parents=True, exist_ok=True)
            except FileExistsError:
                raise _fail(
                    f"workspace {req.workspace!r} exists but is not a directory", "WorkspaceMissing"
                ) from None
        elif not path.is_dir():
            # The operator reads this one, so saying where we looked is useful.
            raise _fail(
                f"workspace {req.workspace!r} does not exist under "
                f"$AGENTFLEET_HOME/workspaces ({self._root})",
                "WorkspaceMissing",
            )
        return _count_files(path)

    @activity.defn(name=VERIFY_ACTIVITY)
    async def verify(self, req: VerifyRequest) -> Verification:
        """The completion check (agentfleet/verification/) on this worker's workspace."""
        path = self._path_of(req.workspace)
        if not path.is_dir():
            raise _fail(f"workspace {req.workspace!r} does not exist", "WorkspaceMissing")
        result = await asyncio.to_thread(_verify, path, req)
        activity.logger.info(
            "verification of %s: %s (%d paths checked%s)",
            req.agent_id or req.workspace,
            "passed" if result.passed else "FAILED",
            len(result.checked),
            f"; {result.reason}" if not result.passed else "",
        )
        return result


def _verify(path: Path, req: VerifyRequest) -> Verification:
    """The check, its module imported on first use, off the event loop.

    The intent reader compiles several hundred patterns when imported (about 0.5 s of
    CPU here). Imported at start-up, a restarted worker paid that before it polled, and
    every run the dead worker held waited for it (issue #18, bench/chaos_week.py).
    """
    from agentfleet.verification.completion import verify

    return verify(path, req)
