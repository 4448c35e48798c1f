"""The file tools' arguments and the specs offered to the model.

Pure domain code: no Temporal imports and no I/O at import time, so workflows
may import `TOOL_SPECS`. The names and arguments are a contract the simulator,
the bench and recorded histories rely on: add, never rename.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentfleet.contracts.models import ToolSpec
from agentfleet.jsontree import without_key
from agentfleet.sandbox._io import READ_LIMIT, WRITE_LIMIT, UnknownToolError

SEARCH_PATTERN_LIMIT = 500
MAX_READ_LINES = 20_000


def _text_size(v: str, field: str) -> str:
    try:
        size = len(v.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(f"{field} is not valid Unicode text") from None
    if size > WRITE_LIMIT:
        raise ValueError(f"{field} is {size} bytes; the limit is {WRITE_LIMIT} bytes (1 MiB)")
    return v


class ToolArgs(BaseModel):
    """The validated arguments of one tool call; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")
    # The op a successful call writes to the tool journal (`Effect.op`); "" records none.
    effect: ClassVar[str] = ""


class ListFilesArgs(ToolArgs):
    """list_files: the entries of a folder, or every file below it."""

    effect = "list"
    path: str = Field(default=".", description="Directory relative to the workspace root.")
    recursive: bool = Field(
        default=False, description="List every file below `path` (files only, no directories)."
    )


class ReadFileArgs(ToolArgs):
    """read_file: a text file, whole or as a slice of lines."""

    effect = "read"
    path: str = Field(description="File relative to the workspace root.")
    offset: int | None = Field(
        default=None, ge=1, description="First line to read (1-based); default: the first."
    )
    limit: int | None = Field(
        default=None,
        ge=1,
        le=MAX_READ_LINES,
        description="How many lines to read; default: to the end (within the size limit).",
    )


class SearchFilesArgs(ToolArgs):
    """search_files: paths by glob, lines by regular expression, or both."""

    effect = "list"
    path: str = Field(default=".", description="Directory to search below.")
    glob: str | None = Field(
        default=None,
        max_length=300,
        description="Only paths matching this glob, e.g. '*.py' or 'src/**/*.md'.",
    )
    pattern: str | None = Field(
        default=None,
        max_length=SEARCH_PATTERN_LIMIT,
        description="Regular expression searched in file contents, line by line.",
    )

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            re.compile(v)
        except re.error as err:
            raise ValueError(f"not a valid regular expression: {err}") from None
        return v


class StatFileArgs(ToolArgs):
    """stat_file: what a path is, how big, and when it changed."""

    effect = "read"
    path: str = Field(description="File or directory relative to the workspace root.")


class _ContentArgs(ToolArgs):
    """Arguments that carry a file's text in `content`, held to WRITE_LIMIT."""

    @field_validator("content", check_fields=False)
    @classmethod
    def _content_size(cls, v: str) -> str:
        return _text_size(v, "content")


class WriteFileArgs(_ContentArgs):
    """write_file: a file's whole new content."""

    effect = "write"
    path: str = Field(description="File relative to the workspace root; parents are created.")
    content: str = Field(description="Full new content (UTF-8 text, at most 1 MiB).")


class AppendFileArgs(_ContentArgs):
    """append_file: text added at the end of a file."""

    effect = "append"
    path: str = Field(description="File to append to; created if missing.")
    content: str = Field(description="Text added at the end, as is (add a newline yourself).")


class EditFileArgs(ToolArgs):
    """edit_file: an exact text replaced, once or everywhere."""

    effect = "edit"
    path: str = Field(description="Existing text file relative to the workspace root.")
    old_string: str = Field(min_length=1, description="Exact text to replace.")
    new_string: str = Field(description="Text to put in its place.")
    replace_all: bool = Field(
        default=False, description="Replace every occurrence instead of exactly one."
    )

    @field_validator("old_string", "new_string")
    @classmethod
    def _size(cls, v: str, info: Any) -> str:
        return _text_size(v, info.field_name)


class MakeDirArgs(ToolArgs):
    """make_dir: a folder, with its parents."""

    effect = "mkdir"
    path: str = Field(description="Directory relative to the workspace root; parents are created.")


class _TransferArgs(ToolArgs):
    """An existing path and the new one it goes to: what moving and copying both take.

    What `src` may be (a file, or also a folder) is the tool description's to say.
    """

    src: str = Field(description="The existing path, relative to the workspace root.")
    dst: str = Field(description="Full destination path; must not exist yet.")


class MoveFileArgs(_TransferArgs):
    """move_file: a file or folder to a new path that does not exist yet."""

    effect = "move"


class CopyFileArgs(_TransferArgs):
    """copy_file: one file to a new path that does not exist yet."""

    effect = "copy"


class DeleteFileArgs(ToolArgs):
    """delete_file: a file or folder, moved to the run's trash so a person can restore it."""

    effect = "delete"
    path: str = Field(description="File or directory to delete (it goes to the trash).")


_TOOLS: dict[str, tuple[type[ToolArgs], str]] = {
    "list_files": (
        ListFilesArgs,
        "List a workspace directory. One path per line, sorted, relative to the workspace "
        "root; directories end with '/'. With recursive=true, lists all files below it.",
    ),
    "read_file": (
        ReadFileArgs,
        f"Read a UTF-8 text file from the workspace (at most {READ_LIMIT // 1024} KiB at once). "
        "offset and limit read a slice in lines. A binary file gives its size and type.",
    ),
    "write_file": (
        WriteFileArgs,
        "Create or replace a file in the workspace with the given content. "
        "Parent directories are created.",
    ),
    "move_file": (
        MoveFileArgs,
        "Move or rename a file or directory inside the workspace. "
        "Refuses to overwrite an existing destination.",
    ),
    "make_dir": (
        MakeDirArgs,
        "Create a directory (and its parents) in the workspace. Succeeds if it exists.",
    ),
    "delete_file": (
        DeleteFileArgs,
        "Delete a file or a directory with everything in it. It is moved to the "
        "workspace's trash, from which a person can restore it.",
    ),
    "copy_file": (
        CopyFileArgs,
        "Copy a file (text or binary) to a new path; parents are created. "
        "Refuses to overwrite an existing destination.",
    ),
    "append_file": (
        AppendFileArgs,
        "Add text at the end of a file, creating it if missing.",
    ),
    "edit_file": (
        EditFileArgs,
        "Replace exact text in a file. Fails, saying how often old_string occurs, unless it "
        "occurs exactly once; set replace_all to replace every occurrence.",
    ),
    "search_files": (
        SearchFilesArgs,
        "Search below a directory: glob filters paths, pattern (a regular expression) "
        "finds lines in file contents, given as 'file:line: text'. Without a pattern, lists "
        "the matching paths. Results are bounded.",
    ),
    "stat_file": (
        StatFileArgs,
        "Show a path's type, size and modified time (UTC).",
    ),
}

TOOL_NAMES: tuple[str, ...] = tuple(_TOOLS)


# Pydantic's auto titles ("Path", "ListFilesArgs") are noise in a prompt.
TOOL_SPECS: list[ToolSpec] = [
    ToolSpec(
        name=name, description=desc, input_schema=without_key(model.model_json_schema(), "title")
    )
    for name, (model, desc) in _TOOLS.items()
]


DELEGATE_TOOL = ToolSpec(
    name="delegate",
    description=(
        "Hand independent parts of your task to sub-agents that run in parallel. "
        "Use only for large tasks; each sub-agent reports back as text."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "tasks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                    },
                    "required": ["title", "description"],
                },
                "maxItems": 8,
            }
        },
        "required": ["tasks"],
    },
)

# Every tool an agent can be offered, by name: requests name them instead of
# carrying ~2 KB of JSON schemas through history on every turn.
TOOLS_BY_NAME: dict[str, ToolSpec] = {t.name: t for t in [*TOOL_SPECS, DELEGATE_TOOL]}


def parse_tool_input(name: str, raw: Mapping[str, Any]) -> ToolArgs:
    """Validate a tool call's input; raises UnknownToolError or ValidationError."""
    entry = _TOOLS.get(name)
    if entry is None:
        raise UnknownToolError(f"unknown tool {name!r}; available: {', '.join(TOOL_NAMES)}")
    return entry[0].model_validate(dict(raw))


def describe_validation_error(name: str, exc: ValidationError) -> str:
    """One line naming each bad field, phrased for the model to fix its call."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"]) or "input"
        parts.append(f"{field}: {err['msg']}")
    return f"invalid input for {name}: " + "; ".join(parts)
