"""The change history: one row per changed field of any record (field, old → new, who,
when). Services write it in the same transaction as the change; nothing edits it.

The history tables (this one and the stage moves) are append-only: any attempt of the
app to update or delete their rows, through the ORM or a Core statement, raises
HistoryIsAppendOnly before it reaches the database (a project's own deletion by the
database's cascade aside; no page deletes a project).
"""
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Delete, Select, Update, event, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, joinedload

from crm.extensions import db
from crm.models import Change, StageChange, User

APPEND_ONLY = (Change, StageChange)
_APPEND_ONLY_TABLES = frozenset(m.__table__.name for m in APPEND_ONLY)


class HistoryIsAppendOnly(RuntimeError):
    """Raised when code tries to edit or delete a history row."""


@event.listens_for(Session, "before_flush")
def _no_history_edits(session, _context, _instances):
    for obj in session.deleted:
        if isinstance(obj, APPEND_ONLY):
            raise HistoryIsAppendOnly(f"history rows cannot be deleted: {obj!r}")
    for obj in session.dirty:
        if isinstance(obj, APPEND_ONLY) and session.is_modified(obj):
            raise HistoryIsAppendOnly(f"history rows cannot be edited: {obj!r}")


@event.listens_for(Engine, "before_execute")
def _no_history_statements(_conn, clause, _multiparams, _params, _options):
    if isinstance(clause, (Update, Delete)) and clause.table.name in _APPEND_ONLY_TABLES:
        raise HistoryIsAppendOnly(f"history rows cannot be changed: {clause}")

# The source of the changes being recorded (an import names its file), when not a page.
_source: ContextVar[str] = ContextVar("change_source", default="")


@contextmanager
def change_source(source: str) -> Iterator[None]:
    """Record every change made inside the block with ``source`` (e.g. an import)."""
    token = _source.set(source[:120])
    try:
        yield
    finally:
        _source.reset(token)


def record_change(entity: str, entity_id: int, field: str, old: str, new: str,
                  user: User | None, project_id: int | None = None) -> None:
    """Add one history row (flushed with the change it describes)."""
    db.session.add(Change(entity=entity, entity_id=entity_id, project_id=project_id,
                          field=field, old_value=old, new_value=new,
                          user_id=user.id if user else None, source=_source.get()))


def record_many(entity: str, field: str, changes: list[tuple[int, str, str, int | None]],
                user: User | None) -> None:
    """Record one field's change of many records in bulk inserts: (entity id, old, new,
    project id) each (a bulk create; record_change is the one-at-a-time way)."""
    rows = [{"entity": entity, "entity_id": entity_id, "project_id": project_id,
             "field": field, "old_value": old, "new_value": new,
             "user_id": user.id if user else None, "source": _source.get()}
            for entity_id, old, new, project_id in changes]
    for i in range(0, len(rows), 5000):
        db.session.execute(insert(Change.__table__), rows[i:i + 5000])


def record_diff(entity: str, entity_id: int, before: dict[str, str], after: dict[str, str],
                user: User | None, project_id: int | None = None) -> list[str]:
    """Record every field whose display text differs; return the changed field names."""
    changed = [k for k in after if after[k] != before.get(k, "")]
    for k in changed:
        record_change(entity, entity_id, k, before.get(k, ""), after[k], user, project_id)
    return changed


def entity_history_stmt(entity: str, entity_id: int, limit: int = 200) -> Select:
    """A record's history, newest first."""
    return (select(Change).where(Change.entity == entity, Change.entity_id == entity_id)
            .options(joinedload(Change.user))
            .order_by(Change.changed_at.desc(), Change.id.desc()).limit(limit))
