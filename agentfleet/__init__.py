"""agentfleet: durable fleets of Claude agents on Temporal.

The package holds the domain core. Nothing in it imports Temporal's worker or
touches the network at import time, so workflows can import models and pure
policy code inside the sandbox, and tools such as the CLI stay fast to start.
"""

TASK_QUEUE = "agentfleet"
