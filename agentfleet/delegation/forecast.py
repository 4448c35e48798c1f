"""What a plan will cost, estimated before it runs (issue #17, item 5).

Pure and deterministic, so the master computes it inside the workflow with no
activity and no new command. Each part of the plan is priced by one of two
bases:

* `calibration`: the mean cost of that tier in the calibration record (the
  per-tier `Side.mean_cost_usd` that `agentfleet calibrate` writes to the
  thresholds history), once it holds at least `MIN_SAMPLES` runs of the tier;
* `estimate`: otherwise, from the part's complexity score: about `est_steps + 1`
  turns (capped by the tier's turn limit), each resending the prompt overhead
  and the conversation so far, into which the estimated context is read a share
  per turn, at the model's uncached input price (prompt caching only makes the
  real run cheaper).

The forecast adds what the master has already spent (planning) and one
synthesis call. It is an estimate, not a cap: budgets still stop a run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import ConfigDict, Field

from agentfleet.contracts.base import FrozenRecord, Record
from agentfleet.contracts.models import TIERS, Tier
from agentfleet.delegation.complexity import ComplexityScore, Thresholds
from agentfleet.delegation.pricing import cost_usd

MIN_SAMPLES = 3
# The system prompt and tool definitions every turn resends: the sub-agent's system
# prompt and its 11 file tools measure about 1,650 tokens (tests/test_prompt_cache.py's
# first cache write). Changing these constants changes forecasts, and so refusals, of
# new runs only: the refusal of a run already recorded is replayed from its patch marker.
PROMPT_OVERHEAD_TOKENS = 1_600
# What one turn adds to the conversation: the model's reply and its tool results.
GROWTH_PER_TURN_TOKENS = 400
OUTPUT_PER_TURN_TOKENS = 400
SYNTHESIS_OUTPUT_TOKENS = 800
REPORT_TOKENS_PER_PART = 400

Basis = Literal["calibration", "estimate"]


class TierCost(Record):
    """A tier's mean cost per run in the calibration record, and how many runs it rests on."""

    usd: float = Field(ge=0.0)
    samples: int = Field(ge=0)


class CalibratedThresholds(Thresholds):
    """The thresholds activity's result: the cut points in force, and mean cost per tier.

    The costs come from the calibration record (empty before any calibration).
    """

    # Results tolerate fields a newer worker adds.
    model_config = ConfigDict(extra="ignore", frozen=True)

    tier_costs: dict[str, TierCost] = Field(default_factory=dict)

    def base(self) -> Thresholds:
        """The cut points alone: what scores are cut with and recorded under."""
        return Thresholds(
            version=self.version, simple=self.simple, moderate=self.moderate, complex=self.complex
        )


class PartForecast(Record):
    """One part of a plan as priced: by the calibration record or by estimate."""

    title: str
    tier: Tier
    model: str
    usd: float
    basis: Basis


class Forecast(Record):
    """What a plan is expected to cost, part by part, against the goal's budget."""

    usd: float
    """The whole forecast: spent so far, the parts, and the synthesis."""
    budget_usd: float
    spent_usd: float = 0.0
    """What the master had already spent (planning) when the forecast was made."""
    synthesis_usd: float = 0.0
    """The final synthesis call, when there is more than one part to sum up."""
    parts: list[PartForecast] = Field(default_factory=list)

    @property
    def over_budget(self) -> bool:
        """Whether the forecast exceeds the budget: the master refuses to run the plan."""
        return self.usd > self.budget_usd

    def refusal(self) -> str:
        """The error a refused plan ends with, saying how to get past it."""
        return (
            f"ForecastOverBudget: the plan is estimated at ${self.usd:.4f}, more than its "
            f"budget of ${self.budget_usd:.4f} ({len(self.parts)} parts; set a larger "
            "budget.usd, or require_approval to decide yourself)"
        )


class _Part(FrozenRecord):
    """One part of a plan with what pricing it needs: its model, its limits, its score."""

    title: str
    tier: Tier
    model: str
    max_turns: int
    max_tokens: int
    score: ComplexityScore


def tier_costs(history: Iterable[Mapping[str, Any]]) -> dict[str, TierCost]:
    """Mean cost per tier from the newest calibration entry that measured it."""
    out: dict[str, TierCost] = {}
    for entry in history:
        for cut in entry.get("cuts") or []:
            for side in (cut.get("below"), cut.get("above")):
                if not isinstance(side, dict) or side.get("tier") not in TIERS:
                    continue
                n = int(side.get("n") or 0)
                if n > 0:
                    # Later entries are newer: they win.
                    out[str(side["tier"])] = TierCost(
                        usd=float(side.get("mean_cost_usd") or 0.0), samples=n
                    )
    return out


def prompt_tokens(turns: int, context: int) -> int:
    """Input tokens of `turns` turns, each resending what came before.

    Each turn resends the overhead and the history so far; the task's context
    is read in as it goes (a share of it per turn) and then stays in the history.
    """
    return sum(
        PROMPT_OVERHEAD_TOKENS + context * (k + 1) // turns + GROWTH_PER_TURN_TOKENS * k
        for k in range(turns)
    )


def _estimate(p: _Part) -> float:
    turns = max(1, min(p.score.est_steps + 1, p.max_turns))
    output = turns * min(p.max_tokens, OUTPUT_PER_TURN_TOKENS)
    prompt = prompt_tokens(turns, p.score.est_context_tokens)
    return cost_usd(p.model, input_tokens=prompt, output_tokens=output)


def part(
    title: str,
    tier: Tier,
    model: str,
    *,
    max_turns: int,
    max_tokens: int,
    score: ComplexityScore,
) -> _Part:
    """One part of a plan as the forecast prices it: its tier's model and limits, and its score."""
    return _Part(
        title=title,
        tier=tier,
        model=model,
        max_turns=max_turns,
        max_tokens=max_tokens,
        score=score,
    )


def forecast(
    parts: Sequence[_Part],
    costs: Mapping[str, TierCost],
    *,
    budget_usd: float,
    spent_usd: float = 0.0,
    synthesis_model: str | None = None,
) -> Forecast:
    """What a plan will cost: each part by calibration or estimate, plus spend and synthesis.

    `spent_usd` is what the master has already spent (planning); a synthesis
    call is added when `synthesis_model` is given and there is more than one part.
    """
    priced: list[PartForecast] = []
    for p in parts:
        known = costs.get(p.tier)
        if known is not None and known.samples >= MIN_SAMPLES:
            usd, basis = known.usd, "calibration"
        else:
            usd, basis = _estimate(p), "estimate"
        priced.append(
            PartForecast(title=p.title[:80], tier=p.tier, model=p.model, usd=usd, basis=basis)
        )
    synthesis = 0.0
    if synthesis_model is not None and len(parts) > 1:
        prompt = PROMPT_OVERHEAD_TOKENS + REPORT_TOKENS_PER_PART * len(parts)
        synthesis = cost_usd(
            synthesis_model, input_tokens=prompt, output_tokens=SYNTHESIS_OUTPUT_TOKENS
        )
    total = spent_usd + synthesis + sum(p.usd for p in priced)
    return Forecast(
        usd=round(total, 6),
        budget_usd=budget_usd,
        spent_usd=round(spent_usd, 8),
        synthesis_usd=round(synthesis, 8),
        parts=priced,
    )
