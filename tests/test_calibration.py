"""Self-calibration: bounded, spawn-averse threshold fits; versioned files; running
workflows keep the thresholds they started with; `agentfleet score` is deterministic."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError

from activities.policy import PolicyActivities, thresholds_file
from agentfleet.cli.calibrate import calibrate
from agentfleet.config import Settings
from agentfleet.contracts.ledger import LedgerClose, LedgerRow, LedgerStart
from agentfleet.contracts.models import ApprovalResult, MasterInput, MasterResult, PlanApproval
from agentfleet.delegation import calibration
from agentfleet.delegation.calibration import MIN_SAMPLES, STEP, fit, next_version
from agentfleet.delegation.complexity import DEFAULT_THRESHOLDS, TIERS, Thresholds
from agentfleet.ledger.store import Ledger
from tests.conftest import COMPLEX_GOAL, running_worker
from workflows.master import MasterAgentWorkflow

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
EPS = 1e-9
_ids = itertools.count(1)


def row(
    score: float,
    tier: str,
    status: str = "completed",
    cost: float = 0.01,
    version: str = "v1",
    role: str = "subagent",
    depth: int = 1,
    root: str | None = None,
    est_steps: int = 0,
) -> LedgerRow:
    n = next(_ids)
    wid = f"wf-{n}"
    return LedgerRow(
        workflow_id=wid,
        run_id=f"run-{n}",
        root_id=root or wid,
        role=role,
        depth=depth,
        tier=tier,
        status=status,
        cost_usd=cost,
        input_tokens=int(cost * 100_000),
        output_tokens=100,
        score=score,
        est_steps=est_steps,
        thresholds_version=version,
        started_at=T0,
        closed_at=T0 + timedelta(seconds=30),
        updated_at=T0 + timedelta(seconds=30),
    )


def band(
    lo: float, hi: float, tier: str, n: int, failing: int = 0, cost: float = 0.01, **kw: object
) -> list[LedgerRow]:
    """`n` runs spread over [lo, hi), the first `failing` of them not completed."""
    step = (hi - lo) / n
    return [
        row(
            round(lo + step * i, 4),
            tier,
            "failed" if i < failing else "completed",
            cost,
            **kw,  # type: ignore[arg-type]
        )
        for i in range(n)
    ]


def spawning(th: Thresholds, scores: list[float]) -> tuple[int, int]:
    """(runs that spawn at least one agent, runs that are planned and split)."""
    tiers = [th.tier(s) for s in scores]
    return sum(t != "trivial" for t in tiers), sum(t == "complex" for t in tiers)


# --- fitting: targeted cases ------------------------------------------------------------


def test_cheaper_tier_that_does_as_well_takes_more_work() -> None:
    rows = band(0.06, 0.15, "trivial", 10, cost=0.001) + band(0.15, 0.25, "simple", 10, cost=0.02)
    cal = fit(rows)
    assert cal.changed and cal.proposed.version == "v2"
    assert cal.proposed.simple == pytest.approx(DEFAULT_THRESHOLDS.simple + STEP)
    assert (cal.proposed.moderate, cal.proposed.complex) == (0.35, 0.65)
    simple = next(c for c in cal.cuts if c.cut == "simple")
    assert simple.action == "raise" and simple.below.n == 10 and simple.above.n == 10


def test_struggling_simple_tier_lowers_the_moderate_cut() -> None:
    rows = band(0.26, 0.35, "simple", 10, failing=5) + band(0.35, 0.45, "moderate", 10)
    cal = fit(rows)
    assert cal.proposed.moderate == pytest.approx(0.35 - STEP)
    assert next(c for c in cal.cuts if c.cut == "moderate").action == "lower"


@pytest.mark.parametrize(
    ("cut", "lower", "upper", "value"),
    [("simple", "trivial", "simple", 0.15), ("complex", "moderate", "complex", 0.65)],
)
def test_a_case_for_more_spawning_is_held_not_applied(
    cut: str, lower: str, upper: str, value: float
) -> None:
    rows = band(value - 0.09, value, lower, 12, failing=8) + band(value, value + 0.1, upper, 12)
    cal = fit(rows)
    assert not cal.changed and cal.proposed == DEFAULT_THRESHOLDS
    report = next(c for c in cal.cuts if c.cut == cut)
    assert report.action == "hold" and "more spawning" in report.reason


def test_too_few_samples_change_nothing_and_say_why() -> None:
    rows = band(0.06, 0.15, "trivial", 9, cost=0.001) + band(0.15, 0.25, "simple", 10)
    cal = fit(rows)
    assert len(rows) == MIN_SAMPLES - 1
    assert not cal.changed and cal.proposed == DEFAULT_THRESHOLDS and cal.cuts == []
    assert "too few samples" in cal.reason and str(MIN_SAMPLES) in cal.reason


def test_only_runs_cut_with_the_thresholds_in_force_count() -> None:
    rows = band(0.06, 0.15, "trivial", 10, cost=0.001, version="v0") + band(
        0.15, 0.25, "simple", 10, version="v0"
    )
    rows += [row(0.5, "moderate", status="running"), row(0.5, "moderate", status="canceled")]
    cal = fit(rows)
    assert cal.samples == 0 and not cal.changed


def test_a_master_and_its_single_child_are_one_decision() -> None:
    master = row(0.2, "simple", role="master", depth=0, root="r1")
    child = row(0.2, "simple", role="subagent", depth=1, root="r1")
    other = row(0.2, "simple", role="subagent", depth=1, root="r2")
    samples = calibration.samples_from([child, master, other], "v1")
    assert len(samples) == 2
    assert sorted(s.key.split("\x00")[0] for s in samples) == ["r1", "r2"]


def test_inline_work_that_needed_tools_is_no_evidence_of_success() -> None:
    inline = row(0.1, "trivial", role="master", depth=0, est_steps=2)
    answer = row(0.1, "trivial", role="master", depth=0, est_steps=0)
    samples = calibration.samples_from([inline, answer], "v1")
    assert sorted(s.success for s in samples) == [False, True]


def test_moves_stop_at_the_neighbour() -> None:
    current = Thresholds(version="v4", simple=0.33, moderate=0.35, complex=0.65)
    rows = band(0.24, 0.33, "trivial", 10, cost=0.001, version="v4")
    rows += band(0.33, 0.35, "simple", 10, version="v4")
    cal = fit(rows, current)
    assert not cal.changed and cal.proposed == current
    assert "no room" in next(c for c in cal.cuts if c.cut == "simple").reason


# --- fitting: properties over many random records ----------------------------------------

STATUSES = ("completed", "failed", "partial", "budget_exhausted", "timed_out", "canceled")


def random_thresholds(rnd: random.Random) -> Thresholds:
    while True:
        cuts = sorted(round(rnd.uniform(0.02, 0.98), 3) for _ in range(3))
        if cuts[0] < cuts[1] < cuts[2]:
            version = rnd.choice(["v1", "v2", "v7", "custom"])
            return Thresholds(version=version, simple=cuts[0], moderate=cuts[1], complex=cuts[2])


def random_rows(rnd: random.Random, th: Thresholds) -> list[LedgerRow]:
    success = {t: rnd.random() for t in TIERS}
    price = {t: rnd.uniform(0.0005, 0.05) for t in TIERS}
    out = []
    for _ in range(rnd.randrange(0, 160)):
        # Scores cluster around the cut points, where calibration looks.
        centre = rnd.choice([th.simple, th.moderate, th.complex, rnd.random()])
        score = round(min(max(rnd.gauss(centre, 0.06), 0.0), 1.0), 4)
        tier = th.tier(score)
        ok = rnd.random() < success[tier]
        status = "completed" if ok else rnd.choice(STATUSES[1:])
        version = th.version if rnd.random() < 0.9 else "v0"
        out.append(
            row(
                score,
                tier,
                status,
                round(price[tier] * rnd.uniform(0.5, 1.5), 6),
                version=version,
                role=rnd.choice(["master", "subagent"]),
                depth=rnd.randrange(0, 3),
                root=f"root-{rnd.randrange(40)}",
                est_steps=rnd.randrange(0, 3),
            )
        )
    return out


def test_random_records_move_thresholds_only_in_bounded_spawn_averse_steps() -> None:
    rnd = random.Random(20250303)
    grid = [i / 1000 for i in range(1001)]
    moved = {"raise": 0, "lower": 0}
    for _ in range(400):
        current = random_thresholds(rnd)
        rows = random_rows(rnd, current)
        cal = fit(rows, current, history=["v3"])
        new, old = cal.proposed, current
        for cut in ("simple", "moderate", "complex"):
            delta = getattr(new, cut) - getattr(old, cut)
            assert abs(delta) <= STEP + EPS, (cut, old, new)
        # Never toward more spawning: inline work stays inline, single agents stay single.
        assert new.simple >= old.simple - EPS and new.complex >= old.complex - EPS
        spawn_new, split_new = spawning(new, grid)
        spawn_old, split_old = spawning(old, grid)
        assert spawn_new <= spawn_old and split_new <= split_old
        assert 0.0 < new.simple < new.moderate < new.complex < 1.0
        if cal.changed:
            assert new.version == next_version(old.version, ["v3"]) != old.version
            assert cal.samples >= MIN_SAMPLES
        else:
            assert new == old
        for report in cal.cuts:
            if report.new != report.old:
                moved[report.action] += 1
        # Deterministic, whatever the order the rows arrive in.
        shuffled = list(rows)
        rnd.shuffle(shuffled)
        assert fit(shuffled, current, history=["v3"]) == cal
    # The property is not vacuous: both directions happened.
    assert moved["raise"] >= 20 and moved["lower"] >= 5, moved


# --- versions and files --------------------------------------------------------------------


def test_versions_increment_past_everything_already_used() -> None:
    assert next_version("v1") == "v2"
    assert next_version("v9") == "v10"
    assert next_version("v2", ["v1", "v5", "junk"]) == "v6"
    assert next_version("hand-tuned") == "v2"


def test_thresholds_file_round_trips_and_the_worker_reads_it(tmp_path: Path) -> None:
    th = Thresholds(version="v3", simple=0.17, moderate=0.33, complex=0.67)
    path = calibration.write_thresholds(tmp_path, th)
    assert path == thresholds_file(tmp_path)
    doc = json.loads(path.read_text())
    assert set(doc) == set(Thresholds.model_fields) == {"version", "simple", "moderate", "complex"}
    assert Thresholds.model_validate_json(path.read_text()) == th
    assert calibration.read_thresholds(tmp_path) == th
    served = asyncio.run(PolicyActivities(tmp_path).thresholds())
    # The cut points, and no per-tier costs before any calibration history exists.
    assert served.base() == th and served.tier_costs == {}
    # No temporary file is left behind by the atomic replace.
    assert sorted(p.name for p in tmp_path.iterdir()) == [calibration.THRESHOLDS_FILE]
    assert calibration.read_thresholds(tmp_path / "nowhere") == DEFAULT_THRESHOLDS


def test_save_versions_each_change_and_keeps_a_history(tmp_path: Path) -> None:
    rows = band(0.06, 0.15, "trivial", 10, cost=0.001) + band(0.15, 0.25, "simple", 10)
    first = fit(rows, calibration.read_thresholds(tmp_path), calibration.history_versions(tmp_path))
    calibration.save(tmp_path, first, T0)
    assert calibration.read_thresholds(tmp_path) == first.proposed
    assert first.proposed.version == "v2"

    # The same record again is no evidence for v2: nothing moves twice on one record.
    again = fit(rows, calibration.read_thresholds(tmp_path), ["v2"])
    assert not again.changed and calibration.save(tmp_path, again, T0) is None

    rows2 = band(0.08, 0.17, "trivial", 10, cost=0.001, version="v2")
    rows2 += band(0.17, 0.27, "simple", 10, version="v2")
    second = fit(rows2, calibration.read_thresholds(tmp_path), ["v2"])
    calibration.save(tmp_path, second, T0 + timedelta(days=1))
    assert second.proposed.version == "v3"
    assert second.proposed.simple == pytest.approx(0.15 + 2 * STEP)

    history = calibration.read_history(tmp_path)
    assert [h["version"] for h in history] == ["v2", "v3"]
    assert [h["previous_version"] for h in history] == ["v1", "v2"]
    assert history[1]["samples"] == 20 and history[1]["calibrated_at"].startswith("2025-03-04")
    assert Thresholds.model_validate(history[1]["thresholds"]) == second.proposed
    assert {c["cut"] for c in history[1]["cuts"]} == {"simple", "moderate", "complex"}


# --- the command ----------------------------------------------------------------------------


def _seed_ledger(settings: Settings, runs: list[tuple[float, str, str, float]]) -> None:
    ledger = Ledger.from_url(settings.ledger_url)
    ledger.create()
    now = datetime.now(UTC) - timedelta(hours=1)
    for i, (score, tier, status, cost) in enumerate(runs):
        ids = {"workflow_id": f"cal-{i}", "run_id": f"run-{i}"}
        ledger.record_start(
            LedgerStart(
                **ids,
                root_id=f"cal-{i}",
                role="master",
                depth=0,
                tier=tier,
                model="claude-haiku-4-5",
                started_at=now,
                score=score,
                est_steps=0,
                thresholds_version="v1",
            )
        )
        ledger.record_close(
            LedgerClose(**ids, status=status, closed_at=now + timedelta(seconds=5), cost_usd=cost)
        )
    ledger.dispose()


def test_calibrate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(home=tmp_path / "home")
    # No ledger at all: too few samples, exit 0, and no ledger file is created.
    assert calibrate(settings, dry_run=False, as_json=False) == 0
    out = capsys.readouterr().out
    assert "too few samples" in out and "no change" in out
    assert not (settings.home / "ledger.db").exists()

    runs = [(0.06 + 0.009 * i, "trivial", "completed", 0.001) for i in range(10)]
    runs += [(0.15 + 0.01 * i, "simple", "completed", 0.02) for i in range(10)]
    _seed_ledger(settings, runs)

    assert calibrate(settings, dry_run=True, as_json=True) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["changed"] and doc["proposed"]["version"] == "v2" and doc["written"] is None
    assert doc["samples"] == 20 and doc["rows"] == 20
    assert not thresholds_file(settings.home).exists()

    assert calibrate(settings, dry_run=False, as_json=False) == 0
    out = capsys.readouterr().out
    assert "wrote v2" in out and "raise" in out
    assert calibration.read_thresholds(settings.home).simple == pytest.approx(0.17)
    assert len(calibration.read_history(settings.home)) == 1

    # The record was cut with v1; v2 needs its own evidence.
    assert calibrate(settings, dry_run=False, as_json=True) == 0
    doc = json.loads(capsys.readouterr().out)
    assert not doc["changed"] and doc["previous"]["version"] == "v2"
    assert "too few samples" in doc["reason"]


# --- a running workflow keeps its thresholds -----------------------------------------------


async def _thresholds_read(handle: WorkflowHandle) -> None:
    for _ in range(200):
        history = await handle.fetch_history()
        scheduled = {
            e.event_id
            for e in history.events
            if e.HasField("activity_task_scheduled_event_attributes")
            and e.activity_task_scheduled_event_attributes.activity_type.name
            == "agentfleet.policy.thresholds"
        }
        if any(
            e.activity_task_completed_event_attributes.scheduled_event_id in scheduled
            for e in history.events
            if e.HasField("activity_task_completed_event_attributes")
        ):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the master never read its thresholds")


async def _approve(handle: WorkflowHandle) -> None:
    """The validator refuses until the plan is waiting: retry until it is."""
    for _ in range(200):
        try:
            answer = await handle.execute_update(
                "approve_plan", PlanApproval(), result_type=ApprovalResult
            )
            assert answer.accepted
            return
        except WorkflowUpdateFailedError as err:
            if "no plan is waiting" not in str(err.cause):
                raise
        await asyncio.sleep(0.1)
    raise AssertionError("the plan never came up for approval")


async def test_running_master_keeps_its_thresholds_new_ones_apply_to_new_masters(
    client: Client, settings: Settings
) -> None:
    calibration.write_thresholds(
        settings.home, DEFAULT_THRESHOLDS.model_copy(update={"version": "v2"})
    )
    async with running_worker(client, settings):
        first = await client.start_workflow(
            MasterAgentWorkflow.run,
            MasterInput(goal=COMPLEX_GOAL, require_approval=True),
            id=f"calib-old-{uuid.uuid4().hex[:8]}",
            task_queue=settings.task_queue,
        )
        await _thresholds_read(first)
        calibration.write_thresholds(
            settings.home, Thresholds(version="v3", simple=0.17, moderate=0.33, complex=0.63)
        )
        await _approve(first)
        old: MasterResult = await first.result()
        new: MasterResult = await client.execute_workflow(
            MasterAgentWorkflow.run,
            MasterInput(goal=COMPLEX_GOAL),
            id=f"calib-new-{uuid.uuid4().hex[:8]}",
            task_queue=settings.task_queue,
        )
    assert old.tree.children, "the first master should have planned and delegated"
    assert old.thresholds_version == "v2"
    assert new.thresholds_version == "v3"
    # Every agent of the first tree recorded the thresholds its root started with.
    ledger = Ledger.from_url(settings.ledger_url)
    rows = ledger.rows_started_between(T0, datetime.now(UTC) + timedelta(minutes=1))
    ledger.dispose()
    versions: dict[str | None, set[str | None]] = {}
    for r in rows:
        versions.setdefault(r.root_id, set()).add(r.thresholds_version)
    assert versions[first.id] == {"v2"}
    assert versions[new.tree.workflow_id] == {"v3"}


# --- `agentfleet score` from the command line -----------------------------------------------


def _score_cli(text: str, seed: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.run(
        [sys.executable, "-m", "agentfleet", "score", text, "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_score_cli_is_byte_identical_across_runs_and_hash_seeds() -> None:
    text = (
        "Review every module in src/, compare the error handling across all files, "
        "and write a report with recommendations to review.md"
    )
    runs = [_score_cli(text, seed) for seed in ("0", "1", "4242")]
    assert all(r.returncode == 0 for r in runs), [r.stderr.decode() for r in runs]
    assert runs[0].stdout == runs[1].stdout == runs[2].stdout
    doc = json.loads(runs[0].stdout)
    assert doc["tier"] in TIERS and doc["thresholds_version"]


@pytest.mark.parametrize("blank", ["", "   "])
def test_score_cli_rejects_empty_text_with_exit_code_2(blank: str) -> None:
    result = _score_cli(blank, "0")
    assert result.returncode == 2
    assert result.stdout == b""
    err = result.stderr.decode()
    assert "empty" in err and "Traceback" not in err
