"""The sandbox: one workspace directory, path resolution, and the first five tools.

Paths are resolved with symlinks followed and must land inside the root; a
symlink is therefore usable only while it points inside the workspace. The
workspace's trash (`.trash/`) is inside the root but out of every tool's
reach: no path resolves into it and no listing or search shows it.

Every tool returns `(content, already_done)`. An activity can re-run after a
worker crash, so each mutating tool first checks whether its effect is already
in place and reports that instead of failing or redoing the work.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path, PurePosixPath

from agentfleet.atomic import atomic_write_bytes
from agentfleet.contracts.models import Effect
from agentfleet.sandbox import _io
from agentfleet.sandbox._io import (
    LIST_LIMIT,
    MAX_FILES,
    READ_LIMIT,
    NotRegular,
    SandboxViolation,
    TooLarge,
    ToolError,
    UnknownToolError,
    os_errors,
    printable,
    shorten,
)
from agentfleet.sandbox.args import (
    CopyFileArgs,
    DeleteFileArgs,
    ListFilesArgs,
    MakeDirArgs,
    MoveFileArgs,
    ToolArgs,
    WriteFileArgs,
)

TRASH = ".trash"
# The first version of each file a run changed, for the completion check: a targeted
# edit must leave the rest of the file as it was (agentfleet/verification/kept.py).
ORIGINALS = ".originals"
NEW_MARK = ".new"
_RUN_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def run_key(agent_id: str) -> str:
    """The trash folder of one agent run: its id, made a safe single name."""
    key = _RUN_UNSAFE.sub("_", agent_id).strip("._")[:120]
    return key or "unknown-run"


def original_of(root: Path, agent_id: str, rel: str) -> Path:
    """Where the sandbox keeps `rel` as it was before the run `agent_id` first changed it."""
    return Path(root) / TRASH / ORIGINALS / run_key(agent_id) / rel


class SandboxCore:
    """One workspace: path resolution confined to `root`, the file cap, and the first five tools.

    `run` names the agent run whose trash a delete goes to; `call_id` keys the journal that makes
    append and edit idempotent under retry.
    """

    def __init__(
        self, root: Path, max_files: int = MAX_FILES, *, run: str = "", call_id: str = ""
    ) -> None:
        self.root = Path(root).resolve()
        self.max_files = max_files
        # Who is calling: deletes go to this run's trash; call_id keys the
        # journal that makes append and edit idempotent under retry.
        self.run_id = run_key(run)
        self.call_id = call_id

    @property
    def trash(self) -> Path:
        """The workspace's trash folder, which no tool can reach."""
        return self.root / TRASH

    def resolve(self, rel: str) -> Path:
        """The real path of a workspace path, symlinks followed.

        Anything outside the root or inside the trash is refused.
        """
        if not isinstance(rel, str) or rel == "":
            raise SandboxViolation("path must be a non-empty relative path")
        shown = shorten(repr(rel))
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
        if full.is_relative_to(self.trash):
            raise SandboxViolation(f"path {shown} is reserved for the workspace's trash")
        return full

    def resolve_entry(self, rel: str) -> Path:
        """The directory entry `rel` names, its last component not followed.

        Deleting a symlink removes the link, never what it points at.
        """
        name = PurePosixPath(rel).name if isinstance(rel, str) else ""
        if name in ("", ".", "..") or rel.endswith("/"):
            return self.resolve(rel)
        self.resolve(rel)  # the same refusals as every other tool
        parent = self.resolve(str(PurePosixPath(rel).parent))
        entry = parent / name
        if entry == self.trash:
            raise SandboxViolation(
                f"path {shorten(repr(rel))} is reserved for the workspace's trash"
            )
        return entry

    def display(self, path: Path) -> str:
        """A path as the tools show it.

        Relative to the root, with unprintable characters escaped.
        """
        rel = path.relative_to(self.root).as_posix()
        return printable(rel if rel != "." else ".")

    def _file_count(self) -> int:
        # The kept originals are the sandbox's own record, one per file a run changed.
        kept = self.trash / ORIGINALS
        return sum(
            len(files) for top, _, files in os.walk(self.root) if not Path(top).is_relative_to(kept)
        )

    def _check_room(self, target: Path) -> None:
        if not os.path.lexists(target) and self._file_count() >= self.max_files:
            # A runaway agent must not fill the disk one small file at a time.
            raise ToolError(f"workspace file limit of {self.max_files} files reached")

    def walk(self, top: Path, prefix: str, *, recursive: bool) -> list[str]:
        """The entries below `top`, named from `prefix`.

        A folder is listed with a trailing '/', unless `recursive` lists the files inside it
        instead.
        """
        # Symlinks are never followed here: a link to a directory is listed as
        # a plain entry, so a link pointing outside cannot expose what's there
        # and a link cycle cannot loop.
        out: list[str] = []
        stack = [(top, prefix)]
        while stack:
            directory, pre = stack.pop()
            with os.scandir(directory) as it:
                for entry in it:
                    if directory == self.root and entry.name == TRASH:
                        continue
                    name = pre + printable(entry.name)
                    if entry.is_dir(follow_symlinks=False):
                        if recursive:
                            stack.append((Path(entry.path), name + "/"))
                        else:
                            out.append(name + "/")
                    else:
                        out.append(name)
        return out

    # --- the first five tools ---

    def list_files(self, args: ListFilesArgs) -> tuple[str, bool]:
        """The list_files tool: sorted entries, capped at LIST_LIMIT."""
        target = self.resolve(args.path)
        shown = self.display(target)
        prefix = "" if target == self.root else shown + "/"
        with os_errors("list", shown):
            if not target.is_dir():
                if os.path.lexists(target):
                    raise ToolError(f"{shown} is not a directory; use read_file")
                raise ToolError(f"directory {shown} does not exist")
            entries = self.walk(target, prefix, recursive=args.recursive)
        if not entries:
            return "(empty)", False
        entries.sort()
        if len(entries) > LIST_LIMIT:
            rest = len(entries) - LIST_LIMIT
            entries = [*entries[:LIST_LIMIT], f"... and {rest} more entries"]
        return "\n".join(entries), False

    def write_file(self, args: WriteFileArgs) -> tuple[str, bool]:
        """The write_file tool: an atomic whole-file write.

        The same content again is reported as already done.
        """
        target = self.resolve(args.path)
        shown = self.display(target)
        data = args.content.encode("utf-8")
        with os_errors("write", shown):
            if target.is_dir():
                raise ToolError(f"{shown} is a directory")
            try:
                existing = _io.read_regular(target, len(data))
            except (TooLarge, NotRegular):
                existing = None
            if existing == data:
                # A retry after a crash: the write already landed. Leaving
                # the file untouched keeps its mtime and inode stable.
                return f"wrote {len(data)} bytes to {shown} (unchanged: already present)", True
            self._check_room(target)
            self.keep_original(target)
            self.replace_file(target, data)
        return f"wrote {len(data)} bytes to {shown}", False

    def move_file(self, args: MoveFileArgs) -> tuple[str, bool]:
        """The move_file tool: never overwrites, and completes a move a crash interrupted."""
        src, dst = self.resolve(args.src), self.resolve(args.dst)
        s, d = self.display(src), self.display(dst)
        if self.root in (src, dst):
            raise ToolError("cannot move the workspace root")
        with os_errors("move", f"{s} -> {d}"):
            src_exists, dst_exists = os.path.lexists(src), os.path.lexists(dst)
            if not src_exists:
                if dst_exists:
                    # The earlier attempt moved it and then the worker died.
                    return f"already moved {s} -> {d}", True
                raise ToolError(f"cannot move {s}: it does not exist (and neither does {d})")
            if src == dst:
                return f"moved {s} -> {d} (same path; nothing to do)", True
            if dst_exists:
                if _io.same_content(src, dst):
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
            self.rename_noreplace(src, dst)
        return f"moved {s} -> {d}", False

    def keep_original(self, target: Path) -> None:
        """Keep a file as it was before this run first changes it (once; a retry keeps it).

        A file the run makes is marked new (`<name>.new`), so its own later edits are
        never taken for the file as it was. Only regular files small enough to edit
        are kept: the check reads them whole.
        """
        keep = original_of(self.root, self.run_id, self.display(target))
        made = keep.with_name(keep.name + NEW_MARK)
        if os.path.lexists(keep) or os.path.lexists(made):
            return
        try:
            st = target.lstat()
        except FileNotFoundError:
            keep.parent.mkdir(parents=True, exist_ok=True)
            made.touch()
            return
        if stat.S_ISREG(st.st_mode) and st.st_size <= _io.EDIT_LIMIT:
            keep.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(keep, target.read_bytes(), mode=0o600)

    @staticmethod
    def replace_file(target: Path, data: bytes) -> None:
        """Writes a whole file atomically, keeping the mode of the one it replaces."""
        mode = _io.existing_mode(target) or 0o644
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data, mode=mode)

    @staticmethod
    def rename_noreplace(src: Path, dst: Path) -> None:
        """Renames without ever replacing a `dst` that appeared meanwhile (link, then unlink)."""
        # Another agent sharing the workspace may create dst after our check.
        # link() fails with EEXIST instead of overwriting, which rename()
        # would silently do; a crash between link and unlink leaves two names
        # for one inode, which a retry recognises and completes.
        if not src.is_dir() or src.is_symlink():
            try:
                linked = _io.link_noreplace(src, dst)
            except FileExistsError:
                raise ToolError(
                    f"refusing to overwrite {dst.name}: it appeared during the move"
                ) from None
            if linked:
                os.unlink(src)
                return
        os.rename(src, dst)

    def make_dir(self, args: MakeDirArgs) -> tuple[str, bool]:
        """The make_dir tool: a folder and its parents; an existing folder is already done."""
        target = self.resolve(args.path)
        shown = self.display(target)
        with os_errors("create", shown):
            if target.is_dir():
                return f"created {shown} (already existed)", True
            if os.path.lexists(target):
                raise ToolError(f"cannot create {shown}: a file with that name exists")
            target.mkdir(parents=True, exist_ok=True)
        return f"created {shown}", False

    # --- journal ---

    def effects_of(self, args: ToolArgs) -> list[Effect]:
        """What a successful call did, by path: the agent's tool journal entry.

        Computed from the validated arguments, with paths normalised the way
        the workspace shows them, so `./a//b.txt` and `a/b.txt` are one path.
        """
        if not args.effect:
            return []
        if isinstance(args, DeleteFileArgs):
            return [Effect(op=args.effect, path=self.display(self.resolve_entry(args.path)))]
        if isinstance(args, MoveFileArgs | CopyFileArgs):
            return [Effect(op=args.effect, path=self._rel(args.dst), src=self._rel(args.src))]
        # Every other tool's arguments name the one path it acts on.
        path: str = getattr(args, "path")  # noqa: B009 - not on ToolArgs itself
        return [Effect(op=args.effect, path=self._rel(path))]

    def _rel(self, path: str) -> str:
        return self.display(self.resolve(path))

    def unknown(self, args: ToolArgs) -> UnknownToolError:
        """The error for arguments no tool of this sandbox takes."""
        return UnknownToolError(f"no tool takes {type(args).__name__}")


__all__ = ["READ_LIMIT", "TRASH", "SandboxCore", "run_key"]
