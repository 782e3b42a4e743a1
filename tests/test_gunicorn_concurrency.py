"""Concurrent saves through the production server: gunicorn (gunicorn.conf.py, two sync
workers, CRM_ENV=production) on a loopback port, each client a browser of its own (its
cookies, the CSRF token from the page) behind the HTTPS proxy. Several saves of one
project based on the same version: exactly one wins, the others are refused (409);
concurrent stage moves: exactly one happens. Both workers serve. SQLite and PostgreSQL."""
import threading

import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Project, StageChange
from tests.conftest import PASSWORD
from tests.live import Client, Gunicorn

N_SAVES = 8
N_MOVES = 10


@pytest.fixture
def server(database_url, tmp_path):
    """gunicorn with two workers on this test's database; stopped in any case."""
    server = Gunicorn(database_url, tmp_path / "gunicorn.log", workers=2)
    with server:
        yield server


def _at_once(server, n, prepare, send):
    """``n`` browsers, each signed in as officer1 from its own address, ``prepare`` a
    form (GET), then all ``send`` it at the same moment; return the responses."""
    barrier = threading.Barrier(n, timeout=60)
    responses, failures = [None] * n, []

    def run(i):
        try:
            client = Client(server.url, address=f"10.0.1.{i + 1}")
            assert client.login("officer1", PASSWORD).status == 302
            form = prepare(client, i)
            barrier.wait()
            responses[i] = send(client, form)
        except Exception as exc:  # reported below, with the thread's number
            failures.append((i, repr(exc)))
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not failures, failures
    return responses


def _both_workers_served(server, responses):
    """Every answer was logged with the worker that gave it; both workers answered."""
    served = server.served_by([r.request_id for r in responses])
    workers = set(server.booted_workers())
    assert len(workers) == 2, server.log()
    assert {served[r.request_id] for r in responses} <= workers
    assert set(served.values()) == workers, served


def test_concurrent_saves_of_one_version_one_wins(server, factory, users):
    project = factory.project("并发保存", by=users["officer"])
    project_id, url = project.id, f"/projects/{project.id}/edit"
    db.session.rollback()  # the test holds no transaction while the server writes

    def prepare(client, i):
        _page, form = client.form(url, having="version")
        return form.set("name", f"并发保存{i}")

    responses = _at_once(server, N_SAVES, prepare, lambda c, form: c.submit(form))
    statuses = sorted(r.status for r in responses)
    assert statuses == [302] + [409] * (N_SAVES - 1), statuses
    assert all("已被他人修改" in r.text for r in responses if r.status == 409)
    winner = next(r for r in responses if r.status == 302)
    assert winner.location.endswith(f"/projects/{project_id}")
    saved = db.session.get(Project, project_id)
    assert saved.version == 2 and saved.name.startswith("并发保存") and saved.name != "并发保存"
    _both_workers_served(server, responses)


def test_concurrent_stage_moves_one_happens(server, factory, users):
    project = factory.project("并发推进", by=users["officer"])
    project_id, url = project.id, f"/projects/{project.id}/advance?stage=signed"
    db.session.rollback()

    def prepare(client, i):
        _page, form = client.form(url, having="version")
        return form.set("stage", "signed").set("signed_on", f"2024-05-{i + 1:02d}")

    responses = _at_once(server, N_MOVES, prepare, lambda c, form: c.submit(form))
    statuses = sorted(r.status for r in responses)
    assert statuses == [302] + [409] * (N_MOVES - 1), statuses
    moves = db.session.scalars(select(StageChange).where(
        StageChange.project_id == project_id)).all()
    assert len(moves) == 1 and moves[0].to_stage == "signed"
    assert db.session.get(Project, project_id).stage == "signed"
    assert db.session.scalar(select(func.count()).select_from(StageChange)) == 1
    _both_workers_served(server, responses)
