"""Demo data: the zone's real projects from its planning documents, at plausible
stages, with users of each role. Loading is idempotent (keyed by name/username).
"""
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from crm import lifecycle
from crm.auth.services import create_user
from crm.clock import today
from crm.extensions import db
from crm.lifecycle import PartialDate
from crm.models import ADMIN, LEADER, OFFICER, Industry, Project, Region, Unit, User
from crm.projects.services import ProjectData, advance_stage, create_project, set_status
from crm.targets.queries import find_target
from crm.targets.services import TargetData, save_target

DEMO_PASSWORD = "zhaoshang2026"

# username, display name, role, unit
USERS = [
    ("admin", "系统管理员", ADMIN, None),
    ("leader", "王局长", LEADER, None),
    ("zhangsan", "张三", OFFICER, "光伏产业园"),
    ("lisi", "李四", OFFICER, "区中韩办"),
    ("wangwu", "王五", OFFICER, "新能源汽车产业园"),
    ("zhaoliu", "赵六", OFFICER, "区经发局"),
]

D, M = lifecycle.DAY, lifecycle.MONTH


def _d(text: str) -> PartialDate:
    return lifecycle.parse_partial_date(text)


# name, investor, regions, industry, unit, officer, amount (万), currency, capacity,
# content, leader, milestones {stage: date text}, extra
PROJECTS = [
    ("恒源 12GW 光伏组件", "恒源新能源科技有限公司", ["苏州"], "光伏", "光伏产业园", "zhangsan",
     500000, "CNY", ("12", "GW"), "建设12GW高效光伏组件生产线", "李副区长",
     {"signed": "2023-03-18", "started": "2023-09-26"}, {}),
    ("明阳 5GW 电池", "明阳智慧能源集团股份公司", ["广州"], "光伏", "光伏产业园", "zhangsan",
     300000, "CNY", ("5", "GW"), "5GW N型高效电池片", "李副区长",
     {"signed": "2023-05", "started": "2023-11-08"}, {}),
    ("阿特斯 4GW 电池", "阿特斯阳光电力集团", ["苏州"], "光伏", "光伏产业园", "zhangsan",
     250000, "CNY", ("4", "GW"), "4GW TOPCon 电池", "李副区长",
     {"signed": "2023-08-02", "started": "2024-02-20"}, {}),
    ("天合 10GW 组件", "天合光能股份有限公司", ["长三角"], "光伏", "光伏产业园", "zhangsan",
     600000, "CNY", ("10", "GW"), "10GW 高效组件", "李副区长",
     {"signed": "2025-06-16", "started": "2026-03-10"}, {}),
    ("东方日升 10GW 电池+10GW 组件", "东方日升新能源股份有限公司", ["杭州"], "光伏", "光伏产业园",
     "zhangsan", 1000000, "CNY", ("20", "GW"), "10GW 电池及 10GW 组件", "李副区长",
     {"signed": "2025-09-09", "started": "2026-08-18"}, {}),
    ("海泰 5GW 电池+5GW 组件", "海泰新能", ["北京"], "光伏", "光伏产业园", "zhangsan",
     450000, "CNY", ("10", "GW"), "5GW 电池及 5GW 组件", "李副区长",
     {"signed": "2025-10"}, {}),
    ("SK 27GWh 动力电池", "SK On", ["韩国"], "动力电池及储能", "区中韩办", "lisi",
     250000, "USD", ("27", "GWh"), "动力电池电芯及模组", "陈区长",
     {"signed": "2019-03-12", "started": "2019-08-28", "producing": "2021-06"},
     {"partial": True}),
    ("SK 30GWh 动力电池", "SK On", ["韩国"], "动力电池及储能", "区中韩办", "lisi",
     300000, "USD", ("30", "GWh"), "二期动力电池", "陈区长",
     {"signed": "2024-04-22", "started": "2025-03-15", "producing": "2026-06-30"}, {}),
    ("SK 45GWh 动力电池", "SK On", ["韩国"], "动力电池及储能", "区中韩办", "lisi",
     None, "USD", ("45", "GWh"), "三期规划", "陈区长", {}, {}),
    ("星恒 16GWh 锂电池", "星恒电源股份有限公司", ["苏州"], "动力电池及储能", "新能源汽车产业园",
     "wangwu", 600000, "CNY", ("16", "GWh"), "锂电池电芯", "刘副区长",
     {"signed": "2024-12-20", "started": "2026-01-15"}, {}),
    ("国轩 10GWh 储能电池", "国轩高科股份有限公司", ["长三角"], "动力电池及储能",
     "新能源汽车产业园", "wangwu", 400000, "CNY", ("10", "GWh"), "储能电池", "刘副区长",
     {"signed": "2026-05-20"}, {}),
    ("LG 6GWh 电池", "LG 新能源", ["韩国"], "动力电池及储能", "区中韩办", "lisi",
     60000, "USD", ("6", "GWh"), "圆柱电池", "陈区长",
     {"signed": "2025-07-30", "started": "2026-04"}, {}),
    ("悦达起亚 新增投资 3 亿美元", "江苏悦达起亚汽车有限公司", ["韩国"], "汽车及零部件", "区中韩办",
     "lisi", 30000, "USD", None, "新能源车型技改", "陈区长",
     {"signed": "2024-03-05", "started": "2024-07"}, {}),
    ("华人运通 高合整车", "华人运通控股有限公司", ["上海"], "新能源汽车", "新能源汽车产业园",
     "wangwu", 1200000, "CNY", ("15", "万辆"), "智能电动汽车整车", "刘副区长",
     {"signed": "2020-08-18", "started": "2021-03-01"}, {}),
    ("摩登汽车 整车项目", "摩登汽车有限公司", ["上海"], "新能源汽车", "新能源汽车产业园",
     "wangwu", 300000, "CNY", ("10", "万辆"), "新能源乘用车", "刘副区长",
     {"signed": "2020-01", "started": "2020-06-10", "producing": "2021-12-28"}, {}),
    ("诺富特酒店", "雅高酒店集团", ["欧美"], "现代服务业", "区经发局", "zhaoliu",
     80000, "CNY", ("300", "间"), "五星级商务酒店", "周副区长",
     {"signed": "2023-02-14", "started": "2023-10-18"}, {}),
    ("希尔顿酒店", "希尔顿集团", ["欧美"], "现代服务业", "区经发局", "zhaoliu",
     100000, "CNY", None, "高端酒店", "周副区长", {"signed": "2026-09-15"}, {}),
    ("铂尔曼酒店", "雅高酒店集团", ["欧美"], "现代服务业", "区经发局", "zhaoliu",
     90000, "CNY", None, "高端酒店", "周副区长", {},
     {"hold": "选址调整，待规划确定"}),
    ("瑞金医院 康养基地", "上海交通大学医学院附属瑞金医院", ["上海"], "康养医疗", "区经发局",
     "zhaoliu", 150000, "CNY", ("800", "床"), "医疗及康养基地", "周副区长",
     {"signed": "2025-04-08", "started": "2026-11-05"}, {}),
    ("英锐晶圆", "英锐半导体", ["深圳"], "电子信息", "区经发局", "zhaoliu",
     200000, "CNY", None, "晶圆制造", "周副区长", {"signed": "2025"}, {}),
    ("正威 电子信息产业园", "正威国际集团", ["深圳"], "电子信息", "区经发局", "zhaoliu",
     1000000, "CNY", None, "电子材料及元器件", "周副区长",
     {"signed": "2022-11-11", "started": "2023-05-06", "producing": "2024-09",
      "at_capacity": "2025-10-20"}, {}),
]


# This year's targets (招商任务): (unit or None for the whole zone, metric, value, region)
TARGETS = [
    (None, "signings", 12, None), (None, "signed_amount", 300, None),
    (None, "major_signings", 6, None), (None, "region_signings", 3, "韩国"),
    (None, "region_signings", 4, "长三角"), (None, "starts", 8, None),
    (None, "producing", 4, None),
    ("光伏产业园", "signings", 4, None), ("光伏产业园", "starts", 3, None),
    ("区中韩办", "signings", 3, None), ("区中韩办", "starts", 2, None),
    ("新能源汽车产业园", "signings", 3, None), ("新能源汽车产业园", "starts", 2, None),
    ("区经发局", "signings", 2, None), ("区经发局", "starts", 1, None),
]


def _by_name(model, name):
    return db.session.scalar(select(model).where(model.name == name))


def load_demo() -> dict[str, int]:
    """Add the demo users, projects and this year's targets that are not there yet;
    return the counts added."""
    added = {"users": 0, "projects": 0, "targets": 0}
    users = {}
    for username, display, role, unit_name in USERS:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None:
            unit = _by_name(Unit, unit_name) if unit_name else None
            user = create_user(username, display, role, DEMO_PASSWORD, unit)
            added["users"] += 1
        users[username] = user
    admin = users["admin"]
    for (name, investor, regions, industry, unit, officer, amount, currency, capacity,
         content, leader, milestones, extra) in PROJECTS:
        if db.session.scalar(select(Project.id).where(Project.name == name)):
            continue
        data = ProjectData(
            name=name, company_name=investor,
            region_ids=[_by_name(Region, r).id for r in regions],
            industry_id=_by_name(Industry, industry).id, content=content,
            capacity_value=Decimal(capacity[0]) if capacity else None,
            capacity_unit=capacity[1] if capacity else "",
            investment_amount=Decimal(amount) if amount is not None else None,
            investment_currency=currency, unit_id=_by_name(Unit, unit).id,
            leader_name=leader, officer_id=users[officer].id)
        project = create_project(data, admin)
        # A milestone after today (demo data loaded on an older clock) is left out.
        milestones = {s: t for s, t in milestones.items() if _d(t).start <= today()}
        if milestones:
            target = max(milestones, key=lifecycle.stage_index)
            advance_stage(project, target, {s: _d(t) for s, t in milestones.items()},
                          admin, None, note="演示数据",
                          partial_production=extra.get("partial", False))
        if "hold" in extra:
            set_status(project, lifecycle.ON_HOLD, extra["hold"], PartialDate(date(2025, 8, 1)),
                       admin, None)
        added["projects"] += 1
    year = today().year
    for unit, metric, value, region in TARGETS:
        unit_id = _by_name(Unit, unit).id if unit else None
        region_id = _by_name(Region, region).id if region else None
        if find_target(year, metric, unit_id, region_id) is None:
            save_target(None, TargetData(year, metric, Decimal(value), unit_id, region_id),
                        admin)
            added["targets"] += 1
    return added
