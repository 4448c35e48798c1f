"""Cost forecast (issue #17, item 5): estimated before a plan runs, shown, enforced, reported."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import Client

from agentfleet.config import Settings
from agentfleet.contracts.models import Budget, MasterInput, PlanApproval
from agentfleet.delegation.catalog import DEFAULT_MODEL, SMALL_MODEL
from agentfleet.delegation.complexity import DEFAULT_THRESHOLDS, score_text
from agentfleet.delegation.forecast import (
    GROWTH_PER_TURN_TOKENS,
    MIN_SAMPLES,
    OUTPUT_PER_TURN_TOKENS,
    PROMPT_OVERHEAD_TOKENS,
    TierCost,
    forecast,
    part,
    prompt_tokens,
    tier_costs,
)
from agentfleet.delegation.pricing import cost_usd
from agentfleet.ledger.store import Ledger
from agentfleet.reporting.render import render_result
from agentfleet.reporting.weekly import build_report
from agentfleet.reporting.weeks import week_of
from agentfleet.telemetry import names as tn
from tests.conftest import COMPLEX_GOAL, running_worker
from workflows.master import MasterAgentWorkflow


def _part(tier: str = "moderate", model: str = SMALL_MODEL, text: str = "Write a memo") -> object:
    score = score_text(text, DEFAULT_THRESHOLDS)
    return part(text, tier, model, max_turns=12, max_tokens=2048, score=score)  # type: ignore[arg-type]


def test_uncalibrated_parts_are_priced_from_their_score_and_the_price_table() -> None:
    p = _part()
    f = forecast([p], {}, budget_usd=5.0)  # type: ignore[list-item]
    (only,) = f.parts
    assert only.basis == "estimate" and only.usd > 0
    # One turn more than the estimated steps, each resending overhead, context and history.
    score = p.score  # type: ignore[attr-defined]
    turns = score.est_steps + 1
    ctx = score.est_context_tokens
    prompt = sum(
        PROMPT_OVERHEAD_TOKENS + ctx * (k + 1) // turns + GROWTH_PER_TURN_TOKENS * k
        for k in range(turns)
    )
    # All the context is in the last turn's prompt, a share of it in the first.
    assert prompt_tokens(1, ctx) == PROMPT_OVERHEAD_TOKENS + ctx
    assert only.usd == cost_usd(
        SMALL_MODEL, input_tokens=prompt, output_tokens=OUTPUT_PER_TURN_TOKENS * turns
    )
    assert f.usd == round(only.usd, 6) and not f.over_budget


def test_calibrated_tiers_use_the_records_mean_cost_once_there_are_enough_runs() -> None:
    history = [
        {"cuts": [{"below": {"tier": "simple", "n": 9, "mean_cost_usd": 0.5}, "above": {}}]},
        {
            "cuts": [
                {
                    "below": {"tier": "simple", "n": 1, "mean_cost_usd": 9.0},
                    "above": {"tier": "moderate", "n": MIN_SAMPLES, "mean_cost_usd": 0.02},
                }
            ]
        },
    ]
    costs = tier_costs(history)
    # The newest entry wins; too few samples fall back to the estimate.
    assert costs["moderate"] == TierCost(usd=0.02, samples=MIN_SAMPLES)
    assert costs["simple"] == TierCost(usd=9.0, samples=1)
    f = forecast(
        [_part("moderate"), _part("simple")],  # type: ignore[list-item]
        costs,
        budget_usd=0.01,
        spent_usd=0.003,
        synthesis_model=DEFAULT_MODEL,
    )
    assert [p.basis for p in f.parts] == ["calibration", "estimate"]
    assert f.parts[0].usd == 0.02 and f.synthesis_usd > 0
    assert f.usd == round(0.003 + f.synthesis_usd + sum(p.usd for p in f.parts), 6)
    assert f.over_budget and "ForecastOverBudget" in f.refusal() and "$0.0100" in f.refusal()


async def test_a_plan_over_its_budget_is_refused_before_any_child_starts(
    client: Client, settings: Settings
) -> None:
    async with running_worker(client, settings):
        result = await client.execute_workflow(
            MasterAgentWorkflow.run,
            MasterInput(goal=COMPLEX_GOAL, budget=Budget(usd=0.0005)),
            id=f"forecast-{uuid.uuid4().hex[:8]}",
            task_queue=settings.task_queue,
        )
    tree = result.tree
    assert tree.status == "failed" and tree.children == []
    assert tree.error is not None and tree.error.startswith("ForecastOverBudget")
    assert tree.forecast_usd is not None and tree.forecast_usd > 0.0005
    assert f"${tree.forecast_usd:.4f}" in tree.error and "$0.0005" in tree.error
    # Only the planning call was paid for.
    assert tree.usage.llm_calls >= 1 and all("plan" in r.purpose for r in tree.receipts)
    assert f"forecast ${tree.forecast_usd:.4f}" in render_result(result, None, "default")
    ledger = Ledger.from_url(settings.ledger_url)
    row = ledger.get(tree.workflow_id)
    ledger.dispose()
    assert row is not None and row.status == "failed"
    assert row.forecast_usd == tree.forecast_usd


async def test_with_require_approval_a_person_decides_and_the_report_compares(
    client: Client, settings: Settings
) -> None:
    async with running_worker(client, settings):
        handle = await client.start_workflow(
            MasterAgentWorkflow.run,
            MasterInput(goal=COMPLEX_GOAL, budget=Budget(usd=0.0005), require_approval=True),
            id=f"forecast-ok-{uuid.uuid4().hex[:8]}",
            task_queue=settings.task_queue,
        )
        for _ in range(200):
            live = await handle.query(MasterAgentWorkflow.tree)
            if live.forecast_usd is not None:
                break
            await asyncio.sleep(0.1)
        # The approver sees the forecast on the live tree before anything runs.
        assert live.forecast_usd is not None and live.forecast_usd > 0.0005
        assert live.children == []
        for _ in range(100):
            try:
                await handle.execute_update(MasterAgentWorkflow.approve_plan, PlanApproval())
                break
            except Exception:
                await asyncio.sleep(0.1)
        result = await handle.result()
    tree = result.tree
    # Approved over its forecast: it ran (and the budget, not the forecast, stopped it).
    assert tree.children and not (tree.error or "").startswith("ForecastOverBudget")
    assert tree.forecast_usd is not None
    ledger = Ledger.from_url(settings.ledger_url)
    rows = ledger.rows_closed_between(
        datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    )
    ledger.dispose()
    report = build_report(rows, [], week_of(datetime.now(UTC)))
    f = report.forecast
    assert f.tasks == 1
    assert f.forecast_usd == round(tree.forecast_usd, 6)
    assert f.actual_usd == round(tree.usage.cost_usd, 6)
    assert f.error_usd == round(f.actual_usd - f.forecast_usd, 6)
    print(f"\nforecast ${f.forecast_usd:.6f} vs actual ${f.actual_usd:.6f} ({tree.status})")
    assert tn.AF_FORECAST_USD == "agentfleet.forecast.usd"


def test_the_thresholds_activity_brings_the_calibration_records_cost_per_tier(
    tmp_path: Path,
) -> None:
    from activities.policy import PolicyActivities
    from agentfleet.delegation import calibration
    from tests.test_calibration import T0, band

    rows = band(0.06, 0.15, "trivial", 10, cost=0.001) + band(0.15, 0.25, "simple", 10, cost=0.04)
    fitted = calibration.fit(rows, calibration.read_thresholds(tmp_path), [])
    calibration.save(tmp_path, fitted, T0)
    served = asyncio.run(PolicyActivities(tmp_path).thresholds())
    assert served.base() == fitted.proposed
    assert served.tier_costs["trivial"] == TierCost(usd=0.001, samples=10)
    assert served.tier_costs["simple"] == TierCost(usd=0.04, samples=10)
    assert "complex" not in served.tier_costs  # no run of it in the record
