"""Queries for open coordination issues and unacknowledged instructions."""
from datetime import date

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from crm.models import CoordinationIssue, Instruction, Project, User


def issue_open_condition(as_of: date | None = None):
    """SQL: the issue is open (today), or was open at the end of ``as_of``: raised by
    then and not closed by then (a past month's report)."""
    if as_of is None:
        return CoordinationIssue.closed_on.is_(None)
    return (CoordinationIssue.raised_on <= as_of) & or_(
        CoordinationIssue.closed_on.is_(None), CoordinationIssue.closed_on > as_of)


def open_issues_stmt(unit_id: int | None = None, as_of: date | None = None) -> Select:
    """Open issues (or those open at the end of ``as_of``), oldest first, optionally
    those a unit must act on."""
    stmt = (select(CoordinationIssue).where(issue_open_condition(as_of))
            .options(selectinload(CoordinationIssue.project),
                     selectinload(CoordinationIssue.acting_unit))
            .order_by(CoordinationIssue.raised_on, CoordinationIssue.id))
    if unit_id:
        stmt = stmt.where(CoordinationIssue.acting_unit_id == unit_id)
    return stmt


def project_issues_stmt(project_id: int) -> Select:
    """A project's issues, open ones first."""
    return (select(CoordinationIssue).where(CoordinationIssue.project_id == project_id)
            .options(selectinload(CoordinationIssue.acting_unit),
                     selectinload(CoordinationIssue.closed_by))
            .order_by(CoordinationIssue.closed_on.is_not(None), CoordinationIssue.raised_on))


def project_instructions_stmt(project_id: int) -> Select:
    """A project's instructions, newest first."""
    return (select(Instruction).where(Instruction.project_id == project_id)
            .options(selectinload(Instruction.leader), selectinload(Instruction.acknowledged_by))
            .order_by(Instruction.created_at.desc(), Instruction.id.desc()))


def new_instructions_stmt(user: User) -> Select:
    """Unacknowledged instructions on the projects the user follows or their unit owns."""
    mine = [Project.officer_id == user.id]
    if user.unit_id:
        mine.append(Project.unit_id == user.unit_id)
    return (select(Instruction).join(Project, Instruction.project_id == Project.id)
            .where(Instruction.acknowledged_at.is_(None), or_(*mine))
            .options(selectinload(Instruction.project), selectinload(Instruction.leader))
            .order_by(Instruction.created_at.desc()))
