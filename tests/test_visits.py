"""Visits: logging with defaults and prefill, validation, one visit per submitted form,
the duplicate-courting warning, follow-ups on the home page and their completion,
edits with history, and the list's filters."""
import re
import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from crm.clock import today
from crm.extensions import db
from crm.models import Change, Company, Project, Visit
from crm.visits.services import VisitData, log_visit


def text(response):
    return response.get_data(as_text=True)


def errors_of(response):
    match = re.search(r'id="form-errors">(.*?)</div>', text(response), re.S)
    return match.group(1) if match else ""


def visit_form(**overrides):
    data = {"visited_on": str(today()), "kind": "visit", "company_name": "宁德新能源",
            "city": "宁德", "purpose": "推介园区", "outcome": "对方有意向",
            "next_steps": "寄送园区资料", "follow_up_on": str(today() + timedelta(days=3)),
            "people_met": "", "leader_name": "", "trip_destination": "", "trip_start": "",
            "trip_end": "", "idempotency_key": uuid.uuid4().hex}
    data.update(overrides)
    return data


def count(model=Visit):
    result = db.session.scalar(select(func.count()).select_from(model))
    db.session.rollback()
    return result


def test_officer_logs_a_visit_to_a_new_company(as_role, users):
    client = as_role("officer")
    page = text(client.get("/visits/new"))
    assert f'value="{today()}"' in page          # defaults to today
    response = client.post("/visits/new", data=visit_form(
        participant_ids=[str(users["officer"].id)]))
    assert response.status_code == 302, errors_of(response)
    visit = db.session.scalar(select(Visit))
    assert visit.company.name == "宁德新能源"    # created in place
    assert visit.unit.name == "光伏产业园" and visit.created_by_id == users["officer"].id
    assert [u.id for u in visit.participants] == [users["officer"].id]
    assert db.session.scalar(select(Change.field).where(Change.entity == "visit")) == "created"
    home = text(client.get("/"))
    assert "宁德新能源" in home and "待跟进" in home


def test_log_from_a_project_page_prefills_company_and_project(as_role, factory, users):
    project = factory.project("SK 45GWh", company_name="SK On", by=users["officer"])
    client = as_role("officer")
    page = text(client.get(f"/visits/new?project_id={project.id}"))
    assert 'value="SK On"' in page
    assert re.search(rf'<option selected value="{project.id}">|<option value="{project.id}" '
                     r'selected', page)
    response = client.post("/visits/new", data=visit_form(
        company_name="SK On", project_ids=[str(project.id)]))
    assert response.status_code == 302, errors_of(response)
    assert [p.id for p in db.session.scalar(select(Visit)).projects] == [project.id]
    assert "SK On" in text(client.get(f"/visits/?company={project.company_id}"))


@pytest.mark.parametrize("overrides,label", [
    # dates relative to today are built when the test runs, not when it is collected
    # (a run across the zone's midnight would otherwise test "tomorrow" = today)
    (lambda: {"visited_on": str(today() + timedelta(days=1))}, "走访日期"),
    ({"visited_on": "1999-12-31"}, "走访日期"),
    ({"visited_on": "2024-02-30"}, "走访日期"),
    (lambda: {"follow_up_on": str(today() - timedelta(days=1))}, "跟进日期"),
    ({"kind": "meeting"}, "方式"),
    ({"company_name": ""}, "投资方"),
    ({"company_name": "名" * 201}, "投资方"),
    ({"purpose": "字" * 2001}, "目的"),
    ({"participant_ids": ["99999"]}, "我方人员"),
    ({"project_ids": ["99999"]}, "涉及项目"),
    ({"led_by_leader": "y", "leader_name": ""}, "带队领导"),
    (lambda: {"trip_destination": "上海", "trip_start": str(today()),
              "trip_end": str(today() - timedelta(days=2))}, "返回日期"),
    ({"trip_destination": "上海", "trip_start": "", "trip_end": ""}, "外出招商"),
    ({"unit_id": "2"}, "unit_id"),
    ({"created_by_id": "1"}, "created_by_id"),
])
def test_bad_visit_input_is_refused(as_role, overrides, label):
    client = as_role("officer")
    overrides = overrides() if callable(overrides) else overrides
    response = client.post("/visits/new", data=visit_form(**overrides))
    assert response.status_code == 400
    assert label in errors_of(response)
    assert count() == 0 and count(Company) == 0


def test_double_submit_stores_one_visit(as_role):
    client = as_role("officer")
    form = visit_form()
    first = client.post("/visits/new", data=form)
    second = client.post("/visits/new", data=form)
    assert first.status_code == second.status_code == 302
    assert first.location == second.location
    assert count() == 1


def test_duplicate_courting_warning(as_role, users):
    other_day = today() - timedelta(days=6)
    log_visit(VisitData(visited_on=other_day, kind="visit", company_name="宁德新能源"),
              users["other"])
    db.session.commit()
    client = as_role("officer")
    form = visit_form()
    response = client.post("/visits/new", data=form)
    assert response.status_code == 409
    warning = re.search(r'id="duplicate-warning">(.*?)</div>', text(response), re.S).group(1)
    assert "区中韩办" in warning and str(other_day) in warning and "officer2" in warning
    assert count() == 1
    response = client.post("/visits/new", data={**form, "confirm_duplicate": "y"})
    assert response.status_code == 302
    assert count() == 2


def test_no_warning_for_own_unit_or_older_visits(as_role, factory, users):
    officer3 = factory.user("officer3", "officer", "光伏产业园")
    log_visit(VisitData(visited_on=today() - timedelta(days=2), kind="visit",
                        company_name="甲公司"), officer3)
    log_visit(VisitData(visited_on=today() - timedelta(days=31), kind="visit",
                        company_name="乙公司"), users["other"])
    db.session.commit()
    client = as_role("officer")
    for name in ("甲公司", "乙公司"):
        assert client.post("/visits/new", data=visit_form(
            company_name=name)).status_code == 302


def test_next_visit_completes_the_follow_up(as_role, users):
    first = log_visit(VisitData(visited_on=today() - timedelta(days=10), kind="phone",
                                company_name="宁德新能源",
                                follow_up_on=today() - timedelta(days=3)), users["officer"])
    elsewhere = log_visit(VisitData(visited_on=today() - timedelta(days=9), kind="phone",
                                    company_name="宁德新能源",
                                    follow_up_on=today() - timedelta(days=1)),
                          users["other"], confirmed=True)
    db.session.commit()
    client = as_role("officer")
    home = text(client.get("/"))
    assert "已逾期" in home
    response = client.post("/visits/new", data=visit_form(follow_up_on=""))
    assert response.status_code in (302, 409)
    if response.status_code == 409:   # the other unit's visit triggers the warning
        response = client.post("/visits/new", data={**visit_form(follow_up_on=""),
                                                    "confirm_duplicate": "y"})
    assert response.status_code == 302
    assert db.session.get(Visit, first.id).follow_up_done_on == today()
    # Another unit's follow-up stays open: only its own unit's next visit completes it.
    assert db.session.get(Visit, elsewhere.id).follow_up_done_on is None
    assert "近期没有待办的跟进" in text(client.get("/"))


def test_mark_follow_up_done(as_role, users):
    visit = log_visit(VisitData(visited_on=today(), kind="phone", company_name="甲公司",
                                follow_up_on=today()), users["officer"])
    db.session.commit()
    client = as_role("officer")
    assert client.post(f"/visits/{visit.id}/follow-up-done").status_code == 302
    assert db.session.get(Visit, visit.id).follow_up_done_on == today()
    # A second time there is nothing to complete: a message, not an error page.
    response = client.post(f"/visits/{visit.id}/follow-up-done")
    assert response.status_code == 302


def test_edit_own_unit_visit_records_history(as_role, users):
    visit = log_visit(VisitData(visited_on=today(), kind="phone", company_name="甲公司"),
                      users["officer"])
    db.session.commit()
    client = as_role("officer")
    response = client.post(f"/visits/{visit.id}/edit", data=visit_form(
        company_name="甲公司", kind="visit", outcome="签订意向书", follow_up_on="",
        version=str(visit.version), idempotency_key=""))
    assert response.status_code == 302, errors_of(response)
    changes = {c.field: (c.old_value, c.new_value) for c in db.session.scalars(
        select(Change).where(Change.entity == "visit", Change.field != "created"))}
    assert changes["kind"] == ("电话", "上门拜访")
    assert changes["outcome"] == ("", "签订意向书")
    assert as_role("other").get(f"/visits/{visit.id}/edit").status_code == 403


def test_visit_list_filters(as_role, factory, users):
    a = log_visit(VisitData(visited_on=date(2025, 3, 1), kind="visit", company_name="甲公司",
                            city="上海", led_by_leader=True, leader_name="王局长"),
                  users["officer"])
    b = log_visit(VisitData(visited_on=date(2025, 4, 1), kind="phone", company_name="乙公司",
                            participant_ids=[users["officer"].id]), users["other"])
    c = log_visit(VisitData(visited_on=date(2025, 5, 1), kind="expo", company_name="丙公司",
                            city="深圳"), users["other"])
    db.session.commit()
    client = as_role("leader")

    def ids(query=""):
        return [int(i) for i in re.findall(r'href="/visits/(\d+)"',
                                           text(client.get("/visits/" + query)))]

    assert ids() == [c.id, b.id, a.id]                      # newest first
    assert ids("?date_from=2025-03-15&date_to=2025-04-30") == [b.id]
    assert ids(f"?unit={factory.unit('区中韩办').id}") == [c.id, b.id]
    assert ids(f"?officer={users['officer'].id}") == [b.id, a.id]   # logged or took part
    assert ids("?kind=expo") == [c.id]
    assert ids("?city=上海") == [a.id]
    assert ids("?led=y") == [a.id]
    assert ids(f"?company={a.company_id}") == [a.id]
    response = client.get("/visits/?date_from=nonsense")
    assert response.status_code == 200 and len(ids("?date_from=nonsense")) == 3


def test_company_lookup_suggests_names(as_role, factory):
    factory.project("A", company_name="宁德时代新能源")
    factory.project("B", company_name="恒源光伏")
    client = as_role("officer")
    assert client.get("/companies/lookup?q=宁德").get_json() == {"companies": ["宁德时代新能源"]}
    assert client.get("/companies/lookup?q=").get_json() == {"companies": []}


def test_lead_from_a_visit(as_role, factory, users):
    visit = log_visit(VisitData(visited_on=today(), kind="reception",
                                company_name="希尔顿集团", outcome="有意在区内投资酒店"),
                      users["officer"])
    db.session.commit()
    client = as_role("officer")
    assert "转为在谈项目" in text(client.get(f"/visits/{visit.id}"))
    page = text(client.get(f"/projects/new?visit_id={visit.id}"))
    assert 'value="希尔顿集团"' in page and "有意在区内投资酒店" in page
    response = client.post("/projects/new", data={
        "name": "希尔顿酒店", "company_name": "希尔顿集团", "from_visit": str(visit.id),
        "investment_unit": "亿元", "unit_id": str(factory.unit("光伏产业园").id),
        "industry_id": "0", "officer_id": "0", "version": ""})
    assert response.status_code == 302
    project = db.session.scalar(select(Project).where(Project.name == "希尔顿酒店"))
    assert project.stage == "lead" and project.company_id == visit.company_id
    assert [p.id for p in db.session.get(Visit, visit.id).projects] == [project.id]
    # The visit shows on the project's and the company's timelines.
    for url in (f"/projects/{project.id}", f"/companies/{visit.company_id}"):
        timeline = re.search(r'id="visit-timeline">(.*?)</ul>', text(client.get(url)), re.S)
        assert f'href="/visits/{visit.id}"' in timeline.group(1)
    response = client.post("/projects/new", data={
        "name": "另一个", "from_visit": "99999", "investment_unit": "亿元",
        "unit_id": str(factory.unit("光伏产业园").id), "industry_id": "0", "officer_id": "0"})
    assert response.status_code == 400 and "来源走访" in text(response)


def test_trips_per_officer_and_month(as_role, users, factory):
    from crm.visits.queries import trip_stats
    officer, other = users["officer"], users["other"]

    def trip_visit(user, day, company, dest, start, end):
        return log_visit(VisitData(visited_on=day, kind="visit", company_name=company,
                                   trip_destination=dest, trip_start=start, trip_end=end),
                         user, confirmed=True)

    # One 3-day trip to Shanghai with two companies visited: one trip, 3 days, 2 companies.
    trip_visit(officer, date(2025, 3, 10), "上汽", "上海", date(2025, 3, 10), date(2025, 3, 12))
    trip_visit(officer, date(2025, 3, 11), "华人运通", "上海", date(2025, 3, 10),
               date(2025, 3, 12))
    # A trip across the month end counts its days inside each month.
    trip_visit(officer, date(2025, 3, 30), "SK On", "首尔", date(2025, 3, 30), date(2025, 4, 2))
    trip_visit(other, date(2025, 3, 5), "LG", "首尔", date(2025, 3, 5), date(2025, 3, 5))
    # A visit at home is no trip.
    log_visit(VisitData(visited_on=date(2025, 3, 20), kind="phone", company_name="上汽"),
              officer, confirmed=True)
    db.session.commit()
    march = {(s.officer, s.unit): (s.trips, s.days_away, s.companies)
             for s in trip_stats(date(2025, 3, 1))}
    assert march == {("officer1", "光伏产业园"): (2, 5, 3), ("officer2", "区中韩办"): (1, 1, 1)}
    april = {s.officer: (s.trips, s.days_away, s.companies) for s in trip_stats(date(2025, 4, 1))}
    assert april == {"officer1": (1, 2, 0)}
    page = text(as_role("leader").get("/visits/trips?month=2025-03"))
    assert "officer1" in page and "区中韩办" in page


def test_home_lists_stalled_projects(as_role, factory, users):
    from crm.lifecycle import parse_partial_date
    from crm.projects.services import advance_stage
    officer = users["officer"]
    old_signing = factory.project("签约未开工", by=officer, officer_id=officer.id)
    advance_stage(old_signing, "signed", {"signed": parse_partial_date(
        str(today() - timedelta(days=200)))}, users["admin"], None)
    fresh = factory.project("新签约", by=officer, officer_id=officer.id)
    advance_stage(fresh, "signed", {"signed": parse_partial_date(str(today()))},
                  users["admin"], None)
    lead = factory.project("久未跟进的在谈项目", by=officer, officer_id=officer.id)
    lead.created_at = lead.created_at - timedelta(days=70)
    worked = factory.project("刚走访的在谈项目", by=officer, officer_id=officer.id)
    worked.created_at = worked.created_at - timedelta(days=70)
    db.session.commit()
    log_visit(VisitData(visited_on=today(), kind="phone", company_name="X",
                        project_ids=[worked.id]), officer)
    db.session.commit()
    stalled = re.search(r'id="stalled">(.*?)</ul>', text(as_role("officer").get("/")), re.S)
    names = re.findall(r'href="/projects/\d+">(.*?)</a>', stalled.group(1))
    assert names == ["签约未开工", "久未跟进的在谈项目"]     # red (200 d) before yellow (70 d)
    assert "text-bg-danger" in stalled.group(1) and "text-bg-warning" in stalled.group(1)


def test_project_visit_list_and_full_history_link(as_role, factory, users):
    project = factory.project("SK 45GWh", company_name="SK On", by=users["officer"])
    other = factory.project("LG 6GWh", company_name="LG", by=users["officer"])
    for i in range(21):
        log_visit(VisitData(visited_on=today() - timedelta(days=i), kind="phone",
                            company_name="SK On", project_ids=[project.id]), users["officer"])
    log_visit(VisitData(visited_on=today(), kind="phone", company_name="LG",
                        project_ids=[other.id]), users["officer"])
    db.session.commit()
    client = as_role("leader")
    page = text(client.get(f"/projects/{project.id}"))
    assert f'href="/visits/?project={project.id}"' in page
    assert "共 21 个" in text(client.get(f"/visits/?project={project.id}"))
    assert "共 1 个" in text(client.get(f"/visits/?project={other.id}"))
