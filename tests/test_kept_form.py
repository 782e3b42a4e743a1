"""A form refused unsaved keeps what the user typed: an expired page (CSRF token) shows
the text and, for a form of this site, offers to send it again with a fresh token; a
sign-in that timed out while the user wrote gives the text back for copying."""
import re
import time
from html import unescape

from sqlalchemy import func, select

from crm.auth import routes
from crm.extensions import db
from crm.models import Visit

WRITE_UP = "上午走访苏州某光伏企业，董事长介绍二期扩产计划<b>约30亿元</b>，下一步安排来区考察。"
ORIGIN = {"Origin": "http://localhost"}


def _token(client, url):
    page = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def _signed_in(make_app, users, **config):
    app = make_app(WTF_CSRF_ENABLED=True, **config)
    client = app.test_client()
    assert client.post("/login", data={"username": "officer1",
                                       "password": "test-password-123",
                                       "csrf_token": _token(client, "/login")}).status_code == 302
    return app, client


def _visit(token):
    return {"visited_on": "2026-11-20", "kind": "visit", "company_name": "苏州光伏科技",
            "purpose": WRITE_UP, "csrf_token": token, "idempotency_key": "a" * 32}


def _visits():
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Visit))


def test_an_expired_page_keeps_the_text_and_sends_it_again(make_app, users):
    app, client = _signed_in(make_app, users, WTF_CSRF_TIME_LIMIT=1)
    with app.app_context():
        data = _visit(_token(client, "/visits/new"))
        time.sleep(2.1)                              # the page's token expires
        response = client.post("/visits/new", data=data, headers=ORIGIN)
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert "页面已过期" in page and "您填写的内容保留在下面" in page
        assert "<b>约30亿元</b>" not in page         # shown escaped, as text
        kept = re.findall(r'<textarea class="[^"]*kept-text"[^>]*>(.*?)</textarea>', page, re.S)
        assert [unescape(t).strip() for t in kept] == [WRITE_UP]  # the long text only
        assert _visits() == 0
        # "重新提交" posts the same fields with a fresh token: saved once.
        form = page[page.index('id="resend"') - 2000:page.index('id="resend"')]
        fields = dict((unescape(n), unescape(v)) for n, v in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))
        assert fields["purpose"] == WRITE_UP and fields["csrf_token"] != data["csrf_token"]
        assert client.post("/visits/new", data=fields, headers=ORIGIN).status_code == 302
        assert _visits() == 1
        assert db.session.scalar(select(Visit.purpose)) == WRITE_UP


def test_a_forged_request_is_shown_but_not_offered_again(make_app, users):
    app, client = _signed_in(make_app, users)
    with app.app_context():
        for headers in ({"Origin": "http://evil.example"}, {}):
            response = client.post("/visits/new", data=_visit("forged"), headers=headers)
            page = response.get_data(as_text=True)
            assert response.status_code == 400 and "页面已过期" in page
            assert 'id="resend"' not in page and 'name="purpose"' not in page
            assert "请先复制下面的文字" in page
        assert _visits() == 0


def test_passwords_are_never_given_back(make_app, users):
    app, client = _signed_in(make_app, users)
    with app.app_context():
        response = client.post("/account/password", headers=ORIGIN, data={
            "current_password": "test-password-123", "password": "三月去苏州拜访光伏企业",
            "password_again": "三月去苏州拜访光伏企业", "csrf_token": "expired"})
        page = response.get_data(as_text=True)
        assert response.status_code == 400
        assert "test-password-123" not in page and "三月去苏州" not in page


def test_a_write_up_sent_after_the_sign_in_timed_out_is_given_back(app, users, monkeypatch):
    from tests.conftest import login
    client = app.test_client()
    assert login(client, "officer1").status_code == 302
    later = time.time() + 3 * app.config["SESSION_IDLE_MINUTES"] * 60
    monkeypatch.setattr(routes.time, "time", lambda: later)
    response = client.post("/visits/new", data=_visit(""))
    page = response.get_data(as_text=True)
    assert response.status_code == 401 and "登录已超时" in page
    assert WRITE_UP in unescape(page) and 'id="resend"' not in page
    assert _visits() == 0
