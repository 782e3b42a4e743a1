"""The pipeline's running totals (table ``pipeline_cell``, see models.PipelineCell).

The dashboard's figures are defined by the SQL over the projects' milestone dates in
crm/dashboard/queries.py; at 100,000 projects each such pass costs 30–150 ms. These
cells hold the same sums, kept up to date in the transaction of every project write:

- an ORM flush that inserts, deletes or changes what a figure depends on (stage,
  status, milestones, unit, industry, amount, region tags) subtracts the project's old
  cells, read from the database before the flush, and adds its new ones after it;
- a change of the region tree or of the USD rate, and bulk loads that bypass the ORM,
  ``rebuild`` the whole table (2–5 s at 100,000 projects);
- tests/test_cube.py checks that the cells equal the SQL figures after random writes.

Only plain Core statements are used, so the migration that creates the table fills it
with the same code.
"""
from __future__ import annotations

import struct
from collections import defaultdict
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, delete, event, func, inspect, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crm import lifecycle
from crm.clock import local_date
from crm.extensions import db, driver_executemany
from crm.models import (MAJOR_PROJECT_WAN, USD, PipelineCell, Project, Region, Setting,
                        project_region)
from crm.projects.queries import ProjectFilters, is_current
from crm.reference.queries import DEFAULT_USD_RATE, USD_RATE_KEY

NOW, LIVE, REACHED, STAY, STAY_LIVE = "now", "live", "reached", "stay", "stay_live"
ALL = 0          # the region of every project; unit / industry "none"
ANY = -1         # unit and industry of the roll-up cells: every unit and industry
UNITS_PER_WAN = 10000   # the cells count whole 元 / 美元
CHUNK = 500      # ids per IN (…) list

cell = PipelineCell.__table__
MEASURES = ("n", "cny", "usd", "major")
KEY = ("kind", "region_id", "month", "unit_id", "industry_id", "stage", "since")

# What a project's cells depend on: a flush changing none of these leaves them alone.
TRACKED = ("stage", "status", "status_on", "created_at", "unit_id", "unit", "industry_id",
           "industry", "investment_amount", "investment_currency", "regions",
           *lifecycle.MILESTONE_FIELDS.values())
_COLUMNS = (Project.id, Project.status, Project.status_on, Project.created_at,
            Project.unit_id, Project.industry_id, Project.investment_amount,
            Project.investment_currency,
            *(getattr(Project, f) for f in lifecycle.MILESTONE_FIELDS.values()))


def month_key(day: date) -> int:
    """A month as the cells key it: YYYYMM."""
    return day.year * 100 + day.month


def _stage_at(milestones: dict[str, int], month: int) -> str:
    """The stage at the end of ``month``: the furthest milestone reached by then
    (queries.stage_on_expr at a month end)."""
    for s in reversed(lifecycle.STAGES[1:]):
        if milestones.get(s) is not None and milestones[s] <= month:
            return s
    return lifecycle.LEAD


def project_events(row, rate: Decimal) -> tuple[list[tuple], tuple]:
    """One project's cell changes and what it adds to each: ([(kind, month, stage,
    since, ±1)], (unit, industry, 元, 美元, major)), ``row`` holding _COLUMNS.

    The live pipeline at a month end follows queries.live_on and stage_on_expr: the
    project is in it from the month it was created (or, imported history, signed) until
    the month it was dropped, at the furthest milestone reached by then. While an
    active project waits at a signed, started or producing stage, the "stay" cells
    also hold it under the month that stage began (its stalled age)."""
    (_, status, status_on, created_at, unit_id, industry_id, amount, currency,
     *dates) = row
    milestones = {s: month_key(d) for s, d in zip(lifecycle.MILESTONE_FIELDS, dates)
                  if d is not None}
    cny = usd = major = 0
    if amount is not None:
        amount = Decimal(amount)
        units = int(amount * UNITS_PER_WAN)
        cny, usd = (units, 0) if currency != USD else (0, units)
        major = int((amount * rate if currency == USD else amount) >= MAJOR_PROJECT_WAN)
    what = (unit_id or 0, industry_id or 0, cny, usd, major)
    events = [(REACHED, m, s, 0, 1) for s, m in milestones.items()]
    waits = status == lifecycle.ACTIVE

    def move(month, stage, sign):
        events.append((LIVE, month, stage, 0, sign))
        if waits and stage != lifecycle.LEAD:
            events.append((STAY_LIVE, month, stage, milestones[stage], sign))

    starts = [month_key(local_date(created_at))] if created_at is not None else []
    if lifecycle.SIGNED in milestones:
        starts.append(milestones[lifecycle.SIGNED])
    dropped = status == lifecycle.DROPPED
    if not starts or (dropped and status_on is None):
        return events, what      # never in the live pipeline
    start = min(starts)
    end = month_key(status_on) if dropped else None
    state = None
    for m in sorted({start, *(m for m in milestones.values() if m > start),
                     *([end] if end is not None and end >= start else [])}):
        new = None if end is not None and m >= end else _stage_at(milestones, m)
        if new != state:
            if state is not None:
                move(m, state, -1)
            if new is not None:
                move(m, new, 1)
            state = new
    if state is not None:
        events.append((NOW, 0, state, 0, 1))
        if waits and state != lifecycle.LEAD:
            events.append((STAY, 0, state, milestones[state], 1))
    return events, what


# A cell's four measures are summed as one integer, each in 64 bits of its own (its
# column's range, BigInteger at most): one addition per cell instead of four, where a
# bulk import of 10,000 projects adds ~600,000.
_FIELD = 1 << 64


def _packed(n: int, cny: int, usd: int, major: int) -> int:
    return n + (cny + (usd + major * _FIELD) * _FIELD) * _FIELD


# Each measure shifted by half its range is a 64-bit digit ≥ 0 of the shifted sum.
_HALF = _FIELD // 2
_SHIFT = _packed(_HALF, _HALF, _HALF, _HALF)
_DIGITS = struct.Struct("<4Q")


def _measures(packed: int) -> tuple[int, int, int, int]:
    """The four measures (n, cny, usd, major) of a packed sum, each possibly negative."""
    n, cny, usd, major = _DIGITS.unpack((packed + _SHIFT).to_bytes(32, "little"))
    return n - _HALF, cny - _HALF, usd - _HALF, major - _HALF


def _add_events(part: defaultdict, events: list[tuple], what: tuple, sign: int) -> None:
    """Add (``sign`` 1) or take away (-1) a project's events to the sums of its set of
    regions, keyed as a cell without its region."""
    unit, industry, cny, usd, major = what
    one = _packed(sign, sign * cny, sign * usd, sign * major)
    for kind, month, stage, since, s in events:
        v = one if s > 0 else -one
        # Each cell by unit and industry, and rolled up over both (what a figure not
        # split by them reads: a few rows instead of one per pair).
        part[kind, month, unit, industry, stage, since] += v
        part[kind, month, ANY, ANY, stage, since] += v


def _spread(total: dict, regions: tuple[int, ...], part: dict) -> None:
    """Add the sums of a set of regions' projects to the cells of each region."""
    get = total.get
    for (kind, month, unit, industry, stage, since), v in part.items():
        for r in regions:
            key = (kind, r, month, unit, industry, stage, since)
            total[key] = get(key, 0) + v


# ---------------------------------------------------------------- reading the projects

# The USD rate and the region tree are read FOR SHARE (PostgreSQL; SQLite writers are
# serialised anyway): a region move or a new rate, which lock their row FOR UPDATE and
# recount the projects they touch, then waits for project writes in flight, and project
# writes wait for it, so no write counts a project under a tree or rate being replaced.

def _rate(conn) -> Decimal:
    value = conn.scalar(select(Setting.value).where(Setting.key == USD_RATE_KEY)
                        .with_for_update(read=True))
    return Decimal(value) if value else DEFAULT_USD_RATE


def _ancestors(conn) -> dict[int, list[int]]:
    """Each region with the regions above it."""
    parent = dict(conn.execute(select(Region.id, Region.parent_id)
                               .with_for_update(read=True)).all())
    out = {}
    for rid in parent:
        chain, r = [], rid
        while r is not None and r not in chain:
            chain.append(r)
            r = parent.get(r)
        out[rid] = chain
    return out


def _cells_of(conn, ids: list[int] | None, total: dict | None = None, sign: int = 1
              ) -> dict[tuple, int]:
    """Add (``sign`` 1) or take away (-1) the cells of projects ``ids`` (None: every
    project) as stored now to ``total``."""
    rate, ancestors = _rate(conn), _ancestors(conn)
    total = {} if total is None else total
    # A project's cells are alike in each of its regions: summed first per set of
    # regions (a bulk import's 10,000 projects fall into a few dozen), then spread.
    by_regions: dict[tuple[int, ...], defaultdict] = {}
    chunks = [None] if ids is None else [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]
    for chunk in chunks:
        rows = select(*_COLUMNS)
        tags = select(project_region.c.project_id, project_region.c.region_id)
        if chunk is not None:
            rows = rows.where(Project.id.in_(chunk))
            tags = tags.where(project_region.c.project_id.in_(chunk))
        regions: dict[int, set[int]] = defaultdict(set)
        for pid, rid in conn.execute(tags):
            regions[pid].update(ancestors.get(rid, [rid]))
        for row in conn.execute(rows):
            events, what = project_events(row, rate)
            key = (ALL, *sorted(regions.get(row[0], ())))
            part = by_regions.get(key)
            if part is None:
                part = by_regions[key] = defaultdict(int)
            _add_events(part, events, what, sign)
    for key, part in by_regions.items():
        _spread(total, key, part)
    return total


@contextmanager
def recounted(conn, ids: list[int]):
    """Recount the cells of projects ``ids`` around a change that is not a write to
    them (their regions moved in the tree, a new USD rate): their cells before the
    block are taken away, their cells after it added."""
    ids = sorted(ids)
    total = _cells_of(conn, ids, sign=-1) if ids else {}
    yield
    if ids:
        _apply(conn, _cells_of(conn, ids, total))


def count_new(conn, ids: list[int]) -> None:
    """Add the cells of projects ``ids`` just inserted in bulk (written without the ORM,
    so the flush hooks below do not see them)."""
    if ids:
        _apply(conn, _cells_of(conn, sorted(ids)))


def _apply(conn, deltas: dict[tuple, int]) -> None:
    """Add ``deltas`` to the cells, in key order on PostgreSQL (concurrent writers lock
    cells in the same order, so they queue instead of deadlocking; SQLite's writers
    take the whole database in turn, and a bulk import's 100,000 cells sort in 0.3 s)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(cell)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(KEY),
        set_={m: cell.c[m] + getattr(stmt.excluded, m) for m in MEASURES})
    # (A generator: a bulk import's 10,000 projects touch ~100,000 cells, bound a chunk
    # at a time.)
    cells = sorted(deltas.items()) if dialect is postgresql else deltas.items()
    driver_executemany(conn, stmt, KEY + MEASURES, (
        key + _measures(m) for key, m in cells if m))


def rebuild(conn) -> int:
    """Recompute every cell from the projects; returns the number of cells."""
    cells = _cells_of(conn, None)
    conn.execute(delete(cell))
    rows = [key + _measures(m) for key, m in sorted(cells.items()) if m]
    driver_executemany(conn, cell.insert(), KEY + MEASURES, rows)
    return len(rows)


# ---------------------------------------------------------------- keeping them in step

def _changed(obj) -> bool:
    state = inspect(obj)
    return any(state.attrs[a].history.has_changes() for a in TRACKED)


@event.listens_for(Session, "before_flush")
def _before_flush(session, _context, _instances):
    """Note the projects this flush touches and take away their cells as stored."""
    touched = [o for o in session.dirty if isinstance(o, Project) and _changed(o)]
    gone = [o for o in session.deleted if isinstance(o, Project)]
    new = [o for o in session.new if isinstance(o, Project)]
    if not (touched or gone or new):
        session.info.pop("cube", None)
        return
    ids = sorted({o.id for o in touched + gone if o.id is not None})
    total = _cells_of(session.connection(), ids, sign=-1) if ids else {}
    session.info["cube"] = (total, touched + new)


@event.listens_for(Session, "after_flush")
def _after_flush(session, _context):
    """Add the touched projects' cells as they are now."""
    pending = session.info.pop("cube", None)
    if pending is None:
        return
    total, written = pending
    ids = sorted({o.id for o in written if o.id is not None and o not in session.deleted})
    if ids:
        _cells_of(session.connection(), ids, total)
    _apply(session.connection(), total)


# ---------------------------------------------------------------- reading the cells

def covers(base: ProjectFilters, day: date) -> bool:
    """True when the cells hold the figures of ``base`` on ``day``: filters by unit,
    industry and region only (the dashboard's), on today or a month end."""
    dims = ProjectFilters(unit_id=base.unit_id, industry_id=base.industry_id,
                          region_id=base.region_id)
    return base == dims and (is_current(day) or (day + timedelta(days=1)).day == 1)


def _narrow(stmt, base: ProjectFilters, by: tuple, regions: list[int] | None = None):
    """The cells of ``base``'s region (or of ``regions``), unit and industry: the
    roll-up cells when neither is filtered nor grouped ``by``, else the detailed ones."""
    stmt = stmt.where(cell.c.region_id.in_(regions) if regions is not None
                      else cell.c.region_id == (base.region_id or ALL))
    if not (base.unit_id or base.industry_id or {"unit_id", "industry_id"} & set(by)):
        return stmt.where(cell.c.unit_id == ANY, cell.c.industry_id == ANY)
    stmt = stmt.where(cell.c.unit_id == base.unit_id if base.unit_id
                      else cell.c.unit_id != ANY)
    return stmt.where(cell.c.industry_id == base.industry_id if base.industry_id
                      else cell.c.industry_id != ANY)


# The measures summed (built once): as they are, or with the changes after a day
# taken away from today's cells.
_SUMS = tuple(func.sum(cell.c[m]) for m in MEASURES)
_SUMS_BACK = tuple(func.sum(case((cell.c.kind.in_((NOW, STAY)), 1), else_=-1) * cell.c[m])
                   for m in MEASURES)


def live(base: ProjectFilters, day: date, by: tuple, regions: list[int] | None = None,
         waiting: bool = False):
    """Rows of ``by`` + (n, cny, usd, major): the live pipeline on ``day`` (covered),
    "now" less the changes of the months after ``day``'s; ``waiting``: only its active
    signed, started and producing projects (the "stay" cells, by ``since``)."""
    now, changes = (STAY, STAY_LIVE) if waiting else (NOW, LIVE)
    if is_current(day):
        sums, when = _SUMS, cell.c.kind == now
    else:
        sums = _SUMS_BACK
        when = or_(cell.c.kind == now,
                   and_(cell.c.kind == changes, cell.c.month > month_key(day)))
    cols = [cell.c[c] for c in by]
    return _nonzero(db.session.execute(
        _narrow(select(*cols, *sums).where(when), base, by, regions).group_by(*cols)),
        len(by))


def reached(base: ProjectFilters, stage: str | None, since: date, until: date, by: tuple):
    """Rows of ``by`` + (n, cny, usd, major): the projects that reached ``stage`` (None:
    any) in the months from ``since``'s to ``until``'s (``until`` covered)."""
    cols = [cell.c[c] for c in by]
    stmt = select(*cols, *_SUMS).where(
        cell.c.kind == REACHED, cell.c.month.between(month_key(since), month_key(until)))
    if stage is not None:
        stmt = stmt.where(cell.c.stage == stage)
    return _nonzero(db.session.execute(_narrow(stmt, base, by).group_by(*cols)), len(by))


def _nonzero(rows, n_keys: int) -> list:
    """The groups that hold projects (cells that went back to zero hold none)."""
    return [r for r in rows if r[n_keys]]
