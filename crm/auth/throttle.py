"""The sign-in throttle (OWASP ASVS 6.1.1, 6.3.1): failed attempts are counted per
account name *and* address, so guessing one account's password is slowed without
locking out an office whose people share one NAT address; an address failing on many
accounts is slowed too. Failures are rows in the database, shared by every worker.

Limits (documented in the README): 5 failures of one account from one address within
15 minutes lock that pair until the oldest of them is 15 minutes old; 50 failures from
one address (any accounts) lock the address the same way. A successful sign-in clears
the account's failures from that address."""
from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import delete, func, select

from crm.clock import utcnow
from crm.extensions import db
from crm.models import LoginFailure

WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 5       # failures of one account name from one address
ADDRESS_LIMIT = 50      # failures from one address, whatever the account


def account_key(username: str) -> str:
    """The account name as counted: trimmed, case-folded, at most the column's 50."""
    return (username or "").strip().casefold()[:50]


def locked_minutes(username: str, address: str) -> int:
    """Minutes until this account may be tried again from ``address`` (0: now)."""
    since = utcnow() - WINDOW
    waits = []
    for limit, where in (
            (ACCOUNT_LIMIT, (LoginFailure.username_key == account_key(username),
                             LoginFailure.address == address)),
            (ADDRESS_LIMIT, (LoginFailure.address == address,))):
        times = db.session.scalars(
            select(LoginFailure.failed_at).where(*where, LoginFailure.failed_at > since)
            .order_by(LoginFailure.failed_at.desc()).limit(limit)).all()
        if len(times) >= limit:
            waits.append(times[-1] + WINDOW - utcnow())
    if not waits:
        return 0
    return max(1, math.ceil(max(waits).total_seconds() / 60))


def record_failure(username: str, address: str) -> None:
    """Count a failed attempt (and forget those older than the window)."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.failed_at < utcnow() - WINDOW))
    db.session.add(LoginFailure(username_key=account_key(username), address=address))


def clear_failures(username: str, address: str) -> None:
    """A successful sign-in: this account's failures from this address are forgotten."""
    db.session.execute(delete(LoginFailure).where(
        LoginFailure.username_key == account_key(username), LoginFailure.address == address))


def failures(username: str, address: str) -> int:
    """Failures of this account from this address within the window."""
    return db.session.scalar(select(func.count()).select_from(LoginFailure).where(
        LoginFailure.username_key == account_key(username), LoginFailure.address == address,
        LoginFailure.failed_at > utcnow() - WINDOW))
