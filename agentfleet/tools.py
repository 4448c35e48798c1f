"""File tools an agent may call, confined to one workspace directory.

Pure domain code: no Temporal imports and no I/O at import time, so workflows
may import `TOOL_SPECS`. The activity in `activities/tools.py` maps the
exceptions raised here onto Temporal error types.

Every tool returns `(content, already_done)`. An activity can re-run after a
worker crash, so each mutating tool first checks whether its effect is already
in place and reports that instead of failing or redoing the work.

Messages shown to the model name paths relative to the workspace and never the
absolute root, so an agent learns nothing about the host's layout.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentfleet.models import Effect, ToolSpec

READ_LIMIT = 256 * 1024
WRITE_LIMIT = 1024 * 1024
# Listings go into the model's context and a Temporal payload (2 MB cap), so a
# huge tree is cut off with a note rather than failing the call.
LIST_LIMIT = 5000

# Errors worth retrying: the same call may succeed once the disk, NFS server or
# descriptor table recovers. Anything else (ENOENT, EISDIR, EACCES...) is the
# agent's mistake and retrying would only repeat it.
TRANSIENT_ERRNOS = frozenset(
    {
        errno.EIO,
        errno.EAGAIN,
        errno.EWOULDBLOCK,
        errno.EINTR,
        errno.EBUSY,
        errno.ETIMEDOUT,
        errno.ESTALE,
        errno.ENFILE,
        errno.EMFILE,
        errno.ENOMEM,
        errno.ENOSPC,
        errno.EDQUOT,
    }
)
# os.link is not supported everywhere; these mean "use rename instead".
_NO_HARDLINK_ERRNOS = frozenset(
    {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS, errno.EXDEV}
)


MAX_FILES = 10_000


class SandboxViolation(ValueError):
    """The path would reach outside the workspace, or is malformed."""


class ToolError(Exception):
    """The call is well-formed but cannot succeed as asked; retrying won't help."""


class UnknownToolError(LookupError):
    """No tool of that name exists."""


# --- argument models -------------------------------------------------------------


class ToolArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListFilesArgs(ToolArgs):
    path: str = Field(default=".", description="Directory relative to the workspace root.")
    recursive: bool = Field(
        default=False, description="List every file below `path` (files only, no directories)."
    )


class ReadFileArgs(ToolArgs):
    path: str = Field(description="File relative to the workspace root.")


class WriteFileArgs(ToolArgs):
    path: str = Field(description="File relative to the workspace root; parents are created.")
    content: str = Field(description="Full new content (UTF-8 text, at most 1 MiB).")

    @field_validator("content")
    @classmethod
    def _content_size(cls, v: str) -> str:
        try:
            size = len(v.encode("utf-8"))
        except UnicodeEncodeError:
            raise ValueError("content is not valid Unicode text") from None
        if size > WRITE_LIMIT:
            raise ValueError(f"content is {size} bytes; the limit is {WRITE_LIMIT} bytes (1 MiB)")
        return v


class MoveFileArgs(ToolArgs):
    src: str = Field(description="Existing file or directory, relative to the workspace root.")
    dst: str = Field(description="Full destination path; must not exist yet.")


class MakeDirArgs(ToolArgs):
    path: str = Field(description="Directory relative to the workspace root; parents are created.")


_TOOLS: dict[str, tuple[type[ToolArgs], str]] = {
    "list_files": (
        ListFilesArgs,
        "List a workspace directory. One path per line, sorted, relative to the workspace "
        "root; directories end with '/'. With recursive=true, lists all files below it.",
    ),
    "read_file": (
        ReadFileArgs,
        f"Read a UTF-8 text file from the workspace (at most {READ_LIMIT // 1024} KiB).",
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
}

TOOL_NAMES: tuple[str, ...] = tuple(_TOOLS)


def _strip_titles(schema: Any) -> Any:
    # Pydantic's auto titles ("Path", "ListFilesArgs") are noise in a prompt.
    if isinstance(schema, dict):
        return {k: _strip_titles(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


TOOL_SPECS: list[ToolSpec] = [
    ToolSpec(name=name, description=desc, input_schema=_strip_titles(model.model_json_schema()))
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


# --- helpers ---------------------------------------------------------------------


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _printable(text: str) -> str:
    # Undecodable file names arrive as lone surrogates, which cannot be
    # serialized into a payload; show them as U+FFFD instead.
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@contextmanager
def _os_errors(action: str, shown: str) -> Iterator[None]:
    """Turn OSError into ToolError or a retryable OSError without the abs path.

    An OSError's str() carries the absolute filename; dropping it keeps the
    host layout out of messages the model (or history) will see.
    """
    try:
        yield
    except OSError as e:
        reason = os.strerror(e.errno) if e.errno else type(e).__name__
        if e.errno in TRANSIENT_ERRNOS:
            raise OSError(e.errno, f"cannot {action} {shown}: {reason}") from None
        raise ToolError(f"cannot {action} {shown}: {reason}") from None


def _open_nofollow(path: Path) -> int:
    # O_NOFOLLOW: the path was resolved already, so a symlink here means one
    # was swapped in since; refuse it. O_NONBLOCK: opening a FIFO must not hang.
    return os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class _NotRegular(Exception):
    pass


def _read_regular(path: Path, limit: int) -> bytes | None:
    """Bytes of a regular file no larger than limit; None if it doesn't exist."""
    try:
        fd = _open_nofollow(path)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise _NotRegular()
        if st.st_size > limit:
            raise _TooLarge(st.st_size)
        return f.read(limit + 1)


def _existing_mode(path: Path) -> int | None:
    # Rewriting a file should not silently change its permissions.
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None


def _same_content(a: Path, b: Path) -> bool:
    sa, sb = a.lstat(), b.lstat()
    if (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino):
        return True
    if not (stat.S_ISREG(sa.st_mode) and stat.S_ISREG(sb.st_mode)) or sa.st_size != sb.st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            ca, cb = fa.read(1 << 16), fb.read(1 << 16)
            if ca != cb:
                return False
            if not ca:
                return True


# --- the sandbox -----------------------------------------------------------------


class Sandbox:
    """A workspace directory and the tools that operate inside it.

    Paths are resolved with symlinks followed and must land inside the root.
    A symlink is therefore usable only while it points inside the workspace.
    """

    def __init__(self, root: Path, max_files: int = MAX_FILES) -> None:
        self.root = Path(root).resolve()
        self.max_files = max_files

    def resolve(self, rel: str) -> Path:
        if not isinstance(rel, str) or rel == "":
            raise SandboxViolation("path must be a non-empty relative path")
        shown = _shorten(repr(rel))
        if "\x00" in rel:
            raise SandboxViolation(f"path {shown} contains a NUL byte")
        if PurePosixPath(rel).is_absolute():
            raise SandboxViolation(
                f"absolute path {shown} is not allowed; use a path relative to the workspace"
            )
        try:
            full = (self.root / rel).resolve(strict=False)
        except (RuntimeError, OSError):
            # RuntimeError is 3.11's signal for a symlink loop.
            raise SandboxViolation(f"path {shown} cannot be resolved (symlink loop?)") from None
        if not full.is_relative_to(self.root):
            raise SandboxViolation(f"path {shown} is outside the workspace")
        return full

    def display(self, path: Path) -> str:
        rel = path.relative_to(self.root).as_posix()
        return _printable(rel if rel != "." else ".")

    def run(self, args: ToolArgs) -> tuple[str, bool]:
        if isinstance(args, ListFilesArgs):
            return self.list_files(args)
        if isinstance(args, ReadFileArgs):
            return self.read_file(args)
        if isinstance(args, WriteFileArgs):
            return self.write_file(args)
        if isinstance(args, MoveFileArgs):
            return self.move_file(args)
        if isinstance(args, MakeDirArgs):
            return self.make_dir(args)
        raise UnknownToolError(f"no tool takes {type(args).__name__}")

    def effects_of(self, args: ToolArgs) -> list[Effect]:
        """What a successful call did, by path: the agent's tool journal entry.

        Computed from the validated arguments, with paths normalised the way
        the workspace shows them, so `./a//b.txt` and `a/b.txt` are one path.
        """

        def rel(path: str) -> str:
            return self.display(self.resolve(path))

        if isinstance(args, ListFilesArgs):
            return [Effect(op="list", path=rel(args.path))]
        if isinstance(args, ReadFileArgs):
            return [Effect(op="read", path=rel(args.path))]
        if isinstance(args, WriteFileArgs):
            return [Effect(op="write", path=rel(args.path))]
        if isinstance(args, MoveFileArgs):
            return [Effect(op="move", path=rel(args.dst), src=rel(args.src))]
        if isinstance(args, MakeDirArgs):
            return [Effect(op="mkdir", path=rel(args.path))]
        return []

    # --- tools ---

    def list_files(self, args: ListFilesArgs) -> tuple[str, bool]:
        target = self.resolve(args.path)
        shown = self.display(target)
        prefix = "" if target == self.root else shown + "/"
        with _os_errors("list", shown):
            if not target.is_dir():
                if os.path.lexists(target):
                    raise ToolError(f"{shown} is not a directory; use read_file")
                raise ToolError(f"directory {shown} does not exist")
            entries = self._walk(target, prefix, args.recursive)
        if not entries:
            return "(empty)", False
        entries.sort()
        if len(entries) > LIST_LIMIT:
            rest = len(entries) - LIST_LIMIT
            entries = [*entries[:LIST_LIMIT], f"... and {rest} more entries"]
        return "\n".join(entries), False

    def _walk(self, top: Path, prefix: str, recursive: bool) -> list[str]:
        # Symlinks are never followed here: a link to a directory is listed as
        # a plain entry, so a link pointing outside cannot expose what's there
        # and a link cycle cannot loop.
        out: list[str] = []
        stack = [(top, prefix)]
        while stack:
            directory, pre = stack.pop()
            with os.scandir(directory) as it:
                for entry in it:
                    name = pre + _printable(entry.name)
                    if entry.is_dir(follow_symlinks=False):
                        if recursive:
                            stack.append((Path(entry.path), name + "/"))
                        else:
                            out.append(name + "/")
                    else:
                        out.append(name)
        return out

    def read_file(self, args: ReadFileArgs) -> tuple[str, bool]:
        target = self.resolve(args.path)
        shown = self.display(target)
        with _os_errors("read", shown):
            if target.is_dir():
                raise ToolError(f"{shown} is a directory; use list_files")
            try:
                data = _read_regular(target, READ_LIMIT)
            except _NotRegular:
                raise ToolError(f"{shown} is not a regular file") from None
            except _TooLarge as e:
                raise ToolError(
                    f"{shown} is {e.size} bytes; read_file refuses files over "
                    f"{READ_LIMIT} bytes ({READ_LIMIT // 1024} KiB)"
                ) from None
        if data is None:
            raise ToolError(f"file {shown} does not exist")
        return data.decode("utf-8", errors="replace"), False

    def write_file(self, args: WriteFileArgs) -> tuple[str, bool]:
        target = self.resolve(args.path)
        shown = self.display(target)
        data = args.content.encode("utf-8")
        with _os_errors("write", shown):
            if target.is_dir():
                raise ToolError(f"{shown} is a directory")
            try:
                existing = _read_regular(target, len(data))
            except (_TooLarge, _NotRegular):
                existing = None
            if existing == data:
                # A retry after a crash: the write already landed. Leaving
                # the file untouched keeps its mtime and inode stable.
                return f"wrote {len(data)} bytes to {shown} (unchanged: already present)", True
            if not target.exists() and self._file_count() >= self.max_files:
                # A runaway agent must not fill the disk one small file at a time.
                raise ToolError(f"workspace file limit of {self.max_files} files reached")
            mode = _existing_mode(target) or 0o644
            target.parent.mkdir(parents=True, exist_ok=True)
            self._atomic_write(target, data, mode)
        return f"wrote {len(data)} bytes to {shown}", False

    def _file_count(self) -> int:
        return sum(len(files) for _, _, files in os.walk(self.root))

    @staticmethod
    def _atomic_write(target: Path, data: bytes, mode: int) -> None:
        # mkstemp opens with O_EXCL, which never follows a symlink; and
        # os.replace swaps the directory entry, so even a symlink planted at
        # `target` since resolve() is replaced rather than written through.
        # The prefix is cut by bytes, not characters: 64 emoji are 256 bytes,
        # past the 255-byte name limit, even though the real name fits.
        stem = os.fsdecode(os.fsencode(target.name)[:64])
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), mode)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise

    def move_file(self, args: MoveFileArgs) -> tuple[str, bool]:
        src, dst = self.resolve(args.src), self.resolve(args.dst)
        s, d = self.display(src), self.display(dst)
        if self.root in (src, dst):
            raise ToolError("cannot move the workspace root")
        with _os_errors("move", f"{s} -> {d}"):
            src_exists, dst_exists = os.path.lexists(src), os.path.lexists(dst)
            if not src_exists:
                if dst_exists:
                    # The earlier attempt moved it and then the worker died.
                    return f"already moved {s} -> {d}", True
                raise ToolError(f"cannot move {s}: it does not exist (and neither does {d})")
            if src == dst:
                return f"moved {s} -> {d} (same path; nothing to do)", True
            if dst_exists:
                if _same_content(src, dst):
                    # Either a crash between link and unlink below, or dst was
                    # already an identical copy: finishing the move loses nothing.
                    os.unlink(src)
                    return f"moved {s} -> {d} (destination already had this content)", True
                if dst.is_dir():
                    raise ToolError(
                        f"destination {d} is an existing directory; give the full new path, "
                        f"e.g. {d}/{src.name}"
                    )
                raise ToolError(f"refusing to overwrite existing {d}; move or remove it first")
            if dst.is_relative_to(src):
                raise ToolError(f"cannot move {s} into itself")
            dst.parent.mkdir(parents=True, exist_ok=True)
            self._rename_noreplace(src, dst)
        return f"moved {s} -> {d}", False

    @staticmethod
    def _rename_noreplace(src: Path, dst: Path) -> None:
        # Another agent sharing the workspace may create dst after our check.
        # link() fails with EEXIST instead of overwriting, which rename()
        # would silently do; a crash between link and unlink leaves two names
        # for one inode, which a retry recognises and completes.
        if not src.is_dir():
            try:
                os.link(src, dst, follow_symlinks=False)
            except FileExistsError:
                raise ToolError(
                    f"refusing to overwrite {dst.name}: it appeared during the move"
                ) from None
            except OSError as e:
                if e.errno not in _NO_HARDLINK_ERRNOS:
                    raise
            else:
                os.unlink(src)
                return
        os.rename(src, dst)

    def make_dir(self, args: MakeDirArgs) -> tuple[str, bool]:
        target = self.resolve(args.path)
        shown = self.display(target)
        with _os_errors("create", shown):
            if target.is_dir():
                return f"created {shown} (already existed)", True
            if os.path.lexists(target):
                raise ToolError(f"cannot create {shown}: a file with that name exists")
            target.mkdir(parents=True, exist_ok=True)
        return f"created {shown}", False
