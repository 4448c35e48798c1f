"""The span spool: append-only segment files under `$AGENTFLEET_HOME/spool/`.

    spool/<service>/slot-<k>/lock             flock'ed by the process that owns the slot
    spool/<service>/slot-<k>/0000000001.jsonl  a segment: OTLP/JSON lines, the span file's format
    spool/<service>/slot-<k>/0000000001.ack    its cursor (see `Cursor`)
    spool/<service>/slot-<k>/counters.*        the slot's cumulative fleet counters (counters.py)

A process claims the lowest free slot of its service and holds the slot's lock until it exits;
the kernel drops the lock when the process dies, SIGKILL included, so a free slot with data in it
is exactly the spool of a dead process. A restarted worker claims that slot again and ships what
its predecessor left, and a sibling on the same volume ships it otherwise (shipper.py). Slots are
reused, so `service.instance.id` (`<volume id>-<k>`) stays stable across restarts: a counter
series continues where the dead process left it instead of starting over.

Only the slot's owner appends, each batch one `write()` of whole lines, and only the holder of
the lock ships or deletes, so no two processes ever ship one segment. A line is written before
Temporal hears that the work it records is done (durable.py): the page cache keeps it through a
killed process; with `AGENTFLEET_SPOOL_FSYNC=1`, fdatasync keeps it through a power loss too.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentfleet.telemetry.spanfile import otlp_json_line, write_all

log = logging.getLogger("agentfleet.telemetry")

SPOOL_DIR = Path("spool")
SEGMENT_SUFFIX = ".jsonl"
MAX_SLOTS = 4096
_SEGMENT = re.compile(r"^(\d{10})\.jsonl$")


# --------------------------------------------------------------------------- slots


def spool_root(home: Path) -> Path:
    """The spool of a home: one directory per service, one slot per process."""
    return home / SPOOL_DIR


def volume_id(root: Path) -> str:
    """A random id for this spool directory, made once: part of every `service.instance.id`."""
    path = root / "volume-id"
    with contextlib.suppress(FileNotFoundError):
        return path.read_text().strip()
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".volume-id.{os.getpid()}.{secrets.token_hex(4)}"
    tmp.write_text(secrets.token_hex(4) + "\n")
    try:
        os.link(tmp, path)  # first writer wins; a concurrent one reads the winner's id
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def service_dir(root: Path, service: str) -> Path:
    """A service's directory in the spool, its name made safe for a path."""
    return root / (re.sub(r"[^A-Za-z0-9._-]", "_", service) or "_")


class Slot:
    """A slot directory whose lock this process holds (own, or adopted from a dead process)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    @property
    def index(self) -> int:
        """The slot's number: with the volume id, this process's stable instance id."""
        return int(self.path.name.rsplit("-", 1)[1])

    @classmethod
    def try_lock(cls, path: Path) -> Slot | None:
        """Lock the slot at `path` for this process, or None if another holds it."""
        try:
            fd = os.open(path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return None
        try:
            # flock, not fcntl/lockf: its lock belongs to the open file, so two Telemetry
            # objects in one process (tests) exclude each other as two processes do.
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return cls(path, fd)

    def release(self) -> None:
        """Give the slot up, so a sibling may adopt what is left in it."""
        if self._fd >= 0:
            os.close(self._fd)  # closing the only descriptor drops the flock
            self._fd = -1

    def segments(self) -> list[Path]:
        """The slot's segment files, oldest first."""
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return []
        return [self.path / n for n in sorted(names) if _SEGMENT.match(n)]

    def next_sequence(self) -> int:
        """The number of the next segment this slot's writer opens."""
        segs = self.segments()
        return int(segs[-1].name[:10]) + 1 if segs else 1


def claim_slot(directory: Path) -> Slot:
    """The lowest slot of `directory` that no live process holds."""
    directory.mkdir(parents=True, exist_ok=True)
    for k in range(MAX_SLOTS):
        path = directory / f"slot-{k}"
        path.mkdir(exist_ok=True)
        slot = Slot.try_lock(path)
        if slot is not None:
            return slot
    raise RuntimeError(f"no free spool slot in {directory} (all {MAX_SLOTS} are locked)")


def slot_dirs(root: Path) -> list[Path]:
    """Every slot directory of every service under the spool root."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("*/slot-*") if p.is_dir())


# --------------------------------------------------------------------------- cursors


@dataclass(frozen=True)
class Cursor:
    """How far a segment is shipped, rewritten in place (one pwrite) after every batch.

    `acked`: the receiver acknowledged every byte before it. `inflight`: nonzero while a batch
    [acked, inflight) is being sent, so whoever ships the segment next knows that the receiver
    may already hold it. `sink_pos`: where the span-file sink appended that batch (it can check,
    an OTLP receiver cannot).
    """

    acked: int = 0
    inflight: int = 0
    sink_pos: int = 0

    def encode(self) -> bytes:
        """The cursor file's fixed-width form, so one pwrite replaces it whole."""
        return f"{self.acked:020d} {self.inflight:020d} {self.sink_pos:020d}\n".encode()

    @classmethod
    def decode(cls, raw: bytes) -> Cursor | None:
        """The cursor from its file, or None when the bytes are not a cursor."""
        parts = raw.split()
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            return None
        return cls(int(parts[0]), int(parts[1]), int(parts[2]))


def cursor_path(segment: Path) -> Path:
    """Where a segment's cursor is kept: beside it, same name, `.ack`."""
    return segment.with_suffix(".ack")


def read_cursor(segment: Path) -> Cursor:
    """How far `segment` is shipped: from the start when it has no readable cursor."""
    try:
        raw = cursor_path(segment).read_bytes()
    except FileNotFoundError:
        return Cursor()
    cur = Cursor.decode(raw)
    if cur is None:
        # Only a power loss mid-write can do this. Shipping again from the start may
        # duplicate spans at the receiver; assuming anything else could lose them.
        log.warning(
            "unreadable spool cursor %s: the segment is shipped again from its start",
            cursor_path(segment),
        )
        return Cursor()
    return cur


def write_cursor(segment: Path, cursor: Cursor, *, fsync: bool = False) -> None:
    """Record how far `segment` is shipped, in place; `fsync` makes it durable."""
    fd = os.open(cursor_path(segment), os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        # Fixed width, one pwrite at offset 0: a killed process leaves the old or the new.
        os.pwrite(fd, cursor.encode(), 0)
        if fsync:
            os.fdatasync(fd)
    finally:
        os.close(fd)


def remove_segment(segment: Path) -> None:
    """Delete a shipped segment and its cursor, in the order that is safe to interrupt."""
    # The segment first: a cursor without its segment is harmless, a segment without its
    # cursor would be shipped again from the start.
    with contextlib.suppress(FileNotFoundError):
        segment.unlink()
    with contextlib.suppress(FileNotFoundError):
        cursor_path(segment).unlink()


# --------------------------------------------------------------------------- the writer


@dataclass(eq=False)
class SpoolWriter(SpanExporter):
    """Appends each exported batch as one OTLP/JSON line to the slot's current segment.

    Used behind `DurableBatchSpanProcessor`, whose flush runs before Temporal hears that an
    activity or workflow task is done. A new segment starts at `segment_bytes` or after
    `segment_age_s`, so the shipper can delete what it has shipped and the spool's bounds can
    drop whole old segments.
    """

    slot: Slot
    """This process's slot: the segments it writes."""
    _: KW_ONLY
    segment_bytes: int = 8 << 20
    """A segment past this size is closed and a new one started."""
    segment_age_s: float = 300.0
    """A segment older than this is closed at the next write."""
    fsync: bool = False
    """Whether each batch is synced to disk before the export returns."""
    on_write: Callable[[], None] | None = None
    """Called after every batch written (the shipper counts what is pending)."""
    on_failure: Callable[[int, str], None] | None = None
    """Called with the span count and the reason when a batch cannot be written."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._fd = -1
        self._size = 0
        self._opened = 0.0
        self._seq = self.slot.next_sequence()
        self._closed = False
        self.active: Path | None = None

    def _open(self) -> None:
        path = self.slot.path / f"{self._seq:010d}{SEGMENT_SUFFIX}"
        self._seq += 1
        # Named active before the file exists: a shipper that lists the new segment must
        # never take it for a closed one (it would read a half-written line as torn).
        self.active = path
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        self._size, self._opened = 0, time.monotonic()

    def _close_segment(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def rotate(self) -> None:
        """Start a new segment with the next write (the shipper may then drop this one)."""
        with self._lock:
            self._close_segment()
            self.active = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Append the batch as one line to the open segment, starting a new one when due."""
        if not spans:
            return SpanExportResult.SUCCESS
        data = otlp_json_line(spans)
        try:
            with self._lock:
                if self._closed:
                    raise OSError("the spool is closed")
                if self._fd >= 0 and (
                    self._size >= self.segment_bytes
                    or time.monotonic() - self._opened >= self.segment_age_s
                ):
                    self._close_segment()
                if self._fd < 0:
                    self._open()
                write_all(self._fd, data, fsync=self.fsync)
                self._size += len(data)
        except OSError as err:
            if self.on_failure is not None:
                self.on_failure(
                    len(spans), f"cannot append to the spool in {self.slot.path}: {err}"
                )
            return SpanExportResult.FAILURE
        if self.on_write is not None:
            self.on_write()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Close the open segment; later exports fail."""
        with self._lock:
            self._closed = True
            self._close_segment()
            self.active = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered: every export is written before it returns."""
        return True
