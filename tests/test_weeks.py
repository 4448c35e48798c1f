"""ISO week windows: exact at midnight, across DST, at year ends, and
independent of the process time zone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentfleet.reporting.weeks import iso_week_bounds, iso_weeks_in_year, week_of

NY = ZoneInfo("America/New_York")
US = timedelta(microseconds=1)

# Process zones chosen to be hostile: far from UTC, half-hour offsets, and
# both hemispheres' DST, so any accidental use of local time shows up.
PROCESS_TZS = [
    "UTC",
    "Asia/Kolkata",
    "America/Los_Angeles",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Australia/Lord_Howe",
]
# Week zones including ones whose DST shifts happen at midnight (Santiago,
# Havana) and by 30 minutes (Lord Howe).
WEEK_TZS = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "America/Santiago",
    "America/Havana",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
]


@contextmanager
def process_tz(name: str) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TZ", name)
        time.tzset()
        try:
            yield
        finally:
            mp.undo()
            time.tzset()


def next_week(week: str) -> str:
    year, num = int(week[:4]), int(week[6:])
    if num < iso_weeks_in_year(year):
        return f"{year:04d}-W{num + 1:02d}"
    return f"{year + 1:04d}-W01"


def test_process_tz_helper_really_changes_local_time() -> None:
    # Guards the other tests against passing vacuously.
    with process_tz("Asia/Kolkata"):
        assert time.strftime("%z", time.localtime(0)) == "+0530"
    with process_tz("America/Los_Angeles"):
        assert time.strftime("%z", time.localtime(0)) == "-0800"


@pytest.mark.parametrize("proc_tz", PROCESS_TZS)
def test_sunday_last_microsecond_and_monday_midnight_are_different_weeks(proc_tz: str) -> None:
    sunday_last = datetime(2026, 3, 15, 23, 59, 59, 999999, tzinfo=UTC)
    monday_first = datetime(2026, 3, 16, 0, 0, tzinfo=UTC)
    with process_tz(proc_tz):
        assert sunday_last.weekday() == 6
        assert week_of(sunday_last) == "2026-W11"
        assert week_of(monday_first) == "2026-W12"
        w11 = iso_week_bounds("2026-W11")
        w12 = iso_week_bounds("2026-W12")
    assert w11 == (datetime(2026, 3, 9, tzinfo=UTC), monday_first)
    assert w11[0] <= sunday_last < w11[1]
    assert w12[0] <= monday_first < w12[1]
    assert not (w12[0] <= sunday_last < w12[1])
    assert not (w11[0] <= monday_first < w11[1])


def test_bounds_are_aware_utc() -> None:
    for tz in WEEK_TZS:
        start, end = iso_week_bounds("2026-W10", tz)
        assert start.tzinfo is UTC and end.tzinfo is UTC


def test_new_york_spring_forward_week_is_23_hours_short() -> None:
    # DST began 2026-03-08 02:00 EST -> 03:00 EDT, inside ISO week 10.
    start, end = iso_week_bounds("2026-W10", "America/New_York")
    assert start == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # 00:00 EST
    assert end == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)  # 00:00 EDT
    assert end - start == timedelta(days=7) - timedelta(hours=1)
    assert start.astimezone(NY).timetuple()[:5] == (2026, 3, 2, 0, 0)
    assert end.astimezone(NY).timetuple()[:5] == (2026, 3, 9, 0, 0)
    assert iso_week_bounds("2026-W11", "America/New_York")[0] == end
    # Sunday 23:30 New York is already Monday in UTC: a UTC week would put it
    # in W11, a New York week keeps it in W10.
    late_sunday = datetime(2026, 3, 8, 23, 30, tzinfo=NY)
    assert week_of(late_sunday, "America/New_York") == "2026-W10"
    assert week_of(late_sunday, "UTC") == "2026-W11"
    assert week_of(end - US, "America/New_York") == "2026-W10"
    assert week_of(end, "America/New_York") == "2026-W11"


def test_new_york_fall_back_week_is_an_hour_long() -> None:
    # DST ended 2026-11-01 02:00 EDT -> 01:00 EST, the Sunday of ISO week 44.
    start, end = iso_week_bounds("2026-W44", "America/New_York")
    assert start == datetime(2026, 10, 26, 4, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)
    assert end - start == timedelta(days=7, hours=1)
    # Both occurrences of the repeated 01:30 belong to W44.
    first = datetime(2026, 11, 1, 1, 30, fold=0, tzinfo=NY)
    second = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY)
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)
    for t in (first, second):
        assert week_of(t, "America/New_York") == "2026-W44"
        assert start <= t < end


@pytest.mark.parametrize(
    ("week", "monday", "next_monday"),
    [
        ("2026-W53", datetime(2026, 12, 28, tzinfo=UTC), datetime(2027, 1, 4, tzinfo=UTC)),
        ("2020-W53", datetime(2020, 12, 28, tzinfo=UTC), datetime(2021, 1, 4, tzinfo=UTC)),
        # Week 1 that starts in the previous calendar year.
        ("2025-W01", datetime(2024, 12, 30, tzinfo=UTC), datetime(2025, 1, 6, tzinfo=UTC)),
        ("2026-W01", datetime(2025, 12, 29, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC)),
        # Week 1 that starts on 1 January exactly.
        ("2024-W01", datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 8, tzinfo=UTC)),
    ],
)
def test_year_boundary_weeks(week: str, monday: datetime, next_monday: datetime) -> None:
    assert iso_week_bounds(week) == (monday, next_monday)
    assert week_of(monday) == week
    assert week_of(next_monday - US) == week
    assert week_of(monday - US) != week
    assert week_of(next_monday) == next_week(week)


def date_iso_week(y: int, m: int, d: int) -> tuple[int, int]:
    iso = datetime(y, m, d, tzinfo=UTC).isocalendar()
    return iso.year, iso.week


def test_week_53_years() -> None:
    assert date_iso_week(2026, 12, 28) == (2026, 53)
    assert date_iso_week(2020, 12, 28) == (2020, 53)
    assert iso_weeks_in_year(2026) == 53
    assert iso_weeks_in_year(2020) == 53
    assert iso_weeks_in_year(2025) == 52
    assert iso_weeks_in_year(2027) == 52
    # 31 Dec 2026 and 3 Jan 2027 are both in 2026-W53, 1 Jan 2021 in 2020-W53.
    assert week_of(datetime(2026, 12, 31, 12, tzinfo=UTC)) == "2026-W53"
    assert week_of(datetime(2027, 1, 3, 23, 59, 59, 999999, tzinfo=UTC)) == "2026-W53"
    assert week_of(datetime(2021, 1, 1, tzinfo=UTC)) == "2020-W53"
    assert week_of(datetime(2027, 1, 4, tzinfo=UTC)) == "2027-W01"


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("2026-W54", "W01..W53"),
        ("2027-W53", "W01..W52"),
        ("2026-W00", "W01..W53"),
        ("2026-13", "YYYY-Www"),
        ("2026-W1", "YYYY-Www"),
        ("2026W01", "YYYY-Www"),
        ("2026-w01", "YYYY-Www"),
        ("26-W01", "YYYY-Www"),
        ("2026-W01-1", "YYYY-Www"),
        (" 2026-W01", "YYYY-Www"),
        ("", "YYYY-Www"),
        ("0000-W01", "0001"),
    ],
)
def test_bad_week_strings_raise_clear_value_error(bad: str, needle: str) -> None:
    with pytest.raises(ValueError, match="invalid ISO week") as exc:
        iso_week_bounds(bad)
    assert needle in str(exc.value)
    assert repr(bad) in str(exc.value)


def test_unknown_zone_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        iso_week_bounds("2026-W10", "Mars/Olympus")
    with pytest.raises(ValueError, match="unknown time zone"):
        week_of(datetime(2026, 1, 1, tzinfo=UTC), "Nope/Nope")


def test_naive_instant_rejected() -> None:
    naive = datetime(2026, 3, 15, 23, 59, tzinfo=UTC).replace(tzinfo=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        week_of(naive)
    with pytest.raises(TypeError):
        week_of("2026-03-15T23:59:00Z")  # type: ignore[arg-type]


@pytest.mark.parametrize("tz", WEEK_TZS)
def test_weeks_tile_the_timeline(tz: str) -> None:
    # Three years including a 53-week year and every DST change in between:
    # each week ends exactly where the next begins.
    week = "2025-W01"
    prev_end = iso_week_bounds(week, tz)[0]
    while week != "2028-W01":
        start, end = iso_week_bounds(week, tz)
        assert start == prev_end, week
        assert timedelta(days=6, hours=22) <= end - start <= timedelta(days=7, hours=2), week
        assert week_of(start, tz) == week
        assert week_of(end - US, tz) == week
        prev_end = end
        week = next_week(week)


@pytest.mark.parametrize("proc_tz", PROCESS_TZS)
@settings(max_examples=150, deadline=None)
@given(
    instant=st.datetimes(
        min_value=datetime(2000, 1, 2),  # noqa: DTZ001 - hypothesis bounds must be naive
        max_value=datetime(2099, 12, 30),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    tz=st.sampled_from(WEEK_TZS),
)
def test_each_instant_in_exactly_one_week(proc_tz: str, instant: datetime, tz: str) -> None:
    with process_tz(proc_tz):
        week = week_of(instant, tz)
        start, end = iso_week_bounds(week, tz)
        before = iso_week_bounds(week_of(start - US, tz), tz)
        after = iso_week_bounds(next_week(week), tz)
    assert start <= instant < end
    assert before[1] == start and after[0] == end
    assert not (before[0] <= instant < before[1])
    assert not (after[0] <= instant < after[1])


@pytest.mark.parametrize("proc_tz", PROCESS_TZS)
def test_answers_do_not_depend_on_process_tz(proc_tz: str) -> None:
    probes = [
        datetime(2026, 3, 8, 6, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 9, 4, 0, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2027, 1, 4, 0, 0, tzinfo=UTC),
    ]
    with process_tz("UTC"):
        expected = [
            (week_of(p, tz), iso_week_bounds(week_of(p, tz), tz)) for p in probes for tz in WEEK_TZS
        ]
    with process_tz(proc_tz):
        got = [
            (week_of(p, tz), iso_week_bounds(week_of(p, tz), tz)) for p in probes for tz in WEEK_TZS
        ]
    assert got == expected
