"""A write that finds another process holding the database lock waits the lock timeout,
then gets a friendly "系统繁忙" page (503, Retry-After) with nothing saved; reads are
still served meanwhile. SQLite: another connection holds the write lock (BEGIN
IMMEDIATE); PostgreSQL: another connection holds the project's row lock."""
import sqlite3

import psycopg
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

import crm.extensions
from crm.extensions import db, is_busy
from crm.models import Project
from tests.conftest import login
from tests.test_concurrency import _edit_form


def _hold_lock(database_url, project_id):
    """Open a second connection (another process, as far as the app can tell) that
    holds the lock a save of the project needs; return it, still holding."""
    url = sa.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")  # the write lock; readers carry on
    else:
        conn = psycopg.connect(url.set(drivername="postgresql").render_as_string(False))
        conn.execute("SELECT id FROM project WHERE id = %s FOR UPDATE", (project_id,))
    return conn


def test_a_write_blocked_by_another_process_gets_system_busy(
        make_app, database_url, monkeypatch, users, factory):
    monkeypatch.setattr(crm.extensions, "LOCK_WAIT_MS", 300)
    app = make_app()
    with app.app_context():
        project = factory.project("锁等待项目", by=users["officer"])
        form = _edit_form(factory, project, "改名")
        project_id = project.id
        db.session.commit()
        db.engine.dispose()  # new connections take the short lock wait
        client = app.test_client()
        assert login(client, "officer1").status_code == 302
        holder = _hold_lock(database_url, project_id)
        try:
            response = client.post(f"/projects/{project_id}/edit", data=form)
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "5"
            body = response.get_data(as_text=True)
            assert "系统繁忙" in body and "没有保存" in body and "请求编号" in body
            assert "Traceback" not in body and "locked" not in body
            # Reads are served while the lock is held.
            page = client.get(f"/projects/{project_id}")
            assert page.status_code == 200 and "锁等待项目" in page.get_data(as_text=True)
        finally:
            holder.rollback()
            holder.close()
        db.session.rollback()
        assert db.session.get(Project, project_id).name == "锁等待项目"
        # The lock released, the same save goes through.
        assert client.post(f"/projects/{project_id}/edit", data=form).status_code == 302
        db.session.rollback()
        assert db.session.get(Project, project_id).name == "改名"


def test_only_lock_errors_count_as_busy():
    locked = OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))
    other = OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))
    assert is_busy(locked) and not is_busy(other)
