"""Queries for the project list and page: filters, sorting and eager loads in SQL."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Select, and_, case, exists, false, func, not_, or_, select
from sqlalchemy.orm import joinedload, selectinload

from crm import lifecycle
from crm.clock import LOCAL_TZ, local_date, today
from crm.extensions import db
from crm.models import (MAJOR_PROJECT_WAN, USD, Change, Project, StageChange, Visit,
                        project_region, visit_project)
from crm.projects.search import match_condition
from crm.reference.queries import region_with_descendants, stalled_thresholds, usd_rate


@dataclass(frozen=True)
class ProjectFilters:
    """What the project list is narrowed to; None means no filter."""

    q: str = ""
    stage: str | None = None
    status: str | None = None
    region_id: int | None = None
    industry_id: int | None = None
    unit_id: int | None = None
    officer_id: int | None = None
    major: bool = False
    # The live pipeline on a past day: created by then and not yet dropped; ``stage``
    # then means the stage on that day (from the milestone dates), not today's.
    as_of: date | None = None
    # Projects that reached ``milestone`` (a stage) between ``since`` and ``until``
    # (inclusive; a month-precision date counts from the first day of its month).
    milestone: str | None = None
    since: date | None = None
    until: date | None = None
    # Stalled (三未 and stale leads) on ``as_of`` or today: "yellow" (past the first
    # threshold, not the second), "red" (past the second) or "any".
    stalled: str | None = None


STALLED_LEVELS = ("yellow", "red", "any")


def milestone_col(stage: str):
    """The project column holding ``stage``'s milestone date."""
    return getattr(Project, lifecycle.MILESTONE_FIELDS[stage])


def created_by(day: date):
    """SQL: the project existed by the end of ``day`` (local time; stored UTC)."""
    end = datetime.combine(day + timedelta(days=1), time(), LOCAL_TZ)
    return Project.created_at < end.astimezone(timezone.utc).replace(tzinfo=None)


def is_current(day: date) -> bool:
    """True when ``day`` is today or later. No milestone, status date or creation lies
    in the future (the stage gate and status forms refuse them), so on such a day each
    project stands where its stored stage and status say: the stored columns give the
    same answer as the milestone dates, read from an index instead of computed per row.
    (tests/test_dashboard.py checks that both ways agree.)"""
    return day >= today()


def live_on(day: date, computed: bool = False):
    """SQL: the project was in the pipeline on ``day``: it existed (created, or signed
    by then — imported history) and had not been dropped by then. ``computed`` forces
    the milestone-date form even for today."""
    if is_current(day) and not computed:
        return Project.status != lifecycle.DROPPED
    dropped = and_(Project.status == lifecycle.DROPPED,
                   or_(Project.status_on.is_(None), Project.status_on <= day))
    return and_(or_(Project.signed_on <= day, created_by(day)), not_(dropped))


def stage_on_condition(stage: str, day: date, computed: bool = False):
    """SQL: the project's stage on ``day`` was ``stage`` (lifecycle.stage_on and
    stage_on_expr in SQL: its milestone reached by then and no later one), written as
    ranges on the milestone columns so their indexes apply. Every later milestone is
    tested: dates of coarser precision may be stored out of order (signed 2025-03,
    producing "2025", kept as 2025-01-01)."""
    if is_current(day) and not computed:
        return Project.stage == stage
    conds = []
    if stage != lifecycle.LEAD:
        conds.append(milestone_col(stage) <= day)
    for later in lifecycle.STAGES[lifecycle.stage_index(stage) + 1:]:
        col = milestone_col(later)
        conds.append(or_(col.is_(None), col > day))
    return and_(*conds)


def stalled_since(stage: str, day: date, days: int):
    """SQL: a project at ``stage`` on ``day`` has been waiting at least ``days`` days:
    since its milestone, or for a lead since its latest visit (or its creation).

    A lead's stored latest visit answers whenever it is not after ``day`` (always for
    today: no visit lies in the future); only a lead visited since ``day`` has its
    visits looked up. (coalesce, not "IS NULL OR": one pass over the covering index.)
    The project is known to be a lead on ``day`` where this is used (stalled_condition)."""
    cutoff = day - timedelta(days=days)
    if stage != lifecycle.LEAD:
        return milestone_col(stage) <= cutoff
    unvisited = func.coalesce(Project.last_visit_on, date.min) <= cutoff
    if is_current(day):
        return and_(created_by(cutoff), unvisited)
    visited = (select(visit_project.c.visit_id)
               .join(Visit, Visit.id == visit_project.c.visit_id)
               .where(visit_project.c.project_id == Project.id,
                      Visit.visited_on > cutoff, Visit.visited_on <= day).exists())
    # (the lead test first: SQLite may weigh this term before the stage's own, and the
    # visits are looked up for leads only)
    return and_(created_by(cutoff), case(
        (and_(stage_on_condition(lifecycle.LEAD, day), Project.last_visit_on > day),
         not_(visited)), else_=unvisited))


def stalled_level_condition(stage: str, level: str, day: date, thresholds=None):
    """SQL: a project known to be at ``stage`` on ``day`` is stalled at ``level``
    ("yellow": past the first threshold only; "red": past the second; "any"), by the
    admin-set thresholds unless ``thresholds`` are given."""
    yellow, red = (thresholds or stalled_thresholds())[stage]
    if level == "red":
        return stalled_since(stage, day, red)
    if level == "yellow":
        return and_(stalled_since(stage, day, yellow), not_(stalled_since(stage, day, red)))
    return stalled_since(stage, day, yellow)


def stalled_condition(level: str, day: date, stage: str | None = None, thresholds=None):
    """SQL: the project was stalled on ``day`` at ``level`` (lifecycle.stalled_level in
    SQL), optionally only at ``stage``. Only active projects stall."""
    thresholds = thresholds or stalled_thresholds()
    kinds = [s for s in ([stage] if stage else thresholds) if s in thresholds]
    parts = [and_(stage_on_condition(s, day), stalled_level_condition(s, level, day,
                                                                      thresholds))
             for s in kinds]
    return and_(Project.status == lifecycle.ACTIVE, live_on(day),
                or_(*parts) if parts else false())


def stage_on_expr(day: date, computed: bool = False):
    """SQL expression: the project's stage on ``day``."""
    if is_current(day) and not computed:
        return Project.stage
    return case(*[(milestone_col(s) <= day, s) for s in reversed(lifecycle.STAGES[1:])],
                else_=lifecycle.LEAD)


def cny_equivalent():
    """SQL expression: total investment in 万元, USD converted at the admin-set rate."""
    return case((Project.investment_currency == USD,
                 Project.investment_amount * usd_rate()),
                else_=Project.investment_amount)


# sort key in the URL → ORDER BY columns (id breaks ties so pages never overlap)
SORTS = {
    "updated": (Project.updated_at.desc(), Project.id.desc()),
    "code": (Project.code.asc(),),
    "-code": (Project.code.desc(),),
    "name": (Project.name.asc(), Project.id.asc()),
    "stage": (Project.stage.asc(), Project.id.desc()),
    "investment": None,   # built per request: depends on the USD rate
    "-investment": None,
}
DEFAULT_SORT = "updated"


def apply_filters(stmt: Select, filters: ProjectFilters) -> Select:
    """Add the WHERE clauses of ``filters`` to a select over ``Project``."""
    if filters.as_of:
        stmt = stmt.where(live_on(filters.as_of))
        if filters.stage:
            stmt = stmt.where(stage_on_condition(filters.stage, filters.as_of))
    elif filters.stage:
        stmt = stmt.where(Project.stage == filters.stage)
    if filters.stalled in STALLED_LEVELS:
        stmt = stmt.where(stalled_condition(filters.stalled, filters.as_of or today(),
                                            filters.stage))
    if filters.milestone in lifecycle.MILESTONE_FIELDS:
        col = milestone_col(filters.milestone)
        stmt = stmt.where(col.is_not(None))
        if filters.since:
            stmt = stmt.where(col >= filters.since)
        if filters.until:
            stmt = stmt.where(col <= filters.until)
    if filters.status:
        stmt = stmt.where(Project.status == filters.status)
    if filters.industry_id:
        stmt = stmt.where(Project.industry_id == filters.industry_id)
    if filters.unit_id:
        stmt = stmt.where(Project.unit_id == filters.unit_id)
    if filters.officer_id:
        stmt = stmt.where(Project.officer_id == filters.officer_id)
    if filters.region_id:
        ids = region_with_descendants(filters.region_id)
        stmt = stmt.where(exists().where(project_region.c.project_id == Project.id,
                                         project_region.c.region_id.in_(ids)))
    if filters.major:
        stmt = stmt.where(cny_equivalent() >= MAJOR_PROJECT_WAN)
    match = match_condition(filters.q)
    if match is not None:
        stmt = stmt.where(match)
    return stmt


def filtered_ids_stmt(filters: ProjectFilters) -> Select:
    """SELECT project ids matching ``filters`` (the WHERE part of every list/export)."""
    return apply_filters(select(Project.id), filters)


def order_by(sort: str):
    """ORDER BY clauses for a sort key (unknown keys fall back to the default)."""
    if sort in ("investment", "-investment"):
        amount = cny_equivalent()
        return ((amount.desc() if sort == "-investment" else amount.asc()).nulls_last(),
                Project.id.desc())
    return SORTS.get(sort) or SORTS[DEFAULT_SORT]


def project_list_stmt(filters: ProjectFilters, sort: str = DEFAULT_SORT) -> Select:
    """Projects matching ``filters`` in ``sort`` order, with what a list row shows.

    The filters apply to this select itself (not ``id IN (subquery)``) and the related
    rows come in one query each after the page, not as joins: so a page's LIMIT/OFFSET
    walks the sort key's index and skipped rows cost an index step, not a row and four
    joins (a deep page went from seconds to milliseconds on 100,000 projects).
    """
    return (apply_filters(select(Project), filters)
            .options(selectinload(Project.company), selectinload(Project.industry),
                     selectinload(Project.unit), selectinload(Project.officer),
                     selectinload(Project.regions))
            .order_by(*order_by(sort)))


def project_detail_stmt(project_id: int) -> Select:
    """One project with everything its page shows."""
    return (select(Project).where(Project.id == project_id)
            .options(joinedload(Project.company), joinedload(Project.industry),
                     joinedload(Project.unit), joinedload(Project.officer),
                     selectinload(Project.regions)))


def stage_history_stmt(project_id: int) -> Select:
    """A project's stage moves, newest first."""
    return (select(StageChange).where(StageChange.project_id == project_id)
            .options(joinedload(StageChange.user))
            .order_by(StageChange.changed_at.desc(), StageChange.id.desc()))


def change_history_stmt(project_id: int, limit: int = 200) -> Select:
    """A project's field changes, newest first."""
    return (select(Change).where(Change.project_id == project_id)
            .options(joinedload(Change.user))
            .order_by(Change.changed_at.desc(), Change.id.desc()).limit(limit))


def milestone_timeline(project: Project) -> list[dict]:
    """The stages with their milestone dates, for the page's timeline."""
    reached = lifecycle.stage_index(project.stage)
    return [{"stage": s, "label": lifecycle.STAGE_LABELS[s],
             "date": project.milestone(s) if s != lifecycle.LEAD else None,
             "reached": i <= reached}
            for i, s in enumerate(lifecycle.STAGES)]


def stalled_state(project: Project, day: date, thresholds) -> tuple[str | None, date | None]:
    """A project's stalled level on ``day`` (today) and the day it counts from: its
    stage's milestone, or for a lead its latest visit or its creation."""
    if project.stage == lifecycle.LEAD:
        since = max(d for d in (project.last_visit_on, local_date(project.created_at))
                    if d is not None)
    else:
        milestone = project.milestone(project.stage)
        since = milestone.start if milestone else None
    return (lifecycle.stalled_level(project.stage, project.status, since, since, day,
                                    thresholds), since)


def stalled_projects(user, today) -> list[tuple[Project, str, int]]:
    """The user's active projects that are stalled by the lifecycle's rules, reddest and
    longest first: (project, "yellow"/"red", days since the stage began or the lead was
    last worked on). A lead's activity is its latest visit or its creation."""
    projects = db.session.scalars(
        select(Project)
        .where(Project.officer_id == user.id, Project.status == lifecycle.ACTIVE,
               Project.stage != lifecycle.AT_CAPACITY)).all()
    out, thresholds = [], stalled_thresholds()
    for project in projects:
        level, since = stalled_state(project, today, thresholds)
        if level:
            out.append((project, level, (today - since).days))
    return sorted(out, key=lambda r: (r[1] != "red", -r[2]))
