"""The worker's MCP client sessions: one per configured server, held open.

A session lives in a task of its own (the SDK's transports are anyio task
groups, which must be entered and left in one task). A server that cannot be
reached is named with the reason and tried again on the next use, bounded by
CONNECT_TIMEOUT_S, never in an endless loop. A session whose transport breaks
is dropped, and the next call opens a new one.

Errors are sorted by what they mean for a retry:
- `McpUnavailable`: the request was never sent (no session): safe to retry;
- `McpLost`: sent, then the session broke or timed out: the outcome is unknown;
- `McpRejected`: the server answered with a protocol error: retrying repeats it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO, cast

from agentfleet.contracts.models import MCP_PREFIX, McpCatalog, McpTool
from agentfleet.mcp.config import (
    McpConfig,
    ServerConfig,
    expand,
    referenced_values,
)

log = logging.getLogger("agentfleet.mcp")

CONNECT_TIMEOUT_S = 15.0
CONNECT_TRIES = 3
MAX_LIST_PAGES = 20
# The Messages API's limit on tool names.
MAX_TOOL_NAME = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class McpUnavailable(Exception):
    """No session to the server: the call was not sent."""


class McpLost(Exception):
    """The call was sent and its session broke or timed out: outcome unknown."""


class McpRejected(Exception):
    """The server answered the call with a protocol error."""


def tool_name(server: str, tool: str) -> str:
    """The name a model sees for a server's tool: `mcp__<server>__<tool>`.

    Characters a tool name may not hold are replaced.
    """
    return f"{MCP_PREFIX}{server}__{_UNSAFE.sub('_', tool)}"


def _hint(annotations: Any, *names: str) -> bool | None:
    if annotations is None:
        return None
    for name in names:
        value = getattr(annotations, name, None)
        if value is not None:
            return bool(value)
    return None


def describe(err: BaseException) -> str:
    """One line for an error, unwrapping anyio's exception groups."""
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}"[:300] if text else type(err).__name__


@dataclass
class _Server:
    name: str
    cfg: ServerConfig
    secrets: list[str]
    stderr: Path | None
    client: Any = None
    stop: asyncio.Event | None = None
    task: asyncio.Task[None] | None = None
    error: str | None = None
    tools: list[McpTool] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[REDACTED]")
        return text


class McpHub:
    """The worker's connections to its MCP servers.

    Each connects on first use; the secrets its config references are redacted from what it reports.
    """

    def __init__(self, config: McpConfig, logs_dir: Path | None = None) -> None:
        self.config = config
        self._servers: dict[str, _Server] = {}
        for name, cfg in config.servers.items():
            if cfg.disabled:
                continue
            stderr = logs_dir / f"mcp-{name}.log" if logs_dir else None
            # Resolved now only to know what to redact; the values stay in this process.
            try:
                secrets = referenced_values(cfg)
            except Exception:  # noqa: BLE001 - a missing variable is reported at connect
                secrets = []
            self._servers[name] = _Server(name, cfg, secrets, stderr)

    @property
    def servers(self) -> list[str]:
        """The names of the servers not disabled."""
        return sorted(self._servers)

    # --- sessions ---

    async def _connect(self, srv: _Server) -> Any:
        async with srv.lock:
            if srv.client is not None:
                return srv.client
            ready = asyncio.Event()
            stop = asyncio.Event()
            srv.stop = stop
            srv.task = asyncio.create_task(self._hold(srv, ready, stop), name=f"mcp-{srv.name}")
            try:
                await asyncio.wait_for(ready.wait(), CONNECT_TIMEOUT_S)
            except TimeoutError:
                srv.task.cancel()
                srv.error = f"no answer within {CONNECT_TIMEOUT_S:.0f} s"
            if srv.client is None:
                raise McpUnavailable(
                    f"MCP server {srv.name!r} is not reachable: {srv.error or 'unknown error'}"
                )
            srv.error = None
            return srv.client

    async def _hold(self, srv: _Server, ready: asyncio.Event, stop: asyncio.Event) -> None:
        from mcp import Client

        try:
            async with contextlib.AsyncExitStack() as stack:
                if srv.cfg.transport == "stdio":
                    errlog: IO[str] | None = None
                    if srv.stderr is not None:
                        # The server's own stderr: its tracebacks, kept off the worker's log.
                        srv.stderr.parent.mkdir(parents=True, exist_ok=True)
                        errlog = stack.enter_context(srv.stderr.open("a", encoding="utf-8"))
                    transport = self._stdio(srv, errlog)
                else:
                    transport = await self._http(srv, stack)
                client = await stack.enter_async_context(Client(cast(Any, transport)))
                srv.client = client
                ready.set()
                await stop.wait()
        except BaseException as err:
            srv.error = srv.redact(describe(err))
            if not isinstance(err, asyncio.CancelledError | Exception):
                raise
        finally:
            srv.client = None
            ready.set()

    async def _http(self, srv: _Server, stack: contextlib.AsyncExitStack) -> Any:
        cfg, where = srv.cfg, f"{self.config.source}: mcpServers.{srv.name}"
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        headers = {k: expand(v, f"{where}.headers.{k}") for k, v in cfg.headers.items()}
        http = await stack.enter_async_context(create_mcp_http_client(headers=headers or None))
        return streamable_http_client(expand(cfg.url or "", f"{where}.url"), http_client=http)

    def _stdio(self, srv: _Server, errlog: IO[str] | None) -> Any:
        import sys

        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client

        cfg, where = srv.cfg, f"{self.config.source}: mcpServers.{srv.name}"
        params = StdioServerParameters(
            command=expand(cfg.command or "", f"{where}.command"),
            args=[expand(a, f"{where}.args") for a in cfg.args],
            env={k: expand(v, f"{where}.env.{k}") for k, v in cfg.env.items()},
            cwd=cfg.cwd,
        )
        return stdio_client(params, errlog=cast(TextIO, errlog or sys.stderr))

    def _drop(self, srv: _Server) -> None:
        if srv.stop is not None:
            srv.stop.set()
        srv.client = None

    async def close(self) -> None:
        """Closes every connection, waiting a few seconds for each to end."""
        tasks = []
        for srv in self._servers.values():
            self._drop(srv)
            if srv.task is not None:
                tasks.append(srv.task)
        for task in tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 5)

    # --- discovery ---

    async def _list(self, srv: _Server) -> list[McpTool]:
        client = await self._connect(srv)
        tools: list[McpTool] = []
        cursor: str | None = None
        try:
            for _ in range(MAX_LIST_PAGES):
                page = await client.list_tools(cursor=cursor)
                tools.extend(t for t in (self._tool(srv, raw) for raw in page.tools) if t)
                cursor = page.next_cursor
                if not cursor:
                    break
        except Exception as err:  # noqa: BLE001 - any failure to list is this server's outage
            self._drop(srv)
            raise McpUnavailable(
                f"MCP server {srv.name!r} did not list its tools: {srv.redact(describe(err))}"
            ) from None
        return tools

    def _tool(self, srv: _Server, raw: Any) -> McpTool | None:
        name = tool_name(srv.name, raw.name)
        if len(name) > MAX_TOOL_NAME:
            log.warning(
                "MCP tool %s of %s skipped: name over %d", raw.name, srv.name, MAX_TOOL_NAME
            )
            return None
        over = srv.cfg.tools.get(raw.name)
        idempotent = over.idempotent if over and over.idempotent is not None else None
        if idempotent is None:
            idempotent = srv.cfg.idempotent
        if idempotent is None:
            # The spec's defaults: a tool is neither read-only nor idempotent unless it says so.
            ann = raw.annotations
            idempotent = bool(
                _hint(ann, "read_only_hint", "readOnlyHint")
                or _hint(ann, "idempotent_hint", "idempotentHint")
            )
        schema = dict(raw.input_schema or {})
        schema.setdefault("type", "object")
        return McpTool(
            name=name,
            server=srv.name,
            tool=raw.name,
            description=(raw.description or getattr(raw, "title", None) or "")[:4000],
            input_schema=schema,
            idempotent=idempotent,
            timeout_s=over.timeout if over and over.timeout else srv.cfg.timeout,
        )

    async def catalog(self) -> McpCatalog:
        """Every reachable server's tools now; unreachable ones named with the reason."""
        names = self.servers
        results = await asyncio.gather(
            *(self._list(self._servers[n]) for n in names), return_exceptions=True
        )
        out = McpCatalog()
        for name, res in zip(names, results, strict=True):
            srv = self._servers[name]
            if isinstance(res, BaseException):
                out.errors[name] = str(res) if isinstance(res, McpUnavailable) else describe(res)
                srv.error = out.errors[name]
                continue
            srv.tools = res
            out.tools.extend(res)
        return out

    def known(self, name: str) -> McpTool | None:
        """A tool from the last listing, whatever its server's state now."""
        for srv in self._servers.values():
            for tool in srv.tools:
                if tool.name == name:
                    return tool
        return None

    # --- calls ---

    async def call(self, server: str, tool: str, args: dict[str, Any], timeout_s: float) -> Any:
        """Calls a tool on a server.

        A lost connection raises `McpLost` (retryable); a protocol error raises `McpRejected`.
        """
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        srv = self._servers.get(server)
        if srv is None:
            raise McpUnavailable(
                f"MCP server {server!r} is not configured on this worker ({self.config.source})"
            )
        for attempt in range(CONNECT_TRIES):
            try:
                client = await self._connect(srv)
                break
            except McpUnavailable:
                # Nothing was sent yet, so trying again is safe for any tool.
                if attempt == CONNECT_TRIES - 1:
                    raise
                await asyncio.sleep(1.0 * (attempt + 1))
        try:
            return await client.call_tool(tool, args, read_timeout_seconds=timeout_s)
        except MCPError as err:
            if "timed out" in err.error.message.lower() or err.code in (
                REQUEST_TIMEOUT,
                CONNECTION_CLOSED,
            ):
                self._drop(srv)
                raise McpLost(srv.redact(f"{err.error.message}")) from None
            raise McpRejected(srv.redact(f"MCP error {err.code}: {err.error.message}")) from None
        except Exception as err:  # noqa: BLE001 - a broken transport, whatever its type
            self._drop(srv)
            raise McpLost(srv.redact(describe(err))) from None

    def redact(self, server: str, text: str) -> str:
        """The text with the server's secrets replaced by [REDACTED]."""
        srv = self._servers.get(server)
        return srv.redact(text) if srv else text
