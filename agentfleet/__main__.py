"""`python -m agentfleet`: the same command as the `agentfleet` script."""

from agentfleet.cli.main import console_main

console_main()
