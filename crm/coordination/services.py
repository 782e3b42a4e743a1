"""Raise and close coordination issues; write and acknowledge leader instructions.
Every step goes to the project's change history (add and flush, never commit)."""
from datetime import date

from crm.clock import today as local_today
from crm.clock import utcnow
from crm.errors import RulesBroken
from crm.extensions import db
from crm.history import record_change
from crm.lifecycle import N_, RuleError
from crm.models import CoordinationIssue, Instruction, Project, Unit, User

def raise_issue(project: Project, description: str, acting_unit_id: int | None,
                due_on: date | None, user: User | None, today: date | None = None,
                flush: bool = True) -> CoordinationIssue:
    """Record a blocker on a project and the unit that must act (``flush`` False: with
    the next flush, for many at once)."""
    today = today or local_today()
    errors = []
    if not description.strip():
        errors.append(RuleError("description", N_("问题描述：请填写")))
    unit = db.session.get(Unit, acting_unit_id) if acting_unit_id else None
    if acting_unit_id and unit is None:
        errors.append(RuleError("acting_unit_id", N_("责任单位：无效的选择")))
    if due_on and due_on < today:
        errors.append(RuleError("due_on", N_("办结时限：不能早于今天")))
    if errors:
        raise RulesBroken(errors)
    issue = CoordinationIssue(project=project, description=description.strip(),
                              raised_on=today, acting_unit=unit, due_on=due_on,
                              created_by_id=user.id if user else None)
    db.session.add(issue)
    record_change("project", project.id, "issue", "", issue.description, user, project.id)
    if flush:
        db.session.flush()
    return issue


def close_issue(issue: CoordinationIssue, resolution: str, closed_on: date | None,
                user: User, today: date | None = None) -> None:
    """Close (销号) an issue with how it was resolved."""
    today = today or local_today()
    errors = []
    if not issue.is_open:
        errors.append(RuleError("resolution", N_("办理结果：该事项已销号")))
    if not resolution.strip():
        errors.append(RuleError("resolution", N_("办理结果：请填写")))
    closed_on = closed_on or today
    if closed_on > today or closed_on < issue.raised_on:
        errors.append(RuleError("closed_on", N_("销号日期：应在提出日期和今天之间")))
    if errors:
        raise RulesBroken(errors)
    issue.closed_on, issue.resolution, issue.closed_by_id = closed_on, resolution.strip(), user.id
    record_change("project", issue.project_id, "issue_closed", issue.description,
                  issue.resolution, user, issue.project_id)
    db.session.flush()


def write_instruction(project: Project, text: str, leader: User) -> Instruction:
    """A leader's instruction on a project."""
    if not text.strip():
        raise RulesBroken([RuleError("text", N_("批示内容：请填写"))])
    instruction = Instruction(project=project, text=text.strip(), leader_id=leader.id)
    db.session.add(instruction)
    record_change("project", project.id, "instruction", "", instruction.text, leader,
                  project.id)
    db.session.flush()
    return instruction


def acknowledge_instruction(instruction: Instruction, user: User) -> None:
    """The project's officer or unit has read the instruction."""
    if instruction.acknowledged_at is not None:
        return
    instruction.acknowledged_at, instruction.acknowledged_by_id = utcnow(), user.id
    record_change("project", instruction.project_id, "instruction_ack", "",
                  instruction.text, user, instruction.project_id)
    db.session.flush()
