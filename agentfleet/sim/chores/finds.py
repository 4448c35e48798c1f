"""Searching file contents, and calling an MCP tool.

A search goes through search_files when it is offered (one call, `file:line:
text` back) and, as a model would without it, through a listing and a read of
every file otherwise. The results go into the file the request names.

An MCP tool is called when the task carries `[sim:call=mcp__<server>__<tool>
{json}]` (tests script it that way) or says "use the <server> <tool> tool".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from agentfleet.sim.chores.base import Done, Env, Gen, Op, Use, failed, listing, show
from agentfleet.sim.chores.content import unquote
from agentfleet.sim.chores.phrases import FLAGS, P
from agentfleet.sim.chores.text import Context, clean_path

_HIT = re.compile(r"^(?P<f>[^:\n]+):(?P<n>\d+): ?(?P<t>.*)$")


@dataclass(frozen=True)
class Search(Op):
    directory: str
    word: str
    lines: bool  # collect the lines (else the names of the files)
    target: str | None = None

    def run(self, env: Env) -> Gen:
        what = f"search {show(self.directory)} for '{self.word}'"
        pattern = "(?i)" + re.escape(self.word)
        if "search_files" in env.offered:
            use = Use("search_files", {"path": self.directory, "pattern": pattern})
            (got,) = yield [use]
            if not got.ok:
                return failed(what, use, got)
            hits = [
                (m.group("f"), m.group("t"))
                for ln in got.text.splitlines()
                if (m := _HIT.match(ln))
            ]
        else:
            if "list_files" not in env.offered or "read_file" not in env.offered:
                return Done(f"I could not {what}: no tool to search or read files was offered.")
            use = Use("list_files", {"path": self.directory, "recursive": True})
            (got,) = yield [use]
            if not got.ok:
                return failed(what, use, got)
            files, _ = listing(got.text, self.directory)
            reads = [Use("read_file", {"path": f}) for f in files]
            texts = (yield reads) if reads else []
            rx = re.compile(pattern)
            hits = [
                (f, line)
                for f, t in zip(files, texts, strict=False)
                if t.ok
                for line in t.text.splitlines()
                if rx.search(line)
            ]
        found = (
            [t.strip() for _, t in hits] if self.lines else list(dict.fromkeys(f for f, _ in hits))
        )
        noun = "lines" if self.lines else "files"
        if self.target is None:
            listing_text = "".join(f"\n- {x}" for x in found) or " none"
            return Done(
                f"{noun.capitalize()} with '{self.word}':{listing_text}", wanted_change=False
            )
        if "write_file" not in env.offered:
            return Done(f"I could not write {self.target}: the write_file tool was not offered.")
        body = "".join(f"{x}\n" for x in found)
        write = Use("write_file", {"path": self.target, "content": body})
        (out,) = yield [write]
        if not out.ok:
            return failed(f"write {self.target}", write, out)
        return Done(
            f"Found {len(found)} {noun} with '{self.word}' in {show(self.directory)}. "
            f"Wrote them to {self.target}.",
            changed=True,
        )

    def outputs(self) -> list[str]:
        return [self.target] if self.target else []

    def reads(self) -> list[str]:
        return [self.directory]

    def tools(self) -> list[str]:
        return ["search_files", "write_file"] if self.target else ["search_files"]

    def claim(self) -> str | None:
        return f"I wrote the results to {self.target}." if self.target else None

    def step(self) -> str:
        return f"search {show(self.directory)} for '{self.word}'"


_WORD = r"(?P<w>'[^']+'|\"[^\"]+\"|`[^`]+`|[\w#@.-]+)"
_DIR = rf"(?P<d>{P})"
_NAMES = re.compile(
    rf"^(?:find|list|show|tell\s+me|which)\s+(?:out\s+)?(?:which\s+|all\s+|the\s+)?files?\s+"
    rf"(?:in|under|inside)\s+{_DIR}\s+(?:mention|contain|include|reference|say)s?\s+{_WORD}$",
    FLAGS,
)
_LINES = re.compile(
    rf"^(?:collect|gather|find|list|extract|copy|pull(?:\s+out)?)\s+(?:every|each|all(?:\s+the)?|the)\s+"
    rf"lines?\s+(?:with|containing|that\s+(?:contain|mention)s?|mentioning)\s+{_WORD}"
    rf"(?:\s+in\s+it)?\s+(?:from|in)\s+(?:the\s+files\s+in\s+)?{_DIR}"
    rf"(?:\s+(?:into|to|in)\s+(?P<t>{P}))?$",
    FLAGS,
)
# "write their names to found.txt": the clause after a search names its target.
RESULTS = frozenset(
    {"their names", "the names", "the file names", "them", "the results", "the lines", "it"}
)


def search(s: str, ctx: Context, produce: tuple[str, ...]) -> Op | None:
    if m := _NAMES.match(s.strip().rstrip(".")):
        return Search(clean_path(m.group("d")).rstrip("/") or ".", unquote(m.group("w")), False)
    if m := _LINES.match(s.strip().rstrip(".")):
        target = clean_path(m.group("t")) if m.group("t") else None
        return Search(
            clean_path(m.group("d")).rstrip("/") or ".", unquote(m.group("w")), True, target
        )
    return None


@dataclass(frozen=True)
class McpCall(Op):
    name: str
    args: str  # JSON text: an Op is frozen, a dict would not hash
    changes = False

    def run(self, env: Env) -> Gen:
        if self.name not in env.offered:
            return Done(f"I could not call {self.name}: it was not offered.", wanted_change=False)
        use = Use(self.name, json.loads(self.args or "{}"))
        (out,) = yield [use]
        if not out.ok:
            return Done(f"{self.name} failed: {out.first_line}", wanted_change=False)
        return Done(f"{self.name} answered: {out.first_line}", wanted_change=False)

    def tools(self) -> list[str]:
        return [self.name]

    def step(self) -> str:
        return f"call {self.name}"


_USE = re.compile(
    r"\buse\s+the\s+(?P<s>[A-Za-z0-9-]+)\s+(?P<t>[A-Za-z0-9_-]+)\s+tool"
    r"(?:\s+with\s+(?P<a>\{.*\}))?",
    re.IGNORECASE,
)


def mcp_calls(text: str, found: dict[str, str]) -> list[McpCall]:
    """The MCP calls a task asks for, by directive or in words."""
    out: list[McpCall] = []
    raw = found.get("call", "")
    if raw:
        name, _, args = raw.partition(" ")
        out.append(McpCall(name.strip(), _json(args)))
    for m in _USE.finditer(text):
        out.append(McpCall(f"mcp__{m.group('s')}__{m.group('t')}", _json(m.group("a") or "")))
    return out


def _json(text: str) -> str:
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        value = {}
    return json.dumps(value if isinstance(value, dict) else {})


__all__ = ["RESULTS", "McpCall", "Search", "mcp_calls", "search"]
