"""Projects through the web: create, edit with history, the stage gate, corrections,
hold/drop/resume, bad input, concurrent edits, and the list's filters and query count."""
import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.clock import today
from crm.extensions import db
from crm.lifecycle import parse_partial_date
from crm.models import Change, Company, Project, StageChange
from crm.projects.services import advance_stage
from tests.conftest import statement_count


def form_data(factory, **overrides):
    data = {"name": "恒源 12GW 光伏组件", "company_name": "恒源新能源", "region_ids": [
        factory.region("苏州").id], "industry_id": factory.industry("光伏").id,
        "investment_value": "50", "investment_unit": "亿元",
        "unit_id": factory.unit("光伏产业园").id, "officer_id": "0", "content": "组件",
        "capacity_value": "12", "capacity_unit": "GW", "land_area": "", "leader_name": "",
        "notes": "", "version": ""}
    data.update(overrides)
    return data


def counts():
    result = tuple(db.session.scalar(select(func.count()).select_from(m))
                   for m in (Project, StageChange, Change, Company))
    db.session.rollback()
    return result


def page_text(response):
    return response.get_data(as_text=True)


def test_officer_creates_project_with_code_and_history(as_role, factory, users):
    client = as_role("officer")
    response = client.post("/projects/new", data=form_data(factory))
    assert response.status_code == 302
    project = db.session.scalar(select(Project))
    assert project.code == f"P{today().year}-0001"
    assert project.stage == "lead" and project.status == "active"
    assert project.investment_amount == Decimal("500000") and project.investment_currency == "CNY"
    assert project.company.name == "恒源新能源"
    assert [r.name for r in project.regions] == ["苏州"]
    assert project.created_by_id == users["officer"].id
    assert db.session.scalar(
        select(Change.field).where(Change.project_id == project.id)) == "created"
    page = page_text(client.get(f"/projects/{project.id}"))
    assert "50 亿元" in page and "恒源新能源" in page and "在谈" in page
    # The second project of the year gets the next number.
    client.post("/projects/new", data=form_data(factory, name="第二个项目"))
    assert db.session.scalar(select(func.max(Project.code))) == f"P{today().year}-0002"


def test_usd_amount_is_kept_in_its_currency(as_role, factory):
    client = as_role("admin")
    client.post("/projects/new", data=form_data(factory, investment_value="3",
                                                investment_unit="亿美元"))
    project = db.session.scalar(select(Project))
    assert (project.investment_amount, project.investment_currency) == (Decimal("30000"), "USD")
    assert "30000 万美元" in page_text(client.get(f"/projects/{project.id}"))


@pytest.mark.parametrize("field,value,label", [
    ("name", "", "项目名称"),
    ("name", "长" * 201, "项目名称"),
    ("investment_value", "-5", "总投资"),
    ("investment_value", "五十", "总投资"),
    ("investment_value", "1e400", "总投资"),
    ("capacity_value", "abc", "产能"),
    ("land_area", "-1", "用地面积"),
    ("industry_id", "99999", "产业类别"),
    ("region_ids", "99999", "来源地"),
    ("investment_unit", "万亿", "金额单位"),
    ("officer_id", "99999", "招商责任人"),
    ("content", "字" * 2001, "建设内容"),
])
def test_bad_input_is_refused_naming_the_field(as_role, factory, field, value, label):
    client = as_role("admin")
    before = counts()
    response = client.post("/projects/new", data=form_data(factory, **{field: value}))
    assert response.status_code == 400
    errors = re.search(r'id="form-errors">(.*?)</div>', page_text(response), re.S).group(1)
    assert label in errors
    assert counts() == before


@pytest.mark.parametrize("injected", ["stage", "version_id", "role", "status", "code"])
def test_injected_fields_are_refused(as_role, factory, injected):
    client = as_role("admin")
    before = counts()
    response = client.post("/projects/new", data=form_data(factory, **{injected: "x"}))
    assert response.status_code == 400
    assert f"不允许提交的字段：{injected}" in page_text(response)
    assert counts() == before


def test_officer_cannot_put_project_in_another_unit(as_role, factory):
    client = as_role("officer")
    before = counts()
    response = client.post("/projects/new", data=form_data(
        factory, unit_id=factory.unit("区中韩办").id))
    assert response.status_code == 400
    assert "责任单位" in page_text(response)
    assert counts() == before


def test_text_is_stored_as_typed_and_shown_escaped(as_role, factory):
    client = as_role("admin")
    name = '<script>alert("x")</script> & 恒源'
    client.post("/projects/new", data=form_data(factory, name=name, notes="<b>备注</b>"))
    project = db.session.scalar(select(Project))
    assert project.name == name
    for url in ("/projects/", f"/projects/{project.id}", f"/projects/{project.id}/edit"):
        html = page_text(client.get(url))
        assert "<script>alert" not in html and "<b>备注</b>" not in html
        assert "&lt;script&gt;" in html


def test_edit_records_each_changed_field(as_role, factory, users):
    project = factory.project("天合 10GW 组件", by=users["officer"])
    client = as_role("officer")
    response = client.post(f"/projects/{project.id}/edit", data=form_data(
        factory, name="天合 10GW 组件", company_name="天合光能", investment_value="6",
        region_ids=[factory.region("苏州").id], version=str(project.version)))
    assert response.status_code == 302
    changes = {c.field: (c.old_value, c.new_value) for c in db.session.scalars(
        select(Change).where(Change.project_id == project.id, Change.field != "created"))}
    assert changes["investment"] == ("5 亿元", "6 亿元")
    assert changes["company"] == ("天合 10GW 组件投资方", "天合光能")
    assert changes["regions"] == ("上海", "苏州")
    assert "name" not in changes
    page = page_text(client.get(f"/projects/{project.id}"))
    assert "5 亿元 → 6 亿元" in page


def test_second_concurrent_edit_is_refused(as_role, factory, users):
    project = factory.project("SK 30GWh", by=users["officer"])
    version = str(project.version)
    first, second = as_role("officer"), as_role("admin")
    assert first.post(f"/projects/{project.id}/edit", data=form_data(
        factory, name="SK 30GWh 动力电池", version=version)).status_code == 302
    response = second.post(f"/projects/{project.id}/edit", data=form_data(
        factory, name="SK 被覆盖", version=version))
    assert response.status_code == 409
    assert "已被他人修改" in page_text(response)
    # The typed text is kept in the form so nothing is lost.
    assert "SK 被覆盖" in page_text(response)
    db.session.expire_all()
    assert db.session.get(Project, project.id).name == "SK 30GWh 动力电池"


def test_advance_through_gate_records_each_stage(as_role, factory, users):
    project = factory.project("阿特斯 4GW 电池", by=users["officer"])
    client = as_role("officer")
    response = client.post(f"/projects/{project.id}/advance", data={
        "stage": "started", "signed_on": "2024-03-15", "started_on": "2024-06",
        "note": "开工仪式", "version": str(project.version),
        "p-company_name": "阿特斯", "p-region_ids": [factory.region("苏州").id],
        "p-industry_id": factory.industry("光伏").id, "p-investment_value": "25",
        "p-investment_unit": "亿元", "p-unit_id": factory.unit("光伏产业园").id})
    assert response.status_code == 302, page_text(response)
    db.session.expire_all()
    project = db.session.get(Project, project.id)
    assert project.stage == "started"
    assert project.signed_on == date(2024, 3, 15) and project.signed_on_precision == "day"
    assert project.started_on == date(2024, 6, 1) and project.started_on_precision == "month"
    moves = db.session.scalars(select(StageChange).where(
        StageChange.project_id == project.id).order_by(StageChange.id)).all()
    assert [(m.from_stage, m.to_stage) for m in moves] == [("lead", "signed"),
                                                            ("signed", "started")]
    assert all(m.user_id == users["officer"].id and m.note == "开工仪式" for m in moves)
    page = page_text(client.get(f"/projects/{project.id}"))
    assert "2024-06" in page and "2024-06-01" not in page


@pytest.mark.parametrize("dates,label", [
    ({"signed_on": "2024-03-15", "started_on": "2024-03-01"}, "开工时间"),
    ({"signed_on": "2999-01-01", "started_on": "2999-02-01"}, "签约时间"),
    ({"signed_on": "2024-03-15", "started_on": ""}, "开工时间"),
    ({"signed_on": "2024-02-30", "started_on": "2024-04-01"}, "签约时间"),
])
def test_advance_gate_refuses_bad_dates(as_role, factory, users, dates, label):
    project = factory.project("明阳 5GW", by=users["officer"])
    client = as_role("officer")
    before = counts()
    response = client.post(f"/projects/{project.id}/advance", data={
        "stage": "started", "version": str(project.version), **dates})
    assert response.status_code == 400
    assert label in page_text(response)
    assert counts() == before
    db.session.expire_all()
    assert db.session.get(Project, project.id).stage == "lead"


def test_signing_needs_investor_amount_industry_region_unit(as_role, factory, users):
    project = factory.project("空白项目", by=users["admin"], signing_ready=False)
    client = as_role("admin")
    response = client.post(f"/projects/{project.id}/advance", data={
        "stage": "signed", "signed_on": "2024-03-15", "version": str(project.version),
        "p-unit_id": "0", "p-industry_id": "0", "p-investment_unit": "亿元"})
    assert response.status_code == 400
    text = page_text(response)
    for label in ("投资方", "总投资", "产业类别", "来源地", "责任单位"):
        assert f"{label}：签约及以后阶段的项目必须填写" in text
    db.session.expire_all()
    assert db.session.get(Project, project.id).stage == "lead"
    assert db.session.scalar(select(func.count()).select_from(Change).where(
        Change.field != "created")) == 0


def test_admin_correction_moves_back_with_reason(as_role, factory, users):
    project = factory.project("SK 27GWh", by=users["admin"])
    advance_stage(project, "producing", {s: parse_partial_date(d) for s, d in (
        ("signed", "2019-03-12"), ("started", "2019-08"), ("producing", "2021"))},
        users["admin"], None)
    db.session.commit()
    assert as_role("officer").post(f"/projects/{project.id}/correct", data={
        "stage": "signed", "reason": "x", "version": str(project.version)}).status_code == 403
    client = as_role("admin")
    response = client.post(f"/projects/{project.id}/correct", data={
        "stage": "signed", "reason": "", "version": str(project.version)})
    assert response.status_code == 400 and "更正原因" in page_text(response)
    response = client.post(f"/projects/{project.id}/correct", data={
        "stage": "signed", "reason": "开工日期录错", "version": str(project.version)})
    assert response.status_code == 302
    db.session.expire_all()
    project = db.session.get(Project, project.id)
    assert project.stage == "signed"
    assert project.started_on is None and project.producing_on is None
    assert project.signed_on == date(2019, 3, 12)
    last = db.session.scalars(select(StageChange).order_by(StageChange.id.desc())).first()
    assert (last.from_stage, last.to_stage, last.correction, last.note) == (
        "producing", "signed", True, "开工日期录错")


def test_hold_drop_resume_need_reason_and_are_recorded(as_role, factory, users):
    project = factory.project("铂尔曼酒店", by=users["officer"])
    client = as_role("officer")
    response = client.post(f"/projects/{project.id}/status", data={
        "status": "on_hold", "reason": "", "status_on": "2025-01-05",
        "version": str(project.version)})
    assert response.status_code == 400 and "原因" in page_text(response)
    response = client.post(f"/projects/{project.id}/status", data={
        "status": "dropped", "reason": "投资方解约", "status_on": "2025-01-05",
        "version": str(project.version)})
    assert response.status_code == 302
    db.session.expire_all()
    project = db.session.get(Project, project.id)
    assert (project.status, project.status_reason, project.status_on) == (
        "dropped", "投资方解约", date(2025, 1, 5))
    change = db.session.scalars(select(Change).where(Change.field == "status")).one()
    assert change.old_value == "正常推进" and change.new_value == "终止：投资方解约"
    # A dropped project cannot advance until resumed.
    response = client.post(f"/projects/{project.id}/advance", data={
        "stage": "signed", "signed_on": "2024-03-15", "version": str(project.version)})
    assert response.status_code == 400
    response = client.post(f"/projects/{project.id}/status", data={
        "status": "active", "reason": "", "status_on": "", "version": str(project.version)})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Project, project.id).status == "active"


def _list_ids(client, query=""):
    html = page_text(client.get("/projects/" + query))
    return [int(i) for i in re.findall(r'href="/projects/(\d+)"', html)]


def test_list_filters_and_sorting(as_role, factory, users):
    a = factory.project("上海汽车配套", regions=["上海"], industry="汽车及零部件",
                        investment_amount=Decimal("200000"))
    b = factory.project("韩国电池", unit="区中韩办", regions=["韩国"], industry="动力电池及储能",
                        investment_amount=Decimal("20000"), investment_currency="USD")
    c = factory.project("本地农业 100%_特价", regions=["本地"], industry="现代农业",
                        investment_amount=Decimal("5000"))
    advance_stage(b, "signed", {"signed": parse_partial_date("2024-05")}, users["admin"], None)
    db.session.commit()
    client = as_role("leader")
    assert set(_list_ids(client)) == {a.id, b.id, c.id}
    assert _list_ids(client, "?stage=signed") == [b.id]
    assert _list_ids(client, f"?region={factory.region('长三角').id}") == [a.id]
    assert _list_ids(client, f"?region={factory.region('国内省外').id}") == [a.id]
    assert _list_ids(client, f"?industry={factory.industry('现代农业').id}") == [c.id]
    assert _list_ids(client, f"?unit={factory.unit('区中韩办').id}") == [b.id]
    # 20,000 万美元 × 7.1 = 14.2 亿元: major; 0.5 亿元 is not.
    assert set(_list_ids(client, "?major=y")) == {a.id, b.id}
    assert _list_ids(client, "?q=韩国") == [b.id]
    assert _list_ids(client, "?q=韩国电池投资方") == [b.id]   # by investor
    assert _list_ids(client, "?q=100%25_") == [c.id]         # LIKE wildcards are literal
    assert _list_ids(client, "?q=%25") == [c.id]
    assert _list_ids(client, "?sort=-investment") == [a.id, b.id, c.id]
    assert _list_ids(client, "?sort=investment") == [c.id, b.id, a.id]
    response = client.get("/projects/?region=abc&stage=nonsense")
    assert response.status_code == 200 and "筛选条件无效" in page_text(response)


def test_list_paginates(as_role, factory, app):
    app.config["PAGE_SIZE"] = 5
    for i in range(12):
        factory.project(f"项目{i:02d}", signing_ready=False)
    client = as_role("leader")
    pages = [_list_ids(client, f"?sort=code&page={n}") for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [5, 5, 2]
    assert len(set(sum(pages, []))) == 12
    assert "共 12 个" in page_text(client.get("/projects/"))


def test_list_query_count_does_not_grow_with_rows(as_role, factory, users):
    client = as_role("leader")
    for i in range(3):
        factory.project(f"少量{i}", regions=["上海"], by=users["officer"],
                        officer_id=users["officer"].id)
    few = statement_count(client, "/projects/")
    for i in range(40):
        factory.project(f"大量{i}", regions=["上海", "韩国"], by=users["officer"],
                        officer_id=users["officer"].id)
    many = statement_count(client, "/projects/")
    assert many == few, (few, many)
    detail_few = statement_count(client, f"/projects/{db.session.scalar(select(Project.id))}")
    assert detail_few <= 12


def test_text_search_index(as_role, factory, users):
    sk = factory.project("ＳＫ 27GWh 动力电池", company_name="SK On", regions=["韩国"])
    pv = factory.project("恒源 12GW 光伏组件", company_name="恒源新能源科技")
    other = factory.project("诺富特酒店", company_name="雅高集团")
    client = as_role("leader")
    assert _list_ids(client, "?q=sk") == [sk.id]            # width and case
    assert _list_ids(client, "?q=27 gwh") == [sk.id]        # spaces ignored
    assert _list_ids(client, "?q=新能源") == [pv.id]          # by investor
    assert _list_ids(client, "?q=恒") == [pv.id]              # one character: a scan
    assert _list_ids(client, "?q=池恒") == []                 # never across two fields
    assert _list_ids(client, "?q=动力电 池") == [sk.id]
    assert _list_ids(client, f"?q={other.code[:7].lower()}") != []   # code prefix
    assert _list_ids(client, f"?q={other.code}") == [other.id]
    # An edit re-indexes the project: the old name is no longer found, the new one is.
    response = as_role("admin").post(f"/projects/{other.id}/edit", data=form_data(
        factory, name="希尔顿酒店", company_name="希尔顿集团", version=str(other.version)))
    assert response.status_code == 302
    assert _list_ids(client, "?q=诺富特") == []
    assert _list_ids(client, "?q=希尔顿集团") == [other.id]


def test_bulk_create_fills_and_checks_as_create_project(app, factory, users):
    """create_projects (the ledger import's) stores what create_project would for the
    same input, and refuses the same bad ids, writing nothing."""
    from crm import lifecycle
    from crm.errors import RulesBroken
    from crm.lifecycle import PartialDate
    from crm.projects.services import NewProject, ProjectData, create_project, create_projects

    def data(name, **kw):
        return ProjectData(
            name=f" {name} ", company_name="ＳＫ 新能源", region_ids=[
                factory.region("苏州").id, factory.region("上海").id],
            industry_id=factory.industry("光伏").id, investment_amount=Decimal("30000"),
            unit_id=factory.unit("光伏产业园").id, officer_id=users["officer"].id,
            content="组件", leader_name="王区长", notes="备注", **kw)

    signed = {lifecycle.SIGNED: PartialDate(date(2024, 3, 1))}
    one = create_project(data("单个 项目"), users["admin"])
    advance_stage(one, lifecycle.SIGNED, signed, users["admin"], None)
    (pid, code), = create_projects([NewProject(data("批量 项目"), lifecycle.SIGNED, signed)],
                                   users["admin"])
    db.session.commit()
    many = db.session.get(Project, pid)
    columns = [c.key for c in Project.__table__.columns
               if c.key not in ("id", "code", "name", "name_key", "search_text", "created_at",
                                "updated_at", "version")]
    assert [getattr(many, c) for c in columns] == [getattr(one, c) for c in columns]
    assert [r.name for r in many.regions] == [r.name for r in one.regions]
    assert (many.name, many.name_key, many.search_text) == (
        "批量 项目", "批量项目", "批量项目\x1fsk新能源")
    assert many.code == code and many.company_id == one.company_id

    before = counts()
    for bad in ({"region_ids": [999999]}, {"unit_id": 999999}, {"officer_id": 999999}):
        item = data("坏 项目")
        for key, value in bad.items():
            setattr(item, key, value)
        with pytest.raises(RulesBroken) as refused:
            create_projects([NewProject(data("好 项目")), NewProject(item)], users["admin"])
        db.session.rollback()
        assert [e.message for e in refused.value.errors] == ["%(field)s：无效的选择"]
        assert counts() == before
