"""MCP activities: the catalogue of the worker's servers, and one tool call.

A call's retry class is decided by the workflow from the catalogue it recorded
(workflows/_calls.py): an idempotent tool is retried after a crash, any other
runs at most once. Here errors are sorted so that choice is safe: a call that
never reached the server is retryable even for a tool that is not idempotent
(nothing ran); a call whose outcome is unknown is retryable only for an
idempotent tool; a server that answers with an error is the model's to handle.

A result larger than RESULT_INLINE_LIMIT goes to the blob store: the model
and the history get its start and a reference, never megabytes per turn.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities._beat import beating
from agentfleet.contracts.activities import MCP_CALL_ACTIVITY, MCP_LIST_ACTIVITY
from agentfleet.contracts.models import Effect, McpCallRequest, McpCatalog, ToolResult
from agentfleet.mcp import McpHub, McpLost, McpRejected, McpUnavailable
from agentfleet.payloads.blobstore import BlobStore
from agentfleet.telemetry import tool_call

# What of a result stays inline: it is resent to the model on every later turn.
RESULT_INLINE_LIMIT = 64 * 1024
HEARTBEAT_EVERY_S = 0.5
T = TypeVar("T")


async def _heartbeating(call: Awaitable[T]) -> T:
    # A dead worker's call is noticed within the heartbeat timeout, not the call's.
    return await beating(call, every_s=HEARTBEAT_EVERY_S)


def result_text(result: Any) -> str:
    """An MCP CallToolResult as the text a model reads."""
    parts: list[str] = []
    for block in result.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind in ("image", "audio"):
            size = len(getattr(block, "data", "") or "") * 3 // 4
            parts.append(f"[{kind}: {getattr(block, 'mime_type', '?')}, about {size} bytes]")
        elif kind == "resource":
            res = block.resource
            parts.append(getattr(res, "text", None) or f"[resource {res.uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource {block.uri}]")
        else:
            parts.append(f"[{kind or 'unknown'} content]")
    structured = getattr(result, "structured_content", None)
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False))
    return "\n".join(parts) if parts else "(no output)"


class McpActivities:
    """Tools of MCP servers, through this worker's hub of sessions."""

    def __init__(self, hub: McpHub, store: BlobStore) -> None:
        self._hub = hub
        self._store = store

    @activity.defn(name=MCP_LIST_ACTIVITY)
    async def list_tools(self) -> McpCatalog:
        """The catalogue of every server that answers; the others are named in `errors`."""
        catalog = await self._hub.catalog()
        for server, why in catalog.errors.items():
            activity.logger.warning("MCP server %s unavailable: %s", server, why)
        return catalog

    @activity.defn(name=MCP_CALL_ACTIVITY)
    async def call_tool(self, req: McpCallRequest) -> ToolResult:
        """One MCP tool call, in an `execute_tool` span, its large results kept as blobs."""
        with tool_call(req, tool_type="extension") as span:
            result = await self._call(req)
            span.result(result)
            return result

    async def _call(self, req: McpCallRequest) -> ToolResult:
        info = activity.info()
        timeout = info.start_to_close_timeout.total_seconds() if info.start_to_close_timeout else 60
        try:
            raw = await _heartbeating(
                self._hub.call(req.server, req.tool, req.input, max(1.0, timeout - 1.0))
            )
        except McpUnavailable as err:
            # Nothing was sent: a retry cannot run the tool twice.
            raise ApplicationError(str(err), type="McpServerDown") from None
        except McpRejected as err:
            raise ApplicationError(str(err), type="McpError", non_retryable=True) from None
        except McpLost as err:
            raise ApplicationError(
                f"the call to {req.name} broke off: {err}",
                type="McpCallLost",
                non_retryable=not req.idempotent,
            ) from None
        text = self._hub.redact(req.server, result_text(raw))
        content, ref = await self._inline(text)
        activity.logger.info(
            "MCP %s: %d chars%s%s",
            req.name,
            len(text),
            " (error result)" if raw.is_error else "",
            f" (stored as {ref})" if ref else "",
        )
        return ToolResult(
            call_id=req.call_id,
            name=req.name,
            content=content,
            is_error=bool(raw.is_error),
            effects=[Effect(op="call", path=req.name)],
            content_ref=ref,
        )

    async def _inline(self, text: str) -> tuple[str, str | None]:
        data = text.encode("utf-8")
        if len(data) <= RESULT_INLINE_LIMIT:
            return text, None
        ref = await asyncio.to_thread(self._store.put, data)
        head = data[: RESULT_INLINE_LIMIT - 512].decode("utf-8", errors="ignore")
        return (
            f"{head}\n[the result is {len(data)} bytes; this is its start. "
            f"The whole result is stored as {ref}]",
            ref,
        )
