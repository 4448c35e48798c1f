"""A real MCP server for the tests, written with the SDK's MCPServer (FastMCP in mcp 1.x).

    python tests/mcp_notes_server.py --log FILE [--http PORT]

stdio by default, streamable HTTP at http://127.0.0.1:PORT/mcp with --http. Every
invocation appends one JSON line to FILE ({"tool", "event": "start"|"end", "pid", ...})
before it does anything, so a test counts how often each tool really ran, whichever
worker called it and whether that worker lived to see the answer.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("notes", log_level="WARNING")
LOG: Path | None = None
NOTES: list[str] = []


def _log(tool: str, event: str, **fields: object) -> None:
    if LOG is not None:
        with LOG.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"tool": tool, "event": event, "pid": os.getpid(), **fields}) + "\n")
            f.flush()
            os.fsync(f.fileno())


@server.tool(annotations=ToolAnnotations(readOnlyHint=True, idempotentHint=True))
def lookup(key: str, seconds: float = 0.0) -> str:
    """Look up the note stored under key (read-only)."""
    _log("lookup", "start", key=key)
    time.sleep(seconds)
    _log("lookup", "end", key=key)
    return f"note {key}: the value of {key} is 42"


@server.tool(annotations=ToolAnnotations(destructiveHint=False, idempotentHint=False))
def add_note(text: str, seconds: float = 0.0) -> str:
    """Append a note (not idempotent: each call adds one)."""
    _log("add_note", "start", text=text)
    time.sleep(seconds)
    NOTES.append(text)
    _log("add_note", "end", text=text)
    return f"added note {len(NOTES)}: {text}"


@server.tool()
def whoami() -> str:
    """Says which token the server was started with (to test redaction)."""
    _log("whoami", "start")
    return f"token={os.environ.get('NOTES_TOKEN', '')}"


@server.tool(annotations=ToolAnnotations(readOnlyHint=True))
def dump(size: int) -> str:
    """Return size bytes of text."""
    _log("dump", "start", size=size)
    return ("0123456789abcdef" * (size // 16 + 1))[:size]


def main() -> None:
    global LOG
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    p.add_argument("--http", type=int)
    args = p.parse_args()
    LOG = Path(args.log)
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.http)
    else:
        server.run()


if __name__ == "__main__":
    main()
