"""Delegation policy: what to do with a scored task, and how far a tree may grow.

Everything here is called from workflow code, so it is pure: no clocks,
randomness, environment, I/O or network, and no unordered iteration reaching
an output. A replay of the same history must take exactly the same decisions.

Three concerns live here:

* `DelegationPolicy.decide`: inline or spawn, which model, and how much rope.
* `guard`: the over-decomposition guard. Planners like to split work into more
  pieces than it has (a "plan the approach" step, a "double-check" step, five
  one-line chores), and each piece costs a child workflow, a prompt and a
  model call. The guard prunes a plan before any child starts and records every
  pruning, so the trimmed tree can be explained afterwards.
* `Budget` (defined with the payloads, re-exported here) and `cost_usd`: token
  and dollar arithmetic for parents handing part of their budget to children.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from agentfleet.contracts.models import (
    Budget,
    FrozenContract,
    FrozenRecord,
    Plan,
    PruneAction,
    Pruning,
    Subtask,
)
from agentfleet.delegation.catalog import (
    DEFAULT_MODEL,
    LARGE_MODEL,
    SMALL_MODEL,
    is_known_model,
    unknown_model_message,
)
from agentfleet.delegation.complexity import (
    TIERS,
    ComplexityScore,
    Thresholds,
    Tier,
    actions_in,
    score,
    score_text,
    spec_for,
)
from agentfleet.delegation.planning import rewire
from agentfleet.delegation.pricing import cost_usd

__all__ = [
    "INLINE_MAX_TURNS",
    "LARGE_MODEL",
    "MEDIUM_MODEL",
    "PARENT",
    "SMALL_MODEL",
    "Budget",
    "Decision",
    "DelegationPolicy",
    "GuardResult",
    "Limits",
    "Pruning",
    "TierPolicy",
    "cost_usd",
    "guard",
    "normalize",
    "score_command",
    "spec_hash",
]

# The mid tier's default is the catalog's default model.
MEDIUM_MODEL = DEFAULT_MODEL

# `Pruning.into` value when work is handed back to the parent agent.
PARENT = "(parent)"

DecisionKind = Literal["inline", "spawn"]

# Inline work runs inside the master, sharing its history: a few tool turns
# (make the folder, write the file, report), never a long conversation.
INLINE_MAX_TURNS = 6

_MAX_DESCRIPTION = 4000  # Subtask.description's limit; a merge must stay within it.


# --- decisions ------------------------------------------------------------------


class TierPolicy(FrozenContract):
    """How work of one tier runs: inline or spawned, on which model, with how much rope."""

    decision: DecisionKind
    model: str
    max_tokens: int = Field(ge=64, le=64_000)
    max_turns: int = Field(ge=1, le=500)
    may_decompose: bool = False
    fan_out: int = Field(ge=0, le=50, description="Most children a parent of this tier may spawn.")

    @model_validator(mode="after")
    def _consistent(self) -> TierPolicy:
        if not is_known_model(self.model):
            raise ValueError(unknown_model_message(self.model))
        if self.decision == "inline" and (self.may_decompose or self.max_turns > INLINE_MAX_TURNS):
            raise ValueError(
                f"an inline tier takes a few turns in the master: max_turns at most "
                f"{INLINE_MAX_TURNS} and may_decompose=False"
            )
        return self


class Decision(FrozenRecord):
    """What the policy decided for one scored task: where it runs and within which limits."""

    decision: DecisionKind
    tier: Tier
    model: str
    max_tokens: int
    max_turns: int
    may_decompose: bool
    fan_out: int = 0
    score: float = 0.0


class Limits(FrozenContract):
    """Tree-wide caps for the guard. Depth counts the master as 0."""

    max_depth: int = Field(default=2, ge=1, le=5)
    max_total: int = Field(default=16, ge=1, le=500)
    fan_out: dict[Tier, int] = Field(default_factory=lambda: _default_fan_out())
    # Subtasks scoring below this are chores, not jobs: cheaper folded into a
    # neighbour's prompt than given a workflow, a prompt and a model of their own.
    min_subtask_score: float = Field(default=0.08, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _all_tiers(self) -> Limits:
        missing = [t for t in TIERS if t not in self.fan_out]
        if missing:
            raise ValueError(f"fan_out needs a cap for every tier; missing: {', '.join(missing)}")
        if any(v < 0 for v in self.fan_out.values()):
            raise ValueError("fan_out caps must not be negative")
        return self


def _default_fan_out() -> dict[Tier, int]:
    return {t: _default_tier(t).fan_out for t in TIERS}


def _default_tier(tier: Tier) -> TierPolicy:
    defaults: dict[Tier, TierPolicy] = {
        "trivial": TierPolicy(
            decision="inline", model=SMALL_MODEL, max_tokens=1024, max_turns=4, fan_out=0
        ),
        "simple": TierPolicy(
            decision="spawn", model=SMALL_MODEL, max_tokens=2048, max_turns=8, fan_out=1
        ),
        "moderate": TierPolicy(
            decision="spawn", model=MEDIUM_MODEL, max_tokens=4096, max_turns=16, fan_out=2
        ),
        "complex": TierPolicy(
            decision="spawn",
            model=MEDIUM_MODEL,
            max_tokens=8192,
            max_turns=24,
            may_decompose=True,
            fan_out=5,
        ),
    }
    return defaults[tier]


class DelegationPolicy(FrozenContract):
    """Per-tier rules: where work of each tier runs, and how far it may split.

    Defaults: trivial inline on the small model, simple on the small model,
    moderate and complex on Sonnet; only complex may decompose.
    """

    trivial: TierPolicy = Field(default_factory=lambda: _default_tier("trivial"))
    simple: TierPolicy = Field(default_factory=lambda: _default_tier("simple"))
    moderate: TierPolicy = Field(default_factory=lambda: _default_tier("moderate"))
    complex: TierPolicy = Field(default_factory=lambda: _default_tier("complex"))

    @model_validator(mode="after")
    def _only_complex_decomposes(self) -> DelegationPolicy:
        for tier in TIERS:
            if tier != "complex" and self.for_tier(tier).may_decompose:
                # Recursive planning is where trees blow up; it is reserved for
                # the one tier whose work is genuinely multi-part.
                raise ValueError(f"only the complex tier may decompose, not {tier}")
        return self

    def for_tier(self, tier: Tier) -> TierPolicy:
        """The rules work of `tier` runs under (the tiers are this policy's field names)."""
        policy: TierPolicy = getattr(self, tier)
        return policy

    def with_models(self, **models: str) -> DelegationPolicy:
        """A copy with other models per tier, e.g. `with_models(complex=LARGE_MODEL)`."""
        unknown = sorted(set(models) - set(TIERS))
        if unknown:
            raise ValueError(f"unknown tier(s): {', '.join(unknown)}")
        data = self.model_dump()
        for tier, model in models.items():
            data[tier]["model"] = model
        # Re-validate, so an unknown model name fails here and not mid-run.
        return DelegationPolicy.model_validate(data)

    def decide(self, result: ComplexityScore) -> Decision:
        """Where a scored task runs: its tier's rules, with the score kept for the record."""
        tp = self.for_tier(result.tier)
        return Decision(
            decision=tp.decision,
            tier=result.tier,
            model=tp.model,
            max_tokens=tp.max_tokens,
            max_turns=tp.max_turns,
            may_decompose=tp.may_decompose,
            fan_out=tp.fan_out,
            score=result.score,
        )

    def limits(self, *, max_depth: int = 2, max_total: int = 16) -> Limits:
        """Guard limits whose fan-out caps follow this policy's tiers."""
        return Limits(
            max_depth=max_depth,
            max_total=max_total,
            fan_out={t: self.for_tier(t).fan_out for t in TIERS},
        )


# --- the over-decomposition guard ----------------------------------------------


class GuardResult(FrozenRecord):
    """`kept` may be empty: then the parent does the whole job itself."""

    kept: list[Subtask]
    pruned: list[Pruning] = Field(default_factory=list)
    # Id of each subtask taken out -> id of the kept subtask that absorbed its
    # work (None: nothing did). planning.rewire() reconnects edges with it.
    removed: dict[str, str | None] = Field(default_factory=dict)


_PUNCT = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")

_PLAN_TITLE = re.compile(
    r"^(?:plan|outline|strategi[sz]e|brainstorm|scope|decide|think|break down)\b"
    r"|^(?:review|revise|refine|finali[sz]e|draft|write|create|make|agree on|confirm)\s+"
    r"(?:the\s+|a\s+|an\s+|our\s+)?(?:overall\s+|work\s+)?(?:plan|approach|strategy|outline)\b"
)
_VALIDATE_TITLE = re.compile(
    r"^(?:validate|verify|double check|doublecheck|cross check|sanity check|re check|recheck"
    r"|proofread|qa)\b"
    r"|^(?:check|review|test|confirm|inspect|assess)\s+(?:the\s+|all\s+|our\s+)?"
    r"(?:final\s+|overall\s+)?(?:results?|outputs?|work|changes|everything|deliverables?)\b"
)
# A "validation" step that moves files or makes directories is doing work.
_WORK_TOOLS = frozenset({"move_file", "make_dir"})


def normalize(text: str) -> str:
    """Lowercase, punctuation to spaces, whitespace collapsed."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()


def spec_hash(subtask: Subtask) -> str:
    """Identity of a subtask's work, blind to case, spacing and punctuation.

    The title is left out: two differently named subtasks with the same
    instructions on the same files are the same work.
    """
    files = sorted(normalize(f) for f in subtask.files)
    key = normalize(subtask.description) + "\x00" + "\x00".join(files)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def _single_step_matching(subtask: Subtask, pattern: re.Pattern[str]) -> bool:
    title = normalize(subtask.title)
    if not pattern.search(title):
        return False
    # "Plan and create the folders" does real work after planning.
    if len(actions_in(subtask.title)) > 1:
        return False
    return not any(t in _WORK_TOOLS for t in subtask.tools)


def _union(a: list[str], b: list[str]) -> list[str]:
    return a + [x for x in b if x not in a]


def _merge(target: Subtask, extra: Subtask) -> Subtask | None:
    description = f"{target.description}\nAlso ({extra.title}): {extra.description}"
    if len(description) > _MAX_DESCRIPTION:
        return None
    return target.model_copy(
        update={
            "description": description,
            "tools": _union(target.tools, extra.tools),
            "files": _union(target.files, extra.files),
            "outputs": _union(target.outputs, extra.outputs),
            "depends_on": [
                d
                for d in _union(target.depends_on, extra.depends_on)
                if d not in (target.id, extra.id)
            ],
        }
    )


class _Trail:
    """What the guard took out of a plan so far, and where each piece's work went."""

    def __init__(self) -> None:
        self.pruned: list[Pruning] = []
        # Id of each subtask taken out -> id of the kept subtask that absorbed it (or None).
        self.removed: dict[str, str | None] = {}

    def take(self, sub: Subtask, into: Subtask | None, pruning: Pruning) -> None:
        """Record that `sub` leaves the plan, absorbed by `into` (None: by no kept subtask)."""
        if sub.id is not None:
            self.removed[sub.id] = into.id if into is not None else None
        self.pruned.append(pruning)


def guard(
    plan: Plan,
    parent_tier: Tier,
    *,
    depth: int,
    limits: Limits,
    spawned_so_far: int,
    strip_overhead: bool | None = None,
) -> GuardResult:
    """Prune `plan` before any child starts, so no child is spent on work that is not one.

    `depth` is the parent's depth (master = 0); `spawned_so_far` counts
    sub-agents already started in this tree. Steps, in order: depth cap,
    duplicates, planning/validation-only steps judged by title (unless the
    parent is complex), tiny subtasks merged, fan-out cap, tree total cap.
    `strip_overhead=True` strips planning/validation-only steps whatever the
    tier: a parent that has just planned, and will synthesize the results,
    already does both. Every removal is recorded in `pruned`, and plan order is kept, so the
    first subtasks survive a cap. `into=PARENT` means the parent absorbs the
    work; capped subtasks have `into=None`: their work is not done unless the
    caller re-plans or does it itself.
    """
    if depth < 0 or spawned_so_far < 0:
        raise ValueError("depth and spawned_so_far must not be negative")
    child_depth = depth + 1
    if child_depth > limits.max_depth:
        return _past_max_depth(plan, child_depth, limits)

    trail = _Trail()
    working = _drop_duplicates(plan.subtasks, trail)
    # Planning and checking are the parent's own job unless the work is
    # complex enough that a dedicated planner or reviewer pays for itself.
    strip = parent_tier != "complex" if strip_overhead is None else strip_overhead
    if strip:
        working = _strip_overhead(working, parent_tier, trail)
    working = _merge_tiny(working, limits, child_depth, trail)
    cap = limits.fan_out[parent_tier]
    working = _cap(
        working,
        cap,
        "capped_fanout",
        f"a {parent_tier} parent may spawn at most {cap} sub-agents",
        trail,
    )
    working = _cap(
        working,
        max(limits.max_total - spawned_so_far, 0),
        "capped_total",
        f"tree already has {spawned_so_far} of max_total {limits.max_total} sub-agents",
        trail,
    )
    if any(s.depends_on for s in plan.subtasks):
        working = rewire(working, trail.removed, plan)
    return GuardResult(kept=working, pruned=trail.pruned, removed=trail.removed)


def _past_max_depth(plan: Plan, child_depth: int, limits: Limits) -> GuardResult:
    """Children would sit below the depth cap: the parent keeps the whole plan."""
    reason = (
        f"children would be at depth {child_depth}, past max_depth {limits.max_depth}; "
        "the parent does this work itself"
    )
    pruned = [
        Pruning(title=s.title, action="capped_depth", reason=reason, into=PARENT)
        for s in plan.subtasks
    ]
    return GuardResult(kept=[], pruned=pruned, removed={s.id: None for s in plan.subtasks if s.id})


def _drop_duplicates(subtasks: list[Subtask], trail: _Trail) -> list[Subtask]:
    """One subtask per piece of work (same spec hash).

    The first occurrence keeps its place and absorbs the duplicate's tools and
    outputs, so no declared need is lost.
    """
    first_by_hash: dict[str, int] = {}
    unique: list[Subtask] = []
    for sub in subtasks:
        key = spec_hash(sub)
        if key not in first_by_hash:
            first_by_hash[key] = len(unique)
            unique.append(sub)
            continue
        idx = first_by_hash[key]
        kept_sub = unique[idx]
        unique[idx] = kept_sub.model_copy(
            update={
                "tools": _union(kept_sub.tools, sub.tools),
                "outputs": _union(kept_sub.outputs, sub.outputs),
            }
        )
        trail.take(
            sub,
            kept_sub,
            Pruning(
                title=sub.title,
                action="dropped_duplicate",
                reason=f"same work as {kept_sub.title!r} (spec hash {key})",
                into=kept_sub.title,
            ),
        )
    return unique


def _strip_overhead(subtasks: list[Subtask], parent_tier: Tier, trail: _Trail) -> list[Subtask]:
    """Hand planning-only and validation-only steps back to the parent, who does both."""
    working: list[Subtask] = []
    for sub in subtasks:
        if _single_step_matching(sub, _PLAN_TITLE):
            action: PruneAction = "stripped_plan"
            reason = f"planning-only subtask under a {parent_tier} parent that plans for itself"
        elif _single_step_matching(sub, _VALIDATE_TITLE):
            action = "stripped_validate"
            reason = (
                f"validation-only subtask under a {parent_tier} parent "
                "that checks the results itself"
            )
        else:
            working.append(sub)
            continue
        trail.take(sub, None, Pruning(title=sub.title, action=action, reason=reason, into=PARENT))
    return working


def _cap(
    subtasks: list[Subtask], keep: int, action: PruneAction, reason: str, trail: _Trail
) -> list[Subtask]:
    """The first `keep` subtasks; the rest are recorded as capped, their work undone."""
    for s in subtasks[keep:]:
        trail.take(s, None, Pruning(title=s.title, action=action, reason=reason))
    return subtasks[:keep]


def _merge_tiny(
    subtasks: list[Subtask], limits: Limits, child_depth: int, trail: _Trail
) -> list[Subtask]:
    """Fold each tiny subtask into a full-size neighbour, so no child is spent on a chore.

    A tiny subtask goes into the nearest earlier full-size one (or the first
    later one); if every subtask is tiny, the parent does them all.
    """
    tiny = [score(spec_for(s)).score < limits.min_subtask_score for s in subtasks]
    if subtasks and all(tiny):
        for s in subtasks:
            trail.take(
                s,
                None,
                Pruning(
                    title=s.title,
                    action="merged",
                    reason="every subtask is below the minimum size; "
                    "the parent does them in one go",
                    into=PARENT,
                ),
            )
        return []

    out: list[Subtask] = []
    pending: list[Subtask] = []  # tiny ones seen before the first full-size one

    def fold(target: Subtask, extra: Subtask) -> Subtask:
        merged = _merge(target, extra)
        if merged is None:
            # Merging would break the description limit: keep it as its own child.
            out.append(extra)
            return target
        trail.take(
            extra,
            target,
            Pruning(
                title=extra.title,
                action="merged",
                reason=f"below the minimum size (score < {limits.min_subtask_score}) "
                f"for a child at depth {child_depth}",
                into=target.title,
            ),
        )
        return merged

    for sub, is_tiny in zip(subtasks, tiny, strict=True):
        if not is_tiny:
            for early in pending:
                sub = fold(sub, early)
            pending = []
            out.append(sub)
        elif out:
            last = len(out) - 1
            out[last] = fold(out[last], sub)
        else:
            pending.append(sub)
    return out


# --- CLI ------------------------------------------------------------------------


def score_command(
    text: str,
    *,
    as_json: bool,
    policy: DelegationPolicy | None = None,
    thresholds: Thresholds | None = None,
) -> tuple[int, str]:
    """`agentfleet score "TASK" [--json]`: (exit code, output)."""
    if not text.strip():
        return 2, "error: task text is empty"
    try:
        result = score_text(text, thresholds)
    except ValidationError as err:
        # The task becomes a SubtaskSpec.description; say which limit it broke.
        return 2, "error: task: " + "; ".join(e["msg"] for e in err.errors(include_url=False))
    decision = (policy or DelegationPolicy()).decide(result)
    payload = {
        "score": result.score,
        "tier": result.tier,
        "decision": decision.decision,
        "model": decision.model,
        "max_tokens": decision.max_tokens,
        "max_turns": decision.max_turns,
        "may_decompose": decision.may_decompose,
        "est_context_tokens": result.est_context_tokens,
        "est_steps": result.est_steps,
        "rationale": result.rationale,
        "thresholds_version": result.thresholds_version,
    }
    if as_json:
        return 0, json.dumps(payload, indent=2)
    rows = [
        (
            "tier",
            f"{result.tier} (score {result.score:.3f}, thresholds {result.thresholds_version})",
        ),
        ("decision", f"{decision.decision} on {decision.model}"),
        (
            "limits",
            f"max_tokens {decision.max_tokens}, max_turns {decision.max_turns}, "
            f"may_decompose {'yes' if decision.may_decompose else 'no'}",
        ),
        ("context", f"~{result.est_context_tokens} tokens"),
        ("steps", f"~{result.est_steps} tool call{'' if result.est_steps == 1 else 's'}"),
    ]
    rows += [("why" if i == 0 else "", r) for i, r in enumerate(result.rationale)]
    width = max(len(k) for k, _ in rows) + 2
    return 0, "\n".join(f"{k:<{width}}{v}" for k, v in rows)
