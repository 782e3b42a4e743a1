"""The pipeline statistics: every figure of the dashboard (and of the monthly report) as a
function of (as-of date, filters), computed in SQL from the milestone dates.

Each figure is the count or sum over the projects that a ``ProjectFilters`` selects
(``reached_filters``, ``pipeline_filters``, ``stalled_filters``, ``metric_filters``), so
the project list opened with the same filters shows exactly the projects behind it.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

from flask import g, has_request_context
from sqlalchemy import (Numeric, String, and_, case, cast, distinct, func, or_, select,
                        type_coerce)
from sqlalchemy.orm import joinedload, selectinload

from crm import lifecycle
from crm.dashboard import cube
from crm.extensions import db
from crm.lifecycle import N_
from crm.models import (CNY, MAJOR_PROJECT_WAN, USD, WAN_PER_YI, CoordinationIssue, Industry,
                        Project, Region, StageChange, Unit, project_region)
from crm.projects.queries import (ProjectFilters, apply_filters, cny_equivalent,
                                  milestone_col, stage_on_condition,
                                  stage_on_expr, stalled_level_condition)
from crm.reference.queries import region_with_descendants, stalled_thresholds, usd_rate


# ---------------------------------------------------------------- periods and pace

def month_end(year: int, month: int) -> date:
    """The last day of a month."""
    return date(year, month, calendar.monthrange(year, month)[1])


@dataclass(frozen=True)
class Period:
    """A reporting period: [since, until], both inclusive."""

    kind: str          # "month", "quarter", "year" (year to date)
    since: date
    until: date


def period(kind: str, as_of: date) -> Period:
    """The month, quarter or year-to-date that ends on ``as_of``."""
    if kind == "month":
        start = as_of.replace(day=1)
    elif kind == "quarter":
        start = date(as_of.year, (as_of.month - 1) // 3 * 3 + 1, 1)
    else:
        kind, start = "year", date(as_of.year, 1, 1)
    return Period(kind, start, as_of)


def pace(as_of: date) -> Decimal:
    """序时进度: the share of the year gone by ``as_of``, counted in months as the
    monthly meeting does (end of June = 6/12 = 50%); within a month, by its days."""
    days = calendar.monthrange(as_of.year, as_of.month)[1]
    return ((as_of.month - 1) + Decimal(as_of.day) / days) / 12


# ---------------------------------------------------------------- amounts

def _sum(expr):
    return type_coerce(func.coalesce(func.sum(expr), 0), Numeric(24, 4))


def amount_columns():
    """count, CNY total (万元), USD total (万美元), combined (万元 at the set rate), and the
    number of major projects (≥ 10亿元 combined)."""
    combined = cny_equivalent()
    return (func.count(Project.id),
            _sum(case((Project.investment_currency == CNY, Project.investment_amount),
                      else_=0)),
            _sum(case((Project.investment_currency == USD, Project.investment_amount),
                      else_=0)),
            _sum(func.coalesce(combined, 0)),
            _sum(case((combined >= MAJOR_PROJECT_WAN, 1), else_=0)))


@dataclass
class Totals:
    """What a set of projects adds up to."""

    count: int = 0
    cny_wan: Decimal = Decimal(0)
    usd_wan: Decimal = Decimal(0)
    combined_wan: Decimal = Decimal(0)
    major: int = 0

    @classmethod
    def from_row(cls, row) -> Totals:
        """Totals from the columns of ``amount_columns`` in a result row."""
        count, cny, usd, combined, major = row
        return cls(int(count or 0), Decimal(cny or 0), Decimal(usd or 0),
                   Decimal(combined or 0), int(major or 0))

    @classmethod
    def from_cells(cls, row, rate: Decimal) -> Totals:
        """Totals from summed cells (n, 元, 美元, major; crm/dashboard/cube.py), USD
        combined at ``rate``."""
        n, cny, usd, major = (int(v or 0) for v in row)
        cny_wan, usd_wan = Decimal(cny) / cube.UNITS_PER_WAN, Decimal(usd) / cube.UNITS_PER_WAN
        return cls(n, cny_wan, usd_wan, cny_wan + usd_wan * rate, major)

    @property
    def combined_yi(self) -> Decimal:
        """The combined amount in 亿元."""
        return self.combined_wan / WAN_PER_YI


# ---------------------------------------------------------------- what a figure counts

def reached_filters(base: ProjectFilters, stage: str, p: Period) -> ProjectFilters:
    """The projects that reached ``stage`` within period ``p`` (dropped ones included:
    they count in the months they happened)."""
    return replace(base, milestone=stage, since=p.since, until=p.until, as_of=None,
                   stage=None, stalled=None)


def pipeline_filters(base: ProjectFilters, as_of: date, stage: str | None = None
                     ) -> ProjectFilters:
    """The live pipeline on ``as_of`` (optionally one stage of it)."""
    return replace(base, as_of=as_of, stage=stage, milestone=None, since=None, until=None,
                   stalled=None)


def stalled_filters(base: ProjectFilters, as_of: date, level: str,
                    stage: str | None = None) -> ProjectFilters:
    """The projects stalled on ``as_of`` at ``level`` (optionally at one stage)."""
    return replace(base, as_of=as_of, stage=stage, stalled=level, milestone=None,
                   since=None, until=None)


def totals(filters: ProjectFilters) -> Totals:
    """Count and amounts of the projects ``filters`` select."""
    return Totals.from_row(db.session.execute(
        apply_filters(select(*amount_columns()), filters)).one())


# ---------------------------------------------------------------- tiles

TILE_STAGES = lifecycle.STAGES[1:]


def milestone_tiles(base: ProjectFilters, p: Period) -> dict[str, Totals]:
    """New signings, starts, production and full capacity within ``p``."""
    return {s: reached(base, s, p) for s in TILE_STAGES}


@dataclass
class Breakdown:
    """Live pipeline on a day, split by a dimension (unit, industry, region group) and
    by stage: ``cells[key][stage]``; ``keys`` in display order with their labels."""

    dimension: str
    keys: list[tuple[int | None, str]] = field(default_factory=list)
    cells: dict = field(default_factory=dict)

    def total(self, key) -> Totals:
        """One key's projects over all stages."""
        return _add(self.cells.get(key, {}).values())


def _add(items) -> Totals:
    out = Totals()
    for t in items:
        out.count += t.count
        out.cny_wan += t.cny_wan
        out.usd_wan += t.usd_wan
        out.combined_wan += t.combined_wan
        out.major += t.major
    return out


@dataclass
class Pipeline:
    """The live pipeline on a day, grouped in SQL by (unit, industry, stage then): one
    scan of a covering index, from which the stage funnel and the unit and industry
    charts take their sums (a few hundred groups at most)."""

    groups: dict[tuple[int | None, int | None, str], Totals]

    def by_stage(self) -> dict[str, Totals]:
        """Totals per stage, every stage present."""
        return {s: _add(t for key, t in self.groups.items() if key[2] == s)
                for s in lifecycle.STAGES}

    def breakdown(self, dimension: str, labels: list[tuple[int | None, str]]) -> Breakdown:
        """Totals per unit or industry and stage."""
        pos = {"unit": 0, "industry": 1}[dimension]
        out = Breakdown(dimension)
        for key, t in self.groups.items():
            cell = out.cells.setdefault(key[pos], {})
            cell[key[2]] = _add([cell.get(key[2], Totals()), t])
        out.keys = [(k, label) for k, label in labels if k in out.cells]
        return out


def pipeline(base: ProjectFilters, as_of: date) -> Pipeline:
    """The live pipeline on ``as_of`` grouped by unit, industry and the stage then."""
    if cube.covers(base, as_of):
        rate = usd_rate()
        return Pipeline({(r[0] or None, r[1] or None, r[2]): Totals.from_cells(r[3:], rate)
                         for r in cube.live(base, as_of, ("unit_id", "industry_id", "stage"))})
    stage = stage_on_expr(as_of)
    rows = db.session.execute(
        apply_filters(select(Project.unit_id, Project.industry_id, stage,
                             *amount_columns()), pipeline_filters(base, as_of))
        .group_by(Project.unit_id, Project.industry_id, stage)).all()
    return Pipeline({(r[0], r[1], r[2]): Totals.from_row(r[3:]) for r in rows})


UNSPECIFIED = N_("未指定")


def unit_labels() -> list[tuple[int | None, str]]:
    """Units in display order, then "no unit"."""
    return [(u.id, u.name) for u in db.session.scalars(
        select(Unit).order_by(Unit.sort_order, Unit.id))] + [(None, UNSPECIFIED)]


def industry_labels() -> list[tuple[int | None, str]]:
    """Industries in display order, then "no industry"."""
    return [(i.id, i.name) for i in db.session.scalars(
        select(Industry).order_by(Industry.sort_order, Industry.id))] + [(None, UNSPECIFIED)]


def by_unit(base: ProjectFilters, as_of: date, live: Pipeline | None = None) -> Breakdown:
    """Live pipeline by responsible unit and stage (projects without a unit: key None)."""
    return (live or pipeline(base, as_of)).breakdown("unit", unit_labels())


def by_industry(base: ProjectFilters, as_of: date, live: Pipeline | None = None
                ) -> Breakdown:
    """Live pipeline by industry and stage."""
    return (live or pipeline(base, as_of)).breakdown("industry", industry_labels())


def region_groups(parent_id: int | None) -> list[tuple[int, str, list[int]]]:
    """The chart's source-region groups: (id, name, the ids that roll up into it).

    Under a chosen region: its children (or itself when it has none). Without one:
    the second level (长三角, 珠三角, 韩国, 日本 …) and the top-level regions that have no
    children (本地) — the groups the monthly meeting speaks of."""
    regions = db.session.scalars(select(Region).order_by(Region.sort_order, Region.id)).all()
    children: dict[int | None, list[Region]] = {}
    for r in regions:
        children.setdefault(r.parent_id, []).append(r)
    child_ids = {k: [r.id for r in v] for k, v in children.items()}
    if parent_id is not None:
        parent = next((r for r in regions if r.id == parent_id), None)
        if parent is None:
            return []
        groups = children.get(parent_id) or [parent]
    else:
        groups = []
        for root in children.get(None, []):
            groups.extend(children.get(root.id) or [root])
    return [(g.id, g.name, region_with_descendants(g.id, child_ids)) for g in groups]


def by_region(base: ProjectFilters, as_of: date) -> Breakdown:
    """Live pipeline by source-region group and stage: project counts (a project tagged
    twice in one group counts once there; tagged in two groups, it counts in both, so
    the groups may add up to more than the pipeline)."""
    groups = region_groups(base.region_id)
    group_of = {rid: gid for gid, _, ids in groups for rid in ids}
    out = Breakdown("region")
    if not group_of:
        return out
    if cube.covers(base, as_of):
        rows = cube.live(base, as_of, ("region_id", "stage"), [gid for gid, _, _ in groups])
        for gid, s, n, *_ in rows:
            if n:
                out.cells.setdefault(gid, {})[s] = Totals(count=n)
        out.keys = [(g, name) for g, name, _ in groups if g in out.cells]
        return out
    # An alias: the region filter's own EXISTS over project_region must not correlate.
    tag = project_region.alias("tag")
    group = case(group_of, value=tag.c.region_id)
    stage = stage_on_expr(as_of)
    rows = db.session.execute(
        apply_filters(select(group, stage, func.count(distinct(Project.id)))
                      .select_from(Project).join(tag, tag.c.project_id == Project.id)
                      # "+ 0": not through the region index, so SQLite walks the
                      # projects' narrow covering index and probes their tags, instead
                      # of looking up the wide project row of every tag (≈ 2× slower).
                      .where((tag.c.region_id + 0).in_(list(group_of))),
                      pipeline_filters(base, as_of))
        .group_by(group, stage)).all()
    for gid, s, n in rows:
        out.cells.setdefault(gid, {})[s] = Totals(count=n)
    out.keys = [(g, name) for g, name, _ in groups if g in out.cells]
    return out


# ---------------------------------------------------------------- series and rankings

SERIES_MONTHS = 24


def series_start(until: date, months: int = SERIES_MONTHS) -> date:
    """The first day of the month ``months - 1`` months before ``until``'s month."""
    index = until.year * 12 + until.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def _by_month_and_unit(base: ProjectFilters, stage: str, until: date
                       ) -> dict[tuple[int, int, int | None], Totals]:
    """Projects that reached ``stage`` in each of the SERIES_MONTHS months up to
    ``until``, by (year, month, unit), from the milestone dates (where the running
    totals do not cover the filters): one range of the milestone's covering index, from
    which the monthly chart, the month / quarter / year-to-date tiles, the targets and
    the ranking all take their sums. Remembered for the request."""
    memo = g.setdefault("by_month_and_unit", {}) if has_request_context() else {}
    key = (base, stage, until)
    if key not in memo:
        col = milestone_col(stage)
        # "YYYY-MM" of the ISO date text: cheaper per row than extracting year and month
        # (SQLite stores dates as that text; PostgreSQL casts them to it).
        month = func.substr(cast(col, String), 1, 7)
        rows = db.session.execute(
            apply_filters(select(month, Project.unit_id, *amount_columns()),
                          reached_filters(base, stage,
                                          Period("months", series_start(until), until)))
            .group_by(month, Project.unit_id)).all()
        memo[key] = {(int(r[0][:4]), int(r[0][5:7]), r[1]): Totals.from_row(r[2:])
                     for r in rows}
    return memo[key]


def monthly_series(base: ProjectFilters, as_of: date
                   ) -> list[tuple[date, dict[str, Totals]]]:
    """Signings and starts per month over the SERIES_MONTHS months ending with as_of's
    month: [(first day of month, {stage: Totals})], oldest first."""
    stages = (lifecycle.SIGNED, lifecycle.STARTED)
    start = series_start(as_of)
    if cube.covers(base, as_of):
        rate = usd_rate()
        cells = {(m // 100, m % 100, s): Totals.from_cells(r, rate) for m, s, *r in
                 cube.reached(base, None, start, as_of, ("month", "stage"))}
    else:
        cells = {}
        for s in stages:
            for (y, m, _), t in _by_month_and_unit(base, s, as_of).items():
                cells[(y, m, s)] = _add([cells.get((y, m, s), Totals()), t])
    series, day = [], start
    while day <= as_of:
        series.append((day, {s: cells.get((day.year, day.month, s), Totals())
                             for s in stages}))
        day = (day + timedelta(days=32)).replace(day=1)
    return series


def reached_by_unit(base: ProjectFilters, stage: str, p: Period) -> dict[int | None, Totals]:
    """Projects that reached ``stage`` within ``p``, by responsible unit: the months of
    the request's monthly table when ``p`` is whole months ending on its day (month,
    quarter, year to date), else a query of its own. Remembered for the request."""
    memo = g.setdefault("reached_by_unit", {}) if has_request_context() else {}
    key = (base, stage, p)
    if key in memo:
        return memo[key]
    if p.since.day == 1 and cube.covers(base, p.until):
        # Every stage of the period at once, from the running totals.
        rate = usd_rate()
        for s in TILE_STAGES:
            memo[(base, s, p)] = {}
        for unit, s, *r in cube.reached(base, None, p.since, p.until, ("unit_id", "stage")):
            memo[(base, s, p)][unit or None] = Totals.from_cells(r, rate)
    elif p.since.day == 1 and p.since >= series_start(p.until):
        out: dict[int | None, list[Totals]] = {}
        first = (p.since.year, p.since.month)
        for (y, m, unit), t in _by_month_and_unit(base, stage, p.until).items():
            if (y, m) >= first:
                out.setdefault(unit, []).append(t)
        memo[key] = {unit: _add(ts) for unit, ts in out.items()}
    else:
        rows = db.session.execute(
            apply_filters(select(Project.unit_id, *amount_columns()),
                          reached_filters(base, stage, p))
            .group_by(Project.unit_id)).all()
        memo[key] = {row[0]: Totals.from_row(row[1:]) for row in rows}
    return memo[key]


def reached(base: ProjectFilters, stage: str, p: Period) -> Totals:
    """Projects that reached ``stage`` within ``p`` (what ``reached_filters`` lists)."""
    return _add(reached_by_unit(base, stage, p).values())


# ---------------------------------------------------------------- lists

def stalled_counts(base: ProjectFilters, as_of: date) -> dict[str, dict[str, int]]:
    """Stalled projects on ``as_of``: counts[stage][level] for yellow and red, each the
    count of what ``stalled_filters(base, as_of, level, stage)`` lists.

    Signed, started and producing projects come from the running totals when they
    cover the day (those waiting since before the threshold's month) plus a query of
    the threshold's own month, day by day; leads, and the rest, from one query per
    stage (its red ones among those past the first threshold)."""
    thresholds = stalled_thresholds()
    covered = cube.covers(base, as_of)
    if covered:
        cutoffs = {(s, level): as_of - timedelta(days=days)
                   for s, pair in thresholds.items() if s != lifecycle.LEAD
                   for level, days in zip(("yellow", "red"), pair)}
        waiting = _waiting_since(base, as_of, cutoffs)
    out = {}
    for s in lifecycle.DEFAULT_STALLED_THRESHOLDS:
        if s != lifecycle.LEAD and covered:
            n, n_red = waiting[(s, "yellow")], waiting[(s, "red")]
        else:
            red = _sum(case((stalled_level_condition(s, "red", as_of), 1), else_=0))
            n, n_red = db.session.execute(apply_filters(
                select(func.count(Project.id), red),
                stalled_filters(base, as_of, "any", s))).one()
        out[s] = {"yellow": int(n) - int(n_red), "red": int(n_red)}
    return out


def _waiting_since(base: ProjectFilters, as_of: date, cutoffs: dict[tuple, date]
                   ) -> dict[tuple, int]:
    """For each (stage, level) → cutoff: the active projects at that stage on ``as_of``
    since the cutoff or before. The months before the cutoff's come from the running
    totals; the cutoff's own month, day by day, from the milestone dates (one query,
    a month's range of each milestone's index)."""
    months: dict[str, dict[int, int]] = {}
    for s, since, n, *_ in cube.live(base, as_of, ("stage", "since"), waiting=True):
        months.setdefault(s, {})[since] = n
    ranges = {key: and_(milestone_col(key[0]) >= cut.replace(day=1),
                        milestone_col(key[0]) <= cut) for key, cut in cutoffs.items()}
    in_month = db.session.execute(apply_filters(
        select(*[_sum(case((and_(r, stage_on_condition(key[0], as_of)), 1), else_=0))
                 for key, r in ranges.items()]),
        replace(pipeline_filters(base, as_of), status=lifecycle.ACTIVE))
        .where(or_(*ranges.values()))).one()
    return {key: sum(n for since, n in months.get(key[0], {}).items()
                     if since < cube.month_key(cut)) + int(extra)
            for (key, cut), extra in zip(cutoffs.items(), in_month)}


def stalled_list(base: ProjectFilters, as_of: date, limit: int = 10
                 ) -> list[tuple[Project, str, date]]:
    """The longest-stalled signed, started or producing projects on ``as_of`` (the 三未),
    oldest milestone first: (project, stage then, since). Each stage walks its
    milestone index from the oldest date and stops at ``limit``."""
    found = []
    for s in (lifecycle.SIGNED, lifecycle.STARTED, lifecycle.PRODUCING):
        since = milestone_col(s)
        found += [(since_on, pid, s) for pid, since_on in db.session.execute(
            apply_filters(select(Project.id, since), stalled_filters(base, as_of, "any", s))
            .order_by(since, Project.id).limit(limit))]
    found = sorted(found)[:limit]
    projects = {p.id: p for p in db.session.scalars(
        select(Project).where(Project.id.in_([pid for _, pid, _ in found]))
        .options(selectinload(Project.unit), selectinload(Project.company)))}
    return [(projects[pid], s, since_on) for since_on, pid, s in found]


def major_projects(base: ProjectFilters, as_of: date, limit: int = 10) -> list[Project]:
    """The largest live projects on ``as_of`` (≥ 10亿元), largest first.

    Each currency walks the (currency, amount) index from the top, so only the few
    largest rows are read; the two short lists are merged by the combined amount."""
    found = []
    for currency in (CNY, USD):
        amount = Project.investment_amount
        found += db.session.scalars(
            apply_filters(select(Project), replace(pipeline_filters(base, as_of), major=True))
            .where(Project.investment_currency == currency, amount.is_not(None))
            .options(selectinload(Project.unit), selectinload(Project.company))
            .order_by(amount.desc(), Project.id).limit(limit)).all()
    rate = usd_rate()
    found.sort(key=lambda p: (-(p.investment_amount * (rate if p.investment_currency == USD
                                                       else 1)), p.id))
    return found[:limit]


def _of_projects(stmt, model, base: ProjectFilters, walk: bool = True):
    """Narrow ``stmt`` over ``model`` (a table with project_id) to the projects ``base``
    selects. ``walk`` (a list with a LIMIT): a test of each row's project (EXISTS, by
    its primary key), so the rows are walked in the model's own order and the walk
    stops at the LIMIT (a join let SQLite start from the unit's projects and sort all
    their rows); else (a count) a join, which reads the projects' narrow indexes."""
    f = replace(base, as_of=None, stage=None)
    if f == ProjectFilters():
        return stmt
    if not walk:
        return apply_filters(stmt.join(Project, Project.id == model.project_id), f)
    return stmt.where(apply_filters(select(Project.id).where(
        Project.id == model.project_id), f).exists())


def latest_stage_changes(base: ProjectFilters, limit: int = 10) -> list[StageChange]:
    """The latest stage moves of the filtered projects, newest first."""
    stmt = _of_projects(select(StageChange), StageChange, base)
    return list(db.session.scalars(
        stmt.options(joinedload(StageChange.user), joinedload(StageChange.project))
        .order_by(StageChange.changed_at.desc(), StageChange.id.desc()).limit(limit)))


def open_issues(base: ProjectFilters, limit: int = 10) -> tuple[int, list[CoordinationIssue]]:
    """Open coordination issues of the filtered projects, oldest first, and their count."""
    is_open = CoordinationIssue.closed_on.is_(None)
    count = db.session.scalar(_of_projects(
        select(func.count()).select_from(CoordinationIssue), CoordinationIssue, base,
        walk=False).where(is_open))
    stmt = (_of_projects(select(CoordinationIssue), CoordinationIssue, base).where(is_open)
            .options(joinedload(CoordinationIssue.project),
                     joinedload(CoordinationIssue.acting_unit))
            .order_by(CoordinationIssue.raised_on, CoordinationIssue.id).limit(limit))
    return count, list(db.session.scalars(stmt))


# ---------------------------------------------------------------- targets and ranking

# Each target metric: the stage whose milestone counts, and which figure of the Totals.
METRICS = {
    "signings": (lifecycle.SIGNED, "count"),
    "signed_amount": (lifecycle.SIGNED, "combined_yi"),
    "major_signings": (lifecycle.SIGNED, "major"),
    "region_signings": (lifecycle.SIGNED, "count"),
    "starts": (lifecycle.STARTED, "count"),
    "producing": (lifecycle.PRODUCING, "count"),
    "at_capacity": (lifecycle.AT_CAPACITY, "count"),
}
RANKING_METRICS = ("signings", "signed_amount", "major_signings", "starts", "producing")


def metric_value(metric: str, t: Totals):
    """A metric's figure from the totals of its stage."""
    return getattr(t, METRICS[metric][1])


def metric_filters(base: ProjectFilters, metric: str, p: Period,
                   region_id: int | None = None) -> ProjectFilters:
    """The projects a metric counts within ``p``."""
    f = reached_filters(base, METRICS[metric][0], p)
    if metric == "major_signings":
        f = replace(f, major=True)
    if region_id is not None:
        f = replace(f, region_id=region_id)
    return f


@dataclass
class Completion:
    """One target against what has been done in its year up to the as-of date."""

    target: object
    actual: Decimal
    filters: ProjectFilters
    pace: Decimal

    @property
    def ratio(self) -> Decimal:
        """Completion: the figure over the target."""
        return Decimal(self.actual) / self.target.value if self.target.value else Decimal(0)

    @property
    def ahead(self) -> bool:
        """On or ahead of 序时进度."""
        return self.ratio >= self.pace


def completion(targets, as_of: date) -> list[Completion]:
    """Each target of as_of's year against its year-to-date figure (the target's unit,
    and region for region signings; the dashboard's other filters do not apply).

    One query per stage (and region) grouped by unit serves every unit's and the
    zone's targets."""
    p, share = period("year", as_of), pace(as_of)
    out = []
    for t in targets:
        f = metric_filters(ProjectFilters(unit_id=t.unit_id), t.metric, p, t.region_id)
        units = reached_by_unit(ProjectFilters(region_id=t.region_id), METRICS[t.metric][0], p)
        figures = _add(units.values()) if t.unit_id is None else \
            units.get(t.unit_id, Totals())
        out.append(Completion(t, Decimal(metric_value(t.metric, figures)), f, share))
    return out


@dataclass
class RankRow:
    """A unit's figures for the ranking period."""

    unit_id: int | None
    name: str
    values: dict[str, Decimal]
    rank: int = 0


def unit_ranking(base: ProjectFilters, p: Period, rank_by: str = "signed_amount"
                 ) -> list[RankRow]:
    """Units ranked by ``rank_by`` within ``p`` (ties share a rank), with the other
    ranking metrics beside it; the unit filter is ignored (every unit is ranked)."""
    base = replace(base, unit_id=None)
    by_stage = {s: reached_by_unit(base, s, p)
                for s in {METRICS[m][0] for m in RANKING_METRICS}}
    rows = [RankRow(u.id, u.name, {m: Decimal(metric_value(
                m, by_stage[METRICS[m][0]].get(u.id, Totals()))) for m in RANKING_METRICS})
            for u in db.session.scalars(select(Unit).where(Unit.active.is_(True))
                                        .order_by(Unit.sort_order, Unit.id))]
    rows.sort(key=lambda r: -r.values[rank_by])
    for i, r in enumerate(rows):
        r.rank = rows[i - 1].rank if i and r.values[rank_by] == rows[i - 1].values[rank_by] \
            else i + 1
    return rows
