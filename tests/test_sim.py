"""The simulator, driven over HTTP by the real anthropic SDK.

Each test gets its own Simulator: faults and stats are per instance, so these
tests never disturb the session-wide one in conftest.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from pydantic import ValidationError

from agentfleet.contracts.models import Plan, Subtask
from agentfleet.delegation import prompts
from agentfleet.sim import Simulator, respond

MODEL = "claude-haiku-4-5"
GOAL = (
    "Sort the files in inbox/ by type; write an index of docs/ to docs/INDEX.md; "
    "summarize notes/meeting.txt into notes/SUMMARY.md"
)
# Param dicts are typed Any: the SDK's TypedDict unions add nothing to these tests.
TOOLS: list[Any] = [
    {"name": name, "description": name, "input_schema": {"type": "object", "properties": props}}
    for name, props in {
        "list_files": {"path": {"type": "string"}, "recursive": {"type": "boolean"}},
        "read_file": {"path": {"type": "string"}},
        "write_file": {"path": {"type": "string"}, "content": {"type": "string"}},
        "move_file": {"src": {"type": "string"}, "dst": {"type": "string"}},
        "make_dir": {"path": {"type": "string"}},
    }.items()
]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(port=0) as s:
        yield s


@pytest.fixture
def client(sim: Simulator) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="sim-no-key", base_url=sim.url, max_retries=0)


def ask(
    client: anthropic.Anthropic,
    system: str,
    messages: list[Any],
    tools: list[Any] | None = None,
) -> anthropic.types.Message:
    kwargs: dict[str, Any] = {"tools": tools} if tools else {}
    return client.messages.create(
        model=MODEL, max_tokens=1024, system=system, messages=messages, **kwargs
    )


def user(text: str) -> Any:
    return {"role": "user", "content": text}


def as_param(msg: anthropic.types.Message) -> Any:
    return {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in msg.content]}


def results(msg: anthropic.types.Message, outputs: list[str], is_error: bool = False) -> Any:
    uses = [b for b in msg.content if b.type == "tool_use"]
    assert len(uses) == len(outputs)
    return {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": u.id, "content": out, "is_error": is_error}
            for u, out in zip(uses, outputs, strict=True)
        ],
    }


def tool_calls(msg: anthropic.types.Message) -> list[tuple[str, dict[str, Any]]]:
    return [(b.name, dict(b.input)) for b in msg.content if b.type == "tool_use"]


def text(msg: anthropic.types.Message) -> str:
    return "".join(b.text for b in msg.content if b.type == "text")


def post(url: str, body: Any) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-api-key": "sim-no-key"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def subagent_task(title: str, description: str) -> str:
    return prompts.subagent_task(Subtask(title=title, description=description))


# --- planner ----------------------------------------------------------------


def test_planner_splits_goal_and_over_decomposes(client: anthropic.Anthropic) -> None:
    msg = ask(client, prompts.PLANNER_SYSTEM, [user(GOAL)])
    assert msg.stop_reason == "end_turn"
    assert msg.id.startswith("msg_sim_") and msg.model == MODEL
    plan = Plan.model_validate_json(text(msg))
    titles = [s.title for s in plan.subtasks]
    assert titles == [
        "Plan the approach",
        "Sort the files in inbox/ by type",
        "Write an index of docs/ to docs/INDEX.md",
        "Summarize notes/meeting.txt into notes/SUMMARY.md",
        "Validate the results",
    ]
    sort, index, summary = plan.subtasks[1:4]
    assert sort.description == "Sort the files in inbox/ by type"
    assert sort.files == ["inbox/"]
    assert {"list_files", "move_file", "make_dir"} <= set(sort.tools)
    assert index.files == ["docs/", "docs/INDEX.md"]
    assert summary.files == ["notes/meeting.txt", "notes/SUMMARY.md"]
    # A client that offers no submit_plan gets the shape its Plan model (which
    # forbids unknown fields) knows: no ids, outputs or edges.
    raw = json.loads(text(msg))["subtasks"]
    assert all(set(s) == {"title", "description", "tools", "files"} for s in raw)
    assert plan.subtasks[0].description == f"Plan how to approach: {GOAL}"
    assert plan.subtasks[-1].description.startswith("Validate that every part of the goal")


def test_planner_splits_numbered_lists_and_connectives(client: anthropic.Anthropic) -> None:
    numbered = Plan.model_validate_json(
        text(ask(client, prompts.PLANNER_SYSTEM, [user("1. Read a.txt\n2) Write hi to b.txt")]))
    )
    assert [s.title for s in numbered.subtasks[1:-1]] == ["Read a.txt", "Write hi to b.txt"]
    prose = Plan.model_validate_json(
        text(
            ask(
                client,
                prompts.PLANNER_SYSTEM,
                [user("List x/, then read x/a.md, and write ok to x/b.md. Report back.")],
            )
        )
    )
    assert [s.description for s in prose.subtasks[1:-1]] == [
        "List x/",
        "read x/a.md",
        "write ok to x/b.md",
        "Report back",
    ]
    single = Plan.model_validate_json(
        text(ask(client, prompts.PLANNER_SYSTEM, [user("Write hi to a.txt")]))
    )
    assert [s.title for s in single.subtasks] == ["Write hi to a.txt"]


def test_malformed_plan_directive_fails_then_recovers(client: anthropic.Anthropic) -> None:
    goal = "[sim:malformed-plans=3] Write hi to a.txt; write bye to b.txt"
    messages = [user(goal)]
    errors = []
    for _ in range(3):
        answer = text(ask(client, prompts.PLANNER_SYSTEM, messages))
        with pytest.raises((ValidationError, ValueError)) as err:
            Plan.model_validate_json(answer)
        errors.append(str(err.value))
        messages += [
            {"role": "assistant", "content": answer},
            user(prompts.PLAN_RETRY.format(error=str(err.value)[:200])),
        ]
    assert "Invalid JSON" in errors[0]
    assert "subtasks" in errors[1] and "Field required" in errors[1]
    assert "title" in errors[2]
    plan = Plan.model_validate_json(text(ask(client, prompts.PLANNER_SYSTEM, messages)))
    assert [s.title for s in plan.subtasks[1:-1]] == ["Write hi to a.txt", "Write bye to b.txt"]
    assert all("[sim:" not in s.title + s.description for s in plan.subtasks)


# --- sub-agent ----------------------------------------------------------------


def test_subagent_sorts_files_across_turns(client: anthropic.Anthropic) -> None:
    messages = [user(subagent_task("Sort inbox", "Sort the files in inbox/ by type"))]
    first = ask(client, prompts.SUBAGENT_SYSTEM, messages, TOOLS)
    assert first.stop_reason == "tool_use"
    assert tool_calls(first) == [("list_files", {"path": "inbox", "recursive": False})]
    listing = "inbox/README\ninbox/a.txt\ninbox/b.TXT\ninbox/c.pdf\ninbox/old/"
    messages += [as_param(first), results(first, [listing])]

    second = ask(client, prompts.SUBAGENT_SYSTEM, messages, TOOLS)
    assert second.stop_reason == "tool_use"
    assert tool_calls(second) == [
        ("make_dir", {"path": "inbox/other"}),
        ("make_dir", {"path": "inbox/pdf"}),
        ("make_dir", {"path": "inbox/txt"}),
        ("move_file", {"src": "inbox/README", "dst": "inbox/other/README"}),
        ("move_file", {"src": "inbox/a.txt", "dst": "inbox/txt/a.txt"}),
        ("move_file", {"src": "inbox/b.TXT", "dst": "inbox/txt/b.TXT"}),
        ("move_file", {"src": "inbox/c.pdf", "dst": "inbox/pdf/c.pdf"}),
    ]
    ids = [b.id for b in second.content if b.type == "tool_use"]
    assert len(set(ids)) == len(ids) and all(i.startswith("toolu_sim_") for i in ids)
    messages += [as_param(second), results(second, ["ok"] * 7)]

    final = ask(client, prompts.SUBAGENT_SYSTEM, messages, TOOLS)
    assert final.stop_reason == "end_turn"
    assert text(final) == "Sorted 4 files in inbox into 3 folders: other, pdf, txt"


def test_subagent_index_and_summary(client: anthropic.Anthropic) -> None:
    messages = [user(subagent_task("Index", "write an index of docs/ to docs/INDEX.md"))]
    step = ask(client, prompts.SUBAGENT_SYSTEM, messages, TOOLS)
    assert tool_calls(step) == [("list_files", {"path": "docs", "recursive": True})]
    messages += [as_param(step), results(step, ["docs/INDEX.md\ndocs/a.md\ndocs/sub/b.md"])]
    step = ask(client, prompts.SUBAGENT_SYSTEM, messages, TOOLS)
    assert tool_calls(step) == [
        (
            "write_file",
            {
                "path": "docs/INDEX.md",
                "content": "# Index of docs\n\n- docs/a.md\n- docs/sub/b.md\n",
            },
        )
    ]
    messages += [as_param(step), results(step, ["wrote 40 bytes"])]
    assert "docs/INDEX.md" in text(ask(client, prompts.SUBAGENT_SYSTEM, messages, TOOLS))

    messages = [user(subagent_task("Summary", "summarize notes/meeting.txt into notes/SUMMARY.md"))]
    step = ask(client, prompts.SUBAGENT_SYSTEM, messages, TOOLS)
    assert tool_calls(step) == [("read_file", {"path": "notes/meeting.txt"})]
    messages += [as_param(step), results(step, ["\nStandup notes\nWe shipped it.\n"])]
    step = ask(client, prompts.SUBAGENT_SYSTEM, messages, TOOLS)
    assert tool_calls(step) == [
        (
            "write_file",
            {
                "path": "notes/SUMMARY.md",
                # Its sentences, not its title line.
                "content": "# Summary of notes/meeting.txt\n\nWe shipped it.\n",
            },
        )
    ]


def test_subagent_write_then_report(client: anthropic.Anthropic) -> None:
    for description, path, content in [
        ("Write 'hello world' to out/a.txt", "out/a.txt", "hello world"),
        ("create out/b.txt containing two words", "out/b.txt", "two words"),
    ]:
        messages = [user(subagent_task("Write", description))]
        step = ask(client, prompts.SUBAGENT_SYSTEM, messages, TOOLS)
        assert tool_calls(step) == [("write_file", {"path": path, "content": content})]
        messages += [as_param(step), results(step, ["done"])]
        final = ask(client, prompts.SUBAGENT_SYSTEM, messages, TOOLS)
        assert final.stop_reason == "end_turn" and path in text(final)


def test_subagent_reports_tool_errors_instead_of_looping(client: anthropic.Anthropic) -> None:
    messages = [user(subagent_task("Sort", "Sort the files in inbox by type"))]
    step = ask(client, prompts.SUBAGENT_SYSTEM, messages, TOOLS)
    messages += [as_param(step), results(step, ["directory inbox does not exist"], True)]
    final = ask(client, prompts.SUBAGENT_SYSTEM, messages, TOOLS)
    assert final.stop_reason == "end_turn"
    assert "list_files failed: directory inbox does not exist" in text(final)


def test_subagent_turns_directive_and_fallbacks(client: anthropic.Anthropic) -> None:
    messages = [user(subagent_task("Busy", "Keep looking around [sim:turns=3]"))]
    for _ in range(3):
        step = ask(client, prompts.SUBAGENT_SYSTEM, messages, TOOLS)
        assert tool_calls(step) == [("list_files", {"path": ".", "recursive": False})]
        messages += [as_param(step), results(step, ["a.txt"])]
    final = ask(client, prompts.SUBAGENT_SYSTEM, messages, TOOLS)
    assert text(final) == "Simulated answer: Busy (after 3 turns)"

    other = ask(client, prompts.SUBAGENT_SYSTEM, [user(subagent_task("Muse", "Think"))], TOOLS)
    # Not a file chore and not a question: it says it changed nothing.
    assert text(other) == '"Think" does not ask for any file change, so I did not change any files.'
    assert other.stop_reason == "end_turn" and tool_calls(other) == []
    # The "plan" subtask quotes the whole goal; it must not redo the sorting.
    plan_task = subagent_task("Plan the approach", f"Plan how to approach: {GOAL}")
    assert tool_calls(ask(client, prompts.SUBAGENT_SYSTEM, [user(plan_task)], TOOLS)) == []
    no_tools = ask(client, prompts.SUBAGENT_SYSTEM, [user(subagent_task("W", "write a to b"))])
    assert "not offered" in text(no_tools)


# --- synthesizer, inline ------------------------------------------------------


def test_synthesizer_and_inline(client: anthropic.Anthropic) -> None:
    request = prompts.synthesis_request(
        GOAL, [("Sort", "completed", "Sorted 3 files"), ("Index", "failed", "")]
    )
    msg = ask(client, prompts.SYNTHESIZER_SYSTEM, [user(request)])
    assert text(msg).splitlines() == [
        "Simulated synthesis of 2 sub-agent reports (1 completed):",
        "- Sort [completed]: Sorted 3 files",
        "- Index [failed]: (no report)",
    ]
    msg = ask(client, prompts.INLINE_SYSTEM, [user("What is 2+2?\nthanks")])
    assert text(msg) == "Simulated inline answer: What is 2+2?"
    assert text(ask(client, "You are helpful.", [user("hi")])).startswith("Simulated reply")


# --- errors and faults ----------------------------------------------------------


def test_queued_429_raises_rate_limit_with_retry_after(
    sim: Simulator, client: anthropic.Anthropic
) -> None:
    sim.enqueue_faults([{"status": 429, "retry_after": 2}, {"status": 429, "retry_after": 1.5}])
    with pytest.raises(anthropic.RateLimitError) as err:
        ask(client, prompts.INLINE_SYSTEM, [user("hi")])
    assert err.value.response.headers["retry-after"] == "2"
    assert err.value.response.headers["x-simulator"] == "agentfleet-sim"
    assert err.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    with pytest.raises(anthropic.RateLimitError) as err:
        ask(client, prompts.INLINE_SYSTEM, [user("hi")])
    assert err.value.response.headers["retry-after"] == "1.5"
    # FIFO: two faults, consumed by two requests; the third is answered.
    assert text(ask(client, prompts.INLINE_SYSTEM, [user("hi")])) == "Simulated inline answer: hi"
    stats = sim.stats()
    assert stats["by_status"] == {"429": 2, "200": 1}
    assert stats["faults_injected"] == 2 and stats["faults_queued"] == 0


def test_529_500_401_and_latency_faults(sim: Simulator, client: anthropic.Anthropic) -> None:
    sim.enqueue_faults([{"status": 529}, {"status": 500}, {"status": 401}, {"latency_ms": 150}])
    with pytest.raises(anthropic.APIStatusError) as err:
        ask(client, prompts.INLINE_SYSTEM, [user("hi")])
    assert err.value.status_code == 529
    assert isinstance(err.value, anthropic.InternalServerError)
    assert err.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    with pytest.raises(anthropic.InternalServerError) as err:
        ask(client, prompts.INLINE_SYSTEM, [user("hi")])
    assert err.value.status_code == 500
    with pytest.raises(anthropic.AuthenticationError):
        ask(client, prompts.INLINE_SYSTEM, [user("hi")])
    raw = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=10, system=prompts.INLINE_SYSTEM, messages=[user("slow")]
    )
    assert raw.elapsed.total_seconds() >= 0.15
    assert raw.parse().stop_reason == "end_turn"


def test_disconnect_fault_is_a_connection_error(
    sim: Simulator, client: anthropic.Anthropic
) -> None:
    sim.enqueue_faults([{"disconnect": True}])
    with pytest.raises(anthropic.APIConnectionError):
        ask(client, prompts.INLINE_SYSTEM, [user("hi")])
    assert sim.stats()["by_status"] == {"disconnect": 1}


def test_disconnect_fault_is_not_logged_as_a_server_error(
    sim: Simulator, client: anthropic.Anthropic, caplog: pytest.LogCaptureFixture
) -> None:
    # The hang-up is deliberate: uvicorn must not report it as a crash of the app.
    caplog.set_level(logging.DEBUG, logger="uvicorn")
    sim.enqueue_faults([{"disconnect": True}])
    with pytest.raises(anthropic.APIConnectionError):
        ask(client, prompts.INLINE_SYSTEM, [user("hi")])
    assert text(ask(client, prompts.INLINE_SYSTEM, [user("hi")])).startswith("Simulated")
    errors = [r for r in caplog.records if r.name.startswith("uvicorn") and r.levelno >= 30]
    assert errors == [], [r.getMessage() for r in errors]


def test_seeded_random_faults_are_reproducible() -> None:
    def pattern(seed: int) -> list[int]:
        with Simulator(fault_rates={429: 0.3, 529: 0.2}, retry_after_s=0.5, seed=seed) as s:
            c = anthropic.Anthropic(api_key="sim-no-key", base_url=s.url, max_retries=0)
            out = []
            for _ in range(30):
                try:
                    ask(c, prompts.INLINE_SYSTEM, [user("hi")])
                    out.append(200)
                except anthropic.APIStatusError as e:
                    out.append(e.status_code)
                    if e.status_code == 429:
                        assert e.response.headers["retry-after"] == "0.5"
            return out

    first = pattern(7)
    assert first == pattern(7)
    assert {200, 429, 529} <= set(first)


def test_invalid_requests_name_the_field(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as nf:
        client.messages.create(model="gpt-4o", max_tokens=10, messages=[user("hi")])
    assert nf.value.body["error"] == {"type": "not_found_error", "message": "model: gpt-4o"}  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError, match="messages"):
        client.messages.create(model=MODEL, max_tokens=10, messages=[])
    with pytest.raises(anthropic.BadRequestError, match="streaming is not simulated"):
        client.messages.create(model=MODEL, max_tokens=10, messages=[user("hi")], stream=True)
    with pytest.raises(anthropic.BadRequestError, match="tool_result"):
        client.messages.create(
            model=MODEL,
            max_tokens=10,
            messages=[
                user("hi"),
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}],
                },
                user("no result"),
            ],
        )


def test_raw_http_contract(sim: Simulator) -> None:
    status, headers, body = post(sim.url + "/v1/messages", {"model": MODEL, "messages": []})
    assert status == 400
    assert json.loads(body)["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required",
    }
    assert headers["x-simulator"] == "agentfleet-sim"
    assert headers["request-id"].startswith("req_sim_")
    status, _, body = post(sim.url + "/_sim/faults", [{"status": 418}])
    assert status == 400 and b"status" in body
    status, _, body = post(sim.url + "/_sim/faults", [{"status": 529}, {"latency_ms": 5}])
    assert (status, json.loads(body)) == (200, {"queued": 2})
    with urllib.request.urlopen(sim.url + "/_sim/stats", timeout=5) as r:
        assert json.load(r)["faults_queued"] == 2
    assert post(sim.url + "/_sim/reset", {})[0] == 200
    assert sim.stats()["faults_queued"] == 0 and sim.stats()["requests"] == 0


# --- tokens, determinism, secrecy -------------------------------------------------


def test_count_tokens_matches_billed_input(client: anthropic.Anthropic) -> None:
    messages = [user(subagent_task("Sort", "Sort the files in inbox/ by type"))]
    counted = client.messages.count_tokens(
        model=MODEL, system=prompts.SUBAGENT_SYSTEM, messages=messages, tools=TOOLS
    )
    billed = ask(client, prompts.SUBAGENT_SYSTEM, messages, TOOLS)
    assert counted.input_tokens == billed.usage.input_tokens > 100
    assert billed.usage.output_tokens > 0


def test_same_request_same_response(sim: Simulator) -> None:
    body = {
        "model": MODEL,
        "max_tokens": 100,
        "system": prompts.SUBAGENT_SYSTEM,
        "tools": TOOLS,
        "messages": [user(subagent_task("Sort", "Sort the files in inbox/ by type"))],
    }
    a, b = post(sim.url + "/v1/messages", body), post(sim.url + "/v1/messages", body)
    assert a[0] == b[0] == 200
    assert a[1]["request-id"] != b[1]["request-id"]
    first, second = json.loads(a[2]), json.loads(b[2])
    # As the API does, each reply has its own id, so a retried call is told from the
    # call it repeats; everything else is the same answer.
    assert first.pop("id") != second.pop("id")
    assert first == second
    # The brain alone agrees with the server: it is pure.
    alone = respond(body)
    assert alone.pop("id").startswith("msg_sim_")
    assert alone == first


async def test_async_client_and_secret_never_logged() -> None:
    lines: list[str] = []
    secret = "sk-ant-very-secret-value"
    with Simulator(log=lines.append) as s:
        client = anthropic.AsyncAnthropic(api_key=secret, base_url=s.url, max_retries=0)
        s.enqueue_faults([{"status": 401}])
        with pytest.raises(anthropic.AuthenticationError) as err:
            await client.messages.create(model=MODEL, max_tokens=10, messages=[user("x")])
        assert secret not in json.dumps(err.value.body)
        msg = await client.messages.create(
            model=MODEL, max_tokens=10, system=prompts.INLINE_SYSTEM, messages=[user("yo")]
        )
        assert msg.content[0].type == "text"
        stats = s.stats()
    assert stats["by_role"] == {"unknown": 1, "inline": 1}
    assert lines and not any(secret in line for line in lines)
    assert secret not in json.dumps(stats)


def test_stop_closes_kept_alive_connections() -> None:
    s = Simulator().start()
    client = anthropic.Anthropic(api_key="sim-no-key", base_url=s.url, max_retries=0)
    assert text(ask(client, prompts.INLINE_SYSTEM, [user("hi")])).startswith("Simulated")
    s.stop()
    with pytest.raises(anthropic.APIConnectionError):
        ask(client, prompts.INLINE_SYSTEM, [user("hi")])


def test_cli_serves_until_interrupted() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentfleet.sim", "--port", "0", "--fault-529", "0.1"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(4)]
        assert "agentfleet SIMULATOR - this is NOT Claude." in banner[1]
        url = banner[2].split(" on ")[1].strip()
        with urllib.request.urlopen(url + "/_sim/health", timeout=5) as r:
            assert json.load(r)["simulator"] == "agentfleet-sim"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
