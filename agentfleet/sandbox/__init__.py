"""File tools an agent may call, confined to one workspace directory.

Pure domain code: no Temporal imports and no I/O at import time, so workflows
may import `TOOL_SPECS`. The activity in `activities/tools.py` maps the
exceptions raised here onto Temporal error types. Modules by concern:
`_io` (limits, safe opens, atomic writes), `args` (arguments and specs),
`box` (paths, the trash boundary, the first five tools), `files` (read
slices, stat, copy, append, edit), `trash` (delete, restore), `search`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentfleet.sandbox._io import (
    COPY_LIMIT,
    EDIT_LIMIT,
    LIST_LIMIT,
    MAX_FILES,
    READ_LIMIT,
    TRANSIENT_ERRNOS,
    WRITE_LIMIT,
    SandboxViolation,
    ToolError,
    UnknownToolError,
)
from agentfleet.sandbox.args import (
    DELEGATE_TOOL,
    TOOL_NAMES,
    TOOL_SPECS,
    TOOLS_BY_NAME,
    AppendFileArgs,
    CopyFileArgs,
    DeleteFileArgs,
    EditFileArgs,
    ListFilesArgs,
    MakeDirArgs,
    MoveFileArgs,
    ReadFileArgs,
    SearchFilesArgs,
    StatFileArgs,
    ToolArgs,
    WriteFileArgs,
    describe_validation_error,
    parse_tool_input,
)
from agentfleet.sandbox.box import TRASH, run_key
from agentfleet.sandbox.files import FileTools
from agentfleet.sandbox.search import SearchTools
from agentfleet.sandbox.trash import RestoreError, TrashEntry, TrashTools, list_trash, restore


class Sandbox(FileTools, TrashTools, SearchTools):
    """A workspace directory and every file tool that operates inside it."""

    def run(self, args: ToolArgs) -> tuple[str, bool]:
        """Runs the tool the validated arguments belong to; `(content, already_done)`."""
        handler = _HANDLERS.get(type(args))
        if handler is None:
            raise self.unknown(args)
        return handler(self, args)


_HANDLERS: dict[type[ToolArgs], Callable[[Sandbox, Any], tuple[str, bool]]] = {
    ListFilesArgs: Sandbox.list_files,
    ReadFileArgs: Sandbox.read_file,
    WriteFileArgs: Sandbox.write_file,
    MoveFileArgs: Sandbox.move_file,
    MakeDirArgs: Sandbox.make_dir,
    DeleteFileArgs: Sandbox.delete_file,
    CopyFileArgs: Sandbox.copy_file,
    AppendFileArgs: Sandbox.append_file,
    EditFileArgs: Sandbox.edit_file,
    SearchFilesArgs: Sandbox.search_files,
    StatFileArgs: Sandbox.stat_file,
}

__all__ = [
    "COPY_LIMIT",
    "DELEGATE_TOOL",
    "EDIT_LIMIT",
    "LIST_LIMIT",
    "MAX_FILES",
    "READ_LIMIT",
    "TOOLS_BY_NAME",
    "TOOL_NAMES",
    "TOOL_SPECS",
    "TRANSIENT_ERRNOS",
    "TRASH",
    "WRITE_LIMIT",
    "AppendFileArgs",
    "CopyFileArgs",
    "DeleteFileArgs",
    "EditFileArgs",
    "ListFilesArgs",
    "MakeDirArgs",
    "MoveFileArgs",
    "ReadFileArgs",
    "RestoreError",
    "Sandbox",
    "SandboxViolation",
    "SearchFilesArgs",
    "StatFileArgs",
    "ToolArgs",
    "ToolError",
    "TrashEntry",
    "UnknownToolError",
    "WriteFileArgs",
    "describe_validation_error",
    "list_trash",
    "parse_tool_input",
    "restore",
    "run_key",
]
