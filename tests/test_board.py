"""The pipeline board (看板): columns agree with the project list, the live pipeline only,
the list's filters, the card cap, a fixed query count, the stalled colours, who sees
推进 / 退回, and the stage gate's preselected stage and safe ``next``."""
import re
from datetime import timedelta
from decimal import Decimal
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from sqlalchemy import select

from crm.board.queries import CARDS_PER_COLUMN
from crm.clock import today, utcnow
from crm.extensions import db
from crm.lifecycle import STAGES, parse_partial_date
from crm.models import Project
from crm.projects.services import advance_stage, set_status
from crm.visits.services import VisitData, log_visit
from tests.conftest import statement_count


def page_text(response):
    return response.get_data(as_text=True)


def board(client, query=""):
    """The board page's columns by stage: count, amounts, card ids and links."""
    response = client.get("/board/" + query)
    assert response.status_code == 200, page_text(response)
    html = page_text(response)
    sections = re.split(r'<section class="board-column" id="column-', html)[1:]
    columns = {}
    for part in sections:
        stage = part.split('"', 1)[0]
        part = part.split("</section>", 1)[0]
        usd = re.search(r'<span class="board-usd">([^<]*)</span>', part)
        more = re.search(r'<a class="small board-more" href="([^"]*)">([^<]*)</a>', part)
        columns[stage] = {
            "count": int(re.search(r'<span class="board-count"[^>]*>(\d+) 个</span>',
                                   part).group(1)),
            "cny": re.search(r'<span class="board-cny">([^<]*)</span>', part).group(1),
            "usd": usd.group(1) if usd else "",
            "ids": [int(i) for i in re.findall(r'data-project-id="(\d+)"', part)],
            "advance": [h.replace("&amp;", "&") for h in re.findall(
                r'class="btn btn-sm btn-outline-primary py-0 board-advance" href="([^"]*)"',
                part)],
            "correct": re.findall(r'class="small link-secondary board-correct" href="([^"]*)"',
                                  part),
            "draggable": [int(i) for i in re.findall(
                r'data-project-id="(\d+)" data-stage-index="\d" draggable="true"', part)],
            "more": (more.group(1).replace("&amp;", "&"), more.group(2)) if more else None,
            "html": part,
        }
    assert list(columns) == list(STAGES), list(columns)
    return columns


def stalled(card_html):
    """The stalled colour of a card (its opening tag's class), or None."""
    level = re.search(r'class="card board-card(?: board-card-(\w+))?"', card_html)
    return level.group(1)


def list_total(client, url):
    """The project list's "共 N 个" for ``url``."""
    html = page_text(client.get(url))
    return int(re.search(r"共 (\d+) 个", html).group(1))


def move(project, stage, by, *dates):
    """Advance ``project`` to ``stage`` with the given milestone dates (signed first)."""
    passed = STAGES[STAGES.index(project.stage) + 1: STAGES.index(stage) + 1]
    advance_stage(project, stage, {s: parse_partial_date(d) for s, d in zip(passed, dates)},
                  by, None)
    db.session.commit()


@pytest.fixture
def pipeline(factory, users):
    """Projects of two units in every stage, CNY and USD amounts, on hold and dropped."""
    admin = users["admin"]
    p = {
        "lead_pv": factory.project("光伏线索", investment_amount=Decimal("30000")),
        "lead_kr": factory.project("韩国线索", unit="区中韩办", regions=["韩国"],
                                   industry="动力电池及储能",
                                   investment_amount=Decimal("5000"),
                                   investment_currency="USD"),
        "signed_pv": factory.project("光伏签约", investment_amount=Decimal("120000")),
        "signed_pv2": factory.project("光伏签约二", regions=["苏州"],
                                      investment_amount=Decimal("2500"),
                                      investment_currency="USD"),
        "signed_kr": factory.project("韩国签约", unit="区中韩办", regions=["韩国"],
                                     industry="动力电池及储能",
                                     investment_amount=Decimal("80000")),
        "started_pv": factory.project("光伏开工", investment_amount=Decimal("45000")),
        "producing_kr": factory.project("韩国投产", unit="区中韩办", regions=["韩国"],
                                        investment_amount=Decimal("20000"),
                                        investment_currency="USD"),
        "capacity_pv": factory.project("光伏达产", investment_amount=Decimal("8000")),
        "hold_pv": factory.project("光伏暂缓", investment_amount=Decimal("7000")),
        "dropped_pv": factory.project("光伏终止", investment_amount=Decimal("99000")),
    }
    move(p["signed_pv"], "signed", admin, "2024-03-15")
    move(p["signed_pv2"], "signed", admin, "2024-05")
    move(p["signed_kr"], "signed", admin, "2023-11-02")
    move(p["started_pv"], "started", admin, "2023-01-10", "2023-06")
    move(p["producing_kr"], "producing", admin, "2022-01-10", "2022-06", "2023")
    move(p["capacity_pv"], "at_capacity", admin, "2020", "2020-05", "2021-01-01",
         "2022-12-31")
    move(p["hold_pv"], "signed", admin, "2024-02-01")
    move(p["dropped_pv"], "signed", admin, "2024-01-01")
    set_status(p["hold_pv"], "on_hold", "等待用地", parse_partial_date("2024-08-01"), admin,
               None)
    set_status(p["dropped_pv"], "dropped", "投资方解约", parse_partial_date("2024-09-01"),
               admin, None)
    db.session.commit()
    return {name: project.id for name, project in p.items()}


def test_columns_agree_with_the_project_list(as_role, factory, pipeline):
    client = as_role("leader")
    columns = board(client)
    assert {s: c["count"] for s, c in columns.items()} == {
        "lead": 2, "signed": 4, "started": 1, "producing": 1, "at_capacity": 1}
    # CNY in 亿元, USD in 万美元, each its own total (on hold counts; dropped does not).
    assert columns["signed"]["cny"] == "20.7 亿元"      # 12 + 8 + 0.7
    assert columns["signed"]["usd"] == "2500 万美元"
    assert columns["lead"]["cny"] == "3 亿元" and columns["lead"]["usd"] == "5000 万美元"
    assert columns["producing"]["cny"] == "0 亿元"
    assert columns["producing"]["usd"] == "20000 万美元"
    assert columns["at_capacity"]["usd"] == ""
    assert "共 9 个" in page_text(client.get("/board/"))
    # With no dropped project in them, each column is exactly the list's stage.
    for unit in ("光伏产业园", "区中韩办"):
        unit_id = factory.unit(unit).id
        by_unit = board(client, f"?unit={unit_id}")
        for stage in STAGES:
            if stage == "signed" and unit == "光伏产业园":
                continue  # holds the dropped project: checked below
            assert by_unit[stage]["count"] == list_total(
                client, f"/projects/?stage={stage}&unit={unit_id}"), (unit, stage)
    unit_id = factory.unit("光伏产业园").id
    assert board(client, f"?unit={unit_id}")["signed"]["count"] == list_total(
        client, f"/projects/?stage=signed&unit={unit_id}&as_of={today()}") == 3


def test_dropped_projects_leave_the_board_on_hold_stay(as_role, pipeline):
    columns = board(as_role("leader"))
    shown = sum((c["ids"] for c in columns.values()), [])
    assert pipeline["dropped_pv"] not in shown
    assert pipeline["hold_pv"] in columns["signed"]["ids"]
    card = columns["signed"]["html"].split(f'data-project-id="{pipeline["hold_pv"]}"')[1]
    assert "暂缓" in card.split("</li>")[0]
    assert stalled(columns["signed"]["html"].split(
        f'data-project-id="{pipeline["hold_pv"]}"')[0].rsplit("<li", 1)[1]) is None, \
        "a project on hold is not stalled"
    # The board's status filter narrows the live pipeline; 终止 leaves nothing.
    assert sum(c["count"] for c in board(as_role("leader"), "?status=on_hold").values()) == 1
    assert sum(c["count"] for c in board(as_role("leader"), "?status=dropped").values()) == 0


def test_filters_as_on_the_list(as_role, factory, pipeline):
    client = as_role("leader")

    def ids(query):
        return {i for c in board(client, query).values() for i in c["ids"]}

    korea = {pipeline["lead_kr"], pipeline["signed_kr"], pipeline["producing_kr"]}
    assert ids(f"?unit={factory.unit('区中韩办').id}") == korea
    assert ids(f"?region={factory.region('韩国').id}") == korea
    # A region group includes the regions under it: 长三角 → 上海, 苏州.
    assert ids(f"?region={factory.region('长三角').id}") == {
        pipeline[k] for k in ("lead_pv", "signed_pv", "signed_pv2", "started_pv",
                              "capacity_pv", "hold_pv")}
    assert ids(f"?region={factory.region('苏州').id}") == {pipeline["signed_pv2"]}
    assert ids(f"?industry={factory.industry('动力电池及储能').id}") == {
        pipeline["lead_kr"], pipeline["signed_kr"]}
    assert ids("?q=光伏签约") == {pipeline["signed_pv"], pipeline["signed_pv2"]}
    assert ids(f"?officer={factory.user('nobody').id}") == set()
    # ≥ 10 亿元 (USD at the set rate: 2 亿美元 × 7.1 ≥ 10 亿元).
    assert ids("?major=y") == {pipeline["signed_pv"], pipeline["producing_kr"]}
    # Every column is a stage: a stage (or a past day) from a list URL is ignored.
    assert ids("?stage=signed&as_of=2020-01-01") == ids("")
    response = client.get("/board/?region=abc")
    assert response.status_code == 200 and "筛选条件无效" in page_text(response)
    assert len(ids("?region=abc")) == 9


def test_a_column_shows_the_longest_waiting_cards_and_links_the_rest(
        as_role, factory, users):
    ids = []
    for i in range(CARDS_PER_COLUMN + 2):
        project = factory.project(f"线索{i:02d}", signing_ready=False)
        ids.append(project.id)
    # The oldest leads wait longest: creation spread over the last weeks.
    for n, project_id in enumerate(ids):
        db.session.get(Project, project_id).created_at = utcnow() - timedelta(days=50 - n)
    dropped = factory.project("终止的线索", signing_ready=False)
    set_status(dropped, "dropped", "放弃", parse_partial_date("2024-01-01"), users["admin"],
               None)
    db.session.commit()
    unit_id = factory.unit("光伏产业园").id
    client = as_role("leader")
    lead = board(client, f"?unit={unit_id}")["lead"]
    assert lead["count"] == CARDS_PER_COLUMN + 2
    assert lead["ids"] == ids[:CARDS_PER_COLUMN], "longest in the stage first"
    assert "在本阶段 50 天" in lead["html"]
    href, text = lead["more"]
    assert text == f"查看全部 {CARDS_PER_COLUMN + 2} 个"
    url = urlsplit(href)
    assert url.path == "/projects/"
    assert parse_qs(url.query) == {"stage": ["lead"], "unit": [str(unit_id)],
                                   "as_of": [today().isoformat()]}
    # The list behind the link shows the same projects: the dropped one is not live.
    assert list_total(client, href) == CARDS_PER_COLUMN + 2
    assert list_total(client, f"/projects/?stage=lead&unit={unit_id}") == \
        CARDS_PER_COLUMN + 3
    assert board(client, f"?unit={unit_id}")["signed"]["more"] is None


def test_cards_show_days_in_stage_and_stalled_colour(as_role, factory, users):
    day = today()
    fresh = factory.project("刚签约")
    yellow = factory.project("签约未开工黄")
    red = factory.project("签约未开工红")
    move(fresh, "signed", users["admin"], str(day - timedelta(days=10)))
    move(yellow, "signed", users["admin"], str(day - timedelta(days=100)))
    move(red, "signed", users["admin"], str(day - timedelta(days=200)))
    old_lead = factory.project("久未走访线索", company_name="久未走访公司")
    worked_lead = factory.project("近期走访线索", company_name="近期走访公司")
    for project in (old_lead, worked_lead):
        project.created_at = utcnow() - timedelta(days=120)
    db.session.commit()
    log_visit(VisitData(visited_on=day - timedelta(days=5), kind="visit",
                        company_name="近期走访公司", project_ids=[worked_lead.id]),
              users["officer"])
    db.session.commit()
    columns = board(as_role("leader"))

    def card(stage, project):
        html = columns[stage]["html"].split(f'data-project-id="{project.id}"')
        return html[0].rsplit("<li", 1)[1] + html[1].split("</li>")[0]

    assert columns["signed"]["ids"] == [red.id, yellow.id, fresh.id]
    assert stalled(card("signed", red)) == "red" and "在本阶段 200 天" in card("signed", red)
    assert stalled(card("signed", yellow)) == "yellow"
    assert stalled(card("signed", fresh)) is None
    assert "在本阶段 10 天" in card("signed", fresh)
    # A lead stalls by its latest visit (or creation): 120 days unworked is red; a
    # visit five days ago keeps it clear, though it has been a lead as long.
    assert stalled(card("lead", old_lead)) == "red"
    assert stalled(card("lead", worked_lead)) is None
    assert "在本阶段 120 天" in card("lead", worked_lead)
    # Each card: name, investor, amount, regions, unit.
    text = card("signed", red)
    for part in ("签约未开工红", "签约未开工红投资方", "5 亿元", "上海", "光伏产业园"):
        assert part in text, part


@pytest.mark.parametrize("query", ["", "?region={region}&major=y&q=光伏"])
def test_query_count_does_not_grow_with_projects(as_role, factory, users, query):
    client = as_role("officer")
    query = query.format(region=factory.region("长三角").id)

    def add(n, prefix):
        for i in range(n):
            project = factory.project(f"光伏{prefix}{i}", regions=["上海", "韩国"],
                                      investment_amount=Decimal("200000"))
            if i % 2:
                move(project, STAGES[1 + (i // 2) % 4], users["admin"],
                     "2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01")

    add(4, "少")
    few = statement_count(client, "/board/" + query)
    add(2 * CARDS_PER_COLUMN + 10, "多")
    many = statement_count(client, "/board/" + query)
    assert many == few, (few, many)
    assert few <= 16, few


def test_only_who_may_edit_sees_advance_admin_also_correct(as_role, factory, users):
    own = factory.project("光伏项目", by=users["officer"])
    other_unit = factory.project("中韩项目", unit="区中韩办")
    done = factory.project("已达产项目")
    move(done, "at_capacity", users["admin"], "2020", "2020-05", "2021-01-01", "2022-12-31")

    officer = board(as_role("officer"))
    assert officer["lead"]["ids"] == [own.id, other_unit.id]
    assert len(officer["lead"]["advance"]) == 1
    href = urlsplit(officer["lead"]["advance"][0])
    assert href.path == f"/projects/{own.id}/advance"
    assert parse_qs(href.query) == {"stage": ["signed"], "next": ["/board/"]}
    assert officer["lead"]["draggable"] == [own.id]
    assert officer["at_capacity"]["advance"] == [] and officer["at_capacity"]["draggable"] == []
    assert all(not c["correct"] for c in officer.values())

    other = board(as_role("other"))
    assert [urlsplit(h).path for h in other["lead"]["advance"]] == [
        f"/projects/{other_unit.id}/advance"]
    leader = board(as_role("leader"))
    assert all(not c["advance"] and not c["draggable"] and not c["correct"]
               for c in leader.values())

    admin = board(as_role("admin"), "?q=项目")
    assert len(admin["lead"]["advance"]) == 2 and not admin["lead"]["correct"]
    assert admin["at_capacity"]["correct"] == [f"/projects/{done.id}/correct"]
    # The gate link returns to the board with its filters.
    href = urlsplit(admin["lead"]["advance"][0])
    assert unquote(parse_qs(href.query)["next"][0]) == "/board/?q=项目"


def test_gate_preselects_the_stage_and_returns_to_next(as_role, factory, users):
    project = factory.project("看板推进项目", by=users["officer"])
    client = as_role("officer")

    def selected(query):
        html = page_text(client.get(f"/projects/{project.id}/advance{query}"))
        return re.search(r'<option selected value="(\w+)">', html).group(1)

    assert selected("") == "signed"
    assert selected("?stage=producing") == "producing"
    assert selected("?stage=lead") == "signed"       # not a later stage
    assert selected("?stage=bogus") == "signed"

    html = page_text(client.get(f"/projects/{project.id}/advance?stage=signed"
                                "&next=/board/%3Funit%3D5"))
    action = re.search(r'<form method="post" action="([^"]*)" novalidate', html).group(1)
    assert urlsplit(action).path == f"/projects/{project.id}/advance"
    assert parse_qs(urlsplit(action.replace("&amp;", "&")).query) == {
        "next": ["/board/?unit=5"]}
    for evil in ("https://evil.example/", "//evil.example", "/\t/evil.example"):
        html = page_text(client.get(f"/projects/{project.id}/advance",
                                    query_string={"next": evil}))
        assert "evil.example" not in html, evil

    url = f"/projects/{project.id}/advance"
    data = {"stage": "signed", "signed_on": "2024-03-15", "version": str(project.version)}
    # A refused gate stays on the gate, still carrying ``next``.
    response = client.post(url, query_string={"next": "/board/?unit=5"},
                           data={**data, "signed_on": "2999-01-01"})
    assert response.status_code == 400 and "签约时间" in page_text(response)
    assert "next=" in page_text(response)
    response = client.post(url, query_string={"next": "https://evil.example/"}, data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/projects/{project.id}"
    move(db.session.get(Project, project.id), "started", users["admin"], "2024-04-01")
    project = db.session.get(Project, project.id)
    version = project.version
    response = client.post(url, query_string={"next": "//evil.example"}, data={
        "stage": "producing", "producing_on": "2024-05", "version": str(version)})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/projects/{project.id}"
    db.session.expire_all()
    version = db.session.get(Project, project.id).version
    response = client.post(url, query_string={"next": "/board/?unit=5"}, data={
        "stage": "at_capacity", "at_capacity_on": "2024-06", "version": str(version)})
    assert response.status_code == 302, page_text(response)
    assert response.headers["Location"] == "/board/?unit=5"
    db.session.expire_all()
    assert db.session.scalar(select(Project.stage).where(Project.id == project.id)) == \
        "at_capacity"
