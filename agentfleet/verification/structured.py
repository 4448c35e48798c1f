"""What a targeted edit of a JSON file must leave alone: every key the task did not name.

A rewrite may reformat JSON freely, so its lines are not held to the original (see
kept.py). Its keys are: "Set the version in package.json to 2.0.0" done by writing a
package.json with the version and nothing else has lost the scripts and dependencies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

_WORD = re.compile(r"[\w$-]+")
# A task that takes things out may take out keys it does not name ("Remove the unused
# dependencies"): which ones is not for a check of keys to say.
_TAKES_OUT = re.compile(
    r"\b(?:remove|delete|drop|strip|prune|purge|clean|trim|get\s+rid|replace|restructure"
    r"|flatten|nest|merge|split|move)\w*",
    re.I,
)


def _keys(value: Any, at: str = "") -> Iterator[str]:
    """Every key path in a JSON value: "scripts", "scripts.test"; list items share "[]"."""
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{at}.{key}" if at else str(key)
            yield path
            yield from _keys(inner, path)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner, f"{at}[]")


def lost_keys(original: str, final: str, task: str) -> list[str]:
    """Key paths of the original JSON the final lost, sparing any key the task names.

    Text that is not JSON, before or after, is not judged here, nor a task that takes
    things out.
    """
    if _TAKES_OUT.search(task):
        return []
    try:
        old, new = json.loads(original), json.loads(final)
    except ValueError:
        return []
    named = {w.casefold() for w in _WORD.findall(task)}
    have = set(_keys(new))
    lost = []
    for path in dict.fromkeys(_keys(old)):
        parts = re.split(r"\.|\[\]\.?", path)
        if path not in have and not any(p.casefold() in named for p in parts if p):
            lost.append(path)
    # A lost object is one loss, not one per key inside it.
    return [
        p for p in lost if not any(p.startswith(q + ".") or p.startswith(q + "[]") for q in lost)
    ]
