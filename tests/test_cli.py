"""The CLIs people use: `agentfleet` and Temporal's own `temporal`."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import uuid
from pathlib import Path

from temporalio.client import Client

from agentfleet.cli.devserver import DevServer, ephemeral_range, free_port, temporal_binary
from agentfleet.config import Settings
from tests.conftest import COMPLEX_GOAL, running_worker


async def sh(
    *cmd: str, env: dict[str, str] | None = None, timeout: float = 60
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "AGENTFLEET_HOME": str(settings.home),
        "AGENTFLEET_TASK_QUEUE": settings.task_queue,
    }


AGENTFLEET = [sys.executable, "-m", "agentfleet"]


async def test_run_wait_json_gives_one_document_with_the_tree(
    client: Client, settings: Settings
) -> None:
    async with running_worker(client, settings):
        code, out, err = await sh(
            *AGENTFLEET, "run", COMPLEX_GOAL, "--wait", "--json", env=cli_env(settings)
        )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["status"] == "completed"
    assert doc["output"]
    assert doc["usage"]["input_tokens"] > 0
    assert len(doc["children"]) >= 2
    for child in doc["children"]:
        assert {"workflow_id", "status", "output", "usage", "children"} <= child.keys()
        # Sub-agents are child workflows "<root>.<n>"; inline work is "<root>/inline-<n>".
        sep = "/" if child["role"] == "inline" else "."
        assert child["workflow_id"].startswith(doc["workflow_id"] + sep)

    code, out, err = await sh(
        *AGENTFLEET, "status", doc["workflow_id"], "--json", env=cli_env(settings)
    )
    assert code == 0, err
    assert json.loads(out)["workflow_id"] == doc["workflow_id"]


async def test_run_wait_prints_a_tree_and_the_ui_url(client: Client, settings: Settings) -> None:
    async with running_worker(client, settings):
        code, out, err = await sh(*AGENTFLEET, "run", COMPLEX_GOAL, "--wait", env=cli_env(settings))
    assert code == 0, err
    assert "├─" in out or "└─" in out
    assert "Temporal UI: http://" in out and "/workflows/master-" in out
    assert "simulator" in out


async def test_cli_errors_are_one_line_on_stderr(settings: Settings) -> None:
    code, out, err = await sh(*AGENTFLEET, "run", "   ", env=cli_env(settings))
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "goal" in err and "Traceback" not in err
    code, out, err = await sh(*AGENTFLEET, "status", "no-such-id", env=cli_env(settings))
    assert code == 2 and "no-such-id" in err and "Traceback" not in err


async def test_temporal_cli_start_and_result(
    client: Client, settings: Settings, devserver: DevServer
) -> None:
    temporal = str(temporal_binary())
    wid = f"cli-{uuid.uuid4().hex[:8]}"
    address = ["--address", devserver.address]
    async with running_worker(client, settings):
        code, _, err = await sh(
            temporal,
            "workflow",
            "start",
            *address,
            "--type",
            "MasterAgentWorkflow",
            "--task-queue",
            settings.task_queue,
            "--workflow-id",
            wid,
            "--input",
            '{"goal": "Say hello; say goodbye"}',
        )
        assert code == 0, err
        code, out, err = await sh(
            temporal, "workflow", "result", *address, "--workflow-id", wid, "--output", "json"
        )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["status"] == "COMPLETED"
    assert doc["result"]["tree"]["status"] == "completed"


async def test_temporal_cli_bad_input_fails_naming_the_field(
    client: Client, settings: Settings, devserver: DevServer
) -> None:
    temporal = str(temporal_binary())
    wid = f"cli-bad-{uuid.uuid4().hex[:8]}"
    address = ["--address", devserver.address]
    async with running_worker(client, settings):
        code, _, err = await sh(
            temporal,
            "workflow",
            "start",
            *address,
            "--type",
            "MasterAgentWorkflow",
            "--task-queue",
            settings.task_queue,
            "--workflow-id",
            wid,
            "--input",
            '{"gaol": 1}',
        )
        assert code == 0, err
        code, out, err = await sh(
            temporal,
            "workflow",
            "result",
            *address,
            "--workflow-id",
            wid,
            "--output",
            "json",
            timeout=10,
        )
    assert code != 0
    assert "'goal'" in out + err and "'gaol'" in out + err


async def test_status_labels_spend_from_the_run_not_from_the_shell(
    client: Client, settings: Settings
) -> None:
    async with running_worker(client, settings):
        code, out, err = await sh(
            *AGENTFLEET, "run", COMPLEX_GOAL, "--wait", "--json", env=cli_env(settings)
        )
    assert code in (0, 1), err
    doc = json.loads(out)
    assert doc["spend"]["source"] == "simulator" and doc["spend"]["real_usd"] == 0.0
    assert abs(doc["spend"]["simulated_usd"] - doc["usage"]["cost_usd"]) < 1e-6
    assert "verification" in doc and all("verification" in c for c in doc["children"])
    # A shell with an API key asks about a run the simulator answered.
    keyed = {**cli_env(settings), "ANTHROPIC_API_KEY": "sk-ant-test-not-a-real-key"}
    code, out, err = await sh(*AGENTFLEET, "status", doc["workflow_id"], env=keyed)
    assert code in (0, 1) and "Traceback" not in err, err
    assert "(simulator: no real spend)" in out
    assert "check: " in out
    code, out, err = await sh(*AGENTFLEET, "status", doc["workflow_id"], "--json", env=keyed)
    assert json.loads(out)["spend"] == doc["spend"]


async def test_sim_takes_its_own_port_option() -> None:
    from agentfleet.cli.devserver import free_port

    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *AGENTFLEET, "sim", "--port", str(port), stderr=asyncio.subprocess.PIPE
    )
    try:
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            break
        else:
            raise AssertionError(f"`agentfleet sim --port {port}` never listened")
        assert proc.returncode is None
    finally:
        proc.terminate()
        await proc.wait()


async def test_a_closed_pipe_is_not_a_traceback() -> None:
    # `agentfleet score ... | head -c 0`: the reader is gone before the first write.
    read, write = os.pipe()
    os.close(read)
    proc = await asyncio.create_subprocess_exec(
        *AGENTFLEET,
        "score",
        "Refactor the billing service and migrate its database",
        "--json",
        stdout=write,
        stderr=asyncio.subprocess.PIPE,
    )
    os.close(write)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err and b"BrokenPipe" not in err


async def test_score_names_the_limit_a_huge_task_breaks() -> None:
    code, out, err = await sh(*AGENTFLEET, "score", "x" * 20_001)
    assert code == 2 and out == ""
    assert err.startswith("error: task: ") and "20000" in err and "Traceback" not in err


def test_free_ports_come_from_below_the_kernels_outgoing_range(tmp_path: Path) -> None:
    """A port outgoing connections cannot take between the check and the server's bind."""
    low, _ = ephemeral_range()
    ports = {free_port() for _ in range(20)}
    if low - 20000 >= 1000:
        assert all(20000 <= p < low for p in ports), sorted(ports)
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
    # A range that cannot be read falls back to Linux's default.
    assert ephemeral_range(tmp_path / "missing") == (32768, 60999)
    (tmp_path / "range").write_text("40000\t50000\n")
    assert ephemeral_range(tmp_path / "range") == (40000, 50000)
