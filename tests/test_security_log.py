"""The security log's business events (MLPS 2.0 audit): denials, exports, imports, stage
moves and user changes, each one JSON line naming who did what (sign-in events:
tests/test_login_throttle.py)."""
import json
import logging

import pytest

from crm.excel import jobs
from crm.security_log import logger
from tests.test_excel_import import _upload, messy_ledger


@pytest.fixture
def events(caplog):
    caplog.set_level(logging.INFO, logger="crm.security")

    def read(kind):
        return [e for e in (json.loads(r.getMessage()) for r in caplog.records
                            if r.name == "crm.security") if e["event"] == kind]
    return read


def test_a_denial(as_role, events):
    assert as_role("officer").get("/users/").status_code == 403
    [e] = events("denied")
    assert (e["user"], e["method"], e["path"]) == ("officer1", "GET", "/users/")


def test_exports_and_the_monthly_report(as_role, events):
    client = as_role("leader")
    assert client.get("/ledger/export").status_code == 200
    assert client.get("/reports/monthly?month=2026-10&download=1").status_code == 200
    ledger, report = events("export")
    assert ledger["user"] == report["user"] == "leader1"
    assert ledger["file"].startswith("项目台账-") and report["file"].startswith("招商月报")


def test_an_import(app, as_role, events):
    client = as_role("admin")
    job_url = _upload(client, messy_ledger())
    jobs.wait()
    client.post(job_url + "/commit", data={"mode": "all"})
    jobs.wait()
    [e] = events("import")
    assert (e["user"], e["file"], e["created"], e["updated"]) == ("admin1", "台账.xlsx", 6, 0)


def test_a_stage_move(as_role, factory, users, events):
    project = factory.project("日志项目", by=users["officer"])
    response = as_role("officer").post(f"/projects/{project.id}/advance", data={
        "stage": "signed", "signed_on": "2024-03-15", "version": str(project.version)})
    assert response.status_code == 302
    [e] = events("stage")
    assert (e["user"], e["project"], e["stage"]) == ("officer1", project.code, "signed")


def test_role_and_password_changes(as_role, users, events):
    officer = users["officer"]
    response = as_role("admin").post(f"/users/{officer.id}/edit", data={
        "username": officer.username, "display_name": officer.display_name,
        "role": "leader", "unit_id": "0", "password": "a-new-long-password",
        "active": "y"})
    assert response.status_code == 302
    [e] = events("user_changed")
    assert (e["user"], e["target"], e["changes"], e["role"]) == (
        "admin1", "officer1", ["role", "password"], "leader")
    assert "a-new-long-password" not in json.dumps(e)


def test_ones_own_password_change(as_role, events):
    response = as_role("officer").post("/account/password", data={
        "current_password": "test-password-123", "password": "三月去苏州拜访光伏企业",
        "password_again": "三月去苏州拜访光伏企业"})
    assert response.status_code == 302
    [e] = events("password_changed")
    assert e["user"] == "officer1" and "三月" not in json.dumps(e)


def test_the_log_goes_to_its_file(make_app, users, tmp_path):
    path = tmp_path / "security.log"
    app = make_app(SECURITY_LOG=str(path))
    try:
        app.test_client().post("/login", data={"username": "officer1", "password": "wrong-pw"})
        [line] = path.read_text(encoding="utf-8").splitlines()
        assert json.loads(line)["event"] == "login_failed"
    finally:
        for handler in [h for h in logger.handlers if getattr(h, "_crm_security", "")]:
            logger.removeHandler(handler)
            handler.close()
