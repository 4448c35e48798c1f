"""Reading slices, copying, appending, editing and stat-ing files in the sandbox.

append_file and edit_file are not idempotent by nature: run twice, an append
appends twice. Each rewrites the file atomically and first notes, in the run's
call journal under the trash, the hash the file will have once this call has
landed. A retry of the same call (same run, same call id) that finds the file
already at that hash reports the work as done instead of doing it again.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import shutil
import stat
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from agentfleet.atomic import temp_beside
from agentfleet.sandbox import _io
from agentfleet.sandbox._io import (
    COPY_LIMIT,
    EDIT_LIMIT,
    READ_LIMIT,
    SNIFF_BYTES,
    NotRegular,
    TooLarge,
    ToolError,
    os_errors,
)
from agentfleet.sandbox.args import (
    AppendFileArgs,
    CopyFileArgs,
    EditFileArgs,
    ReadFileArgs,
    StatFileArgs,
)
from agentfleet.sandbox.box import SandboxCore

CALLS = ".calls"


def content_type(name: str, head: bytes) -> str:
    """A file's media type, from its first bytes where they are telling, else from its name."""
    for magic, kind in _io.MAGIC:
        if head.startswith(magic):
            return kind
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


def _open_file(path: Path, shown: str, missing: str) -> BinaryIO:
    """Opens a regular file for reading, its last component not followed.

    `missing` is the error when there is none.
    """
    try:
        fd = _io.open_regular(path)
    except NotRegular:
        raise ToolError(f"{shown} is not a regular file") from None
    if fd is None:
        raise ToolError(missing)
    return os.fdopen(fd, "rb")


class FileTools(SandboxCore):
    """The tools that read and change files: read, stat, copy, append and edit."""

    # --- read ---

    def read_file(self, args: ReadFileArgs) -> tuple[str, bool]:
        """The read_file tool: a text file whole, or a slice of lines.

        A whole read is held to READ_LIMIT; a binary file is described, not shown.
        """
        target = self.resolve(args.path)
        shown = self.display(target)
        with os_errors("read", shown):
            if target.is_dir():
                raise ToolError(f"{shown} is a directory; use list_files")
            with _open_file(target, shown, f"file {shown} does not exist") as f:
                size = os.fstat(f.fileno()).st_size
                head = f.read(SNIFF_BYTES)
                if _io.is_binary(head):
                    kind = content_type(target.name, head)
                    return (
                        f"{shown} is a binary file ({kind}, {size} bytes); "
                        "read_file shows text only",
                        False,
                    )
                f.seek(0)
                if args.offset is None and args.limit is None:
                    if size > READ_LIMIT:
                        raise ToolError(
                            f"{shown} is {size} bytes; read_file refuses files over "
                            f"{READ_LIMIT} bytes ({READ_LIMIT // 1024} KiB) at once: "
                            "read it in slices with offset and limit"
                        )
                    return f.read(READ_LIMIT + 1).decode("utf-8", errors="replace"), False
                return self._slice(f, shown, args.offset or 1, args.limit), False

    @staticmethod
    def _slice(f: BinaryIO, shown: str, offset: int, limit: int | None) -> str:
        """Lines offset.. of the file, bounded by `limit` lines and READ_LIMIT bytes."""
        out: list[bytes] = []
        used = 0
        lineno = 0
        last = offset - 1
        more = False
        for raw in f:
            lineno += 1
            if lineno < offset:
                continue
            if (limit is not None and lineno >= offset + limit) or used + len(raw) > READ_LIMIT:
                more = True
                break
            out.append(raw)
            used += len(raw)
            last = lineno
        if lineno < offset:
            raise ToolError(f"offset {offset} is past the end of {shown} ({lineno} lines)")
        text = b"".join(out).decode("utf-8", errors="replace")
        if more:
            # A note only when the slice stops short: the model knows where to go on.
            text += f"\n[lines {offset}-{last} shown; more follow: read on with offset={last + 1}]"
        return text

    def stat_file(self, args: StatFileArgs) -> tuple[str, bool]:
        """The stat_file tool: type, size, content kind and modification time (UTC)."""
        target = self.resolve(args.path)
        shown = self.display(target)
        with os_errors("stat", shown):
            try:
                st = target.stat()
            except FileNotFoundError:
                raise ToolError(f"{shown} does not exist") from None
            lines = [f"path: {shown}"]
            if stat.S_ISDIR(st.st_mode):
                entries = len(self.walk(target, "", recursive=False))
                lines += ["type: directory", f"entries: {entries}"]
            elif stat.S_ISREG(st.st_mode):
                head = b""
                fd = _io.open_regular(target)
                if fd is not None:
                    with os.fdopen(fd, "rb") as f:
                        head = f.read(SNIFF_BYTES)
                kind = "binary" if _io.is_binary(head) else "text"
                lines += [
                    "type: file",
                    f"size: {st.st_size} bytes",
                    f"content: {kind} ({content_type(target.name, head)})",
                ]
            else:
                lines += ["type: other"]
            lines.append(f"modified: {_utc(st.st_mtime)}")
        return "\n".join(lines), False

    # --- copy ---

    def copy_file(self, args: CopyFileArgs) -> tuple[str, bool]:
        """The copy_file tool: one regular file, never over an existing one.

        An identical copy already there is reported as done.
        """
        src, dst = self.resolve(args.src), self.resolve(args.dst)
        s, d = self.display(src), self.display(dst)
        if dst == self.root:
            raise ToolError("cannot copy onto the workspace root")
        with os_errors("copy", f"{s} -> {d}"):
            if src.is_dir():
                raise ToolError(f"{s} is a directory; copy_file copies one file at a time")
            if not os.path.lexists(src):
                raise ToolError(f"cannot copy {s}: it does not exist")
            if src == dst:
                raise ToolError(f"cannot copy {s} onto itself")
            if dst.is_dir():
                raise ToolError(
                    f"destination {d} is an existing directory; give the full new path, "
                    f"e.g. {d}/{src.name}"
                )
            if os.path.lexists(dst):
                if _io.same_content(src, dst):
                    # A retry after the copy landed, or an identical file already there.
                    return f"copied {s} -> {d} (destination already had this content)", True
                raise ToolError(f"refusing to overwrite existing {d}; delete it first")
            with _open_file(src, s, f"cannot copy {s}: it does not exist") as fin:
                st = os.fstat(fin.fileno())
                if st.st_size > COPY_LIMIT:
                    raise ToolError(
                        f"{s} is {st.st_size} bytes; copy_file copies at most {COPY_LIMIT} bytes"
                    )
                self._check_room(dst)
                dst.parent.mkdir(parents=True, exist_ok=True)
                size = self._copy_noreplace(fin, dst, stat.S_IMODE(st.st_mode), d)
        return f"copied {s} -> {d} ({size} bytes)", False

    @staticmethod
    def _copy_noreplace(fin: BinaryIO, dst: Path, mode: int, shown: str) -> int:
        # Written beside dst, then linked into place: a reader never sees half
        # a copy, and a file that appeared at dst meanwhile is never overwritten.
        fd, tmp = temp_beside(dst)
        try:
            with os.fdopen(fd, "wb") as fout:
                os.fchmod(fout.fileno(), mode)
                shutil.copyfileobj(fin, fout, 1 << 20)
                fout.flush()
                os.fsync(fout.fileno())
                size = fout.tell()
            try:
                linked = _io.link_noreplace(Path(tmp), dst)
            except FileExistsError:
                raise ToolError(
                    f"refusing to overwrite {shown}: it appeared during the copy"
                ) from None
            if not linked:
                os.replace(tmp, dst)
        finally:
            with suppress(OSError):
                os.unlink(tmp)
        return size

    # --- append and edit ---

    def _journal(self) -> Path:
        return self.trash / CALLS / f"{self.run_id}.jsonl"

    def _landed(self, target: Path, shown: str) -> bool:
        """Whether this call's rewrite already landed (a retry after a crash).

        A folder is refused, as only a file can be rewritten.
        """
        if target.is_dir():
            raise ToolError(f"{shown} is a directory")
        if not self.call_id:
            return False
        try:
            lines = self._journal().read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return False
        wanted = [
            rec["sha256"]
            for rec in map(json.loads, filter(None, lines))
            if rec.get("call") == self.call_id
        ]
        if not wanted:
            return False
        try:
            data = _io.read_regular(target, EDIT_LIMIT)
        except (TooLarge, NotRegular):
            return False
        return data is not None and hashlib.sha256(data).hexdigest() == wanted[-1]

    def _note_intent(self, data: bytes) -> None:
        if not self.call_id:
            return
        journal = self._journal()
        journal.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"call": self.call_id, "sha256": hashlib.sha256(data).hexdigest()})
        fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def _read_text(self, target: Path, shown: str) -> bytes | None:
        try:
            data = _io.read_regular(target, EDIT_LIMIT)
        except NotRegular:
            raise ToolError(f"{shown} is not a regular file") from None
        except TooLarge as e:
            raise ToolError(
                f"{shown} is {e.size} bytes; append_file and edit_file work on files of at "
                f"most {EDIT_LIMIT} bytes"
            ) from None
        if data is not None and _io.is_binary(data):
            raise ToolError(f"{shown} is a binary file; only text files can be changed this way")
        return data

    def _rewrite(self, target: Path, shown: str, data: bytes) -> None:
        if len(data) > EDIT_LIMIT:
            raise ToolError(
                f"{shown} would grow to {len(data)} bytes; the limit is {EDIT_LIMIT} bytes"
            )
        self._note_intent(data)
        self.keep_original(target)
        self.replace_file(target, data)

    def append_file(self, args: AppendFileArgs) -> tuple[str, bool]:
        """The append_file tool: text added at the end.

        Idempotent under retry by the call journal.
        """
        target = self.resolve(args.path)
        shown = self.display(target)
        add = args.content.encode("utf-8")
        with os_errors("append to", shown):
            if self._landed(target, shown):
                return f"appended {len(add)} bytes to {shown} (already done)", True
            old = self._read_text(target, shown)
            if old is None:
                self._check_room(target)
            new = (old or b"") + add
            self._rewrite(target, shown, new)
        created = " (created it)" if old is None else ""
        return f"appended {len(add)} bytes to {shown}{created}", False

    def edit_file(self, args: EditFileArgs) -> tuple[str, bool]:
        """The edit_file tool: one exact replacement, or all with replace_all.

        Idempotent under retry by the call journal.
        """
        target = self.resolve(args.path)
        shown = self.display(target)
        if args.old_string == args.new_string:
            raise ToolError("old_string and new_string are the same; nothing would change")
        with os_errors("edit", shown):
            if self._landed(target, shown):
                return f"edited {shown} (already done)", True
            data = self._read_text(target, shown)
            if data is None:
                raise ToolError(f"file {shown} does not exist")
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise ToolError(f"{shown} is not UTF-8 text") from None
            n = text.count(args.old_string)
            if n == 0:
                raise ToolError(f"old_string was not found in {shown} (0 occurrences)")
            if n > 1 and not args.replace_all:
                raise ToolError(
                    f"old_string occurs {n} times in {shown}; give more surrounding text so it "
                    "occurs exactly once, or set replace_all to replace all of them"
                )
            new = text.replace(args.old_string, args.new_string).encode("utf-8")
            self._rewrite(target, shown, new)
        return f"edited {shown}: replaced {n} occurrence{'s' if n > 1 else ''}", False
