"""The pipeline board (看板) end to end: Debian's Chromium driven by Playwright against a
live server with CSRF on.

Covers the issue's "Done when": an officer drags a 在谈 card onto the 签约 column, lands
on the stage gate with 签约 chosen, gives the signing date and is back on the board with
the card moved and the counts updated; a card dropped on an earlier column goes
nowhere; on a 390×844 phone the columns scroll inside the board (the page does not
overflow) and a card's 推进 link does what a drag does, through the gate's required
fields, back to the filtered board. Every test also checks that no page logs a
JavaScript or console error.

The browser, live server, page and console-error fixtures come from tests/test_browser.py
(so the skip-locally / fail-in-CI rule and the launch arguments are the same). A
screenshot of the board goes to /tmp/board-desktop.png and /tmp/board-phone.png.
"""
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from crm.extensions import db
from crm.lifecycle import parse_partial_date
from crm.models import Project, Unit
from crm.projects.services import advance_stage
from tests import test_browser
from tests.test_browser import DESKTOP, PHONE, horizontal_overflow, login, make_project, stage_of

# The browser, live server and page fixtures of test_browser.py, bound to their names
# here so pytest finds them (an assignment, not an import, keeps pyflakes' F811 quiet
# about test arguments of the same name).
browser = test_browser.browser
live_server = test_browser.live_server
open_page = test_browser.open_page

pytestmark = pytest.mark.browser

SCREENSHOT_DESKTOP = "/tmp/board-desktop.png"
SCREENSHOT_PHONE = "/tmp/board-phone.png"


def path_of(page) -> str:
    return urlsplit(page.url).path


def form_errors(page) -> list[str]:
    return page.locator("#form-errors").all_inner_texts()


def count_of(page, stage) -> str:
    return page.inner_text(f"#column-{stage} .board-count").strip()


def card(page, stage, project_id):
    return page.locator(f"#column-{stage} .board-card[data-project-id='{project_id}']")


def signed_project(factory, users, name) -> int:
    """A project of the officer's unit already signed (so the 签约 column has a card)."""
    project = factory.project(name=name, unit="光伏产业园")
    advance_stage(project, "signed", {"signed": parse_partial_date("2024-01-10")},
                  users["admin"], None)
    db.session.commit()
    return project.id


def test_officer_drags_a_card_through_the_gate(open_page, live_server, factory, users):
    """Done when: drag a 在谈 card to 签约, fill the gate, back on the board with the card
    in 签约 and the counts updated; an earlier column is no drop target."""
    lead_id = make_project(factory, name="看板拖动项目", unit="光伏产业园")
    signed_id = signed_project(factory, users, "看板已签约项目")
    page, problems = open_page(DESKTOP)
    login(page, "officer1")

    page.goto("/board/")
    assert count_of(page, "lead") == "1 个" and count_of(page, "signed") == "1 个"
    assert "共 2 个" in page.inner_text("h1")
    assert card(page, "lead", lead_id).get_attribute("draggable") == "true"

    # Back is a correction (admin, on the project page): dropping on 在谈 does nothing.
    card(page, "signed", signed_id).drag_to(page.locator("#column-lead"))
    page.wait_for_timeout(300)
    assert path_of(page) == "/board/", f"a drop on an earlier column navigated: {page.url}"
    assert stage_of(live_server, signed_id) == "signed"

    page.screenshot(path=SCREENSHOT_DESKTOP, full_page=True)
    with page.expect_navigation():
        card(page, "lead", lead_id).drag_to(page.locator("#column-signed"))
    assert path_of(page) == f"/projects/{lead_id}/advance", page.url
    query = parse_qs(urlsplit(page.url).query)
    assert query == {"stage": ["signed"], "next": ["/board/"]}, query
    assert page.input_value("select[name=stage]") == "signed", "签约 should be preselected"
    assert page.locator("input[name=signed_on]").is_visible()
    assert not page.locator("input[name=started_on]").is_visible()

    page.fill("input[name=signed_on]", "2024-05-20")
    with page.expect_navigation():
        page.click("form button[type=submit]:has-text('确认推进')")
    assert path_of(page) == "/board/", (
        f"the gate should return to the board: {page.url} {form_errors(page)}")
    assert "阶段已更新为：签约" in page.inner_text("main")
    assert card(page, "signed", lead_id).count() == 1, "the card is in the 签约 column"
    assert card(page, "lead", lead_id).count() == 0
    assert count_of(page, "lead") == "0 个" and count_of(page, "signed") == "2 个"
    assert stage_of(live_server, lead_id) == "signed"
    with live_server.app.app_context():
        assert str(db.session.get(Project, lead_id).milestone("signed")) == "2024-05-20"
        db.session.remove()
    problems.assert_clean()


def test_phone_board_scrolls_inside_and_advance_link_fills_the_gate(
        open_page, live_server, factory, users):
    """On a 390×844 phone: no page overflow, the columns scroll sideways; 推进 on a lead
    that lacks the signing details opens the gate with 签约 chosen; a refused gate
    stays; filled in, it returns to the filtered board with the card moved."""
    lead_id = make_project(factory, name="手机看板项目", unit="光伏产业园",
                           signing_ready=False)
    signed_project(factory, users, "手机已签约项目")
    make_project(factory, name="别的单位项目", unit="区中韩办")
    with live_server.app.app_context():
        unit_id = db.session.scalar(sa.select(Unit.id).where(Unit.name == "光伏产业园"))
        db.session.remove()
    page, problems = open_page(PHONE)
    login(page, "officer1")

    page.goto(f"/board/?unit={unit_id}")
    assert count_of(page, "lead") == "1 个", "the unit filter applies"
    assert horizontal_overflow(page) is None, horizontal_overflow(page)
    widths = page.evaluate("() => { const b = document.getElementById('board');"
                           " return [b.scrollWidth, b.clientWidth]; }")
    assert widths[0] > widths[1], f"the columns should scroll inside the board: {widths}"
    page.screenshot(path=SCREENSHOT_PHONE, full_page=True)

    with page.expect_navigation():
        card(page, "lead", lead_id).locator(".board-advance").click()
    assert path_of(page) == f"/projects/{lead_id}/advance"
    assert page.input_value("select[name=stage]") == "signed"
    page.fill("input[name=signed_on]", "2024-06")
    with page.expect_navigation():
        page.click("form button[type=submit]:has-text('确认推进')")
    assert path_of(page) == f"/projects/{lead_id}/advance", "a refused gate stays"
    errors = " ".join(form_errors(page))
    assert "投资方：签约及以后阶段的项目必须填写" in errors, errors

    page.fill("input[name=p-company_name]", "手机看板新能源有限公司")
    page.select_option("select[name=p-region_ids]", label="上海")
    page.select_option("select[name=p-industry_id]", label="光伏")
    page.fill("input[name=p-investment_value]", "3.5")
    page.select_option("select[name=p-investment_unit]", value="亿元")
    with page.expect_navigation():
        page.click("form button[type=submit]:has-text('确认推进')")
    assert path_of(page) == "/board/", (
        f"the gate should return to the board: {page.url} {form_errors(page)}")
    assert parse_qs(urlsplit(page.url).query) == {"unit": [str(unit_id)]}, \
        "back on the board with its filters"
    assert card(page, "signed", lead_id).count() == 1
    assert count_of(page, "lead") == "0 个" and count_of(page, "signed") == "2 个"
    assert "3.5 亿元" in card(page, "signed", lead_id).inner_text()
    assert horizontal_overflow(page) is None, horizontal_overflow(page)
    assert stage_of(live_server, lead_id) == "signed"
    problems.assert_clean(expected_statuses=[(400, f"/projects/{lead_id}/advance")])
