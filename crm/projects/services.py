"""Project services: create, edit, advance, correct, hold/drop/resume.

Each change is checked against crm/lifecycle.py, recorded in the stage or change
history in the same transaction, and guarded by the project's version number.
Services add and flush, never commit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from crm import lifecycle
from crm.clock import today as local_today
from crm.companies.services import get_or_create_companies, get_or_create_company
from crm.errors import Conflict, RulesBroken
from crm.extensions import db, driver_executemany
from crm.dashboard import cube
from crm.history import record_change, record_diff, record_many
from crm.i18n import amount_text, format_number
from crm.lifecycle import N_, PartialDate, RuleError
from crm.projects import search
from crm.visits.services import sync_last_visit
from crm.models import (ADMIN, CNY, CURRENCIES, OFFICER, Company, Industry, Project,
                        Region, StageChange, Unit, User, Visit, project_region)
from crm.text import normalize

# Fields shown in the change history, with their labels.
WHOLE_YUAN = Decimal("0.0001")   # of 万: amounts are kept to the 元 / 美元

FIELD_LABELS = {
    "name": N_("项目名称"), "company": N_("投资方"), "regions": N_("来源地"),
    "industry": N_("产业类别"), "content": N_("建设内容"), "capacity": N_("产能"),
    "investment": N_("总投资"), "land_area": N_("用地面积（亩）"), "unit": N_("责任单位"),
    "leader_name": N_("挂钩领导"), "officer": N_("招商责任人"), "notes": N_("备注"),
    "status": N_("项目状态"), "created": N_("创建项目"),
    "issue": N_("需协调事项"), "issue_closed": N_("需协调事项销号"),
    "instruction": N_("领导批示"), "instruction_ack": N_("批示已阅"),
    "partial_production": N_("部分投产"),
    **{f: lifecycle.MILESTONE_LABELS[s] for s, f in lifecycle.MILESTONE_FIELDS.items()},
}


@dataclass
class ProjectData:
    """A project's editable details as submitted (ids not yet resolved)."""

    name: str
    company_name: str = ""
    region_ids: list[int] = field(default_factory=list)
    industry_id: int | None = None
    content: str = ""
    capacity_value: Decimal | None = None
    capacity_unit: str = ""
    investment_amount: Decimal | None = None   # in 万 of the currency
    investment_currency: str = CNY
    land_area: Decimal | None = None
    unit_id: int | None = None
    leader_name: str = ""
    officer_id: int | None = None
    notes: str = ""


def project_data(project: Project) -> ProjectData:
    """Return a project's current details as service input."""
    return ProjectData(
        name=project.name, company_name=project.company.name if project.company else "",
        region_ids=[r.id for r in project.regions], industry_id=project.industry_id,
        content=project.content or "", capacity_value=project.capacity_value,
        capacity_unit=project.capacity_unit or "",
        investment_amount=project.investment_amount,
        investment_currency=project.investment_currency or CNY,
        land_area=project.land_area, unit_id=project.unit_id,
        leader_name=project.leader_name or "", officer_id=project.officer_id,
        notes=project.notes or "")


def snapshot(project: Project) -> dict[str, str]:
    """Return the project's tracked fields as display text, for the change history."""
    capacity = ""
    if project.capacity_value is not None:
        capacity = f"{format_number(project.capacity_value)} {project.capacity_unit}".strip()
    return {
        "name": project.name,
        "company": project.company.name if project.company else "",
        "regions": "、".join(r.name for r in project.regions),
        "industry": project.industry.name if project.industry else "",
        "content": project.content or "",
        "capacity": capacity,
        "investment": amount_text(project.investment_amount, project.investment_currency),
        "land_area": format_number(project.land_area),
        "unit": project.unit.name if project.unit else "",
        "leader_name": project.leader_name or "",
        "officer": project.officer.display_name if project.officer else "",
        "notes": project.notes or "",
    }


def gate_values(project: Project) -> dict[str, object]:
    """The values the lifecycle's signing gate looks at."""
    return {"company": project.company_id or project.company,
            "investment": project.investment_amount is not None,
            "industry": project.industry_id or project.industry,
            "regions": bool(project.regions),
            "unit": project.unit_id or project.unit}


def _record(project: Project, user: User | None, field_name: str, old: str, new: str):
    record_change("project", project.id, field_name, old, new, user, project.id)


def _check_version(project: Project, expected: int | None) -> None:
    if expected is not None and int(expected) != project.version:
        raise Conflict()


def _apply(project: Project, data: ProjectData, user: User | None,
           companies: dict[str, Company] | None = None,
           records: dict[tuple, object] | None = None) -> None:
    """Resolve ids and copy ``data`` onto ``project``; raise RulesBroken on bad ids.
    ``companies`` (by normalised name) and ``records`` (every record the projects name,
    by model and id) spare the lookups of each project in a bulk create."""
    errors: list[RuleError] = []
    get = db.session.get if records is None else (lambda model, ident: records.get(
        (model, ident)))

    def lookup(model, ident, field_name, label):
        if not ident:
            return None
        obj = get(model, ident)
        if obj is None:
            errors.append(RuleError(field_name, N_("%(field)s：无效的选择"), {"field": label}))
        return obj

    industry = lookup(Industry, data.industry_id, "industry_id", FIELD_LABELS["industry"])
    unit = lookup(Unit, data.unit_id, "unit_id", FIELD_LABELS["unit"])
    officer = lookup(User, data.officer_id, "officer_id", FIELD_LABELS["officer"])
    regions = [get(Region, rid) for rid in dict.fromkeys(data.region_ids or ())]
    if None in regions:
        regions = [r for r in regions if r is not None]
        errors.append(RuleError("region_ids", N_("%(field)s：无效的选择"),
                                {"field": FIELD_LABELS["regions"]}))
    if data.investment_currency not in CURRENCIES:
        errors.append(RuleError("investment_unit", N_("%(field)s：无效的选择"),
                                {"field": N_("金额单位")}))
    amount = data.investment_amount
    if amount is not None and amount != amount.quantize(WHOLE_YUAN):
        # Amounts are kept in 万 with four decimals: to the 元 (or 美元).
        errors.append(RuleError("investment_value", N_("%(field)s：最多精确到元"),
                                {"field": FIELD_LABELS["investment"]}))
    if user is not None and user.role == OFFICER and (unit is None or unit.id != user.unit_id):
        errors.append(RuleError("unit_id", N_("%(field)s：只能选择本单位"),
                                {"field": FIELD_LABELS["unit"]}))
    if errors:
        raise RulesBroken(errors)

    # Before any attribute changes: creating a company flushes (savepoint), and one
    # save should be one UPDATE of the project.
    key = normalize(data.company_name)
    company = (companies[key] if companies is not None and key in companies
               else get_or_create_company(data.company_name))
    assign_details(project, data, company, regions, industry, unit, officer)
    missing = lifecycle.missing_for_stage(project.stage, gate_values(project))
    if missing:
        raise RulesBroken(missing)


def assign_details(project: Project, data: ProjectData, company, regions, industry, unit,
                   officer) -> None:
    """Copy ``data`` with its resolved records onto ``project`` (no checks: _apply's
    job; the import also fills a plain stand-in this way to preview a change)."""
    project.name = data.name.strip()
    project.company = company
    # (A region the import would create has no id or place yet: shown first.)
    project.regions = sorted(regions, key=lambda r: (r.sort_order or 0, r.id or 0))
    project.industry = industry
    project.content = data.content or ""
    project.capacity_value = data.capacity_value
    project.capacity_unit = (data.capacity_unit or "").strip()
    project.investment_amount = data.investment_amount
    project.investment_currency = data.investment_currency
    project.land_area = data.land_area
    project.unit = unit
    project.leader_name = (data.leader_name or "").strip()
    project.officer = officer
    project.notes = data.notes or ""
    project.search_text = search.search_text(project.name, company.name if company else "")


def _by_ids(model, ids: set) -> list:
    """The records of ``model`` with these ids (None ignored), 500 to a query."""
    ids = sorted(i for i in ids if i is not None)
    return [obj for i in range(0, len(ids), 500)
            for obj in db.session.scalars(select(model).where(model.id.in_(ids[i:i + 500])))]


def _next_code_number(year: int) -> tuple[str, int]:
    """The code prefix of ``year`` and the next free number under it."""
    prefix = f"P{year}-"
    last = db.session.scalar(select(func.max(Project.code)).where(
        Project.code.like(prefix + "%")))
    number = int(last[len(prefix):]) + 1 if last and last[len(prefix):].isdigit() else 1
    return prefix, number


def next_project_code(year: int) -> str:
    """Return the next free project code of ``year``: P2026-0001, P2026-0002 …"""
    prefix, number = _next_code_number(year)
    return f"{prefix}{number:04d}"


CODE_ATTEMPTS = 20     # tries at a free code when others take the next ones meanwhile


def create_project(data: ProjectData, user: User | None,
                   from_visit: int | None = None) -> Project:
    """Create a lead project from ``data``; it starts at 在谈. ``from_visit`` names the
    visit it came from, which is then linked to the project."""
    visit = None
    if from_visit is not None:
        visit = db.session.get(Visit, from_visit)
        if visit is None:
            raise RulesBroken([RuleError("from_visit", N_("来源走访：不存在"))])
    project = Project(stage=lifecycle.LEAD, status=lifecycle.ACTIVE,
                      created_by_id=user.id if user else None)
    with db.session.no_autoflush:
        _apply(project, data, user)
    year = local_today().year
    # Two people creating at once may both compute the same next code; the unique
    # constraint refuses the second, which then takes the following number.
    for attempt in range(CODE_ATTEMPTS):
        project.code = next_project_code(year)
        try:
            with db.session.begin_nested():
                db.session.add(project)
        except IntegrityError:
            if attempt == CODE_ATTEMPTS - 1:
                raise
            continue
        break
    search.sync_tokens(project.id, project.search_text)
    _record(project, user, "created", "", project.code)
    if visit is not None:
        before = "、".join(p.name for p in visit.projects)
        visit.projects.append(project)
        record_change("visit", visit.id, "projects", before,
                      "、".join(p.name for p in visit.projects), user)
    db.session.flush()
    if visit is not None:
        sync_last_visit([project.id], visited_on=visit.visited_on)
    return project


@dataclass
class NewProject:
    """One project of a bulk create (the ledger import): its details and where it stands."""

    data: ProjectData
    stage: str = lifecycle.LEAD
    dates: dict[str, PartialDate] = field(default_factory=dict)
    partial_production: bool = False


_MILESTONE_COLUMNS = tuple(f + suffix for f in lifecycle.MILESTONE_FIELDS.values()
                           for suffix in ("", "_precision"))
# The columns a bulk create writes from a checked project (the rest, name_key among them,
# take their defaults).
_BULK_COLUMNS = ("code", "name", "content", "capacity_value", "capacity_unit",
                 "investment_amount", "investment_currency", "land_area", "leader_name",
                 "notes", "search_text", "stage", "status", "partial_production",
                 "created_by_id", *_MILESTONE_COLUMNS)
_BULK_RELATIONS = ("company", "industry", "unit", "officer")


class _Unsaved(SimpleNamespace):
    """A bulk create's project before its insert, filled and checked by the code that
    fills and checks a Project (_apply, _move_forward), without the ORM's attribute
    bookkeeping: a transient Project for each row cost more than its inserts."""

    milestone = Project.milestone
    set_milestone = Project.set_milestone
    milestones = Project.milestones


def create_projects(items: list[NewProject], user: User | None, note: str = "",
                    today: date | None = None) -> list[tuple[int, str]]:
    """Create many projects at once (the ledger import): each checked as create_project
    and advance_stage check one and recorded in the same histories, but written as a
    few bulk inserts per 1,000 projects and one pass of the dashboard's running totals
    instead of a flush of objects (10,000 projects: seconds, not a minute). Returns
    (id, code) of each, in order. Codes are numbered on from the year's last; when
    someone else took some of them meanwhile (PostgreSQL: a project saved after the
    last code was read), the unique constraint refuses the batch, which is rolled back
    to its savepoint and inserted again numbered after theirs."""
    today = today or local_today()
    companies = get_or_create_companies([i.data.company_name for i in items])
    # The records the rows name, read once for _apply's lookups.
    records = {(model, obj.id): obj for model, ids in (
        (Industry, {i.data.industry_id for i in items}), (Unit, {i.data.unit_id for i in items}),
        (User, {i.data.officer_id for i in items}),
        (Region, {rid for i in items for rid in i.data.region_ids or ()}))
        for obj in _by_ids(model, ids)}
    prefix, number = _next_code_number(today.year)
    made = []
    for start in range(0, len(items), BULK_BATCH):
        batch = items[start:start + BULK_BATCH]
        for attempt in range(CODE_ATTEMPTS):
            try:
                with db.session.begin_nested():
                    made += _insert_projects(batch, user, note, today, prefix, number,
                                             companies, records)
                break
            except IntegrityError:
                fresh = _next_code_number(today.year)[1]
                if fresh <= number or attempt == CODE_ATTEMPTS - 1:
                    raise       # not a code taken meanwhile
                number = fresh
        number += len(batch)
    cube.count_new(db.session.connection(), [pid for pid, _code in made])
    return made


BULK_BATCH = 1000       # projects per round of inserts: the memory of one batch


def _insert_projects(items: list[NewProject], user: User | None, note: str, today: date,
                     prefix: str, number: int, companies: dict[str, Company],
                     records: dict[tuple, object]) -> list[tuple[int, str]]:
    """Check and insert one batch of create_projects (codes from ``number`` on)."""
    rows, regions, moves = [], [], []
    with db.session.no_autoflush:
        for item in items:
            project = _Unsaved(stage=lifecycle.LEAD, status=lifecycle.ACTIVE,
                               created_by_id=user.id if user else None,
                               code=f"{prefix}{number:04d}", partial_production=False,
                               company_id=None, industry_id=None, unit_id=None,
                               **dict.fromkeys(_MILESTONE_COLUMNS))
            number += 1
            _apply(project, item.data, user, companies, records)
            passed = []
            if item.stage != lifecycle.LEAD:
                errors = lifecycle.check_advance(lifecycle.LEAD, item.stage, project.milestones,
                                                 item.dates, gate_values(project), today)
                if errors:
                    raise RulesBroken(errors)
                passed = _move_forward(project, item.stage, item.dates, user, note,
                                       item.partial_production)
            row = {key: getattr(project, key) for key in _BULK_COLUMNS}
            row.update((f"{rel}_id", getattr(getattr(project, rel), "id", None))
                       for rel in _BULK_RELATIONS)
            rows.append(row)
            regions.append([r.id for r in project.regions])
            moves.append(passed)
    # A plain executemany (no RETURNING: SQLAlchemy's sorted RETURNING costs more than
    # the insert), then the new ids by their codes.
    db.session.execute(insert(Project.__table__), rows)
    codes = [row["code"] for row in rows]
    id_of = {}
    for i in range(0, len(codes), 500):
        id_of.update((code, pid) for pid, code in db.session.execute(
            select(Project.id, Project.code).where(Project.code.in_(codes[i:i + 500]))))
    ids = [id_of[code] for code in codes]
    driver_executemany(db.session.connection(), insert(project_region),
                       ("project_id", "region_id"),
                       ((pid, rid) for pid, rids in zip(ids, regions) for rid in rids))
    stage_rows = [{**move, "project_id": pid} for pid, passed in zip(ids, moves)
                  for move in passed]
    if stage_rows:
        db.session.execute(insert(StageChange.__table__), stage_rows)
    search.insert_tokens([(pid, row["search_text"]) for pid, row in zip(ids, rows)])
    record_many("project", "created", [(pid, "", code, pid) for pid, code in zip(ids, codes)],
                user)
    return list(zip(ids, codes))


def update_project(project: Project, data: ProjectData, user: User | None,
                   expected_version: int | None) -> list[str]:
    """Apply edited details; record each changed field; return the changed field names."""
    _check_version(project, expected_version)
    before, indexed = snapshot(project), project.search_text
    with db.session.no_autoflush:
        _apply(project, data, user)
    if project.search_text != indexed:
        search.sync_tokens(project.id, project.search_text)
    after = snapshot(project)
    changed = record_diff("project", project.id, before, after, user, project.id)
    db.session.flush()
    return changed


def advance_stage(project: Project, target: str, dates: dict[str, PartialDate],
                  user: User | None, expected_version: int | None, note: str = "",
                  partial_production: bool = False, today: date | None = None,
                  data: ProjectData | None = None) -> None:
    """Move ``project`` forward to ``target``, recording one history entry per stage
    passed. ``data``, when given, first updates the details the gate needs."""
    _check_version(project, expected_version)
    if project.status != lifecycle.ACTIVE:
        raise RulesBroken([RuleError("stage", N_("目标阶段：暂缓或终止的项目请先恢复推进"))])
    if data is not None:
        update_project(project, data, user, None)
    today = today or local_today()
    errors = lifecycle.check_advance(project.stage, target, project.milestones, dates,
                                     gate_values(project), today)
    if errors:
        raise RulesBroken(errors)
    for move in _move_forward(project, target, dates, user, note, partial_production):
        db.session.add(StageChange(project=project, **move))
    db.session.flush()


def _move_forward(project: Project, target: str, dates: dict[str, PartialDate],
                  user: User | None, note: str, partial_production: bool) -> list[dict]:
    """Set the milestones of the stages passed on the way to ``target`` (checked by the
    caller); returns one stage history entry for each (a StageChange's columns, to
    add or to insert in bulk)."""
    current = project.stage
    passed = lifecycle.STAGES[lifecycle.stage_index(current) + 1:
                              lifecycle.stage_index(target) + 1]
    moves = []
    for stage in passed:
        project.set_milestone(stage, dates[stage])
        moves.append({"user_id": user.id if user else None, "from_stage": current,
                      "to_stage": stage, "milestone_on": dates[stage].value,
                      "milestone_precision": dates[stage].precision, "note": note or ""})
        current = stage
    project.stage = target
    project.partial_production = (
        partial_production and target == lifecycle.PRODUCING)
    return moves


def correct_milestones(project: Project, dates: dict[str, PartialDate], user: User | None,
                       today: date | None = None) -> list[str]:
    """Change the dates of milestones the project has already reached (a date learned
    more precisely, or a mistake put right), recording each; return the changed stages."""
    merged = dict(project.milestones)
    errors = [RuleError(lifecycle.MILESTONE_FIELDS[s], N_("%(field)s：请填写"),
                        {"field": lifecycle.MILESTONE_LABELS[s]})
              for s in dates if merged.get(s) is None or dates[s] is None]
    merged.update(dates)
    errors += lifecycle.check_milestone_order(merged, today or local_today())
    if errors:
        raise RulesBroken(errors)
    changed = [s for s, d in dates.items() if project.milestone(s) != d]
    for s in changed:
        _record(project, user, lifecycle.MILESTONE_FIELDS[s], str(project.milestone(s)),
                str(dates[s]))
        project.set_milestone(s, dates[s])
    db.session.flush()
    return changed


def correct_stage(project: Project, target: str, reason: str, user: User,
                  expected_version: int | None) -> None:
    """Move ``project`` back to ``target`` (admin correction), clearing later milestones."""
    _check_version(project, expected_version)
    if user.role != ADMIN:
        raise RulesBroken([RuleError("stage", N_("目标阶段：只有管理员可以退回阶段"))])
    errors = lifecycle.check_correction(project.stage, target, reason)
    if errors:
        raise RulesBroken(errors)
    db.session.add(StageChange(project_id=project.id, user_id=user.id,
                               from_stage=project.stage, to_stage=target,
                               note=reason.strip(), correction=True))
    for stage in lifecycle.stages_cleared_by_correction(target):
        project.set_milestone(stage, None)
    project.stage = target
    if lifecycle.stage_index(target) < lifecycle.stage_index(lifecycle.PRODUCING):
        project.partial_production = False
    db.session.flush()


def set_status(project: Project, status: str, reason: str, on: PartialDate | None,
               user: User | None, expected_version: int | None,
               today: date | None = None) -> None:
    """Put a project on hold, drop it, or resume it; hold and drop need reason and date."""
    _check_version(project, expected_version)
    today = today or local_today()
    errors = []
    if status not in lifecycle.STATUSES:
        errors.append(RuleError("status", N_("状态：无效的选择")))
    elif status == project.status:
        errors.append(RuleError("status", N_("状态：项目已经是这个状态")))
    if status in (lifecycle.ON_HOLD, lifecycle.DROPPED):
        if not (reason or "").strip():
            errors.append(RuleError("reason", N_("原因：暂缓或终止必须填写原因")))
        if on is None:
            errors.append(RuleError("status_on", N_("日期：请填写")))
        elif lifecycle.is_future(on, today):
            errors.append(RuleError("status_on", N_("日期：不能晚于今天")))
    if errors:
        raise RulesBroken(errors)
    old = lifecycle.STATUS_LABELS[project.status]
    project.status = status
    project.status_reason = (reason or "").strip()
    project.status_on = on.value if on and status != lifecycle.ACTIVE else (
        today if status == lifecycle.ACTIVE else None)
    new = lifecycle.STATUS_LABELS[status] + (
        f"：{project.status_reason}" if project.status_reason else "")
    _record(project, user, "status", old, new)
    db.session.flush()
