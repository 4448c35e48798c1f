"""`python -m agentfleet.sim`: the simulator with no `agentfleet` CLI around it (Docker)."""

import sys

from agentfleet.sim.cli import main

sys.exit(main())
