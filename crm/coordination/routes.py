"""Pages for coordination issues (raise, close, the open list) and instructions."""
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm.auth import policy
from crm.clock import today
from crm.coordination import bp
from crm.coordination.forms import CloseIssueForm, InstructionForm, IssueFilterForm, IssueForm
from crm.coordination.queries import open_issues_stmt
from crm.coordination.services import (acknowledge_instruction, close_issue, raise_issue,
                                       write_instruction)
from crm.extensions import db
from crm.forms import commit_or_report, form_status
from crm.models import CoordinationIssue, Instruction, Project
from crm.reference.queries import units_stmt


def _project(project_id: int) -> Project:
    return db.get_or_404(Project, project_id)


@bp.route("/")
@login_required
def index():
    """Open coordination issues by age, optionally for one unit; overdue ones marked."""
    form = IssueFilterForm(request.args)
    form.validate()
    unit_id = None if form.errors else form.unit.data
    return render_template(
        "coordination/index.html", form=form, today=today(),
        issues=db.session.scalars(open_issues_stmt(unit_id)).all(),
        units=[(u.id, u.name) for u in db.session.scalars(units_stmt())])


@bp.route("/projects/<int:project_id>/issues/new", methods=["GET", "POST"])
@login_required
def issue_create(project_id: int):
    """Raise a coordination issue on a project."""
    project = _project(project_id)
    policy.ensure(policy.EDIT_PROJECT, project)
    form = IssueForm()
    form.acting_unit_id.choices = [(0, "—")] + [
        (u.id, u.name) for u in db.session.scalars(units_stmt())]
    if form.validate_on_submit() and commit_or_report(form, lambda: raise_issue(
            project, form.description.data, form.acting_unit_id.data or None,
            form.due_on.data, current_user)):
        flash(_("需协调事项已登记"), "success")
        return redirect(url_for("projects.detail", project_id=project.id))
    return render_template("coordination/issue.html", form=form, project=project), form_status(form)


@bp.route("/issues/<int:issue_id>/close", methods=["GET", "POST"])
@login_required
def issue_close(issue_id: int):
    """Close (销号) an issue with its resolution."""
    issue = db.get_or_404(CoordinationIssue, issue_id)
    policy.ensure(policy.CLOSE_ISSUE, issue)
    form = CloseIssueForm()
    if form.validate_on_submit() and commit_or_report(form, lambda: close_issue(
            issue, form.resolution.data, form.closed_on.data, current_user)):
        flash(_("需协调事项已销号"), "success")
        return redirect(url_for("projects.detail", project_id=issue.project_id))
    return render_template("coordination/close.html", form=form, issue=issue), form_status(form)


@bp.route("/projects/<int:project_id>/instructions", methods=["POST"])
@login_required
def instruction_create(project_id: int):
    """A leader writes an instruction on a project."""
    project = _project(project_id)
    policy.ensure(policy.WRITE_INSTRUCTION, project)
    form = InstructionForm()
    # The form sits on the project page: success or the reasons go back there.
    if form.validate_on_submit() and commit_or_report(
            form, lambda: write_instruction(project, form.text.data, current_user)):
        flash(_("批示已发送"), "success")
    else:
        flash("；".join(form.error_messages()), "warning")
    return redirect(url_for("projects.detail", project_id=project.id))


@bp.route("/instructions/<int:instruction_id>/ack", methods=["POST"])
@login_required
def instruction_ack(instruction_id: int):
    """The project's officer or unit acknowledges an instruction."""
    instruction = db.get_or_404(Instruction, instruction_id)
    policy.ensure(policy.ACK_INSTRUCTION, instruction)
    acknowledge_instruction(instruction, current_user)
    db.session.commit()
    flash(_("已阅"), "success")
    target = request.form.get("next")
    return redirect(target if target == "/" else url_for(
        "projects.detail", project_id=instruction.project_id))
