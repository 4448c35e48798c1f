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
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import Worker

from activities.llm import MALFORMED_ATTEMPTS, LlmActivities, _content, may_have_been_delivered
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


async def _run(
    client: Client, settings: Settings, sim: Simulator, secret: str | None = None, **more: Any
):
    s = dataclasses.replace(settings, anthropic_base_url=sim.url, anthropic_api_key=secret, **more)
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
    # Both failed attempts were answered (with errors): neither may be billed as cut.
    assert resp.cut_attempts == []
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


async def test_an_attempt_gone_silent_after_its_answer_is_receipted_as_cut(
    client: Client, settings: Settings, private_sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker killed between a fast answer and its completion sends nothing more: it
    # never beat, so only the server's timeout tells. The retry pays again, and its
    # receipts must say that the first call may have been paid for too.
    real_settle = LlmActivities._settle

    async def silent_after_the_answer(self: LlmActivities, ticket: Any, s: Any) -> None:
        if activity.info().attempt == 1:
            await asyncio.sleep(8)  # no beat: to the server, a dead worker
        await real_settle(self, ticket, s)

    monkeypatch.setattr(LlmActivities, "_settle", silent_after_the_answer)
    _, resp = await _run(client, settings, private_sim)
    assert isinstance(resp, LlmResponse)
    assert resp.attempt == 2 and resp.cut_attempts == [1]
    assert private_sim.stats()["requests"] == 2


async def test_a_request_that_timed_out_unanswered_is_receipted_as_cut(
    client: Client, settings: Settings, private_sim: Simulator
) -> None:
    # The request reached the endpoint, which answered after the client gave up: the API
    # may bill such a call, so the retry's receipts must say the first one may be paid.
    private_sim.enqueue_faults([{"latency_ms": 2500}])
    _, resp = await _run(client, settings, private_sim, llm_timeout_s=1.0)
    assert isinstance(resp, LlmResponse)
    assert resp.attempt == 2 and resp.cut_attempts == [1]
    # The endpoint counts a request as it answers, and the first one answers late.
    for _ in range(50):
        if private_sim.stats()["requests"] >= 2:
            break
        await asyncio.sleep(0.1)
    assert private_sim.stats()["requests"] == 2


def _connection_error(cause: Exception, *, timeout: bool = False) -> Exception:
    import anthropic
    import httpx2 as httpx

    request = httpx.Request("POST", "http://127.0.0.1:9/v1/messages")
    kind = anthropic.APITimeoutError if timeout else anthropic.APIConnectionError
    err = kind(request=request)
    err.__cause__ = cause
    return err


def test_only_a_request_that_never_left_is_known_not_to_be_billed() -> None:
    import anthropic
    import httpx2 as httpx

    never_left = [
        _connection_error(httpx.ConnectError("refused")),
        _connection_error(httpx.ConnectTimeout("slow handshake"), timeout=True),
        _connection_error(httpx.PoolTimeout("no free connection"), timeout=True),
    ]
    maybe_delivered = [
        _connection_error(httpx.ReadTimeout("no reply"), timeout=True),
        _connection_error(httpx.ReadError("reset mid-reply")),
        _connection_error(httpx.RemoteProtocolError("closed without a reply")),
        _connection_error(httpx.WriteError("broken pipe")),
    ]
    answered = anthropic.RateLimitError(
        "busy",
        response=httpx.Response(429, request=httpx.Request("POST", "http://x/v1/messages")),
        body=None,
    )
    assert [may_have_been_delivered(e) for e in never_left] == [False, False, False]
    assert [may_have_been_delivered(e) for e in maybe_delivered] == [True] * 4
    assert not may_have_been_delivered(answered)


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


def test_the_request_timeout_is_read_from_the_environment_and_checked(tmp_path: Any) -> None:
    home = {"AGENTFLEET_HOME": str(tmp_path)}
    assert Settings.from_env(home).llm_timeout_s == 120.0
    assert Settings.from_env({**home, "AGENTFLEET_LLM_TIMEOUT_S": "45"}).llm_timeout_s == 45.0
    # Past the call's 180 s start-to-close, the activity would time out before the request.
    for bad in ("soon", "0", "600"):
        with pytest.raises(ValueError, match="AGENTFLEET_LLM_TIMEOUT_S"):
            Settings.from_env({**home, "AGENTFLEET_LLM_TIMEOUT_S": bad})
