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
from agentfleet.governance.limits import GovernorConfig

SIM_API_KEY = "sim-no-key"

# Re-exported: config is where people look for the price table and model names.
__all__ = ["DEFAULT_MODEL", "PRICES_PER_MTOK", "SIM_API_KEY", "Settings"]


@dataclass(frozen=True)
class Settings:
    home: Path
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = TASK_QUEUE
    ui_port: int = 8233
    anthropic_api_key: str | None = field(default=None, repr=False)
    anthropic_base_url: str | None = None
    sim_port: int = 8787
    ledger_url_override: str | None = None
    # Worker Versioning (agentfleet/deploy/versioning.py): None runs unversioned. The
    # environment turns it on (AGENTFLEET_DEPLOYMENT, default "agentfleet";
    # AGENTFLEET_VERSIONING=off to opt out); Settings built in code, as tests
    # and benchmarks do, stay unversioned unless they name a deployment.
    deployment_name: str | None = None
    build_id_override: str | None = None

    @property
    def build_id(self) -> str:
        from agentfleet.deploy.build_info import build_id

        return self.build_id_override or build_id()

    # Prompt-cache breakpoints on every LLM request (agentfleet/delegation/caching.py);
    # AGENTFLEET_PROMPT_CACHE=0 turns them off, e.g. to compare costs.
    prompt_cache: bool = True
    # Shared rate limits per model (agentfleet/governance/limits.py); none: ungoverned.
    governor: GovernorConfig = field(default_factory=GovernorConfig)
    # SIGTERM: how long in-flight activities get to finish before they are cut
    # (AGENTFLEET_SHUTDOWN_GRACE_S; worker.py explains the default).
    shutdown_grace_s: float = 10.0

    @property
    def ledger_url(self) -> str:
        return self.ledger_url_override or f"sqlite:///{self.home / 'ledger.db'}"

    @property
    def workspaces(self) -> Path:
        return self.home / "workspaces"

    @property
    def blobs(self) -> Path:
        return self.home / "blobs"

    @property
    def temporal_db(self) -> Path:
        return self.home / "temporal.db"

    @property
    def uses_simulator(self) -> bool:
        return self.anthropic_api_key is None

    @property
    def ui_url(self) -> str:
        host = self.temporal_address.rsplit(":", 1)[0] or "localhost"
        return f"http://{host}:{self.ui_port}"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
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
            shutdown_grace_s=_seconds(e, "AGENTFLEET_SHUTDOWN_GRACE_S", 10.0, 0.0, 3600.0),
        )


def _deployment_name(e: dict[str, str]) -> str | None:
    if e.get("AGENTFLEET_VERSIONING", "on").strip().lower() in {"off", "0", "false", "no"}:
        return None
    return (e.get("AGENTFLEET_DEPLOYMENT") or "").strip() or "agentfleet"


def _flag(raw: str | None, name: str, default: bool = True) -> bool:
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be 1/0, true/false, yes/no or on/off, got {raw!r}")


def _seconds(env: dict[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number of seconds") from None
    if not low <= value <= high:
        raise ValueError(f"{name}={raw!r} must be between {low:g} and {high:g} seconds")
    return value
