"""The application's notion of now: timestamps in UTC, business dates in the zone's
local time (Asia/Shanghai). One place, so tests can move the clock.
"""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """Return the current UTC time as a naive datetime (how timestamps are stored)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def today() -> date:
    """Return today's date in the zone's local time."""
    return datetime.now(LOCAL_TZ).date()
