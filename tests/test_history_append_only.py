"""The business change history (field changes and stage moves) cannot be edited or
deleted through the app: the ORM and Core guards refuse it, a correction adds a row
rather than rewriting one, and no request of any route alters an existing row."""
import pytest
from sqlalchemy import delete, select, update

from crm.extensions import db
from crm.history import HistoryIsAppendOnly
from crm.models import Change, Project, StageChange
from tests.conftest import login
from tests.test_policy import _routes, _url, world  # noqa: F401  (world: a fixture)


def _history():
    db.session.rollback()
    rows = []
    for model in (Change, StageChange):
        table = model.__table__
        rows += [(table.name, *r) for r in db.session.execute(
            select(table).order_by(table.c.id)).all()]
    db.session.rollback()
    return rows


def test_the_orm_and_core_refuse_to_edit_or_delete_history(app, factory, users):
    project = factory.project("历史项目", by=users["officer"])
    change = Change(entity="project", entity_id=project.id, project_id=project.id,
                    field="name", old_value="甲", new_value="乙")
    db.session.add(change)
    db.session.commit()
    before = _history()
    stage_change = StageChange(project_id=project.id, from_stage="lead", to_stage="signed")
    db.session.add(stage_change)
    db.session.flush()                  # adding is allowed
    db.session.rollback()
    attempts = [
        lambda: setattr(db.session.get(Change, change.id), "new_value", "丙"),
        lambda: db.session.delete(db.session.get(Change, change.id)),
        lambda: db.session.execute(update(Change).values(new_value="丙")),
        lambda: db.session.execute(delete(StageChange)),
        lambda: db.session.execute(update(StageChange.__table__).values(note="改")),
    ]
    for attempt in attempts:
        with pytest.raises(HistoryIsAppendOnly):
            attempt()
            db.session.flush()
        db.session.rollback()
    assert _history() == before


def test_no_request_alters_existing_history(app, users, world):  # noqa: F811
    admin = app.test_client()
    assert login(admin, users["admin"].username).status_code == 302
    project = db.session.get(Project, world["project_id"])
    # A correction moves the project back by adding a row; the signing stays recorded.
    response = admin.post(f"/projects/{project.id}/correct", data={
        "stage": "lead", "reason": "签约日期录错", "version": str(project.version)})
    assert response.status_code == 302
    before = _history()
    moves = [r for r in before if r[0] == "stage_change"]
    assert [(m[5], m[6], m[-1]) for m in moves] == [("lead", "signed", False),
                                                    ("signed", "lead", True)]
    # Every POST route, with fields named like the history's columns: old rows stay.
    probe = {"id": str(before[0][1]), "field": "name", "old_value": "x", "new_value": "y",
             "from_stage": "signed", "to_stage": "lead", "note": "改写", "reason": "x",
             "correction": "1", "source": "x"}
    for rule, method in _routes(app):
        if method == "POST" and rule.endpoint != "auth.logout":
            admin.post(_url(app, rule, world), data=probe)
    assert set(before) <= set(_history())
