"""Signing in and out, safe redirects, user administration and the CLI."""
import pytest
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Project, User
from tests.conftest import PASSWORD, login


def text(response):
    return response.get_data(as_text=True)


def test_same_message_for_unknown_user_and_wrong_password(client, users):
    wrong = client.post("/login", data={"username": "officer1", "password": "nope-nope"})
    unknown = client.post("/login", data={"username": "nobody", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 400
    assert "用户名或密码错误" in text(wrong) and "用户名或密码错误" in text(unknown)
    assert client.get("/projects/").status_code == 302


def test_disabled_user_cannot_sign_in(client, users):
    users["officer"].active = False
    db.session.commit()
    assert login(client, "officer1").status_code == 400


@pytest.mark.parametrize("target,expected", [
    ("/projects/?stage=signed", "/projects/?stage=signed"),
    ("https://evil.example/", "/"),
    ("//evil.example/x", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
])
def test_next_never_leaves_the_site(client, users, target, expected):
    response = client.post("/login", data={"username": "officer1", "password": PASSWORD,
                                           "next": target})
    assert response.status_code == 302
    assert response.location == expected


def test_logout_is_post_only(as_role):
    client = as_role("officer")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 302
    assert client.get("/projects/").status_code == 302


def test_admin_creates_and_edits_users(as_role, factory):
    client = as_role("admin")
    unit = factory.unit("区住建局")
    response = client.post("/users/new", data={
        "username": "zhouqi", "display_name": "周七", "role": "officer",
        "unit_id": str(unit.id), "password": "a-long-password", "active": "y"})
    assert response.status_code == 302, text(response)
    user = db.session.scalar(select(User).where(User.username == "zhouqi"))
    assert user.role == "officer" and user.unit_id == unit.id
    assert user.password_hash != "a-long-password" and user.check_password("a-long-password")
    # Duplicate name, officer without unit, unknown role: refused, named.
    for data, label in [
        ({"username": "zhouqi", "role": "leader", "unit_id": "0"}, "用户名"),
        ({"username": "newone", "role": "officer", "unit_id": "0"}, "所属单位"),
        ({"username": "newtwo", "role": "superuser", "unit_id": "0"}, "角色"),
    ]:
        before = db.session.scalar(select(func.count()).select_from(User))
        response = client.post("/users/new", data={
            "display_name": "X", "password": "a-long-password", **data})
        assert response.status_code == 400 and label in text(response)
        assert db.session.scalar(select(func.count()).select_from(User)) == before
    # Disable the user: they can no longer sign in.
    response = client.post(f"/users/{user.id}/edit", data={
        "username": "zhouqi", "display_name": "周七", "role": "officer",
        "unit_id": str(unit.id), "password": ""})
    assert response.status_code == 302
    assert login(client.application.test_client(), "zhouqi", "a-long-password").status_code == 400


def test_admin_cannot_demote_themself(as_role, users):
    client = as_role("admin")
    admin = users["admin"]
    response = client.post(f"/users/{admin.id}/edit", data={
        "username": admin.username, "display_name": "x", "role": "officer",
        "unit_id": "1", "password": "", "active": "y"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, admin.id).role == "admin"


def test_cli_users_create(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "wang", "--role", "officer",
                                 "--unit", "区中韩办", "--password", "long-enough-pw"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "wang"))
    assert user.unit.name == "区中韩办" and user.check_password("long-enough-pw")
    assert user.must_change_password
    result = runner.invoke(args=["users", "create", "zhao", "--role", "officer",
                                 "--unit", "区中韩办", "--password", "12345678"])
    assert result.exit_code != 0 and "密码：过于常见" in result.output
    result = runner.invoke(args=["users", "create", "li", "--role", "officer",
                                 "--unit", "不存在的单位", "--password", "long-enough-pw"])
    assert result.exit_code != 0 and "单位不存在" in result.output
    result = runner.invoke(args=["users", "create", "wang", "--role", "leader",
                                 "--password", "long-enough-pw"])
    assert result.exit_code != 0 and "用户名" in result.output


def test_cli_demo_load_is_idempotent(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    projects = db.session.scalar(select(func.count()).select_from(Project))
    assert projects >= 20
    second = runner.invoke(args=["demo", "load"])
    assert "0 projects and 0 users added" in second.output
    assert db.session.scalar(select(func.count()).select_from(Project)) == projects
    stages = set(db.session.scalars(select(Project.stage)))
    assert stages == {"lead", "signed", "started", "producing", "at_capacity"}
    sk = db.session.scalar(select(Project).where(Project.name == "SK 27GWh 动力电池"))
    assert sk.investment_currency == "USD" and [r.name for r in sk.regions] == ["韩国"]
    again = runner.invoke(args=["demo", "load", "--if-empty"]).output
    assert "not loaded" in again and "zhangsan" in again
