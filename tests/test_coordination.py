"""Coordination issues (raise, list by age and unit, overdue, close) and leader
instructions (write, shown to the project's officer and unit until acknowledged)."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm.clock import today
from crm.coordination.services import raise_issue
from crm.extensions import db
from crm.models import Change, CoordinationIssue, Instruction


def text(response):
    return response.get_data(as_text=True)


def errors_of(response):
    match = re.search(r'id="form-errors">(.*?)</div>', text(response), re.S)
    return match.group(1) if match else ""


def count(model):
    result = db.session.scalar(select(func.count()).select_from(model))
    db.session.rollback()
    return result


def test_raise_list_and_close_an_issue(as_role, factory, users):
    project = factory.project("恒源光伏", by=users["officer"])
    acting = factory.unit("区住建局")
    client = as_role("officer")
    response = client.post(f"/coordination/projects/{project.id}/issues/new", data={
        "description": "施工许可证办理", "acting_unit_id": str(acting.id),
        "due_on": str(today() + timedelta(days=10))})
    assert response.status_code == 302, errors_of(response)
    issue = db.session.scalar(select(CoordinationIssue))
    assert (issue.raised_on, issue.acting_unit_id, issue.created_by_id) == (
        today(), acting.id, users["officer"].id)
    assert "施工许可证办理" in text(client.get(f"/projects/{project.id}"))
    listing = text(as_role("leader").get(f"/coordination/?unit={acting.id}"))
    assert "施工许可证办理" in listing
    assert "施工许可证办理" not in text(as_role("leader").get(
        f"/coordination/?unit={factory.unit('区中韩办').id}"))
    response = client.post(f"/coordination/issues/{issue.id}/close", data={
        "resolution": "已办结", "closed_on": str(today())})
    assert response.status_code == 302, errors_of(response)
    issue = db.session.get(CoordinationIssue, issue.id)
    assert (issue.closed_on, issue.resolution, issue.closed_by_id) == (
        today(), "已办结", users["officer"].id)
    assert "施工许可证办理" not in text(client.get("/coordination/"))
    fields = [c.field for c in db.session.scalars(
        select(Change).where(Change.project_id == project.id).order_by(Change.id))]
    assert fields[-2:] == ["issue", "issue_closed"]
    # Closing twice is refused, naming the field.
    response = client.post(f"/coordination/issues/{issue.id}/close", data={
        "resolution": "再次", "closed_on": ""})
    assert response.status_code == 400 and "办理结果" in errors_of(response)


def test_open_issues_by_age_with_overdue_marked(as_role, factory, users):
    project = factory.project("SK 30GWh", by=users["officer"])
    old = raise_issue(project, "电力增容", None, today() - timedelta(days=5), users["admin"],
                      today=today() - timedelta(days=40))
    new = raise_issue(project, "天然气接入", None, None, users["admin"])
    db.session.commit()
    html = text(as_role("leader").get("/coordination/"))
    rows = re.findall(r"<tr class=\"(.*?)\">.*?<td class=\"text-prewrap\">(.*?)</td>.*?"
                      r'<td class="text-end">(\d+)</td>', html, re.S)
    assert [(r[1], r[2]) for r in rows] == [("电力增容", "40"), ("天然气接入", "0")]
    assert "table-danger" in rows[0][0] and "table-danger" not in rows[1][0]
    assert old.id != new.id


@pytest.mark.parametrize("data,label", [
    ({"description": ""}, "问题描述"),
    ({"description": "x" * 2001}, "问题描述"),
    ({"due_on": "2000-01-01"}, "办结时限"),
    ({"acting_unit_id": "99999"}, "责任单位"),
])
def test_bad_issue_input(as_role, factory, users, data, label):
    project = factory.project("甲", by=users["officer"])
    form = {"description": "用地", "acting_unit_id": "0", "due_on": "", **data}
    response = as_role("officer").post(f"/coordination/projects/{project.id}/issues/new",
                                       data=form)
    assert response.status_code == 400 and label in errors_of(response)
    assert count(CoordinationIssue) == 0


def test_close_dates_must_be_between_raising_and_today(as_role, factory, users):
    project = factory.project("乙", by=users["officer"])
    issue = raise_issue(project, "环评", None, None, users["admin"])
    db.session.commit()
    for closed_on in (str(today() + timedelta(days=1)), str(today() - timedelta(days=1))):
        response = as_role("officer").post(f"/coordination/issues/{issue.id}/close", data={
            "resolution": "已办结", "closed_on": closed_on})
        assert response.status_code == 400 and "销号日期" in errors_of(response)
    assert db.session.get(CoordinationIssue, issue.id).closed_on is None


def test_instruction_reaches_officer_and_unit_until_acknowledged(as_role, factory, users):
    project = factory.project("星恒 16GWh", by=users["officer"])
    colleague = factory.user("officer3", "officer", "光伏产业园")
    leader = as_role("leader")
    response = leader.post(f"/coordination/projects/{project.id}/instructions",
                           data={"text": "请本周内对接投资方高层"})
    assert response.status_code == 302
    instruction = db.session.scalar(select(Instruction))
    assert instruction.leader_id == users["leader"].id
    officer = as_role("officer")
    home = text(officer.get("/"))
    assert "请本周内对接投资方高层" in home and 'id="home-instructions"' in home
    from tests.conftest import login
    client3 = officer.application.test_client()
    login(client3, colleague.username)
    assert "请本周内对接投资方高层" in text(client3.get("/"))          # same unit
    assert "请本周内对接投资方高层" not in text(as_role("other").get("/"))  # other unit
    assert "请本周内对接投资方高层" in text(as_role("other").get(f"/projects/{project.id}"))
    assert officer.post(f"/coordination/instructions/{instruction.id}/ack",
                        data={"next": "/"}).location == "/"
    instruction = db.session.get(Instruction, instruction.id)
    assert instruction.acknowledged_by_id == users["officer"].id
    assert "请本周内对接投资方高层" not in text(officer.get("/"))
    assert "请本周内对接投资方高层" not in text(client3.get("/"))


def test_empty_instruction_is_refused(as_role, factory, users):
    project = factory.project("丙", by=users["officer"])
    response = as_role("leader").post(f"/coordination/projects/{project.id}/instructions",
                                      data={"text": "  "}, follow_redirects=True)
    assert "批示内容" in text(response)
    assert count(Instruction) == 0
    assert as_role("officer").post(f"/coordination/projects/{project.id}/instructions",
                                   data={"text": "越权"}).status_code == 403
