"""Shared fixtures: an app on a fresh, migrated database per test, clients signed in
as each role, and factories for users and projects.

The database is SQLite by default; set TEST_DATABASE_URL to a PostgreSQL server's
maintenance database (``postgresql+psycopg://user@127.0.0.1:5432/postgres``) to run
the same suite on PostgreSQL. Migrations run once into a template; each test gets a
copy of it (a file copy on SQLite, CREATE DATABASE … TEMPLATE on PostgreSQL).
"""
import itertools
import os
import shutil
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade

from crm import create_app
from crm.extensions import db

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PASSWORD = "test-password-123"

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "WTF_CSRF_ENABLED": False,
    "SERVER_NAME": None,
}


def _pg_admin_engine():
    return sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _pg_url(dbname: str) -> str:
    return sa.make_url(PG_URL).set(database=dbname).render_as_string(hide_password=False)


def migrate_database(url: str) -> None:
    """Run every migration against ``url``."""
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    """Hash test passwords with few rounds: scrypt's deliberate cost (≈ 0.1 s per hash)
    would dominate the suite. Verification still runs the real code path."""
    from functools import partial

    from werkzeug.security import generate_password_hash

    import crm.models
    monkeypatch.setattr(crm.models, "generate_password_hash",
                        partial(generate_password_hash, method="pbkdf2:sha256:1000"))


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """A migrated database that each test copies."""
    if PG_URL:
        name = f"crm_tmpl_{uuid.uuid4().hex[:10]}"
        engine = _pg_admin_engine()
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        migrate_database(_pg_url(name))
        yield name
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        migrate_database(f"sqlite:///{path}")
        yield path


_counter = itertools.count()


@pytest.fixture
def database_url(template_db, tmp_path):
    """A fresh copy of the migrated database for one test."""
    if PG_URL:
        name = f"crm_test_{os.getpid()}_{next(_counter)}"
        engine = _pg_admin_engine()
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        yield _pg_url(name)
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()
    else:
        path = tmp_path / "test.sqlite3"
        shutil.copy(template_db, path)
        yield f"sqlite:///{path}"


class FreshContextClient(FlaskClient):
    """A test client whose every request gets its own app context, as in production.

    The ``app`` fixture keeps an app context pushed for the whole test, and a request
    would otherwise reuse it: ``g`` (Flask-Login's user, Flask-Babel's locale) and the
    database session would carry over from one request to the next and into the test.
    Around each request the test's own session ends its transaction, so the test holds
    no lock or stale snapshot and afterwards reads what the request committed.
    """

    def open(self, *args, **kwargs):
        self._end_test_transaction()
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        self._end_test_transaction()
        return response

    @staticmethod
    def _end_test_transaction():
        if has_app_context():
            db.session.rollback()


@pytest.fixture
def make_app(database_url):
    """Build an app on this test's database with extra config."""
    apps = []

    def build(**config):
        app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, **config})
        app.test_client_class = FreshContextClient
        apps.append(app)
        return app

    yield build
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    """The app with CSRF off (CSRF has its own tests), inside an app context."""
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    """A test client that is not signed in."""
    return app.test_client()


def statement_count(client, url):
    """How many SQL statements one GET of ``url`` runs (query budgets: the count must
    not grow with the number of rows)."""
    seen = []

    def count(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def login(client, username, password=PASSWORD):
    """Sign ``client`` in and return the response."""
    return client.post("/login", data={"username": username, "password": password})


@pytest.fixture
def factory(app):
    """Create users and projects through the services, committed."""
    from crm.auth.services import create_user
    from crm.models import Industry, Region, Unit
    from crm.projects.services import ProjectData, create_project

    class Factory:
        def unit(self, name):
            return db.session.scalar(sa.select(Unit).where(Unit.name == name))

        def region(self, name):
            return db.session.scalar(sa.select(Region).where(Region.name == name))

        def industry(self, name):
            return db.session.scalar(sa.select(Industry).where(Industry.name == name))

        def user(self, username, role="officer", unit="光伏产业园"):
            user = create_user(username, username, role, PASSWORD,
                               self.unit(unit) if unit else None)
            db.session.commit()
            return user

        def project(self, name="测试项目", unit="光伏产业园", by=None, signing_ready=True, **kw):
            data = ProjectData(name=name, unit_id=self.unit(unit).id if unit else None)
            if signing_ready:
                data.company_name = kw.pop("company_name", f"{name}投资方")
                data.region_ids = [self.region(r).id for r in kw.pop("regions", ["上海"])]
                data.industry_id = self.industry(kw.pop("industry", "光伏")).id
                data.investment_amount = kw.pop("investment_amount", Decimal("50000"))
            for key, value in kw.items():
                setattr(data, key, value)
            project = create_project(data, by)
            db.session.commit()
            return project

    return Factory()


@pytest.fixture
def users(factory):
    """One user of each role: admin, leader, officer (光伏产业园), other officer (区中韩办)."""
    return {
        "admin": factory.user("admin1", "admin", None),
        "leader": factory.user("leader1", "leader", None),
        "officer": factory.user("officer1", "officer", "光伏产业园"),
        "other": factory.user("officer2", "officer", "区中韩办"),
    }


@pytest.fixture
def as_role(app, users):
    """Return a client signed in as the given role name."""
    def make(role):
        c = app.test_client()
        response = login(c, users[role].username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return c
    return make
