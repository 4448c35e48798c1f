"""`agentfleet workspace restore NAME [PATH ...] [--run RUN] [--to DEST] [--json]`.

Agents never destroy a file: delete_file moves it into the workspace's trash
(`.trash/<run>/<path>`, agentfleet/sandbox/trash.py). With no PATH this lists
what the trash holds; with paths it moves each one back (the newest version,
from RUN if given; `--to` restores one path elsewhere). It never overwrites a
file: a path that exists again is named in the error.

Like the other commands: `--json` prints one JSON document on stdout; problems
raise `CliError` (one line on stderr, exit 2). No Temporal import.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agentfleet.config import Settings
from agentfleet.contracts.models import WORKSPACE_NAME
from agentfleet.errors import CliError
from agentfleet.sandbox import RestoreError, TrashEntry, list_trash, restore

__all__ = ["workspace_restore"]


# The keys of a trash entry in `--json` output, in their order.
_ENTRY_KEYS = ("path", "run", "version", "kind", "size", "modified", "slot")


def _entry(e: TrashEntry) -> dict[str, Any]:
    """A trash entry as `--json` prints it: its fields, the time in ISO 8601."""
    return {key: getattr(e, key) for key in _ENTRY_KEYS} | {"modified": e.modified.isoformat()}


def workspace_restore(
    settings: Settings,
    name: str,
    paths: Sequence[str],
    *,
    run: str | None = None,
    to: str | None = None,
    as_json: bool = False,
) -> int:
    """List the trash of workspace `name`, or move `paths` back out of it.

    Agents never destroy a file, so this is how a person undoes a deletion;
    it never overwrites a file that exists again.
    """
    if not WORKSPACE_NAME.fullmatch(name):
        raise CliError(f"workspace: {name!r} is not a workspace name (letters, digits, . _ -)")
    root = settings.workspaces / name
    if not root.is_dir():
        raise CliError(f"workspace {name!r} does not exist under {settings.workspaces}")
    if to is not None and len(paths) != 1:
        raise CliError("--to: give exactly one PATH to restore elsewhere")
    if not paths:
        entries = list_trash(root, run)
        if as_json:
            print(json.dumps({"workspace": name, "trash": [_entry(e) for e in entries]}))
        elif not entries:
            print(f"the trash of {name} is empty" + (f" for run {run}" if run else ""))
        else:
            for e in entries:
                version = f" (version {e.version})" if e.version > 1 else ""
                size = f"{e.size} bytes"
                print(f"{e.path}{'/' if e.kind == 'dir' else ''}{version}  {size}  run {e.run}")
            print(f"restore with: agentfleet workspace restore {name} PATH [--run RUN]")
        return 0
    restored: list[dict[str, Any]] = []
    for path in paths:
        try:
            entry = restore(root, path, run=run, to=to)
        except RestoreError as err:
            done = f" (restored before it: {', '.join(r['path'] for r in restored)})"
            raise CliError(f"{err}{done if restored else ''}") from None
        restored.append({**_entry(entry), "restored_to": to or entry.path})
        if not as_json:
            print(f"restored {entry.path} -> {to or entry.path} (from run {entry.run})")
    if as_json:
        print(json.dumps({"workspace": name, "restored": restored}))
    return 0
