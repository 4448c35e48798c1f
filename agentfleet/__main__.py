from agentfleet.cli import console_main

console_main()
