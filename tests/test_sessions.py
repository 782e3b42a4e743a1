"""Sessions end when they should (OWASP ASVS 7.3, 7.4): signing out ends the user's
sessions everywhere, so does a new password or being disabled; idle and absolute
time-outs; the session cookie's attributes."""
import time

import pytest

from crm.auth import routes
from tests.conftest import login

PAGE = "/projects/"


def signed_in(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    assert client.get(PAGE).status_code == 200
    return client


def is_signed_out(client) -> bool:
    response = client.get(PAGE)
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_signing_out_ends_the_users_other_sessions(app, users):
    office, home, colleague = (signed_in(app, "officer1"), signed_in(app, "officer1"),
                               signed_in(app, "officer2"))
    office.post("/logout")
    assert is_signed_out(office) and is_signed_out(home)
    assert not is_signed_out(colleague)
    assert not is_signed_out(signed_in(app, "officer1"))     # signing in again works


def edit(admin, user, **changes):
    data = {"username": user.username, "display_name": user.display_name,
            "role": user.role, "unit_id": str(user.unit_id or 0), "password": "",
            "active": "y", **changes}
    if data["active"] is None:
        del data["active"]
    response = admin.post(f"/users/{user.id}/edit", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.mark.parametrize("changes", [{"password": "a-new-long-password"}, {"active": None}])
def test_a_new_password_or_disabling_ends_the_users_sessions(app, users, as_role, changes):
    officer, other = signed_in(app, "officer1"), signed_in(app, "officer2")
    edit(as_role("admin"), users["officer"], **changes)
    assert is_signed_out(officer)
    assert not is_signed_out(other)


def test_changing_ones_own_password_keeps_this_session(app, users):
    admin = signed_in(app, "admin1")
    elsewhere = signed_in(app, "admin1")
    edit(admin, users["admin"], password="a-new-long-password")
    assert not is_signed_out(admin)
    assert is_signed_out(elsewhere)


def test_an_idle_session_times_out_and_returns_to_the_page(app, users, monkeypatch):
    client = signed_in(app, "officer1")
    idle = app.config["SESSION_IDLE_MINUTES"] * 60
    now = time.time()
    monkeypatch.setattr(routes.time, "time", lambda: now + idle - 30)
    assert client.get(PAGE).status_code == 200           # active: not idle yet
    monkeypatch.setattr(routes.time, "time", lambda: now + 2 * idle)
    response = client.get(PAGE + "?stage=signed")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login?next=/projects/?stage%3Dsigned")
    assert is_signed_out(client)


def test_a_session_ends_after_the_working_day_however_active(app, users):
    client = signed_in(app, "officer1")
    with client.session_transaction() as session:
        session["login_at"] -= app.config["SESSION_MAX_HOURS"] * 3600 + 1
    assert is_signed_out(client)


def test_the_session_cookie(make_app, users):
    app = make_app(SESSION_COOKIE_SECURE=True)
    response = login(app.test_client(), "officer1")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
