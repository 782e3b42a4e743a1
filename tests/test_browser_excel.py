"""Excel end to end in Chromium against a live server with CSRF on: an administrator
uploads a hand-made ledger, follows the check to its preview, reads the counts and the
row's error, chooses to skip the bad row, confirms, sees the outcome, and downloads the
monthly report. The fixtures come from tests/test_browser.py."""
import io

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from crm.extensions import db
from crm.models import Project
from tests import test_browser
from tests.test_browser import DESKTOP, login
from tests.test_excel_import import BAD_ROWS, messy_ledger

browser = test_browser.browser
live_server = test_browser.live_server
open_page = test_browser.open_page

pytestmark = pytest.mark.browser


def test_upload_preview_confirm_and_download_the_monthly_report(open_page, live_server,
                                                                tmp_path):
    path = tmp_path / "招商台账.xlsx"
    path.write_bytes(messy_ledger(BAD_ROWS[:1]))
    page, problems = open_page(DESKTOP)
    login(page, "admin1")

    page.goto("/projects/")
    with page.expect_navigation():
        page.click("#import-ledger")
    page.set_input_files("input[name=file]", str(path))
    with page.expect_navigation():
        page.click("#upload-form button[type=submit]")
    # The upload returns at once; the page follows the check and reloads at its end.
    page.wait_for_selector("#import-counts", timeout=60_000)
    assert page.inner_text("[data-count=created]") == "6"
    assert page.inner_text("[data-count=errors]") == "3"
    errors = page.inner_text("#import-errors")
    assert "第 14 行 F 列「总投资（亿元）」：金额不能为负数" in errors
    assert "第 14 行 H 列「时间节点/签约」：日期 2022-02-30 不存在" in errors
    assert "恒源12GW光伏组件" in page.inner_text("#import-rows")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Project)) == 0

    page.check("input[name=mode][value=skip]")
    with page.expect_navigation():
        page.click("#commit-form button[type=submit]")
    page.wait_for_selector("#import-done", timeout=60_000)
    assert "导入完成：新建 6 个、更新 0 个项目。" in page.inner_text("#import-done")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Project)) == 6

    page.goto("/reports/monthly")
    with page.expect_download() as download:
        page.click("#monthly-form button[type=submit]")
    assert download.value.suggested_filename.startswith("招商月报")
    workbook = load_workbook(io.BytesIO(open(download.value.path(), "rb").read()),
                             read_only=True)
    assert "汇总" in workbook.sheetnames
    problems.assert_clean()
