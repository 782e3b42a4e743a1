"""Logging a visit on a phone, end to end: Debian's Chromium driven by Playwright against
a live server with CSRF on, at a 390×844 viewport.

Covers the issue's "Done when" (from the home page's 记录走访 button an officer logs a
visit to a new company with a follow-up date in a few taps, then finds the follow-up on
the home page), the duplicate-courting warning and its confirmation, the company
suggestions, and that a double submit stores one visit. Every test also checks that
no page logs a JavaScript or console error.

The browser, live server, page and console-error fixtures come from tests/test_browser.py
(so the skip-locally / fail-in-CI rule is the same); the cheap password hashing is
conftest.py's autouse fixture. A screenshot of the filled form goes to
/tmp/visit-phone.png.
"""
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from crm.clock import today
from crm.extensions import db
from crm.models import Company, Unit, User, Visit
from crm.visits.services import VisitData, log_visit
from tests import test_browser
from tests.test_browser import PHONE, horizontal_overflow, login

# The browser, live server and page fixtures of test_browser.py, bound to their names
# here so pytest finds them (an assignment, not an import, keeps pyflakes' F811 quiet
# about test arguments of the same name).
browser = test_browser.browser
live_server = test_browser.live_server
open_page = test_browser.open_page

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/visit-phone.png"
MAX_ACTIONS = 8          # clicks and fills from the home page to the follow-up listed
VISIT_PATH = re.compile(r"^/visits/\d+$")


class Actions:
    """The user's clicks and fills, counted: a proxy for "under a minute"."""

    def __init__(self, page):
        self.page = page
        self.done: list[str] = []

    def click(self, selector, navigates=True):
        self.done.append(f"click {selector}")
        if navigates:
            with self.page.expect_navigation():
                self.page.click(selector)
        else:
            self.page.click(selector)

    def fill(self, selector, value):
        self.done.append(f"fill {selector}")
        self.page.fill(selector, value)


def stored_visits(server, company_name=None):
    """(company, creator, unit, visited_on, follow_up_on) of the stored visits, read
    through the live app."""
    with server.app.app_context():
        stmt = (sa.select(Company.name, User.username, Unit.name, Visit.visited_on,
                          Visit.follow_up_on)
                .join(Company, Visit.company_id == Company.id)
                .outerjoin(User, Visit.created_by_id == User.id)
                .outerjoin(Unit, Visit.unit_id == Unit.id)
                .order_by(Visit.id))
        if company_name is not None:
            stmt = stmt.where(Company.name == company_name)
        rows = [tuple(r) for r in db.session.execute(stmt)]
        db.session.remove()
        return rows


def companies_named(server, name) -> int:
    with server.app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Company).where(
            Company.name == name))
        db.session.remove()
        return count


def path_of(page) -> str:
    return urlsplit(page.url).path


def form_errors(page) -> list[str]:
    return page.locator("#form-errors").all_inner_texts()


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

def test_officer_logs_visit_with_follow_up_on_phone(open_page, live_server):
    """Done when: from the home page an officer on a phone logs a visit to a new company
    with a follow-up in 3 days in a handful of taps, and sees the follow-up on the home
    page; the visit is stored once and the company created."""
    company = "浏览器走访新能源有限公司"
    day = today()
    follow_up = day + timedelta(days=3)
    assert companies_named(live_server, company) == 0

    page, problems = open_page(PHONE)
    login(page, "officer1")
    assert path_of(page) == "/", f"login should land on the home page, not {page.url}"
    assert horizontal_overflow(page) is None, horizontal_overflow(page)
    assert page.locator("#log-visit").is_visible(), "记录走访 must be visible on a phone"

    act = Actions(page)
    act.click("#log-visit")
    assert path_of(page) == "/visits/new"
    assert page.input_value("input[name=visited_on]") == day.isoformat(), \
        "the visit date should default to today"
    assert page.get_attribute("input[name=visited_on]", "type") == "date"
    assert page.get_attribute("input[name=follow_up_on]", "type") == "date"
    save = page.locator("#save-visit").bounding_box()
    assert save and save["y"] + save["height"] <= PHONE["height"], (
        f"the form should fit one phone screen: 保存 ends at "
        f"{save and save['y'] + save['height']}px, below the {PHONE['height']}px viewport")
    assert horizontal_overflow(page) is None, horizontal_overflow(page)

    act.fill("input[name=company_name]", company)
    act.fill("input[name=follow_up_on]", follow_up.isoformat())
    act.fill("textarea[name=next_steps]", "寄送园区政策资料")
    assert horizontal_overflow(page) is None, horizontal_overflow(page)
    page.screenshot(path=SCREENSHOT, full_page=True)

    act.click("#save-visit")
    assert VISIT_PATH.match(path_of(page)), (
        f"saving the visit should open its page, got {page.url}: {form_errors(page)}")
    assert "走访已记录" in page.inner_text("main")
    assert company in page.inner_text("h1")
    assert follow_up.isoformat() in page.inner_text("main")

    act.click("a.navbar-brand")
    assert path_of(page) == "/"
    follow_ups = page.inner_text("#follow-ups")
    assert company in follow_ups, f"the new follow-up should be listed: {follow_ups!r}"
    assert follow_up.isoformat() in follow_ups, follow_ups
    assert "寄送园区政策资料" in follow_ups, follow_ups
    assert horizontal_overflow(page) is None, horizontal_overflow(page)

    assert len(act.done) <= MAX_ACTIONS, f"too many steps to log a visit: {act.done}"

    assert stored_visits(live_server) == [
        (company, "officer1", "光伏产业园", day, follow_up)], "exactly one visit stored"
    assert companies_named(live_server, company) == 1, "the new company is created once"
    problems.assert_clean()


def test_duplicate_courting_warning_then_confirm(open_page, live_server, users):
    """Another unit visited the company 6 days ago: the first save shows a warning
    naming that unit and date and stores nothing; confirming stores the visit."""
    company = "宁德新能源"
    six_days_ago = today() - timedelta(days=6)
    other = users["other"]
    log_visit(VisitData(visited_on=six_days_ago, kind="visit", company_name=company,
                        participant_ids=[other.id]), other)
    db.session.commit()
    assert stored_visits(live_server, company) == [
        (company, "officer2", "区中韩办", six_days_ago, None)]

    page, problems = open_page(PHONE)
    login(page, "officer1")
    with page.expect_navigation():
        page.click("#log-visit")
    page.fill("input[name=company_name]", company)
    page.fill("textarea[name=purpose]", "洽谈储能项目")
    with page.expect_navigation() as nav:
        page.click("#save-visit")
    assert nav.value.status == 409, f"a warned save answers 409, got {nav.value.status}"
    assert path_of(page) == "/visits/new"

    warning = page.locator("#duplicate-warning")
    assert warning.is_visible(), f"the duplicate warning should show: {form_errors(page)}"
    text = warning.inner_text()
    assert "区中韩办" in text, f"the warning should name the other unit: {text!r}"
    assert six_days_ago.isoformat() in text, f"the warning should give the date: {text!r}"
    assert stored_visits(live_server, company) == [
        (company, "officer2", "区中韩办", six_days_ago, None)], \
        "nothing is stored for officer1 before the warning is confirmed"
    assert page.input_value("input[name=company_name]") == company, "input is kept"
    assert page.input_value("textarea[name=purpose]") == "洽谈储能项目", "input is kept"
    assert horizontal_overflow(page) is None, horizontal_overflow(page)

    confirm = page.locator("input[name=confirm_duplicate]")
    assert confirm.is_visible(), "the confirmation checkbox should show with the warning"
    assert "仍要保存" in page.inner_text("label[for=confirm_duplicate]")
    confirm.check()
    with page.expect_navigation():
        page.click("#save-visit")
    assert VISIT_PATH.match(path_of(page)), (
        f"a confirmed save should store the visit, got {page.url}: {form_errors(page)}")
    assert "走访已记录" in page.inner_text("main")

    assert stored_visits(live_server, company) == [
        (company, "officer2", "区中韩办", six_days_ago, None),
        (company, "officer1", "光伏产业园", today(), None)]
    assert companies_named(live_server, company) == 1
    problems.assert_clean(expected_statuses=[(409, "/visits/new")])


def test_company_suggestions(open_page, live_server, factory):
    """Typing part of a name lists the existing companies that match in the datalist."""
    factory.project(name="宁德时代电池项目", company_name="宁德时代新能源")
    factory.project(name="隆基组件项目", company_name="隆基绿能")
    db.session.commit()

    page, problems = open_page(PHONE)
    login(page, "officer1")
    page.goto("/visits/new")
    assert page.get_attribute("input[name=company_name]", "list") == "company-options"
    with page.expect_response(lambda r: urlsplit(r.url).path == "/companies/lookup") as resp:
        page.locator("input[name=company_name]").press_sequentially("宁德")
    assert resp.value.status == 200
    page.locator('#company-options option[value="宁德时代新能源"]').wait_for(state="attached")
    options = page.eval_on_selector_all("#company-options option", "os => os.map(o => o.value)")
    assert options == ["宁德时代新能源"], f"only the matching company is suggested: {options}"
    problems.assert_clean()


def test_double_click_save_stores_one_visit(open_page, live_server):
    """A quick double click on 保存 stores one visit."""
    company = "双击测试投资方"
    page, problems = open_page(PHONE)
    login(page, "officer1")
    with page.expect_navigation():
        page.click("#log-visit")
    page.fill("input[name=company_name]", company)
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    with page.expect_navigation():
        page.dblclick("#save-visit")
    page.wait_for_load_state("networkidle")
    assert VISIT_PATH.match(path_of(page)), (
        f"the double-clicked save should open the visit, got {page.url}: {form_errors(page)}")
    assert len(stored_visits(live_server, company)) == 1, (
        f"a double click must store one visit; POSTs sent: {posts}")
    assert companies_named(live_server, company) == 1
    problems.assert_clean()


def test_form_submitted_twice_at_once_stores_one_visit(open_page, live_server):
    """The same form posted twice concurrently (bypassing the page's guard, as a flaky
    network's retry would) stores one visit; both answers lead to it."""
    company = "并发提交测试投资方"
    page, problems = open_page(PHONE)
    login(page, "officer1")
    page.goto("/visits/new")
    page.fill("input[name=company_name]", company)
    results = page.evaluate("""async () => {
      const form = document.querySelector("#save-visit").form;
      const body = new URLSearchParams(new FormData(form)).toString();
      const send = () => fetch(form.action || location.href, {
        method: "POST", body, credentials: "same-origin",
        headers: {"Content-Type": "application/x-www-form-urlencoded"}});
      const answers = await Promise.all([send(), send()]);
      return answers.map(r => [r.status, new URL(r.url).pathname, r.redirected]);
    }""")
    for status, path, redirected in results:
        assert status == 200 and redirected and VISIT_PATH.match(path), (
            f"each submit should redirect to the visit: {results}")
    assert results[0][1] == results[1][1], f"both submits should lead to one visit: {results}"
    assert len(stored_visits(live_server, company)) == 1, \
        f"two concurrent submits of one form must store one visit: {results}"
    assert companies_named(live_server, company) == 1
    problems.assert_clean()
