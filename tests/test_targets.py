"""Annual targets (招商任务) through the admin pages: create, edit, delete and copy with
the change history, every validation rule (NULL unit and region included in the
uniqueness), the unique index itself, who may see the pages, and the query functions
the dashboard reads."""
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm.errors import RulesBroken
from crm.extensions import db
from crm.models import Change, Target
from crm.targets.queries import targets_for, target_value
from crm.targets.services import TargetData, save_target
from tests.conftest import statement_count


def text(response):
    return response.get_data(as_text=True)


def errors_of(response):
    match = re.search(r'id="form-errors">(.*?)</div>', text(response), re.S)
    return match.group(1) if match else ""


def target_form(**overrides):
    data = {"year": "2025", "unit_id": "0", "metric": "signings", "region_id": "0",
            "value": "20"}
    data.update({k: str(v) for k, v in overrides.items()})
    return data


def counts():
    result = (db.session.scalar(select(func.count()).select_from(Target)),
              db.session.scalar(select(func.count()).select_from(Change)))
    db.session.rollback()
    return result


def history(target_id):
    rows = db.session.execute(select(Change.field, Change.old_value, Change.new_value)
                              .where(Change.entity == "target", Change.entity_id == target_id)
                              .order_by(Change.id)).all()
    db.session.rollback()
    return [tuple(r) for r in rows]


def make(factory, users, year=2025, metric="signings", value="20", unit=None, region=None):
    """A target saved through the service, committed."""
    target = save_target(None, TargetData(
        year=year, metric=metric, value=Decimal(value),
        unit_id=factory.unit(unit).id if unit else None,
        region_id=factory.region(region).id if region else None), users["admin"])
    db.session.commit()
    return target


def test_admin_creates_edits_and_deletes_a_target_with_history(as_role, factory, users):
    client = as_role("admin")
    assert client.get("/admin/targets/new?year=2025").status_code == 200
    response = client.post("/admin/targets/new", data=target_form())
    assert response.status_code == 302, errors_of(response)
    assert response.headers["Location"].endswith("/admin/targets/?year=2025")
    target = db.session.scalar(select(Target))
    assert (target.year, target.unit_id, target.metric, target.region_id, target.value) == (
        2025, None, "signings", None, Decimal("20"))
    assert target.updated_by_id == users["admin"].id and target.updated_at is not None
    target_id = target.id
    assert history(target_id) == [("created", "", "2025年 全区 新签约项目 20 个")]
    page = text(client.get("/admin/targets/?year=2025"))
    assert "全区" in page and "新签约项目" in page and "20 个" in page and "admin1" in page

    # Edit: another unit, another value; each changed field goes to the history.
    edit_page = text(client.get(f"/admin/targets/{target_id}/edit"))
    assert 'value="20"' in edit_page and "修改记录" in edit_page
    unit = factory.unit("光伏产业园")
    response = client.post(f"/admin/targets/{target_id}/edit", data=target_form(
        unit_id=unit.id, value="25"))
    assert response.status_code == 302, errors_of(response)
    target = db.session.get(Target, target_id)
    assert (target.unit_id, target.value) == (unit.id, Decimal("25"))
    assert history(target_id)[1:] == [("unit", "全区", "光伏产业园"), ("value", "20 个", "25 个")]
    assert "25 个" in text(client.get(f"/admin/targets/{target_id}/edit"))

    # Delete: gone, and the history keeps what it was.
    response = client.post(f"/admin/targets/{target_id}/delete")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/targets/?year=2025")
    assert db.session.get(Target, target_id) is None
    assert history(target_id)[-1] == ("deleted", "2025年 光伏产业园 新签约项目 25 个", "")
    assert "招商任务已删除" in text(client.get("/admin/targets/?year=2025"))


def test_region_target_and_amount_target(as_role, factory):
    client = as_role("admin")
    korea = factory.region("韩国")
    unit = factory.unit("区中韩办")
    response = client.post("/admin/targets/new", data=target_form(
        metric="region_signings", region_id=korea.id, unit_id=unit.id, value="5"))
    assert response.status_code == 302, errors_of(response)
    response = client.post("/admin/targets/new", data=target_form(
        metric="signed_amount", value="300.5"))
    assert response.status_code == 302, errors_of(response)
    # Another region for the same unit and metric is another target.
    response = client.post("/admin/targets/new", data=target_form(
        metric="region_signings", region_id=factory.region("长三角").id, unit_id=unit.id,
        value="3"))
    assert response.status_code == 302, errors_of(response)
    page = text(client.get("/admin/targets/?year=2025"))
    assert "韩国" in page and "长三角" in page and "300.5 亿元" in page
    assert "来源地新签约项目" in page and "签约总投资" in page


@pytest.mark.parametrize("overrides,message", [
    ({"value": "0"}, "目标值：必须大于 0"),
    ({"value": "-3"}, "目标值：必须大于 0"),
    ({"value": "NaN"}, "目标值：不是有效的数字"),
    ({"value": "-Infinity"}, "目标值：不是有效的数字"),
    ({"value": "abc"}, "目标值："),
    ({"value": "二十"}, "目标值："),
    ({"value": ""}, "目标值：请填写"),
    ({"value": "1e400"}, "目标值：数值过大"),
    ({"value": "2.5"}, "目标值：「新签约项目」以个计，必须是整数"),
    ({"metric": "signed_amount", "value": "1.234"}, "目标值：最多两位小数"),
    ({"metric": "region_signings"}, "来源地：「来源地新签约项目」必须选择来源地"),
    ({"region_id": "REGION"}, "来源地：只有「来源地新签约项目」需要选择来源地"),
    ({"metric": "region_signings", "region_id": "99999"}, "来源地："),
    ({"year": "1999"}, "年度：应在 2000 到 2100 之间"),
    ({"year": "2101"}, "年度：应在 2000 到 2100 之间"),
    ({"year": "明年"}, "年度："),
    ({"year": ""}, "年度：请填写"),
    ({"unit_id": "99999"}, "责任单位："),
    ({"metric": "visits"}, "指标："),
])
def test_bad_input_is_refused_naming_the_field(as_role, factory, overrides, message):
    client = as_role("admin")
    if overrides.get("region_id") == "REGION":
        overrides["region_id"] = factory.region("韩国").id
    before = counts()
    response = client.post("/admin/targets/new", data=target_form(**overrides))
    assert response.status_code == 400
    assert message in errors_of(response)
    assert counts() == before


def test_injected_fields_are_refused(as_role):
    client = as_role("admin")
    before = counts()
    response = client.post("/admin/targets/new", data={**target_form(), "updated_by_id": "1"})
    assert response.status_code == 400
    assert "不允许提交的字段：updated_by_id" in errors_of(response)
    assert counts() == before


@pytest.mark.parametrize("unit,region", [(None, None), ("光伏产业园", None),
                                         (None, "韩国"), ("区中韩办", "韩国")])
def test_duplicates_are_refused_with_null_unit_and_region(as_role, factory, users, unit,
                                                          region):
    metric = "region_signings" if region else "signings"
    make(factory, users, metric=metric, unit=unit, region=region)
    client = as_role("admin")
    before = counts()
    response = client.post("/admin/targets/new", data=target_form(
        metric=metric, unit_id=factory.unit(unit).id if unit else 0,
        region_id=factory.region(region).id if region else 0, value="30"))
    assert response.status_code == 400
    expected = f"指标：2025年{unit or '全区'}的「{'来源地新签约项目' if region else '新签约项目'}」"
    expected += f"（{region}）任务已存在" if region else "任务已存在"
    assert expected in errors_of(response)
    assert counts() == before


def test_edit_into_an_existing_key_is_refused(as_role, factory, users):
    make(factory, users, metric="signings")
    other = make(factory, users, metric="starts", value="8")
    client = as_role("admin")
    response = client.post(f"/admin/targets/{other.id}/edit", data=target_form(value="8"))
    assert response.status_code == 400
    assert "2025年全区的「新签约项目」任务已存在" in errors_of(response)
    assert db.session.get(Target, other.id).metric == "starts"
    # Saving a target unchanged is not a clash with itself.
    response = client.post(f"/admin/targets/{other.id}/edit", data=target_form(
        metric="starts", value="8"))
    assert response.status_code == 302


@pytest.mark.parametrize("unit,region", [(None, None), ("光伏产业园", None), (None, "韩国")])
def test_unique_index_holds_with_nulls(app, factory, users, unit, region):
    # Past the service check (a race between two saves): the database refuses it too.
    make(factory, users, metric="region_signings" if region else "signings", unit=unit,
         region=region)
    db.session.add(Target(year=2025, metric="region_signings" if region else "signings",
                          unit_id=factory.unit(unit).id if unit else None,
                          region_id=factory.region(region).id if region else None,
                          value=Decimal(1)))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_a_lost_race_is_reported_as_a_duplicate(app, factory, users, monkeypatch):
    # Two admins save the same key at once: both pass the check, the index stops the
    # second, and the service reports it like the check would (the savepoint is undone).
    make(factory, users, metric="signings")
    import crm.targets.services as services
    monkeypatch.setattr(services, "find_target", lambda *args: None)
    with pytest.raises(RulesBroken) as exc:
        save_target(None, TargetData(year=2025, metric="signings", value=Decimal(30)),
                    users["admin"])
    assert "任务已存在" in exc.value.errors[0].message
    db.session.rollback()
    assert counts() == (1, 1)


def test_copy_last_years_targets(as_role, factory, users):
    make(factory, users, year=2024, metric="signings", value="20")
    make(factory, users, year=2024, metric="starts", value="10")
    make(factory, users, year=2024, metric="region_signings", region="韩国", value="5",
         unit="区中韩办")
    make(factory, users, year=2024, metric="producing", unit="光伏产业园", value="4")
    make(factory, users, year=2025, metric="starts", value="12")   # already set: kept
    factory.unit("光伏产业园").active = False                       # deactivated: left out
    db.session.commit()
    client = as_role("admin")
    response = client.post("/admin/targets/copy?year=2025")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/targets/?year=2025")
    page = text(client.get("/admin/targets/?year=2025"))
    assert ("已从2024年复制 2 项任务；1 项本年已有，未覆盖；"
            "1 项的责任单位或来源地已停用，未复制") in page
    copied = {(t.metric, t.unit.name if t.unit else None, t.region.name if t.region else None):
              t.value for t in targets_for(2025)}
    assert copied == {("signings", None, None): Decimal(20), ("starts", None, None): Decimal(12),
                      ("region_signings", "区中韩办", "韩国"): Decimal(5)}
    new = db.session.scalar(select(Target).where(Target.year == 2025,
                                                 Target.metric == "signings"))
    assert history(new.id) == [("copied", "2024年 全区 新签约项目 20 个",
                                "2025年 全区 新签约项目 20 个")]
    # Copying again adds nothing.
    client.post("/admin/targets/copy?year=2025")
    assert len(targets_for(2025)) == 3
    assert "已从2024年复制 0 项任务；3 项本年已有" in text(client.get("/admin/targets/?year=2025"))
    client.post("/admin/targets/copy?year=2031")
    assert "2030年没有可复制的任务" in text(client.get("/admin/targets/?year=2031"))


def test_inactive_unit_and_region_stay_on_the_target_that_has_them(as_role, factory, users):
    target = make(factory, users, metric="region_signings", unit="区中韩办", region="韩国",
                  value="5")
    factory.unit("区中韩办").active = False
    factory.region("韩国").active = False
    db.session.commit()
    client = as_role("admin")
    page = text(client.get(f"/admin/targets/{target.id}/edit"))
    assert "区中韩办（已停用）" in page and "韩国（已停用）" in page
    response = client.post(f"/admin/targets/{target.id}/edit", data=target_form(
        metric="region_signings", unit_id=target.unit_id, region_id=target.region_id,
        value="6"))
    assert response.status_code == 302, errors_of(response)
    page = text(client.get("/admin/targets/new"))
    assert "区中韩办" not in page.split('name="unit_id"')[1].split("</select>")[0]
    response = client.post("/admin/targets/new", data=target_form(
        unit_id=target.unit_id, metric="starts"))
    assert response.status_code == 400 and "责任单位：" in errors_of(response)


def test_index_groups_by_unit_zone_first_and_switches_years(as_role, factory, users):
    make(factory, users, metric="starts", unit="光伏产业园", value="3")
    make(factory, users, metric="signings", unit="光伏产业园", value="6")
    make(factory, users, metric="starts", value="30")
    make(factory, users, metric="signings", unit="区中韩办", value="9")
    make(factory, users, year=2026, metric="signings", value="99")
    client = as_role("admin")
    page = text(client.get("/admin/targets/?year=2025"))
    headings = re.findall(r'<tr class="table-light"><th colspan="5">([^<]+)', page)
    units = [t.unit.name for t in targets_for(2025) if t.unit]
    assert headings[0] == "全区" and headings[1:] == list(dict.fromkeys(units))
    # Within a unit, metrics in TARGET_METRICS order (signings before starts).
    pv = [t.metric for t in targets_for(2025) if t.unit and t.unit.name == "光伏产业园"]
    assert pv == ["signings", "starts"]
    assert "99 个" not in page
    assert 'href="/admin/targets/?year=2024"' in page
    assert 'href="/admin/targets/?year=2026"' in page
    assert "99 个" in text(client.get("/admin/targets/?year=2026"))
    # A missing or nonsensical year shows the current year.
    assert client.get("/admin/targets/?year=abc").status_code == 200
    assert client.get("/admin/targets/?year=99999").status_code == 200


def test_queries_for_the_dashboard(app, factory, users):
    make(factory, users, metric="signings", value="20")
    make(factory, users, metric="signings", unit="光伏产业园", value="6")
    make(factory, users, metric="region_signings", region="韩国", value="5")
    make(factory, users, metric="region_signings", region="长三角", unit="区中韩办", value="2")
    make(factory, users, year=2024, metric="signings", value="15")
    assert target_value(2025, "signings", None) == Decimal("20")
    assert target_value(2025, "signings", factory.unit("光伏产业园").id) == Decimal("6")
    assert target_value(2025, "signings", factory.unit("区中韩办").id) is None
    assert target_value(2025, "region_signings", None, factory.region("韩国").id) == 5
    assert target_value(2025, "region_signings", None, factory.region("长三角").id) is None
    assert target_value(2025, "region_signings", factory.unit("区中韩办").id,
                        factory.region("长三角").id) == 2
    assert target_value(2024, "signings", None) == Decimal("15")
    assert target_value(2023, "signings", None) is None
    assert len(targets_for(2025)) == 4
    assert targets_for(2025)[0].unit is None
    mine = targets_for(2025, factory.unit("光伏产业园").id)
    assert [(t.metric, t.value) for t in mine] == [("signings", Decimal("6"))]


def test_index_query_count_does_not_grow_with_rows(as_role, factory, users):
    client = as_role("admin")
    make(factory, users, metric="signings")
    few = statement_count(client, "/admin/targets/?year=2025")
    for metric in ("starts", "producing", "at_capacity"):
        make(factory, users, metric=metric, unit="光伏产业园")
        make(factory, users, metric=metric, unit="区中韩办")
    for region in ("韩国", "日本", "长三角"):
        make(factory, users, metric="region_signings", region=region)
    assert statement_count(client, "/admin/targets/?year=2025") == few


@pytest.mark.parametrize("role", ["officer", "leader"])
def test_officers_and_leaders_get_403(as_role, factory, users, role):
    target = make(factory, users, year=2024)
    client = as_role(role)
    before = counts()
    for method, url in [("GET", "/admin/targets/"), ("GET", "/admin/targets/new"),
                        ("POST", "/admin/targets/new"),
                        ("GET", f"/admin/targets/{target.id}/edit"),
                        ("POST", f"/admin/targets/{target.id}/edit"),
                        ("POST", f"/admin/targets/{target.id}/delete"),
                        ("POST", "/admin/targets/copy?year=2025")]:
        data = target_form(value="1") if method == "POST" else None
        assert client.open(url, method=method, data=data).status_code == 403, url
    assert counts() == before
    assert "/admin/targets/" not in text(client.get("/"))


def test_missing_target_is_404(as_role):
    client = as_role("admin")
    assert client.get("/admin/targets/999/edit").status_code == 404
    assert client.post("/admin/targets/999/delete").status_code == 404
