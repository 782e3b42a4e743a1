"""Project pages: list, detail, create/edit, advance, correct, hold/drop/resume."""
from dataclasses import replace

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from crm import lifecycle
from crm.auth import policy
from crm.auth.queries import user_choices
from crm.clock import today
from crm.coordination.queries import project_instructions_stmt, project_issues_stmt
from crm.extensions import db
from crm.forms import commit_or_report, form_status, is_stale
from crm.models import OFFICER, WAN_PER_YI, Project, User, Visit
from crm.projects import bp
from crm.projects.forms import (CAPACITY_UNITS, INVESTMENT_UNITS, AdvanceForm, CorrectForm,
                                ProjectForm, SigningFieldsForm, StatusForm, read_list_request)
from crm.projects.queries import (change_history_stmt, milestone_timeline, project_detail_stmt,
                                  project_list_stmt, stage_history_stmt)
from crm.projects.services import (FIELD_LABELS, ProjectData, advance_stage, correct_stage,
                                   create_project, project_data, set_status,
                                   update_project)
from crm.redirects import safe_next
from crm.reference.queries import industries_stmt, region_choices, units_stmt
from crm.security_log import security_event
from crm.visits.queries import VisitFilters, visit_list_stmt



def _fill_choices(form, user: User) -> None:
    """Offer the reference data; an officer may only choose their own unit."""
    form.region_ids.choices = region_choices()
    form.industry_id.choices = [(0, "—")] + [
        (i.id, i.name) for i in db.session.scalars(industries_stmt())]
    units = db.session.scalars(units_stmt()).all()
    if user.role == OFFICER:
        units = [u for u in units if u.id == user.unit_id]
    else:
        units = [None] + units
    form.unit_id.choices = [(u.id, u.name) if u else (0, "—") for u in units]
    if hasattr(form, "officer_id"):
        form.officer_id.choices = [(0, "—")] + user_choices()


# Form fields that map one-to-one onto ProjectData (ids use 0 for "none").
_PLAIN_FIELDS = ("name", "company_name", "region_ids", "content", "capacity_value",
                 "capacity_unit", "land_area", "leader_name", "notes")
_ID_FIELDS = ("industry_id", "unit_id", "officer_id")
_EMPTY = {"region_ids": [], "capacity_value": None, "land_area": None}


def _form_data(form, base: ProjectData | None = None) -> ProjectData:
    """Turn a validated form into service input: ``base`` with the form's fields
    applied (amounts converted into 万 of their currency)."""
    data = base or ProjectData(name="")
    changes = {}
    for name in _PLAIN_FIELDS + _ID_FIELDS:
        if hasattr(form, name):
            value = getattr(form, name).data
            if name in _ID_FIELDS:
                changes[name] = value or None
            else:
                changes[name] = value if value is not None else _EMPTY.get(name, "")
    if hasattr(form, "investment_value"):
        currency, factor = INVESTMENT_UNITS[form.investment_unit.data]
        amount = form.investment_value.data
        changes["investment_amount"] = amount * factor if amount is not None else None
        changes["investment_currency"] = currency
    return replace(data, **changes)


def _load_form(form, data: ProjectData, version: int) -> None:
    """Show project details in a form (amounts in 亿元 or 万美元)."""
    for name in _PLAIN_FIELDS + _ID_FIELDS:
        if hasattr(form, name):
            value = getattr(data, name)
            getattr(form, name).data = (value or 0) if name in _ID_FIELDS else value
    if data.investment_amount is not None:
        if data.investment_currency == "USD":
            form.investment_value.data, form.investment_unit.data = \
                data.investment_amount, "万美元"
        else:
            form.investment_value.data, form.investment_unit.data = \
                data.investment_amount / WAN_PER_YI, "亿元"
    if hasattr(form, "version"):
        form.version.data = str(version)


def _get_project(project_id: int) -> Project:
    project = db.session.scalar(project_detail_stmt(project_id))
    if project is None:
        abort(404)
    return project


@bp.route("/")
@login_required
def index():
    """The project ledger: filters, sorting, pagination."""
    # Invalid filter values are shown as errors and ignored, never half-applied.
    form, filters, sort = read_list_request(request.args)
    page = db.paginate(project_list_stmt(filters, sort), page=form.page.data or 1,
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template(
        "projects/index.html", page=page, form=form, sort=sort,
        regions=region_choices(),
        industries=[(i.id, i.name) for i in db.session.scalars(industries_stmt())],
        units=[(u.id, u.name) for u in db.session.scalars(units_stmt())],
        users=user_choices(),
        can_create=policy.can(current_user, policy.CREATE_PROJECT))


@bp.route("/<int:project_id>")
@login_required
def detail(project_id: int):
    """A project's page: details, milestone timeline, stage and change history."""
    project = _get_project(project_id)
    return render_template(
        "projects/detail.html", project=project, timeline=milestone_timeline(project),
        stages=db.session.scalars(stage_history_stmt(project.id)).all(),
        changes=db.session.scalars(change_history_stmt(project.id)).all(),
        visits=db.session.scalars(
            visit_list_stmt(VisitFilters(project_id=project.id)).limit(20)).all(),
        issues=db.session.scalars(project_issues_stmt(project.id)).all(),
        instructions=db.session.scalars(project_instructions_stmt(project.id)).all(),
        can_instruct=policy.can(current_user, policy.WRITE_INSTRUCTION, project),
        today=today(),
        field_labels=FIELD_LABELS, can_log=policy.can(current_user, policy.LOG_VISIT),
        can_edit=policy.can(current_user, policy.EDIT_PROJECT, project),
        can_correct=policy.can(current_user, policy.CORRECT_STAGE, project))


@bp.route("/new", methods=["GET", "POST"])
@policy.require(policy.CREATE_PROJECT)
def create():
    """Create a lead project; ?visit_id=… prefills it from a visit (转为在谈项目)."""
    form = ProjectForm()
    _fill_choices(form, current_user)
    if not form.is_submitted():
        if current_user.unit_id:
            form.unit_id.data = current_user.unit_id
            form.officer_id.data = current_user.id
        visit = db.session.get(Visit, request.args.get("visit_id", type=int) or 0)
        if visit is not None:
            form.from_visit.data = str(visit.id)
            form.company_name.data = visit.company.name
            form.notes.data = _("来源：%(date)s 走访。%(outcome)s", date=visit.visited_on,
                                outcome=visit.outcome)
    created = []
    if form.validate_on_submit() and commit_or_report(
            form, lambda: created.append(create_project(
                _form_data(form), current_user,
                from_visit=int(form.from_visit.data) if form.from_visit.data else None))):
        flash(_("项目已创建：%(code)s", code=created[0].code), "success")
        return redirect(url_for("projects.detail", project_id=created[0].id))
    return render_template("projects/edit.html", form=form, project=None,
                           capacity_units=CAPACITY_UNITS), form_status(form)


@bp.route("/<int:project_id>/edit", methods=["GET", "POST"])
@login_required
def edit(project_id: int):
    """Edit a project's details; a stale version is refused (已被他人修改)."""
    project = _get_project(project_id)
    policy.ensure(policy.EDIT_PROJECT, project)
    form = ProjectForm()
    _fill_choices(form, current_user)
    if not form.is_submitted():
        _load_form(form, project_data(project), project.version)
    if not is_stale(form, project) and form.validate_on_submit() and commit_or_report(
            form, lambda: update_project(
            project, _form_data(form), current_user, int(form.version.data or 0))):
        flash(_("项目已保存"), "success")
        return redirect(url_for("projects.detail", project_id=project.id))
    status = form_status(form)
    return render_template("projects/edit.html", form=form, project=project,
                           capacity_units=CAPACITY_UNITS), status


@bp.route("/<int:project_id>/advance", methods=["GET", "POST"])
@login_required
def advance(project_id: int):
    """Move a project forward through the stage gate."""
    project = _get_project(project_id)
    policy.ensure(policy.EDIT_PROJECT, project)
    if project.stage == lifecycle.AT_CAPACITY:
        flash(_("项目已达产，没有更后的阶段"), "info")
        return redirect(url_for("projects.detail", project_id=project.id))
    form = AdvanceForm()
    later = lifecycle.STAGES[lifecycle.stage_index(project.stage) + 1:]
    form.stage.choices = [c for c in form.stage.choices if c[0] in later]
    details = SigningFieldsForm(prefix="p", meta={"csrf": False})
    _fill_choices(details, current_user)
    form.companion_fields = frozenset(f.name for f in details)
    details.companion_fields = frozenset(f.name for f in form)
    # The board links here with the chosen stage and itself as ``next`` (kept in the
    # form's action), to go back to after the move; only a path on this site is taken.
    back = safe_next(request.args.get("next"), "")
    if not form.is_submitted():
        form.version.data = str(project.version)
        wanted = request.args.get("stage")
        form.stage.data = wanted if wanted in later else later[0]
        _load_form(details, project_data(project), project.version)
    # The page always sends the details; a client that leaves them all out keeps the
    # project's current ones rather than blanking them.
    with_details = any(f.name in request.form for f in details)
    if not is_stale(form, project) and form.is_submitted() and (form.validate() & (
            details.validate() if with_details else True)) and commit_or_report(
            form, lambda: advance_stage(
                project, form.stage.data, form.milestone_dates(), current_user,
                int(form.version.data), note=form.note.data or "",
                partial_production=form.partial_production.data,
                data=_form_data(details, project_data(project)) if with_details else None)):
        security_event("stage", user=current_user.username, project=project.code,
                       stage=project.stage)
        flash(_("阶段已更新为：%(stage)s", stage=_(lifecycle.STAGE_LABELS[project.stage])),
              "success")
        return redirect(back or url_for("projects.detail", project_id=project.id))
    form.form_errors.extend(details.error_messages())
    status = form_status(form)
    return render_template("projects/advance.html", form=form, details=details,
                           project=project, later=later, back=back,
                           milestone_fields=lifecycle.MILESTONE_FIELDS), status


@bp.route("/<int:project_id>/correct", methods=["GET", "POST"])
@policy.require(policy.CORRECT_STAGE)
def correct(project_id: int):
    """Admin correction: move a project back to an earlier stage, with a reason."""
    project = _get_project(project_id)
    form = CorrectForm()
    earlier = lifecycle.STAGES[:lifecycle.stage_index(project.stage)]
    form.stage.choices = [c for c in form.stage.choices if c[0] in earlier]
    if not form.is_submitted():
        form.version.data = str(project.version)
    if not is_stale(form, project) and form.validate_on_submit() and commit_or_report(
            form, lambda: correct_stage(
            project, form.stage.data, form.reason.data, current_user,
            int(form.version.data))):
        security_event("stage_corrected", user=current_user.username, project=project.code,
                       stage=project.stage)
        flash(_("阶段已更正"), "success")
        return redirect(url_for("projects.detail", project_id=project.id))
    status = form_status(form)
    return render_template("projects/correct.html", form=form, project=project), status


@bp.route("/<int:project_id>/status", methods=["GET", "POST"])
@login_required
def status(project_id: int):
    """Put a project on hold, drop it, or resume it."""
    project = _get_project(project_id)
    policy.ensure(policy.EDIT_PROJECT, project)
    form = StatusForm()
    form.status.choices = [c for c in form.status.choices if c[0] != project.status]
    if not form.is_submitted():
        form.version.data = str(project.version)
    if not is_stale(form, project) and form.validate_on_submit() and commit_or_report(
            form, lambda: set_status(
            project, form.status.data, form.reason.data, form.status_on.parsed,
            current_user, int(form.version.data))):
        flash(_("项目状态已更新"), "success")
        return redirect(url_for("projects.detail", project_id=project.id))
    code = form_status(form)
    return render_template("projects/status.html", form=form, project=project), code
