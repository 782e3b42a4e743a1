"""The dashboard's running totals (crm/dashboard/cube.py) and each project's latest visit
date (Project.last_visit_on): kept in step by every write through the services, they
equal a rebuild from scratch and the SQL over the projects that defines them."""
import random
from itertools import combinations
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from crm import clock, lifecycle
from crm.dashboard import cube
from crm.dashboard import queries as q
from crm.errors import RulesBroken
from crm.extensions import db
from crm.lifecycle import MONTH, YEAR, PartialDate
from crm.models import CNY, MAJOR_PROJECT_WAN, USD, PipelineCell, Project, Region, Visit
from crm.projects.queries import ProjectFilters, filtered_ids_stmt
from crm.projects.services import (ProjectData, advance_stage, correct_stage, create_project,
                                   project_data, set_status, update_project)
from crm.reference.services import save_reference_item, set_usd_rate
from crm.visits.services import VisitData, log_visit, sync_last_visit, update_visit
from tests.test_dashboard import _list_total, _utc


@pytest.fixture(autouse=True)
def day(monkeypatch):
    """Today, pinned: crm.clock reads one instant for the whole test, so a run across
    the zone's midnight does not see two days."""
    now = datetime.now(timezone.utc)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return now.astimezone(tz) if tz else now.astimezone().replace(tzinfo=None)

    monkeypatch.setattr(clock, "datetime", Frozen)
    return clock.today()


# ------------------------------------------------------------ cells

def _cells() -> dict:
    """Every non-empty cell: key → measures (n, 元, 美元, major)."""
    t, k = PipelineCell.__table__, len(cube.KEY)
    rows = db.session.execute(sa.select(*(t.c[c] for c in cube.KEY + cube.MEASURES)))
    return {tuple(r[:k]): tuple(r[k:]) for r in rows if any(r[k:])}


def _assert_cells_equal_rebuild() -> dict:
    """Commit; check the cells against a rebuild, which is then undone (the running
    totals go on as kept); return them."""
    db.session.commit()
    kept = _cells()
    cube.rebuild(db.session.connection())
    rebuilt = _cells()
    db.session.rollback()
    assert {k: (kept.get(k), rebuilt.get(k)) for k in kept.keys() | rebuilt.keys()
            if kept.get(k) != rebuilt.get(k)} == {}
    return kept


def _now_total(cells, region=cube.ALL, measure="n") -> int:
    """A measure of today's pipeline in one region, from the cells."""
    i = cube.MEASURES.index(measure)
    detail = sum(m[i] for (kind, r, _, unit, *_), m in cells.items()
                 if kind == cube.NOW and r == region and unit != cube.ANY)
    rolled_up = sum(m[i] for (kind, r, _, unit, *_), m in cells.items()
                    if kind == cube.NOW and r == region and unit == cube.ANY)
    assert detail == rolled_up   # the roll-up cells hold the sum of the detailed ones
    return detail


def _month_ends(day: date, *back: int) -> list[date]:
    """The last days of the months ``back`` months before ``day``'s."""
    return [q.month_end(y, m + 1) for y, m in
            (divmod(day.year * 12 + day.month - 1 - b, 12) for b in back)]


# ------------------------------------------------------------ random writes

def _random_day(rng, since: date, until: date) -> date:
    return since + timedelta(days=rng.randint(0, (until - since).days))


def _random_details(rng, data, ref, complete: bool):
    """Change some of ``data``'s figure-bearing fields (all, none blank, when ``complete``:
    signing needs them); amounts of ≤ 1 decimal, some at the 10亿元 line."""
    none = [] if complete else [None]
    if complete or rng.random() < 0.5:
        data.unit_id = rng.choice(ref["units"] + none)
    if complete or rng.random() < 0.5:
        data.industry_id = rng.choice(ref["industries"] + none)
    if complete or rng.random() < 0.5:
        data.investment_amount = rng.choice([
            Decimal(rng.randint(1, 300000)), Decimal(rng.randint(1, 99999)) / 10,
            Decimal(rng.choice([99999, 100000, 14084, 14085]))] + none)
        data.investment_currency = rng.choice([CNY, CNY, USD])
    if complete or rng.random() < 0.5:
        data.region_ids = rng.sample(ref["regions"], rng.randint(1 if complete else 0, 3))
    data.company_name = data.company_name or f"{data.name}投资方"
    return data


APPLIES = {"create": lambda p: False, "edit": lambda p: True, "tags": lambda p: True,
           "status": lambda p: True, "advance": lambda p: p.stage != lifecycle.AT_CAPACITY,
           "correct": lambda p: p.stage != lifecycle.LEAD}
PLAN = ["create"] * 14 + ["edit"] * 8 + ["tags"] * 5 + ["advance"] * 17 + ["status"] * 8 \
    + ["correct"] * 8


def _random_op(rng, op, i, projects, admin, ref, today):
    """Write ``op`` through a project service to a project it applies to (none yet:
    create one); return the op done."""
    p = rng.choice([p for p in projects if APPLIES[op](p)] or [None])
    op = op if p else "create"
    if op == "create":
        data = _random_details(rng, ProjectData(name=f"随机{i}"), ref, rng.random() < 0.6)
        p = create_project(data, admin)
        p.created_at = _utc(_random_day(rng, today - timedelta(days=800), today))  # imported
        db.session.flush()
        projects.append(p)
    elif op == "edit":
        data = _random_details(rng, project_data(p), ref, p.stage != lifecycle.LEAD)
        update_project(p, data, admin, p.version)
    elif op == "tags":   # only the regions change
        data, now = project_data(p), {r.id for r in p.regions}
        data.region_ids = list(rng.choice([c for n in (1, 2) for c in combinations(
            ref["regions"], n) if set(c) != now]))
        update_project(p, data, admin, p.version)
    elif op == "advance":
        if p.status != lifecycle.ACTIVE:
            set_status(p, lifecycle.ACTIVE, "", None, admin, p.version)
        at = lifecycle.stage_index(p.stage)
        last = max((m.start for m in p.milestones.values() if m),
                   default=today - timedelta(days=900))
        dates = {}
        for s in lifecycle.STAGES[at + 1:at + rng.randint(2, 3)]:
            last = _random_day(rng, last, today)
            dates[s] = PartialDate(last, rng.choice("day day day day month year".split()))
        # a lead may lack what signing needs: the move brings it (a signed one has it)
        data = _random_details(rng, project_data(p), ref, True) \
            if at == 0 or rng.random() < 0.5 else None
        advance_stage(p, max(dates, key=lifecycle.stage_index), dates, admin, p.version,
                      data=data)
    elif op == "status":
        on = PartialDate(_random_day(rng, today - timedelta(days=700), today))
        set_status(p, rng.choice([s for s in lifecycle.STATUSES if s != p.status]), "原因",
                   on, admin, p.version)
    elif op == "correct":
        target = rng.choice(lifecycle.STAGES[:lifecycle.stage_index(p.stage)])
        correct_stage(p, target, "更正", admin, p.version)
    return op


@pytest.fixture
def world(factory, users, day):
    """Three fixed projects, then 60 random writes through the services, committed every
    ten and checked against a rebuild at each commit. Fixed: two tagged 苏州 (1.5亿美元:
    ≥ 10亿元 at 7.1, not at 6.5; 10亿元 exactly); one whose coarse production date (a
    year) begins before its start (a day), around a month end the dashboard shows."""
    admin = users["admin"]
    ref = {"units": [factory.unit(n).id for n in ("光伏产业园", "区中韩办", "区经发局")],
           "industries": [factory.industry(n).id for n in ("光伏", "动力电池及储能")],
           "regions": [factory.region(n).id for n in ("上海", "苏州", "韩国", "长三角")]}
    for name, amount, currency in (("美元大项目", "15000", USD), ("苏州组件", "100000", CNY)):
        p = factory.project(name, regions=["苏州"], investment_amount=Decimal(amount),
                            investment_currency=currency, by=admin)
        advance_stage(p, "signed", {"signed": PartialDate(day - timedelta(days=40))},
                      admin, None)
    end = next(d for d in _month_ends(day, 1, 4, 13) if d.month < 12)
    after = end + timedelta(days=1)
    advance_stage(factory.project("跨精度", by=admin), "producing", {
        "signed": PartialDate(end - timedelta(days=200)), "started": PartialDate(after),
        "producing": PartialDate(after, YEAR)}, admin, None)
    rng, projects, done = random.Random(20250630), [], []
    plan = PLAN[:4] + rng.sample(PLAN[4:], len(PLAN) - 4)
    for i, op in enumerate(plan):
        done.append(_random_op(rng, op, i, projects, admin, ref, day))
        if i % 10 == 9:
            _assert_cells_equal_rebuild()
    assert {op: done.count(op) for op in APPLIES if done.count(op) < 5} == {}
    return {"admin": admin, "projects": projects}


def test_cells_equal_a_rebuild_after_random_writes_a_region_move_and_a_new_rate(
        world, factory):
    """The running totals equal a rebuild after random service writes, after a region
    moves to another group (its projects now count there, not in the old group) and
    after a new USD rate (USD projects cross the 10亿元 line)."""
    before = _assert_cells_equal_rebuild()
    suzhou, prd, yrd = factory.region("苏州"), factory.region("珠三角"), factory.region("长三角")
    save_reference_item(Region, suzhou, suzhou.name, suzhou.sort_order, True, prd.id)
    moved = _assert_cells_equal_rebuild()
    assert _now_total(moved, prd.id) > _now_total(before, prd.id)
    assert _now_total(moved, yrd.id) < _now_total(before, yrd.id)
    assert _now_total(moved) == _now_total(before)

    def majors(rate):
        return sum((p.investment_amount * (rate if p.investment_currency == USD else 1))
                   >= MAJOR_PROJECT_WAN for p in db.session.scalars(sa.select(Project).where(
                       Project.status != lifecycle.DROPPED,
                       Project.investment_amount.is_not(None))))

    assert _now_total(moved, measure="major") == majors(Decimal("7.1"))
    set_usd_rate(Decimal("6.5"))
    lower = _assert_cells_equal_rebuild()
    assert _now_total(lower, measure="major") == majors(Decimal("6.5")) < majors(Decimal("7.1"))
    set_usd_rate(Decimal("7.1"))
    assert _assert_cells_equal_rebuild() == moved


# ------------------------------------------------------------ against the SQL

def _t(t: q.Totals) -> tuple:
    cent = Decimal("0.01")   # SQLite sums floats
    return (t.count, t.cny_wan.quantize(cent), t.usd_wan.quantize(cent),
            t.combined_wan.quantize(cent), t.major)


def _figures(base: ProjectFilters, as_of: date) -> dict:
    """The figures the cells serve: the pipeline by unit, industry and stage; by region
    group and stage; the milestones reached by month and unit; the stalled counts."""
    return {
        "pipeline": {k: _t(t) for k, t in q.pipeline(base, as_of).groups.items()},
        "regions": {k: {s: t.count for s, t in v.items()}
                    for k, v in q.by_region(base, as_of).cells.items()},
        "months": {s: {k: _t(t) for k, t in q._by_month_and_unit(base, s, as_of).items()}
                   for s in q.TILE_STAGES},
        "stalled": q.stalled_counts(base, as_of),
    }


def _assert_cells_equal_sql(monkeypatch, factory, days):
    bases = [ProjectFilters(), ProjectFilters(unit_id=factory.unit("区中韩办").id),
             ProjectFilters(industry_id=factory.industry("光伏").id)] + [
        ProjectFilters(region_id=factory.region(r).id) for r in ("长三角", "苏州", "境外")]
    for as_of in days:
        for base in bases:
            assert cube.covers(base, as_of)
            from_cells = _figures(base, as_of)
            with monkeypatch.context() as m:
                m.setattr(cube, "covers", lambda *_: False)
                from_sql = _figures(base, as_of)
            assert from_cells == from_sql, (as_of, base)
            assert from_sql["pipeline"] or base != ProjectFilters()


def test_cells_equal_the_sql_definition(world, factory, monkeypatch, day):
    """Today's and past month ends' figures from the cells equal the SQL over the
    projects, unfiltered and by unit, industry and region; also after a region move
    and a new USD rate."""
    ends = _month_ends(day, 1, 4, 13)
    _assert_cells_equal_sql(monkeypatch, factory, [day] + ends)
    suzhou = factory.region("苏州")
    save_reference_item(Region, suzhou, suzhou.name, 0, True, factory.region("境外").id)
    set_usd_rate(Decimal("6.5"))
    db.session.commit()
    _assert_cells_equal_sql(monkeypatch, factory, [day, ends[0]])


# ------------------------------------------------------------ rolled back

def test_a_rolled_back_write_leaves_the_cells_unchanged(world, day):
    """A write whose flush reached the cells and was then rolled back (a stage move the
    gate refused, a savepoint) leaves them as they were; an edit that lost the race to
    another session's save leaves only the other's change."""
    admin, before = world["admin"], _assert_cells_equal_rebuild()
    p = next(p for p in world["projects"]
             if p.stage == lifecycle.LEAD and p.status == lifecycle.ACTIVE)
    data = project_data(p)
    data.unit_id, data.investment_amount = None, Decimal("123456")
    with pytest.raises(RulesBroken):   # refused after the edit was flushed
        advance_stage(p, "signed", {"signed": PartialDate(day + timedelta(days=400))},
                      admin, p.version, data=data)
    assert _cells() != before
    db.session.rollback()
    assert _cells() == before

    savepoint = db.session.begin_nested()
    set_status(p, lifecycle.DROPPED, "原因", PartialDate(day), admin, p.version)
    assert _cells() != before
    savepoint.rollback()
    assert _assert_cells_equal_rebuild() == before

    assert p.version   # loaded, and kept while someone else saves the project
    db.session.expunge(p)
    db.session.rollback()
    with Session(db.engine) as other:
        theirs = other.get(Project, p.id)
        theirs.investment_amount, theirs.investment_currency = Decimal("7"), CNY
        other.commit()
    db.session.add(p)
    p.investment_amount = Decimal("8")
    with pytest.raises(StaleDataError):
        db.session.flush()
    db.session.rollback()
    assert _assert_cells_equal_rebuild() != before


# ------------------------------------------------------------ latest visit

def _last_visits() -> dict:
    return dict(db.session.execute(sa.select(Project.id, Project.last_visit_on)).all())


def _latest_visits() -> dict:
    """max(visit date) per project, from the visits."""
    return {**dict.fromkeys(_last_visits()), **dict(db.session.execute(
        sa.select(Project.id, sa.func.max(Visit.visited_on)).select_from(Visit)
        .join(Visit.projects).group_by(Project.id)).all())}


def test_last_visit_on_follows_the_visits(factory, users, day):
    """Logging a visit sets each linked project's latest visit; an older one does not
    lower it; editing a visit (unlinking a project, moving its date back) recounts it;
    sync_last_visit(None) agrees with max(visit date) per project."""
    officer, (a, b, c) = users["officer"], (factory.project(n) for n in ("甲", "乙", "丙"))

    def ago(days):
        return day - timedelta(days=days)

    def save(days, *projects, visit=None):
        data = VisitData(visited_on=ago(days), kind="visit", company_name="某公司",
                         project_ids=[p.id for p in projects])
        if visit is None:
            visit = log_visit(data, officer)
        else:
            update_visit(visit, data, officer, visit.version)
        db.session.commit()
        return visit

    first = save(10, a, b)
    assert _last_visits() == {a.id: ago(10), b.id: ago(10), c.id: None}
    save(30, a, c)
    assert _last_visits() == {a.id: ago(10), b.id: ago(10), c.id: ago(30)}
    save(10, b, visit=first)                        # a unlinked: its other visit
    assert _last_visits() == {a.id: ago(30), b.id: ago(10), c.id: ago(30)}
    save(50, b, visit=first)                        # moved back
    assert _last_visits() == {a.id: ago(30), b.id: ago(50), c.id: ago(30)}
    save(50, visit=first)                           # b's only visit unlinked
    assert _last_visits() == {a.id: ago(30), b.id: None, c.id: ago(30)} == _latest_visits()
    sync_last_visit(None)
    db.session.commit()
    assert _last_visits() == _latest_visits()


# ------------------------------------------------------------ stale leads today

def test_todays_stalled_lead_counts_equal_the_list_and_the_visits(as_role, factory, users,
                                                                  day):
    """Today's stale-lead counts (read from last_visit_on) equal the project list
    behind them and the lifecycle rule over max(visit date, creation), at the edges of
    the 60- and 90-day thresholds."""
    cases = [  # (created days ago, visits days ago, in the order logged)
        (200, [5]), (200, [59]), (200, [60]), (200, [89]), (200, [90]), (200, [100, 70]),
        (200, [100]), (200, [3, 100]), (59, []), (60, []), (89, []), (90, []), (300, []),
        (30, [100])]
    for i, (created, visits) in enumerate(cases):
        p = factory.project(f"线索{i}")
        p.created_at = _utc(day - timedelta(days=created))
        db.session.commit()
        for ago in visits:
            log_visit(VisitData(visited_on=day - timedelta(days=ago), kind="phone",
                                company_name=f"公司{i}", project_ids=[p.id]), users["officer"])
            db.session.commit()
    held = factory.project("暂缓线索")
    held.created_at = _utc(day - timedelta(days=300))
    set_status(held, lifecycle.ON_HOLD, "原因", PartialDate(day), None, None)
    db.session.commit()

    latest, want = _latest_visits(), {"yellow": 0, "red": 0}
    for p in db.session.scalars(sa.select(Project)):
        since = max(d for d in (latest[p.id], clock.local_date(p.created_at)) if d)
        level = lifecycle.stalled_level(p.stage, p.status, None, since, day)
        if level:
            want[level] += 1
    assert want == {"yellow": 5, "red": 4}
    assert q.stalled_counts(ProjectFilters(), day)[lifecycle.LEAD] == want
    client = as_role("leader")
    for level in ("yellow", "red"):
        url = f"/projects/?stage=lead&stalled={level}&as_of={day.isoformat()}"
        assert _list_total(client, url) == want[level], level


# ------------------------------------------------------------ a past day's stage

def test_a_past_days_stage_in_the_list_is_the_dashboards(factory, users):
    """Signed 2025-03, started 2025-06-15, producing "2025" (the gate allows it: equal
    at a year's precision). On 2025-03-31 the dashboard counts it producing
    (stage_on_expr, lifecycle.stage_on, the cells), and so does the list behind each
    stage: it is not also listed as signed."""
    advance_stage(factory.project("跨精度"), "producing", {
        "signed": PartialDate(date(2025, 3, 1), MONTH),
        "started": PartialDate(date(2025, 6, 15)),
        "producing": PartialDate(date(2025, 1, 1), YEAR)}, users["admin"], None)
    db.session.commit()
    on = date(2025, 3, 31)
    figures = {s: t.count for s, t in q.pipeline(ProjectFilters(), on).by_stage().items()}
    assert figures["producing"] == 1
    assert {s: len(db.session.scalars(filtered_ids_stmt(
        q.pipeline_filters(ProjectFilters(), on, s))).all()) for s in figures} == figures



def test_an_amount_finer_than_a_yuan_is_refused(users):
    """Amounts are kept in 万 to four decimals (the 元): a finer one would be stored
    rounded by PostgreSQL but as a float by SQLite, where 9.999999999 亿元 would count
    as ≥ 10亿元 in the running totals and not in the list. It is refused, naming the
    field."""
    with pytest.raises(RulesBroken) as refused:
        create_project(ProjectData(name="过细金额", investment_amount=Decimal("99999.99999")),
                       users["admin"])
    assert [e.field for e in refused.value.errors] == ["investment_value"]
    error = refused.value.errors[0]
    assert error.message % error.params == "总投资：最多精确到元"
    db.session.rollback()
    project = create_project(ProjectData(name="到元金额", investment_amount=Decimal("99999.9999")),
                             users["admin"])
    assert project.investment_amount == Decimal("99999.9999")


def test_the_stats_rebuild_command_repairs_both(app, factory, users, day):
    """After rows were changed outside the app, ``flask stats rebuild`` recomputes the
    running totals and the latest visit dates."""
    a = factory.project("甲")
    log_visit(VisitData(visited_on=day - timedelta(days=5), kind="visit",
                        company_name="某公司", project_ids=[a.id]), users["officer"])
    db.session.commit()
    kept = _cells()
    db.session.execute(sa.update(PipelineCell).values(n=PipelineCell.n + 7))
    db.session.execute(sa.update(Project).values(last_visit_on=None)
                       .execution_options(synchronize_session=False))
    db.session.commit()
    assert _cells() != kept and _last_visits()[a.id] is None
    result = app.test_cli_runner().invoke(args=["stats", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "rebuilt" in result.output
    db.session.expire_all()
    assert _cells() == kept
    assert _last_visits()[a.id] == day - timedelta(days=5)


@pytest.mark.parametrize("measures", [
    (0, 0, 0, 0), (1, 5 * 10**12, 0, 1), (-1, -5 * 10**12, 0, -1), (3, -7, 9, -2),
    (-(2**31), 2**63 - 1, -(2**63), 2**31 - 1), (2, 0, -(2**62), 0)])
def test_cell_measures_summed_as_one_integer_come_back_exactly(measures):
    """The cells' four measures are summed packed in one integer: any mix of signs and
    the columns' extremes come back as they were summed."""
    from crm.dashboard.cube import _measures, _packed
    assert _measures(_packed(*measures)) == measures
    parts = [_packed(*measures), _packed(1, -1, 1, -1), -_packed(1, -1, 1, -1)]
    assert _measures(sum(parts)) == measures
