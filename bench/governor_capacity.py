"""How many leases a second one governor workflow grants: where one-workflow-per-model ends.

A private dev server and an in-process worker hosting only `LlmGovernorWorkflow`. CALLERS
concurrent callers each loop acquire (Update-with-Start) then settle (signal), as the LLM
activity does, against limits far above what they can reach, so the workflow's own rate is
what is measured: grants per second, over SECONDS, in each of three rounds (every round
printed, the median last). The server's default of 10 in-flight Updates per workflow
applies; callers back off on RESOURCE_EXHAUSTED as the activity does.

    python -m bench.governor_capacity [--callers 16] [--seconds 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from temporalio.client import Client  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from activities.governor import Governor  # noqa: E402
from agentfleet.cli.devserver import DevServer, free_port  # noqa: E402
from agentfleet.client import connect  # noqa: E402
from agentfleet.governance.limits import GovernorConfig  # noqa: E402
from agentfleet.governance.models import (  # noqa: E402
    GovernorStatus,
    LeaseRequest,
    LeaseSettle,
    ModelLimitsSpec,
)
from workflows.governor import LlmGovernorWorkflow  # noqa: E402

MODEL = "claude-haiku-4-5"


async def one_round(client: Client, callers: int, seconds: float) -> tuple[float, int]:
    queue = f"bench-gov-{uuid.uuid4().hex[:8]}"
    limits = ModelLimitsSpec(requests_per_minute=10_000_000, burst_s=60)
    gov = Governor(GovernorConfig(limits={"*": limits}, scope=queue), client)
    grants = 0
    stop = time.perf_counter() + seconds

    async def caller(n: int) -> None:
        nonlocal grants
        i = 0
        while time.perf_counter() < stop:
            lid = f"c{n}-{i}"
            i += 1
            req = LeaseRequest(lease_id=lid, model=MODEL, input_tokens=100, output_tokens=100)
            grant = await gov.acquire(req.model_copy(update={"limits": limits}), queue)
            if grant.granted:
                grants += 1
                await gov.settle(MODEL, LeaseSettle(lease_id=lid, output_tokens=10))

    async with Worker(client, task_queue=queue, workflows=[LlmGovernorWorkflow]):
        started = time.perf_counter()
        await asyncio.gather(*(caller(n) for n in range(callers)))
        elapsed = time.perf_counter() - started
        handle = client.get_workflow_handle(gov.config.governor_id(MODEL))
        status = await handle.query("status", result_type=GovernorStatus)
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{handle.id}'")]
    if status.totals.granted != grants:
        print(f"  the governor counted {status.totals.granted} grants, the callers {grants}")
    return grants / elapsed, len(runs)


async def bench(callers: int, seconds: float, rounds: int) -> list[float]:
    out = []
    with tempfile.TemporaryDirectory(prefix="agentfleet-bench-gov-") as tmp:
        with DevServer(
            db_file=Path(tmp) / "temporal.db",
            port=free_port(),
            ui_port=None,
            log_file=Path(tmp) / "temporal.log",
        ) as server:
            client = await connect(server.address)
            for r in range(1, rounds + 1):
                rate, runs = await one_round(client, callers, seconds)
                print(
                    f"round {r}: {rate:.1f} leases/s granted and settled "
                    f"({callers} callers, {seconds:g} s, {runs} governor runs)",
                    flush=True,
                )
                out.append(rate)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.governor_capacity")
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    rates = asyncio.run(bench(args.callers, args.seconds, args.rounds))
    median = statistics.median(rates)
    print(f"median: {median:.1f} leases/s = {median * 60:.0f} LLM calls a minute per model")
    print(json.dumps({"leases_per_s": round(median, 1), "rounds": [round(r, 1) for r in rates]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
