"""`make stress` (``python -m tests.stress``): the production server — gunicorn with
gunicorn.conf.py, CRM_ENV=production, behind a simulated HTTPS proxy — under load and
under failure, on a fresh SQLite database in a temporary directory; and again on a fresh
PostgreSQL database when DATABASE_URL names a PostgreSQL server (the database
``crm_stress_<pid>`` is created next to the one named, and dropped afterwards):

1. load: 50 users (threads, each its own cookies) sign in once as officers or the leader
   and for 60 s read the project list, pages, search, dashboard and board, edit projects
   and log visits; some visit forms are sent twice (one after the other, both at once, or
   again after the first answer was lost). No 5xx (系统繁忙 included), no "database is
   locked" in answers or log, every acknowledged visit stored exactly once.
2. kill -9 of the worker writing a 20,000-row ledger import: nothing written, the job
   shown failed, the server answering again within 5 s.
3. the same, the worker killed by gunicorn's timeout (see ``timeout_kills_an_import``).
4. a save while another process holds the write lock: the 系统繁忙 page (503), while
   pages are still read.

Prints a table; exits 1 when a check failed (its logs are then kept). STRESS_SECONDS and
STRESS_USERS change the load (defaults 60 and 50).
"""
from __future__ import annotations

import hashlib
import http.client
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from tests.live import ROOT, Client, Gunicorn, encode, multipart

SECONDS = float(os.environ.get("STRESS_SECONDS", "60"))
USERS = int(os.environ.get("STRESS_USERS", "50"))
IMPORT_ROWS = 20_000
PASSWORD = "zhaoshang2026"                      # the demo accounts' (crm/demo.py)
OFFICERS = ("zhangsan", "lisi", "wangwu", "zhaoliu")
ACCOUNTS = OFFICERS * 2 + ("leader",)           # 8 of 9 users are officers
EXTRA_PROJECTS_PER_UNIT = 40
THINK_SECONDS = 0.3                             # a user's pause between two clicks, at most
SHORT_TIMEOUT = 4                               # scenario 3's gunicorn TIMEOUT
BACK_WITHIN = 5.0                               # seconds to serve again after a worker died
SEARCH_WORDS = ("光伏", "电池", "SK", "压测", "汽车", "恒源", "新材料")


# ---------------------------------------------------------------------------- results

@dataclass
class Scenario:
    """What one scenario sent and got, and its checks."""

    name: str
    latencies: list[float] = field(default_factory=list)
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    conflicts: int = 0
    acked: int | None = None
    stored: int | None = None
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, what: str, r, expected=(200,)) -> None:
        """Count an answer; a 5xx, an unexpected status or a lock error is an error."""
        with self._lock:
            self.requests += 1
            self.latencies.append(r.seconds)
            self.by_kind.setdefault(what, []).append(r.seconds)
            problem = None
            if r.status >= 500:
                problem = f"{what}: {r.status}" + (" 系统繁忙" if "系统繁忙" in r.text else "")
            elif r.status not in expected:
                problem = f"{what}: unexpected {r.status}"
            elif "database is locked" in r.text:
                problem = f"{what}: 'database is locked' in the page"
            if problem:
                self.errors.append(f"{problem} (request {r.request_id})")

    def failed(self, what: str, exc: BaseException) -> None:
        """Count a request that got no answer."""
        with self._lock:
            self.requests += 1
            self.errors.append(f"{what}: {exc!r}")

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append((name, bool(ok), detail))
        return bool(ok)

    @property
    def ok(self) -> bool:
        return not self.errors and all(ok for _n, ok, _d in self.checks)

    def percentile(self, q: float, values: list[float] | None = None) -> float | None:
        """The ``q`` quantile of the answers' latencies (of ``values``), in ms."""
        values = sorted(self.latencies if values is None else values)
        if not values:
            return None
        return values[min(len(values) - 1, int(q * len(values)))] * 1000

    def kinds(self) -> str:
        """Each kind of request: how many, p50/p95 ms."""
        return "; ".join(
            f"{kind} {len(v)}× {self.percentile(0.5, v):.0f}/{self.percentile(0.95, v):.0f}"
            for kind, v in sorted(self.by_kind.items(), key=lambda kv: -len(kv[1])))


# ---------------------------------------------------------------------------- database

class Database:
    """The database under test as the harness sees it: setup, fingerprints, locks."""

    def __init__(self, url: str):
        self.url = url
        self.sa_url = sa.make_url(url)
        self.is_sqlite = self.sa_url.get_backend_name() == "sqlite"
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    def prepare(self) -> None:
        """Migrate (``flask db upgrade``, as ``make serve`` does), load the demo zone and
        add projects so that the officers' edits spread over more than a few."""
        env = {**os.environ, "DATABASE_URL": self.url, "CRM_ENV": "development"}
        env.pop("SECRET_KEY", None)
        for args in (["db", "upgrade"], ["demo", "load"]):
            subprocess.run([str(Path(sys.executable).parent / "flask"), "--app", "wsgi", *args],
                           cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
        from crm import create_app
        from crm.extensions import db
        from crm.models import Industry, Region, Unit, User
        from crm.projects.services import ProjectData, create_project
        app = create_app({"SQLALCHEMY_DATABASE_URI": self.url, "SECRET_KEY": "stress-setup"})
        rng = random.Random(7)
        with app.app_context():
            regions = db.session.scalars(sa.select(Region.id)).all()
            industries = db.session.scalars(sa.select(Industry.id)).all()
            for officer in db.session.scalars(sa.select(User).where(
                    User.username.in_(OFFICERS))):
                unit = db.session.get(Unit, officer.unit_id)
                for k in range(EXTRA_PROJECTS_PER_UNIT):
                    create_project(ProjectData(
                        name=f"压测项目{unit.name}{k:03d}", company_name=f"压测投资方{k % 13}",
                        region_ids=[rng.choice(regions)], industry_id=rng.choice(industries),
                        investment_amount=Decimal(rng.randrange(1000, 500000)),
                        unit_id=unit.id, officer_id=officer.id), officer)
            db.session.commit()
            db.engine.dispose()

    def rows(self, sql: str, **params) -> list:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).all()

    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def world(self) -> dict:
        """Who is in which unit, and each unit's projects (for the users' edits)."""
        units = dict(self.rows('SELECT username, unit_id FROM "user"'))
        by_unit: dict[int, list[int]] = {}
        for pid, unit in self.rows("SELECT id, unit_id FROM project WHERE status = 'active'"):
            by_unit.setdefault(unit, []).append(pid)
        return {"unit_of": units, "projects_of_unit": by_unit,
                "projects": sorted(p for ps in by_unit.values() for p in ps)}

    def fingerprint(self) -> dict:
        """Row counts of what an import writes, and a checksum of the project table and
        the dashboard's running totals."""
        out = {}
        for table in ("project", "company", "project_region", "project_token", "change_log",
                      "stage_change", "coordination_issue", "pipeline_cell"):
            out[f"{table} rows"] = self.scalar(f'SELECT count(*) FROM "{table}"')
        for table in ("project", "pipeline_cell"):
            digest = hashlib.sha256()
            for row in sorted(repr(tuple(r)) for r in self.rows(f'SELECT * FROM "{table}"')):
                digest.update(row.encode())
            out[f"{table} checksum"] = digest.hexdigest()[:16]
        return out

    def integrity(self) -> str:
        """SQLite's integrity_check ("ok"); PostgreSQL keeps its own (n/a)."""
        if not self.is_sqlite:
            return "n/a"
        conn = sqlite3.connect(self.sa_url.database)
        try:
            return conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()

    def job(self, job_id: int) -> tuple[str, str]:
        """An import job's stored state and worker (host:pid)."""
        return tuple(self.rows("SELECT state, worker FROM import_job WHERE id = :id",
                               id=job_id)[0])

    def visits_by_key(self) -> dict[str, int]:
        return dict(self.rows("SELECT idempotency_key, count(*) FROM visit "
                              "WHERE idempotency_key IS NOT NULL GROUP BY idempotency_key"))

    def import_writing(self) -> str | None:
        """What shows that an import's write transaction is open, None if nothing does.
        SQLite: another connection holds the write lock; PostgreSQL: another session
        holds the project table's row-exclusive lock (it inserts projects)."""
        if self.is_sqlite:
            conn = sqlite3.connect(self.sa_url.database, timeout=0, isolation_level=None)
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
                return None
            except sqlite3.OperationalError as exc:
                return f"write lock held ({exc})"
            finally:
                conn.close()
        held = self.scalar(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'project' AND l.mode = 'RowExclusiveLock' AND l.granted "
            "AND l.pid <> pg_backend_pid()")
        return "projects being inserted (RowExclusiveLock on project)" if held else None

    def hold_write_lock(self, project_id: int):
        """Another process's transaction holding what a save of the project needs."""
        if self.is_sqlite:
            conn = sqlite3.connect(self.sa_url.database, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            return conn
        import psycopg
        conn = psycopg.connect(self.sa_url.set(drivername="postgresql")
                               .render_as_string(hide_password=False))
        conn.execute("SELECT id FROM project WHERE id = %s FOR UPDATE", (project_id,))
        return conn

    def dispose(self) -> None:
        self.engine.dispose()


# ---------------------------------------------------------------------------- the users

class Load:
    """Scenario 1's shared state: the result, the world, the visit keys answered."""

    def __init__(self, scenario: Scenario, world: dict, deadline: float):
        self.scenario, self.world, self.deadline = scenario, world, deadline
        self.acked: dict[str, int] = {}         # idempotency key → visit id answered
        self.sent: set[str] = set()
        self.lock = threading.Lock()

    def acknowledge(self, key: str, r) -> None:
        m = re.search(r"/visits/(\d+)$", r.location)
        if r.status != 302 or not m:
            return
        with self.lock:
            before = self.acked.setdefault(key, int(m.group(1)))
        if before != int(m.group(1)):
            self.scenario.errors.append(f"visit key {key}: answered visits {before} and "
                                        f"{m.group(1)}")


def simulated_user(i: int, url: str, load: Load) -> None:
    """One user: sign in once, then click until the deadline."""
    s, rng, account = load.scenario, random.Random(1000 + i), ACCOUNTS[i % len(ACCOUNTS)]
    client = Client(url, address=f"10.20.{i // 200}.{i % 200 + 1}")
    try:
        r = client.login(account, PASSWORD)
        s.record("login", r, (302,))
        if r.status != 302:
            return
    except (OSError, http.client.HTTPException, AssertionError) as exc:
        s.failed("login", exc)
        return
    world = load.world
    unit = world["unit_of"][account]
    own = world["projects_of_unit"].get(unit, [])
    reads = [(read_list, 20), (read_detail, 20), (read_search, 10), (read_page, 25)]
    writes = [(edit_project, 12), (log_visit, 18)] if account in OFFICERS and own else []
    actions, weights = zip(*(reads + writes))
    while time.monotonic() < load.deadline:
        action = rng.choices(actions, weights)[0]
        try:
            action(client, rng, load, own, unit)
        except (OSError, http.client.HTTPException, AssertionError) as exc:
            s.failed(action.__name__, exc)
        time.sleep(rng.uniform(0, THINK_SECONDS))


def read_list(client, rng, load, own, unit):
    page = rng.randrange(1, len(load.world["projects"]) // 50 + 2)
    load.scenario.record("project list", client.get(f"/projects/?page={page}"))


def read_detail(client, rng, load, own, unit):
    pid = rng.choice(load.world["projects"])
    load.scenario.record("project page", client.get(f"/projects/{pid}"))


def read_search(client, rng, load, own, unit):
    q = urllib.parse.quote(rng.choice(SEARCH_WORDS))
    load.scenario.record("search", client.get(f"/projects/?q={q}"))


def read_page(client, rng, load, own, unit):
    path = rng.choice(("/dashboard/", "/board/", "/visits/", "/"))
    load.scenario.record(path, client.get(path))


def edit_project(client, rng, load, own, unit):
    """Open a project of one's unit, change it, save: saved (302), or refused because a
    colleague saved it in between (409, 已被他人修改: not an error)."""
    s = load.scenario
    pid = rng.choice(own)
    page, form = client.form(f"/projects/{pid}/edit", having="version")
    s.record("edit form", page)
    form.set("notes", f"压测修改 {rng.randrange(10**6)}")
    if rng.random() < 0.3:   # an amount: the dashboard's running totals change too
        form.set("investment_value", str(rng.randrange(1, 900)))
    r = client.submit(form)
    s.record("edit save", r, (302, 409))
    if r.status == 409:
        with s._lock:
            s.conflicts += 1


def log_visit(client, rng, load, own, unit):
    """Log a visit; some forms are sent twice: again after reading the answer (a double
    tap), again after the first answer was lost (a retry), or twice at once."""
    s = load.scenario
    page, form = client.form("/visits/new", having="idempotency_key")
    s.record("visit form", page)
    key = form.get("idempotency_key")
    visited = date.fromisoformat(form.get("visited_on"))
    form.set("company_name", f"压测客商{unit}-{rng.randrange(6)}")
    form.set("purpose", "了解扩产计划").set("outcome", f"对方有意向 {rng.randrange(1000)}")
    if rng.random() < 0.3:
        form.set("follow_up_on", (visited + timedelta(days=7)).isoformat())
    with load.lock:
        load.sent.add(key)
    body, headers = encode(form.fields)
    how = rng.random()
    if how < 0.1:        # the answer is lost (connection dropped), the phone sends again
        client.send("POST", form.action, body, headers).close()
        time.sleep(rng.uniform(0, 0.2))
    if 0.1 <= how < 0.2:   # two at once
        started = time.monotonic()
        first = client.send("POST", form.action, body, headers)
        second = client.send("POST", form.action, body, headers)
        answers = [client.receive(first, started), client.receive(second, started)]
    else:
        answers = [client.submit(form)]
        if 0.2 <= how < 0.3:   # sent again after its answer
            answers.append(client.submit(form))
    for r in answers:
        s.record("visit save", r, (302,))
        load.acknowledge(key, r)


def run_load(server: Gunicorn, db: Database) -> Scenario:
    s = Scenario(f"1 load: {USERS} users, {SECONDS:.0f} s")
    world = db.world()
    log_start = len(server.log())
    deadline = time.monotonic() + SECONDS + 2
    load = Load(s, world, deadline)
    threads = [threading.Thread(target=simulated_user, args=(i, server.url, load), daemon=True)
               for i in range(USERS)]
    for t in threads:
        t.start()
        time.sleep(2 / USERS)                  # sign-ins spread over two seconds
    for t in threads:
        t.join(max(1, deadline - time.monotonic()) + 120)
    s.check("every user finished", not any(t.is_alive() for t in threads))
    log = server.log()[log_start:]
    for needle in ("database is locked", "database busy", "Traceback"):
        s.check(f'no "{needle}" in the log', needle not in log, f"{log.count(needle)} times")
    pids = set(server.served(log).values())
    s.notes.append(f"workers that answered: {len(pids)}; conflicts (409, 已被他人修改): "
                   f"{s.conflicts}; {s.requests / SECONDS:.0f} requests/s")
    s.notes.append(f"requests, p50/p95 ms: {s.kinds()}")
    stored = db.visits_by_key()
    ours = {k: n for k, n in stored.items() if k in load.sent}
    s.acked, s.stored = len(load.acked), len(ours)
    s.check("each acknowledged visit stored", set(load.acked) <= set(ours),
            f"missing {len(set(load.acked) - set(ours))}")
    s.check("no visit stored unacknowledged", set(ours) <= set(load.acked),
            f"extra {len(set(ours) - set(load.acked))}")
    s.check("no visit stored twice", all(n == 1 for n in ours.values()),
            f"{sum(n > 1 for n in ours.values())} keys")
    return s


# ---------------------------------------------------------------------------- imports

def sign_in(url: str, account: str, address: str) -> Client:
    client = Client(url, address=address)
    r = client.login(account, PASSWORD)
    if r.status != 302:
        raise AssertionError(f"{account} could not sign in: {r.status}")
    return client


def upload(client: Client, data: bytes, s: Scenario) -> int:
    """Upload a ledger; return its job's id."""
    page, form = client.form("/ledger/import")
    s.record("upload form", page)
    r = client.request("POST", "/ledger/import", *multipart(form.fields,
                                                          [("file", "stress.xlsx", data)]))
    s.record("upload", r, (302,))
    m = re.search(r"/ledger/import/(\d+)$", r.location)
    if not m:
        raise AssertionError(f"upload: {r.status} {r.location}")
    return int(m.group(1))


def wait_state(client: Client, job_id: int, states: set[str], within: float,
               s: Scenario, parsed: list | None = None) -> tuple[str, float]:
    """Poll the job's progress (as its page does) until its state is one of ``states``;
    return the state and the seconds it took. ``parsed`` gets the seconds until the
    preview had read the file (its first half of the progress; the check is the rest)."""
    started = time.monotonic()
    state = ""
    while time.monotonic() - started < within:
        try:
            r = client.get(f"/ledger/import/{job_id}/progress")
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
            continue
        s.record("job progress", r)
        body = r.json() if r.status == 200 else {}
        state = body.get("state", "")
        if parsed is not None and not parsed and body.get("total") \
                and body["done"] * 2 >= body["total"]:
            parsed.append(time.monotonic() - started)
        if state in states:
            break
        time.sleep(0.25)
    return state, time.monotonic() - started


@dataclass
class Preview:
    """A ledger checked on the web: the job, how long its preview took (reading the file,
    then checking the rows against the database) and the worker that ran it."""

    job_id: int
    seconds: float = 0.0
    parse_seconds: float = 0.0
    worker: str = ""

    def check_seconds(self, commit_worker: str) -> float:
        """How long the commit's check takes at most: it checks the rows again, and
        reads the file again unless its worker still has the preview's parse."""
        reuse = commit_worker == self.worker
        return self.seconds - self.parse_seconds if reuse else self.seconds


def upload_and_preview(client: Client, db: Database, ledger: bytes, s: Scenario
                       ) -> Preview | None:
    preview = Preview(upload(client, ledger, s))
    preview.worker = db.job(preview.job_id)[1]
    parsed: list[float] = []
    state, preview.seconds = wait_state(client, preview.job_id, {"ready", "failed"}, 300, s,
                                        parsed)
    preview.parse_seconds = parsed[0] if parsed else 0.0
    if not s.check("preview ready", state == "ready", f"{state} after {preview.seconds:.1f} s"):
        return None
    s.notes.append(f"preview of {IMPORT_ROWS:,} rows: {preview.seconds:.1f} s (reading the "
                   f"file {preview.parse_seconds:.1f} s)")
    return preview


def start_commit(client: Client, job_id: int, s: Scenario) -> float:
    page, form = client.form(f"/ledger/import/{job_id}", having="mode")
    s.record("job page", page)
    r = client.submit(form)
    s.record("commit", r, (302,))
    return time.monotonic()


def check_after_worker_died(s: Scenario, server: Gunicorn, db: Database, client: Client,
                            job_id: int, before: dict, died_at: float) -> None:
    """The server answers again within BACK_WITHIN, the job shows failed, nothing of
    the import was written."""
    back = None
    while time.monotonic() - died_at < 30:
        if server.healthz(timeout=2) == 200:
            back = time.monotonic() - died_at
            break
        time.sleep(0.05)
    s.check(f"/healthz 200 within {BACK_WITHIN:.0f} s", back is not None and back <= BACK_WITHIN,
            f"{back:.2f} s" if back is not None else "no answer in 30 s")
    state, _t = wait_state(client, job_id, {"failed", "done"}, 10, s)
    s.check("job progress says failed", state == "failed", state)
    page = client.get(f"/ledger/import/{job_id}")
    s.record("job page", page)
    s.check("job page shows 失败 and 导入被中断", 'data-state="failed"' in page.text
            and "导入被中断" in page.text and "重新开始" in page.text)
    after = db.fingerprint()
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    s.check("database unchanged", not changed,
            f"project rows {after['project rows']}, checksum {after['project checksum']}"
            if not changed else str(changed))
    integrity = db.integrity()
    s.check("integrity_check", integrity in ("ok", "n/a"), integrity)


def kill_during_import(server: Gunicorn, db: Database, ledger: bytes) -> Scenario:
    """kill -9 of the worker whose background thread is writing the import."""
    s = Scenario("2 kill -9 during import")
    admin = sign_in(server.url, "admin", "10.30.0.1")
    before = db.fingerprint()
    preview = upload_and_preview(admin, db, ledger, s)
    if preview is None:
        return s
    started = start_commit(admin, preview.job_id, s)
    _state, worker = db.job(preview.job_id)
    pid = int(worker.rpartition(":")[2])
    evidence = wait_for_writing(db, started, preview.check_seconds(worker))
    state = admin.get(f"/ledger/import/{preview.job_id}/progress").json()["state"]
    if not s.check("still committing at the kill", state == "committing" and evidence,
                   f"{state}, {evidence}"):
        return s
    booted = set(server.booted_workers())
    os.kill(pid, signal.SIGKILL)
    died_at = time.monotonic()
    s.notes.append(f"worker {pid} killed {died_at - started:.1f} s into the commit, whose "
                   f"check takes at most {preview.check_seconds(worker):.1f} s ({evidence})")
    check_after_worker_died(s, server, db, admin, preview.job_id, before, died_at)
    replaced = None
    while time.monotonic() - died_at < 30:
        if set(server.booted_workers()) - booted and len(server.live_workers()) == 4:
            replaced = time.monotonic() - died_at
            break
        time.sleep(0.05)
    s.check(f"worker replaced within {BACK_WITHIN:.0f} s", replaced is not None
            and replaced <= BACK_WITHIN, f"{replaced:.2f} s" if replaced else "no")
    return s


def wait_for_writing(db: Database, started: float, check_seconds: float) -> str | None:
    """Wait until the import is writing rows, a few seconds in, and return the evidence.
    PostgreSQL: until its inserts are seen, then 2 s. SQLite, where rows not committed
    are invisible and the import holds the write lock from its start: until its check
    must be over, then 3 s."""
    if db.is_sqlite:
        time.sleep(max(0.0, started + check_seconds + 3 - time.monotonic()))
        return db.import_writing()
    while time.monotonic() < started + 2 * check_seconds + 60:
        if db.import_writing():
            time.sleep(2)
            break
        time.sleep(0.25)
    return db.import_writing()


def timeout_kills_an_import(url: str, db: Database, ledger: bytes, log: Path) -> Scenario:
    """gunicorn's timeout kills a worker that gives no sign of life for TIMEOUT seconds.
    The sync worker's main loop signs, not the request: a worker busy with one request
    longer than TIMEOUT is killed, with whatever else the process runs. The import runs
    in a background thread of the worker (crm/excel/jobs.py), so it alone never trips
    the timeout, however long it takes (checked below: the worker outlives TIMEOUT while
    checking and while writing). What does trip it in production is a long request on
    the same worker, and it takes the import with it. Here: one worker, TIMEOUT=4; the
    import is writing; an officer saves a new project, and that save queues behind the
    import's transaction (SQLite: the write lock; PostgreSQL: the next project code and
    the running totals the import holds) for up to the 10 s lock wait, so the worker is
    silent for more than 4 s and the master kills it (SIGABRT, then SIGKILL)."""
    s = Scenario(f"3 gunicorn timeout ({SHORT_TIMEOUT} s) during import")
    with Gunicorn(url, log, workers=1, timeout=SHORT_TIMEOUT,
                  SECURITY_LOG=str(log.with_suffix(".security"))) as server:
        admin = sign_in(server.url, "admin", "10.30.0.2")
        officer = sign_in(server.url, "zhangsan", "10.30.0.3")
        [worker] = server.live_workers()
        before = db.fingerprint()
        preview = upload_and_preview(admin, db, ledger, s)
        if preview is None:
            return s
        job_id = preview.job_id
        s.check(f"a {preview.seconds:.0f} s preview does not trip the {SHORT_TIMEOUT} s "
                "timeout", server.live_workers() == {worker}
                and "WORKER TIMEOUT" not in server.log())
        page, form = officer.form("/projects/new", having="name")
        s.record("new project form", page)
        form.set("name", "超时时保存的项目")
        started = start_commit(admin, job_id, s)
        _state, job_worker = db.job(job_id)
        time.sleep(SHORT_TIMEOUT + 1.5)
        s.check("the import alone does not trip the timeout",
                server.live_workers() == {worker} and str(worker) in job_worker
                and "WORKER TIMEOUT" not in server.log(), f"{SHORT_TIMEOUT + 1.5} s in")
        # SQLite: any save queues behind the import's write lock, held from its start;
        # PostgreSQL: a new project's, once the import inserts projects.
        evidence = db.import_writing() if db.is_sqlite else wait_for_writing(
            db, started, preview.check_seconds(job_worker))
        state = admin.get(f"/ledger/import/{job_id}/progress").json()["state"]
        if not s.check("import writing when the long request comes",
                       state == "committing" and evidence, f"{state}, {evidence}"):
            return s
        answer: list = []

        def long_request():
            try:
                answer.append(officer.submit(form))
            except (OSError, http.client.HTTPException) as exc:
                answer.append(exc)

        sent = time.monotonic()
        thread = threading.Thread(target=long_request, daemon=True)
        thread.start()
        while os.path.exists(f"/proc/{worker}") and time.monotonic() - sent < 30:
            time.sleep(0.02)
        died_at = time.monotonic()
        thread.join(30)
        s.notes.append(f"the save was sent {sent - started:.1f} s into the commit "
                       f"({evidence}); the worker was gone {died_at - sent:.1f} s later")
        logged = server.log()
        s.check("master logged WORKER TIMEOUT for the import's worker",
                f"WORKER TIMEOUT (pid:{worker})" in logged)
        how = re.findall(rf"Worker \(pid:{worker}\) (was sent \w+|exited with code \d+)", logged)
        s.notes.append(f"worker {worker}: {', '.join(how) or 'no exit line'}")
        got = answer[0] if answer else None
        s.notes.append("the save that timed out got: " + (
            f"{got.status} {' '.join(got.text.split())[:60]!r}" if hasattr(got, "status")
            else repr(got)) + " (no answer, or gunicorn's own 500 when the abort interrupts"
            " the request; nginx turns either into a 502)")
        s.check("the timed-out save got no success", not (hasattr(got, "status")
                                                           and got.status in (200, 302)))
        check_after_worker_died(s, server, db, admin, job_id, before, died_at)
    return s


# ---------------------------------------------------------------------------- busy

def busy_write(server: Gunicorn, db: Database) -> Scenario:
    """A save while another process holds the lock it needs: the 系统繁忙 page after the
    lock wait, nothing saved; pages are read meanwhile; saved once the lock is gone."""
    s = Scenario("4 write while another holds the lock")
    officer = sign_in(server.url, "lisi", "10.40.0.1")
    reader = sign_in(server.url, "leader", "10.40.0.2")
    world = db.world()
    pid = world["projects_of_unit"][world["unit_of"]["lisi"]][0]
    page, form = officer.form(f"/projects/{pid}/edit", having="version")
    s.record("edit form", page)
    form.set("notes", "系统繁忙时的保存")
    holder = db.hold_write_lock(pid)
    answer: list = []
    try:
        thread = threading.Thread(target=lambda: answer.append(officer.submit(form)),
                                  daemon=True)
        thread.start()
        reads = []
        while thread.is_alive():
            for path in (f"/projects/{pid}", "/projects/", "/dashboard/"):
                r = reader.get(path)
                s.record("read while locked", r)
                reads.append(r)
            time.sleep(0.2)
        thread.join()
    finally:
        holder.rollback()
        holder.close()
    s.check("reads served while the lock is held", reads and all(r.status == 200 for r in reads),
            f"{len(reads)} reads, slowest {max(r.seconds for r in reads) * 1000:.0f} ms"
            if reads else "none")
    r = answer[0] if answer else None
    if not s.check("the save got an answer", r is not None):
        return s
    with s._lock:
        s.requests += 1
        s.latencies.append(r.seconds)
    s.check("503 系统繁忙 with Retry-After", r.status == 503 and "系统繁忙" in r.text
            and r.headers.get("Retry-After") == "5", f"{r.status} after {r.seconds:.1f} s")
    s.check("the page tells nothing was saved, no internals", "没有保存" in r.text
            and "locked" not in r.text and "Traceback" not in r.text)
    notes = db.scalar("SELECT notes FROM project WHERE id = :id", id=pid)
    s.check("nothing saved while locked", notes != "系统繁忙时的保存")
    again = officer.submit(form)
    s.record("the same save after the lock", again, (302,))
    notes = db.scalar("SELECT notes FROM project WHERE id = :id", id=pid)
    s.check("saved once the lock is released", again.status == 302
            and notes == "系统繁忙时的保存", f"{again.status}")
    return s


# ---------------------------------------------------------------------------- main

def run_on(name: str, url: str, workdir: Path, ledger: bytes) -> list[Scenario]:
    db = Database(url)
    print(f"[{name}] preparing the database …", flush=True)
    db.prepare()
    results = []
    try:
        log = workdir / f"{name}-gunicorn.log"
        with Gunicorn(url, log, workers=4, SECURITY_LOG=str(workdir / f"{name}-security.log")
                      ) as server:
            print(f"[{name}] 1: {USERS} users for {SECONDS:.0f} s …", flush=True)
            results.append(run_load(server, db))
            print(f"[{name}] 2: kill -9 during a {IMPORT_ROWS:,}-row import …", flush=True)
            results.append(kill_during_import(server, db, ledger))
            print(f"[{name}] 4: a save while another process holds the lock …", flush=True)
            busy = busy_write(server, db)
        print(f"[{name}] 3: gunicorn timeout during a {IMPORT_ROWS:,}-row import …", flush=True)
        results.append(timeout_kills_an_import(url, db, ledger,
                                               workdir / f"{name}-gunicorn-timeout.log"))
        results.append(busy)
    finally:
        db.dispose()
    for s in results:
        s.name = f"{name}: {s.name}"
    return results


def fresh_postgresql(server_url: str) -> tuple[str, callable]:
    """A new database on the server ``server_url`` names, and a function dropping it."""
    url = sa.make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"crm_stress_{os.getpid()}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop():
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), drop


def table(results: list[Scenario]) -> str:
    head = (f"{'scenario':<52} {'requests':>8} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} "
            f"{'visits ack/stored':>17}  result")
    lines = [head, "-" * len(head)]
    for s in results:
        p50, p95 = s.percentile(0.5), s.percentile(0.95)
        visits = f"{s.acked}/{s.stored}" if s.acked is not None else "-"
        lines.append(f"{s.name:<52} {s.requests:>8} {len(s.errors):>6} "
                     f"{p50 if p50 is not None else 0:>7.0f} {p95 if p95 is not None else 0:>7.0f} "
                     f"{visits:>17}  {'pass' if s.ok else 'FAIL'}")
    return "\n".join(lines)


def main() -> int:
    from tests.bench_excel import ledger_to_import
    started = time.monotonic()
    # The setup runs as the command line does on a development machine; the servers get
    # CRM_ENV=production and a SECRET_KEY of their own (tests/live.py).
    os.environ["CRM_ENV"] = "development"
    workdir = Path(tempfile.mkdtemp(prefix="crm-stress-"))
    results: list[Scenario] = []
    try:
        print(f"building a {IMPORT_ROWS:,}-row ledger …", flush=True)
        ledger = ledger_to_import(random.Random(20), IMPORT_ROWS)
        targets = [("sqlite", f"sqlite:///{workdir / 'crm.sqlite3'}", None)]
        server_url = os.environ.get("DATABASE_URL", "")
        if server_url.startswith("postgresql"):
            targets.append(("postgresql", *fresh_postgresql(server_url)))
        for name, url, drop in targets:
            try:
                results += run_on(name, url, workdir, ledger)
            finally:
                if drop:
                    drop()
    finally:
        ok = bool(results) and all(s.ok for s in results)
        for s in results:
            print(f"\n{s.name}")
            for note in s.notes:
                print(f"  · {note}")
            for name, passed, detail in s.checks:
                suffix = f": {detail}" if detail else ""
                print(f"  {'ok  ' if passed else 'FAIL'} {name}{suffix}")
            for error in s.errors[:20]:
                print(f"  error: {error}")
            if len(s.errors) > 20:
                print(f"  … {len(s.errors) - 20} more errors")
        print("\n" + table(results))
        print(f"\n{'all checks passed' if ok else 'CHECKS FAILED'} in "
              f"{time.monotonic() - started:.0f} s")
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"logs kept in {workdir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
