"""Flask extensions, created unbound and initialised in create_app.

Also holds the SQLite connection settings: foreign keys, WAL, busy timeout and
write transactions that begin immediately (DESIGN.md §4).
"""
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import islice

import click

from flask import g, has_request_context, request
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

# How long a write waits for another's lock before the user gets "系统繁忙" (503).
LOCK_WAIT_MS = 10_000


def is_busy(error: Exception) -> bool:
    """True when a database error means "another writer holds the lock; try again":
    SQLite's "database is locked" after the busy timeout, PostgreSQL's lock_timeout
    (55P03) or a serialization failure or deadlock (40001, 40P01)."""
    orig = getattr(error, "orig", error)
    if isinstance(orig, sqlite3.OperationalError):
        return "locked" in str(orig) or "busy" in str(orig)
    return getattr(orig, "sqlstate", None) in ("55P03", "40001", "40P01")


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
    cur.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


@event.listens_for(Engine, "connect")
def _postgresql_on_connect(dbapi_conn, _record):
    """A PostgreSQL write waits for a row lock at most LOCK_WAIT_MS, like SQLite's busy
    timeout, instead of holding a worker indefinitely."""
    if type(dbapi_conn).__module__.split(".")[0] != "psycopg":
        return
    autocommit = dbapi_conn.autocommit
    dbapi_conn.autocommit = True  # a session setting, outside any transaction
    dbapi_conn.execute(f"SET lock_timeout = {LOCK_WAIT_MS}")
    dbapi_conn.autocommit = autocommit


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn):
    """Start SQLite transactions; writers take the write lock at BEGIN.

    A deferred transaction that reads and then writes can lose an update or fail with
    "database is locked" when another writer got in between; BEGIN IMMEDIATE queues
    writers behind the busy timeout instead. Writers are requests with an unsafe method
    and CLI commands; safe (GET/HEAD) requests never write and keep a deferred BEGIN so
    they do not queue behind writers, as does code outside both (tests, the benchmark)
    unless it says it writes (``writing()``: a background import). A request that has
    given up writing (``g.reads_only``: the "系统繁忙" page) reads.
    """
    if conn.dialect.name != "sqlite":
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if _is_writer() else "BEGIN")


_writing: ContextVar[bool] = ContextVar("db_writing", default=False)


@contextmanager
def writing() -> Iterator[None]:
    """A transaction begun inside the block is a writer's (SQLite: BEGIN IMMEDIATE), for
    code outside a request or command that reads and then writes (a background job)."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def _is_writer() -> bool:
    if _writing.get():
        return True
    if has_request_context():
        return request.method not in ("GET", "HEAD", "OPTIONS") and not g.get("reads_only")
    return click.get_current_context(silent=True) is not None


def driver_executemany(conn, stmt, columns: tuple[str, ...], rows: Iterable[tuple],
                       chunk: int = 5000) -> None:
    """Run ``stmt`` (an INSERT, or an upsert) once per row of ``rows`` (each a tuple of
    the values of ``columns``) in executemany calls of ``chunk`` rows that the database
    driver binds itself: SQLAlchemy's own per-row parameter processing costs about
    10 µs a row, which a bulk import's 300,000 rows (search tokens, dashboard cells)
    notice. For values each driver binds natively (int, str, None). ``rows`` may be a
    generator: only a chunk of them is held at a time."""
    rows = iter(rows)
    sql, order = None, None
    while batch := list(islice(rows, chunk)):
        if sql is None:
            compiled = stmt.compile(dialect=conn.dialect, column_keys=list(columns))
            sql = str(compiled)
            if compiled.positional:
                order = [columns.index(key) for key in compiled.positiontup]
                if order == list(range(len(columns))):
                    order = None        # already in the driver's order
        if not compiled.positional:
            params = [dict(zip(columns, row)) for row in batch]
        else:
            params = batch if order is None else [tuple(row[i] for i in order)
                                                  for row in batch]
        conn.exec_driver_sql(sql, params)
