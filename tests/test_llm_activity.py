"""The LLM activity through the real anthropic SDK, over HTTP, to the simulator.

Retries belong to Temporal: each test reads the attempts from history and from
the simulator's request count, not from the SDK.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.server
import threading
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker

import activities.llm as llm_module
from activities.llm import MALFORMED_ATTEMPTS, LlmActivities, _content
from agentfleet.config import Settings
from agentfleet.contracts.models import LlmRequest, LlmResponse, Message, ToolUseBlock
from agentfleet.sim import Simulator
from tests.probe_workflows import LlmProbeWorkflow

REQ = LlmRequest(
    model="claude-haiku-4-5",
    system="ROLE: inline\nAnswer briefly.",
    messages=[Message.user_text("What is 2+2?")],
    max_tokens=64,
)


@pytest.fixture
def private_sim() -> Iterator[Simulator]:
    with Simulator(port=0) as s:
        yield s


async def _run(client: Client, settings: Settings, sim: Simulator, secret: str | None = None):
    s = dataclasses.replace(settings, anthropic_base_url=sim.url, anthropic_api_key=secret)
    llm = LlmActivities(s)
    async with Worker(
        client, task_queue=s.task_queue, workflows=[LlmProbeWorkflow], activities=[llm.chat]
    ):
        handle = await client.start_workflow(
            LlmProbeWorkflow.run, REQ, id=f"llm-{uuid.uuid4().hex[:8]}", task_queue=s.task_queue
        )
        try:
            return handle, await handle.result()
        except WorkflowFailureError as err:
            return handle, err


def _seconds_between(history, first: EventType.ValueType, last: EventType.ValueType) -> float:
    times = {e.event_type: e.event_time.ToDatetime() for e in history.events}
    return (times[last] - times[first]).total_seconds()


async def test_429_is_retried_after_retry_after(
    client: Client, settings: Settings, private_sim: Simulator
) -> None:
    # The policy's first backoff is 1 s; only retry-after can make it 3 s.
    private_sim.enqueue_faults([{"status": 429, "retry_after": 3}])
    handle, resp = await _run(client, settings, private_sim)
    assert isinstance(resp, LlmResponse)
    assert resp.attempt == 2
    history = await handle.fetch_history()
    waited = _seconds_between(
        history,
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    )
    assert waited >= 3.0
    assert private_sim.stats()["by_status"].get("429") == 1


async def test_529_overloaded_is_retried(
    client: Client, settings: Settings, private_sim: Simulator
) -> None:
    private_sim.enqueue_faults([{"status": 529}, {"status": 500}])
    _, resp = await _run(client, settings, private_sim)
    assert isinstance(resp, LlmResponse)
    assert resp.attempt == 3 and resp.simulated
    stats = private_sim.stats()["by_status"]
    assert stats.get("529") == 1 and stats.get("500") == 1 and stats.get("200") == 1


async def test_401_fails_at_once_without_leaking_the_key(
    client: Client, settings: Settings, private_sim: Simulator
) -> None:
    secret = "sk-ant-test-" + uuid.uuid4().hex
    private_sim.enqueue_faults([{"status": 401}])
    handle, err = await _run(client, settings, private_sim, secret=secret)
    assert isinstance(err, WorkflowFailureError)
    act = err.cause
    assert isinstance(act, ActivityError)
    cause = act.cause
    assert isinstance(cause, ApplicationError)
    assert cause.non_retryable and cause.type == "LlmHttp401"
    assert "401" in cause.message and "authentication" in cause.message
    assert private_sim.stats()["requests"] == 1
    history = await handle.fetch_history()
    failed = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED
    ]
    assert len(failed) == 1
    started = [
        e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert started[0].activity_task_started_event_attributes.attempt == 1
    assert secret not in history.to_json()


async def test_an_answer_slower_than_the_heartbeat_timeout_still_succeeds(
    client: Client, settings: Settings, private_sim: Simulator
) -> None:
    # The call outlives the 5 s heartbeat timeout: only heartbeats keep it alive.
    private_sim.enqueue_faults([{"latency_ms": 7000}])
    _, resp = await _run(client, settings, private_sim)
    assert isinstance(resp, LlmResponse)
    assert resp.attempt == 1
    assert private_sim.stats()["requests"] == 1


async def test_the_in_flight_mark_is_on_the_server_before_the_answer_comes(
    client: Client, settings: Settings, private_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker killed after a fast answer but before its completion reached the server
    # must leave "attempt 1 was in flight" behind, or the retry's receipts cannot say
    # that the call was paid for twice. No periodic beat runs here: only the mark can
    # put these details on the server.
    monkeypatch.setattr(llm_module, "HEARTBEAT_EVERY_S", 60.0)
    private_sim.enqueue_faults([{"latency_ms": 2500}])
    s = dataclasses.replace(settings, anthropic_base_url=private_sim.url)
    llm = LlmActivities(s)
    await asyncio.wrap_future(llm_module._warm_up())  # the import would beat, not the mark
    async with Worker(
        client, task_queue=s.task_queue, workflows=[LlmProbeWorkflow], activities=[llm.chat]
    ):
        handle = await client.start_workflow(
            LlmProbeWorkflow.run, REQ, id=f"llm-{uuid.uuid4().hex[:8]}", task_queue=s.task_queue
        )
        marks: list[object] = []
        for _ in range(40):
            pending = (await handle.describe()).raw_description.pending_activities
            if pending and pending[0].heartbeat_details.payloads:
                marks = await client.data_converter.decode(pending[0].heartbeat_details.payloads)
                break
            await asyncio.sleep(0.05)
        answered = private_sim.stats()["requests"]
        resp = await handle.result()
    assert marks == [{"in_flight": 1, "cut": []}]
    assert answered == 0  # seen while the request was still out
    assert resp.attempt == 1 and resp.cut_attempts == []


class _HtmlEndpoint:
    """An endpoint that answers every call with 200 and an HTML page, as a bad proxy does."""

    def __init__(self) -> None:
        served = self.requests = [0]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                served[0] += 1
                body = b"<html><body>502 upstream gone</body></html>"
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


async def test_a_malformed_reply_fails_after_a_few_attempts_with_what_was_wrong(
    client: Client, settings: Settings
) -> None:
    endpoint = _HtmlEndpoint()
    try:
        _, err = await _run(client, settings, endpoint)  # type: ignore[arg-type]
    finally:
        endpoint.server.shutdown()
    assert isinstance(err, WorkflowFailureError)
    cause = err.cause.cause  # type: ignore[union-attr]
    assert isinstance(cause, ApplicationError)
    assert cause.type == "MalformedReply" and cause.non_retryable
    assert "malformed reply" in cause.message
    assert endpoint.requests[0] == MALFORMED_ATTEMPTS


def test_tool_input_sent_as_a_json_string_or_null_is_read_as_an_object() -> None:
    def reply(raw: object) -> SimpleNamespace:
        block = SimpleNamespace(type="tool_use", id="t1", name="read_file", input=raw)
        return SimpleNamespace(content=[block])

    (as_text,) = _content(reply('{"path": "a.txt"}'))
    (as_null,) = _content(reply(None))
    assert isinstance(as_text, ToolUseBlock) and as_text.input == {"path": "a.txt"}
    assert isinstance(as_null, ToolUseBlock) and as_null.input == {}
    with pytest.raises(TypeError):
        _content(reply([1, 2]))


def test_calls_waiting_for_the_sdk_import_leave_the_loops_threads_free(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A restarted worker's retried calls all need the SDK while it is still importing
    # (seconds). Waiting in threads of the loop's default executor, they left none for
    # ledger rows and file tools (issue #18); they share one future instead.
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import activities.llm as llm

    release = threading.Event()
    real_sdk = llm.sdk

    def slow_sdk():  # the import, held until the test lets it finish
        release.wait(10)
        return real_sdk()

    monkeypatch.setattr(llm, "sdk", slow_sdk)
    monkeypatch.setattr(llm, "_SDK_IMPORT", None)

    async def body() -> None:
        # A loop of its own, with a default executor as small as a 2-core machine's
        # could be busy: the test's session loop keeps its own.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=2))
        acts = [LlmActivities(settings) for _ in range(4)]
        waiting = [asyncio.ensure_future(a._sdk_client()) for a in acts]
        await asyncio.sleep(0.2)
        assert not any(w.done() for w in waiting)
        # A ledger row's thread still runs at once, four calls waiting or not.
        assert await asyncio.wait_for(asyncio.to_thread(lambda: 42), 2) == 42
        release.set()
        clients = await asyncio.wait_for(asyncio.gather(*waiting), 30)
        assert all(type(c).__name__ == "AsyncAnthropic" for c in clients)

    asyncio.run(body())
