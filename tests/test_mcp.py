"""MCP servers as tools, against a real MCP server process (tests/mcp_notes_server.py).

No mock of the protocol: the hub starts the server over stdio (or reaches it over
streamable HTTP) with the official SDK, lists its tools and calls them, and the
activities turn the answers into ToolResults. Temporal's ActivityEnvironment runs the
activities; the end-to-end crash test is tests/test_mcp_durable.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.mcp import RESULT_INLINE_LIMIT, McpActivities
from agentfleet.contracts.models import Effect, McpCallRequest, McpCatalog, McpTool, Plan, Subtask
from agentfleet.mcp import McpHub, hub_for, resolve_tool
from agentfleet.mcp.allow import ToolSet, plan_errors, planner_note, resolve
from agentfleet.mcp.config import McpConfigError, load_config, parse_config
from agentfleet.payloads.blobstore import LocalBlobStore

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "tests" / "mcp_notes_server.py"
SECRET = "tok-5e3r3t-value-77"


def stdio_config(home: Path, log: Path, **extra: object) -> Path:
    cfg = {
        "mcpServers": {
            "notes": {
                "command": sys.executable,
                "args": [str(SERVER), "--log", str(log)],
                "env": {"NOTES_TOKEN": "${NOTES_TOKEN}"},
                **extra,
            }
        }
    }
    home.mkdir(parents=True, exist_ok=True)
    (home / "mcp.json").write_text(json.dumps(cfg))
    return home / "mcp.json"


def invocations(log: Path, tool: str) -> int:
    if not log.exists():
        return 0
    return sum(
        1
        for line in log.read_text().splitlines()
        if (rec := json.loads(line))["tool"] == tool and rec["event"] == "start"
    )


@pytest.fixture
async def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[McpHub]:
    monkeypatch.setenv("NOTES_TOKEN", SECRET)
    monkeypatch.delenv("AGENTFLEET_MCP_CONFIG", raising=False)
    stdio_config(tmp_path / "home", tmp_path / "calls.jsonl", tools={"whoami": {"timeout": 5}})
    h = hub_for(tmp_path / "home")
    yield h
    await h.close()


def call_req(name: str, args: dict[str, object], idempotent: bool = True) -> McpCallRequest:
    server, tool = name.removeprefix("mcp__").split("__", 1)
    return McpCallRequest(
        server=server, tool=tool, name=name, input=args, call_id="toolu_1", idempotent=idempotent
    )


# --- config ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"mcpServers": {"notes": {"args": []}}}, "mcpServers.notes"),
        ({"mcpServers": {"notes": {"command": "x", "timeout": 0}}}, "mcpServers.notes.timeout"),
        ({"mcpServers": {"no__tes": {"command": "x"}}}, "mcpServers.no__tes"),
        ({"mcpServers": {"notes": {"url": "ftp://x"}}}, "mcpServers.notes"),
        ({"mcpServers": {"n": {"url": "http://x/mcp", "type": "sse"}}}, "mcpServers.n"),
        ({"mcpServers": {"n": {"command": "x", "tools": {"t": {"idem": 1}}}}}, "tools.t.idem"),
        ({"mcpServers": []}, "mcpServers"),
    ],
)
def test_bad_config_names_the_file_and_the_field(raw: object, field: str) -> None:
    with pytest.raises(McpConfigError) as info:
        parse_config(raw, "/etc/af/mcp.json")
    assert str(info.value).startswith("/etc/af/mcp.json: ")
    assert field in str(info.value)


def test_config_file_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTFLEET_MCP_CONFIG", raising=False)
    assert load_config(tmp_path).servers == {}  # no file: no MCP servers
    (tmp_path / "mcp.json").write_text('{"mcpServers": ')
    with pytest.raises(McpConfigError, match=r"mcp\.json: not JSON"):
        load_config(tmp_path)
    monkeypatch.setenv("AGENTFLEET_MCP_CONFIG", str(tmp_path / "elsewhere.json"))
    with pytest.raises(McpConfigError, match=r"elsewhere\.json: no such file"):
        load_config(tmp_path)


def test_bad_config_stops_the_worker_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "mcp.json").write_text(json.dumps({"mcpServers": {"n": {"command": 7}}}))
    env = {"PATH": "/usr/bin:/bin", "AGENTFLEET_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "worker.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'mcp.json'}: mcpServers.n.command: Input should be a valid string"
    ]


# --- discovery and calls over stdio ---------------------------------------------------------


async def test_catalog_lists_tools_with_retry_classes(hub: McpHub, tmp_path: Path) -> None:
    catalog = await ActivityEnvironment().run(
        McpActivities(hub, LocalBlobStore(tmp_path / "blobs")).list_tools
    )
    assert catalog.errors == {}
    by_name = {t.name: t for t in catalog.tools}
    assert set(by_name) == {
        "mcp__notes__lookup",
        "mcp__notes__add_note",
        "mcp__notes__whoami",
        "mcp__notes__dump",
    }
    # From the server's annotations: read-only or idempotent tools may run twice.
    assert by_name["mcp__notes__lookup"].idempotent
    assert by_name["mcp__notes__dump"].idempotent
    assert not by_name["mcp__notes__add_note"].idempotent
    assert not by_name["mcp__notes__whoami"].idempotent  # no annotation: the safe default
    assert by_name["mcp__notes__whoami"].timeout_s == 5  # the config's override
    assert by_name["mcp__notes__lookup"].input_schema["required"] == ["key"]
    # The LLM activity offers them by name from this worker's catalogue.
    spec = resolve_tool("mcp__notes__lookup")
    assert spec is not None and spec.input_schema["properties"]["key"]["type"] == "string"
    assert resolve_tool("mcp__notes__nope") is None


async def test_config_overrides_annotations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTFLEET_MCP_CONFIG", raising=False)
    stdio_config(
        tmp_path / "h", tmp_path / "log", idempotent=False, tools={"add_note": {"idempotent": True}}
    )
    monkeypatch.delenv("NOTES_TOKEN", raising=False)
    h = hub_for(tmp_path / "h")
    try:
        # A variable the config references must be in the worker's environment.
        missing = await h.catalog()
        assert missing.tools == []
        assert (
            "mcpServers.notes.env.NOTES_TOKEN: the environment variable NOTES_TOKEN is not set"
            in (missing.errors["notes"])
        )
        monkeypatch.setenv("NOTES_TOKEN", SECRET)
        tools = {t.tool: t.idempotent for t in (await h.catalog()).tools}
    finally:
        await h.close()
    assert tools == {"lookup": False, "add_note": True, "whoami": False, "dump": False}


async def test_call_result_journal_and_redaction(hub: McpHub, tmp_path: Path) -> None:
    acts = McpActivities(hub, LocalBlobStore(tmp_path / "blobs"))
    env = ActivityEnvironment()
    res = await env.run(acts.call_tool, call_req("mcp__notes__lookup", {"key": "alpha"}))
    assert (res.content, res.is_error) == ("note alpha: the value of alpha is 42", False)
    assert res.effects == [Effect(op="call", path="mcp__notes__lookup")]
    assert res.call_id == "toolu_1" and res.content_ref is None
    assert invocations(tmp_path / "calls.jsonl", "lookup") == 1
    # The token reached the server through the worker's environment, and never comes back.
    who = await env.run(acts.call_tool, call_req("mcp__notes__whoami", {}, idempotent=False))
    assert who.content == "token=[REDACTED]" and SECRET not in who.model_dump_json()
    # A tool that rejects its arguments answers with an error result for the model.
    bad = await env.run(acts.call_tool, call_req("mcp__notes__lookup", {"kee": 1}))
    assert bad.is_error and "key" in bad.content


async def test_large_result_goes_to_the_blob_store(hub: McpHub, tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    size = 5 * RESULT_INLINE_LIMIT
    res = await ActivityEnvironment().run(
        McpActivities(hub, store).call_tool, call_req("mcp__notes__dump", {"size": size})
    )
    assert res.content_ref is not None
    assert len(res.content.encode()) <= RESULT_INLINE_LIMIT
    assert res.content_ref in res.content and f"{size} bytes" in res.content
    assert store.get(res.content_ref) == ("0123456789abcdef" * (size // 16 + 1))[:size].encode()


# --- a server that is down --------------------------------------------------------------------


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_down_server_is_a_clear_error_not_a_retry_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTFLEET_MCP_CONFIG", raising=False)
    port = free_tcp_port()
    (tmp_path / "mcp.json").write_text(
        json.dumps({"mcpServers": {"search": {"url": f"http://127.0.0.1:{port}/mcp"}}})
    )
    h = hub_for(tmp_path)
    acts = McpActivities(h, LocalBlobStore(tmp_path / "blobs"))
    try:
        started = time.monotonic()
        catalog = await ActivityEnvironment().run(acts.list_tools)
        assert catalog.tools == []
        assert "search" in catalog.errors and "not reachable" in catalog.errors["search"]
        with pytest.raises(ApplicationError) as info:
            await ActivityEnvironment().run(
                acts.call_tool, call_req("mcp__search__find", {"q": "x"}, idempotent=False)
            )
        assert info.value.type == "McpServerDown"
        assert "'search' is not reachable" in info.value.message
        assert time.monotonic() - started < 30  # bounded: a few connects, then the error
    finally:
        await h.close()


# --- streamable HTTP ---------------------------------------------------------------------


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_tcp_port()
    log = tmp_path / "http-calls.jsonl"
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--log", str(log), "--http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "http-server.err").open("w"),
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp", log
    finally:
        proc.terminate()
        proc.wait(10)


async def test_streamable_http_server(
    http_server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AGENTFLEET_MCP_CONFIG", raising=False)
    url, log = http_server
    monkeypatch.setenv("SEARCH_TOKEN", SECRET)
    (tmp_path / "mcp.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "notes": {"url": url, "headers": {"Authorization": "Bearer ${SEARCH_TOKEN}"}}
                }
            }
        )
    )
    h = hub_for(tmp_path)
    try:
        acts = McpActivities(h, LocalBlobStore(tmp_path / "blobs"))
        catalog = await ActivityEnvironment().run(acts.list_tools)
        assert "mcp__notes__add_note" in {t.name for t in catalog.tools}
        res = await ActivityEnvironment().run(
            acts.call_tool, call_req("mcp__notes__add_note", {"text": "hi"}, idempotent=False)
        )
        assert res.content == "added note 1: hi"
        assert invocations(log, "add_note") == 1
    finally:
        await h.close()


# --- allow-lists (pure) -------------------------------------------------------------------

CATALOG = McpCatalog(
    tools=[
        McpTool(name="mcp__notes__lookup", server="notes", tool="lookup", idempotent=True),
        McpTool(name="mcp__notes__add_note", server="notes", tool="add_note"),
        McpTool(name="mcp__web__fetch", server="web", tool="fetch"),
    ],
    errors={"crm": "MCP server 'crm' is not reachable: ConnectError"},
)


def test_allow_list_resolution() -> None:
    every = resolve(None, CATALOG)
    assert every.files is None and len(every.mcp) == 3 and not every.explicit
    some = resolve(["read_file", "write_file", "mcp__notes__*"], CATALOG)
    assert some.files == ["read_file", "write_file"]
    assert [t.name for t in some.mcp] == ["mcp__notes__lookup", "mcp__notes__add_note"]
    assert [s.name for s in some.specs()] == [
        "read_file",
        "write_file",
        "mcp__notes__lookup",
        "mcp__notes__add_note",
    ]
    with pytest.raises(ValueError) as info:
        resolve(["read_file", "rm_rf", "mcp__crm__find"], CATALOG)
    msg = str(info.value)
    assert msg.startswith("tools: unknown tool rm_rf, mcp__crm__find (MCP server 'crm' is not")
    assert "available: list_files" in msg


def test_plan_asking_for_tools_outside_the_allow_list_is_a_plan_error() -> None:
    tools = resolve(["read_file", "mcp__notes__lookup"], CATALOG)
    plan = Plan(
        subtasks=[
            Subtask(id="a", title="look", description="d", tools=["mcp__notes__lookup"]),
            Subtask(id="b", title="write", description="d", tools=["write_file", "bash"]),
        ]
    )
    err = plan_errors(plan, tools)
    assert err is not None and err.startswith("subtask b asks for write_file, bash.")
    assert "use only: read_file, mcp__notes__lookup" in err
    ok = Plan(subtasks=[Subtask(title="look", description="d", tools=["read_file"])])
    assert plan_errors(ok, tools) is None
    # Without an allow-list a planner's loose names pass; an MCP tool that does not exist does not.
    loose = Plan(subtasks=[Subtask(title="t", description="d", tools=["editor", "mcp__x__y"])])
    assert plan_errors(loose, resolve(None, CATALOG)) == (
        "subtask 1 asks for mcp__x__y. Those tools are not available to this goal; use only: "
        + ", ".join([*resolve(None, CATALOG).names])
    )
    # A subtask that names MCP tools is offered those; one that names none, all allowed.
    named = Subtask(title="t", description="d", tools=["mcp__notes__lookup"])
    assert [t.name for t in tools.for_subtask(named)] == ["mcp__notes__lookup"]
    assert "mcp__notes__lookup" in planner_note(tools)
    assert planner_note(ToolSet(files=None)) == ""
