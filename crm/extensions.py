"""Flask extensions, created unbound and initialised in create_app.

Also holds the SQLite connection settings: foreign keys, WAL, busy timeout and
write transactions that begin immediately (DESIGN.md §4).
"""
import sqlite3

import click

from flask import has_request_context, request
from flask_babel import Babel, lazy_gettext
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = lazy_gettext("请先登录")
login_manager.login_message_category = "info"
csrf = CSRFProtect()
babel = Babel()


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_conn, _record):
    """Configure every new SQLite connection; other databases are left alone."""
    if not isinstance(dbapi_conn, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite otherwise defers it).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn):
    """Start SQLite transactions; writers take the write lock at BEGIN.

    A deferred transaction that reads and then writes can lose an update or fail with
    "database is locked" when another writer got in between; BEGIN IMMEDIATE queues
    writers behind the busy timeout instead. Writers are requests with an unsafe method
    and CLI commands; safe (GET/HEAD) requests never write and keep a deferred BEGIN so
    they do not queue behind writers, as does code outside both (tests, the benchmark).
    """
    if conn.dialect.name != "sqlite":
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if _is_writer() else "BEGIN")


def _is_writer() -> bool:
    if has_request_context():
        return request.method not in ("GET", "HEAD", "OPTIONS")
    return click.get_current_context(silent=True) is not None
