"""ISO weeks as half-open UTC windows.

Reports group tasks by ISO week. The week is a calendar notion, so it is
defined in a named zone (default UTC), but the bounds we hand to queries are
always aware UTC instants: the ledger stores UTC only, and comparing UTC with
UTC is the only comparison that cannot drift with the server's local zone.

Nothing here reads the process clock or the process time zone, so the answer
never depends on the machine's `TZ`.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["iso_week_bounds", "iso_weeks_in_year", "week_of", "zone"]

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def zone(tz: str) -> tzinfo:
    """Resolve an IANA zone name.

    The KeyError zoneinfo raises becomes a ValueError, so callers (CLI flags,
    report parameters) handle one type.
    """
    if tz.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(
            f"unknown time zone {tz!r}: expected an IANA name such as 'UTC' or 'America/New_York'"
        ) from err


def iso_weeks_in_year(year: int) -> int:
    """52 or 53: 28 December always falls in the last ISO week of its year."""
    return date(year, 12, 28).isocalendar().week


def _parse_week(week: str) -> tuple[int, int]:
    m = _WEEK.match(week) if isinstance(week, str) else None
    if m is None:
        raise ValueError(f"invalid ISO week {week!r}: expected 'YYYY-Www', e.g. '2026-W05'")
    year, num = int(m.group(1)), int(m.group(2))
    if year < 1:
        raise ValueError(f"invalid ISO week {week!r}: year must be 0001 or later")
    last = iso_weeks_in_year(year)
    if not 1 <= num <= last:
        raise ValueError(f"invalid ISO week {week!r}: {year:04d} has ISO weeks W01..W{last:02d}")
    return year, num


def _local_midnight_utc(day: date, tz: tzinfo) -> datetime:
    # fold=0 is what makes this exact across DST: if midnight is repeated we
    # get its first occurrence, and if midnight is skipped (zones that spring
    # forward at 00:00) PEP 495 applies the pre-transition offset, which lands
    # exactly on the transition instant, i.e. the first instant of that day.
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def iso_week_bounds(week: str, tz: str = "UTC") -> tuple[datetime, datetime]:
    """Aware UTC `[start, end)` of ISO week `week` ("YYYY-Www") as observed in zone `tz`.

    The span is 7 days give or take a DST shift in `tz`; consecutive weeks
    tile the timeline with no gap and no overlap.
    """
    year, num = _parse_week(week)
    tzi = zone(tz)
    try:
        monday = date.fromisocalendar(year, num, 1)
        start = _local_midnight_utc(monday, tzi)
        end = _local_midnight_utc(monday + timedelta(days=7), tzi)
    except OverflowError as err:
        raise ValueError(f"ISO week {week!r} is outside the supported date range") from err
    return start, end


def week_of(instant: datetime, tz: str = "UTC") -> str:
    """The ISO week ("YYYY-Www") containing `instant`, as observed in zone `tz`.

    Naive datetimes are rejected: guessing that they are local time is the
    exact bug that made the old weekly report lose a day.
    """
    if not isinstance(instant, datetime):
        raise TypeError(f"instant must be a datetime, got {type(instant).__name__}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(
            f"instant must be timezone-aware, got naive {instant.isoformat()}; "
            "attach a zone, e.g. datetime(..., tzinfo=UTC)"
        )
    iso = instant.astimezone(zone(tz)).isocalendar()
    return f"{iso.year:04d}-W{iso.week:02d}"
