"""What every command's output shares: one JSON document on stdout, progress on stderr.

`--json` output is for scripts, so it is exactly one document and nothing else on
stdout; what a person should see while a command works goes to stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def emit_json(doc: Any) -> None:
    """Write `doc` as the command's one JSON document (datetimes and paths as text)."""
    sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def say(msg: str) -> None:
    """Progress for the person at the terminal, kept off stdout so pipes stay clean."""
    print(msg, file=sys.stderr, flush=True)
