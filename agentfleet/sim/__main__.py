import sys

from agentfleet.sim.cli import main

sys.exit(main())
