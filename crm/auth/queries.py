"""Queries about users."""
from sqlalchemy import select

from crm.extensions import db
from crm.models import User


def user_choices() -> list[tuple[int, str]]:
    """Active users as (id, name) for pickers: a city has thousands, a picker needs two
    columns, not full rows."""
    return [tuple(r) for r in db.session.execute(
        select(User.id, User.display_name).where(User.active.is_(True))
        .order_by(User.display_name))]
