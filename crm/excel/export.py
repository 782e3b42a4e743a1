"""The ledger's rows from the database: the projects the list's filters select, in the
list's order, read as plain rows in batches (a fixed number of queries per 1,000
projects); as they stand, or for the monthly report as they stood at the end of a day."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import Row, Select, select

from crm import lifecycle
from crm.coordination.queries import issue_open_condition
from crm.excel.columns import (AMOUNT_UNITS, CELL_MAX, CNY_UNIT, ISSUE_SEPARATOR,
                               PARTIAL_PRODUCTION, STAGE_WORDS, STATUS_WORDS, USD_UNIT)
from crm.extensions import db
from crm.lifecycle import DAY, PartialDate
from crm.models import (USD, WAN_PER_YI, Company, CoordinationIssue, Industry, Project, Region,
                        Unit, User, project_region)
from crm.projects.queries import DEFAULT_SORT, ProjectFilters, apply_filters, order_by
from crm.reference.queries import industries_stmt, units_stmt

BATCH = 1000

_MILESTONE_COLUMNS = [getattr(Project, f + suffix) for f in lifecycle.MILESTONE_FIELDS.values()
                      for suffix in ("", "_precision")]


def ledger_stmt(filters: ProjectFilters, sort: str = DEFAULT_SORT) -> Select:
    """The ledger's columns of the projects ``filters`` select, in the list's ``sort``:
    plain rows with the investor, industry, unit and officer joined (one each), read
    ~10× faster than Project objects with their relations (100,000 rows: 3.6 s, not 32 s).
    Region tags and issues come per batch (``ledger_batches``); ``ledger_row`` unpacks
    the columns in this order."""
    stmt = (select(Project.id, Project.code, Project.name, Company.name.label("company"),
                   Industry.name.label("industry"), Project.investment_amount,
                   Project.investment_currency, Project.content, Project.stage,
                   Project.status, Project.status_on, Project.partial_production,
                   *_MILESTONE_COLUMNS, Unit.name.label("unit"), Project.leader_name,
                   User.display_name.label("officer"), Project.notes)
            .select_from(Project)
            .outerjoin(Company, Company.id == Project.company_id)
            .outerjoin(Industry, Industry.id == Project.industry_id)
            .outerjoin(Unit, Unit.id == Project.unit_id)
            .outerjoin(User, User.id == Project.officer_id))
    return apply_filters(stmt, filters).order_by(*order_by(sort))


def _region_names() -> dict[int, tuple[tuple, str]]:
    """Every region tag's (order, name) by id: read once per export, so a batch's tags
    are read as plain id pairs (the join and sort per batch cost more)."""
    return {rid: ((order, rid), name) for rid, order, name in db.session.execute(
        select(Region.id, Region.sort_order, Region.name))}


def _regions(project_ids: list[int], names: dict[int, tuple[tuple, str]]
             ) -> dict[int, list[str]]:
    """The region tags' names of these projects, in the regions' order (the pairs
    fetched at once, not row by row as iterating the result would)."""
    tags: dict[int, list[tuple[tuple, str]]] = {}
    for pid, rid in db.session.execute(
            select(project_region.c.project_id, project_region.c.region_id)
            .where(project_region.c.project_id.in_(project_ids))).all():
        tags.setdefault(pid, []).append(names[rid])
    return {pid: [name for _order, name in sorted(found)] for pid, found in tags.items()}


def open_issue_texts(project_ids: list[int], as_of: date | None = None
                     ) -> dict[int, list[str]]:
    """The open coordination issues' texts of these projects, oldest first (the
    ledger's 存在问题; the import compares with them)."""
    out: dict[int, list[str]] = {}
    for pid, text in db.session.execute(
            select(CoordinationIssue.project_id, CoordinationIssue.description)
            .where(CoordinationIssue.project_id.in_(project_ids),
                   issue_open_condition(as_of))
            .order_by(CoordinationIssue.raised_on, CoordinationIssue.id)).all():
        out.setdefault(pid, []).append(text)
    return out


def ledger_batches(stmt: Select, as_of: date | None = None, issues: bool = True
                   ) -> Iterator[tuple[list[Row], dict[int, list[str]], dict[int, list[str]]]]:
    """The rows of a ``ledger_stmt`` in batches of BATCH, each with its projects' region
    names and (unless ``issues`` is false) the issues open today or at ``as_of``."""
    names = _region_names()
    result = db.session.execute(stmt.execution_options(yield_per=BATCH))
    for batch in result.partitions():
        ids = [p.id for p in batch]
        yield batch, _regions(ids, names), open_issue_texts(ids, as_of) if issues else {}


@lru_cache(maxsize=8192)
def _partial(day: date, precision: str | None) -> PartialDate:
    """A stored milestone as a PartialDate (immutable, so shared: a ledger of 100,000
    projects holds a few thousand distinct dates)."""
    return PartialDate(day, precision or DAY)


_DATED_STAGES = tuple(lifecycle.MILESTONE_FIELDS)


def _dates(stored: Sequence, until: date | None) -> dict[str, PartialDate | None]:
    """Milestones by stage from their stored (day, precision, day, precision, …) in
    MILESTONE_FIELDS order; those after ``until``, when given, as None."""
    return {s: None if day is None or (until is not None and day > until) else
            _partial(day, precision)
            for s, day, precision in zip(_DATED_STAGES, stored[::2], stored[1::2])}


def milestones(p: Row, until: date | None = None) -> dict[str, PartialDate | None]:
    """A ledger row's milestone dates with their precision, by stage (those after
    ``until``, when given, as None: not reached yet)."""
    return _dates([getattr(p, c.key) for c in _MILESTONE_COLUMNS], until)


def status_on(status: str, since: date | None, day: date) -> str:
    """A project's status at the end of ``day``, from its current ``status`` (set on
    ``since``): a hold or drop dated later had not happened yet. (Only the current
    status is stored: a project on hold before it was dropped later shows as 正常推进
    on a day in between.)"""
    if status != lifecycle.ACTIVE and since is not None and since > day:
        return lifecycle.ACTIVE
    return status


def amount_cells(amount: Decimal | None, currency: str | None) -> tuple:
    """(amount, unit) as the ledger writes them: 亿元 for CNY, 万美元 for USD."""
    if amount is None:
        return None, ""
    if currency == USD:
        return amount, USD_UNIT
    return amount / WAN_PER_YI, CNY_UNIT


_STAGE_WORDS = {s: str(label) for s, label in lifecycle.STAGE_LABELS.items()}
_STATUS_WORDS = {s: str(label) for s, label in lifecycle.STATUS_LABELS.items()}


def ledger_row(serial: int, p: Row, regions: list[str], issues: list[str],
               as_of: date | None = None) -> list:
    """One ``ledger_stmt`` row as a ledger row (crm/excel/columns.py order): as it
    stands, or at the end of ``as_of`` (its stage and status then; later milestones
    left blank)."""
    # Unpacked in ledger_stmt's column order: ~20 named lookups on each of 100,000
    # rows cost a second.
    (_id, code, name, company, industry, amount, currency, content, stage, status,
     since, partial, *stored, unit, leader, officer, notes) = p
    dates = _dates(stored, as_of)
    if as_of is not None:
        stage, status = lifecycle.stage_on(dates, as_of), status_on(status, since, as_of)
    stage_word = _STAGE_WORDS[stage]
    if stage == lifecycle.PRODUCING and partial:
        stage_word = PARTIAL_PRODUCTION
    return [serial, code, name, company or "", "、".join(regions), industry or "",
            *amount_cells(amount, currency), content, stage_word, _STATUS_WORDS[status],
            *dates.values(), unit or "", leader, officer or "", issues_cell(issues), notes]


def issues_cell(issues: list[str]) -> str:
    """存在问题: the open issues joined, as many whole ones as an Excel cell holds (a cut
    one would come back from a re-import as a new issue)."""
    text = ISSUE_SEPARATOR.join(issues)
    if len(text) <= CELL_MAX:
        return text
    text = ""
    for issue in issues:
        joined = f"{text}{ISSUE_SEPARATOR}{issue}" if text else issue
        if len(joined) > CELL_MAX:
            break
        text = joined
    return text


def ledger_rows(filters: ProjectFilters, sort: str = DEFAULT_SORT,
                as_of: date | None = None) -> Iterator[list]:
    """The ledger rows of the projects ``filters`` select, in the list's ``sort``: as
    they stand, or at the end of ``as_of`` (with the issues open then)."""
    serial = 0
    for batch, regions, issues in ledger_batches(ledger_stmt(filters, sort), as_of):
        for p in batch:
            serial += 1
            yield ledger_row(serial, p, regions.get(p.id, []), issues.get(p.id, []), as_of)


def template_choices() -> dict[str, list[str]]:
    """The template's drop-down lists: column key → the words it accepts (the active
    units and industries in display order)."""
    return {"industry": [i.name for i in db.session.scalars(industries_stmt())],
            "amount_unit": list(AMOUNT_UNITS), "stage": list(STAGE_WORDS),
            "status": list(STATUS_WORDS),
            "unit": [u.name for u in db.session.scalars(units_stmt())]}
