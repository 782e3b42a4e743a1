"""The application's notion of now: timestamps in UTC, business dates in the zone's
local time (Asia/Shanghai). One place, so tests can move the clock.
"""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """Return the current UTC time as a naive datetime (how timestamps are stored)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def local_date(stamp: datetime) -> date:
    """The zone's calendar day of a stored (naive UTC) timestamp."""
    return stamp.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ).date()


def today() -> date:
    """Return today's date in the zone's local time."""
    return datetime.now(LOCAL_TZ).date()
