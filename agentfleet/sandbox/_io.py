"""Low-level file helpers of the sandbox: limits, error mapping, safe opens.

Messages built here name paths relative to the workspace, never the absolute
root: an OSError's str() carries the absolute filename, so it is rebuilt from
its errno instead.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

READ_LIMIT = 256 * 1024
WRITE_LIMIT = 1024 * 1024
# append_file and edit_file rewrite the whole file atomically: bounded, so a
# runaway loop of appends cannot grow one file without end.
EDIT_LIMIT = 4 * 1024 * 1024
# copy_file never passes through the model, so it may move more than a write.
COPY_LIMIT = 64 * 1024 * 1024
# Listings go into the model's context and a Temporal payload (2 MB cap), so a
# huge tree is cut off with a note rather than failing the call.
LIST_LIMIT = 5000
MAX_FILES = 10_000

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
NO_HARDLINK_ERRNOS = frozenset(
    {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS, errno.EXDEV}
)
# The first block decides whether a file is binary (see is_binary).
SNIFF_BYTES = 8192
# Signatures of the common binary kinds: binary whatever else the bytes hold.
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"%PDF", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"\x7fELF", "application/x-executable"),
    (b"SQLite format 3\x00", "application/vnd.sqlite3"),
)


class SandboxViolation(ValueError):
    """The path would reach outside the workspace, or is malformed."""


class ToolError(Exception):
    """The call is well-formed but cannot succeed as asked; retrying won't help."""


class UnknownToolError(LookupError):
    """No tool of that name exists."""


def shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def printable(text: str) -> str:
    # Undecodable file names arrive as lone surrogates, which cannot be
    # serialized into a payload; show them as U+FFFD instead.
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@contextmanager
def os_errors(action: str, shown: str) -> Iterator[None]:
    """Turn OSError into ToolError or a retryable OSError without the abs path."""
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


def open_regular(path: Path) -> int | None:
    """A descriptor of the regular file at path; None if nothing is there."""
    try:
        fd = _open_nofollow(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegular()
    return fd


class TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class NotRegular(Exception):
    pass


def read_regular(path: Path, limit: int) -> bytes | None:
    """Bytes of a regular file no larger than limit; None if it doesn't exist."""
    fd = open_regular(path)
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise TooLarge(size)
        return f.read(limit + 1)


def is_binary(head: bytes) -> bool:
    """A known binary signature, or NUL bytes in what is not UTF-8 text.

    A NUL alone is not enough (git's rule): valid UTF-8 holding a NUL is text a
    model may have written and must read back as written; and stray invalid
    bytes without a NUL are text with a bad character, read with U+FFFD.
    """
    head = head[:SNIFF_BYTES]
    if any(head.startswith(magic) for magic, _ in MAGIC):
        return True
    if b"\x00" not in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as err:
        # A multi-byte character cut by the sniff window is still text.
        return err.start < len(head) - 3
    return False


def existing_mode(path: Path) -> int | None:
    # Rewriting a file should not silently change its permissions.
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None


def same_content(a: Path, b: Path) -> bool:
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


def link_noreplace(src: Path, dst: Path) -> bool:
    """Give src's inode the name dst unless dst exists; False if links are unsupported."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as e:
        if e.errno in NO_HARDLINK_ERRNOS:
            return False
        raise
    return True
