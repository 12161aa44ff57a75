"""A borrower's wall clock: local days and times as UTC instants, exact across DST changes.

Every function takes and returns aware datetimes (UTC on the way out). Offset changes are found
by bisection on whole seconds, which is exact: the IANA database puts every transition on a
whole second. A day is assumed to hold at most one offset change, as in every real zone.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# "localtime" is this server's own zone and "Factory" IANA's "zone unknown": neither is a borrower's
_NOT_A_PLACE = frozenset({"localtime", "Factory"})


def zone_named(name: object) -> ZoneInfo | None:
    """The IANA time zone of that name, or None when there is none."""
    if not isinstance(name, str) or name in _NOT_A_PLACE:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones, like "America"
        return None


def local_day(at: datetime, zone: ZoneInfo) -> date:
    """The borrower's calendar day at instant `at`."""
    return at.astimezone(zone).date()


def wall_clock(at: datetime, zone: ZoneInfo) -> time:
    """What the borrower's clock reads at instant `at`."""
    return at.astimezone(zone).time()


def readings(day: date, clock: time, zone: ZoneInfo) -> list[datetime]:
    """The instants at which the clock on local `day` comes to read `clock`, earliest first.

    One instant normally; two when a fall-back repeats that hour (fold 0, then fold 1); when a
    spring-forward skips it, the instant of the jump, the first at which the clock reads past it.
    """
    wanted = datetime.combine(day, clock)
    found = {instant for fold in (0, 1)
             if _reads(instant := wanted.replace(tzinfo=zone, fold=fold).astimezone(UTC), zone) == wanted}
    if found:
        return sorted(found)
    # in a gap, fold 1 maps with the offset after the jump (an instant before it), fold 0 with the
    # offset before it (an instant after it): the jump lies between the two
    jump = offset_change(wanted.replace(tzinfo=zone, fold=1), wanted.replace(tzinfo=zone, fold=0), zone)
    assert jump is not None, "a local time that does not exist lies in a gap"
    return [jump]


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of local `day` (01:00 where a spring-forward skips midnight)."""
    return readings(day, time(0), zone)[0]


def offset_change(start: datetime, end: datetime, zone: ZoneInfo) -> datetime | None:
    """The instant in (start, end] at which the zone's UTC offset changes, or None if it does not."""
    low, high = int(start.timestamp()), -int(-end.timestamp() // 1)
    before = _offset(low, zone)
    if _offset(high, zone) == before:
        return None
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if _offset(middle, zone) == before else (low, middle)
    return datetime.fromtimestamp(high, UTC)


def next_time_within(at: datetime, start: time, end: time, zone: ZoneInfo) -> datetime:
    """The earliest instant ≥ `at` at which the local clock reads at least `start` and before `end`."""
    if start <= wall_clock(at, zone) < end:
        return at.astimezone(UTC)
    # the clock enters [start, end) where it reaches `start` (or jumps past it), or where a
    # fall-back turns it back below `end`; three days always hold a day without an offset change
    today = local_day(at, zone)
    candidates = [instant for days in range(4) for instant in readings(today + timedelta(days=days), start, zone)]
    change = offset_change(at, at + timedelta(days=3), zone)
    if change is not None:
        candidates.append(change)
    return min(instant for instant in candidates if instant >= at and start <= wall_clock(instant, zone) < end)


def _reads(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def _offset(timestamp: int, zone: ZoneInfo) -> timedelta | None:
    return datetime.fromtimestamp(timestamp, zone).utcoffset()
