"""Concurrent saves through real requests on separate threads (separate sessions):
exactly one of several saves based on the same version wins; concurrent creations all
get distinct codes. Runs on SQLite (BEGIN IMMEDIATE) and PostgreSQL (row versions)."""
import threading

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Project, StageChange
from tests.conftest import login

N = 6


def _parallel(app, username, make_request):
    """Run ``make_request(client, i)`` on N threads released at once; return statuses.

    Each thread signs in itself, so each request has its own app context and session
    (as under a real server), not the test's.
    """
    barrier = threading.Barrier(N)
    statuses = [None] * N

    def run(i):
        client = app.test_client()
        assert login(client, username).status_code == 302
        barrier.wait()
        statuses[i] = make_request(client, i).status_code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


def _edit_form(factory, project, name):
    return {"name": name, "company_name": "X", "region_ids": [factory.region("上海").id],
            "industry_id": factory.industry("光伏").id, "investment_value": "5",
            "investment_unit": "亿元", "unit_id": factory.unit("光伏产业园").id,
            "officer_id": "0", "version": str(project.version)}


def test_concurrent_edits_one_wins(app, factory, users):
    project = factory.project("并发编辑", by=users["officer"])
    db.session.commit()
    forms = [_edit_form(factory, project, f"名称{i}") for i in range(N)]
    url = f"/projects/{project.id}/edit"
    statuses = _parallel(app, "officer1", lambda c, i: c.post(url, data=forms[i]))
    assert sorted(statuses) == [302] + [409] * (N - 1), statuses
    db.session.rollback()  # end the test's own read snapshot
    saved = db.session.get(Project, project.id)
    assert saved.version == 2
    assert saved.name.startswith("名称")


def test_concurrent_stage_moves_one_wins(app, factory, users):
    project = factory.project("并发推进", by=users["officer"])
    version, url = str(project.version), f"/projects/{project.id}/advance"
    db.session.commit()
    statuses = _parallel(app, "officer1", lambda c, i: c.post(url, data={
            "stage": "signed", "signed_on": f"2024-05-{i + 1:02d}", "version": version}))
    assert sorted(statuses) == [302] + [409] * (N - 1), statuses
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(StageChange)) == 1


def test_concurrent_creations_get_distinct_codes(app, factory, users):
    forms = [{**_edit_form(factory, Project(version=1), f"新项目{i}"), "version": ""}
             for i in range(N)]
    statuses = _parallel(app, "officer1", lambda c, i: c.post("/projects/new", data=forms[i]))
    assert statuses == [302] * N, statuses
    db.session.rollback()
    codes = list(db.session.scalars(select(Project.code)))
    assert len(codes) == N and len(set(codes)) == N


def test_concurrent_visits_complete_the_same_follow_up(app, factory, users):
    """Visits to one company logged at once all save, though each completes the unit's
    open follow-up with it (an edit of that earlier visit, not a conflict)."""
    from datetime import date

    from crm.models import Visit
    from crm.visits.services import VisitData, log_visit
    earlier = log_visit(VisitData(visited_on=date(2024, 5, 6), kind="visit",
                                  company_name="并发客商", follow_up_on=date(2024, 6, 1)),
                        users["officer"])
    db.session.commit()
    earlier_id = earlier.id
    statuses = _parallel(app, "officer1", lambda c, i: c.post("/visits/new", data={
        "visited_on": "2024-05-20", "kind": "visit", "company_name": "并发客商",
        "purpose": f"第{i}次", "idempotency_key": f"{i:032x}"}))
    assert statuses == [302] * N, statuses
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Visit)) == N + 1
    assert db.session.get(Visit, earlier_id).follow_up_done_on == date(2024, 5, 20)
