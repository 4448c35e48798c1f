"""delete_file and the workspace's trash.

A delete never destroys anything: the file or folder is renamed into
`.trash/<run>/<its path>`, where `<run>` is the deleting agent's id. A
mistaken model loses nothing, and `agentfleet workspace restore` brings it
back byte for byte (a rename keeps the very inode).

A retried delete is a no-op: the path is gone and this run's trash holds it.
The same path deleted again by the same run (written anew in between) is kept
as a further version, `<path>.~2~`, `<path>.~3~`...
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from agentfleet.sandbox import _io
from agentfleet.sandbox._io import ToolError, os_errors
from agentfleet.sandbox.args import DeleteFileArgs
from agentfleet.sandbox.box import TRASH, SandboxCore, run_key

_VERSION = re.compile(r"^(?P<base>.*)\.~(?P<n>[0-9]+)~$")


def _versions(slot: Path) -> list[Path]:
    """slot, slot.~2~, slot.~3~ ... that exist, oldest first."""
    found = [slot] if os.path.lexists(slot) else []
    n = 2
    while os.path.lexists(v := slot.with_name(f"{slot.name}.~{n}~")):
        found.append(v)
        n += 1
    return found


def held_nothing(trashed: Path) -> bool:
    """Whether a trashed entry was empty: a file with no text, a folder with no file in it."""
    if trashed.is_dir():
        return all(not [f for f in files if f != _WHOLE] for _, _, files in os.walk(trashed))
    size = trashed.stat().st_size
    return size == 0 or (size < 4096 and not trashed.read_bytes().strip())


def trashed_of(root: Path, agent_id: str, rel: str) -> Path | None:
    """The last version of `rel` the run `agent_id` deleted, where the trash keeps it."""
    versions = _versions(Path(root) / TRASH / run_key(agent_id) / rel)
    return versions[-1] if versions else None


class TrashTools(SandboxCore):
    """delete_file: a deleted path goes to the run's trash, so nothing an agent deletes is lost."""

    def _trash_dir(self) -> Path:
        trash = self.trash
        trash.mkdir(exist_ok=True)
        if trash.is_symlink() or not trash.is_dir():
            raise ToolError("the workspace's trash is not a plain folder; ask a person to check it")
        return trash

    def delete_file(self, args: DeleteFileArgs) -> tuple[str, bool]:
        """The delete_file tool: the entry goes to the run's trash.

        A symlink is moved, never its target; a retry finds the entry already there.
        """
        entry = self.resolve_entry(args.path)
        if entry == self.root:
            raise ToolError("cannot delete the workspace root")
        shown = self.display(entry)
        with os_errors("delete", shown):
            slot = self._trash_dir() / self.run_id / entry.relative_to(self.root)
            versions = _versions(slot)
            if not os.path.lexists(entry):
                if versions:
                    _mark_whole(versions[-1])
                    return f"deleted {shown} (already in the trash)", True
                raise ToolError(f"cannot delete {shown}: it does not exist")
            last = versions[-1] if versions else None
            if last is not None and not entry.is_dir() and _io.same_content(entry, last):
                if os.path.samefile(entry, last):
                    # A crash between link and unlink: finish the move.
                    os.unlink(entry)
                    return f"deleted {shown} (moved to the trash)", True
            target = slot if not versions else slot.with_name(f"{slot.name}.~{len(versions) + 1}~")
            target.parent.mkdir(parents=True, exist_ok=True)
            self.rename_noreplace(entry, target)
            _mark_whole(target)
        return f"deleted {shown} (moved to the trash)", False


def _mark_whole(trashed: Path) -> None:
    # A folder deleted as a whole lists as one entry, not as its files; a
    # retry after a crash between the rename and this mark adds it then.
    if trashed.is_dir() and not trashed.is_symlink():
        (trashed / _WHOLE).touch(exist_ok=True)


# --- the person's side: listing and restoring -----------------------------------------


@dataclass(frozen=True)
class TrashEntry:
    """One deleted entry in a workspace's trash, as `agentfleet workspace restore` lists it."""

    run: str
    # The workspace path it was deleted from.
    path: str
    # Where it lies now, relative to the workspace root.
    slot: str
    version: int
    kind: str  # "file", "dir" or "link"
    size: int
    modified: datetime


def _kind(st: os.stat_result) -> str:
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    return "link" if stat.S_ISLNK(st.st_mode) else "file"


def list_trash(workspace: Path, run: str | None = None) -> list[TrashEntry]:
    """What lies in the trash: each deleted file or folder (folders as one entry).

    A folder holding only deleted things is a path's parent, not a deletion,
    unless it is empty (an empty folder deleted as such).
    """
    trash = workspace / TRASH
    out: list[TrashEntry] = []
    if not trash.is_dir() or trash.is_symlink():
        return out
    for run_dir in sorted(trash.iterdir()):
        if run_dir.name.startswith(".") or not run_dir.is_dir() or run_dir.is_symlink():
            continue
        if run is not None and run_dir.name != run:
            continue
        out.extend(_entries(run_dir))
    return out


def _entries(run_dir: Path) -> list[TrashEntry]:
    out: list[TrashEntry] = []
    stack = [run_dir]
    while stack:
        here = stack.pop()
        for child in sorted(here.iterdir()):
            st = child.lstat()
            rel = PurePosixPath(child.relative_to(run_dir).as_posix())
            m = _VERSION.match(rel.name)
            version = int(m.group("n")) if m else 1
            path = str(rel.with_name(m.group("base"))) if m else str(rel)
            is_dir = stat.S_ISDIR(st.st_mode)
            # A folder deleted whole carries the marker; any other folder in the
            # trash is only the parent of what was deleted inside it.
            if is_dir and not (child / _WHOLE).exists():
                stack.append(child)
                continue
            size = _tree_size(child) if is_dir else st.st_size
            out.append(
                TrashEntry(
                    run=run_dir.name,
                    path=path,
                    slot=str(PurePosixPath(TRASH) / run_dir.name / rel),
                    version=version,
                    kind=_kind(st),
                    size=size,
                    modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
                )
            )
    return sorted(out, key=lambda e: (e.path, e.run, e.version))


# Marks a folder that was deleted as a whole (so the listing shows it as one entry).
_WHOLE = ".agentfleet-deleted-folder"


def _tree_size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            if name != _WHOLE:
                total += (Path(dirpath) / name).lstat().st_size
    return total


class RestoreError(Exception):
    """A restore that cannot be done as asked; the message says why."""


def restore(
    workspace: Path, path: str, *, run: str | None = None, to: str | None = None
) -> TrashEntry:
    """Move the newest trashed version of `path` (from `run`, if given) back.

    Refuses to overwrite: an existing file at the destination is named in the
    error, and `to` restores elsewhere.
    """
    want = str(PurePosixPath(path.strip("/")))
    found = [e for e in list_trash(workspace, run) if e.path == want]
    if not found:
        where = f" from run {run}" if run else ""
        raise RestoreError(f"{want} is not in the trash of this workspace{where}")
    entry = max(found, key=lambda e: (e.modified, e.version))
    dest_rel = to or want
    box = SandboxCore(workspace)
    try:
        dest = box.resolve(dest_rel)
    except ValueError as err:
        raise RestoreError(f"--to {dest_rel}: {err}") from None
    if os.path.lexists(dest):
        raise RestoreError(
            f"{box.display(dest)} exists; move it away first or restore elsewhere with --to"
        )
    src = workspace / entry.slot
    dest.parent.mkdir(parents=True, exist_ok=True)
    marker = src / _WHOLE
    if marker.exists():
        marker.unlink()
    os.rename(src, dest)
    # Parents left empty in the trash would list as nothing; drop them.
    run_dir = (workspace / TRASH / entry.run).resolve()
    parent = src.parent
    while parent.resolve().is_relative_to(run_dir):
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent
    return entry
