from agentfleet.cli import main

raise SystemExit(main())
