"""The file tools' public names, kept importable from their first home.

The sandbox grew into a package (`agentfleet/sandbox/`); workflows, activities,
the simulator's tests and recorded imports still say `agentfleet.tools`.
"""

from __future__ import annotations

from agentfleet.sandbox import *  # noqa: F403
from agentfleet.sandbox import __all__ as __all__
