"""Prompt caching: breakpoints, the simulator's cache, and honest cost (issue #17, item 4).

The same multi-turn sub-agent run is made twice against the simulator, once
with caching on and once off. The simulator is deterministic, so both runs
make the same calls with the same prompts; the cached run must cost less by
exactly what the price table says its cache writes and reads save, and every
receipt, the ledger, the weekly report, the spans and the metrics must carry
the cache tokens.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anthropic
import pytest
from temporalio.client import Client

from agentfleet.cli.devserver import DevServer
from agentfleet.client import connect
from agentfleet.config import Settings
from agentfleet.contracts.models import AgentNode, Receipt, SubAgentInput
from agentfleet.delegation.caching import MAX_BREAKPOINTS, add_breakpoints
from agentfleet.delegation.catalog import CACHE_MIN_TOKENS, DEFAULT_MODEL, PRICES_PER_MTOK
from agentfleet.delegation.pricing import cost_usd
from agentfleet.ledger.store import Ledger
from agentfleet.reporting.weekly import build_report
from agentfleet.reporting.weeks import week_of
from agentfleet.sim import Simulator
from agentfleet.sim.cache import PromptCache
from agentfleet.sim.protocol import input_tokens
from agentfleet.telemetry import Telemetry, setup_telemetry
from agentfleet.telemetry import names as tn
from tests.conftest import make_settings
from tests.otlp_receiver import OtlpReceiver
from workflows.subagent import SubAgentWorkflow

# Several chores, so the agent takes several turns, each resending a longer conversation.
TASK = (
    "Task: notes\n"
    "Write a.md saying alpha. Write b.md saying beta. Write c.md saying gamma. "
    "Write d.md saying delta."
)
MODEL = DEFAULT_MODEL


# --------------------------------------------------------------------------- breakpoints


def test_breakpoints_go_on_tools_system_and_the_conversation() -> None:
    kwargs: dict[str, Any] = {
        "system": "ROLE: subagent",
        "tools": [{"name": "a"}, {"name": "b"}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "go"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "1", "name": "a"}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "1"}]},
        ],
    }
    assert add_breakpoints(kwargs) == MAX_BREAKPOINTS == 4
    assert kwargs["system"] == [
        {"type": "text", "text": "ROLE: subagent", "cache_control": {"type": "ephemeral"}}
    ]
    assert "cache_control" in kwargs["tools"][-1] and "cache_control" not in kwargs["tools"][0]
    msgs = kwargs["messages"]
    # The newest block, and the previous user turn's (the prefix the last turn wrote).
    assert "cache_control" in msgs[2]["content"][-1] and "cache_control" in msgs[0]["content"][-1]
    assert "cache_control" not in msgs[1]["content"][-1]
    # A request that already uses breakpoints is never taken past the API's limit.
    again = add_breakpoints(kwargs)
    assert again == 4


def test_a_first_turn_has_three_breakpoints_and_a_string_message_becomes_a_block() -> None:
    kwargs: dict[str, Any] = {"system": "s", "messages": [{"role": "user", "content": "hi"}]}
    assert add_breakpoints(kwargs) == 2  # no tools: system and the message
    assert kwargs["messages"][0]["content"] == [
        {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}
    ]


# --------------------------------------------------------------------------- the sim's cache


def _body(text: str, turns: int, *, system: str = "S" * 8000) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    for i in range(turns):
        messages.append({"role": "user", "content": [{"type": "text", "text": f"{text} {i}"}]})
        if i < turns - 1:
            messages.append({"role": "assistant", "content": [{"type": "text", "text": "ok"}]})
    body = {"model": MODEL, "max_tokens": 64, "system": system, "messages": messages}
    add_breakpoints(body)
    return body


def test_sim_cache_writes_then_reads_the_prefix_and_expires_it() -> None:
    now = [0.0]
    cache = PromptCache(clock=lambda: now[0])
    first = _body("hello", 1)
    total = input_tokens(first)
    w = cache.apply(first, total)
    # Nearly all of it written (up to the last breakpoint), nothing read.
    assert w.read == 0 and 0.95 * total < w.creation <= total
    # The next turn: the prefix the first wrote is read, only its new part written.
    second = _body("hello", 2)
    total2 = input_tokens(second)
    r = cache.apply(second, total2)
    assert r.read == w.creation and r.creation > 0 and r.read + r.creation <= total2
    # Another model does not share the cache.
    other = {**_body("hello", 2), "model": "claude-opus-5"}
    assert cache.apply(other, total2).read == 0
    # A changed prefix (another system prompt) is not a hit either.
    assert cache.apply(_body("hello", 2, system="T" * 8000), total2).read == 0
    # A read renews the TTL; 5 minutes of silence ends it.
    now[0] += 299
    assert cache.apply(second, total2).read > 0
    now[0] += 301
    assert cache.apply(second, total2).read == 0


def test_sim_cache_does_not_store_a_prefix_below_the_minimum() -> None:
    cache = PromptCache()
    small = _body("hi", 1, system="x" * 400)
    total = input_tokens(small)
    assert total < CACHE_MIN_TOKENS[MODEL] == 1024
    assert cache.apply(small, total).creation == 0
    assert cache.apply(small, total).read == 0
    # Configurable, for tests and benchmarks with short prompts.
    low = PromptCache(min_tokens=10)
    written = low.apply(small, total).creation
    assert 10 <= written <= total
    assert low.apply(small, total).read == written


def test_sim_rejects_more_than_four_breakpoints_like_the_api() -> None:
    mark = {"cache_control": {"type": "ephemeral"}}
    with Simulator(port=0) as sim:
        client = anthropic.Anthropic(api_key="sim-no-key", base_url=sim.url, max_retries=0)
        with pytest.raises(anthropic.BadRequestError, match="maximum of 4 blocks"):
            client.messages.create(
                model=MODEL,
                max_tokens=64,
                system=[{"type": "text", "text": f"s{i}", **mark} for i in range(5)],  # type: ignore[misc]
                messages=[{"role": "user", "content": "hi"}],
            )


def test_sim_over_http_reports_cache_tokens_apart_from_input() -> None:
    with Simulator(port=0) as sim:
        client = anthropic.Anthropic(api_key="sim-no-key", base_url=sim.url, max_retries=0)
        body = _body("hello", 1)
        plain = client.messages.count_tokens(
            model=MODEL, system="S" * 8000, messages=body["messages"]
        )
        first = client.messages.create(**body).usage
        second = client.messages.create(**body).usage
        # input_tokens counts only what was neither written nor read, exactly as the API does.
        assert first.cache_creation_input_tokens and not first.cache_read_input_tokens
        assert first.input_tokens + first.cache_creation_input_tokens == plain.input_tokens
        assert second.cache_read_input_tokens == first.cache_creation_input_tokens
        assert second.input_tokens + second.cache_read_input_tokens == plain.input_tokens
        stats = sim.stats()
        assert stats["cache_read_input_tokens"] == second.cache_read_input_tokens


# --------------------------------------------------------------------------- a real run


def _own_input(wid: str) -> SubAgentInput:
    return SubAgentInput(
        task=TASK,
        title="notes",
        workspace=wid,
        model=MODEL,
        root_id=wid,
        parent_id=f"{wid}-parent",
        max_depth=1,
        max_turns=12,
        tier="simple",
    )


async def _run(
    client: Client, settings: Settings, telemetry: Telemetry | None = None
) -> tuple[AgentNode, str]:
    from worker import build_worker

    wid = f"cache-{uuid.uuid4().hex[:8]}"
    (settings.workspaces / wid).mkdir(parents=True)
    if telemetry is not None:
        client = await connect(
            settings.temporal_address, plugins=telemetry.plugins, runtime=telemetry.runtime
        )
    async with build_worker(client, settings, settings.task_queue):
        node = await client.execute_workflow(
            SubAgentWorkflow.run, _own_input(wid), id=wid, task_queue=settings.task_queue
        )
    return node, wid


def _billed(node: AgentNode) -> list[Receipt]:
    return [r for r in node.receipts if r.ok]


def _by_hand(r: Receipt) -> float:
    """A receipt's price from the published rates, not through agentfleet.delegation.pricing."""
    p_in, p_out = PRICES_PER_MTOK[MODEL]
    return (
        r.input_tokens * p_in
        + r.output_tokens * p_out
        + r.cache_creation_input_tokens * p_in * 1.25
        + r.cache_read_input_tokens * p_in * 0.1
    ) / 1_000_000


async def test_a_cached_multi_turn_run_costs_less_by_what_the_price_table_says(
    devserver: DevServer, tmp_path: Path
) -> None:
    with Simulator(port=0) as sim, OtlpReceiver() as rx:
        cached = make_settings(tmp_path / "cached", devserver, sim.url)
        plain = dataclasses.replace(
            make_settings(tmp_path / "plain", devserver, sim.url), prompt_cache=False
        )
        t = setup_telemetry(
            {
                "AGENTFLEET_HOME": str(cached.home),
                "OTEL_EXPORTER_OTLP_ENDPOINT": rx.grpc_endpoint,
                "OTEL_METRIC_EXPORT_INTERVAL": "500",
                "OTEL_BSP_SCHEDULE_DELAY": "200",
            }
        )
        try:
            client = await connect(devserver.address)
            with_cache, wid = await _run(client, cached, t)
        finally:
            await t.shutdown()  # flushes the last spans and metrics
        without, _ = await _run(client, plain)
        spans = rx.spans()

    assert with_cache.status == without.status == "completed", (with_cache.error, without.error)
    a, b = _billed(with_cache), _billed(without)
    assert with_cache.turns == without.turns >= 3 and len(a) == len(b) == with_cache.turns
    # The same prompts: every call read as many input tokens, cached or not.
    for x, y in zip(a, b, strict=True):
        assert x.input_tokens + x.cache_creation_input_tokens + x.cache_read_input_tokens == (
            y.input_tokens
        )
        assert x.output_tokens == y.output_tokens
        assert y.cache_creation_input_tokens == y.cache_read_input_tokens == 0
    # Turn 1 writes the prefix; every later turn reads what the turn before wrote.
    assert a[0].cache_creation_input_tokens > 0 and a[0].cache_read_input_tokens == 0
    assert all(r.cache_read_input_tokens > 0 for r in a[1:])
    for prev, r in itertools.pairwise(a):
        assert r.cache_read_input_tokens == (
            prev.cache_read_input_tokens + prev.cache_creation_input_tokens
        )
    # Each receipt is priced at the published rates.
    for r in a + b:
        assert r.cost_usd == pytest.approx(_by_hand(r), abs=1e-8)
    # The saving is exactly what the cache rates say: a read saves 0.9x input, a write costs 0.25x.
    p_in = PRICES_PER_MTOK[MODEL][0]
    reads = sum(r.cache_read_input_tokens for r in a)
    writes = sum(r.cache_creation_input_tokens for r in a)
    expected_saving = (reads * p_in * (1 - 0.1) - writes * p_in * (1.25 - 1)) / 1_000_000
    saving = without.usage.cost_usd - with_cache.usage.cost_usd
    assert expected_saving > 0
    assert saving == pytest.approx(expected_saving, abs=1e-7)
    # The node's usage is the sum of its receipts, cache tokens included.
    u = with_cache.usage
    assert u.cache_read_input_tokens == reads and u.cache_creation_input_tokens == writes
    assert u.cost_usd == pytest.approx(sum(r.cost_usd for r in a), abs=1e-8)
    assert u.total_tokens == without.usage.total_tokens

    # The ledger row and the weekly report carry them, priced the same.
    ledger = Ledger.from_url(cached.ledger_url)
    row = ledger.get(wid)
    ledger.dispose()
    assert row is not None
    assert row.cache_read_input_tokens == reads and row.cache_creation_input_tokens == writes
    assert row.cost_usd == pytest.approx(u.cost_usd, abs=1e-8)
    week = week_of(datetime.now(UTC))
    report = build_report([row], [], week)
    assert report.totals.cache_read_input_tokens == reads
    assert report.totals.cache_creation_input_tokens == writes
    assert report.totals.input_tokens == u.input_tokens
    assert report.totals.cost_usd == pytest.approx(u.cost_usd, abs=1e-6)
    assert report.totals.cache_hit_rate == pytest.approx(reads / u.prompt_tokens, abs=1e-4)
    assert report.summary.cache_read_input_tokens == reads

    # Spans: every chat span carries the cache attributes, counted into input_tokens too.
    chats = sorted(
        (
            s
            for s in spans
            if s.attributes.get(tn.GEN_AI_OPERATION) == "chat"
            and s.attributes.get(tn.GEN_AI_AGENT_ID) == wid
        ),
        key=lambda s: s.span.start_time_unix_nano,
    )
    assert len(chats) == len(a)
    for s, r in zip(chats, a, strict=True):
        assert s.attributes[tn.GEN_AI_CACHE_READ_TOKENS] == r.cache_read_input_tokens
        assert s.attributes[tn.GEN_AI_CACHE_CREATION_TOKENS] == r.cache_creation_input_tokens
        assert s.attributes[tn.GEN_AI_INPUT_TOKENS] == (
            r.input_tokens + r.cache_read_input_tokens + r.cache_creation_input_tokens
        )
    (agent,) = [
        s
        for s in spans
        if s.name.startswith("invoke_agent") and s.attributes.get(tn.GEN_AI_AGENT_ID) == wid
    ]
    assert agent.attributes[tn.GEN_AI_CACHE_READ_TOKENS] == reads
    # Metrics: the token counter splits input by cache use.
    q = {"task_queue": cached.task_queue}
    assert rx.counter_total(tn.LLM_TOKENS, direction=tn.DIRECTION_CACHE_READ, **q) == reads
    assert rx.counter_total(tn.LLM_TOKENS, direction=tn.DIRECTION_CACHE_CREATION, **q) == writes
    assert rx.counter_total(tn.LLM_TOKENS, direction="input", **q) == u.input_tokens
    print(
        f"\ncached run: {len(a)} calls, ${with_cache.usage.cost_usd:.6f} "
        f"(read {reads}, write {writes}, uncached {u.input_tokens}); "
        f"uncached run: ${without.usage.cost_usd:.6f}; saving ${saving:.6f} "
        f"= expected ${expected_saving:.6f}"
    )


def test_the_fleet_dashboard_shows_the_cache_hit_rate() -> None:
    import json

    board = json.loads(
        (
            Path(__file__).resolve().parent.parent / "grafana/dashboards/fleet-overview.json"
        ).read_text(encoding="utf-8")
    )
    panels = [p for p in board["panels"] if "cache hit rate" in p.get("title", "").lower()]
    assert len(panels) == 2
    for p in panels:
        (target,) = p["targets"]
        expr = target["expr"]
        assert tn.LLM_TOKENS in expr and f'direction="{tn.DIRECTION_CACHE_READ}"' in expr
        # The denominator is every input token: uncached, written and read.
        assert "input|cache_read|cache_creation" in expr
        assert p["fieldConfig"]["defaults"]["unit"] == "percentunit"


def test_the_report_splits_cache_tokens_by_model_without_double_counting_a_tree() -> None:
    from datetime import timedelta

    from agentfleet.ledger.store import LedgerRow
    from agentfleet.reporting.markdown import render_markdown

    at = datetime(2026, 3, 10, 9, tzinfo=UTC)

    def row(wf: str, parent: str | None, model: str, **usage: Any) -> LedgerRow:
        return LedgerRow(
            workflow_id=wf,
            run_id="r",
            parent_id=parent,
            root_id="root",
            role="master" if parent is None else "subagent",
            model=model,
            status="completed",
            started_at=at,
            closed_at=at + timedelta(minutes=1),
            updated_at=at + timedelta(minutes=1),
            **usage,
        )

    # The root's row is its subtree's total; its own share is what its child did not spend.
    child = dict(
        input_tokens=100,
        output_tokens=50,
        cache_creation_input_tokens=2000,
        cache_read_input_tokens=6000,
        cost_usd=cost_usd(
            MODEL,
            input_tokens=100,
            output_tokens=50,
            cache_creation_input_tokens=2000,
            cache_read_input_tokens=6000,
        ),
    )
    own = dict(
        input_tokens=300,
        output_tokens=80,
        cache_creation_input_tokens=1000,
        cache_read_input_tokens=0,
    )
    root_cost = cost_usd("claude-opus-5", **own) + child["cost_usd"]
    total = {k: own[k] + child[k] for k in own}
    rows = [
        row("root", None, "claude-opus-5", **total, cost_usd=root_cost),
        row("root.1", "root", MODEL, **child),
    ]
    report = build_report(rows, [], "2026-W11")
    by = {u.model: u for u in report.by_model}
    opus, sonnet = by["claude-opus-5"], by[MODEL]
    assert (opus.cache_creation_input_tokens, opus.cache_read_input_tokens) == (1000, 0)
    assert (sonnet.cache_creation_input_tokens, sonnet.cache_read_input_tokens) == (2000, 6000)
    assert sonnet.cache_hit_rate == round(6000 / 8100, 4)
    assert opus.cost_usd == round(
        cost_usd(
            "claude-opus-5",
            input_tokens=300,
            output_tokens=80,
            cache_creation_input_tokens=1000,
            cache_read_input_tokens=0,
        ),
        6,
    )
    t = report.totals
    assert t.cache_read_input_tokens == 6000 and t.cache_creation_input_tokens == 3000
    assert t.total_tokens == 100 + 50 + 2000 + 6000 + 300 + 80 + 1000
    assert t.cost_usd == round(root_cost, 6)
    assert report.summary.cache_hit_rate == round(6000 / (400 + 3000 + 6000), 4)
    md = render_markdown(report)
    assert "cache hit rate" in md and "74.1%" in md


def test_caching_is_on_by_default_and_an_env_switch_turns_it_off(tmp_path: Path) -> None:
    home = {"AGENTFLEET_HOME": str(tmp_path)}
    assert Settings.from_env(home).prompt_cache is True
    for off in ("0", "false", "OFF"):
        assert Settings.from_env({**home, "AGENTFLEET_PROMPT_CACHE": off}).prompt_cache is False
    with pytest.raises(ValueError, match="AGENTFLEET_PROMPT_CACHE"):
        Settings.from_env({**home, "AGENTFLEET_PROMPT_CACHE": "maybe"})


def test_the_file_tools_dumped_once_carry_no_breakpoint_into_the_next_request(
    tmp_path: Path,
) -> None:
    import json

    from activities.llm import LlmActivities, estimate_input_tokens
    from agentfleet.contracts.models import LlmRequest, Message

    llm = LlmActivities(Settings(home=tmp_path, anthropic_base_url="http://127.0.0.1:9"))
    req = LlmRequest(
        model=DEFAULT_MODEL,
        system="ROLE: subagent\nDo the task.",
        messages=[Message.user_text("Sort the inbox.")],
        max_tokens=256,
        tool_names=["list_files", "read_file", "write_file"],
    )
    first = llm._request(req, list(req.messages))
    second = llm._request(req, list(req.messages))
    # The breakpoint goes on the last tool of each request, never on the shared dump.
    for kwargs in (first, second):
        assert [("cache_control" in t) for t in kwargs["tools"]] == [False, False, True]
    assert first["tools"][-1] is not second["tools"][-1]
    # The estimate still counts every character sent, breakpoint included, 3 to a token.
    sent = sum(len(json.dumps(first[k], ensure_ascii=False)) for k in ("system", "messages"))
    sent += sum(len(json.dumps(t, ensure_ascii=False)) for t in first["tools"])
    assert estimate_input_tokens(first) == sent // 3
