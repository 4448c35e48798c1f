"""What a chaos run found, and how it is judged and printed.

Split from bench/chaos_week.py so the figures, the targets and the printed report can be
read and changed apart from the run: the report is plain data, built once the run has
been analysed (bench/_chaos_analysis.py), and needs no stack.

Not a benchmark itself: the runner skips modules whose name starts with "_".
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._chaos_plan import ChaosConfig, Goal  # noqa: E402
from bench._common import fmt_s, median, percentile, verdict  # noqa: E402

TARGET_TERMINAL = 1.0
TARGET_COMPLETED = 0.99
TARGET_RECOVERY_S = 2.0
# Issue #18's bounds for every in-flight run moving again: median and p95 over restarts.
# Next steps later than the median bound are tallied by what moved them.
TARGET_RESUMED_S = (3.0, 5.0)
LATE_S = TARGET_RESUMED_S[0]

# Audit findings that mean a run fell into a hole: one record has it and another does not,
# or its close was never recorded. The rest (timestamps, windows) are listed, not counted.
BLACK_HOLE_KINDS = frozenset(
    {
        "missing_in_ledger",
        "missing_in_visibility",
        "missing_in_telemetry",
        "duplicate_in_ledger",
        "running_past_timeout",
        "status_mismatch",
    }
)


# --- results ------------------------------------------------------------------------------


@dataclass
class Restart:
    index: int
    killed_at: float
    started_at: float
    built_at: float | None = None
    in_flight: int = 0
    recovery_s: float | None = None  # process start -> first progress of an in-flight task
    # Issue #18's figure (bench/_waits.py): the longest any in-flight run waited for a worker
    # after the restart, counted from the process start for the work owed then, and from
    # when it fell due for a run owed nothing; and that run, with what it waited on.
    all_resumed_s: float | None = None
    owed: int = 0  # runs owed work at the restart
    waits: list[float] = field(default_factory=list)  # every in-flight run's, longest first
    late_waits: list[str] = field(default_factory=list)  # the waits over LATE_S, and on what
    slowest_all: str = ""
    # The goals' pace beside it: process start -> every in-flight run's next completed task
    # or activity, whatever it waited on (a child's conversation, a retry backoff); and, of
    # the runs whose next step came later than LATE_S, how many each cause moved.
    next_step_s: float | None = None
    late_causes: dict[str, int] = field(default_factory=dict)
    near_server_restart: bool = False


@dataclass
class TaskOutcome:
    goal: Goal
    terminal: bool
    status: str  # the master's own verdict (ledger) or its execution status
    reason: str | None = None
    latency_s: float | None = None  # master start -> close
    e2e_s: float | None = None  # submitted -> close


@dataclass
class ChaosReport:
    config: ChaosConfig
    seconds: float
    outcomes: list[TaskOutcome]
    restarts: list[Restart]
    server_restarts: list[float]
    duplicates: dict[str, list[str]]
    audit_kinds: dict[str, int]
    audit_examples: list[str]
    audit_weeks: list[str]
    faults_injected: dict[str, int]
    tool_faults: int
    sim_stats: dict[str, Any]
    fleet_stats: dict[str, Any] | None
    workdir: str
    tool_effects: int = 0
    tool_calls: int = 0
    errors: list[str] = field(default_factory=list)
    # The same goals run calmly (no faults, no kills): chaos must not change an outcome.
    reference: ChaosReport | None = None

    # --- figures ---

    @property
    def possible(self) -> list[TaskOutcome]:
        return [o for o in self.outcomes if not o.goal.impossible]

    @property
    def impossible(self) -> list[TaskOutcome]:
        return [o for o in self.outcomes if o.goal.impossible]

    @property
    def terminal_share(self) -> float:
        n = len(self.outcomes)
        return sum(o.terminal for o in self.outcomes) / n if n else 0.0

    @property
    def completed_share(self) -> float:
        pos = self.possible
        return sum(o.status == "completed" for o in pos) / len(pos) if pos else 1.0

    @property
    def changed_by_chaos(self) -> list[tuple[str, str, str]]:
        """(task id, calm status, chaos status) of every possible goal chaos changed.

        `completed` is a checked fact, so a goal the simulator cannot do ends
        `unverified` calm or not; what chaos must never do is change the outcome.
        """
        if self.reference is None:
            return []
        calm = {o.goal.index: o.status for o in self.reference.possible}
        return [
            (o.goal.task_id, calm.get(o.goal.index, "(not run)"), o.status)
            for o in self.possible
            if calm.get(o.goal.index) != o.status
        ]

    @property
    def impossible_failed_clearly(self) -> int:
        return sum(
            1
            for o in self.impossible
            if o.terminal and o.status != "completed" and o.reason and "404" in o.reason
        )

    @property
    def duplicate_count(self) -> int:
        return sum(len(v) for v in self.duplicates.values())

    @property
    def black_holes(self) -> int:
        return sum(n for k, n in self.audit_kinds.items() if k in BLACK_HOLE_KINDS)

    @property
    def recoveries(self) -> list[float]:
        return [r.recovery_s for r in self.restarts if r.recovery_s is not None]

    @property
    def recovery_median(self) -> float | None:
        return median(self.recoveries)

    @property
    def resumed(self) -> list[float]:
        return [r.all_resumed_s for r in self.restarts if r.all_resumed_s is not None]

    def targets(self) -> dict[str, dict[str, Any]]:
        rec = self.recovery_median
        resumed_median, resumed_p95 = median(self.resumed), percentile(self.resumed, 95)
        return {
            "terminal": {
                "value": round(self.terminal_share, 4),
                "target": "100%",
                "met": self.terminal_share >= TARGET_TERMINAL,
            },
            # With a calm run to compare, the goals the simulator cannot do are known:
            # they end unverified calm too, so chaos must complete what calm completed.
            "completed_excl_impossible": {
                "value": round(self.completed_share, 4),
                "target": f">= {TARGET_COMPLETED:.0%}"
                if self.reference is None
                else f">= calm run's {self.reference.completed_share:.1%}",
                "met": self.completed_share
                >= (TARGET_COMPLETED if self.reference is None else self.reference.completed_share),
            },
            **(
                {
                    "outcomes_unchanged_by_chaos": {
                        "value": [
                            len(self.possible) - len(self.changed_by_chaos),
                            len(self.possible),
                        ],
                        "target": "all",
                        "met": not self.changed_by_chaos,
                    }
                }
                if self.reference is not None
                else {}
            ),
            "impossible_failed_with_reason": {
                "value": [self.impossible_failed_clearly, len(self.impossible)],
                "target": "all",
                "met": self.impossible_failed_clearly == len(self.impossible),
            },
            "duplicates": {
                "value": self.duplicate_count,
                "target": 0,
                "met": not self.duplicate_count,
            },
            "black_holes": {"value": self.black_holes, "target": 0, "met": not self.black_holes},
            "median_recovery_s": {
                "value": None if rec is None else round(rec, 3),
                "target": f"<= {TARGET_RECOVERY_S} s",
                "met": rec is not None and rec <= TARGET_RECOVERY_S,
            },
            "all_in_flight_resumed_s": {
                "value": [_r(resumed_median), _r(resumed_p95)],
                "target": f"median <= {TARGET_RESUMED_S[0]} s, p95 <= {TARGET_RESUMED_S[1]} s",
                "met": resumed_median is not None
                and resumed_p95 is not None
                and resumed_median <= TARGET_RESUMED_S[0]
                and resumed_p95 <= TARGET_RESUMED_S[1],
            },
        }

    def failure_reasons(self) -> Counter[str]:
        return Counter(
            _normalize(o.reason or o.status) for o in self.outcomes if o.status != "completed"
        )

    def summary(self) -> dict[str, Any]:
        lat = [o.latency_s for o in self.outcomes if o.latency_s is not None]
        e2e = [o.e2e_s for o in self.outcomes if o.e2e_s is not None]
        statuses = Counter(o.status for o in self.outcomes)
        targets = self.targets()
        return {
            "bench": "chaos_week",
            "tasks": len(self.outcomes),
            "impossible": len(self.impossible),
            "seconds": round(self.seconds, 1),
            "terminal": sum(o.terminal for o in self.outcomes),
            "completed": statuses.get("completed", 0),
            "statuses": dict(statuses),
            "failure_reasons": dict(self.failure_reasons().most_common(10)),
            "duplicates": {k: len(v) for k, v in self.duplicates.items()},
            "audit": self.audit_kinds,
            "audit_weeks": self.audit_weeks,
            "black_holes": self.black_holes,
            "latency_p50_s": _r(percentile(lat, 50)),
            "latency_p95_s": _r(percentile(lat, 95)),
            "e2e_p50_s": _r(percentile(e2e, 50)),
            "e2e_p95_s": _r(percentile(e2e, 95)),
            "worker_restarts": len(self.restarts),
            "server_restarts": len(self.server_restarts),
            "recovery_s": [_r(r.recovery_s) for r in self.restarts],
            "recovery_median_s": _r(self.recovery_median),
            "recovery_p95_s": _r(percentile(self.recoveries, 95)),
            "startup_median_s": _r(
                median(r.built_at - r.started_at for r in self.restarts if r.built_at is not None)
            ),
            "all_resumed_s": [_r(r.all_resumed_s) for r in self.restarts],
            "all_resumed_median_s": targets["all_in_flight_resumed_s"]["value"][0],
            "all_resumed_p95_s": targets["all_in_flight_resumed_s"]["value"][1],
            "next_step_s": [_r(r.next_step_s) for r in self.restarts],
            "next_step_median_s": _r(
                median(r.next_step_s for r in self.restarts if r.next_step_s is not None)
            ),
            "llm_faults_injected": self.faults_injected,
            "tool_faults_injected": self.tool_faults,
            "tool_attempts": self.tool_calls + self.tool_faults,
            "tool_effects": self.tool_effects,
            "llm_requests": self.sim_stats.get("requests"),
            "fleet_stats": self.fleet_stats,
            "config": {
                **asdict(self.config),
                "kill_every": list(self.config.kill_every),
            },
            "targets": targets,
            "all_met": all(t["met"] for t in targets.values()),
            "errors": self.errors,
            "workdir": self.workdir,
        }


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


_IDS = re.compile(r"chaos-[0-9a-f]{6}-\d{4}(?:[./][\w.-]*)?|ws-\d{4}|req_sim_\w+")


def _normalize(reason: str) -> str:
    return _IDS.sub("<id>", reason.strip().splitlines()[0] if reason.strip() else reason)[:160]


# --- printing -----------------------------------------------------------------------------


def print_report(rep: ChaosReport) -> None:
    s = rep.summary()
    t = rep.targets()
    n = len(rep.outcomes)
    print()
    print(
        f"{n} goals ({len(rep.impossible)} impossible) in {rep.seconds:.0f} s; "
        f"{len(rep.restarts)} worker SIGKILLs, {len(rep.server_restarts)} server restart(s); "
        f"LLM faults {s['llm_faults_injected']} of {s['llm_requests']} calls; "
        f"tool attempts {rep.tool_calls + rep.tool_faults} ({rep.tool_faults} faulted, "
        f"{rep.tool_effects} changed a workspace)"
    )
    rows = [
        ("terminal", f"{s['terminal']}/{n}"),
        ("completed", f"{s['completed']}/{n}"),
        (
            "completed, impossible excluded",
            f"{sum(o.status == 'completed' for o in rep.possible)}/{len(rep.possible)} "
            f"({rep.completed_share:.1%})",
        ),
        (
            "impossible failed with reason",
            f"{rep.impossible_failed_clearly}/{len(rep.impossible)}",
        ),
        ("statuses", ", ".join(f"{k} {v}" for k, v in sorted(s["statuses"].items()))),
        ("duplicates", ", ".join(f"{k} {v}" for k, v in s["duplicates"].items())),
        (
            "audit findings",
            ", ".join(f"{k} {v}" for k, v in sorted(rep.audit_kinds.items())) or "none",
        ),
        ("black holes", str(rep.black_holes)),
        ("task latency p50 / p95", f"{fmt_s(s['latency_p50_s'])} / {fmt_s(s['latency_p95_s'])}"),
        ("submit->close p50 / p95", f"{fmt_s(s['e2e_p50_s'])} / {fmt_s(s['e2e_p95_s'])}"),
        (
            "recovery median / p95",
            f"{fmt_s(s['recovery_median_s'])} / {fmt_s(s['recovery_p95_s'])} "
            f"(startup to polling median {fmt_s(s['startup_median_s'])})",
        ),
        (
            "all in-flight resumed",
            f"median {fmt_s(s['all_resumed_median_s'])} / p95 {fmt_s(s['all_resumed_p95_s'])}"
            " (longest wait of a run open at the kill for a worker; bench/_waits.py)",
        ),
        (
            "next step of every open run",
            f"median {fmt_s(s['next_step_median_s'])}"
            " (the goals' pace: children, backoffs, answers)",
        ),
    ]
    for label, value in rows:
        print(f"{label:<32}{value}")
    for task_id, was, now in rep.changed_by_chaos[:20]:
        print(f"  changed by chaos: {task_id} calm {was}, under chaos {now}")
    reasons = rep.failure_reasons()
    if reasons:
        print("not completed, by reason:")
        for reason, k in reasons.most_common(10):
            print(f"  {k:>4}  {reason}")
    for kind, items in rep.duplicates.items():
        for item in items[:5]:
            print(f"  duplicate ({kind}): {item}")
    for line in rep.audit_examples:
        print(f"  audit: {line}")
    print("worker restarts (s after process start):")
    print(
        f"  {'#':>3} {'in flight':>9} {'owed':>5} {'polling':>8} {'recovery':>9} "
        f"{'all resumed':>11} {'next step':>10}"
    )
    for r in rep.restarts:
        built = None if r.built_at is None else r.built_at - r.started_at
        print(
            f"  {r.index:>3} {r.in_flight:>9} {r.owed:>5} {fmt_s(built):>8} "
            f"{fmt_s(r.recovery_s):>9} {fmt_s(r.all_resumed_s):>11} {fmt_s(r.next_step_s):>10}"
            + ("  (server restart nearby)" if r.near_server_restart else "")
        )
        if r.slowest_all:
            print(
                f"        waited longest: {r.slowest_all}; median wait {fmt_s(median(r.waits))}, "
                f"{len(r.late_waits)} of {len(r.waits)} over {LATE_S:.0f} s"
            )
        for late in r.late_waits:
            print(f"        waited over {LATE_S:.0f} s: {late}")
        if r.late_causes:
            causes = ", ".join(f"{n} {what}" for what, n in r.late_causes.items())
            print(f"        next step after {LATE_S:.0f} s, by what moved them: {causes}")
    for e in rep.errors:
        print(f"  error: {e}")
    print()
    labels = {
        "terminal": "terminal",
        "completed_excl_impossible": "completed (impossible excluded)",
        "impossible_failed_with_reason": "impossible goals failed with a reason",
        "duplicates": "duplicates",
        "black_holes": "black holes (audit)",
        "median_recovery_s": "median recovery",
        "all_in_flight_resumed_s": "all in-flight resumed (median, p95)",
    }
    for key, label in labels.items():
        print(f"{label}: {t[key]['value']} (target {t[key]['target']})  {verdict(t[key]['met'])}")
    missed = [k for k, v in t.items() if not v["met"]]
    if missed:
        print(f"MISSED: {', '.join(missed)}")
