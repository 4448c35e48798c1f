"""A workflow whose one activity hangs on its first attempt, run by a real worker process.

    python -m tests.held_workflows    (AGENTFLEET_HOME, TEMPORAL_ADDRESS, AGENTFLEET_TASK_QUEUE)

The process is `agentfleet.serve.serve`, as `worker.py` runs it, with only this workflow
and activity registered (tests/test_held_attempts.py).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

HELD_ACTIVITY = "tests.held.wait"


@activity.defn(name=HELD_ACTIVITY)
async def held_wait(marker: str) -> int:
    """Hang on the first attempt (its worker is killed meanwhile); answer on any other."""
    attempt = activity.info().attempt
    if attempt == 1:
        await asyncio.Event().wait()
    return attempt


@workflow.defn(name="HeldProbe")
class HeldProbeWorkflow:
    @workflow.run
    async def run(self, marker: str) -> int:
        """The attempt that answered."""
        return await workflow.execute_activity(
            HELD_ACTIVITY,
            marker,
            result_type=int,
            start_to_close_timeout=timedelta(minutes=5),
            # Both far longer than the test waits: only the successor can end the dead
            # attempt, and only the retry delay its failure names can bring the retry soon.
            heartbeat_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=60)),
        )


def main() -> None:
    from pathlib import Path

    from temporalio.client import Client
    from temporalio.worker import Worker

    from agentfleet.config import Settings
    from agentfleet.logs import setup_logging
    from agentfleet.serve import serve

    def build(client: Client, settings: Settings) -> Worker:
        return Worker(
            client,
            task_queue=settings.task_queue,
            workflows=[HeldProbeWorkflow],
            activities=[held_wait],
        )

    setup_logging()
    asyncio.run(serve(Settings.from_env(), build, workflow_code=Path(__file__).parent))


if __name__ == "__main__":
    main()
