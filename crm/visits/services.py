"""Visit services: log and edit visits with their rules — dates, the duplicate-courting
warning, one visit per submitted form, follow-ups closed by the next visit (add and
flush, never commit)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError

from crm.clock import today as local_today
from crm.companies.services import get_or_create_company
from crm.errors import Conflict, RulesBroken, ServiceError
from crm.extensions import db
from crm.history import record_change, record_diff
from crm.lifecycle import N_, RuleError
from crm.models import VISIT_KIND_LABELS, Project, Unit, User, Visit, visit_project

EARLIEST = date(2000, 1, 1)
DUPLICATE_WINDOW_DAYS = 30

FIELD_LABELS = {
    "visited_on": N_("走访日期"), "kind": N_("方式"), "company": N_("投资方"),
    "projects": N_("涉及项目"), "city": N_("地点（城市）"), "leader": N_("带队领导"),
    "participants": N_("我方人员"), "people_met": N_("对方人员"), "purpose": N_("目的"),
    "outcome": N_("成效"), "next_steps": N_("下一步"), "follow_up_on": N_("跟进日期"),
    "trip": N_("外出招商"), "created": N_("创建"), "follow_up_done": N_("跟进完成"),
}


@dataclass
class VisitData:
    """A visit as submitted (ids not yet resolved)."""

    visited_on: date
    kind: str
    company_name: str
    project_ids: list[int] = field(default_factory=list)
    city: str = ""
    led_by_leader: bool = False
    leader_name: str = ""
    participant_ids: list[int] = field(default_factory=list)
    people_met: str = ""
    purpose: str = ""
    outcome: str = ""
    next_steps: str = ""
    follow_up_on: date | None = None
    trip_destination: str = ""
    trip_start: date | None = None
    trip_end: date | None = None


@dataclass
class CourtingWarning:
    """Another unit visited the same company recently."""

    unit: str
    visited_on: date
    by: str


class NeedsConfirmation(ServiceError):
    """The visit may be saved only once the user has seen these warnings."""

    def __init__(self, warnings: list[CourtingWarning]):
        super().__init__("duplicate courting")
        self.warnings = warnings


def recent_visits_by_other_units(company_id: int, unit_id: int | None,
                                 day: date) -> list[CourtingWarning]:
    """Visits to the company by other units in the 30 days up to ``day``, newest first."""
    rows = db.session.execute(
        select(Unit.name, Visit.visited_on, User.display_name)
        .join(Unit, Visit.unit_id == Unit.id)
        .outerjoin(User, Visit.created_by_id == User.id)
        .where(Visit.company_id == company_id,
               Visit.visited_on >= day - timedelta(days=DUPLICATE_WINDOW_DAYS),
               Visit.visited_on <= day,
               Visit.unit_id != unit_id if unit_id else Visit.unit_id.is_not(None))
        .order_by(Visit.visited_on.desc()).limit(5)).all()
    return [CourtingWarning(unit, on, by or "") for unit, on, by in rows]


def _snapshot(visit: Visit) -> dict[str, str]:
    trip = ""
    if visit.trip_destination:
        trip = f"{visit.trip_destination} {visit.trip_start or ''}~{visit.trip_end or ''}"
    return {
        "visited_on": str(visit.visited_on or ""), "kind": VISIT_KIND_LABELS.get(visit.kind, ""),
        "company": visit.company.name if visit.company else "",
        "projects": "、".join(p.name for p in visit.projects), "city": visit.city,
        "leader": visit.leader_name if visit.led_by_leader else "",
        "participants": "、".join(u.display_name for u in visit.participants),
        "people_met": visit.people_met, "purpose": visit.purpose, "outcome": visit.outcome,
        "next_steps": visit.next_steps, "follow_up_on": str(visit.follow_up_on or ""),
        "trip": trip,
    }


def _check(data: VisitData, today: date) -> list[RuleError]:
    errors = []
    if data.visited_on > today:
        errors.append(RuleError("visited_on", N_("走访日期：不能晚于今天")))
    if data.visited_on < EARLIEST:
        errors.append(RuleError("visited_on", N_("走访日期：不能早于 2000 年")))
    if data.follow_up_on and data.follow_up_on < data.visited_on:
        errors.append(RuleError("follow_up_on", N_("跟进日期：不能早于走访日期")))
    if data.kind not in VISIT_KIND_LABELS:
        errors.append(RuleError("kind", N_("方式：无效的选择")))
    if not (data.company_name or "").strip():
        errors.append(RuleError("company_name", N_("投资方：请填写")))
    if data.led_by_leader and not data.leader_name.strip():
        errors.append(RuleError("leader_name", N_("带队领导：领导带队时请填写姓名")))
    has_trip = bool(data.trip_destination.strip() or data.trip_start or data.trip_end)
    if has_trip:
        if not (data.trip_destination.strip() and data.trip_start and data.trip_end):
            errors.append(RuleError("trip_destination",
                                    N_("外出招商：请填写目的地、出发和返回日期")))
        elif data.trip_end < data.trip_start:
            errors.append(RuleError("trip_end", N_("返回日期：不能早于出发日期")))
        elif not data.trip_start <= data.visited_on <= data.trip_end:
            errors.append(RuleError("trip_start", N_("外出招商：走访日期应在出差期间内")))
    return errors


def _apply(visit: Visit, data: VisitData, today: date) -> None:
    errors = _check(data, today)
    projects = db.session.scalars(select(Project).where(
        Project.id.in_(set(data.project_ids)))).all() if data.project_ids else []
    if len(projects) != len(set(data.project_ids)):
        errors.append(RuleError("project_ids", N_("涉及项目：无效的选择")))
    participants = db.session.scalars(select(User).where(
        User.id.in_(set(data.participant_ids)), User.active.is_(True))).all() \
        if data.participant_ids else []
    if len(participants) != len(set(data.participant_ids)):
        errors.append(RuleError("participant_ids", N_("我方人员：无效的选择")))
    if errors:
        raise RulesBroken(errors)
    visit.company = get_or_create_company(data.company_name)
    visit.visited_on, visit.kind = data.visited_on, data.kind
    visit.projects, visit.participants = list(projects), list(participants)
    visit.city = data.city.strip()
    visit.led_by_leader = data.led_by_leader
    visit.leader_name = data.leader_name.strip() if data.led_by_leader else ""
    visit.people_met, visit.purpose = data.people_met.strip(), data.purpose.strip()
    visit.outcome, visit.next_steps = data.outcome.strip(), data.next_steps.strip()
    visit.follow_up_on = data.follow_up_on
    visit.trip_destination = data.trip_destination.strip()
    visit.trip_start = data.trip_start if visit.trip_destination else None
    visit.trip_end = data.trip_end if visit.trip_destination else None


def log_visit(data: VisitData, user: User, idempotency_key: str | None = None,
              confirmed: bool = False, today: date | None = None) -> Visit:
    """Log a visit for the user's unit. The same ``idempotency_key`` returns the visit
    already stored; another unit's recent visit to the company needs ``confirmed``."""
    today = today or local_today()
    if idempotency_key:
        existing = db.session.scalar(select(Visit).where(
            Visit.idempotency_key == idempotency_key))
        if existing is not None:
            return existing
    visit = Visit(unit_id=user.unit_id, created_by_id=user.id,
                  idempotency_key=idempotency_key or None)
    with db.session.no_autoflush:
        _apply(visit, data, today)
    if not confirmed and visit.company.id:
        warnings = recent_visits_by_other_units(visit.company.id, user.unit_id,
                                                data.visited_on)
        if warnings:
            raise NeedsConfirmation(warnings)
    try:
        with db.session.begin_nested():
            db.session.add(visit)
    except IntegrityError:
        # The same form was submitted twice at once: the other request stored it.
        existing = db.session.scalar(select(Visit).where(
            Visit.idempotency_key == idempotency_key))
        if existing is None:
            raise
        return existing
    _close_follow_ups(visit)
    record_change("visit", visit.id, "created", "", visit.company.name, user)
    db.session.flush()
    sync_last_visit([p.id for p in visit.projects], visited_on=visit.visited_on)
    return visit


def sync_last_visit(project_ids: list[int] | None, visited_on: date | None = None) -> None:
    """Bring ``Project.last_visit_on`` up to date for ``project_ids`` (None: every
    project): with a new visit on ``visited_on``, the later of the two dates (a
    comparison on the row itself, so two visits stored at once both count); else the
    latest linked visit, recounted. A plain UPDATE: the projects' versions (edit
    conflicts) stay as they are."""
    if project_ids is not None and not project_ids:
        return
    project = Project.__table__
    if visited_on is not None:
        value = case((project.c.last_visit_on >= visited_on, project.c.last_visit_on),
                     else_=visited_on)
    else:
        value = (select(func.max(Visit.visited_on))
                 .join(visit_project, visit_project.c.visit_id == Visit.id)
                 .where(visit_project.c.project_id == project.c.id).scalar_subquery())
    stmt = update(project).values(last_visit_on=value)
    if project_ids is not None:
        stmt = stmt.where(project.c.id.in_(sorted(set(project_ids))))
    db.session.execute(stmt)


def _close_follow_ups(visit: Visit) -> None:
    """The next visit to a company by the same unit completes that unit's open
    follow-ups with the company. One UPDATE, its condition checked again on the row:
    two visits logged at once both complete them, neither fails on the other's version
    (each completed visit's version moves on, so an edit begun before is refused)."""
    db.session.execute(
        update(Visit).where(
            Visit.company_id == visit.company_id, Visit.unit_id == visit.unit_id,
            Visit.id != visit.id, Visit.follow_up_on.is_not(None),
            Visit.follow_up_done_on.is_(None), Visit.visited_on <= visit.visited_on)
        .values(follow_up_done_on=visit.visited_on, version=Visit.version + 1)
        .execution_options(synchronize_session="fetch"))


def update_visit(visit: Visit, data: VisitData, user: User,
                 expected_version: int | None, today: date | None = None) -> list[str]:
    """Edit a visit; each changed field goes to the history."""
    if expected_version is not None and expected_version != visit.version:
        raise Conflict()
    before, linked = _snapshot(visit), [p.id for p in visit.projects]
    with db.session.no_autoflush:
        _apply(visit, data, today or local_today())
    changed = record_diff("visit", visit.id, before, _snapshot(visit), user)
    db.session.flush()
    sync_last_visit(linked + [p.id for p in visit.projects])
    return changed


def complete_follow_up(visit: Visit, user: User, today: date | None = None) -> None:
    """Mark a visit's follow-up as done."""
    if visit.follow_up_on is None or visit.follow_up_done_on is not None:
        raise RulesBroken([RuleError("follow_up_on", N_("跟进日期：没有待办的跟进"))])
    visit.follow_up_done_on = today or local_today()
    record_change("visit", visit.id, "follow_up_done", "", str(visit.follow_up_done_on), user)
    db.session.flush()

