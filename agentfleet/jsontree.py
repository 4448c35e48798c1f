"""Small operations on JSON-shaped values: dicts, lists and scalars.

Shared by the tool schemas and the simulator's token counting.
"""

from __future__ import annotations

from typing import Any


def without_key(obj: Any, key: str) -> Any:
    """A copy of `obj` with `key` dropped from every dict at any depth.

    Used for keys that are noise to whoever reads the tree: Pydantic's auto titles in a
    tool schema, the `cache_control` markers that are not prompt tokens.
    """
    if isinstance(obj, dict):
        return {k: without_key(v, key) for k, v in obj.items() if k != key}
    if isinstance(obj, list):
        return [without_key(v, key) for v in obj]
    return obj
