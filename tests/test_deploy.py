"""check-deploy: the documented production settings pass, each unsafe one fails naming its
setting; backup: a consistent copy of the live database that restores."""
import secrets
import shutil
import sqlite3
import subprocess

import pytest
import sqlalchemy as sa

from crm import create_app
from crm.deploy import deploy_problems
from crm.extensions import db
from crm.models import Project
from tests.conftest import IN_CI
from tests.live import Gunicorn


@pytest.fixture
def production(monkeypatch, tmp_path):
    """An app configured as the README documents production: CRM_ENV=production, a
    random SECRET_KEY in the environment, the database on a writable path."""
    monkeypatch.setenv("CRM_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", secrets.token_hex(32))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    monkeypatch.delenv("FLASK_DEBUG", raising=False)

    def build(**config):
        return create_app(config)
    return build


def test_the_documented_production_settings_pass(production):
    assert deploy_problems(production()) == []


@pytest.mark.parametrize("config, named", [
    ({"DEBUG": True}, "DEBUG"),
    ({"TESTING": True}, "TESTING"),
    ({"SECRET_KEY": "changeme"}, "SECRET_KEY"),
    ({"SECRET_KEY": "a" * 64}, "SECRET_KEY"),           # long but not random
    ({"SECRET_KEY": secrets.token_hex(8)}, "SECRET_KEY"),   # random but short
    ({"SESSION_COOKIE_SECURE": False}, "SESSION_COOKIE_SECURE"),
    ({"REMEMBER_COOKIE_SECURE": False}, "REMEMBER_COOKIE_SECURE"),
    ({"SESSION_COOKIE_HTTPONLY": False}, "SESSION_COOKIE_HTTPONLY"),
    ({"SESSION_COOKIE_SAMESITE": None}, "SESSION_COOKIE_SAMESITE"),
    ({"WTF_CSRF_ENABLED": False}, "WTF_CSRF_ENABLED"),
    ({"LOGIN_DISABLED": True}, "LOGIN_DISABLED"),
    ({"MAX_CONTENT_LENGTH": None}, "MAX_CONTENT_LENGTH"),
    ({"MAX_CONTENT_LENGTH": 500 * 1024 * 1024}, "MAX_CONTENT_LENGTH"),
    ({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://crm@127.0.0.1/crm",
      "SQLALCHEMY_ENGINE_OPTIONS": {}}, "pool_pre_ping"),
    ({"SQLALCHEMY_DATABASE_URI": "sqlite://"}, "内存"),
])
def test_each_unsafe_setting_is_named(production, config, named):
    problems = deploy_problems(production(**config))
    assert len(problems) == 1 and named in problems[0], problems


def test_development_settings_fail(monkeypatch, tmp_path):
    """Not production, and no SECRET_KEY: each worker would make up its own key."""
    monkeypatch.delenv("CRM_ENV", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr("crm.config.INSTANCE_DIR", tmp_path)
    problems = deploy_problems(create_app())
    assert any("CRM_ENV" in p for p in problems)
    assert any("SECRET_KEY 未设置" in p for p in problems)
    assert any("SESSION_COOKIE_SECURE" in p for p in problems)


def test_the_command_exits_non_zero_naming_the_problem(production):
    runner = production().test_cli_runner()
    result = runner.invoke(args=["check-deploy"])
    assert result.exit_code == 0 and "检查通过" in result.output
    result = production(WTF_CSRF_ENABLED=False).test_cli_runner().invoke(args=["check-deploy"])
    assert result.exit_code == 1 and "WTF_CSRF_ENABLED" in result.output


def test_backup_copies_the_live_database(app, factory, tmp_path):
    """A backup taken while the app has the database open holds every committed row,
    and restores (SQLite: opens and passes integrity_check; PostgreSQL: pg_restore reads
    the archive's table of contents)."""
    factory.project("备份项目甲")
    factory.project("备份项目乙")
    db.session.commit()
    n = db.session.scalar(sa.select(sa.func.count()).select_from(Project))
    result = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "backups")])
    assert result.exit_code == 0, result.output
    [path] = (tmp_path / "backups").iterdir()
    assert str(path) in result.output
    if db.engine.dialect.name == "sqlite":
        copy = sqlite3.connect(path)
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("SELECT count(*) FROM project").fetchone()[0] == n
        names = {r[0] for r in copy.execute("SELECT name FROM project")}
        assert {"备份项目甲", "备份项目乙"} <= names
        copy.close()
    else:
        assert path.read_bytes()[:5] == b"PGDMP"
        pg_restore = shutil.which("pg_restore")
        if pg_restore is None and not IN_CI:
            pytest.skip("pg_restore is not installed")
        listing = subprocess.run([pg_restore, "--list", str(path)], capture_output=True,
                                 text=True, check=True).stdout
        assert "TABLE DATA public project " in listing


def test_make_serve_runs_gunicorn_with_its_settings(database_url, tmp_path):
    """gunicorn.conf.py serves the app (two workers here) on the loopback port BIND
    names; the health check answers."""
    with Gunicorn(database_url, tmp_path / "gunicorn.log", workers=2) as server:
        assert server.healthz() == 200
    assert len(server.booted_workers()) == 2, server.log()
