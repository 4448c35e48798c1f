"""Delegation policy: decisions, the over-decomposition guard, budgets, cost, CLI."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from agentfleet.contracts.models import Plan, Subtask, Usage
from agentfleet.delegation.catalog import PRICES_PER_MTOK
from agentfleet.delegation.complexity import TIERS, Tier, score_text
from agentfleet.delegation.policy import (
    INLINE_MAX_TURNS,
    LARGE_MODEL,
    MEDIUM_MODEL,
    PARENT,
    SMALL_MODEL,
    Budget,
    DelegationPolicy,
    GuardResult,
    Limits,
    TierPolicy,
    cost_usd,
    guard,
    score_command,
    spec_hash,
)

ROOT = Path(__file__).resolve().parents[1]


def sub(title: str, description: str | None = None, **kw: list[str]) -> Subtask:
    return Subtask(
        title=title,
        description=description
        or f"{title}: read the input files in data/, transform each record, "
        "and write the result to out/ with a short report of what changed.",
        **kw,
    )


def accounted(plan: Plan, result: GuardResult) -> None:
    """Every planned subtask is either kept or recorded as pruned, exactly once."""
    titles = [s.title for s in plan.subtasks]
    seen = [s.title for s in result.kept] + [p.title for p in result.pruned]
    assert sorted(seen) == sorted(titles)


# --- decisions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "decision", "model", "may_decompose"),
    [
        ("trivial", "inline", SMALL_MODEL, False),
        ("simple", "spawn", SMALL_MODEL, False),
        ("moderate", "spawn", MEDIUM_MODEL, False),
        ("complex", "spawn", MEDIUM_MODEL, True),
    ],
)
def test_default_decisions_per_tier(
    tier: Tier, decision: str, model: str, may_decompose: bool
) -> None:
    examples = {
        "trivial": "What does HTTP 404 mean?",
        "simple": "Summarize meeting-notes.md in five bullet points.",
        "moderate": "Merge customers_a.csv and customers_b.csv into customers.csv, "
        "de-duplicating by email and keeping the most recent record.",
        "complex": "Review the whole backend/ codebase for security and performance issues, "
        "prioritize the findings, and write a report with a section per module.",
    }
    result = score_text(examples[tier])
    assert result.tier == tier
    d = DelegationPolicy().decide(result)
    assert (d.decision, d.tier, d.model, d.may_decompose) == (decision, tier, model, may_decompose)
    assert d.score == result.score
    if decision == "inline":
        # Inline work has tools now: a few turns, inside the master.
        assert 2 <= d.max_turns <= INLINE_MAX_TURNS


def test_models_are_configurable_per_tier() -> None:
    policy = DelegationPolicy().with_models(complex=LARGE_MODEL, simple=MEDIUM_MODEL)
    assert policy.complex.model == LARGE_MODEL
    assert policy.simple.model == MEDIUM_MODEL
    assert policy.trivial.model == SMALL_MODEL
    # The original is untouched: policies are values.
    assert DelegationPolicy().complex.model == MEDIUM_MODEL
    with pytest.raises(ValidationError, match="unknown model 'gpt-9'"):
        DelegationPolicy().with_models(moderate="gpt-9")
    with pytest.raises(ValueError, match="unknown tier"):
        DelegationPolicy().with_models(huge=LARGE_MODEL)


def default_tier_but(tier: Tier, **changes: object) -> TierPolicy:
    """The default policy's `tier` with `changes`, validated afresh."""
    data = {**DelegationPolicy().for_tier(tier).model_dump(), **changes}
    return TierPolicy.model_validate(data)


def test_policy_rejects_inconsistent_tiers() -> None:
    with pytest.raises(ValidationError, match="only the complex tier may decompose"):
        DelegationPolicy(simple=default_tier_but("simple", may_decompose=True))
    # The trivial tier runs inline.
    with pytest.raises(ValidationError, match="inline tier takes a few turns"):
        default_tier_but("trivial", max_turns=INLINE_MAX_TURNS + 1)
    with pytest.raises(ValidationError, match="inline tier takes a few turns"):
        default_tier_but("trivial", may_decompose=True)
    with pytest.raises(ValidationError, match="extra"):
        DelegationPolicy.model_validate({"giant": {}})


def test_policy_limits_follow_tier_fan_out() -> None:
    limits = DelegationPolicy().limits(max_depth=3, max_total=9)
    assert limits.fan_out == {"trivial": 0, "simple": 1, "moderate": 2, "complex": 5}
    assert (limits.max_depth, limits.max_total) == (3, 9)
    assert Limits().fan_out == limits.fan_out
    with pytest.raises(ValidationError, match="missing: complex"):
        Limits(fan_out={"trivial": 0, "simple": 1, "moderate": 2})


# --- the guard ------------------------------------------------------------------------


def test_simple_parent_strips_planning_and_validation_subtasks() -> None:
    plan = Plan(
        subtasks=[
            sub("Plan the approach", "Decide how to organise the photos before moving anything."),
            sub("Move photos", "Move every .jpg file from inbox/ into photos/ by year."),
            sub("Validate the results", "Check that every photo ended up in the right folder."),
            sub("Double-check", "Look over everything once more."),
            sub("Review the plan", "Make sure the plan covers all photos."),
        ]
    )
    result = guard(plan, "simple", depth=0, limits=Limits(), spawned_so_far=0)
    assert [s.title for s in result.kept] == ["Move photos"]
    actions = {p.title: p.action for p in result.pruned}
    assert actions == {
        "Plan the approach": "stripped_plan",
        "Review the plan": "stripped_plan",
        "Validate the results": "stripped_validate",
        "Double-check": "stripped_validate",
    }
    assert all(p.into == PARENT and "simple parent" in p.reason for p in result.pruned)
    accounted(plan, result)


def test_complex_parent_keeps_planning_and_validation_subtasks() -> None:
    plan = Plan(
        subtasks=[
            sub("Plan the approach"),
            sub("Migrate the assets"),
            sub("Validate the results"),
        ]
    )
    result = guard(plan, "complex", depth=0, limits=Limits(), spawned_so_far=0)
    assert [s.title for s in result.kept] == [s.title for s in plan.subtasks]
    assert result.pruned == []


def test_real_work_with_a_planning_word_is_not_stripped() -> None:
    plan = Plan(
        subtasks=[
            sub("Plan and create the folder layout"),
            sub("Review auth.py", "Review auth.py for SQL injection and write findings."),
        ]
    )
    result = guard(plan, "moderate", depth=0, limits=Limits(), spawned_so_far=0)
    assert [s.title for s in result.kept] == [s.title for s in plan.subtasks]


def test_duplicates_differing_by_case_space_punctuation_are_dropped() -> None:
    plan = Plan(
        subtasks=[
            Subtask(
                title="Clean sales",
                description="Normalize the dates in sales.csv to ISO 8601, and drop empty rows.",
                tools=["read_file"],
                files=["sales.csv"],
            ),
            Subtask(
                title="Clean sales data (again)",
                description="  normalize THE dates in sales.csv to ISO-8601 and drop empty rows!! ",
                tools=["write_file"],
                files=["Sales.csv"],
            ),
            sub("Write the summary"),
        ]
    )
    assert spec_hash(plan.subtasks[0]) == spec_hash(plan.subtasks[1])
    result = guard(plan, "complex", depth=0, limits=Limits(), spawned_so_far=0)
    assert [s.title for s in result.kept] == ["Clean sales", "Write the summary"]
    (dup,) = result.pruned
    assert dup.action == "dropped_duplicate"
    assert dup.title == "Clean sales data (again)"
    assert dup.into == "Clean sales"
    # The survivor keeps both declared tools.
    assert result.kept[0].tools == ["read_file", "write_file"]
    accounted(plan, result)


def test_adversarial_plan_of_500_is_cut_to_the_fan_out_cap() -> None:
    plan = Plan(subtasks=[sub(f"Part {i}") for i in range(500)])
    result = guard(plan, "complex", depth=0, limits=Limits(), spawned_so_far=0)
    assert [s.title for s in result.kept] == [f"Part {i}" for i in range(5)]
    assert len(result.pruned) == 495
    assert {p.action for p in result.pruned} == {"capped_fanout"}
    assert "at most 5" in result.pruned[0].reason
    accounted(plan, result)

    simple = guard(plan, "simple", depth=0, limits=Limits(), spawned_so_far=0)
    assert len(simple.kept) == 1
    assert len(simple.pruned) == 499


def test_identical_500_collapse_to_one() -> None:
    plan = Plan(
        subtasks=[sub(f"Copy {i}", "Sort inbox/ files into folders by type.") for i in range(500)]
    )
    result = guard(plan, "complex", depth=0, limits=Limits(), spawned_so_far=0)
    assert [s.title for s in result.kept] == ["Copy 0"]
    assert [p.action for p in result.pruned] == ["dropped_duplicate"] * 499


def test_depth_cap() -> None:
    plan = Plan(subtasks=[sub("A"), sub("B")])
    limits = Limits(max_depth=2)
    allowed = guard(plan, "complex", depth=1, limits=limits, spawned_so_far=0)
    assert len(allowed.kept) == 2

    capped = guard(plan, "complex", depth=2, limits=limits, spawned_so_far=0)
    assert capped.kept == []
    assert [p.action for p in capped.pruned] == ["capped_depth", "capped_depth"]
    assert "past max_depth 2" in capped.pruned[0].reason
    accounted(plan, capped)


def test_total_cap_counts_sub_agents_already_spawned() -> None:
    plan = Plan(subtasks=[sub(f"Part {i}") for i in range(5)])
    limits = Limits(max_total=10)
    result = guard(plan, "complex", depth=1, limits=limits, spawned_so_far=8)
    assert [s.title for s in result.kept] == ["Part 0", "Part 1"]
    assert [p.action for p in result.pruned] == ["capped_total"] * 3
    assert "8 of max_total 10" in result.pruned[0].reason
    accounted(plan, result)

    full = guard(plan, "complex", depth=1, limits=limits, spawned_so_far=10)
    assert full.kept == []
    assert len(full.pruned) == 5


def test_tiny_subtasks_merge_into_a_neighbour() -> None:
    tiny_first = Subtask(title="Make out dir", description="Create the out/ directory.")
    big = sub("Transform records", files=["data/records.csv"])
    tiny_after = Subtask(title="Rename log", description="Rename run.log to run.txt.")
    other = sub("Write report")
    plan = Plan(subtasks=[tiny_first, big, tiny_after, other])
    result = guard(plan, "complex", depth=0, limits=Limits(), spawned_so_far=0)

    assert [s.title for s in result.kept] == ["Transform records", "Write report"]
    merged = {p.title: p for p in result.pruned}
    assert set(merged) == {"Make out dir", "Rename log"}
    assert all(p.action == "merged" for p in merged.values())
    # A leading tiny subtask goes to the next full-size one; later ones go back.
    assert merged["Make out dir"].into == "Transform records"
    assert merged["Rename log"].into == "Transform records"
    target = result.kept[0]
    assert "Create the out/ directory." in target.description
    assert "Rename run.log to run.txt." in target.description
    assert target.files == ["data/records.csv"]
    accounted(plan, result)


def test_all_tiny_subtasks_go_back_to_the_parent() -> None:
    plan = Plan(
        subtasks=[
            Subtask(title="mkdir", description="Create the out/ directory."),
            Subtask(title="rename", description="Rename a.txt to b.txt."),
        ]
    )
    result = guard(plan, "moderate", depth=0, limits=Limits(), spawned_so_far=0)
    assert result.kept == []
    assert [(p.action, p.into) for p in result.pruned] == [("merged", PARENT)] * 2


def test_trivial_parent_spawns_nothing() -> None:
    plan = Plan(subtasks=[sub("A")])
    result = guard(plan, "trivial", depth=0, limits=Limits(), spawned_so_far=0)
    assert result.kept == []
    assert result.pruned[0].action == "capped_fanout"


def test_guard_is_deterministic() -> None:
    plan = Plan(
        subtasks=[sub(f"Part {i % 7}", None) for i in range(40)]
        + [Subtask(title="tiny", description="Create out/."), sub("Verify the output")]
    )
    first = guard(plan, "moderate", depth=0, limits=Limits(), spawned_so_far=0).model_dump_json()
    assert all(
        guard(plan, "moderate", depth=0, limits=Limits(), spawned_so_far=0).model_dump_json()
        == first
        for _ in range(20)
    )


def test_guard_rejects_negative_counters() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        guard(Plan(subtasks=[sub("A")]), "complex", depth=0, limits=Limits(), spawned_so_far=-1)


# --- budgets and cost ------------------------------------------------------------------


def test_cost_usd_values() -> None:
    assert cost_usd("claude-haiku-4-5", input_tokens=1_000_000, output_tokens=0) == 1.0
    assert cost_usd("claude-haiku-4-5", input_tokens=0, output_tokens=1_000_000) == 5.0
    assert cost_usd("claude-sonnet-4-5", input_tokens=1_000, output_tokens=500) == pytest.approx(
        0.0105
    )
    price_in, price_out = PRICES_PER_MTOK[LARGE_MODEL]
    assert cost_usd(LARGE_MODEL, input_tokens=2_000, output_tokens=4_000) == pytest.approx(
        (2_000 * price_in + 4_000 * price_out) / 1e6
    )
    assert cost_usd("claude-sonnet-4-5", input_tokens=0, output_tokens=0) == 0.0
    # Real responses name dated snapshots: they are priced as their base model.
    assert cost_usd("claude-haiku-4-5-20251001", input_tokens=1_000_000, output_tokens=0) == 1.0
    # An unknown model is never free: it is charged at the dearest rate.
    dearest_in, dearest_out = max(PRICES_PER_MTOK.values())
    assert (
        cost_usd("claude-imaginary", input_tokens=1_000_000, output_tokens=1_000_000)
        == dearest_in + dearest_out
    )
    with pytest.raises(ValueError, match="must not be negative"):
        cost_usd("claude-haiku-4-5", input_tokens=-1, output_tokens=0)


def test_reserve_gives_each_child_an_equal_share_and_keeps_one() -> None:
    parent = Budget(tokens=100_000, usd=2.0)
    shares = []
    for remaining_children in (3, 2, 1):
        child, parent = parent.reserve_for_child(remaining_children)
        shares.append(child)
    assert [c.tokens for c in shares] == [25_000, 25_000, 25_000]
    assert [c.usd for c in shares] == [0.5, 0.5, 0.5]
    assert parent == Budget(tokens=25_000, usd=0.5)


def test_reserve_never_hands_out_more_than_there_is() -> None:
    budget = Budget(tokens=10, usd=0.1)
    child, rest = budget.reserve_for_child(2)
    assert child.tokens + rest.tokens == 10
    assert child.usd + rest.usd <= 0.1 + 1e-12
    assert child.tokens == 3
    with pytest.raises(ValueError, match="at least 1"):
        budget.reserve_for_child(0)


def test_charge_and_exhaust() -> None:
    budget = Budget(tokens=10_000, usd=0.05)
    usage = Usage(input_tokens=3_000, output_tokens=1_000, cost_usd=0.02, llm_calls=1)
    after = budget.charge(usage)
    assert after == Budget(tokens=6_000, usd=0.03)
    assert not after.exhausted()
    # With a model, the price table decides: 3000*3 + 1000*15 per million.
    priced = budget.charge(usage, model="claude-sonnet-4-5")
    assert priced.usd == pytest.approx(0.05 - 0.024)
    spent = after.charge(usage).charge(usage)
    assert spent.tokens == 0
    assert spent.exhausted()
    # Dollars alone can exhaust a budget too, and never go negative.
    broke = Budget(tokens=1_000_000, usd=0.01).charge(Usage(cost_usd=0.5))
    assert broke.usd == 0.0
    assert broke.exhausted()
    with pytest.raises(ValidationError):
        Budget(tokens=-1, usd=1.0)
    with pytest.raises(ValidationError, match="extra"):
        Budget.model_validate({"tokens": 1, "usd": 1.0, "dollars": 2})


# --- CLI ------------------------------------------------------------------------------


def test_score_command_json() -> None:
    code, out = score_command("Rename notes.txt to notes.md.", as_json=True)
    assert code == 0
    data = json.loads(out)
    assert data["tier"] == "trivial"
    assert data["decision"] == "inline"
    assert data["model"] == SMALL_MODEL
    assert data["thresholds_version"] == "v1"
    for key in ("score", "est_context_tokens", "est_steps", "rationale"):
        assert key in data


def test_score_command_human_output_is_aligned() -> None:
    code, out = score_command(
        "Summarize the three papers in papers/ and compare their methods in a table.",
        as_json=False,
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("tier")
    assert any(line.startswith("decision") and "spawn" in line for line in lines)
    # Every value starts in the same column.
    column = len(lines[0]) - len(lines[0][4:].lstrip())
    assert all(len(line) > column and line[column] != " " for line in lines)
    # Keys are left-aligned in the column before it.
    assert all(line[:column] == line[:column].strip().ljust(column) for line in lines)


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_score_command_rejects_empty_text(blank: str) -> None:
    assert score_command(blank, as_json=True) == (2, "error: task text is empty")
    assert score_command(blank, as_json=False) == (2, "error: task text is empty")


@pytest.mark.parametrize("module", ["policy.py", "planning.py"])
def test_policy_imports_only_workflow_safe_code(module: str) -> None:
    # planning.py is the guard's graph half; both run inside the workflow sandbox.
    allowed = {
        "__future__",
        "collections.abc",
        "hashlib",
        "json",
        "math",
        "re",
        "typing",
        "pydantic",
        "agentfleet.delegation.catalog",
        "agentfleet.delegation.complexity",
        "agentfleet.contracts.models",
        "agentfleet.delegation.planning",
        "agentfleet.delegation.pricing",
    }
    tree = ast.parse((ROOT / "agentfleet" / "delegation" / module).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert imported <= allowed, imported - allowed


def test_every_tier_has_a_policy() -> None:
    policy = DelegationPolicy()
    assert [policy.for_tier(t).decision for t in TIERS] == ["inline", "spawn", "spawn", "spawn"]
