"""Atomic file replacement: the one way agentfleet rewrites a file a reader may be reading.

Thresholds, blobs, weekly reports, counter snapshots and sandbox writes all go
through `atomic_write_bytes`: the data is written to a temporary file beside the
target and renamed over it, so a reader (or a retried activity) sees the old
file or the new one, never half of one. Each caller picks the durability it
needs: `fsync` of the data, `sync_dir` of the folder entry, a file `mode`.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path


def temp_beside(target: Path) -> tuple[int, str]:
    """Create an empty temporary file in `target`'s folder: (descriptor, path).

    It must be in the same folder for the final rename to be atomic. mkstemp
    opens with O_EXCL, which never follows a symlink. The name's stem is cut by
    bytes, not characters: 64 emoji are 256 bytes, past the 255-byte name
    limit, even though the real name fits.
    """
    stem = os.fsdecode(os.fsencode(target.name)[:64])
    return tempfile.mkstemp(dir=target.parent, prefix=f".{stem}.", suffix=".tmp")


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries, so a rename into it survives a power cut.

    Best effort: some file systems (and platforms) cannot open or sync a
    folder, and the file's own data is synced already.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        with suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(
    target: Path,
    data: bytes,
    *,
    mode: int | None = None,
    fsync: bool = True,
    sync_dir: bool = False,
    make_parent: bool = False,
) -> None:
    """Replace `target` with `data`: a reader, or a retried call, sees old or new, never half.

    The data goes to a temporary file beside `target` (created 0o600 by
    mkstemp, then set to `mode` if given), is flushed to disk unless
    `fsync=False`, and is renamed over `target`. `os.replace` swaps the
    directory entry, so even a symlink planted at `target` is replaced rather
    than written through. `sync_dir` also flushes the folder so the rename
    itself is durable; `make_parent` creates missing folders first (otherwise
    the parent must exist).
    """
    target = Path(target)
    if make_parent:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temp_beside(target)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    if sync_dir:
        fsync_dir(target.parent)
