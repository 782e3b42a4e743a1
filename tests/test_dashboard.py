"""The dashboard (驾驶舱): every figure equals the project list behind its link and the
same figure recomputed in Python from the milestone dates; past months stay put;
序时进度 and completion at the start, middle and end of a year."""
import html
import json
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm import lifecycle
from crm.clock import LOCAL_TZ, today
from crm.dashboard import queries as q
from crm.visits.services import sync_last_visit
from crm.extensions import db
from crm.lifecycle import parse_partial_date
from crm.models import Industry, Project, Target, Visit, visit_project
from crm.projects.queries import ProjectFilters, live_on, stage_on_condition, stage_on_expr
from crm.projects.services import advance_stage, set_status
from tests.conftest import login, statement_count

AS_OF = date(2025, 6, 30)


def _utc(day: date, hour: int = 10) -> datetime:
    """A local (Asia/Shanghai) time on ``day`` as the naive UTC time the db stores."""
    local = datetime(day.year, day.month, day.day, hour, tzinfo=LOCAL_TZ)
    return local.astimezone(timezone.utc).replace(tzinfo=None)


def _make(factory, admin, name, unit="光伏产业园", regions=("上海",), industry="光伏",
          amount="50000", currency="CNY", created=date(2024, 12, 1), milestones=None,
          status=None, status_on=None, signing_ready=True, **details):
    kw = dict(regions=list(regions), industry=industry,
              investment_amount=Decimal(amount) if amount else None,
              investment_currency=currency) if signing_ready else {}
    p = factory.project(name, unit=unit, by=admin, signing_ready=signing_ready, **kw,
                        **details)
    p.created_at = _utc(created)
    if milestones:
        target = max(milestones, key=lifecycle.stage_index)
        advance_stage(p, target, {s: parse_partial_date(t) for s, t in milestones.items()},
                      admin, None)
    if status:
        set_status(p, status, "原因", parse_partial_date(status_on), admin, None)
    db.session.commit()
    return p


@pytest.fixture
def world(factory, users):
    """Projects chosen for the edges: month/year precision, a month-end signing, drops
    before and after the as-of day, a lead created after it, a project in two region
    groups, USD amounts, a project without unit, a stale and a fresh lead."""
    a = users["admin"]
    made = {
        # 上海 and 苏州 both roll up into 长三角: counted once there.
        "A": _make(factory, a, "甲光伏", regions=("上海", "苏州"), amount="500000",
                   milestones={"signed": "2025-01-15", "started": "2025-03"}),
        "B": _make(factory, a, "乙电池", unit="区中韩办", regions=("韩国",),
                   industry="动力电池及储能", amount="30000", currency="USD",
                   milestones={"signed": "2025-02-10", "started": "2025-06-01",
                               "producing": "2025-06-30"}),
        # signed on a month end, dropped in June: counts in March, not in the pipeline.
        "C": _make(factory, a, "丙酒店", unit="区经发局", regions=("深圳",),
                   industry="现代服务业", amount="50000",
                   milestones={"signed": "2025-03-31"}, status="dropped",
                   status_on="2025-06-15"),
        # dropped after the as-of day: still in the pipeline on it.
        "D": _make(factory, a, "丁组件", regions=("苏州",), amount="120000",
                   milestones={"signed": "2025-05-20"}, status="dropped",
                   status_on="2025-07-02"),
        "E": _make(factory, a, "戊在谈久", created=date(2025, 1, 5), amount="80000"),
        "F": _make(factory, a, "己在谈新", created=date(2025, 6, 20), amount="20000"),
        "G": _make(factory, a, "庚未来", created=date(2025, 7, 3), amount="20000"),
        # two region groups (韩国 and 长三角), on hold: stays in the pipeline.
        "H": _make(factory, a, "辛双源", unit="区中韩办", regions=("韩国", "上海"),
                   industry="动力电池及储能", amount="20000",
                   milestones={"signed": "2024-11-11", "started": "2025-01-02"},
                   status="on_hold", status_on="2025-05-01"),
        # year precision: counts from January.
        "I": _make(factory, a, "壬年份", unit="区经发局", regions=("深圳",),
                   industry="现代服务业", amount="150000", milestones={"signed": "2025"}),
        "J": _make(factory, a, "癸后签", amount="60000", milestones={"signed": "2025-07-05"}),
        "K": _make(factory, a, "子达产", unit="区经发局", regions=("日本",),
                   industry="现代服务业", amount="40000",
                   milestones={"signed": "2023-01-01", "started": "2023-06-01",
                               "producing": "2024-01-01", "at_capacity": "2025-04-30"}),
        "L": _make(factory, a, "丑无单位", unit=None, signing_ready=False,
                   created=date(2025, 2, 1)),
        # signed long ago, never started: red 三未 by the as-of day.
        "M": _make(factory, a, "寅三未", regions=("日本",), amount="10000",
                   milestones={"signed": "2024-09-01"}),
    }
    # The fresh lead was visited in June; the stale one last in January.
    for key, day in (("F", date(2025, 6, 25)), ("E", date(2025, 1, 20))):
        visit = Visit(visited_on=day, kind="visit", company_id=made[key].company_id,
                      unit_id=made[key].unit_id)
        db.session.add(visit)
        db.session.flush()
        db.session.execute(visit_project.insert().values(visit_id=visit.id,
                                                         project_id=made[key].id))
    sync_last_visit(None)   # the visits were linked past the visit service
    db.session.commit()
    return made


# ------------------------------------------------------------ recomputed in Python

def _local_day(ts: datetime) -> date:
    return (ts + timedelta(hours=8)).date()


def _all():
    return db.session.scalars(select(Project)).all()


def _live(p, day):
    exists = (p.signed_on is not None and p.signed_on <= day) or \
        _local_day(p.created_at) <= day
    dropped = p.status == "dropped" and (p.status_on is None or p.status_on <= day)
    return exists and not dropped


def _stage(p, day):
    return lifecycle.stage_on(p.milestones, day)


def _reached(p, stage, since, until):
    m = p.milestone(stage)
    return m is not None and since <= m.start <= until


def _expected_pipeline(day, keep=lambda p: True):
    out = {s: 0 for s in lifecycle.STAGES}
    for p in _all():
        if _live(p, day) and keep(p):
            out[_stage(p, day)] += 1
    return out


# ------------------------------------------------------------ page parsing

def _page(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def _tiles(text):
    """{tile key: (count, url)} from the page."""
    return {key: (int(n), html.unescape(url)) for url, n, key in re.findall(
        r'href="([^"]+)" data-count="(\d+)" data-tile="([^"]+)"', text)}


def _charts(text):
    raw = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>',
                    text, re.S).group(1)
    return json.loads(raw)


def _list_total(client, url):
    text = _page(client, url)
    assert 'alert-warning' not in text, url  # the list understood every filter
    return int(re.search(r"共 (\d+) 个", text).group(1))


def _chart_links(charts):
    """(count, url) of every chart element that links to the list."""
    out = [(d["value"], d["url"]) for d in charts["funnel"]]
    for name in ("region", "industry", "unit", "monthly"):
        for s in charts[name]["series"]:
            out += [(d["value"], d["url"]) for d in s["data"] if d["url"]]
    return out


# ------------------------------------------------------------ tests

FILTER_SETS = ["", "&unit={unit}", "&region={region}", "&industry={industry}", "today"]


@pytest.mark.parametrize("extra", FILTER_SETS)
def test_every_figure_equals_the_list_behind_its_link(as_role, world, factory, extra):
    client = as_role("leader")
    extra = extra.format(unit=factory.unit("区中韩办").id, region=factory.region("长三角").id,
                         industry=factory.industry("光伏").id)
    # "today": the figures read the stored stage and status (projects.queries.is_current)
    url = "/dashboard/" if extra == "today" else f"/dashboard/?as_of={AS_OF}{extra}"
    text = _page(client, url)
    links = list(_tiles(text).values()) + _chart_links(_charts(text))
    links += [(int(n), html.unescape(u)) for u, n in
              re.findall(r'<a class="[^"]*" href="([^"]+)" data-count="(\d+)">', text)]
    # the ranking's count columns
    ranking = re.search(r'<table[^>]*id="ranking">(.*?)</table>', text, re.S).group(1)
    for row in re.findall(r"<tr>(.*?)</tr>", ranking, re.S)[1:]:
        cells = re.findall(r'<a href="([^"]+)">([\d.]+)</a>', row)
        for i in (0, 2, 3, 4):  # signings, major signings, starts, production
            links.append((int(cells[i][1]), html.unescape(cells[i][0])))
    assert len(links) > 60
    totals = {url: _list_total(client, url) for url in {url for _, url in links}}
    wrong = [(n, url, totals[url]) for n, url in links if totals[url] != n]
    assert not wrong


def test_pipeline_and_tiles_equal_python_recomputation(as_role, world):
    client = as_role("leader")
    text = _page(client, f"/dashboard/?as_of={AS_OF.isoformat()}")
    tiles = _tiles(text)
    expected = _expected_pipeline(AS_OF)
    assert {s: tiles[f"pipeline-{s}"][0] for s in lifecycle.STAGES} == expected
    # hand-checked: A started(03), B producing, D signed (dropped later), E, F, L and J
    # (signed in July) leads, H started (on hold), I and M signed, K at capacity; C was
    # dropped, G created in July
    assert expected == {"lead": 4, "signed": 3, "started": 2, "producing": 1,
                        "at_capacity": 1}
    for kind, since in (("month", date(2025, 6, 1)), ("year", date(2025, 1, 1))):
        for s in lifecycle.STAGES[1:]:
            want = sum(_reached(p, s, since, AS_OF) for p in _all())
            assert tiles[f"{kind}-{s}"][0] == want, (kind, s)
    assert tiles["year-signed"][0] == 5      # A, B, C (dropped later), D, I (year)
    assert tiles["month-started"][0] == 1    # B
    assert tiles["year-major"][0] == 4       # A 50亿, B 3亿美元 ≈ 21.3亿, D 12亿, I 15亿
    funnel = _charts(text)["funnel"]
    assert [d["value"] for d in funnel] == [expected[s] for s in lifecycle.STAGES]


def test_stored_stage_and_status_agree_with_milestone_dates_today(app, world):
    day = today()
    stored, computed = [db.session.execute(
        select(Project.id, stage_on_expr(day, flag)).where(live_on(day, flag))
        .order_by(Project.id)).all() for flag in (False, True)]
    assert stored == computed
    assert len(stored) == len(world) - 2  # C and D were dropped
    for s in lifecycle.STAGES:
        ids = [set(db.session.scalars(select(Project.id).where(
            stage_on_condition(s, day, computed), live_on(day, computed))))
            for computed in (False, True)]
        assert ids[0] == ids[1], s


def test_amounts_are_kept_per_currency(app, world):
    t = q.totals(q.reached_filters(ProjectFilters(), "signed", q.period("year", AS_OF)))
    assert (t.count, t.cny_wan, t.usd_wan) == (5, Decimal(500000 + 50000 + 120000 + 150000),
                                               Decimal(30000))
    assert t.combined_wan == Decimal(820000) + Decimal(30000) * Decimal("7.1")


def test_breakdowns_equal_python_recomputation(app, world, factory):
    base = ProjectFilters()
    units = q.by_unit(base, AS_OF)
    for key, _label in units.keys:
        got = {s: t.count for s, t in units.cells[key].items()}
        want = {s: n for s, n in _expected_pipeline(AS_OF, lambda p: p.unit_id == key).items()
                if n}
        assert got == want, key
    assert (None, "未指定") in units.keys  # L has no unit
    regions = q.by_region(base, AS_OF)
    names = dict(regions.keys)
    assert set(names.values()) >= {"长三角", "韩国", "珠三角", "日本"}
    yrd = next(k for k, n in regions.keys if n == "长三角")
    # A (上海+苏州, once), D (苏州), E/F/J leads (上海), H (上海 and 韩国)
    assert regions.total(yrd).count == 6
    korea = next(k for k, n in regions.keys if n == "韩国")
    assert {s: t.count for s, t in regions.cells[korea].items()} == {"producing": 1,
                                                                      "started": 1}
    industries = q.by_industry(base, AS_OF)
    pv = factory.industry("光伏").id
    assert industries.total(pv).count == sum(_expected_pipeline(
        AS_OF, lambda p: p.industry_id == pv).values())


def test_region_chart_drills_into_the_chosen_group(app, world, factory):
    yrd = factory.region("长三角").id
    groups = q.region_groups(yrd)
    assert [name for _, name, _ in groups] == ["上海", "苏州", "南京", "杭州"]
    b = q.by_region(ProjectFilters(region_id=yrd), AS_OF)
    shanghai = factory.region("上海").id
    assert b.total(shanghai).count == 5  # A, E, F, H, J


def test_monthly_series(app, world):
    series = dict(q.monthly_series(ProjectFilters(), AS_OF))
    assert len(series) == 24 and min(series) == date(2023, 7, 1)
    assert series[date(2025, 1, 1)]["signed"].count == 2     # A and I (year precision)
    assert series[date(2025, 3, 1)]["signed"].count == 1     # C on the month end
    assert series[date(2025, 3, 1)]["started"].count == 1    # A (2025-03)
    assert series[date(2024, 11, 1)]["signed"].count == 1    # H
    assert date(2025, 7, 1) not in series


def test_past_month_does_not_change_when_later_milestones_are_added(as_role, world,
                                                                    factory, users):
    client = as_role("leader")
    url = "/dashboard/?as_of=2025-03-31&period=year"

    def snapshot():
        text = _page(client, url)
        return {k: v for k, v in _tiles(text).items()}, _charts(text), \
            re.search(r'id="ranking">(.*?)</table>', text, re.S).group(1)

    before = snapshot()
    a = users["admin"]
    advance_stage(world["M"], "started", {"started": parse_partial_date("2025-08-01")}, a,
                  None)
    advance_stage(world["J"], "producing", {"started": parse_partial_date("2025-09"),
                                             "producing": parse_partial_date("2026-01-05")},
                  a, None)
    set_status(world["I"], "dropped", "解约", parse_partial_date("2025-04-01"), a, None)
    db.session.commit()
    _make(factory, a, "新来的", created=date.today(), milestones={"signed": "2025-10-10"})
    assert snapshot() == before


def test_stalled_counts_and_list(app, world):
    counts = q.stalled_counts(ProjectFilters(), AS_OF)
    # M signed 2024-09-01: 302 days → red; D signed 2025-05-20: 41 days → none;
    # I signed 2025-01-01: 180 days → red (≥ 180); E last visited 2025-01-20 → red lead;
    # L created 2025-02-01 and J created 2024-12-01, never visited → red leads;
    # F visited in June → none.
    assert counts["signed"] == {"yellow": 0, "red": 2}
    assert counts["lead"] == {"yellow": 0, "red": 3}
    assert counts["started"] == {"yellow": 0, "red": 0}  # H on hold does not stall
    oldest = q.stalled_list(ProjectFilters(), AS_OF)
    assert [p.name for p, _, _ in oldest] == ["寅三未", "壬年份"]
    # the SQL agrees with lifecycle.stalled_level, project by project
    for p in _all():
        if not _live(p, AS_OF) or _stage(p, AS_OF) == lifecycle.LEAD:
            continue
        stage = _stage(p, AS_OF)
        level = lifecycle.stalled_level(stage, p.status, p.milestone(stage).start
                                        if stage != lifecycle.LEAD else None, None, AS_OF)
        in_sql = {lvl for lvl in ("yellow", "red") if db.session.scalar(
            select(Project.id).where(Project.id == p.id).where(
                q.apply_filters(select(Project.id), q.stalled_filters(
                    ProjectFilters(), AS_OF, lvl)).whereclause))}
        assert in_sql == ({level} if level else set()), p.name


@pytest.mark.parametrize("day, expected", [
    (date(2025, 1, 1), Decimal(1) / 31 / 12),
    (date(2025, 1, 31), Decimal(1) / 12),
    (date(2025, 6, 30), Decimal("0.5")),
    (date(2025, 12, 31), Decimal(1)),
    (date(2024, 2, 29), Decimal(2) / 12),
])
def test_pace_counts_months_gone(day, expected):
    assert abs(q.pace(day) - expected) < Decimal("1e-12")


def _target(year, metric, value, unit=None, region=None):
    t = Target(year=year, metric=metric, value=Decimal(value),
               unit_id=unit.id if unit else None, region_id=region.id if region else None)
    db.session.add(t)
    return t


@pytest.mark.parametrize("as_of, zone_signings, ahead, unit_signings", [
    (date(2025, 1, 31), 2, True, 0),     # A, I: 2/12 = 16.7% vs pace 8.3%
    (date(2025, 6, 30), 5, False, 1),    # 5/12 = 41.7% vs 50%; B for 区中韩办
    (date(2025, 12, 31), 6, False, 1),   # + J in July: 50% vs 100%
])
def test_completion_against_pace_at_start_middle_and_end_of_year(
        as_role, world, factory, as_of, zone_signings, ahead, unit_signings):
    _target(2025, "signings", 12)
    _target(2025, "signings", 1, unit=factory.unit("区中韩办"))
    _target(2025, "region_signings", 2, region=factory.region("韩国"))
    _target(2025, "signed_amount", 100)
    db.session.commit()
    rows = {(c.target.metric, c.target.unit_id): c for c in q.completion(
        db.session.scalars(select(Target)).all(), as_of)}
    zone = rows[("signings", None)]
    assert zone.actual == zone_signings
    assert zone.ratio == Decimal(zone_signings) / 12
    assert zone.pace == q.pace(as_of)
    assert zone.ahead is ahead
    korea_unit = rows[("signings", factory.unit("区中韩办").id)]
    # H (区中韩办) was signed the year before: it does not count
    assert korea_unit.actual == unit_signings
    assert korea_unit.ahead is (unit_signings >= q.pace(as_of))
    assert rows[("region_signings", None)].actual == unit_signings  # B
    amount = rows[("signed_amount", None)]
    assert amount.actual == q.metric_value("signed_amount", q.totals(amount.filters))
    # the page shows the same, green when ahead and red when behind
    client = as_role("leader")
    text = _page(client, f"/dashboard/?as_of={as_of.isoformat()}")
    table = re.search(r'<table[^>]*id="targets">(.*?)</table>', text, re.S).group(1)
    first = re.findall(r'<tr class="(target-\w+)">(.*?)</tr>', table, re.S)[0]
    assert first[0] == ("target-ahead" if ahead else "target-behind")
    assert f">{zone_signings}</a>" in first[1]


def test_ranking_orders_units_and_shares_ties(app, world):
    p = q.period("year", AS_OF)
    rows = q.unit_ranking(ProjectFilters(), p, "signings")
    by_name = {r.name: r for r in rows}
    assert by_name["光伏产业园"].values["signings"] == 2       # A, D
    assert by_name["区经发局"].values["signings"] == 2          # C, I
    assert by_name["区中韩办"].values["signings"] == 1          # B
    assert by_name["光伏产业园"].rank == by_name["区经发局"].rank == 1
    assert by_name["区中韩办"].rank == 3
    amounts = q.unit_ranking(ProjectFilters(), p, "signed_amount")
    assert amounts[0].name == "光伏产业园"  # 62亿 ahead of 区经发局's 20亿
    assert amounts[0].values["signed_amount"] == Decimal(62)


def test_dashboard_query_count_does_not_grow_with_projects(as_role, factory, users):
    client = as_role("leader")

    def statements():
        return statement_count(client, "/dashboard/")

    # every list on the page has rows in both cases (an empty list loads nothing more)
    for i in range(3):
        _make(factory, users["admin"], f"少{i}", milestones={"signed": "2024-03-01"},
              amount="200000")
    _make(factory, users["admin"], "少开工", milestones={"signed": "2023-01-01",
                                                        "started": "2023-03-01"})
    few = statements()
    for i in range(25):
        _make(factory, users["admin"], f"多{i}", regions=("上海", "韩国"),
              milestones={"signed": "2024-03-01", "started": "2024-05-01"})
    assert statements() == few


def test_chart_data_and_names_are_escaped(as_role, factory, users):
    evil = "</script><script>alert(1)</script>"
    db.session.add(Industry(name=evil, sort_order=1))
    db.session.commit()
    _make(factory, users["admin"], evil, industry=evil, milestones={"signed": "2024-03-01"})
    text = _page(as_role("leader"), "/dashboard/")
    assert "<script>alert(1)" not in text
    assert evil in json.dumps(_charts(text), ensure_ascii=False)


def test_invalid_selectors_are_reported_and_ignored(as_role, world):
    text = _page(as_role("leader"), "/dashboard/?as_of=2099-12-31&unit=abc&period=decade")
    assert "alert-warning" in text and "截至：" in text
    assert "截至 " + today().isoformat() in text


def test_officers_and_leaders_see_the_dashboard(app, users):
    for role in ("officer", "leader", "admin"):
        client = app.test_client()
        login(client, users[role].username)
        assert client.get("/dashboard/").status_code == 200
    assert app.test_client().get("/dashboard/").status_code == 302


@pytest.mark.parametrize("since", [date(2025, 1, 1), date(2025, 2, 11), date(2023, 1, 1)])
def test_reached_by_unit_from_the_monthly_table_or_its_own_query(app, world, since):
    # whole months within the last 24 come from the monthly table; a day inside a month
    # or a start further back runs its own query: both agree with Python
    got = q.reached_by_unit(ProjectFilters(), "signed", q.Period("x", since, AS_OF))
    want = {}
    for p in _all():
        if _reached(p, "signed", since, AS_OF):
            want[p.unit_id] = want.get(p.unit_id, 0) + 1
    assert {u: t.count for u, t in got.items()} == want


def _settings(**days):
    form = {"usd_rate": "7.1"}
    for stage, (yellow, red) in lifecycle.DEFAULT_STALLED_THRESHOLDS.items():
        form[f"{stage}_yellow"], form[f"{stage}_red"] = str(yellow), str(red)
    form.update({k: str(v) for k, v in days.items()})
    return form


def test_admin_sets_the_stalled_thresholds_and_every_figure_follows(as_role, world):
    before = q.stalled_counts(ProjectFilters(), AS_OF)["signed"]
    assert before == {"yellow": 0, "red": 2}  # M and I past 180 days; D 41 days
    admin = as_role("admin")
    page = _page(admin, "/admin/settings")
    assert re.search(r'name="signed_yellow"[^>]*value="90"', page)
    response = admin.post("/admin/settings", data=_settings(signed_yellow=30,
                                                            signed_red=400))
    assert response.status_code == 302
    db.session.rollback()
    counts = q.stalled_counts(ProjectFilters(), AS_OF)["signed"]
    # I (180 days) and M (302); D (41 days) is dropped by now, so it does not stall
    assert counts == {"yellow": 2, "red": 0}
    # the dashboard's link lists the same two
    text = _page(as_role("leader"), f"/dashboard/?as_of={AS_OF}")
    url = html.unescape(re.search(
        r'<a class="stalled-yellow-text" href="([^"]+)" data-count="2">', text).group(1))
    assert _list_total(as_role("leader"), url) == 2


@pytest.mark.parametrize("days, message", [
    ({"signed_yellow": 200, "signed_red": 100}, "已签约未开工：红灯天数必须大于黄灯天数"),
    ({"lead_yellow": 0}, "在谈久未跟进：黄灯（天）"),
    ({"started_red": "abc"}, "已开工未投产：红灯（天）"),
])
def test_bad_thresholds_are_refused_naming_the_field(as_role, world, days, message):
    admin = as_role("admin")
    response = admin.post("/admin/settings", data=_settings(**days))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    db.session.rollback()
    from crm.reference.queries import stalled_thresholds
    assert stalled_thresholds() == lifecycle.DEFAULT_STALLED_THRESHOLDS
