"""Queries for the company list and page."""
from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from crm.text import contains_pattern, normalize
from crm.extensions import db
from crm.models import Company, Project
from crm.reference.queries import region_with_descendants


def company_list_stmt(q: str = "", nature: str = "", region_id: int | None = None,
                      industry_id: int | None = None) -> Select:
    """Companies matching the filters, by name."""
    stmt = (select(Company)
            .options(selectinload(Company.region), selectinload(Company.industry))
            .order_by(Company.name_key))
    key = normalize(q)
    if key:
        # Companies are tens of thousands at most: a scan of the short key is fast.
        stmt = stmt.where(Company.name_key.like(contains_pattern(key), escape="\\")
                          | (Company.credit_code == key.upper()))
    if nature:
        stmt = stmt.where(Company.nature == nature)
    if region_id:
        stmt = stmt.where(Company.region_id.in_(region_with_descendants(region_id)))
    if industry_id:
        stmt = stmt.where(Company.industry_id == industry_id)
    return stmt


def project_counts(company_ids: list[int]) -> dict[int, int]:
    """Number of projects of each of these companies (one grouped query)."""
    rows = db.session.execute(
        select(Project.company_id, func.count()).where(Project.company_id.in_(company_ids))
        .group_by(Project.company_id))
    return dict(rows.all())


def company_detail_stmt(company_id: int) -> Select:
    """One company with its contacts."""
    return (select(Company).where(Company.id == company_id)
            .options(selectinload(Company.contacts), selectinload(Company.region),
                     selectinload(Company.industry)))


def company_projects_stmt(company_id: int) -> Select:
    """A company's projects, newest first."""
    return (select(Project).where(Project.company_id == company_id)
            .options(selectinload(Project.unit))
            .order_by(Project.id.desc()))
