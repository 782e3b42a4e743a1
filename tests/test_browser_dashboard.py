"""The dashboard (驾驶舱) end to end: Debian's Chromium driven by Playwright against a
live server with CSRF on, signed in as a leader.

Covers: every chart (ECharts, drawn on canvas) renders without a JavaScript or console
error; a real mouse click on the funnel's 签约 piece lands on the project list filtered
to the live pipeline's signed projects (stage=signed with an as_of day), whose 共 N 个
equals the 签约 tile's count and whose rows are exactly the dataset's signed projects
(a dropped signing is not among them, one on hold is); and on a 390×844 phone the page
does not overflow sideways while the charts still render.

The browser, live server, page and console-error fixtures come from tests/test_browser.py
(so the skip-locally / fail-in-CI rule, the launch arguments and TIMEOUT_MS are the
same); the projects are built with tests/test_dashboard.py's ``_make``. Screenshots go
to /tmp/dashboard-desktop.png and /tmp/dashboard-phone.png.
"""
import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from tests import test_browser
from tests.test_browser import DESKTOP, PHONE, horizontal_overflow, login
from tests.test_dashboard import _make

# The browser, live server and page fixtures of test_browser.py, bound to their names
# here so pytest finds them (an assignment, not an import, keeps pyflakes' F811 quiet
# about test arguments of the same name).
browser = test_browser.browser
live_server = test_browser.live_server
open_page = test_browser.open_page

pytestmark = pytest.mark.browser

SCREENSHOT_DESKTOP = "/tmp/dashboard-desktop.png"
SCREENSHOT_PHONE = "/tmp/dashboard-phone.png"
CHARTS = ["funnel", "monthly", "region", "industry", "unit"]   # DOM order
FUNNEL_SIGNED = 1   # the funnel's pieces run lead, signed, started, producing, at_capacity

# The live pipeline's signed projects of the dataset below.
SIGNED = {"驾驶舱签约甲", "驾驶舱签约乙", "驾驶舱签约暂缓"}

AS_OF = re.compile(r"截至 (\d{4}-\d{2}-\d{2})")

CHARTS_RENDERED_JS = """(expected) => {
  const charts = [...document.querySelectorAll('[data-chart]')];
  return charts.length === expected
    && charts.every(el => el.dataset.rendered === '1' && el.querySelector('canvas'))
    && Array.isArray(window.dashboardCharts) && window.dashboardCharts.length === expected;
}"""

# Whether the funnel has settled: its pieces exist and none is still animating (a
# click on a piece that is still growing into place can miss it).
FUNNEL_SETTLED_JS = """(index) => {
  const chart = window.dashboardCharts && window.dashboardCharts[0];
  if (!chart) { return false; }
  const piece = chart.getModel().getSeriesByIndex(0).getData().getItemGraphicEl(index);
  return !!piece && (!piece.animators || piece.animators.length === 0);
}"""

# The centre of a funnel piece in viewport coordinates: the mean of its polygon's
# points (chart coordinates, CSS pixels from the chart's top left) plus the chart
# element's position on the page.
FUNNEL_PIECE_CENTRE_JS = """(index) => {
  const chart = window.dashboardCharts[0];
  const layout = chart.getModel().getSeriesByIndex(0).getData().getItemLayout(index);
  const points = layout.points;
  const x = points.reduce((s, p) => s + p[0], 0) / points.length;
  const y = points.reduce((s, p) => s + p[1], 0) / points.length;
  const box = chart.getDom().getBoundingClientRect();
  const item = chart.getOption().series[0].data[index];
  return {x: box.left + x, y: box.top + y, points: points, name: item.name,
          value: item.value};
}"""


def make_dataset(factory, users):
    """A few projects in two units (光伏产业园, 区中韩办) from 上海 and 韩国, every
    milestone in the past; three of them are 签约 in the live pipeline today."""
    a = users["admin"]
    _make(factory, a, "驾驶舱在谈", created=date(2025, 1, 6))
    _make(factory, a, "驾驶舱签约甲", milestones={"signed": "2025-03-10"})
    _make(factory, a, "驾驶舱签约乙", unit="区中韩办", regions=("韩国",),
          industry="动力电池及储能", milestones={"signed": "2025-02"})
    # On hold: still in the pipeline, still 签约.
    _make(factory, a, "驾驶舱签约暂缓", unit="区中韩办", regions=("韩国", "上海"),
          industry="动力电池及储能", amount="30000", currency="USD",
          milestones={"signed": "2025-06-15"}, status="on_hold", status_on="2025-09-01")
    # Signed, then dropped: out of the pipeline, so not among the signed.
    _make(factory, a, "驾驶舱签约终止", milestones={"signed": "2025-04-01"},
          status="dropped", status_on="2025-08-01")
    _make(factory, a, "驾驶舱开工", amount="200000",
          milestones={"signed": "2024-05-01", "started": "2024-08"})
    _make(factory, a, "驾驶舱投产", unit="区中韩办", regions=("韩国",),
          industry="动力电池及储能",
          milestones={"signed": "2024-01-10", "started": "2024-06",
                      "producing": "2025-09-01"})


def wait_for_charts(page):
    page.wait_for_function(CHARTS_RENDERED_JS, arg=len(CHARTS))
    assert page.eval_on_selector_all(
        "[data-chart]", "els => els.map(e => e.dataset.chart)") == CHARTS


def list_rows(page) -> list[str]:
    """The project names the list shows."""
    return [t.strip() for t in page.locator("#project-table tbody td:nth-child(2) a")
            .all_inner_texts()]


def test_funnel_click_lands_on_the_signed_projects(open_page, live_server, factory, users):
    """Charts render cleanly; clicking the funnel's 签约 piece opens the list of exactly
    the signed projects, as many as the 签约 tile says."""
    make_dataset(factory, users)
    page, problems = open_page(DESKTOP)
    login(page, "leader1")

    page.goto("/dashboard/")
    wait_for_charts(page)
    as_of = AS_OF.search(page.inner_text("h1")).group(1)
    tile = page.locator('[data-tile="pipeline-signed"]')
    count = int(tile.get_attribute("data-count"))
    assert count == len(SIGNED), f"the 签约 tile shows {count}, expected {len(SIGNED)}"
    page.screenshot(path=SCREENSHOT_DESKTOP, full_page=True)
    problems.assert_clean()

    page.locator('[data-chart="funnel"]').scroll_into_view_if_needed()
    page.wait_for_function(FUNNEL_SETTLED_JS, arg=FUNNEL_SIGNED)
    piece = page.evaluate(FUNNEL_PIECE_CENTRE_JS, FUNNEL_SIGNED)
    assert piece["name"] == "签约" and piece["value"] == count, piece
    try:
        with page.expect_navigation():
            page.mouse.click(piece["x"], piece["y"])
    except Exception as exc:  # Playwright's TimeoutError: the click opened nothing
        pytest.fail(f"clicking the funnel's 签约 piece at {piece} did not navigate: {exc}")

    url = urlsplit(page.url)
    query = parse_qs(url.query)
    assert url.path == "/projects/", f"the click on {piece} landed on {page.url}"
    assert query.get("stage") == ["signed"], page.url
    assert query.get("as_of") == [as_of], f"as_of should be the dashboard's {as_of}: {page.url}"
    scope = page.inner_text("#scope")
    assert f"截至 {as_of} 的在库项目" in scope, scope
    heading = page.inner_text("h1")
    assert f"共 {count} 个" in heading, f"the list shows {heading!r}, the tile {count}"
    assert sorted(list_rows(page)) == sorted(SIGNED)
    badges = page.locator("#project-table tbody td:nth-child(4) .badge").all_inner_texts()
    assert badges == ["签约"] * count, badges
    problems.assert_clean()


def test_phone_dashboard_fits_and_renders(open_page, live_server, factory, users):
    """On a 390×844 phone the charts render and the page does not overflow sideways."""
    make_dataset(factory, users)
    page, problems = open_page(PHONE)
    login(page, "leader1")

    page.goto("/dashboard/")
    wait_for_charts(page)
    widths = page.eval_on_selector_all(
        "[data-chart] canvas", "els => els.map(e => e.getBoundingClientRect().width)")
    assert len(widths) >= len(CHARTS) and all(w > 0 for w in widths), widths
    page.screenshot(path=SCREENSHOT_PHONE, full_page=True)
    assert horizontal_overflow(page) is None, horizontal_overflow(page)
    problems.assert_clean()
