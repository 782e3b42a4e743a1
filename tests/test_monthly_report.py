"""The monthly report (月报): its sheets, headings and print settings; every figure equal
to the dashboard's for the same month end and to a count made here from the test data;
a past month unchanged by later milestones; user text never a formula; the CLI and the
download (Chinese name, not cached, bad months refused in Chinese)."""
import re
import zipfile
from datetime import date
from decimal import Decimal
from io import BytesIO
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from crm import lifecycle
from crm.clock import today
from crm.dashboard import queries as q
from crm.excel import monthly
from crm.excel.columns import LEDGER_COLUMNS
from crm.extensions import db
from crm.lifecycle import parse_partial_date
from crm.models import CoordinationIssue, Target, Visit, visit_participant, visit_project
from crm.projects.queries import ProjectFilters
from crm.projects.services import advance_stage
from crm.targets.queries import targets_for
from tests.conftest import login, statement_count
from tests.test_dashboard import _make as _dashboard_make

MONTH = date(2025, 10, 1)
AS_OF = date(2025, 10, 31)
ZONE = "测试经济开发区招商局"
SHEETS = ["汇总", "新签约项目", "新开工项目", "新投产项目", "新达产项目", "分来源地", "分产业",
          "分责任单位", "滞后项目", "需协调事项", "走访情况", "项目台账"]
LEDGER = {c.key: i for i, c in enumerate(LEDGER_COLUMNS)}


def _make(factory, admin, name, created=date(2025, 1, 2), **kw):
    """A project with its creation day, milestones and status, committed (the
    dashboard tests' helper, created in 2025 by default)."""
    return _dashboard_make(factory, admin, name, created=created, **kw)


def _visit(day, company_id, unit, by, participants=(), leader=False, trip=None):
    """A visit logged by ``by`` (leader-led: a reception), with participants or a trip."""
    v = Visit(visited_on=day, kind="visit" if not leader else "reception",
              company_id=company_id, unit_id=unit.id, created_by_id=by.id,
              led_by_leader=leader)
    if trip:
        v.trip_destination, v.trip_start, v.trip_end = trip
    db.session.add(v)
    db.session.flush()
    for user in participants:
        db.session.execute(visit_participant.insert().values(visit_id=v.id, user_id=user.id))
    return v


@pytest.fixture
def world(app, factory, users):
    """Signings, starts, production and full capacity in October 2025, earlier in the
    year and after it; CNY and USD; a month-precision signing; a drop inside and one
    after the month; a red and a yellow 三未; leads; issues open, closed and later;
    visits, a leader-led one, a participant and a trip; targets of the zone and a unit."""
    app.config["ZONE_NAME"] = ZONE
    a = users["admin"]
    made = {
        "A": _make(factory, a, "甲光伏", regions=("上海", "苏州"), amount="50000",
                   milestones={"signed": "2025-10-15"}),
        "B": _make(factory, a, "乙电池", unit="区中韩办", regions=("韩国",),
                   industry="动力电池及储能", amount="30000", currency="USD",
                   milestones={"signed": "2025-03-10", "started": "2025-10-08"}),
        # month precision, ≥ 10亿元: a major signing of October
        "C": _make(factory, a, "丙酒店", unit="区经发局", regions=("深圳",),
                   industry="现代服务业", amount="200000", milestones={"signed": "2025-10"}),
        # signed in February, never started: red on October 31 (272 days)
        "D": _make(factory, a, "丁组件", regions=("苏州",), amount="120000",
                   milestones={"signed": "2025-02-01"}),
        "E": _make(factory, a, "戊后签", regions=("日本",), amount="10000",
                   milestones={"signed": "2025-11-20"}),
        "F": _make(factory, a, "己投产", unit="区中韩办", regions=("韩国",),
                   industry="动力电池及储能", amount="20000", currency="USD",
                   created=date(2024, 4, 1),
                   milestones={"signed": "2024-05-01", "started": "2024-09-01",
                               "producing": "2025-10-20"}),
        "G": _make(factory, a, "庚达产", unit="区经发局", regions=("日本",),
                   industry="现代服务业", amount="40000", created=date(2022, 12, 1),
                   milestones={"signed": "2023-01-01", "started": "2023-06-01",
                               "producing": "2024-01-01", "at_capacity": "2025-10-31"}),
        # signed June 15: yellow on October 31 (138 days)
        "H": _make(factory, a, "辛黄灯", unit="区经发局", regions=("深圳",),
                   industry="现代服务业", amount="30000", milestones={"signed": "2025-06-15"}),
        # signed and dropped in October: a signing of the month, not in the pipeline
        "I": _make(factory, a, "壬终止", amount="70000", milestones={"signed": "2025-10-05"},
                   status="dropped", status_on="2025-10-25"),
        # dropped after the month: in October's pipeline, 正常推进 then
        "J": _make(factory, a, "癸后终止", unit="区中韩办", regions=("韩国",),
                   industry="动力电池及储能", amount="10000", currency="USD",
                   milestones={"signed": "2025-04-01", "started": "2025-05-01"},
                   status="dropped", status_on="2025-11-15"),
        "L": _make(factory, a, "子在谈", created=date(2025, 9, 1), amount="20000"),
        # user text that looks like a formula
        "M": _make(factory, a, "=1+1", created=date(2025, 10, 10), amount="20000",
                   notes='=HYPERLINK("http://x.test","点我")'),
        "N": _make(factory, a, "丑未来", created=date(2025, 12, 1), amount="20000"),
    }
    unit = factory.unit
    for raised, closed, text in ((date(2025, 9, 10), None, "用地指标未落实"),
                                 (date(2025, 8, 1), date(2025, 9, 1), "已解决的"),
                                 (date(2025, 10, 1), date(2025, 11, 10), "十月末仍未办结"),
                                 (date(2025, 11, 5), None, "十一月提出")):
        db.session.add(CoordinationIssue(
            project_id=made["D"].id, description=text, raised_on=raised, closed_on=closed,
            acting_unit_id=unit("区经发局").id, due_on=date(2025, 10, 10)))
    officer, other = users["officer"], users["other"]
    v1 = _visit(date(2025, 10, 3), made["A"].company_id, unit("光伏产业园"), officer,
                participants=[other])
    _visit(date(2025, 10, 21), made["D"].company_id, unit("光伏产业园"), officer,
           trip=("上海", date(2025, 10, 20), date(2025, 10, 23)))
    _visit(date(2025, 10, 22), made["B"].company_id, unit("区中韩办"), other, leader=True)
    _visit(date(2025, 11, 2), made["B"].company_id, unit("区中韩办"), other)
    db.session.execute(visit_project.insert().values(visit_id=v1.id, project_id=made["A"].id))
    db.session.add_all([
        Target(year=2025, unit_id=None, metric="signings", value=Decimal(10)),
        Target(year=2025, unit_id=None, metric="signed_amount", value=Decimal(50)),
        Target(year=2025, unit_id=unit("光伏产业园").id, metric="signings", value=Decimal(4))])
    db.session.commit()
    return made


def _report(app, tmp_path, month="2025-10"):
    """The report written by the CLI, opened."""
    out = tmp_path / f"月报-{month}.xlsx"
    result = app.test_cli_runner().invoke(
        args=["report", "monthly", "--month", month, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return load_workbook(out), out


def _rows(ws):
    """A sheet's rows of values."""
    return [list(r) for r in ws.iter_rows(values_only=True)]


def _values(wb) -> dict:
    """Every sheet's rows of values, by title."""
    return {ws.title: _rows(ws) for ws in wb}


def _row(ws, label):
    """The first row whose first cell is ``label``."""
    return next(r for r in _rows(ws) if r[0] == label)


def _num(value):
    """A cell's number as a Decimal (None stays None)."""
    return Decimal(str(value)) if value is not None else None


def _totals(cells) -> tuple:
    """(count, 亿元, 万美元) from three report cells."""
    return int(cells[0]), _num(cells[1]), _num(cells[2])


def _dash(t: q.Totals) -> tuple:
    """(count, 亿元, 万美元) of the dashboard's Totals."""
    return t.count, t.cny_wan / 10000, t.usd_wan


def _codes(world, *keys):
    """The codes of the world's projects ``keys``."""
    return {world[k].code for k in keys}


# ------------------------------------------------------------ shape

def test_sheets_headings_panes_and_print_settings(app, world, tmp_path):
    """The sheets in order; on each, the title and the 填报单位 / 截至日期 line, the
    panes frozen below the header, landscape fitted to the width with the header rows
    repeated on every page."""
    wb, _ = _report(app, tmp_path)
    assert wb.sheetnames == SHEETS == list(monthly.SHEETS)
    assert wb["汇总"]["A1"].value == f"{ZONE}招商引资工作月报（2025年10月）"
    assert wb["新签约项目"]["A1"].value == "2025年10月新签约项目一览表"
    assert wb["项目台账"]["A1"].value == "项目台账（截至2025年10月31日）"
    frozen = {"汇总": "A3", "走访情况": "A3", "滞后项目": "A10"}
    for ws in wb:
        second = _rows(ws)[1]
        assert second[0] == f"填报单位：{ZONE}", ws.title
        assert second[-1] == "截至日期：2025年10月31日", ws.title
        assert str(ws.merged_cells).startswith("A1:"), ws.title
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        # one page wide (1 is the attribute's default, so it may be left out), any height
        assert (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight) == (1, 0), ws.title
        pane = frozen.get(ws.title, "A4")
        assert ws.freeze_panes == pane, ws.title
        header = int(pane[1:]) - 1
        assert ws.print_title_rows == (f"$1:${header}" if ws.title in ("汇总", "走访情况")
                                       else f"${header}:${header}"), ws.title
        if header > 2:
            assert ws.cell(row=header, column=1).value in ("指标", "序号", "来源地", "产业",
                                                           "名次"), ws.title
    assert wb["项目台账"].auto_filter.ref.startswith("A3:T")


def test_the_summary_has_native_charts(app, world, tmp_path):
    """Bar, pie and completion charts on 汇总, drawn from its own cells."""
    _, out = _report(app, tmp_path)
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        assert "xl/charts/chart1.xml" in names and "xl/charts/chart3.xml" in names
        chart = z.read("xl/charts/chart1.xml").decode()
        rels = z.read("xl/worksheets/_rels/sheet1.xml.rels").decode()
    assert re.search(r"<c:f>'?汇总'?!\$B\$5:\$B\$8</c:f>", chart) and "drawing" in rels


# ------------------------------------------------------------ figures

def test_summary_equals_the_dashboard_and_the_test_data(app, as_role, world, tmp_path):
    """汇总's new milestones (month and year), pipeline and targets equal the dashboard's
    functions at the month end, its page, and a count made here."""
    wb, _ = _report(app, tmp_path)
    ws = wb["汇总"]
    month, year = q.period("month", AS_OF), q.period("year", AS_OF)
    base = ProjectFilters()
    for stage in q.TILE_STAGES:
        row = _row(ws, f"新{lifecycle.STAGE_LABELS[stage]}项目")
        assert _totals(row[1:4]) == _dash(q.reached(base, stage, month)), stage
        assert _totals(row[5:8]) == _dash(q.reached(base, stage, year)), stage
        assert _num(row[4]) == q.reached(base, stage, month).combined_yi
    # counted here: October's signings A (5亿), C (20亿), I (7亿, dropped later that month)
    assert _totals(_row(ws, "新签约项目")[1:4]) == (3, Decimal(32), 0)
    # the year's: + D (12亿), H (3亿) in CNY; B (3亿美元), J (1亿美元) in USD
    assert _totals(_row(ws, "新签约项目")[5:8]) == (7, Decimal(47), Decimal(40000))
    assert _totals(_row(ws, "新开工项目")[1:4]) == (1, 0, Decimal(30000))      # B
    assert _totals(_row(ws, "新开工项目")[5:8]) == (2, 0, Decimal(40000))      # + J
    assert _totals(_row(ws, "新投产项目")[1:4]) == (1, 0, Decimal(20000))      # F
    assert _totals(_row(ws, "新达产项目")[1:4]) == (1, Decimal(4), 0)          # G
    assert _row(ws, "其中：新签约10亿元以上项目")[1] == 1                        # C
    assert _row(ws, "其中：新签约10亿元以上项目")[5] == 3      # + D, B (21.3亿 at 7.1)

    stages = q.pipeline(base, AS_OF).by_stage()
    expected = {"lead": 3, "signed": 4, "started": 2, "producing": 1, "at_capacity": 1}
    for stage, n in expected.items():           # E L M; A C D H; B J; F; G
        row = _row(ws, str(lifecycle.STAGE_LABELS[stage]))
        assert _totals(row[1:4]) == _dash(stages[stage]) and row[1] == n, stage
    assert _row(ws, "合计")[1] == 11

    completions = q.completion(targets_for(2025), AS_OF)
    zone = [c for c in completions if c.target.unit_id is None]
    rows = [r for r in _rows(ws) if r[0] in ("新签约项目", "签约总投资") and r[2] in ("个", "亿元")]
    assert [(r[1], _num(r[3]), round(_num(r[4]), 6), round(_num(r[5]), 6), r[6]) for r in rows] \
        == [(int(c.target.value), c.actual, round(c.ratio, 6), round(c.pace, 6),
             "超序时" if c.ahead else "落后序时") for c in zone]
    assert [_num(r[3]) for r in rows] == [7, Decimal("47") + Decimal("4") * Decimal("7.1")]

    # ... and the dashboard page for that month end shows the same tiles
    page = as_role("leader").get(f"/dashboard/?as_of={AS_OF}").get_data(as_text=True)
    tiles = {k: int(n) for n, k in re.findall(r'data-count="(\d+)" data-tile="([^"]+)"', page)}
    for stage in q.TILE_STAGES:
        label = f"新{lifecycle.STAGE_LABELS[stage]}项目"
        assert tiles[f"month-{stage}"] == _row(ws, label)[1]
        assert tiles[f"year-{stage}"] == _row(ws, label)[5]
        assert tiles[f"pipeline-{stage}"] == _row(ws, str(lifecycle.STAGE_LABELS[stage]))[1]
    assert 'href="/reports/monthly?month=2025-10"' in page


def test_milestone_lists_hold_exactly_the_months_projects(app, world, tmp_path):
    """新签约 … 新达产: the projects whose milestone falls in October, by date, each with
    its amount in its currency, and a total equal to 汇总's."""
    wb, _ = _report(app, tmp_path)
    expected = {"新签约项目": ("A", "C", "I"), "新开工项目": ("B",), "新投产项目": ("F",),
                "新达产项目": ("G",)}
    for sheet, keys in expected.items():
        rows = _rows(wb[sheet])
        assert rows[2][:3] == ["序号", "项目编号", "项目名称"]
        body, total = rows[3:-1], rows[-1]
        assert {r[1] for r in body} == _codes(world, *keys), sheet
        assert [r[0] for r in body] == list(range(1, len(keys) + 1))
        summary = _row(wb["汇总"], sheet)
        assert (total[0], total[1], _num(total[7]), _num(total[8])) == (
            "合计", summary[1], _num(summary[2]), _num(summary[3])), sheet
    signed = {r[1]: r for r in _rows(wb["新签约项目"])[3:-1]}
    c = signed[world["C"].code]
    assert (c[2], c[4], c[5], c[6], _num(c[7]), c[8], c[9]) == (
        "丙酒店", "深圳", "现代服务业", "区经发局", Decimal(20), None, "2025-10")
    assert signed[world["I"].code][11] == "终止"       # dropped in October itself
    assert signed[world["A"].code][9].date() == date(2025, 10, 15)
    assert [r[2] for r in _rows(wb["新签约项目"])[3:-1]] == ["丙酒店", "壬终止", "甲光伏"]
    started = _rows(wb["新开工项目"])[3]
    assert (started[7], _num(started[8]), started[10]) == (None, Decimal(30000), "开工")


def test_breakdowns_by_region_industry_and_unit(app, world, tmp_path, factory):
    """分来源地 / 分产业 / 分责任单位: the dashboard's breakdowns and its filtered tiles,
    the unit ranking and the units' targets."""
    wb, _ = _report(app, tmp_path)
    month, year = q.period("month", AS_OF), q.period("year", AS_OF)
    stages = list(lifecycle.STAGES)

    regions = wb["分来源地"]
    by_region = q.by_region(ProjectFilters(), AS_OF)
    for gid, name, _ids in q.region_groups(None):
        row = _row(regions, name)
        f = ProjectFilters(region_id=gid)
        assert _totals(row[1:4]) == _dash(q.reached(f, "signed", month)), name
        assert _totals(row[4:7]) == _dash(q.reached(f, "signed", year)), name
        assert row[7:12] == [by_region.cells.get(gid, {}).get(s, q.Totals()).count
                             for s in stages], name
    # A (上海 and 苏州) counts once in 长三角, beside I (上海); C in 珠三角
    assert _row(regions, "长三角")[1] == 2 and _row(regions, "珠三角")[1] == 1
    assert _row(regions, "韩国")[7:13] == [0, 0, 2, 1, 0, 3]       # B J; F

    industries = wb["分产业"]
    assert _row(industries, "现代服务业")[1:4] == [1, 20, 0]        # C
    assert _row(industries, "光伏")[4] == 3                         # A D I
    by_industry = q.by_industry(ProjectFilters(), AS_OF)
    solar = factory.industry("光伏").id
    assert _row(industries, "光伏")[7:12] == [by_industry.cells[solar].get(s, q.Totals()).count
                                            for s in stages]
    total = _row(industries, "合计")
    assert total[1] == 3 and total[4] == 7 and total[12] == 11

    units = wb["分责任单位"]
    ranking = q.unit_ranking(ProjectFilters(), year, "signed_amount")
    rows = [r for r in _rows(units)[3:] if isinstance(r[0], int)]
    assert [(r[0], r[1]) for r in rows] == [(x.rank, x.name) for x in ranking]
    jingfa = _row_named(units, "区经发局")
    assert jingfa[2:4] == [1, 20] and jingfa[7:9] == [2, 23]        # C; C + H
    assert _row_named(units, "光伏产业园")[7] == 3                  # A D I
    # 区中韩办 28.4亿 (USD at 7.1), 光伏产业园 24亿, 区经发局 23亿
    assert [r[1] for r in rows[:3]] == ["区中韩办", "光伏产业园", "区经发局"]
    target = next(r for r in _rows(units) if r[0] == "光伏产业园" and r[1] == "新签约项目")
    assert target[2:6] == [4, "个", 3, 0.75]


def _row_named(ws, name):
    """The first row whose second cell is ``name``."""
    return next(r for r in _rows(ws) if len(r) > 1 and r[1] == name)


def test_stalled_projects_and_open_issues_on_the_month_end(app, world, tmp_path):
    """滞后项目: the dashboard's counts, and each 三未 with its days and light;
    需协调事项: the issues open on October 31 (one closed since), oldest first."""
    wb, _ = _report(app, tmp_path)
    ws = wb["滞后项目"]
    counts = q.stalled_counts(ProjectFilters(), AS_OF)
    rows = _rows(ws)
    kinds = rows[3][1:5]
    assert kinds == [str(lifecycle.STALLED_LABELS[s]) for s in counts]
    assert rows[4][1:5] == [counts[s]["yellow"] for s in counts]
    assert rows[5][1:5] == [counts[s]["red"] for s in counts]
    assert counts["signed"] == {"yellow": 1, "red": 1}
    listed = rows[9:]
    assert [(r[2], r[8], r[9]) for r in listed] == [
        (world["D"].code, (AS_OF - date(2025, 2, 1)).days, "红灯"),
        (world["H"].code, (AS_OF - date(2025, 6, 15)).days, "黄灯")]
    assert ws.cell(row=10, column=10).fill.fgColor.rgb.endswith("FFC7CE")

    issues = _rows(wb["需协调事项"])
    assert [r[4] for r in issues[3:-1]] == ["用地指标未落实", "十月末仍未办结"]
    first = issues[3]
    assert (first[1], first[3], first[6], first[8], first[9]) == (
        world["D"].code, "光伏产业园", "区经发局", (AS_OF - date(2025, 9, 10)).days, "超期")
    assert issues[-1][:2] == ["合计", 2]


def _section(ws, title):
    """The rows of a section: from below its header row to the next blank row."""
    rows = _rows(ws)
    start = next(i for i, r in enumerate(rows) if r[0] == title) + 2
    end = next((i for i in range(start, len(rows)) if not any(rows[i])), len(rows))
    return rows[start:end]


def test_visits_and_trips_of_the_month(app, world, tmp_path):
    """走访情况: October's visits per unit and per officer (taking part counts), and the
    trip's days."""
    wb, _ = _report(app, tmp_path)
    ws = wb["走访情况"]
    units = {r[0]: r[1:6] for r in _section(ws, "一、各单位走访情况")}
    assert units["光伏产业园"] == [2, 2, 0, 0, 2]
    assert units["区中韩办"] == [1, 0, 1, 1, 1]           # November's visit left out
    assert units["区经发局"] == [0, 0, 0, 0, 0]
    assert units["合计"] == [3, 2, 1, 1, 3]
    people = {(r[0], r[1]): r[2:4] for r in _section(ws, "二、人员走访情况（含参与的走访）")}
    # officer2 logged one visit and took part in officer1's
    assert people == {("光伏产业园", "officer1"): [2, 2], ("区中韩办", "officer2"): [2, 2]}
    trips = _section(ws, "三、外出招商情况")
    assert [r[:5] for r in trips] == [["光伏产业园", "officer1", 1, 4, 1],
                                      ["合计", None, 1, 4, None]]


def test_the_ledger_is_the_pipeline_on_the_month_end(app, world, tmp_path):
    """项目台账: the live projects of October 31 in the ledger's columns, each at its
    stage and status then, later milestones blank, the issues open then."""
    wb, _ = _report(app, tmp_path)
    rows = _rows(wb["项目台账"])
    assert rows[2] == [c.header for c in LEDGER_COLUMNS]
    got = {r[LEDGER["code"]]: r for r in rows[3:]}
    # E (signed in November) was a lead then; I dropped, N not yet created
    assert set(got) == _codes(world, "A", "B", "C", "D", "E", "F", "G", "H", "J", "L", "M")
    assert got[world["E"].code][LEDGER["stage"]] == "在谈"
    assert got[world["E"].code][LEDGER["signed_on"]] is None
    assert len(got) == _row(wb["汇总"], "合计")[1]
    j = got[world["J"].code]
    assert (j[LEDGER["stage"]], j[LEDGER["status"]]) == ("开工", "正常推进")
    assert got[world["F"].code][LEDGER["stage"]] == "投产"
    assert got[world["D"].code][LEDGER["issues"]] == "用地指标未落实；十月末仍未办结"
    assert got[world["C"].code][LEDGER["signed_on"]] == "2025-10"


def test_later_milestones_do_not_change_a_past_month(app, world, tmp_path, users, factory):
    """Advancing projects, closing an issue and signing new ones after October leave
    every cell of October's report as it was."""
    before, _ = _report(app, tmp_path)
    a = users["admin"]
    advance_stage(world["D"], "started", {"started": parse_partial_date("2025-11-10")}, a, None)
    advance_stage(world["A"], "producing", {"started": parse_partial_date("2025-12-01"),
                                            "producing": parse_partial_date("2026-02")}, a, None)
    for issue in db.session.scalars(select(CoordinationIssue)):
        issue.closed_on = issue.closed_on or date(2025, 12, 1)
    db.session.commit()
    _make(factory, a, "寅新签", created=date(2025, 11, 5), milestones={"signed": "2025-11-05"})
    after, _ = _report(app, tmp_path)
    assert _values(after) == _values(before)
    # ... while November's report does see them
    november, _ = _report(app, tmp_path, "2025-11")
    assert {r[1] for r in _rows(november["新开工项目"])[3:-1]} == _codes(world, "D")
    assert "寅新签" in {r[2] for r in _rows(november["新签约项目"])[3:-1]}


def test_text_that_looks_like_a_formula_stays_text(app, world, tmp_path):
    """A project named "=1+1" and a HYPERLINK note are string cells: no <f> element in
    any sheet, and they read back as typed."""
    wb, out = _report(app, tmp_path)
    with zipfile.ZipFile(out) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == len(SHEETS)
        for name in sheets:
            xml = z.read(name).decode()
            assert "<f>" not in xml and "<f " not in xml, name
    row = next(r for r in _rows(wb["项目台账"]) if r[LEDGER["name"]] == "=1+1")
    assert row[LEDGER["notes"]] == '=HYPERLINK("http://x.test","点我")'


@pytest.mark.parametrize("month, message", [
    ("2025-13", "月份格式应为 YYYY-MM"), ("abc", "月份格式应为 YYYY-MM"),
    ("1800-01", "月份格式应为 YYYY-MM"), ("2999-01", "不能生成未来月份的月报")])
def test_a_bad_month_is_refused(app, tmp_path, month, message):
    """The CLI names the problem in Chinese, exits non-zero and writes nothing."""
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "x.xlsx"
    result = app.test_cli_runner().invoke(
        args=["report", "monthly", "--month", month, "--out", str(out)])
    assert result.exit_code != 0 and message in result.output
    assert list(out.parent.iterdir()) == []


def test_the_download_page_and_workbook(app, as_role, world, tmp_path):
    """/reports/monthly offers the months (last complete one chosen); the download is
    the same workbook as the CLI's, under its Chinese name, never cached; a bad month is
    a Chinese message on the page, not a 500."""
    client = as_role("officer")
    page = client.get("/reports/monthly").get_data(as_text=True)
    last = monthly.last_complete_month(today())
    assert f'<option value="{last:%Y-%m}" selected>' in page
    assert f'value="{today():%Y-%m}"' in page and 'href="/reports/monthly"' in page

    response = client.get("/reports/monthly?month=2025-10&download=1")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "招商月报-2025年10月.xlsx"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype.endswith("spreadsheetml.sheet")
    cli, _ = _report(app, tmp_path)
    assert _values(load_workbook(BytesIO(response.data))) == _values(cli)

    for bad in ("2025-13", "2999-01", "x"):
        response = client.get(f"/reports/monthly?month={bad}&download=1")
        assert response.status_code == 400 and response.mimetype == "text/html"
        assert 'id="month-error"' in response.get_data(as_text=True)
    assert "月份格式应为" in client.get("/reports/monthly?month=x").get_data(as_text=True)
    assert client.get("/reports/monthly?month=2025-10").status_code == 200


def test_the_current_month_is_reported_to_date(app, world, tmp_path):
    """This month's report counts to today, as the dashboard's "today" does."""
    wb, _ = _report(app, tmp_path, f"{today():%Y-%m}")
    day = today()
    assert _rows(wb["汇总"])[1][-1] == f"截至日期：{day.year}年{day.month}月{day.day}日"
    stages = q.pipeline(ProjectFilters(), day).by_stage()
    assert _row(wb["汇总"], "合计")[1] == sum(t.count for t in stages.values())


def test_the_report_query_count_does_not_grow_with_projects(app, users, factory):
    """Lists and the ledger declare their eager loads: 3 projects or 15 (with regions,
    issues, visits) cost the same statements."""
    client = app.test_client()
    login(client, users["leader"].username)
    url = f"/reports/monthly?month={today():%Y-%m}&download=1"

    def add(i):
        """A project signed today with two region tags and an open issue."""
        p = factory.project(f"项目{i}", regions=["上海", "韩国"])
        advance_stage(p, "signed", {"signed": lifecycle.PartialDate(today())},
                      users["admin"], None)
        db.session.add(CoordinationIssue(project_id=p.id, description="问题",
                                         raised_on=today()))
        db.session.commit()

    for i in range(3):
        add(i)
    few = statement_count(client, url)
    for i in range(3, 15):
        add(i)
    assert statement_count(client, url) == few
