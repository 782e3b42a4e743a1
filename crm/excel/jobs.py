"""Ledger import jobs: an upload is checked (the preview) and, once confirmed, written
(the commit) in a background thread of the worker that received it, so the page returns
at once and follows the job's progress. A job whose worker died is shown as failed."""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from crm.clock import utcnow
from crm.excel import importer
from crm.extensions import db, is_busy, writing
from crm.lifecycle import N_
from crm.models import ImportJob, User
from crm.security_log import security_event

log = logging.getLogger(__name__)

QUEUED, CHECKING, READY, COMMITTING, DONE, FAILED = (
    "queued", "checking", "ready", "committing", "done", "failed")
RUNNING = (QUEUED, CHECKING, COMMITTING)
STATE_LABELS = {QUEUED: N_("排队中"), CHECKING: N_("正在检查"), READY: N_("检查完成，待确认"),
                COMMITTING: N_("正在导入"), DONE: N_("已导入"), FAILED: N_("失败")}
# A running job not heard from for this long lost its worker (the commit is one
# transaction and cannot report progress, so this is generous).
STALE_AFTER = timedelta(minutes=15)
HEARTBEAT_SECONDS = 0.5
# A step's own writes (its outcome, or the failure) wait for another writer's lock this
# many lock waits (10 s each): another import's commit can hold SQLite's for minutes.
LOCK_ATTEMPTS = 30
INTERRUPTED = N_("导入被中断（服务重启或超时），没有写入任何数据。请重新开始。")
CRASHED = N_("导入出错，没有写入任何数据。请重新开始；如仍出错，请联系系统管理员。")
# A file checked but never imported (or whose job failed) is kept this long for its
# uploader to come back to, then deleted: an upload holds up to 10 MB.
KEEP_FILES = timedelta(days=30)
EXPIRED = N_("上传的文件超过 30 天未导入，已删除。请重新上传。")

_threads: list[threading.Thread] = []


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(worker: str) -> bool:
    """False when ``worker`` (host:pid) ran on this host and its process is gone."""
    host, _sep, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def effective_state(job: ImportJob) -> str:
    """The job's state, a running one whose worker died (or fell silent) as failed."""
    if job.state in RUNNING and (not _alive(job.worker)
                                 or job.updated_at < utcnow() - STALE_AFTER):
        return FAILED
    return job.state


def fail_stale_jobs() -> int:
    """Mark failed the running jobs whose worker died; return how many (add, no commit)."""
    stale = [j for j in db.session.scalars(select(ImportJob).where(
        ImportJob.state.in_(RUNNING))) if effective_state(j) == FAILED]
    for job in stale:
        job.state, job.message = FAILED, INTERRUPTED
    return len(stale)


def expire_files() -> None:
    """Delete the files no job will read again: those of done jobs (imported before
    they were emptied on import) and of jobs left checked or failed for KEEP_FILES
    (no commit)."""
    kept = func.length(ImportJob.data) > 0
    idle = ImportJob.state.in_((READY, FAILED)) & (ImportJob.updated_at < utcnow() - KEEP_FILES)
    for where, values in (((ImportJob.state == DONE), {}),
                          (idle, {"state": FAILED, "message": EXPIRED})):
        db.session.execute(update(ImportJob).where(where, kept).values(data=b"", **values),
                           execution_options={"synchronize_session": False})


def has_file(job: ImportJob) -> bool:
    """False once the job's file was deleted (without reading the file)."""
    return bool(db.session.scalar(select(func.length(ImportJob.data))
                                  .where(ImportJob.id == job.id)))


def create_job(user: User, filename: str, data: bytes) -> ImportJob:
    """A job for an uploaded file, checked at once (add and flush; the route commits,
    then calls ``start``)."""
    fail_stale_jobs()
    expire_files()
    job = ImportJob(user_id=user.id, filename=filename[:200], data=data, state=CHECKING,
                    worker=_worker_id(), updated_at=utcnow())
    db.session.add(job)
    db.session.flush()
    return job


def restart(job: ImportJob, state: str, **options) -> None:
    """Set the job to check (again, e.g. with another sheet or new names confirmed) or
    to commit, with the given options; the route commits, then calls ``start``."""
    for key, value in options.items():
        setattr(job, key, value)
    job.state, job.message, job.worker = state, "", _worker_id()
    job.done_rows = job.total_rows = 0
    job.updated_at = utcnow()


def start(job_id: int) -> None:
    """Run the job's step (check or commit) in a background thread."""
    app = current_app._get_current_object()
    thread = threading.Thread(target=_run, args=(app, job_id), daemon=True,
                              name=f"ledger-import-{job_id}")
    _threads.append(thread)
    thread.start()


def wait(timeout: float = 120) -> None:
    """Wait for the running jobs of this process (tests, the command line)."""
    while _threads:
        _threads.pop().join(timeout)


def _heartbeat(job_id: int):
    """A progress callback writing done/total on its own connection (the check holds
    only a read transaction, so this write never waits for it), at most twice a second."""
    last = [0.0]

    def beat(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < HEARTBEAT_SECONDS:
            return
        last[0] = now
        try:
            with db.engine.begin() as conn:
                conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(
                    done_rows=done, total_rows=total, updated_at=utcnow()))
        except OperationalError as exc:
            # Another writer held the lock past the lock wait (SQLite: e.g. another
            # import writing): the progress shown lags behind, the check goes on.
            if not is_busy(exc):
                raise
    return beat


def _locked(job_id: int) -> ImportJob:
    """Begin a write transaction, then read the job: a step that reads and then writes
    begins as a request that writes does (crm/extensions.writing; SQLite: BEGIN
    IMMEDIATE), since on SQLite a deferred transaction that has read cannot write once
    another writer committed after its read began ("database is locked" at once). The
    lock is waited for up to LOCK_ATTEMPTS lock waits (no request waits for this
    thread)."""
    for _attempt in range(LOCK_ATTEMPTS - 1):
        try:
            with writing():
                db.session.connection()     # BEGIN
            break
        except OperationalError as exc:
            db.session.rollback()
            if not is_busy(exc):
                raise
    else:
        with writing():
            db.session.connection()         # the last wait: its failure is raised
    return db.session.get(ImportJob, job_id)


def _run(app: Flask, job_id: int) -> None:
    with app.app_context():
        try:
            job = db.session.get(ImportJob, job_id)
            if job.state == CHECKING:
                result = importer.preview(job.data, job.user, job.sheet, job.confirm_new,
                                          progress=_heartbeat(job_id))
                db.session.rollback()       # end the read before writing the outcome
                _finish(_locked(job_id), READY, result)
            elif job.state == COMMITTING:
                # The check and the writes in one write transaction, begun before the
                # check reads: no other save can come between them (nor fail the import).
                db.session.rollback()
                job = _locked(job_id)
                try:
                    result = importer.commit(job.data, job.user, job.filename, job.sheet,
                                             job.skip_invalid, job.confirm_new)
                except importer.ImportRefused as refused:
                    db.session.rollback()
                    _finish(_locked(job_id), READY, refused.result)  # nothing written
                else:
                    # The outcome in the import's own transaction: both or neither. The
                    # file is not needed any more (a done job is not run again).
                    _finish(job, DONE, result)
                    job.data = b""
                    security_event("import", user=job.user.username if job.user else "",
                                   file=job.filename, created=result.count(importer.CREATE),
                                   updated=result.count(importer.UPDATE))
            db.session.commit()
        except Exception:
            log.exception("ledger import job %s failed", job_id)
            db.session.rollback()
            job = _locked(job_id)
            job.state, job.message, job.updated_at = FAILED, CRASHED, utcnow()
            db.session.commit()
        finally:
            db.session.remove()


def _finish(job: ImportJob, state: str, result: importer.ImportResult) -> None:
    job.state, job.result = state, json.dumps(stored(result), ensure_ascii=False)
    job.done_rows = job.total_rows
    job.updated_at = utcnow()


def _problem(p: importer.Problem) -> dict:
    return {"message": p.message, "params": {k: str(v) for k, v in p.params.items()},
            "row": p.row, "column": p.column, "header": p.header}


def stored(result: importer.ImportResult) -> dict:
    """The preview or outcome as kept with the job: messages untranslated (shown in the
    reader's language), only what the page shows."""
    return {
        "sheet": result.sheet, "sheets": result.sheets, "committed": result.committed,
        "counts": {k: v for k, v in result.summary().items() if isinstance(v, int)},
        "errors": [_problem(p) for p in result.all_errors],
        "warnings": [_problem(p) for p in result.all_warnings],
        "skipped": [{"row": s.number, "reason": s.reason, "text": s.text}
                    for s in result.skipped],
        "rows": [{"row": r.row, "action": r.action, "code": r.code, "name": r.name,
                  "changes": r.changes} for r in result.rows
                 if r.action in (importer.CREATE, importer.UPDATE)],
        "new_names": result.new_names,
    }


def shown(job: ImportJob) -> dict | None:
    """The job's stored preview or outcome with its problems ready to show."""
    if not job.result:
        return None
    view = json.loads(job.result)
    for key in ("errors", "warnings"):
        view[key] = [importer.Problem(**p) for p in view[key]]
    return view
