"""The sign-in throttle: per account and address (an office shares one NAT address),
an address failing on many accounts, the same words whether the account exists, the
lock lifting after the window, and the security log's lines."""
import json
import logging
from datetime import timedelta

from crm.auth import throttle
from crm.clock import utcnow
from tests.conftest import PASSWORD

OFFICE, HOME = "10.1.1.1", "10.2.2.2"
WRONG = "wrong-password-1"
LOCKED = "登录失败次数过多"


def attempt(client, username, password, address=OFFICE):
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def fail(client, username, times, address=OFFICE):
    for _ in range(times):
        response = attempt(client, username, WRONG, address)
        assert response.status_code == 400 and "用户名或密码错误" in response.get_data(True)


def test_five_failures_lock_the_account_from_that_address_only(app, users):
    client = app.test_client()
    fail(client, "officer1", throttle.ACCOUNT_LIMIT)
    locked = attempt(client, "officer1", PASSWORD)         # even the right password
    assert locked.status_code == 429 and LOCKED in locked.get_data(True)
    assert "15 分钟后再试" in locked.get_data(True)
    # Colleagues behind the same address, and the same person elsewhere, sign in.
    assert attempt(app.test_client(), "officer2", PASSWORD).status_code == 302
    assert attempt(app.test_client(), "officer1", PASSWORD, HOME).status_code == 302


def test_an_unknown_account_gets_the_same_words(app, users):
    client = app.test_client()
    fail(client, "nobody", throttle.ACCOUNT_LIMIT)
    known, unknown = app.test_client(), app.test_client()
    fail(known, "officer1", throttle.ACCOUNT_LIMIT, HOME)
    a = attempt(known, "officer1", WRONG, HOME).get_data(True)
    b = attempt(unknown, "nobody", WRONG).get_data(True)
    assert LOCKED in a and LOCKED in b


def test_the_lock_lifts_after_the_window(app, users, monkeypatch):
    fail(app.test_client(), "officer1", throttle.ACCOUNT_LIMIT)
    assert attempt(app.test_client(), "officer1", PASSWORD).status_code == 429
    later = utcnow() + throttle.WINDOW + timedelta(seconds=1)
    monkeypatch.setattr(throttle, "utcnow", lambda: later)
    assert attempt(app.test_client(), "officer1", PASSWORD).status_code == 302


def test_a_success_clears_the_count(app, users):
    client = app.test_client()
    fail(client, "officer1", throttle.ACCOUNT_LIMIT - 1)
    assert attempt(client, "officer1", PASSWORD).status_code == 302
    fail(app.test_client(), "officer1", throttle.ACCOUNT_LIMIT - 1)
    assert attempt(app.test_client(), "officer1", PASSWORD).status_code == 302


def test_an_address_failing_on_many_accounts_is_slowed(app, users, monkeypatch):
    monkeypatch.setattr(throttle, "ADDRESS_LIMIT", 8)
    client = app.test_client()
    for i in range(8):
        fail(client, f"guess{i}", 1)
    assert attempt(client, "officer2", PASSWORD).status_code == 429
    assert attempt(client, "officer2", PASSWORD, HOME).status_code == 302


def test_the_security_log(app, users, caplog):
    caplog.set_level(logging.INFO, logger="crm.security")
    client = app.test_client()
    forged = "officer1\n{\"event\": \"forged\"}\x1b[2K\r\u2028\x85x"
    attempt(client, forged, WRONG)
    attempt(client, "officer1", PASSWORD)
    client.post("/logout")
    lines = [r.getMessage() for r in caplog.records if r.name == "crm.security"]
    assert len(lines) == 3 and all(line.splitlines() == [line] and line.isprintable()
                                   for line in lines)
    events = [json.loads(line) for line in lines]
    assert [e["event"] for e in events] == ["login_failed", "login", "logout"]
    assert events[0]["user"] == forged      # escaped, one line
    assert events[0]["failures"] == 1 and events[1]["user"] == "officer1"
    assert all(e["ip"] == OFFICE and e["ts"].endswith("Z") for e in events[:2])
    assert not any(PASSWORD in line or WRONG in line for line in lines)


def test_behind_a_proxy_the_forwarded_address_counts(app, make_app, users):
    """PROXY_COUNT=1: the proxy's own address (every request's) is not what is locked."""
    proxied = make_app(PROXY_COUNT=1)
    client = proxied.test_client()
    for _ in range(throttle.ACCOUNT_LIMIT):
        client.post("/login", data={"username": "officer1", "password": WRONG},
                    headers={"X-Forwarded-For": OFFICE}, environ_base={"REMOTE_ADDR": "127.0.0.1"})

    def signin(address):
        return proxied.test_client().post(
            "/login", data={"username": "officer1", "password": PASSWORD},
            headers={"X-Forwarded-For": address}, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert signin(OFFICE).status_code == 429
    assert signin(HOME).status_code == 302
