"""Worker processes for crash tests: started as users start them, killed hard."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Self, TypeVar

from agentfleet.config import Settings

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


class WorkerProcess:
    def __init__(self, settings: Settings, log: Path, extra_env: dict[str, str] | None = None):
        self.settings = settings
        self.log = log
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at: float | None = None  # wall clock (time.time) just before exec
        self.stopped = False  # killed or terminated by the test, on purpose

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OTEL_"))}
        env.update(
            TEMPORAL_ADDRESS=self.settings.temporal_address,
            AGENTFLEET_HOME=str(self.settings.home),
            AGENTFLEET_TASK_QUEUE=self.settings.task_queue,
            ANTHROPIC_BASE_URL=str(self.settings.anthropic_base_url),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        return [sys.executable, str(ROOT / "worker.py")]

    def start(self) -> Self:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.started_at = time.time()
            self.proc = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, exactly like a crashed host."""
        self.stopped = True
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM: the graceful shutdown of worker.run (drain, flush telemetry)."""
        self.stopped = True
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode if self.proc else None

    def died(self) -> str | None:
        """Why the process is gone when no test stopped it; None while it runs."""
        if self.proc is None or self.stopped or self.proc.poll() is None:
            return None
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
        return f"worker exited on its own with code {self.proc.returncode} ({self.log}):\n{tail}"


async def supervised(body: Awaitable[T], workers: Sequence[WorkerProcess]) -> T:
    """Await `body`, failing at once if a worker process dies on its own.

    Without this a worker that crashes at start leaves the test waiting for
    work no process will ever do, until the pytest timeout. `workers` may grow
    while `body` runs (a restarted worker is appended).
    """
    task = asyncio.ensure_future(body)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=0.5)
            if done:
                return task.result()
            for w in list(workers):
                reason = w.died()
                if reason:
                    raise AssertionError(reason)
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
