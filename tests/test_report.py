"""The weekly report: numbers on hand-made rows (with rows on the week's
edges), files on disk, the same counts whatever the process's TZ, and the
weekly schedule on a real dev server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from temporalio.client import Client

from agentfleet.audit.run import ensure_retention, namespace_retention
from agentfleet.config import Settings
from agentfleet.contracts.reports import WeeklyReport, WeeklyReportInput, WeeklyReportResult
from agentfleet.ledger.store import Ledger, LedgerClose, LedgerRow, LedgerStart
from agentfleet.reporting.schedule import (
    describe_schedule,
    ensure_schedule,
    parse_hhmm,
    update_schedule,
)
from agentfleet.reporting.weekly import (
    build_report,
    nearest_rank,
    previous_week,
    report_paths,
    week_before,
    write_report_files,
)
from agentfleet.reporting.weeks import iso_week_bounds, week_of
from tests.report_fakes import FakeTask, fleet_worker, run_tasks
from workflows.report import WeeklyReportWorkflow

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get(
    "AGENTFLEET_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
T0 = datetime(2026, 3, 2, tzinfo=UTC)  # Monday, start of 2026-W10 in UTC
US = timedelta(microseconds=1)


def row(
    wid: str,
    status: str = "completed",
    *,
    started: datetime | None = None,
    closed: datetime | None = None,
    role: str = "master",
    parent: str | None = None,
    root: str | None = None,
    model: str = "m-large",
    tokens: tuple[int, int, float] = (0, 0, 0.0),
    reason: str | None = None,
    **extra: Any,
) -> LedgerRow:
    # `completed` means verified work: a completed row passed its check unless
    # the test says otherwise (verified=None for a row from before checks).
    if status == "completed":
        extra.setdefault("verified", True)
    return LedgerRow.model_validate(
        {
            "workflow_id": wid,
            "run_id": "r1",
            "parent_id": parent,
            "root_id": root or (wid if role == "master" else None),
            "role": role,
            "model": model,
            "status": status,
            "input_tokens": tokens[0],
            "output_tokens": tokens[1],
            "cost_usd": tokens[2],
            "started_at": started,
            "closed_at": closed,
            "failure_reason": reason,
            "updated_at": closed or started or T0,
            **extra,
        }
    )


@pytest.fixture
def process_tz(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# --- numbers ------------------------------------------------------------------------


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 21)]
    assert nearest_rank(values, 0.50) == 10.0
    assert nearest_rank(values, 0.95) == 19.0
    assert nearest_rank([7.0], 0.95) == 7.0
    assert nearest_rank([], 0.5) is None
    # Order of the input does not matter.
    assert nearest_rank(list(reversed(values)), 0.5) == 10.0


def test_counts_rates_and_durations_on_hand_made_rows() -> None:
    rows = [
        row(
            f"ok{i}",
            started=T0 + timedelta(hours=i),
            closed=T0 + timedelta(hours=i, seconds=10 * i),
        )
        for i in range(1, 11)
    ]
    rows += [
        row("bad1", "failed", started=T0, closed=T0 + timedelta(seconds=5), reason="boom\ntrace"),
        row("bad2", "failed", started=T0, closed=T0 + timedelta(seconds=6), reason="boom"),
        row("bad3", "timed_out", started=T0, closed=T0 + timedelta(seconds=7)),
        row("gone", "canceled", started=T0, closed=T0 + timedelta(seconds=8), reason="user"),
        row("poor", "budget_exhausted", started=T0, closed=T0 + timedelta(seconds=9)),
        row("half", "partial", started=T0, closed=T0 + timedelta(seconds=1)),
        row("busy", "running", started=T0 + timedelta(days=2)),
        # Started long before, still running: counted as running, not spawned.
        row("old", "running", started=T0 - timedelta(days=30)),
    ]
    rep = build_report(rows, [], "2026-W10", "UTC", generated_at=T0)
    t = rep.tasks
    assert (t.spawned, t.completed, t.failed, t.timed_out) == (17, 10, 2, 1)
    assert (t.canceled, t.budget_exhausted, t.partial, t.closed) == (1, 1, 1, 16)
    assert t.still_running == 2
    assert t.completion_rate == round(10 / 16, 4)
    # Durations: 10..100 s for the ten, 1, 5, 6, 7, 8, 9 s for the others.
    durations = sorted([10.0 * i for i in range(1, 11)] + [1, 5, 6, 7, 8, 9])
    assert rep.task_duration_s.count == 16
    assert rep.task_duration_s.p50 == durations[7] == 20.0
    assert rep.task_duration_s.p95 == durations[15] == 100.0
    assert rep.task_duration_s.max == 100.0
    reasons = {f.reason: f.count for f in rep.top_failure_reasons}
    # First line only; a timeout and an exhausted budget with no reason are
    # still failures; a cancel with a reason is listed, partial without not.
    assert reasons == {"boom": 2, "(no reason recorded)": 2, "user": 1}
    assert rep.top_failure_reasons[0].reason == "(no reason recorded)"
    assert rep.summary.tasks_failed == 4
    daily = {p.label: p for p in rep.daily}
    assert daily["Mon 03-02"].completed == 10 and daily["Mon 03-02"].failed == 4
    assert daily["Mon 03-02"].closed == 16
    assert [p.label for p in rep.daily][-1] == "Sun 03-08"


def test_tokens_by_model_count_each_row_own_spend_once() -> None:
    # Rows carry subtree totals: the master's 1000 input tokens include its
    # two sub-agents' 300 + 200.
    closed = T0 + timedelta(hours=2)
    rows = [
        row("m", started=T0, closed=closed, model="big", tokens=(1000, 100, 0.5)),
        row(
            "m.1",
            role="subagent",
            parent="m",
            root="m",
            started=T0,
            closed=closed,
            model="small",
            tokens=(300, 30, 0.05),
        ),
        row(
            "m.2",
            "failed",
            role="subagent",
            parent="m",
            root="m",
            started=T0,
            closed=closed,
            model="small",
            tokens=(200, 20, 0.05),
            reason="tool error",
        ),
        row("x", started=T0, closed=closed, model="", tokens=(7, 1, 0.001)),
    ]
    rep = build_report(rows, [], "2026-W10", "UTC", generated_at=T0)
    by = {u.model: u for u in rep.by_model}
    assert (by["big"].input_tokens, by["big"].output_tokens) == (500, 50)
    assert by["big"].cost_usd == pytest.approx(0.4)
    assert (by["small"].agents, by["small"].input_tokens, by["small"].output_tokens) == (2, 500, 50)
    assert by["(unknown)"].total_tokens == 8
    assert rep.totals.input_tokens == 1007 and rep.totals.agents == 4
    assert rep.totals.cost_usd == pytest.approx(0.501)
    assert [u.model for u in rep.by_model] == ["big", "small", "(unknown)"]
    assert rep.subagents.completed == 1 and rep.subagents.failed == 1
    assert rep.subagents_per_task.count == 2
    assert (rep.subagents_per_task.max, rep.subagents_per_task.p50) == (2.0, 0.0)
    assert rep.top_failure_reasons[0].reason == "tool error"


def test_inline_and_pruned_are_optional() -> None:
    closed = T0 + timedelta(hours=1)
    plain = [row("m", started=T0, closed=closed)]
    rep = build_report(plain, [], "2026-W10", "UTC", generated_at=T0)
    assert rep.inline_decisions == 0
    assert rep.pruned_subtasks is None
    inline = [
        *plain,
        row("m/inline-1", role="inline", root="m", parent="m", started=T0, closed=closed),
        row("m/inline-2", role="inline", root="m", parent="m", started=T0, closed=closed),
    ]
    rep = build_report(inline, [], "2026-W10", "UTC", generated_at=T0)
    assert rep.inline_decisions == 2
    # Inline rows are not tasks, sub-agents, or spend of their own.
    assert rep.tasks.closed == 1 and rep.subagents.closed == 0
    assert rep.totals.agents == 1

    class PrunedRow(LedgerRow):
        pruned_count: int | None = None

    pruned = [
        PrunedRow.model_validate({**r.model_dump(), "pruned_count": 3})
        for r in [row("a", started=T0, closed=closed), row("b", started=T0, closed=closed)]
    ]
    rep = build_report(pruned, [], "2026-W10", "UTC", generated_at=T0)
    assert rep.pruned_subtasks == 6


def test_rows_on_the_week_edges() -> None:
    start, end = iso_week_bounds("2026-W10")
    rows = [
        row("at-start", started=start - timedelta(hours=1), closed=start),
        row("before-start", started=start - timedelta(hours=1), closed=start - US),
        row("last-instant", started=end - US, closed=end - US),
        row("at-end", started=end - timedelta(hours=1), closed=end),
        row("starts-at-end", "running", started=end),
    ]
    rep = build_report(rows, rows, "2026-W10", "UTC", generated_at=T0)
    assert rep.tasks.closed == 2 and rep.tasks.completed == 2  # at-start, last-instant
    assert rep.tasks.spawned == 2  # last-instant, at-end
    assert rep.tasks.still_running == 0
    # The previous week got the row that closed one microsecond too early.
    assert rep.previous.week == "2026-W09"
    assert rep.previous.tasks_completed == 1
    assert rep.delta.tasks_completed == 1
    assert rep.delta.tasks_spawned == 2 - 2  # before-start, at-start spawned in W09


def test_week_in_another_zone_moves_the_edges() -> None:
    # 2026-W10 in Los Angeles starts Mon 2 March 08:00 UTC and, across the
    # DST change on 8 March, ends Mon 9 March 07:00 UTC.
    early = row(
        "early", started=T0 + timedelta(hours=7), closed=T0 + timedelta(hours=7, minutes=59)
    )
    late = row(
        "late",
        started=T0 + timedelta(days=7, hours=6),
        closed=T0 + timedelta(days=7, hours=6, minutes=59),
    )
    utc = build_report([early, late], [], "2026-W10", "UTC", generated_at=T0)
    la = build_report([early, late], [], "2026-W10", "America/Los_Angeles", generated_at=T0)
    assert utc.tasks.completed == 1  # early; late is in W11 in UTC
    assert la.tasks.completed == 1  # late; early is Sunday evening, W09, in LA
    assert la.window_start == datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert la.window_end == datetime(2026, 3, 9, 7, tzinfo=UTC)
    assert [p.label for p in la.daily] == [
        "Mon 03-02",
        "Tue 03-03",
        "Wed 03-04",
        "Thu 03-05",
        "Fri 03-06",
        "Sat 03-07",
        "Sun 03-08",
    ]
    # 'late' closed at 06:59 UTC on 9 March: Sunday 8 March, 23:59 in LA.
    assert {p.label: p.completed for p in la.daily}["Sun 03-08"] == 1


def test_numbers_do_not_depend_on_the_process_zone(process_tz: None) -> None:
    # 2026: Kiritimati has been UTC+14 since 1995.
    assert time.strftime("%z", time.localtime(1_772_000_000)) == "+1400"
    rows = [
        row(f"r{i}", started=T0 + timedelta(hours=5 * i), closed=T0 + timedelta(hours=5 * i + 1))
        for i in range(40)
    ]
    here = build_report(rows, [], "2026-W10", "UTC", generated_at=T0).model_dump()
    # Same computation with the zone switched back to UTC.
    os.environ["TZ"] = "UTC"
    time.tzset()
    there = build_report(rows, [], "2026-W10", "UTC", generated_at=T0).model_dump()
    assert here == there
    assert here["tasks"]["completed"] == 34  # 5 h apart: 34 close before Mon 9 March


def test_previous_week_is_the_week_that_just_ended() -> None:
    assert previous_week(datetime(2026, 3, 9, 0, 30, tzinfo=UTC)) == "2026-W10"
    assert previous_week(datetime(2026, 3, 8, 23, 59, tzinfo=UTC)) == "2026-W09"
    assert previous_week(datetime(2026, 1, 5, 0, 30, tzinfo=UTC)) == "2026-W01"
    assert previous_week(datetime(2026, 1, 4, 12, tzinfo=UTC)) == "2025-W52"
    # Monday 00:30 in LA is still Monday 08:30 UTC: the LA week just ended.
    assert (
        previous_week(datetime(2026, 3, 9, 7, 30, tzinfo=UTC), "America/Los_Angeles") == "2026-W10"
    )
    assert week_before("2021-W01") == "2020-W53"


def test_report_files_are_written(tmp_path: Path) -> None:
    rows = [
        row("ok", started=T0, closed=T0 + timedelta(minutes=3)),
        row("bad", "failed", started=T0, closed=T0 + timedelta(days=1), reason="boom"),
    ]
    for tz, stem in [("UTC", "2026-W10"), ("America/Los_Angeles", "2026-W10-America-Los_Angeles")]:
        rep = build_report(rows, [], "2026-W10", tz, generated_at=T0)
        files = write_report_files(rep, tmp_path)
        assert [p.name for p in files] == [f"{stem}.json", f"{stem}.md", f"{stem}.png"]
        assert files == list(report_paths(tmp_path, "2026-W10", tz).values())
        back = WeeklyReport.model_validate_json(files[0].read_text())
        assert back == rep
        md = files[1].read_text()
        assert f"# agentfleet weekly report: 2026-W10 ({tz})" in md
        assert "1. boom (1)" in md
        assert files[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "reports").glob(".*.tmp"))


# --- verified completion (issue #13) ------------------------------------------------


def _verification_rows(base: datetime) -> list[LedgerRow]:
    """Root tasks of one week: 3 verified, 1 answer-only, 2 unverified (one
    with a sub-agent missing the same path), 2 that say completed without a
    passing check (an old row, and a contradictory one), 1 failed."""
    at = {"started": base, "closed": base + timedelta(minutes=5)}
    return [
        *(row(f"ok{i}", **at, verify_mode="files", verify_checked=2) for i in range(3)),
        row("answer", **at, verify_mode="answer_only"),
        row(
            "uv1",
            "unverified",
            **at,
            verified=False,
            verify_missing=["notes/SUMMARY.md", "docs/INDEX.md"],
            reason="missing notes/SUMMARY.md, docs/INDEX.md",
        ),
        row(
            "uv1.1",
            "unverified",
            role="subagent",
            parent="uv1",
            root="uv1",
            **at,
            verified=False,
            verify_missing=["notes/SUMMARY.md"],
            reason="missing notes/SUMMARY.md",
        ),
        row(
            "uv2",
            "unverified",
            **at,
            verified=False,
            verify_missing=["notes/SUMMARY.md"],
            reason="missing notes/SUMMARY.md",
        ),
        row("old", **at, verified=None),
        row("liar", **at, verified=False, verify_missing=["poem.txt"]),
        row("bad", "failed", **at, reason="boom"),
    ]


def test_completion_counts_verified_work_only() -> None:
    rep = build_report(_verification_rows(T0), [], "2026-W10", "UTC", generated_at=T0)
    t = rep.tasks
    assert (t.completed, t.completed_unchecked, t.unverified, t.failed) == (4, 2, 2, 1)
    assert t.closed == 9 == t.completed + t.completed_unchecked + t.unverified + t.failed
    # 4 verified of 9 closed; counting every `completed` status would say 6/9.
    assert t.completion_rate == round(4 / 9, 4)
    assert rep.subagents.unverified == 1 and rep.subagents.completed == 0
    assert rep.subagents.completion_rate == 0.0
    s = rep.summary
    assert (s.tasks_completed, s.tasks_unverified, s.tasks_completed_unchecked) == (4, 2, 2)
    assert s.completion_rate == t.completion_rate
    mon = rep.daily[0]
    assert (mon.completed, mon.unverified, mon.completed_unchecked, mon.failed) == (4, 2, 2, 1)
    assert mon.completion_rate == round(4 / 9, 4)
    # Missing paths, once per task tree: uv1 and its sub-agent both miss
    # notes/SUMMARY.md, which counts once for that tree and once for uv2.
    assert [(u.path, u.count) for u in rep.top_unverified_reasons] == [
        ("notes/SUMMARY.md", 2),
        ("docs/INDEX.md", 1),
    ]
    # Unverified work is not listed again among the failures.
    assert [(f.reason, f.count) for f in rep.top_failure_reasons] == [("boom", 1)]


def test_unverified_without_paths_still_gives_a_reason() -> None:
    at = {"started": T0, "closed": T0 + timedelta(minutes=1)}
    rows = [
        row("a", "unverified", **at, verified=False, reason="claimed x.txt, never wrote it"),
        row("b", "unverified", **at, verified=False),
    ]
    rep = build_report(rows, [], "2026-W10", "UTC", generated_at=T0)
    assert {(u.path, u.count) for u in rep.top_unverified_reasons} == {
        ("(claimed x.txt, never wrote it)", 1),
        ("(no missing path recorded)", 1),
    }


def test_delta_compares_verified_work_with_the_week_before() -> None:
    this = _verification_rows(T0)
    before = [
        row("p-ok", started=T0 - timedelta(days=3), closed=T0 - timedelta(days=3)),
        row("p-uv", "unverified", started=T0 - timedelta(days=3), closed=T0 - timedelta(days=3)),
        *(
            row(
                f"p-old{i}",
                started=T0 - timedelta(days=2),
                closed=T0 - timedelta(days=2),
                verified=None,
            )
            for i in range(5)
        ),
    ]
    rep = build_report(this, before, "2026-W10", "UTC", generated_at=T0)
    p = rep.previous
    assert (p.tasks_completed, p.tasks_unverified, p.tasks_completed_unchecked) == (1, 1, 5)
    assert p.completion_rate == round(1 / 7, 4)
    d = rep.delta
    assert (d.tasks_completed, d.tasks_unverified, d.tasks_completed_unchecked) == (3, 1, -3)
    assert d.completion_rate == round(0.4444 - 0.1429, 6)  # rates as reported


def test_report_files_show_verified_and_unverified_apart(tmp_path: Path) -> None:
    rep = build_report(_verification_rows(T0), [], "2026-W10", "UTC", generated_at=T0)
    json_file, md_file, png_file = write_report_files(rep, tmp_path)
    doc = json.loads(json_file.read_text())
    assert doc["tasks"]["completed"] == 4 and doc["tasks"]["unverified"] == 2
    assert doc["tasks"]["completed_unchecked"] == 2
    assert doc["top_unverified_reasons"][0] == {"path": "notes/SUMMARY.md", "count": 2}
    md = md_file.read_text()
    assert "| completed (verified) | 4 | 0 |" in md
    assert "| completed (unchecked) | 2 | 0 |" in md
    assert "| unverified | 2 | 1 |" in md
    assert "| completion rate (verified) | 44.4% | 0.0% |" in md
    assert "## Top reasons for unverified (missing paths)" in md
    assert "1. notes/SUMMARY.md (2 tasks)" in md and "2. docs/INDEX.md (1 task)" in md
    assert "| Mon 03-02 | 4 | 2 | 2 | 1 | 44.4% |" in md
    assert "| unverified | 2 | 0 | +2 |" in md
    # A week with only verified work says nothing about unchecked rows.
    clean = build_report(
        [row("ok", started=T0, closed=T0 + timedelta(minutes=1))],
        [],
        "2026-W10",
        "UTC",
        generated_at=T0,
    )
    clean_md = write_report_files(clean, tmp_path / "clean")[1].read_text()
    assert "unchecked" not in clean_md
    assert "| completed (verified) | 1 | 0 |" in clean_md
    # The chart draws the unverified and unchecked bars: not the clean week's picture.
    from agentfleet.reporting.charts import render_png

    assert png_file.read_bytes() == render_png(rep)
    no_unverified = rep.model_copy(
        update={
            "daily": [
                p.model_copy(update={"unverified": 0, "completed_unchecked": 0}) for p in rep.daily
            ]
        }
    )
    assert render_png(no_unverified) != render_png(rep)


def test_report_command_text_names_unverified_work(tmp_path: Path) -> None:
    home = tmp_path / "home"
    led = Ledger.from_url(f"sqlite:///{home / 'ledger.db'}")
    led.create()
    at = T0 + timedelta(hours=3)
    for r in _verification_rows(at):
        led.record_start(
            LedgerStart(
                workflow_id=r.workflow_id,
                run_id="r",
                root_id=r.root_id or r.workflow_id,
                parent_id=r.parent_id,
                role=r.role or "master",
                started_at=at,
            )
        )
        led.record_close(
            LedgerClose(
                workflow_id=r.workflow_id,
                run_id="r",
                status=r.status,  # type: ignore[arg-type]
                closed_at=at + timedelta(minutes=5),
                failure_reason=r.failure_reason,
                verified=r.verified,
                verify_mode=r.verify_mode,  # type: ignore[arg-type]
                verify_missing=r.verify_missing,
            )
        )
    led.dispose()
    env = {k: v for k, v in os.environ.items() if k != "AGENTFLEET_LEDGER_URL"}
    env.update({"AGENTFLEET_HOME": str(home), "TZ": "Pacific/Kiritimati"})
    proc = subprocess.run(
        [sys.executable, "-m", "agentfleet", "report", "--week", "2026-W10"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()[:2]
    assert "4 completed (verified), 2 unverified, 2 completed (unchecked), 1 failed" in first
    assert "completion 44.4% (verified only)" in first
    assert second == "unverified, missing: notes/SUMMARY.md (2), docs/INDEX.md (1)"


# --- the CLI command, under three process zones ------------------------------------


def _edge_rows(ledger: Ledger) -> None:
    """Rows on and around the edges of 2026-W10 (UTC and Kiritimati)."""

    def put(wid: str, status: str, started: datetime, closed: datetime | None) -> None:
        ledger.record_start(
            LedgerStart(workflow_id=wid, run_id="r", root_id=wid, role="master", started_at=started)
        )
        if closed is not None:
            ledger.record_close(
                LedgerClose(
                    workflow_id=wid,
                    run_id="r",
                    status=status,  # type: ignore[arg-type]
                    closed_at=closed,
                    input_tokens=10,
                    failure_reason="boom" if status == "failed" else None,
                    verified=True if status == "completed" else None,
                )
            )

    d = T0
    put("m1", "completed", d - timedelta(hours=1), d)
    put("m2", "completed", d + timedelta(days=7) - timedelta(hours=1), d + timedelta(days=7))
    put("m3", "completed", d + timedelta(days=7) - US, d + timedelta(days=7) - US)
    put("m4", "failed", d + timedelta(days=2, hours=10), d + timedelta(days=2, hours=11))
    put("m5", "running", d + timedelta(days=3), None)
    put("m6", "completed", d - timedelta(hours=1), d - US)
    put("m7", "completed", d + timedelta(hours=13, minutes=30), d + timedelta(hours=13, minutes=45))


_IN_PROCESS = (
    "import asyncio, sys\n"
    "from agentfleet.config import Settings\n"
    "from agentfleet.cli.reports import report\n"
    "sys.exit(asyncio.run(report(Settings.from_env(), sys.argv[1], sys.argv[2], as_json=True)))\n"
)


def _cli_wired() -> bool:
    probe = subprocess.run(
        [sys.executable, "-m", "agentfleet", "report", "--help"],
        capture_output=True,
        cwd=ROOT,
        check=False,
    )
    return probe.returncode == 0


def _report_json(home: Path, week: str, tz: str, process_tz: str, extra_env: dict[str, str]) -> Any:
    env = {k: v for k, v in os.environ.items() if k != "AGENTFLEET_LEDGER_URL"}
    env.update({"AGENTFLEET_HOME": str(home), "TZ": process_tz, **extra_env})
    if _cli_wired():
        cmd = [sys.executable, "-m", "agentfleet", "report", "--week", week, "--tz", tz, "--json"]
    else:
        cmd = [sys.executable, "-c", _IN_PROCESS, week, tz]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _pg_reachable() -> str | None:
    engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        return None
    except Exception as err:
        return f"{type(err).__name__}: {err}".splitlines()[0]
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def edge_ledger(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Path, dict[str, str]]]:
    home = tmp_path / "home"
    home.mkdir()
    if request.param == "sqlite":
        led = Ledger.from_url(f"sqlite:///{home / 'ledger.db'}")
        led.create()
        _edge_rows(led)
        led.dispose()
        yield home, {}
        return
    reason = _pg_reachable()
    if reason is not None:
        pytest.skip(f"!!! PostgreSQL NOT REACHABLE at {PG_URL}: {reason}")
    schema = f"agentfleet_report_{uuid.uuid4().hex[:10]}"
    led = Ledger.from_url(PG_URL, schema=schema)
    led.create()
    _edge_rows(led)
    led.dispose()
    # The CLI names no schema: the search path (and a hostile session zone)
    # travel in the URL, as an operator would set them.
    url = f"{PG_URL}?options=-csearch_path%3D{schema}%20-ctimezone%3DPacific/Kiritimati"
    try:
        yield home, {"AGENTFLEET_LEDGER_URL": url}
    finally:
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


EXPECTED = {
    # tz flag -> (spawned, completed, failed, closed, still_running)
    "UTC": (5, 3, 1, 4, 1),
    "Pacific/Kiritimati": (5, 3, 1, 4, 1),
}


@pytest.mark.parametrize("report_tz", ["UTC", "Pacific/Kiritimati"])
def test_report_command_counts_are_the_same_in_every_process_zone(
    edge_ledger: tuple[Path, dict[str, str]], report_tz: str
) -> None:
    home, env = edge_ledger
    docs = {
        ptz: _report_json(home, "2026-W10", report_tz, ptz, env)
        for ptz in ("UTC", "Pacific/Kiritimati", "America/Los_Angeles")
    }
    counts = {ptz: doc["tasks"] for ptz, doc in docs.items()}
    assert counts["UTC"] == counts["Pacific/Kiritimati"] == counts["America/Los_Angeles"]
    t = counts["UTC"]
    assert (t["spawned"], t["completed"], t["failed"], t["closed"], t["still_running"]) == EXPECTED[
        report_tz
    ]
    for doc in docs.values():
        assert doc["daily"] == docs["UTC"]["daily"]
        assert doc["by_model"] == docs["UTC"]["by_model"]
        assert doc["window_start"] == docs["UTC"]["window_start"]
        assert all(Path(f).exists() for f in doc["files"])
    # Which rows: in UTC, m1 (closed at the first instant), m3 (the last)
    # and m7; in Kiritimati (UTC+14) the week starts 14 h earlier, taking m6
    # and leaving m3 to the next week.
    days = {p["label"]: p["completed"] for p in docs["UTC"]["daily"]}
    if report_tz == "UTC":
        assert days == {
            "Mon 03-02": 2,
            "Tue 03-03": 0,
            "Wed 03-04": 0,
            "Thu 03-05": 0,
            "Fri 03-06": 0,
            "Sat 03-07": 0,
            "Sun 03-08": 1,
        }
    else:
        assert docs["UTC"]["window_start"].startswith("2026-03-01T10:00:00")
        assert days["Mon 03-02"] == 2 and days["Tue 03-03"] == 1  # m6+m1; m7 at 03:45 local


# --- the workflow and its schedule -----------------------------------------------------


@pytest.fixture
def no_ledger_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTFLEET_LEDGER_URL", raising=False)


async def test_namespace_retention_is_raised_never_lowered(client: Client) -> None:
    got = await ensure_retention(client, "default", days=8)
    assert got >= timedelta(days=8)
    assert (await namespace_retention(client, "default")) == got
    # A longer retention stays as it is.
    assert await ensure_retention(client, "default", days=2) == got
    assert (await namespace_retention(client, "default")) == got


async def _run_from_schedule(client: Client, schedule_id: str) -> WeeklyReportResult:
    handle = client.get_schedule_handle(schedule_id)
    await handle.trigger()
    for _ in range(600):
        desc = await handle.describe()
        if desc.info.recent_actions:
            action = desc.info.recent_actions[-1].action
            wid = action.workflow_id  # type: ignore[attr-defined]
            return await client.get_workflow_handle(wid, result_type=WeeklyReportResult).result()
        await asyncio.sleep(0.1)
    raise AssertionError("the schedule never started its workflow")


async def test_schedule_runs_the_report_with_the_tasks_of_this_test(
    client: Client, settings: Settings, no_ledger_env: None
) -> None:
    await ensure_retention(client, "default", days=8)
    led = Ledger.from_url(f"sqlite:///{settings.home / 'ledger.db'}")
    led.create()
    week = week_of(datetime.now(UTC))
    schedule_id = f"test-weekly-report-{uuid.uuid4().hex[:8]}"
    tasks = [
        FakeTask(title="a", subagents=2),
        FakeTask(title="b", subagents=1, sub_outcome="failed"),
        FakeTask(title="c"),
        FakeTask(title="d", subagents=1, outcome="failed"),
    ]
    try:
        await ensure_schedule(
            client,
            settings.task_queue,
            schedule_id=schedule_id,
            report=WeeklyReportInput(week=week),
        )
        # Idempotent: a second call finds it and changes nothing.
        before = await describe_schedule(client, schedule_id)
        await ensure_schedule(client, settings.task_queue, schedule_id=schedule_id, tz="Asia/Tokyo")
        after = await describe_schedule(client, schedule_id)
        assert before is not None and after is not None
        assert (after.time, after.tz, after.day_of_week) == ("00:30", "UTC", "Monday")
        assert after.next_runs == before.next_runs
        assert all(ts.weekday() == 0 and (ts.hour, ts.minute) == (0, 30) for ts in after.next_runs)

        async with fleet_worker(client, settings, led):
            await run_tasks(client, settings, tasks, f"sched-{uuid.uuid4().hex[:6]}")
            result = await _run_from_schedule(client, schedule_id)
    finally:
        await client.get_schedule_handle(schedule_id).delete()
        led.dispose()

    if week_of(datetime.now(UTC)) != week:
        pytest.skip("the ISO week changed while the test ran")
    assert result.week == week and result.tz == "UTC"
    assert result.tasks.spawned == 4
    assert (result.tasks.completed, result.tasks.failed, result.tasks.closed) == (3, 1, 4)
    assert result.summary.subagents_spawned == 4
    assert result.audit_error is None
    assert result.audit_clean is True, result.audit_by_kind
    assert result.audit_discrepancies == 0
    names = sorted(Path(f).name for f in result.files)
    assert names == sorted([f"{week}.json", f"{week}.md", f"{week}.png", f"{week}.audit.json"])
    for f in result.files:
        assert Path(f).parent == settings.home / "reports"
    doc = json.loads((settings.home / "reports" / f"{week}.json").read_text())
    assert doc["tasks"]["completed"] == 3 and doc["tasks"]["failed"] == 1
    assert doc["subagents"]["spawned"] == 4 and doc["subagents"]["failed"] == 1
    assert {u["model"] for u in doc["by_model"]} == {"fake-large", "fake-small"}
    assert doc["subagents_per_task"]["max"] == 2.0
    assert (settings.home / "reports" / f"{week}.png").read_bytes()[:4] == b"\x89PNG"


async def test_report_without_a_week_reports_the_week_that_just_ended(
    client: Client, settings: Settings, no_ledger_env: None
) -> None:
    led = Ledger.from_url(f"sqlite:///{settings.home / 'ledger.db'}")
    led.create()
    expected_before = previous_week(datetime.now(UTC), "Asia/Tokyo")
    try:
        async with fleet_worker(client, settings, led):
            result = await client.execute_workflow(
                WeeklyReportWorkflow.run,
                WeeklyReportInput(tz="Asia/Tokyo"),
                id=f"weekly-{uuid.uuid4().hex[:8]}",
                task_queue=settings.task_queue,
            )
    finally:
        led.dispose()
    expected_after = previous_week(datetime.now(UTC), "Asia/Tokyo")
    assert result.week in {expected_before, expected_after}
    assert result.tz == "Asia/Tokyo"
    assert result.tasks.spawned == 0 and result.tasks.closed == 0
    stem = f"{result.week}-Asia-Tokyo"
    assert (settings.home / "reports" / f"{stem}.md").exists()


async def test_schedule_can_be_moved_and_shown(client: Client, settings: Settings) -> None:
    schedule_id = f"test-weekly-report-{uuid.uuid4().hex[:8]}"
    assert await describe_schedule(client, schedule_id) is None
    await ensure_schedule(client, settings.task_queue, schedule_id=schedule_id)
    try:
        view = await update_schedule(
            client, at=parse_hhmm("07:15"), tz="America/Los_Angeles", schedule_id=schedule_id
        )
        assert (view.time, view.tz, view.report_tz) == (
            "07:15",
            "America/Los_Angeles",
            "America/Los_Angeles",
        )
        assert view.task_queue == settings.task_queue
        from zoneinfo import ZoneInfo

        la = ZoneInfo("America/Los_Angeles")
        assert view.next_runs
        for ts in view.next_runs:
            local = ts.astimezone(la)
            assert (local.weekday(), local.hour, local.minute) == (0, 7, 15)
        # Moving the time alone keeps the zone.
        view = await update_schedule(client, at=parse_hhmm("01:00"), schedule_id=schedule_id)
        assert (view.time, view.tz, view.report_tz) == (
            "01:00",
            "America/Los_Angeles",
            "America/Los_Angeles",
        )
    finally:
        await client.get_schedule_handle(schedule_id).delete()
    with pytest.raises(ValueError, match="HH:MM"):
        parse_hhmm("7pm")
