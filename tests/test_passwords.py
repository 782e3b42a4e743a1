"""The password policy, the forced change of an administrator-issued password at first
sign-in, and the user's own password change (which ends their other sessions)."""
import pytest
from sqlalchemy import func, select

from crm.auth.passwords import password_problem
from crm.extensions import db
from crm.models import Project, User
from tests.conftest import PASSWORD, login

GOOD = "三月去苏州拜访光伏企业"


@pytest.mark.parametrize("password", [
    "short1", "12345678", "password", "Password1", "qwerty123", "1qaz2wsx", "88888888",
    "iloveyou", "woaini1314", "P@ssw0rd", "abcd1234", "wangfang2024", "长" * 30, "x" * 201])
def test_short_common_and_guessable_passwords_are_refused(password):
    problem = password_problem(password, ["wangfang", "王芳"])
    assert problem is not None and problem.startswith("密码：")


@pytest.mark.parametrize("password", [
    GOOD, "我们的招商引资工作", "correct horse battery staple", "Kx7#mQ2$vL9p",
    "苏州工业园区2026年第三季度", "".join(chr(0x4e00 + 37 * i) for i in range(200))])
def test_long_chinese_and_random_passwords_are_accepted(password):
    assert password_problem(password, ["wangfang", "王芳"]) is None


def _form(**kw):
    return {"username": "wangfang", "display_name": "王芳", "role": "officer",
            "unit_id": "1", "password": GOOD, "active": "y", **kw}


def test_admin_cannot_issue_a_weak_password(as_role):
    admin = as_role("admin")
    response = admin.post("/users/new", data=_form(password="12345678"))
    assert response.status_code == 400
    assert "密码：过于常见或容易猜到" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(User).where(
        User.username == "wangfang")) == 0


def test_issued_password_must_be_changed_first(app, as_role, factory, users):
    project = factory.project("首登项目", by=users["officer"])
    admin = as_role("admin")
    assert admin.post("/users/new", data=_form()).status_code == 302
    client = app.test_client()
    assert login(client, "wangfang", GOOD).status_code == 302
    # Every page leads to the change; a write elsewhere is not carried out.
    for url in ("/", "/projects/", f"/projects/{project.id}", "/visits/new"):
        response = client.get(url)
        assert response.status_code == 302 and response.location.endswith("/account/password")
    response = client.post(f"/projects/{project.id}/edit", data={"name": "被改了"})
    assert response.status_code == 302 and response.location.endswith("/account/password")
    db.session.rollback()
    assert db.session.get(Project, project.id).name == "首登项目"
    page = client.get("/account/password").get_data(as_text=True)
    assert "您的密码由管理员设置" in page
    # Wrong current password, a weak one, a mismatch, the same one: refused.
    for data, message in (
            ({"current_password": "wrong-password", "password": "我自己的新密码很长",
              "password_again": "我自己的新密码很长"}, "当前密码：不正确"),
            ({"current_password": GOOD, "password": "wangfang1", "password_again": "wangfang1"},
             "密码：过于常见"),
            ({"current_password": GOOD, "password": "我自己的新密码很长",
              "password_again": "我自己的新密码很短"}, "两次输入的新密码不一致"),
            ({"current_password": GOOD, "password": GOOD, "password_again": GOOD},
             "新密码：不能与当前密码相同")):
        response = client.post("/account/password", data=data)
        assert response.status_code == 400 and message in response.get_data(as_text=True)
    new = "我自己的新密码很长"
    response = client.post("/account/password", data={
        "current_password": GOOD, "password": new, "password_again": new})
    assert response.status_code == 302
    assert client.get("/projects/").status_code == 200     # this session goes on
    db.session.rollback()
    user = db.session.scalar(select(User).where(User.username == "wangfang"))
    assert not user.must_change_password and user.check_password("我自己的新密码很长")


def test_password_set_by_admin_is_issued_but_not_their_own(as_role, users):
    admin = as_role("admin")
    officer = users["officer"]
    response = admin.post(f"/users/{officer.id}/edit", data=_form(
        username=officer.username, display_name=officer.display_name, password=GOOD))
    assert response.status_code == 302
    me = users["admin"]
    response = admin.post(f"/users/{me.id}/edit", data=_form(
        username=me.username, display_name=me.display_name, role="admin", unit_id="0",
        password="管理员自己选的新密码"))
    assert response.status_code == 302
    db.session.rollback()
    assert db.session.get(User, officer.id).must_change_password
    assert not db.session.get(User, me.id).must_change_password
    assert admin.get("/projects/").status_code == 200


def test_changing_ones_password_ends_the_other_sessions(app, users):
    here, elsewhere = app.test_client(), app.test_client()
    for c in (here, elsewhere):
        assert login(c, "officer1").status_code == 302
    response = here.post("/account/password", data={
        "current_password": PASSWORD, "password": GOOD, "password_again": GOOD})
    assert response.status_code == 302
    assert here.get("/projects/").status_code == 200
    assert elsewhere.get("/projects/").status_code == 302   # back to the sign-in page
    assert login(app.test_client(), "officer1", GOOD).status_code == 302
