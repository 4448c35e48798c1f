"""The shipper: a thread that sends spool segments to their sink and records the receiver's acks.

It ships the process's own slot, and adopts the slots of dead processes found on the same volume
(their lock is free, their segments are not): a restarted worker claims its predecessor's slot
and ships it as its own; a sibling ships a slot that nobody claims. A slot is shipped only by the
holder of its lock, so no segment is ever shipped by two processes at once.

After each acknowledged batch, the segment's cursor advances (one pwrite). The window that
remains: a shipper killed after the receiver took a batch but before the cursor moved. The cursor
records the batch as in flight before it is sent, so the next shipper knows. The span-file sink
then checks whether the batch is in the file and never writes it twice; an OTLP receiver cannot
be asked (Tempo folds repeated span ids only when it merges partial traces, and its span metrics
count them), so the batch is sent again, logged and counted in `agentfleet_spans_resent`. The
window is the receiver's reply time, well under a millisecond on loopback, and a batch is sent
every `OTEL_BSP_SCHEDULE_DELAY` (5 s by default), so a kill rarely lands in it.

Bounds: unshipped data past `max_bytes`, or older than `max_age_s`, is dropped oldest segment
first. So are a batch the receiver refuses as invalid (retrying cannot help) and the torn last
line of a process killed mid-write. Every drop is counted in `agentfleet_spans_dropped{reason}`
and named in a warning (segment, spans, traces, time range). An unreachable or failing receiver
never causes a drop by itself: it only delays export, with retries backing off to
`retry_max_s`, until the bounds are reached.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import InitVar, dataclass, field
from pathlib import Path
from typing import Any

from agentfleet.telemetry.counters import CounterStore, load_store
from agentfleet.telemetry.segments import (
    describe,
    has_work,
    next_batch,
    read_range,
    segment_size,
    summary,
)
from agentfleet.telemetry.sinks import Sent, Sink
from agentfleet.telemetry.spool import (
    Cursor,
    Slot,
    SpoolWriter,
    read_cursor,
    remove_segment,
    slot_dirs,
    write_cursor,
)

log = logging.getLogger("agentfleet.telemetry")

SPANS_DROPPED = "agentfleet_spans_dropped"
SPANS_RESENT = "agentfleet_spans_resent"
SPOOL_BACKLOG = "agentfleet_spool_backlog"


@dataclass(frozen=True)
class ShipperOptions:
    """How the shipper batches, bounds and retries; `setup_telemetry` fills it from the env."""

    delay_s: float = 5.0
    """How long a spooled span may wait for company before it is sent."""
    batch_bytes: int = 1 << 20
    """OTLP/JSON bytes per request: well inside gRPC's 4 MB."""
    max_bytes: int = 512 << 20
    """The spool's bound in bytes: past it, the oldest segments are dropped (and counted)."""
    max_age_s: float = 72 * 3600.0
    """The spool's bound in age: older segments are dropped (and counted)."""
    scan_s: float = 2.0
    """How often to look for the slots of dead processes."""
    retry_max_s: float = 5.0
    """The longest wait between tries while the receiver is unreachable."""
    close_timeout_s: float = 5.0
    """How long `close` keeps shipping before it leaves the rest in the spool."""
    fsync: bool = False
    """Whether cursor writes are fdatasync'ed, like the spool's own writes."""


@dataclass
class _Held:
    slot: Slot
    own: bool
    store: CounterStore | None = None
    seen: set[Path] = field(default_factory=set)


@dataclass
class ShipperStats:
    """What this shipper did, for tests and for the log at shutdown."""

    batches: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    resent: int = 0
    adopted: list[str] = field(default_factory=list)
    counters_exported: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Shipper:
    """Ships the spool to a sink on a background thread: its own slot, and dead processes'.

    Spans reach the spool before Temporal hears that their work is done; the shipper sends
    them on when it can, so an unreachable receiver delays export and loses nothing.
    """

    root: Path
    own: InitVar[Slot]
    writer: SpoolWriter
    sink: Sink
    options: ShipperOptions
    meter: InitVar[Any]
    metrics_sink: Sink | None = None

    def __post_init__(self, own: Slot, meter: Any) -> None:
        self.stats = ShipperStats()
        self._held: list[_Held] = [_Held(own, own=True)]
        self._lock = threading.Lock()  # one shipping pass at a time
        self._wake = threading.Event()
        self._stop = False
        # Writes since the last pass that shipped everything: when the oldest came, how many.
        self._pending_lock = threading.Lock()
        self._pending_since: float | None = None
        self._pending = 0
        self._retry_at = 0.0
        self._backoff = 0.0
        self._down_since: float | None = None
        self._next_scan = 0.0
        self._dropped_metric = meter.create_counter(SPANS_DROPPED, "spans the spool dropped")
        self._resent_metric = meter.create_counter(
            SPANS_RESENT, "spans sent again: a shipper died before their ack was recorded"
        )
        self._backlog_metric = meter.create_gauge(SPOOL_BACKLOG, "unshipped spool bytes", "By")
        self._thread = threading.Thread(target=self._run, name="agentfleet-shipper", daemon=True)

    def start(self) -> Shipper:
        """Start the shipping thread, at once if a dead predecessor left spans in our slot."""
        if self._held[0].slot.segments():
            # A dead predecessor's spans, left in the slot this process claimed: ship now.
            self._pending_since = time.monotonic() - self.options.delay_s
        self._thread.start()
        return self

    # --- called from other threads ---

    def notify(self) -> None:
        """A batch was spooled (the writer's hot path: keep it cheap)."""
        with self._pending_lock:
            self._pending += 1
            if self._pending_since is not None:
                return
            self._pending_since = time.monotonic()
        self._wake.set()

    def write_failed(self, spans: int, message: str) -> None:
        """Count and log spans the spool writer could not write: the only ones lost."""
        self._drop("write_error", spans=spans, what=f"{message}; these spans were never spooled")

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Ship everything now; True when nothing is left (False: the sink is unreachable)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if self._pass(force=True):
                    return True
            except Exception:  # a worker's shutdown must not fail on its telemetry
                log.exception("the span shipper failed while flushing")
                return False
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(max(self._retry_at - time.monotonic(), 0.05), 0.5))

    def close(self) -> None:
        """Stop the thread, ship what is left (within `close_timeout_s`), release the slots."""
        self._stop = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        # A sibling that died since the last scan: the last worker to stop ships it too.
        self._adopt()
        done = self.flush(self.options.close_timeout_s)
        with self._lock:
            if not done:
                log.warning(
                    "%d bytes of spans stay in the spool (%s) for the next worker on this "
                    "volume: %s did not take them",
                    self._backlog(),
                    self.root,
                    self.sink.describe,
                )
            for held in self._held:
                held.slot.release()
            self._held = []
        self.sink.close()
        if self.metrics_sink is not None and self.metrics_sink is not self.sink:
            self.metrics_sink.close()

    # --- the thread ---

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self._next_wait())
            self._wake.clear()
            if self._stop:
                break
            try:
                now = time.monotonic()
                if now >= self._next_scan:
                    self._adopt()
                    self._next_scan = now + self.options.scan_s
                if self._due(now):
                    self._pass(force=False)
            except Exception:
                log.exception("the span shipper failed; it retries")
                time.sleep(1.0)

    def _next_wait(self) -> float:
        now = time.monotonic()
        ship = float("inf")
        if len(self._held) > 1:
            ship = now  # an adopted slot: ship it now
        elif self._pending_since is not None:
            ship = self._pending_since + self.options.delay_s
        if ship != float("inf"):
            ship = max(ship, self._retry_at)
        return max(min(ship, self._next_scan) - now, 0.0)

    def _due(self, now: float) -> bool:
        if now < self._retry_at:
            return False
        if len(self._held) > 1:
            return True
        since = self._pending_since
        return since is not None and now - since >= self.options.delay_s

    # --- one pass over everything held ---

    def _pass(self, *, force: bool) -> bool:
        with self._lock:
            if not force and time.monotonic() < self._retry_at:
                return False
            with self._pending_lock:
                pending = self._pending
            self._enforce_bounds()
            ok = True
            for held in list(self._held):
                if not self._ship_slot(held):
                    ok = False
                    break
            self._record_outcome(ok=ok)
            if ok:
                with self._pending_lock:
                    if self._pending == pending:  # nothing was written during the pass
                        self._pending, self._pending_since = 0, None
                    else:
                        self._pending_since = time.monotonic()
            backlog = self._backlog()
            self._backlog_metric.set(backlog)
            return ok and backlog == 0

    def _record_outcome(self, *, ok: bool) -> None:
        now = time.monotonic()
        if ok:
            if self._down_since is not None:
                log.info(
                    "span export to %s resumed after %.1f s; nothing was lost",
                    self.sink.describe,
                    now - self._down_since,
                )
            self._down_since, self._backoff, self._retry_at = None, 0.0, 0.0
            return
        self._backoff = min(max(self._backoff * 2, 0.25), self.options.retry_max_s)
        self._retry_at = now + self._backoff

    def _failed(self, sent: Sent) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                "cannot export spans to %s (%s): they wait in the spool (%s, %d bytes) and "
                "are retried",
                self.sink.describe,
                sent.message,
                self.root,
                self._backlog(),
            )

    def _ship_slot(self, held: _Held) -> bool:
        for seg in held.slot.segments():
            active = held.own and seg == self.writer.active
            if not self._ship_segment(seg, held, active=active):
                return False
        if held.own:
            return True
        if self.metrics_sink is not None:
            store = held.store or load_store(held.slot.path)
            if store is not None and store.needs_final_export():
                sent = self.metrics_sink.send_metrics(store.final_request())
                if not sent.ok:
                    if sent.retry:
                        self._failed(sent)
                        return False
                    log.error(
                        "the final counters of %s were refused: %s", held.slot.path, sent.message
                    )
                self.stats.counters_exported.append(str(held.slot.path))
            if store is not None:
                store.mark_exported()  # also when there was nothing to send: scans skip it
        if not held.slot.segments():
            held.slot.release()
            self._held.remove(held)
        return True

    def _ship_segment(self, seg: Path, held: _Held, *, active: bool) -> bool:
        cur = read_cursor(seg)
        if seg not in held.seen:
            held.seen.add(seg)
            if cur.inflight > cur.acked:
                cur = self._settle_inflight(seg, cur)
        while True:
            data, torn = next_batch(seg, cur.acked, self.options.batch_bytes, active=active)
            if torn:
                self._drop(
                    "torn",
                    spans=1,
                    what=f"a torn last line ({len(torn)} bytes) in {seg}: its writer was killed "
                    "while writing it, before Temporal heard that its work was done",
                )
                cur = Cursor(cur.acked + len(torn))
                write_cursor(seg, cur, fsync=self.options.fsync)
                continue
            if not data:
                break
            cur, ok = self._send(seg, cur, data)
            if not ok:
                return False
        if not active and cur.acked >= segment_size(seg):
            remove_segment(seg)
        return True

    def _settle_inflight(self, seg: Path, cur: Cursor) -> Cursor:
        """A previous shipper died while sending [acked, inflight): did the batch arrive?"""
        data = read_range(seg, cur.acked, cur.inflight - cur.acked)
        if len(data) == cur.inflight - cur.acked and self.sink.confirm(data, cur.sink_pos):
            settled = Cursor(cur.inflight)
            write_cursor(seg, settled, fsync=self.options.fsync)
            return settled
        spans = summary(data)[0]
        self.stats.resent += spans
        self._resent_metric.add(spans)
        log.warning(
            "sending %d spans from %s again: a shipper died after sending them, before their "
            "acknowledgment was recorded, so %s may now hold them twice",
            spans,
            seg,
            self.sink.describe,
        )
        return Cursor(cur.acked)

    def _send(self, seg: Path, cur: Cursor, data: bytes) -> tuple[Cursor, bool]:
        end = cur.acked + len(data)
        fsync = self.options.fsync

        def intent(pos: int) -> None:
            write_cursor(seg, Cursor(cur.acked, end, pos), fsync=fsync)

        sent = self.sink.send(data, intent)
        if sent.retry:
            self._failed(sent)
            return cur, False
        if not sent.ok and data.count(b"\n") > 1:
            # Refused as invalid: find the line(s) at fault, ship the rest.
            for line in data.splitlines(keepends=True):
                cur, ok = self._send(seg, cur, line)
                if not ok:
                    return cur, False
            return cur, True
        done = Cursor(end)
        write_cursor(seg, done, fsync=fsync)
        self.stats.batches += 1
        if not sent.ok:
            self._drop("rejected", spans=sent.rejected or 1, what=describe(data, seg, sent.message))
        elif sent.rejected:
            self._drop("rejected", spans=sent.rejected, what=describe(data, seg, sent.message))
        return done, True

    # --- bounds ---

    def _enforce_bounds(self) -> None:
        opts = self.options
        now = time.time()
        entries = []
        for held in self._held:
            for seg in held.slot.segments():
                try:
                    st = seg.stat()
                except FileNotFoundError:
                    continue
                unshipped = st.st_size - read_cursor(seg).acked
                entries.append((st.st_mtime, seg, held, max(unshipped, 0)))
        entries.sort(key=lambda e: (e[0], e[1].name))
        total = sum(e[3] for e in entries)
        for mtime, seg, held, unshipped in entries:
            too_old = now - mtime > opts.max_age_s
            if not too_old and total <= opts.max_bytes:
                break
            if held.own and seg == self.writer.active:
                self.writer.rotate()
            reason = "age" if too_old else "size"
            limit = (
                f"older than the spool's {opts.max_age_s / 3600:g} h"
                if too_old
                else f"the spool is over its {opts.max_bytes / (1 << 20):g} MiB"
            )
            data = read_range(seg, read_cursor(seg).acked, unshipped)
            spans = summary(data)[0]
            if spans:
                self._drop(
                    reason, spans=spans, what=f"{limit}: {describe(data, seg, 'never exported')}"
                )
            remove_segment(seg)
            total -= unshipped

    def _drop(self, reason: str, *, spans: int, what: str) -> None:
        self.stats.dropped[reason] += spans
        self._dropped_metric.add(spans, {"reason": reason})
        log.warning("dropped %d spans (%s): %s", spans, reason, what)

    def _backlog(self) -> int:
        total = 0
        for held in self._held:
            for seg in held.slot.segments():
                total += max(segment_size(seg) - read_cursor(seg).acked, 0)
        return total

    # --- dead processes' slots ---

    def _adopt(self) -> None:
        with self._lock:
            held = {h.slot.path for h in self._held}
            for path in slot_dirs(self.root):
                counting = self.metrics_sink is not None
                if path in held or not has_work(path, counters=counting):
                    continue
                slot = Slot.try_lock(path)
                if slot is None:
                    continue  # its process is alive, or another sibling ships it
                store = load_store(path) if counting else None
                counters = store is not None and store.needs_final_export()
                if not slot.segments() and not counters:
                    slot.release()
                    continue
                log.info(
                    "shipping the spool of a stopped process: %s (%d bytes)",
                    path,
                    sum(segment_size(s) for s in slot.segments()),
                )
                self.stats.adopted.append(str(path))
                self._held.append(_Held(slot, own=False, store=store))
