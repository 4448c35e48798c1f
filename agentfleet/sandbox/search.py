"""search_files: a glob over paths and a regular expression over contents.

Bounded every way a model could make it unbounded: files looked at, bytes read
per file and in all, matches returned and bytes of output. A regular
expression can backtrack for hours on one line (`(a+)+$`), and Python's `re`
holds the GIL while it does, which would stall the whole worker, heartbeats
included. So a pattern that is not a plain string is matched in a child
process with a hard time limit; plain strings are searched here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from agentfleet.sandbox import _io
from agentfleet.sandbox._io import SNIFF_BYTES, NotRegular, TooLarge, ToolError, os_errors
from agentfleet.sandbox.args import SearchFilesArgs
from agentfleet.sandbox.box import SandboxCore

MAX_MATCHES = 200
MAX_OUTPUT = 64 * 1024
MAX_FILES_SCANNED = 5000
MAX_FILE_BYTES = 1024 * 1024
MAX_SCAN_BYTES = 16 * 1024 * 1024
MAX_LINE_SHOWN = 300
REGEX_SECONDS = 5.0

# Run with -I -S: no site-packages, no environment, no user code; only `re`.
_MATCHER = r"""
import json, re, sys
job = json.load(sys.stdin)
rx = re.compile(job["pattern"])
out = []
for name, text in job["files"]:
    for n, line in enumerate(text.split("\n"), 1):
        if rx.search(line):
            out.append([name, n, line])
            if len(out) >= job["max"]:
                break
    if len(out) >= job["max"]:
        break
json.dump(out, sys.stdout)
"""


def glob_regex(glob: str) -> re.Pattern[str]:
    """A glob as ripgrep reads one.

    `*` and `?` stay within a path segment, `**` crosses them, and a glob with no `/` matches the
    file name anywhere.
    """
    i, out = 0, []
    while i < len(glob):
        c = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = glob.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = glob[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif c == "{":
            end = glob.find("}", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                out.append(
                    "(?:" + "|".join(re.escape(p) for p in glob[i + 1 : end].split(",")) + ")"
                )
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def _literal(pattern: str) -> bool:
    return re.escape(pattern) == pattern or not any(ch in pattern for ch in ".^$*+?{}[]\\|()")


class SearchTools(SandboxCore):
    """The search_files tool."""

    def search_files(self, args: SearchFilesArgs) -> tuple[str, bool]:
        """The search_files tool: paths by glob and/or lines by regular expression.

        What is scanned and shown is capped (MAX_FILES_SCANNED, MAX_MATCHES, MAX_OUTPUT).
        """
        top = self.resolve(args.path)
        shown = self.display(top)
        with os_errors("search", shown):
            if not top.is_dir():
                if os.path.lexists(top):
                    raise ToolError(f"{shown} is not a directory; give the folder to search in")
                raise ToolError(f"directory {shown} does not exist")
            prefix = "" if top == self.root else shown + "/"
            paths = sorted(self.walk(top, prefix, recursive=True))
        notes: list[str] = []
        if len(paths) > MAX_FILES_SCANNED:
            notes.append(f"only the first {MAX_FILES_SCANNED} of {len(paths)} files were searched")
            paths = paths[:MAX_FILES_SCANNED]
        if args.glob:
            rx = glob_regex(args.glob)
            base = prefix
            paths = [
                p
                for p in paths
                if rx.match(p[len(base) :] if "/" in args.glob else p.rsplit("/", 1)[-1])
            ]
        if args.pattern is None:
            return self._format(paths, notes, "path"), False
        files, skipped = self._texts(paths)
        if skipped:
            notes.append(skipped)
        hits = self._match(args.pattern, files)
        lines = [f"{name}:{n}: {_clip(text)}" for name, n, text in hits]
        if len(hits) >= MAX_MATCHES:
            notes.append(f"stopped at {MAX_MATCHES} matches; narrow the path, glob or pattern")
        return self._format(lines, notes, "match"), False

    def _texts(self, paths: list[str]) -> tuple[list[tuple[str, str]], str]:
        out: list[tuple[str, str]] = []
        total = 0
        binary = big = 0
        for rel in paths:
            full = self.root / rel
            try:
                data = _io.read_regular(full, MAX_FILE_BYTES)
            except TooLarge:
                big += 1
                continue
            except (NotRegular, OSError):
                continue
            if data is None:
                continue
            if _io.is_binary(data[:SNIFF_BYTES]):
                binary += 1
                continue
            if total + len(data) > MAX_SCAN_BYTES:
                big += len(paths) - len(out) - binary
                break
            total += len(data)
            out.append((rel, data.decode("utf-8", errors="replace")))
        parts = []
        if binary:
            parts.append(f"{binary} binary file(s) skipped")
        if big:
            parts.append(f"{big} file(s) over the size limit skipped")
        return out, "; ".join(parts)

    @staticmethod
    def _match(pattern: str, files: list[tuple[str, str]]) -> list[tuple[str, int, str]]:
        if _literal(pattern):
            hits: list[tuple[str, int, str]] = []
            for name, text in files:
                for n, line in enumerate(text.split("\n"), 1):
                    if pattern in line:
                        hits.append((name, n, line))
                        if len(hits) >= MAX_MATCHES:
                            return hits
            return hits
        job = json.dumps({"pattern": pattern, "files": files, "max": MAX_MATCHES})
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-S", "-c", _MATCHER],
                input=job,
                capture_output=True,
                text=True,
                timeout=REGEX_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ToolError(
                f"the pattern took over {REGEX_SECONDS:.0f} s on these files and was stopped; "
                "use a simpler pattern (nested repeats like (a+)+ backtrack without end)"
            ) from None
        if done.returncode != 0:
            raise OSError(5, "the search process failed")
        return [(str(a), int(b), str(c)) for a, b, c in json.loads(done.stdout)]

    @staticmethod
    def _format(lines: list[str], notes: list[str], what: str) -> str:
        if not lines:
            return ("(no matching paths)" if what == "path" else "(no matches)") + "".join(
                f"\n[{n}]" for n in notes
            )
        kept: list[str] = []
        used = 0
        for line in lines:
            used += len(line.encode("utf-8")) + 1
            if used > MAX_OUTPUT:
                more = len(lines) - len(kept)
                notes.append(f"output cut at {MAX_OUTPUT // 1024} KiB; {more} more not shown")
                break
            kept.append(line)
        return "\n".join(kept) + "".join(f"\n[{n}]" for n in notes)


def _clip(text: str) -> str:
    text = text.rstrip("\r")
    return text if len(text) <= MAX_LINE_SHOWN else text[:MAX_LINE_SHOWN] + "..."
