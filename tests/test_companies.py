"""Investor companies: validation (name, credit code, website), contacts, history,
re-indexing projects on rename, list filters, permissions beyond the policy table."""
import re

import pytest
from sqlalchemy import func, select

from crm.companies.credit_code import check_character, is_valid_credit_code
from crm.extensions import db
from crm.models import Change, Company, Contact

VALID_CODE = "91350100M000100Y43"   # the example of GB 32100-2015


def text(response):
    return response.get_data(as_text=True)


def company_form(factory, **overrides):
    data = {"name": "SK On", "credit_code": "", "nature": "foreign",
            "region_id": str(factory.region("韩国").id), "hq_city": "首尔",
            "industry_id": str(factory.industry("动力电池及储能").id),
            "website": "https://www.skon.com", "notes": "", "version": ""}
    data.update(overrides)
    return data


def errors_of(response):
    match = re.search(r'id="form-errors">(.*?)</div>', text(response), re.S)
    return match.group(1) if match else ""


@pytest.mark.parametrize("code,valid", [
    (VALID_CODE, True),
    ("91350100M000100Y44", False),          # wrong check character
    ("91350100M000100Y4", False),           # 17 characters
    ("91350100M000100Y433", False),         # 19 characters
    ("9135010OM000100Y43", False),          # O is not in the alphabet
    ("91350100m000100y43", False),          # not normalised (the form upper-cases)
])
def test_credit_code_check(code, valid):
    assert is_valid_credit_code(code) is valid


def test_check_character_maps_31_to_zero():
    # A remainder of 0 gives 31 - 0 = 31, which wraps to the first character.
    assert check_character("00000000000000000") == "0"


def test_create_company_with_contact_and_history(as_role, factory, users):
    client = as_role("officer")
    response = client.post("/companies/new", data=company_form(
        factory, credit_code=" 91350100m000100y43 "))
    assert response.status_code == 302, errors_of(response)
    company = db.session.scalar(select(Company))
    assert company.credit_code == VALID_CODE and company.name_key == "skon"
    assert company.region.name == "韩国" and company.nature == "foreign"
    response = client.post(f"/companies/{company.id}/contacts/new", data={
        "name": "金经理", "title": "中国区总监", "phone": "+86 138-0000-0000",
        "email": "kim@skon.com"})
    assert response.status_code == 302, errors_of(response)
    contact = db.session.scalar(select(Contact))
    page = text(client.get(f"/companies/{company.id}"))
    assert "金经理" in page and "kim@skon.com" in page and "首尔" in page
    response = client.post(f"/companies/contacts/{contact.id}/delete")
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0
    history = [(c.field, c.old_value, c.new_value) for c in db.session.scalars(
        select(Change).where(Change.entity == "company").order_by(Change.id))]
    assert history[0][0] == "created"
    assert history[1] == ("contact", "", "金经理 中国区总监 +86 138-0000-0000 kim@skon.com")
    assert history[2][0] == "contact" and history[2][2] == ""
    assert all(c.user_id == users["officer"].id for c in db.session.scalars(select(Change)))


@pytest.mark.parametrize("field,value,label", [
    ("name", "", "投资方名称"),
    ("name", "名" * 201, "投资方名称"),
    ("credit_code", "91350100M000100Y44", "统一社会信用代码"),
    ("credit_code", "123", "统一社会信用代码"),
    ("website", "javascript:alert(1)", "网站"),
    ("website", "ftp://example.com", "网站"),
    ("nature", "state", "企业性质"),
    ("region_id", "99999", "来源地"),
    ("industry_id", "99999", "产业类别"),
    ("notes", "字" * 2001, "备注"),
])
def test_bad_company_input_is_refused(as_role, factory, field, value, label):
    client = as_role("officer")
    response = client.post("/companies/new", data=company_form(factory, **{field: value}))
    assert response.status_code == 400
    assert label in errors_of(response)
    assert db.session.scalar(select(func.count()).select_from(Company)) == 0


@pytest.mark.parametrize("field,value,label", [
    ("email", "not-an-email", "电子邮箱"),
    ("phone", "call me", "电话"),
    ("name", "", "姓名"),
])
def test_bad_contact_input_is_refused(as_role, factory, field, value, label):
    project = factory.project("SK 30GWh")
    client = as_role("officer")
    data = {"name": "金经理", "title": "", "phone": "", "email": "", field: value}
    response = client.post(f"/companies/{project.company_id}/contacts/new", data=data)
    assert response.status_code == 400 and label in errors_of(response)
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0


def test_names_and_credit_codes_are_unique(as_role, factory):
    client = as_role("admin")
    assert client.post("/companies/new", data=company_form(
        factory, credit_code=VALID_CODE)).status_code == 302
    response = client.post("/companies/new", data=company_form(factory, name="ＳＫ　ｏｎ"))
    assert response.status_code == 400 and "已有同名投资方「SK On」" in errors_of(response)
    response = client.post("/companies/new", data=company_form(
        factory, name="另一家", credit_code=VALID_CODE))
    assert response.status_code == 400 and "已被「SK On」使用" in errors_of(response)


def test_rename_reindexes_the_company_projects(as_role, factory):
    project = factory.project("动力电池二期", company_name="鑫达科技")
    company = db.session.get(Company, project.company_id)
    client = as_role("officer")
    response = client.post(f"/companies/{company.id}/edit", data=company_form(
        factory, name="恒润电子", version=str(company.version)))
    assert response.status_code == 302, errors_of(response)

    def ids(q):
        return re.findall(r'href="/projects/(\d+)"', text(client.get(f"/projects/?q={q}")))

    assert ids("恒润") == [str(project.id)]
    assert ids("鑫达") == []
    change = db.session.scalars(select(Change).where(Change.field == "name")).one()
    assert (change.old_value, change.new_value) == ("鑫达科技", "恒润电子")


def test_stale_company_edit_is_refused(as_role, factory):
    project = factory.project("并发", company_name="甲公司")
    company = db.session.get(Company, project.company_id)
    version = str(company.version)
    first, second = as_role("officer"), as_role("other")
    assert first.post(f"/companies/{company.id}/edit", data=company_form(
        factory, name="甲公司（新）", version=version)).status_code == 302
    response = second.post(f"/companies/{company.id}/edit", data=company_form(
        factory, name="甲公司（覆盖）", version=version))
    assert response.status_code == 409 and "已被他人修改" in text(response)
    assert db.session.get(Company, company.id).name == "甲公司（新）"


def test_company_list_search_and_filters(as_role, factory):
    a = factory.project("A", company_name="SK On", regions=["韩国"])
    b = factory.project("B", company_name="恒源新能源")
    client = as_role("leader")
    db.session.get(Company, a.company_id).region = factory.region("韩国")
    db.session.commit()
    page = text(client.get("/companies/"))
    assert "SK On" in page and "恒源新能源" in page and "共 2 个" in page
    page = text(client.get("/companies/?q=ｓｋ"))
    assert "SK On" in page and "恒源新能源" not in page
    page = text(client.get(f"/companies/?region={factory.region('境外').id}"))
    assert "SK On" in page and "恒源新能源" not in page
    page = text(client.get(f"/companies/{b.company_id}"))
    assert 'href="/projects/%d"' % b.id in page
