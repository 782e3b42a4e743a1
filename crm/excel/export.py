"""The ledger's rows from the database: the projects the list's filters select, in the
list's order, read in batches (a fixed number of queries per 1,000 projects)."""
from __future__ import annotations

from collections.abc import Iterator
from sqlalchemy import select

from crm import lifecycle
from crm.excel.columns import (AMOUNT_UNITS, CNY_UNIT, PARTIAL_PRODUCTION, STAGE_WORDS,
                               STATUS_WORDS, USD_UNIT)
from crm.extensions import db
from crm.models import USD, WAN_PER_YI, CoordinationIssue, Project
from crm.projects.queries import DEFAULT_SORT, ProjectFilters, project_list_stmt
from crm.reference.queries import industries_stmt, units_stmt

BATCH = 1000


def _open_issues(project_ids: list[int]) -> dict[int, list[str]]:
    """The open coordination issues' texts of these projects, oldest first."""
    out: dict[int, list[str]] = {}
    for pid, text in db.session.execute(
            select(CoordinationIssue.project_id, CoordinationIssue.description)
            .where(CoordinationIssue.project_id.in_(project_ids),
                   CoordinationIssue.closed_on.is_(None))
            .order_by(CoordinationIssue.raised_on, CoordinationIssue.id)):
        out.setdefault(pid, []).append(text)
    return out


def ledger_row(serial: int, p: Project, issues: list[str]) -> list:
    """One project as a ledger row (crm/excel/columns.py order)."""
    if p.investment_amount is None:
        amount, unit = None, ""
    elif p.investment_currency == USD:
        amount, unit = p.investment_amount, USD_UNIT
    else:
        amount, unit = p.investment_amount / WAN_PER_YI, CNY_UNIT
    stage = str(lifecycle.STAGE_LABELS[p.stage])
    if p.stage == lifecycle.PRODUCING and p.partial_production:
        stage = PARTIAL_PRODUCTION
    return [serial, p.code, p.name, p.company.name if p.company else "",
            "、".join(r.name for r in p.regions), p.industry.name if p.industry else "",
            amount, unit, p.content, stage, str(lifecycle.STATUS_LABELS[p.status]),
            *(p.milestone(s) for s in lifecycle.MILESTONE_FIELDS),
            p.unit.name if p.unit else "", p.leader_name,
            p.officer.display_name if p.officer else "", "；".join(issues), p.notes]


def ledger_rows(filters: ProjectFilters, sort: str = DEFAULT_SORT) -> Iterator[list]:
    """The ledger rows of the projects ``filters`` select, in the list's ``sort``."""
    result = db.session.scalars(
        project_list_stmt(filters, sort).execution_options(yield_per=BATCH))
    serial = 0
    for batch in result.partitions():
        issues = _open_issues([p.id for p in batch])
        for p in batch:
            serial += 1
            yield ledger_row(serial, p, issues.get(p.id, []))


def template_choices() -> dict[str, list[str]]:
    """The template's drop-down lists: column key → the words it accepts (the active
    units and industries in display order)."""
    return {"industry": [i.name for i in db.session.scalars(industries_stmt())],
            "amount_unit": list(AMOUNT_UNITS), "stage": list(STAGE_WORDS),
            "status": list(STATUS_WORDS),
            "unit": [u.name for u in db.session.scalars(units_stmt())]}
