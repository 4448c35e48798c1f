"""The MCP server config: `$AGENTFLEET_HOME/mcp.json`, or the file `AGENTFLEET_MCP_CONFIG` names.

The shape people already write for Claude Desktop and Claude Code:

    {"mcpServers": {
        "notes": {"command": "python", "args": ["notes_server.py"],
                  "env": {"NOTES_TOKEN": "${NOTES_TOKEN}"}},
        "search": {"url": "http://127.0.0.1:8765/mcp",
                   "headers": {"Authorization": "Bearer ${SEARCH_TOKEN}"}}}}

`${VAR}` (or `${VAR:-default}`) in `env`, `headers`, `args` and `url` is read
from the worker's environment when the worker connects, so a token lives in
the worker's environment and this file only: never in a payload, a span or a
log. agentfleet's own optional keys per server: `timeout` (seconds per call,
default 60), `idempotent` (true/false for all its tools) and `tools`
(`{"tool": {"idempotent": false, "timeout": 30}}`), which override what the
server's annotations say; `disabled: true` skips a server.

A bad file fails with an error that names the file and the field.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ENV_VAR = "AGENTFLEET_MCP_CONFIG"
FILE_NAME = "mcp.json"
DEFAULT_TIMEOUT_S = 60.0
# Server names become part of tool names (mcp__<server>__<tool>), which the
# Messages API limits to [A-Za-z0-9_-]; a double underscore would be ambiguous.
SERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*(?:_[A-Za-z0-9-]+)*$")
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class McpConfigError(ValueError):
    """The MCP config cannot be used; the message names the file and the field."""


class ToolOverride(BaseModel):
    """Per-tool settings that override what the server says (idempotency, timeout)."""

    model_config = ConfigDict(extra="forbid")
    idempotent: bool | None = None
    timeout: float | None = Field(default=None, gt=0, le=3600)


class ServerConfig(BaseModel):
    """One MCP server as the config file describes it (Claude Desktop's format).

    Either a stdio `command` or a streamable-HTTP `url`.
    """

    # Other clients' keys (Claude Desktop's, Claude Code's) are tolerated.
    model_config = ConfigDict(extra="ignore")

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    type: str | None = None
    timeout: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=3600)
    idempotent: bool | None = None
    tools: dict[str, ToolOverride] = Field(default_factory=dict)
    disabled: bool = False

    @model_validator(mode="after")
    def _one_transport(self) -> ServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command (a stdio server) or url (streamable HTTP)")
        if self.type not in (None, "stdio", "http", "streamable-http", "streamableHttp"):
            raise ValueError(
                f"type {self.type!r} is not supported; use stdio or http (streamable HTTP)"
            )
        if self.url is not None and not self.url.startswith(("http://", "https://", "${")):
            raise ValueError("url must start with http:// or https://")
        return self

    @property
    def transport(self) -> str:
        """Which transport the server uses: "stdio" or "http"."""
        return "stdio" if self.command is not None else "http"


class McpConfig(BaseModel):
    """The MCP servers configured for this worker, by name."""

    model_config = ConfigDict(extra="ignore")
    servers: dict[str, ServerConfig] = Field(default_factory=dict, alias="mcpServers")
    # Where it was read from, for messages.
    source: str = ""


def config_path(home: Path, environ: dict[str, str] | None = None) -> Path:
    """Where the MCP config is read from.

    The file AGENTFLEET_MCP_CONFIG names, else the default file under `home`.
    """
    env = os.environ if environ is None else environ
    explicit = env.get(ENV_VAR)
    return Path(explicit).expanduser() if explicit else home / FILE_NAME


def load_config(home: Path, environ: dict[str, str] | None = None) -> McpConfig:
    """The config in force; no file at the default place means no MCP server."""
    env = os.environ if environ is None else environ
    path = config_path(home, dict(env))
    if not path.exists():
        if env.get(ENV_VAR):
            raise McpConfigError(f"{path}: no such file ({ENV_VAR} names it)")
        return McpConfig(source=str(path))
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise McpConfigError(f"{path}: cannot read it: {err.__class__.__name__}") from None
    except json.JSONDecodeError as err:
        raise McpConfigError(f"{path}: not JSON: {err.msg} at line {err.lineno}") from None
    return parse_config(raw, str(path))


def parse_config(raw: Any, source: str) -> McpConfig:
    """A config from its parsed JSON; every error names the file and the field."""
    if not isinstance(raw, dict):
        raise McpConfigError(f"{source}: the top level must be an object with mcpServers")
    if "mcpServers" in raw and not isinstance(raw["mcpServers"], dict):
        raise McpConfigError(f"{source}: mcpServers must be an object of servers by name")
    try:
        cfg = McpConfig.model_validate({**raw, "source": source})
    except ValidationError as err:
        first = err.errors(include_url=False, include_input=False)[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise McpConfigError(f"{source}: {loc}: {first['msg']}") from None
    for name in cfg.servers:
        if not SERVER_NAME.fullmatch(name) or len(name) > 32:
            raise McpConfigError(
                f"{source}: mcpServers.{name}: a server name is letters, digits, '-' and single "
                "'_' (at most 32), since it becomes part of tool names mcp__<server>__<tool>"
            )
    return cfg


def expand(value: str, field: str, environ: dict[str, str] | None = None) -> str:
    """`${VAR}` and `${VAR:-default}` from the worker's environment."""
    env = os.environ if environ is None else environ

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise McpConfigError(f"{field}: the environment variable {name} is not set")

    return _REF.sub(sub, value)


def referenced_values(server: ServerConfig, environ: dict[str, str] | None = None) -> list[str]:
    """The values `${...}` references resolve to: redacted wherever text leaves the worker."""
    env = os.environ if environ is None else environ
    texts = [*server.env.values(), *server.headers.values(), *server.args, server.url or ""]
    names = {m.group(1) for t in texts for m in _REF.finditer(t)}
    secret_keys = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|AUTH", re.IGNORECASE)
    literal = [v for k, v in server.env.items() if secret_keys.search(k)]
    values = [*(env[n] for n in names if n in env), *literal]
    # Short values (ports, flags) would redact half the text they appear in.
    return sorted({v for v in values if len(v) >= 6 and "${" not in v}, key=len, reverse=True)
