"""The performance benchmark (`make bench`): a city-scale synthetic zone of 100,000 projects
in a scratch SQLite database, and the server time of the project pages, printed as a
table and written as JSON rows {"name", "value", "unit", "target", "met"} to $BENCH_OUT.
"""
from __future__ import annotations

import gc
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import event, insert, select, text

N_PROJECTS = 100_000
N_COMPANIES = 20_000
N_OFFICERS = 30
WARMUP = 3
RUNS = 30
TARGET_MS = 50.0
SEED = 20261123
CHUNK = 5_000
PASSWORD = "bench-password-123"
SEARCH_WORD = "恒源"   # one of the company cores: a few hundred projects match it
YEARS = 5

# Stage mix of a city's pipeline (share of projects).
STAGE_MIX = {"lead": 35, "signed": 25, "started": 20, "producing": 12, "at_capacity": 8}
STATUS_MIX = {"active": 88, "on_hold": 7, "dropped": 5}
# Source regions with how often investors come from them (groups without members too).
REGION_WEIGHTS = {"上海": 14, "苏州": 8, "南京": 5, "杭州": 5, "深圳": 9, "广州": 5,
                  "东莞": 4, "北京": 5, "天津": 2, "韩国": 12, "日本": 6, "欧美": 4,
                  "港澳台": 4, "东南亚": 2, "本地": 10, "国内省外": 5}

CITIES = ["上海", "苏州", "无锡", "常州", "南京", "杭州", "宁波", "合肥", "深圳", "广州",
          "东莞", "佛山", "北京", "天津", "青岛", "济南", "武汉", "成都", "重庆", "西安",
          "厦门", "福州", "长沙", "郑州", "盐城", "南通", "扬州", "徐州", "泰州", "嘉兴"]
SYLLABLES = ["恒", "源", "华", "润", "晶", "科", "新", "创", "达", "信", "鼎", "盛", "泰",
             "丰", "德", "隆", "宏", "远", "嘉", "瑞", "天", "合", "博", "通", "海", "正",
             "联", "安", "中", "汇", "力", "阳", "光", "明", "智", "凯", "东", "金", "航",
             "邦"]
COMPANY_TYPES = ["科技有限公司", "新能源有限公司", "集团有限公司", "股份有限公司",
                 "电子有限公司", "实业有限公司", "汽车部件有限公司", "材料科技有限公司"]
FOREIGN = ["SK", "LG", "三星", "现代", "松下", "丰田", "电装", "博世", "巴斯夫", "施耐德"]
PRODUCTS = {  # industry → (products, capacity units)
    "汽车及零部件": (["汽车零部件", "轮毂", "座椅总成", "线束"], ["万套", "万件"]),
    "新能源汽车": (["新能源整车", "电驱系统", "充电桩"], ["万辆", "万台"]),
    "动力电池及储能": (["动力电池", "储能电池", "正极材料", "电解液"], ["GWh", "万吨"]),
    "光伏": (["光伏组件", "电池片", "光伏玻璃", "逆变器"], ["GW", "MW"]),
    "电子信息": (["显示模组", "半导体封测", "PCB", "智能终端"], ["万件", "万片"]),
    "高端装备": (["智能装备", "工业机器人", "数控机床"], ["万台", "台"]),
    "新材料": (["新材料", "碳纤维", "特种合金"], ["万吨"]),
    "现代服务业": (["酒店", "商业综合体", "物流园", "总部基地"], ["万平方米", "间"]),
    "康养医疗": (["康养中心", "医疗器械", "医院"], ["床", "万件"]),
    "现代农业": (["农产品加工", "冷链物流", "种业基地"], ["万吨"]),
    "其他": (["综合项目", "产业园"], ["万平方米"]),
}
NOTES = ["", "", "", "需协调：用地指标", "需协调：能评、环评手续", "投资方高层近期来访",
         "等待董事会决策", "需协调：电力增容与天然气接入"]
CHANGE_FIELDS = ["name", "investment", "unit", "officer", "notes", "content", "capacity",
                 "land_area", "leader_name", "regions"]


def _weighted(rng: random.Random, mix: dict) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


# --- data generation -------------------------------------------------------------

def _companies(rng: random.Random) -> tuple[list[dict], list[str]]:
    """Unique company rows and each company's short name (its core)."""
    from crm.text import normalize as normalize_name
    cores = {SEARCH_WORD}
    while len(cores) < 300:
        cores.add(rng.choice(SYLLABLES) + rng.choice(SYLLABLES))
    cores = sorted(cores)
    rows, shorts, keys = [], [], set()
    start = datetime(2021, 1, 1)
    while len(rows) < N_COMPANIES:
        if rng.random() < 0.05:
            short = rng.choice(FOREIGN)
            name = f"{short}{rng.choice(cores)}（{rng.choice(CITIES)}）{rng.choice(COMPANY_TYPES)}"
        else:
            short = rng.choice(cores)
            name = f"{rng.choice(CITIES)}{short}{rng.choice(COMPANY_TYPES)}"
        key = normalize_name(name)
        if key in keys:
            continue
        keys.add(key)
        rows.append({"name": name, "name_key": key,
                     "created_at": start + timedelta(minutes=rng.randrange(5 * 365 * 1440))})
        shorts.append(short)
    return rows, shorts


def _milestones(rng: random.Random, stage_i: int, created: date, today: date) -> dict:
    """Milestone dates for the stages reached: each ≥ the previous one, none in the future;
    mostly known to the day, some only to the month (stored as the month's 1st)."""
    from crm import lifecycle
    out = {}
    prev = created
    for stage in lifecycle.STAGES[1:stage_i + 1]:
        field = lifecycle.MILESTONE_FIELDS[stage]
        span = max((today - prev).days, 0)
        # The later stages share the time left, so each keeps some room.
        day = prev + timedelta(days=rng.randint(0, span // 2 if span > 1 else span))
        precision = lifecycle.DAY
        if rng.random() < 0.15 and day.replace(day=1) >= prev:
            day, precision = day.replace(day=1), lifecycle.MONTH
        out[field], out[field + "_precision"] = day, precision
        prev = day
    return out


def generate(app, rng: random.Random) -> dict:
    """Fill the scratch database; return what the benchmark measures against."""
    from crm import lifecycle
    from crm.auth.services import create_user
    from crm.extensions import db
    from crm.models import (Change, Company, Industry, Project, Region, StageChange, Unit,
                            User, project_region)
    from crm.projects.search import bigrams, search_text

    units = db.session.scalars(select(Unit).order_by(Unit.id)).all()
    industries = [(i.id, i.name) for i in db.session.scalars(select(Industry))]
    regions = {r.name: r.id for r in db.session.scalars(select(Region))}

    admin = create_user("bench", "基准管理员", "admin", PASSWORD)
    db.session.commit()
    unit_ids, admin_id = [u.id for u in units], admin.id
    # The officers never sign in: they share the admin's hash (scrypt costs ~0.1 s each).
    db.session.execute(insert(User.__table__), [
        {"username": f"officer{i:02d}", "display_name": f"专员{i:02d}",
         "password_hash": admin.password_hash, "role": "officer",
         "unit_id": unit_ids[i % len(unit_ids)], "active": True, "created_at": admin.created_at}
        for i in range(N_OFFICERS)])
    officers_by_unit: dict[int, list[int]] = {u: [] for u in unit_ids}
    for user_id, unit_id in db.session.execute(
            select(User.id, User.unit_id).where(User.role == "officer")):
        officers_by_unit[unit_id].append(user_id)

    company_rows, shorts = _companies(rng)
    for i in range(0, len(company_rows), CHUNK):
        db.session.execute(insert(Company.__table__), company_rows[i:i + CHUNK])
    company_ids = db.session.scalars(select(Company.id).order_by(Company.id)).all()

    today = date.today()
    now = datetime.now().replace(microsecond=0)
    first = now - timedelta(days=YEARS * 365)
    span_s = int((now - first).total_seconds())
    created_list = sorted(first + timedelta(seconds=rng.randrange(span_s))
                          for _ in range(N_PROJECTS))
    per_year: dict[int, int] = {}
    projects, tags = [], []
    for pid, created in enumerate(created_list, 1):
        stage = _weighted(rng, STAGE_MIX)
        stage_i = lifecycle.stage_index(stage)
        status = _weighted(rng, STATUS_MIX)
        industry_id, industry_name = rng.choice(industries)
        products, cap_units = PRODUCTS.get(industry_name, PRODUCTS["其他"])
        unit_id = rng.choice(unit_ids)
        has_company = stage != "lead" or rng.random() < 0.8
        ci = rng.randrange(len(company_ids)) if has_company else None
        short = shorts[ci] if ci is not None else rng.choice(CITIES)
        usd = rng.random() < 0.12
        amount = Decimal(str(round(rng.lognormvariate(11.0 if not usd else 8.5, 1.2), 2)))
        cap = rng.choice([1, 2, 5, 10, 12, 20, 27, 50, 100])
        cap_unit = rng.choice(cap_units)
        per_year[created.year] = per_year.get(created.year, 0) + 1
        updated = created + timedelta(seconds=rng.randrange(max(int(
            (now - created).total_seconds()), 1)))
        row = {
            "id": pid, "code": f"P{created.year}-{per_year[created.year]:05d}",
            "name": f"{short}{cap}{cap_unit}{rng.choice(products)}项目",
            "company_id": company_ids[ci] if ci is not None else None,
            "industry_id": industry_id,
            "content": (f"项目用地约{rng.randint(20, 1500)}亩，主要建设{rng.choice(products)}"
                        f"生产线{rng.randint(1, 12)}条及配套研发中心、仓储物流等设施，达产后"
                        f"预计年产值{rng.randint(1, 300)}亿元、年税收{rng.randint(1, 30)}亿元。"),
            "capacity_value": Decimal(cap), "capacity_unit": cap_unit,
            "investment_amount": amount, "investment_currency": "USD" if usd else "CNY",
            "land_area": Decimal(rng.randint(20, 1500)),
            "unit_id": unit_id, "leader_name": rng.choice(["王副区长", "李主任", "张书记", ""]),
            "officer_id": (rng.choice(officers_by_unit[unit_id])
                           if officers_by_unit[unit_id] and rng.random() < 0.9 else None),
            "stage": stage, "status": status,
            "status_reason": "" if status == "active" else "投资方资金调整",
            "status_on": None if status == "active" else (updated.date()),
            "signed_on": None, "signed_on_precision": None,
            "started_on": None, "started_on_precision": None,
            "producing_on": None, "producing_on_precision": None,
            "at_capacity_on": None, "at_capacity_on_precision": None,
            "partial_production": stage == "producing" and rng.random() < 0.2,
            "notes": rng.choice(NOTES), "created_at": created, "updated_at": updated,
            "search_text": "",
            "created_by_id": admin_id, "version": 1,
        }
        row.update(_milestones(rng, stage_i, created.date(), today))
        row["search_text"] = search_text(
            row["name"], company_rows[ci]["name"] if ci is not None else "")
        projects.append(row)
        first_region = rng.choices(list(REGION_WEIGHTS), list(REGION_WEIGHTS.values()))[0]
        tagged = {regions[first_region]}
        if rng.random() < 0.3:
            tagged.add(regions[rng.choice(list(REGION_WEIGHTS))])
        tags.extend({"project_id": pid, "region_id": r} for r in tagged)

    for i in range(0, len(projects), CHUNK):
        db.session.execute(insert(Project.__table__), projects[i:i + CHUNK])
    for i in range(0, len(tags), CHUNK * 2):
        db.session.execute(insert(project_region), tags[i:i + CHUNK * 2])
    # The text-search index, as crm.projects.search.sync_tokens writes it, in key order
    # (a bulk load; the DBAPI's executemany is 3× faster than ORM inserts here).
    tokens = sorted((g, p["id"]) for p in projects for g in bigrams(p["search_text"]))
    db.session.connection().exec_driver_sql(
        "INSERT INTO project_token (token, project_id) VALUES (?, ?)", tokens)

    # The measured project page: a started project with a realistic history.
    detail = next(p for p in projects[N_PROJECTS // 2:] if p["stage"] == "started"
                  and p["status"] == "active" and p["company_id"])
    officer = detail["officer_id"] or admin_id
    t0 = detail["created_at"]
    db.session.execute(insert(StageChange.__table__), [
        {"project_id": detail["id"], "user_id": officer,
         "changed_at": t0 + timedelta(days=20 * i),
         "from_stage": lifecycle.STAGES[i % 2], "to_stage": lifecycle.STAGES[i % 2 + 1],
         "milestone_on": (t0 + timedelta(days=20 * i)).date(), "milestone_precision": "day",
         "note": f"第{i + 1}次推进", "correction": i % 2 == 1} for i in range(10)])
    db.session.execute(insert(Change.__table__), [
        {"entity": "project", "entity_id": detail["id"], "project_id": detail["id"],
         "field": CHANGE_FIELDS[i], "old_value": f"旧值{i}", "new_value": f"新值{i}",
         "user_id": officer, "changed_at": t0 + timedelta(days=15 * i)} for i in range(10)])
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()

    big_unit = max(unit_ids, key=lambda u: sum(1 for p in projects[:5000]
                                               if p["unit_id"] == u))
    return {"detail_id": detail["id"], "unit_id": big_unit,
            "region_id": regions["长三角"], "n_tags": len(tags), "n_tokens": len(tokens)}


# --- measuring --------------------------------------------------------------------

def measure(client, url: str, runs: int = RUNS) -> tuple[list[float], list[float]]:
    """Server time of ``url`` in ms for ``runs`` requests after a warm-up, and the CPU
    time this thread spent on each (wall time well above CPU time: a busy machine)."""
    for _ in range(WARMUP):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    times, cpu = [], []
    for _ in range(runs):
        c0, t0 = time.thread_time(), time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times, cpu


def p95(values: list[float]) -> float:
    """The 95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def count_statements(engine, client, url: str) -> int:
    """Number of SQL statements one request of ``url`` runs."""
    statements = []

    def on_execute(conn, cursor, statement, params, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    return len(statements)


def main() -> int:
    """Build the zone, time the pages, print the table and write $BENCH_OUT."""
    from flask_migrate import upgrade

    from crm import create_app
    from crm.extensions import db

    out_path = Path(os.environ.get("BENCH_OUT") or "bench-results.json").resolve()
    # BENCH_KEEP_DIR keeps the generated database there for inspection (EXPLAIN …).
    keep = os.environ.get("BENCH_KEEP_DIR")
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        db_dir = Path(keep or tmp)
        db_dir.mkdir(parents=True, exist_ok=True)
        for old in db_dir.glob("bench.sqlite3*"):
            old.unlink()
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_dir}/bench.sqlite3",
                          "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
        t0 = time.perf_counter()
        with app.app_context():
            logging.disable(logging.INFO)   # alembic's per-migration chatter
            upgrade()
            logging.disable(logging.NOTSET)
            info = generate(app, random.Random(SEED))
            engine = db.engine
            n_search = len(db.session.execute(text(
                "SELECT p.id FROM project p LEFT JOIN company c ON c.id = p.company_id "
                "WHERE p.name LIKE :w OR c.name LIKE :w"), {"w": f"%{SEARCH_WORD}%"}).all())
            db.session.remove()
        print(f"generated {N_PROJECTS:,} projects, {N_COMPANIES:,} companies, "
              f"{info['n_tags']:,} region tags, {info['n_tokens']:,} search tokens in "
              f"{time.perf_counter() - t0:.1f} s "
              f"(search word {SEARCH_WORD!r} matches {n_search} projects)")

        # Requests run outside any app context, as in a server: each gets a fresh session.
        client = app.test_client()
        response = client.post("/login", data={"username": "bench", "password": PASSWORD})
        assert response.status_code == 302, response.status_code
        page_size = app.config["PAGE_SIZE"]
        deep = min(1500, N_PROJECTS // page_size)
        cases = [
            ("list first page", "/projects/"),
            ("list filtered", f"/projects/?stage=signed&unit={info['unit_id']}"
                              f"&region={info['region_id']}"),
            (f"list deep page {deep}", f"/projects/?page={deep}"),
            ("list text search", f"/projects/?q={SEARCH_WORD}"),
            ("project page", f"/projects/{info['detail_id']}"),
        ]
        results = []
        for name, url in cases:
            gc.collect()   # start each measure without the previous one's garbage
            try:
                times, cpu = measure(client, url)
                n_sql = count_statements(engine, client, url)
            except AssertionError as exc:   # a broken page: report it, measure the rest
                print(f"ERROR {name}: {url} answered {exc}", file=sys.stderr)
                results.append((name, url, None, None, None, None))
                continue
            results.append((name, url, statistics.median(times), p95(times),
                            statistics.median(cpu), n_sql))
        with app.app_context():
            db.engine.dispose()
    return report(results, out_path)


def report(results: list[tuple], out_path: Path) -> int:
    """Print the table, write the JSON rows; 0 unless a page did not answer 200."""
    rows = []
    print()
    print(f"{'measure':<22} {'median ms':>10} {'p95 ms':>8} {'target':>7}  met  "
          f"{'cpu ms':>6}  SQL  url")
    for name, url, median, high, cpu, n_sql in results:
        if high is None:
            print(f"{name:<22} {'error':>10} {'error':>8} {TARGET_MS:>7.0f}  NO  "
                  f"{'-':>6}    -  {url}")
        else:
            print(f"{name:<22} {median:>10.1f} {high:>8.1f} {TARGET_MS:>7.0f}  "
                  f"{'yes' if high <= TARGET_MS else 'NO ':<4}{cpu:>6.1f}  {n_sql:>3}  {url}")
        for stat, value in (("p95", high), ("median", median)):
            rows.append({"name": f"{name} {stat}",
                         "value": None if value is None else round(value, 2), "unit": "ms",
                         "target": TARGET_MS, "met": value is not None and value <= TARGET_MS})
    missed = [r[0] for r in results if r[3] is None or r[3] > TARGET_MS]
    print("(cpu ms: median CPU time of the request's thread; SQL: statements per request)")
    print()
    print(f"MISSED the {TARGET_MS:.0f} ms p95 target: {', '.join(missed)}" if missed
          else f"all measures met the {TARGET_MS:.0f} ms p95 target")
    out_path.write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {out_path}")
    return 1 if any(r[3] is None for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
