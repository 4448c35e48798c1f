"""Self-calibration: nudge the tier cut points toward what the record shows works.

Every ledger row carries the estimate a delegation decision was made on (score, tier,
thresholds version) next to its outcome (status, cost, tokens). `fit` reads those rows and
proposes new `complexity.Thresholds`; the helpers below read and write
`$AGENTFLEET_HOME/thresholds.json` (the file `activities/policy.py` loads when a master starts)
and append every change to `thresholds-history.jsonl`. Nothing here imports Temporal, and
`fit` is a pure function of its arguments: the same rows, in any order, give the same answer.

**Samples.** A row counts when it is closed (not running, not canceled: a cancellation is a
person's choice, not an outcome), has a score and a known tier, and was cut with the
thresholds now in force (same `thresholds_version`). So each step is justified by evidence
gathered under the thresholds it changes, and running `calibrate` twice on the same record
cannot ratchet a cut point twice. A master that handed its whole goal to one sub-agent and
that sub-agent are one decision (same root, tier and score): only the master's row counts.

**Success** is status "completed", except that inline work (a trivial master) whose estimate
says it needs tool steps is not counted as a success: an inline reply cannot call tools, so
its "completed" says nothing about whether the files were touched.

**The rule.** Each cut point separates a cheaper tier L below from a dearer tier U above:
`simple` (trivial | simple: inline vs one sub-agent), `moderate` (simple | moderate: small
model and budget vs medium), `complex` (moderate | complex: one agent vs a planned tree).
Near each cut (scores within `BAND` of it) we compare the L runs just below with the U runs
just above; tasks that close to the line are alike, so the difference is the tier's doing.
Both sides need `MIN_SIDE` samples, else the cut holds.

* If L completes as often as U (or more) and costs less on average, U's extra spend buys
  nothing near the line: **raise** the cut by `STEP`, sending that work to the cheaper tier.
* If L completes at least `MARGIN` less often than U (fails, runs out of turns or budget),
  the line is too high: **lower** it by `STEP`, but only where lowering adds no spawning.
* Otherwise hold.

Spawning decides the direction we allow. Raising any cut point moves work to a lower tier,
which never spawns more: trivial work runs inline, simple and moderate work runs in one agent,
only complex work is planned and split. Lowering `simple` would turn inline answers into
sub-agents and lowering `complex` would turn single agents into planned trees, so those two
cut points only ever move up; a case for lowering them is reported ("held") for a person to
judge. Lowering `moderate` only moves work from the small model to the medium one, one agent
either way, so `moderate` may move both ways.

**Bounds.** A cut point moves at most `STEP` (0.02) per calibration, stays within
[`LOWEST`, `HIGHEST`] inside (0, 1), and keeps `MIN_GAP` from its neighbours: the moves are
applied complex, moderate, simple, each clipped against its neighbours' final values, and a
move that would have to reverse to fit is dropped. Fewer than `MIN_SAMPLES` samples in the
window changes nothing. A change gets the next version ("v1" -> "v2": one more than the
highest "v<N>" in the current file and the history), and the history line records the data
window, the counts and each cut's evidence.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime

from agentfleet.atomic import atomic_write_bytes
from agentfleet.contracts.base import FrozenContract
from agentfleet.contracts.ledger import LedgerRow
from agentfleet.delegation.complexity import DEFAULT_THRESHOLDS, TIERS, Thresholds, Tier

__all__ = [
    "BAND",
    "HISTORY_FILE",
    "MIN_SAMPLES",
    "STEP",
    "THRESHOLDS_FILE",
    "Calibration",
    "CutReport",
    "Sample",
    "append_history",
    "fit",
    "next_version",
    "read_history",
    "read_thresholds",
    "samples_from",
    "save",
    "write_thresholds",
]

THRESHOLDS_FILE = "thresholds.json"  # read by activities/policy.py at every master start
HISTORY_FILE = "thresholds-history.jsonl"

MIN_SAMPLES = 20  # below this the record says nothing: no change
MIN_SIDE = 5  # samples needed on each side of a cut point
BAND = 0.10  # "near the cut": |score - cut| <= BAND
STEP = 0.02  # the most a cut point moves in one calibration
MARGIN = 0.10  # completion gap that makes the case for lowering a cut point
MIN_GAP = 0.02  # kept between neighbouring cut points
LOWEST, HIGHEST = 0.02, 0.98
WINDOW_DAYS = 28  # how far back `agentfleet calibrate` reads

CutName = Literal["simple", "moderate", "complex"]
Action = Literal["raise", "lower", "hold"]

# Cut point -> (tier below, tier above), in ascending order.
CUTS: tuple[tuple[CutName, Tier, Tier], ...] = (
    ("simple", "trivial", "simple"),
    ("moderate", "simple", "moderate"),
    ("complex", "moderate", "complex"),
)
# The only cut point whose lowering moves work without spawning more of it.
MAY_LOWER: frozenset[str] = frozenset({"moderate"})

_EXCLUDED = frozenset({"running", "canceled"})
_VERSION = re.compile(r"^v(\d+)$")


class Sample(FrozenContract):
    """One delegation decision and how it ended."""

    key: str
    score: float
    tier: Tier
    success: bool
    cost_usd: float
    tokens: int


class Side(FrozenContract):
    """The runs of one tier on one side of a cut point: how often they completed, at what cost."""

    tier: Tier
    n: int = 0
    """Runs of this tier near the cut."""
    completed: int = 0
    """Of those, the runs that count as a success."""
    mean_cost_usd: float = 0.0
    """Mean dollars per run: what raising a cut point must not make dearer."""
    mean_tokens: float = 0.0
    """Mean tokens per run, cached input included."""

    @property
    def rate(self) -> float:
        """The share of these runs that completed; 0 with no runs."""
        return self.completed / self.n if self.n else 0.0


class CutReport(FrozenContract):
    """The case for one cut point: both sides' evidence, the move taken and why."""

    cut: CutName
    old: float
    new: float
    below: Side
    above: Side
    action: Action
    reason: str


class Calibration(FrozenContract):
    """One calibration: the thresholds before and proposed, the evidence, and why."""

    previous: Thresholds
    proposed: Thresholds
    changed: bool
    reason: str
    rows: int
    samples: int
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    cuts: list[CutReport]

    def history_entry(self, calibrated_at: datetime) -> dict[str, Any]:
        """The line `save` appends to thresholds-history.jsonl."""
        return {
            "version": self.proposed.version,
            "previous_version": self.previous.version,
            "thresholds": self.proposed.model_dump(),
            "previous": self.previous.model_dump(),
            "calibrated_at": calibrated_at.isoformat(),
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "rows": self.rows,
            "samples": self.samples,
            "cuts": [c.model_dump(mode="json") for c in self.cuts],
        }


# --- fitting (pure) -----------------------------------------------------------------


def samples_from(rows: Iterable[LedgerRow], version: str) -> list[Sample]:
    """The rows that are evidence for thresholds `version`, one per decision, sorted."""
    best: dict[str, tuple[int, str, LedgerRow]] = {}
    for row in rows:
        if row.status in _EXCLUDED or row.score is None or row.tier not in TIERS:
            continue
        if row.thresholds_version != version:
            continue
        # A master that passed its whole goal to one child shares root, tier and
        # score with that child: one decision, counted once (the shallowest row).
        key = f"{row.root_id or row.workflow_id}\x00{row.tier}\x00{row.score!r}"
        rank = (row.depth or 0, f"{row.workflow_id}\x00{row.run_id}")
        if key not in best or rank < best[key][:2]:
            best[key] = (*rank, row)
    out: list[Sample] = []
    for key, (_, _, row) in best.items():
        tier: Tier = row.tier  # type: ignore[assignment]  # checked against TIERS above
        inline_needing_tools = (
            tier == "trivial" and row.role == "master" and (row.est_steps or 0) > 0
        )
        out.append(
            Sample(
                key=key,
                score=float(row.score or 0.0),
                tier=tier,
                success=row.status == "completed" and not inline_needing_tools,
                cost_usd=row.cost_usd,
                # Cached input is still input the run needed.
                tokens=row.input_tokens
                + row.output_tokens
                + row.cache_creation_input_tokens
                + row.cache_read_input_tokens,
            )
        )
    out.sort(key=lambda s: (s.score, s.tier, s.key))
    return out


def _side(tier: Tier, samples: Sequence[Sample]) -> Side:
    n = len(samples)
    if not n:
        return Side(tier=tier)
    return Side(
        tier=tier,
        n=n,
        completed=sum(1 for s in samples if s.success),
        mean_cost_usd=round(sum(s.cost_usd for s in samples) / n, 8),
        mean_tokens=round(sum(s.tokens for s in samples) / n, 3),
    )


def _judge(cut: CutName, value: float, below: Side, above: Side) -> tuple[Action, str]:
    if below.n < MIN_SIDE or above.n < MIN_SIDE:
        return "hold", (
            f"too few runs near {value:.2f} ({below.tier} {below.n}, {above.tier} {above.n}; "
            f"need {MIN_SIDE} each)"
        )
    rates = f"{below.tier} {below.rate:.0%} vs {above.tier} {above.rate:.0%} completed"
    if above.rate - below.rate >= MARGIN:
        if cut in MAY_LOWER:
            return "lower", f"{rates}: {below.tier} work near the line needs the {above.tier} tier"
        return "hold", (
            f"{rates}: lowering {cut} would mean more spawning, which calibration never does; "
            "review by hand"
        )
    cheaper = (below.mean_cost_usd, below.mean_tokens) < (above.mean_cost_usd, above.mean_tokens)
    if below.rate >= above.rate and cheaper:
        return "raise", (
            f"{rates}, at ${below.mean_cost_usd:.4f} vs ${above.mean_cost_usd:.4f} a run: "
            f"the cheaper {below.tier} tier does at least as well near the line"
        )
    if below.rate >= above.rate:
        return "hold", f"{rates}, but {below.tier} is not cheaper near the line"
    return "hold", f"{rates}: within the {MARGIN:.0%} margin"


def next_version(current: str, history: Iterable[str] = ()) -> str:
    """One more than the highest "v<N>" among `current` and `history` ("v1" -> "v2")."""
    numbers = [int(m.group(1)) for v in (current, *history) if (m := _VERSION.match(v))]
    return f"v{max(numbers, default=1) + 1}"


def _apply(current: Thresholds, deltas: dict[CutName, float]) -> dict[CutName, float]:
    """Move each cut point by its delta, clipped to bounds and neighbours.

    Applied complex, moderate, simple; each move is clipped against its neighbours'
    final values (MIN_GAP apart), and dropped if it would have to reverse to fit.
    """
    values: dict[CutName, float] = {
        "simple": current.simple,
        "moderate": current.moderate,
        "complex": current.complex,
    }
    order: tuple[CutName, ...] = ("complex", "moderate", "simple")
    neighbours: dict[CutName, tuple[CutName | None, CutName | None]] = {
        "simple": (None, "moderate"),
        "moderate": ("simple", "complex"),
        "complex": ("moderate", None),
    }
    for name in order:
        delta = deltas.get(name, 0.0)
        if delta == 0.0:
            continue
        old = values[name]
        lo_name, hi_name = neighbours[name]
        lo = LOWEST if lo_name is None else values[lo_name] + MIN_GAP
        hi = HIGHEST if hi_name is None else values[hi_name] - MIN_GAP
        target = min(max(old + delta, lo), hi)
        target = round(min(max(target, old - STEP), old + STEP), 4)
        # Clipping may not turn a move around (or push a point that already sits
        # outside the bounds further in the forbidden direction).
        if (target - old) * delta > 0:
            values[name] = target
    return values


def _judge_cut(
    cut: CutName, lower: Tier, upper: Tier, current: Thresholds, samples: Sequence[Sample]
) -> CutReport:
    """The case for moving one cut point, from the runs on either side near it."""
    value = float(getattr(current, cut))
    below = _side(
        lower, [s for s in samples if s.tier == lower and value - BAND <= s.score < value]
    )
    above = _side(
        upper, [s for s in samples if s.tier == upper and value <= s.score <= value + BAND]
    )
    action, reason = _judge(cut, value, below, above)
    return CutReport(
        cut=cut, old=value, new=value, below=below, above=above, action=action, reason=reason
    )


def _settle(judged: CutReport, new: float) -> CutReport:
    """A judged cut once the moves are applied: a move left no room to happen is a hold."""
    if judged.action != "hold" and new == judged.old:
        reason = f"{judged.reason}; no room to move (neighbour or bound)"
        return judged.model_copy(update={"action": "hold", "reason": reason})
    return judged.model_copy(update={"new": new})


def fit(
    rows: Iterable[LedgerRow],
    current: Thresholds = DEFAULT_THRESHOLDS,
    history: Iterable[str] = (),
    *,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> Calibration:
    """Propose thresholds from `rows` (see the module docstring). Pure and deterministic.

    `history` is the versions already used, so a new version never repeats one.
    """
    row_list = list(rows)
    samples = samples_from(row_list, current.version)
    common: dict[str, Any] = {
        "previous": current,
        "rows": len(row_list),
        "samples": len(samples),
        "window_start": window_start,
        "window_end": window_end,
    }
    if len(samples) < MIN_SAMPLES:
        return Calibration(
            **common,
            proposed=current,
            changed=False,
            reason=f"too few samples: {len(samples)} runs cut with thresholds "
            f"{current.version} (need {MIN_SAMPLES}); nothing changed",
            cuts=[],
        )
    judged = [_judge_cut(cut, lower, upper, current, samples) for cut, lower, upper in CUTS]
    moved = _apply(
        current,
        {j.cut: STEP if j.action == "raise" else -STEP for j in judged if j.action != "hold"},
    )
    reports = [_settle(j, moved[j.cut]) for j in judged]
    if all(r.new == r.old for r in reports):
        return Calibration(
            **common,
            proposed=current,
            changed=False,
            reason=f"no cut point has a case to move ({len(samples)} samples)",
            cuts=reports,
        )
    proposed = Thresholds(version=next_version(current.version, history), **moved)
    moves = ", ".join(f"{r.cut} {r.old:.2f}->{r.new:.2f}" for r in reports if r.new != r.old)
    return Calibration(
        **common,
        proposed=proposed,
        changed=True,
        reason=f"{current.version} -> {proposed.version}: {moves} ({len(samples)} samples)",
        cuts=reports,
    )


# --- files ----------------------------------------------------------------------------


def read_thresholds(home: Path) -> Thresholds:
    """The thresholds in force: `home/thresholds.json`, or the defaults if absent.

    Raises ValueError (pydantic's ValidationError) for a file that is not valid thresholds.
    """
    path = Path(home) / THRESHOLDS_FILE
    if not path.exists():
        return DEFAULT_THRESHOLDS
    return Thresholds.model_validate_json(path.read_text(encoding="utf-8"))


def read_history(home: Path) -> list[dict[str, Any]]:
    """Every entry of the history file, oldest first; unreadable lines are skipped."""
    path = Path(home) / HISTORY_FILE
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def history_versions(home: Path) -> list[str]:
    """Every thresholds version the history holds, so a new one never repeats an old name."""
    return [str(e["version"]) for e in read_history(home) if "version" in e]


def write_thresholds(home: Path, thresholds: Thresholds) -> Path:
    """Replace `home/thresholds.json` atomically, so a master never reads half a file.

    A reader sees the old file or the new one, never half of one. The JSON is
    exactly `Thresholds`' fields.
    """
    path = Path(home) / THRESHOLDS_FILE
    text = json.dumps(thresholds.model_dump(), indent=2) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"), sync_dir=True, make_parent=True)
    return path


def append_history(home: Path, entry: dict[str, Any]) -> Path:
    """Append one calibration to the history file, synced, so every change can be traced back."""
    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    path = home / HISTORY_FILE
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return path


def save(home: Path, calibration: Calibration, calibrated_at: datetime) -> Path | None:
    """Write a changed calibration: thresholds.json first (what matters), then history.

    Returns the thresholds path, or None when there was nothing to write.
    """
    if not calibration.changed:
        return None
    path = write_thresholds(home, calibration.proposed)
    append_history(home, calibration.history_entry(calibrated_at))
    return path
