"""Settings read from the environment once, at process start.

Workflows never import this module: configuration reaches side effects through
activities, and never travels in payloads (so a key can never land in history).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from agentfleet import TASK_QUEUE
from agentfleet.delegation.catalog import DEFAULT_MODEL, PRICES_PER_MTOK
from agentfleet.governance.limits import EnvWording, GovernorConfig, env_number

SIM_API_KEY = "sim-no-key"

# Re-exported: config is where people look for the price table and model names.
__all__ = ["DEFAULT_MODEL", "PRICES_PER_MTOK", "SIM_API_KEY", "Settings"]


@dataclass(frozen=True)
class Settings:
    """Everything a process needs to know about where it runs, read once.

    `from_env` reads the environment; tests and benchmarks build one in code.
    """

    home: Path
    """`$AGENTFLEET_HOME`: dev-server database, ledger, workspaces, span file, reports."""
    temporal_address: str = "localhost:7233"
    """`$TEMPORAL_ADDRESS`, host:port of the frontend."""
    temporal_namespace: str = "default"
    """`$TEMPORAL_NAMESPACE`."""
    task_queue: str = TASK_QUEUE
    """The task queue workers poll and runs are started on."""
    ui_port: int = 8233
    """The Temporal UI's port, for the links the CLI prints."""
    anthropic_api_key: str | None = field(default=None, repr=False)
    """The Anthropic key; None means the simulator answers (never printed)."""
    anthropic_base_url: str | None = None
    """Where LLM calls go: the simulator's URL when there is no key."""
    sim_port: int = 8787
    """`$AGENTFLEET_SIM_PORT`: where `agentfleet dev` starts the simulator."""
    ledger_url_override: str | None = None
    """`$AGENTFLEET_LEDGER_URL`; None keeps the SQLite ledger in `home`."""
    deployment_name: str | None = None
    """Worker Versioning's deployment (agentfleet/deploy/versioning.py); None runs unversioned.

    The environment turns it on (AGENTFLEET_DEPLOYMENT, default "agentfleet";
    AGENTFLEET_VERSIONING=off to opt out); Settings built in code, as tests
    and benchmarks do, stay unversioned unless they name a deployment.
    """
    build_id_override: str | None = None
    """`$AGENTFLEET_BUILD_ID`; None derives the build id from the checkout."""

    @property
    def build_id(self) -> str:
        """This checkout's build id, under which its workers register."""
        from agentfleet.deploy.build_info import build_id

        return self.build_id_override or build_id()

    prompt_cache: bool = True
    """Prompt-cache breakpoints on every LLM request (agentfleet/delegation/caching.py).

    AGENTFLEET_PROMPT_CACHE=0 turns them off, e.g. to compare costs.
    """
    governor: GovernorConfig = field(default_factory=GovernorConfig)
    """Shared rate limits per model (agentfleet/governance/limits.py); none: ungoverned."""
    shutdown_grace_s: float = 10.0
    """On SIGTERM, how long in-flight activities get to finish before they are cut.

    AGENTFLEET_SHUTDOWN_GRACE_S; worker.py explains the default.
    """
    llm_timeout_s: float = 120.0
    """How long one LLM request may take before the client gives up on it.

    AGENTFLEET_LLM_TIMEOUT_S. It stays under the call's 180 s start-to-close timeout
    (workflows/_calls.py), so a request that hangs fails as a timeout, is receipted as
    possibly billed, and is retried, instead of taking the whole attempt with it.
    """

    @property
    def ledger_url(self) -> str:
        """The ledger's SQLAlchemy URL."""
        return self.ledger_url_override or f"sqlite:///{self.home / 'ledger.db'}"

    @property
    def workspaces(self) -> Path:
        """Where each run's workspace lives (one directory per run)."""
        return self.home / "workspaces"

    @property
    def blobs(self) -> Path:
        """Where payloads too large for history are kept; every process must share it."""
        return self.home / "blobs"

    @property
    def temporal_db(self) -> Path:
        """The dev server's database, so runs survive a restart."""
        return self.home / "temporal.db"

    @property
    def uses_simulator(self) -> bool:
        """True without an API key: the simulator answers, and no spend is real."""
        return self.anthropic_api_key is None

    @property
    def ui_url(self) -> str:
        """The Temporal UI's base URL on the server's host."""
        host = self.temporal_address.rsplit(":", 1)[0] or "localhost"
        return f"http://{host}:{self.ui_port}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read the settings from `env` (default: this process's environment).

        A malformed value raises ValueError naming its variable.
        """
        e = dict(os.environ if env is None else env)
        address = e.get("TEMPORAL_ADDRESS", "localhost:7233")
        port = int(address.rsplit(":", 1)[1]) if ":" in address else 7233
        sim_port = int(e.get("AGENTFLEET_SIM_PORT", "8787"))
        key = e.get("ANTHROPIC_API_KEY") or None
        base_url = e.get("ANTHROPIC_BASE_URL") or None
        if key is None and base_url is None:
            # No key and no endpoint: the local simulator stands in for Claude.
            base_url = f"http://127.0.0.1:{sim_port}"
        return cls(
            home=Path(e.get("AGENTFLEET_HOME", "./.agentfleet")).resolve(),
            temporal_address=address,
            temporal_namespace=e.get("TEMPORAL_NAMESPACE", "default"),
            task_queue=e.get("AGENTFLEET_TASK_QUEUE", TASK_QUEUE),
            ui_port=int(e.get("AGENTFLEET_UI_PORT", str(port + 1000))),
            anthropic_api_key=key,
            anthropic_base_url=base_url,
            sim_port=sim_port,
            ledger_url_override=(e.get("AGENTFLEET_LEDGER_URL") or "").strip() or None,
            deployment_name=_deployment_name(e),
            build_id_override=(e.get("AGENTFLEET_BUILD_ID") or "").strip() or None,
            prompt_cache=_flag(e.get("AGENTFLEET_PROMPT_CACHE"), "AGENTFLEET_PROMPT_CACHE"),
            governor=GovernorConfig.from_env(e),
            shutdown_grace_s=env_number(
                e,
                "AGENTFLEET_SHUTDOWN_GRACE_S",
                default=10.0,
                low=0.0,
                high=3600.0,
                wording=_SECONDS_WORDING,
            ),
            llm_timeout_s=env_number(
                e,
                "AGENTFLEET_LLM_TIMEOUT_S",
                default=120.0,
                low=1.0,
                high=170.0,
                wording=_SECONDS_WORDING,
            ),
        )


def _deployment_name(e: dict[str, str]) -> str | None:
    if e.get("AGENTFLEET_VERSIONING", "on").strip().lower() in {"off", "0", "false", "no"}:
        return None
    return (e.get("AGENTFLEET_DEPLOYMENT") or "").strip() or "agentfleet"


def _flag(raw: str | None, name: str, *, default: bool = True) -> bool:
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1/0, true/false, yes/no or on/off, got {raw!r}")


_SECONDS_WORDING = EnvWording(
    not_a_number="{name}={raw!r} is not a number of seconds",
    out_of_range="{name}={raw!r} must be between {low:g} and {high:g} seconds",
)
