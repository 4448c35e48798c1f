"""Worker processes for crash tests: started as users start them, killed hard."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from agentfleet.config import Settings

ROOT = Path(__file__).resolve().parent.parent


class WorkerProcess:
    def __init__(self, settings: Settings, log: Path, extra_env: dict[str, str] | None = None):
        self.settings = settings
        self.log = log
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None

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

    def start(self) -> WorkerProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py")],
                cwd=ROOT,
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, exactly like a crashed host."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode if self.proc else None
