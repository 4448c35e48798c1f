"""Workflow task timeouts for the agent workflows, and why they are what they are.

A workflow task is one turn of a workflow's code on a worker: replay what is new, decide
the next commands. When a worker dies holding one, the server hands it to another worker
only once the task's start-to-close timeout has passed. Temporal's default is 10 s, and
it was the whole gap the chaos bench measured: after a SIGKILL every run whose task the
dead worker held sat still for 10 s ("all in-flight resumed" median 10.1 s).

An agent workflow's task does little: a few model payloads in, a few commands out, at
most a ledger write or a verification as a local activity (which the SDK keeps alive
past this timeout by heartbeating the task). Measured on this 2-core machine under the
chaos bench and the 200-child fan-out (bench/overhead.py), such tasks take milliseconds
to tens of milliseconds; none came near a second. So `AGENT_TASK_TIMEOUT` is 2 s: a dead
worker's task moves on after 2 s instead of 10 s.

The trade-off: a task that really takes longer than this (a machine so overloaded that
a task waits seconds for the worker's Python thread) times out, and the server retries
it. The work is not lost, only redone, and the SDK's own deadlock detector already fails
any activation that holds the thread for 2 s. On much slower hardware raise it here.

Masters get it from their starter (`agentfleet run`, the FleetWorkflow), sub-agents from
their parent; a master started from the Temporal UI keeps the UI's 10 s default, and its
sub-agents still get 2 s. The FleetWorkflow itself keeps the default: its tasks can carry
hundreds of updates and it holds no model call, so a few seconds more after a crash cost
no agent progress.
"""

from __future__ import annotations

from datetime import timedelta

AGENT_TASK_TIMEOUT = timedelta(seconds=2)

# Guards the task timeout on child starts (a changed StartChildWorkflowExecution command).
PATCH_TASK_TIMEOUTS = "agentfleet-task-timeouts-1"
