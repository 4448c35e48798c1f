"""What `agentfleet status`, the demo and `agentfleet trace` show about a run:
each node's completion check, and whether its spend was simulated, read from
what the run recorded (never from the shell that asks)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agentfleet.contracts.models import (
    AgentNode,
    Effect,
    MasterResult,
    Receipt,
    Usage,
    Verification,
)
from agentfleet.reporting.render import (
    receipt_simulated,
    render_result,
    render_tree,
    result_json,
    spend_source,
    verification_text,
)
from agentfleet.telemetry import names as tn
from agentfleet.telemetry.trace_view import trace_command

HISTORIES = Path(__file__).resolve().parent / "data" / "histories"
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def receipt(cost: float, simulated: bool | None, rid: str = "msg_01abc", **kw: Any) -> Receipt:
    fields: dict[str, Any] = {"model": "claude-haiku-4-5", "cost_usd": cost, "request_id": rid}
    if simulated is not None:
        fields["simulated"] = simulated
    return Receipt.model_validate({**fields, **kw})


def node(wid: str, status: str, **kw: Any) -> AgentNode:
    return AgentNode.model_validate(
        {
            "workflow_id": wid,
            "role": "subagent",
            "title": wid,
            "status": status,
            "started_at": T0,
            "closed_at": T0 + timedelta(seconds=3),
            **kw,
        }
    )


def tree(receipts: list[Receipt] | None = None) -> MasterResult:
    children = [
        node(
            "m.1",
            "completed",
            verification=Verification(
                mode="files", passed=True, checked=["inbox/pdf/", "docs/INDEX.md"]
            ),
            effects=[
                Effect(op="write", path="docs/INDEX.md"),
                Effect(op="mkdir", path="inbox/pdf"),
            ],
        ),
        node(
            "m/inline-2",
            "completed",
            role="inline",
            verification=Verification(mode="answer_only", passed=True),
        ),
        node(
            "m.3",
            "unverified",
            verification=Verification(
                mode="files",
                passed=False,
                checked=["notes/SUMMARY.md", "x.txt"],
                missing=["notes/SUMMARY.md"],
                unjournaled=["x.txt"],
                reason="missing notes/SUMMARY.md",
            ),
        ),
        node("m.4", "failed", error="tool crashed"),
        node("m.5", "completed"),
        node(
            "m.6",
            "unverified",
            verification=Verification(
                mode="files", passed=False, reason="claimed, never journaled"
            ),
        ),
    ]
    root = node(
        "m",
        "unverified",
        role="master",
        title="the goal",
        children=children,
        usage=Usage(input_tokens=100, output_tokens=20, cost_usd=0.5, llm_calls=3),
        receipts=receipts or [],
        verification=Verification(
            mode="files", passed=False, checked=["notes/SUMMARY.md"], missing=["notes/SUMMARY.md"]
        ),
    )
    return MasterResult(goal="the goal", workspace="ws", tree=root)


# --- the tree -----------------------------------------------------------------------


def test_each_node_shows_its_check_and_unverified_stands_out() -> None:
    text = render_tree(tree().tree)
    lines = text.splitlines()
    assert lines[0].startswith("⚠ the goal  [unverified]")
    assert lines[1] == "   check: ✗ unverified: missing notes/SUMMARY.md"
    assert "├─ ✔ m.1  [completed]" in text
    assert "│     check: ✓ verified 2 paths" in text
    assert "│     check: ✓ answer only (no file effect was asked for)" in text
    assert "├─ ⚠ m.3  [unverified]" in text
    assert (
        "│     check: ✗ unverified: missing notes/SUMMARY.md; not in its tool journal: x.txt"
        in text
    )
    # A failed node never claimed to be done: nothing to check, its error shows.
    m4 = lines.index(next(line for line in lines if "m.4  [failed]" in line))
    assert lines[m4 + 1 : m4 + 3] == ["│     id m.4", "│     error: tool crashed"]
    # A completed node with no check recorded says so.
    assert "│     check: ? no completion check recorded" in text
    assert "   check: ✗ unverified: claimed, never journaled" in text


def test_verification_text_lists_at_most_a_few_paths() -> None:
    many = node(
        "x",
        "unverified",
        verification=Verification(
            mode="files", passed=False, missing=[f"f{i}.txt" for i in range(7)]
        ),
    )
    assert verification_text(many) == (
        "✗ unverified: missing f0.txt, f1.txt, f2.txt, f3.txt (+3 more)"
    )
    wrong = node(
        "w",
        "unverified",
        verification=Verification(
            mode="files", passed=False, mismatched=["todo.txt"], unread=["notes.md"]
        ),
    )
    assert verification_text(wrong) == (
        "✗ unverified: not as asked: todo.txt; never looked at: notes.md"
    )
    one = node(
        "y", "completed", verification=Verification(mode="files", passed=True, checked=["a"])
    )
    assert verification_text(one) == "✓ verified 1 path"
    assert verification_text(node("z", "canceled")) is None


def test_status_json_carries_verification_effects_and_spend() -> None:
    doc = result_json(tree([receipt(0.5, True, "msg_sim_1")]))
    json.dumps(doc)  # one JSON document
    assert doc["status"] == "unverified"
    assert doc["verification"]["missing"] == ["notes/SUMMARY.md"]
    assert doc["verification"]["passed"] is False
    first = doc["children"][0]
    assert first["verification"] == {
        "mode": "files",
        "passed": True,
        "checked": ["inbox/pdf/", "docs/INDEX.md"],
        "missing": [],
        "unjournaled": [],
        "reason": "",
        "unread": [],
        "mismatched": [],
    }
    assert first["effects"] == [
        {"op": "write", "path": "docs/INDEX.md", "src": None},
        {"op": "mkdir", "path": "inbox/pdf", "src": None},
    ]
    assert doc["children"][3]["verification"] is None
    assert doc["spend"] == {
        "source": "simulator",
        "simulated_usd": 0.5,
        "real_usd": 0.0,
        "unrecorded_usd": 0.0,
    }


# --- spend: simulated or not, as the run recorded it ------------------------------------


def test_spend_is_labelled_from_the_receipts(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = tree([receipt(0.3, True, "msg_sim_a"), receipt(0.2, True, "msg_sim_b")])
    real = tree([receipt(0.3, False), receipt(0.2, False, "msg_01def")])
    # The flag alone is enough, whatever the response id looks like.
    flagged = tree([receipt(0.5, True, "msg_01xyz")])
    mixed = tree([receipt(0.3, False), receipt(0.2, True, "msg_sim_c")])
    # A rejected attempt (429) costs nothing and labels nothing.
    retried = tree([receipt(0.0, False, None, ok=False), receipt(0.5, True, "msg_sim_d")])
    outputs = {}
    for env in ({"ANTHROPIC_API_KEY": "sk-ant-not-a-key"}, {}):
        for k in ("ANTHROPIC_API_KEY",):
            monkeypatch.delenv(k, raising=False)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        outputs[bool(env)] = {
            name: render_result(r, None, "default")
            for name, r in [
                ("sim", sim),
                ("real", real),
                ("flagged", flagged),
                ("mixed", mixed),
                ("retried", retried),
            ]
        }
    # The shell's key changes nothing.
    assert outputs[True] == outputs[False]
    out = outputs[True]
    assert out["sim"].endswith("(simulator: no real spend)\nWorkspace: ws")
    assert out["flagged"].endswith("(simulator: no real spend)\nWorkspace: ws")
    assert out["retried"].endswith("(simulator: no real spend)\nWorkspace: ws")
    assert "simulator" not in out["real"] and "$0.5000\nWorkspace: ws" in out["real"]
    assert "$0.5000 ($0.3000 real; $0.2000 from the simulator, not real spend)" in out["mixed"]
    assert spend_source(mixed.tree).source == "mixed"
    assert spend_source(tree([]).tree).source == "none"


def test_a_run_recorded_before_receipts_carried_the_flag() -> None:
    """The result payload of a recorded run (tests/data/histories), from before
    `Receipt.simulated` and completion checks existed."""
    history = json.loads((HISTORIES / "v3__replay-test-ff0af5bbd967.json").read_text())
    (done,) = [
        e["workflowExecutionCompletedEventAttributes"]
        for e in history["events"]
        if "workflowExecutionCompletedEventAttributes" in e
    ]
    raw = base64.b64decode(done["result"]["payloads"][0]["data"])
    assert b'"simulated"' not in raw
    old = MasterResult.model_validate_json(raw)
    receipts = [r for n in old.tree.walk() for r in n.receipts if r.ok]
    assert receipts and all(receipt_simulated(r) is True for r in receipts)
    src = spend_source(old.tree)
    assert src.source == "simulator" and src.simulated.llm_calls == len(receipts)
    text = render_result(old, None, "default")
    assert "(simulator: no real spend)" in text
    # Its nodes said `completed` with no check: shown as such, not as verified.
    assert "check: ? no completion check recorded" in text
    assert "✓" not in text
    # An old receipt with neither the flag nor a response id tells nothing.
    blank = Receipt.model_validate_json('{"model": "m", "cost_usd": 0.1, "ok": true}')
    assert receipt_simulated(blank) is None
    unknown = tree([blank])
    assert "did not record whether the simulator answered" in render_result(
        unknown, None, "default"
    )


# --- agentfleet trace ---------------------------------------------------------------------


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        v: dict[str, Any] = {"boolValue": value}
    elif isinstance(value, int):
        v = {"intValue": str(value)}
    elif isinstance(value, list):
        v = {"arrayValue": {"values": [{"stringValue": x} for x in value]}}
    else:
        v = {"stringValue": value}
    return {"key": key, "value": v}


def _span_line(sid: str, parent: str, agent: str, start_s: int, **attrs: Any) -> str:
    t0 = int(T0.timestamp()) * 10**9
    span = {
        "traceId": "cd" * 16,
        "spanId": sid * 16,
        "parentSpanId": parent * 16 if parent else "",
        "name": f"invoke_agent {agent}",
        "kind": 1,
        "startTimeUnixNano": str(t0 + start_s * 10**9),
        "endTimeUnixNano": str(t0 + (start_s + 5) * 10**9),
        "attributes": [
            _attr(tn.GEN_AI_OPERATION, "invoke_agent"),
            _attr(tn.GEN_AI_AGENT_ID, agent),
            _attr(tn.GEN_AI_CONVERSATION_ID, "m"),
            *(_attr(k, v) for k, v in attrs.items()),
        ],
    }
    doc = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]}
    return json.dumps(doc) + "\n"


def test_trace_shows_each_agents_check(tmp_path: Path) -> None:
    path = tmp_path / "traces" / "spans.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(
        _span_line(
            "1",
            "",
            "m",
            0,
            **{
                tn.AF_STATUS: "unverified",
                tn.AF_VERIFY_PASSED: False,
                tn.AF_VERIFY_MODE: "files",
                tn.AF_VERIFY_CHECKED: 2,
                tn.AF_VERIFY_MISSING: ["notes/SUMMARY.md", "x/"],
            },
        )
        + _span_line(
            "2",
            "1",
            "m.1",
            1,
            **{
                tn.AF_STATUS: "completed",
                tn.AF_VERIFY_PASSED: True,
                tn.AF_VERIFY_MODE: "files",
                tn.AF_VERIFY_CHECKED: ["a.txt", "b.txt", "c/"],
            },
        )
        + _span_line(
            "3",
            "1",
            "m/inline-1",
            2,
            **{
                tn.AF_STATUS: "completed",
                tn.AF_VERIFY_PASSED: True,
                tn.AF_VERIFY_MODE: "answer_only",
                tn.AF_VERIFY_CHECKED: 0,
            },
        )
        + _span_line("4", "1", "m.2", 3, **{tn.AF_STATUS: "failed"})
    )
    code, text = trace_command(tmp_path, "m", as_json=False)
    assert code == 0, text
    lines = {
        line.split("invoke_agent ")[1].split()[0]: line
        for line in text.splitlines()
        if "invoke_agent " in line
    }
    assert lines["m"].endswith("[m]  unverified  ✗ unverified: missing notes/SUMMARY.md, x/")
    assert lines["m.1"].endswith("[m.1]  completed  ✓ verified 3 paths")
    assert lines["m/inline-1"].endswith("[m/inline-1]  completed  ✓ answer only")
    assert lines["m.2"].endswith("[m.2]  failed")

    code, out = trace_command(tmp_path, "m", as_json=True)
    doc = json.loads(out)
    (root,) = doc["traces"][0]["spans"]
    assert root["verification"] == {
        "passed": False,
        "mode": "files",
        "checked": 2,
        "missing": ["notes/SUMMARY.md", "x/"],
    }
    kids = {c["attributes"][tn.GEN_AI_AGENT_ID]: c for c in root["children"]}
    assert kids["m.1"]["verification"]["checked"] == 3
    assert kids["m.2"]["verification"] is None
