"""The Anthropic key never leaves the LLM activity: not in history, spans, logs, files or errors.

A full demo run is made with a fake key that the worker really sends (to the simulator), then
everything a run leaves behind is searched for it, as bytes: both histories as the server
returns them (payloads base64-decoded), the dev server's own database, the span file, the logs
(unfiltered, at DEBUG), the ledger and every other file under AGENTFLEET_HOME. A second run
points the worker at an endpoint that echoes the key back in a 401, the way a misconfigured
proxy might: the activity failure in history must carry it redacted.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import secrets
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError

from agentfleet.cli.demo import DEMO_GOAL, seed_workspace
from agentfleet.cli.devserver import DevServer
from agentfleet.client import connect
from agentfleet.config import Settings
from agentfleet.contracts.models import MasterInput
from agentfleet.logs import UtcFormatter
from agentfleet.sim import Simulator
from tests.conftest import ARTIFACTS, make_settings, running_worker
from tests.test_codec import data_of, payloads_in, tree_histories
from workflows.master import MasterAgentWorkflow


def fake_key() -> str:
    return f"sk-ant-test-{secrets.token_hex(20)}"


def forms_of(key: str) -> list[bytes]:
    """The key as it could appear in bytes: plain, base64'd (in any of 3 alignments), JSON."""
    raw = key.encode()
    forms = [raw, json.dumps(key).encode()]
    for shift in range(3):
        # A base64 run inside a longer blob: compare a middle slice, free of edge effects.
        encoded = base64.b64encode(b"\x00" * shift + raw)[4:-4]
        forms.append(encoded)
    return forms


def assert_absent(key: str, blob: bytes, where: str) -> None:
    for form in forms_of(key):
        assert form not in blob, f"the API key leaked into {where}"


def files_under(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            yield path


class _EchoKeyHandler(BaseHTTPRequestHandler):
    """An endpoint that quotes the caller's key in its 401, as some proxies do."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        # The SDK sends the key as x-api-key or as a bearer token, depending on its version.
        seen = self.headers.get("x-api-key") or self.headers.get("authorization", "")
        body = json.dumps(
            {
                "type": "error",
                "error": {"type": "authentication_error", "message": f"invalid credentials {seen}"},
            }
        ).encode()
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def echo_endpoint() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _EchoKeyHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def sim_log() -> Iterator[tuple[Simulator, list[str]]]:
    lines: list[str] = []
    with Simulator(port=0, log=lines.append) as sim:
        yield sim, lines


async def test_the_api_key_appears_nowhere(
    devserver: DevServer,
    tmp_path: Path,
    sim_log: tuple[Simulator, list[str]],
    echo_endpoint: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agentfleet.telemetry import SPAN_FILE, setup_telemetry

    sim, sim_lines = sim_log
    key = fake_key()
    # The worker gets it from the env in production; conftest clears it for the suite.
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    base = make_settings(tmp_path / "home", devserver, sim.url)
    settings: Settings = dataclasses.replace(base, anthropic_api_key=key)
    assert not settings.uses_simulator and key not in repr(settings)

    # Every record, unfiltered and at DEBUG (the SDKs' and httpx's included), to a file too.
    log_file = tmp_path / "worker.log"
    file_handler = logging.FileHandler(log_file)
    file_handler.setFormatter(UtcFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(file_handler)
    caplog.set_level(logging.DEBUG)

    telemetry = setup_telemetry({"AGENTFLEET_HOME": str(settings.home)})
    try:
        traced = await connect(devserver.address, plugins=telemetry.plugins)
        seed_workspace(settings.workspaces / "ws")
        async with running_worker(traced, settings):
            ok = await traced.start_workflow(
                MasterAgentWorkflow.run,
                MasterInput(goal=DEMO_GOAL, workspace="ws"),
                id=f"secret-{uuid.uuid4().hex[:8]}",
                task_queue=settings.task_queue,
            )
            result = await ok.result()
        assert result.tree.status == "completed" and len(result.tree.children) >= 3

        # The same key, now quoted back by the endpoint: the failure must carry it redacted.
        echoing = dataclasses.replace(
            settings, anthropic_base_url=echo_endpoint, task_queue=f"{settings.task_queue}-echo"
        )
        async with running_worker(traced, echoing):
            bad = await traced.start_workflow(
                MasterAgentWorkflow.run,
                MasterInput(goal="Say hello"),
                id=f"secret-401-{uuid.uuid4().hex[:8]}",
                task_queue=echoing.task_queue,
            )
            with pytest.raises(WorkflowFailureError) as failure:
                await bad.result()
    finally:
        await telemetry.shutdown()
        root.removeHandler(file_handler)
        file_handler.close()

    chain, err = [], failure.value.cause
    while err is not None:
        chain.append(str(err))
        err = err.__cause__
    assert any("401" in m and "[REDACTED]" in m for m in chain), chain
    assert key not in " ".join(chain)

    # Histories, as the server hands them to anyone: the raw JSON and every payload decoded.
    searched = 0
    for root_id in (ok.id, bad.id):
        for wid, history in tree_histories(devserver.address, root_id).items():
            assert_absent(key, history["_raw"].encode(), f"the history of {wid}")
            for _, p in payloads_in(history["events"]):
                assert_absent(key, data_of(p), f"a payload in {wid}")
                searched += 1
    assert searched > 20
    assert "[REDACTED]" in json.dumps(tree_histories(devserver.address, bad.id))

    # The server's own store, where the histories live at rest.
    assert devserver.db_file is not None
    for path in devserver.db_file.parent.glob(devserver.db_file.name + "*"):
        assert_absent(key, path.read_bytes(), f"the Temporal database {path.name}")

    # Spans, the ledger, workspaces, reports: everything the run wrote under its home.
    span_file = settings.home / SPAN_FILE
    assert span_file.exists() and span_file.stat().st_size > 0
    assert (settings.home / "ledger.db").exists()
    home_files = list(files_under(settings.home))
    for path in home_files:
        assert_absent(key, path.read_bytes(), str(path.relative_to(settings.home)))

    # Logs: pytest's capture, the file and the dev server's log.
    assert len(caplog.records) > 10
    assert_absent(key, caplog.text.encode(), "the captured logs")
    for record in caplog.records:
        assert_absent(key, str(record.__dict__).encode(), f"log record {record.name}")
    assert_absent(key, log_file.read_bytes(), "the log file")
    if (ARTIFACTS / "devserver.log").exists():
        assert_absent(key, (ARTIFACTS / "devserver.log").read_bytes(), "the dev server log")

    # The simulator received the key on every call, and wrote it nowhere.
    stats = sim.stats()
    assert stats["requests"] > 5
    assert sim_lines
    assert_absent(key, "\n".join(sim_lines).encode(), "the simulator log")
    assert_absent(key, json.dumps(stats).encode(), "the simulator stats")
